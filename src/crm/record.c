/*
 * record.c — the generic record layer (see record.h): from a resource's field table it
 * builds its SQL once into long-lived strings, validates and normalises input (every bad
 * field reported at once with its JSON Pointer), and runs create / read / update / soft
 * delete / list inside one transaction each, writing the audit row and calling the
 * resource's hooks (side tables, case events) in that same transaction. Sits between the
 * thin api handlers and the store.
 */
#include "crm/record.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "crm/crm.h"
#include "http/http.h"
#include "store/store.h"

#define ARRAY_DEFAULT_ITEMS 50
#define TEXT_DEFAULT_MAX 10000

static pthread_mutex_t sql_lock = PTHREAD_MUTEX_INITIALIZER;

static void mask_in_place(const struct crm_resource *r, json_t *o);

/* Builds the resource's statements once; they live as long as the process. */
static void
sql_build(const struct crm_resource *r)
{
    struct crm_sql *q = r->sql;
    struct buf cols, b;
    int n = r->nfields, k;

    pthread_mutex_lock(&sql_lock);
    if (q->ready) {
        pthread_mutex_unlock(&sql_lock);
        return;
    }
    buf_init(&cols, 0);
    buf_puts(&cols, "id");
    for (int i = 0; i < n; i++)
        buf_printf(&cols, ", %s", r->fields[i].column);
    buf_puts(&cols, ", version, created_at, updated_at");

    buf_init(&b, 0);
    buf_printf(&b, "SELECT %s FROM %s WHERE id = $1 AND deleted_at IS NULL", cols.data, r->table);
    q->select_one = buf_steal(&b);

    buf_printf(&b, "INSERT INTO %s (", r->table);
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s, ", r->fields[i].column);
    buf_puts(&b, "version, created_at, updated_at) VALUES (");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "$%d, ", i + 1);
    buf_printf(&b, "1, $%d, $%d) RETURNING id", n + 1, n + 1);
    q->insert = buf_steal(&b);

    buf_printf(&b, "UPDATE %s SET ", r->table);
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s = $%d, ", r->fields[i].column, i + 1);
    buf_printf(&b,
               "version = version + 1, updated_at = $%d WHERE id = $%d AND version = $%d "
               "AND deleted_at IS NULL",
               n + 1, n + 2, n + 3);
    q->update = buf_steal(&b);

    buf_printf(&b,
               "UPDATE %s SET deleted_at = $1, updated_at = $1, version = version + 1 "
               "WHERE id = $2 AND version = $3 AND deleted_at IS NULL",
               r->table);
    q->del = buf_steal(&b);

    /* $1 cursor (INT64_MAX for the first page: a plain range keeps the rowid seek that
     * "$1 IS NULL OR" would defeat), $2… one per filter, then updated_since, the limit. */
    buf_printf(&b, "SELECT %s FROM %s WHERE id < $1 AND deleted_at IS NULL", cols.data, r->table);
    k = 2;
    q->nfilters = 0;
    for (int i = 0; i < n && q->nfilters < CRM_LIST_MAX_FILTERS; i++) {
        const struct crm_field *f = &r->fields[i];

        if (!(f->flags & CRM_F_FILTER))
            continue;
        if (f->type == CRM_STRARRAY)
            buf_printf(&b, " AND ($%d IS NULL OR %s LIKE $%d ESCAPE '\\')", k, f->column, k);
        else
            buf_printf(&b, " AND ($%d IS NULL OR %s = $%d)", k, f->column, k);
        q->filter_field[q->nfilters++] = i;
        k++;
    }
    buf_printf(&b, " AND ($%d IS NULL OR updated_at >= $%d) ORDER BY id DESC LIMIT $%d", k, k,
               k + 1);
    q->list = buf_steal(&b);
    buf_free(&cols);
    q->ready = true;
    pthread_mutex_unlock(&sql_lock);
}

const struct crm_field *
crm_field_find(const struct crm_resource *r, const char *name)
{
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return &r->fields[i];
    return NULL;
}

/* JSON Pointer of a top-level key (RFC 6901 escapes ~ and /). */
static void
pointer(char *out, size_t cap, const char *key)
{
    size_t j = 0;

    if (cap < 2)
        return;
    out[j++] = '/';
    for (const char *p = key; *p && j + 3 < cap; p++) {
        if (*p == '~' || *p == '/') {
            out[j++] = '~';
            out[j++] = *p == '~' ? '0' : '1';
        } else {
            out[j++] = *p;
        }
    }
    out[j] = '\0';
}

static const char *
ref_sql(const char *ref)
{
    if (strcmp(ref, "customers") == 0)
        return "SELECT 1 FROM customers WHERE id = $1 AND deleted_at IS NULL";
    if (strcmp(ref, "properties") == 0)
        return "SELECT 1 FROM properties WHERE id = $1 AND deleted_at IS NULL";
    if (strcmp(ref, "contracts") == 0)
        return "SELECT 1 FROM contracts WHERE id = $1 AND deleted_at IS NULL";
    if (strcmp(ref, "cases") == 0)
        return "SELECT 1 FROM cases WHERE id = $1 AND deleted_at IS NULL";
    if (strcmp(ref, "teams") == 0)
        return "SELECT 1 FROM teams WHERE id = $1 AND deleted_at IS NULL";
    if (strcmp(ref, "users") == 0)
        return "SELECT 1 FROM users WHERE id = $1 AND disabled = 0";
    return NULL;
}

