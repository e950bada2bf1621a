/*
 * sender.c — the webhook thread `smile serve` starts. One thread, one database connection,
 * one libcurl multi handle. The ledger's post-commit hook only sets a flag and wakes the
 * thread (curl_multi_wakeup); the thread then follows the ledger from webhook_cursor
 * (webhook_enqueue: deliveries inserted and cursor advanced in one transaction, so a crash
 * at any point neither loses nor duplicates a delivery row), and once a second it looks
 * again anyway for events other processes committed (`smile import`). It claims due
 * deliveries — the oldest due one of each subscription, at most one request in flight per
 * subscription and `concurrency` in all — POSTs them signed, and records each attempt with
 * the delivery's new state (the requests that finished together, in one transaction). A request in
 * flight when the process dies is still pending in the database and is sent again after a restart:
 * delivery is at-least-once, and X-Smile-Delivery lets receivers drop the repeat.
 */
#include "webhook/webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "ledger/ledger.h"
#include "store/store.h"

#define ENQUEUE_BATCH 500 /* events per enqueue transaction */
#define ENQUEUE_STEPS 20  /* transactions before the thread sends again */
#define GAUGE_MS 2000     /* how often the pending/failed gauges are recounted */
#define ENQUEUE_MIN_MS 20 /* at most one enqueue transaction per this, however busy the ledger */
#define PRUNE_MS 3600000  /* how often old deliveries are pruned */

struct job {
    int64_t did, webhook_id;
    int tries; /* failed tries before this one */
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    char resp[WEBHOOK_RESPONSE_MAX + 1];
    size_t resp_len;
    int64_t started_ms, started_ns, done_ns;
    char errbuf[CURL_ERROR_SIZE];
    /* The outcome, set when the request finished (job_record). */
    CURLcode res;
    long code;
    bool ok;
    const char *status; /* delivered | pending | failed */
    int64_t dur_ms;
    char error[CURL_ERROR_SIZE + 32];
};

struct webhook {
    pthread_mutex_t mu; /* guards the statistics */
    pthread_t thread;
    bool started;
    atomic_bool stop, dirty;
    /* Some webhook is active (as of the sender's last look); without one a commit wakes
     * the sender only once idle_events reach 10,000, to move the cursor on. */
    atomic_bool listening;
    atomic_uint_fast64_t idle_events;
    CURLM *multi;
    struct store *db;
    struct webhook_options opt;
    struct job **jobs;
    int njobs;
    atomic_int inflight; /* njobs, for /metrics */
    int64_t rr;          /* the subscription started last (claim's round-robin) */
    /* Statistics for /metrics. */
    uint64_t attempts, delivered, failed_final, enqueued;
    int64_t g_pending, g_failed;
    int64_t gauge_at;
};

static struct webhook *active;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct webhook *
webhook_active(void)
{
    return active;
}

void
webhook_wake(struct webhook *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->dirty, true);
    curl_multi_wakeup(w->multi);
}

static void
on_commit(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct webhook *w = ud;

    (void)evs;
    if (n == 0)
        return;
    if (atomic_load(&w->listening) || atomic_fetch_add(&w->idle_events, n) + n >= 10000) {
        atomic_store(&w->idle_events, 0);
        webhook_wake(w);
    }
}

/* Follows the ledger: enqueue steps until caught up (or ENQUEUE_STEPS, then later again). */
static void
enqueue_all(struct webhook *w, int64_t now)
{
    /* With an active webhook, 1 when the cursor is behind and 0 when caught up; without,
     * -1 - the gap. */
    static const char sql_behind[] =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE active = 1)"
        " THEN coalesce((SELECT max(id) FROM events), 0) >"
        " coalesce((SELECT last_event_id FROM webhook_cursor WHERE id = 1), 0)"
        " ELSE -1 - (coalesce((SELECT max(id) FROM events), 0) -"
        " coalesce((SELECT last_event_id FROM webhook_cursor WHERE id = 1), 0)) END";
    struct smile_err err;
    int64_t behind = 0, nev = 0, ndel = 0;

    for (int i = 0; i < ENQUEUE_STEPS; i++) {
        smile_err_clear(&err);
        /* A read first, so an idle poll never takes the write lock. */
        if (store_query_int64(w->db, sql_behind, &behind, &err) != SMILE_OK) {
            log_error("msg=\"webhook cursor read failed\" error=\"%s\"", err.msg);
            return;
        }
        /* Without an active webhook the cursor only has to keep up roughly (a webhook
         * created later starts after the newest event anyway: after_event_id): jump it
         * once 10,000 events lie behind, not after every commit — that was a transaction
         * and a disk sync every 20 ms under load. */
        atomic_store(&w->listening, behind >= 0);
        if (behind < 0 && -1 - behind < 10000)
            return;
        if (!behind || behind == -1)
            return;
        if (webhook_enqueue(w->db, ENQUEUE_BATCH, now, &nev, &ndel, &err) != SMILE_OK) {
            log_error("msg=\"webhook enqueue failed\" error=\"%s\"", err.msg);
            return;
        }
        if (ndel > 0) {
            pthread_mutex_lock(&w->mu);
            w->enqueued += (uint64_t)ndel;
            pthread_mutex_unlock(&w->mu);
            log_debug("msg=\"webhook deliveries queued\" events=%lld deliveries=%lld",
                      (long long)nev, (long long)ndel);
        }
        if (nev == 0)
            return;
    }
    atomic_store(&w->dirty, true); /* more to read: come back after sending */
}

