/*
 * test_runtime.c — unit tests of src/runtime: the deadline idempotency key (a pure function,
 * checked against the published FNV-1a test vectors), and runtime_fold_subject() on a real
 * SQLite file with the seeded defaults: a late, out-of-order event re-folds to the same
 * measurement, a running clock gets its warning and breach deadlines, an sla.breached event
 * from the scheduler marks the deadline fired and breaches the clock, and runtime_rebuild()
 * reproduces the rows; version pins (pins.c): runtime_pin_find picks the newest pin of a
 * process, a pinned instance is folded under its pinned version, keeps it through a rebuild,
 * and is removed when the pinned version's trigger does not match. Expected values are worked
 * out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_db.h"

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

static void
add_event(struct test_db *d, const char *type, const char *ts, const char *subject,
          const char *actor, const char *data, const char *source, const char *source_id)
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
fold(struct test_db *d, struct runtime_defs *defs, const char *subject, int64_t seq, int64_t *due)
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
answer_row(struct test_db *d, const char *subject, char *out, size_t cap)
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

static void
test_fold_live_and_rebuild(void **state)
{
    struct test_db d;
    struct runtime_defs *defs = runtime_defs_new();
    char row[128], sid[160];
    int64_t due = 0, t0, n;
    struct smile_err err;

    (void)state;
    test_db_open(&d, "runtime");
    test_db_seed(&d);
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
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 2);
    /* A re-fold that decides the same writes nothing — not the instance, not a measurement
     * or its rows, not the kpi rollups (total_changes() counts every row this connection
     * inserted, updated or deleted) — and still reports the earliest deadline. */
    n = test_db_int(&d, "SELECT total_changes()");
    fold(&d, defs, "call:1", 10, &due);
    assert_int_equal(test_db_int(&d, "SELECT total_changes()"), n);
    assert_int_equal(due, t0 + 10000);

    /* The scheduler's sla.breached, dated 1 ms past the deadline: as_of t0 + 15001, the clock
     * is breached (elapsed 15001 ms) and the breach deadline is fired; the warning is not. */
    runtime_deadline_source_id(1, "call:1", "answer", 0, true, 0, sid, sizeof(sid));
    add_event(&d, "sla.breached", "2026-03-03T02:00:15.001Z", "call:1", NULL, NULL, "smile", sid);
    fold(&d, defs, "call:1", 2, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    snprintf(want, sizeof(want), "breached 15001 15000 %lld running", (long long)(t0 + 15000));
    assert_string_equal(row, want);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM deadlines WHERE kind = 'breach' AND"
                                     " fired_at IS NOT NULL"),
                     1);

    /* A late answer at 12 s (before the sla event in time, after it in arrival): the re-fold
     * sorts by occurred_at, so the call was answered in 12000 ms → met; the deadline_at of a
     * stopped clock is NULL (0 here). The measurement keeps its id. */
    n = test_db_int(&d, "SELECT id FROM measurements WHERE step_key = 'answer'");
    add_event(&d, "call.answered", "2026-03-03T02:00:12Z", "call:1", "ann", NULL, NULL, NULL);
    fold(&d, defs, "call:1", 3, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT id FROM measurements WHERE step_key = 'answer'"), n);
    /* The warning at 10 s passed while running (logged, and its sla event never came, but the
     * clock is stopped: no unfired deadline remains); the fired breach row stays as history.
     */
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM deadlines WHERE fired_at IS NULL"), 0);
    assert_int_equal(due, INT64_MAX);
    n = test_db_int(&d, "SELECT total_changes()");
    fold(&d, defs, "call:1", 11, &due);
    assert_int_equal(test_db_int(&d, "SELECT total_changes()"), n);
    assert_int_equal(due, INT64_MAX);

    /* Rebuild: the same rows. */
    smile_err_clear(&err);
    assert_int_equal(runtime_rebuild(d.s, &n, &err), SMILE_OK);
    assert_int_equal(n, 1);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM instances"), 1);
    assert_int_equal(test_db_int(&d, "SELECT last_event_id FROM runtime_cursor"), 3);
    runtime_defs_free(defs);
    test_db_close(&d);
}

static void
test_default_calendar(void **state)
{
    struct test_db d;
    struct runtime_defs *defs = runtime_defs_new();
    struct smile_err err;

    (void)state;
    test_db_open(&d, "runtime");
    test_db_seed(&d);
    smile_err_clear(&err);
    assert_int_equal(runtime_defs_refresh(defs, d.s, &err), SMILE_OK);
    /* "default" falls back to the seeded "China"; an unknown name is NULL (wall time). */
    assert_non_null(runtime_defs_calendar(defs, "default"));
    assert_ptr_equal(runtime_defs_calendar(defs, "default"), runtime_defs_calendar(defs, "China"));
    assert_null(runtime_defs_calendar(defs, "Mars"));
    runtime_defs_free(defs);
    test_db_close(&d);
}

