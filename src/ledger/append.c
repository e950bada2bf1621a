/*
 * append.c — the durable write path of the ledger: group commit. HTTP worker threads
 * call ledger_append() with validated events; each call becomes a pending request in a
 * bounded queue and its thread sleeps on its own condition variable. One committer
 * thread owns the ledger's writer connection: it takes every request queued so far (up to
 * group_max events), writes them all in one transaction (INSERT … ON CONFLICT DO NOTHING,
 * so a duplicate costs a look-up, not an error) and commits it without waiting for the
 * disk (store_commit_start); a second thread, the completer, waits until the commit is
 * synced (store_wait_durable: one fdatasync of the WAL covers every group committed before
 * it began), then calls the post-commit hooks and wakes the requests, in commit order. So
 * the next group is written while the previous one is being synced. The committer keeps at
 * most one written group waiting for the completer: requests that arrive meanwhile form
 * the next group, so a crowd shares one transaction and one fsync. Left at that, N steady clients
 * split into two halves that alternate (one half commits while the other queues), so the committer
 * also estimates the concurrency — the previous group's requesters plus those already queued — and
 * waits up to a short window (at most the previous commit's duration, window_us) for that many
 * requests before writing. A lone client has an estimate of one and never waits. If a group's
 * transaction fails, each of its requests is retried alone so one bad request cannot fail another.
 *
 * Request states (struct pending):
 *
 *   state     where                     who moves it on
 *   queued    l->head … l->tail         committer takes it (under l->mu)
 *   writing   committer's local group   committer sets out[] (and rc if its write failed)
 *   syncing   l->cq_head … (a written)  completer takes the list, waits for the sync,
 *             group)                    sets rc, calls the hooks, then done
 *   done      caller's stack            caller wakes, returns rc
 *             (async: heap)             completer calls done_fn outside l->mu, frees it
 */
#include "ledger/ledger.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/store.h"

#define LEDGER_MAX_HOOKS 8
#define QUEUE_MAX_DEFAULT 50000
#define GROUP_MAX_DEFAULT 20000
#define WINDOW_US_DEFAULT 2000
/* Events in a group that make it a bulk write (store_begin_bulk): single events from 64
 * clients group ~22 a commit, a batch request brings hundreds or thousands. */
#define BULK_EVENTS 256

struct pending {
    const struct ledger_event *evs;
    size_t n;
    struct ledger_result *out;
    int64_t received_at;
    int rc;
    struct smile_err *err;
    bool done;
    pthread_cond_t cv;       /* ledger_append: the caller sleeps on it */
    ledger_done_fn *done_fn; /* ledger_append_async: called instead, then p is freed */
    void *done_ud;
    struct pending *next;
};

struct hook {
    ledger_commit_fn *fn;
    void *ud;
};

/* A group written by the committer, waiting for the completer. */
struct written {
    struct pending *group;
    uint64_t ticket; /* store_commit_start's; 0: already durable or failed (rc in each p) */
    size_t nreq;
    uint64_t retries;
    struct written *next;
};

struct ledger {
    struct store *w; /* the writer connection: the committer writes on it; the completer
                      * only waits on its group (store_wait_durable) */
    pthread_t thread;
    pthread_mutex_t mu; /* guards the queue, stopping and st */
    pthread_cond_t work;
    struct pending *head, *tail;
    size_t queued;    /* events in the queue */
    size_t syncing;   /* requests handed to the completer and not yet answered */
    size_t nqueued;   /* requests in the queue */
    size_t last_nreq; /* requests in the previous group */
    /* While the committer waits on `work`: an append signals it only once the queue holds
     * wake_nreq requests or wake_events events (SIZE_MAX: the committer is not waiting, or
     * waits for the completer). A signal per append was a futex call each (4% of a single
     * event's CPU) while the committer could not act on it. */
    size_t wake_nreq, wake_events;
    bool last_missed; /* the previous window closed before its target came */
    int64_t last_commit_ns;
    bool stopping;
    struct ledger_options opt;
    struct ledger_stats st;
    pthread_mutex_t hook_mu;
    struct hook hooks[LEDGER_MAX_HOOKS];
    int nhooks;
    struct ledger_committed *committed; /* completer's scratch for the hooks */
    size_t committed_cap;
    pthread_t completer_thread;
    pthread_cond_t cq_cv;              /* the completer waits on it for written groups */
    struct written *cq_head, *cq_tail; /* written groups the completer has not taken */
    bool committer_done;               /* the committer has exited (l->mu) */
};

