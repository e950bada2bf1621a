/*
 * test_whatif.c — the what-if core on a hand-computed month of customer e-mails: the
 * built-in "Customer email" process (reply within 24 h, wall time, charged to whoever
 * replied) live, and a draft that tightens it to 12 h. Every count, compliance,
 * percentile and the staff below target are worked out by hand in the comments; nothing
 * here reads the program's own output back as the expected value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "kpi/whatif.h"
/* The replay's edge, for its static scan of which event types' data the processes read. */
#include "kpi/whatif_run.c"

#define H INT64_C(3600000)
/* 2026-11-02T00:00:00Z: 20,759 days after the epoch (2026-01-01 is day 20,454; + 305). */
#define T0 (INT64_C(20759) * 86400000)

static struct engine_process *
compile(const char *within, bool published)
{
    json_t *doc = json_loads(engine_default_email_json(), 0, NULL);
    json_t *step = json_array_get(json_object_get(doc, "steps"), 0);
    struct engine_process *p = NULL;
    struct smile_err err;

    json_object_set_new(json_object_get(step, "standard"), "within", json_string(within));
    if (published)
        json_object_set_new(doc, "published_at", json_string("2026-01-01T00:00:00Z"));
    smile_err_clear(&err);
    if (engine_process_compile_json(doc, &p, &err) != SMILE_OK)
        fail_msg("compile: %s", err.msg);
    json_decref(doc);
    return p;
}

static struct engine_event
ev(int64_t id, const char *type, int64_t at, const char *subject, const char *actor)
{
    struct engine_event e = {.id = id,
                             .type = type,
                             .occurred_at = at,
                             .subject = subject,
                             .actor = actor,
                             .channel = "email"};
    return e;
}

static const json_t *
get(const json_t *o, const char *path)
{
    char buf[128], *k = buf;

    snprintf(buf, sizeof(buf), "%s", path);
    while (k && o) {
        char *dot = strchr(k, '.');

        if (dot)
            *dot = '\0';
        o = json_is_array(o) ? json_array_get(o, (size_t)strtol(k, NULL, 10))
                             : json_object_get(o, k);
        k = dot ? dot + 1 : NULL;
    }
    return o;
}

static void
int_at(const json_t *r, const char *path, int64_t want)
{
    const json_t *v = get(r, path);

    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    if (json_integer_value(v) != want)
        fail_msg("%s = %lld, want %lld", path, (long long)json_integer_value(v), (long long)want);
}

static void
real_at(const json_t *r, const char *path, double want)
{
    const json_t *v = get(r, path);

    if (!json_is_number(v))
        fail_msg("%s is not a number", path);
    if (json_number_value(v) < want - 1e-9 || json_number_value(v) > want + 1e-9)
        fail_msg("%s = %.9f, want %.9f", path, json_number_value(v), want);
}

