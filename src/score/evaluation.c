/*
 * evaluation.c — evaluations per person per period: computing them (each item's value from
 * kpi_indicator_value, points and total from score.c, ranks within role and team), the
 * state machine draft → published → frozen, comments, reading and listing, and the
 * drill-down from an item to the measurements behind it. Owner of the tables evaluations
 * and evaluation_comments; reads users, teams (staff) and measurements (runtime) directly
 * for the lists of people and the drill-down.
 *
 * States (a frozen row is never written again):
 *
 *   | from      | action  | to        | who                         |
 *   |-----------|---------|-----------|-----------------------------|
 *   | —         | compute | draft     | supervisor, admin, auto run |
 *   | draft     | publish | published | supervisor, admin           |
 *   | published | freeze  | frozen    | supervisor, admin (signs)   |
 *   | draft, published | compute | same state, new values | …    |
 *   | frozen    | compute | refused 409 (or kept with skip_frozen) |
 */
#include "score/score_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "crm/audit.h"
#include "http/http.h"
#include "kpi/kpi.h"

void
score_day_format(int64_t day, char *out)
{
    time_format_date(day, out);
}

int
score_period_bounds(const struct score_period *p, int64_t *from_ms, int64_t *to_ms,
                    struct smile_err *err)
{
    struct calendar_tz *tz = NULL;
    int rc = calendar_tz_load(SCORE_TIME_ZONE, &tz, err);

    if (rc != SMILE_OK)
        return rc;
    *from_ms = calendar_tz_to_utc(tz, p->from_day * 86400000LL);
    *to_ms = calendar_tz_to_utc(tz, (p->to_day + 1) * 86400000LL);
    calendar_tz_free(tz);
    return SMILE_OK;
}

static const char *
status_name(int s)
{
    return s == SCORE_TOTAL_ZEROED ? "zeroed" : s == SCORE_TOTAL_NO_DATA ? "no_data" : "scored";
}

struct person {
    int64_t id;
    char username[65], display_name[129], team[65];
    bool has_team;
};

static int
load_people(struct store *db, const struct score_template *t, const char *user, struct person **out,
            int *n, struct smile_err *err)
{
    static const char sql[] =
        "SELECT u.id, u.username, u.display_name, tm.name FROM users u"
        " LEFT JOIN teams tm ON tm.id = u.team_id WHERE u.role = $1 AND u.disabled = 0"
        " AND ($2 IS NULL OR u.username = $2) ORDER BY u.username";
    struct store_stmt *st;
    struct person *v = NULL;
    int rc, cap = 0;

    *n = 0;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, t->role, -1);
    store_stmt_bind_text(st, 2, user, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct person *p;

        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = xrealloc(v, (size_t)cap * sizeof(*v));
        }
        p = &v[(*n)++];
        memset(p, 0, sizeof(*p));
        p->id = store_stmt_int64(st, 0);
        score_copy(p->username, sizeof(p->username), store_stmt_text(st, 1));
        score_copy(p->display_name, sizeof(p->display_name), store_stmt_text(st, 2));
        p->has_team = !store_stmt_is_null(st, 3);
        score_copy(p->team, sizeof(p->team), store_stmt_text(st, 3));
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        free(v);
        return rc;
    }
    *out = v;
    return SMILE_OK;
}

/* Frozen evaluations among those about to be computed. */
static int
count_frozen(struct store *db, int64_t template_id, const char *period, const char *user,
             int64_t *out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT count(*) FROM evaluations WHERE template_id = $1 AND period = $2"
        " AND ($3 IS NULL OR username = $3) AND state = 'frozen'";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, template_id);
    store_stmt_bind_text(st, 2, period, -1);
    store_stmt_bind_text(st, 3, user, -1);
    rc = store_stmt_step(st, err);
    *out = rc == STORE_ROW ? store_stmt_int64(st, 0) : 0;
    store_stmt_reset(st);
    return rc == STORE_ROW ? SMILE_OK : rc;
}

