-- 0008_score.sql — reserved for the score part (filled by its own change).
SELECT 1;
