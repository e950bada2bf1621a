-- 0006_bulk.sql — reserved for the bulk part (filled by its own change).
SELECT 1;
