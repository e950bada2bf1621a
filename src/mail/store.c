/*
 * store.c — the storage edge of the mail part: the mailboxes table (CRUD for the API,
 * passwords write-only), and the two transactions that turn mail into CRM records and
 * ledger events: importing one received message (thread, case, inbound interaction,
 * email.received, the folder's last UID) and recording one reply the SMTP server accepted
 * (outbound interaction, email.sent, optional status change). Each runs in one
 * transaction, so a message is recorded with its events or not at all.
 *
 * Threading (docs/mail.md): a case tag "<prefix><id>]" in the subject names the case;
 * else the first of In-Reply-To, References (newest first) that is a message we know
 * names its thread; else the message starts a thread of its own. A thread feeds one case:
 * new → opened; resolved → reopened; pending → resumed; closed → a follow-up case.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/secret.h"
#include "crm/audit.h"
#include "crm/crm.h"
#include "http/http.h"
#include "ledger/ledger.h"
#include "mail/mail.h"
#include "mail/mail_int.h"
#include "store/store.h"

/* Mailbox fields -------------------------------------------------------------------------- */

enum ftype { F_TEXT, F_INT, F_BOOL, F_REF, F_ENUM };

struct mfield {
    const char *name;
    enum ftype t;
    bool required; /* on create */
    bool nullable;
    bool secret;
    int max_len;
    int64_t min, max;
    const char *def_text; /* create default of a text (NULL = null) */
    int64_t def_int;
};

static const char *const case_types[] = {"complaint", "repair", "inquiry",
                                         "handover",  "other",  NULL};

/* In the column order of the SQL below. */
static const struct mfield mfields[] = {
    {"name", F_TEXT, true, false, false, 100, 0, 0, NULL, 0},
    {"imap_url", F_TEXT, true, false, false, 500, 0, 0, NULL, 0},
    {"username", F_TEXT, true, false, false, 254, 0, 0, NULL, 0},
    {"password", F_TEXT, false, false, true, 1024, 0, 0, "", 0},
    {"smtp_url", F_TEXT, false, true, false, 500, 0, 0, NULL, 0},
    {"smtp_username", F_TEXT, false, true, false, 254, 0, 0, NULL, 0},
    {"smtp_password", F_TEXT, false, true, true, 1024, 0, 0, NULL, 0},
    {"from_address", F_TEXT, true, false, false, 254, 0, 0, NULL, 0},
    {"from_name", F_TEXT, false, false, false, 100, 0, 0, "", 0},
    {"team_id", F_REF, false, true, false, 0, 1, INT64_MAX, NULL, 0},
    {"case_type", F_ENUM, false, false, false, 0, 0, 0, "inquiry", 0},
    {"tag_prefix", F_TEXT, false, false, false, 16, 0, 0, "[SR-", 0},
    {"active", F_BOOL, false, false, false, 0, 0, 0, NULL, 1},
    {"poll_seconds", F_INT, false, false, false, 0, 10, 86400, NULL, 60},
    {"import_existing", F_BOOL, false, false, false, 0, 0, 0, NULL, 0},
    {"max_bytes", F_INT, false, false, false, 0, 1024, 104857600, NULL, 26214400},
};
#define NMFIELDS ((int)ARRAY_LEN(mfields))

static const char *const readonly_fields[] = {
    "id",         "version",      "has_password", "has_smtp_password", "uidvalidity",
    "last_uid",   "last_poll_at", "last_ok_at",   "last_error",        "imported",
    "created_at", "updated_at",   "push"};

static const char sql_select[] =
    "SELECT id, name, imap_url, username, password, smtp_url, smtp_username, smtp_password, "
    "from_address, from_name, team_id, case_type, tag_prefix, active, poll_seconds, "
    "import_existing, max_bytes, uidvalidity, last_uid, last_poll_at, last_ok_at, last_error, "
    "imported, version, created_at, updated_at FROM mailboxes WHERE id = $1 AND deleted_at IS "
    "NULL";
static const char sql_list[] =
    "SELECT id, name, imap_url, username, password, smtp_url, smtp_username, smtp_password, "
    "from_address, from_name, team_id, case_type, tag_prefix, active, poll_seconds, "
    "import_existing, max_bytes, uidvalidity, last_uid, last_poll_at, last_ok_at, last_error, "
    "imported, version, created_at, updated_at FROM mailboxes WHERE deleted_at IS NULL ORDER BY "
    "id";

static char *
col_dup(struct store_stmt *st, int k)
{
    const char *v = store_stmt_text(st, k);

    return v ? xstrdup(v) : NULL;
}

static void
mbox_from_row(struct store_stmt *st, struct mail_mbox *mb)
{
    memset(mb, 0, sizeof(*mb));
    mb->id = store_stmt_int64(st, 0);
    mb->name = col_dup(st, 1);
    mb->imap_url = col_dup(st, 2);
    mb->username = col_dup(st, 3);
    mb->password = col_dup(st, 4);
    mb->smtp_url = col_dup(st, 5);
    mb->smtp_username = col_dup(st, 6);
    mb->smtp_password = col_dup(st, 7);
    mb->from_address = col_dup(st, 8);
    mb->from_name = col_dup(st, 9);
    mb->team_id = store_stmt_is_null(st, 10) ? 0 : store_stmt_int64(st, 10);
    mb->case_type = col_dup(st, 11);
    mb->tag_prefix = col_dup(st, 12);
    mb->active = store_stmt_int64(st, 13) != 0;
    mb->poll_seconds = store_stmt_int64(st, 14);
    mb->import_existing = store_stmt_int64(st, 15) != 0;
    mb->max_bytes = store_stmt_int64(st, 16);
    mb->uidvalidity = store_stmt_is_null(st, 17) ? 0 : store_stmt_int64(st, 17);
    mb->last_uid = store_stmt_int64(st, 18);
    mb->last_poll_at = store_stmt_is_null(st, 19) ? 0 : store_stmt_int64(st, 19);
    mb->last_ok_at = store_stmt_is_null(st, 20) ? 0 : store_stmt_int64(st, 20);
    mb->last_error = col_dup(st, 21);
    mb->imported = store_stmt_int64(st, 22);
    mb->version = store_stmt_int64(st, 23);
    mb->created_at = store_stmt_int64(st, 24);
    mb->updated_at = store_stmt_int64(st, 25);
}

void
mail_mbox_free(struct mail_mbox *mb)
{
    if (mb == NULL)
        return;
    free(mb->name);
    free(mb->imap_url);
    free(mb->username);
    secret_free(mb->password);
    free(mb->smtp_url);
    free(mb->smtp_username);
    secret_free(mb->smtp_password);
    free(mb->from_address);
    free(mb->from_name);
    free(mb->case_type);
    free(mb->tag_prefix);
    free(mb->last_error);
    memset(mb, 0, sizeof(*mb));
}

/* Replaces the sealed passwords read from the row by their clear text. */
static int
mbox_unseal(struct mail_mbox *mb, struct smile_err *err)
{
    char **f[] = {&mb->password, &mb->smtp_password};

    for (size_t i = 0; i < ARRAY_LEN(f); i++) {
        char *plain = NULL;
        int rc = secret_open_row("mailbox", mb->id, *f[i], &plain, err);

        if (rc != SMILE_OK) { /* a server fault, not the caller's: 500 */
            char msg[sizeof(err->msg)];

            snprintf(msg, sizeof(msg), "%s", err->msg);
            return smile_err_set(err, SMILE_EINTERNAL, "%s", msg);
        }
        free(*f[i]);
        *f[i] = plain;
    }
    return SMILE_OK;
}

int
mail_mbox_load(struct store *s, int64_t id, struct mail_mbox *mb, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql_select, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        mbox_from_row(st, mb);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no mailbox %" PRId64, id);
    }
    store_stmt_reset(st);
    if (rc == SMILE_OK && (rc = mbox_unseal(mb, err)) != SMILE_OK)
        mail_mbox_free(mb);
    return rc;
}