static void
test_emails_24h_vs_12h(void **state)
{
    struct engine_process *live = compile("24h", true), *draft = compile("12h", false);
    int64_t ring = 5000, to = T0 + 100 * H;
    struct engine_calendar cal = engine_calendar_wall(&ring);
    struct kpi_whatif *w;
    static const char *const subj[] = {"email:1", "email:2", "email:3", "email:4", "email:5",
                                       "email:6", "email:7", "email:8", "email:9", "email:10"};
    /* Reply delays in hours: ann answers e-mails 1–5, bob 6–10. */
    static const int delay[] = {1, 2, 5, 8, 11, 13, 16, 20, 23, 30};
    json_t *r;

    (void)state;
    w = kpi_whatif_new(&live, 1, &cal, draft, &cal, T0, to);
    /* E-mail i (1…10) arrives at T0 + i h and is answered delay[i-1] hours later. E-mail 10
     * also carries the live scheduler's sla.breached (at +24 h): ignored by both folds. */
    for (int i = 1; i <= 10; i++) {
        struct engine_event e[3];
        size_t n = 0;
        int64_t at = T0 + i * H;

        e[n++] = ev(i * 10, "email.received", at, subj[i - 1], NULL);
        if (i == 10)
            e[n++] = ev(i * 10 + 1, "sla.breached", at + 24 * H, subj[i - 1], NULL);
        e[n++] = ev(i * 10 + 2, "email.sent", at + delay[i - 1] * H, subj[i - 1],
                    i <= 5 ? "ann" : "bob");
        assert_int_equal(kpi_whatif_subject(w, e, n, to), SMILE_OK);
    }
    /* E-mail 11 arrives 6 h before the end, e-mail 12 20 h before; neither is answered.
     * As of `to`: 11 is open on both sides (6 h < 12 h); 12 is open live (20 h < 24 h) but
     * breached in the draft (20 h > 12 h). Nobody replied, so neither is charged to staff. */
    {
        struct engine_event e11 = ev(110, "email.received", to - 6 * H, "email:11", NULL);
        struct engine_event e12 = ev(120, "email.received", to - 20 * H, "email:12", NULL);

        assert_int_equal(kpi_whatif_subject(w, &e11, 1, to), SMILE_OK);
        assert_int_equal(kpi_whatif_subject(w, &e12, 1, to), SMILE_OK);
    }
    /* An e-mail that arrived before the period (T0 − 5 h, answered at T0 + 1 h by ann) is
     * folded but not counted: its clock started before `from`. */
    {
        struct engine_event e[2] = {ev(200, "email.received", T0 - 5 * H, "email:0", NULL),
                                    ev(201, "email.sent", T0 + H, "email:0", "ann")};

        assert_int_equal(kpi_whatif_subject(w, e, 2, to), SMILE_OK);
    }
    r = kpi_whatif_report(w, 0.8);

    /* 13 subjects; events: 10 × 2 + 1 sla + 2 + 2 = 25. Instances with a counted
     * occurrence: e-mails 1–12 on each side = 12. */
    int_at(r, "subjects", 13);
    int_at(r, "events", 25);
    int_at(r, "instances.live", 12);
    int_at(r, "instances.draft", 12);

    /* Live, 24 h: delays 1 … 23 are met (9), 30 is breached (1); 11 and 12 open (2).
     * count 12, compliance 9 / 10 = 0.9. Elapsed of met + breached, sorted (h):
     * 1 2 5 8 11 13 16 20 23 30 — p50 = rank ceil(0.5 × 10) = 5 → 11 h;
     * p90 = rank ceil(0.9 × 10) = 9 → 23 h. */
    int_at(r, "totals.live.count", 12);
    int_at(r, "totals.live.met", 9);
    int_at(r, "totals.live.breached", 1);
    int_at(r, "totals.live.open", 2);
    int_at(r, "totals.live.excluded", 0);
    real_at(r, "totals.live.compliance", 0.9);
    int_at(r, "totals.live.p50_ms", 11 * H);
    int_at(r, "totals.live.p90_ms", 23 * H);

    /* Draft, 12 h: met 1 2 5 8 11 (5); breached 13 16 20 23 30 and the open e-mail 12
     * (20 h as of `to`) = 6; open: e-mail 11 (1). compliance 5 / 11 = 0.454545… (reported
     * to 6 decimals: 0.454545). Elapsed sorted: 1 2 5 8 11 13 16 20 20 23 30 (11 values):
     * p50 = rank ceil(5.5) = 6 → 13 h; p90 = rank ceil(9.9) = 10 → 23 h. */
    int_at(r, "totals.draft.count", 12);
    int_at(r, "totals.draft.met", 5);
    int_at(r, "totals.draft.breached", 6);
    int_at(r, "totals.draft.open", 1);
    real_at(r, "totals.draft.compliance", 0.454545);
    int_at(r, "totals.draft.p50_ms", 13 * H);
    int_at(r, "totals.draft.p90_ms", 23 * H);

    /* Deltas draft − live: compliance 0.454545 − 0.9 = −0.445455; met 5 − 9 = −4;
     * breached 6 − 1 = +5; p50 13 − 11 = +2 h; p90 0. */
    real_at(r, "totals.delta.compliance", -0.445455);
    int_at(r, "totals.delta.met", -4);
    int_at(r, "totals.delta.breached", 5);
    int_at(r, "totals.delta.p50_ms", 2 * H);
    int_at(r, "totals.delta.p90_ms", 0);

    /* One step, "reply": the same numbers as the totals. */
    assert_int_equal(json_array_size(get(r, "steps")), 1);
    assert_string_equal(json_string_value(get(r, "steps.0.step")), "reply");
    int_at(r, "steps.0.live.met", 9);
    int_at(r, "steps.0.draft.breached", 6);

    /* Staff, by name: ann (1 2 5 8 11) and bob (13 16 20 23 30). The pre-period e-mail is
     * not counted for ann.
     * ann: live 5/5 = 1.0, draft 5/5 = 1.0; p50 rank ceil(2.5) = 3 → 5 h, p90 rank
     *      ceil(4.5) = 5 → 11 h.
     * bob: live 4/5 = 0.8 (30 h breached), draft 0/5 = 0.0; p50 → 20 h, p90 → 30 h. */
    assert_int_equal(json_array_size(get(r, "staff")), 2);
    assert_string_equal(json_string_value(get(r, "staff.0.staff")), "ann");
    int_at(r, "staff.0.live.count", 5);
    real_at(r, "staff.0.live.compliance", 1.0);
    real_at(r, "staff.0.draft.compliance", 1.0);
    int_at(r, "staff.0.live.p50_ms", 5 * H);
    int_at(r, "staff.0.live.p90_ms", 11 * H);
    assert_string_equal(json_string_value(get(r, "staff.1.staff")), "bob");
    real_at(r, "staff.1.live.compliance", 0.8);
    real_at(r, "staff.1.draft.compliance", 0.0);
    real_at(r, "staff.1.delta.compliance", -0.8);
    int_at(r, "staff.1.draft.p50_ms", 20 * H);
    int_at(r, "staff.1.draft.p90_ms", 30 * H);

    /* Target 0.8: live, bob's 0.8 is not below 0.8 → 0 of 2 below; draft, bob's 0.0 is →
     * 1 of 2, and bob is "newly below". */
    real_at(r, "target.compliance", 0.8);
    int_at(r, "target.live.below", 0);
    int_at(r, "target.live.of", 2);
    int_at(r, "target.draft.below", 1);
    int_at(r, "target.draft.of", 2);
    assert_string_equal(json_string_value(get(r, "target.newly_below.0")), "bob");
    assert_int_equal(json_array_size(get(r, "target.no_longer_below")), 0);

    json_decref(r);
    kpi_whatif_free(w);
    engine_process_unref(live);
    engine_process_unref(draft);
}

