/*
 * api_crm.h — the CRM endpoints (customers, properties, contracts, cases, interactions)
 * and the generic handlers they share: each resource file is a few lines that hand its
 * crm_resource to these (parse → crm → render). ETag is "<version>"; PATCH and DELETE
 * need If-Match; lists take ?limit=&cursor= and the resource's filters.
 */
#ifndef SMILE_API_CRM_H
#define SMILE_API_CRM_H

#include "api/api.h"
#include "crm/crm.h"

/* Generic handlers (api/records.c). */
void api_record_list(struct http_request *req, const struct crm_resource *r);
void api_record_create(struct http_request *req, const struct crm_resource *r);
void api_record_get(struct http_request *req, const struct crm_resource *r);
void api_record_update(struct http_request *req, const struct crm_resource *r);
void api_record_delete(struct http_request *req, const struct crm_resource *r);
/* Fills a crm context from the request (caller, request id, address, now). */
void api_crm_ctx(struct http_request *req, struct crm_ctx *c);
/* Replies with a record: status, ETag from its version, JSON body (takes rec). */
void api_reply_record(struct http_request *req, int status, json_t *rec);
/* Parses an optional JSON object body: no body → *out = empty object. false if replied. */
bool api_body_optional(struct http_request *req, json_t **out);

/* api/customers.c */
void api_customers_list(struct http_request *req);
void api_customers_create(struct http_request *req);
void api_customers_get(struct http_request *req);
void api_customers_update(struct http_request *req);
void api_customers_delete(struct http_request *req);
void api_customers_anonymise(struct http_request *req);
void api_customers_erasure(struct http_request *req);
void api_customers_timeline(struct http_request *req);

/* api/properties.c */
void api_properties_list(struct http_request *req);
void api_properties_create(struct http_request *req);
void api_properties_get(struct http_request *req);
void api_properties_update(struct http_request *req);
void api_properties_delete(struct http_request *req);

/* api/contracts.c */
void api_contracts_list(struct http_request *req);
void api_contracts_create(struct http_request *req);
void api_contracts_get(struct http_request *req);
void api_contracts_update(struct http_request *req);
void api_contracts_delete(struct http_request *req);

/* api/cases.c */
void api_cases_list(struct http_request *req);
void api_cases_create(struct http_request *req);
void api_cases_get(struct http_request *req);
void api_cases_update(struct http_request *req);
void api_cases_delete(struct http_request *req);
void api_cases_assign(struct http_request *req);
void api_cases_pending(struct http_request *req);
void api_cases_resolve(struct http_request *req);
void api_cases_reopen(struct http_request *req);
void api_cases_close(struct http_request *req);

/* api/interactions.c */
void api_interactions_list(struct http_request *req);
void api_interactions_create(struct http_request *req);
void api_interactions_get(struct http_request *req);
void api_interactions_update(struct http_request *req);
void api_interactions_delete(struct http_request *req);

#endif
