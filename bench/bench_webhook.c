/*
 * bench_webhook.c — outbound webhooks, two figures each beside its ceiling:
 *  1. enqueue: N case.opened events followed through webhook_enqueue() with 8
 *     subscriptions (4 match, 4 do not), i.e. 4N delivery rows; ceiling: the same rows
 *     inserted raw with one prepared INSERT, in transactions of the same size.
 *  2. delivery: D pending deliveries over 8 subscriptions sent by the webhook thread to an
 *     in-process libmicrohttpd receiver on 127.0.0.1 until all are delivered; ceiling: bare
 *     libcurl multi POSTing D bodies of the same size to the same receiver, 8 at a time.
 * Usage: bench_webhook [N events (default 20000)] [D deliveries (default 2000)]
 * The databases go in $BENCH_DIR (default /tmp); /dev/shm takes the disk's fsync out.
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/secret.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "webhook/webhook.h"

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static int marker;
    static const char ok[] = "ok";
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(2, (void *)ok, MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void
check(int rc, const struct smile_err *err, const char *what)
{
    if (rc != SMILE_OK) {
        fprintf(stderr, "bench_webhook: %s: %s\n", what, err->msg);
        exit(1);
    }
}

static struct store *
db_new(const char *dir, const char *name)
{
    struct smile_err err;
    struct store *s;
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    smile_err_clear(&err);
    check(store_open(path, STORE_CREATE, &s, &err), &err, "open");
    check(store_migrate(s, &err), &err, "migrate");
    if (secret_key_current() == NULL) { /* signing secrets are sealed at rest */
        struct secret_key key;

        secret_key_generate(&key);
        secret_key_install(&key);
    }
    return s;
}

static void
add_events(struct store *s, int n)
{
    static const char sql[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, channel, source, source_id) "
        "VALUES ('case.opened', $1, $1, $2, 'web', 'bench', $3)";
    struct smile_err err;
    struct store_stmt *st;
    char subj[32], sid[32];

    smile_err_clear(&err);
    check(store_begin(s, &err), &err, "begin");
    for (int i = 0; i < n; i++) {
        check(store_prepare(s, sql, &st, &err), &err, "prepare");
        snprintf(subj, sizeof(subj), "case:%d", i + 1);
        snprintf(sid, sizeof(sid), "e%d", i + 1);
        store_stmt_bind_int64(st, 1, 1764400000000 + i);
        store_stmt_bind_text(st, 2, subj, -1);
        store_stmt_bind_text(st, 3, sid, -1);
        if (store_stmt_step(st, &err) != STORE_DONE)
            check(SMILE_EDB, &err, "insert event");
        store_stmt_reset(st);
    }
    check(store_commit(s, &err), &err, "commit");
}

static void
add_hooks(struct store *s, const char *url, int matching, int other)
{
    struct smile_err err;
    json_t *out;

    smile_err_clear(&err);
    for (int i = 0; i < matching + other; i++) {
        json_t *b =
            json_pack("{s:s, s:[s]}", "url", url, "event_types", i < matching ? "case.*" : "sla.*");
        check(webhook_create(s, NULL, b, &out, &err), &err, "create");
        json_decref(out);
        json_decref(b);
    }
}

static double
enqueue_all(struct store *s, int64_t *rows)
{
    struct smile_err err;
    int64_t nev = 1, ndel = 0, t0 = time_mono_ns();

    smile_err_clear(&err);
    *rows = 0;
    while (nev > 0) {
        check(webhook_enqueue(s, 500, time_now_ms(), &nev, &ndel, &err), &err, "enqueue");
        *rows += ndel;
    }
    return (double)(time_mono_ns() - t0) / 1e9;
}

/* The ceiling of enqueue: the same delivery rows, raw, 500 events' worth per transaction. */
static double
raw_inserts(struct store *s, int n, int per_event)
{
    static const char sql[] =
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, next_at, "
        "created_at, updated_at) VALUES ($1, $2, 'case.opened', 'pending', 0, 0, 0)";
    struct smile_err err;
    struct store_stmt *st;
    int64_t t0 = time_mono_ns();

    smile_err_clear(&err);
    for (int e = 0; e < n;) {
        check(store_begin(s, &err), &err, "begin");
        for (int k = 0; k < 500 && e < n; k++, e++)
            for (int h = 1; h <= per_event; h++) {
                check(store_prepare(s, sql, &st, &err), &err, "prepare");
                store_stmt_bind_int64(st, 1, h);
                store_stmt_bind_int64(st, 2, e + 1);
                if (store_stmt_step(st, &err) != STORE_DONE)
                    check(SMILE_EDB, &err, "raw insert");
                store_stmt_reset(st);
            }
        check(store_commit(s, &err), &err, "commit");
    }
    return (double)(time_mono_ns() - t0) / 1e9;
}

