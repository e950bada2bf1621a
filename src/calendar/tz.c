/*
 * tz.c — time zones for the calendar: a parser of TZif files (RFC 8536, versions 1–4)
 * including the footer POSIX TZ string that governs instants after the last transition,
 * and the lookups the business-time arithmetic runs on (offset at an instant, next change,
 * local wall time back to UTC). Pure except calendar_tz_load(), which reads one file from
 * the system zoneinfo. No libc time zone state (TZ, localtime, mktime) is touched.
 */
#include "calendar/calendar_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_TIMES 100000
#define TZ_MAX_TYPES 256
/* The footer rule is expanded into the table up to this year; later years are computed. */
#define TZ_TABLE_LAST_YEAR 2200
/* Transitions are kept only within the instants the calendar handles, plus a week. */
#define TZ_MIN_S (CAL_MIN_MS / 1000 - 7 * 86400)
#define TZ_MAX_S (CAL_MAX_MS / 1000 + 7 * 86400)

/* --- Big-endian readers ------------------------------------------------------------- */

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* --- POSIX TZ strings (RFC 8536 §3.3, POSIX.1 8.3) ----------------------------------- */

struct cursor {
    const char *p, *end;
};

static bool
at_digit(const struct cursor *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static bool
read_num(struct cursor *c, int max_digits, int *out)
{
    int v = 0, n = 0;

    while (at_digit(c) && n < max_digits) {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0 || at_digit(c))
        return false;
    *out = v;
    return true;
}

/* A zone abbreviation: three or more letters, or <...> with letters, digits, '+', '-'. */
static bool
read_name(struct cursor *c)
{
    int n = 0;

    if (c->p < c->end && *c->p == '<') {
        c->p++;
        while (c->p < c->end && *c->p != '>') {
            char ch = *c->p;

            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '+' || ch == '-'))
                return false;
            c->p++;
            n++;
        }
        if (c->p >= c->end)
            return false;
        c->p++;
        return n >= 3;
    }
    while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z'))) {
        c->p++;
        n++;
    }
    return n >= 3;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours; seconds, sign applied. */
static bool
read_hms(struct cursor *c, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;

    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    if (!read_num(c, 3, &h) || h > max_hours)
        return false;
    if (c->p < c->end && *c->p == ':') {
        c->p++;
        if (!read_num(c, 2, &m) || m > 59)
            return false;
        if (c->p < c->end && *c->p == ':') {
            c->p++;
            if (!read_num(c, 2, &s) || s > 59)
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool
read_rule_date(struct cursor *c, struct tz_rule_date *d)
{
    d->secs = 2 * 3600;
    if (c->p < c->end && *c->p == 'J') {
        c->p++;
        d->kind = 'J';
        if (!read_num(c, 3, &d->day) || d->day < 1 || d->day > 365)
            return false;
    } else if (c->p < c->end && *c->p == 'M') {
        c->p++;
        d->kind = 'M';
        if (!read_num(c, 2, &d->month) || d->month < 1 || d->month > 12)
            return false;
        if (c->p >= c->end || *c->p != '.')
            return false;
        c->p++;
        if (!read_num(c, 1, &d->week) || d->week < 1 || d->week > 5)
            return false;
        if (c->p >= c->end || *c->p != '.')
            return false;
        c->p++;
        if (!read_num(c, 1, &d->day) || d->day > 6)
            return false;
    } else {
        d->kind = 'D';
        if (!read_num(c, 3, &d->day) || d->day > 365)
            return false;
    }
    if (c->p < c->end && *c->p == '/') {
        c->p++;
        /* RFC 8536 §3.3.1: transition times may be signed and range over -167..167 h. */
        if (!read_hms(c, 167, &d->secs))
            return false;
    }
    return true;
}

static bool
parse_posix_tz(const char *s, size_t len, struct tz_footer *f)
{
    struct cursor c = {s, s + len};
    int32_t off;

    memset(f, 0, sizeof(*f));
    if (!read_name(&c) || !read_hms(&c, 24, &off))
        return false;
    f->present = true;
    f->std_off = -off; /* POSIX offsets count hours west of Greenwich */
    if (c.p == c.end)
        return true;
    if (!read_name(&c))
        return false;
    f->has_dst = true;
    f->dst_off = f->std_off + 3600;
    if (c.p < c.end && *c.p != ',') {
        if (!read_hms(&c, 24, &off))
            return false;
        f->dst_off = -off;
    }
    if (c.p == c.end) {
        /* No rule given: the customary US rule (what glibc and tzcode assume). */
        f->start = (struct tz_rule_date){'M', 0, 2, 3, 7200};
        f->end = (struct tz_rule_date){'M', 0, 1, 11, 7200};
        return true;
    }
    if (*c.p != ',')
        return false;
    c.p++;
    if (!read_rule_date(&c, &f->start))
        return false;
    if (c.p >= c.end || *c.p != ',')
        return false;
    c.p++;
    if (!read_rule_date(&c, &f->end))
        return false;
    return c.p == c.end;
}

static bool
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The day number (days since 1970-01-01) a rule date falls on in year y. */
static int64_t
rule_day(const struct tz_rule_date *d, int64_t y)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t jan1 = time_days_from_civil(y, 1, 1);

    if (d->kind == 'J')
        return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60 ? 1 : 0);
    if (d->kind == 'D')
        return jan1 + d->day;
    {
        int64_t first = time_days_from_civil(y, (unsigned)d->month, 1);
        int wd = (time_weekday(first) + 1) % 7; /* 0 = Sunday, as POSIX counts */
        int64_t day = first + (d->day - wd + 7) % 7 + 7 * (d->week - 1);
        int len = mdays[d->month - 1] + (d->month == 2 && is_leap(y) ? 1 : 0);

        while (day >= first + len)
            day -= 7;
        return day;
    }
}

/* The two changes of year y in UTC seconds: DST starts (to dst_off) and ends (to std_off). */
static void
footer_year(const struct tz_footer *f, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&f->start, y) * 86400 + f->start.secs - f->std_off;
    *end = rule_day(&f->end, y) * 86400 + f->end.secs - f->dst_off;
}

