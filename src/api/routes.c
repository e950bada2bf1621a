/*
 * routes.c — the route table: every endpoint of the JSON API with the roles that may
 * call it, the scope an API token needs and its flags. The OpenAPI document
 * (docs/openapi.json) must describe each of these; tests/api/test_openapi.py checks it.
 */
#include "api/api.h"
#include "api/assets.h"

#define ANY API_ROLES_ANY
#define SUP API_ROLES_SUP
#define ADM API_ROLES_ADMIN

const struct api_route api_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0, 0, API_PUBLIC | API_NO_DB, "liveness"},
    {HTTP_GET, "/readyz", api_readyz, 0, 0, API_PUBLIC, "readiness"},
    {HTTP_GET, "/metrics", api_metrics, 0, 0, API_PUBLIC | API_NO_DB, "Prometheus metrics"},
    {HTTP_GET, "/api/v1/openapi.json", api_openapi, 0, 0, API_PUBLIC | API_NO_DB,
     "this API's OpenAPI 3.1 document"},

    /* web: the embedded web UI (api/assets.c); public, no database. Client-side routes
     * live under /app/ (up to three segments deep) and all answer index.html. */
    {HTTP_GET, "/", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/app", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/app/", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/app/{p1}", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/app/{p1}/{p2}", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/app/{p1}/{p2}/{p3}", api_web_index, 0, 0, API_PUBLIC | API_NO_DB, "the web UI"},
    {HTTP_GET, "/assets/{file}", api_web_asset, 0, 0, API_PUBLIC | API_NO_DB,
     "a content-hashed web UI file"},
    {HTTP_GET, "/static/{file}", api_web_static, 0, 0, API_PUBLIC | API_NO_DB,
     "a web UI file with a fixed name"},
};

const int api_route_count = (int)ARRAY_LEN(api_routes);
