/*
 * tasks.c — the task inbox: every open clock (a measurement running or paused) charged to
 * a person or a team, with its process, step (title in English and Chinese, the CRM
 * function that completes it), subject, case, customer, holder, deadline and the time
 * left in the step's own clock (business ms with the process's calendar, or wall ms),
 * negative once breached, plus warned / breached flags. Read from the runtime's tables
 * through partial indexes on open clocks (0002_work.sql) in two passes: a light pass over
 * the candidates computes holder, time left and flags and sorts them in memory (time left
 * depends on each process's calendar); only the page's tasks are then read in full and
 * rendered. Paging is by offset (the cursor).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "store/store.h"
#include "work/work_int.h"

#define T_OPEN " state IN ('running', 'paused')"
#define T_COLS                                                                                     \
    "SELECT m.id, m.process_id, m.version, m.step_key, m.subject, m.started_at, m.deadline_at,"    \
    " m.elapsed_ms, m.target_ms, m.result, m.state, m.charged_actor, m.charged_team, p.name,"      \
    " k.id, cu.id, cu.name,"                                                                       \
    " CASE WHEN m.state = 'running' THEN EXISTS (SELECT 1 FROM deadlines d"                        \
    " WHERE d.measurement_id = m.id AND d.kind = 'warning' AND d.due_at <= $1)"                    \
    " ELSE EXISTS (SELECT 1 FROM measurement_log l WHERE l.measurement_id = m.id"                  \
    " AND l.kind = 'warn') END, ku.username, kt.name"                                              \
    " FROM measurements m LEFT JOIN processes p ON p.id = m.process_id"                            \
    " LEFT JOIN cases k ON substr(m.subject, 1, 5) = 'case:'"                                      \
    " AND k.id = CAST(substr(m.subject, 6) AS INTEGER) AND k.deleted_at IS NULL"                   \
    " LEFT JOIN users ku ON ku.id = k.assignee_id LEFT JOIN teams kt ON kt.id = k.team_id"         \
    " LEFT JOIN customers cu ON cu.id = coalesce(k.customer_id, CASE WHEN m.customer GLOB"         \
    " '[0-9]*' AND length(m.customer) < 16 THEN CAST(m.customer AS INTEGER) END)"                  \
    " AND cu.deleted_at IS NULL WHERE m." T_OPEN " AND ($2 IS NULL OR m.deadline_at < $2)"
/* The light pass: the same column positions as T_COLS, the costly ones left out. */
#define T_LIGHT                                                                                    \
    "SELECT m.id, m.process_id, m.version, m.step_key, NULL, NULL, m.deadline_at,"                 \
    " m.elapsed_ms, m.target_ms, m.result, m.state, m.charged_actor, m.charged_team, NULL,"        \
    " k.id, NULL, NULL, $1 IS NULL, ku.username, kt.name FROM measurements m"                      \
    " LEFT JOIN cases k ON substr(m.subject, 1, 5) = 'case:'"                                      \
    " AND k.id = CAST(substr(m.subject, 6) AS INTEGER) AND k.deleted_at IS NULL"                   \
    " LEFT JOIN users ku ON ku.id = k.assignee_id LEFT JOIN teams kt ON kt.id = k.team_id"         \
    " WHERE m." T_OPEN " AND ($2 IS NULL OR m.deadline_at < $2)"
/* Open clocks of cases held by a user ($3) or a team ($4 / $3). */
#define T_CASES_OF_USER(n)                                                                         \
    " SELECT m2.id FROM cases k2 JOIN measurements m2 ON m2.subject = 'case:' || k2.id"            \
    " AND m2." T_OPEN " WHERE k2.deleted_at IS NULL AND k2.assignee_id ="                          \
    " (SELECT id FROM users WHERE username = $" n ")"
#define T_CASES_OF_TEAM(n)                                                                         \
    " SELECT m2.id FROM cases k2 JOIN measurements m2 ON m2.subject = 'case:' || k2.id"            \
    " AND m2." T_OPEN " WHERE k2.deleted_at IS NULL AND k2.team_id ="                              \
    " (SELECT id FROM teams WHERE name = $" n " AND deleted_at IS NULL)"

