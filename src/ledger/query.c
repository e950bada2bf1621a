/*
 * query.c — reading the ledger: one event by id, and filtered pages of events in
 * (occurred_at, id) order with a cursor. Runs on the caller's pooled connection, never on
 * the writer. Two fixed statements (with and without a subject) let SQLite use the
 * events_subject or events_time index; the other filters are bound values.
 */
#include "ledger/ledger.h"

#include <string.h>

#include "store/store.h"

#define COLUMNS                                                                                    \
    "id, type, occurred_at, received_at, subject, actor, customer, channel, source, source_id, "   \
    "data"

static json_t *
row_json(struct store_stmt *st)
{
    struct ledger_event ev = {
        .type = store_stmt_text(st, 1),
        .occurred_at = store_stmt_int64(st, 2),
        .subject = store_stmt_text(st, 4),
        .actor = store_stmt_text(st, 5),
        .customer = store_stmt_text(st, 6),
        .channel = store_stmt_text(st, 7),
        .source = store_stmt_text(st, 8),
        .source_id = store_stmt_text(st, 9),
    };

    return ledger_event_json(store_stmt_int64(st, 0), &ev, store_stmt_int64(st, 3),
                             store_stmt_text(st, 10));
}

int
ledger_get(struct store *s, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT " COLUMNS " FROM events WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out = row_json(st);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no event %lld", (long long)id);
    }
    store_stmt_reset(st);
    return rc;
}

int
ledger_list(struct store *s, const struct ledger_query *q, json_t **out, bool *out_more,
            int64_t *out_last_at, int64_t *out_last_id, struct smile_err *err)
{
    /* (occurred_at, id) > ($a, $b) is the lower bound: the cursor, or from with id 0. */
    static const char by_subject[] =
        "SELECT " COLUMNS " FROM events WHERE subject = $1 AND ($2 IS NULL OR type = $2) "
        "AND (occurred_at, id) > ($3, $4) AND occurred_at < $5 ORDER BY occurred_at, id LIMIT $6";
    static const char by_time[] =
        "SELECT " COLUMNS " FROM events WHERE ($1 IS NULL OR type = $1) "
        "AND (occurred_at, id) > ($2, $3) AND occurred_at < $4 ORDER BY occurred_at, id LIMIT $5";
    struct store_stmt *st;
    int64_t lo_at = q->from, lo_id = 0;
    int k = 1, n = 0, rc;
    json_t *arr;

    /* from is inclusive: every id is ≥ 1, so (from, 0) admits occurred_at == from. */
    if (q->from == INT64_MIN) {
        lo_at = INT64_MIN;
        lo_id = 0;
    }
    if (q->has_cursor && (q->after_at > lo_at || (q->after_at == lo_at && q->after_id > lo_id))) {
        lo_at = q->after_at;
        lo_id = q->after_id;
    }
    rc = store_prepare(s, q->subject ? by_subject : by_time, &st, err);
    if (rc != SMILE_OK)
        return rc;
    if (q->subject)
        store_stmt_bind_text(st, k++, q->subject, -1);
    store_stmt_bind_text(st, k++, q->type, -1);
    store_stmt_bind_int64(st, k++, lo_at);
    store_stmt_bind_int64(st, k++, lo_id);
    store_stmt_bind_int64(st, k++, q->to);
    store_stmt_bind_int64(st, k++, (int64_t)q->limit + 1);
    arr = json_array();
    *out_more = false;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == q->limit) {
            *out_more = true;
            continue;
        }
        *out_last_at = store_stmt_int64(st, 2);
        *out_last_id = store_stmt_int64(st, 0);
        json_array_append_new(arr, row_json(st));
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SMILE_OK;
}
