/*
 * interactions.c — /api/v1/interactions: CRUD of interactions (calls, e-mails, visits and notes
 * with customers, optionally on a case) through the generic CRM handlers.
 */
#include "api/api_crm.h"

void
api_interactions_list(struct http_request *req)
{
    api_record_list(req, &crm_interactions);
}

void
api_interactions_create(struct http_request *req)
{
    api_record_create(req, &crm_interactions);
}

void
api_interactions_get(struct http_request *req)
{
    api_record_get(req, &crm_interactions);
}

void
api_interactions_update(struct http_request *req)
{
    api_record_update(req, &crm_interactions);
}

void
api_interactions_delete(struct http_request *req)
{
    api_record_delete(req, &crm_interactions);
}