/* Offset and next change from the footer rule alone, for instants past the table. */
static int32_t
footer_find(const struct tz_footer *f, int64_t s, int64_t *next_s)
{
    int64_t y, t[6];
    int32_t o[6], cur;
    unsigned m, d;
    int n = 0;

    time_civil_from_days(floor_div(s, 86400), &y, &m, &d);
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t a, b;

        footer_year(f, yy, &a, &b);
        t[n] = a;
        o[n++] = f->dst_off;
        t[n] = b;
        o[n++] = f->std_off;
    }
    /* Insertion sort of six events. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            int64_t tt = t[j];
            int32_t oo = o[j];

            t[j] = t[j - 1];
            o[j] = o[j - 1];
            t[j - 1] = tt;
            o[j - 1] = oo;
        }
    cur = o[0] == f->dst_off ? f->std_off : f->dst_off;
    for (int i = 0; i < n && t[i] <= s; i++)
        cur = o[i];
    *next_s = INT64_MAX;
    for (int i = 0; i < n; i++)
        if (t[i] > s && o[i] != cur) {
            *next_s = t[i];
            break;
        }
    return cur;
}

/* --- TZif ------------------------------------------------------------------------- */

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chr;
};

static bool
read_header(const unsigned char *p, size_t len, size_t at, struct tzif_counts *c, char *version)
{
    if (at + 44 > len || memcmp(p + at, "TZif", 4) != 0)
        return false;
    *version = (char)p[at + 4];
    c->isut = be32(p + at + 20);
    c->isstd = be32(p + at + 24);
    c->leap = be32(p + at + 28);
    c->time = be32(p + at + 32);
    c->type = be32(p + at + 36);
    c->chr = be32(p + at + 40);
    return true;
}

