/*
 * engine.h — service processes and the fold that measures them (pure). A process is a
 * versioned JSON document: a trigger (event type + filter) and steps, each with clock
 * conditions (starts/done/pauses/resumes/cancels/resets on events or on other steps), a
 * standard ("3 rings", "24h", "3 business days"), warning points and whom it is charged
 * to. engine_process_compile() validates a document into an immutable struct
 * engine_process; engine_fold() takes the ordered events of one subject and yields per
 * step occurrence its state, clock, deadline, result, owner segments and the log of metric
 * events. The live path, `smile rebuild` and the what-if replay all call engine_fold():
 * no I/O, no clock reads, no globals. Sits above calendar and base, below kpi and api.
 *
 * Business time comes through struct engine_calendar, a small function table; bind a
 * struct calendar with engine_calendar_bind() (engine_calendar.c) or use the built-in
 * always-open table from engine_calendar_wall(). See docs/processes.md.
 */
#ifndef SMILE_ENGINE_H
#define SMILE_ENGINE_H

#include <jansson.h>

#include "base/base.h"
#include "calendar/calendar.h"

#define ENGINE_MAX_STEPS 32         /* steps per process */
#define ENGINE_MAX_MATCHERS 16      /* matchers per clock condition */
#define ENGINE_MAX_WHERE 16         /* field tests per matcher */
#define ENGINE_MAX_PATH 8           /* segments of a field path (data.a.b…) */
#define ENGINE_MAX_IN 64            /* values of an "in" list */
#define ENGINE_MAX_WARN 8           /* warning points per step */
#define ENGINE_MAX_TYPES 256        /* distinct event types named by one process */
#define ENGINE_MAX_DOC (256 * 1024) /* bytes of a process document */
#define ENGINE_MAX_ESCALATE 8       /* escalation rules per step */

/* "No such instant" (a paused clock has no deadline; a pending step no start). */
#define ENGINE_NO_TIME INT64_MIN

/* Input ---------------------------------------------------------------------------------- */

/*
 * One event as the engine sees it (the ledger converts its rows to this). All pointers are
 * borrowed from the caller and must outlive the fold's result, which points into them.
 * actor, customer, channel may be NULL; data may be NULL (treated as {}).
 */
struct engine_event {
    int64_t id;
    const char *type;    /* "call.offered" … */
    int64_t occurred_at; /* ms since the epoch, UTC */
    const char *subject; /* "call:8812", "case:41" … */
    const char *actor;   /* staff id or NULL */
    const char *customer;
    const char *channel;
    json_t *data; /* borrowed */
};

/* Calendar binding ------------------------------------------------------------------------ */

/*
 * The business-time arithmetic the fold needs. add/diff/ring_ms mean what calendar_add,
 * calendar_diff and calendar_ring_ms mean; ctx is passed back unchanged.
 */
struct engine_calendar {
    const void *ctx;
    int64_t (*add)(const void *ctx, int64_t start_ms, int64_t amount, enum calendar_unit unit);
    int64_t (*diff)(const void *ctx, int64_t from_ms, int64_t to_ms);
    int64_t (*ring_ms)(const void *ctx, int64_t at_ms);
};

/*
 * An always-open calendar: business time equals wall time, a business day is 24 h, and
 * a ring lasts *ring_ms (default 5000 if ring_ms points to 0). The returned table points at
 * ring_ms, which must outlive it. Pure; no allocation.
 */
struct engine_calendar engine_calendar_wall(const int64_t *ring_ms);
/* Binds a struct calendar (engine_calendar.c; links the calendar part). cal is borrowed. */
struct engine_calendar engine_calendar_bind(const struct calendar *cal);

/* Durations ------------------------------------------------------------------------------ */

enum engine_dur_unit {
    ENGINE_DUR_MS,            /* "500ms" */
    ENGINE_DUR_S,             /* "5s" */
    ENGINE_DUR_MIN,           /* "30m", "30min" */
    ENGINE_DUR_H,             /* "24h" */
    ENGINE_DUR_D,             /* "2d": wall days of 24 h */
    ENGINE_DUR_RINGS,         /* "3 rings": × ring_ms of the calendar at the start */
    ENGINE_DUR_BUSINESS_MIN,  /* "30 business minutes" */
    ENGINE_DUR_BUSINESS_H,    /* "4 business hours" */
    ENGINE_DUR_BUSINESS_DAYS, /* "3 business days": same local time N working days on */
};

