/*
 * test_score.c — unit tests of the pure scorecard arithmetic (src/score/score.c): periods
 * (month, ISO week, quarter, the one before), item points in both directions, the
 * weighted total with no-data items left out, critical items zeroing the total, and the
 * competition ranking. Every expected value is worked out by hand in the comment beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>

#include "score/score.h"

#define EPS 1e-9

/* cmocka 1.1 has no assert_double_equal. */
#define assert_double_equal(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static int64_t
day(int64_t y, unsigned m, unsigned d)
{
    return time_days_from_civil(y, m, d);
}

static void
test_period_month(void **state)
{
    struct score_period p, q;
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    /* November has 30 days: 2026-11-01 … 2026-11-30. */
    assert_int_equal(score_period_parse("2026-11", &p, &err), SMILE_OK);
    assert_int_equal(p.kind, SCORE_PERIOD_MONTH);
    assert_true(p.from_day == day(2026, 11, 1));
    assert_true(p.to_day == day(2026, 11, 30));
    assert_string_equal(p.name, "2026-11");
    /* 2028 is a leap year: February ends on the 29th. */
    assert_int_equal(score_period_parse("2028-02", &p, &err), SMILE_OK);
    assert_true(p.to_day == day(2028, 2, 29));
    /* The month before January 2027 is December 2026. */
    assert_int_equal(score_period_parse("2027-01", &p, &err), SMILE_OK);
    score_period_prev(&p, &q);
    assert_string_equal(q.name, "2026-12");
    assert_true(q.from_day == day(2026, 12, 1) && q.to_day == day(2026, 12, 31));
}

static void
test_period_week_quarter(void **state)
{
    struct score_period p, q;
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    /* 2026-01-04 is a Sunday, so ISO week 1 of 2026 runs Mon 2025-12-29 … Sun 2026-01-04;
       week 48 starts 47 weeks = 329 days later: 2025-12-29 + 329 = 2026-11-23 (Mon). */
    assert_int_equal(score_period_parse("2026-W48", &p, &err), SMILE_OK);
    assert_true(p.from_day == day(2026, 11, 23));
    assert_true(p.to_day == day(2026, 11, 29));
    /* 2026-11-29 (today, a Sunday) is in that same week. */
    score_period_containing(SCORE_PERIOD_WEEK, day(2026, 11, 29), &q);
    assert_string_equal(q.name, "2026-W48");
    /* 2026 has 53 ISO weeks: 28 December 2026 is a Monday in week 53 (1 Jan 2026 was a
       Thursday). 2025 has 52: W53 of 2025 is refused. */
    assert_int_equal(score_period_parse("2026-W53", &p, &err), SMILE_OK);
    assert_true(p.from_day == day(2026, 12, 28));
    assert_int_equal(score_period_parse("2025-W53", &p, &err), SMILE_EINVAL);
    /* The week before 2026-W01 is 2025-W52 (Mon 2025-12-22). */
    assert_int_equal(score_period_parse("2026-W01", &p, &err), SMILE_OK);
    assert_true(p.from_day == day(2025, 12, 29));
    score_period_prev(&p, &q);
    assert_string_equal(q.name, "2025-W52");
    assert_true(q.from_day == day(2025, 12, 22));
    /* Q4: October 1 … December 31; the quarter before Q1 2027 is Q4 2026. */
    assert_int_equal(score_period_parse("2026-Q4", &p, &err), SMILE_OK);
    assert_true(p.from_day == day(2026, 10, 1) && p.to_day == day(2026, 12, 31));
    assert_int_equal(score_period_parse("2027-Q1", &p, &err), SMILE_OK);
    score_period_prev(&p, &q);
    assert_string_equal(q.name, "2026-Q4");
    score_period_containing(SCORE_PERIOD_QUARTER, day(2026, 5, 17), &q);
    assert_string_equal(q.name, "2026-Q2");
    assert_true(q.from_day == day(2026, 4, 1) && q.to_day == day(2026, 6, 30));
}

