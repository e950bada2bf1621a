/*
 * resources.c — the field tables and rules of the three simpler CRM resources:
 * properties (a unit of a project: building, unit, area, sales status, owner or tenant),
 * contracts (purchase or lease: unique number, amount in cents, signing and delivery
 * dates) and interactions (each call, e-mail, visit or note with a customer, optionally
 * on a case; one in or out on a case emits case.replied).
 */
#include "crm/crm.h"
#include "crm/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "store/store.h"

/* Properties ---------------------------------------------------------------------- */

static const char *const property_statuses[] = {"available", "reserved", "sold",
                                                "delivered", "rented",   NULL};

static const struct crm_field property_fields[] = {
    {.name = "project",
     .column = "project",
     .type = CRM_TEXT,
     .flags = CRM_F_REQUIRED | CRM_F_LINE,
     .max_len = 100},
    {.name = "building",
     .column = "building",
     .type = CRM_TEXT,
     .flags = CRM_F_LINE,
     .max_len = 50},
    {.name = "unit", .column = "unit", .type = CRM_TEXT, .flags = CRM_F_LINE, .max_len = 50},
    {.name = "area_m2", .column = "area_m2", .type = CRM_REAL},
    {.name = "status",
     .column = "status",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = property_statuses,
     .def = "available"},
    {.name = "customer_id",
     .column = "customer_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "customers"},
    {.name = "notes", .column = "notes", .type = CRM_TEXT, .max_len = 4000},
};

/* Is there another live row with this key?  sql takes ($1 value…, last: own id or 0). */
static int
taken(struct crm_ctx *c, const char *sql, const char *a, const char *b, const char *d, int64_t self,
      bool *out, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c->db, sql, &st, err), k = 1;

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, k++, a, -1);
    if (b || d) {
        store_stmt_bind_text(st, k++, b ? b : "", -1);
        store_stmt_bind_text(st, k++, d ? d : "", -1);
    }
    store_stmt_bind_int64(st, k, self);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    *out = rc == STORE_ROW;
    return SMILE_OK;
}

/* One live property per (project, building, unit). */
static int
property_validate(struct crm_ctx *c, const json_t *old, json_t *rec, struct smile_err *err)
{
    static const char sql[] =
        "SELECT 1 FROM properties WHERE project = $1 AND COALESCE(building, '') = $2 AND "
        "COALESCE(unit, '') = $3 AND deleted_at IS NULL AND id <> $4";
    const char *b = json_string_value(json_object_get(rec, "building"));
    const char *u = json_string_value(json_object_get(rec, "unit"));
    int64_t self = old ? json_integer_value(json_object_get(old, "id")) : 0;
    bool dup = false;
    int rc;

    rc = taken(c, sql, json_string_value(json_object_get(rec, "project")), b ? b : "", u ? u : "",
               self, &dup, err);
    if (rc != SMILE_OK)
        return rc;
    if (dup) {
        smile_err_set(err, SMILE_ECONFLICT,
                      "a property with this project, building and unit already exists");
        smile_err_field(err, "/unit", "project %s, building %s, unit %s is taken",
                        json_string_value(json_object_get(rec, "project")), b ? b : "", u ? u : "");
        return err->code;
    }
    return SMILE_OK;
}

static struct crm_sql property_sql;

const struct crm_resource crm_properties = {
    .name = "property",
    .table = "properties",
    .path = "/api/v1/properties",
    .fields = property_fields,
    .nfields = (int)ARRAY_LEN(property_fields),
    .validate = property_validate,
    .sql = &property_sql,
};

/* Contracts ----------------------------------------------------------------------- */

static const char *const contract_statuses[] = {"draft", "signed", "delivered", "cancelled", NULL};

