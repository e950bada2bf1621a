/*
 * calendar_bind.c — binds a struct calendar (src/calendar) to the fold's function table,
 * so the fold itself links nothing but its table: business-time standards then follow the
 * calendar's working hours, holidays, make-up days and ring cadence.
 */
#include "engine/engine.h"

static int64_t
cal_add(const void *ctx, int64_t start_ms, int64_t amount, enum calendar_unit unit)
{
    return calendar_add(ctx, start_ms, amount, unit);
}

static int64_t
cal_diff(const void *ctx, int64_t from_ms, int64_t to_ms)
{
    return calendar_diff(ctx, from_ms, to_ms);
}

static int64_t
cal_ring(const void *ctx, int64_t at_ms)
{
    return calendar_ring_ms(ctx, at_ms);
}

struct engine_calendar
engine_calendar_bind(const struct calendar *cal)
{
    return (struct engine_calendar){cal, cal_add, cal_diff, cal_ring};
}
