/*
 * staff.c — staff accounts and teams: field validation with JSON Pointers, reads, writes
 * with optimistic versions (If-Match) and an audit row per change in the same
 * transaction. Called by the API handlers (api/users.c, api/teams.c, api/session.c),
 * the command line (cli/user.c) and the sign-in path (http/auth.c reads credentials).
 */
#include "crm/staff.h"

#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "store/store.h"

#define USER_COLS                                                                                  \
    "u.id, u.username, u.display_name, u.role, u.team_id, t.name, u.email, u.locale, "             \
    "u.disabled, u.version, u.created_at, u.updated_at FROM users u LEFT JOIN teams t ON t.id "    \
    "= u.team_id "
#define TEAM_COLS                                                                                  \
    "id, name, display_name, supervisor_id, version, created_at, updated_at FROM teams "

bool
staff_name_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n]; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= STAFF_NAME_MAX;
}

bool
staff_role_valid(const char *s)
{
    return s &&
           (strcmp(s, "agent") == 0 || strcmp(s, "supervisor") == 0 || strcmp(s, "admin") == 0);
}

bool
staff_locale_valid(const char *s)
{
    return s && (strcmp(s, "en") == 0 || strcmp(s, "zh-CN") == 0);
}

/* Copies at most cap-1 bytes of src (NULL = "") and terminates. */
static void
copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Opens a transaction unless the caller already has one. */
static int
tx_begin(struct store *db, bool *own, struct smile_err *err)
{
    *own = !store_in_tx(db);
    return *own ? store_begin(db, err) : SMILE_OK;
}

/* Commits or rolls back our own transaction; a caller's is left to the caller. */
static int
tx_end(struct store *db, bool own, int rc, struct smile_err *err)
{
    if (!own)
        return rc;
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

/*
 * What users and teams share: a record kind (its audit entity, row reader, JSON form,
 * validation and UPDATE), read one row, read a page of rows, and an update with an
 * expected version, a no-op when nothing changes, and its audit row.
 */
struct kind {
    const char *name; /* the audit entity and the subject of messages: "user", "team" */
    size_t size;      /* sizeof the record struct */
    void (*from_row)(struct store_stmt *st, void *rec);
    json_t *(*to_json)(const void *rec);
    int (*get)(struct store *db, int64_t id, void *rec, struct smile_err *err);
    /* Validates the fields of in and applies them to rec; every bad field is reported. */
    int (*apply)(struct store *db, const json_t *in, bool create, void *rec, struct smile_err *err);
    /* Writes rec over row id where it is still at version (store_changes tells if it was). */
    int (*write)(struct store *db, int64_t id, int64_t version, const void *rec,
                 struct smile_err *err);
    int64_t (*version)(const void *rec);
    /* The audit action of an update (NULL: "update"). */
    const char *(*update_action)(const void *before, const void *after);
};

/* Steps a prepared one-row query into rec; ENOTFOUND "no such <kind>"; resets. */
static int
fetch(const struct kind *k, struct store_stmt *st, void *rec, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);

    if (rc == STORE_ROW) {
        k->from_row(st, rec);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no such %s", k->name);
    }
    store_stmt_reset(st);
    return rc;
}

/*
 * Steps a prepared list query bound to fetch limit + 1 rows (id first) into a JSON
 * array: *out_next is the last id returned when more follow, else 0. scratch holds one
 * record. Resets the statement.
 */
static int
page(const struct kind *k, struct store_stmt *st, void *scratch, int limit, json_t **out,
     int64_t *out_next, struct smile_err *err)
{
    json_t *a = json_array();
    int64_t last = 0;
    int rc, n = 0;

    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if (n == limit)
            break;
        k->from_row(st, scratch);
        json_array_append_new(a, k->to_json(scratch));
        last = store_stmt_int64(st, 0);
        n++;
    }
    *out_next = rc == STORE_ROW ? last : 0;
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return SMILE_OK;
}

