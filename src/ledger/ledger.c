/*
 * ledger.c — the event schema: the known types, the rules of every field, the parse of a
 * request body (one event or a batch) into struct ledger_event with a JSON Pointer for
 * every bad field, the canonical form of an event's data, and the JSON rendering of a
 * stored event. Pure: no I/O, no clock. The first stage of the ledger; append.c writes
 * what this accepted.
 */
#include "ledger/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every type a source may send without the custom. prefix (docs/events.md). */
static const char *const known_types[] = {
    "call.offered",
    "call.ringing",
    "call.answered",
    "call.abandoned",
    "call.ended",
    "call.transferred",
    "agent.login",
    "agent.logout",
    "agent.paused",
    "agent.unpaused",
    "email.received",
    "email.sent",
    "visit.arrived",
    "visit.greeted",
    "visit.left",
    "case.opened",
    "case.assigned",
    "case.replied",
    "case.pending",
    "case.reopened",
    "case.resolved",
    "case.closed",
    "survey.answered",
    "sla.warning",
    "sla.breached",
    /* The CRM's case state machine (crm/case_state.c) also emits these two. */
    "case.accepted",
    "case.resumed",
    /* The end of a ring at one agent that she did not answer (intake/pbx_map.c). */
    "call.ring_ended",
};

/* The channel an event gets when it names none, by the prefix of its type. */
static const struct {
    const char *prefix;
    const char *channel;
} channel_defaults[] = {
    {"call.", "phone"}, {"agent.", "phone"}, {"email.", "email"}, {"visit.", "counter"},
    {"case.", "web"},   {"survey.", "web"},  {"sla.", "system"},  {"custom.", "system"},
};

static const char *const channels[] = {"phone", "email", "counter", "web", "system"};

/* Top-level fields of an event object; anything else is rejected. */
static const char *const fields[] = {"type",    "occurred_at", "subject",   "actor", "customer",
                                     "channel", "source",      "source_id", "data"};

bool
ledger_type_known(const char *type)
{
    for (size_t i = 0; i < ARRAY_LEN(known_types); i++)
        if (strcmp(type, known_types[i]) == 0)
            return true;
    return false;
}

const char *
ledger_channel_default(const char *type)
{
    for (size_t i = 0; i < ARRAY_LEN(channel_defaults); i++)
        if (strncmp(type, channel_defaults[i].prefix, strlen(channel_defaults[i].prefix)) == 0)
            return channel_defaults[i].channel;
    return "system";
}

/* UTF-8 code points in s (jansson guarantees valid UTF-8; C callers are trusted to). */
static size_t
chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static bool
has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return true;
    return false;
}

