/*
 * bench_kpi.c — indicators from the daily rollups at scale: fills kpi_daily with a year of
 * rollups for 500 staff (20 teams) × 4 steps × 365 days, each row standing for 10–18
 * measurements with a log-bucket histogram (≈ 10,000,000 measurements in all), then times
 * what a month's scorecards need: (1) six indicators for all 500 staff in one grouped read
 * each (kpi_indicator_rows, by=staff), (2) the same one staff at a time (kpi_indicator_value,
 * 500 × 6 calls), against the ceiling — the bare SQLite GROUP BY of the same month without
 * histograms. Finally the incremental upkeep: kpi_rollup_replace() for subjects whose facts
 * change (what a re-fold costs), in transactions of 500, beside the cost of a whole fold:
 * `smile rebuild` (runtime_rebuild, rollups included) of 20,000 hotline calls.
 *
 *   bench_kpi [STAFF]      (default 500; a temporary database under /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kpi/kpi.h"
#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

static void
check(int rc, const struct smile_err *err, const char *what)
{
    if (rc != SMILE_OK) {
        fprintf(stderr, "bench_kpi: %s: %s\n", what, err->msg);
        exit(1);
    }
}

static double
ms_since(int64_t t0)
{
    return (double)(time_mono_ns() - t0) / 1e6;
}

static uint32_t rnd = 2463534242u;

static uint32_t
xorshift(void)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    return rnd;
}

int
main(int argc, char **argv)
{
    static const char sql_ins[] =
        "INSERT INTO kpi_daily (day, staff, team, process_id, step, channel, met, breached,"
        " excluded, done, cancelled, sum_ms, opened, closed, hist) VALUES ($1, $2, $3, $4, $5,"
        " $6, $7, $8, 0, $9, 0, $10, $11, $12, $13)";
    static const char sql_ceiling[] =
        "SELECT staff, sum(met), sum(breached), sum(done), sum(sum_ms) FROM kpi_daily"
        " WHERE day >= $1 AND day <= $2 GROUP BY staff";
    static const char *const steps[] = {"ring_at_agent", "reply", "greet", "resolve"};
    static const char *const channels[] = {"phone", "email", "counter", "web"};
    static const int64_t typical_ms[] = {8000, 3600000, 4000, 86400000};
    static const char *const names[] = {"compliance",   "volume",      "breached",
                                        "elapsed_mean", "elapsed_p90", "backlog"};
    int nstaff = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 500;
    char dir[] = "/tmp/bench_kpi_XXXXXX", path[64];
    struct smile_err err;
    struct store *s;
    struct store_stmt *st;
    int64_t day0 = time_days_from_civil(2026, 1, 1), from, to, t0, measurements = 0, rows = 0;
    double t_ceiling, t_grouped, t_table, t_each, t_fill;
    int rc;

    smile_err_clear(&err);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/k.db", dir);
    check(store_open(path, STORE_CREATE, &s, &err), &err, "open");
    check(store_migrate(s, &err), &err, "migrate");
    check(store_exec(s, "PRAGMA synchronous=OFF", &err), &err, "pragma");

    /* fill: one transaction per day */
    t0 = time_mono_ns();
    for (int d = 0; d < 365; d++) {
        check(store_begin(s, &err), &err, "begin");
        for (int k = 0; k < nstaff; k++) {
            char staff[16], team[16];
            snprintf(staff, sizeof(staff), "s%03d", k);
            snprintf(team, sizeof(team), "t%02d", k % 20);
            for (int j = 0; j < 4; j++) {
                uint32_t h[KPI_HIST_BUCKETS] = {0};
                unsigned char blob[4 * KPI_HIST_BUCKETS];
                int64_t n = 10 + xorshift() % 9, met = 0, sum = 0;
                size_t len = 0;
                for (int64_t i = 0; i < n; i++) {
                    int64_t ms =
                        typical_ms[j] / 2 + (int64_t)(xorshift() % (uint32_t)typical_ms[j]);
                    int b = kpi_hist_bucket(ms);
                    h[b]++;
                    sum += ms;
                    met += ms <= typical_ms[j];
                }
                for (int b = 0; b < KPI_HIST_BUCKETS; b++)
                    if (h[b]) {
                        len = 4 * (size_t)(b + 1);
                    }
                for (size_t b = 0; b < len / 4; b++) {
                    blob[4 * b] = (unsigned char)(h[b] & 0xff);
                    blob[4 * b + 1] = (unsigned char)(h[b] >> 8 & 0xff);
                    blob[4 * b + 2] = (unsigned char)(h[b] >> 16 & 0xff);
                    blob[4 * b + 3] = (unsigned char)(h[b] >> 24 & 0xff);
                }
                check(store_prepare(s, sql_ins, &st, &err), &err, "prepare");
                store_stmt_bind_int64(st, 1, day0 + d);
                store_stmt_bind_text(st, 2, staff, -1);
                store_stmt_bind_text(st, 3, team, -1);
                store_stmt_bind_int64(st, 4, j + 1);
                store_stmt_bind_text(st, 5, steps[j], -1);
                store_stmt_bind_text(st, 6, channels[j], -1);
                store_stmt_bind_int64(st, 7, met);
                store_stmt_bind_int64(st, 8, n - met);
                store_stmt_bind_int64(st, 9, n);
                store_stmt_bind_int64(st, 10, sum);
                store_stmt_bind_int64(st, 11, n);
                store_stmt_bind_int64(st, 12, n - (xorshift() % 8 == 0)); /* some left open */
                store_stmt_bind_blob(st, 13, blob, len);
                rc = store_stmt_step(st, &err);
                store_stmt_reset(st);
                check(rc == STORE_DONE ? SMILE_OK : rc, &err, "insert");
                measurements += n;
                rows++;
            }
        }
        check(store_commit(s, &err), &err, "commit");
    }
    check(store_exec(s,
                     "INSERT INTO kpi_open SELECT staff, team, process_id, step, channel, tag,"
                     " sum(opened - closed) FROM kpi_daily GROUP BY 1, 2, 3, 4, 5, 6"
                     " HAVING sum(opened - closed) <> 0",
                     &err),
          &err, "open");
    t_fill = ms_since(t0);
    check(store_exec(s, "ANALYZE", &err), &err, "analyze");
    printf("rollups: %lld rows for %lld measurements (%d staff x 4 steps x 365 days), filled in "
           "%.0f ms\n",
           (long long)rows, (long long)measurements, nstaff, t_fill);
    check(kpi_period_parse("2026-11", &from, &to, &err), &err, "period");

    /* ceiling: the bare GROUP BY over the month */
    t0 = time_mono_ns();
    check(store_prepare(s, sql_ceiling, &st, &err), &err, "prepare");
    store_stmt_bind_int64(st, 1, from);
    store_stmt_bind_int64(st, 2, to);
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW)
        ;
    store_stmt_reset(st);
    t_ceiling = ms_since(t0);

    /* (1) grouped: six indicators for every staff, one read each, then all in one read */
    t0 = time_mono_ns();
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        struct kpi_row *r;
        size_t n;
        int64_t t1 = time_mono_ns();
        check(kpi_indicator_rows(s, names[i], KPI_BY_STAFF, NULL, from, to, &r, &n, &err), &err,
              "rows");
        if ((int)n != nstaff) {
            fprintf(stderr, "bench_kpi: %s: %zu rows, want %d\n", names[i], n, nstaff);
            return 1;
        }
        printf("  %-13s for %d staff: %.1f ms\n", names[i], nstaff, ms_since(t1));
        free(r);
    }
    t_grouped = ms_since(t0);
    t0 = time_mono_ns();
    {
        struct kpi_row *r;
        size_t n;
        check(kpi_indicator_table(s, names, ARRAY_LEN(names) - 1, KPI_BY_STAFF, NULL, from, to, &r,
                                  &n, &err),
              &err, "table");
        free(r);
    }
    t_table = ms_since(t0);

    /* (2) one staff at a time */
    t0 = time_mono_ns();
    for (int k = 0; k < nstaff; k++) {
        char staff[16];
        struct kpi_filter f = {.staff = staff};
        snprintf(staff, sizeof(staff), "s%03d", k);
        for (size_t i = 0; i < ARRAY_LEN(names); i++) {
            struct kpi_value v;
            check(kpi_indicator_value(s, names[i], &f, "2026-11-01", "2026-11-30", &v, &err), &err,
                  "value");
        }
    }
    t_each = ms_since(t0);
    printf("ceiling: bare GROUP BY staff of the month (no histograms): %.1f ms\n", t_ceiling);
    printf("a month's 6 indicators for %d staff, grouped (6 reads): %.1f ms (%.1fx ceiling)\n",
           nstaff, t_grouped, t_grouped / t_ceiling);
    printf("a month's 6 indicators for %d staff in one read "
           "(kpi_indicator_table): %.1f ms (%.1fx ceiling)\n",
           nstaff, t_table, t_table / t_ceiling);
    printf("a month's 6 indicators for %d staff, one staff at a time (%d reads): %.1f ms\n", nstaff,
           nstaff * 6, t_each);

    /* incremental upkeep: subjects whose facts change (2 measurements each: start and end day
     * rows), replaced once, then again with other results */
    {
        const int nsub = 20000;
        t0 = time_mono_ns();
        for (int round = 0; round < 2; round++) {
            check(store_begin(s, &err), &err, "begin");
            for (int i = 0; i < nsub; i++) {
                char subj[32], staff[16];
                struct kpi_facts *kf = kpi_facts_new();
                struct kpi_measurement m = {.process_id = 1,
                                            .step = "ring_at_agent",
                                            .function = "answer_call",
                                            .channel = "phone",
                                            .staff = staff,
                                            .team = "t00",
                                            .result = round ? "breached" : "met",
                                            .state = "done",
                                            .started_at = 1,
                                            .done_at = 2,
                                            .elapsed_ms = round ? 30000 : 7000,
                                            .start_day = day0 + 300 + i % 30,
                                            .done_day = day0 + 300 + i % 30};
                snprintf(subj, sizeof(subj), "call:%d", i);
                snprintf(staff, sizeof(staff), "s%03d", i % nstaff);
                kpi_facts_add_measurement(kf, &m);
                check(kpi_rollup_replace(s, subj, kf, &err), &err, "replace");
                kpi_facts_free(kf);
                if (i % 500 == 499) {
                    check(store_commit(s, &err), &err, "commit");
                    check(store_begin(s, &err), &err, "begin");
                }
            }
            check(store_commit(s, &err), &err, "commit");
        }
        printf("incremental upkeep: %d subject replacements in %.0f ms (%.0f /s)\n", 2 * nsub,
               ms_since(t0), 2.0 * nsub / (ms_since(t0) / 1000.0));
    }
    /* the fold with its rollups: 20,000 calls (offered, ringing, answered) rebuilt */
    {
        const int ncalls = 20000;
        int64_t subjects = 0, t_base = time_days_from_civil(2026, 11, 2) * 86400000LL;
        check(cli_seed_defaults(s, &err), &err, "seed");
        check(store_begin(s, &err), &err, "begin");
        for (int i = 0; i < ncalls; i++) {
            char subj[32], sid[3][40], agent[16], data[2][64];
            int64_t t = t_base + (int64_t)i * 60000, id;
            snprintf(subj, sizeof(subj), "call:%d", i);
            snprintf(agent, sizeof(agent), "s%03d", i % nstaff);
            snprintf(data[0], sizeof(data[0]), "{\"queue\":\"t%02d\"}", i % 20);
            snprintf(data[1], sizeof(data[1]), "{\"agent\":\"%s\"}", agent);
            for (int k = 0; k < 3; k++)
                snprintf(sid[k], sizeof(sid[k]), "b%d.%d", i, k);
            struct ledger_event e[3] = {
                {"call.offered", t, subj, NULL, NULL, NULL, "bench", sid[0], data[0]},
                {"call.ringing", t + 1000, subj, NULL, NULL, NULL, "bench", sid[1], data[1]},
                {"call.answered", t + 2000 + (int64_t)(xorshift() % 20000), subj, agent, NULL, NULL,
                 "bench", sid[2], "{}"},
            };
            for (int k = 0; k < 3; k++)
                check(ledger_append_in_tx(s, &e[k], &id, &err), &err, "append");
        }
        check(store_commit(s, &err), &err, "commit");
        t0 = time_mono_ns();
        check(runtime_rebuild(s, &subjects, &err), &err, "rebuild");
        printf("rebuild (fold + measurements + rollups) of %lld calls: %.0f ms (%.0f subjects/s)\n",
               (long long)subjects, ms_since(t0), (double)subjects / (ms_since(t0) / 1000.0));
    }
    store_close(s);
    unlink(path);
    snprintf(path, sizeof(path), "%s/k.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/k.db-shm", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
