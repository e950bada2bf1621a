/*
 * test_secret.c — unit tests of src/base/secret.c (secrets at rest): the sealed format
 * as documented in secret.h (checked by taking a value apart by hand and opening it with
 * libsodium directly), the round trip, a wrong key, tampering (a changed byte, another
 * row, a cut value), the key id against an independent BLAKE2b (Python hashlib), and the
 * key file (0600, exactly 32 bytes, never overwritten).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"

/* A fixed key: bytes 0, 1, …, 31. */
static void
key_fixed(struct secret_key *key)
{
    for (int i = 0; i < SECRET_KEY_LEN; i++)
        key->k[i] = (unsigned char)i;
    secret_key_set_id(key);
}

static void
test_key_id(void **state)
{
    struct secret_key key;

    (void)state;
    key_fixed(&key);
    /* The first 8 bytes, in hex, of BLAKE2b-256 keyed with bytes 0..31 over "smile key id",
     * computed apart from Smile with Python's hashlib:
     * blake2b(b"smile key id", key=bytes(range(32)), digest_size=32).hexdigest()[:16] */
    assert_string_equal(key.id, "395b6042f948f3ea");
}

static void
test_format_and_round_trip(void **state)
{
    struct secret_key key;
    struct smile_err err;
    char *sealed = NULL, *plain = NULL;
    unsigned char bin[128], out[64];
    unsigned long long mlen = 0;
    size_t blen = 0;

    (void)state;
    smile_err_clear(&err);
    key_fixed(&key);
    assert_int_equal(secret_seal(&key, "mailbox", 3, "hunter2", &sealed, &err), SMILE_OK);
    /* "$sm1$" (5) + key id (16) + "$" (1) + base64url without padding of nonce 24 +
     * "hunter2" 7 + tag 16 = 47 bytes: 15 groups of 3 → 60 characters, 2 bytes left → 3
     * more: 63. 5 + 16 + 1 + 63 = 85. */
    assert_int_equal(strlen(sealed), 85);
    assert_memory_equal(sealed, "$sm1$395b6042f948f3ea$", 22);
    assert_null(strstr(sealed, "hunter2"));
    assert_true(secret_is_sealed(sealed));
    /* Taken apart by hand: nonce ‖ ciphertext ‖ tag, associated data "mailbox:3". */
    assert_int_equal(sodium_base642bin(bin, sizeof(bin), sealed + 22, strlen(sealed + 22), NULL,
                                       &blen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(blen, 47);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
                         out, &mlen, NULL, bin + 24, blen - 24, (const unsigned char *)"mailbox:3",
                         9, bin, key.k),
                     0);
    assert_int_equal(mlen, 7);
    assert_memory_equal(out, "hunter2", 7);
    /* And through secret_open. */
    assert_int_equal(secret_open(&key, "mailbox", 3, sealed, &plain, &err), SMILE_OK);
    assert_string_equal(plain, "hunter2");
    secret_free(plain);
    free(sealed);
}

static void
test_nonce_random_and_empty(void **state)
{
    struct secret_key key;
    struct smile_err err;
    char *a = NULL, *b = NULL, *p = NULL;

    (void)state;
    smile_err_clear(&err);
    key_fixed(&key);
    /* A random nonce per value: the same secret twice gives two different texts. */
    assert_int_equal(secret_seal(&key, "webhook", 1, "same", &a, &err), SMILE_OK);
    assert_int_equal(secret_seal(&key, "webhook", 1, "same", &b, &err), SMILE_OK);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    /* "" means no password and NULL stays NULL: neither is sealed. */
    assert_int_equal(secret_seal(&key, "mailbox", 1, "", &a, &err), SMILE_OK);
    assert_string_equal(a, "");
    assert_int_equal(secret_open(&key, "mailbox", 1, a, &p, &err), SMILE_OK);
    assert_string_equal(p, "");
    secret_free(p);
    free(a);
    assert_int_equal(secret_seal(&key, "mailbox", 1, NULL, &a, &err), SMILE_OK);
    assert_null(a);
    assert_int_equal(secret_open(&key, "mailbox", 1, NULL, &p, &err), SMILE_OK);
    assert_null(p);
    assert_false(secret_is_sealed(""));
    assert_false(secret_is_sealed(NULL));
}

static void
test_wrong_key(void **state)
{
    struct secret_key key, other;
    struct smile_err err;
    char *sealed = NULL, *p = NULL, msg[256];

    (void)state;
    smile_err_clear(&err);
    key_fixed(&key);
    other = key;
    other.k[0] ^= 1; /* one bit apart */
    secret_key_set_id(&other);
    assert_string_not_equal(key.id, other.id);
    assert_int_equal(secret_seal(&key, "mailbox", 7, "pw", &sealed, &err), SMILE_OK);
    assert_int_equal(secret_open(&other, "mailbox", 7, sealed, &p, &err), SMILE_EPERM);
    assert_null(p);
    /* The message names the value's key and the key in use. */
    assert_non_null(strstr(err.msg, key.id));
    assert_non_null(strstr(err.msg, other.id));
    /* A value claiming the other key's id (prefix rewritten) still does not open. */
    memcpy(sealed + 5, other.id, SECRET_ID_LEN);
    snprintf(msg, sizeof(msg), "%s", sealed);
    assert_int_equal(secret_open(&other, "mailbox", 7, msg, &p, &err), SMILE_EINVAL);
    assert_null(p);
    free(sealed);
}