/*
 * One candidate query per shape, each able to use an index (the store caches statements by
 * SQL address): clocks charged to the person / team, plus the open clocks of the cases the
 * person / team holds now. The exact holder test is then made per row (holder()).
 */
static const char sql_actor[] =
    T_LIGHT " AND m.id IN (SELECT id FROM measurements WHERE charged_actor = $3 AND" T_OPEN
            " UNION" T_CASES_OF_USER("3") ")";
static const char sql_team[] =
    T_LIGHT " AND m.id IN (SELECT id FROM measurements WHERE charged_team = $3 AND" T_OPEN
            " UNION" T_CASES_OF_TEAM("3") ")";
static const char sql_all[] = T_LIGHT;
/* A person's inbox is small: read it in full at once (no second read per task). */
static const char sql_actor_full[] =
    T_COLS " AND m.id IN (SELECT id FROM measurements WHERE charged_actor = $3 AND" T_OPEN
           " UNION" T_CASES_OF_USER("3") ")";
static const char sql_scope_full[] =
    T_COLS " AND m.id IN (SELECT id FROM measurements WHERE (charged_actor = $3 OR"
           " charged_team = $4) AND" T_OPEN
           " UNION" T_CASES_OF_USER("3") " UNION" T_CASES_OF_TEAM("4") ")";
/* The full row of one task (the page), and whether one has passed a warning point. */
static const char sql_one[] = T_COLS " AND m.id = $3";
/* The open clocks of one subject (the stream's task events, notify/tasks.c). */
static const char sql_subject[] = T_COLS " AND m.subject = $3 ORDER BY m.id";
static const char sql_warned[] =
    "SELECT CASE WHEN m.state = 'running' THEN EXISTS (SELECT 1 FROM deadlines d"
    " WHERE d.measurement_id = m.id AND d.kind = 'warning' AND d.due_at <= $1)"
    " ELSE EXISTS (SELECT 1 FROM measurement_log l WHERE l.measurement_id = m.id"
    " AND l.kind = 'warn') END FROM measurements m WHERE m.id = $2";

static bool
same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/*
 * Who holds an open clock now. On a live case the case row is the truth: a step charged
 * to a person belongs to the case's assignee (a step charged by segments would otherwise
 * stay with whoever held it longest), and every step to the case's team. Elsewhere (calls,
 * e-mails, visits) the measurement's charged actor and team.
 */
static void
holder(struct store_stmt *st, const char **actor, const char **team)
{
    bool on_case = !store_stmt_is_null(st, 14);

    *actor = store_stmt_text(st, 11);
    *team = store_stmt_text(st, 12);
    if (on_case) {
        if (*actor)
            *actor = store_stmt_text(st, 18);
        if (store_stmt_text(st, 19))
            *team = store_stmt_text(st, 19);
    }
}

struct task {
    int64_t id, left;
    bool paused, breached;
    int warned;         /* 1, 0, or -1 not yet read */
    char *actor, *team; /* the holder */
    json_t *j;          /* rendered already (a person's inbox), or NULL */
};

static void
tasks_free(struct task *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].actor);
        free(t[i].team);
        json_decref(t[i].j);
    }
    free(t);
}