/* Appends "/name" to ptr with JSON Pointer escaping (~ → ~0, / → ~1). */
static void
pointer(char *out, size_t cap, const char *ptr, const char *name)
{
    struct buf b;

    buf_init(&b, cap - 1);
    buf_puts(&b, ptr);
    buf_putc(&b, '/');
    for (const char *p = name; *p; p++) {
        if (*p == '~')
            buf_puts(&b, "~0");
        else if (*p == '/')
            buf_puts(&b, "~1");
        else
            buf_putc(&b, *p);
    }
    snprintf(out, cap, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static void
bad(struct smile_err *err, const char *ptr, const char *name, const char *msg)
{
    char path[128];

    pointer(path, sizeof(path), ptr, name);
    smile_err_field(err, path, "%s", msg);
}

static bool
check_type(const char *v, const char *ptr, struct smile_err *err)
{
    const char *p;

    if (ledger_type_known(v))
        return true;
    if (strncmp(v, "custom.", 7) == 0 && v[7] != '\0' && strlen(v) <= LEDGER_MAX_TYPE) {
        for (p = v + 7; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
                  *p == '-'))
                break;
        if (*p == '\0')
            return true;
    }
    bad(err, ptr, "type",
        "unknown event type (see docs/events.md; custom types are custom.<name> with "
        "a-z 0-9 _ . - up to 64 bytes)");
    return false;
}

static bool
check_time(int64_t ms, const char *ptr, struct smile_err *err)
{
    if (ms < LEDGER_MIN_TIME || ms >= LEDGER_MAX_TIME) {
        bad(err, ptr, "occurred_at", "must be between the years 2000 and 2100");
        return false;
    }
    return true;
}

static bool
check_subject(const char *v, const char *ptr, struct smile_err *err)
{
    const char *p = v;
    size_t n = chars(v);

    if (n < 1 || n > LEDGER_MAX_SUBJECT) {
        bad(err, ptr, "subject", "must be 1 to 200 characters");
        return false;
    }
    if (*p >= 'a' && *p <= 'z') {
        for (p++; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
             p++)
            ;
    }
    if (p == v || p - v > 32 || *p != ':' || p[1] == '\0' || has_control(v)) {
        bad(err, ptr, "subject",
            "must be kind:key (kind: a-z 0-9 _ - starting with a letter, up to 32 bytes; key: "
            "not empty, no control characters), e.g. call:1700000000.123 or case:42");
        return false;
    }
    return true;
}

/* A plain text field of 1..max characters without control characters. */
static bool
check_text(const char *v, const char *ptr, const char *name, size_t max, struct smile_err *err)
{
    size_t n = chars(v);
    char msg[96];

    if (n < 1 || n > max || has_control(v)) {
        snprintf(msg, sizeof(msg), "must be 1 to %zu characters without control characters", max);
        bad(err, ptr, name, msg);
        return false;
    }
    return true;
}

static bool
check_actor(const char *v, const char *ptr, struct smile_err *err)
{
    if (!check_text(v, ptr, "actor", LEDGER_MAX_ACTOR, err))
        return false;
    for (const char *p = v; *p; p++) {
        if (*p == ' ') {
            bad(err, ptr, "actor", "a staff username has no spaces");
            return false;
        }
    }
    return true;
}

static bool
check_channel(const char *v, const char *ptr, struct smile_err *err)
{
    for (size_t i = 0; i < ARRAY_LEN(channels); i++)
        if (strcmp(v, channels[i]) == 0)
            return true;
    bad(err, ptr, "channel", "must be phone, email, counter, web or system");
    return false;
}

static bool
check_source(const char *v, const char *ptr, struct smile_err *err)
{
    size_t n = strlen(v);
    const char *p;

    if (strcmp(v, LEDGER_SOURCE_AUTO) == 0) {
        bad(err, ptr, "source", "\"auto\" is reserved for events sent without a source_id");
        return false;
    }
    for (p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == ':' || *p == '-'))
            break;
    if (n < 1 || n > LEDGER_MAX_SOURCE || *p) {
        bad(err, ptr, "source", "must be 1 to 64 bytes of a-z 0-9 _ . : -");
        return false;
    }
    return true;
}

/*
 * Canonical JSON, so that equal data is equal bytes: no spaces, object keys sorted
 * bytewise at every level, strings as UTF-8 with only the escapes JSON requires, integers
 * as themselves, reals in the shortest form that reads back to the same double (0.1, not
 * jansson's 0.10000000000000001), always with a '.' or an exponent so they stay reals.
 */
static void
canonical_string(struct buf *b, const char *s, size_t len)
{
    buf_put_json_string(b, s, len, false);
}

static void
canonical_real(struct buf *b, double v)
{
    char s[40];

    for (int p = 1; p <= 17; p++) {
        snprintf(s, sizeof(s), "%.*g", p, v);
        if (strtod(s, NULL) == v)
            break;
    }
    buf_puts(b, s);
    if (strpbrk(s, ".eEn") == NULL) /* "2" → "2.0"; inf/nan cannot come from JSON */
        buf_puts(b, ".0");
}

struct member {
    const char *key;
    const json_t *value;
};

static int
key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

