/*
 * bulk.h — bulk import of CRM records from CSV files (customers, properties, contracts):
 * the header row is mapped to fields (English names and the usual Chinese headers), each
 * data row to the JSON body the CRM API takes, and every row goes through the CRM's own
 * create (crm_record_insert: the same normalisers, checks, hooks and audit as
 * POST /api/v1/<kind>). A run is one transaction: all rows or none; a dry run validates
 * every row inside the transaction and rolls it back. Input streams through libcsv (and
 * iconv for GB18030), so a file is never held in memory. Sits between the sources (the
 * `smile import` command, POST /api/v1/imports) and crm/. Owner of the imports table.
 *
 * The report (JSON): {"kind", "encoding", "rows" (data rows, header excluded), "valid"
 * (rows without a problem), "imported" (rows written: 0 unless the run committed),
 * "created", "updated" (of imported; updated only in create-or-update mode), "update",
 * "dry_run", "problems": [{"row", "column", "header", "field", "detail"}],
 * "problems_dropped"}. Rows are numbered as a spreadsheet shows them: the header is row 1.
 * Columns are spreadsheet letters ("A", "B" … "AA"); null when a problem has no column.
 */
#ifndef SMILE_BULK_H
#define SMILE_BULK_H

#include <jansson.h>

#include "base/base.h"

struct crm_ctx;

enum bulk_kind { BULK_CUSTOMERS, BULK_PROPERTIES, BULK_CONTRACTS, BULK_NKINDS };
enum bulk_encoding { BULK_ENC_AUTO, BULK_ENC_UTF8, BULK_ENC_GB18030 };

/* Most columns a header may have; most problems a report lists (the rest are counted). */
#define BULK_MAX_COLS 64
#define BULK_MAX_PROBLEMS 1000
/* Longest cell in bytes (after conversion to UTF-8); longer cells are a problem. */
#define BULK_MAX_CELL 16384

/* "customers" … ↔ enum bulk_kind; -1 for an unknown name. */
int bulk_kind_parse(const char *name);
const char *bulk_kind_name(int kind);
/* "auto", "utf-8" (also "utf8"), "gb18030" (also "gbk", "gb2312") ↔ enum; -1 if unknown. */
int bulk_encoding_parse(const char *name);
const char *bulk_encoding_name(int enc);

/* Incremental UTF-8 validation (no overlongs, surrogates or code points past U+10FFFF). */
struct bulk_utf8 {
    unsigned need;        /* continuation bytes still expected */
    unsigned char lo, hi; /* bounds of the next continuation byte */
    bool bad;
};
void bulk_utf8_init(struct bulk_utf8 *u);
void bulk_utf8_feed(struct bulk_utf8 *u, const void *p, size_t n);
/* Whether everything fed so far is valid and complete UTF-8. */
bool bulk_utf8_ok(const struct bulk_utf8 *u);
/* One-shot check of a buffer. */
bool bulk_utf8_valid(const void *p, size_t n);

/* Header mapping (pure) --------------------------------------------------------------- */

struct bulk_header {
    int kind;
    int ncols;
    int col[BULK_MAX_COLS];        /* index into the kind's column table; -1 = unmapped */
    char name[BULK_MAX_COLS][128]; /* the header text as written (truncated) */
};

/*
 * Maps the header cells (UTF-8, n of them) to the kind's fields: names are compared after
 * trimming spaces, case-insensitively for ASCII, with '_', '-' and ' ' alike. Unknown
 * headers, a field named twice (except list fields such as phones, which collect every
 * column) and missing required columns are problems on row 1 (added to problems, a JSON
 * array). Returns the number of problems added.
 */
int bulk_header_map(int kind, char *const *cells, const size_t *lens, int n, struct bulk_header *h,
                    json_t *problems);

/* The column (0-based) mapped to field, or -1. */
int bulk_header_col(const struct bulk_header *h, const char *field);

/*
 * Maps one data row (row = its spreadsheet number) to *body, the JSON object the CRM's
 * create takes, and *refs, natural-key references still to be resolved against the
 * database ({"customer_phone", "customer_email", "property_project", "property_building",
 * "property_unit"} as present). Values are converted as a spreadsheet writes them: dates
 * 2026-03-05, 2026/3/5, 2026.3.5 or 2026年3月5日; amounts in yuan with optional ¥/￥,
 * thousands separators and 元; areas with an optional ㎡/m2/平方米 suffix; list cells split
 * on ; ； , ， 、 and /; enum values in English or Chinese. A wrong cell count, bad UTF-8
 * and unconvertible values are problems; returns the number added. Caller owns *body and
 * *refs (both set, even with problems).
 */
int bulk_row_map(const struct bulk_header *h, char *const *cells, const size_t *lens, int n,
                 int row, json_t **body, json_t **refs, json_t *problems);

/* Adds one problem {"row", "column", "header", "field", "detail"}; col < 0 = no column. */
void bulk_problem_add(json_t *problems, int row, const struct bulk_header *h, int col,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Writes a template for kind into out: the header row (field names, or with zh the usual
 * Chinese headers after a UTF-8 byte-order mark, which Excel needs), CRLF-terminated.
 * Columns that are alternatives to another (customer_email, property_id, amount_cents)
 * are left out. SMILE_EINVAL for an unknown kind.
 */
int bulk_template(int kind, bool zh, struct buf *out);

/* Writes the spreadsheet letter of a 0-based column ("A", "Z", "AA") into out (8 bytes). */
void bulk_column_letter(int col, char *out);

/* A run --------------------------------------------------------------------------------- */

struct bulk_import;

/*
 * Starts a run on c->db: opens the transaction (BEGIN IMMEDIATE: other writers wait until
 * the run ends). encoding must be UTF-8 or GB18030 (resolve auto first with
 * bulk_utf8_*). name (a file name, may be NULL) is kept in the imports row. *out is freed
 * with bulk_import_free(), which rolls back a run that was not finished.
 */
int bulk_import_begin(struct crm_ctx *c, int kind, int encoding, bool dry_run, const char *name,
                      struct bulk_import **out, struct smile_err *err);
/*
 * Create-or-update: a row whose natural key names a live record (customer: any of its
 * phones; property: project + building + unit; contract: number) updates it with the
 * row's non-empty cells (a list cell replaces the list) instead of being a duplicate,
 * audited as "update"; other rows create. Two rows naming one record, or a row whose
 * phones belong to two customers, are problems. Call before the first feed.
 */
void bulk_import_set_update(struct bulk_import *im, bool update);
/*
 * Feeds the next bytes of the file. Problems go into the report; SMILE_OK unless the
 * store failed (then err says why and the run can only be freed).
 */
int bulk_import_feed(struct bulk_import *im, const void *p, size_t n, struct smile_err *err);
/*
 * Ends the input and the run: commits if it is not a dry run and there was no problem
 * (and at least one data row), else rolls back. *report is the report (caller owns it);
 * *ok is whether the file had no problem. A committed run is recorded in the imports
 * table (its id in "import_id").
 */
int bulk_import_finish(struct bulk_import *im, json_t **report, bool *ok, struct smile_err *err);
void bulk_import_free(struct bulk_import *im);

/*
 * Past runs, newest first ({"items": [...], "next_cursor"}: the decimal id to pass as
 * before_id for the next page), and one run (without the
 * problems of failed runs: only committed runs are recorded). SMILE_ENOTFOUND if absent.
 */
int bulk_import_list(struct crm_ctx *c, int limit, int64_t before_id, json_t **out,
                     struct smile_err *err);
int bulk_import_get(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err);

#endif
