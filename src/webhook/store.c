/*
 * store.c — the webhook tables: subscriptions (create with a libsodium secret shown once,
 * read, list, change, delete, rotate the secret — every change audited without the secret),
 * the delivery log (list, one delivery with its attempts, redeliver, ping) and the enqueue
 * step that turns committed ledger events into pending deliveries while advancing
 * webhook_cursor in the same transaction. The sender thread (sender.c) and the HTTP
 * handlers (api/webhooks.c) call these; nothing else writes the tables.
 */
#include "webhook/webhook.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/secret.h"
#include "crm/audit.h"
#include "store/store.h"

#define HOOK_COLS                                                                                  \
    "id, url, description, event_types, active, version, created_at, updated_at, secret, "         \
    "previous_expires_at, after_event_id, headers, "                                               \
    "(SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id "                 \
    "AND d.status = 'pending'), "                                                                  \
    "(SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id "                 \
    "AND d.status = 'failed'), "                                                                   \
    "(SELECT d.delivered_at FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id "           \
    "AND d.status = 'delivered' ORDER BY d.id DESC LIMIT 1) "
#define DELIVERY_COLS                                                                              \
    "id, webhook_id, event_id, event_type, status, attempts, tries, next_at, created_at, "         \
    "updated_at, delivered_at, last_status_code, last_error "

/* Opens a transaction unless the caller has one; tx_end commits or rolls back only ours. */
static int
tx_begin(struct store *db, bool *own, struct smile_err *err)
{
    *own = !store_in_tx(db);
    return *own ? store_begin(db, err) : SMILE_OK;
}

static int
tx_end(struct store *db, bool own, int rc, struct smile_err *err)
{
    if (!own)
        return rc;
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

/* The result of a step that writes: STORE_DONE → SMILE_OK. */
static int
step_done(struct store_stmt *st, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);

    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc == STORE_ROW ? SMILE_OK : rc;
}

static json_t *
time_json(int64_t ms)
{
    char t[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *
opt_time_json(struct store_stmt *st, int col)
{
    return store_stmt_is_null(st, col) ? json_null() : time_json(store_stmt_int64(st, col));
}

/* A subscription row as the API shows it: the secret only as a hint of its last 4 digits. */
static json_t *
hook_json(struct store_stmt *st)
{
    const char *k;
    char *secret = NULL;
    struct smile_err serr;
    size_t n;
    char hint[32];
    json_t *types = json_loads(store_stmt_text(st, 3), 0, NULL);
    json_t *hdrs = json_loads(store_stmt_text(st, 11), 0, NULL), *masked = json_object(), *v;
    json_t *stats;

    /* Header values may be credentials: reads show the names only. */
    json_object_foreach(hdrs, k, v)
    {
        json_object_set_new(masked, k, json_string("***"));
    }
    json_decref(hdrs);
    stats =
        json_pack("{s:I, s:I, s:o}", "pending", (json_int_t)store_stmt_int64(st, 12), "failed",
                  (json_int_t)store_stmt_int64(st, 13), "last_delivered_at", opt_time_json(st, 14));
    /* The secret is sealed (src/base/secret.h): the hint needs it opened. */
    smile_err_clear(&serr);
    if (secret_open_row("webhook", store_stmt_int64(st, 0), store_stmt_text(st, 8), &secret,
                        &serr) != SMILE_OK)
        log_error("msg=\"webhook secret unreadable\" webhook=%lld error=\"%s\"",
                  (long long)store_stmt_int64(st, 0), serr.msg);
    n = secret ? strlen(secret) : 0;
    snprintf(hint, sizeof(hint), "%s…%s", WEBHOOK_SECRET_PREFIX, n >= 4 ? secret + n - 4 : "?");
    secret_free(secret);
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:b, s:I, s:s, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)store_stmt_int64(st, 0), "url", store_stmt_text(st, 1),
                     "description", store_stmt_text(st, 2), "event_types",
                     types ? types : json_array(), "headers", masked, "active",
                     (int)store_stmt_int64(st, 4), "version", (json_int_t)store_stmt_int64(st, 5),
                     "secret_hint", hint, "previous_secret_expires_at", opt_time_json(st, 9),
                     "created_at", time_json(store_stmt_int64(st, 6)), "updated_at",
                     time_json(store_stmt_int64(st, 7)), "stats", stats);
}

