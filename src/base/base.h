/*
 * base.h — the small shared tools every part of Smile stands on: the project-wide
 * result codes and error detail, allocation that aborts on failure, borrowed string
 * views, growable bounded buffers, time in UTC milliseconds (RFC 3339), and structured
 * logging. Nothing here knows about HTTP, SQL or customer service.
 */
#ifndef SMILE_BASE_H
#define SMILE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMILE_VERSION "0.1.0"

/*
 * Result codes. Fallible functions return one of these; results travel through out_
 * parameters. smile_result_http() and smile_result_name() map each code to its HTTP
 * status and stable machine-readable name (see err.c for the table).
 */
enum smile_result {
    SMILE_OK = 0,
    SMILE_EINVAL,     /* a field is invalid (422) */
    SMILE_EMALFORMED, /* the request body cannot be parsed (400) */
    SMILE_ENOTFOUND,  /* no such thing (404) */
    SMILE_ECONFLICT,  /* clashes with existing state (409) */
    SMILE_ETOOBIG,    /* over a configured limit (413) */
    SMILE_EAUTH,      /* not signed in (401) */
    SMILE_EPERM,      /* signed in but not allowed (403) */
    SMILE_EPRECOND,   /* stale If-Match (412) */
    SMILE_ENEEDMATCH, /* If-Match required (428) */
    SMILE_ERATE,      /* rate limited (429) */
    SMILE_EMETHOD,    /* method not allowed (405) */
    SMILE_EBUSY,      /* temporarily unavailable (503) */
    SMILE_EDB,        /* storage failed (500) */
    SMILE_EIO,        /* file or network I/O failed (500) */
    SMILE_EVERSION,   /* database newer than this binary (500) */
    SMILE_EINTERNAL,  /* a bug (500) */
    SMILE_RESULT_COUNT
};

int smile_result_http(int code);
const char *smile_result_name(int code);
const char *smile_result_title(int code);

/* Up to this many per-field problems are kept; more are counted in nfields_dropped. */
#define SMILE_ERR_MAX_FIELDS 32

struct smile_err_field {
    char path[128]; /* JSON Pointer of the bad field, e.g. "/events/3/occurred_at" */
    char msg[192];
};

/*
 * The human detail of a failure. Lives on the caller's stack; filled by the callee.
 * code mirrors the returned result so a caller may hand the struct on alone.
 */
struct smile_err {
    int code;
    char msg[256];
    int nfields;
    int nfields_dropped;
    struct smile_err_field fields[SMILE_ERR_MAX_FIELDS];
};

void smile_err_clear(struct smile_err *err);
/* Sets code and message; returns code so callers can `return smile_err_set(...)`. */
int smile_err_set(struct smile_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a field problem; sets code to SMILE_EINVAL unless another code is set. */
int smile_err_field(struct smile_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocation: abort on failure, callers never test for NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A borrowed view of bytes; never owns its memory. */
struct str {
    const char *p;
    size_t len;
};
#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})
struct str str_from(const char *s);
bool str_eq(struct str a, const char *b);
bool str_has_prefix(struct str a, const char *prefix);
/* Parses a whole decimal integer (optional leading '-'); SMILE_EINVAL if any byte is extra. */
int str_to_int64(struct str s, int64_t *out);

/*
 * An owned growable buffer with a maximum size. Appends beyond max set the overflow
 * flag and are dropped; callers test buf_overflowed() once at the end. The data is
 * always NUL-terminated. buf_free() on a zeroed buffer is a no-op.
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
    bool overflow;
};
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends v in decimal (what "%" PRId64 writes, without vsnprintf's cost). */
void buf_put_int64(struct buf *b, int64_t v);
bool buf_overflowed(const struct buf *b);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *buf_steal(struct buf *b);
/*
 * Appends s[0..len) as a JSON string: quotes around it, and only the escapes JSON requires
 * ('"', '\\', \b \f \n \r \t, other control characters as \u00XX with upper_hex choosing
 * the case of the hex digits: jansson writes upper case). Bytes >= 0x80 are copied as they
 * are; the caller checks UTF-8 where it matters.
 */
void buf_put_json_string(struct buf *b, const char *s, size_t len, bool upper_hex);

/* Time: int64 milliseconds since the Unix epoch, UTC. */
#define TIME_RFC3339_LEN 24 /* "2026-11-29T09:08:53.123Z" */
int64_t time_now_ms(void);
int64_t time_mono_ns(void);
/*
 * Parses RFC 3339 ("2026-11-29T09:08:53Z", "...53.5+08:00", fraction up to 9 digits,
 * truncated to ms). 'T' may be 't' or a space. Returns SMILE_EINVAL on any deviation,
 * including impossible dates (2026-02-30) and seconds of 60.
 */
int time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL into out (at least TIME_RFC3339_LEN + 1). */
void time_format_rfc3339(int64_t ms, char *out);
/* Days since 1970-01-01 for a proleptic Gregorian date, and back (Hinnant's algorithms). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* 0 = Monday … 6 = Sunday, for a day number from time_days_from_civil. */
int time_weekday(int64_t days);
/* Parses "YYYY-MM-DD" into a day number; SMILE_EINVAL if malformed or impossible. */
int time_parse_date(const char *s, size_t len, int64_t *out_days);
void time_format_date(int64_t days, char *out); /* "YYYY-MM-DD" + NUL: 11 bytes */

/* Structured logging: one logfmt line per call on stderr. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