static json_t *
time_or_null(int64_t ms)
{
    char t[TIME_RFC3339_LEN + 1];

    if (ms == 0)
        return json_null();
    time_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *
mbox_json(const struct mail_mbox *mb)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(mb->id));
    json_object_set_new(o, "name", json_string(mb->name));
    json_object_set_new(o, "imap_url", json_string(mb->imap_url));
    json_object_set_new(o, "username", json_string(mb->username));
    json_object_set_new(o, "has_password", json_boolean(mb->password && mb->password[0]));
    json_object_set_new(o, "smtp_url", str_or_null(mb->smtp_url));
    json_object_set_new(o, "smtp_username", str_or_null(mb->smtp_username));
    json_object_set_new(o, "has_smtp_password",
                        json_boolean(mb->smtp_password && mb->smtp_password[0]));
    json_object_set_new(o, "from_address", json_string(mb->from_address));
    json_object_set_new(o, "from_name", json_string(mb->from_name ? mb->from_name : ""));
    json_object_set_new(o, "team_id", mb->team_id ? json_integer(mb->team_id) : json_null());
    json_object_set_new(o, "case_type", json_string(mb->case_type));
    json_object_set_new(o, "tag_prefix", json_string(mb->tag_prefix));
    json_object_set_new(o, "active", json_boolean(mb->active));
    json_object_set_new(o, "poll_seconds", json_integer(mb->poll_seconds));
    json_object_set_new(o, "import_existing", json_boolean(mb->import_existing));
    json_object_set_new(o, "max_bytes", json_integer(mb->max_bytes));
    json_object_set_new(o, "uidvalidity",
                        mb->uidvalidity ? json_integer(mb->uidvalidity) : json_null());
    json_object_set_new(o, "last_uid", json_integer(mb->last_uid));
    json_object_set_new(o, "last_poll_at", time_or_null(mb->last_poll_at));
    json_object_set_new(o, "last_ok_at", time_or_null(mb->last_ok_at));
    json_object_set_new(o, "last_error", str_or_null(mb->last_error));
    json_object_set_new(o, "push", json_string(mail_push_state(mb->id)));
    json_object_set_new(o, "imported", json_integer(mb->imported));
    json_object_set_new(o, "version", json_integer(mb->version));
    json_object_set_new(o, "created_at", time_or_null(mb->created_at));
    json_object_set_new(o, "updated_at", time_or_null(mb->updated_at));
    return o;
}

int
mail_mailbox_get(struct store *s, int64_t id, json_t **out, struct smile_err *err)
{
    struct mail_mbox mb;
    int rc = mail_mbox_load(s, id, &mb, err);

    if (rc == SMILE_OK) {
        *out = mbox_json(&mb);
        mail_mbox_free(&mb);
    }
    return rc;
}

int
mail_mailbox_list(struct store *s, json_t **out, struct smile_err *err)
{
    struct store_stmt *st;
    json_t *items = json_array();
    int rc = store_prepare(s, sql_list, &st, err);

    if (rc != SMILE_OK) {
        json_decref(items);
        return rc;
    }
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct mail_mbox mb;

        mbox_from_row(st, &mb);
        json_array_append_new(items, mbox_json(&mb));
        mail_mbox_free(&mb);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out = json_pack("{s:o}", "items", items);
    return SMILE_OK;
}

/* The stored form of a mailbox as JSON (for merge and audit). */
static json_t *
mbox_stored(const struct mail_mbox *mb)
{
    json_t *o = json_object();

    json_object_set_new(o, "name", json_string(mb->name));
    json_object_set_new(o, "imap_url", json_string(mb->imap_url));
    json_object_set_new(o, "username", json_string(mb->username));
    json_object_set_new(o, "password", json_string(mb->password ? mb->password : ""));
    json_object_set_new(o, "smtp_url", str_or_null(mb->smtp_url));
    json_object_set_new(o, "smtp_username", str_or_null(mb->smtp_username));
    json_object_set_new(o, "smtp_password", str_or_null(mb->smtp_password));
    json_object_set_new(o, "from_address", json_string(mb->from_address));
    json_object_set_new(o, "from_name", json_string(mb->from_name ? mb->from_name : ""));
    json_object_set_new(o, "team_id", mb->team_id ? json_integer(mb->team_id) : json_null());
    json_object_set_new(o, "case_type", json_string(mb->case_type));
    json_object_set_new(o, "tag_prefix", json_string(mb->tag_prefix));
    json_object_set_new(o, "active", json_boolean(mb->active));
    json_object_set_new(o, "poll_seconds", json_integer(mb->poll_seconds));
    json_object_set_new(o, "import_existing", json_boolean(mb->import_existing));
    json_object_set_new(o, "max_bytes", json_integer(mb->max_bytes));
    return o;
}

static const struct mfield *
mfield_find(const char *name)
{
    for (int i = 0; i < NMFIELDS; i++)
        if (strcmp(mfields[i].name, name) == 0)
            return &mfields[i];
    return NULL;
}

static bool
one_line_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static size_t
u8len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Checks one input value and puts its stored form into rec. */
static void
check_field(struct crm_ctx *c, const struct mfield *f, json_t *v, json_t *rec,
            struct smile_err *err)
{
    char path[64];

    snprintf(path, sizeof(path), "/%s", f->name);
    if (json_is_null(v)) {
        if (!f->nullable)
            smile_err_field(err, path, "must not be null");
        else
            json_object_set_new(rec, f->name, json_null());
        return;
    }
    switch (f->t) {
    case F_TEXT:
    case F_ENUM: {
        const char *s = json_string_value(v);

        if (!json_is_string(v)) {
            smile_err_field(err, path, "must be a string");
            return;
        }
        if (f->t == F_ENUM) {
            bool ok = false;

            for (int i = 0; case_types[i]; i++)
                ok = ok || strcmp(case_types[i], s) == 0;
            if (!ok) {
                smile_err_field(err, path,
                                "must be one of complaint, repair, inquiry, handover, other");
                return;
            }
        } else if (!one_line_ok(s)) {
            smile_err_field(err, path, "control characters are not allowed here");
            return;
        } else if (u8len(s) > (size_t)f->max_len) {
            smile_err_field(err, path, "at most %d characters", f->max_len);
            return;
        } else if (s[0] == '\0' && !f->secret && strcmp(f->name, "from_name") != 0) {
            smile_err_field(err, path, "must not be empty");
            return;
        }
        if (strcmp(f->name, "imap_url") == 0 || strcmp(f->name, "smtp_url") == 0) {
            struct mail_url u;
            struct smile_err e2;

            smile_err_clear(&e2);
            if (mail_url_parse(s, f->name[0] == 'i' ? "imap" : "smtp", &u, &e2) != SMILE_OK) {
                smile_err_field(err, path, "%s", e2.msg);
                return;
            }
            mail_url_free(&u);
        }
        if (strcmp(f->name, "from_address") == 0) {
            char norm[CRM_EMAIL_MAX + 1];
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_email_normalise(s, norm, &e2) != SMILE_OK) {
                smile_err_field(err, path, "%s", e2.msg[0] ? e2.msg : "not an e-mail address");
                return;
            }
            json_object_set_new(rec, f->name, json_string(norm));
            return;
        }
        if (strcmp(f->name, "tag_prefix") == 0 && (strchr(s, ']') || strlen(s) < 2)) {
            smile_err_field(err, path, "2 to 16 characters without ']', e.g. \"[SR-\"");
            return;
        }
        json_object_set(rec, f->name, v);
        return;
    }
    case F_INT:
        if (!json_is_integer(v) || json_integer_value(v) < f->min ||
            json_integer_value(v) > f->max) {
            smile_err_field(err, path, "must be an integer from %" PRId64 " to %" PRId64, f->min,
                            f->max);
            return;
        }
        json_object_set(rec, f->name, v);
        return;
    case F_BOOL:
        if (!json_is_boolean(v)) {
            smile_err_field(err, path, "must be true or false");
            return;
        }
        json_object_set(rec, f->name, v);
        return;
    case F_REF: {
        bool ok = false;

        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            smile_err_field(err, path, "must be a team id");
            return;
        }
        if (crm_ref_exists(c, "teams", json_integer_value(v), &ok, err) != SMILE_OK)
            return;
        if (!ok) {
            smile_err_field(err, path, "no team %" PRId64, (int64_t)json_integer_value(v));
            return;
        }
        json_object_set(rec, f->name, v);
        return;
    }
    }
}

/* Applies input fields onto rec; every problem into err. */
static void
apply_input(struct crm_ctx *c, const json_t *in, json_t *rec, struct smile_err *err)
{
    const char *key;
    json_t *v;

    if (!json_is_object(in)) {
        smile_err_field(err, "", "must be a JSON object");
        return;
    }
    json_object_foreach((json_t *)in, key, v)
    {
        const struct mfield *f = mfield_find(key);
        char path[96];

        snprintf(path, sizeof(path), "/%.80s", key);
        if (f == NULL) {
            bool ro = false;

            for (size_t i = 0; i < ARRAY_LEN(readonly_fields); i++)
                ro = ro || strcmp(readonly_fields[i], key) == 0;
            smile_err_field(err, path,
                            ro ? "is maintained by the server and cannot be set"
                               : "unknown field of a mailbox");
            continue;
        }
        check_field(c, f, v, rec, err);
    }
}

