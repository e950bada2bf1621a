/*
 * indicator.c — turns the daily rollups (kpi_daily, kept by rollup.c) into indicators:
 * compliance, breached, p50/p90/p99 and mean elapsed, volumes, abandonment, first-contact
 * resolution, reopen rate, satisfaction and backlog, for one filter over a period or grouped
 * by staff, team, process, step, channel or calendar period (day, ISO week, month, quarter).
 * Reads only kpi_daily, through one of three statements chosen by the filter (by staff, by
 * team, by day range) so each uses an index. Called by the API (api/indicators.c) and by
 * scorecards. Definitions: docs/indicators.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi/kpi.h"
#include "kpi/kpi_int.h"
#include "store/store.h"

enum ind {
    IND_COMPLIANCE,
    IND_BREACHED,
    IND_MET,
    IND_VOLUME,
    IND_ELAPSED_MEAN,
    IND_ELAPSED_P50,
    IND_ELAPSED_P90,
    IND_ELAPSED_P99,
    IND_ABANDONMENT,
    IND_CALLS_ANSWERED,
    IND_EMAILS_REPLIED,
    IND_VISITS_RECEIVED,
    IND_CASES_RESOLVED,
    IND_FCR,
    IND_REOPEN_RATE,
    IND_SATISFACTION,
    IND_BACKLOG,
};

const struct kpi_indicator_info kpi_indicators[] = {
    [IND_COMPLIANCE] = {"compliance", true, "ratio"},
    [IND_BREACHED] = {"breached", false, "count"},
    [IND_MET] = {"met", true, "count"},
    [IND_VOLUME] = {"volume", true, "count"},
    [IND_ELAPSED_MEAN] = {"elapsed_mean", false, "ms"},
    [IND_ELAPSED_P50] = {"elapsed_p50", false, "ms"},
    [IND_ELAPSED_P90] = {"elapsed_p90", false, "ms"},
    [IND_ELAPSED_P99] = {"elapsed_p99", false, "ms"},
    [IND_ABANDONMENT] = {"abandonment", false, "ratio"},
    [IND_CALLS_ANSWERED] = {"calls_answered", true, "count"},
    [IND_EMAILS_REPLIED] = {"emails_replied", true, "count"},
    [IND_VISITS_RECEIVED] = {"visits_received", true, "count"},
    [IND_CASES_RESOLVED] = {"cases_resolved", true, "count"},
    [IND_FCR] = {"fcr", true, "ratio"},
    [IND_REOPEN_RATE] = {"reopen_rate", false, "ratio"},
    [IND_SATISFACTION] = {"satisfaction", true, "score"},
    [IND_BACKLOG] = {"backlog", false, "count"},
    {NULL, false, NULL},
};

const struct kpi_indicator_info *
kpi_indicator_find(const char *name)
{
    for (size_t i = 0; name && kpi_indicators[i].name; i++)
        if (strcmp(kpi_indicators[i].name, name) == 0)
            return &kpi_indicators[i];
    return NULL;
}

static const char *const by_names[] = {
    [KPI_BY_NONE] = "none",       [KPI_BY_STAFF] = "staff",      [KPI_BY_TEAM] = "team",
    [KPI_BY_PROCESS] = "process", [KPI_BY_STEP] = "step",        [KPI_BY_CHANNEL] = "channel",
    [KPI_BY_DAY] = "day",         [KPI_BY_WEEK] = "week",        [KPI_BY_MONTH] = "month",
    [KPI_BY_QUARTER] = "quarter", [KPI_BY_TAG] = "customer_tag",
};

bool
kpi_by_parse(const char *s, enum kpi_by *out)
{
    if (s == NULL || s[0] == '\0') {
        *out = KPI_BY_NONE;
        return true;
    }
    for (size_t i = 0; i < ARRAY_LEN(by_names); i++)
        if (strcmp(by_names[i], s) == 0) {
            *out = (enum kpi_by)i;
            return true;
        }
    if (strcmp(s, "tag") == 0) { /* the older name of customer_tag, still accepted */
        *out = KPI_BY_TAG;
        return true;
    }
    return false;
}

