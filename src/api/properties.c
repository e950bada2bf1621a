/*
 * properties.c — /api/v1/properties: CRUD of properties (units of a project: building, unit, area,
 * sales status, owner or tenant) through the generic CRM handlers.
 */
#include "api/api_crm.h"

void
api_properties_list(struct http_request *req)
{
    api_record_list(req, &crm_properties);
}

void
api_properties_create(struct http_request *req)
{
    api_record_create(req, &crm_properties);
}

void
api_properties_get(struct http_request *req)
{
    api_record_get(req, &crm_properties);
}

void
api_properties_update(struct http_request *req)
{
    api_record_update(req, &crm_properties);
}

void
api_properties_delete(struct http_request *req)
{
    api_record_delete(req, &crm_properties);
}
