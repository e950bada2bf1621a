/*
 * test_queue_log.c — unit tests of the Asterisk queue_log parser (every event and version
 * variant of SOURCES.md §1.3–1.4, realtime rows, malformed lines) and of its mapping to
 * events (the worked examples of SOURCES.md §1.8). Expected values are worked out by hand
 * in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "intake/intake.h"

static int
parse(const char *s, struct qlog_line *l)
{
    struct qlog_error e;

    return qlog_line_parse(s, strlen(s), l, &e);
}

static const char *
perr(const char *s)
{
    static struct qlog_error e;
    struct qlog_line l;

    memset(&e, 0, sizeof(e));
    if (qlog_line_parse(s, strlen(s), &l, &e) == SMILE_OK)
        return NULL;
    return e.msg;
}

static bool
sveq(struct str v, const char *want)
{
    return str_eq(v, want);
}

/* Maps lines (NULL-terminated) through one mapper; returns the events array. */
static json_t *
map_lines(const char *const *lines, struct pbx_map *m)
{
    json_t *evs = json_array();

    for (int i = 0; lines[i]; i++) {
        struct qlog_line l;

        assert_int_equal(parse(lines[i], &l), SMILE_OK);
        pbx_map_qlog(m, &l, true, evs);
    }
    return evs;
}

static const char *
ev_s(json_t *evs, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(evs, i), k));
}

static int64_t
ev_at(json_t *evs, size_t i)
{
    int64_t ms = -1;
    const char *s = ev_s(evs, i, "occurred_at");

    assert_non_null(s);
    assert_int_equal(time_parse_rfc3339(s, strlen(s), &ms), SMILE_OK);
    return ms;
}

static int64_t
ev_d(json_t *evs, size_t i, const char *k)
{
    json_t *v = json_object_get(json_object_get(json_array_get(evs, i), "data"), k);

    return v ? json_integer_value(v) : -1;
}

static const char *
ev_ds(json_t *evs, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(evs, i), "data"), k));
}

static const char *
lookup(const char *agent, void *ud)
{
    (void)ud;
    return strcmp(agent, "PJSIP/8002") == 0 ? "lisi" : NULL;
}

