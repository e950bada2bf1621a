/*
 * test_engine.c — unit tests of src/engine with wall-clock standards and the always-open
 * calendar table (1 ring = 5000 ms): durations, every clock condition, repeat occurrences,
 * chained steps, warnings, each kind of charge_to with segments across a reassignment,
 * short abandons, re-folds after late events, version pinning, validation errors with
 * their JSON Pointers, and the canonical serialisation. Business-time cases against the
 * China calendar live in test_engine_business.c. Expected values are worked out by hand
 * in the comments. Times are small ms offsets from the epoch so the sums stay readable.
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

#define S 1000
#define MIN (60 * S)
#define HOUR (60 * MIN)

struct evs {
    struct engine_event ev[64];
    size_t n;
};

static void
add(struct evs *e, int64_t id, const char *type, int64_t t, const char *actor, const char *data)
{
    struct engine_event *ev = &e->ev[e->n++];
    json_error_t jerr;

    assert_true(e->n <= 64);
    memset(ev, 0, sizeof(*ev));
    ev->id = id;
    ev->type = type;
    ev->occurred_at = t;
    ev->subject = "s:1";
    ev->actor = actor;
    ev->channel = "phone";
    ev->data = data ? json_loads(data, 0, &jerr) : NULL;
    assert_true(data == NULL || ev->data != NULL);
}

static void
evs_free(struct evs *e)
{
    for (size_t i = 0; i < e->n; i++)
        json_decref(e->ev[i].data);
    e->n = 0;
}

static struct engine_process *
compile_ok(const char *doc)
{
    struct engine_process *p = NULL;
    struct smile_err err;
    int rc = engine_process_compile(doc, strlen(doc), &p, &err);

    if (rc != SMILE_OK) {
        fprintf(stderr, "# compile: %s\n", err.msg);
        for (int i = 0; i < err.nfields; i++)
            fprintf(stderr, "#   %s: %s\n", err.fields[i].path, err.fields[i].msg);
    }
    assert_int_equal(rc, SMILE_OK);
    return p;
}

static void
fold(const struct engine_process *p, struct evs *e, int64_t as_of, struct engine_result *r)
{
    static const int64_t ring = 5000;
    struct engine_calendar cal = engine_calendar_wall(&ring);

    assert_int_equal(engine_fold(p, &cal, e->ev, e->n, as_of, r), SMILE_OK);
    assert_true(engine_result_check(r));
}

static const struct engine_occ *
occ(const struct engine_result *r, const char *key, uint32_t seq)
{
    for (uint32_t i = 0; i < r->nocc; i++) {
        const struct engine_occ *o = &r->occ[i];
        if (strcmp(engine_process_step_key(r->process, o->step), key) == 0 && o->seq == seq)
            return o;
    }
    fail_msg("no occurrence %s/%u", key, seq);
    return NULL;
}

static uint32_t
count_occ(const struct engine_result *r, const char *key)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < r->nocc; i++)
        if (strcmp(engine_process_step_key(r->process, r->occ[i].step), key) == 0)
            n++;
    return n;
}

/* The log as a compact string: "activate@0 pause@4000 …" for one step. */
static void
log_str(const struct engine_result *r, const char *key, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    for (uint32_t i = 0; i < r->nlog; i++) {
        const struct engine_metric *m = &r->log[i];
        if (strcmp(engine_process_step_key(r->process, r->occ[m->occ].step), key) != 0)
            continue;
        n += (size_t)snprintf(out + n, len - n, "%s%s@%lld", n ? " " : "",
                              engine_metric_name(m->kind), (long long)m->at);
        if (n >= len)
            break;
    }
}

static bool
has_field(const struct smile_err *err, const char *path)
{
    for (int i = 0; i < err->nfields; i++)
        if (strcmp(err->fields[i].path, path) == 0)
            return true;
    return false;
}

static void
expect_invalid(const char *doc, const char *path)
{
    struct engine_process *p = NULL;
    struct smile_err err;
    int rc = engine_process_compile(doc, strlen(doc), &p, &err);

    assert_int_equal(rc, SMILE_EINVAL);
    assert_null(p);
    if (!has_field(&err, path)) {
        for (int i = 0; i < err.nfields; i++)
            fprintf(stderr, "#   got %s: %s\n", err.fields[i].path, err.fields[i].msg);
        fail_msg("expected an error at %s", path);
    }
}

/* Durations ------------------------------------------------------------------------------ */

