/*
 * recompute.h — recompute history after a calendar or a process changed. Calendar: the
 * subjects whose instances started in a period under a process that uses the calendar are
 * re-folded with the current definitions. Process: the instances of the process started in
 * the period are re-pinned to a chosen published version (runtime_pin_add: stored, so every
 * later fold keeps it) and their subjects re-folded. Either way the fold is
 * runtime_fold_subject, the runtime's normal path (measurements, deadlines and kpi rollups
 * replaced as live), the non-frozen evaluations of the periods that overlap are recomputed,
 * and for each frozen evaluation the score it would now get is recorded beside it
 * (recompute_diffs) — the frozen row itself never changes. A dry run does all of it inside one
 * transaction and rolls it back, answering the diff report and a confirm token (a fingerprint
 * of the ledger, the definitions, the pins and the evaluations); applying needs that token, so
 * what was reviewed is what is applied. Flow: api → recompute → runtime, score. See
 * docs/recompute.md.
 */
#ifndef SMILE_RECOMPUTE_H
#define SMILE_RECOMPUTE_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct audit_who;

/* The longest period one recompute may cover. */
#define RECOMPUTE_MAX_DAYS 400
/* At most this many examples of changed measurements in a report. */
#define RECOMPUTE_MAX_EXAMPLES 50

struct recompute_req {
    int64_t calendar_id; /* a calendar change: the calendar (> 0), or 0 with process_id */
    int64_t process_id;  /* a process change: the process (> 0); 0 for a calendar change */
    int version;         /* with process_id: the published version to re-pin to */
    int64_t from, to;    /* instances started in [from, to), ms UTC; to INT64_MAX: no end */
    bool dry_run;
    const char *confirm; /* with !dry_run: the token of the dry run */
    const char *reason;  /* optional note kept with the run and the pins (may be NULL) */
};

/*
 * Runs a recompute on db (must not be in a transaction). The report (*out, caller owns):
 * {"dry_run", "confirm", "kind": "calendar"|"process", "calendar": {"id", "name"} (calendar)
 *  | "process": {"id", "name", "version"}, "instances": {"in_range", "repinned", "already",
 *  "from_versions": {"1": n}}, "reason" (process), "from", "to" (null: no end),
 *  "processes": [ids], "subjects" (re-folded), "measurements": {"compared", "changed",
 *  "result_changed", "elapsed_changed", "target_changed", "charge_changed",
 *  "flips": {"met→breached": n, ...}, "examples": [{"measurement_id", "process_id",
 *  "subject", "step", "occurrence", "staff", "before": {"result", "elapsed_ms", "target_ms",
 *  "charged_actor", "version"} | null, "after": {...} | null}]},
 *  "evaluations": {"changed", "unchanged", "frozen", "items": [{"evaluation_id",
 *  "template_id", "period", "username", "state", "before", "after", "delta", "frozen",
 *  "note"}]}, "run_id" (applied only)}.
 * A process recompute skips the instances already on the version; the others get a pin
 * (process, subject, version, previous version, run, reason, who) and are re-folded; an
 * instance whose subject the chosen version's trigger does not match is removed (its
 * measurements appear with "after": null).
 * Errors: SMILE_ENOTFOUND unknown calendar; SMILE_EINVAL with field /process (unknown or
 * deleted process) or /version (not a published version of it), or a missing token;
 * SMILE_ECONFLICT the confirm token does not match (the ledger, definitions, pins or
 * evaluations changed since the dry run, or the request differs) — nothing written on any
 * error. Applying is audited ("recompute", run id, "apply").
 */
int recompute_run(struct store *db, const struct audit_who *who, const struct recompute_req *req,
                  json_t **out, struct smile_err *err);

/*
 * The applied runs, newest first, at most limit: {"items": [{"id", "kind", "calendar_id",
 * "process_id", "version", "from", "to", "by", "reason", "created_at", "frozen_diffs",
 * "repinned"}]} (calendar_id or process_id/version null by kind). Caller owns *out.
 */
int recompute_run_list(struct store *db, int limit, json_t **out, struct smile_err *err);

/*
 * One applied run: the list's fields, "report" (as answered when applied), "diffs":
 * [{"evaluation_id", "old_score", "new_score"}] and "pins": [{"subject", "previous_version",
 * "version"}] (process runs). The list's fields include "changes": the number of measurements
 * the run changed (recompute_run_changes lists them).
 * SMILE_ENOTFOUND if there is no such run. Caller owns *out.
 */
int recompute_run_get(struct store *db, int64_t id, json_t **out, struct smile_err *err);

/*
 * Every measurement an applied run changed (recompute_changes), in order, after the cursor
 * `after` (an item id, 0 first), at most limit: {"items": [{"id", "process_id", "subject",
 * "step", "occurrence", "measurement_id", "staff", "before", "after"}], "next_cursor"}
 * (before/after as in the report's examples). SMILE_ENOTFOUND if there is no such run. Caller
 * owns *out.
 */
int recompute_run_changes(struct store *db, int64_t id, int64_t after, int limit, json_t **out,
                          struct smile_err *err);

#endif
