/*
 * bench_deadlines.c — the scheduler with 1,000,000 open deadlines in the table: memory (RSS of
 * the process holding the database connection), the latency of the scheduler's next-due query
 * (scheduler_next_due) against its ceiling — the bare indexed SELECT of the next due row in the
 * same run — and the firing loop (scheduler_fire_due: select due rows, append their sla.*
 * events through the ledger's group commit, mark them fired) over 10,000 deadlines falling
 * due at once, as the delay from due to fired and the cost per deadline.
 *
 *   bench_deadlines [N]      (default N = 1000000; a temporary database under /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

static long
rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void
check(int rc, const struct smile_err *err, const char *what)
{
    if (rc != SMILE_OK) {
        fprintf(stderr, "bench_deadlines: %s: %s\n", what, err->msg);
        exit(1);
    }
}

static void
exec1(struct store *s, const char *sql, int64_t a, int64_t b, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    check(rc, err, "prepare");
    store_stmt_bind_int64(st, 1, a);
    if (b != INT64_MIN)
        store_stmt_bind_int64(st, 2, b);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        check(rc == STORE_ROW ? SMILE_OK : rc, err, "step");
}

int
main(int argc, char **argv)
{
    static const char sql_inst[] = "INSERT INTO instances (id, process_id, version, subject,"
                                   " trigger_event_id, started_at, updated_at)"
                                   " VALUES (1, 1, 1, 'bench:1', 1, 0, 0)";
    static const char sql_m[] =
        "INSERT INTO measurements (id, instance_id, process_id, version, step_key, occurrence,"
        " subject, elapsed_ms, target_ms, result, state, fold_seq, updated_at)"
        " VALUES ($1, 1, 1, 1, 'step', $1, 'bench:1', 0, 1000, 'open', 'running', 1, 0)";
    static const char sql_d[] = "INSERT INTO deadlines (measurement_id, kind, idx, due_at,"
                                " source_id) VALUES ($1, 'breach', 0, $2, 'sla:bench:' || $1)";
    static const char sql_bare[] =
        "SELECT due_at FROM deadlines WHERE fired_at IS NULL ORDER BY due_at LIMIT 1";
    struct smile_err err;
    struct store *s = NULL;
    struct ledger *l = NULL;
    char path[] = "/tmp/bench_deadlines_XXXXXX";
    char db[64];
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 1000000;
    int64_t now = time_now_ms(), due = 0, t0, t1;
    int64_t nfire = n < 10000 ? n : 10000, fired_total = 0, batches = 0, worst_delay = 0;
    const int reps = 20000;
    long rss0, rss1;
    double q_sched, q_bare;

    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (mkdtemp(path) == NULL)
        return 1;
    snprintf(db, sizeof(db), "%s/s.db", path);
    check(store_open(db, STORE_CREATE, &s, &err), &err, "open");
    check(store_migrate(s, &err), &err, "migrate");
    rss0 = rss_kb();

    /* N open deadlines: the first nfire fall due now, the rest over the next 30 days. */
    t0 = time_mono_ns();
    check(store_begin(s, &err), &err, "begin");
    check(store_exec(s, sql_inst, &err), &err, "instance");
    for (int64_t i = 1; i <= n; i++) {
        int64_t at = i <= nfire ? now - 1 : now + 60000 + (i * 2591) % (30LL * 86400000);
        exec1(s, sql_m, i, INT64_MIN, &err);
        exec1(s, sql_d, i, at, &err);
    }
    check(store_commit(s, &err), &err, "commit");
    t1 = time_mono_ns();
    rss1 = rss_kb();
    printf("deadlines: %lld open (insert %.1f s)\n", (long long)n, (double)(t1 - t0) / 1e9);
    printf("rss: %ld KiB before, %ld KiB after filling (connection page cache included)\n", rss0,
           rss1);

    /* Next-due query: the scheduler's call against the bare indexed SELECT. */
    t0 = time_mono_ns();
    for (int i = 0; i < reps; i++)
        check(scheduler_next_due(s, &due, &err), &err, "next_due");
    q_sched = (double)(time_mono_ns() - t0) / reps;
    t0 = time_mono_ns();
    for (int i = 0; i < reps; i++) {
        struct store_stmt *st;
        check(store_prepare(s, sql_bare, &st, &err), &err, "bare");
        if (store_stmt_step(st, &err) == STORE_ROW)
            due = store_stmt_int64(st, 0);
        store_stmt_reset(st);
    }
    q_bare = (double)(time_mono_ns() - t0) / reps;
    printf("next-due query: scheduler %.2f us, bare indexed SELECT %.2f us (ratio %.2f)\n",
           q_sched / 1e3, q_bare / 1e3, q_sched / q_bare);

    /* The firing loop: everything due now, in batches of 500 as the scheduler does. */
    check(ledger_open(db, NULL, &l, &err), &err, "ledger");
    /* Make the first nfire fall due right now, so the delay counts the firing alone. */
    now = time_now_ms();
    exec1(s, "UPDATE deadlines SET due_at = $1 WHERE measurement_id <= $2", now, nfire, &err);
    t0 = time_mono_ns();
    for (;;) {
        int fired = 0;
        check(scheduler_fire_due(s, l, time_now_ms(), 500, &fired, &err), &err, "fire");
        if (fired == 0)
            break;
        fired_total += fired;
        batches++;
        if (time_now_ms() - now > worst_delay)
            worst_delay = time_now_ms() - now;
    }
    t1 = time_mono_ns();
    printf("fired: %lld deadlines in %lld batches, %.1f ms (%.1f us per deadline); "
           "worst delay from due to fired %lld ms\n",
           (long long)fired_total, (long long)batches, (double)(t1 - t0) / 1e6,
           fired_total ? (double)(t1 - t0) / 1e3 / (double)fired_total : 0.0,
           (long long)worst_delay);
    check(scheduler_next_due(s, &due, &err), &err, "next_due");
    printf("next due after firing: in %.1f s\n", (double)(due - time_now_ms()) / 1e3);
    printf("rss at end: %ld KiB\n", rss_kb());
    ledger_close(l);
    store_close(s);
    unlink(db);
    {
        char p2[96];
        snprintf(p2, sizeof(p2), "%s-wal", db);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", db);
        unlink(p2);
    }
    rmdir(path);
    return 0;
}
