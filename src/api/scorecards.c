/*
 * scorecards.c — the scorecard routes: /api/v1/scorecards/indicators and
 * /api/v1/scorecards/templates (admin CRUD), /api/v1/evaluations (compute, list, read,
 * publish, freeze, comment, export, drill-down to measurements) and /api/v1/digests. Thin:
 * parse → score/ → render. Visibility: agents see only their own evaluations once published
 * (anything else reads as 404, so ids reveal nothing); supervisors and admins see all;
 * supervisors read their own digests, admins every digest.
 */
#include "api/api_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resource.h"
#include "crm/audit.h"
#include "kpi/kpi.h"
#include "score/score.h"

static const char *
q(struct http_request *req, const char *name)
{
    const char *v = http_request_query(req, name);
    return v && v[0] ? v : NULL;
}

static bool
is_agent(const struct http_request *req)
{
    return req->auth.role == API_ROLE_AGENT;
}

/* Indicators ---------------------------------------------------------------------------- */

void
api_score_indicators(struct http_request *req)
{
    json_t *items = json_array();

    for (int i = 0; kpi_indicators[i].name; i++) {
        const char *n = kpi_indicators[i].name;
        const char *en = score_indicator_label(n, "en"), *zh = score_indicator_label(n, "zh");

        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "name", n, "direction",
                             kpi_indicators[i].higher_is_better ? "higher" : "lower", "unit",
                             kpi_indicators[i].unit ? kpi_indicators[i].unit : "", "label", "en",
                             en ? en : n, "zh", zh ? zh : (en ? en : n)));
    }
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

/* Templates ----------------------------------------------------------------------------- */

/* Renders a template read or written by score/template.c (rc its result). */
static int
template_out(int rc, const struct score_template *t, json_t **out, int64_t *version)
{
    if (rc == SMILE_OK) {
        *out = score_template_json(t);
        *version = t->version;
    }
    return rc;
}

static int
template_get(struct store *db, int64_t id, json_t **out, int64_t *version, struct smile_err *err)
{
    struct score_template t;

    return template_out(score_template_get(db, id, &t, err), &t, out, version);
}

static int
template_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
                struct smile_err *err)
{
    struct score_template t;

    return template_out(score_template_create(c->db, &c->who, body, &t, err), &t, out, version);
}

static int
template_update(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
                int64_t *version, struct smile_err *err)
{
    struct score_template t;

    return template_out(score_template_update(c->db, &c->who, id, expect, body, &t, err), &t, out,
                        version);
}

static int
template_delete(const struct api_call *c, int64_t id, int64_t expect, struct smile_err *err)
{
    return score_template_delete(c->db, &c->who, id, expect, err);
}

static const struct api_resource templates = {
    .base = "/api/v1/scorecards/templates",
    .list = score_template_list,
    .get = template_get,
    .create = template_create,
    .update = template_update,
    .remove = template_delete,
};

void
api_score_templates_list(struct http_request *req)
{
    api_resource_list(req, &templates);
}

void
api_score_templates_get(struct http_request *req)
{
    api_resource_get(req, &templates);
}

void
api_score_templates_create(struct http_request *req)
{
    api_resource_create(req, &templates);
}

void
api_score_templates_replace(struct http_request *req)
{
    api_resource_patch(req, &templates);
}

void
api_score_templates_delete(struct http_request *req)
{
    api_resource_delete(req, &templates);
}

/* Evaluations --------------------------------------------------------------------------- */

/* Reads the list/export filters; false (problem sent) if one is malformed. */
static bool
read_filter(struct http_request *req, struct score_eval_filter *f)
{
    struct score_period p;
    struct smile_err err, e2;
    const char *v;

    smile_err_clear(&err);
    memset(f, 0, sizeof(*f));
    f->period = q(req, "period");
    if (f->period) {
        smile_err_clear(&e2);
        if (score_period_parse(f->period, &p, &e2) != SMILE_OK)
            smile_err_field(&err, "/query/period", "%s", e2.msg);
    }
    if ((v = q(req, "template")) != NULL) {
        struct score_template t;
        int64_t id;
        smile_err_clear(&e2);
        if (str_to_int64(str_from(v), &id) == SMILE_OK && id > 0)
            f->template_id = id;
        else if (score_template_get_by_name(req->db, v, &t, &e2) == SMILE_OK)
            f->template_id = t.id;
        else
            smile_err_field(&err, "/query/template", "no such template");
    }
    f->team = q(req, "team");
    f->user = q(req, "user");
    f->state = q(req, "state");
    if (f->state && strcmp(f->state, "draft") != 0 && strcmp(f->state, "published") != 0 &&
        strcmp(f->state, "frozen") != 0)
        smile_err_field(&err, "/query/state", "must be draft, published or frozen");
    if (is_agent(req)) {
        /* Agents see their own published and frozen evaluations only. */
        if (f->user && strcmp(f->user, req->auth.username) != 0)
            f->user = "\x01"; /* no such user: an empty answer, not a 403 that confirms */
        else
            f->user = req->auth.username;
        f->visible_only = true;
    }
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    return true;
}

