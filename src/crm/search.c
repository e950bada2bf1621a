/*
 * search.c — the CRM's full-text index and its queries. Records reach the index through
 * search_index_put / search_index_delete, which the CRM calls inside the transaction that
 * changes the record; GET /api/v1/search reaches search_query. The index is a row of
 * search_docs per record (its id is ref_id * 4 + kind code, so the kind of an FTS row is
 * known without a join) and the external-content FTS5 table search_fts over it, kept in
 * step by triggers (see the migration's search section).
 *
 * FTS5's unicode61 tokenizer splits on anything that is not a letter or digit, so a run of
 * Chinese would be one token and "伟" could never find "张伟"; its trigram tokenizer finds
 * nothing for queries under three characters. So the text is prepared here: a ZERO WIDTH
 * SPACE goes between every CJK character and its neighbours (each character becomes a
 * token) and a CJK query becomes the phrase of its characters, which is substring
 * matching. Phones are indexed forwards (prefix queries: "138") and reversed (so the last
 * digits "5678" are the prefix "8765" of the reversed number: one token per phone instead
 * of every suffix). The whole title, stripped to letters and digits, is a column of its
 * own: matching it is an exact match, weighted to come first.
 *
 * Record formats (one row of search_docs; FTS columns in this order):
 *
 *   column | holds                                     | matched by                | weight
 *   name   | prepared title                            | every term                | 10
 *   whole  | search_prepare_key(title), one token      | the whole query's key     | 100
 *   phone  | phone digits, space-separated             | every term (prefix)       | 4
 *   tail   | phone digits reversed, space-separated    | all-digit terms ≥ 3 long  | 20
 *   body   | prepared texts joined by "\n"             | every term                | 1
 */
#include "crm/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

#define ZWSP_UTF8 "\xE2\x80\x8B"
#define MATCH_MAX (64 * 1024)

/* Kind names with their rowid code (ref_id * 4 + code) and rank weight. */
static const struct {
    const char *name;
    int code;
} kinds[] = {{"customer", 1}, {"case", 2}, {"interaction", 3}};

static int
kind_code(const char *kind)
{
    if (kind == NULL)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].name, kind) == 0)
            return kinds[i].code;
    return 0;
}

bool
search_kind_valid(const char *kind)
{
    return kind_code(kind) != 0;
}

/* UTF-8 ----------------------------------------------------------------------------- */

/*
 * Decodes one code point of p[0..n); returns its length, or 0 for an invalid sequence
 * (overlong, surrogate, beyond U+10FFFF, truncated).
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        c = p[0] & 0x1F;
        len = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        c = p[0] & 0x0F;
        len = 3;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        c = p[0] & 0x07;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

static void
utf8_put(struct buf *b, uint32_t c)
{
    char s[4];

    if (c < 0x80) {
        s[0] = (char)c;
        buf_append(b, s, 1);
    } else if (c < 0x800) {
        s[0] = (char)(0xC0 | (c >> 6));
        s[1] = (char)(0x80 | (c & 0x3F));
        buf_append(b, s, 2);
    } else if (c < 0x10000) {
        s[0] = (char)(0xE0 | (c >> 12));
        s[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        s[2] = (char)(0x80 | (c & 0x3F));
        buf_append(b, s, 3);
    } else {
        s[0] = (char)(0xF0 | (c >> 18));
        s[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        s[3] = (char)(0x80 | (c & 0x3F));
        buf_append(b, s, 4);
    }
}

/*
 * Full-width digits and Latin letters to ASCII (Chinese input methods type both). Full-width
 * punctuation is left alone: it separates tokens either way and reads better unchanged.
 */
static uint32_t
fold(uint32_t c)
{
    if ((c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) ||
        (c >= 0xFF41 && c <= 0xFF5A))
        return c - 0xFEE0;
    return c;
}

/* Characters written one token each: Han, kana, bopomofo, Hangul syllables. */
static bool
is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x3134F) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x3041 && c <= 0x3096) || (c >= 0x309D && c <= 0x309F) ||
           (c >= 0x30A1 && c <= 0x30FA) || (c >= 0x30FC && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3105 && c <= 0x312F) ||
           (c >= 0x31A0 && c <= 0x31BF) || (c >= 0xAC00 && c <= 0xD7A3) ||
           (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029);
}

