/*
 * bench_whatif.c — throughput of the what-if replay core (kpi/whatif.h) on synthetic
 * customer e-mail threads: 5,000,000 events by default (threads of 1–4 e-mails received
 * and answered by one of 200 agents, 90% within 20 h, the rest within 60 h, 5% never),
 * replayed through the built-in "Customer email" process live (24 h) and a draft (12 h),
 * both on the always-open calendar. Prints events/s beside the ceiling: the same subjects
 * folded once through the live version with nothing counted (the bare engine), so the
 * ratio shows what the second fold and the counting cost. Wall time and the thread's CPU
 * time are both printed (on a shared machine the CPU time is the fairer figure).
 * With --db DIR the same events are also written to a fresh database in DIR (straight
 * into the events table, one transaction, in time order as a live ledger holds them, with
 * the data mail/ puts on e-mail events) and replayed end to end with kpi_whatif_run(),
 * reading them back from SQLite as POST /api/v1/processes/{id}/whatif does; beside it the
 * ceiling, a bare read of the same columns off the events table.
 * Usage: bench_whatif [events] [--db DIR [--reuse]] (BENCH_KEEP_DB=1 keeps the database;
 * --reuse replays the kept one instead of writing it again).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "kpi/whatif.h"
#include "runtime/records.h"
#include "store/store.h"

#define NAGENTS 200
#define H INT64_C(3600000)

static uint64_t rng = 88172645463325252ull;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct engine_process *
compile(const char *within, bool published)
{
    json_t *doc = json_loads(engine_default_email_json(), 0, NULL);
    json_t *step = json_array_get(json_object_get(doc, "steps"), 0);
    struct engine_process *p = NULL;
    struct smile_err err;

    json_object_set_new(json_object_get(step, "standard"), "within", json_string(within));
    if (published)
        json_object_set_new(doc, "published_at", json_string("2020-01-01T00:00:00Z"));
    smile_err_clear(&err);
    if (engine_process_compile_json(doc, &p, &err) != SMILE_OK) {
        fprintf(stderr, "compile: %s\n", err.msg);
        exit(1);
    }
    json_decref(doc);
    return p;
}

/* Order of the ledger: by occurred_at, as a live ledger appends them. */
static const struct engine_event *sort_base;

static int
cmp_time(const void *a, const void *b)
{
    const struct engine_event *x = &sort_base[*(const size_t *)a],
                              *y = &sort_base[*(const size_t *)b];

    return x->occurred_at < y->occurred_at ? -1 : x->occurred_at > y->occurred_at;
}

/* Ceiling: every column the replay needs, read straight off the events table (rowid order,
 * nothing done with the values); the CPU time of that read. */
static int
raw_read(struct store *s, const char *sql, int64_t *rows, int64_t *textbytes, int64_t *cpu,
         struct smile_err *err)
{
    struct store_stmt *st;
    int64_t a = cpu_ns(), n = 0;
    size_t bytes = 0;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        bytes += strlen(store_stmt_text(st, 0)) + store_stmt_bytes(st, 7);
        n++;
    }
    store_stmt_reset(st);
    *cpu = cpu_ns() - a;
    *rows = n;
    *textbytes = (int64_t)bytes;
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/*
 * Writes the events into a fresh database in dir, in time order as a live ledger holds them
 * (a subject's events are scattered over the table), with e-mail events' usual data (what
 * mail/ writes on email.received) and a customer on each received mail, then replays them
 * with kpi_whatif_run and prints the ceiling reads.
 */
