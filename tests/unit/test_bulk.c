/*
 * test_bulk.c — bulk import: the pure mapping (header names in English and Chinese,
 * spreadsheet column letters, cell conversions of dates, yuan, areas, lists and Chinese
 * enum words, cell-count and UTF-8 problems, incremental UTF-8 validation) and whole runs
 * against a database in a temporary directory: all or nothing, dry run, GB18030 fed one
 * byte at a time (so every multi-byte sequence is split across feeds), a BOM split across
 * feeds, and row numbers as a spreadsheet shows them. Every expected value is worked out
 * by hand in the comment beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulk/bulk.h"
#include "crm/crm.h"
#include "store/store.h"

/* Splits a NUL-free line on commas (no quoting) into cells. */
static int
split(char *line, char **cells, size_t *lens)
{
    int n = 0;
    char *p = line;

    for (;;) {
        char *c = strchr(p, ',');

        cells[n] = p;
        lens[n] = c ? (size_t)(c - p) : strlen(p);
        n++;
        if (c == NULL)
            break;
        p = c + 1;
    }
    return n;
}

static int
header(int kind, const char *text, struct bulk_header *h, json_t *problems)
{
    char buf[512], *cells[BULK_MAX_COLS];
    size_t lens[BULK_MAX_COLS];

    snprintf(buf, sizeof(buf), "%s", text);
    return bulk_header_map(kind, cells, lens, split(buf, cells, lens), h, problems);
}

static int
row(const struct bulk_header *h, const char *text, int r, json_t **body, json_t **refs,
    json_t *problems)
{
    char buf[512], *cells[BULK_MAX_COLS];
    size_t lens[BULK_MAX_COLS];

    snprintf(buf, sizeof(buf), "%s", text);
    return bulk_row_map(h, cells, lens, split(buf, cells, lens), r, body, refs, problems);
}

static void
test_column_letters(void **state)
{
    char l[8];

    (void)state;
    /* Bijective base 26: 0 → A, 25 → Z, 26 → AA, 27 → AB, 51 → AZ (26 + 25),
     * 52 → BA, 701 → ZZ (26 + 26×26 − 1), 702 → AAA. */
    bulk_column_letter(0, l);
    assert_string_equal(l, "A");
    bulk_column_letter(25, l);
    assert_string_equal(l, "Z");
    bulk_column_letter(26, l);
    assert_string_equal(l, "AA");
    bulk_column_letter(27, l);
    assert_string_equal(l, "AB");
    bulk_column_letter(51, l);
    assert_string_equal(l, "AZ");
    bulk_column_letter(52, l);
    assert_string_equal(l, "BA");
    bulk_column_letter(701, l);
    assert_string_equal(l, "ZZ");
    bulk_column_letter(702, l);
    assert_string_equal(l, "AAA");
}

static void
test_utf8(void **state)
{
    struct bulk_utf8 u;

    (void)state;
    assert_true(bulk_utf8_valid("abc", 3));
    assert_true(bulk_utf8_valid("\xe5\xbc\xa0", 3));      /* 张 U+5F20 */
    assert_false(bulk_utf8_valid("\xe5\xbc", 2));         /* cut short */
    assert_false(bulk_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(bulk_utf8_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    assert_false(bulk_utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
    assert_true(bulk_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    /* GB18030 张 is D5 C5: D5 opens a 2-byte UTF-8 sequence but C5 is no continuation. */
    assert_false(bulk_utf8_valid("\xd5\xc5", 2));
    /* Incremental: 张 fed one byte at a time is fine once complete. */
    bulk_utf8_init(&u);
    bulk_utf8_feed(&u, "\xe5", 1);
    assert_false(bulk_utf8_ok(&u));
    bulk_utf8_feed(&u, "\xbc", 1);
    bulk_utf8_feed(&u, "\xa0", 1);
    assert_true(bulk_utf8_ok(&u));
}

static void
test_header_map(void **state)
{
    struct bulk_header h;
    json_t *pr = json_array();

    (void)state;
    /* Chinese names, case and '_'/'-'/' ' insensitive English, two phone columns. */
    assert_int_equal(header(BULK_CUSTOMERS, " 姓名 ,手机,电话,E-Mail,ID Number,备注", &h, pr), 0);
    assert_int_equal(h.ncols, 6);
    assert_int_equal(bulk_header_col(&h, "name"), 0);
    assert_int_equal(bulk_header_col(&h, "phones"), 1); /* the first of B and C */
    assert_int_equal(bulk_header_col(&h, "emails"), 3);
    assert_int_equal(bulk_header_col(&h, "id_number"), 4);
    assert_int_equal(bulk_header_col(&h, "notes"), 5);
    assert_string_equal(h.name[0], "姓名"); /* trimmed */

    /* Unknown header (column C) and a non-list field twice (项目 and project: column B). */
    assert_int_equal(header(BULK_PROPERTIES, "项目,project,颜色", &h, pr), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(pr, 0), "row")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 0), "column")), "B");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 1), "column")), "C");
    json_array_clear(pr);

    /* Contracts need a number and a customer column: two problems without a column. */
    assert_int_equal(header(BULK_CONTRACTS, "金额", &h, pr), 2);
    assert_true(json_is_null(json_object_get(json_array_get(pr, 0), "column")));
    json_array_clear(pr);
    /* Within contracts, 项目/楼栋/房号 mean the property's natural key. */
    assert_int_equal(header(BULK_CONTRACTS, "合同编号,客户电话,项目,楼栋,房号", &h, pr), 0);
    assert_int_equal(bulk_header_col(&h, "property_project"), 2);
    assert_int_equal(bulk_header_col(&h, "property_unit"), 4);
    json_decref(pr);
}

