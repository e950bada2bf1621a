/*
 * tokens.c — /api/v1/tokens: list (an admin holding the admin scope sees every token,
 * optionally ?user_id=; anyone else their own), create (admin; the secret is in the
 * response once and never again) and revoke (the owner, or an admin). Thin: parse →
 * http/auth.c → render.
 */
#include "api/resource.h"

#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "http/auth.h"
#include "store/store.h"

/* An admin by role and, for a token, by scope too. */
static bool
is_admin(const struct http_request *req)
{
    return req->auth.role == API_ROLE_ADMIN && (req->auth.scopes & API_SCOPE_ADMIN);
}

void
api_tokens_list(struct http_request *req)
{
    struct smile_err err;
    const char *q = http_request_query(req, "user_id");
    json_t *items = NULL;
    int64_t after = 0, next = 0, user = req->auth.user_id;
    int limit;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after))
        return;
    if (is_admin(req)) {
        user = 0;
        if (q && (str_to_int64(str_from(q), &user) != SMILE_OK || user <= 0)) {
            smile_err_field(&err, "/query/user_id", "user_id must be a positive integer");
            http_reply_problem(req, &err);
            return;
        }
    }
    if (auth_token_list(req->db, user, after, limit, &items, &next, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

void
api_tokens_create(struct http_request *req)
{
    struct smile_err err;
    struct auth_token_new t;
    struct audit_who who;
    json_t *body = NULL, *v, *out;
    const char *key, *name = "";
    int64_t user_id = 0, next = 0;
    unsigned scopes = 0;

    smile_err_clear(&err);
    if (!api_body(req, &body))
        return;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "user_id") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0)
                smile_err_field(&err, "/user_id", "user_id must be a positive integer");
            else
                user_id = json_integer_value(v);
        } else if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                smile_err_field(&err, "/name", "name must be a string");
            else
                name = json_string_value(v);
        } else if (strcmp(key, "scopes") == 0) {
            size_t i;
            json_t *s;

            if (!json_is_array(v) || json_array_size(v) == 0) {
                smile_err_field(&err, "/scopes", "scopes must be a non-empty array of names");
                continue;
            }
            json_array_foreach(v, i, s)
            {
                char path[32];
                unsigned bit = 0;
                struct smile_err e2;

                snprintf(path, sizeof(path), "/scopes/%zu", i);
                smile_err_clear(&e2);
                if (!json_is_string(s) || strchr(json_string_value(s), ',') ||
                    json_string_length(s) == 0 ||
                    api_scopes_parse(json_string_value(s), &bit, &e2) != SMILE_OK)
                    smile_err_field(&err, path,
                                    "unknown scope (known: crm:read, crm:write, "
                                    "events:read, events:write, kpi:read, admin)");
                else
                    scopes |= bit;
            }
        } else {
            api_field_unknown(&err, key);
        }
    }
    if (!json_object_get(body, "user_id"))
        smile_err_field(&err, "/user_id", "user_id is required");
    if (!json_object_get(body, "scopes"))
        smile_err_field(&err, "/scopes", "scopes is required");
    api_audit_who(req, &who);
    if (err.code != SMILE_OK ||
        auth_token_create(req->db, &who, user_id, scopes, name, &t, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    /* The stored form of the token, plus the secret this once. */
    if (auth_token_list(req->db, user_id, t.id - 1, 1, &out, &next, &err) != SMILE_OK ||
        json_array_size(out) != 1) {
        auth_wipe(&t, sizeof(t));
        http_reply_problem(req, &err);
        return;
    }
    v = json_incref(json_array_get(out, 0));
    json_decref(out);
    json_object_set_new(v, "token", json_string(t.token));
    http_response_header(req, "Cache-Control", "no-store");
    api_location(req, "/api/v1/tokens", t.id);
    http_reply_json(req, 201, v);
    auth_wipe(&t, sizeof(t));
}

void
api_tokens_delete(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    int64_t id, owner = 0;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    /* Someone else's token is "not found" to anyone but an admin: ids reveal nothing. */
    if (auth_token_owner(req->db, id, &owner, &err) != SMILE_OK ||
        (owner != req->auth.user_id && !is_admin(req))) {
        if (err.code == SMILE_OK)
            smile_err_set(&err, SMILE_ENOTFOUND, "no token %lld", (long long)id);
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    if (auth_token_revoke(req->db, &who, id, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_empty(req, 204);
}
