/*
 * test_pipl.c — PIPL Art. 47 erasure: the ledger's redaction of event data (pure), the
 * forms of a caller number, ledger_erase() on a real database (which events change, which
 * stay, the counts, the query plans: indexes, never a scan of the ledger) and the audit
 * part's audit_redact(). Expected values are worked out by hand in each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crm/audit.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "test_db.h"

/* Parses, erases as type, and compares the canonical result with want (canonical too). */
static int
erase_as(const char *type, const char *data, const char *want)
{
    json_t *d = json_loads(data, 0, NULL), *w = json_loads(want, 0, NULL);
    int n;

    assert_non_null(d);
    assert_non_null(w);
    n = ledger_erase_data(d, type);
    if (!json_equal(d, w)) {
        char *got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);

        fail_msg("got %s, want %s", got, want);
    }
    json_decref(d);
    json_decref(w);
    return n;
}

static void
test_erase_mail_data(void **state)
{
    (void)state;
    /* email.received as the mail part writes it: the strings below from (1), from_name (1),
     * to (2), subject (1) and attachments (name and type: 2) are personal, 7 in all; the
     * message id, case id, counts and sizes stay. */
    assert_int_equal(
        erase_as(
            "email.received",
            "{\"from\":\"wang@example.cn\",\"from_name\":\"王五\",\"to\":[\"a@x.cn\",\"b@x.cn\"],"
            "\"subject\":\"漏水\",\"message_id\":\"<m1@x.cn>\",\"attachments\":[{\"name\":\"p."
            "jpg\",\"type\":\"image/jpeg\",\"size\":20}],\"attachment_count\":1,\"size\":99,"
            "\"case_id\":4}",
            "{\"from\":\"(erased)\",\"from_name\":\"(erased)\",\"to\":[\"(erased)\",\"(erased)\"],"
            "\"subject\":\"(erased)\",\"message_id\":\"<m1@x.cn>\",\"attachments\":[{\"name\":"
            "\"(erased)\",\"type\":\"(erased)\",\"size\":20}],\"attachment_count\":1,\"size\":"
            "99,\"case_id\":4}"),
        7);
    /* Empty lists and empty strings hold nothing: 0. */
    assert_int_equal(erase_as("email.sent", "{\"to\":[],\"cc\":[],\"subject\":\"\"}",
                              "{\"to\":[],\"cc\":[],\"subject\":\"\"}"),
                     0);
}

static void
test_erase_keeps_what_the_engine_reads(void **state)
{
    (void)state;
    /* In a case event from and to are statuses, and type / assignee / team / by are read by
     * the default processes: nothing is personal, nothing changes. */
    assert_int_equal(erase_as("case.assigned",
                              "{\"from\":\"new\",\"to\":\"open\",\"type\":\"repair\",\"assignee\":"
                              "\"ann\",\"team\":\"desk\",\"priority\":\"high\"}",
                              "{\"from\":\"new\",\"to\":\"open\",\"type\":\"repair\",\"assignee\":"
                              "\"ann\",\"team\":\"desk\",\"priority\":\"high\"}"),
                     0);
    /* A call: the caller number posted as a JSON number is replaced (it sits directly under
     * a personal key), the caller's name too (2); queue, agent, durations stay. */
    assert_int_equal(erase_as("call.offered",
                              "{\"caller\":13800138000,\"caller_name\":\"王五\",\"queue\":\"hot\","
                              "\"holdtime_s\":5,\"agent\":\"ann\",\"url\":\"\"}",
                              "{\"caller\":\"(erased)\",\"caller_name\":\"(erased)\",\"queue\":"
                              "\"hot\",\"holdtime_s\":5,\"agent\":\"ann\",\"url\":\"\"}"),
                     2);
    /* A nested object under a personal key: its strings go, its number stays (1). null and
     * booleans recorded nothing. An already erased value is not counted again. */
    assert_int_equal(erase_as("visit.arrived",
                              "{\"visitor\":{\"name\":\"李四\",\"age\":40,\"vip\":true},\"desk\":"
                              "\"A\",\"note\":null,\"phone\":\"(erased)\"}",
                              "{\"visitor\":{\"name\":\"(erased)\",\"age\":40,\"vip\":true},"
                              "\"desk\":\"A\",\"note\":null,\"phone\":\"(erased)\"}"),
                     1);
    assert_true(ledger_erase_key_personal("call.offered", "caller_num"));
    assert_true(ledger_erase_key_personal("custom.x", "customer_name"));
    assert_true(ledger_erase_key_personal("custom.email_auto", "from"));
    assert_false(ledger_erase_key_personal("case.resolved", "from"));
    assert_false(ledger_erase_key_personal("call.answered", "holdtime_s"));
    assert_false(ledger_erase_key_personal("case.replied", "by"));
}

