/*
 * indicators.c — the indicator API: GET /api/v1/indicators (one indicator over a period,
 * grouped by staff, team, process, step, channel or as a time series by day, week, month
 * or quarter), GET /api/v1/indicators/export (one or more indicators side by side as CSV or
 * XLSX) and GET /api/v1/indicators/catalog (the indicators there are, in English and
 * Chinese). Thin: parse and check the query, apply the access rule, call
 * kpi_indicator_rows(), render. Access: supervisors and admins read everyone's; an agent
 * reads only their own — the staff filter is set to the caller, and asking for someone
 * else's is refused (403). Tokens need kpi:read. docs/indicators.md.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "calendar/calendar.h"
#include "kpi/kpi.h"
#include "runtime/runtime.h"

#define MAX_NAMES 16

struct query {
    const char *names[MAX_NAMES];
    size_t nnames;
    char *names_buf;
    enum kpi_by by;
    int64_t from, to;
    char period[64];
    struct kpi_filter f;
};

static const char *
q_nonempty(struct http_request *req, const char *name)
{
    const char *v = http_request_query(req, name);
    return v && v[0] ? v : NULL;
}

/* The current month in China Standard Time (the default period). */
static void
this_month(int64_t *from, int64_t *to)
{
    int64_t days = (time_now_ms() + 8 * 3600000LL) / 86400000LL, y;
    unsigned m, d;

    time_civil_from_days(days, &y, &m, &d);
    *from = time_days_from_civil(y, m, 1);
    *to = (m == 12 ? time_days_from_civil(y + 1, 1, 1) : time_days_from_civil(y, m + 1, 1)) - 1;
}

/*
 * Reads and checks the query; many: name may list several indicators (comma-separated).
 * false when a reply (422 or 403) has been sent.
 */
static bool
read_query(struct http_request *req, struct query *q, bool many)
{
    struct smile_err err;
    const char *v;

    smile_err_clear(&err);
    memset(q, 0, sizeof(*q));
    if ((v = q_nonempty(req, "name")) == NULL) {
        smile_err_field(&err, "/query/name",
                        "is required: an indicator name (see "
                        "/api/v1/indicators/catalog)");
    } else {
        char *tok = NULL, *next;
        q->names_buf = xstrdup(v);
        for (tok = q->names_buf; tok; tok = next) {
            if ((next = strchr(tok, ',')) != NULL)
                *next++ = '\0';
            if (kpi_indicator_find(tok) == NULL) {
                smile_err_field(&err, "/query/name", "unknown indicator '%s'", tok);
                break;
            }
            if (q->nnames == MAX_NAMES || (!many && q->nnames == 1)) {
                smile_err_field(&err, "/query/name",
                                many ? "at most 16 indicators" : "one indicator");
                break;
            }
            q->names[q->nnames++] = tok;
        }
        if (q->nnames == 0 && err.code == SMILE_OK)
            smile_err_field(&err, "/query/name", "is required");
    }
    if (!kpi_by_parse(http_request_query(req, "by"), &q->by))
        smile_err_field(&err, "/query/by",
                        "must be staff, team, process, step, channel, customer_tag, day, week, "
                        "month or quarter");
    if ((v = q_nonempty(req, "period")) != NULL) {
        struct smile_err e2;
        smile_err_clear(&e2);
        if (kpi_period_parse(v, &q->from, &q->to, &e2) != SMILE_OK)
            smile_err_field(&err, "/query/period", "%s", e2.msg);
        snprintf(q->period, sizeof(q->period), "%s", v);
    } else {
        this_month(&q->from, &q->to);
    }
    if ((v = q_nonempty(req, "process")) != NULL) {
        if (str_to_int64(str_from(v), &q->f.process_id) != SMILE_OK || q->f.process_id <= 0)
            smile_err_field(&err, "/query/process", "must be a process id");
    }
    q->f.step = q_nonempty(req, "step");
    q->f.staff = q_nonempty(req, "staff");
    q->f.team = q_nonempty(req, "team");
    q->f.channel = q_nonempty(req, "channel");
    /* customer_tag is the name; tag (its older name) is still accepted */
    q->f.tag = q_nonempty(req, "customer_tag");
    if ((v = q_nonempty(req, "tag")) != NULL) {
        if (q->f.tag && strcmp(q->f.tag, v) != 0)
            smile_err_field(&err, "/query/tag",
                            "is the older name of customer_tag: give one or the other");
        q->f.tag = v;
    }
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    /* agents read their own figures only */
    if (req->auth.role == API_ROLE_AGENT) {
        if (q->f.staff && strcmp(q->f.staff, req->auth.username) != 0) {
            http_reply_error(req, SMILE_EPERM, "agents may read only their own indicators");
            return false;
        }
        q->f.staff = req->auth.username;
    }
    return true;
}