int
crm_ref_exists(struct crm_ctx *c, const char *ref, int64_t id, bool *out, struct smile_err *err)
{
    const char *sql = ref_sql(ref);
    struct store_stmt *st;
    int rc;

    if (sql == NULL)
        return smile_err_set(err, SMILE_EINTERNAL, "no reference check for %s", ref);
    rc = store_prepare(c->db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    *out = rc == STORE_ROW;
    return SMILE_OK;
}

static const char *
ref_noun(const char *ref)
{
    if (strcmp(ref, "customers") == 0)
        return "customer";
    if (strcmp(ref, "properties") == 0)
        return "property";
    if (strcmp(ref, "contracts") == 0)
        return "contract";
    if (strcmp(ref, "cases") == 0)
        return "case";
    if (strcmp(ref, "teams") == 0)
        return "team";
    return "active user";
}

/* Text content rules shared by plain texts and array elements. */
static bool
text_ok(const struct crm_field *f, const char *s, const char *path, struct smile_err *err)
{
    int max = f->max_len ? f->max_len : TEXT_DEFAULT_MAX;
    size_t n = crm_utf8_len(s);
    bool blank = true;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            blank = false;
        if ((*p < 0x20 || *p == 0x7f) &&
            ((f->flags & CRM_F_LINE) || !(*p == '\n' || *p == '\r' || *p == '\t'))) {
            smile_err_field(err, path, "control characters are not allowed here");
            return false;
        }
    }
    if (n > (size_t)max) {
        smile_err_field(err, path, "at most %d characters (got %zu)", max, n);
        return false;
    }
    if (blank && ((f->flags & CRM_F_REQUIRED) || f->type == CRM_STRARRAY)) {
        smile_err_field(err, path, "must not be empty");
        return false;
    }
    return true;
}

static bool
run_normalise(const struct crm_field *f, const json_t *v, json_t **out, const char *path,
              struct smile_err *err)
{
    struct smile_err e;

    smile_err_clear(&e);
    if (f->normalise(v, out, path, &e) != SMILE_OK) {
        smile_err_field(err, path, "%s", e.msg);
        return false;
    }
    return true;
}

/*
 * Checks v against f and stores the normalised value under f->name in rec. Problems go
 * to err under path; references are looked up in the database.
 */
static void
check_value(struct crm_ctx *c, const struct crm_field *f, const json_t *v, json_t *rec,
            struct smile_err *err)
{
    char path[128];
    json_t *nv = NULL;

