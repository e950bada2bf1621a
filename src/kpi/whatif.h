/*
 * whatif.h — what-if replay: the events of a period folded through both the live
 * (published) versions of a process and a draft, with the pure engine, in memory, and
 * the measurements of each side counted per step and per charged staff member, side by
 * side with the differences. Nothing is written. The pure core (struct kpi_whatif) takes
 * subjects' events and accumulates; kpi_whatif_run() reads the process, its calendar and
 * the period's events from the database and renders the report (api/whatif.c and
 * `smile replay` call it). Sits in kpi/, above engine/ and calendar/.
 *
 * What is counted: every step occurrence (not pending) whose clock started in [from, to).
 * result met / breached / excluded / open as the engine says; compliance = met / (met +
 * breached), null when both are 0; p50 / p90 of elapsed (clock ms) over met and breached
 * occurrences by nearest rank (the value at rank ceil(p × N) of the N sorted values). The
 * live side folds each subject through the version that was in force when it triggered
 * (engine_process_pick, as the runtime measured it); the draft side through the draft.
 * sla.* events (the live scheduler's warnings and breaches) are left out of both folds:
 * each side finds its own breaches from its own standard.
 */
#ifndef SMILE_KPI_WHATIF_H
#define SMILE_KPI_WHATIF_H

#include <jansson.h>

#include "base/base.h"
#include "engine/engine.h"

struct store;
struct kpi_whatif;

enum kpi_whatif_side { KPI_WHATIF_LIVE, KPI_WHATIF_DRAFT };

/*
 * A replay of [from, to). live[0..nlive) are the published versions (borrowed; may be 0,
 * then the live side counts nothing), draft the draft (borrowed); each side folds with its
 * calendar (borrowed, used during kpi_whatif_subject only). Free with kpi_whatif_free().
 */
struct kpi_whatif *kpi_whatif_new(struct engine_process *const *live, size_t nlive,
                                  const struct engine_calendar *live_cal,
                                  const struct engine_process *draft,
                                  const struct engine_calendar *draft_cal, int64_t from,
                                  int64_t to);
void kpi_whatif_free(struct kpi_whatif *w);

/*
 * Folds one subject's events (sorted by occurred_at, id; sla.* events are skipped here)
 * through both sides with open clocks measured as of as_of, and counts its occurrences.
 * Returns SMILE_OK or SMILE_EINVAL for unsorted events (the subject is not counted).
 */
int kpi_whatif_subject(struct kpi_whatif *w, const struct engine_event *ev, size_t n,
                       int64_t as_of);

/*
 * Version pins of the live side (a process recompute re-pinned these instances,
 * src/recompute): pins maps a subject to the index in live[] of the version it is measured
 * under (borrowed; NULL or empty: every subject takes the version in force when it started,
 * engine_process_pick). Set before the first kpi_whatif_subject.
 */
void kpi_whatif_set_pins(struct kpi_whatif *w, json_t *pins);

/*
 * The report (new reference):
 * {"from", "to", "subjects", "events", "instances": {"live", "draft"},
 *  "totals": {"live": S, "draft": S, "delta": D},
 *  "steps": [{"step", "title", "live": S|null, "draft": S|null, "delta": D|null}],
 *  "staff": [{"staff", "live": S|null, "draft": S|null, "delta": D|null}],
 *  "target": null | {"compliance", "live": {"below", "of", "staff": [..]},
 *                    "draft": {...}, "newly_below": [..], "no_longer_below": [..]}}
 * with S = {"count", "met", "breached", "excluded", "open", "compliance", "p50_ms",
 * "p90_ms"} and D = draft − live of compliance, count, met, breached, p50_ms, p90_ms
 * (null where either is null). Steps in live order then draft-only steps; staff by
 * username. target (0 < target <= 1, or < 0 for none): staff whose compliance is below it
 * on each side (staff with no met or breached occurrence are not judged).
 */
json_t *kpi_whatif_report(struct kpi_whatif *w, double target);

/* Counters for benchmarks: events seen, subjects folded. */
void kpi_whatif_counts(const struct kpi_whatif *w, int64_t *events, int64_t *subjects);

/*
 * The whole replay from the database s (read only): the process process_id, its published
 * versions, the draft doc (borrowed; NULL = the process's stored draft), each side's
 * calendar as the runtime resolves it, and every subject with an event in [from, to) with
 * all its events; open clocks as of max(the subject's last event, min(to, now_ms)).
 * customer_tag (NULL or "" = all): only the subjects whose customer — the customer id of the
 * subject's first event naming one — has that tag now (crm's customer record) are folded
 * and counted; the report's "customer_tag" names it (null without).
 * A draft that does not compile: SMILE_EINVAL with pointers under "/draft" (e.g.
 * "/draft/steps/0/standard/within"). SMILE_ENOTFOUND for an unknown process.
 * *out: the report (caller owns it) with "process": {"id", "name", "live_versions"}.
 */
int kpi_whatif_run(struct store *s, int64_t process_id, json_t *draft, int64_t from, int64_t to,
                   double target, const char *customer_tag, int64_t now_ms, json_t **out,
                   struct smile_err *err);

#endif