/* Binds rec's 16 fields to $1..$16. */
static void
bind_rec(struct store_stmt *st, const json_t *rec)
{
    for (int i = 0; i < NMFIELDS; i++) {
        const json_t *v = json_object_get(rec, mfields[i].name);

        if (v == NULL || json_is_null(v))
            store_stmt_bind_null(st, i + 1);
        else if (json_is_string(v))
            store_stmt_bind_text(st, i + 1, json_string_value(v), -1);
        else if (json_is_boolean(v))
            store_stmt_bind_int64(st, i + 1, json_is_true(v) ? 1 : 0);
        else
            store_stmt_bind_int64(st, i + 1, json_integer_value(v));
    }
}

/*
 * Binds rec's passwords sealed for row id over $4 (password) and $7 (smtp_password), so
 * no password reaches the database in clear (src/base/secret.h).
 */
static int
bind_sealed(struct store_stmt *st, const json_t *rec, int64_t id, struct smile_err *err)
{
    static const struct {
        const char *name;
        int param;
    } sec[] = {{"password", 4}, {"smtp_password", 7}};

    for (size_t i = 0; i < ARRAY_LEN(sec); i++) {
        char *sealed = NULL;
        int rc = secret_seal_row(
            "mailbox", id, json_string_value(json_object_get(rec, sec[i].name)), &sealed, err);

        if (rc != SMILE_OK)
            return rc;
        if (sealed)
            store_stmt_bind_text(st, sec[i].param, sealed, -1);
        else
            store_stmt_bind_null(st, sec[i].param);
        free(sealed);
    }
    return SMILE_OK;
}

/* The audit form: passwords as "***" (or null/""). */
static json_t *
audit_form(const json_t *rec)
{
    json_t *o = json_deep_copy(rec);

    for (int i = 0; i < NMFIELDS; i++) {
        json_t *v = json_object_get(o, mfields[i].name);

        if (mfields[i].secret && json_is_string(v) && json_string_length(v) > 0)
            json_object_set_new(o, mfields[i].name, json_string("***"));
    }
    return o;
}

static int
name_taken(struct store *s, const char *name, int64_t self, bool *out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT 1 FROM mailboxes WHERE name = $1 AND deleted_at IS NULL AND id <> $2";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, name, -1);
    store_stmt_bind_int64(st, 2, self);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    *out = rc == STORE_ROW;
    return SMILE_OK;
}

static int
finish(struct store *s, int rc, struct smile_err *err)
{
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    if (rc != SMILE_OK) {
        if (store_in_tx(s))
            store_rollback(s);
        if (err->code == SMILE_OK)
            err->code = rc;
    }
    return rc;
}

