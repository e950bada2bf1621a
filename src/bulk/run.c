/*
 * run.c — one bulk import run: bytes in (GB18030 converted by iconv on the way), libcsv
 * splits them into records, map.c turns the header into a column map and every other
 * record into a CRM body, references by natural key are resolved here (customer by phone
 * or e-mail, property by project + building + unit), and crm_record_insert writes each
 * row inside the run's one transaction. At the end the transaction commits only if no
 * row had a problem and the run is not a dry run; the committed run is recorded in the
 * imports table. Also the imports table's readers.
 */
#include "bulk/bulk.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"
#include "http/http.h"
#include "store/store.h"

struct bulk_import {
    struct crm_ctx *c;
    int kind, encoding;
    bool dry_run;
    bool update;     /* create-or-update by natural key */
    json_t *touched; /* update mode: "<id>" → row of the records matched so far */
    int64_t created, updated;
    char *name;
    int64_t started_ms;

    struct csv_parser csv;
    iconv_t cd;
    char pend[8]; /* an incomplete GB18030 sequence carried to the next feed */
    size_t npend;
    bool bom_checked;
    uint64_t offset; /* bytes fed so far (for conversion errors) */

    /* the record being collected */
    char **cells;
    size_t *lens;
    int ncells, capcells;
    bool cell_too_big;

    int record; /* records seen (the header is record 1) */
    bool have_header;
    bool header_bad; /* the header had a problem: rows are not checked */
    struct bulk_header h;

    int64_t rows, valid, problem_rows;
    int64_t first_id, last_id;
    int64_t *row_of; /* row of each id created: row_of[id - first_id] */
    size_t nrow_of, caprow_of;
    json_t *problems;
    int64_t dropped;
    bool failed;    /* the store failed: stop */
    bool input_bad; /* conversion or CSV syntax error: the rest of the input is ignored */
    struct smile_err store_err;
};

static void
add_problem_checked(struct bulk_import *im)
{
    /* Keep the list bounded; count what is dropped. */
    while (json_array_size(im->problems) > BULK_MAX_PROBLEMS) {
        json_array_remove(im->problems, json_array_size(im->problems) - 1);
        im->dropped++;
    }
}

/* Maps a CRM problem pointer ("/phones/0", "/customer_id") back to the row's column. */
static int
column_of(const struct bulk_import *im, const char *path, const json_t *refs, char *name,
          size_t cap, const char **field)
{
    size_t n = 0;
    int col;

    if (path[0] == '/')
        path++;
    while (path[n] && path[n] != '/' && n + 1 < cap) {
        name[n] = path[n];
        n++;
    }
    name[n] = '\0';
    *field = NULL;
    if (strcmp(name, "area_m2") == 0)
        snprintf(name, cap, "area");
    if (strcmp(name, "amount_cents") == 0 && bulk_header_col(&im->h, "amount") >= 0)
        snprintf(name, cap, "amount");
    col = bulk_header_col(&im->h, name);
    if (col < 0 && strcmp(name, "customer_id") == 0) {
        if (json_object_get(refs, "customer_phone"))
            col = bulk_header_col(&im->h, "customer_phone");
        else if (json_object_get(refs, "customer_email"))
            col = bulk_header_col(&im->h, "customer_email");
    }
    if (col < 0 && strcmp(name, "property_id") == 0)
        col = bulk_header_col(&im->h, "property_unit");
    if (col >= 0)
        *field = name;
    return col;
}

static void
crm_problems(struct bulk_import *im, int row, const json_t *refs, const struct smile_err *e)
{
    for (int i = 0; i < e->nfields; i++) {
        const char *field = NULL;
        char name[64];
        int col = column_of(im, e->fields[i].path, refs, name, sizeof(name), &field);
        const char *f = e->fields[i].path[0] == '/' ? e->fields[i].path + 1 : e->fields[i].path;
        char fname[64];

        snprintf(fname, sizeof(fname), "%.*s", (int)strcspn(f, "/"), f);
        bulk_problem_add(im->problems, row, &im->h, col, field ? field : fname, "%s",
                         e->fields[i].msg);
    }
    if (e->nfields == 0)
        bulk_problem_add(im->problems, row, NULL, -1, NULL, "%s",
                         e->msg[0] ? e->msg : smile_result_title(e->code));
}

