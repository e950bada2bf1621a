/*
 * ledger.h — the event ledger: the append-only, idempotent, durable record of every fact
 * Smile knows (a call offered, an email received, a case assigned …). Sources and the API
 * hand it validated events; it writes them through one dedicated writer connection with
 * group commit (concurrent appends share one transaction), answers each caller only after
 * COMMIT, and then tells its subscribers (engine, scheduler) which events were committed.
 * Other parts that emit events inside their own transaction (the CRM) use
 * ledger_append_in_tx() and ledger_notify() instead. Owner of the `events` table.
 *
 * Flow: api/events.c → ledger_batch_parse() (validation, pure) → ledger_append() (blocks
 * until durable) → post-commit hooks → engine.
 *
 * Event record (table `events`, one row per event; see docs/events.md):
 *
 *   field        type     rule
 *   id           int64    assigned by the ledger, increasing
 *   type         text     a known type (ledger_type_known) or custom.<name>
 *   occurred_at  int64 ms source time, UTC, years 2000–2100
 *   received_at  int64 ms when the ledger accepted it
 *   subject      text     kind:key, 1–200 characters ("call:1700000000.123", "case:42")
 *   actor        text?    staff username, 1–64 characters
 *   customer     text?    customer id, 1–128 characters
 *   channel      text     phone|email|counter|web|system (default from the type's prefix)
 *   source       text     who sent it; "api" when only source_id is given; "auto" when
 *                         neither is given (then source_id is generated and unique)
 *   source_id    text     the idempotency key within source, 1–200 characters
 *   data         text     a JSON object, canonical (compact, keys sorted), ≤ 16 KiB
 */
#ifndef SMILE_LEDGER_H
#define SMILE_LEDGER_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct store_pool;
struct ledger;

#define LEDGER_MAX_BATCH 10000        /* events in one request */
#define LEDGER_MAX_DATA 16384         /* bytes of canonical data JSON */
#define LEDGER_MAX_SUBJECT 200        /* characters (UTF-8 code points) */
#define LEDGER_MAX_SOURCE_ID 200      /* characters */
#define LEDGER_MAX_SOURCE 64          /* bytes, [a-z0-9_.:-] */
#define LEDGER_MAX_ACTOR 64           /* characters */
#define LEDGER_MAX_CUSTOMER 128       /* characters */
#define LEDGER_MAX_TYPE 64            /* bytes */
#define LEDGER_SOURCE_AUTO "auto"     /* reserved: events that came without an idempotency key */
#define LEDGER_SOURCE_DEFAULT "api"   /* source when only source_id is given */
#define LEDGER_MIN_TIME 946684800000  /* 2000-01-01T00:00:00Z */
#define LEDGER_MAX_TIME 4133980800000 /* 2101-01-01T00:00:00Z, exclusive */

/*
 * One event. Every string is borrowed: it must stay valid until the call that takes the
 * event returns (ledger_append blocks until commit, so the caller's storage suffices).
 * actor and customer may be NULL. channel NULL means "derive from type". source and
 * source_id both NULL means "generate a unique key" (source "auto"); source_id alone
 * means source "api". data NULL means "{}"; otherwise it must already be canonical JSON
 * of an object (ledger_batch_parse produces that; ledger_event_check verifies it).
 */
struct ledger_event {
    const char *type;
    int64_t occurred_at;
    const char *subject;
    const char *actor;
    const char *customer;
    const char *channel;
    const char *source;
    const char *source_id;
    const char *data;
};

/* Events parsed from a request body; owns everything the events point into. */
struct ledger_batch {
    struct ledger_event *evs;
    size_t n;
    bool is_batch; /* the body was {"events": […]} rather than one event */
    json_t *body;  /* the parsed body, referenced */
    char **datas;  /* canonical data strings, one per event (NULL = "{}") */
};

/* Per-event outcome of an append. */
enum ledger_status { LEDGER_CREATED = 1, LEDGER_DUPLICATE = 2 };
struct ledger_result {
    int64_t id;
    enum ledger_status status;
};