/*
 * Characters that unicode61 certainly treats as separators (punctuation, symbols,
 * spaces, controls). Anything not listed counts as part of a token: a wrong "token" only
 * costs an empty phrase for a term made of nothing else, a wrong "separator" would split
 * what the index keeps whole (see docs/search.md).
 */
static bool
is_sep(uint32_t c)
{
    if (c < 0x80)
        return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    if (c < 0xA0)
        return true;
    if (c <= 0xBF)
        return !(c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
                 (c >= 0xBC && c <= 0xBE));
    if (c == 0xD7 || c == 0xF7)
        return true;
    return (c >= 0x2000 && c <= 0x206F) || (c >= 0x20A0 && c <= 0x20CF) ||
           (c >= 0x2190 && c <= 0x23FF) || (c >= 0x2500 && c <= 0x2775) ||
           (c >= 0x2794 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x3004) ||
           (c >= 0x3008 && c <= 0x3020) || c == 0x3030 || (c >= 0x303D && c <= 0x303F) ||
           c == 0x30A0 || c == 0x30FB || (c >= 0xFE10 && c <= 0xFE1F) ||
           (c >= 0xFE30 && c <= 0xFE6F) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
           (c >= 0xFF5B && c <= 0xFF65) || (c >= 0xFFE0 && c <= 0xFFEE) || c == 0xFEFF ||
           (c >= 0x1F000 && c <= 0x1FAFF);
}

/* Text preparation ------------------------------------------------------------------ */

void
search_prepare_text(const char *text, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    uint32_t prev = ' ';

    while (i < len && !buf_overflowed(out)) {
        uint32_t c;
        size_t n = utf8_decode(p + i, len - i, &c);

        if (n == 0) {
            c = ' ';
            n = 1;
        }
        i += n;
        if (c == 0x200B)
            continue;
        c = fold(c);
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
            c = ' ';
        if ((is_cjk(c) || is_cjk(prev)) && !is_sep(c) && !is_sep(prev))
            buf_puts(out, ZWSP_UTF8);
        utf8_put(out, c);
        prev = c;
    }
}

void
search_prepare_key(const char *text, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t start = out->len, i = 0;

    while (i < len) {
        uint32_t c;
        size_t n = utf8_decode(p + i, len - i, &c);

        if (n == 0) {
            i++;
            continue;
        }
        i += n;
        c = fold(c);
        if (is_sep(c) || c == 0x200B)
            continue;
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        utf8_put(out, c);
        if (out->len - start > SEARCH_KEY_MAX)
            break;
    }
    if (out->len - start > SEARCH_KEY_MAX || buf_overflowed(out)) {
        out->len = start;
        out->data[start] = '\0';
    }
}

size_t
search_prepare_phone(const char *phone, char *out)
{
    const unsigned char *p = (const unsigned char *)phone;
    size_t len = strlen(phone), i = 0, n = 0;

    while (i < len && n < SEARCH_PHONE_MAX_DIGITS) {
        uint32_t c;
        size_t k = utf8_decode(p + i, len - i, &c);

        if (k == 0) {
            i++;
            continue;
        }
        i += k;
        c = fold(c);
        if (c >= '0' && c <= '9')
            out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

/* Query preparation ----------------------------------------------------------------- */

/* One token-bearing piece of a term: a CJK character or a run of other token chars. */
struct seg {
    const char *p;
    size_t len;
    bool cjk;
    bool digits; /* ASCII digits only */
};

/* Appends s as an FTS5 string: in double quotes, quotes doubled. */
static void
put_quoted(struct buf *b, const char *s, size_t len)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            buf_putc(b, '"');
        buf_putc(b, s[i]);
    }
    buf_putc(b, '"');
}

/* Appends the phrase of segs: "a" + "b" + "c" *, the star only after a non-CJK last. */
static void
put_phrase(struct buf *b, const struct seg *segs, size_t nseg)
{
    for (size_t i = 0; i < nseg; i++) {
        if (i)
            buf_puts(b, " + ");
        put_quoted(b, segs[i].p, segs[i].len);
    }
    if (!segs[nseg - 1].cjk)
        buf_puts(b, " *");
}

/*
 * Splits one term (already folded, no whitespace) into segments pointing into t; returns
 * the count. Separators end a run and are dropped.
 */