static int
hook_load(struct store *db, int64_t id, json_t **out, int64_t *out_version, struct smile_err *err)
{
    static const char sql[] = "SELECT " HOOK_COLS "FROM webhooks WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out = hook_json(st);
        if (out_version)
            *out_version = store_stmt_int64(st, 5);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no webhook %lld", (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

int
webhook_get(struct store *db, int64_t id, json_t **out, int64_t *out_version, struct smile_err *err)
{
    return hook_load(db, id, out, out_version, err);
}

int
webhook_list(struct store *db, int64_t after_id, int limit, json_t **out, int64_t *out_next,
             struct smile_err *err)
{
    static const char sql[] =
        "SELECT " HOOK_COLS "FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2";
    struct store_stmt *st;
    json_t *arr = json_array();
    int rc = store_prepare(db, sql, &st, err);
    int64_t last = 0;

    *out_next = 0;
    if (rc != SMILE_OK) {
        json_decref(arr);
        return rc;
    }
    store_stmt_bind_int64(st, 1, after_id);
    store_stmt_bind_int64(st, 2, limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if ((int)json_array_size(arr) == limit) {
            *out_next = last;
            break;
        }
        last = store_stmt_int64(st, 0);
        json_array_append_new(arr, hook_json(st));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SMILE_OK;
}

/* The fields a client may set, validated. Strings borrowed from the body. */
struct hook_fields {
    const char *url;
    const char *description;
    json_t *types;   /* canonical array (owned), NULL = unchanged */
    json_t *headers; /* object (owned), NULL = unchanged */
    int active;      /* -1 = unchanged */
};

/* Headers Smile sets itself (or that would break the request) may not be overridden. */
static bool
header_reserved(const char *name)
{
    static const char *const reserved[] = {"host",       "content-type",      "content-length",
                                           "user-agent", "transfer-encoding", "connection",
                                           "expect"};

    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return strncasecmp(name, "x-smile-", 8) == 0;
}

/* Extra request headers: up to WEBHOOK_MAX_HEADERS, RFC 9110 token names, printable values. */
static void
headers_parse(json_t *v, struct hook_fields *f, struct smile_err *err)
{
    const char *k;
    json_t *x;
    bool ok = true;

    if (!json_is_object(v) || json_object_size(v) > WEBHOOK_MAX_HEADERS) {
        smile_err_field(err, "/headers", "headers must be an object of at most %d names",
                        WEBHOOK_MAX_HEADERS);
        return;
    }
    json_object_foreach(v, k, x)
    {
        char path[160];
        size_t n = strlen(k), m;
        bool name_ok = n > 0 && n <= 64;

        snprintf(path, sizeof(path), "/headers/%.100s", k);
        for (size_t i = 0; i < n && name_ok; i++)
            name_ok = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
                      (k[i] >= '0' && k[i] <= '9') || k[i] == '-' || k[i] == '_';
        if (!name_ok) {
            smile_err_field(err, path, "a header name is 1 to 64 letters, digits, - or _");
            ok = false;
            continue;
        }
        if (header_reserved(k)) {
            smile_err_field(err, path, "Smile sets this header itself");
            ok = false;
            continue;
        }
        if (!json_is_string(x) || (m = json_string_length(x)) > 1024 ||
            strlen(json_string_value(x)) != m) {
            smile_err_field(err, path, "a header value is a string of at most 1024 bytes");
            ok = false;
            continue;
        }
        for (const char *p = json_string_value(x); *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                smile_err_field(err, path, "a header value has no control characters");
                ok = false;
                break;
            }
    }
    if (ok)
        f->headers = json_deep_copy(v);
}

static int
hook_parse(const json_t *body, bool create, struct hook_fields *f, struct smile_err *err)
{
    const char *key;
    json_t *v;

    memset(f, 0, sizeof(*f));
    f->active = -1;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "url") == 0) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                smile_err_field(err, "/url", "url must be a string");
            else if (webhook_url_check(json_string_value(v), "/url", err) == SMILE_OK)
                f->url = json_string_value(v);
        } else if (strcmp(key, "description") == 0) {
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                smile_err_field(err, "/description", "description must be a string");
            else if (json_string_length(v) > WEBHOOK_MAX_DESCRIPTION)
                smile_err_field(err, "/description", "description is at most %d bytes",
                                WEBHOOK_MAX_DESCRIPTION);
            else
                f->description = json_string_value(v);
        } else if (strcmp(key, "event_types") == 0) {
            size_t i;
            json_t *p;
            bool ok = true;

            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > WEBHOOK_MAX_TYPES) {
                smile_err_field(err, "/event_types",
                                "event_types must be an array of 1 to %d type patterns",
                                WEBHOOK_MAX_TYPES);
                continue;
            }
            json_array_foreach(v, i, p)
            {
                char path[48];

                snprintf(path, sizeof(path), "/event_types/%zu", i);
                if (!json_is_string(p) || !webhook_pattern_valid(json_string_value(p))) {
                    smile_err_field(err, path,
                                    "unknown event type pattern (use \"*\", a family such as "
                                    "\"case.*\" or \"sla.*\", or an exact type such as "
                                    "\"case.opened\")");
                    ok = false;
                    continue;
                }
                for (size_t k = 0; k < i; k++)
                    if (strcmp(json_string_value(json_array_get(v, k)), json_string_value(p)) ==
                        0) {
                        smile_err_field(err, path, "duplicate pattern");
                        ok = false;
                        break;
                    }
            }
            if (ok)
                f->types = json_deep_copy(v);
        } else if (strcmp(key, "headers") == 0) {
            headers_parse(v, f, err);
        } else if (strcmp(key, "active") == 0) {
            if (!json_is_boolean(v))
                smile_err_field(err, "/active", "active must be true or false");
            else
                f->active = json_is_true(v);
        } else if (strcmp(key, "secret") == 0) {
            smile_err_field(err, "/secret",
                            "the secret is generated by Smile: use POST "
                            "/api/v1/webhooks/{id}/rotate-secret");
        } else {
            char path[160];

            snprintf(path, sizeof(path), "/%s", key);
            smile_err_field(err, path, "unknown field");
        }
    }
    if (create && !json_object_get(body, "url"))
        smile_err_field(err, "/url", "url is required");
    if (create && !json_object_get(body, "event_types"))
        smile_err_field(err, "/event_types",
                        "event_types is required (e.g. [\"case.*\", \"sla.breached\"])");
    if (err->code != SMILE_OK) {
        json_decref(f->types);
        json_decref(f->headers);
        f->types = NULL;
        f->headers = NULL;
        return err->code;
    }
    return SMILE_OK;
}

