/*
 * test_runtime.c — unit tests of src/runtime: the deadline idempotency key (a pure function,
 * checked against the published FNV-1a test vectors), and runtime_fold_subject() on a real
 * SQLite file with the seeded defaults: a late, out-of-order event re-folds to the same
 * measurement, a running clock gets its warning and breach deadlines, an sla.breached event
 * from the scheduler marks the deadline fired and breaches the clock, and runtime_rebuild()
 * reproduces the rows. Expected values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

static void
test_source_id(void **state)
{
    char a[160], b[160], big[201];

    (void)state;
    /* FNV-1a 64 of "" is the offset basis 0xcbf29ce484222325; of "a" 0xaf63dc4c8601ec8c
     * (the published test vectors). */
    runtime_deadline_source_id(1, "", "s", 0, false, 1, a, sizeof(a));
    assert_string_equal(a, "sla:1:cbf29ce484222325:s:0:w1");
    runtime_deadline_source_id(12, "a", "answer", 3, true, 0, a, sizeof(a));
    assert_string_equal(a, "sla:12:af63dc4c8601ec8c:answer:3:b0");
    /* Same inputs, same key; each input changes it. */
    runtime_deadline_source_id(12, "a", "answer", 3, true, 0, b, sizeof(b));
    assert_string_equal(a, b);
    runtime_deadline_source_id(12, "a", "answer", 4, true, 0, b, sizeof(b));
    assert_string_not_equal(a, b);
    /* A 200-character subject still gives a short key (a ledger source_id is ≤ 200). */
    memset(big, 'x', 200);
    big[200] = '\0';
    runtime_deadline_source_id(999999, big, "a_long_step_key_of_some_length", 99, false, 7, a,
                               sizeof(a));
    assert_true(strlen(a) < LEDGER_MAX_SOURCE_ID);
}

struct db {
    char dir[64], path[96];
    struct store *s;
};