static size_t
block_size(const struct tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chr +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Appends one change to the table. A change at the instant of the previous one replaces
 * it (a rule whose DST ends exactly when next year's starts, e.g. "EST5EDT,0/0,J365/25",
 * is DST all year); a change to the offset already in force is dropped. */
static void
append_change(struct calendar_tz *tz, int64_t t, int32_t o)
{
    if (tz->n > 0 && t <= tz->trans[tz->n - 1]) {
        if (t < tz->trans[tz->n - 1])
            return;
        tz->off[tz->n - 1] = o;
        if (o == (tz->n >= 2 ? tz->off[tz->n - 2] : tz->off0))
            tz->n--;
        return;
    }
    if (o == (tz->n ? tz->off[tz->n - 1] : tz->off0))
        return;
    tz->trans[tz->n] = t;
    tz->off[tz->n++] = o;
}

/* Appends the footer rule's changes after the explicit table, up to TZ_TABLE_LAST_YEAR. */
static void
extend_table(struct calendar_tz *tz)
{
    int64_t y0 = 1800, y, cap;
    unsigned m, d;

    if (tz->n > 0)
        time_civil_from_days(floor_div(tz->trans[tz->n - 1], 86400), &y0, &m, &d);
    if (y0 > TZ_TABLE_LAST_YEAR) {
        tz->table_end = tz->trans[tz->n - 1] + 1;
        return;
    }
    cap = tz->n + 2 * (TZ_TABLE_LAST_YEAR + 2 - y0);
    tz->trans = xrealloc(tz->trans, (size_t)cap * sizeof(*tz->trans));
    tz->off = xrealloc(tz->off, (size_t)cap * sizeof(*tz->off));
    for (y = y0; y <= TZ_TABLE_LAST_YEAR + 1; y++) {
        int64_t a, b;

        footer_year(&tz->footer, y, &a, &b);
        if (a <= b) {
            append_change(tz, a, tz->footer.dst_off);
            append_change(tz, b, tz->footer.std_off);
        } else {
            append_change(tz, b, tz->footer.std_off);
            append_change(tz, a, tz->footer.dst_off);
        }
    }
    /* Events of the last generated year cannot precede the middle of the year before. */
    tz->table_end = time_days_from_civil(TZ_TABLE_LAST_YEAR, 7, 1) * 86400;
}

int
calendar_tz_parse(const char *name, const void *tzif, size_t len, struct calendar_tz **out,
                  struct smile_err *err)
{
    const unsigned char *p = tzif;
    struct tzif_counts c;
    struct calendar_tz *tz = NULL;
    char version;
    size_t at = 0, tsize = 4, need;
    const unsigned char *times, *idx, *types;
    int32_t typeoff[TZ_MAX_TYPES];
    int64_t prev = 0;

    *out = NULL;
    if (name == NULL || strlen(name) >= sizeof(tz->name))
        return smile_err_set(err, SMILE_EINVAL, "time zone name too long");
    if (tzif == NULL || !read_header(p, len, 0, &c, &version))
        return smile_err_set(err, SMILE_EINVAL, "%s: not a TZif file", name);
    if (version != 0 && version < '2')
        return smile_err_set(err, SMILE_EINVAL, "%s: unknown TZif version", name);
    if (version >= '2') {
        at = 44 + block_size(&c, 4);
        if (c.time > TZ_MAX_TIMES || c.type > TZ_MAX_TYPES || c.leap > TZ_MAX_TIMES ||
            c.chr > 65536 || c.isut > TZ_MAX_TYPES || c.isstd > TZ_MAX_TYPES ||
            !read_header(p, len, at, &c, &version))
            return smile_err_set(err, SMILE_EINVAL, "%s: truncated TZif file", name);
        tsize = 8;
    }
    if (c.time > TZ_MAX_TIMES || c.type == 0 || c.type > TZ_MAX_TYPES || c.chr == 0 ||
        c.chr > 65536 || (c.isut != 0 && c.isut != c.type) || (c.isstd != 0 && c.isstd != c.type) ||
        c.leap > TZ_MAX_TIMES)
        return smile_err_set(err, SMILE_EINVAL, "%s: inconsistent TZif header", name);
    if (c.leap != 0)
        return smile_err_set(err, SMILE_EINVAL,
                             "%s: zones with leap seconds (right/...) are not supported", name);
    at += 44;
    need = block_size(&c, tsize);
    if (at + need > len)
        return smile_err_set(err, SMILE_EINVAL, "%s: truncated TZif file", name);
    times = p + at;
    idx = times + (size_t)c.time * tsize;
    types = idx + c.time;
    for (uint32_t i = 0; i < c.type; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);

        if (o < -89999 || o > 93599 || types[6 * i + 4] > 1 || types[6 * i + 5] >= c.chr)
            return smile_err_set(err, SMILE_EINVAL, "%s: bad local time type %u", name, i);
        typeoff[i] = o;
    }
    tz = xcalloc(1, sizeof(*tz));
    memcpy(tz->name, name, strlen(name) + 1);
    tz->trans = xmalloc(((size_t)c.time + 1) * sizeof(*tz->trans));
    tz->off = xmalloc(((size_t)c.time + 1) * sizeof(*tz->off));
    tz->off0 = typeoff[0];
    tz->table_end = INT64_MAX;
    for (uint32_t i = 0; i < c.time; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);

        if (idx[i] >= c.type || (i > 0 && t <= prev))
            goto bad_table;
        prev = t;
        /* Outside years 0001..9999 only the offset in force at the edge matters. */
        if (t < TZ_MIN_S) {
            tz->off0 = typeoff[idx[i]];
            continue;
        }
        if (t > TZ_MAX_S)
            continue;
        /* Keep only real changes of offset; abbreviation-only changes do not matter here. */
        if (typeoff[idx[i]] == (tz->n ? tz->off[tz->n - 1] : tz->off0))
            continue;
        tz->trans[tz->n] = t;
        tz->off[tz->n++] = typeoff[idx[i]];
    }
    at += need;
    if (version >= '2') {
        const unsigned char *nl;

        if (at >= len || p[at] != '\n')
            goto bad_footer;
        nl = memchr(p + at + 1, '\n', len - at - 1);
        if (nl == NULL)
            goto bad_footer;
        if (nl > p + at + 1 &&
            !parse_posix_tz((const char *)p + at + 1, (size_t)(nl - p - at - 1), &tz->footer))
            goto bad_footer;
    }
    if (tz->footer.present && tz->footer.has_dst)
        extend_table(tz);
    *out = tz;
    return SMILE_OK;