const char *
kpi_by_name(enum kpi_by by)
{
    return (size_t)by < ARRAY_LEN(by_names) ? by_names[by] : "none";
}

/* Periods ------------------------------------------------------------------------------------ */

/* The ISO week of day d: *year, *week and the Monday that starts it. */
static void
iso_week(int64_t d, int64_t *year, int *week, int64_t *monday)
{
    int64_t thu = d - time_weekday(d) + 3, y;
    unsigned m, dd;

    time_civil_from_days(thu, &y, &m, &dd);
    *year = y;
    *week = (int)((thu - time_days_from_civil(y, 1, 1)) / 7) + 1;
    *monday = d - time_weekday(d);
}

/* The period of `by` containing day d: its first and last day and its key. */
static void
period_of(enum kpi_by by, int64_t d, int64_t *p0, int64_t *p1, char *key, size_t cap)
{
    int64_t y;
    unsigned m, dd;

    time_civil_from_days(d, &y, &m, &dd);
    switch (by) {
    case KPI_BY_WEEK: {
        int64_t iy;
        int w;
        iso_week(d, &iy, &w, p0);
        *p1 = *p0 + 6;
        snprintf(key, cap, "%04lld-W%02d", (long long)iy, w);
        break;
    }
    case KPI_BY_MONTH:
        *p0 = time_days_from_civil(y, m, 1);
        *p1 = (m == 12 ? time_days_from_civil(y + 1, 1, 1) : time_days_from_civil(y, m + 1, 1)) - 1;
        snprintf(key, cap, "%04lld-%02u", (long long)y, m);
        break;
    case KPI_BY_QUARTER: {
        unsigned q = (m - 1) / 3;
        *p0 = time_days_from_civil(y, q * 3 + 1, 1);
        *p1 = (q == 3 ? time_days_from_civil(y + 1, 1, 1) : time_days_from_civil(y, q * 3 + 4, 1)) -
              1;
        snprintf(key, cap, "%04lld-Q%u", (long long)y, q + 1);
        break;
    }
    default:
        *p0 = *p1 = d;
        time_format_date(d, key);
        break;
    }
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int
kpi_period_parse(const char *s, int64_t *from, int64_t *to, struct smile_err *err)
{
    const char *dots;
    size_t n = s ? strlen(s) : 0;
    int64_t y;

    if (n == 0)
        return smile_err_set(err, SMILE_EINVAL, "a period is required");
    if ((dots = strstr(s, "..")) != NULL) {
        if (time_parse_date(s, (size_t)(dots - s), from) != SMILE_OK ||
            time_parse_date(dots + 2, strlen(dots + 2), to) != SMILE_OK)
            return smile_err_set(err, SMILE_EINVAL, "a range reads YYYY-MM-DD..YYYY-MM-DD");
    } else if (n == 10 && time_parse_date(s, n, from) == SMILE_OK) {
        *to = *from;
    } else if (n >= 4 && all_digits(s, 4)) {
        y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        if (n == 4) {
            *from = time_days_from_civil(y, 1, 1);
            *to = time_days_from_civil(y + 1, 1, 1) - 1;
        } else if (n == 7 && s[4] == '-' && all_digits(s + 5, 2)) {
            unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
            char key[16];
            if (m < 1 || m > 12)
                return smile_err_set(err, SMILE_EINVAL, "no month %u", m);
            period_of(KPI_BY_MONTH, time_days_from_civil(y, m, 1), from, to, key, sizeof(key));
        } else if (n == 7 && s[4] == '-' && s[5] == 'Q' && s[6] >= '1' && s[6] <= '4') {
            char key[16];
            unsigned q = (unsigned)(s[6] - '1');
            period_of(KPI_BY_QUARTER, time_days_from_civil(y, q * 3 + 1, 1), from, to, key,
                      sizeof(key));
        } else if (n == 8 && s[4] == '-' && s[5] == 'W' && all_digits(s + 6, 2)) {
            int w = (s[6] - '0') * 10 + (s[7] - '0'), w1;
            int64_t iy, mon;
            /* Jan 4 is always in week 1 */
            iso_week(time_days_from_civil(y, 1, 4), &iy, &w1, &mon);
            *from = mon + 7 * (int64_t)(w - 1);
            *to = *from + 6;
            iso_week(*from, &iy, &w1, &mon);
            if (w < 1 || iy != y || w1 != w)
                return smile_err_set(err, SMILE_EINVAL, "%04lld has no week %d", (long long)y, w);
        } else {
            goto bad;
        }
    } else {
        goto bad;
    }
    if (*from > *to)
        return smile_err_set(err, SMILE_EINVAL, "the period ends before it starts");
    if (*to - *from > 3 * 366)
        return smile_err_set(err, SMILE_EINVAL, "a period is at most 3 years");
    return SMILE_OK;
bad:
    return smile_err_set(err, SMILE_EINVAL,
                         "a period reads 2026-11-05, 2026-W47, 2026-11, 2026-Q4, 2026 or "
                         "2026-11-01..2026-11-15");
}

/* Accumulation --------------------------------------------------------------------------- */

struct acc {
    int64_t v[KPI_NCOL];
    uint32_t *h; /* KPI_HIST_BUCKETS counts, allocated on first use */
    int64_t rows;
};

static void
acc_add(struct acc *a, const int64_t *v, const uint32_t *h, bool with_hist)
{
    for (int c = 0; c < KPI_NCOL; c++)
        a->v[c] += v[c];
    if (with_hist && v[KPI_DONE]) {
        if (a->h == NULL)
            a->h = xcalloc(KPI_HIST_BUCKETS, sizeof(*a->h));
        for (int b = 0; b < KPI_HIST_BUCKETS; b++)
            a->h[b] += h[b];
    }
    a->rows++;
}

static double
percentile(const struct acc *a, double p)
{
    int64_t n = a->v[KPI_DONE], rank, seen = 0;

    if (n <= 0 || a->h == NULL)
        return 0;
    rank = (int64_t)ceil(p * (double)n); /* nearest rank */
    if (rank < 1)
        rank = 1;
    for (int b = 0; b < KPI_HIST_BUCKETS; b++) {
        seen += a->h[b];
        if (seen >= rank)
            return kpi_hist_value(b);
    }
    return kpi_hist_value(KPI_HIST_BUCKETS - 1);
}

static struct kpi_value
ratio(int64_t num, int64_t den)
{
    struct kpi_value r = {.has_data = den > 0, .count = den};
    r.value = den > 0 ? (double)num / (double)den : 0;
    return r;
}

static struct kpi_value
compute(enum ind i, const struct acc *a)
{
    const int64_t *v = a->v;
    struct kpi_value r = {.has_data = a->rows > 0};
    int64_t decided = v[KPI_MET] + v[KPI_BREACHED] + v[KPI_EXCLUDED];

    switch (i) {
    case IND_COMPLIANCE:
        return ratio(v[KPI_MET], v[KPI_MET] + v[KPI_BREACHED]);
    case IND_BREACHED:
        r.has_data = decided > 0;
        r.value = (double)v[KPI_BREACHED];
        r.count = decided;
        return r;
    case IND_MET:
        r.has_data = decided > 0;
        r.value = (double)v[KPI_MET];
        r.count = decided;
        return r;
    case IND_VOLUME:
        r.value = (double)v[KPI_DONE];
        r.count = v[KPI_DONE];
        return r;
    case IND_ELAPSED_MEAN:
        r = ratio(v[KPI_SUM_MS], v[KPI_DONE]);
        return r;
    case IND_ELAPSED_P50:
    case IND_ELAPSED_P90:
    case IND_ELAPSED_P99:
        r.has_data = v[KPI_DONE] > 0;
        r.count = v[KPI_DONE];
        r.value = percentile(a, i == IND_ELAPSED_P50 ? 0.5 : i == IND_ELAPSED_P90 ? 0.9 : 0.99);
        return r;
    case IND_ABANDONMENT:
        return ratio(v[KPI_ABANDONED], v[KPI_OFFERED]);
    case IND_CALLS_ANSWERED:
        r.value = (double)(r.count = v[KPI_ANSWERED]);
        return r;
    case IND_EMAILS_REPLIED:
        r.value = (double)(r.count = v[KPI_REPLIED]);
        return r;
    case IND_VISITS_RECEIVED:
        r.value = (double)(r.count = v[KPI_VISITS]);
        return r;
    case IND_CASES_RESOLVED:
        r.value = (double)(r.count = v[KPI_RESOLVED]);
        return r;
    case IND_FCR:
        return ratio(v[KPI_FCR], v[KPI_CASES]);
    case IND_REOPEN_RATE:
        return ratio(v[KPI_REOPENED], v[KPI_CASES]);
    case IND_SATISFACTION:
        r = ratio(v[KPI_SURVEY_SUM], v[KPI_SURVEYS]);
        r.value /= 1000.0;
        return r;
    case IND_BACKLOG:
        r.value = (double)(r.count = v[KPI_OPENED] - v[KPI_CLOSED]);
        return r;
    }
    return r;
}

/* A group's key and its sums over [from, to]; carry: opened − closed before from (backlog). */
struct gacc {
    char key[KPI_KEY_MAX];
    int64_t from_day, to_day;
    struct acc a;
    int64_t carry;
};

/* Groups by string key (open addressing; non-time groupings). */
struct group {
    struct gacc g;
    bool used;
};

struct groups {
    struct group *g;
    size_t n, cap; /* cap: power of two */
};

static uint64_t
hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The group of key (created empty if new); valid until the next call. */
static struct group *
groups_get(struct groups *G, const char *key)
{
    size_t i;

    if (2 * (G->n + 1) > G->cap) {
        struct groups N = {.cap = G->cap ? 2 * G->cap : 64};
        N.g = xcalloc(N.cap, sizeof(*N.g));
        for (size_t k = 0; k < G->cap; k++)
            if (G->g[k].used) {
                size_t j = hash(G->g[k].g.key) & (N.cap - 1);
                while (N.g[j].used)
                    j = (j + 1) & (N.cap - 1);
                N.g[j] = G->g[k];
                N.n++;
            }
        free(G->g);
        *G = N;
    }
    i = hash(key) & (G->cap - 1);
    while (G->g[i].used) {
        if (strcmp(G->g[i].g.key, key) == 0)
            return &G->g[i];
        i = (i + 1) & (G->cap - 1);
    }
    G->g[i].used = true;
    snprintf(G->g[i].g.key, sizeof(G->g[i].g.key), "%s", key);
    G->n++;
    return &G->g[i];
}

static int
cmp_row(const void *a, const void *b)
{
    return strcmp(((const struct kpi_row *)a)->key, ((const struct kpi_row *)b)->key);
}

static bool
is_time(enum kpi_by by)
{
    return by == KPI_BY_DAY || by == KPI_BY_WEEK || by == KPI_BY_MONTH || by == KPI_BY_QUARTER;
}

#define ROW_COLS "day, staff, team, process_id, step, channel, " KPI_COLS ", hist, tag"
/* $8: the tag ('' = the untagged rows, NULL = none); $9 = 1: every tagged row (by=tag) */
#define TAG_COND " AND (tag = $8 OR ($9 = 1 AND tag <> ''))"

static struct kpi_value
compute_backlog(const struct acc *a, int64_t carry)
{
    struct kpi_value r;

    r.count = carry + a->v[KPI_OPENED] - a->v[KPI_CLOSED];
    r.value = (double)r.count;
    r.has_data = a->rows > 0 || carry != 0; /* activity in the period, or items left open */
    return r;
}

/* Binds $5 … $9 of the kpi_daily statements: process, step, channel, tag, by-tag. */
static void
bind_rest_from(struct store_stmt *st, int first, const struct kpi_filter *f, enum kpi_by by)
{
    if (f->process_id)
        store_stmt_bind_int64(st, first, f->process_id);
    else
        store_stmt_bind_null(st, first);
    store_stmt_bind_text(st, first + 1, f->step, -1);
    store_stmt_bind_text(st, first + 2, f->channel, -1);
    store_stmt_bind_text(st, first + 3,
                         f->tag && f->tag[0] ? f->tag
                         : by == KPI_BY_TAG  ? NULL
                                             : "",
                         -1);
    store_stmt_bind_int64(st, first + 4, by == KPI_BY_TAG && !(f->tag && f->tag[0]));
}

static void
bind_rest(struct store_stmt *st, const struct kpi_filter *f, enum kpi_by by)
{
    bind_rest_from(st, 5, f, by);
}

/* The group of a row with these key columns under grouping `by` (not a time grouping). */
static struct gacc *
group_of(struct groups *G, enum kpi_by by, const char *staff, const char *team, int64_t pid,
         const char *step, const char *channel, const char *tag)
{
    char key[KPI_KEY_MAX];

    switch (by) {
    case KPI_BY_STAFF:
        snprintf(key, sizeof(key), "%s", staff);
        break;
    case KPI_BY_TEAM:
        snprintf(key, sizeof(key), "%s", team);
        break;
    case KPI_BY_PROCESS:
        snprintf(key, sizeof(key), "%lld", (long long)pid);
        break;
    case KPI_BY_STEP:
        snprintf(key, sizeof(key), "%s", step);
        break;
    case KPI_BY_CHANNEL:
        snprintf(key, sizeof(key), "%s", channel);
        break;
    case KPI_BY_TAG:
        snprintf(key, sizeof(key), "%s", tag);
        break;
    default:
        key[0] = '\0';
        break;
    }
    return &groups_get(G, key)->g;
}

int
kpi_indicator_table(struct store *s, const char *const *names, size_t nnames, enum kpi_by by,
                    const struct kpi_filter *f, int64_t from, int64_t to, struct kpi_row **out,
                    size_t *n, struct smile_err *err)
{
    static const char sql_staff[] = "SELECT " ROW_COLS " FROM kpi_daily WHERE staff = $1"
                                    " AND day >= $2 AND day <= $3 AND ($4 IS NULL OR team = $4)"
                                    " AND ($5 IS NULL OR process_id = $5) AND ($6 IS NULL OR"
                                    " step = $6) AND ($7 IS NULL OR channel = $7)" TAG_COND;
    static const char sql_team[] = "SELECT " ROW_COLS " FROM kpi_daily WHERE team = $1"
                                   " AND day >= $2 AND day <= $3 AND ($4 IS NULL OR staff = $4)"
                                   " AND ($5 IS NULL OR process_id = $5) AND ($6 IS NULL OR"
                                   " step = $6) AND ($7 IS NULL OR channel = $7)" TAG_COND;
    static const char sql_all[] = "SELECT " ROW_COLS " FROM kpi_daily WHERE day >= $1"
                                  " AND day <= $2 AND ($3 IS NULL OR staff = $3)"
                                  " AND ($4 IS NULL OR team = $4) AND ($5 IS NULL OR"
                                  " process_id = $5) AND ($6 IS NULL OR step = $6)"
                                  " AND ($7 IS NULL OR channel = $7)" TAG_COND;
    static const char sql_open[] =
        "SELECT staff, team, process_id, step, channel, tag, open FROM kpi_open"
        " WHERE ($1 IS NULL OR staff = $1) AND ($2 IS NULL OR team = $2) AND ($3 IS NULL OR"
        " process_id = $3) AND ($4 IS NULL OR step = $4) AND ($5 IS NULL OR channel = $5)"
        " AND (tag = $6 OR ($7 = 1 AND tag <> ''))";
    struct kpi_filter none = {0};
    enum ind ind[KPI_MAX_NAMES];
    bool backlog = false, hist = false, time = is_time(by);
    int64_t *pidx = NULL, np = 0;
    struct gacc *per = NULL; /* time groups: one per period */
    struct groups G = {0};
    struct kpi_row *rows = NULL;
    struct store_stmt *st;
    size_t ng = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (f == NULL)
        f = &none;
    if (nnames == 0 || nnames > KPI_MAX_NAMES)
        return smile_err_set(err, SMILE_EINVAL, "1 to %d indicators", KPI_MAX_NAMES);
    for (size_t k = 0; k < nnames; k++) {
        const struct kpi_indicator_info *info = kpi_indicator_find(names[k]);
        if (info == NULL)
            return smile_err_set(err, SMILE_EINVAL, "unknown indicator '%s'",
                                 names[k] ? names[k] : "");
        ind[k] = (enum ind)(info - kpi_indicators);
        backlog |= ind[k] == IND_BACKLOG;
        hist |= ind[k] == IND_ELAPSED_P50 || ind[k] == IND_ELAPSED_P90 || ind[k] == IND_ELAPSED_P99;
    }
    if (from > to)
        return smile_err_set(err, SMILE_EINVAL, "the period ends before it starts");
    if (time && to - from > 3 * 366)
        return smile_err_set(err, SMILE_EINVAL, "a time series spans at most 3 years");

    /* time groups: the periods meeting [from, to], and each day's period index */
    if (time) {
        pidx = xcalloc((size_t)(to - from + 1), sizeof(*pidx));
        for (int64_t d = from; d <= to;) {
            int64_t p0, p1;
            per = xrealloc(per, (size_t)(np + 1) * sizeof(*per));
            memset(&per[np], 0, sizeof(per[np]));
            period_of(by, d, &p0, &p1, per[np].key, sizeof(per[np].key));
            per[np].from_day = d;
            per[np].to_day = p1 < to ? p1 : to;
            for (int64_t k = d; k <= per[np].to_day; k++)
                pidx[k - from] = np;
            d = per[np].to_day + 1;
            np++;
        }
    }

    /* the period; then, for the backlog, what opened and closed after it (subtracted from
     * the open counts of kpi_open below: the history before the period is never read) */
    for (int pass = 0; pass < (backlog ? 2 : 1); pass++) {
        int64_t lo = pass ? to + 1 : from, hi = pass ? INT32_MAX : to;
        if (f->staff)
            rc = store_prepare(s, sql_staff, &st, err);
        else if (f->team)
            rc = store_prepare(s, sql_team, &st, err);
        else
            rc = store_prepare(s, sql_all, &st, err);
        if (rc != SMILE_OK)
            goto out;
        if (f->staff || f->team) {
            store_stmt_bind_text(st, 1, f->staff ? f->staff : f->team, -1);
            store_stmt_bind_int64(st, 2, lo);
            store_stmt_bind_int64(st, 3, hi);
            store_stmt_bind_text(st, 4, f->staff ? f->team : NULL, -1);
        } else {
            store_stmt_bind_int64(st, 1, lo);
            store_stmt_bind_int64(st, 2, hi);
            store_stmt_bind_null(st, 3);
            store_stmt_bind_text(st, 4, f->team, -1);
        }
        bind_rest(st, f, by);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            int64_t v[KPI_NCOL], day = store_stmt_int64(st, 0);
            uint32_t h[KPI_HIST_BUCKETS];
            struct gacc *g;

            for (int c = 0; c < KPI_NCOL; c++)
                v[c] = store_stmt_int64(st, 6 + c);
            if (time)
                g = pass ? &per[0] : &per[pidx[day - from]];
            else
                g = group_of(&G, by, store_stmt_text(st, 1), store_stmt_text(st, 2),
                             store_stmt_int64(st, 3), store_stmt_text(st, 4),
                             store_stmt_text(st, 5), store_stmt_text(st, 7 + KPI_NCOL));
            if (pass) {
                g->carry -= v[KPI_OPENED] - v[KPI_CLOSED];
                continue;
            }
            if (hist && v[KPI_DONE])
                kpi_hist_decode(store_stmt_blob(st, 6 + KPI_NCOL),
                                store_stmt_bytes(st, 6 + KPI_NCOL), h);
            acc_add(&g->a, v, h, hist);
        }
        store_stmt_reset(st);
        if (rc != STORE_DONE)
            goto out;
        rc = SMILE_OK;
    }
    if (backlog) {
        /* open now, per key: carry = open − after − in the period */
        if ((rc = store_prepare(s, sql_open, &st, err)) != SMILE_OK)
            goto out;
        store_stmt_bind_text(st, 1, f->staff, -1);
        store_stmt_bind_text(st, 2, f->team, -1);
        bind_rest_from(st, 3, f, by);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            struct gacc *g = time ? &per[0]
                                  : group_of(&G, by, store_stmt_text(st, 0), store_stmt_text(st, 1),
                                             store_stmt_int64(st, 2), store_stmt_text(st, 3),
                                             store_stmt_text(st, 4), store_stmt_text(st, 5));
            g->carry += store_stmt_int64(st, 6);
        }
        store_stmt_reset(st);
        if (rc != STORE_DONE)
            goto out;
        rc = SMILE_OK;
        if (time) {
            for (int64_t p = 0; p < np; p++)
                per[0].carry -= per[p].a.v[KPI_OPENED] - per[p].a.v[KPI_CLOSED];
        } else {
            for (size_t i = 0; i < G.cap; i++)
                if (G.g[i].used)
                    G.g[i].g.carry -= G.g[i].g.a.v[KPI_OPENED] - G.g[i].g.a.v[KPI_CLOSED];
        }
    }

    if (time) {
        int64_t carry = per[0].carry;
        rows = xcalloc((size_t)np * nnames, sizeof(*rows));
        for (int64_t p = 0; p < np; p++) {
            for (size_t k = 0; k < nnames; k++) {
                struct kpi_row *r = &rows[(size_t)p * nnames + k];
                snprintf(r->key, sizeof(r->key), "%s", per[p].key);
                r->from_day = per[p].from_day;
                r->to_day = per[p].to_day;
                r->v = ind[k] == IND_BACKLOG ? compute_backlog(&per[p].a, carry)
                                             : compute(ind[k], &per[p].a);
            }
            /* the backlog at the end of the next period starts from this one's */
            carry += per[p].a.v[KPI_OPENED] - per[p].a.v[KPI_CLOSED];
        }
        ng = (size_t)np;
    } else {
        struct gacc *g;
        if (by == KPI_BY_NONE)
            (void)groups_get(&G, ""); /* one row, data or not */
        rows = xcalloc((G.n ? G.n : 1) * nnames, sizeof(*rows));
        for (size_t i = 0; i < G.cap; i++) {
            bool any = by == KPI_BY_NONE;
            g = &G.g[i].g;
            if (!G.g[i].used)
                continue;
            for (size_t k = 0; k < nnames; k++) {
                struct kpi_row *r = &rows[ng * nnames + k];
                snprintf(r->key, sizeof(r->key), "%s", g->key);
                r->from_day = from;
                r->to_day = to;
                r->v = ind[k] == IND_BACKLOG ? compute_backlog(&g->a, g->carry)
                                             : compute(ind[k], &g->a);
                any |= r->v.has_data;
            }
            if (any)
                ng++;
        }
        qsort(rows, ng, nnames * sizeof(*rows), cmp_row);
    }
    *out = rows;
    *n = ng;
    rows = NULL;