static size_t
sink(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

/* The ceiling of delivery: bare libcurl multi, 8 in flight, d POSTs of body. */
static double
curl_ceiling(const char *url, const char *body, int d)
{
    CURLM *m = curl_multi_init();
    int started = 0, done = 0, running = 0;
    int64_t t0 = time_mono_ns();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    h = curl_slist_append(h, "Expect:");
    while (done < d) {
        CURLMsg *msg;
        int left;

        while (started < d && started - done < 8) {
            CURL *e = curl_easy_init();

            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_multi_add_handle(m, e);
            started++;
        }
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            done++;
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    curl_slist_free_all(h);
    curl_multi_cleanup(m);
    return (double)(time_mono_ns() - t0) / 1e9;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
    int d = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2000;
    char dir[256], url[64], cmd[300];
    struct smile_err err;
    struct store *s, *c;
    struct MHD_Daemon *rx;
    struct webhook *w;
    int64_t rows = 0, delivered = 0;
    double t, tc;

    snprintf(dir, sizeof(dir), "%s/bench_webhook_XXXXXX",
             getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp");
    if (mkdtemp(dir) == NULL || n < 1 || d < 8)
        return 2;
    log_set_level(LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    smile_err_clear(&err);

    /* 1. enqueue */
    s = db_new(dir, "enqueue.db");
    add_hooks(s, "http://127.0.0.1:9/none", 4, 4);
    add_events(s, n);
    /* The subscriptions were made before the events: let them have them all. */
    check(store_exec(s,
                     "UPDATE webhooks SET after_event_id = 0; UPDATE webhook_cursor SET "
                     "last_event_id = 0",
                     &err),
          &err, "reset");
    t = enqueue_all(s, &rows);
    c = db_new(dir, "ceiling.db");
    add_hooks(c, "http://127.0.0.1:9/none", 4, 0);
    tc = raw_inserts(c, n, 4);
    printf("enqueue: %d events, %lld deliveries in %.3f s = %.0f events/s, %.0f rows/s; "
           "ceiling (raw inserts) %.3f s = %.0f rows/s; ratio %.2f\n",
           n, (long long)rows, t, n / t, rows / t, tc, (double)rows / tc, t / tc);
    store_close(c);
    store_close(s);

    /* 2. delivery */
    rx = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
                          NULL, MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_END);
    if (rx == NULL)
        return 1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
             (unsigned)MHD_get_daemon_info(rx, MHD_DAEMON_INFO_BIND_PORT)->port);
    s = db_new(dir, "deliver.db");
    add_hooks(s, url, 8, 0);
    add_events(s, d / 8);
    check(store_exec(s,
                     "UPDATE webhooks SET after_event_id = 0; UPDATE webhook_cursor SET "
                     "last_event_id = 0",
                     &err),
          &err, "reset");
    enqueue_all(s, &rows);
    {
        struct webhook_options o = {.concurrency = 8};
        char path[300];
        int64_t t0 = time_mono_ns();

        snprintf(path, sizeof(path), "%s/deliver.db", dir);
        check(webhook_open(path, NULL, &o, &w, &err), &err, "webhook_open");
        while (delivered < rows) {
            usleep(2000);
            check(store_query_int64(
                      s, "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'",
                      &delivered, &err),
                  &err, "count");
        }
        t = (double)(time_mono_ns() - t0) / 1e9;
        webhook_close(w);
    }
    {
        /* A body of the size the thread sends (a bare case.opened event). */
        json_t *ev = NULL;
        char *body;

        check(ledger_get(s, 1, &ev, &err), &err, "event");
        body = webhook_payload(1, 1, ev);
        tc = curl_ceiling(url, body, (int)rows);
        printf("delivery: %lld deliveries (8 subscriptions, %zu-byte bodies) in %.3f s = %.0f/s; "
               "ceiling (bare libcurl multi, 8 in flight) %.3f s = %.0f/s; ratio %.2f\n",
               (long long)rows, strlen(body), t, rows / t, tc, rows / tc, t / tc);
        free(body);
        json_decref(ev);
    }
    store_close(s);
    MHD_stop_daemon(rx);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
