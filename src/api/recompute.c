/*
 * recompute.c — POST /api/v1/recompute (admins): recompute history after a calendar or a
 * process change (recompute/recompute.h). Body: either {"calendar": id, "from", "to"} or
 * {"process": id, "version": n, "from", "to" (optional: no end = "instances started from
 * <from>")}, times RFC 3339, from < to, at most 400 days apart (without "to", "from" at most
 * 400 days ago); "reason" (optional note, at most 500 characters), "dry_run": true (default)
 * | false, "confirm": token (required when dry_run is false: the token of the dry run whose
 * report was reviewed). A dry run writes nothing; applying answers 409 when anything changed
 * since the dry run. GET /api/v1/recompute/runs[/{id}] list the applied runs and show one with
 * its diffs and pins; GET /api/v1/recompute/runs/{id}/changes pages every measurement a run
 * changed.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "crm/audit.h"
#include "recompute/recompute.h"

static int64_t
time_field(const json_t *body, const char *name, struct smile_err *err)
{
    const json_t *v = json_object_get(body, name);
    char ptr[32];
    int64_t t = 0;

    snprintf(ptr, sizeof(ptr), "/%s", name);
    if (v == NULL) {
        smile_err_field(err, ptr, "is required (RFC 3339, e.g. 2026-11-01T00:00:00+08:00)");
        return INT64_MIN;
    }
    if (!json_is_string(v) ||
        time_parse_rfc3339(json_string_value(v), json_string_length(v), &t) != SMILE_OK) {
        smile_err_field(err, ptr, "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00+08:00");
        return INT64_MIN;
    }
    return t;
}

void
api_recompute(struct http_request *req)
{
    static const char *const known[] = {"calendar", "process", "version", "from",
                                        "to",       "reason",  "dry_run", "confirm"};
    struct smile_err err;
    struct recompute_req rq = {.dry_run = true, .to = INT64_MAX};
    struct audit_who who;
    json_t *body = NULL, *out = NULL, *v, *cal, *proc;
    const char *k;

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    json_object_foreach(body, k, v)
    {
        bool ok = false;

        for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
            ok |= strcmp(k, known[i]) == 0;
        if (!ok) {
            char ptr[96];

            snprintf(ptr, sizeof(ptr), "/%.80s", k);
            smile_err_field(&err, ptr,
                            "unknown field (calendar, process, version, from, to, reason, "
                            "dry_run, confirm)");
        }
    }
    cal = json_object_get(body, "calendar");
    proc = json_object_get(body, "process");
    if (cal && proc)
        smile_err_field(&err, "/process",
                        "give either calendar (a calendar changed) or process (re-pin its "
                        "instances to a version), not both");
    else if (cal == NULL && proc == NULL)
        smile_err_field(&err, "/calendar",
                        "is required: the id of the calendar that changed (or give process "
                        "and version)");
    else if (cal && (!json_is_integer(cal) || json_integer_value(cal) <= 0))
        smile_err_field(&err, "/calendar", "must be a calendar id (a positive integer)");
    else if (cal)
        rq.calendar_id = json_integer_value(cal);
    else if (!json_is_integer(proc) || json_integer_value(proc) <= 0)
        smile_err_field(&err, "/process", "must be a process id (a positive integer)");
    else
        rq.process_id = json_integer_value(proc);
    v = json_object_get(body, "version");
    if (v && cal)
        smile_err_field(&err, "/version", "goes with process, not calendar");
    else if (proc && v == NULL)
        smile_err_field(&err, "/version",
                        "is required with process: the published version to re-pin to");
    else if (v && (!json_is_integer(v) || json_integer_value(v) <= 0 ||
                   json_integer_value(v) > INT32_MAX))
        smile_err_field(&err, "/version", "must be a version number (a positive integer)");
    else if (v)
        rq.version = (int)json_integer_value(v);
    rq.from = time_field(body, "from", &err);
    if (json_object_get(body, "to") != NULL || proc == NULL)
        rq.to = time_field(body, "to", &err);
    if (rq.from != INT64_MIN && rq.to != INT64_MIN) {
        if (rq.to <= rq.from)
            smile_err_field(&err, "/to", "must be after from");
        else if (rq.to == INT64_MAX &&
                 time_now_ms() - rq.from > (int64_t)RECOMPUTE_MAX_DAYS * 86400000)
            smile_err_field(&err, "/from",
                            "without \"to\", from is at most %d days ago (or give \"to\")",
                            RECOMPUTE_MAX_DAYS);
        else if (rq.to != INT64_MAX && rq.to - rq.from > (int64_t)RECOMPUTE_MAX_DAYS * 86400000)
            smile_err_field(&err, "/to", "the period is at most %d days", RECOMPUTE_MAX_DAYS);
    }
    v = json_object_get(body, "reason");
    if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 500))
        smile_err_field(&err, "/reason", "must be a note of at most 500 characters");
    else if (v && json_is_string(v) && json_string_length(v) > 0)
        rq.reason = json_string_value(v);
    v = json_object_get(body, "dry_run");
    if (v && !json_is_boolean(v))
        smile_err_field(&err, "/dry_run", "must be true or false");
    else if (v)
        rq.dry_run = json_is_true(v);
    v = json_object_get(body, "confirm");
    if (v && !json_is_string(v))
        smile_err_field(&err, "/confirm", "must be the token a dry run answered");
    else if (v)
        rq.confirm = json_string_value(v);
    if (err.code == SMILE_OK && !rq.dry_run && rq.confirm == NULL)
        smile_err_field(&err, "/confirm",
                        "is required with \"dry_run\": false: the token of the dry run");
    if (err.code != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    if (recompute_run(req->db, &who, &rq, &out, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    http_reply_json(req, 200, out);
}

void
api_recompute_runs(struct http_request *req)
{
    struct smile_err err;
    json_t *out = NULL;
    int limit;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit))
        return;
    if (recompute_run_list(req->db, limit, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_recompute_run(struct http_request *req)
{
    struct smile_err err;
    json_t *out = NULL;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (recompute_run_get(req->db, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_recompute_run_changes(struct http_request *req)
{
    struct smile_err err;
    json_t *out = NULL;
    int64_t id, after = 0;
    int limit;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_query_limit(req, &limit) ||
        !api_query_cursor(req, &after))
        return;
    if (recompute_run_changes(req->db, id, after, limit, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}
