/*
 * test_ami_legacy.c — AMI events of Asterisk 11 and older (SOURCES.md §1.6): Join instead
 * of QueueCallerJoin, AgentCalled naming the member in the AgentCalled / AgentName fields,
 * AgentConnect / AgentComplete / AgentRingNoAnswer with Member (and Ringtime, BridgedChannel)
 * instead of Interface and DestUniqueid. The same call told by a pre-12 and a 12+ server
 * must give the same events with the same source_ids, so switching versions (or running
 * queue_log beside AMI) never counts a call twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "intake/intake.h"

static json_t *
map_stream(const char *s, int64_t received_ms)
{
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    struct ami_parser p;
    struct ami_packet pk;
    json_t *evs = json_array();

    ami_parser_init(&p);
    ami_parser_feed(&p, s, strlen(s));
    while (ami_parser_next(&p, &pk))
        pbx_map_ami(m, &pk, received_ms, evs);
    ami_parser_free(&p);
    pbx_map_free(m);
    return evs;
}

static const char *
ev_s(json_t *evs, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(evs, i), k));
}

static const char *
data_s(json_t *evs, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(evs, i), "data"), k));
}

static int64_t
data_i(json_t *evs, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(json_array_get(evs, i), "data"), k));
}

/* Asterisk 1.8 / 11 field layout (app_queue.c of those branches). */
static const char pre12[] =
    "Asterisk Call Manager/1.3\r\n"
    "Event: Join\r\nPrivilege: call,all\r\nTimestamp: 1717392000.120455\r\n"
    "Channel: SIP/trunk-00000012\r\nCallerIDNum: 13812345678\r\nCallerIDName: <unknown>\r\n"
    "Queue: support\r\nPosition: 1\r\nCount: 1\r\nUniqueid: 1717391993.1042\r\n\r\n"
    "Event: AgentCalled\r\nPrivilege: agent,all\r\nTimestamp: 1717392020.004812\r\n"
    "Queue: support\r\nAgentCalled: SIP/8002\r\nAgentName: SIP/8002\r\n"
    "ChannelCalling: SIP/trunk-00000012\r\nDestinationChannel: SIP/8002-00000015\r\n"
    "CallerIDNum: 13812345678\r\nUniqueid: 1717391993.1042\r\n\r\n"
    "Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: 1717392027.338120\r\n"
    "Queue: support\r\nUniqueid: 1717391993.1042\r\nChannel: SIP/8002-00000015\r\n"
    "Member: SIP/8002\r\nMemberName: SIP/8002\r\nHoldTime: 27\r\n"
    "BridgedChannel: 1717392020.1047\r\nRingTime: 7\r\n\r\n"
    "Event: AgentComplete\r\nPrivilege: agent,all\r\nTimestamp: 1717392147.338120\r\n"
    "Queue: support\r\nUniqueid: 1717391993.1042\r\nChannel: SIP/8002-00000015\r\n"
    "Member: SIP/8002\r\nMemberName: SIP/8002\r\nHoldTime: 27\r\nTalkTime: 120\r\n"
    "Reason: caller\r\n\r\n"
    "Event: Leave\r\nPrivilege: call,all\r\nChannel: SIP/trunk-00000012\r\n"
    "Queue: support\r\nCount: 0\r\nPosition: 1\r\nUniqueid: 1717391993.1042\r\n\r\n";

/* The same call from Asterisk 12+. */
static const char post12[] =
    "Asterisk Call Manager/9.0.0\r\n"
    "Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1717392000.120455\r\n"
    "Channel: PJSIP/trunk-00000012\r\nUniqueid: 1717391993.1042\r\nCallerIDNum: 13812345678\r\n"
    "Queue: support\r\nPosition: 1\r\nCount: 1\r\n\r\n"
    "Event: AgentCalled\r\nPrivilege: agent,all\r\nTimestamp: 1717392020.004812\r\n"
    "Uniqueid: 1717391993.1042\r\nDestUniqueid: 1717392020.1047\r\nQueue: support\r\n"
    "MemberName: SIP/8002\r\nInterface: SIP/8002\r\n\r\n"
    "Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: 1717392027.338120\r\n"
    "Uniqueid: 1717391993.1042\r\nDestUniqueid: 1717392020.1047\r\nQueue: support\r\n"
    "MemberName: SIP/8002\r\nInterface: SIP/8002\r\nRingTime: 7\r\nHoldTime: 27\r\n\r\n"
    "Event: AgentComplete\r\nPrivilege: agent,all\r\nTimestamp: 1717392147.338120\r\n"
    "Uniqueid: 1717391993.1042\r\nQueue: support\r\nMemberName: SIP/8002\r\n"
    "Interface: SIP/8002\r\nHoldTime: 27\r\nTalkTime: 120\r\nReason: caller\r\n\r\n"
    "Event: QueueCallerLeave\r\nPrivilege: agent,all\r\nUniqueid: 1717391993.1042\r\n"
    "Queue: support\r\nPosition: 1\r\nCount: 0\r\n\r\n";

