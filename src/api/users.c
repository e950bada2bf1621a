/*
 * users.c — /api/v1/users: list (cursor paging, ?team= and ?role= filters), read one
 * (with its ETag), create (admin, with an initial password), patch (admin, If-Match),
 * and an admin's password reset, which ends the user's sessions. Disabling a user ends
 * their sessions too; the last active admin cannot be disabled or demoted. Also the
 * small request helpers the auth & staff handlers share (If-Match, cursor, audit).
 */
#include "api/resource.h"

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

/* The number of admins who can still sign in; at least one must remain. */
static int
active_admins(struct store *db, int64_t *out, struct smile_err *err)
{
    return store_query_int64(db, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0",
                             out, err);
}

/* Renders a user read or written by crm/staff.c (rc its result). */
static int
user_out(int rc, const struct staff_user *u, json_t **out, int64_t *version)
{
    if (rc == SMILE_OK) {
        *out = staff_user_json(u);
        *version = u->version;
    }
    return rc;
}

static int
user_get(struct store *db, int64_t id, json_t **out, int64_t *version, struct smile_err *err)
{
    struct staff_user u;

    return user_out(staff_user_get(db, id, &u, err), &u, out, version);
}

/* The body's "password" member, checked against the password rules (field problems to err). */
static json_t *
password_field(json_t *body, struct smile_err *err)
{
    json_t *pw = json_object_get(body, "password");

    if (pw == NULL)
        smile_err_field(err, "/password", "password is required");
    else if (!json_is_string(pw))
        smile_err_field(err, "/password", "password must be a string");
    else
        auth_password_check(json_string_value(pw), json_string_length(pw), "/password", err);
    return pw;
}

/* Creates a user with an initial password (hashed here, never stored in the clear). */
static int
user_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
            struct smile_err *err)
{
    struct staff_user u;
    json_t *fields, *pw;
    char hash[AUTH_HASH_MAX];
    int rc;

    pw = password_field(body, err);
    fields = json_deep_copy(body);
    json_object_del(fields, "password");
    /* Validate every field before paying for the hash; staff_user_create re-checks. */
    rc = err->code;
    if (rc == SMILE_OK)
        rc = auth_password_hash(json_string_value(pw), hash, err);
    if (rc == SMILE_OK)
        rc = staff_user_create(c->db, &c->who, fields, hash, &u, err);
    else if (rc == SMILE_EINVAL) {
        /* Report the other fields' problems too, without writing anything. */
        struct smile_err e2;
        struct staff_user tmp;

        smile_err_clear(&e2);
        if (store_begin(c->db, &e2) == SMILE_OK) {
            staff_user_create(c->db, &c->who, fields, NULL, &tmp, &e2);
            store_rollback(c->db);
            for (int i = 0; e2.code == SMILE_EINVAL && i < e2.nfields; i++)
                smile_err_field(err, e2.fields[i].path, "%s", e2.fields[i].msg);
        }
    }
    json_decref(fields);
    auth_wipe(hash, sizeof(hash));
    return user_out(rc, &u, out, version);
}

/*
 * Applies a patch; the last active admin cannot be disabled or demoted, and a disabled
 * user's sessions end in the same transaction.
 */
static int
user_update(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
            int64_t *version, struct smile_err *err)
{
    struct staff_user u, before;
    int64_t admins = 0;
    int rc;

    rc = store_begin(c->db, err);
    if (rc == SMILE_OK)
        rc = staff_user_get(c->db, id, &before, err);
    if (rc == SMILE_OK)
        rc = staff_user_update(c->db, &c->who, id, expect, body, &u, err);
    /* Only a change that takes an active admin away can leave no admin behind. */
    if (rc == SMILE_OK && strcmp(before.role, "admin") == 0 && !before.disabled &&
        (u.disabled || strcmp(u.role, "admin") != 0)) {
        rc = active_admins(c->db, &admins, err);
        if (rc == SMILE_OK && admins == 0)
            rc = smile_err_set(err, SMILE_ECONFLICT,
                               "%s is the last active admin; make another admin first", u.username);
    }
    /* A disabled user's sessions end with the change. */
    if (rc == SMILE_OK && u.disabled && !before.disabled)
        rc = auth_user_sessions_end(c->db, id, 0, err);
    if (rc == SMILE_OK)
        rc = store_commit(c->db, err);
    else
        store_rollback(c->db);
    /* Role, team and state are cached with tokens and sessions (http/auth_cache.h). */
    auth_cache_invalidate();
    return user_out(rc, &u, out, version);
}

static const struct api_resource users = {
    .base = "/api/v1/users",
    .get = user_get,
    .create = user_create,
    .update = user_update,
};

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
    api_reply_page(req, items, next);
}

void
api_users_get(struct http_request *req)
{
    json_t *o = NULL;
    int64_t id, version;

    if (!api_resource_load(req, &users, &id, &o, &version))
        return;
    work_users_decorate(req->db, o, time_now_ms()); /* work: presence, skills */
    api_reply_versioned(req, 200, o, version);
}

void
api_users_create(struct http_request *req)
{
    api_resource_create(req, &users);
}

void
api_users_patch(struct http_request *req)
{
    api_resource_patch(req, &users);
}

void
api_users_password(struct http_request *req)
{
    static const char *const allowed = "password";
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL, *pw;
    const char *key;
    json_t *v;
    char hash[AUTH_HASH_MAX];
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_resource_load(req, &users, &id, NULL, NULL) || !api_body(req, &body))
        return;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, allowed) != 0) {
            api_field_unknown(&err, key);
        }
    }
    pw = password_field(body, &err);
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
