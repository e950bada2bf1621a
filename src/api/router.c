/*
 * router.c — the dispatch stage of the API: matches the path against the route table,
 * answers 404/405, authenticates (session or bearer token), checks the route's roles and
 * the token's scope, enforces CSRF on state-changing cookie requests, lends the handler a
 * database connection, and returns it. Every request passes here exactly once.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "http/auth.h"
#include "http/auth_cache.h"
#include "store/store.h"

static struct api_app *app_state;

const struct api_app *
api_app(void)
{
    return app_state;
}

/* Matches path against pattern segment by segment, capturing {name} segments. */
static bool
match(const char *pattern, const char *path, struct http_request *req)
{
    const char *p = pattern, *u = path;
    int n = 0;

    while (*p && *u) {
        if (*p == '{') {
            const char *end = strchr(u, '/');
            size_t len = end ? (size_t)(end - u) : strlen(u);

            if (len == 0 || n >= HTTP_MAX_PARAMS)
                return false;
            req->params[n++] = (struct str){u, len};
            u += len;
            p = strchr(p, '}');
            if (p == NULL)
                return false;
            p++;
        } else if (*p++ != *u++) {
            return false;
        }
    }
    if (*p || *u)
        return false;
    req->nparams = n;
    return true;
}

static const char *
method_name(enum http_method m)
{
    static const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", ""};

    return names[m];
}

static void
dispatch(struct http_request *req, void *ud)
{
    struct api_app *app = ud;
    const struct api_route *r = NULL;
    struct smile_err err;
    bool path_found = false;
    char allow[64] = "";
    enum http_method m = req->method == HTTP_HEAD ? HTTP_GET : req->method;

    smile_err_clear(&err);
    for (int i = 0; i < api_route_count; i++) {
        if (!match(api_routes[i].pattern, req->path, req))
            continue;
        path_found = true;
        if (api_routes[i].method == m) {
            r = &api_routes[i];
            req->route = i;
            break;
        }
        if (strlen(allow) + 10 < sizeof(allow)) {
            if (allow[0])
                strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
            strncat(allow, method_name(api_routes[i].method), sizeof(allow) - strlen(allow) - 1);
        }
    }
    if (r == NULL) {
        if (path_found) {
            http_reply_error(req, SMILE_EMETHOD, "%s is not allowed on %s", req->method_name,
                             req->path);
            http_response_header(req, "Allow", allow);
        } else {
            req->nparams = 0;
            http_reply_error(req, SMILE_ENOTFOUND, "no such resource: %s", req->path);
        }
        return;
    }
    /* perf: the credential cache's generation is taken before the first statement. */
    auth_cache_request_begin();
    if (!(r->flags & API_NO_DB) || !(r->flags & API_PUBLIC)) {
        req->db = store_pool_acquire(app->pool);
        /* A read sees one snapshot and takes the WAL read lock once, not per statement. */
        if (m == HTTP_GET)
            store_read_begin(req->db);
    }
    if (!(r->flags & API_PUBLIC)) {
        if (auth_resolve(req, &err) != SMILE_OK) {
            http_reply_problem(req, &err);
            goto out;
        }
        if (req->auth.user_id == 0) {
            http_reply_error(req, SMILE_EAUTH, "sign in or send an API token");
            goto out;
        }
        if (!(r->roles & (unsigned)req->auth.role)) {
            http_reply_error(req, SMILE_EPERM, "role %s may not %s %s",
                             api_role_name(req->auth.role), method_name(r->method), r->pattern);
            goto out;
        }
        if (r->scope && !(req->auth.scopes & r->scope)) {
            struct buf b;

            buf_init(&b, 256);
            api_scopes_format(r->scope, &b);
            http_reply_error(req, SMILE_EPERM, "this API token lacks the scope %s", b.data);
            buf_free(&b);
            goto out;
        }
        if (req->auth.via_session && m != HTTP_GET && m != HTTP_OPTIONS && !auth_csrf_ok(req)) {
            http_reply_error(req, SMILE_EPERM,
                             "missing or wrong X-CSRF-Token header for a signed-in request");
            goto out;
        }
    }
    r->handler(req);
out:
    if (req->db) {
        store_read_end(req->db);
        store_pool_release(app->pool, req->db);
        req->db = NULL;
    }
    auth_cache_request_end(); /* perf: invalidate again once a revocation has committed */
}

/* Is req a write whose route runs on the I/O thread (API_INLINE)? Matched on a copy of the
 * request, so the dispatch that follows starts from nothing. */
static bool
is_inline(const struct http_request *req, void *ud)
{
    struct http_request probe = {.method = req->method, .path = req->path};

    (void)ud;
    for (int i = 0; i < api_route_count; i++)
        if ((api_routes[i].flags & API_INLINE) && api_routes[i].method == req->method &&
            match(api_routes[i].pattern, req->path, &probe))
            return true;
    return false;
}

