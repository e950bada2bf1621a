/*
 * notify.c — the notifications table: create inside a caller's transaction, render, list
 * one user's (newest first, cursor-paged, unread filter), the stream's resume query, mark
 * read; and the hooks that learn of each notification after it committed (the SSE stream,
 * later the mail part). The last stage of the escalation path (escalate.c) and the store
 * behind the /api/v1/notifications handlers.
 */
#include "notify/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "store/store.h"

#define MAX_HOOKS 8

static _Atomic uint64_t counters[5];

static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    notify_hook_fn *fn;
    void *ud;
} hooks[MAX_HOOKS];
static int nhooks;
static notify_board_fn *board_fn;
static notify_board_wanted_fn *board_wanted;
static notify_tx_hook_fn *tx_fn; /* mailnotify: the outbox row, same transaction */
static void *tx_ud;
static void *board_ud;

#define COLS                                                                                       \
    "id, user_id, kind, title_en, title_zh, body_en, body_zh, subject, case_id, measurement_id, "  \
    "event_id, data, created_at, read_at"

/* One row (selected with COLS) as the API renders it. */
static json_t *
render(struct store_stmt *st)
{
    const char *data = store_stmt_text(st, 11);
    json_t *d = data ? json_loads(data, 0, NULL) : NULL;

    return json_pack(
        "{s:I, s:I, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:b}",
        "id", (json_int_t)store_stmt_int64(st, 0), "user_id", (json_int_t)store_stmt_int64(st, 1),
        "kind", store_stmt_text(st, 2), "title", "en", store_stmt_text(st, 3), "zh",
        store_stmt_text(st, 4), "body", "en", store_stmt_text(st, 5), "zh", store_stmt_text(st, 6),
        "subject", store_stmt_json_text(st, 7), "case_id", store_stmt_json_int(st, 8),
        "measurement_id", store_stmt_json_int(st, 9), "event_id", store_stmt_json_int(st, 10),
        "data", d ? d : json_object(), "created_at", store_stmt_json_time(st, 12), "read_at",
        store_stmt_json_time(st, 13), "read", !store_stmt_is_null(st, 13));
}

static void
bind_opt_id(struct store_stmt *st, int k, int64_t v)
{
    if (v > 0)
        store_stmt_bind_int64(st, k, v);
    else
        store_stmt_bind_null(st, k);
}

