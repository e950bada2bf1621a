-- 0009_mailnotify.sql — the durable outbox of system e-mail (owner: mailnotify/,
-- src/mailnotify/outbox.c). One row per message to one address: a notification (written in
-- the same transaction as the notification, through notify's in-transaction hook) or a
-- supervisor's scorecard digest (written in the same transaction that marks the digest
-- delivered). The sender thread of `smile serve` sends pending rows (sent_at NULL,
-- next_at reached) over SMTP and sets sent_at; a failure counts attempts, keeps the
-- server's words in last_error and moves next_at by an exponential back-off.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    to_addr TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    sent_at INTEGER,
    last_error TEXT
) STRICT;
CREATE INDEX mail_outbox_pending ON mail_outbox (next_at) WHERE sent_at IS NULL;
CREATE INDEX mail_outbox_ref ON mail_outbox (ref);
