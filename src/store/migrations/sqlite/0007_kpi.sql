-- 0007_kpi.sql — indicator rollups (owner: kpi/, src/kpi/rollup.c). Derived from the ledger:
-- written only by the runtime's fold (runtime_fold_subject → kpi_rollup_replace) in the
-- transaction that replaces the subject's measurements, dropped and refilled by
-- `smile rebuild`. Reads (kpi_indicator_*) never scan measurements or events.
--
-- kpi_daily: one row per day × staff × team × process × step × channel × tag. day is a day number
-- (days since 1970-01-01) in the process calendar's time zone; '' / 0 stand for "none".
-- Measurement columns are counted on the local day the measurement STARTED; closed on the
-- day it ended; event columns (answered … surveys) on the day of their event. Rows whose
-- process_id is 0 and step '' hold event facts. tag '' rows hold every fact once; a subject whose
-- customer has tags adds its facts again under each tag (tag <> ''), for slicing by tag. hist: the elapsed_ms of done measurements in
-- log buckets of ratio 2^(1/8) (bucket 0: 0 ms; bucket b ≥ 1: [2^((b-1)/8), 2^(b/8)) ms),
-- 4-byte little-endian counts, as long as the highest non-empty bucket. docs/indicators.md.
CREATE TABLE kpi_daily (
    day INTEGER NOT NULL,
    staff TEXT NOT NULL,
    team TEXT NOT NULL,
    process_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    channel TEXT NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    met INTEGER NOT NULL DEFAULT 0,
    breached INTEGER NOT NULL DEFAULT 0,
    excluded INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    sum_ms INTEGER NOT NULL DEFAULT 0,
    offered INTEGER NOT NULL DEFAULT 0,
    abandoned INTEGER NOT NULL DEFAULT 0,
    opened INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    replied INTEGER NOT NULL DEFAULT 0,
    visits INTEGER NOT NULL DEFAULT 0,
    resolved INTEGER NOT NULL DEFAULT 0,
    cases INTEGER NOT NULL DEFAULT 0,
    fcr INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    surveys INTEGER NOT NULL DEFAULT 0,
    survey_sum INTEGER NOT NULL DEFAULT 0,
    hist BLOB NOT NULL DEFAULT x'',
    PRIMARY KEY (day, staff, team, process_id, step, channel, tag)
) STRICT;
CREATE INDEX kpi_daily_staff ON kpi_daily (staff, day);
CREATE INDEX kpi_daily_team ON kpi_daily (team, day);

-- kpi_subject: what each subject contributed to kpi_daily at its last fold (a JSON array of
-- facts), so a re-fold subtracts exactly that and adds the new facts in one transaction.
CREATE TABLE kpi_subject (
    subject TEXT PRIMARY KEY,
    facts TEXT NOT NULL
) STRICT;

-- kpi_open: per key of kpi_daily without the day, the measurements started and not ended
-- (sum of opened − closed over all days); rows at 0 are deleted. The backlog at the end of a
-- day D is kpi_open minus what opened and closed after D, so reading it needs no scan of
-- the history before the period.
CREATE TABLE kpi_open (
    staff TEXT NOT NULL,
    team TEXT NOT NULL,
    process_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    channel TEXT NOT NULL,
    tag TEXT NOT NULL,
    open INTEGER NOT NULL,
    PRIMARY KEY (staff, team, process_id, step, channel, tag)
) STRICT;
