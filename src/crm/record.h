/*
 * record.h — the generic record layer of the CRM. Each resource (customers, properties,
 * contracts, cases, interactions) is described by one table of field descriptors (name,
 * column, type, required, length, enum values, reference target, filterable, sensitive);
 * from that table this layer validates input, generates its SQL once (long-lived strings,
 * so the store's statement cache keyed by address works), and implements create, read,
 * partial update with optimistic locking, soft delete, filtered cursor-paged lists and the
 * audit trail of every change, written in the same transaction as the change.
 *
 * Record JSON: every record renders as {"id", <fields…>, "version", "created_at",
 * "updated_at"}. Times are RFC 3339 UTC with milliseconds, dates "YYYY-MM-DD", money an
 * integer number of cents, string arrays JSON arrays. Lists are ordered by id DESCENDING
 * (newest first); the cursor is the base64url (no padding) of the decimal id of the last
 * item of a page, and the next page holds the records with a smaller id.
 */
#ifndef SMILE_CRM_RECORD_H
#define SMILE_CRM_RECORD_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct http_auth;
struct crm_resource;

enum crm_type {
    CRM_TEXT,     /* string, max_len code points */
    CRM_INT,      /* integer (min_int … max_int) */
    CRM_MONEY,    /* integer cents ≥ 0 */
    CRM_REAL,     /* number > 0 */
    CRM_DATE,     /* "YYYY-MM-DD", stored as TEXT */
    CRM_ENUM,     /* one of enums[] */
    CRM_STRARRAY, /* array of strings (max_items, each max_len), stored as JSON TEXT */
    CRM_REF,      /* positive id of a live row of ref (a table name) */
    CRM_TIME,     /* RFC 3339 in JSON, INTEGER ms in SQL */
};

enum crm_field_flags {
    CRM_F_REQUIRED = 1 << 0,  /* must be present and non-null after create / merge */
    CRM_F_FILTER = 1 << 1,    /* may be used as a list filter ?name= (arrays: ?tag=) */
    CRM_F_SENSITIVE = 1 << 2, /* PIPL sensitive: masked in output and in the audit trail */
    CRM_F_READONLY = 1 << 3,  /* maintained by the server; clients may not send it */
    CRM_F_LINE = 1 << 4,      /* single line: no control characters */
    CRM_F_PERSONAL = 1 << 5,  /* personal information erased by anonymisation */
};

struct crm_ctx;

/*
 * Normalises one value in place or reports why it is bad. v is the value as sent (already
 * type-checked for the field's JSON type: a string for CRM_TEXT, one element for
 * CRM_STRARRAY); *out receives a new reference to the normalised value. path is the JSON
 * Pointer to report problems under.
 */
typedef int crm_normalise_fn(const json_t *v, json_t **out, const char *path,
                             struct smile_err *err);
/* Masks a stored value for display; writes a NUL-terminated string into out. */
typedef void crm_mask_fn(const char *v, char *out, size_t cap);

struct crm_field {
    const char *name;   /* JSON name */
    const char *column; /* SQL column */
    enum crm_type type;
    unsigned flags;
    int max_len;              /* code points of a text (or of each array element); 0 = 10,000 */
    int max_items;            /* CRM_STRARRAY: most elements; 0 = 50 */
    const char *const *enums; /* CRM_ENUM: NULL-terminated */
    const char *ref;          /* CRM_REF: "customers", "users", "teams", "properties", "cases" */
    crm_normalise_fn *normalise;
    crm_mask_fn *mask;
    const char *filter_name; /* query name if not the field name ("tag" for tags) */
    const char *def;         /* value of an absent text or enum on create (NULL = null) */
};

/*
 * Hooks a resource may add to the generic operations; each runs inside the transaction.
 * validate: cross-field checks and server-maintained fields on the merged record (old is
 *   NULL on create); add problems to err and return its code.
 * after_write: side tables and events after the row is written (old NULL on create, rec
 *   NULL on delete).
 */