static size_t
split_term(const char *t, size_t len, struct seg *segs, size_t max)
{
    const unsigned char *p = (const unsigned char *)t;
    size_t n = 0, i = 0;
    bool in_run = false;

    while (i < len && n < max) {
        uint32_t c;
        size_t k = utf8_decode(p + i, len - i, &c);

        /* The folded term is valid UTF-8 (search_prepare_query checked the input). */
        if (k == 0) {
            k = 1;
            c = ' ';
        }
        if (is_sep(c)) {
            in_run = false;
        } else if (is_cjk(c)) {
            segs[n++] = (struct seg){t + i, k, true, false};
            in_run = false;
        } else if (in_run) {
            segs[n - 1].len += k;
            segs[n - 1].digits = segs[n - 1].digits && c >= '0' && c <= '9';
        } else {
            segs[n++] = (struct seg){t + i, k, false, c >= '0' && c <= '9'};
            in_run = true;
        }
        i += k;
    }
    return n;
}

/* Appends the expression of one term; fills digits when every segment is digits. */
static void
put_term(struct buf *m, const struct seg *segs, size_t nseg, char *digits, size_t digits_cap)
{
    bool all_digits = true;
    size_t nd = 0;

    for (size_t i = 0; i < nseg; i++)
        all_digits = all_digits && segs[i].digits;
    if (all_digits) {
        for (size_t i = 0; i < nseg; i++) {
            size_t k = segs[i].len;

            if (nd + k >= digits_cap)
                k = digits_cap - 1 - nd;
            memcpy(digits + nd, segs[i].p, k);
            nd += k;
        }
        digits[nd] = '\0';
    }
    buf_puts(m, "({name phone body} : (");
    put_phrase(m, segs, nseg);
    buf_putc(m, ')');
    if (all_digits && nseg > 1) {
        /* "138-1234-5678" is also the phone 13812345678. */
        buf_puts(m, " OR {phone} : (");
        put_quoted(m, digits, nd);
        buf_puts(m, " *)");
    }
    if (all_digits && nd >= SEARCH_TAIL_MIN) {
        char rev[SEARCH_PHONE_MAX_DIGITS + 1];

        for (size_t i = 0; i < nd; i++)
            rev[i] = digits[nd - 1 - i];
        buf_puts(m, " OR {tail} : (");
        put_quoted(m, rev, nd);
        buf_puts(m, " *)");
    }
    buf_putc(m, ')');
}

int
search_prepare_query(const char *q, size_t len, struct search_plan *out, struct smile_err *err)
{
    const unsigned char *p = (const unsigned char *)q;
    struct buf folded, m, key, needles;
    struct seg segs[SEARCH_QUERY_MAX_BYTES];
    char digits[SEARCH_PHONE_MAX_DIGITS + 1];
    size_t i = 0, nwords = 0, digit_terms = 0;
    int rc = SMILE_OK;

    memset(out, 0, sizeof(*out));
    if (len > SEARCH_QUERY_MAX_BYTES)
        return smile_err_set(err, SMILE_EINVAL, "the query is longer than %d bytes",
                             SEARCH_QUERY_MAX_BYTES);
    buf_init(&folded, 0);
    buf_init(&m, MATCH_MAX);
    buf_init(&key, 0);
    buf_init(&needles, 0);
    /* Fold, check UTF-8 and turn every kind of whitespace and control into one space. */
    while (i < len) {
        uint32_t c;
        size_t k = utf8_decode(p + i, len - i, &c);

        if (k == 0) {
            rc = smile_err_set(err, SMILE_EINVAL, "the query is not valid UTF-8");
            goto out;
        }
        i += k;
        c = fold(c);
        if (c <= 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) || (c >= 0x2000 && c <= 0x200B) ||
            c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF)
            c = ' ';
        utf8_put(&folded, c);
    }
    /* Each whitespace-separated term: a phrase, ANDed with the others. */
    for (size_t s = 0; s < folded.len;) {
        size_t e = s, nseg;
        char d[SEARCH_PHONE_MAX_DIGITS + 1] = "";

        while (e < folded.len && folded.data[e] != ' ')
            e++;
        nseg = split_term(folded.data + s, e - s, segs, ARRAY_LEN(segs));
        if (nseg > 0) {
            if (++nwords > SEARCH_QUERY_MAX_TERMS) {
                rc = smile_err_set(err, SMILE_EINVAL, "the query has more than %d terms",
                                   SEARCH_QUERY_MAX_TERMS);
                goto out;
            }
            if (nwords > 1)
                buf_puts(&m, " AND ");
            put_term(&m, segs, nseg, d, sizeof(d));
            buf_append(&needles, segs[0].p, segs[0].len);
            for (size_t k = 1; segs[0].cjk && k < nseg && segs[k].cjk; k++)
                buf_append(&needles, segs[k].p, segs[k].len);
            buf_putc(&needles, '\0');
            if (d[0]) {
                digit_terms++;
                memcpy(digits, d, sizeof(d));
            }
        }
        s = e < folded.len ? e + 1 : e;
    }
    if (nwords == 0) {
        rc = smile_err_set(err, SMILE_EINVAL, "the query has no letter or digit to search for");
        goto out;
    }
    search_prepare_key(folded.data, folded.len, &key);
    if (key.len > 0) {
        /* Exact titles: the whole query against the whole-title column. */
        struct buf full;

        buf_init(&full, MATCH_MAX);
        buf_puts(&full, "(");
        buf_append(&full, m.data, m.len);
        buf_puts(&full, ") OR {whole} : (");
        put_quoted(&full, key.data, key.len);
        buf_putc(&full, ')');
        buf_free(&m);
        m = full;
        memcpy(out->key, key.data, key.len + 1);
    }
    if (buf_overflowed(&m)) {
        rc = smile_err_set(err, SMILE_EINVAL, "the query is too complex");
        goto out;
    }
    if (nwords == 1 && digit_terms == 1)
        memcpy(out->digits, digits, sizeof(digits));
    out->nterms = (int)nwords;
    out->match = buf_steal(&m);
    buf_putc(&needles, '\0');
    out->needles = buf_steal(&needles);
