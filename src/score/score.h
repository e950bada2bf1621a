/*
 * score.h — scorecards: templates per role (weighted indicator items with floor, target,
 * direction and a critical flag), evaluations per person per period (draft → published →
 * frozen, ranked within team and role), the measurements behind an item (drill-down),
 * exports (CSV, XLSX) and the monthly digest per supervisor. Item values come only from
 * the kpi part (kpi_indicator_value); this part never computes an indicator itself.
 *
 * The first half of this header is pure (no I/O, no clock): periods, item points, the
 * total and the ranking, unit-tested with hand-worked numbers. The second half reads and
 * writes the tables of 0008_score.sql, of which this part is the only owner.
 */
#ifndef SMILE_SCORE_H
#define SMILE_SCORE_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct audit_who;

/* Pure: periods -------------------------------------------------------------------------- */

enum score_period_kind { SCORE_PERIOD_MONTH, SCORE_PERIOD_WEEK, SCORE_PERIOD_QUARTER };

/* A reporting period: a calendar month "2026-11", an ISO week "2026-W48" (Monday to
   Sunday) or a quarter "2026-Q4"; from_day and to_day are day numbers (days since
   1970-01-01, see time_days_from_civil), both included. */
struct score_period {
    int kind;
    char name[32];
    int64_t from_day, to_day;
};

/* Parses a period name; SMILE_EINVAL with a message for anything else (2026-13, 2026-W54
   in a 52-week year, 2026-Q5 …). */
int score_period_parse(const char *s, struct score_period *out, struct smile_err *err);
/* The period of the same kind that holds day (a day number). */
void score_period_containing(int kind, int64_t day, struct score_period *out);
/* The period of the same kind just before p. */
void score_period_prev(const struct score_period *p, struct score_period *out);
/* "month", "week", "quarter" ↔ kind; -1 for an unknown name. */
const char *score_period_kind_name(int kind);
int score_period_kind_parse(const char *s);

/* Pure: scoring ------------------------------------------------------------------------- */

/* One item of a template, as the arithmetic sees it. Higher is better when target > floor,
   lower is better when target < floor (floor == target is refused by validation). */
struct score_item_def {
    double weight; /* > 0 */
    double floor;
    double target;
    bool critical;
};

/* An indicator value as the kpi part returns it. */
struct score_value {
    bool has_data;
    double value;
    int64_t count;
};

enum score_item_status {
    SCORE_ITEM_SCORED,
    SCORE_ITEM_NO_DATA, /* no measurement behind the value: left out of the total */
};

struct score_item_result {
    int status;
    double points;    /* 0–100; 0 when no data */
    bool below_floor; /* strictly worse than the floor (lower when higher is better) */
};

enum score_total_status {
    SCORE_TOTAL_SCORED,
    SCORE_TOTAL_NO_DATA, /* no item has data: no score at all (never 0 or 100) */
    SCORE_TOTAL_ZEROED,  /* a critical item fell below its floor: the total is 0 */
};

struct score_total {
    int status;
    double total;       /* 0–100; 0 when NO_DATA or ZEROED */
    int zeroed_by;      /* index of the first critical item below its floor, or -1 */
    int nscored;        /* items with data */
    double weight_used; /* sum of the weights of the items with data */
};

/* clamp((value − floor) / (target − floor), 0, 1) × 100; the division handles both
   directions (floor > target for lower-is-better). */
double score_item_points(double value, double floor, double target);
/* value strictly worse than floor in the item's direction. */
bool score_item_below_floor(double value, double floor, double target);
/*
 * Scores n items: fills items[i] for each and the total — the weighted mean of the points
 * of the items with data; a critical item with data below its floor zeroes the total
 * (zeroed_by = its index); no item with data → SCORE_TOTAL_NO_DATA.
 */
void score_compute(const struct score_item_def *defs, const struct score_value *vals, int n,
                   struct score_item_result *items, struct score_total *total);
/*
 * Competition ranking ("1, 2, 2, 4"), best first: ranks[i] = 1 + the number of scored
 * entries with a strictly higher total. Entries with scored[i] false get rank 0
 * (unranked). A zeroed total (0) is scored and ranks last among equals.
 */
void score_rank(const double *totals, const bool *scored, int n, int *ranks);

/* Item labels -------------------------------------------------------------------------- */

