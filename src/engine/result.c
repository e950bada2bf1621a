/*
 * result.c — the fold's output as JSON (for the API, `smile replay` and debugging), and
 * the names of states, results and metric kinds. Times are RFC 3339 UTC strings; an
 * instant that does not exist (ENGINE_NO_TIME) is null.
 */
#include "engine/engine_int.h"

const char *
engine_state_name(enum engine_state s)
{
    static const char *const names[] = {"pending", "running", "paused", "done", "cancelled"};

    return (unsigned)s < ARRAY_LEN(names) ? names[s] : "?";
}

const char *
engine_outcome_name(enum engine_outcome o)
{
    static const char *const names[] = {"open", "met", "breached", "excluded"};

    return (unsigned)o < ARRAY_LEN(names) ? names[o] : "?";
}

const char *
engine_metric_name(enum engine_metric_kind k)
{
    static const char *const names[] = {"activate", "pause",  "resume", "reset",
                                        "warn",     "breach", "fulfil", "cancel"};

    return (unsigned)k < ARRAY_LEN(names) ? names[k] : "?";
}

static json_t *
time_json(int64_t ms)
{
    char t[TIME_RFC3339_LEN + 1];

    if (ms == ENGINE_NO_TIME)
        return json_null();
    time_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *
str_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *
occ_json(const struct engine_result *r, const struct engine_occ *o)
{
    json_t *j = json_object(), *a;

    json_object_set_new(j, "seq", json_integer(o->seq));
    json_object_set_new(j, "state", json_string(engine_state_name(o->state)));
    json_object_set_new(j, "result", json_string(engine_outcome_name(o->result)));
    json_object_set_new(j, "time", json_string(o->business ? "business" : "wall"));
    json_object_set_new(j, "per", str_json(o->per));
    json_object_set_new(j, "started_at", time_json(o->started_at));
    json_object_set_new(j, "ended_at", time_json(o->ended_at));
    json_object_set_new(j, "elapsed_ms", json_integer(o->elapsed_ms));
    json_object_set_new(j, "target_ms", json_integer(o->target_ms));
    json_object_set_new(j, "deadline", time_json(o->deadline));
    json_object_set_new(j, "breached_at", time_json(o->breached_at));
    a = json_array();
    if (o->state == ENGINE_RUNNING || o->state == ENGINE_PAUSED)
        for (uint32_t i = 0; i < o->nwarn; i++)
            json_array_append_new(a, time_json(o->warn_at[i]));
    json_object_set_new(j, "warn_at", a);
    json_object_set_new(j, "charged_actor", str_json(o->charged_actor));
    json_object_set_new(j, "charged_team", str_json(o->charged_team));
    json_object_set_new(j, "start_event_id",
                        o->start_event_id ? json_integer(o->start_event_id) : json_null());
    json_object_set_new(j, "end_event_id",
                        o->end_event_id ? json_integer(o->end_event_id) : json_null());
    a = json_array();
    for (uint32_t i = 0; i < o->nseg; i++) {
        const struct engine_segment *s = &r->seg[o->seg_first + i];
        json_t *sj = json_object();
        json_object_set_new(sj, "actor", str_json(s->actor));
        json_object_set_new(sj, "team", str_json(s->team));
        json_object_set_new(sj, "from", time_json(s->from));
        json_object_set_new(sj, "to", time_json(s->to));
        json_object_set_new(sj, "ms", json_integer(s->ms));
        json_array_append_new(a, sj);
    }
    json_object_set_new(j, "segments", a);
    return j;
}

json_t *
engine_result_to_json(const struct engine_result *r)
{
    const struct engine_process *p = r->process;
    json_t *j = json_object(), *steps = json_array(), *log = json_array();
    uint32_t oi = 0;

    json_object_set_new(j, "process", json_string(p->name));
    if (p->version > 0)
        json_object_set_new(j, "version", json_integer(p->version));
    json_object_set_new(j, "started", json_boolean(r->started));
    json_object_set_new(j, "trigger_event_id",
                        r->started ? json_integer(r->trigger_event_id) : json_null());
    json_object_set_new(j, "started_at", time_json(r->started_at));
    json_object_set_new(j, "as_of", time_json(r->as_of));
    for (uint32_t s = 0; s < p->nsteps; s++) {
        json_t *sj = json_object(), *occ = json_array();
        json_object_set_new(sj, "key", json_string(p->steps[s].key));
        json_object_set_new(sj, "function", json_string(p->steps[s].function));
        for (; oi < r->nocc && r->occ[oi].step == s; oi++)
            json_array_append_new(occ, occ_json(r, &r->occ[oi]));
        json_object_set_new(sj, "occurrences", occ);
        json_array_append_new(steps, sj);
    }
    json_object_set_new(j, "steps", steps);
    for (uint32_t i = 0; i < r->nlog; i++) {
        const struct engine_metric *m = &r->log[i];
        const struct engine_occ *o = &r->occ[m->occ];
        json_t *mj = json_object();
        json_object_set_new(mj, "kind", json_string(engine_metric_name(m->kind)));
        json_object_set_new(mj, "step", json_string(p->steps[o->step].key));
        json_object_set_new(mj, "seq", json_integer(o->seq));
        json_object_set_new(mj, "at", time_json(m->at));
        json_object_set_new(mj, "event_id", m->event_id ? json_integer(m->event_id) : json_null());
        json_array_append_new(log, mj);
    }
    json_object_set_new(j, "log", log);
    return j;
}
