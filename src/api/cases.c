/*
 * cases.c — /api/v1/cases: CRUD through the generic CRM handlers (a status change by
 * PATCH obeys the state machine of crm/case.c) and the actions assign, pending, resolve,
 * reopen and close, which take If-Match optionally.
 */
#include "api/api_crm.h"

void
api_cases_list(struct http_request *req)
{
    api_record_list(req, &crm_cases);
}

void
api_cases_create(struct http_request *req)
{
    api_record_create(req, &crm_cases);
}

void
api_cases_get(struct http_request *req)
{
    api_record_get(req, &crm_cases);
}

void
api_cases_update(struct http_request *req)
{
    api_record_update(req, &crm_cases);
}

void
api_cases_delete(struct http_request *req)
{
    api_record_delete(req, &crm_cases);
}

static void
action(struct http_request *req, const char *name)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *body = NULL, *out = NULL;
    int64_t id;

    if (!api_param_id(req, 0, &id) || !api_body_optional(req, &body))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (crm_case_action(&c, id, name, http_request_header(req, "If-Match"), body, &out, &err) !=
        SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_reply_record(req, 200, out);
}

void
api_cases_assign(struct http_request *req)
{
    action(req, "assign");
}

void
api_cases_pending(struct http_request *req)
{
    action(req, "pending");
}

void
api_cases_resolve(struct http_request *req)
{
    action(req, "resolve");
}

void
api_cases_reopen(struct http_request *req)
{
    action(req, "reopen");
}

void
api_cases_close(struct http_request *req)
{
    action(req, "close");
}
