/*
 * auth.c — authentication for every non-public request and the sign-in path. Passwords
 * are argon2id (libsodium crypto_pwhash_str, interactive limits); sessions and API
 * tokens are 32 random bytes shown once to their holder and stored as SHA-256, so a
 * copy of the database grants nothing. The router calls auth_resolve() and
 * auth_csrf_ok() on each request; the session and token handlers call the rest. A
 * resolution is kept 2 s in http/auth_cache.c; every function here that ends a session or
 * revokes a token invalidates that cache.
 *
 * Sign-in throttling is persisted (login_failures) so a restart does not reset it. The
 * attempt is recorded as a failure *before* the slow password check, inside the same
 * write transaction as the limit test, so parallel guesses cannot overrun the limit; a
 * success deletes the row again together with the username's older failures.
 *
 *   login_failures row   meaning
 *   (username, address,   one failed (or in-flight) attempt at time at; rows older
 *    at)                  than the window are pruned on the next attempt
 */
#include "http/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "crm/audit.h"
#include "http/auth_cache.h"
#include "crm/staff.h"
#include "store/store.h"

static struct auth_settings settings = {
    .session_ttl_ms = INT64_C(43200000),
    .login_attempts = 5,
    .login_window_ms = 300000,
    .cookie_secure = false,
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

void
auth_configure(const struct auth_settings *s)
{
    settings = *s;
}

const struct auth_settings *
auth_get_settings(void)
{
    return &settings;
}

static void
sodium_start(void)
{
    sodium_status = sodium_init();
}

int
auth_init(struct smile_err *err)
{
    pthread_once(&sodium_once, sodium_start);
    if (sodium_status < 0)
        return smile_err_set(err, SMILE_EINTERNAL, "libsodium failed to initialise");
    return SMILE_OK;
}

/* Pure helpers ------------------------------------------------------------------------ */

size_t
auth_b64url_encode(const unsigned char *bin, size_t n, char *out, size_t cap)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

    if (cap < need)
        return 0;
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

int
auth_b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    const char *end = NULL;
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return SMILE_EINVAL;
    }
    /* One leftover character cannot encode a byte. */
    if (len % 4 == 1)
        return SMILE_EINVAL;
    if (sodium_base642bin(out, cap, s, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len)
        return SMILE_EINVAL;
    *out_len = n;
    return SMILE_OK;
}

bool
auth_token_shape_ok(const char *s, size_t len)
{
    unsigned char bin[AUTH_SECRET_BYTES + 8];
    size_t n = 0;

    return len == AUTH_TOKEN_LEN && memcmp(s, AUTH_TOKEN_PREFIX, 6) == 0 &&
           auth_b64url_decode(s + 6, len - 6, bin, sizeof(bin), &n) == SMILE_OK &&
           n == AUTH_SECRET_BYTES;
}

/* A session cookie value: exactly the base64url of 32 bytes. */
static bool
cookie_shape_ok(const char *s, size_t len)
{
    unsigned char bin[AUTH_SECRET_BYTES + 8];
    size_t n = 0;

    return len == AUTH_SECRET_B64_LEN &&
           auth_b64url_decode(s, len, bin, sizeof(bin), &n) == SMILE_OK && n == AUTH_SECRET_BYTES;
}

void
auth_cookie_format(const char *token, bool secure, struct buf *out)
{
    buf_printf(out, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", AUTH_COOKIE, token ? token : "",
               token ? "" : "; Max-Age=0", secure ? "; Secure" : "");
}

int
auth_password_check(const char *pw, size_t len, const char *field, struct smile_err *err)
{
    if (pw == NULL || strlen(pw) != len)
        return smile_err_field(err, field, "the password must be a string without NUL bytes");
    if (len < AUTH_PASSWORD_MIN)
        return smile_err_field(err, field, "the password must have at least %d characters",
                               AUTH_PASSWORD_MIN);
    if (len > AUTH_PASSWORD_MAX)
        return smile_err_field(err, field, "the password must have at most %d bytes",
                               AUTH_PASSWORD_MAX);
    return SMILE_OK;
}

void
auth_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

/* Passwords --------------------------------------------------------------------------- */