static void
test_erase_mentions(void **state)
{
    static const char *const values[] = {"王五", "wang.wu@example.cn", "13800138000", "Li"};
    json_t *d = json_loads("{\"contact_person\":\"王五先生\",\"extra\":{\"note\":\"x\","
                           "\"seen\":[\"called 13800138000\",\"ok\"]},\"cc_list\":\"WANG.WU@"
                           "Example.cn\",\"agent\":\"王五\",\"queue\":\"13800138000\","
                           "\"label\":\"Limited\",\"count\":3}",
                           0, NULL),
           *want = json_loads("{\"contact_person\":\"(erased)\",\"extra\":{\"note\":\"x\","
                              "\"seen\":[\"(erased)\",\"ok\"]},\"cc_list\":\"(erased)\","
                              "\"agent\":\"王五\",\"queue\":\"13800138000\",\"label\":"
                              "\"Limited\",\"count\":3}",
                              0, NULL);

    (void)state;
    /* By hand: contact_person contains 王五 (1); extra.seen[0] contains the phone (1);
     * extra.note "x" mentions nothing (keys are judged personal by name at the top level
     * only); cc_list contains the e-mail in another ASCII case (1); agent and queue are
     * keys the engine reads, kept although they match; "Li" is shorter than
     * LEDGER_ERASE_VALUE_MIN, so "Limited" stays; the number is no string. 3 in all. */
    assert_int_equal(ledger_erase_data_values(d, "custom.note", values, 4), 3);
    assert_true(json_equal(d, want));
    json_decref(d);
    json_decref(want);
}

static void
test_caller_forms(void **state)
{
    char f[LEDGER_CALLER_FORMS][LEDGER_CALLER_MAX];
    int n;

    (void)state;
    /* A mobile as stored (docs/crm.md): itself, with a trunk 0, and after +86 / 0086 / 86. */
    ledger_erase_caller_forms("13800138000", f, &n);
    assert_int_equal(n, 5);
    assert_string_equal(f[0], "13800138000");
    assert_string_equal(f[1], "013800138000");
    assert_string_equal(f[2], "+8613800138000");
    assert_string_equal(f[3], "008613800138000");
    assert_string_equal(f[4], "8613800138000");
    /* A Beijing landline: the trunk 0 is dropped after the country code. */
    ledger_erase_caller_forms("01012345678", f, &n);
    assert_int_equal(n, 4);
    assert_string_equal(f[1], "+861012345678");
    assert_string_equal(f[2], "00861012345678");
    assert_string_equal(f[3], "861012345678");
    /* A foreign number stays E.164, or 00 instead of +. */
    ledger_erase_caller_forms("+442079460958", f, &n);
    assert_int_equal(n, 2);
    assert_string_equal(f[1], "00442079460958");
}

static void
put_event(struct store *s, int64_t id, const char *type, const char *subject, const char *customer,
          const char *data)
{
    static const char sql[] =
        "INSERT INTO events (id, type, occurred_at, received_at, subject, actor, customer, "
        "channel, source, source_id, data) VALUES ($1, $2, $3, $3, $4, NULL, $5, 'phone', 't', $6, "
        "$7)";
    struct store_stmt *st;
    struct smile_err err;
    char sid[32];

    smile_err_clear(&err);
    snprintf(sid, sizeof(sid), "e%lld", (long long)id);
    assert_int_equal(store_prepare(s, sql, &st, &err), SMILE_OK);
    store_stmt_bind_int64(st, 1, id);
    store_stmt_bind_text(st, 2, type, -1);
    store_stmt_bind_int64(st, 3, 1764400000000 + id * 1000);
    store_stmt_bind_text(st, 4, subject, -1);
    store_stmt_bind_text(st, 5, customer, -1);
    store_stmt_bind_text(st, 6, sid, -1);
    store_stmt_bind_text(st, 7, data, -1);
    assert_int_equal(store_stmt_step(st, &err), STORE_DONE);
    store_stmt_reset(st);
}