int
mail_mailbox_create(struct crm_ctx *c, const json_t *in, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO mailboxes (name, imap_url, username, password, smtp_url, smtp_username, "
        "smtp_password, from_address, from_name, team_id, case_type, tag_prefix, active, "
        "poll_seconds, import_existing, max_bytes, created_at, updated_at, id) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18) "
        "RETURNING id";
    /* The id is chosen first: the passwords are sealed for their row (inside BEGIN
     * IMMEDIATE nobody else can take it). */
    static const char sql_next[] = "SELECT coalesce(max(id), 0) + 1 FROM mailboxes";
    json_t *rec = json_object(), *shown;
    struct store_stmt *st;
    int64_t id = 0;
    bool taken = false;
    int rc;

    smile_err_clear(err);
    for (int i = 0; i < NMFIELDS; i++) {
        const struct mfield *f = &mfields[i];

        if (f->t == F_INT)
            json_object_set_new(rec, f->name, json_integer(f->def_int));
        else if (f->t == F_BOOL)
            json_object_set_new(rec, f->name, json_boolean(f->def_int));
        else
            json_object_set_new(rec, f->name, f->def_text ? json_string(f->def_text) : json_null());
    }
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        goto out;
    apply_input(c, in, rec, err);
    for (int i = 0; i < NMFIELDS; i++) {
        char path[64];

        snprintf(path, sizeof(path), "/%s", mfields[i].name);
        if (mfields[i].required && json_is_null(json_object_get(rec, mfields[i].name)) &&
            (!json_is_object(in) || json_object_get(in, mfields[i].name) == NULL))
            smile_err_field(err, path, "is required");
    }
    if (err->code != SMILE_OK) {
        rc = err->code;
        goto out;
    }
    if ((rc = name_taken(c->db, json_string_value(json_object_get(rec, "name")), 0, &taken, err)) !=
        SMILE_OK)
        goto out;
    if (taken) {
        rc = smile_err_set(err, SMILE_ECONFLICT, "a mailbox named \"%s\" exists",
                           json_string_value(json_object_get(rec, "name")));
        goto out;
    }
    if ((rc = store_query_int64(c->db, sql_next, &id, err)) != SMILE_OK)
        goto out;
    if ((rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK)
        goto out;
    bind_rec(st, rec);
    store_stmt_bind_int64(st, 17, c->now_ms);
    store_stmt_bind_int64(st, 18, id);
    if ((rc = bind_sealed(st, rec, id, err)) != SMILE_OK) {
        store_stmt_reset(st);
        goto out;
    }
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EDB, "insert into mailboxes returned no id");
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto out;
    shown = audit_form(rec);
    rc = audit_record(c->db, c->actor, "mailbox", id, "create", NULL, shown, c->request_id,
                      c->address, err);
    json_decref(shown);
    if (rc == SMILE_OK)
        rc = mail_mailbox_get(c->db, id, out, err);
out:
    json_decref(rec);
    return finish(c->db, rc, err);
}

int
mail_mailbox_update(struct crm_ctx *c, int64_t id, int64_t if_version, const json_t *patch,
                    json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE mailboxes SET name = $1, imap_url = $2, username = $3, password = $4, smtp_url "
        "= $5, smtp_username = $6, smtp_password = $7, from_address = $8, from_name = $9, "
        "team_id = $10, case_type = $11, tag_prefix = $12, active = $13, poll_seconds = $14, "
        "import_existing = $15, max_bytes = $16, updated_at = $17, version = version + 1, "
        "uidvalidity = CASE WHEN $18 = 1 THEN NULL ELSE uidvalidity END, last_uid = CASE WHEN "
        "$18 = 1 THEN 0 ELSE last_uid END WHERE id = $19 AND deleted_at IS NULL";
    struct mail_mbox mb;
    json_t *old = NULL, *rec = NULL, *a = NULL, *b = NULL;
    struct store_stmt *st;
    bool taken = false, moved;
    int rc;

    smile_err_clear(err);
    memset(&mb, 0, sizeof(mb));
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        goto out;
    if ((rc = mail_mbox_load(c->db, id, &mb, err)) != SMILE_OK)
        goto out;
    if (if_version != mb.version) {
        rc = smile_err_set(err, SMILE_EPRECOND,
                           "the mailbox has changed: its version is now %" PRId64
                           "; read it again and retry",
                           mb.version);
        goto out;
    }
    old = mbox_stored(&mb);
    rec = json_deep_copy(old);
    apply_input(c, patch, rec, err);
    if (err->code != SMILE_OK) {
        rc = err->code;
        goto out;
    }
    if (json_equal(old, rec)) {
        rc = mail_mailbox_get(c->db, id, out, err);
        goto out;
    }
    if ((rc = name_taken(c->db, json_string_value(json_object_get(rec, "name")), id, &taken,
                         err)) != SMILE_OK)
        goto out;
    if (taken) {
        rc = smile_err_set(err, SMILE_ECONFLICT, "a mailbox named \"%s\" exists",
                           json_string_value(json_object_get(rec, "name")));
        goto out;
    }
    /* Another server or account: its UIDs mean nothing here, start over (Message-IDs
     * still keep anything from being imported twice). */
    moved = !json_equal(json_object_get(old, "imap_url"), json_object_get(rec, "imap_url")) ||
            !json_equal(json_object_get(old, "username"), json_object_get(rec, "username"));
    if ((rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK)
        goto out;
    bind_rec(st, rec);
    store_stmt_bind_int64(st, 17, c->now_ms);
    store_stmt_bind_int64(st, 18, moved ? 1 : 0);
    store_stmt_bind_int64(st, 19, id);
    if ((rc = bind_sealed(st, rec, id, err)) != SMILE_OK) {
        store_stmt_reset(st);
        goto out;
    }
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    a = audit_form(old);
    b = audit_form(rec);
    rc = audit_record(c->db, c->actor, "mailbox", id, "update", a, b, c->request_id, c->address,
                      err);
    if (rc == SMILE_OK)
        rc = mail_mailbox_get(c->db, id, out, err);
out:
    json_decref(old);
    json_decref(rec);
    json_decref(a);
    json_decref(b);
    mail_mbox_free(&mb);
    return finish(c->db, rc, err);
}

int
mail_mailbox_delete(struct crm_ctx *c, int64_t id, int64_t if_version, struct smile_err *err)
{
    static const char sql[] = "UPDATE mailboxes SET deleted_at = $1, updated_at = $1, version = "
                              "version + 1, active = 0 WHERE id = $2 AND deleted_at IS NULL";
    struct mail_mbox mb;
    struct store_stmt *st;
    json_t *a = NULL, *old = NULL;
    int rc;

    smile_err_clear(err);
    memset(&mb, 0, sizeof(mb));
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        goto out;
    if ((rc = mail_mbox_load(c->db, id, &mb, err)) != SMILE_OK)
        goto out;
    if (if_version != mb.version) {
        rc = smile_err_set(err, SMILE_EPRECOND,
                           "the mailbox has changed: its version is now %" PRId64, mb.version);
        goto out;
    }
    if ((rc = store_prepare(c->db, sql, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, c->now_ms);
    store_stmt_bind_int64(st, 2, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    old = mbox_stored(&mb);
    a = audit_form(old);
    rc = audit_record(c->db, c->actor, "mailbox", id, "delete", a, NULL, c->request_id, c->address,
                      err);
out:
    json_decref(a);
    json_decref(old);
    mail_mbox_free(&mb);
    return finish(c->db, rc, err);
}

int
mail_mbox_state(struct store *s, int64_t id, int64_t uidvalidity, int64_t last_uid, int imported,
                struct smile_err *err)
{
    static const char sql[] = "UPDATE mailboxes SET uidvalidity = $1, last_uid = MAX(last_uid, "
                              "$2), imported = imported + $3 WHERE id = $4";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    if (uidvalidity > 0)
        store_stmt_bind_int64(st, 1, uidvalidity);
    else
        store_stmt_bind_null(st, 1);
    store_stmt_bind_int64(st, 2, last_uid);
    store_stmt_bind_int64(st, 3, imported);
    store_stmt_bind_int64(st, 4, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Threads and messages --------------------------------------------------------------------- */

struct thread {
    int64_t id;
    char root[MAIL_MAX_MSGID + 64];
    int64_t mailbox_id;
    int64_t case_id;
};

static int
thread_by_sql(struct store *s, const char *sql, int64_t key, const char *text, struct thread *t,
              bool *found, struct smile_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *found = false;
    if (rc != SMILE_OK)
        return rc;
    if (text)
        store_stmt_bind_text(st, 1, text, -1);
    else
        store_stmt_bind_int64(st, 1, key);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        t->id = store_stmt_int64(st, 0);
        snprintf(t->root, sizeof(t->root), "%s", store_stmt_text(st, 1));
        t->mailbox_id = store_stmt_int64(st, 2);
        t->case_id = store_stmt_is_null(st, 3) ? 0 : store_stmt_int64(st, 3);
        *found = true;
    }
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

static const char sql_thread_of_msg[] =
    "SELECT t.id, t.root, t.mailbox_id, t.case_id FROM mail_messages m JOIN mail_threads t ON "
    "t.id = m.thread_id WHERE m.message_id = $1";
static const char sql_thread_of_case[] =
    "SELECT id, root, mailbox_id, case_id FROM mail_threads WHERE case_id = $1 ORDER BY "
    "updated_at DESC, id DESC LIMIT 1";
static const char sql_thread_by_root[] =
    "SELECT id, root, mailbox_id, case_id FROM mail_threads WHERE root = $1";

static int
thread_create(struct store *s, const char *root, int64_t mailbox_id, int64_t case_id,
              int64_t now_ms, struct thread *t, struct smile_err *err)
{
    static const char sql[] = "INSERT INTO mail_threads (root, mailbox_id, case_id, created_at, "
                              "updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, root, -1);
    store_stmt_bind_int64(st, 2, mailbox_id);
    if (case_id > 0)
        store_stmt_bind_int64(st, 3, case_id);
    else
        store_stmt_bind_null(st, 3);
    store_stmt_bind_int64(st, 4, now_ms);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        t->id = store_stmt_int64(st, 0);
        snprintf(t->root, sizeof(t->root), "%s", root);
        t->mailbox_id = mailbox_id;
        t->case_id = case_id;
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? smile_err_set(err, SMILE_EDB, "no thread id") : rc;
}

static int
thread_set_case(struct store *s, int64_t thread_id, int64_t case_id, int64_t now_ms,
                struct smile_err *err)
{
    static const char sql[] = "UPDATE mail_threads SET case_id = $1, updated_at = $2 WHERE id = $3";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, case_id);
    store_stmt_bind_int64(st, 2, now_ms);
    store_stmt_bind_int64(st, 3, thread_id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

struct msg_row {
    const char *message_id;
    int64_t thread_id, mailbox_id;
    const char *direction;
    int64_t case_id, interaction_id, event_id, uidvalidity, uid, at;
    const char *from_addr, *reply_to, *subject;
    const char *cc; /* JSON array text or NULL */
};

static int
message_insert(struct store *s, const struct msg_row *r, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO mail_messages (message_id, thread_id, mailbox_id, direction, case_id, "
        "interaction_id, event_id, uidvalidity, uid, at, from_addr, reply_to, subject, cc) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, r->message_id, -1);
    store_stmt_bind_int64(st, 2, r->thread_id);
    store_stmt_bind_int64(st, 3, r->mailbox_id);
    store_stmt_bind_text(st, 4, r->direction, -1);
#define BIND_ID(k, v)                                                                              \
    do {                                                                                           \
        if ((v) > 0)                                                                               \
            store_stmt_bind_int64(st, k, v);                                                       \
        else                                                                                       \
            store_stmt_bind_null(st, k);                                                           \
    } while (0)
    BIND_ID(5, r->case_id);
    BIND_ID(6, r->interaction_id);
    BIND_ID(7, r->event_id);
    BIND_ID(8, r->uidvalidity);
    BIND_ID(9, r->uid);
#undef BIND_ID
    store_stmt_bind_int64(st, 10, r->at);
    store_stmt_bind_text(st, 11, r->from_addr && r->from_addr[0] ? r->from_addr : NULL, -1);
    store_stmt_bind_text(st, 12, r->reply_to && r->reply_to[0] ? r->reply_to : NULL, -1);
    store_stmt_bind_text(st, 13, r->subject, -1);
    store_stmt_bind_text(st, 14, r->cc, -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

static int
message_known(struct store *s, const char *message_id, bool *out, struct smile_err *err)
{
    static const char sql[] = "SELECT 1 FROM mail_messages WHERE message_id = $1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, message_id, -1);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    *out = rc == STORE_ROW;
    return SMILE_OK;
}

/* Copies s keeping at most max code points. */
static char *
cut_dup(const char *s, size_t max)
{
    char *out = xstrdup(s ? s : "");
    size_t n = 0;

    for (unsigned char *p = (unsigned char *)out; *p; p++) {
        if ((*p & 0xc0) != 0x80) {
            if (n == max) {
                *p = '\0';
                break;
            }
            n++;
        }
    }
    return out;
}

static json_t *
rfc3339(int64_t ms)
{
    char t[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(ms, t);
    return json_string(t);
}

static char *
team_name(struct store *s, int64_t id)
{
    static const char sql[] = "SELECT name FROM teams WHERE id = $1";
    struct store_stmt *st;
    struct smile_err err;
    char *out = NULL;

    smile_err_clear(&err);
    if (id <= 0 || store_prepare(s, sql, &st, &err) != SMILE_OK)
        return NULL;
    store_stmt_bind_int64(st, 1, id);
    if (store_stmt_step(st, &err) == STORE_ROW && store_stmt_text(st, 0))
        out = xstrdup(store_stmt_text(st, 0));
    store_stmt_reset(st);
    return out;
}

/* Appends an event in the open transaction; data is canonicalised (cut if too big). */
static int
append_event(struct store *s, struct ledger_event *ev, json_t *data, int64_t *out_id,
             struct smile_err *err)
{
    char *d = ledger_data_canonical(data);
    int rc;

    if (d == NULL) { /* over 16 KiB: drop the lists */
        json_object_set_new(data, "to", json_array());
        json_object_set_new(data, "attachments", json_array());
        d = ledger_data_canonical(data);
    }
    ev->data = d;
    rc = ledger_append_in_tx(s, ev, out_id, err);
    free(d);
    ev->data = NULL;
    return rc;
}

static void
notify(struct ledger *l, struct ledger_event *ev, int64_t id)
{
    struct ledger_committed c = {id, ev};

    if (l && id > 0)
        ledger_notify(l, &c, 1);
}

/*
 * The other people a customer's message went to (To and Cc without the sender and without
 * this mailbox), as JSON text for mail_messages.cc; NULL if nobody. Caller frees.
 */
static char *
others_json(const struct mail_parsed *m, const struct mail_mbox *mb)
{
    json_t *a = json_array();
    size_t i;
    json_t *v;
    char *out = NULL;

    json_array_foreach(m->to, i, v)
    {
        char addr[CRM_EMAIL_MAX + 1];
        struct smile_err e2;
        bool dup = false;
        size_t k;
        json_t *w;

        smile_err_clear(&e2);
        if (crm_email_normalise(json_string_value(v), addr, &e2) != SMILE_OK)
            continue; /* not an address we could send to */

        if (strcasecmp(addr, m->from_addr) == 0 || strcasecmp(addr, m->reply_to) == 0 ||
            strcasecmp(addr, mb->from_address) == 0 || strcasecmp(addr, mb->username) == 0)
            continue;
        json_array_foreach(a, k, w)
        {
            dup = dup || strcasecmp(json_string_value(w), addr) == 0;
        }
        if (!dup && json_array_size(a) < 20)
            json_array_append_new(a, json_string(addr));
    }
    if (json_array_size(a) > 0)
        out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return out;
}

/* Importing -------------------------------------------------------------------------------------
 */

int
mail_import_message(struct store *s, struct ledger *l, const struct mail_origin *o, const char *raw,
                    size_t len, int64_t now_ms, struct mail_import_result *out,
                    struct smile_err *err)
{
    struct mail_parsed m;
    struct mail_mbox mb;
    struct crm_ctx c = {.db = s, .now_ms = now_ms};
    struct thread t;
    struct ledger_event ev;
    json_t *case_rec = NULL, *body = NULL, *rec = NULL, *data = NULL;
    char msgid[MAIL_MAX_MSGID + 64], source[40], source_id[MAIL_MAX_MSGID + 64], subject[256],
        cust[32], base[256];
    int64_t at = o->received_at > 0 && o->received_at <= now_ms ? o->received_at : now_ms;
    int64_t customer = 0, ids[2], case_id = 0, event_id = 0;
    int n = 0, rc, imported = 1;
    bool known = false, found = false;

    smile_err_clear(err);
    memset(out, 0, sizeof(*out));
    memset(&mb, 0, sizeof(mb));
    memset(&ev, 0, sizeof(ev));
    if ((rc = mail_parse(raw, len, &m, err)) != SMILE_OK) {
        mail_parsed_free(&m);
        err->code = SMILE_EMALFORMED; /* the bytes, not Smile: the poller passes over them */
        return SMILE_EMALFORMED;
    }
    if (m.message_id[0])
        snprintf(msgid, sizeof(msgid), "%s", m.message_id);
    else
        snprintf(msgid, sizeof(msgid), "uid.%" PRId64 ".%" PRId64 ".%" PRId64 "@smile.invalid",
                 o->mailbox_id, o->uidvalidity, o->uid);
    if ((rc = mail_mbox_load(s, o->mailbox_id, &mb, err)) != SMILE_OK)
        goto out;
    if ((rc = store_begin(s, err)) != SMILE_OK)
        goto out;
    if ((rc = message_known(s, msgid, &known, err)) != SMILE_OK)
        goto out;
    /* INTERNALDATE has whole seconds: compare with the second the mailbox was created. */
    if (known || (!mb.import_existing && o->uid > 0 && o->received_at > 0 &&
                  o->received_at < mb.created_at / 1000 * 1000)) {
        out->outcome = known ? MAIL_DUPLICATE : MAIL_SKIPPED;
        if (o->uid > 0)
            rc = mail_mbox_state(s, mb.id, o->uidvalidity, o->uid, 0, err);
        goto commit;
    }
    c.now_ms = at; /* the case and interaction date from our receipt, not from the poll */

    /* Thread: case tag, then In-Reply-To and References (newest first), else new. */
    {
        int64_t tag = mail_subject_tag(m.subject, mb.tag_prefix);

        if (tag > 0) {
            json_t *cs = NULL;
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_record_load(&c, &crm_cases, tag, &cs, &e2) == SMILE_OK) {
                json_decref(cs);
                if ((rc = thread_by_sql(s, sql_thread_of_case, tag, NULL, &t, &found, err)) !=
                    SMILE_OK)
                    goto out;
                if (!found) {
                    if ((rc = thread_create(s, msgid, mb.id, tag, at, &t, err)) != SMILE_OK)
                        goto out;
                    found = true;
                }
            }
        }
    }
    if (!found && m.in_reply_to[0] &&
        (rc = thread_by_sql(s, sql_thread_of_msg, 0, m.in_reply_to, &t, &found, err)) != SMILE_OK)
        goto out;
    for (int i = m.nrefs - 1; !found && i >= 0; i--) {
        if ((rc = thread_by_sql(s, sql_thread_of_msg, 0, m.refs[i], &t, &found, err)) != SMILE_OK)
            goto out;
        if (!found &&
            (rc = thread_by_sql(s, sql_thread_by_root, 0, m.refs[i], &t, &found, err)) != SMILE_OK)
            goto out;
    }
    if (!found && (rc = thread_create(s, msgid, mb.id, 0, at, &t, err)) != SMILE_OK)
        goto out;

    /* The customer, by sender address. */
    if (m.from_addr[0]) {
        struct smile_err e2;

        smile_err_clear(&e2);
        if (crm_customer_find_by_email(s, m.from_addr, ids, 2, &n, &e2) == SMILE_OK && n > 0)
            customer = ids[0];
    }

    if (m.auto_kind[0]) {
        /* Machine-made (auto-reply, bounce, bulk): logged for the customer, but it opens,
         * reopens or resumes no case and starts no reply clock. */
        char *text = cut_dup(m.text, MAIL_MAX_TEXT);

        out->outcome = MAIL_IMPORTED_AUTO;
        case_id = t.case_id;
        body = json_pack("{s:s, s:s, s:s, s:o, s:s}", "kind", "email", "direction", "in", "channel",
                         "email", "occurred_at", rfc3339(at), "subject",
                         m.subject[0] ? m.subject : "(no subject / 无主题)");
        if (text[0])
            json_object_set_new(body, "body", json_string(text));
        free(text);
        if (customer > 0)
            json_object_set_new(body, "customer_id", json_integer(customer));
        rc = crm_record_insert(&c, &crm_interactions, body, false, &out->interaction_id, &rec, err);
        json_decref(body);
        body = NULL;
        json_decref(rec);
        rec = NULL;
        if (rc != SMILE_OK)
            goto out;
    } else {
        /* The case: attach, reopen, resume, or open (a new thread or a closed case's). */
        out->outcome = MAIL_IMPORTED_REPLY;
        if (t.case_id > 0) {
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_record_load(&c, &crm_cases, t.case_id, &case_rec, &e2) != SMILE_OK)
                case_rec = NULL; /* deleted: open a new one */
        }
        if (case_rec) {
            const char *st = json_string_value(json_object_get(case_rec, "status"));
            int status = crm_case_status_parse(st);

            case_id = t.case_id;
            if (status == CRM_CASE_CLOSED) {
                json_decref(case_rec);
                case_rec = NULL;
                out->outcome = MAIL_IMPORTED_FOLLOWUP;
            } else if (status == CRM_CASE_RESOLVED || status == CRM_CASE_PENDING) {
                json_t *patch = json_pack("{s:s}", "status", "open");
                json_t *res = NULL;

                rc = crm_record_apply(&c, &crm_cases, case_id, NULL, patch, false,
                                      status == CRM_CASE_RESOLVED ? "reopen" : "resume", &res, err);
                json_decref(patch);
                json_decref(res);
                if (rc != SMILE_OK)
                    goto out;
            }
        } else if (out->outcome != MAIL_IMPORTED_FOLLOWUP) {
            out->outcome = MAIL_IMPORTED_NEW;
        }
        if (case_rec == NULL) {
            char *desc = cut_dup(m.text, 20000);

            mail_subject_base(m.subject, base, sizeof(base));
            body = json_pack("{s:s, s:s, s:s}", "type", mb.case_type, "subject",
                             base[0] ? base : "(no subject / 无主题)", "channel", "email");
            if (desc[0])
                json_object_set_new(body, "description", json_string(desc));
            free(desc);
            if (customer > 0)
                json_object_set_new(body, "customer_id", json_integer(customer));
            if (mb.team_id > 0) {
                bool live = false;
                struct smile_err e2;

                smile_err_clear(&e2);
                /* A team deleted since the mailbox was set up: the case goes to no team. */
                if (crm_ref_exists(&c, "teams", mb.team_id, &live, &e2) == SMILE_OK && live)
                    json_object_set_new(body, "team_id", json_integer(mb.team_id));
            }
            rc = crm_record_insert(&c, &crm_cases, body, false, &case_id, &rec, err);
            json_decref(body);
            body = NULL;
            json_decref(rec);
            rec = NULL;
            if (rc != SMILE_OK)
                goto out;
            if (out->outcome == MAIL_IMPORTED_FOLLOWUP)
                t.case_id = 0; /* moves to the follow-up below */
        }
        if (t.case_id != case_id && (rc = thread_set_case(s, t.id, case_id, at, err)) != SMILE_OK)
            goto out;
        if (case_rec == NULL) {
            struct smile_err e2;

            smile_err_clear(&e2);
            crm_record_load(&c, &crm_cases, case_id, &case_rec, &e2);
        }
        /* The case's customer is the interaction's; the sender's if the case has none. */
        if (case_rec && json_is_integer(json_object_get(case_rec, "customer_id")))
            customer = json_integer_value(json_object_get(case_rec, "customer_id"));

        /* The inbound interaction: on the case, so it is the customer's reply (case.replied). */
        {
            char *text = cut_dup(m.text, MAIL_MAX_TEXT);

            body = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s}", "kind", "email", "direction", "in",
                             "channel", "email", "case_id", (json_int_t)case_id, "occurred_at",
                             rfc3339(at), "subject",
                             m.subject[0] ? m.subject : "(no subject / 无主题)");
            if (text[0])
                json_object_set_new(body, "body", json_string(text));
            free(text);
            rc = crm_record_insert(&c, &crm_interactions, body, false, &out->interaction_id, &rec,
                                   err);
            json_decref(body);
            body = NULL;
            json_decref(rec);
            rec = NULL;
            if (rc != SMILE_OK)
                goto out;
        }
    }

    /* email.received on the thread: the customer-email process measures from here. */
    mail_thread_subject(t.root, subject, sizeof(subject));
    snprintf(source, sizeof(source), "imap:%" PRId64, mb.id);
    if (m.message_id[0])
        snprintf(source_id, sizeof(source_id), "%s", m.message_id);
    else
        snprintf(source_id, sizeof(source_id), "uid:%" PRId64 ":%" PRId64, o->uidvalidity, o->uid);
    snprintf(cust, sizeof(cust), "%" PRId64, customer);
    data = mail_event_data(&m);
    json_object_set_new(data, "mailbox_id", json_integer(mb.id));
    json_object_set_new(data, "case_id", json_integer(case_id));
    json_object_set_new(data, "interaction_id", json_integer(out->interaction_id));
    json_object_set_new(data, "thread", json_string(t.root));
    if (mb.team_id > 0) {
        char *tn = team_name(s, mb.team_id);

        json_object_set_new(data, "team", tn ? json_string(tn) : json_null());
        free(tn);
    }
    if (n > 1)
        json_object_set_new(data, "customers_matched", json_integer(n));
    ev = (struct ledger_event){
        .type = m.auto_kind[0] ? "custom.email_auto" : "email.received",
        .occurred_at = at,
        .subject = subject,
        .customer = customer > 0 ? cust : NULL,
        .channel = "email",
        .source = source,
        .source_id = source_id,
    };
    if ((rc = append_event(s, &ev, data, &event_id, err)) != SMILE_OK)
        goto out;
    {
        char *cc_text = others_json(&m, &mb);
        struct msg_row r = {
            .message_id = msgid,
            .thread_id = t.id,
            .mailbox_id = mb.id,
            .direction = "in",
            .case_id = case_id,
            .interaction_id = out->interaction_id,
            .event_id = event_id,
            .uidvalidity = o->uidvalidity,
            .uid = o->uid,
            .at = at,
            .from_addr = m.from_addr,
            .reply_to = m.reply_to,
            .subject = m.subject,
            .cc = cc_text,
        };

        rc = message_insert(s, &r, err);
        free(cc_text);
        if (rc != SMILE_OK)
            goto out;
    }
    rc = mail_mbox_state(s, mb.id, o->uidvalidity, o->uid, imported, err);
commit:
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(s))
            store_rollback(s);
        if (err->code == SMILE_OK)
            err->code = rc;
    }
    crm_events_finish(&c, rc == SMILE_OK);
    if (rc == SMILE_OK && event_id > 0) {
        ev.data = "{}"; /* the hooks read type, subject and time */
        notify(l, &ev, event_id);
        out->case_id = case_id;
        out->event_id = event_id;
        out->customer_id = customer;
        snprintf(out->thread, sizeof(out->thread), "%s", subject);
    }
    json_decref(case_rec);
    json_decref(data);
    mail_mbox_free(&mb);
    mail_parsed_free(&m);
    return rc;
}

/* Replying ---------------------------------------------------------------------------------- */

static void
addr_list(const json_t *v, const char *path, json_t *out, struct smile_err *err)
{
    json_t *arr = json_is_string(v) ? json_pack("[O]", v) : json_incref((json_t *)v);
    size_t i;
    json_t *e;

    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 20) {
        smile_err_field(err, path, "must be an address or a list of 1 to 20 addresses");
        json_decref(arr);
        return;
    }
    json_array_foreach(arr, i, e)
    {
        char norm[CRM_EMAIL_MAX + 1], p[80];
        struct smile_err e2;

        smile_err_clear(&e2);
        snprintf(p, sizeof(p), "%s/%zu", path, i);
        if (!json_is_string(e) || crm_email_normalise(json_string_value(e), norm, &e2) != SMILE_OK)
            smile_err_field(err, json_is_array(v) ? p : path, "not an e-mail address");
        else
            json_array_append_new(out, json_string(norm));
    }
    json_decref(arr);
}

/* The only active mailbox that can send, for a case without a thread. */
static int64_t
only_sending_mailbox(struct store *s)
{
    static const char sql[] = "SELECT id FROM mailboxes WHERE deleted_at IS NULL AND smtp_url IS "
                              "NOT NULL ORDER BY id LIMIT 2";
    struct store_stmt *st;
    struct smile_err err;
    int64_t id = 0;
    int n = 0;

    smile_err_clear(&err);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        return 0;
    while (store_stmt_step(st, &err) == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        n++;
    }
    store_stmt_reset(st);
    return n == 1 ? id : 0;
}

/* The thread's ids, oldest first (up to 10 newest), and the last customer address. */
static void
thread_history(struct store *s, int64_t thread_id, json_t *ids, char *last_in, size_t cap,
               json_t **last_cc)
{
    static const char sql[] = "SELECT message_id, direction, COALESCE(reply_to, from_addr) FROM "
                              "mail_messages WHERE thread_id = $1 ORDER BY at DESC, id DESC LIMIT "
                              "10";
    static const char sql_in[] =
        "SELECT COALESCE(reply_to, from_addr), cc FROM mail_messages WHERE "
        "thread_id = $1 AND direction = 'in' AND COALESCE(reply_to, "
        "from_addr) IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1";
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    last_in[0] = '\0';
    if (store_prepare(s, sql, &st, &err) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, thread_id);
        while (store_stmt_step(st, &err) == STORE_ROW)
            json_array_insert_new(ids, 0, json_string(store_stmt_text(st, 0)));
        store_stmt_reset(st);
    }
    if (store_prepare(s, sql_in, &st, &err) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, thread_id);
        if (store_stmt_step(st, &err) == STORE_ROW) {
            snprintf(last_in, cap, "%s", store_stmt_text(st, 0));
            if (store_stmt_text(st, 1))
                *last_cc = json_loads(store_stmt_text(st, 1), 0, NULL);
        }
        store_stmt_reset(st);
    }
}

int
mail_send_text(struct store *s, int64_t mailbox_id, const char *const *to, size_t nto,
               const char *subject, const char *body, char *msgid_out, size_t cap,
               struct smile_err *err)
{
    static const char sql[] = "SELECT id FROM mailboxes WHERE deleted_at IS NULL AND smtp_url IS "
                              "NOT NULL ORDER BY id LIMIT 1";
    struct mail_mbox mb;
    struct buf msg;
    char msgid[160];
    int rc;

    smile_err_clear(err);
    if (mailbox_id == 0) {
        struct store_stmt *st;

        if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
            return rc;
        if (store_stmt_step(st, err) == STORE_ROW)
            mailbox_id = store_stmt_int64(st, 0);
        store_stmt_reset(st);
        if (mailbox_id == 0)
            return smile_err_set(err, SMILE_ENOTFOUND, "no mailbox can send (none has smtp_url)");
    }
    if ((rc = mail_mbox_load(s, mailbox_id, &mb, err)) != SMILE_OK)
        return rc;
    if (mb.smtp_url == NULL) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "mailbox %" PRId64 " has no SMTP server",
                           mailbox_id);
        mail_mbox_free(&mb);
        return rc;
    }
    mail_message_id_new(0, mb.from_address, msgid, sizeof(msgid));
    buf_init(&msg, 0);
    {
        struct mail_compose mc = {
            .from_address = mb.from_address,
            .from_name = mb.from_name,
            .to = to,
            .nto = nto,
            .subject = subject,
            .body = body,
            .message_id = msgid,
            .date_ms = time_now_ms(),
            .auto_submitted = "auto-generated",
        };
        struct mail_smtp smtp = {
            .url = mb.smtp_url,
            .username = mb.smtp_username ? mb.smtp_username : mb.username,
            .password = mb.smtp_username ? mb.smtp_password : mb.password,
        };

        mail_compose_build(&mc, &msg);
        rc = mail_smtp_send(&smtp, mb.from_address, to, nto, msg.data, msg.len, err);
    }
    if (rc == SMILE_OK && msgid_out)
        snprintf(msgid_out, cap, "%s", msgid);
    buf_free(&msg);
    mail_mbox_free(&mb);
    return rc;
}

int
mail_reply(struct crm_ctx *c, struct ledger *l, int64_t case_id, const json_t *in, json_t **out,
           struct smile_err *err)
{
    static const char *const known[] = {"body", "to", "cc", "subject", "mailbox_id", "status"};
    json_t *cs = NULL, *to = json_array(), *cc = json_array(), *ids = json_array();
    json_t *data = NULL, *body = NULL, *rec = NULL, *last_cc = NULL;
    struct mail_mbox mb;
    struct thread t;
    struct ledger_event ev;
    struct buf msg;
    char last_in[CRM_EMAIL_MAX + 1], msgid[160], subject_buf[400], base[256], tag[40],
        thread_subj[256], source[40], cust[32];
    const char *text = NULL, *status = NULL, *subject = NULL, *key;
    int64_t mailbox_id = 0, sent_at = 0, event_id = 0, interaction_id = 0, customer = 0;
    bool have_thread = false;
    json_t *v;
    int rc = SMILE_OK;

    smile_err_clear(err);
    memset(&mb, 0, sizeof(mb));
    memset(&ev, 0, sizeof(ev));
    buf_init(&msg, 0);
    /* The request, all problems at once. */
    json_object_foreach((json_t *)in, key, v)
    {
        bool ok = false;
        char path[96];

        for (size_t i = 0; i < ARRAY_LEN(known); i++)
            ok = ok || strcmp(known[i], key) == 0;
        snprintf(path, sizeof(path), "/%.80s", key);
        if (!ok)
            smile_err_field(err, path, "unknown field of a reply");
    }
    v = json_object_get(in, "body");
    if (!json_is_string(v) || json_string_length(v) == 0)
        smile_err_field(err, "/body", "is required: the text of the reply");
    else if (u8len(json_string_value(v)) > MAIL_MAX_TEXT)
        smile_err_field(err, "/body", "at most %d characters", MAIL_MAX_TEXT);
    else
        text = json_string_value(v);
    if ((v = json_object_get(in, "to")) != NULL)
        addr_list(v, "/to", to, err);
    if ((v = json_object_get(in, "cc")) != NULL)
        addr_list(v, "/cc", cc, err);
    if ((v = json_object_get(in, "subject")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            !one_line_ok(json_string_value(v)) || u8len(json_string_value(v)) > 200)
            smile_err_field(err, "/subject", "one line of 1 to 200 characters");
        else
            subject = json_string_value(v);
    }
    if ((v = json_object_get(in, "mailbox_id")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            smile_err_field(err, "/mailbox_id", "must be a mailbox id");
        else
            mailbox_id = json_integer_value(v);
    }
    if ((v = json_object_get(in, "status")) != NULL) {
        status = json_string_value(v);
        if (!status || (strcmp(status, "pending") != 0 && strcmp(status, "resolved") != 0))
            smile_err_field(err, "/status", "must be \"pending\" or \"resolved\"");
    }
    if (err->code != SMILE_OK) {
        rc = err->code;
        goto out;
    }
    if ((rc = crm_record_load(c, &crm_cases, case_id, &cs, err)) != SMILE_OK)
        goto out;
    if (crm_case_status_parse(json_string_value(json_object_get(cs, "status"))) ==
        CRM_CASE_CLOSED) {
        rc = smile_err_set(err, SMILE_ECONFLICT, "case #%" PRId64 " is closed", case_id);
        goto out;
    }
    if (json_is_integer(json_object_get(cs, "customer_id")))
        customer = json_integer_value(json_object_get(cs, "customer_id"));
    if ((rc = thread_by_sql(c->db, sql_thread_of_case, case_id, NULL, &t, &have_thread, err)) !=
        SMILE_OK)
        goto out;
    if (mailbox_id == 0)
        mailbox_id = have_thread ? t.mailbox_id : only_sending_mailbox(c->db);
    if (mailbox_id == 0) {
        smile_err_field(err, "/mailbox_id",
                        "the case has no e-mail thread: name the mailbox to send from");
        rc = err->code;
        goto out;
    }
    if ((rc = mail_mbox_load(c->db, mailbox_id, &mb, err)) != SMILE_OK) {
        if (rc == SMILE_ENOTFOUND) {
            smile_err_clear(err);
            smile_err_field(err, "/mailbox_id", "no mailbox %" PRId64, mailbox_id);
            rc = err->code;
        }
        goto out;
    }
    if (mb.smtp_url == NULL || !mb.smtp_url[0]) {
        smile_err_field(err, "/mailbox_id", "mailbox \"%s\" has no SMTP server (smtp_url)",
                        mb.name);
        rc = err->code;
        goto out;
    }
    if (have_thread)
        thread_history(c->db, t.id, ids, last_in, sizeof(last_in), &last_cc);
    else
        last_in[0] = '\0';
    /* Neither to nor cc given: reply to all — the customer and the people they copied. */
    if (json_array_size(to) == 0 && json_object_get(in, "cc") == NULL && json_is_array(last_cc)) {
        size_t i;
        json_t *e;

        json_array_foreach(last_cc, i, e)
        {
            if (json_is_string(e) && json_array_size(cc) < 20)
                json_array_append(cc, e);
        }
    }
    if (json_array_size(to) == 0) {
        if (last_in[0]) {
            json_array_append_new(to, json_string(last_in));
        } else if (customer > 0) {
            json_t *cu = NULL;
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_record_load(c, &crm_customers, customer, &cu, &e2) == SMILE_OK &&
                json_is_string(json_array_get(json_object_get(cu, "emails"), 0)))
                json_array_append(to, json_array_get(json_object_get(cu, "emails"), 0));
            json_decref(cu);
        }
    }
    if (json_array_size(to) == 0) {
        smile_err_field(err, "/to",
                        "no address to reply to: the case has no e-mail from the "
                        "customer and the customer no e-mail address");
        rc = err->code;
        goto out;
    }

    /* The message: our id, the thread's ids, the case tag in the subject. */
    mail_message_id_new(case_id, mb.from_address, msgid, sizeof(msgid));
    snprintf(tag, sizeof(tag), "%s%" PRId64 "]", mb.tag_prefix, case_id);
    if (subject == NULL) {
        mail_subject_base(json_string_value(json_object_get(cs, "subject")), base, sizeof(base));
        snprintf(subject_buf, sizeof(subject_buf), "Re: %s", base);
        subject = subject_buf;
    }
    if (mail_subject_tag(subject, mb.tag_prefix) != case_id) {
        struct buf tmp;

        buf_init(&tmp, 0);
        buf_printf(&tmp, "%s %s", subject, tag);
        snprintf(subject_buf, sizeof(subject_buf), "%.*s", (int)sizeof(subject_buf) - 1, tmp.data);
        buf_free(&tmp);
        subject = subject_buf;
    }
    sent_at = time_now_ms();
    {
        const char **tov = xcalloc(json_array_size(to) + 1, sizeof(*tov));
        const char **ccv = xcalloc(json_array_size(cc) + 1, sizeof(*ccv));
        const char **refv = xcalloc(json_array_size(ids) + 1, sizeof(*refv));
        const char **rcpt = xcalloc(json_array_size(to) + json_array_size(cc) + 1, sizeof(*rcpt));
        size_t nr = 0;
        struct mail_smtp smtp = {
            .url = mb.smtp_url,
            .username = mb.smtp_username ? mb.smtp_username : mb.username,
            .password = mb.smtp_username ? mb.smtp_password : mb.password,
        };
        struct mail_compose mc = {
            .from_address = mb.from_address,
            .from_name = mb.from_name,
            .to = tov,
            .nto = json_array_size(to),
            .cc = ccv,
            .ncc = json_array_size(cc),
            .subject = subject,
            .body = text,
            .message_id = msgid,
            .in_reply_to = json_array_size(ids)
                               ? json_string_value(json_array_get(ids, json_array_size(ids) - 1))
                               : NULL,
            .refs = refv,
            .nrefs = json_array_size(ids),
            .date_ms = sent_at,
        };

        for (size_t i = 0; i < json_array_size(to); i++)
            rcpt[nr++] = tov[i] = json_string_value(json_array_get(to, i));
        for (size_t i = 0; i < json_array_size(cc); i++)
            rcpt[nr++] = ccv[i] = json_string_value(json_array_get(cc, i));
        /* References: the root first (RFC 5322 §3.6.4 keeps it), then the newest ones. */
        for (size_t i = 0; i < json_array_size(ids); i++)
            refv[i] = json_string_value(json_array_get(ids, i));
        if (have_thread && json_array_size(ids) > 0 && strcmp(refv[0], t.root) != 0)
            refv[0] = t.root;
        mail_compose_build(&mc, &msg);
        rc = mail_smtp_send(&smtp, mb.from_address, rcpt, nr, msg.data, msg.len, err);
        free(tov);
        free(ccv);
        free(refv);
        free(rcpt);
        if (rc != SMILE_OK)
            goto out; /* nothing was sent, nothing is written */
        sent_at = time_now_ms();
    }

    /* Accepted: record it in one transaction. */
    c->now_ms = sent_at;
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        goto out;
    if (!have_thread) {
        if ((rc = thread_create(c->db, msgid, mb.id, case_id, sent_at, &t, err)) != SMILE_OK)
            goto out;
    }
    body = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:s}", "kind", "email", "direction", "out",
                     "channel", "email", "case_id", (json_int_t)case_id, "occurred_at",
                     rfc3339(sent_at), "subject", subject, "body", text);
    {
        char *cut = cut_dup(subject, 200);

        json_object_set_new(body, "subject", json_string(cut));
        free(cut);
    }
    if ((rc = crm_record_insert(c, &crm_interactions, body, false, &interaction_id, &rec, err)) !=
        SMILE_OK)
        goto out;
    /* Replying moves a new case to open; status asks for pending or resolved too. */
    {
        /* The case as it is now (it may have changed while the mail was sent): a change
         * that is no longer legal is skipped, the reply itself is recorded regardless. */
        json_t *now_rec = NULL;
        struct smile_err e2;
        int cur;
        const char *steps[2] = {NULL, NULL};

        smile_err_clear(&e2);
        if (crm_record_load(c, &crm_cases, case_id, &now_rec, &e2) == SMILE_OK) {
            json_decref(cs);
            cs = now_rec;
        }
        cur = crm_case_status_parse(json_string_value(json_object_get(cs, "status")));
        if (cur == CRM_CASE_NEW)
            steps[0] = "open";
        if (status && strcmp(status, crm_case_status_name(cur)) != 0)
            steps[steps[0] ? 1 : 0] = status;
        for (int i = 0, from = cur; i < 2 && steps[i]; i++) {
            int next = crm_case_status_parse(steps[i]);
            json_t *patch, *res = NULL;

            if (!crm_case_transition_ok(from, next)) {
                log_warn("msg=\"reply recorded without its status change\" case=%" PRId64
                         " from=%s to=%s",
                         case_id, crm_case_status_name(from), steps[i]);
                break;
            }
            from = next;
            patch = json_pack("{s:s}", "status", steps[i]);
            rc = crm_record_apply(c, &crm_cases, case_id, NULL, patch, false,
                                  strcmp(steps[i], "open") == 0 ? "update" : steps[i], &res, err);
            json_decref(patch);
            json_decref(res);
            if (rc != SMILE_OK)
                goto out;
        }
    }
    mail_thread_subject(t.root, thread_subj, sizeof(thread_subj));
    snprintf(source, sizeof(source), "smtp:%" PRId64, mb.id);
    snprintf(cust, sizeof(cust), "%" PRId64, customer);
    data = json_pack("{s:O, s:O, s:s, s:s, s:I, s:I, s:I, s:s}", "to", to, "cc", cc, "subject",
                     subject, "message_id", msgid, "case_id", (json_int_t)case_id, "interaction_id",
                     (json_int_t)interaction_id, "mailbox_id", (json_int_t)mb.id, "thread", t.root);
    if (json_array_size(ids) > 0)
        json_object_set(data, "in_reply_to", json_array_get(ids, json_array_size(ids) - 1));
    ev = (struct ledger_event){
        .type = "email.sent",
        .occurred_at = sent_at,
        .subject = thread_subj,
        .actor = c->actor && c->actor->username[0] ? c->actor->username : NULL,
        .customer = customer > 0 ? cust : NULL,
        .channel = "email",
        .source = source,
        .source_id = msgid,
    };
    if ((rc = append_event(c->db, &ev, data, &event_id, err)) != SMILE_OK)
        goto out;
    {
        struct msg_row r = {
            .message_id = msgid,
            .thread_id = t.id,
            .mailbox_id = mb.id,
            .direction = "out",
            .case_id = case_id,
            .interaction_id = interaction_id,
            .event_id = event_id,
            .at = sent_at,
            .from_addr = mb.from_address,
            .subject = subject,
        };

        if ((rc = message_insert(c->db, &r, err)) != SMILE_OK)
            goto out;
    }
    rc = store_commit(c->db, err);
    if (rc != SMILE_OK)
        log_error("msg=\"reply sent but not recorded\" case=%" PRId64 " message_id=\"%s\" "
                  "error=\"%s\"",
                  case_id, msgid, err->msg);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
        if (err->code == SMILE_OK)
            err->code = rc;
    }
    crm_events_finish(c, rc == SMILE_OK);
    if (rc == SMILE_OK) {
        json_t *case_now = NULL;
        struct smile_err e2;

        ev.data = "{}";
        notify(l, &ev, event_id);
        smile_err_clear(&e2);
        crm_record_get(c, &crm_cases, case_id, 0, &case_now, &e2);
        *out = json_pack("{s:o, s:s, s:s, s:O, s:O, s:o, s:o, s:I}", "interaction",
                         rec ? json_incref(rec) : json_null(), "message_id", msgid, "thread",
                         thread_subj, "to", to, "cc", cc, "sent_at", rfc3339(sent_at), "case",
                         case_now ? case_now : json_null(), "mailbox_id", (json_int_t)mb.id);
    }
    json_decref(cs);
    json_decref(to);
    json_decref(cc);
    json_decref(ids);
    json_decref(last_cc);
    json_decref(data);
    json_decref(body);
    json_decref(rec);
    buf_free(&msg);
    mail_mbox_free(&mb);
    return rc;
}

/* PIPL erasure (crm_customer_erase_hook_add): the addresses and subjects kept per message
 * for threading are personal data of the customer whose cases and interactions they sit on.
 * Threading keeps working for the Message-ID chain, which identifies no one. */
static int
erase_customer(struct store *s, int64_t customer_id, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE mail_messages SET from_addr = NULL, reply_to = NULL, cc = NULL, subject = NULL "
        "WHERE (case_id IN (SELECT id FROM cases WHERE customer_id = $1) OR interaction_id IN "
        "(SELECT id FROM interactions WHERE customer_id = $1)) AND (from_addr IS NOT NULL OR "
        "reply_to IS NOT NULL OR cc IS NOT NULL OR subject IS NOT NULL)";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, customer_id);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

void
mail_install(void)
{
    crm_customer_erase_hook_add(erase_customer);
}
