/*
 * outbox.c — the durable outbox of system e-mail and its sender. Rows are written inside
 * the transaction that makes the reason to write (a notification: notify's in-transaction
 * hook; a digest: together with marking it delivered), so nothing committed is without
 * its e-mail and nothing rolled back has one. The sender thread of `smile serve` (its own
 * connection) sends due rows over SMTP (mail_smtp_send) and records sent_at, or the error
 * and a back-off; it is woken after each notification commit and looks once a second.
 * Between the SMTP server's "250" and the sent_at update a crash re-sends that one
 * message after the restart (at least once; its Message-ID is the same both times).
 *
 * A row's states (columns sent_at, failed_at):
 *   pending   neither set       tried when next_at is reached
 *   sent      sent_at           the server said 250; final
 *   failed    failed_at         given up after max_attempts failed attempts (fail_reason);
 *                               an admin's retry makes it pending again with attempts 0
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm/audit.h"
#include "mail/mail.h"
#include "mailnotify/mailnotify.h"
#include "notify/notify.h"
#include "score/score.h"
#include "store/store.h"

#define SEND_BATCH 50
#define DIGEST_BATCH 20

/* Metrics of this process: queued, sent, failed attempts (counters); pending (gauge). */
static _Atomic uint64_t m_queued, m_sent, m_failed, m_given_up;
static _Atomic int64_t m_pending, m_failed_rows;

int
mailnotify_outbox_add(struct store *s, const char *to, int64_t user_id, const char *subject,
                      const char *body, const char *kind, const char *ref, int64_t now_ms,
                      int64_t *out_id, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO mail_outbox (to_addr, user_id, subject, body, kind, ref, created_at,"
        " next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    static const char last[] = "SELECT last_insert_rowid()";
    struct store_stmt *st;
    int64_t id;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, to, -1);
    if (user_id > 0)
        store_stmt_bind_int64(st, 2, user_id);
    else
        store_stmt_bind_null(st, 2);
    store_stmt_bind_text(st, 3, subject, -1);
    store_stmt_bind_text(st, 4, body, -1);
    store_stmt_bind_text(st, 5, kind, -1);
    store_stmt_bind_text(st, 6, ref, -1);
    store_stmt_bind_int64(st, 7, now_ms);
    store_stmt_bind_int64(st, 8, now_ms);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    if ((rc = store_query_int64(s, last, &id, err)) != SMILE_OK)
        return rc;
    if (out_id)
        *out_id = id;
    atomic_fetch_add(&m_queued, 1); /* counted before the commit: a rollback is rare */
    return SMILE_OK;
}

/* The address and locale of a live user; *found false if none (or disabled, or no email). */
static int
user_address(struct store *s, int64_t user_id, char *email, size_t ecap, char *locale, size_t lcap,
             bool *found, struct smile_err *err)
{
    static const char sql[] = "SELECT email, locale FROM users WHERE id = $1 AND disabled = 0"
                              " AND email IS NOT NULL AND email <> ''";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *found = false;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, user_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        const char *l = store_stmt_text(st, 1);

        snprintf(email, ecap, "%s", store_stmt_text(st, 0));
        snprintf(locale, lcap, "%s", l ? l : "");
        *found = true;
    }
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

int
mailnotify_on_notification(struct store *s, int64_t id, const struct notify_new *n, void *ud,
                           struct smile_err *err)
{
    enum mailnotify_kinds k = (enum mailnotify_kinds)(intptr_t)ud;
    char email[256], locale[32], ref[48];
    struct buf subject, body;
    bool found;
    int rc;

    if (!mailnotify_wants(k, n->kind, n->data))
        return SMILE_OK;
    rc = user_address(s, n->user_id, email, sizeof(email), locale, sizeof(locale), &found, err);
    if (rc != SMILE_OK || !found)
        return rc;
    buf_init(&subject, 0);
    buf_init(&body, 0);
    mailnotify_text_notification(locale, n->title_en, n->title_zh, n->body_en, n->body_zh, &subject,
                                 &body);
    snprintf(ref, sizeof(ref), "notification:%lld", (long long)id);
    rc = mailnotify_outbox_add(s, email, n->user_id, subject.data, body.data, n->kind, ref,
                               time_now_ms(), NULL, err);
    buf_free(&subject);
    buf_free(&body);
    return rc;
}

