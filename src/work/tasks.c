/*
 * tasks.c — the task inbox: every open clock (a measurement running or paused) charged to
 * a person or a team, with its process, step (title in English and Chinese, the CRM
 * function that completes it), subject, case, customer, holder, deadline and the time
 * left in the step's own clock (business ms with the process's calendar, or wall ms),
 * negative once breached, plus warned / breached flags. Read from the runtime's tables
 * through partial indexes on open clocks (0002_work.sql); sorted in memory by time left,
 * since time left depends on each process's calendar. Paging is by offset (the cursor).
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
    T_COLS " AND m.id IN (SELECT id FROM measurements WHERE charged_actor = $3 AND" T_OPEN
           " UNION" T_CASES_OF_USER("3") ")";
static const char sql_team[] =
    T_COLS " AND m.id IN (SELECT id FROM measurements WHERE charged_team = $3 AND" T_OPEN
           " UNION" T_CASES_OF_TEAM("3") ")";
static const char sql_scope[] =
    T_COLS " AND m.id IN (SELECT id FROM measurements WHERE (charged_actor = $3 OR"
           " charged_team = $4) AND" T_OPEN
           " UNION" T_CASES_OF_USER("3") " UNION" T_CASES_OF_TEAM("4") ")";
static const char sql_all[] = T_COLS;

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
    json_t *j;
};

static int
task_cmp(const void *a, const void *b)
{
    const struct task *x = a, *y = b;

    if (x->left != y->left)
        return x->left < y->left ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static json_t *
time_or_null(struct store_stmt *st, int col)
{
    char b[TIME_RFC3339_LEN + 1];

    if (store_stmt_is_null(st, col))
        return json_null();
    time_format_rfc3339(store_stmt_int64(st, col), b);
    return json_string(b);
}

static json_t *
text_or_null(struct store_stmt *st, int col)
{
    const char *t = store_stmt_text(st, col);
    return t ? json_string(t) : json_null();
}

/* Every task matching q (q->limit and q->offset ignored), sorted; *out owned by the caller. */
static int
collect(struct store *s, const struct work_task_query *q, struct task **out, size_t *out_n,
        struct smile_err *err)
{
    const char *sql;
    struct work_defs *d;
    struct store_stmt *st;
    struct task *t = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *out_n = 0;
    if ((d = work_defs_get(s, err)) == NULL)
        return err->code ? err->code : SMILE_EDB;
    if (q->actor)
        sql = sql_actor;
    else if (q->team)
        sql = sql_team;
    else if (q->scope_user)
        sql = sql_scope;
    else
        sql = sql_all;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, q->now);
    if (q->has_due_before)
        store_stmt_bind_int64(st, 2, q->due_before);
    else
        store_stmt_bind_null(st, 2);
    if (sql == sql_actor) {
        store_stmt_bind_text(st, 3, q->actor, -1);
    } else if (sql == sql_team) {
        store_stmt_bind_text(st, 3, q->team, -1);
    } else if (sql == sql_scope) {
        store_stmt_bind_text(st, 3, q->scope_user, -1);
        store_stmt_bind_text(st, 4, q->scope_team ? q->scope_team : "", -1);
    }
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        int64_t pid = store_stmt_int64(st, 1);
        int ver = (int)store_stmt_int64(st, 2);
        const char *key = store_stmt_text(st, 3), *result = store_stmt_text(st, 9);
        const char *state = store_stmt_text(st, 10);
        bool paused = state && strcmp(state, "paused") == 0, has_dl = !store_stmt_is_null(st, 6);
        int64_t dl = store_stmt_int64(st, 6), left;
        bool breached, warned = store_stmt_int64(st, 17) != 0;
        const struct work_version *v = NULL;
        struct smile_err e2;
        json_t *j, *title, *cust = json_null();
        const char *fn = NULL, *h_actor, *h_team;
        int k = -1;
        char *keyc = xstrdup(key ? key : "");

        holder(st, &h_actor, &h_team);
        if ((h_actor == NULL && h_team == NULL) || (q->actor && !same(h_actor, q->actor)) ||
            (q->team && !same(h_team, q->team)) ||
            (q->scope_user && !same(h_actor, q->scope_user) && !same(h_team, q->scope_team))) {
            free(keyc);
            continue;
        }
        smile_err_clear(&e2);
        /* Runs at most one query per version ever seen by this thread; st stays valid. */
        v = work_defs_version(d, s, pid, ver, &e2);
        if (v && v->p)
            k = engine_process_step_find(v->p, keyc);
        if (paused || !has_dl) {
            left = store_stmt_int64(st, 8) - store_stmt_int64(st, 7);
        } else if (k >= 0 && v->business[k] && v->cal) {
            left = calendar_diff(v->cal, q->now, dl);
        } else {
            left = dl - q->now;
        }
        /* A running clock is breached once its deadline has passed as of now (the stored
         * result depends on when it was folded); a paused one keeps the result it had. */
        if (!paused && has_dl)
            breached = dl < q->now;
        else
            breached = result && strcmp(result, "breached") == 0;
        if (breached)
            warned = true;
        if (q->state && ((strcmp(q->state, "breached") == 0 && !breached) ||
                         (strcmp(q->state, "warned") == 0 && (!warned || breached)))) {
            free(keyc);
            continue;
        }
        if (k >= 0) {
            fn = engine_process_step_function(v->p, (size_t)k);
            title =
                json_pack("{s:s?, s:s?}", "en", engine_process_step_title(v->p, (size_t)k, "en"),
                          "zh", engine_process_step_title(v->p, (size_t)k, "zh"));
        } else {
            title = json_pack("{s:s, s:s}", "en", keyc, "zh", keyc);
        }
        if (!store_stmt_is_null(st, 15))
            cust = json_pack("{s:I, s:o}", "id", (json_int_t)store_stmt_int64(st, 15), "name",
                             text_or_null(st, 16));
        j = json_object();
        json_object_set_new(j, "id", json_integer(store_stmt_int64(st, 0)));
        json_object_set_new(
            j, "process",
            json_pack("{s:I, s:o}", "id", (json_int_t)pid, "name", text_or_null(st, 13)));
        json_object_set_new(j, "step", json_pack("{s:s, s:o}", "key", keyc, "title", title));
        json_object_set_new(j, "function", fn ? json_string(fn) : json_null());
        json_object_set_new(j, "subject", text_or_null(st, 4));
        json_object_set_new(j, "case_id",
                            store_stmt_is_null(st, 14) ? json_null()
                                                       : json_integer(store_stmt_int64(st, 14)));
        json_object_set_new(j, "customer", cust);
        json_object_set_new(j, "assignee", h_actor ? json_string(h_actor) : json_null());
        json_object_set_new(j, "team", h_team ? json_string(h_team) : json_null());
        json_object_set_new(j, "started_at", time_or_null(st, 5));
        json_object_set_new(j, "deadline_at", time_or_null(st, 6));
        json_object_set_new(j, "time_left_ms", json_integer(left));
        json_object_set_new(j, "paused", json_boolean(paused));
        json_object_set_new(j, "warned", json_boolean(warned));
        json_object_set_new(j, "breached", json_boolean(breached));
        free(keyc);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            t = xrealloc(t, cap * sizeof(*t));
        }
        t[n++] = (struct task){store_stmt_int64(st, 0), left, j};
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        for (size_t i = 0; i < n; i++)
            json_decref(t[i].j);
        free(t);
        return err->code ? err->code : SMILE_EDB;
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
    if ((rc = collect(s, q, &t, &n, err)) != SMILE_OK)
        return rc;
    items = json_array();
    for (size_t i = 0; i < n; i++) {
        if ((int64_t)i >= q->offset && (int64_t)i < q->offset + q->limit)
            json_array_append(items, t[i].j);
        json_decref(t[i].j);
    }
    free(t);
    {
        char c[24];
        bool more = q->offset + q->limit < (int64_t)n;
        snprintf(c, sizeof(c), "%" PRId64, q->offset + q->limit);
        *out = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                         more ? json_string(c) : json_null());
    }
    return SMILE_OK;
}