/* Binds a reference that 0 means "none" as NULL. */
static void
bind_ref(struct store_stmt *st, int i, int64_t id)
{
    if (id)
        store_stmt_bind_int64(st, i, id);
    else
        store_stmt_bind_null(st, i);
}

/*
 * Applies patch to record id at expected_version (0: any) in one transaction: 412 if
 * the version moved, nothing written (and no audit row) if nothing changes, else the
 * row written, read back into out and audited. before and rec are scratch records.
 */
static int
update(const struct kind *k, struct store *db, const struct audit_who *who, int64_t id,
       int64_t expected_version, const json_t *patch, void *before, void *rec, void *out,
       struct smile_err *err)
{
    json_t *jb = NULL, *ja = NULL;
    bool own = false;
    int rc;

    rc = tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = k->get(db, id, before, err);
    if (rc == SMILE_OK && expected_version && k->version(before) != expected_version)
        rc = smile_err_set(
            err, SMILE_EPRECOND, "%s %lld is at version %lld, not %lld: read it again", k->name,
            (long long)id, (long long)k->version(before), (long long)expected_version);
    if (rc == SMILE_OK) {
        memcpy(rec, before, k->size);
        rc = k->apply(db, patch, false, rec, err);
    }
    if (rc == SMILE_OK) {
        jb = k->to_json(before);
        ja = k->to_json(rec);
    }
    if (rc == SMILE_OK && json_equal(jb, ja)) {
        memcpy(out, before, k->size);
    } else if (rc == SMILE_OK) {
        rc = k->write(db, id, k->version(before), rec, err);
        if (rc == SMILE_OK && store_changes(db) != 1)
            rc = smile_err_set(err, SMILE_EPRECOND, "%s %lld changed meanwhile", k->name,
                               (long long)id);
        if (rc == SMILE_OK)
            rc = k->get(db, id, out, err);
        if (rc == SMILE_OK) {
            json_decref(ja);
            ja = k->to_json(out);
            rc = audit_record_who(db, who, k->name, id,
                                  k->update_action ? k->update_action(before, rec) : "update", jb,
                                  ja, err);
        }
    }
    json_decref(jb);
    json_decref(ja);
    return tx_end(db, own, rc, err);
}

/* Audits the creation of record id (out: the record as read back). */
static int
created(const struct kind *k, struct store *db, const struct audit_who *who, int64_t id,
        const void *out, struct smile_err *err)
{
    json_t *after = k->to_json(out);
    int rc = audit_record_who(db, who, k->name, id, "create", NULL, after, err);

    json_decref(after);
    return rc;
}

/* Users ----------------------------------------------------------------------------------- */

static const struct kind user_kind;

static void
user_from_row(struct store_stmt *st, void *rec)
{
    struct staff_user *u = rec;

    memset(u, 0, sizeof(*u));
    u->id = store_stmt_int64(st, 0);
    copy(u->username, sizeof(u->username), store_stmt_text(st, 1));
    copy(u->display_name, sizeof(u->display_name), store_stmt_text(st, 2));
    copy(u->role, sizeof(u->role), store_stmt_text(st, 3));
    u->team_id = store_stmt_is_null(st, 4) ? 0 : store_stmt_int64(st, 4);
    copy(u->team, sizeof(u->team), store_stmt_text(st, 5));
    copy(u->email, sizeof(u->email), store_stmt_text(st, 6));
    copy(u->locale, sizeof(u->locale), store_stmt_text(st, 7));
    u->disabled = store_stmt_int64(st, 8) != 0;
    u->version = store_stmt_int64(st, 9);
    u->created_at = store_stmt_int64(st, 10);
    u->updated_at = store_stmt_int64(st, 11);
}

int
staff_user_get(struct store *db, int64_t id, struct staff_user *out, struct smile_err *err)
{
    static const char sql[] = "SELECT " USER_COLS "WHERE u.id = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    return fetch(&user_kind, st, out, err);
}

