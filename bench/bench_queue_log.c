/*
 * bench_queue_log.c — the queue_log intake path against its ceilings. Reads a generated
 * file (bench/gen_queue_log.py) into memory and measures: parsing alone (lines/s; goal
 * ≥ 200,000), parsing + mapping to event objects (lines/s, events/s), and the end-to-end
 * import (parse, map, append in 5,000-event transactions through intake_append, as
 * `smile import queue-log` does) beside its ceiling: bare INSERTs of the same rows into
 * the same `events` table through the store interface, 5,000 per transaction (WAL,
 * synchronous=FULL), timing only the database work. Prints one line per figure; CPU
 * time is shown beside wall time because a shared machine distorts the latter.
 *
 * usage: bench_queue_log FILE [DIR]   (DIR for the scratch databases, default /tmp;
 *                                      without it nothing is written when DIR is "-")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "intake/intake.h"
#include "store/store.h"

#define BATCH 5000

static char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[1 << 16];
    size_t r;

    if (f == NULL)
        fatal("bench: cannot open %s", path);
    buf_init(&b, 0);
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, r);
    fclose(f);
    *n = b.len;
    return buf_steal(&b);
}

static double
secs(int64_t t0)
{
    return (double)(time_mono_ns() - t0) / 1e9;
}

/* CPU seconds of this process: the machine may be shared, so wall time alone misleads. */
static double
cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store *
fresh_db(const char *dir, const char *name)
{
    struct store *s;
    struct smile_err err;
    char p[600];

    snprintf(p, sizeof(p), "%s/%s.db", dir, name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s.db-wal", dir, name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s.db-shm", dir, name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s.db", dir, name);
    smile_err_clear(&err);
    if (store_open(p, STORE_CREATE, &s, &err) != SMILE_OK || store_migrate(s, &err) != SMILE_OK)
        fatal("bench: %s", err.msg);
    return s;
}

/* Runs every line through parse (and map when m); append when s. Returns events. */
static int64_t
run(const char *data, size_t n, struct pbx_map *m, struct store *s, int64_t *lines)
{
    const char *p = data, *end = data + n;
    json_t *evs = json_array();
    struct intake_batch *rows = intake_batch_new();
    int64_t events = 0, latest = 0, pending = 0;
    struct smile_err err;

    *lines = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct qlog_line l;
        struct qlog_error e;

        if (qlog_line_parse(p, len, &l, &e) == SMILE_OK && m) {
            pbx_map_qlog(m, &l, true, evs);
            latest = l.at_ms;
        }
        (*lines)++;
        p += len + 1;
        /* As the importer: each line's events validated into the batch at once (with a
         * database) or just counted and dropped (mapping alone). */
        pending += (int64_t)json_array_size(evs);
        if (s)
            intake_batch_add(rows, evs);
        else
            json_array_clear(evs);
        if (pending >= BATCH || (p >= end && pending)) {
            events += pending;
            pending = 0;
            if (s) {
                struct intake_counts c;

                smile_err_clear(&err);
                if (intake_batch_append(s, rows, NULL, &c, &err) != SMILE_OK)
                    fatal("bench: %s", err.msg);
            }
            if (m) /* as the importer does after each batch */
                pbx_map_prune(m, latest, 6 * 3600 * 1000);
        }
    }
    json_decref(evs);
    intake_batch_free(rows);
    return events;
}

/*
 * The ceiling: the same rows (mapped here, untimed) written by bare INSERTs through the
 * store interface, 5,000 per transaction; only the database work is timed. Returns the
 * seconds spent in the database.
 */
