-- 0015_whatif.sql (owner: kpi/whatif_run.c; the events table itself is the ledger's) — the
-- what-if replay reads whole subjects' events in (subject, occurred_at, id) order. With the
-- index holding every column the replay needs but data, that read is a walk along the index
-- instead of a seek into the table per event (ids are in time order, so one subject's events
-- lie far apart in the table); an event's data is read only for the types whose data the
-- processes use. Same name and leading columns as before, so every other reader by subject
-- keeps its plan.
DROP INDEX events_subject;
CREATE INDEX events_subject ON events (subject, occurred_at, id, type, actor, customer, channel);
