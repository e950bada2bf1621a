/*
 * mailnotify.h — system e-mail: notifications and supervisors' scorecard digests sent to
 * staff over SMTP. A notification that should also go out by e-mail (notify_email: breach
 * or all) gets a row in the durable outbox (table mail_outbox) inside the transaction that
 * creates it (notify's in-transaction hook); an undelivered digest is queued in one
 * transaction with marking it delivered. A sender thread of `smile serve` sends pending
 * rows through mail_smtp_send, retrying with an exponential back-off, so an SMTP server
 * that is down delays mail but loses none, across restarts and crashes; after
 * max_attempts refusals a row is given up (failed_at), for an admin to see and retry.
 *
 * Flow: escalation → notify_create ─(same transaction)→ mail_outbox → sender → SMTP;
 *       score digests → mail_outbox (+ delivered_at) → sender → SMTP.
 * Texts (text.c) are pure: the user's locale first, the other language below.
 * Owner of the mail_outbox table. See docs/notifications.md, "Email".
 */
#ifndef SMILE_MAILNOTIFY_H
#define SMILE_MAILNOTIFY_H

#include <jansson.h>

#include "base/base.h"

struct store_pool;

struct store;
struct notify_new;
struct audit_who;

/* Which notifications are e-mailed (config notify_email). */
enum mailnotify_kinds { MAILNOTIFY_OFF, MAILNOTIFY_BREACH, MAILNOTIFY_ALL };

/* "off", "breach", "all" → *out; SMILE_EINVAL otherwise. */
int mailnotify_kinds_parse(const char *s, enum mailnotify_kinds *out);

/*
 * Whether a notification of kind (with its data object, may be NULL) is e-mailed under k:
 * ALL every kind; BREACH only overdue work — sla.breached, escalation with data.deadline
 * "breach", and escalation.assigned (escalation reassigns only on a breach); OFF none.
 */
bool mailnotify_wants(enum mailnotify_kinds k, const char *kind, const json_t *data);

/* Texts (text.c: pure) ------------------------------------------------------------------ */

/* True when locale asks for Chinese first: "zh…" or "" (unset: the service desk's language). */
bool mailnotify_locale_zh(const char *locale);

/*
 * The subject and plain-text body of a notification e-mail (appended to subject and
 * body): subject = the title in the first language; body = the first language's body,
 * then a separator line "——", the other title and body, then the automatic-message
 * footer in both languages (first language first).
 */
void mailnotify_text_notification(const char *locale, const char *title_en, const char *title_zh,
                                  const char *body_en, const char *body_zh, struct buf *subject,
                                  struct buf *body);

/*
 * The subject and body of a scorecard digest e-mail from the digest document
 * (score_digests.document: title, period, team, template, summary, scores, movers,
 * worst_items). Missing parts are left out; the same shape as a notification's.
 */
void mailnotify_text_digest(const char *locale, const json_t *doc, struct buf *subject,
                            struct buf *body);

/* The retry delay after `attempts` failed tries (≥ 1): retry_ms · 2^(attempts−1), at most
   max_ms. */
int64_t mailnotify_backoff_ms(int attempts, int64_t retry_ms, int64_t max_ms);

/* The outbox (outbox.c) --------------------------------------------------------------- */

/*
 * Queues one message inside the caller's transaction on s (due at now_ms). kind: the
 * notification kind or "digest"; ref: "notification:<id>" or "digest:<id>"; user_id 0 =
 * none. *out_id (may be NULL) its id.
 */
int mailnotify_outbox_add(struct store *s, const char *to, int64_t user_id, const char *subject,
                          const char *body, const char *kind, const char *ref, int64_t now_ms,
                          int64_t *out_id, struct smile_err *err);

struct mailnotify_options {
    const char *smtp_url; /* required */
    const char *smtp_user, *smtp_password;
    const char *from, *from_name; /* from required */
    enum mailnotify_kinds kinds;
    bool digests;
    int64_t retry_ms, retry_max_ms;
    int max_attempts; /* failed attempts after which a row is given up; 0 = 10 */
    long timeout_ms;  /* per SMTP conversation; 0 = 30 s */
    /* mailnotify_start: when set, the sender's connection joins this pool's group commit
     * (store_pool_open_member); stop the sender before the pool is closed then. */
    struct store_pool *pool;
};