/* Scores one person: the items JSON, the total and the reason. Caller owns *items. */
static int
score_person(struct store *db, const struct score_template *t, const struct person *p,
             const char *from, const char *to, json_t **items, struct score_total *tot,
             char *reason, size_t reason_cap, struct smile_err *err)
{
    struct score_item_def defs[SCORE_MAX_ITEMS];
    struct score_value vals[SCORE_MAX_ITEMS];
    struct score_item_result res[SCORE_MAX_ITEMS];
    json_t *arr;

    for (int i = 0; i < t->nitems; i++) {
        const struct score_template_item *it = &t->items[i];
        struct kpi_filter f = {t->team_scope ? NULL : p->username,
                               t->team_scope ? p->team : NULL,
                               it->process_id,
                               it->step[0] ? it->step : NULL,
                               it->channel[0] ? it->channel : NULL,
                               it->customer_tag[0] ? it->customer_tag : NULL};
        struct kpi_value v;
        int rc;

        memset(&v, 0, sizeof(v));
        if (t->team_scope && !p->has_team) {
            /* a team scorecard for someone without a team: nothing to measure */
        } else if ((rc = kpi_indicator_value(db, it->indicator, &f, from, to, &v, err)) !=
                   SMILE_OK) {
            return rc;
        }
        defs[i] = it->def;
        vals[i] = (struct score_value){v.has_data, v.value, v.count};
    }
    score_compute(defs, vals, t->nitems, res, tot);
    arr = json_array();
    for (int i = 0; i < t->nitems; i++) {
        const struct score_template_item *it = &t->items[i];
        json_t *f = json_object();
        json_t *o;

        if (it->process_id)
            json_object_set_new(f, "process", json_integer(it->process_id));
        if (it->step[0])
            json_object_set_new(f, "step", json_string(it->step));
        if (it->channel[0])
            json_object_set_new(f, "channel", json_string(it->channel));
        if (it->customer_tag[0])
            json_object_set_new(f, "customer_tag", json_string(it->customer_tag));
        o = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:o, s:f, s:f, s:f, s:s, s:b, s:s}", "n", i,
                      "key", it->key, "indicator", it->indicator, "label", "en", it->label_en, "zh",
                      it->label_zh, "filter", f, "weight", it->def.weight, "floor", it->def.floor,
                      "target", it->def.target, "direction",
                      it->higher_is_better ? "higher" : "lower", "critical", it->def.critical,
                      "status", res[i].status == SCORE_ITEM_SCORED ? "scored" : "no_data");
        if (res[i].status == SCORE_ITEM_SCORED) {
            json_object_set_new(o, "value", json_real(vals[i].value));
            json_object_set_new(o, "points", json_real(score_round2(res[i].points)));
        } else {
            json_object_set_new(o, "value", json_null());
            json_object_set_new(o, "points", json_null());
        }
        json_object_set_new(o, "count", json_integer(vals[i].count));
        json_object_set_new(o, "scope", json_string(t->team_scope ? "team" : "person"));
        json_object_set_new(o, "below_floor", json_boolean(res[i].below_floor));
        json_array_append_new(arr, o);
    }
    reason[0] = '\0';
    if (tot->status == SCORE_TOTAL_ZEROED) {
        const struct score_template_item *it = &t->items[tot->zeroed_by];
        snprintf(reason, reason_cap,
                 "critical item %s (%s) is below its floor: %g, floor %g; the score is 0", it->key,
                 it->label_en, vals[tot->zeroed_by].value, it->def.floor);
    } else if (tot->status == SCORE_TOTAL_NO_DATA) {
        snprintf(reason, reason_cap, "no item has data for this period");
    }
    *items = arr;
    return SMILE_OK;
}

static int
upsert(struct store *db, const struct score_template *t, const struct score_period *p,
       const struct person *who, const json_t *items, const struct score_total *tot,
       const char *reason, int64_t now, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO evaluations (template_id, template_version, period, period_kind, from_day,"
        " to_day, user_id, username, display_name, team, role, state, status, score, reason,"
        " items, computed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft',"
        " $12, $13, $14, $15, $16)"
        " ON CONFLICT (template_id, period, user_id) DO UPDATE SET"
        " template_version = excluded.template_version, display_name = excluded.display_name,"
        " team = excluded.team, role = excluded.role, status = excluded.status,"
        " score = excluded.score, reason = excluded.reason, items = excluded.items,"
        " computed_at = excluded.computed_at, version = evaluations.version + 1"
        " WHERE evaluations.state <> 'frozen'";
    struct store_stmt *st;
    char from[11], to[11];
    char *text = json_dumps(items, JSON_COMPACT);
    int rc;

    score_day_format(p->from_day, from);
    score_day_format(p->to_day, to);
    rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, t->id);
        store_stmt_bind_int64(st, 2, t->version);
        store_stmt_bind_text(st, 3, p->name, -1);
        store_stmt_bind_text(st, 4, score_period_kind_name(p->kind), -1);
        store_stmt_bind_text(st, 5, from, -1);
        store_stmt_bind_text(st, 6, to, -1);
        store_stmt_bind_int64(st, 7, who->id);
        store_stmt_bind_text(st, 8, who->username, -1);
        store_stmt_bind_text(st, 9, who->display_name, -1);
        store_stmt_bind_text(st, 10, who->has_team ? who->team : NULL, -1);
        store_stmt_bind_text(st, 11, t->role, -1);
        store_stmt_bind_text(st, 12, status_name(tot->status), -1);
        if (tot->status == SCORE_TOTAL_NO_DATA)
            store_stmt_bind_null(st, 13);
        else
            store_stmt_bind_double(st, 13, tot->total);
        store_stmt_bind_text(st, 14, reason[0] ? reason : NULL, -1);
        store_stmt_bind_text(st, 15, text, -1);
        store_stmt_bind_int64(st, 16, now);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    free(text);
    return rc;
}