static const struct crm_field contract_fields[] = {
    {.name = "customer_id",
     .column = "customer_id",
     .type = CRM_REF,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .ref = "customers"},
    {.name = "property_id",
     .column = "property_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "properties"},
    {.name = "number",
     .column = "number",
     .type = CRM_TEXT,
     .flags = CRM_F_REQUIRED | CRM_F_LINE,
     .max_len = 64},
    {.name = "signed_on", .column = "signed_on", .type = CRM_DATE},
    {.name = "amount_cents", .column = "amount_cents", .type = CRM_MONEY},
    {.name = "delivery_date", .column = "delivery_date", .type = CRM_DATE},
    {.name = "status",
     .column = "status",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = contract_statuses,
     .def = "draft"},
    {.name = "notes", .column = "notes", .type = CRM_TEXT, .max_len = 4000},
};

/*
 * The number is unique among live contracts (409); a signed or delivered contract has a
 * signing date; delivery is not before signing.
 */
static int
contract_validate(struct crm_ctx *c, const json_t *old, json_t *rec, struct smile_err *err)
{
    static const char sql[] =
        "SELECT 1 FROM contracts WHERE number = $1 AND deleted_at IS NULL AND id <> $2";
    const char *signed_on = json_string_value(json_object_get(rec, "signed_on"));
    const char *delivery = json_string_value(json_object_get(rec, "delivery_date"));
    const char *status = json_string_value(json_object_get(rec, "status"));
    int64_t self = old ? json_integer_value(json_object_get(old, "id")) : 0;
    bool dup = false;
    int rc;

    if (signed_on == NULL && status &&
        (strcmp(status, "signed") == 0 || strcmp(status, "delivered") == 0))
        smile_err_field(err, "/signed_on", "a %s contract needs its signing date", status);
    if (signed_on && delivery && strcmp(delivery, signed_on) < 0)
        smile_err_field(err, "/delivery_date", "cannot be before signed_on (%s)", signed_on);
    if (err->code != SMILE_OK)
        return err->code;
    rc = taken(c, sql, json_string_value(json_object_get(rec, "number")), NULL, NULL, self, &dup,
               err);
    if (rc != SMILE_OK)
        return rc;
    if (dup) {
        smile_err_set(err, SMILE_ECONFLICT, "contract number %s is already used",
                      json_string_value(json_object_get(rec, "number")));
        smile_err_field(err, "/number", "is already used by another contract");
        return err->code;
    }
    return SMILE_OK;
}

static struct crm_sql contract_sql;

const struct crm_resource crm_contracts = {
    .name = "contract",
    .table = "contracts",
    .path = "/api/v1/contracts",
    .fields = contract_fields,
    .nfields = (int)ARRAY_LEN(contract_fields),
    .validate = contract_validate,
    .sql = &contract_sql,
};

/* Interactions -------------------------------------------------------------------- */

static const char *const interaction_kinds[] = {"call", "email", "visit", "note", NULL};
static const char *const directions[] = {"in", "out", "internal", NULL};
static const char *const channels[] = {"phone", "email", "counter", "web", "system", NULL};

static const struct crm_field interaction_fields[] = {
    {.name = "kind",
     .column = "kind",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = interaction_kinds},
    {.name = "direction",
     .column = "direction",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = directions,
     .def = "in"},
    {.name = "channel",
     .column = "channel",
     .type = CRM_ENUM,
     .flags = CRM_F_FILTER,
     .enums = channels},
    {.name = "customer_id",
     .column = "customer_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "customers"},
    {.name = "case_id",
     .column = "case_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "cases"},
    {.name = "actor_id",
     .column = "actor_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "users"},
    {.name = "occurred_at", .column = "occurred_at", .type = CRM_TIME},
    {.name = "subject", .column = "subject", .type = CRM_TEXT, .flags = CRM_F_LINE, .max_len = 200},
    {.name = "body", .column = "body", .type = CRM_TEXT, .max_len = 100000},
};

/*
 * Defaults: channel from kind (call → phone, email → email, visit → counter, note →
 * system), occurred_at now (a given one lies in 2000–2100), actor the caller. On a case the
 * customer is the case's: taken from it when absent, refused (422) when different.
 */
static int
interaction_validate(struct crm_ctx *c, const json_t *old, json_t *rec, struct smile_err *err)
{
    json_t *case_id = json_object_get(rec, "case_id");

    if (json_is_null(json_object_get(rec, "channel"))) {
        const char *k = json_string_value(json_object_get(rec, "kind"));
        const char *ch = strcmp(k, "call") == 0    ? "phone"
                         : strcmp(k, "email") == 0 ? "email"
                         : strcmp(k, "visit") == 0 ? "counter"
                                                   : "system";

        json_object_set_new(rec, "channel", json_string(ch));
    }
    if (json_is_null(json_object_get(rec, "occurred_at"))) {
        char t[TIME_RFC3339_LEN + 1];

        time_format_rfc3339(c->now_ms, t);
        json_object_set_new(rec, "occurred_at", json_string(t));
    } else {
        /* The ledger's time range (2000 ≤ t < 2101): a reply becomes an event. */
        const json_t *t = json_object_get(rec, "occurred_at");
        int64_t ms = 0;

        time_parse_rfc3339(json_string_value(t), json_string_length(t), &ms);
        if (ms < INT64_C(946684800000) || ms >= INT64_C(4133980800000))
            smile_err_field(err, "/occurred_at", "must be from 2000-01-01 to 2100-12-31");
    }
    if (old == NULL && json_is_null(json_object_get(rec, "actor_id")) && c->actor &&
        c->actor->user_id > 0)
        json_object_set_new(rec, "actor_id", json_integer(c->actor->user_id));
    if (json_is_integer(case_id)) {
        json_t *cs = NULL;
        json_t *cc, *ic = json_object_get(rec, "customer_id");
        int rc = crm_record_load(c, &crm_cases, json_integer_value(case_id), &cs, err);

        if (rc != SMILE_OK)
            return rc;
        cc = json_object_get(cs, "customer_id");
        if (json_is_integer(cc)) {
            if (json_is_null(ic))
                json_object_set(rec, "customer_id", cc);
            else if (!json_equal(ic, cc))
                smile_err_field(
                    err, "/customer_id", "case #%" PRId64 " belongs to customer #%" PRId64,
                    (int64_t)json_integer_value(case_id), (int64_t)json_integer_value(cc));
        }
        json_decref(cs);
    }
    return err->code;
}

/*
 * Keeps the search index in step with the interaction's text. An interaction logged on
 * a case is also a reply in the case's conversation: out is the
 * staff's reply, in the customer's (data.by "staff" / "customer", as the default processes
 * expect: a customer's reply resumes a pending case's clock). Internal notes are not.
 */
static int
interaction_after_write(struct crm_ctx *c, int64_t id, const json_t *old, const json_t *rec,
                        struct smile_err *err)
{
    const char *dir;
    json_t *data;
    int64_t at = 0;
    char source_id[64], actor[80] = "";
    const char *body;
    int rc;

    if (rec == NULL)
        return search_index_delete(c->db, "interaction", id, err);
    body = json_string_value(json_object_get(rec, "body"));
    if ((rc = search_index_put(c->db, "interaction", id,
                               json_string_value(json_object_get(rec, "subject")), &body,
                               body ? 1 : 0, NULL, 0, err)) != SMILE_OK)
        return rc;
    if (old != NULL || !json_is_integer(json_object_get(rec, "case_id")))
        return SMILE_OK;
    dir = json_string_value(json_object_get(rec, "direction"));
    if (strcmp(dir, "internal") == 0)
        return SMILE_OK;
    data = json_pack("{s:s, s:I, s:O, s:O}", "by", strcmp(dir, "out") == 0 ? "staff" : "customer",
                     "interaction_id", (json_int_t)id, "kind", json_object_get(rec, "kind"),
                     "occurred_at", json_object_get(rec, "occurred_at"));
    snprintf(source_id, sizeof(source_id), "interaction:%" PRId64 ":case.replied", id);
    time_parse_rfc3339(json_string_value(json_object_get(rec, "occurred_at")),
                       json_string_length(json_object_get(rec, "occurred_at")), &at);
    /* The reply is charged to who replied (actor_id), not to who logged it. */
    if (json_is_integer(json_object_get(rec, "actor_id"))) {
        static const char sql[] = "SELECT username FROM users WHERE id = $1";
        struct store_stmt *st;

        if ((rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK) {
            json_decref(data);
            return rc;
        }
        store_stmt_bind_int64(st, 1, json_integer_value(json_object_get(rec, "actor_id")));
        if (store_stmt_step(st, err) == STORE_ROW)
            snprintf(actor, sizeof(actor), "%s", store_stmt_text(st, 0));
        store_stmt_reset(st);
    }
    rc = crm_case_event(c, "case.replied", json_integer_value(json_object_get(rec, "case_id")),
                        json_integer_value(json_object_get(rec, "customer_id")), at,
                        actor[0] ? actor : NULL, json_string_value(json_object_get(rec, "channel")),
                        source_id, data, err);
    json_decref(data);
    return rc;
}

static struct crm_sql interaction_sql;

const struct crm_resource crm_interactions = {
    .name = "interaction",
    .table = "interactions",
    .path = "/api/v1/interactions",
    .fields = interaction_fields,
    .nfields = (int)ARRAY_LEN(interaction_fields),
    .validate = interaction_validate,
    .after_write = interaction_after_write,
    .sql = &interaction_sql,
};

/* Look-ups for bulk import ----------------------------------------------------------- */

int
crm_property_find_by_unit(struct store *s, const char *project, const char *building,
                          const char *unit, int64_t *ids, int max, int *n, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id FROM properties WHERE project = $1 AND COALESCE(building, '') = $2 AND "
        "COALESCE(unit, '') = $3 AND deleted_at IS NULL ORDER BY id DESC";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *n = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, project, -1);
    store_stmt_bind_text(st, 2, building ? building : "", -1);
    store_stmt_bind_text(st, 3, unit ? unit : "", -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        if (*n < max)
            ids[(*n)++] = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

int
crm_contract_find_by_number(struct store *s, const char *number, int64_t *id, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id FROM contracts WHERE number = $1 AND deleted_at IS NULL ORDER BY id DESC";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *id = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, number, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *id = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}
