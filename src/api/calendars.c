/*
 * calendars.c — /api/v1/calendars: list, read, create, replace (If-Match) and delete
 * business calendars (admin writes, any role reads); import a holiday notice in the text
 * format into the calendar (optionally as a new version effective from a date); and the two
 * questions users ask of a standard: when does "3 business days" from this instant end (add),
 * and how much working time lies between two instants (diff). Thin: the generic handlers of
 * api/resource.c over runtime/records.c; calendar/ for add and diff.
 */
#include "api/resource.h"

#include <stdio.h>
#include <string.h>

#include "calendar/calendar.h"
#include "engine/engine.h"
#include "runtime/records.h"
#include "store/store.h"

static json_t *
time_json(int64_t ms)
{
    char b[TIME_RFC3339_LEN + 1];
    time_format_rfc3339(ms, b);
    return json_string(b);
}

static int
calendar_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
                struct smile_err *err)
{
    (void)version; /* the record's "version" */
    return runtime_calendar_create(c->db, body, c->now_ms, out, err);
}

static int
calendar_replace(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
                 int64_t *version, struct smile_err *err)
{
    (void)version;
    return runtime_calendar_replace(c->db, id, expect, body, c->now_ms, out, err);
}

static int
calendar_delete(const struct api_call *c, int64_t id, int64_t expect, struct smile_err *err)
{
    return runtime_calendar_delete(c->db, id, expect, c->now_ms, err);
}

/* PATCH replaces the whole document; the runtime answers 404 inside its transaction. */
static const struct api_resource calendars = {
    .base = "/api/v1/calendars",
    .flags = API_RESOURCE_MATCH_FIRST,
    .list = runtime_calendar_list,
    .get = runtime_calendar_get,
    .create = calendar_create,
    .update = calendar_replace,
    .remove = calendar_delete,
};

void
api_calendars_list(struct http_request *req)
{
    api_resource_list(req, &calendars);
}

void
api_calendars_get(struct http_request *req)
{
    api_resource_get(req, &calendars);
}

void
api_calendars_create(struct http_request *req)
{
    api_resource_create(req, &calendars);
}

void
api_calendars_patch(struct http_request *req)
{
    api_resource_patch(req, &calendars);
}

void
api_calendars_delete(struct http_request *req)
{
    api_resource_delete(req, &calendars);
}

void
api_calendars_holidays(struct http_request *req)
{
    struct smile_err err;
    const char *from = http_request_query(req, "effective_from");
    const char *im = http_request_header(req, "If-Match");
    int64_t id, expect = 0, day = INT64_MIN;
    json_t *rec = NULL;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (im && !api_if_match_version(req, &expect))
        return;
    if (from && time_parse_date(from, strlen(from), &day) != SMILE_OK) {
        smile_err_field(&err, "/query/effective_from", "must be a date YYYY-MM-DD");
        http_reply_problem(req, &err);
        return;
    }
    if (req->body_len == 0) {
        smile_err_field(&err, "/body",
                        "send the notice as text/plain, e.g. "
                        "\"2026 OFF 10-01..10-07\"");
        http_reply_problem(req, &err);
        return;
    }
    if (runtime_calendar_holidays(req->db, id, expect, req->body, req->body_len, day, time_now_ms(),
                                  &rec, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_reply_versioned(req, 200, rec, 0);
}

/* Reads a required RFC 3339 query parameter into *out; adds a field error otherwise. */
static bool
query_time(struct http_request *req, const char *name, int64_t *out, struct smile_err *err)
{
    const char *v = http_request_query(req, name);
    char ptr[40];

    if (v && time_parse_rfc3339(v, strlen(v), out) == SMILE_OK)
        return true;
    snprintf(ptr, sizeof(ptr), "/query/%s", name);
    smile_err_field(err, ptr, "is required: an RFC 3339 time such as 2026-02-13T09:00:00Z");
    return false;
}

void
api_calendars_add(struct http_request *req)
{
    struct smile_err err;
    struct calendar *cal = NULL;
    struct engine_duration d;
    const char *dur = http_request_query(req, "duration");
    int64_t id, start = 0, end, ms;
    char canon[64];
    bool ok;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    ok = query_time(req, "start", &start, &err);
    if (dur == NULL || engine_duration_parse(dur, &d) != SMILE_OK)
        ok = smile_err_field(&err, "/query/duration",
                             "is required: a duration such as \"24h\", \"3 rings\", "
                             "\"4 business hours\" or \"3 business days\"") == SMILE_OK;
    if (!ok) {
        http_reply_problem(req, &err);
        return;
    }
    if (runtime_calendar_load(req->db, id, &cal, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    switch (d.unit) {
    case ENGINE_DUR_RINGS:
        end = start + d.amount * calendar_ring_ms(cal, start);
        break;
    case ENGINE_DUR_BUSINESS_MIN:
    case ENGINE_DUR_BUSINESS_H:
        end = calendar_add(cal, start, engine_duration_ms(d), CALENDAR_BUSINESS);
        break;
    case ENGINE_DUR_BUSINESS_DAYS:
        end = calendar_add(cal, start, d.amount, CALENDAR_BUSINESS_DAYS);
        break;
    default:
        end = start + engine_duration_ms(d);
        break;
    }
    engine_duration_format(d, canon, sizeof(canon));
    if (end == INT64_MAX) {
        calendar_free(cal);
        http_reply_error(req, SMILE_EINVAL, "the calendar has no working time after the start");
        return;
    }
    ms = calendar_diff(cal, start, end);
    calendar_free(cal);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:s, s:o, s:I, s:I}", "start", time_json(start), "duration",
                              canon, "end", time_json(end), "business_ms", (json_int_t)ms,
                              "wall_ms", (json_int_t)(end - start)));
}

void
api_calendars_diff(struct http_request *req)
{
    struct smile_err err;
    struct calendar *cal = NULL;
    int64_t id, from = 0, to = 0, ms;
    bool ok;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    ok = query_time(req, "from", &from, &err);
    ok &= query_time(req, "to", &to, &err);
    if (!ok) {
        http_reply_problem(req, &err);
        return;
    }
    if (runtime_calendar_load(req->db, id, &cal, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    ms = calendar_diff(cal, from, to);
    calendar_free(cal);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o, s:I, s:I}", "from", time_json(from), "to", time_json(to),
                              "business_ms", (json_int_t)ms, "wall_ms", (json_int_t)(to - from)));
}
