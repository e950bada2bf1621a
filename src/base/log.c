/*
 * log.c — structured log lines on stderr in logfmt ("ts=… level=… key=value …"), one
 * write(2) per line so concurrent threads never interleave inside a line.
 */
#include "base.h"

#include <stdio.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
    min_level = level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048], ts[TIME_RFC3339_LEN + 1];
    va_list ap;
    int n, m;

    if (level < min_level)
        return;
    time_format_rfc3339(time_now_ms(), ts);
    n = snprintf(line, sizeof(line), "ts=%s level=%s ", ts, names[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
