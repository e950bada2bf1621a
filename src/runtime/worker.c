/*
 * worker.c — the live path of the runtime. The ledger's post-commit hook (called on the
 * committer thread, or on a CRM request thread after ledger_notify) only records each
 * committed event's subject in a coalescing queue and signals; a worker thread with its own
 * database connection takes the whole queue, re-folds every subject in one transaction
 * (runtime_fold_subject), advances runtime_cursor and tells the scheduler about the earliest
 * deadline it wrote. Ingest therefore never waits for the engine. On start, subjects with
 * events after runtime_cursor (committed while no runtime ran, or lost in a crash before
 * their fold committed) are queued first. Events committed by another process — `smile
 * import queue-log`, a second server on the same database — reach no hook here, so when
 * idle the worker looks once a second for event ids beyond the newest it has heard of.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

#define BATCH_MAX 256 /* subjects per transaction */
/*
 * A batch's transaction holds the group commit's writer (store_sqlite.c) while it folds, so
 * every other writer of the process — requests, the ledger, the scheduler — waits for it.
 * The batch size therefore adapts to keep a transaction near BATCH_NS: halved after a
 * batch that took more than twice that, doubled after one that took less than half. When
 * the ledger waits with an import's batch (store_bulk_waiting), the fold commits after the
 * subject in hand and queues the rest again at the head: an import is acknowledged at the
 * ledger's pace, and its subjects are folded between its batches (batches of 1,000 from 4
 * connections: +10–25% acknowledged, the same rate folded end to end; BENCHMARKS.md).
 */
#define BATCH_MIN 8
#define BATCH_NS (20LL * 1000000)
/*
 * Under a stream of small commits (single events from many clients) each wake-up found a
 * few subjects, and each fold was a transaction, a group-commit wait and two context
 * switches of its own. The worker waits up to GATHER_NS for the queue to fill a batch, so
 * a measurement appears at most that much later and the stream folds in fewer transactions.
 * 20 ms rather than 5: every fold transaction rewrites the last pages of a dozen b-trees
 * into the WAL, so four times fewer commits write far fewer pages (single events from 64
 * clients: 111–118 → 94–109 µs of server CPU per event at load 5–6). Deadlines are not
 * delayed by it — the scheduler fires them at their due time — only the first appearance
 * of a measurement, by at most 20 ms.
 */
#define GATHER_NS (20LL * 1000000)
/* On close, fold what is queued for at most this long; the rest is found again from
 * runtime_cursor by the next start's catch-up (a re-fold is idempotent). */
#define CLOSE_FOLD_NS (1000LL * 1000000)

struct runtime {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop, started;
    int64_t stop_by_ns; /* with stop: break off the queue after this (time_mono_ns) */
    atomic_bool halt;   /* stop_by_ns has passed: break off inside a batch too */
    size_t batch_cap;   /* subjects per transaction now, BATCH_MIN … BATCH_MAX */
    /* The queue: an open-addressing set of subjects plus their FIFO order, a ring of
     * fifo_cap (a power of two) slots from fifo_head. */
    char **set;
    size_t set_cap, set_n;
    char **fifo;
    size_t fifo_head, fifo_n, fifo_cap;
    size_t busy; /* subjects taken by the worker and not yet committed */
    int64_t seen, folded;
    uint64_t folds, errors;
    struct store *db;
    struct runtime_defs *defs;
    int64_t seq;
    runtime_due_fn *due_fn;
    void *due_ud;
    runtime_folded_fn *folded_fn; /* notify's task events (runtime_on_folded) */
    void *folded_ud;
};

static uint64_t
hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
fifo_grow(struct runtime *rt)
{
    size_t cap = rt->fifo_cap ? rt->fifo_cap * 2 : 1024;
    char **f = xcalloc(cap, sizeof(*f));

    for (size_t i = 0; i < rt->fifo_n; i++)
        f[i] = rt->fifo[(rt->fifo_head + i) & (rt->fifo_cap - 1)];
    free(rt->fifo);
    rt->fifo = f;
    rt->fifo_cap = cap;
    rt->fifo_head = 0;
}

