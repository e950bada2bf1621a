/*
 * fuzz_calendar.c — feeds arbitrary bytes to calendar_from_json with a fixed zone (Asia/
 * Shanghai, or America/New_York when the document names it, so DST is fuzzed too; both
 * loaded once, on the first call), and for every calendar that builds checks its
 * invariants and runs add/diff/is_working at instants derived from the input: add and diff
 * must agree, so the arithmetic is fuzzed on whatever calendars the fuzzer invents.
 */
#include "calendar/calendar.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct calendar_tz *zone, *zone_ny;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smile_err err;
    struct calendar *cal = NULL;
    int64_t base = INT64_C(1771000000000); /* 2026-02-13 */

    char name[64];
    struct calendar_tz *tz;

    if (zone == NULL && (calendar_tz_load("Asia/Shanghai", &zone, &err) != SMILE_OK ||
                         calendar_tz_load("America/New_York", &zone_ny, &err) != SMILE_OK))
        abort();
    tz = calendar_json_time_zone((const char *)data, size, name, sizeof(name)) == SMILE_OK &&
                 strcmp(name, "America/New_York") == 0
             ? zone_ny
             : zone;
    if (calendar_from_json((const char *)data, size, tz, &cal, &err) != SMILE_OK)
        return 0;
    if (!calendar_check(cal))
        abort();
    for (size_t i = 0; i < 8; i++) {
        uint64_t h = 1469598103934665603u;

        for (size_t k = 0; k < size; k += 1 + size / 64)
            h = (h ^ data[k] ^ i) * 1099511628211u;
        {
            int64_t t =
                base + (int64_t)(h % (UINT64_C(4) * 365 * 86400000)) - INT64_C(2) * 365 * 86400000;
            int64_t amount = (int64_t)((h >> 20) % (UINT64_C(40) * 86400000));
            int64_t end = calendar_add(cal, t, amount, CALENDAR_BUSINESS);

            /* A reachable end is at or after the start and holds exactly amount of work. */
            if (end != INT64_MAX && amount > 0) {
                if (end < t || calendar_diff(cal, t, end) != amount)
                    abort();
            }
            (void)calendar_add(cal, t, amount % 60, CALENDAR_BUSINESS_DAYS);
            (void)calendar_is_working(cal, t);
            (void)calendar_ring_ms(cal, t);
        }
    }
    calendar_free(cal);
    return 0;
}