    pointer(path, sizeof(path), f->name);
    if (json_is_null(v)) {
        if (f->flags & CRM_F_REQUIRED)
            smile_err_field(err, path, "is required and cannot be null");
        else
            json_object_set_new(rec, f->name, f->type == CRM_STRARRAY ? json_array() : json_null());
        return;
    }
    switch (f->type) {
    case CRM_TEXT:
        if (!json_is_string(v)) {
            smile_err_field(err, path, "must be a string");
            return;
        }
        if (!text_ok(f, json_string_value(v), path, err))
            return;
        if (f->normalise) {
            if (!run_normalise(f, v, &nv, path, err))
                return;
        } else {
            nv = json_incref((json_t *)v);
        }
        break;
    case CRM_INT:
    case CRM_MONEY:
        if (!json_is_integer(v)) {
            smile_err_field(err, path, "must be an integer");
            return;
        }
        if (f->type == CRM_MONEY &&
            (json_integer_value(v) < 0 || json_integer_value(v) > INT64_C(1000000000000000))) {
            smile_err_field(err, path, "must be a whole number of cents from 0 to 10^15");
            return;
        }
        nv = json_integer(json_integer_value(v));
        break;
    case CRM_REAL:
        if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) >= 1e9) {
            smile_err_field(err, path, "must be a number greater than 0 and below 10^9");
            return;
        }
        nv = json_real(json_number_value(v));
        break;
    case CRM_DATE: {
        int64_t days;

        if (!json_is_string(v) ||
            time_parse_date(json_string_value(v), json_string_length(v), &days) != SMILE_OK) {
            smile_err_field(err, path, "must be a date YYYY-MM-DD");
            return;
        }
        nv = json_incref((json_t *)v);
        break;
    }
    case CRM_TIME: {
        int64_t ms;
        char t[TIME_RFC3339_LEN + 1];

        if (!json_is_string(v) ||
            time_parse_rfc3339(json_string_value(v), json_string_length(v), &ms) != SMILE_OK) {
            smile_err_field(err, path, "must be an RFC 3339 time such as 2026-11-29T09:30:00Z");
            return;
        }
        time_format_rfc3339(ms, t);
        nv = json_string(t);
        break;
    }
    case CRM_ENUM: {
        const char *s = json_string_value(v);
        bool ok = false;

        for (int i = 0; s && f->enums[i]; i++)
            ok = ok || strcmp(s, f->enums[i]) == 0;
        if (!ok) {
            struct buf b;

            buf_init(&b, 160);
            for (int i = 0; f->enums[i]; i++)
                buf_printf(&b, "%s%s", i ? ", " : "", f->enums[i]);
            smile_err_field(err, path, "must be one of: %s", b.data);
            buf_free(&b);
            return;
        }
        nv = json_incref((json_t *)v);
        break;
    }
    case CRM_REF: {
        bool found = false;
        int rc;

        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            smile_err_field(err, path, "must be the positive integer id of a %s", ref_noun(f->ref));
            return;
        }
        rc = crm_ref_exists(c, f->ref, json_integer_value(v), &found, NULL);
        if (rc != SMILE_OK) {
            smile_err_set(err, rc, "checking %s failed", path);
            return;
        }
        if (!found) {
            smile_err_field(err, path, "no %s with id %" PRId64, ref_noun(f->ref),
                            (int64_t)json_integer_value(v));
            return;
        }
        nv = json_integer(json_integer_value(v));
        break;
    }
    case CRM_STRARRAY: {
        size_t i, max = f->max_items ? (size_t)f->max_items : ARRAY_DEFAULT_ITEMS;
        json_t *e;
        bool ok = true;

        if (!json_is_array(v)) {
            smile_err_field(err, path, "must be an array of strings");
            return;
        }
        if (json_array_size(v) > max) {
            smile_err_field(err, path, "at most %zu items", max);
            return;
        }
        nv = json_array();
        json_array_foreach(v, i, e)
        {
            char ipath[160];
            json_t *ne = NULL;
            bool dup = false;

            snprintf(ipath, sizeof(ipath), "%s/%zu", path, i);
            if (!json_is_string(e)) {
                smile_err_field(err, ipath, "must be a string");
                ok = false;
                continue;
            }
            if (!text_ok(f, json_string_value(e), ipath, err)) {
                ok = false;
                continue;
            }
            if (f->normalise) {
                if (!run_normalise(f, e, &ne, ipath, err)) {
                    ok = false;
                    continue;
                }
            } else {
                if (strpbrk(json_string_value(e), "\"\\") != NULL) {
                    smile_err_field(err, ipath, "quotes and backslashes are not allowed here");
                    ok = false;
                    continue;
                }
                ne = json_incref(e);
            }
            /* Duplicates after normalisation are dropped: "138 0013 8000" = "13800138000". */
            for (size_t j = 0; j < json_array_size(nv); j++)
                dup = dup || json_equal(json_array_get(nv, j), ne);
            if (dup)
                json_decref(ne);
            else
                json_array_append_new(nv, ne);
        }
        if (!ok) {
            json_decref(nv);
            return;
        }
        break;
    }
    }
    json_object_set_new(rec, f->name, nv);
}

/*
 * Applies the keys of in to rec: unknown keys and (unless internal) read-only fields are
 * problems; each known key is checked and normalised.
 */
static void
apply_input(struct crm_ctx *c, const struct crm_resource *r, const json_t *in, bool internal,
            json_t *rec, struct smile_err *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)in, key, v)
    {
        const struct crm_field *f = crm_field_find(r, key);
        char path[128];

        pointer(path, sizeof(path), key);
        if (f == NULL) {
            smile_err_field(err, path, "unknown field of a %s", r->name);
            continue;
        }
        if ((f->flags & CRM_F_READONLY) && !internal) {
            smile_err_field(err, path, "is maintained by the server and cannot be set");
            continue;
        }
        check_value(c, f, v, rec, err);
    }
}

static void
check_required(const struct crm_resource *r, const json_t *rec, struct smile_err *err)
{
    for (int i = 0; i < r->nfields; i++) {
        const struct crm_field *f = &r->fields[i];
        json_t *v = json_object_get(rec, f->name);
        char path[128];
        bool reported = false;

        if (!(f->flags & CRM_F_REQUIRED) || (f->flags & CRM_F_READONLY) || (v && !json_is_null(v)))
            continue;
        pointer(path, sizeof(path), f->name);
        for (int k = 0; k < err->nfields; k++)
            reported = reported || strcmp(err->fields[k].path, path) == 0;
        if (!reported)
            smile_err_field(err, path, "is required");
    }
}

/* Binds fields 1…n of rec in field order. */
static void
bind_fields(struct store_stmt *st, const struct crm_resource *r, const json_t *rec)
{
    for (int i = 0; i < r->nfields; i++) {
        const struct crm_field *f = &r->fields[i];
        json_t *v = json_object_get(rec, f->name);
        int idx = i + 1;

        if (f->type == CRM_STRARRAY) {
            char *s = json_dumps(v && json_is_array(v) ? v : json_array(), JSON_COMPACT);

            store_stmt_bind_text(st, idx, s, -1);
            free(s);
            continue;
        }
        if (v == NULL || json_is_null(v)) {
            store_stmt_bind_null(st, idx);
            continue;
        }
        switch (f->type) {
        case CRM_INT:
        case CRM_MONEY:
        case CRM_REF:
            store_stmt_bind_int64(st, idx, json_integer_value(v));
            break;
        case CRM_REAL:
            store_stmt_bind_double(st, idx, json_number_value(v));
            break;
        case CRM_TIME: {
            int64_t ms = 0;

            time_parse_rfc3339(json_string_value(v), json_string_length(v), &ms);
            store_stmt_bind_int64(st, idx, ms);
            break;
        }
        default:
            store_stmt_bind_text(st, idx, json_string_value(v), (int64_t)json_string_length(v));
            break;
        }
    }
}

