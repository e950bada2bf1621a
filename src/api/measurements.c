/*
 * measurements.c — reading what the runtime measured: GET /api/v1/measurements (filters,
 * cursor paging), GET /api/v1/measurements/export (the measurement log of every clock as
 * metric events, JSON lines or CSV), GET /api/v1/subjects/{subject}/timeline (a subject's
 * events and its instances' steps with elapsed, target, result, who was charged, segments
 * and log) and GET /api/v1/runtime/status (how far the runtime has folded the ledger, for
 * operators and tests). Every signed-in role reads all measurements (agents included: they
 * work on shared subjects); tokens need kpi:read. The SQL reads tables the runtime owns.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

#define M_COLS                                                                                     \
    "id, instance_id, process_id, version, step_key, occurrence, subject, channel, customer,"      \
    " started_at, done_at, elapsed_ms, target_ms, deadline_at, result, state, charged_actor,"      \
    " charged_team, start_event_id, end_event_id, updated_at,"                                     \
    " (SELECT pin_id FROM instances i WHERE i.id = instance_id)"

static json_t *
measurement_json(struct store_stmt *st)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(store_stmt_int64(st, 0)));
    json_object_set_new(o, "instance_id", json_integer(store_stmt_int64(st, 1)));
    json_object_set_new(o, "process_id", json_integer(store_stmt_int64(st, 2)));
    json_object_set_new(o, "version", json_integer(store_stmt_int64(st, 3)));
    json_object_set_new(o, "step", store_stmt_json_text(st, 4));
    json_object_set_new(o, "occurrence", json_integer(store_stmt_int64(st, 5)));
    json_object_set_new(o, "subject", store_stmt_json_text(st, 6));
    json_object_set_new(o, "channel", store_stmt_json_text(st, 7));
    json_object_set_new(o, "customer", store_stmt_json_text(st, 8));
    json_object_set_new(o, "started_at", store_stmt_json_time(st, 9));
    json_object_set_new(o, "done_at", store_stmt_json_time(st, 10));
    json_object_set_new(o, "elapsed_ms", json_integer(store_stmt_int64(st, 11)));
    json_object_set_new(o, "target_ms", json_integer(store_stmt_int64(st, 12)));
    json_object_set_new(o, "deadline_at", store_stmt_json_time(st, 13));
    json_object_set_new(o, "result", store_stmt_json_text(st, 14));
    json_object_set_new(o, "state", store_stmt_json_text(st, 15));
    json_object_set_new(o, "charged_actor", store_stmt_json_text(st, 16));
    json_object_set_new(o, "charged_team", store_stmt_json_text(st, 17));
    json_object_set_new(o, "start_event_id", store_stmt_json_int(st, 18));
    json_object_set_new(o, "end_event_id", store_stmt_json_int(st, 19));
    json_object_set_new(o, "updated_at", store_stmt_json_time(st, 20));
    /* recompute: the version pin the instance is measured under (null: the version in force
       when it started) */
    json_object_set_new(o, "pin_id", store_stmt_json_int(st, 21));
    return o;
}

struct filters {
    int64_t process, from, to;
    const char *step, *staff, *team, *result;
    bool has_process, has_from, has_to;
};

static const char *
q_nonempty(struct http_request *req, const char *name)
{
    const char *v = http_request_query(req, name);
    return v && v[0] ? v : NULL;
}

/* Reads the filters; false (422 sent) if one is malformed. */
static bool
read_filters(struct http_request *req, struct filters *f)
{
    struct smile_err err;
    const char *v;

    smile_err_clear(&err);
    memset(f, 0, sizeof(*f));
    if ((v = q_nonempty(req, "process")) != NULL) {
        if (str_to_int64(str_from(v), &f->process) != SMILE_OK || f->process <= 0)
            smile_err_field(&err, "/query/process", "must be a process id");
        f->has_process = true;
    }
    f->step = q_nonempty(req, "step");
    f->staff = q_nonempty(req, "staff");
    f->team = q_nonempty(req, "team");
    f->result = q_nonempty(req, "result");
    if (f->result && strcmp(f->result, "open") != 0 && strcmp(f->result, "met") != 0 &&
        strcmp(f->result, "breached") != 0 && strcmp(f->result, "excluded") != 0)
        smile_err_field(&err, "/query/result", "must be open, met, breached or excluded");
    if ((v = q_nonempty(req, "from")) != NULL) {
        if (time_parse_rfc3339(v, strlen(v), &f->from) != SMILE_OK)
            smile_err_field(&err, "/query/from", "must be an RFC 3339 time");
        f->has_from = true;
    }
    if ((v = q_nonempty(req, "to")) != NULL) {
        if (time_parse_rfc3339(v, strlen(v), &f->to) != SMILE_OK)
            smile_err_field(&err, "/query/to", "must be an RFC 3339 time");
        f->has_to = true;
    }
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    return true;
}