struct rankrow {
    int64_t id;
    char team[65];
    bool has_team, scored, frozen;
    double score;
    int rank_role, rank_team, team_size;
};

/* Ranks every evaluation of (template, period) within role and team; frozen rows keep
   their stored ranks but count in the others'. */
static int
rerank(struct store *db, int64_t template_id, const char *period, struct smile_err *err)
{
    static const char sel[] = "SELECT id, team, status, score, state FROM evaluations"
                              " WHERE template_id = $1 AND period = $2 ORDER BY id";
    static const char upd[] = "UPDATE evaluations SET rank_role = $1, role_size = $2,"
                              " rank_team = $3, team_size = $4 WHERE id = $5"
                              " AND state <> 'frozen'";
    struct store_stmt *st;
    struct rankrow *r = NULL;
    double *tot = NULL;
    bool *ok = NULL;
    int *rk = NULL;
    int n = 0, cap = 0, rc, scored = 0;

    rc = store_prepare(db, sel, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, template_id);
    store_stmt_bind_text(st, 2, period, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            r = xrealloc(r, (size_t)cap * sizeof(*r));
        }
        memset(&r[n], 0, sizeof(r[n]));
        r[n].id = store_stmt_int64(st, 0);
        r[n].has_team = !store_stmt_is_null(st, 1);
        score_copy(r[n].team, sizeof(r[n].team), store_stmt_text(st, 1));
        r[n].scored = strcmp(store_stmt_text(st, 2), "no_data") != 0;
        r[n].score = store_stmt_double(st, 3);
        r[n].frozen = strcmp(store_stmt_text(st, 4), "frozen") == 0;
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        free(r);
        return rc;
    }
    tot = xcalloc((size_t)n + 1, sizeof(*tot));
    ok = xcalloc((size_t)n + 1, sizeof(*ok));
    rk = xcalloc((size_t)n + 1, sizeof(*rk));
    for (int i = 0; i < n; i++) {
        tot[i] = r[i].score;
        ok[i] = r[i].scored;
        scored += r[i].scored;
    }
    score_rank(tot, ok, n, rk);
    for (int i = 0; i < n; i++)
        r[i].rank_role = rk[i];
    /* Team ranks: the same ranking restricted to each team (O(n²) in the worst case is
       fine for hundreds; teams are small). */
    for (int i = 0; i < n; i++) {
        int better = 0, size = 0;
        for (int j = 0; j < n; j++) {
            if (r[j].has_team != r[i].has_team || strcmp(r[j].team, r[i].team) != 0)
                continue;
            if (!r[j].scored)
                continue;
            size++;
            if (r[j].score > r[i].score)
                better++;
        }
        r[i].team_size = size;
        r[i].rank_team = r[i].scored && r[i].has_team ? better + 1 : 0;
    }
    rc = store_prepare(db, upd, &st, err);
    for (int i = 0; rc == SMILE_OK && i < n; i++) {
        if (r[i].frozen)
            continue;
        if (r[i].rank_role)
            store_stmt_bind_int64(st, 1, r[i].rank_role);
        else
            store_stmt_bind_null(st, 1);
        store_stmt_bind_int64(st, 2, scored);
        if (r[i].rank_team)
            store_stmt_bind_int64(st, 3, r[i].rank_team);
        else
            store_stmt_bind_null(st, 3);
        store_stmt_bind_int64(st, 4, r[i].has_team ? r[i].team_size : 0);
        store_stmt_bind_int64(st, 5, r[i].id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    free(r);
    free(tot);
    free(ok);
    free(rk);
    return rc;
}

/* The stored score, status and state of every evaluation of (template, period), keyed by
   username, for the diff of a dry run. Caller owns *out. */
static int
snapshot(struct store *db, int64_t template_id, const char *period, json_t **out,
         struct smile_err *err)
{
    static const char sql[] = "SELECT username, score, status, state FROM evaluations"
                              " WHERE template_id = $1 AND period = $2";
    struct store_stmt *st;
    json_t *o;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, template_id);
    store_stmt_bind_text(st, 2, period, -1);
    o = json_object();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_object_set_new(
            o, store_stmt_text(st, 0),
            json_pack("{s:o, s:s, s:s}", "score",
                      store_stmt_is_null(st, 1) ? json_null() : json_real(store_stmt_double(st, 1)),
                      "status", store_stmt_text(st, 2), "state", store_stmt_text(st, 3)));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return SMILE_OK;
}

