/*
 * holidays.c — holiday notices as data: the plain-text import format of SOURCES.md §4.5
 * ("2026 OFF 01-01..01-03 …" / "2026 WORK 01-04 …"), merging such a notice into a calendar
 * JSON document (so the API can import next year's State Council notice without code), and
 * the built-in China calendar with the 2024–2026 holidays and make-up days. Pure.
 */
#include "calendar/calendar_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOL_MAX_DATES 100000
#define HOL_MAX_RANGE 400

/* --- Text format ---------------------------------------------------------------------- */

struct dated {
    int64_t day;
    int line;
};

struct dlist {
    struct dated *d;
    size_t n, cap;
};

static void
dlist_add(struct dlist *l, int64_t day, int line)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->d = xrealloc(l->d, l->cap * sizeof(*l->d));
    }
    l->d[l->n++] = (struct dated){day, line};
}

static int
dated_cmp(const void *a, const void *b)
{
    const struct dated *x = a, *y = b;

    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->line - y->line;
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "MM-DD" in year, or "YYYY-MM-DD". */
static bool
item_date(const char *s, size_t n, int64_t year, int64_t *out)
{
    char full[11];

    if (n == 10)
        return time_parse_date(s, n, out) == SMILE_OK;
    if (n != 5 || year < 0 || year > 9999)
        return false;
    snprintf(full, sizeof(full), "%04d-", (int)year);
    memcpy(full + 5, s, 5);
    return time_parse_date(full, 10, out) == SMILE_OK;
}

static int
line_err(struct smile_err *err, int line, const char *what, const char *tok, size_t toklen)
{
    if (tok != NULL)
        return smile_err_set(err, SMILE_EINVAL, "line %d: %s '%.*s'", line, what,
                             (int)(toklen > 40 ? 40 : toklen), tok);
    return smile_err_set(err, SMILE_EINVAL, "line %d: %s", line, what);
}

/* One item (date or range) of a line into l. */
static int
parse_item(const char *t, size_t n, int64_t year, int line, struct dlist *l, size_t *total,
           struct smile_err *err)
{
    const char *dots = NULL;
    int64_t from, to, ystart;
    int64_t y;
    unsigned m, d;

    for (size_t i = 0; i + 1 < n; i++)
        if (t[i] == '.' && t[i + 1] == '.') {
            dots = t + i;
            break;
        }
    if (dots == NULL) {
        if (!item_date(t, n, year, &from))
            return line_err(err, line, "bad date (expected MM-DD or YYYY-MM-DD)", t, n);
        to = from;
    } else {
        size_t an = (size_t)(dots - t), bn = n - an - 2;

        if (!item_date(t, an, year, &from))
            return line_err(err, line, "bad range start", t, n);
        time_civil_from_days(from, &y, &m, &d);
        ystart = y;
        if (!item_date(dots + 2, bn, ystart, &to))
            return line_err(err, line, "bad range end", t, n);
        if (to < from)
            return line_err(err, line, "range ends before it starts", t, n);
        if (to - from >= HOL_MAX_RANGE)
            return line_err(err, line, "range longer than 400 days", t, n);
    }
    if (*total + (size_t)(to - from + 1) > HOL_MAX_DATES)
        return line_err(err, line, "too many dates", NULL, 0);
    *total += (size_t)(to - from + 1);
    for (int64_t day = from; day <= to; day++)
        dlist_add(l, day, line);
    return SMILE_OK;
}

static int
parse_line(const char *s, size_t n, int line, struct dlist *off, struct dlist *work, size_t *total,
           struct smile_err *err)
{
    const char *tok[3] = {0};
    size_t toklen[3] = {0}, ntok = 0, i = 0;
    int64_t year = 0;
    struct dlist *target;
    int nitems = 0;

    /* Split off the first two tokens; the rest are items. */
    while (ntok < 2) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        tok[ntok] = s + i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        toklen[ntok] = (size_t)(s + i - tok[ntok]);
        ntok++;
    }
    if (ntok == 0)
        return SMILE_OK; /* blank or comment-only line */
    if (toklen[0] != 4 || !all_digits(tok[0], 4))
        return line_err(err, line, "expected a year (YYYY), got", tok[0], toklen[0]);
    for (size_t k = 0; k < 4; k++)
        year = year * 10 + (tok[0][k] - '0');
    if (ntok < 2)
        return line_err(err, line, "expected OFF or WORK after the year", NULL, 0);
    if (toklen[1] == 3 && strncasecmp(tok[1], "OFF", 3) == 0)
        target = off;
    else if (toklen[1] == 4 && strncasecmp(tok[1], "WORK", 4) == 0)
        target = work;
    else
        return line_err(err, line, "expected OFF or WORK, got", tok[1], toklen[1]);
    for (;;) {
        const char *t;
        int rc;

        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        t = s + i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        rc = parse_item(t, (size_t)(s + i - t), year, line, target, total, err);
        if (rc != SMILE_OK)
            return rc;
        nitems++;
    }
    if (nitems == 0)
        return line_err(err, line, "no dates after", tok[1], toklen[1]);
    return SMILE_OK;
}