static void
bind_filters(struct store_stmt *st, int first, const struct filters *f)
{
    if (f->has_process)
        store_stmt_bind_int64(st, first, f->process);
    else
        store_stmt_bind_null(st, first);
    store_stmt_bind_text(st, first + 1, f->step, -1);
    store_stmt_bind_text(st, first + 2, f->staff, -1);
    store_stmt_bind_text(st, first + 3, f->team, -1);
    store_stmt_bind_text(st, first + 4, f->result, -1);
    if (f->has_from)
        store_stmt_bind_int64(st, first + 5, f->from);
    else
        store_stmt_bind_null(st, first + 5);
    if (f->has_to)
        store_stmt_bind_int64(st, first + 6, f->to);
    else
        store_stmt_bind_null(st, first + 6);
}

#define M_WHERE                                                                                    \
    " AND ($2 IS NULL OR m.process_id = $2) AND ($3 IS NULL OR m.step_key = $3)"                   \
    " AND ($4 IS NULL OR m.charged_actor = $4) AND ($5 IS NULL OR m.charged_team = $5)"            \
    " AND ($6 IS NULL OR m.result = $6) AND ($7 IS NULL OR m.started_at >= $7)"                    \
    " AND ($8 IS NULL OR m.started_at < $8)"

void
api_measurements_list(struct http_request *req)
{
    static const char sql[] =
        "SELECT " M_COLS " FROM measurements m WHERE m.id > $1" M_WHERE " ORDER BY m.id LIMIT $9";
    struct smile_err err;
    struct store_stmt *st;
    struct filters f;
    json_t *items;
    int64_t after = 0, last = 0;
    int limit, n = 0, rc;
    bool more = false;
    char c[24];

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after) || !read_filters(req, &f))
        return;
    if (store_prepare(req->db, sql, &st, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    store_stmt_bind_int64(st, 1, after);
    bind_filters(st, 2, &f);
    store_stmt_bind_int64(st, 9, limit + 1);
    items = json_array();
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        if (n++ == limit) {
            more = true;
            break;
        }
        json_array_append_new(items, measurement_json(st));
        last = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        http_reply_problem(req, &err);
        return;
    }
    snprintf(c, sizeof(c), "%lld", (long long)last);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o}", "items", items, "next_cursor",
                              more ? json_string(c) : json_null()));
}

/* RFC 4180: quote a field if it holds a comma, quote, CR or LF; double the quotes. */
static void
csv_field(struct buf *b, const char *v, bool last)
{
    if (v && strpbrk(v, ",\"\r\n")) {
        buf_putc(b, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                buf_putc(b, '"');
            buf_putc(b, *p);
        }
        buf_putc(b, '"');
    } else if (v) {
        buf_puts(b, v);
    }
    buf_puts(b, last ? "\r\n" : ",");
}

