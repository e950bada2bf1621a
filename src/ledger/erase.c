/*
 * erase.c — the one exception to the append-only ledger: PIPL Art. 47 erasure of a
 * customer's personal values in the `data` of past events (and the caller number the PBX
 * intake keeps in the `customer` column of call.offered). It runs inside the transaction
 * of POST /api/v1/customers/{id}/anonymise, registered as a CRM erase hook by
 * ledger_erase_install(); nothing else rewrites a stored event and no API route can.
 *
 * What is erased and what is kept (table below) is chosen so that the engine, the kpi
 * rollups, `smile rebuild` and the what-if replay read exactly what they read before: they
 * use the type, times, subject, actor, customer id, channel and data fields such as
 * queue, agent, member, durations, case type / priority / status, by, assignee and team,
 * none of which is personal. Values are replaced by the string "(erased)" in place, keys
 * and the JSON shape kept, so a client reading an old event still finds every field.
 *
 *   data key (any type)                                       erased value
 *   caller*, phone*, mobile, email(s), name, *_name, reply_to,  every string below the key;
 *   cc, bcc, subject, snippet, body, text, html, description,   a number directly under it
 *   comment(s), note(s), address, id_number, message, url,      ("caller": 138…) too
 *   attachments, visitor, contact
 *   from, to (email.* and custom.email* events only: in case.*  same
 *   events they are statuses the engine reads)
 *   any other key, at any depth, whose string contains one of    the string
 *   the customer's values (name, e-mail, phone form, ID number,
 *   address; ≥ 4 bytes, ASCII case ignored) — except the keys
 *   the engine reads (agent, assignee, by, desk, member,
 *   priority, queue, staff, status, team, type, case_type)
 *   customer column = one of the customer's phone numbers       "(erased)", in the events and
 *                                                               in the measurements that copy it
 *
 * An event on those subjects that names another customer (a mail thread both wrote to)
 * keeps that customer's values; only mentions of this customer's own values go there.
 *
 * Why in-place redaction and not crypto-shredding (a key per customer, destroyed on
 * erasure): every event read on the hot fold path (runtime re-folds, rebuild, what-if)
 * would have to decrypt, and every append to encrypt, to serve the rare erasure; redaction
 * costs reads nothing and an erasure a few hundred row updates found through indexes.
 */
#include "ledger/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crm/crm.h"
#include "store/store.h"

#define ERASED "(erased)"

/* Keys whose values are personal in every event type (see the table above). */
static const char *const personal_keys[] = {
    "address", "attachments", "bcc",      "body",      "caller",      "callerid",
    "cc",      "comment",     "comments", "contact",   "description", "display_name",
    "email",   "emails",      "html",     "id_number", "message",     "mobile",
    "name",    "note",        "notes",    "phone",     "phones",      "reply_to",
    "snippet", "subject",     "text",     "url",       "visitor",
};

static bool
is_mail_type(const char *type)
{
    return strncmp(type, "email.", 6) == 0 || strncmp(type, "custom.email", 12) == 0;
}

bool
ledger_erase_key_personal(const char *type, const char *key)
{
    size_t n = strlen(key);

    for (size_t i = 0; i < ARRAY_LEN(personal_keys); i++)
        if (strcmp(key, personal_keys[i]) == 0)
            return true;
    /* caller_name, caller_num, caller_number, phone_2, from_name, customer_name … */
    if (strncmp(key, "caller", 6) == 0 || strncmp(key, "phone", 5) == 0)
        return true;
    if (n > 5 && strcmp(key + n - 5, "_name") == 0)
        return true;
    return type && is_mail_type(type) && (strcmp(key, "from") == 0 || strcmp(key, "to") == 0);
}

/* Replaces the strings below v (and v itself when it is a number and top is set). */
static int
redact(json_t *parent, const char *key, size_t index, json_t *v, bool top)
{
    int n = 0;

    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), ERASED) == 0 || json_string_length(v) == 0)
            return 0;
        n = 1;
    } else if (json_is_number(v)) {
        if (!top)
            return 0;
        n = 1;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            n += redact(v, NULL, i, json_array_get(v, i), false);
        return n;
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;

        json_object_foreach_safe(v, tmp, k, x) n += redact(v, k, 0, x, false);
        return n;
    } else {
        return 0; /* null, true, false: nothing recorded */
    }
    if (key)
        json_object_set_new(parent, key, json_string(ERASED));
    else
        json_array_set_new(parent, index, json_string(ERASED));
    return n;
}

