/*
 * test_db.h — the unit tests' throw-away database: a fresh SQLite file in a temporary
 * folder of its own, migrated to the newest schema; test_db_close removes every file it
 * made (the database, its WAL and shared-memory files, the folder). Header-only: a test
 * program includes it after cmocka.h. (test_webhook and test_kpi still carry copies of
 * this fixture; they can move here.)
 */
#ifndef SMILE_TEST_DB_H
#define SMILE_TEST_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

struct test_db {
    char dir[64], path[96];
    struct store *s;
};

/* Opens /tmp/test_<name>_XXXXXX/s.db, migrated; fails the test on any error. */
static void
test_db_open(struct test_db *d, const char *name)
{
    struct smile_err err;

    snprintf(d->dir, sizeof(d->dir), "/tmp/test_%.20s_XXXXXX", name);
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof(d->path), "%s/s.db", d->dir);
    smile_err_clear(&err);
    if (store_open(d->path, STORE_CREATE, &d->s, &err) != SMILE_OK ||
        store_migrate(d->s, &err) != SMILE_OK)
        fail_msg("%s: %s", d->path, err.msg);
}

/* Closes the store and removes its files and folder. */
static void
test_db_close(struct test_db *d)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char p[128];

    store_close(d->s);
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", d->path, suffix[i]);
        unlink(p);
    }
    rmdir(d->dir);
}

/* The built-in calendar and processes, as `smile init` installs them. */
static inline void
test_db_seed(struct test_db *d)
{
    struct smile_err err;

    smile_err_clear(&err);
    if (cli_seed_defaults(d->s, &err) != SMILE_OK)
        fail_msg("seed: %s", err.msg);
}

/* Runs sql (no parameters); fails the test on an error. */
static inline void
test_db_exec(struct test_db *d, const char *sql)
{
    struct smile_err err;

    smile_err_clear(&err);
    if (store_exec(d->s, sql, &err) != SMILE_OK)
        fail_msg("%s: %s", sql, err.msg);
}

/* The first column of the first row of sql as an integer; fails the test on an error. */
static inline int64_t
test_db_int(struct test_db *d, const char *sql)
{
    struct smile_err err;
    int64_t v = -1;

    smile_err_clear(&err);
    if (store_query_int64(d->s, sql, &v, &err) != SMILE_OK)
        fail_msg("%s: %s", sql, err.msg);
    return v;
}

#endif
