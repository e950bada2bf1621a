/*
 * test_base.c — unit tests of src/base: RFC 3339 times, civil dates, buffers, integers.
 * Expected values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/base.h"
#include "http/json_arena.h"
#include <jansson.h>

static void
test_rfc3339_parse(void **state)
{
    int64_t ms;

    (void)state;
    /* 1970-01-02T00:00:00Z is one day: 86,400,000 ms. */
    assert_int_equal(time_parse_rfc3339("1970-01-02T00:00:00Z", 20, &ms), SMILE_OK);
    assert_int_equal(ms, 86400000);
    /* 2024-06-03T13:20:27.418+08:00 = 05:20:27.418Z. Days 1970→2024-06-03: 19877
     * (2024-01-01 is day 19723; Jan 31 + Feb 29 + Mar 31 + Apr 30 + May 31 = 152; +2).
     * 19877*86400 + 5*3600 + 20*60 + 27 = 1717392027 s. */
    assert_int_equal(time_parse_rfc3339("2024-06-03T13:20:27.418+08:00", 29, &ms), SMILE_OK);
    assert_int_equal(ms, INT64_C(1717392027418));
    /* Fractions beyond ms are truncated, not rounded. */
    assert_int_equal(time_parse_rfc3339("2024-06-03T05:20:27.4189Z", 25, &ms), SMILE_OK);
    assert_int_equal(ms, INT64_C(1717392027418));
    /* .5 is 500 ms. */
    assert_int_equal(time_parse_rfc3339("1970-01-01T00:00:00.5Z", 22, &ms), SMILE_OK);
    assert_int_equal(ms, 500);
    /* Rejections: impossible date, no zone, leap second, trailing junk, empty fraction. */
    assert_int_equal(time_parse_rfc3339("2026-02-29T00:00:00Z", 20, &ms), SMILE_EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-02-28T00:00:00", 19, &ms), SMILE_EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-02-28T23:59:60Z", 20, &ms), SMILE_EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-02-28T00:00:00Zx", 21, &ms), SMILE_EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-02-28T00:00:00.Z", 21, &ms), SMILE_EINVAL);
    assert_int_equal(time_parse_rfc3339("2024-02-29T00:00:00Z", 20, &ms), SMILE_OK);
}

static void
test_rfc3339_format(void **state)
{
    char out[TIME_RFC3339_LEN + 1];

    (void)state;
    time_format_rfc3339(INT64_C(1717392027418), out);
    assert_string_equal(out, "2024-06-03T05:20:27.418Z");
    time_format_rfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    /* -1 ms is the last millisecond of 1969. */
    time_format_rfc3339(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void
test_civil(void **state)
{
    int64_t y, days;
    unsigned m, d;

    (void)state;
    assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(time_days_from_civil(2000, 3, 1), 11017); /* 30 years + 7 leap days + 59 */
    time_civil_from_days(11017, &y, &m, &d);
    assert_int_equal(y, 2000);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    /* 2026-11-29 is a Sunday (6); 1970-01-01 a Thursday (3). */
    assert_int_equal(time_parse_date("2026-11-29", 10, &days), SMILE_OK);
    assert_int_equal(time_weekday(days), 6);
    assert_int_equal(time_weekday(0), 3);
    assert_int_equal(time_parse_date("2026-13-01", 10, &days), SMILE_EINVAL);
}

static void
test_buf(void **state)
{
    struct buf b;
    char *s;

    (void)state;
    buf_init(&b, 8);
    buf_puts(&b, "abcd");
    buf_printf(&b, "%d", 123);
    assert_string_equal(b.data, "abcd123");
    assert_false(buf_overflowed(&b));
    buf_puts(&b, "xy"); /* 9 bytes > max 8: dropped, flagged */
    assert_true(buf_overflowed(&b));
    assert_string_equal(b.data, "abcd123");
    buf_reset(&b);
    buf_putc(&b, 'z');
    s = buf_steal(&b);
    assert_string_equal(s, "z");
    free(s);
    buf_free(&b);

    /* JSON strings: '"' and '\\' escaped, \n as \n, 0x1f as \u001f (lower) or \u001F
     * (upper, as jansson writes it), UTF-8 (张 = e5 bc a0) and '/' copied as they are; the
     * length, not a NUL, ends the input (the NUL inside is 0x00 → \u0000). */
    static const char in[] = "a\"b\\c\n\x1f\xe5\xbc\xa0/\0z";
    buf_init(&b, 0);
    buf_put_json_string(&b, in, sizeof(in) - 1, false);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u001f\xe5\xbc\xa0/\\u0000z\"");
    buf_reset(&b);
    buf_put_json_string(&b, in, 3, true); /* "a\"b" */
    buf_put_json_string(&b, "\x1f", 1, true);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "\"a\\\"b\"\"\\u001F\"");
    /* Integers in decimal as "%" PRId64 writes them, the extremes included. */
    buf_reset(&b);
    buf_put_int64(&b, 0);
    buf_putc(&b, ' ');
    buf_put_int64(&b, -7);
    buf_putc(&b, ' ');
    buf_put_int64(&b, 1764403200000);
    buf_putc(&b, ' ');
    buf_put_int64(&b, INT64_MAX);
    buf_putc(&b, ' ');
    buf_put_int64(&b, INT64_MIN);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "0 -7 1764403200000 9223372036854775807 -9223372036854775808");
    buf_free(&b);
}