/* SOURCES.md §1.8 Example 1: answered after one missed agent. */
static void
test_example1(void **state)
{
    static const char *const lines[] = {
        "1717392000|1717391993.1042|support|NONE|ENTERQUEUE||13812345678|1",
        "1717392015|1717391993.1042|support|PJSIP/8001|RINGNOANSWER|15000",
        "1717392027|1717391993.1042|support|PJSIP/8002|CONNECT|27|1717392020.1047|7",
        "1717392215|1717391993.1042|support|PJSIP/8002|COMPLETECALLER|27|188|1", NULL};
    struct pbx_map *m = pbx_map_new("asterisk", lookup, NULL);
    json_t *evs = map_lines(lines, m);

    (void)state;
    /* offered, ringing 8001, its ring_ended, ringing 8002 (derived from CONNECT), answered,
     * ended. */
    assert_int_equal(json_array_size(evs), 6);
    /* offered at the ENTERQUEUE second, the caller's number is the customer. */
    assert_string_equal(ev_s(evs, 0, "type"), "call.offered");
    assert_int_equal(ev_at(evs, 0), INT64_C(1717392000000));
    assert_string_equal(ev_s(evs, 0, "occurred_at"), "2024-06-03T05:20:00.000Z");
    assert_string_equal(ev_s(evs, 0, "subject"), "call:1717391993.1042");
    assert_string_equal(ev_s(evs, 0, "customer"), "13812345678");
    assert_string_equal(ev_s(evs, 0, "channel"), "phone");
    assert_string_equal(ev_s(evs, 0, "source"), "asterisk");
    assert_string_equal(ev_s(evs, 0, "source_id"), "1717391993.1042|offered|support|1");
    assert_null(ev_s(evs, 0, "actor"));
    assert_int_equal(ev_d(evs, 0, "position"), 1);
    /* 8001 rang 15000 ms up to 1717392015 → started at 1717392015000 − 15000 = 1717392000000. */
    assert_string_equal(ev_s(evs, 1, "type"), "call.ringing");
    assert_int_equal(ev_at(evs, 1), INT64_C(1717392000000));
    assert_int_equal(ev_d(evs, 1, "ring_ms"), 15000);
    assert_string_equal(ev_ds(evs, 1, "outcome"), "no_answer");
    /* Unmapped: data.agent and data.member both keep the raw member name, actor null. */
    assert_string_equal(ev_ds(evs, 1, "agent"), "PJSIP/8001");
    assert_string_equal(ev_ds(evs, 1, "member"), "PJSIP/8001");
    assert_null(ev_s(evs, 1, "actor")); /* unmapped */
    assert_string_equal(ev_s(evs, 1, "source_id"), "1717391993.1042|ringing|support|PJSIP/8001|1");
    /* ... and the end of that ring, at the RINGNOANSWER line's own second 1717392015. */
    assert_string_equal(ev_s(evs, 2, "type"), "call.ring_ended");
    assert_int_equal(ev_at(evs, 2), INT64_C(1717392015000));
    assert_string_equal(ev_ds(evs, 2, "outcome"), "no_answer");
    assert_int_equal(ev_d(evs, 2, "ring_ms"), 15000);
    assert_string_equal(ev_ds(evs, 2, "agent"), "PJSIP/8001");
    assert_string_equal(ev_s(evs, 2, "source_id"),
                        "1717391993.1042|ring_ended|support|PJSIP/8001|1");
    /* 8002 answered at 1717392027 after ringing 7 s → rang from 1717392020. */
    assert_string_equal(ev_s(evs, 3, "type"), "call.ringing");
    assert_int_equal(ev_at(evs, 3), INT64_C(1717392020000));
    assert_string_equal(ev_ds(evs, 3, "outcome"), "answered");
    assert_true(
        json_is_true(json_object_get(json_object_get(json_array_get(evs, 3), "data"), "derived")));
    assert_string_equal(ev_s(evs, 3, "actor"), "lisi");
    /* Mapped: data.agent is the username (what call.answered's actor is compared with by the
     * hotline's ring_at_agent step), data.member the PBX's name. */
    assert_string_equal(ev_ds(evs, 3, "agent"), "lisi");
    assert_string_equal(ev_ds(evs, 3, "member"), "PJSIP/8002");
    /* answered at 1717392027; holdtime 27 = 1717392027 − 1717392000 (ENTERQUEUE). */
    assert_string_equal(ev_s(evs, 4, "type"), "call.answered");
    assert_int_equal(ev_at(evs, 4), INT64_C(1717392027000));
    assert_int_equal(ev_d(evs, 4, "holdtime_s"), 27);
    assert_int_equal(ev_d(evs, 4, "ringtime_s"), 7);
    assert_string_equal(ev_ds(evs, 4, "member_uniqueid"), "1717392020.1047");
    assert_string_equal(ev_ds(evs, 4, "agent"), "lisi");
    assert_string_equal(ev_ds(evs, 4, "member"), "PJSIP/8002");
    assert_string_equal(ev_s(evs, 4, "actor"), "lisi");
    assert_string_equal(ev_s(evs, 4, "source_id"), "1717391993.1042|answered|support|1");
    /* ended by the caller at 1717392215 = 1717392027 + 188 s of talk. */
    assert_string_equal(ev_s(evs, 5, "type"), "call.ended");
    assert_int_equal(ev_at(evs, 5), INT64_C(1717392215000));
    assert_int_equal(ev_d(evs, 5, "talk_s"), 188);
    assert_string_equal(ev_ds(evs, 5, "ended_by"), "caller");
    /* PJSIP/8001 is reported unmapped once per event naming it: its ring and the ring's end. */
    assert_int_equal(json_integer_value(json_object_get(pbx_map_unmapped(m), "PJSIP/8001")), 2);
    json_decref(evs);
    pbx_map_free(m);
}

