/*
 * session.c — /api/v1/session: sign in (POST, public; sets the HttpOnly SameSite=Strict
 * cookie and returns the CSRF token), who am I (GET), sign out (DELETE), the caller's
 * own locale (PATCH) and own password (POST …/password, which ends the caller's other
 * sessions). Thin: parse → http/auth.c or crm/staff.c → render.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crm/audit.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "store/store.h"

/* A required string member of body; records a field error when absent or not a string. */
static const char *
str_member(const json_t *body, const char *key, struct smile_err *err)
{
    json_t *v = json_object_get(body, key);
    char path[64];

    snprintf(path, sizeof(path), "/%s", key);
    if (v == NULL) {
        smile_err_field(err, path, "%s is required", key);
        return NULL;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        smile_err_field(err, path, "%s must be a string", key);
        return NULL;
    }
    return json_string_value(v);
}

/* Refuses members other than the allowed ones (a typo must not pass silently). */
static void
only_members(const json_t *body, const char *const *allowed, struct smile_err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)body, key, v)
    {
        bool ok = false;
        char path[160];

        for (int i = 0; allowed[i]; i++)
            ok = ok || strcmp(key, allowed[i]) == 0;
        if (!ok) {
            snprintf(path, sizeof(path), "/%s", key);
            smile_err_field(err, path, "unknown field");
        }
    }
}

static bool
json_content_type(const struct http_request *req)
{
    const char *ct = http_request_header(req, "Content-Type");

    return ct && strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static json_t *
session_body(const struct staff_user *u, const char *csrf, int64_t expires_at, bool via_session,
             unsigned scopes)
{
    char exp[TIME_RFC3339_LEN + 1];
    json_t *o = json_object();
    json_t *sc = json_array();
    struct buf b;
    const char *p;

    json_object_set_new(o, "user", staff_user_json(u));
    json_object_set_new(o, "csrf_token", csrf ? json_string(csrf) : json_null());
    if (expires_at) {
        time_format_rfc3339(expires_at, exp);
        json_object_set_new(o, "expires_at", json_string(exp));
    } else {
        json_object_set_new(o, "expires_at", json_null());
    }
    json_object_set_new(o, "via", json_string(via_session ? "session" : "token"));
    buf_init(&b, 0);
    api_scopes_format(scopes, &b);
    for (p = b.data; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        json_array_append_new(sc, json_stringn(p, n));
        p += n + (e ? 1 : 0);
    }
    buf_free(&b);
    json_object_set_new(o, "scopes", sc);
    return o;
}

void
api_session_create(struct http_request *req)
{
    static const char *const allowed[] = {"username", "password", NULL};
    struct smile_err err;
    struct auth_signin s;
    struct staff_user u;
    json_t *body = NULL;
    const char *username, *password;
    int64_t retry = 0;
    struct buf cookie;

    smile_err_clear(&err);
    http_response_header(req, "Cache-Control", "no-store");
    /* A cross-site HTML form cannot send application/json without a CORS preflight
     * (which this server never grants): this blocks login CSRF. */
    if (!json_content_type(req)) {
        http_reply_error(req, SMILE_EMALFORMED, "sign in with Content-Type: application/json");
        return;
    }
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    username = str_member(body, "username", &err);
    password = str_member(body, "password", &err);
    only_members(body, allowed, &err);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        json_decref(body);
        return;
    }
    if (auth_signin(req->db, username, password, req->address, &s, &retry, &err) != SMILE_OK ||
        staff_user_get(req->db, s.user_id, &u, &err) != SMILE_OK) {
        api_reply_err(req, &err, retry);
        json_decref(body);
        auth_wipe(&s, sizeof(s));
        return;
    }
    json_decref(body);
    buf_init(&cookie, 512);
    auth_cookie_format(s.token, auth_get_settings()->cookie_secure, &cookie);
    http_response_header(req, "Set-Cookie", cookie.data);
    buf_free(&cookie);
    http_reply_json(
        req, 200,
        session_body(&u, s.csrf, s.expires_at, true, api_role_scopes(api_role_parse(u.role))));
    auth_wipe(&s, sizeof(s));
}

