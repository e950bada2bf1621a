/*
 * test_notify.c — unit tests of escalation: the rules of a process step (validation with
 * JSON Pointers, canonical form, selection for a warning index or a breach), the rules of the
 * default Complaint handling process, and notify_escalate_pending() on a real SQLite file:
 * the rules of a fired deadline run once — notifications to the assignee and the supervisor,
 * the priority raised — and never again, whether the cursor says so or, after the cursor is
 * moved back, the escalation log. Expected values are worked out by hand in the comments.
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
#include "engine/engine.h"
#include "ledger/ledger.h"
#include "notify/notify.h"
#include "store/store.h"

/* A one-step process with warn_at [0.5, 0.8] and the escalate array given. */
static char *
doc_with(const char *escalate)
{
    static const char fmt[] =
        "{\"name\": \"t\", \"trigger\": {\"type\": \"custom.open\"}, \"steps\": [{\"key\": \"s\","
        " \"title\": \"S\", \"function\": \"other\", \"done_on\": {\"type\": \"custom.done\"},"
        " \"standard\": {\"within\": \"1h\"}, \"warn_at\": [0.5, 0.8], \"escalate\": %s}]}";
    size_t n = sizeof(fmt) + strlen(escalate);
    char *d = malloc(n);

    snprintf(d, n, fmt, escalate);
    return d;
}

static int
compile(const char *escalate, struct engine_process **p, struct smile_err *err)
{
    char *d = doc_with(escalate);
    int rc;

    smile_err_clear(err);
    rc = engine_process_compile(d, strlen(d), p, err);
    free(d);
    return rc;
}

/* The single problem of a bad escalate array: its pointer. */
static void
bad(const char *escalate, const char *pointer)
{
    struct engine_process *p = NULL;
    struct smile_err err;

    assert_int_equal(compile(escalate, &p, &err), SMILE_EINVAL);
    assert_null(p);
    assert_int_equal(err.nfields, 1);
    assert_string_equal(err.fields[0].path, pointer);
}

static void
test_rules_validate(void **state)
{
    (void)state;
    bad("{}", "/steps/0/escalate");
    bad("[1]", "/steps/0/escalate/0");
    bad("[{\"do\": \"notify_assignee\"}]", "/steps/0/escalate/0/on");
    bad("[{\"on\": \"soon\", \"do\": \"notify_assignee\"}]", "/steps/0/escalate/0/on");
    bad("[{\"on\": \"breach\"}]", "/steps/0/escalate/0/do");
    bad("[{\"on\": \"breach\", \"do\": \"call_mum\"}]", "/steps/0/escalate/0/do");
    /* Two warning points (0.5, 0.8): indices 0 and 1; 2 is out of range. */
    bad("[{\"on\": \"warning\", \"at\": 2, \"do\": \"notify_assignee\"}]",
        "/steps/0/escalate/0/at");
    bad("[{\"on\": \"warning\", \"at\": -1, \"do\": \"notify_assignee\"}]",
        "/steps/0/escalate/0/at");
    /* A breach has no warning index. */
    bad("[{\"on\": \"breach\", \"at\": 0, \"do\": \"notify_assignee\"}]", "/steps/0/escalate/0/at");
    bad("[{\"on\": \"breach\", \"do\": \"reassign\"}]", "/steps/0/escalate/0/to");
    bad("[{\"on\": \"breach\", \"do\": \"reassign\", \"to\": \"boss\"}]", "/steps/0/escalate/0/to");
    bad("[{\"on\": \"breach\", \"do\": \"reassign\", \"to\": \"team:\"}]",
        "/steps/0/escalate/0/to");
    bad("[{\"on\": \"breach\", \"do\": \"raise_priority\", \"to\": \"low\"}]",
        "/steps/0/escalate/0/to");
    bad("[{\"on\": \"breach\", \"do\": \"notify_supervisor\", \"to\": \"supervisor\"}]",
        "/steps/0/escalate/0/to");
    bad("[{\"on\": \"breach\", \"do\": \"notify_supervisor\", \"when\": 1}]",
        "/steps/0/escalate/0/when");
    /* The same rule twice is a mistake, reported on the second. */
    bad("[{\"on\": \"breach\", \"do\": \"notify_supervisor\"},"
        " {\"on\": \"breach\", \"do\": \"notify_supervisor\"}]",
        "/steps/0/escalate/1");
    /* Nine rules: one over ENGINE_MAX_ESCALATE (8). */
    bad("[{\"on\":\"warning\",\"at\":0,\"do\":\"notify_assignee\"},"
        "{\"on\":\"warning\",\"at\":1,\"do\":\"notify_assignee\"},"
        "{\"on\":\"warning\",\"do\":\"notify_assignee\"},"
        "{\"on\":\"warning\",\"do\":\"notify_supervisor\"},"
        "{\"on\":\"breach\",\"do\":\"notify_assignee\"},"
        "{\"on\":\"breach\",\"do\":\"notify_supervisor\"},"
        "{\"on\":\"breach\",\"do\":\"raise_priority\"},"
        "{\"on\":\"breach\",\"do\":\"reassign\",\"to\":\"supervisor\"},"
        "{\"on\":\"breach\",\"do\":\"reassign\",\"to\":\"team:b\"}]",
        "/steps/0/escalate");
}