int
staff_user_find(struct store *db, const char *username, struct staff_user *out,
                struct smile_err *err)
{
    static const char sql[] = "SELECT " USER_COLS "WHERE u.username = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, username, -1);
    rc = fetch(&user_kind, st, out, err);
    if (rc == SMILE_ENOTFOUND)
        smile_err_set(err, rc, "no user %s", username);
    return rc;
}

int
staff_user_credentials(struct store *db, const char *username, int64_t *out_id, char *hash,
                       bool *out_disabled, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, coalesce(password_hash, ''), disabled FROM users WHERE username = $1";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, username, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out_id = store_stmt_int64(st, 0);
        copy(hash, STAFF_HASH_MAX + 1, store_stmt_text(st, 1));
        *out_disabled = store_stmt_int64(st, 2) != 0;
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no such user");
    }
    store_stmt_reset(st);
    return rc;
}

int
staff_user_count(struct store *db, int64_t *out, struct smile_err *err)
{
    return store_query_int64(db, "SELECT count(*) FROM users", out, err);
}

json_t *
staff_user_json(const struct staff_user *u)
{
    char created[TIME_RFC3339_LEN + 1], updated[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(u->created_at, created);
    time_format_rfc3339(u->updated_at, updated);
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:b, s:I, s:s, s:s}", "id",
                     (json_int_t)u->id, "username", u->username, "display_name", u->display_name,
                     "role", u->role, "team_id",
                     u->team_id ? json_integer(u->team_id) : json_null(), "team",
                     u->team[0] ? json_string(u->team) : json_null(), "email",
                     u->email[0] ? json_string(u->email) : json_null(), "locale", u->locale,
                     "disabled", u->disabled, "version", (json_int_t)u->version, "created_at",
                     created, "updated_at", updated);
}

/* A JSON string without NUL bytes or control characters, at most max bytes. */
static const char *
text_field(const char *key, const json_t *v, size_t max, bool allow_empty, struct smile_err *err)
{
    char path[80];
    const char *s;
    size_t n;

    snprintf(path, sizeof(path), "/%s", key);
    if (!json_is_string(v)) {
        smile_err_field(err, path, "%s must be a string", key);
        return NULL;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (strlen(s) != n) {
        smile_err_field(err, path, "%s must not contain NUL characters", key);
        return NULL;
    }
    if (n > max) {
        smile_err_field(err, path, "%s is longer than %zu bytes", key, max);
        return NULL;
    }
    if (n == 0 && !allow_empty) {
        smile_err_field(err, path, "%s must not be empty", key);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            smile_err_field(err, path, "%s must not contain control characters", key);
            return NULL;
        }
    }
    return s;
}

