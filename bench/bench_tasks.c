/*
 * bench_tasks.c — the task inbox against its ceiling. Builds a database with 200 staff in
 * 10 teams and 5,000 open complaint cases (25 per person), each with two open clocks
 * (first_reply, 24 h wall; resolve, 3 business days on the China calendar) and their
 * warning deadlines: 10,000 open tasks. Then asks work_tasks_list() for one person's tasks
 * (?mine=1: candidates by index, holder check, time left with the calendar, JSON, sort)
 * for random people and reports p50 / p99 / max per call, beside the ceiling: the bare
 * indexed SELECT of the same person's open measurement rows. HTTP adds the server's
 * fixed cost on top (bench_hello, BENCHMARKS.md).
 * Usage: bench_tasks [CALLS [keep]]   ("keep" leaves the database and prints its path)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"
#include "work/work.h"

#define STAFF 200
#define TEAMS 10
#define CASES 5000

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* CPU time of this thread, ns: on a shared machine wall-clock tails measure the neighbours. */
static int64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
run(struct store *db, const char *sql, struct smile_err *err)
{
    return store_exec(db, sql, err);
}

static int
fill(struct store *db, struct smile_err *err)
{
    static const char sql_team[] = "INSERT INTO teams (name, created_at, updated_at)"
                                   " VALUES ($1, 0, 0)";
    static const char sql_user[] = "INSERT INTO users (username, role, team_id, created_at,"
                                   " updated_at) VALUES ($1, 'agent', $2, 0, 0)";
    static const char sql_case[] =
        "INSERT INTO cases (id, type, status, subject, assignee_id, team_id, opened_at,"
        " created_at, updated_at) VALUES ($1, 'complaint', 'open', 'bench', $2, $3, $4, $4, $4)";
    static const char sql_inst[] =
        "INSERT INTO instances (id, process_id, version, subject, trigger_event_id, started_at,"
        " updated_at) VALUES ($1, $2, 1, $3, $1, $4, $4)";
    static const char sql_m[] =
        "INSERT INTO measurements (instance_id, process_id, version, step_key, occurrence,"
        " subject, started_at, elapsed_ms, target_ms, deadline_at, result, state,"
        " charged_actor, charged_team, fold_seq, updated_at)"
        " VALUES ($1, $2, 1, $3, 0, $4, $5, 0, $6, $7, 'open', 'running', $8, $9, 1, $5)"
        " RETURNING id";
    static const char sql_dl[] = "INSERT INTO deadlines (measurement_id, kind, idx, due_at,"
                                 " source_id) VALUES ($1, 'warning', $2, $3, $4)";
    struct store_stmt *st;
    /* Cases opened from an hour ago on, one every 10 s: every deadline and warning lies in
     * the future, so a server started on this database (bench_tasks_http.py) has nothing
     * to fire while it is measured. */
    int64_t pid = 0, base = time_now_ms() - 3600000;
    char name[32], subj[32], sid[64];
    int rc;

    if ((rc = store_query_int64(db, "SELECT id FROM processes WHERE name = 'Complaint handling'",
                                &pid, err)) != SMILE_OK)
        return rc;
    if ((rc = run(db, "BEGIN", err)) != SMILE_OK)
        return rc;
    for (int t = 0; t < TEAMS; t++) {
        snprintf(name, sizeof(name), "team%02d", t);
        store_prepare(db, sql_team, &st, err);
        store_stmt_bind_text(st, 1, name, -1);
        store_stmt_step(st, err);
        store_stmt_reset(st);
    }
    for (int u = 0; u < STAFF; u++) {
        snprintf(name, sizeof(name), "u%03d", u);
        store_prepare(db, sql_user, &st, err);
        store_stmt_bind_text(st, 1, name, -1);
        store_stmt_bind_int64(st, 2, 1 + u % TEAMS);
        store_stmt_step(st, err);
        store_stmt_reset(st);
    }
    for (int c = 1; c <= CASES; c++) {
        int u = c % STAFF;
        int64_t t0 = base + (int64_t)c * 10000;
        static const char *const steps[] = {"first_reply", "resolve"};
        static const int64_t target[] = {86400000, 81000000};
        static const int64_t dl_off[] = {86400000, 5 * 86400000LL};

        snprintf(name, sizeof(name), "u%03d", u);
        snprintf(subj, sizeof(subj), "case:%d", c);
        store_prepare(db, sql_case, &st, err);
        store_stmt_bind_int64(st, 1, c);
        store_stmt_bind_int64(st, 2, 1 + u);
        store_stmt_bind_int64(st, 3, 1 + u % TEAMS);
        store_stmt_bind_int64(st, 4, t0);
        store_stmt_step(st, err);
        store_stmt_reset(st);
        store_prepare(db, sql_inst, &st, err);
        store_stmt_bind_int64(st, 1, c);
        store_stmt_bind_int64(st, 2, pid);
        store_stmt_bind_text(st, 3, subj, -1);
        store_stmt_bind_int64(st, 4, t0);
        store_stmt_step(st, err);
        store_stmt_reset(st);
        for (int k = 0; k < 2; k++) {
            int64_t mid = 0;
            char team[16];

            snprintf(team, sizeof(team), "team%02d", u % TEAMS);
            store_prepare(db, sql_m, &st, err);
            store_stmt_bind_int64(st, 1, c);
            store_stmt_bind_int64(st, 2, pid);
            store_stmt_bind_text(st, 3, steps[k], -1);
            store_stmt_bind_text(st, 4, subj, -1);
            store_stmt_bind_int64(st, 5, t0);
            store_stmt_bind_int64(st, 6, target[k]);
            store_stmt_bind_int64(st, 7, t0 + dl_off[k]);
            store_stmt_bind_text(st, 8, name, -1);
            store_stmt_bind_text(st, 9, team, -1);
            if (store_stmt_step(st, err) == STORE_ROW)
                mid = store_stmt_int64(st, 0);
            store_stmt_reset(st);
            for (int w = 0; w < 2; w++) {
                snprintf(sid, sizeof(sid), "bench:%d:%d:%d", c, k, w);
                store_prepare(db, sql_dl, &st, err);
                store_stmt_bind_int64(st, 1, mid);
                store_stmt_bind_int64(st, 2, w);
                store_stmt_bind_int64(st, 3, t0 + target[k] / 2 + w * 3600000);
                store_stmt_bind_text(st, 4, sid, -1);
                store_stmt_step(st, err);
                store_stmt_reset(st);
            }
        }
    }
    if ((rc = run(db, "COMMIT", err)) != SMILE_OK)
        return rc;
    return run(db, "ANALYZE", err);
}