static void
test_draft_adds_a_step_and_no_live_version(void **state)
{
    /* With no published version the live side is null throughout; a draft step that the
     * live process lacks has "live": null and "delta": null. */
    struct engine_process *draft = compile("12h", false);
    int64_t ring = 5000;
    struct engine_calendar cal = engine_calendar_wall(&ring);
    struct kpi_whatif *w = kpi_whatif_new(NULL, 0, &cal, draft, &cal, T0, T0 + 48 * H);
    struct engine_event e[2] = {ev(1, "email.received", T0 + H, "email:1", NULL),
                                ev(2, "email.sent", T0 + 3 * H, "email:1", "ann")};
    json_t *r;

    (void)state;
    assert_int_equal(kpi_whatif_subject(w, e, 2, T0 + 48 * H), SMILE_OK);
    r = kpi_whatif_report(w, -1);
    assert_true(json_is_null(get(r, "totals.live")));
    assert_true(json_is_null(get(r, "totals.delta")));
    assert_true(json_is_null(get(r, "steps.0.live")));
    int_at(r, "steps.0.draft.met", 1);
    int_at(r, "steps.0.draft.p50_ms", 2 * H); /* answered 2 h after arrival */
    assert_true(json_is_null(get(r, "target")));
    json_decref(r);
    kpi_whatif_free(w);
    engine_process_unref(draft);
}

