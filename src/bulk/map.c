/*
 * map.c — the pure half of bulk import: which header names mean which field (one table
 * per kind, English and Chinese aliases), how a spreadsheet cell becomes a JSON value
 * (dates, yuan, areas, lists, Chinese enum words), the problem list, and UTF-8
 * validation. No I/O and no database: the fuzz target drives this file directly; run.c
 * feeds it from libcsv and hands its bodies to the CRM.
 */
#include "bulk/bulk.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a cell becomes a value. */
enum conv {
    C_TEXT,  /* trimmed string */
    C_LIST,  /* list split on separators, appended to an array */
    C_DATE,  /* "YYYY-MM-DD" */
    C_REAL,  /* number > 0, unit suffix allowed */
    C_YUAN,  /* yuan → integer cents */
    C_CENTS, /* integer cents */
    C_ENUM,  /* English or Chinese word → English value */
    C_ID,    /* positive integer id */
    C_REF,   /* natural key, resolved by run.c (goes into refs) */
};

struct column {
    const char *field; /* name in reports (and the body key unless key is set) */
    const char *key;   /* body key when different ("amount" → "amount_cents") */
    enum conv conv;
    const char *aliases;      /* '|'-separated header names besides field */
    const char *const *words; /* C_ENUM: pairs word → value, NULL-terminated */
    bool alt;                 /* an alternative to another column: left out of templates */
};

static const char *const customer_kinds[] = {"person", "person",  "company", "company", "个人",
                                             "person", "自然人",  "person",  "企业",    "company",
                                             "公司",   "company", "单位",    "company", NULL};

static const char *const property_statuses[] = {
    "available", "available", "reserved", "reserved", "sold",      "sold",     "delivered",
    "delivered", "rented",    "rented",   "可售",     "available", "待售",     "available",
    "在售",      "available", "已预订",   "reserved", "已预定",    "reserved", "已认购",
    "reserved",  "已售",      "sold",     "已售出",   "sold",      "已交付",   "delivered",
    "已交房",    "delivered", "已出租",   "rented",   "出租",      "rented",   NULL};

static const char *const contract_statuses[] = {
    "draft",     "draft",     "signed",   "signed",    "delivered", "delivered",
    "cancelled", "cancelled", "canceled", "cancelled", "草稿",      "draft",
    "已签约",    "signed",    "已签",     "signed",    "签约",      "signed",
    "已交付",    "delivered", "已交房",   "delivered", "已取消",    "cancelled",
    "取消",      "cancelled", "作废",     "cancelled", NULL};

static const struct column customer_cols[] = {
    {"kind", NULL, C_ENUM, "type|类型|客户类型", customer_kinds},
    {"name", NULL, C_TEXT, "姓名|客户姓名|名称|客户名称|客户", NULL},
    {"phones", NULL, C_LIST,
     "phone|mobile|tel|telephone|手机|手机号|手机号码|电话|联系电话|电话号码|固话", NULL},
    {"emails", NULL, C_LIST, "email|e-mail|mail|邮箱|电子邮箱|电子邮件|邮件", NULL},
    {"birthday", NULL, C_DATE, "birth_date|date_of_birth|生日|出生日期", NULL},
    {"id_number", NULL, C_TEXT, "id|id_card|证件号码|证件号|身份证|身份证号|身份证号码", NULL},
    {"address", NULL, C_TEXT, "地址|联系地址|通讯地址|住址", NULL},
    {"tags", NULL, C_LIST, "tag|标签", NULL},
    {"owner_id", NULL, C_ID, "负责人ID", NULL},
    {"notes", NULL, C_TEXT, "note|remarks|备注|说明", NULL},
};

static const struct column property_cols[] = {
    {"project", NULL, C_TEXT, "项目|项目名称|楼盘|小区", NULL},
    {"building", NULL, C_TEXT, "楼栋|栋|楼号|楼座|幢", NULL},
    {"unit", NULL, C_TEXT, "房号|单元|房间号|室|户号", NULL},
    {"area", "area_m2", C_REAL, "area_m2|面积|建筑面积|面积(㎡)|面积㎡", NULL},
    {"status", NULL, C_ENUM, "状态|销售状态|房屋状态", property_statuses},
    {"customer_id", NULL, C_ID, "客户ID|业主ID", NULL},
    {"customer_phone", NULL, C_REF, "客户手机|客户电话|业主手机|业主电话", NULL},
    {"customer_email", NULL, C_REF, "客户邮箱|业主邮箱", NULL, true},
    {"notes", NULL, C_TEXT, "note|remarks|备注|说明", NULL},
};