static json_t *
time_json(int64_t ms)
{
    char t[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(ms, t);
    return json_string(t);
}

/* The current row of st (columns as select_one) in stored form. */
static json_t *
row_json(struct store_stmt *st, const struct crm_resource *r)
{
    json_t *o = json_object();
    int n = r->nfields;

    json_object_set_new(o, "id", json_integer(store_stmt_int64(st, 0)));
    for (int i = 0; i < n; i++) {
        const struct crm_field *f = &r->fields[i];
        int col = i + 1;
        json_t *v;

        if (f->type == CRM_STRARRAY) {
            const char *s = store_stmt_text(st, col);

            v = s ? json_loads(s, 0, NULL) : NULL;
            if (v == NULL || !json_is_array(v)) {
                json_decref(v);
                v = json_array();
            }
        } else if (store_stmt_is_null(st, col)) {
            v = json_null();
        } else {
            switch (f->type) {
            case CRM_INT:
            case CRM_MONEY:
            case CRM_REF:
                v = json_integer(store_stmt_int64(st, col));
                break;
            case CRM_REAL:
                v = json_real(store_stmt_double(st, col));
                break;
            case CRM_TIME:
                v = time_json(store_stmt_int64(st, col));
                break;
            default:
                v = json_string(store_stmt_text(st, col));
                break;
            }
        }
        json_object_set_new(o, f->name, v);
    }
    json_object_set_new(o, "version", json_integer(store_stmt_int64(st, n + 1)));
    json_object_set_new(o, "created_at", time_json(store_stmt_int64(st, n + 2)));
    json_object_set_new(o, "updated_at", time_json(store_stmt_int64(st, n + 3)));
    return o;
}

int
crm_record_load(struct crm_ctx *c, const struct crm_resource *r, int64_t id, json_t **out,
                struct smile_err *err)
{
    struct store_stmt *st;
    int rc;

    sql_build(r);
    rc = store_prepare(c->db, r->sql->select_one, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out = row_json(st, r);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no %s with id %" PRId64, r->name, id);
    }
    store_stmt_reset(st);
    return rc;
}

/* Direct JSON text (the read hot path) --------------------------------------------- */

/* Whether s[0..n) is UTF-8 as jansson accepts it (no overlongs, surrogates, > U+10FFFF). */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xC2 && s[i] <= 0xDF) {
            len = 2;
            cp = s[i] & 0x1F;
        } else if (s[i] >= 0xE0 && s[i] <= 0xEF) {
            len = 3;
            cp = s[i] & 0x0F;
        } else if (s[i] >= 0xF0 && s[i] <= 0xF4) {
            len = 4;
            cp = s[i] & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/*
 * Appends s as a JSON string the way jansson's compact dump writes it (no ASCII or slash
 * escaping: '"', '\\' and control characters only, \u00XX in upper case). False, with
 * nothing appended, when s is not valid UTF-8 (json_string would refuse it).
 */
static bool
put_string(struct buf *b, const char *s)
{
    size_t n = strlen(s);

    if (!utf8_ok((const unsigned char *)s, n))
        return false;
    buf_put_json_string(b, s, n, true);
    return true;
}

/*
 * Whether s is exactly what jansson's compact dump writes for an array of strings without
 * escapes ("[]", "[\"a\",\"b\"]"): such a stored array is copied out as it is.
 */
static bool
plain_string_array(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (*p++ != '[')
        return false;
    if (*p == ']')
        return p[1] == '\0';
    for (;;) {
        const unsigned char *q;

        if (*p++ != '"')
            return false;
        for (q = p; *p && *p != '"'; p++)
            if (*p == '\\' || *p < 0x20)
                return false;
        if (*p != '"' || !utf8_ok(q, (size_t)(p - q)))
            return false;
        p++;
        if (*p == ']')
            return p[1] == '\0';
        if (*p++ != ',')
            return false;
    }
}

/*
 * Appends the current row of st (columns as select_one) as the compact JSON text that
 * http_json_dump(crm_record_render(row_json(st))) would produce, byte for byte: keys in
 * the same order, sensitive values masked unless flags has CRM_REVEAL. False when a value
 * needs the tree path to decide (text that is not UTF-8: the tree drops such a key).
 */
static bool
row_text(struct store_stmt *st, const struct crm_resource *r, unsigned flags, struct buf *b)
{
    int n = r->nfields;
    char t[TIME_RFC3339_LEN + 1];

    buf_puts(b, "{\"id\":");
    buf_put_int64(b, store_stmt_int64(st, 0));
    for (int i = 0; i < n; i++) {
        const struct crm_field *f = &r->fields[i];
        int col = i + 1;

        buf_puts(b, ",\"");
        buf_puts(b, f->name);
        buf_puts(b, "\":");
        if (f->type == CRM_STRARRAY) {
            const char *s = store_stmt_text(st, col);
            json_t *v;

            if (s && plain_string_array(s)) {
                buf_puts(b, s);
                continue;
            }
            v = s ? json_loads(s, 0, NULL) : NULL;
            if (v == NULL || !json_is_array(v)) {
                json_decref(v);
                v = json_array();
            }
            http_json_dump(b, v);
            json_decref(v);
            continue;
        }
        if (store_stmt_is_null(st, col)) {
            buf_puts(b, "null");
            continue;
        }
        switch (f->type) {
        case CRM_INT:
        case CRM_MONEY:
        case CRM_REF:
            buf_put_int64(b, store_stmt_int64(st, col));
            break;
        case CRM_REAL: {
            json_t *v = json_real(store_stmt_double(st, col));

            if (v == NULL)
                return false;
            http_json_dump(b, v);
            json_decref(v);
            break;
        }
        case CRM_TIME:
            time_format_rfc3339(store_stmt_int64(st, col), t);
            buf_putc(b, '"');
            buf_puts(b, t);
            buf_putc(b, '"');
            break;
        default: {
            const char *s = store_stmt_text(st, col);

            if ((f->flags & CRM_F_SENSITIVE) && f->mask && !(flags & CRM_REVEAL)) {
                char m[256];

                if (!utf8_ok((const unsigned char *)s, strlen(s)))
                    return false;
                f->mask(s, m, sizeof(m));
                s = m;
                if (!put_string(b, s))
                    return false;
            } else if (!put_string(b, s)) {
                return false;
            }
            break;
        }
        }
    }
    buf_puts(b, ",\"version\":");
    buf_put_int64(b, store_stmt_int64(st, n + 1));
    time_format_rfc3339(store_stmt_int64(st, n + 2), t);
    buf_puts(b, ",\"created_at\":\"");
    buf_puts(b, t);
    time_format_rfc3339(store_stmt_int64(st, n + 3), t);
    buf_puts(b, "\",\"updated_at\":\"");
    buf_puts(b, t);
    buf_puts(b, "\"}");
    return true;
}

int
crm_record_get_text(struct crm_ctx *c, const struct crm_resource *r, int64_t id, unsigned flags,
                    struct buf *out, int64_t *version, struct smile_err *err)
{
    struct store_stmt *st;
    int rc;

    sql_build(r);
    rc = store_prepare(c->db, r->sql->select_one, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        buf_reset(out);
        *version = store_stmt_int64(st, r->nfields + 1);
        if (!row_text(st, r, flags, out)) {
            json_t *o = row_json(st, r);

            if (!(flags & CRM_REVEAL))
                mask_in_place(r, o);
            buf_reset(out);
            http_json_dump(out, o);
            json_decref(o);
        }
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no %s with id %" PRId64, r->name, id);
    }
    store_stmt_reset(st);
    return rc;
}

/* Replaces sensitive values of o by their masks. */
static void
mask_in_place(const struct crm_resource *r, json_t *o)
{
    for (int i = 0; i < r->nfields; i++) {
        const struct crm_field *f = &r->fields[i];
        json_t *v;
        char m[256];

        if (!(f->flags & CRM_F_SENSITIVE) || f->mask == NULL)
            continue;
        v = json_object_get(o, f->name);
        if (!json_is_string(v))
            continue;
        f->mask(json_string_value(v), m, sizeof(m));
        json_object_set_new(o, f->name, json_string(m));
    }
}

json_t *
crm_record_render(const struct crm_resource *r, const json_t *stored, unsigned flags)
{
    json_t *o = json_deep_copy(stored);

    if (!(flags & CRM_REVEAL))
        mask_in_place(r, o);
    return o;
}

int
crm_audit(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *action,
          const json_t *before, const json_t *after, struct smile_err *err)
{
    int rc = audit_record(c->db, c->actor, r->name, id, action, before, after, c->request_id,
                          c->address, err);

    if (rc != SMILE_OK && err->code == SMILE_OK)
        smile_err_set(err, rc, "could not write the audit trail; nothing was changed");
    return rc;
}

int
crm_if_match(const char *if_match, int64_t version, struct smile_err *err)
{
    char want[32];
    const char *p;
    size_t wn;

    if (if_match == NULL)
        return smile_err_set(err, SMILE_ENEEDMATCH,
                             "send If-Match with the ETag you read to change this record");
    snprintf(want, sizeof(want), "\"%" PRId64 "\"", version);
    wn = strlen(want);
    for (p = if_match; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p == '*')
            return SMILE_OK;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, want, wn) == 0 && (p[wn] == '\0' || p[wn] == ',' || p[wn] == ' '))
            return SMILE_OK;
        while (*p && *p != ',')
            p++;
    }
    return smile_err_set(
        err, SMILE_EPRECOND,
        "the record has changed: its version is now %" PRId64 "; read it again and retry", version);
}