/* One line of a dry run's diff, or NULL when nothing would change. */
static json_t *
diff_line(const struct person *p, const json_t *before, const struct score_total *tot)
{
    const json_t *bs = json_object_get(before, "score");
    const char *bst = json_string_value(json_object_get(before, "status"));
    const char *state = json_string_value(json_object_get(before, "state"));
    bool has = tot->status != SCORE_TOTAL_NO_DATA;
    double after = tot->total;

    if (before != NULL && strcmp(bst, status_name(tot->status)) == 0 &&
        ((!has && json_is_null(bs)) ||
         (has && json_is_number(bs) && fabs(json_number_value(bs) - after) < 0.005)))
        return NULL;
    return json_pack(
        "{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:b}", "username", p->username, "state",
        state ? state : "new", "before",
        json_is_number(bs) ? json_real(score_round2(json_number_value(bs))) : json_null(),
        "before_status", bst ? json_string(bst) : json_null(), "after_status",
        status_name(tot->status), "after", has ? json_real(score_round2(after)) : json_null(),
        "change",
        has && json_is_number(bs) ? json_real(score_round2(after - json_number_value(bs)))
                                  : json_null(),
        "frozen", state && strcmp(state, "frozen") == 0);
}

int
score_evaluations_compute(struct store *db, const struct audit_who *who,
                          const struct score_template *t, const struct score_period *p,
                          const struct score_compute_opts *opts, json_t **out,
                          struct smile_err *err)
{
    struct person *people = NULL;
    char from[11], to[11];
    int64_t frozen = 0;
    int n = 0, computed = 0, rc;
    bool own = false;
    json_t *audit_after = NULL, *before = NULL, *changes = NULL;

    score_day_format(p->from_day, from);
    score_day_format(p->to_day, to);
    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    if (opts->dry_run && !own) {
        store_rollback(db);
        return smile_err_set(err, SMILE_EINTERNAL, "a dry run needs its own transaction");
    }
    rc = load_people(db, t, opts->user, &people, &n, err);
    if (rc == SMILE_OK && opts->user && n == 0)
        rc = smile_err_field(err, "/user", "no active %s named %s", t->role, opts->user);
    if (rc == SMILE_OK)
        rc = count_frozen(db, t->id, p->name, opts->user, &frozen, err);
    if (rc == SMILE_OK && frozen > 0 && !opts->skip_frozen && !opts->dry_run)
        rc = smile_err_set(err, SMILE_ECONFLICT,
                           "%lld evaluation(s) of %s for %s are frozen (signed off) and never "
                           "change; recompute the others with \"skip_frozen\": true",
                           (long long)frozen, t->name, p->name);
    if (rc == SMILE_OK && opts->dry_run) {
        rc = snapshot(db, t->id, p->name, &before, err);
        changes = json_array();
    }
    for (int i = 0; rc == SMILE_OK && i < n; i++) {
        struct score_total tot;
        json_t *items = NULL;
        char reason[320];

        rc = score_person(db, t, &people[i], from, to, &items, &tot, reason, sizeof(reason), err);
        if (rc == SMILE_OK && opts->dry_run) {
            json_t *d = diff_line(&people[i], json_object_get(before, people[i].username), &tot);
            if (d)
                json_array_append_new(changes, d);
        }
        if (rc == SMILE_OK)
            rc = upsert(db, t, p, &people[i], items, &tot, reason, opts->now_ms, err);
        if (rc == SMILE_OK && store_changes(db) > 0)
            computed++;
        json_decref(items);
    }
    if (rc == SMILE_OK)
        rc = rerank(db, t->id, p->name, err);
    if (rc == SMILE_OK && opts->with_digest)
        rc = score_digests_write(db, t, p, opts->now_ms, err);
    if (rc == SMILE_OK) {
        audit_after = json_pack("{s:s, s:s, s:i, s:I}", "period", p->name, "template", t->name,
                                "computed", computed, "kept_frozen", (json_int_t)frozen);
        if (opts->user)
            json_object_set_new(audit_after, "user", json_string(opts->user));
        if (!opts->dry_run)
            rc = audit_record_who(db, who, "score_template", t->id, "compute", NULL, audit_after,
                                  err);
    }
    free(people);
    json_decref(before);
    if (opts->dry_run) {
        /* Nothing of a dry run is kept: the answer is the diff. */
        store_rollback(db);
        if (rc == SMILE_OK) {
            json_object_set_new(audit_after, "dry_run", json_true());
            json_object_set_new(audit_after, "changes", changes);
            json_object_set_new(audit_after, "unchanged",
                                json_integer(n - (json_int_t)json_array_size(changes)));
            changes = NULL;
        }
    } else {
        rc = score_tx_end(db, own, rc, err);
    }
    json_decref(changes);
    if (rc == SMILE_OK) {
        json_object_set_new(audit_after, "from", json_string(from));
        json_object_set_new(audit_after, "to", json_string(to));
        *out = audit_after;
    } else {
        json_decref(audit_after);
    }
    return rc;
}