static void
test_rules_canonical_and_select(void **state)
{
    struct engine_process *p = NULL, *q = NULL;
    const struct engine_escalation *r;
    struct smile_err err;
    uint32_t sel[8];
    char *canon, *again;

    (void)state;
    assert_int_equal(
        compile("[{\"on\": \"warning\", \"do\": \"notify_assignee\"},"
                " {\"on\": \"warning\", \"at\": 1, \"do\": \"notify_supervisor\"},"
                " {\"on\": \"breach\", \"do\": \"reassign\", \"to\": \"team:vip\"},"
                " {\"on\": \"breach\", \"do\": \"raise_priority\", \"to\": \"urgent\"}]",
                &p, &err),
        SMILE_OK);
    assert_int_equal(engine_process_step_escalations(p, 0, &r), 4);
    assert_int_equal(r[0].at, -1);
    assert_int_equal(r[1].at, 1);
    assert_int_equal(r[2].action, ENGINE_ESC_REASSIGN);
    assert_string_equal(r[2].to, "team:vip");
    assert_null(r[0].to);
    /* Canonical: keys sorted within each rule, "at" and "to" only when given, order kept. */
    canon = engine_process_to_json(p);
    assert_non_null(strstr(canon,
                           "\"escalate\":[{\"do\":\"notify_assignee\",\"on\":\"warning\"},"
                           "{\"at\":1,\"do\":\"notify_supervisor\",\"on\":\"warning\"},"
                           "{\"do\":\"reassign\",\"on\":\"breach\",\"to\":\"team:vip\"},"
                           "{\"do\":\"raise_priority\",\"on\":\"breach\",\"to\":\"urgent\"}]"));
    smile_err_clear(&err);
    assert_int_equal(engine_process_compile(canon, strlen(canon), &q, &err), SMILE_OK);
    again = engine_process_to_json(q);
    assert_string_equal(canon, again);
    /* Warning 0: only rule 0 (any warning). Warning 1: rules 0 and 1. Breach: 2 and 3. */
    assert_int_equal(engine_escalations_select(p, 0, false, 0, sel, 8), 1);
    assert_int_equal(sel[0], 0);
    assert_int_equal(engine_escalations_select(p, 0, false, 1, sel, 8), 2);
    assert_int_equal(sel[0], 0);
    assert_int_equal(sel[1], 1);
    assert_int_equal(engine_escalations_select(p, 0, true, 0, sel, 8), 2);
    assert_int_equal(sel[0], 2);
    assert_int_equal(sel[1], 3);
    /* max bounds the output; a step that does not exist selects nothing. */
    assert_int_equal(engine_escalations_select(p, 0, true, 0, sel, 1), 1);
    assert_int_equal(engine_escalations_select(p, 5, true, 0, sel, 8), 0);
    free(canon);
    free(again);
    engine_process_unref(p);
    engine_process_unref(q);
}

