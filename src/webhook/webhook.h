/*
 * webhook.h — outbound webhooks: admins subscribe a URL to event types; every event the
 * ledger commits that matches an active subscription is POSTed to it as signed JSON,
 * retried with exponential back-off until the receiver answers 2xx or the attempts run out,
 * and every attempt is logged. Owner of the tables webhooks, webhook_deliveries,
 * webhook_attempts and webhook_cursor (migration 0004_webhook.sql).
 *
 * Flow: ledger commit → post-commit hook wakes the webhook thread → enqueue (one
 * transaction: a delivery row per matching subscription + webhook_cursor advanced) →
 * sender (libcurl multi, one request in flight per subscription) → attempt logged, delivery
 * delivered / retried / failed. See docs/webhooks.md.
 *
 * Delivery state machine (table webhook_deliveries):
 *
 *   status     next step
 *   pending    due at next_at; 2xx → delivered; other → pending again at next_at + back-off,
 *              or failed once tries reaches max_attempts
 *   delivered  final (redeliver → pending, tries 0)
 *   failed     final (redeliver → pending, tries 0)
 *
 * Files: sign.c (pure: patterns, signature, back-off, URL check), store.c (subscriptions and
 * the delivery log), sender.c (the thread), api/webhooks.c (HTTP handlers).
 */
#ifndef SMILE_WEBHOOK_H
#define SMILE_WEBHOOK_H

#include <jansson.h>

#include "base/base.h"

struct store_pool;

struct store;
struct ledger;
struct audit_who;
struct webhook;

#define WEBHOOK_MAX_URL 2048        /* bytes */
#define WEBHOOK_MAX_DESCRIPTION 500 /* bytes */
#define WEBHOOK_MAX_TYPES 64        /* patterns per subscription */
#define WEBHOOK_MAX_HEADERS 10      /* extra request headers per subscription */
#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_LEN 70     /* "whsec_" + 64 hex digits */
#define WEBHOOK_RESPONSE_MAX 1024 /* bytes of a response body kept per attempt */
#define WEBHOOK_PING_TYPE "webhook.ping"
#define WEBHOOK_SIG_MAX 200 /* "t=<s>,v1=<64 hex>[,v1=<64 hex>]" + NUL fits */

/* Pure helpers (sign.c): no I/O, no clock ------------------------------------------------- */

/*
 * True if pattern is a valid event-type filter: "*" (every event), "<family>.*" for a
 * family of event types (call, agent, email, visit, case, survey, sla, custom), or one exact
 * type the ledger knows (ledger_type_known) or custom.<name>.
 */
bool webhook_pattern_valid(const char *pattern);
/* True if type matches pattern ("*", "case.*" or exact). */
bool webhook_pattern_match(const char *pattern, const char *type);
/* True if type matches any of the n patterns. */
bool webhook_patterns_match(const char *const *patterns, size_t n, const char *type);

/*
 * Writes the hex HMAC-SHA256 of "<t>.<body>" keyed with the secret's bytes (the whole
 * string, prefix included) into out (65 bytes with the NUL).
 */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[65]);
/*
 * The X-Smile-Signature value "t=<t>,v1=<hex>" into out (WEBHOOK_SIG_MAX bytes); with
 * previous non-NULL a second ",v1=<hex>" signed with it follows (during a secret rotation).
 */
void webhook_signature_header(const char *secret, const char *previous, int64_t t, const char *body,
                              size_t len, char *out, size_t cap);

/*
 * Delay before the next try after tries failed tries (tries >= 1): base_ms × 2^(tries−1),
 * capped at cap_ms, plus a jitter of up to a tenth of that, chosen by rnd (0 … UINT32_MAX
 * maps to 0 … almost a tenth). So with base 10 s: 10 s, 20 s, 40 s … 1 h, each ≤ 10 % later.
 */
int64_t webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int tries, uint32_t rnd);

/*
 * Checks a subscription URL: absolute http:// or https:// with a host, at most
 * WEBHOOK_MAX_URL bytes, no spaces or control characters, no fragment. SMILE_OK, or
 * SMILE_EINVAL with the problem added to err at JSON Pointer ptr.
 */
int webhook_url_check(const char *url, const char *ptr, struct smile_err *err);

/*
 * The request body of one delivery: {"id": did, "event": event, "webhook_id": webhook_id},
 * compact, keys in that order. Caller frees.
 */
char *webhook_payload(int64_t did, int64_t webhook_id, const json_t *event);

/* Subscriptions (store.c). JSON in, JSON out; every change audited ---------------------- */

/*
 * Creates a subscription from body {url, description?, event_types, headers?, active?}
 * (headers: extra request headers such as the receiver's Authorization); validation
 * problems carry their pointer (SMILE_EINVAL). Generates the secret with libsodium and
 * returns it in *out this once ("secret"); *out (caller owns) is the webhook's JSON.
 */
