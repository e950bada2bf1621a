/*
 * digest.c — what happens when a period closes: the automatic computation of every
 * auto template's last ended period (a check thread started by serve looks once a minute)
 * and the digest per supervisor of each team (their team's scores, the biggest movers
 * against the period before, the weakest items). Digests are stored in score_digests and
 * read by GET /api/v1/digests; e-mail delivery belongs to the mail part, which sends the
 * rows whose delivered_at is NULL and sets it (the hook).
 */
#include "score/score_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"

struct team_row {
    char name[65];
    int64_t supervisor_id;
    char supervisor[65];
};

static int
load_teams(struct store *db, struct team_row **out, int *n, struct smile_err *err)
{
    static const char sql[] = "SELECT t.name, t.supervisor_id, u.username FROM teams t"
                              " JOIN users u ON u.id = t.supervisor_id"
                              " WHERE t.deleted_at IS NULL ORDER BY t.name";
    struct store_stmt *st;
    struct team_row *v = NULL;
    int rc, cap = 0;

    *n = 0;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, (size_t)cap * sizeof(*v));
        }
        score_copy(v[*n].name, sizeof(v[*n].name), store_stmt_text(st, 0));
        v[*n].supervisor_id = store_stmt_int64(st, 1);
        score_copy(v[*n].supervisor, sizeof(v[*n].supervisor), store_stmt_text(st, 2));
        (*n)++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        free(v);
        return rc;
    }
    *out = v;
    return SMILE_OK;
}

/* The previous period's score of username (NaN if none or no data). */
static double
previous_score(struct store *db, int64_t template_id, const char *period, const char *user)
{
    double v;
    return score_evaluation_score(db, template_id, period, user, &v) ? v : NAN;
}

static int
by_abs_delta(const void *a, const void *b)
{
    double x = fabs(json_real_value(json_object_get(*(json_t *const *)a, "delta")));
    double y = fabs(json_real_value(json_object_get(*(json_t *const *)b, "delta")));
    return x < y ? 1 : x > y ? -1 : 0;
}

struct item_acc {
    json_t *item; /* borrowed from the first evaluation's items */
    double sum;
    int n, below;
};

static int
by_mean(const void *a, const void *b)
{
    const struct item_acc *x = a, *y = b;
    double mx = x->n ? x->sum / x->n : 1e9, my = y->n ? y->sum / y->n : 1e9;
    return mx < my ? -1 : mx > my ? 1 : 0;
}

/* The digest document of one team; NULL if the team has no evaluation in the period. */
static int
team_digest(struct store *db, const struct score_template *t, const struct score_period *p,
            const struct score_period *prev, const struct team_row *tr, json_t **out,
            struct smile_err *err)
{
    static const char sql[] = "SELECT username, display_name, score, status, rank_team, items"
                              " FROM evaluations WHERE template_id = $1 AND period = $2"
                              " AND team = $3 ORDER BY rank_team IS NULL, rank_team, username";
    struct item_acc acc[SCORE_MAX_ITEMS];
    struct store_stmt *st;
    json_t *scores = json_array(), *movers = json_array(), *worst = json_array();
    json_t *keep = json_array(); /* owns the parsed items */
    json_t **mv = NULL;
    double sum = 0;
    int rc, n = 0, scored = 0, zeroed = 0, nodata = 0, nmv = 0, nacc = 0;

