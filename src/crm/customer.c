/*
 * customer.c — the customer resource: its field table for the record layer (with the
 * phone, e-mail and ID-number normalisers and the ID-number mask), the customer_contacts
 * side table kept in step with phones and e-mails so intake can link a caller or sender,
 * the audited reveal of the ID number, the PIPL Art. 47 anonymisation, and the customer
 * timeline (interactions and cases, newest first).
 */
#include "crm/audit.h"
#include "crm/crm.h"
#include "crm/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static int
norm_phone(const json_t *v, json_t **out, const char *path, struct smile_err *err)
{
    char buf[CRM_PHONE_MAX + 1];
    int rc = crm_phone_normalise(json_string_value(v), buf, err);

    (void)path;
    if (rc == SMILE_OK)
        *out = json_string(buf);
    return rc;
}

static int
norm_email(const json_t *v, json_t **out, const char *path, struct smile_err *err)
{
    char buf[CRM_EMAIL_MAX + 1];
    int rc = crm_email_normalise(json_string_value(v), buf, err);

    (void)path;
    if (rc == SMILE_OK)
        *out = json_string(buf);
    return rc;
}

static int
norm_id(const json_t *v, json_t **out, const char *path, struct smile_err *err)
{
    char buf[19];
    int rc = crm_id_number_normalise(json_string_value(v), buf, err);

    (void)path;
    if (rc == SMILE_OK)
        *out = json_string(buf);
    return rc;
}

static const char *const kinds[] = {"person", "company", NULL};

static const struct crm_field fields[] = {
    {.name = "kind",
     .column = "kind",
     .type = CRM_ENUM,
     .flags = CRM_F_REQUIRED | CRM_F_FILTER,
     .enums = kinds},
    {.name = "name",
     .column = "name",
     .type = CRM_TEXT,
     .flags = CRM_F_REQUIRED | CRM_F_LINE | CRM_F_PERSONAL,
     .max_len = 200},
    {.name = "phones",
     .column = "phones",
     .type = CRM_STRARRAY,
     .flags = CRM_F_LINE | CRM_F_PERSONAL,
     .max_len = 40,
     .max_items = 10,
     .normalise = norm_phone},
    {.name = "emails",
     .column = "emails",
     .type = CRM_STRARRAY,
     .flags = CRM_F_LINE | CRM_F_PERSONAL,
     .max_len = 254,
     .max_items = 10,
     .normalise = norm_email},
    {.name = "birthday", .column = "birthday", .type = CRM_DATE, .flags = CRM_F_PERSONAL},
    {.name = "id_number",
     .column = "id_number",
     .type = CRM_TEXT,
     .flags = CRM_F_LINE | CRM_F_PERSONAL | CRM_F_SENSITIVE,
     .max_len = 40,
     .normalise = norm_id,
     .mask = crm_id_number_mask},
    {.name = "address",
     .column = "address",
     .type = CRM_TEXT,
     .flags = CRM_F_LINE | CRM_F_PERSONAL,
     .max_len = 500},
    {.name = "tags",
     .column = "tags",
     .type = CRM_STRARRAY,
     .flags = CRM_F_FILTER | CRM_F_LINE,
     .max_len = 32,
     .max_items = 20,
     .filter_name = "tag"},
    {.name = "owner_id",
     .column = "owner_id",
     .type = CRM_REF,
     .flags = CRM_F_FILTER,
     .ref = "users"},
    {.name = "notes",
     .column = "notes",
     .type = CRM_TEXT,
     .flags = CRM_F_PERSONAL,
     .max_len = 4000},
    {.name = "anonymised_at", .column = "anonymised_at", .type = CRM_TIME, .flags = CRM_F_READONLY},
};

/*
 * Cross-field rules: a birthday is not in the future and agrees with the birth date inside
 * the ID number; an anonymised customer's personal fields cannot be filled again.
 */