/* The one text column sql (a static string taking the id as $1) selects for row id. */
static void
text_by_id(struct store *s, const char *sql, int64_t id, char *out, size_t cap)
{
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(store_prepare(s, sql, &st, &err), SMILE_OK);
    store_stmt_bind_int64(st, 1, id);
    assert_int_equal(store_stmt_step(st, &err), STORE_ROW);
    snprintf(out, cap, "%s", store_stmt_text(st, 0));
    store_stmt_reset(st);
}

/* The stored customer and data of event id as "customer|data". */
static void
event_row(struct store *s, int64_t id, char *out, size_t cap)
{
    static const char sql[] = "SELECT coalesce(customer, '-') || '|' || data FROM events "
                              "WHERE id = $1";

    text_by_id(s, sql, id, out, cap);
}

/* The query plan's detail lines of sql, joined. */
static void
plan(struct store *s, const char *sql, char *out, size_t cap)
{
    struct store_stmt *st;
    struct smile_err err;
    size_t used = 0;

    smile_err_clear(&err);
    out[0] = '\0';
    assert_int_equal(store_prepare(s, sql, &st, &err), SMILE_OK);
    while (store_stmt_step(st, &err) == STORE_ROW)
        used += (size_t)snprintf(out + used, cap - used, "%s;", store_stmt_text(st, 3));
    store_stmt_reset(st);
    assert_true(used < cap);
}

static void
test_ledger_erase(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct ledger_erase_counts c;
    const char *subjects[] = {"case:7"}, *callers[] = {"13800138000", "+8613800138000"};
    struct ledger_erase_scope sc = {
        .customer = "42", .subjects = subjects, .nsubjects = 1, .callers = callers, .ncallers = 2};
    char row[512];

    (void)state;
    test_db_open(&d, "pipl");
    smile_err_clear(&err);
    /* Customer 42: a thread naming it (2 events, the reply without a customer), its case
     * (no personal value in case events), a call in the +86 form (offered names the
     * caller, answered does not). Customer 43: a thread and a call of its own. */
    put_event(d.s, 1, "email.received", "thread:<a@x>", "42",
              "{\"from\":\"w@x.cn\",\"subject\":\"leak\",\"message_id\":\"<a@x>\"}");
    put_event(d.s, 2, "email.sent", "thread:<a@x>", NULL,
              "{\"subject\":\"Re: leak\",\"to\":[\"w@x.cn\"]}");
    put_event(d.s, 3, "case.opened", "case:7", "42", "{\"type\":\"repair\",\"to\":\"new\"}");
    put_event(d.s, 4, "call.offered", "call:1", "+8613800138000",
              "{\"caller_name\":\"王五\",\"queue\":\"hot\"}");
    put_event(d.s, 5, "call.answered", "call:1", NULL, "{\"agent\":\"ann\",\"holdtime_s\":3}");
    put_event(d.s, 6, "email.received", "thread:<b@x>", "43", "{\"from\":\"l@x.cn\"}");
    put_event(d.s, 7, "call.offered", "call:2", "13900139000", "{\"caller_name\":\"李四\"}");
    /* Customer 43 also wrote to 42's thread: its own values stay. */
    put_event(d.s, 8, "email.received", "thread:<a@x>", "43", "{\"from\":\"l@x.cn\"}");
    assert_int_equal(ledger_erase(d.s, &sc, &c, &err), SMILE_OK);
    /* Subjects: case:7 (given), thread:<a@x> (customer 42 — case:7 again is a duplicate),
     * call:1 (caller +86…) = 3. Events read on them: 1 + 3 + 2 = 6. Rewritten: 1 (from,
     * subject: 2 values), 2 (subject, to[0]: 2), 4 (caller_name 1 + the caller number in
     * customer 1) = 3 events, 6 values; 8 names customer 43 and mentions nothing of 42's
     * (no values given). No measurement rows exist. */
    assert_int_equal(c.subjects, 3);
    assert_int_equal(c.events, 6);
    assert_int_equal(c.erased, 3);
    assert_int_equal(c.values, 6);
    assert_int_equal(c.measurements, 0);
    event_row(d.s, 1, row, sizeof(row));
    assert_string_equal(row, "42|{\"from\":\"(erased)\",\"message_id\":\"<a@x>\",\"subject\":"
                             "\"(erased)\"}");
    event_row(d.s, 2, row, sizeof(row));
    assert_string_equal(row, "-|{\"subject\":\"(erased)\",\"to\":[\"(erased)\"]}");
    event_row(d.s, 3, row, sizeof(row));
    assert_string_equal(row, "42|{\"type\":\"repair\",\"to\":\"new\"}");
    event_row(d.s, 4, row, sizeof(row));
    assert_string_equal(row, "(erased)|{\"caller_name\":\"(erased)\",\"queue\":\"hot\"}");
    event_row(d.s, 5, row, sizeof(row));
    assert_string_equal(row, "-|{\"agent\":\"ann\",\"holdtime_s\":3}");
    event_row(d.s, 6, row, sizeof(row));
    assert_string_equal(row, "43|{\"from\":\"l@x.cn\"}");
    event_row(d.s, 7, row, sizeof(row));
    assert_string_equal(row, "13900139000|{\"caller_name\":\"李四\"}");
    event_row(d.s, 8, row, sizeof(row));
    assert_string_equal(row, "43|{\"from\":\"l@x.cn\"}");
    /* Again: the same subjects are read (call:1 is no longer found by its caller number:
     * 2 subjects, 3 events), nothing is left to rewrite. */
    assert_int_equal(ledger_erase(d.s, &sc, &c, &err), SMILE_OK);
    assert_int_equal(c.subjects, 2);
    assert_int_equal(c.erased, 0);
    assert_int_equal(c.values, 0);
    test_db_close(&d);
}