static void
test_no_rules_keeps_the_document(void **state)
{
    struct engine_process *p = NULL;
    struct smile_err err;
    const struct engine_escalation *r;
    uint32_t sel[4];
    char *canon;

    (void)state;
    assert_int_equal(compile("[]", &p, &err), SMILE_OK);
    assert_int_equal(engine_process_step_escalations(p, 0, &r), 0);
    assert_null(r);
    assert_int_equal(engine_escalations_select(p, 0, true, 0, sel, 4), 0);
    /* An empty array is not written back: documents without rules keep their text. */
    canon = engine_process_to_json(p);
    assert_null(strstr(canon, "escalate"));
    free(canon);
    engine_process_unref(p);
}

static void
test_default_complaint_rules(void **state)
{
    const char *doc = engine_default_complaint_json();
    struct engine_process *p = NULL;
    struct smile_err err;
    uint32_t sel[8];
    int resolve, assign;

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(engine_process_compile(doc, strlen(doc), &p, &err), SMILE_OK);
    assign = engine_process_step_find(p, "assign");
    resolve = engine_process_step_find(p, "resolve");
    /* assign (charged to the team, nobody assigned yet): warning → supervisor; breach →
     * supervisor and priority. */
    assert_int_equal(engine_escalations_select(p, (size_t)assign, false, 0, sel, 8), 1);
    assert_int_equal(engine_escalations_select(p, (size_t)assign, true, 0, sel, 8), 2);
    /* resolve: rule 0 (warning → assignee) at both warnings, rule 1 (supervisor) at the
     * second (80 %) only; breach → rules 2, 3, 4 (assignee, supervisor, raise priority). */
    assert_int_equal(engine_escalations_select(p, (size_t)resolve, false, 0, sel, 8), 1);
    assert_int_equal(engine_escalations_select(p, (size_t)resolve, false, 1, sel, 8), 2);
    assert_int_equal(sel[1], 1);
    assert_int_equal(engine_escalations_select(p, (size_t)resolve, true, 0, sel, 8), 3);
    assert_int_equal(sel[0], 2);
    assert_int_equal(sel[2], 4);
    engine_process_unref(p);
}

/* The runner on a real database ------------------------------------------------------- */

