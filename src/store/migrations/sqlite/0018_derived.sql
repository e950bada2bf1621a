-- 0018_derived.sql (owner: runtime/fold.c) — the per-measurement detail tables become
-- WITHOUT ROWID tables clustered on their primary key. Every fold writes a measurement's
-- segments, log and deadlines; as rowid tables each row was two b-tree inserts (the table
-- and its primary-key index), now it is one, and a measurement's rows lie together. All
-- three are derived from the ledger (`smile rebuild` rewrites them) and nothing reads their
-- rowid. SQLite cannot change a table's kind in place: create, copy, drop, rename
-- (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes").
CREATE TABLE measurement_segments_new (
    measurement_id INTEGER NOT NULL REFERENCES measurements (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    actor TEXT,
    team TEXT,
    from_at INTEGER NOT NULL,
    to_at INTEGER NOT NULL,
    ms INTEGER NOT NULL,
    PRIMARY KEY (measurement_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO measurement_segments_new SELECT measurement_id, seq, actor, team, from_at, to_at, ms
    FROM measurement_segments;
DROP TABLE measurement_segments;
ALTER TABLE measurement_segments_new RENAME TO measurement_segments;

-- The metric events of each clock (Zendesk's metric events): activate, pause, resume, reset,
-- warn, breach, fulfil, cancel.
CREATE TABLE measurement_log_new (
    measurement_id INTEGER NOT NULL REFERENCES measurements (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    event_id INTEGER,
    PRIMARY KEY (measurement_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO measurement_log_new SELECT measurement_id, seq, kind, at, event_id
    FROM measurement_log;
DROP TABLE measurement_log;
ALTER TABLE measurement_log_new RENAME TO measurement_log;

-- Warning and breach instants of running clocks; the scheduler fires those due.
CREATE TABLE deadlines_new (
    measurement_id INTEGER NOT NULL REFERENCES measurements (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('warning', 'breach')),
    idx INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    fired_at INTEGER,
    source_id TEXT NOT NULL,
    PRIMARY KEY (measurement_id, kind, idx)
) STRICT, WITHOUT ROWID;
INSERT INTO deadlines_new SELECT measurement_id, kind, idx, due_at, fired_at, source_id
    FROM deadlines;
DROP TABLE deadlines;
ALTER TABLE deadlines_new RENAME TO deadlines;
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE fired_at IS NULL;

-- A digest of what each measurement's rows say (its fields, segments, log and deadlines):
-- a re-fold that decides the same for a measurement leaves its rows alone instead of
-- rewriting them (runtime/fold.c put_occ). NULL (rows from before) never matches.
ALTER TABLE measurements ADD COLUMN digest INTEGER;
