/*
 * fuzz_search_query.c — fuzz target of the search query and text preparation
 * (crm/search.c). For any bytes: search_prepare_query either refuses them or yields an
 * FTS5 expression whose every user-typed character sits inside a double-quoted string
 * (checked by scanning: outside strings only the expression's own syntax and column names
 * may appear), and which SQLite's FTS5 accepts (run against an in-memory table with the
 * index's columns). search_prepare_text and search_prepare_key always yield valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm/search.h"
#include "store/store.h"

static bool
valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t len;
        uint32_t c;

        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (p[i] >= 0xC2 && p[i] <= 0xDF) {
            len = 2;
            c = p[i] & 0x1F;
        } else if (p[i] >= 0xE0 && p[i] <= 0xEF) {
            len = 3;
            c = p[i] & 0x0F;
        } else if (p[i] >= 0xF0 && p[i] <= 0xF4) {
            len = 4;
            c = p[i] & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
            (c >= 0xD800 && c <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Outside double-quoted strings only these words and the characters " (){}:+*" appear. */
static void
check_quoting(const char *m)
{
    static const char *words[] = {"name", "phone", "body", "tail", "whole", "AND", "OR"};
    const char *p = m;

    while (*p) {
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    abort(); /* unterminated string */
                if (*p == '"' && p[1] == '"') {
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    p++;
                }
            }
        } else if (strchr(" (){}:+*", *p)) {
            p++;
        } else {
            size_t n = 0, i;

            while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'))
                n++;
            for (i = 0; i < ARRAY_LEN(words); i++)
                if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
                    break;
            if (n == 0 || i == ARRAY_LEN(words))
                abort(); /* user text outside a string */
            p += n;
        }
    }
}

static struct store *
db(void)
{
    static struct store *s;
    struct smile_err err;

    if (s == NULL) {
        smile_err_clear(&err);
        log_set_level(LOG_ERROR);
        if (store_open(":memory:", STORE_CREATE, &s, &err) != SMILE_OK ||
            store_exec(s,
                       "CREATE VIRTUAL TABLE search_fts USING fts5 (name, whole, phone, tail, "
                       "body, tokenize = 'unicode61 remove_diacritics 2');"
                       "INSERT INTO search_fts (rowid, name, whole, phone, tail, body) VALUES "
                       "(5, '张\xE2\x80\x8B伟', '张伟', '13812345678', '87654321831', "
                       "'zhang.wei@example.com handover')",
                       &err) != SMILE_OK)
            abort();
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sql[] = "SELECT count(*) FROM search_fts WHERE search_fts MATCH $1";
    struct search_plan plan;
    struct smile_err err;
    struct store_stmt *st;
    struct buf b;

    smile_err_clear(&err);
    if (search_prepare_query((const char *)data, size, &plan, &err) == SMILE_OK) {
        if (plan.match == NULL || plan.needles == NULL || plan.nterms < 1 ||
            plan.nterms > SEARCH_QUERY_MAX_TERMS || strlen(plan.key) > SEARCH_KEY_MAX)
            abort();
        check_quoting(plan.match);
        if (store_prepare(db(), sql, &st, &err) != SMILE_OK)
            abort();
        store_stmt_bind_text(st, 1, plan.match, -1);
        if (store_stmt_step(st, &err) != STORE_ROW)
            abort(); /* FTS5 refused the expression: a syntax error we produced */
        store_stmt_reset(st);
        search_plan_free(&plan);
    } else if (plan.match != NULL || err.msg[0] == '\0') {
        abort();
    }
    buf_init(&b, 0);
    search_prepare_text((const char *)data, size, &b);
    if (b.len && !valid_utf8((const unsigned char *)b.data, b.len))
        abort();
    buf_reset(&b);
    search_prepare_key((const char *)data, size, &b);
    if (b.len > SEARCH_KEY_MAX || (b.len && !valid_utf8((const unsigned char *)b.data, b.len)))
        abort();
    buf_free(&b);
    return 0;
}