/* What the post-commit hooks see: the event (borrowed for the call) and its id. */
struct ledger_committed {
    int64_t id;
    const struct ledger_event *ev;
};
/*
 * Called after a transaction with new events committed, outside any transaction, with
 * the events it created (duplicates are not repeated). Runs on the ledger's completer
 * thread (after the commit was also synced) or on the thread that called
 * ledger_notify(), so it must be thread-safe and quick; it may see an event more than
 * once (at-least-once) and must tolerate that.
 */
typedef void ledger_commit_fn(const struct ledger_committed *evs, size_t n, void *ud);

/* Validation (pure: no I/O, no clock) ----------------------------------------------- */

/* True if type is one of the known event types (not custom.*). */
bool ledger_type_known(const char *type);
/* "phone", "email", "counter", "web" or "system" for a type's prefix (custom → system). */
const char *ledger_channel_default(const char *type);

/*
 * Parses a request body: either one event object or {"events": [ … ]} with 1 to
 * LEDGER_MAX_BATCH events. Every bad field is reported with its JSON Pointer
 * ("/events/3/occurred_at" or "/occurred_at") in err (SMILE_EINVAL); more than
 * LEDGER_MAX_BATCH events is SMILE_ETOOBIG. On success fills *out (free it with
 * ledger_batch_free, which is a no-op on a zeroed batch); on failure *out is left zeroed.
 */
int ledger_batch_parse(json_t *body, struct ledger_batch *out, struct smile_err *err);
void ledger_batch_free(struct ledger_batch *b);

/*
 * Validates one event object at JSON Pointer prefix ptr ("" or "/events/3"). On success
 * *out points into obj and *out_data (caller frees) holds the canonical data JSON or
 * NULL. Problems are added to err; returns SMILE_OK or SMILE_EINVAL.
 */
int ledger_event_parse(const json_t *obj, const char *ptr, struct ledger_event *out,
                       char **out_data, struct smile_err *err);

/*
 * The canonical text of a JSON object (compact, keys sorted at every level, reals in
 * their shortest round-trip form) as the ledger stores data; caller frees. NULL if obj is
 * not an object or its text exceeds LEDGER_MAX_DATA. For parts that build events in C.
 */
char *ledger_data_canonical(const json_t *obj);

/*
 * Checks an event built in C (the in-transaction path) against the same rules;
 * SMILE_EINVAL with the field in err.
 */
int ledger_event_check(const struct ledger_event *ev, struct smile_err *err);

/*
 * Renders a stored event as the API's JSON object (id, type, occurred_at, received_at,
 * subject, actor, customer, channel, source, source_id, data). data_json is the stored
 * canonical text. Returns a new reference.
 */
json_t *ledger_event_json(int64_t id, const struct ledger_event *ev, int64_t received_at,
                          const char *data_json);

/* Durable append (the writer) ---------------------------------------------------------- */

struct ledger_options {
    size_t queue_max; /* events waiting at most; more → SMILE_EBUSY (default 50000) */
    size_t group_max; /* events per group commit at most (default 20000) */
    /*
     * Longest wait, in microseconds, for the requesters of the previous group to come back
     * before a group is written (default 2000; it never exceeds the previous commit's
     * duration). Negative disables the wait: each group is what queued during the last
     * commit. See append.c.
     */
    int window_us;
    /*
     * When set, the writer is a member of this pool's group commit (store_pool_open_member):
     * every writer of the process then shares one write lock and one fsync instead of
     * contending for SQLite's file lock. NULL: a standalone writer connection.
     */
    struct store_pool *pool;
};

struct ledger_stats {
    uint64_t groups;     /* groups the committer wrote (counted once answered) */
    uint64_t requests;   /* ledger_append calls answered */
    uint64_t created;    /* events created */
    uint64_t duplicates; /* events answered as duplicates */
    uint64_t retries;    /* groups retried one request at a time after an error */
    uint64_t busy;       /* appends refused because the queue was full */
    uint64_t waits;      /* groups that waited in the window for more requests */
    uint64_t wait_ns;    /* time spent waiting in the window */
    uint64_t commit_ns;  /* time spent writing and committing groups */
    size_t queued;       /* events waiting now */
    size_t syncing;      /* requests written and committed, waiting for the sync and hooks */
};

