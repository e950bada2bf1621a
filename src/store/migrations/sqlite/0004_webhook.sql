-- 0004_webhook.sql — reserved for the webhook part (filled by its own change).
SELECT 1;
