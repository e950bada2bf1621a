/*
 * scheduler.c — fires warnings and breaches when they fall due. One thread with its own
 * database connection: look up the next unfired deadline (partial index deadlines_due), wait
 * on a condition variable until then (at most SCHEDULER_MAX_SLEEP_MS, woken early by the
 * runtime when it writes an earlier deadline), then append the due deadlines' sla.* events
 * through the ledger and mark them fired. Sits after the runtime in the flow and feeds the
 * ledger again; see scheduler.h for the guarantees.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ledger/ledger.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

#define FIRE_BATCH 500

struct scheduler {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop, started, woken;
    int64_t sleeping_until; /* the wake-up time of the current wait */
    struct store *db;
    struct ledger *ledger;
    struct scheduler_stats stats;
};

int
scheduler_next_due(struct store *s, int64_t *out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT due_at FROM deadlines WHERE fired_at IS NULL ORDER BY due_at LIMIT 1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = INT64_MAX;
    if (rc != SMILE_OK)
        return rc;
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *out = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

struct due {
    int64_t mid, idx, due_at, pid, ver, occ;
    bool breach;
    char *source_id, *subject, *step, *customer, *data;
};

static int
fire(struct store *s, struct ledger *l, int64_t now, int max, int *out_fired, size_t *out_created,
     struct smile_err *err)
{
    static const char sql[] =
        "SELECT d.measurement_id, d.kind, d.idx, d.due_at, d.source_id, m.subject,"
        " m.process_id, m.version, m.step_key, m.occurrence, m.customer"
        " FROM deadlines d JOIN measurements m ON m.id = d.measurement_id"
        " WHERE d.fired_at IS NULL AND d.due_at <= $1 ORDER BY d.due_at LIMIT $2";
    static const char sql_mark[] = "UPDATE deadlines SET fired_at = $1 WHERE measurement_id = $2"
                                   " AND kind = $3 AND idx = $4 AND fired_at IS NULL";
    struct store_stmt *st;
    struct due *d = NULL;
    struct ledger_event *evs = NULL;
    struct ledger_result *res = NULL;
    size_t n = 0;
    int rc = store_prepare(s, sql, &st, err);

    *out_fired = 0;
    *out_created = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_int64(st, 2, max);
    d = xcalloc((size_t)max, sizeof(*d));
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct due *x = &d[n++];
        const char *cust = store_stmt_text(st, 10);
        char at[TIME_RFC3339_LEN + 1];
        json_t *data;

        x->mid = store_stmt_int64(st, 0);
        x->breach = strcmp(store_stmt_text(st, 1), "breach") == 0;
        x->idx = store_stmt_int64(st, 2);
        x->due_at = store_stmt_int64(st, 3);
        x->source_id = xstrdup(store_stmt_text(st, 4));
        x->subject = xstrdup(store_stmt_text(st, 5));
        x->pid = store_stmt_int64(st, 6);
        x->ver = store_stmt_int64(st, 7);
        x->step = xstrdup(store_stmt_text(st, 8));
        x->occ = store_stmt_int64(st, 9);
        x->customer = cust ? xstrdup(cust) : NULL;
        time_format_rfc3339(x->due_at, at);
        data = json_pack("{s:I, s:I, s:s, s:I, s:s, s:I, s:s}", "process_id", (json_int_t)x->pid,
                         "version", (json_int_t)x->ver, "step", x->step, "occurrence",
                         (json_int_t)x->occ, "kind", x->breach ? "breach" : "warning", "index",
                         (json_int_t)x->idx, "due_at", at);
        x->data = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(data);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    if (n == 0)
        goto out;
    evs = xcalloc(n, sizeof(*evs));
    res = xcalloc(n, sizeof(*res));
    for (size_t i = 0; i < n; i++) {
        evs[i].type = d[i].breach ? "sla.breached" : "sla.warning";
        /* One millisecond after the due instant: the first instant at which the clock has
         * passed the point (done exactly at the deadline is met), so the re-fold, whose as_of
         * this event advances, logs the warning or breach. */
        evs[i].occurred_at = d[i].due_at + 1;
        evs[i].subject = d[i].subject;
        evs[i].customer = d[i].customer;
        evs[i].source = "smile";
        evs[i].source_id = d[i].source_id;
        evs[i].data = d[i].data;
    }
    if ((rc = ledger_append(l, evs, n, res, err)) != SMILE_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        *out_created += res[i].status == LEDGER_CREATED;
    /* All marks in one transaction: one sync, not one per deadline. */
    if ((rc = store_begin(s, err)) != SMILE_OK)
        goto out;
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        if ((rc = store_prepare(s, sql_mark, &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, time_now_ms());
        store_stmt_bind_int64(st, 2, d[i].mid);
        store_stmt_bind_text(st, 3, d[i].breach ? "breach" : "warning", -1);
        store_stmt_bind_int64(st, 4, d[i].idx);
        rc = store_stmt_step(st, err);
        store_stmt_reset(st);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
    }
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    *out_fired = (int)n;
out:
    for (size_t i = 0; i < n; i++) {
        free(d[i].source_id);
        free(d[i].subject);
        free(d[i].step);
        free(d[i].customer);
        free(d[i].data);
    }
    free(d);
    free(evs);
    free(res);
    return rc;
}

int
scheduler_fire_due(struct store *s, struct ledger *l, int64_t now, int max, int *out_fired,
                   struct smile_err *err)
{
    size_t created;
    return fire(s, l, now, max, out_fired, &created, err);
}

/* True once scheduler_close asked the thread to end: a backlog of due deadlines is left
 * for the next start (they stay unfired in the table) rather than holding up shutdown. */
static bool
stopping(struct scheduler *sc)
{
    bool stop;

    pthread_mutex_lock(&sc->mu);
    stop = sc->stop;
    pthread_mutex_unlock(&sc->mu);
    return stop;
}

static void *
loop(void *arg)
{
    struct scheduler *sc = arg;

    pthread_mutex_lock(&sc->mu);
    while (!sc->stop) {
        struct smile_err err;
        int64_t now, next = INT64_MAX, until;
        int fired = 0;
        size_t created = 0;
        struct timespec ts;

        sc->woken = false;
        sc->sleeping_until = INT64_MAX; /* awake: any wake-up means look again */
        pthread_mutex_unlock(&sc->mu);
        smile_err_clear(&err);
        now = time_now_ms();
        do {
            if (fire(sc->db, sc->ledger, now, FIRE_BATCH, &fired, &created, &err) != SMILE_OK) {
                log_error("msg=\"scheduler fire failed\" err=\"%s\"", err.msg);
                fired = 0;
            }
            if (fired > 0) {
                int64_t late = time_now_ms() - now;
                pthread_mutex_lock(&sc->mu);
                sc->stats.fired += (uint64_t)fired;
                sc->stats.created += created;
                if (late > sc->stats.max_late_ms)
                    sc->stats.max_late_ms = late;
                pthread_mutex_unlock(&sc->mu);
                log_info("msg=\"deadlines fired\" count=%d created=%zu", fired, created);
            }
        } while (fired == FIRE_BATCH && !stopping(sc));
        if (scheduler_next_due(sc->db, &next, &err) != SMILE_OK)
            log_error("msg=\"scheduler next due failed\" err=\"%s\"", err.msg);
        now = time_now_ms();
        until = now + SCHEDULER_MAX_SLEEP_MS;
        /* A deadline fired but not yet re-folded stays unfired in the table for a moment:
         * look again in 1 s rather than spin on it (the ledger dedups a second fire). */
        if (next > now && next < until)
            until = next;
        ts.tv_sec = until / 1000;
        ts.tv_nsec = (long)(until % 1000) * 1000000L;
        pthread_mutex_lock(&sc->mu);
        sc->sleeping_until = sc->woken ? 0 : until;
        while (!sc->stop && !sc->woken) {
            if (pthread_cond_timedwait(&sc->cv, &sc->mu, &ts) == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

void
scheduler_wake(int64_t due_at, void *ud)
{
    struct scheduler *sc = ud;

    pthread_mutex_lock(&sc->mu);
    if (due_at < sc->sleeping_until) {
        sc->woken = true;
        pthread_cond_signal(&sc->cv);
    }
    pthread_mutex_unlock(&sc->mu);
}

int
scheduler_open(const char *db_path, struct store_pool *pool, struct ledger *l,
               struct scheduler **out, struct smile_err *err)
{
    struct scheduler *sc = xcalloc(1, sizeof(*sc));
    int rc;

    *out = NULL;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    sc->ledger = l;
    rc = pool ? store_pool_open_member(pool, &sc->db, err) : store_open(db_path, 0, &sc->db, err);
    if (rc != SMILE_OK) {
        scheduler_close(sc);
        return rc;
    }
    if (pthread_create(&sc->thread, NULL, loop, sc) != 0) {
        scheduler_close(sc);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the scheduler");
    }
    sc->started = true;
    *out = sc;
    return SMILE_OK;
}

void
scheduler_close(struct scheduler *sc)
{
    if (sc == NULL)
        return;
    if (sc->started) {
        pthread_mutex_lock(&sc->mu);
        sc->stop = true;
        pthread_cond_signal(&sc->cv);
        pthread_mutex_unlock(&sc->mu);
        pthread_join(sc->thread, NULL);
    }
    store_close(sc->db);
    pthread_cond_destroy(&sc->cv);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}

void
scheduler_stats(struct scheduler *sc, struct scheduler_stats *out)
{
    pthread_mutex_lock(&sc->mu);
    *out = sc->stats;
    pthread_mutex_unlock(&sc->mu);
}