/* The spreadsheet row of a record created earlier in this run, or 0. */
static int64_t
row_of_id(const struct bulk_import *im, int64_t id)
{
    if (im->first_id == 0 || id < im->first_id || (size_t)(id - im->first_id) >= im->nrow_of)
        return 0;
    return im->row_of[id - im->first_id];
}

static void
remember(struct bulk_import *im, int64_t id, int row)
{
    if (im->first_id == 0)
        im->first_id = id;
    im->last_id = id;
    if (id < im->first_id)
        return;
    while ((size_t)(id - im->first_id) >= im->caprow_of) {
        size_t cap = im->caprow_of ? im->caprow_of * 2 : 1024;

        im->row_of = xrealloc(im->row_of, cap * sizeof(*im->row_of));
        memset(im->row_of + im->caprow_of, 0, (cap - im->caprow_of) * sizeof(*im->row_of));
        im->caprow_of = cap;
    }
    im->row_of[id - im->first_id] = row;
    if ((size_t)(id - im->first_id) >= im->nrow_of)
        im->nrow_of = (size_t)(id - im->first_id) + 1;
}

/* Describes where an existing record came from: "(row 3 of this file)" or "". */
static void
origin(const struct bulk_import *im, int64_t id, char *out, size_t cap)
{
    int64_t r = row_of_id(im, id);

    if (r)
        snprintf(out, cap, " (row %" PRId64 " of this file)", r);
    else
        out[0] = '\0';
}

/* Resolves customer_phone / customer_email into customer_id. */
static int
resolve_customer(struct bulk_import *im, int row, json_t *body, const json_t *refs)
{
    const char *phone = json_string_value(json_object_get(refs, "customer_phone"));
    const char *email = json_string_value(json_object_get(refs, "customer_email"));
    const char *key = phone ? "customer_phone" : "customer_email";
    const char *v = phone ? phone : email;
    int64_t ids[2];
    int n = 0, col = bulk_header_col(&im->h, key);
    struct smile_err e;

    if (v == NULL || json_object_get(body, "customer_id"))
        return 0;
    smile_err_clear(&e);
    if (phone) {
        char norm[CRM_PHONE_MAX + 1];

        if (crm_phone_normalise(phone, norm, &e) != SMILE_OK) {
            bulk_problem_add(im->problems, row, &im->h, col, key, "%s", e.msg);
            return 1;
        }
        smile_err_clear(&e);
        if (crm_customer_find_by_phone(im->c->db, norm, ids, 2, &n, &e) != SMILE_OK) {
            im->failed = true;
            im->store_err = e;
            return 1;
        }
    } else if (crm_customer_find_by_email(im->c->db, email, ids, 2, &n, &e) != SMILE_OK) {
        im->failed = true;
        im->store_err = e;
        return 1;
    }
    if (n == 0) {
        bulk_problem_add(im->problems, row, &im->h, col, key, "no customer has %s %s",
                         phone ? "phone" : "e-mail", v);
        return 1;
    }
    if (n > 1) {
        bulk_problem_add(im->problems, row, &im->h, col, key,
                         "%s %s belongs to more than one customer (#%" PRId64 ", #%" PRId64
                         "); give customer_id",
                         phone ? "phone" : "e-mail", v, ids[0], ids[1]);
        return 1;
    }
    json_object_set_new(body, "customer_id", json_integer(ids[0]));
    return 0;
}

