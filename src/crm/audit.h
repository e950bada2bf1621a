/*
 * audit.h — the audit trail: one row in the `audit` table for every change made to a
 * record by a person or a command (who, when, from where, which record, what it was and
 * what it became). Every part of the CRM records its changes through audit_record(), in
 * the same transaction as the change itself. Owner of the audit table.
 */
#ifndef SMILE_AUDIT_H
#define SMILE_AUDIT_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct http_auth;

/*
 * Who made a change and where the request came from; a convenience bundle that the
 * CRM functions pass down to audit_record(). actor NULL means the command line.
 */
struct audit_who {
    const struct http_auth *actor;
    const char *request_id; /* NULL from the command line */
    const char *address;    /* client address, NULL from the command line */
};

/*
 * Appends one audit row: entity ("user", "team", "customer" …) and its id, the action
 * ("create", "update", "disable", "password" …), the record before and after (either may
 * be NULL; they are stored as compact JSON and must never contain secrets such as
 * password hashes), the request id and client address. actor NULL records the command
 * line as the actor ("cli"); an actor with user_id 0 and a username is a server process
 * acting on its own (the escalation runner: "escalation"). Call it inside the transaction of the
 * change so that both commit or neither. SMILE_OK or SMILE_EDB with err set.
 */
int audit_record(struct store *db, const struct http_auth *actor, const char *entity, int64_t id,
                 const char *action, const json_t *before, const json_t *after,
                 const char *request_id, const char *address, struct smile_err *err);

/* audit_record() with the actor, request id and address taken from who (NULL = CLI). */
int audit_record_who(struct store *db, const struct audit_who *who, const char *entity, int64_t id,
                     const char *action, const json_t *before, const json_t *after,
                     struct smile_err *err);

/*
 * uiadmin: the trail of one kind of record, newest first — entity ("score_template",
 * "webhook" …), entity_id 0 for every record of that kind, rows with id < before_id
 * (0 = from the newest), at most limit. *out_items (caller releases) is an array of
 * {id, at, actor_id, actor, entity, entity_id, action, before, after, request_id} with
 * before/after as the JSON recorded; *out_next is the id to pass as before_id for the next
 * page, 0 when there is none. SMILE_OK or SMILE_EDB with err set.
 */
int audit_list(struct store *db, const char *entity, int64_t entity_id, int64_t before_id,
               int limit, json_t **out_items, int64_t *out_next, struct smile_err *err);

/*
 * PIPL Art. 47: replaces by "(erased)" the values of the named top-level fields in the
 * before and after JSON of every audit row of one record (entity, id) — strings, numbers
 * and each element of an array (["(erased)", "(erased)"] for two phones); null, and
 * values already erased, stay. Who, when, the action, the request and the field names
 * are kept, so the trail still shows that a field changed, and by whom. Runs on db inside
 * the caller's transaction, through the audit_entity index. *out_rows (may be NULL) is the
 * number of rows rewritten. SMILE_OK or SMILE_EDB with err set.
 */
int audit_redact(struct store *db, const char *entity, int64_t id, const char *const *fields,
                 size_t nfields, int64_t *out_rows, struct smile_err *err);

#endif
