/*
 * secrets.c — the key that seals the secrets kept in the database (src/base/secret.h):
 * at every start (cli_open_db) the key file is loaded, or created 0600 on a database
 * that has no sealed secret yet; a start whose key is missing or is not the one the
 * database's secrets are sealed under is refused with a clear message; values still in
 * clear (written before migration 0012) are sealed in one transaction. `smile secrets
 * status` shows where things stand and `smile secrets rotate` re-seals every value under
 * a new key, keeping the old key file for the backups made before.
 *
 * The columns holding secrets, each sealed for its row ("mailbox:<id>", "webhook:<id>"):
 *
 *   | table     | columns                   | owner        |
 *   |-----------|---------------------------|--------------|
 *   | mailboxes | password, smtp_password   | src/mail     |
 *   | webhooks  | secret, previous_secret   | src/webhook  |
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/secret.h"
#include "cli/cli.h"
#include "store/store.h"

struct secret_table {
    const char *table; /* as in the sealed values' associated data */
    const char *select, *update;
};

static const char sql_mail_select[] =
    "SELECT id, password, smtp_password FROM mailboxes ORDER BY id";
static const char sql_mail_update[] =
    "UPDATE mailboxes SET password = $1, smtp_password = $2 WHERE id = $3";
static const char sql_hook_select[] =
    "SELECT id, secret, previous_secret FROM webhooks ORDER BY id";
static const char sql_hook_update[] =
    "UPDATE webhooks SET secret = $1, previous_secret = $2 WHERE id = $3";

static const struct secret_table tables[] = {
    {"mailbox", sql_mail_select, sql_mail_update},
    {"webhook", sql_hook_select, sql_hook_update},
};

/* One row's two secret columns as stored (NULL = SQL NULL). */
struct row {
    int64_t id;
    char *v[2];
};

struct census {
    int64_t sealed, clear, other_key; /* values (not rows) */
    char other_id[SECRET_ID_LEN + 1]; /* a key id found that is not the one in use */
};

void
cli_secrets_key_path(struct config *cfg, char *out, size_t cap)
{
    const char *f = config_str(cfg, CFG_SECRET_KEY_FILE), *db = config_str(cfg, CFG_DB), *slash;

    if (f[0]) {
        snprintf(out, cap, "%s", f);
        return;
    }
    slash = strrchr(db, '/');
    if (slash == NULL)
        snprintf(out, cap, "smile.key");
    else
        snprintf(out, cap, "%.*s/smile.key", (int)(slash - db), db);
}

static int
rows_load(struct store *s, const struct secret_table *t, struct row **out, size_t *n,
          struct smile_err *err)
{
    struct store_stmt *st;
    size_t cap = 0;
    int rc = store_prepare(s, t->select, &st, err);

    *out = NULL;
    *n = 0;
    if (rc != SMILE_OK)
        return rc;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct row *r;

        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        r = &(*out)[(*n)++];
        r->id = store_stmt_int64(st, 0);
        for (int k = 0; k < 2; k++)
            r->v[k] = store_stmt_is_null(st, k + 1) ? NULL : xstrdup(store_stmt_text(st, k + 1));
    }
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

static void
rows_free(struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
            secret_free(rows[i].v[k]);
    free(rows);
}

/* Counts the sealed and clear values; key (may be NULL) tells "ours" from "another key". */
static int
census_take(struct store *s, const struct secret_key *key, struct census *c, struct smile_err *err)
{
    memset(c, 0, sizeof(*c));
    for (size_t t = 0; t < ARRAY_LEN(tables); t++) {
        struct row *rows;
        size_t n;
        int rc = rows_load(s, &tables[t], &rows, &n, err);

        if (rc != SMILE_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < 2; k++) {
                char kid[SECRET_ID_LEN + 1];
                const char *v = rows[i].v[k];

                if (v == NULL || v[0] == '\0')
                    continue;
                if (!secret_sealed_key_id(v, kid)) {
                    c->clear++;
                    continue;
                }
                c->sealed++;
                if (key == NULL || strcmp(kid, key->id) != 0) {
                    c->other_key++;
                    memcpy(c->other_id, kid, sizeof(kid));
                }
            }
        }
        rows_free(rows, n);
    }
    return SMILE_OK;
}