int
auth_password_hash(const char *pw, char *out, struct smile_err *err)
{
    int rc = auth_init(err);

    if (rc != SMILE_OK)
        return rc;
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return smile_err_set(err, SMILE_EINTERNAL, "out of memory while hashing a password");
    return SMILE_OK;
}

void
auth_password_generate(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct smile_err err;

    if (auth_init(&err) != SMILE_OK)
        fatal("libsodium failed to initialise");
    /* randombytes_uniform has no modulo bias. */
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[len] = '\0';
}

bool
auth_password_verify(const char *hash, const char *pw)
{
    struct smile_err err;

    if (auth_init(&err) != SMILE_OK || hash == NULL || hash[0] == '\0')
        return false;
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

/* A hash of a random password: verified against when the user is unknown so that an
 * unknown username costs the same ~100 ms as a wrong password. */
static void
dummy_start(void)
{
    unsigned char r[16];
    char pw[40];
    struct smile_err err;

    randombytes_buf(r, sizeof(r));
    auth_b64url_encode(r, sizeof(r), pw, sizeof(pw));
    smile_err_clear(&err);
    if (auth_password_hash(pw, dummy_hash, &err) != SMILE_OK)
        dummy_hash[0] = '\0';
}

static const char *
dummy(void)
{
    pthread_once(&dummy_once, dummy_start);
    return dummy_hash;
}

/* SHA-256 of a presented secret (cookie value or token), the form stored. */
static void
secret_hash(const char *s, size_t len, unsigned char out[crypto_hash_sha256_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)s, len);
}

/* 32 random bytes as base64url (43 characters + NUL into out). */
static void
secret_new(char out[AUTH_SECRET_B64_LEN + 1])
{
    unsigned char r[AUTH_SECRET_BYTES];

    randombytes_buf(r, sizeof(r));
    auth_b64url_encode(r, sizeof(r), out, AUTH_SECRET_B64_LEN + 1);
    sodium_memzero(r, sizeof(r));
}

/* Sign-in ----------------------------------------------------------------------------- */

/* Seconds until key (username or address) drops below the limit; 0 if it is not over. */
static int
limit_wait(struct store *db, bool by_user, const char *key, int64_t now, int64_t *out_s,
           struct smile_err *err)
{
    static const char by_u[] = "SELECT at FROM login_failures WHERE username = $1 AND at > $2 "
                               "ORDER BY at DESC LIMIT 1 OFFSET $3";
    static const char by_a[] = "SELECT at FROM login_failures WHERE address = $1 AND at > $2 "
                               "ORDER BY at DESC LIMIT 1 OFFSET $3";
    struct store_stmt *st;
    int rc = store_prepare(db, by_user ? by_u : by_a, &st, err);

    *out_s = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, key, -1);
    store_stmt_bind_int64(st, 2, now - settings.login_window_ms);
    /* The limit-th most recent failure: when it leaves the window, one more try is allowed. */
    store_stmt_bind_int64(st, 3, settings.login_attempts - 1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        int64_t ms = store_stmt_int64(st, 0) + settings.login_window_ms - now;

        *out_s = ms <= 0 ? 1 : (ms + 999) / 1000;
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    return rc;
}

/*
 * In one write transaction: refuse if over the limit, else record this attempt as a
 * failure (id in *out_attempt) and prune rows older than the window.
 */
