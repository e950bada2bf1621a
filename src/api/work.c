/*
 * work.c — the work part's endpoints: GET /api/v1/tasks (the task inbox), presence
 * (GET/PUT /api/v1/users/{id}/presence: the user or a supervisor sets it), skills and
 * shift calendar (PUT /api/v1/users/{id}/skills, admins), and team routing (GET/PUT
 * /api/v1/teams/{id}/routing: the rule and the decision log). Thin: parse → src/work →
 * render. Agents see their own tasks and their team's; supervisors and admins anyone's.
 */
#include "api/resource.h"

#include <string.h>

#include "crm/audit.h"
#include "crm/staff.h"
#include "store/store.h"
#include "work/work.h"

static const char *
q_nonempty(struct http_request *req, const char *name)
{
    const char *v = http_request_query(req, name);
    return v && v[0] ? v : NULL;
}

static bool
is_sup(const struct http_request *req)
{
    return (req->auth.role & API_ROLES_SUP) != 0;
}

/* Reads an RFC 3339 query parameter; false with a field error if malformed. */
static bool
q_time(struct http_request *req, const char *name, int64_t *out, bool *has, struct smile_err *err)
{
    const char *v = q_nonempty(req, name);
    char path[40];

    *has = v != NULL;
    if (v == NULL)
        return true;
    if (time_parse_rfc3339(v, strlen(v), out) == SMILE_OK)
        return true;
    snprintf(path, sizeof(path), "/query/%s", name);
    smile_err_field(err, path, "must be an RFC 3339 time");
    return false;
}

/*
 * Reads the inbox query (mine, team, assignee, due_before, state, as_of, limit, cursor)
 * and applies the caller's visibility; false when a reply (422, 403) was sent.
 */
static bool
task_query(struct http_request *req, struct work_task_query *q, struct staff_user *me)
{
    struct smile_err err;
    const char *mine = q_nonempty(req, "mine"), *team = q_nonempty(req, "team");
    const char *assignee = q_nonempty(req, "assignee"), *state = q_nonempty(req, "state");
    bool has_at = false;

    smile_err_clear(&err);
    memset(q, 0, sizeof(*q));
    if (!api_query_limit(req, &q->limit) || !api_query_cursor(req, &q->offset))
        return false;
    if (mine && strcmp(mine, "1") != 0 && strcmp(mine, "true") != 0 && strcmp(mine, "0") != 0 &&
        strcmp(mine, "false") != 0)
        smile_err_field(&err, "/query/mine", "must be 1 or 0");
    if (state && strcmp(state, "warned") != 0 && strcmp(state, "breached") != 0)
        smile_err_field(&err, "/query/state", "must be warned or breached");
    q_time(req, "due_before", &q->due_before, &q->has_due_before, &err);
    q_time(req, "as_of", &q->now, &has_at, &err);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    if (!has_at)
        q->now = time_now_ms();
    q->state = state;
    if (staff_user_get(req->db, req->auth.user_id, me, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    if (assignee && !is_sup(req) && strcmp(assignee, me->username) != 0) {
        http_reply_error(req, SMILE_EPERM, "only supervisors and admins see others' tasks");
        return false;
    }
    if (team && !is_sup(req) && strcmp(team, me->team) != 0) {
        http_reply_error(req, SMILE_EPERM, "agents see the tasks of their own team only");
        return false;
    }
    if (mine && (strcmp(mine, "1") == 0 || strcmp(mine, "true") == 0))
        q->actor = me->username;
    else if (assignee)
        q->actor = assignee;
    q->team = team;
    if (!is_sup(req) && q->actor == NULL && q->team == NULL) {
        q->scope_user = me->username;
        q->scope_team = me->team;
    }
    return true;
}

/* GET the inbox or its summary: the query, then fn over it. */
static void
tasks(struct http_request *req,
      int (*fn)(struct store *, const struct work_task_query *, json_t **, struct smile_err *))
{
    struct work_task_query q;
    struct staff_user me;
    struct smile_err err;
    json_t *out;

    smile_err_clear(&err);
    if (!task_query(req, &q, &me))
        return;
    if (fn(req->db, &q, &out, &err) != SMILE_OK) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_tasks_list(struct http_request *req)
{
    tasks(req, work_tasks_list);
}

void
api_tasks_summary(struct http_request *req)
{
    tasks(req, work_tasks_summary);
}

void
api_presence_get(struct http_request *req)
{
    struct smile_err err;
    json_t *out;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (work_user_get(req->db, id, time_now_ms(), &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_presence_put(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL, *out;
    const char *key;
    json_t *v;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (work_user_get(req->db, id, time_now_ms(), &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    json_decref(out);
    if (id != req->auth.user_id && !is_sup(req)) {
        http_reply_error(req, SMILE_EPERM, "agents set their own presence only");
        return;
    }
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (!json_is_object(body)) {
        smile_err_field(&err, "", "send a JSON object {\"presence\": …}");
    } else {
        json_object_foreach(body, key, v)
        {
            if (strcmp(key, "presence") != 0) {
                char path[80];
                snprintf(path, sizeof(path), "/%.70s", key);
                smile_err_field(&err, path, "only presence can be set here");
            }
        }
        if (!json_is_string(json_object_get(body, "presence")))
            smile_err_field(&err, "/presence", "must be available, away or off");
    }
    if (err.code != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    if (work_presence_set(req->db, &who, id, json_string_value(json_object_get(body, "presence")),
                          time_now_ms(), &out, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    http_reply_json(req, 200, out);
}

/* A setter of the work part behind a PUT /{id} whose JSON body it validates. */
typedef int put_fn(const struct api_call *c, int64_t id, json_t *body, json_t **out,
                   struct smile_err *err);

/* PUT /{id}: the body to the setter, 200 with what it returns. */
static void
put(struct http_request *req, put_fn *set)
{
    struct smile_err err;
    struct api_call c;
    json_t *body = NULL, *out = NULL;
    int64_t id;
    int rc;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_body(req, &body))
        return;
    api_call_init(req, &c);
    rc = set(&c, id, body, &out, &err);
    json_decref(body);
    if (rc != SMILE_OK) {
        api_fail(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

static int
skills_set(const struct api_call *c, int64_t id, json_t *body, json_t **out, struct smile_err *err)
{
    return work_user_skills_set(c->db, &c->who, id, body, c->now_ms, out, err);
}

void
api_skills_put(struct http_request *req)
{
    put(req, skills_set);
}

void
api_team_routing_get(struct http_request *req)
{
    struct smile_err err;
    json_t *out;
    int64_t id;
    int limit;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_query_limit(req, &limit))
        return;
    if (work_team_routing_get(req->db, id, limit, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

static int
routing_set(const struct api_call *c, int64_t id, json_t *body, json_t **out, struct smile_err *err)
{
    return work_team_routing_set(c->db, &c->who, id, body, out, err);
}

void
api_team_routing_put(struct http_request *req)
{
    put(req, routing_set);
}
