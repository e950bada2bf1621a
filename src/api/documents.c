/*
 * documents.c — the handlers the runtime's document resources share (calendars and
 * processes: a named JSON document in a versioned row): list by cursor, read with an ETag,
 * create with a Location, replace under If-Match. Each resource passes the runtime/records.c
 * functions that own its table; the handlers only parse and render.
 */
#include "api/documents.h"

#include <stdio.h>

void
api_doc_reply(struct http_request *req, int status, json_t *rec)
{
    api_etag(req, json_integer_value(json_object_get(rec, "version")));
    http_reply_json(req, status, rec);
}

void
api_doc_list(struct http_request *req, api_doc_list_fn *list)
{
    struct smile_err err;
    json_t *items = NULL;
    int64_t after = 0, next = 0;
    int limit;
    char c[24];

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after))
        return;
    if (list(req->db, after, limit, &items, &next, &err) != SMILE_OK) {
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
api_doc_get(struct http_request *req, api_doc_get_fn *get)
{
    struct smile_err err;
    json_t *rec;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (get(req->db, id, &rec, NULL, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_doc_reply(req, 200, rec);
}

void
api_doc_create(struct http_request *req, api_doc_create_fn *create, const char *base)
{
    struct smile_err err;
    json_t *body = NULL, *rec = NULL;
    char loc[96];

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        create(req->db, body, time_now_ms(), &rec, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    snprintf(loc, sizeof(loc), "%s/%lld", base,
             (long long)json_integer_value(json_object_get(rec, "id")));
    http_response_header(req, "Location", loc);
    api_doc_reply(req, 201, rec);
}

void
api_doc_replace(struct http_request *req, api_doc_replace_fn *replace)
{
    struct smile_err err;
    json_t *body = NULL, *rec = NULL;
    int64_t id, expect;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_if_match_version(req, &expect))
        return;
    if (http_body_json(req, &body, &err) != SMILE_OK ||
        replace(req->db, id, expect, body, time_now_ms(), &rec, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_doc_reply(req, 200, rec);
}