static int
validate(struct crm_ctx *c, const json_t *old, json_t *rec, struct smile_err *err)
{
    const char *bd = json_string_value(json_object_get(rec, "birthday"));
    const char *idn = json_string_value(json_object_get(rec, "id_number"));

    if (old && !json_is_null(json_object_get(old, "anonymised_at"))) {
        for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
            const char *k = fields[i].name;

            if ((fields[i].flags & CRM_F_PERSONAL) &&
                !json_equal(json_object_get(old, k), json_object_get(rec, k)))
                return smile_err_set(err, SMILE_ECONFLICT,
                                     "customer #%" PRId64
                                     " is anonymised; its personal data cannot be set again",
                                     (int64_t)json_integer_value(json_object_get(old, "id")));
        }
    }
    if (bd) {
        int64_t days;
        char today[11];

        /* Today where the day starts first (UTC+14), so no time zone sees a false refusal. */
        time_format_date((c->now_ms + 14 * 3600000) / 86400000, today);
        if (time_parse_date(bd, strlen(bd), &days) == SMILE_OK && strcmp(bd, today) > 0)
            smile_err_field(err, "/birthday", "a birthday cannot be in the future");
        if (idn && strlen(idn) == 18) {
            char fromid[11];

            snprintf(fromid, sizeof(fromid), "%.4s-%.2s-%.2s", idn + 6, idn + 10, idn + 12);
            if (strcmp(fromid, bd) != 0)
                smile_err_field(err, "/birthday",
                                "does not match the birth date %s in the ID number", fromid);
        }
    }
    return err->code;
}

static int
contacts_put(struct crm_ctx *c, int64_t id, const char *kind, const json_t *arr,
             struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO customer_contacts (customer_id, kind, value) VALUES ($1, $2, $3)";
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        struct store_stmt *st;
        int rc = store_prepare(c->db, sql, &st, err);

        if (rc != SMILE_OK)
            return rc;
        store_stmt_bind_int64(st, 1, id);
        store_stmt_bind_text(st, 2, kind, -1);
        store_stmt_bind_text(st, 3, json_string_value(v), -1);
        rc = store_stmt_step(st, err);
        store_stmt_reset(st);
        if (rc != STORE_DONE)
            return rc;
    }
    return SMILE_OK;
}

static int
contacts_clear(struct crm_ctx *c, int64_t id, struct smile_err *err)
{
    static const char sql[] = "DELETE FROM customer_contacts WHERE customer_id = $1";
    struct store_stmt *st;
    int rc = store_prepare(c->db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Puts the live customer into the search index, or takes it out (rec NULL: deleted). */
static int
index_customer(struct crm_ctx *c, int64_t id, const json_t *rec, struct smile_err *err)
{
    const char *texts[64], *phones[64];
    size_t nt = 0, np = 0, i;
    json_t *v;

    if (rec == NULL)
        return search_index_delete(c->db, "customer", id, err);
    json_array_foreach(json_object_get(rec, "emails"), i, v)
    {
        if (nt < ARRAY_LEN(texts))
            texts[nt++] = json_string_value(v);
    }
    json_array_foreach(json_object_get(rec, "phones"), i, v)
    {
        if (np < ARRAY_LEN(phones))
            phones[np++] = json_string_value(v);
    }
    return search_index_put(c->db, "customer", id, json_string_value(json_object_get(rec, "name")),
                            texts, nt, phones, np, err);
}

/* Keeps customer_contacts equal to the live record's phones and e-mails, and the index. */
static int
after_write(struct crm_ctx *c, int64_t id, const json_t *old, const json_t *rec,
            struct smile_err *err)
{
    int rc;

    if ((rc = index_customer(c, id, rec, err)) != SMILE_OK)
        return rc;

    if (old && rec && json_equal(json_object_get(old, "phones"), json_object_get(rec, "phones")) &&
        json_equal(json_object_get(old, "emails"), json_object_get(rec, "emails")))
        return SMILE_OK;
    if ((rc = contacts_clear(c, id, err)) != SMILE_OK || rec == NULL)
        return rc;
    if ((rc = contacts_put(c, id, "phone", json_object_get(rec, "phones"), err)) != SMILE_OK)
        return rc;
    return contacts_put(c, id, "email", json_object_get(rec, "emails"), err);
}

static struct crm_sql customer_sql;

const struct crm_resource crm_customers = {
    .name = "customer",
    .table = "customers",
    .path = "/api/v1/customers",
    .fields = fields,
    .nfields = (int)ARRAY_LEN(fields),
    .validate = validate,
    .after_write = after_write,
    .sql = &customer_sql,
};

int
crm_customer_reveal(struct crm_ctx *c, int64_t id, const char *reason, json_t **out,
                    struct smile_err *err)
{
    json_t *stored = NULL, *after;
    int rc;

    smile_err_clear(err);
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        return rc;
    if ((rc = crm_record_load(c, &crm_customers, id, &stored, err)) != SMILE_OK)
        goto out;
    after = json_pack("{s:[s]}", "fields", "id_number");
    if (reason && reason[0])
        json_object_set_new(after, "reason", json_string(reason));
    rc = crm_audit(c, &crm_customers, id, "reveal", NULL, after, err);
    json_decref(after);
    if (rc == SMILE_OK)
        rc = store_commit(c->db, err);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
    } else {
        *out = crm_record_render(&crm_customers, stored, CRM_REVEAL);
    }
    json_decref(stored);
    return rc;
}

/* Runs one statement with an int64 and an optional text parameter; counts changed rows. */
static int
exec2(struct crm_ctx *c, const char *sql, int64_t a, int64_t b, int64_t *changed,
      struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c->db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, a);
    store_stmt_bind_int64(st, 2, b);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        return rc;
    if (changed)
        *changed = store_changes(c->db);
    return SMILE_OK;
}