static void
test_period_bad(void **state)
{
    static const char *bad[] = {"",        "2026",       "2026-13",  "2026-00", "2026-1",
                                "2026-Q0", "2026-Q5",    "2026-W00", "2026-W1", "26-11",
                                "2026/11", "2026-11-01", "1969-12"};
    struct score_period p;
    struct smile_err err;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        smile_err_clear(&err);
        if (score_period_parse(bad[i], &p, &err) != SMILE_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(score_period_parse(NULL, &p, &err), SMILE_EINVAL);
}

static void
test_item_points(void **state)
{
    (void)state;
    /* Higher is better, floor 80, target 95: 90 → (90−80)/(95−80) = 10/15 = 66.67 %. */
    assert_double_equal(score_item_points(90, 80, 95), 200.0 / 3.0, 1e-9);
    /* At target → 100, above target clamps to 100, at floor → 0, below clamps to 0. */
    assert_double_equal(score_item_points(95, 80, 95), 100, EPS);
    assert_double_equal(score_item_points(99, 80, 95), 100, EPS);
    assert_double_equal(score_item_points(80, 80, 95), 0, EPS);
    assert_double_equal(score_item_points(70, 80, 95), 0, EPS);
    /* Lower is better, floor 60 s, target 20 s: 30 s → (30−60)/(20−60) = −30/−40 = 75 %. */
    assert_double_equal(score_item_points(30, 60, 20), 75, EPS);
    /* 10 s (better than target) → 100; 90 s (worse than floor) → 0. */
    assert_double_equal(score_item_points(10, 60, 20), 100, EPS);
    assert_double_equal(score_item_points(90, 60, 20), 0, EPS);
    /* Below floor is strict and follows the direction. */
    assert_false(score_item_below_floor(80, 80, 95));
    assert_true(score_item_below_floor(79.9, 80, 95));
    assert_false(score_item_below_floor(60, 60, 20));
    assert_true(score_item_below_floor(61, 60, 20));
    assert_false(score_item_below_floor(10, 60, 20));
    /* floor == target (refused by validation): at or above → 100, else 0. */
    assert_double_equal(score_item_points(5, 5, 5), 100, EPS);
    assert_double_equal(score_item_points(4, 5, 5), 0, EPS);
}

static void
test_total_weighted(void **state)
{
    /* Three items: compliance (w 3, 80→95), mean time (w 1, lower better 60→20), volume
       (w 2, 100→300). Values 90 %, 30 s, 250 calls:
         points 66.667, 75, (250−100)/200 = 75;
         total = (3×66.667 + 1×75 + 2×75) / 6 = (200 + 75 + 150) / 6 = 425/6 = 70.8333. */
    struct score_item_def d[3] = {{3, 80, 95, false}, {1, 60, 20, false}, {2, 100, 300, false}};
    struct score_value v[3] = {{true, 90, 40}, {true, 30, 40}, {true, 250, 250}};
    struct score_item_result r[3];
    struct score_total t;

    (void)state;
    score_compute(d, v, 3, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_SCORED);
    assert_int_equal(t.nscored, 3);
    assert_double_equal(t.weight_used, 6, EPS);
    assert_double_equal(r[0].points, 200.0 / 3.0, 1e-9);
    assert_double_equal(r[1].points, 75, EPS);
    assert_double_equal(r[2].points, 75, EPS);
    assert_double_equal(t.total, 425.0 / 6.0, 1e-9);
    assert_int_equal(t.zeroed_by, -1);
}

static void
test_total_no_data(void **state)
{
    /* Item 2 has no data: it is reported as such and left out of the mean, so the total is
       (3×66.667 + 1×75) / 4 = 275/4 = 68.75 — neither 0 nor 100 is averaged in. */
    struct score_item_def d[3] = {{3, 80, 95, false}, {1, 60, 20, false}, {2, 100, 300, false}};
    struct score_value v[3] = {{true, 90, 40}, {true, 30, 40}, {false, 0, 0}};
    struct score_item_result r[3];
    struct score_total t;

    (void)state;
    score_compute(d, v, 3, r, &t);
    assert_int_equal(r[2].status, SCORE_ITEM_NO_DATA);
    assert_double_equal(r[2].points, 0, EPS);
    assert_false(r[2].below_floor);
    assert_int_equal(t.status, SCORE_TOTAL_SCORED);
    assert_int_equal(t.nscored, 2);
    assert_double_equal(t.weight_used, 4, EPS);
    assert_double_equal(t.total, 68.75, 1e-9);

    /* No item with data at all: no score (NO_DATA), not 0 or 100. */
    v[0].has_data = v[1].has_data = false;
    score_compute(d, v, 3, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_NO_DATA);
    assert_int_equal(t.nscored, 0);
    /* n = 0 items: no data either. */
    score_compute(d, v, 0, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_NO_DATA);
}

static void
test_total_critical(void **state)
{
    /* Item 0 critical (floor 80): at 79 it is below its floor → the total is 0 with
       zeroed_by 0, although item 1 alone would give 100. */
    struct score_item_def d[2] = {{1, 80, 95, true}, {1, 60, 20, false}};
    struct score_value v[2] = {{true, 79, 10}, {true, 10, 10}};
    struct score_item_result r[2];
    struct score_total t;

    (void)state;
    score_compute(d, v, 2, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_ZEROED);
    assert_int_equal(t.zeroed_by, 0);
    assert_double_equal(t.total, 0, EPS);
    assert_true(r[0].below_floor);
    assert_double_equal(r[1].points, 100, EPS);

    /* Exactly at the floor is not below it: points 0, total (0 + 100)/2 = 50. */
    v[0].value = 80;
    score_compute(d, v, 2, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_SCORED);
    assert_double_equal(t.total, 50, EPS);

    /* A critical item with no data zeroes nothing: total = item 1 alone = 100. */
    v[0].has_data = false;
    score_compute(d, v, 2, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_SCORED);
    assert_double_equal(t.total, 100, EPS);

    /* A non-critical item below its floor only scores 0: item 1 critical at 61 s (> floor
       60, lower is better) zeroes; item 0 non-critical at 79 would not. */
    d[0].critical = false;
    d[1].critical = true;
    v[0] = (struct score_value){true, 79, 10};
    v[1] = (struct score_value){true, 61, 10};
    score_compute(d, v, 2, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_ZEROED);
    assert_int_equal(t.zeroed_by, 1);
    v[1].value = 59; /* (59−60)/(20−60) = 1/40 = 2.5 points; total (0 + 2.5)/2 = 1.25 */
    score_compute(d, v, 2, r, &t);
    assert_int_equal(t.status, SCORE_TOTAL_SCORED);
    assert_double_equal(t.total, 1.25, 1e-9);
}

static void
test_rank(void **state)
{
    /* Totals 70, 90, 70, –, 0, 95: 95 → 1, 90 → 2, the two 70s share 3, then 0 → 5
       (competition ranking skips 4); the unscored entry gets 0. */
    double tot[6] = {70, 90, 70, 0, 0, 95};
    bool ok[6] = {true, true, true, false, true, true};
    int r[6];

    (void)state;
    score_rank(tot, ok, 6, r);
    assert_int_equal(r[0], 3);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 3);
    assert_int_equal(r[3], 0);
    assert_int_equal(r[4], 5);
    assert_int_equal(r[5], 1);
    score_rank(tot, ok, 0, r); /* empty: nothing to do, no crash */
}

static void
test_labels(void **state)
{
    (void)state;
    assert_string_equal(score_indicator_label("compliance", "en"), "Compliance with the standard");
    assert_string_equal(score_indicator_label("compliance", "zh-CN"), "达标率");
    assert_null(score_indicator_label("nonesuch", "en"));
    assert_string_equal(score_period_kind_name(SCORE_PERIOD_QUARTER), "quarter");
    assert_int_equal(score_period_kind_parse("week"), SCORE_PERIOD_WEEK);
    assert_int_equal(score_period_kind_parse("year"), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_month),   cmocka_unit_test(test_period_week_quarter),
        cmocka_unit_test(test_period_bad),     cmocka_unit_test(test_item_points),
        cmocka_unit_test(test_total_weighted), cmocka_unit_test(test_total_no_data),
        cmocka_unit_test(test_total_critical), cmocka_unit_test(test_rank),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