static void
query_free(struct query *q)
{
    free(q->names_buf);
}

static json_t *
row_json(const struct kpi_row *r)
{
    char a[11], b[11];

    time_format_date(r->from_day, a);
    time_format_date(r->to_day, b);
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:b}", "key", r->key, "from", a, "to", b, "value",
                     r->v.has_data ? json_real(r->v.value) : json_null(), "count",
                     (json_int_t)r->v.count, "has_data", r->v.has_data);
}

/* Percent-encodes v (RFC 3986 unreserved characters kept) as a query value. */
static void
url_value(struct buf *b, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            buf_putc(b, (char)*p);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[*p >> 4]);
            buf_putc(b, hex[*p & 15]);
        }
    }
}

static void
url_param(struct buf *b, const char *name, const char *v)
{
    buf_putc(b, b->len ? '&' : '?');
    buf_puts(b, name);
    buf_putc(b, '=');
    url_value(b, v);
}

/* The instant (UTC ms) a local day starts in cal's zone (China Standard Time without one). */
static int64_t
day_start(const struct calendar *cal, int64_t day)
{
    return cal ? calendar_tz_to_utc(calendar_tz(cal), day * 86400000LL)
               : day * 86400000LL - 8 * 3600000LL;
}

/* Does the indicator come from measurements (so GET /api/v1/measurements can list them)? */
static bool
from_measurements(const char *name)
{
    static const char *const m[] = {"compliance",  "breached",     "met",
                                    "volume",      "elapsed_mean", "elapsed_p50",
                                    "elapsed_p90", "elapsed_p99",  "abandonment"};
    for (size_t i = 0; i < ARRAY_LEN(m); i++)
        if (strcmp(m[i], name) == 0)
            return true;
    return false;
}

/*
 * The drill-down link of a row: GET /api/v1/measurements with the row's filters and the
 * instants its days start and end, or NULL where that list cannot express the row (event
 * indicators, channel or tag slices, the group of nobody).
 */
static json_t *
drill_link(const struct query *q, const struct kpi_row *r, const struct calendar *cal)
{
    struct buf b;
    char t[TIME_RFC3339_LEN + 1], id[24];
    const char *key = r->key;
    json_t *out;

    if (!from_measurements(q->names[0]) || q->f.channel || q->f.tag || q->by == KPI_BY_CHANNEL ||
        q->by == KPI_BY_TAG ||
        (key[0] == '\0' && (q->by == KPI_BY_STAFF || q->by == KPI_BY_TEAM || q->by == KPI_BY_STEP ||
                            q->by == KPI_BY_PROCESS)))
        return json_null();
    buf_init(&b, 4096);
    if (q->by == KPI_BY_PROCESS)
        url_param(&b, "process", key);
    else if (q->f.process_id) {
        snprintf(id, sizeof(id), "%lld", (long long)q->f.process_id);
        url_param(&b, "process", id);
    }
    if (q->by == KPI_BY_STEP || q->f.step)
        url_param(&b, "step", q->by == KPI_BY_STEP ? key : q->f.step);
    if (q->by == KPI_BY_STAFF || q->f.staff)
        url_param(&b, "staff", q->by == KPI_BY_STAFF ? key : q->f.staff);
    if (q->by == KPI_BY_TEAM || q->f.team)
        url_param(&b, "team", q->by == KPI_BY_TEAM ? key : q->f.team);
    time_format_rfc3339(day_start(cal, r->from_day), t);
    url_param(&b, "from", t);
    time_format_rfc3339(day_start(cal, r->to_day + 1), t);
    url_param(&b, "to", t);
    out = json_pack("s+", "/api/v1/measurements", b.data);
    buf_free(&b);
    return out;
}

static json_t *
filters_json(const struct query *q)
{
    json_t *o = json_object();

    if (q->f.staff)
        json_object_set_new(o, "staff", json_string(q->f.staff));
    if (q->f.team)
        json_object_set_new(o, "team", json_string(q->f.team));
    if (q->f.process_id)
        json_object_set_new(o, "process", json_integer(q->f.process_id));
    if (q->f.step)
        json_object_set_new(o, "step", json_string(q->f.step));
    if (q->f.channel)
        json_object_set_new(o, "channel", json_string(q->f.channel));
    if (q->f.tag)
        json_object_set_new(o, "customer_tag", json_string(q->f.tag));
    return o;
}

