/*
 * process.c — process documents: validation, compilation into the immutable struct
 * engine_process the fold runs (engine_int.h), the canonical serialisation, and the
 * version pick. A document comes from the API when a version is published (or from the
 * built-in defaults); every problem is reported with its JSON Pointer so the editor can
 * point at the field. Pure: no I/O, no globals.
 *
 * Document (see docs/processes.md):
 *   { "name", "version"?, "published_at"?, "description"?, "calendar"?,
 *     "trigger": matcher, "ownership"?: [ {"on": matcher, "actor"?: path, "team"?: path} ],
 *     "steps": [ { "key", "title", "function", "repeat"?, "starts_on"?, "done_on",
 *                  "pauses_on"?, "resumes_on"?, "cancels_on"?, "resets_on"?,
 *                  "standard": {"within", "time"?}, "warn_at"?, "charge_to"?,
 *                  "on_cancel"?: {"excluded_if_within"?, "else"?},
 *                  "escalate"?: [ {"on", "at"?, "do", "to"?} ] } ] }
 *   matcher = {"type": t | [t…], "where"?: {path: value | {"in": […]} | {"exists": b}},
 *              "per"?: path} | {"step_done": key}
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

static const char *const functions[] = {"answer_call", "call_back", "reply", "assign",
                                        "resolve",     "greet",     "close", "follow_up",
                                        "escalate",    "survey",    "other"};

static const char *const cond_names[COND_COUNT] = {"resets_on", "done_on",    "cancels_on",
                                                   "pauses_on", "resumes_on", "starts_on"};

/* Compiler state: the process being built, the error sink, and the type table. */
struct comp {
    struct engine_process *p;
    struct smile_err *err;
    bool bad;
    uint32_t cap_types;
};

static void bad(struct comp *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad(struct comp *c, const char *path, const char *fmt, ...)
{
    char msg[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    smile_err_field(c->err, path, "%s", msg);
    c->bad = true;
}

/* Appends "/name" to base (JSON Pointer escaping of '~' and '/'). */
static void
ptr(char *out, size_t outlen, const char *base, const char *name)
{
    size_t n = (size_t)snprintf(out, outlen, "%s/", base);

    for (const char *s = name; *s && n + 3 < outlen; s++) {
        if (*s == '~' || *s == '/') {
            out[n++] = '~';
            out[n++] = *s == '~' ? '0' : '1';
        } else {
            out[n++] = *s;
        }
    }
    if (n >= outlen)
        n = outlen - 1;
    out[n] = '\0';
}

static void
ptri(char *out, size_t outlen, const char *base, size_t i)
{
    int n = snprintf(out, outlen, "%s/%zu", base, i);

    if (n < 0 || (size_t)n >= outlen)
        out[outlen - 1] = '\0'; /* truncated paths still point near the problem */
}

static void
check_fields(struct comp *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    char p[128];

    json_object_foreach(obj, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            if (strcmp(k, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            ptr(p, sizeof(p), path, k);
            bad(c, p, "unknown field \"%.60s\"", k);
        }
    }
}

static int32_t
intern(struct comp *c, const char *type, const char *path)
{
    struct engine_process *p = c->p;

    for (uint32_t i = 0; i < p->ntypes; i++)
        if (strcmp(p->types[i], type) == 0)
            return (int32_t)i;
    if (p->ntypes >= ENGINE_MAX_TYPES) {
        bad(c, path, "more than %d event types", ENGINE_MAX_TYPES);
        return -1;
    }
    if (p->ntypes == c->cap_types) {
        c->cap_types = c->cap_types ? c->cap_types * 2 : 16;
        p->types = xrealloc(p->types, c->cap_types * sizeof(*p->types));
    }
    p->types[p->ntypes] = xstrdup(type);
    return (int32_t)p->ntypes++;
}

static bool
valid_type_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            return false;
    }
    return true;
}

static void
path_free(struct path *pa)
{
    free(pa->text);
    for (int i = 0; i < ENGINE_MAX_PATH; i++)
        free(pa->seg[i]);
    memset(pa, 0, sizeof(*pa));
}

/* Parses "actor", "subject", "customer", "channel" or "data.a.b" into pa. */
static bool
parse_path(struct comp *c, const char *text, struct path *pa, const char *errpath)
{
    memset(pa, 0, sizeof(*pa));
    if (strcmp(text, "subject") == 0)
        pa->field = FIELD_SUBJECT;
    else if (strcmp(text, "actor") == 0)
        pa->field = FIELD_ACTOR;
    else if (strcmp(text, "customer") == 0)
        pa->field = FIELD_CUSTOMER;
    else if (strcmp(text, "channel") == 0)
        pa->field = FIELD_CHANNEL;
    else if (strncmp(text, "data.", 5) == 0) {
        const char *s = text + 5;
        pa->field = FIELD_DATA;
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t n = dot ? (size_t)(dot - s) : strlen(s);
            if (n == 0 || n > 64 || pa->depth >= ENGINE_MAX_PATH) {
                bad(c, errpath, "bad field path \"%.60s\"", text);
                path_free(pa);
                return false;
            }
            pa->seg[pa->depth++] = xstrndup(s, n);
            if (dot == NULL)
                break;
            s = dot + 1;
        }
    } else {
        bad(c, errpath,
            "unknown event field \"%.60s\" (subject, actor, customer, channel or data.<name>)",
            text);
        return false;
    }
    pa->text = xstrdup(text);
    return true;
}