struct engine_duration {
    int64_t amount;
    enum engine_dur_unit unit;
};

/*
 * Parses "5s", "500ms", "30m", "30 min", "24h", "2d", "3 rings", "1 ring",
 * "4 business hours", "30 business minutes", "3 business days" (also the long forms
 * "seconds", "minutes", "hours", "days"). The amount is a whole number, 0 … 10 years.
 * Returns SMILE_EINVAL on anything else.
 */
int engine_duration_parse(const char *s, struct engine_duration *out);
/* Writes the canonical form ("5s", "3 rings", "3 business days") into out (>= 48 bytes). */
void engine_duration_format(struct engine_duration d, char *out, size_t outlen);
/* Milliseconds for fixed units (ms … d, business minutes/hours); -1 for rings and
 * business days, which depend on the calendar. */
int64_t engine_duration_ms(struct engine_duration d);

/* Processes ------------------------------------------------------------------------------ */

struct engine_process;

enum engine_charge {
    ENGINE_CHARGE_ACTOR,    /* the actor of the event that finished the step */
    ENGINE_CHARGE_SEGMENTS, /* the owners who held the running clock, by time held */
    ENGINE_CHARGE_TEAM,     /* the team that owned the step when it ended */
    ENGINE_CHARGE_PER,      /* whom the occurrence is per (repeat "per", e.g. data.agent) */
};

/*
 * Validates a process document and compiles it. On success *out holds one reference
 * (release with engine_process_unref). On failure returns SMILE_EINVAL (or
 * SMILE_EMALFORMED for JSON syntax, SMILE_ETOOBIG over ENGINE_MAX_DOC) and err lists
 * every problem found with its JSON Pointer ("/steps/2/standard/within": "bad
 * duration …"). Never aborts on bad input.
 */
int engine_process_compile(const char *json, size_t len, struct engine_process **out,
                           struct smile_err *err);
/* Same, from an already parsed document (borrowed). */
int engine_process_compile_json(json_t *doc, struct engine_process **out, struct smile_err *err);
struct engine_process *engine_process_ref(struct engine_process *p);
/* Drops one reference; the last frees. NULL is a no-op. The count is atomic, so threads
 * may share a compiled process, each holding its own reference; the process itself is
 * immutable and a fold only reads it. */
void engine_process_unref(struct engine_process *p);

/*
 * The canonical serialisation: compact JSON, keys sorted, every default spelled out,
 * durations in canonical form. Compiling it yields the same canonical text again.
 * Returns a malloc'd string (free()).
 */
char *engine_process_to_json(const struct engine_process *p);

const char *engine_process_name(const struct engine_process *p);
const char *engine_process_calendar(const struct engine_process *p);
int engine_process_version(const struct engine_process *p); /* 0 if the doc has none */
/* "published_at" of the document in ms, ENGINE_NO_TIME if absent. */
int64_t engine_process_published_at(const struct engine_process *p);
size_t engine_process_nsteps(const struct engine_process *p);
/* Index of the step with this key, or -1. */
int engine_process_step_find(const struct engine_process *p, const char *key);
/* Key, English title and function of step i (borrowed from p). */
const char *engine_process_step_key(const struct engine_process *p, size_t i);
const char *engine_process_step_title(const struct engine_process *p, size_t i, const char *lang);
const char *engine_process_step_function(const struct engine_process *p, size_t i);
enum engine_charge engine_process_step_charge(const struct engine_process *p, size_t i);

/*
 * Escalation rules of a step ("escalate": [{"on", "at"?, "do", "to"?}], docs/processes.md).
 * They are part of the process version and of its canonical form, but the fold ignores
 * them: the notify part runs them when sla.warning / sla.breached events are committed.
 *
 *   on       | at                           | do                | to
 *   ---------+------------------------------+-------------------+-------------------------------
 *   warning  | warning index, absent = any  | notify_assignee   | (none)
 *   breach   | (not allowed)                | notify_supervisor | (none)
 *            |                              | reassign          | "supervisor" | "team:NAME"
 *            |                              | raise_priority    | absent (one level) | priority
 */
enum engine_esc_on { ENGINE_ESC_ON_WARNING, ENGINE_ESC_ON_BREACH };
enum engine_esc_do {
    ENGINE_ESC_NOTIFY_ASSIGNEE,
    ENGINE_ESC_NOTIFY_SUPERVISOR,
    ENGINE_ESC_REASSIGN,
    ENGINE_ESC_RAISE_PRIORITY,
};
struct engine_escalation {
    enum engine_esc_on on;
    int at; /* warning index (0 = the step's first warn_at point); -1 = any */
    enum engine_esc_do action;
    const char *to; /* see the table; NULL if absent */
};

