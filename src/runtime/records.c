/*
 * records.c — the definition records the runtime folds with: business calendars (table
 * calendars: a JSON document per row, effective-dated versions inside it) and processes
 * (table processes: the editable draft; table process_versions: immutable published
 * versions in canonical form). The API handlers (api/calendars.c, api/processes.c) and the
 * seeds of `smile init` call these; each write is one transaction and validates first
 * (calendar_from_json, engine_process_compile), so nothing is written on an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "engine/engine.h"
#include "runtime/records.h"
#include "runtime/runtime.h"
#include "store/store.h"

static json_t *
time_json(int64_t ms)
{
    char b[TIME_RFC3339_LEN + 1];
    time_format_rfc3339(ms, b);
    return json_string(b);
}

static int
step_done(struct store_stmt *st, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE || rc == STORE_ROW ? SMILE_OK : rc;
}

/*
 * Calendars and processes are the same kind of record: a named JSON document in a row
 * (id, name, document, version, created_at, updated_at) with a unique live name and soft
 * delete. A doc_kind holds one table's statements and checks; the functions below read a
 * row, a page, and create or replace one under an expected version.
 */
struct doc_kind {
    const char *name;        /* "calendar", "process": the subject of messages */
    const char *conflict;    /* the message of a taken name; its %s is the name */
    const char *sql_get;     /* the row of id $1: id, name, document, version, created, updated */
    const char *sql_list;    /* rows with id > $1, at most $2, the same columns first */
    const char *sql_insert;  /* ($1 name, $2 document, $3 now) RETURNING id */
    const char *sql_update;  /* ($1 name, $2 document, $3 now, $4 id) */
    const char *sql_version; /* the version of live row $1 */
    const char *member;      /* the document's member in the record: "document", "draft" */
    /* Extra members of a list item from the list query's further columns (may be NULL). */
    void (*list_extra)(struct store_stmt *st, json_t *item);
    /* Validates a document; *text its compact text (caller frees), *name its name. */
    int (*check)(json_t *doc, char **text, const char **name, struct smile_err *err);
    /* Reads the record back after a write (the public get, which may add members). */
    int (*get)(struct store *s, int64_t id, json_t **out, int64_t *version, struct smile_err *err);
};

/* The record of a row: id, name, version, times and the document under k->member. */
static json_t *
row_json(const struct doc_kind *k, struct store_stmt *st)
{
    json_t *d = json_loads(store_stmt_text(st, 2), 0, NULL);

    return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o}", "id", (json_int_t)store_stmt_int64(st, 0),
                     "name", store_stmt_text(st, 1), "version", (json_int_t)store_stmt_int64(st, 3),
                     "created_at", time_json(store_stmt_int64(st, 4)), "updated_at",
                     time_json(store_stmt_int64(st, 5)), k->member, d ? d : json_null());
}

static int
doc_get(const struct doc_kind *k, struct store *s, int64_t id, json_t **out, int64_t *version,
        struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, k->sql_get, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out = row_json(k, st);
        if (version)
            *version = store_stmt_int64(st, 3);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no %s %lld", k->name, (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

static int
doc_list(const struct doc_kind *k, struct store *s, int64_t after, int limit, json_t **out,
         int64_t *next, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, k->sql_list, &st, err), n = 0;

    *out = json_array();
    *next = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, after);
    store_stmt_bind_int64(st, 2, limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        json_t *o;

        if (n++ == limit)
            break;
        o = row_json(k, st);
        if (k->list_extra)
            k->list_extra(st, o);
        json_array_append_new(*out, o);
        *next = store_stmt_int64(st, 0);
    }
    if (rc != STORE_ROW)
        *next = 0;
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

