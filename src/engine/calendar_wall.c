/*
 * calendar_wall.c — the always-open calendar table for the fold: business time is wall
 * time, a business day is 24 hours, a ring lasts the given cadence. Used by tests, the
 * benchmark and processes whose calendar is always open; pure, no allocation.
 */
#include "engine/engine.h"

#define DEFAULT_RING_MS 5000
#define DAY_MS INT64_C(86400000)

static int64_t
wall_add(const void *ctx, int64_t start_ms, int64_t amount, enum calendar_unit unit)
{
    (void)ctx;
    return unit == CALENDAR_BUSINESS_DAYS ? start_ms + amount * DAY_MS : start_ms + amount;
}

static int64_t
wall_diff(const void *ctx, int64_t from_ms, int64_t to_ms)
{
    (void)ctx;
    return to_ms - from_ms;
}

static int64_t
wall_ring(const void *ctx, int64_t at_ms)
{
    const int64_t *ring = ctx;

    (void)at_ms;
    return ring != NULL && *ring > 0 ? *ring : DEFAULT_RING_MS;
}

struct engine_calendar
engine_calendar_wall(const int64_t *ring_ms)
{
    return (struct engine_calendar){ring_ms, wall_add, wall_diff, wall_ring};
}
