/*
 * audit.c — appends audit rows. Called by the CRM parts inside the transaction of each
 * change; the row names the actor (a signed-in user or token, or "cli"), the record, the
 * action and the record's JSON before and after. Nothing else writes the audit table.
 */
#include "crm/audit.h"

#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "store/store.h"

static char *
dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

int
audit_record(struct store *db, const struct http_auth *actor, const char *entity, int64_t id,
             const char *action, const json_t *before, const json_t *after, const char *request_id,
             const char *address, struct smile_err *err)
{
    static const char sql[] = "INSERT INTO audit (at, actor_id, actor, entity, entity_id, action, "
                              "before, after, request_id, address) "
                              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    struct store_stmt *st;
    char *b = NULL, *a = NULL;
    char who[96];
    int rc;

    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    b = dump(before);
    a = dump(after);
    store_stmt_bind_int64(st, 1, time_now_ms());
    if (actor && actor->user_id) {
        store_stmt_bind_int64(st, 2, actor->user_id);
        if (actor->via_session)
            store_stmt_bind_text(st, 3, actor->username, -1);
        else {
            /* Name the token too, so a leaked token's actions can be told apart. */
            struct buf w;

            buf_init(&w, sizeof(who) - 1);
            buf_printf(&w, "%s (token %lld)", actor->username, (long long)actor->token_id);
            memcpy(who, w.data ? w.data : "", w.len + 1);
            buf_free(&w);
            store_stmt_bind_text(st, 3, who, -1);
        }
    } else if (actor && actor->username[0]) {
        /* A server process acting on its own ("escalation"): named, no user id. */
        store_stmt_bind_null(st, 2);
        store_stmt_bind_text(st, 3, actor->username, -1);
    } else {
        /* A server-side actor without an account (work routing: "routing") names itself. */
        store_stmt_bind_null(st, 2);
        store_stmt_bind_text(st, 3, actor && actor->username[0] ? actor->username : "cli", -1);
    }
    store_stmt_bind_text(st, 4, entity, -1);
    if (id)
        store_stmt_bind_int64(st, 5, id);
    else
        store_stmt_bind_null(st, 5);
    store_stmt_bind_text(st, 6, action, -1);
    store_stmt_bind_text(st, 7, b, -1);
    store_stmt_bind_text(st, 8, a, -1);
    store_stmt_bind_text(st, 9, request_id && request_id[0] ? request_id : NULL, -1);
    store_stmt_bind_text(st, 10, address && address[0] ? address : NULL, -1);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    free(b);
    free(a);
    return rc;
}

int
audit_record_who(struct store *db, const struct audit_who *who, const char *entity, int64_t id,
                 const char *action, const json_t *before, const json_t *after,
                 struct smile_err *err)
{
    return audit_record(db, who ? who->actor : NULL, entity, id, action, before, after,
                        who ? who->request_id : NULL, who ? who->address : NULL, err);
}

/* uiadmin: reading the trail (GET /api/v1/audit) --------------------------------------- */

/* A stored before/after text as JSON (null when absent or, defensively, unparsable). */
static json_t *
load(const char *text)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

    return v ? v : json_null();
}

