-- 0017_cases.sql — placeholder (assigned to the cases helper, session 4).
SELECT 1;