    *out = NULL;
    memset(acc, 0, sizeof(acc));
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, t->id);
    store_stmt_bind_text(st, 2, p->name, -1);
    store_stmt_bind_text(st, 3, tr->name, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *user = store_stmt_text(st, 0), *status = store_stmt_text(st, 3);
        bool has = !store_stmt_is_null(st, 2);
        double s = store_stmt_double(st, 2);
        double before = previous_score(db, t->id, prev->name, user);
        json_t *row, *items = json_loads(store_stmt_text(st, 5), 0, NULL);
        size_t i;
        json_t *it;

        n++;
        if (strcmp(status, "zeroed") == 0)
            zeroed++;
        if (!has) {
            nodata++;
        } else {
            scored++;
            sum += s;
        }
        row = json_pack(
            "{s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "username", user, "display_name",
            store_stmt_text(st, 1) ? store_stmt_text(st, 1) : "", "score",
            has ? json_real(score_round2(s)) : json_null(), "status", status, "rank_team",
            store_stmt_is_null(st, 4) ? json_null() : json_integer(store_stmt_int64(st, 4)),
            "previous", isnan(before) ? json_null() : json_real(score_round2(before)), "delta",
            has && !isnan(before) ? json_real(score_round2(s - before)) : json_null());
        json_array_append_new(scores, row);
        if (has && !isnan(before))
            json_array_append(movers, row);
        json_array_foreach(items, i, it)
        {
            if (i >= SCORE_MAX_ITEMS)
                break;
            if ((int)i >= nacc) {
                acc[i].item = it;
                nacc = (int)i + 1;
            }
            if (json_is_number(json_object_get(it, "points"))) {
                acc[i].sum += json_number_value(json_object_get(it, "points"));
                acc[i].n++;
                acc[i].below += json_is_true(json_object_get(it, "below_floor"));
            }
        }
        if (items)
            json_array_append_new(keep, items);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    if (n == 0)
        goto out;
    /* Biggest movers: the three largest changes either way. */
    nmv = (int)json_array_size(movers);
    mv = xcalloc((size_t)nmv + 1, sizeof(*mv));
    for (int i = 0; i < nmv; i++)
        mv[i] = json_array_get(movers, (size_t)i);
    qsort(mv, (size_t)nmv, sizeof(*mv), by_abs_delta);
    {
        json_t *top = json_array();
        for (int i = 0; i < nmv && i < 3; i++)
            json_array_append(top, mv[i]);
        json_decref(movers);
        movers = top;
    }
    /* Weakest items: the lowest mean points over the team, with how many fell below floor. */
    qsort(acc, (size_t)nacc, sizeof(acc[0]), by_mean);
    for (int i = 0; i < nacc && json_array_size(worst) < 3; i++) {
        json_t *it = acc[i].item;
        if (acc[i].n == 0)
            continue;
        json_array_append_new(worst, json_pack("{s:O, s:O, s:O, s:O, s:f, s:i, s:i}", "key",
                                               json_object_get(it, "key"), "label",
                                               json_object_get(it, "label"), "indicator",
                                               json_object_get(it, "indicator"), "filter",
                                               json_object_get(it, "filter"), "mean_points",
                                               score_round2(acc[i].sum / acc[i].n), "people",
                                               acc[i].n, "below_floor", acc[i].below));
    }
    *out = json_pack(
        "{s:s, s:s, s:{s:I, s:s}, s:s, s:{s:I, s:s}, s:{s:s, s:s}, s:{s:i, s:i, s:i, s:i, s:o},"
        " s:O, s:O, s:O}",
        "period", p->name, "previous_period", prev->name, "template", "id", (json_int_t)t->id,
        "name", t->name, "team", tr->name, "supervisor", "id", (json_int_t)tr->supervisor_id,
        "username", tr->supervisor, "title", "en", "", "zh", "", "summary", "people", n, "scored",
        scored, "zeroed", zeroed, "no_data", nodata, "mean",
        scored ? json_real(score_round2(sum / scored)) : json_null(), "scores", scores, "movers",
        movers, "worst_items", worst);
    {
        char en[256], zh[256];
        snprintf(en, sizeof(en), "Scorecards %s (%s), team %s", p->name, t->name, tr->name);
        snprintf(zh, sizeof(zh), "%s 绩效评分（%s），%s 组", p->name, t->name, tr->name);
        json_object_set_new(json_object_get(*out, "title"), "en", json_string(en));
        json_object_set_new(json_object_get(*out, "title"), "zh", json_string(zh));
    }
out:
    free(mv);
    json_decref(scores);
    json_decref(movers);
    json_decref(worst);
    json_decref(keep);
    return rc;
}