static size_t
on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct job *j = ud;
    size_t n = size * nmemb, room = WEBHOOK_RESPONSE_MAX - j->resp_len;

    memcpy(j->resp + j->resp_len, p, n < room ? n : room);
    j->resp_len += n < room ? n : room;
    return n; /* keep reading (and discarding) the rest */
}

/* Keeps only whole, valid UTF-8 sequences and printable text (others become '?'). */
static void
utf8_clean(char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = k > 0 && i + k <= len && !(k == 2 && c < 0xc2) && !(k == 4 && c > 0xf4);

        for (size_t m = 1; ok && m < k; m++)
            ok = ((unsigned char)s[i + m] & 0xc0) == 0x80;
        if (!ok) {
            if (i + (k ? k : 1) > len && k > 1) { /* cut in the middle of a character */
                s[i] = '\0';
                return;
            }
            s[i++] = '?';
            continue;
        }
        if (k == 1 && c < 0x20 && c != '\n' && c != '\t' && c != '\r')
            s[i] = '?';
        i += k;
    }
    s[len] = '\0';
}

/* The ledger event of a delivery, or the synthetic event of a ping. */
static int
event_json(struct store *db, int64_t did, int64_t webhook_id, bool is_ping, int64_t event_id,
           int64_t created_at, json_t **out, struct smile_err *err)
{
    char src[48], subject[48], at[TIME_RFC3339_LEN + 1];

    if (!is_ping)
        return ledger_get(db, event_id, out, err);
    time_format_rfc3339(created_at, at);
    snprintf(src, sizeof(src), "ping:%lld", (long long)did);
    snprintf(subject, sizeof(subject), "webhook:%lld", (long long)webhook_id);
    *out = json_pack("{s:n, s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:s, s:{s:I}}", "id", "type",
                     WEBHOOK_PING_TYPE, "occurred_at", at, "received_at", at, "subject", subject,
                     "actor", "customer", "channel", "system", "source", "smile", "source_id", src,
                     "data", "webhook_id", (json_int_t)webhook_id);
    return SMILE_OK;
}

static void
job_free(struct job *j)
{
    if (j == NULL)
        return;
    curl_slist_free_all(j->hdrs);
    if (j->easy)
        curl_easy_cleanup(j->easy);
    free(j->body);
    free(j);
}

/* Marks a delivery that can never be sent (its event is gone) failed, with the reason. */
static void
give_up(struct webhook *w, int64_t did, const char *why, int64_t now)
{
    static const char sql[] = "UPDATE webhook_deliveries SET status = 'failed', last_error = $1, "
                              "updated_at = $2 WHERE id = $3 AND status = 'pending'";
    struct smile_err err;
    struct store_stmt *st;

    smile_err_clear(&err);
    /* In a transaction: on a group member a bare UPDATE would take SQLite's file lock
     * beside the group instead of joining it. */
    if (store_begin(w->db, &err) != SMILE_OK)
        return;
    if (store_prepare(w->db, sql, &st, &err) != SMILE_OK) {
        store_rollback(w->db);
        return;
    }
    store_stmt_bind_text(st, 1, why, -1);
    store_stmt_bind_int64(st, 2, now);
    store_stmt_bind_int64(st, 3, did);
    if (store_stmt_step(st, &err) == STORE_DONE) {
        store_stmt_reset(st);
        if (store_commit(w->db, &err) != SMILE_OK)
            log_error("msg=\"webhook delivery not marked failed\" delivery=%lld error=\"%s\"",
                      (long long)did, err.msg);
        return;
    }
    store_stmt_reset(st);
    store_rollback(w->db);
}