static bool
scalar(json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

static void
parse_test(struct comp *c, const char *field, json_t *v, struct test *t, const char *path)
{
    bool top;

    if (!parse_path(c, field, &t->path, path))
        return;
    top = t->path.field != FIELD_DATA;
    if (json_is_object(v)) {
        json_t *in = json_object_get(v, "in");
        json_t *ex = json_object_get(v, "exists");
        char p[128];
        if (json_object_size(v) != 1 || (in == NULL && ex == NULL)) {
            bad(c, path, "a test is a value, {\"in\": [...]} or {\"exists\": true|false}");
            return;
        }
        if (in != NULL) {
            ptr(p, sizeof(p), path, "in");
            if (!json_is_array(in) || json_array_size(in) == 0 ||
                json_array_size(in) > ENGINE_MAX_IN) {
                bad(c, p, "\"in\" takes a list of 1 to %d values", ENGINE_MAX_IN);
                return;
            }
            for (size_t i = 0; i < json_array_size(in); i++) {
                json_t *e = json_array_get(in, i);
                if (!scalar(e) || (top && !json_is_string(e))) {
                    char pi[128];
                    ptri(pi, sizeof(pi), p, i);
                    bad(c, pi,
                        top ? "must be a string"
                            : "must be a string, number, "
                              "boolean or null");
                    return;
                }
            }
            t->op = TEST_IN;
            t->value = json_incref(in);
        } else {
            ptr(p, sizeof(p), path, "exists");
            if (!json_is_boolean(ex)) {
                bad(c, p, "must be true or false");
                return;
            }
            t->op = TEST_EXISTS;
            t->exists = json_is_true(ex);
        }
        return;
    }
    if (!scalar(v) || (top && !json_is_string(v))) {
        bad(c, path, top ? "must be a string" : "must be a string, number, boolean or null");
        return;
    }
    t->op = TEST_EQ;
    t->value = json_incref(v);
}

enum {
    M_STEP_REF = 1, /* {"step_done": key} allowed */
    M_PER = 2,      /* "per" allowed */
};

static int
step_index(const struct engine_process *p, const char *key)
{
    for (uint32_t i = 0; i < p->nsteps; i++)
        if (p->steps[i].key != NULL && strcmp(p->steps[i].key, key) == 0)
            return (int)i;
    return -1;
}

static void
parse_matcher(struct comp *c, json_t *j, const char *path, struct matcher *m, int flags)
{
    static const char *const allowed[] = {"type", "where", "per", NULL};
    json_t *type, *where, *per, *ref;
    char p[128];

    m->step_ref = -1;
    if (!json_is_object(j)) {
        bad(c, path, "a matcher is an object: {\"type\": ..., \"where\": {...}}");
        return;
    }
    ref = json_object_get(j, "step_done");
    if (ref != NULL) {
        ptr(p, sizeof(p), path, "step_done");
        if (!(flags & M_STEP_REF)) {
            bad(c, p, "a step reference is not allowed here");
            return;
        }
        if (json_object_size(j) != 1) {
            bad(c, path, "{\"step_done\": key} takes no other field");
            return;
        }
        if (!json_is_string(ref)) {
            bad(c, p, "must be a step key");
            return;
        }
        m->step_ref = step_index(c->p, json_string_value(ref));
        if (m->step_ref < 0)
            bad(c, p, "unknown step \"%.60s\"", json_string_value(ref));
        return;
    }
    check_fields(c, j, path, allowed);
    type = json_object_get(j, "type");
    ptr(p, sizeof(p), path, "type");
    if (type == NULL) {
        bad(c, p, "required: the event type (or a list of types)");
        return;
    }
    if (json_is_string(type)) {
        if (!valid_type_name(json_string_value(type))) {
            bad(c, p, "bad event type \"%.60s\"", json_string_value(type));
            return;
        }
        m->types = xmalloc(sizeof(int32_t));
        m->types[0] = intern(c, json_string_value(type), p);
        m->ntypes = m->types[0] >= 0;
    } else if (json_is_array(type) && json_array_size(type) > 0 &&
               json_array_size(type) <= ENGINE_MAX_MATCHERS) {
        m->types = xcalloc(json_array_size(type), sizeof(int32_t));
        for (size_t i = 0; i < json_array_size(type); i++) {
            json_t *t = json_array_get(type, i);
            char pi[128];
            ptri(pi, sizeof(pi), p, i);
            if (!json_is_string(t) || !valid_type_name(json_string_value(t))) {
                bad(c, pi, "bad event type");
                continue;
            }
            int32_t id = intern(c, json_string_value(t), pi);
            if (id >= 0)
                m->types[m->ntypes++] = id;
        }
    } else {
        bad(c, p, "must be an event type or a list of 1 to %d types", ENGINE_MAX_MATCHERS);
        return;
    }
    where = json_object_get(j, "where");
    if (where != NULL) {
        const char *k;
        json_t *v;
        ptr(p, sizeof(p), path, "where");
        if (!json_is_object(where) || json_object_size(where) > ENGINE_MAX_WHERE) {
            bad(c, p, "must be an object of at most %d field tests", ENGINE_MAX_WHERE);
            return;
        }
        m->tests = xcalloc(json_object_size(where) + 1, sizeof(struct test));
        json_object_foreach(where, k, v)
        {
            char pk[128];
            ptr(pk, sizeof(pk), p, k);
            parse_test(c, k, v, &m->tests[m->ntests++], pk);
        }
    }
    per = json_object_get(j, "per");
    if (per != NULL) {
        ptr(p, sizeof(p), path, "per");
        if (!(flags & M_PER))
            bad(c, p, "\"per\" needs a step with \"repeat\": {\"per\": field}");
        else if (!json_is_string(per))
            bad(c, p, "must be an event field");
        else if (parse_path(c, json_string_value(per), &m->per, p))
            m->has_per = true;
    }
}

static void
parse_cond(struct comp *c, json_t *j, const char *path, struct cond_list *cl, int flags)
{
    if (json_is_array(j)) {
        if (json_array_size(j) > ENGINE_MAX_MATCHERS) {
            bad(c, path, "at most %d matchers", ENGINE_MAX_MATCHERS);
            return;
        }
        cl->m = xcalloc(json_array_size(j) + 1, sizeof(struct matcher));
        for (size_t i = 0; i < json_array_size(j); i++) {
            char p[128];
            ptri(p, sizeof(p), path, i);
            parse_matcher(c, json_array_get(j, i), p, &cl->m[cl->n++], flags);
        }
    } else {
        cl->m = xcalloc(1, sizeof(struct matcher));
        cl->n = 1;
        parse_matcher(c, j, path, &cl->m[0], flags);
    }
}

static bool
parse_dur(struct comp *c, json_t *j, const char *path, struct engine_duration *d)
{
    if (!json_is_string(j) || engine_duration_parse(json_string_value(j), d) != SMILE_OK) {
        bad(c, path,
            "bad duration (examples: \"500ms\", \"5s\", \"30m\", \"24h\", \"3 rings\", "
            "\"4 business hours\", \"3 business days\")");
        return false;
    }
    return true;
}

static bool
is_business(enum engine_dur_unit u)
{
    return u == ENGINE_DUR_BUSINESS_MIN || u == ENGINE_DUR_BUSINESS_H ||
           u == ENGINE_DUR_BUSINESS_DAYS;
}

static void
parse_standard(struct comp *c, json_t *j, const char *path, struct step *s)
{
    static const char *const allowed[] = {"within", "time", NULL};
    json_t *within, *time;
    char p[128];

    if (!json_is_object(j)) {
        bad(c, path, "required: {\"within\": duration, \"time\": \"business\"|\"wall\"}");
        return;
    }
    check_fields(c, j, path, allowed);
    within = json_object_get(j, "within");
    ptr(p, sizeof(p), path, "within");
    if (within == NULL) {
        bad(c, p, "required");
        return;
    }
    if (!parse_dur(c, within, p, &s->within))
        return;
    if (s->within.amount <= 0)
        bad(c, p, "must be more than zero");
    s->business = is_business(s->within.unit);
    time = json_object_get(j, "time");
    if (time != NULL) {
        ptr(p, sizeof(p), path, "time");
        if (json_is_string(time) && strcmp(json_string_value(time), "business") == 0)
            s->business = true;
        else if (json_is_string(time) && strcmp(json_string_value(time), "wall") == 0) {
            if (is_business(s->within.unit))
                bad(c, p, "a business duration is measured in business time");
            s->business = false;
        } else
            bad(c, p, "must be \"business\" or \"wall\"");
    }
}

static void
parse_warn(struct comp *c, json_t *j, const char *path, struct step *s)
{
    json_t *one = NULL;
    size_t n;

    if (j == NULL) {
        s->nwarn = 1;
        s->warn[0].fraction = 0.8;
        return;
    }
    if (!json_is_array(j)) {
        one = j;
        n = 1;
    } else {
        n = json_array_size(j);
    }
    if (n > ENGINE_MAX_WARN) {
        bad(c, path, "at most %d warning points", ENGINE_MAX_WARN);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *w = one ? one : json_array_get(j, i);
        struct warn *wa = &s->warn[s->nwarn];
        char p[128];
        if (one)
            snprintf(p, sizeof(p), "%s", path);
        else
            ptri(p, sizeof(p), path, i);
        if (json_is_number(w)) {
            double f = json_number_value(w);
            if (!(f > 0 && f < 1)) {
                bad(c, p, "a fraction of the standard, between 0 and 1 (exclusive)");
                continue;
            }
            wa->fraction = f;
            s->nwarn++;
        } else if (json_is_string(w)) {
            const char *str = json_string_value(w);
            size_t len = strlen(str);
            char buf[64];
            if (len < 6 || len >= sizeof(buf) || strcmp(str + len - 5, " left") != 0) {
                bad(c, p, "a fraction (0.8) or \"<duration> left\" (\"1 ring left\")");
                continue;
            }
            memcpy(buf, str, len - 5);
            buf[len - 5] = '\0';
            if (engine_duration_parse(buf, &wa->dur) != SMILE_OK) {
                bad(c, p, "bad duration before \"left\"");
                continue;
            }
            if (wa->dur.unit == ENGINE_DUR_BUSINESS_DAYS) {
                bad(c, p, "\"business days left\" is not supported; use a fraction");
                continue;
            }
            if (is_business(wa->dur.unit) && !s->business) {
                bad(c, p, "business time left on a wall-clock standard");
                continue;
            }
            wa->left = true;
            s->nwarn++;
        } else {
            bad(c, p, "a fraction (0.8) or \"<duration> left\" (\"1 ring left\")");
        }
    }
}

static void
parse_on_cancel(struct comp *c, json_t *j, const char *path, struct step *s)
{
    static const char *const allowed[] = {"excluded_if_within", "else", NULL};
    json_t *ex, *el;
    char p[128];

    s->cancel_else = ENGINE_EXCLUDED;
    if (j == NULL)
        return;
    if (!json_is_object(j)) {
        bad(c, path, "must be {\"excluded_if_within\": duration, \"else\": result}");
        return;
    }
    check_fields(c, j, path, allowed);
    ex = json_object_get(j, "excluded_if_within");
    if (ex != NULL) {
        ptr(p, sizeof(p), path, "excluded_if_within");
        if (parse_dur(c, ex, p, &s->excl)) {
            if (s->excl.unit == ENGINE_DUR_BUSINESS_DAYS)
                bad(c, p, "business days are not supported here");
            else if (is_business(s->excl.unit) && !s->business)
                bad(c, p, "business time on a wall-clock standard");
            else
                s->has_excl = true;
        }
    }
    el = json_object_get(j, "else");
    if (el != NULL) {
        ptr(p, sizeof(p), path, "else");
        if (json_is_string(el) && strcmp(json_string_value(el), "excluded") == 0)
            s->cancel_else = ENGINE_EXCLUDED;
        else if (json_is_string(el) && strcmp(json_string_value(el), "breached") == 0)
            s->cancel_else = ENGINE_BREACHED;
        else
            bad(c, p, "must be \"excluded\" or \"breached\"");
    }
}

static void
parse_title(struct comp *c, json_t *j, const char *path, struct step *s)
{
    char p[128];

    if (json_is_string(j) && json_string_length(j) > 0) {
        s->title_en = xstrdup(json_string_value(j));
        return;
    }
    if (json_is_object(j)) {
        static const char *const allowed[] = {"en", "zh", NULL};
        json_t *en = json_object_get(j, "en"), *zh = json_object_get(j, "zh");
        check_fields(c, j, path, allowed);
        ptr(p, sizeof(p), path, "en");
        if (!json_is_string(en) || json_string_length(en) == 0)
            bad(c, p, "required: the English title");
        else
            s->title_en = xstrdup(json_string_value(en));
        if (zh != NULL) {
            ptr(p, sizeof(p), path, "zh");
            if (!json_is_string(zh))
                bad(c, p, "must be a string");
            else
                s->title_zh = xstrdup(json_string_value(zh));
        }
        return;
    }
    bad(c, path, "required: {\"en\": ..., \"zh\": ...}");
}

static const char *const esc_on_names[] = {"warning", "breach"};
static const char *const esc_do_names[] = {"notify_assignee", "notify_supervisor", "reassign",
                                           "raise_priority"};
static const char *const esc_priorities[] = {"normal", "high", "urgent"};

/* "team:NAME" with a NAME of 1–64 bytes and no control characters. */
static bool
valid_team_target(const char *to)
{
    size_t n;

    if (strncmp(to, "team:", 5) != 0)
        return false;
    n = strlen(to + 5);
    if (n == 0 || n > 64)
        return false;
    for (const char *q = to + 5; *q; q++)
        if ((unsigned char)*q < 0x20)
            return false;
    return true;
}

static void
parse_one_escalation(struct comp *c, json_t *r, const char *path, struct step *s)
{
    static const char *const allowed[] = {"on", "at", "do", "to", NULL};
    struct engine_escalation *e = &s->esc[s->nesc];
    json_t *on = json_object_get(r, "on"), *at = json_object_get(r, "at");
    json_t *d = json_object_get(r, "do"), *to = json_object_get(r, "to");
    bool ok = true;
    char p[128];

    if (!json_is_object(r)) {
        bad(c, path, "must be {\"on\": \"warning\"|\"breach\", \"do\": action}");
        return;
    }
    check_fields(c, r, path, allowed);
    e->at = -1;
    e->on = ENGINE_ESC_ON_WARNING;
    ptr(p, sizeof(p), path, "on");
    if (json_is_string(on) && strcmp(json_string_value(on), "warning") == 0) {
        e->on = ENGINE_ESC_ON_WARNING;
    } else if (json_is_string(on) && strcmp(json_string_value(on), "breach") == 0) {
        e->on = ENGINE_ESC_ON_BREACH;
    } else {
        bad(c, p, "required: \"warning\" or \"breach\"");
        ok = false;
    }
    if (at != NULL) {
        ptr(p, sizeof(p), path, "at");
        if (ok && e->on == ENGINE_ESC_ON_BREACH) {
            bad(c, p, "\"at\" picks a warning point; a breach has none");
            ok = false;
        } else if (!json_is_integer(at) || json_integer_value(at) < 0 ||
                   json_integer_value(at) >= (json_int_t)s->nwarn) {
            bad(c, p, "a warning index from 0 to %u (the step has %u warning points)",
                s->nwarn ? s->nwarn - 1 : 0, s->nwarn);
            ok = false;
        } else {
            e->at = (int)json_integer_value(at);
        }
    }
    ptr(p, sizeof(p), path, "do");
    e->action = ENGINE_ESC_NOTIFY_ASSIGNEE;
    if (json_is_string(d)) {
        size_t k;

        for (k = 0; k < ARRAY_LEN(esc_do_names); k++)
            if (strcmp(json_string_value(d), esc_do_names[k]) == 0)
                break;
        if (k < ARRAY_LEN(esc_do_names)) {
            e->action = (enum engine_esc_do)k;
        } else {
            bad(c, p,
                "unknown action \"%.40s\" (notify_assignee, notify_supervisor, reassign, "
                "raise_priority)",
                json_string_value(d));
            ok = false;
        }
    } else {
        bad(c, p, "required: notify_assignee, notify_supervisor, reassign or raise_priority");
        ok = false;
    }
    ptr(p, sizeof(p), path, "to");
    if (ok && e->action == ENGINE_ESC_REASSIGN) {
        const char *v = json_is_string(to) ? json_string_value(to) : NULL;

        if (v == NULL || (strcmp(v, "supervisor") != 0 && !valid_team_target(v))) {
            bad(c, p, "required for reassign: \"supervisor\" or \"team:NAME\"");
            ok = false;
        }
    } else if (ok && e->action == ENGINE_ESC_RAISE_PRIORITY && to != NULL) {
        size_t k;

        for (k = 0; json_is_string(to) && k < ARRAY_LEN(esc_priorities); k++)
            if (strcmp(json_string_value(to), esc_priorities[k]) == 0)
                break;
        if (!json_is_string(to) || k == ARRAY_LEN(esc_priorities)) {
            bad(c, p, "the priority to raise to: \"normal\", \"high\" or \"urgent\"");
            ok = false;
        }
    } else if (ok && to != NULL &&
               (e->action == ENGINE_ESC_NOTIFY_ASSIGNEE ||
                e->action == ENGINE_ESC_NOTIFY_SUPERVISOR)) {
        bad(c, p, "%s takes no \"to\"", esc_do_names[e->action]);
        ok = false;
    }
    if (!ok)
        return;
    for (uint32_t k = 0; k < s->nesc; k++) {
        const struct engine_escalation *o = &s->esc[k];

        if (o->on == e->on && o->at == e->at && o->action == e->action &&
            ((o->to == NULL && to == NULL) ||
             (o->to && to && strcmp(o->to, json_string_value(to)) == 0))) {
            bad(c, path, "repeats rule %u", k);
            return;
        }
    }
    e->to = to ? xstrdup(json_string_value(to)) : NULL;
    s->nesc++;
}

static void
parse_escalate(struct comp *c, json_t *j, const char *path, struct step *s)
{
    char p[128];

    if (j == NULL)
        return;
    if (!json_is_array(j)) {
        bad(c, path, "must be an array of {\"on\", \"at\"?, \"do\", \"to\"?}");
        return;
    }
    if (json_array_size(j) > ENGINE_MAX_ESCALATE) {
        bad(c, path, "at most %d escalation rules per step", ENGINE_MAX_ESCALATE);
        return;
    }
    for (size_t i = 0; i < json_array_size(j); i++) {
        ptri(p, sizeof(p), path, i);
        parse_one_escalation(c, json_array_get(j, i), p, s);
    }
}

static bool
valid_key(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 48 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static void
parse_step(struct comp *c, json_t *j, const char *path, struct step *s)
{
    static const char *const allowed[] = {
        "key",       "title",      "function",    "repeat",    "starts_on", "done_on",
        "pauses_on", "resumes_on", "cancels_on",  "resets_on", "standard",  "warn_at",
        "charge_to", "on_cancel",  "description", "escalate",  NULL};
    json_t *v;
    char p[128];
    int flags;

    check_fields(c, j, path, allowed);
    parse_title(c, json_object_get(j, "title"), (ptr(p, sizeof(p), path, "title"), p), s);
    v = json_object_get(j, "function");
    ptr(p, sizeof(p), path, "function");
    if (!json_is_string(v)) {
        bad(c, p, "required: the CRM function the step is done with");
    } else {
        for (size_t i = 0; i < ARRAY_LEN(functions); i++)
            if (strcmp(json_string_value(v), functions[i]) == 0)
                s->function = xstrdup(functions[i]);
        if (s->function == NULL)
            bad(c, p,
                "unknown function \"%.40s\" (answer_call, call_back, reply, assign, "
                "resolve, greet, close, follow_up, escalate, survey, other)",
                json_string_value(v));
    }
    v = json_object_get(j, "repeat");
    ptr(p, sizeof(p), path, "repeat");
    if (v == NULL || json_is_false(v)) {
        s->repeat = false;
    } else if (json_is_true(v)) {
        s->repeat = true;
    } else if (json_is_object(v)) {
        static const char *const rallowed[] = {"per", NULL};
        json_t *per = json_object_get(v, "per");
        char pp[128];
        check_fields(c, v, p, rallowed);
        ptr(pp, sizeof(pp), p, "per");
        s->repeat = true;
        if (!json_is_string(per))
            bad(c, pp, "required: the event field each occurrence is per (\"data.agent\")");
        else if (parse_path(c, json_string_value(per), &s->per, pp))
            s->has_per = true;
    } else {
        bad(c, p, "must be true, false or {\"per\": field}");
    }
    flags = M_STEP_REF | (s->has_per ? M_PER : 0);
    for (int k = 0; k < COND_COUNT; k++) {
        v = json_object_get(j, cond_names[k]);
        ptr(p, sizeof(p), path, cond_names[k]);
        if (v == NULL)
            continue;
        parse_cond(c, v, p, &s->cond[k], k == COND_START ? (flags & ~M_PER) : flags);
    }
    s->at_trigger = s->cond[COND_START].n == 0;
    if (s->cond[COND_DONE].n == 0) {
        ptr(p, sizeof(p), path, "done_on");
        bad(c, p, "required: the event that completes the step");
    }
    ptr(p, sizeof(p), path, "standard");
    parse_standard(c, json_object_get(j, "standard"), p, s);
    ptr(p, sizeof(p), path, "warn_at");
    parse_warn(c, json_object_get(j, "warn_at"), p, s);
    v = json_object_get(j, "charge_to");
    ptr(p, sizeof(p), path, "charge_to");
    s->charge = ENGINE_CHARGE_ACTOR;
    if (v != NULL) {
        const char *cs = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(cs, "actor") == 0)
            s->charge = ENGINE_CHARGE_ACTOR;
        else if (strcmp(cs, "segments") == 0)
            s->charge = ENGINE_CHARGE_SEGMENTS;
        else if (strcmp(cs, "team") == 0)
            s->charge = ENGINE_CHARGE_TEAM;
        else if (strcmp(cs, "per") == 0 && s->has_per)
            s->charge = ENGINE_CHARGE_PER;
        else if (strcmp(cs, "per") == 0)
            bad(c, p, "\"per\" needs \"repeat\": {\"per\": field}");
        else
            bad(c, p, "must be \"actor\", \"segments\", \"team\" or \"per\"");
    }
    ptr(p, sizeof(p), path, "on_cancel");
    parse_on_cancel(c, json_object_get(j, "on_cancel"), p, s);
    ptr(p, sizeof(p), path, "escalate");
    parse_escalate(c, json_object_get(j, "escalate"), p, s);
    v = json_object_get(j, "description");
    if (v != NULL && !json_is_string(v)) {
        ptr(p, sizeof(p), path, "description");
        bad(c, p, "must be a string");
    } else if (v != NULL) {
        s->description = xstrdup(json_string_value(v));
    }
}

static void
matcher_free(struct matcher *m)
{
    free(m->types);
    for (uint32_t i = 0; i < m->ntests; i++) {
        path_free(&m->tests[i].path);
        json_decref(m->tests[i].value);
    }
    free(m->tests);
    path_free(&m->per);
}

static void
process_free(struct engine_process *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->calendar);
    free(p->description);
    matcher_free(&p->trigger);
    for (uint32_t i = 0; i < p->nown; i++) {
        matcher_free(&p->own[i].on);
        path_free(&p->own[i].actor);
        path_free(&p->own[i].team);
    }
    free(p->own);
    for (uint32_t i = 0; i < p->nsteps; i++) {
        struct step *s = &p->steps[i];
        free(s->key);
        free(s->title_en);
        free(s->title_zh);
        free(s->function);
        free(s->description);
        for (uint32_t k = 0; k < s->nesc; k++)
            free((char *)s->esc[k].to);
        path_free(&s->per);
        for (int k = 0; k < COND_COUNT; k++) {
            for (uint32_t m = 0; m < s->cond[k].n; m++)
                matcher_free(&s->cond[k].m[m]);
            free(s->cond[k].m);
        }
    }
    free(p->steps);
    for (uint32_t i = 0; i < p->ntypes; i++)
        free(p->types[i]);
    free(p->types);
    free(p->type_len);
    free(p->hslot);
    free(p->type_first);
    free(p->entries);
    free(p->sig_first);
    free(p->sig_entries);
    free(p->type_flags);
    free(p);
}