/* Sorts, drops repeats, hands the days to *out. */
static void
dlist_finish(struct dlist *l, int64_t **out, size_t *nout)
{
    size_t n = 0;

    if (l->n > 0)
        qsort(l->d, l->n, sizeof(*l->d), dated_cmp);
    *out = xmalloc((l->n + 1) * sizeof(**out));
    for (size_t i = 0; i < l->n; i++)
        if (n == 0 || (*out)[n - 1] != l->d[i].day)
            (*out)[n++] = l->d[i].day;
    *nout = n;
}

int
calendar_holidays_parse_text(const char *text, size_t len, struct calendar_holidays *out,
                             struct smile_err *err)
{
    struct dlist off = {0}, work = {0};
    size_t pos = 0, total = 0;
    int line = 0, rc = SMILE_OK;
    struct smile_err dummy;

    memset(out, 0, sizeof(*out));
    if (err == NULL)
        err = &dummy;
    smile_err_clear(err);
    while (pos < len && rc == SMILE_OK) {
        size_t start = pos, end;
        const char *nl = memchr(text + pos, '\n', len - pos);

        end = nl ? (size_t)(nl - text) : len;
        pos = nl ? end + 1 : len;
        line++;
        /* Drop a comment, then a trailing CR. */
        for (size_t i = start; i < end; i++)
            if (text[i] == '#') {
                end = i;
                break;
            }
        if (end > start && text[end - 1] == '\r')
            end--;
        rc = parse_line(text + start, end - start, line, &off, &work, &total, err);
    }
    if (rc == SMILE_OK && off.n > 0 && work.n > 0) {
        /* A date may not be both a day off and a working day. */
        size_t i = 0, j = 0;

        qsort(off.d, off.n, sizeof(*off.d), dated_cmp);
        qsort(work.d, work.n, sizeof(*work.d), dated_cmp);
        while (i < off.n && j < work.n) {
            if (off.d[i].day < work.d[j].day) {
                i++;
            } else if (off.d[i].day > work.d[j].day) {
                j++;
            } else {
                char date[11];
                int a = off.d[i].line, b = work.d[j].line;

                time_format_date(off.d[i].day, date);
                if (a < b)
                    rc = smile_err_set(err, SMILE_EINVAL,
                                       "line %d: %s is both WORK and OFF (line %d)", b, date, a);
                else
                    rc = smile_err_set(err, SMILE_EINVAL,
                                       "line %d: %s is both OFF and WORK (line %d)", a, date, b);
                break;
            }
        }
    }
    if (rc == SMILE_OK) {
        dlist_finish(&off, &out->off, &out->noff);
        dlist_finish(&work, &out->work, &out->nwork);
    }
    free(off.d);
    free(work.d);
    return rc;
}

void
calendar_holidays_free(struct calendar_holidays *h)
{
    if (h == NULL)
        return;
    free(h->off);
    free(h->work);
    memset(h, 0, sizeof(*h));
}

/* --- Merging into a JSON document --------------------------------------------------- */

struct days {
    int64_t *d;
    size_t n, cap;
};

static void
days_add(struct days *l, int64_t day)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->d = xrealloc(l->d, l->cap * sizeof(*l->d));
    }
    l->d[l->n++] = day;
}

static int
day_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void
days_sort_unique(struct days *l)
{
    size_t n = 0;

    if (l->n == 0)
        return;
    qsort(l->d, l->n, sizeof(*l->d), day_cmp);
    for (size_t i = 0; i < l->n; i++)
        if (n == 0 || l->d[n - 1] != l->d[i])
            l->d[n++] = l->d[i];
    l->n = n;
}

