-- 0012_mailsecret.sql — secrets at rest (owner: src/mail, with src/webhook and src/cli):
-- mailbox passwords and webhook signing secrets are sealed with a key kept outside the
-- database (src/base/secret.h). The sealing of values still in clear is done in C at
-- start-up (idempotent: a sealed value starts with "$sm1$"); this table records which
-- key the database's secrets are sealed under, so a start with a missing or different
-- key file is refused instead of failing later. See docs/operators.md, "Secrets".
CREATE TABLE secret_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT,         -- id of the key sealing every secret (NULL: none sealed yet)
    sealed_at INTEGER,   -- when the values were last (re-)sealed: first start, rotation
    rotated_at INTEGER   -- last `smile secrets rotate`
) STRICT;
INSERT INTO secret_state (id) VALUES (1);