/* Generated idempotency keys: a random per-process prefix and a counter. */
static pthread_once_t gen_once = PTHREAD_ONCE_INIT;
static char gen_prefix[17];
static atomic_uint_fast64_t gen_counter;

static void
gen_init(void)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[8];
    uint64_t t = (uint64_t)time_now_ms();

    /* The clock is a fallback only: getrandom does not fail for 8 bytes after boot. */
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        for (int i = 0; i < 8; i++)
            r[i] = (unsigned char)(t >> (8 * i));
    for (int i = 0; i < 8; i++) {
        gen_prefix[2 * i] = hex[r[i] >> 4];
        gen_prefix[2 * i + 1] = hex[r[i] & 0xf];
    }
    gen_prefix[16] = '\0';
}

/* "<16 hex digits of this process>-<16 hex digits of a counter>": fixed width, so the keys
 * one server generates sort in the order it makes them and each lands at the end of its
 * run in the (source, source_id) index — a batch dirties the last leaf or two instead of a
 * page per key all over the run ("p-10001" sorts before "p-1001" unpadded). */
static void
gen_source_id(char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = (uint64_t)atomic_fetch_add(&gen_counter, 1) + 1;

    pthread_once(&gen_once, gen_init);
    if (cap < 34) {
        out[0] = '\0';
        return;
    }
    memcpy(out, gen_prefix, 16);
    out[16] = '-';
    for (int i = 0; i < 16; i++)
        out[17 + i] = hex[(n >> (60 - 4 * i)) & 0xf];
    out[33] = '\0';
}

/*
 * Inserts one event on s inside an open transaction; *out_id and *out_created say what
 * happened. The statement text is shared by both write paths. ON CONFLICT DO NOTHING
 * makes a duplicate cost nothing but the unique-index probe; store_changes() tells a new
 * row from a duplicate; a new row's id is the connection's last rowid, and only a
 * duplicate's id takes one look-up by the key (that look-up for every row cost ~1 µs of
 * CPU per event). (RETURNING id
 * would answer in one statement, but SQLite 3.40 spends more CPU per row on it than on the
 * plain upsert plus the look-up: 9.6–13 µs against 7.7 µs of CPU, measured.)
 */
static int
insert_event(struct store *s, const struct ledger_event *ev, int64_t received_at, int64_t *out_id,
             bool *out_created, struct smile_err *err)
{
    static const char ins[] =
        "INSERT INTO events (type, occurred_at, received_at, subject, actor, customer, channel, "
        "source, source_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (source, source_id) DO NOTHING";
    static const char key[] = "SELECT id FROM events WHERE source = $1 AND source_id = $2";
    struct store_stmt *st;
    char gen[48];
    const char *source = ev->source, *source_id = ev->source_id;
    int rc;

    if (source_id == NULL) {
        source = LEDGER_SOURCE_AUTO;
        gen_source_id(gen, sizeof(gen));
        source_id = gen;
    } else if (source == NULL) {
        source = LEDGER_SOURCE_DEFAULT;
    }
    rc = store_prepare(s, ins, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, ev->type, -1);
    store_stmt_bind_int64(st, 2, ev->occurred_at);
    store_stmt_bind_int64(st, 3, received_at);
    store_stmt_bind_text(st, 4, ev->subject, -1);
    store_stmt_bind_text(st, 5, ev->actor, -1);
    store_stmt_bind_text(st, 6, ev->customer, -1);
    store_stmt_bind_text(st, 7, ev->channel ? ev->channel : ledger_channel_default(ev->type), -1);
    store_stmt_bind_text(st, 8, source, -1);
    store_stmt_bind_text(st, 9, source_id, -1);
    store_stmt_bind_text(st, 10, ev->data ? ev->data : "{}", -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc == STORE_ROW ? smile_err_set(err, SMILE_EINTERNAL, "INSERT returned a row") : rc;
    *out_created = store_changes(s) > 0;
    if (*out_created) {
        /* events.id is the rowid: a new row's id needs no look-up (the duplicate does). */
        *out_id = store_last_insert_id(s);
        return SMILE_OK;
    }
    rc = store_prepare(s, key, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, source, -1);
    store_stmt_bind_text(st, 2, source_id, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out_id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EINTERNAL, "event (%s, %s) was written but is not there",
                           source, source_id);
    }
    store_stmt_reset(st);
    return rc;
}