typedef int crm_validate_fn(struct crm_ctx *c, const json_t *old, json_t *rec,
                            struct smile_err *err);
typedef int crm_after_write_fn(struct crm_ctx *c, int64_t id, const json_t *old, const json_t *rec,
                               struct smile_err *err);

#define CRM_LIST_MAX_FILTERS 12

/* A resource's statements, generated once from its field table (record.c owns them). */
struct crm_sql {
    bool ready;
    char *select_one; /* live row by id */
    char *insert;
    char *update;
    char *del;
    char *list;
    int nfilters;
    int filter_field[CRM_LIST_MAX_FILTERS];
};

struct crm_resource {
    const char *name;  /* "customer": the audit entity and the problem wording */
    const char *table; /* "customers" */
    const char *path;  /* "/api/v1/customers": for Location headers */
    const struct crm_field *fields;
    int nfields;
    crm_validate_fn *validate;
    crm_after_write_fn *after_write;
    struct crm_sql *sql; /* a zeroed static of the resource's file */
};

/* Who acts and when: one per request. */
struct crm_ctx {
    struct store *db;
    const struct http_auth *actor;
    const char *request_id;
    const char *address;
    int64_t now_ms;
    int nevents; /* events emitted in the current transaction (crm_events_finish) */
};

/*
 * A parsed list query: limit 1..500, cursor (0 = first page), updated_since (INT64_MIN =
 * none) and one value per filterable field in field order (NULL = not filtered).
 */
struct crm_list_query {
    int limit;
    int64_t after_id;
    int64_t updated_since;
    bool has_updated_since;
    const char *filters[CRM_LIST_MAX_FILTERS];
};

/* Read flags. */
enum crm_read_flags {
    CRM_REVEAL = 1 << 0, /* render sensitive fields unmasked (the caller audits it) */
};

/*
 * The transactional operations below clear err on entry and run in one transaction each
 * (crm_record_apply excepted: it runs in the caller's).
 *
 * Creates a record from body (an object). Unknown, read-only and wrongly typed fields,
 * bad values and dangling references are all reported at once in err (SMILE_EINVAL, one
 * JSON Pointer per field); nothing is written then. On success *out is the rendered record
 * (caller owns it) and *out_id its id. Audited as "create".
 */
int crm_record_create(struct crm_ctx *c, const struct crm_resource *r, const json_t *body,
                      int64_t *out_id, json_t **out, struct smile_err *err);

/*
 * Same as crm_record_create but inside the caller's open transaction (the mail import
 * writes a case, an interaction and its own rows in one): no begin, commit or
 * crm_events_finish (the caller does them). internal allows read-only fields in body.
 * err is not cleared, so a caller importing many rows may collect their problems. *out
 * (the rendered record, caller owns it) is skipped when out is NULL. On failure the caller
 * rolls back: a hook may have written before it failed.
 */
int crm_record_insert(struct crm_ctx *c, const struct crm_resource *r, const json_t *body,
                      bool internal, int64_t *out_id, json_t **out, struct smile_err *err);

/* Renders the live record id into *out (caller owns it); SMILE_ENOTFOUND if absent/deleted. */
int crm_record_get(struct crm_ctx *c, const struct crm_resource *r, int64_t id, unsigned flags,
                   json_t **out, struct smile_err *err);

/*
 * The read hot path: writes the live record id, rendered as crm_record_get would render
 * it, as compact JSON text into out (its content is replaced), straight from the row with
 * no JSON tree (byte for byte what http_json_dump of crm_record_get's result writes), and
 * its version into *version. SMILE_ENOTFOUND if absent or deleted (out untouched).
 */
int crm_record_get_text(struct crm_ctx *c, const struct crm_resource *r, int64_t id, unsigned flags,
                        struct buf *out, int64_t *version, struct smile_err *err);

/*
 * Loads the live record id in its stored form (sensitive values unmasked; times RFC 3339)
 * without rendering for output. Caller owns *out. SMILE_ENOTFOUND if absent or deleted.
 */