static void
add_event(struct test_db *d, const char *type, const char *source, const char *source_id,
          const char *data)
{
    struct ledger_event ev = {type, 1700000000000, "case:1",  NULL, NULL,
                              NULL, source,        source_id, data};
    struct smile_err err;
    int64_t id;

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(d->s, &ev, &id, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static int hook_calls;
static int64_t hook_users[16];

static void
hook(int64_t user_id, int64_t id, const json_t *n, void *ud)
{
    (void)ud;
    (void)id;
    assert_non_null(json_object_get(n, "title"));
    if (hook_calls < 16)
        hook_users[hook_calls] = user_id;
    hook_calls++;
}

static void
test_escalate_once(void **state)
{
    struct test_db d;
    struct smile_err err;
    int done = -1;
    char data[512];
    int64_t pid;

    (void)state;
    test_db_open(&d, "notify");
    test_db_seed(&d);
    /* Team 1 "complaints" with ann (agent, user 1) and sue (supervisor, user 2, found by role
     * since the team names no supervisor_id); case 1 assigned to ann, priority normal. */
    test_db_exec(
        &d, "INSERT INTO teams (id, name, created_at, updated_at) VALUES (1, 'complaints', 0, 0);"
            "INSERT INTO users (id, username, role, team_id, created_at, updated_at) VALUES"
            " (1, 'ann', 'agent', 1, 0, 0), (2, 'sue', 'supervisor', 1, 0, 0);"
            "INSERT INTO cases (id, type, priority, status, subject, assignee_id, team_id,"
            " channel, opened_at, created_at, updated_at) VALUES (1, 'complaint', 'normal',"
            " 'open', 'Leak', 1, 1, 'web', 0, 0, 0);");
    pid = test_db_int(&d, "SELECT id FROM processes WHERE name = 'Complaint handling'");
    assert_true(pid > 0);
    /* The open resolve measurement, charged to ann of team complaints. */
    snprintf(data, sizeof(data),
             "INSERT INTO instances (id, process_id, version, subject, trigger_event_id,"
             " started_at, updated_at) VALUES (1, %lld, 1, 'case:1', 1, 0, 0);"
             "INSERT INTO measurements (id, instance_id, process_id, version, step_key,"
             " occurrence, subject, elapsed_ms, target_ms, result, state, charged_actor,"
             " charged_team, fold_seq, updated_at) VALUES (7, 1, %lld, 1, 'resolve', 0, 'case:1',"
             " 0, 0, 'open', 'running', 'ann', 'complaints', 1, 0);",
             (long long)pid, (long long)pid);
    test_db_exec(&d, data);
    /* Three events after the cursor: the scheduler's warning 1 and breach, and a look-alike
     * breach posted by someone else (source "test"), which is not escalated. */
    snprintf(data, sizeof(data),
             "{\"due_at\":\"2023-11-14T22:13:20.000Z\",\"index\":1,\"kind\":\"warning\","
             "\"occurrence\":0,\"process_id\":%lld,\"step\":\"resolve\",\"version\":1}",
             (long long)pid);
    add_event(&d, "sla.warning", "smile", "w1", data);
    snprintf(data, sizeof(data),
             "{\"due_at\":\"2023-11-14T22:13:20.000Z\",\"index\":0,\"kind\":\"breach\","
             "\"occurrence\":0,\"process_id\":%lld,\"step\":\"resolve\",\"version\":1}",
             (long long)pid);
    add_event(&d, "sla.breached", "smile", "b0", data);
    add_event(&d, "sla.breached", "test", "fake", data);

    hook_calls = 0;
    notify_hook_add(hook, NULL);
    smile_err_clear(&err);
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    /* Two sla events of source smile. Warning 1 → rule 0 (ann) and rule 1 (sue); breach →
     * rules 2 (ann), 3 (sue), 4 (priority normal → high): 5 log rows, 4 notifications. */
    assert_int_equal(done, 2);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations WHERE outcome = 'done'"), 5);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications WHERE user_id = 1"), 2);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications WHERE user_id = 2"), 2);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications WHERE measurement_id = 7"),
                     4);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM cases WHERE priority = 'high'"), 1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM audit WHERE actor = 'escalation'"
                                     " AND action = 'raise_priority' AND entity_id = 1"),
                     1);
    /* The cursor passed all three events (the look-alike too). */
    assert_int_equal(test_db_int(&d, "SELECT last_event_id FROM notify_cursor"),
                     test_db_int(&d, "SELECT max(id) FROM events"));
    /* Hooks: after each commit, in order: warning (ann, sue), breach (ann, sue). */
    assert_int_equal(hook_calls, 4);
    assert_true(hook_users[0] == 1 && hook_users[1] == 2 && hook_users[2] == 1 &&
                hook_users[3] == 2);

    /* Again: nothing new. */
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(done, 0);
    /* Cursor moved back (say a restored table): the log still stops a second run; the
     * priority stays high rather than going to urgent. */
    test_db_exec(&d, "UPDATE notify_cursor SET last_event_id = 0");
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations"), 5);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications"), 4);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM cases WHERE priority = 'high'"), 1);
    assert_int_equal(hook_calls, 4);
    notify_hooks_clear();
    test_db_close(&d);
}

/*
 * A backlog of sla events whose step has no escalation rules (the hotline's "answer" has
 * none): nothing to do for any of them, so they are passed without a transaction each and
 * the cursor moves past a full batch in one write, which keeps the runner's loop going.
 */
