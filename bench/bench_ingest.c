/*
 * bench_ingest.c — the ledger's write path against its ceiling. The ceiling is the bare
 * dependency doing the same work: raw SQLite inserts of the same rows into the same
 * `events` table (same indexes, WAL, synchronous=FULL) through the store interface, in
 * 10,000-row and 100-row transactions. Then the ledger itself, without HTTP: one caller
 * appending batches of 1,000 (validated events, group-commit machinery included), and
 * 64 threads appending one event each (the group commit). The HTTP figures come from
 * bench/ingest.sh. Prints one line per figure: name, events/s, ratio to the ceiling.
 *
 * usage: bench_ingest [DIR] [SECONDS-PER-CASE]   (defaults: /tmp, 2; 3 rounds, ~30 s)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "store/store.h"

static char dbpath[512];
static double seconds = 2.0;

static void
fresh_db(const char *dir, const char *name)
{
    struct store *s;
    struct smile_err err;
    char p[600];

    snprintf(dbpath, sizeof(dbpath), "%s/%s.db", dir, name);
    unlink(dbpath);
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", dbpath);
    unlink(p);
    smile_err_clear(&err);
    if (store_open(dbpath, STORE_CREATE, &s, &err) != SMILE_OK ||
        store_migrate(s, &err) != SMILE_OK)
        fatal("bench: %s", err.msg);
    store_close(s);
}

static double
now_s(void)
{
    return (double)time_mono_ns() / 1e9;
}

/* The row every case writes: like a PBX call.offered with a 40-byte data object. */
#define DATA "{\"ivr\":\"main\",\"queue\":\"sales\",\"ring\":2}"

