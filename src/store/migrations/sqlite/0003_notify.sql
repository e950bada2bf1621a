-- 0003_notify.sql — reserved for the notify part (filled by its own change).
SELECT 1;