void
api_measurements_export(struct http_request *req)
{
    static const char sql[] =
        "SELECT m.id, m.process_id, m.version, m.step_key, m.occurrence, m.subject,"
        " m.charged_actor, m.charged_team, m.result, l.seq, l.kind, l.at, l.event_id"
        " FROM measurements m JOIN measurement_log l ON l.measurement_id = m.id"
        " WHERE m.id > $1" M_WHERE " ORDER BY m.id, l.seq";
    static const char *const head[] = {
        "measurement_id", "process_id",   "version", "step", "occurrence",   "subject",
        "charged_actor",  "charged_team", "result",  "seq",  "metric_event", "at",
        "event_id"};
    struct smile_err err;
    struct store_stmt *st;
    struct filters f;
    const char *fmt = http_request_query(req, "format");
    bool csv;
    int rc;

    smile_err_clear(&err);
    if (fmt == NULL || fmt[0] == '\0')
        fmt = "jsonl";
    if (strcmp(fmt, "jsonl") != 0 && strcmp(fmt, "csv") != 0) {
        smile_err_field(&err, "/query/format", "must be jsonl or csv");
        http_reply_problem(req, &err);
        return;
    }
    csv = strcmp(fmt, "csv") == 0;
    if (!read_filters(req, &f))
        return;
    if (store_prepare(req->db, sql, &st, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    store_stmt_bind_int64(st, 1, 0);
    bind_filters(st, 2, &f);
    buf_reset(&req->out);
    if (csv)
        for (size_t i = 0; i < ARRAY_LEN(head); i++)
            csv_field(&req->out, head[i], i + 1 == ARRAY_LEN(head));
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        char at[TIME_RFC3339_LEN + 1], n[6][24];

        time_format_rfc3339(store_stmt_int64(st, 11), at);
        if (csv) {
            snprintf(n[0], sizeof(n[0]), "%lld", (long long)store_stmt_int64(st, 0));
            snprintf(n[1], sizeof(n[1]), "%lld", (long long)store_stmt_int64(st, 1));
            snprintf(n[2], sizeof(n[2]), "%lld", (long long)store_stmt_int64(st, 2));
            snprintf(n[3], sizeof(n[3]), "%lld", (long long)store_stmt_int64(st, 4));
            snprintf(n[4], sizeof(n[4]), "%lld", (long long)store_stmt_int64(st, 9));
            if (store_stmt_is_null(st, 12))
                n[5][0] = '\0';
            else
                snprintf(n[5], sizeof(n[5]), "%lld", (long long)store_stmt_int64(st, 12));
            csv_field(&req->out, n[0], false);
            csv_field(&req->out, n[1], false);
            csv_field(&req->out, n[2], false);
            csv_field(&req->out, store_stmt_text(st, 3), false);
            csv_field(&req->out, n[3], false);
            csv_field(&req->out, store_stmt_text(st, 5), false);
            csv_field(&req->out, store_stmt_text(st, 6), false);
            csv_field(&req->out, store_stmt_text(st, 7), false);
            csv_field(&req->out, store_stmt_text(st, 8), false);
            csv_field(&req->out, n[4], false);
            csv_field(&req->out, store_stmt_text(st, 10), false);
            csv_field(&req->out, at, false);
            csv_field(&req->out, n[5], true);
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "measurement_id", json_integer(store_stmt_int64(st, 0)));
            json_object_set_new(o, "process_id", json_integer(store_stmt_int64(st, 1)));
            json_object_set_new(o, "version", json_integer(store_stmt_int64(st, 2)));
            json_object_set_new(o, "step", store_stmt_json_text(st, 3));
            json_object_set_new(o, "occurrence", json_integer(store_stmt_int64(st, 4)));
            json_object_set_new(o, "subject", store_stmt_json_text(st, 5));
            json_object_set_new(o, "charged_actor", store_stmt_json_text(st, 6));
            json_object_set_new(o, "charged_team", store_stmt_json_text(st, 7));
            json_object_set_new(o, "result", store_stmt_json_text(st, 8));
            json_object_set_new(o, "seq", json_integer(store_stmt_int64(st, 9)));
            json_object_set_new(o, "metric_event", store_stmt_json_text(st, 10));
            json_object_set_new(o, "at", json_string(at));
            json_object_set_new(o, "event_id", store_stmt_json_int(st, 12));
            http_json_dump(&req->out, o);
            buf_putc(&req->out, '\n');
            json_decref(o);
        }
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        buf_reset(&req->out);
        http_reply_problem(req, &err);
        return;
    }
    req->status = 200;
    req->content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
}