/*
 * Anonymisation in the search index: the customer leaves it, its cases are re-indexed
 * with their erased subject, its interactions (subject and body erased) leave it.
 */
static int
unindex_customer(struct crm_ctx *c, int64_t id, struct smile_err *err)
{
    static const char sel[] = "SELECT 'case', id FROM cases WHERE customer_id = $1 AND "
                              "deleted_at IS NULL UNION ALL SELECT 'interaction', id FROM "
                              "interactions WHERE customer_id = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    int64_t *ids = NULL;
    bool *is_case = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if ((rc = search_index_delete(c->db, "customer", id, err)) != SMILE_OK)
        return rc;
    if ((rc = store_prepare(c->db, sel, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, cap * sizeof(*ids));
            is_case = xrealloc(is_case, cap * sizeof(*is_case));
        }
        is_case[n] = strcmp(store_stmt_text(st, 0), "case") == 0;
        ids[n++] = store_stmt_int64(st, 1);
    }
    store_stmt_reset(st);
    rc = rc == STORE_DONE ? SMILE_OK : rc;
    for (size_t i = 0; i < n && rc == SMILE_OK; i++)
        rc = is_case[i] ? search_index_put(c->db, "case", ids[i], "(erased)", NULL, 0, NULL, 0, err)
                        : search_index_delete(c->db, "interaction", ids[i], err);
    free(ids);
    free(is_case);
    return rc;
}

/* One record id per row of sql (bound to the customer id), in a growing array. */
static int
ids_of(struct crm_ctx *c, const char *sql, int64_t id, int64_t **out, size_t *n,
       struct smile_err *err)
{
    struct store_stmt *st;
    size_t cap = 0;
    int rc = store_prepare(c->db, sql, &st, err);