/* Queues digest id (inside the caller's transaction) and marks it delivered. */
static int
digest_one(struct store *s, int64_t id, int64_t now_ms, bool *queued, struct smile_err *err)
{
    static const char sql[] = "SELECT supervisor_id, document FROM score_digests WHERE id = $1";
    struct store_stmt *st;
    int64_t sup = 0;
    json_t *doc = NULL;
    char email[256], locale[32], ref[48];
    bool found = false;
    int rc = store_prepare(s, sql, &st, err);

    *queued = false;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        sup = store_stmt_int64(st, 0);
        doc = json_loads(store_stmt_text(st, 1), 0, NULL);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    if (sup > 0 && doc)
        rc = user_address(s, sup, email, sizeof(email), locale, sizeof(locale), &found, err);
    else
        rc = SMILE_OK;
    if (rc == SMILE_OK && found) {
        struct buf subject, body;

        buf_init(&subject, 0);
        buf_init(&body, 0);
        mailnotify_text_digest(locale, doc, &subject, &body);
        snprintf(ref, sizeof(ref), "digest:%lld", (long long)id);
        rc = mailnotify_outbox_add(s, email, sup, subject.data, body.data, "digest", ref, now_ms,
                                   NULL, err);
        buf_free(&subject);
        buf_free(&body);
        *queued = rc == SMILE_OK;
    } else if (rc == SMILE_OK) {
        log_warn("msg=\"digest not e-mailed: its supervisor has no address\" digest=%lld "
                 "supervisor=%lld",
                 (long long)id, (long long)sup);
    }
    json_decref(doc);
    if (rc == SMILE_OK)
        rc = score_digest_mark_delivered(s, id, now_ms, err);
    return rc;
}

int
mailnotify_digests_queue(struct store *s, int64_t now_ms, int *out_n, struct smile_err *err)
{
    int64_t *ids = NULL;
    int n = 0, queued = 0, rc;

    if (out_n)
        *out_n = 0;
    if ((rc = score_digest_undelivered(s, DIGEST_BATCH, &ids, &n, err)) != SMILE_OK)
        return rc;
    for (int i = 0; i < n && rc == SMILE_OK; i++) {
        bool q;

        if ((rc = store_begin(s, err)) != SMILE_OK)
            break;
        rc = digest_one(s, ids[i], now_ms, &q, err);
        if (rc == SMILE_OK)
            rc = store_commit(s, err);
        else
            store_rollback(s);
        queued += rc == SMILE_OK && q;
    }
    free(ids);
    if (out_n)
        *out_n = queued;
    return rc;
}

/* "smile.outbox.<id>@<domain of from>" */
static void
message_id(int64_t id, const char *from, char *out, size_t cap)
{
    const char *at = strrchr(from, '@');

    snprintf(out, cap, "smile.outbox.%lld@%s", (long long)id, at && at[1] ? at + 1 : "localhost");
}

/* The attempt limit of o (0 = the default). */
static int
max_attempts(const struct mailnotify_options *o)
{
    return o->max_attempts > 0 ? o->max_attempts : MAILNOTIFY_MAX_ATTEMPTS;
}

