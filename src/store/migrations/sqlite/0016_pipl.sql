-- 0016_pipl.sql — placeholder (assigned to the pipl helper, session 4).
SELECT 1;