/* Keys the engine, the kpi and the default processes read: never erased for a value match. */
static const char *const engine_keys[] = {"agent",  "assignee", "by",    "desk",
                                          "member", "priority", "queue", "staff",
                                          "status", "team",     "type",  "case_type"};

static bool
engine_key(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(engine_keys); i++)
        if (strcmp(key, engine_keys[i]) == 0)
            return true;
    return false;
}

static bool
mentions(const char *text, const char *const *values, size_t nvalues)
{
    for (size_t i = 0; i < nvalues; i++)
        if (strlen(values[i]) >= LEDGER_ERASE_VALUE_MIN && strcasestr(text, values[i]))
            return true;
    return false;
}

/* The strings below v that mention one of the values (keys the engine reads excepted). */
static int
redact_mentions(json_t *parent, const char *key, size_t index, json_t *v, const char *const *values,
                size_t nvalues)
{
    if (key && engine_key(key))
        return 0;
    if (json_is_string(v)) {
        if (!mentions(json_string_value(v), values, nvalues))
            return 0;
        if (key)
            json_object_set_new(parent, key, json_string(ERASED));
        else
            json_array_set_new(parent, index, json_string(ERASED));
        return 1;
    }
    if (json_is_array(v)) {
        int n = 0;

        for (size_t i = 0; i < json_array_size(v); i++)
            n += redact_mentions(v, NULL, i, json_array_get(v, i), values, nvalues);
        return n;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        int n = 0;

        json_object_foreach_safe(v, tmp, k, x) n += redact_mentions(v, k, 0, x, values, nvalues);
        return n;
    }
    return 0;
}

/* keys: the key rule too (false: only mentions of the values, for another customer's event). */
static int
erase_data(json_t *data, const char *type, bool keys, const char *const *values, size_t nvalues)
{
    const char *k;
    json_t *v;
    void *tmp;
    int n = 0;

    if (!json_is_object(data))
        return 0;
    json_object_foreach_safe(data, tmp, k, v)
    {
        if (keys && ledger_erase_key_personal(type, k))
            n += redact(data, k, 0, v, true);
        else if (nvalues > 0)
            n += redact_mentions(data, k, 0, v, values, nvalues);
    }
    return n;
}

int
ledger_erase_data_values(json_t *data, const char *type, const char *const *values, size_t nvalues)
{
    return erase_data(data, type, true, values, nvalues);
}

int
ledger_erase_data(json_t *data, const char *type)
{
    return ledger_erase_data_values(data, type, NULL, 0);
}

/* A small set of owned strings (subjects, caller numbers); linear: a customer has tens. */
struct strset {
    char **v;
    size_t n, cap;
};

