/*
 * test_db.h — the unit tests' throw-away database: a fresh SQLite file in a temporary
 * folder of its own, migrated to the newest schema; test_db_close removes every file it
 * made (the database, its WAL and shared-memory files, the folder). Header-only: a test
 * program includes it after cmocka.h. (test_runtime, test_notify, test_webhook,
 * test_mailnotify and test_kpi still carry copies of this fixture; they can move here.)
 */
#ifndef SMILE_TEST_DB_H
#define SMILE_TEST_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

#endif
