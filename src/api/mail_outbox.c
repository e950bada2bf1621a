/*
 * mail_outbox.c — the system e-mail outbox for admins (docs/notifications.md §5):
 * GET /api/v1/mail-outbox?state=pending|sent|failed lists rows newest first, cursor-paged;
 * POST /api/v1/mail-outbox/{id}/retry queues a given-up row again (audited). Thin: parse,
 * call mailnotify (the owner of mail_outbox), render. Built with the mailnotify part.
 */
#include <string.h>

#include "api/api.h"
#include "crm/audit.h"
#include "mailnotify/mailnotify.h"

void
api_mail_outbox_list(struct http_request *req)
{
    const char *state = http_request_query(req, "state");
    struct smile_err err;
    json_t *out = NULL;
    int64_t cursor = 0;
    int limit;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &cursor))
        return;
    if (state && strcmp(state, "pending") != 0 && strcmp(state, "sent") != 0 &&
        strcmp(state, "failed") != 0) {
        smile_err_field(&err, "/query/state", "state must be pending, sent or failed");
        http_reply_problem(req, &err);
        return;
    }
    if (mailnotify_outbox_list(req->db, state, cursor, limit, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_mail_outbox_retry(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *out = NULL;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    api_audit_who(req, &who);
    if (mailnotify_outbox_retry(req->db, &who, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}
