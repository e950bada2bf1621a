/*
 * bench_erase.c — the PIPL anonymisation of one customer in a ledger of N events (default
 * 200,000: N/4 calls of four events each from 10,000 caller numbers, plus each customer's
 * mail threads and case events), through crm_customer_anonymise() with the ledger's erase
 * hook installed: the customer's 20 calls, 10 threads and 5 cases are found through the
 * events_customer and events_subject indexes and rewritten, its audit rows redacted, all in
 * one transaction. The ceiling is the same anonymisation with events_customer dropped (the
 * look-up by customer becomes a scan of the ledger). It also prints what the index costs
 * the ingest path: the CPU time to insert the N events with and without it.
 * Figures are CPU time (getrusage: the machine is shared) beside the load average.
 * Usage: bench_erase [N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crm/crm.h"
#include "crm/record.h"
#include "http/http.h"
#include "ledger/ledger.h"
#include "store/store.h"

#define CUSTOMERS 3 /* 1 and 2 are anonymised (with and without the index), 3 stays */
#define CALLS_EACH 20
#define THREADS_EACH 10
#define CASES_EACH 5

static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what, const struct smile_err *err)
{
    fprintf(stderr, "bench_erase: %s: %s\n", what, err->msg);
    exit(1);
}

static void
put(struct store *s, long i, const char *type, const char *subject, const char *customer,
    const char *data)
{
    static const char sql[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, actor, customer, channel, "
        "source, source_id, data) VALUES ($1, $2, $2, $3, NULL, $4, 'phone', 'bench', $5, $6)";
    struct store_stmt *st;
    struct smile_err err;
    char sid[40];

    smile_err_clear(&err);
    snprintf(sid, sizeof(sid), "%ld.%s", i, type);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        die("prepare", &err);
    store_stmt_bind_text(st, 1, type, -1);
    store_stmt_bind_int64(st, 2, 1764400000000 + i * 1000);
    store_stmt_bind_text(st, 3, subject, -1);
    store_stmt_bind_text(st, 4, customer, -1);
    store_stmt_bind_text(st, 5, sid, -1);
    store_stmt_bind_text(st, 6, data, -1);
    if (store_stmt_step(st, &err) != STORE_DONE)
        die("insert", &err);
    store_stmt_reset(st);
}

/* One call of four events (offered naming the caller, ringing, answered, ended). */
static void
put_call(struct store *s, long *seq, long n, const char *caller)
{
    char subj[32];

    snprintf(subj, sizeof(subj), "call:%ld", n);
    put(s, (*seq)++, "call.offered", subj, caller,
        "{\"caller_name\":\"张伟\",\"position\":1,\"queue\":\"hotline\"}");
    put(s, (*seq)++, "call.ringing", subj, NULL, "{\"agent\":\"ann\",\"queue\":\"hotline\"}");
    put(s, (*seq)++, "call.answered", subj, NULL,
        "{\"agent\":\"ann\",\"holdtime_s\":7,\"queue\":\"hotline\"}");
    put(s, (*seq)++, "call.ended", subj, NULL,
        "{\"agent\":\"ann\",\"holdtime_s\":7,\"queue\":\"hotline\",\"talk_s\":95}");
}

/* Fills a fresh database with n events (and the customers' records); returns the insert CPU. */
static double
fill(struct store *db, struct crm_ctx *c, long n, int64_t *ids, bool with_customers)
{
    struct smile_err err;
    long seq = 0, call = 0, target = 0;
    double t0;

    smile_err_clear(&err);
    if (with_customers)
        for (int k = 0; k < CUSTOMERS; k++) {
            char phone[16];
            json_t *body, *out;

            snprintf(phone, sizeof(phone), "1380013800%d", k);
            body = json_pack("{s:s, s:s, s:[s], s:[s], s:s}", "kind", "person", "name", "张伟",
                             "phones", phone, "emails", "zhang.wei@example.com", "address",
                             "北京市朝阳区");
            if (crm_record_create(c, &crm_customers, body, &ids[k], &out, &err) != SMILE_OK)
                die("customer", &err);
            json_decref(body);
            json_decref(out);
            for (int j = 0; j < CASES_EACH; j++) {
                int64_t cid;

                body = json_pack("{s:s, s:s, s:I, s:s}", "type", "repair", "subject", "张伟 漏水",
                                 "customer_id", (json_int_t)ids[k], "description", "厨房漏水");
                if (crm_record_create(c, &crm_cases, body, &cid, &out, &err) != SMILE_OK)
                    die("case", &err);
                json_decref(body);
                json_decref(out);
            }
        }
    t0 = cpu_s();
    if (store_begin(db, &err) != SMILE_OK)
        die("begin", &err);
    /* The customers' own events first, then anonymous traffic up to n. */
    for (int k = 0; k < CUSTOMERS && with_customers; k++) {
        char phone[16], cust[24], subj[48];

        snprintf(phone, sizeof(phone), "1380013800%d", k);
        snprintf(cust, sizeof(cust), "%" PRId64, ids[k]);
        for (int j = 0; j < CALLS_EACH; j++)
            put_call(db, &seq, 1000000 + target++, phone);
        for (int j = 0; j < THREADS_EACH; j++) {
            snprintf(subj, sizeof(subj), "thread:<%d.%d@example.com>", k, j);
            put(db, seq++, "email.received", subj, cust,
                "{\"from\":\"zhang.wei@example.com\",\"from_name\":\"张伟\",\"subject\":\"漏水\","
                "\"to\":[\"service@example.cn\"]}");
            put(db, seq++, "email.sent", subj, cust,
                "{\"subject\":\"Re: 漏水\",\"to\":[\"zhang.wei@example.com\"]}");
        }
        for (int j = 0; j < CASES_EACH; j++) {
            snprintf(subj, sizeof(subj), "case:%d", k * CASES_EACH + j + 1);
            put(db, seq++, "case.opened", subj, cust,
                "{\"priority\":\"normal\",\"type\":\"repair\"}");
            put(db, seq++, "case.assigned", subj, cust,
                "{\"assignee\":\"ann\",\"type\":\"repair\"}");
        }
    }
    while (seq < n) {
        char phone[16];

        snprintf(phone, sizeof(phone), "139%08ld", call % 10000);
        put_call(db, &seq, call++, phone);
    }
    if (store_commit(db, &err) != SMILE_OK)
        die("commit", &err);
    return cpu_s() - t0;
}

static double
anonymise(struct crm_ctx *c, int64_t id, json_t **audit_after)
{
    struct smile_err err;
    json_t *out = NULL;
    double t0 = cpu_s();
    int64_t aid;

    smile_err_clear(&err);
    if (crm_customer_anonymise(c, id, &out, &err) != SMILE_OK)
        die("anonymise", &err);
    t0 = cpu_s() - t0;
    json_decref(out);
    if (store_query_int64(c->db, "SELECT max(id) FROM audit", &aid, &err) != SMILE_OK)
        die("audit", &err);
    {
        struct store_stmt *st;

        if (store_prepare(c->db, "SELECT after FROM audit WHERE id = $1", &st, &err) != SMILE_OK)
            die("audit", &err);
        store_stmt_bind_int64(st, 1, aid);
        if (store_stmt_step(st, &err) == STORE_ROW)
            *audit_after = json_loads(store_stmt_text(st, 0), 0, NULL);
        store_stmt_reset(st);
    }
    return t0;
}

/* Removes a database and its WAL and shared-memory files. */
static void
remove_db(const char *dir, const char *name)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char p[128];

    for (size_t k = 0; k < 3; k++) {
        snprintf(p, sizeof(p), "%s/%s%s", dir, name, suffix[k]);
        unlink(p);
    }
}

