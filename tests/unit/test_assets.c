/*
 * test_assets.c — unit tests of src/api/assets.c: the Accept-Encoding and If-None-Match
 * rules that decide gzip and 304, and the embedded table that tools/embed_web.c writes
 * (sorted, index.html present, gzip copies that really are gzip). Expected values are
 * worked out by hand from RFC 9110 in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/assets.h"

static void
test_accepts_gzip(void **state)
{
    (void)state;
    /* No header: identity only (RFC 9110 §12.5.3 allows any, we choose the safe one). */
    assert_false(api_asset_accepts_gzip(NULL));
    assert_false(api_asset_accepts_gzip(""));
    /* What browsers send. */
    assert_true(api_asset_accepts_gzip("gzip, deflate, br, zstd"));
    assert_true(api_asset_accepts_gzip("GZIP"));
    assert_true(api_asset_accepts_gzip("x-gzip"));
    /* q=0 means "not acceptable"; 0.000 is still 0; 0.001 is acceptable. */
    assert_false(api_asset_accepts_gzip("gzip;q=0"));
    assert_false(api_asset_accepts_gzip("br, gzip ; q=0.000"));
    assert_true(api_asset_accepts_gzip("gzip;q=0.001"));
    /* A named gzip wins over "*": here gzip is refused though * is welcome. */
    assert_false(api_asset_accepts_gzip("*, gzip;q=0"));
    /* "*" alone admits gzip; "*;q=0" refuses everything not named. */
    assert_true(api_asset_accepts_gzip("*"));
    assert_false(api_asset_accepts_gzip("br, *;q=0"));
    /* Names that merely contain "gzip" are other codings. */
    assert_false(api_asset_accepts_gzip("gzipx, xgzip"));
    assert_false(api_asset_accepts_gzip("identity"));
}

static void
test_etag_match(void **state)
{
    static const unsigned char body[] = "x";
    const struct api_asset a = {
        "assets/x.js", "text/javascript", "\"abc\"", "\"abc-gz\"", body, 1, NULL, 0, true};

    (void)state;
    assert_false(api_asset_etag_match(NULL, &a));
    assert_true(api_asset_etag_match("\"abc\"", &a));
    /* The gzip copy's tag names the same content: both revalidate. */
    assert_true(api_asset_etag_match("\"abc-gz\"", &a));
    /* If-None-Match compares weakly (§13.1.2): W/"abc" matches "abc". */
    assert_true(api_asset_etag_match("W/\"abc\"", &a));
    /* A list: any member may match; whitespace around commas is allowed. */
    assert_true(api_asset_etag_match("\"zzz\" ,  \"abc\"", &a));
    assert_true(api_asset_etag_match("*", &a));
    /* Prefixes and unquoted tags do not match. */
    assert_false(api_asset_etag_match("\"ab\"", &a));
    assert_false(api_asset_etag_match("\"abcd\"", &a));
    assert_false(api_asset_etag_match("abc", &a));
    assert_false(api_asset_etag_match("\"abc", &a));
}

static void
test_table(void **state)
{
    const struct api_asset *idx;

    (void)state;
    /* The build fails without web/dist/index.html, so a built binary has it. */
    idx = api_asset_find("index.html");
    assert_non_null(idx);
    assert_string_equal(idx->content_type, "text/html; charset=utf-8");
    assert_false(idx->immutable);
    assert_null(api_asset_find("/index.html"));
    assert_null(api_asset_find("assets/../index.html"));
    assert_null(api_asset_find(""));
    for (int i = 0; i < api_asset_count; i++) {
        const struct api_asset *a = &api_assets[i];

        /* Sorted strictly (binary search depends on it), and every entry findable. */
        if (i > 0)
            assert_true(strcmp(api_assets[i - 1].path, a->path) < 0);
        assert_ptr_equal(api_asset_find(a->path), a);
        /* Dot files (.vite/manifest.json) are not served. */
        assert_true(a->path[0] != '.');
        /* ETags are quoted; the gzip one is the identity one with -gz before the quote. */
        assert_true(a->etag[0] == '"' && a->etag[strlen(a->etag) - 1] == '"');
        assert_int_equal(strlen(a->etag_gz), strlen(a->etag) + 3);
        assert_memory_equal(a->etag_gz, a->etag, strlen(a->etag) - 1);
        /* Only Vite's content-hashed output is immutable. */
        assert_int_equal(a->immutable, strncmp(a->path, "assets/", 7) == 0);
        /* A gzip copy starts with the gzip magic 1f 8b and method 8 (deflate), and is
         * smaller than the original. */
        if (a->gz) {
            assert_int_equal(a->gz[0], 0x1f);
            assert_int_equal(a->gz[1], 0x8b);
            assert_int_equal(a->gz[2], 8);
            assert_true(a->gz_size < a->size);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_etag_match),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests_name("assets", tests, NULL, NULL);
}
