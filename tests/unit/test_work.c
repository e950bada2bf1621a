/*
 * test_work.c — unit tests of the work part's pure pieces: the routing choice
 * (work_route_pick: round robin, least open, skill match, presence, disabled members,
 * rotation order and its wrap-around, the reasons for leaving a case unassigned), the
 * names of presence values and rules, skill tags, and which CRM function a case event
 * performs (for out-of-order marking). Every expected member is worked out by hand in the
 * comments from the members' ids, presence, skills and open counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "work/work.h"
#include "work/work_int.h"

static const char *const none[] = {NULL};
static const char *const repair[] = {"repair"};
static const char *const repair_canto[] = {"repair", "cantonese"};
static const char *const all3[] = {"mortgage", "cantonese", "repair"};

#define M(id_, pres, open_)                                                                        \
    {                                                                                              \
        .id = (id_), .presence = (pres), .open = (open_), .skills = none                           \
    }

static void
test_round_robin_rotation(void **state)
{
    struct work_member m[] = {M(10, WORK_AVAILABLE, 0), M(20, WORK_AVAILABLE, 0),
                              M(30, WORK_AVAILABLE, 0)};
    enum work_route_reason why;

    (void)state;
    /* No one chosen yet: rotation starts at the lowest id above 0 → 10 (index 0). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 0, &why), 0);
    assert_int_equal(why, WORK_ROUTED);
    /* Last was 10 → the next id above 10 is 20 (index 1). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 10, &why), 1);
    /* Last was 20 → 30 (index 2). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 20, &why), 2);
    /* Last was 30, nobody above → wrap to the lowest id, 10 (index 0). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 30, &why), 0);
    /* Last was 25, a member who left the team: the next id above 25 is 30 (index 2). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 25, &why), 2);
}

static void
test_round_robin_unsorted_input(void **state)
{
    /* Ids given out of order: 30, 10, 20 at indexes 0, 1, 2. */
    struct work_member m[] = {M(30, WORK_AVAILABLE, 0), M(10, WORK_AVAILABLE, 0),
                              M(20, WORK_AVAILABLE, 0)};
    enum work_route_reason why;

    (void)state;
    /* Last 10 → next id 20, which sits at index 2. */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 10, &why), 2);
    /* Last 30 → wrap to 10, index 1. */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 3, NULL, 0, 30, &why), 1);
}

static void
test_round_robin_skips_away_off_disabled(void **state)
{
    struct work_member m[] = {M(10, WORK_AVAILABLE, 0), M(20, WORK_AWAY, 0), M(30, WORK_OFF, 0),
                              M(40, WORK_AVAILABLE, 0)};
    enum work_route_reason why;

    (void)state;
    /* Last 10: 20 is away, 30 off → 40 (index 3). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 4, NULL, 0, 10, &why), 3);
    /* Last 40: wrap to 10 (index 0). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 4, NULL, 0, 40, &why), 0);
    /* Disable 10: from 40 the rotation 10 (disabled), 20 (away), 30 (off), 40 → 40 again. */
    m[0].disabled = true;
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 4, NULL, 0, 40, &why), 3);
    /* Nobody left: 40 away too → -1, none available. */
    m[3].presence = WORK_AWAY;
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 4, NULL, 0, 40, &why), -1);
    assert_int_equal(why, WORK_NONE_AVAILABLE);
}

static void
test_least_open(void **state)
{
    struct work_member m[] = {M(10, WORK_AVAILABLE, 3), M(20, WORK_AVAILABLE, 1),
                              M(30, WORK_AVAILABLE, 1), M(40, WORK_AWAY, 0)};
    enum work_route_reason why;

    (void)state;
    /* 40 has the fewest (0) but is away. Among 10 (3), 20 (1), 30 (1) the fewest is 1, a tie
     * of 20 and 30; from last 0 the rotation is 10, 20, 30 → 20 comes first (index 1). */
    assert_int_equal(work_route_pick(WORK_RULE_LEAST_OPEN, m, 4, NULL, 0, 0, &why), 1);
    /* Last 20: rotation 30, 40, 10, 20 → 30 is the first with 1 (index 2). */
    assert_int_equal(work_route_pick(WORK_RULE_LEAST_OPEN, m, 4, NULL, 0, 20, &why), 2);
    /* 30 gets two more cases (3): only 20 has 1 left → 20 whatever the rotation. */
    m[2].open = 3;
    assert_int_equal(work_route_pick(WORK_RULE_LEAST_OPEN, m, 4, NULL, 0, 20, &why), 1);
    assert_int_equal(why, WORK_ROUTED);
}