bad_table:
    calendar_tz_free(tz);
    return smile_err_set(err, SMILE_EINVAL, "%s: transition table out of order", name);
bad_footer:
    calendar_tz_free(tz);
    return smile_err_set(err, SMILE_EINVAL, "%s: bad TZ string footer", name);
}

static bool
valid_zone_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= 64 || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '_' || ch == '-' || ch == '+' || ch == '.'))
            return false;
    }
    return true;
}

int
calendar_tz_load(const char *name, struct calendar_tz **out, struct smile_err *err)
{
    const char *dir = getenv("SMILE_ZONEINFO");
    char path[512];
    FILE *f;
    unsigned char *data;
    size_t n;
    int rc;

    *out = NULL;
    if (name == NULL || !valid_zone_name(name))
        return smile_err_set(err, SMILE_EINVAL, "invalid time zone name");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return smile_err_set(err, SMILE_ENOTFOUND, "unknown time zone %s", name);
    data = xmalloc(TZ_MAX_FILE);
    n = fread(data, 1, TZ_MAX_FILE, f);
    if (ferror(f)) {
        fclose(f);
        free(data);
        return smile_err_set(err, SMILE_EIO, "cannot read time zone %s", name);
    }
    fclose(f);
    rc = calendar_tz_parse(name, data, n, out, err);
    free(data);
    return rc;
}

void
calendar_tz_free(struct calendar_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->trans);
    free(tz->off);
    free(tz);
}

struct calendar_tz *
tz_clone(const struct calendar_tz *tz)
{
    struct calendar_tz *c = xmalloc(sizeof(*c));

    *c = *tz;
    c->trans = xmalloc((tz->n + 1) * sizeof(*c->trans));
    c->off = xmalloc((tz->n + 1) * sizeof(*c->off));
    if (tz->n > 0) {
        memcpy(c->trans, tz->trans, tz->n * sizeof(*c->trans));
        memcpy(c->off, tz->off, tz->n * sizeof(*c->off));
    }
    return c;
}

bool
tz_check(const struct calendar_tz *tz)
{
    for (size_t i = 1; i < tz->n; i++)
        if (tz->trans[i] <= tz->trans[i - 1] || tz->off[i] == tz->off[i - 1])
            return false;
    if (tz->n > 0 && tz->off[0] == tz->off0)
        return false;
    return tz->table_end == INT64_MAX || (tz->footer.present && tz->footer.has_dst);
}

int32_t
tz_find(const struct calendar_tz *tz, int64_t utc_ms, int64_t *next_ms)
{
    int64_t s = floor_div(utc_ms, 1000), ns;
    size_t lo = 0, hi = tz->n;
    int32_t off;

    if (s >= tz->table_end) {
        off = footer_find(&tz->footer, s, &ns);
        *next_ms = ns == INT64_MAX ? CAL_NEVER : ns * 1000;
        return off;
    }
    if (tz->n == 0 || s >= tz->trans[tz->n - 1]) {
        *next_ms = tz->table_end == INT64_MAX ? CAL_NEVER : tz->table_end * 1000;
        return tz->n ? tz->off[tz->n - 1] : tz->off0;
    }
    /* lo = number of transitions at or before s. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= s)
            lo = mid + 1;
        else
            hi = mid;
    }
    *next_ms = tz->trans[lo] * 1000;
    return lo ? tz->off[lo - 1] : tz->off0;
}

static int64_t
clamp_ms(int64_t t)
{
    return t < CAL_MIN_MS ? CAL_MIN_MS : t > CAL_MAX_MS ? CAL_MAX_MS : t;
}

int32_t
calendar_tz_offset(const struct calendar_tz *tz, int64_t utc_ms)
{
    int64_t next;

    return tz_find(tz, clamp_ms(utc_ms), &next);
}

int64_t
calendar_tz_to_utc(const struct calendar_tz *tz, int64_t local_ms)
{
    /* Offsets stay within ±26 h, so the answer lies in that window around the wall time;
     * walk the offset segments across the window in order and take the first fit. */
    int64_t window = 26 * 3600 * INT64_C(1000), t, next, u = 0;

    local_ms = clamp_ms(local_ms);
    t = clamp_ms(local_ms - window);
    for (int i = 0; i < 64; i++) {
        int32_t off = tz_find(tz, t, &next);

        u = local_ms - (int64_t)off * 1000;
        if (u < t)
            return t; /* the wall time fell in a gap just before this segment */
        if (u < next || next == CAL_NEVER)
            return u;
        if (next > local_ms + window)
            return u;
        t = next;
    }
    return u;
}
