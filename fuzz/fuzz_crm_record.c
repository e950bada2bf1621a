/*
 * fuzz_crm_record.c — fuzzes the record layer's validation with arbitrary JSON bodies:
 * the first byte picks the resource (customers, properties, contracts, cases,
 * interactions) and the operation (create, or update of record 1), the rest is the body.
 * Invariants: a refusal is a user error (422 / 409 / 404 / 412), never a storage or
 * internal error, and leaves no transaction open; an accepted record reads back and every
 * field it names is one of the resource's. Runs against one database in a temporary
 * directory, created on the first input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"
#include "http/http.h"
#include "store/store.h"

static struct store *db;

static void
setup(void)
{
    static char dir[] = "/tmp/smile-fuzz-crm-XXXXXX";
    char path[64];
    struct smile_err err;

    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/f.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_ERROR);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK ||
        store_exec(db, "PRAGMA synchronous=OFF", &err) != SMILE_OK ||
        store_exec(db,
                   "INSERT INTO teams (id, name, created_at, updated_at) VALUES (1, 'desk', 0, 0);"
                   "INSERT INTO users (id, username, role, created_at, updated_at) VALUES "
                   "(1, 'ann', 'agent', 0, 0);"
                   "INSERT INTO customers (id, kind, name, created_at, updated_at) VALUES "
                   "(1, 'person', 'x', 0, 0);"
                   "INSERT INTO properties (id, project, created_at, updated_at) VALUES "
                   "(1, 'p', 0, 0);"
                   "INSERT INTO contracts (id, customer_id, number, created_at, updated_at) "
                   "VALUES (1, 1, 'n', 0, 0);"
                   "INSERT INTO cases (id, type, subject, opened_at, created_at, updated_at) "
                   "VALUES (1, 'other', 's', 0, 0, 0);"
                   "INSERT INTO interactions (id, kind, channel, occurred_at, created_at, "
                   "updated_at) VALUES (1, 'note', 'system', 0, 0, 0)",
                   &err) != SMILE_OK) {
        fprintf(stderr, "fuzz_crm_record: %s\n", err.msg);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct crm_resource *const rs[] = {&crm_customers, &crm_properties, &crm_contracts,
                                                    &crm_cases, &crm_interactions};
    const struct crm_resource *r;
    struct http_auth who = {.user_id = 1, .username = "ann"};
    struct crm_ctx c;
    struct smile_err err;
    json_t *body, *out = NULL;
    int64_t id = 0;
    int rc;

    if (size < 1)
        return 0;
    if (db == NULL)
        setup();
    r = rs[(data[0] & 0x7f) % 5];
    body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    c = (struct crm_ctx){
        .db = db, .actor = &who, .request_id = "fuzz", .address = "", .now_ms = 1764400000000};
    smile_err_clear(&err);
    if (data[0] & 0x80)
        rc = crm_record_update(&c, r, 1, "*", body, &out, &err);
    else
        rc = crm_record_create(&c, r, body, &id, &out, &err);
    if (store_in_tx(db))
        abort();
    if (rc != SMILE_OK) {
        if (rc != SMILE_EINVAL && rc != SMILE_ECONFLICT && rc != SMILE_ENOTFOUND &&
            rc != SMILE_EPRECOND) {
            fprintf(stderr, "fuzz_crm_record: %s refused with %d: %s\n", r->name, rc, err.msg);
            abort();
        }
    } else {
        const char *key;
        json_t *v, *back = NULL;

        json_object_foreach(out, key, v)
        {
            if (crm_field_find(r, key) == NULL && strcmp(key, "id") != 0 &&
                strcmp(key, "version") != 0 && strcmp(key, "created_at") != 0 &&
                strcmp(key, "updated_at") != 0)
                abort();
        }
        if (crm_record_get(&c, r, json_integer_value(json_object_get(out, "id")), 0, &back, &err) !=
                SMILE_OK ||
            !json_equal(back, out))
            abort();
        json_decref(back);
    }
    json_decref(out);
    json_decref(body);
    return 0;
}
