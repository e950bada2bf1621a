/*
 * routes.c — the route table: every endpoint of the JSON API with the roles that may
 * call it, the scope an API token needs and its flags. The OpenAPI document
 * (docs/openapi.json) must describe each of these; tests/api/test_openapi.py checks it.
 */
#include "api/api.h"
#include "api/api_crm.h"
#include "api/api_score.h"
#include "api/assets.h"

#define ANY API_ROLES_ANY
#define SUP API_ROLES_SUP
#define ADM API_ROLES_ADMIN
#define CR API_SCOPE_CRM_READ
#define CW API_SCOPE_CRM_WRITE

const struct api_route api_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0, 0, API_PUBLIC | API_NO_DB, "liveness"},
    {HTTP_GET, "/readyz", api_readyz, 0, 0, API_PUBLIC, "readiness"},
    {HTTP_GET, "/metrics", api_metrics, 0, 0, API_PUBLIC | API_NO_DB, "Prometheus metrics"},
    {HTTP_GET, "/api/v1/openapi.json", api_openapi, 0, 0, API_PUBLIC | API_NO_DB,
     "this API's OpenAPI 3.1 document"},

    /* ledger: events are appended and read, never changed (PATCH/DELETE → 405). Agents
       act through CRM functions; they may post only visit.* events as themselves (the
       counter), which api_events_post checks. */
    {HTTP_POST, "/api/v1/events", api_events_post, ANY, API_SCOPE_EVENTS_WRITE, API_INLINE,
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
    /* crm: customers, properties, contracts, cases (+ actions), interactions. Reads: every
     * role; writes: agents for customers, cases and interactions, supervisors for
     * properties and contracts; deletes: admins (cases: supervisors); anonymise: admins. */
    {HTTP_GET, "/api/v1/customers", api_customers_list, ANY, CR, 0, "list customers"},
    {HTTP_POST, "/api/v1/customers", api_customers_create, ANY, CW, 0, "create a customer"},
    {HTTP_GET, "/api/v1/customers/{id}", api_customers_get, ANY, CR, 0,
     "read a customer (?reveal=id_number: supervisors and admins, audited)"},
    {HTTP_PATCH, "/api/v1/customers/{id}", api_customers_update, ANY, CW, 0, "update a customer"},
    {HTTP_DELETE, "/api/v1/customers/{id}", api_customers_delete, ADM, CW, 0, "delete a customer"},
    {HTTP_POST, "/api/v1/customers/{id}/anonymise", api_customers_anonymise, ADM, CW, 0,
     "erase a customer's personal data (PIPL Art. 47)"},
    /* pipl: the erasure check — what an anonymisation would still erase (admins). */
    {HTTP_GET, "/api/v1/customers/{id}/erasure", api_customers_erasure, ADM, CR, 0,
     "what an anonymisation would erase, as counts (PIPL Art. 47 proof of erasure)"},
    {HTTP_GET, "/api/v1/customers/{id}/timeline", api_customers_timeline, ANY, CR, 0,
     "a customer's interactions and cases, newest first"},
    {HTTP_GET, "/api/v1/properties", api_properties_list, ANY, CR, 0, "list properties"},
    {HTTP_POST, "/api/v1/properties", api_properties_create, SUP, CW, 0, "create a property"},
    {HTTP_GET, "/api/v1/properties/{id}", api_properties_get, ANY, CR, 0, "read a property"},
    {HTTP_PATCH, "/api/v1/properties/{id}", api_properties_update, SUP, CW, 0, "update a property"},
    {HTTP_DELETE, "/api/v1/properties/{id}", api_properties_delete, ADM, CW, 0,
     "delete a property"},
    {HTTP_GET, "/api/v1/contracts", api_contracts_list, ANY, CR, 0, "list contracts"},
    {HTTP_POST, "/api/v1/contracts", api_contracts_create, SUP, CW, 0, "create a contract"},
    {HTTP_GET, "/api/v1/contracts/{id}", api_contracts_get, ANY, CR, 0, "read a contract"},
    {HTTP_PATCH, "/api/v1/contracts/{id}", api_contracts_update, SUP, CW, 0, "update a contract"},
    {HTTP_DELETE, "/api/v1/contracts/{id}", api_contracts_delete, ADM, CW, 0, "delete a contract"},
    {HTTP_GET, "/api/v1/cases", api_cases_list, ANY, CR, 0, "list cases"},
    {HTTP_POST, "/api/v1/cases", api_cases_create, ANY, CW, 0, "open a case"},
    {HTTP_GET, "/api/v1/cases/{id}", api_cases_get, ANY, CR, 0, "read a case"},
    {HTTP_PATCH, "/api/v1/cases/{id}", api_cases_update, ANY, CW, 0, "update a case"},
    {HTTP_DELETE, "/api/v1/cases/{id}", api_cases_delete, SUP, CW, 0, "delete a case"},
    {HTTP_POST, "/api/v1/cases/{id}/assign", api_cases_assign, ANY, CW, 0,
     "assign a case to a person and/or team"},
    {HTTP_POST, "/api/v1/cases/{id}/pending", api_cases_pending, ANY, CW, 0,
     "set a case pending (waiting on the customer or a third party)"},
    {HTTP_POST, "/api/v1/cases/{id}/resolve", api_cases_resolve, ANY, CW, 0, "resolve a case"},
    {HTTP_POST, "/api/v1/cases/{id}/reopen", api_cases_reopen, ANY, CW, 0,
     "reopen a resolved case"},
    {HTTP_POST, "/api/v1/cases/{id}/close", api_cases_close, ANY, CW, 0, "close a resolved case"},
    {HTTP_GET, "/api/v1/interactions", api_interactions_list, ANY, CR, 0, "list interactions"},
    {HTTP_POST, "/api/v1/interactions", api_interactions_create, ANY, CW, 0, "log an interaction"},
    {HTTP_GET, "/api/v1/interactions/{id}", api_interactions_get, ANY, CR, 0,
     "read an interaction"},
    {HTTP_PATCH, "/api/v1/interactions/{id}", api_interactions_update, ANY, CW, 0,
     "update an interaction"},
    {HTTP_DELETE, "/api/v1/interactions/{id}", api_interactions_delete, ADM, CW, 0,
     "delete an interaction"},

    /* mail: admins connect mailboxes (IMAP in, SMTP out; passwords write-only) and may poll
       one at once; every role replies to a case by e-mail and reads its messages. */
    {HTTP_GET, "/api/v1/mailboxes", api_mailboxes_list, ADM, API_SCOPE_ADMIN, 0, "list mailboxes"},
    {HTTP_POST, "/api/v1/mailboxes", api_mailboxes_create, ADM, API_SCOPE_ADMIN, 0,
     "connect a mailbox"},
    {HTTP_GET, "/api/v1/mailboxes/{id}", api_mailboxes_get, ADM, API_SCOPE_ADMIN, 0,
     "one mailbox with its polling state"},
    {HTTP_PATCH, "/api/v1/mailboxes/{id}", api_mailboxes_patch, ADM, API_SCOPE_ADMIN, 0,
     "change a mailbox (If-Match)"},
    {HTTP_DELETE, "/api/v1/mailboxes/{id}", api_mailboxes_delete, ADM, API_SCOPE_ADMIN, 0,
     "disconnect a mailbox (If-Match)"},
    {HTTP_POST, "/api/v1/mailboxes/{id}/poll", api_mailboxes_poll, ADM, API_SCOPE_ADMIN, 0,
     "poll a mailbox now"},
    {HTTP_POST, "/api/v1/mailboxes/{id}/test", api_mailboxes_test, ADM, API_SCOPE_ADMIN, 0,
     "send a test message through the mailbox's SMTP server"},
    {HTTP_POST, "/api/v1/cases/{id}/reply", api_cases_reply, ANY, CW, 0,
     "reply to a case by e-mail (sent over SMTP, then recorded)"},
    {HTTP_GET, "/api/v1/cases/{id}/emails", api_cases_emails, ANY, CR, 0,
     "the e-mails of a case, in and out"},

    /* search */
    {HTTP_GET, "/api/v1/search", api_search, ANY, API_SCOPE_CRM_READ, 0,
     "full-text search over customers, cases and interactions"},
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

    /* runtime: calendars and processes (the definitions measured with), what was measured,
       and how far the runtime has folded the ledger. Every role reads; admins write
       calendars and publish; supervisors also edit process drafts. */
    {HTTP_GET, "/api/v1/calendars", api_calendars_list, ANY, API_SCOPE_KPI_READ, 0,
     "list business calendars"},
    {HTTP_POST, "/api/v1/calendars", api_calendars_create, ADM, API_SCOPE_ADMIN, 0,
     "create a business calendar"},
    {HTTP_GET, "/api/v1/calendars/{id}", api_calendars_get, ANY, API_SCOPE_KPI_READ, 0,
     "one calendar"},
    {HTTP_PATCH, "/api/v1/calendars/{id}", api_calendars_patch, ADM, API_SCOPE_ADMIN, 0,
     "replace a calendar's document (If-Match)"},
    {HTTP_DELETE, "/api/v1/calendars/{id}", api_calendars_delete, ADM, API_SCOPE_ADMIN, 0,
     "delete a calendar (If-Match)"},
    {HTTP_POST, "/api/v1/calendars/{id}/holidays", api_calendars_holidays, ADM, API_SCOPE_ADMIN, 0,
     "import a holiday notice (text), optionally as a new version effective from a date"},
    {HTTP_GET, "/api/v1/calendars/{id}/add", api_calendars_add, ANY, API_SCOPE_KPI_READ, 0,
     "when a duration from a start ends in this calendar"},
    {HTTP_GET, "/api/v1/calendars/{id}/diff", api_calendars_diff, ANY, API_SCOPE_KPI_READ, 0,
     "working time between two instants"},
    {HTTP_GET, "/api/v1/processes", api_processes_list, ANY, API_SCOPE_KPI_READ, 0,
     "list processes"},
    {HTTP_POST, "/api/v1/processes", api_processes_create, SUP, API_SCOPE_CRM_WRITE, 0,
     "create a process with a draft document"},
    {HTTP_GET, "/api/v1/processes/{id}", api_processes_get, ANY, API_SCOPE_KPI_READ, 0,
     "a process: its draft and published versions"},
    {HTTP_PATCH, "/api/v1/processes/{id}", api_processes_patch, SUP, API_SCOPE_CRM_WRITE, 0,
     "replace the draft (If-Match)"},
    {HTTP_POST, "/api/v1/processes/{id}/publish", api_processes_publish, ADM, API_SCOPE_ADMIN, 0,
     "publish the draft as a new immutable version"},
    {HTTP_GET, "/api/v1/processes/{id}/versions/{n}", api_processes_version, ANY,
     API_SCOPE_KPI_READ, 0, "one published version"},
    {HTTP_GET, "/api/v1/measurements", api_measurements_list, ANY, API_SCOPE_KPI_READ, 0,
     "measurements by process, step, staff, team, result and time, cursor-paged"},
    {HTTP_GET, "/api/v1/measurements/export", api_measurements_export, ANY, API_SCOPE_KPI_READ, 0,
     "the measurement log as metric events (JSON lines or CSV)"},
    {HTTP_GET, "/api/v1/subjects/{subject}/timeline", api_subjects_timeline, ANY,
     API_SCOPE_KPI_READ, 0, "a subject's events and measured steps"},
    {HTTP_GET, "/api/v1/runtime/status", api_runtime_status, ANY, API_SCOPE_KPI_READ, 0,
     "how far the runtime has folded the ledger"},

    /* work: task inboxes, presence and skills, team routing (api/work.c, docs/work.md).
       Agents read their own and their team's tasks and set their own presence (handler
       checks); supervisors anyone's; admins edit skills and routing rules. */
    {HTTP_GET, "/api/v1/tasks", api_tasks_list, ANY, CR, 0,
     "open steps charged to people and teams, by time left (mine, team, assignee, due)"},
    {HTTP_GET, "/api/v1/tasks/summary", api_tasks_summary, ANY, CR, 0,
     "open, warned, breached and paused tasks per holder (workload)"},
    {HTTP_GET, "/api/v1/users/{id}/presence", api_presence_get, ANY, CR, 0,
     "a user's presence, skills and shift calendar"},
    {HTTP_PUT, "/api/v1/users/{id}/presence", api_presence_put, ANY, CW, 0,
     "set presence: available, away or off (self, or supervisor+)"},
    {HTTP_PUT, "/api/v1/users/{id}/skills", api_skills_put, ADM, API_SCOPE_ADMIN, 0,
     "set a user's skills and shift calendar"},
    {HTTP_GET, "/api/v1/teams/{id}/routing", api_team_routing_get, SUP, CR, 0,
     "a team's routing rule, round-robin position and decision log"},
    {HTTP_PUT, "/api/v1/teams/{id}/routing", api_team_routing_put, ADM, API_SCOPE_ADMIN, 0,
     "set a team's routing rule"},
    /* notify: each user reads and marks their own notifications; the stream pushes them
       (and, to supervisors and admins, the live sla.* and case.* board events); the
       escalation log is for supervisors and admins. */
    {HTTP_GET, "/api/v1/notifications", api_notifications_list, ANY, CR, 0,
     "the caller's notifications, newest first (?unread=1), cursor-paged"},
    {HTTP_POST, "/api/v1/notifications/{id}/read", api_notifications_read, ANY, CR, 0,
     "mark one of the caller's notifications read"},
    {HTTP_POST, "/api/v1/notifications/read-all", api_notifications_read_all, ANY, CR, 0,
     "mark all the caller's notifications read"},
    {HTTP_GET, "/api/v1/stream", api_stream, ANY, CR, 0,
     "Server-Sent Events: the caller's notifications and, for supervisors, the live board"},
    {HTTP_GET, "/api/v1/escalations", api_escalations_list, SUP, API_SCOPE_KPI_READ, 0,
     "what each escalation rule did for each fired deadline, newest first"},
    /* webhook: outbound webhooks (api/webhooks.c, src/webhook/). Admins only: a
       subscription's secret signs every delivery, and its log shows event contents. */
    {HTTP_GET, "/api/v1/webhooks", api_webhooks_list, ADM, API_SCOPE_ADMIN, 0,
     "list webhook subscriptions"},
    {HTTP_POST, "/api/v1/webhooks", api_webhooks_create, ADM, API_SCOPE_ADMIN, 0,
     "subscribe a URL to event types (the signing secret is shown once)"},
    {HTTP_GET, "/api/v1/webhooks/{id}", api_webhooks_get, ADM, API_SCOPE_ADMIN, 0,
     "one webhook subscription"},
    {HTTP_PATCH, "/api/v1/webhooks/{id}", api_webhooks_patch, ADM, API_SCOPE_ADMIN, 0,
     "change a webhook subscription (If-Match)"},
    {HTTP_DELETE, "/api/v1/webhooks/{id}", api_webhooks_delete, ADM, API_SCOPE_ADMIN, 0,
     "delete a webhook subscription and its delivery log (If-Match)"},
    {HTTP_POST, "/api/v1/webhooks/{id}/rotate-secret", api_webhooks_rotate, ADM, API_SCOPE_ADMIN, 0,
     "issue a new signing secret (shown once)"},
    {HTTP_POST, "/api/v1/webhooks/{id}/ping", api_webhooks_ping, ADM, API_SCOPE_ADMIN, 0,
     "queue a webhook.ping delivery"},
    {HTTP_GET, "/api/v1/webhooks/{id}/deliveries", api_webhooks_deliveries, ADM, API_SCOPE_ADMIN, 0,
     "the delivery log, newest first, cursor-paged"},
    {HTTP_GET, "/api/v1/webhooks/{id}/deliveries/{delivery_id}", api_webhooks_delivery, ADM,
     API_SCOPE_ADMIN, 0, "one delivery with every attempt"},
    {HTTP_POST, "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", api_webhooks_redeliver,
     ADM, API_SCOPE_ADMIN, 0, "send a delivery again"},
    /* uiadmin: the audit trail (api/audit.c), read by the admin screens as a record's history
       (scorecard template versions, webhook changes). Admins only: rows show whole records. */
    {HTTP_GET, "/api/v1/audit", api_audit_list, ADM, API_SCOPE_ADMIN, 0,
     "the audit trail of a kind of record (or one record), newest first"},
    /* uiadmin: a scorecard template being edited, computed for a period and rolled back
       (api/score_preview.c). Admins (who edit templates). */
    {HTTP_POST, "/api/v1/scorecards/preview", api_score_preview, ADM, API_SCOPE_ADMIN, 0,
     "what a template document would score for a period, per person and item; keeps nothing"},
    /* mailnotify: the system e-mail outbox (api/mail_outbox.c, src/mailnotify/). Admins only:
       rows show staff addresses and what was sent to them. */
    {HTTP_GET, "/api/v1/mail-outbox", api_mail_outbox_list, ADM, API_SCOPE_ADMIN, 0,
     "system e-mail outbox, newest first (?state=pending|sent|failed), cursor-paged"},
    {HTTP_POST, "/api/v1/mail-outbox/{id}/retry", api_mail_outbox_retry, ADM, API_SCOPE_ADMIN, 0,
     "queue a given-up system e-mail again"},
    /* bulk: CSV import of customers, properties and contracts (api/imports.c); all or
       nothing, dry run first. Supervisors and admins (the roles that write properties and
       contracts). */
    {HTTP_POST, "/api/v1/imports", api_imports_create, SUP, CW, 0,
     "import customers, properties or contracts from a CSV file (multipart or text/csv)"},
    {HTTP_GET, "/api/v1/imports", api_imports_list, SUP, CR, 0, "committed imports, newest first"},
    {HTTP_GET, "/api/v1/imports/{id}", api_imports_get, SUP, CR, 0, "one committed import"},
    {HTTP_GET, "/api/v1/imports/templates/{kind}", api_imports_template, SUP, CR, 0,
     "an empty CSV with the header row of a kind (?lang=zh: Chinese headers)"},
    /* recompute (recompute/recompute.c, api/recompute.c): history re-measured after a
       calendar or process change (a process change re-pins a period's instances to a
       version), dry run (diff report + confirm token) first; admins. */
    {HTTP_POST, "/api/v1/recompute", api_recompute, ADM, API_SCOPE_ADMIN, 0,
     "recompute history after a calendar or process change: dry-run diff report, then apply with "
     "its token"},
    {HTTP_GET, "/api/v1/recompute/runs", api_recompute_runs, ADM, API_SCOPE_ADMIN, 0,
     "applied recomputes, newest first"},
    {HTTP_GET, "/api/v1/recompute/runs/{id}", api_recompute_run, ADM, API_SCOPE_ADMIN, 0,
     "one applied recompute: its report and the diffs recorded beside frozen evaluations"},
    {HTTP_GET, "/api/v1/recompute/runs/{id}/changes", api_recompute_run_changes, ADM,
     API_SCOPE_ADMIN, 0, "every measurement an applied recompute changed, before and after"},
    /* what-if (kpi/whatif.c, api/whatif.c): a period replayed through the live versions and
       a draft, nothing written; supervisors and admins (the roles that edit drafts). */
    {HTTP_POST, "/api/v1/processes/{id}/whatif", api_processes_whatif, SUP, API_SCOPE_KPI_READ, 0,
     "replay a period through the live process and a draft: indicators side by side"},
    /* kpi: indicators from the daily rollups. Every role reads; an agent only their own
       figures (the handler pins staff to the caller and refuses anyone else's: 403). */
    {HTTP_GET, "/api/v1/indicators", api_indicators_get, ANY, API_SCOPE_KPI_READ, 0,
     "one indicator over a period, grouped by staff, team, process, step, channel or time"},
    {HTTP_GET, "/api/v1/indicators/export", api_indicators_export, ANY, API_SCOPE_KPI_READ, 0,
     "indicators side by side as CSV or XLSX"},
    {HTTP_GET, "/api/v1/indicators/catalog", api_indicators_catalog, ANY, API_SCOPE_KPI_READ,
     API_NO_DB, "the indicators there are, with unit, direction and titles"},

    /* score: scorecard templates (admins write, everyone reads), evaluations (supervisors
       compute, publish and freeze; agents read their own once published and comment on
       them), the measurements behind an item, exports and supervisors' digests. */
    {HTTP_GET, "/api/v1/scorecards/indicators", api_score_indicators, ANY, API_SCOPE_KPI_READ, 0,
     "the indicators a scorecard item may use, with direction, unit and labels"},
    {HTTP_GET, "/api/v1/scorecards/templates", api_score_templates_list, ANY, API_SCOPE_KPI_READ, 0,
     "list scorecard templates"},
    {HTTP_POST, "/api/v1/scorecards/templates", api_score_templates_create, ADM, API_SCOPE_ADMIN, 0,
     "create a scorecard template"},
    {HTTP_GET, "/api/v1/scorecards/templates/{id}", api_score_templates_get, ANY,
     API_SCOPE_KPI_READ, 0, "one scorecard template"},
    {HTTP_PUT, "/api/v1/scorecards/templates/{id}", api_score_templates_replace, ADM,
     API_SCOPE_ADMIN, 0, "replace a scorecard template (If-Match)"},
    {HTTP_DELETE, "/api/v1/scorecards/templates/{id}", api_score_templates_delete, ADM,
     API_SCOPE_ADMIN, 0, "delete a scorecard template (If-Match)"},
    {HTTP_GET, "/api/v1/evaluations", api_evaluations_list, ANY, API_SCOPE_KPI_READ, 0,
     "evaluations by period, template, team, user and state (agents: their own, published)"},
    {HTTP_POST, "/api/v1/evaluations/compute", api_evaluations_compute, SUP, API_SCOPE_CRM_WRITE, 0,
     "compute or recompute a period's evaluations (frozen ones: 409)"},
    {HTTP_POST, "/api/v1/evaluations/publish", api_evaluations_publish_all, SUP,
     API_SCOPE_CRM_WRITE, 0, "publish every draft of a period (and team)"},
    {HTTP_POST, "/api/v1/evaluations/freeze", api_evaluations_freeze_all, SUP, API_SCOPE_CRM_WRITE,
     0, "sign off every published evaluation of a period (and team)"},
    {HTTP_GET, "/api/v1/evaluations/export", api_evaluations_export, SUP, API_SCOPE_KPI_READ, 0,
     "evaluations as CSV or XLSX"},
    {HTTP_GET, "/api/v1/evaluations/{id}", api_evaluations_get, ANY, API_SCOPE_KPI_READ, 0,
     "one evaluation with its items and comments"},
    {HTTP_POST, "/api/v1/evaluations/{id}/publish", api_evaluations_publish, SUP,
     API_SCOPE_CRM_WRITE, 0, "publish a draft evaluation to its person"},
    {HTTP_POST, "/api/v1/evaluations/{id}/freeze", api_evaluations_freeze, SUP, API_SCOPE_CRM_WRITE,
     0, "sign off a published evaluation: immutable from then on"},
    {HTTP_POST, "/api/v1/evaluations/{id}/comments", api_evaluations_comment, ANY,
     API_SCOPE_CRM_WRITE, 0, "comment on an evaluation (agents: their own, published)"},
    {HTTP_GET, "/api/v1/evaluations/{id}/items/{n}/measurements", api_evaluations_measurements, ANY,
     API_SCOPE_KPI_READ, 0, "the measurements behind item n of an evaluation"},
    {HTTP_GET, "/api/v1/digests", api_digests_list, SUP, API_SCOPE_KPI_READ, 0,
     "supervisors' digests of closed periods (supervisors: their own)"},
};

const int api_route_count = (int)ARRAY_LEN(api_routes);
