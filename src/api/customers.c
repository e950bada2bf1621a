/*
 * customers.c — /api/v1/customers: CRUD through the generic handlers, the audited reveal
 * of the ID number (?reveal=id_number, supervisors and admins), the PIPL anonymisation
 * (admins) and the customer timeline.
 */
#include "api/api_crm.h"

#include <string.h>

void
api_customers_list(struct http_request *req)
{
    api_record_list(req, &crm_customers);
}

void
api_customers_create(struct http_request *req)
{
    api_record_create(req, &crm_customers);
}

void
api_customers_get(struct http_request *req)
{
    const char *reveal = http_request_query(req, "reveal");
    const char *reason = http_request_query(req, "reason");
    struct crm_ctx c;
    struct smile_err err;
    json_t *out = NULL;
    int64_t id;

    if (reveal == NULL) {
        api_record_get(req, &crm_customers);
        return;
    }
    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    if (strcmp(reveal, "id_number") != 0)
        smile_err_field(&err, "/query/reveal", "only id_number can be revealed");
    if (reason && crm_utf8_len(reason) > 200)
        smile_err_field(&err, "/query/reason", "at most 200 characters");
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (!(req->auth.role & API_ROLES_SUP)) {
        http_reply_error(req, SMILE_EPERM, "only supervisors and admins may reveal an ID number");
        return;
    }
    api_crm_ctx(req, &c);
    if (crm_customer_reveal(&c, id, reason, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_response_header(req, "Cache-Control", "no-store");
    api_reply_record(req, 200, out);
}

void
api_customers_update(struct http_request *req)
{
    api_record_update(req, &crm_customers);
}

void
api_customers_delete(struct http_request *req)
{
    api_record_delete(req, &crm_customers);
}

void
api_customers_anonymise(struct http_request *req)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *body = NULL, *out = NULL;
    int64_t id;

    if (!api_param_id(req, 0, &id) || !api_body_optional(req, &body))
        return;
    smile_err_clear(&err);
    if (json_object_size(body) > 0) {
        const char *key;
        json_t *v;

        json_object_foreach(body, key, v)
        {
            (void)v;
            smile_err_field(&err, "", "anonymise takes no fields (got %.60s)", key);
            break;
        }
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_crm_ctx(req, &c);
    if (crm_customer_anonymise(&c, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (out == NULL) {
        http_reply_empty(req, 204); /* a deleted customer: erased, nothing to show */
        return;
    }
    api_reply_record(req, 200, out);
}

/* GET /api/v1/customers/{id}/erasure: what an anonymisation would still erase (counts). */
void
api_customers_erasure(struct http_request *req)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *out = NULL;
    int64_t id;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (crm_customer_erasure_check(&c, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_customers_timeline(struct http_request *req)
{
    struct crm_ctx c;
    struct smile_err err;
    json_t *out = NULL;
    int64_t id;
    int limit;

    if (!api_param_id(req, 0, &id) || !api_query_limit(req, &limit))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (crm_customer_timeline(&c, id, limit, http_request_query(req, "cursor"), &out, &err) !=
        SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}
