/*
 * route.c — routing cases to team members and marking CRM functions done out of order.
 * work_route_pick() is the pure choice (rule, members with presence, skills and open
 * counts, the round-robin position → a member); the routing hook the CRM calls inside the
 * transaction of a case change gathers those inputs from the database, records the
 * decision in work_routing_log, advances the team's round-robin position (work_rr) and
 * hands the chosen member back to the CRM, which assigns the case as actor "routing". The
 * annotation hook adds data.out_of_order to a case event whose CRM function no open step
 * of the case's instances expects. Both run on the caller's connection and transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "crm/crm.h"
#include "store/store.h"
#include "work/work_int.h"

static const char *const presence_names[] = {"available", "away", "off"};
static const char *const rule_names[] = {"manual", "round_robin", "least_open", "skill_match"};
static const char *const reason_names[] = {"assigned", "no_members", "none_available",
                                           "no_skill_match", "manual"};

int
work_presence_parse(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(presence_names); i++)
        if (strcmp(name, presence_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
work_presence_name(enum work_presence p)
{
    return (unsigned)p < ARRAY_LEN(presence_names) ? presence_names[p] : "off";
}

int
work_rule_parse(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(rule_names); i++)
        if (strcmp(name, rule_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
work_rule_name(enum work_rule r)
{
    return (unsigned)r < ARRAY_LEN(rule_names) ? rule_names[r] : "manual";
}

const char *
work_route_reason_name(enum work_route_reason r)
{
    return (unsigned)r < ARRAY_LEN(reason_names) ? reason_names[r] : "?";
}

bool
work_skill_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > WORK_SKILL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

static bool
has_skills(const struct work_member *m, const char *const *req, size_t nreq)
{
    for (size_t r = 0; r < nreq; r++) {
        bool found = false;
        for (size_t k = 0; k < m->nskills && !found; k++)
            found = strcmp(m->skills[k], req[r]) == 0;
        if (!found)
            return false;
    }
    return true;
}

int
work_route_pick(enum work_rule rule, const struct work_member *m, size_t n,
                const char *const *required, size_t nreq, int64_t last_id,
                enum work_route_reason *why)
{
    size_t start = 0, avail = 0;
    int best = -1;

    if (rule == WORK_RULE_MANUAL) {
        *why = WORK_MANUAL;
        return -1;
    }
    if (n == 0) {
        *why = WORK_NO_MEMBERS;
        return -1;
    }
    /* Rotation starts at the first member (by id) after last_id; ids need not be sorted. */
    {
        int64_t after = INT64_MAX, lowest = INT64_MAX;
        size_t ia = n, il = 0;
        for (size_t i = 0; i < n; i++) {
            if (m[i].id > last_id && m[i].id < after) {
                after = m[i].id;
                ia = i;
            }
            if (m[i].id < lowest) {
                lowest = m[i].id;
                il = i;
            }
        }
        start = ia < n ? ia : il;
    }
    /* Walk members in rotation order: ascending id from start, wrapping. */
    {
        int64_t cur_id = m[start].id;
        size_t cur = start;
        for (size_t step = 0; step < n; step++) {
            const struct work_member *x = &m[cur];
            if (!x->disabled && x->presence == WORK_AVAILABLE) {
                avail++;
                if (rule == WORK_RULE_SKILL_MATCH && !has_skills(x, required, nreq)) {
                    /* not eligible */
                } else if (rule == WORK_RULE_ROUND_ROBIN) {
                    *why = WORK_ROUTED;
                    return (int)cur;
                } else if (best < 0 || x->open < m[best].open) {
                    best = (int)cur;
                }
            }
            /* next: the smallest id above cur_id, else wrap to the smallest id */
            {
                int64_t nx = INT64_MAX, lo = INT64_MAX;
                size_t in = n, il = 0;
                for (size_t i = 0; i < n; i++) {
                    if (m[i].id > cur_id && m[i].id < nx) {
                        nx = m[i].id;
                        in = i;
                    }
                    if (m[i].id < lo) {
                        lo = m[i].id;
                        il = i;
                    }
                }
                cur = in < n ? in : il;
                cur_id = m[cur].id;
            }
        }
    }
    if (best >= 0) {
        *why = WORK_ROUTED;
        return best;
    }
    *why = avail == 0 ? WORK_NONE_AVAILABLE : WORK_NO_SKILL_MATCH;
    return -1;
}

/* The routing hook --------------------------------------------------------------------- */

/* A JSON array of strings stored as text, or an array value: its strings, borrowed from j. */
static size_t
strings_of(json_t *j, const char **out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < json_array_size(j) && n < cap; i++)
        if (json_is_string(json_array_get(j, i)))
            out[n++] = json_string_value(json_array_get(j, i));
    return n;
}

struct member_row {
    struct work_member m;
    char *username;
    json_t *skills_json;
    const char *skills[WORK_SKILLS_MAX];
};

