/*
 * calendars.c — /api/v1/calendars: list, read, create, replace (If-Match) and delete
 * business calendars (admin writes, any role reads); import a holiday notice in the text
 * format into the calendar (optionally as a new version effective from a date); and the two
 * questions users ask of a standard: when does "3 business days" from this instant end (add),
 * and how much working time lies between two instants (diff). Thin: parse → runtime/records.c
 * and calendar/ → render.
 */
#include "api/api.h"
#include "api/documents.h"

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

void
api_calendars_list(struct http_request *req)
{
    api_doc_list(req, runtime_calendar_list);
}

void
api_calendars_get(struct http_request *req)
{
    api_doc_get(req, runtime_calendar_get);
}

void
api_calendars_create(struct http_request *req)
{
    api_doc_create(req, runtime_calendar_create, "/api/v1/calendars");
}

void
api_calendars_patch(struct http_request *req)
{
    api_doc_replace(req, runtime_calendar_replace);
}

void
api_calendars_delete(struct http_request *req)
{
    struct smile_err err;
    int64_t id, expect;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_if_match_version(req, &expect))
        return;
    if (runtime_calendar_delete(req->db, id, expect, time_now_ms(), &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_empty(req, 204);
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
    api_doc_reply(req, 200, rec);
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