int
main(int argc, char **argv)
{
    static const char sql_bare[] =
        "SELECT id, step_key, subject, deadline_at FROM measurements WHERE charged_actor = $1"
        " AND state IN ('running', 'paused')";
    char dir[] = "/tmp/smile-bench-XXXXXX", path[64];
    long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    bool keep = argc > 2 && strcmp(argv[2], "keep") == 0;
    int64_t *lat, *bare, *cpu, now = time_now_ms();
    struct smile_err err;
    struct store *db;
    long items = 0;

    if (calls <= 0 || mkdtemp(dir) == NULL)
        return 2;
    snprintf(path, sizeof(path), "%s/b.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK || cli_seed_defaults(db, &err) != SMILE_OK ||
        fill(db, &err) != SMILE_OK) {
        fprintf(stderr, "bench_tasks: %s\n", err.msg);
        return 1;
    }
    lat = calloc((size_t)calls, sizeof(*lat));
    bare = calloc((size_t)calls, sizeof(*bare));
    cpu = calloc((size_t)calls, sizeof(*cpu));
    srand(7);
    for (long i = 0; i < calls; i++) {
        struct work_task_query q = {.limit = 50, .now = now};
        char name[16];
        json_t *out = NULL;
        struct store_stmt *st;
        int64_t t0, c0;

        snprintf(name, sizeof(name), "u%03d", rand() % STAFF);
        q.actor = name;
        c0 = cpu_ns();
        t0 = time_mono_ns();
        if (work_tasks_list(db, &q, &out, &err) != SMILE_OK) {
            fprintf(stderr, "bench_tasks: %s\n", err.msg);
            return 1;
        }
        {
            char *text = json_dumps(out, JSON_COMPACT); /* the handler serialises it too */
            free(text);
        }
        lat[i] = time_mono_ns() - t0;
        cpu[i] = cpu_ns() - c0;
        items += (long)json_array_size(json_object_get(out, "items"));
        json_decref(out);
        t0 = time_mono_ns();
        store_prepare(db, sql_bare, &st, &err);
        store_stmt_bind_text(st, 1, name, -1);
        while (store_stmt_step(st, &err) == STORE_ROW)
            (void)store_stmt_int64(st, 0);
        store_stmt_reset(st);
        bare[i] = time_mono_ns() - t0;
    }
    qsort(lat, (size_t)calls, sizeof(*lat), cmp64);
    qsort(bare, (size_t)calls, sizeof(*bare), cmp64);
    qsort(cpu, (size_t)calls, sizeof(*cpu), cmp64);
    printf("tasks ?mine=1: %d open tasks, %d staff, %ld calls, %.1f tasks/call\n", 2 * CASES, STAFF,
           calls, (double)items / (double)calls);
    printf("  work_tasks_list  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", lat[calls / 2] / 1e6,
           lat[calls * 99 / 100] / 1e6, lat[calls - 1] / 1e6);
    printf("  work_tasks_list CPU time  p50 %.3f ms  p99 %.3f ms\n", cpu[calls / 2] / 1e6,
           cpu[calls * 99 / 100] / 1e6);
    printf("  ceiling (bare indexed SELECT of the same rows)  p50 %.3f ms  p99 %.3f ms\n",
           bare[calls / 2] / 1e6, bare[calls * 99 / 100] / 1e6);
    printf("  ratio p99 %.1fx\n", (double)lat[calls * 99 / 100] / (double)bare[calls * 99 / 100]);
    {
        /* A supervisor's unfiltered first page: every open task is computed and sorted. */
        int64_t best = INT64_MAX, worst = 0;
        for (int i = 0; i < 10; i++) {
            struct work_task_query q = {.limit = 50, .now = now};
            json_t *out = NULL;
            int64_t t0 = time_mono_ns(), dt;
            if (work_tasks_list(db, &q, &out, &err) != SMILE_OK)
                return 1;
            dt = time_mono_ns() - t0;
            best = dt < best ? dt : best;
            worst = dt > worst ? dt : worst;
            json_decref(out);
        }
        printf("  supervisor, all %d tasks, first page of 50: best %.1f ms  worst %.1f ms\n",
               2 * CASES, best / 1e6, worst / 1e6);
    }
    free(lat);
    free(bare);
    free(cpu);
    store_close(db);
    if (keep) {
        printf("database kept: %s\n", path);
    } else {
        unlink(path);
        {
            char p2[80];
            snprintf(p2, sizeof(p2), "%s-wal", path);
            unlink(p2);
            snprintf(p2, sizeof(p2), "%s-shm", path);
            unlink(p2);
        }
        rmdir(dir);
    }
    return 0;
}