void
api_session_get(struct http_request *req)
{
    struct smile_err err;
    struct staff_user u;
    int64_t exp = 0;
    char csrf[64] = "";

    smile_err_clear(&err);
    http_response_header(req, "Cache-Control", "no-store");
    if (staff_user_get(req->db, req->auth.user_id, &u, &err) != SMILE_OK ||
        (req->auth.via_session && auth_session_info(req->db, req->auth.session_id, csrf,
                                                    sizeof(csrf), &exp, &err) != SMILE_OK)) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200,
                    session_body(&u, req->auth.via_session ? csrf : NULL, exp,
                                 req->auth.via_session, req->auth.scopes));
}

void
api_session_delete(struct http_request *req)
{
    struct smile_err err;
    struct buf cookie;

    smile_err_clear(&err);
    if (!req->auth.via_session) {
        http_reply_error(req, SMILE_EPERM,
                         "this request carries an API token, not a session: revoke the token "
                         "with DELETE /api/v1/tokens/{id} instead");
        return;
    }
    if (auth_session_end(req->db, req->auth.session_id, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    log_info("msg=\"signed out\" user=%s session=%lld", req->auth.username,
             (long long)req->auth.session_id);
    buf_init(&cookie, 512);
    auth_cookie_format(NULL, auth_get_settings()->cookie_secure, &cookie);
    http_response_header(req, "Set-Cookie", cookie.data);
    buf_free(&cookie);
    http_reply_empty(req, 204);
}

void
api_session_patch(struct http_request *req)
{
    static const char *const allowed[] = {"locale", NULL};
    struct smile_err err;
    struct staff_user u;
    struct audit_who who;
    json_t *body = NULL;

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    only_members(body, allowed, &err);
    if (err.code == SMILE_OK && json_object_get(body, "locale") == NULL)
        smile_err_field(&err, "/locale", "locale is required");
    api_audit_who(req, &who);
    if (err.code != SMILE_OK ||
        staff_user_update(req->db, &who, req->auth.user_id, 0, body, &u, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        json_decref(body);
        return;
    }
    json_decref(body);
    api_etag(req, u.version);
    http_reply_json(req, 200, json_pack("{s:o}", "user", staff_user_json(&u)));
}

void
api_session_password(struct http_request *req)
{
    static const char *const allowed[] = {"current_password", "new_password", NULL};
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL;
    const char *cur, *pw;
    char hash[AUTH_HASH_MAX];
    int64_t retry = 0;
    int rc;

    smile_err_clear(&err);
    if (!req->auth.via_session) {
        http_reply_error(req, SMILE_EPERM,
                         "a password is changed from a signed-in session, not with an API token");
        return;
    }
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    cur = str_member(body, "current_password", &err);
    pw = str_member(body, "new_password", &err);
    only_members(body, allowed, &err);
    if (pw)
        auth_password_check(pw, json_string_length(json_object_get(body, "new_password")),
                            "/new_password", &err);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        json_decref(body);
        return;
    }
    rc = auth_reauth(req->db, req->auth.username, cur, req->address, &retry, &err);
    if (rc == SMILE_EAUTH) {
        smile_err_clear(&err);
        smile_err_field(&err, "/current_password", "the current password is wrong");
    }
    if (rc == SMILE_OK)
        rc = auth_password_hash(pw, hash, &err);
    json_decref(body);
    if (rc != SMILE_OK) {
        api_reply_err(req, &err, retry);
        return;
    }
    api_audit_who(req, &who);
    rc = store_begin(req->db, &err);
    if (rc == SMILE_OK)
        rc = staff_user_password_set(req->db, &who, req->auth.user_id, hash, &err);
    if (rc == SMILE_OK)
        rc = auth_user_sessions_end(req->db, req->auth.user_id, req->auth.session_id, &err);
    if (rc == SMILE_OK)
        rc = store_commit(req->db, &err);
    else
        store_rollback(req->db);
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_empty(req, 204);
}