static void
test_erase_outgrows_the_intake_limit(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct ledger_erase_counts c;
    const char *subjects[] = {"thread:<big@x>"};
    struct ledger_erase_scope sc = {.subjects = subjects, .nsubjects = 1};
    struct buf b;
    int64_t len = 0;

    (void)state;
    test_db_open(&d, "pipl_big");
    smile_err_clear(&err);
    /* 3,000 one-letter recipients: {"to":[ (7 bytes) + 3,000 × "a" (3) + 2,999 commas +
     * ]} (2) = 12,008 bytes, under the 16 KiB limit; erased, each "a" becomes "(erased)"
     * (10 with its quotes): 7 + 30,000 + 2,999 + 2 = 33,008 bytes, over it. The erasure
     * still succeeds. */
    buf_init(&b, 0);
    buf_puts(&b, "{\"to\":[");
    for (int i = 0; i < 3000; i++)
        buf_puts(&b, i ? ",\"a\"" : "\"a\"");
    buf_puts(&b, "]}");
    assert_int_equal(b.len, 12008);
    put_event(d.s, 1, "email.sent", "thread:<big@x>", NULL, b.data);
    assert_int_equal(ledger_erase(d.s, &sc, &c, &err), SMILE_OK);
    assert_int_equal(c.erased, 1);
    assert_int_equal(c.values, 3000);
    assert_int_equal(
        store_query_int64(d.s, "SELECT length(data) FROM events WHERE id = 1", &len, &err),
        SMILE_OK);
    assert_int_equal(len, 33008);
    buf_free(&b);
    test_db_close(&d);
}

static void
test_erase_query_plans(void **state)
{
    struct test_db d;
    char p[512];

    (void)state;
    test_db_open(&d, "pipl_plan");
    /* The statements erase.c runs, with the same text: each a SEARCH through an index. A
     * SCAN of events would read the whole ledger (10 million rows) under the write lock. */
    plan(d.s, "EXPLAIN QUERY PLAN SELECT DISTINCT subject FROM events WHERE customer = $1", p,
         sizeof(p));
    assert_non_null(strstr(p, "SEARCH events USING INDEX events_customer (customer=?)"));
    assert_null(strstr(p, "SCAN events"));
    plan(d.s, "EXPLAIN QUERY PLAN SELECT id, type, customer, data FROM events WHERE subject = $1",
         p, sizeof(p));
    assert_non_null(strstr(p, "SEARCH events USING INDEX events_subject (subject=?)"));
    plan(d.s,
         "EXPLAIN QUERY PLAN UPDATE measurements SET customer = '(erased)' WHERE subject = $1 "
         "AND customer = $2",
         p, sizeof(p));
    assert_null(strstr(p, "SCAN measurements"));
    plan(d.s,
         "EXPLAIN QUERY PLAN SELECT e.subject FROM cases c JOIN mail_messages m ON m.case_id = "
         "c.id JOIN events e ON e.id = m.event_id WHERE c.customer_id = $1 UNION SELECT "
         "e.subject FROM interactions i JOIN mail_messages m ON m.interaction_id = i.id JOIN "
         "events e ON e.id = m.event_id WHERE i.customer_id = $1",
         p, sizeof(p));
    assert_null(strstr(p, "SCAN events"));
    assert_null(strstr(p, "SCAN m"));
    assert_non_null(strstr(p, "mail_messages_case"));
    assert_non_null(strstr(p, "mail_messages_interaction"));
    plan(d.s,
         "EXPLAIN QUERY PLAN SELECT id, before, after FROM audit WHERE entity = $1 AND "
         "entity_id = $2",
         p, sizeof(p));
    assert_non_null(strstr(p, "audit_entity"));
    test_db_close(&d);
}

