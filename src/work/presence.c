/*
 * presence.c — staff presence (available, away, off; set by the user or a supervisor, and
 * off outside a shift calendar), skills and shift calendar (set by admins), and each team's
 * routing rule with its decision log. These are the work part's columns of users and teams
 * (0002_work.sql); changing them does not bump the record's version (they are not part of
 * the record an admin edits with If-Match) but is audited like any change.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "crm/audit.h"
#include "store/store.h"
#include "work/work_int.h"

static int
db_rc(int rc, struct smile_err *err)
{
    if (rc == SMILE_OK)
        return SMILE_OK;
    return err->code ? err->code : SMILE_EDB;
}

int
work_user_get(struct store *s, int64_t id, int64_t now, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT id, username, presence, presence_at, skills, shift_calendar,"
                              " disabled FROM users WHERE id = $1";
    struct store_stmt *st;
    int rc;

    *out = NULL;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        const char *p = store_stmt_text(st, 2), *shift = store_stmt_text(st, 5);
        const char *eff = p;
        json_t *skills =
            json_loads(store_stmt_text(st, 4) ? store_stmt_text(st, 4) : "[]", 0, NULL);

        if (store_stmt_int64(st, 6) != 0) {
            eff = "off";
        } else if (shift && strcmp(p, "available") == 0) {
            struct smile_err e2;
            struct work_defs *d;
            const struct calendar *cal;
            char *shiftc = xstrdup(shift);

            smile_err_clear(&e2);
            d = work_defs_get(s, &e2);
            cal = d ? work_defs_calendar(d, shiftc) : NULL;
            if (cal == NULL || !calendar_is_working(cal, now))
                eff = "off";
            free(shiftc);
        }
        *out = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "user_id",
                         (json_int_t)store_stmt_int64(st, 0), "username", store_stmt_text(st, 1),
                         "presence", p, "effective", eff, "presence_at",
                         store_stmt_json_time(st, 3), "skills", skills ? skills : json_array(),
                         "shift_calendar", shift ? json_string(shift) : json_null());
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no user #%" PRId64, id);
    }
    store_stmt_reset(st);
    return rc;
}

void
work_users_decorate(struct store *s, json_t *users, int64_t now)
{
    /* One range query over the ids of the page (the users API pages by id). */
    static const char sql[] = "SELECT id, presence, disabled, skills, shift_calendar FROM users"
                              " WHERE id BETWEEN $1 AND $2";
    size_t n = json_is_array(users) ? json_array_size(users) : 1;
    int64_t lo = INT64_MAX, hi = 0;
    struct work_defs *d = NULL;
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_is_array(users) ? json_array_get(users, i) : users;
        int64_t id = json_integer_value(json_object_get(u, "id"));
        if (id > 0 && id < lo)
            lo = id;
        if (id > hi)
            hi = id;
    }
    if (hi == 0 || store_prepare(s, sql, &st, &err) != SMILE_OK)
        return;
    store_stmt_bind_int64(st, 1, lo);
    store_stmt_bind_int64(st, 2, hi);
    while (store_stmt_step(st, &err) == STORE_ROW) {
        int64_t id = store_stmt_int64(st, 0);
        const char *p = store_stmt_text(st, 1), *shift = store_stmt_text(st, 4), *eff = p;
        json_t *skills;

        for (size_t i = 0; i < n; i++) {
            json_t *u = json_is_array(users) ? json_array_get(users, i) : users;
            if (json_integer_value(json_object_get(u, "id")) != id)
                continue;
            if (store_stmt_int64(st, 2) != 0) {
                eff = "off";
            } else if (shift && p && strcmp(p, "available") == 0) {
                const struct calendar *cal;
                if (d == NULL)
                    d = work_defs_get(s, &err);
                cal = d ? work_defs_calendar(d, shift) : NULL;
                if (cal == NULL || !calendar_is_working(cal, now))
                    eff = "off";
            }
            skills = json_loads(store_stmt_text(st, 3) ? store_stmt_text(st, 3) : "[]", 0, NULL);
            json_object_set_new(u, "presence", json_string(p ? p : "available"));
            json_object_set_new(u, "effective_presence", json_string(eff ? eff : "available"));
            json_object_set_new(u, "skills", skills ? skills : json_array());
            json_object_set_new(u, "shift_calendar", shift ? json_string(shift) : json_null());
            break;
        }
    }
    store_stmt_reset(st);
}

