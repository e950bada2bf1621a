/*
 * mailboxes.c — the mail part's endpoints: /api/v1/mailboxes (admins connect IMAP/SMTP
 * mailboxes; passwords are write-only), POST /api/v1/mailboxes/{id}/poll (poll now),
 * POST /api/v1/cases/{id}/reply (answer a case by e-mail: sent over SMTP first, recorded
 * only once the server accepted it; a refusal is 502 and writes nothing) and
 * GET /api/v1/cases/{id}/emails (the case's messages in and out). Thin: parse →
 * src/mail → render.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/resource.h"
#include "api/api_crm.h"
#include "crm/audit.h"
#include "crm/crm.h"
#include "ledger/ledger.h"
#include "mail/mail.h"
#include "store/store.h"

/* A problem whose cause is another server (SMTP/IMAP refused or unreachable): 502. */
static void
reply_upstream(struct http_request *req, const struct smile_err *err)
{
    json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", "urn:smile:problem:upstream",
                          "title", "The mail server refused or could not be reached", "status", 502,
                          "detail", err->msg, "instance", req->path, "request_id", req->request_id);

    http_reply_json(req, 502, p);
    req->content_type = "application/problem+json";
}

/* Replies a failed mail operation (502 when the mail server is the cause); true if rc failed. */
static bool
mail_failed(struct http_request *req, int rc, const struct smile_err *err)
{
    if (rc == SMILE_EIO)
        reply_upstream(req, err);
    else if (rc != SMILE_OK)
        http_reply_problem(req, err);
    return rc != SMILE_OK;
}

/* Mailboxes are few: the list is the whole set ({"items": [...]}). */
static int
mailbox_list(struct store *db, int64_t after, int limit, json_t **out, int64_t *next,
             struct smile_err *err)
{
    (void)after, (void)limit, (void)next;
    return mail_mailbox_list(db, out, err);
}

static int
mailbox_get(struct store *db, int64_t id, json_t **out, int64_t *version, struct smile_err *err)
{
    (void)version; /* the record's "version" */
    return mail_mailbox_get(db, id, out, err);
}

static int
mailbox_create(const struct api_call *a, json_t *body, json_t **out, int64_t *version,
               struct smile_err *err)
{
    struct crm_ctx c;

    (void)version;
    api_crm_ctx(a->req, &c);
    return mail_mailbox_create(&c, body, out, err);
}

static int
mailbox_update(const struct api_call *a, int64_t id, int64_t expect, json_t *body, json_t **out,
               int64_t *version, struct smile_err *err)
{
    struct crm_ctx c;

    (void)version;
    api_crm_ctx(a->req, &c);
    return mail_mailbox_update(&c, id, expect, body, out, err);
}

static int
mailbox_delete(const struct api_call *a, int64_t id, int64_t expect, struct smile_err *err)
{
    struct crm_ctx c;

    api_crm_ctx(a->req, &c);
    return mail_mailbox_delete(&c, id, expect, err);
}

/* Passwords are write-only: the records say has_password, never the secret. */
static const struct api_resource mailboxes = {
    .base = "/api/v1/mailboxes",
    .flags = API_RESOURCE_UNPAGED,
    .list = mailbox_list,
    .get = mailbox_get,
    .create = mailbox_create,
    .update = mailbox_update,
    .remove = mailbox_delete,
};

void
api_mailboxes_list(struct http_request *req)
{
    api_resource_list(req, &mailboxes);
}

void
api_mailboxes_get(struct http_request *req)
{
    api_resource_get(req, &mailboxes);
}

void
api_mailboxes_create(struct http_request *req)
{
    api_resource_create(req, &mailboxes);
}

void
api_mailboxes_patch(struct http_request *req)
{
    api_resource_patch(req, &mailboxes);
}

void
api_mailboxes_delete(struct http_request *req)
{
    api_resource_delete(req, &mailboxes);
}

void
api_mailboxes_poll(struct http_request *req)
{
    struct smile_err err;
    struct mail_poll_result r;
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_resource_load(req, &mailboxes, &id, NULL, NULL))
        return;
    rc = mail_poll_mailbox(req->db, api_app()->ledger, id, &r, &err);
    if (mail_failed(req, rc, &err))
        return;
    http_reply_json(req, 200,
                    json_pack("{s:i, s:i, s:i, s:i, s:i, s:I, s:I}", "imported", r.imported,
                              "automatic", r.automatic, "duplicates", r.duplicates, "skipped",
                              r.skipped, "failed", r.failed, "uidvalidity",
                              (json_int_t)r.uidvalidity, "last_uid", (json_int_t)r.last_uid));
}