/* The default of mailnotify_max_attempts. */
#define MAILNOTIFY_MAX_ATTEMPTS 10

/*
 * The in-transaction notification hook (notify_tx_hook_fn; ud = the options): when o->kinds
 * wants the notification and its user has an e-mail address (and is not disabled), queues
 * the e-mail in the notification's transaction. Exposed for tests.
 */
int mailnotify_on_notification(struct store *s, int64_t id, const struct notify_new *n, void *ud,
                               struct smile_err *err);

/*
 * Queues every undelivered digest (score_digest_undelivered) for its supervisor, each in
 * one transaction with score_digest_mark_delivered; a supervisor without an address is
 * marked delivered with nothing queued (logged). *out_n (may be NULL) digests queued.
 */
int mailnotify_digests_queue(struct store *s, int64_t now_ms, int *out_n, struct smile_err *err);

/*
 * One sending pass: every pending row due by now_ms (oldest first, at most max; rows sent
 * or given up are not pending) is sent through mail_smtp_send; accepted → sent_at; refused
 * or unreachable → attempts + 1, last_error, next_at = now + back-off — or, when that was
 * attempt o->max_attempts, given up: failed_at = now and fail_reason "gave up after N
 * attempts: <last error>", never tried again (mailnotify_outbox_retry queues it anew).
 * *out_sent / *out_failed (may be NULL) counts (failed attempts, given up or not).
 */
int mailnotify_send_due(struct store *s, const struct mailnotify_options *o, int64_t now_ms,
                        int max, int *out_sent, int *out_failed, struct smile_err *err);

/*
 * The outbox for admins, newest first: state "pending" (neither sent nor given up), "sent",
 * "failed" (given up) or NULL (all); before_id 0 = first page, else the previous page's
 * next_cursor; limit 1–500. *out = {"items": [row…], "next_cursor": "<id>"|null}; a row is
 * {id, to, user_id, kind, ref, subject, state, attempts, created_at, next_at, sent_at,
 * failed_at, fail_reason, last_error} (no body). Caller owns *out.
 */
int mailnotify_outbox_list(struct store *s, const char *state, int64_t before_id, int limit,
                           json_t **out, struct smile_err *err);
/*
 * Queues a given-up row again in its own transaction on s (or the caller's, if one is
 * open): failed_at and fail_reason cleared, attempts back to 0 (a new series of
 * max_attempts), next_at = now; audited (entity mail_outbox, action retry, before/after)
 * as who. SMILE_ENOTFOUND no such row; SMILE_ECONFLICT if it was sent or is still pending
 * (nothing written). *out the row after (caller owns).
 */
int mailnotify_outbox_retry(struct store *s, const struct audit_who *who, int64_t id, json_t **out,
                            struct smile_err *err);

struct mailnotify;
/*
 * Starts system e-mail for `smile serve` (o is copied): sets notify's in-transaction hook
 * (when o->kinds is not OFF), a post-commit hook that wakes the sender, and the sender
 * thread on its own connection to db_path, which also queues digests (when o->digests)
 * and looks at the outbox once a second. Stop with mailnotify_stop (NULL is a no-op),
 * before the notify runner closes.
 */
int mailnotify_start(const char *db_path, const struct mailnotify_options *o,
                     struct mailnotify **out, struct smile_err *err);
void mailnotify_stop(struct mailnotify *m);

/*
 * Appends Prometheus text of this process to b: smile_mail_outbox_queued_total (rows
 * queued by the hook and the digests), smile_mail_outbox_sent_total,
 * smile_mail_outbox_failures_total (failed attempts), smile_mail_outbox_given_up_total (rows
 * given up), and the gauges smile_mail_outbox_pending (rows neither sent nor given up) and
 * smile_mail_outbox_failed (rows given up and not retried), as of the sender's last pass.
 */
void mailnotify_metrics_render(struct buf *b);

#endif