static void
days_remove(struct days *l, int64_t day)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++)
        if (l->d[i] != day)
            l->d[n++] = l->d[i];
    l->n = n;
}

/* Reads a "holidays"/"workdays" list (dates and ranges) into l. */
static bool
read_list(json_t *arr, struct days *l, const char *path, struct smile_err *err)
{
    size_t i;
    json_t *item;

    if (arr == NULL)
        return true;
    if (!json_is_array(arr)) {
        smile_err_field(err, path, "expected a list of dates");
        return false;
    }
    json_array_foreach(arr, i, item)
    {
        const char *s = json_string_value(item);
        size_t n = json_string_length(item);
        const char *dots = s ? strstr(s, "..") : NULL;
        int64_t from, to;
        char p[128];

        snprintf(p, sizeof(p), "%s/%zu", path, i);
        if (s == NULL) {
            smile_err_field(err, p, "expected a date");
            return false;
        }
        if (dots == NULL) {
            if (time_parse_date(s, n, &from) != SMILE_OK) {
                smile_err_field(err, p, "expected a date YYYY-MM-DD");
                return false;
            }
            to = from;
        } else {
            size_t an = (size_t)(dots - s), bn = n - an - 2;
            int64_t y;
            unsigned m, d;

            if (!item_date(s, an, 0, &from)) {
                smile_err_field(err, p, "expected a range YYYY-MM-DD..YYYY-MM-DD");
                return false;
            }
            time_civil_from_days(from, &y, &m, &d);
            if (!item_date(dots + 2, bn, y, &to) || to < from || to - from >= HOL_MAX_RANGE) {
                smile_err_field(err, p, "expected a range YYYY-MM-DD..YYYY-MM-DD");
                return false;
            }
        }
        for (int64_t day = from; day <= to; day++)
            days_add(l, day);
    }
    return true;
}

/* Sorted days as strings, consecutive days joined into "a..b". */
static json_t *
write_list(const struct days *l)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < l->n;) {
        size_t j = i;
        char a[11], b[11], both[24];

        while (j + 1 < l->n && l->d[j + 1] == l->d[j] + 1)
            j++;
        time_format_date(l->d[i], a);
        if (j == i) {
            json_array_append_new(arr, json_string(a));
        } else {
            time_format_date(l->d[j], b);
            snprintf(both, sizeof(both), "%s..%s", a, b);
            json_array_append_new(arr, json_string(both));
        }
        i = j + 1;
    }
    return arr;
}

int
calendar_holidays_merge(struct json_t *doc, const struct calendar_holidays *h,
                        struct smile_err *err)
{
    json_t *versions = json_object_get(doc, "versions"), *v;
    size_t nv, i;
    int64_t *from;
    struct smile_err dummy;
    int rc = SMILE_OK;

    if (err == NULL)
        err = &dummy;
    smile_err_clear(err);
    if (!json_is_array(versions) || json_array_size(versions) == 0)
        return smile_err_field(err, "/versions", "required: a non-empty list of versions");
    nv = json_array_size(versions);
    from = xmalloc(nv * sizeof(*from));
    json_array_foreach(versions, i, v)
    {
        json_t *ef = json_object_get(v, "effective_from");
        char p[64];

        if (!json_is_string(ef) ||
            time_parse_date(json_string_value(ef), json_string_length(ef), &from[i]) != SMILE_OK) {
            snprintf(p, sizeof(p), "/versions/%zu/effective_from", i);
            free(from);
            return smile_err_field(err, p, "expected a date YYYY-MM-DD");
        }
    }
    for (i = 0; i < nv && rc == SMILE_OK; i++) {
        struct days hol = {0}, work = {0};
        json_t *ver = json_array_get(versions, i), *ovr;
        char ph[64], pw[64];
        bool touched = false;

        /* Dates of this version: from its effective_from up to the next one's. */
        for (int kind = 0; kind < 2; kind++) {
            const int64_t *d = kind == 0 ? h->off : h->work;
            size_t n = kind == 0 ? h->noff : h->nwork;

            for (size_t k = 0; k < n; k++)
                if ((i == 0 || d[k] >= from[i]) && (i + 1 == nv || d[k] < from[i + 1]))
                    touched = true;
        }
        if (!touched || !json_is_object(ver))
            continue;
        snprintf(ph, sizeof(ph), "/versions/%zu/holidays", i);
        snprintf(pw, sizeof(pw), "/versions/%zu/workdays", i);
        if (!read_list(json_object_get(ver, "holidays"), &hol, ph, err) ||
            !read_list(json_object_get(ver, "workdays"), &work, pw, err)) {
            rc = err->code;
            free(hol.d);
            free(work.d);
            break;
        }
        ovr = json_object_get(ver, "overrides");
        for (int kind = 0; kind < 2; kind++) {
            const int64_t *d = kind == 0 ? h->off : h->work;
            size_t n = kind == 0 ? h->noff : h->nwork;

            for (size_t k = 0; k < n; k++) {
                char date[11];

                if (!((i == 0 || d[k] >= from[i]) && (i + 1 == nv || d[k] < from[i + 1])))
                    continue;
                time_format_date(d[k], date);
                if (kind == 0) {
                    days_remove(&work, d[k]);
                    if (json_is_object(ovr))
                        json_object_del(ovr, date);
                    days_add(&hol, d[k]);
                } else {
                    days_remove(&hol, d[k]);
                    if (!(json_is_object(ovr) && json_object_get(ovr, date) != NULL))
                        days_add(&work, d[k]);
                }
            }
        }
        days_sort_unique(&hol);
        days_sort_unique(&work);
        if (hol.n > 0 || json_object_get(ver, "holidays") != NULL)
            json_object_set_new(ver, "holidays", write_list(&hol));
        if (work.n > 0 || json_object_get(ver, "workdays") != NULL)
            json_object_set_new(ver, "workdays", write_list(&work));
        free(hol.d);
        free(work.d);
    }
    free(from);
    return rc;
}

