/*
 * test_ami.c — unit tests of the AMI packet parser (banner, CRLF and LF, packets split at
 * every byte, blank lines, oversized packets, Timestamp) and of the AMI mapping, including
 * the promise that AMI and queue_log give the same fact the same source_id. Expected
 * values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "intake/intake.h"

/* SOURCES.md §1.9 Example 1 (server side) and Example 2, "…" lines dropped. */
static const char session[] =
    "Asterisk Call Manager/9.0.0\r\n"
    "Response: Success\r\nActionID: crm-1\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 86400\r\nLastReload: 3600\r\n"
    "Status: Fully Booted\r\n\r\n"
    "Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1717392000.120455\r\n"
    "Channel: PJSIP/trunk-00000012\r\nUniqueid: 1717391993.1042\r\n"
    "CallerIDNum: 13812345678\r\nQueue: support\r\nPosition: 1\r\nCount: 1\r\n\r\n"
    "Event: AgentCalled\r\nPrivilege: agent,all\r\nTimestamp: 1717392020.004812\r\n"
    "Channel: PJSIP/trunk-00000012\r\nUniqueid: 1717391993.1042\r\n"
    "DestChannel: PJSIP/8002-00000015\r\nDestUniqueid: 1717392020.1047\r\n"
    "Queue: support\r\nMemberName: PJSIP/8002\r\nInterface: PJSIP/8002\r\n\r\n"
    "Event: AgentConnect\r\nPrivilege: agent,all\r\nTimestamp: 1717392027.338120\r\n"
    "Channel: PJSIP/trunk-00000012\r\nUniqueid: 1717391993.1042\r\n"
    "DestChannel: PJSIP/8002-00000015\r\nDestUniqueid: 1717392020.1047\r\n"
    "Queue: support\r\nMemberName: PJSIP/8002\r\nInterface: PJSIP/8002\r\nRingTime: 7\r\n"
    "HoldTime: 27\r\n\r\n";

/* Parses everything fed so far; returns the number of packets and their Event names. */
static int
drain(struct ami_parser *p, char names[][32], int max)
{
    struct ami_packet pk;
    int n = 0;

    while (ami_parser_next(p, &pk)) {
        struct str e = ami_packet_get(&pk, "Event");

        if (e.p == NULL)
            e = ami_packet_get(&pk, "Response");
        if (n < max)
            snprintf(names[n], 32, "%.*s", (int)e.len, e.p);
        n++;
    }
    return n;
}

static void
test_parse_whole(void **state)
{
    struct ami_parser p;
    struct ami_packet pk;
    char names[8][32];

    (void)state;
    ami_parser_init(&p);
    ami_parser_feed(&p, session, sizeof(session) - 1);
    /* Response, FullyBooted, QueueCallerJoin, AgentCalled, AgentConnect = 5 packets. */
    assert_int_equal(drain(&p, names, 8), 5);
    assert_string_equal(p.banner, "9.0.0");
    assert_string_equal(names[0], "Success");
    assert_string_equal(names[1], "FullyBooted");
    assert_string_equal(names[4], "AgentConnect");
    assert_int_equal(ami_parser_next(&p, &pk), 0);
    ami_parser_free(&p);
}

/* Every split point of the stream gives the same packets (partial reads). */
static void
test_parse_every_split(void **state)
{
    size_t n = sizeof(session) - 1;

    (void)state;
    for (size_t cut = 0; cut <= n; cut += 7) {
        struct ami_parser p;
        char names[8][32];
        int got;

        ami_parser_init(&p);
        ami_parser_feed(&p, session, cut);
        got = drain(&p, names, 8);
        ami_parser_feed(&p, session + cut, n - cut);
        got += drain(&p, names + (got < 8 ? got : 7), 8 - (got < 8 ? got : 7));
        assert_int_equal(got, 5);
        ami_parser_free(&p);
    }
    /* Byte by byte. */
    {
        struct ami_parser p;
        char names[8][32];
        int got = 0;

        ami_parser_init(&p);
        for (size_t i = 0; i < n; i++) {
            ami_parser_feed(&p, session + i, 1);
            got += drain(&p, names, 0);
        }
        assert_int_equal(got, 5);
        ami_parser_free(&p);
    }
}

