/*
 * whatif.c — POST /api/v1/processes/{id}/whatif: replays a period of the ledger through
 * the process's live versions and a draft (kpi/whatif.h) and answers the side-by-side
 * report. Body {"draft": <process document> (optional: the stored draft), "from", "to"
 * (RFC 3339, from < to, at most 400 days apart), "target": 0 < t <= 1 (optional),
 * "customer_tag": only subjects whose customer has this tag (optional)}.
 * Reads only; nothing is written.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "kpi/whatif.h"

#define WHATIF_MAX_DAYS 400

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
api_processes_whatif(struct http_request *req)
{
    struct smile_err err;
    json_t *body = NULL, *out = NULL, *draft, *tj;
    const char *customer_tag = NULL;
    int64_t id, from, to;
    double target = -1;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    {
        const char *k;
        json_t *v;

        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "draft") != 0 && strcmp(k, "from") != 0 && strcmp(k, "to") != 0 &&
                strcmp(k, "target") != 0 && strcmp(k, "customer_tag") != 0) {
                char ptr[96];

                snprintf(ptr, sizeof(ptr), "/%.80s", k);
                smile_err_field(&err, ptr, "unknown field (draft, from, to, target, customer_tag)");
            }
        }
    }
    from = time_field(body, "from", &err);
    to = time_field(body, "to", &err);
    if (from != INT64_MIN && to != INT64_MIN) {
        if (to <= from)
            smile_err_field(&err, "/to", "must be after from");
        else if (to - from > (int64_t)WHATIF_MAX_DAYS * 86400000)
            smile_err_field(&err, "/to", "the period is at most %d days", WHATIF_MAX_DAYS);
    }
    draft = json_object_get(body, "draft");
    if (draft && !json_is_object(draft) && !json_is_null(draft))
        smile_err_field(&err, "/draft", "must be a process document (an object)");
    if (json_is_null(draft))
        draft = NULL;
    tj = json_object_get(body, "target");
    if (tj && !json_is_null(tj)) {
        target = json_number_value(tj);
        if (!json_is_number(tj) || !(target > 0 && target <= 1))
            smile_err_field(&err, "/target", "must be a compliance between 0 (excluded) and 1");
    }
    tj = json_object_get(body, "customer_tag");
    if (tj && !json_is_null(tj)) {
        if (!json_is_string(tj) || json_string_length(tj) < 1 || json_string_length(tj) > 32)
            smile_err_field(&err, "/customer_tag", "must be a customer tag (1 to 32 bytes)");
        else
            customer_tag = json_string_value(tj);
    }
    if (err.code != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    if (kpi_whatif_run(req->db, id, draft, from, to, target, customer_tag, time_now_ms(), &out,
                       &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    http_reply_json(req, 200, out);
}