/* The rules of step i in document order (borrowed from p); *out NULL and 0 if none. */
size_t engine_process_step_escalations(const struct engine_process *p, size_t i,
                                       const struct engine_escalation **out);
/*
 * Selects the rules of step i that apply to one fired deadline: breach true for a breach,
 * else the warning with index warn_idx. Writes up to max rule indices (into the array of
 * engine_process_step_escalations) in document order to out; returns how many apply.
 */
size_t engine_escalations_select(const struct engine_process *p, size_t i, bool breach,
                                 int warn_idx, uint32_t *out, size_t max);
/* "warning"/"breach" and "notify_assignee"… for rendering. */
const char *engine_esc_on_name(enum engine_esc_on on);
const char *engine_esc_do_name(enum engine_esc_do d);

/* Does ev start an instance of p (trigger type and filter)? */
bool engine_process_triggers(const struct engine_process *p, const struct engine_event *ev);
/* occurred_at of the first of events[0..n) that triggers p, or ENGINE_NO_TIME. */
int64_t engine_process_trigger_at(const struct engine_process *p, const struct engine_event *ev,
                                  size_t n);

/*
 * Version pinning. versions[] are the published versions of one process (any order),
 * each with "published_at". Returns the version in force at the instant the subject's
 * instance was triggered: the one with the latest published_at <= that version's own
 * trigger time (ties: the higher version). An instance triggered under v1 therefore keeps
 * v1 after v2 is published. NULL if no version had been published when it was triggered.
 * Borrowed from versions[].
 */
struct engine_process *engine_process_pick(struct engine_process *const *versions, size_t n,
                                           const struct engine_event *ev, size_t nev);
/* The version in force at at_ms (latest published_at <= at_ms), or NULL. */
struct engine_process *engine_process_at(struct engine_process *const *versions, size_t n,
                                         int64_t at_ms);

/* The four built-in processes as JSON documents (static strings). */
const char *engine_default_hotline_json(void);
const char *engine_default_email_json(void);
const char *engine_default_counter_json(void);
const char *engine_default_complaint_json(void);

/* The fold ------------------------------------------------------------------------------- */

/*
 * States of a step occurrence:
 *
 *   state      | clock    | entered by
 *   -----------+----------+---------------------------------------------------
 *   pending    | -        | not started yet (non-repeat steps only)
 *   running    | counting | starts_on, resumes_on, resets_on
 *   paused     | stopped  | pauses_on while running
 *   done       | stopped  | done_on while running or paused (final)
 *   cancelled  | stopped  | cancels_on while running or paused (final)
 */
enum engine_state {
    ENGINE_PENDING,
    ENGINE_RUNNING,
    ENGINE_PAUSED,
    ENGINE_DONE,
    ENGINE_CANCELLED,
};

enum engine_outcome {
    ENGINE_OPEN,     /* still counting (or pending) and not past its deadline */
    ENGINE_MET,      /* done within the standard */
    ENGINE_BREACHED, /* past the standard: done late, open past deadline, cancelled late */
    ENGINE_EXCLUDED, /* cancelled and not counted (short abandon) */
};

enum engine_metric_kind {
    ENGINE_METRIC_ACTIVATE,
    ENGINE_METRIC_PAUSE,
    ENGINE_METRIC_RESUME,
    ENGINE_METRIC_RESET,
    ENGINE_METRIC_WARN,
    ENGINE_METRIC_BREACH,
    ENGINE_METRIC_FULFIL,
    ENGINE_METRIC_CANCEL,
};

/* A stretch of running clock held by one owner. ms is counted in the step's clock (business
 * ms for business standards, wall ms otherwise); the ms of an occurrence sum to elapsed. */
struct engine_segment {
    const char *actor; /* borrowed from the events; NULL if nobody held it */
    const char *team;
    int64_t from, to, ms;
};

/* One entry of the measurement log, as Zendesk's metric events. */
struct engine_metric {
    enum engine_metric_kind kind;
    uint32_t occ;     /* index into result->occ */
    int64_t at;       /* instant (a breach or warning at its deadline, not at an event) */
    int64_t event_id; /* the event that caused it; 0 for breach/warn */
};