static void
test_duration(void **state)
{
    struct engine_duration d;
    char buf[64];

    (void)state;
    /* 5 s = 5000 ms: the 5-second standard of the counter. */
    assert_int_equal(engine_duration_parse("5s", &d), SMILE_OK);
    assert_int_equal(d.unit, ENGINE_DUR_S);
    assert_int_equal(engine_duration_ms(d), 5000);
    assert_int_equal(engine_duration_parse("500ms", &d), SMILE_OK);
    assert_int_equal(engine_duration_ms(d), 500);
    /* 30 min = 30 * 60 000 = 1 800 000 ms; "30m" and "30 min" are the same. */
    assert_int_equal(engine_duration_parse("30 min", &d), SMILE_OK);
    assert_int_equal(engine_duration_ms(d), 1800000);
    assert_int_equal(engine_duration_parse("30m", &d), SMILE_OK);
    assert_int_equal(engine_duration_ms(d), 1800000);
    /* 24 h = 86 400 000 ms; 2 d = 172 800 000 ms (wall days). */
    assert_int_equal(engine_duration_parse("24h", &d), SMILE_OK);
    assert_int_equal(engine_duration_ms(d), 86400000);
    assert_int_equal(engine_duration_parse("2d", &d), SMILE_OK);
    assert_int_equal(engine_duration_ms(d), 172800000);
    /* 4 business hours = 14 400 000 business ms. */
    assert_int_equal(engine_duration_parse("4 business hours", &d), SMILE_OK);
    assert_int_equal(d.unit, ENGINE_DUR_BUSINESS_H);
    assert_int_equal(engine_duration_ms(d), 14400000);
    /* Rings and business days depend on the calendar. */
    assert_int_equal(engine_duration_parse("3 rings", &d), SMILE_OK);
    assert_int_equal(d.amount, 3);
    assert_int_equal(engine_duration_ms(d), -1);
    assert_int_equal(engine_duration_parse("3 business days", &d), SMILE_OK);
    assert_int_equal(d.unit, ENGINE_DUR_BUSINESS_DAYS);
    assert_int_equal(engine_duration_ms(d), -1);
    /* Canonical forms. */
    d = (struct engine_duration){1, ENGINE_DUR_RINGS};
    engine_duration_format(d, buf, sizeof(buf));
    assert_string_equal(buf, "1 ring");
    d = (struct engine_duration){3, ENGINE_DUR_BUSINESS_DAYS};
    engine_duration_format(d, buf, sizeof(buf));
    assert_string_equal(buf, "3 business days");
    /* Rejections. */
    const char *bad[] = {"",          "5",       "s",    "-5s",  "5s ",
                         " 5s",       "5 weeks", "1.5h", "5  s", "9999999999999s",
                         "2000 rings"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(engine_duration_parse(bad[i], &d), SMILE_EINVAL);
}

/* Hotline: answer within 3 rings, ring at agent --------------------------------------------- */

static void
test_hotline_answered(void **state)
{
    struct engine_process *p = compile_ok(engine_default_hotline_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;
    char log[256];

    (void)state;
    engine_result_init(&r);
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"support\"}");
    add(&e, 2, "call.ringing", 1 * S, NULL, "{\"agent\":\"alice\"}");
    add(&e, 3, "call.answered", 12 * S, "alice", "{\"agent\":\"alice\"}");
    fold(p, &e, 60 * S, &r);
    assert_true(r.started);
    assert_int_equal(r.trigger_event_id, 1);
    /* answer: 0 → 12 s, target 3 rings × 5000 = 15 000 ms → met. */
    o = occ(&r, "answer", 0);
    assert_int_equal(o->state, ENGINE_DONE);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 12000);
    assert_int_equal(o->target_ms, 15000);
    /* charge_to team: the queue the call was offered to. */
    assert_null(o->charged_actor);
    assert_string_equal(o->charged_team, "support");
    /* "1 ring left" = warning at 15 000 − 5 000 = 10 000 ms, passed before 12 s. */
    log_str(&r, "answer", log, sizeof(log));
    assert_string_equal(log, "activate@0 warn@10000 fulfil@12000");
    /* Segments: nobody 0–1 s (1000 ms), then alice (ringing) 1–12 s (11 000 ms). */
    assert_int_equal(o->nseg, 2);
    assert_null(r.seg[o->seg_first].actor);
    assert_int_equal(r.seg[o->seg_first].ms, 1000);
    assert_string_equal(r.seg[o->seg_first + 1].actor, "alice");
    assert_int_equal(r.seg[o->seg_first + 1].ms, 11000);
    /* ring_at_agent/alice: 1 s → 12 s = 11 000 ms ≤ 15 000 → met, charged to alice. */
    o = occ(&r, "ring_at_agent", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 11000);
    assert_string_equal(o->per, "alice");
    assert_string_equal(o->charged_actor, "alice");
    assert_int_equal(count_occ(&r, "ring_at_agent"), 1);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_hotline_open_and_breach_as_of(void **state)
{
    struct engine_process *p = compile_ok(engine_default_hotline_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;
    char log[256];

    (void)state;
    engine_result_init(&r);
    add(&e, 1, "call.offered", 100 * S, NULL, "{\"queue\":\"support\"}");
    /* As of 114 s: running 14 s of 15, not breached; deadline 100 + 15 = 115 s, warning
     * ("1 ring left") at 100 + 10 = 110 s, which is already passed and logged. */
    fold(p, &e, 114 * S, &r);
    o = occ(&r, "answer", 0);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->result, ENGINE_OPEN);
    assert_int_equal(o->elapsed_ms, 14000);
    assert_int_equal(o->deadline, 115 * S);
    assert_int_equal(o->warn_at[0], 110 * S);
    log_str(&r, "answer", log, sizeof(log));
    assert_string_equal(log, "activate@100000 warn@110000");
    /* As of 120 s (no new event): breached as of then, the breach dated at the deadline. */
    fold(p, &e, 120 * S, &r);
    o = occ(&r, "answer", 0);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 115 * S);
    log_str(&r, "answer", log, sizeof(log));
    assert_string_equal(log, "activate@100000 warn@110000 breach@115000");
    /* No ring_at_agent occurrence: nothing rang. */
    assert_int_equal(count_occ(&r, "ring_at_agent"), 0);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
abandon_at(struct engine_process *p, int64_t t, enum engine_outcome want)
{
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    engine_result_init(&r);
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"support\"}");
    add(&e, 2, "call.abandoned", t, NULL, NULL);
    fold(p, &e, 100 * S, &r);
    o = occ(&r, "answer", 0);
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->elapsed_ms, t);
    assert_int_equal(o->result, want);
    evs_free(&e);
    engine_result_free(&r);
}

