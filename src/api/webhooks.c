/*
 * webhooks.c — /api/v1/webhooks (admins only): subscriptions CRUD (the secret shown on
 * create and on rotate-secret, never again), the delivery log with its attempts,
 * redeliver and ping. Thin: parse → webhook/store.c → render; after queuing a delivery it
 * wakes the webhook thread so the request goes out at once.
 */
#include "api/resource.h"

#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "webhook/webhook.h"

static int
hook_create(const struct api_call *c, json_t *body, json_t **out, int64_t *version,
            struct smile_err *err)
{
    (void)version; /* the record's "version" */
    return webhook_create(c->db, &c->who, body, out, err);
}

static int
hook_update(const struct api_call *c, int64_t id, int64_t expect, json_t *body, json_t **out,
            int64_t *version, struct smile_err *err)
{
    return webhook_update(c->db, &c->who, id, expect, body, out, version, err);
}

static int
hook_delete(const struct api_call *c, int64_t id, int64_t expect, struct smile_err *err)
{
    return webhook_delete(c->db, &c->who, id, expect, err);
}

/* A subscription made active may have deliveries due: wake the sender. */
static void
hook_wake(void)
{
    webhook_wake(webhook_active());
}

/* The secret is in the create reply (no-store) and never again. */
static const struct api_resource webhooks = {
    .base = "/api/v1/webhooks",
    .flags = API_RESOURCE_NO_STORE,
    .list = webhook_list,
    .get = webhook_get,
    .create = hook_create,
    .update = hook_update,
    .remove = hook_delete,
    .after_update = hook_wake,
};

void
api_webhooks_list(struct http_request *req)
{
    api_resource_list(req, &webhooks);
}

void
api_webhooks_create(struct http_request *req)
{
    api_resource_create(req, &webhooks);
}

void
api_webhooks_get(struct http_request *req)
{
    api_resource_get(req, &webhooks);
}

void
api_webhooks_patch(struct http_request *req)
{
    api_resource_patch(req, &webhooks);
}

void
api_webhooks_delete(struct http_request *req)
{
    api_resource_delete(req, &webhooks);
}

void
api_webhooks_rotate(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *body = NULL, *out = NULL, *v;
    const char *key;
    int64_t id, keep = 0;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (req->body_len > 0) {
        if (http_body_json(req, &body, &err) != SMILE_OK) {
            http_reply_problem(req, &err);
            return;
        }
        json_object_foreach(body, key, v)
        {
            if (strcmp(key, "keep_previous_seconds") == 0) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    json_integer_value(v) > 7 * 86400)
                    smile_err_field(&err, "/keep_previous_seconds",
                                    "keep_previous_seconds must be an integer from 0 to 604800");
                else
                    keep = json_integer_value(v);
            } else {
                api_field_unknown(&err, key);
            }
        }
        json_decref(body);
        if (err.code != SMILE_OK) {
            http_reply_problem(req, &err);
            return;
        }
    }
    api_audit_who(req, &who);
    if (webhook_rotate_secret(req->db, &who, id, keep, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_response_header(req, "Cache-Control", "no-store");
    api_etag(req, json_integer_value(json_object_get(out, "version")));
    http_reply_json(req, 200, out);
}

void
api_webhooks_ping(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *out = NULL;
    int64_t id;
    char loc[96];

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    api_audit_who(req, &who);
    if (webhook_ping(req->db, &who, id, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    snprintf(loc, sizeof(loc), "/api/v1/webhooks/%lld/deliveries/%lld", (long long)id,
             (long long)json_integer_value(json_object_get(out, "id")));
    http_response_header(req, "Location", loc);
    http_reply_json(req, 202, out);
    webhook_wake(webhook_active());
}

void
api_webhooks_deliveries(struct http_request *req)
{
    struct smile_err err;
    struct webhook_delivery_query q;
    const char *status = http_request_query(req, "status");
    const char *event = http_request_query(req, "event_id");
    json_t *items = NULL, *hook = NULL;
    int64_t next = 0;

    smile_err_clear(&err);
    memset(&q, 0, sizeof(q));
    if (!api_param_id(req, 0, &q.webhook_id) || !api_query_limit(req, &q.limit) ||
        !api_query_cursor(req, &q.before_id))
        return;
    if (status && strcmp(status, "pending") && strcmp(status, "delivered") &&
        strcmp(status, "failed"))
        smile_err_field(&err, "/query/status", "status must be pending, delivered or failed");
    if (event && (str_to_int64(str_from(event), &q.event_id) != SMILE_OK || q.event_id <= 0))
        smile_err_field(&err, "/query/event_id", "event_id must be a positive integer");
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    q.status = status;
    if (webhook_get(req->db, q.webhook_id, &hook, NULL, &err) != SMILE_OK ||
        webhook_delivery_list(req->db, &q, &items, &next, &err) != SMILE_OK) {
        json_decref(hook);
        http_reply_problem(req, &err);
        return;
    }
    json_decref(hook);
    api_reply_page(req, items, next);
}

void
api_webhooks_delivery(struct http_request *req)
{
    struct smile_err err;
    json_t *out = NULL;
    int64_t id, did;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_param_id(req, 1, &did))
        return;
    if (webhook_delivery_get(req->db, id, did, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_webhooks_redeliver(struct http_request *req)
{
    struct smile_err err;
    struct audit_who who;
    json_t *out = NULL;
    int64_t id, did;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id) || !api_param_id(req, 1, &did))
        return;
    api_audit_who(req, &who);
    if (webhook_redeliver(req->db, &who, id, did, &out, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 202, out);
    webhook_wake(webhook_active());
}