int
ledger_append_in_tx(struct store *s, const struct ledger_event *ev, int64_t *out_id,
                    struct smile_err *err)
{
    bool created;
    int rc = ledger_event_check(ev, err);

    if (rc != SMILE_OK)
        return rc;
    if (!store_in_tx(s))
        return smile_err_set(err, SMILE_EINTERNAL, "ledger_append_in_tx needs an open transaction");
    return insert_event(s, ev, time_now_ms(), out_id, &created, err);
}

void
ledger_on_commit(struct ledger *l, ledger_commit_fn *fn, void *ud)
{
    pthread_mutex_lock(&l->hook_mu);
    if (l->nhooks < LEDGER_MAX_HOOKS) {
        l->hooks[l->nhooks].fn = fn;
        l->hooks[l->nhooks].ud = ud;
        l->nhooks++;
    } else {
        log_error("msg=\"too many ledger hooks\" max=%d", LEDGER_MAX_HOOKS);
    }
    pthread_mutex_unlock(&l->hook_mu);
}

void
ledger_notify(struct ledger *l, const struct ledger_committed *evs, size_t n)
{
    struct hook hooks[LEDGER_MAX_HOOKS];
    int nhooks;

    if (l == NULL || n == 0)
        return;
    pthread_mutex_lock(&l->hook_mu);
    nhooks = l->nhooks;
    memcpy(hooks, l->hooks, sizeof(hooks));
    pthread_mutex_unlock(&l->hook_mu);
    for (int i = 0; i < nhooks; i++)
        hooks[i].fn(evs, n, hooks[i].ud);
}

/*
 * Writes the requests from first up to (not including) stop in one transaction and starts
 * its commit (*ticket for store_wait_durable); with durable set, waits for the disk too.
 */
static int
write_group(struct ledger *l, struct pending *first, struct pending *stop, struct pending **failed,
            bool durable, uint64_t *ticket, struct smile_err *err)
{
    size_t nev = 0;
    int rc;

    for (struct pending *p = first; p != stop; p = p->next)
        nev += p->n;
    /* A group of an import's size asks the runtime's fold to make way (store_begin_bulk). */
    rc = nev >= BULK_EVENTS ? store_begin_bulk(l->w, err) : store_begin(l->w, err);

    *failed = first;
    *ticket = 0;
    if (rc != SMILE_OK)
        return rc;
    for (struct pending *p = first; p != stop; p = p->next) {
        *failed = p;
        for (size_t i = 0; i < p->n; i++) {
            bool created;

            rc = insert_event(l->w, &p->evs[i], p->received_at, &p->out[i].id, &created, err);
            if (rc != SMILE_OK) {
                store_rollback(l->w);
                return rc;
            }
            p->out[i].status = created ? LEDGER_CREATED : LEDGER_DUPLICATE;
        }
    }
    *failed = NULL;
    if (durable)
        return store_commit(l->w, err);
    return store_commit_start(l->w, ticket, err);
}

/* After the sync: tells the hooks about the events the group's stored requests created
 * (those with rc SMILE_OK), and counts them. Completer only. */
