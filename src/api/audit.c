/*
 * audit.c — GET /api/v1/audit: the audit trail of one kind of record (and optionally one
 * record), newest first, for administrators; the admin screens show it as a record's
 * history (who saved which version of a scorecard template, who rotated a webhook's
 * secret). Thin: checks the query, reads through crm/audit.c, renders. Rows hold what each
 * part recorded, which by audit.h's rule never includes secrets.
 */
#include <stdio.h>

#include "api/api.h"
#include "crm/audit.h"

/* An entity name as the parts record them: 1–32 of a–z and '_'. */
static bool
entity_ok(const char *v)
{
    size_t n = 0;

    for (; v[n]; n++)
        if (!((v[n] >= 'a' && v[n] <= 'z') || v[n] == '_') || n >= 32)
            return false;
    return n > 0;
}

void
api_audit_list(struct http_request *req)
{
    const char *entity = http_request_query(req, "entity");
    const char *id = http_request_query(req, "entity_id");
    struct smile_err err;
    json_t *items = NULL;
    int64_t entity_id = 0, before = 0, next = 0;
    int limit;
    char c[24];

    smile_err_clear(&err);
    if (!entity || !entity_ok(entity))
        smile_err_field(&err, "/query/entity",
                        "entity is required: a record kind such as score_template or webhook");
    if (id && (str_to_int64(str_from(id), &entity_id) != SMILE_OK || entity_id < 1))
        smile_err_field(&err, "/query/entity_id", "entity_id must be a positive integer");
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &before))
        return;
    if (audit_list(req->db, entity, entity_id, before, limit, &items, &next, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    snprintf(c, sizeof(c), "%lld", (long long)next);
    http_reply_json(req, 200,
                    json_pack("{s:o, s:o}", "items", items, "next_cursor",
                              next ? json_string(c) : json_null()));
}
