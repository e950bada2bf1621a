/*
 * work_int.h — shared between the work part's own files (and no one else's): the
 * per-thread cache of compiled definitions the inbox and the hooks read (published process
 * versions by (process, version), with each step's clock kind, and the runtime's compiled
 * calendars).
 */
#ifndef SMILE_WORK_INT_H
#define SMILE_WORK_INT_H

#include "engine/engine.h"
#include "work/work.h"

struct calendar;

/* One published process version as the inbox needs it. */
struct work_version {
    int64_t process_id;
    int number;
    struct engine_process *p;   /* NULL if the document does not compile */
    bool *business;             /* per step: the clock counts business time */
    const struct calendar *cal; /* borrowed from the runtime defs; NULL = wall time */
};

/*
 * The calling thread's cache, refreshed against s (calendars: one small query when
 * nothing changed). Valid until the next call on this thread. NULL with err set on a
 * database failure.
 */
struct work_defs *work_defs_get(struct store *s, struct smile_err *err);
/* Version (pid, number), loaded and compiled on first use; NULL if unknown. */
const struct work_version *work_defs_version(struct work_defs *d, struct store *s, int64_t pid,
                                             int number, struct smile_err *err);
/* A calendar by name (runtime_defs_calendar), or NULL. */
const struct calendar *work_defs_calendar(struct work_defs *d, const char *name);

/* The CRM function a case event performs ("assign", "reply", "resolve", "close"), or NULL. */
const char *work_event_function(const char *type, const json_t *data);

#endif