static void
committed(struct ledger *l, struct pending *group, uint64_t *created, uint64_t *dups)
{
    size_t n = 0;
    bool hooks;

    pthread_mutex_lock(&l->hook_mu);
    hooks = l->nhooks > 0;
    pthread_mutex_unlock(&l->hook_mu);
    for (struct pending *p = group; p; p = p->next) {
        if (p->rc != SMILE_OK)
            continue;
        for (size_t i = 0; i < p->n; i++) {
            if (p->out[i].status == LEDGER_DUPLICATE) {
                (*dups)++;
                continue;
            }
            (*created)++;
            if (!hooks)
                continue;
            if (n == l->committed_cap) {
                l->committed_cap = l->committed_cap ? 2 * l->committed_cap : 256;
                l->committed = xrealloc(l->committed, l->committed_cap * sizeof(*l->committed));
            }
            l->committed[n].id = p->out[i].id;
            l->committed[n].ev = &p->evs[i];
            n++;
        }
    }
    ledger_notify(l, l->committed, n);
}

/*
 * Writes one group and starts its commit (w->ticket); on failure retries its requests one
 * by one, each committed and synced before the next (w->ticket 0, each p->rc set).
 */
static void
commit_group(struct ledger *l, struct written *w)
{
    struct pending *failed, *group = w->group;
    struct smile_err err;
    uint64_t ticket;
    int rc;

    smile_err_clear(&err);
    rc = write_group(l, group, NULL, &failed, false, &w->ticket, &err);
    if (rc == SMILE_OK) {
        for (struct pending *p = group; p; p = p->next)
            p->rc = SMILE_OK;
        return;
    }
    w->ticket = 0;
    if (group->next == NULL) {
        group->rc = rc;
        *group->err = err;
        log_warn("msg=\"ledger append failed\" events=%zu error=\"%s\"", group->n, err.msg);
        return;
    }
    w->retries++;
    log_warn("msg=\"ledger group failed; retrying its requests one by one\" error=\"%s\"", err.msg);
    for (struct pending *p = group; p; p = p->next) {
        struct pending *next = p->next;

        smile_err_clear(p->err);
        rc = write_group(l, p, next, &failed, true, &ticket, p->err);
        p->rc = rc;
        if (rc != SMILE_OK)
            log_warn("msg=\"ledger append failed\" events=%zu error=\"%s\"", p->n, p->err->msg);
    }
}

/*
 * Called with l->mu held, right after the previous group was woken: none of its requesters
 * can have queued again yet, so previous group + queued now estimates the concurrency.
 * Waits (releasing the lock) until that many requests are queued, the group is full, or
 * the window closes. After a window that closed short of its target the next group does
 * not wait: an estimate that was wrong costs at most every other window.
 */
static void
gather(struct ledger *l)
{
    size_t target = l->last_nreq + l->nqueued;
    int64_t window = (int64_t)l->opt.window_us * 1000;
    struct timespec ts;
    bool waited = false;
    int64_t t0;

    if (l->last_commit_ns < window)
        window = l->last_commit_ns;
    if (window <= 0 || target <= 1 || l->last_missed) {
        l->last_missed = false;
        return;
    }
    t0 = time_mono_ns();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += window;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    while (!l->stopping && (l->nqueued < target || l->head == NULL) &&
           l->queued < l->opt.group_max) {
        waited = true;
        l->wake_nreq = target;
        l->wake_events = l->opt.group_max;
        if (pthread_cond_timedwait(&l->work, &l->mu, &ts) != 0) {
            l->last_missed = l->nqueued < target;
            break;
        }
    }
    l->wake_nreq = l->wake_events = SIZE_MAX;
    if (waited) {
        l->st.waits++;
        l->st.wait_ns += (uint64_t)(time_mono_ns() - t0);
    }
}