/* A plausible address: something@something.something, no spaces, one '@'. */
static bool
email_valid(const char *s)
{
    const char *at = strchr(s, '@');

    if (at == NULL || at == s || strchr(at + 1, '@') || strchr(s, ' '))
        return false;
    return strchr(at + 1, '.') != NULL && at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* A positive integer or null; *out 0 for null. */
static bool
id_field(const char *key, const json_t *v, int64_t *out, struct smile_err *err)
{
    char path[80];

    snprintf(path, sizeof(path), "/%s", key);
    if (json_is_null(v)) {
        *out = 0;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        smile_err_field(err, path, "%s must be a positive integer or null", key);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/*
 * Validates the fields of in and applies them to u. create allows username and
 * requires username and role; update allows disabled. Every bad field is reported.
 */
static int
user_apply(struct store *db, const json_t *in, bool create, void *rec, struct smile_err *err)
{
    struct staff_user *u = rec;
    const char *key;
    json_t *v;
    struct smile_err tmp;

    json_object_foreach((json_t *)in, key, v)
    {
        const char *s;

        if (strcmp(key, "username") == 0 && create) {
            s = text_field(key, v, STAFF_NAME_MAX, false, err);
            if (s && !staff_name_valid(s))
                smile_err_field(err, "/username",
                                "username must be 1–64 characters of a-z, 0-9, '.', '_', '-'");
            else if (s)
                copy(u->username, sizeof(u->username), s);
        } else if (strcmp(key, "role") == 0) {
            s = text_field(key, v, 16, false, err);
            if (s && !staff_role_valid(s))
                smile_err_field(err, "/role", "role must be agent, supervisor or admin");
            else if (s)
                copy(u->role, sizeof(u->role), s);
        } else if (strcmp(key, "team_id") == 0) {
            int64_t id;
            struct staff_team t;

            memset(&t, 0, sizeof(t));
            if (!id_field(key, v, &id, err))
                continue;
            smile_err_clear(&tmp);
            if (id && staff_team_get(db, id, &t, &tmp) != SMILE_OK) {
                if (tmp.code != SMILE_ENOTFOUND)
                    return smile_err_set(err, tmp.code, "%s", tmp.msg);
                smile_err_field(err, "/team_id", "no team with id %lld", (long long)id);
                continue;
            }
            u->team_id = id;
            copy(u->team, sizeof(u->team), id ? t.name : "");
        } else if (strcmp(key, "display_name") == 0) {
            s = text_field(key, v, STAFF_DISPLAY_MAX, true, err);
            if (s)
                copy(u->display_name, sizeof(u->display_name), s);
        } else if (strcmp(key, "email") == 0) {
            if (json_is_null(v)) {
                u->email[0] = '\0';
                continue;
            }
            s = text_field(key, v, STAFF_EMAIL_MAX, false, err);
            if (s && !email_valid(s))
                smile_err_field(err, "/email", "email must look like name@example.com");
            else if (s)
                copy(u->email, sizeof(u->email), s);
        } else if (strcmp(key, "locale") == 0) {
            s = text_field(key, v, 8, false, err);
            if (s && !staff_locale_valid(s))
                smile_err_field(err, "/locale", "locale must be en or zh-CN");
            else if (s)
                copy(u->locale, sizeof(u->locale), s);
        } else if (strcmp(key, "disabled") == 0 && !create) {
            if (!json_is_boolean(v))
                smile_err_field(err, "/disabled", "disabled must be true or false");
            else
                u->disabled = json_is_true(v);
        } else {
            char path[160];

            snprintf(path, sizeof(path), "/%s", key);
            smile_err_field(err, path,
                            strcmp(key, "username") == 0 ? "the username cannot be changed"
                                                         : "unknown field");
        }
    }
    if (create && !json_object_get(in, "username"))
        smile_err_field(err, "/username", "username is required");
    if (create && !json_object_get(in, "role"))
        smile_err_field(err, "/role", "role is required");
    return err->code;
}

int
staff_user_create(struct store *db, const struct audit_who *who, const json_t *in,
                  const char *password_hash, struct staff_user *out, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO users (username, display_name, role, team_id, email, locale, "
        "password_hash, disabled, version, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 1, $8, $8)";
    struct staff_user u, tmp;
    struct store_stmt *st;
    bool own = false;
    int rc;

    memset(&u, 0, sizeof(u));
    rc = tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = user_apply(db, in, true, &u, err);
    if (rc == SMILE_OK) {
        struct smile_err e2;
        int r2;

        smile_err_clear(&e2);
        r2 = staff_user_find(db, u.username, &tmp, &e2);
        if (r2 == SMILE_OK)
            rc = smile_err_set(err, SMILE_ECONFLICT, "the username %s is taken", u.username);
        else if (r2 != SMILE_ENOTFOUND)
            rc = smile_err_set(err, r2, "%s", e2.msg);
    }
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        int64_t now = time_now_ms();

        store_stmt_bind_text(st, 1, u.username, -1);
        store_stmt_bind_text(st, 2, u.display_name, -1);
        store_stmt_bind_text(st, 3, u.role, -1);
        bind_ref(st, 4, u.team_id);
        store_stmt_bind_text(st, 5, u.email[0] ? u.email : NULL, -1);
        store_stmt_bind_text(st, 6, u.locale, -1);
        store_stmt_bind_text(st, 7, password_hash, -1);
        store_stmt_bind_int64(st, 8, now);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        if (rc == SMILE_ECONFLICT)
            smile_err_set(err, rc, "the username %s is taken", u.username);
    }
    if (rc == SMILE_OK)
        rc = staff_user_find(db, u.username, out, err);
    if (rc == SMILE_OK)
        rc = created(&user_kind, db, who, out->id, out, err);
    return tx_end(db, own, rc, err);
}

/* Writes the editable columns of a user where it is still at version. */
static int
user_write(struct store *db, int64_t id, int64_t version, const void *rec, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE users SET display_name = $1, role = $2, team_id = $3, email = $4, locale = $5, "
        "disabled = $6, version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9";
    const struct staff_user *u = rec;
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, u->display_name, -1);
    store_stmt_bind_text(st, 2, u->role, -1);
    bind_ref(st, 3, u->team_id);
    store_stmt_bind_text(st, 4, u->email[0] ? u->email : NULL, -1);
    store_stmt_bind_text(st, 5, u->locale, -1);
    store_stmt_bind_int64(st, 6, u->disabled);
    store_stmt_bind_int64(st, 7, time_now_ms());
    store_stmt_bind_int64(st, 8, id);
    store_stmt_bind_int64(st, 9, version);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    return rc;
}

static int64_t
user_version(const void *rec)
{
    return ((const struct staff_user *)rec)->version;
}

/* Disabling is audited as such: it ends the user's sessions. */
static const char *
user_update_action(const void *before, const void *after)
{
    const struct staff_user *b = before, *a = after;

    return a->disabled && !b->disabled ? "disable" : "update";
}

static int
user_get(struct store *db, int64_t id, void *rec, struct smile_err *err)
{
    return staff_user_get(db, id, rec, err);
}

static json_t *
user_json(const void *rec)
{
    return staff_user_json(rec);
}

static const struct kind user_kind = {
    .name = "user",
    .size = sizeof(struct staff_user),
    .from_row = user_from_row,
    .to_json = user_json,
    .get = user_get,
    .apply = user_apply,
    .write = user_write,
    .version = user_version,
    .update_action = user_update_action,
};

int
staff_user_update(struct store *db, const struct audit_who *who, int64_t id,
                  int64_t expected_version, const json_t *patch, struct staff_user *out,
                  struct smile_err *err)
{
    struct staff_user before, u;

    return update(&user_kind, db, who, id, expected_version, patch, &before, &u, out, err);
}

int
staff_user_password_set(struct store *db, const struct audit_who *who, int64_t id,
                        const char *password_hash, struct smile_err *err)
{
    static const char sql[] = "UPDATE users SET password_hash = $1, version = version + 1, "
                              "updated_at = $2 WHERE id = $3";
    struct store_stmt *st;
    struct staff_user u;
    json_t *ja = NULL;
    bool own = false;
    int rc;

    rc = tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = staff_user_get(db, id, &u, err);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, password_hash, -1);
        store_stmt_bind_int64(st, 2, time_now_ms());
        store_stmt_bind_int64(st, 3, id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK)
        rc = staff_user_get(db, id, &u, err);
    if (rc == SMILE_OK) {
        /* The audit row says that the password changed, never what it is. */
        ja = json_pack("{s:I, s:s}", "version", (json_int_t)u.version, "password", "changed");
        rc = audit_record_who(db, who, "user", id, "password", NULL, ja, err);
    }
    json_decref(ja);
    return tx_end(db, own, rc, err);
}

int
staff_user_list(struct store *db, const struct staff_user_filter *f, json_t **out,
                int64_t *out_next, struct smile_err *err)
{
    static const char sql[] = "SELECT " USER_COLS "WHERE u.id > $1 AND ($2 = 0 OR u.team_id = $2) "
                              "AND ($3 IS NULL OR u.role = $3) ORDER BY u.id LIMIT $4";
    struct staff_user u;
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, f->after_id);
    store_stmt_bind_int64(st, 2, f->team_id);
    store_stmt_bind_text(st, 3, f->role, -1);
    store_stmt_bind_int64(st, 4, f->limit + 1);
    return page(&user_kind, st, &u, f->limit, out, out_next, err);
}