static int
task_cmp(const void *a, const void *b)
{
    const struct task *x = a, *y = b;

    if (x->left != y->left)
        return x->left < y->left ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* What a row of T_LIGHT or T_COLS says about a task, evaluated as of q->now. */
struct eval {
    const struct work_version *v;
    int step; /* index in v->p, or -1 */
    const char *actor, *team;
    int64_t left;
    bool paused, breached;
};

static void
evaluate(struct work_defs *d, struct store *s, struct store_stmt *st, int64_t now, struct eval *e)
{
    const char *result = store_stmt_text(st, 9), *state = store_stmt_text(st, 10);
    bool has_dl = !store_stmt_is_null(st, 6);
    int64_t dl = store_stmt_int64(st, 6);
    struct smile_err e2;

    smile_err_clear(&e2);
    e->paused = state && strcmp(state, "paused") == 0;
    holder(st, &e->actor, &e->team);
    /* Runs at most one query per version ever seen by this thread; st stays valid. */
    e->v = work_defs_version(d, s, store_stmt_int64(st, 1), (int)store_stmt_int64(st, 2), &e2);
    e->step = e->v && e->v->p && store_stmt_text(st, 3)
                  ? engine_process_step_find(e->v->p, store_stmt_text(st, 3))
                  : -1;
    if (e->paused || !has_dl)
        e->left = store_stmt_int64(st, 8) - store_stmt_int64(st, 7);
    else if (e->step >= 0 && e->v->business[e->step] && e->v->cal)
        e->left = calendar_diff(e->v->cal, now, dl);
    else
        e->left = dl - now;
    /* A running clock is breached once its deadline has passed as of now (the stored
     * result depends on when it was folded); a paused one keeps the result it had. */
    if (!e->paused && has_dl)
        e->breached = dl < now;
    else
        e->breached = result && strcmp(result, "breached") == 0;
}

static int
warned_of(struct store *s, int64_t id, int64_t now, struct smile_err *err)
{
    struct store_stmt *st;
    int rc, w = 0;

    if ((rc = store_prepare(s, sql_warned, &st, err)) != SMILE_OK)
        return -1;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_int64(st, 2, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        w = store_stmt_int64(st, 0) != 0;
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? w : -1;
}

/* Renders the T_COLS row st of an evaluated task. */
static json_t *
render_row(struct store_stmt *st, const struct eval *e)
{
    json_t *j, *title, *cust = json_null();
    const char *fn = NULL, *key = store_stmt_text(st, 3) ? store_stmt_text(st, 3) : "";
    bool warned = e->breached || store_stmt_int64(st, 17) != 0;

    if (e->step >= 0) {
        fn = engine_process_step_function(e->v->p, (size_t)e->step);
        title = json_pack("{s:s?, s:s?}", "en",
                          engine_process_step_title(e->v->p, (size_t)e->step, "en"), "zh",
                          engine_process_step_title(e->v->p, (size_t)e->step, "zh"));
    } else {
        title = json_pack("{s:s, s:s}", "en", key, "zh", key);
    }
    if (!store_stmt_is_null(st, 15)) {
        json_decref(cust);
        cust = json_pack("{s:I, s:o}", "id", (json_int_t)store_stmt_int64(st, 15), "name",
                         store_stmt_json_text(st, 16));
    }
    j = json_object();
    json_object_set_new(j, "id", json_integer(store_stmt_int64(st, 0)));
    json_object_set_new(j, "process",
                        json_pack("{s:I, s:o}", "id", (json_int_t)store_stmt_int64(st, 1), "name",
                                  store_stmt_json_text(st, 13)));
    json_object_set_new(j, "step", json_pack("{s:s, s:o}", "key", key, "title", title));
    json_object_set_new(j, "function", fn ? json_string(fn) : json_null());
    json_object_set_new(j, "subject", store_stmt_json_text(st, 4));
    json_object_set_new(j, "case_id",
                        store_stmt_is_null(st, 14) ? json_null()
                                                   : json_integer(store_stmt_int64(st, 14)));
    json_object_set_new(j, "customer", cust);
    json_object_set_new(j, "assignee", e->actor ? json_string(e->actor) : json_null());
    json_object_set_new(j, "team", e->team ? json_string(e->team) : json_null());
    json_object_set_new(j, "started_at", store_stmt_json_time(st, 5));
    json_object_set_new(j, "deadline_at", store_stmt_json_time(st, 6));
    json_object_set_new(j, "time_left_ms", json_integer(e->left));
    json_object_set_new(j, "paused", json_boolean(e->paused));
    json_object_set_new(j, "warned", json_boolean(warned));
    json_object_set_new(j, "breached", json_boolean(e->breached));
    return j;
}

/* Reads task id in full and renders it; NULL if it is gone (closed in the meantime). */
static json_t *
render(struct store *s, int64_t id, int64_t now, struct smile_err *err, int *rc)
{
    struct work_defs *d = work_defs_get(s, err);
    struct store_stmt *st;
    json_t *j;
    struct eval e;

    if (d == NULL) {
        *rc = err->code ? err->code : SMILE_EDB;
        return NULL;
    }
    if ((*rc = store_prepare(s, sql_one, &st, err)) != SMILE_OK)
        return NULL;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_null(st, 2);
    store_stmt_bind_int64(st, 3, id);
    *rc = store_stmt_step(st, err);
    if (*rc != STORE_ROW) {
        store_stmt_reset(st);
        *rc = *rc == STORE_DONE ? SMILE_OK : (err->code ? err->code : SMILE_EDB);
        return NULL;
    }
    *rc = SMILE_OK;
    evaluate(d, s, st, now, &e);
    j = render_row(st, &e);
    store_stmt_reset(st);
    return j;
}

/*
 * Every task matching q (q->limit and q->offset ignored), sorted; *out owned by the caller
 * (tasks_free). need_warned: read the warned flag of each (the summary counts it).
 */
static int
collect(struct store *s, const struct work_task_query *q, bool need_warned, struct task **out,
        size_t *out_n, struct smile_err *err)
{
    const char *sql;
    struct work_defs *d;
    struct store_stmt *st;
    struct task *t = NULL;
    size_t n = 0, cap = 0;
    bool want_warned = q->state && strcmp(q->state, "warned") == 0, full;
    int rc;

    *out = NULL;
    *out_n = 0;
    if ((d = work_defs_get(s, err)) == NULL)
        return err->code ? err->code : SMILE_EDB;
    if (q->actor)
        sql = q->team ? sql_actor : sql_actor_full;
    else if (q->team)
        sql = sql_team;
    else if (q->scope_user)
        sql = sql_scope_full;
    else
        sql = sql_all;
    full = sql == sql_actor_full || sql == sql_scope_full;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, q->now);
    if (q->has_due_before)
        store_stmt_bind_int64(st, 2, q->due_before);
    else
        store_stmt_bind_null(st, 2);
    if (sql == sql_actor || sql == sql_actor_full) {
        store_stmt_bind_text(st, 3, q->actor, -1);
    } else if (sql == sql_team) {
        store_stmt_bind_text(st, 3, q->team, -1);
    } else if (sql == sql_scope_full) {
        store_stmt_bind_text(st, 3, q->scope_user, -1);
        store_stmt_bind_text(st, 4, q->scope_team ? q->scope_team : "", -1);
    }
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct eval e;
        int64_t id = store_stmt_int64(st, 0);
        int warned = -1;

        evaluate(d, s, st, q->now, &e);
        if ((e.actor == NULL && e.team == NULL) || (q->actor && !same(e.actor, q->actor)) ||
            (q->team && !same(e.team, q->team)) ||
            (q->scope_user && !same(e.actor, q->scope_user) && !same(e.team, q->scope_team)))
            continue;
        if (q->state && strcmp(q->state, "breached") == 0 && !e.breached)
            continue;
        if (e.breached)
            warned = 1;
        else if (full)
            warned = store_stmt_int64(st, 17) != 0;
        else if (want_warned || need_warned)
            warned = warned_of(s, id, q->now, err);
        if (warned < 0 && (want_warned || need_warned) && !e.breached) {
            rc = err->code ? err->code : SMILE_EDB;
            break;
        }
        if (want_warned && (warned != 1 || e.breached))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            t = xrealloc(t, cap * sizeof(*t));
        }
        t[n++] = (struct task){.id = id,
                               .left = e.left,
                               .paused = e.paused,
                               .breached = e.breached,
                               .warned = warned,
                               .actor = e.actor ? xstrdup(e.actor) : NULL,
                               .team = e.team ? xstrdup(e.team) : NULL,
                               .j = full ? render_row(st, &e) : NULL};
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        tasks_free(t, n);
        return rc == STORE_ROW ? SMILE_EDB : (err->code ? err->code : SMILE_EDB);
    }
    if (n > 1)
        qsort(t, n, sizeof(*t), task_cmp);
    *out = t;
    *out_n = n;
    return SMILE_OK;
}