static struct engine_process *
compile_text(const char *text)
{
    struct engine_process *p = NULL;
    struct smile_err err;

    smile_err_clear(&err);
    if (engine_process_compile(text, strlen(text), &p, &err) != SMILE_OK)
        fail_msg("compile: %s", err.msg);
    return p;
}

/* Does the scan list exactly want (NULL-terminated), in any order, and not "all"? */
static void
assert_needs(const char *process_json, const char *const *want)
{
    struct engine_process *p = compile_text(process_json);
    struct needs nd = {0};
    size_t n = 0;

    needs_scan(&nd, p);
    assert_false(nd.all);
    for (; want[n]; n++) {
        bool found = false;

        for (size_t i = 0; i < nd.n; i++)
            found = found || strcmp(nd.types[i], want[n]) == 0;
        if (!found)
            fail_msg("%s: %s is missing", engine_process_name(p), want[n]);
    }
    assert_int_equal(nd.n, n);
    needs_free(&nd);
    engine_process_unref(p);
}

/*
 * Which events' data the replay parses, worked out from the built-in documents
 * (src/engine/defaults.c) by hand: a trigger, an ownership rule or a step that names a
 * data.* field needs the data of every event type it names; nothing else does.
 */
static void
test_needs_data_of_builtins(void **state)
{
    (void)state;
    /* E-mail: the step reads no data; it has no "ownership", so the canonical form spells
     * out the default rule, {"on": case.assigned, actor data.assignee, team data.team}. */
    assert_needs(engine_default_email_json(), (const char *const[]){"case.assigned", NULL});
    /* Hotline: ownership data.queue on call.offered, data.agent on call.ringing (the rule
     * on call.answered reads "actor", not data); step ring_at_agent repeats per data.agent,
     * so all its types: call.ringing, call.ring_ended (cancels per data.agent),
     * call.answered, call.abandoned, call.ended. Step answer reads none. */
    assert_needs(engine_default_hotline_json(),
                 (const char *const[]){"call.offered", "call.ringing", "call.ring_ended",
                                       "call.answered", "call.abandoned", "call.ended", NULL});
    /* Counter: ownership data.staff and data.desk on visit.arrived; greet reads none. */
    assert_needs(engine_default_counter_json(), (const char *const[]){"visit.arrived", NULL});
    /* Complaint: trigger where data.type (case.opened); ownership on case.assigned; assign
     * (data.assignee: case.assigned, case.resolved, case.closed); first_reply (data.by:
     * case.replied, case.closed); resolve (data.by: case.resolved, case.pending,
     * case.replied, case.reopened, case.assigned, case.closed). callback reads no data, so
     * its step_done start does not matter. Union: 7 types. */
    assert_needs(engine_default_complaint_json(),
                 (const char *const[]){"case.opened", "case.assigned", "case.resolved",
                                       "case.closed", "case.replied", "case.pending",
                                       "case.reopened", NULL});
}

/* A step that reads data and starts on another step's end cannot be tied to event types
 * (the starting event is whatever ended the other step): every event's data is read. */
static void
test_needs_data_step_done(void **state)
{
    static const char doc[] =
        "{\"name\": \"x\", \"trigger\": {\"type\": \"a.open\"}, \"steps\": ["
        "{\"key\": \"one\", \"title\": \"One\", \"function\": \"other\","
        " \"done_on\": {\"type\": \"a.one\"}, \"standard\": {\"within\": \"1h\"}},"
        "{\"key\": \"two\", \"title\": \"Two\", \"function\": \"other\","
        " \"repeat\": {\"per\": \"data.who\"}, \"starts_on\": {\"step_done\": \"one\"},"
        " \"done_on\": {\"type\": \"a.two\"}, \"standard\": {\"within\": \"1h\"}}]}";
    struct engine_process *p;
    struct needs nd = {0};

    (void)state;
    p = compile_text(doc);
    needs_scan(&nd, p);
    assert_true(nd.all);
    needs_free(&nd);
    engine_process_unref(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emails_24h_vs_12h),
        cmocka_unit_test(test_draft_adds_a_step_and_no_live_version),
        cmocka_unit_test(test_needs_data_of_builtins),
        cmocka_unit_test(test_needs_data_step_done),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
