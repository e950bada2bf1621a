/*
 * auth.h — who is calling: staff sessions (HttpOnly SameSite=Strict cookie plus a CSRF
 * token), API tokens (Authorization: Bearer, stored as SHA-256, with scopes), argon2id
 * passwords (libsodium) and sign-in rate limiting. Owner of the sessions, api_tokens and
 * login_failures tables.
 */
#ifndef SMILE_AUTH_H
#define SMILE_AUTH_H

#include "http/http.h"

#define AUTH_COOKIE "smile_session"

/*
 * Resolves the caller from the session cookie or the bearer token into req->auth, using
 * req->db. No credential → SMILE_OK with user_id 0 (anonymous). A credential that is
 * unknown, expired, revoked or belongs to a disabled user → SMILE_EAUTH.
 */
int auth_resolve(struct http_request *req, struct smile_err *err);

/* The CSRF token of the caller's session (valid after auth_resolve via a session). */
bool auth_csrf_ok(struct http_request *req);

#endif
