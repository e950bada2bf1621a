/*
 * test_staff.c — unit tests of the shared record paths of crm/staff.c (users and teams
 * through one `struct kind`) and runtime/records.c (calendars and processes through one
 * `struct doc_kind`), against a fresh migrated database: versions, the no-op update that
 * writes and audits nothing, stale versions, taken names, paging cursors and the audit
 * actions. Expected values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "crm/audit.h"
#include "crm/staff.h"
#include "runtime/records.h"
#include "store/store.h"
#include "test_db.h"

static int64_t
count(struct test_db *d, const char *sql)
{
    struct smile_err err;
    int64_t n = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(d->s, sql, &n, &err), SMILE_OK);
    return n;
}

static json_t *
parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    return j;
}

static const struct audit_who cli = {NULL, NULL, NULL};

static void
test_team_update_versions_and_audit(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct staff_team t, u;
    json_t *in;

    (void)state;
    test_db_open(&d, "staff");
    smile_err_clear(&err);
    in = parse("{\"name\": \"repairs\", \"display_name\": \"Repairs\"}");
    assert_int_equal(staff_team_create(d.s, &cli, in, &t, &err), SMILE_OK);
    json_decref(in);
    /* A new record starts at version 1, with one audit row "create". */
    assert_int_equal(t.version, 1);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'team' AND "
                               "action = 'create'"),
                     1);

    /* The same display name again changes nothing: version 1 stays, no audit row. */
    in = parse("{\"display_name\": \"Repairs\"}");
    assert_int_equal(staff_team_update(d.s, &cli, t.id, 1, in, &u, &err), SMILE_OK);
    json_decref(in);
    assert_int_equal(u.version, 1);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'team'"), 1);

    /* A real change at version 1 → version 2 and an "update" row (2 rows in all). */
    in = parse("{\"display_name\": \"Repairs desk\"}");
    assert_int_equal(staff_team_update(d.s, &cli, t.id, 1, in, &u, &err), SMILE_OK);
    assert_int_equal(u.version, 2);
    assert_string_equal(u.display_name, "Repairs desk");
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'team' AND "
                               "action = 'update'"),
                     1);

    /* The same patch expecting version 1 again: the record is at 2 → 412, nothing written. */
    smile_err_clear(&err);
    assert_int_equal(staff_team_update(d.s, &cli, t.id, 1, in, &u, &err), SMILE_EPRECOND);
    json_decref(in);
    assert_string_equal(err.msg, "team 1 is at version 2, not 1: read it again");
    assert_int_equal(count(&d, "SELECT version FROM teams WHERE id = 1"), 2);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'team'"), 2);

    /* A missing team is "no such team" (the generic fetch names the kind). */
    smile_err_clear(&err);
    assert_int_equal(staff_team_get(d.s, 99, &u, &err), SMILE_ENOTFOUND);
    assert_string_equal(err.msg, "no such team");
    test_db_close(&d);
}

static void
test_user_disable_is_audited_as_disable(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct staff_user a, b;
    json_t *in;

    (void)state;
    test_db_open(&d, "staff");
    smile_err_clear(&err);
    in = parse("{\"username\": \"li.na\", \"role\": \"agent\", \"display_name\": \"Li Na\"}");
    assert_int_equal(staff_user_create(d.s, &cli, in, "x", &a, &err), SMILE_OK);
    json_decref(in);
    assert_int_equal(a.version, 1);
    /* disabled false → true: the update_action hook names it "disable"; version 1 → 2. */
    in = parse("{\"disabled\": true}");
    assert_int_equal(staff_user_update(d.s, &cli, a.id, 1, in, &b, &err), SMILE_OK);
    json_decref(in);
    assert_true(b.disabled);
    assert_int_equal(b.version, 2);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'user' AND "
                               "action = 'disable'"),
                     1);
    /* A role change of the disabled user is a plain "update" (disabled stays true). */
    in = parse("{\"role\": \"supervisor\"}");
    assert_int_equal(staff_user_update(d.s, &cli, a.id, 0, in, &b, &err), SMILE_OK);
    json_decref(in);
    assert_int_equal(b.version, 3);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit WHERE entity = 'user' AND "
                               "action = 'update'"),
                     1);
    test_db_close(&d);
}