/* Bare LF line ends, blank lines between packets, "Key:Value" without a space, a line
 * without a colon. */
static void
test_parse_lf_and_odd_lines(void **state)
{
    static const char s[] = "Asterisk Call Manager/2.10.6\n\n\nEvent: Hangup\nUniqueid:1.2\n"
                            "Cause-txt:  Normal Clearing\nnocolon\n\nEvent: X\n\n";
    struct ami_parser p;
    struct ami_packet pk;

    (void)state;
    ami_parser_init(&p);
    ami_parser_feed(&p, s, sizeof(s) - 1);
    assert_int_equal(ami_parser_next(&p, &pk), 1);
    assert_string_equal(p.banner, "2.10.6");
    assert_int_equal(pk.n, 4);
    assert_true(str_eq(ami_packet_get(&pk, "uniqueid"), "1.2")); /* case-insensitive key */
    assert_true(str_eq(ami_packet_get(&pk, "Cause-txt"), "Normal Clearing"));
    assert_true(str_eq(pk.keys[3], "nocolon"));
    assert_int_equal(pk.values[3].len, 0);
    assert_null(ami_packet_get(&pk, "Timestamp").p); /* missing Timestamp */
    assert_int_equal(ami_parser_next(&p, &pk), 1);
    assert_int_equal(ami_parser_next(&p, &pk), 0);
    ami_parser_free(&p);
}

/* A packet larger than AMI_MAX_PACKET is dropped whole; the next one survives. */
static void
test_parse_oversized(void **state)
{
    struct ami_parser p;
    struct ami_packet pk;
    char *big = xmalloc(AMI_MAX_PACKET + 100);

    (void)state;
    memset(big, 'a', AMI_MAX_PACKET + 100);
    ami_parser_init(&p);
    ami_parser_feed(&p, "Asterisk Call Manager/9.0.0\r\nEvent: Big\r\nData: ", 47);
    ami_parser_feed(&p, big, AMI_MAX_PACKET + 100);
    assert_int_equal(ami_parser_next(&p, &pk), 0);
    ami_parser_feed(&p, "\r\n\r\nEvent: Small\r\n\r\n", 20);
    assert_int_equal(ami_parser_next(&p, &pk), 1);
    assert_true(str_eq(ami_packet_get(&pk, "Event"), "Small"));
    assert_int_equal(p.dropped, 1);
    ami_parser_free(&p);
    free(big);
}

static void
test_timestamp(void **state)
{
    int64_t ms;

    (void)state;
    /* µs are truncated to ms: .120455 → 120. */
    assert_int_equal(ami_timestamp_parse(STR_LIT("1717392000.120455"), &ms), SMILE_OK);
    assert_int_equal(ms, INT64_C(1717392000120));
    assert_int_equal(ami_timestamp_parse(STR_LIT("1717392000"), &ms), SMILE_OK);
    assert_int_equal(ms, INT64_C(1717392000000));
    assert_int_equal(ami_timestamp_parse(STR_LIT("1717392000.5"), &ms), SMILE_OK);
    assert_int_equal(ms, INT64_C(1717392000500));
    assert_int_equal(ami_timestamp_parse(STR_LIT("x"), &ms), SMILE_EINVAL);
    assert_int_equal(ami_timestamp_parse(STR_LIT("1."), &ms), SMILE_EINVAL);
    assert_int_equal(ami_timestamp_parse(STR_LIT(".5"), &ms), SMILE_EINVAL);
    assert_int_equal(ami_timestamp_parse(STR_LIT(""), &ms), SMILE_EINVAL);
}