    *out = NULL;
    *n = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/*
 * The old audit rows of the customer, its cases and its interactions (deleted ones too):
 * the personal fields' values become "(erased)" (audit_redact); *rows counts the rows.
 */
static int
redact_audit(struct crm_ctx *c, int64_t id, int64_t *rows, struct smile_err *err)
{
    static const char *const cust_fields[] = {"name",      "phones",  "emails", "birthday",
                                              "id_number", "address", "notes",  "reason"};
    static const char *const case_fields[] = {"subject", "description"};
    static const char *const int_fields[] = {"subject", "body"};
    static const char cases_sql[] = "SELECT id FROM cases WHERE customer_id = $1";
    static const char ints_sql[] = "SELECT id FROM interactions WHERE customer_id = $1";
    int64_t *ids = NULL, n1 = 0;
    size_t n = 0;
    int rc;

    *rows = 0;
    rc = audit_redact(c->db, crm_customers.name, id, cust_fields, ARRAY_LEN(cust_fields), &n1, err);
    *rows += n1;
    if (rc == SMILE_OK)
        rc = ids_of(c, cases_sql, id, &ids, &n, err);
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        rc = audit_redact(c->db, "case", ids[i], case_fields, ARRAY_LEN(case_fields), &n1, err);
        *rows += n1;
    }
    free(ids);
    ids = NULL;
    if (rc == SMILE_OK)
        rc = ids_of(c, ints_sql, id, &ids, &n, err);
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        rc =
            audit_redact(c->db, "interaction", ids[i], int_fields, ARRAY_LEN(int_fields), &n1, err);
        *rows += n1;
    }
    free(ids);
    return rc;
}

/*
 * Staff notifications about the customer's cases quote the case subject in their titles
 * and bodies (notify/escalate.c: `Case #12 “<subject>”`, cut at 200 bytes), and the
 * e-mail copies of those notifications in mail_outbox (ref "notification:<id>") repeat
 * them. The quoted subject becomes “(erased)”. Runs before the cases' subjects are erased.
 * *n counts the notifications and outbox mails rewritten.
 */
static int
redact_notifications(struct crm_ctx *c, int64_t id, int64_t *n, struct smile_err *err)
{
    static const char sel[] = "SELECT id, subject FROM cases WHERE customer_id = $1 AND "
                              "subject <> '(erased)' AND subject <> ''";
    /* replace() is a no-op where the quote is absent; the WHERE keeps those rows unwritten
     * (and uncounted). Plain SQL that SQLite and PostgreSQL share. */
    static const char upd_notes[] =
        "UPDATE notifications SET title_en = replace(title_en, $1, '\u201c(erased)\u201d'), "
        "title_zh = replace(title_zh, $1, '\u201c(erased)\u201d'), body_en = replace(body_en, "
        "$1, '\u201c(erased)\u201d'), body_zh = replace(body_zh, $1, '\u201c(erased)\u201d') "
        "WHERE case_id = $2 AND (replace(title_en, $1, '') <> title_en OR replace(title_zh, $1, "
        "'') <> title_zh OR replace(body_en, $1, '') <> body_en OR replace(body_zh, $1, '') <> "
        "body_zh)";
    static const char upd_outbox[] =
        "UPDATE mail_outbox SET subject = replace(subject, $1, '\u201c(erased)\u201d'), body = "
        "replace(body, $1, '\u201c(erased)\u201d') WHERE ref IN (SELECT 'notification:' || id "
        "FROM notifications WHERE case_id = $2) AND (replace(subject, $1, '') <> subject OR "
        "replace(body, $1, '') <> body)";
    struct store_stmt *st;
    struct quoted {
        int64_t case_id;
        char text[208 + 8];
    } *q = NULL;
    size_t nq = 0, cap = 0;
    int rc = store_prepare(c->db, sel, &st, err);

    *n = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (nq == cap) {
            cap = cap ? cap * 2 : 16;
            q = xrealloc(q, cap * sizeof(*q));
        }
        q[nq].case_id = store_stmt_int64(st, 0);
        /* The very bytes escalate.c writes: “ the first 200 bytes of the subject ” */
        snprintf(q[nq].text, sizeof(q[nq].text), "\u201c%.200s\u201d", store_stmt_text(st, 1));
        nq++;
    }
    store_stmt_reset(st);
    rc = rc == STORE_DONE ? SMILE_OK : rc;
    for (size_t i = 0; i < nq && rc == SMILE_OK; i++) {
        for (int k = 0; k < 2 && rc == SMILE_OK; k++) {
            if ((rc = store_prepare(c->db, k ? upd_outbox : upd_notes, &st, err)) != SMILE_OK)
                break;
            store_stmt_bind_text(st, 1, q[i].text, -1);
            store_stmt_bind_int64(st, 2, q[i].case_id);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
            if (rc == SMILE_OK)
                *n += store_changes(c->db);
        }
    }
    free(q);
    return rc;
}

