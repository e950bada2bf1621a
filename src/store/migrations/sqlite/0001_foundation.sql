-- 0001_foundation.sql — staff, auth, audit, CRM records and the event ledger.
-- Times are INTEGER milliseconds since the Unix epoch, UTC. Every record table has
-- version (for ETag / If-Match), created_at, updated_at and deleted_at (soft delete).
-- Owners: teams, users → crm/staff.c; sessions, api_tokens, login_failures → http/auth.c;
-- audit → crm/audit.c; customers … interactions → crm/; events → ledger/.

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    supervisor_id INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    team_id INTEGER REFERENCES teams (id),
    email TEXT,
    locale TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX users_team ON users (team_id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    address TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed sign-ins (and ones in progress), counted per username and per address over the
-- login window; persisted so that a restart does not reset the limit.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_address ON login_failures (address, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id INTEGER,
    actor TEXT,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    request_id TEXT,
    address TEXT
) STRICT;
CREATE INDEX audit_entity ON audit (entity, entity_id, id);
CREATE INDEX audit_at ON audit (at);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'company')),
    name TEXT NOT NULL,
    phones TEXT NOT NULL DEFAULT '[]',
    emails TEXT NOT NULL DEFAULT '[]',
    birthday TEXT,
    id_number TEXT,
    address TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    owner_id INTEGER REFERENCES users (id),
    notes TEXT,
    anonymised_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;

-- One row per normalised phone / e-mail, so sources can link a caller or a sender.
CREATE TABLE customer_contacts (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
    value TEXT NOT NULL,
    PRIMARY KEY (kind, value, customer_id)
) STRICT;
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id);
CREATE INDEX customers_owner ON customers (owner_id);

CREATE TABLE properties (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    building TEXT,
    unit TEXT,
    area_m2 REAL,
    status TEXT NOT NULL DEFAULT 'available'
        CHECK (status IN ('available', 'reserved', 'sold', 'delivered', 'rented')),
    customer_id INTEGER REFERENCES customers (id),
    notes TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE INDEX properties_customer ON properties (customer_id);
CREATE INDEX properties_unit ON properties (project, building, unit);

CREATE TABLE contracts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    property_id INTEGER REFERENCES properties (id),
    number TEXT NOT NULL,
    signed_on TEXT,
    amount_cents INTEGER,
    delivery_date TEXT,
    status TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'signed', 'delivered', 'cancelled')),
    notes TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE UNIQUE INDEX contracts_number ON contracts (number) WHERE deleted_at IS NULL;
CREATE INDEX contracts_customer ON contracts (customer_id);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('complaint', 'repair', 'inquiry', 'handover', 'other')),
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    customer_id INTEGER REFERENCES customers (id),
    property_id INTEGER REFERENCES properties (id),
    subject TEXT NOT NULL,
    description TEXT,
    assignee_id INTEGER REFERENCES users (id),
    team_id INTEGER REFERENCES teams (id),
    channel TEXT NOT NULL DEFAULT 'web'
        CHECK (channel IN ('phone', 'email', 'counter', 'web', 'system')),
    opened_at INTEGER NOT NULL,
    resolved_at INTEGER,
    closed_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE INDEX cases_customer ON cases (customer_id);
CREATE INDEX cases_assignee ON cases (assignee_id, status);
CREATE INDEX cases_status ON cases (status, id);
CREATE INDEX cases_team ON cases (team_id, status);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('call', 'email', 'visit', 'note')),
    direction TEXT NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out', 'internal')),
    channel TEXT NOT NULL CHECK (channel IN ('phone', 'email', 'counter', 'web', 'system')),
    customer_id INTEGER REFERENCES customers (id),
    case_id INTEGER REFERENCES cases (id),
    actor_id INTEGER REFERENCES users (id),
    occurred_at INTEGER NOT NULL,
    subject TEXT,
    body TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE INDEX interactions_customer ON interactions (customer_id, occurred_at);
CREATE INDEX interactions_case ON interactions (case_id, occurred_at);
CREATE INDEX interactions_actor ON interactions (actor_id, occurred_at);

-- The ledger: append-only, idempotent on (source, source_id).
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT,
    customer TEXT,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    UNIQUE (source, source_id)
) STRICT;
CREATE INDEX events_subject ON events (subject, occurred_at, id);
CREATE INDEX events_time ON events (occurred_at, id);

-- search (owner: crm/search.c)
-- One row per indexed customer, case or interaction, written by search_index_put in the
-- transaction that changes the record. id = ref_id * 4 + kind code (1 customer, 2 case,
-- 3 interaction), so an FTS row's kind is its rowid % 4. name and body hold text prepared
-- by search_prepare_text (a ZERO WIDTH SPACE around each CJK character), whole the title's
-- exact-match key, phone the phone digits, tail the same digits reversed (last-digit
-- search). search_fts is an external-content FTS5 index over these columns (a virtual
-- table cannot be STRICT), kept in step by the triggers below.
CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('customer', 'case', 'interaction')),
    ref_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    name TEXT NOT NULL,
    whole TEXT NOT NULL,
    phone TEXT NOT NULL,
    tail TEXT NOT NULL,
    body TEXT NOT NULL,
    CHECK (id = ref_id * 4 + CASE kind WHEN 'customer' THEN 1 WHEN 'case' THEN 2 ELSE 3 END)
) STRICT;

CREATE VIRTUAL TABLE search_fts USING fts5 (
    name, whole, phone, tail, body,
    content = 'search_docs', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts (rowid, name, whole, phone, tail, body)
    VALUES (new.id, new.name, new.whole, new.phone, new.tail, new.body);
END;

CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, name, whole, phone, tail, body)
    VALUES ('delete', old.id, old.name, old.whole, old.phone, old.tail, old.body);
END;

CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, name, whole, phone, tail, body)
    VALUES ('delete', old.id, old.name, old.whole, old.phone, old.tail, old.body);
    INSERT INTO search_fts (rowid, name, whole, phone, tail, body)
    VALUES (new.id, new.name, new.whole, new.phone, new.tail, new.body);
END;
