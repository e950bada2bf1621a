/*
 * fold.c — the runtime's shared core: the cache of compiled definitions (published process
 * versions, calendars) and runtime_fold_subject(), which loads one subject's events from the
 * ledger, folds them with the engine through every process version in force for the subject,
 * and replaces the instance's derived rows (measurements, segments, log, deadlines). The live
 * worker (worker.c) and `smile rebuild` (runtime_rebuild) both call it, so the derived state is
 * a pure function of the ledger and the definitions: as_of is the latest occurred_at among the
 * subject's events (the scheduler's sla.* events, dated at their due time, advance it), never
 * the clock. Owner of instances … deadlines and runtime_cursor. Each fold also hands the
 * subject's facts to the kpi rollups (kpi_rollup_replace) in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "crm/crm.h"
#include "crm/record.h"
#include "crm/staff.h"
#include "engine/engine.h"
#include "kpi/kpi.h"
#include "runtime/runtime.h"
#include "store/store.h"

struct proc_def {
    int64_t id;
    struct engine_process **v; /* published versions, by number */
    int *num;
    size_t n;
};

struct cal_def {
    int64_t id;
    char *name;
    struct calendar *cal; /* NULL if the document does not compile */
};

struct runtime_defs {
    int64_t sig[3];   /* what the cache was built from (see refresh) */
    int64_t pins_max; /* highest instance_pins id at the last refresh (0: no pins, skip) */
    bool loaded;
    struct proc_def *procs;
    size_t nprocs;
    struct cal_def *cals;
    size_t ncals;
    struct engine_result res;
    struct kpi_batch *kb; /* between batch_begin and batch_end, else NULL */
};

struct runtime_defs *
runtime_defs_new(void)
{
    struct runtime_defs *d = xcalloc(1, sizeof(*d));
    engine_result_init(&d->res);
    return d;
}

static void
defs_clear(struct runtime_defs *d)
{
    for (size_t i = 0; i < d->nprocs; i++) {
        for (size_t k = 0; k < d->procs[i].n; k++)
            engine_process_unref(d->procs[i].v[k]);
        free(d->procs[i].v);
        free(d->procs[i].num);
    }
    free(d->procs);
    d->procs = NULL;
    d->nprocs = 0;
    for (size_t i = 0; i < d->ncals; i++) {
        free(d->cals[i].name);
        calendar_free(d->cals[i].cal);
    }
    free(d->cals);
    d->cals = NULL;
    d->ncals = 0;
    d->loaded = false;
}

void
runtime_defs_free(struct runtime_defs *d)
{
    if (d == NULL)
        return;
    defs_clear(d);
    engine_result_free(&d->res);
    kpi_batch_free(d->kb);
    free(d);
}

void
runtime_defs_batch_begin(struct runtime_defs *d)
{
    if (d->kb == NULL)
        d->kb = kpi_batch_new();
    kpi_batch_reset(d->kb);
}

int
runtime_defs_batch_end(struct runtime_defs *d, struct store *s, bool apply, struct smile_err *err)
{
    struct kpi_batch *b = d->kb;
    int rc = SMILE_OK;

    d->kb = NULL;
    if (b == NULL)
        return SMILE_OK;
    if (apply)
        rc = kpi_batch_apply(s, b, err);
    kpi_batch_free(b);
    return rc;
}

int
runtime_calendar_compile(const char *doc, size_t len, struct calendar **out, struct smile_err *err)
{
    char zone[128];
    struct calendar_tz *tz = NULL;
    int rc = calendar_json_time_zone(doc, len, zone, sizeof(zone));

    *out = NULL;
    if (rc == SMILE_EMALFORMED)
        return smile_err_set(err, rc, "the calendar document is not JSON");
    if (rc != SMILE_OK)
        return smile_err_field(err, "/time_zone",
                               "is required: an IANA zone such as "
                               "Asia/Shanghai");
    if (calendar_tz_load(zone, &tz, err) != SMILE_OK) {
        smile_err_clear(err);
        return smile_err_field(err, "/time_zone", "unknown time zone '%s'", zone);
    }
    rc = calendar_from_json(doc, len, tz, out, err);
    calendar_tz_free(tz);
    return rc;
}

/* A signature of the definitions: versions published, processes deleted, calendar edits;
 * sig[3] the highest version pin (a new pin needs no reload, only the pin lookup). */
static int
defs_signature(struct store *s, int64_t sig[4], struct smile_err *err)
{
    static const char sql[] =
        "SELECT (SELECT count(*) FROM process_versions),"
        " (SELECT count(*) FROM processes WHERE deleted_at IS NOT NULL),"
        " (SELECT coalesce(sum(version), 0) + count(*) * 1000003 FROM calendars),"
        " (SELECT coalesce(max(id), 0) FROM instance_pins)";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        for (int i = 0; i < 4; i++)
            sig[i] = store_stmt_int64(st, i);
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    return rc;
}