int crm_record_load(struct crm_ctx *c, const struct crm_resource *r, int64_t id, json_t **out,
                    struct smile_err *err);

/*
 * Parses an If-Match header value against version: NULL → SMILE_ENEEDMATCH, no matching
 * entity tag → SMILE_EPRECOND, "*" or "\"<version>\"" (also W/ and lists) → SMILE_OK.
 */
/* Runs the counted hooks, then the crm_customer_erase_hook_add() hooks, in order of
 * registration; the first failure stops them. */
int crm_customer_erase_hooks_run(struct store *s, int64_t customer_id, json_t *counts,
                                 struct smile_err *err);

int crm_if_match(const char *if_match, int64_t version, struct smile_err *err);

/*
 * Applies patch (a JSON merge patch: null clears a field) to the live record id if
 * if_match names its current version. Results: SMILE_ENEEDMATCH (no If-Match),
 * SMILE_ENOTFOUND, SMILE_EPRECOND (stale), SMILE_EINVAL (all problems at once),
 * SMILE_ECONFLICT (a hook refused, e.g. an illegal status change). Version + 1 on success;
 * *out is the new rendered record. A patch that changes nothing writes nothing: no new
 * version, no audit row.
 */
int crm_record_update(struct crm_ctx *c, const struct crm_resource *r, int64_t id,
                      const char *if_match, const json_t *patch, json_t **out,
                      struct smile_err *err);

/*
 * Same as crm_record_update but inside the caller's transaction, without the If-Match
 * test when if_match is NULL and with read-only fields allowed in patch (server actions
 * such as case transitions). action names the audit action ("update", "resolve" …).
 */
int crm_record_apply(struct crm_ctx *c, const struct crm_resource *r, int64_t id,
                     const char *if_match, const json_t *patch, bool internal, const char *action,
                     json_t **out, struct smile_err *err);

/* Soft-deletes the live record id if if_match matches (same results as update). */
int crm_record_delete(struct crm_ctx *c, const struct crm_resource *r, int64_t id,
                      const char *if_match, struct smile_err *err);

/*
 * Parses a list query. get(ud, name) returns a query parameter or NULL. Problems are
 * reported with pointers "/query/<name>" (SMILE_EINVAL), including filters the resource
 * does not offer.
 */
typedef const char *crm_query_get_fn(void *ud, const char *name);
int crm_list_query_parse(const struct crm_resource *r, crm_query_get_fn *get, void *ud,
                         struct crm_list_query *q, struct smile_err *err);

/* Lists records: *out = {"items": [...], "next_cursor": "…" | null}; caller owns it. */
int crm_record_list(struct crm_ctx *c, const struct crm_resource *r, const struct crm_list_query *q,
                    json_t **out, struct smile_err *err);

/* Whether the live row id exists in table ref (users: not disabled). */
int crm_ref_exists(struct crm_ctx *c, const char *ref, int64_t id, bool *out,
                   struct smile_err *err);

/* Renders a stored record (crm_record_load form) for output, masking sensitive fields. */
json_t *crm_record_render(const struct crm_resource *r, const json_t *stored, unsigned flags);

/* Writes an audit row for r/id; before and after may be NULL. */
int crm_audit(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *action,
              const json_t *before, const json_t *after, struct smile_err *err);

/* Base64url without padding; decode NUL-terminates and refuses NULs and overlong input. */
void crm_b64url_encode(const char *in, size_t n, char *out, size_t cap);
bool crm_b64url_decode(const char *s, char *out, size_t cap);

/* Cursor encoding: base64url of the decimal id. decode returns false if malformed. */
void crm_cursor_encode(int64_t id, char *out, size_t cap);
bool crm_cursor_decode(const char *s, int64_t *out);

/* Field look-up by JSON name; NULL if the resource has no such field. */
const struct crm_field *crm_field_find(const struct crm_resource *r, const char *name);

/* Counts UTF-8 code points of a valid UTF-8 string. */
size_t crm_utf8_len(const char *s);

#endif
