/*
 * contracts.c — /api/v1/contracts: CRUD of contracts (purchase or lease of a property by a
 * customer) through the generic CRM handlers.
 */
#include "api/api_crm.h"

void
api_contracts_list(struct http_request *req)
{
    api_record_list(req, &crm_contracts);
}

void
api_contracts_create(struct http_request *req)
{
    api_record_create(req, &crm_contracts);
}

void
api_contracts_get(struct http_request *req)
{
    api_record_get(req, &crm_contracts);
}

void
api_contracts_update(struct http_request *req)
{
    api_record_update(req, &crm_contracts);
}

void
api_contracts_delete(struct http_request *req)
{
    api_record_delete(req, &crm_contracts);
}