/* The period before q's: the previous month, quarter or year for those periods, else the same
 * number of days just before. */
static void
previous_period(const struct query *q, int64_t *from, int64_t *to)
{
    const char *p = q->period;
    size_t n = strlen(p);
    int64_t y, f2, t2;
    unsigned m, d;
    struct smile_err e;

    smile_err_clear(&e);
    time_civil_from_days(q->from, &y, &m, &d);
    if (n == 0 || (n == 7 && p[4] == '-' && p[5] != 'Q' && p[5] != 'W')) { /* a month */
        int64_t py = m == 1 ? y - 1 : y;
        unsigned pm = m == 1 ? 12 : m - 1;
        *from = time_days_from_civil(py, pm, 1);
        *to = q->from - 1;
        return;
    }
    if (n == 7 && p[5] == 'Q') { /* a quarter */
        char prev[32];
        unsigned qn = (m - 1) / 3;
        snprintf(prev, sizeof(prev), "%04lld-Q%u", (long long)(qn ? y : y - 1), qn ? qn : 4);
        if (kpi_period_parse(prev, &f2, &t2, &e) == SMILE_OK) {
            *from = f2;
            *to = t2;
            return;
        }
    }
    if (n == 4) { /* a year */
        *from = time_days_from_civil(y - 1, 1, 1);
        *to = q->from - 1;
        return;
    }
    *to = q->from - 1;
    *from = *to - (q->to - q->from);
}

static bool
time_by(enum kpi_by by)
{
    return by == KPI_BY_DAY || by == KPI_BY_WEEK || by == KPI_BY_MONTH || by == KPI_BY_QUARTER;
}

static json_t *
value_json(const struct kpi_value *v)
{
    return json_pack("{s:o, s:I, s:b}", "value", v->has_data ? json_real(v->value) : json_null(),
                     "count", (json_int_t)v->count, "has_data", v->has_data);
}

void
api_indicators_get(struct http_request *req)
{
    const struct kpi_indicator_info *info;
    const char *cmp = q_nonempty(req, "compare");
    struct smile_err err;
    struct kpi_row *rows = NULL, *prev = NULL;
    struct runtime_defs *defs = NULL;
    const struct calendar *cal;
    struct query q;
    json_t *arr, *body;
    size_t n = 0, np = 0;
    int64_t pf = 0, pt = 0;
    char a[11], b[11];

    smile_err_clear(&err);
    if (cmp && strcmp(cmp, "previous") != 0) {
        smile_err_field(&err, "/query/compare", "must be previous");
        http_reply_problem(req, &err);
        return;
    }
    if (!read_query(req, &q, false)) {
        query_free(&q);
        return;
    }
    info = kpi_indicator_find(q.names[0]);
    if (kpi_indicator_rows(req->db, q.names[0], q.by, &q.f, q.from, q.to, &rows, &n, &err) !=
        SMILE_OK)
        goto fail;
    if (cmp) {
        enum kpi_by pby = q.by;
        previous_period(&q, &pf, &pt);
        /* a time series compares its whole span; the rows compare group with group */
        if (time_by(pby))
            pby = KPI_BY_NONE;
        if (kpi_indicator_rows(req->db, q.names[0], pby, &q.f, pf, pt, &prev, &np, &err) !=
            SMILE_OK)
            goto fail;
    }
    defs = runtime_defs_new();
    if (runtime_defs_refresh(defs, req->db, &err) != SMILE_OK)
        goto fail;
    cal = runtime_defs_calendar(defs, "default");
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = row_json(&rows[i]);
        json_object_set_new(r, "measurements", drill_link(&q, &rows[i], cal));
        if (cmp && !time_by(q.by)) {
            struct kpi_value none = {0};
            const struct kpi_value *pv = &none;
            for (size_t k = 0; k < np; k++)
                if (strcmp(prev[k].key, rows[i].key) == 0)
                    pv = &prev[k].v;
            json_object_set_new(r, "previous", value_json(pv));
        }
        json_array_append_new(arr, r);
    }
    time_format_date(q.from, a);
    time_format_date(q.to, b);
    body =
        json_pack("{s:s, s:s, s:b, s:s, s:{s:s, s:s}, s:o, s:o}", "name", info->name, "unit",
                  info->unit, "higher_is_better", info->higher_is_better, "by", kpi_by_name(q.by),
                  "period", "from", a, "to", b, "filters", filters_json(&q), "rows", arr);
    if (cmp) {
        json_t *pp;
        time_format_date(pf, a);
        time_format_date(pt, b);
        pp = json_pack("{s:s, s:s}", "from", a, "to", b);
        if (np == 1 && time_by(q.by))
            json_object_update_new(pp, value_json(&prev[0].v));
        json_object_set_new(body, "previous_period", pp);
    }
    http_reply_json(req, 200, body);
    runtime_defs_free(defs);
    free(rows);
    free(prev);
    query_free(&q);
    return;
