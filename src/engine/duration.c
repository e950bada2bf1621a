/*
 * duration.c — the durations of process standards: "5s", "3 rings", "4 business hours",
 * "3 business days". Parsed into (amount, unit) by engine_duration_parse() when a process
 * is compiled, printed back in canonical form when it is serialised. Rings and business
 * days are resolved against the calendar only when a clock starts (fold.c).
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

#define MAX_WALL_MS INT64_C(315360000000) /* ten years */

struct unit_name {
    const char *name;
    enum engine_dur_unit unit;
};

/* Every accepted spelling; the first of each unit is not necessarily canonical. */
static const struct unit_name units[] = {
    {"ms", ENGINE_DUR_MS},
    {"millisecond", ENGINE_DUR_MS},
    {"milliseconds", ENGINE_DUR_MS},
    {"s", ENGINE_DUR_S},
    {"sec", ENGINE_DUR_S},
    {"second", ENGINE_DUR_S},
    {"seconds", ENGINE_DUR_S},
    {"m", ENGINE_DUR_MIN},
    {"min", ENGINE_DUR_MIN},
    {"mins", ENGINE_DUR_MIN},
    {"minute", ENGINE_DUR_MIN},
    {"minutes", ENGINE_DUR_MIN},
    {"h", ENGINE_DUR_H},
    {"hour", ENGINE_DUR_H},
    {"hours", ENGINE_DUR_H},
    {"d", ENGINE_DUR_D},
    {"day", ENGINE_DUR_D},
    {"days", ENGINE_DUR_D},
    {"ring", ENGINE_DUR_RINGS},
    {"rings", ENGINE_DUR_RINGS},
    {"business minute", ENGINE_DUR_BUSINESS_MIN},
    {"business minutes", ENGINE_DUR_BUSINESS_MIN},
    {"business hour", ENGINE_DUR_BUSINESS_H},
    {"business hours", ENGINE_DUR_BUSINESS_H},
    {"business day", ENGINE_DUR_BUSINESS_DAYS},
    {"business days", ENGINE_DUR_BUSINESS_DAYS},
};

static int64_t
unit_ms(enum engine_dur_unit u)
{
    switch (u) {
    case ENGINE_DUR_MS:
        return 1;
    case ENGINE_DUR_S:
        return 1000;
    case ENGINE_DUR_MIN:
    case ENGINE_DUR_BUSINESS_MIN:
        return 60000;
    case ENGINE_DUR_H:
    case ENGINE_DUR_BUSINESS_H:
        return 3600000;
    case ENGINE_DUR_D:
        return 86400000;
    case ENGINE_DUR_RINGS:
    case ENGINE_DUR_BUSINESS_DAYS:
        return -1;
    }
    return -1;
}

int
engine_duration_parse(const char *s, struct engine_duration *out)
{
    int64_t amount = 0;
    size_t i = 0, ndigits = 0;

    if (s == NULL)
        return SMILE_EINVAL;
    while (s[i] >= '0' && s[i] <= '9') {
        if (++ndigits > 12)
            return SMILE_EINVAL;
        amount = amount * 10 + (s[i] - '0');
        i++;
    }
    if (ndigits == 0)
        return SMILE_EINVAL;
    if (s[i] == ' ')
        i++;
    for (size_t k = 0; k < ARRAY_LEN(units); k++) {
        if (strcmp(s + i, units[k].name) != 0)
            continue;
        enum engine_dur_unit u = units[k].unit;
        int64_t per = unit_ms(u);
        if (per > 0 && amount > MAX_WALL_MS / per)
            return SMILE_EINVAL;
        if (u == ENGINE_DUR_RINGS && amount > 1000)
            return SMILE_EINVAL;
        if (u == ENGINE_DUR_BUSINESS_DAYS && amount > 3650)
            return SMILE_EINVAL;
        out->amount = amount;
        out->unit = u;
        return SMILE_OK;
    }
    return SMILE_EINVAL;
}

void
engine_duration_format(struct engine_duration d, char *out, size_t outlen)
{
    long long a = (long long)d.amount;
    const char *pl = d.amount == 1 ? "" : "s";

    switch (d.unit) {
    case ENGINE_DUR_MS:
        snprintf(out, outlen, "%lldms", a);
        break;
    case ENGINE_DUR_S:
        snprintf(out, outlen, "%llds", a);
        break;
    case ENGINE_DUR_MIN:
        snprintf(out, outlen, "%lldm", a);
        break;
    case ENGINE_DUR_H:
        snprintf(out, outlen, "%lldh", a);
        break;
    case ENGINE_DUR_D:
        snprintf(out, outlen, "%lldd", a);
        break;
    case ENGINE_DUR_RINGS:
        snprintf(out, outlen, "%lld ring%s", a, pl);
        break;
    case ENGINE_DUR_BUSINESS_MIN:
        snprintf(out, outlen, "%lld business minute%s", a, pl);
        break;
    case ENGINE_DUR_BUSINESS_H:
        snprintf(out, outlen, "%lld business hour%s", a, pl);
        break;
    case ENGINE_DUR_BUSINESS_DAYS:
        snprintf(out, outlen, "%lld business day%s", a, pl);
        break;
    }
}

int64_t
engine_duration_ms(struct engine_duration d)
{
    int64_t per = unit_ms(d.unit);

    return per < 0 ? -1 : d.amount * per;
}