/* Checks the expected version inside the transaction: 404 or 412. */
static int
check_version(struct store *s, const char *sql, int64_t id, int64_t expect, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        int64_t v = store_stmt_int64(st, 0);
        rc = expect == v || expect == 0
                 ? SMILE_OK
                 : smile_err_set(err, SMILE_EPRECOND,
                                 "If-Match \"%lld\" is stale: the record is at version %lld",
                                 (long long)expect, (long long)v);
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no record %lld", (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

/*
 * Creates (id 0) or replaces row id at version expect (0: any) with doc, validated first,
 * in one transaction; *out the record as read back. A taken name is SMILE_ECONFLICT.
 */
static int
doc_save(const struct doc_kind *k, struct store *s, int64_t id, int64_t expect, json_t *doc,
         int64_t now, json_t **out, struct smile_err *err)
{
    struct store_stmt *st;
    const char *name = NULL;
    char *text;
    int rc = k->check(doc, &text, &name, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    if ((rc = store_begin(s, err)) != SMILE_OK)
        goto out;
    if (id)
        rc = check_version(s, k->sql_version, id, expect, err);
    if (rc == SMILE_OK &&
        (rc = store_prepare(s, id ? k->sql_update : k->sql_insert, &st, err)) == SMILE_OK) {
        store_stmt_bind_text(st, 1, name, -1);
        store_stmt_bind_text(st, 2, text, -1);
        store_stmt_bind_int64(st, 3, now);
        if (id)
            store_stmt_bind_int64(st, 4, id);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW && id == 0) {
            id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        } else if (id && (rc == STORE_ROW || rc == STORE_DONE)) {
            rc = SMILE_OK;
        } else if (rc == SMILE_ECONFLICT) {
            smile_err_clear(err);
            rc = smile_err_set(err, SMILE_ECONFLICT, k->conflict, name);
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    if (rc == SMILE_OK)
        rc = k->get(s, id, out, NULL, err);
out:
    free(text);
    return rc;
}

/* Whether a row named name exists (sql: SELECT id … WHERE name = $1). */
static int
named(struct store *s, const char *sql, const char *name, bool *found, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *found = false;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, name, -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    *found = rc == STORE_ROW;
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

/* Calendars -------------------------------------------------------------------------------- */

static const struct doc_kind calendar_kind;

int
runtime_calendar_list(struct store *s, int64_t after, int limit, json_t **out, int64_t *next,
                      struct smile_err *err)
{
    return doc_list(&calendar_kind, s, after, limit, out, next, err);
}

int
runtime_calendar_get(struct store *s, int64_t id, json_t **out, int64_t *version,
                     struct smile_err *err)
{
    return doc_get(&calendar_kind, s, id, out, version, err);
}

int
runtime_calendar_load(struct store *s, int64_t id, struct calendar **out, struct smile_err *err)
{
    json_t *row = NULL;
    char *doc;
    int rc = runtime_calendar_get(s, id, &row, NULL, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    doc = json_dumps(json_object_get(row, "document"), JSON_COMPACT);
    json_decref(row);
    rc = runtime_calendar_compile(doc, strlen(doc), out, err);
    free(doc);
    if (rc != SMILE_OK)
        return smile_err_set(err, SMILE_EINTERNAL, "the stored calendar does not compile");
    return SMILE_OK;
}

/* Validates a calendar document; *out_text its compact text, *out_name its name. */
static int
calendar_check_doc(json_t *doc, char **out_text, const char **out_name, struct smile_err *err)
{
    struct calendar *cal = NULL;
    json_t *name = json_object_get(doc, "name");
    int rc;

    *out_text = NULL;
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 200)
        smile_err_field(err, "/name", "is required: 1 to 200 bytes");
    *out_text = json_dumps(doc, JSON_COMPACT);
    rc = runtime_calendar_compile(*out_text, strlen(*out_text), &cal, err);
    calendar_free(cal);
    if (rc != SMILE_OK || err->nfields > 0) {
        free(*out_text);
        *out_text = NULL;
        if (err->code == SMILE_OK || err->code == SMILE_EMALFORMED)
            err->code = SMILE_EINVAL;
        return SMILE_EINVAL;
    }
    *out_name = json_string_value(name);
    return SMILE_OK;
}

static const char sql_cal_version[] =
    "SELECT version FROM calendars WHERE id = $1 AND deleted_at IS NULL";

static const struct doc_kind calendar_kind = {
    .name = "calendar",
    .conflict = "a calendar named '%s' exists",
    .sql_get = "SELECT id, name, document, version, created_at, updated_at"
               " FROM calendars WHERE id = $1 AND deleted_at IS NULL",
    .sql_list = "SELECT id, name, document, version, created_at, updated_at"
                " FROM calendars WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
    .sql_insert = "INSERT INTO calendars (name, document, version, created_at, updated_at)"
                  " VALUES ($1, $2, 1, $3, $3) RETURNING id",
    .sql_update = "UPDATE calendars SET name = $1, document = $2, version = version + 1,"
                  " updated_at = $3 WHERE id = $4",
    .sql_version = sql_cal_version,
    .member = "document",
    .check = calendar_check_doc,
    .get = runtime_calendar_get,
};

int
runtime_calendar_create(struct store *s, json_t *doc, int64_t now, json_t **out,
                        struct smile_err *err)
{
    return doc_save(&calendar_kind, s, 0, 0, doc, now, out, err);
}

int
runtime_calendar_replace(struct store *s, int64_t id, int64_t expect, json_t *doc, int64_t now,
                         json_t **out, struct smile_err *err)
{
    return doc_save(&calendar_kind, s, id, expect, doc, now, out, err);
}

int
runtime_calendar_delete(struct store *s, int64_t id, int64_t expect, int64_t now,
                        struct smile_err *err)
{
    /* The name is freed for reuse: a deleted row keeps "<name>#deleted#<id>". */
    static const char sql[] = "UPDATE calendars SET deleted_at = $1, version = version + 1,"
                              " name = name || '#deleted#' || id WHERE id = $2";
    struct store_stmt *st;
    int rc = store_begin(s, err);

    if (rc != SMILE_OK)
        return rc;
    rc = check_version(s, sql_cal_version, id, expect, err);
    if (rc == SMILE_OK && (rc = store_prepare(s, sql, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, now);
        store_stmt_bind_int64(st, 2, id);
        rc = step_done(st, err);
    }
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    return rc;
}

/*
 * Inserts a copy of the version in force on day `from` (a local date) with
 * effective_from = that date, unless a version already starts on it.
 */
static int
split_version(json_t *doc, int64_t from, struct smile_err *err)
{
    json_t *vers = json_object_get(doc, "versions"), *v, *copy;
    size_t i, at = 0;
    char date[11];
    bool found = false;

    if (!json_is_array(vers) || json_array_size(vers) == 0)
        return smile_err_field(err, "/versions", "the stored calendar has no versions");
    json_array_foreach(vers, i, v)
    {
        const char *ef = json_string_value(json_object_get(v, "effective_from"));
        int64_t day;
        if (ef == NULL || time_parse_date(ef, strlen(ef), &day) != SMILE_OK)
            return smile_err_field(err, "/versions", "a version has no effective_from");
        if (day == from)
            return SMILE_OK;
        if (day < from) {
            at = i;
            found = true;
        }
    }
    copy = json_deep_copy(json_array_get(vers, found ? at : 0));
    time_format_date(from, date);
    json_object_set_new(copy, "effective_from", json_string(date));
    json_object_del(copy, "note");
    json_array_insert_new(vers, found ? at + 1 : 0, copy);
    return SMILE_OK;
}

int
runtime_calendar_holidays(struct store *s, int64_t id, int64_t expect, const char *text, size_t len,
                          int64_t effective_from, int64_t now, json_t **out, struct smile_err *err)
{
    struct calendar_holidays h = {0};
    json_t *row = NULL, *doc;
    int rc = calendar_holidays_parse_text(text, len, &h, err);

    *out = NULL;
    if (rc != SMILE_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        smile_err_clear(err);
        return smile_err_field(err, "/body", "%s", msg);
    }
    if ((rc = runtime_calendar_get(s, id, &row, NULL, err)) != SMILE_OK)
        goto out;
    doc = json_object_get(row, "document");
    if (effective_from != INT64_MIN && (rc = split_version(doc, effective_from, err)) != SMILE_OK)
        goto out;
    if ((rc = calendar_holidays_merge(doc, &h, err)) != SMILE_OK)
        goto out;
    rc = runtime_calendar_replace(s, id, expect, doc, now, out, err);
out:
    json_decref(row);
    calendar_holidays_free(&h);
    return rc;
}

/* Processes -------------------------------------------------------------------------------- */

static int
draft_check(json_t *doc, char **out_text, const char **out_name, struct smile_err *err)
{
    json_t *name = json_object_get(doc, "name");
    size_t len;

    *out_text = NULL;
    if (!json_is_object(doc))
        return smile_err_field(err, "", "must be a process document (a JSON object)");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 200)
        return smile_err_field(err, "/name", "is required: 1 to 200 characters");
    *out_text = json_dumps(doc, JSON_COMPACT);
    len = strlen(*out_text);
    if (len > ENGINE_MAX_DOC) {
        free(*out_text);
        *out_text = NULL;
        return smile_err_set(err, SMILE_ETOOBIG, "a process document is at most %d bytes",
                             ENGINE_MAX_DOC);
    }
    *out_name = json_string_value(name);
    return SMILE_OK;
}

static int
versions_json(struct store *s, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT number, published_at, published_by FROM process_versions"
                              " WHERE process_id = $1 ORDER BY number";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = json_array();
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *by = store_stmt_text(st, 2);
        json_array_append_new(*out, json_pack("{s:I, s:o, s:o}", "number",
                                              (json_int_t)store_stmt_int64(st, 0), "published_at",
                                              time_json(store_stmt_int64(st, 1)), "published_by",
                                              by ? json_string(by) : json_null()));
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* The list's seventh column: the newest published version's number, null before any. */
static void
process_list_extra(struct store_stmt *st, json_t *o)
{
    json_object_set_new(o, "latest_version",
                        store_stmt_is_null(st, 6) ? json_null()
                                                  : json_integer(store_stmt_int64(st, 6)));
}

static const struct doc_kind process_kind = {
    .name = "process",
    .conflict = "a process with this name exists%.0s", /* the name is not repeated */
    .sql_get = "SELECT id, name, draft, version, created_at, updated_at"
               " FROM processes WHERE id = $1 AND deleted_at IS NULL",
    .sql_list = "SELECT p.id, p.name, p.draft, p.version, p.created_at, p.updated_at,"
                " (SELECT max(number) FROM process_versions v WHERE v.process_id = p.id)"
                " FROM processes p WHERE p.deleted_at IS NULL AND p.id > $1 ORDER BY p.id"
                " LIMIT $2",
    .sql_insert = "INSERT INTO processes (name, draft, version, created_at, updated_at)"
                  " VALUES ($1, $2, 1, $3, $3) RETURNING id",
    .sql_update = "UPDATE processes SET name = $1, draft = $2, version = version + 1,"
                  " updated_at = $3 WHERE id = $4",
    .sql_version = "SELECT version FROM processes WHERE id = $1 AND deleted_at IS NULL",
    .member = "draft",
    .list_extra = process_list_extra,
    .check = draft_check,
    .get = runtime_process_get,
};

int
runtime_process_get(struct store *s, int64_t id, json_t **out, int64_t *version,
                    struct smile_err *err)
{
    json_t *vers = NULL;
    int rc = doc_get(&process_kind, s, id, out, version, err);

    if (rc == SMILE_OK && (rc = versions_json(s, id, &vers, err)) == SMILE_OK)
        json_object_set_new(*out, "versions", vers);
    else
        json_decref(vers);
    return rc;
}

int
runtime_process_list(struct store *s, int64_t after, int limit, json_t **out, int64_t *next,
                     struct smile_err *err)
{
    return doc_list(&process_kind, s, after, limit, out, next, err);
}

int
runtime_process_create(struct store *s, json_t *draft, int64_t now, json_t **out,
                       struct smile_err *err)
{
    return doc_save(&process_kind, s, 0, 0, draft, now, out, err);
}

int
runtime_process_replace(struct store *s, int64_t id, int64_t expect, json_t *draft, int64_t now,
                        json_t **out, struct smile_err *err)
{
    return doc_save(&process_kind, s, id, expect, draft, now, out, err);
}

/* A process may name "default" (resolved at fold time) or an existing calendar. */
static int
calendar_known(struct store *s, const char *name, struct smile_err *err)
{
    static const char sql[] = "SELECT count(*) FROM calendars WHERE name = $1 AND"
                              " deleted_at IS NULL";
    struct store_stmt *st;
    int64_t n = 0;
    int rc;

    if (name == NULL || strcmp(name, "default") == 0)
        return SMILE_OK;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, name, -1);
    if ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        n = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    if (rc == SMILE_OK && n == 0)
        rc = smile_err_field(err, "/calendar", "no calendar named '%s' (see GET /api/v1/calendars)",
                             name);
    return rc;
}

int
runtime_process_publish(struct store *s, int64_t id, int64_t expect, const char *by, int64_t at,
                        json_t **out, struct smile_err *err)
{
    static const char sql_draft[] =
        "SELECT draft, version, (SELECT coalesce(max(number), 0) FROM process_versions"
        " WHERE process_id = $1) FROM processes WHERE id = $1 AND deleted_at IS NULL";
    static const char sql_ins[] = "INSERT INTO process_versions (process_id, number, document,"
                                  " published_at, published_by) VALUES ($1, $2, $3, $4, $5)";
    struct store_stmt *st;
    struct engine_process *p = NULL;
    json_t *doc = NULL;
    char *canon = NULL;
    int64_t num = 0, ver = 0;
    int rc = store_begin(s, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    if ((rc = store_prepare(s, sql_draft, &st, err)) != SMILE_OK)
        goto fail;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        doc = json_loads(store_stmt_text(st, 0), 0, NULL);
        ver = store_stmt_int64(st, 1);
        num = store_stmt_int64(st, 2) + 1;
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no process %lld", (long long)id);
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto fail;
    if (expect && expect != ver) {
        rc = smile_err_set(err, SMILE_EPRECOND, "If-Match is stale: the draft is at version %lld",
                           (long long)ver);
        goto fail;
    }
    if (doc == NULL) {
        rc = smile_err_set(err, SMILE_EINTERNAL, "the stored draft is not JSON");
        goto fail;
    }
    json_object_set_new(doc, "version", json_integer(num));
    json_object_set_new(doc, "published_at", time_json(at));
    if ((rc = engine_process_compile_json(doc, &p, err)) != SMILE_OK)
        goto fail;
    if ((rc = calendar_known(s, engine_process_calendar(p), err)) != SMILE_OK)
        goto fail;
    canon = engine_process_to_json(p);
    if ((rc = store_prepare(s, sql_ins, &st, err)) != SMILE_OK)
        goto fail;
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_int64(st, 2, num);
    store_stmt_bind_text(st, 3, canon, -1);
    store_stmt_bind_int64(st, 4, at);
    store_stmt_bind_text(st, 5, by, -1);
    if ((rc = step_done(st, err)) != SMILE_OK)
        goto fail;
    if ((rc = store_commit(s, err)) != SMILE_OK)
        goto done;
    *out = json_pack("{s:I, s:I, s:o, s:o, s:o}", "process_id", (json_int_t)id, "number",
                     (json_int_t)num, "published_at", time_json(at), "published_by",
                     by ? json_string(by) : json_null(), "document", json_loads(canon, 0, NULL));
    goto done;
fail:
    store_rollback(s);
done:
    engine_process_unref(p);
    json_decref(doc);
    free(canon);
    return rc;
}

int
runtime_process_version_get(struct store *s, int64_t id, int64_t number, json_t **out,
                            struct smile_err *err)
{
    static const char sql[] = "SELECT document, published_at, published_by FROM process_versions"
                              " WHERE process_id = $1 AND number = $2";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_int64(st, 2, number);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        const char *by = store_stmt_text(st, 2);
        *out = json_pack("{s:I, s:I, s:o, s:o, s:o}", "process_id", (json_int_t)id, "number",
                         (json_int_t)number, "published_at", time_json(store_stmt_int64(st, 1)),
                         "published_by", by ? json_string(by) : json_null(), "document",
                         json_loads(store_stmt_text(st, 0), 0, NULL));
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "process %lld has no version %lld", (long long)id,
                           (long long)number);
    }
    store_stmt_reset(st);
    return rc;
}

int
runtime_process_install(struct store *s, const char *json, int64_t published_at,
                        struct smile_err *err)
{
    static const char sql[] = "SELECT id FROM processes WHERE name = $1";
    json_t *doc = json_loads(json, 0, NULL), *out = NULL;
    int64_t id = 0;
    bool found;
    int rc;

    if (doc == NULL)
        return smile_err_set(err, SMILE_EINTERNAL, "a built-in process is not JSON");
    rc = named(s, sql, json_string_value(json_object_get(doc, "name")), &found, err);
    if (rc != SMILE_OK || found) /* present: leave it alone */
        goto out;
    if ((rc = runtime_process_create(s, doc, time_now_ms(), &out, err)) != SMILE_OK)
        goto out;
    id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    out = NULL;
    rc = runtime_process_publish(s, id, 0, "smile", published_at, &out, err);
out:
    json_decref(out);
    json_decref(doc);
    return rc;
}

int
runtime_calendar_install(struct store *s, const char *name, const char *json, struct smile_err *err)
{
    static const char sql[] = "SELECT id FROM calendars WHERE name = $1";
    json_t *doc = json_loads(json, 0, NULL), *out = NULL;
    bool found;
    int rc;

    if (doc == NULL)
        return smile_err_set(err, SMILE_EINTERNAL, "a built-in calendar is not JSON");
    json_object_set_new(doc, "name", json_string(name));
    rc = named(s, sql, name, &found, err);
    if (rc == SMILE_OK && !found)
        rc = runtime_calendar_create(s, doc, time_now_ms(), &out, err);
    json_decref(out);
    json_decref(doc);
    return rc;
}