static void
secret_new(char out[WEBHOOK_SECRET_LEN + 1])
{
    unsigned char r[32];

    randombytes_buf(r, sizeof(r));
    memcpy(out, WEBHOOK_SECRET_PREFIX, 6);
    sodium_bin2hex(out + 6, WEBHOOK_SECRET_LEN + 1 - 6, r, sizeof(r));
    sodium_memzero(r, sizeof(r));
}

int
webhook_create(struct store *db, const struct audit_who *who, const json_t *body, json_t **out,
               struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO webhooks (url, description, event_types, active, secret, after_event_id, "
        "created_at, updated_at, headers, id) VALUES ($1, $2, $3, $4, $5, "
        "(SELECT coalesce(max(id), 0) FROM events), $6, $6, $7, $8) RETURNING id";
    /* The id is chosen first: the secret is sealed for its row (src/base/secret.h). */
    static const char sql_next[] = "SELECT coalesce(max(id), 0) + 1 FROM webhooks";
    char *sealed = NULL;
    struct hook_fields f;
    struct store_stmt *st;
    char secret[WEBHOOK_SECRET_LEN + 1];
    char *types = NULL, *hdrs = NULL;
    json_t *after = NULL;
    int64_t id = 0, now = time_now_ms();
    bool own = false;
    int rc;

    *out = NULL;
    if ((rc = hook_parse(body, true, &f, err)) != SMILE_OK)
        return rc;
    types = json_dumps(f.types, JSON_COMPACT);
    hdrs = f.headers ? json_dumps(f.headers, JSON_COMPACT) : NULL;
    secret_new(secret);
    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        goto out;
    if ((rc = store_query_int64(db, sql_next, &id, err)) == SMILE_OK)
        rc = secret_seal_row("webhook", id, secret, &sealed, err);
    if (rc == SMILE_OK && (rc = store_prepare(db, sql, &st, err)) == SMILE_OK) {
        store_stmt_bind_text(st, 1, f.url, -1);
        store_stmt_bind_text(st, 2, f.description ? f.description : "", -1);
        store_stmt_bind_text(st, 3, types, -1);
        store_stmt_bind_int64(st, 4, f.active != 0);
        store_stmt_bind_text(st, 5, sealed, -1);
        store_stmt_bind_int64(st, 6, now);
        store_stmt_bind_text(st, 7, hdrs ? hdrs : "{}", -1);
        store_stmt_bind_int64(st, 8, id);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = hook_load(db, id, &after, NULL, err);
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "webhook", id, "create", NULL, after, err);
    rc = tx_end(db, own, rc, err);
    if (rc == SMILE_OK) {
        json_object_set_new(after, "secret", json_string(secret));
        *out = after;
        after = NULL;
    }
out:
    sodium_memzero(secret, sizeof(secret));
    free(sealed);
    json_decref(after);
    json_decref(f.types);
    json_decref(f.headers);
    free(types);
    free(hdrs);
    return rc;
}

static int
version_check(int64_t id, int64_t have, int64_t want, struct smile_err *err)
{
    if (want && have != want)
        return smile_err_set(err, SMILE_EPRECOND,
                             "webhook %lld is at version %lld, not %lld: read it again",
                             (long long)id, (long long)have, (long long)want);
    return SMILE_OK;
}

int
webhook_update(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
               const json_t *patch, json_t **out, int64_t *out_version, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE webhooks SET url = coalesce($1, url), description = coalesce($2, description), "
        "event_types = coalesce($3, event_types), active = coalesce($4, active), "
        "headers = coalesce($5, headers), version = version + 1, updated_at = $6, "
        /* Switched back on: it starts after the newest event, as a new webhook does —
         * what happened while it was off is not delivered (whatever the cursor's lag). */
        "after_event_id = CASE WHEN active = 0 AND $4 = 1"
        " THEN (SELECT coalesce(max(id), 0) FROM events) ELSE after_event_id END "
        "WHERE id = $7 AND version = $8";
    struct hook_fields f;
    struct store_stmt *st;
    json_t *before = NULL, *after = NULL;
    char *types = NULL, *hdrs = NULL;
    int64_t have = 0;
    bool own = false;
    int rc;

    *out = NULL;
    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        return rc;
    memset(&f, 0, sizeof(f));
    rc = hook_load(db, id, &before, &have, err);
    if (rc == SMILE_OK)
        rc = version_check(id, have, version, err);
    if (rc == SMILE_OK)
        rc = hook_parse(patch, false, &f, err);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        types = f.types ? json_dumps(f.types, JSON_COMPACT) : NULL;
        store_stmt_bind_text(st, 1, f.url, -1);
        store_stmt_bind_text(st, 2, f.description, -1);
        store_stmt_bind_text(st, 3, types, -1);
        if (f.active < 0)
            store_stmt_bind_null(st, 4);
        else
            store_stmt_bind_int64(st, 4, f.active);
        hdrs = f.headers ? json_dumps(f.headers, JSON_COMPACT) : NULL;
        store_stmt_bind_text(st, 5, hdrs, -1);
        store_stmt_bind_int64(st, 6, time_now_ms());
        store_stmt_bind_int64(st, 7, id);
        store_stmt_bind_int64(st, 8, have);
        rc = step_done(st, err);
        if (rc == SMILE_OK && store_changes(db) != 1)
            rc =
                smile_err_set(err, SMILE_EPRECOND, "webhook %lld changed meanwhile", (long long)id);
    }
    if (rc == SMILE_OK)
        rc = hook_load(db, id, &after, out_version, err);
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "webhook", id, "update", before, after, err);
    rc = tx_end(db, own, rc, err);
    if (rc == SMILE_OK) {
        *out = after;
        after = NULL;
    }
    json_decref(before);
    json_decref(after);
    json_decref(f.types);
    json_decref(f.headers);
    free(types);
    free(hdrs);
    return rc;
}

