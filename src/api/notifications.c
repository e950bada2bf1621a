/*
 * notifications.c — the caller's in-app notifications (list, mark read, mark all read), the
 * escalation log, and the live stream at /api/v1/stream (Server-Sent Events: the caller's
 * new notifications, and to supervisors and admins the sla.* and case.* events of the live
 * board). Thin: parse → notify/ or http/ stream → render. Also wires the notify part's hooks
 * to the stream (api_notify_wire, called once by `smile serve`). Built with the notify part
 * (meson notify_src).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "notify/notify.h"
#include "store/store.h"

#define STREAM_BACKLOG 200

void
api_notifications_list(struct http_request *req)
{
    const char *u = http_request_query(req, "unread");
    struct smile_err err;
    json_t *out = NULL;
    int64_t cursor = 0;
    int limit;
    bool unread = false;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &cursor))
        return;
    if (u && (strcmp(u, "1") == 0 || strcmp(u, "true") == 0))
        unread = true;
    else if (u && strcmp(u, "0") != 0 && strcmp(u, "false") != 0) {
        smile_err_field(&err, "/query/unread", "unread must be 1, 0, true or false");
        http_reply_problem(req, &err);
        return;
    }
    if (notify_list(req->db, req->auth.user_id, unread, cursor, limit, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

static bool
empty_body(struct http_request *req)
{
    struct smile_err err;
    json_t *body = NULL;

    if (req->body_len == 0)
        return true;
    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    if (json_object_size(body) > 0) {
        const char *k;
        json_t *v;

        json_object_foreach(body, k, v)
        {
            char p[80];

            snprintf(p, sizeof(p), "/%.70s", k);
            smile_err_field(&err, p, "this action takes no fields");
        }
        json_decref(body);
        http_reply_problem(req, &err);
        return false;
    }
    json_decref(body);
    return true;
}

void
api_notifications_read(struct http_request *req)
{
    struct smile_err err;
    json_t *out = NULL;
    int64_t id;

    if (!api_param_id(req, 0, &id) || !empty_body(req))
        return;
    smile_err_clear(&err);
    if (notify_mark_read(req->db, req->auth.user_id, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_notifications_read_all(struct http_request *req)
{
    struct smile_err err;
    int64_t n = 0;

    if (!empty_body(req))
        return;
    smile_err_clear(&err);
    if (notify_mark_all_read(req->db, req->auth.user_id, &n, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:I}", "marked", (json_int_t)n));
}

/* Whether the Accept header allows an event stream (absent: yes). */
static bool
accepts_stream(const char *a)
{
    return a == NULL || strstr(a, "text/event-stream") || strstr(a, "*/*") || strstr(a, "text/*");
}

void
api_stream(struct http_request *req)
{
    const char *last = http_request_header(req, "Last-Event-ID");
    const char *q = http_request_query(req, "last_event_id");
    struct smile_err err;
    int64_t last_id = -1;

    smile_err_clear(&err);
    if (!accepts_stream(http_request_header(req, "Accept"))) {
        http_reply_json(req, 406,
                        json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                                  "Not Acceptable", "status", 406, "detail",
                                  "this is an event stream: send Accept: text/event-stream"));
        req->content_type = "application/problem+json";
        return;
    }
    if (last == NULL)
        last = q;
    if (last && (str_to_int64(str_from(last), &last_id) != SMILE_OK || last_id < 0)) {
        smile_err_field(&err, "/headers/Last-Event-ID",
                        "Last-Event-ID must be the id of a notification received before");
        http_reply_problem(req, &err);
        return;
    }
    if (http_stream_open(req, req->auth.user_id, (unsigned)req->auth.role, &err) != SMILE_OK) {
        http_response_header(req, "Retry-After", "10");
        http_reply_problem(req, &err);
        return;
    }
    if (last_id >= 0) {
        json_t *items = NULL, *v;
        size_t i;

        if (notify_since(req->db, req->auth.user_id, last_id, STREAM_BACKLOG, &items, &err) ==
            SMILE_OK) {
            json_array_foreach(items, i, v)
            {
                char *s = json_dumps(v, JSON_COMPACT);

                http_stream_backlog(req, "notification",
                                    json_integer_value(json_object_get(v, "id")), s);
                free(s);
            }
        }
        json_decref(items);
    }
    http_stream_ready(req);
    req->status = 200;
}