static int
attempt_begin(struct store *db, const char *username, const char *address, int64_t now,
              int64_t *out_attempt, int64_t *retry_after_s, struct smile_err *err)
{
    static const char ins[] =
        "INSERT INTO login_failures (username, address, at) VALUES ($1, $2, $3) RETURNING id";
    static const char prune[] = "DELETE FROM login_failures WHERE at <= $1";
    struct store_stmt *st;
    int64_t wu = 0, wa = 0;
    int rc = store_begin(db, err);

    if (rc != SMILE_OK)
        return rc;
    rc = limit_wait(db, true, username, now, &wu, err);
    if (rc == SMILE_OK)
        rc = limit_wait(db, false, address, now, &wa, err);
    if (rc == SMILE_OK && (wu || wa)) {
        *retry_after_s = wu > wa ? wu : wa;
        store_rollback(db);
        return smile_err_set(err, SMILE_ERATE,
                             "too many failed sign-ins; try again in %lld seconds",
                             (long long)*retry_after_s);
    }
    if (rc == SMILE_OK)
        rc = store_prepare(db, ins, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, username, -1);
        store_stmt_bind_text(st, 2, address, -1);
        store_stmt_bind_int64(st, 3, now);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            *out_attempt = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        } else if (rc == STORE_DONE) {
            rc = smile_err_set(err, SMILE_EDB, "no id for the sign-in attempt");
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = store_prepare(db, prune, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, now - settings.login_window_ms);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

/* Runs a statement with one int64 parameter and no result rows. */
static int
exec1(struct store *db, const char *sql, int64_t a, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, a);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

/* The success half: clear the username's failures and create the session. */
static int
session_create(struct store *db, const char *username, int64_t user_id, const char *address,
               int64_t now, struct auth_signin *out, struct smile_err *err)
{
    static const char clear[] = "DELETE FROM login_failures WHERE username = $1";
    static const char expired[] = "DELETE FROM sessions WHERE expires_at <= $1";
    static const char ins[] =
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, "
        "expires_at, address) VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id";
    unsigned char h[crypto_hash_sha256_BYTES];
    struct store_stmt *st;
    int rc = store_begin(db, err);

    if (rc != SMILE_OK)
        return rc;
    rc = store_prepare(db, clear, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, username, -1);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = exec1(db, expired, now, err);
    if (rc == SMILE_OK)
        rc = store_prepare(db, ins, &st, err);
    if (rc == SMILE_OK) {
        secret_new(out->token);
        secret_new(out->csrf);
        secret_hash(out->token, strlen(out->token), h);
        out->user_id = user_id;
        out->expires_at = now + settings.session_ttl_ms;
        store_stmt_bind_blob(st, 1, h, sizeof(h));
        store_stmt_bind_int64(st, 2, user_id);
        store_stmt_bind_text(st, 3, out->csrf, -1);
        store_stmt_bind_int64(st, 4, now);
        store_stmt_bind_int64(st, 5, out->expires_at);
        store_stmt_bind_text(st, 6, address, -1);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            out->session_id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        } else if (rc == STORE_DONE) {
            rc = smile_err_set(err, SMILE_EDB, "no id for the new session");
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

int
auth_signin(struct store *db, const char *username, const char *password, const char *address,
            struct auth_signin *out, int64_t *retry_after_s, struct smile_err *err)
{
    char hash[STAFF_HASH_MAX + 1] = "";
    char key[STAFF_NAME_MAX + 1];
    int64_t now = time_now_ms(), attempt = 0, user_id = 0;
    bool disabled = false, found, ok;
    struct smile_err lookup;
    int rc;

    memset(out, 0, sizeof(*out));
    *retry_after_s = 0;
    rc = auth_init(err);
    if (rc != SMILE_OK)
        return rc;
    /* Failures are counted under at most 64 bytes of the name as typed. */
    snprintf(key, sizeof(key), "%s", username);
    rc = attempt_begin(db, key, address ? address : "", now, &attempt, retry_after_s, err);
    if (rc != SMILE_OK)
        return rc;
    smile_err_clear(&lookup);
    found = staff_name_valid(username) &&
            staff_user_credentials(db, username, &user_id, hash, &disabled, &lookup) == SMILE_OK;
    if (!found && lookup.code != SMILE_OK && lookup.code != SMILE_ENOTFOUND)
        return smile_err_set(err, lookup.code, "%s", lookup.msg);
    /* Verify against a dummy hash for an unknown user or one without a password. */
    ok = auth_password_verify(found && hash[0] ? hash : dummy(), password) && found && hash[0];
    sodium_memzero(hash, sizeof(hash));
    if (!ok) {
        /* Only a well-formed name reaches the log: anything else could forge log lines. */
        log_info("msg=\"sign-in failed\" user=%s addr=%s", staff_name_valid(key) ? key : "-",
                 address ? address : "");
        return smile_err_set(err, SMILE_EAUTH, "wrong username or password");
    }
    if (disabled) {
        log_info("msg=\"sign-in refused: account disabled\" user=%s addr=%s", username,
                 address ? address : "");
        return smile_err_set(err, SMILE_EAUTH, "this account is disabled");
    }
    rc = session_create(db, username, user_id, address, now, out, err);
    if (rc == SMILE_OK)
        log_info("msg=\"signed in\" user=%s session=%lld addr=%s", username,
                 (long long)out->session_id, address ? address : "");
    return rc;
}

int
auth_reauth(struct store *db, const char *username, const char *password, const char *address,
            int64_t *retry_after_s, struct smile_err *err)
{
    static const char clear[] = "DELETE FROM login_failures WHERE username = $1";
    char hash[STAFF_HASH_MAX + 1] = "";
    int64_t now = time_now_ms(), attempt = 0, user_id = 0;
    bool disabled = false, ok;
    struct store_stmt *st;
    int rc;

    *retry_after_s = 0;
    rc = auth_init(err);
    if (rc == SMILE_OK)
        rc = attempt_begin(db, username, address ? address : "", now, &attempt, retry_after_s, err);
    if (rc == SMILE_OK)
        rc = staff_user_credentials(db, username, &user_id, hash, &disabled, err);
    if (rc != SMILE_OK)
        return rc;
    ok = auth_password_verify(hash[0] ? hash : dummy(), password) && hash[0] && !disabled;
    sodium_memzero(hash, sizeof(hash));
    if (!ok)
        return smile_err_set(err, SMILE_EAUTH, "the current password is wrong");
    rc = store_prepare(db, clear, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, username, -1);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

int
auth_session_end(struct store *db, int64_t session_id, struct smile_err *err)
{
    auth_cache_invalidate();
    return exec1(db, "DELETE FROM sessions WHERE id = $1", session_id, err);
}

int
auth_user_sessions_end(struct store *db, int64_t user_id, int64_t keep_session_id,
                       struct smile_err *err)
{
    static const char sql[] = "DELETE FROM sessions WHERE user_id = $1 AND id <> $2";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    auth_cache_invalidate();
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, user_id);
    store_stmt_bind_int64(st, 2, keep_session_id);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

int
auth_session_info(struct store *db, int64_t session_id, char *csrf, size_t cap,
                  int64_t *out_expires_at, struct smile_err *err)
{
    static const char sql[] = "SELECT csrf_token, expires_at, last_seen_at FROM sessions "
                              "WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, session_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        int64_t exp = store_stmt_int64(st, 1);
        int64_t idle = store_stmt_int64(st, 2) + settings.session_ttl_ms;

        snprintf(csrf, cap, "%s", store_stmt_text(st, 0) ? store_stmt_text(st, 0) : "");
        *out_expires_at = exp < idle ? exp : idle;
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no such session");
    }
    store_stmt_reset(st);
    return rc;
}

/* Resolve ----------------------------------------------------------------------------- */

/* Fills the identity part of req->auth from the user; SMILE_EAUTH if disabled. */
static int
auth_from_user(struct http_request *req, int64_t user_id, struct smile_err *err)
{
    struct staff_user u;
    int rc = staff_user_get(req->db, user_id, &u, err);

    if (rc == SMILE_ENOTFOUND)
        return smile_err_set(err, SMILE_EAUTH, "the account no longer exists");
    if (rc != SMILE_OK)
        return rc;
    if (u.disabled)
        return smile_err_set(err, SMILE_EAUTH, "this account is disabled");
    req->auth.user_id = u.id;
    snprintf(req->auth.username, sizeof(req->auth.username), "%s", u.username);
    req->auth.role = api_role_parse(u.role);
    req->auth.team_id = u.team_id;
    return SMILE_OK;
}

/* req->auth from a cached resolution. */
static void
from_cache(struct http_request *req, const struct auth_cache_entry *e)
{
    req->auth.user_id = e->user_id;
    memcpy(req->auth.username, e->username, sizeof(req->auth.username));
    req->auth.role = e->role;
    req->auth.team_id = e->team_id;
    req->auth.scopes = e->scopes;
    req->auth.via_session = e->kind == AUTH_CACHE_SESSION;
    if (req->auth.via_session) {
        req->auth.session_id = e->id;
        memcpy(req->auth.csrf_token, e->csrf, sizeof(req->auth.csrf_token));
    } else {
        req->auth.token_id = e->id;
    }
}

/*
 * Caches the resolution just made from the database, under the generation the request
 * began with (a revocation committed since then keeps it out). touched is the touch time
 * the row has (or is about to have), expires when a session ends.
 */
static void
to_cache(const struct http_request *req, int kind, const unsigned char *h, int64_t id,
         int64_t touched, int64_t expires)
{
    struct auth_cache_entry e;

    memset(&e, 0, sizeof(e));
    memcpy(e.hash, h, sizeof(e.hash));
    e.kind = kind;
    e.id = id;
    e.user_id = req->auth.user_id;
    memcpy(e.username, req->auth.username, sizeof(e.username));
    e.role = req->auth.role;
    e.team_id = req->auth.team_id;
    e.scopes = req->auth.scopes;
    memcpy(e.csrf, req->auth.csrf_token, sizeof(e.csrf));
    e.touched_at = touched;
    e.expires_at = expires;
    auth_cache_put(&e, auth_cache_request_gen(), time_now_ms());
}

static int
resolve_token(struct http_request *req, const char *tok, struct smile_err *err)
{
    static const char sql[] = "SELECT id, user_id, scopes, coalesce(last_used_at, 0) FROM "
                              "api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
    static const char touch[] = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";
    unsigned char h[crypto_hash_sha256_BYTES];
    char scopes[160] = "";
    struct auth_cache_entry ce;
    struct store_stmt *st;
    int64_t id = 0, user_id = 0, used = 0, now = time_now_ms();
    unsigned bits = 0;
    int rc;

    if (!auth_token_shape_ok(tok, strlen(tok)))
        return smile_err_set(err, SMILE_EAUTH, "the API token is malformed");
    secret_hash(tok, strlen(tok), h);
    if (auth_cache_get(AUTH_CACHE_TOKEN, h, now, &ce) && now - ce.touched_at < AUTH_TOUCH_MS) {
        from_cache(req, &ce);
        return SMILE_OK;
    }
    rc = store_prepare(req->db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_blob(st, 1, h, sizeof(h));
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        user_id = store_stmt_int64(st, 1);
        snprintf(scopes, sizeof(scopes), "%s", store_stmt_text(st, 2));
        used = store_stmt_int64(st, 3);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EAUTH, "unknown or revoked API token");
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    rc = auth_from_user(req, user_id, err);
    if (rc != SMILE_OK)
        return rc;
    if (api_scopes_parse(scopes, &bits, err) != SMILE_OK)
        bits = 0;
    smile_err_clear(err);
    req->auth.scopes = bits & api_role_scopes(req->auth.role);
    req->auth.via_session = false;
    req->auth.token_id = id;
    to_cache(req, AUTH_CACHE_TOKEN, h, id, now - used >= AUTH_TOUCH_MS ? now : used, INT64_MAX);
    if (now - used >= AUTH_TOUCH_MS) {
        /* Best effort: a busy database must not refuse an otherwise valid token. The write
         * runs outside the request's read snapshot, which is taken again after it. */
        store_read_end(req->db);
        if (store_prepare(req->db, touch, &st, err) == SMILE_OK) {
            store_stmt_bind_int64(st, 1, now);
            store_stmt_bind_int64(st, 2, id);
            store_stmt_step(st, err);
            store_stmt_reset(st);
        }
        store_read_begin(req->db);
        smile_err_clear(err);
    }
    return SMILE_OK;
}

static int
resolve_session(struct http_request *req, const char *cookie, struct smile_err *err)
{
    static const char sql[] = "SELECT id, user_id, csrf_token, last_seen_at, expires_at FROM "
                              "sessions WHERE token_hash = $1";
    static const char touch[] =
        "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id = $3";
    unsigned char h[crypto_hash_sha256_BYTES];
    struct auth_cache_entry ce;
    struct store_stmt *st;
    int64_t id = 0, user_id = 0, seen = 0, exp = 0, now = time_now_ms();
    int rc;

    if (!cookie_shape_ok(cookie, strlen(cookie)))
        return smile_err_set(err, SMILE_EAUTH, "the session cookie is malformed; sign in again");
    secret_hash(cookie, strlen(cookie), h);
    /* A hit must not be due for expiry or for its touch: those take the database path. */
    if (auth_cache_get(AUTH_CACHE_SESSION, h, now, &ce) && now < ce.expires_at &&
        now - ce.touched_at < AUTH_TOUCH_MS) {
        from_cache(req, &ce);
        return SMILE_OK;
    }
    rc = store_prepare(req->db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_blob(st, 1, h, sizeof(h));
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        user_id = store_stmt_int64(st, 1);
        snprintf(req->auth.csrf_token, sizeof(req->auth.csrf_token), "%s", store_stmt_text(st, 2));
        seen = store_stmt_int64(st, 3);
        exp = store_stmt_int64(st, 4);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EAUTH, "the session has ended; sign in again");
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    /* Idle expiry under the current setting, even for sessions made under a longer one. */
    if (now >= exp || now >= seen + settings.session_ttl_ms) {
        store_read_end(req->db); /* writes run outside the read snapshot */
        auth_session_end(req->db, id, err);
        return smile_err_set(err, SMILE_EAUTH, "the session has expired; sign in again");
    }
    rc = auth_from_user(req, user_id, err);
    if (rc == SMILE_EAUTH) {
        /* A disabled user's sessions die with the first request that finds them. */
        struct smile_err e2;

        smile_err_clear(&e2);
        store_read_end(req->db);
        auth_user_sessions_end(req->db, user_id, 0, &e2);
    }
    if (rc != SMILE_OK)
        return rc;
    req->auth.scopes = api_role_scopes(req->auth.role);
    req->auth.via_session = true;
    req->auth.session_id = id;
    if (now - seen >= AUTH_TOUCH_MS)
        to_cache(req, AUTH_CACHE_SESSION, h, id, now, now + settings.session_ttl_ms);
    else
        to_cache(req, AUTH_CACHE_SESSION, h, id, seen,
                 exp < seen + settings.session_ttl_ms ? exp : seen + settings.session_ttl_ms);
    if (now - seen >= AUTH_TOUCH_MS) {
        store_read_end(req->db); /* as for tokens: write outside the read snapshot */
        rc = store_prepare(req->db, touch, &st, err);
        if (rc == SMILE_OK) {
            store_stmt_bind_int64(st, 1, now);
            store_stmt_bind_int64(st, 2, now + settings.session_ttl_ms);
            store_stmt_bind_int64(st, 3, id);
            store_stmt_step(st, err);
            store_stmt_reset(st);
        }
        store_read_begin(req->db);
        smile_err_clear(err);
    }
    return SMILE_OK;
}

int
auth_resolve(struct http_request *req, struct smile_err *err)
{
    const char *authz = http_request_header(req, "Authorization");
    char cookie[128];
    int rc;

    memset(&req->auth, 0, sizeof(req->auth));
    rc = auth_init(err);
    if (rc != SMILE_OK)
        return rc;
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return smile_err_set(err, SMILE_EAUTH, "Authorization must be: Bearer smile_…");
        authz += 7;
        while (*authz == ' ')
            authz++;
        rc = resolve_token(req, authz, err);
    } else if (http_request_cookie(req, AUTH_COOKIE, cookie, sizeof(cookie))) {
        rc = resolve_session(req, cookie, err);
        if (rc == SMILE_EAUTH) {
            struct buf b;

            buf_init(&b, 256);
            auth_cookie_format(NULL, settings.cookie_secure, &b);
            http_response_header(req, "Set-Cookie", b.data);
            buf_free(&b);
        }
    } else {
        return SMILE_OK;
    }
    if (rc != SMILE_OK) {
        memset(&req->auth, 0, sizeof(req->auth));
        if (rc != SMILE_EAUTH)
            log_error("msg=\"authentication failed\" err=\"%s\" req_id=%s", err->msg,
                      req->request_id);
    }
    return rc;
}

bool
auth_csrf_ok(struct http_request *req)
{
    const char *h = http_request_header(req, "X-CSRF-Token");
    size_t n;

    if (!req->auth.via_session || h == NULL || req->auth.csrf_token[0] == '\0')
        return false;
    n = strlen(req->auth.csrf_token);
    if (strlen(h) != n)
        return false;
    return sodium_memcmp(h, req->auth.csrf_token, n) == 0;
}

/* API tokens -------------------------------------------------------------------------- */

static json_t *
token_json(struct store_stmt *st)
{
    char t[TIME_RFC3339_LEN + 1];
    unsigned bits = 0;
    struct smile_err err;
    json_t *o, *scopes = json_array();
    const char *s = store_stmt_text(st, 5);

    smile_err_clear(&err);
    if (s && api_scopes_parse(s, &bits, &err) == SMILE_OK) {
        struct buf b;
        const char *p;

        buf_init(&b, 0);
        api_scopes_format(bits, &b);
        for (p = b.data; p && *p;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);

            json_array_append_new(scopes, json_stringn(p, n));
            p += n + (e ? 1 : 0);
        }
        buf_free(&b);
    }
    o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)store_stmt_int64(st, 0),
                  "user_id", (json_int_t)store_stmt_int64(st, 1), "username",
                  store_stmt_text(st, 2) ? store_stmt_text(st, 2) : "", "name",
                  store_stmt_text(st, 3) ? store_stmt_text(st, 3) : "", "prefix",
                  store_stmt_text(st, 4) ? store_stmt_text(st, 4) : "", "scopes", scopes);
    time_format_rfc3339(store_stmt_int64(st, 6), t);
    json_object_set_new(o, "created_at", json_string(t));
    for (int c = 7; c <= 8; c++) {
        const char *k = c == 7 ? "last_used_at" : "revoked_at";

        if (store_stmt_is_null(st, c)) {
            json_object_set_new(o, k, json_null());
        } else {
            time_format_rfc3339(store_stmt_int64(st, c), t);
            json_object_set_new(o, k, json_string(t));
        }
    }
    return o;
}