/* Resolves property_project + property_building + property_unit into property_id. */
static int
resolve_property(struct bulk_import *im, int row, json_t *body, const json_t *refs)
{
    const char *p = json_string_value(json_object_get(refs, "property_project"));
    const char *b = json_string_value(json_object_get(refs, "property_building"));
    const char *u = json_string_value(json_object_get(refs, "property_unit"));
    int col = bulk_header_col(&im->h, "property_unit");
    int64_t ids[2];
    int n = 0;
    struct smile_err e;

    if (p == NULL && b == NULL && u == NULL)
        return 0;
    if (json_object_get(body, "property_id")) {
        bulk_problem_add(im->problems, row, &im->h, bulk_header_col(&im->h, "property_id"),
                         "property_id", "give property_id or project/building/unit, not both");
        return 1;
    }
    if (p == NULL) {
        bulk_problem_add(im->problems, row, &im->h, bulk_header_col(&im->h, "property_project"),
                         "property_project", "a property is named by its project too");
        return 1;
    }
    smile_err_clear(&e);
    if (crm_property_find_by_unit(im->c->db, p, b, u, ids, 2, &n, &e) != SMILE_OK) {
        im->failed = true;
        im->store_err = e;
        return 1;
    }
    if (col < 0)
        col = bulk_header_col(&im->h, "property_project");
    if (n != 1) {
        bulk_problem_add(im->problems, row, &im->h, col, "property_unit",
                         n == 0 ? "no property %s / %s / %s"
                                : "%s / %s / %s names more than one property",
                         p, b ? b : "-", u ? u : "-");
        return 1;
    }
    json_object_set_new(body, "property_id", json_integer(ids[0]));
    return 0;
}

/* A customer's phones are its natural key: one customer per phone number. */
static int
check_customer_phones(struct bulk_import *im, int row, const json_t *body)
{
    const json_t *arr = json_object_get(body, "phones");
    int col = bulk_header_col(&im->h, "phones"), bad = 0;
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        char norm[CRM_PHONE_MAX + 1], from[64];
        int64_t ids[1];
        int n = 0;
        struct smile_err e;

        smile_err_clear(&e);
        if (crm_phone_normalise(json_string_value(v), norm, &e) != SMILE_OK)
            continue; /* the CRM reports it with its own wording */
        for (size_t j = 0; j < i; j++) {
            char other[CRM_PHONE_MAX + 1];
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_phone_normalise(json_string_value(json_array_get(arr, j)), other, &e2) ==
                    SMILE_OK &&
                strcmp(other, norm) == 0)
                goto next; /* the same number twice in one row: the CRM keeps one */
        }
        if (crm_customer_find_by_phone(im->c->db, norm, ids, 1, &n, &e) != SMILE_OK) {
            im->failed = true;
            im->store_err = e;
            return 1;
        }
        if (n) {
            origin(im, ids[0], from, sizeof(from));
            bulk_problem_add(im->problems, row, &im->h, col, "phones",
                             "duplicate: phone %s already belongs to customer #%" PRId64 "%s", norm,
                             ids[0], from);
            bad++;
        }
    next:;
    }
    return bad;
}

/*
 * Update mode: the live record this row's natural key names, *id = 0 if none. Adds a
 * problem (returns 1) for phones of two customers or a record an earlier row matched.
 */
