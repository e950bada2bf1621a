-- 0005_mail.sql — reserved for the mail part (filled by its own change).
SELECT 1;
