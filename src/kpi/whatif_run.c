/*
 * whatif_run.c — the database edge of the what-if replay: loads the process (its draft and
 * published versions through the runtime's records), compiles the draft (problems under
 * "/draft"), resolves each side's calendar as the runtime does, then streams every event
 * of the subjects active in the period, ordered by subject and time, one subject at a time
 * into the pure core (whatif.c). Read only: it opens no transaction and writes nothing.
 * The events are read with one query in the order of the events_subject index, as the
 * runtime's own fold reads them (the ledger has no streaming reader of its own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "kpi/whatif.h"
#include "runtime/records.h"
#include "runtime/runtime.h"
#include "store/store.h"

/* Strings of one subject's events: chunks that never move, reset per subject. */
struct pool {
    char **chunks;
    size_t nchunks, used, top; /* top: bytes used in the last chunk in use */
    char **big;                /* strings too long for a chunk, freed on reset */
    size_t nbig, capbig;
};

#define POOL_CHUNK 65536

static const char *
pool_dup(struct pool *p, const char *s)
{
    size_t n;
    char *d;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    if (n > POOL_CHUNK / 4) {
        if (p->nbig == p->capbig) {
            p->capbig = p->capbig ? p->capbig * 2 : 8;
            p->big = xrealloc(p->big, p->capbig * sizeof(*p->big));
        }
        p->big[p->nbig] = xmalloc(n);
        memcpy(p->big[p->nbig], s, n);
        return p->big[p->nbig++];
    }
    if (p->used == 0 || p->top + n > POOL_CHUNK) {
        if (p->used == p->nchunks) {
            p->chunks = xrealloc(p->chunks, (p->nchunks + 1) * sizeof(*p->chunks));
            p->chunks[p->nchunks++] = xmalloc(POOL_CHUNK);
        }
        p->used++;
        p->top = 0;
    }
    d = p->chunks[p->used - 1] + p->top;
    memcpy(d, s, n);
    p->top += n;
    return d;
}

static void
pool_reset(struct pool *p)
{
    for (size_t i = 0; i < p->nbig; i++)
        free(p->big[i]);
    p->nbig = 0;
    p->used = 0;
    p->top = 0;
}

static void
pool_free(struct pool *p)
{
    pool_reset(p);
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->big);
}

struct subject {
    char *name;
    struct engine_event *ev;
    size_t n, cap;
    int64_t last;
};

static void
subject_clear(struct subject *sj, struct pool *p)
{
    for (size_t i = 0; i < sj->n; i++)
        json_decref(sj->ev[i].data);
    sj->n = 0;
    sj->last = INT64_MIN;
    free(sj->name);
    sj->name = NULL;
    pool_reset(p);
}

/* Folds the collected subject and clears it (the query's ORDER BY keeps events sorted). */
static void
flush(struct kpi_whatif *w, struct subject *sj, struct pool *p, int64_t horizon)
{
    if (sj->n)
        kpi_whatif_subject(w, sj->ev, sj->n, sj->last > horizon ? sj->last : horizon);
    subject_clear(sj, p);
}

static int
replay_events(struct store *s, struct kpi_whatif *w, int64_t from, int64_t to, int64_t horizon,
              struct smile_err *err)
{
    static const char sql[] =
        "SELECT subject, id, type, occurred_at, actor, customer, channel, data FROM events"
        " WHERE subject IN (SELECT subject FROM events WHERE occurred_at >= $1 AND occurred_at < "
        "$2) ORDER BY subject, occurred_at, id";
    struct store_stmt *st;
    struct subject sj;
    struct pool pool;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    memset(&sj, 0, sizeof(sj));
    memset(&pool, 0, sizeof(pool));
    sj.last = INT64_MIN;
    store_stmt_bind_int64(st, 1, from);
    store_stmt_bind_int64(st, 2, to);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *subject = store_stmt_text(st, 0), *data = store_stmt_text(st, 7);
        struct engine_event *e;

        if (sj.name == NULL || strcmp(sj.name, subject) != 0) {
            flush(w, &sj, &pool, horizon);
            sj.name = xstrdup(subject);
        }
        if (sj.n == sj.cap) {
            sj.cap = sj.cap ? sj.cap * 2 : 16;
            sj.ev = xrealloc(sj.ev, sj.cap * sizeof(*sj.ev));
        }
        e = &sj.ev[sj.n++];
        e->id = store_stmt_int64(st, 1);
        e->type = pool_dup(&pool, store_stmt_text(st, 2));
        e->occurred_at = store_stmt_int64(st, 3);
        e->subject = sj.name;
        e->actor = pool_dup(&pool, store_stmt_text(st, 4));
        e->customer = pool_dup(&pool, store_stmt_text(st, 5));
        e->channel = pool_dup(&pool, store_stmt_text(st, 6));
        e->data = data && strcmp(data, "{}") != 0 ? json_loads(data, 0, NULL) : NULL;
        if (e->occurred_at > sj.last)
            sj.last = e->occurred_at;
    }
    store_stmt_reset(st);
    if (rc == STORE_DONE) {
        flush(w, &sj, &pool, horizon);
        rc = SMILE_OK;
    }
    subject_clear(&sj, &pool);
    free(sj.ev);
    pool_free(&pool);
    return rc;
}

/* Re-roots the draft's problems under /draft so the client finds them in its request. */
static void
prefix_draft(struct smile_err *err)
{
    for (int i = 0; i < err->nfields; i++) {
        char *path = err->fields[i].path;
        size_t n = strnlen(path, sizeof(err->fields[i].path) - 7);

        /* "/steps/0" → "/draft/steps/0" (cut to fit, which a real pointer never needs) */
        memmove(path + 6, path, n);
        memcpy(path, "/draft", 6);
        path[n + 6] = '\0';
    }
    if (err->nfields == 0)
        smile_err_field(err, "/draft", "%s", err->msg[0] ? err->msg : "is not a valid process");
}

int
kpi_whatif_run(struct store *s, int64_t process_id, json_t *draft, int64_t from, int64_t to,
               double target, int64_t now_ms, json_t **out, struct smile_err *err)
{
    json_t *proc = NULL, *vers, *v, *nums = json_array();
    struct engine_process **live = NULL, *dp = NULL;
    struct runtime_defs *defs = NULL;
    struct engine_calendar lcal, dcal;
    struct kpi_whatif *w = NULL;
    int64_t ring = 5000, horizon;
    size_t nlive = 0, i;
    int rc;

    *out = NULL;
    rc = runtime_process_get(s, process_id, &proc, NULL, err);
    if (rc != SMILE_OK)
        goto out;
    if (draft == NULL)
        draft = json_object_get(proc, "draft");
    if (!json_is_object(draft)) {
        rc = smile_err_field(err, "/draft", "must be a process document (an object)");
        goto out;
    }
    rc = engine_process_compile_json(draft, &dp, err);
    if (rc != SMILE_OK) {
        prefix_draft(err);
        err->code = rc = SMILE_EINVAL;
        goto out;
    }
    vers = json_object_get(proc, "versions");
    live = xcalloc(json_array_size(vers) + 1, sizeof(*live));
    json_array_foreach(vers, i, v)
    {
        json_t *one = NULL;
        struct smile_err e2;

        smile_err_clear(&e2);
        rc = runtime_process_version_get(
            s, process_id, json_integer_value(json_object_get(v, "number")), &one, err);
        if (rc != SMILE_OK)
            goto out;
        if (engine_process_compile_json(json_object_get(one, "document"), &live[nlive], &e2) ==
            SMILE_OK) {
            nlive++;
            json_array_append(nums, json_object_get(v, "number"));
        }
        json_decref(one);
    }
    defs = runtime_defs_new();
    if ((rc = runtime_defs_refresh(defs, s, err)) != SMILE_OK)
        goto out;
    {
        const struct calendar *lc =
            nlive ? runtime_defs_calendar(defs, engine_process_calendar(live[nlive - 1])) : NULL;
        const struct calendar *dc = runtime_defs_calendar(defs, engine_process_calendar(dp));

        lcal = lc ? engine_calendar_bind(lc) : engine_calendar_wall(&ring);
        dcal = dc ? engine_calendar_bind(dc) : engine_calendar_wall(&ring);
    }
    w = kpi_whatif_new(live, nlive, &lcal, dp, &dcal, from, to);
    horizon = to < now_ms ? to : now_ms;
    if ((rc = replay_events(s, w, from, to, horizon, err)) != SMILE_OK)
        goto out;
    *out = kpi_whatif_report(w, target);
    json_object_set_new(*out, "process",
                        json_pack("{s:I, s:O, s:O}", "id", (json_int_t)process_id, "name",
                                  json_object_get(proc, "name"), "live_versions", nums));
out:
    kpi_whatif_free(w);
    runtime_defs_free(defs);
    for (size_t k = 0; k < nlive; k++)
        engine_process_unref(live[k]);
    free(live);
    engine_process_unref(dp);
    json_decref(proc);
    json_decref(nums);
    if (rc != SMILE_OK && err->code == SMILE_OK)
        err->code = rc;
    return rc;
}