int
api_start(struct api_app *app, struct http_server **out, struct smile_err *err)
{
    struct http_server_config hc = {
        .listen = config_str(app->cfg, CFG_LISTEN),
        .threads = (int)config_int(app->cfg, CFG_THREADS),
        .workers = (int)config_int(app->cfg, CFG_WORKERS),
        .max_body = (size_t)config_int(app->cfg, CFG_MAX_BODY),
        .conn_limit = (unsigned)config_int(app->cfg, CFG_CONN_LIMIT),
        .per_ip_limit = (unsigned)config_int(app->cfg, CFG_PER_IP_LIMIT),
        .timeout_s = (unsigned)config_int(app->cfg, CFG_TIMEOUT),
        .max_streams = (unsigned)config_int(app->cfg, CFG_MAX_STREAMS),
        .max_streams_per_user = (unsigned)config_int(app->cfg, CFG_MAX_STREAMS_PER_USER),
        .heartbeat_s = (unsigned)config_int(app->cfg, CFG_STREAM_HEARTBEAT),
        .dispatch = dispatch,
        .is_inline = is_inline,
        .observe = api_metrics_observe,
        .ud = app,
    };

    struct auth_settings as = {
        .session_ttl_ms = config_int(app->cfg, CFG_SESSION_TTL) * 1000,
        .login_attempts = (int)config_int(app->cfg, CFG_LOGIN_ATTEMPTS),
        .login_window_ms = config_int(app->cfg, CFG_LOGIN_WINDOW) * 1000,
        .cookie_secure = config_bool(app->cfg, CFG_COOKIE_SECURE),
    };
    int rc = auth_init(err);

    if (rc != SMILE_OK)
        return rc;
    auth_configure(&as);
    app_state = app;
    return http_server_start(&hc, out, err);
}

static const struct {
    const char *name;
    unsigned bit;
} scopes[] = {
    {"crm:read", API_SCOPE_CRM_READ},       {"crm:write", API_SCOPE_CRM_WRITE},
    {"events:read", API_SCOPE_EVENTS_READ}, {"events:write", API_SCOPE_EVENTS_WRITE},
    {"kpi:read", API_SCOPE_KPI_READ},       {"admin", API_SCOPE_ADMIN},
};

int
api_scopes_parse(const char *list, unsigned *out, struct smile_err *err)
{
    unsigned bits = 0;
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t i;

        for (i = 0; i < ARRAY_LEN(scopes); i++)
            if (strlen(scopes[i].name) == len && memcmp(scopes[i].name, p, len) == 0)
                break;
        if (i == ARRAY_LEN(scopes))
            return smile_err_set(err, SMILE_EINVAL,
                                 "unknown scope '%.*s' (known: crm:read, crm:write, events:read, "
                                 "events:write, kpi:read, admin)",
                                 (int)len, p);
        bits |= scopes[i].bit;
        p += len;
        if (*p == ',')
            p++;
    }
    if (bits == 0)
        return smile_err_set(err, SMILE_EINVAL, "at least one scope is required");
    *out = bits;
    return SMILE_OK;
}

void
api_scopes_format(unsigned bits, struct buf *b)
{
    bool first = true;

    for (size_t i = 0; i < ARRAY_LEN(scopes); i++) {
        if (bits & scopes[i].bit) {
            if (!first)
                buf_putc(b, ',');
            buf_puts(b, scopes[i].name);
            first = false;
        }
    }
}

int
api_role_parse(const char *name)
{
    if (strcmp(name, "agent") == 0)
        return API_ROLE_AGENT;
    if (strcmp(name, "supervisor") == 0)
        return API_ROLE_SUPERVISOR;
    if (strcmp(name, "admin") == 0)
        return API_ROLE_ADMIN;
    return 0;
}

const char *
api_role_name(int role)
{
    switch (role) {
    case API_ROLE_AGENT:
        return "agent";
    case API_ROLE_SUPERVISOR:
        return "supervisor";
    case API_ROLE_ADMIN:
        return "admin";
    default:
        return "none";
    }
}

unsigned
api_role_scopes(int role)
{
    if (role == API_ROLE_ADMIN)
        return API_SCOPE_ALL;
    return API_SCOPE_ALL & ~(unsigned)API_SCOPE_ADMIN;
}

bool
api_param_id(struct http_request *req, int k, int64_t *out)
{
    if (k >= req->nparams || str_to_int64(req->params[k], out) != SMILE_OK || *out <= 0) {
        http_reply_error(req, SMILE_ENOTFOUND, "no such resource: %s", req->path);
        return false;
    }
    return true;
}

bool
api_query_limit(struct http_request *req, int *out)
{
    const char *v = http_request_query(req, "limit");
    int64_t n = 50;

    if (v && (str_to_int64(str_from(v), &n) != SMILE_OK || n < 1 || n > 500)) {
        struct smile_err err;

        smile_err_clear(&err);
        smile_err_field(&err, "/query/limit", "limit must be an integer from 1 to 500");
        http_reply_problem(req, &err);
        return false;
    }
    *out = (int)n;
    return true;
}