/*
 * POST /api/v1/mailboxes/{id}/test {"to": address}: sends a short bilingual test message
 * through the mailbox's SMTP server (From its name and address, Auto-Submitted), so that an
 * admin knows replies will go out before a customer is waiting for one. 200 {"sent": true,
 * "to", "message_id", "smtp_url"} once the server accepted it (250 after DATA); 502 with the
 * server's words when it refused or could not be reached; 409 when the mailbox has no SMTP
 * server; 422 for a bad "to". Nothing is stored but an audit row (action "test_send").
 */
void
api_mailboxes_test(struct http_request *req)
{
    struct smile_err err, e2;
    struct audit_who who;
    json_t *body = NULL, *mb = NULL, *v, *after;
    const char *k, *name, *from, *smtp;
    char to[CRM_EMAIL_MAX + 1], msgid[160], at[TIME_RFC3339_LEN + 1], subject[200];
    const char *rcpt[1] = {to};
    struct buf text;
    int64_t id;
    int rc;

    smile_err_clear(&err);
    smile_err_clear(&e2);
    if (!api_resource_load(req, &mailboxes, &id, NULL, NULL) || !api_body(req, &body))
        return;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "to") != 0) {
            char ptr[80];

            snprintf(ptr, sizeof(ptr), "/%.70s", k);
            smile_err_field(&err, ptr, "is not a field of a test message (only \"to\")");
        }
    }
    v = json_object_get(body, "to");
    if (v == NULL)
        smile_err_field(&err, "/to", "is required: the address to send the test message to");
    else if (!json_is_string(v) || crm_email_normalise(json_string_value(v), to, &e2) != SMILE_OK)
        smile_err_field(&err, "/to", "%s", json_is_string(v) ? e2.msg : "must be a string");
    json_decref(body);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if ((rc = mail_mailbox_get(req->db, id, &mb, &err)) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    name = json_string_value(json_object_get(mb, "name"));
    from = json_string_value(json_object_get(mb, "from_address"));
    smtp = json_string_value(json_object_get(mb, "smtp_url"));
    if (smtp == NULL) {
        json_decref(mb);
        smile_err_set(&err, SMILE_ECONFLICT,
                      "mailbox %" PRId64 " has no SMTP server (smtp_url): it cannot send", id);
        http_reply_problem(req, &err);
        return;
    }
    time_format_rfc3339(time_now_ms(), at);
    snprintf(subject, sizeof(subject), "Smile test message / Smile 测试邮件 (%.60s)",
             name ? name : "");
    buf_init(&text, 0);
    buf_printf(&text,
               "This is a test message from Smile, sent from the mailbox \"%s\" (%s) through "
               "%s at %s.\nIf it reached you, replies to customers from this mailbox will go "
               "out.\n\n这是 Smile 从邮箱“%s”（%s）经 %s 于 %s 发送的测试邮件。\n收到此邮件，说明"
               "从该邮箱回复客户的邮件可以发出。\n",
               name ? name : "", from ? from : "", smtp, at, name ? name : "", from ? from : "",
               smtp, at);
    rc = mail_send_text(req->db, id, rcpt, 1, subject, text.data, msgid, sizeof(msgid), &err);
    buf_free(&text);
    if (rc != SMILE_OK) {
        log_warn("msg=\"mailbox test message refused\" mailbox=%" PRId64 " error=\"%s\"", id,
                 err.msg);
        json_decref(mb);
        mail_failed(req, rc, &err);
        return;
    }
    log_info("msg=\"mailbox test message sent\" mailbox=%" PRId64 " message_id=\"%s\"", id, msgid);
    after = json_pack("{s:s, s:s, s:s}", "to", to, "message_id", msgid, "smtp_url", smtp);
    api_audit_who(req, &who);
    smile_err_clear(&err);
    /* The message is gone already: an audit row that cannot be written is logged, not an
     * error to the admin (the send must not be reported as failed). */
    if (store_begin(req->db, &err) != SMILE_OK ||
        audit_record_who(req->db, &who, "mailbox", id, "test_send", NULL, after, &err) !=
            SMILE_OK ||
        store_commit(req->db, &err) != SMILE_OK) {
        if (store_in_tx(req->db))
            store_rollback(req->db);
        log_error("msg=\"audit of a mailbox test message failed\" error=\"%s\"", err.msg);
    }
    json_object_set_new(after, "sent", json_true());
    json_decref(mb);
    http_reply_json(req, 200, after);
}

