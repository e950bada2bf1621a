/*
 * secret.c — sealing and opening secrets kept in the database (see secret.h for the
 * format), and the key file they are sealed under. Used at start-up by the CLI (load or
 * create the key, seal values still in clear, rotate) and at run time by the mail part
 * (mailbox passwords) and the webhook part (signing secrets).
 */
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PREFIX_LEN (sizeof(SECRET_PREFIX) - 1)
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_start(void)
{
    if (sodium_init() < 0)
        fatal("libsodium cannot be initialised");
}

static void
init(void)
{
    pthread_once(&sodium_once, sodium_start);
}

void
secret_key_set_id(struct secret_key *key)
{
    static const char label[] = "smile key id";
    unsigned char h[32];

    init();
    crypto_generichash(h, sizeof(h), (const unsigned char *)label, sizeof(label) - 1, key->k,
                       sizeof(key->k));
    sodium_bin2hex(key->id, sizeof(key->id), h, SECRET_ID_LEN / 2);
}

void
secret_key_generate(struct secret_key *key)
{
    init();
    randombytes_buf(key->k, sizeof(key->k));
    secret_key_set_id(key);
}

void
secret_key_wipe(struct secret_key *key)
{
    if (key)
        sodium_memzero(key, sizeof(*key));
}

int
secret_key_load(const char *path, struct secret_key *key, struct smile_err *err)
{
    struct stat sb;
    unsigned char extra;
    ssize_t n;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return smile_err_set(err, SMILE_ENOTFOUND, "the secret key file %s does not exist",
                                 path);
        return smile_err_set(err, SMILE_EIO, "cannot read the secret key file %s: %s", path,
                             strerror(errno));
    }
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
        log_warn("msg=\"secret key file readable by others\" path=\"%s\" mode=%04o hint=\"chmod "
                 "600\"",
                 path, (unsigned)(sb.st_mode & 07777));
    while (got < sizeof(key->k)) {
        n = read(fd, key->k + got, sizeof(key->k) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    n = got == sizeof(key->k) ? read(fd, &extra, 1) : 0;
    close(fd);
    if (got != sizeof(key->k) || n != 0) {
        secret_key_wipe(key);
        return smile_err_set(err, SMILE_EINVAL,
                             "the secret key file %s must hold exactly %d bytes (it is not a "
                             "Smile key, or it was damaged)",
                             path, SECRET_KEY_LEN);
    }
    secret_key_set_id(key);
    return SMILE_OK;
}

/* fsync of the directory holding path, so a new name survives a crash. */
static void
sync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int
secret_key_save(const char *path, const struct secret_key *key, struct smile_err *err)
{
    size_t put = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0)
        return smile_err_set(err, errno == EEXIST ? SMILE_ECONFLICT : SMILE_EIO,
                             "cannot create the secret key file %s: %s", path, strerror(errno));
    while (put < sizeof(key->k)) {
        ssize_t n = write(fd, key->k + put, sizeof(key->k) - put);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        put += (size_t)n;
    }
    if (put != sizeof(key->k) || fsync(fd) != 0) {
        int e = errno;

        close(fd);
        unlink(path);
        return smile_err_set(err, SMILE_EIO, "cannot write the secret key file %s: %s", path,
                             strerror(e));
    }
    close(fd);
    sync_dir(path);
    return SMILE_OK;
}

