-- 0015_whatif.sql — placeholder reserved for kpi/score (what-if, tag filters); replaced by that part's change or left as a no-op.
SELECT 1;