static void
test_backlog_without_rules(void **state)
{
    struct test_db d;
    struct smile_err err;
    int done = -1;
    char data[512], sid[16];
    int64_t pid, first, last;

    (void)state;
    test_db_open(&d, "notify");
    test_db_seed(&d);
    pid = test_db_int(&d, "SELECT id FROM processes WHERE name = 'Phone hotline'");
    assert_true(pid > 0);
    snprintf(data, sizeof(data),
             "{\"due_at\":\"2023-11-14T22:13:20.000Z\",\"index\":0,\"kind\":\"breach\","
             "\"occurrence\":0,\"process_id\":%lld,\"step\":\"answer\",\"version\":1}",
             (long long)pid);
    for (int i = 0; i < 70; i++) {
        snprintf(sid, sizeof(sid), "b%d", i);
        add_event(&d, "sla.breached", "smile", sid, data);
    }
    first = test_db_int(&d, "SELECT min(id) FROM events WHERE source = 'smile'");
    last = test_db_int(&d, "SELECT max(id) FROM events");
    /* 70 events, ids first … first + 69 (one transaction each, nothing else appends). */
    assert_int_equal(last, first + 69);
    smile_err_clear(&err);
    /* A batch of 64: all 64 read are handled (nothing to do) and the cursor passes the
     * 64th, id first + 63; nothing is logged, nobody notified. */
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(done, 64);
    assert_int_equal(test_db_int(&d, "SELECT last_event_id FROM notify_cursor"), first + 63);
    /* The rest: 6 more, and the cursor reaches the newest event. */
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(done, 6);
    assert_int_equal(test_db_int(&d, "SELECT last_event_id FROM notify_cursor"), last);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations"), 0);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications"), 0);
    /* Three events that escalation never looks at (a case note, say): nothing read, and the
     * cursor is not written for them (it would be once 100,000 such events had passed) —
     * the runner's look costs no transaction. total_changes() counts every row written. */
    add_event(&d, "case.replied", "crm", "r1", "{}");
    add_event(&d, "case.replied", "crm", "r2", "{}");
    add_event(&d, "case.replied", "crm", "r3", "{}");
    int64_t changes = test_db_int(&d, "SELECT total_changes()");
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(done, 0);
    assert_int_equal(test_db_int(&d, "SELECT last_event_id FROM notify_cursor"), last);
    assert_int_equal(test_db_int(&d, "SELECT total_changes()"), changes);
    test_db_close(&d);
}