int
score_digests_write(struct store *db, const struct score_template *t, const struct score_period *p,
                    int64_t now_ms, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO score_digests (period, template_id, team, supervisor_id, document,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (period, template_id, team)"
        " DO UPDATE SET supervisor_id = excluded.supervisor_id, document = excluded.document,"
        " created_at = excluded.created_at, delivered_at = NULL";
    struct team_row *teams = NULL;
    struct score_period prev;
    int n = 0, rc;

    score_period_prev(p, &prev);
    rc = load_teams(db, &teams, &n, err);
    for (int i = 0; rc == SMILE_OK && i < n; i++) {
        struct store_stmt *st;
        json_t *doc = NULL;
        char *text;

        rc = team_digest(db, t, p, &prev, &teams[i], &doc, err);
        if (rc != SMILE_OK || doc == NULL)
            continue;
        text = json_dumps(doc, JSON_COMPACT);
        rc = store_prepare(db, sql, &st, err);
        if (rc == SMILE_OK) {
            store_stmt_bind_text(st, 1, p->name, -1);
            store_stmt_bind_int64(st, 2, t->id);
            store_stmt_bind_text(st, 3, teams[i].name, -1);
            store_stmt_bind_int64(st, 4, teams[i].supervisor_id);
            store_stmt_bind_text(st, 5, text, -1);
            store_stmt_bind_int64(st, 6, now_ms);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
        }
        free(text);
        json_decref(doc);
    }
    free(teams);
    return rc;
}

int
score_digest_list(struct store *db, const char *period, int64_t supervisor_id, json_t **out,
                  struct smile_err *err)
{
    static const char sql[] = "SELECT id, document, created_at, delivered_at FROM score_digests"
                              " WHERE ($1 IS NULL OR period = $1)"
                              " AND ($2 = 0 OR supervisor_id = $2) ORDER BY period, team, id";
    struct store_stmt *st;
    json_t *arr;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, period, -1);
    store_stmt_bind_int64(st, 2, supervisor_id);
    arr = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        json_t *d = json_loads(store_stmt_text(st, 1), 0, NULL);
        char at[TIME_RFC3339_LEN + 1];

        if (d == NULL)
            continue;
        time_format_rfc3339(store_stmt_int64(st, 2), at);
        json_object_set_new(d, "id", json_integer(store_stmt_int64(st, 0)));
        json_object_set_new(d, "created_at", json_string(at));
        if (store_stmt_is_null(st, 3)) {
            json_object_set_new(d, "delivered_at", json_null());
        } else {
            time_format_rfc3339(store_stmt_int64(st, 3), at);
            json_object_set_new(d, "delivered_at", json_string(at));
        }
        json_array_append_new(arr, d);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SMILE_OK;
}

int
score_digest_undelivered(struct store *db, int limit, int64_t **out_ids, int *out_n,
                         struct smile_err *err)
{
    static const char sql[] =
        "SELECT id FROM score_digests WHERE delivered_at IS NULL ORDER BY id LIMIT $1";
    struct store_stmt *st;
    int64_t *ids = xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
    int rc, n = 0;

    *out_n = 0;
    *out_ids = NULL;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK) {
        free(ids);
        return rc;
    }
    store_stmt_bind_int64(st, 1, limit);
    while (n < limit && (rc = store_stmt_step(st, err)) == STORE_ROW)
        ids[n++] = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE && n < limit) {
        free(ids);
        return rc;
    }
    *out_ids = ids;
    *out_n = n;
    return SMILE_OK;
}

int
score_digest_mark_delivered(struct store *db, int64_t id, int64_t at_ms, struct smile_err *err)
{
    static const char sql[] = "UPDATE score_digests SET delivered_at = $1 WHERE id = $2";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, at_ms);
    store_stmt_bind_int64(st, 2, id);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    if (rc == SMILE_OK && store_changes(db) == 0)
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no digest %lld", (long long)id);
    return rc;
}

/* The automatic run --------------------------------------------------------------------- */

static int64_t
local_day(int64_t now_ms, struct smile_err *err)
{
    struct calendar_tz *tz = NULL;
    int64_t off = 8 * 3600;

    if (calendar_tz_load(SCORE_TIME_ZONE, &tz, err) == SMILE_OK) {
        off = calendar_tz_offset(tz, now_ms);
        calendar_tz_free(tz);
    }
    smile_err_clear(err);
    return (now_ms + off * 1000 - (now_ms + off * 1000 < 0 ? 86399999 : 0)) / 86400000;
}