/*
 * Opens the ledger on the database at db_path (already migrated): its own writer
 * connection, a committer thread (writes and commits) and a completer thread (waits for the
 * sync, calls the hooks, answers). opt may be NULL for the defaults. Free with
 * ledger_close(), which finishes queued appends first.
 */
int ledger_open(const char *db_path, const struct ledger_options *opt, struct ledger **out,
                struct smile_err *err);
void ledger_close(struct ledger *l);

/*
 * Appends n events (already validated) and blocks until the transaction holding them has
 * committed and is on disk; concurrent callers share transactions (group commit). All n
 * are written or none. out[i] gets each event's id and whether it was created or a
 * duplicate of an earlier event with the same (source, source_id), in this call or
 * before. Results: SMILE_OK; SMILE_EBUSY when the queue is full (try again later);
 * SMILE_ETOOBIG when n exceeds the queue; SMILE_EDB/SMILE_EINVAL when the database refused
 * this request (other requests of the same group are not affected).
 */
int ledger_append(struct ledger *l, const struct ledger_event *evs, size_t n,
                  struct ledger_result *out, struct smile_err *err);

/*
 * The same without blocking, for a transport that can park a request (libmicrohttpd's
 * suspend/resume): SMILE_OK means queued, and done(rc, ud) is then called exactly once,
 * on the completer thread and outside the ledger's locks, after the transaction holding
 * the events committed and was synced (rc SMILE_OK, out[] filled) or failed (rc and err
 * filled). evs, the strings they point to, out and err must stay valid until done is
 * called. SMILE_EBUSY and SMILE_ETOOBIG are returned at once and done is not called. With
 * n == 0, done(SMILE_OK) is called at once on the caller's thread. done must be quick (the
 * next group's answers wait for it); it may append again.
 */
typedef void ledger_done_fn(int rc, void *ud);
int ledger_append_async(struct ledger *l, const struct ledger_event *evs, size_t n,
                        struct ledger_result *out, struct smile_err *err, ledger_done_fn *done,
                        void *ud);

/*
 * Appends one event inside the caller's open transaction on s (CRM actions write the
 * event with the change it records). The event is checked first (SMILE_EINVAL). A
 * duplicate (source, source_id) is not an error: *out_id is the existing event's id.
 * After the caller's COMMIT succeeds it calls ledger_notify() with what it appended.
 */
int ledger_append_in_tx(struct store *s, const struct ledger_event *ev, int64_t *out_id,
                        struct smile_err *err);

/* Registers a post-commit hook (at most 8). Register before appends begin. */
void ledger_on_commit(struct ledger *l, ledger_commit_fn *fn, void *ud);
/* Calls the post-commit hooks with events committed by the caller's own transaction. */
void ledger_notify(struct ledger *l, const struct ledger_committed *evs, size_t n);

void ledger_stats(struct ledger *l, struct ledger_stats *out);
/* Appends the statistics as Prometheus text (smile_ledger_* counters and gauges) to b. */
void ledger_metrics_render(struct ledger *l, struct buf *b);

/*
 * Checks the ledger's queue invariants (counts match the queued requests, no request is
 * both queued and done); returns SMILE_OK or SMILE_EINTERNAL with a message. For tests.
 */
int ledger_check(struct ledger *l, struct smile_err *err);

/* Reading (api/events.c) --------------------------------------------------------------- */

struct ledger_query {
    const char *subject; /* NULL = any */
    const char *type;    /* NULL = any */
    int64_t from;        /* occurred_at >= from (INT64_MIN = no bound) */
    int64_t to;          /* occurred_at < to (INT64_MAX = no bound) */
    int64_t after_at;    /* cursor: rows after (after_at, after_id) in (occurred_at, id) order */
    int64_t after_id;
    bool has_cursor;
    int limit; /* 1–500 */
};

/*
 * Lists events matching q in (occurred_at, id) order into *out (a JSON array, caller
 * owns). *out_more says whether another page follows; then the last element's
 * occurred_at and id form the next cursor (ledger_cursor_format).
 */
int ledger_list(struct store *s, const struct ledger_query *q, json_t **out, bool *out_more,
                int64_t *out_last_at, int64_t *out_last_id, struct smile_err *err);
