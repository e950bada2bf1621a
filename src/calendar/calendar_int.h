/*
 * calendar_int.h — what the calendar's own files share and nobody else sees: the parsed
 * time zone (transition table plus the POSIX footer rule) and the segment lookup the
 * arithmetic walks on. Included by tz.c and calendar.c only.
 */
#ifndef SMILE_CALENDAR_INT_H
#define SMILE_CALENDAR_INT_H

#include "calendar/calendar.h"

#define CAL_DAY_MS INT64_C(86400000)
#define CAL_NEVER INT64_MAX
/* Instants are kept inside years 0001..9999 so local-time arithmetic cannot overflow. */
#define CAL_MIN_MS INT64_C(-62135596800000)
#define CAL_MAX_MS INT64_C(253402300799999)

/* One rule date of a POSIX TZ string: Jn, n or Mm.w.d, plus the local time of day. */
struct tz_rule_date {
    char kind; /* 'J' (1..365, no Feb 29), 'D' (0..365 zero-based), 'M' (month.week.day) */
    int day, week, month;
    int32_t secs; /* local time of day of the change, may be < 0 or > 24 h (RFC 8536 §3.3.1) */
};

/* The footer: std offset, and optionally a DST offset with its start and end rules. */
struct tz_footer {
    bool present;
    bool has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    struct tz_rule_date start, end;
};

/*
 * A parsed zone. trans[i] (UTC seconds, strictly increasing) switches to offset off[i];
 * before trans[0] offset off0 holds. After the table the footer rule applies (if any,
 * else off[last]). The table is pre-extended from the footer rule up to table_end so the
 * hot path is one binary search; later instants evaluate the rule per year.
 */
struct calendar_tz {
    char name[64];
    size_t n;
    int64_t *trans;
    int32_t *off;
    int32_t off0;
    int64_t table_end; /* UTC seconds; the table is complete below this instant */
    struct tz_footer footer;
};

/*
 * The offset (seconds) in force at utc_ms and the next instant (ms) at which it changes,
 * CAL_NEVER if it never does. utc_ms must lie within CAL_MIN_MS..CAL_MAX_MS.
 */
int32_t tz_find(const struct calendar_tz *tz, int64_t utc_ms, int64_t *next_ms);
/* A deep copy (calendars keep their own). */
struct calendar_tz *tz_clone(const struct calendar_tz *tz);
bool tz_check(const struct calendar_tz *tz);

static inline int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif
