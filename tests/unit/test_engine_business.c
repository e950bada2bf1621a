/*
 * test_engine_business.c — the engine's business-time standards against the real China
 * calendar (src/calendar: Asia/Shanghai, Mon–Fri 09:00–12:00 and 13:30–18:00 = 7.5
 * working hours a day, 2026 Spring Festival 02-15..02-23 off with make-up workdays 02-14
 * and 02-28, National Day 10-01..10-07 off with 09-20 and 10-10 worked, 5000 ms a ring).
 * Enabled in meson.build once the calendar part is merged. Expected instants are written
 * by hand as local times (+08:00) with the working-hour arithmetic in the comments.
 * Weekdays: 2026-03-06 Fri, 03-07 Sat, 02-13 Fri, 02-14 Sat, 02-24 Tue, 09-18 Fri,
 * 09-20 Sun, 09-30 Wed, 10-08 Thu, 10-10 Sat.
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

#define MIN INT64_C(60000)
#define HOUR (60 * MIN)

static struct calendar *china;
static struct calendar_tz *shanghai;

static int64_t
T(const char *s)
{
    int64_t ms;

    assert_int_equal(time_parse_rfc3339(s, strlen(s), &ms), SMILE_OK);
    return ms;
}

static int
setup(void **state)
{
    struct smile_err err;
    const char *doc = calendar_china_default_json();

    (void)state;
    if (calendar_tz_load("Asia/Shanghai", &shanghai, &err) != SMILE_OK)
        return -1;
    if (calendar_from_json(doc, strlen(doc), shanghai, &china, &err) != SMILE_OK)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    calendar_free(china);
    calendar_tz_free(shanghai);
    return 0;
}

/* One step "work", started by case.opened, paused by case.pending, resumed by
 * case.reopened, done by case.resolved, with the given standard. */
static struct engine_process *
work(const char *within)
{
    char doc[1024];
    struct engine_process *p = NULL;
    struct smile_err err;

    snprintf(doc, sizeof(doc),
             "{\"name\":\"w\",\"trigger\":{\"type\":\"case.opened\"},\"steps\":[{\"key\":\"work\","
             "\"title\":\"W\",\"function\":\"resolve\",\"done_on\":{\"type\":\"case.resolved\"},"
             "\"pauses_on\":{\"type\":\"case.pending\"},\"resumes_on\":{\"type\":"
             "\"case.reopened\"},\"standard\":%s}]}",
             within);
    assert_int_equal(engine_process_compile(doc, strlen(doc), &p, &err), SMILE_OK);
    return p;
}

static const struct engine_occ *
fold(const struct engine_process *p, struct engine_event *ev, size_t n, int64_t as_of,
     struct engine_result *r)
{
    struct engine_calendar cal = engine_calendar_bind(china);

    assert_int_equal(engine_fold(p, &cal, ev, n, as_of, r), SMILE_OK);
    assert_true(engine_result_check(r));
    return &r->occ[0];
}

static struct engine_event
E(int64_t id, const char *type, const char *at) {
    return (struct engine_event){id, type, T(at), "case:1", NULL, NULL, NULL, NULL};
}

static void
test_three_business_days(void **state)
{
    struct engine_process *p = work("{\"within\":\"3 business days\"}");
    struct engine_result r;
    struct engine_event ev[2] = {E(1, "case.opened", "2026-03-06T16:00:00+08:00"),
                                 E(2, "case.resolved", "2026-03-11T15:00:00+08:00")};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Opened Fri 16:00: 3 business days on is the same time on Wed 03-11 (Mon, Tue, Wed).
     * Target in business ms: Fri 16–18 (2 h) + Mon 7.5 h + Tue 7.5 h + Wed 09–12 and
     * 13:30–16:00 (5.5 h) = 22.5 h = 81 000 000 ms. */
    o = fold(p, ev, 1, T("2026-03-07T12:00:00+08:00"), &r);
    assert_int_equal(o->deadline, T("2026-03-11T16:00:00+08:00"));
    assert_int_equal(o->target_ms, 81000000);
    /* As of Saturday noon only Fri 16–18 counted: 2 h. */
    assert_int_equal(o->elapsed_ms, 2 * HOUR);
    /* Resolved Wed 15:00: one working hour before the deadline → 21.5 h, met. */
    o = fold(p, ev, 2, T("2026-03-12T00:00:00+08:00"), &r);
    assert_int_equal(o->result, ENGINE_MET);
    assert_int_equal(o->elapsed_ms, 21 * HOUR + 30 * MIN);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_pause_shifts_business_deadline(void **state)
{
    struct engine_process *p = work("{\"within\":\"3 business days\"}");
    struct engine_result r;
    struct engine_event ev[3] = {E(1, "case.opened", "2026-03-06T16:00:00+08:00"),
                                 E(2, "case.pending", "2026-03-09T10:00:00+08:00"),
                                 E(3, "case.reopened", "2026-03-10T14:00:00+08:00")};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Before the pause: Fri 16–18 (2 h) + Mon 09–10 (1 h) = 3 h. Resumed Tue 14:00 with
     * 22.5 − 3 = 19.5 h left: Tue 14–18 (4 h, 15.5 left), Wed 7.5 (8 left), Thu 7.5
     * (0.5 left) → Fri 03-13 09:30. As of Tue 15:00: 3 + 1 = 4 h. */
    o = fold(p, ev, 3, T("2026-03-10T15:00:00+08:00"), &r);
    assert_int_equal(o->state, ENGINE_RUNNING);
    assert_int_equal(o->elapsed_ms, 4 * HOUR);
    assert_int_equal(o->deadline, T("2026-03-13T09:30:00+08:00"));
    /* 0.8 warning = 0.8 × 22.5 h = 18 h of work: 15 h left after the resume's 3 h:
     * Tue 14–18 (4, 11 left), Wed 7.5 (3.5 left), Thu 09–12 (0.5 left) → Thu 14:00. */
    assert_int_equal(o->warn_at[0], T("2026-03-12T14:00:00+08:00"));
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_spring_festival(void **state)
{
    struct engine_process *p = work("{\"within\":\"3 business days\"}");
    struct engine_result r;
    struct engine_event ev[1] = {E(1, "case.opened", "2026-02-13T17:00:00+08:00")};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* Fri 02-13 17:00 + 3 business days: Sat 02-14 (make-up workday) = 1, 02-15..02-23
     * off, Tue 02-24 = 2, Wed 02-25 = 3 → Wed 02-25 17:00. Business ms: Fri 17–18 (1 h)
     * + Sat 7.5 + Tue 7.5 + Wed 09–12, 13:30–17 (6.5 h) = 22.5 h. */
    o = fold(p, ev, 1, T("2026-02-20T12:00:00+08:00"), &r);
    assert_int_equal(o->deadline, T("2026-02-25T17:00:00+08:00"));
    assert_int_equal(o->target_ms, 22 * HOUR + 30 * MIN);
    /* As of the holiday Fri 02-20: Fri 1 h + Sat 7.5 h = 8.5 h, open. */
    assert_int_equal(o->elapsed_ms, 8 * HOUR + 30 * MIN);
    assert_int_equal(o->result, ENGINE_OPEN);
    engine_result_free(&r);
    engine_process_unref(p);
}

static void
test_national_day(void **state)
{
    struct engine_process *p1 = work("{\"within\":\"1 business day\"}");
    struct engine_process *p2 = work("{\"within\":\"2 business days\"}");
    struct engine_result r;
    struct engine_event a[1] = {E(1, "case.opened", "2026-09-30T10:00:00+08:00")};
    struct engine_event b[1] = {E(1, "case.opened", "2026-10-08T10:00:00+08:00")};
    struct engine_event c[1] = {E(1, "case.opened", "2026-09-18T10:00:00+08:00")};

    (void)state;
    engine_result_init(&r);
    /* Wed 09-30 10:00 + 1 business day: 10-01..10-07 off → Thu 10-08 10:00. */
    assert_int_equal(fold(p1, a, 1, T("2026-09-30T11:00:00+08:00"), &r)->deadline,
                     T("2026-10-08T10:00:00+08:00"));
    /* Thu 10-08 10:00 + 2: Fri 10-09, Sat 10-10 (worked) → Sat 10-10 10:00. */
    assert_int_equal(fold(p2, b, 1, T("2026-10-08T11:00:00+08:00"), &r)->deadline,
                     T("2026-10-10T10:00:00+08:00"));
    /* Fri 09-18 10:00 + 1: Sat 09-19 off, Sun 09-20 worked → Sun 09-20 10:00. */
    assert_int_equal(fold(p1, c, 1, T("2026-09-18T11:00:00+08:00"), &r)->deadline,
                     T("2026-09-20T10:00:00+08:00"));
    engine_result_free(&r);
    engine_process_unref(p1);
    engine_process_unref(p2);
}

static void
test_business_hours_vs_days(void **state)
{
    struct engine_process *h = work("{\"within\":\"4 business hours\"}");
    struct engine_process *m = work("{\"within\":\"30m\",\"time\":\"business\"}");
    struct engine_result r;
    struct engine_event fri[1] = {E(1, "case.opened", "2026-03-06T16:00:00+08:00")};
    struct engine_event sat[1] = {E(1, "case.opened", "2026-03-07T10:00:00+08:00")};
    struct engine_event lunch[1] = {E(1, "case.opened", "2026-03-09T11:45:00+08:00")};
    const struct engine_occ *o;

    (void)state;
    engine_result_init(&r);
    /* 4 business hours from Fri 16:00: Fri 16–18 (2 h) + Mon 09–11 (2 h) → Mon 11:00,
     * where "1 business day" would have been Mon 16:00. */
    o = fold(h, fri, 1, T("2026-03-06T17:00:00+08:00"), &r);
    assert_int_equal(o->target_ms, 4 * HOUR);
    assert_int_equal(o->deadline, T("2026-03-09T11:00:00+08:00"));
    /* 24 business hours from Fri 16:00: Fri 2 h, Mon 7.5 (9.5), Tue 7.5 (17), then 7 h
     * on Wed: 09–12 (3 h) and 13:30–17:30 (4 h) → Wed 17:30, not the 16:00 of
     * "3 business days". */
    {
        struct engine_process *h24 = work("{\"within\":\"24 business hours\"}");
        o = fold(h24, fri, 1, T("2026-03-06T17:00:00+08:00"), &r);
        assert_int_equal(o->deadline, T("2026-03-11T17:30:00+08:00"));
        engine_process_unref(h24);
    }
    /* 30 business minutes from Saturday 10:00: counts from Mon 09:00 → Mon 09:30; as of
     * Sunday nothing has counted. */
    o = fold(m, sat, 1, T("2026-03-08T12:00:00+08:00"), &r);
    assert_int_equal(o->deadline, T("2026-03-09T09:30:00+08:00"));
    assert_int_equal(o->elapsed_ms, 0);
    assert_int_equal(o->result, ENGINE_OPEN);
    /* Across lunch: Mon 11:45 + 30 min = 15 min before 12:00 + 15 min after 13:30. */
    o = fold(m, lunch, 1, T("2026-03-09T12:30:00+08:00"), &r);
    assert_int_equal(o->deadline, T("2026-03-09T13:45:00+08:00"));
    assert_int_equal(o->elapsed_ms, 15 * MIN);
    engine_result_free(&r);
    engine_process_unref(h);
    engine_process_unref(m);
}

static void
test_rings_stay_wall(void **state)
{
    struct engine_process *p = NULL;
    struct smile_err err;
    struct engine_result r;
    const char *doc = engine_default_hotline_json();
    json_t *q = json_pack("{ss}", "queue", "support");
    struct engine_event ev[2] = {E(1, "call.offered", "2026-03-08T03:00:00+08:00"),
                                 E(2, "call.answered", "2026-03-08T03:00:20+08:00")};
    const struct engine_occ *o;

    (void)state;
    ev[0].data = q;
    engine_result_init(&r);
    assert_int_equal(engine_process_compile(doc, strlen(doc), &p, &err), SMILE_OK);
    /* Sunday 03:00 is outside working hours, but "3 rings" is a wall standard:
     * 3 × 5000 = 15 s; answered after 20 s → breached at 03:00:15. */
    o = fold(p, ev, 2, T("2026-03-08T04:00:00+08:00"), &r);
    assert_int_equal(o->target_ms, 15000);
    assert_int_equal(o->result, ENGINE_BREACHED);
    assert_int_equal(o->breached_at, T("2026-03-08T03:00:15+08:00"));
    json_decref(q);
    engine_result_free(&r);
    engine_process_unref(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_business_days),
        cmocka_unit_test(test_pause_shifts_business_deadline),
        cmocka_unit_test(test_spring_festival),
        cmocka_unit_test(test_national_day),
        cmocka_unit_test(test_business_hours_vs_days),
        cmocka_unit_test(test_rings_stay_wall),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
