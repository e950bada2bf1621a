-- 0002_work.sql — reserved for the work part (filled by its own change).
SELECT 1;
