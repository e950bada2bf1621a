/*
 * users.c — /api/v1/users: list (cursor paging, ?team= and ?role= filters), read one
 * (with its ETag), create (admin, with an initial password), patch (admin, If-Match),
 * and an admin's password reset, which ends the user's sessions. Disabling a user ends
 * their sessions too; the last active admin cannot be disabled or demoted. Also the
 * small request helpers the auth & staff handlers share (If-Match, cursor, audit).
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "http/auth_cache.h"
#include "store/store.h"
#include "work/work.h"

void
api_audit_who(const struct http_request *req, struct audit_who *out)
{
    out->actor = &req->auth;
    out->request_id = req->request_id;
    out->address = req->address;
}

bool
api_if_match_version(struct http_request *req, int64_t *out)
{
    const char *h = http_request_header(req, "If-Match");
    size_t n;

    if (h == NULL) {
        http_reply_error(req, SMILE_ENEEDMATCH,
                         "send If-Match with the ETag you read (GET returns it)");
        return false;
    }
    n = strlen(h);
    if (n < 3 || h[0] != '"' || h[n - 1] != '"' ||
        str_to_int64((struct str){h + 1, n - 2}, out) != SMILE_OK || *out <= 0) {
        http_reply_error(req, SMILE_EPRECOND, "If-Match %s does not match the current ETag", h);
        return false;
    }
    return true;
}

bool
api_query_cursor(struct http_request *req, int64_t *out)
{
    const char *v = http_request_query(req, "cursor");

    *out = 0;
    if (v && (str_to_int64(str_from(v), out) != SMILE_OK || *out < 0)) {
        struct smile_err err;

        smile_err_clear(&err);
        smile_err_field(&err, "/query/cursor", "cursor must be a next_cursor from a previous page");
        http_reply_problem(req, &err);
        return false;
    }
    return true;
}

void
api_etag(struct http_request *req, int64_t version)
{
    char tag[32];

    snprintf(tag, sizeof(tag), "\"%lld\"", (long long)version);
    http_response_header(req, "ETag", tag);
}

void
api_reply_err(struct http_request *req, const struct smile_err *err, int64_t retry_after_s)
{
    if (err->code == SMILE_ERATE) {
        char v[32];

        snprintf(v, sizeof(v), "%lld", (long long)(retry_after_s > 0 ? retry_after_s : 1));
        http_response_header(req, "Retry-After", v);
    }
    http_reply_problem(req, err);
}

/* A page of items with its next cursor (null when it is the last page). */
static json_t *
page(json_t *items, int64_t next)
{
    char c[24];

    snprintf(c, sizeof(c), "%lld", (long long)next);
    return json_pack("{s:o, s:o}", "items", items, "next_cursor",
                     next ? json_string(c) : json_null());
}

void
api_users_list(struct http_request *req)
{
    struct smile_err err;
    struct staff_user_filter f;
    const char *team = http_request_query(req, "team");
    const char *role = http_request_query(req, "role");
    json_t *items = NULL;
    int64_t next = 0;

    smile_err_clear(&err);
    memset(&f, 0, sizeof(f));
    if (!api_query_limit(req, &f.limit) || !api_query_cursor(req, &f.after_id))
        return;
    if (role && !staff_role_valid(role))
        smile_err_field(&err, "/query/role", "role must be agent, supervisor or admin");
    if (team) {
        struct staff_team t;
        struct smile_err e2;
        int64_t id;

        smile_err_clear(&e2);
        if (str_to_int64(str_from(team), &id) == SMILE_OK && id > 0)
            f.team_id = id;
        else if (staff_name_valid(team) && staff_team_find(req->db, team, &t, &e2) == SMILE_OK)
            f.team_id = t.id;
        else if (e2.code != SMILE_OK && e2.code != SMILE_ENOTFOUND)
            smile_err_set(&err, e2.code, "%s", e2.msg);
        else
            smile_err_field(&err, "/query/team", "no team %s", team);
    }
    f.role = role;
    if (err.code == SMILE_OK)
        staff_user_list(req->db, &f, &items, &next, &err);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    work_users_decorate(req->db, items, time_now_ms()); /* work: presence, skills */
    http_reply_json(req, 200, page(items, next));
}