/* Segments and log of one measurement. */
static int
measurement_detail(struct store *s, json_t *m, int64_t mid, struct smile_err *err)
{
    static const char sql_seg[] = "SELECT actor, team, from_at, to_at, ms FROM"
                                  " measurement_segments WHERE measurement_id = $1 ORDER BY seq";
    static const char sql_log[] = "SELECT kind, at, event_id FROM measurement_log"
                                  " WHERE measurement_id = $1 ORDER BY seq";
    struct store_stmt *st;
    json_t *segs = json_array(), *log = json_array();
    int rc;

    json_object_set_new(m, "segments", segs);
    json_object_set_new(m, "log", log);
    if ((rc = store_prepare(s, sql_seg, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, mid);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(
            segs,
            json_pack("{s:o, s:o, s:o, s:o, s:I}", "actor", store_stmt_json_text(st, 0), "team",
                      store_stmt_json_text(st, 1), "from", store_stmt_json_time(st, 2), "to",
                      store_stmt_json_time(st, 3), "ms", (json_int_t)store_stmt_int64(st, 4)));
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    if ((rc = store_prepare(s, sql_log, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, mid);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(log, json_pack("{s:o, s:o, s:o}", "kind", store_stmt_json_text(st, 0),
                                             "at", store_stmt_json_time(st, 1), "event_id",
                                             store_stmt_json_int(st, 2)));
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

void
api_subjects_timeline(struct http_request *req)
{
    static const char sql_inst[] =
        "SELECT i.id, i.process_id, i.version, i.started_at, i.trigger_event_id, p.name,"
        " i.pin_id"
        " FROM instances i LEFT JOIN processes p ON p.id = i.process_id"
        " WHERE i.subject = $1 ORDER BY i.id";
    static const char sql_m[] = "SELECT " M_COLS " FROM measurements WHERE instance_id = $1"
                                " ORDER BY id";
    struct smile_err err;
    struct ledger_query q = {.from = INT64_MIN, .to = INT64_MAX, .limit = 500};
    struct store_stmt *st;
    json_t *events = NULL, *insts = json_array(), *body;
    int64_t la, li;
    bool more;
    char *subject;
    int rc;

    smile_err_clear(&err);
    if (req->nparams < 1) {
        http_reply_error(req, SMILE_ENOTFOUND, "no such subject");
        json_decref(insts);
        return;
    }
    subject = xstrndup(req->params[0].p, req->params[0].len);
    q.subject = subject;
    if ((rc = ledger_list(req->db, &q, &events, &more, &la, &li, &err)) != SMILE_OK)
        goto fail;
    if ((rc = store_prepare(req->db, sql_inst, &st, &err)) != SMILE_OK)
        goto fail;
    store_stmt_bind_text(st, 1, subject, -1);
    while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
        json_array_append_new(insts, json_pack("{s:I, s:I, s:s?, s:I, s:o, s:I, s:[]}", "id",
                                               (json_int_t)store_stmt_int64(st, 0), "process_id",
                                               (json_int_t)store_stmt_int64(st, 1), "process",
                                               store_stmt_text(st, 5), "version",
                                               (json_int_t)store_stmt_int64(st, 2), "started_at",
                                               store_stmt_json_time(st, 3), "trigger_event_id",
                                               (json_int_t)store_stmt_int64(st, 4), "steps"));
        json_object_set_new(json_array_get(insts, json_array_size(insts) - 1), "pin_id",
                            store_stmt_json_int(st, 6));
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto fail;
    rc = SMILE_OK;
    /* recompute: which version each instance is measured under and why (its pin history). */
    for (size_t i = 0; i < json_array_size(insts) && rc == SMILE_OK; i++) {
        json_t *inst = json_array_get(insts, i), *pins = NULL, *last;
        rc = runtime_pins_json(
            req->db, subject, json_integer_value(json_object_get(inst, "process_id")), &pins, &err);
        if (rc != SMILE_OK)
            break;
        last = json_array_get(pins, json_array_size(pins) - 1);
        json_object_set_new(inst, "version_reason",
                            json_string(last ? "re-pinned by a recompute"
                                             : "the version in force when it started"));
        json_object_set_new(inst, "pins", pins);
    }
    if (rc != SMILE_OK)
        goto fail;
    for (size_t i = 0; i < json_array_size(insts) && rc == SMILE_OK; i++) {
        json_t *inst = json_array_get(insts, i), *steps = json_object_get(inst, "steps");
        json_t **ms = NULL;
        size_t nm = 0;
        if ((rc = store_prepare(req->db, sql_m, &st, &err)) != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, json_integer_value(json_object_get(inst, "id")));
        while ((rc = store_stmt_step(st, &err)) == STORE_ROW) {
            ms = xrealloc(ms, (nm + 1) * sizeof(*ms));
            ms[nm++] = measurement_json(st);
        }
        store_stmt_reset(st);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
        for (size_t k = 0; k < nm; k++) {
            if (rc == SMILE_OK)
                rc = measurement_detail(req->db, ms[k],
                                        json_integer_value(json_object_get(ms[k], "id")), &err);
            json_array_append_new(steps, ms[k]);
        }
        free(ms);
    }
    if (rc != SMILE_OK)
        goto fail;
    body = json_pack("{s:s, s:o, s:b, s:o}", "subject", subject, "events", events,
                     "events_truncated", more, "instances", insts);
    free(subject);
    http_reply_json(req, 200, body);
    return;
fail:
    free(subject);
    json_decref(events);
    json_decref(insts);
    http_reply_problem(req, &err);
}

void
api_runtime_status(struct http_request *req)
{
    struct runtime_status s = {0};
    struct runtime *rt = api_app()->runtime;

    if (rt)
        runtime_status(rt, &s);
    http_reply_json(req, 200,
                    json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "running", rt != NULL,
                              "pending_subjects", (json_int_t)s.pending, "last_event_id_seen",
                              (json_int_t)s.last_event_id_seen, "last_event_id_folded",
                              (json_int_t)s.last_event_id_folded, "folds", (json_int_t)s.folds,
                              "errors", (json_int_t)s.errors));
}