/* Reading ----------------------------------------------------------------------------- */

#define E_COLS                                                                                     \
    "e.id, e.template_id, t.name, e.period, e.period_kind, e.from_day, e.to_day, e.user_id,"       \
    " e.username, e.display_name, e.team, e.role, e.state, e.status, e.score, e.reason,"           \
    " e.rank_role, e.role_size, e.rank_team, e.team_size, e.computed_at, e.published_at,"          \
    " e.published_by, e.frozen_at, e.frozen_by, e.version, e.items, e.template_version"            \
    " FROM evaluations e JOIN score_templates t ON t.id = e.template_id "

static json_t *
opt_time(struct store_stmt *st, int col)
{
    char b[TIME_RFC3339_LEN + 1];

    if (store_stmt_is_null(st, col))
        return json_null();
    time_format_rfc3339(store_stmt_int64(st, col), b);
    return json_string(b);
}

static json_t *
opt_text(struct store_stmt *st, int col)
{
    const char *s = store_stmt_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *
opt_int(struct store_stmt *st, int col)
{
    return store_stmt_is_null(st, col) ? json_null() : json_integer(store_stmt_int64(st, col));
}

/* The reason in Chinese, made from the status and the stored items (the English one is
   stored as computed). */
static json_t *
reason_zh(struct store_stmt *st)
{
    const char *status = store_stmt_text(st, 13);
    json_t *items, *it, *out = json_null();
    size_t i;
    char b[512];

    if (status && strcmp(status, "no_data") == 0)
        return json_string("本期没有任何评分项有数据");
    if (status == NULL || strcmp(status, "zeroed") != 0)
        return out;
    items = json_loads(store_stmt_text(st, 26), 0, NULL);
    json_array_foreach(items, i, it)
    {
        if (json_is_true(json_object_get(it, "critical")) &&
            json_is_true(json_object_get(it, "below_floor"))) {
            snprintf(b, sizeof(b), "关键项 %s（%s）低于下限：%g，下限 %g；总分记为 0",
                     json_string_value(json_object_get(it, "key")),
                     json_string_value(json_object_get(json_object_get(it, "label"), "zh")),
                     json_number_value(json_object_get(it, "value")),
                     json_number_value(json_object_get(it, "floor")));
            json_decref(out);
            out = json_string(b);
            break;
        }
    }
    json_decref(items);
    return out;
}

static json_t *
eval_json(struct store_stmt *st, bool with_items)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(store_stmt_int64(st, 0)));
    json_object_set_new(o, "template",
                        json_pack("{s:I, s:s, s:I}", "id", (json_int_t)store_stmt_int64(st, 1),
                                  "name", store_stmt_text(st, 2), "version",
                                  (json_int_t)store_stmt_int64(st, 27)));
    json_object_set_new(o, "period", opt_text(st, 3));
    json_object_set_new(o, "period_kind", opt_text(st, 4));
    json_object_set_new(o, "from", opt_text(st, 5));
    json_object_set_new(o, "to", opt_text(st, 6));
    json_object_set_new(o, "user",
                        json_pack("{s:I, s:s, s:s}", "id", (json_int_t)store_stmt_int64(st, 7),
                                  "username", store_stmt_text(st, 8), "display_name",
                                  store_stmt_text(st, 9) ? store_stmt_text(st, 9) : ""));
    json_object_set_new(o, "team", opt_text(st, 10));
    json_object_set_new(o, "role", opt_text(st, 11));
    json_object_set_new(o, "state", opt_text(st, 12));
    json_object_set_new(o, "status", opt_text(st, 13));
    json_object_set_new(o, "score",
                        store_stmt_is_null(st, 14)
                            ? json_null()
                            : json_real(score_round2(store_stmt_double(st, 14))));
    json_object_set_new(o, "reason", opt_text(st, 15));
    json_object_set_new(o, "reason_zh", reason_zh(st));
    json_object_set_new(o, "rank",
                        json_pack("{s:o, s:I, s:o, s:I}", "role", opt_int(st, 16), "role_size",
                                  (json_int_t)store_stmt_int64(st, 17), "team", opt_int(st, 18),
                                  "team_size", (json_int_t)store_stmt_int64(st, 19)));
    json_object_set_new(o, "computed_at", opt_time(st, 20));
    json_object_set_new(o, "published_at", opt_time(st, 21));
    json_object_set_new(o, "published_by", opt_text(st, 22));
    json_object_set_new(o, "frozen_at", opt_time(st, 23));
    json_object_set_new(o, "frozen_by", opt_text(st, 24));
    json_object_set_new(o, "version", json_integer(store_stmt_int64(st, 25)));
    if (with_items) {
        json_t *items = json_loads(store_stmt_text(st, 26), 0, NULL);
        json_object_set_new(o, "items", items ? items : json_array());
    }
    return o;
}

