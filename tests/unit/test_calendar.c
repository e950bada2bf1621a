/*
 * test_calendar.c — unit tests of src/calendar: TZif and POSIX footer rules, the China
 * calendar with its holidays and make-up days, several intervals per day, millisecond
 * boundaries, DST in New York and London, always-open, overrides, effective-dated
 * versions, ring cadence, the holiday text import and merge, and JSON validation paths.
 * Every expected instant is worked out by hand in the comment beside it and written as an
 * RFC 3339 string with its local offset, so the test reads like the calendar it checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "calendar/calendar.h"

#define H INT64_C(3600000)
#define MIN INT64_C(60000)

static struct calendar_tz *shanghai, *new_york, *london;
static struct calendar *china;

static int64_t
T(const char *s)
{
    int64_t ms = 0;

    assert_int_equal(time_parse_rfc3339(s, strlen(s), &ms), SMILE_OK);
    return ms;
}

static struct calendar *
build(const char *json, struct calendar_tz *tz)
{
    struct smile_err err;
    struct calendar *cal = NULL;
    int rc = calendar_from_json(json, strlen(json), tz, &cal, &err);

    if (rc != SMILE_OK) {
        print_message("calendar_from_json: %s\n", err.msg);
        for (int i = 0; i < err.nfields; i++)
            print_message("  %s: %s\n", err.fields[i].path, err.fields[i].msg);
    }
    assert_int_equal(rc, SMILE_OK);
    assert_true(calendar_check(cal));
    return cal;
}

static bool
has_field(const struct smile_err *err, const char *path, const char *msg_part)
{
    for (int i = 0; i < err->nfields; i++)
        if (strcmp(err->fields[i].path, path) == 0 &&
            (msg_part == NULL || strstr(err->fields[i].msg, msg_part) != NULL))
            return true;
    return false;
}

static int
setup(void **state)
{
    struct smile_err err;

    (void)state;
    if (calendar_tz_load("Asia/Shanghai", &shanghai, &err) != SMILE_OK ||
        calendar_tz_load("America/New_York", &new_york, &err) != SMILE_OK ||
        calendar_tz_load("Europe/London", &london, &err) != SMILE_OK) {
        print_message("zoneinfo missing (Debian package tzdata): %s\n", err.msg);
        return -1;
    }
    china = build(calendar_china_default_json(), shanghai);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    calendar_free(china);
    calendar_tz_free(shanghai);
    calendar_tz_free(new_york);
    calendar_tz_free(london);
    return 0;
}

/* --- Time zones ----------------------------------------------------------------------- */

static void
test_tz_transitions(void **state)
{
    (void)state;
    /* Shanghai: UTC+8 all year, no DST since 1991. */
    assert_int_equal(calendar_tz_offset(shanghai, T("2026-07-01T00:00:00Z")), 8 * 3600);
    /* New York, 2026: Mar 1 is a Sunday (Jan 1 Thu + 31 + 28 days), so the second Sunday is
     * Mar 8; clocks go 02:00 EST -> 03:00 EDT at 07:00Z. */
    assert_int_equal(calendar_tz_offset(new_york, T("2026-03-08T06:59:59.999Z")), -5 * 3600);
    assert_int_equal(calendar_tz_offset(new_york, T("2026-03-08T07:00:00.000Z")), -4 * 3600);
    /* Nov 1 2026 is a Sunday (Oct 1 is a Thursday); 02:00 EDT -> 01:00 EST at 06:00Z. */
    assert_int_equal(calendar_tz_offset(new_york, T("2026-11-01T05:59:59.999Z")), -4 * 3600);
    assert_int_equal(calendar_tz_offset(new_york, T("2026-11-01T06:00:00.000Z")), -5 * 3600);
    /* London: last Sundays Mar 29 and Oct 25 2026, both at 01:00 UTC. */
    assert_int_equal(calendar_tz_offset(london, T("2026-03-29T00:59:59.999Z")), 0);
    assert_int_equal(calendar_tz_offset(london, T("2026-03-29T01:00:00.000Z")), 3600);
    assert_int_equal(calendar_tz_offset(london, T("2026-10-25T00:59:59.999Z")), 3600);
    assert_int_equal(calendar_tz_offset(london, T("2026-10-25T01:00:00.000Z")), 0);
    /* Far past the table (year 2300) the footer rule EST5EDT,M3.2.0,M11.1.0 still holds. */
    assert_int_equal(calendar_tz_offset(new_york, T("2300-07-01T12:00:00Z")), -4 * 3600);
    assert_int_equal(calendar_tz_offset(new_york, T("2300-01-15T12:00:00Z")), -5 * 3600);
}

static void
test_tz_to_utc(void **state)
{
    (void)state;
    /* Local wall times are written here as if UTC ("Z") to mean "this wall clock".
     * 2026-03-08 02:30 does not exist in New York: the instant after the gap is the
     * transition, 03:00 EDT = 07:00Z. */
    assert_int_equal(calendar_tz_to_utc(new_york, T("2026-03-08T02:30:00Z")),
                     T("2026-03-08T03:00:00-04:00"));
    /* 2026-11-01 01:30 happens twice; the earlier is 01:30 EDT = 05:30Z. */
    assert_int_equal(calendar_tz_to_utc(new_york, T("2026-11-01T01:30:00Z")),
                     T("2026-11-01T01:30:00-04:00"));
    /* Ordinary times just shift: 09:00 in Shanghai is 01:00Z. */
    assert_int_equal(calendar_tz_to_utc(shanghai, T("2026-02-25T09:00:00Z")),
                     T("2026-02-25T09:00:00+08:00"));
}

/* A TZif v2 file built by hand: no transitions, one type (EST, -18000), footer
 * "EST5EDT,M3.2.0,M11.1.0" — so every answer comes from the footer rule. */