/*
 * The stored form of a row just inserted from rec with this id at now_ms: what
 * crm_record_load would read back, built without the read. Each value goes through the
 * conversion bind_fields applied on the way in and row_json on the way out (no trigger or
 * column default touches a record table's bound columns).
 */
static json_t *
stored_of(const struct crm_resource *r, const json_t *rec, int64_t id, int64_t now_ms)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(id));
    for (int i = 0; i < r->nfields; i++) {
        const struct crm_field *f = &r->fields[i];
        json_t *v = json_object_get(rec, f->name), *nv;

        if (f->type == CRM_STRARRAY) {
            nv = json_is_array(v) ? json_deep_copy(v) : json_array();
        } else if (v == NULL || json_is_null(v)) {
            nv = json_null();
        } else {
            switch (f->type) {
            case CRM_INT:
            case CRM_MONEY:
            case CRM_REF:
                nv = json_integer(json_integer_value(v));
                break;
            case CRM_REAL:
                nv = json_real(json_number_value(v));
                break;
            case CRM_TIME: {
                int64_t ms = 0;

                time_parse_rfc3339(json_string_value(v), json_string_length(v), &ms);
                nv = time_json(ms);
                break;
            }
            default:
                nv = json_is_string(v) ? json_incref(v) : json_null();
                break;
            }
        }
        json_object_set_new(o, f->name, nv);
    }
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "created_at", time_json(now_ms));
    json_object_set_new(o, "updated_at", time_json(now_ms));
    return o;
}

