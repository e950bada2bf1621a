/*
 * bench_recompute.c — what a process recompute costs, and what version pins cost the fold.
 * A temporary database with the seeded defaults and N hotline calls in November 2026
 * (offered, ringing, answered 2–22 s later): (1) `smile rebuild` with no pins (the fold's
 * baseline), (2) version 2 of the hotline (answer within 2 rings) is published and a process
 * recompute re-pins the month's instances to it: the dry run (pin, re-fold, diff, rolled
 * back) and the applied run, (3) `smile rebuild` again, now with one pin per call (the
 * fold's pin lookup on every subject), (4) that lookup alone. Figures are CPU time (getrusage: user
 * + system) per subject, beside the wall time and the load average: on a shared machine wall time
 * is noise.
 *
 *   bench_recompute [CALLS]      (default 20000; a temporary database under /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "recompute/recompute.h"
#include "runtime/runtime.h"
#include "store/store.h"

static void
check(int rc, const struct smile_err *err, const char *what)
{
    if (rc != SMILE_OK) {
        fprintf(stderr, "bench_recompute: %s: %s\n", what, err->msg);
        exit(1);
    }
}

static double
cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static void
report(const char *what, double cpu0, int64_t wall0, int64_t n)
{
    double cpu = cpu_ms() - cpu0, wall = (double)(time_mono_ns() - wall0) / 1e6;
    double load[3] = {0, 0, 0};

    getloadavg(load, 3);
    printf("%-58s CPU %7.0f ms (%6.1f µs/subject), wall %7.0f ms, load %.2f\n", what, cpu,
           cpu * 1000.0 / (double)(n ? n : 1), wall, load[0]);
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
    int ncalls = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
    char dir[64] = "/tmp/bench_recompute_XXXXXX", path[128];
    struct store *s;
    struct smile_err err;
    int64_t t_base = time_days_from_civil(2026, 11, 2) * 86400000LL, subjects = 0, pid = 0;
    int64_t w0;
    double c0;
    json_t *out = NULL;

    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/r.db", dir);
    check(store_open(path, STORE_CREATE, &s, &err), &err, "open");
    check(store_migrate(s, &err), &err, "migrate");
    check(cli_seed_defaults(s, &err), &err, "seed");
    check(store_query_int64(s, "SELECT id FROM processes WHERE name = 'Phone hotline'", &pid, &err),
          &err, "process");
    check(store_begin(s, &err), &err, "begin");
    for (int i = 0; i < ncalls; i++) {
        char subj[32], sid[3][40], agent[16], data[2][64];
        int64_t t = t_base + (int64_t)i * 60000, id;

        snprintf(subj, sizeof(subj), "call:%d", i);
        snprintf(agent, sizeof(agent), "s%03d", i % 500);
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
    printf("%d hotline calls (3 events each)\n", ncalls);

    for (int round = 0; round < 2; round++) {
        c0 = cpu_ms();
        w0 = time_mono_ns();
        check(runtime_rebuild(s, &subjects, &err), &err, "rebuild");
        report(round ? "rebuild, no pins, again"
                     : "rebuild, no pins (fold + measurements + rollups)",
               c0, w0, subjects);
    }

    /* Version 2: answer within 2 rings, published after the calls. */
    check(store_exec(s,
                     "INSERT INTO process_versions (process_id, number, document, published_at)"
                     " SELECT process_id, 2, json_set(document, '$.version', 2, '$.published_at',"
                     " '2026-12-15T00:00:00.000Z', '$.steps[0].standard.within', '2 rings'),"
                     " 1797292800000 FROM process_versions WHERE number = 1 AND process_id ="
                     " (SELECT id FROM processes WHERE name = 'Phone hotline')",
                     &err),
          &err, "publish v2");
    {
        struct recompute_req rq = {.process_id = pid,
                                   .version = 2,
                                   .from = time_days_from_civil(2026, 11, 1) * 86400000LL,
                                   .to = time_days_from_civil(2026, 12, 31) * 86400000LL,
                                   .dry_run = true,
                                   .reason = "bench"};
        char token[32];
        json_t *m;

        c0 = cpu_ms();
        w0 = time_mono_ns();
        check(recompute_run(s, NULL, &rq, &out, &err), &err, "dry run");
        report("recompute dry run (pin, re-fold, diff; rolled back)", c0, w0, ncalls);
        m = json_object_get(out, "measurements");
        printf("  compared %lld, changed %lld, result changed %lld\n",
               (long long)json_integer_value(json_object_get(m, "compared")),
               (long long)json_integer_value(json_object_get(m, "changed")),
               (long long)json_integer_value(json_object_get(m, "result_changed")));
        snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(out, "confirm")));
        json_decref(out);
        rq.dry_run = false;
        rq.confirm = token;
        c0 = cpu_ms();
        w0 = time_mono_ns();
        check(recompute_run(s, NULL, &rq, &out, &err), &err, "apply");
        report("recompute applied (the same, committed, with its records)", c0, w0, ncalls);
        json_decref(out);
    }
    for (int round = 0; round < 2; round++) {
        c0 = cpu_ms();
        w0 = time_mono_ns();
        check(runtime_rebuild(s, &subjects, &err), &err, "rebuild");
        report(round ? "rebuild, every call pinned, again"
                     : "rebuild, every call pinned (pin lookup per subject)",
               c0, w0, subjects);
    }

    /* The pin lookup alone, as the fold does it once per subject. */
    check(store_begin(s, &err), &err, "begin");
    c0 = cpu_ms();
    w0 = time_mono_ns();
    for (int i = 0; i < ncalls; i++) {
        struct runtime_pin_ref *pins = NULL;
        size_t n = 0;
        char subj[32];

        snprintf(subj, sizeof(subj), "call:%d", i);
        check(runtime_pins_load(s, subj, &pins, &n, &err), &err, "pins");
        if (n != 1) {
            fprintf(stderr, "bench_recompute: %s has %zu pins\n", subj, n);
            return 1;
        }
        free(pins);
    }
    report("pin lookup alone (runtime_pins_load)", c0, w0, ncalls);
    store_rollback(s);

    store_close(s);
    unlink(path);
    snprintf(path, sizeof(path), "%s/r.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/r.db-shm", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
