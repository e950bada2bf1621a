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