static void
test_pre12_same_as_post12(void **state)
{
    json_t *a = map_stream(pre12, 0), *b = map_stream(post12, 0);

    (void)state;
    /* offered (Join), ringing (AgentCalled), answered (AgentConnect), ended (AgentComplete);
     * Leave and QueueCallerLeave add nothing. */
    assert_int_equal(json_array_size(a), 4);
    assert_int_equal(json_array_size(b), 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(ev_s(a, i, "type"), ev_s(b, i, "type"));
        assert_string_equal(ev_s(a, i, "source_id"), ev_s(b, i, "source_id"));
        assert_string_equal(ev_s(a, i, "occurred_at"), ev_s(b, i, "occurred_at"));
    }
    assert_string_equal(ev_s(a, 0, "type"), "call.offered");
    /* Timestamp 1717392000.120455: 1,717,392,000 s = 2024-06-03T05:20:00Z, + 120 ms. */
    assert_string_equal(ev_s(a, 0, "occurred_at"), "2024-06-03T05:20:00.120Z");
    assert_string_equal(ev_s(a, 0, "customer"), "13812345678");
    /* The ring at the member named in the AgentCalled field. */
    assert_string_equal(ev_s(a, 1, "type"), "call.ringing");
    assert_string_equal(data_s(a, 1, "agent"), "SIP/8002");
    /* AgentConnect: hold 27 s, ring 7 s, member uniqueid from BridgedChannel. */
    assert_string_equal(ev_s(a, 2, "type"), "call.answered");
    assert_int_equal(data_i(a, 2, "holdtime_s"), 27);
    assert_int_equal(data_i(a, 2, "ringtime_s"), 7);
    assert_string_equal(data_s(a, 2, "member_uniqueid"), "1717392020.1047");
    assert_string_equal(data_s(b, 2, "member_uniqueid"), "1717392020.1047");
    assert_string_equal(ev_s(a, 3, "type"), "call.ended");
    assert_int_equal(data_i(a, 3, "talk_s"), 120);
    json_decref(a);
    json_decref(b);
}

/*
 * Pre-12 AgentRingNoAnswer names the member as Member / MemberName and its ring time as
 * "Ringtime" (ms; keys are case-insensitive in AMI): without a prior AgentCalled the ring
 * start is derived, 20,000 ms before the receipt time.
 */
static void
test_pre12_ring_no_answer(void **state)
{
    static const char s[] = "Event: AgentRingNoAnswer\r\nPrivilege: agent,all\r\nQueue: sales\r\n"
                            "Uniqueid: 9.1\r\nChannel: SIP/8101-00000021\r\nMember: SIP/8101\r\n"
                            "MemberName: Zhang Wei\r\nRingtime: 20000\r\n\r\n";
    /* received 1717393520000 ms = 2024-06-03T05:45:20Z; − 20 s = 05:45:00Z */
    json_t *evs = map_stream(s, INT64_C(1717393520000));

    (void)state;
    assert_int_equal(json_array_size(evs), 2);
    assert_string_equal(ev_s(evs, 0, "type"), "call.ringing");
    assert_string_equal(ev_s(evs, 0, "occurred_at"), "2024-06-03T05:45:00.000Z");
    assert_string_equal(ev_s(evs, 0, "source_id"), "9.1|ringing|sales|Zhang Wei|1");
    /* and the ring's end at the receipt time, 05:45:20Z */
    assert_string_equal(ev_s(evs, 1, "type"), "call.ring_ended");
    assert_string_equal(ev_s(evs, 1, "occurred_at"), "2024-06-03T05:45:20.000Z");
    json_decref(evs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pre12_same_as_post12),
        cmocka_unit_test(test_pre12_ring_no_answer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