static void
test_team_list_pages(void **state)
{
    static const char *const names[] = {"a", "b", "c"};
    struct test_db d;
    struct smile_err err;
    struct staff_team t;
    json_t *items = NULL;
    int64_t next = -1;

    (void)state;
    test_db_open(&d, "staff");
    smile_err_clear(&err);
    for (int i = 0; i < 3; i++) {
        json_t *in = json_pack("{s:s}", "name", names[i]);
        assert_int_equal(staff_team_create(d.s, &cli, in, &t, &err), SMILE_OK);
        json_decref(in);
    }
    /* Ids 1, 2, 3. A page of 2 after 0 holds 1 and 2; more follow, so next = 2. */
    assert_int_equal(staff_team_list(d.s, 0, 2, &items, &next, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(next, 2);
    json_decref(items);
    /* After 2: only 3 is left, the last page → next = 0. */
    assert_int_equal(staff_team_list(d.s, 2, 2, &items, &next, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "name")), "c");
    assert_int_equal(next, 0);
    json_decref(items);
    /* Exactly 3 with limit 3: the 4th row probed is absent → next = 0. */
    assert_int_equal(staff_team_list(d.s, 0, 3, &items, &next, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 3);
    assert_int_equal(next, 0);
    json_decref(items);
    test_db_close(&d);
}

static void
test_process_documents(void **state)
{
    struct test_db d;
    struct smile_err err;
    json_t *doc, *out = NULL, *items = NULL;
    int64_t next = -1, id;

    (void)state;
    test_db_open(&d, "staff");
    smile_err_clear(&err);
    doc = parse("{\"name\": \"Hotline\", \"steps\": []}");
    assert_int_equal(runtime_process_create(d.s, doc, 1000, &out, &err), SMILE_OK);
    /* A draft at version 1 under "draft", with no published versions yet. */
    id = json_integer_value(json_object_get(out, "id"));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "draft"), "name")),
                        "Hotline");
    assert_int_equal(json_array_size(json_object_get(out, "versions")), 0);
    json_decref(out);

    /* The same name again: 409 with the process message (which does not repeat the name). */
    smile_err_clear(&err);
    assert_int_equal(runtime_process_create(d.s, doc, 1000, &out, &err), SMILE_ECONFLICT);
    assert_string_equal(err.msg, "a process with this name exists");
    assert_null(out);

    /* Replace at version 1 → 2; again expecting 1 → 412 naming both versions. */
    smile_err_clear(&err);
    assert_int_equal(runtime_process_replace(d.s, id, 1, doc, 2000, &out, &err), SMILE_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    json_decref(out);
    smile_err_clear(&err);
    assert_int_equal(runtime_process_replace(d.s, id, 1, doc, 3000, &out, &err), SMILE_EPRECOND);
    assert_string_equal(err.msg, "If-Match \"1\" is stale: the record is at version 2");
    json_decref(doc);

    /* The list item carries latest_version, null before any publication. */
    smile_err_clear(&err);
    assert_int_equal(runtime_process_list(d.s, 0, 10, &items, &next, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 1);
    assert_true(json_is_null(json_object_get(json_array_get(items, 0), "latest_version")));
    assert_int_equal(next, 0);
    json_decref(items);

    /* A missing process: "no process 9". */
    smile_err_clear(&err);
    assert_int_equal(runtime_process_get(d.s, 9, &out, NULL, &err), SMILE_ENOTFOUND);
    assert_string_equal(err.msg, "no process 9");
    test_db_close(&d);
}

static void
test_calendar_documents(void **state)
{
    static const char cal[] =
        "{\"time_zone\": \"Asia/Shanghai\", \"versions\": "
        "[{\"effective_from\": \"2026-01-01\", \"ring_ms\": 5000, \"week\": {\"mon\": "
        "[[\"09:00\", \"18:00\"]]}}]}";
    struct test_db d;
    struct smile_err err;
    json_t *out = NULL, *doc;
    int64_t version = 0;

    (void)state;
    test_db_open(&d, "staff");
    smile_err_clear(&err);
    /* install creates it once; a second install of the same name leaves it alone. */
    if (runtime_calendar_install(d.s, "office", cal, &err) != SMILE_OK)
        fail_msg("install: %s (%s)", err.msg, err.nfields ? err.fields[0].msg : "");
    assert_int_equal(runtime_calendar_install(d.s, "office", cal, &err), SMILE_OK);
    assert_int_equal(count(&d, "SELECT count(*) FROM calendars WHERE name = 'office'"), 1);
    assert_int_equal(runtime_calendar_get(d.s, 1, &out, &version, &err), SMILE_OK);
    /* The ETag version comes from the row: 1 for a new calendar; the doc under "document". */
    assert_int_equal(version, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "document"), "time_zone")),
        "Asia/Shanghai");
    doc = json_deep_copy(json_object_get(out, "document"));
    json_decref(out);
    /* Creating "office" again: 409 naming it. */
    smile_err_clear(&err);
    assert_int_equal(runtime_calendar_create(d.s, doc, 1000, &out, &err), SMILE_ECONFLICT);
    assert_string_equal(err.msg, "a calendar named 'office' exists");
    json_decref(doc);
    /* A missing calendar: "no calendar 7". */
    smile_err_clear(&err);
    assert_int_equal(runtime_calendar_get(d.s, 7, &out, NULL, &err), SMILE_ENOTFOUND);
    assert_string_equal(err.msg, "no calendar 7");
    test_db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_update_versions_and_audit),
        cmocka_unit_test(test_user_disable_is_audited_as_disable),
        cmocka_unit_test(test_team_list_pages),
        cmocka_unit_test(test_process_documents),
        cmocka_unit_test(test_calendar_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