static const struct column contract_cols[] = {
    {"number", NULL, C_TEXT, "contract_number|合同编号|合同号|合同编码", NULL},
    {"customer_id", NULL, C_ID, "客户ID|业主ID", NULL},
    {"customer_phone", NULL, C_REF, "phone|客户手机|客户电话|业主手机|业主电话|手机|电话", NULL},
    {"customer_email", NULL, C_REF, "email|客户邮箱|业主邮箱|邮箱", NULL, true},
    {"property_id", NULL, C_ID, "房产ID|房屋ID", NULL, true},
    {"property_project", NULL, C_REF, "project|项目|项目名称|楼盘|小区", NULL},
    {"property_building", NULL, C_REF, "building|楼栋|栋|楼号|楼座|幢", NULL},
    {"property_unit", NULL, C_REF, "unit|房号|单元|房间号|室|户号", NULL},
    {"signed_on", NULL, C_DATE, "signed|signing_date|签约日期|签订日期|签约时间", NULL},
    {"amount", "amount_cents", C_YUAN, "amount_yuan|金额|合同金额|总价|成交价|总金额", NULL},
    {"amount_cents", NULL, C_CENTS, "金额(分)", NULL, true},
    {"delivery_date", NULL, C_DATE, "delivery|交付日期|交房日期", NULL},
    {"status", NULL, C_ENUM, "状态|合同状态", contract_statuses},
    {"notes", NULL, C_TEXT, "note|remarks|备注|说明", NULL},
};

static const struct {
    const char *name;
    const struct column *cols;
    int ncols;
} kinds[BULK_NKINDS] = {
    {"customers", customer_cols, (int)ARRAY_LEN(customer_cols)},
    {"properties", property_cols, (int)ARRAY_LEN(property_cols)},
    {"contracts", contract_cols, (int)ARRAY_LEN(contract_cols)},
};

int
bulk_kind_parse(const char *name)
{
    for (int i = 0; name && i < BULK_NKINDS; i++)
        if (strcmp(name, kinds[i].name) == 0)
            return i;
    return -1;
}

const char *
bulk_kind_name(int kind)
{
    return kind >= 0 && kind < BULK_NKINDS ? kinds[kind].name : "?";
}

int
bulk_encoding_parse(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcasecmp(name, "auto") == 0)
        return BULK_ENC_AUTO;
    if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
        return BULK_ENC_UTF8;
    if (strcasecmp(name, "gb18030") == 0 || strcasecmp(name, "gbk") == 0 ||
        strcasecmp(name, "gb2312") == 0)
        return BULK_ENC_GB18030;
    return -1;
}

const char *
bulk_encoding_name(int enc)
{
    return enc == BULK_ENC_GB18030 ? "gb18030" : enc == BULK_ENC_UTF8 ? "utf-8" : "auto";
}

/* UTF-8 ------------------------------------------------------------------------------- */

void
bulk_utf8_init(struct bulk_utf8 *u)
{
    memset(u, 0, sizeof(*u));
}

void
bulk_utf8_feed(struct bulk_utf8 *u, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n && !u->bad; i++) {
        unsigned char c = s[i];

        if (u->need) {
            if (c < u->lo || c > u->hi) {
                u->bad = true;
                break;
            }
            u->lo = 0x80;
            u->hi = 0xbf;
            u->need--;
            continue;
        }
        u->lo = 0x80;
        u->hi = 0xbf;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf) {
            u->need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            u->need = 2;
            if (c == 0xe0)
                u->lo = 0xa0; /* no overlongs */
            else if (c == 0xed)
                u->hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            u->need = 3;
            if (c == 0xf0)
                u->lo = 0x90;
            else if (c == 0xf4)
                u->hi = 0x8f; /* nothing past U+10FFFF */
        } else {
            u->bad = true;
        }
    }
}

bool
bulk_utf8_ok(const struct bulk_utf8 *u)
{
    return !u->bad && u->need == 0;
}