static void
test_row_map_conversions(void **state)
{
    struct bulk_header h;
    json_t *pr = json_array(), *body, *refs;

    (void)state;
    assert_int_equal(header(BULK_CONTRACTS,
                            "合同编号,客户电话,签约日期,交付日期,金额,状态,项目,楼栋,房号", &h, pr),
                     0);
    /* 2026年3月5日 → 2026-03-05; 2026/12/1 → 2026-12-01; ¥1234567.89元 → 123,456,789
     * cents (1,234,567 yuan × 100 + 89); 已签约 → signed; the phone and the property are
     * references left for the database. */
    assert_int_equal(row(&h,
                         "HT-1,13800138000,2026年3月5日,2026/12/1,¥1234567.89元,已签约,"
                         "翠湖,3栋,1201",
                         2, &body, &refs, pr),
                     0);
    assert_string_equal(json_string_value(json_object_get(body, "number")), "HT-1");
    assert_string_equal(json_string_value(json_object_get(body, "signed_on")), "2026-03-05");
    assert_string_equal(json_string_value(json_object_get(body, "delivery_date")), "2026-12-01");
    assert_int_equal(json_integer_value(json_object_get(body, "amount_cents")), 123456789);
    assert_string_equal(json_string_value(json_object_get(body, "status")), "signed");
    assert_string_equal(json_string_value(json_object_get(refs, "customer_phone")), "13800138000");
    assert_string_equal(json_string_value(json_object_get(refs, "property_unit")), "1201");
    assert_null(json_object_get(body, "customer_id"));
    json_decref(body);
    json_decref(refs);

    /* 2026-02-29 does not exist (2026 is not a leap year); 12.345 has 3 decimals;
     * 成交 is no status: three problems on row 7, columns C, E, F. */
    assert_int_equal(row(&h, "HT-2,13800138000,2026-02-29,,12.345,成交,,,", 7, &body, &refs, pr),
                     3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 0), "column")), "C");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 0), "field")),
                        "signed_on");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(pr, 0), "row")), 7);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 1), "column")), "E");
    assert_string_equal(json_string_value(json_object_get(json_array_get(pr, 2), "column")), "F");
    json_decref(body);
    json_decref(refs);
    json_array_clear(pr);

    /* One cell short: one problem without a column, nothing mapped. */
    assert_int_equal(row(&h, "HT-3,13800138000", 3, &body, &refs, pr), 1);
    assert_true(json_is_null(json_object_get(json_array_get(pr, 0), "column")));
    assert_int_equal(json_object_size(body), 0);
    json_decref(body);
    json_decref(refs);
    json_array_clear(pr);

    /* Properties: 89.50㎡ → 89.5; lists: customers' phones from two columns and a cell
     * with two numbers separated by '/' (three phones in all). */
    assert_int_equal(header(BULK_PROPERTIES, "项目,面积,状态", &h, pr), 0);
    assert_int_equal(row(&h, "翠湖,89.50㎡,已交房", 2, &body, &refs, pr), 0);
    assert_true(json_real_value(json_object_get(body, "area_m2")) == 89.5);
    assert_string_equal(json_string_value(json_object_get(body, "status")), "delivered");
    json_decref(body);
    json_decref(refs);
    assert_int_equal(header(BULK_CUSTOMERS, "姓名,手机,电话,标签", &h, pr), 0);
    assert_int_equal(
        row(&h, "张三,13800138000/13900139000,010-12345678,vip；业主、 新", 2, &body, &refs, pr),
        0);
    assert_int_equal(json_array_size(json_object_get(body, "phones")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "phones"), 2)),
                        "010-12345678");
    /* vip；业主、 新 → ["vip", "业主", "新"] (full-width separators, items trimmed) */
    assert_int_equal(json_array_size(json_object_get(body, "tags")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "tags"), 2)), "新");
    json_decref(body);
    json_decref(refs);
    json_decref(pr);
}

/* Whole runs ----------------------------------------------------------------------------- */

static struct store *db;

static int
setup(void **state)
{
    static char dir[] = "/tmp/smile-test-bulk-XXXXXX";
    char path[80];
    struct smile_err err;

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_ERROR);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    store_close(db);
    return 0;
}

static int64_t
count(const char *sql)
{
    struct smile_err err;
    int64_t n = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(db, sql, &n, &err), SMILE_OK);
    return n;
}

