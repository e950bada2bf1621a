/*
 * test_auth.c — unit tests of the pure helpers of auth and staff: base64url (RFC 4648
 * §5 test vectors), token and cookie shapes, the Set-Cookie value, password length
 * rules, username rules, and an argon2id round trip. Expected values are worked out by
 * hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crm/staff.h"
#include "http/auth.h"

static void
test_b64url_encode(void **state)
{
    char out[64];
    /* RFC 4648 §10 vectors without padding: "f" → "Zg", "fo" → "Zm8", "foo" → "Zm9v",
     * "foobar" → "Zm9vYmFy". */
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n =
            auth_b64url_encode((const unsigned char *)v[i].in, strlen(v[i].in), out, sizeof(out));

        assert_int_equal(n, strlen(v[i].out));
        assert_string_equal(out, v[i].out);
    }
    /* The URL-safe alphabet: bytes fb ff bf are 111110 111111 111110 111111 = 62 63 62 63,
     * which the standard alphabet writes "+/+/" and base64url "-_-_". */
    {
        const unsigned char b[] = {0xfb, 0xff, 0xbf};

        assert_int_equal(auth_b64url_encode(b, 3, out, sizeof(out)), 4);
        assert_string_equal(out, "-_-_");
    }
    /* 32 bytes need ceil(32*8/6) = 43 characters + NUL = 44; 43 bytes of room is too few. */
    {
        unsigned char z[32] = {0};

        assert_int_equal(auth_b64url_encode(z, 32, out, 43), 0);
        assert_int_equal(auth_b64url_encode(z, 32, out, 44), 43);
        /* 32 zero bytes: 42 characters of six zero bits ('A'), then the last 4 bits are
         * padded to 'A' too. */
        for (int i = 0; i < 43; i++)
            assert_int_equal(out[i], 'A');
    }
}

