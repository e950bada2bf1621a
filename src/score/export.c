/*
 * export.c — evaluations out of Smile: CSV (RFC 4180, one row per evaluation, or one per
 * item with detail) and XLSX through libxlsxwriter (sheet "Evaluations", one row per
 * person, and sheet "Items", one row per person × item, numbers stored as numbers). Used by
 * GET /api/v1/evaluations/export and `smile report scorecard`.
 */
#include "score/score_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

/* Every evaluation matching f, with items, in id order. Caller owns *out. */
static int
collect(struct store *db, const struct score_eval_filter *f, json_t **out, struct smile_err *err)
{
    json_t *all = json_array();
    int64_t after = 0, next = 0;
    int rc;

    do {
        json_t *page = NULL, *e;
        size_t i;

        rc = score_evaluation_list(db, f, after, 500, &page, &next, err);
        if (rc != SMILE_OK)
            break;
        json_array_foreach(page, i, e)
        {
            json_t *full = NULL;
            rc = score_evaluation_get(db, json_integer_value(json_object_get(e, "id")), &full, NULL,
                                      NULL, err);
            if (rc != SMILE_OK)
                break;
            json_array_append_new(all, full);
        }
        json_decref(page);
        after = next;
    } while (rc == SMILE_OK && next);
    if (rc != SMILE_OK) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return SMILE_OK;
}

static void
csv_field(struct buf *b, const char *v, bool last)
{
    if (v && strpbrk(v, ",\"\r\n")) {
        buf_putc(b, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                buf_putc(b, '"');
            buf_putc(b, *p);
        }
        buf_putc(b, '"');
    } else if (v) {
        buf_puts(b, v);
    }
    buf_puts(b, last ? "\r\n" : ",");
}

/* A JSON scalar as CSV text ("" for null). Text that a spreadsheet would take for a
   formula (= + - @ first) gets a leading apostrophe (OWASP CSV injection). */
static void
csv_json(struct buf *b, const json_t *v, bool last)
{
    char n[64];

    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        if (t[0] == '=' || t[0] == '+' || t[0] == '-' || t[0] == '@') {
            struct buf q;
            buf_init(&q, 0);
            buf_putc(&q, '\'');
            buf_puts(&q, t);
            csv_field(b, q.data, last);
            buf_free(&q);
            return;
        }
        csv_field(b, t, last);
        return;
    }
    if (json_is_integer(v))
        snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(n, sizeof(n), "%.10g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(n, sizeof(n), "%s", json_is_true(v) ? "true" : "false");
    else
        n[0] = '\0';
    csv_field(b, n, last);
}

static const char *const eval_head[] = {
    "id",        "period",    "template", "username",    "display_name", "team",
    "role",      "state",     "status",   "score",       "rank_team",    "team_size",
    "rank_role", "role_size", "reason",   "computed_at", "frozen_by"};

static const char *const item_head[] = {
    "evaluation_id", "period",   "template",  "username",  "team",     "n",          "key",
    "label_en",      "label_zh", "indicator", "value",     "count",    "points",     "status",
    "weight",        "floor",    "target",    "direction", "critical", "below_floor"};

/* The cells of one evaluation row, as JSON values in eval_head order (borrowed). */
static void
eval_cells(const json_t *e, const json_t **c)
{
    const json_t *r = json_object_get(e, "rank");

    c[0] = json_object_get(e, "id");
    c[1] = json_object_get(e, "period");
    c[2] = json_object_get(json_object_get(e, "template"), "name");
    c[3] = json_object_get(json_object_get(e, "user"), "username");
    c[4] = json_object_get(json_object_get(e, "user"), "display_name");
    c[5] = json_object_get(e, "team");
    c[6] = json_object_get(e, "role");
    c[7] = json_object_get(e, "state");
    c[8] = json_object_get(e, "status");
    c[9] = json_object_get(e, "score");
    c[10] = json_object_get(r, "team");
    c[11] = json_object_get(r, "team_size");
    c[12] = json_object_get(r, "role");
    c[13] = json_object_get(r, "role_size");
    c[14] = json_object_get(e, "reason");
    c[15] = json_object_get(e, "computed_at");
    c[16] = json_object_get(e, "frozen_by");
}

static void
item_cells(const json_t *e, const json_t *it, const json_t **c)
{
    const json_t *l = json_object_get(it, "label");

    c[0] = json_object_get(e, "id");
    c[1] = json_object_get(e, "period");
    c[2] = json_object_get(json_object_get(e, "template"), "name");
    c[3] = json_object_get(json_object_get(e, "user"), "username");
    c[4] = json_object_get(e, "team");
    c[5] = json_object_get(it, "n");
    c[6] = json_object_get(it, "key");
    c[7] = json_object_get(l, "en");
    c[8] = json_object_get(l, "zh");
    c[9] = json_object_get(it, "indicator");
    c[10] = json_object_get(it, "value");
    c[11] = json_object_get(it, "count");
    c[12] = json_object_get(it, "points");
    c[13] = json_object_get(it, "status");
    c[14] = json_object_get(it, "weight");
    c[15] = json_object_get(it, "floor");
    c[16] = json_object_get(it, "target");
    c[17] = json_object_get(it, "direction");
    c[18] = json_object_get(it, "critical");
    c[19] = json_object_get(it, "below_floor");
}

