/*
 * test_demo.c — unit tests of the demo generator's pure pieces (src/cli/demo.c, included
 * here for its static helpers): the splitmix64 PRNG against its published reference
 * outputs, the ranges of the derived draws, the weighted pick, local times in Shanghai and
 * the kind of each day (working day, weekend, holiday) read from the China calendar around
 * the 2026 Mid-Autumn and National Day holidays. Expected values are worked out by hand in
 * the comments. The whole fill is tested end to end in tests/api/test_demo.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/demo.c"

static int64_t
day(int y, unsigned m, unsigned d)
{
    return time_days_from_civil(y, m, d);
}

static void
test_splitmix64_reference(void **state)
{
    struct gen g;

    (void)state;
    memset(&g, 0, sizeof(g));
    /* Vigna's splitmix64.c with x = 0: the first outputs are 0xe220a8397b1dcdaf,
     * 0x6e789e6aa1b965f4, 0x06c45d188009454f (the usual test vectors of the algorithm). */
    g.rng = 0;
    assert_true(rnd(&g) == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(rnd(&g) == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(rnd(&g) == UINT64_C(0x06c45d188009454f));
    /* the same seed gives the same sequence */
    g.rng = 42;
    uint64_t a = rnd(&g), b = rnd(&g);
    g.rng = 42;
    assert_true(rnd(&g) == a);
    assert_true(rnd(&g) == b);
}

static void
test_draw_ranges(void **state)
{
    struct gen g;
    int hits[3] = {0, 0, 0};

    (void)state;
    memset(&g, 0, sizeof(g));
    g.rng = 7;
    for (int i = 0; i < 30000; i++) {
        double u = rnd01(&g);
        int64_t k = rnd_int(&g, -1, 1);

        assert_true(u >= 0.0 && u < 1.0);
        assert_true(k >= -1 && k <= 1);
        hits[k + 1]++;
        assert_true(rnd_count(&g, 5.0) >= 0);
    }
    /* three equally likely values: each ≈ 10,000 of 30,000; ±5 % is far beyond chance
     * (σ = sqrt(30000 × 1/3 × 2/3) ≈ 82) */
    for (int i = 0; i < 3; i++)
        assert_true(hits[i] > 9500 && hits[i] < 10500);
}

static void
test_pick_weighted(void **state)
{
    static const struct demo_weighted w[] = {{"a", 1}, {"b", 3}, {"never", 0}};
    struct gen g;
    int n[3] = {0, 0, 0};

    (void)state;
    memset(&g, 0, sizeof(g));
    g.rng = 3;
    for (int i = 0; i < 40000; i++)
        n[pick_weighted(&g, w, 3)]++;
    /* weights 1 : 3 → 10,000 and 30,000 of 40,000; σ ≈ sqrt(40000 × 0.25 × 0.75) ≈ 87 */
    assert_true(n[0] > 9500 && n[0] < 10500);
    assert_true(n[1] > 29500 && n[1] < 30500);
    assert_int_equal(n[2], 0);
}

static void
test_surnames_frequency_order(void **state)
{
    (void)state;
    /* the table starts with the three commonest surnames, 王 李 张, ~7 % each of 10,000 */
    assert_string_equal(demo_surnames[0].text, "王");
    assert_string_equal(demo_surnames[1].text, "李");
    assert_string_equal(demo_surnames[2].text, "张");
    for (int i = 0; i < 3; i++)
        assert_true(demo_surnames[i].weight > 600 && demo_surnames[i].weight < 800);
    /* 25 staff: 11 + 7 + 7, one supervisor per team */
    int per[3] = {0, 0, 0}, sup[3] = {0, 0, 0};
    for (int i = 0; i < demo_nstaff; i++) {
        per[demo_staff[i].team]++;
        sup[demo_staff[i].team] += demo_staff[i].supervisor;
    }
    assert_int_equal(demo_nstaff, 25);
    assert_int_equal(per[0], 11);
    assert_int_equal(per[1], 7);
    assert_int_equal(per[2], 7);
    for (int t = 0; t < 3; t++)
        assert_int_equal(sup[t], 1);
}

static struct calendar *
china(void)
{
    struct calendar *cal = NULL;
    struct smile_err err;
    const char *cj = calendar_china_default_json();

    smile_err_clear(&err);
    assert_int_equal(runtime_calendar_compile(cj, strlen(cj), &cal, &err), SMILE_OK);
    return cal;
}

static void
test_local_time_and_day_kinds(void **state)
{
    struct calendar *cal = china();
    struct gen g;

    (void)state;
    memset(&g, 0, sizeof(g));
    g.cal = cal;
    g.tz = calendar_tz(cal);
    /* 2026-10-01 10:00 in Shanghai (UTC+8, no DST) = 02:00Z */
    assert_true(local_at(&g, day(2026, 10, 1), 10 * 60) == day(2026, 10, 1) * DAY_MS + 2 * HOUR_MS);
    /* 2026-08-31 00:00 local = 2026-08-30T16:00Z, where a 91-day window ending 11-29 starts */
    assert_true(local_at(&g, day(2026, 8, 31), 0) == day(2026, 8, 30) * DAY_MS + 16 * HOUR_MS);

    /* Mid-Autumn: OFF 09-25..09-27 (Fri–Sun), make-up working day Sunday 09-20. */
    assert_int_equal(day_kind(&g, day(2026, 9, 20)), WORKDAY); /* Sunday, make-up */
    assert_int_equal(day_kind(&g, day(2026, 9, 19)), WEEKEND); /* Saturday: Thu/Fri/Mon work */
    assert_int_equal(day_kind(&g, day(2026, 9, 24)), WORKDAY); /* Thursday */
    assert_int_equal(day_kind(&g, day(2026, 9, 25)), HOLIDAY); /* Friday off */
    assert_int_equal(day_kind(&g, day(2026, 9, 26)), HOLIDAY); /* Sat, next to Fri 09-25 */
    assert_int_equal(day_kind(&g, day(2026, 9, 27)), HOLIDAY); /* Sun, 2 days after Fri */
    assert_int_equal(day_kind(&g, day(2026, 9, 28)), WORKDAY); /* Monday */
    /* National Day: OFF 10-01..10-07 (Thu … Wed), make-up Saturday 10-10. */
    for (unsigned d = 1; d <= 7; d++)
        assert_int_equal(day_kind(&g, day(2026, 10, d)), HOLIDAY);
    assert_int_equal(day_kind(&g, day(2026, 10, 8)), WORKDAY);  /* Thursday */
    assert_int_equal(day_kind(&g, day(2026, 10, 10)), WORKDAY); /* Saturday, make-up */
    /* Sunday 10-11: within two days are Fri 10-09, Sat 10-10 (working), Mon, Tue — no
     * weekday off, so an ordinary weekend day. Likewise Saturday 10-17. */
    assert_int_equal(day_kind(&g, day(2026, 10, 11)), WEEKEND);
    assert_int_equal(day_kind(&g, day(2026, 10, 17)), WEEKEND);
    calendar_free(cal);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix64_reference),
        cmocka_unit_test(test_draw_ranges),
        cmocka_unit_test(test_pick_weighted),
        cmocka_unit_test(test_surnames_frequency_order),
        cmocka_unit_test(test_local_time_and_day_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