int
notify_create(struct store *s, const struct notify_new *n, int64_t *out_id, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO notifications (user_id, kind, title_en, title_zh, body_en, body_zh, subject,"
        " case_id, measurement_id, event_id, data, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    static const char last[] = "SELECT last_insert_rowid()";
    struct store_stmt *st;
    char *data = n->data ? json_dumps(n->data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK) {
        free(data);
        return rc;
    }
    store_stmt_bind_int64(st, 1, n->user_id);
    store_stmt_bind_text(st, 2, n->kind, -1);
    store_stmt_bind_text(st, 3, n->title_en, -1);
    store_stmt_bind_text(st, 4, n->title_zh, -1);
    store_stmt_bind_text(st, 5, n->body_en, -1);
    store_stmt_bind_text(st, 6, n->body_zh, -1);
    store_stmt_bind_text(st, 7, n->subject, -1);
    bind_opt_id(st, 8, n->case_id);
    bind_opt_id(st, 9, n->measurement_id);
    bind_opt_id(st, 10, n->event_id);
    store_stmt_bind_text(st, 11, data ? data : "{}", -1);
    store_stmt_bind_int64(st, 12, time_now_ms());
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    free(data);
    if (rc != STORE_DONE)
        return rc;
    if ((rc = store_query_int64(s, last, out_id, err)) != SMILE_OK)
        return rc;
    {
        notify_tx_hook_fn *fn;
        void *ud;

        pthread_mutex_lock(&hooks_mu);
        fn = tx_fn;
        ud = tx_ud;
        pthread_mutex_unlock(&hooks_mu);
        if (fn)
            return fn(s, *out_id, n, ud, err);
    }
    return SMILE_OK;
}

int
notify_get(struct store *s, int64_t user_id, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT " COLS " FROM notifications WHERE id = $1 AND user_id = $2";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_int64(st, 2, user_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *out = render(st);
    store_stmt_reset(st);
    if (rc == STORE_ROW)
        return SMILE_OK;
    if (rc == STORE_DONE)
        return smile_err_set(err, SMILE_ENOTFOUND, "no notification %lld", (long long)id);
    return rc;
}

int
notify_list(struct store *s, int64_t user_id, bool unread_only, int64_t before_id, int limit,
            json_t **out, struct smile_err *err)
{
    /* Two shapes so each uses its index (notifications_unread is partial). */
    static const char sql_all[] = "SELECT " COLS " FROM notifications WHERE user_id = $1"
                                  " AND id < $2 ORDER BY id DESC LIMIT $3";
    static const char sql_unread[] = "SELECT " COLS " FROM notifications WHERE user_id = $1"
                                     " AND id < $2 AND read_at IS NULL ORDER BY id DESC LIMIT $3";
    static const char sql_count[] =
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL";
    struct store_stmt *st;
    json_t *items = json_array();
    int64_t last = 0, unread = 0;
    bool more = false;
    int rc = store_prepare(s, unread_only ? sql_unread : sql_all, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        goto fail;
    store_stmt_bind_int64(st, 1, user_id);
    store_stmt_bind_int64(st, 2, before_id > 0 ? before_id : INT64_MAX);
    store_stmt_bind_int64(st, 3, limit + 1); /* one more row says another page follows */
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if ((int)json_array_size(items) == limit) {
            more = true;
            rc = STORE_DONE;
            break;
        }
        last = store_stmt_int64(st, 0);
        json_array_append_new(items, render(st));
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto fail;
    if ((rc = store_prepare(s, sql_count, &st, err)) != SMILE_OK)
        goto fail;
    store_stmt_bind_int64(st, 1, user_id);
    if (store_stmt_step(st, err) == STORE_ROW)
        unread = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    if (more) {
        char cur[24];

        snprintf(cur, sizeof(cur), "%lld", (long long)last);
        *out = json_pack("{s:o, s:s, s:I}", "items", items, "next_cursor", cur, "unread",
                         (json_int_t)unread);
    } else {
        *out = json_pack("{s:o, s:n, s:I}", "items", items, "next_cursor", "unread",
                         (json_int_t)unread);
    }
    return SMILE_OK;
fail:
    json_decref(items);
    return rc == STORE_DONE || rc == STORE_ROW ? SMILE_EDB : rc;
}

int
notify_since(struct store *s, int64_t user_id, int64_t after_id, int limit, json_t **out,
             struct smile_err *err)
{
    static const char sql[] = "SELECT " COLS " FROM notifications WHERE user_id = $1"
                              " AND id > $2 ORDER BY id LIMIT $3";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    *out = json_array();
    store_stmt_bind_int64(st, 1, user_id);
    store_stmt_bind_int64(st, 2, after_id);
    store_stmt_bind_int64(st, 3, limit);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(*out, render(st));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    return SMILE_OK;
}

int
notify_mark_read(struct store *s, int64_t user_id, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = "UPDATE notifications SET read_at = $1"
                              " WHERE id = $2 AND user_id = $3 AND read_at IS NULL";
    struct store_stmt *st;
    int rc;

    *out = NULL;
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    if ((rc = notify_get(s, user_id, id, out, err)) != SMILE_OK)
        goto fail;
    json_decref(*out);
    *out = NULL;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        goto fail;
    store_stmt_bind_int64(st, 1, time_now_ms());
    store_stmt_bind_int64(st, 2, id);
    store_stmt_bind_int64(st, 3, user_id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto fail;
    if ((rc = notify_get(s, user_id, id, out, err)) != SMILE_OK)
        goto fail;
    if ((rc = store_commit(s, err)) != SMILE_OK) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    return SMILE_OK;
fail:
    store_rollback(s);
    return rc;
}

int
notify_mark_all_read(struct store *s, int64_t user_id, int64_t *out_n, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL";
    struct store_stmt *st;
    int rc;

    *out_n = 0;
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK) {
        store_rollback(s);
        return rc;
    }
    store_stmt_bind_int64(st, 1, time_now_ms());
    store_stmt_bind_int64(st, 2, user_id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        store_rollback(s);
        return rc;
    }
    *out_n = store_changes(s);
    return store_commit(s, err);
}

void
notify_hook_add(notify_hook_fn *fn, void *ud)
{
    pthread_mutex_lock(&hooks_mu);
    if (nhooks < MAX_HOOKS) {
        hooks[nhooks].fn = fn;
        hooks[nhooks].ud = ud;
        nhooks++;
    }
    pthread_mutex_unlock(&hooks_mu);
}

void
notify_hooks_clear(void)
{
    pthread_mutex_lock(&hooks_mu);
    nhooks = 0;
    tx_fn = NULL;
    tx_ud = NULL;
    board_fn = NULL;
    board_wanted = NULL;
    board_ud = NULL;
    pthread_mutex_unlock(&hooks_mu);
    notify_task_set(NULL, NULL);
    notify_tasks_reset();
}

void
notify_tx_hook_set(notify_tx_hook_fn *fn, void *ud)
{
    pthread_mutex_lock(&hooks_mu);
    tx_fn = fn;
    tx_ud = ud;
    pthread_mutex_unlock(&hooks_mu);
}

void
notify_board_set(notify_board_fn *fn, notify_board_wanted_fn *wanted, void *ud)
{
    pthread_mutex_lock(&hooks_mu);
    board_fn = fn;
    board_wanted = wanted;
    board_ud = ud;
    pthread_mutex_unlock(&hooks_mu);
}

bool
notify_board_listening(void)
{
    notify_board_fn *fn;
    notify_board_wanted_fn *wanted;
    void *ud;

    pthread_mutex_lock(&hooks_mu);
    fn = board_fn;
    wanted = board_wanted;
    ud = board_ud;
    pthread_mutex_unlock(&hooks_mu);
    return fn && (wanted == NULL || wanted(ud));
}

/* For escalate.c: the board hook, called outside the lock. */
void notify_board_emit(const char *kind, const json_t *ev);

void
notify_board_emit(const char *kind, const json_t *ev)
{
    notify_board_fn *fn;
    void *ud;

    pthread_mutex_lock(&hooks_mu);
    fn = board_fn;
    ud = board_ud;
    pthread_mutex_unlock(&hooks_mu);
    if (fn)
        fn(kind, ev, ud);
}

void
notify_published(struct store *s, int64_t id)
{
    static const char sql[] = "SELECT " COLS " FROM notifications WHERE id = $1";
    struct store_stmt *st;
    struct smile_err err;
    json_t *n = NULL;
    int64_t user = 0;
    int count;

    pthread_mutex_lock(&hooks_mu);
    count = nhooks;
    pthread_mutex_unlock(&hooks_mu);
    if (count == 0)
        return;
    smile_err_clear(&err);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        return;
    store_stmt_bind_int64(st, 1, id);
    if (store_stmt_step(st, &err) == STORE_ROW) {
        n = render(st);
        user = store_stmt_int64(st, 1);
    }
    store_stmt_reset(st);
    if (n == NULL)
        return;
    for (int i = 0; i < count; i++)
        hooks[i].fn(user, id, n, hooks[i].ud);
    json_decref(n);
}

void
notify_metrics_count(int kind, uint64_t n)
{
    if (kind >= 0 && kind < 5)
        atomic_fetch_add(&counters[kind], n);
}

void
notify_metrics_render(struct buf *b)
{
    buf_printf(b,
               "# HELP smile_notify_notifications_total In-app notifications created.\n"
               "# TYPE smile_notify_notifications_total counter\n"
               "smile_notify_notifications_total %llu\n"
               "# HELP smile_notify_actions_total Escalation reassignments and priority raises.\n"
               "# TYPE smile_notify_actions_total counter\n"
               "smile_notify_actions_total %llu\n"
               "# HELP smile_notify_skipped_total Escalation rules skipped (see the log).\n"
               "# TYPE smile_notify_skipped_total counter\n"
               "smile_notify_skipped_total %llu\n"
               "# HELP smile_notify_escalated_total sla.* events escalated.\n"
               "# TYPE smile_notify_escalated_total counter\n"
               "smile_notify_escalated_total %llu\n"
               "# HELP smile_notify_task_events_total Task events sent to people's streams.\n"
               "# TYPE smile_notify_task_events_total counter\n"
               "smile_notify_task_events_total %llu\n",
               (unsigned long long)atomic_load(&counters[0]),
               (unsigned long long)atomic_load(&counters[1]),
               (unsigned long long)atomic_load(&counters[2]),
               (unsigned long long)atomic_load(&counters[3]),
               (unsigned long long)atomic_load(&counters[4]));
    {
        uint64_t closed = 0, evicted = 0;

        http_stream_stats(&closed, &evicted);
        buf_printf(b,
                   "# HELP smile_http_streams_client_left_total Suspended event streams ended "
                   "because their client had closed the connection.\n"
                   "# TYPE smile_http_streams_client_left_total counter\n"
                   "smile_http_streams_client_left_total %llu\n"
                   "# HELP smile_http_streams_evicted_total Event streams ended for a newer "
                   "stream of the same user at max_streams_per_user.\n"
                   "# TYPE smile_http_streams_evicted_total counter\n"
                   "smile_http_streams_evicted_total %llu\n",
                   (unsigned long long)closed, (unsigned long long)evicted);
    }
}
