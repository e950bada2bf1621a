-- 0002_work.sql — work: task inboxes, presence, skills and routing (owner: src/work/).
-- The columns added here to users, teams and cases are read and written only by src/work/
-- (cases.required_skills also through the case record, src/crm/case.c, as a plain field).

-- Presence of a user: available (default), away or off; when it was last set and by whom;
-- skills as a JSON array of short tags (["repair", "cantonese"]); shift_calendar names a
-- calendar: outside its working time the user counts as off whatever presence says.
ALTER TABLE users ADD COLUMN presence TEXT NOT NULL DEFAULT 'available'
    CHECK (presence IN ('available', 'away', 'off'));
ALTER TABLE users ADD COLUMN presence_at INTEGER;
ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN shift_calendar TEXT;

-- How a case put to the team without an assignee is assigned: manual (not at all, the
-- default), round_robin, least_open or skill_match.
ALTER TABLE teams ADD COLUMN routing TEXT NOT NULL DEFAULT 'manual'
    CHECK (routing IN ('manual', 'round_robin', 'least_open', 'skill_match'));

-- Skills a case needs (JSON array of tags), for skill_match routing.
ALTER TABLE cases ADD COLUMN required_skills TEXT NOT NULL DEFAULT '[]';

-- Round-robin position per team: the member who got the last case (restart-safe).
CREATE TABLE work_rr (
    team_id INTEGER PRIMARY KEY REFERENCES teams (id),
    last_user_id INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Every routing decision: the case, the team, the rule, whom it chose (NULL = nobody) and
-- why ("assigned", "no_members", "none_available", "no_skill_match").
CREATE TABLE work_routing_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    case_id INTEGER NOT NULL,
    rule TEXT NOT NULL,
    user_id INTEGER,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX work_routing_log_team ON work_routing_log (team_id, id);

-- Task inboxes read open clocks by holder and by team (measurements belong to runtime/;
-- these partial indexes cover only the running and paused ones).
CREATE INDEX work_tasks_actor ON measurements (charged_actor)
    WHERE state IN ('running', 'paused');
CREATE INDEX work_tasks_team ON measurements (charged_team)
    WHERE state IN ('running', 'paused');
CREATE INDEX work_tasks_open ON measurements (subject)
    WHERE state IN ('running', 'paused');