static void
canonical_value(struct buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        /* Members with their values, so that writing them needs no look-up by key; on
         * the stack for the usual small object. */
        struct member small[16], *ms = small;
        size_t n = json_object_size(v), i = 0;
        const char *k;
        json_t *m;

        if (n > ARRAY_LEN(small))
            ms = xcalloc(n, sizeof(*ms));
        json_object_foreach((json_t *)v, k, m)
        {
            ms[i].key = k;
            ms[i].value = m;
            i++;
        }
        if (n > 1)
            qsort(ms, n, sizeof(*ms), key_cmp);
        buf_putc(b, '{');
        for (i = 0; i < n && !buf_overflowed(b); i++) {
            if (i)
                buf_putc(b, ',');
            canonical_string(b, ms[i].key, strlen(ms[i].key));
            buf_putc(b, ':');
            canonical_value(b, ms[i].value);
        }
        buf_putc(b, '}');
        if (ms != small)
            free(ms);
        break;
    }
    case JSON_ARRAY:
        buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v) && !buf_overflowed(b); i++) {
            if (i)
                buf_putc(b, ',');
            canonical_value(b, json_array_get(v, i));
        }
        buf_putc(b, ']');
        break;
    case JSON_STRING:
        canonical_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        canonical_real(b, json_real_value(v));
        break;
    case JSON_TRUE:
        buf_puts(b, "true");
        break;
    case JSON_FALSE:
        buf_puts(b, "false");
        break;
    case JSON_NULL:
        buf_puts(b, "null");
        break;
    }
}

/*
 * The canonical text of a data object into *out (caller frees), NULL for an empty object.
 * False if it is longer than LEDGER_MAX_DATA (writing stops there).
 */
static bool
canonical(const json_t *obj, char **out)
{
    struct buf b;

    *out = NULL;
    if (json_object_size(obj) == 0)
        return true;
    buf_init(&b, LEDGER_MAX_DATA);
    canonical_value(&b, obj);
    if (buf_overflowed(&b)) {
        buf_free(&b);
        return false;
    }
    *out = buf_steal(&b);
    return true;
}

char *
ledger_data_canonical(const json_t *obj)
{
    char *s = NULL;

    if (!json_is_object(obj) || !canonical(obj, &s))
        return NULL;
    return s ? s : xstrdup("{}");
}

int
ledger_event_parse(const json_t *obj, const char *ptr, struct ledger_event *out, char **out_data,
                   struct smile_err *err)
{
    int before = err->nfields + err->nfields_dropped;
    const char *key;
    json_t *v;
    char *data = NULL;

    memset(out, 0, sizeof(*out));
    *out_data = NULL;
    if (!json_is_object(obj)) {
        smile_err_field(err, ptr, "an event must be a JSON object");
        return SMILE_EINVAL;
    }
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i;

        for (i = 0; i < ARRAY_LEN(fields); i++)
            if (strcmp(key, fields[i]) == 0)
                break;
        if (i == ARRAY_LEN(fields))
            bad(err, ptr, key, "unknown field");
    }

    v = json_object_get(obj, "type");
    if (v == NULL || json_is_null(v))
        bad(err, ptr, "type", "is required");
    else if (!json_is_string(v))
        bad(err, ptr, "type", "must be a string");
    else if (check_type(json_string_value(v), ptr, err))
        out->type = json_string_value(v);

    v = json_object_get(obj, "occurred_at");
    if (v == NULL || json_is_null(v)) {
        bad(err, ptr, "occurred_at", "is required");
    } else if (!json_is_string(v) || time_parse_rfc3339(json_string_value(v), json_string_length(v),
                                                        &out->occurred_at) != SMILE_OK) {
        bad(err, ptr, "occurred_at", "must be an RFC 3339 time such as 2026-11-29T09:08:53.123Z");
    } else {
        check_time(out->occurred_at, ptr, err);
    }

    v = json_object_get(obj, "subject");
    if (v == NULL || json_is_null(v))
        bad(err, ptr, "subject", "is required");
    else if (!json_is_string(v))
        bad(err, ptr, "subject", "must be a string");
    else if (check_subject(json_string_value(v), ptr, err))
        out->subject = json_string_value(v);