static char *
fifo_pop(struct runtime *rt)
{
    char *p = rt->fifo[rt->fifo_head];

    rt->fifo_head = (rt->fifo_head + 1) & (rt->fifo_cap - 1);
    rt->fifo_n--;
    return p;
}

/* Inserts into the set and returns its copy, or NULL if present, with room in the FIFO
 * for it. Caller holds mu. */
static char *
set_insert(struct runtime *rt, const char *subject)
{
    size_t i;

    if ((rt->set_n + 1) * 2 > rt->set_cap) {
        size_t cap = rt->set_cap ? rt->set_cap * 2 : 1024;
        char **old = rt->set;
        size_t oldcap = rt->set_cap;
        rt->set = xcalloc(cap, sizeof(*rt->set));
        rt->set_cap = cap;
        for (size_t k = 0; k < oldcap; k++) {
            if (old[k] == NULL)
                continue;
            i = hash(old[k]) & (cap - 1);
            while (rt->set[i])
                i = (i + 1) & (cap - 1);
            rt->set[i] = old[k];
        }
        free(old);
    }
    i = hash(subject) & (rt->set_cap - 1);
    while (rt->set[i]) {
        if (strcmp(rt->set[i], subject) == 0)
            return NULL;
        i = (i + 1) & (rt->set_cap - 1);
    }
    rt->set[i] = xstrdup(subject);
    rt->set_n++;
    if (rt->fifo_n == rt->fifo_cap)
        fifo_grow(rt);
    return rt->set[i];
}

/* Queues a subject at the tail unless it is queued; false if it was. Caller holds mu. */
static bool
set_add(struct runtime *rt, const char *subject)
{
    char *p = set_insert(rt, subject);

    if (p == NULL)
        return false;
    rt->fifo[(rt->fifo_head + rt->fifo_n++) & (rt->fifo_cap - 1)] = p;
    return true;
}

/* Puts subjects taken for a batch but not folded back at the head of the queue, in their
 * order; one queued again meanwhile (a new event) stays where it is. Frees the strings (the
 * set keeps its own copies). Caller holds mu. */
static void
requeue_front(struct runtime *rt, char **subjects, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        char *p = set_insert(rt, subjects[i]);
        if (p) {
            rt->fifo_head = (rt->fifo_head - 1) & (rt->fifo_cap - 1);
            rt->fifo[rt->fifo_head] = p;
            rt->fifo_n++;
        }
        free(subjects[i]);
    }
}

