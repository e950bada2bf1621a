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
#include "store/store.h"

#include <unistd.h>

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
    /* A value that is not a number scores 0, never NaN (validation keeps floor and target
       within ±1e15, so target − floor is finite). */
    assert_double_equal(score_item_points(NAN, 0, 1), 0, EPS);
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

/* Store-backed ----------------------------------------------------------------------- */

static struct store *
fresh_db(char *dir, size_t cap)
{
    struct store *db = NULL;
    struct smile_err err;
    char path[128];

    snprintf(dir, cap, "/tmp/smile-test-score-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(path, STORE_CREATE, &db, &err), SMILE_OK);
    assert_int_equal(store_migrate(db, &err), SMILE_OK);
    return db;
}

static void
drop_db(struct store *db, const char *dir)
{
    char path[160];

    store_close(db);
    snprintf(path, sizeof(path), "%s/t.db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/t.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/t.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

static void
exec(struct store *db, const char *sql)
{
    struct smile_err err;

    smile_err_clear(&err);
    if (store_exec(db, sql, &err) != SMILE_OK)
        fail_msg("%s: %s", sql, err.msg);
}

static json_t *
get_eval(struct store *db, const char *period, const char *user)
{
    struct score_eval_filter f = {period, 0, NULL, user, NULL, false};
    struct smile_err err;
    json_t *items = NULL, *one;
    int64_t next;

    smile_err_clear(&err);
    assert_int_equal(score_evaluation_list(db, &f, 0, 50, &items, &next, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 1);
    one = json_incref(json_array_get(items, 0));
    json_decref(items);
    return one;
}

static double
num(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_null(v) || v == NULL ? -1 : json_number_value(v);
}

static void
test_store_compute(void **state)
{
    /* Rollups put directly into kpi_daily. Day numbers: 1970–2025 are 56 years with 14 leap
       days, so 2026-01-01 = 56 × 365 + 14 = 20454; 3 November is day 307 of the year →
       20454 + 306 = 20760; 31 October → 20757.
         a1 reply 9 met 1 breached (0.9); a1 reply on 31 Oct 0/5 (outside November);
         a2 reply 2/5 (0.4), greet 1/2 (0.5); a3 (no team) reply 4/10 (0.4).
       Template: reply floor 0.5 target 1.0 w 1; greet floor 0.6 target 1.0 w 1, critical.
         a1: reply (0.9 − 0.5)/0.5 = 80; greet no data → total 80.
         a2: reply 0.4 → 0 points; greet 0.5 < 0.6 critical → zeroed, 0.
         a3: reply 0.4 → 0 points (below floor but not critical); total 0, scored.
         a4 is disabled, sup1 is a supervisor: neither is evaluated.
       Ranks in role: a1 1, a2 and a3 tie at 2. Team north: a1 1, a2 2; a3 no team → none. */
    static const char *const setup =
        "INSERT INTO users (id, username, role, team_id, disabled, created_at, updated_at) VALUES"
        " (1, 'sup1', 'supervisor', NULL, 0, 0, 0);"
        "INSERT INTO teams (id, name, supervisor_id, created_at, updated_at)"
        " VALUES (1, 'north', 1, 0, 0);"
        "UPDATE users SET team_id = 1 WHERE id = 1;"
        "INSERT INTO users (id, username, role, team_id, disabled, created_at, updated_at) VALUES"
        " (2, 'a1', 'agent', 1, 0, 0, 0), (3, 'a2', 'agent', 1, 0, 0, 0),"
        " (4, 'a3', 'agent', NULL, 0, 0, 0), (5, 'a4', 'agent', 1, 1, 0, 0);"
        "INSERT INTO kpi_daily (day, staff, team, process_id, step, channel, met, breached,"
        " done, opened, closed) VALUES"
        " (20760, 'a1', 'north', 2, 'reply', 'email', 9, 1, 10, 10, 10),"
        " (20757, 'a1', 'north', 2, 'reply', 'email', 0, 5, 5, 5, 5),"
        " (20760, 'a2', 'north', 2, 'reply', 'email', 2, 3, 5, 5, 5),"
        " (20760, 'a2', 'north', 3, 'greet', 'counter', 1, 1, 2, 2, 2),"
        " (20760, 'a3', '', 2, 'reply', 'email', 4, 6, 10, 10, 10);";
    static const char *const tdoc =
        "{\"name\": \"t\", \"role\": \"agent\", \"items\": ["
        "{\"key\": \"reply\", \"indicator\": \"compliance\", \"filter\": {\"step\": "
        "\"reply\"}, \"floor\": 0.5, \"target\": 1.0},"
        "{\"key\": \"greet\", \"indicator\": \"compliance\", \"filter\": {\"step\": "
        "\"greet\"}, \"floor\": 0.6, \"target\": 1.0, \"critical\": true}]}";
    struct score_compute_opts o = {.with_digest = true, .now_ms = 1};
    struct score_template t;
    struct score_period p;
    struct smile_err err;
    struct store *db;
    json_t *doc, *res = NULL, *e, *items = NULL;
    char dir[64];
    int n = -1;

    (void)state;
    assert_true(time_days_from_civil(2026, 11, 3) == 20760);
    log_set_level(LOG_WARN);
    db = fresh_db(dir, sizeof(dir));
    exec(db, setup);
    smile_err_clear(&err);
    doc = json_loads(tdoc, 0, NULL);
    assert_int_equal(score_template_create(db, NULL, doc, &t, &err), SMILE_OK);
    json_decref(doc);
    assert_int_equal(score_period_parse("2026-11", &p, &err), SMILE_OK);
    assert_int_equal(score_evaluations_compute(db, NULL, &t, &p, &o, &res, &err), SMILE_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "computed")), 3);
    json_decref(res);

    e = get_eval(db, "2026-11", "a1");
    assert_double_equal(num(e, "score", NULL), 80, 1e-9);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "scored");
    assert_double_equal(num(e, "rank", "role"), 1, 0);
    assert_double_equal(num(e, "rank", "team"), 1, 0);
    assert_double_equal(num(e, "rank", "role_size"), 3, 0);
    assert_double_equal(num(e, "rank", "team_size"), 2, 0);
    json_decref(e);
    e = get_eval(db, "2026-11", "a2");
    assert_double_equal(num(e, "score", NULL), 0, 0);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "zeroed");
    assert_double_equal(num(e, "rank", "role"), 2, 0);
    assert_double_equal(num(e, "rank", "team"), 2, 0);
    json_decref(e);
    e = get_eval(db, "2026-11", "a3");
    assert_string_equal(json_string_value(json_object_get(e, "status")), "scored");
    assert_double_equal(num(e, "rank", "role"), 2, 0);
    assert_true(json_is_null(json_object_get(json_object_get(e, "rank"), "team")));
    {
        /* publish then freeze a1; a second compute is refused, nothing written */
        int64_t id;
        json_t *x = NULL;
        int64_t changes;
        json_decref(e);
        e = get_eval(db, "2026-11", "a1");
        id = json_integer_value(json_object_get(e, "id"));
        json_decref(e);
        assert_int_equal(score_evaluation_transition(db, NULL, id, "frozen", &x, &err),
                         SMILE_ECONFLICT); /* a draft cannot be frozen */
        assert_int_equal(score_evaluation_transition(db, NULL, id, "published", &x, &err),
                         SMILE_OK);
        json_decref(x);
        assert_int_equal(score_evaluation_transition(db, NULL, id, "frozen", &x, &err), SMILE_OK);
        json_decref(x);
        assert_int_equal(
            store_query_int64(db, "SELECT sum(version) FROM evaluations", &changes, &err),
            SMILE_OK);
        smile_err_clear(&err);
        assert_int_equal(score_evaluations_compute(db, NULL, &t, &p, &o, &res, &err),
                         SMILE_ECONFLICT);
        {
            int64_t after;
            store_query_int64(db, "SELECT sum(version) FROM evaluations", &after, &err);
            assert_true(after == changes);
        }
        o.skip_frozen = true;
        smile_err_clear(&err);
        assert_int_equal(score_evaluations_compute(db, NULL, &t, &p, &o, &res, &err), SMILE_OK);
        assert_int_equal(json_integer_value(json_object_get(res, "computed")), 2);
        assert_int_equal(json_integer_value(json_object_get(res, "kept_frozen")), 1);
        json_decref(res);
    }
    /* The digest of team north: a1 80, a2 0 → mean 40; 2 people, 1 zeroed. */
    assert_int_equal(score_digest_list(db, "2026-11", 1, &items, &err), SMILE_OK);
    assert_int_equal(json_array_size(items), 1);
    e = json_array_get(items, 0);
    assert_double_equal(num(e, "summary", "mean"), 40, 1e-9);
    assert_double_equal(num(e, "summary", "people"), 2, 0);
    assert_double_equal(num(e, "summary", "zeroed"), 1, 0);
    json_decref(items);
    {
        int64_t *ids = NULL;
        int nd = 0;
        assert_int_equal(score_digest_undelivered(db, 10, &ids, &nd, &err), SMILE_OK);
        assert_int_equal(nd, 1);
        assert_int_equal(score_digest_mark_delivered(db, ids[0], 5, &err), SMILE_OK);
        free(ids);
        assert_int_equal(score_digest_undelivered(db, 10, &ids, &nd, &err), SMILE_OK);
        assert_int_equal(nd, 0);
        free(ids);
        assert_int_equal(score_digest_mark_delivered(db, 999, 5, &err), SMILE_ENOTFOUND);
    }

    /* The period-end check. 2026-11-30T15:59:59Z is 23:59:59 on 30 November in Shanghai: the
       last ended month is October, which has no evaluation yet → computed (1 template).
       Again → nothing. 2026-11-30T16:00:00Z is midnight of 1 December: November has ended,
       but it is already computed → nothing. */
    {
        int64_t ms;
        time_parse_rfc3339("2026-11-30T15:59:59Z", 20, &ms);
        smile_err_clear(&err);
        assert_int_equal(score_auto_run(db, ms, &n, &err), SMILE_OK);
        assert_int_equal(n, 1);
        e = get_eval(db, "2026-10", "a1");
        /* a1 in October: reply 0/5 → 0 points; total 0 */
        assert_double_equal(num(e, "score", NULL), 0, 0);
        json_decref(e);
        assert_int_equal(score_auto_run(db, ms, &n, &err), SMILE_OK);
        assert_int_equal(n, 0);
        time_parse_rfc3339("2026-11-30T16:00:00Z", 20, &ms);
        assert_int_equal(score_auto_run(db, ms, &n, &err), SMILE_OK);
        assert_int_equal(n, 0);
    }
    drop_db(db, dir);
}