static size_t
make_tzif(unsigned char *out, const char *footer)
{
    size_t n = 0;

    for (int part = 0; part < 2; part++) {
        static const unsigned char counts[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4};

        memcpy(out + n, "TZif2", 5);
        memset(out + n + 5, 0, 15);
        memcpy(out + n + 20, counts, 24);
        n += 44;
        /* ttinfo: utoff -18000 = 0xFFFFB9B0, isdst 0, desigidx 0; then "EST\0". */
        memcpy(out + n,
               "\xff\xff\xb9\xb0\x00\x00"
               "EST",
               10);
        n += 10;
    }
    out[n++] = '\n';
    memcpy(out + n, footer, strlen(footer));
    n += strlen(footer);
    out[n++] = '\n';
    return n;
}

static void
test_tz_parse_bytes(void **state)
{
    unsigned char buf[256];
    struct calendar_tz *tz = NULL;
    struct smile_err err;
    size_t n = make_tzif(buf, "EST5EDT,M3.2.0,M11.1.0");

    (void)state;
    assert_int_equal(calendar_tz_parse("Test/Footer", buf, n, &tz, &err), SMILE_OK);
    /* Same rule as New York: 2026-03-08 07:00Z starts EDT. */
    assert_int_equal(calendar_tz_offset(tz, T("2026-03-08T06:59:59.999Z")), -5 * 3600);
    assert_int_equal(calendar_tz_offset(tz, T("2026-03-08T07:00:00Z")), -4 * 3600);
    calendar_tz_free(tz);
    /* A southern rule (Chile-like <-04>4<-03>,M9.1.6/24,M4.1.6/24): DST from the first
     * Saturday of September 24:00 to the first Saturday of April 24:00. Sep 5 2026 is a
     * Saturday (Sep 1 is a Tuesday), so DST starts Sep 6 00:00 -04 = 04:00Z. */
    n = make_tzif(buf, "<-04>4<-03>,M9.1.6/24,M4.1.6/24");
    assert_int_equal(calendar_tz_parse("Test/South", buf, n, &tz, &err), SMILE_OK);
    assert_int_equal(calendar_tz_offset(tz, T("2026-09-06T03:59:59Z")), -4 * 3600);
    assert_int_equal(calendar_tz_offset(tz, T("2026-09-06T04:00:00Z")), -3 * 3600);
    /* In January (southern summer) DST is on. */
    assert_int_equal(calendar_tz_offset(tz, T("2027-01-15T00:00:00Z")), -3 * 3600);
    calendar_tz_free(tz);
    /* RFC 8536 §3.3.1's example of permanent DST, "EST5EDT,0/0,J365/25": DST starts Jan 1
     * 00:00 and ends Dec 31 25:00 DST = Jan 1 00:00 standard, i.e. when the next starts —
     * so mid-January and mid-July are both UTC-4. */
    n = make_tzif(buf, "EST5EDT,0/0,J365/25");
    assert_int_equal(calendar_tz_parse("Test/AllYear", buf, n, &tz, &err), SMILE_OK);
    assert_int_equal(calendar_tz_offset(tz, T("2026-01-15T12:00:00Z")), -4 * 3600);
    assert_int_equal(calendar_tz_offset(tz, T("2026-07-15T12:00:00Z")), -4 * 3600);
    assert_int_equal(calendar_tz_offset(tz, T("2026-12-31T23:59:59Z")), -4 * 3600);
    calendar_tz_free(tz);
    /* Rejections: not TZif, truncated, a bad footer; names escaping the zoneinfo tree. */
    assert_int_equal(calendar_tz_parse("x", "hello", 5, &tz, &err), SMILE_EINVAL);
    assert_int_equal(calendar_tz_parse("x", buf, 50, &tz, &err), SMILE_EINVAL);
    n = make_tzif(buf, "EST5EDT,M13.2.0,M11.1.0");
    assert_int_equal(calendar_tz_parse("x", buf, n, &tz, &err), SMILE_EINVAL);
    assert_null(tz);
    assert_int_equal(calendar_tz_load("../../etc/passwd", &tz, &err), SMILE_EINVAL);
    assert_int_equal(calendar_tz_load("/etc/passwd", &tz, &err), SMILE_EINVAL);
    assert_int_equal(calendar_tz_load("Nowhere/Atlantis", &tz, &err), SMILE_ENOTFOUND);
}

/* --- China: holidays, make-up days, boundaries ---------------------------------------- */