#define OPTIONAL_STRING(name, field, check)                                                        \
    do {                                                                                           \
        v = json_object_get(obj, name);                                                            \
        if (v != NULL && !json_is_null(v)) {                                                       \
            if (!json_is_string(v))                                                                \
                bad(err, ptr, name, "must be a string");                                           \
            else if (check)                                                                        \
                out->field = json_string_value(v);                                                 \
        }                                                                                          \
    } while (0)

    OPTIONAL_STRING("actor", actor, check_actor(json_string_value(v), ptr, err));
    OPTIONAL_STRING("customer", customer,
                    check_text(json_string_value(v), ptr, "customer", LEDGER_MAX_CUSTOMER, err));
    OPTIONAL_STRING("channel", channel, check_channel(json_string_value(v), ptr, err));
    OPTIONAL_STRING("source", source, check_source(json_string_value(v), ptr, err));
    OPTIONAL_STRING("source_id", source_id,
                    check_text(json_string_value(v), ptr, "source_id", LEDGER_MAX_SOURCE_ID, err));
#undef OPTIONAL_STRING
    v = json_object_get(obj, "source");
    if (v != NULL && !json_is_null(v) && out->source_id == NULL) {
        json_t *sid = json_object_get(obj, "source_id");

        if (sid == NULL || json_is_null(sid))
            bad(err, ptr, "source_id", "is required when source is given");
    }

    v = json_object_get(obj, "data");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v)) {
            bad(err, ptr, "data", "must be a JSON object");
        } else {
            if (!canonical(v, &data))
                bad(err, ptr, "data", "must be at most 16384 bytes as canonical JSON");
        }
    }

    if (err->nfields + err->nfields_dropped != before) {
        free(data);
        memset(out, 0, sizeof(*out));
        return SMILE_EINVAL;
    }
    if (out->channel == NULL)
        out->channel = ledger_channel_default(out->type);
    if (out->source == NULL && out->source_id != NULL)
        out->source = LEDGER_SOURCE_DEFAULT;
    out->data = data;
    *out_data = data;
    return SMILE_OK;
}

int
ledger_event_check(const struct ledger_event *ev, struct smile_err *err)
{
    int before = err->nfields + err->nfields_dropped;

    if (ev->type == NULL)
        bad(err, "", "type", "is required");
    else
        check_type(ev->type, "", err);
    check_time(ev->occurred_at, "", err);
    if (ev->subject == NULL)
        bad(err, "", "subject", "is required");
    else
        check_subject(ev->subject, "", err);
    if (ev->actor)
        check_actor(ev->actor, "", err);
    if (ev->customer)
        check_text(ev->customer, "", "customer", LEDGER_MAX_CUSTOMER, err);
    if (ev->channel)
        check_channel(ev->channel, "", err);
    if (ev->source && check_source(ev->source, "", err) && ev->source_id == NULL)
        bad(err, "", "source_id", "is required when source is given");
    if (ev->source_id)
        check_text(ev->source_id, "", "source_id", LEDGER_MAX_SOURCE_ID, err);
    if (ev->data) {
        json_error_t je;
        json_t *d = json_loads(ev->data, JSON_REJECT_DUPLICATES, &je);

        char *c = json_is_object(d) ? ledger_data_canonical(d) : NULL;

        if (!json_is_object(d))
            bad(err, "", "data", "must be a JSON object");
        else if (c == NULL)
            bad(err, "", "data", "must be at most 16384 bytes as canonical JSON");
        else if (strcmp(c, ev->data) != 0)
            bad(err, "", "data", "must be canonical JSON (see ledger_data_canonical)");
        free(c);
        json_decref(d);
    }
    return err->nfields + err->nfields_dropped != before ? SMILE_EINVAL : SMILE_OK;
}

void
ledger_batch_free(struct ledger_batch *b)
{
    if (b == NULL)
        return;
    if (b->datas)
        for (size_t i = 0; i < b->n; i++)
            free(b->datas[i]);
    free(b->datas);
    free(b->evs);
    json_decref(b->body);
    memset(b, 0, sizeof(*b));
}