out:
    for (size_t i = 0; i < G.cap; i++)
        free(G.g[i].g.a.h);
    free(G.g);
    for (int64_t p = 0; p < np; p++)
        free(per[p].a.h);
    free(per);
    free(pidx);
    free(rows);
    return rc;
}

int
kpi_indicator_rows(struct store *s, const char *name, enum kpi_by by, const struct kpi_filter *f,
                   int64_t from, int64_t to, struct kpi_row **out, size_t *n, struct smile_err *err)
{
    return kpi_indicator_table(s, &name, 1, by, f, from, to, out, n, err);
}

int
kpi_indicator_value(struct store *s, const char *name, const struct kpi_filter *f,
                    const char *from_day, const char *to_day, struct kpi_value *out,
                    struct smile_err *err)
{
    struct kpi_row *rows;
    size_t n;
    int64_t from, to;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kpi_indicator_find(name) == NULL)
        return smile_err_set(err, SMILE_EINVAL, "unknown indicator '%s'", name ? name : "");
    if (from_day == NULL || time_parse_date(from_day, strlen(from_day), &from) != SMILE_OK ||
        to_day == NULL || time_parse_date(to_day, strlen(to_day), &to) != SMILE_OK)
        return smile_err_set(err, SMILE_EINVAL, "days read YYYY-MM-DD");
    if ((rc = kpi_indicator_rows(s, name, KPI_BY_NONE, f, from, to, &rows, &n, err)) != SMILE_OK)
        return rc;
    if (n == 1)
        *out = rows[0].v;
    free(rows);
    return SMILE_OK;
}
