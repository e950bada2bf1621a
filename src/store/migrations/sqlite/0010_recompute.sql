-- 0010_recompute.sql — recompute history (owner: recompute/, src/recompute/recompute.c).
-- recompute_runs: one row per applied recompute (a calendar re-applied to a period of
-- history), with the confirm token of the dry run it applied and the report it answered.
-- recompute_diffs: for each frozen evaluation of an affected period, the score it had (and
-- keeps: frozen evaluations never change) and the score the recompute would have given it.

CREATE TABLE recompute_runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('calendar')),
    target_id INTEGER NOT NULL,
    from_at INTEGER NOT NULL,
    to_at INTEGER NOT NULL,
    token TEXT NOT NULL,
    by_user TEXT,
    created_at INTEGER NOT NULL,
    report TEXT NOT NULL
) STRICT;

CREATE TABLE recompute_diffs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES recompute_runs (id),
    evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
    old_score REAL,
    new_score REAL
) STRICT;
CREATE INDEX recompute_diffs_evaluation ON recompute_diffs (evaluation_id, run_id);