/* Loads delivery did and starts its request; false if it cannot be sent now. */
static bool
job_start(struct webhook *w, int64_t did, int64_t now)
{
    static const char sql[] =
        "SELECT d.webhook_id, d.event_id, d.event_type, d.tries, d.created_at, w.url, w.secret, "
        "CASE WHEN w.previous_expires_at > $1 THEN w.previous_secret END, w.headers "
        "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
        "WHERE d.id = $2 AND d.status = 'pending'";
    struct smile_err err;
    struct store_stmt *st;
    struct job *j;
    char *url = NULL, *secret = NULL, *previous = NULL, *type = NULL;
    json_t *extra = NULL, *hv;
    const char *hk;
    int64_t event_id = 0, created_at = 0;
    bool is_ping = false;
    json_t *ev = NULL;
    char sig[WEBHOOK_SIG_MAX], h[WEBHOOK_SIG_MAX + 64];
    int rc;

    smile_err_clear(&err);
    if (store_prepare(w->db, sql, &st, &err) != SMILE_OK)
        return false;
    j = xcalloc(1, sizeof(*j));
    j->did = did;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_int64(st, 2, did);
    rc = store_stmt_step(st, &err);
    if (rc == STORE_ROW) {
        j->webhook_id = store_stmt_int64(st, 0);
        is_ping = store_stmt_is_null(st, 1);
        event_id = store_stmt_int64(st, 1);
        type = xstrdup(store_stmt_text(st, 2));
        j->tries = (int)store_stmt_int64(st, 3);
        created_at = store_stmt_int64(st, 4);
        url = xstrdup(store_stmt_text(st, 5));
        /* Sealed at rest (src/base/secret.h); a value that does not open signs nothing. */
        if (secret_open_row("webhook", j->webhook_id, store_stmt_text(st, 6), &secret, &err) !=
                SMILE_OK ||
            secret_open_row("webhook", j->webhook_id, store_stmt_text(st, 7), &previous, &err) !=
                SMILE_OK) {
            log_error("msg=\"webhook secret unreadable\" webhook=%lld error=\"%s\"",
                      (long long)j->webhook_id, err.msg);
            rc = SMILE_EINTERNAL;
        }
        extra = json_loads(store_stmt_text(st, 8), 0, NULL);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW || event_json(w->db, did, j->webhook_id, is_ping, event_id, created_at, &ev,
                                      &err) != SMILE_OK) {
        if (rc == STORE_ROW)
            log_error("msg=\"webhook event unreadable\" delivery=%lld error=\"%s\"", (long long)did,
                      err.msg);
        if ((rc == STORE_ROW && err.code == SMILE_ENOTFOUND) || rc == SMILE_EINTERNAL)
            give_up(w, did, err.msg, now);
        json_decref(extra);
        free(type);
        free(url);
        free(secret);
        free(previous);
        job_free(j);
        return false;
    }
    j->body = webhook_payload(did, j->webhook_id, ev);
    json_decref(ev);
    webhook_signature_header(secret, previous, now / 1000, j->body, strlen(j->body), sig,
                             sizeof(sig));
    j->hdrs = curl_slist_append(j->hdrs, "Content-Type: application/json");
    j->hdrs = curl_slist_append(j->hdrs, "Expect:");
    snprintf(h, sizeof(h), "X-Smile-Event: %s", type);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof(h), "X-Smile-Delivery: %lld", (long long)did);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof(h), "X-Smile-Webhook: %lld", (long long)j->webhook_id);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof(h), "X-Smile-Signature: %s", sig);
    j->hdrs = curl_slist_append(j->hdrs, h);
    json_object_foreach(extra, hk, hv)
    {
        struct buf b;

        buf_init(&b, 0);
        buf_printf(&b, "%s: %s", hk, json_string_value(hv) ? json_string_value(hv) : "");
        j->hdrs = curl_slist_append(j->hdrs, b.data);
        buf_free(&b);
    }
    json_decref(extra);

    j->easy = curl_easy_init();
    curl_easy_setopt(j->easy, CURLOPT_URL, url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->body));
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "Smile/" SMILE_VERSION);
    curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(w->opt.timeout_ms < 5000 ? w->opt.timeout_ms : 5000));
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)w->opt.timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    j->started_ms = now;
    j->started_ns = time_mono_ns();
    sodium_memzero(secret, strlen(secret));
    if (previous)
        sodium_memzero(previous, strlen(previous));
    free(type);
    free(url);
    free(secret);
    free(previous);
    if (curl_multi_add_handle(w->multi, j->easy) != CURLM_OK) {
        job_free(j);
        return false;
    }
    w->jobs = xrealloc(w->jobs, (size_t)(w->njobs + 1) * sizeof(*w->jobs));
    w->jobs[w->njobs++] = j;
    atomic_store(&w->inflight, w->njobs);
    return true;
}