/*
 * Re-seals every value of every table (inside the caller's transaction): a clear value is
 * sealed under to; a sealed one is opened with from (NULL: left as it is) and sealed
 * under to. *count: values written.
 */
static int
reseal_all(struct store *s, const struct secret_key *from, const struct secret_key *to,
           int64_t *count, struct smile_err *err)
{
    int rc = SMILE_OK;

    *count = 0;
    for (size_t t = 0; t < ARRAY_LEN(tables) && rc == SMILE_OK; t++) {
        struct row *rows;
        size_t n;

        if ((rc = rows_load(s, &tables[t], &rows, &n, err)) != SMILE_OK)
            break;
        for (size_t i = 0; i < n && rc == SMILE_OK; i++) {
            char *nv[2] = {NULL, NULL};
            bool changed = false;
            struct store_stmt *st;

            for (int k = 0; k < 2 && rc == SMILE_OK; k++) {
                const char *v = rows[i].v[k];
                char *plain = NULL;

                if (v == NULL || v[0] == '\0' || (secret_is_sealed(v) && from == NULL)) {
                    nv[k] = v ? xstrdup(v) : NULL;
                    continue;
                }
                if (secret_is_sealed(v))
                    rc = secret_open(from, tables[t].table, rows[i].id, v, &plain, err);
                else
                    plain = xstrdup(v);
                if (rc == SMILE_OK)
                    rc = secret_seal(to, tables[t].table, rows[i].id, plain, &nv[k], err);
                secret_free(plain);
                changed = true;
                (*count)++;
            }
            if (rc == SMILE_OK && changed &&
                (rc = store_prepare(s, tables[t].update, &st, err)) == SMILE_OK) {
                for (int k = 0; k < 2; k++) {
                    if (nv[k])
                        store_stmt_bind_text(st, k + 1, nv[k], -1);
                    else
                        store_stmt_bind_null(st, k + 1);
                }
                store_stmt_bind_int64(st, 3, rows[i].id);
                rc = store_stmt_step(st, err);
                store_stmt_reset(st);
                rc = rc == STORE_DONE ? SMILE_OK : rc;
            }
            free(nv[0]);
            free(nv[1]);
        }
        rows_free(rows, n);
    }
    return rc;
}

/* The key id recorded in secret_state into id ("" if none). */
static int
state_key_id(struct store *s, char id[SECRET_ID_LEN + 1], struct smile_err *err)
{
    static const char sql[] = "SELECT key_id FROM secret_state WHERE id = 1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    id[0] = '\0';
    if (rc != SMILE_OK)
        return rc;
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW && !store_stmt_is_null(st, 0))
        snprintf(id, SECRET_ID_LEN + 1, "%s", store_stmt_text(st, 0));
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}

