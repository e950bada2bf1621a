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
