/*
 * teams.c — /api/v1/teams: list (cursor paging), read one (with its ETag), create
 * (admin) and patch (admin, If-Match). Thin: parse → crm/staff.c → render.
 */
#include "api/api.h"

#include <stdio.h>

#include "crm/audit.h"
#include "crm/staff.h"
#include "store/store.h"

void
api_teams_list(struct http_request *req)
{
    struct smile_err err;
    json_t *items = NULL;
    int64_t after = 0, next = 0;
    int limit;
    char c[24];

    smile_err_clear(&err);
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &after))
        return;
    if (staff_team_list(req->db, after, limit, &items, &next, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    snprintf(c, sizeof(c), "%lld", (long long)next);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o}", "items", items, "next_cursor",
                              next ? json_string(c) : json_null()));
}

void
api_teams_get(struct http_request *req)
{
    struct smile_err err;
    struct staff_team t;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (staff_team_get(req->db, id, &t, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_etag(req, t.version);
    http_reply_json(req, 200, staff_team_json(&t));
}

void
api_teams_create(struct http_request *req)
{
    struct smile_err err;
    struct staff_team t;
    struct audit_who who;
    json_t *body = NULL;
    char loc[64];

    smile_err_clear(&err);
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    if (staff_team_create(req->db, &who, body, &t, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    snprintf(loc, sizeof(loc), "/api/v1/teams/%lld", (long long)t.id);
    http_response_header(req, "Location", loc);
    api_etag(req, t.version);
    http_reply_json(req, 201, staff_team_json(&t));
}

void
api_teams_patch(struct http_request *req)
{
    struct smile_err err;
    struct staff_team t;
    struct audit_who who;
    json_t *body = NULL;
    int64_t id, version;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (staff_team_get(req->db, id, &t, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (!api_if_match_version(req, &version))
        return;
    if (http_body_json(req, &body, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    api_audit_who(req, &who);
    if (staff_team_update(req->db, &who, id, version, body, &t, &err) != SMILE_OK) {
        json_decref(body);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(body);
    api_etag(req, t.version);
    http_reply_json(req, 200, staff_team_json(&t));
}