static enum work_presence
effective_presence(struct work_defs *d, const char *presence, const char *shift, int64_t now)
{
    int p = work_presence_parse(presence);

    if (p < 0)
        p = WORK_OFF;
    if (p == WORK_AVAILABLE && shift && shift[0] && d) {
        const struct calendar *cal = work_defs_calendar(d, shift);
        /* A shift calendar that no longer compiles or exists: treat as off, safest. */
        if (cal == NULL || !calendar_is_working(cal, now))
            p = WORK_OFF;
    }
    return (enum work_presence)p;
}

/* Open work of a user: open cases assigned + open non-case tasks charged (docs/work.md). */
#define OPEN_COUNT_SQL                                                                             \
    "(SELECT count(*) FROM cases k WHERE k.assignee_id = u.id AND k.deleted_at IS NULL"            \
    " AND k.status IN ('new', 'open', 'pending')) + (SELECT count(*) FROM measurements m"          \
    " WHERE m.charged_actor = u.username AND m.state IN ('running', 'paused')"                     \
    " AND substr(m.subject, 1, 5) <> 'case:')"

static int
route_hook(struct store *s, int64_t case_id, const json_t *rec, int64_t *out_user,
           struct smile_err *err)
{
    static const char sql_team[] =
        "SELECT routing, coalesce((SELECT last_user_id FROM work_rr WHERE team_id = $1), 0)"
        " FROM teams WHERE id = $1 AND deleted_at IS NULL";
    static const char sql_members[] =
        "SELECT u.id, u.username, u.presence, u.disabled, u.skills, "
        "u.shift_calendar, " OPEN_COUNT_SQL " FROM users u WHERE u.team_id = $1 ORDER BY u.id";
    static const char sql_log[] =
        "INSERT INTO work_routing_log (at, team_id, case_id, rule, user_id, reason, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)";
    static const char sql_rr[] =
        "INSERT INTO work_rr (team_id, last_user_id, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (team_id) DO UPDATE SET last_user_id = excluded.last_user_id,"
        " updated_at = excluded.updated_at";
    int64_t team = json_integer_value(json_object_get(rec, "team_id")), last = 0;
    int64_t now = time_now_ms();
    struct member_row *rows = NULL;
    size_t n = 0;
    const char *req[WORK_SKILLS_MAX];
    size_t nreq;
    json_t *reqj = json_object_get(rec, "required_skills"), *parsed = NULL, *detail;
    struct work_defs *d;
    struct store_stmt *st;
    enum work_route_reason why;
    int rule = -1, rc, pick;
    char *dtext;