/* One holder's line of the summary. */
struct line {
    const char *assignee, *team; /* borrowed from the tasks' JSON */
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
count(struct line *l, json_t *j)
{
    bool breached = json_is_true(json_object_get(j, "breached"));
    int64_t left = json_integer_value(json_object_get(j, "time_left_ms"));

    if (l->open == 0 || left < l->urgent)
        l->urgent = left;
    l->open++;
    l->breached += breached;
    l->warned += !breached && json_is_true(json_object_get(j, "warned"));
    l->paused += json_is_true(json_object_get(j, "paused"));
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
    if ((rc = collect(s, q, &t, &n, err)) != SMILE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(t[i].j, "assignee"));
        const char *tm = json_string_value(json_object_get(t[i].j, "team"));
        size_t k;

        for (k = 0; k < nl; k++)
            if (str_cmp_null_first(lines[k].assignee, a) == 0 &&
                str_cmp_null_first(lines[k].team, tm) == 0)
                break;
        if (k == nl) {
            lines = xrealloc(lines, (nl + 1) * sizeof(*lines));
            lines[nl++] = (struct line){.assignee = a, .team = tm};
        }
        count(&lines[k], t[i].j);
        count(&total, t[i].j);
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
    for (size_t i = 0; i < n; i++)
        json_decref(t[i].j);
    free(t);
    free(lines);
    return SMILE_OK;
}