static bool
strset_has(const struct strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

static void
strset_add(struct strset *s, const char *x)
{
    if (x == NULL || x[0] == '\0' || strset_has(s, x))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = xstrdup(x);
}

static void
strset_free(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Adds column 0 of every row of sql (bound to one text parameter) to set. */
static int
collect_text(struct store *s, const char *sql, const char *param, struct strset *set,
             struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, param, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        strset_add(set, store_stmt_text(st, 0));
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* One event to rewrite, read before any update so that no statement reads what it writes. */
struct row {
    int64_t id;
    char *type, *customer, *data;
};

static int
erase_subject(struct store *s, const char *subject, const struct ledger_erase_scope *sc,
              const struct strset *callers, struct ledger_erase_counts *out, struct smile_err *err)
{
    static const char sel[] = "SELECT id, type, customer, data FROM events WHERE subject = $1";
    static const char upd[] = "UPDATE events SET data = $1, customer = $2 WHERE id = $3";
    static const char upd_meas[] =
        "UPDATE measurements SET customer = '" ERASED "' WHERE subject = $1 AND customer = $2";
    struct store_stmt *st;
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    int rc = store_prepare(s, sel, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *cust = store_stmt_text(st, 2);

        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n].id = store_stmt_int64(st, 0);
        rows[n].type = xstrdup(store_stmt_text(st, 1));
        rows[n].customer = cust ? xstrdup(cust) : NULL;
        rows[n].data = xstrdup(store_stmt_text(st, 3));
        n++;
    }
    store_stmt_reset(st);
    rc = rc == STORE_DONE ? SMILE_OK : rc;
    out->events += (int64_t)n;
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        json_t *d = json_loads(rows[i].data, 0, NULL);
        bool caller = rows[i].customer && strset_has(callers, rows[i].customer);
        /* An event on the subject that names another customer (a thread both wrote to)
         * keeps that customer's own values: only mentions of this one's are erased. */
        bool other = !caller && rows[i].customer && sc->customer &&
                     strcmp(rows[i].customer, sc->customer) != 0 &&
                     strcmp(rows[i].customer, ERASED) != 0;
        int vals = erase_data(d, rows[i].type, !other, sc->values, sc->nvalues);
        char *text;

        if (vals == 0 && !caller) {
            json_decref(d);
            continue;
        }
        /* "(erased)" may be longer than what it replaces ("a" → 8 bytes): data near the
         * 16 KiB limit may outgrow it. Erasure must not fail on that, so such data is kept
         * as plain sorted compact JSON, the limit being the intake's, not the reader's. */
        text = d ? ledger_data_canonical(d) : NULL;
        if (d && text == NULL)
            text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(d);
        if (text == NULL) {
            rc = smile_err_set(err, SMILE_EINTERNAL, "event %" PRId64 ": stored data is not JSON",
                               rows[i].id);
            break;
        }
        if ((rc = store_prepare(s, upd, &st, err)) == SMILE_OK) {
            store_stmt_bind_text(st, 1, text, -1);
            store_stmt_bind_text(st, 2, caller ? ERASED : rows[i].customer, -1);
            store_stmt_bind_int64(st, 3, rows[i].id);
            rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
            store_stmt_reset(st);
        }
        free(text);
        out->erased++;
        out->values += vals + (caller ? 1 : 0);
    }
    /* A measurement keeps the customer column of its subject's events (runtime/fold.c):
     * the caller number goes there too, so that the stored measurements stay what
     * `smile rebuild` derives from the erased ledger. */
    for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
        if (!rows[i].customer || !strset_has(callers, rows[i].customer))
            continue;
        if ((rc = store_prepare(s, upd_meas, &st, err)) != SMILE_OK)
            break;
        store_stmt_bind_text(st, 1, subject, -1);
        store_stmt_bind_text(st, 2, rows[i].customer, -1);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        out->measurements += store_changes(s);
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].type);
        free(rows[i].customer);
        free(rows[i].data);
    }
    free(rows);
    return rc;
}

int
ledger_erase(struct store *s, const struct ledger_erase_scope *sc, struct ledger_erase_counts *out,
             struct smile_err *err)
{
    /* Both are searches of events_customer (0016_pipl.sql), never a scan of the ledger. */
    static const char by_customer[] = "SELECT DISTINCT subject FROM events WHERE customer = $1";
    struct strset subjects = {0}, callers = {0};
    int rc = SMILE_OK;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sc->nsubjects; i++)
        strset_add(&subjects, sc->subjects[i]);
    for (size_t i = 0; i < sc->ncallers; i++)
        strset_add(&callers, sc->callers[i]);
    if (sc->customer && sc->customer[0])
        rc = collect_text(s, by_customer, sc->customer, &subjects, err);
    for (size_t i = 0; i < callers.n && rc == SMILE_OK; i++)
        rc = collect_text(s, by_customer, callers.v[i], &subjects, err);
    for (size_t i = 0; i < subjects.n && rc == SMILE_OK; i++)
        rc = erase_subject(s, subjects.v[i], sc, &callers, out, err);
    out->subjects = (int64_t)subjects.n;
    strset_free(&subjects);
    strset_free(&callers);
    return rc;
}

void
ledger_erase_caller_forms(const char *phone, char forms[][LEDGER_CALLER_MAX], int *n)
{
    size_t len = strlen(phone);
    const char *national = phone;

    *n = 0;
    if (len == 0 || len + 5 > LEDGER_CALLER_MAX)
        return;
    snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "%s", phone);
    if (phone[0] == '+') { /* foreign, E.164: the PBX may report 00<cc>… */
        snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "00%s", phone + 1);
        return;
    }
    if (phone[0] == '0') /* a landline's trunk 0 is dropped after the country code */
        national = phone + 1;
    else /* mobile and 400/800: some PBXs prefix the trunk 0 */
        snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "0%s", phone);
    snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "+86%s", national);
    snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "0086%s", national);
    snprintf(forms[(*n)++], LEDGER_CALLER_MAX, "86%s", national);
}