static int
find_existing(struct bulk_import *im, int row, const json_t *body, int64_t *id)
{
    struct smile_err e;
    int col = -1;
    const char *field = NULL;
    char key[32];
    const json_t *seen;

    *id = 0;
    smile_err_clear(&e);
    if (im->kind == BULK_CUSTOMERS) {
        const json_t *arr = json_object_get(body, "phones");
        size_t i;
        json_t *v;

        col = bulk_header_col(&im->h, "phones");
        field = "phones";
        json_array_foreach(arr, i, v)
        {
            char norm[CRM_PHONE_MAX + 1];
            int64_t ids[2];
            int n = 0;
            struct smile_err e2;

            smile_err_clear(&e2);
            if (crm_phone_normalise(json_string_value(v), norm, &e2) != SMILE_OK)
                continue; /* the CRM reports it */
            if (crm_customer_find_by_phone(im->c->db, norm, ids, 2, &n, &e) != SMILE_OK)
                goto fail;
            for (int k = 0; k < n; k++) {
                if (*id && *id != ids[k]) {
                    bulk_problem_add(im->problems, row, &im->h, col, field,
                                     "the phones belong to different customers (#%" PRId64
                                     " and #%" PRId64 "); give one customer's numbers",
                                     *id, ids[k]);
                    return 1;
                }
                *id = ids[k];
            }
        }
    } else if (im->kind == BULK_PROPERTIES) {
        const char *p = json_string_value(json_object_get(body, "project"));
        int64_t ids[2];
        int n = 0;

        col = bulk_header_col(&im->h, "unit");
        field = "unit";
        if (p == NULL)
            return 0; /* the CRM reports the missing project */
        if (crm_property_find_by_unit(
                im->c->db, p, json_string_value(json_object_get(body, "building")),
                json_string_value(json_object_get(body, "unit")), ids, 2, &n, &e) != SMILE_OK)
            goto fail;
        if (n)
            *id = ids[0];
    } else {
        const char *number = json_string_value(json_object_get(body, "number"));

        col = bulk_header_col(&im->h, "number");
        field = "number";
        if (number && crm_contract_find_by_number(im->c->db, number, id, &e) != SMILE_OK)
            goto fail;
    }
    if (*id == 0)
        return 0;
    snprintf(key, sizeof(key), "%" PRId64, *id);
    seen = json_object_get(im->touched, key);
    if (seen) {
        bulk_problem_add(im->problems, row, &im->h, col, field,
                         "duplicate: row %" PRId64 " of this file already has this %s (#%" PRId64
                         ")",
                         (int64_t)json_integer_value(seen),
                         im->kind == BULK_CUSTOMERS    ? "customer"
                         : im->kind == BULK_PROPERTIES ? "property"
                                                       : "contract",
                         *id);
        return 1;
    }
    return 0;
fail:
    im->failed = true;
    im->store_err = e;
    return 1;
}

static void
one_row(struct bulk_import *im)
{
    int row = im->record;
    json_t *body = NULL, *refs = NULL;
    int bad;

    im->rows++;
    bad = bulk_row_map(&im->h, im->cells, im->lens, im->ncells, row, &body, &refs, im->problems);
    if (im->cell_too_big && bad == 0) {
        bulk_problem_add(im->problems, row, NULL, -1, NULL, "a cell is longer than %d bytes",
                         BULK_MAX_CELL);
        bad++;
    }
    int64_t existing = 0;

    if (bad == 0) {
        if (im->kind != BULK_CUSTOMERS)
            bad += resolve_customer(im, row, body, refs);
        if (im->kind == BULK_CONTRACTS)
            bad += resolve_property(im, row, body, refs);
        if (im->update && bad == 0)
            bad += find_existing(im, row, body, &existing);
        if (im->kind == BULK_CUSTOMERS && existing == 0 && bad == 0)
            bad += check_customer_phones(im, row, body);
    }
    if (bad == 0 && !im->failed) {
        const struct crm_resource *r = im->kind == BULK_CUSTOMERS    ? &crm_customers
                                       : im->kind == BULK_PROPERTIES ? &crm_properties
                                                                     : &crm_contracts;
        struct smile_err e;
        int64_t id = 0;
        int rc;

        if (im->kind == BULK_CUSTOMERS && existing == 0 && json_object_get(body, "kind") == NULL)
            json_object_set_new(body, "kind", json_string("person"));
        smile_err_clear(&e);
        if (existing) {
            json_t *out = NULL;
            char key[32];

            rc = crm_record_apply(im->c, r, existing, NULL, body, false, "update", &out, &e);
            json_decref(out);
            if (rc == SMILE_OK) {
                snprintf(key, sizeof(key), "%" PRId64, existing);
                json_object_set_new(im->touched, key, json_integer(row));
                im->updated++;
            }
        } else {
            rc = crm_record_insert(im->c, r, body, false, &id, NULL, &e);
            if (rc == SMILE_OK) {
                remember(im, id, row);
                if (im->update) {
                    char key[32];

                    snprintf(key, sizeof(key), "%" PRId64, id);
                    json_object_set_new(im->touched, key, json_integer(row));
                }
                im->created++;
            }
        }
        if (rc == SMILE_OK) {
            /* counted above */
        } else if (rc == SMILE_EINVAL || rc == SMILE_ECONFLICT || rc == SMILE_ENOTFOUND ||
                   rc == SMILE_EPRECOND) {
            crm_problems(im, row, refs, &e);
            bad++;
        } else {
            im->failed = true;
            im->store_err = e;
        }
    }
    if (bad == 0 && !im->failed)
        im->valid++;
    else if (bad)
        im->problem_rows++;
    add_problem_checked(im);
    json_decref(body);
    json_decref(refs);
}