    *out_user = 0;
    if (json_is_string(reqj))
        reqj = parsed = json_loads(json_string_value(reqj), 0, NULL);
    nreq = strings_of(reqj, req, ARRAY_LEN(req));
    if ((rc = store_prepare(s, sql_team, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, team);
    if ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        rule = work_rule_parse(store_stmt_text(st, 0));
        last = store_stmt_int64(st, 1);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    if (rule <= WORK_RULE_MANUAL)
        goto out; /* manual (or the team is gone): a person assigns */
    if ((d = work_defs_get(s, err)) == NULL) {
        rc = err->code ? err->code : SMILE_EDB;
        goto out;
    }
    if ((rc = store_prepare(s, sql_members, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, team);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct member_row *r;
        rows = xrealloc(rows, (n + 1) * sizeof(*rows));
        r = &rows[n++];
        memset(r, 0, sizeof(*r));
        r->username = xstrdup(store_stmt_text(st, 1));
        r->skills_json =
            json_loads(store_stmt_text(st, 4) ? store_stmt_text(st, 4) : "[]", 0, NULL);
        r->m.id = store_stmt_int64(st, 0);
        r->m.presence = effective_presence(d, store_stmt_text(st, 2), store_stmt_text(st, 5), now);
        r->m.disabled = store_stmt_int64(st, 3) != 0;
        r->m.open = store_stmt_int64(st, 6);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    for (size_t i = 0; i < n; i++) {
        rows[i].m.nskills = strings_of(rows[i].skills_json, rows[i].skills, WORK_SKILLS_MAX);
        rows[i].m.skills = rows[i].skills;
    }
    {
        struct work_member *ms = xcalloc(n ? n : 1, sizeof(*ms));
        for (size_t i = 0; i < n; i++)
            ms[i] = rows[i].m;
        pick = work_route_pick((enum work_rule)rule, ms, n, req, nreq, last, &why);
        free(ms);
    }
    detail = json_object();
    {
        json_t *cand = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                cand, json_pack("{s:s, s:s, s:b, s:I}", "username", rows[i].username, "presence",
                                work_presence_name(rows[i].m.presence), "disabled",
                                rows[i].m.disabled, "open", (json_int_t)rows[i].m.open));
        json_object_set_new(detail, "members", cand);
        json_object_set_new(detail, "required_skills", json_deep_copy(reqj ? reqj : json_null()));
    }
    dtext = json_dumps(detail, JSON_COMPACT);
    json_decref(detail);
    if ((rc = store_prepare(s, sql_log, &st, err)) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, now);
        store_stmt_bind_int64(st, 2, team);
        store_stmt_bind_int64(st, 3, case_id);
        store_stmt_bind_text(st, 4, work_rule_name((enum work_rule)rule), -1);
        if (pick >= 0)
            store_stmt_bind_int64(st, 5, rows[pick].m.id);
        else
            store_stmt_bind_null(st, 5);
        store_stmt_bind_text(st, 6, work_route_reason_name(why), -1);
        store_stmt_bind_text(st, 7, dtext, -1);
        rc =
            store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : (err->code ? err->code : SMILE_EDB);
        store_stmt_reset(st);
    }
    free(dtext);
    if (rc != SMILE_OK)
        goto out;
    if (pick < 0) {
        log_info("msg=\"case left unassigned\" case=%" PRId64 " team=%" PRId64 " rule=%s reason=%s",
                 case_id, team, work_rule_name((enum work_rule)rule), work_route_reason_name(why));
        goto out;
    }
    if ((rc = store_prepare(s, sql_rr, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, team);
    store_stmt_bind_int64(st, 2, rows[pick].m.id);
    store_stmt_bind_int64(st, 3, now);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : (err->code ? err->code : SMILE_EDB);
    store_stmt_reset(st);
    if (rc == SMILE_OK)
        *out_user = rows[pick].m.id;
out:
    for (size_t i = 0; i < n; i++) {
        free(rows[i].username);
        json_decref(rows[i].skills_json);
    }
    free(rows);
    json_decref(parsed);
    return rc;
}

/* Out of order ------------------------------------------------------------------------ */

const char *
work_event_function(const char *type, const json_t *data)
{
    if (strcmp(type, "case.assigned") == 0)
        return "assign";
    if (strcmp(type, "case.replied") == 0) {
        const char *by = json_string_value(json_object_get(data, "by"));
        return by && strcmp(by, "customer") == 0 ? NULL : "reply";
    }
    if (strcmp(type, "case.resolved") == 0)
        return "resolve";
    if (strcmp(type, "case.closed") == 0)
        return "close";
    return NULL;
}

static int
annotate_hook(struct store *s, const char *type, const char *subject, const char *actor,
              json_t *data, struct smile_err *err)
{
    static const char sql_inst[] = "SELECT count(*) FROM instances WHERE subject = $1";
    static const char sql_open[] =
        "SELECT process_id, version, step_key FROM measurements"
        " WHERE subject = $1 AND state IN ('running', 'paused') ORDER BY id";
    const char *fn = work_event_function(type, data);
    struct work_defs *d;
    struct store_stmt *st;
    json_t *expected;
    int64_t ninst = 0;
    bool match = false;
    int rc;

    /* Smile's own routing follows the team's rule, not the process: never out of order. */
    if (fn == NULL || (actor && strcmp(actor, "routing") == 0))
        return SMILE_OK;
    if ((rc = store_prepare(s, sql_inst, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    if ((rc = store_stmt_step(st, err)) == STORE_ROW)
        ninst = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    if (rc != STORE_ROW)
        return err->code ? err->code : SMILE_EDB;
    if (ninst == 0)
        return SMILE_OK; /* no process runs on this case: nothing to be out of order with */
    if ((d = work_defs_get(s, err)) == NULL)
        return err->code ? err->code : SMILE_EDB;
    if ((rc = store_prepare(s, sql_open, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    expected = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        int64_t pid = store_stmt_int64(st, 0);
        int ver = (int)store_stmt_int64(st, 1);
        char key[64];
        const struct work_version *v;
        int k;

        snprintf(key, sizeof(key), "%s", store_stmt_text(st, 2) ? store_stmt_text(st, 2) : "");
        /* the look-up may run a query on s: copy what the row gave first */
        v = NULL;
        if (store_stmt_text(st, 2)) {
            struct smile_err e2;
            smile_err_clear(&e2);
            v = work_defs_version(d, s, pid, ver, &e2);
        }
        if (v == NULL || v->p == NULL || (k = engine_process_step_find(v->p, key)) < 0)
            continue;
        {
            const char *f = engine_process_step_function(v->p, (size_t)k);
            bool seen = false;
            if (f == NULL)
                continue;
            if (strcmp(f, fn) == 0)
                match = true;
            for (size_t i = 0; i < json_array_size(expected) && !seen; i++)
                seen = strcmp(json_string_value(json_array_get(expected, i)), f) == 0;
            if (!seen)
                json_array_append_new(expected, json_string(f));
        }
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(expected);
        return err->code ? err->code : SMILE_EDB;
    }
    if (!match) {
        json_object_set_new(data, "out_of_order", json_true());
        json_object_set_new(data, "expected", expected);
    } else {
        json_decref(expected);
    }
    return SMILE_OK;
}

void
work_install(void)
{
    crm_case_hooks_set(route_hook, annotate_hook);
}
