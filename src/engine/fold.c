/*
 * fold.c — the pure fold from one subject's ordered events to step occurrences, clock
 * segments and the measurement log. Called by the live path after each append, by
 * `smile rebuild` and by the what-if replay, always with the whole (small) event list of
 * the subject, so late events are handled by sorting and folding again.
 *
 * Per event: look the type up once (interned at compile time), apply ownership rules,
 * start the instance on its trigger, then walk the precompiled (step, condition) entries
 * for that type in the order reset, done, cancel, pause, resume, start; a step that gets
 * done signals the steps that wait on {"step_done": it}. Clocks count wall or business ms
 * through struct engine_calendar; deadlines and warnings are projected when a clock
 * (re)starts and logged when a stop, or as_of, shows they were passed. The result is
 * reused between folds: a warm fold does not allocate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

struct fold {
    const struct engine_process *p;
    const struct engine_calendar *cal;
    struct engine_result *r;
    const struct engine_event *ev; /* the event being applied */
    const char *own_actor, *own_team;
    int32_t nonrep[ENGINE_MAX_STEPS]; /* occurrence of a non-repeat step, -1 for repeat */
    uint32_t nextseq[ENGINE_MAX_STEPS];
    uint32_t ntmp;     /* segments in r->tmp_seg */
    uint32_t done_sig; /* steps done by the current event */
    uint32_t applied[COND_COUNT];
};

/* Event access ---------------------------------------------------------------------------- */

static const char *
top_get(enum field f, const struct engine_event *ev)
{
    switch (f) {
    case FIELD_SUBJECT:
        return ev->subject;
    case FIELD_ACTOR:
        return ev->actor;
    case FIELD_CUSTOMER:
        return ev->customer;
    case FIELD_CHANNEL:
        return ev->channel;
    case FIELD_DATA:
        break;
    }
    return NULL;
}

static json_t *
data_get(const struct path *pa, const struct engine_event *ev)
{
    json_t *v = ev->data;

    for (uint32_t i = 0; i < pa->depth; i++) {
        if (!json_is_object(v))
            return NULL;
        v = json_object_get(v, pa->seg[i]);
    }
    return v;
}