/* Runs fn's writes in a transaction of its own unless the caller has one. */
static int
tx_begin(struct store *s, bool *own, struct smile_err *err)
{
    *own = !store_in_tx(s);
    return *own ? store_begin(s, err) : SMILE_OK;
}

static int
tx_end(struct store *s, bool own, int rc, struct smile_err *err)
{
    if (!own)
        return rc;
    if (rc == SMILE_OK)
        return store_commit(s, err);
    store_rollback(s);
    return rc;
}

int
work_presence_set(struct store *s, const struct audit_who *who, int64_t id, const char *presence,
                  int64_t now, json_t **out, struct smile_err *err)
{
    static const char sql[] = "UPDATE users SET presence = $1, presence_at = $2 WHERE id = $3";
    struct store_stmt *st;
    json_t *before = NULL;
    bool own;
    int rc;

    *out = NULL;
    if (work_presence_parse(presence) < 0)
        return smile_err_field(err, "/presence", "must be available, away or off");
    if ((rc = tx_begin(s, &own, err)) != SMILE_OK)
        return rc;
    if ((rc = work_user_get(s, id, now, &before, err)) != SMILE_OK)
        goto out;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, presence, -1);
    store_stmt_bind_int64(st, 2, now);
    store_stmt_bind_int64(st, 3, id);
    rc = db_rc(store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : SMILE_EDB, err);
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto out;
    {
        json_t *b = json_pack("{s:O}", "presence", json_object_get(before, "presence"));
        json_t *a = json_pack("{s:s}", "presence", presence);
        rc = audit_record_who(s, who, "user", id, "presence", b, a, err);
        json_decref(b);
        json_decref(a);
    }
    if (rc == SMILE_OK)
        rc = work_user_get(s, id, now, out, err);