/* --- The built-in China calendar ---------------------------------------------------- */

/*
 * 2024–2026 from the State Council General Office notices (SOURCES.md §4.2–4.4, [H1–H3]);
 * the 2024 New Year block starts on 2023-12-30. Version 0 also governs the days before
 * its effective_from, so those dates count even though they precede it.
 */
static const char china_json[] =
    "{\n"
    "  \"name\": \"China\",\n"
    "  \"description\": \"Mainland China, Monday to Friday 09:00-12:00 and 13:30-18:00, "
    "public holidays and make-up working days 2024-2026 (State Council notices)\",\n"
    "  \"time_zone\": \"Asia/Shanghai\",\n"
    "  \"versions\": [\n"
    "    {\n"
    "      \"effective_from\": \"2024-01-01\",\n"
    "      \"ring_ms\": 5000,\n"
    "      \"week\": {\n"
    "        \"mon\": [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]],\n"
    "        \"tue\": [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]],\n"
    "        \"wed\": [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]],\n"
    "        \"thu\": [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]],\n"
    "        \"fri\": [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]]\n"
    "      },\n"
    "      \"holidays\": [\n"
    "        \"2023-12-30..2024-01-01\", \"2024-02-10..2024-02-17\", \"2024-04-04..2024-04-06\",\n"
    "        \"2024-05-01..2024-05-05\", \"2024-06-08..2024-06-10\", \"2024-09-15..2024-09-17\",\n"
    "        \"2024-10-01..2024-10-07\",\n"
    "        \"2025-01-01\", \"2025-01-28..2025-02-04\", \"2025-04-04..2025-04-06\",\n"
    "        \"2025-05-01..2025-05-05\", \"2025-05-31..2025-06-02\", \"2025-10-01..2025-10-08\",\n"
    "        \"2026-01-01..2026-01-03\", \"2026-02-15..2026-02-23\", \"2026-04-04..2026-04-06\",\n"
    "        \"2026-05-01..2026-05-05\", \"2026-06-19..2026-06-21\", \"2026-09-25..2026-09-27\",\n"
    "        \"2026-10-01..2026-10-07\"\n"
    "      ],\n"
    "      \"workdays\": [\n"
    "        \"2024-02-04\", \"2024-02-18\", \"2024-04-07\", \"2024-04-28\", \"2024-05-11\",\n"
    "        \"2024-09-14\", \"2024-09-29\", \"2024-10-12\",\n"
    "        \"2025-01-26\", \"2025-02-08\", \"2025-04-27\", \"2025-09-28\", \"2025-10-11\",\n"
    "        \"2026-01-04\", \"2026-02-14\", \"2026-02-28\", \"2026-05-09\", \"2026-09-20\",\n"
    "        \"2026-10-10\"\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

const char *
calendar_china_default_json(void)
{
    return china_json;
}