int
score_auto_run(struct store *db, int64_t now_ms, int *out_n, struct smile_err *err)
{
    static const char sql[] = "SELECT id FROM score_templates WHERE deleted_at IS NULL ORDER BY id";
    static const char cnt[] =
        "SELECT count(*) FROM evaluations WHERE template_id = $1 AND period = $2";
    struct store_stmt *st;
    int64_t *ids = NULL, today = local_day(now_ms, err);
    int n = 0, cap = 0, rc;

    *out_n = 0;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, (size_t)cap * sizeof(*ids));
        }
        ids[n++] = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    rc = rc == STORE_DONE ? SMILE_OK : rc;
    for (int i = 0; rc == SMILE_OK && i < n; i++) {
        struct score_template t;
        struct score_period cur, last;
        struct score_compute_opts o = {.skip_frozen = true, .with_digest = true, .now_ms = now_ms};
        int64_t have = 0;
        json_t *res = NULL;

        if (score_template_get(db, ids[i], &t, err) != SMILE_OK || !t.auto_compute) {
            smile_err_clear(err);
            continue;
        }
        score_period_containing(t.period_kind, today, &cur);
        score_period_prev(&cur, &last);
        rc = store_prepare(db, cnt, &st, err);
        if (rc != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, t.id);
        store_stmt_bind_text(st, 2, last.name, -1);
        if (store_stmt_step(st, err) == STORE_ROW)
            have = store_stmt_int64(st, 0);
        store_stmt_reset(st);
        if (have > 0)
            continue;
        rc = score_evaluations_compute(db, NULL, &t, &last, &o, &res, err);
        if (rc == SMILE_OK) {
            log_info("msg=\"scorecards computed at period end\" template=%s period=%s "
                     "computed=%lld",
                     t.name, last.name,
                     (long long)json_integer_value(json_object_get(res, "computed")));
            (*out_n)++;
        }
        json_decref(res);
    }
    free(ids);
    return rc;
}

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop;
    char *path;
} autorun = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *
auto_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&autorun.mu);
    while (!autorun.stop) {
        struct store *db = NULL;
        struct smile_err err;
        struct timespec ts;
        int n = 0;

        pthread_mutex_unlock(&autorun.mu);
        smile_err_clear(&err);
        if (store_open(autorun.path, 0, &db, &err) == SMILE_OK) {
            if (score_auto_run(db, time_now_ms(), &n, &err) != SMILE_OK)
                log_warn("msg=\"scorecard period check failed\" err=\"%s\"", err.msg);
            store_close(db);
        }
        pthread_mutex_lock(&autorun.mu);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 60;
        while (!autorun.stop && pthread_cond_timedwait(&autorun.cv, &autorun.mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&autorun.mu);
    return NULL;
}

int
score_auto_start(const char *db_path, struct smile_err *err)
{
    pthread_mutex_lock(&autorun.mu);
    if (autorun.running) {
        pthread_mutex_unlock(&autorun.mu);
        return SMILE_OK;
    }
    autorun.stop = false;
    autorun.path = xstrdup(db_path);
    if (pthread_create(&autorun.thread, NULL, auto_main, NULL) != 0) {
        free(autorun.path);
        autorun.path = NULL;
        pthread_mutex_unlock(&autorun.mu);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the scorecard check thread");
    }
    autorun.running = true;
    pthread_mutex_unlock(&autorun.mu);
    return SMILE_OK;
}

void
score_auto_stop(void)
{
    pthread_mutex_lock(&autorun.mu);
    if (!autorun.running) {
        pthread_mutex_unlock(&autorun.mu);
        return;
    }
    autorun.stop = true;
    pthread_cond_broadcast(&autorun.cv);
    pthread_mutex_unlock(&autorun.mu);
    pthread_join(autorun.thread, NULL);
    pthread_mutex_lock(&autorun.mu);
    autorun.running = false;
    free(autorun.path);
    autorun.path = NULL;
    pthread_mutex_unlock(&autorun.mu);
}