/* libcsv callbacks ---------------------------------------------------------------------- */

static void
on_field(void *s, size_t n, void *ud)
{
    struct bulk_import *im = ud;

    if (im->ncells == im->capcells) {
        int cap = im->capcells ? im->capcells * 2 : 16;

        im->cells = xrealloc(im->cells, (size_t)cap * sizeof(*im->cells));
        im->lens = xrealloc(im->lens, (size_t)cap * sizeof(*im->lens));
        for (int i = im->capcells; i < cap; i++)
            im->cells[i] = NULL;
        im->capcells = cap;
    }
    if (n > BULK_MAX_CELL) {
        im->cell_too_big = true;
        n = 0;
    }
    free(im->cells[im->ncells]);
    im->cells[im->ncells] = xstrndup(s ? s : "", s ? n : 0);
    im->lens[im->ncells] = s ? n : 0;
    im->ncells++;
}

static void
on_record(int c, void *ud)
{
    struct bulk_import *im = ud;

    (void)c;
    if (im->failed || im->ncells > 100000) {
        im->ncells = 0;
        return;
    }
    im->record++;
    if (!im->have_header) {
        /* A byte-order mark that came through conversion (GB18030's 84 31 95 33). */
        if (im->ncells && im->lens[0] >= 3 && memcmp(im->cells[0], "\xef\xbb\xbf", 3) == 0) {
            memmove(im->cells[0], im->cells[0] + 3, im->lens[0] - 2);
            im->lens[0] -= 3;
        }
        im->header_bad =
            bulk_header_map(im->kind, im->cells, im->lens, im->ncells, &im->h, im->problems) > 0;
        im->have_header = true;
    } else if (im->header_bad) {
        im->rows++; /* counted, not checked: every row would repeat the header's problem */
    } else {
        one_row(im);
    }
    im->ncells = 0;
    im->cell_too_big = false;
}

static void
csv_feed(struct bulk_import *im, const char *p, size_t n)
{
    size_t done;

    if (im->input_bad || im->failed)
        return;
    done = csv_parse(&im->csv, p, n, on_field, on_record, im);
    if (done != n) {
        bulk_problem_add(im->problems, im->record + 1, NULL, -1, NULL,
                         "malformed CSV: %s (a quote inside a cell must be doubled, and a "
                         "quoted cell must be closed)",
                         csv_strerror(csv_error(&im->csv)));
        im->input_bad = true;
    }
}

/*
 * Converts GB18030 to UTF-8 in pieces of 4 KiB, carrying an incomplete sequence to the
 * next call. GB18030 grows at most 1.5× in UTF-8 (2 bytes → 3), so out never fills.
 */
static void
gb_feed(struct bulk_import *im, const char *p, size_t n)
{
    char out[16384];

    while (n && !im->input_bad && !im->failed) {
        char in[sizeof(im->pend) + 4096];
        size_t take = n < 4096 ? n : 4096, inlen, left, outleft = sizeof(out);
        char *ip = in, *op = out;
        size_t r;

        memcpy(in, im->pend, im->npend);
        memcpy(in + im->npend, p, take);
        inlen = im->npend + take;
        p += take;
        n -= take;
        im->npend = 0;
        left = inlen;
        r = iconv(im->cd, &ip, &left, &op, &outleft);
        csv_feed(im, out, (size_t)(op - out));
        if (r == (size_t)-1 && errno == EINVAL && left <= 4) {
            /* an incomplete sequence at the end of this piece */
            memcpy(im->pend, ip, left);
            im->npend = left;
        } else if (r == (size_t)-1) {
            bulk_problem_add(im->problems, im->record + 1, NULL, -1, NULL,
                             "byte %" PRIu64 " is not valid GB18030 (is the file UTF-8? use "
                             "--encoding utf-8)",
                             im->offset + (uint64_t)(ip - in) + 1);
            im->input_bad = true;
            return;
        }
        im->offset += (uint64_t)(inlen - left);
    }
}