/*
 * Starts the oldest due delivery of each subscription with nothing in flight, taking the
 * subscriptions round-robin (from the one after the last started) so that none starves when
 * more are due than there are slots.
 */
static void
claim(struct webhook *w, int64_t now)
{
    static const char sql_hooks[] = "SELECT id, active FROM webhooks ORDER BY id";
    /* +next_at: walk the partial index of pending rows in id order, not the due index. */
    static const char sql_head[] =
        "SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'pending' "
        "AND +next_at <= $2 AND ($3 = 1 OR event_id IS NULL) ORDER BY id LIMIT 1";
    struct smile_err err;
    struct store_stmt *st;
    int64_t(*hooks)[2] = NULL, *start = NULL;
    size_t n = 0, cap = 0, first = 0, nstart = 0;
    int free_slots = w->opt.concurrency - w->njobs;
    int rc;

    smile_err_clear(&err);
    if (free_slots <= 0 || store_prepare(w->db, sql_hooks, &st, &err) != SMILE_OK)
        return;
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        int64_t id = store_stmt_int64(st, 0);
        bool busy = false;

        for (int k = 0; k < w->njobs && !busy; k++)
            busy = w->jobs[k]->webhook_id == id;
        if (busy)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            hooks = xrealloc(hooks, cap * sizeof(*hooks));
        }
        hooks[n][0] = id;
        hooks[n][1] = store_stmt_int64(st, 1);
        if (id <= w->rr)
            first = n + 1;
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        log_error("msg=\"webhook claim failed\" error=\"%s\"", err.msg);
    start = xcalloc(n + 1, sizeof(*start));
    for (size_t i = 0; i < n && (int)nstart < free_slots; i++) {
        size_t k = (first + i) % n;

        if (store_prepare(w->db, sql_head, &st, &err) != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, hooks[k][0]);
        store_stmt_bind_int64(st, 2, now);
        store_stmt_bind_int64(st, 3, hooks[k][1]);
        if (store_stmt_step(st, &err) == STORE_ROW)
            start[nstart++] = store_stmt_int64(st, 0);
        store_stmt_reset(st);
    }
    /* Started after the reads: job_start runs statements of its own. */
    for (size_t i = 0; i < nstart; i++)
        if (job_start(w, start[i], now))
            w->rr = w->jobs[w->njobs - 1]->webhook_id;
    free(start);
    free(hooks);
}

/* When the next pending delivery falls due (after now), or INT64_MAX. */
static int64_t
next_due(struct webhook *w, int64_t now)
{
    static const char sql[] =
        "SELECT coalesce(min(d.next_at), 9223372036854775807) FROM webhook_deliveries d "
        "JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' AND d.next_at > $1 "
        "AND (w.active = 1 OR d.event_id IS NULL)";
    struct smile_err err;
    struct store_stmt *st;
    int64_t v = INT64_MAX;

    smile_err_clear(&err);
    if (store_prepare(w->db, sql, &st, &err) != SMILE_OK)
        return INT64_MAX;
    store_stmt_bind_int64(st, 1, now);
    if (store_stmt_step(st, &err) == STORE_ROW)
        v = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return v;
}

/*
 * Works out a finished request's outcome and writes it — the attempt and the delivery's new
 * state — inside the caller's transaction (one per batch of finished requests, so a burst
 * costs one commit, not one per delivery).
 */
