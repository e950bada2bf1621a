/*
 * db.c — the database subcommands: `smile init` (create or upgrade, harmless to repeat),
 * `smile migrate` (upgrade an existing database; --status prints versions) and
 * `smile backup FILE` (SQLite online backup while the server runs).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "cli/cli.h"
#include "store/store.h"

/* Opens and migrates the database, without the secret key (backup needs none). */
static int
open_migrate(struct config *cfg, bool create, struct store **out)
{
    struct smile_err err;
    const char *path = config_str(cfg, CFG_DB);
    int rc;

    smile_err_clear(&err);
    if (!create && access(path, F_OK) != 0) {
        fprintf(stderr, "smile: no database at %s (run: smile init --db %s)\n", path, path);
        return 1;
    }
    rc = store_open(path, create ? STORE_CREATE : 0, out, &err);
    if (rc == SMILE_OK)
        rc = store_migrate(*out, &err);
    if (rc != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        store_close(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

int
cli_open_db(struct config *cfg, bool create, struct store **out)
{
    int rc = open_migrate(cfg, create, out);

    if (rc == 0 && (rc = cli_secrets_start(cfg, *out, false)) != 0) {
        store_close(*out);
        *out = NULL;
    }
    return rc;
}

static int
wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n", usage);
            config_usage();
            return 1;
        }
    }
    return 0;
}

int
cli_init(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    int have, want, rc;

    if (wants_help(argc, argv,
                   "usage: smile init [--db PATH]\n\nCreates the database, or "
                   "upgrades it to this binary's schema; running it twice is "
                   "harmless."))
        return 0;
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "smile init: unexpected argument '%s'\n", argv[1]);
        config_free(&cfg);
        return 2;
    }
    rc = cli_open_db(&cfg, true, &s);
    if (rc == 0)
        rc = cli_seed_defaults(s, &err) == SMILE_OK ? 0 : 1;
    if (rc == 0 && store_schema_version(s, &have, &want, &err) == SMILE_OK)
        printf("database %s ready at schema version %d\n", config_str(&cfg, CFG_DB), have);
    else if (rc)
        fprintf(stderr, "smile: %s\n", err.msg);
    store_close(s);
    config_free(&cfg);
    return rc;
}

int
cli_migrate(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    bool status = false;
    int have, want, rc = 0;

    if (wants_help(argc, argv,
                   "usage: smile migrate [--status] [--db PATH]\n\nApplies pending migrations "
                   "to an existing database; --status only prints the versions."))
        return 0;
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else {
            fprintf(stderr, "smile migrate: unexpected argument '%s'\n", argv[i]);
            config_free(&cfg);
            return 2;
        }
    }
    if (status) {
        if (access(config_str(&cfg, CFG_DB), F_OK) != 0 ||
            store_open(config_str(&cfg, CFG_DB), 0, &s, &err) != SMILE_OK ||
            store_schema_version(s, &have, &want, &err) != SMILE_OK) {
            fprintf(stderr, "smile: cannot read %s %s\n", config_str(&cfg, CFG_DB), err.msg);
            rc = 1;
        } else {
            printf("database schema version %d, binary schema version %d%s\n", have, want,
                   have < want ? " (run smile migrate)" : "");
        }
    } else {
        rc = cli_open_db(&cfg, false, &s);
        if (rc == 0 && store_schema_version(s, &have, &want, &err) == SMILE_OK)
            printf("database %s at schema version %d\n", config_str(&cfg, CFG_DB), have);
    }
    store_close(s);
    config_free(&cfg);
    return rc;
}

int
cli_backup(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    int rc;

    if (wants_help(argc, argv,
                   "usage: smile backup FILE [--db PATH]\n\nWrites a consistent copy of the "
                   "database to FILE (which must not exist) while the server keeps running."))
        return 0;
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: smile backup FILE [--db PATH]\n");
        config_free(&cfg);
        return 2;
    }
    if (access(argv[1], F_OK) == 0) {
        fprintf(stderr, "smile backup: %s exists; choose a new file\n", argv[1]);
        config_free(&cfg);
        return 1;
    }
    rc = open_migrate(&cfg, false, &s); /* the key file is not in the backup: see docs */
    if (rc == 0) {
        rc = store_backup(s, argv[1], &err) == SMILE_OK ? 0 : 1;
        if (rc)
            fprintf(stderr, "smile: %s\n", err.msg);
        else {
            char key[4096];

            cli_secrets_key_path(&cfg, key, sizeof(key));
            printf("backed up %s to %s\n", config_str(&cfg, CFG_DB), argv[1]);
            printf("the secret key %s is not in the backup: keep a copy of it apart (the "
                   "mailbox and webhook secrets cannot be read without it)\n",
                   key);
        }
    }
    store_close(s);
    config_free(&cfg);
    return rc;
}