/* Teams ----------------------------------------------------------------------------------- */

static const struct kind team_kind;

static void
team_from_row(struct store_stmt *st, void *rec)
{
    struct staff_team *t = rec;

    memset(t, 0, sizeof(*t));
    t->id = store_stmt_int64(st, 0);
    copy(t->name, sizeof(t->name), store_stmt_text(st, 1));
    copy(t->display_name, sizeof(t->display_name), store_stmt_text(st, 2));
    t->supervisor_id = store_stmt_is_null(st, 3) ? 0 : store_stmt_int64(st, 3);
    t->version = store_stmt_int64(st, 4);
    t->created_at = store_stmt_int64(st, 5);
    t->updated_at = store_stmt_int64(st, 6);
}

int
staff_team_get(struct store *db, int64_t id, struct staff_team *out, struct smile_err *err)
{
    static const char sql[] = "SELECT " TEAM_COLS "WHERE id = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    return fetch(&team_kind, st, out, err);
}

int
staff_team_find(struct store *db, const char *name, struct staff_team *out, struct smile_err *err)
{
    static const char sql[] = "SELECT " TEAM_COLS "WHERE name = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, name, -1);
    rc = fetch(&team_kind, st, out, err);
    if (rc == SMILE_ENOTFOUND)
        smile_err_set(err, rc, "no team %s", name);
    return rc;
}

