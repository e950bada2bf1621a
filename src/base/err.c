/*
 * err.c — the project-wide result table: each result code with its HTTP status, its
 * stable machine name (used in problem+json "type" URIs and CLI messages) and a title.
 * Like SQLite's result codes, names never change once released.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int http;
    const char *name;
    const char *title;
} results[SMILE_RESULT_COUNT] = {
    [SMILE_OK] = {200, "ok", "OK"},
    [SMILE_EINVAL] = {422, "invalid", "Invalid field"},
    [SMILE_EMALFORMED] = {400, "malformed", "Malformed request"},
    [SMILE_ENOTFOUND] = {404, "not_found", "Not found"},
    [SMILE_ECONFLICT] = {409, "conflict", "Conflict"},
    [SMILE_ETOOBIG] = {413, "too_big", "Content too large"},
    [SMILE_EAUTH] = {401, "unauthorized", "Authentication required"},
    [SMILE_EPERM] = {403, "forbidden", "Forbidden"},
    [SMILE_EPRECOND] = {412, "precondition_failed", "Precondition failed"},
    [SMILE_ENEEDMATCH] = {428, "precondition_required", "If-Match required"},
    [SMILE_ERATE] = {429, "rate_limited", "Too many requests"},
    [SMILE_EMETHOD] = {405, "method_not_allowed", "Method not allowed"},
    [SMILE_EBUSY] = {503, "busy", "Service unavailable"},
    [SMILE_EDB] = {500, "database", "Database error"},
    [SMILE_EIO] = {500, "io", "I/O error"},
    [SMILE_EVERSION] = {500, "version", "Database is newer than this binary"},
    [SMILE_EINTERNAL] = {500, "internal", "Internal error"},
};

int
smile_result_http(int code)
{
    if (code < 0 || code >= SMILE_RESULT_COUNT)
        return 500;
    return results[code].http;
}

const char *
smile_result_name(int code)
{
    if (code < 0 || code >= SMILE_RESULT_COUNT)
        return "internal";
    return results[code].name;
}

const char *
smile_result_title(int code)
{
    if (code < 0 || code >= SMILE_RESULT_COUNT)
        return "Internal error";
    return results[code].title;
}

void
smile_err_clear(struct smile_err *err)
{
    err->code = SMILE_OK;
    err->msg[0] = '\0';
    err->nfields = 0;
    err->nfields_dropped = 0;
}

int
smile_err_set(struct smile_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int
smile_err_field(struct smile_err *err, const char *path, const char *fmt, ...)
{
    struct smile_err_field *f;
    va_list ap;

    if (err->code == SMILE_OK)
        err->code = SMILE_EINVAL;
    if (err->msg[0] == '\0')
        snprintf(err->msg, sizeof(err->msg), "one or more fields are invalid");
    if (err->nfields >= SMILE_ERR_MAX_FIELDS) {
        err->nfields_dropped++;
        return err->code;
    }
    f = &err->fields[err->nfields++];
    snprintf(f->path, sizeof(f->path), "%s", path);
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    return err->code;
}
