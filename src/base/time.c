/*
 * time.c — time as int64 milliseconds since the Unix epoch, UTC. RFC 3339 parsing and
 * formatting, civil-date arithmetic (Howard Hinnant's days_from_civil / civil_from_days,
 * public-domain algorithms, re-derived here), and the two clocks. No libc time zone
 * state is touched: time zones belong to the calendar part.
 */
#include "base.h"

#include <time.h>

int64_t
time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
time_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int
time_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    int64_t w = (days + 3) % 7;

    return (int)(w < 0 ? w + 7 : w);
}

static int
days_in_month(int64_t y, unsigned m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly n digits at s[*i]; false if any is not a digit. */
static bool
digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;

    if (*i + (size_t)n > len)
        return false;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

static bool
expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

int
time_parse_date(const char *s, size_t len, int64_t *out_days)
{
    size_t i = 0;
    int y = 0, m = 0, d = 0;

    if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &m) ||
        !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d) || i != len)
        return SMILE_EINVAL;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, (unsigned)m))
        return SMILE_EINVAL;
    *out_days = time_days_from_civil(y, (unsigned)m, (unsigned)d);
    return SMILE_OK;
}

int
time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    size_t i = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, offh = 0, offm = 0, sign = 0;
    int64_t days;

    if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &mo) ||
        !expect(s, len, &i, '-') || !digits(s, len, &i, 2, &d))
        return SMILE_EINVAL;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return SMILE_EINVAL;
    i++;
    if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &mi) ||
        !expect(s, len, &i, ':') || !digits(s, len, &i, 2, &sec))
        return SMILE_EINVAL;
    if (i < len && s[i] == '.') {
        int n = 0;

        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (n < 3)
                ms = ms * 10 + (s[i] - '0');
            n++;
            i++;
        }
        if (n == 0 || n > 9)
            return SMILE_EINVAL;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (i >= len)
        return SMILE_EINVAL;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '+' ? 1 : -1;
        i++;
        if (!digits(s, len, &i, 2, &offh) || !expect(s, len, &i, ':') ||
            !digits(s, len, &i, 2, &offm))
            return SMILE_EINVAL;
        if (offh > 23 || offm > 59)
            return SMILE_EINVAL;
    } else {
        return SMILE_EINVAL;
    }
    if (i != len)
        return SMILE_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo) || h > 23 || mi > 59 ||
        sec > 59)
        return SMILE_EINVAL;
    days = time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out_ms =
        ((days * 86400 + h * 3600 + mi * 60 + sec) - sign * (offh * 3600 + offm * 60)) * 1000 + ms;
    return SMILE_OK;
}

void
time_format_date(int64_t days, char *out)
{
    int64_t y;
    unsigned m, d;

    time_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = 0;
    /* Built digit by digit: the format is fixed and sprintf is not allowed here. */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

void
time_format_rfc3339(int64_t ms, char *out)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int f = (int)(rem % 1000);

    time_format_date(days, out);
    out[10] = 'T';
    out[11] = (char)('0' + h / 10);
    out[12] = (char)('0' + h % 10);
    out[13] = ':';
    out[14] = (char)('0' + mi / 10);
    out[15] = (char)('0' + mi % 10);
    out[16] = ':';
    out[17] = (char)('0' + s / 10);
    out[18] = (char)('0' + s % 10);
    out[19] = '.';
    out[20] = (char)('0' + f / 100);
    out[21] = (char)('0' + f / 10 % 10);
    out[22] = (char)('0' + f % 10);
    out[23] = 'Z';
    out[24] = '\0';
}