/* Ceiling: raw INSERTs (no ON CONFLICT, no RETURNING) in transactions of txn rows. */
static double
ceiling(int txn)
{
    static const char sql[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, actor, customer, channel, "
        "source, source_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    struct store *s;
    struct smile_err err;
    struct store_stmt *st;
    double t0, t;
    long n = 0;

    smile_err_clear(&err);
    if (store_open(dbpath, 0, &s, &err) != SMILE_OK)
        fatal("bench: %s", err.msg);
    t0 = now_s();
    do {
        if (store_begin(s, &err) != SMILE_OK)
            fatal("bench: %s", err.msg);
        for (int i = 0; i < txn; i++, n++) {
            char subj[32], sid[32];

            snprintf(subj, sizeof(subj), "call:%ld", n / 4);
            snprintf(sid, sizeof(sid), "c%d-%ld", txn, n);
            if (store_prepare(s, sql, &st, &err) != SMILE_OK)
                fatal("bench: %s", err.msg);
            store_stmt_bind_text(st, 1, "call.offered", -1);
            store_stmt_bind_int64(st, 2, INT64_C(1795942800000) + n);
            store_stmt_bind_int64(st, 3, INT64_C(1795942800000) + n);
            store_stmt_bind_text(st, 4, subj, -1);
            store_stmt_bind_null(st, 5);
            store_stmt_bind_null(st, 6);
            store_stmt_bind_text(st, 7, "phone", -1);
            store_stmt_bind_text(st, 8, "pbx", -1);
            store_stmt_bind_text(st, 9, sid, -1);
            store_stmt_bind_text(st, 10, DATA, -1);
            if (store_stmt_step(st, &err) != STORE_DONE)
                fatal("bench: %s", err.msg);
            store_stmt_reset(st);
        }
        if (store_commit(s, &err) != SMILE_OK)
            fatal("bench: %s", err.msg);
        t = now_s() - t0;
    } while (t < seconds);
    store_close(s);
    return (double)n / t;
}

static void
fill(struct ledger_event *ev, char *subj, char *sid, long n, const char *tag)
{
    snprintf(subj, 32, "call:%ld", n / 4);
    snprintf(sid, 32, "%s-%ld", tag, n);
    *ev = (struct ledger_event){.type = "call.offered",
                                .occurred_at = INT64_C(1795942800000) + n,
                                .subject = subj,
                                .channel = "phone",
                                .source = "pbx",
                                .source_id = sid,
                                .data = DATA};
}

/* The ledger, one caller, batches of batch events. */
static double
ledger_batches(int batch)
{
    struct ledger *l;
    struct smile_err err;
    struct ledger_event *evs = xcalloc((size_t)batch, sizeof(*evs));
    struct ledger_result *out = xcalloc((size_t)batch, sizeof(*out));
    char(*subj)[32] = xcalloc((size_t)batch, 32);
    char(*sid)[32] = xcalloc((size_t)batch, 32);
    double t0, t;
    long n = 0;

    smile_err_clear(&err);
    if (ledger_open(dbpath, NULL, &l, &err) != SMILE_OK)
        fatal("bench: %s", err.msg);
    t0 = now_s();
    do {
        for (int i = 0; i < batch; i++)
            fill(&evs[i], subj[i], sid[i], n + i, "lb");
        if (ledger_append(l, evs, (size_t)batch, out, &err) != SMILE_OK)
            fatal("bench: %s", err.msg);
        n += batch;
        t = now_s() - t0;
    } while (t < seconds);
    ledger_close(l);
    free(evs);
    free(out);
    free(subj);
    free(sid);
    return (double)n / t;
}

struct single {
    struct ledger *l;
    int t;
    double until;
    long n;
};

static void *
single_loop(void *arg)
{
    struct single *w = arg;
    struct smile_err err;
    char tag[16];

    snprintf(tag, sizeof(tag), "s%d", w->t);
    smile_err_clear(&err);
    while (now_s() < w->until) {
        struct ledger_event ev;
        struct ledger_result r;
        char subj[32], sid[32];

        fill(&ev, subj, sid, w->n, tag);
        if (ledger_append(w->l, &ev, 1, &r, &err) != SMILE_OK)
            fatal("bench: %s", err.msg);
        w->n++;
    }
    return NULL;
}

/* The ledger, nthreads callers of one event each (the group commit). */
static double
ledger_singles(int nthreads, double *groups_per_s)
{
    struct ledger *l;
    struct smile_err err;
    pthread_t *th = xcalloc((size_t)nthreads, sizeof(*th));
    struct single *w = xcalloc((size_t)nthreads, sizeof(*w));
    struct ledger_stats st;
    double t0, t;
    long n = 0;

    smile_err_clear(&err);
    if (ledger_open(dbpath, NULL, &l, &err) != SMILE_OK)
        fatal("bench: %s", err.msg);
    t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct single){.l = l, .t = i, .until = t0 + seconds};
        pthread_create(&th[i], NULL, single_loop, &w[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        n += w[i].n;
    }
    t = now_s() - t0;
    ledger_stats(l, &st);
    *groups_per_s = (double)st.groups / t;
    ledger_close(l);
    free(th);
    free(w);
    return (double)n / t;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ROUNDS 3

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double c10k[ROUNDS], c100[ROUNDS], c1[ROUNDS], lb[ROUNDS], ls[ROUNDS], gps[ROUNDS];
    double m10k, m100, m1, mlb, mls, mgps;

    if (argc > 2)
        seconds = strtod(argv[2], NULL);
    if (seconds <= 0)
        seconds = 2.0;
    log_set_level(LOG_WARN);
    /* The disk's fsync rate drifts on shared machines: the cases are interleaved, round
     * after round, and the medians compared, so a ratio compares like with like. */
    for (int r = 0; r < ROUNDS; r++) {
        fresh_db(dir, "bench-ceiling");
        c10k[r] = ceiling(10000);
        c100[r] = ceiling(100);
        c1[r] = ceiling(1);
        fresh_db(dir, "bench-ledger");
        lb[r] = ledger_batches(1000);
        fresh_db(dir, "bench-ledger-single");
        ls[r] = ledger_singles(64, &gps[r]);
        fprintf(stderr, "round %d: %.0f %.0f %.0f %.0f %.0f\n", r + 1, c10k[r], c100[r], c1[r],
                lb[r], ls[r]);
    }
    m10k = median(c10k, ROUNDS);
    m100 = median(c100, ROUNDS);
    m1 = median(c1, ROUNDS);
    mlb = median(lb, ROUNDS);
    mls = median(ls, ROUNDS);
    mgps = median(gps, ROUNDS);
    printf("# bench_ingest: %s %s, WAL, synchronous=FULL, db in %s; median of %d interleaved "
           "rounds of %.1f s per case\n",
           store_driver_name(), store_driver_version(), dir, ROUNDS, seconds);
    printf("ceiling_sqlite_txn10000   %10.0f events/s  (the ceiling)\n", m10k);
    printf("ceiling_sqlite_txn100     %10.0f events/s  %5.1f%% of txn10000\n", m100,
           100.0 * m100 / m10k);
    printf("ceiling_sqlite_txn1       %10.0f events/s  (= commits/s: one fsync each)\n", m1);
    printf("ledger_batch1000          %10.0f events/s  %5.1f%% of txn10000 (one caller)\n", mlb,
           100.0 * mlb / m10k);
    printf("ledger_64_threads_single  %10.0f events/s  %5.1f%% of txn100; %.0f commits/s = "
           "%.0f%% of txn1's\n",
           mls, 100.0 * mls / m100, mgps, 100.0 * mgps / m1);
    return 0;
}