/* The associated data of a row: "table:id". */
static size_t
row_ad(const char *table, int64_t id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s:%" PRId64, table, id);

    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int
secret_seal(const struct secret_key *key, const char *table, int64_t id, const char *plain,
            char **out, struct smile_err *err)
{
    unsigned char *bin;
    unsigned long long clen = 0;
    size_t len, blen, b64len;
    char ad[96], *s;

    *out = NULL;
    if (plain == NULL)
        return SMILE_OK;
    if (plain[0] == '\0') {
        *out = xstrdup("");
        return SMILE_OK;
    }
    len = strlen(plain);
    if (len > SECRET_MAX_PLAIN)
        return smile_err_set(err, SMILE_ETOOBIG, "a secret is limited to %d bytes",
                             SECRET_MAX_PLAIN);
    init();
    blen = NONCE_LEN + len + TAG_LEN;
    bin = xmalloc(blen);
    randombytes_buf(bin, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        bin + NONCE_LEN, &clen, (const unsigned char *)plain, len, (const unsigned char *)ad,
        row_ad(table, id, ad, sizeof(ad)), NULL, bin, key->k);
    b64len = sodium_base64_ENCODED_LEN(blen, B64);
    s = xmalloc(PREFIX_LEN + SECRET_ID_LEN + 1 + b64len);
    memcpy(s, SECRET_PREFIX, PREFIX_LEN);
    memcpy(s + PREFIX_LEN, key->id, SECRET_ID_LEN);
    s[PREFIX_LEN + SECRET_ID_LEN] = '$';
    sodium_bin2base64(s + PREFIX_LEN + SECRET_ID_LEN + 1, b64len, bin, blen, B64);
    free(bin);
    *out = s;
    return SMILE_OK;
}

bool
secret_is_sealed(const char *s)
{
    return s && strncmp(s, SECRET_PREFIX, PREFIX_LEN) == 0;
}

bool
secret_sealed_key_id(const char *s, char id[SECRET_ID_LEN + 1])
{
    if (!secret_is_sealed(s) || strlen(s) < PREFIX_LEN + SECRET_ID_LEN + 1 ||
        s[PREFIX_LEN + SECRET_ID_LEN] != '$')
        return false;
    memcpy(id, s + PREFIX_LEN, SECRET_ID_LEN);
    id[SECRET_ID_LEN] = '\0';
    return true;
}

void
secret_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

int
secret_open(const struct secret_key *key, const char *table, int64_t id, const char *sealed,
            char **out, struct smile_err *err)
{
    char kid[SECRET_ID_LEN + 1], ad[96];
    const char *b64, *end = NULL;
    unsigned char *bin;
    unsigned long long mlen = 0;
    size_t b64len, blen = 0, cap;
    char *plain;

    *out = NULL;
    if (sealed == NULL)
        return SMILE_OK;
    if (sealed[0] == '\0') {
        *out = xstrdup("");
        return SMILE_OK;
    }
    if (!secret_sealed_key_id(sealed, kid))
        return smile_err_set(err, SMILE_EINVAL, "the secret of %s %" PRId64 " is not sealed", table,
                             id);
    if (strcmp(kid, key->id) != 0)
        return smile_err_set(err, SMILE_EPERM,
                             "the secret of %s %" PRId64
                             " is sealed under key %s, not under the key in use (%s)",
                             table, id, kid, key->id);
    init();
    b64 = sealed + PREFIX_LEN + SECRET_ID_LEN + 1;
    b64len = strlen(b64);
    cap = b64len * 3 / 4 + 3;
    bin = xmalloc(cap);
    if (sodium_base642bin(bin, cap, b64, b64len, NULL, &blen, &end, B64) != 0 ||
        end != b64 + b64len || blen < NONCE_LEN + TAG_LEN) {
        free(bin);
        return smile_err_set(err, SMILE_EINVAL, "the secret of %s %" PRId64 " is malformed", table,
                             id);
    }
    plain = xmalloc(blen - NONCE_LEN - TAG_LEN + 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)plain, &mlen, NULL, bin + NONCE_LEN, blen - NONCE_LEN,
            (const unsigned char *)ad, row_ad(table, id, ad, sizeof(ad)), bin, key->k) != 0) {
        free(bin);
        free(plain);
        return smile_err_set(err, SMILE_EINVAL,
                             "the secret of %s %" PRId64
                             " does not authenticate (altered, or copied from another row)",
                             table, id);
    }
    free(bin);
    plain[mlen] = '\0';
    if (strlen(plain) != mlen) { /* a NUL inside: never sealed by us */
        secret_free(plain);
        return smile_err_set(err, SMILE_EINVAL, "the secret of %s %" PRId64 " is malformed", table,
                             id);
    }
    *out = plain;
    return SMILE_OK;
}

/* The process key ------------------------------------------------------------------------ */

static struct secret_key process_key;
static bool process_key_set;

void
secret_key_install(const struct secret_key *key)
{
    if (key) {
        process_key = *key;
        process_key_set = true;
    } else {
        secret_key_wipe(&process_key);
        process_key_set = false;
    }
}

const struct secret_key *
secret_key_current(void)
{
    return process_key_set ? &process_key : NULL;
}

int
secret_seal_row(const char *table, int64_t id, const char *plain, char **out, struct smile_err *err)
{
    *out = NULL;
    if (!process_key_set && plain && plain[0])
        return smile_err_set(err, SMILE_EINTERNAL, "no secret key loaded");
    return secret_seal(&process_key, table, id, plain, out, err);
}

int
secret_open_row(const char *table, int64_t id, const char *sealed, char **out,
                struct smile_err *err)
{
    *out = NULL;
    if (!process_key_set && sealed && sealed[0])
        return smile_err_set(err, SMILE_EINTERNAL, "no secret key loaded");
    return secret_open(&process_key, table, id, sealed, out, err);
}