static void
test_escalate_reassign_to_team(void **state)
{
    /* A process whose step breach rules are: reassign to team vip, reassign to the
     * supervisor (skipped: an earlier rule reassigned), raise priority (skipped on the
     * closed case 2). */
    static const char doc[] =
        "{\"name\":\"r\",\"trigger\":{\"type\":\"custom.open\"},\"steps\":[{\"key\":\"s\","
        "\"title\":{\"en\":\"Act\",\"zh\":\"处理\"},\"function\":\"other\","
        "\"done_on\":{\"type\":\"custom.done\"},\"standard\":{\"within\":\"1h\"},"
        "\"escalate\":[{\"on\":\"breach\",\"do\":\"reassign\",\"to\":\"team:vip\"},"
        "{\"on\":\"breach\",\"do\":\"reassign\",\"to\":\"supervisor\"},"
        "{\"on\":\"breach\",\"do\":\"raise_priority\"}]}]}";
    struct test_db d;
    struct smile_err err;
    struct store_stmt *st;
    char sql[1024];
    int done = -1;

    (void)state;
    test_db_open(&d, "notify");
    test_db_seed(&d);
    test_db_exec(
        &d, "INSERT INTO teams (id, name, created_at, updated_at) VALUES (1, 'complaints', 0, 0);"
            "INSERT INTO users (id, username, role, team_id, created_at, updated_at) VALUES"
            " (1, 'ann', 'agent', 1, 0, 0), (3, 'vic', 'supervisor', NULL, 0, 0);"
            "INSERT INTO teams (id, name, supervisor_id, created_at, updated_at) VALUES"
            " (2, 'vip', 3, 0, 0);"
            "INSERT INTO cases (id, type, priority, status, subject, assignee_id, team_id,"
            " channel, opened_at, created_at, updated_at) VALUES"
            " (1, 'repair', 'normal', 'open', 'Door', 1, 1, 'web', 0, 0, 0),"
            " (2, 'repair', 'normal', 'closed', 'Gate', 1, 1, 'web', 0, 0, 0);"
            "INSERT INTO processes (id, name, draft, created_at, updated_at) VALUES"
            " (90, 'r', '{}', 0, 0);");
    smile_err_clear(&err);
    assert_int_equal(store_prepare(d.s,
                                   "INSERT INTO process_versions (process_id, number, document,"
                                   " published_at) VALUES (90, 1, $1, 0)",
                                   &st, &err),
                     SMILE_OK);
    store_stmt_bind_text(st, 1, doc, -1);
    assert_int_equal(store_stmt_step(st, &err), STORE_DONE);
    store_stmt_reset(st);
    for (int c = 1; c <= 2; c++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO instances (id, process_id, version, subject, trigger_event_id,"
                 " started_at, updated_at) VALUES (%d, 90, 1, 'case:%d', 1, 0, 0);"
                 "INSERT INTO measurements (instance_id, process_id, version, step_key,"
                 " occurrence, subject, elapsed_ms, target_ms, result, state, charged_actor,"
                 " charged_team, fold_seq, updated_at) VALUES (%d, 90, 1, 's', 0, 'case:%d', 0,"
                 " 0, 'open', 'running', 'ann', 'complaints', 1, 0);",
                 c, c, c, c);
        test_db_exec(&d, sql);
    }
    {
        static const char data[] = "{\"due_at\":\"2023-11-14T22:13:20.000Z\",\"index\":0,"
                                   "\"kind\":\"breach\",\"occurrence\":0,\"process_id\":90,"
                                   "\"step\":\"s\",\"version\":1}";
        struct ledger_event e1 = {"sla.breached", 1700000000000, "case:1", NULL, NULL,
                                  NULL,           "smile",       "c1",     data};
        struct ledger_event e2 = e1;
        int64_t id;

        e2.subject = "case:2";
        e2.source_id = "c2";
        assert_int_equal(store_begin(d.s, &err), SMILE_OK);
        assert_int_equal(ledger_append_in_tx(d.s, &e1, &id, &err), SMILE_OK);
        assert_int_equal(ledger_append_in_tx(d.s, &e2, &id, &err), SMILE_OK);
        assert_int_equal(store_commit(d.s, &err), SMILE_OK);
    }
    assert_int_equal(notify_escalate_pending(d.s, 64, &done, &err), SMILE_OK);
    assert_int_equal(done, 2);
    /* Case 1: to team vip's queue (team 2, nobody assigned), priority normal → high; vic,
     * vip's supervisor, is told it came to his team. */
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM cases WHERE id = 1 AND team_id = 2"
                                     " AND assignee_id IS NULL AND priority = 'high'"),
                     1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM notifications WHERE user_id = 3"
                                     " AND kind = 'escalation.assigned' AND case_id = 1"),
                     1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations WHERE subject = 'case:1'"
                                     " AND outcome = 'done'"),
                     2); /* rules 0 and 2 */
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations WHERE subject = 'case:1'"
                                     " AND rule = 1 AND detail = 'reassigned by an earlier rule'"),
                     1);
    /* Case 2 is closed: every action skipped, nothing changed. */
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM escalations WHERE subject = 'case:2'"
                                     " AND outcome = 'skipped'"),
                     3);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM cases WHERE id = 2 AND team_id = 1"
                                     " AND assignee_id = 1 AND priority = 'normal'"),
                     1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM audit WHERE actor = 'escalation'"
                                     " AND entity_id = 1 AND action = 'assign'"),
                     1);
    test_db_close(&d);
}