int webhook_create(struct store *db, const struct audit_who *who, const json_t *body, json_t **out,
                   struct smile_err *err);
/* One subscription (no secret) and its version; SMILE_ENOTFOUND. */
int webhook_get(struct store *db, int64_t id, json_t **out, int64_t *out_version,
                struct smile_err *err);
/* Subscriptions with id > after_id, up to limit; *out_next the last id if more follow. */
int webhook_list(struct store *db, int64_t after_id, int limit, json_t **out, int64_t *out_next,
                 struct smile_err *err);
/*
 * Changes url, description, event_types, headers (replaced whole), active; SMILE_EPRECOND if
 * not at version. Reads show header names with "***" for each value.
 */
int webhook_update(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
                   const json_t *patch, json_t **out, int64_t *out_version, struct smile_err *err);
/* Deletes the subscription and its delivery log; SMILE_EPRECOND if not at version. */
int webhook_delete(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
                   struct smile_err *err);
/*
 * Issues a new secret (in *out once, as "secret"). The old one keeps signing too (a second
 * v1 in the header) for keep_previous_s seconds from now (0 = stop at once).
 */
int webhook_rotate_secret(struct store *db, const struct audit_who *who, int64_t id,
                          int64_t keep_previous_s, json_t **out, struct smile_err *err);

/* The delivery log (store.c) ------------------------------------------------------------ */

struct webhook_delivery_query {
    int64_t webhook_id;
    const char *status; /* NULL = any, else pending|delivered|failed */
    int64_t event_id;   /* 0 = any */
    int64_t before_id;  /* cursor: ids below this (0 = from the newest) */
    int limit;
};
/* Deliveries newest first; *out_next the last id if more follow (the next before_id). */
int webhook_delivery_list(struct store *db, const struct webhook_delivery_query *q, json_t **out,
                          int64_t *out_next, struct smile_err *err);
/* One delivery with its attempt log ("attempt_log"); SMILE_ENOTFOUND if not this webhook's. */
int webhook_delivery_get(struct store *db, int64_t webhook_id, int64_t id, json_t **out,
                         struct smile_err *err);
/* Puts a delivery back to pending, due now, with a fresh budget of tries. */
int webhook_redeliver(struct store *db, const struct audit_who *who, int64_t webhook_id, int64_t id,
                      json_t **out, struct smile_err *err);
/* Queues a webhook.ping delivery to the subscription (active or not); *out its JSON. */
int webhook_ping(struct store *db, const struct audit_who *who, int64_t webhook_id, json_t **out,
                 struct smile_err *err);

/*
 * One enqueue step inside its own transaction on db: reads up to limit events after
 * webhook_cursor, inserts a pending delivery per matching active subscription (due at now)
 * and advances the cursor, all or nothing. *out_events gets the events read (0 = caught
 * up), *out_deliveries the rows inserted.
 */
int webhook_enqueue(struct store *db, int limit, int64_t now, int64_t *out_events,
                    int64_t *out_deliveries, struct smile_err *err);

/*
 * Deletes delivered and failed deliveries (with their attempts) last changed before
 * before_ms, in one transaction; pending ones are kept whatever their age. *out_n gets the
 * deliveries deleted.
 */
int webhook_log_prune(struct store *db, int64_t before_ms, int64_t *out_n, struct smile_err *err);

/* The delivery thread (sender.c) --------------------------------------------------------- */

struct webhook_options {
    int64_t retry_ms;     /* first back-off (default 10000) */
    int64_t retry_max_ms; /* longest back-off (default 3600000) */
    int max_attempts;     /* tries before failed (default 25) */
    int concurrency;      /* requests in flight at most (default 8) */
    int64_t timeout_ms;   /* whole request (default 10000); connect: min(5000, this) */
    int64_t poll_ms;      /* look for events of other processes this often (default 1000) */
    int64_t log_days;     /* prune finished deliveries older than this (default 30; 0 = keep) */
    /* When set, the thread's connection joins this pool's group commit
     * (store_pool_open_member); close the webhook before the pool then. */
    struct store_pool *pool;
};

/*
 * Opens the webhook thread on the database at db_path (its own connection) and registers a
 * post-commit hook on l (may be NULL: then only the poll finds events). opt NULL = defaults.
 * Close with webhook_close() after the ledger is closed (the hook cannot be removed).
 */
int webhook_open(const char *db_path, struct ledger *l, const struct webhook_options *opt,
                 struct webhook **out, struct smile_err *err);
/* Stops the thread; requests in flight are abandoned and stay pending (sent again later). */
void webhook_close(struct webhook *w);
/* Wakes the thread (a delivery was queued by the API). Safe from any thread; NULL is a no-op. */
void webhook_wake(struct webhook *w);
/* The thread `smile serve` started, or NULL. */
struct webhook *webhook_active(void);
/* Prometheus lines (smile_webhook_*) for /metrics. */
void webhook_metrics_render(struct webhook *w, struct buf *b);

#endif