/* The before and after of audit row id as "before|after" ("-" for NULL). */
static void
audit_row(struct store *s, int64_t id, char *out, size_t cap)
{
    static const char sql[] = "SELECT coalesce(before, '-') || '|' || coalesce(after, '-') "
                              "FROM audit WHERE id = $1";

    text_by_id(s, sql, id, out, cap);
}

static void
test_audit_redact(void **state)
{
    static const char *const fields[] = {"name", "phones", "notes"};
    struct test_db d;
    struct smile_err err;
    json_t *a1 = json_pack("{s:s, s:[s, s], s:s, s:n}", "name", "王五", "phones", "13800138000",
                           "01012345678", "kind", "person", "notes");
    json_t *b2 = json_pack("{s:s}", "notes", "old"), *a2 = json_pack("{s:s}", "notes", "new");
    json_t *a3 = json_pack("{s:[s]}", "fields", "id_number");
    int64_t rows;
    char r[256];

    (void)state;
    test_db_open(&d, "pipl_audit");
    smile_err_clear(&err);
    /* Rows 1–3 are customer 5's (create, update, reveal), row 4 is customer 6's. */
    assert_int_equal(audit_record(d.s, NULL, "customer", 5, "create", NULL, a1, NULL, NULL, &err),
                     SMILE_OK);
    assert_int_equal(audit_record(d.s, NULL, "customer", 5, "update", b2, a2, NULL, NULL, &err),
                     SMILE_OK);
    assert_int_equal(audit_record(d.s, NULL, "customer", 5, "reveal", NULL, a3, NULL, NULL, &err),
                     SMILE_OK);
    assert_int_equal(audit_record(d.s, NULL, "customer", 6, "create", NULL, a1, NULL, NULL, &err),
                     SMILE_OK);
    assert_int_equal(audit_redact(d.s, "customer", 5, fields, 3, &rows, &err), SMILE_OK);
    /* Row 1: name and both phones (notes is null: stays); row 2: notes before and after;
     * row 3 names the field "id_number" only, no value of a listed field: unchanged. */
    assert_int_equal(rows, 2);
    audit_row(d.s, 1, r, sizeof(r));
    assert_string_equal(r, "-|{\"name\":\"(erased)\",\"phones\":[\"(erased)\",\"(erased)\"],"
                           "\"kind\":\"person\",\"notes\":null}");
    audit_row(d.s, 2, r, sizeof(r));
    assert_string_equal(r, "{\"notes\":\"(erased)\"}|{\"notes\":\"(erased)\"}");
    audit_row(d.s, 3, r, sizeof(r));
    assert_string_equal(r, "-|{\"fields\":[\"id_number\"]}");
    audit_row(d.s, 4, r, sizeof(r));
    assert_string_equal(r, "-|{\"name\":\"王五\",\"phones\":[\"13800138000\",\"01012345678\"],"
                           "\"kind\":\"person\",\"notes\":null}");
    /* Twice: nothing left. */
    assert_int_equal(audit_redact(d.s, "customer", 5, fields, 3, &rows, &err), SMILE_OK);
    assert_int_equal(rows, 0);
    json_decref(a1);
    json_decref(b2);
    json_decref(a2);
    json_decref(a3);
    test_db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erase_mail_data),
        cmocka_unit_test(test_erase_keeps_what_the_engine_reads),
        cmocka_unit_test(test_erase_mentions),
        cmocka_unit_test(test_caller_forms),
        cmocka_unit_test(test_ledger_erase),
        cmocka_unit_test(test_erase_outgrows_the_intake_limit),
        cmocka_unit_test(test_erase_query_plans),
        cmocka_unit_test(test_audit_redact),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
