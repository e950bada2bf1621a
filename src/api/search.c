/*
 * search.c (api) — GET /api/v1/search: reads ?q=, ?kind= and ?limit=, asks the CRM's
 * search index (crm/search.c) and renders the ranked hits. Problems with a parameter are
 * 422 with the pointer /query/<name>.
 */
#include "api/api.h"

#include <string.h>

#include "crm/search.h"

void
api_search(struct http_request *req)
{
    const char *q = http_request_query(req, "q");
    const char *kind = http_request_query(req, "kind");
    struct search_result res;
    struct smile_err err;
    json_t *items;
    int limit, rc;

    smile_err_clear(&err);
    if (kind && !search_kind_valid(kind)) {
        smile_err_field(&err, "/query/kind", "kind must be customer, case or interaction");
        http_reply_problem(req, &err);
        return;
    }
    if (!api_query_limit(req, &limit))
        return;
    if (q == NULL) {
        smile_err_field(&err, "/query/q", "q is required");
        http_reply_problem(req, &err);
        return;
    }
    rc = search_query(req->db, q, kind, limit, &res, &err);
    if (rc == SMILE_EINVAL) {
        struct smile_err ferr;

        smile_err_clear(&ferr);
        smile_err_field(&ferr, "/query/q", "%s", err.msg);
        http_reply_problem(req, &ferr);
        return;
    }
    if (rc != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < res.n; i++) {
        const struct search_hit *h = &res.hits[i];

        json_array_append_new(items,
                              json_pack("{s:s, s:I, s:s, s:s?, s:f, s:b}", "kind", h->kind, "id",
                                        (json_int_t)h->id, "title", h->title, "snippet", h->snippet,
                                        "score", h->score, "exact", h->exact));
    }
    search_result_free(&res);
    http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}