static void
test_short_abandon(void **state)
{
    struct engine_process *p = compile_ok(engine_default_hotline_json());

    (void)state;
    /* on_cancel {"excluded_if_within": "5s", "else": "breached"}, standard 15 s:
     * 4 s and exactly 5 s are short abandons → excluded; 9 s is past the short-abandon
     * limit but inside the standard → "else" = breached; 16 s is past the standard →
     * breached whatever the rule. */
    abandon_at(p, 4 * S, ENGINE_EXCLUDED);
    abandon_at(p, 5 * S, ENGINE_EXCLUDED);
    abandon_at(p, 9 * S, ENGINE_BREACHED);
    abandon_at(p, 16 * S, ENGINE_BREACHED);
    /* Rings follow the calendar's cadence at the start: with 4000 ms a ring, 3 rings =
     * 12 000 ms, so an answer after 13 s is breached (it would be met at 5000 ms/ring). */
    {
        static const int64_t ring4 = 4000;
        struct engine_calendar cal = engine_calendar_wall(&ring4);
        struct engine_result r;
        struct evs e = {0};
        engine_result_init(&r);
        add(&e, 1, "call.offered", 0, NULL, NULL);
        add(&e, 2, "call.answered", 13 * S, "alice", NULL);
        assert_int_equal(engine_fold(p, &cal, e.ev, e.n, 20 * S, &r), SMILE_OK);
        assert_int_equal(occ(&r, "answer", 0)->target_ms, 12000);
        assert_int_equal(occ(&r, "answer", 0)->result, ENGINE_BREACHED);
        evs_free(&e);
        engine_result_free(&r);
    }
    engine_process_unref(p);
}

/* call.ring_ended closes only its own agent's ring, with that ring's exact length. */
static void
test_ring_ended(void **state)
{
    struct engine_process *p = compile_ok(engine_default_hotline_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* alice rings 0–15 s and times out (RINGNOANSWER 15000); bob rings 15–21.24 s and is
     * cancelled (RINGCANCELED 6240); cat rings 21.24 s and answers at 25 s. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"support\"}");
    add(&e, 2, "call.ringing", 0, NULL, "{\"agent\":\"alice\"}");
    add(&e, 3, "call.ring_ended", 15 * S, NULL, "{\"agent\":\"alice\"}");
    add(&e, 4, "call.ringing", 15 * S, NULL, "{\"agent\":\"bob\"}");
    add(&e, 5, "call.ring_ended", 21240, NULL, "{\"agent\":\"bob\"}");
    add(&e, 6, "call.ringing", 21240, NULL, "{\"agent\":\"cat\"}");
    add(&e, 7, "call.answered", 25 * S, "cat", "{\"agent\":\"cat\"}");
    fold(p, &e, 60 * S, &r);
    assert_int_equal(count_occ(&r, "ring_at_agent"), 3);
    /* alice: 0 → 15 000 ms, her ring's own end (not the answer at 25 s); the whole 3 rings
     * (15 000 ms) used up unanswered → breached, hers. */
    o = occ(&r, "ring_at_agent", 0);
    assert_string_equal(o->per, "alice");
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->elapsed_ms, 15000);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_string_equal(o->charged_actor, "alice");
    /* bob: 15 000 → 21 240 = 6240 ms < 15 000, cancelled → excluded (default on_cancel). */
    o = occ(&r, "ring_at_agent", 1);
    assert_string_equal(o->per, "bob");
    assert_int_equal(o->elapsed_ms, 6240);
    assert_int_equal(o->result, ENGINE_EXCLUDED);
    /* cat: 21 240 → 25 000 = 3760 ms → met. */
    o = occ(&r, "ring_at_agent", 2);
    assert_int_equal(o->state, ENGINE_DONE);
    assert_int_equal(o->elapsed_ms, 3760);
    assert_int_equal(o->result, ENGINE_MET);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_ring_at_agents(void **state)
{
    struct engine_process *p = compile_ok(engine_default_hotline_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Rings at alice from 1 s (no pick-up), then at bob from 17 s; bob answers at 20 s. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"support\"}");
    add(&e, 2, "call.ringing", 1 * S, NULL, "{\"agent\":\"alice\"}");
    add(&e, 3, "call.ringing", 17 * S, NULL, "{\"agent\":\"bob\"}");
    add(&e, 4, "call.answered", 20 * S, "bob", "{\"agent\":\"bob\"}");
    fold(p, &e, 60 * S, &r);
    assert_int_equal(count_occ(&r, "ring_at_agent"), 2);
    /* alice: 1 s → 20 s (cancelled by bob's answer) = 19 000 ms > 15 000 → breached at
     * 1 + 15 = 16 s, charged to alice (per). */
    o = occ(&r, "ring_at_agent", 0);
    assert_string_equal(o->per, "alice");
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 16 * S);
    assert_string_equal(o->charged_actor, "alice");
    /* bob: 17 s → 20 s = 3000 ms → met (done_on matches per = actor bob). */
    o = occ(&r, "ring_at_agent", 1);
    assert_string_equal(o->per, "bob");
    assert_int_equal(o->state, ENGINE_DONE);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 3000);
    assert_string_equal(o->charged_actor, "bob");
    /* answer: 20 s > 15 s → breached, charged to the queue. Segments by owner:
     * nobody 0–1 s (1000), alice 1–17 s (16 000), bob 17–20 s (3000): sum 20 000. */
    o = occ(&r, "answer", 0);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->nseg, 3);
    assert_int_equal(r.seg[o->seg_first + 1].ms, 16000);
    assert_string_equal(r.seg[o->seg_first + 2].actor, "bob");
    assert_int_equal(r.seg[o->seg_first + 2].ms, 3000);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

/* Clock conditions on a small wall-clock process ------------------------------------------ */

static const char work_doc[] =
    "{\"name\":\"work\",\"trigger\":{\"type\":\"case.opened\"},\"steps\":[{"
    "\"key\":\"work\",\"title\":\"Work\",\"function\":\"resolve\","
    "\"done_on\":{\"type\":\"case.resolved\"},"
    "\"pauses_on\":{\"type\":\"case.pending\"},"
    "\"resumes_on\":{\"type\":\"case.reopened\"},"
    "\"cancels_on\":{\"type\":\"case.closed\"},"
    "\"resets_on\":{\"type\":\"case.replied\",\"where\":{\"data.by\":\"customer\"}},"
    "\"standard\":{\"within\":\"10s\"}}]}";

