/*
 * notify.h — in-app notifications and the escalation runner. A notification is a short
 * message to one user, in English and Simplified Chinese, about a case or a measured step
 * (table `notifications`). The escalation runner is a thread of `smile serve` that follows
 * the ledger (a durable cursor, table `notify_cursor`) and, for every sla.warning /
 * sla.breached event the scheduler committed, runs the escalation rules of the step
 * (engine_escalations_select): notify the assignee, notify the team supervisor, reassign the
 * case, raise its priority — the effects, the escalation log (table `escalations`) and the
 * cursor move commit in one transaction, so each fired deadline is escalated exactly once
 * across restarts and crashes. After each commit the new notifications go to the
 * registered hooks (the SSE stream, and the mail part's SMTP sender when it has one).
 *
 * Flow: ledger → scheduler → ledger (sla.*) → notify → crm (assign, priority) → ledger;
 * notify → hooks → http stream. Owner of the notifications, notify_cursor and escalations
 * tables.
 */
#ifndef SMILE_NOTIFY_H
#define SMILE_NOTIFY_H

#include <jansson.h>

#include "base/base.h"

struct store_pool;

struct store;
struct ledger;
struct notify_runner;

/* Read notifications older than this are deleted by the runner (hourly); unread ones stay. */
#define NOTIFY_KEEP_READ_DAYS 90

/* Role bits of the stream audience (the api part's API_ROLE_SUPERVISOR | API_ROLE_ADMIN). */
#define NOTIFY_ROLES_SUP 0x6u

/* Kinds of notification (the "kind" field). */
#define NOTIFY_KIND_SLA_WARNING "sla.warning"        /* to the assignee: a step is due soon */
#define NOTIFY_KIND_SLA_BREACHED "sla.breached"      /* to the assignee: a step is overdue */
#define NOTIFY_KIND_ESCALATED "escalation"           /* to the supervisor: warning or breach */
#define NOTIFY_KIND_REASSIGNED "escalation.assigned" /* to whom escalation assigned a case */
#define NOTIFY_KIND_ASSIGNED "case.assigned"         /* to whom someone assigned a case */

/* A notification to create. Strings are borrowed for the call; ids 0 = none. */
struct notify_new {
    int64_t user_id;
    const char *kind;
    const char *title_en, *title_zh;
    const char *body_en, *body_zh;
    const char *subject; /* "case:12" or NULL */
    int64_t case_id, measurement_id, event_id;
    const json_t *data; /* NULL = {} */
};

/*
 * Inserts a notification inside the caller's open transaction on s; *out_id its id.
 * After COMMIT, pass the id to notify_published() so the hooks see it.
 */
int notify_create(struct store *s, const struct notify_new *n, int64_t *out_id,
                  struct smile_err *err);

/* Renders notification id as the API's JSON object (new reference in *out); caller's own
 * only (user_id): SMILE_ENOTFOUND otherwise. */
int notify_get(struct store *s, int64_t user_id, int64_t id, json_t **out, struct smile_err *err);

/*
 * The caller's notifications, newest first: {"items": […], "next_cursor": "<id>"|null,
 * "unread": <count>}. unread_only keeps those without read_at; before_id (0 = first page)
 * continues after a previous page's next_cursor. limit 1–500.
 */
int notify_list(struct store *s, int64_t user_id, bool unread_only, int64_t before_id, int limit,
                json_t **out, struct smile_err *err);
/* Notifications of user_id with id > after_id, oldest first, at most limit (the stream's
 * Last-Event-ID resume). *out is a JSON array. */
int notify_since(struct store *s, int64_t user_id, int64_t after_id, int limit, json_t **out,
                 struct smile_err *err);
/*
 * Marks one of the user's notifications read (its own transaction). SMILE_ENOTFOUND if it
 * is not the user's; reading it again keeps the first read_at. *out is the rendered row.
 */
int notify_mark_read(struct store *s, int64_t user_id, int64_t id, json_t **out,
                     struct smile_err *err);
/* Marks every unread notification of the user read; *out_n how many changed. */
int notify_mark_all_read(struct store *s, int64_t user_id, int64_t *out_n, struct smile_err *err);

/* Hooks ----------------------------------------------------------------------------- */

/*
 * Called after a notification committed, with its rendered JSON (borrowed): the SSE stream
 * publishes it; the mail part may register its SMTP sender here (e-mail delivery of
 * notifications is the mail part's, not this one's). Must be quick and thread-safe.
 */