void
api_escalations_list(struct http_request *req)
{
    static const char sql[] =
        "SELECT id, event_id, rule, subject, case_id, process_id, version, step_key, kind,"
        " action, outcome, detail, at FROM escalations WHERE ($1 IS NULL OR case_id = $1)"
        " AND id < $2 ORDER BY id DESC LIMIT $3";
    const char *cs = http_request_query(req, "case_id");
    struct store_stmt *st;
    struct smile_err err;
    json_t *items = json_array();
    int64_t cursor = 0, case_id = 0, last = 0;
    int limit, rc, n = 0;
    bool more = false;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &cursor))
        goto out;
    if (cs && (str_to_int64(str_from(cs), &case_id) != SMILE_OK || case_id <= 0)) {
        smile_err_field(&err, "/query/case_id", "case_id must be a case id");
        http_reply_problem(req, &err);
        goto out;
    }
    if ((rc = store_prepare(req->db, sql, &st, &err)) != SMILE_OK) {
        http_reply_problem(req, &err);
        goto out;
    }
    if (case_id)
        store_stmt_bind_int64(st, 1, case_id);
    else
        store_stmt_bind_null(st, 1);
    store_stmt_bind_int64(st, 2, cursor > 0 ? cursor : INT64_MAX);
    store_stmt_bind_int64(st, 3, limit + 1);
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        char at[TIME_RFC3339_LEN + 1];

        if (n == limit) {
            more = true;
            break;
        }
        last = store_stmt_int64(st, 0);
        time_format_rfc3339(store_stmt_int64(st, 12), at);
        json_array_append_new(
            items,
            json_pack(
                "{s:I, s:I, s:I, s:s, s:o, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
                (json_int_t)last, "event_id", (json_int_t)store_stmt_int64(st, 1), "rule",
                (json_int_t)store_stmt_int64(st, 2), "subject", store_stmt_text(st, 3), "case_id",
                store_stmt_is_null(st, 4) ? json_null() : json_integer(store_stmt_int64(st, 4)),
                "process_id", (json_int_t)store_stmt_int64(st, 5), "version",
                (json_int_t)store_stmt_int64(st, 6), "step", store_stmt_text(st, 7), "kind",
                store_stmt_text(st, 8), "action", store_stmt_text(st, 9), "outcome",
                store_stmt_text(st, 10), "detail", store_stmt_text(st, 11), "at", at));
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        http_reply_problem(req, &err);
        goto out;
    }
    if (more) {
        char c[24];

        snprintf(c, sizeof(c), "%lld", (long long)last);
        http_reply_json(req, 200, json_pack("{s:O, s:s}", "items", items, "next_cursor", c));
    } else {
        http_reply_json(req, 200, json_pack("{s:O, s:n}", "items", items, "next_cursor"));
    }
out:
    json_decref(items);
}

/* Hooks: notify → the stream ---------------------------------------------------------- */

static void
stream_notification(int64_t user_id, int64_t id, const json_t *n, void *ud)
{
    char *s = json_dumps(n, JSON_COMPACT);

    (void)ud;
    if (s)
        http_stream_publish(user_id, 0, "notification", id, s);
    free(s);
}

static void
stream_board(const char *kind, const json_t *ev, void *ud)
{
    char *s = json_dumps(ev, JSON_COMPACT);

    (void)ud;
    if (s)
        http_stream_publish(0, API_ROLES_SUP, kind, 0, s);
    free(s);
}

/* The board goes to supervisors' and admins' streams; any open stream is a cheap proxy. */
static bool
board_wanted(void *ud)
{
    (void)ud;
    return http_stream_count() > 0;
}

static void
stream_task(int64_t user_id, const json_t *task, void *ud)
{
    char *s = json_dumps(task, JSON_COMPACT);

    (void)ud;
    if (s)
        http_stream_publish(user_id, 0, "task", 0, s);
    free(s);
}

void
api_notify_wire(void)
{
    notify_hook_add(stream_notification, NULL);
    notify_board_set(stream_board, board_wanted, NULL);
    notify_task_set(stream_task, NULL);
}