static void
test_pause_resume(void **state)
{
    struct engine_process *p = compile_ok(work_doc);
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;
    char log[256];

    (void)state;
    engine_result_init(&r);
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 2, "case.pending", 4 * S, NULL, NULL);
    /* Paused as of 100 s: 4000 ms counted, no deadline while paused. */
    fold(p, &e, 100 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->state, ENGINE_PAUSED);
    assert_int_equal(o->elapsed_ms, 4000);
    assert_int_equal(o->deadline, ENGINE_NO_TIME);
    assert_int_equal(o->result, ENGINE_OPEN);
    /* Resumed at 10 s, as of 12 s: 4000 + 2000 = 6000 ms; deadline 10 s + (10 000 − 4000)
     * = 16 s; the 0.8 warning (8000 ms) at 10 s + (8000 − 4000) = 14 s. */
    add(&e, 3, "case.reopened", 10 * S, NULL, NULL);
    fold(p, &e, 12 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->elapsed_ms, 6000);
    assert_int_equal(o->deadline, 16 * S);
    assert_int_equal(o->warn_at[0], 14 * S);
    /* Resolved at 15 s: 4000 + 5000 = 9000 ≤ 10 000 → met; the warning was passed. */
    add(&e, 4, "case.resolved", 15 * S, "alice", NULL);
    fold(p, &e, 100 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->state, ENGINE_DONE);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 9000);
    assert_int_equal(o->ended_at, 15 * S);
    log_str(&r, "work", log, sizeof(log));
    assert_string_equal(log, "activate@0 pause@4000 resume@10000 warn@14000 fulfil@15000");
    /* charge_to defaults to actor: the one who resolved. */
    assert_string_equal(o->charged_actor, "alice");
    /* Segments: 0–4 s and 10–15 s, the paused gap is not held by anyone. */
    assert_int_equal(o->nseg, 2);
    assert_int_equal(r.seg[o->seg_first].to, 4 * S);
    assert_int_equal(r.seg[o->seg_first + 1].from, 10 * S);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_reset_and_cancel(void **state)
{
    struct engine_process *p = compile_ok(work_doc);
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;
    char log[256];

    (void)state;
    engine_result_init(&r);
    /* A customer reply at 8 s restarts the clock: as of 15 s it counts 7000 ms from 8 s,
     * deadline 8 + 10 = 18 s. A staff reply (data.by = staff) does not reset. */
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 2, "case.replied", 5 * S, NULL, "{\"by\":\"staff\"}");
    add(&e, 3, "case.replied", 8 * S, NULL, "{\"by\":\"customer\"}");
    fold(p, &e, 15 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->started_at, 8 * S);
    assert_int_equal(o->elapsed_ms, 7000);
    assert_int_equal(o->deadline, 18 * S);
    log_str(&r, "work", log, sizeof(log));
    assert_string_equal(log, "activate@0 reset@8000");
    /* Closed at 20 s: 12 000 ms > 10 000 → a cancel past the standard is breached (at
     * 18 s); before it would have been excluded (no on_cancel: "else" is excluded). */
    add(&e, 4, "case.closed", 20 * S, NULL, NULL);
    fold(p, &e, 100 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 18 * S);
    evs_free(&e);
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 2, "case.closed", 3 * S, NULL, NULL);
    fold(p, &e, 100 * S, &r);
    assert_int_equal(occ(&r, "work", 0)->result, ENGINE_EXCLUDED);
    /* A resolve after the close changes nothing: only open clocks finish. */
    add(&e, 3, "case.resolved", 4 * S, NULL, NULL);
    fold(p, &e, 100 * S, &r);
    assert_int_equal(occ(&r, "work", 0)->state, ENGINE_CANCELLED);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_counter(void **state)
{
    struct engine_process *p = compile_ok(engine_default_counter_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Greeted 4.2 s after arrival by carol: 4200 ≤ 5000 → met, charged to carol (the
     * greeter) although dave was on duty at the desk. "2s left" = warning at 3000 ms. */
    add(&e, 1, "visit.arrived", 0, NULL, "{\"staff\":\"dave\",\"desk\":\"front\"}");
    add(&e, 2, "visit.greeted", 4200, "carol", NULL);
    fold(p, &e, 60 * S, &r);
    o = occ(&r, "greet", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 4200);
    assert_string_equal(o->charged_actor, "carol");
    assert_string_equal(o->charged_team, "front");
    assert_int_equal(r.log[1].kind, ENGINE_METRIC_WARN);
    assert_int_equal(r.log[1].at, 3000);
    evs_free(&e);
    /* Nobody reacts; the visitor leaves after 7 s → breached, charged to dave on duty. */
    add(&e, 1, "visit.arrived", 0, NULL, "{\"staff\":\"dave\",\"desk\":\"front\"}");
    add(&e, 2, "visit.left", 7 * S, NULL, NULL);
    fold(p, &e, 60 * S, &r);
    o = occ(&r, "greet", 0);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 5 * S);
    assert_string_equal(o->charged_actor, "dave");
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

/* Repeat occurrences ---------------------------------------------------------------------- */

static void
test_email_repeat(void **state)
{
    struct engine_process *p = compile_ok(engine_default_email_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Two customer emails at 0 and 1 h, one reply at 2 h answers both; a third email at
     * 25 h is never answered; as of 55.5 h (199 800 000 ms). */
    add(&e, 1, "email.received", 0, NULL, NULL);
    add(&e, 2, "email.received", 1 * HOUR, NULL, NULL);
    add(&e, 3, "email.sent", 2 * HOUR, "alice", NULL);
    add(&e, 4, "email.received", 25 * HOUR, NULL, NULL);
    fold(p, &e, 55 * HOUR + 30 * MIN, &r);
    assert_int_equal(count_occ(&r, "reply"), 3);
    o = occ(&r, "reply", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 2 * HOUR);
    assert_string_equal(o->charged_actor, "alice");
    o = occ(&r, "reply", 1);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 1 * HOUR);
    /* Third: running 30.5 h > 24 h → breached at 25 + 24 = 49 h; warnings at 0.5, 0.75,
     * 0.9 of 24 h = 12 h, 18 h, 21.6 h after 25 h: 37 h, 43 h, 46.6 h. */
    o = occ(&r, "reply", 2);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->elapsed_ms, 30 * HOUR + 30 * MIN);
    assert_int_equal(o->breached_at, 49 * HOUR);
    assert_int_equal(o->deadline, 49 * HOUR);
    assert_int_equal(o->warn_at[0], 37 * HOUR);
    assert_int_equal(o->warn_at[1], 43 * HOUR);
    assert_int_equal(o->warn_at[2], 46 * HOUR + 36 * MIN);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

/* Chained steps and charge_to with segments ------------------------------------------------ */

static void
test_complaint_chain_and_charges(void **state)
{
    struct engine_process *p = compile_ok(engine_default_complaint_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Always-open calendar: business time = wall time, 3 business days = 72 h. */
    add(&e, 1, "case.opened", 0, NULL, "{\"type\":\"complaint\"}");
    add(&e, 2, "case.assigned", 10 * MIN, "disp", "{\"assignee\":\"alice\",\"team\":\"A\"}");
    add(&e, 3, "case.replied", 30 * MIN, "alice", "{\"by\":\"staff\"}");
    add(&e, 4, "case.assigned", 1 * HOUR, "disp", "{\"assignee\":\"bob\",\"team\":\"B\"}");
    add(&e, 5, "case.resolved", 3 * HOUR, "bob", NULL);
    fold(p, &e, 4 * HOUR, &r);
    /* assign: 10 min ≤ 30 min → met; charge_to team → the team it was assigned to (A). */
    o = occ(&r, "assign", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 10 * MIN);
    assert_null(o->charged_actor);
    assert_string_equal(o->charged_team, "A");
    /* first_reply: 30 min, charge_to actor → alice. */
    o = occ(&r, "first_reply", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_string_equal(o->charged_actor, "alice");
    /* resolve: 0 → 3 h; segments nobody 0–10 min (600 000), alice 10 min–1 h
     * (3 000 000), bob 1 h–3 h (7 200 000) = 10 800 000; charge_to segments → bob, who
     * held it longest, team B. */
    o = occ(&r, "resolve", 0);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 3 * HOUR);
    assert_int_equal(o->target_ms, 72 * HOUR);
    assert_int_equal(o->nseg, 3);
    assert_null(r.seg[o->seg_first].actor);
    assert_int_equal(r.seg[o->seg_first].ms, 600000);
    assert_string_equal(r.seg[o->seg_first + 1].actor, "alice");
    assert_int_equal(r.seg[o->seg_first + 1].ms, 3000000);
    assert_string_equal(r.seg[o->seg_first + 2].actor, "bob");
    assert_int_equal(r.seg[o->seg_first + 2].ms, 7200000);
    assert_string_equal(o->charged_actor, "bob");
    assert_string_equal(o->charged_team, "B");
    /* callback: chained on step_done resolve → started at 3 h, running 1 h of 48 h,
     * deadline 51 h. */
    o = occ(&r, "callback", 0);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->started_at, 3 * HOUR);
    assert_int_equal(o->elapsed_ms, 1 * HOUR);
    assert_int_equal(o->deadline, 51 * HOUR);
    assert_int_equal(o->start_event_id, 5);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_complaint_pending_and_filters(void **state)
{
    struct engine_process *p = compile_ok(engine_default_complaint_json());
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Not a complaint: the trigger filter (data.type = complaint) does not match. */
    add(&e, 1, "case.opened", 0, NULL, "{\"type\":\"question\"}");
    add(&e, 2, "case.resolved", 1 * HOUR, NULL, NULL);
    fold(p, &e, 2 * HOUR, &r);
    assert_false(r.started);
    assert_int_equal(occ(&r, "resolve", 0)->state, ENGINE_PENDING);
    evs_free(&e);
    /* Pending on the customer 2 h → 20 h, customer replies at 20 h, resolved at 22 h:
     * resolve counts 2 + 2 = 4 h; first_reply is not paused (24 h wall from 0): a staff
     * reply at 26 h is 26 h > 24 h → breached at 24 h. A team-only assignment (no
     * assignee) does not finish "assign". */
    add(&e, 1, "case.opened", 0, NULL, "{\"type\":\"complaint\"}");
    add(&e, 2, "case.assigned", 1 * MIN, NULL, "{\"team\":\"A\"}");
    add(&e, 3, "case.pending", 2 * HOUR, "alice", NULL);
    add(&e, 4, "case.replied", 20 * HOUR, NULL, "{\"by\":\"customer\"}");
    add(&e, 5, "case.resolved", 22 * HOUR, "alice", NULL);
    add(&e, 6, "case.replied", 26 * HOUR, "alice", "{\"by\":\"staff\"}");
    fold(p, &e, 30 * HOUR, &r);
    o = occ(&r, "resolve", 0);
    assert_int_equal(o->elapsed_ms, 4 * HOUR);
    assert_int_equal(o->result, ENGINE_MET);
    o = occ(&r, "first_reply", 0);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 24 * HOUR);
    /* assign never got an assignee; the resolve at 22 h cancels it (cancels_on
     * case.resolved), 22 h > 30 min → a late cancel is breached, at 30 min. */
    o = occ(&r, "assign", 0);
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->ended_at, 22 * HOUR);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, 30 * MIN);
    /* The callback chained on the resolve at 22 h. */
    assert_int_equal(occ(&r, "callback", 0)->started_at, 22 * HOUR);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

