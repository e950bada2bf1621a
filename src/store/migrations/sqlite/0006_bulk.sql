-- 0006_bulk.sql — owner: bulk/ (src/bulk/bulk.c). One row per committed CSV import run:
-- what was imported, by whom, from which file, and the counts of its report. Dry runs
-- and runs refused for a problem write nothing (all or nothing), so they leave no row.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('customers', 'properties', 'contracts')),
    file_name TEXT,
    encoding TEXT NOT NULL,
    rows INTEGER NOT NULL,
    imported INTEGER NOT NULL,
    updated INTEGER NOT NULL DEFAULT 0, -- of imported, rows that updated a record (--update)
    first_id INTEGER,
    last_id INTEGER,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL
) STRICT;