/* The default English and Chinese label of a built-in indicator name (NULL if unknown). */
const char *score_indicator_label(const char *indicator, const char *lang);

/* Store: templates (score/template.c) --------------------------------------------------- */

#define SCORE_MAX_ITEMS 32

struct score_template_item {
    char key[33];
    char indicator[48];
    char label_en[128], label_zh[128];
    int64_t process_id;    /* 0 = any */
    char step[65];         /* "" = any */
    char channel[17];      /* "" = any */
    char customer_tag[33]; /* "" = any: only items whose customer has this tag */
    bool higher_is_better;
    struct score_item_def def;
};

struct score_template {
    int64_t id;
    char name[65];
    char title_en[128], title_zh[128];
    char role[16];   /* agent | supervisor | admin */
    int period_kind; /* the periods evaluated automatically when they end */
    bool auto_compute;
    bool team_scope; /* items measure the person's team (charged_team), not the person:
                        the scorecard of a team lead */
    int nitems;
    struct score_template_item items[SCORE_MAX_ITEMS];
    int64_t version, created_at, updated_at;
};

/*
 * Validates a template document (JSON object, see docs/scorecards.md) into t without
 * touching the store except to resolve process names and ids: every bad field is reported
 * with its JSON Pointer in err (SMILE_EINVAL). Indicator names are checked against the
 * kpi part's list; the direction defaults to the indicator's.
 */
int score_template_parse(struct store *db, const json_t *doc, struct score_template *t,
                         struct smile_err *err);
/* The template as JSON (the document plus id, version, times). Caller owns it. */
json_t *score_template_json(const struct score_template *t);

int score_template_get(struct store *db, int64_t id, struct score_template *out,
                       struct smile_err *err);
int score_template_get_by_name(struct store *db, const char *name, struct score_template *out,
                               struct smile_err *err);
/* Active templates, id order, after id `after`, at most limit (items array; caller owns). */
int score_template_list(struct store *db, int64_t after, int limit, json_t **out_items,
                        int64_t *out_next, struct smile_err *err);
/* Create / replace (If-Match version) / soft delete, each audited in its transaction.
   A duplicate name is SMILE_ECONFLICT, a stale version SMILE_EPRECOND. */
int score_template_create(struct store *db, const struct audit_who *who, const json_t *doc,
                          struct score_template *out, struct smile_err *err);
int score_template_update(struct store *db, const struct audit_who *who, int64_t id,
                          int64_t version, const json_t *doc, struct score_template *out,
                          struct smile_err *err);
int score_template_delete(struct store *db, const struct audit_who *who, int64_t id,
                          int64_t version, struct smile_err *err);

/* Store: evaluations (score/evaluation.c) ----------------------------------------------- */

struct score_compute_opts {
    const char *user; /* one username, or NULL for everyone of the template's role */
    bool skip_frozen; /* leave frozen evaluations as they are instead of refusing */
    bool with_digest; /* also (re)write the supervisors' digests of the period */
    bool dry_run;     /* compute, answer the diff, keep nothing (frozen ones included) */
    int64_t now_ms;   /* the time recorded as computed_at */
};

/*
 * Computes (or recomputes) the evaluations of template t for period p: one per active
 * user of the template's role (or opts->user), each item's value from
 * kpi_indicator_value, scores, then ranks within role and team. All in one transaction;
 * audited. A frozen evaluation among those targeted is SMILE_ECONFLICT (nothing written)
 * unless skip_frozen. *out (caller owns) is {"period", "template", "computed", "kept_frozen",
 * "from", "to"}. With dry_run nothing is written (the transaction is rolled back, frozen
 * evaluations are no obstacle) and *out also holds "changes": one line per person whose
 * score or status would change (before, after, change, state, frozen) and "unchanged".
 */
int score_evaluations_compute(struct store *db, const struct audit_who *who,
                              const struct score_template *t, const struct score_period *p,
                              const struct score_compute_opts *opts, json_t **out,
                              struct smile_err *err);

/* Filters for listing and exporting; NULL / 0 = any. */
struct score_eval_filter {
    const char *period;
    int64_t template_id;
    const char *team;
    const char *user;
    const char *state;
    bool visible_only; /* agents: only published and frozen */
};

