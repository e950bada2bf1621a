/*
 * resource.c — the generic handlers of the simple admin resources (api/resource.h): each
 * parses the request (id, ?limit=&cursor=, If-Match, JSON body) in the same order for every
 * resource, calls the resource's operation (an adapter over the part that owns the table)
 * and renders the answer (page, ETag, Location, problem+json). Nothing here touches a table.
 */
#include "api/resource.h"

#include <stdio.h>

bool
api_fail(struct http_request *req, const struct smile_err *err)
{
    http_reply_problem(req, err);
    return false;
}

void
api_field_unknown(struct smile_err *err, const char *key)
{
    char path[160];

    snprintf(path, sizeof(path), "/%s", key);
    smile_err_field(err, path, "unknown field");
}

bool
api_body(struct http_request *req, json_t **out)
{
    struct smile_err err;

    smile_err_clear(&err);
    *out = NULL;
    if (http_body_json(req, out, &err) != SMILE_OK)
        return api_fail(req, &err);
    return true;
}

void
api_reply_page(struct http_request *req, json_t *items, int64_t next)
{
    char c[24];

    snprintf(c, sizeof(c), "%lld", (long long)next);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o}", "items", items, "next_cursor",
                              next ? json_string(c) : json_null()));
}

void
api_reply_versioned(struct http_request *req, int status, json_t *rec, int64_t version)
{
    api_etag(req, version ? version : json_integer_value(json_object_get(rec, "version")));
    http_reply_json(req, status, rec);
}

void
api_location(struct http_request *req, const char *base, int64_t id)
{
    char loc[128];

    snprintf(loc, sizeof(loc), "%s/%lld", base, (long long)id);
    http_response_header(req, "Location", loc);
}

void
api_call_init(struct http_request *req, struct api_call *c)
{
    c->req = req;
    c->db = req->db;
    api_audit_who(req, &c->who);
    c->now_ms = time_now_ms();
}

bool
api_resource_load(struct http_request *req, const struct api_resource *r, int64_t *id, json_t **out,
                  int64_t *version)
{
    struct smile_err err;
    json_t *rec = NULL;
    int64_t v = 0;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, id))
        return false;
    if (r->get(req->db, *id, &rec, &v, &err) != SMILE_OK) {
        json_decref(rec);
        return api_fail(req, &err);
    }
    if (version)
        *version = v ? v : json_integer_value(json_object_get(rec, "version"));
    if (out)
        *out = rec;
    else
        json_decref(rec);
    return true;
}

void
api_resource_list(struct http_request *req, const struct api_resource *r)
{
    struct smile_err err;
    json_t *items = NULL;
    int64_t after = 0, next = 0;
    int limit = 0;

    smile_err_clear(&err);
    if (!(r->flags & API_RESOURCE_UNPAGED) &&
        (!api_query_limit(req, &limit) || !api_query_cursor(req, &after)))
        return;
    if (r->list(req->db, after, limit, &items, &next, &err) != SMILE_OK) {
        json_decref(items);
        api_fail(req, &err);
        return;
    }
    if (r->flags & API_RESOURCE_UNPAGED)
        http_reply_json(req, 200, items);
    else
        api_reply_page(req, items, next);
}

void
api_resource_get(struct http_request *req, const struct api_resource *r)
{
    json_t *rec = NULL;
    int64_t id, version = 0;

    if (!api_resource_load(req, r, &id, &rec, &version))
        return;
    api_reply_versioned(req, 200, rec, version);
}

void
api_resource_create(struct http_request *req, const struct api_resource *r)
{
    struct smile_err err;
    struct api_call c;
    json_t *body = NULL, *rec = NULL;
    int64_t version = 0;
    int rc;

    smile_err_clear(&err);
    if (!api_body(req, &body))
        return;
    api_call_init(req, &c);
    rc = r->create(&c, body, &rec, &version, &err);
    json_decref(body);
    if (rc != SMILE_OK) {
        json_decref(rec);
        api_fail(req, &err);
        return;
    }
    api_location(req, r->base, json_integer_value(json_object_get(rec, "id")));
    if (r->flags & API_RESOURCE_NO_STORE)
        http_response_header(req, "Cache-Control", "no-store");
    api_reply_versioned(req, 201, rec, version);
}

/* The id and If-Match of a PATCH/DELETE, in the resource's order (see MATCH_FIRST). */
static bool
id_and_match(struct http_request *req, const struct api_resource *r, int64_t *id, int64_t *expect)
{
    if (r->flags & API_RESOURCE_MATCH_FIRST)
        return api_param_id(req, 0, id) && api_if_match_version(req, expect);
    return api_resource_load(req, r, id, NULL, NULL) && api_if_match_version(req, expect);
}

void
api_resource_patch(struct http_request *req, const struct api_resource *r)
{
    struct smile_err err;
    struct api_call c;
    json_t *body = NULL, *rec = NULL;
    int64_t id, expect, version = 0;
    int rc;

    smile_err_clear(&err);
    if (!id_and_match(req, r, &id, &expect) || !api_body(req, &body))
        return;
    api_call_init(req, &c);
    rc = r->update(&c, id, expect, body, &rec, &version, &err);
    json_decref(body);
    if (rc != SMILE_OK) {
        json_decref(rec);
        api_fail(req, &err);
        return;
    }
    api_reply_versioned(req, 200, rec, version);
    if (r->after_update)
        r->after_update();
}

void
api_resource_delete(struct http_request *req, const struct api_resource *r)
{
    struct smile_err err;
    struct api_call c;
    int64_t id, expect;

    smile_err_clear(&err);
    if (!id_and_match(req, r, &id, &expect))
        return;
    api_call_init(req, &c);
    if (r->remove(&c, id, expect, &err) != SMILE_OK) {
        api_fail(req, &err);
        return;
    }
    http_reply_empty(req, 204);
}