/* Late events, version pinning ---------------------------------------------------------- */

static void
test_late_event_refold(void **state)
{
    struct engine_process *p = compile_ok(work_doc);
    struct engine_result r;
    struct evs e = {0};

    (void)state;
    engine_result_init(&r);
    /* The pending event (4 s) arrives after the resolve (15 s) was folded. Unsorted input
     * is refused; sorted, the re-fold gives the paused total 4000 + 5000 = 9000 ms. */
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 4, "case.resolved", 15 * S, NULL, NULL);
    add(&e, 3, "case.reopened", 10 * S, NULL, NULL);
    add(&e, 2, "case.pending", 4 * S, NULL, NULL);
    {
        static const int64_t ring = 5000;
        struct engine_calendar cal = engine_calendar_wall(&ring);
        assert_int_equal(engine_fold(p, &cal, e.ev, e.n, 100 * S, &r), SMILE_EINVAL);
    }
    engine_events_sort(e.ev, e.n);
    assert_int_equal(e.ev[1].id, 2);
    fold(p, &e, 100 * S, &r);
    assert_int_equal(occ(&r, "work", 0)->elapsed_ms, 9000);
    /* Same instant: ordered by id. */
    evs_free(&e);
    add(&e, 2, "case.resolved", 5 * S, NULL, NULL);
    add(&e, 1, "case.opened", 5 * S, NULL, NULL);
    engine_events_sort(e.ev, e.n);
    assert_int_equal(e.ev[0].id, 1);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_version_pinning(void **state)
{
    /* v1 (published at 1 s) wants 10 s, v2 (published at 50 s) wants 20 s. */
    static const char v1[] =
        "{\"name\":\"w\",\"version\":1,\"published_at\":\"1970-01-01T00:00:01Z\","
        "\"trigger\":{\"type\":\"case.opened\"},\"steps\":[{\"key\":\"work\",\"title\":\"W\","
        "\"function\":\"resolve\",\"done_on\":{\"type\":\"case.resolved\"},"
        "\"standard\":{\"within\":\"10s\"}}]}";
    static const char v2[] =
        "{\"name\":\"w\",\"version\":2,\"published_at\":\"1970-01-01T00:00:50Z\","
        "\"trigger\":{\"type\":\"case.opened\"},\"steps\":[{\"key\":\"work\",\"title\":\"W\","
        "\"function\":\"resolve\",\"done_on\":{\"type\":\"case.resolved\"},"
        "\"standard\":{\"within\":\"20s\"}}]}";
    struct engine_process *vs[2];
    struct engine_result r;
    struct evs e = {0};

    (void)state;
    vs[0] = compile_ok(v2); /* any order */
    vs[1] = compile_ok(v1);
    engine_result_init(&r);
    assert_int_equal(engine_process_version(vs[1]), 1);
    assert_int_equal(engine_process_published_at(vs[1]), 1 * S);
    assert_ptr_equal(engine_process_at(vs, 2, 40 * S), vs[1]);
    assert_ptr_equal(engine_process_at(vs, 2, 50 * S), vs[0]);
    assert_null(engine_process_at(vs, 2, 500));
    /* An instance triggered at 10 s runs on v1 even though v2 exists when it finishes at
     * 60 s: 50 s > 10 s → breached under v1 (it would be breached under v2 as well, so
     * check the target: 10 000). */
    add(&e, 1, "case.opened", 10 * S, NULL, NULL);
    add(&e, 2, "case.resolved", 60 * S, NULL, NULL);
    struct engine_process *pick = engine_process_pick(vs, 2, e.ev, e.n);
    assert_ptr_equal(pick, vs[1]);
    fold(pick, &e, 100 * S, &r);
    assert_int_equal(occ(&r, "work", 0)->target_ms, 10000);
    evs_free(&e);
    /* Triggered at 55 s: v2. Before any publication (0.5 s): none. */
    add(&e, 1, "case.opened", 55 * S, NULL, NULL);
    assert_ptr_equal(engine_process_pick(vs, 2, e.ev, e.n), vs[0]);
    evs_free(&e);
    add(&e, 1, "case.opened", 500, NULL, NULL);
    assert_null(engine_process_pick(vs, 2, e.ev, e.n));
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(vs[0]);
    engine_process_unref(vs[1]);
}