static void
db_open(struct db *d)
{
    struct smile_err err;

    snprintf(d->dir, sizeof(d->dir), "/tmp/test_runtime_XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof(d->path), "%s/s.db", d->dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(d->path, STORE_CREATE, &d->s, &err), SMILE_OK);
    assert_int_equal(store_migrate(d->s, &err), SMILE_OK);
    assert_int_equal(cli_seed_defaults(d->s, &err), SMILE_OK);
}

static void
db_close(struct db *d)
{
    char p[128];

    store_close(d->s);
    unlink(d->path);
    snprintf(p, sizeof(p), "%s-wal", d->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", d->path);
    unlink(p);
    rmdir(d->dir);
}

static void
add_event(struct db *d, const char *type, const char *ts, const char *subject, const char *actor,
          const char *data, const char *source, const char *source_id)
{
    struct ledger_event ev = {type, 0, subject, actor, NULL, NULL, source, source_id, data};
    struct smile_err err;
    int64_t id;

    smile_err_clear(&err);
    assert_int_equal(time_parse_rfc3339(ts, strlen(ts), &ev.occurred_at), SMILE_OK);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(d->s, &ev, &id, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static void
fold(struct db *d, struct runtime_defs *defs, const char *subject, int64_t seq, int64_t *due)
{
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(runtime_defs_refresh(defs, d->s, &err), SMILE_OK);
    assert_int_equal(runtime_fold_subject(defs, d->s, subject, seq, due, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

/* One row of the answer step of a call: "result elapsed target deadline_at". */
static void
answer_row(struct db *d, const char *subject, char *out, size_t cap)
{
    static const char sql[] = "SELECT result, elapsed_ms, target_ms, coalesce(deadline_at, 0),"
                              " state FROM measurements WHERE subject = $1 AND step_key = 'answer'";
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    out[0] = '\0';
    assert_int_equal(store_prepare(d->s, sql, &st, &err), SMILE_OK);
    store_stmt_bind_text(st, 1, subject, -1);
    if (store_stmt_step(st, &err) == STORE_ROW)
        snprintf(out, cap, "%s %lld %lld %lld %s", store_stmt_text(st, 0),
                 (long long)store_stmt_int64(st, 1), (long long)store_stmt_int64(st, 2),
                 (long long)store_stmt_int64(st, 3), store_stmt_text(st, 4));
    store_stmt_reset(st);
}

static int64_t
count(struct db *d, const char *sql)
{
    int64_t n = -1;
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(d->s, sql, &n, &err), SMILE_OK);
    return n;
}

static void
test_fold_live_and_rebuild(void **state)
{
    struct db d;
    struct runtime_defs *defs = runtime_defs_new();
    char row[128], sid[160];
    int64_t due = 0, t0, n;
    struct smile_err err;

    (void)state;
    db_open(&d);
    /* 2026-03-03T02:00:00Z = 1772503200000 ms (20515 days × 86400000 + 2 h). */
    t0 = 1772503200000;
    add_event(&d, "call.offered", "2026-03-03T02:00:00Z", "call:1", NULL, "{\"queue\":\"q\"}", NULL,
              NULL);
    fold(&d, defs, "call:1", 1, &due);
    /* Running: 3 rings × 5000 ms = 15000 ms target, deadline t0 + 15 s; as_of is the offer
     * itself, so elapsed 0 and result open. The warning "1 ring left" is due at t0 + 10 s,
     * the earliest deadline. */
    answer_row(&d, "call:1", row, sizeof(row));
    char want[128];
    snprintf(want, sizeof(want), "open 0 15000 %lld running", (long long)(t0 + 15000));
    assert_string_equal(row, want);
    assert_int_equal(due, t0 + 10000);
    assert_int_equal(count(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 2);

    /* The scheduler's sla.breached, dated 1 ms past the deadline: as_of t0 + 15001, the clock
     * is breached (elapsed 15001 ms) and the breach deadline is fired; the warning is not. */
    runtime_deadline_source_id(1, "call:1", "answer", 0, true, 0, sid, sizeof(sid));
    add_event(&d, "sla.breached", "2026-03-03T02:00:15.001Z", "call:1", NULL, NULL, "smile", sid);
    fold(&d, defs, "call:1", 2, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    snprintf(want, sizeof(want), "breached 15001 15000 %lld running", (long long)(t0 + 15000));
    assert_string_equal(row, want);
    assert_int_equal(count(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 1);
    assert_int_equal(count(&d, "SELECT count(*) FROM deadlines WHERE kind = 'breach' AND"
                               " fired_at IS NOT NULL"),
                     1);

    /* A late answer at 12 s (before the sla event in time, after it in arrival): the re-fold
     * sorts by occurred_at, so the call was answered in 12000 ms → met; the deadline_at of a
     * stopped clock is NULL (0 here). The measurement keeps its id. */
    n = count(&d, "SELECT id FROM measurements WHERE step_key = 'answer'");
    add_event(&d, "call.answered", "2026-03-03T02:00:12Z", "call:1", "ann", NULL, NULL, NULL);
    fold(&d, defs, "call:1", 3, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(count(&d, "SELECT id FROM measurements WHERE step_key = 'answer'"), n);
    /* The warning at 10 s passed while running (logged, and its sla event never came, but the
     * clock is stopped: no unfired deadline remains); the fired breach row stays as history.
     */
    assert_int_equal(count(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 0);
    assert_int_equal(due, INT64_MAX);

    /* Rebuild: the same rows. */
    smile_err_clear(&err);
    assert_int_equal(runtime_rebuild(d.s, &n, &err), SMILE_OK);
    assert_int_equal(n, 1);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(count(&d, "SELECT count(*) FROM instances"), 1);
    assert_int_equal(count(&d, "SELECT last_event_id FROM runtime_cursor"), 3);
    runtime_defs_free(defs);
    db_close(&d);
}

static void
test_default_calendar(void **state)
{
    struct db d;
    struct runtime_defs *defs = runtime_defs_new();
    struct smile_err err;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    assert_int_equal(runtime_defs_refresh(defs, d.s, &err), SMILE_OK);
    /* "default" falls back to the seeded "China"; an unknown name is NULL (wall time). */
    assert_non_null(runtime_defs_calendar(defs, "default"));
    assert_ptr_equal(runtime_defs_calendar(defs, "default"), runtime_defs_calendar(defs, "China"));
    assert_null(runtime_defs_calendar(defs, "Mars"));
    runtime_defs_free(defs);
    db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_id),
        cmocka_unit_test(test_fold_live_and_rebuild),
        cmocka_unit_test(test_default_calendar),
    };
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
