/*
 * recompute.c — recompute history after a calendar or a process change (recompute.h). One
 * transaction: fingerprint the state (the confirm token); for a calendar, find the processes
 * whose published versions resolve to it and the subjects of their instances started in the
 * period; for a process, check the chosen version, write the run row and pin each instance
 * of the period not yet on that version (runtime_pin_add). Note each subject's measurements,
 * re-fold it through runtime_fold_subject (measurements, deadlines and kpi rollups as the
 * live worker writes them), compare; then for every (template, period) of an evaluation
 * overlapping the period (extended to the latest re-folded measurement): the would-be score
 * of the frozen evaluations (inside a savepoint that is rolled back: the frozen rows never
 * change) and the recompute of the others (score_evaluations_compute, skip_frozen). A dry run
 * rolls everything back; an applied run commits it with its recompute_runs row, one
 * recompute_diffs row per frozen evaluation and an audit record.
 */
#include "recompute/recompute.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/audit.h"
#include "http/http.h"
#include "runtime/runtime.h"
#include "score/score.h"
#include "store/store.h"

/* The state the token fingerprints: ledger, definitions, evaluations. */
static int
fingerprint(struct store *db, const struct recompute_req *req, char out[17], struct smile_err *err)
{
    static const char sql[] =
        "SELECT (SELECT coalesce(max(id), 0) FROM events),"
        " (SELECT count(*) FROM process_versions),"
        " (SELECT count(*) FROM processes WHERE deleted_at IS NOT NULL),"
        " (SELECT coalesce(sum(version), 0) + count(*) * 1000003 FROM calendars),"
        " (SELECT coalesce(sum(version), 0) + count(*) * 1000003 FROM evaluations),"
        " (SELECT count(*) FROM evaluations WHERE state = 'frozen'),"
        " (SELECT coalesce(sum(version), 0) + count(*) FROM score_templates),"
        " (SELECT coalesce(max(id), 0) FROM instance_pins)";
    struct store_stmt *st;
    char text[512];
    size_t len = 0;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    if (req->process_id > 0)
        len = (size_t)snprintf(text, sizeof(text), "proc:%lld:v%d:%lld:%lld",
                               (long long)req->process_id, req->version, (long long)req->from,
                               (long long)req->to);
    else
        len =
            (size_t)snprintf(text, sizeof(text), "cal:%lld:%lld:%lld", (long long)req->calendar_id,
                             (long long)req->from, (long long)req->to);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        for (int i = 0; i < 8 && len < sizeof(text); i++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, ":%lld",
                                    (long long)store_stmt_int64(st, i));
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    for (size_t i = 0; i < len && i < sizeof(text); i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return SMILE_OK;
}

/* A calendar row (non-deleted), for name resolution as runtime_defs_calendar does it. */
struct cal_row {
    int64_t id;
    char *name;
};

static int64_t
resolve(const struct cal_row *c, size_t n, const char *name)
{
    if (name == NULL)
        name = "default";
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return c[i].id;
    if (strcmp(name, "default") != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, "China") == 0)
            return c[i].id;
    return n ? c[0].id : 0;
}

/* The ids of the live processes with a published version whose calendar resolves to cal. */
static int
processes_on(struct store *db, int64_t cal, char **cal_name, int64_t **out, size_t *nout,
             struct smile_err *err)
{
    static const char sql_cal[] =
        "SELECT id, name FROM calendars WHERE deleted_at IS NULL ORDER BY id";
    static const char sql_ver[] =
        "SELECT v.process_id, v.document FROM process_versions v"
        " JOIN processes p ON p.id = v.process_id WHERE p.deleted_at IS NULL"
        " ORDER BY v.process_id, v.number";
    struct cal_row *c = NULL;
    size_t nc = 0;
    struct store_stmt *st;
    int rc = store_prepare(db, sql_cal, &st, err);

    *out = NULL;
    *nout = 0;
    *cal_name = NULL;
    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        c = xrealloc(c, (nc + 1) * sizeof(*c));
        c[nc].id = store_stmt_int64(st, 0);
        c[nc].name = xstrdup(store_stmt_text(st, 1));
        if (c[nc].id == cal)
            *cal_name = xstrdup(c[nc].name);
        nc++;
    }
    store_stmt_reset(st);
    if (rc == STORE_DONE && *cal_name == NULL)
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no calendar %lld", (long long)cal);
    else if (rc == STORE_DONE)
        rc = store_prepare(db, sql_ver, &st, err);
    if (rc == SMILE_OK) {
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            int64_t pid = store_stmt_int64(st, 0);
            json_t *doc = json_loads(store_stmt_text(st, 1), 0, NULL);
            const char *name = json_string_value(json_object_get(doc, "calendar"));

            if (resolve(c, nc, name) == cal && (*nout == 0 || (*out)[*nout - 1] != pid)) {
                *out = xrealloc(*out, (*nout + 1) * sizeof(**out));
                (*out)[(*nout)++] = pid;
            }
            json_decref(doc);
        }
        store_stmt_reset(st);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
    }
    for (size_t i = 0; i < nc; i++)
        free(c[i].name);
    free(c);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct subjects of the instances of processes pids started in [from, to). */
static int
subjects_of(struct store *db, const int64_t *pids, size_t np, int64_t from, int64_t to, char ***out,
            size_t *nout, struct smile_err *err)
{
    static const char sql[] = "SELECT subject FROM instances WHERE process_id = $1"
                              " AND started_at >= $2 AND started_at < $3";
    char **v = NULL;
    size_t n = 0, k = 0;
    int rc = SMILE_OK;

    for (size_t i = 0; i < np && rc == SMILE_OK; i++) {
        struct store_stmt *st;

        if ((rc = store_prepare(db, sql, &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_int64(st, 1, pids[i]);
        store_stmt_bind_int64(st, 2, from);
        store_stmt_bind_int64(st, 3, to);
        while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
            v = xrealloc(v, (n + 1) * sizeof(*v));
            v[n++] = xstrdup(store_stmt_text(st, 0));
        }
        store_stmt_reset(st);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && strcmp(v[k - 1], v[i]) == 0) {
            free(v[i]);
            continue;
        }
        v[k++] = v[i];
    }
    *out = v;
    *nout = k;
    return rc;
}

/* One measurement as the diff sees it. */
struct meas {
    int64_t id, process_id, occurrence, elapsed, target, version, last_at;
    char step[65], result[16], staff[65];
};

static int
load_meas(struct store *db, const char *subject, struct meas **out, size_t *nout,
          struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, process_id, step_key, occurrence, result, elapsed_ms, charged_actor,"
        " target_ms, version, coalesce(done_at, started_at, 0)"
        " FROM measurements WHERE subject = $1 ORDER BY process_id, step_key, occurrence";
    struct store_stmt *st;
    struct meas *v = NULL;
    size_t n = 0;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *staff = store_stmt_text(st, 6);

        v = xrealloc(v, (n + 1) * sizeof(*v));
        memset(&v[n], 0, sizeof(v[n]));
        v[n].id = store_stmt_int64(st, 0);
        v[n].process_id = store_stmt_int64(st, 1);
        snprintf(v[n].step, sizeof(v[n].step), "%s", store_stmt_text(st, 2));
        v[n].occurrence = store_stmt_int64(st, 3);
        snprintf(v[n].result, sizeof(v[n].result), "%s", store_stmt_text(st, 4));
        v[n].elapsed = store_stmt_int64(st, 5);
        snprintf(v[n].staff, sizeof(v[n].staff), "%s", staff ? staff : "");
        v[n].target = store_stmt_int64(st, 7);
        v[n].version = store_stmt_int64(st, 8);
        v[n].last_at = store_stmt_int64(st, 9);
        n++;
    }
    store_stmt_reset(st);
    *out = v;
    *nout = n;
    return rc == STORE_DONE ? SMILE_OK : rc;
}

struct mdiff {
    int64_t compared, changed, result_changed, elapsed_changed, target_changed, charge_changed;
    int64_t last_at; /* the latest start or end among the compared measurements */
    json_t *flips, *examples;
    json_t *all; /* applying: every change, for recompute_changes (NULL in a dry run) */
};

static json_t *
side(const struct meas *m)
{
    if (m == NULL)
        return json_null();
    return json_pack("{s:s, s:I, s:I, s:s?, s:I}", "result", m->result, "elapsed_ms",
                     (json_int_t)m->elapsed, "target_ms", (json_int_t)m->target, "charged_actor",
                     m->staff[0] ? m->staff : NULL, "version", (json_int_t)m->version);
}

static void
diff_one(struct mdiff *d, const char *subject, const struct meas *b, const struct meas *a)
{
    const struct meas *m = b ? b : a;
    bool rchg = !b || !a || strcmp(b->result, a->result) != 0;
    bool echg = !b || !a || b->elapsed != a->elapsed;
    bool tchg = !b || !a || b->target != a->target;
    bool cchg = !b || !a || strcmp(b->staff, a->staff) != 0;
    char flip[48];

    d->compared++;
    if (b && b->last_at > d->last_at)
        d->last_at = b->last_at;
    if (a && a->last_at > d->last_at)
        d->last_at = a->last_at;
    if (!rchg && !echg && !tchg && !cchg)
        return;
    d->changed++;
    d->result_changed += rchg;
    d->elapsed_changed += echg;
    d->target_changed += tchg;
    d->charge_changed += cchg;
    if (rchg) {
        snprintf(flip, sizeof(flip), "%s→%s", b ? b->result : "none", a ? a->result : "none");
        json_object_set_new(d->flips, flip,
                            json_integer(json_integer_value(json_object_get(d->flips, flip)) + 1));
    }
    if (json_array_size(d->examples) < RECOMPUTE_MAX_EXAMPLES || d->all) {
        json_t *x =
            json_pack("{s:I, s:I, s:s, s:s, s:I, s:s, s:o, s:o}", "measurement_id",
                      (json_int_t)(a ? a->id : m->id), "process_id", (json_int_t)m->process_id,
                      "subject", subject, "step", m->step, "occurrence", (json_int_t)m->occurrence,
                      "staff", (a ? a : m)->staff, "before", side(b), "after", side(a));

        if (json_array_size(d->examples) < RECOMPUTE_MAX_EXAMPLES)
            json_array_append(d->examples, x);
        if (d->all)
            json_array_append(d->all, x);
        json_decref(x);
    }
}

/* Stores every change of an applied run (recompute_changes). */
static int
record_changes(struct store *db, int64_t run, const json_t *all, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO recompute_changes (run_id, process_id, subject, step_key, occurrence,"
        " measurement_id, charged_actor, before, after)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    size_t i;
    json_t *x;
    int rc = SMILE_OK;

    json_array_foreach(all, i, x)
    {
        struct store_stmt *st;
        const json_t *b = json_object_get(x, "before"), *a = json_object_get(x, "after");
        const json_t *who = json_object_get(a ? a : b, "charged_actor");
        char *bt = json_is_object(b) ? json_dumps(b, JSON_COMPACT) : NULL;
        char *at = json_is_object(a) ? json_dumps(a, JSON_COMPACT) : NULL;

        if ((rc = store_prepare(db, sql, &st, err)) == SMILE_OK) {
            store_stmt_bind_int64(st, 1, run);
            store_stmt_bind_int64(st, 2, json_integer_value(json_object_get(x, "process_id")));
            store_stmt_bind_text(st, 3, json_string_value(json_object_get(x, "subject")), -1);
            store_stmt_bind_text(st, 4, json_string_value(json_object_get(x, "step")), -1);
            store_stmt_bind_int64(st, 5, json_integer_value(json_object_get(x, "occurrence")));
            store_stmt_bind_int64(st, 6, json_integer_value(json_object_get(x, "measurement_id")));
            store_stmt_bind_text(st, 7, json_string_value(who), -1);
            store_stmt_bind_text(st, 8, bt, -1);
            store_stmt_bind_text(st, 9, at, -1);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
        }
        free(bt);
        free(at);
        if (rc != SMILE_OK)
            break;
    }
    return rc;
}

static bool
same_key(const struct meas *x, const struct meas *y)
{
    return x->process_id == y->process_id && x->occurrence == y->occurrence &&
           strcmp(x->step, y->step) == 0;
}

static bool
in_set(const int64_t *pids, size_t np, int64_t pid)
{
    for (size_t i = 0; i < np; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* Compares the measurements of the processes pids (the subject's others are re-folded too,
   with the same definitions, and are not part of the report). */
static void
diff_subject(struct mdiff *d, const int64_t *pids, size_t np, const char *subject,
             const struct meas *b, size_t nb, const struct meas *a, size_t na)
{
    for (size_t i = 0; i < nb; i++) {
        const struct meas *match = NULL;
        if (!in_set(pids, np, b[i].process_id))
            continue;
        for (size_t k = 0; k < na && !match; k++)
            if (same_key(&b[i], &a[k]))
                match = &a[k];
        diff_one(d, subject, &b[i], match);
    }
    for (size_t k = 0; k < na; k++) {
        bool found = false;
        if (!in_set(pids, np, a[k].process_id))
            continue;
        for (size_t i = 0; i < nb && !found; i++)
            found = same_key(&b[i], &a[k]);
        if (!found)
            diff_one(d, subject, NULL, &a[k]);
    }
}

/* The (template, period) pairs with an evaluation overlapping the local days [fd, td]. */
struct tp {
    int64_t template_id;
    char period[32];
};

static int
periods_of(struct store *db, const char *fd, const char *td, struct tp **out, size_t *nout,
           struct smile_err *err)
{
    static const char sql[] = "SELECT DISTINCT template_id, period FROM evaluations"
                              " WHERE from_day <= $1 AND to_day >= $2"
                              " ORDER BY template_id, period";
    struct store_stmt *st;
    struct tp *v = NULL;
    size_t n = 0;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, td, -1);
    store_stmt_bind_text(st, 2, fd, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n].template_id = store_stmt_int64(st, 0);
        snprintf(v[n].period, sizeof(v[n].period), "%s", store_stmt_text(st, 1));
        n++;
    }
    store_stmt_reset(st);
    *out = v;
    *nout = n;
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Evaluations of one (template, period): id, username, state, score (NAN = none). */
struct ev {
    int64_t id;
    char username[65], state[16];
    double before, after;
};

static int
load_evals(struct store *db, const struct tp *p, struct ev **out, size_t *nout,
           struct smile_err *err)
{
    static const char sql[] = "SELECT id, username, state, score FROM evaluations"
                              " WHERE template_id = $1 AND period = $2 ORDER BY id";
    struct store_stmt *st;
    struct ev *v = NULL;
    size_t n = 0;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, p->template_id);
    store_stmt_bind_text(st, 2, p->period, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        v = xrealloc(v, (n + 1) * sizeof(*v));
        memset(&v[n], 0, sizeof(v[n]));
        v[n].id = store_stmt_int64(st, 0);
        snprintf(v[n].username, sizeof(v[n].username), "%s", store_stmt_text(st, 1));
        snprintf(v[n].state, sizeof(v[n].state), "%s", store_stmt_text(st, 2));
        v[n].before = store_stmt_is_null(st, 3) ? NAN : store_stmt_double(st, 3);
        v[n].after = v[n].before;
        n++;
    }
    store_stmt_reset(st);
    *out = v;
    *nout = n;
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* The current score of evaluation id (NAN = none). */
static int
eval_score(struct store *db, int64_t id, double *out, struct smile_err *err)
{
    static const char sql[] = "SELECT score FROM evaluations WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    *out = NAN;
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW && !store_stmt_is_null(st, 0))
        *out = store_stmt_double(st, 0);
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

static json_t *
score_json(double v)
{
    return isnan(v) ? json_null() : json_real(round(v * 100) / 100);
}

/*
 * Recomputes one (template, period): the would-be scores of its frozen evaluations in a
 * savepoint rolled back afterwards, then the others for real (inside the caller's tx).
 */
static int
recompute_period(struct store *db, const struct audit_who *who, const struct tp *p, struct ev **out,
                 size_t *nout, struct smile_err *err)
{
    static const char sql_thaw[] =
        "UPDATE evaluations SET state = 'published' WHERE template_id = $1 AND period = $2"
        " AND state = 'frozen'";
    struct score_template t;
    struct score_period per;
    struct score_compute_opts o = {.skip_frozen = true, .now_ms = time_now_ms()};
    struct store_stmt *st;
    json_t *res = NULL;
    struct ev *v = NULL;
    size_t n = 0;
    bool any_frozen = false;
    int rc = load_evals(db, p, &v, &n, err);

    *out = v;
    *nout = n;
    if (rc != SMILE_OK)
        return rc;
    if (score_template_get(db, p->template_id, &t, err) != SMILE_OK ||
        score_period_parse(p->period, &per, err) != SMILE_OK) {
        /* A deleted template or an odd period: its evaluations are left as they are. */
        smile_err_clear(err);
        return SMILE_OK;
    }
    for (size_t i = 0; i < n; i++)
        any_frozen |= strcmp(v[i].state, "frozen") == 0;
    if (any_frozen) {
        if ((rc = store_exec(db, "SAVEPOINT recompute_frozen", err)) != SMILE_OK)
            return rc;
        if ((rc = store_prepare(db, sql_thaw, &st, err)) == SMILE_OK) {
            store_stmt_bind_int64(st, 1, p->template_id);
            store_stmt_bind_text(st, 2, p->period, -1);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
        }
        if (rc == SMILE_OK)
            rc = score_evaluations_compute(db, who, &t, &per, &o, &res, err);
        json_decref(res);
        res = NULL;
        for (size_t i = 0; i < n && rc == SMILE_OK; i++)
            if (strcmp(v[i].state, "frozen") == 0)
                rc = eval_score(db, v[i].id, &v[i].after, err);
        if (store_exec(db, "ROLLBACK TO recompute_frozen; RELEASE recompute_frozen", err) !=
                SMILE_OK &&
            rc == SMILE_OK)
            rc = err->code;
        if (rc != SMILE_OK)
            return rc;
    }
    if ((rc = score_evaluations_compute(db, who, &t, &per, &o, &res, err)) != SMILE_OK)
        return rc;
    json_decref(res);
    for (size_t i = 0; i < n && rc == SMILE_OK; i++)
        if (strcmp(v[i].state, "frozen") != 0)
            rc = eval_score(db, v[i].id, &v[i].after, err);
    return rc;
}

static bool
score_same(double a, double b)
{
    return (isnan(a) && isnan(b)) || (!isnan(a) && !isnan(b) && fabs(a - b) < 0.005);
}

static int
record_run(struct store *db, const struct audit_who *who, const struct recompute_req *req,
           const char *token, json_t *report, int64_t *out_id, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO recompute_runs (kind, target_id, version, from_at, to_at, token, by_user,"
        " reason, created_at, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " RETURNING id";
    struct store_stmt *st;
    char *text = report ? json_dumps(report, JSON_COMPACT) : xstrdup("{}");
    const char *by = who && who->actor ? who->actor->username : NULL;
    bool proc = req->process_id > 0;
    int rc = store_prepare(db, sql, &st, err);

    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, proc ? "process" : "calendar", -1);
        store_stmt_bind_int64(st, 2, proc ? req->process_id : req->calendar_id);
        if (proc)
            store_stmt_bind_int64(st, 3, req->version);
        else
            store_stmt_bind_null(st, 3);
        store_stmt_bind_int64(st, 4, req->from);
        if (req->to == INT64_MAX)
            store_stmt_bind_null(st, 5);
        else
            store_stmt_bind_int64(st, 5, req->to);
        store_stmt_bind_text(st, 6, token, -1);
        store_stmt_bind_text(st, 7, by, -1);
        store_stmt_bind_text(st, 8, req->reason, -1);
        store_stmt_bind_int64(st, 9, time_now_ms());
        store_stmt_bind_text(st, 10, text, -1);
        rc = store_stmt_step(st, err);
        if (rc == STORE_ROW) {
            *out_id = store_stmt_int64(st, 0);
            rc = SMILE_OK;
        }
        store_stmt_reset(st);
    }
    free(text);
    return rc;
}

static int
record_report(struct store *db, int64_t run, json_t *report, struct smile_err *err)
{
    static const char sql[] = "UPDATE recompute_runs SET report = $1 WHERE id = $2";
    struct store_stmt *st;
    char *text = json_dumps(report, JSON_COMPACT);
    int rc = store_prepare(db, sql, &st, err);

    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, text, -1);
        store_stmt_bind_int64(st, 2, run);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    free(text);
    return rc;
}

static int
record_diff(struct store *db, int64_t run, const struct ev *e, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO recompute_diffs (run_id, evaluation_id, old_score, new_score)"
        " VALUES ($1, $2, $3, $4)";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, run);
    store_stmt_bind_int64(st, 2, e->id);
    if (isnan(e->before))
        store_stmt_bind_null(st, 3);
    else
        store_stmt_bind_double(st, 3, e->before);
    if (isnan(e->after))
        store_stmt_bind_null(st, 4);
    else
        store_stmt_bind_double(st, 4, e->after);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

/* The process of a process recompute: live, with req->version published. Field errors
 * (SMILE_EINVAL): /process unknown or deleted, /version not a published version of it. */
static int
process_check(struct store *db, const struct recompute_req *req, char **name, struct smile_err *err)
{
    static const char sql_p[] = "SELECT name, deleted_at FROM processes WHERE id = $1";
    static const char sql_v[] =
        "SELECT coalesce(max(number), 0), coalesce(sum(number = $1), 0) FROM process_versions"
        " WHERE process_id = $2";
    struct store_stmt *st;
    int64_t max = 0, found = 0;
    int rc = store_prepare(db, sql_p, &st, err);

    *name = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, req->process_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW && store_stmt_is_null(st, 1))
        *name = xstrdup(store_stmt_text(st, 0));
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    if (*name == NULL)
        return smile_err_field(err, "/process", "no process %lld (or it was deleted)",
                               (long long)req->process_id);
    if ((rc = store_prepare(db, sql_v, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, req->version);
    store_stmt_bind_int64(st, 2, req->process_id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        max = store_stmt_int64(st, 0);
        found = store_stmt_int64(st, 1);
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    if (max == 0)
        return smile_err_field(err, "/version", "process '%s' has no published version", *name);
    if (!found)
        return smile_err_field(err, "/version",
                               "process '%s' has no published version %d (published: 1 to %lld)",
                               *name, req->version, (long long)max);
    return SMILE_OK;
}

/* An instance of the process in the period, with the version it is measured under now. */
struct inst {
    char *subject;
    int version;
};

static int
instances_of(struct store *db, const struct recompute_req *req, struct inst **out, size_t *nout,
             struct smile_err *err)
{
    static const char sql[] = "SELECT subject, version FROM instances WHERE process_id = $1"
                              " AND started_at >= $2 AND started_at < $3 ORDER BY subject";
    struct store_stmt *st;
    struct inst *v = NULL;
    size_t n = 0;
    int rc = store_prepare(db, sql, &st, err);

    *out = NULL;
    *nout = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, req->process_id);
    store_stmt_bind_int64(st, 2, req->from);
    store_stmt_bind_int64(st, 3, req->to);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n].subject = xstrdup(store_stmt_text(st, 0));
        v[n].version = (int)store_stmt_int64(st, 1);
        n++;
    }
    store_stmt_reset(st);
    *out = v;
    *nout = n;
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Re-folds one subject (after pinning it, for a process recompute) and adds its diff. */
static int
refold(struct store *db, struct runtime_defs *defs, const int64_t *pids, size_t np,
       const char *subject, int64_t seq, struct mdiff *md, struct smile_err *err)
{
    struct meas *b = NULL, *a = NULL;
    size_t nb = 0, na = 0;
    int rc = load_meas(db, subject, &b, &nb, err);

    if (rc == SMILE_OK)
        rc = runtime_fold_subject(defs, db, subject, seq, NULL, err);
    if (rc == SMILE_OK)
        rc = load_meas(db, subject, &a, &na, err);
    if (rc == SMILE_OK)
        diff_subject(md, pids, np, subject, b, nb, a, na);
    free(b);
    free(a);
    return rc;
}

static json_t *
time_or_open(int64_t t)
{
    char b[TIME_RFC3339_LEN + 1];

    if (t == INT64_MAX)
        return json_null();
    time_format_rfc3339(t, b);
    return json_string(b);
}

int
recompute_run(struct store *db, const struct audit_who *who, const struct recompute_req *req,
              json_t **out, struct smile_err *err)
{
    struct runtime_defs *defs = NULL;
    struct mdiff md = {.flips = json_object(),
                       .examples = json_array(),
                       .all = req->dry_run ? NULL : json_array()};
    json_t *report = NULL, *pids_json = json_array(), *items = json_array(), *frozen_rows = NULL;
    json_t *from_versions = json_object();
    int64_t *pids = NULL, run_id = 0, seq = time_now_ms() * 1000 + 777, now = time_now_ms();
    int64_t repinned = 0, already = 0, last;
    size_t np = 0, ns = 0, ni = 0;
    char **subjects = NULL, *target_name = NULL, token[17], fd[11], td[11];
    const char *by = who && who->actor ? who->actor->username : NULL;
    struct inst *insts = NULL;
    int64_t ev_changed = 0, ev_unchanged = 0, ev_frozen = 0;
    bool proc = req->process_id > 0;
    struct tp *tps = NULL;
    size_t ntp = 0;
    int rc;

    *out = NULL;
    if (!req->dry_run && (req->confirm == NULL || req->confirm[0] == '\0')) {
        rc = smile_err_field(err, "/confirm", "is required to apply: the token of a dry run");
        goto done;
    }
    if ((rc = store_begin(db, err)) != SMILE_OK)
        goto done;
    if (proc)
        rc = process_check(db, req, &target_name, err);
    if (rc == SMILE_OK)
        rc = fingerprint(db, req, token, err);
    if (rc == SMILE_OK && !req->dry_run && strcmp(token, req->confirm) != 0)
        rc = smile_err_set(err, SMILE_ECONFLICT,
                           "the ledger, a definition or an evaluation changed since the dry run "
                           "(or the request differs from it): run the dry run again and review "
                           "its report");
    if (rc == SMILE_OK && !proc)
        rc = processes_on(db, req->calendar_id, &target_name, &pids, &np, err);
    if (rc == SMILE_OK && !proc)
        rc = subjects_of(db, pids, np, req->from, req->to, &subjects, &ns, err);
    if (rc == SMILE_OK && proc) {
        pids = xmalloc(sizeof(*pids));
        pids[0] = req->process_id;
        np = 1;
        /* The run row first: the pins name it (a dry run rolls both back). */
        rc = record_run(db, who, req, token, NULL, &run_id, err);
    }
    if (rc == SMILE_OK && proc)
        rc = instances_of(db, req, &insts, &ni, err);
    if (rc == SMILE_OK) {
        defs = runtime_defs_new();
        rc = runtime_defs_refresh(defs, db, err);
    }
    for (size_t i = 0; i < ni && rc == SMILE_OK; i++) {
        struct runtime_pin pin = {.process_id = req->process_id,
                                  .subject = insts[i].subject,
                                  .version = req->version,
                                  .previous_version = insts[i].version,
                                  .run_id = run_id,
                                  .reason = req->reason,
                                  .by = by,
                                  .at = now};
        char key[16];

        if (insts[i].version == req->version) {
            already++;
            continue;
        }
        repinned++;
        snprintf(key, sizeof(key), "%d", insts[i].version);
        json_object_set_new(
            from_versions, key,
            json_integer(json_integer_value(json_object_get(from_versions, key)) + 1));
        rc = runtime_pin_add(db, &pin, NULL, err);
        if (rc == SMILE_OK) /* the defs notice the new pin (their pin lookup is on) */
            rc = runtime_defs_refresh(defs, db, err);
        if (rc == SMILE_OK)
            rc = refold(db, defs, pids, np, insts[i].subject, seq, &md, err);
        ns++;
    }
    for (size_t i = 0; i < ns && !proc && rc == SMILE_OK; i++)
        rc = refold(db, defs, pids, np, subjects[i], seq, &md, err);
    /* Evaluation periods are local days in the scorecard zone (Asia/Shanghai, UTC+8): those
       of the period, and up to the latest measurement re-folded (a step started in the period
       may end after it). */
    last = req->to == INT64_MAX ? req->from : req->to - 1;
    if (md.last_at > last)
        last = md.last_at;
    time_format_date((req->from + 8 * 3600000) / 86400000, fd);
    time_format_date((last + 8 * 3600000) / 86400000, td);
    if (rc == SMILE_OK)
        rc = periods_of(db, fd, td, &tps, &ntp, err);
    if (rc == SMILE_OK)
        frozen_rows = json_array();
    for (size_t k = 0; k < ntp && rc == SMILE_OK; k++) {
        struct ev *v = NULL;
        size_t n = 0;

        rc = recompute_period(db, who, &tps[k], &v, &n, err);
        for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
            bool frozen = strcmp(v[i].state, "frozen") == 0;

            if (frozen)
                ev_frozen++;
            if (score_same(v[i].before, v[i].after)) {
                ev_unchanged++;
                if (!frozen)
                    continue;
            } else {
                ev_changed++;
            }
            json_array_append_new(
                items, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:s}",
                                 "evaluation_id", (json_int_t)v[i].id, "template_id",
                                 (json_int_t)tps[k].template_id, "period", tps[k].period,
                                 "username", v[i].username, "state", v[i].state, "before",
                                 score_json(v[i].before), "after", score_json(v[i].after), "delta",
                                 isnan(v[i].before) || isnan(v[i].after)
                                     ? json_null()
                                     : json_real(round((v[i].after - v[i].before) * 100) / 100),
                                 "frozen", frozen, "note",
                                 frozen ? "frozen: will not change; the would-be score is recorded "
                                          "beside it"
                                        : "will be recomputed"));
        }
        if (rc == SMILE_OK && !req->dry_run && n > 0) {
            /* The frozen lines, for their diff rows once the run row exists. */
            for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].state, "frozen") == 0)
                    json_array_append_new(frozen_rows,
                                          json_pack("{s:I, s:o, s:o}", "id", (json_int_t)v[i].id,
                                                    "before", score_json(v[i].before), "after",
                                                    score_json(v[i].after)));
        }
        free(v);
    }
    if (rc == SMILE_OK) {
        for (size_t i = 0; i < np; i++)
            json_array_append_new(pids_json, json_integer((json_int_t)pids[i]));
        report = json_pack(
            "{s:b, s:s, s:s, s:o, s:o, s:O, s:I,"
            " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O}, s:{s:I, s:I, s:I, s:O}}",
            "dry_run", req->dry_run, "confirm", token, "kind", proc ? "process" : "calendar",
            "from", time_or_open(req->from), "to", time_or_open(req->to), "processes", pids_json,
            "subjects", (json_int_t)ns, "measurements", "compared", (json_int_t)md.compared,
            "changed", (json_int_t)md.changed, "result_changed", (json_int_t)md.result_changed,
            "elapsed_changed", (json_int_t)md.elapsed_changed, "target_changed",
            (json_int_t)md.target_changed, "charge_changed", (json_int_t)md.charge_changed, "flips",
            md.flips, "examples", md.examples, "evaluations", "changed", (json_int_t)ev_changed,
            "unchanged", (json_int_t)ev_unchanged, "frozen", (json_int_t)ev_frozen, "items", items);
        json_object_set_new(json_object_get(report, "measurements"), "examples_truncated",
                            json_boolean(md.changed > (int64_t)json_array_size(md.examples)));
        if (proc) {
            json_object_set_new(report, "process",
                                json_pack("{s:I, s:s, s:i}", "id", (json_int_t)req->process_id,
                                          "name", target_name, "version", req->version));
            json_object_set_new(report, "instances",
                                json_pack("{s:I, s:I, s:I, s:O}", "in_range", (json_int_t)ni,
                                          "repinned", (json_int_t)repinned, "already",
                                          (json_int_t)already, "from_versions", from_versions));
            json_object_set_new(report, "reason",
                                req->reason ? json_string(req->reason) : json_null());
        } else {
            json_object_set_new(
                report, "calendar",
                json_pack("{s:I, s:s}", "id", (json_int_t)req->calendar_id, "name", target_name));
        }
    }
    if (rc == SMILE_OK && !req->dry_run) {
        size_t i;
        json_t *f;

        if (proc)
            rc = record_report(db, run_id, report, err);
        else
            rc = record_run(db, who, req, token, report, &run_id, err);
        json_array_foreach(frozen_rows, i, f)
        {
            struct ev e = {0};
            const json_t *b, *a;

            if (rc != SMILE_OK || !json_is_object(f))
                continue;
            e.id = json_integer_value(json_object_get(f, "id"));
            b = json_object_get(f, "before");
            a = json_object_get(f, "after");
            e.before = json_is_number(b) ? json_number_value(b) : NAN;
            e.after = json_is_number(a) ? json_number_value(a) : NAN;
            rc = record_diff(db, run_id, &e, err);
        }
        if (rc == SMILE_OK)
            rc = record_changes(db, run_id, md.all, err);
        if (rc == SMILE_OK) {
            json_t *summary = json_pack(
                "{s:s, s:I, s:o, s:o, s:I, s:I, s:I, s:I}", "kind", proc ? "process" : "calendar",
                proc ? "process_id" : "calendar_id",
                (json_int_t)(proc ? req->process_id : req->calendar_id), "from",
                time_or_open(req->from), "to", time_or_open(req->to), "subjects", (json_int_t)ns,
                "measurements_changed", (json_int_t)md.changed, "evaluations_changed",
                (json_int_t)ev_changed, "frozen_diffs", (json_int_t)ev_frozen);
            if (proc) {
                json_object_set_new(summary, "version", json_integer(req->version));
                json_object_set_new(summary, "repinned", json_integer((json_int_t)repinned));
                json_object_set_new(summary, "reason",
                                    req->reason ? json_string(req->reason) : json_null());
            }
            rc = audit_record_who(db, who, "recompute", run_id, "apply", NULL, summary, err);
            json_decref(summary);
        }
        if (rc == SMILE_OK)
            json_object_set_new(report, "run_id", json_integer((json_int_t)run_id));
    }
    if (rc == SMILE_OK && !req->dry_run)
        rc = store_commit(db, err);
    else if (store_in_tx(db))
        store_rollback(db);
done:
    if (rc == SMILE_OK) {
        *out = report;
        report = NULL;
    }
    json_decref(report);
    json_decref(md.flips);
    json_decref(md.examples);
    json_decref(md.all);
    json_decref(pids_json);
    json_decref(items);
    json_decref(frozen_rows);
    json_decref(from_versions);
    for (size_t i = 0; i < ns && !proc; i++)
        free(subjects[i]);
    free(subjects);
    for (size_t i = 0; i < ni; i++)
        free(insts[i].subject);
    free(insts);
    free(pids);
    free(tps);
    free(target_name);
    runtime_defs_free(defs);
    return rc;
}

static json_t *
opt_score(struct store_stmt *st, int col)
{
    return store_stmt_is_null(st, col) ? json_null() : json_real(store_stmt_double(st, col));
}

#define RUN_COLS                                                                                   \
    "r.id, r.kind, r.target_id, r.version, r.from_at, r.to_at, r.by_user, r.reason,"               \
    " r.created_at, (SELECT count(*) FROM recompute_diffs d WHERE d.run_id = r.id),"               \
    " (SELECT count(*) FROM instance_pins p WHERE p.run_id = r.id),"                               \
    " (SELECT count(*) FROM recompute_changes c WHERE c.run_id = r.id)"

/* One run's summary from a row of RUN_COLS. */
static json_t *
run_json(struct store_stmt *st)
{
    const char *kind = store_stmt_text(st, 1), *by = store_stmt_text(st, 6),
               *reason = store_stmt_text(st, 7);
    bool proc = kind && strcmp(kind, "process") == 0;
    json_int_t target = (json_int_t)store_stmt_int64(st, 2);

    return json_pack(
        "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "id",
        (json_int_t)store_stmt_int64(st, 0), "kind", proc ? "process" : "calendar", "calendar_id",
        proc ? json_null() : json_integer(target), "process_id",
        proc ? json_integer(target) : json_null(), "version",
        proc ? json_integer(store_stmt_int64(st, 3)) : json_null(), "from",
        time_or_open(store_stmt_int64(st, 4)), "to",
        store_stmt_is_null(st, 5) ? json_null() : time_or_open(store_stmt_int64(st, 5)), "by",
        by ? json_string(by) : json_null(), "reason", reason ? json_string(reason) : json_null(),
        "created_at", time_or_open(store_stmt_int64(st, 8)), "frozen_diffs",
        (json_int_t)store_stmt_int64(st, 9), "repinned", (json_int_t)store_stmt_int64(st, 10),
        "changes", (json_int_t)store_stmt_int64(st, 11));
}