/* Records one attempt; *gave_up when it was the last one allowed. */
static int
record(struct store *s, int64_t id, bool ok, int attempts, int64_t now_ms,
       const struct mailnotify_options *o, const char *error, bool *gave_up, struct smile_err *err)
{
    static const char sql_ok[] = "UPDATE mail_outbox SET sent_at = $1, attempts = attempts + 1,"
                                 " last_error = NULL WHERE id = $2 AND sent_at IS NULL";
    static const char sql_fail[] = "UPDATE mail_outbox SET attempts = attempts + 1, next_at = $1,"
                                   " last_error = $2 WHERE id = $3 AND sent_at IS NULL";
    static const char sql_give_up[] =
        "UPDATE mail_outbox SET attempts = attempts + 1, failed_at = $1, last_error = $2,"
        " fail_reason = $3 WHERE id = $4 AND sent_at IS NULL";
    struct store_stmt *st;
    int rc;

    *gave_up = !ok && attempts + 1 >= max_attempts(o);
    rc = store_prepare(s, ok ? sql_ok : *gave_up ? sql_give_up : sql_fail, &st, err);
    if (rc != SMILE_OK)
        return rc;
    if (ok) {
        store_stmt_bind_int64(st, 1, now_ms);
        store_stmt_bind_int64(st, 2, id);
    } else if (*gave_up) {
        struct buf reason;

        buf_init(&reason, 0);
        buf_printf(&reason, "gave up after %d attempts: %s", attempts + 1, error ? error : "");
        store_stmt_bind_int64(st, 1, now_ms);
        store_stmt_bind_text(st, 2, error, -1);
        store_stmt_bind_text(st, 3, reason.data, -1);
        store_stmt_bind_int64(st, 4, id);
        buf_free(&reason);
    } else {
        store_stmt_bind_int64(
            st, 1, now_ms + mailnotify_backoff_ms(attempts + 1, o->retry_ms, o->retry_max_ms));
        store_stmt_bind_text(st, 2, error, -1);
        store_stmt_bind_int64(st, 3, id);
    }
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

int
mailnotify_send_due(struct store *s, const struct mailnotify_options *o, int64_t now_ms, int max,
                    int *out_sent, int *out_failed, struct smile_err *err)
{
    static const char sql[] = "SELECT id, to_addr, subject, body, attempts, created_at"
                              " FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                              " AND next_at <= $1 ORDER BY id LIMIT $2";
    struct store_stmt *st;
    json_t *rows = json_array(), *row;
    struct mail_smtp smtp = {.url = o->smtp_url,
                             .username = o->smtp_user,
                             .password = o->smtp_password,
                             .timeout_ms = o->timeout_ms};
    int rc = store_prepare(s, sql, &st, err), sent = 0, failed = 0, given_up = 0;
    size_t i;

    if (out_sent)
        *out_sent = 0;
    if (out_failed)
        *out_failed = 0;
    if (rc != SMILE_OK) {
        json_decref(rows);
        return rc;
    }
    store_stmt_bind_int64(st, 1, now_ms);
    store_stmt_bind_int64(st, 2, max);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(
            rows,
            json_pack("{s:I, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)store_stmt_int64(st, 0),
                      "to", store_stmt_text(st, 1), "subject", store_stmt_text(st, 2), "body",
                      store_stmt_text(st, 3), "attempts", (json_int_t)store_stmt_int64(st, 4),
                      "created_at", (json_int_t)store_stmt_int64(st, 5)));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(rows);
        return rc;
    }
    rc = SMILE_OK;
    json_array_foreach(rows, i, row)
    {
        int64_t id = json_integer_value(json_object_get(row, "id"));
        const char *to = json_string_value(json_object_get(row, "to"));
        int attempts = (int)json_integer_value(json_object_get(row, "attempts"));
        char msgid[300];
        struct buf msg;
        struct smile_err serr;
        struct mail_compose m = {
            .from_address = o->from,
            .from_name = o->from_name,
            .to = &to,
            .nto = 1,
            .subject = json_string_value(json_object_get(row, "subject")),
            .body = json_string_value(json_object_get(row, "body")),
            .message_id = msgid,
            .date_ms = json_integer_value(json_object_get(row, "created_at")),
            .auto_submitted = "auto-generated",
        };
        bool ok, gave_up = false;

        message_id(id, o->from, msgid, sizeof(msgid));
        buf_init(&msg, 0);
        mail_compose_build(&m, &msg);
        smile_err_clear(&serr);
        ok = mail_smtp_send(&smtp, o->from, &to, 1, msg.data, msg.len, &serr) == SMILE_OK;
        buf_free(&msg);
        if (ok) {
            sent++;
        } else {
            failed++;
            log_warn("msg=\"system e-mail not sent\" outbox=%lld to=%s attempts=%d error=\"%s\"",
                     (long long)id, to, attempts + 1, serr.msg);
        }
        /* Its own short transaction: on a group member (serve) a bare UPDATE would run on
         * the member's connection and wait for SQLite's file lock beside the group. */
        if ((rc = store_begin(s, err)) != SMILE_OK)
            break;
        rc = record(s, id, ok, attempts, time_now_ms(), o, ok ? NULL : serr.msg, &gave_up, err);
        if (rc == SMILE_OK)
            rc = store_commit(s, err);
        else
            store_rollback(s);
        if (rc != SMILE_OK)
            break;
        if (gave_up) {
            given_up++;
            log_error("msg=\"system e-mail given up\" outbox=%lld to=%s attempts=%d "
                      "error=\"%s\"",
                      (long long)id, to, attempts + 1, serr.msg);
        }
    }
    json_decref(rows);
    atomic_fetch_add(&m_sent, (uint64_t)sent);
    atomic_fetch_add(&m_failed, (uint64_t)failed);
    atomic_fetch_add(&m_given_up, (uint64_t)given_up);
    if (out_sent)
        *out_sent = sent;
    if (out_failed)
        *out_failed = failed;
    return rc;
}