int
score_evaluation_list(struct store *db, const struct score_eval_filter *f, int64_t after, int limit,
                      json_t **out_items, int64_t *out_next, struct smile_err *err)
{
    static const char sql[] =
        "SELECT " E_COLS "WHERE e.id > $1 AND ($2 IS NULL OR e.period = $2)"
        " AND ($3 IS NULL OR e.template_id = $3) AND ($4 IS NULL OR e.team = $4)"
        " AND ($5 IS NULL OR e.username = $5) AND ($6 IS NULL OR e.state = $6)"
        " AND ($7 = 0 OR e.state IN ('published', 'frozen')) ORDER BY e.id LIMIT $8";
    struct store_stmt *st;
    json_t *items;
    int rc, n = 0;
    int64_t last = 0;

    *out_next = 0;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, after);
    store_stmt_bind_text(st, 2, f->period, -1);
    if (f->template_id)
        store_stmt_bind_int64(st, 3, f->template_id);
    else
        store_stmt_bind_null(st, 3);
    store_stmt_bind_text(st, 4, f->team, -1);
    store_stmt_bind_text(st, 5, f->user, -1);
    store_stmt_bind_text(st, 6, f->state, -1);
    store_stmt_bind_int64(st, 7, f->visible_only ? 1 : 0);
    store_stmt_bind_int64(st, 8, limit + 1);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n++ == limit) {
            *out_next = last;
            break;
        }
        json_array_append_new(items, eval_json(st, false));
        last = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out_items = items;
    return SMILE_OK;
}

static int
comments_json(struct store *db, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] = "SELECT id, author, body, created_at FROM evaluation_comments"
                              " WHERE evaluation_id = $1 ORDER BY id";
    struct store_stmt *st;
    json_t *arr;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    arr = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o}", "id",
                                             (json_int_t)store_stmt_int64(st, 0), "author",
                                             store_stmt_text(st, 1), "body", store_stmt_text(st, 2),
                                             "created_at", opt_time(st, 3)));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SMILE_OK;
}

int
score_evaluation_get(struct store *db, int64_t id, json_t **out, char *out_user, char *out_state,
                     struct smile_err *err)
{
    static const char sql[] = "SELECT " E_COLS "WHERE e.id = $1";
    struct store_stmt *st;
    json_t *o = NULL, *c = NULL;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        o = eval_json(st, true);
        if (out_user)
            score_copy(out_user, 65, store_stmt_text(st, 8));
        if (out_state)
            score_copy(out_state, 16, store_stmt_text(st, 12));
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no evaluation %lld", (long long)id);
    }
    store_stmt_reset(st);
    if (rc == SMILE_OK)
        rc = comments_json(db, id, &c, err);
    if (rc != SMILE_OK) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "comments", c);
    *out = o;
    return SMILE_OK;
}

int
score_evaluation_transition(struct store *db, const struct audit_who *who, int64_t id,
                            const char *to, json_t **out, struct smile_err *err)
{
    static const char pub[] = "UPDATE evaluations SET state = 'published', published_at = $1,"
                              " published_by = $2, version = version + 1"
                              " WHERE id = $3 AND state = 'draft'";
    static const char frz[] = "UPDATE evaluations SET state = 'frozen', frozen_at = $1,"
                              " frozen_by = $2, version = version + 1"
                              " WHERE id = $3 AND state = 'published'";
    bool freeze = strcmp(to, "frozen") == 0;
    const char *actor = who && who->actor ? who->actor->username : "cli";
    struct store_stmt *st;
    json_t *before = NULL, *after = NULL;
    char state[16];
    bool own = false;
    int rc;

    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = score_evaluation_get(db, id, &before, NULL, state, err);
    if (rc == SMILE_OK && strcmp(state, freeze ? "published" : "draft") != 0)
        rc = smile_err_set(err, SMILE_ECONFLICT, "evaluation %lld is %s; only a %s one can be %s",
                           (long long)id, state, freeze ? "published" : "draft",
                           freeze ? "frozen" : "published");
    if (rc == SMILE_OK)
        rc = store_prepare(db, freeze ? frz : pub, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, time_now_ms());
        store_stmt_bind_text(st, 2, actor, -1);
        store_stmt_bind_int64(st, 3, id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = score_evaluation_get(db, id, &after, NULL, NULL, err);
    if (rc == SMILE_OK) {
        json_t *b =
            json_pack("{s:s, s:O}", "state", state, "score", json_object_get(before, "score"));
        json_t *a =
            json_pack("{s:s, s:O, s:O}", "state", to, "score", json_object_get(after, "score"),
                      "items", json_object_get(after, "items"));
        rc = audit_record_who(db, who, "evaluation", id, freeze ? "freeze" : "publish", b, a, err);
        json_decref(b);
        json_decref(a);
    }
    json_decref(before);
    rc = score_tx_end(db, own, rc, err);
    if (rc == SMILE_OK)
        *out = after;
    else
        json_decref(after);
    return rc;
}

int
score_evaluation_transition_all(struct store *db, const struct audit_who *who, int64_t template_id,
                                const char *period, const char *team, const char *to,
                                int64_t *out_n, struct smile_err *err)
{
    static const char sql[] = "SELECT id FROM evaluations WHERE template_id = $1 AND period = $2"
                              " AND ($3 IS NULL OR team = $3) AND state = $4 ORDER BY id";
    bool freeze = strcmp(to, "frozen") == 0;
    struct store_stmt *st;
    int64_t *ids = NULL;
    int n = 0, cap = 0, rc;
    bool own = false;

    *out_n = 0;
    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, template_id);
        store_stmt_bind_text(st, 2, period, -1);
        store_stmt_bind_text(st, 3, team, -1);
        store_stmt_bind_text(st, 4, freeze ? "published" : "draft", -1);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
            }
            ids[n++] = store_stmt_int64(st, 0);
        }
        store_stmt_reset(st);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
    }
    for (int i = 0; rc == SMILE_OK && i < n; i++) {
        json_t *o = NULL;
        rc = score_evaluation_transition(db, who, ids[i], to, &o, err);
        json_decref(o);
    }
    free(ids);
    rc = score_tx_end(db, own, rc, err);
    if (rc == SMILE_OK)
        *out_n = n;
    return rc;
}