static int
db_run(const char *dir, bool reuse, const struct engine_event *ev, const size_t *first, size_t nsub,
       int64_t from, int64_t to)
{
    static const char ins[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, actor, customer, channel,"
        " source, source_id, data) VALUES ($1, $2, $3, $4, $5, $6, 'email', 'bench', $7, $8)";
    static const char raw_table[] =
        "SELECT subject, id, type, occurred_at, actor, customer, channel, data FROM events";
    static const char raw_index[] =
        "SELECT subject, id, type, occurred_at, actor, customer, channel, NULL FROM events"
        " ORDER BY subject, occurred_at, id";
    static const char raw_subject[] =
        "SELECT subject, id, type, occurred_at, actor, customer, channel, data FROM events"
        " ORDER BY subject, occurred_at, id";
    struct store *s = NULL;
    struct store_stmt *st;
    struct smile_err err;
    char path[512], subj[32], sid[32], cust[16], data[512];
    json_t *draft, *out = NULL;
    int64_t pid = 0, a, b, ca, cb, rows, tb, cpu, nev = (int64_t)first[nsub];
    size_t *order = xmalloc((first[nsub] + 1) * sizeof(*order)),
           *subj_of = xmalloc((first[nsub] + 1) * sizeof(*subj_of));
    double load[3] = {0, 0, 0};
    int rc;

    snprintf(path, sizeof(path), "%s/bench_whatif.db", dir);
    if (reuse && access(path, F_OK) == 0) {
        /* --reuse: the database a previous run kept (BENCH_KEEP_DB) with these events */
        if (store_open(path, 0, &s, &err) != SMILE_OK || store_migrate(s, &err) != SMILE_OK ||
            store_query_int64(s, "SELECT id FROM processes WHERE name = 'Customer email'", &pid,
                              &err) != SMILE_OK)
            goto fail;
        printf("  database: reused %s\n", path);
        goto written;
    }
    remove(path);
    smile_err_clear(&err);
    log_set_level(LOG_ERROR);
    if (store_open(path, STORE_CREATE, &s, &err) != SMILE_OK ||
        store_migrate(s, &err) != SMILE_OK ||
        runtime_process_install(s, engine_default_email_json(), INT64_C(946684800000), &err) !=
            SMILE_OK ||
        store_query_int64(s, "SELECT id FROM processes WHERE name = 'Customer email'", &pid,
                          &err) != SMILE_OK)
        goto fail;
    for (size_t k = 0; k < nsub; k++)
        for (size_t i = first[k]; i < first[k + 1]; i++)
            subj_of[i] = k;
    for (size_t i = 0; i < first[nsub]; i++)
        order[i] = i;
    sort_base = ev;
    qsort(order, first[nsub], sizeof(*order), cmp_time);
    a = time_mono_ns();
    if (store_begin(s, &err) != SMILE_OK)
        goto fail;
    for (size_t j = 0; j < first[nsub]; j++) {
        size_t i = order[j], k = subj_of[i];
        bool in = strcmp(ev[i].type, "email.received") == 0;

        snprintf(subj, sizeof(subj), "email:%zu", k);
        snprintf(sid, sizeof(sid), "b%zu", i);
        snprintf(cust, sizeof(cust), "%zu", 1 + k % 50000);
        if (in)
            snprintf(data, sizeof(data),
                     "{\"message_id\":\"<m%zu.%zu@mail.example.com>\",\"from\":"
                     "\"owner%zu@example.com\",\"subject\":\"Water leaking in unit %zu-%zu\","
                     "\"mailbox_id\":1,\"case_id\":%zu,\"interaction_id\":%zu,\"thread\":"
                     "\"<m%zu.0@mail.example.com>\",\"team\":\"mail\"}",
                     k, i, k % 50000, k % 30, k % 400, k + 1, i + 1, k);
        else
            snprintf(data, sizeof(data), "{\"interaction_id\":%zu,\"case_id\":%zu}", i + 1, k + 1);
        if (store_prepare(s, ins, &st, &err) != SMILE_OK)
            goto fail;
        store_stmt_bind_text(st, 1, ev[i].type, -1);
        store_stmt_bind_int64(st, 2, ev[i].occurred_at);
        store_stmt_bind_int64(st, 3, ev[i].occurred_at);
        store_stmt_bind_text(st, 4, subj, -1);
        store_stmt_bind_text(st, 5, ev[i].actor, -1);
        store_stmt_bind_text(st, 6, in ? cust : NULL, -1);
        store_stmt_bind_text(st, 7, sid, -1);
        store_stmt_bind_text(st, 8, data, -1);
        rc = store_stmt_step(st, &err);
        store_stmt_reset(st);
        if (rc != STORE_DONE)
            goto fail;
    }
    if (store_commit(s, &err) != SMILE_OK)
        goto fail;
    b = time_mono_ns();
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("  database: %lld events written in time order in %.2f s (load average %.1f)\n",
           (long long)nev, (double)(b - a) / 1e9, load[0]);
written:
    /* the replay maps the file (kpi/whatif_run.c): the ceiling reads do too */
    if (store_exec(s, "PRAGMA mmap_size=2147418112", &err) != SMILE_OK)
        goto fail;
    if (raw_read(s, raw_table, &rows, &tb, &cpu, &err) != SMILE_OK)
        goto fail;
    printf("  ceiling: raw read of the events table (8 columns, rowid order): cpu %.3f s = %.2f M "
           "rows/s\n",
           (double)cpu / 1e9, (double)rows / ((double)cpu / 1e3));
    if (raw_read(s, raw_subject, &rows, &tb, &cpu, &err) != SMILE_OK)
        goto fail;
    printf("  raw read in subject order (events_subject index, same columns, with data): cpu %.3f "
           "s = %.2f M "
           "rows/s\n",
           (double)cpu / 1e9, (double)rows / ((double)cpu / 1e3));
    if (raw_read(s, raw_index, &rows, &tb, &cpu, &err) != SMILE_OK)
        goto fail;
    printf("  ceiling of the replay's read: the same order off the index alone (no data): cpu "
           "%.3f s = %.2f M rows/s\n",
           (double)cpu / 1e9, (double)rows / ((double)cpu / 1e3));
    draft = json_loads(engine_default_email_json(), 0, NULL);
    json_object_set_new(
        json_object_get(json_array_get(json_object_get(draft, "steps"), 0), "standard"), "within",
        json_string("12h"));
    a = time_mono_ns();
    ca = cpu_ns();
    rc = kpi_whatif_run(s, pid, draft, from, to, 0.9, NULL, to, &out, &err);
    b = time_mono_ns();
    cb = cpu_ns();
    json_decref(draft);
    if (rc != SMILE_OK)
        goto fail;
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("  end to end from SQLite (kpi_whatif_run): %lld events, wall %.3f s = %.2f M "
           "events/s; cpu %.3f s = %.2f M events/s (load average %.1f)\n",
           (long long)json_integer_value(json_object_get(out, "events")), (double)(b - a) / 1e9,
           (double)json_integer_value(json_object_get(out, "events")) / ((double)(b - a) / 1e3),
           (double)(cb - ca) / 1e9,
           (double)json_integer_value(json_object_get(out, "events")) / ((double)(cb - ca) / 1e3),
           load[0]);
    json_decref(out);
    store_close(s);
    if (getenv("BENCH_KEEP_DB") == NULL)
        remove(path);
    free(order);
    free(subj_of);
    return 0;
fail:
    fprintf(stderr, "bench_whatif --db: %s\n", err.msg);
    store_close(s);
    free(order);
    free(subj_of);
    return 1;
}

int
main(int argc, char **argv)
{
    size_t want = argc > 1 && argv[1][0] != '-' ? strtoull(argv[1], NULL, 10) : 5000000;
    const char *dbdir = NULL;
    bool reuse = false;
    static char agents[NAGENTS][16];
    struct engine_event *ev = xmalloc((want + 16) * sizeof(*ev));
    size_t *first = xmalloc((want + 2) * sizeof(*first)), nev = 0, nsub = 0;
    struct engine_process *live = compile("24h", true), *draft = compile("12h", false);
    int64_t ring = 5000, t0 = INT64_C(1793577600000), to = t0 + 31 * 24 * H;
    struct engine_calendar cal = engine_calendar_wall(&ring);
    struct engine_result res;
    struct kpi_whatif *w;
    int64_t a, b, c, ca, cb, cc, events, subjects;
    json_t *r;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[i + 1];
        reuse = reuse || strcmp(argv[i], "--reuse") == 0;
    }
    for (int i = 0; i < NAGENTS; i++)
        snprintf(agents[i], sizeof(agents[i]), "agent%03d", i);
    /* Threads: 1–4 customer e-mails, each answered 0–40 h later (5% never answered). */
    while (nev < want) {
        int64_t t = t0 + (int64_t)(next() % (uint64_t)(30 * 24 * H));
        int mails = 1 + (int)(next() % 4);
        const char *agent = agents[next() % NAGENTS];

        first[nsub++] = nev;
        for (int m = 0; m < mails && nev + 2 <= want; m++) {
            /* 90% answered within 0–20 h, the rest within 20–60 h */
            int64_t delay = next() % 10 ? (int64_t)(next() % (uint64_t)(20 * H))
                                        : 20 * H + (int64_t)(next() % (uint64_t)(40 * H));

            ev[nev] = (struct engine_event){
                (int64_t)nev + 1, "email.received", t, "thread", NULL, NULL, "email", NULL};
            nev++;
            if (next() % 20 != 0) {
                ev[nev] = (struct engine_event){(int64_t)nev + 1, "email.sent", t + delay,
                                                "thread",         agent,        NULL,
                                                "email",          NULL};
                nev++;
            }
            t += delay + H;
        }
        if (nev + 2 > want)
            break;
    }
    first[nsub] = nev;
    /* Each subject's events must be sorted by (occurred_at, id): sort per subject. */
    for (size_t s = 0; s < nsub; s++)
        engine_events_sort(ev + first[s], first[s + 1] - first[s]);

    /* Ceiling: one bare fold per subject through the live version. */
    engine_result_init(&res);
    a = time_mono_ns();
    ca = cpu_ns();
    for (size_t s = 0; s < nsub; s++)
        engine_fold(live, &cal, ev + first[s], first[s + 1] - first[s], to, &res);
    b = time_mono_ns();
    cb = cpu_ns();
    engine_result_free(&res);

    w = kpi_whatif_new(&live, 1, &cal, draft, &cal, t0, to);
    for (size_t s = 0; s < nsub; s++)
        kpi_whatif_subject(w, ev + first[s], first[s + 1] - first[s], to);
    r = kpi_whatif_report(w, 0.9);
    c = time_mono_ns();
    cc = cpu_ns();
    kpi_whatif_counts(w, &events, &subjects);

    printf("bench_whatif: %zu events in %zu subjects (e-mail threads, %d agents)\n", nev, nsub,
           NAGENTS);
    printf("  what-if (live 24 h + draft 12 h, counted, report): wall %.3f s = %.2f M events/s;"
           " cpu %.3f s = %.2f M events/s\n",
           (double)(c - b) / 1e9, (double)events / ((double)(c - b) / 1e3), (double)(cc - cb) / 1e9,
           (double)events / ((double)(cc - cb) / 1e3));
    printf("  ceiling (one bare fold, nothing counted):          wall %.3f s = %.2f M events/s;"
           " cpu %.3f s = %.2f M events/s\n",
           (double)(b - a) / 1e9, (double)nev / ((double)(b - a) / 1e3), (double)(cb - ca) / 1e9,
           (double)nev / ((double)(cb - ca) / 1e3));
    printf("  ratio what-if / ceiling (cpu): %.1f%%   goal >= 1.00 M events/s (cpu): %s\n",
           100.0 * (double)(cb - ca) / (double)(cc - cb),
           (double)events / ((double)(cc - cb) / 1e3) >= 1.0 ? "yes" : "no");
    printf("  live compliance %.4f, draft %.4f; staff below 90%%: live %lld, draft %lld of %d\n",
           json_real_value(json_object_get(json_object_get(json_object_get(r, "totals"), "live"),
                                           "compliance")),
           json_real_value(json_object_get(json_object_get(json_object_get(r, "totals"), "draft"),
                                           "compliance")),
           (long long)json_integer_value(
               json_object_get(json_object_get(json_object_get(r, "target"), "live"), "below")),
           (long long)json_integer_value(
               json_object_get(json_object_get(json_object_get(r, "target"), "draft"), "below")),
           NAGENTS);
    json_decref(r);
    if (dbdir && db_run(dbdir, reuse, ev, first, nsub, t0, to) != 0)
        return 1;
    kpi_whatif_free(w);
    engine_process_unref(live);
    engine_process_unref(draft);
    free(ev);
    free(first);
    return 0;
}
