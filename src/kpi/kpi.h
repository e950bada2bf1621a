/*
 * kpi.h — indicators over what the runtime measured. Two halves:
 *
 * 1. Rollups (rollup.c). While the runtime folds a subject it collects the subject's facts
 *    (one per decided or finished measurement, one per counted event) in a struct kpi_facts;
 *    kpi_rollup_replace() then subtracts what the subject contributed at its previous fold
 *    (table kpi_subject) from the daily rollups (table kpi_daily) and adds the new facts, in
 *    the caller's transaction. So the rollups stay equal to a full recomputation, also after
 *    late events re-fold a subject, and `smile rebuild` refills them with the same code.
 * 2. Indicators (indicator.c). Reads kpi_daily only — never measurements or events — and
 *    turns the sums and log-bucket histograms into compliance, percentiles, volumes, rates.
 *
 * Flow: runtime fold → kpi_rollup_replace → kpi_daily → kpi_indicator_value / _rows → API,
 * scorecards. Definitions of every indicator: docs/indicators.md.
 */
#ifndef SMILE_KPI_H
#define SMILE_KPI_H

#include <jansson.h>

#include "base/base.h"

struct store;

/* Indicators ----------------------------------------------------------------------------- */

struct kpi_filter {
    const char *staff; /* NULL: any */
    const char *team;
    int64_t process_id; /* 0: any */
    const char *step;
    const char *channel;
    const char *tag; /* customer tag: a tag of the subject's customer (as it was when the
                      * subject folded); cases have no tags of their own */
};

struct kpi_value {
    bool has_data; /* false: nothing was observed (value is 0 then, and means nothing) */
    double value;
    int64_t count; /* observations the value is computed from (its denominator) */
};

/*
 * The value of one indicator over a period. from_day/to_day: "YYYY-MM-DD" inclusive, days in
 * the process calendar's time zone (Asia/Shanghai by default). f may be NULL (no filter).
 * SMILE_EINVAL for an unknown indicator name, a malformed day or from_day after to_day.
 */
int kpi_indicator_value(struct store *s, const char *name, const struct kpi_filter *f,
                        const char *from_day, const char *to_day, struct kpi_value *out,
                        struct smile_err *err);

/* The names kpi_indicator_value accepts, NULL-terminated, and whether higher is better. */
extern const struct kpi_indicator_info {
    const char *name;
    bool higher_is_better;
    const char *unit; /* "ratio", "ms", "count", "score" */
} kpi_indicators[];

/* The entry of kpi_indicators named name, or NULL. */
const struct kpi_indicator_info *kpi_indicator_find(const char *name);

/* How kpi_indicator_rows groups. */
enum kpi_by {
    KPI_BY_NONE,
    KPI_BY_STAFF,
    KPI_BY_TEAM,
    KPI_BY_PROCESS,
    KPI_BY_STEP,
    KPI_BY_CHANNEL,
    KPI_BY_DAY,
    KPI_BY_WEEK, /* ISO weeks, Monday first: "2026-W47" */
    KPI_BY_MONTH,
    KPI_BY_QUARTER,
    KPI_BY_TAG, /* "customer_tag": the customer's tags (a fact counts once under each tag) */
};
/* "staff" … "quarter", "customer_tag" (its older name "tag" too; "" or "none" for
 * KPI_BY_NONE) → enum; false if unknown. kpi_by_name gives the canonical name. */
bool kpi_by_parse(const char *s, enum kpi_by *out);
const char *kpi_by_name(enum kpi_by by);

#define KPI_KEY_MAX 96
struct kpi_row {
    char key[KPI_KEY_MAX]; /* the group: staff name, team, process id, step, channel, "2026-11-05",
                     "2026-W47", "2026-11", "2026-Q4"; "" for KPI_BY_NONE */
    int64_t from_day, to_day; /* the days the row covers (time groups; else the period) */
    struct kpi_value v;
};

/*
 * The indicator grouped by `by` over the days [from, to] (day numbers, inclusive). Time
 * groups (day … quarter) list every period that meets [from, to] in order, clipped to it,
 * also those without data (has_data false), so a chart has no holes; other groups list the
 * keys that have data (has_data), sorted by key. *out (caller frees with free()) gets *n rows.
 * SMILE_EINVAL for an unknown name.
 */
int kpi_indicator_rows(struct store *s, const char *name, enum kpi_by by,
                       const struct kpi_filter *f, int64_t from, int64_t to, struct kpi_row **out,
                       size_t *n, struct smile_err *err);

/*
 * Several indicators in one read of the rollups (what a scorecard or an export needs):
 * groups as kpi_indicator_rows (non-time groups: the keys where any of the indicators has
 * data), and for each group nnames rows, one per name in order: (*out)[i * nnames + k] is
 * names[k] of group i; *n counts groups. 1 ≤ nnames ≤ KPI_MAX_NAMES. Caller frees *out.
 */
#define KPI_MAX_NAMES 32
int kpi_indicator_table(struct store *s, const char *const *names, size_t nnames, enum kpi_by by,
                        const struct kpi_filter *f, int64_t from, int64_t to, struct kpi_row **out,
                        size_t *n, struct smile_err *err);

/*
 * Parses a period: "2026-11-05" (a day), "2026-W47" (ISO week), "2026-11" (month),
 * "2026-Q4" (quarter), "2026" (year) or "2026-11-01..2026-11-15" (inclusive range) into
 * day numbers. SMILE_EINVAL if malformed or the range is reversed or longer than 3 years.
 */
int kpi_period_parse(const char *s, int64_t *from, int64_t *to, struct smile_err *err);

/* Rollups -------------------------------------------------------------------------------- */