/* Matchers -------------------------------------------------------------------------------- */

static void
test_matchers(void **state)
{
    static const char doc[] =
        "{\"name\":\"m\",\"trigger\":{\"type\":\"call.offered\",\"where\":{\"channel\":\"phone\","
        "\"data.queue\":{\"in\":[\"support\",\"sales\"]},\"data.vip\":{\"exists\":false}}},"
        "\"steps\":[{\"key\":\"a\",\"title\":\"A\",\"function\":\"answer_call\","
        "\"done_on\":{\"type\":\"call.answered\",\"where\":{\"data.skill.level\":2}},"
        "\"standard\":{\"within\":\"500ms\"},\"warn_at\":[]}]}";
    struct engine_process *p = compile_ok(doc);
    struct engine_result r;
    struct evs e = {0};

    (void)state;
    engine_result_init(&r);
    /* queue "billing" is not in the list → no instance. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"billing\"}");
    fold(p, &e, 1 * S, &r);
    assert_false(r.started);
    evs_free(&e);
    /* vip present → exists:false fails. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"sales\",\"vip\":true}");
    fold(p, &e, 1 * S, &r);
    assert_false(r.started);
    evs_free(&e);
    /* Matches; the answer with level 1 does not finish it, level 2 (a nested number,
     * 2.0 equals 2) does at 400 ms ≤ 500 → met. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"sales\",\"vip\":null}");
    add(&e, 2, "call.answered", 300, NULL, "{\"skill\":{\"level\":1}}");
    add(&e, 3, "call.answered", 400, NULL, "{\"skill\":{\"level\":2.0}}");
    fold(p, &e, 1 * S, &r);
    assert_true(r.started);
    assert_int_equal(occ(&r, "a", 0)->result, ENGINE_MET);
    assert_int_equal(occ(&r, "a", 0)->end_event_id, 3);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

/* Validation ----------------------------------------------------------------------------- */

#define STEP_OK                                                                                    \
    "\"title\":\"T\",\"function\":\"reply\",\"done_on\":{\"type\":\"x.done\"},"                    \
    "\"standard\":{\"within\":\"5s\"}"

static void
test_validation(void **state)
{
    struct engine_process *p = NULL;
    struct smile_err err;

    (void)state;
    /* Unknown step reference. */
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        ",\"starts_on\":{\"step_done\":\"nope\"}}]}",
        "/steps/0/starts_on/step_done");
    /* Bad duration. */
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\","
                   "\"title\":\"T\",\"function\":\"reply\",\"done_on\":{\"type\":\"x.done\"},"
                   "\"standard\":{\"within\":\"5 fortnights\"}}]}",
                   "/steps/0/standard/within");
    /* Duplicate key. */
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        "},{\"key\":\"a\"," STEP_OK "}]}",
        "/steps/1/key");
    /* Unknown field (in a step, and at the top). */
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        ",\"colour\":\"red\"}]}",
        "/steps/0/colour");
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"stepz\":[]}", "/stepz");
    /* Unreachable steps: b and c wait on each other. */
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        "},{\"key\":\"b\"," STEP_OK ",\"starts_on\":{\"step_done\":\"c\"}},"
        "{\"key\":\"c\"," STEP_OK ",\"starts_on\":{\"step_done\":\"b\"}}]}",
        "/steps/2/starts_on");
    /* Unknown event field in a filter; wall time with a business duration; "per" without
     * a repeat-per step; a warning fraction out of range; missing done_on. */
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\",\"where\":{\"colour\":\"r\"}},"
        "\"steps\":[{\"key\":\"a\"," STEP_OK "}]}",
        "/trigger/where/colour");
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\","
                   "\"title\":\"T\",\"function\":\"reply\",\"done_on\":{\"type\":\"x.done\"},"
                   "\"standard\":{\"within\":\"3 business days\",\"time\":\"wall\"}}]}",
                   "/steps/0/standard/time");
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\","
                   "\"title\":\"T\",\"function\":\"reply\",\"done_on\":{\"type\":\"x.done\","
                   "\"per\":\"actor\"},\"standard\":{\"within\":\"5s\"}}]}",
                   "/steps/0/done_on/per");
    expect_invalid(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        ",\"warn_at\":[0.5,1.5]}]}",
        "/steps/0/warn_at/1");
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\","
                   "\"title\":\"T\",\"function\":\"reply\",\"standard\":{\"within\":\"5s\"}}]}",
                   "/steps/0/done_on");
    expect_invalid("{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\","
                   "\"title\":\"T\",\"function\":\"juggle\",\"done_on\":{\"type\":\"x.done\"},"
                   "\"standard\":{\"within\":\"5s\"}}]}",
                   "/steps/0/function");
    /* Not JSON, not an object, too big. */
    assert_int_equal(engine_process_compile("{\"name\":", 8, &p, &err), SMILE_EMALFORMED);
    assert_int_equal(engine_process_compile("[]", 2, &p, &err), SMILE_EINVAL);
    assert_int_equal(engine_process_compile("{}", ENGINE_MAX_DOC + 1, &p, &err), SMILE_ETOOBIG);
    assert_null(p);
}

