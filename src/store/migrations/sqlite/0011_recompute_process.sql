-- 0011_recompute_process.sql — recompute history after a process change (owner: recompute/,
-- src/recompute/recompute.c; instances.pin_id is written by runtime/, src/runtime/fold.c).
-- instance_pins: every re-pinning of a (process, subject) instance to a chosen published
-- version by an applied recompute, newest last; the newest row is the version the instance is
-- measured under from then on (live folds and `smile rebuild` included). An instance with no
-- row is measured under the version in force when its subject triggered the process.
-- instances.pin_id: the instance_pins row its current measurements were folded under (NULL:
-- the version in force at its start). recompute_runs is rebuilt so that kind may be
-- 'process' (a process re-applied to the instances started in a period), with the chosen
-- version and the admin's reason; recompute_diffs is rebuilt with it (same rows) to keep its
-- foreign key on the new table.

CREATE TABLE recompute_runs_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('calendar', 'process')),
    target_id INTEGER NOT NULL,
    version INTEGER,
    from_at INTEGER NOT NULL,
    to_at INTEGER,
    token TEXT NOT NULL,
    by_user TEXT,
    reason TEXT,
    created_at INTEGER NOT NULL,
    report TEXT NOT NULL,
    CHECK ((kind = 'process') = (version IS NOT NULL)),
    CHECK (kind = 'process' OR to_at IS NOT NULL)
) STRICT;
INSERT INTO recompute_runs_new (id, kind, target_id, from_at, to_at, token, by_user,
    created_at, report)
    SELECT id, kind, target_id, from_at, to_at, token, by_user, created_at, report
    FROM recompute_runs;

CREATE TABLE recompute_diffs_new (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES recompute_runs_new (id),
    evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
    old_score REAL,
    new_score REAL
) STRICT;
INSERT INTO recompute_diffs_new (id, run_id, evaluation_id, old_score, new_score)
    SELECT id, run_id, evaluation_id, old_score, new_score FROM recompute_diffs;

DROP TABLE recompute_diffs;
DROP TABLE recompute_runs;
ALTER TABLE recompute_runs_new RENAME TO recompute_runs;
ALTER TABLE recompute_diffs_new RENAME TO recompute_diffs;
CREATE INDEX recompute_diffs_evaluation ON recompute_diffs (evaluation_id, run_id);

CREATE TABLE instance_pins (
    id INTEGER PRIMARY KEY,
    process_id INTEGER NOT NULL REFERENCES processes (id),
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    previous_version INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES recompute_runs (id),
    reason TEXT,
    by_user TEXT,
    created_at INTEGER NOT NULL,
    FOREIGN KEY (process_id, version) REFERENCES process_versions (process_id, number)
) STRICT;
CREATE INDEX instance_pins_subject ON instance_pins (subject, process_id, id);
CREATE INDEX instance_pins_run ON instance_pins (run_id);

ALTER TABLE instances ADD COLUMN pin_id INTEGER;

-- recompute_changes: every measurement an applied recompute changed (calendar or process
-- runs): before and after as JSON ({"result", "elapsed_ms", "target_ms", "charged_actor",
-- "version"}; NULL where the measurement does not exist on that side). The report keeps at
-- most 50 examples; this is the whole list, paged by GET /api/v1/recompute/runs/{id}/changes.
CREATE TABLE recompute_changes (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES recompute_runs (id),
    process_id INTEGER NOT NULL,
    subject TEXT NOT NULL,
    step_key TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    measurement_id INTEGER,
    charged_actor TEXT,
    before TEXT,
    after TEXT
) STRICT;
CREATE INDEX recompute_changes_run ON recompute_changes (run_id, id);
