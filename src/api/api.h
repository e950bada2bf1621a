/*
 * api.h — the JSON API: one table describes every route (method, pattern, handler, the
 * roles that may call it, the scope a bearer token needs, flags). The router, the
 * permission test, `smile routes` and the OpenAPI check are all driven from it (Redis's
 * command table). Handlers are thin: parse → call the part that owns the data → render.
 */
#ifndef SMILE_API_H
#define SMILE_API_H

#include "base/config.h"
#include "http/http.h"

struct store_pool;
struct ledger;
struct runtime;
struct scheduler;

enum api_role {
    API_ROLE_AGENT = 1 << 0,
    API_ROLE_SUPERVISOR = 1 << 1,
    API_ROLE_ADMIN = 1 << 2,
};
#define API_ROLES_ANY (API_ROLE_AGENT | API_ROLE_SUPERVISOR | API_ROLE_ADMIN)
#define API_ROLES_SUP (API_ROLE_SUPERVISOR | API_ROLE_ADMIN)
#define API_ROLES_ADMIN API_ROLE_ADMIN

/* Scopes an API token can hold; a session holds every scope its role allows. */
enum api_scope {
    API_SCOPE_CRM_READ = 1 << 0,
    API_SCOPE_CRM_WRITE = 1 << 1,
    API_SCOPE_EVENTS_READ = 1 << 2,
    API_SCOPE_EVENTS_WRITE = 1 << 3,
    API_SCOPE_KPI_READ = 1 << 4,
    API_SCOPE_ADMIN = 1 << 5,
};
#define API_SCOPE_ALL 0x3f

enum api_route_flags {
    API_PUBLIC = 1 << 0, /* no authentication */
    API_NO_DB = 1 << 1,  /* the handler needs no database connection */
    API_INLINE = 1 << 2, /* a write that never blocks (answers or defers): run on the I/O thread */
};

typedef void api_handler_fn(struct http_request *req);

struct api_route {
    enum http_method method;
    const char *pattern; /* "/api/v1/customers/{id}" */
    api_handler_fn *handler;
    unsigned roles;
    unsigned scope;
    unsigned flags;
    const char *summary;
};

extern const struct api_route api_routes[];
extern const int api_route_count;

/* Server-wide state the handlers read. Set once by api_start(). */
struct api_app {
    struct config *cfg;
    struct store_pool *pool;
    const char *db_path;
    struct ledger *ledger;       /* the event ledger (group-commit writer), owned by serve */
    struct runtime *runtime;     /* the process runtime (worker folding subjects), owned by serve */
    struct scheduler *scheduler; /* fires sla.* events; owned by serve */
    int64_t started_ms;
};
const struct api_app *api_app(void);

/* Starts serving on the configured address; returns after the socket is bound. */
int api_start(struct api_app *app, struct http_server **out, struct smile_err *err);

/* Scope names ("crm:read") ↔ bits. api_scopes_parse rejects unknown names. */
int api_scopes_parse(const char *list, unsigned *out, struct smile_err *err);
void api_scopes_format(unsigned scopes, struct buf *b);
/* Role name ↔ bit; 0 for an unknown name. */
int api_role_parse(const char *name);
const char *api_role_name(int role);
/* Scopes a session user of this role holds. */
unsigned api_role_scopes(int role);

/* Route helpers for handlers. */
/* The id path parameter k as a positive int64; replies 404 and returns false if it is not. */
bool api_param_id(struct http_request *req, int k, int64_t *out);
/* Reads ?limit= (1–500, default 50); replies 422 and returns false if invalid. */
bool api_query_limit(struct http_request *req, int *out);

/* Helpers shared by the auth & staff handlers (api/users.c). */
struct audit_who;
/* The audit context of a request: its caller, request id and client address. */
void api_audit_who(const struct http_request *req, struct audit_who *out);
/*
 * Reads If-Match: "<version>" for a PATCH/DELETE of a versioned record. Absent → replies
 * 428; present but not of that form → replies 412; both return false.
 */
bool api_if_match_version(struct http_request *req, int64_t *out);
/* Reads ?cursor= (an id from a previous next_cursor; absent = 0); replies 422 if invalid. */
bool api_query_cursor(struct http_request *req, int64_t *out);
/* Sets the ETag header to "<version>". */
void api_etag(struct http_request *req, int64_t version);
/* Replies a problem from err, adding Retry-After for SMILE_ERATE. */
void api_reply_err(struct http_request *req, const struct smile_err *err, int64_t retry_after_s);

/* Metrics (api/metrics.c). */
void api_metrics_observe(const struct http_request *req, int64_t dur_ns, void *ud);
void api_metrics_render(struct buf *b);

/* Handlers in api/health.c */
void api_healthz(struct http_request *req);
void api_readyz(struct http_request *req);
void api_metrics(struct http_request *req);
void api_openapi(struct http_request *req);