static double
ceiling(const char *data, size_t n, struct store *s, double *cpu_spent)
{
    static const char sql[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, actor, customer, channel, "
        "source, source_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    const char *p = data, *end = data + n;
    json_t *evs = json_array(), *ev;
    char **datas = xcalloc(BATCH + 64, sizeof(char *));
    int64_t *ats = xcalloc(BATCH + 64, sizeof(int64_t));
    struct smile_err err;
    struct store_stmt *st;
    double spent = 0;
    size_t i;

    smile_err_clear(&err);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct qlog_line l;
        struct qlog_error e;

        if (qlog_line_parse(p, len, &l, &e) == SMILE_OK)
            pbx_map_qlog(m, &l, true, evs);
        p += len + 1;
        if (json_array_size(evs) >= BATCH || (p >= end && json_array_size(evs))) {
            int64_t t0;
            double c0;

            json_array_foreach(evs, i, ev)
            {
                const char *at = json_string_value(json_object_get(ev, "occurred_at"));

                time_parse_rfc3339(at, strlen(at), &ats[i]);
                datas[i] = json_dumps(json_object_get(ev, "data"), JSON_COMPACT | JSON_SORT_KEYS);
            }
            t0 = time_mono_ns();
            c0 = cpu();
            if (store_begin(s, &err) != SMILE_OK)
                fatal("bench: %s", err.msg);
            json_array_foreach(evs, i, ev)
            {
                if (store_prepare(s, sql, &st, &err) != SMILE_OK)
                    fatal("bench: %s", err.msg);
                store_stmt_bind_text(st, 1, json_string_value(json_object_get(ev, "type")), -1);
                store_stmt_bind_int64(st, 2, ats[i]);
                store_stmt_bind_int64(st, 3, ats[i]);
                store_stmt_bind_text(st, 4, json_string_value(json_object_get(ev, "subject")), -1);
                store_stmt_bind_text(st, 5, json_string_value(json_object_get(ev, "actor")), -1);
                store_stmt_bind_text(st, 6, json_string_value(json_object_get(ev, "customer")), -1);
                store_stmt_bind_text(st, 7, "phone", -1);
                store_stmt_bind_text(st, 8, "asterisk", -1);
                store_stmt_bind_text(st, 9, json_string_value(json_object_get(ev, "source_id")),
                                     -1);
                store_stmt_bind_text(st, 10, datas[i], -1);
                if (store_stmt_step(st, &err) != STORE_DONE)
                    fatal("bench: %s", err.msg);
                store_stmt_reset(st);
            }
            if (store_commit(s, &err) != SMILE_OK)
                fatal("bench: %s", err.msg);
            spent += secs(t0);
            *cpu_spent += cpu() - c0;
            json_array_foreach(evs, i, ev)
            {
                free(datas[i]);
            }
            json_array_clear(evs);
        }
    }
    free(datas);
    free(ats);
    json_decref(evs);
    pbx_map_free(m);
    return spent;
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    size_t n;
    char *data;
    int64_t t0, lines, events;
    double t, c0, c;
    struct pbx_map *m;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_queue_log FILE [DIR|-]\n");
        return 2;
    }
    data = slurp(argv[1], &n);
    log_set_level(LOG_WARN);

    t0 = time_mono_ns();
    c0 = cpu();
    run(data, n, NULL, NULL, &lines);
    t = secs(t0);
    c = cpu() - c0;
    printf("queue_log parse          %9.0f lines/s  (CPU: %.0f lines/s; %lld lines, %.2f s; "
           "goal 200000)\n",
           (double)lines / t, (double)lines / c, (long long)lines, t);

    m = pbx_map_new("asterisk", NULL, NULL);
    t0 = time_mono_ns();
    c0 = cpu();
    events = run(data, n, m, NULL, &lines);
    t = secs(t0);
    c = cpu() - c0;
    printf("queue_log parse+map      %9.0f lines/s  %9.0f events/s  (CPU: %.0f lines/s; %lld "
           "events)\n",
           (double)lines / t, (double)events / t, (double)lines / c, (long long)events);
    pbx_map_free(m);

    if (strcmp(dir, "-") != 0) {
        struct store *s = fresh_db(dir, "bench_queue_log");
        double e2e, ceil_rate, e2e_cpu, ceil_cpu = 0;

        m = pbx_map_new("asterisk", NULL, NULL);
        t0 = time_mono_ns();
        c0 = cpu();
        events = run(data, n, m, s, &lines);
        t = secs(t0);
        c = cpu() - c0;
        e2e = (double)events / t;
        e2e_cpu = (double)events / c;
        printf("import end to end        %9.0f lines/s  %9.0f events/s  (%.2f s, CPU %.2f s)\n",
               (double)lines / t, e2e, t, c);
        pbx_map_free(m);
        store_close(s);

        s = fresh_db(dir, "bench_queue_log_ceiling");
        t = ceiling(data, n, s, &ceil_cpu);
        ceil_rate = (double)events / t;
        printf("ceiling: raw inserts     %9s          %9.0f events/s  (the same %lld rows, %d "
               "per tx, database time only, CPU %.2f s)\n",
               "", ceil_rate, (long long)events, BATCH, ceil_cpu);
        printf("import / ceiling         %9.2f wall   %9.2f CPU\n", e2e / ceil_rate,
               e2e_cpu / ((double)events / ceil_cpu));
        store_close(s);
    }
    free(data);
    return 0;
}