out:
    buf_free(&folded);
    buf_free(&m);
    buf_free(&key);
    buf_free(&needles);
    if (rc != SMILE_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

void
search_plan_free(struct search_plan *p)
{
    if (p == NULL)
        return;
    free(p->match);
    free(p->needles);
    p->match = NULL;
    p->needles = NULL;
}

/* Index ----------------------------------------------------------------------------- */

static int
doc_id(const char *kind, int64_t id, int64_t *out, struct smile_err *err)
{
    int code = kind_code(kind);

    if (code == 0)
        return smile_err_set(err, SMILE_EINVAL, "unknown search kind '%s'", kind ? kind : "");
    if (id <= 0 || id > (INT64_MAX - 3) / 4)
        return smile_err_set(err, SMILE_EINVAL, "search id %lld is out of range", (long long)id);
    *out = id * 4 + code;
    return SMILE_OK;
}

/* Adds the phone's digits to the forward and reversed lists (and the national form). */
static void
put_phone(const char *phone, struct buf *fwd, struct buf *rev)
{
    char d[SEARCH_PHONE_MAX_DIGITS + 1];
    size_t n = search_prepare_phone(phone, d);

    if (n == 0)
        return;
    if (fwd->len)
        buf_putc(fwd, ' ');
    buf_append(fwd, d, n);
    /* +86 / 0086 before an 11-digit mobile: also the number as dialled at home. */
    if ((n == 13 && memcmp(d, "86", 2) == 0 && d[2] == '1') ||
        (n == 15 && memcmp(d, "0086", 4) == 0 && d[4] == '1')) {
        buf_putc(fwd, ' ');
        buf_append(fwd, d + n - 11, 11);
    }
    if (rev->len)
        buf_putc(rev, ' ');
    for (size_t i = 0; i < n; i++)
        buf_putc(rev, d[n - 1 - i]);
}

int
search_index_put(struct store *s, const char *kind, int64_t id, const char *title,
                 const char *const *texts, size_t ntexts, const char *const *phones, size_t nphones,
                 struct smile_err *err)
{
    /* The triggers on search_docs keep search_fts in step; an unchanged row is left alone. */
    static const char sql[] =
        "INSERT INTO search_docs (id, kind, ref_id, title, name, whole, phone, tail, body) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (id) DO UPDATE SET title = excluded.title, name = excluded.name, "
        "whole = excluded.whole, phone = excluded.phone, tail = excluded.tail, "
        "body = excluded.body WHERE search_docs.title IS NOT excluded.title "
        "OR search_docs.phone IS NOT excluded.phone OR search_docs.body IS NOT excluded.body";
    struct buf shown, name, whole, fwd, rev, body;
    struct store_stmt *st;
    int64_t rowid = 0;
    int rc;

    rc = doc_id(kind, id, &rowid, err);
    if (rc != SMILE_OK)
        return rc;
    if (title == NULL)
        title = "";
    buf_init(&shown, 0);
    /* The title is shown as it is, so it must be valid UTF-8 (JSON): bad bytes become '?'. */
    for (size_t i = 0, tl = strlen(title); i < tl;) {
        uint32_t c;
        size_t n = utf8_decode((const unsigned char *)title + i, tl - i, &c);

        if (n == 0) {
            buf_putc(&shown, '?');
            n = 1;
        } else {
            buf_append(&shown, title + i, n);
        }
        i += n;
    }
    title = shown.data ? shown.data : "";
    buf_init(&name, SEARCH_BODY_MAX);
    buf_init(&whole, 0);
    buf_init(&fwd, 0);
    buf_init(&rev, 0);
    buf_init(&body, SEARCH_BODY_MAX);
    search_prepare_text(title, strlen(title), &name);
    search_prepare_key(title, strlen(title), &whole);
    for (size_t i = 0; i < nphones; i++)
        if (phones[i])
            put_phone(phones[i], &fwd, &rev);
    for (size_t i = 0; i < ntexts; i++) {
        if (texts[i] == NULL || texts[i][0] == '\0')
            continue;
        if (body.len)
            buf_putc(&body, '\n');
        search_prepare_text(texts[i], strlen(texts[i]), &body);
    }
    rc = store_prepare(s, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, rowid);
        store_stmt_bind_text(st, 2, kind, -1);
        store_stmt_bind_int64(st, 3, id);
        store_stmt_bind_text(st, 4, title, -1);
        store_stmt_bind_text(st, 5, name.data ? name.data : "", (int64_t)name.len);
        store_stmt_bind_text(st, 6, whole.data ? whole.data : "", (int64_t)whole.len);
        store_stmt_bind_text(st, 7, fwd.data ? fwd.data : "", (int64_t)fwd.len);
        store_stmt_bind_text(st, 8, rev.data ? rev.data : "", (int64_t)rev.len);
        store_stmt_bind_text(st, 9, body.data ? body.data : "", (int64_t)body.len);
        rc = store_stmt_step(st, err);
        rc = rc == STORE_DONE ? SMILE_OK : rc;
        store_stmt_reset(st);
    }
    buf_free(&shown);
    buf_free(&name);
    buf_free(&whole);
    buf_free(&fwd);
    buf_free(&rev);
    buf_free(&body);
    return rc;
}