fail:
    runtime_defs_free(defs);
    free(rows);
    free(prev);
    query_free(&q);
    http_reply_problem(req, &err);
}

/* Titles of the indicators for the catalog and the export headers, English and Chinese. */
static const struct {
    const char *name, *en, *zh;
} titles[] = {
    {"compliance", "Compliance with standard", "达标率"},
    {"breached", "Breached", "超时数"},
    {"met", "Met", "达标数"},
    {"volume", "Steps completed", "完成量"},
    {"elapsed_mean", "Mean elapsed (ms)", "平均用时(毫秒)"},
    {"elapsed_p50", "Median elapsed (ms)", "用时中位数(毫秒)"},
    {"elapsed_p90", "90th percentile elapsed (ms)", "用时90分位(毫秒)"},
    {"elapsed_p99", "99th percentile elapsed (ms)", "用时99分位(毫秒)"},
    {"abandonment", "Abandonment rate", "放弃率"},
    {"calls_answered", "Calls answered", "接听量"},
    {"emails_replied", "Emails replied", "邮件回复量"},
    {"visits_received", "Visits received", "接待量"},
    {"cases_resolved", "Cases resolved", "工单解决量"},
    {"fcr", "First-contact resolution", "首次解决率"},
    {"reopen_rate", "Reopen rate", "重开率"},
    {"satisfaction", "Average satisfaction", "平均满意度"},
    {"backlog", "Backlog at period end", "期末积压"},
};

static size_t
title_of(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(titles); i++)
        if (strcmp(titles[i].name, name) == 0)
            return i;
    return 0;
}

void
api_indicators_catalog(struct http_request *req)
{
    json_t *arr = json_array();

    for (size_t i = 0; kpi_indicators[i].name; i++) {
        size_t t = title_of(kpi_indicators[i].name);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}", "name",
                                             kpi_indicators[i].name, "unit", kpi_indicators[i].unit,
                                             "higher_is_better", kpi_indicators[i].higher_is_better,
                                             "title", "en", titles[t].en, "zh", titles[t].zh));
    }
    http_reply_json(req, 200, json_pack("{s:o}", "items", arr));
}

/* The export table: nkeys lines of nnames values (kpi_indicator_table's layout). */
struct table {
    struct kpi_row *rows;
    size_t nkeys, nnames;
};

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

static void
render_csv(struct http_request *req, const struct query *q, const struct table *t)
{
    struct buf *b = &req->out;
    char num[64], a[11], c[11];

    buf_reset(b);
    csv_field(b, kpi_by_name(q->by), false);
    csv_field(b, "from", false);
    csv_field(b, "to", false);
    for (size_t k = 0; k < q->nnames; k++) {
        snprintf(num, sizeof(num), "%s_count", q->names[k]);
        csv_field(b, q->names[k], false);
        csv_field(b, num, k + 1 == q->nnames);
    }
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct kpi_row *row = &t->rows[i * t->nnames];
        time_format_date(row->from_day, a);
        time_format_date(row->to_day, c);
        csv_field(b, row->key, false);
        csv_field(b, a, false);
        csv_field(b, c, false);
        for (size_t k = 0; k < q->nnames; k++) {
            const struct kpi_value *v = &t->rows[i * t->nnames + k].v;
            if (v->has_data)
                snprintf(num, sizeof(num), "%.10g", v->value);
            else
                num[0] = '\0';
            csv_field(b, num, false);
            snprintf(num, sizeof(num), "%lld", (long long)v->count);
            csv_field(b, num, k + 1 == q->nnames);
        }
    }
    req->status = 200;
    req->content_type = "text/csv; charset=utf-8";
    http_response_header(req, "Content-Disposition", "attachment; filename=\"indicators.csv\"");
}