static void
test_canonical(void **state)
{
    const char *docs[] = {engine_default_hotline_json(), engine_default_email_json(),
                          engine_default_counter_json(), engine_default_complaint_json()};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(docs); i++) {
        struct engine_process *a = compile_ok(docs[i]), *b;
        char *sa = engine_process_to_json(a), *sb;
        b = compile_ok(sa);
        sb = engine_process_to_json(b);
        assert_string_equal(sa, sb);
        free(sa);
        free(sb);
        engine_process_unref(b);
        engine_process_unref(a);
    }
    /* Defaults are spelled out: a minimal step gets repeat false, time wall for "5s",
     * warn_at [0.8], charge_to actor, on_cancel else excluded. */
    struct engine_process *p = compile_ok(
        "{\"name\":\"n\",\"trigger\":{\"type\":\"x.start\"},\"steps\":[{\"key\":\"a\"," STEP_OK
        "}]}");
    char *s = engine_process_to_json(p);
    assert_non_null(strstr(s, "\"standard\":{\"time\":\"wall\",\"within\":\"5s\"}"));
    assert_non_null(strstr(s, "\"warn_at\":[0.8]"));
    assert_non_null(strstr(s, "\"charge_to\":\"actor\""));
    assert_non_null(strstr(s, "\"on_cancel\":{\"else\":\"excluded\"}"));
    assert_non_null(strstr(s, "\"repeat\":false"));
    free(s);
    assert_string_equal(engine_process_step_title(p, 0, "zh"), "T");
    assert_string_equal(engine_process_step_function(p, 0), "reply");
    assert_int_equal(engine_process_step_find(p, "a"), 0);
    assert_int_equal(engine_process_step_find(p, "zz"), -1);
    engine_process_unref(p);
}

