/*
 * fuzz_tzif.c — feeds arbitrary bytes to the TZif parser (RFC 8536, with the footer TZ
 * string); every zone that parses must pass tz checks via a calendar built on it, and
 * offset lookups and wall-time conversions must stay in range at instants from year 1 to
 * 9999.
 */
#include "calendar/calendar.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char json[] = "{\"time_zone\":\"Fuzz/Zone\",\"versions\":[{\"effective_from\":"
                               "\"2026-01-01\",\"ring_ms\":5000,\"always_open\":true}]}";
    static const int64_t at[] = {
        INT64_C(-62135596800000), INT64_C(-2208988800000), 0,
        INT64_C(1772953200000),   INT64_C(4102444800000),  INT64_C(10413792000000),
        INT64_C(253402300799999)};
    struct calendar_tz *tz = NULL;
    struct calendar *cal = NULL;
    struct smile_err err;

    if (calendar_tz_parse("Fuzz/Zone", data, size, &tz, &err) != SMILE_OK)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(at); i++) {
        int32_t off = calendar_tz_offset(tz, at[i]);
        int64_t u;

        if (off < -89999 || off > 93599)
            abort();
        u = calendar_tz_to_utc(tz, at[i]);
        if (u < at[i] - INT64_C(200000000) || u > at[i] + INT64_C(200000000))
            abort();
    }
    if (calendar_from_json(json, strlen(json), tz, &cal, &err) != SMILE_OK || !calendar_check(cal))
        abort();
    /* Always open: a day of working time is the elapsed time, whatever the offsets do. */
    if (calendar_diff(cal, at[3], at[3] + 86400000) != 86400000)
        abort();
    calendar_free(cal);
    calendar_tz_free(tz);
    return 0;
}
