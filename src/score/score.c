/*
 * score.c — the pure arithmetic of scorecards: reporting periods (month, ISO week,
 * quarter) as day ranges, the points of one item against its floor and target, the
 * weighted total with no-data items left out and critical items zeroing it, and the
 * competition ranking. No I/O, no clock, no globals; evaluation.c feeds it the values the
 * kpi part computed and stores what it returns.
 */
#include "score/score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Periods ------------------------------------------------------------------------------- */

const char *
score_period_kind_name(int kind)
{
    switch (kind) {
    case SCORE_PERIOD_MONTH:
        return "month";
    case SCORE_PERIOD_WEEK:
        return "week";
    case SCORE_PERIOD_QUARTER:
        return "quarter";
    }
    return "?";
}

int
score_period_kind_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "month") == 0)
        return SCORE_PERIOD_MONTH;
    if (strcmp(s, "week") == 0)
        return SCORE_PERIOD_WEEK;
    if (strcmp(s, "quarter") == 0)
        return SCORE_PERIOD_QUARTER;
    return -1;
}

static unsigned
month_days(int64_t y, unsigned m)
{
    return (unsigned)(time_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) -
                      time_days_from_civil(y, m, 1));
}

/* Monday of ISO week 1: the week holding 4 January. */
static int64_t
iso_week1(int64_t y)
{
    int64_t jan4 = time_days_from_civil(y, 1, 4);
    return jan4 - time_weekday(jan4);
}

static void
make_month(int64_t y, unsigned m, struct score_period *out)
{
    out->kind = SCORE_PERIOD_MONTH;
    out->from_day = time_days_from_civil(y, m, 1);
    out->to_day = out->from_day + month_days(y, m) - 1;
    snprintf(out->name, sizeof(out->name), "%04d-%02u", (int)y, m);
}

static void
make_quarter(int64_t y, unsigned q, struct score_period *out)
{
    unsigned m0 = (q - 1) * 3 + 1;

    out->kind = SCORE_PERIOD_QUARTER;
    out->from_day = time_days_from_civil(y, m0, 1);
    out->to_day = time_days_from_civil(q == 4 ? y + 1 : y, q == 4 ? 1 : m0 + 3, 1) - 1;
    snprintf(out->name, sizeof(out->name), "%04d-Q%u", (int)y, q);
}

static void
make_week(int64_t monday, struct score_period *out)
{
    int64_t y, w;
    unsigned m, d;

    /* The ISO year is the year of the week's Thursday. */
    time_civil_from_days(monday + 3, &y, &m, &d);
    w = (monday - iso_week1(y)) / 7 + 1;
    out->kind = SCORE_PERIOD_WEEK;
    out->from_day = monday;
    out->to_day = monday + 6;
    snprintf(out->name, sizeof(out->name), "%04d-W%02d", (int)y, (int)w);
}

static bool
digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int
score_period_parse(const char *s, struct score_period *out, struct smile_err *err)
{
    size_t len = s ? strlen(s) : 0;
    int64_t y;

    if (len < 7 || !digits(s, 4) || s[4] != '-')
        goto bad;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (y < 1970)
        goto bad;
    if (len == 7 && digits(s + 5, 2)) {
        unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
        if (m < 1 || m > 12)
            goto bad;
        make_month(y, m, out);
        return SMILE_OK;
    }
    if (len == 7 && s[5] == 'Q' && s[6] >= '1' && s[6] <= '4') {
        make_quarter(y, (unsigned)(s[6] - '0'), out);
        return SMILE_OK;
    }
    if (len == 8 && s[5] == 'W' && digits(s + 6, 2)) {
        int64_t w = (s[6] - '0') * 10 + (s[7] - '0');
        /* A year has 53 ISO weeks when 28 December falls in week 53. */
        int64_t weeks = (time_days_from_civil(y, 12, 28) - iso_week1(y)) / 7 + 1;
        if (w < 1 || w > weeks)
            goto bad;
        make_week(iso_week1(y) + (w - 1) * 7, out);
        return SMILE_OK;
    }
bad:
    return smile_err_set(err, SMILE_EINVAL,
                         "period must be a month (2026-11), an ISO week (2026-W48) or a "
                         "quarter (2026-Q4)");
}

void
score_period_containing(int kind, int64_t day, struct score_period *out)
{
    int64_t y;
    unsigned m, d;

    time_civil_from_days(day, &y, &m, &d);
    if (kind == SCORE_PERIOD_WEEK)
        make_week(day - time_weekday(day), out);
    else if (kind == SCORE_PERIOD_QUARTER)
        make_quarter(y, (m - 1) / 3 + 1, out);
    else
        make_month(y, m, out);
}

void
score_period_prev(const struct score_period *p, struct score_period *out)
{
    score_period_containing(p->kind, p->from_day - 1, out);
}