#define TOKEN_COLS                                                                                 \
    "k.id, k.user_id, u.username, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, "      \
    "k.revoked_at FROM api_tokens k JOIN users u ON u.id = k.user_id "

int
auth_token_create(struct store *db, const struct audit_who *who, int64_t user_id, unsigned scopes,
                  const char *name, struct auth_token_new *out, struct smile_err *err)
{
    static const char ins[] = "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, "
                              "created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    static const char one[] = "SELECT " TOKEN_COLS "WHERE k.id = $1";
    unsigned char h[crypto_hash_sha256_BYTES];
    char secret[AUTH_SECRET_B64_LEN + 1], prefix[AUTH_TOKEN_DISPLAY_LEN + 1];
    struct staff_user u;
    struct store_stmt *st;
    struct buf sc;
    json_t *after = NULL;
    bool own;
    int rc = auth_init(err);

    if (rc != SMILE_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    if (name && strlen(name) > 100)
        return smile_err_field(err, "/name", "name is longer than 100 bytes");
    own = !store_in_tx(db);
    if (own && (rc = store_begin(db, err)) != SMILE_OK)
        return rc;
    rc = staff_user_get(db, user_id, &u, err);
    if (rc == SMILE_ENOTFOUND) {
        smile_err_clear(err);
        rc = smile_err_field(err, "/user_id", "no user with id %lld", (long long)user_id);
    } else if (rc == SMILE_OK && u.disabled) {
        rc = smile_err_field(err, "/user_id", "user %s is disabled", u.username);
    }
    if (rc == SMILE_OK && scopes == 0)
        rc = smile_err_field(err, "/scopes", "at least one scope is required");
    if (rc == SMILE_OK && (scopes & ~api_role_scopes(api_role_parse(u.role))))
        rc = smile_err_field(err, "/scopes", "a user with role %s cannot hold the admin scope",
                             u.role);
    buf_init(&sc, 0);
    api_scopes_format(scopes, &sc);
    if (rc == SMILE_OK)
        rc = store_prepare(db, ins, &st, err);
    if (rc == SMILE_OK) {
        secret_new(secret);
        snprintf(out->token, sizeof(out->token), "%s%s", AUTH_TOKEN_PREFIX, secret);
        sodium_memzero(secret, sizeof(secret));
        memcpy(prefix, out->token, AUTH_TOKEN_DISPLAY_LEN);
        prefix[AUTH_TOKEN_DISPLAY_LEN] = '\0';
        secret_hash(out->token, strlen(out->token), h);
        store_stmt_bind_int64(st, 1, user_id);
        store_stmt_bind_text(st, 2, name ? name : "", -1);
        store_stmt_bind_text(st, 3, prefix, -1);
        store_stmt_bind_blob(st, 4, h, sizeof(h));
        store_stmt_bind_text(st, 5, sc.data ? sc.data : "", -1);
        store_stmt_bind_int64(st, 6, time_now_ms());
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            out->id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        } else if (rc == STORE_DONE) {
            rc = smile_err_set(err, SMILE_EDB, "no id for the new token");
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = store_prepare(db, one, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, out->id);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            after = token_json(st);
            rc = SMILE_OK;
        } else if (rc == STORE_DONE) {
            rc = smile_err_set(err, SMILE_EDB, "the new token vanished");
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "token", out->id, "create", NULL, after, err);
    json_decref(after);
    buf_free(&sc);
    if (own) {
        if (rc == SMILE_OK)
            rc = store_commit(db, err);
        else
            store_rollback(db);
    }
    if (rc != SMILE_OK)
        sodium_memzero(out, sizeof(*out));
    return rc;
}

int
auth_token_owner(struct store *db, int64_t id, int64_t *out_user_id, struct smile_err *err)
{
    static const char sql[] = "SELECT user_id FROM api_tokens WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out_user_id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no token %lld", (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

int
auth_token_revoke(struct store *db, const struct audit_who *who, int64_t id, struct smile_err *err)
{
    static const char one[] = "SELECT " TOKEN_COLS "WHERE k.id = $1";
    static const char upd[] =
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
    struct store_stmt *st;
    json_t *before = NULL, *after = NULL;
    bool own = !store_in_tx(db);
    int rc = SMILE_OK;

    auth_cache_invalidate();
    if (own && (rc = store_begin(db, err)) != SMILE_OK)
        return rc;
    rc = store_prepare(db, one, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, id);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            before = token_json(st);
            rc = SMILE_OK;
        } else if (rc == STORE_DONE) {
            rc = smile_err_set(err, SMILE_ENOTFOUND, "no token %lld", (long long)id);
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK && !json_is_null(json_object_get(before, "revoked_at"))) {
        /* Already revoked: nothing to write. */
    } else if (rc == SMILE_OK) {
        rc = store_prepare(db, upd, &st, err);
        if (rc == SMILE_OK) {
            store_stmt_bind_int64(st, 1, time_now_ms());
            store_stmt_bind_int64(st, 2, id);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
        }
        if (rc == SMILE_OK)
            rc = store_prepare(db, one, &st, err);
        if (rc == SMILE_OK) {
            store_stmt_bind_int64(st, 1, id);
            rc = store_stmt_step(st, err);
            if (rc == STORE_ROW) {
                after = token_json(st);
                rc = SMILE_OK;
            } else if (rc == STORE_DONE) {
                rc = smile_err_set(err, SMILE_EDB, "the token vanished");
            }
            store_stmt_reset(st);
        }
        if (rc == SMILE_OK)
            rc = audit_record_who(db, who, "token", id, "revoke", before, after, err);
    }
    json_decref(before);
    json_decref(after);
    if (own) {
        if (rc == SMILE_OK)
            rc = store_commit(db, err);
        else
            store_rollback(db);
    }
    auth_cache_invalidate(); /* again after the commit: see auth_cache.h */
    return rc;
}

int
auth_token_list(struct store *db, int64_t user_id, int64_t after_id, int limit, json_t **out,
                int64_t *out_next, struct smile_err *err)
{
    static const char sql[] =
        "SELECT " TOKEN_COLS "WHERE k.id > $1 AND ($2 = 0 OR k.user_id = $2) ORDER BY k.id "
        "LIMIT $3";
    struct store_stmt *st;
    json_t *a;
    int64_t last = 0;
    int n = 0, rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, after_id);
    store_stmt_bind_int64(st, 2, user_id);
    store_stmt_bind_int64(st, 3, limit + 1);
    a = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == limit)
            break;
        last = store_stmt_int64(st, 0);
        json_array_append_new(a, token_json(st));
        n++;
    }
    *out_next = rc == STORE_ROW ? last : 0;
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return SMILE_OK;
}