/*
 * The anonymisation; with dry_run the same work is done and rolled back (whatever the
 * customer's state), and *report says what it found instead of *out.
 */
static int
anonymise(struct crm_ctx *c, int64_t id, bool dry_run, json_t **out, json_t **report,
          struct smile_err *err)
{
    static const char upd_customer[] =
        "UPDATE customers SET name = $1, phones = '[]', emails = '[]', birthday = NULL, "
        "id_number = NULL, address = NULL, notes = NULL, anonymised_at = $2, updated_at = $2, "
        "version = version + 1 WHERE id = $3 AND anonymised_at IS NULL";
    /* Deleted customers too: erasure must reach rows hidden from reads and lists. */
    static const char sel[] = "SELECT anonymised_at, deleted_at, name, phones, emails, birthday, "
                              "id_number, address, notes FROM customers WHERE id = $1";
    static const char *const personal[] = {"name",      "phones",  "emails", "birthday",
                                           "id_number", "address", "notes"};
    static const char upd_interactions[] =
        "UPDATE interactions SET subject = NULL, body = NULL, updated_at = $1, "
        "version = version + 1 WHERE customer_id = $2 AND (subject IS NOT NULL OR body IS NOT "
        "NULL)";
    static const char upd_cases[] =
        "UPDATE cases SET subject = '(erased)', description = NULL, updated_at = $1, "
        "version = version + 1 WHERE customer_id = $2 AND (subject <> '(erased)' OR "
        "description IS NOT NULL)";
    json_t *stored = NULL, *erased = NULL, *before = NULL, *after = NULL, *counts = NULL;
    struct store_stmt *st;
    int64_t n_int = 0, n_cases = 0, n_audit = 0, n_notes = 0;
    char name[64], t[TIME_RFC3339_LEN + 1];
    bool anonymised = false, deleted = false;
    int rc;

