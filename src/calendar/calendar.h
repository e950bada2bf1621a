/*
 * calendar.h — business calendars and their arithmetic (pure). A calendar is a time
 * zone, weekly working intervals, holidays, extra working days (China's make-up days,
 * 调休), date overrides with their own intervals, an always-open option and a ring
 * cadence, in effective-dated versions. add() and diff() work in milliseconds.
 * Sits below the engine in the flow; includes nothing above base.
 *
 * Ownership: a struct calendar is immutable once built and is freed by calendar_free().
 * Time zones come from TZif data (RFC 8536); calendar_tz_load() is the one function here
 * that reads a file (the system zoneinfo), everything else is pure.
 */
#ifndef SMILE_CALENDAR_H
#define SMILE_CALENDAR_H

#include "base/base.h"

struct calendar;
struct calendar_tz;

enum calendar_unit {
    CALENDAR_WALL,          /* plain elapsed milliseconds, no calendar */
    CALENDAR_BUSINESS,      /* milliseconds of working time */
    CALENDAR_BUSINESS_DAYS, /* whole working days: same time of day N working days later */
};

/* Time zones ------------------------------------------------------------------------- */

/* Parses TZif bytes (versions 1–4, with the footer TZ string for times past the table). */
int calendar_tz_parse(const char *name, const void *tzif, size_t len, struct calendar_tz **out,
                      struct smile_err *err);
/* Loads an IANA zone ("Asia/Shanghai") from /usr/share/zoneinfo (or $SMILE_ZONEINFO). */
int calendar_tz_load(const char *name, struct calendar_tz **out, struct smile_err *err);
void calendar_tz_free(struct calendar_tz *tz);
/* UTC offset in seconds in force at utc_ms. */
int32_t calendar_tz_offset(const struct calendar_tz *tz, int64_t utc_ms);
/* The UTC instant of a local wall time; for a time in a DST gap the instant after the gap,
 * for an ambiguous time the earlier instant. */
int64_t calendar_tz_to_utc(const struct calendar_tz *tz, int64_t local_ms);

/* Calendars --------------------------------------------------------------------------- */

/*
 * Builds a calendar from its JSON document (the API's and the database's form). The time
 * zone is resolved through tz (the caller loads it; its name must equal "time_zone"; NULL
 * reports the zone as unknown). tz is only read: the calendar keeps its own copy, so the
 * caller may free tz at once. Validation problems are reported field by field in err with
 * JSON Pointer paths (SMILE_EINVAL); text that is not JSON gives SMILE_EMALFORMED. On
 * success *out is owned by the caller (calendar_free). See docs/calendars.md for the format.
 */
int calendar_from_json(const char *json, size_t len, struct calendar_tz *tz, struct calendar **out,
                       struct smile_err *err);
void calendar_free(struct calendar *cal);
/* The built-in China calendar (Asia/Shanghai, Mon–Fri 09:00–12:00 and 13:30–18:00,
 * 2024–2026 public holidays and make-up days, 5 s per ring) as a JSON document.
 * A static string: do not free. */
const char *calendar_china_default_json(void);

/*
 * The instant reached from start after amount of the given unit. amount >= 0 (negative
 * counts as 0). Returns INT64_MAX if the calendar has no more working time (or the result
 * lies past year 9999).
 * CALENDAR_BUSINESS: the earliest instant by which `amount` ms of working time have passed
 * (so 11:00 + 1 h with a 09:00–12:00 interval is 12:00, not 13:30); amount 0 returns the
 * next working moment (start itself if it is working time). Intervals are half-open: 12:00
 * is not working time in 09:00–12:00. A start outside working hours thus counts from the
 * next working moment, and calendar_diff(start, result) == amount.
 * CALENDAR_BUSINESS_DAYS: the same local time of day `amount` working days later (a
 * working day is a local day with any working interval; a start outside working hours
 * first moves to the next working moment); if that time is not working time on the target
 * day, the end of that day's last working interval before it, else (before the first
 * interval) that day's first working moment. Make-up days (调休) count as working days.
 * Worked examples: docs/calendars.md §2.
 */
int64_t calendar_add(const struct calendar *cal, int64_t start_ms, int64_t amount,
                     enum calendar_unit unit);
/* Working milliseconds between from and to (negative if to < from): real elapsed time
 * inside working intervals, so an interval spanning a DST change is an hour shorter or
 * longer that day. */
int64_t calendar_diff(const struct calendar *cal, int64_t from_ms, int64_t to_ms);
/* Whether at_ms lies inside a working interval of its local day. */
bool calendar_is_working(const struct calendar *cal, int64_t at_ms);
/* Milliseconds per ring (one on+off cycle of the ring-back tone) in force at at_ms. */
int64_t calendar_ring_ms(const struct calendar *cal, int64_t at_ms);
/* Local calendar date (day number, see time_days_from_civil) of an instant. */
int64_t calendar_local_day(const struct calendar *cal, int64_t at_ms);
/* Verifies internal invariants (sorted, non-overlapping intervals …); tests call it. */
bool calendar_check(const struct calendar *cal);

/* The calendar's own copy of its time zone (borrowed; lives as long as cal). */
const struct calendar_tz *calendar_tz(const struct calendar *cal);
/* Copies the document's "time_zone" string into out (NUL-terminated) so the caller can load
 * the zone before calendar_from_json(). SMILE_EMALFORMED if not JSON, SMILE_EINVAL if the
 * field is missing, not a string or does not fit. */
int calendar_json_time_zone(const char *json, size_t len, char *out, size_t outsize);

/* Holiday notices ---------------------------------------------------------------------- */

/*
 * Dates from a holiday notice: days off and extra working days, each sorted ascending
 * without duplicates, as day numbers (time_days_from_civil). Owned by the struct; release
 * with calendar_holidays_free().
 */
struct calendar_holidays {
    int64_t *off;
    size_t noff;
    int64_t *work;
    size_t nwork;
};

/*
 * Parses the plain-text import format (docs/calendars.md, SOURCES.md §4.5):
 *   # comment
 *   2026 OFF  01-01..01-03 02-15..02-23
 *   2026 WORK 01-04 02-14
 * "MM-DD" takes the line's year, full dates "2023-12-30..2024-01-01" are allowed, a range
 * end written "MM-DD" takes the year of the range start. A date both OFF and WORK is an
 * error. On failure out is left empty and err->msg reads "line N: ...". SMILE_EINVAL.
 */
int calendar_holidays_parse_text(const char *text, size_t len, struct calendar_holidays *out,
                                 struct smile_err *err);
void calendar_holidays_free(struct calendar_holidays *h);

struct json_t;
/*
 * Merges a notice into a calendar JSON document in place. Each date goes to the version in
 * force on it (the first version for dates before it). An OFF date is added to "holidays"
 * and removed from "workdays" and "overrides"; a WORK date is added to "workdays" and
 * removed from "holidays" unless the date has an override, which is kept. The touched
 * lists are rewritten sorted with consecutive days joined into ranges. SMILE_EINVAL with
 * field paths if the document's versions or lists cannot be read; validate the result
 * with calendar_from_json().
 */
int calendar_holidays_merge(struct json_t *doc, const struct calendar_holidays *h,
                            struct smile_err *err);

#endif