int
runtime_defs_refresh(struct runtime_defs *d, struct store *s, struct smile_err *err)
{
    static const char sql_cal[] =
        "SELECT id, name, document FROM calendars WHERE deleted_at IS NULL ORDER BY id";
    static const char sql_ver[] =
        "SELECT v.process_id, v.number, v.document FROM process_versions v"
        " JOIN processes p ON p.id = v.process_id WHERE p.deleted_at IS NULL"
        " ORDER BY v.process_id, v.number";
    struct store_stmt *st;
    int64_t sig[4];
    int rc = defs_signature(s, sig, err);

    if (rc != SMILE_OK)
        return rc;
    d->pins_max = sig[3];
    if (d->loaded && memcmp(sig, d->sig, sizeof(d->sig)) == 0)
        return SMILE_OK;
    defs_clear(d);
    if ((rc = store_prepare(s, sql_cal, &st, err)) != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct cal_def c = {.id = store_stmt_int64(st, 0), .name = xstrdup(store_stmt_text(st, 1))};
        const char *doc = store_stmt_text(st, 2);
        struct smile_err e2;

        smile_err_clear(&e2);
        if (runtime_calendar_compile(doc, strlen(doc), &c.cal, &e2) != SMILE_OK)
            log_warn("msg=\"calendar does not compile\" calendar=%lld err=\"%s\"", (long long)c.id,
                     e2.msg);
        d->cals = xrealloc(d->cals, (d->ncals + 1) * sizeof(*d->cals));
        d->cals[d->ncals++] = c;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    if ((rc = store_prepare(s, sql_ver, &st, err)) != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        int64_t pid = store_stmt_int64(st, 0);
        int num = (int)store_stmt_int64(st, 1);
        const char *doc = store_stmt_text(st, 2);
        struct engine_process *p = NULL;
        struct smile_err e2;
        struct proc_def *pd;

        smile_err_clear(&e2);
        if (engine_process_compile(doc, strlen(doc), &p, &e2) != SMILE_OK) {
            log_warn("msg=\"published process does not compile\" process=%lld version=%d",
                     (long long)pid, num);
            continue;
        }
        if (d->nprocs == 0 || d->procs[d->nprocs - 1].id != pid) {
            d->procs = xrealloc(d->procs, (d->nprocs + 1) * sizeof(*d->procs));
            d->procs[d->nprocs++] = (struct proc_def){.id = pid};
        }
        pd = &d->procs[d->nprocs - 1];
        pd->v = xrealloc(pd->v, (pd->n + 1) * sizeof(*pd->v));
        pd->num = xrealloc(pd->num, (pd->n + 1) * sizeof(*pd->num));
        pd->v[pd->n] = p;
        pd->num[pd->n++] = num;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    memcpy(d->sig, sig, sizeof(d->sig));
    d->loaded = true;
    return SMILE_OK;
}

const struct calendar *
runtime_defs_calendar(struct runtime_defs *d, const char *name)
{
    if (name == NULL)
        name = "default";
    for (size_t i = 0; i < d->ncals; i++)
        if (strcmp(d->cals[i].name, name) == 0)
            return d->cals[i].cal;
    if (strcmp(name, "default") != 0)
        return NULL;
    for (size_t i = 0; i < d->ncals; i++)
        if (strcmp(d->cals[i].name, "China") == 0)
            return d->cals[i].cal;
    return d->ncals ? d->cals[0].cal : NULL;
}

void
runtime_deadline_source_id(int64_t process_id, const char *subject, const char *step,
                           int64_t occurrence, bool breach, int idx, char *out, size_t cap)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */

    for (const unsigned char *p = (const unsigned char *)subject; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, cap, "sla:%lld:%016llx:%s:%lld:%c%d", (long long)process_id,
             (unsigned long long)h, step, (long long)occurrence, breach ? 'b' : 'w', idx);
}

/* The subject's events, loaded once per fold. */
struct loaded {
    struct engine_event *ev;
    char **source_id; /* of events from source "smile", else NULL */
    size_t n, cap;
};

static void
loaded_free(struct loaded *L)
{
    for (size_t i = 0; i < L->n; i++) {
        free((char *)L->ev[i].type);
        free((char *)L->ev[i].subject);
        free((char *)L->ev[i].actor);
        free((char *)L->ev[i].customer);
        free((char *)L->ev[i].channel);
        json_decref(L->ev[i].data);
        free(L->source_id[i]);
    }
    free(L->ev);
    free(L->source_id);
}

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static int
load_events(struct store *s, const char *subject, struct loaded *L, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, type, occurred_at, actor, customer, channel, source, source_id, data"
        " FROM events WHERE subject = $1 ORDER BY occurred_at, id";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    memset(L, 0, sizeof(*L));
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct engine_event *e;
        const char *src = store_stmt_text(st, 6), *data = store_stmt_text(st, 8);

        if (L->n == L->cap) {
            L->cap = L->cap ? L->cap * 2 : 16;
            L->ev = xrealloc(L->ev, L->cap * sizeof(*L->ev));
            L->source_id = xrealloc(L->source_id, L->cap * sizeof(*L->source_id));
        }
        e = &L->ev[L->n];
        e->id = store_stmt_int64(st, 0);
        e->type = xstrdup(store_stmt_text(st, 1));
        e->occurred_at = store_stmt_int64(st, 2);
        e->subject = xstrdup(subject);
        e->actor = dup_or_null(store_stmt_text(st, 3));
        e->customer = dup_or_null(store_stmt_text(st, 4));
        e->channel = dup_or_null(store_stmt_text(st, 5));
        e->data = data ? json_loads(data, 0, NULL) : NULL;
        L->source_id[L->n] =
            src && strcmp(src, "smile") == 0 ? dup_or_null(store_stmt_text(st, 7)) : NULL;
        L->n++;
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

static bool
fired(const struct loaded *L, const char *source_id)
{
    for (size_t i = 0; i < L->n; i++)
        if (L->source_id[i] && strcmp(L->source_id[i], source_id) == 0)
            return true;
    return false;
}

static void
bind_time(struct store_stmt *st, int idx, int64_t t)
{
    if (t == ENGINE_NO_TIME)
        store_stmt_bind_null(st, idx);
    else
        store_stmt_bind_int64(st, idx, t);
}

static void
bind_opt_text(struct store_stmt *st, int idx, const char *v)
{
    store_stmt_bind_text(st, idx, v, -1); /* NULL binds NULL */
}

static int
exec_done(struct store_stmt *st, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE || rc == STORE_ROW ? SMILE_OK : rc;
}

/* Writes the instance row; *out_id its id, *out_new whether it is new — a new instance has
 * no measurements (nor their segments, log and deadlines: they cascade from an instance's
 * deletion), so the fold skips the deletions a re-fold needs. */
static int
put_instance(struct store *s, int64_t pid, int ver, const char *subject,
             const struct engine_result *r, int64_t now, int64_t pin_id, int64_t *out_id,
             bool *out_new, struct smile_err *err)
{
    static const char sql_find[] =
        "SELECT id, version = $1 AND trigger_event_id = $2 AND started_at = $3"
        " AND pin_id IS $4 FROM instances WHERE process_id = $5 AND subject = $6";
    static const char sql_ins[] =
        "INSERT INTO instances (process_id, version, subject, trigger_event_id, started_at,"
        " updated_at, pin_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    static const char sql_upd[] =
        "UPDATE instances SET version = $1, trigger_event_id = $2, started_at = $3,"
        " updated_at = $4, pin_id = $5 WHERE id = $6";
    struct store_stmt *st;
    int64_t id = 0;
    bool same = false;
    int rc = store_prepare(s, sql_find, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, ver);
    store_stmt_bind_int64(st, 2, r->trigger_event_id);
    store_stmt_bind_int64(st, 3, r->started_at);
    if (pin_id > 0)
        store_stmt_bind_int64(st, 4, pin_id);
    else
        store_stmt_bind_null(st, 4);
    store_stmt_bind_int64(st, 5, pid);
    store_stmt_bind_text(st, 6, subject, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        same = store_stmt_int64(st, 1) == 1;
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    *out_new = id == 0;
    *out_id = id;
    if (same)
        return SMILE_OK; /* as before: updated_at stays the time of the last change */
    if (id == 0) {
        if ((rc = store_prepare(s, sql_ins, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, pid);
        store_stmt_bind_int64(st, 2, ver);
        store_stmt_bind_text(st, 3, subject, -1);
        store_stmt_bind_int64(st, 4, r->trigger_event_id);
        store_stmt_bind_int64(st, 5, r->started_at);
        store_stmt_bind_int64(st, 6, now);
        if (pin_id > 0)
            store_stmt_bind_int64(st, 7, pin_id);
        else
            store_stmt_bind_null(st, 7);
    } else {
        if ((rc = store_prepare(s, sql_upd, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, ver);
        store_stmt_bind_int64(st, 2, r->trigger_event_id);
        store_stmt_bind_int64(st, 3, r->started_at);
        store_stmt_bind_int64(st, 4, now);
        if (pin_id > 0)
            store_stmt_bind_int64(st, 5, pin_id);
        else
            store_stmt_bind_null(st, 5);
        store_stmt_bind_int64(st, 6, id);
    }
    if ((rc = exec_done(st, err)) != SMILE_OK)
        return rc;
    *out_id = id ? id : store_last_insert_id(s);
    return SMILE_OK;
}

struct fold_ctx {
    struct store *s;
    const struct loaded *L;
    const struct engine_result *r;
    int64_t pid, iid, fold_seq, now, next_due;
    int ver;
    bool fresh;       /* a new instance: nothing of it to delete */
    struct row *rows; /* its measurement rows before this fold (existing_rows) */
    size_t nrows, caprows;
    const char *subject, *channel, *customer;
    const struct calendar *cal; /* the process calendar (NULL: wall time), for local days */
    struct kpi_facts *kf;
};

/* The local day of t in cal; without a calendar, in China Standard Time (UTC+8). */
static int64_t
local_day(const struct calendar *cal, int64_t t)
{
    const int64_t day_ms = 86400000, cst = 8 * 3600000;

    if (cal)
        return calendar_local_day(cal, t);
    return (t + cst) >= 0 ? (t + cst) / day_ms : -((-(t + cst) + day_ms - 1) / day_ms);
}

static const char *
event_type(const struct loaded *L, int64_t id)
{
    for (size_t i = 0; id && i < L->n; i++)
        if (L->ev[i].id == id)
            return L->ev[i].type;
    return NULL;
}

/* Hands the occurrence, as written, to the kpi rollups. */
static void
roll_occ(struct fold_ctx *c, const struct engine_occ *o, const char *step)
{
    struct kpi_measurement km = {
        .process_id = c->pid,
        .step = step,
        .function = engine_process_step_function(c->r->process, o->step),
        .per_agent = engine_process_step_charge(c->r->process, o->step) == ENGINE_CHARGE_PER,
        .channel = c->channel,
        .staff = o->charged_actor,
        .team = o->charged_team,
        .result = engine_outcome_name(o->result),
        .state = engine_state_name(o->state),
        .end_type = event_type(c->L, o->end_event_id),
        .started_at = o->started_at == ENGINE_NO_TIME ? INT64_MIN : o->started_at,
        .done_at = o->ended_at == ENGINE_NO_TIME ? INT64_MIN : o->ended_at,
        .elapsed_ms = o->elapsed_ms,
    };

    if (km.started_at != INT64_MIN)
        km.start_day = local_day(c->cal, km.started_at);
    if (km.done_at != INT64_MIN)
        km.done_day = local_day(c->cal, km.done_at);
    kpi_facts_add_measurement(c->kf, &km);
}

/* The tags of the subject's customer (of the first event naming a customer id) for the kpi
 * rollups' tag slices; none if there is no such live customer. */
static void
roll_tags(struct store *s, const struct loaded *L, struct kpi_facts *kf)
{
    struct crm_ctx cx = {.db = s};
    struct smile_err e2;
    json_t *cust = NULL, *t;
    int64_t id = 0;
    size_t i;

    for (i = 0; i < L->n && id <= 0; i++)
        if (L->ev[i].customer == NULL || str_to_int64(str_from(L->ev[i].customer), &id) != SMILE_OK)
            id = 0;
    if (id <= 0)
        return;
    smile_err_clear(&e2);
    if (crm_record_load(&cx, &crm_customers, id, &cust, &e2) != SMILE_OK)
        return;
    json_array_foreach(json_object_get(cust, "tags"), i, t)
    {
        const char *v = json_string_value(t);
        if (v)
            kpi_facts_set_tags(kf, &v, 1);
    }
    json_decref(cust);
}

/* The subject's event facts (volumes, cases, surveys) for the kpi rollups. */
static void
roll_events(struct runtime_defs *d, struct store *s, const struct loaded *L, struct kpi_facts *kf)
{
    const struct calendar *cal = runtime_defs_calendar(d, "default");

    for (size_t i = 0; i < L->n; i++) {
        const struct engine_event *e = &L->ev[i];
        struct staff_user u;
        struct smile_err e2;
        struct kpi_event ke = {.type = e->type,
                               .actor = e->actor,
                               .team = "",
                               .channel = e->channel,
                               .data = e->data,
                               .day = local_day(cal, e->occurred_at)};

        smile_err_clear(&e2);
        if (e->actor && kpi_event_counted(e->type) &&
            staff_user_find(s, e->actor, &u, &e2) == SMILE_OK)
            ke.team = u.team;
        kpi_facts_add_event(kf, &ke); /* copies what it keeps */
    }
    kpi_facts_end_events(kf);
    roll_tags(s, L, kf);
}

/* One deadline row of an occurrence, decided before anything is written. */
struct dl {
    bool breach, done;
    int idx;
    int64_t due;
    char sid[160];
};

/* The deadlines to store for o: every warning and the breach of a running clock (passed or
 * not; the scheduler fires the unfired ones when due), and for stopped clocks the ones whose
 * sla.* event is in the ledger (history). */
static size_t
occ_deadlines(const struct fold_ctx *c, const struct engine_occ *o, const char *step,
              struct dl *out)
{
    bool running = o->state == ENGINE_RUNNING;
    size_t n = 0;

    for (uint32_t w = 0; w < o->nwarn; w++) {
        bool logged = o->warn_logged & (1u << w);
        struct dl *d = &out[n];
        if (o->warn_at[w] == ENGINE_NO_TIME)
            continue;
        runtime_deadline_source_id(c->pid, c->subject, step, o->seq, false, (int)w, d->sid,
                                   sizeof(d->sid));
        d->done = fired(c->L, d->sid);
        if (running || (logged && d->done)) {
            d->breach = false;
            d->idx = (int)w;
            d->due = o->warn_at[w];
            n++;
        }
    }
    {
        int64_t due = o->breached_at != ENGINE_NO_TIME ? o->breached_at
                      : running                        ? o->deadline
                                                       : ENGINE_NO_TIME;
        struct dl *d = &out[n];
        runtime_deadline_source_id(c->pid, c->subject, step, o->seq, true, 0, d->sid,
                                   sizeof(d->sid));
        d->done = fired(c->L, d->sid);
        if (due != ENGINE_NO_TIME && (running || d->done)) {
            d->breach = true;
            d->idx = 0;
            d->due = due;
            n++;
        }
    }
    return n;
}

/* FNV-1a 64 over what a measurement's rows say, so that a re-fold that decides the same
 * writes nothing (see existing_rows). */
static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t
mix_i(uint64_t h, int64_t v)
{
    return mix(h, &v, sizeof(v));
}

static uint64_t
mix_s(uint64_t h, const char *v)
{
    return v ? mix(h, v, strlen(v) + 1) : mix(h, "\xff", 1);
}

static uint64_t
occ_digest(const struct fold_ctx *c, uint32_t oi, const struct dl *dls, size_t ndl)
{
    const struct engine_occ *o = &c->r->occ[oi];
    uint64_t h = 14695981039346656037ULL;

    h = mix_i(h, c->ver);
    h = mix_s(h, c->channel);
    h = mix_s(h, c->customer);
    h = mix_i(h, o->started_at);
    h = mix_i(h, o->ended_at);
    h = mix_i(h, o->elapsed_ms);
    h = mix_i(h, o->target_ms);
    h = mix_i(h, o->state == ENGINE_RUNNING ? o->deadline : ENGINE_NO_TIME);
    h = mix_i(h, o->result);
    h = mix_i(h, o->state);
    h = mix_s(h, o->charged_actor);
    h = mix_s(h, o->charged_team);
    h = mix_i(h, o->start_event_id);
    h = mix_i(h, o->end_event_id);
    for (uint32_t k = 0; k < o->nseg; k++) {
        const struct engine_segment *g = &c->r->seg[o->seg_first + k];
        h = mix_s(h, g->actor);
        h = mix_s(h, g->team);
        h = mix_i(h, g->from);
        h = mix_i(h, g->to);
        h = mix_i(h, g->ms);
    }
    h = mix_i(h, -1);
    for (uint32_t k = 0; k < c->r->nlog; k++)
        if (c->r->log[k].occ == oi) {
            h = mix_i(h, c->r->log[k].kind);
            h = mix_i(h, c->r->log[k].at);
            h = mix_i(h, c->r->log[k].event_id);
        }
    h = mix_i(h, -2);
    for (size_t k = 0; k < ndl; k++) {
        h = mix_i(h, dls[k].breach);
        h = mix_i(h, dls[k].idx);
        h = mix_i(h, dls[k].due);
        h = mix_i(h, dls[k].done);
        h = mix_s(h, dls[k].sid);
    }
    return h & INT64_MAX; /* stored as a SQLite integer */
}

/* The instance's measurement rows before this fold. */
struct row {
    int64_t id, occurrence, digest;
    char *step;
    bool kept; /* this fold wrote or confirmed it */
};

static int
existing_rows(struct fold_ctx *c, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, step_key, occurrence, coalesce(digest, -1) FROM measurements"
        " WHERE instance_id = $1";
    struct store_stmt *st;
    int rc;

    c->nrows = 0;
    if (c->fresh)
        return SMILE_OK;
    if ((rc = store_prepare(c->s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, c->iid);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct row *r;
        if (c->nrows == c->caprows) {
            c->caprows = c->caprows ? 2 * c->caprows : 8;
            c->rows = xrealloc(c->rows, c->caprows * sizeof(*c->rows));
        }
        r = &c->rows[c->nrows++];
        r->id = store_stmt_int64(st, 0);
        r->step = xstrdup(store_stmt_text(st, 1));
        r->occurrence = store_stmt_int64(st, 2);
        r->digest = store_stmt_int64(st, 3);
        r->kept = false;
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

static void
rows_free(struct fold_ctx *c)
{
    for (size_t i = 0; i < c->nrows; i++)
        free(c->rows[i].step);
    free(c->rows);
    c->rows = NULL;
    c->nrows = c->caprows = 0;
}

/* Deletes the rows no occurrence of this fold wrote or confirmed (their segments, log and
 * deadlines go with them: ON DELETE CASCADE). */
static int
drop_unkept(struct fold_ctx *c, struct smile_err *err)
{
    static const char sql[] = "DELETE FROM measurements WHERE id = $1";
    struct store_stmt *st;
    int rc = SMILE_OK;

    for (size_t i = 0; i < c->nrows && rc == SMILE_OK; i++) {
        if (c->rows[i].kept)
            continue;
        if ((rc = store_prepare(c->s, sql, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, c->rows[i].id);
        rc = exec_done(st, err);
    }
    return rc;
}

static int
put_occ(struct fold_ctx *c, uint32_t oi, struct smile_err *err)
{
    static const char sql_m[] =
        "INSERT INTO measurements (instance_id, process_id, version, step_key, occurrence,"
        " subject, channel, customer, started_at, done_at, elapsed_ms, target_ms, deadline_at,"
        " result, state, charged_actor, charged_team, start_event_id, end_event_id, fold_seq,"
        " updated_at, digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " $14, $15, $16, $17, $18, $19, $20, $21, $22)"
        " ON CONFLICT (instance_id, step_key, occurrence) DO UPDATE SET"
        " process_id = excluded.process_id, version = excluded.version,"
        " channel = excluded.channel, customer = excluded.customer,"
        " started_at = excluded.started_at, done_at = excluded.done_at,"
        " elapsed_ms = excluded.elapsed_ms, target_ms = excluded.target_ms,"
        " deadline_at = excluded.deadline_at, result = excluded.result, state = excluded.state,"
        " charged_actor = excluded.charged_actor, charged_team = excluded.charged_team,"
        " start_event_id = excluded.start_event_id, end_event_id = excluded.end_event_id,"
        " fold_seq = excluded.fold_seq, updated_at = excluded.updated_at,"
        " digest = excluded.digest RETURNING id";
    static const char sql_del_seg[] = "DELETE FROM measurement_segments WHERE measurement_id = $1";
    static const char sql_del_log[] = "DELETE FROM measurement_log WHERE measurement_id = $1";
    static const char sql_del_dl[] = "DELETE FROM deadlines WHERE measurement_id = $1";
    static const char sql_seg[] = "INSERT INTO measurement_segments (measurement_id, seq, actor,"
                                  " team, from_at, to_at, ms) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    static const char sql_log[] = "INSERT INTO measurement_log (measurement_id, seq, kind, at,"
                                  " event_id) VALUES ($1, $2, $3, $4, $5)";
    static const char sql_dl[] = "INSERT INTO deadlines (measurement_id, kind, idx, due_at,"
                                 " fired_at, source_id) VALUES ($1, $2, $3, $4, $5, $6)";
    const struct engine_occ *o = &c->r->occ[oi];
    const char *step = engine_process_step_key(c->r->process, o->step);
    struct dl dls[ENGINE_MAX_WARN + 1];
    size_t ndl = occ_deadlines(c, o, step, dls);
    int64_t digest = (int64_t)occ_digest(c, oi, dls, ndl);
    struct row *old = NULL;
    struct store_stmt *st;
    int64_t mid = 0;
    int rc, seq = 0;

    roll_occ(c, o, step);
    for (size_t k = 0; k < ndl; k++)
        if (!dls[k].done && dls[k].due < c->next_due)
            c->next_due = dls[k].due;
    for (size_t i = 0; i < c->nrows && old == NULL; i++)
        if (c->rows[i].occurrence == o->seq && strcmp(c->rows[i].step, step) == 0)
            old = &c->rows[i];
    if (old)
        old->kept = true;
    if (old && old->digest == digest)
        return SMILE_OK; /* decided as before: nothing to write */

    if ((rc = store_prepare(c->s, sql_m, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, c->iid);
    store_stmt_bind_int64(st, 2, c->pid);
    store_stmt_bind_int64(st, 3, c->ver);
    store_stmt_bind_text(st, 4, step, -1);
    store_stmt_bind_int64(st, 5, o->seq);
    store_stmt_bind_text(st, 6, c->subject, -1);
    bind_opt_text(st, 7, c->channel);
    bind_opt_text(st, 8, c->customer);
    bind_time(st, 9, o->started_at);
    bind_time(st, 10, o->ended_at);
    store_stmt_bind_int64(st, 11, o->elapsed_ms);
    store_stmt_bind_int64(st, 12, o->target_ms);
    bind_time(st, 13, o->state == ENGINE_RUNNING ? o->deadline : ENGINE_NO_TIME);
    store_stmt_bind_text(st, 14, engine_outcome_name(o->result), -1);
    store_stmt_bind_text(st, 15, engine_state_name(o->state), -1);
    bind_opt_text(st, 16, o->charged_actor);
    bind_opt_text(st, 17, o->charged_team);
    if (o->start_event_id)
        store_stmt_bind_int64(st, 18, o->start_event_id);
    else
        store_stmt_bind_null(st, 18);
    if (o->end_event_id)
        store_stmt_bind_int64(st, 19, o->end_event_id);
    else
        store_stmt_bind_null(st, 19);
    store_stmt_bind_int64(st, 20, c->fold_seq);
    store_stmt_bind_int64(st, 21, c->now);
    store_stmt_bind_int64(st, 22, digest);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        mid = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    static const char *const dels[] = {sql_del_seg, sql_del_log, sql_del_dl};
    for (size_t i = 0; i < ARRAY_LEN(dels) && old; i++) {
        if ((rc = store_prepare(c->s, dels[i], &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, mid);
        if ((rc = exec_done(st, err)) != SMILE_OK)
            return rc;
    }
    for (uint32_t k = 0; k < o->nseg; k++) {
        const struct engine_segment *g = &c->r->seg[o->seg_first + k];
        if ((rc = store_prepare(c->s, sql_seg, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, mid);
        store_stmt_bind_int64(st, 2, k);
        bind_opt_text(st, 3, g->actor);
        bind_opt_text(st, 4, g->team);
        store_stmt_bind_int64(st, 5, g->from);
        store_stmt_bind_int64(st, 6, g->to);
        store_stmt_bind_int64(st, 7, g->ms);
        if ((rc = exec_done(st, err)) != SMILE_OK)
            return rc;
    }
    for (uint32_t k = 0; k < c->r->nlog; k++) {
        const struct engine_metric *m = &c->r->log[k];
        if (m->occ != oi)
            continue;
        if ((rc = store_prepare(c->s, sql_log, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, mid);
        store_stmt_bind_int64(st, 2, seq++);
        store_stmt_bind_text(st, 3, engine_metric_name(m->kind), -1);
        store_stmt_bind_int64(st, 4, m->at);
        if (m->event_id)
            store_stmt_bind_int64(st, 5, m->event_id);
        else
            store_stmt_bind_null(st, 5);
        if ((rc = exec_done(st, err)) != SMILE_OK)
            return rc;
    }
    for (size_t k = 0; k < ndl; k++) {
        if ((rc = store_prepare(c->s, sql_dl, &st, err)) != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, mid);
        store_stmt_bind_text(st, 2, dls[k].breach ? "breach" : "warning", -1);
        store_stmt_bind_int64(st, 3, dls[k].idx);
        store_stmt_bind_int64(st, 4, dls[k].due);
        if (dls[k].done)
            store_stmt_bind_int64(st, 5, dls[k].due);
        else
            store_stmt_bind_null(st, 5);
        store_stmt_bind_text(st, 6, dls[k].sid, -1);
        if ((rc = exec_done(st, err)) != SMILE_OK)
            return rc;
    }
    return SMILE_OK;
}

int
runtime_fold_subject(struct runtime_defs *d, struct store *s, const char *subject, int64_t fold_seq,
                     int64_t *out_next_due, struct smile_err *err)
{
    static const char sql_drop[] = "DELETE FROM instances WHERE process_id = $1 AND subject = $2";
    struct loaded L;
    struct runtime_pin_ref *pins = NULL;
    size_t npins = 0;
    struct kpi_facts *kf;
    int64_t as_of = 0, next_due = INT64_MAX, now = time_now_ms();
    int rc;

    if (out_next_due)
        *out_next_due = INT64_MAX;
    if ((rc = load_events(s, subject, &L, err)) != SMILE_OK) {
        loaded_free(&L);
        return rc;
    }
    if (L.n == 0) {
        loaded_free(&L);
        return SMILE_OK;
    }
    for (size_t i = 0; i < L.n; i++)
        if (L.ev[i].occurred_at > as_of)
            as_of = L.ev[i].occurred_at;
    /* Version pins: one indexed lookup, only once a recompute has pinned anything. */
    if (d->pins_max > 0 && (rc = runtime_pins_load(s, subject, &pins, &npins, err)) != SMILE_OK) {
        loaded_free(&L);
        return rc;
    }
    kf = kpi_facts_new();
    for (size_t pi = 0; pi < d->nprocs && rc == SMILE_OK; pi++) {
        struct proc_def *pd = &d->procs[pi];
        const struct runtime_pin_ref *pin = runtime_pin_find(pins, npins, pd->id);
        struct engine_process *p = NULL;
        const struct calendar *cal;
        struct engine_calendar ecal;
        int64_t ring = 5000;
        struct fold_ctx c;
        int ver = 0;

        for (size_t k = 0; pin && k < pd->n; k++)
            if (pd->num[k] == pin->version)
                p = pd->v[k];
        if (p == NULL) { /* no pin, or its version does not compile: as if unpinned */
            pin = NULL;
            p = engine_process_pick(pd->v, pd->n, L.ev, L.n);
        }
        if (p == NULL)
            continue;
        for (size_t k = 0; k < pd->n; k++)
            if (pd->v[k] == p)
                ver = pd->num[k];
        cal = runtime_defs_calendar(d, engine_process_calendar(p));
        ecal = cal ? engine_calendar_bind(cal) : engine_calendar_wall(&ring);
        if (engine_fold(p, &ecal, L.ev, L.n, as_of, &d->res) != SMILE_OK || !d->res.started) {
            /* A pinned version whose trigger does not match the subject: no instance. */
            struct store_stmt *st;
            if (pin && (rc = store_prepare(s, sql_drop, &st, err)) == SMILE_OK) {
                store_stmt_bind_int64(st, 1, pd->id);
                store_stmt_bind_text(st, 2, subject, -1);
                rc = exec_done(st, err);
            }
            continue;
        }
        memset(&c, 0, sizeof(c));
        c.s = s;
        c.L = &L;
        c.r = &d->res;
        c.pid = pd->id;
        c.ver = ver;
        c.fold_seq = fold_seq;
        c.now = now;
        c.next_due = next_due;
        c.subject = subject;
        c.cal = cal;
        c.kf = kf;
        for (size_t i = 0; i < L.n; i++)
            if (L.ev[i].id == d->res.trigger_event_id) {
                c.channel = L.ev[i].channel;
                c.customer = L.ev[i].customer;
            }
        rc = put_instance(s, pd->id, ver, subject, &d->res, now, pin ? pin->id : 0, &c.iid,
                          &c.fresh, err);
        if (rc == SMILE_OK)
            rc = existing_rows(&c, err);
        for (uint32_t oi = 0; oi < d->res.nocc && rc == SMILE_OK; oi++)
            if (d->res.occ[oi].state != ENGINE_PENDING)
                rc = put_occ(&c, oi, err);
        if (rc == SMILE_OK)
            rc = drop_unkept(&c, err);
        rows_free(&c);
        next_due = c.next_due;
    }
    if (rc == SMILE_OK) {
        roll_events(d, s, &L, kf);
        rc = d->kb ? kpi_rollup_stage(s, subject, kf, d->kb, err)
                   : kpi_rollup_replace(s, subject, kf, err);
    }
    kpi_facts_free(kf);
    loaded_free(&L);
    free(pins);
    if (out_next_due)
        *out_next_due = next_due;
    return rc;
}

int
runtime_rebuild(struct store *s, int64_t *out_subjects, struct smile_err *err)
{
    static const char sql_clear[] =
        "DELETE FROM deadlines; DELETE FROM measurement_log; DELETE FROM measurement_segments;"
        " DELETE FROM measurements; DELETE FROM instances; DELETE FROM runtime_cursor;";
    static const char sql_subjects[] =
        "SELECT DISTINCT subject FROM events WHERE subject > $1 ORDER BY subject LIMIT 500";
    static const char sql_cursor[] = "INSERT INTO runtime_cursor (id, last_event_id)"
                                     " SELECT 1, coalesce(max(id), 0) FROM events";
    struct runtime_defs *d = runtime_defs_new();
    char *after = xstrdup("");
    int64_t count = 0, seq = 1;
    int rc;

    if ((rc = store_begin(s, err)) != SMILE_OK)
        goto out;
    if ((rc = store_exec(s, sql_clear, err)) != SMILE_OK ||
        (rc = kpi_rollup_clear(s, err)) != SMILE_OK ||
        (rc = store_exec(s, sql_cursor, err)) != SMILE_OK ||
        (rc = runtime_defs_refresh(d, s, err)) != SMILE_OK) {
        store_rollback(s);
        goto out;
    }
    if ((rc = store_commit(s, err)) != SMILE_OK)
        goto out;
    for (;;) {
        struct store_stmt *st;
        char **batch = NULL;
        size_t n = 0;

        if ((rc = store_prepare(s, sql_subjects, &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_text(st, 1, after, -1);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            batch = xrealloc(batch, (n + 1) * sizeof(*batch));
            batch[n++] = xstrdup(store_stmt_text(st, 0));
        }
        store_stmt_reset(st);
        if (rc != STORE_DONE) {
            for (size_t i = 0; i < n; i++)
                free(batch[i]);
            free(batch);
            break;
        }
        rc = SMILE_OK;
        if (n == 0) {
            free(batch);
            break;
        }
        if ((rc = store_begin(s, err)) == SMILE_OK) {
            runtime_defs_batch_begin(d);
            for (size_t i = 0; i < n && rc == SMILE_OK; i++)
                rc = runtime_fold_subject(d, s, batch[i], seq, NULL, err);
            if (rc == SMILE_OK)
                rc = runtime_defs_batch_end(d, s, true, err);
            else
                runtime_defs_batch_end(d, s, false, NULL);
            if (rc == SMILE_OK)
                rc = store_commit(s, err);
            else
                store_rollback(s);
        }
        free(after);
        after = xstrdup(batch[n - 1]);
        count += (int64_t)n;
        for (size_t i = 0; i < n; i++)
            free(batch[i]);
        free(batch);
        if (rc != SMILE_OK)
            break;
    }
out:
    free(after);
    runtime_defs_free(d);
    if (out_subjects)
        *out_subjects = count;
    return rc;
}