    smile_err_clear(err);
    *out = NULL;
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        return rc;
    if ((rc = store_prepare(c->db, sel, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        anonymised = !store_stmt_is_null(st, 0);
        deleted = !store_stmt_is_null(st, 1);
        /* Only the names of the erased fields are audited, never their values. */
        erased = json_array();
        for (size_t i = 0; i < ARRAY_LEN(personal); i++) {
            const char *v = store_stmt_text(st, (int)i + 2);

            if (i == 0 && anonymised)
                continue; /* the name is "Anonymised customer #<id>" by now */
            if (v && v[0] && strcmp(v, "[]") != 0)
                json_array_append_new(erased, json_string(personal[i]));
        }
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no customer with id %" PRId64, id);
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto out;
    if (anonymised && !dry_run) {
        rc = smile_err_set(err, SMILE_ECONFLICT, "customer #%" PRId64 " is already anonymised", id);
        goto out;
    }
    /*
     * First what is derived from the record, while the phones and case subjects that find
     * it are still stored: the ledger's events (counted hooks), the stored mail, the staff
     * notifications quoting case subjects, the old audit rows. Then the record itself.
     */
    counts = json_object();
    if ((rc = crm_customer_erase_hooks_run(c->db, id, counts, err)) != SMILE_OK)
        goto out;
    if ((rc = redact_notifications(c, id, &n_notes, err)) != SMILE_OK)
        goto out;
    if ((rc = redact_audit(c, id, &n_audit, err)) != SMILE_OK)
        goto out;
    snprintf(name, sizeof(name), CRM_ANON_NAME_FMT, (long long)id);
    if ((rc = store_prepare(c->db, upd_customer, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, name, -1);
    store_stmt_bind_int64(st, 2, c->now_ms);
    store_stmt_bind_int64(st, 3, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    if ((rc = contacts_clear(c, id, err)) != SMILE_OK)
        goto out;
    if ((rc = exec2(c, upd_interactions, c->now_ms, id, &n_int, err)) != SMILE_OK)
        goto out;
    if ((rc = exec2(c, upd_cases, c->now_ms, id, &n_cases, err)) != SMILE_OK)
        goto out;
    if ((rc = unindex_customer(c, id, err)) != SMILE_OK)
        goto out;
    time_format_rfc3339(c->now_ms, t);
    before = json_pack("{s:O}", "erased", erased);
    after = json_pack("{s:s, s:I, s:I, s:I, s:I}", "anonymised_at", t, "interactions_erased",
                      (json_int_t)n_int, "cases_erased", (json_int_t)n_cases, "audit_rows_redacted",
                      (json_int_t)n_audit, "notifications_redacted", (json_int_t)n_notes);
    json_object_update_missing(after, counts);
    if (dry_run) {
        /* What an anonymisation would erase now: nothing is kept, nothing is audited (the
         * report holds counts only). */
        static const char *const remaining[] = {"interactions_erased", "cases_erased",
                                                "audit_rows_redacted", "notifications_redacted",
                                                "events_erased",       "event_values_erased",
                                                "measurements_erased"};
        bool complete = anonymised && json_array_size(erased) == 0;

        json_object_del(after, "anonymised_at");
        for (size_t i = 0; i < ARRAY_LEN(remaining); i++)
            if (json_integer_value(json_object_get(after, remaining[i])) != 0)
                complete = false;
        *report = json_pack("{s:I, s:o, s:b, s:O, s:O}", "customer_id", (json_int_t)id,
                            "anonymised_at", json_null(), "complete", complete, "personal_fields",
                            erased, "counts", after);
        store_rollback(c->db);
        goto out;
    }
    if ((rc = crm_audit(c, &crm_customers, id, "anonymise", before, after, err)) != SMILE_OK)
        goto out;
    if (!deleted && (rc = crm_record_load(c, &crm_customers, id, &stored, err)) != SMILE_OK)
        goto out;
    rc = store_commit(c->db, err);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
        if (err->code == SMILE_OK)
            err->code = rc;
    } else if (stored) {
        *out = crm_record_render(&crm_customers, stored, 0);
    }
    json_decref(stored);
    json_decref(erased);
    json_decref(counts);
    json_decref(before);
    json_decref(after);
    return rc;
}

int
crm_customer_anonymise(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err)
{
    return anonymise(c, id, false, out, NULL, err);
}

int
crm_customer_erasure_check(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sel[] = "SELECT anonymised_at FROM customers WHERE id = $1";
    json_t *none = NULL;
    struct store_stmt *st;
    int64_t at = 0;
    int rc;

    *out = NULL;
    if ((rc = anonymise(c, id, true, &none, out, err)) != SMILE_OK)
        return rc;
    json_decref(none);
    if ((rc = store_prepare(c->db, sel, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    if (store_stmt_step(st, err) == STORE_ROW && !store_stmt_is_null(st, 0))
        at = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    if (at) {
        char t[TIME_RFC3339_LEN + 1];

        time_format_rfc3339(at, t);
        json_object_set_new(*out, "anonymised_at", json_string(t));
    }
    return SMILE_OK;
}

static int
find_contact(struct store *s, const char *kind, const char *value, int64_t *ids, int max, int *n,
             struct smile_err *err)
{
    static const char sql[] =
        "SELECT cc.customer_id FROM customer_contacts cc JOIN customers c ON c.id = "
        "cc.customer_id WHERE cc.kind = $1 AND cc.value = $2 AND c.deleted_at IS NULL "
        "ORDER BY cc.customer_id DESC LIMIT $3";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *n = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, kind, -1);
    store_stmt_bind_text(st, 2, value, -1);
    store_stmt_bind_int64(st, 3, max);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW && *n < max)
        ids[(*n)++] = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return rc == STORE_DONE || rc == STORE_ROW ? SMILE_OK : rc;
}

int
crm_customer_find_by_phone(struct store *s, const char *phone, int64_t *ids, int max, int *n,
                           struct smile_err *err)
{
    char norm[CRM_PHONE_MAX + 1];
    struct smile_err e;

    smile_err_clear(&e);
    *n = 0;
    if (crm_phone_normalise(phone, norm, &e) != SMILE_OK)
        return SMILE_OK;
    return find_contact(s, "phone", norm, ids, max, n, err);
}

int
crm_customer_find_by_email(struct store *s, const char *email, int64_t *ids, int max, int *n,
                           struct smile_err *err)
{
    char norm[CRM_EMAIL_MAX + 1];
    struct smile_err e;

    smile_err_clear(&e);
    *n = 0;
    if (crm_email_normalise(email, norm, &e) != SMILE_OK)
        return SMILE_OK;
    return find_contact(s, "email", norm, ids, max, n, err);
}

int
crm_customer_timeline(struct crm_ctx *c, int64_t id, int limit, const char *cursor, json_t **out,
                      struct smile_err *err)
{
    /* Keys (at, kind, id) descending; the cursor is the key of the last item shown. */
    static const char sql[] =
        "SELECT kind, id, at FROM (SELECT 'i' AS kind, id, occurred_at AS at FROM interactions "
        "WHERE customer_id = $1 AND deleted_at IS NULL UNION ALL SELECT 'c' AS kind, id, "
        "opened_at AS at FROM cases WHERE customer_id = $1 AND deleted_at IS NULL) t "
        "WHERE ($2 IS NULL OR at < $2 OR (at = $2 AND (kind < $3 OR (kind = $3 AND id < $4)))) "
        "ORDER BY at DESC, kind DESC, id DESC LIMIT $5";
    json_t *cust = NULL, *items = json_array();
    struct store_stmt *st = NULL;
    int64_t c_at = 0, c_id = 0, last_at = 0, last_id = 0;
    char c_kind[2] = "", last_kind = 0;
    int rc, n = 0;
    bool more = false;

    if (cursor) {
        char dec[64];
        int used = 0;
        long long a, b;

        if (!crm_b64url_decode(cursor, dec, sizeof(dec)) ||
            sscanf(dec, "%lld.%1[ic].%lld%n", &a, c_kind, &b, &used) != 3 ||
            (size_t)used != strlen(dec) || b <= 0) {
            smile_err_field(err, "/query/cursor", "not a cursor returned by this list");
            json_decref(items);
            return err->code;
        }
        c_at = a;
        c_id = b;
    }
    if ((rc = crm_record_load(c, &crm_customers, id, &cust, err)) != SMILE_OK)
        goto out;
    if ((rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, id);
    if (cursor) {
        store_stmt_bind_int64(st, 2, c_at);
        store_stmt_bind_text(st, 3, c_kind, 1);
        store_stmt_bind_int64(st, 4, c_id);
    }
    store_stmt_bind_int64(st, 5, limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *kind = store_stmt_text(st, 0);
        int64_t rid = store_stmt_int64(st, 1);
        json_t *rec = NULL;
        char t[TIME_RFC3339_LEN + 1];

        if (n == limit) {
            more = true;
            break;
        }
        last_kind = kind[0];
        last_id = rid;
        last_at = store_stmt_int64(st, 2);
        rc =
            crm_record_get(c, last_kind == 'i' ? &crm_interactions : &crm_cases, rid, 0, &rec, err);
        if (rc != SMILE_OK)
            break;
        time_format_rfc3339(last_at, t);
        json_array_append_new(items, json_pack("{s:s, s:s, s:o}", "type",
                                               last_kind == 'i' ? "interaction" : "case", "at", t,
                                               "record", rec));
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    {
        char key[64], enc[100];
        int kn = snprintf(key, sizeof(key), "%" PRId64 ".%c.%" PRId64, last_at, last_kind, last_id);

        crm_b64url_encode(key, (size_t)kn, enc, sizeof(enc));
        *out = json_pack("{s:O, s:o}", "items", items, "next_cursor",
                         more ? json_string(enc) : json_null());
    }
out:
    if (rc != SMILE_OK && err->code == SMILE_OK)
        err->code = rc;
    json_decref(items);
    json_decref(cust);
    return rc;
}
