/*
 * teams.c — /api/v1/teams: list (cursor paging), read one (with its ETag), create
 * (admin) and patch (admin, If-Match). Thin: the generic handlers of api/resource.c over
 * crm/staff.c, which validates, writes and audits.
 */
#include "api/resource.h"

#include "crm/staff.h"

/* Renders a team read or written by crm/staff.c (rc its result). */
static int
team_out(int rc, const struct staff_team *t, json_t **out, int64_t *version)
{
    if (rc == SMILE_OK) {
        *out = staff_team_json(t);
        *version = t->version;
    }
    return rc;
}

static int
team_get(struct store *db, int64_t id, json_t **out, int64_t *version, struct smile_err *err)
{
    struct staff_team t;

    return team_out(staff_team_get(db, id, &t, err), &t, out, version);
}

static int
team_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
            struct smile_err *err)
{
    struct staff_team t;

    return team_out(staff_team_create(c->db, &c->who, body, &t, err), &t, out, version);
}

static int
team_update(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
            int64_t *version, struct smile_err *err)
{
    struct staff_team t;

    return team_out(staff_team_update(c->db, &c->who, id, expect, body, &t, err), &t, out, version);
}

static const struct api_resource teams = {
    .base = "/api/v1/teams",
    .list = staff_team_list,
    .get = team_get,
    .create = team_create,
    .update = team_update,
};

void
api_teams_list(struct http_request *req)
{
    api_resource_list(req, &teams);
}

void
api_teams_get(struct http_request *req)
{
    api_resource_get(req, &teams);
}

void
api_teams_create(struct http_request *req)
{
    api_resource_create(req, &teams);
}

void
api_teams_patch(struct http_request *req)
{
    api_resource_patch(req, &teams);
}