static void
test_pin_find(void **state)
{
    /* Pins oldest first (ids increase): process 1 → v2 (id 1), process 3 → v1 (id 2),
     * process 1 → v1 (id 5). The newest of process 1 is id 5. */
    const struct runtime_pin_ref pins[] = {{1, 1, 2}, {2, 3, 1}, {5, 1, 1}};
    const struct runtime_pin_ref *p;

    (void)state;
    p = runtime_pin_find(pins, 3, 1);
    assert_non_null(p);
    assert_int_equal(p->id, 5);
    assert_int_equal(p->version, 1);
    p = runtime_pin_find(pins, 3, 3);
    assert_non_null(p);
    assert_int_equal(p->id, 2);
    assert_null(runtime_pin_find(pins, 3, 2));
    assert_null(runtime_pin_find(NULL, 0, 1));
}

static void
pin(struct test_db *d, int64_t pid, int version, int previous, int64_t *id)
{
    struct runtime_pin p = {.process_id = pid,
                            .subject = "call:1",
                            .version = version,
                            .previous_version = previous,
                            .run_id = 1,
                            .reason = "test",
                            .by = "ada",
                            .at = 1};
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(runtime_pin_add(d->s, &p, id, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static void
test_pinned_fold(void **state)
{
    struct test_db d;
    struct runtime_defs *defs = runtime_defs_new();
    char row[128];
    int64_t due, pid, pin1, pin2, pin3, n;
    struct smile_err err;

    (void)state;
    test_db_open(&d, "runtime");
    test_db_seed(&d);
    pid = test_db_int(&d, "SELECT id FROM processes WHERE name = 'Phone hotline'");
    /* Version 2 of the hotline, published 2026-04-01 (after the call): answer within 2 rings
     * (2 × 5000 = 10000 ms). Version 3, same date: triggered by visits only. */
    test_db_exec(&d, "INSERT INTO process_versions (process_id, number, document, published_at)"
                     " SELECT process_id, 2, json_set(document, '$.version', 2, '$.published_at',"
                     " '2026-04-01T00:00:00.000Z', '$.steps[0].standard.within', '2 rings'),"
                     " 1775001600000 FROM process_versions WHERE number = 1 AND process_id ="
                     " (SELECT id FROM processes WHERE name = 'Phone hotline')");
    test_db_exec(&d,
                 "INSERT INTO process_versions (process_id, number, document, published_at)"
                 " SELECT process_id, 3, json_set(document, '$.version', 3, '$.published_at',"
                 " '2026-04-01T00:00:00.000Z', '$.trigger', json('{\"type\": \"visit.arrived\"}')),"
                 " 1775001600000 FROM process_versions WHERE number = 1 AND process_id ="
                 " (SELECT id FROM processes WHERE name = 'Phone hotline')");
    test_db_exec(&d,
                 "INSERT INTO recompute_runs (kind, target_id, version, from_at, token, created_at,"
                 " report) VALUES ('process', 1, 1, 0, 't', 0, '{}')");
    add_event(&d, "call.offered", "2026-03-03T02:00:00Z", "call:1", NULL, "{\"queue\":\"q\"}", NULL,
              NULL);
    add_event(&d, "call.answered", "2026-03-03T02:00:12Z", "call:1", "ann", NULL, NULL, NULL);
    /* Unpinned: the version in force at the offer (2026-03-03) is 1: 3 rings = 15000 ms, the
     * call answered in 12000 ms → met. */
    fold(&d, defs, "call:1", 1, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM instances WHERE pin_id IS NULL"), 1);
    /* Pinned to version 2: 2 rings = 10000 ms, 12000 > 10000 → breached; the instance
     * records the pin it was folded under. */
    pin(&d, pid, 2, 1, &pin1);
    fold(&d, defs, "call:1", 2, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "breached 12000 10000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT version FROM instances"), 2);
    assert_int_equal(test_db_int(&d, "SELECT pin_id FROM instances"), pin1);
    /* The pin is a decision, not derived state: a rebuild keeps it. */
    smile_err_clear(&err);
    assert_int_equal(runtime_rebuild(d.s, &n, &err), SMILE_OK);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "breached 12000 10000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT pin_id FROM instances"), pin1);
    /* Pinned back to 1 (a newer pin wins): met again. */
    pin(&d, pid, 1, 2, &pin2);
    fold(&d, defs, "call:1", 3, &due);
    answer_row(&d, "call:1", row, sizeof(row));
    assert_string_equal(row, "met 12000 15000 0 done");
    assert_int_equal(test_db_int(&d, "SELECT pin_id FROM instances"), pin2);
    /* Pinned to version 3, whose trigger (visit.arrived) the call does not match: the
     * hotline instance and its measurements are removed. */
    pin(&d, pid, 3, 1, &pin3);
    fold(&d, defs, "call:1", 4, &due);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM instances WHERE process_id = (SELECT id"
                                     " FROM processes WHERE name = 'Phone hotline')"),
                     0);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM measurements WHERE step_key = 'answer'"),
                     0);
    assert_true(pin3 > pin2 && pin2 > pin1);
    runtime_defs_free(defs);
    test_db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_id),        cmocka_unit_test(test_fold_live_and_rebuild),
        cmocka_unit_test(test_default_calendar), cmocka_unit_test(test_pin_find),
        cmocka_unit_test(test_pinned_fold),
    };
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
