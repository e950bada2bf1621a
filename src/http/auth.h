/*
 * auth.h — who is calling: staff sessions (HttpOnly SameSite=Strict cookie plus a CSRF
 * token), API tokens (Authorization: Bearer, stored as SHA-256, with scopes), argon2id
 * passwords (libsodium) and sign-in rate limiting. Owner of the sessions, api_tokens and
 * login_failures tables. Users themselves belong to crm/staff.c.
 *
 * Secrets never rest in the database: a session cookie and an API token are 32 random
 * bytes, handed to the caller once, and stored only as their SHA-256.
 */
#ifndef SMILE_AUTH_H
#define SMILE_AUTH_H

#include "http/http.h"

struct audit_who;

#define AUTH_COOKIE "smile_session"
#define AUTH_TOKEN_PREFIX "smile_"
#define AUTH_SECRET_BYTES 32
/* base64url of 32 bytes without padding: 43 characters. */
#define AUTH_SECRET_B64_LEN 43
/* "smile_" + 43: the length of every API token. */
#define AUTH_TOKEN_LEN (6 + AUTH_SECRET_B64_LEN)
/* Characters of a token kept for display ("smile_AbCd1234"). */
#define AUTH_TOKEN_DISPLAY_LEN 14
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024
#define AUTH_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
/* last_seen_at / last_used_at are written at most this often per session or token. */
#define AUTH_TOUCH_MS 60000

/* Settings read from the configuration once at start-up (auth_configure). */
struct auth_settings {
    int64_t session_ttl_ms;  /* idle time before a session expires */
    int login_attempts;      /* failed sign-ins allowed per username and per address */
    int64_t login_window_ms; /* … within this window */
    bool cookie_secure;      /* add Secure to the session cookie */
};

/* Sets the settings (defaults: 12 h, 5, 300 s, not secure). Call before serving. */
void auth_configure(const struct auth_settings *s);
const struct auth_settings *auth_get_settings(void);

/* Initialises libsodium once (thread-safe); SMILE_EINTERNAL if it cannot. */
int auth_init(struct smile_err *err);

/* Pure helpers ------------------------------------------------------------------------- */

/*
 * base64url without padding (RFC 4648 §5). Encode writes a NUL-terminated string into
 * out (cap ≥ 4*ceil(n/3)+1) and returns its length, or 0 if out is too small. Decode
 * accepts only the canonical unpadded form, writes at most cap bytes and sets *out_len;
 * SMILE_EINVAL on any other input.
 */
size_t auth_b64url_encode(const unsigned char *bin, size_t n, char *out, size_t cap);
int auth_b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *out_len);
/* true if s has the shape of an API token: "smile_" + 43 base64url characters. */
bool auth_token_shape_ok(const char *s, size_t len);
/*
 * The Set-Cookie value for a session token (token NULL: a cookie that clears the
 * session, Max-Age=0). Always HttpOnly; SameSite=Strict; Path=/, plus Secure if asked.
 */
void auth_cookie_format(const char *token, bool secure, struct buf *out);
/* Checks a new password's length (8–1024 bytes, no NUL); SMILE_EINVAL with field path. */
int auth_password_check(const char *pw, size_t len, const char *field, struct smile_err *err);

/* Overwrites a secret in memory in a way the compiler cannot drop (sodium_memzero). */
void auth_wipe(void *p, size_t n);

/* Passwords ---------------------------------------------------------------------------- */

/* argon2id (interactive limits: ~100 ms, 64 MiB) into out (AUTH_HASH_MAX bytes). */
int auth_password_hash(const char *pw, char *out, struct smile_err *err);
/* A random password of len characters from [A-Za-z0-9] into out (len + 1 bytes). */
void auth_password_generate(char *out, size_t len);
/* true if pw matches the encoded hash; false for a malformed or empty hash. */
bool auth_password_verify(const char *hash, const char *pw);

/* Sign-in and sessions ----------------------------------------------------------------- */

struct auth_signin {
    int64_t user_id;
    int64_t session_id;
    int64_t expires_at;
    char token[AUTH_SECRET_B64_LEN + 1]; /* the cookie value: shown once */
    char csrf[AUTH_SECRET_B64_LEN + 1];
};

/*
 * Signs a user in from address: checks the rate limit first (SMILE_ERATE with
 * *retry_after_s set, whatever the password), then the password against argon2id (a
 * dummy hash when the user is unknown, so both cases cost the same), then creates a
 * session. A wrong username or password is SMILE_EAUTH with one message for both; a
 * disabled account is SMILE_EAUTH too. Failures are persisted in login_failures; a
 * success clears the username's failures.
 */
int auth_signin(struct store *db, const char *username, const char *password, const char *address,
                struct auth_signin *out, int64_t *retry_after_s, struct smile_err *err);
/*
 * Re-checks the password of a signed-in user (before a password change) under the same
 * rate limit as auth_signin(): SMILE_OK, SMILE_EAUTH for a wrong password, SMILE_ERATE.
 */
int auth_reauth(struct store *db, const char *username, const char *password, const char *address,
                int64_t *retry_after_s, struct smile_err *err);
/* Ends one session (sign-out). */
int auth_session_end(struct store *db, int64_t session_id, struct smile_err *err);
/* Ends every session of a user except keep_session_id (0 = all). */
int auth_user_sessions_end(struct store *db, int64_t user_id, int64_t keep_session_id,
                           struct smile_err *err);
/* The CSRF token and expiry of a live session. SMILE_ENOTFOUND if it is gone. */
int auth_session_info(struct store *db, int64_t session_id, char *csrf, size_t cap,
                      int64_t *out_expires_at, struct smile_err *err);

/*
 * Resolves the caller from the session cookie or the bearer token into req->auth, using
 * req->db. No credential → SMILE_OK with user_id 0 (anonymous). A credential that is
 * unknown, expired, revoked or belongs to a disabled user → SMILE_EAUTH (and a
 * Set-Cookie that clears a dead session cookie). An Authorization header wins over a
 * cookie.
 */
int auth_resolve(struct http_request *req, struct smile_err *err);

/* true if the request's X-CSRF-Token equals the session's (constant-time compare). */
bool auth_csrf_ok(struct http_request *req);

/* API tokens --------------------------------------------------------------------------- */

struct auth_token_new {
    int64_t id;
    char token[AUTH_TOKEN_LEN + 1]; /* shown once */
};

/*
 * Creates an API token for user_id with the scope bits (API_SCOPE_*) and a name (may be
 * ""). Scopes beyond what the user's role allows are SMILE_EINVAL on "/scopes"; an
 * unknown or disabled user is SMILE_EINVAL on "/user_id". Audited without the secret.
 */
int auth_token_create(struct store *db, const struct audit_who *who, int64_t user_id,
                      unsigned scopes, const char *name, struct auth_token_new *out,
                      struct smile_err *err);
/* The owner of token id (SMILE_ENOTFOUND if there is no such token). */
int auth_token_owner(struct store *db, int64_t id, int64_t *out_user_id, struct smile_err *err);
/* Revokes token id; revoking a revoked token succeeds and writes nothing. */
int auth_token_revoke(struct store *db, const struct audit_who *who, int64_t id,
                      struct smile_err *err);
/*
 * Tokens of user_id (0 = every user) in id order after after_id, at most limit; *out is
 * a new JSON array (no secrets, no hashes), *out_next the next cursor (0 = done).
 */
int auth_token_list(struct store *db, int64_t user_id, int64_t after_id, int limit, json_t **out,
                    int64_t *out_next, struct smile_err *err);

#endif