static void *
committer(void *arg)
{
    struct ledger *l = arg;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        struct pending *group, *last;
        struct written *w;
        size_t events, nreq = 0;
        int64_t t0;

        gather(l);
        /* One written group may wait for the completer; while it does, requests gather. */
        while ((l->head == NULL || (l->cq_head && l->queued < l->opt.group_max)) && !l->stopping) {
            l->wake_nreq = l->head == NULL ? 1 : SIZE_MAX;
            l->wake_events = l->head == NULL ? 1 : l->opt.group_max;
            pthread_cond_wait(&l->work, &l->mu);
        }
        l->wake_nreq = l->wake_events = SIZE_MAX;
        if (l->head == NULL)
            break;
        /* Take requests in arrival order up to group_max events (at least one). */
        group = last = l->head;
        events = group->n;
        nreq = 1;
        while (last->next && events + last->next->n <= l->opt.group_max) {
            last = last->next;
            events += last->n;
            nreq++;
        }
        l->head = last->next;
        if (l->head == NULL)
            l->tail = NULL;
        last->next = NULL;
        l->queued -= events;
        l->nqueued -= nreq;
        pthread_mutex_unlock(&l->mu);

        w = xcalloc(1, sizeof(*w));
        w->group = group;
        w->nreq = nreq;
        t0 = time_mono_ns();
        commit_group(l, w);

        pthread_mutex_lock(&l->mu);
        l->last_commit_ns = time_mono_ns() - t0;
        l->st.commit_ns += (uint64_t)l->last_commit_ns;
        l->last_nreq = nreq;
        l->syncing += nreq;
        if (l->cq_tail)
            l->cq_tail->next = w;
        else
            l->cq_head = w;
        l->cq_tail = w;
        pthread_cond_signal(&l->cq_cv);
    }
    l->committer_done = true;
    pthread_cond_signal(&l->cq_cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Takes the written groups in commit order, waits until each is on disk, then tells the
 * hooks and the requesters. */
static void *
completer(void *arg)
{
    struct ledger *l = arg;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        struct written *list, *w;

        while (l->cq_head == NULL && !l->committer_done)
            pthread_cond_wait(&l->cq_cv, &l->mu);
        if (l->cq_head == NULL)
            break;
        list = l->cq_head;
        l->cq_head = l->cq_tail = NULL;
        pthread_cond_signal(&l->work); /* the committer may write the next group */
        pthread_mutex_unlock(&l->mu);

        while ((w = list) != NULL) {
            struct pending *p, *async = NULL;
            uint64_t created = 0, dups = 0;

            list = w->next;
            if (w->ticket) {
                struct smile_err err;

                smile_err_clear(&err);
                if (store_wait_durable(l->w, w->ticket, &err) != SMILE_OK) {
                    log_warn("msg=\"ledger append failed\" requests=%zu error=\"%s\"", w->nreq,
                             err.msg);
                    for (p = w->group; p; p = p->next) {
                        p->rc = err.code;
                        *p->err = err;
                    }
                }
            }
            committed(l, w->group, &created, &dups);

            pthread_mutex_lock(&l->mu);
            l->st.groups++;
            l->st.requests += w->nreq;
            l->st.created += created;
            l->st.duplicates += dups;
            l->st.retries += w->retries;
            l->syncing -= w->nreq;
            for (p = w->group; p;) {
                struct pending *next = p->next;

                if (p->done_fn) {
                    p->next = async;
                    async = p;
                } else {
                    /* After done is set the caller may return and its stack frame vanish. */
                    p->done = true;
                    pthread_cond_signal(&p->cv);
                }
                p = next;
            }
            pthread_mutex_unlock(&l->mu);
            /* Asynchronous callers are told outside the lock: they may take locks of their
             * own (resuming an HTTP connection) or append again. */
            while (async) {
                p = async;
                async = p->next;
                p->done_fn(p->rc, p->done_ud);
                free(p);
            }
            free(w);
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int
ledger_open(const char *db_path, const struct ledger_options *opt, struct ledger **out,
            struct smile_err *err)
{
    struct ledger *l = xcalloc(1, sizeof(*l));
    pthread_condattr_t ca;
    int rc = opt && opt->pool ? store_pool_open_member(opt->pool, &l->w, err)
                              : store_open(db_path, 0, &l->w, err);

    if (rc != SMILE_OK) {
        free(l);
        return rc;
    }
    store_set_commit_eager(l->w, true);
    l->opt.queue_max = opt && opt->queue_max ? opt->queue_max : QUEUE_MAX_DEFAULT;
    l->opt.group_max = opt && opt->group_max ? opt->group_max : GROUP_MAX_DEFAULT;
    l->opt.window_us = opt && opt->window_us ? opt->window_us : WINDOW_US_DEFAULT;
    l->wake_nreq = l->wake_events = SIZE_MAX;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->hook_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->cq_cv, NULL);
    if (pthread_create(&l->completer_thread, NULL, completer, l) != 0) {
        store_close(l->w);
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->hook_mu);
        pthread_cond_destroy(&l->work);
        pthread_cond_destroy(&l->cq_cv);
        free(l);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the ledger completer thread");
    }
    if (pthread_create(&l->thread, NULL, committer, l) != 0) {
        pthread_mutex_lock(&l->mu);
        l->committer_done = true;
        pthread_cond_signal(&l->cq_cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->completer_thread, NULL);
        store_close(l->w);
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->hook_mu);
        pthread_cond_destroy(&l->work);
        pthread_cond_destroy(&l->cq_cv);
        free(l);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the ledger committer thread");
    }
    *out = l;
    return SMILE_OK;
}