json_t *
staff_team_json(const struct staff_team *t)
{
    char created[TIME_RFC3339_LEN + 1], updated[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(t->created_at, created);
    time_format_rfc3339(t->updated_at, updated);
    return json_pack("{s:I, s:s, s:s, s:o, s:I, s:s, s:s}", "id", (json_int_t)t->id, "name",
                     t->name, "display_name", t->display_name, "supervisor_id",
                     t->supervisor_id ? json_integer(t->supervisor_id) : json_null(), "version",
                     (json_int_t)t->version, "created_at", created, "updated_at", updated);
}

static int
team_apply(struct store *db, const json_t *in, bool create, void *rec, struct smile_err *err)
{
    struct staff_team *t = rec;
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)in, key, v)
    {
        const char *s;

        if (strcmp(key, "name") == 0) {
            s = text_field(key, v, STAFF_NAME_MAX, false, err);
            if (s && !staff_name_valid(s))
                smile_err_field(err, "/name",
                                "name must be 1–64 characters of a-z, 0-9, '.', '_', '-'");
            else if (s)
                copy(t->name, sizeof(t->name), s);
        } else if (strcmp(key, "display_name") == 0) {
            s = text_field(key, v, STAFF_DISPLAY_MAX, true, err);
            if (s)
                copy(t->display_name, sizeof(t->display_name), s);
        } else if (strcmp(key, "supervisor_id") == 0) {
            int64_t id;
            struct staff_user u;
            struct smile_err tmp;

            memset(&u, 0, sizeof(u));
            if (!id_field(key, v, &id, err))
                continue;
            smile_err_clear(&tmp);
            if (id && staff_user_get(db, id, &u, &tmp) != SMILE_OK) {
                if (tmp.code != SMILE_ENOTFOUND)
                    return smile_err_set(err, tmp.code, "%s", tmp.msg);
                smile_err_field(err, "/supervisor_id", "no user with id %lld", (long long)id);
                continue;
            }
            if (id && strcmp(u.role, "agent") == 0) {
                smile_err_field(err, "/supervisor_id",
                                "user %s is an agent; a supervisor must be a supervisor or "
                                "admin",
                                u.username);
                continue;
            }
            t->supervisor_id = id;
        } else {
            char path[160];

            snprintf(path, sizeof(path), "/%s", key);
            smile_err_field(err, path, "unknown field");
        }
    }
    if (create && !json_object_get(in, "name"))
        smile_err_field(err, "/name", "name is required");
    return err->code;
}