bool
score_evaluation_score(struct store *db, int64_t template_id, const char *period, const char *user,
                       double *out)
{
    static const char sql[] = "SELECT score FROM evaluations WHERE template_id = $1"
                              " AND period = $2 AND username = $3";
    struct store_stmt *st;
    struct smile_err err;
    bool ok = false;

    smile_err_clear(&err);
    if (store_prepare(db, sql, &st, &err) != SMILE_OK)
        return false;
    store_stmt_bind_int64(st, 1, template_id);
    store_stmt_bind_text(st, 2, period, -1);
    store_stmt_bind_text(st, 3, user, -1);
    if (store_stmt_step(st, &err) == STORE_ROW && !store_stmt_is_null(st, 0)) {
        *out = store_stmt_double(st, 0);
        ok = true;
    }
    store_stmt_reset(st);
    return ok;
}

int
score_evaluation_comment(struct store *db, const struct audit_who *who, int64_t id,
                         const char *author, const char *body, json_t **out, struct smile_err *err)
{
    static const char sql[] = "INSERT INTO evaluation_comments (evaluation_id, author_id, author,"
                              " body, created_at) VALUES ($1, $2, $3, $4, $5)";
    struct store_stmt *st;
    json_t *ev = NULL;
    char state[16];
    bool own = false;
    int64_t now = time_now_ms();
    int rc;

    if (body == NULL || body[0] == '\0' || strlen(body) > 4000)
        return smile_err_field(err, "/body", "must be 1 to 4000 bytes of text");
    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = score_evaluation_get(db, id, &ev, NULL, state, err);
    json_decref(ev);
    if (rc == SMILE_OK && strcmp(state, "frozen") == 0)
        rc = smile_err_set(err, SMILE_ECONFLICT,
                           "evaluation %lld is frozen (signed off): it takes no more comments",
                           (long long)id);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, id);
        if (who && who->actor && who->actor->user_id)
            store_stmt_bind_int64(st, 2, who->actor->user_id);
        else
            store_stmt_bind_null(st, 2);
        store_stmt_bind_text(st, 3, author, -1);
        store_stmt_bind_text(st, 4, body, -1);
        store_stmt_bind_int64(st, 5, now);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK) {
        char at[TIME_RFC3339_LEN + 1];
        int64_t cid = 0;

        store_query_int64(db, "SELECT last_insert_rowid()", &cid, err);
        time_format_rfc3339(now, at);
        *out = json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)cid, "evaluation_id",
                         (json_int_t)id, "author", author, "body", body, "created_at", at);
        rc = audit_record_who(db, who, "evaluation", id, "comment", NULL, *out, err);
        if (rc != SMILE_OK) {
            json_decref(*out);
            *out = NULL;
        }
    }
    return score_tx_end(db, own, rc, err);
}

/* Drill-down -------------------------------------------------------------------------- */

