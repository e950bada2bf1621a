/*
 * records.h — the definition records of the runtime: calendars (one JSON document per row,
 * with effective-dated versions inside) and processes (an editable draft plus immutable
 * published versions). Each write runs in its own transaction on the caller's connection,
 * validates before writing (nothing is written on an error) and bumps the row's version
 * (the ETag). Rendered records are JSON objects the caller owns. See docs/measurements.md.
 */
#ifndef SMILE_RUNTIME_RECORDS_H
#define SMILE_RUNTIME_RECORDS_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct calendar;

/* Calendars: {id, name, version, created_at, updated_at, document}. */
int runtime_calendar_list(struct store *s, int64_t after, int limit, json_t **out, int64_t *next,
                          struct smile_err *err);
/* SMILE_ENOTFOUND if absent or deleted; *version (may be NULL) the row's version. */
int runtime_calendar_get(struct store *s, int64_t id, json_t **out, int64_t *version,
                         struct smile_err *err);
/* The row's document compiled (caller frees with calendar_free). */
int runtime_calendar_load(struct store *s, int64_t id, struct calendar **out,
                          struct smile_err *err);
/* doc: the calendar document with a "name" (unique: SMILE_ECONFLICT). Field errors 422. */
int runtime_calendar_create(struct store *s, json_t *doc, int64_t now, json_t **out,
                            struct smile_err *err);
/* Replaces the document if the row is at version expect (0 = any): else SMILE_EPRECOND. */
int runtime_calendar_replace(struct store *s, int64_t id, int64_t expect, json_t *doc, int64_t now,
                             json_t **out, struct smile_err *err);
/* Soft delete; the name becomes free for a new calendar. */
int runtime_calendar_delete(struct store *s, int64_t id, int64_t expect, int64_t now,
                            struct smile_err *err);
/*
 * Merges a holiday notice (the text import format) into the calendar: with effective_from
 * (a day number; INT64_MIN = none) a new version starting that day is split off first (a copy
 * of the version then in force), then calendar_holidays_merge puts each date into the
 * version in force on it. A bad notice is a field error at "/body" naming the line.
 */
int runtime_calendar_holidays(struct store *s, int64_t id, int64_t expect, const char *text,
                              size_t len, int64_t effective_from, int64_t now, json_t **out,
                              struct smile_err *err);

/* Processes: {id, name, version, created_at, updated_at, draft, versions: [...]}. */
int runtime_process_list(struct store *s, int64_t after, int limit, json_t **out, int64_t *next,
                         struct smile_err *err);
int runtime_process_get(struct store *s, int64_t id, json_t **out, int64_t *version,
                        struct smile_err *err);
/* draft: a JSON object with a "name" (unique); it need not be valid until published. */
int runtime_process_create(struct store *s, json_t *draft, int64_t now, json_t **out,
                           struct smile_err *err);
int runtime_process_replace(struct store *s, int64_t id, int64_t expect, json_t *draft, int64_t now,
                            json_t **out, struct smile_err *err);
/*
 * Publishes the draft as version N+1 with published_at = at: compiles it (every problem in
 * err with its JSON Pointer, SMILE_EINVAL) and stores the canonical document. expect: the
 * draft's version (0 = any). *out: {process_id, number, published_at, published_by, document}.
 */
int runtime_process_publish(struct store *s, int64_t id, int64_t expect, const char *by, int64_t at,
                            json_t **out, struct smile_err *err);
int runtime_process_version_get(struct store *s, int64_t id, int64_t number, json_t **out,
                                struct smile_err *err);

/* Seeds: install a built-in process (published as version 1 at published_at) or calendar
 * under name, unless one of that name exists. */
int runtime_process_install(struct store *s, const char *json, int64_t published_at,
                            struct smile_err *err);
int runtime_calendar_install(struct store *s, const char *name, const char *json,
                             struct smile_err *err);

#endif