typedef void notify_hook_fn(int64_t user_id, int64_t id, const json_t *notification, void *ud);
/* Registers a hook (at most 8), before the runner starts. */
void notify_hook_add(notify_hook_fn *fn, void *ud);
void notify_hooks_clear(void);
/*
 * In-transaction hook (mailnotify: the e-mail outbox): called by notify_create right after
 * the row is inserted, inside the caller's transaction on s, with the new id and the
 * notification. A result other than SMILE_OK fails notify_create (the caller rolls back, so
 * the notification and its e-mail commit together or not at all). One hook; NULL unsets.
 * Set before the runner starts; notify_hooks_clear unsets it too.
 */
typedef int notify_tx_hook_fn(struct store *s, int64_t id, const struct notify_new *n, void *ud,
                              struct smile_err *err);
void notify_tx_hook_set(notify_tx_hook_fn *fn, void *ud);
/* Loads notification id and calls the hooks with it (after its transaction committed). */
void notify_published(struct store *s, int64_t id);

/*
 * Live board events to supervisors and admins: called for committed sla.* events (kind
 * "sla") and case.* events (kind "case") with a small JSON object (borrowed).
 */
typedef void notify_board_fn(const char *kind, const json_t *ev, void *ud);
/* wanted (may be NULL: always) says whether anyone listens now; when it says no, the
 * events are not even built (a case creation paid a json_loads and a json_pack for them). */
typedef bool notify_board_wanted_fn(void *ud);
void notify_board_set(notify_board_fn *fn, notify_board_wanted_fn *wanted, void *ud);

/* Task events (tasks.c) ---------------------------------------------------------------- */

/*
 * Called for each person whose tasks changed: task is the task's JSON (the shape of
 * GET /api/v1/tasks items) when it appeared or changed for them, or {"id", "removed": true,
 * "subject"} when they no longer hold it (done, reassigned away). Borrowed; must be quick.
 * The stream publishes it as `event: task`.
 */
typedef void notify_task_fn(int64_t user_id, const json_t *task, void *ud);
/* Sets the task hook (NULL unsets; without one, folds are not even queued). */
void notify_task_set(notify_task_fn *fn, void *ud);
/*
 * The runtime's folded callback (runtime_on_folded): queues the subjects and wakes the
 * runner, whose thread compares each subject's tasks with what it last told each person
 * and calls the task hook with the differences (notify_tasks_run).
 */
void notify_tasks_folded(const char *const *subjects, size_t n, void *ud);
/* Compares one subject's tasks as of now with what was told and calls the task hook with
 * the differences (the runner's thread, or tests: one thread at a time). */
int notify_tasks_subject(struct store *s, const char *subject, int64_t now, struct smile_err *err);
/* Looks at every queued subject (notify_tasks_subject); the first error is returned, the
 * other subjects are still looked at. */
int notify_tasks_run(struct store *s, struct smile_err *err);
/* Forgets what was told and what is queued (tests, shutdown). */
void notify_tasks_reset(void);

/* The escalation runner -------------------------------------------------------------- */

/*
 * Escalates every sla.* event of source "smile" after the cursor, each in its own
 * transaction on s (effects, escalation log, cursor move together), up to max events;
 * then moves the cursor over the non-sla events it passed. *out_done gets the number of
 * sla events handled. A case.assigned of source "crm" (a person, routing or a command
 * assigned a case) notifies the new assignee the same way, exactly once, unless they
 * assigned it to themselves or escalation did (it sends its own). Notifications are handed to the
 * hooks after each commit. Used by the runner thread and by tests.
 */
int notify_escalate_pending(struct store *s, int max, int *out_done, struct smile_err *err);

/*
 * Starts the runner on the database at db_path (its own connection and thread). With pool
 * set, the connection is a member of the pool's group commit (store_pool_open_member), so
 * its transactions share the requests' COMMITs instead of waiting for SQLite's file lock;
 * close the runner before the pool then. NULL opens a standalone connection. It
 * registers a post-commit hook on l that wakes it for sla.* events (and feeds the board
 * hook), and looks once a second for events committed elsewhere. Open it before the
 * scheduler starts appending; close it before the ledger. Closing is prompt: the runner
 * checks its stop flag between events, so at most one escalation transaction finishes.
 */
int notify_runner_open(const char *db_path, struct store_pool *pool, struct ledger *l,
                       struct notify_runner **out, struct smile_err *err);
void notify_runner_close(struct notify_runner *r);

struct notify_stats {
    uint64_t events; /* sla events escalated */
};
void notify_runner_stats(struct notify_runner *r, struct notify_stats *out);

/* Appends Prometheus text (smile_notify_* counters of this process) to b. */
void notify_metrics_render(struct buf *b);
/* For escalate.c and tasks.c: counts what committed (kind 0 notifications, 1 actions done,
 * 2 rules skipped, 3 sla events escalated, 4 task events published). */
void notify_metrics_count(int kind, uint64_t n);

#endif