static void
xlsx_cell(lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, const json_t *v)
{
    if (json_is_string(v))
        worksheet_write_string(ws, r, c, json_string_value(v), NULL);
    else if (json_is_number(v))
        worksheet_write_number(ws, r, c, json_number_value(v), NULL);
    else if (json_is_boolean(v))
        worksheet_write_boolean(ws, r, c, json_is_true(v), NULL);
}

static int
write_xlsx(const json_t *all, struct buf *out, struct smile_err *err)
{
    char path[] = "/tmp/smile-scorecard-XXXXXX";
    const json_t *c[32];
    lxw_workbook *wb;
    lxw_worksheet *ws, *wi;
    lxw_format *bold;
    lxw_row_t ri = 1;
    const json_t *e;
    size_t i;
    FILE *fp;
    int fd = mkstemp(path);

    if (fd < 0)
        return smile_err_set(err, SMILE_EIO, "cannot create a temporary file for the XLSX");
    close(fd);
    wb = workbook_new(path);
    if (wb == NULL) {
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot start the XLSX workbook");
    }
    bold = workbook_add_format(wb);
    format_set_bold(bold);
    ws = workbook_add_worksheet(wb, "Evaluations");
    wi = workbook_add_worksheet(wb, "Items");
    for (size_t k = 0; k < ARRAY_LEN(eval_head); k++)
        worksheet_write_string(ws, 0, (lxw_col_t)k, eval_head[k], bold);
    for (size_t k = 0; k < ARRAY_LEN(item_head); k++)
        worksheet_write_string(wi, 0, (lxw_col_t)k, item_head[k], bold);
    worksheet_freeze_panes(ws, 1, 0);
    worksheet_freeze_panes(wi, 1, 0);
    json_array_foreach(all, i, e)
    {
        const json_t *it;
        size_t j;

        eval_cells(e, c);
        for (size_t k = 0; k < ARRAY_LEN(eval_head); k++)
            xlsx_cell(ws, (lxw_row_t)(i + 1), (lxw_col_t)k, c[k]);
        json_array_foreach(json_object_get(e, "items"), j, it)
        {
            item_cells(e, it, c);
            for (size_t k = 0; k < ARRAY_LEN(item_head); k++)
                xlsx_cell(wi, ri, (lxw_col_t)k, c[k]);
            ri++;
        }
    }
    if (workbook_close(wb) != LXW_NO_ERROR) {
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot write the XLSX workbook");
    }
    fp = fopen(path, "rb");
    if (fp == NULL) {
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot read the XLSX workbook back");
    }
    buf_reset(out);
    for (;;) {
        char b[16384];
        size_t n = fread(b, 1, sizeof(b), fp);
        if (n == 0)
            break;
        buf_append(out, b, n);
    }
    fclose(fp);
    unlink(path);
    return buf_overflowed(out) ? smile_err_set(err, SMILE_ETOOBIG, "the export is too large")
                               : SMILE_OK;
}

int
score_export(struct store *db, const struct score_eval_filter *f, int format, struct buf *out,
             struct smile_err *err)
{
    const json_t *c[32];
    json_t *all = NULL;
    const json_t *e;
    size_t i;
    int rc = collect(db, f, &all, err);

    if (rc != SMILE_OK)
        return rc;
    if (format == SCORE_EXPORT_XLSX) {
        rc = write_xlsx(all, out, err);
        json_decref(all);
        return rc;
    }
    buf_reset(out);
    if (format == SCORE_EXPORT_CSV) {
        for (size_t k = 0; k < ARRAY_LEN(eval_head); k++)
            csv_field(out, eval_head[k], k + 1 == ARRAY_LEN(eval_head));
        json_array_foreach(all, i, e)
        {
            eval_cells(e, c);
            for (size_t k = 0; k < ARRAY_LEN(eval_head); k++)
                csv_json(out, c[k], k + 1 == ARRAY_LEN(eval_head));
        }
    } else {
        for (size_t k = 0; k < ARRAY_LEN(item_head); k++)
            csv_field(out, item_head[k], k + 1 == ARRAY_LEN(item_head));
        json_array_foreach(all, i, e)
        {
            const json_t *it;
            size_t j;
            json_array_foreach(json_object_get(e, "items"), j, it)
            {
                item_cells(e, it, c);
                for (size_t k = 0; k < ARRAY_LEN(item_head); k++)
                    csv_json(out, c[k], k + 1 == ARRAY_LEN(item_head));
            }
        }
    }
    json_decref(all);
    return buf_overflowed(out) ? smile_err_set(err, SMILE_ETOOBIG, "the export is too large")
                               : SMILE_OK;
}