/* Example 2: abandoned after one no-answer and one cancelled ring (15+). */
static void
test_example2(void **state)
{
    static const char *const lines[] = {
        "1717393500|1717393488.1101|sales|NONE|ENTERQUEUE||13900001111|2",
        "1717393520|1717393488.1101|sales|Zhang Wei|RINGNOANSWER|20000",
        "1717393531|1717393488.1101|sales|Wang Fang|RINGCANCELED|6240",
        "1717393531|1717393488.1101|sales|NONE|ABANDON|1|2|31", NULL};
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    json_t *evs = map_lines(lines, m);

    (void)state;
    assert_int_equal(json_array_size(evs), 6);
    assert_string_equal(ev_s(evs, 0, "customer"), "13900001111");
    assert_int_equal(ev_d(evs, 0, "position"), 2);
    /* Zhang Wei: 1717393520000 − 20000 = 1717393500000 (rung at once). */
    assert_int_equal(ev_at(evs, 1), INT64_C(1717393500000));
    assert_string_equal(ev_s(evs, 1, "source_id"), "1717393488.1101|ringing|sales|Zhang Wei|1");
    /* Wang Fang: 1717393531000 − 6240 = 1717393524760, cancelled by the caller. */
    assert_int_equal(ev_at(evs, 3), INT64_C(1717393524760));
    assert_string_equal(ev_ds(evs, 3, "outcome"), "canceled");
    /* Each ring's end at its line's second: Zhang Wei 1717393520, Wang Fang 1717393531. */
    assert_string_equal(ev_s(evs, 2, "type"), "call.ring_ended");
    assert_int_equal(ev_at(evs, 2), INT64_C(1717393520000));
    assert_string_equal(ev_ds(evs, 2, "outcome"), "no_answer");
    assert_string_equal(ev_s(evs, 4, "type"), "call.ring_ended");
    assert_int_equal(ev_at(evs, 4), INT64_C(1717393531000));
    assert_string_equal(ev_ds(evs, 4, "outcome"), "canceled");
    assert_int_equal(ev_d(evs, 4, "ring_ms"), 6240);
    /* abandoned after 31 s (= 1717393531 − 1717393500) at position 1, entered at 2. */
    assert_string_equal(ev_s(evs, 5, "type"), "call.abandoned");
    assert_string_equal(ev_ds(evs, 5, "reason"), "abandon");
    assert_int_equal(ev_d(evs, 5, "waittime_s"), 31);
    assert_int_equal(ev_d(evs, 5, "position"), 1);
    assert_int_equal(ev_d(evs, 5, "orig_position"), 2);
    json_decref(evs);
    pbx_map_free(m);
}

/* Example 3: realtime rows in CST (UTC+8, queue_log_realtime_use_gmt = no). */
static void
test_example3_rows(void **state)
{
    struct qlog_row rows[] = {
        {"2024-06-03 10:00:00.104233", "MANAGER", "support", "PJSIP/8001", "ADDMEMBER", {0}, 0},
        {"2024-06-03 10:00:05.551020",
         "NONE",
         "NONE",
         "PJSIP/8001",
         "PAUSEALL",
         {"lunch", "", "", "", ""},
         0},
        {"2024-06-03 10:00:05.551391",
         "NONE",
         "support",
         "PJSIP/8001",
         "PAUSE",
         {"lunch", NULL, NULL, NULL, NULL},
         0},
        {"2024-06-03 13:58:20.006110",
         "1717393995.1200",
         "support",
         "NONE",
         "EXITWITHTIMEOUT",
         {"1", "1", "300", "", ""},
         0},
    };
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    json_t *evs = json_array();
    struct buf scratch;
    struct qlog_line l;
    struct qlog_error e;
    enum pbx_outcome o[4];

    (void)state;
    buf_init(&scratch, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(qlog_row_parse(&rows[i], 8 * 3600, &scratch, &l, &e), SMILE_OK);
        o[i] = pbx_map_qlog(m, &l, true, evs);
        if (i == 0) {
            /* 10:00:00.104233 CST = 02:00:00.104 UTC; 2024-06-03T00:00Z is day 19877 →
             * 19877 × 86400 = 1717372800 s, + 7200 s = 1717380000 s, + 104 ms. */
            assert_int_equal(l.at_ms, INT64_C(1717380000104));
            assert_int_equal(l.epoch_s, INT64_C(1717380000));
            assert_false(l.paused);
        }
        if (i == 3) {
            /* 13:58:20.006 CST = 05:58:20.006 UTC = 1717372800 + 21500 s. */
            assert_int_equal(l.at_ms, INT64_C(1717394300006));
            assert_int_equal(l.waittime_s, 300);
        }
    }
    /* ADDMEMBER → agent.login; PAUSEALL ignored (the per-queue PAUSE follows);
     * PAUSE → agent.paused; EXITWITHTIMEOUT → call.abandoned (reason timeout). */
    assert_int_equal(o[0], PBX_MAPPED);
    assert_int_equal(o[1], PBX_IGNORED);
    assert_int_equal(o[2], PBX_MAPPED);
    assert_int_equal(o[3], PBX_MAPPED);
    assert_int_equal(json_array_size(evs), 3);
    assert_string_equal(ev_s(evs, 0, "type"), "agent.login");
    assert_string_equal(ev_s(evs, 0, "subject"), "agent:PJSIP/8001");
    assert_string_equal(ev_ds(evs, 0, "via"), "ADDMEMBER");
    assert_string_equal(ev_s(evs, 0, "source_id"),
                        "agent|1717380000|ADDMEMBER|PJSIP/8001|support|1");
    assert_string_equal(ev_s(evs, 1, "type"), "agent.paused");
    assert_string_equal(ev_ds(evs, 1, "reason"), "lunch");
    assert_int_equal(ev_at(evs, 1), INT64_C(1717380005551));
    assert_string_equal(ev_s(evs, 2, "type"), "call.abandoned");
    assert_string_equal(ev_ds(evs, 2, "reason"), "timeout");
    assert_int_equal(ev_at(evs, 2), INT64_C(1717394300006));
    /* GMT rows: offset 0. */
    assert_int_equal(qlog_row_parse(&rows[0], 0, &scratch, &l, &e), SMILE_OK);
    assert_int_equal(l.at_ms, INT64_C(1717408800104)); /* 10:00 UTC = 1717372800 + 36000 */
    /* The 5th data column keeps the unsplit remainder (ATTENDEDTRANSFER LINK). */
    {
        struct qlog_row r = {"2024-06-03 10:00:00",
                             "1.2",
                             "support",
                             "PJSIP/8001",
                             "ATTENDEDTRANSFER",
                             {"LINK", "PJSIP/a-1", "PJSIP/b-2", "12", "30|1"},
                             0};

        assert_int_equal(qlog_row_parse(&r, 0, &scratch, &l, &e), SMILE_OK);
        assert_int_equal(l.nfields, 6);
        assert_int_equal(l.holdtime_s, 12);
        assert_int_equal(l.calltime_s, 30);
        assert_int_equal(l.orig_position, 1);
        assert_true(sveq(l.method_data2, "PJSIP/b-2"));
    }
    /* The single `data` column layout. */
    {
        struct qlog_row r = {"2024-06-03 10:00:00", "1.2",         "q", "NONE",
                             "ENTERQUEUE",          {"|138|3", 0}, true};

        assert_int_equal(qlog_row_parse(&r, 0, &scratch, &l, &e), SMILE_OK);
        assert_true(sveq(l.caller_num, "138"));
        assert_int_equal(l.position, 3);
    }
    /* A bad time is refused. */
    {
        struct qlog_row r = {"2024-06-31 10:00:00", "1", "q", "a", "PAUSE", {0}, 0};

        assert_int_equal(qlog_row_parse(&r, 0, &scratch, &l, &e), SMILE_EINVAL);
        assert_non_null(strstr(e.msg, "bad time"));
    }
    buf_free(&scratch);
    json_decref(evs);
    pbx_map_free(m);
}

