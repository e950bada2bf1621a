-- 0011_recompute_process.sql — placeholder reserved for recompute (process re-pinning); replaced by that part's change or left as a no-op.
SELECT 1;