/* The create without its transaction: crm_record_create and crm_record_insert. */
static int
create_in_tx(struct crm_ctx *c, const struct crm_resource *r, const json_t *body, bool internal,
             int64_t *out_id, json_t **out_shown, struct smile_err *err)
{
    json_t *rec = json_object(), *stored = NULL, *shown = NULL;
    struct store_stmt *st = NULL;
    int64_t id = 0;
    int rc = SMILE_OK;

    sql_build(r);
    apply_input(c, r, body, internal, rec, err);
    if (err->code != SMILE_OK && err->code != SMILE_EINVAL) {
        rc = err->code;
        goto out;
    }
    for (int i = 0; i < r->nfields; i++) {
        const struct crm_field *f = &r->fields[i];

        if (json_object_get(rec, f->name) != NULL)
            continue;
        if (f->type == CRM_STRARRAY)
            json_object_set_new(rec, f->name, json_array());
        else if (f->def)
            json_object_set_new(rec, f->name, json_string(f->def));
        else
            json_object_set_new(rec, f->name, json_null());
    }
    check_required(r, rec, err);
    if (err->code != SMILE_OK) {
        rc = err->code;
        goto out;
    }
    if (r->validate && (rc = r->validate(c, NULL, rec, err)) != SMILE_OK)
        goto out;
    rc = store_prepare(c->db, r->sql->insert, &st, err);
    if (rc != SMILE_OK)
        goto out;
    bind_fields(st, r, rec);
    store_stmt_bind_int64(st, r->nfields + 1, c->now_ms);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EDB, "insert into %s returned no id", r->table);
    }
    store_stmt_reset(st);
    if (rc != SMILE_OK)
        goto out;
    /* perf: the stored form is built from what was bound, not read back. */
    stored = stored_of(r, rec, id, c->now_ms);
    if (r->after_write && (rc = r->after_write(c, id, NULL, stored, err)) != SMILE_OK)
        goto out;
    /* The audit's "after" is the response: one rendering serves both. */
    shown = crm_record_render(r, stored, 0);
    rc = crm_audit(c, r, id, "create", NULL, shown, err);
out:
    if (rc != SMILE_OK) {
        if (err->code == SMILE_OK)
            err->code = rc;
        json_decref(shown);
    } else {
        *out_shown = shown;
        *out_id = id;
    }
    json_decref(stored);
    json_decref(rec);
    return rc;
}

int
crm_record_insert(struct crm_ctx *c, const struct crm_resource *r, const json_t *body,
                  bool internal, int64_t *out_id, json_t **out, struct smile_err *err)
{
    json_t *shown = NULL;
    int rc = create_in_tx(c, r, body, internal, out_id, &shown, err);

    if (rc == SMILE_OK && out)
        *out = shown;
    else
        json_decref(shown);
    return rc;
}

int
crm_record_create(struct crm_ctx *c, const struct crm_resource *r, const json_t *body,
                  int64_t *out_id, json_t **out, struct smile_err *err)
{
    json_t *shown = NULL;
    int64_t id = 0;
    int rc;

    smile_err_clear(err);
    rc = store_begin(c->db, err);
    if (rc == SMILE_OK)
        rc = create_in_tx(c, r, body, false, &id, &shown, err);
    if (rc == SMILE_OK)
        rc = store_commit(c->db, err);
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
        if (err->code == SMILE_OK)
            err->code = rc;
    } else {
        *out = shown;
        shown = NULL;
        *out_id = id;
    }
    crm_events_finish(c, rc == SMILE_OK);
    json_decref(shown);
    return rc;
}

int
crm_record_get(struct crm_ctx *c, const struct crm_resource *r, int64_t id, unsigned flags,
               json_t **out, struct smile_err *err)
{
    json_t *stored;
    int rc = crm_record_load(c, r, id, &stored, err);

    if (rc != SMILE_OK)
        return rc;
    *out = crm_record_render(r, stored, flags);
    json_decref(stored);
    return SMILE_OK;
}

/* The changed fields between two stored records, rendered (masked) for the audit. */
static void
audit_diff(const struct crm_resource *r, const json_t *old, const json_t *rec, json_t **before,
           json_t **after)
{
    json_t *ro = crm_record_render(r, old, 0), *rn = crm_record_render(r, rec, 0);

    *before = json_object();
    *after = json_object();
    for (int i = 0; i < r->nfields; i++) {
        const char *k = r->fields[i].name;

        if (json_equal(json_object_get(old, k), json_object_get(rec, k)))
            continue;
        json_object_set(*before, k, json_object_get(ro, k));
        json_object_set(*after, k, json_object_get(rn, k));
    }
    json_decref(ro);
    json_decref(rn);
}