static void
test_result_json(void **state)
{
    struct engine_process *p = compile_ok(engine_default_counter_json());
    struct engine_result r;
    struct evs e = {0};
    json_t *j, *o;

    (void)state;
    engine_result_init(&r);
    add(&e, 1, "visit.arrived", 0, NULL, "{\"staff\":\"dave\"}");
    fold(p, &e, 1 * S, &r);
    j = engine_result_to_json(&r);
    o = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "steps"), 0), "occurrences"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(o, "deadline")),
                        "1970-01-01T00:00:05.000Z");
    assert_true(json_is_null(json_object_get(o, "ended_at")));
    assert_int_equal(json_integer_value(json_object_get(o, "elapsed_ms")), 1000);
    json_decref(j);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_more_rules(void **state)
{
    struct engine_process *p = compile_ok(work_doc);
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;
    char log[256];
    uint32_t oi = 99;
    enum engine_metric_kind kind;

    (void)state;
    engine_result_init(&r);
    /* Done while paused: 0–3 s counted (3000 ms), resolved at 10 s while pending → met;
     * the 0.8 warning (8000 ms) is never reached. */
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 2, "case.pending", 3 * S, NULL, NULL);
    add(&e, 3, "case.resolved", 10 * S, NULL, NULL);
    fold(p, &e, 100 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->state, ENGINE_DONE);
    assert_int_equal(o->elapsed_ms, 3000);
    log_str(&r, "work", log, sizeof(log));
    assert_string_equal(log, "activate@0 pause@3000 fulfil@10000");
    evs_free(&e);
    /* A reset after a breach: the breach at 10 s stays in the log (the scheduler fired
     * it), the restarted clock is judged afresh: as of 15 s, 3000 ms, open. */
    add(&e, 1, "case.opened", 0, NULL, NULL);
    add(&e, 2, "case.replied", 12 * S, NULL, "{\"by\":\"customer\"}");
    fold(p, &e, 15 * S, &r);
    o = occ(&r, "work", 0);
    assert_int_equal(o->result, ENGINE_OPEN);
    assert_int_equal(o->elapsed_ms, 3000);
    assert_int_equal(o->breached_at, ENGINE_NO_TIME);
    log_str(&r, "work", log, sizeof(log));
    assert_string_equal(log, "activate@0 warn@8000 breach@10000 reset@12000");
    evs_free(&e);
    /* Next due instant for the scheduler: opened at 0 (10 s standard, warning at 8 s).
     * As of 5 s: the warning at 8 s; as of 9 s: the breach at 10 s; as of 11 s: nothing
     * (already breached); paused: nothing. */
    add(&e, 1, "case.opened", 0, NULL, NULL);
    fold(p, &e, 5 * S, &r);
    assert_int_equal(engine_result_next_due(&r, &oi, &kind), 8 * S);
    assert_int_equal(kind, ENGINE_METRIC_WARN);
    assert_int_equal(oi, 0);
    fold(p, &e, 9 * S, &r);
    assert_int_equal(engine_result_next_due(&r, NULL, &kind), 10 * S);
    assert_int_equal(kind, ENGINE_METRIC_BREACH);
    fold(p, &e, 11 * S, &r);
    assert_int_equal(engine_result_next_due(&r, NULL, NULL), ENGINE_NO_TIME);
    add(&e, 2, "case.pending", 1 * S, NULL, NULL);
    fold(p, &e, 5 * S, &r);
    assert_int_equal(engine_result_next_due(&r, NULL, NULL), ENGINE_NO_TIME);
    /* Trigger helpers. */
    assert_true(engine_process_triggers(p, &e.ev[0]));
    assert_false(engine_process_triggers(p, &e.ev[1]));
    assert_int_equal(engine_process_trigger_at(p, e.ev, e.n), 0);
    assert_int_equal(engine_process_trigger_at(p, e.ev + 1, 1), ENGINE_NO_TIME);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_rering_and_step_cancel(void **state)
{
    static const char doc[] =
        "{\"name\":\"c\",\"trigger\":{\"type\":\"x.start\"},\"steps\":["
        "{\"key\":\"a\",\"title\":\"A\",\"function\":\"other\",\"done_on\":{\"type\":"
        "\"x.a\"},\"standard\":{\"within\":\"5s\"}},"
        "{\"key\":\"b\",\"title\":\"B\",\"function\":\"other\",\"done_on\":{\"type\":"
        "\"x.b\"},\"cancels_on\":{\"step_done\":\"a\"},\"standard\":{\"within\":\"5s\"}}]}";
    struct engine_process *p = compile_ok(engine_default_hotline_json());
    struct engine_process *q = compile_ok(doc);
    struct engine_result r;
    struct evs e = {0};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* The call rings at alice at 1 s and again at 6 s: one occurrence per agent while
     * open, so the second ring continues the first; answered at 9 s → 8000 ms, met. */
    add(&e, 1, "call.offered", 0, NULL, "{\"queue\":\"support\"}");
    add(&e, 2, "call.ringing", 1 * S, NULL, "{\"agent\":\"alice\"}");
    add(&e, 3, "call.ringing", 6 * S, NULL, "{\"agent\":\"alice\"}");
    add(&e, 4, "call.answered", 9 * S, "alice", "{\"agent\":\"alice\"}");
    fold(p, &e, 100 * S, &r);
    assert_int_equal(count_occ(&r, "ring_at_agent"), 1);
    o = occ(&r, "ring_at_agent", 0);
    assert_int_equal(o->elapsed_ms, 8000);
    assert_int_equal(o->result, ENGINE_MET);
    evs_free(&e);
    /* Step b is cancelled when step a is done (2 s ≤ 5 s → excluded). */
    add(&e, 1, "x.start", 0, NULL, NULL);
    add(&e, 2, "x.a", 2 * S, NULL, NULL);
    fold(q, &e, 100 * S, &r);
    assert_int_equal(occ(&r, "a", 0)->state, ENGINE_DONE);
    o = occ(&r, "b", 0);
    assert_int_equal(o->state, ENGINE_CANCELLED);
    assert_int_equal(o->result, ENGINE_EXCLUDED);
    assert_int_equal(o->ended_at, 2 * S);
    evs_free(&e);
    engine_result_free(&r);
    engine_process_unref(p);
    engine_process_unref(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_hotline_answered),
        cmocka_unit_test(test_hotline_open_and_breach_as_of),
        cmocka_unit_test(test_short_abandon),
        cmocka_unit_test(test_ring_at_agents),
        cmocka_unit_test(test_ring_ended),
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_reset_and_cancel),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_email_repeat),
        cmocka_unit_test(test_complaint_chain_and_charges),
        cmocka_unit_test(test_complaint_pending_and_filters),
        cmocka_unit_test(test_late_event_refold),
        cmocka_unit_test(test_version_pinning),
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_more_rules),
        cmocka_unit_test(test_rering_and_step_cancel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
