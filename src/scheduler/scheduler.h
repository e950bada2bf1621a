/*
 * scheduler.h — the deadline scheduler: a thread of `smile serve` that keeps the next due
 * warning or breach (the runtime's deadlines table, read through its partial index on
 * due_at WHERE fired_at IS NULL), sleeps until then — or until the runtime wakes it for an
 * earlier deadline, and never longer than 1 s — and, when due, appends sla.warning /
 * sla.breached events through the ledger (source "smile", a deterministic source_id per
 * deadline, occurred_at = the due time). The ledger's idempotency makes a fire exactly-once
 * across restarts; firing everything overdue on start makes it never-miss. The runtime then
 * re-folds the subject and records the deadline as fired.
 */
#ifndef SMILE_SCHEDULER_H
#define SMILE_SCHEDULER_H

#include "base/base.h"

struct store;
struct store_pool;
struct ledger;
struct scheduler;

/* Longest sleep between two looks at the deadlines table, in ms. */
#define SCHEDULER_MAX_SLEEP_MS 1000

/*
 * Opens the scheduler on the database at db_path (its own connection and thread; with pool,
 * one that writes through the pool's group commit), appending through l. It fires everything
 * overdue at once. Close with scheduler_close() before the ledger is closed.
 */
int scheduler_open(const char *db_path, struct store_pool *pool, struct ledger *l,
                   struct scheduler **out, struct smile_err *err);
void scheduler_close(struct scheduler *sc);
/* Tells the scheduler a deadline due at due_at was written (a runtime_due_fn; ud is the
 * struct scheduler). Thread-safe and quick. */
void scheduler_wake(int64_t due_at, void *ud);

/* The earliest unfired deadline (INT64_MAX if none): one indexed SELECT. */
int scheduler_next_due(struct store *s, int64_t *out, struct smile_err *err);
/*
 * Fires up to max deadlines due at or before now: appends their sla.* events in one ledger
 * request (duplicates of earlier fires are answered as duplicates, not stored again) and
 * marks them fired. *out_fired gets how many were handled.
 */
int scheduler_fire_due(struct store *s, struct ledger *l, int64_t now, int max, int *out_fired,
                       struct smile_err *err);

struct scheduler_stats {
    uint64_t fired;      /* deadlines handled */
    uint64_t created;    /* sla.* events the ledger created (not duplicates) */
    int64_t max_late_ms; /* the latest fire after its due time */
};
void scheduler_stats(struct scheduler *sc, struct scheduler_stats *out);

#endif