bool
bulk_utf8_valid(const void *p, size_t n)
{
    struct bulk_utf8 u;

    bulk_utf8_init(&u);
    bulk_utf8_feed(&u, p, n);
    return bulk_utf8_ok(&u);
}

/* Problems ---------------------------------------------------------------------------- */

void
bulk_column_letter(int col, char *out)
{
    char tmp[8];
    int n = 0;

    /* Bijective base 26: A … Z, AA … AZ, BA … */
    for (int v = col + 1; v > 0 && n < 7; v = (v - 1) / 26)
        tmp[n++] = (char)('A' + (v - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

void
bulk_problem_add(json_t *problems, int row, const struct bulk_header *h, int col, const char *field,
                 const char *fmt, ...)
{
    char detail[512], letter[8];
    va_list ap;
    json_t *p;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (!bulk_utf8_valid(detail, strlen(detail)))
        snprintf(detail, sizeof(detail), "the value is not valid UTF-8");
    p = json_object();
    json_object_set_new(p, "row", json_integer(row));
    if (col >= 0) {
        bulk_column_letter(col, letter);
        json_object_set_new(p, "column", json_string(letter));
    } else {
        json_object_set_new(p, "column", json_null());
    }
    if (h && col >= 0 && col < h->ncols && bulk_utf8_valid(h->name[col], strlen(h->name[col])))
        json_object_set_new(p, "header", json_string(h->name[col]));
    else
        json_object_set_new(p, "header", json_null());
    json_object_set_new(p, "field", field ? json_string(field) : json_null());
    json_object_set_new(p, "detail", json_string(detail));
    json_array_append_new(problems, p);
}

/* Header ------------------------------------------------------------------------------ */

/* Copies a cell trimmed of ASCII spaces and a full-width space at either end. */
static size_t
trim(const char *s, size_t n, const char **out)
{
    for (;;) {
        if (n && (s[0] == ' ' || s[0] == '\t')) {
            s++;
            n--;
        } else if (n >= 3 && memcmp(s, "\xe3\x80\x80", 3) == 0) {
            s += 3;
            n -= 3;
        } else {
            break;
        }
    }
    for (;;) {
        if (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        else if (n >= 3 && memcmp(s + n - 3, "\xe3\x80\x80", 3) == 0)
            n -= 3;
        else
            break;
    }
    *out = s;
    return n;
}

/* Header name equality: ASCII case-insensitive, '_' '-' ' ' alike. */
static bool
name_eq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x == '-' || x == ' ')
            x = '_';
        if (y == '-' || y == ' ')
            y = '_';
        if (x < 0x80)
            x = tolower(x);
        if (y < 0x80)
            y = tolower(y);
        if (x != y)
            return false;
    }
    return true;
}

static int
find_column(int kind, const char *s, size_t n)
{
    const struct column *cols = kinds[kind].cols;

    for (int i = 0; i < kinds[kind].ncols; i++) {
        const char *a = cols[i].aliases;

        if (name_eq(s, n, cols[i].field, strlen(cols[i].field)))
            return i;
        while (a && *a) {
            const char *e = strchr(a, '|');
            size_t len = e ? (size_t)(e - a) : strlen(a);

            if (name_eq(s, n, a, len))
                return i;
            a = e ? e + 1 : NULL;
        }
    }
    return -1;
}

int
bulk_header_col(const struct bulk_header *h, const char *field)
{
    for (int i = 0; i < h->ncols; i++)
        if (h->col[i] >= 0 && strcmp(kinds[h->kind].cols[h->col[i]].field, field) == 0)
            return i;
    return -1;
}

int
bulk_header_map(int kind, char *const *cells, const size_t *lens, int n, struct bulk_header *h,
                json_t *problems)
{
    size_t before = json_array_size(problems);

    memset(h, 0, sizeof(*h));
    h->kind = kind;
    if (n > BULK_MAX_COLS) {
        bulk_problem_add(problems, 1, NULL, -1, NULL, "%d columns; at most %d are allowed", n,
                         BULK_MAX_COLS);
        n = BULK_MAX_COLS;
    }
    h->ncols = n;
    for (int i = 0; i < n; i++) {
        const char *s;
        size_t len = trim(cells[i], lens[i], &s);
        int c;

        snprintf(h->name[i], sizeof(h->name[i]), "%.*s", (int)len, s);
        h->col[i] = -1;
        if (!bulk_utf8_valid(s, len)) {
            bulk_problem_add(problems, 1, NULL, i, NULL, "the header is not valid UTF-8");
            continue;
        }
        if (len == 0) {
            bulk_problem_add(problems, 1, h, i, NULL, "empty header");
            continue;
        }
        c = find_column(kind, s, len);
        if (c < 0) {
            bulk_problem_add(problems, 1, h, i, NULL, "unknown column \"%s\" for %s", h->name[i],
                             kinds[kind].name);
            continue;
        }
        for (int j = 0; j < i; j++) {
            const struct column *cj = h->col[j] >= 0 ? &kinds[kind].cols[h->col[j]] : NULL;
            const struct column *ci = &kinds[kind].cols[c];

            if (cj && cj != ci &&
                strcmp(cj->key ? cj->key : cj->field, ci->key ? ci->key : ci->field) == 0) {
                bulk_problem_add(problems, 1, h, i, ci->field,
                                 "column %s gives %s already; use one of the two", h->name[j],
                                 ci->key ? ci->key : ci->field);
                c = -1;
                break;
            }
            if (h->col[j] == c && kinds[kind].cols[c].conv != C_LIST) {
                bulk_problem_add(problems, 1, h, i, kinds[kind].cols[c].field,
                                 "column %s means %s too; name each field once", h->name[j],
                                 kinds[kind].cols[c].field);
                c = -1;
                break;
            }
        }
        h->col[i] = c;
    }
    /* Required columns. */
    if (kind == BULK_CUSTOMERS && bulk_header_col(h, "name") < 0)
        bulk_problem_add(problems, 1, NULL, -1, "name", "no name column (name / 姓名)");
    if (kind == BULK_PROPERTIES && bulk_header_col(h, "project") < 0)
        bulk_problem_add(problems, 1, NULL, -1, "project", "no project column (project / 项目)");
    if (kind == BULK_CONTRACTS) {
        if (bulk_header_col(h, "number") < 0)
            bulk_problem_add(problems, 1, NULL, -1, "number",
                             "no number column (number / 合同编号)");
        if (bulk_header_col(h, "customer_id") < 0 && bulk_header_col(h, "customer_phone") < 0 &&
            bulk_header_col(h, "customer_email") < 0)
            bulk_problem_add(problems, 1, NULL, -1, "customer_id",
                             "no column names the customer (customer_id, customer_phone / "
                             "客户电话 or customer_email)");
    }
    return (int)(json_array_size(problems) - before);
}

/* Cells ------------------------------------------------------------------------------- */

/* Reads 1–4 digits at *p (bounded by e) into *v; false if none. */
static bool
digits(const char **p, const char *e, int max, int *v)
{
    int k = 0;

    *v = 0;
    while (*p < e && k < max && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    return k > 0;
}

static bool
eat(const char **p, const char *e, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(e - *p) >= n && memcmp(*p, lit, n) == 0) {
        *p += n;
        return true;
    }
    return false;
}

/* 2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日 → "2026-03-05" (the date must exist). */
static bool
parse_date(const char *s, size_t n, char out[11])
{
    const char *p = s, *e = s + n;
    int y, m, d;
    int64_t days;
    char buf[16];

    if (!digits(&p, e, 4, &y) || p - s != 4)
        return false;
    if (!(eat(&p, e, "-") || eat(&p, e, "/") || eat(&p, e, ".") || eat(&p, e, "年")))
        return false;
    if (!digits(&p, e, 2, &m))
        return false;
    if (!(eat(&p, e, "-") || eat(&p, e, "/") || eat(&p, e, ".") || eat(&p, e, "月")))
        return false;
    if (!digits(&p, e, 2, &d))
        return false;
    eat(&p, e, "日");
    if (p != e || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y % 10000, m, d);
    if (time_parse_date(buf, 10, &days) != SMILE_OK)
        return false;
    memcpy(out, buf, 11);
    return true;
}

/* Strips one of the given suffixes (longest listed first) from the end. */
static size_t
strip_suffix(const char *s, size_t n, const char *const *sfx)
{
    for (int i = 0; sfx[i]; i++) {
        size_t k = strlen(sfx[i]);

        if (n >= k && strncasecmp(s + n - k, sfx[i], k) == 0)
            return n - k;
    }
    return n;
}

/*
 * A decimal number with at most maxdec decimals, thousands separators ',' allowed in the
 * integer part, into an integer scaled by 10^maxdec. False if malformed or too large.
 */
static bool
parse_fixed(const char *s, size_t n, int maxdec, int64_t *out)
{
    int64_t v = 0;
    int dec = -1;
    bool any = false;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == ',' && dec < 0 && any)
            continue;
        if (c == '.' && dec < 0) {
            dec = 0;
            continue;
        }
        if (!isdigit((unsigned char)c))
            return false;
        if (dec >= 0 && ++dec > maxdec)
            return false;
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (c - '0');
        any = true;
    }
    if (!any)
        return false;
    for (int k = dec < 0 ? 0 : dec; k < maxdec; k++) {
        if (v > INT64_MAX / 10)
            return false;
        v *= 10;
    }
    *out = v;
    return true;
}

