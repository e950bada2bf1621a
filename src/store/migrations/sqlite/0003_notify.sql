-- 0003_notify.sql — in-app notifications and the escalation runner (owner: notify/).
-- notifications: one row per message to one user, in English and Simplified Chinese;
--   read_at is set when the user marks it read. case_id / measurement_id / event_id say
--   what it is about (informational: `smile rebuild` renumbers measurements).
-- notify_cursor: the id of the last ledger event the escalation runner has handled, moved
--   in the same transaction as the effects of that event, so each sla.* event is escalated
--   exactly once across restarts and crashes. Starts at the newest event of an existing
--   ledger: deadlines fired before this migration are not escalated after the fact.
-- escalations: what each rule did for each fired deadline (done or skipped, and why).
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    title_en TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    body_en TEXT NOT NULL,
    body_zh TEXT NOT NULL,
    subject TEXT,
    case_id INTEGER,
    measurement_id INTEGER,
    event_id INTEGER,
    data TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    read_at INTEGER
) STRICT;
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;

CREATE TABLE notify_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL
) STRICT;
INSERT INTO notify_cursor (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM events;

CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL,
    rule INTEGER NOT NULL,
    subject TEXT NOT NULL,
    case_id INTEGER,
    process_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    step_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('warning', 'breach')),
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'skipped')),
    detail TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    UNIQUE (event_id, rule)
) STRICT;
CREATE INDEX escalations_case ON escalations (case_id, id);