static void
test_tamper(void **state)
{
    struct secret_key key;
    struct smile_err err;
    char *sealed = NULL, *p = NULL, *copy;
    size_t n;

    (void)state;
    smile_err_clear(&err);
    key_fixed(&key);
    assert_int_equal(secret_seal(&key, "mailbox", 3, "hunter2", &sealed, &err), SMILE_OK);
    n = strlen(sealed);
    /* Another row (or table): the associated data differs, authentication fails. */
    assert_int_equal(secret_open(&key, "mailbox", 4, sealed, &p, &err), SMILE_EINVAL);
    assert_int_equal(secret_open(&key, "webhook", 3, sealed, &p, &err), SMILE_EINVAL);
    assert_non_null(strstr(err.msg, "does not authenticate"));
    /* Each character of the base64 part changed in turn: never opens. (63 characters carry
     * 378 bits for 376: the last one has 4 data bits and 2 zero padding bits; changing
     * 'A'↔'B' flips its lowest bit, which the base64 decoder refuses as non-zero padding;
     * every other change reaches the authentication tag check.) */
    for (size_t i = 22; i < n; i++) {
        copy = xstrdup(sealed);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(secret_open(&key, "mailbox", 3, copy, &p, &err), SMILE_OK);
        assert_null(p);
        free(copy);
    }
    /* Cut short, clear text, a broken prefix. */
    copy = xstrndup(sealed, 40);
    assert_int_equal(secret_open(&key, "mailbox", 3, copy, &p, &err), SMILE_EINVAL);
    free(copy);
    assert_int_equal(secret_open(&key, "mailbox", 3, "hunter2", &p, &err), SMILE_EINVAL);
    assert_non_null(strstr(err.msg, "not sealed"));
    assert_int_equal(secret_open(&key, "mailbox", 3, "$sm1$short", &p, &err), SMILE_EINVAL);
    assert_null(p);
    free(sealed);
}

static void
test_process_key(void **state)
{
    struct secret_key key;
    struct smile_err err;
    char *sealed = NULL, *p = NULL;

    (void)state;
    smile_err_clear(&err);
    secret_key_install(NULL);
    assert_null(secret_key_current());
    assert_int_equal(secret_seal_row("mailbox", 1, "pw", &sealed, &err), SMILE_EINTERNAL);
    assert_null(sealed);
    key_fixed(&key);
    secret_key_install(&key);
    assert_string_equal(secret_key_current()->id, "395b6042f948f3ea");
    assert_int_equal(secret_seal_row("mailbox", 1, "pw", &sealed, &err), SMILE_OK);
    assert_int_equal(secret_open_row("mailbox", 1, sealed, &p, &err), SMILE_OK);
    assert_string_equal(p, "pw");
    secret_free(p);
    free(sealed);
    secret_key_install(NULL);
}

static void
test_key_file(void **state)
{
    char dir[] = "/tmp/smile-secret-XXXXXX", path[256], bad[256];
    struct secret_key key, back;
    struct smile_err err;
    struct stat sb;
    FILE *f;

    (void)state;
    smile_err_clear(&err);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/smile.key", dir);
    assert_int_equal(secret_key_load(path, &back, &err), SMILE_ENOTFOUND);
    secret_key_generate(&key);
    assert_int_equal(secret_key_save(path, &key, &err), SMILE_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 32);
    assert_int_equal(secret_key_load(path, &back, &err), SMILE_OK);
    assert_memory_equal(back.k, key.k, 32);
    assert_string_equal(back.id, key.id);
    /* Never overwritten. */
    assert_int_equal(secret_key_save(path, &key, &err), SMILE_ECONFLICT);
    /* 31 and 33 bytes are not keys. */
    snprintf(bad, sizeof(bad), "%s/bad.key", dir);
    for (int n = 31; n <= 33; n += 2) {
        f = fopen(bad, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(key.k, 1, (size_t)(n < 32 ? n : 32), f), n < 32 ? n : 32);
        if (n > 32)
            fputc('x', f);
        fclose(f);
        assert_int_equal(secret_key_load(bad, &back, &err), SMILE_EINVAL);
        assert_non_null(strstr(err.msg, "exactly 32 bytes"));
        unlink(bad);
    }
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_format_and_round_trip),
        cmocka_unit_test(test_nonce_random_and_empty),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_process_key),
        cmocka_unit_test(test_key_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
