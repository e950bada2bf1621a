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
 * zone is resolved through tz (the caller loads it). Validation problems are reported
 * field by field in err with JSON Pointer paths. See docs/calendars.md for the format.
 */
int calendar_from_json(const char *json, size_t len, struct calendar_tz *tz, struct calendar **out,
                       struct smile_err *err);
void calendar_free(struct calendar *cal);
/* The built-in China calendar (Asia/Shanghai, Mon–Fri 09:00–12:00 and 13:30–18:00,
 * 2024–2026 public holidays and make-up days, 5 s per ring) as a JSON document. */
const char *calendar_china_default_json(void);

/*
 * The instant reached from start after amount of the given unit. amount >= 0.
 * CALENDAR_BUSINESS: counts working time only; a start outside working hours counts from
 * the next working moment. CALENDAR_BUSINESS_DAYS: the same local time of day `amount`
 * working days later (a start outside working hours first moves to the next working
 * moment); if that time is not working time on the target day, the end of that day's last
 * working interval before it, else the next working moment.
 */
int64_t calendar_add(const struct calendar *cal, int64_t start_ms, int64_t amount,
                     enum calendar_unit unit);
/* Working milliseconds between from and to (negative if to < from). */
int64_t calendar_diff(const struct calendar *cal, int64_t from_ms, int64_t to_ms);
bool calendar_is_working(const struct calendar *cal, int64_t at_ms);
/* Milliseconds per ring (one on+off cycle of the ring-back tone) in force at at_ms. */
int64_t calendar_ring_ms(const struct calendar *cal, int64_t at_ms);
/* Local calendar date (day number, see time_days_from_civil) of an instant. */
int64_t calendar_local_day(const struct calendar *cal, int64_t at_ms);
/* Verifies internal invariants (sorted, non-overlapping intervals …); tests call it. */
bool calendar_check(const struct calendar *cal);

#endif