/* Admin: list and retry ------------------------------------------------------------------- */

#define ROW_COLS                                                                                   \
    "SELECT id, to_addr, user_id, kind, ref, subject, attempts, created_at, next_at, sent_at,"     \
    " failed_at, fail_reason, last_error FROM mail_outbox"

static json_t *
row_json(struct store_stmt *st)
{
    const char *state = !store_stmt_is_null(st, 9)    ? "sent"
                        : !store_stmt_is_null(st, 10) ? "failed"
                                                      : "pending";
    json_t *j = json_object();

    json_object_set_new(j, "id", json_integer(store_stmt_int64(st, 0)));
    json_object_set_new(j, "to", store_stmt_json_text(st, 1));
    json_object_set_new(j, "user_id",
                        store_stmt_is_null(st, 2) ? json_null()
                                                  : json_integer(store_stmt_int64(st, 2)));
    json_object_set_new(j, "kind", store_stmt_json_text(st, 3));
    json_object_set_new(j, "ref", store_stmt_json_text(st, 4));
    json_object_set_new(j, "subject", store_stmt_json_text(st, 5));
    json_object_set_new(j, "state", json_string(state));
    json_object_set_new(j, "attempts", json_integer(store_stmt_int64(st, 6)));
    json_object_set_new(j, "created_at", store_stmt_json_time(st, 7));
    json_object_set_new(j, "next_at",
                        strcmp(state, "pending") == 0 ? store_stmt_json_time(st, 8) : json_null());
    json_object_set_new(j, "sent_at", store_stmt_json_time(st, 9));
    json_object_set_new(j, "failed_at", store_stmt_json_time(st, 10));
    json_object_set_new(j, "fail_reason", store_stmt_json_text(st, 11));
    json_object_set_new(j, "last_error", store_stmt_json_text(st, 12));
    return j;
}

int
mailnotify_outbox_list(struct store *s, const char *state, int64_t before_id, int limit,
                       json_t **out, struct smile_err *err)
{
    /* One statement per state (the store caches statements by address); $1 the cursor. */
    static const char sql_all[] = ROW_COLS " WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2";
    static const char sql_pending[] = ROW_COLS " WHERE ($1 = 0 OR id < $1) AND sent_at IS NULL"
                                               " AND failed_at IS NULL ORDER BY id DESC LIMIT $2";
    static const char sql_sent[] = ROW_COLS " WHERE ($1 = 0 OR id < $1) AND sent_at IS NOT NULL"
                                            " ORDER BY id DESC LIMIT $2";
    static const char sql_failed[] = ROW_COLS " WHERE ($1 = 0 OR id < $1) AND failed_at IS NOT"
                                              " NULL ORDER BY id DESC LIMIT $2";
    const char *sql = state == NULL                   ? sql_all
                      : strcmp(state, "pending") == 0 ? sql_pending
                      : strcmp(state, "sent") == 0    ? sql_sent
                      : strcmp(state, "failed") == 0  ? sql_failed
                                                      : NULL;
    struct store_stmt *st;
    json_t *items;
    int64_t last = 0;
    int rc, n = 0;

    *out = NULL;
    if (sql == NULL)
        return smile_err_field(err, "/query/state", "state must be pending, sent or failed");
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, before_id);
    store_stmt_bind_int64(st, 2, limit + 1);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n++ == limit)
            break; /* one more than the page: there is a next one */
        last = store_stmt_int64(st, 0);
        json_array_append_new(items, row_json(st));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    if (n > limit) {
        char c[24];

        snprintf(c, sizeof(c), "%lld", (long long)last);
        *out = json_pack("{s:o, s:s}", "items", items, "next_cursor", c);
    } else {
        *out = json_pack("{s:o, s:n}", "items", items, "next_cursor");
    }
    return SMILE_OK;
}