static void
test_b64url_decode(void **state)
{
    unsigned char out[64];
    size_t n = 0;

    (void)state;
    assert_int_equal(auth_b64url_decode("Zm9vYmFy", 8, out, sizeof(out), &n), SMILE_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(auth_b64url_decode("Zm8", 3, out, sizeof(out), &n), SMILE_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(auth_b64url_decode("-_-_", 4, out, sizeof(out), &n), SMILE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[2], 0xbf);
    /* Rejections: the standard alphabet's + and /, padding, a lone 5th character (6 bits
     * cannot make a byte), and non-canonical trailing bits: "Zh" has 12 bits, 'h' = 33 =
     * 100001, whose last four bits (0001) would be dropped, so it is not canonical. */
    assert_int_equal(auth_b64url_decode("+/+/", 4, out, sizeof(out), &n), SMILE_EINVAL);
    assert_int_equal(auth_b64url_decode("Zg==", 4, out, sizeof(out), &n), SMILE_EINVAL);
    assert_int_equal(auth_b64url_decode("Zm9vY", 5, out, sizeof(out), &n), SMILE_EINVAL);
    assert_int_equal(auth_b64url_decode("Zh", 2, out, sizeof(out), &n), SMILE_EINVAL);
    assert_int_equal(auth_b64url_decode("Zm 9v", 5, out, sizeof(out), &n), SMILE_EINVAL);
    /* Too little room: "Zm9vYmFy" is 6 bytes. */
    assert_int_equal(auth_b64url_decode("Zm9vYmFy", 8, out, 5, &n), SMILE_EINVAL);
}

static void
test_token_shape(void **state)
{
    char tok[64];

    (void)state;
    /* "smile_" + 43 'A' decodes to 32 zero bytes: the right shape. */
    memcpy(tok, "smile_", 6);
    memset(tok + 6, 'A', 43);
    tok[49] = '\0';
    assert_true(auth_token_shape_ok(tok, 49));
    assert_int_equal(AUTH_TOKEN_LEN, 49);
    /* One character short or long, another prefix, a bad character. */
    assert_false(auth_token_shape_ok(tok, 48));
    tok[49] = 'A';
    tok[50] = '\0';
    assert_false(auth_token_shape_ok(tok, 50));
    tok[49] = '\0';
    tok[0] = 'S';
    assert_false(auth_token_shape_ok(tok, 49));
    tok[0] = 's';
    tok[20] = '=';
    assert_false(auth_token_shape_ok(tok, 49));
    /* 42 characters carry 252 bits, so the 43rd carries the last 4 data bits of the 256
     * and 2 padding bits that must be zero. 'B' = 1 = 0000|01 sets a padding bit and
     * 'C' = 2 = 0000|10 too: refused. 'E' = 4 = 0001|00 has data bits 0001 and zero
     * padding: canonical, as is 'Q' = 16 = 0100|00. */
    tok[20] = 'A';
    tok[48] = 'B';
    assert_false(auth_token_shape_ok(tok, 49));
    tok[48] = 'C';
    assert_false(auth_token_shape_ok(tok, 49));
    tok[48] = 'E';
    assert_true(auth_token_shape_ok(tok, 49));
    tok[48] = 'Q';
    assert_true(auth_token_shape_ok(tok, 49));
}

static void
test_cookie_format(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 0);
    auth_cookie_format("abc", false, &b);
    assert_string_equal(b.data, "smile_session=abc; Path=/; HttpOnly; SameSite=Strict");
    buf_reset(&b);
    auth_cookie_format("abc", true, &b);
    assert_string_equal(b.data, "smile_session=abc; Path=/; HttpOnly; SameSite=Strict; Secure");
    buf_reset(&b);
    auth_cookie_format(NULL, false, &b);
    assert_string_equal(b.data, "smile_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    buf_free(&b);
}

static void
test_password_rules(void **state)
{
    struct smile_err err;
    char big[AUTH_PASSWORD_MAX + 2];

    (void)state;
    smile_err_clear(&err);
    /* 8 characters is the minimum: "12345678" passes, "1234567" does not. */
    assert_int_equal(auth_password_check("12345678", 8, "/password", &err), SMILE_OK);
    assert_int_equal(auth_password_check("1234567", 7, "/password", &err), SMILE_EINVAL);
    assert_string_equal(err.fields[0].path, "/password");
    /* A NUL inside (length 9 but strlen 4) is refused. */
    smile_err_clear(&err);
    assert_int_equal(auth_password_check("abcd\0efgh", 9, "/p", &err), SMILE_EINVAL);
    /* 1024 bytes pass, 1025 do not. */
    memset(big, 'x', sizeof(big));
    big[AUTH_PASSWORD_MAX] = '\0';
    smile_err_clear(&err);
    assert_int_equal(auth_password_check(big, AUTH_PASSWORD_MAX, "/p", &err), SMILE_OK);
    big[AUTH_PASSWORD_MAX] = 'x';
    big[AUTH_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(auth_password_check(big, AUTH_PASSWORD_MAX + 1, "/p", &err), SMILE_EINVAL);
}

static void
test_password_hash_roundtrip(void **state)
{
    char h1[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(auth_password_hash("correct horse", h1, &err), SMILE_OK);
    assert_int_equal(auth_password_hash("correct horse", h2, &err), SMILE_OK);
    /* argon2id, version 19, interactive limits: 64 MiB = 65536 KiB, 2 passes, 1 lane. */
    assert_true(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    /* A fresh random salt each time. */
    assert_true(strcmp(h1, h2) != 0);
    assert_true(auth_password_verify(h1, "correct horse"));
    assert_true(auth_password_verify(h2, "correct horse"));
    assert_false(auth_password_verify(h1, "correct horsE"));
    assert_false(auth_password_verify(h1, ""));
    assert_false(auth_password_verify("", "correct horse"));
    assert_false(auth_password_verify("$argon2id$garbage", "correct horse"));
}

static void
test_password_generate(void **state)
{
    char a[17], b[17];

    (void)state;
    auth_password_generate(a, 16);
    auth_password_generate(b, 16);
    assert_int_equal(strlen(a), 16);
    for (int i = 0; i < 16; i++)
        assert_true((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') ||
                    (a[i] >= '0' && a[i] <= '9'));
    /* 62^16 ≈ 4.8e28 possibilities: two equal draws mean a broken generator. */
    assert_true(strcmp(a, b) != 0);
}

static void
test_names(void **state)
{
    char s[80];

    (void)state;
    assert_true(staff_name_valid("a"));
    assert_true(staff_name_valid("ann.lee_2-x"));
    assert_false(staff_name_valid(""));
    assert_false(staff_name_valid(NULL));
    assert_false(staff_name_valid("Ann"));          /* upper case */
    assert_false(staff_name_valid("ann lee"));      /* space */
    assert_false(staff_name_valid("ann@x"));        /* @ */
    assert_false(staff_name_valid("\xe5\xbc\xa0")); /* UTF-8 張 */
    /* 64 characters pass, 65 do not. */
    memset(s, 'a', 64);
    s[64] = '\0';
    assert_true(staff_name_valid(s));
    s[64] = 'a';
    s[65] = '\0';
    assert_false(staff_name_valid(s));
    assert_true(staff_role_valid("agent"));
    assert_true(staff_role_valid("supervisor"));
    assert_true(staff_role_valid("admin"));
    assert_false(staff_role_valid("Admin"));
    assert_false(staff_role_valid("root"));
    assert_true(staff_locale_valid("en"));
    assert_true(staff_locale_valid("zh-CN"));
    assert_false(staff_locale_valid("zh-cn"));
    assert_false(staff_locale_valid(""));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_encode),     cmocka_unit_test(test_b64url_decode),
        cmocka_unit_test(test_token_shape),       cmocka_unit_test(test_cookie_format),
        cmocka_unit_test(test_password_rules),    cmocka_unit_test(test_password_hash_roundtrip),
        cmocka_unit_test(test_password_generate), cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
