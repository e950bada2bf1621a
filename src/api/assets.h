/*
 * assets.h — the web UI's files, embedded at build time by tools/embed_web.c from
 * web/dist, and the handlers that serve them (GET /, /app/…, /assets/{file},
 * /static/{file}): ETag with If-None-Match → 304, the gzip copy when the client accepts
 * gzip, a year's cache for content-hashed files and no-cache for the rest.
 */
#ifndef SMILE_API_ASSETS_H
#define SMILE_API_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* One embedded file (the generated table ends after api_asset_count entries). */
struct api_asset {
    const char *path;         /* below web/dist: "index.html", "assets/index-Ab12Cd.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const char *etag;         /* strong ETag of the identity bytes, quoted */
    const char *etag_gz;      /* strong ETag of the gzip bytes, quoted */
    const unsigned char *data;
    size_t size;
    const unsigned char *gz; /* gzip copy, or NULL when gzip would not be smaller */
    size_t gz_size;
    bool immutable; /* content-hashed name (assets/): cached for a year */
};

extern const struct api_asset api_assets[];
extern const int api_asset_count;

/* The embedded file at path (below web/dist, no leading '/'); NULL if there is none. */
const struct api_asset *api_asset_find(const char *path);

/*
 * Whether an Accept-Encoding header value admits gzip: "gzip" or "x-gzip" with a q-value
 * above 0, or "*" with q above 0 when gzip is not named. NULL (no header) → false.
 */
bool api_asset_accepts_gzip(const char *accept_encoding);

/*
 * Whether an If-None-Match header value matches the asset: "*", or any listed entity tag
 * equal (weak comparison, RFC 9110 §13.1.2) to the asset's identity or gzip ETag.
 */
bool api_asset_etag_match(const char *if_none_match, const struct api_asset *a);

/* Handlers (routes.c, block "web"). */
void api_web_index(struct http_request *req);  /* GET /, /app, /app/… → index.html */
void api_web_asset(struct http_request *req);  /* GET /assets/{file} */
void api_web_static(struct http_request *req); /* GET /static/{file} */

#endif
