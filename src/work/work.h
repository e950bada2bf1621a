/*
 * work.h — work follows the process: task inboxes, staff presence and skills, and the
 * routing of cases to team members. A task is an open clock (a measurement in state
 * running or paused) charged to a person or a team; the inbox lists them with the time
 * left in business time, computed with the process's calendar. Routing runs inside the
 * CRM transaction that puts a case to a team without an assignee (a hook registered on the
 * CRM with work_install()), so the routed case.assigned commits with the change or not at
 * all. The same hook marks a CRM function called on a case whose open steps do not expect
 * it as out of order (data.out_of_order on the event). Owner of the columns presence,
 * presence_at, skills, shift_calendar (users), routing (teams), required_skills (cases) and
 * of the tables work_rr and work_routing_log (0002_work.sql). See docs/work.md.
 *
 * Flow: api → work → crm (assign), runtime (calendars), engine (step titles), store.
 */
#ifndef SMILE_WORK_H
#define SMILE_WORK_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct http_auth;
struct audit_who;

/* Presence and routing rules ---------------------------------------------------------- */

enum work_presence {
    WORK_AVAILABLE,
    WORK_AWAY,
    WORK_OFF,
};

enum work_rule {
    WORK_RULE_MANUAL,      /* never route: a person assigns */
    WORK_RULE_ROUND_ROBIN, /* the next available member after the last one chosen */
    WORK_RULE_LEAST_OPEN,  /* the available member with the fewest open tasks */
    WORK_RULE_SKILL_MATCH, /* available members with all required skills, then least open */
};

/* Name ↔ value; parse returns -1 for an unknown name. */
int work_presence_parse(const char *name);
const char *work_presence_name(enum work_presence p);
int work_rule_parse(const char *name);
const char *work_rule_name(enum work_rule r);

#define WORK_SKILL_MAX 32  /* bytes of one skill tag */
#define WORK_SKILLS_MAX 20 /* tags per user or case */

/* A skill tag: 1–32 bytes of [a-z0-9_-]. */
bool work_skill_valid(const char *s);

/* One team member as routing sees it (strings borrowed). */
struct work_member {
    int64_t id;
    enum work_presence presence; /* effective: off outside the shift calendar */
    bool disabled;
    const char *const *skills;
    size_t nskills;
    int64_t open; /* open work: see docs/work.md §Routing */
};

/* Why a routing decision came out as it did. */
enum work_route_reason {
    WORK_ROUTED,         /* a member was chosen */
    WORK_NO_MEMBERS,     /* the team has nobody */
    WORK_NONE_AVAILABLE, /* every member is away, off or disabled */
    WORK_NO_SKILL_MATCH, /* available members exist, none has every required skill */
    WORK_MANUAL,         /* the team's rule is manual */
};
const char *work_route_reason_name(enum work_route_reason r);

/*
 * Chooses a member (pure). Members are taken in rotation order: ascending id, starting
 * after last_id (the member chosen last time; 0 = none) and wrapping around. Eligible:
 * not disabled and presence available; for skill_match also holding every one of
 * required[0..nreq). round_robin takes the first eligible member in rotation order;
 * least_open and skill_match the eligible member with the smallest open count, ties going
 * to the earliest in rotation order. Returns the index into m[] or -1, with *why set.
 */
int work_route_pick(enum work_rule rule, const struct work_member *m, size_t n,
                    const char *const *required, size_t nreq, int64_t last_id,
                    enum work_route_reason *why);

/* Installation ------------------------------------------------------------------------- */

/* Registers the routing and out-of-order hooks on the CRM (crm_case_hooks_set). Once, at
 * start-up, before serving. */
void work_install(void);

/* Tasks ----------------------------------------------------------------------------------- */

struct work_task_query {
    const char *actor;                   /* charged to this username (mine, assignee) or NULL */
    const char *team;                    /* charged to this team or NULL */
    const char *scope_user, *scope_team; /* agents: only tasks of this user OR this team */
    bool has_due_before;
    int64_t due_before; /* deadline before this instant */
    const char *state;  /* NULL, "warned" or "breached" */
    int limit;
    int64_t offset; /* from the cursor */
    int64_t now;    /* the instant time left is measured from */
};

/*
 * The open tasks matching q, sorted by time left (ascending; ties by id), one page:
 * *out = {"items": [...], "next_cursor": "<offset>" | null} in the shape docs/work.md
 * documents. Caller owns *out.
 */
int work_tasks_list(struct store *s, const struct work_task_query *q, json_t **out,
                    struct smile_err *err);

/*
 * Workload: the tasks matching q (limit and offset ignored) counted per holder —
 * {"items": [{"assignee", "team", "open", "warned" (not breached), "breached", "paused",
 * "most_urgent_ms" (smallest time left)}], ordered by team then assignee (a team's own
 * queue, assignee null, first), "total": {the same counts over all}}. Caller owns *out.
 */
int work_tasks_summary(struct store *s, const struct work_task_query *q, json_t **out,
                       struct smile_err *err);

/*
 * The open tasks of one subject ("case:12"), in the shape of work_tasks_list's items, by
 * measurement id, time left as of now: *out is a JSON array owned by the caller. Open
 * clocks held by nobody are left out. (The stream's task events: notify/tasks.c.)
 */
int work_tasks_of_subject(struct store *s, const char *subject, int64_t now, json_t **out,
                          struct smile_err *err);

/* Presence, skills, team rules ------------------------------------------------------------ */

/*
 * {"user_id", "username", "presence" (as set), "effective" (off outside the shift calendar),
 * "presence_at", "skills", "shift_calendar"} of user id. SMILE_ENOTFOUND if absent.
 */
int work_user_get(struct store *s, int64_t id, int64_t now, json_t **out, struct smile_err *err);
/*
 * Adds "presence", "effective_presence", "skills" and "shift_calendar" to a user object of
 * the users API (by its "id"), or to each user of an array. Users it cannot read are left
 * as they are.
 */
void work_users_decorate(struct store *s, json_t *users, int64_t now);
/* Sets presence (audited as "presence"). SMILE_EINVAL for an unknown value. */
int work_presence_set(struct store *s, const struct audit_who *who, int64_t id,
                      const char *presence, int64_t now, json_t **out, struct smile_err *err);
/*
 * Applies {"skills": [...], "shift_calendar": name|null} (either may be absent) to user id,
 * audited as "skills". Every bad field is reported (422); an unknown calendar too.
 */
int work_user_skills_set(struct store *s, const struct audit_who *who, int64_t id, const json_t *in,
                         int64_t now, json_t **out, struct smile_err *err);
/* {"team_id", "team", "rule", "last_user_id", "log": [newest first, up to limit]}. */
int work_team_routing_get(struct store *s, int64_t team_id, int limit, json_t **out,
                          struct smile_err *err);
/* Sets the team's rule from {"rule": name} (audited on the team as "routing"). */
int work_team_routing_set(struct store *s, const struct audit_who *who, int64_t team_id,
                          const json_t *in, json_t **out, struct smile_err *err);

#endif