/* Writes the workbook to a temporary file, then reads it into the response. */
static int
render_xlsx(struct http_request *req, const struct query *q, const struct table *t,
            struct smile_err *err)
{
    char path[] = "/tmp/smile-indicators-XXXXXX";
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *bold, *pct, *plain;
    FILE *f = NULL;
    int fd = mkstemp(path), rc = SMILE_OK;
    char a[11], c[11], buf[8192];
    size_t got;

    if (fd < 0)
        return smile_err_set(err, SMILE_EIO, "cannot create a temporary file");
    close(fd);
    wb = workbook_new(path);
    if (wb == NULL) {
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot create the workbook");
    }
    ws = workbook_add_worksheet(wb, "Indicators");
    bold = workbook_add_format(wb);
    format_set_bold(bold);
    pct = workbook_add_format(wb);
    format_set_num_format(pct, "0.0%");
    plain = workbook_add_format(wb);
    format_set_num_format(plain, "0.##");
    worksheet_write_string(ws, 0, 0, kpi_by_name(q->by), bold);
    worksheet_write_string(ws, 0, 1, "from", bold);
    worksheet_write_string(ws, 0, 2, "to", bold);
    for (size_t k = 0; k < q->nnames; k++) {
        char h[80];
        snprintf(h, sizeof(h), "%s_count", q->names[k]);
        worksheet_write_string(ws, 0, (lxw_col_t)(3 + 2 * k), q->names[k], bold);
        worksheet_write_string(ws, 0, (lxw_col_t)(4 + 2 * k), h, bold);
    }
    for (size_t i = 0; i < t->nkeys; i++) {
        lxw_row_t r = (lxw_row_t)(i + 1);
        const struct kpi_row *row = &t->rows[i * t->nnames];
        time_format_date(row->from_day, a);
        time_format_date(row->to_day, c);
        worksheet_write_string(ws, r, 0, row->key, NULL);
        worksheet_write_string(ws, r, 1, a, NULL);
        worksheet_write_string(ws, r, 2, c, NULL);
        for (size_t k = 0; k < q->nnames; k++) {
            const struct kpi_value *v = &t->rows[i * t->nnames + k].v;
            const struct kpi_indicator_info *info = kpi_indicator_find(q->names[k]);
            if (v->has_data)
                worksheet_write_number(ws, r, (lxw_col_t)(3 + 2 * k), v->value,
                                       strcmp(info->unit, "ratio") == 0 ? pct : plain);
            worksheet_write_number(ws, r, (lxw_col_t)(4 + 2 * k), (double)v->count, NULL);
        }
    }
    if (workbook_close(wb) != LXW_NO_ERROR) {
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot write the workbook");
    }
    buf_reset(&req->out);
    if ((f = fopen(path, "rb")) == NULL) {
        rc = smile_err_set(err, SMILE_EIO, "cannot read the workbook back");
    } else {
        while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
            buf_append(&req->out, buf, got);
        fclose(f);
        if (buf_overflowed(&req->out)) {
            buf_reset(&req->out);
            rc = smile_err_set(err, SMILE_ETOOBIG, "the export is too large; narrow the period");
        }
    }
    unlink(path);
    if (rc == SMILE_OK) {
        req->status = 200;
        req->content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        http_response_header(req, "Content-Disposition",
                             "attachment; filename=\"indicators.xlsx\"");
    }
    return rc;
}

void
api_indicators_export(struct http_request *req)
{
    struct smile_err err;
    struct query q;
    struct table t = {0};
    const char *fmt = q_nonempty(req, "format");
    int rc = SMILE_OK;

    smile_err_clear(&err);
    if (fmt == NULL)
        fmt = "csv";
    if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "xlsx") != 0) {
        smile_err_field(&err, "/query/format", "must be csv or xlsx");
        http_reply_problem(req, &err);
        return;
    }
    if (!read_query(req, &q, true)) {
        query_free(&q);
        return;
    }
    t.nnames = q.nnames;
    rc = kpi_indicator_table(req->db, q.names, q.nnames, q.by, &q.f, q.from, q.to, &t.rows,
                             &t.nkeys, &err);
    if (rc == SMILE_OK) {
        if (strcmp(fmt, "csv") == 0)
            render_csv(req, &q, &t);
        else
            rc = render_xlsx(req, &q, &t, &err);
    }
    if (rc != SMILE_OK)
        http_reply_problem(req, &err);
    free(t.rows);
    query_free(&q);
}