/* Evaluations (summaries without items) matching f, ordered by template, role rank. */
int score_evaluation_list(struct store *db, const struct score_eval_filter *f, int64_t after,
                          int limit, json_t **out_items, int64_t *out_next, struct smile_err *err);
/* One evaluation with items and comments; its owner's username in out_user (65 bytes),
   state in out_state (16 bytes). SMILE_ENOTFOUND if absent. */
int score_evaluation_get(struct store *db, int64_t id, json_t **out, char *out_user,
                         char *out_state, struct smile_err *err);
/* draft → published, published → frozen (audited; 409 from any other state). */
int score_evaluation_transition(struct store *db, const struct audit_who *who, int64_t id,
                                const char *to, json_t **out, struct smile_err *err);
/*
 * The same transition for every evaluation of template_id and period (and team, if not
 * NULL) that is in the state before `to` (draft for published, published for frozen), in
 * one transaction, each audited. *out_n: how many changed (0 is not an error).
 */
int score_evaluation_transition_all(struct store *db, const struct audit_who *who,
                                    int64_t template_id, const char *period, const char *team,
                                    const char *to, int64_t *out_n, struct smile_err *err);
/* The score of user's evaluation of template_id in period; false if none or no score. */
bool score_evaluation_score(struct store *db, int64_t template_id, const char *period,
                            const char *user, double *out);
/* Adds a comment (1–4000 bytes) to a draft or published evaluation; frozen → 409. */
int score_evaluation_comment(struct store *db, const struct audit_who *who, int64_t id,
                             const char *author, const char *body, json_t **out,
                             struct smile_err *err);

/*
 * The measurements behind item n (0-based) of evaluation id: those charged to its person,
 * with started_at in the period (in the scorecard time zone), matching the item's process,
 * step and channel, and result if given; id order after `after`, at most limit.
 */
int score_item_measurements(struct store *db, int64_t id, int n, const char *result, int64_t after,
                            int limit, json_t **out, int64_t *out_next, struct smile_err *err);

/* The UTC interval [from_ms, to_ms) of a period in the scorecard time zone (Asia/Shanghai). */
int score_period_bounds(const struct score_period *p, int64_t *from_ms, int64_t *to_ms,
                        struct smile_err *err);
/* "YYYY-MM-DD" of a day number (11 bytes). */
void score_day_format(int64_t day, char *out);

/* Digests ------------------------------------------------------------------------------ */

/* Writes (replaces) the digest of every team with a supervisor for template t and period
   p from the stored evaluations; inside the caller's transaction. */
int score_digests_write(struct store *db, const struct score_template *t,
                        const struct score_period *p, int64_t now_ms, struct smile_err *err);
/* The mail part's hook: digests not yet e-mailed (ids, oldest first, at most limit; caller
   frees *out_ids) and marking one delivered (sets delivered_at; SMILE_ENOTFOUND if absent). */
int score_digest_undelivered(struct store *db, int limit, int64_t **out_ids, int *out_n,
                             struct smile_err *err);
int score_digest_mark_delivered(struct store *db, int64_t id, int64_t at_ms, struct smile_err *err);
/* Digests of period (NULL = any), for supervisor_id (0 = all). Caller owns *out. */
int score_digest_list(struct store *db, const char *period, int64_t supervisor_id, json_t **out,
                      struct smile_err *err);

/*
 * The automatic run: for every template with auto_compute whose last ended period (as of
 * now_ms) has no evaluation yet, computes it (skip_frozen) and writes the digests. Returns
 * the number of periods computed in *out_n. Called once a minute by serve's check thread.
 */
int score_auto_run(struct store *db, int64_t now_ms, int *out_n, struct smile_err *err);
/* Starts / stops the background check thread (serve); the thread opens its own connection
   on db_path. */
int score_auto_start(const char *db_path, struct smile_err *err);
void score_auto_stop(void);

/* Exports (score/export.c) -------------------------------------------------------------- */

enum score_export_format { SCORE_EXPORT_CSV, SCORE_EXPORT_CSV_ITEMS, SCORE_EXPORT_XLSX };

/* Writes the evaluations matching f as CSV (one row per evaluation, or per item) or XLSX
   (sheets "Evaluations" and "Items") into out. */
int score_export(struct store *db, const struct score_eval_filter *f, int format, struct buf *out,
                 struct smile_err *err);

#endif