out:
    json_decref(before);
    rc = tx_end(s, own, rc, err);
    if (rc != SMILE_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static bool
calendar_exists(struct store *s, const char *name, struct smile_err *err, int *rc)
{
    static const char sql[] = "SELECT 1 FROM calendars WHERE name = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    bool found = false;

    if ((*rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return false;
    store_stmt_bind_text(st, 1, name, -1);
    *rc = store_stmt_step(st, err);
    found = *rc == STORE_ROW;
    *rc = *rc == STORE_ROW || *rc == STORE_DONE ? SMILE_OK : db_rc(SMILE_EDB, err);
    store_stmt_reset(st);
    return found;
}

int
work_user_skills_set(struct store *s, const struct audit_who *who, int64_t id, const json_t *in,
                     int64_t now, json_t **out, struct smile_err *err)
{
    static const char sql_sk[] = "UPDATE users SET skills = $1 WHERE id = $2";
    static const char sql_sc[] = "UPDATE users SET shift_calendar = $1 WHERE id = $2";
    json_t *before = NULL, *skills = NULL, *shift;
    const char *key;
    json_t *v;
    bool own, set_shift = false;
    int rc = SMILE_OK;

    *out = NULL;
    if (!json_is_object(in))
        return smile_err_field(err, "", "send a JSON object");
    json_object_foreach((json_t *)in, key, v)
    {
        if (strcmp(key, "skills") == 0) {
            if (!json_is_array(v) || json_array_size(v) > WORK_SKILLS_MAX) {
                smile_err_field(err, "/skills", "must be an array of up to %d tags",
                                WORK_SKILLS_MAX);
                continue;
            }
            skills = json_array();
            for (size_t i = 0; i < json_array_size(v); i++) {
                const char *t = json_string_value(json_array_get(v, i));
                char path[32];
                bool dup = false;

                snprintf(path, sizeof(path), "/skills/%zu", i);
                if (!work_skill_valid(t)) {
                    smile_err_field(err, path, "a tag is 1-32 characters of a-z, 0-9, _ and -");
                    continue;
                }
                for (size_t k = 0; k < json_array_size(skills) && !dup; k++)
                    dup = strcmp(json_string_value(json_array_get(skills, k)), t) == 0;
                if (!dup)
                    json_array_append_new(skills, json_string(t));
            }
        } else if (strcmp(key, "shift_calendar") == 0) {
            set_shift = true;
            if (!json_is_null(v) &&
                !(json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 200))
                smile_err_field(err, "/shift_calendar", "must be a calendar name or null");
        } else {
            char path[80];
            snprintf(path, sizeof(path), "/%.70s", key);
            smile_err_field(err, path, "only skills and shift_calendar can be set here");
        }
    }
    if (err->code == SMILE_OK && skills == NULL && !set_shift)
        smile_err_field(err, "/skills", "give skills, shift_calendar or both");
    if (err->code != SMILE_OK) {
        json_decref(skills);
        return err->code;
    }
    shift = json_object_get(in, "shift_calendar");
    if ((rc = tx_begin(s, &own, err)) != SMILE_OK) {
        json_decref(skills);
        return rc;
    }
    if ((rc = work_user_get(s, id, now, &before, err)) != SMILE_OK)
        goto out;
    if (set_shift && json_is_string(shift) &&
        !calendar_exists(s, json_string_value(shift), err, &rc)) {
        if (rc == SMILE_OK)
            rc = smile_err_field(err, "/shift_calendar", "no calendar named '%s'",
                                 json_string_value(shift));
        goto out;
    }
    if (skills) {
        struct store_stmt *st;
        char *t = json_dumps(skills, JSON_COMPACT);
        if ((rc = store_prepare(s, sql_sk, &st, err)) == SMILE_OK) {
            store_stmt_bind_text(st, 1, t, -1);
            store_stmt_bind_int64(st, 2, id);
            rc = db_rc(store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : SMILE_EDB, err);
            store_stmt_reset(st);
        }
        free(t);
        if (rc != SMILE_OK)
            goto out;
    }
    if (set_shift) {
        struct store_stmt *st;
        if ((rc = store_prepare(s, sql_sc, &st, err)) != SMILE_OK)
            goto out;
        store_stmt_bind_text(st, 1, json_string_value(shift), -1);
        store_stmt_bind_int64(st, 2, id);
        rc = db_rc(store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : SMILE_EDB, err);
        store_stmt_reset(st);
        if (rc != SMILE_OK)
            goto out;
    }
    {
        json_t *b = json_pack("{s:O, s:O}", "skills", json_object_get(before, "skills"),
                              "shift_calendar", json_object_get(before, "shift_calendar"));
        json_t *a = json_object();
        json_object_set(a, "skills", skills ? skills : json_object_get(before, "skills"));
        json_object_set(a, "shift_calendar",
                        set_shift ? shift : json_object_get(before, "shift_calendar"));
        rc = audit_record_who(s, who, "user", id, "skills", b, a, err);
        json_decref(b);
        json_decref(a);
    }
    if (rc == SMILE_OK)
        rc = work_user_get(s, id, now, out, err);
out:
    json_decref(before);
    json_decref(skills);
    rc = tx_end(s, own, rc, err);
    if (rc != SMILE_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int
work_team_routing_get(struct store *s, int64_t team_id, int limit, json_t **out,
                      struct smile_err *err)
{
    static const char sql_team[] =
        "SELECT t.id, t.name, t.routing, r.last_user_id, u.username FROM teams t"
        " LEFT JOIN work_rr r ON r.team_id = t.id LEFT JOIN users u ON u.id = r.last_user_id"
        " WHERE t.id = $1 AND t.deleted_at IS NULL";
    static const char sql_log[] =
        "SELECT l.id, l.at, l.case_id, l.rule, l.user_id, u.username, l.reason, l.detail"
        " FROM work_routing_log l LEFT JOIN users u ON u.id = l.user_id"
        " WHERE l.team_id = $1 ORDER BY l.id DESC LIMIT $2";
    struct store_stmt *st;
    json_t *log;
    int rc;

    *out = NULL;
    if ((rc = store_prepare(s, sql_team, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, team_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *out = json_pack(
            "{s:I, s:s, s:s, s:o, s:o}", "team_id", (json_int_t)store_stmt_int64(st, 0), "team",
            store_stmt_text(st, 1), "rule", store_stmt_text(st, 2), "last_user_id",
            store_stmt_is_null(st, 3) ? json_null() : json_integer(store_stmt_int64(st, 3)),
            "last_user",
            store_stmt_text(st, 4) ? json_string(store_stmt_text(st, 4)) : json_null());
    store_stmt_reset(st);
    if (rc == STORE_DONE)
        return smile_err_set(err, SMILE_ENOTFOUND, "no team #%" PRId64, team_id);
    if (rc != STORE_ROW)
        return db_rc(SMILE_EDB, err);
    if ((rc = store_prepare(s, sql_log, &st, err)) != SMILE_OK) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    store_stmt_bind_int64(st, 1, team_id);
    store_stmt_bind_int64(st, 2, limit);
    log = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *dt = store_stmt_text(st, 7);
        json_t *detail = dt ? json_loads(dt, 0, NULL) : NULL;
        json_array_append_new(
            log,
            json_pack(
                "{s:I, s:o, s:I, s:s, s:o, s:o, s:s, s:o}", "id",
                (json_int_t)store_stmt_int64(st, 0), "at", store_stmt_json_time(st, 1), "case_id",
                (json_int_t)store_stmt_int64(st, 2), "rule", store_stmt_text(st, 3), "user_id",
                store_stmt_is_null(st, 4) ? json_null() : json_integer(store_stmt_int64(st, 4)),
                "username",
                store_stmt_text(st, 5) ? json_string(store_stmt_text(st, 5)) : json_null(),
                "reason", store_stmt_text(st, 6), "detail", detail ? detail : json_object()));
    }
    store_stmt_reset(st);
    json_object_set_new(*out, "log", log);
    if (rc != STORE_DONE) {
        json_decref(*out);
        *out = NULL;
        return db_rc(SMILE_EDB, err);
    }
    return SMILE_OK;
}

int
work_team_routing_set(struct store *s, const struct audit_who *who, int64_t team_id,
                      const json_t *in, json_t **out, struct smile_err *err)
{
    static const char sql_get[] = "SELECT routing FROM teams WHERE id = $1 AND deleted_at IS NULL";
    static const char sql_set[] = "UPDATE teams SET routing = $1 WHERE id = $2";
    const char *key, *rule = json_string_value(json_object_get(in, "rule"));
    struct store_stmt *st;
    json_t *v;
    char before[32] = "";
    bool own;
    int rc;

    *out = NULL;
    if (!json_is_object(in))
        return smile_err_field(err, "", "send a JSON object");
    json_object_foreach((json_t *)in, key, v)
    {
        if (strcmp(key, "rule") != 0) {
            char path[80];
            snprintf(path, sizeof(path), "/%.70s", key);
            smile_err_field(err, path, "only rule can be set here");
        }
    }
    if (work_rule_parse(rule) < 0)
        smile_err_field(err, "/rule", "must be manual, round_robin, least_open or skill_match");
    if (err->code != SMILE_OK)
        return err->code;
    if ((rc = tx_begin(s, &own, err)) != SMILE_OK)
        return rc;
    if ((rc = store_prepare(s, sql_get, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, team_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        snprintf(before, sizeof(before), "%s", store_stmt_text(st, 0));
    store_stmt_reset(st);
    if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no team #%" PRId64, team_id);
        goto out;
    }
    if (rc != STORE_ROW) {
        rc = db_rc(SMILE_EDB, err);
        goto out;
    }
    if ((rc = store_prepare(s, sql_set, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, rule, -1);
    store_stmt_bind_int64(st, 2, team_id);
    rc = db_rc(store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : SMILE_EDB, err);
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto out;
    if (strcmp(before, rule) != 0) {
        json_t *b = json_pack("{s:s}", "routing", before), *a = json_pack("{s:s}", "routing", rule);
        rc = audit_record_who(s, who, "team", team_id, "routing", b, a, err);
        json_decref(b);
        json_decref(a);
    }
    if (rc == SMILE_OK)
        rc = work_team_routing_get(s, team_id, 20, out, err);
out:
    rc = tx_end(s, own, rc, err);
    if (rc != SMILE_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
