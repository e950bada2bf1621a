-- 0013_journey.sql — placeholder reserved for notify/mailnotify (task stream, outbox give-up); replaced by that part's change or left as a no-op.
SELECT 1;