static void
test_notifications_store(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct notify_new n = {.user_id = 1,
                           .kind = "sla.warning",
                           .title_en = "Due soon",
                           .title_zh = "即将超时",
                           .body_en = "b",
                           .body_zh = "正文"};
    json_t *out = NULL;
    int64_t id[3], marked = -1;

    (void)state;
    test_db_open(&d, "notify");
    test_db_seed(&d);
    test_db_exec(&d, "INSERT INTO users (id, username, role, created_at, updated_at) VALUES"
                     " (1, 'ann', 'agent', 0, 0), (2, 'bob', 'agent', 0, 0)");
    smile_err_clear(&err);
    assert_int_equal(store_begin(d.s, &err), SMILE_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(notify_create(d.s, &n, &id[i], &err), SMILE_OK);
    assert_int_equal(store_commit(d.s, &err), SMILE_OK);
    /* Page of 2, newest first: ids 3, 2 and a cursor "2"; then id 1 and no cursor. */
    assert_int_equal(notify_list(d.s, 1, false, 0, 2, &out, &err), SMILE_OK);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(out, "items"), 0), "id")),
        id[2]);
    assert_string_equal(json_string_value(json_object_get(out, "next_cursor")), "2");
    assert_int_equal(json_integer_value(json_object_get(out, "unread")), 3);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(out, "items"), 0), "title"), "zh")),
        "即将超时");
    json_decref(out);
    assert_int_equal(notify_list(d.s, 1, false, 2, 2, &out, &err), SMILE_OK);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_true(json_is_null(json_object_get(out, "next_cursor")));
    json_decref(out);
    /* bob may not read ann's. */
    assert_int_equal(notify_mark_read(d.s, 2, id[0], &out, &err), SMILE_ENOTFOUND);
    assert_int_equal(notify_mark_read(d.s, 1, id[0], &out, &err), SMILE_OK);
    json_decref(out);
    /* Unread: 2 left; read-all marks those 2; then 0. */
    assert_int_equal(notify_list(d.s, 1, true, 0, 50, &out, &err), SMILE_OK);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    json_decref(out);
    assert_int_equal(notify_mark_all_read(d.s, 1, &marked, &err), SMILE_OK);
    assert_int_equal(marked, 2);
    assert_int_equal(notify_since(d.s, 1, id[0], 10, &out, &err), SMILE_OK);
    assert_int_equal(json_array_size(out), 2); /* ids after the first: 2 and 3 */
    json_decref(out);
    test_db_close(&d);
}

/* Task events (tasks.c): what each person is told as a subject's task changes. */
struct told_call {
    int64_t user, id;
    bool removed;
    char assignee[16];
};
static struct told_call told[16];
static int ntold;

static void
task_hook(int64_t user_id, const json_t *t, void *ud)
{
    const char *a = json_string_value(json_object_get(t, "assignee"));

    (void)ud;
    assert_true(ntold < 16);
    told[ntold].user = user_id;
    told[ntold].id = json_integer_value(json_object_get(t, "id"));
    told[ntold].removed = json_is_true(json_object_get(t, "removed"));
    snprintf(told[ntold].assignee, sizeof(told[ntold].assignee), "%s", a ? a : "-");
    ntold++;
}

/* How many calls went to user with removed r (and, if a, that assignee). */
static int
told_to(int64_t user, bool r, const char *a)
{
    int n = 0;

    for (int i = 0; i < ntold; i++)
        n += told[i].user == user && told[i].removed == r && told[i].id == 7 &&
             (a == NULL || strcmp(told[i].assignee, a) == 0);
    return n;
}

