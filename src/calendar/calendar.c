/*
 * calendar.c — business calendars: the JSON document (validated field by field) is
 * compiled into per-version tables, and add/diff run on them in O(log n). The engine asks
 * here for deadlines (add) and elapsed working time (diff); the API stores the JSON.
 *
 * How the arithmetic works. For each version and each of two measures (working ms, working
 * days) W(d) is the amount of work before local day d, counted from a fixed Monday:
 *
 *   W(d) = off + wc(d) + delta[k]     wc(d) = q·week + wprefix[r]  (d − anchor = 7q + r)
 *
 * where k is the number of special dates (holidays, make-up days, overrides) before d and
 * delta[k] sums what those dates change against the plain week. W over a local wall time
 * adds the part of the day before it. Within a stretch of constant UTC offset, working
 * time in UTC equals working time on the wall clock, so add/diff walk the time zone's
 * offset segments (at most a few per span) and inside each segment evaluate or invert W:
 * no per-day loop, no allocation. Whole weeks are skipped by the division in wc.
 *
 * Plans (one per kind of day) in a version:
 *   index 0..6   Monday..Sunday of the plain week
 *   index 7      closed (holidays)
 *   index 8      make-up working day (workday_intervals, default the first weekday's hours)
 *   index 9..    one per override date
 */
#include "calendar/calendar_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAL_MAX_INTERVALS 16
#define CAL_MAX_VERSIONS 256
#define CAL_MAX_SPECIAL 20000 /* special dates per version, ranges expanded */
#define CAL_MAX_RANGE 400     /* days in one "a..b" range */
#define CAL_MAX_RING_MS 600000
#define CAL_MAX_DENSE 40000                         /* days (about 110 years) of the rank table */
#define CAL_MAX_AMOUNT_MS INT64_C(1000000000000000) /* ~31,700 years */
#define CAL_ANCHOR_DAY 4                            /* 1970-01-05, a Monday */
#define PLAN_CLOSED 7
#define PLAN_WORKDAY 8
#define PLAN_FIRST_OVERRIDE 9

enum { M_MS, M_DAYS };

struct plan {
    int n;
    int32_t s[CAL_MAX_INTERVALS], e[CAL_MAX_INTERVALS]; /* ms of the local day, half-open */
    int64_t total;
};

struct measure {
    int64_t week;
    int64_t wprefix[8];
    int64_t *delta; /* nsp + 1 entries */
    int64_t *value; /* W (version-local) at each special date */
    int64_t off;    /* global W = off + version-local W */
    int64_t start;  /* global W at from_day */
};

struct version {
    int64_t from_day;
    int64_t ring_ms;
    bool always_open;
    struct plan *plans;
    size_t nplans;
    size_t nsp;
    int64_t *sp_day;
    uint32_t *sp_plan;
    /* rank[i] = number of special dates before day rank_lo + i, over the span of the special
     * dates (if at most CAL_MAX_DENSE days), so the hot path needs no binary search. */
    uint32_t *rank;
    int64_t rank_lo;
    size_t rank_n;
    struct measure m[2];
};

struct calendar {
    struct calendar_tz *tz;
    size_t nv;
    struct version *v;
};

/* --- Evaluation ------------------------------------------------------------------- */

static int64_t
plan_value(const struct plan *p, int m)
{
    return m == M_MS ? p->total : (p->total > 0);
}