void
api_evaluations_list(struct http_request *req)
{
    struct score_eval_filter f;
    struct smile_err err;
    json_t *items = NULL;
    int64_t after = 0, next = 0;
    int limit;

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after) || !read_filter(req, &f))
        return;
    if (score_evaluation_list(req->db, &f, after, limit, &items, &next, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_reply_page(req, items, next);
}

/* Reads "period" and "template" (id or name) of a request body into p and t (field
   problems into err). */
static void
read_period_template(struct http_request *req, const json_t *body, struct score_period *p,
                     struct score_template *t, struct smile_err *err)
{
    struct smile_err e2;
    json_t *v = json_object_get(body, "period");

    smile_err_clear(&e2);
    if (!json_is_string(v))
        smile_err_field(err, "/period",
                        "is required: a month (2026-11), week (2026-W48) or "
                        "quarter (2026-Q4)");
    else if (score_period_parse(json_string_value(v), p, &e2) != SMILE_OK)
        smile_err_field(err, "/period", "%s", e2.msg);
    v = json_object_get(body, "template");
    smile_err_clear(&e2);
    if (json_is_integer(v)) {
        if (score_template_get(req->db, json_integer_value(v), t, &e2) != SMILE_OK)
            smile_err_field(err, "/template", "no such template");
    } else if (json_is_string(v)) {
        if (score_template_get_by_name(req->db, json_string_value(v), t, &e2) != SMILE_OK)
            smile_err_field(err, "/template", "no such template");
    } else {
        smile_err_field(err, "/template", "is required: a template id or name");
    }
}

void
api_evaluations_compute(struct http_request *req)
{
    struct score_compute_opts o = {.with_digest = true};
    struct score_template t;
    struct score_period p;
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL, *out = NULL, *v;
    int rc;

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    read_period_template(req, body, &p, &t, &err);
    v = json_object_get(body, "user");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            smile_err_field(&err, "/user", "must be a username");
        else
            o.user = json_string_value(v);
    }
    v = json_object_get(body, "skip_frozen");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            smile_err_field(&err, "/skip_frozen", "must be true or false");
        else
            o.skip_frozen = json_is_true(v);
    }
    v = json_object_get(body, "dry_run");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            smile_err_field(&err, "/dry_run", "must be true or false");
        else
            o.dry_run = json_is_true(v);
    }
    if (err.code != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    o.now_ms = time_now_ms();
    api_audit_who(req, &who);
    rc = score_evaluations_compute(req->db, &who, &t, &p, &o, &out, &err);
    json_decref(body);
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

/* POST /api/v1/evaluations/publish | freeze {"period", "template", "team"?}: all at once. */
static void
transition_all(struct http_request *req, const char *to)
{
    struct score_template t;
    struct score_period p;
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL, *v;
    const char *team = NULL;
    int64_t n = 0;

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    read_period_template(req, body, &p, &t, &err);
    v = json_object_get(body, "team");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            smile_err_field(&err, "/team", "must be a team name");
        else
            team = json_string_value(v);
    }
    if (err.code == SMILE_OK) {
        api_audit_who(req, &who);
        score_evaluation_transition_all(req->db, &who, t.id, p.name, team, to, &n, &err);
    }
    json_decref(body);
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s, s:s, s:s, s:I}", "period", p.name, "template", t.name, "state",
                              to, "changed", (json_int_t)n));
}

void
api_evaluations_publish_all(struct http_request *req)
{
    transition_all(req, "published");
}

void
api_evaluations_freeze_all(struct http_request *req)
{
    transition_all(req, "frozen");
}

void
api_evaluations_export(struct http_request *req)
{
    struct score_eval_filter f;
    struct smile_err err;
    const char *fmt = q(req, "format"), *detail = q(req, "detail");
    int format;
    char disp[128];

    smile_err_clear(&err);
    if (fmt == NULL || strcmp(fmt, "csv") == 0) {
        format = detail && strcmp(detail, "items") == 0 ? SCORE_EXPORT_CSV_ITEMS : SCORE_EXPORT_CSV;
    } else if (strcmp(fmt, "xlsx") == 0) {
        format = SCORE_EXPORT_XLSX;
    } else {
        smile_err_field(&err, "/query/format", "must be csv or xlsx");
        http_reply_problem(req, &err);
        return;
    }
    if (detail && strcmp(detail, "items") != 0) {
        smile_err_field(&err, "/query/detail", "must be items");
        http_reply_problem(req, &err);
        return;
    }
    if (!read_filter(req, &f))
        return;
    if (score_export(req->db, &f, format, &req->out, &err) != SMILE_OK) {
        buf_reset(&req->out);
        http_reply_problem(req, &err);
        return;
    }
    snprintf(disp, sizeof(disp), "attachment; filename=\"scorecards-%s.%s\"",
             f.period ? f.period : "all", format == SCORE_EXPORT_XLSX ? "xlsx" : "csv");
    http_response_header(req, "Content-Disposition", disp);
    req->status = 200;
    req->content_type = format == SCORE_EXPORT_XLSX
                            ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            : "text/csv; charset=utf-8";
}