int
bulk_import_begin(struct crm_ctx *c, int kind, int encoding, bool dry_run, const char *name,
                  struct bulk_import **out, struct smile_err *err)
{
    struct bulk_import *im;
    int rc;

    smile_err_clear(err);
    if (kind < 0 || kind >= BULK_NKINDS ||
        (encoding != BULK_ENC_UTF8 && encoding != BULK_ENC_GB18030))
        return smile_err_set(err, SMILE_EINTERNAL, "bulk import: bad kind or encoding");
    im = xcalloc(1, sizeof(*im));
    im->c = c;
    im->kind = kind;
    im->encoding = encoding;
    im->dry_run = dry_run;
    im->name = name ? xstrdup(name) : NULL;
    im->started_ms = c->now_ms;
    im->cd = (iconv_t)-1;
    im->problems = json_array();
    im->touched = json_object();
    if (encoding == BULK_ENC_GB18030) {
        im->cd = iconv_open("UTF-8", "GB18030");
        if (im->cd == (iconv_t)-1) {
            bulk_import_free(im);
            return smile_err_set(err, SMILE_EINTERNAL, "iconv cannot convert GB18030: %s",
                                 strerror(errno));
        }
    }
    /* Strict: a stray quote is an error rather than a silently merged cell. */
    csv_init(&im->csv, CSV_STRICT | CSV_STRICT_FINI);
    rc = store_begin(c->db, err);
    if (rc != SMILE_OK) {
        bulk_import_free(im);
        return rc;
    }
    *out = im;
    return SMILE_OK;
}

void
bulk_import_set_update(struct bulk_import *im, bool update)
{
    im->update = update;
}

int
bulk_import_feed(struct bulk_import *im, const void *data, size_t n, struct smile_err *err)
{
    const char *p = data;

    if (!im->bom_checked && im->encoding == BULK_ENC_UTF8) {
        /* Wait for three bytes to decide on a byte-order mark (tiny feeds are rare). */
        if (n >= 3 || n == 0) {
            if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
                p += 3;
                n -= 3;
            }
            im->bom_checked = true;
        } else {
            memcpy(im->pend + im->npend, p, n);
            im->npend += n;
            if (im->npend < 3)
                return im->failed ? (*err = im->store_err, err->code) : SMILE_OK;
            im->bom_checked = true;
            {
                char tmp[8];
                size_t k = im->npend, skip = 0;

                memcpy(tmp, im->pend, k);
                im->npend = 0;
                if (memcmp(tmp, "\xef\xbb\xbf", 3) == 0)
                    skip = 3;
                csv_feed(im, tmp + skip, k - skip);
            }
            return im->failed ? (*err = im->store_err, err->code) : SMILE_OK;
        }
    }
    if (im->encoding == BULK_ENC_GB18030)
        gb_feed(im, p, n);
    else
        csv_feed(im, p, n);
    if (im->failed) {
        *err = im->store_err;
        return err->code ? err->code : SMILE_EDB;
    }
    return SMILE_OK;
}

