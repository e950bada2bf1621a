-- 0016_pipl.sql — owner: ledger/erase.c (PIPL Art. 47 erasure; the tables are the ledger's,
-- the mail part's and the notify part's, these indexes serve the erasure only).
-- Anonymising a customer erases the personal values in the data of the events about them
-- (docs/crm.md). It finds them by the events' customer column — the customer's id, or the
-- caller number the PBX intake writes there on call.offered — and then walks each subject it
-- found along events_subject. Without an index on customer that first look is a full scan
-- of the ledger (10 million rows: seconds, under the write lock). Partial: events with no
-- customer (most call.*, agent.*, sla.* events) add no entry, so ingest pays for the
-- events that name a customer only.
CREATE INDEX events_customer ON events (customer) WHERE customer IS NOT NULL;
-- The stored e-mails of the customer's cases and interactions (their events' ids lead to the
-- thread subjects); the mail part's own erase hook uses the same look-ups.
CREATE INDEX mail_messages_case ON mail_messages (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX mail_messages_interaction ON mail_messages (interaction_id)
    WHERE interaction_id IS NOT NULL;
-- Notifications that quote a case's subject in their title and body.
CREATE INDEX notifications_case ON notifications (case_id) WHERE case_id IS NOT NULL;
