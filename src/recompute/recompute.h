/*
 * recompute.h — recompute history after a calendar changed: the subjects whose instances
 * started in a period under a process that uses the calendar are re-folded with the current
 * definitions (runtime_fold_subject, the runtime's normal path, rollups included), the
 * non-frozen evaluations of the periods that overlap are recomputed, and for each frozen
 * evaluation the score it would now get is recorded beside it (recompute_diffs) — the frozen
 * row itself never changes. A dry run does all of it inside one transaction and rolls it
 * back, answering the diff report and a confirm token (a fingerprint of the ledger, the
 * definitions and the evaluations); applying needs that token, so what was reviewed is what
 * is applied. Flow: api → recompute → runtime, score. See docs/recompute.md.
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
    int64_t calendar_id; /* the calendar that changed (> 0) */
    int64_t from, to;    /* instances started in [from, to), ms UTC */
    bool dry_run;
    const char *confirm; /* with !dry_run: the token of the dry run */
};

/*
 * Runs a recompute on db (must not be in a transaction). The report (*out, caller owns):
 * {"dry_run", "confirm", "calendar": {"id", "name"}, "from", "to", "processes": [ids],
 *  "subjects", "measurements": {"compared", "changed", "result_changed", "elapsed_changed",
 *  "flips": {"met→breached": n, ...}, "examples": [{"measurement_id", "process_id",
 *  "subject", "step", "occurrence", "staff", "before": {"result", "elapsed_ms"},
 *  "after": {...}}]},
 *  "evaluations": {"changed", "unchanged", "frozen", "items": [{"evaluation_id",
 *  "template_id", "period", "username", "state", "before", "after", "delta", "frozen",
 *  "note"}]}, "run_id" (applied only)}.
 * Errors: SMILE_ENOTFOUND unknown calendar; SMILE_ECONFLICT the confirm token does not match
 * (the ledger, definitions or evaluations changed since the dry run) — nothing written;
 * SMILE_EINVAL missing token. Applying is audited ("recompute", run id, "apply").
 */
int recompute_run(struct store *db, const struct audit_who *who, const struct recompute_req *req,
                  json_t **out, struct smile_err *err);

/*
 * The applied runs, newest first, at most limit: {"items": [{"id", "calendar_id", "from",
 * "to", "by", "created_at", "frozen_diffs"}]}. Caller owns *out.
 */
int recompute_run_list(struct store *db, int limit, json_t **out, struct smile_err *err);

/*
 * One applied run: {"id", "calendar_id", "from", "to", "by", "created_at", "report" (as
 * answered when applied), "diffs": [{"evaluation_id", "old_score", "new_score"}]}.
 * SMILE_ENOTFOUND if there is no such run. Caller owns *out.
 */
int recompute_run_get(struct store *db, int64_t id, json_t **out, struct smile_err *err);

#endif