int
crm_record_apply(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *if_match,
                 const json_t *patch, bool internal, const char *action, json_t **out,
                 struct smile_err *err)
{
    json_t *old = NULL, *rec = NULL, *stored = NULL, *before = NULL, *after = NULL;
    struct store_stmt *st = NULL;
    int rc;

    sql_build(r);
    if ((rc = crm_record_load(c, r, id, &old, err)) != SMILE_OK)
        goto out;
    if (if_match &&
        (rc = crm_if_match(if_match, json_integer_value(json_object_get(old, "version")), err)) !=
            SMILE_OK)
        goto out;
    rec = json_deep_copy(old);
    apply_input(c, r, patch, internal, rec, err);
    check_required(r, rec, err);
    if (err->code != SMILE_OK) {
        rc = err->code;
        goto out;
    }
    if (r->validate && (rc = r->validate(c, old, rec, err)) != SMILE_OK)
        goto out;
    audit_diff(r, old, rec, &before, &after);
    if (json_object_size(after) == 0) {
        /* Nothing changes: no write, no new version, no audit row. */
        *out = crm_record_render(r, old, 0);
        goto out;
    }
    rc = store_prepare(c->db, r->sql->update, &st, err);
    if (rc != SMILE_OK)
        goto out;
    bind_fields(st, r, rec);
    store_stmt_bind_int64(st, r->nfields + 1, c->now_ms);
    store_stmt_bind_int64(st, r->nfields + 2, id);
    store_stmt_bind_int64(st, r->nfields + 3, json_integer_value(json_object_get(old, "version")));
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    if (store_changes(c->db) != 1) {
        rc = smile_err_set(err, SMILE_EPRECOND, "the %s changed while it was being updated",
                           r->name);
        goto out;
    }
    if ((rc = crm_record_load(c, r, id, &stored, err)) != SMILE_OK)
        goto out;
    if (r->after_write && (rc = r->after_write(c, id, old, stored, err)) != SMILE_OK)
        goto out;
    if ((rc = crm_audit(c, r, id, action, before, after, err)) != SMILE_OK)
        goto out;
    *out = crm_record_render(r, stored, 0);
    rc = SMILE_OK;
out:
    if (rc != SMILE_OK && err->code == SMILE_OK)
        err->code = rc;
    json_decref(old);
    json_decref(rec);
    json_decref(stored);
    json_decref(before);
    json_decref(after);
    return rc;
}

int
crm_record_update(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *if_match,
                  const json_t *patch, json_t **out, struct smile_err *err)
{
    json_t *res = NULL;
    int rc;

    smile_err_clear(err);
    if (if_match == NULL)
        return crm_if_match(NULL, 0, err);
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        return rc;
    rc = crm_record_apply(c, r, id, if_match, patch, false, "update", &res, err);
    if (rc == SMILE_OK)
        rc = store_commit(c->db, err);
    if (rc != SMILE_OK && store_in_tx(c->db))
        store_rollback(c->db);
    crm_events_finish(c, rc == SMILE_OK);
    if (rc != SMILE_OK) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return SMILE_OK;
}

int
crm_record_delete(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *if_match,
                  struct smile_err *err)
{
    json_t *old = NULL, *shown = NULL;
    struct store_stmt *st;
    int rc;