static void
test_task_events(void **state)
{
    struct test_db d;
    struct smile_err err;
    char sql[1024];
    int64_t pid, now = 1700000000000;

    (void)state;
    test_db_open(&d, "notify");
    test_db_seed(&d);
    /* Team 1 with ann (1), sue (2), bob (3); case 1 held by ann; its resolve step running. */
    test_db_exec(
        &d, "INSERT INTO teams (id, name, created_at, updated_at) VALUES (1, 'complaints', 0, 0);"
            "INSERT INTO users (id, username, role, team_id, created_at, updated_at) VALUES"
            " (1, 'ann', 'agent', 1, 0, 0), (2, 'sue', 'supervisor', 1, 0, 0),"
            " (3, 'bob', 'agent', 1, 0, 0);"
            "INSERT INTO cases (id, type, priority, status, subject, assignee_id, team_id,"
            " channel, opened_at, created_at, updated_at) VALUES (1, 'complaint', 'normal',"
            " 'open', 'Leak', 1, 1, 'web', 0, 0, 0);");
    pid = test_db_int(&d, "SELECT id FROM processes WHERE name = 'Complaint handling'");
    snprintf(sql, sizeof(sql),
             "INSERT INTO instances (id, process_id, version, subject, trigger_event_id,"
             " started_at, updated_at) VALUES (1, %lld, 1, 'case:1', 1, 0, 0);"
             "INSERT INTO measurements (id, instance_id, process_id, version, step_key,"
             " occurrence, subject, started_at, deadline_at, elapsed_ms, target_ms, result, state,"
             " charged_actor, charged_team, fold_seq, updated_at) VALUES (7, 1, %lld, 1,"
             " 'resolve', 0, 'case:1', %lld, %lld, 0, 81000000, 'open', 'running', 'ann',"
             " 'complaints', 1, 0);",
             (long long)pid, (long long)pid, (long long)now, (long long)(now + 86400000));
    test_db_exec(&d, sql);
    notify_task_set(task_hook, NULL);
    smile_err_clear(&err);

    /* 1. The task appears: told to ann only (she holds it). */
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now, &err), SMILE_OK);
    assert_int_equal(ntold, 1);
    assert_int_equal(told_to(1, false, "ann"), 1);
    /* 2. An hour later nothing changed but the time left: nobody is told. */
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now + 3600000, &err), SMILE_OK);
    assert_int_equal(ntold, 0);
    /* 3. The case goes to bob: bob is told (assignee bob), ann that it left her. */
    test_db_exec(&d, "UPDATE cases SET assignee_id = 3 WHERE id = 1");
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now, &err), SMILE_OK);
    assert_int_equal(ntold, 2);
    assert_int_equal(told_to(3, false, "bob"), 1);
    assert_int_equal(told_to(1, true, NULL), 1);
    /* 4. Back to the team's queue: every member (ann, sue, bob) gets it, held by nobody;
     * nobody is told it left (bob still sees it, changed). */
    test_db_exec(&d, "UPDATE cases SET assignee_id = NULL WHERE id = 1");
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now, &err), SMILE_OK);
    assert_int_equal(ntold, 3);
    assert_int_equal(told_to(1, false, "-") + told_to(2, false, "-") + told_to(3, false, "-"), 3);
    /* 5. The step is done: all three are told it left; then the subject is forgotten, so
     * a look finds nothing to say. */
    test_db_exec(&d, "UPDATE measurements SET state = 'done', result = 'met' WHERE id = 7");
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now, &err), SMILE_OK);
    assert_int_equal(ntold, 3);
    assert_int_equal(told_to(1, true, NULL) + told_to(2, true, NULL) + told_to(3, true, NULL), 3);
    ntold = 0;
    assert_int_equal(notify_tasks_subject(d.s, "case:1", now, &err), SMILE_OK);
    assert_int_equal(ntold, 0);
    /* Folded subjects are queued only while a hook is set, and looked at by _run. */
    {
        const char *subjects[] = {"case:1", "case:1"};

        notify_tasks_folded(subjects, 2, NULL);
        assert_int_equal(notify_tasks_run(d.s, &err), SMILE_OK);
        assert_int_equal(ntold, 0);
    }
    notify_hooks_clear(); /* unsets the task hook and forgets what was told */
    test_db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_validate),
        cmocka_unit_test(test_rules_canonical_and_select),
        cmocka_unit_test(test_no_rules_keeps_the_document),
        cmocka_unit_test(test_default_complaint_rules),
        cmocka_unit_test(test_escalate_once),
        cmocka_unit_test(test_backlog_without_rules),
        cmocka_unit_test(test_escalate_reassign_to_team),
        cmocka_unit_test(test_notifications_store),
        cmocka_unit_test(test_task_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