static void
test_skill_match(void **state)
{
    struct work_member m[] = {M(10, WORK_AVAILABLE, 0), M(20, WORK_AVAILABLE, 5),
                              M(30, WORK_AVAILABLE, 2)};
    enum work_route_reason why;

    (void)state;
    m[0].skills = repair; /* 10: repair only, 0 open */
    m[0].nskills = 1;
    m[1].skills = repair_canto; /* 20: repair + cantonese, 5 open */
    m[1].nskills = 2;
    m[2].skills = all3; /* 30: mortgage + cantonese + repair, 2 open */
    m[2].nskills = 3;
    /* Needs repair and cantonese: 10 lacks cantonese; of 20 (5) and 30 (2), 30 (index 2). */
    assert_int_equal(work_route_pick(WORK_RULE_SKILL_MATCH, m, 3, repair_canto, 2, 0, &why), 2);
    /* 30 goes off shift → 20 (index 1), although 10 has fewer open cases. */
    m[2].presence = WORK_OFF;
    assert_int_equal(work_route_pick(WORK_RULE_SKILL_MATCH, m, 3, repair_canto, 2, 0, &why), 1);
    /* Needs repair only: 10 (0 open) and 20 (5) qualify → 10 (index 0). */
    assert_int_equal(work_route_pick(WORK_RULE_SKILL_MATCH, m, 3, repair, 1, 0, &why), 0);
    /* No required skills: everyone available qualifies, least open → 10. */
    assert_int_equal(work_route_pick(WORK_RULE_SKILL_MATCH, m, 3, NULL, 0, 0, &why), 0);
    /* Needs mortgage: only 30 has it and 30 is off → members are available, none matches. */
    {
        static const char *const mortgage[] = {"mortgage"};
        assert_int_equal(work_route_pick(WORK_RULE_SKILL_MATCH, m, 3, mortgage, 1, 0, &why), -1);
        assert_int_equal(why, WORK_NO_SKILL_MATCH);
    }
}

static void
test_no_members_and_manual(void **state)
{
    struct work_member m[] = {M(10, WORK_AVAILABLE, 0)};
    enum work_route_reason why;

    (void)state;
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 0, NULL, 0, 0, &why), -1);
    assert_int_equal(why, WORK_NO_MEMBERS);
    assert_int_equal(work_route_pick(WORK_RULE_MANUAL, m, 1, NULL, 0, 0, &why), -1);
    assert_int_equal(why, WORK_MANUAL);
    /* A one-member team: round robin after that member wraps to it (index 0). */
    assert_int_equal(work_route_pick(WORK_RULE_ROUND_ROBIN, m, 1, NULL, 0, 10, &why), 0);
}

static void
test_names(void **state)
{
    (void)state;
    assert_int_equal(work_presence_parse("available"), WORK_AVAILABLE);
    assert_int_equal(work_presence_parse("away"), WORK_AWAY);
    assert_int_equal(work_presence_parse("off"), WORK_OFF);
    assert_int_equal(work_presence_parse("busy"), -1);
    assert_int_equal(work_presence_parse(NULL), -1);
    assert_string_equal(work_presence_name(WORK_AWAY), "away");
    assert_int_equal(work_rule_parse("round_robin"), WORK_RULE_ROUND_ROBIN);
    assert_int_equal(work_rule_parse("least_open"), WORK_RULE_LEAST_OPEN);
    assert_int_equal(work_rule_parse("skill_match"), WORK_RULE_SKILL_MATCH);
    assert_int_equal(work_rule_parse("manual"), WORK_RULE_MANUAL);
    assert_int_equal(work_rule_parse("random"), -1);
    assert_string_equal(work_rule_name(WORK_RULE_SKILL_MATCH), "skill_match");
    assert_string_equal(work_route_reason_name(WORK_NONE_AVAILABLE), "none_available");
    assert_string_equal(work_route_reason_name(WORK_NO_SKILL_MATCH), "no_skill_match");
}

static void
test_skill_tags(void **state)
{
    (void)state;
    assert_true(work_skill_valid("repair"));
    assert_true(work_skill_valid("after-sales_2"));
    assert_true(work_skill_valid("abcdefghijabcdefghijabcdefghijab"));   /* 32 bytes */
    assert_false(work_skill_valid("abcdefghijabcdefghijabcdefghijabc")); /* 33 bytes */
    assert_false(work_skill_valid(""));
    assert_false(work_skill_valid(NULL));
    assert_false(work_skill_valid("Repair")); /* upper case */
    assert_false(work_skill_valid("粤语"));   /* tags are ASCII */
    assert_false(work_skill_valid("a b"));
}

static void
test_event_function(void **state)
{
    json_t *staff = json_pack("{s:s}", "by", "staff");
    json_t *cust = json_pack("{s:s}", "by", "customer");

    (void)state;
    assert_string_equal(work_event_function("case.assigned", NULL), "assign");
    assert_string_equal(work_event_function("case.resolved", NULL), "resolve");
    assert_string_equal(work_event_function("case.closed", NULL), "close");
    assert_string_equal(work_event_function("case.replied", staff), "reply");
    /* A customer's reply is not a staff function: never out of order. */
    assert_null(work_event_function("case.replied", cust));
    /* Opening, pending, reopening perform no step function. */
    assert_null(work_event_function("case.opened", NULL));
    assert_null(work_event_function("case.pending", NULL));
    assert_null(work_event_function("case.reopened", NULL));
    json_decref(staff);
    json_decref(cust);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_rotation),
        cmocka_unit_test(test_round_robin_unsorted_input),
        cmocka_unit_test(test_round_robin_skips_away_off_disabled),
        cmocka_unit_test(test_least_open),
        cmocka_unit_test(test_skill_match),
        cmocka_unit_test(test_no_members_and_manual),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_skill_tags),
        cmocka_unit_test(test_event_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