static uint32_t
hash_type(const char *s, size_t *len)
{
    uint32_t h = 2166136261u;
    size_t n = 0;

    for (; s[n]; n++)
        h = (h ^ (uint8_t)s[n]) * 16777619u;
    *len = n;
    return h;
}

int32_t
engine_type_lookup(const struct engine_process *p, const char *type)
{
    size_t len;
    uint32_t i = hash_type(type, &len) & p->hmask;

    for (;;) {
        int32_t id = p->hslot[i];
        if (id < 0)
            return -1;
        if (p->type_len[id] == len && memcmp(p->types[id], type, len) == 0)
            return id;
        i = (i + 1) & p->hmask;
    }
}

/* Builds the type hash table and the dispatch lists (see engine_int.h). */
static void
build_tables(struct engine_process *p)
{
    uint32_t size = 16;

    while (size < p->ntypes * 2)
        size *= 2;
    p->hmask = size - 1;
    p->hslot = xmalloc(size * sizeof(int32_t));
    for (uint32_t i = 0; i < size; i++)
        p->hslot[i] = -1;
    p->type_len = xcalloc(p->ntypes + 1, sizeof(uint32_t));
    for (uint32_t t = 0; t < p->ntypes; t++) {
        size_t len;
        uint32_t i = hash_type(p->types[t], &len) & p->hmask;
        while (p->hslot[i] >= 0)
            i = (i + 1) & p->hmask;
        p->hslot[i] = (int32_t)t;
        p->type_len[t] = (uint32_t)len;
    }
    p->type_flags = xcalloc(p->ntypes + 1, 1);
    for (uint32_t i = 0; i < p->trigger.ntypes; i++)
        p->type_flags[p->trigger.types[i]] |= TYPE_TRIGGER;
    for (uint32_t r = 0; r < p->nown; r++)
        for (uint32_t i = 0; i < p->own[r].on.ntypes; i++)
            p->type_flags[p->own[r].on.types[i]] |= TYPE_OWNER;

    /* Two passes over (step, cond, matcher, type): count into first[t + 1], prefix-sum,
     * then fill; order is step-major, condition precedence next, which is the order the
     * fold applies them. */
    p->type_first = xcalloc(p->ntypes + 1, sizeof(uint32_t));
    p->sig_first = xcalloc(p->nsteps + 1, sizeof(uint32_t));
    uint32_t *tfill = xcalloc(p->ntypes + 1, sizeof(uint32_t));
    uint32_t *sfill = xcalloc(p->nsteps + 1, sizeof(uint32_t));
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (uint32_t t = 1; t <= p->ntypes; t++)
                p->type_first[t] += p->type_first[t - 1];
            for (uint32_t s = 1; s <= p->nsteps; s++)
                p->sig_first[s] += p->sig_first[s - 1];
            p->entries = xcalloc(p->type_first[p->ntypes] + 1, sizeof(struct entry));
            p->sig_entries = xcalloc(p->sig_first[p->nsteps] + 1, sizeof(struct entry));
        }
        for (uint32_t s = 0; s < p->nsteps; s++) {
            for (int k = 0; k < COND_COUNT; k++) {
                const struct cond_list *cl = &p->steps[s].cond[k];
                for (uint32_t m = 0; m < cl->n; m++) {
                    const struct matcher *ma = &cl->m[m];
                    struct entry e = {(uint16_t)s, (uint8_t)k, ma};
                    if (ma->step_ref >= 0) {
                        uint32_t r = (uint32_t)ma->step_ref;
                        if (pass == 0)
                            p->sig_first[r + 1]++;
                        else
                            p->sig_entries[p->sig_first[r] + sfill[r]++] = e;
                        continue;
                    }
                    for (uint32_t t = 0; t < ma->ntypes; t++) {
                        uint32_t ty = (uint32_t)ma->types[t];
                        if (pass == 0)
                            p->type_first[ty + 1]++;
                        else
                            p->entries[p->type_first[ty] + tfill[ty]++] = e;
                    }
                }
            }
        }
    }
    free(tfill);
    free(sfill);
}

