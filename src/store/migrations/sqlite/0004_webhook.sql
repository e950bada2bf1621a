-- 0004_webhook.sql — outbound webhooks (owner: webhook/) — src/webhook/store.c, sender.c.
-- webhooks: the admin's subscriptions. The secret is stored as issued (HMAC signing needs
-- the key itself, unlike API tokens which keep only a hash): see docs/webhooks.md. During a
-- rotation the previous secret also signs until previous_expires_at.
-- after_event_id: the newest event when the subscription was made; it receives only later ones.
-- headers: extra request headers (a JSON object, e.g. the receiver's Authorization).
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    event_types TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_expires_at INTEGER,
    after_event_id INTEGER NOT NULL DEFAULT 0,
    headers TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- One row per (subscription, event) — or per ping (event_id NULL). Written by the enqueuer
-- in the same transaction that advances webhook_cursor, so every event is enqueued once.
-- status: pending → delivered | failed; redeliver puts it back to pending with tries = 0.
-- attempts counts every request ever made; tries those since the last (re)queue.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id INTEGER,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    tries INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_status_code INTEGER,
    last_error TEXT,
    UNIQUE (webhook_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_at);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);
-- The sender's look-up of each subscription's oldest pending delivery.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, id)
    WHERE status = 'pending';

-- Every HTTP attempt of a delivery: status code (NULL when no response), transport error,
-- duration and the first KiB of the response body.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    response TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);

-- How far the enqueuer has followed the ledger (like runtime_cursor). Starts at the newest
-- event when this migration runs: no subscription existed before.
CREATE TABLE webhook_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL
) STRICT;
INSERT INTO webhook_cursor (id, last_event_id) SELECT 1, coalesce(max(id), 0) FROM events;