/* Runs a whole import, feeding step bytes at a time. */
static json_t *
run(int kind, int enc, bool dry, const char *data, size_t len, size_t step, bool *ok)
{
    struct crm_ctx c;
    struct smile_err err;
    struct bulk_import *im = NULL;
    json_t *rep = NULL;

    memset(&c, 0, sizeof(c));
    c.db = db;
    c.request_id = "test";
    c.address = "";
    c.now_ms = INT64_C(1795000000000);
    assert_int_equal(bulk_import_begin(&c, kind, enc, dry, "t.csv", &im, &err), SMILE_OK);
    for (size_t off = 0; off < len; off += step)
        assert_int_equal(
            bulk_import_feed(im, data + off, off + step > len ? len - off : step, &err), SMILE_OK);
    assert_int_equal(bulk_import_finish(im, &rep, ok, &err), SMILE_OK);
    bulk_import_free(im);
    return rep;
}

static void
test_run_all_or_nothing(void **state)
{
    static const char good[] = "\xef\xbb\xbfname,phone\r\n甲,13800138001\r\n乙,13800138002\r\n";
    static const char bad[] = "name,phone\n丙,13800138003\n丁,12\n戊,13800138005\n";
    int64_t c0 = count("SELECT count(*) FROM customers");
    int64_t a0 = count("SELECT count(*) FROM audit");
    json_t *rep;
    bool ok;

    (void)state;
    /* Dry run of a good file: 2 rows valid, nothing written. */
    rep = run(BULK_CUSTOMERS, BULK_ENC_UTF8, true, good, sizeof(good) - 1, 4096, &ok);
    assert_true(ok);
    assert_int_equal(json_integer_value(json_object_get(rep, "valid")), 2);
    assert_int_equal(json_integer_value(json_object_get(rep, "imported")), 0);
    json_decref(rep);
    assert_int_equal(count("SELECT count(*) FROM customers"), c0);
    assert_int_equal(count("SELECT count(*) FROM audit"), a0);

    /* A bad row in the middle (row 3: "12" is no phone): rows 2 and 4 are valid but
     * nothing is written. BOM split across feeds of 1 byte must still be skipped. */
    rep = run(BULK_CUSTOMERS, BULK_ENC_UTF8, false, bad, sizeof(bad) - 1, 1, &ok);
    assert_false(ok);
    assert_int_equal(json_integer_value(json_object_get(rep, "rows")), 3);
    assert_int_equal(json_integer_value(json_object_get(rep, "valid")), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "problems")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(rep, "problems"), 0), "row")),
                     3);
    json_decref(rep);
    assert_int_equal(count("SELECT count(*) FROM customers"), c0);
    assert_int_equal(count("SELECT count(*) FROM imports"), 0);

    /* The good file for real, one byte at a time (the BOM split over three feeds): two
     * customers, two audit rows, one imports row. */
    rep = run(BULK_CUSTOMERS, BULK_ENC_UTF8, false, good, sizeof(good) - 1, 1, &ok);
    assert_true(ok);
    assert_int_equal(json_integer_value(json_object_get(rep, "imported")), 2);
    json_decref(rep);
    assert_int_equal(count("SELECT count(*) FROM customers"), c0 + 2);
    assert_int_equal(count("SELECT count(*) FROM audit"), a0 + 2);
    assert_int_equal(count("SELECT count(*) FROM customers WHERE name = '甲'"), 1);
    assert_int_equal(count("SELECT count(*) FROM imports"), 1);
}

static void
test_run_gb18030(void **state)
{
    /* 姓名,手机\n 王五,13700137005\n in GB18030: 姓 D0 D5, 名 C3 FB, 手 CA D6, 机 BB FA,
     * 王 CD F5, 五 CE E5 — every Chinese character two bytes, ASCII as is. Fed one byte
     * at a time, every character is split across two feeds. */
    static const char gb[] = "\xd0\xd5\xc3\xfb,\xca\xd6\xbb\xfa\n\xcd\xf5\xce\xe5,13700137005\n";
    json_t *rep;
    bool ok;

    (void)state;
    rep = run(BULK_CUSTOMERS, BULK_ENC_GB18030, false, gb, sizeof(gb) - 1, 1, &ok);
    assert_true(ok);
    assert_string_equal(json_string_value(json_object_get(rep, "encoding")), "gb18030");
    json_decref(rep);
    assert_int_equal(count("SELECT count(*) FROM customers WHERE name = '王五' AND phones = "
                           "'[\"13700137005\"]'"),
                     1);
    /* A lone lead byte 0x81 before the newline is not GB18030: refused on row 2. */
    rep = run(BULK_CUSTOMERS, BULK_ENC_GB18030, false, "name\n\x81\n", 7, 4096, &ok);
    assert_false(ok);
    json_decref(rep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_column_letters),     cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_header_map),         cmocka_unit_test(test_row_map_conversions),
        cmocka_unit_test(test_run_all_or_nothing), cmocka_unit_test(test_run_gb18030),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
