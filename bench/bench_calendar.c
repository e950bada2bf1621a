/*
 * bench_calendar.c — throughput of calendar_add and calendar_diff on the built-in China
 * calendar (two intervals a day, 2024–2026 holidays and make-up days) for a mix of spans
 * from minutes to 30 days, starting at instants spread over 2024–2026. Prints add/s and
 * diff/s next to their ceiling: a plain wall-clock add loop over the same inputs, measured
 * in the same run. Times are the process's CPU time. Standalone; `make bench` runs it. Usage:
 * bench_calendar [iterations]
 */
#include "calendar/calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NINPUT 4096

/* CPU time of this process, so a busy machine slows the figures less than wall time. */
static int64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
parse_count(const char *s)
{
    int64_t v;

    if (str_to_int64(str_from(s), &v) != SMILE_OK || v <= 0)
        return 0;
    return v;
}

int
main(int argc, char **argv)
{
    static int64_t start[NINPUT], span[NINPUT], end[NINPUT];
    static const int64_t spans[] = {60000,
                                    5 * 60000,
                                    30 * 60000,
                                    2 * 3600000,
                                    8 * 3600000,
                                    INT64_C(86400000) * 3,
                                    INT64_C(86400000) * 10,
                                    INT64_C(86400000) * 30};
    int64_t iters = argc > 1 ? parse_count(argv[1]) : 20000000;
    struct smile_err err;
    struct calendar_tz *tz;
    struct calendar *cal;
    const char *json = calendar_china_default_json();
    uint64_t seed = 0x9e3779b97f4a7c15u, sink = 0;
    int64_t t0, t1, base;
    double wall_s, add_s, add_days_s, diff_s;

    if (iters == 0) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    if (calendar_tz_load("Asia/Shanghai", &tz, &err) != SMILE_OK ||
        calendar_from_json(json, strlen(json), tz, &cal, &err) != SMILE_OK) {
        fprintf(stderr, "bench_calendar: %s\n", err.msg);
        return 1;
    }
    /* 2024-01-01T00:00:00+08:00, then pseudo-random instants over about three years. */
    base = time_days_from_civil(2024, 1, 1) * INT64_C(86400000) - 8 * INT64_C(3600000);
    for (int i = 0; i < NINPUT; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        start[i] = base + (int64_t)(seed % (UINT64_C(1000) * 86400 * 1000));
        span[i] = spans[(seed >> 40) % ARRAY_LEN(spans)];
        end[i] = start[i] + span[i];
    }

    t0 = cpu_ns();
    for (int64_t i = 0; i < iters; i++)
        sink += (uint64_t)calendar_add(cal, start[i & (NINPUT - 1)], span[i & (NINPUT - 1)],
                                       CALENDAR_WALL);
    t1 = cpu_ns();
    wall_s = (double)(t1 - t0) / 1e9;

    t0 = cpu_ns();
    for (int64_t i = 0; i < iters; i++)
        sink += (uint64_t)calendar_add(cal, start[i & (NINPUT - 1)], span[i & (NINPUT - 1)],
                                       CALENDAR_BUSINESS);
    t1 = cpu_ns();
    add_s = (double)(t1 - t0) / 1e9;

    t0 = cpu_ns();
    for (int64_t i = 0; i < iters; i++)
        sink += (uint64_t)calendar_add(cal, start[i & (NINPUT - 1)],
                                       1 + span[i & (NINPUT - 1)] / INT64_C(86400000),
                                       CALENDAR_BUSINESS_DAYS);
    t1 = cpu_ns();
    add_days_s = (double)(t1 - t0) / 1e9;

    t0 = cpu_ns();
    for (int64_t i = 0; i < iters; i++)
        sink += (uint64_t)calendar_diff(cal, start[i & (NINPUT - 1)], end[i & (NINPUT - 1)]);
    t1 = cpu_ns();
    diff_s = (double)(t1 - t0) / 1e9;

    printf("bench_calendar: China calendar (Asia/Shanghai, 2 intervals/day, 2024-2026 holidays),"
           " spans 1 min .. 30 days, %lld operations each\n",
           (long long)iters);
    printf("  ceiling (plain wall-clock add loop, same run): %12.0f ops/s\n",
           (double)iters / wall_s);
    printf("  calendar_add  business ms:                     %12.0f add/s\n",
           (double)iters / add_s);
    printf("  calendar_add  business days (1..31 days):      %12.0f add/s\n",
           (double)iters / add_days_s);
    printf("  calendar_diff:                                 %12.0f diff/s\n",
           (double)iters / diff_s);
    printf("  (per second of this process's CPU time; goal >= 10,000,000 add/s and diff/s;"
           " checksum %llu)\n",
           (unsigned long long)(sink & 0xffff));
    calendar_free(cal);
    calendar_tz_free(tz);
    return 0;
}