int
audit_list(struct store *db, const char *entity, int64_t entity_id, int64_t before_id, int limit,
           json_t **out_items, int64_t *out_next, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, at, actor_id, actor, entity_id, action, before, after, request_id "
        "FROM audit WHERE entity = $1 AND ($2 = 0 OR entity_id = $2) AND id < $3 "
        "ORDER BY id DESC LIMIT $4";
    struct store_stmt *st;
    json_t *items;
    int64_t last = 0;
    int rc = store_prepare(db, sql, &st, err);

    *out_items = NULL;
    *out_next = 0;
    if (rc != SMILE_OK)
        return rc;
    items = json_array();
    store_stmt_bind_text(st, 1, entity, -1);
    store_stmt_bind_int64(st, 2, entity_id);
    store_stmt_bind_int64(st, 3, before_id > 0 ? before_id : INT64_MAX);
    store_stmt_bind_int64(st, 4, (int64_t)limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        char at[TIME_RFC3339_LEN + 1];

        if ((int)json_array_size(items) == limit) {
            *out_next = last;
            break;
        }
        last = store_stmt_int64(st, 0);
        time_format_rfc3339(store_stmt_int64(st, 1), at);
        json_array_append_new(
            items,
            json_pack(
                "{s:I, s:s, s:o, s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)last, "at",
                at, "actor_id",
                store_stmt_is_null(st, 2) ? json_null() : json_integer(store_stmt_int64(st, 2)),
                "actor", store_stmt_text(st, 3) ? store_stmt_text(st, 3) : "", "entity", entity,
                "entity_id",
                store_stmt_is_null(st, 4) ? json_null() : json_integer(store_stmt_int64(st, 4)),
                "action", store_stmt_text(st, 5), "before", load(store_stmt_text(st, 6)), "after",
                load(store_stmt_text(st, 7)), "request_id",
                store_stmt_text(st, 8) ? json_string(store_stmt_text(st, 8)) : json_null()));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out_items = items;
    return SMILE_OK;
}

/* PIPL erasure of old rows (audit_redact) ---------------------------------------------- */

/* Replaces one field's value; returns how many values it replaced (0: nothing recorded). */
static int
redact_value(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    int n = 0;

    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = json_array_get(v, i);

            if (!json_is_null(x) &&
                !(json_is_string(x) && strcmp(json_string_value(x), "(erased)") == 0)) {
                json_array_set_new(v, i, json_string("(erased)"));
                n++;
            }
        }
        return n;
    }
    if (v == NULL || json_is_null(v) || json_is_boolean(v) ||
        (json_is_string(v) && strcmp(json_string_value(v), "(erased)") == 0))
        return 0;
    json_object_set_new(obj, key, json_string("(erased)"));
    return 1;
}

/* Redacts the fields in one stored before/after text; *out is the new text or NULL if unchanged. */
static void
redact_text(const char *text, const char *const *fields, size_t nfields, char **out)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    int n = 0;

    *out = NULL;
    if (json_is_object(v))
        for (size_t i = 0; i < nfields; i++)
            n += redact_value(v, fields[i]);
    if (n > 0)
        *out = dump(v);
    json_decref(v);
}

int
audit_redact(struct store *db, const char *entity, int64_t id, const char *const *fields,
             size_t nfields, int64_t *out_rows, struct smile_err *err)
{
    static const char sel[] =
        "SELECT id, before, after FROM audit WHERE entity = $1 AND entity_id = $2";
    static const char upd[] = "UPDATE audit SET before = $1, after = $2 WHERE id = $3";
    struct store_stmt *st;
    struct change {
        int64_t id;
        char *before, *after; /* the stored texts, or the redacted ones */
    } *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t changed = 0;
    int rc = store_prepare(db, sel, &st, err);

    if (out_rows)
        *out_rows = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, entity, -1);
    store_stmt_bind_int64(st, 2, id);
    /* Read every row first: no statement reads what another one is writing. */
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *b = store_stmt_text(st, 1), *a = store_stmt_text(st, 2);
        char *nb, *na;

        redact_text(b, fields, nfields, &nb);
        redact_text(a, fields, nfields, &na);
        if (!nb && !na)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n].id = store_stmt_int64(st, 0);
        rows[n].before = nb ? nb : (b ? xstrdup(b) : NULL);
        rows[n].after = na ? na : (a ? xstrdup(a) : NULL);
        n++;
    }
    store_stmt_reset(st);
    rc = rc == STORE_DONE ? SMILE_OK : rc;
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        if ((rc = store_prepare(db, upd, &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_text(st, 1, rows[i].before, -1);
        store_stmt_bind_text(st, 2, rows[i].after, -1);
        store_stmt_bind_int64(st, 3, rows[i].id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        changed++;
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].before);
        free(rows[i].after);
    }
    free(rows);
    if (out_rows && rc == SMILE_OK)
        *out_rows = changed;
    return rc;
}
