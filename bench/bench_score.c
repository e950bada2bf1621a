/*
 * bench_score.c — a month's scorecards for N staff (default 500) from the kpi rollups.
 * Generates kpi_daily directly (N staff in teams of 25 × 30 days × 3 steps, counts summing
 * to about 10,000,000 measurements, with elapsed histograms), then times
 * score_evaluations_compute() for a 3-item template (two compliance items, one of them
 * critical, and a p90 elapsed item, lower is better): every item value through
 * kpi_indicator_value, points, totals, ranks in role and team, the evaluations written in one
 * transaction, and the supervisors' digests. The ceiling is one bare GROUP BY over the same
 * rollup rows (every staff × step summed by SQLite alone). Goal: < 1 s for 500 staff.
 * Usage: bench_score [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpi/kpi.h"
#include "score/score.h"
#include "store/store.h"

static double
secs(int64_t t0)
{
    return (double)(time_mono_ns() - t0) / 1e9;
}

static int
die(const char *what, const struct smile_err *err)
{
    fprintf(stderr, "bench_score: %s: %s\n", what, err->msg);
    return 1;
}

int
main(int argc, char **argv)
{
    static const char ins_team[] = "INSERT INTO teams (id, name, supervisor_id, created_at,"
                                   " updated_at) VALUES ($1, $2, $3, 0, 0)";
    static const char ins_user[] = "INSERT INTO users (id, username, role, team_id, created_at,"
                                   " updated_at) VALUES ($1, $2, $3, $4, 0, 0)";
    static const char ins_daily[] =
        "INSERT INTO kpi_daily (day, staff, team, process_id, step, channel, met, breached,"
        " done, sum_ms, opened, closed, hist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13)";
    static const char ceiling_sql[] =
        "SELECT staff, step, sum(met), sum(breached), sum(done), sum(sum_ms) FROM kpi_daily"
        " WHERE day >= $1 AND day <= $2 GROUP BY staff, step";
    static const char *const steps[3] = {"reply", "greet", "ring_at_agent"};
    static const char *const chans[3] = {"email", "counter", "phone"};
    char dir[] = "/tmp/smile-bench-XXXXXX", path[64];
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 500;
    struct store *db;
    struct smile_err err;
    struct store_stmt *st;
    struct score_template t;
    struct score_period p;
    struct score_compute_opts o = {.with_digest = true};
    json_t *doc, *res = NULL;
    int64_t t0, measurements = 0, rows = 0, day0;
    uint32_t hist[KPI_HIST_BUCKETS];
    unsigned seed = 12345;
    double t_gen, t_ceiling, t_score, t_score2;
    long nteams;

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 2;
    nteams = (n + 24) / 25;
    snprintf(path, sizeof(path), "%s/b.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK ||
        store_exec(db, "PRAGMA synchronous=NORMAL", &err) != SMILE_OK)
        return die("open", &err);
    score_period_parse("2026-11", &p, &err);
    day0 = p.from_day;

    /* Staff, teams (each with a supervisor) and the rollups, in one transaction. */
    t0 = time_mono_ns();
    if (store_begin(db, &err) != SMILE_OK)
        return die("begin", &err);
    for (long k = 0; k < nteams; k++) {
        char name[32], sup[32];

        snprintf(name, sizeof(name), "team%02ld", k);
        snprintf(sup, sizeof(sup), "sup%02ld", k);
        store_prepare(db, ins_user, &st, &err);
        store_stmt_bind_int64(st, 1, 100000 + k);
        store_stmt_bind_text(st, 2, sup, -1);
        store_stmt_bind_text(st, 3, "supervisor", -1);
        store_stmt_bind_null(st, 4);
        if (store_stmt_step(st, &err) != STORE_DONE)
            return die("supervisor", &err);
        store_stmt_reset(st);
        store_prepare(db, ins_team, &st, &err);
        store_stmt_bind_int64(st, 1, k + 1);
        store_stmt_bind_text(st, 2, name, -1);
        store_stmt_bind_int64(st, 3, 100000 + k);
        if (store_stmt_step(st, &err) != STORE_DONE)
            return die("team", &err);
        store_stmt_reset(st);
    }
    for (long i = 0; i < n; i++) {
        char user[32], team[32];

        snprintf(user, sizeof(user), "agent%04ld", i);
        snprintf(team, sizeof(team), "team%02ld", i / 25);
        store_prepare(db, ins_user, &st, &err);
        store_stmt_bind_int64(st, 1, i + 1);
        store_stmt_bind_text(st, 2, user, -1);
        store_stmt_bind_text(st, 3, "agent", -1);
        store_stmt_bind_int64(st, 4, i / 25 + 1);
        if (store_stmt_step(st, &err) != STORE_DONE)
            return die("user", &err);
        store_stmt_reset(st);
        for (int d = 0; d < 30; d++) {
            for (int s = 0; s < 3; s++) {
                /* ~222 measurements per row on average: 500 × 30 × 3 × 222 ≈ 10 M. */
                int total = 150 + (int)(rand_r(&seed) % 145);
                int breached = (int)(rand_r(&seed) % (unsigned)(total / 8 + 1)) + (i % 7 == 0);
                int64_t sum = 0;
                int top = 0;
                unsigned char *blob;

                memset(hist, 0, sizeof(hist));
                for (int m = 0; m < total; m += 4) { /* a quarter sampled, weight 4 */
                    int64_t ms = 1000 + (int64_t)(rand_r(&seed) % 60000) * (s + 1);
                    int b = kpi_hist_bucket(ms);
                    hist[b] += 4;
                    sum += ms * 4;
                    if (b + 1 > top)
                        top = b + 1;
                }
                blob = xmalloc((size_t)top * 4 + 1);
                for (int b = 0; b < top; b++) {
                    blob[b * 4] = (unsigned char)(hist[b] & 0xff);
                    blob[b * 4 + 1] = (unsigned char)((hist[b] >> 8) & 0xff);
                    blob[b * 4 + 2] = (unsigned char)((hist[b] >> 16) & 0xff);
                    blob[b * 4 + 3] = (unsigned char)((hist[b] >> 24) & 0xff);
                }
                store_prepare(db, ins_daily, &st, &err);
                store_stmt_bind_int64(st, 1, day0 + d);
                store_stmt_bind_text(st, 2, user, -1);
                store_stmt_bind_text(st, 3, team, -1);
                store_stmt_bind_int64(st, 4, s + 1);
                store_stmt_bind_text(st, 5, steps[s], -1);
                store_stmt_bind_text(st, 6, chans[s], -1);
                store_stmt_bind_int64(st, 7, total - breached);
                store_stmt_bind_int64(st, 8, breached);
                store_stmt_bind_int64(st, 9, total);
                store_stmt_bind_int64(st, 10, sum);
                store_stmt_bind_int64(st, 11, total);
                store_stmt_bind_int64(st, 12, total);
                store_stmt_bind_blob(st, 13, blob, (size_t)top * 4);
                if (store_stmt_step(st, &err) != STORE_DONE)
                    return die("kpi_daily", &err);
                store_stmt_reset(st);
                free(blob);
                measurements += total;
                rows++;
            }
        }
    }
    if (store_commit(db, &err) != SMILE_OK)
        return die("commit", &err);
    t_gen = secs(t0);

    doc = json_loads(
        "{\"name\": \"bench\", \"role\": \"agent\", \"items\": ["
        "{\"key\": \"reply\", \"indicator\": \"compliance\", \"filter\": {\"step\": \"reply\"},"
        " \"weight\": 2, \"floor\": 0.8, \"target\": 0.98},"
        "{\"key\": \"greet\", \"indicator\": \"compliance\", \"filter\": {\"step\": \"greet\"},"
        " \"weight\": 1, \"floor\": 0.8, \"target\": 0.98, \"critical\": true},"
        "{\"key\": \"ring\", \"indicator\": \"elapsed_p90\", \"filter\": {\"step\": "
        "\"ring_at_agent\"}, \"weight\": 1, \"floor\": 180000, \"target\": 60000}]}",
        0, NULL);
    if (score_template_create(db, NULL, doc, &t, &err) != SMILE_OK)
        return die("template", &err);
    json_decref(doc);

    /* Ceiling: SQLite alone summing the same rollup rows per staff × step. */
    t0 = time_mono_ns();
    store_prepare(db, ceiling_sql, &st, &err);
    store_stmt_bind_int64(st, 1, p.from_day);
    store_stmt_bind_int64(st, 2, p.to_day);
    {
        long groups = 0;
        while (store_stmt_step(st, &err) == STORE_ROW)
            groups++;
        if (groups != n * 3)
            fprintf(stderr, "bench_score: ceiling saw %ld groups\n", groups);
    }
    store_stmt_reset(st);
    t_ceiling = secs(t0);

    o.now_ms = time_now_ms();
    t0 = time_mono_ns();
    if (score_evaluations_compute(db, NULL, &t, &p, &o, &res, &err) != SMILE_OK)
        return die("compute", &err);
    t_score = secs(t0);
    json_decref(res);
    /* Again: a recompute updates every row in place. */
    o.now_ms = time_now_ms();
    t0 = time_mono_ns();
    if (score_evaluations_compute(db, NULL, &t, &p, &o, &res, &err) != SMILE_OK)
        return die("recompute", &err);
    t_score2 = secs(t0);
    printf("bench_score: %ld staff, %ld teams, %lld rollup rows = %lld measurements "
           "(generated in %.2f s)\n",
           n, nteams, (long long)rows, (long long)measurements, t_gen);
    printf("  month's scorecards (3 items, ranks, %ld digests): %.3f s = %.2f ms/staff "
           "(recompute %.3f s), computed %lld\n",
           nteams, t_score, t_score * 1000.0 / (double)n, t_score2,
           (long long)json_integer_value(json_object_get(res, "computed")));
    printf("  ceiling (bare GROUP BY over the same rollups): %.3f s; ratio %.1fx; goal < 1 s: "
           "%s\n",
           t_ceiling, t_score / (t_ceiling > 0 ? t_ceiling : 1e-9),
           t_score < 1.0 ? "met" : "MISSED");
    json_decref(res);
    store_close(db);
    snprintf(path, sizeof(path), "%s/b.db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.db-shm", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