void
ledger_close(struct ledger *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_join(l->completer_thread, NULL);
    if (l->st.groups)
        log_info("msg=\"ledger closed\" groups=%llu requests=%llu created=%llu duplicates=%llu "
                 "busy=%llu retries=%llu avg_group_requests=%.1f avg_commit_ms=%.2f "
                 "window_waits=%llu avg_wait_ms=%.2f",
                 (unsigned long long)l->st.groups, (unsigned long long)l->st.requests,
                 (unsigned long long)l->st.created, (unsigned long long)l->st.duplicates,
                 (unsigned long long)l->st.busy, (unsigned long long)l->st.retries,
                 (double)l->st.requests / (double)l->st.groups,
                 (double)l->st.commit_ns / 1e6 / (double)l->st.groups,
                 (unsigned long long)l->st.waits,
                 l->st.waits ? (double)l->st.wait_ns / 1e6 / (double)l->st.waits : 0.0);
    store_close(l->w);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->hook_mu);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->cq_cv);
    free(l->committed);
    free(l);
}

/* Queues p (filled by the caller); SMILE_EBUSY/ETOOBIG if it cannot be. Takes l->mu. */
static int
enqueue(struct ledger *l, struct pending *p, struct smile_err *err)
{
    size_t queued;

    if (p->n > l->opt.queue_max)
        return smile_err_set(err, SMILE_ETOOBIG, "%zu events are more than the ledger queue (%zu)",
                             p->n, l->opt.queue_max);
    p->rc = SMILE_EINTERNAL;
    p->received_at = time_now_ms();
    pthread_mutex_lock(&l->mu);
    if (l->stopping || l->queued + p->n > l->opt.queue_max) {
        queued = l->queued;
        l->st.busy++;
        pthread_mutex_unlock(&l->mu);
        return smile_err_set(err, SMILE_EBUSY,
                             "the ledger is busy (%zu events queued); try again shortly", queued);
    }
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    l->queued += p->n;
    l->nqueued++;
    if (l->nqueued >= l->wake_nreq || l->queued >= l->wake_events)
        pthread_cond_signal(&l->work);
    return SMILE_OK; /* l->mu still held */
}

int
ledger_append(struct ledger *l, const struct ledger_event *evs, size_t n, struct ledger_result *out,
              struct smile_err *err)
{
    struct pending p;
    int rc;