int
work_tasks_list(struct store *s, const struct work_task_query *q, json_t **out,
                struct smile_err *err)
{
    struct task *t = NULL;
    size_t n = 0;
    json_t *items;
    int rc;

    *out = NULL;
    if ((rc = collect(s, q, false, &t, &n, err)) != SMILE_OK)
        return rc;
    items = json_array();
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        json_t *j;
        if ((int64_t)i < q->offset || (int64_t)i >= q->offset + q->limit)
            continue;
        if (t[i].j)
            json_array_append(items, t[i].j);
        else if ((j = render(s, t[i].id, q->now, err, &rc)) != NULL)
            json_array_append_new(items, j);
    }
    if (rc != SMILE_OK) {
        json_decref(items);
        tasks_free(t, n);
        return rc;
    }
    {
        char c[24];
        bool more = q->offset + q->limit < (int64_t)n;
        snprintf(c, sizeof(c), "%" PRId64, q->offset + q->limit);
        *out = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                         more ? json_string(c) : json_null());
    }
    tasks_free(t, n);
    return SMILE_OK;
}

/* One holder's line of the summary. */
struct line {
    const char *assignee, *team; /* borrowed from the tasks */
    int64_t open, warned, breached, paused, urgent;
};

static int
str_cmp_null_first(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b ? 0 : a == NULL ? -1 : 1;
    return strcmp(a, b);
}