static int
job_record(struct webhook *w, struct job *j, struct smile_err *err)
{
    static const char sql_upd[] =
        "UPDATE webhook_deliveries SET attempts = attempts + 1, tries = $1, status = $2, "
        "next_at = $3, updated_at = $4, delivered_at = $5, last_status_code = $6, "
        "last_error = $7 WHERE id = $8 AND status = 'pending'";
    static const char sql_log[] =
        "INSERT INTO webhook_attempts (delivery_id, started_at, duration_ms, status_code, error, "
        "response) VALUES ($1, $2, $3, $4, $5, $6)";
    static const char sql_gone[] =
        "UPDATE webhooks SET active = 0, version = version + 1, updated_at = $1 "
        "WHERE id = $2 AND active = 1";
    struct store_stmt *st;
    int64_t now = time_now_ms(), next;
    int rc;

    j->dur_ms = (j->done_ns - j->started_ns) / 1000000;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->code);
    j->ok = j->res == CURLE_OK && j->code >= 200 && j->code < 300;
    if (j->res != CURLE_OK)
        snprintf(j->error, sizeof(j->error), "%s",
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(j->res));
    else if (!j->ok)
        snprintf(j->error, sizeof(j->error), "HTTP %ld", j->code);
    utf8_clean(j->resp, j->resp_len);
    next = now;
    if (j->ok) {
        j->status = "delivered";
    } else if (j->code == 410) {
        /* Gone: the receiver asks to be unsubscribed (REST Hooks); no retry. */
        j->status = "failed";
        snprintf(j->error, sizeof(j->error), "HTTP 410 Gone: subscription deactivated");
    } else if (j->tries + 1 >= w->opt.max_attempts) {
        j->status = "failed";
    } else {
        curl_off_t after = 0;

        j->status = "pending";
        next = now + webhook_backoff_ms(w->opt.retry_ms, w->opt.retry_max_ms, j->tries + 1,
                                        randombytes_random());
        /* 429/503 with Retry-After (seconds): wait at least that long, within the cap. */
        if ((j->code == 429 || j->code == 503) &&
            curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0) {
            int64_t ra = (int64_t)after * 1000;

            if (ra > w->opt.retry_max_ms)
                ra = w->opt.retry_max_ms;
            if (now + ra > next)
                next = now + ra;
        }
    }
    if ((rc = store_prepare(w->db, sql_upd, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, j->tries + 1);
    store_stmt_bind_text(st, 2, j->status, -1);
    store_stmt_bind_int64(st, 3, next);
    store_stmt_bind_int64(st, 4, now);
    if (j->ok)
        store_stmt_bind_int64(st, 5, now);
    else
        store_stmt_bind_null(st, 5);
    if (j->code > 0)
        store_stmt_bind_int64(st, 6, j->code);
    else
        store_stmt_bind_null(st, 6);
    store_stmt_bind_text(st, 7, j->error[0] ? j->error : NULL, -1);
    store_stmt_bind_int64(st, 8, j->did);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    /* A delivery deleted meanwhile (with its webhook) is left alone. */
    if (rc != SMILE_OK || store_changes(w->db) != 1)
        return rc;
    if ((rc = store_prepare(w->db, sql_log, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, j->did);
    store_stmt_bind_int64(st, 2, j->started_ms);
    store_stmt_bind_int64(st, 3, j->dur_ms);
    if (j->code > 0)
        store_stmt_bind_int64(st, 4, j->code);
    else
        store_stmt_bind_null(st, 4);
    store_stmt_bind_text(st, 5, j->error[0] ? j->error : NULL, -1);
    store_stmt_bind_text(st, 6, j->resp, -1);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    if (rc == SMILE_OK && j->code == 410 && !j->ok &&
        (rc = store_prepare(w->db, sql_gone, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, now);
        store_stmt_bind_int64(st, 2, j->webhook_id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        if (rc == SMILE_OK && store_changes(w->db) == 1)
            log_warn("msg=\"webhook deactivated: the receiver answered 410 Gone\" webhook=%lld",
                     (long long)j->webhook_id);
    }
    return rc;
}

/*
 * Records n finished requests in one transaction, then logs and counts them. If the
 * transaction fails the deliveries stay pending and are sent again (at-least-once).
 */
static void
jobs_finish(struct webhook *w, struct job **done, int n)
{
    struct smile_err err;
    int rc;

    smile_err_clear(&err);
    rc = store_begin(w->db, &err);
    for (int i = 0; i < n && rc == SMILE_OK; i++)
        rc = job_record(w, done[i], &err);
    if (rc == SMILE_OK)
        rc = store_commit(w->db, &err);
    else
        store_rollback(w->db);
    if (rc != SMILE_OK) {
        log_error("msg=\"webhook attempts not recorded\" n=%d error=\"%s\"", n, err.msg);
        return;
    }
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < n; i++) {
        struct job *j = done[i];
        bool failed = strcmp(j->status, "failed") == 0;

        w->attempts++;
        if (j->ok)
            w->delivered++;
        else if (failed)
            w->failed_final++;
    }
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < n; i++) {
        struct job *j = done[i];

        if (j->ok)
            log_debug("msg=\"webhook delivered\" delivery=%lld webhook=%lld status=%ld ms=%lld",
                      (long long)j->did, (long long)j->webhook_id, j->code, (long long)j->dur_ms);
        else
            log_info("msg=\"webhook attempt failed\" delivery=%lld webhook=%lld try=%d "
                     "status=%ld error=\"%s\" next=%s",
                     (long long)j->did, (long long)j->webhook_id, j->tries + 1, j->code, j->error,
                     strcmp(j->status, "failed") == 0 ? "none" : "retry");
    }
}

/* Recounts the pending and failed deliveries (index range scans; delivered rows, the bulk of
 * the log, are not counted: smile_webhook_delivered_total counts them as they happen). */
static void
gauges(struct webhook *w, int64_t now)
{
    static const char sql[] =
        "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'), "
        "(SELECT count(*) FROM webhook_deliveries WHERE status = 'failed')";
    struct smile_err err;
    struct store_stmt *st;

    w->gauge_at = now;
    smile_err_clear(&err);
    if (store_prepare(w->db, sql, &st, &err) != SMILE_OK)
        return;
    if (store_stmt_step(st, &err) == STORE_ROW) {
        pthread_mutex_lock(&w->mu);
        w->g_pending = store_stmt_int64(st, 0);
        w->g_failed = store_stmt_int64(st, 1);
        pthread_mutex_unlock(&w->mu);
    }
    store_stmt_reset(st);
}

static void *
run(void *arg)
{
    struct webhook *w = arg;
    int64_t next_poll = 0, due = 0, last_enqueue = -ENQUEUE_MIN_MS, next_prune = 0;
    struct job **done = xcalloc((size_t)w->opt.concurrency, sizeof(*done));

    while (!atomic_load(&w->stop)) {
        int64_t now = time_now_ms(), wait;
        int running = 0;
        CURLMsg *m;
        int left, ndone;

        /* Commits wake us at ledger speed; enqueue at most every ENQUEUE_MIN_MS so the
         * webhook's write transactions never crowd the ledger's writer. */
        if ((atomic_load(&w->dirty) && now - last_enqueue >= ENQUEUE_MIN_MS) || now >= next_poll) {
            atomic_store(&w->dirty, false);
            enqueue_all(w, now);
            last_enqueue = now;
            next_poll = now + w->opt.poll_ms;
            due = now; /* new rows, a ping or a redelivery may be due */
        }
        if (w->opt.log_days > 0 && now >= next_prune) {
            struct smile_err err;
            int64_t n = 0;

            smile_err_clear(&err);
            if (webhook_log_prune(w->db, now - w->opt.log_days * 86400000, &n, &err) != SMILE_OK)
                log_error("msg=\"webhook log prune failed\" error=\"%s\"", err.msg);
            else if (n > 0)
                log_info("msg=\"webhook log pruned\" deliveries=%lld", (long long)n);
            next_prune = now + PRUNE_MS;
        }
        if (now >= due) {
            if (w->njobs < w->opt.concurrency)
                claim(w, now);
            due = next_due(w, now);
        }
        curl_multi_perform(w->multi, &running);
        ndone = 0;
        while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
            struct job *j = NULL;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            curl_multi_remove_handle(w->multi, m->easy_handle);
            j->res = m->data.result;
            j->done_ns = time_mono_ns();
            for (int k = 0; k < w->njobs; k++)
                if (w->jobs[k] == j) {
                    w->jobs[k] = w->jobs[--w->njobs];
                    break;
                }
            done[ndone++] = j;
        }
        if (ndone > 0) {
            jobs_finish(w, done, ndone);
            for (int k = 0; k < ndone; k++)
                job_free(done[k]);
            atomic_store(&w->inflight, w->njobs);
            due = 0; /* slots are free and the subscriptions may have more */
        }
        now = time_now_ms();
        if (now - w->gauge_at >= GAUGE_MS)
            gauges(w, now);
        wait = (due < next_poll ? due : next_poll) - now;
        if (atomic_load(&w->dirty) && last_enqueue + ENQUEUE_MIN_MS - now < wait)
            wait = last_enqueue + ENQUEUE_MIN_MS - now;
        if (wait > w->opt.poll_ms)
            wait = w->opt.poll_ms;
        if (wait > 0)
            curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
    }
    /* Abandon what is in flight: still pending in the database, sent again next time. */
    for (int k = 0; k < w->njobs; k++) {
        curl_multi_remove_handle(w->multi, w->jobs[k]->easy);
        job_free(w->jobs[k]);
    }
    w->njobs = 0;
    free(done);
    return NULL;
}

int
webhook_open(const char *db_path, struct ledger *l, const struct webhook_options *opt,
             struct webhook **out, struct smile_err *err)
{
    struct webhook *w = xcalloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    atomic_store(&w->listening, true); /* until the sender's first look says otherwise */
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_init(&w->mu, NULL);
    w->opt = (struct webhook_options){10000, 3600000, 25, 8, 10000, 1000, 30};
    if (opt) {
        if (opt->retry_ms > 0)
            w->opt.retry_ms = opt->retry_ms;
        if (opt->retry_max_ms > 0)
            w->opt.retry_max_ms = opt->retry_max_ms;
        if (opt->max_attempts > 0)
            w->opt.max_attempts = opt->max_attempts;
        if (opt->concurrency > 0)
            w->opt.concurrency = opt->concurrency;
        if (opt->timeout_ms > 0)
            w->opt.timeout_ms = opt->timeout_ms;
        if (opt->poll_ms > 0)
            w->opt.poll_ms = opt->poll_ms;
        if (opt->log_days >= 0)
            w->opt.log_days = opt->log_days;
    }
    w->multi = curl_multi_init();
    curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)w->opt.concurrency);
    rc = opt && opt->pool ? store_pool_open_member(opt->pool, &w->db, err)
                          : store_open(db_path, 0, &w->db, err);
    if (rc != SMILE_OK) {
        webhook_close(w);
        return rc;
    }
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        webhook_close(w);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the webhook thread");
    }
    w->started = true;
    if (l)
        ledger_on_commit(l, on_commit, w);
    active = w;
    *out = w;
    return SMILE_OK;
}