const char *
engine_path_string(const struct path *pa, const struct engine_event *ev)
{
    json_t *v;

    if (pa->field != FIELD_DATA)
        return top_get(pa->field, ev);
    v = data_get(pa, ev);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
value_eq(json_t *have, json_t *want)
{
    if (json_is_string(want))
        return json_is_string(have) &&
               strcmp(json_string_value(have), json_string_value(want)) == 0;
    if (json_is_number(want))
        return json_is_number(have) && json_number_value(have) == json_number_value(want);
    return json_equal(have, want);
}

static bool
test_match(const struct test *t, const struct engine_event *ev)
{
    if (t->path.field != FIELD_DATA) {
        const char *s = top_get(t->path.field, ev);
        if (t->op == TEST_EXISTS)
            return (s != NULL) == t->exists;
        if (s == NULL)
            return false;
        if (t->op == TEST_EQ)
            return strcmp(s, json_string_value(t->value)) == 0;
        for (size_t i = 0; i < json_array_size(t->value); i++)
            if (strcmp(s, json_string_value(json_array_get(t->value, i))) == 0)
                return true;
        return false;
    }
    json_t *v = data_get(&t->path, ev);
    if (t->op == TEST_EXISTS)
        return (v != NULL && !json_is_null(v)) == t->exists;
    if (v == NULL)
        return false;
    if (t->op == TEST_EQ)
        return value_eq(v, t->value);
    for (size_t i = 0; i < json_array_size(t->value); i++)
        if (value_eq(v, json_array_get(t->value, i)))
            return true;
    return false;
}

static bool
tests_match(const struct matcher *m, const struct engine_event *ev)
{
    for (uint32_t i = 0; i < m->ntests; i++)
        if (!test_match(&m->tests[i], ev))
            return false;
    return true;
}

static bool
has_type(const struct matcher *m, int32_t tid)
{
    for (uint32_t i = 0; i < m->ntypes; i++)
        if (m->types[i] == tid)
            return true;
    return false;
}

bool
engine_matcher_match(const struct engine_process *p, const struct matcher *m,
                     const struct engine_event *ev)
{
    int32_t tid;

    if (m->step_ref >= 0 || ev->type == NULL)
        return false;
    tid = engine_type_lookup(p, ev->type);
    return tid >= 0 && has_type(m, tid) && tests_match(m, ev);
}

/* Storage --------------------------------------------------------------------------------- */

static void *
grow(void *p, uint32_t *cap, uint32_t need, size_t elem)
{
    uint32_t c = *cap ? *cap : 8;

    if (need <= *cap)
        return p;
    while (c < need)
        c *= 2;
    *cap = c;
    return xrealloc(p, (size_t)c * elem);
}

static void
log_add(struct fold *f, enum engine_metric_kind kind, uint32_t oi, int64_t at, int64_t event_id)
{
    struct engine_result *r = f->r;

    r->log = grow(r->log, &r->cap_log, r->nlog + 1, sizeof(*r->log));
    r->log[r->nlog++] = (struct engine_metric){kind, oi, at, event_id};
}

static uint32_t
occ_new(struct fold *f, uint32_t step)
{
    struct engine_result *r = f->r;
    struct engine_occ *o;

    r->occ = grow(r->occ, &r->cap_occ, r->nocc + 1, sizeof(*r->occ));
    o = &r->occ[r->nocc];
    memset(o, 0, sizeof(*o));
    o->step = step;
    o->seq = f->nextseq[step]++;
    o->state = ENGINE_PENDING;
    o->result = ENGINE_OPEN;
    o->business = f->p->steps[step].business;
    o->started_at = o->ended_at = o->deadline = o->breached_at = ENGINE_NO_TIME;
    o->seg_head = o->seg_tail = -1;
    return r->nocc++;
}

/* Clock arithmetic ------------------------------------------------------------------------ */

static int64_t
measure(const struct fold *f, const struct engine_occ *o, int64_t from, int64_t to)
{
    int64_t d;

    if (to <= from)
        return 0;
    d = o->business ? f->cal->diff(f->cal->ctx, from, to) : to - from;
    return d > 0 ? d : 0;
}

static int64_t
project(const struct fold *f, const struct engine_occ *o, int64_t from, int64_t amount)
{
    if (amount < 0)
        amount = 0;
    return o->business ? f->cal->add(f->cal->ctx, from, amount, CALENDAR_BUSINESS) : from + amount;
}

/* Rings and business days are resolved against the calendar at the clock's start. */
static int64_t
resolve_ms(const struct fold *f, struct engine_duration d, int64_t at)
{
    if (d.unit == ENGINE_DUR_RINGS)
        return d.amount * f->cal->ring_ms(f->cal->ctx, at);
    return engine_duration_ms(d);
}

/* Segments -------------------------------------------------------------------------------- */

static void
seg_close(struct fold *f, uint32_t oi, int64_t t)
{
    struct engine_result *r = f->r;
    struct engine_occ *o = &r->occ[oi];
    uint32_t si;

    if (t <= o->seg_from)
        return;
    si = f->ntmp;
    if (si + 1 > r->cap_tmp) {
        r->tmp_seg = grow(r->tmp_seg, &r->cap_tmp, si + 1, sizeof(*r->tmp_seg));
        r->seg_next = xrealloc(r->seg_next, (size_t)r->cap_tmp * sizeof(*r->seg_next));
    }
    r->tmp_seg[si] = (struct engine_segment){f->own_actor, f->own_team, o->seg_from, t,
                                             measure(f, o, o->seg_from, t)};
    r->seg_next[si] = -1;
    if (o->seg_tail >= 0)
        r->seg_next[o->seg_tail] = (int32_t)si;
    else
        o->seg_head = (int32_t)si;
    o->seg_tail = (int32_t)si;
    o->seg_from = t;
    f->ntmp++;
}

/* Projects the deadline and the warnings not yet passed from a clock (re)started at
 * o->run_from with o->elapsed_before already counted. */
static void
project_all(struct fold *f, struct engine_occ *o)
{
    if (o->deadline == ENGINE_NO_TIME)
        o->deadline = project(f, o, o->run_from, o->target_ms - o->elapsed_before);
    for (uint32_t i = 0; i < o->nwarn; i++)
        if (!(o->warn_logged & (1u << i)))
            o->warn_at[i] = project(f, o, o->run_from, o->warn_el[i] - o->elapsed_before);
}

/* Starts the clock from zero at t (activation and reset). */
static void
arm(struct fold *f, uint32_t oi, int64_t t)
{
    struct engine_occ *o = &f->r->occ[oi];
    const struct step *s = &f->p->steps[o->step];

    o->state = ENGINE_RUNNING;
    o->started_at = t;
    o->elapsed_before = 0;
    o->run_from = t;
    o->seg_from = t;
    o->seg_head = o->seg_tail = -1;
    o->warn_logged = 0;
    o->breached_at = ENGINE_NO_TIME;
    o->deadline = ENGINE_NO_TIME;
    if (s->within.unit == ENGINE_DUR_BUSINESS_DAYS) {
        /* "N business days" = same local time N working days on; its business ms are the
         * target, so pauses shift the deadline by the working time they took. */
        o->deadline = f->cal->add(f->cal->ctx, t, s->within.amount, CALENDAR_BUSINESS_DAYS);
        o->target_ms = f->cal->diff(f->cal->ctx, t, o->deadline);
        if (o->target_ms < 0)
            o->target_ms = 0;
    } else {
        o->target_ms = resolve_ms(f, s->within, t);
    }
    o->nwarn = s->nwarn;
    for (uint32_t i = 0; i < s->nwarn; i++) {
        int64_t w;
        if (s->warn[i].left)
            w = o->target_ms - resolve_ms(f, s->warn[i].dur, t);
        else
            w = llround((double)o->target_ms * s->warn[i].fraction);
        o->warn_el[i] = w < 0 ? 0 : w > o->target_ms ? o->target_ms : w;
    }
    project_all(f, o);
}

/* Stops a running clock at t, logging the warnings and the breach it passed. */
static void
stop_run(struct fold *f, uint32_t oi, int64_t t)
{
    struct engine_occ *o = &f->r->occ[oi];
    int64_t el = o->elapsed_before + measure(f, o, o->run_from, t);

    for (uint32_t i = 0; i < o->nwarn; i++) {
        if (!(o->warn_logged & (1u << i)) && el > o->warn_el[i]) {
            o->warn_logged |= 1u << i;
            log_add(f, ENGINE_METRIC_WARN, oi, o->warn_at[i], 0);
        }
    }
    if (o->breached_at == ENGINE_NO_TIME && el > o->target_ms) {
        o->breached_at = o->deadline;
        log_add(f, ENGINE_METRIC_BREACH, oi, o->deadline, 0);
    }
    o->elapsed_before = el;
    seg_close(f, oi, t);
    o->deadline = ENGINE_NO_TIME;
    for (uint32_t i = 0; i < o->nwarn; i++)
        if (!(o->warn_logged & (1u << i)))
            o->warn_at[i] = ENGINE_NO_TIME;
}

static void
charge(struct fold *f, struct engine_occ *o, const char *done_actor)
{
    switch (f->p->steps[o->step].charge) {
    case ENGINE_CHARGE_ACTOR:
        o->charged_actor = done_actor ? done_actor : f->own_actor;
        break;
    case ENGINE_CHARGE_TEAM:
        o->charged_actor = NULL;
        break;
    case ENGINE_CHARGE_PER:
        o->charged_actor = o->per;
        break;
    case ENGINE_CHARGE_SEGMENTS:
        o->charged_actor = f->own_actor; /* refined from the segments at the end */
        break;
    }
    o->charged_team = f->own_team;
}

/* Transitions ----------------------------------------------------------------------------- */

static void
activate(struct fold *f, uint32_t oi, const char *per)
{
    struct engine_occ *o = &f->r->occ[oi];

    o->per = per;
    o->start_event_id = f->ev->id;
    arm(f, oi, f->ev->occurred_at);
    log_add(f, ENGINE_METRIC_ACTIVATE, oi, f->ev->occurred_at, f->ev->id);
}

static void
finish(struct fold *f, uint32_t oi, enum cond c)
{
    const struct engine_event *ev = f->ev;
    int64_t t = ev->occurred_at;
    struct engine_occ *o = &f->r->occ[oi];
    const struct step *s = &f->p->steps[o->step];

    switch (c) {
    case COND_RESET:
        if (o->state == ENGINE_RUNNING)
            stop_run(f, oi, t);
        o = &f->r->occ[oi];
        arm(f, oi, t);
        log_add(f, ENGINE_METRIC_RESET, oi, t, ev->id);
        return;
    case COND_DONE:
    case COND_CANCEL:
        if (o->state == ENGINE_RUNNING)
            stop_run(f, oi, t);
        o = &f->r->occ[oi];
        o->ended_at = t;
        o->end_event_id = ev->id;
        o->elapsed_ms = o->elapsed_before;
        if (c == COND_DONE) {
            o->state = ENGINE_DONE;
            o->result = o->elapsed_ms > o->target_ms ? ENGINE_BREACHED : ENGINE_MET;
            charge(f, o, ev->actor);
            log_add(f, ENGINE_METRIC_FULFIL, oi, t, ev->id);
            f->done_sig |= 1u << o->step;
        } else {
            int64_t excl = s->has_excl ? resolve_ms(f, s->excl, o->started_at) : -1;
            o->state = ENGINE_CANCELLED;
            /* Cancelled with the whole allowance used up (at or after the deadline) is a
             * breach: a ring that rang its full 3 rings unanswered, a visitor who waited the
             * full 5 s and left. Done exactly at the deadline is still met (above). */
            if (o->elapsed_ms >= o->target_ms)
                o->result = ENGINE_BREACHED;
            else if (o->elapsed_ms <= excl)
                o->result = ENGINE_EXCLUDED;
            else
                o->result = s->cancel_else;
            charge(f, o, NULL);
            log_add(f, ENGINE_METRIC_CANCEL, oi, t, ev->id);
        }
        return;
    case COND_PAUSE:
        if (o->state != ENGINE_RUNNING)
            return;
        stop_run(f, oi, t);
        f->r->occ[oi].state = ENGINE_PAUSED;
        log_add(f, ENGINE_METRIC_PAUSE, oi, t, ev->id);
        return;
    case COND_RESUME:
        if (o->state != ENGINE_PAUSED)
            return;
        o->state = ENGINE_RUNNING;
        o->run_from = t;
        o->seg_from = t;
        o->deadline = ENGINE_NO_TIME;
        project_all(f, o);
        log_add(f, ENGINE_METRIC_RESUME, oi, t, ev->id);
        return;
    case COND_START:
    case COND_COUNT:
        break;
    }
}

static bool
is_open(const struct engine_occ *o)
{
    return o->state == ENGINE_RUNNING || o->state == ENGINE_PAUSED;
}

static void
start_step(struct fold *f, uint32_t step)
{
    const struct step *s = &f->p->steps[step];
    const char *per = NULL;

    if (!s->repeat) {
        uint32_t oi = (uint32_t)f->nonrep[step];
        if (f->r->occ[oi].state == ENGINE_PENDING)
            activate(f, oi, NULL);
        return;
    }
    if (s->has_per) {
        per = engine_path_string(&s->per, f->ev);
        /* One open occurrence per value: a second ring at the same agent continues it. */
        if (per != NULL)
            for (uint32_t i = 0; i < f->r->nocc; i++) {
                const struct engine_occ *o = &f->r->occ[i];
                if (o->step == step && is_open(o) && o->per != NULL && strcmp(o->per, per) == 0)
                    return;
            }
    }
    activate(f, occ_new(f, step), per);
}

static void
apply(struct fold *f, uint32_t step, enum cond c, const struct matcher *m)
{
    const char *key = NULL;

    if (c == COND_START) {
        start_step(f, step);
        return;
    }
    if (m != NULL && m->has_per) {
        key = engine_path_string(&m->per, f->ev);
        if (key == NULL)
            return;
    }
    if (!f->p->steps[step].repeat) {
        uint32_t oi = (uint32_t)f->nonrep[step];
        if (is_open(&f->r->occ[oi]))
            finish(f, oi, c);
        return;
    }
    for (uint32_t i = 0; i < f->r->nocc; i++) {
        const struct engine_occ *o = &f->r->occ[i];
        if (o->step != step || !is_open(o))
            continue;
        if (key != NULL && (o->per == NULL || strcmp(o->per, key) != 0))
            continue;
        finish(f, i, c);
    }
}

static bool
same(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
apply_owner(struct fold *f, int32_t tid)
{
    const struct engine_process *p = f->p;
    const struct engine_event *ev = f->ev;

    for (uint32_t i = 0; i < p->nown; i++) {
        const struct owner_rule *o = &p->own[i];
        const char *actor = f->own_actor, *team = f->own_team;
        if (!has_type(&o->on, tid) || !tests_match(&o->on, ev))
            continue;
        if (o->has_actor)
            actor = engine_path_string(&o->actor, ev);
        if (o->has_team)
            team = engine_path_string(&o->team, ev);
        if (same(actor, f->own_actor) && same(team, f->own_team))
            continue;
        /* Close the running segments under the old owner; new ones start now. */
        for (uint32_t k = 0; k < f->r->nocc; k++)
            if (f->r->occ[k].state == ENGINE_RUNNING)
                seg_close(f, k, ev->occurred_at);
        f->own_actor = actor;
        f->own_team = team;
    }
}

static void
trigger(struct fold *f)
{
    const struct engine_process *p = f->p;
    struct engine_result *r = f->r;

    r->started = true;
    r->trigger_event_id = f->ev->id;
    r->started_at = f->ev->occurred_at;
    for (uint32_t s = 0; s < p->nsteps; s++) {
        if (!p->steps[s].at_trigger)
            continue;
        f->applied[COND_START] |= 1u << s;
        start_step(f, s);
    }
}

/* End of the fold ------------------------------------------------------------------------- */

static void
close_open(struct fold *f, int64_t as_of)
{
    struct engine_result *r = f->r;

    for (uint32_t oi = 0; oi < r->nocc; oi++) {
        struct engine_occ *o = &r->occ[oi];
        if (o->state == ENGINE_RUNNING) {
            int64_t el = o->elapsed_before + measure(f, o, o->run_from, as_of);
            for (uint32_t i = 0; i < o->nwarn; i++) {
                if (!(o->warn_logged & (1u << i)) && el > o->warn_el[i]) {
                    o->warn_logged |= 1u << i;
                    log_add(f, ENGINE_METRIC_WARN, oi, o->warn_at[i], 0);
                    o = &r->occ[oi];
                }
            }
            if (o->breached_at == ENGINE_NO_TIME && el > o->target_ms) {
                o->breached_at = o->deadline;
                log_add(f, ENGINE_METRIC_BREACH, oi, o->deadline, 0);
                o = &r->occ[oi];
            }
            o->elapsed_ms = el;
            seg_close(f, oi, as_of);
            o = &r->occ[oi];
        } else if (o->state == ENGINE_PAUSED) {
            o->elapsed_ms = o->elapsed_before;
        } else {
            continue;
        }
        o->result = o->breached_at != ENGINE_NO_TIME ? ENGINE_BREACHED : ENGINE_OPEN;
        charge(f, o, NULL);
    }
}

/* charge_to "segments": the owner who held the running clock longest (ties: the later). */
static void
charge_segments(struct fold *f)
{
    struct engine_result *r = f->r;

    for (uint32_t oi = 0; oi < r->nocc; oi++) {
        struct engine_occ *o = &r->occ[oi];
        int64_t best = -1;
        if (o->state == ENGINE_PENDING || f->p->steps[o->step].charge != ENGINE_CHARGE_SEGMENTS ||
            o->seg_head < 0)
            continue;
        for (int32_t a = o->seg_head; a >= 0; a = r->seg_next[a]) {
            int64_t sum = 0;
            for (int32_t b = o->seg_head; b >= 0; b = r->seg_next[b])
                if (same(r->tmp_seg[a].actor, r->tmp_seg[b].actor))
                    sum += r->tmp_seg[b].ms;
            if (sum >= best) {
                best = sum;
                o->charged_actor = r->tmp_seg[a].actor;
                o->charged_team = r->tmp_seg[a].team;
            }
        }
    }
}

/* Orders occurrences by (step, seq), lays segments out per occurrence, sorts the log. */
static void
finalise(struct fold *f)
{
    struct engine_result *r = f->r;
    uint32_t pos[ENGINE_MAX_STEPS + 1] = {0};
    bool identity = true;
    uint32_t nseg = 0;

    r->order = grow(r->order, &r->cap_order, r->nocc + 1, sizeof(*r->order));
    for (uint32_t i = 0; i < r->nocc; i++)
        pos[r->occ[i].step + 1]++;
    for (uint32_t s = 1; s <= f->p->nsteps; s++)
        pos[s] += pos[s - 1];
    for (uint32_t i = 0; i < r->nocc; i++) {
        r->order[i] = pos[r->occ[i].step]++;
        identity = identity && r->order[i] == i;
    }
    if (!identity) {
        r->tmp_occ = grow(r->tmp_occ, &r->cap_tmp_occ, r->nocc, sizeof(*r->tmp_occ));
        for (uint32_t i = 0; i < r->nocc; i++)
            r->tmp_occ[r->order[i]] = r->occ[i];
        memcpy(r->occ, r->tmp_occ, (size_t)r->nocc * sizeof(*r->occ));
        for (uint32_t i = 0; i < r->nlog; i++)
            r->log[i].occ = r->order[r->log[i].occ];
    }
    r->seg = grow(r->seg, &r->cap_seg, f->ntmp + 1, sizeof(*r->seg));
    for (uint32_t oi = 0; oi < r->nocc; oi++) {
        struct engine_occ *o = &r->occ[oi];
        o->seg_first = nseg;
        for (int32_t s = o->seg_head; s >= 0; s = r->seg_next[s])
            r->seg[nseg++] = r->tmp_seg[s];
        o->nseg = nseg - o->seg_first;
    }
    r->nseg = nseg;
    /* Stable insertion sort by instant: the log is nearly sorted (only warnings and
     * breaches are found after the fact). */
    for (uint32_t i = 1; i < r->nlog; i++) {
        struct engine_metric m = r->log[i];
        uint32_t j = i;
        while (j > 0 && r->log[j - 1].at > m.at) {
            r->log[j] = r->log[j - 1];
            j--;
        }
        r->log[j] = m;
    }
}

/* Public ---------------------------------------------------------------------------------- */

void
engine_result_init(struct engine_result *r)
{
    memset(r, 0, sizeof(*r));
}

void
engine_result_free(struct engine_result *r)
{
    if (r == NULL)
        return;
    free(r->occ);
    free(r->seg);
    free(r->log);
    free(r->tmp_seg);
    free(r->seg_next);
    free(r->order);
    free(r->tmp_occ);
    memset(r, 0, sizeof(*r));
}

static bool
before(const struct engine_event *a, const struct engine_event *b)
{
    return a->occurred_at < b->occurred_at || (a->occurred_at == b->occurred_at && a->id < b->id);
}

int
engine_fold(const struct engine_process *p, const struct engine_calendar *cal,
            const struct engine_event *events, size_t n, int64_t as_of, struct engine_result *r)
{
    struct fold f;

    r->process = p;
    r->started = false;
    r->trigger_event_id = 0;
    r->started_at = ENGINE_NO_TIME;
    r->as_of = as_of;
    r->nocc = r->nseg = r->nlog = 0;
    for (size_t i = 1; i < n; i++)
        if (before(&events[i], &events[i - 1]))
            return SMILE_EINVAL;

    f.p = p;
    f.cal = cal;
    f.r = r;
    f.ev = NULL;
    f.own_actor = f.own_team = NULL;
    f.ntmp = 0;
    for (uint32_t s = 0; s < p->nsteps; s++) {
        f.nextseq[s] = 0;
        f.nonrep[s] = -1;
        if (!p->steps[s].repeat)
            f.nonrep[s] = (int32_t)occ_new(&f, s);
    }

    for (size_t i = 0; i < n; i++) {
        const struct engine_event *ev = &events[i];
        int32_t tid;
        uint32_t first, last, handled = 0;

        if (ev->type == NULL)
            continue;
        tid = engine_type_lookup(p, ev->type);
        if (tid < 0)
            continue;
        f.ev = ev;
        if (p->type_flags[tid] & TYPE_OWNER)
            apply_owner(&f, tid);
        memset(f.applied, 0, sizeof(f.applied));
        f.done_sig = 0;
        if (!r->started) {
            if (!(p->type_flags[tid] & TYPE_TRIGGER) || !tests_match(&p->trigger, ev))
                continue;
            trigger(&f);
        }
        first = p->type_first[tid];
        last = p->type_first[tid + 1];
        for (uint32_t e = first; e < last; e++) {
            const struct entry *en = &p->entries[e];
            uint32_t bit = 1u << en->step;
            if ((f.applied[en->cond] & bit) || !tests_match(en->m, ev))
                continue;
            f.applied[en->cond] |= bit;
            apply(&f, en->step, (enum cond)en->cond, en->m);
        }
        /* Chained steps: each step done by this event signals its waiters once. */
        while (f.done_sig & ~handled) {
            uint32_t s = (uint32_t)__builtin_ctz(f.done_sig & ~handled);
            handled |= 1u << s;
            for (uint32_t e = p->sig_first[s]; e < p->sig_first[s + 1]; e++) {
                const struct entry *en = &p->sig_entries[e];
                uint32_t bit = 1u << en->step;
                if (f.applied[en->cond] & bit)
                    continue;
                f.applied[en->cond] |= bit;
                apply(&f, en->step, (enum cond)en->cond, NULL);
            }
        }
    }
    close_open(&f, as_of);
    charge_segments(&f);
    finalise(&f);
    return SMILE_OK;
}

static int
event_cmp(const void *a, const void *b)
{
    const struct engine_event *x = a, *y = b;

    if (before(x, y))
        return -1;
    return before(y, x) ? 1 : 0;
}

void
engine_events_sort(struct engine_event *events, size_t n)
{
    qsort(events, n, sizeof(*events), event_cmp);
}

bool
engine_result_check(const struct engine_result *r)
{
    for (uint32_t i = 0; i < r->nocc; i++) {
        const struct engine_occ *o = &r->occ[i];
        int64_t sum = 0;
        if (i > 0 && (r->occ[i - 1].step > o->step ||
                      (r->occ[i - 1].step == o->step && r->occ[i - 1].seq >= o->seq)))
            return false;
        if (o->seg_first + o->nseg > r->nseg)
            return false;
        for (uint32_t s = 0; s < o->nseg; s++) {
            const struct engine_segment *sg = &r->seg[o->seg_first + s];
            if (sg->to <= sg->from || sg->ms < 0)
                return false;
            sum += sg->ms;
        }
        switch (o->state) {
        case ENGINE_PENDING:
            if (o->result != ENGINE_OPEN || o->nseg != 0 || o->started_at != ENGINE_NO_TIME)
                return false;
            continue;
        case ENGINE_DONE:
            if (o->result != ENGINE_MET && o->result != ENGINE_BREACHED)
                return false;
            break;
        case ENGINE_CANCELLED:
            if (o->result == ENGINE_OPEN || o->result == ENGINE_MET)
                return false;
            break;
        case ENGINE_RUNNING:
        case ENGINE_PAUSED:
            if (o->result != ENGINE_OPEN && o->result != ENGINE_BREACHED)
                return false;
            break;
        }
        if (sum != o->elapsed_ms || o->elapsed_ms < 0)
            return false;
        if ((o->result == ENGINE_BREACHED) != (o->elapsed_ms > o->target_ms) &&
            o->state != ENGINE_CANCELLED)
            return false;
    }
    for (uint32_t i = 0; i < r->nlog; i++) {
        if (r->log[i].occ >= r->nocc || (i > 0 && r->log[i - 1].at > r->log[i].at))
            return false;
    }
    return true;
}

int64_t
engine_result_next_due(const struct engine_result *r, uint32_t *occ, enum engine_metric_kind *kind)
{
    int64_t best = ENGINE_NO_TIME;

    for (uint32_t i = 0; i < r->nocc; i++) {
        const struct engine_occ *o = &r->occ[i];
        if (o->state != ENGINE_RUNNING)
            continue;
        for (uint32_t w = 0; w < o->nwarn; w++) {
            if ((o->warn_logged & (1u << w)) || o->warn_at[w] == ENGINE_NO_TIME)
                continue;
            if (best == ENGINE_NO_TIME || o->warn_at[w] < best) {
                best = o->warn_at[w];
                if (occ)
                    *occ = i;
                if (kind)
                    *kind = ENGINE_METRIC_WARN;
            }
        }
        if (o->breached_at == ENGINE_NO_TIME && o->deadline != ENGINE_NO_TIME &&
            (best == ENGINE_NO_TIME || o->deadline < best)) {
            best = o->deadline;
            if (occ)
                *occ = i;
            if (kind)
                *kind = ENGINE_METRIC_BREACH;
        }
    }
    return best;
}