int
webhook_delete(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
               struct smile_err *err)
{
    static const char sql_attempts[] = "DELETE FROM webhook_attempts WHERE delivery_id IN "
                                       "(SELECT id FROM webhook_deliveries WHERE webhook_id = $1)";
    static const char sql_deliveries[] = "DELETE FROM webhook_deliveries WHERE webhook_id = $1";
    static const char sql[] = "DELETE FROM webhooks WHERE id = $1";
    static const char *const steps[] = {sql_attempts, sql_deliveries, sql};
    struct store_stmt *st;
    json_t *before = NULL;
    int64_t have = 0;
    bool own = false;
    int rc;

    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        return rc;
    rc = hook_load(db, id, &before, &have, err);
    if (rc == SMILE_OK)
        rc = version_check(id, have, version, err);
    for (size_t i = 0; i < ARRAY_LEN(steps) && rc == SMILE_OK; i++) {
        if ((rc = store_prepare(db, steps[i], &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, id);
        rc = step_done(st, err);
    }
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "webhook", id, "delete", before, NULL, err);
    json_decref(before);
    return tx_end(db, own, rc, err);
}

int
webhook_rotate_secret(struct store *db, const struct audit_who *who, int64_t id,
                      int64_t keep_previous_s, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE webhooks SET previous_secret = CASE WHEN $1 > 0 THEN secret ELSE NULL END, "
        "previous_expires_at = CASE WHEN $1 > 0 THEN $2 ELSE NULL END, secret = $3, "
        "version = version + 1, updated_at = $4 WHERE id = $5";
    struct store_stmt *st;
    char secret[WEBHOOK_SECRET_LEN + 1], *sealed = NULL;
    json_t *before = NULL, *after = NULL;
    int64_t now = time_now_ms();
    bool own = false;
    int rc;

    *out = NULL;
    secret_new(secret);
    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        goto out;
    rc = hook_load(db, id, &before, NULL, err);
    if (rc == SMILE_OK)
        rc = secret_seal_row("webhook", id, secret, &sealed, err);
    if (rc == SMILE_OK && (rc = store_prepare(db, sql, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, keep_previous_s);
        store_stmt_bind_int64(st, 2, now + keep_previous_s * 1000);
        store_stmt_bind_text(st, 3, sealed, -1);
        store_stmt_bind_int64(st, 4, now);
        store_stmt_bind_int64(st, 5, id);
        rc = step_done(st, err);
    }
    if (rc == SMILE_OK)
        rc = hook_load(db, id, &after, NULL, err);
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "webhook", id, "rotate_secret", before, after, err);
    rc = tx_end(db, own, rc, err);
    if (rc == SMILE_OK) {
        json_object_set_new(after, "secret", json_string(secret));
        *out = after;
        after = NULL;
    }
out:
    sodium_memzero(secret, sizeof(secret));
    free(sealed);
    json_decref(before);
    json_decref(after);
    return rc;
}

/* The delivery log -------------------------------------------------------------------------- */

static json_t *
delivery_json(struct store_stmt *st)
{
    const char *status = store_stmt_text(st, 4);
    bool pending = strcmp(status, "pending") == 0;

    return json_pack(
        "{s:I, s:I, s:o, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
        (json_int_t)store_stmt_int64(st, 0), "webhook_id", (json_int_t)store_stmt_int64(st, 1),
        "event_id", store_stmt_is_null(st, 2) ? json_null() : json_integer(store_stmt_int64(st, 2)),
        "event_type", store_stmt_text(st, 3), "status", status, "attempts",
        (json_int_t)store_stmt_int64(st, 5), "tries", (json_int_t)store_stmt_int64(st, 6),
        "next_attempt_at", pending ? time_json(store_stmt_int64(st, 7)) : json_null(), "created_at",
        time_json(store_stmt_int64(st, 8)), "updated_at", time_json(store_stmt_int64(st, 9)),
        "delivered_at", opt_time_json(st, 10), "last_status_code",
        store_stmt_is_null(st, 11) ? json_null() : json_integer(store_stmt_int64(st, 11)),
        "last_error",
        store_stmt_is_null(st, 12) ? json_null() : json_string(store_stmt_text(st, 12)));
}

int
webhook_delivery_list(struct store *db, const struct webhook_delivery_query *q, json_t **out,
                      int64_t *out_next, struct smile_err *err)
{
    static const char sql[] = "SELECT " DELIVERY_COLS "FROM webhook_deliveries "
                              "WHERE webhook_id = $1 AND ($2 IS NULL OR status = $2) "
                              "AND ($3 = 0 OR event_id = $3) AND id < $4 ORDER BY id DESC LIMIT $5";
    struct store_stmt *st;
    json_t *arr = json_array();
    int64_t last = 0;
    int rc = store_prepare(db, sql, &st, err);

    *out_next = 0;
    if (rc != SMILE_OK) {
        json_decref(arr);
        return rc;
    }
    store_stmt_bind_int64(st, 1, q->webhook_id);
    store_stmt_bind_text(st, 2, q->status, -1);
    store_stmt_bind_int64(st, 3, q->event_id);
    store_stmt_bind_int64(st, 4, q->before_id > 0 ? q->before_id : INT64_MAX);
    store_stmt_bind_int64(st, 5, q->limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if ((int)json_array_size(arr) == q->limit) {
            *out_next = last;
            break;
        }
        last = store_stmt_int64(st, 0);
        json_array_append_new(arr, delivery_json(st));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SMILE_OK;
}

static int
delivery_load(struct store *db, int64_t webhook_id, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT " DELIVERY_COLS "FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_int64(st, 2, webhook_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out = delivery_json(st);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "webhook %lld has no delivery %lld",
                           (long long)webhook_id, (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

int
webhook_delivery_get(struct store *db, int64_t webhook_id, int64_t id, json_t **out,
                     struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, started_at, duration_ms, status_code, error, response FROM webhook_attempts "
        "WHERE delivery_id = $1 ORDER BY id";
    struct store_stmt *st;
    json_t *d = NULL, *log;
    int rc = delivery_load(db, webhook_id, id, &d, err);

    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK) {
        json_decref(d);
        return rc;
    }
    log = json_array();
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(
            log,
            json_pack("{s:I, s:o, s:I, s:o, s:o, s:s}", "id", (json_int_t)store_stmt_int64(st, 0),
                      "started_at", time_json(store_stmt_int64(st, 1)), "duration_ms",
                      (json_int_t)store_stmt_int64(st, 2), "status_code",
                      store_stmt_is_null(st, 3) ? json_null()
                                                : json_integer(store_stmt_int64(st, 3)),
                      "error",
                      store_stmt_is_null(st, 4) ? json_null() : json_string(store_stmt_text(st, 4)),
                      "response", store_stmt_text(st, 5) ? store_stmt_text(st, 5) : ""));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(log);
        json_decref(d);
        return rc;
    }
    json_object_set_new(d, "attempt_log", log);
    *out = d;
    return SMILE_OK;
}

int
webhook_redeliver(struct store *db, const struct audit_who *who, int64_t webhook_id, int64_t id,
                  json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE webhook_deliveries SET status = 'pending', tries = 0, next_at = $1, "
        "updated_at = $1 WHERE id = $2 AND webhook_id = $3";
    struct store_stmt *st;
    json_t *before = NULL, *after = NULL;
    bool own = false;
    int rc;

    *out = NULL;
    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        return rc;
    rc = delivery_load(db, webhook_id, id, &before, err);
    if (rc == SMILE_OK && (rc = store_prepare(db, sql, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, time_now_ms());
        store_stmt_bind_int64(st, 2, id);
        store_stmt_bind_int64(st, 3, webhook_id);
        rc = step_done(st, err);
    }
    if (rc == SMILE_OK)
        rc = delivery_load(db, webhook_id, id, &after, err);
    if (rc == SMILE_OK)
        rc = audit_record_who(db, who, "webhook_delivery", id, "redeliver", before, after, err);
    rc = tx_end(db, own, rc, err);
    if (rc == SMILE_OK) {
        *out = after;
        after = NULL;
    }
    json_decref(before);
    json_decref(after);
    return rc;
}

int
webhook_ping(struct store *db, const struct audit_who *who, int64_t webhook_id, json_t **out,
             struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, next_at, "
        "created_at, updated_at) VALUES ($1, NULL, '" WEBHOOK_PING_TYPE "', 'pending', $2, $2, $2) "
        "RETURNING id";
    struct store_stmt *st;
    json_t *hook = NULL;
    int64_t id = 0;
    bool own = false;
    int rc;

    (void)who;
    *out = NULL;
    if ((rc = tx_begin(db, &own, err)) != SMILE_OK)
        return rc;
    rc = hook_load(db, webhook_id, &hook, NULL, err);
    json_decref(hook);
    if (rc == SMILE_OK && (rc = store_prepare(db, sql, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, webhook_id);
        store_stmt_bind_int64(st, 2, time_now_ms());
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        }
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = delivery_load(db, webhook_id, id, out, err);
    return tx_end(db, own, rc, err);
}

/* Enqueue --------------------------------------------------------------------------------- */

/* The active subscriptions' filters, loaded once per enqueue step. */
struct sub {
    int64_t id, after_event_id;
    char **patterns;
    size_t n;
};

static void
subs_free(struct sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < subs[i].n; k++)
            free(subs[i].patterns[k]);
        free(subs[i].patterns);
    }
    free(subs);
}

static int
subs_load(struct store *db, struct sub **out, size_t *out_n, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, event_types, after_event_id FROM webhooks WHERE active = 1 ORDER BY id";
    struct store_stmt *st;
    struct sub *subs = NULL;
    size_t n = 0, cap = 0;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        json_t *types = json_loads(store_stmt_text(st, 1), 0, NULL), *p;
        size_t i;

        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            subs = xrealloc(subs, cap * sizeof(*subs));
        }
        subs[n].id = store_stmt_int64(st, 0);
        subs[n].after_event_id = store_stmt_int64(st, 2);
        subs[n].n = 0;
        subs[n].patterns = xcalloc(json_array_size(types) + 1, sizeof(char *));
        json_array_foreach(types, i, p)
        {
            if (json_is_string(p))
                subs[n].patterns[subs[n].n++] = xstrdup(json_string_value(p));
        }
        json_decref(types);
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        subs_free(subs, n);
        return rc;
    }
    *out = subs;
    *out_n = n;
    return SMILE_OK;
}

int
webhook_enqueue(struct store *db, int limit, int64_t now, int64_t *out_events,
                int64_t *out_deliveries, struct smile_err *err)
{
    static const char sql_cursor[] =
        "SELECT coalesce((SELECT last_event_id FROM webhook_cursor WHERE id = 1), 0)";
    static const char sql_max[] = "SELECT coalesce(max(id), 0) FROM events";
    static const char sql_events[] =
        "SELECT id, type FROM events WHERE id > $1 ORDER BY id LIMIT $2";
    static const char sql_insert[] =
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, next_at, "
        "created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4, $4) "
        "ON CONFLICT (webhook_id, event_id) DO NOTHING";
    static const char sql_advance[] =
        "INSERT INTO webhook_cursor (id, last_event_id) VALUES (1, $1) "
        "ON CONFLICT (id) DO UPDATE SET last_event_id = excluded.last_event_id";
    struct store_stmt *st, *ins = NULL;
    struct sub *subs = NULL;
    size_t nsubs = 0;
    int64_t cursor = 0, last = 0, nev = 0, ndel = 0;
    int rc = store_begin(db, err);

    *out_events = 0;
    *out_deliveries = 0;
    if (rc != SMILE_OK)
        return rc;
    rc = store_query_int64(db, sql_cursor, &cursor, err);
    if (rc == SMILE_OK)
        rc = subs_load(db, &subs, &nsubs, err);
    last = cursor;
    if (rc == SMILE_OK && nsubs == 0) {
        /* Nobody listens: jump to the newest event without reading the others. */
        rc = store_query_int64(db, sql_max, &last, err);
        nev = last > cursor ? last - cursor : 0;
    } else if (rc == SMILE_OK && (rc = store_prepare(db, sql_events, &st, err)) == SMILE_OK) {
        /* Read the batch first: one statement at a time on the connection. */
        struct ev {
            int64_t id;
            char *type;
        } *evs = xcalloc((size_t)limit, sizeof(*evs));

        store_stmt_bind_int64(st, 1, cursor);
        store_stmt_bind_int64(st, 2, limit);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW && nev < limit) {
            evs[nev].id = store_stmt_int64(st, 0);
            evs[nev].type = xstrdup(store_stmt_text(st, 1));
            nev++;
        }
        store_stmt_reset(st);
        rc = rc == STORE_DONE || rc == STORE_ROW ? SMILE_OK : rc;
        if (rc == SMILE_OK && nev > 0)
            rc = store_prepare(db, sql_insert, &ins, err);
        for (int64_t i = 0; i < nev && rc == SMILE_OK; i++) {
            for (size_t k = 0; k < nsubs && rc == SMILE_OK; k++) {
                const struct sub *s = &subs[k];

                if (evs[i].id <= s->after_event_id ||
                    !webhook_patterns_match((const char *const *)s->patterns, s->n, evs[i].type))
                    continue;
                store_stmt_bind_int64(ins, 1, s->id);
                store_stmt_bind_int64(ins, 2, evs[i].id);
                store_stmt_bind_text(ins, 3, evs[i].type, -1);
                store_stmt_bind_int64(ins, 4, now);
                rc = step_done(ins, err);
                if (rc == SMILE_OK)
                    ndel += store_changes(db);
            }
            last = evs[i].id;
        }
        for (int64_t i = 0; i < nev; i++)
            free(evs[i].type);
        free(evs);
    }
    if (rc == SMILE_OK && last > cursor &&
        (rc = store_prepare(db, sql_advance, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, last);
        rc = step_done(st, err);
    }
    subs_free(subs, nsubs);
    if (rc == SMILE_OK && last > cursor)
        rc = store_commit(db, err);
    else
        store_rollback(db);
    if (rc == SMILE_OK) {
        *out_events = nev;
        *out_deliveries = ndel;
    }
    return rc;
}

int
webhook_log_prune(struct store *db, int64_t before_ms, int64_t *out_n, struct smile_err *err)
{
    static const char sql_attempts[] =
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries "
        "WHERE status <> 'pending' AND updated_at < $1)";
    static const char sql_deliveries[] =
        "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1";
    struct store_stmt *st;
    int rc = store_begin(db, err);

    *out_n = 0;
    if (rc == SMILE_OK && (rc = store_prepare(db, sql_attempts, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, before_ms);
        rc = step_done(st, err);
    }
    if (rc == SMILE_OK && (rc = store_prepare(db, sql_deliveries, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, before_ms);
        rc = step_done(st, err);
        *out_n = store_changes(db);
    }
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    *out_n = 0;
    return rc;
}