int
recompute_run_list(struct store *db, int limit, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT " RUN_COLS " FROM recompute_runs r ORDER BY r.id DESC LIMIT $1";
    struct store_stmt *st;
    json_t *items;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, limit);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(items, run_json(st));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return SMILE_OK;
}

int
recompute_run_get(struct store *db, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql_run[] =
        "SELECT " RUN_COLS ", r.report FROM recompute_runs r WHERE r.id = $1";
    static const char sql_diffs[] = "SELECT evaluation_id, old_score, new_score"
                                    " FROM recompute_diffs WHERE run_id = $1 ORDER BY id";
    static const char sql_pins[] = "SELECT subject, previous_version, version FROM instance_pins"
                                   " WHERE run_id = $1 ORDER BY id";
    struct store_stmt *st;
    json_t *o = NULL, *diffs, *pins;
    int rc = store_prepare(db, sql_run, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        json_t *report = json_loads(store_stmt_text(st, 12), 0, NULL);

        o = run_json(st);
        json_object_set_new(o, "report", report ? report : json_null());
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no recompute run %lld", (long long)id);
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        return rc;
    if ((rc = store_prepare(db, sql_diffs, &st, err)) != SMILE_OK) {
        json_decref(o);
        return rc;
    }
    store_stmt_bind_int64(st, 1, id);
    diffs = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(diffs, json_pack("{s:I, s:o, s:o}", "evaluation_id",
                                               (json_int_t)store_stmt_int64(st, 0), "old_score",
                                               opt_score(st, 1), "new_score", opt_score(st, 2)));
    store_stmt_reset(st);
    json_object_set_new(o, "diffs", diffs);
    if (rc != STORE_DONE) {
        json_decref(o);
        return rc;
    }
    if ((rc = store_prepare(db, sql_pins, &st, err)) != SMILE_OK) {
        json_decref(o);
        return rc;
    }
    store_stmt_bind_int64(st, 1, id);
    pins = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_array_append_new(pins,
                              json_pack("{s:s, s:I, s:I}", "subject", store_stmt_text(st, 0),
                                        "previous_version", (json_int_t)store_stmt_int64(st, 1),
                                        "version", (json_int_t)store_stmt_int64(st, 2)));
    store_stmt_reset(st);
    json_object_set_new(o, "pins", pins);
    if (rc != STORE_DONE) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return SMILE_OK;
}

int
recompute_run_changes(struct store *db, int64_t id, int64_t after, int limit, json_t **out,
                      struct smile_err *err)
{
    static const char sql_run[] = "SELECT count(*) FROM recompute_runs WHERE id = $1";
    static const char sql[] =
        "SELECT id, process_id, subject, step_key, occurrence, measurement_id, charged_actor,"
        " before, after FROM recompute_changes WHERE run_id = $1 AND id > $2 ORDER BY id"
        " LIMIT $3";
    struct store_stmt *st;
    json_t *items;
    int64_t last = 0;
    int n = 0, rc = store_prepare(db, sql_run, &st, err);
    bool more = false, found = false;
    char c[24];

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    if ((rc = store_stmt_step(st, err)) == STORE_ROW)
        found = store_stmt_int64(st, 0) > 0;
    store_stmt_reset(st);
    if (rc != STORE_ROW)
        return rc;
    if (!found)
        return smile_err_set(err, SMILE_ENOTFOUND, "no recompute run %lld", (long long)id);
    if ((rc = store_prepare(db, sql, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_int64(st, 2, after);
    store_stmt_bind_int64(st, 3, limit + 1);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *who = store_stmt_text(st, 6), *b = store_stmt_text(st, 7),
                   *a = store_stmt_text(st, 8);
        json_t *bj, *aj;

        if (n++ == limit) {
            more = true;
            break;
        }
        bj = b ? json_loads(b, 0, NULL) : NULL;
        aj = a ? json_loads(a, 0, NULL) : NULL;
        last = store_stmt_int64(st, 0);
        json_array_append_new(
            items, json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "id",
                             (json_int_t)last, "process_id", (json_int_t)store_stmt_int64(st, 1),
                             "subject", store_stmt_text(st, 2), "step", store_stmt_text(st, 3),
                             "occurrence", (json_int_t)store_stmt_int64(st, 4), "measurement_id",
                             store_stmt_is_null(st, 5) ? json_null()
                                                       : json_integer(store_stmt_int64(st, 5)),
                             "staff", who ? json_string(who) : json_null(), "before",
                             bj ? bj : json_null(), "after", aj ? aj : json_null()));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    snprintf(c, sizeof(c), "%lld", (long long)last);
    *out =
        json_pack("{s:o, s:o}", "items", items, "next_cursor", more ? json_string(c) : json_null());
    return SMILE_OK;
}
