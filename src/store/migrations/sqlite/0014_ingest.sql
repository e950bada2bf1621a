-- 0014_ingest.sql — owner: notify (src/notify/escalate.c), written by the pool helper.
-- The escalation runner looks for the sla.* and case.assigned events after its cursor
-- (notify_escalate_pending) once a second and after every commit that has one. Without an
-- index of its own SQLite answered that from the (source, source_id) index — every sla and
-- crm event ever written, sorted by id each time — so the look grew with the history and a
-- shutdown waited for it. This partial index holds the ids of those events only (a few per
-- case, none per call.* event), so ingest pays nothing for it and the look reads only the
-- new ones: SEARCH events USING INDEX events_escalate (id>? AND id<?).
CREATE INDEX events_escalate ON events (id)
    WHERE type IN ('sla.warning', 'sla.breached', 'case.assigned');
