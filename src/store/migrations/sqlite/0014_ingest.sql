-- 0014_ingest.sql — placeholder reserved for perf (ingest path); replaced by that part's change or left as a no-op.
SELECT 1;
