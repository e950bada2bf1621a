/*
 * intake_store.c — the storage edge of the PBX sources: appends mapped events (with the
 * file cursor in the same transaction, so a crash never loses or doubles a line) and
 * keeps the tables intake owns: agent_map (PBX member name → staff username) and
 * intake_cursor (how far a followed file has been read). It sits at the end of the
 * intake flow, just before the ledger.
 *
 * Events go through the ledger: ledger_event_parse validates each object (an event the
 * ledger refuses is skipped and counted, so one odd PBX line cannot stop an import) and
 * ledger_append_in_tx writes it inside the transaction that also moves the cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"
#include "ledger/ledger.h"
#include "store/store.h"

static const char *
sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

bool
intake_source_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              strchr("_.:-", name[i])))
            return false;
    return true;
}

/*
 * Appends one API-shaped event on s inside the open transaction. *why is set (and nothing
 * written) when the ledger's validation refuses it; *id is the event's id, new or the
 * earlier one with the same (source, source_id).
 */
static int
append_one(struct store *s, const json_t *ev, int64_t *id, char *why, size_t whycap,
           struct smile_err *err)
{
    struct ledger_event le;
    struct smile_err verr;
    char *data = NULL;
    int rc;

    smile_err_clear(&verr);
    why[0] = '\0';
    if (ledger_event_parse(ev, "", &le, &data, &verr) != SMILE_OK) {
        snprintf(why, whycap, "%.40s %.110s", verr.nfields ? verr.fields[0].path : "",
                 verr.nfields ? verr.fields[0].msg : verr.msg);
        free(data);
        return SMILE_OK;
    }
    le.data = data;
    rc = ledger_append_in_tx(s, &le, id, err);
    free(data);
    return rc;
}

static int
cursor_put(struct store *s, const struct intake_cursor *cur, int64_t now, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO intake_cursor (source, path, inode, \"offset\", updated_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, path) DO UPDATE SET "
        "inode = excluded.inode, \"offset\" = excluded.\"offset\", updated_at = "
        "excluded.updated_at";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, cur->source, -1);
    store_stmt_bind_text(st, 2, cur->path, -1);
    store_stmt_bind_int64(st, 3, cur->inode);
    store_stmt_bind_int64(st, 4, cur->offset);
    store_stmt_bind_int64(st, 5, now);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

int
intake_append(struct store *s, json_t *events, const struct intake_cursor *cur,
              struct intake_counts *out, struct smile_err *err)
{
    int64_t now = time_now_ms();
    static const char max_sql[] = "SELECT coalesce(max(id), 0) FROM events";
    struct intake_counts c;
    int64_t hi = 0;
    size_t i;
    json_t *ev;
    int rc;

    memset(&c, 0, sizeof(c));
    if (json_array_size(events) == 0 && cur == NULL) {
        *out = c;
        return SMILE_OK;
    }
    rc = store_begin(s, err);
    if (rc != SMILE_OK)
        return rc;
    /* Ids grow within the transaction: an id above every id seen so far is a new event;
     * anything else (an older event, or one earlier in this batch) is a duplicate. */
    rc = store_query_int64(s, max_sql, &hi, err);
    if (rc != SMILE_OK)
        goto fail;
    json_array_foreach(events, i, ev)
    {
        char why[160];
        int64_t id = 0;

        rc = append_one(s, ev, &id, why, sizeof(why), err);
        if (rc != SMILE_OK)
            goto fail;
        if (why[0]) {
            if (c.rejected++ == 0)
                snprintf(c.first_reject, sizeof(c.first_reject), "%.40s: %.150s",
                         sget(ev, "source_id") ? sget(ev, "source_id") : "?", why);
        } else if (id > hi) {
            c.created++;
            hi = id;
        } else {
            c.duplicates++;
        }
    }
    if (cur) {
        rc = cursor_put(s, cur, now, err);
        if (rc != SMILE_OK)
            goto fail;
    }
    rc = store_commit(s, err);
    if (rc != SMILE_OK)
        goto fail;
    *out = c;
    return SMILE_OK;
fail:
    store_rollback(s);
    return rc;
}

int
intake_cursor_get(struct store *s, const char *source, const char *path, int64_t *out_inode,
                  int64_t *out_offset, struct smile_err *err)
{
    static const char sql[] =
        "SELECT inode, \"offset\" FROM intake_cursor WHERE source = $1 AND path = $2";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, source, -1);
    store_stmt_bind_text(st, 2, path, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out_inode = store_stmt_int64(st, 0);
        *out_offset = store_stmt_int64(st, 1);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = SMILE_ENOTFOUND;
    }
    store_stmt_reset(st);
    return rc;
}

int
intake_agent_map_set(struct store *s, const char *source, const char *agent, const char *username,
                     struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO agent_map (source, agent, username) VALUES ($1, $2, $3) "
        "ON CONFLICT (source, agent) DO UPDATE SET username = excluded.username";
    struct store_stmt *st;
    int rc;

    if (!agent[0] || strlen(agent) > 200 || !username[0] || strlen(username) > 64)
        return smile_err_set(err, SMILE_EINVAL,
                             "agent (1-200 bytes) and username (1-64 bytes) must not be empty");
    rc = store_prepare(s, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, source, -1);
    store_stmt_bind_text(st, 2, agent, -1);
    store_stmt_bind_text(st, 3, username, -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

int
intake_agent_map_unset(struct store *s, const char *source, const char *agent,
                       struct smile_err *err)
{
    static const char sql[] = "DELETE FROM agent_map WHERE source = $1 AND agent = $2";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, source, -1);
    store_stmt_bind_text(st, 2, agent, -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    if (store_changes(s) == 0)
        return smile_err_set(err, SMILE_ENOTFOUND, "no mapping for agent '%s' (source %s)", agent,
                             source);
    return SMILE_OK;
}

int
intake_agent_map_list(struct store *s, const char *source, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT source, agent, username FROM agent_map "
                              "WHERE ($1 IS NULL OR source = $1) ORDER BY source, agent";
    struct store_stmt *st;
    json_t *a;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, source, -1);
    a = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "source", store_stmt_text(st, 0),
                                           "agent", store_stmt_text(st, 1), "username",
                                           store_stmt_text(st, 2)));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return SMILE_OK;
}

int
intake_agent_map_load(struct store *s, const char *source, json_t **out, struct smile_err *err)
{
    json_t *list, *row, *map;
    size_t i;
    int rc = intake_agent_map_list(s, source, &list, err);

    if (rc != SMILE_OK)
        return rc;
    map = json_object();
    json_array_foreach(list, i, row)
    {
        json_object_set(map, sget(row, "agent"), json_object_get(row, "username"));
    }
    json_decref(list);
    *out = map;
    return SMILE_OK;
}

const char *
intake_agent_lookup(const char *agent, void *map_object)
{
    const json_t *map = map_object;
    const char *u = json_string_value(json_object_get(map, agent));
    char alt[256];

    if (u || map == NULL)
        return u;
    /* chan_agent (≤ 11) wrote "Agent/1001", app_agent_pool (12+) writes "1001". */
    if (strncmp(agent, "Agent/", 6) == 0)
        return json_string_value(json_object_get(map, agent + 6));
    if (strlen(agent) + 7 > sizeof(alt))
        return NULL;
    snprintf(alt, sizeof(alt), "Agent/%s", agent);
    return json_string_value(json_object_get(map, alt));
}