static int
row_load(struct store *s, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = ROW_COLS " WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *out = row_json(st);
    store_stmt_reset(st);
    if (rc == STORE_DONE)
        return smile_err_set(err, SMILE_ENOTFOUND, "no system e-mail %lld", (long long)id);
    return rc == STORE_ROW ? SMILE_OK : rc;
}

int
mailnotify_outbox_retry(struct store *s, const struct audit_who *who, int64_t id, json_t **out,
                        struct smile_err *err)
{
    static const char sql[] = "UPDATE mail_outbox SET failed_at = NULL, fail_reason = NULL,"
                              " attempts = 0, next_at = $1 WHERE id = $2 AND failed_at IS NOT NULL"
                              " AND sent_at IS NULL";
    struct store_stmt *st;
    json_t *before = NULL, *after = NULL;
    const char *state;
    int rc;

    *out = NULL;
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    if ((rc = row_load(s, id, &before, err)) != SMILE_OK)
        goto out;
    state = json_string_value(json_object_get(before, "state"));
    if (strcmp(state, "failed") != 0) {
        rc =
            smile_err_set(err, SMILE_ECONFLICT,
                          strcmp(state, "sent") == 0
                              ? "this e-mail was sent; there is nothing to retry"
                              : "this e-mail is still being tried; only a given-up one is retried");
        goto out;
    }
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, time_now_ms());
    store_stmt_bind_int64(st, 2, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    if ((rc = row_load(s, id, &after, err)) != SMILE_OK)
        goto out;
    rc = audit_record_who(s, who, "mail_outbox", id, "retry", before, after, err);
out:
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    json_decref(before);
    if (rc == SMILE_OK)
        *out = after;
    else
        json_decref(after);
    return rc;
}

/* The sender thread ----------------------------------------------------------------------- */

struct mailnotify {
    struct mailnotify_options o;
    char *smtp_url, *smtp_user, *smtp_password, *from, *from_name;
    struct store *db;
    pthread_t thread;
    bool stop;
};

/* The wake-up is static: a notification hook that runs after stop wakes nobody, safely. */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv;
static bool wake_flag;

static void
init_cv(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake_cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void
on_published(int64_t user_id, int64_t id, const json_t *n, void *ud)
{
    (void)user_id;
    (void)id;
    (void)n;
    (void)ud;
    pthread_mutex_lock(&wake_mu);
    wake_flag = true;
    pthread_cond_signal(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

static void *
run(void *arg)
{
    struct mailnotify *m = arg;

    for (;;) {
        struct smile_err err;
        struct timespec ts;
        int sent = 0, failed = 0, queued = 0;

        smile_err_clear(&err);
        if (m->o.digests &&
            mailnotify_digests_queue(m->db, time_now_ms(), &queued, &err) != SMILE_OK)
            log_error("msg=\"digest e-mails not queued\" error=\"%s\"", err.msg);
        smile_err_clear(&err);
        if (mailnotify_send_due(m->db, &m->o, time_now_ms(), SEND_BATCH, &sent, &failed, &err) !=
            SMILE_OK)
            log_error("msg=\"system e-mail outbox\" error=\"%s\"", err.msg);
        {
            static const char pending[] = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL"
                                          " AND failed_at IS NULL";
            static const char failed_rows[] =
                "SELECT count(*) FROM mail_outbox WHERE failed_at IS NOT NULL";
            int64_t n;

            smile_err_clear(&err);
            if (store_query_int64(m->db, pending, &n, &err) == SMILE_OK)
                atomic_store(&m_pending, n);
            if (store_query_int64(m->db, failed_rows, &n, &err) == SMILE_OK)
                atomic_store(&m_failed_rows, n);
        }
        if (sent || failed || queued)
            log_info("msg=\"system e-mail\" sent=%d failed=%d digests_queued=%d", sent, failed,
                     queued);
        pthread_mutex_lock(&wake_mu);
        if (!m->stop && !wake_flag && sent < SEND_BATCH) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&wake_cv, &wake_mu, &ts);
        }
        wake_flag = false;
        if (m->stop) {
            pthread_mutex_unlock(&wake_mu);
            break;
        }
        pthread_mutex_unlock(&wake_mu);
    }
    return NULL;
}

static char *
dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

int
mailnotify_start(const char *db_path, const struct mailnotify_options *o, struct mailnotify **out,
                 struct smile_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct mailnotify *m;
    int rc;

    *out = NULL;
    if (o->smtp_url == NULL || o->smtp_url[0] == '\0')
        return smile_err_set(err, SMILE_EINVAL, "smtp_url is not set");
    if (o->from == NULL || strchr(o->from, '@') == NULL)
        return smile_err_set(err, SMILE_EINVAL, "mail_from must be an e-mail address");
    if (strncmp(o->smtp_url, "smtp://", 7) != 0 && strncmp(o->smtp_url, "smtps://", 8) != 0)
        return smile_err_set(err, SMILE_EINVAL, "smtp_url must start with smtp:// or smtps://");
    pthread_once(&once, init_cv);
    m = xcalloc(1, sizeof(*m));
    m->o = *o;
    m->o.smtp_url = m->smtp_url = dup_or_empty(o->smtp_url);
    m->o.smtp_user = m->smtp_user = dup_or_empty(o->smtp_user);
    m->o.smtp_password = m->smtp_password = dup_or_empty(o->smtp_password);
    m->o.from = m->from = dup_or_empty(o->from);
    m->o.from_name = m->from_name = dup_or_empty(o->from_name);
    rc = o->pool ? store_pool_open_member(o->pool, &m->db, err)
                 : store_open(db_path, 0, &m->db, err);
    if (rc != SMILE_OK)
        goto fail;
    if (o->kinds != MAILNOTIFY_OFF) {
        notify_tx_hook_set(mailnotify_on_notification, (void *)(intptr_t)o->kinds);
        notify_hook_add(on_published, NULL);
    }
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        notify_tx_hook_set(NULL, NULL);
        rc = smile_err_set(err, SMILE_EIO, "cannot start the system e-mail thread");
        goto fail;
    }
    *out = m;
    return SMILE_OK;
fail:
    store_close(m->db);
    free(m->smtp_url);
    free(m->smtp_user);
    free(m->smtp_password);
    free(m->from);
    free(m->from_name);
    free(m);
    return rc;
}

