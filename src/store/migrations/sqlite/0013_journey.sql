-- 0013_journey.sql — system e-mail that is given up (owner: mailnotify/,
-- src/mailnotify/outbox.c). After mailnotify_max_attempts failed attempts a row of
-- mail_outbox is no longer retried: failed_at is set and fail_reason says why (the count
-- and the last error). An admin can queue it again (POST /api/v1/mail-outbox/{id}/retry),
-- which clears both and starts a new series of attempts. The sender reads only rows
-- neither sent nor given up, through mail_outbox_due.
ALTER TABLE mail_outbox ADD COLUMN failed_at INTEGER;
ALTER TABLE mail_outbox ADD COLUMN fail_reason TEXT;
DROP INDEX mail_outbox_pending;
CREATE INDEX mail_outbox_due ON mail_outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_failed ON mail_outbox (failed_at) WHERE failed_at IS NOT NULL;