void
api_cases_reply(struct http_request *req)
{
    struct smile_err err;
    struct crm_ctx c;
    json_t *body = NULL, *out = NULL;
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_body(req, &body))
        return;
    api_crm_ctx(req, &c);
    rc = mail_reply(&c, api_app()->ledger, id, body, &out, &err);
    json_decref(body);
    if (mail_failed(req, rc, &err))
        return;
    http_reply_json(req, 201, out);
}

/*
 * uimail: what the web UI's e-mail thread shows beside the list's columns, added to each
 * item o (loaded through the owners: the interaction for the text, the ledger event for
 * the addresses and attachments): body, to, cc, from_name, attachments, attachment_count,
 * auto. A record that is gone (deleted interaction) leaves its fields null, never an error.
 */
static void
email_item_enrich(struct http_request *req, struct crm_ctx *c, json_t *o)
{
    static const char *const keys[] = {"to",  "cc", "from_name", "attachments", "attachment_count",
                                       "auto"};
    struct smile_err err;
    json_t *rec = NULL, *ev = NULL, *data;
    json_int_t iid = json_integer_value(json_object_get(o, "interaction_id"));
    json_int_t eid = json_integer_value(json_object_get(o, "event_id"));

    smile_err_clear(&err);
    json_object_set_new(o, "body", json_null());
    if (iid > 0 && crm_record_load(c, &crm_interactions, iid, &rec, &err) == SMILE_OK) {
        json_t *b = json_object_get(rec, "body");
        if (json_is_string(b))
            json_object_set(o, "body", b);
    }
    json_decref(rec);
    data = NULL;
    if (eid > 0 && ledger_get(req->db, eid, &ev, &err) == SMILE_OK)
        data = json_object_get(ev, "data");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_is_object(data) ? json_object_get(data, keys[i]) : NULL;
        if (!json_object_get(o, keys[i]))
            json_object_set_new(o, keys[i], v ? json_incref(v) : json_null());
    }
    json_decref(ev);
}

void
api_cases_emails(struct http_request *req)
{
    static const char sql[] =
        "SELECT m.id, m.direction, m.message_id, m.from_addr, m.reply_to, m.subject, m.at, "
        "m.interaction_id, m.event_id, m.mailbox_id, t.root, m.cc FROM mail_messages m JOIN "
        "mail_threads t ON t.id = m.thread_id WHERE m.case_id = $1 ORDER BY m.at, m.id";
    struct smile_err err;
    struct crm_ctx c;
    struct store_stmt *st;
    json_t *cs = NULL, *items;
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    api_crm_ctx(req, &c);
    if (crm_record_load(&c, &crm_cases, id, &cs, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    json_decref(cs);
    if (store_prepare(req->db, sql, &st, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    items = json_array();
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        char t[TIME_RFC3339_LEN + 1], subj[256];
        json_t *o;

        time_format_rfc3339(store_stmt_int64(st, 6), t);
        mail_thread_subject(store_stmt_text(st, 10), subj, sizeof(subj));
        o = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s}", "id",
                      (json_int_t)store_stmt_int64(st, 0), "direction", store_stmt_text(st, 1),
                      "message_id", store_stmt_text(st, 2), "from", store_stmt_text(st, 3),
                      "reply_to", store_stmt_text(st, 4), "subject", store_stmt_text(st, 5), "at",
                      t, "thread", subj);
        json_object_set_new(o, "interaction_id",
                            store_stmt_is_null(st, 7) ? json_null()
                                                      : json_integer(store_stmt_int64(st, 7)));
        json_object_set_new(o, "event_id",
                            store_stmt_is_null(st, 8) ? json_null()
                                                      : json_integer(store_stmt_int64(st, 8)));
        json_object_set_new(o, "mailbox_id", json_integer(store_stmt_int64(st, 9)));
        /* uimail: a received message's other addressees (without the sender and us), kept
           for reply-all; a sent message's copies come from its event (email_item_enrich). */
        if (!store_stmt_is_null(st, 11) && strcmp(store_stmt_text(st, 1), "in") == 0) {
            json_t *cc = json_loads(store_stmt_text(st, 11), 0, NULL);
            if (json_is_array(cc))
                json_object_set_new(o, "cc", cc);
            else
                json_decref(cc);
        }
        json_array_append_new(items, o);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(items);
        http_reply_problem(req, &err);
        return;
    }
    for (size_t i = 0; i < json_array_size(items); i++)
        email_item_enrich(req, &c, json_array_get(items, i));
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}