/* A step is reachable if it starts with the instance, on an event, or when a reachable
 * step is done; anything else (a chain through an unreachable step, a cycle) never runs. */
static void
check_reachable(struct comp *c)
{
    struct engine_process *p = c->p;
    bool reach[ENGINE_MAX_STEPS] = {false};
    bool changed = true;

    while (changed) {
        changed = false;
        for (uint32_t i = 0; i < p->nsteps; i++) {
            const struct cond_list *st = &p->steps[i].cond[COND_START];
            bool r = st->n == 0;
            if (reach[i])
                continue;
            for (uint32_t m = 0; m < st->n && !r; m++)
                if (st->m[m].step_ref < 0 || reach[st->m[m].step_ref])
                    r = st->m[m].step_ref != (int)i;
            if (r) {
                reach[i] = true;
                changed = true;
            }
        }
    }
    for (uint32_t i = 0; i < p->nsteps; i++) {
        if (!reach[i]) {
            char path[128];
            snprintf(path, sizeof(path), "/steps/%u/starts_on", i);
            bad(c, path,
                "step \"%.40s\" is unreachable: it starts only after steps that never "
                "finish (a cycle or an unreachable step)",
                p->steps[i].key);
        }
    }
}

static void
parse_owner(struct comp *c, json_t *j, const char *path, struct owner_rule *o)
{
    static const char *const allowed[] = {"on", "actor", "team", NULL};
    json_t *v;
    char p[128];

    o->on.step_ref = -1;
    if (!json_is_object(j)) {
        bad(c, path, "must be {\"on\": matcher, \"actor\": field, \"team\": field}");
        return;
    }
    check_fields(c, j, path, allowed);
    ptr(p, sizeof(p), path, "on");
    v = json_object_get(j, "on");
    if (v == NULL)
        bad(c, p, "required");
    else
        parse_matcher(c, v, p, &o->on, 0);
    v = json_object_get(j, "actor");
    ptr(p, sizeof(p), path, "actor");
    if (v != NULL) {
        if (!json_is_string(v))
            bad(c, p, "must be an event field");
        else
            o->has_actor = parse_path(c, json_string_value(v), &o->actor, p);
    }
    v = json_object_get(j, "team");
    ptr(p, sizeof(p), path, "team");
    if (v != NULL) {
        if (!json_is_string(v))
            bad(c, p, "must be an event field");
        else
            o->has_team = parse_path(c, json_string_value(v), &o->team, p);
    }
    if (json_object_get(j, "actor") == NULL && json_object_get(j, "team") == NULL)
        bad(c, path, "an ownership rule sets \"actor\", \"team\" or both");
}

