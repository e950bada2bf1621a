-- 0007_kpi.sql — reserved for the kpi part (filled by its own change).
SELECT 1;