static json_t *
map_stream(const char *s, size_t n, int64_t received_ms)
{
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    struct ami_parser p;
    struct ami_packet pk;
    json_t *evs = json_array();

    ami_parser_init(&p);
    ami_parser_feed(&p, s, n);
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

static int64_t
ev_d(json_t *evs, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(json_array_get(evs, i), "data"), k));
}

/*
 * AMI Example 2 maps to offered, ringing (at AgentCalled), answered — with the SAME
 * source_ids as the queue_log lines of Example 1 give for the same facts.
 */
static void
test_map_same_keys_as_queue_log(void **state)
{
    static const char *const ql[] = {
        "1717392000|1717391993.1042|support|NONE|ENTERQUEUE||13812345678|1",
        "1717392027|1717391993.1042|support|PJSIP/8002|CONNECT|27|1717392020.1047|7", NULL};
    json_t *evs = map_stream(session, sizeof(session) - 1, 0), *qe = json_array();
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);

    (void)state;
    assert_int_equal(json_array_size(evs), 3);
    assert_string_equal(ev_s(evs, 0, "type"), "call.offered");
    /* Timestamp 1717392000.120455 → 05:20:00.120 UTC. */
    assert_string_equal(ev_s(evs, 0, "occurred_at"), "2024-06-03T05:20:00.120Z");
    assert_string_equal(ev_s(evs, 0, "customer"), "13812345678");
    assert_string_equal(ev_s(evs, 1, "type"), "call.ringing");
    assert_string_equal(ev_s(evs, 1, "occurred_at"), "2024-06-03T05:20:20.004Z");
    assert_string_equal(ev_s(evs, 2, "type"), "call.answered");
    assert_int_equal(ev_d(evs, 2, "holdtime_s"), 27);
    assert_int_equal(ev_d(evs, 2, "ringtime_s"), 7);
    for (int i = 0; ql[i]; i++) {
        struct qlog_line l;
        struct qlog_error e;

        assert_int_equal(qlog_line_parse(ql[i], strlen(ql[i]), &l, &e), SMILE_OK);
        pbx_map_qlog(m, &l, true, qe);
    }
    /* queue_log: offered, ringing (derived from CONNECT), answered. */
    assert_int_equal(json_array_size(qe), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(ev_s(evs, i, "type"), ev_s(qe, i, "type"));
        assert_string_equal(ev_s(evs, i, "source_id"), ev_s(qe, i, "source_id"));
    }
    json_decref(qe);
    json_decref(evs);
    pbx_map_free(m);
}

/* Missing Timestamp → receipt time; AgentRingNoAnswer without AgentCalled (start missed)
 * derives the start from RingTime ms; QueueCallerAbandon; AgentComplete; Hangup after. */
