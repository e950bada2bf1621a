/*
 * health.c — operations endpoints: /healthz (the process answers), /readyz (the
 * database answers and the schema is current), /metrics (Prometheus text) and the
 * OpenAPI document, which is embedded in the binary from docs/openapi.json.
 */
#include "api/api.h"
#include "notify/notify.h"

#include <string.h>

#include "ledger/ledger.h"
#include "intake/intake.h"
#include "mailnotify/mailnotify.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "store/store.h"
#include "webhook/webhook.h"

extern const struct {
    const char *name;
    const unsigned char *data;
    size_t size;
} api_docs[];

void
api_healthz(struct http_request *req)
{
    http_reply_json(req, 200, json_pack("{s:s, s:s}", "status", "ok", "version", SMILE_VERSION));
}

void
api_readyz(struct http_request *req)
{
    struct smile_err err;
    int have = 0, want = 0;
    json_t *body;
    bool ok;

    smile_err_clear(&err);
    ok = store_schema_version(req->db, &have, &want, &err) == SMILE_OK && have == want;
    body = json_pack("{s:s, s:{s:s, s:i, s:i}}", "status", ok ? "ready" : "not_ready", "database",
                     "status", ok ? "ok" : "error", "schema_version", have, "binary_schema_version",
                     want);
    if (ami_client_active()) /* intake: reported, not a readiness condition */
        json_object_set_new(body, "ami", ami_client_status_json(ami_client_active()));
    http_reply_json(req, ok ? 200 : 503, body);
}

void
api_metrics(struct http_request *req)
{
    req->status = 200;
    req->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&req->out);
    buf_printf(&req->out,
               "# HELP smile_up 1 while the server runs.\n# TYPE smile_up gauge\nsmile_up 1\n"
               "# HELP smile_start_time_seconds Start time of the process.\n"
               "# TYPE smile_start_time_seconds gauge\nsmile_start_time_seconds %.3f\n",
               (double)api_app()->started_ms / 1000.0);
    api_metrics_render(&req->out);
    if (api_app()->pool) {
        struct store_pool_stats ps;

        store_pool_stats(api_app()->pool, &ps);
        buf_printf(&req->out,
                   "# HELP smile_store_commits_total Group-commit transactions of the writer.\n"
                   "# TYPE smile_store_commits_total counter\nsmile_store_commits_total %llu\n"
                   "# HELP smile_store_commit_members_total Transactions those commits carried.\n"
                   "# TYPE smile_store_commit_members_total counter\n"
                   "smile_store_commit_members_total %llu\n"
                   "# HELP smile_store_wal_syncs_total fdatasync calls of the WAL after COMMIT "
                   "(0 when COMMIT syncs itself).\n"
                   "# TYPE smile_store_wal_syncs_total counter\nsmile_store_wal_syncs_total %llu\n"
                   "# HELP smile_store_wal_sync_seconds_total Time spent in those calls.\n"
                   "# TYPE smile_store_wal_sync_seconds_total counter\n"
                   "smile_store_wal_sync_seconds_total %.6f\n",
                   (unsigned long long)ps.commits, (unsigned long long)ps.members,
                   (unsigned long long)ps.syncs, (double)ps.sync_ns / 1e9);
    }
    if (api_app()->ledger)
        ledger_metrics_render(api_app()->ledger, &req->out);
    if (ami_client_active())
        ami_client_metrics_render(ami_client_active(), &req->out);
    if (webhook_active()) /* webhook */
        webhook_metrics_render(webhook_active(), &req->out);
    if (api_app()->runtime) {
        struct runtime_status rs;

        runtime_status(api_app()->runtime, &rs);
        buf_printf(&req->out,
                   "# HELP smile_runtime_pending_subjects Subjects queued or being folded.\n"
                   "# TYPE smile_runtime_pending_subjects gauge\n"
                   "smile_runtime_pending_subjects %zu\n"
                   "# HELP smile_runtime_lag_events Committed events not yet folded.\n"
                   "# TYPE smile_runtime_lag_events gauge\n"
                   "smile_runtime_lag_events %lld\n"
                   "# HELP smile_runtime_folds_total Subjects folded since start.\n"
                   "# TYPE smile_runtime_folds_total counter\n"
                   "smile_runtime_folds_total %llu\n"
                   "# HELP smile_runtime_errors_total Folds that failed.\n"
                   "# TYPE smile_runtime_errors_total counter\n"
                   "smile_runtime_errors_total %llu\n",
                   rs.pending, (long long)(rs.last_event_id_seen - rs.last_event_id_folded),
                   (unsigned long long)rs.folds, (unsigned long long)rs.errors);
    }
    if (api_app()->scheduler) {
        struct scheduler_stats ss;

        scheduler_stats(api_app()->scheduler, &ss);
        buf_printf(&req->out,
                   "# HELP smile_scheduler_fired_total Deadlines handled.\n"
                   "# TYPE smile_scheduler_fired_total counter\n"
                   "smile_scheduler_fired_total %llu\n"
                   "# HELP smile_scheduler_events_created_total sla.* events appended.\n"
                   "# TYPE smile_scheduler_events_created_total counter\n"
                   "smile_scheduler_events_created_total %llu\n"
                   "# HELP smile_scheduler_max_late_seconds The latest fire after its due time.\n"
                   "# TYPE smile_scheduler_max_late_seconds gauge\n"
                   "smile_scheduler_max_late_seconds %.3f\n",
                   (unsigned long long)ss.fired, (unsigned long long)ss.created,
                   (double)ss.max_late_ms / 1000.0);
    }
    /* notify: escalation counters and open event streams */
    notify_metrics_render(&req->out);
    buf_printf(&req->out,
               "# HELP smile_http_streams_open Server-Sent Events streams open.\n"
               "# TYPE smile_http_streams_open gauge\n"
               "smile_http_streams_open %d\n",
               http_stream_count());
    mailnotify_metrics_render(&req->out); /* mailnotify: system e-mail outbox */
}

void
api_openapi(struct http_request *req)
{
    for (int i = 0; api_docs[i].name; i++) {
        if (strcmp(api_docs[i].name, "openapi.json") == 0) {
            req->status = 200;
            req->content_type = "application/json";
            req->static_body = api_docs[i].data;
            req->static_len = api_docs[i].size;
            return;
        }
    }
    http_reply_error(req, SMILE_ENOTFOUND, "no OpenAPI document in this build");
}