void
api_users_get(struct http_request *req)
{
    struct smile_err err;
    struct staff_user u;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (staff_user_get(req->db, id, &u, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_etag(req, u.version);
    {
        json_t *o = staff_user_json(&u);
        work_users_decorate(req->db, o, time_now_ms()); /* work: presence, skills */
        http_reply_json(req, 200, o);
    }
}

/* The number of admins who can still sign in; at least one must remain. */
static int
active_admins(struct store *db, int64_t *out, struct smile_err *err)
{
    return store_query_int64(db, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0",
                             out, err);
}

void
api_users_create(struct http_request *req)
{
    struct smile_err err;
    struct staff_user u;
    struct audit_who who;
    json_t *body = NULL, *fields = NULL, *pw;
    char hash[AUTH_HASH_MAX];
    char loc[64];
    int rc;

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    pw = json_object_get(body, "password");
    if (pw == NULL)
        smile_err_field(&err, "/password", "password is required");
    else if (!json_is_string(pw))
        smile_err_field(&err, "/password", "password must be a string");
    else
        auth_password_check(json_string_value(pw), json_string_length(pw), "/password", &err);
    fields = json_deep_copy(body);
    json_object_del(fields, "password");
    api_audit_who(req, &who);
    /* Validate every field before paying for the hash; staff_user_create re-checks. */
    rc = err.code;
    if (rc == SMILE_OK)
        rc = auth_password_hash(json_string_value(pw), hash, &err);
    if (rc == SMILE_OK)
        rc = staff_user_create(req->db, &who, fields, hash, &u, &err);
    else if (rc == SMILE_EINVAL) {
        /* Report the other fields' problems too, without writing anything. */
        struct smile_err e2;
        struct staff_user tmp;

        smile_err_clear(&e2);
        if (store_begin(req->db, &e2) == SMILE_OK) {
            staff_user_create(req->db, &who, fields, NULL, &tmp, &e2);
            store_rollback(req->db);
            for (int i = 0; e2.code == SMILE_EINVAL && i < e2.nfields; i++)
                smile_err_field(&err, e2.fields[i].path, "%s", e2.fields[i].msg);
        }
    }
    json_decref(fields);
    json_decref(body);
    auth_wipe(hash, sizeof(hash));
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    snprintf(loc, sizeof(loc), "/api/v1/users/%lld", (long long)u.id);
    http_response_header(req, "Location", loc);
    api_etag(req, u.version);
    http_reply_json(req, 201, staff_user_json(&u));
}

void
api_users_patch(struct http_request *req)
{
    struct smile_err err;
    struct staff_user u, before;
    struct audit_who who;
    json_t *body = NULL;
    int64_t id, version, admins = 0;
    int rc;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    /* 404 before 428: a missing record is the first thing to learn. */
    if (staff_user_get(req->db, id, &before, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (!api_if_match_version(req, &version))
        return;
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    rc = store_begin(req->db, &err);
    if (rc == SMILE_OK)
        rc = staff_user_update(req->db, &who, id, version, body, &u, &err);
    /* Only a change that takes an active admin away can leave no admin behind. */
    if (rc == SMILE_OK && strcmp(before.role, "admin") == 0 && !before.disabled &&
        (u.disabled || strcmp(u.role, "admin") != 0)) {
        rc = active_admins(req->db, &admins, &err);
        if (rc == SMILE_OK && admins == 0)
            rc = smile_err_set(&err, SMILE_ECONFLICT,
                               "%s is the last active admin; make another admin first", u.username);
    }
    /* A disabled user's sessions end with the change. */
    if (rc == SMILE_OK && u.disabled && !before.disabled)
        rc = auth_user_sessions_end(req->db, id, 0, &err);
    if (rc == SMILE_OK)
        rc = store_commit(req->db, &err);
    else
        store_rollback(req->db);
    /* Role, team and state are cached with tokens and sessions (http/auth_cache.h). */
    auth_cache_invalidate();
    json_decref(body);
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_etag(req, u.version);
    http_reply_json(req, 200, staff_user_json(&u));
}

void
api_users_password(struct http_request *req)
{
    static const char *const allowed = "password";
    struct smile_err err;
    struct staff_user u;
    struct audit_who who;
    json_t *body = NULL, *pw;
    const char *key;
    json_t *v;
    char hash[AUTH_HASH_MAX];
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (staff_user_get(req->db, id, &u, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, allowed) != 0) {
            char path[160];

            snprintf(path, sizeof(path), "/%s", key);
            smile_err_field(&err, path, "unknown field");
        }
    }
    pw = json_object_get(body, "password");
    if (pw == NULL)
        smile_err_field(&err, "/password", "password is required");
    else if (!json_is_string(pw))
        smile_err_field(&err, "/password", "password must be a string");
    else
        auth_password_check(json_string_value(pw), json_string_length(pw), "/password", &err);
    rc = err.code;
    if (rc == SMILE_OK)
        rc = auth_password_hash(json_string_value(pw), hash, &err);
    json_decref(body);
    api_audit_who(req, &who);
    if (rc == SMILE_OK)
        rc = store_begin(req->db, &err);
    if (rc == SMILE_OK) {
        rc = staff_user_password_set(req->db, &who, id, hash, &err);
        if (rc == SMILE_OK)
            rc = auth_user_sessions_end(req->db, id, 0, &err);
        if (rc == SMILE_OK)
            rc = store_commit(req->db, &err);
        else
            store_rollback(req->db);
    }
    auth_wipe(hash, sizeof(hash));
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_empty(req, 204);
}
