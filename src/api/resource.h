/*
 * resource.h — the shared handlers of the simple admin resources (teams, users, calendars,
 * processes, scorecard templates, webhooks, mailboxes): a descriptor per resource names the
 * functions of the part that owns its table, and five generic handlers do what every such
 * resource does over HTTP — list by cursor, read with an ETag, create with a Location,
 * patch under If-Match (428 absent, 412 stale) and delete under If-Match. Also the small
 * steps those handlers are made of (load-or-404, read the body, reply a page, reply a
 * versioned record), for the handlers of a resource that does something of its own.
 *
 * The owning part keeps its SQL, its validation, its version bump and its audit row in the
 * same transaction as the write (one owner per table, DESIGN.md §3); a resource's operations
 * are thin adapters in its api/ file that call the owner and return the record as JSON. The
 * CRM records (customers, cases …) have a richer layer of their own (api/records.c over
 * crm/resources.c: filters, field tables, soft delete).
 */
#ifndef SMILE_API_RESOURCE_H
#define SMILE_API_RESOURCE_H

#include "api/api.h"
#include "crm/audit.h"

/*
 * The operations of a resource, shaped like the owners' functions so that most plug in
 * as they are. Each returns an enum smile_result with the problem in err and on success
 * hands the caller a new reference to the record (or page) in *out. *version is the
 * record's version for its ETag; an operation may leave it 0, and the handler then takes
 * the record's "version" member. Reads get the request's connection; writes get a call
 * context with the connection, the audit context of the caller and the request's clock.
 */
struct api_call {
    struct http_request *req;
    struct store *db;
    struct audit_who who; /* caller, request id, client address (api_audit_who) */
    int64_t now_ms;
};

typedef int api_resource_list_fn(struct store *db, int64_t after, int limit, json_t **items,
                                 int64_t *next, struct smile_err *err);
typedef int api_resource_get_fn(struct store *db, int64_t id, json_t **out, int64_t *version,
                                struct smile_err *err);
typedef int api_resource_create_fn(const struct api_call *c, json_t *body, json_t **out,
                                   int64_t *version, struct smile_err *err);
typedef int api_resource_update_fn(const struct api_call *c, int64_t id, int64_t expect,
                                   json_t *body, json_t **out, int64_t *version,
                                   struct smile_err *err);
typedef int api_resource_delete_fn(const struct api_call *c, int64_t id, int64_t expect,
                                   struct smile_err *err);

enum api_resource_flags {
    /* The list operation returns the whole answer (no ?limit=, ?cursor=, next_cursor). */
    API_RESOURCE_UNPAGED = 1 << 0,
    /* Create answers with Cache-Control: no-store (the reply shows a secret once). */
    API_RESOURCE_NO_STORE = 1 << 1,
    /*
     * PATCH/DELETE read If-Match before the record is looked up, and the write itself
     * answers 404 (the runtime's documents). Without it a missing record is 404 before
     * a missing If-Match is 428: the first thing to learn.
     */
    API_RESOURCE_MATCH_FIRST = 1 << 2,
};

struct api_resource {
    const char *base; /* "/api/v1/teams": a created record's Location is <base>/<id> */
    unsigned flags;   /* enum api_resource_flags */
    api_resource_list_fn *list;
    api_resource_get_fn *get;
    api_resource_create_fn *create;
    api_resource_update_fn *update;
    api_resource_delete_fn *remove;
    void (*after_update)(void); /* called after a successful patch has been replied */
};

/*
 * The generic handlers. list: ?limit= (1–500, default 50) and ?cursor= → 200
 * {items, next_cursor}. get: /{id} → 200 with ETag. create: JSON body → 201 with Location
 * and ETag. patch: /{id}, If-Match, JSON body → 200 with the new ETag. delete: /{id},
 * If-Match → 204. Every error is replied as problem+json and nothing is written.
 */
void api_resource_list(struct http_request *req, const struct api_resource *r);
void api_resource_get(struct http_request *req, const struct api_resource *r);
void api_resource_create(struct http_request *req, const struct api_resource *r);
void api_resource_patch(struct http_request *req, const struct api_resource *r);
void api_resource_delete(struct http_request *req, const struct api_resource *r);

/* The steps they are made of. Each returns false when it has replied (an error). */

/*
 * Reads the id path parameter (404 if it is not a positive integer) and the record
 * through r->get (its problem, usually 404, is replied). On success *out is the record
 * (the caller owns it; pass out NULL to drop it) and *version its version.
 */
bool api_resource_load(struct http_request *req, const struct api_resource *r, int64_t *id,
                       json_t **out, int64_t *version);
/* Parses the request body as JSON into *out (caller owns it); replies its problem if it is not. */
bool api_body(struct http_request *req, json_t **out);

/* Adds the field problem "unknown field" at /<key> to err. */
void api_field_unknown(struct smile_err *err, const char *key);
/* Replies err as problem+json; returns false so that `return api_fail(req, &err);` reads. */
bool api_fail(struct http_request *req, const struct smile_err *err);
/* Replies 200 {items, next_cursor}: next as a string, null on the last page (takes items). */
void api_reply_page(struct http_request *req, json_t *items, int64_t next);
/*
 * Replies rec (taking the reference) with status and ETag "<version>"; version 0 takes
 * the record's "version" member.
 */
void api_reply_versioned(struct http_request *req, int status, json_t *rec, int64_t version);
/* Fills the call context of a write from the request (caller, request id, address, now). */
void api_call_init(struct http_request *req, struct api_call *c);
/* Sets Location: <base>/<id>. */
void api_location(struct http_request *req, const char *base, int64_t id);

#endif