static void
test_int64(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(str_to_int64(str_from("9223372036854775807"), &v), SMILE_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(str_to_int64(str_from("-9223372036854775808"), &v), SMILE_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(str_to_int64(str_from("9223372036854775808"), &v), SMILE_EINVAL);
    assert_int_equal(str_to_int64(str_from("12a"), &v), SMILE_EINVAL);
    assert_int_equal(str_to_int64(str_from("-"), &v), SMILE_EINVAL);
}

/* The arena behind a batch's jansson tree (http/json_arena.c): the tree parsed inside it
 * lives in its slots; everything else jansson allocates — a dump, a value added after
 * json_arena_end, a string of more than half a slot — is plain malloc that free() and
 * json_decref release as before (LeakSanitizer checks that nothing is lost). */
static void
test_json_arena(void **state)
{
    struct json_arena *a, *b;
    json_t *tree, *again;
    struct buf text;
    char *dump;
    size_t big = 600 * 1024;

    (void)state;
    assert_true(json_arena_install());
    assert_true(json_arena_install()); /* twice is harmless */
    buf_init(&text, 0);
    buf_puts(&text, "{\"events\":[");
    for (int i = 0; i < 3000; i++)
        buf_printf(&text,
                   "%s{\"type\":\"call.offered\",\"subject\":\"call:%d\",\"data\":{\"q\":%d}}",
                   i ? "," : "", i, i);
    buf_puts(&text, "],\"big\":\"");
    for (size_t i = 0; i < big; i++)
        buf_putc(&text, 'x');
    buf_puts(&text, "\"}");

    a = json_arena_new();
    json_arena_begin(a);
    tree = json_loadb(text.data, text.len, JSON_REJECT_DUPLICATES, NULL);
    json_arena_end();
    assert_non_null(tree);
    assert_true(json_arena_slots(a) >= 1);
    assert_int_equal(json_array_size(json_object_get(tree, "events")), 3000);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(tree, "events"), 2999), "subject")),
                        "call:2999");
    assert_int_equal(strlen(json_string_value(json_object_get(tree, "big"))), big);
    /* Made outside the arena: malloc'd, released with free() and json_decref. */
    assert_int_equal(json_object_set_new(tree, "added", json_string("after")), 0);
    dump = json_dumps(json_array_get(json_object_get(tree, "events"), 0), JSON_COMPACT);
    assert_string_equal(dump,
                        "{\"type\":\"call.offered\",\"subject\":\"call:0\",\"data\":{\"q\":0}}");
    free(dump);
    json_decref(tree);
    json_arena_free(a);

    /* The slots are taken again by the next arena; a tree parsed outside any arena is
     * plain malloc. */
    b = json_arena_new();
    json_arena_begin(b);
    tree = json_loadb(text.data, text.len, 0, NULL);
    json_arena_end();
    again = json_loadb(text.data, text.len, 0, NULL);
    assert_non_null(tree);
    assert_non_null(again);
    assert_true(json_equal(tree, again));
    json_decref(again);
    json_decref(tree);
    json_arena_free(b);
    json_arena_free(NULL);
    buf_free(&text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_parse), cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_civil),         cmocka_unit_test(test_buf),
        cmocka_unit_test(test_json_arena),    cmocka_unit_test(test_int64),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