int
engine_process_compile_json(json_t *doc, struct engine_process **out, struct smile_err *err)
{
    static const char *const allowed[] = {"name",        "version",  "published_at",
                                          "description", "calendar", "trigger",
                                          "ownership",   "steps",    NULL};
    struct comp c = {0};
    struct engine_process *p;
    json_t *v, *steps;

    *out = NULL;
    smile_err_clear(err);
    if (!json_is_object(doc)) {
        smile_err_field(err, "", "a process document is a JSON object");
        return smile_err_set(err, SMILE_EINVAL, "invalid process document");
    }
    p = xcalloc(1, sizeof(*p));
    p->refs = 1;
    p->published_at = ENGINE_NO_TIME;
    p->trigger.step_ref = -1;
    c.p = p;
    c.err = err;
    check_fields(&c, doc, "", allowed);

    v = json_object_get(doc, "name");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
        bad(&c, "/name", "required: a name of 1 to 200 characters");
    else
        p->name = xstrdup(json_string_value(v));
    v = json_object_get(doc, "version");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000)
            bad(&c, "/version", "must be a positive integer");
        else
            p->version = (int)json_integer_value(v);
    }
    v = json_object_get(doc, "published_at");
    if (v != NULL) {
        if (!json_is_string(v) || time_parse_rfc3339(json_string_value(v), json_string_length(v),
                                                     &p->published_at) != SMILE_OK) {
            bad(&c, "/published_at", "must be an RFC 3339 time");
            p->published_at = ENGINE_NO_TIME;
        }
    }
    v = json_object_get(doc, "description");
    if (v != NULL) {
        if (!json_is_string(v))
            bad(&c, "/description", "must be a string");
        else
            p->description = xstrdup(json_string_value(v));
    }
    v = json_object_get(doc, "calendar");
    if (v == NULL)
        p->calendar = xstrdup("default");
    else if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 100)
        bad(&c, "/calendar", "must be a calendar name");
    else
        p->calendar = xstrdup(json_string_value(v));

    v = json_object_get(doc, "trigger");
    if (v == NULL)
        bad(&c, "/trigger", "required: the event that starts an instance");
    else
        parse_matcher(&c, v, "/trigger", &p->trigger, 0);

    /* Step keys first, so that conditions may refer to later steps. */
    steps = json_object_get(doc, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0 ||
        json_array_size(steps) > ENGINE_MAX_STEPS) {
        bad(&c, "/steps", "required: a list of 1 to %d steps", ENGINE_MAX_STEPS);
    } else {
        p->steps = xcalloc(json_array_size(steps), sizeof(struct step));
        p->nsteps = (uint32_t)json_array_size(steps);
        for (uint32_t i = 0; i < p->nsteps; i++) {
            json_t *s = json_array_get(steps, i);
            json_t *k = json_object_get(s, "key");
            char path[128];
            snprintf(path, sizeof(path), "/steps/%u", i);
            if (!json_is_object(s)) {
                bad(&c, path, "a step is an object");
                continue;
            }
            snprintf(path, sizeof(path), "/steps/%u/key", i);
            if (!json_is_string(k) || !valid_key(json_string_value(k))) {
                bad(&c, path, "required: a key of lower-case letters, digits and _");
                continue;
            }
            if (step_index(p, json_string_value(k)) >= 0) {
                bad(&c, path, "duplicate step key \"%.40s\"", json_string_value(k));
                continue;
            }
            p->steps[i].key = xstrdup(json_string_value(k));
        }
        for (uint32_t i = 0; i < p->nsteps; i++) {
            json_t *s = json_array_get(steps, i);
            char path[128];
            if (!json_is_object(s))
                continue;
            snprintf(path, sizeof(path), "/steps/%u", i);
            parse_step(&c, s, path, &p->steps[i]);
        }
        if (!c.bad)
            check_reachable(&c);
    }

    v = json_object_get(doc, "ownership");
    if (v == NULL) {
        /* Default: a case assignment names the owner. */
        p->own = xcalloc(1, sizeof(struct owner_rule));
        p->nown = 1;
        p->own[0].on.step_ref = -1;
        p->own[0].on.types = xmalloc(sizeof(int32_t));
        p->own[0].on.types[0] = intern(&c, "case.assigned", "/ownership");
        p->own[0].on.ntypes = p->own[0].on.types[0] >= 0;
        p->own[0].has_actor = parse_path(&c, "data.assignee", &p->own[0].actor, "/ownership");
        p->own[0].has_team = parse_path(&c, "data.team", &p->own[0].team, "/ownership");
    } else if (!json_is_array(v) || json_array_size(v) > ENGINE_MAX_MATCHERS) {
        bad(&c, "/ownership", "must be a list of at most %d rules", ENGINE_MAX_MATCHERS);
    } else {
        p->own = xcalloc(json_array_size(v) + 1, sizeof(struct owner_rule));
        for (size_t i = 0; i < json_array_size(v); i++) {
            char path[128];
            snprintf(path, sizeof(path), "/ownership/%zu", i);
            parse_owner(&c, json_array_get(v, i), path, &p->own[p->nown++]);
        }
    }

    if (c.bad) {
        process_free(p);
        return smile_err_set(err, SMILE_EINVAL, "invalid process document");
    }
    build_tables(p);
    *out = p;
    return SMILE_OK;
}

