/*
 * runtime.h — the process runtime: connects the ledger to the engine. It owns the business
 * calendars and process definitions stored in the database (tables calendars, processes,
 * process_versions) and the state derived from the ledger (instances, measurements,
 * measurement_segments, measurement_log, deadlines, runtime_cursor). After each ledger
 * commit the post-commit hook marks the events' subjects dirty; a worker thread re-folds
 * each dirty subject — all its events, through every process whose trigger they match, with
 * the version pinned for the instance (engine_process_pick) — and replaces the instance's
 * derived rows in one transaction. `smile rebuild` calls the same runtime_fold_subject(),
 * so the derived tables are a pure function of the ledger and the definitions.
 *
 * Flow: ledger commit → runtime hook (queue) → worker: runtime_fold_subject() → engine_fold()
 * → measurements/deadlines → scheduler (wakes for an earlier deadline) → sla.* events →
 * ledger → runtime again. See docs/measurements.md.
 */
#ifndef SMILE_RUNTIME_H
#define SMILE_RUNTIME_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct store_pool;
struct ledger;
struct calendar;
struct runtime;
struct runtime_defs;

/* Definitions ------------------------------------------------------------------------------ */

/*
 * A cache of compiled process versions and calendars for one thread. runtime_defs_refresh()
 * reloads everything when a version was published, a process deleted or a calendar row's
 * version changed (one small query otherwise). Not shared between threads.
 */
struct runtime_defs *runtime_defs_new(void);
void runtime_defs_free(struct runtime_defs *d);
int runtime_defs_refresh(struct runtime_defs *d, struct store *s, struct smile_err *err);

/*
 * Compiles a calendar document: reads its time_zone, loads the zone and builds the calendar
 * (calendar_from_json). *out is owned by the caller (calendar_free). Field errors as
 * calendar_from_json reports them (SMILE_EINVAL), SMILE_EMALFORMED if not JSON.
 */
int runtime_calendar_compile(const char *doc, size_t len, struct calendar **out,
                             struct smile_err *err);

/*
 * The calendar a process names, as the runtime resolves it: the calendar row of that name;
 * "default" means the row named "default" if there is one, else "China", else the oldest
 * calendar. Returns the compiled calendar borrowed from d (valid until the next refresh), or
 * NULL if there is none (the fold then uses wall time with 5 s rings).
 */
const struct calendar *runtime_defs_calendar(struct runtime_defs *d, const char *name);

/* Folding ---------------------------------------------------------------------------------- */

/*
 * Re-folds one subject inside the caller's open transaction on s: loads its events ordered
 * by (occurred_at, id), takes as_of = the latest occurred_at among them, and for every
 * process with a version in force when the subject triggered it — or the version a recompute
 * pinned the instance to (instance_pins; an instance whose pinned version no longer triggers
 * on the subject's events is removed) — folds and replaces the instance's measurements,
 * segments, log and deadlines — writing only the rows whose content changed (a digest per
 * measurement) and deleting the occurrences this fold no longer has. fold_seq is recorded
 * on the measurement rows it writes (which fold last changed a row). *out_next_due (may be
 * NULL) gets the earliest unfired deadline, written or kept, or INT64_MAX.
 */
int runtime_fold_subject(struct runtime_defs *d, struct store *s, const char *subject,
                         int64_t fold_seq, int64_t *out_next_due, struct smile_err *err);

/*
 * Batching for a transaction that folds many subjects: after runtime_defs_batch_begin(d),
 * the folds on d sum their kpi rollup changes (kpi_rollup_stage) and
 * runtime_defs_batch_end(d, s, apply, err) writes them once per row (apply: before the
 * commit) or drops them (a rollback); it ends the batch either way.
 */
void runtime_defs_batch_begin(struct runtime_defs *d);
int runtime_defs_batch_end(struct runtime_defs *d, struct store *s, bool apply,
                           struct smile_err *err);

/* Version pins (pins.c) ---------------------------------------------------------------------- */

/*
 * A re-pinning of one instance (process, subject) to a published version, made by an applied
 * recompute (run_id, a recompute_runs row). The newest pin of an instance is the version its
 * folds use from then on — live, recompute and `smile rebuild` alike; without one, the version
 * in force when the subject triggered the process. Strings are borrowed.
 */
struct runtime_pin {
    int64_t process_id;
    const char *subject;
    int version, previous_version;
    int64_t run_id;
    const char *reason, *by; /* may be NULL */
    int64_t at;              /* ms UTC */
};

/* Inserts a pin (inside the caller's transaction); *out_id (may be NULL) its id. The
 * (process_id, version) must be a published version (foreign key). */
int runtime_pin_add(struct store *s, const struct runtime_pin *p, int64_t *out_id,
                    struct smile_err *err);