void
webhook_close(struct webhook *w)
{
    if (w == NULL)
        return;
    if (active == w)
        active = NULL;
    if (w->started) {
        atomic_store(&w->stop, true);
        curl_multi_wakeup(w->multi);
        pthread_join(w->thread, NULL);
    }
    free(w->jobs);
    curl_multi_cleanup(w->multi);
    store_close(w->db);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void
webhook_metrics_render(struct webhook *w, struct buf *b)
{
    pthread_mutex_lock(&w->mu);
    buf_printf(b,
               "# HELP smile_webhook_deliveries Pending and failed deliveries in the log.\n"
               "# TYPE smile_webhook_deliveries gauge\n"
               "smile_webhook_deliveries{status=\"pending\"} %lld\n"
               "smile_webhook_deliveries{status=\"failed\"} %lld\n"
               "# HELP smile_webhook_in_flight Webhook requests in flight.\n"
               "# TYPE smile_webhook_in_flight gauge\n"
               "smile_webhook_in_flight %d\n"
               "# HELP smile_webhook_attempts_total Webhook requests completed since start.\n"
               "# TYPE smile_webhook_attempts_total counter\n"
               "smile_webhook_attempts_total %llu\n"
               "# HELP smile_webhook_delivered_total Deliveries answered 2xx since start.\n"
               "# TYPE smile_webhook_delivered_total counter\n"
               "smile_webhook_delivered_total %llu\n"
               "# HELP smile_webhook_failed_total Deliveries given up since start.\n"
               "# TYPE smile_webhook_failed_total counter\n"
               "smile_webhook_failed_total %llu\n"
               "# HELP smile_webhook_enqueued_total Deliveries queued since start.\n"
               "# TYPE smile_webhook_enqueued_total counter\n"
               "smile_webhook_enqueued_total %llu\n",
               (long long)w->g_pending, (long long)w->g_failed, atomic_load(&w->inflight),
               (unsigned long long)w->attempts, (unsigned long long)w->delivered,
               (unsigned long long)w->failed_final, (unsigned long long)w->enqueued);
    pthread_mutex_unlock(&w->mu);
}