static void
test_china_boundaries(void **state)
{
    (void)state;
    /* Monday 2026-03-02, intervals [09:00, 12:00) and [13:30, 18:00). */
    assert_false(calendar_is_working(china, T("2026-03-02T08:59:59.999+08:00")));
    assert_true(calendar_is_working(china, T("2026-03-02T09:00:00.000+08:00")));
    assert_true(calendar_is_working(china, T("2026-03-02T11:59:59.999+08:00")));
    assert_false(calendar_is_working(china, T("2026-03-02T12:00:00.000+08:00")));
    assert_false(calendar_is_working(china, T("2026-03-02T13:29:59.999+08:00")));
    assert_true(calendar_is_working(china, T("2026-03-02T13:30:00.000+08:00")));
    assert_true(calendar_is_working(china, T("2026-03-02T17:59:59.999+08:00")));
    assert_false(calendar_is_working(china, T("2026-03-02T18:00:00.000+08:00")));
    /* 2026-02-16 is a Monday inside the Spring Festival block 02-15..02-23: off. */
    assert_false(calendar_is_working(china, T("2026-02-16T10:00:00+08:00")));
    /* 2026-02-14 is a Saturday and a make-up working day: weekday hours apply. */
    assert_true(calendar_is_working(china, T("2026-02-14T10:00:00+08:00")));
    assert_false(calendar_is_working(china, T("2026-02-14T12:30:00+08:00")));
    /* An ordinary Saturday, 2026-03-07: off. */
    assert_false(calendar_is_working(china, T("2026-03-07T10:00:00+08:00")));
    /* 2024: the New Year block starts Saturday 2023-12-30 and ends Monday 2024-01-01;
     * Sunday 2024-02-04 is a make-up day; Wednesday 2025-01-01 is off; Sunday 2025-01-26 is
     * a make-up day; Thursday 2026-10-08 works again after National Day 10-01..10-07. */
    assert_false(calendar_is_working(china, T("2024-01-01T10:00:00+08:00")));
    assert_true(calendar_is_working(china, T("2024-02-04T10:00:00+08:00")));
    assert_false(calendar_is_working(china, T("2025-01-01T10:00:00+08:00")));
    assert_true(calendar_is_working(china, T("2025-01-26T10:00:00+08:00")));
    assert_false(calendar_is_working(china, T("2026-10-07T10:00:00+08:00")));
    assert_true(calendar_is_working(china, T("2026-10-08T10:00:00+08:00")));
    assert_true(calendar_is_working(china, T("2026-10-10T10:00:00+08:00")));
}