/* Reads evaluation {id} as the caller may see it; false (404 sent) otherwise. */
static bool
visible(struct http_request *req, int64_t id, json_t **out, char *user, char *state)
{
    struct smile_err err;

    smile_err_clear(&err);
    if (score_evaluation_get(req->db, id, out, user, state, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return false;
    }
    if (is_agent(req) && (strcmp(user, req->auth.username) != 0 || strcmp(state, "draft") == 0)) {
        json_decref(*out);
        *out = NULL;
        http_reply_error(req, SMILE_ENOTFOUND, "no evaluation %lld", (long long)id);
        return false;
    }
    return true;
}

void
api_evaluations_get(struct http_request *req)
{
    json_t *o = NULL;
    char user[65], state[16];
    int64_t id;

    if (!api_param_id(req, 0, &id) || !visible(req, id, &o, user, state))
        return;
    {
        /* The same template's previous period, for the change at a glance. */
        struct score_period p, prev;
        struct smile_err e2;
        double before;
        int64_t tid = json_integer_value(json_object_get(json_object_get(o, "template"), "id"));
        json_t *score = json_object_get(o, "score");

        smile_err_clear(&e2);
        if (score_period_parse(json_string_value(json_object_get(o, "period")), &p, &e2) ==
            SMILE_OK) {
            bool has;
            score_period_prev(&p, &prev);
            has = score_evaluation_score(req->db, tid, prev.name, user, &before);
            json_object_set_new(
                o, "previous",
                json_pack("{s:s, s:o, s:o}", "period", prev.name, "score",
                          has ? json_real(round(before * 100) / 100) : json_null(), "change",
                          has && json_is_number(score)
                              ? json_real(round((json_number_value(score) - before) * 100) / 100)
                              : json_null()));
        }
    }
    api_etag(req, json_integer_value(json_object_get(o, "version")));
    http_reply_json(req, 200, o);
}

static void
transition(struct http_request *req, const char *to)
{
    struct smile_err err;
    struct audit_who who;
    json_t *o = NULL;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    api_audit_who(req, &who);
    if (score_evaluation_transition(req->db, &who, id, to, &o, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_etag(req, json_integer_value(json_object_get(o, "version")));
    http_reply_json(req, 200, o);
}

void
api_evaluations_publish(struct http_request *req)
{
    transition(req, "published");
}

void
api_evaluations_freeze(struct http_request *req)
{
    transition(req, "frozen");
}

void
api_evaluations_comment(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *o = NULL, *body = NULL, *b;
    char user[65], state[16];
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !visible(req, id, &o, user, state))
        return;
    json_decref(o);
    o = NULL;
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    b = json_object_get(body, "body");
    api_audit_who(req, &who);
    if (score_evaluation_comment(req->db, &who, id, req->auth.username,
                                 json_is_string(b) ? json_string_value(b) : NULL, &o,
                                 &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    http_reply_json(req, 201, o);
}

void
api_evaluations_measurements(struct http_request *req)
{
    struct smile_err err;
    json_t *o = NULL;
    const char *result = q(req, "result");
    char user[65], state[16];
    int64_t id, n, after = 0, next = 0;
    int limit;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (req->nparams < 2 || str_to_int64(req->params[1], &n) != SMILE_OK || n < 0 ||
        n >= SCORE_MAX_ITEMS) {
        http_reply_error(req, SMILE_ENOTFOUND, "no such item: %s", req->path);
        return;
    }
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after))
        return;
    if (result && strcmp(result, "met") != 0 && strcmp(result, "breached") != 0 &&
        strcmp(result, "open") != 0 && strcmp(result, "excluded") != 0) {
        smile_err_field(&err, "/query/result", "must be open, met, breached or excluded");
        http_reply_problem(req, &err);
        return;
    }
    if (!visible(req, id, &o, user, state))
        return;
    json_decref(o);
    o = NULL;
    if (score_item_measurements(req->db, id, (int)n, result, after, limit, &o, &next, &err) !=
        SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    {
        char c[24];
        snprintf(c, sizeof(c), "%lld", (long long)next);
        json_object_set_new(o, "next_cursor", next ? json_string(c) : json_null());
    }
    http_reply_json(req, 200, o);
}

/* Digests ------------------------------------------------------------------------------- */

void
api_digests_list(struct http_request *req)
{
    struct smile_err err;
    struct score_period p;
    const char *period = q(req, "period");
    json_t *items = NULL;

    smile_err_clear(&err);
    if (period && score_period_parse(period, &p, &err) != SMILE_OK) {
        struct smile_err e2;
        smile_err_clear(&e2);
        smile_err_field(&e2, "/query/period", "%s", err.msg);
        http_reply_problem(req, &e2);
        return;
    }
    if (score_digest_list(req->db, period, req->auth.role == API_ROLE_ADMIN ? 0 : req->auth.user_id,
                          &items, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}