/* Columns of kpi_daily that facts add to (docs/indicators.md §2). */
enum kpi_col {
    KPI_MET,
    KPI_BREACHED,
    KPI_EXCLUDED,
    KPI_DONE,       /* measurements fulfilled (state done): volume, elapsed statistics */
    KPI_CANCELLED,  /* measurements cancelled */
    KPI_SUM_MS,     /* sum of elapsed_ms of done measurements */
    KPI_OFFERED,    /* answer-type measurements decided met or breached (abandonment's base) */
    KPI_ABANDONED,  /* … of those, cancelled by call.abandoned */
    KPI_OPENED,     /* measurements started (backlog) */
    KPI_CLOSED,     /* measurements ended (done or cancelled) (backlog) */
    KPI_ANSWERED,   /* call.answered events */
    KPI_REPLIED,    /* email.sent events */
    KPI_VISITS,     /* visit.greeted events */
    KPI_RESOLVED,   /* case.resolved events */
    KPI_CASES,      /* cases resolved for the first time (base of fcr and reopen rate) */
    KPI_FCR,        /* … resolved at first contact */
    KPI_REOPENED,   /* … reopened afterwards */
    KPI_SURVEYS,    /* survey.answered events with a numeric data.score */
    KPI_SURVEY_SUM, /* sum of their scores × 1000 */
    KPI_NCOL
};

/* Histogram: bucket 0 holds 0 ms, bucket b ≥ 1 holds [2^((b-1)/8), 2^(b/8)) ms. A bucket's
 * representative value is its geometric middle 2^((b-1/2)/8), within 2^(1/16) − 1 < 4.45 %
 * of every value in it. */
#define KPI_HIST_BUCKETS 400
int kpi_hist_bucket(int64_t ms);
double kpi_hist_value(int bucket);

struct kpi_facts;

/* An empty collector (one per fold). kpi_facts_free(NULL) is a no-op. */
struct kpi_facts *kpi_facts_new(void);
void kpi_facts_free(struct kpi_facts *kf);

/* One measurement as the runtime wrote it. started_at/done_at: INT64_MIN if none. result and
 * state by name ("met", "done" …); function: the step's function ("answer_call" …);
 * per_agent: the step repeats per agent (charge_to "per"); end_type: the type of the event
 * that ended it (NULL if none); day_of(t): the local day of instant t in the process
 * calendar. Pending measurements (no start) add nothing. */
struct kpi_measurement {
    int64_t process_id;
    const char *step, *function, *channel, *staff, *team, *result, *state, *end_type;
    bool per_agent;
    int64_t started_at, done_at, elapsed_ms;
    int64_t start_day, done_day; /* local days of started_at / done_at */
};
void kpi_facts_add_measurement(struct kpi_facts *kf, const struct kpi_measurement *m);

/* One event of the subject, in (occurred_at, id) order; day: its local day; team: the
 * actor's team ("" if none). Call for every event of the subject, in order, then
 * kpi_facts_end_events(). */
struct kpi_event {
    const char *type, *actor, *team, *channel;
    json_t *data; /* borrowed, may be NULL */
    int64_t day;
};
void kpi_facts_add_event(struct kpi_facts *kf, const struct kpi_event *e);
/* The tags of the subject's customer (copied): every fact is also counted under each. */
void kpi_facts_set_tags(struct kpi_facts *kf, const char *const *tags, size_t n);
/* Does an event of this type count for its actor (so the caller should look up the team)? */
bool kpi_event_counted(const char *type);
void kpi_facts_end_events(struct kpi_facts *kf);

/*
 * Replaces what subject contributed to kpi_daily with kf, inside the caller's open
 * transaction: subtracts the facts stored in kpi_subject at the previous fold, adds kf's,
 * stores kf's. Touches only the rows whose sums change (a re-fold that changes nothing
 * decided writes nothing). SMILE_EDB on a database error.
 */
int kpi_rollup_replace(struct store *s, const char *subject, struct kpi_facts *kf,
                       struct smile_err *err);

/*
 * The same in two halves, for a transaction that folds many subjects: kpi_rollup_stage()
 * stores the subject's facts and adds its changes to b; kpi_batch_apply() writes the summed
 * changes (each kpi_daily / kpi_open row once) and empties b — call it before the commit. On
 * a rollback, kpi_batch_reset() drops what was staged.
 */
struct kpi_batch;
struct kpi_batch *kpi_batch_new(void);
void kpi_batch_free(struct kpi_batch *b);
void kpi_batch_reset(struct kpi_batch *b);
int kpi_rollup_stage(struct store *s, const char *subject, struct kpi_facts *kf,
                     struct kpi_batch *b, struct smile_err *err);
int kpi_batch_apply(struct store *s, struct kpi_batch *b, struct smile_err *err);

/* Deletes every rollup (smile rebuild, before re-folding). */
int kpi_rollup_clear(struct store *s, struct smile_err *err);

/*
 * Checks kpi_daily against a full recomputation from kpi_subject (every stored fact summed
 * again): true if equal. For tests (the invariant of the incremental maintenance).
 */
int kpi_rollup_check(struct store *s, bool *out_ok, struct smile_err *err);

/*
 * Was subject counted under the customer tag at its last fold (its customer had the tag
 * then: the facts kpi_subject keeps for it include tag's copies)? *out false for a subject
 * never folded. So a list of measurements can be cut to a customer-tag slice exactly as the
 * rollups count it (the scorecard drill-down). SMILE_OK or a database error.
 */
int kpi_subject_tagged(struct store *s, const char *subject, const char *tag, bool *out,
                       struct smile_err *err);

#endif