static void
test_map_receipt_time_and_rest(void **state)
{
    static const char s[] =
        "Event: AgentRingNoAnswer\r\nUniqueid: 9.1\r\nQueue: sales\r\nMemberName: Zhang Wei\r\n"
        "Interface: PJSIP/8101\r\nRingTime: 20000\r\n\r\n"
        "Event: QueueCallerAbandon\r\nUniqueid: 9.1\r\nQueue: sales\r\nPosition: 1\r\n"
        "OriginalPosition: 2\r\nHoldTime: 31\r\n\r\n"
        "Event: AgentConnect\r\nUniqueid: 9.2\r\nQueue: sales\r\nMemberName: Wang Fang\r\n"
        "RingTime: 3\r\nHoldTime: 10\r\nDestUniqueid: 9.3\r\n\r\n"
        "Event: AgentComplete\r\nUniqueid: 9.2\r\nQueue: sales\r\nMemberName: Wang Fang\r\n"
        "TalkTime: 60\r\nHoldTime: 10\r\nReason: agent\r\n\r\n"
        "Event: Hangup\r\nUniqueid: 9.2\r\nCause-txt: Normal Clearing\r\n\r\n"
        "Event: Newstate\r\nUniqueid: 9.4\r\n\r\n";
    /* No Timestamp: every event takes the receipt time 1717393520000. */
    json_t *evs = map_stream(s, sizeof(s) - 1, INT64_C(1717393520000));

    (void)state;
    /* ringing (Zhang Wei), its ring_ended, abandoned, ringing (Wang Fang, derived), answered,
     * ended; the Hangup after AgentComplete and the Newstate add nothing. */
    assert_int_equal(json_array_size(evs), 6);
    /* 1717393520000 − 20000 ms = 1717393500000 = 05:45:00Z. */
    assert_string_equal(ev_s(evs, 0, "occurred_at"), "2024-06-03T05:45:00.000Z");
    assert_string_equal(ev_s(evs, 0, "source_id"), "9.1|ringing|sales|Zhang Wei|1");
    /* The ring ended when AgentRingNoAnswer was received, 05:45:20Z; the same source_id as
     * queue_log's RINGNOANSWER line gives. */
    assert_string_equal(ev_s(evs, 1, "type"), "call.ring_ended");
    assert_string_equal(ev_s(evs, 1, "occurred_at"), "2024-06-03T05:45:20.000Z");
    assert_string_equal(ev_s(evs, 1, "source_id"), "9.1|ring_ended|sales|Zhang Wei|1");
    assert_string_equal(ev_s(evs, 2, "type"), "call.abandoned");
    assert_int_equal(ev_d(evs, 2, "waittime_s"), 31);
    assert_int_equal(ev_d(evs, 2, "orig_position"), 2);
    /* Wang Fang rang 3 s before the connect: 05:45:20 − 3 s = 05:45:17. */
    assert_string_equal(ev_s(evs, 3, "occurred_at"), "2024-06-03T05:45:17.000Z");
    assert_string_equal(ev_s(evs, 4, "type"), "call.answered");
    assert_string_equal(ev_s(evs, 5, "type"), "call.ended");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(evs, 5), "data"), "ended_by")),
                        "agent");
    assert_int_equal(ev_d(evs, 5, "talk_s"), 60);
    json_decref(evs);
}

/* A Hangup of an answered call whose AgentComplete never came ends it (ended_by hangup). */
static void
test_map_hangup_ends(void **state)
{
    static const char s[] =
        "Event: AgentConnect\r\nTimestamp: 100.0\r\nUniqueid: 7.1\r\nQueue: q\r\n"
        "MemberName: A\r\nRingTime: 1\r\nHoldTime: 5\r\n\r\n"
        "Event: Hangup\r\nTimestamp: 190.5\r\nUniqueid: 7.1\r\nCause-txt: Normal Clearing\r\n\r\n"
        "Event: AgentComplete\r\nTimestamp: 190.6\r\nUniqueid: 7.1\r\nQueue: q\r\n"
        "MemberName: A\r\nTalkTime: 90\r\nReason: caller\r\n\r\n";
    json_t *evs = map_stream(s, sizeof(s) - 1, 0);

    (void)state;
    /* ringing, answered, ended (from Hangup), ended again from AgentComplete with the SAME
     * key (the ledger keeps the first). */
    assert_int_equal(json_array_size(evs), 4);
    assert_string_equal(ev_s(evs, 2, "type"), "call.ended");
    /* talk: 190.5 − 100.0 = 90.5 s → 90 whole seconds. */
    assert_int_equal(ev_d(evs, 2, "talk_s"), 90);
    assert_string_equal(ev_s(evs, 2, "source_id"), "7.1|ended|q|1");
    assert_string_equal(ev_s(evs, 3, "source_id"), "7.1|ended|q|1");
    json_decref(evs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_whole),
        cmocka_unit_test(test_parse_every_split),
        cmocka_unit_test(test_parse_lf_and_odd_lines),
        cmocka_unit_test(test_parse_oversized),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_map_same_keys_as_queue_log),
        cmocka_unit_test(test_map_receipt_time_and_rest),
        cmocka_unit_test(test_map_hangup_ends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