static int
record_run(struct bulk_import *im, int64_t *out_id, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO imports (kind, file_name, encoding, rows, imported, first_id, last_id, "
        "actor_id, actor, started_at, finished_at, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9, $10, $11, $12) RETURNING id";
    const struct http_auth *a = im->c->actor;
    struct store_stmt *st;
    int rc = store_prepare(im->c->db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, bulk_kind_name(im->kind), -1);
    store_stmt_bind_text(st, 2, im->name, -1);
    store_stmt_bind_text(st, 3, bulk_encoding_name(im->encoding), -1);
    store_stmt_bind_int64(st, 4, im->rows);
    store_stmt_bind_int64(st, 5, im->valid);
    store_stmt_bind_int64(st, 6, im->first_id);
    store_stmt_bind_int64(st, 7, im->last_id);
    if (a && a->user_id)
        store_stmt_bind_int64(st, 8, a->user_id);
    else
        store_stmt_bind_null(st, 8);
    store_stmt_bind_text(st, 9, a && a->user_id ? a->username : "cli", -1);
    store_stmt_bind_int64(st, 10, im->started_ms);
    store_stmt_bind_int64(st, 11, time_now_ms());
    store_stmt_bind_int64(st, 12, im->updated);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        *out_id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_EDB, "insert into imports returned no id");
    }
    store_stmt_reset(st);
    return rc;
}

int
bulk_import_finish(struct bulk_import *im, json_t **report, bool *ok, struct smile_err *err)
{
    int64_t import_id = 0;
    json_t *r;
    int rc = SMILE_OK;

    smile_err_clear(err);
    *ok = false;
    *report = NULL;
    if (im->encoding == BULK_ENC_GB18030 && im->npend && !im->input_bad) {
        bulk_problem_add(im->problems, im->record + 1, NULL, -1, NULL,
                         "the file ends inside a GB18030 character");
        im->input_bad = true;
    }
    if (im->encoding == BULK_ENC_UTF8 && im->npend && !im->input_bad) {
        /* fewer than three bytes in all */
        csv_feed(im, im->pend, im->npend);
        im->npend = 0;
    }
    if (!im->input_bad && !im->failed && csv_fini(&im->csv, on_field, on_record, im) != 0) {
        bulk_problem_add(im->problems, im->record + 1, NULL, -1, NULL,
                         "malformed CSV: the file ends inside a quoted cell");
        im->input_bad = true;
    }
    if (im->failed) {
        *err = im->store_err;
        if (err->code == SMILE_OK)
            err->code = SMILE_EDB;
        return err->code;
    }
    if (im->input_bad)
        ; /* the syntax problem says it all */
    else if (!im->have_header)
        bulk_problem_add(im->problems, 1, NULL, -1, NULL, "the file is empty: no header row");
    else if (im->rows == 0)
        bulk_problem_add(im->problems, 2, NULL, -1, NULL, "the file has a header but no rows");
    add_problem_checked(im);
    *ok = json_array_size(im->problems) == 0 && im->dropped == 0;
    if (*ok && !im->dry_run) {
        rc = record_run(im, &import_id, err);
        if (rc == SMILE_OK)
            rc = store_commit(im->c->db, err);
        crm_events_finish(im->c, rc == SMILE_OK);
        if (rc != SMILE_OK) {
            if (store_in_tx(im->c->db))
                store_rollback(im->c->db);
            return rc;
        }
    } else {
        store_rollback(im->c->db);
        crm_events_finish(im->c, false);
    }
    r = json_object();
    json_object_set_new(r, "kind", json_string(bulk_kind_name(im->kind)));
    json_object_set_new(r, "encoding", json_string(bulk_encoding_name(im->encoding)));
    json_object_set_new(r, "rows", json_integer(im->rows));
    json_object_set_new(r, "valid", json_integer(im->valid));
    json_object_set_new(r, "imported", json_integer(*ok && !im->dry_run ? im->valid : 0));
    json_object_set_new(r, "created", json_integer(*ok && !im->dry_run ? im->created : 0));
    json_object_set_new(r, "updated", json_integer(*ok && !im->dry_run ? im->updated : 0));
    json_object_set_new(r, "update", json_boolean(im->update));
    json_object_set_new(r, "dry_run", json_boolean(im->dry_run));
    json_object_set_new(r, "import_id", import_id ? json_integer(import_id) : json_null());
    json_object_set_new(r, "problems", json_incref(im->problems));
    json_object_set_new(r, "problems_dropped", json_integer(im->dropped));
    *report = r;
    return SMILE_OK;
}