int
search_index_delete(struct store *s, const char *kind, int64_t id, struct smile_err *err)
{
    static const char sql[] = "DELETE FROM search_docs WHERE id = $1";
    struct store_stmt *st;
    int64_t rowid = 0;
    int rc;

    rc = doc_id(kind, id, &rowid, err);
    if (rc != SMILE_OK)
        return rc;
    rc = store_prepare(s, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, rowid);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Query ----------------------------------------------------------------------------- */

/* True if one of the space-separated numbers in list ends with digits. */
static bool
phone_ends_with(const char *list, const char *digits)
{
    size_t nd = strlen(digits);

    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        if (n >= nd && memcmp(p + n - nd, digits, nd) == 0)
            return true;
        p += n;
        if (*p == ' ')
            p++;
    }
    return false;
}

/* Steps back or forward over whole UTF-8 characters. */
static size_t
cp_back(const char *s, size_t i, int n)
{
    while (n-- > 0 && i > 0) {
        i--;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
    }
    return i;
}

static size_t
cp_fwd(const char *s, size_t len, size_t i, int n)
{
    while (n-- > 0 && i < len) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/*
 * The snippet of a hit: its texts as displayed (prepared body without the ZERO WIDTH
 * SPACEs, texts split by " · "), cut to SNIPPET_CHARS characters from SNIPPET_BEFORE
 * before the first place a needle occurs (ASCII letters compared without case), "…"
 * marking a cut. NULL when the record has no text.
 */
#define SNIPPET_CHARS 48
#define SNIPPET_BEFORE 12
static char *
make_snippet(const char *body, const char *needles)
{
    struct buf d, b;
    size_t at = SIZE_MAX, from, to;

    if (body == NULL || body[0] == '\0')
        return NULL;
    buf_init(&d, 0);
    for (const char *p = body; *p; p++) {
        if (memcmp(p, ZWSP_UTF8, 3) == 0)
            p += 2;
        else if (*p == '\n')
            buf_puts(&d, " \xC2\xB7 ");
        else
            buf_putc(&d, *p);
    }
    for (const char *n = needles; n && *n; n += strlen(n) + 1) {
        size_t k = strlen(n);

        for (size_t i = 0; i + k <= d.len && i < at; i++) {
            if (strncasecmp(d.data + i, n, k) == 0) {
                at = i;
                break;
            }
        }
    }
    from = at == SIZE_MAX ? 0 : cp_back(d.data, at, SNIPPET_BEFORE);
    to = cp_fwd(d.data, d.len, from, SNIPPET_CHARS);
    buf_init(&b, 0);
    if (from > 0)
        buf_puts(&b, "\xE2\x80\xA6");
    buf_append(&b, d.data + from, to - from);
    if (to < d.len)
        buf_puts(&b, "\xE2\x80\xA6");
    buf_free(&d);
    return buf_steal(&b);
}

static int
cmp_hits(const void *a, const void *b)
{
    const struct search_hit *x = a, *y = b;

    if (x->exact != y->exact)
        return x->exact ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return strcmp(x->kind, y->kind);
}

int
search_query(struct store *s, const char *q, const char *kind, int limit, struct search_result *out,
             struct smile_err *err)
{
    /*
     * The inner query ranks every match using the FTS index alone (the kind is rowid % 4),
     * so only the rows kept by LIMIT are joined with search_docs.
     */
    static const char sql[] =
        "SELECT d.id, d.ref_id, d.title, d.whole, d.phone, m.score, d.body FROM ("
        "SELECT rowid AS rid, -bm25(search_fts, 10.0, 100.0, 4.0, 20.0, 1.0) * "
        "CASE rowid % 4 WHEN 1 THEN 1.0 WHEN 2 THEN 0.8 ELSE 0.6 END AS score "
        "FROM search_fts WHERE search_fts MATCH $1 AND ($2 IS NULL OR rowid % 4 = $2) "
        "ORDER BY score DESC, rid LIMIT $3) AS m JOIN search_docs d ON d.id = m.rid "
        "ORDER BY m.score DESC, m.rid";
    struct search_plan plan;
    struct store_stmt *st = NULL;
    int code = 0, rc;

    memset(out, 0, sizeof(*out));
    if (kind != NULL && (code = kind_code(kind)) == 0)
        return smile_err_set(err, SMILE_EINVAL, "kind must be customer, case or interaction");
    if (limit < 1 || limit > 500)
        return smile_err_set(err, SMILE_EINVAL, "limit must be from 1 to 500");
    rc = search_prepare_query(q, strlen(q), &plan, err);
    if (rc != SMILE_OK)
        return rc;
    out->hits = xcalloc((size_t)limit, sizeof(*out->hits));
    rc = store_prepare(s, sql, &st, err);
    if (rc != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, plan.match, -1);
    if (code)
        store_stmt_bind_int64(st, 2, code);
    else
        store_stmt_bind_null(st, 2);
    store_stmt_bind_int64(st, 3, limit);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW && out->n < (size_t)limit) {
        struct search_hit *h = &out->hits[out->n++];
        int64_t rowid = store_stmt_int64(st, 0);
        const char *whole = store_stmt_text(st, 3), *phone = store_stmt_text(st, 4);

        h->kind = kinds[(rowid % 4) - 1].name;
        h->id = store_stmt_int64(st, 1);
        h->title = xstrdup(store_stmt_text(st, 2) ? store_stmt_text(st, 2) : "");
        h->score = store_stmt_double(st, 5);
        h->exact = (plan.key[0] && whole && strcmp(whole, plan.key) == 0) ||
                   (strlen(plan.digits) >= SEARCH_TAIL_MIN && phone &&
                    phone_ends_with(phone, plan.digits));
        h->snippet = make_snippet(store_stmt_text(st, 6), plan.needles);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        goto out;
    qsort(out->hits, out->n, sizeof(*out->hits), cmp_hits);
    rc = SMILE_OK;
out:
    search_plan_free(&plan);
    if (rc != SMILE_OK)
        search_result_free(out);
    return rc;
}

void
search_result_free(struct search_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->hits[i].title);
        free(r->hits[i].snippet);
    }
    free(r->hits);
    r->hits = NULL;
    r->n = 0;
}