/* Every event and its version variants. */
static void
test_every_event(void **state)
{
    struct qlog_line l;

    (void)state;
    /* ENTERQUEUE: 1.4 (url|callerid), 3 fields, 4 fields with a name that contains '|'
     * (never in practice: Asterisk turns it into '_', but free text must survive). */
    assert_int_equal(parse("1|c|q|NONE|ENTERQUEUE||138", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_ENTERQUEUE);
    assert_int_equal(l.position, -1);
    assert_int_equal(parse("1|c|q|NONE|ENTERQUEUE|u|138|4", &l), SMILE_OK);
    assert_true(sveq(l.url, "u"));
    assert_int_equal(l.position, 4);
    assert_int_equal(l.caller_name.len, 0);
    assert_int_equal(parse("1|c|q|NONE|ENTERQUEUE||138|4|Chen Jie|x", &l), SMILE_OK);
    assert_true(sveq(l.caller_name, "Chen Jie|x"));
    assert_int_equal(l.version, 5);
    /* RINGNOANSWER / RINGCANCELED: ms. */
    assert_int_equal(parse("1|c|q|a|RINGNOANSWER|15000", &l), SMILE_OK);
    assert_int_equal(l.ring_ms, 15000);
    assert_int_equal(parse("1|c|q|a|RINGCANCELED|6240", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_RINGCANCELED);
    assert_int_equal(l.ring_ms, 6240);
    /* CONNECT 1.4 (2 fields) and 1.6+ (3). */
    assert_int_equal(parse("1|c|q|a|CONNECT|5|9.9", &l), SMILE_OK);
    assert_int_equal(l.version, 14);
    assert_int_equal(l.holdtime_s, 5);
    assert_int_equal(l.ringtime_s, -1);
    assert_true(sveq(l.member_uniqueid, "9.9"));
    assert_int_equal(parse("1|c|q|a|CONNECT|5|9.9|3", &l), SMILE_OK);
    assert_int_equal(l.version, 16);
    assert_int_equal(l.ringtime_s, 3);
    /* COMPLETEAGENT / COMPLETECALLER. */
    assert_int_equal(parse("1|c|q|a|COMPLETEAGENT|5|60|2", &l), SMILE_OK);
    assert_int_equal(l.calltime_s, 60);
    assert_int_equal(l.orig_position, 2);
    assert_int_equal(parse("1|c|q|a|COMPLETECALLER|5|61", &l), SMILE_OK);
    assert_int_equal(l.calltime_s, 61);
    /* ABANDON, EXITWITHTIMEOUT, EXITEMPTY: position|origposition|waittime. */
    assert_int_equal(parse("1|c|q|NONE|ABANDON|1|2|31", &l), SMILE_OK);
    assert_int_equal(l.waittime_s, 31);
    assert_int_equal(parse("1|c|q|NONE|EXITWITHTIMEOUT|1|1|300", &l), SMILE_OK);
    assert_int_equal(parse("1|c|q|NONE|EXITEMPTY|3|3|0", &l), SMILE_OK);
    assert_int_equal(l.position, 3);
    /* EXITWITHKEY: key first; old form key|position. */
    assert_int_equal(parse("1|c|q|NONE|EXITWITHKEY|5|1|2|40", &l), SMILE_OK);
    assert_true(sveq(l.key, "5"));
    assert_int_equal(l.waittime_s, 40);
    assert_int_equal(parse("1|c|q|NONE|EXITWITHKEY|#|1", &l), SMILE_OK);
    assert_int_equal(l.waittime_s, -1);
    /* WITHDRAW: info is free text. */
    assert_int_equal(parse("1|c|q|NONE|WITHDRAW|1|1|12|moved to vip|urgent", &l), SMILE_OK);
    assert_true(sveq(l.text, "moved to vip|urgent"));
    /* AGENTDUMP, SYSCOMPAT: no data. */
    assert_int_equal(parse("1|c|q|a|AGENTDUMP|", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_AGENTDUMP);
    assert_int_equal(parse("1|c|q|a|SYSCOMPAT", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_SYSCOMPAT);
    /* TRANSFER 1.4 (4) and 1.6–11 (5); BLINDTRANSFER. */
    assert_int_equal(parse("1|c|q|a|TRANSFER|200|ctx|5|60", &l), SMILE_OK);
    assert_int_equal(l.version, 14);
    assert_int_equal(parse("1|c|q|a|TRANSFER|200|ctx|5|60|1", &l), SMILE_OK);
    assert_int_equal(l.version, 16);
    assert_int_equal(parse("1|c|q|a|BLINDTRANSFER|200|ctx|5|60|1", &l), SMILE_OK);
    assert_true(sveq(l.extension, "200"));
    assert_true(sveq(l.context, "ctx"));
    /* ATTENDEDTRANSFER BRIDGE / APP (5) and LINK (6). */
    assert_int_equal(parse("1|c|q|a|ATTENDEDTRANSFER|BRIDGE|b-123|5|60|1", &l), SMILE_OK);
    assert_true(sveq(l.method, "BRIDGE"));
    assert_true(sveq(l.method_data1, "b-123"));
    assert_int_equal(l.calltime_s, 60);
    assert_int_equal(parse("1|c|q|a|ATTENDEDTRANSFER|APP|Voicemail|5|60|1", &l), SMILE_OK);
    assert_int_equal(parse("1|c|q|a|ATTENDEDTRANSFER|LINK|PJSIP/a|PJSIP/b|7|61|2", &l), SMILE_OK);
    assert_int_equal(l.holdtime_s, 7);
    assert_int_equal(l.calltime_s, 61);
    assert_int_equal(l.orig_position, 2);
    /* ADDMEMBER paused or not; REMOVEMEMBER with the trailing '|'. */
    assert_int_equal(parse("1|MANAGER|q|PJSIP/8001|ADDMEMBER|PAUSED", &l), SMILE_OK);
    assert_true(l.paused);
    assert_int_equal(parse("1|CLI|q|PJSIP/8001|ADDMEMBER|", &l), SMILE_OK);
    assert_false(l.paused);
    assert_int_equal(parse("1|CLI|q|PJSIP/8001|REMOVEMEMBER|", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_REMOVEMEMBER);
    /* PAUSE family: the reason is free text, '|' kept. */
    assert_int_equal(parse("1|NONE|q|a|PAUSE|lunch|with team", &l), SMILE_OK);
    assert_true(sveq(l.text, "lunch|with team"));
    assert_int_equal(parse("1|NONE|q|a|UNPAUSE|", &l), SMILE_OK);
    assert_int_equal(l.text.len, 0);
    assert_int_equal(parse("1|NONE|NONE|a|PAUSEALL|x", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_PAUSEALL);
    assert_int_equal(parse("1|NONE|NONE|a|UNPAUSEALL|", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_UNPAUSEALL);
    /* PENALTY, RINGINUSE. */
    assert_int_equal(parse("1|NONE|q|a|PENALTY|3", &l), SMILE_OK);
    assert_int_equal(l.penalty, 3);
    assert_int_equal(parse("1|NONE|q|a|RINGINUSE|1", &l), SMILE_OK);
    assert_int_equal(l.ringinuse, 1);
    /* AGENTLOGIN ≤ 11 ("Agent/1001") and 12+ ("1001"); AGENTLOGOFF. */
    assert_int_equal(parse("1|1.5|NONE|Agent/1001|AGENTLOGIN|SIP/1001-0001", &l), SMILE_OK);
    assert_true(sveq(l.agent, "Agent/1001"));
    assert_true(sveq(l.channel, "SIP/1001-0001"));
    assert_int_equal(parse("1|1.5|NONE|1001|AGENTLOGIN|PJSIP/1001-0001", &l), SMILE_OK);
    assert_int_equal(parse("1|1.5|NONE|1001|AGENTLOGOFF|PJSIP/1001-0001|3600", &l), SMILE_OK);
    assert_int_equal(l.logintime_s, 3600);
    /* AGENTCALLBACKLOGIN/LOGOFF (≤ 1.4). */
    assert_int_equal(parse("1|NONE|NONE|Agent/1001|AGENTCALLBACKLOGIN|1001@agents", &l), SMILE_OK);
    assert_true(sveq(l.extension, "1001@agents"));
    assert_int_equal(
        parse("1|NONE|NONE|Agent/1001|AGENTCALLBACKLOGOFF|1001@agents|120|Autologoff", &l),
        SMILE_OK);
    assert_int_equal(l.logintime_s, 120);
    assert_true(sveq(l.text, "Autologoff"));
    /* QUEUESTART, CONFIGRELOAD: every column NONE. */
    assert_int_equal(parse("1|NONE|NONE|NONE|QUEUESTART|", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_QUEUESTART);
    assert_int_equal(parse("1|NONE|NONE|NONE|CONFIGRELOAD|", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_CONFIGRELOAD);
    /* OUTCALL: status|talktime|params. */
    assert_int_equal(parse("1|c|q|a|OUTCALL|ANSWER|42|x|y", &l), SMILE_OK);
    assert_true(sveq(l.status, "ANSWER"));
    assert_int_equal(l.talktime_s, 42);
    assert_true(sveq(l.text, "x|y"));
    /* Custom: kept as free text. */
    assert_int_equal(parse("1|c|q|a|SURVEY|score|5|of 5", &l), SMILE_OK);
    assert_int_equal(l.kind, QLOG_CUSTOM);
    assert_true(sveq(l.text, "score|5|of 5"));
    /* CRLF and the five columns exactly. */
    assert_int_equal(parse("1717392000|c|q|a|PAUSE|r\r\n", &l), SMILE_OK);
    assert_true(sveq(l.text, "r"));
    assert_int_equal(l.at_ms, INT64_C(1717392000000));
}

static void
test_malformed(void **state)
{
    (void)state;
    assert_non_null(strstr(perr("abc|c|q|a|PAUSE|x"), "bad epoch"));
    assert_non_null(strstr(perr("-5|c|q|a|PAUSE|x"), "bad epoch"));
    assert_non_null(strstr(perr("|c|q|a|PAUSE|x"), "bad epoch"));
    assert_non_null(strstr(perr("1717392000|c|q"), "too few columns"));
    assert_non_null(strstr(perr(""), "too few columns"));
    assert_non_null(strstr(perr("1|c|q|a||x"), "empty event"));
    assert_non_null(strstr(perr("1|c|q|a|CONNECT|x|1.2|3"), "holdtime is not a number"));
    assert_non_null(strstr(perr("1|c|q|a|CONNECT"), "missing holdtime"));
    assert_non_null(strstr(perr("1|c|q|a|RINGNOANSWER|"), "missing ring time"));
    assert_non_null(strstr(perr("1|c|q|a|RINGNOANSWER|15s"), "not a number"));
    assert_non_null(strstr(perr("1|c|q|NONE|ABANDON|1|2"), "missing waittime"));
    assert_non_null(strstr(perr("1|c|q|a|ATTENDEDTRANSFER|BRIDGE|5|60|1"), "5 or 6"));
    assert_non_null(strstr(perr("1|c|q|NONE|ENTERQUEUE|"), "ENTERQUEUE"));
    assert_non_null(strstr(perr("1|c|q|a|PENALTY|high"), "penalty"));
}

/* Idempotency keys: a re-entered queue, a member rung twice, repeated agent lines. */
static void
test_keys(void **state)
{
    static const char *const lines[] = {
        "100|c1|q|NONE|ENTERQUEUE||1|1",
        "115|c1|q|A|RINGNOANSWER|15000",
        "135|c1|q|A|RINGNOANSWER|15000", /* A again: attempt 2, same duration */
        "140|c1|q|NONE|EXITWITHTIMEOUT|1|1|40",
        "141|c1|q|NONE|ENTERQUEUE||1|1", /* back into the same queue: entry 2 */
        "150|c1|q|A|CONNECT|9|2.2|4",    /* A's third attempt, answered */
        "150|NONE|q|A|PAUSE|x",
        "150|NONE|q|A|PAUSE|x", /* the same line twice in one second: k = 2 */
        NULL};
    struct pbx_map *m = pbx_map_new("pbx1", NULL, NULL);
    json_t *evs = map_lines(lines, m), *again;
    struct pbx_map *m2;

    (void)state;
    assert_int_equal(json_array_size(evs), 11);
    assert_string_equal(ev_s(evs, 0, "source_id"), "c1|offered|q|1");
    assert_string_equal(ev_s(evs, 1, "source_id"), "c1|ringing|q|A|1");
    assert_string_equal(ev_s(evs, 2, "source_id"), "c1|ring_ended|q|A|1");
    assert_string_equal(ev_s(evs, 3, "source_id"), "c1|ringing|q|A|2");
    assert_string_equal(ev_s(evs, 4, "source_id"), "c1|ring_ended|q|A|2");
    assert_string_equal(ev_s(evs, 5, "source_id"), "c1|abandoned|q|1");
    assert_string_equal(ev_s(evs, 6, "source_id"), "c1|offered|q|2");
    assert_string_equal(ev_s(evs, 7, "source_id"), "c1|ringing|q|A|3");
    /* 150000 − 4 s = 146000 */
    assert_int_equal(ev_at(evs, 7), 146000);
    assert_string_equal(ev_s(evs, 8, "source_id"), "c1|answered|q|2");
    assert_string_equal(ev_s(evs, 9, "source_id"), "agent|150|PAUSE|A|q|1");
    assert_string_equal(ev_s(evs, 10, "source_id"), "agent|150|PAUSE|A|q|2");
    assert_string_equal(ev_s(evs, 10, "source"), "pbx1");
    /* A fresh mapper over the same lines gives the same keys (re-import = duplicates). */
    m2 = pbx_map_new("pbx1", NULL, NULL);
    again = map_lines(lines, m2);
    for (size_t i = 0; i < json_array_size(evs); i++)
        assert_string_equal(ev_s(evs, i, "source_id"), ev_s(again, i, "source_id"));
    /* Pruning forgets calls idle longer than the limit. */
    assert_int_equal(pbx_map_calls(m2), 1);
    pbx_map_prune(m2, 150000 + 10001, 10000);
    assert_int_equal(pbx_map_calls(m2), 0);
    json_decref(again);
    json_decref(evs);
    pbx_map_free(m2);
    pbx_map_free(m);
}

/* Warm-up: replaying lines without emitting restores the counters (--follow restart). */
static void
test_warmup(void **state)
{
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    json_t *evs = json_array();
    struct qlog_line l;

    (void)state;
    assert_int_equal(parse("115|c1|q|A|RINGNOANSWER|15000", &l), SMILE_OK);
    pbx_map_qlog(m, &l, false, evs);
    assert_int_equal(json_array_size(evs), 0);
    assert_int_equal(parse("135|c1|q|A|RINGNOANSWER|15000", &l), SMILE_OK);
    pbx_map_qlog(m, &l, true, evs);
    assert_string_equal(ev_s(evs, 0, "source_id"), "c1|ringing|q|A|2");
    json_decref(evs);
    pbx_map_free(m);
}

/* Mapping of the remaining kinds to types; ignored and unknown records. */
static void
test_types(void **state)
{
    static const struct {
        const char *line;
        enum pbx_outcome o;
        const char *type;
        const char *k, *v;
    } t[] = {
        {"1|c|q|NONE|EXITEMPTY|1|1|0", PBX_MAPPED, "call.abandoned", "reason", "empty"},
        {"1|c|q|NONE|EXITWITHKEY|5|1|1|3", PBX_MAPPED, "call.abandoned", "reason", "key"},
        {"1|c|q|NONE|WITHDRAW|1|1|3|vip", PBX_MAPPED, "call.abandoned", "info", "vip"},
        {"1|c|q|a|COMPLETEAGENT|1|2|1", PBX_MAPPED, "call.ended", "ended_by", "agent"},
        {"1|c|q|a|TRANSFER|200|ctx|1|2", PBX_MAPPED, "call.transferred", "kind", "transfer"},
        {"1|c|q|a|BLINDTRANSFER|200|ctx|1|2|1", PBX_MAPPED, "call.transferred", "extension", "200"},
        {"1|c|q|a|ATTENDEDTRANSFER|APP|Dial|1|2|1", PBX_MAPPED, "call.transferred", "method",
         "APP"},
        {"1|CLI|q|a|REMOVEMEMBER|", PBX_MAPPED, "agent.logout", "via", "REMOVEMEMBER"},
        {"1|NONE|q|a|UNPAUSE|back", PBX_MAPPED, "agent.unpaused", "reason", "back"},
        {"1|1.1|NONE|Agent/7|AGENTLOGIN|SIP/7-1", PBX_MAPPED, "agent.login", "channel", "SIP/7-1"},
        {"1|1.1|NONE|7|AGENTLOGOFF|SIP/7-1|60", PBX_MAPPED, "agent.logout", "via", "AGENTLOGOFF"},
        {"1|NONE|NONE|Agent/7|AGENTCALLBACKLOGIN|7@a", PBX_MAPPED, "agent.login", "extension",
         "7@a"},
        {"1|NONE|NONE|Agent/7|AGENTCALLBACKLOGOFF|7@a|9|x", PBX_MAPPED, "agent.logout", "reason",
         "x"},
        {"1|NONE|NONE|a|PAUSEALL|x", PBX_IGNORED, NULL, NULL, NULL},
        {"1|NONE|q|a|PENALTY|1", PBX_IGNORED, NULL, NULL, NULL},
        {"1|NONE|q|a|RINGINUSE|0", PBX_IGNORED, NULL, NULL, NULL},
        {"1|NONE|NONE|NONE|QUEUESTART|", PBX_IGNORED, NULL, NULL, NULL},
        {"1|NONE|NONE|NONE|CONFIGRELOAD|", PBX_IGNORED, NULL, NULL, NULL},
        {"1|c|q|a|AGENTDUMP|", PBX_IGNORED, NULL, NULL, NULL},
        {"1|c|q|a|SYSCOMPAT|", PBX_IGNORED, NULL, NULL, NULL},
        {"1|c|q|a|OUTCALL|ANSWER|3|x", PBX_IGNORED, NULL, NULL, NULL},
        {"1|c|q|a|MYSURVEY|5", PBX_UNKNOWN, NULL, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
        json_t *evs = json_array();
        struct qlog_line l;

        assert_int_equal(parse(t[i].line, &l), SMILE_OK);
        assert_int_equal(pbx_map_qlog(m, &l, true, evs), t[i].o);
        if (t[i].type) {
            assert_int_equal(json_array_size(evs), 1);
            assert_string_equal(ev_s(evs, 0, "type"), t[i].type);
            assert_string_equal(ev_ds(evs, 0, t[i].k), t[i].v);
        } else {
            assert_int_equal(json_array_size(evs), 0);
        }
        json_decref(evs);
        pbx_map_free(m);
    }
}

/* "Agent/1001" (≤ 11) and "1001" (12+) find the same mapping. */
static void
test_agent_lookup(void **state)
{
    json_t *map = json_pack("{s:s, s:s}", "1001", "wangfang", "Agent/2002", "liming");

    (void)state;
    assert_string_equal(intake_agent_lookup("1001", map), "wangfang");
    assert_string_equal(intake_agent_lookup("Agent/1001", map), "wangfang");
    assert_string_equal(intake_agent_lookup("2002", map), "liming");
    assert_null(intake_agent_lookup("3003", map));
    json_decref(map);
}

/* Invalid UTF-8 in free text does not lose the event. */
static void
test_bad_utf8(void **state)
{
    struct pbx_map *m = pbx_map_new("asterisk", NULL, NULL);
    json_t *evs = json_array();
    struct qlog_line l;

    (void)state;
    assert_int_equal(parse("1|NONE|q|a|PAUSE|caf\xe9", &l), SMILE_OK);
    pbx_map_qlog(m, &l, true, evs);
    assert_string_equal(ev_ds(evs, 0, "reason"), "caf?");
    json_decref(evs);
    pbx_map_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example1),      cmocka_unit_test(test_example2),
        cmocka_unit_test(test_example3_rows), cmocka_unit_test(test_every_event),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_keys),
        cmocka_unit_test(test_warmup),        cmocka_unit_test(test_types),
        cmocka_unit_test(test_agent_lookup),  cmocka_unit_test(test_bad_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
