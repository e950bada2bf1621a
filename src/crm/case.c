/*
 * case.c — the case resource: its field table, the status state machine applied to
 * every change, the server-maintained milestones (opened_at, resolved_at, closed_at), the
 * actions assign / pending / resolve / reopen / close, and the case events handed to the
 * ledger's sink in the transaction of the change, so the process engine can measure
 * "assign within …", "resolve within …".
 *
 * The status state machine is in case_state.c (pure, with its table).
 */
#include "crm/crm.h"
#include "crm/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "store/store.h"

static const char *const types[] = {"complaint", "repair", "inquiry", "handover", "other", NULL};
static const char *const priorities[] = {"low", "normal", "high", "urgent", NULL};
static const char *const channels[] = {"phone", "email", "counter", "web", "system", NULL};

static const struct crm_field fields[] = {
    {.name = "type",
     .column = "type",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = types},
    {.name = "priority",
     .column = "priority",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = priorities,
     .def = "normal"},
    {.name = "status",
     .column = "status",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = crm_case_status_names,
     .def = "new"},
    {.name = "customer_id",
     .column = "customer_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "customers"},
    {.name = "property_id",
     .column = "property_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "properties"},
    {.name = "subject",
     .column = "subject",
     .type = CRM_TEXT,
     .flags = CRM_F_REQUIRED | CRM_F_LINE,
     .max_len = 200},
    {.name = "description", .column = "description", .type = CRM_TEXT, .max_len = 20000},
    {.name = "assignee_id",
     .column = "assignee_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "users"},
    {.name = "team_id",
     .column = "team_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "teams"},
    {.name = "channel",
     .column = "channel",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = channels,
     .def = "web"},
    {.name = "opened_at", .column = "opened_at", .type = CRM_TIME, .flags = CRM_F_READONLY},
    {.name = "resolved_at", .column = "resolved_at", .type = CRM_TIME, .flags = CRM_F_READONLY},
    {.name = "closed_at", .column = "closed_at", .type = CRM_TIME, .flags = CRM_F_READONLY},
    /* work: skills a member needs for skill_match routing (src/work, docs/work.md) */
    {.name = "required_skills",
     .column = "required_skills",
     .type = CRM_STRARRAY,
     .max_len = 32,
     .max_items = 20},
};

static json_t *
now_json(const struct crm_ctx *c)
{
    char t[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(c->now_ms, t);
    return json_string(t);
}

static int
status_of(const json_t *rec)
{
    return crm_case_status_parse(json_string_value(json_object_get(rec, "status")));
}

/* Applies the state machine to a status change and maintains the milestones. */
static int
validate(struct crm_ctx *c, const json_t *old, json_t *rec, struct smile_err *err)
{
    int from, to;

    if (old == NULL) {
        if (status_of(rec) != CRM_CASE_NEW) {
            smile_err_field(err, "/status", "a case starts as new; change it afterwards");
            return err->code;
        }
        json_object_set_new(rec, "opened_at", now_json(c));
        return SMILE_OK;
    }
    from = status_of(old);
    to = status_of(rec);
    if (from == CRM_CASE_CLOSED)
        return smile_err_set(err, SMILE_ECONFLICT, "case #%" PRId64 " is closed and cannot change",
                             (int64_t)json_integer_value(json_object_get(old, "id")));
    if (from == to)
        return SMILE_OK;
    if (!crm_case_transition_ok(from, to))
        return smile_err_set(err, SMILE_ECONFLICT, "a case cannot go from %s to %s",
                             crm_case_status_name(from), crm_case_status_name(to));
    if (to == CRM_CASE_RESOLVED)
        json_object_set_new(rec, "resolved_at", now_json(c));
    else if (from == CRM_CASE_RESOLVED && to == CRM_CASE_OPEN)
        json_object_set_new(rec, "resolved_at", json_null());
    if (to == CRM_CASE_CLOSED)
        json_object_set_new(rec, "closed_at", now_json(c));
    return SMILE_OK;
}

/* The username of a user id or the name of a team id, for event data (null if none). */
static json_t *
name_of(struct crm_ctx *c, const char *sql, const json_t *id, struct smile_err *err, int *rc)
{
    struct store_stmt *st;
    json_t *v = json_null();

    if (!json_is_integer(id) || *rc != SMILE_OK)
        return v;
    if ((*rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK)
        return v;
    store_stmt_bind_int64(st, 1, json_integer_value(id));
    if (store_stmt_step(st, err) == STORE_ROW) {
        json_decref(v);
        v = json_string(store_stmt_text(st, 0));
    }
    store_stmt_reset(st);
    return v;
}

/*
 * Emits one case event. data gets what the default processes read (docs/processes.md):
 * "type" (the case type), "priority", "assignee" (username) and "team" (team name) of the
 * case as it now is, with their ids.
 */
static int
emit(struct crm_ctx *c, const char *type, const json_t *rec, json_t *data, struct smile_err *err)
{
    static const char user_sql[] = "SELECT username FROM users WHERE id = $1";
    static const char team_sql[] = "SELECT name FROM teams WHERE id = $1";
    int64_t id = json_integer_value(json_object_get(rec, "id"));
    int64_t cust = json_integer_value(json_object_get(rec, "customer_id"));
    char source_id[96];
    int rc = SMILE_OK;

    snprintf(source_id, sizeof(source_id), "case:%" PRId64 ":v%" PRId64 ":%s", id,
             (int64_t)json_integer_value(json_object_get(rec, "version")), type);
    json_object_set(data, "type", json_object_get(rec, "type"));
    json_object_set(data, "priority", json_object_get(rec, "priority"));
    json_object_set(data, "assignee_id", json_object_get(rec, "assignee_id"));
    json_object_set(data, "team_id", json_object_get(rec, "team_id"));
    json_object_set_new(data, "assignee",
                        name_of(c, user_sql, json_object_get(rec, "assignee_id"), err, &rc));
    json_object_set_new(data, "team",
                        name_of(c, team_sql, json_object_get(rec, "team_id"), err, &rc));
    if (rc == SMILE_OK)
        rc = crm_case_event(c, type, id, cust, 0, NULL,
                            json_string_value(json_object_get(rec, "channel")), source_id, data,
                            err);
    json_decref(data);
    return rc;
}

/*
 * Routing (src/work's hook): a case left with a team and no assignee, not resolved or
 * closed, is assigned to the member the hook picks, as an assign by the actor "routing" in
 * this same transaction (case.assigned emitted, audit action "route"). rec — the caller's
 * stored record, later rendered as the response — is refreshed in place so the response
 * shows the routed assignee.
 */
static int
route(struct crm_ctx *c, int64_t id, const json_t *rec, struct smile_err *err)
{
    crm_case_route_fn *hook = crm_case_route_hook();
    struct http_auth robot = {.user_id = 0, .username = "routing", .via_session = true};
    const struct http_auth *caller = c->actor;
    json_t *patch, *res = NULL, *fresh = NULL;
    int64_t user = 0;
    int st = status_of(rec), rc;

    if (hook == NULL || !json_is_null(json_object_get(rec, "assignee_id")) ||
        !json_is_integer(json_object_get(rec, "team_id")) || st == CRM_CASE_RESOLVED ||
        st == CRM_CASE_CLOSED)
        return SMILE_OK;
    if ((rc = hook(c->db, id, rec, &user, err)) != SMILE_OK || user <= 0)
        return rc;
    patch = json_pack("{s:I}", "assignee_id", (json_int_t)user);
    if (st == CRM_CASE_NEW)
        json_object_set_new(patch, "status", json_string("open"));
    c->actor = &robot;
    rc = crm_record_apply(c, &crm_cases, id, NULL, patch, true, "route", &res, err);
    c->actor = caller;
    json_decref(patch);
    json_decref(res);
    if (rc == SMILE_OK && (rc = crm_record_load(c, &crm_cases, id, &fresh, err)) == SMILE_OK)
        json_object_update((json_t *)rec, fresh);
    json_decref(fresh);
    return rc;
}

/* Emits the events of a write (see the table above). */
static int
after_write(struct crm_ctx *c, int64_t id, const json_t *old, const json_t *rec,
            struct smile_err *err)
{
    int rc = SMILE_OK;
    bool assigned;
    const char *desc;

    if (rec == NULL)
        return search_index_delete(c->db, "case", id, err);
    desc = json_string_value(json_object_get(rec, "description"));
    if ((rc =
             search_index_put(c->db, "case", id, json_string_value(json_object_get(rec, "subject")),
                              &desc, desc ? 1 : 0, NULL, 0, err)) != SMILE_OK)
        return rc;
    if (old == NULL) {
        rc = emit(c, "case.opened", rec, json_object(), err);
        assigned = !json_is_null(json_object_get(rec, "assignee_id")) ||
                   !json_is_null(json_object_get(rec, "team_id"));
    } else {
        int from = status_of(old), to = status_of(rec);
        const char *ev = crm_case_transition_event(from, to);

        if (from != to && ev && ev[0])
            rc = emit(c, ev, rec,
                      json_pack("{s:s, s:s}", "from", crm_case_status_name(from), "to",
                                crm_case_status_name(to)),
                      err);
        assigned =
            !json_equal(json_object_get(old, "assignee_id"), json_object_get(rec, "assignee_id")) ||
            !json_equal(json_object_get(old, "team_id"), json_object_get(rec, "team_id"));
    }
    if (rc == SMILE_OK && assigned) {
        json_t *data = json_object();

        if (old) {
            json_object_set(data, "previous_assignee_id", json_object_get(old, "assignee_id"));
            json_object_set(data, "previous_team_id", json_object_get(old, "team_id"));
        }
        rc = emit(c, "case.assigned", rec, data, err);
        if (rc == SMILE_OK)
            rc = route(c, id, rec, err);
    }
    return rc;
}

static struct crm_sql case_sql;

const struct crm_resource crm_cases = {
    .name = "case",
    .table = "cases",
    .path = "/api/v1/cases",
    .fields = fields,
    .nfields = (int)ARRAY_LEN(fields),
    .validate = validate,
    .after_write = after_write,
    .sql = &case_sql,
};

int
crm_case_action(struct crm_ctx *c, int64_t id, const char *action, const char *if_match,
                const json_t *body, json_t **out, struct smile_err *err)
{
    static const struct {
        const char *action;
        int to;
    } targets[] = {
        {"pending", CRM_CASE_PENDING},
        {"resolve", CRM_CASE_RESOLVED},
        {"reopen", CRM_CASE_OPEN},
        {"close", CRM_CASE_CLOSED},
    };
    json_t *old = NULL, *patch = json_object(), *res = NULL;
    int rc, from, to = -1;

    smile_err_clear(err);
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        goto out;
    if ((rc = crm_record_load(c, &crm_cases, id, &old, err)) != SMILE_OK)
        goto out;
    if (if_match &&
        (rc = crm_if_match(if_match, json_integer_value(json_object_get(old, "version")), err)) !=
            SMILE_OK)
        goto out;
    from = status_of(old);
    if (strcmp(action, "assign") == 0) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *)body, key, v)
        {
            if (strcmp(key, "assignee_id") == 0 || strcmp(key, "team_id") == 0) {
                json_object_set(patch, key, v);
            } else {
                char path[80];

                snprintf(path, sizeof(path), "/%.70s", key);
                smile_err_field(err, path, "assign takes assignee_id and team_id only");
            }
        }
        if (err->code == SMILE_OK && json_object_size(patch) == 0)
            smile_err_field(err, "/assignee_id", "give assignee_id, team_id or both");
        if (err->code != SMILE_OK) {
            rc = err->code;
            goto out;
        }
        if (from == CRM_CASE_NEW)
            json_object_set_new(patch, "status", json_string("open"));
    } else {
        for (size_t i = 0; i < ARRAY_LEN(targets); i++)
            if (strcmp(action, targets[i].action) == 0)
                to = targets[i].to;
        if (to < 0) {
            rc = smile_err_set(err, SMILE_ENOTFOUND, "no case action %s", action);
            goto out;
        }
        if (body && json_object_size(body) > 0) {
            const char *key;
            json_t *v;

            json_object_foreach((json_t *)body, key, v)
            {
                char path[80];

                snprintf(path, sizeof(path), "/%.70s", key);
                smile_err_field(err, path, "%s takes no fields", action);
            }
            rc = err->code;
            goto out;
        }
        if (from == to) {
            rc = smile_err_set(err, SMILE_ECONFLICT, "case #%" PRId64 " is already %s", id,
                               crm_case_status_name(to));
            goto out;
        }
        /* reopen means resolved → open; a pending case is resumed with PATCH status. */
        if (to == CRM_CASE_OPEN && from != CRM_CASE_RESOLVED) {
            rc = smile_err_set(err, SMILE_ECONFLICT,
                               "reopen applies to a resolved case; this one is %s",
                               crm_case_status_name(from));
            goto out;
        }
        json_object_set_new(patch, "status", json_string(crm_case_status_name(to)));
    }
    rc = crm_record_apply(c, &crm_cases, id, NULL, patch, false, action, &res, err);
    if (rc == SMILE_OK)
        rc = store_commit(c->db, err);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
        if (err->code == SMILE_OK)
            err->code = rc;
        json_decref(res);
    } else {
        *out = res;
    }
    crm_events_finish(c, rc == SMILE_OK);
    json_decref(old);
    json_decref(patch);
    return rc;
}
