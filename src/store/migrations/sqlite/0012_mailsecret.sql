-- 0012_mailsecret.sql — placeholder reserved for mail (secrets at rest, IDLE); replaced by that part's change or left as a no-op.
SELECT 1;
