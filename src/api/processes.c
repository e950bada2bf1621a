/*
 * processes.c — /api/v1/processes: list and read processes (any role), create and edit the
 * draft (supervisors and admins; PATCH takes If-Match), publish the draft as an immutable
 * version N+1 (admins; 422 with the JSON Pointer of every problem the engine finds), and read
 * a published version. New instances use the newest version in force when their subject
 * triggered; running ones keep theirs (see runtime/fold.c). Thin: the generic handlers of
 * api/resource.c over runtime/records.c.
 */
#include "api/resource.h"

#include <stdio.h>
#include <string.h>

#include "runtime/records.h"
#include "store/store.h"

static int
process_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
               struct smile_err *err)
{
    (void)version; /* the record's "version" */
    return runtime_process_create(c->db, body, c->now_ms, out, err);
}

static int
process_replace(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
                int64_t *version, struct smile_err *err)
{
    (void)version;
    return runtime_process_replace(c->db, id, expect, body, c->now_ms, out, err);
}

/* PATCH replaces the whole draft; the runtime answers 404 inside its transaction. */
static const struct api_resource processes = {
    .base = "/api/v1/processes",
    .flags = API_RESOURCE_MATCH_FIRST,
    .list = runtime_process_list,
    .get = runtime_process_get,
    .create = process_create,
    .update = process_replace,
};

void
api_processes_list(struct http_request *req)
{
    api_resource_list(req, &processes);
}

void
api_processes_get(struct http_request *req)
{
    api_resource_get(req, &processes);
}

void
api_processes_create(struct http_request *req)
{
    api_resource_create(req, &processes);
}

void
api_processes_patch(struct http_request *req)
{
    api_resource_patch(req, &processes);
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