static int
line_cmp(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    int c = str_cmp_null_first(x->team, y->team);

    return c ? c : str_cmp_null_first(x->assignee, y->assignee);
}

static void
count(struct line *l, const struct task *t)
{
    if (l->open == 0 || t->left < l->urgent)
        l->urgent = t->left;
    l->open++;
    l->breached += t->breached;
    l->warned += !t->breached && t->warned == 1;
    l->paused += t->paused;
}

static json_t *
line_json(const struct line *l)
{
    return json_pack("{s:s?, s:s?, s:I, s:I, s:I, s:I, s:I}", "assignee", l->assignee, "team",
                     l->team, "open", (json_int_t)l->open, "warned", (json_int_t)l->warned,
                     "breached", (json_int_t)l->breached, "paused", (json_int_t)l->paused,
                     "most_urgent_ms", (json_int_t)l->urgent);
}

int
work_tasks_summary(struct store *s, const struct work_task_query *q, json_t **out,
                   struct smile_err *err)
{
    struct task *t = NULL;
    struct line *lines = NULL, total = {0};
    size_t n = 0, nl = 0;
    json_t *items, *tot;
    int rc;

    *out = NULL;
    if ((rc = collect(s, q, true, &t, &n, err)) != SMILE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *a = t[i].actor, *tm = t[i].team;
        size_t k;

        for (k = 0; k < nl; k++)
            if (str_cmp_null_first(lines[k].assignee, a) == 0 &&
                str_cmp_null_first(lines[k].team, tm) == 0)
                break;
        if (k == nl) {
            lines = xrealloc(lines, (nl + 1) * sizeof(*lines));
            lines[nl++] = (struct line){.assignee = a, .team = tm};
        }
        count(&lines[k], &t[i]);
        count(&total, &t[i]);
    }
    if (nl > 1)
        qsort(lines, nl, sizeof(*lines), line_cmp);
    items = json_array();
    for (size_t k = 0; k < nl; k++)
        json_array_append_new(items, line_json(&lines[k]));
    tot = line_json(&total);
    json_object_del(tot, "assignee");
    json_object_del(tot, "team");
    if (total.open == 0)
        json_object_set_new(tot, "most_urgent_ms", json_null());
    *out = json_pack("{s:o, s:o}", "items", items, "total", tot);
    tasks_free(t, n);
    free(lines);
    return SMILE_OK;
}

int
work_tasks_of_subject(struct store *s, const char *subject, int64_t now, json_t **out,
                      struct smile_err *err)
{
    struct work_defs *d;
    struct store_stmt *st;
    json_t *items;
    int rc;

    *out = NULL;
    if ((d = work_defs_get(s, err)) == NULL)
        return err->code ? err->code : SMILE_EDB;
    if ((rc = store_prepare(s, sql_subject, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_null(st, 2);
    store_stmt_bind_text(st, 3, subject, -1);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct eval e;

        evaluate(d, s, st, now, &e);
        if (e.actor == NULL && e.team == NULL)
            continue; /* held by nobody: not a task */
        json_array_append_new(items, render_row(st, &e));
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(items);
        return err->code ? err->code : SMILE_EDB;
    }
    *out = items;
    return SMILE_OK;
}
