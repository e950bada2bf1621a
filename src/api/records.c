/*
 * records.c — the generic CRM handlers: list, create, read, update and delete of any
 * crm_resource. Each parses the request (JSON body, If-Match, query), calls the record
 * layer and renders the result (ETag, Location, problem+json). Nothing else lives here.
 */
#include "api/api_crm.h"
#include "api/resource.h"

#include <inttypes.h>
#include <stdio.h>

void
api_crm_ctx(struct http_request *req, struct crm_ctx *c)
{
    c->db = req->db;
    c->actor = &req->auth;
    c->request_id = req->request_id;
    c->address = req->address;
    c->now_ms = time_now_ms();
}

void
api_reply_record(struct http_request *req, int status, json_t *rec)
{
    api_reply_versioned(req, status, rec, 0);
}

bool
api_body_optional(struct http_request *req, json_t **out)
{
    struct smile_err err;

    if (req->body == NULL || req->body_len == 0) {
        *out = json_object();
        return true;
    }
    smile_err_clear(&err);
    if (http_body_json(req, out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    return true;
}

static const char *
query_get(void *ud, const char *name)
{
    return http_request_query(ud, name);
}

void
api_record_list(struct http_request *req, const struct crm_resource *r)
{
    struct crm_list_query q;
    struct crm_ctx c;
    struct smile_err err;
    json_t *out = NULL;

    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (crm_list_query_parse(r, query_get, req, &q, &err) != SMILE_OK ||
        crm_record_list(&c, r, &q, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_record_create(struct http_request *req, const struct crm_resource *r)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *body = NULL, *out = NULL;
    int64_t id = 0;

    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        crm_record_create(&c, r, body, &id, &out, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_location(req, r->path, id);
    api_reply_record(req, 201, out);
}

void
api_record_get(struct http_request *req, const struct crm_resource *r)
{
    struct crm_ctx c;
    struct smile_err err;
    int64_t id, version = 0;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    /* perf: the row goes straight to the response text, without a JSON tree. */
    if (crm_record_get_text(&c, r, id, 0, &req->out, &version, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_etag(req, version);
    req->status = 200;
    req->content_type = "application/json";
}

void
api_record_update(struct http_request *req, const struct crm_resource *r)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *body = NULL, *out = NULL;
    const char *if_match = http_request_header(req, "If-Match");
    int64_t id;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        crm_record_update(&c, r, id, if_match, body, &out, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_reply_record(req, 200, out);
}

void
api_record_delete(struct http_request *req, const struct crm_resource *r)
{
    struct crm_ctx c;
    struct smile_err err;
    int64_t id;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (crm_record_delete(&c, r, id, http_request_header(req, "If-Match"), &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_empty(req, 204);
}