    if (n == 0)
        return SMILE_OK;
    memset(&p, 0, sizeof(p));
    p.evs = evs;
    p.n = n;
    p.out = out;
    p.err = err;
    pthread_cond_init(&p.cv, NULL);
    rc = enqueue(l, &p, err);
    if (rc == SMILE_OK) {
        while (!p.done)
            pthread_cond_wait(&p.cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
        rc = p.rc;
    }
    pthread_cond_destroy(&p.cv);
    return rc;
}

int
ledger_append_async(struct ledger *l, const struct ledger_event *evs, size_t n,
                    struct ledger_result *out, struct smile_err *err, ledger_done_fn *done,
                    void *ud)
{
    struct pending *p;
    int rc;

    if (n == 0) {
        done(SMILE_OK, ud);
        return SMILE_OK;
    }
    p = xcalloc(1, sizeof(*p));
    p->evs = evs;
    p->n = n;
    p->out = out;
    p->err = err;
    p->done_fn = done;
    p->done_ud = ud;
    rc = enqueue(l, p, err);
    if (rc != SMILE_OK) {
        free(p);
        return rc;
    }
    pthread_mutex_unlock(&l->mu);
    return SMILE_OK;
}

void
ledger_stats(struct ledger *l, struct ledger_stats *out)
{
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    out->queued = l->queued;
    out->syncing = l->syncing;
    pthread_mutex_unlock(&l->mu);
}

void
ledger_metrics_render(struct ledger *l, struct buf *b)
{
    struct ledger_stats st;
    static const struct {
        const char *name, *type, *help;
        size_t off;
        double scale;
    } m[] = {
        {"smile_ledger_commits_total", "counter", "Group-commit transactions written.",
         offsetof(struct ledger_stats, groups), 1},
        {"smile_ledger_appends_total", "counter", "Append requests answered.",
         offsetof(struct ledger_stats, requests), 1},
        {"smile_ledger_events_created_total", "counter", "Events created.",
         offsetof(struct ledger_stats, created), 1},
        {"smile_ledger_events_duplicate_total", "counter",
         "Events answered as duplicates of stored ones.", offsetof(struct ledger_stats, duplicates),
         1},
        {"smile_ledger_busy_total", "counter", "Appends refused because the queue was full.",
         offsetof(struct ledger_stats, busy), 1},
        {"smile_ledger_retries_total", "counter",
         "Groups retried one request at a time after an error.",
         offsetof(struct ledger_stats, retries), 1},
        {"smile_ledger_commit_seconds_total", "counter", "Time spent writing and committing.",
         offsetof(struct ledger_stats, commit_ns), 1e-9},
        {"smile_ledger_window_seconds_total", "counter", "Time spent waiting in the gather window.",
         offsetof(struct ledger_stats, wait_ns), 1e-9},
    };

    ledger_stats(l, &st);
    for (size_t i = 0; i < ARRAY_LEN(m); i++) {
        uint64_t v;

        memcpy(&v, (const char *)&st + m[i].off, sizeof(v));
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name, m[i].type);
        if (m[i].scale == 1)
            buf_printf(b, "%s %llu\n", m[i].name, (unsigned long long)v);
        else
            buf_printf(b, "%s %.6f\n", m[i].name, (double)v * m[i].scale);
    }
    buf_printf(b,
               "# HELP smile_ledger_queued_events Events waiting for the committer.\n"
               "# TYPE smile_ledger_queued_events gauge\nsmile_ledger_queued_events %zu\n"
               "# HELP smile_ledger_syncing_appends Appends committed and waiting for the disk "
               "sync.\n"
               "# TYPE smile_ledger_syncing_appends gauge\nsmile_ledger_syncing_appends %zu\n",
               st.queued, st.syncing);
}

int
ledger_check(struct ledger *l, struct smile_err *err)
{
    size_t events = 0, nreq = 0;
    int rc = SMILE_OK;
    struct pending *last = NULL;

    pthread_mutex_lock(&l->mu);
    for (struct pending *p = l->head; p; p = p->next) {
        if (p->done)
            rc = smile_err_set(err, SMILE_EINTERNAL, "a done request is still queued");
        events += p->n;
        nreq++;
        last = p;
    }
    if (last != l->tail)
        rc = smile_err_set(err, SMILE_EINTERNAL, "the queue's tail is not its last request");
    if (nreq != l->nqueued)
        rc = smile_err_set(err, SMILE_EINTERNAL, "nqueued says %zu requests, the queue holds %zu",
                           l->nqueued, nreq);
    if (events != l->queued)
        rc = smile_err_set(err, SMILE_EINTERNAL, "queued says %zu events, the queue holds %zu",
                           l->queued, events);
    pthread_mutex_unlock(&l->mu);
    return rc;
}