/* Loads one event as JSON; SMILE_ENOTFOUND if there is none. */
int ledger_get(struct store *s, int64_t id, json_t **out, struct smile_err *err);

/* Cursor text "<occurred_at>.<id>" ↔ values; parse returns SMILE_EINVAL if malformed. */
void ledger_cursor_format(int64_t at, int64_t id, char *out, size_t cap);
int ledger_cursor_parse(const char *s, int64_t *out_at, int64_t *out_id);

/* Erasure (erase.c): the one exception to append-only, PIPL Art. 47 ----------------- */

#define LEDGER_CALLER_MAX 40  /* bytes of one caller-number form, with the NUL */
#define LEDGER_CALLER_FORMS 5 /* forms of one stored phone (ledger_erase_caller_forms) */

/* What ties stored events to one customer; every string is borrowed. */
struct ledger_erase_scope {
    const char *customer;        /* the customer id as text: events whose customer it is */
    const char *const *subjects; /* subjects that concern the customer ("case:42", threads) */
    size_t nsubjects;
    const char *const *callers; /* caller numbers as a source reports them (customer column) */
    size_t ncallers;
    /* the customer's own values (name, e-mail addresses, phone forms, ID number): any other
     * string of those events that contains one (ignoring ASCII case) is erased too, keys
     * the engine reads excepted; values shorter than LEDGER_ERASE_VALUE_MIN bytes are not
     * looked for */
    const char *const *values;
    size_t nvalues;
};

struct ledger_erase_counts {
    int64_t subjects;     /* subjects walked */
    int64_t events;       /* events read on them */
    int64_t erased;       /* events rewritten */
    int64_t values;       /* values replaced by "(erased)" (a caller number in customer counts 1) */
    int64_t measurements; /* measurements whose customer column held a caller number */
};

/*
 * True if the data key holds personal information in an event of this type (the table in
 * erase.c: caller*, phone*, *_name, subject, body …; from and to of email.* events only).
 */
bool ledger_erase_key_personal(const char *type, const char *key);

/*
 * Pure: replaces every personal value of an event's data object in place by "(erased)",
 * keeping keys and shape (strings inside arrays and objects under a personal key; a number
 * directly under one). Returns how many values were replaced (0: nothing personal).
 */
int ledger_erase_data(json_t *data, const char *type);

#define LEDGER_ERASE_VALUE_MIN 4 /* bytes: "Wang", 王五 (6), not "Li" */

/*
 * ledger_erase_data(), and also every string elsewhere in data (at any depth) that contains
 * one of the values, ignoring ASCII case — a custom field such as "contact_person": "王五"
 * or a note quoting the phone — except under the keys the engine and kpi read (agent,
 * assignee, by, desk, member, priority, queue, staff, status, team, type, case_type).
 */
int ledger_erase_data_values(json_t *data, const char *type, const char *const *values,
                             size_t nvalues);

/*
 * Rewrites, on s inside the caller's transaction, every event on the scope's subjects and
 * on the subjects of events whose customer column is the customer or one of the callers:
 * data through ledger_erase_data(), and a customer column holding a caller number becomes
 * "(erased)". Type, times, subject, actor, channel, source and the customer id are kept,
 * so folds, rollups and `smile rebuild` give the same measurements. Uses the
 * events_customer and events_subject indexes only. Fills *out; SMILE_OK or SMILE_EDB.
 */
int ledger_erase(struct store *s, const struct ledger_erase_scope *sc,
                 struct ledger_erase_counts *out, struct smile_err *err);

/*
 * The forms a PBX may report a stored (normalised, docs/crm.md) phone in: itself, with a
 * trunk 0 (mobile), +86 / 0086 / 86 before the national number, 00 for a foreign +number.
 * Fills forms[0..*n-1] (at most LEDGER_CALLER_FORMS).
 */
void ledger_erase_caller_forms(const char *phone, char forms[][LEDGER_CALLER_MAX], int *n);

/*
 * Registers the CRM erase hook (crm_customer_erase_counted_hook_add) that erases, in the
 * anonymisation's transaction, the events of the customer's phones, cases and mail
 * threads, and reports its counts into the anonymisation's audit row. Call at start-up.
 */
void ledger_erase_install(void);

#endif