int
engine_process_compile(const char *json, size_t len, struct engine_process **out,
                       struct smile_err *err)
{
    json_error_t jerr;
    json_t *doc;
    int rc;

    *out = NULL;
    smile_err_clear(err);
    if (len > ENGINE_MAX_DOC)
        return smile_err_set(err, SMILE_ETOOBIG, "process document over %d bytes", ENGINE_MAX_DOC);
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return smile_err_set(err, SMILE_EMALFORMED, "process document is not JSON: %s (line %d)",
                             jerr.text, jerr.line);
    rc = engine_process_compile_json(doc, out, err);
    json_decref(doc);
    return rc;
}

struct engine_process *
engine_process_ref(struct engine_process *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void
engine_process_unref(struct engine_process *p)
{
    if (p != NULL && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
        process_free(p);
}

/* Serialisation ----------------------------------------------------------------------- */

static json_t *
dur_json(struct engine_duration d)
{
    char buf[64];

    engine_duration_format(d, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *
matcher_json(const struct engine_process *p, const struct matcher *m)
{
    json_t *o = json_object();

    if (m->step_ref >= 0) {
        json_object_set_new(o, "step_done", json_string(p->steps[m->step_ref].key));
        return o;
    }
    if (m->ntypes == 1) {
        json_object_set_new(o, "type", json_string(p->types[m->types[0]]));
    } else {
        json_t *a = json_array();
        for (uint32_t i = 0; i < m->ntypes; i++)
            json_array_append_new(a, json_string(p->types[m->types[i]]));
        json_object_set_new(o, "type", a);
    }
    if (m->ntests > 0) {
        json_t *w = json_object();
        for (uint32_t i = 0; i < m->ntests; i++) {
            const struct test *t = &m->tests[i];
            json_t *v;
            if (t->op == TEST_EQ)
                v = json_incref(t->value);
            else if (t->op == TEST_IN)
                v = json_pack("{sO}", "in", t->value);
            else
                v = json_pack("{sb}", "exists", t->exists);
            json_object_set_new(w, t->path.text, v);
        }
        json_object_set_new(o, "where", w);
    }
    if (m->has_per)
        json_object_set_new(o, "per", json_string(m->per.text));
    return o;
}

static json_t *
step_json(const struct engine_process *p, const struct step *s)
{
    json_t *o = json_object(), *w;

    json_object_set_new(o, "key", json_string(s->key));
    json_object_set_new(o, "title", json_pack("{ss}", "en", s->title_en));
    if (s->title_zh != NULL)
        json_object_set_new(json_object_get(o, "title"), "zh", json_string(s->title_zh));
    json_object_set_new(o, "function", json_string(s->function));
    if (s->description != NULL)
        json_object_set_new(o, "description", json_string(s->description));
    if (s->has_per)
        json_object_set_new(o, "repeat", json_pack("{ss}", "per", s->per.text));
    else
        json_object_set_new(o, "repeat", json_boolean(s->repeat));
    for (int k = 0; k < COND_COUNT; k++) {
        json_t *a;
        if (s->cond[k].n == 0)
            continue;
        a = json_array();
        for (uint32_t m = 0; m < s->cond[k].n; m++)
            json_array_append_new(a, matcher_json(p, &s->cond[k].m[m]));
        json_object_set_new(o, cond_names[k], a);
    }
    json_object_set_new(o, "standard",
                        json_pack("{s:o,s:s}", "within", dur_json(s->within), "time",
                                  s->business ? "business" : "wall"));
    w = json_array();
    for (uint32_t i = 0; i < s->nwarn; i++) {
        if (s->warn[i].left) {
            char buf[80];
            engine_duration_format(s->warn[i].dur, buf, sizeof(buf) - 8);
            strncat(buf, " left", sizeof(buf) - strlen(buf) - 1);
            json_array_append_new(w, json_string(buf));
        } else {
            json_array_append_new(w, json_real(s->warn[i].fraction));
        }
    }
    json_object_set_new(o, "warn_at", w);
    static const char *const charges[] = {"actor", "segments", "team", "per"};
    json_object_set_new(o, "charge_to", json_string(charges[s->charge]));
    w = json_pack("{ss}", "else", s->cancel_else == ENGINE_BREACHED ? "breached" : "excluded");
    if (s->has_excl)
        json_object_set_new(w, "excluded_if_within", dur_json(s->excl));
    json_object_set_new(o, "on_cancel", w);
    if (s->nesc > 0) { /* absent when empty: documents without rules keep their text */
        w = json_array();
        for (uint32_t i = 0; i < s->nesc; i++) {
            const struct engine_escalation *e = &s->esc[i];
            json_t *r =
                json_pack("{s:s, s:s}", "on", esc_on_names[e->on], "do", esc_do_names[e->action]);

            if (e->at >= 0)
                json_object_set_new(r, "at", json_integer(e->at));
            if (e->to)
                json_object_set_new(r, "to", json_string(e->to));
            json_array_append_new(w, r);
        }
        json_object_set_new(o, "escalate", w);
    }
    return o;
}

char *
engine_process_to_json(const struct engine_process *p)
{
    json_t *o = json_object(), *a;
    char *s;

    json_object_set_new(o, "name", json_string(p->name));
    if (p->version > 0)
        json_object_set_new(o, "version", json_integer(p->version));
    if (p->published_at != ENGINE_NO_TIME) {
        char t[TIME_RFC3339_LEN + 1];
        time_format_rfc3339(p->published_at, t);
        json_object_set_new(o, "published_at", json_string(t));
    }
    if (p->description != NULL)
        json_object_set_new(o, "description", json_string(p->description));
    json_object_set_new(o, "calendar", json_string(p->calendar));
    json_object_set_new(o, "trigger", matcher_json(p, &p->trigger));
    a = json_array();
    for (uint32_t i = 0; i < p->nown; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "on", matcher_json(p, &p->own[i].on));
        if (p->own[i].has_actor)
            json_object_set_new(r, "actor", json_string(p->own[i].actor.text));
        if (p->own[i].has_team)
            json_object_set_new(r, "team", json_string(p->own[i].team.text));
        json_array_append_new(a, r);
    }
    json_object_set_new(o, "ownership", a);
    a = json_array();
    for (uint32_t i = 0; i < p->nsteps; i++)
        json_array_append_new(a, step_json(p, &p->steps[i]));
    json_object_set_new(o, "steps", a);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (s == NULL)
        fatal("engine: cannot serialise a process");
    return s;
}

/* Accessors ----------------------------------------------------------------------------- */

const char *
engine_process_name(const struct engine_process *p)
{
    return p->name;
}

const char *
engine_process_calendar(const struct engine_process *p)
{
    return p->calendar;
}

int
engine_process_version(const struct engine_process *p)
{
    return p->version;
}

int64_t
engine_process_published_at(const struct engine_process *p)
{
    return p->published_at;
}

size_t
engine_process_nsteps(const struct engine_process *p)
{
    return p->nsteps;
}

int
engine_process_step_find(const struct engine_process *p, const char *key)
{
    return key ? step_index(p, key) : -1;
}

const char *
engine_process_step_key(const struct engine_process *p, size_t i)
{
    return i < p->nsteps ? p->steps[i].key : NULL;
}

const char *
engine_process_step_title(const struct engine_process *p, size_t i, const char *lang)
{
    if (i >= p->nsteps)
        return NULL;
    if (lang != NULL && strcmp(lang, "zh") == 0 && p->steps[i].title_zh != NULL)
        return p->steps[i].title_zh;
    return p->steps[i].title_en;
}

const char *
engine_process_step_function(const struct engine_process *p, size_t i)
{
    return i < p->nsteps ? p->steps[i].function : NULL;
}

size_t
engine_process_step_escalations(const struct engine_process *p, size_t i,
                                const struct engine_escalation **out)
{
    if (i >= p->nsteps || p->steps[i].nesc == 0) {
        *out = NULL;
        return 0;
    }
    *out = p->steps[i].esc;
    return p->steps[i].nesc;
}

size_t
engine_escalations_select(const struct engine_process *p, size_t i, bool breach, int warn_idx,
                          uint32_t *out, size_t max)
{
    size_t n = 0;

    if (i >= p->nsteps)
        return 0;
    for (uint32_t k = 0; k < p->steps[i].nesc && n < max; k++) {
        const struct engine_escalation *e = &p->steps[i].esc[k];

        if (breach ? e->on == ENGINE_ESC_ON_BREACH
                   : e->on == ENGINE_ESC_ON_WARNING && (e->at < 0 || e->at == warn_idx))
            out[n++] = k;
    }
    return n;
}

const char *
engine_esc_on_name(enum engine_esc_on on)
{
    return on == ENGINE_ESC_ON_BREACH ? "breach" : "warning";
}

const char *
engine_esc_do_name(enum engine_esc_do d)
{
    return (size_t)d < ARRAY_LEN(esc_do_names) ? esc_do_names[d] : "?";
}

enum engine_charge
engine_process_step_charge(const struct engine_process *p, size_t i)
{
    return i < p->nsteps ? p->steps[i].charge : ENGINE_CHARGE_ACTOR;
}

/* Versions ------------------------------------------------------------------------------ */

bool
engine_process_triggers(const struct engine_process *p, const struct engine_event *ev)
{
    return ev->type != NULL && engine_matcher_match(p, &p->trigger, ev);
}

int64_t
engine_process_trigger_at(const struct engine_process *p, const struct engine_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (engine_process_triggers(p, &ev[i]))
            return ev[i].occurred_at;
    return ENGINE_NO_TIME;
}

static bool
newer(const struct engine_process *a, const struct engine_process *b)
{
    return b == NULL || a->published_at > b->published_at ||
           (a->published_at == b->published_at && a->version > b->version);
}

struct engine_process *
engine_process_at(struct engine_process *const *versions, size_t n, int64_t at_ms)
{
    struct engine_process *best = NULL;

    for (size_t i = 0; i < n; i++) {
        struct engine_process *v = versions[i];
        if (v->published_at == ENGINE_NO_TIME || v->published_at > at_ms)
            continue;
        if (newer(v, best))
            best = v;
    }
    return best;
}

struct engine_process *
engine_process_pick(struct engine_process *const *versions, size_t n, const struct engine_event *ev,
                    size_t nev)
{
    struct engine_process *best = NULL;

    /* Each version is asked with its own trigger: the newest version that was already
     * published when it would have started the instance wins. */
    for (size_t i = 0; i < n; i++) {
        struct engine_process *v = versions[i];
        int64_t t;
        if (v->published_at == ENGINE_NO_TIME)
            continue;
        t = engine_process_trigger_at(v, ev, nev);
        if (t == ENGINE_NO_TIME || v->published_at > t)
            continue;
        if (newer(v, best))
            best = v;
    }
    return best;
}