/* Handlers in api/events.c (ledger) */
void api_events_post(struct http_request *req);
void api_events_list(struct http_request *req);
void api_events_get(struct http_request *req);

/* auth & staff handlers: api/session.c, api/users.c, api/teams.c, api/tokens.c */
void api_session_create(struct http_request *req);
void api_session_get(struct http_request *req);
void api_session_delete(struct http_request *req);
void api_session_patch(struct http_request *req);
void api_session_password(struct http_request *req);
void api_users_list(struct http_request *req);
void api_users_get(struct http_request *req);
void api_users_create(struct http_request *req);
void api_users_patch(struct http_request *req);
void api_users_password(struct http_request *req);
void api_teams_list(struct http_request *req);
void api_teams_get(struct http_request *req);
void api_teams_create(struct http_request *req);
void api_teams_patch(struct http_request *req);
void api_tokens_list(struct http_request *req);
void api_tokens_create(struct http_request *req);
void api_tokens_delete(struct http_request *req);
/* runtime handlers: api/calendars.c, api/processes.c, api/measurements.c */
void api_calendars_list(struct http_request *req);
void api_calendars_get(struct http_request *req);
void api_calendars_create(struct http_request *req);
void api_calendars_patch(struct http_request *req);
void api_calendars_delete(struct http_request *req);
void api_calendars_holidays(struct http_request *req);
void api_calendars_add(struct http_request *req);
void api_calendars_diff(struct http_request *req);
void api_processes_list(struct http_request *req);
void api_processes_get(struct http_request *req);
void api_processes_create(struct http_request *req);
void api_processes_patch(struct http_request *req);
void api_processes_publish(struct http_request *req);
void api_processes_version(struct http_request *req);
void api_measurements_list(struct http_request *req);
void api_measurements_export(struct http_request *req);
void api_subjects_timeline(struct http_request *req);
void api_runtime_status(struct http_request *req);

/* work: api/work.c (tasks, presence, skills, team routing) */
void api_tasks_list(struct http_request *req);
void api_tasks_summary(struct http_request *req);
void api_presence_get(struct http_request *req);
void api_presence_put(struct http_request *req);
void api_skills_put(struct http_request *req);
void api_team_routing_get(struct http_request *req);
void api_team_routing_put(struct http_request *req);
/* notify: api/notifications.c (built with notify_src) */
void api_notifications_list(struct http_request *req);
void api_notifications_read(struct http_request *req);
void api_notifications_read_all(struct http_request *req);
void api_escalations_list(struct http_request *req);
void api_stream(struct http_request *req);
/* Connects the notify part's hooks to the event stream; once, before serving. */
void api_notify_wire(void);
/* Handlers in api/mailboxes.c (mail: mailboxes, replies by e-mail) */
void api_mailboxes_list(struct http_request *req);
void api_mailboxes_get(struct http_request *req);
void api_mailboxes_create(struct http_request *req);
void api_mailboxes_patch(struct http_request *req);
void api_mailboxes_delete(struct http_request *req);
void api_mailboxes_poll(struct http_request *req);
void api_mailboxes_test(struct http_request *req);
void api_cases_reply(struct http_request *req);
void api_cases_emails(struct http_request *req);
/* bulk: api/imports.c */
void api_imports_create(struct http_request *req);
void api_imports_list(struct http_request *req);
void api_imports_get(struct http_request *req);
void api_imports_template(struct http_request *req);
/* recompute: api/recompute.c */
void api_recompute(struct http_request *req);
void api_recompute_runs(struct http_request *req);
void api_recompute_run(struct http_request *req);
void api_recompute_run_changes(struct http_request *req);
/* what-if: api/whatif.c */
void api_processes_whatif(struct http_request *req);
/* kpi handlers: api/indicators.c */
void api_indicators_get(struct http_request *req);
void api_indicators_export(struct http_request *req);
void api_indicators_catalog(struct http_request *req);

/* Handlers in api/search.c */
void api_search(struct http_request *req);

/* webhook: outbound webhooks, api/webhooks.c (admins only) */
void api_webhooks_list(struct http_request *req);
void api_webhooks_create(struct http_request *req);
void api_webhooks_get(struct http_request *req);
void api_webhooks_patch(struct http_request *req);
void api_webhooks_delete(struct http_request *req);
void api_webhooks_rotate(struct http_request *req);
void api_webhooks_ping(struct http_request *req);
void api_webhooks_deliveries(struct http_request *req);
void api_webhooks_delivery(struct http_request *req);
void api_webhooks_redeliver(struct http_request *req);

/* uiadmin: the audit trail, api/audit.c (admins only) */
void api_audit_list(struct http_request *req);
/* uiadmin: preview of a scorecard template document, api/score_preview.c (admins only) */
void api_score_preview(struct http_request *req);
/* mailnotify: the system e-mail outbox (api/mail_outbox.c) */
void api_mail_outbox_list(struct http_request *req);
void api_mail_outbox_retry(struct http_request *req);

#endif
