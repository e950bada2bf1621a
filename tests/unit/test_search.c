/*
 * test_search.c — unit tests of crm/search: the pure text, key, phone and query
 * preparation, then the index against a real SQLite file (store_open + store_migrate on a
 * temporary path): Chinese substring matching, phone prefix and last digits, English
 * prefixes, exact matches first, kind filter, limit, re-indexing, deletes, and FTS5
 * syntax in queries. Every expected value is worked out by hand in the comments.
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

#include "crm/search.h"
#include "store/store.h"

#define ZW "\xE2\x80\x8B" /* U+200B ZERO WIDTH SPACE */

static char *
text(const char *in)
{
    struct buf b;

    buf_init(&b, 0);
    search_prepare_text(in, strlen(in), &b);
    return buf_steal(&b);
}

static char *
key(const char *in)
{
    struct buf b;

    buf_init(&b, 0);
    search_prepare_key(in, strlen(in), &b);
    return buf_steal(&b);
}

static void
test_prepare_text(void **state)
{
    struct {
        const char *in, *want;
    } cases[] = {
        /* Two Han characters: one ZWSP between them, so each is its own token. */
        {"张伟", "张" ZW "伟"},
        /* Latin next to Han is separated too; the Latin run stays whole. */
        {"VIP客户", "VIP" ZW "客" ZW "户"},
        /* A space or punctuation already separates: nothing is added. */
        {"张 伟", "张 伟"},
        {"张，伟", "张，伟"},
        /* Text without CJK passes unchanged. */
        {"zhang.wei@example.com", "zhang.wei@example.com"},
        /* Full-width digits and letters fold to ASCII; the ideographic space (U+3000) and
         * full-width punctuation stay as they are (they separate tokens anyway). */
        {"１３８\xE3\x80\x80"
         "Ａ，",
         "138\xE3\x80\x80"
         "A，"},
        /* A ZWSP in the input is dropped (so stripping ZWSPs gives the text back). */
        {"a" ZW "b", "ab"},
        /* Invalid UTF-8 and control characters become spaces; tab and newline stay. */
        {"a\xFF"
         "b\x01"
         "c\td\n",
         "a b c\td\n"},
        /* A digit next to Han is split from it: "3号" → "3", "号". */
        {"3号楼", "3" ZW "号" ZW "楼"},
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *got = text(cases[i].in);

        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

static void
test_prepare_key(void **state)
{
    char long_title[200];
    char *got;

    (void)state;
    got = key("张伟");
    assert_string_equal(got, "张伟");
    free(got);
    /* Lower-cased, separators (space, dot) removed. */
    got = key("Acme Ltd.");
    assert_string_equal(got, "acmeltd");
    free(got);
    got = key("  -- ");
    assert_string_equal(got, "");
    free(got);
    /* 129 ASCII letters exceed SEARCH_KEY_MAX (128): no key at all. */
    memset(long_title, 'a', 129);
    long_title[129] = '\0';
    got = key(long_title);
    assert_string_equal(got, "");
    free(got);
    /* 128 letters fit exactly. */
    long_title[128] = '\0';
    got = key(long_title);
    assert_int_equal(strlen(got), 128);
    free(got);
}

static void
test_prepare_phone(void **state)
{
    char d[SEARCH_PHONE_MAX_DIGITS + 1];

    (void)state;
    /* Only the digits: 86, 138, 1234, 5678 → 13 digits. */
    assert_int_equal(search_prepare_phone("+86 138-1234-5678", d), 13);
    assert_string_equal(d, "8613812345678");
    /* Full-width digits fold. */
    assert_int_equal(search_prepare_phone("１３８", d), 3);
    assert_string_equal(d, "138");
    assert_int_equal(search_prepare_phone("n/a", d), 0);
    assert_string_equal(d, "");
}

static void
expect_match(const char *q, const char *want_match, const char *want_key, const char *want_digits)
{
    struct search_plan plan;
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(search_prepare_query(q, strlen(q), &plan, &err), SMILE_OK);
    assert_string_equal(plan.match, want_match);
    assert_string_equal(plan.key, want_key);
    assert_string_equal(plan.digits, want_digits);
    search_plan_free(&plan);
}

static void
expect_refused(const char *q, size_t len)
{
    struct search_plan plan;
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(search_prepare_query(q, len, &plan, &err), SMILE_EINVAL);
    assert_true(err.msg[0] != '\0');
    assert_null(plan.match);
}

static void
test_prepare_query(void **state)
{
    char big[300];

    (void)state;
    /* One Han character: a one-token phrase over name/phone/body, no prefix star (a CJK
     * token is one character); the key "伟" against the whole-title column. */
    expect_match("伟", "(({name phone body} : (\"伟\"))) OR {whole} : (\"伟\")", "伟", "");
    /* Two characters: the phrase 张 + 伟 (adjacent tokens = substring). */
    expect_match("张伟", "(({name phone body} : (\"张\" + \"伟\"))) OR {whole} : (\"张伟\")",
                 "张伟", "");
    /* A Latin word: prefix on the last token. */
    expect_match("Hand", "(({name phone body} : (\"Hand\" *))) OR {whole} : (\"hand\")", "hand",
                 "");
    /* Four digits: prefix anywhere, or the reversed number's prefix in tail (8765). */
    expect_match("5678",
                 "(({name phone body} : (\"5678\" *) OR {tail} : (\"8765\" *))) OR "
                 "{whole} : (\"5678\")",
                 "5678", "5678");
    /* Two digits: shorter than SEARCH_TAIL_MIN (3), so no tail alternative. */
    expect_match("12", "(({name phone body} : (\"12\" *))) OR {whole} : (\"12\")", "12", "12");
    /* A dashed phone: the phrase of its groups, or the joined number as a phone prefix, or
     * the reversed joined number (13812345678 reversed is 87654321831) as a tail prefix. */
    expect_match("138-1234-5678",
                 "(({name phone body} : (\"138\" + \"1234\" + \"5678\" *) OR {phone} : "
                 "(\"13812345678\" *) OR {tail} : (\"87654321831\" *))) OR "
                 "{whole} : (\"13812345678\")",
                 "13812345678", "13812345678");
    /* Two terms are ANDed; digits are only kept for a one-term query. */
    expect_match("张 5678",
                 "(({name phone body} : (\"张\")) AND ({name phone body} : (\"5678\" *) OR "
                 "{tail} : (\"8765\" *))) OR {whole} : (\"张5678\")",
                 "张5678", "");
    /* Mixed Latin and Han in one term: vip + 客 + 户, no star after the Han last token. */
    expect_match("VIP客户",
                 "(({name phone body} : (\"VIP\" + \"客\" + \"户\"))) OR {whole} : (\"vip客户\")",
                 "vip客户", "");
    /* FTS5 syntax is only separators to us: quotes, stars, parentheses, minus and colons
     * never reach the expression outside a quoted string. NEAR is just a word. */
    expect_match("\"张伟\"*", "(({name phone body} : (\"张\" + \"伟\"))) OR {whole} : (\"张伟\")",
                 "张伟", "");
    expect_match("NEAR(a b)",
                 "(({name phone body} : (\"NEAR\" + \"a\" *)) AND ({name phone body} : (\"b\" "
                 "*))) OR {whole} : (\"nearab\")",
                 "nearab", "");
    expect_match("-x {name}:y",
                 "(({name phone body} : (\"x\" *)) AND ({name phone body} : (\"name\" + \"y\" "
                 "*))) OR {whole} : (\"xnamey\")",
                 "xnamey", "");
    /* Full-width digits fold before anything else. */
    expect_match("５６７８",
                 "(({name phone body} : (\"5678\" *) OR {tail} : (\"8765\" *))) OR "
                 "{whole} : (\"5678\")",
                 "5678", "5678");

    /* Refused: empty, blank, punctuation only, invalid UTF-8, too long, too many terms. */
    expect_refused("", 0);
    expect_refused("   ", 3);
    expect_refused("\"*()-", 5);
    expect_refused("\xE5\xBC", 2); /* a truncated 张 */
    memset(big, 'a', sizeof(big));
    expect_refused(big, SEARCH_QUERY_MAX_BYTES + 1);
    /* 17 one-letter terms "a a a …": one more than SEARCH_QUERY_MAX_TERMS (16). */
    for (int i = 0; i < 17; i++) {
        big[2 * i] = 'a';
        big[2 * i + 1] = ' ';
    }
    expect_refused(big, 34);
    /* 16 terms are fine. */
    {
        struct search_plan plan;
        struct smile_err err;

        smile_err_clear(&err);
        assert_int_equal(search_prepare_query(big, 32, &plan, &err), SMILE_OK);
        assert_int_equal(plan.nterms, 16);
        search_plan_free(&plan);
    }
}

/* Index tests ----------------------------------------------------------------------- */

struct fixture {
    char dir[64];
    char path[96];
    struct store *s;
};

static int
setup_db(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct smile_err err;

    smile_err_clear(&err);
    snprintf(f->dir, sizeof(f->dir), "/tmp/smile-test-search-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    if (store_open(f->path, STORE_CREATE, &f->s, &err) != SMILE_OK ||
        store_migrate(f->s, &err) != SMILE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown_db(void **state)
{
    struct fixture *f = *state;
    char p[128];

    store_close(f->s);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
put(struct store *s, const char *kind, int64_t id, const char *title, const char *t1,
    const char *p1)
{
    struct smile_err err;
    const char *texts[1] = {t1}, *phones[1] = {p1};

    smile_err_clear(&err);
    assert_int_equal(
        search_index_put(s, kind, id, title, texts, t1 ? 1 : 0, phones, p1 ? 1 : 0, &err),
        SMILE_OK);
}

/*
 * The data every index test starts from:
 *   customer 1  张伟     13812345678        zhang.wei@example.com
 *   customer 2  李伟     13900001111        li.wei@example.com
 *   customer 3  张伟明   +86 137 0000 5678  (no text)
 *   customer 4  王芳     15856781234        (5678 in the middle, 1234 at the end)
 *   case 1      "Handover of unit 3-1201", "客户张伟要求交房"
 *   case 2      "报修", "工单号 5678"
 *   interaction 1  "回访", "和张伟通话，确认 handover 时间"
 *   interaction 2  "张伟张伟", "张伟张伟张伟张伟张伟" (many 张伟, title not exactly 张伟)
 */
static void
seed(struct store *s)
{
    put(s, "customer", 1, "张伟", "zhang.wei@example.com", "13812345678");
    put(s, "customer", 2, "李伟", "li.wei@example.com", "13900001111");
    put(s, "customer", 3, "张伟明", NULL, "+86 137 0000 5678");
    put(s, "customer", 4, "王芳", NULL, "15856781234");
    put(s, "case", 1, "Handover of unit 3-1201", "客户张伟要求交房", NULL);
    put(s, "case", 2, "报修", "工单号 5678", NULL);
    put(s, "interaction", 1, "回访", "和张伟通话，确认 handover 时间", NULL);
    put(s, "interaction", 2, "张伟张伟", "张伟张伟张伟张伟张伟", NULL);
}

/* Runs q and returns the hits as "c1 c3 k2 i1" (c customer, k case, i interaction) in the
 * order returned; exact hits are marked with '!'. */
static char *
run(struct store *s, const char *q, const char *kind, int limit, struct search_result *keep)
{
    struct search_result r;
    struct smile_err err;
    struct buf b;

    smile_err_clear(&err);
    assert_int_equal(search_query(s, q, kind, limit, &r, &err), SMILE_OK);
    buf_init(&b, 0);
    for (size_t i = 0; i < r.n; i++) {
        char c = r.hits[i].kind[0] == 'c' ? (r.hits[i].kind[1] == 'u' ? 'c' : 'k') : 'i';

        buf_printf(&b, "%s%c%lld%s", i ? " " : "", c, (long long)r.hits[i].id,
                   r.hits[i].exact ? "!" : "");
    }
    if (keep)
        *keep = r;
    else
        search_result_free(&r);
    return buf_steal(&b);
}

/* Sorts the space-separated words of s so that sets compare regardless of rank order. */
static char *
sorted(char *s)
{
    char *w[64];
    size_t n = 0;
    struct buf b;

    for (char *p = s; *p && n < 64;) {
        w[n++] = p;
        p = strchr(p, ' ');
        if (p == NULL)
            break;
        *p++ = '\0';
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(w[j - 1], w[j]) > 0; j--) {
            char *t = w[j];

            w[j] = w[j - 1];
            w[j - 1] = t;
        }
    buf_init(&b, 0);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", w[i]);
    free(s);
    return buf_steal(&b);
}

static void
expect_set(struct store *s, const char *q, const char *kind, const char *want)
{
    char *got = sorted(run(s, q, kind, 50, NULL));

    if (strcmp(got, want) != 0)
        fprintf(stderr, "query '%s': got '%s', want '%s'\n", q, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void
test_chinese_substring(void **state)
{
    struct fixture *f = *state;

    seed(f->s);
    /* 伟 is in 张伟, 李伟, 张伟明, case 1's 张伟, interaction 1's 张伟 and interaction 2. */
    expect_set(f->s, "伟", NULL, "c1 c2 c3 i1 i2 k1");
    /* 张伟 as a whole: not 李伟; customer 1's title is exactly 张伟 (exact). */
    expect_set(f->s, "张伟", NULL, "c1! c3 i1 i2 k1");
    /* 张 alone: the same records minus nothing new (李伟 has no 张). */
    expect_set(f->s, "张", NULL, "c1 c3 i1 i2 k1");
    expect_set(f->s, "李伟", NULL, "c2!");
    /* Order matters: no text contains 伟张 … except interaction 2 (张伟张伟 has 伟张). */
    expect_set(f->s, "伟张", NULL, "i2");
    /* 伟明 only in 张伟明; 交房 only in case 1. */
    expect_set(f->s, "伟明", NULL, "c3");
    expect_set(f->s, "交房", NULL, "k1");
    /* A character nobody has. */
    expect_set(f->s, "赵", NULL, "");
}

static void
test_phone(void **state)
{
    struct fixture *f = *state;

    seed(f->s);
    /* Last four 5678: customer 1 (13812345678) and customer 3 (8613700005678) end with it
     * (exact); case 2 has the token 5678 in its text; customer 4 has 5678 only in the middle
     * (15856781234) and is not found. */
    expect_set(f->s, "5678", NULL, "c1! c3! k2");
    /* Prefix 138: only customer 1's number starts with it; not exact (it does not end with
     * 138). */
    expect_set(f->s, "138", NULL, "c1");
    /* 137 finds customer 3 through the national form of +86 137…. */
    expect_set(f->s, "137", NULL, "c3");
    /* 1234 ends customer 4's number; customer 1 has it only in the middle. */
    expect_set(f->s, "1234", NULL, "c4!");
    /* The full number, plain and dashed. */
    expect_set(f->s, "13812345678", NULL, "c1!");
    expect_set(f->s, "138-1234-5678", NULL, "c1!");
    /* Full-width digits fold. */
    expect_set(f->s, "５６７８", NULL, "c1! c3! k2");
}

static void
test_latin_prefix_and_mixed(void **state)
{
    struct fixture *f = *state;

    seed(f->s);
    /* "hand" is a prefix of Handover (case 1 title) and handover (interaction 1). */
    expect_set(f->s, "hand", NULL, "i1 k1");
    expect_set(f->s, "HANDOVER", NULL, "i1 k1");
    /* An e-mail address is a phrase of its words. */
    expect_set(f->s, "zhang.wei@example.com", NULL, "c1");
    /* wei is in both addresses (zhang.wei, li.wei). */
    expect_set(f->s, "wei", NULL, "c1 c2");
    expect_set(f->s, "example", NULL, "c1 c2");
    /* Mixed: 张 AND 5678 — customers 1 and 3 have both; case 2 has 5678 but no 张. */
    expect_set(f->s, "张 5678", NULL, "c1 c3");
    /* Case 1's "3-1201": the phrase 3 + 1201. */
    expect_set(f->s, "3-1201", NULL, "k1");
}

static void
test_ranking(void **state)
{
    struct fixture *f = *state;
    struct search_result r;
    char *got;

    seed(f->s);
    /* Exact title first: customer 1 (张伟) before interaction 2, whose text holds 张伟 seven
     * times; the rest follow by score. */
    got = run(f->s, "张伟", NULL, 50, &r);
    assert_true(strncmp(got, "c1! ", 4) == 0);
    for (size_t i = 1; i < r.n; i++) {
        assert_false(r.hits[i].exact);
        assert_true(r.hits[i].score <= r.hits[i - 1].score);
    }
    assert_string_equal(r.hits[0].title, "张伟");
    /* The snippet is customer 1's text, without ZWSPs. */
    assert_string_equal(r.hits[0].snippet, "zhang.wei@example.com");
    search_result_free(&r);
    free(got);
    /* Exact phone matches first: the two numbers ending in 5678, then case 2. */
    got = run(f->s, "5678", NULL, 50, NULL);
    assert_true(strcmp(got, "c1! c3! k2") == 0 || strcmp(got, "c3! c1! k2") == 0);
    free(got);
    /* Snippet of interaction 1 for "hand": its whole body (10 tokens, under the 24-token
     * window), ZWSPs removed. Customer 3 has no text: no snippet. */
    got = run(f->s, "handover", "interaction", 50, &r);
    assert_string_equal(got, "i1");
    assert_string_equal(r.hits[0].snippet, "和张伟通话，确认 handover 时间");
    assert_string_equal(r.hits[0].kind, "interaction");
    search_result_free(&r);
    free(got);
    got = run(f->s, "伟明", NULL, 50, &r);
    assert_null(r.hits[0].snippet);
    search_result_free(&r);
    free(got);
    /* A long text is cut around the first match: 60 天, "handover", 60 地. The match starts
     * at character 60; the window starts 12 characters earlier (at 48) and holds 48
     * characters: 12 天 + 8 letters of handover + 28 地, with "…" at both cut ends. */
    {
        struct buf body, want;

        buf_init(&body, 0);
        buf_init(&want, 0);
        for (int i = 0; i < 60; i++)
            buf_puts(&body, "天");
        buf_puts(&body, "handover");
        for (int i = 0; i < 60; i++)
            buf_puts(&body, "地");
        put(f->s, "interaction", 9, "长文本", body.data, NULL);
        buf_puts(&want, "…");
        for (int i = 0; i < 12; i++)
            buf_puts(&want, "天");
        buf_puts(&want, "handover");
        for (int i = 0; i < 28; i++)
            buf_puts(&want, "地");
        buf_puts(&want, "…");
        got = run(f->s, "HANDOVER 长", NULL, 50, &r);
        assert_string_equal(got, "i9");
        assert_string_equal(r.hits[0].snippet, want.data);
        search_result_free(&r);
        free(got);
        buf_free(&body);
        buf_free(&want);
    }
}

static void
test_exact_title_and_big_text(void **state)
{
    struct fixture *f = *state;
    struct buf big;

    /* A company: the key of "Acme Ltd." is "acmeltd"; the query "acme ltd" has the same key
     * (exact), "ACME" is a prefix match only, and a case titled "Acme Ltd. complaint" is not
     * exact for "acme ltd". */
    put(f->s, "customer", 7, "Acme Ltd.", "info@acme.example", NULL);
    put(f->s, "case", 7, "Acme Ltd. complaint", NULL, NULL);
    expect_set(f->s, "acme ltd", NULL, "c7! k7");
    expect_set(f->s, "ACME", NULL, "c7 k7");
    expect_set(f->s, "acmeltd", NULL, "c7!");
    /* A text beyond SEARCH_BODY_MAX (256 KiB) is cut, not refused: "handover" at the start
     * is found, "tailword" after 300,000 bytes of "x " is not. */
    buf_init(&big, 0);
    buf_puts(&big, "handover ");
    for (int i = 0; i < 150000; i++)
        buf_puts(&big, "x ");
    buf_puts(&big, "tailword");
    put(f->s, "interaction", 8, "big", big.data, NULL);
    buf_free(&big);
    expect_set(f->s, "handover", NULL, "i8");
    expect_set(f->s, "tailword", NULL, "");
}

static void
test_kind_and_limit(void **state)
{
    struct fixture *f = *state;
    struct search_result r;
    struct smile_err err;
    char *got;

    seed(f->s);
    expect_set(f->s, "伟", "case", "k1");
    expect_set(f->s, "伟", "customer", "c1 c2 c3");
    expect_set(f->s, "伟", "interaction", "i1 i2");
    /* 6 matches for 伟, limit 2: two hits. */
    got = run(f->s, "伟", NULL, 2, &r);
    assert_int_equal(r.n, 2);
    search_result_free(&r);
    free(got);
    smile_err_clear(&err);
    assert_int_equal(search_query(f->s, "伟", "contract", 10, &r, &err), SMILE_EINVAL);
    assert_int_equal(search_query(f->s, "伟", NULL, 0, &r, &err), SMILE_EINVAL);
    assert_int_equal(search_query(f->s, "伟", NULL, 501, &r, &err), SMILE_EINVAL);
    assert_int_equal(search_query(f->s, " ", NULL, 10, &r, &err), SMILE_EINVAL);
}

static void
test_update_and_delete(void **state)
{
    struct fixture *f = *state;
    struct smile_err err;
    int64_t n;

    seed(f->s);
    smile_err_clear(&err);
    /* Deleting customer 1: 张伟 now finds customer 3, case 1, interactions 1 and 2. */
    assert_int_equal(search_index_delete(f->s, "customer", 1, &err), SMILE_OK);
    expect_set(f->s, "张伟", NULL, "c3 i1 i2 k1");
    expect_set(f->s, "13812345678", NULL, "");
    /* Deleting again, or something never indexed, is fine. */
    assert_int_equal(search_index_delete(f->s, "customer", 1, &err), SMILE_OK);
    assert_int_equal(search_index_delete(f->s, "case", 99, &err), SMILE_OK);
    /* Re-indexing customer 3 under a new name and number replaces the old entry. */
    put(f->s, "customer", 3, "赵敏", NULL, "13600000000");
    expect_set(f->s, "张伟", NULL, "i1 i2 k1");
    expect_set(f->s, "赵敏", NULL, "c3!");
    expect_set(f->s, "5678", NULL, "k2");
    /* Putting the same content twice leaves one row (the upsert) and the FTS index agrees
     * with the documents (FTS5's integrity-check). */
    put(f->s, "customer", 3, "赵敏", NULL, "13600000000");
    assert_int_equal(store_query_int64(f->s,
                                       "SELECT count(*) FROM search_docs WHERE ref_id = 3 "
                                       "AND kind = 'customer'",
                                       &n, &err),
                     SMILE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(
        store_exec(f->s, "INSERT INTO search_fts (search_fts) VALUES ('integrity-check')", &err),
        SMILE_OK);
    /* Same ids of different kinds are different records: case 3 and customer 3. */
    put(f->s, "case", 3, "赵敏来电", NULL, NULL);
    expect_set(f->s, "赵敏", NULL, "c3! k3");
    /* Indexing joins the caller's transaction: rolled back, the record was never indexed;
     * committed, it is found. */
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    put(f->s, "customer", 50, "钱多多", NULL, NULL);
    store_rollback(f->s);
    expect_set(f->s, "钱多多", NULL, "");
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    put(f->s, "customer", 50, "钱多多", NULL, NULL);
    assert_int_equal(store_commit(f->s, &err), SMILE_OK);
    expect_set(f->s, "钱多多", NULL, "c50!");
    /* A title that is not valid UTF-8 is shown with '?' for each bad byte (results are JSON):
     * "赵\xFF敏" → "赵?敏"; it is still found by its characters. */
    {
        struct search_result r;
        char *got;

        put(f->s, "customer", 60, "赵\xFF敏", NULL, NULL);
        got = sorted(run(f->s, "敏", "customer", 50, &r));
        assert_string_equal(got, "c3 c60");
        assert_string_equal(r.hits[0].id == 60 ? r.hits[0].title : r.hits[1].title, "赵?敏");
        search_result_free(&r);
        free(got);
    }
    /* Bad kind or id. */
    assert_int_equal(search_index_put(f->s, "contract", 1, "x", NULL, 0, NULL, 0, &err),
                     SMILE_EINVAL);
    assert_int_equal(search_index_put(f->s, "customer", 0, "x", NULL, 0, NULL, 0, &err),
                     SMILE_EINVAL);
    assert_int_equal(
        search_index_put(f->s, "customer", INT64_MAX / 4 + 1, "x", NULL, 0, NULL, 0, &err),
        SMILE_EINVAL);
    assert_int_equal(search_index_delete(f->s, NULL, 1, &err), SMILE_EINVAL);
}

static void
test_fts_syntax_is_harmless(void **state)
{
    struct fixture *f = *state;
    static const char *queries[] = {
        "\"",     "*",        "-",           "NEAR",         "(",        ")",     "\"张伟",
        "张伟\"", "\"张伟\"", "NEAR(张 伟)", "张伟 OR 李伟", "-张伟",    "张伟*", "{name}:张",
        "^张",    "name:张",  "张 AND",      "AND",          "\"\"\"\"", "a\"b",  "(张伟",
        "张伟)",  "* 张",     "NOT 张伟",
    };
    struct search_result r;
    struct smile_err err;

    seed(f->s);
    for (size_t i = 0; i < ARRAY_LEN(queries); i++) {
        int rc;

        smile_err_clear(&err);
        rc = search_query(f->s, queries[i], NULL, 50, &r, &err);
        if (rc != SMILE_OK && rc != SMILE_EINVAL)
            fprintf(stderr, "query '%s': %d %s\n", queries[i], rc, err.msg);
        assert_true(rc == SMILE_OK || rc == SMILE_EINVAL);
        if (rc == SMILE_OK)
            search_result_free(&r);
    }
    /* Quoting and stars around 张伟 are separators: the same hits as 张伟. */
    expect_set(f->s, "\"张伟\"", NULL, "c1! c3 i1 i2 k1");
    expect_set(f->s, "-张伟", NULL, "c1! c3 i1 i2 k1");
    expect_set(f->s, "张伟*", NULL, "c1! c3 i1 i2 k1");
    /* OR is just a word: 张伟 AND or* AND 李伟 matches nothing. */
    expect_set(f->s, "张伟 OR 李伟", NULL, "");
    /* NEAR( 张 is the phrase near + 张: nothing. */
    expect_set(f->s, "NEAR(张 伟)", NULL, "");
    /* Punctuation only is refused as empty. */
    assert_int_equal(search_query(f->s, "\"*()", NULL, 50, &r, &err), SMILE_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_text),
        cmocka_unit_test(test_prepare_key),
        cmocka_unit_test(test_prepare_phone),
        cmocka_unit_test(test_prepare_query),
        cmocka_unit_test_setup_teardown(test_chinese_substring, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_phone, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_latin_prefix_and_mixed, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_ranking, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_exact_title_and_big_text, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_kind_and_limit, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_update_and_delete, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_fts_syntax_is_harmless, setup_db, teardown_db),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