static void
test_template_validation(void **state)
{
    static const char *const bad =
        "{\"name\": \"\", \"role\": \"agent\", \"items\": ["
        "{\"indicator\": \"elapsed_p90\", \"floor\": 1000, \"target\": 5000},"
        "{\"indicator\": \"compliance\", \"floor\": 0.5, \"target\": 1, \"key\": \"i1\"}]}";
    static const char *const good =
        "{\"name\": \"x\", \"role\": \"agent\", \"items\": ["
        "{\"indicator\": \"elapsed_p90\", \"floor\": 5000, \"target\": 1000}]}";
    struct score_template t;
    struct smile_err err;
    struct store *db;
    json_t *doc;
    char dir[64];

    (void)state;
    db = fresh_db(dir, sizeof(dir));
    /* elapsed_p90: lower is better by default, so target 5000 above floor 1000 is refused;
       the second item repeats the default key of the first ("i1"); the name is empty. */
    smile_err_clear(&err);
    doc = json_loads(bad, 0, NULL);
    assert_int_equal(score_template_parse(db, doc, &t, &err), SMILE_EINVAL);
    json_decref(doc);
    assert_int_equal(err.nfields, 3);
    assert_string_equal(err.fields[0].path, "/name");
    assert_string_equal(err.fields[1].path, "/items/0/target");
    assert_string_equal(err.fields[2].path, "/items/1/key");
    smile_err_clear(&err);
    doc = json_loads(good, 0, NULL);
    assert_int_equal(score_template_parse(db, doc, &t, &err), SMILE_OK);
    json_decref(doc);
    assert_false(t.items[0].higher_is_better);
    assert_string_equal(t.items[0].key, "i1");
    assert_string_equal(t.items[0].label_zh, "90分位用时");
    assert_double_equal(t.items[0].def.weight, 1, 0);
    drop_db(db, dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_month),
        cmocka_unit_test(test_period_week_quarter),
        cmocka_unit_test(test_period_bad),
        cmocka_unit_test(test_item_points),
        cmocka_unit_test(test_total_weighted),
        cmocka_unit_test(test_total_no_data),
        cmocka_unit_test(test_total_critical),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_store_compute),
        cmocka_unit_test(test_template_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