struct engine_occ {
    uint32_t step; /* index of the step in the process */
    uint32_t seq;  /* 0, 1, 2 … occurrence number within a repeat step */
    enum engine_state state;
    enum engine_outcome result;
    bool business;       /* clock counts business ms */
    const char *per;     /* value of the repeat "per" field (borrowed), or NULL */
    int64_t started_at;  /* ENGINE_NO_TIME while pending */
    int64_t ended_at;    /* done or cancel instant, else ENGINE_NO_TIME */
    int64_t elapsed_ms;  /* clock ms, pauses excluded; for open clocks as of as_of */
    int64_t target_ms;   /* the standard in clock ms (rings and business days resolved) */
    int64_t deadline;    /* breach instant; ENGINE_NO_TIME unless running */
    int64_t breached_at; /* when the clock passed the standard, or ENGINE_NO_TIME */
    uint32_t nwarn;
    int64_t warn_at[ENGINE_MAX_WARN]; /* warning instants; ENGINE_NO_TIME if not yet known */
    const char *charged_actor;        /* borrowed; see enum engine_charge */
    const char *charged_team;
    int64_t start_event_id, end_event_id;
    uint32_t seg_first, nseg; /* range of result->seg */
    /* Fold-internal bookkeeping (meaningless to callers). */
    int64_t run_from, elapsed_before, seg_from;
    int64_t warn_el[ENGINE_MAX_WARN];
    int32_t seg_head, seg_tail;
    uint32_t warn_logged;
};

/*
 * The fold's output. Reusable: engine_result_init() once, then any number of folds, each
 * of which resets it; arrays grow as needed and are kept, so a warm result folds without
 * allocating. occ[] is ordered by step, then seq; seg[] by occurrence then time; log[] by
 * time (ties in causal order). Strings point into the events.
 */
struct engine_result {
    const struct engine_process *process; /* borrowed */
    bool started;                         /* the trigger was seen */
    int64_t trigger_event_id, started_at, as_of;
    struct engine_occ *occ;
    uint32_t nocc, cap_occ;
    struct engine_segment *seg;
    uint32_t nseg, cap_seg;
    struct engine_metric *log;
    uint32_t nlog, cap_log;
    /* scratch */
    struct engine_segment *tmp_seg;
    int32_t *seg_next;
    uint32_t cap_tmp;
    uint32_t *order;
    uint32_t cap_order;
    struct engine_occ *tmp_occ;
    uint32_t cap_tmp_occ;
};

void engine_result_init(struct engine_result *r);
void engine_result_free(struct engine_result *r);

/*
 * Folds the events of one subject, ordered by (occurred_at, id), through process p.
 * The instance starts at the first event that triggers p; earlier events only set the
 * owner. Open clocks are measured as of as_of (pass the scheduler's "now", or the end of
 * the replayed period): a running clock whose deadline is before as_of is breached as of
 * then. Fills r (previous contents are discarded); r then borrows p and the events' strings,
 * so keep both alive while reading it. cal is only used during the call. Returns SMILE_OK,
 * or SMILE_EINVAL if events are not sorted (nothing is folded then).
 */
int engine_fold(const struct engine_process *p, const struct engine_calendar *cal,
                const struct engine_event *events, size_t n, int64_t as_of,
                struct engine_result *r);

/* Sorts events by (occurred_at, id) in place (for late arrivals before a re-fold). */
void engine_events_sort(struct engine_event *events, size_t n);

/* Serialises a result (instance, steps with occurrences, segments, log) as JSON. New
 * reference. Times are RFC 3339 strings, ENGINE_NO_TIME is null. */
json_t *engine_result_to_json(const struct engine_result *r);

/*
 * The next instant the scheduler must wake this instance: the earliest warning or breach
 * of a running clock that as_of has not yet passed. Returns ENGINE_NO_TIME if none; else
 * sets *occ (index into r->occ) and *kind (ENGINE_METRIC_WARN or ENGINE_METRIC_BREACH).
 * Either out pointer may be NULL.
 */
int64_t engine_result_next_due(const struct engine_result *r, uint32_t *occ,
                               enum engine_metric_kind *kind);

/* Checks the result's invariants (segments sum to elapsed, log sorted, states coherent). */
bool engine_result_check(const struct engine_result *r);

const char *engine_state_name(enum engine_state s);
const char *engine_outcome_name(enum engine_outcome o);
const char *engine_metric_name(enum engine_metric_kind k);

#endif