static size_t
version_of(const struct calendar *cal, int64_t day)
{
    size_t lo = 1, hi = cal->nv;

    /* Largest v with from_day <= day; version 0 also covers the days before it. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cal->v[mid].from_day <= day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* Number of special dates before day. */
static size_t
special_rank(const struct version *v, int64_t day)
{
    size_t lo = 0, hi = v->nsp;

    if (v->rank_n > 0) {
        if (day < v->rank_lo)
            return 0;
        if (day - v->rank_lo >= (int64_t)v->rank_n)
            return v->nsp;
        return v->rank[day - v->rank_lo];
    }

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->sp_day[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct plan *
plan_at(const struct version *v, int64_t day, size_t k)
{
    if (k < v->nsp && v->sp_day[k] == day)
        return &v->plans[v->sp_plan[k]];
    return &v->plans[time_weekday(day)];
}

static int64_t
week_count(const struct measure *m, int64_t day)
{
    int64_t r = day - CAL_ANCHOR_DAY, q = floor_div(r, 7);

    return q * m->week + m->wprefix[r - 7 * q];
}

/* Global W of measure mi at the start of local day, and that day's plan. */
static int64_t
work_before_day(const struct calendar *cal, int mi, int64_t day, const struct plan **p)
{
    const struct version *v = &cal->v[version_of(cal, day)];
    size_t k = special_rank(v, day);
    const struct measure *m = &v->m[mi];

    *p = plan_at(v, day, k);
    return m->off + week_count(m, day) + m->delta[k];
}

static int64_t
plan_before(const struct plan *p, int64_t tod)
{
    int64_t w = 0;

    for (int i = 0; i < p->n && tod > p->s[i]; i++)
        w += (tod < p->e[i] ? tod : p->e[i]) - p->s[i];
    return w;
}

/* Working ms before a local wall time (ms since 1970-01-01 00:00 local). */
static int64_t
work_before(const struct calendar *cal, int64_t local)
{
    int64_t day = floor_div(local, CAL_DAY_MS);
    const struct plan *p;
    int64_t w = work_before_day(cal, M_MS, day, &p);

    return w + plan_before(p, local - day * CAL_DAY_MS);
}

/* The last local day d with W(d) < c (the day holding the c-th unit of work). */
static bool
find_day(const struct calendar *cal, int mi, int64_t c, int64_t *out_day)
{
    size_t vi = 0, lo = 1, hi = cal->nv;
    const struct version *v;
    const struct measure *m;
    int64_t cp, y, q, rem, d;
    size_t klo = 0, khi;
    int r;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cal->v[mid].m[mi].start < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    vi = lo - 1;
    v = &cal->v[vi];
    m = &v->m[mi];
    cp = c - m->off;
    /* klo = number of special dates whose W is below cp; the last of them is k. */
    khi = v->nsp;
    while (klo < khi) {
        size_t mid = klo + (khi - klo) / 2;

        if (m->value[mid] < cp)
            klo = mid + 1;
        else
            khi = mid;
    }
    if (klo > 0) {
        size_t k = klo - 1;

        if (m->value[k] + plan_value(&v->plans[v->sp_plan[k]], mi) >= cp) {
            *out_day = v->sp_day[k];
            return true;
        }
    }
    /* Between special dates only the plain week counts. */
    y = cp - m->delta[klo];
    if (m->week <= 0)
        return false;
    q = floor_div(y - 1, m->week);
    rem = y - q * m->week;
    for (r = 6; r > 0 && m->wprefix[r] >= rem; r--)
        ;
    d = CAL_ANCHOR_DAY + 7 * q + r;
    *out_day = d;
    return true;
}

/* Earliest local wall time at which W reaches c (c > W at some earlier time). */
static bool
find_local(const struct calendar *cal, int64_t c, int64_t *out_local)
{
    int64_t day, rem;
    const struct plan *p;

    if (!find_day(cal, M_MS, c, &day))
        return false;
    rem = c - work_before_day(cal, M_MS, day, &p);
    for (int i = 0; i < p->n; i++) {
        int64_t len = p->e[i] - p->s[i];

        if (rem <= len) {
            *out_local = day * CAL_DAY_MS + p->s[i] + rem;
            return true;
        }
        rem -= len;
    }
    return false; /* unreachable when the tables are consistent */
}

static int64_t
clamp_ms(int64_t t)
{
    return t < CAL_MIN_MS ? CAL_MIN_MS : t > CAL_MAX_MS ? CAL_MAX_MS : t;
}

/* Where next_working() landed: offset segment, local day and time, working days before. */
struct landing {
    int64_t off, next; /* offset in force (ms) and its end (CAL_NEVER if it never ends) */
    int64_t day, tod, wdays;
};

/* The first working instant at or after t, CAL_NEVER if there is none. */
static int64_t
next_working(const struct calendar *cal, int64_t t, struct landing *at)
{
    for (int guard = 0; guard < 100000; guard++) {
        int64_t next, off = (int64_t)tz_find(cal->tz, t, &next) * 1000;
        int64_t local = t + off, day = floor_div(local, CAL_DAY_MS), tod = local - day * CAL_DAY_MS;
        int64_t cand = CAL_NEVER, w, u;
        const struct plan *p;

        w = work_before_day(cal, M_DAYS, day, &p);
        for (int i = 0; i < p->n; i++)
            if (tod < p->e[i]) {
                if (tod >= p->s[i]) {
                    *at = (struct landing){off, next, day, tod, w};
                    return t;
                }
                cand = p->s[i];
                break;
            }
        if (cand == CAL_NEVER) {
            w = work_before_day(cal, M_DAYS, day + 1, &p);
            if (!find_day(cal, M_DAYS, w + 1, &day))
                return CAL_NEVER;
            w = work_before_day(cal, M_DAYS, day, &p);
            if (p->n == 0)
                return CAL_NEVER;
            cand = p->s[0];
        }
        u = day * CAL_DAY_MS + cand - off;
        if (next == CAL_NEVER || u < next) {
            *at = (struct landing){off, next, day, cand, w};
            return u > CAL_MAX_MS ? CAL_NEVER : u;
        }
        t = next;
        if (t > CAL_MAX_MS)
            return CAL_NEVER;
    }
    return CAL_NEVER;
}

static int64_t
add_business(const struct calendar *cal, int64_t t, int64_t n)
{
    struct landing at;

    if (n == 0)
        return next_working(cal, t, &at);
    for (;;) {
        int64_t next, off = (int64_t)tz_find(cal->tz, t, &next) * 1000;
        int64_t w0 = work_before(cal, t + off), local;

        if (next != CAL_NEVER) {
            int64_t avail = work_before(cal, next + off) - w0;

            if (n > avail) {
                n -= avail;
                t = next;
                if (t > CAL_MAX_MS)
                    return CAL_NEVER;
                continue;
            }
        }
        if (!find_local(cal, w0 + n, &local))
            return CAL_NEVER;
        local -= off;
        return local > CAL_MAX_MS ? CAL_NEVER : local;
    }
}

static int64_t
add_days(const struct calendar *cal, int64_t t, int64_t n)
{
    struct landing at;
    int64_t s = next_working(cal, t, &at), tod = at.tod, target, local;
    const struct plan *p;

    if (s == CAL_NEVER || n == 0)
        return s;
    if (!find_day(cal, M_DAYS, at.wdays + n + 1, &target))
        return CAL_NEVER;
    (void)work_before_day(cal, M_DAYS, target, &p);
    if (p->n == 0)
        return CAL_NEVER;
    if (tod < p->s[0]) {
        tod = p->s[0];
    } else {
        int i = p->n - 1;

        while (i > 0 && p->s[i] > tod)
            i--;
        if (tod > p->e[i])
            tod = p->e[i];
    }
    local = target * CAL_DAY_MS + tod;
    /* With no offset change ahead the wall time shifts back directly. */
    local = at.next == CAL_NEVER ? local - at.off : calendar_tz_to_utc(cal->tz, local);
    return local > CAL_MAX_MS ? CAL_NEVER : local;
}

int64_t
calendar_add(const struct calendar *cal, int64_t start_ms, int64_t amount, enum calendar_unit unit)
{
    if (amount < 0)
        amount = 0;
    if (unit == CALENDAR_WALL)
        return start_ms > INT64_MAX - amount ? CAL_NEVER : start_ms + amount;
    if (start_ms >= CAL_MAX_MS || amount > CAL_MAX_AMOUNT_MS)
        return CAL_NEVER;
    start_ms = clamp_ms(start_ms);
    if (unit == CALENDAR_BUSINESS_DAYS)
        return add_days(cal, start_ms, amount > 4000000 ? 4000000 : amount);
    return add_business(cal, start_ms, amount);
}

int64_t
calendar_diff(const struct calendar *cal, int64_t from_ms, int64_t to_ms)
{
    int64_t sum = 0, t;

    from_ms = clamp_ms(from_ms);
    to_ms = clamp_ms(to_ms);
    if (to_ms < from_ms)
        return -calendar_diff(cal, to_ms, from_ms);
    t = from_ms;
    while (t < to_ms) {
        int64_t next, off = (int64_t)tz_find(cal->tz, t, &next) * 1000;
        int64_t end = next < to_ms ? next : to_ms;

        sum += work_before(cal, end + off) - work_before(cal, t + off);
        t = end;
    }
    return sum;
}

bool
calendar_is_working(const struct calendar *cal, int64_t at_ms)
{
    int64_t next, local, day, tod;
    const struct plan *p;

    at_ms = clamp_ms(at_ms);
    local = at_ms + (int64_t)tz_find(cal->tz, at_ms, &next) * 1000;
    day = floor_div(local, CAL_DAY_MS);
    tod = local - day * CAL_DAY_MS;
    (void)work_before_day(cal, M_DAYS, day, &p);
    for (int i = 0; i < p->n; i++)
        if (tod >= p->s[i] && tod < p->e[i])
            return true;
    return false;
}

int64_t
calendar_local_day(const struct calendar *cal, int64_t at_ms)
{
    int64_t next;

    at_ms = clamp_ms(at_ms);
    return floor_div(at_ms + (int64_t)tz_find(cal->tz, at_ms, &next) * 1000, CAL_DAY_MS);
}

int64_t
calendar_ring_ms(const struct calendar *cal, int64_t at_ms)
{
    return cal->v[version_of(cal, calendar_local_day(cal, at_ms))].ring_ms;
}

const struct calendar_tz *
calendar_tz(const struct calendar *cal)
{
    return cal->tz;
}

/* --- Invariants ------------------------------------------------------------------- */

static bool
plan_ok(const struct plan *p)
{
    int64_t total = 0;

    if (p->n < 0 || p->n > CAL_MAX_INTERVALS)
        return false;
    for (int i = 0; i < p->n; i++) {
        if (p->s[i] < 0 || p->s[i] >= p->e[i] || p->e[i] > CAL_DAY_MS)
            return false;
        if (i > 0 && p->s[i] < p->e[i - 1])
            return false;
        total += p->e[i] - p->s[i];
    }
    return total == p->total;
}

static bool
measure_ok(const struct version *v, int mi)
{
    const struct measure *m = &v->m[mi];
    int64_t acc = 0;

    if (m->wprefix[0] != 0)
        return false;
    for (int r = 0; r < 7; r++)
        if (m->wprefix[r + 1] != m->wprefix[r] + plan_value(&v->plans[r], mi))
            return false;
    if (m->week != m->wprefix[7] || m->delta[0] != 0)
        return false;
    for (size_t k = 0; k < v->nsp; k++) {
        if (m->value[k] != week_count(m, v->sp_day[k]) + acc)
            return false;
        acc += plan_value(&v->plans[v->sp_plan[k]], mi) -
               plan_value(&v->plans[time_weekday(v->sp_day[k])], mi);
        if (m->delta[k + 1] != acc)
            return false;
    }
    return true;
}

bool
calendar_check(const struct calendar *cal)
{
    if (cal == NULL || cal->nv == 0 || cal->tz == NULL || !tz_check(cal->tz))
        return false;
    for (size_t i = 0; i < cal->nv; i++) {
        const struct version *v = &cal->v[i];

        if (i > 0 && v->from_day <= cal->v[i - 1].from_day)
            return false;
        if (v->ring_ms <= 0 || v->nplans < PLAN_FIRST_OVERRIDE)
            return false;
        if (v->plans[PLAN_CLOSED].n != 0)
            return false;
        for (size_t p = 0; p < v->nplans; p++)
            if (!plan_ok(&v->plans[p]))
                return false;
        for (size_t k = 0; k < v->nsp; k++)
            if ((k > 0 && v->sp_day[k] <= v->sp_day[k - 1]) || v->sp_plan[k] < PLAN_CLOSED ||
                v->sp_plan[k] >= v->nplans)
                return false;
        for (size_t r = 0; r < v->rank_n; r++) {
            size_t k = v->rank[r];
            int64_t day = v->rank_lo + (int64_t)r;

            if (k > v->nsp || (k > 0 && v->sp_day[k - 1] >= day) ||
                (k < v->nsp && v->sp_day[k] < day))
                return false;
        }
        for (int mi = 0; mi < 2; mi++) {
            if (!measure_ok(v, mi))
                return false;
            /* Global W must join up across versions. */
            if (i > 0) {
                const struct version *pv = &cal->v[i - 1];
                const struct measure *pm = &pv->m[mi], *m = &v->m[mi];
                size_t kp = special_rank(pv, v->from_day), k = special_rank(v, v->from_day);
                int64_t wp = pm->off + week_count(pm, v->from_day) + pm->delta[kp];

                if (m->start != wp || m->off + week_count(m, v->from_day) + m->delta[k] != wp ||
                    m->start < pm->start)
                    return false;
            }
        }
    }
    return true;
}

/* --- Building ----------------------------------------------------------------------- */

static void
version_free(struct version *v)
{
    free(v->rank);
    free(v->plans);
    free(v->sp_day);
    free(v->sp_plan);
    for (int mi = 0; mi < 2; mi++) {
        free(v->m[mi].delta);
        free(v->m[mi].value);
    }
}

void
calendar_free(struct calendar *cal)
{
    if (cal == NULL)
        return;
    for (size_t i = 0; i < cal->nv; i++)
        version_free(&cal->v[i]);
    free(cal->v);
    calendar_tz_free(cal->tz);
    free(cal);
}

static void
rank_build(struct version *v)
{
    if (v->nsp == 0 || v->sp_day[v->nsp - 1] - v->sp_day[0] >= CAL_MAX_DENSE)
        return;
    v->rank_lo = v->sp_day[0];
    v->rank_n = (size_t)(v->sp_day[v->nsp - 1] - v->rank_lo) + 2;
    v->rank = xmalloc(v->rank_n * sizeof(*v->rank));
    for (size_t i = 0, k = 0; i < v->rank_n; i++) {
        while (k < v->nsp && v->sp_day[k] < v->rank_lo + (int64_t)i)
            k++;
        v->rank[i] = (uint32_t)k;
    }
}

static void
measures_build(struct version *v)
{
    rank_build(v);
    for (int mi = 0; mi < 2; mi++) {
        struct measure *m = &v->m[mi];
        int64_t acc = 0;

        m->wprefix[0] = 0;
        for (int r = 0; r < 7; r++)
            m->wprefix[r + 1] = m->wprefix[r] + plan_value(&v->plans[r], mi);
        m->week = m->wprefix[7];
        m->delta = xmalloc((v->nsp + 1) * sizeof(*m->delta));
        m->value = xmalloc((v->nsp + 1) * sizeof(*m->value));
        m->delta[0] = 0;
        for (size_t k = 0; k < v->nsp; k++) {
            m->value[k] = week_count(m, v->sp_day[k]) + acc;
            acc += plan_value(&v->plans[v->sp_plan[k]], mi) -
                   plan_value(&v->plans[time_weekday(v->sp_day[k])], mi);
            m->delta[k + 1] = acc;
        }
    }
}

static void
offsets_build(struct calendar *cal)
{
    for (int mi = 0; mi < 2; mi++)
        for (size_t i = 0; i < cal->nv; i++) {
            struct version *v = &cal->v[i];
            struct measure *m = &v->m[mi];
            size_t k = special_rank(v, v->from_day);
            int64_t local = week_count(m, v->from_day) + m->delta[k];

            if (i == 0) {
                m->off = 0;
                m->start = local;
            } else {
                struct version *pv = &cal->v[i - 1];
                struct measure *pm = &pv->m[mi];
                size_t kp = special_rank(pv, v->from_day);
                int64_t wp = pm->off + week_count(pm, v->from_day) + pm->delta[kp];

                m->off = wp - local;
                m->start = wp;
            }
        }
}

/* --- JSON -------------------------------------------------------------------------- */

struct ctx {
    struct smile_err *err;
    char path[128];
    size_t plen;
};

/* Appends "/token" (JSON Pointer escaped) to the path; returns the old length to pop. */
static size_t
push(struct ctx *c, const char *token)
{
    size_t old = c->plen;

    if (c->plen + 1 < sizeof(c->path))
        c->path[c->plen++] = '/';
    for (const char *t = token; *t && c->plen + 2 < sizeof(c->path); t++) {
        if (*t == '~' || *t == '/') {
            c->path[c->plen++] = '~';
            c->path[c->plen++] = *t == '~' ? '0' : '1';
        } else {
            c->path[c->plen++] = *t;
        }
    }
    c->path[c->plen] = '\0';
    return old;
}

static size_t
push_index(struct ctx *c, size_t i)
{
    char b[24];

    snprintf(b, sizeof(b), "%zu", i);
    return push(c, b);
}

static void
pop(struct ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

#define FIELD_ERR(c, ...) smile_err_field((c)->err, (c)->path[0] ? (c)->path : "/", __VA_ARGS__)

static bool
keys_known(struct ctx *c, json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *val;
    bool ok = true;

    json_object_foreach(obj, k, val)
    {
        bool found = false;

        for (size_t i = 0; keys[i] != NULL; i++)
            if (strcmp(keys[i], k) == 0)
                found = true;
        if (!found) {
            size_t o = push(c, k);

            FIELD_ERR(c, "unknown key");
            pop(c, o);
            ok = false;
        }
    }
    return ok;
}

/* "HH:MM", 00:00..23:59, or 24:00 when allow_24; ms of the day. */
static bool
parse_hhmm(const char *s, bool allow_24, int32_t *out)
{
    int h, m;

    if (strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
        return false;
    *out = (h * 60 + m) * 60000;
    return true;
}

/* An interval list [["09:00","12:00"], ...] into p; false (with errors) if invalid. */
static bool
parse_intervals(struct ctx *c, json_t *arr, struct plan *p)
{
    bool ok = true;
    size_t i;
    json_t *iv;

    memset(p, 0, sizeof(*p));
    if (!json_is_array(arr)) {
        FIELD_ERR(c, "expected a list of [start, end] intervals");
        return false;
    }
    if (json_array_size(arr) > CAL_MAX_INTERVALS) {
        FIELD_ERR(c, "at most %d intervals per day", CAL_MAX_INTERVALS);
        return false;
    }
    json_array_foreach(arr, i, iv)
    {
        size_t o = push_index(c, i);
        int32_t se[2];
        bool good = true;

        if (!json_is_array(iv) || json_array_size(iv) != 2) {
            FIELD_ERR(c, "expected [\"HH:MM\", \"HH:MM\"]");
            pop(c, o);
            ok = false;
            continue;
        }
        for (int j = 0; j < 2; j++) {
            json_t *t = json_array_get(iv, (size_t)j);
            size_t o2 = push_index(c, (size_t)j);

            if (!json_is_string(t) || !parse_hhmm(json_string_value(t), j == 1, &se[j])) {
                FIELD_ERR(c, j == 0 ? "expected a time HH:MM (00:00..23:59)"
                                    : "expected a time HH:MM (00:00..24:00)");
                good = false;
            }
            pop(c, o2);
        }
        if (good && se[1] <= se[0]) {
            FIELD_ERR(c, "end must be after start");
            good = false;
        }
        if (good && p->n > 0 && se[0] < p->e[p->n - 1]) {
            FIELD_ERR(c, "overlaps or precedes the interval before it (list intervals in order)");
            good = false;
        }
        if (good) {
            p->s[p->n] = se[0];
            p->e[p->n++] = se[1];
            p->total += se[1] - se[0];
        } else {
            ok = false;
        }
        pop(c, o);
    }
    return ok;
}

/* "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD" (the end may be "MM-DD", same year as start). */
static bool
parse_date_range(const char *s, size_t len, int64_t *from, int64_t *to)
{
    const char *dots = NULL;

    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '.' && s[i + 1] == '.') {
            dots = s + i;
            break;
        }
    if (dots == NULL) {
        if (time_parse_date(s, len, from) != SMILE_OK)
            return false;
        *to = *from;
        return true;
    }
    if (time_parse_date(s, (size_t)(dots - s), from) != SMILE_OK)
        return false;
    {
        const char *e = dots + 2;
        size_t elen = len - (size_t)(e - s);

        if (elen == 5) {
            char full[11];

            memcpy(full, s, 5); /* "YYYY-" of the start */
            memcpy(full + 5, e, 5);
            full[10] = '\0';
            if (time_parse_date(full, 10, to) != SMILE_OK)
                return false;
        } else if (time_parse_date(e, elen, to) != SMILE_OK) {
            return false;
        }
    }
    return true;
}

struct special {
    int64_t day;
    int kind;      /* 0 holiday, 1 workday, 2 override */
    uint32_t plan; /* plan index */
    size_t src;    /* index in its JSON list (holidays, workdays) */
    const char *key;
};

static int
special_cmp(const void *a, const void *b)
{
    const struct special *x = a, *y = b;

    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->kind - y->kind;
}

static const char *const kind_name[] = {"holidays", "workdays", "overrides"};

/* holidays/workdays list into specials; false on error. */
static bool
parse_date_list(struct ctx *c, json_t *arr, int kind, struct special **sp, size_t *n, size_t *cap)
{
    size_t i;
    json_t *item;
    bool ok = true;

    if (!json_is_array(arr)) {
        FIELD_ERR(c,
                  "expected a list of dates \"YYYY-MM-DD\" or ranges \"YYYY-MM-DD..YYYY-MM-DD\"");
        return false;
    }
    json_array_foreach(arr, i, item)
    {
        size_t o = push_index(c, i);
        int64_t from, to;

        if (!json_is_string(item) ||
            !parse_date_range(json_string_value(item), json_string_length(item), &from, &to)) {
            FIELD_ERR(c, "expected a date \"YYYY-MM-DD\" or a range \"YYYY-MM-DD..YYYY-MM-DD\"");
            ok = false;
        } else if (to < from) {
            FIELD_ERR(c, "range ends before it starts");
            ok = false;
        } else if (to - from >= CAL_MAX_RANGE) {
            FIELD_ERR(c, "range longer than %d days", CAL_MAX_RANGE);
            ok = false;
        } else if (*n + (size_t)(to - from + 1) > CAL_MAX_SPECIAL) {
            FIELD_ERR(c, "more than %d special dates in one version", CAL_MAX_SPECIAL);
            ok = false;
        } else {
            for (int64_t d = from; d <= to; d++) {
                if (*n == *cap) {
                    *cap = *cap ? *cap * 2 : 64;
                    *sp = xrealloc(*sp, *cap * sizeof(**sp));
                }
                (*sp)[(*n)++] =
                    (struct special){d, kind, kind == 0 ? PLAN_CLOSED : PLAN_WORKDAY, i, NULL};
            }
        }
        pop(c, o);
        if (!ok && c->err->nfields >= SMILE_ERR_MAX_FIELDS)
            break;
    }
    return ok;
}

static const char *const version_keys[] = {
    "effective_from", "ring_ms", "week", "workday_intervals", "holidays", "workdays", "overrides",
    "always_open",    "note",    NULL};
static const char *const week_keys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

static bool
parse_version(struct ctx *c, json_t *obj, struct version *v)
{
    json_t *j, *week, *wdi, *hol, *work, *ovr;
    bool ok = true, always = false;
    struct special *sp = NULL;
    size_t nsp = 0, cap = 0, o;
    struct plan tmp;

    memset(v, 0, sizeof(*v));
    v->from_day = INT64_MIN; /* until parsed */
    if (!json_is_object(obj)) {
        FIELD_ERR(c, "expected an object");
        return false;
    }
    ok = keys_known(c, obj, version_keys);

    j = json_object_get(obj, "effective_from");
    o = push(c, "effective_from");
    if (j == NULL) {
        FIELD_ERR(c, "required");
        ok = false;
    } else if (!json_is_string(j) || time_parse_date(json_string_value(j), json_string_length(j),
                                                     &v->from_day) != SMILE_OK) {
        FIELD_ERR(c, "expected a date YYYY-MM-DD");
        v->from_day = INT64_MIN;
        ok = false;
    }
    pop(c, o);

    j = json_object_get(obj, "ring_ms");
    o = push(c, "ring_ms");
    if (j == NULL) {
        FIELD_ERR(c, "required (milliseconds per ring, e.g. 5000 in China)");
        ok = false;
    } else if (!json_is_integer(j) || json_integer_value(j) < 1 ||
               json_integer_value(j) > CAL_MAX_RING_MS) {
        FIELD_ERR(c, "expected an integer from 1 to %d", CAL_MAX_RING_MS);
        ok = false;
    } else {
        v->ring_ms = json_integer_value(j);
    }
    pop(c, o);

    j = json_object_get(obj, "always_open");
    if (j != NULL) {
        o = push(c, "always_open");
        if (!json_is_boolean(j)) {
            FIELD_ERR(c, "expected true or false");
            ok = false;
        } else {
            always = json_is_true(j);
        }
        pop(c, o);
    }
    v->always_open = always;

    week = json_object_get(obj, "week");
    wdi = json_object_get(obj, "workday_intervals");
    hol = json_object_get(obj, "holidays");
    work = json_object_get(obj, "workdays");
    ovr = json_object_get(obj, "overrides");

    v->nplans = PLAN_FIRST_OVERRIDE + (json_is_object(ovr) ? json_object_size(ovr) : 0);
    v->plans = xcalloc(v->nplans, sizeof(*v->plans));
    if (always) {
        const char *const excl[] = {"week", "workday_intervals", "holidays", "workdays",
                                    "overrides"};

        for (size_t i = 0; i < ARRAY_LEN(excl); i++)
            if (json_object_get(obj, excl[i]) != NULL) {
                o = push(c, excl[i]);
                FIELD_ERR(c, "not allowed with always_open");
                pop(c, o);
                ok = false;
            }
        for (int d = 0; d < 7; d++) {
            v->plans[d].n = 1;
            v->plans[d].s[0] = 0;
            v->plans[d].e[0] = (int32_t)CAL_DAY_MS;
            v->plans[d].total = CAL_DAY_MS;
        }
        v->plans[PLAN_WORKDAY] = v->plans[0];
        if (ok)
            measures_build(v);
        return ok;
    }

    o = push(c, "week");
    if (week == NULL) {
        FIELD_ERR(c, "required (or set always_open)");
        ok = false;
    } else if (!json_is_object(week)) {
        FIELD_ERR(c, "expected an object with keys mon..sun");
        ok = false;
    } else {
        ok = keys_known(c, week, week_keys) && ok;
        for (int d = 0; d < 7; d++) {
            json_t *day = json_object_get(week, week_keys[d]);

            if (day != NULL) {
                size_t o2 = push(c, week_keys[d]);

                ok = parse_intervals(c, day, &v->plans[d]) && ok;
                pop(c, o2);
            }
        }
    }
    pop(c, o);

    /* Make-up days work the default workday hours: workday_intervals if given, else the
     * hours of the first of Monday..Friday that has any. */
    if (wdi != NULL) {
        o = push(c, "workday_intervals");
        ok = parse_intervals(c, wdi, &tmp) && ok;
        if (tmp.n == 0 && json_is_array(wdi)) {
            FIELD_ERR(c, "must not be empty");
            ok = false;
        }
        v->plans[PLAN_WORKDAY] = tmp;
        pop(c, o);
    } else {
        for (int d = 0; d < 5; d++)
            if (v->plans[d].n > 0) {
                v->plans[PLAN_WORKDAY] = v->plans[d];
                break;
            }
    }

    if (hol != NULL) {
        o = push(c, "holidays");
        ok = parse_date_list(c, hol, 0, &sp, &nsp, &cap) && ok;
        pop(c, o);
    }
    if (work != NULL) {
        o = push(c, "workdays");
        ok = parse_date_list(c, work, 1, &sp, &nsp, &cap) && ok;
        if (nsp > 0 && v->plans[PLAN_WORKDAY].n == 0 && json_array_size(work) > 0) {
            FIELD_ERR(c, "no working hours for make-up days: set workday_intervals or give "
                         "Monday–Friday hours");
            ok = false;
        }
        pop(c, o);
    }
    if (ovr != NULL) {
        o = push(c, "overrides");
        if (!json_is_object(ovr)) {
            FIELD_ERR(c, "expected an object {\"YYYY-MM-DD\": [[\"HH:MM\", \"HH:MM\"], ...]}");
            ok = false;
        } else {
            const char *key;
            json_t *val;
            uint32_t pi = PLAN_FIRST_OVERRIDE;

            json_object_foreach(ovr, key, val)
            {
                size_t o2 = push(c, key);
                int64_t day;

                if (time_parse_date(key, strlen(key), &day) != SMILE_OK) {
                    FIELD_ERR(c, "key must be a date YYYY-MM-DD");
                    ok = false;
                } else if (nsp >= CAL_MAX_SPECIAL) {
                    FIELD_ERR(c, "more than %d special dates in one version", CAL_MAX_SPECIAL);
                    ok = false;
                } else if (parse_intervals(c, val, &v->plans[pi])) {
                    if (nsp == cap) {
                        cap = cap ? cap * 2 : 64;
                        sp = xrealloc(sp, cap * sizeof(*sp));
                    }
                    sp[nsp++] = (struct special){day, 2, pi, 0, key};
                } else {
                    ok = false;
                }
                pi++;
                pop(c, o2);
            }
        }
        pop(c, o);
    }

    /* Sort the special dates; a date may repeat within one list, not across lists. */
    if (nsp > 0)
        qsort(sp, nsp, sizeof(*sp), special_cmp);
    v->sp_day = xmalloc((nsp + 1) * sizeof(*v->sp_day));
    v->sp_plan = xmalloc((nsp + 1) * sizeof(*v->sp_plan));
    for (size_t i = 0; i < nsp; i++) {
        if (v->nsp > 0 && v->sp_day[v->nsp - 1] == sp[i].day) {
            const struct special *prev = &sp[i - 1];

            if (prev->kind != sp[i].kind) {
                char date[11], buf[24];
                size_t o2 = push(c, kind_name[sp[i].kind]);

                time_format_date(sp[i].day, date);
                if (sp[i].kind == 2) {
                    o = push(c, sp[i].key);
                } else {
                    snprintf(buf, sizeof(buf), "%zu", sp[i].src);
                    o = push(c, buf);
                }
                FIELD_ERR(c, "%s is also listed in %s", date, kind_name[prev->kind]);
                pop(c, o);
                pop(c, o2);
                ok = false;
            }
            continue;
        }
        v->sp_day[v->nsp] = sp[i].day;
        v->sp_plan[v->nsp++] = sp[i].plan;
    }
    free(sp);
    if (ok)
        measures_build(v);
    return ok;
}

int
calendar_from_json(const char *json, size_t len, struct calendar_tz *tz, struct calendar **out,
                   struct smile_err *err)
{
    static const char *const top_keys[] = {"name", "description", "time_zone", "versions", NULL};
    struct smile_err dummy;
    struct ctx c = {0};
    json_error_t jerr;
    json_t *root, *j, *versions;
    struct calendar *cal = NULL;
    bool ok = true;
    size_t o, i;

    *out = NULL;
    if (err == NULL)
        err = &dummy;
    smile_err_clear(err);
    c.err = err;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return smile_err_set(err, SMILE_EMALFORMED, "calendar JSON: line %d column %d: %s",
                             jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        FIELD_ERR(&c, "expected an object");
        json_decref(root);
        return err->code;
    }
    ok = keys_known(&c, root, top_keys);

    j = json_object_get(root, "name");
    if (j != NULL &&
        (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > 200)) {
        o = push(&c, "name");
        FIELD_ERR(&c, "expected a non-empty string of at most 200 bytes");
        pop(&c, o);
        ok = false;
    }
    j = json_object_get(root, "description");
    if (j != NULL && !json_is_string(j)) {
        o = push(&c, "description");
        FIELD_ERR(&c, "expected a string");
        pop(&c, o);
        ok = false;
    }
    j = json_object_get(root, "time_zone");
    o = push(&c, "time_zone");
    if (j == NULL) {
        FIELD_ERR(&c, "required (an IANA zone name such as Asia/Shanghai)");
        ok = false;
    } else if (!json_is_string(j)) {
        FIELD_ERR(&c, "expected an IANA zone name such as Asia/Shanghai");
        ok = false;
    } else if (tz == NULL) {
        FIELD_ERR(&c, "unknown time zone %.64s", json_string_value(j));
        ok = false;
    } else if (strcmp(json_string_value(j), tz->name) != 0) {
        FIELD_ERR(&c, "time zone %.64s does not match the loaded zone %s", json_string_value(j),
                  tz->name);
        ok = false;
    }
    pop(&c, o);

    versions = json_object_get(root, "versions");
    o = push(&c, "versions");
    if (versions == NULL || !json_is_array(versions) || json_array_size(versions) == 0) {
        FIELD_ERR(&c, "required: a non-empty list of versions");
        ok = false;
    } else if (json_array_size(versions) > CAL_MAX_VERSIONS) {
        FIELD_ERR(&c, "at most %d versions", CAL_MAX_VERSIONS);
        ok = false;
    } else {
        cal = xcalloc(1, sizeof(*cal));
        cal->v = xcalloc(json_array_size(versions), sizeof(*cal->v));
        json_array_foreach(versions, i, j)
        {
            size_t o2 = push_index(&c, i);
            struct version *v = &cal->v[i];

            cal->nv = i + 1;
            ok = parse_version(&c, j, v) && ok;
            if (i > 0 && v->from_day != INT64_MIN && cal->v[i - 1].from_day != INT64_MIN &&
                v->from_day <= cal->v[i - 1].from_day) {
                char date[11];
                size_t o3 = push(&c, "effective_from");

                time_format_date(cal->v[i - 1].from_day, date);
                FIELD_ERR(&c, "must be after the previous version's effective_from (%s)", date);
                pop(&c, o3);
                ok = false;
            }
            pop(&c, o2);
        }
    }
    pop(&c, o);
    json_decref(root);
    if (!ok || err->code != SMILE_OK) {
        calendar_free(cal);
        return err->code != SMILE_OK ? err->code : SMILE_EINVAL;
    }
    cal->tz = tz_clone(tz);
    offsets_build(cal);
    *out = cal;
    return SMILE_OK;
}

int
calendar_json_time_zone(const char *json, size_t len, char *out, size_t outsize)
{
    json_t *root = json_loadb(json, len, 0, NULL), *j;
    int rc = SMILE_EINVAL;

    if (outsize > 0)
        out[0] = '\0';
    if (root == NULL)
        return SMILE_EMALFORMED;
    j = json_object_get(root, "time_zone");
    if (json_is_string(j) && json_string_length(j) < outsize) {
        memcpy(out, json_string_value(j), json_string_length(j) + 1);
        rc = SMILE_OK;
    }
    json_decref(root);
    return rc;
}