void
runtime_mark(struct runtime *rt, const char *subject)
{
    pthread_mutex_lock(&rt->mu);
    if (set_add(rt, subject))
        pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

static void
on_commit(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct runtime *rt = ud;
    bool added = false;

    pthread_mutex_lock(&rt->mu);
    for (size_t i = 0; i < n; i++) {
        added |= set_add(rt, evs[i].ev->subject);
        if (evs[i].id > rt->seen)
            rt->seen = evs[i].id;
    }
    if (added)
        pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

static int
fold_batch(struct runtime *rt, char **subjects, size_t n, int64_t upto, int64_t *next_due,
           size_t *done, struct smile_err *err)
{
    static const char sql_cursor[] = "INSERT INTO runtime_cursor (id, last_event_id) VALUES (1, $1)"
                                     " ON CONFLICT (id) DO UPDATE SET last_event_id = CASE"
                                     " WHEN excluded.last_event_id > runtime_cursor.last_event_id"
                                     " THEN excluded.last_event_id"
                                     " ELSE runtime_cursor.last_event_id END";
    struct store_stmt *st;
    int rc = store_begin(rt->db, err);

    *next_due = INT64_MAX;
    *done = 0;
    if (rc != SMILE_OK)
        return rc;
    rc = runtime_defs_refresh(rt->defs, rt->db, err);
    runtime_defs_batch_begin(rt->defs);
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        int64_t due;
        /* Closing with a backlog: commit what is folded and leave the cursor where it is,
         * so that the next start's catch-up finds the subjects not folded here. */
        if (atomic_load(&rt->halt) && time_mono_ns() > rt->stop_by_ns) {
            upto = 0;
            break;
        }
        rc = runtime_fold_subject(rt->defs, rt->db, subjects[i], ++rt->seq, &due, err);
        if (due < *next_due)
            *next_due = due;
        *done = i + 1;
        /* The ledger waits with an import's batch: commit what is folded and let it in,
         * leaving the cursor (the rest are queued again). */
        if (i + 1 < n && store_bulk_waiting(rt->db)) {
            upto = 0;
            break;
        }
    }
    if (rc == SMILE_OK)
        rc = runtime_defs_batch_end(rt->defs, rt->db, true, err);
    else
        runtime_defs_batch_end(rt->defs, rt->db, false, NULL);
    if (rc == SMILE_OK && upto > 0 &&
        (rc = store_prepare(rt->db, sql_cursor, &st, err)) == SMILE_OK) {
        int r2;
        store_stmt_bind_int64(st, 1, upto);
        r2 = store_stmt_step(st, err);
        store_stmt_reset(st);
        rc = r2 == STORE_DONE ? SMILE_OK : r2;
    }
    if (rc == SMILE_OK)
        rc = store_commit(rt->db, err);
    else
        store_rollback(rt->db);
    return rc;
}

/* Queues the subjects of events committed by other processes (ids beyond rt->seen). Called
 * by the worker with rt->mu held; the lock is released while the database is read. */
static void
poll_foreign(struct runtime *rt)
{
    static const char sql_max[] = "SELECT coalesce(max(id), 0) FROM events";
    static const char sql_subj[] = "SELECT DISTINCT subject FROM events WHERE id > $1 AND id <= $2";
    struct smile_err err;
    struct store_stmt *st;
    int64_t seen = rt->seen, max = 0;
    char **subjects = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_unlock(&rt->mu);
    smile_err_clear(&err);
    if (store_query_int64(rt->db, sql_max, &max, &err) == SMILE_OK && max > seen &&
        store_prepare(rt->db, sql_subj, &st, &err) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, seen);
        store_stmt_bind_int64(st, 2, max);
        while (store_stmt_step(st, &err) == STORE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                subjects = xrealloc(subjects, cap * sizeof(*subjects));
            }
            subjects[n++] = xstrdup(store_stmt_text(st, 0));
        }
        store_stmt_reset(st);
    }
    pthread_mutex_lock(&rt->mu);
    for (size_t i = 0; i < n; i++) {
        set_add(rt, subjects[i]);
        free(subjects[i]);
    }
    free(subjects);
    if (n > 0) {
        log_info("msg=\"runtime found events of other processes\" subjects=%zu upto=%lld", n,
                 (long long)max);
        if (max > rt->seen)
            rt->seen = max;
    }
}