/* A stored pin as the fold uses it. */
struct runtime_pin_ref {
    int64_t id, process_id;
    int version;
};

/* Every pin of subject's instances, oldest first; *out (caller frees) may be NULL with
 * *nout 0. */
int runtime_pins_load(struct store *s, const char *subject, struct runtime_pin_ref **out,
                      size_t *nout, struct smile_err *err);

/* The pin in force for process_id among pins (the newest of that process), or NULL. Pure. */
const struct runtime_pin_ref *runtime_pin_find(const struct runtime_pin_ref *pins, size_t n,
                                               int64_t process_id);

/*
 * The pin in force of every re-pinned instance of process_id: *out (caller owns) maps the
 * subject to the pinned version number (the newest pin of each subject). For a replay that
 * must measure as the fold does (the what-if's live side).
 */
int runtime_pins_of_process(struct store *s, int64_t process_id, json_t **out,
                            struct smile_err *err);

/*
 * The pin history of one instance, oldest first, for the read API: [{"id", "version",
 * "previous_version", "run_id", "reason", "by", "at"}] (empty if never re-pinned). Caller
 * owns *out.
 */
int runtime_pins_json(struct store *s, const char *subject, int64_t process_id, json_t **out,
                      struct smile_err *err);

/*
 * Drops all derived state and folds every subject of the ledger again (smile rebuild), in
 * transactions of up to 500 subjects. *out_subjects (may be NULL) gets the count.
 */
int runtime_rebuild(struct store *s, int64_t *out_subjects, struct smile_err *err);

/*
 * The idempotency key (source "smile") of the sla.warning / sla.breached event for one
 * deadline: "sla:<process>:<hash of subject>:<step>:<occurrence>:<w|b><index>". Same inputs,
 * same key, so the ledger never stores a deadline's event twice. out >= 128 bytes.
 */
void runtime_deadline_source_id(int64_t process_id, const char *subject, const char *step,
                                int64_t occurrence, bool breach, int idx, char *out, size_t cap);

/*
 * Registers the CRM event sink (crm_event_sink_set): case actions append their case.* events
 * with ledger_append_in_tx() inside the CRM's transaction — with the processes' field names
 * added (data.type, data.assignee and data.team by name, data.by) — and, after COMMIT, hand
 * them to ledger_notify() so the runtime folds them; with l NULL (tests, tools) the events
 * are appended and nobody is notified. (crm_sink.c)
 */
void runtime_crm_sink_install(struct ledger *l);
/* Stops CRM actions from emitting events (shutdown). */
void runtime_crm_sink_uninstall(void);

/* The live worker ------------------------------------------------------------------------ */

/* Called by the worker when it wrote a deadline due at due_at (the scheduler's wake-up). */
typedef void runtime_due_fn(int64_t due_at, void *ud);

/*
 * Opens the runtime on the database at db_path (its own connection and worker thread) and
 * registers its post-commit hook on l. With pool, the connection writes through the pool's
 * group commit (store_pool_open_member); NULL opens a standalone one. Subjects with events after
 * runtime_cursor (committed while no runtime ran) are queued at once. Close with runtime_close()
 * (after the ledger has stopped appending, before ledger_close is fine: pending subjects are folded
 * first, for at most a second; what is still queued then is left to the next start's catch-up
 * from runtime_cursor, so a long backlog does not hold up shutdown and nothing is lost).
 */
int runtime_open(const char *db_path, struct store_pool *pool, struct ledger *l,
                 struct runtime **out, struct smile_err *err);
void runtime_close(struct runtime *rt);
/* Sets the deadline callback; NULL stops it (when this returns, no call is in flight). The
 * callback runs with the runtime's lock held: it must be quick and must not call back. */
void runtime_on_due(struct runtime *rt, runtime_due_fn *fn, void *ud);
/* Called by the worker after a batch of subjects was folded (committed, or failed and
 * logged), with the runtime's lock held: must be quick (queue them) and must not call back.
 * The strings are borrowed for the call. */
typedef void runtime_folded_fn(const char *const *subjects, size_t n, void *ud);
/* Sets the folded callback; NULL stops it (when this returns, no call is in flight). */
void runtime_on_folded(struct runtime *rt, runtime_folded_fn *fn, void *ud);
/* Queues a subject for re-folding (duplicates coalesce). */
void runtime_mark(struct runtime *rt, const char *subject);

struct runtime_status {
    size_t pending;               /* subjects queued or being folded */
    int64_t last_event_id_seen;   /* highest event id the hook was told about */
    int64_t last_event_id_folded; /* every event up to this id is reflected */
    uint64_t folds;               /* subjects folded since start */
    uint64_t errors;              /* folds that failed (logged) */
};
void runtime_status(struct runtime *rt, struct runtime_status *out);

#endif