int
ledger_batch_parse(json_t *body, struct ledger_batch *out, struct smile_err *err)
{
    struct ledger_batch b;
    json_t *arr;
    const char *key;
    json_t *v;
    int rc = SMILE_OK;

    memset(out, 0, sizeof(*out));
    memset(&b, 0, sizeof(b));
    if (!json_is_object(body)) {
        smile_err_field(err, "", "the body must be an event object or {\"events\": [...]}");
        return SMILE_EINVAL;
    }
    arr = json_object_get(body, "events");
    if (arr == NULL) {
        b.n = 1;
        b.evs = xcalloc(1, sizeof(*b.evs));
        b.datas = xcalloc(1, sizeof(*b.datas));
        rc = ledger_event_parse(body, "", &b.evs[0], &b.datas[0], err);
    } else {
        size_t n = json_array_size(arr);

        json_object_foreach(body, key, v)
        {
            if (strcmp(key, "events") != 0)
                bad(err, "", key, "unknown field (a batch is {\"events\": [...]} only)");
        }
        if (!json_is_array(arr) || n == 0) {
            smile_err_field(err, "/events", "must be an array of 1 to 10000 events");
            return SMILE_EINVAL;
        }
        if (n > LEDGER_MAX_BATCH) {
            smile_err_set(err, SMILE_ETOOBIG, "a batch holds at most %d events, not %zu",
                          LEDGER_MAX_BATCH, n);
            smile_err_field(err, "/events", "more than 10000 events");
            return SMILE_ETOOBIG;
        }
        if (err->nfields)
            return SMILE_EINVAL;
        b.n = n;
        b.is_batch = true;
        b.evs = xcalloc(n, sizeof(*b.evs));
        b.datas = xcalloc(n, sizeof(*b.datas));
        for (size_t i = 0; i < n; i++) {
            char ptr[32];

            snprintf(ptr, sizeof(ptr), "/events/%zu", i);
            if (ledger_event_parse(json_array_get(arr, i), ptr, &b.evs[i], &b.datas[i], err) !=
                SMILE_OK)
                rc = SMILE_EINVAL;
        }
    }
    if (rc != SMILE_OK) {
        ledger_batch_free(&b);
        if (err->code == SMILE_OK)
            err->code = rc;
        snprintf(err->msg, sizeof(err->msg), "%d invalid field%s; nothing was written",
                 err->nfields + err->nfields_dropped,
                 err->nfields + err->nfields_dropped == 1 ? "" : "s");
        return rc;
    }
    b.body = json_incref(body);
    *out = b;
    return SMILE_OK;
}

json_t *
ledger_event_json(int64_t id, const struct ledger_event *ev, int64_t received_at,
                  const char *data_json)
{
    char occ[TIME_RFC3339_LEN + 1], rec[TIME_RFC3339_LEN + 1];
    json_t *o = json_object();
    json_t *data = NULL;

    time_format_rfc3339(ev->occurred_at, occ);
    time_format_rfc3339(received_at, rec);
    if (data_json)
        data = json_loads(data_json, 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        data = json_object();
    }
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "occurred_at", json_string(occ));
    json_object_set_new(o, "received_at", json_string(rec));
    json_object_set_new(o, "subject", json_string(ev->subject));
    json_object_set_new(o, "actor", ev->actor ? json_string(ev->actor) : json_null());
    json_object_set_new(o, "customer", ev->customer ? json_string(ev->customer) : json_null());
    json_object_set_new(o, "channel", json_string(ev->channel));
    json_object_set_new(o, "source", json_string(ev->source));
    json_object_set_new(o, "source_id", json_string(ev->source_id));
    json_object_set_new(o, "data", data);
    return o;
}

void
ledger_cursor_format(int64_t at, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%lld.%lld", (long long)at, (long long)id);
}

int
ledger_cursor_parse(const char *s, int64_t *out_at, int64_t *out_id)
{
    const char *dot = strchr(s, '.');

    if (dot == NULL || str_to_int64((struct str){s, (size_t)(dot - s)}, out_at) != SMILE_OK ||
        str_to_int64(str_from(dot + 1), out_id) != SMILE_OK || *out_id < 1)
        return SMILE_EINVAL;
    return SMILE_OK;
}
