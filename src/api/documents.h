/*
 * documents.h — shared handlers of the runtime's document resources (calendars, processes).
 * Each takes the runtime/records.c function that owns the resource's table.
 */
#ifndef SMILE_API_DOCUMENTS_H
#define SMILE_API_DOCUMENTS_H

#include "api/api.h"

typedef int api_doc_list_fn(struct store *s, int64_t after, int limit, json_t **out, int64_t *next,
                            struct smile_err *err);
typedef int api_doc_get_fn(struct store *s, int64_t id, json_t **out, int64_t *version,
                           struct smile_err *err);
typedef int api_doc_create_fn(struct store *s, json_t *doc, int64_t now, json_t **out,
                              struct smile_err *err);
typedef int api_doc_replace_fn(struct store *s, int64_t id, int64_t expect, json_t *doc,
                               int64_t now, json_t **out, struct smile_err *err);

/* Replies rec (taking the reference) with its version as the ETag. */
void api_doc_reply(struct http_request *req, int status, json_t *rec);
/* GET collection: ?limit=&cursor= → {items, next_cursor}. */
void api_doc_list(struct http_request *req, api_doc_list_fn *list);
/* GET /{id} with ETag. */
void api_doc_get(struct http_request *req, api_doc_get_fn *get);
/* POST: 201 with Location base/<id> and ETag. */
void api_doc_create(struct http_request *req, api_doc_create_fn *create, const char *base);
/* PATCH /{id} with If-Match (428 absent, 412 stale): the body replaces the document. */
void api_doc_replace(struct http_request *req, api_doc_replace_fn *replace);

#endif