void
bulk_import_free(struct bulk_import *im)
{
    if (im == NULL)
        return;
    if (store_in_tx(im->c->db)) {
        store_rollback(im->c->db);
        crm_events_finish(im->c, false);
    }
    csv_free(&im->csv);
    if (im->cd != (iconv_t)-1)
        iconv_close(im->cd);
    for (int i = 0; i < im->capcells; i++)
        free(im->cells[i]);
    free(im->cells);
    free(im->lens);
    free(im->row_of);
    free(im->name);
    json_decref(im->problems);
    json_decref(im->touched);
    free(im);
}

/* The imports table ------------------------------------------------------------------- */

static json_t *
import_row(struct store_stmt *st)
{
    char t1[TIME_RFC3339_LEN + 1], t2[TIME_RFC3339_LEN + 1];
    json_t *o = json_object();

    time_format_rfc3339(store_stmt_int64(st, 10), t1);
    time_format_rfc3339(store_stmt_int64(st, 11), t2);
    json_object_set_new(o, "id", json_integer(store_stmt_int64(st, 0)));
    json_object_set_new(o, "kind", json_string(store_stmt_text(st, 1)));
    json_object_set_new(o, "file_name",
                        store_stmt_is_null(st, 2) ? json_null()
                                                  : json_string(store_stmt_text(st, 2)));
    json_object_set_new(o, "encoding", json_string(store_stmt_text(st, 3)));
    json_object_set_new(o, "rows", json_integer(store_stmt_int64(st, 4)));
    json_object_set_new(o, "imported", json_integer(store_stmt_int64(st, 5)));
    json_object_set_new(o, "updated", json_integer(store_stmt_int64(st, 12)));
    json_object_set_new(o, "first_id", json_integer(store_stmt_int64(st, 6)));
    json_object_set_new(o, "last_id", json_integer(store_stmt_int64(st, 7)));
    json_object_set_new(o, "actor_id",
                        store_stmt_is_null(st, 8) ? json_null()
                                                  : json_integer(store_stmt_int64(st, 8)));
    json_object_set_new(o, "actor", json_string(store_stmt_text(st, 9)));
    json_object_set_new(o, "started_at", json_string(t1));
    json_object_set_new(o, "finished_at", json_string(t2));
    return o;
}

int
bulk_import_list(struct crm_ctx *c, int limit, int64_t before_id, json_t **out,
                 struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, kind, file_name, encoding, rows, imported, first_id, last_id, actor_id, "
        "actor, started_at, finished_at, updated FROM imports WHERE ($1 = 0 OR id < $1) ORDER BY "
        "id "
        "DESC "
        "LIMIT $2";
    struct store_stmt *st;
    json_t *items = json_array();
    int64_t last = 0;
    int rc = store_prepare(c->db, sql, &st, err);

    if (rc != SMILE_OK) {
        json_decref(items);
        return rc;
    }
    store_stmt_bind_int64(st, 1, before_id);
    store_stmt_bind_int64(st, 2, limit + 1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        if ((int)json_array_size(items) == limit) {
            last =
                json_integer_value(json_object_get(json_array_get(items, (size_t)limit - 1), "id"));
            break;
        }
        json_array_append_new(items, import_row(st));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "items", items);
    if (last) {
        char cur[32];

        snprintf(cur, sizeof(cur), "%" PRId64, last);
        json_object_set_new(*out, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(*out, "next_cursor", json_null());
    }
    return SMILE_OK;
}

int
bulk_import_get(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, kind, file_name, encoding, rows, imported, first_id, last_id, actor_id, "
        "actor, started_at, finished_at, updated FROM imports WHERE id = $1";
    struct store_stmt *st;
    int rc = store_prepare(c->db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        *out = import_row(st);
    store_stmt_reset(st);
    if (rc == STORE_DONE)
        return smile_err_set(err, SMILE_ENOTFOUND, "no import #%" PRId64, id);
    return rc == STORE_ROW ? SMILE_OK : rc;
}