/* Scoring ------------------------------------------------------------------------------- */

double
score_item_points(double value, double floor, double target)
{
    double f;

    if (target == floor)
        return value >= target ? 100.0 : 0.0; /* refused by validation; defined anyway */
    f = (value - floor) / (target - floor);
    if (isnan(f)) /* only from non-finite input, which validation refuses */
        f = 0;
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    return f * 100.0;
}

bool
score_item_below_floor(double value, double floor, double target)
{
    return target >= floor ? value < floor : value > floor;
}

void
score_compute(const struct score_item_def *defs, const struct score_value *vals, int n,
              struct score_item_result *items, struct score_total *total)
{
    double sum = 0;

    memset(total, 0, sizeof(*total));
    total->zeroed_by = -1;
    for (int i = 0; i < n; i++) {
        struct score_item_result *r = &items[i];

        memset(r, 0, sizeof(*r));
        if (!vals[i].has_data) {
            r->status = SCORE_ITEM_NO_DATA;
            continue;
        }
        r->status = SCORE_ITEM_SCORED;
        r->points = score_item_points(vals[i].value, defs[i].floor, defs[i].target);
        r->below_floor = score_item_below_floor(vals[i].value, defs[i].floor, defs[i].target);
        total->nscored++;
        total->weight_used += defs[i].weight;
        sum += defs[i].weight * r->points;
        if (defs[i].critical && r->below_floor && total->zeroed_by < 0)
            total->zeroed_by = i;
    }
    if (total->nscored == 0 || total->weight_used <= 0) {
        total->status = SCORE_TOTAL_NO_DATA;
        total->total = 0;
    } else if (total->zeroed_by >= 0) {
        total->status = SCORE_TOTAL_ZEROED;
        total->total = 0;
    } else {
        total->status = SCORE_TOTAL_SCORED;
        total->total = sum / total->weight_used;
    }
}

struct rank_ent {
    double v;
    int i;
};

static int
rank_cmp(const void *a, const void *b)
{
    const struct rank_ent *x = a, *y = b;

    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->i - y->i;
}

void
score_rank(const double *totals, const bool *scored, int n, int *ranks)
{
    struct rank_ent *e = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*e));
    int m = 0;

    for (int i = 0; i < n; i++) {
        ranks[i] = 0;
        if (scored[i])
            e[m++] = (struct rank_ent){totals[i], i};
    }
    qsort(e, (size_t)m, sizeof(*e), rank_cmp);
    for (int k = 0; k < m; k++)
        ranks[e[k].i] = (k > 0 && e[k].v == e[k - 1].v) ? ranks[e[k - 1].i] : k + 1;
    free(e);
}

/* Labels -------------------------------------------------------------------------------- */

static const struct {
    const char *name, *en, *zh;
} labels[] = {
    {"compliance", "Compliance with the standard", "达标率"},
    {"breached", "Standards breached", "超时次数"},
    {"count_breached", "Standards breached", "超时次数"},
    {"met", "Standards met", "达标次数"},
    {"p50", "Median time taken", "用时中位数"},
    {"p50_elapsed", "Median time taken", "用时中位数"},
    {"p90", "90th percentile time taken", "90分位用时"},
    {"p90_elapsed", "90th percentile time taken", "90分位用时"},
    {"p99", "99th percentile time taken", "99分位用时"},
    {"p99_elapsed", "99th percentile time taken", "99分位用时"},
    {"mean_elapsed", "Average time taken", "平均用时"},
    {"elapsed_mean", "Average time taken", "平均用时"},
    {"elapsed_p50", "Median time taken", "用时中位数"},
    {"elapsed_p90", "90th percentile time taken", "90分位用时"},
    {"elapsed_p99", "99th percentile time taken", "99分位用时"},
    {"calls_answered", "Calls answered", "接听量"},
    {"emails_replied", "Emails replied", "邮件回复量"},
    {"visits_received", "Visits received", "接待量"},
    {"cases_resolved", "Cases resolved", "工单解决量"},
    {"volume", "Volume handled", "处理量"},
    {"abandonment", "Abandonment rate", "放弃率"},
    {"abandonment_rate", "Abandonment rate", "放弃率"},
    {"fcr", "First-contact resolution", "首次解决率"},
    {"first_contact_resolution", "First-contact resolution", "首次解决率"},
    {"reopen_rate", "Reopen rate", "重开率"},
    {"satisfaction", "Average satisfaction", "平均满意度"},
    {"backlog", "Open tasks at period end", "期末积压"},
};

const char *
score_indicator_label(const char *indicator, const char *lang)
{
    bool zh = lang && strncmp(lang, "zh", 2) == 0;

    for (size_t i = 0; indicator && i < ARRAY_LEN(labels); i++)
        if (strcmp(labels[i].name, indicator) == 0)
            return zh ? labels[i].zh : labels[i].en;
    return NULL;
}
