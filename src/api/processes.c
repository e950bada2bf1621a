/*
 * processes.c — /api/v1/processes: list and read processes (any role), create and edit the
 * draft (supervisors and admins; PATCH takes If-Match), publish the draft as an immutable
 * version N+1 (admins; 422 with the JSON Pointer of every problem the engine finds), and read
 * a published version. New instances use the newest version in force when their subject
 * triggered; running ones keep theirs (see runtime/fold.c). Thin: parse → runtime/records.c.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "runtime/records.h"
#include "store/store.h"

static void
reply_record(struct http_request *req, int status, json_t *rec)
{
    api_etag(req, json_integer_value(json_object_get(rec, "version")));
    http_reply_json(req, status, rec);
}

void
api_processes_list(struct http_request *req)
{
    struct smile_err err;
    json_t *items = NULL;
    int64_t after = 0, next = 0;
    int limit;
    char c[24];

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after))
        return;
    if (runtime_process_list(req->db, after, limit, &items, &next, &err) != SMILE_OK) {
        json_decref(items);
        http_reply_problem(req, &err);
        return;
    }
    snprintf(c, sizeof(c), "%lld", (long long)next);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o}", "items", items, "next_cursor",
                              next ? json_string(c) : json_null()));
}

void
api_processes_get(struct http_request *req)
{
    struct smile_err err;
    json_t *rec;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (runtime_process_get(req->db, id, &rec, NULL, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    reply_record(req, 200, rec);
}

void
api_processes_create(struct http_request *req)
{
    struct smile_err err;
    json_t *body = NULL, *rec = NULL;
    char loc[64];

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        runtime_process_create(req->db, body, time_now_ms(), &rec, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    snprintf(loc, sizeof(loc), "/api/v1/processes/%lld",
             (long long)json_integer_value(json_object_get(rec, "id")));
    http_response_header(req, "Location", loc);
    reply_record(req, 201, rec);
}

void
api_processes_patch(struct http_request *req)
{
    struct smile_err err;
    json_t *body = NULL, *rec = NULL;
    int64_t id, expect;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_if_match_version(req, &expect))
        return;
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        runtime_process_replace(req->db, id, expect, body, time_now_ms(), &rec, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    reply_record(req, 200, rec);
}

void
api_processes_publish(struct http_request *req)
{
    struct smile_err err;
    const char *im = http_request_header(req, "If-Match");
    json_t *out = NULL;
    int64_t id, expect = 0;
    char loc[96];

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (im && !api_if_match_version(req, &expect))
        return;
    if (runtime_process_publish(req->db, id, expect, req->auth.username, time_now_ms(), &out,
                                &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    snprintf(loc, sizeof(loc), "/api/v1/processes/%lld/versions/%lld", (long long)id,
             (long long)json_integer_value(json_object_get(out, "number")));
    http_response_header(req, "Location", loc);
    http_reply_json(req, 201, out);
}

void
api_processes_version(struct http_request *req)
{
    struct smile_err err;
    json_t *out;
    int64_t id, n;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_param_id(req, 1, &n))
        return;
    if (runtime_process_version_get(req->db, id, n, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}