int
score_item_measurements(struct store *db, int64_t id, int n, const char *result, int64_t after,
                        int limit, json_t **out, int64_t *out_next, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, subject, process_id, step_key, occurrence, channel, started_at, done_at,"
        " elapsed_ms, target_ms, result, state, charged_actor, charged_team, deadline_at"
        " FROM measurements WHERE id > $1 AND (CASE WHEN $2 = 1 THEN charged_team"
        " ELSE charged_actor END) = $3 AND started_at >= $4"
        " AND started_at < $5 AND ($6 IS NULL OR process_id = $6)"
        " AND ($7 IS NULL OR step_key = $7) AND ($8 IS NULL OR channel = $8)"
        " AND ($9 IS NULL OR result = $9) ORDER BY id LIMIT $10";
    struct score_period p;
    struct store_stmt *st;
    json_t *ev = NULL, *item, *f, *arr, *pv;
    char user[65];
    const char *tag;
    int64_t from_ms, to_ms, last = 0;
    int rc, k = 0;
    bool team_scope;

    *out_next = 0;
    rc = score_evaluation_get(db, id, &ev, user, NULL, err);
    if (rc != SMILE_OK)
        return rc;
    item = json_array_get(json_object_get(ev, "items"), (size_t)n);
    if (n < 0 || item == NULL) {
        json_decref(ev);
        return smile_err_set(err, SMILE_ENOTFOUND, "evaluation %lld has no item %d", (long long)id,
                             n);
    }
    rc = score_period_parse(json_string_value(json_object_get(ev, "period")), &p, err);
    if (rc == SMILE_OK)
        rc = score_period_bounds(&p, &from_ms, &to_ms, err);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK) {
        json_decref(ev);
        return rc;
    }
    f = json_object_get(item, "filter");
    team_scope = json_is_string(json_object_get(item, "scope")) &&
                 strcmp(json_string_value(json_object_get(item, "scope")), "team") == 0;
    store_stmt_bind_int64(st, 1, after);
    store_stmt_bind_int64(st, 2, team_scope ? 1 : 0);
    if (team_scope)
        store_stmt_bind_text(st, 3, json_string_value(json_object_get(ev, "team")), -1);
    else
        store_stmt_bind_text(st, 3, user, -1);
    store_stmt_bind_int64(st, 4, from_ms);
    store_stmt_bind_int64(st, 5, to_ms);
    if ((pv = json_object_get(f, "process")) != NULL)
        store_stmt_bind_int64(st, 6, json_integer_value(pv));
    else
        store_stmt_bind_null(st, 6);
    store_stmt_bind_text(st, 7, json_string_value(json_object_get(f, "step")), -1);
    store_stmt_bind_text(st, 8, json_string_value(json_object_get(f, "channel")), -1);
    store_stmt_bind_text(st, 9, result, -1);
    /* a customer_tag item: rows are kept in C (kpi_subject_tagged), so no SQL limit */
    tag = json_string_value(json_object_get(f, "customer_tag"));
    store_stmt_bind_int64(st, 10, tag ? -1 : limit + 1);
    arr = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        int64_t el = store_stmt_int64(st, 8), tg = store_stmt_int64(st, 9);
        json_t *o;

        if (tag) {
            bool in = false;
            struct smile_err e2;

            smile_err_clear(&e2);
            if (kpi_subject_tagged(db, store_stmt_text(st, 1), tag, &in, &e2) != SMILE_OK || !in)
                continue;
        }
        if (k++ == limit) {
            *out_next = last;
            break;
        }
        o = json_object();
        json_object_set_new(o, "id", json_integer(store_stmt_int64(st, 0)));
        json_object_set_new(o, "subject", opt_text(st, 1));
        json_object_set_new(o, "process_id", json_integer(store_stmt_int64(st, 2)));
        json_object_set_new(o, "step", opt_text(st, 3));
        json_object_set_new(o, "occurrence", json_integer(store_stmt_int64(st, 4)));
        json_object_set_new(o, "channel", opt_text(st, 5));
        json_object_set_new(o, "started_at", opt_time(st, 6));
        json_object_set_new(o, "done_at", opt_time(st, 7));
        json_object_set_new(o, "elapsed_ms", json_integer(el));
        json_object_set_new(o, "target_ms", json_integer(tg));
        json_object_set_new(o, "over_ms", json_integer(el > tg ? el - tg : 0));
        json_object_set_new(o, "result", opt_text(st, 10));
        json_object_set_new(o, "state", opt_text(st, 11));
        json_object_set_new(o, "charged_to", opt_text(st, 12));
        json_object_set_new(o, "charged_team", opt_text(st, 13));
        json_object_set_new(o, "deadline_at", opt_time(st, 14));
        json_array_append_new(arr, o);
        last = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(arr);
        json_decref(ev);
        return rc;
    }
    *out = json_pack("{s:I, s:o, s:s, s:o, s:o}", "evaluation_id", (json_int_t)id, "item",
                     json_deep_copy(item), "user", user, "period",
                     json_deep_copy(json_object_get(ev, "period")), "items", arr);
    json_decref(ev);
    return SMILE_OK;
}
