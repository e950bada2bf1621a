-- 0008_score.sql — scorecards (owner: score/, src/score/template.c and evaluation.c).
-- score_templates: one per role and purpose; document is the validated template JSON
-- (items with indicator, filter, weight, floor, target, direction, critical, labels).
-- evaluations: one per template × period × person; items is the JSON array of item
-- results (value, count, points, status) as computed; state draft → published → frozen
-- (frozen rows never change). evaluation_comments: staff and supervisors' remarks.
-- score_digests: the per-supervisor digest of a closed period (team scores, movers,
-- worst items), delivered_at set by the mail part when it has been e-mailed.

CREATE TABLE score_templates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    document TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
) STRICT;
CREATE UNIQUE INDEX score_templates_name ON score_templates (name) WHERE deleted_at IS NULL;

CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    template_id INTEGER NOT NULL REFERENCES score_templates (id),
    template_version INTEGER NOT NULL,
    period TEXT NOT NULL,
    period_kind TEXT NOT NULL CHECK (period_kind IN ('month', 'week', 'quarter')),
    from_day TEXT NOT NULL,
    to_day TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    username TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    team TEXT,
    role TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'frozen')),
    status TEXT NOT NULL CHECK (status IN ('scored', 'no_data', 'zeroed')),
    score REAL,
    reason TEXT,
    items TEXT NOT NULL,
    rank_role INTEGER,
    role_size INTEGER NOT NULL DEFAULT 0,
    rank_team INTEGER,
    team_size INTEGER NOT NULL DEFAULT 0,
    computed_at INTEGER NOT NULL,
    published_at INTEGER,
    published_by TEXT,
    frozen_at INTEGER,
    frozen_by TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (template_id, period, user_id)
) STRICT;
CREATE INDEX evaluations_period ON evaluations (period, template_id);
CREATE INDEX evaluations_user ON evaluations (username, period);

CREATE TABLE evaluation_comments (
    id INTEGER PRIMARY KEY,
    evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
    author_id INTEGER,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX evaluation_comments_eval ON evaluation_comments (evaluation_id, id);

CREATE TABLE score_digests (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    template_id INTEGER NOT NULL REFERENCES score_templates (id),
    team TEXT NOT NULL,
    supervisor_id INTEGER NOT NULL REFERENCES users (id),
    document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (period, template_id, team)
) STRICT;
CREATE INDEX score_digests_supervisor ON score_digests (supervisor_id, period);