static void *
worker(void *arg)
{
    struct runtime *rt = arg;

    pthread_mutex_lock(&rt->mu);
    for (;;) {
        char *batch[BATCH_MAX];
        size_t n;
        int64_t upto, due = INT64_MAX, t0;
        size_t done = 0;
        struct smile_err err;
        uint64_t nerr = 0;
        int rc;

        while (rt->fifo_n == 0 && !rt->stop) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&rt->cv, &rt->mu, &ts) != 0 && rt->fifo_n == 0 && !rt->stop)
                poll_foreign(rt);
        }
        if (rt->stop && (rt->fifo_n == 0 || time_mono_ns() > rt->stop_by_ns))
            break;
        if (!rt->stop && rt->fifo_n < rt->batch_cap) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += GATHER_NS;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            while (!rt->stop && rt->fifo_n < rt->batch_cap)
                if (pthread_cond_timedwait(&rt->cv, &rt->mu, &ts) == ETIMEDOUT)
                    break;
        }
        /* Take up to batch_cap subjects; remove them from the set so that an event arriving
         * during the fold queues its subject again. */
        if (rt->batch_cap < BATCH_MIN)
            rt->batch_cap = BATCH_MIN;
        n = rt->fifo_n < rt->batch_cap ? rt->fifo_n : rt->batch_cap;
        for (size_t i = 0; i < n; i++) {
            char *s = fifo_pop(rt);
            size_t k = hash(s) & (rt->set_cap - 1);
            while (rt->set[k] != s)
                k = (k + 1) & (rt->set_cap - 1);
            /* Backward-shift deletion keeps the probe chains intact. */
            rt->set[k] = NULL;
            for (size_t j = (k + 1) & (rt->set_cap - 1); rt->set[j];
                 j = (j + 1) & (rt->set_cap - 1)) {
                char *moved = rt->set[j];
                rt->set[j] = NULL;
                size_t h = hash(moved) & (rt->set_cap - 1);
                while (rt->set[h])
                    h = (h + 1) & (rt->set_cap - 1);
                rt->set[h] = moved;
            }
            rt->set_n--;
            batch[i] = s;
        }
        rt->busy = n;
        upto = rt->fifo_n == 0 ? rt->seen : rt->folded;
        pthread_mutex_unlock(&rt->mu);

        smile_err_clear(&err);
        t0 = time_mono_ns();
        rc = fold_batch(rt, batch, n, upto, &due, &done, &err);
        t0 = time_mono_ns() - t0;
        if (t0 > 2 * BATCH_NS && rt->batch_cap > BATCH_MIN)
            rt->batch_cap /= 2; /* only this thread reads or writes batch_cap */
        else if (done == n && t0 < BATCH_NS / 2 && n == rt->batch_cap && rt->batch_cap < BATCH_MAX)
            rt->batch_cap *= 2;
        if (rc == SMILE_OK && done < n) {
            /* Made way for the ledger: the rest go back to the head of the queue. */
            pthread_mutex_lock(&rt->mu);
            requeue_front(rt, batch + done, n - done);
            rt->busy = done;
            pthread_mutex_unlock(&rt->mu);
            n = done;
            upto = 0;
        }
        if (rc != SMILE_OK) {
            /* One bad subject must not block the others: retry one by one. */
            log_error("msg=\"runtime batch failed\" subjects=%zu err=\"%s\"", n, err.msg);
            for (size_t i = 0; i < n; i++) {
                int64_t d1 = INT64_MAX;
                int r1 = SMILE_EDB;
                /* A busy database passes: three tries, 100 ms apart. */
                for (int attempt = 0; attempt < 3 && r1 != SMILE_OK; attempt++) {
                    if (attempt > 0)
                        usleep(100000);
                    smile_err_clear(&err);
                    size_t d;
                    r1 = fold_batch(rt, &batch[i], 1, 0, &d1, &d, &err);
                }
                if (r1 != SMILE_OK) {
                    log_error("msg=\"runtime fold failed\" subject=\"%s\" err=\"%s\"", batch[i],
                              err.msg);
                    nerr++;
                }
                if (d1 < due)
                    due = d1;
            }
        }
        pthread_mutex_lock(&rt->mu);
        /* Under the lock, so that runtime_on_due(NULL) returns only when no call is in
         * flight (the scheduler may be closed right after). */
        if (due != INT64_MAX && rt->due_fn)
            rt->due_fn(due, rt->due_ud);
        if (rt->folded_fn)
            rt->folded_fn((const char *const *)batch, n, rt->folded_ud);
        for (size_t i = 0; i < n; i++)
            free(batch[i]);
        rt->folds += n;
        rt->errors += nerr;
        rt->busy = 0;
        if (upto > rt->folded)
            rt->folded = upto;
        if (rt->fifo_n == 0 && rt->seen > rt->folded)
            rt->folded = rt->seen;
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* Queues the subjects with events after runtime_cursor. */
static int
catch_up(struct runtime *rt, struct smile_err *err)
{
    static const char sql_cur[] = "SELECT coalesce((SELECT last_event_id FROM runtime_cursor),"
                                  " 0), coalesce((SELECT max(id) FROM events), 0)";
    static const char sql_subj[] = "SELECT DISTINCT subject FROM events WHERE id > $1";
    struct store_stmt *st;
    int64_t cur = 0, max = 0;
    int rc = store_prepare(rt->db, sql_cur, &st, err);

    if (rc != SMILE_OK)
        return rc;
    if ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        cur = store_stmt_int64(st, 0);
        max = store_stmt_int64(st, 1);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW)
        return rc;
    rt->folded = cur;
    rt->seen = max;
    if (max <= cur)
        return SMILE_OK;
    if ((rc = store_prepare(rt->db, sql_subj, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, cur);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        set_add(rt, store_stmt_text(st, 0));
    store_stmt_reset(st);
    log_info("msg=\"runtime catching up\" subjects=%zu after_event=%lld", rt->fifo_n,
             (long long)cur);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

int
runtime_open(const char *db_path, struct store_pool *pool, struct ledger *l, struct runtime **out,
             struct smile_err *err)
{
    struct runtime *rt = xcalloc(1, sizeof(*rt));
    int rc;

    *out = NULL;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    rt->seq = time_now_ms() * 1000;
    rt->defs = runtime_defs_new();
    rc = pool ? store_pool_open_member(pool, &rt->db, err) : store_open(db_path, 0, &rt->db, err);
    if (rc == SMILE_OK)
        store_set_long_writer(rt->db, true);
    if (rc != SMILE_OK || (rc = catch_up(rt, err)) != SMILE_OK) {
        runtime_close(rt);
        return rc;
    }
    if (pthread_create(&rt->thread, NULL, worker, rt) != 0) {
        runtime_close(rt);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the runtime worker");
    }
    rt->started = true;
    if (l)
        ledger_on_commit(l, on_commit, rt);
    *out = rt;
    return SMILE_OK;
}

void
runtime_on_due(struct runtime *rt, runtime_due_fn *fn, void *ud)
{
    pthread_mutex_lock(&rt->mu);
    rt->due_fn = fn;
    rt->due_ud = ud;
    pthread_mutex_unlock(&rt->mu);
}

void
runtime_on_folded(struct runtime *rt, runtime_folded_fn *fn, void *ud)
{
    pthread_mutex_lock(&rt->mu);
    rt->folded_fn = fn;
    rt->folded_ud = ud;
    pthread_mutex_unlock(&rt->mu);
}

void
runtime_close(struct runtime *rt)
{
    if (rt == NULL)
        return;
    if (rt->started) {
        pthread_mutex_lock(&rt->mu);
        rt->stop = true;
        rt->stop_by_ns = time_mono_ns() + CLOSE_FOLD_NS;
        atomic_store(&rt->halt, true);
        pthread_cond_signal(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->thread, NULL);
    }
    while (rt->fifo_n > 0)
        free(fifo_pop(rt));
    free(rt->fifo);
    free(rt->set);
    runtime_defs_free(rt->defs);
    store_close(rt->db);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

void
runtime_status(struct runtime *rt, struct runtime_status *out)
{
    pthread_mutex_lock(&rt->mu);
    out->pending = rt->fifo_n + rt->busy;
    out->last_event_id_seen = rt->seen;
    out->last_event_id_folded = rt->folded;
    out->folds = rt->folds;
    out->errors = rt->errors;
    pthread_mutex_unlock(&rt->mu);
}