int
staff_team_create(struct store *db, const struct audit_who *who, const json_t *in,
                  struct staff_team *out, struct smile_err *err)
{
    static const char sql[] = "INSERT INTO teams (name, display_name, supervisor_id, version, "
                              "created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)";
    struct staff_team t;
    struct store_stmt *st;
    bool own = false;
    int rc;

    memset(&t, 0, sizeof(t));
    rc = tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = team_apply(db, in, true, &t, err);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, t.name, -1);
        store_stmt_bind_text(st, 2, t.display_name, -1);
        bind_ref(st, 3, t.supervisor_id);
        store_stmt_bind_int64(st, 4, time_now_ms());
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        if (rc == SMILE_ECONFLICT)
            smile_err_set(err, rc, "the team name %s is taken", t.name);
    }
    if (rc == SMILE_OK)
        rc = staff_team_find(db, t.name, out, err);
    if (rc == SMILE_OK)
        rc = created(&team_kind, db, who, out->id, out, err);
    return tx_end(db, own, rc, err);
}

/* Writes the columns of a team where it is still at version. */
static int
team_write(struct store *db, int64_t id, int64_t version, const void *rec, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE teams SET name = $1, display_name = $2, supervisor_id = $3, "
        "version = version + 1, updated_at = $4 WHERE id = $5 AND version = $6";
    const struct staff_team *t = rec;
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, t->name, -1);
    store_stmt_bind_text(st, 2, t->display_name, -1);
    bind_ref(st, 3, t->supervisor_id);
    store_stmt_bind_int64(st, 4, time_now_ms());
    store_stmt_bind_int64(st, 5, id);
    store_stmt_bind_int64(st, 6, version);
    rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
    store_stmt_reset(st);
    if (rc == SMILE_ECONFLICT)
        smile_err_set(err, rc, "the team name %s is taken", t->name);
    return rc;
}

static int64_t
team_version(const void *rec)
{
    return ((const struct staff_team *)rec)->version;
}

static int
team_get(struct store *db, int64_t id, void *rec, struct smile_err *err)
{
    return staff_team_get(db, id, rec, err);
}

static json_t *
team_json(const void *rec)
{
    return staff_team_json(rec);
}

static const struct kind team_kind = {
    .name = "team",
    .size = sizeof(struct staff_team),
    .from_row = team_from_row,
    .to_json = team_json,
    .get = team_get,
    .apply = team_apply,
    .write = team_write,
    .version = team_version,
};

int
staff_team_update(struct store *db, const struct audit_who *who, int64_t id,
                  int64_t expected_version, const json_t *patch, struct staff_team *out,
                  struct smile_err *err)
{
    struct staff_team before, t;

    return update(&team_kind, db, who, id, expected_version, patch, &before, &t, out, err);
}

int
staff_team_list(struct store *db, int64_t after_id, int limit, json_t **out, int64_t *out_next,
                struct smile_err *err)
{
    static const char sql[] =
        "SELECT " TEAM_COLS "WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2";
    struct staff_team t;
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, after_id);
    store_stmt_bind_int64(st, 2, limit + 1);
    return page(&team_kind, st, &t, limit, out, out_next, err);
}
