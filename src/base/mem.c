/*
 * mem.c — allocation that aborts on failure (Redis zmalloc, cmark xcalloc), borrowed
 * string views and the bounded growable buffer (curl dynbuf) used to build responses,
 * SQL and log lines.
 */
#include "base.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("smile: fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void
oom(size_t n)
{
    fprintf(stderr, "smile: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        oom(n * size);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct str
str_from(const char *s)
{
    return (struct str){s, s ? strlen(s) : 0};
}

bool
str_eq(struct str a, const char *b)
{
    size_t n = strlen(b);

    return a.len == n && memcmp(a.p, b, n) == 0;
}

bool
str_has_prefix(struct str a, const char *prefix)
{
    size_t n = strlen(prefix);

    return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

int
str_to_int64(struct str s, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, limit;

    if (s.len == 0)
        return SMILE_EINVAL;
    if (s.p[0] == '-') {
        neg = true;
        i = 1;
        if (s.len == 1)
            return SMILE_EINVAL;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len; i++) {
        unsigned d;

        if (s.p[i] < '0' || s.p[i] > '9')
            return SMILE_EINVAL;
        d = (unsigned)(s.p[i] - '0');
        if (v > (limit - d) / 10)
            return SMILE_EINVAL;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SMILE_OK;
}

void
buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data)
        b->data[0] = '\0';
}

/* Grows to hold n more bytes plus the NUL; false (and overflow set) past max. */
static bool
reserve(struct buf *b, size_t n)
{
    size_t need = b->len + n + 1, cap;

    if (b->overflow)
        return false;
    if (b->max && need > b->max + 1) {
        b->overflow = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return true;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_put_int64(struct buf *b, int64_t v)
{
    char d[24];
    int i = (int)sizeof(d);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    buf_append(b, d + i, sizeof(d) - (size_t)i);
}

void
buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void
buf_put_json_string(struct buf *b, const char *s, size_t len, bool upper_hex)
{
    const char *hex = upper_hex ? "0123456789ABCDEF" : "0123456789abcdef";

    buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;

        /* Characters that need no escape are copied a run at a time. */
        while (run < len && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            buf_append(b, s + i, run - i);
            i = run - 1;
            continue;
        }
        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default: /* another control character */
            buf_puts(b, "\\u00");
            buf_putc(b, hex[c >> 4]);
            buf_putc(b, hex[c & 0xf]);
        }
    }
    buf_putc(b, '"');
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

bool
buf_overflowed(const struct buf *b)
{
    return b->overflow;
}

char *
buf_steal(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");

    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
    return p;
}
