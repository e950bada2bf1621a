-- 0005_mail.sql — the mail part (owner: src/mail): mailboxes polled over IMAP and
-- answered over SMTP, every message imported or sent (for threading and de-duplication),
-- and the threads that tie messages to a case. See docs/mail.md.

-- A mailbox an admin connected. password / smtp_password are write-only in the API.
-- uidvalidity + last_uid: how far the folder has been imported (moved in the same
-- transaction as each message's rows and events).
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    imap_url TEXT NOT NULL,
    username TEXT NOT NULL,
    password TEXT NOT NULL DEFAULT '',
    smtp_url TEXT,
    smtp_username TEXT,
    smtp_password TEXT,
    from_address TEXT NOT NULL,
    from_name TEXT NOT NULL DEFAULT '',
    team_id INTEGER REFERENCES teams (id),
    case_type TEXT NOT NULL DEFAULT 'inquiry'
        CHECK (case_type IN ('complaint', 'repair', 'inquiry', 'handover', 'other')),
    tag_prefix TEXT NOT NULL DEFAULT '[SR-',
    active INTEGER NOT NULL DEFAULT 1,
    poll_seconds INTEGER NOT NULL DEFAULT 60,
    import_existing INTEGER NOT NULL DEFAULT 0,
    max_bytes INTEGER NOT NULL DEFAULT 26214400,
    uidvalidity INTEGER,
    last_uid INTEGER NOT NULL DEFAULT 0,
    last_poll_at INTEGER,
    last_ok_at INTEGER,
    last_error TEXT,
    imported INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE UNIQUE INDEX mailboxes_name ON mailboxes (name) WHERE deleted_at IS NULL;

-- A conversation: its root Message-ID (without angle brackets) and the case it feeds.
-- A closed case's thread moves to the follow-up case a later customer mail opens.
CREATE TABLE mail_threads (
    id INTEGER PRIMARY KEY,
    root TEXT NOT NULL UNIQUE,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id),
    case_id INTEGER REFERENCES cases (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX mail_threads_case ON mail_threads (case_id);

-- One row per message imported (in) or sent (out); message_id is unique, so a message
-- delivered to two mailboxes, or fetched again, is imported once.
CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    thread_id INTEGER NOT NULL REFERENCES mail_threads (id),
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id),
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    case_id INTEGER REFERENCES cases (id),
    interaction_id INTEGER REFERENCES interactions (id),
    event_id INTEGER,
    uidvalidity INTEGER,
    uid INTEGER,
    at INTEGER NOT NULL,
    from_addr TEXT,
    reply_to TEXT,
    cc TEXT, -- JSON array: the other people a customer's message went to (kept on replies)
    subject TEXT
) STRICT;
CREATE INDEX mail_messages_thread ON mail_messages (thread_id, at);
