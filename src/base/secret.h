/*
 * secret.h — secrets at rest: the passwords and signing secrets Smile must read back in
 * clear (mailbox IMAP/SMTP passwords, webhook signing secrets) are kept in the database
 * sealed with XChaCha20-Poly1305 (libsodium, random 24-byte nonce per value) under a
 * 32-byte key kept OUTSIDE the database, in a key file (config secret_key_file, default
 * smile.key beside the database). The row's table and id are the associated data, so a
 * sealed value copied to another row does not open. Key files are created 0600.
 *
 * Sealed text format (ASCII, fits a TEXT column):
 *
 *   | part       | bytes | meaning                                                  |
 *   |------------|-------|----------------------------------------------------------|
 *   | "$sm1$"    | 5     | marks a sealed value, format version 1                   |
 *   | key id     | 16    | hex of the first 8 bytes of BLAKE2b-256(key, "smile key  |
 *   |            |       | id"): tells a wrong key from a tampered value            |
 *   | "$"        | 1     |                                                          |
 *   | base64     | rest  | URL-safe base64 without padding of nonce (24) ‖ cipher-  |
 *   |            |       | text ‖ tag (16)                                          |
 *
 * The empty string is never sealed ("" means "no password"), and NULL stays NULL.
 * `smile serve` and the other commands install the process key once at start-up
 * (secret_key_install) before any thread starts; the mail and webhook parts then seal
 * and open through it.
 */
#ifndef SMILE_SECRET_H
#define SMILE_SECRET_H

#include "base/base.h"

#define SECRET_KEY_LEN 32
#define SECRET_ID_LEN 16 /* hex digits of a key id */
#define SECRET_PREFIX "$sm1$"
#define SECRET_MAX_PLAIN 4096 /* longest secret sealed (passwords are capped at 1024) */

struct secret_key {
    unsigned char k[SECRET_KEY_LEN];
    char id[SECRET_ID_LEN + 1];
};

/* A new random key (libsodium randombytes) with its id. */
void secret_key_generate(struct secret_key *key);
/* Sets key->id from key->k (after filling k by hand, e.g. in tests). */
void secret_key_set_id(struct secret_key *key);
/* Overwrites the key with zeros (sodium_memzero). */
void secret_key_wipe(struct secret_key *key);

/*
 * Reads a key file: exactly 32 bytes. SMILE_ENOTFOUND if the file does not exist,
 * SMILE_EINVAL if it has another size (message names the file), SMILE_EIO otherwise.
 * Logs a warning when group or others may read the file.
 */
int secret_key_load(const char *path, struct secret_key *key, struct smile_err *err);

/*
 * Writes key to a NEW file path (O_EXCL, mode 0600), flushed to disk with its
 * directory. SMILE_ECONFLICT if path exists, SMILE_EIO on any other failure (a partly
 * written file is removed).
 */
int secret_key_save(const char *path, const struct secret_key *key, struct smile_err *err);

/*
 * Seals plain under key for the row (table, id) — e.g. ("mailbox", 3) — into *out
 * (malloc'd, free with free()). plain NULL gives *out NULL, "" gives "" (neither is
 * sealed). SMILE_ETOOBIG over SECRET_MAX_PLAIN bytes.
 */
int secret_seal(const struct secret_key *key, const char *table, int64_t id, const char *plain,
                char **out, struct smile_err *err);

/*
 * Opens a sealed value of the row (table, id) into *out (malloc'd; free with
 * secret_free, which wipes it). NULL gives NULL and "" gives "". Errors (nothing in *out):
 * SMILE_EPERM a value sealed under another key (the message names both key ids);
 * SMILE_EINVAL a value that is not sealed at all (clear text) or is malformed, or whose
 * authentication fails (altered, or copied from another row).
 */
int secret_open(const struct secret_key *key, const char *table, int64_t id, const char *sealed,
                char **out, struct smile_err *err);

/* True if s looks like a sealed value ("$sm1$" prefix); false for NULL and "". */
bool secret_is_sealed(const char *s);
/* The key id a sealed value names into id (SECRET_ID_LEN + 1); false if not sealed. */
bool secret_sealed_key_id(const char *s, char id[SECRET_ID_LEN + 1]);
/* Wipes and frees a secret returned by secret_open (NULL is a no-op). */
void secret_free(char *s);

/*
 * The process key: installed once at start-up, before threads start (a copy is kept;
 * NULL uninstalls and wipes it). secret_seal_row / secret_open_row use it and fail with
 * SMILE_EINTERNAL ("no secret key loaded") when none is installed.
 */
void secret_key_install(const struct secret_key *key);
const struct secret_key *secret_key_current(void);
int secret_seal_row(const char *table, int64_t id, const char *plain, char **out,
                    struct smile_err *err);
int secret_open_row(const char *table, int64_t id, const char *sealed, char **out,
                    struct smile_err *err);

#endif
