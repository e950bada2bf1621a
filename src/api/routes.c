/*
 * routes.c — the route table: every endpoint of the JSON API with the roles that may
 * call it, the scope an API token needs and its flags. The OpenAPI document
 * (docs/openapi.json) must describe each of these; tests/api/test_openapi.py checks it.
 */
#include "api/api.h"

#define ANY API_ROLES_ANY
#define SUP API_ROLES_SUP
#define ADM API_ROLES_ADMIN

const struct api_route api_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0, 0, API_PUBLIC | API_NO_DB, "liveness"},
    {HTTP_GET, "/readyz", api_readyz, 0, 0, API_PUBLIC, "readiness"},
    {HTTP_GET, "/metrics", api_metrics, 0, 0, API_PUBLIC | API_NO_DB, "Prometheus metrics"},
    {HTTP_GET, "/api/v1/openapi.json", api_openapi, 0, 0, API_PUBLIC | API_NO_DB,
     "this API's OpenAPI 3.1 document"},

    /* ledger: events are appended and read, never changed (PATCH/DELETE → 405). Agents do
       not post raw events: their actions reach the ledger through CRM functions. */
    {HTTP_POST, "/api/v1/events", api_events_post, SUP, API_SCOPE_EVENTS_WRITE, 0,
     "append one event or a batch of up to 10,000 (idempotent on source, source_id)"},
    {HTTP_GET, "/api/v1/events", api_events_list, SUP, API_SCOPE_EVENTS_READ, 0,
     "list events by subject, type and time, cursor-paged"},
    {HTTP_GET, "/api/v1/events/{id}", api_events_get, SUP, API_SCOPE_EVENTS_READ, 0, "one event"},

    /* auth & staff */
    {HTTP_POST, "/api/v1/session", api_session_create, 0, 0, API_PUBLIC,
     "sign in with username and password"},
    {HTTP_GET, "/api/v1/session", api_session_get, ANY, 0, 0, "the caller and its CSRF token"},
    {HTTP_PATCH, "/api/v1/session", api_session_patch, ANY, 0, 0, "change the caller's locale"},
    {HTTP_DELETE, "/api/v1/session", api_session_delete, ANY, 0, 0, "sign out"},
    {HTTP_POST, "/api/v1/session/password", api_session_password, ANY, 0, 0,
     "change the caller's own password"},
    {HTTP_GET, "/api/v1/users", api_users_list, ANY, API_SCOPE_CRM_READ, 0, "list staff"},
    {HTTP_POST, "/api/v1/users", api_users_create, ADM, API_SCOPE_ADMIN, 0, "create a user"},
    {HTTP_GET, "/api/v1/users/{id}", api_users_get, ANY, API_SCOPE_CRM_READ, 0, "one user"},
    {HTTP_PATCH, "/api/v1/users/{id}", api_users_patch, ADM, API_SCOPE_ADMIN, 0,
     "change a user (If-Match)"},
    {HTTP_POST, "/api/v1/users/{id}/password", api_users_password, ADM, API_SCOPE_ADMIN, 0,
     "set a user's password"},
    {HTTP_GET, "/api/v1/teams", api_teams_list, ANY, API_SCOPE_CRM_READ, 0, "list teams"},
    {HTTP_POST, "/api/v1/teams", api_teams_create, ADM, API_SCOPE_ADMIN, 0, "create a team"},
    {HTTP_GET, "/api/v1/teams/{id}", api_teams_get, ANY, API_SCOPE_CRM_READ, 0, "one team"},
    {HTTP_PATCH, "/api/v1/teams/{id}", api_teams_patch, ADM, API_SCOPE_ADMIN, 0,
     "change a team (If-Match)"},
    {HTTP_GET, "/api/v1/tokens", api_tokens_list, ANY, API_SCOPE_CRM_READ, 0,
     "API tokens (admin: all; others: their own)"},
    {HTTP_POST, "/api/v1/tokens", api_tokens_create, ADM, API_SCOPE_ADMIN, 0,
     "create an API token (shown once)"},
    {HTTP_DELETE, "/api/v1/tokens/{id}", api_tokens_delete, ANY, 0, 0,
     "revoke an API token (admin or owner)"},
};

const int api_route_count = (int)ARRAY_LEN(api_routes);