static int
state_set(struct store *s, const char *key_id, bool rotated, struct smile_err *err)
{
    static const char sql[] =
        "UPDATE secret_state SET key_id = $1, sealed_at = $2, rotated_at = CASE WHEN $3 = 1 THEN "
        "$2 ELSE rotated_at END WHERE id = 1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, key_id, -1);
    store_stmt_bind_int64(st, 2, time_now_ms());
    store_stmt_bind_int64(st, 3, rotated ? 1 : 0);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/*
 * Overwrites freed database space with zeros while clear values are replaced, then
 * checkpoints the WAL, so the old clear text is not left in the file's free pages.
 */
static void
scrub(struct store *s, bool on)
{
    struct smile_err e;

    smile_err_clear(&e);
    if (on) {
        store_exec(s, "PRAGMA secure_delete = ON", &e);
    } else {
        store_exec(s, "PRAGMA secure_delete = OFF", &e);
        store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", &e);
    }
}

/* Why a start is refused when the key in hand is not the database's. */
static void
explain_wrong_key(const char *path, const char *have, const char *want)
{
    char next[4096];

    fprintf(stderr,
            "smile: the secret key in %s (key id %s) is not the key the database's secrets are "
            "sealed under (key id %s).\n",
            path, have, want);
    /* A path too long for next is reported without the hint (-Wformat-truncation at -O3). */
    if (snprintf(next, sizeof(next), "%s.new", path) < (int)sizeof(next) && access(next, F_OK) == 0)
        fprintf(stderr,
                "smile: %s exists: if an interrupted `smile secrets rotate` left it, move it "
                "to %s.\n",
                next, path);
    fprintf(stderr, "smile: restore the right key file (see docs/operators.md, Secrets) or point "
                    "secret_key_file at it; refusing to start rather than lose the mailbox and "
                    "webhook secrets.\n");
}

int
cli_secrets_start(struct config *cfg, struct store *s, bool quiet)
{
    struct smile_err err;
    struct secret_key key;
    struct census c;
    char path[4096], want[SECRET_ID_LEN + 1];
    int64_t n = 0;
    int rc;

    smile_err_clear(&err);
    cli_secrets_key_path(cfg, path, sizeof(path));
    if ((rc = state_key_id(s, want, &err)) != SMILE_OK ||
        (rc = census_take(s, NULL, &c, &err)) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 1;
    }
    if (c.sealed == 0) /* nothing sealed (any more): no key to insist on */
        want[0] = '\0';
    else if (!want[0]) /* sealed values but no record: take their key */
        memcpy(want, c.other_id, sizeof(want));
    rc = secret_key_load(path, &key, &err);
    if (rc == SMILE_ENOTFOUND && want[0]) {
        fprintf(stderr,
                "smile: the database holds secrets sealed under key %s, but the secret key "
                "file %s does not exist.\nsmile: restore it from your backup (it is backed up "
                "apart from the database; see docs/operators.md, Secrets) or set "
                "secret_key_file; refusing to start rather than lose the mailbox and webhook "
                "secrets.\n",
                want, path);
        return 1;
    }
    if (rc == SMILE_ENOTFOUND) {
        secret_key_generate(&key);
        rc = secret_key_save(path, &key, &err);
        if (rc == SMILE_ECONFLICT) /* another command created it just now: take that one */
            rc = secret_key_load(path, &key, &err);
        else if (rc == SMILE_OK) {
            log_info("msg=\"secret key created\" path=\"%s\" key_id=%s", path, key.id);
            if (!quiet)
                fprintf(stderr,
                        "smile: created the secret key %s (key id %s): back it up apart from "
                        "the database\n",
                        path, key.id);
        }
        if (rc != SMILE_OK) {
            fprintf(stderr, "smile: %s\n", err.msg);
            secret_key_wipe(&key);
            return 1;
        }
    } else if (rc != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 1;
    }
    if (want[0] && strcmp(want, key.id) != 0) {
        explain_wrong_key(path, key.id, want);
        secret_key_wipe(&key);
        return 1;
    }
    census_take(s, &key, &c, &err);
    if (c.other_key > 0) {
        explain_wrong_key(path, key.id, c.other_id);
        secret_key_wipe(&key);
        return 1;
    }
    if (c.clear > 0 || !want[0] || strcmp(want, key.id) != 0) {
        if (c.clear > 0)
            scrub(s, true);
        rc = store_begin(s, &err);
        if (rc == SMILE_OK)
            rc = reseal_all(s, NULL, &key, &n, &err);
        if (rc == SMILE_OK)
            rc = state_set(s, key.id, false, &err);
        if (rc == SMILE_OK)
            rc = store_commit(s, &err);
        else
            store_rollback(s);
        if (c.clear > 0)
            scrub(s, false);
        if (rc != SMILE_OK) {
            fprintf(stderr, "smile: cannot seal the secrets kept in clear: %s\n", err.msg);
            secret_key_wipe(&key);
            return 1;
        }
        if (n > 0)
            log_info("msg=\"secrets sealed\" values=%" PRId64 " key_id=%s", n, key.id);
    }
    secret_key_install(&key);
    secret_key_wipe(&key);
    return 0;
}

static int
status(struct config *cfg, struct store *s)
{
    struct smile_err err;
    struct census c;
    char path[4096], want[SECRET_ID_LEN + 1];
    const struct secret_key *key = secret_key_current();

    smile_err_clear(&err);
    cli_secrets_key_path(cfg, path, sizeof(path));
    if (state_key_id(s, want, &err) != SMILE_OK || census_take(s, key, &c, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 1;
    }
    printf("key file       %s\n", path);
    printf("key id         %s\n", key ? key->id : "-");
    printf("database key   %s\n", want[0] ? want : "-");
    printf("sealed values  %" PRId64 "\n", c.sealed);
    printf("clear values   %" PRId64 "\n", c.clear);
    return c.clear || c.other_key ? 1 : 0;
}

static int
rotate(struct config *cfg, struct store *s, const char *new_file)
{
    struct smile_err err;
    struct secret_key next;
    const struct secret_key *cur = secret_key_current();
    char path[4096], next_path[4200], old_path[4200];
    int64_t n = 0;
    int rc;

    smile_err_clear(&err);
    cli_secrets_key_path(cfg, path, sizeof(path));
    snprintf(next_path, sizeof(next_path), "%s.new", path);
    if (new_file) {
        if ((rc = secret_key_load(new_file, &next, &err)) != SMILE_OK) {
            fprintf(stderr, "smile: %s\n", err.msg);
            return 1;
        }
    } else {
        secret_key_generate(&next);
    }
    if (strcmp(next.id, cur->id) == 0) {
        fprintf(stderr, "smile: the new key is the key in use (key id %s)\n", cur->id);
        secret_key_wipe(&next);
        return 1;
    }
    snprintf(old_path, sizeof(old_path), "%s.old-%s", path, cur->id);
    /* 1. the new key on disk first (a crash now leaves the database as it was) */
    if ((rc = secret_key_save(next_path, &next, &err)) != SMILE_OK) {
        fprintf(stderr, "smile: %s%s\n", err.msg,
                rc == SMILE_ECONFLICT ? " (left by an interrupted rotation? check its key id "
                                        "with `smile secrets status` after moving it aside)"
                                      : "");
        secret_key_wipe(&next);
        return 1;
    }
    /* 2. every value re-sealed in one transaction */
    scrub(s, true);
    rc = store_begin(s, &err);
    if (rc == SMILE_OK)
        rc = reseal_all(s, cur, &next, &n, &err);
    if (rc == SMILE_OK)
        rc = state_set(s, next.id, true, &err);
    if (rc == SMILE_OK)
        rc = store_commit(s, &err);
    else
        store_rollback(s);
    scrub(s, false);
    if (rc != SMILE_OK) {
        fprintf(stderr, "smile: rotation abandoned, nothing changed: %s\n", err.msg);
        unlink(next_path);
        secret_key_wipe(&next);
        return 1;
    }
    /* 3. the files: the old key kept for older backups, the new one in its place (a crash
     * between the two renames is explained at the next start) */
    if (rename(path, old_path) != 0 || rename(next_path, path) != 0) {
        fprintf(stderr,
                "smile: the secrets are sealed under the new key (key id %s) in %s, but it "
                "could not be moved to %s: %s; move it by hand before the next start\n",
                next.id, next_path, path, strerror(errno));
        secret_key_wipe(&next);
        return 1;
    }
    printf("re-sealed %" PRId64 " secrets under the new key %s (key id %s)\n", n, path, next.id);
    printf("the old key (key id %s) is kept as %s for backups made before now: delete it when "
           "they are gone\n",
           cur->id, old_path);
    secret_key_install(&next);
    secret_key_wipe(&next);
    return 0;
}

int
cli_secrets(int argc, char **argv)
{
    static const char usage[] =
        "usage: smile secrets status|rotate [--new-key FILE] [--db PATH] "
        "[--secret-key-file PATH]\n\n"
        "status: where the secret key is and how many secrets are sealed.\n"
        "rotate: re-seal every secret (mailbox passwords, webhook signing secrets) under a new\n"
        "key (random, or read from --new-key FILE: 32 bytes); the old key file is kept as\n"
        "KEYFILE.old-<key id> for older backups. Stop `smile serve` first.";
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    const char *new_file = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n", usage);
            return 0;
        }
    }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    rc = argc >= 2 && (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "rotate") == 0) ? 0 : 2;
    for (int i = 2; rc == 0 && i < argc; i++) {
        if (strcmp(argv[1], "rotate") == 0 && strcmp(argv[i], "--new-key") == 0 && i + 1 < argc)
            new_file = argv[++i];
        else
            rc = 2;
    }
    if (rc == 2) {
        fprintf(stderr, "%s\n", usage);
        config_free(&cfg);
        return 2;
    }
    rc = cli_open_db(&cfg, false, &s);
    if (rc == 0)
        rc = strcmp(argv[1], "status") == 0 ? status(&cfg, s) : rotate(&cfg, s, new_file);
    store_close(s);
    secret_key_install(NULL);
    config_free(&cfg);
    return rc;
}
