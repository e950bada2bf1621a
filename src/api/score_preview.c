/*
 * score_preview.c — POST /api/v1/scorecards/preview?period=: what a scorecard template that
 * is being edited (saved or not) would give for a period, person by person and item by
 * item, keeping nothing. The admin screen's preview posts the editor's document. Inside
 * one transaction that is always rolled back, the document is stored under a throw-away
 * name, its evaluations are computed by the score part exactly as a real computation would
 * (score_evaluations_compute), read back with their items, and everything is undone; so
 * the figures are the real arithmetic, never a second implementation of it.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "crm/audit.h"
#include "score/score.h"
#include "store/store.h"

/* Evaluations listed per preview (a role larger than this is cut, and says so). */
#define PREVIEW_MAX_PEOPLE 500

void
api_score_preview(struct http_request *req)
{
    const char *period = http_request_query(req, "period");
    struct score_compute_opts o = {0};
    struct score_eval_filter f = {0};
    struct score_template t;
    struct score_period p;
    struct smile_err err, perr;
    struct audit_who who;
    json_t *body = NULL, *doc = NULL, *summary = NULL, *list = NULL, *people = NULL, *out;
    int64_t next = 0;
    char name[40];
    size_t i;
    int rc;

    smile_err_clear(&err);
    smile_err_clear(&perr);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    /* Every bad field of the document at once (pointers as for POST …/templates), then
       the period. */
    rc = score_template_parse(req->db, body, &t, &err);
    if (!period || !period[0])
        smile_err_field(&err, "/query/period", "period is required (2026-11, 2026-W47, 2026-Q4)");
    else if (score_period_parse(period, &p, &perr) != SMILE_OK)
        smile_err_field(&err, "/query/period", "%s", perr.msg);
    if (rc != SMILE_OK || err.code != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    /* The draft may carry a saved template's name: store it under one nobody has. */
    snprintf(name, sizeof(name), "preview.%lld", (long long)time_now_ms());
    doc = json_deep_copy(body);
    json_object_set_new(doc, "name", json_string(name));
    json_object_set_new(doc, "auto", json_false());
    api_audit_who(req, &who);
    o.now_ms = time_now_ms();
    rc = store_begin(req->db, &err);
    if (rc == SMILE_OK)
        rc = score_template_create(req->db, &who, doc, &t, &err);
    if (rc == SMILE_OK)
        rc = score_evaluations_compute(req->db, &who, &t, &p, &o, &summary, &err);
    if (rc == SMILE_OK) {
        f.period = p.name;
        f.template_id = t.id;
        rc = score_evaluation_list(req->db, &f, 0, PREVIEW_MAX_PEOPLE, &list, &next, &err);
    }
    people = json_array();
    for (i = 0; rc == SMILE_OK && i < json_array_size(list); i++) {
        json_t *ev = NULL;
        char user[65], state[16];

        rc = score_evaluation_get(
            req->db, json_integer_value(json_object_get(json_array_get(list, i), "id")), &ev, user,
            state, &err);
        if (rc == SMILE_OK) {
            /* Only what the evaluation says; its id, state and times are about to vanish. */
            json_array_append_new(
                people,
                json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "user",
                          json_object_get(ev, "user"), "team", json_object_get(ev, "team"), "role",
                          json_object_get(ev, "role"), "status", json_object_get(ev, "status"),
                          "score", json_object_get(ev, "score"), "reason",
                          json_object_get(ev, "reason"), "reason_zh",
                          json_object_get(ev, "reason_zh"), "rank", json_object_get(ev, "rank"),
                          "items", json_object_get(ev, "items")));
            json_decref(ev);
        }
    }
    if (store_in_tx(req->db))
        store_rollback(req->db);
    if (rc != SMILE_OK) {
        json_decref(people);
        json_decref(list);
        json_decref(summary);
        json_decref(doc);
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    out = json_pack("{s:s, s:O, s:O, s:o, s:b}", "period", p.name, "from",
                    json_object_get(summary, "from"), "to", json_object_get(summary, "to"),
                    "people", people, "truncated", next != 0);
    json_decref(list);
    json_decref(summary);
    json_decref(doc);
    json_decref(body);
    http_reply_json(req, 200, out);
}