static void
test_china_add_business(void **state)
{
    (void)state;
    /* 11:00 + 1 h on Monday 2026-03-02 ends exactly at 12:00, the end of the morning. */
    assert_int_equal(calendar_add(china, T("2026-03-02T11:00:00+08:00"), 1 * H, CALENDAR_BUSINESS),
                     T("2026-03-02T12:00:00+08:00"));
    /* One more millisecond is the first millisecond of the afternoon: 13:30:00.001. */
    assert_int_equal(
        calendar_add(china, T("2026-03-02T11:00:00+08:00"), 1 * H + 1, CALENDAR_BUSINESS),
        T("2026-03-02T13:30:00.001+08:00"));
    /* From lunch (12:30) counting starts at 13:30: + 30 min = 14:00. */
    assert_int_equal(
        calendar_add(china, T("2026-03-02T12:30:00+08:00"), 30 * MIN, CALENDAR_BUSINESS),
        T("2026-03-02T14:00:00+08:00"));
    /* Friday 2026-02-13 17:00 + 2 h: 1 h to 18:00, then Saturday 02-14 is a make-up day,
     * 09:00 + 1 h = 10:00. */
    assert_int_equal(calendar_add(china, T("2026-02-13T17:00:00+08:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-02-14T10:00:00+08:00"));
    /* Saturday 02-14 17:00 + 2 h: 1 h to 18:00; 02-15..02-23 off (9 days); Tuesday 02-24
     * 09:00 + 1 h = 10:00. */
    assert_int_equal(calendar_add(china, T("2026-02-14T17:00:00+08:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-02-24T10:00:00+08:00"));
    /* Thursday 2026-04-30 17:30 + 1 h: 30 min to 18:00; Labour Day 05-01..05-05 off;
     * Wednesday 05-06 09:00 + 30 min = 09:30. */
    assert_int_equal(calendar_add(china, T("2026-04-30T17:30:00+08:00"), 1 * H, CALENDAR_BUSINESS),
                     T("2026-05-06T09:30:00+08:00"));
    /* Amount 0 from a Saturday moves to the next working moment, Monday 09:00. */
    assert_int_equal(calendar_add(china, T("2026-03-07T11:00:00+08:00"), 0, CALENDAR_BUSINESS),
                     T("2026-03-09T09:00:00+08:00"));
    /* 225 h = 30 working days of 7.5 h from Monday 2026-03-02 09:00. Working days: five
     * full weeks 03-02..04-03 (25), then Qingming 04-04..04-06 (Sat..Mon) takes Monday
     * 04-06, so 04-07..04-10 (29) and Monday 04-13 (30): the 225th hour ends 04-13 18:00. */
    assert_int_equal(
        calendar_add(china, T("2026-03-02T09:00:00+08:00"), 225 * H, CALENDAR_BUSINESS),
        T("2026-04-13T18:00:00+08:00"));
    /* Wall time ignores the calendar. */
    assert_int_equal(calendar_add(china, T("2026-02-14T17:00:00+08:00"), 2 * H, CALENDAR_WALL),
                     T("2026-02-14T19:00:00+08:00"));
}

static void
test_china_add_days(void **state)
{
    (void)state;
    /* The case: Friday 2026-02-13 17:00 + 3 business days. Working days after the
     * 13th: Saturday 02-14 (make-up), then 02-15..02-23 off, Tuesday 02-24, Wednesday
     * 02-25 -> 2026-02-25 17:00 +08:00. */
    assert_int_equal(calendar_add(china, T("2026-02-13T17:00:00+08:00"), 3, CALENDAR_BUSINESS_DAYS),
                     T("2026-02-25T17:00:00+08:00"));
    /* From lunch (Thursday 2026-03-05 12:30) the start moves to 13:30; + 1 day = Friday
     * 03-06 13:30. */
    assert_int_equal(calendar_add(china, T("2026-03-05T12:30:00+08:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2026-03-06T13:30:00+08:00"));
    /* Friday 2026-03-06 18:00 is already outside (intervals are half-open): the start moves
     * to Monday 03-09 09:00, + 1 day = Tuesday 03-10 09:00. */
    assert_int_equal(calendar_add(china, T("2026-03-06T18:00:00+08:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2026-03-10T09:00:00+08:00"));
    /* 17:59:59.999 is still inside: + 1 day keeps the time, Monday 03-09 17:59:59.999. */
    assert_int_equal(
        calendar_add(china, T("2026-03-06T17:59:59.999+08:00"), 1, CALENDAR_BUSINESS_DAYS),
        T("2026-03-09T17:59:59.999+08:00"));
    /* Across National Day 2025 (10-01..10-08 off, Saturday 10-11 make-up): Tuesday
     * 2025-09-30 10:00 + 1 day -> Thursday 10-09 10:00 (the first working day after). */
    assert_int_equal(calendar_add(china, T("2025-09-30T10:00:00+08:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2025-10-09T10:00:00+08:00"));
    /* + 3 days: 10-09 (Thu), 10-10 (Fri), 10-11 (Sat, make-up) -> 10-11 10:00. */
    assert_int_equal(calendar_add(china, T("2025-09-30T10:00:00+08:00"), 3, CALENDAR_BUSINESS_DAYS),
                     T("2025-10-11T10:00:00+08:00"));
}

static void
test_china_diff(void **state)
{
    (void)state;
    /* A plain week: 5 x (3 h + 4.5 h) = 37.5 h = 135,000,000 ms. */
    assert_int_equal(
        calendar_diff(china, T("2026-03-02T00:00:00+08:00"), T("2026-03-09T00:00:00+08:00")),
        135000000);
    /* Friday 02-13 17:00 -> Wednesday 02-25 17:00: 1 h (Fri) + 7.5 h (Sat 02-14, make-up)
     * + 7.5 h (Tue 02-24) + 3 h + 3.5 h (Wed 09:00-12:00, 13:30-17:00) = 22.5 h. */
    assert_int_equal(
        calendar_diff(china, T("2026-02-13T17:00:00+08:00"), T("2026-02-25T17:00:00+08:00")),
        22 * H + 30 * MIN);
    /* Reversed: negative. */
    assert_int_equal(
        calendar_diff(china, T("2026-02-25T17:00:00+08:00"), T("2026-02-13T17:00:00+08:00")),
        -(22 * H + 30 * MIN));
    /* Lunch is not counted: 11:59:59.999 -> 13:30:00.001 is 1 ms + 1 ms. */
    assert_int_equal(calendar_diff(china, T("2026-03-02T11:59:59.999+08:00"),
                                   T("2026-03-02T13:30:00.001+08:00")),
                     2);
    /* Entirely inside the Spring Festival: nothing. */
    assert_int_equal(
        calendar_diff(china, T("2026-02-15T00:00:00+08:00"), T("2026-02-24T00:00:00+08:00")), 0);
    /* Year 2025 in full: 365 days = 52 weeks + 1 day; 2025-01-01 is a Wednesday, so the
     * extra day is Wednesday 12-31: 261 weekdays. Holidays falling on weekdays: 01-01 (1),
     * 01-28..02-04 (Tue..Tue: 6 weekdays), 04-04 (Fri, 1), 05-01..05-05 (Thu, Fri, Mon: 3),
     * 05-31..06-02 (Mon 06-02: 1), 10-01..10-08 (Wed..Wed: 6) = 18. Make-up days: 5.
     * 261 - 18 + 5 = 248 working days x 7.5 h = 1860 h. */
    assert_int_equal(
        calendar_diff(china, T("2025-01-01T00:00:00+08:00"), T("2026-01-01T00:00:00+08:00")),
        1860 * H);
}

/* --- Several intervals, overrides, always-open ------------------------------------------ */

static const char *const shifts_json =
    "{\"time_zone\":\"Asia/Shanghai\",\"versions\":[{\"effective_from\":\"2026-01-01\","
    "\"ring_ms\":5000,\"week\":{"
    "\"mon\":[[\"08:00\",\"10:00\"],[\"10:15\",\"12:00\"],[\"13:00\",\"17:00\"]],"
    "\"tue\":[[\"08:00\",\"10:00\"],[\"10:15\",\"12:00\"],[\"13:00\",\"17:00\"]],"
    "\"wed\":[[\"08:00\",\"10:00\"],[\"10:15\",\"12:00\"],[\"13:00\",\"17:00\"]],"
    "\"thu\":[[\"08:00\",\"10:00\"],[\"10:15\",\"12:00\"],[\"13:00\",\"17:00\"]],"
    "\"fri\":[[\"08:00\",\"10:00\"],[\"10:15\",\"12:00\"],[\"13:00\",\"17:00\"]],"
    "\"sat\":[[\"10:00\",\"12:00\"]]},"
    "\"overrides\":{\"2026-03-10\":[[\"08:00\",\"12:00\"]],\"2026-03-11\":[[\"10:00\",\"12:00\"]],"
    "\"2026-03-14\":[]}}]}";

static void
test_intervals_overrides(void **state)
{
    struct calendar *cal = build(shifts_json, shanghai);

    (void)state;
    /* Monday 2026-03-09: 2 h + 1 h 45 min + 4 h = 7 h 45 min. */
    assert_int_equal(
        calendar_diff(cal, T("2026-03-09T00:00:00+08:00"), T("2026-03-10T00:00:00+08:00")),
        7 * H + 45 * MIN);
    /* The tea break 10:00-10:15 is off: 09:50 + 20 min = 10:25. */
    assert_int_equal(calendar_add(cal, T("2026-03-09T09:50:00+08:00"), 20 * MIN, CALENDAR_BUSINESS),
                     T("2026-03-09T10:25:00+08:00"));
    /* Tuesday 03-10 is overridden to 08:00-12:00: 15:00 + 1 business day from Monday 15:00
     * lands on Tuesday 15:00, not working; the last interval ending before it ends at
     * 12:00. */
    assert_int_equal(calendar_add(cal, T("2026-03-09T15:00:00+08:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2026-03-10T12:00:00+08:00"));
    /* Wednesday 03-11 is overridden to 10:00-12:00: Tuesday 09:00 + 1 day -> Wednesday
     * 09:00, before the first interval -> the next working moment, 10:00. */
    assert_int_equal(calendar_add(cal, T("2026-03-10T09:00:00+08:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2026-03-11T10:00:00+08:00"));
    /* Saturday 03-14 is overridden to closed (an empty list); Saturday 03-07 works 10-12. */
    assert_false(calendar_is_working(cal, T("2026-03-14T11:00:00+08:00")));
    assert_true(calendar_is_working(cal, T("2026-03-07T11:00:00+08:00")));
    /* Friday 03-13 16:00 + 2 h: 1 h to 17:00, Saturday 03-14 closed, Sunday nothing,
     * Monday 03-16 08:00 + 1 h = 09:00. */
    assert_int_equal(calendar_add(cal, T("2026-03-13T16:00:00+08:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-03-16T09:00:00+08:00"));
    calendar_free(cal);
}

static void
test_always_open_dst(void **state)
{
    const char *json = "{\"time_zone\":\"America/New_York\",\"versions\":[{\"effective_from\":"
                       "\"2026-01-01\",\"ring_ms\":6000,\"always_open\":true}]}";
    struct calendar *cal = build(json, new_york);

    (void)state;
    /* 2026-03-08 is 23 hours long in New York, 2026-11-01 is 25 hours long. */
    assert_int_equal(
        calendar_diff(cal, T("2026-03-08T00:00:00-05:00"), T("2026-03-09T00:00:00-04:00")), 23 * H);
    assert_int_equal(
        calendar_diff(cal, T("2026-11-01T00:00:00-04:00"), T("2026-11-02T00:00:00-05:00")), 25 * H);
    /* 00:30 EDT + 2 h of elapsed time = 01:30 EST (the second 01:30). */
    assert_int_equal(calendar_add(cal, T("2026-11-01T00:30:00-04:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-11-01T01:30:00-05:00"));
    /* 01:30 EST + 1 h on spring-forward day = 03:30 EDT. */
    assert_int_equal(calendar_add(cal, T("2026-03-08T01:30:00-05:00"), 1 * H, CALENDAR_BUSINESS),
                     T("2026-03-08T03:30:00-04:00"));
    assert_true(calendar_is_working(cal, T("2026-12-25T03:00:00-05:00")));
    /* North American ring: 6 s, so 3 rings are 18 s. */
    assert_int_equal(3 * calendar_ring_ms(cal, T("2026-06-01T12:00:00Z")), 18000);
    calendar_free(cal);
}

static void
test_dst_business(void **state)
{
    const char *ny = "{\"time_zone\":\"America/New_York\",\"versions\":[{\"effective_from\":"
                     "\"2026-01-01\",\"ring_ms\":6000,\"week\":{"
                     "\"mon\":[[\"09:00\",\"17:00\"]],\"tue\":[[\"09:00\",\"17:00\"]],"
                     "\"wed\":[[\"09:00\",\"17:00\"]],\"thu\":[[\"09:00\",\"17:00\"]],"
                     "\"fri\":[[\"09:00\",\"17:00\"]],\"sun\":[[\"00:00\",\"06:00\"]]}}]}";
    const char *uk = "{\"time_zone\":\"Europe/London\",\"versions\":[{\"effective_from\":"
                     "\"2026-01-01\",\"ring_ms\":3000,\"week\":{"
                     "\"mon\":[[\"09:00\",\"17:00\"]],\"tue\":[[\"09:00\",\"17:00\"]],"
                     "\"wed\":[[\"09:00\",\"17:00\"]],\"thu\":[[\"09:00\",\"17:00\"]],"
                     "\"fri\":[[\"09:00\",\"17:00\"]]}}]}";
    struct calendar *cal = build(ny, new_york), *cal_uk = build(uk, london);

    (void)state;
    /* Friday 2026-03-06 16:00 EST + 2 h: 1 h to 17:00; Sunday 03-08 night shift
     * 00:00-06:00 local is only 5 real hours (02:00-03:00 does not exist), so the second
     * hour is Sunday 00:00-01:00 EST -> 01:00 EST. */
    assert_int_equal(calendar_add(cal, T("2026-03-06T16:00:00-05:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-03-08T01:00:00-05:00"));
    /* Sunday 00:00 EST + 3 h: 00:00-02:00 EST is 2 h, then the clock reads 03:00 EDT;
     * 1 h more = 04:00 EDT. */
    assert_int_equal(calendar_add(cal, T("2026-03-08T00:00:00-05:00"), 3 * H, CALENDAR_BUSINESS),
                     T("2026-03-08T04:00:00-04:00"));
    /* The Sunday shifts: 5 real hours in March, 7 in November (01:00-02:00 twice). */
    assert_int_equal(
        calendar_diff(cal, T("2026-03-08T00:00:00-05:00"), T("2026-03-08T06:00:00-04:00")), 5 * H);
    assert_int_equal(
        calendar_diff(cal, T("2026-11-01T00:00:00-04:00"), T("2026-11-01T06:00:00-05:00")), 7 * H);
    /* Friday 03-06 09:00 EST -> Monday 03-09 09:00 EDT: 8 h Friday + 5 h Sunday = 13 h,
     * though only 71 h of wall time pass. */
    assert_int_equal(
        calendar_diff(cal, T("2026-03-06T09:00:00-05:00"), T("2026-03-09T09:00:00-04:00")), 13 * H);
    /* 1 business day from Friday 03-06 10:00 EST: Sunday counts as a working day here, so
     * Sunday 10:00 is not working; the last interval before it ends 06:00 EDT. */
    assert_int_equal(calendar_add(cal, T("2026-03-06T10:00:00-05:00"), 1, CALENDAR_BUSINESS_DAYS),
                     T("2026-03-08T06:00:00-04:00"));
    /* London: Friday 2026-03-27 16:00 GMT + 2 h: 1 h to 17:00, the clocks change Sunday
     * 03-29, Monday 03-30 09:00 BST + 1 h = 10:00 BST = 09:00Z. */
    assert_int_equal(calendar_add(cal_uk, T("2026-03-27T16:00:00Z"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-03-30T10:00:00+01:00"));
    /* Friday 2026-10-23 16:30 BST + 2 business days = Tuesday 10-27 16:30 GMT. */
    assert_int_equal(
        calendar_add(cal_uk, T("2026-10-23T16:30:00+01:00"), 2, CALENDAR_BUSINESS_DAYS),
        T("2026-10-27T16:30:00Z"));
    /* UK ring: 3 s. */
    assert_int_equal(calendar_ring_ms(cal_uk, T("2026-10-27T16:30:00Z")), 3000);
    calendar_free(cal);
    calendar_free(cal_uk);
}

/* Properties rather than hand-worked values: for many starts through 2026 (every 397
 * minutes, so all times of day and both DST changes are hit) add and diff agree, add gives
 * the earliest instant, and is_working matches a 1 ms diff. */
static void
test_add_diff_agree(void **state)
{
    const char *ny = "{\"time_zone\":\"America/New_York\",\"versions\":[{\"effective_from\":"
                     "\"2026-01-01\",\"ring_ms\":6000,\"week\":{"
                     "\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"17:00\"]],"
                     "\"fri\":[[\"09:00\",\"17:00\"]],\"sun\":[[\"00:00\",\"06:00\"]]},"
                     "\"holidays\":[\"2026-07-03\",\"2026-11-26..2026-11-27\"]}]}";
    struct calendar *cal = build(ny, new_york);
    struct calendar *cals[2] = {china, cal};
    static const int64_t amounts[] = {1, 59 * MIN, 3 * H, 7 * H + 30 * MIN, 40 * H, 300 * H};

    (void)state;
    for (int c = 0; c < 2; c++)
        for (int64_t t = T("2026-01-01T00:00:00Z"); t < T("2027-01-01T00:00:00Z"); t += 397 * MIN) {
            assert_int_equal(calendar_diff(cals[c], t, t + 1) == 1,
                             calendar_is_working(cals[c], t));
            for (size_t i = 0; i < ARRAY_LEN(amounts); i++) {
                int64_t end = calendar_add(cals[c], t, amounts[i], CALENDAR_BUSINESS);

                assert_true(end > t);
                assert_int_equal(calendar_diff(cals[c], t, end), amounts[i]);
                assert_int_equal(calendar_diff(cals[c], t, end - 1), amounts[i] - 1);
            }
        }
    calendar_free(cal);
}

/* --- Versions and ring cadence -------------------------------------------------------- */

static void
test_versions(void **state)
{
    const char *json = "{\"name\":\"Shop\",\"time_zone\":\"Asia/Shanghai\",\"versions\":["
                       "{\"effective_from\":\"2026-01-01\",\"ring_ms\":5000,\"week\":{"
                       "\"mon\":[[\"09:00\",\"17:00\"]],\"tue\":[[\"09:00\",\"17:00\"]],"
                       "\"wed\":[[\"09:00\",\"17:00\"]],\"thu\":[[\"09:00\",\"17:00\"]],"
                       "\"fri\":[[\"09:00\",\"17:00\"]]},\"holidays\":[\"2026-03-03\"]},"
                       "{\"effective_from\":\"2026-03-01\",\"ring_ms\":6000,\"week\":{"
                       "\"mon\":[[\"10:00\",\"16:00\"]],\"tue\":[[\"10:00\",\"16:00\"]],"
                       "\"wed\":[[\"10:00\",\"16:00\"]],\"thu\":[[\"10:00\",\"16:00\"]],"
                       "\"fri\":[[\"10:00\",\"16:00\"]]}}]}";
    struct calendar *cal = build(json, shanghai);

    (void)state;
    /* Friday 2026-02-27 is in the first version (5 s rings), Monday 03-02 in the second. */
    assert_int_equal(calendar_ring_ms(cal, T("2026-02-27T12:00:00+08:00")), 5000);
    assert_int_equal(calendar_ring_ms(cal, T("2026-03-02T12:00:00+08:00")), 6000);
    /* Friday 09:00 -> Monday 16:00: 8 h (old hours) + 6 h (new hours) = 14 h. */
    assert_int_equal(
        calendar_diff(cal, T("2026-02-27T09:00:00+08:00"), T("2026-03-02T16:00:00+08:00")), 14 * H);
    /* Friday 16:00 + 2 h: 1 h to 17:00, Monday 03-02 10:00 + 1 h = 11:00. */
    assert_int_equal(calendar_add(cal, T("2026-02-27T16:00:00+08:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-03-02T11:00:00+08:00"));
    /* The old version's holiday 2026-03-03 is not in force: the new version has none. */
    assert_true(calendar_is_working(cal, T("2026-03-03T11:00:00+08:00")));
    /* Days before the first version follow it: Friday 2025-12-26 works 09:00-17:00. */
    assert_true(calendar_is_working(cal, T("2025-12-26T09:30:00+08:00")));
    calendar_free(cal);
    /* China: 5 s per ring; "3 rings" = 15 s. */
    assert_int_equal(3 * calendar_ring_ms(china, T("2026-02-13T17:00:00+08:00")), 15000);
    /* Local day: 2026-02-13T16:30Z is 00:30 on the 14th in Shanghai. */
    assert_int_equal(calendar_local_day(china, T("2026-02-13T16:30:00Z")),
                     time_days_from_civil(2026, 2, 14));
}

/* --- Holiday text import ----------------------------------------------------------------- */

static const char *const notice_2026 =
    "# 2026 notice (SOURCES.md 4.5)\n"
    "2026 OFF  01-01..01-03 02-15..02-23 04-04..04-06 05-01..05-05 06-19..06-21 "
    "09-25..09-27 10-01..10-07\n"
    "2026 WORK 01-04 02-14 02-28 05-09 09-20 10-10   # make-up days\r\n";

static void
test_holidays_text(void **state)
{
    struct calendar_holidays h;
    struct smile_err err;
    const char *y2024 = "2024 OFF 2023-12-30..2024-01-01 2024-02-10..02-17\n";
    const char *bad = "2027 OFF 01-01\n\n2027 HOLIDAY 02-03\n";
    const char *bad_date = "# x\n2027 OFF 01-01\n2027 OFF 02-30\n";
    const char *both = "2027 OFF 01-01..01-03\n2027 WORK 01-02\n";

    (void)state;
    assert_int_equal(calendar_holidays_parse_text(notice_2026, strlen(notice_2026), &h, &err),
                     SMILE_OK);
    /* 3 + 9 + 3 + 5 + 3 + 3 + 7 = 33 days off, 6 make-up days. */
    assert_int_equal(h.noff, 33);
    assert_int_equal(h.nwork, 6);
    assert_int_equal(h.off[0], time_days_from_civil(2026, 1, 1));
    assert_int_equal(h.off[32], time_days_from_civil(2026, 10, 7));
    assert_int_equal(h.work[1], time_days_from_civil(2026, 2, 14));
    calendar_holidays_free(&h);
    /* Full dates across the year end: 2023-12-30, 12-31, 2024-01-01, then 02-10..02-17
     * (8 days, end year taken from the start) = 11. */
    assert_int_equal(calendar_holidays_parse_text(y2024, strlen(y2024), &h, &err), SMILE_OK);
    assert_int_equal(h.noff, 11);
    assert_int_equal(h.off[0], time_days_from_civil(2023, 12, 30));
    calendar_holidays_free(&h);
    /* Errors name the line: line 3 (the blank line 2 still counts). */
    assert_int_equal(calendar_holidays_parse_text(bad, strlen(bad), &h, &err), SMILE_EINVAL);
    assert_non_null(strstr(err.msg, "line 3:"));
    assert_int_equal(calendar_holidays_parse_text(bad_date, strlen(bad_date), &h, &err),
                     SMILE_EINVAL);
    assert_non_null(strstr(err.msg, "line 3:"));
    assert_int_equal(calendar_holidays_parse_text(both, strlen(both), &h, &err), SMILE_EINVAL);
    assert_non_null(strstr(err.msg, "line 2: 2027-01-02"));
    assert_int_equal(h.noff, 0);
}

/* The built-in China calendar against SOURCES.md §4.5 (the notices, as text): every OFF
 * date is closed at 10:00 and every WORK date open at 10:00. 2024: 3+8+3+5+3+3+7 = 32
 * days off, 8 make-up days; 2025: 1+8+3+5+3+8 = 28 and 5; 2026: 33 and 6. */
static void
test_china_matches_notices(void **state)
{
    const char *text =
        "2024 OFF  2023-12-30..2024-01-01 2024-02-10..02-17 04-04..04-06 05-01..05-05 "
        "06-08..06-10 09-15..09-17 10-01..10-07\n"
        "2024 WORK 02-04 02-18 04-07 04-28 05-11 09-14 09-29 10-12\n"
        "2025 OFF  01-01 01-28..02-04 04-04..04-06 05-01..05-05 05-31..06-02 10-01..10-08\n"
        "2025 WORK 01-26 02-08 04-27 09-28 10-11\n"
        "2026 OFF  01-01..01-03 02-15..02-23 04-04..04-06 05-01..05-05 06-19..06-21 "
        "09-25..09-27 10-01..10-07\n"
        "2026 WORK 01-04 02-14 02-28 05-09 09-20 10-10\n";
    struct calendar_holidays h;
    struct smile_err err;
    int64_t ten = 2 * H; /* 10:00 +08:00 is 02:00Z */

    (void)state;
    assert_int_equal(calendar_holidays_parse_text(text, strlen(text), &h, &err), SMILE_OK);
    assert_int_equal(h.noff, 32 + 28 + 33);
    assert_int_equal(h.nwork, 8 + 5 + 6);
    for (size_t i = 0; i < h.noff; i++)
        assert_false(calendar_is_working(china, h.off[i] * 24 * H + ten));
    for (size_t i = 0; i < h.nwork; i++)
        assert_true(calendar_is_working(china, h.work[i] * 24 * H + ten));
    calendar_holidays_free(&h);
}

static void
test_holidays_merge(void **state)
{
    const char *base = "{\"time_zone\":\"Asia/Shanghai\",\"versions\":[{\"effective_from\":"
                       "\"2026-01-01\",\"ring_ms\":5000,\"week\":{"
                       "\"mon\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]],"
                       "\"tue\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]],"
                       "\"wed\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]],"
                       "\"thu\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]],"
                       "\"fri\":[[\"09:00\",\"12:00\"],[\"13:30\",\"18:00\"]]},"
                       "\"holidays\":[\"2026-02-14\"],"
                       "\"overrides\":{\"2026-02-13\":[[\"09:00\",\"12:00\"]]}}]}";
    struct calendar_holidays h;
    struct smile_err err;
    json_t *doc = json_loads(base, 0, NULL);
    struct calendar *cal;
    char *out;

    (void)state;
    assert_non_null(doc);
    assert_int_equal(calendar_holidays_parse_text(notice_2026, strlen(notice_2026), &h, &err),
                     SMILE_OK);
    assert_int_equal(calendar_holidays_merge(doc, &h, &err), SMILE_OK);
    calendar_holidays_free(&h);
    /* The notice turned 02-14 (listed as a holiday before) into a make-up day. */
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_array_get(json_object_get(doc, "versions"), 0), "holidays"), 0)),
        "2026-01-01..2026-01-03");
    out = json_dumps(doc, JSON_COMPACT);
    cal = build(out, shanghai);
    /* Merged, the calendar answers like the built-in one for 2026: Friday 02-13 keeps its
     * override (09:00-12:00), so 11:00 + 2 h = 1 h on the 13th, then Saturday 02-14 (make-up)
     * 09:00 + 1 h = 10:00. */
    assert_int_equal(calendar_add(cal, T("2026-02-13T11:00:00+08:00"), 2 * H, CALENDAR_BUSINESS),
                     T("2026-02-14T10:00:00+08:00"));
    assert_false(calendar_is_working(cal, T("2026-10-07T10:00:00+08:00")));
    calendar_free(cal);
    free(out);
    json_decref(doc);
}

/* --- JSON validation ---------------------------------------------------------------------- */

static void
test_json_errors(void **state)
{
    const char *json = "{\"time_zone\":\"Asia/Shanghai\",\"colour\":1,\"versions\":["
                       "{\"effective_from\":\"2026-02-01\",\"ring_ms\":5000,\"foo\":true,\"week\":{"
                       "\"mon\":[[\"9:00\",\"12:00\"]],"
                       "\"tue\":[[\"12:00\",\"09:00\"]],"
                       "\"wed\":[[\"09:00\",\"12:00\"],[\"11:00\",\"13:00\"]],"
                       "\"thu\":[[\"09:00\",\"24:01\"]],"
                       "\"fry\":[]},"
                       "\"holidays\":[\"2026-02-30\",\"2026-05-01\"],\"workdays\":[\"2026-05-01\"],"
                       "\"overrides\":{\"2026-13-01\":[]}},"
                       "{\"effective_from\":\"2026-01-01\",\"ring_ms\":0,\"week\":{}}]}";
    struct smile_err err;
    struct calendar *cal = NULL;

    (void)state;
    assert_int_equal(calendar_from_json(json, strlen(json), shanghai, &cal, &err), SMILE_EINVAL);
    assert_null(cal);
    assert_true(has_field(&err, "/colour", "unknown key"));
    assert_true(has_field(&err, "/versions/0/foo", "unknown key"));
    assert_true(has_field(&err, "/versions/0/week/mon/0/0", "HH:MM"));
    assert_true(has_field(&err, "/versions/0/week/tue/0", "end must be after start"));
    assert_true(has_field(&err, "/versions/0/week/wed/1", "overlaps"));
    assert_true(has_field(&err, "/versions/0/week/thu/0/1", "HH:MM"));
    assert_true(has_field(&err, "/versions/0/week/fry", "unknown key"));
    assert_true(has_field(&err, "/versions/0/holidays/0", "date"));
    assert_true(has_field(&err, "/versions/0/workdays/0", "also listed in holidays"));
    assert_true(has_field(&err, "/versions/0/overrides/2026-13-01", "date"));
    assert_true(has_field(&err, "/versions/1/effective_from", "after the previous"));
    assert_true(has_field(&err, "/versions/1/ring_ms", NULL));
    /* Unknown zone: the caller could not load it and passes NULL. */
    json = "{\"time_zone\":\"Mars/Olympus\",\"versions\":[{\"effective_from\":\"2026-01-01\","
           "\"ring_ms\":5000,\"always_open\":true}]}";
    assert_int_equal(calendar_from_json(json, strlen(json), NULL, &cal, &err), SMILE_EINVAL);
    assert_true(has_field(&err, "/time_zone", "unknown time zone"));
    /* A zone that is not the loaded one. */
    assert_int_equal(calendar_from_json(json, strlen(json), shanghai, &cal, &err), SMILE_EINVAL);
    assert_true(has_field(&err, "/time_zone", "does not match"));
    /* always_open excludes a week. */
    json = "{\"time_zone\":\"Asia/Shanghai\",\"versions\":[{\"effective_from\":\"2026-01-01\","
           "\"ring_ms\":5000,\"always_open\":true,\"week\":{}}]}";
    assert_int_equal(calendar_from_json(json, strlen(json), shanghai, &cal, &err), SMILE_EINVAL);
    assert_true(has_field(&err, "/versions/0/week", "always_open"));
    /* Not JSON at all. */
    assert_int_equal(calendar_from_json("{", 1, shanghai, &cal, &err), SMILE_EMALFORMED);
}

static void
test_json_time_zone(void **state)
{
    char zone[64];
    const char *json = calendar_china_default_json();

    (void)state;
    assert_int_equal(calendar_json_time_zone(json, strlen(json), zone, sizeof(zone)), SMILE_OK);
    assert_string_equal(zone, "Asia/Shanghai");
    assert_int_equal(calendar_json_time_zone("{}", 2, zone, sizeof(zone)), SMILE_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tz_transitions),     cmocka_unit_test(test_tz_to_utc),
        cmocka_unit_test(test_tz_parse_bytes),     cmocka_unit_test(test_china_boundaries),
        cmocka_unit_test(test_china_add_business), cmocka_unit_test(test_china_add_days),
        cmocka_unit_test(test_china_diff),         cmocka_unit_test(test_intervals_overrides),
        cmocka_unit_test(test_always_open_dst),    cmocka_unit_test(test_dst_business),
        cmocka_unit_test(test_add_diff_agree),     cmocka_unit_test(test_versions),
        cmocka_unit_test(test_holidays_text),      cmocka_unit_test(test_china_matches_notices),
        cmocka_unit_test(test_holidays_merge),     cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_time_zone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