void
mailnotify_stop(struct mailnotify *m)
{
    if (m == NULL)
        return;
    notify_tx_hook_set(NULL, NULL);
    pthread_mutex_lock(&wake_mu);
    m->stop = true;
    pthread_cond_signal(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
    pthread_join(m->thread, NULL);
    store_close(m->db);
    free(m->smtp_url);
    free(m->smtp_user);
    free(m->smtp_password);
    free(m->from);
    free(m->from_name);
    free(m);
}

void
mailnotify_metrics_render(struct buf *b)
{
    buf_printf(b,
               "# HELP smile_mail_outbox_queued_total System e-mails queued (notifications, "
               "digests).\n"
               "# TYPE smile_mail_outbox_queued_total counter\n"
               "smile_mail_outbox_queued_total %llu\n"
               "# HELP smile_mail_outbox_sent_total System e-mails the SMTP server accepted.\n"
               "# TYPE smile_mail_outbox_sent_total counter\n"
               "smile_mail_outbox_sent_total %llu\n"
               "# HELP smile_mail_outbox_failures_total Failed system e-mail attempts.\n"
               "# TYPE smile_mail_outbox_failures_total counter\n"
               "smile_mail_outbox_failures_total %llu\n"
               "# HELP smile_mail_outbox_given_up_total System e-mails given up after "
               "mailnotify_max_attempts failed attempts.\n"
               "# TYPE smile_mail_outbox_given_up_total counter\n"
               "smile_mail_outbox_given_up_total %llu\n"
               "# HELP smile_mail_outbox_pending System e-mails neither sent nor given up.\n"
               "# TYPE smile_mail_outbox_pending gauge\n"
               "smile_mail_outbox_pending %lld\n"
               "# HELP smile_mail_outbox_failed System e-mails given up and not retried.\n"
               "# TYPE smile_mail_outbox_failed gauge\n"
               "smile_mail_outbox_failed %lld\n",
               (unsigned long long)atomic_load(&m_queued), (unsigned long long)atomic_load(&m_sent),
               (unsigned long long)atomic_load(&m_failed),
               (unsigned long long)atomic_load(&m_given_up), (long long)atomic_load(&m_pending),
               (long long)atomic_load(&m_failed_rows));
}