/* How much of a value to quote in a problem: at most 40 bytes, cut at a character. */
static int
clip(const char *s, size_t len)
{
    size_t n = len > 40 ? 40 : len;

    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* Copies n bytes into a NUL-terminated string (the cells of libcsv are not terminated). */
static char *
dup_n(const char *s, size_t n)
{
    return xstrndup(s, n);
}

/* The next list element: split on ; ； , ， 、 / */
static bool
next_item(const char **p, const char *e, const char **item, size_t *len)
{
    static const char *const seps[] = {";", "；", ",", "，", "、", "/", NULL};

    while (*p < e) {
        const char *s = *p, *q = *p;
        size_t sep = 0;

        while (q < e) {
            for (int i = 0; seps[i]; i++) {
                size_t k = strlen(seps[i]);

                if ((size_t)(e - q) >= k && memcmp(q, seps[i], k) == 0) {
                    sep = k;
                    break;
                }
            }
            if (sep)
                break;
            q++;
        }
        *p = q + sep;
        *len = trim(s, (size_t)(q - s), item);
        if (*len)
            return true;
    }
    return false;
}

static void
put_ref(json_t *refs, const char *key, const char *s, size_t n)
{
    char *v = dup_n(s, n);

    json_object_set_new(refs, key, json_string(v));
    free(v);
}

int
bulk_row_map(const struct bulk_header *h, char *const *cells, const size_t *lens, int n, int row,
             json_t **body, json_t **refs, json_t *problems)
{
    size_t before = json_array_size(problems);
    const struct column *cols = kinds[h->kind].cols;

    *body = json_object();
    *refs = json_object();
    if (n != h->ncols) {
        bulk_problem_add(problems, row, NULL, -1, NULL,
                         "the row has %d cells but the header has %d columns", n, h->ncols);
        return (int)(json_array_size(problems) - before);
    }
    for (int i = 0; i < n; i++) {
        const struct column *c;
        const char *s, *key;
        size_t len;

        if (h->col[i] < 0)
            continue;
        c = &cols[h->col[i]];
        key = c->key ? c->key : c->field;
        if (lens[i] > BULK_MAX_CELL) {
            bulk_problem_add(problems, row, h, i, c->field, "the cell is longer than %d bytes",
                             BULK_MAX_CELL);
            continue;
        }
        len = trim(cells[i], lens[i], &s);
        if (!bulk_utf8_valid(s, len)) {
            bulk_problem_add(problems, row, h, i, c->field,
                             "the cell is not valid UTF-8 (is the file GB18030? use "
                             "--encoding gb18030)");
            continue;
        }
        if (len == 0)
            continue;
        if (memchr(s, '\0', len)) {
            bulk_problem_add(problems, row, h, i, c->field, "the cell contains a NUL byte");
            continue;
        }
        switch (c->conv) {
        case C_TEXT: {
            char *v = dup_n(s, len);

            json_object_set_new(*body, key, json_string(v));
            free(v);
            break;
        }
        case C_LIST: {
            json_t *arr = json_object_get(*body, key);
            const char *p = s, *e = s + len, *item;
            size_t ilen;

            if (arr == NULL) {
                arr = json_array();
                json_object_set_new(*body, key, arr);
            }
            while (next_item(&p, e, &item, &ilen)) {
                char *v = dup_n(item, ilen);

                json_array_append_new(arr, json_string(v));
                free(v);
            }
            break;
        }
        case C_DATE: {
            char d[11];

            if (parse_date(s, len, d))
                json_object_set_new(*body, key, json_string(d));
            else
                bulk_problem_add(problems, row, h, i, c->field,
                                 "\"%.*s\" is not a date (2026-03-05, 2026/3/5 or 2026年3月5日)",
                                 clip(s, len), s);
            break;
        }
        case C_REAL: {
            static const char *const sfx[] = {"平方米", "㎡", "m²", "m2", NULL};
            size_t k = strip_suffix(s, len, sfx);
            const char *t;
            int64_t v;

            k = trim(s, k, &t);
            if (parse_fixed(t, k, 4, &v) && v > 0)
                json_object_set_new(*body, key, json_real((double)v / 10000.0));
            else
                bulk_problem_add(problems, row, h, i, c->field,
                                 "\"%.*s\" is not an area in square metres greater than 0",
                                 clip(s, len), s);
            break;
        }
        case C_YUAN:
        case C_CENTS: {
            static const char *const sfx[] = {"元", NULL};
            const char *t = s;
            size_t k = len;
            int64_t v;

            if (c->conv == C_YUAN) {
                if (eat(&t, s + len, "¥") || eat(&t, s + len, "￥"))
                    k = len - (size_t)(t - s);
                k = strip_suffix(t, k, sfx);
                k = trim(t, k, &t);
            }
            if (parse_fixed(t, k, c->conv == C_YUAN ? 2 : 0, &v))
                json_object_set_new(*body, key, json_integer(v));
            else
                bulk_problem_add(problems, row, h, i, c->field,
                                 c->conv == C_YUAN
                                     ? "\"%.*s\" is not an amount in yuan (at most 2 decimals)"
                                     : "\"%.*s\" is not a whole number of cents",
                                 clip(s, len), s);
            break;
        }
        case C_ENUM: {
            const char *v = NULL;

            for (int w = 0; c->words[w]; w += 2)
                if (name_eq(s, len, c->words[w], strlen(c->words[w])))
                    v = c->words[w + 1];
            if (v) {
                json_object_set_new(*body, key, json_string(v));
            } else {
                struct buf b;

                buf_init(&b, 400);
                for (int w = 0; c->words[w]; w += 2)
                    buf_printf(&b, "%s%s", w ? ", " : "", c->words[w]);
                bulk_problem_add(problems, row, h, i, c->field, "\"%.*s\" is not one of: %s",
                                 clip(s, len), s, b.data ? b.data : "");
                buf_free(&b);
            }
            break;
        }
        case C_ID: {
            int64_t v;

            if (str_to_int64((struct str){s, len}, &v) == SMILE_OK && v > 0)
                json_object_set_new(*body, key, json_integer(v));
            else
                bulk_problem_add(problems, row, h, i, c->field,
                                 "\"%.*s\" is not an id (a whole number greater than 0)",
                                 clip(s, len), s);
            break;
        }
        case C_REF:
            put_ref(*refs, key, s, len);
            break;
        }
    }
    return (int)(json_array_size(problems) - before);
}

int
bulk_template(int kind, bool zh, struct buf *out)
{
    const struct column *cols;
    int n = 0;

    if (kind < 0 || kind >= BULK_NKINDS)
        return SMILE_EINVAL;
    cols = kinds[kind].cols;
    if (zh)
        buf_puts(out, "\xef\xbb\xbf"); /* so that Excel reads the Chinese as UTF-8 */
    for (int i = 0; i < kinds[kind].ncols; i++) {
        const char *a = cols[i].aliases, *name = cols[i].field;
        size_t len = strlen(name);

        if (cols[i].alt)
            continue;
        /* In Chinese: the first alias that is not ASCII. */
        while (zh && a && *a) {
            const char *e = strchr(a, '|');
            size_t l = e ? (size_t)(e - a) : strlen(a);

            if ((unsigned char)a[0] >= 0x80) {
                name = a;
                len = l;
                break;
            }
            a = e ? e + 1 : NULL;
        }
        if (n++)
            buf_putc(out, ',');
        buf_append(out, name, len);
    }
    buf_puts(out, "\r\n");
    return SMILE_OK;
}