/* Adds the strings of a stored JSON array (phones, emails) to set. */
static void
add_array(struct strset *set, const char *text)
{
    json_t *arr = text ? json_loads(text, 0, NULL) : NULL, *p;
    size_t i;

    json_array_foreach(arr, i, p) if (json_is_string(p)) strset_add(set, json_string_value(p));
    json_decref(arr);
}

/* The customer's phones (stored form) and the values to look for in other strings. */
static int
customer_values(struct store *s, int64_t id, struct strset *phones, struct strset *values,
                struct smile_err *err)
{
    static const char sql[] =
        "SELECT name, phones, emails, id_number, address FROM customers WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        strset_add(values, store_stmt_text(st, 0));
        add_array(phones, store_stmt_text(st, 1));
        add_array(values, store_stmt_text(st, 2));
        strset_add(values, store_stmt_text(st, 3));
        strset_add(values, store_stmt_text(st, 4));
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    return rc;
}

/*
 * The CRM erase hook: gathers what ties events to the customer — the customer's phones
 * (still stored: the CRM runs its hooks before it blanks the record), the subjects of its
 * cases (case:<id>, deleted ones too) and of the mail threads of its cases and
 * interactions (through the events the mail part recorded for each stored message), and
 * its own values (name, e-mails, ID number, address, phone forms) to look for in the other
 * strings of those events — and erases. Reads the CRM's and the mail part's rows by key
 * only, like the mail part's hook.
 */
static int
erase_hook(struct store *s, int64_t customer_id, json_t *counts, struct smile_err *err)
{
    static const char cases_sql[] = "SELECT 'case:' || id FROM cases WHERE customer_id = $1";
    static const char threads_sql[] =
        "SELECT e.subject FROM cases c JOIN mail_messages m ON m.case_id = c.id JOIN events e "
        "ON e.id = m.event_id WHERE c.customer_id = $1 UNION SELECT e.subject FROM "
        "interactions i JOIN mail_messages m ON m.interaction_id = i.id JOIN events e ON e.id = "
        "m.event_id WHERE i.customer_id = $1";
    struct strset subjects = {0}, phones = {0}, callers = {0}, values = {0};
    struct ledger_erase_scope sc = {0};
    struct ledger_erase_counts ec;
    char cust[24];
    int rc;

    snprintf(cust, sizeof(cust), "%" PRId64, customer_id);
    rc = customer_values(s, customer_id, &phones, &values, err);
    if (rc == SMILE_OK)
        rc = collect_text(s, cases_sql, cust, &subjects, err);
    if (rc == SMILE_OK)
        rc = collect_text(s, threads_sql, cust, &subjects, err);
    if (rc != SMILE_OK)
        goto out;
    for (size_t i = 0; i < phones.n; i++) {
        char forms[LEDGER_CALLER_FORMS][LEDGER_CALLER_MAX];
        int nf;

        ledger_erase_caller_forms(phones.v[i], forms, &nf);
        for (int f = 0; f < nf; f++) {
            strset_add(&callers, forms[f]);
            strset_add(&values, forms[f]);
        }
    }
    sc.customer = cust;
    sc.subjects = (const char *const *)subjects.v;
    sc.nsubjects = subjects.n;
    sc.callers = (const char *const *)callers.v;
    sc.ncallers = callers.n;
    sc.values = (const char *const *)values.v;
    sc.nvalues = values.n;
    if ((rc = ledger_erase(s, &sc, &ec, err)) != SMILE_OK)
        goto out;
    json_object_set_new(counts, "event_subjects", json_integer(ec.subjects));
    json_object_set_new(counts, "events_examined", json_integer(ec.events));
    json_object_set_new(counts, "events_erased", json_integer(ec.erased));
    json_object_set_new(counts, "event_values_erased", json_integer(ec.values));
    json_object_set_new(counts, "measurements_erased", json_integer(ec.measurements));
out:
    strset_free(&subjects);
    strset_free(&phones);
    strset_free(&callers);
    strset_free(&values);
    return rc;
}

void
ledger_erase_install(void)
{
    crm_customer_erase_counted_hook_add(erase_hook);
}