static struct store *
open_db(const char *dir, const char *name)
{
    char path[96];
    struct store *db;
    struct smile_err err;

    smile_err_clear(&err);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK)
        die(path, &err);
    return db;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/smile-bench-erase-XXXXXX";
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    struct http_auth who = {.user_id = 0};
    struct smile_err err;
    struct store *db;
    struct crm_ctx c;
    int64_t ids[CUSTOMERS];
    double t_fill, t_plain, t_idx, t_scan, load[3] = {0, 0, 0};
    int64_t pages[2] = {0, 0}, page_size = 0;
    json_t *a1 = NULL, *a2 = NULL;
    char *s1, *s2;

    if (n < 1000 || mkdtemp(dir) == NULL)
        return 2;
    log_set_level(LOG_WARN);
    smile_err_clear(&err);
    ledger_erase_install();
    getloadavg(load, 3);

    db = open_db(dir, "b.db");
    c = (struct crm_ctx){.db = db, .actor = &who, .request_id = "bench", .now_ms = time_now_ms()};
    fill(db, &c, n, ids, true);
    if (store_exec(db, "ANALYZE", &err) != SMILE_OK)
        die("analyze", &err);
    t_idx = anonymise(&c, ids[0], &a1);
    if (store_exec(db, "DROP INDEX events_customer", &err) != SMILE_OK)
        die("drop", &err);
    t_scan = anonymise(&c, ids[1], &a2);
    /* What the index costs ingest: the same anonymous traffic into fresh databases with and
     * without it, in turn, three rounds; the least CPU of each side counts (the first round
     * pays the process's warm-up: heap growth, page faults). */
    t_fill = t_plain = 1e9;
    for (int round = 0; round < 3; round++) {
        char name[32];

        for (int with = 0; with < 2; with++) {
            struct store *x;
            double t;

            snprintf(name, sizeof(name), "ingest%d%d.db", round, with);
            x = open_db(dir, name);
            if (!with && store_exec(x, "DROP INDEX events_customer", &err) != SMILE_OK)
                die("drop", &err);
            c.db = x;
            t = fill(x, &c, n, ids, false);
            if (store_query_int64(x, "PRAGMA page_count", &pages[with], &err) != SMILE_OK ||
                store_query_int64(x, "PRAGMA page_size", &page_size, &err) != SMILE_OK)
                die("page_count", &err);
            store_close(x);
            remove_db(dir, name);
            if (with && t < t_fill)
                t_fill = t;
            else if (!with && t < t_plain)
                t_plain = t;
        }
    }
    s1 = json_dumps(a1, JSON_COMPACT);
    s2 = json_dumps(a2, JSON_COMPACT);
    printf("bench_erase: %ld events in the ledger, load average %.2f %.2f %.2f\n", n, load[0],
           load[1], load[2]);
    printf("  anonymise one customer (%d calls, %d threads, %d cases), with events_customer: "
           "%.2f ms CPU\n    %s\n",
           CALLS_EACH, THREADS_EACH, CASES_EACH, t_idx * 1e3, s1);
    printf("  ceiling: the same without the index (a scan of the ledger): %.2f ms CPU "
           "(%.0f x)\n    %s\n",
           t_scan * 1e3, t_idx > 0 ? t_scan / t_idx : 0.0, s2);
    printf("  ingest cost of the index: %ld events (a quarter naming a customer) inserted in "
           "one transaction, least of 3: %.3f s CPU with it, %.3f s without (%+.1f %%)\n",
           n, t_fill, t_plain, t_plain > 0 ? (t_fill / t_plain - 1) * 100 : 0.0);
    printf("  database pages (%" PRId64 " bytes) after the insert: %" PRId64 " with it, %" PRId64
           " without (%+.1f %%)\n",
           page_size, pages[1], pages[0],
           pages[0] > 0 ? ((double)pages[1] / (double)pages[0] - 1) * 100 : 0.0);
    free(s1);
    free(s2);
    json_decref(a1);
    json_decref(a2);
    store_close(db);
    remove_db(dir, "b.db");
    rmdir(dir);
    return 0;
}