    smile_err_clear(err);
    sql_build(r);
    if (if_match == NULL)
        return crm_if_match(NULL, 0, err);
    if ((rc = store_begin(c->db, err)) != SMILE_OK)
        return rc;
    if ((rc = crm_record_load(c, r, id, &old, err)) != SMILE_OK)
        goto out;
    if ((rc = crm_if_match(if_match, json_integer_value(json_object_get(old, "version")), err)) !=
        SMILE_OK)
        goto out;
    if ((rc = store_prepare(c->db, r->sql->del, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, c->now_ms);
    store_stmt_bind_int64(st, 2, id);
    store_stmt_bind_int64(st, 3, json_integer_value(json_object_get(old, "version")));
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    if (r->after_write && (rc = r->after_write(c, id, old, NULL, err)) != SMILE_OK)
        goto out;
    shown = crm_record_render(r, old, 0);
    if ((rc = crm_audit(c, r, id, "delete", shown, NULL, err)) != SMILE_OK)
        goto out;
    rc = store_commit(c->db, err);
out:
    if (rc != SMILE_OK) {
        if (store_in_tx(c->db))
            store_rollback(c->db);
        if (err->code == SMILE_OK)
            err->code = rc;
    }
    crm_events_finish(c, rc == SMILE_OK);
    json_decref(old);
    json_decref(shown);
    return rc;
}

/* Every filter name any resource offers: a name valid elsewhere is refused, not ignored. */
static const char *const known_filters[] = {
    "status",  "type",        "kind",        "priority", "direction",
    "channel", "customer_id", "property_id", "case_id",  "assignee_id",
    "team_id", "owner_id",    "actor_id",    "tag",      NULL,
};

int
crm_list_query_parse(const struct crm_resource *r, crm_query_get_fn *get, void *ud,
                     struct crm_list_query *q, struct smile_err *err)
{
    const char *v;

    sql_build(r);
    memset(q, 0, sizeof(*q));
    q->limit = 50;
    if ((v = get(ud, "limit")) != NULL) {
        int64_t n;

        if (str_to_int64(str_from(v), &n) != SMILE_OK || n < 1 || n > 500)
            smile_err_field(err, "/query/limit", "limit must be an integer from 1 to 500");
        else
            q->limit = (int)n;
    }
    if ((v = get(ud, "cursor")) != NULL && !crm_cursor_decode(v, &q->after_id))
        smile_err_field(err, "/query/cursor", "not a cursor returned by this list");
    if ((v = get(ud, "updated_since")) != NULL) {
        if (time_parse_rfc3339(v, strlen(v), &q->updated_since) != SMILE_OK)
            smile_err_field(err, "/query/updated_since", "must be an RFC 3339 time");
        else
            q->has_updated_since = true;
    }
    for (int i = 0; known_filters[i]; i++) {
        bool offered = false;

        for (int k = 0; k < r->sql->nfilters; k++) {
            const struct crm_field *f = &r->fields[r->sql->filter_field[k]];
            const char *qn = f->filter_name ? f->filter_name : f->name;

            offered = offered || strcmp(qn, known_filters[i]) == 0;
        }
        if (!offered && get(ud, known_filters[i]) != NULL) {
            char path[64];

            snprintf(path, sizeof(path), "/query/%s", known_filters[i]);
            smile_err_field(err, path, "%s lists cannot be filtered by %s", r->name,
                            known_filters[i]);
        }
    }
    for (int k = 0; k < r->sql->nfilters; k++) {
        const struct crm_field *f = &r->fields[r->sql->filter_field[k]];
        const char *qn = f->filter_name ? f->filter_name : f->name;
        char path[64];

        snprintf(path, sizeof(path), "/query/%s", qn);
        if ((v = get(ud, qn)) == NULL)
            continue;
        if (f->type == CRM_ENUM) {
            bool ok = false;

            for (int i = 0; f->enums[i]; i++)
                ok = ok || strcmp(v, f->enums[i]) == 0;
            if (!ok) {
                smile_err_field(err, path, "not a %s of a %s", f->name, r->name);
                continue;
            }
        } else if (f->type == CRM_REF || f->type == CRM_INT) {
            int64_t n;

            if (str_to_int64(str_from(v), &n) != SMILE_OK || n <= 0) {
                smile_err_field(err, path, "must be a positive integer id");
                continue;
            }
        } else if (v[0] == '\0' || strpbrk(v, "\"\\") != NULL) {
            smile_err_field(err, path, "must be a non-empty value without quotes");
            continue;
        }
        q->filters[k] = v;
    }
    return err->code;
}

int
crm_record_list(struct crm_ctx *c, const struct crm_resource *r, const struct crm_list_query *q,
                json_t **out, struct smile_err *err)
{
    struct store_stmt *st;
    json_t *items = json_array();
    int rc, k = 2, n = 0;
    int64_t last = 0;
    bool more = false;

    sql_build(r);
    if ((rc = store_prepare(c->db, r->sql->list, &st, err)) != SMILE_OK) {
        json_decref(items);
        return rc;
    }
    store_stmt_bind_int64(st, 1, q->after_id > 0 ? q->after_id : INT64_MAX);
    for (int i = 0; i < r->sql->nfilters; i++, k++) {
        const struct crm_field *f = &r->fields[r->sql->filter_field[i]];
        const char *v = q->filters[i];
        int64_t iv;

        if (v == NULL)
            continue;
        if (f->type == CRM_REF || f->type == CRM_INT) {
            if (str_to_int64(str_from(v), &iv) == SMILE_OK)
                store_stmt_bind_int64(st, k, iv);
        } else if (f->type == CRM_STRARRAY) {
            struct buf pat;

            /* Elements are stored as JSON strings without quotes or backslashes inside,
             * so '"tag"' appears verbatim; LIKE's own wildcards are escaped. */
            buf_init(&pat, 0);
            buf_puts(&pat, "%\"");
            for (const char *p = v; *p; p++) {
                if (*p == '%' || *p == '_' || *p == '\\')
                    buf_putc(&pat, '\\');
                buf_putc(&pat, *p);
            }
            buf_puts(&pat, "\"%");
            store_stmt_bind_text(st, k, pat.data, (int64_t)pat.len);
            buf_free(&pat);
        } else {
            store_stmt_bind_text(st, k, v, -1);
        }
    }
    if (q->has_updated_since)
        store_stmt_bind_int64(st, k, q->updated_since);
    store_stmt_bind_int64(st, k + 1, q->limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        json_t *stored;

        if (n == q->limit) {
            more = true;
            break;
        }
        stored = row_json(st, r);
        last = json_integer_value(json_object_get(stored, "id"));
        mask_in_place(r, stored); /* the row is ours: no copy */
        json_array_append_new(items, stored);
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    {
        char cur[48];

        crm_cursor_encode(last, cur, sizeof(cur));
        *out = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                         more ? json_string(cur) : json_null());
    }
    return SMILE_OK;
}
