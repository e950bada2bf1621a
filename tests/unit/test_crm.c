/*
 * test_crm.c — unit tests of the pure parts of src/crm: phone normalisation, e-mail
 * checks, resident ID numbers (GB 11643 check character) and their masks, the case
 * state machine, and list cursors. Expected values are worked out by hand in comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/api_crm.h"
#include "crm/crm.h"
#include "http/http.h"
#include "runtime/runtime.h"
#include "store/store.h"

static void
phone_ok(const char *in, const char *want)
{
    char out[CRM_PHONE_MAX + 1];
    struct smile_err err;

    smile_err_clear(&err);
    if (crm_phone_normalise(in, out, &err) != SMILE_OK)
        fail_msg("'%s' refused: %s", in, err.msg);
    assert_string_equal(out, want);
}

static void
phone_bad(const char *in)
{
    char out[CRM_PHONE_MAX + 1];
    struct smile_err err;

    smile_err_clear(&err);
    if (crm_phone_normalise(in, out, &err) == SMILE_OK)
        fail_msg("'%s' accepted as %s", in, out);
    assert_true(err.msg[0] != '\0');
}

static void
test_phone_normalise(void **state)
{
    (void)state;
    /* Mobiles: 11 digits 1[3-9]…; separators dropped, +86 / 0086 prefix removed. */
    phone_ok("13800138000", "13800138000");
    phone_ok("138 0013 8000", "13800138000");
    phone_ok("+86 138-0013-8000", "13800138000");
    phone_ok("+86(138)00138000", "13800138000");
    phone_ok("0086 13800138000", "13800138000");
    phone_ok("  19912345678", "19912345678");
    /* Landlines keep their area code: 010 + 8 digits = 11; 0755 + 8 digits = 12. */
    phone_ok("010-12345678", "01012345678");
    phone_ok("(010) 1234-5678", "01012345678");
    phone_ok("0755 8888 9999", "075588889999");
    phone_ok("021-6666.7777", "02166667777");
    /* After +86 the area code's leading 0 is dropped by convention and restored here:
     * "+86 10 12345678" → "0" + "1012345678" = "01012345678". */
    phone_ok("+86 10 12345678", "01012345678");
    phone_ok("+86 755 88889999", "075588889999");
    /* Service numbers 400/800 + 7 digits = 10 digits. */
    phone_ok("400-123-4567", "4001234567");
    phone_ok("800 123 4567", "8001234567");
    /* Foreign numbers stay E.164: '+' and 8–15 digits. */
    phone_ok("+44 20 7946 0958", "+442079460958");
    phone_ok("+1 (415) 555-2671", "+14155552671");

    phone_bad("");
    phone_bad("   ");
    phone_bad("12345678");     /* local number without its area code */
    phone_bad("1380013800");   /* 10 digits: a mobile has 11 */
    phone_bad("138001380001"); /* 12 digits starting with 1 */
    phone_bad("12800138000");  /* 12… is no mobile prefix */
    phone_bad("13800l38000");  /* letter l for digit 1 */
    phone_bad("138-0013-8000 ext 12");
    phone_bad("0123456789");  /* 01 is only valid as 010 */
    phone_bad("0101234567");  /* 010 + 7 digits: Beijing numbers have 8 */
    phone_bad("+1234567");    /* 7 digits after + */
    phone_bad("+0441234567"); /* a country code does not start with 0 */
    phone_bad("++8613800138000");
    phone_bad("+86");
}

static void
email_ok(const char *in, const char *want)
{
    char out[CRM_EMAIL_MAX + 1];
    struct smile_err err;

    smile_err_clear(&err);
    if (crm_email_normalise(in, out, &err) != SMILE_OK)
        fail_msg("'%s' refused: %s", in, err.msg);
    assert_string_equal(out, want);
}

static void
email_bad(const char *in)
{
    char out[CRM_EMAIL_MAX + 1];
    struct smile_err err;

    smile_err_clear(&err);
    if (crm_email_normalise(in, out, &err) == SMILE_OK)
        fail_msg("'%s' accepted as %s", in, out);
}

static void
test_email(void **state)
{
    char longlocal[80];

    (void)state;
    /* Only the domain is lower-cased; the local part is the mailbox owner's business. */
    email_ok("Zhang.San@Example.COM", "Zhang.San@example.com");
    email_ok("li+crm@mail.qq.com", "li+crm@mail.qq.com");
    email_ok("a@b-c.cn", "a@b-c.cn");
    email_bad("");
    email_bad("zhang");
    email_bad("@example.com");
    email_bad("zhang@");
    email_bad("zhang@localhost"); /* no dot */
    email_bad("zhang san@example.com");
    email_bad("zhang@exa mple.com");
    email_bad("zhang@-example.com");
    email_bad("zhang@example-.com");
    email_bad("zhang@example..com");
    email_bad(".zhang@example.com");
    email_bad("zhang.@example.com");
    email_bad("zhang@example.c");   /* one-letter top-level domain */
    email_bad("zhang@example.c0m"); /* digit in the top-level domain */
    email_bad("<zhang@example.com>");
    /* 65 characters before '@' is one too many. */
    memset(longlocal, 'a', 65);
    memcpy(longlocal + 65, "@x.cn", 6);
    email_bad(longlocal);
    longlocal[1] = '@';
    longlocal[2] = '\0';
    email_bad(longlocal);
}

static void
test_id_number(void **state)
{
    char out[19], m[32];
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    /*
     * 11010519491231002X: the digits 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 times the weights
     * 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 are
     *   7 + 9 + 0 + 5 + 0 + 20 + 2 + 9 + 24 + 27 + 7 + 18 + 30 + 5 + 0 + 0 + 4 = 167;
     * 167 = 15 × 11 + 2, and position 2 of "10X98765432" is 'X'. Valid.
     */
    assert_int_equal(crm_id_number_check("11010519491231002"), 'X');
    assert_int_equal(crm_id_number_normalise("11010519491231002X", out, &err), SMILE_OK);
    assert_string_equal(out, "11010519491231002X");
    /* A lower-case x is accepted and stored upper-case. */
    assert_int_equal(crm_id_number_normalise("11010519491231002x", out, &err), SMILE_OK);
    assert_string_equal(out, "11010519491231002X");
    /*
     * 440308199901011234: 4·7 + 4·9 + 0·10 + 3·5 + 0·8 + 8·4 + 1·2 + 9·1 + 9·6 + 9·3 +
     * 0·7 + 1·9 + 0·10 + 1·5 + 1·8 + 2·4 + 3·2 = 28+36+0+15+0+32+2+9+54+27+0+9+0+5+8+8+6
     * = 239 = 21 × 11 + 8; position 8 of "10X98765432" is '4'. Valid.
     */
    assert_int_equal(crm_id_number_check("44030819990101123"), '4');
    assert_int_equal(crm_id_number_normalise("440308199901011234", out, &err), SMILE_OK);
    /*
     * Hutool's example 51343620000320711X: 35+9+30+20+24+24+4+0+0+0+0+27+20+0+56+4+2
     * = 255 = 23 × 11 + 2 → 'X'. Valid.
     */
    assert_int_equal(crm_id_number_normalise("51343620000320711X", out, &err), SMILE_OK);

    /* Wrong check character (X expected, 1 given). */
    assert_int_equal(crm_id_number_normalise("110105194912310021", out, &err), SMILE_EINVAL);
    /* One digit changed: 440308199901011234 → …1334 changes the sum by (3-2)·4 = 4 → 243
     * = 22 × 11 + 1 → '0', not '4'. */
    assert_int_equal(crm_id_number_normalise("440308199901011334", out, &err), SMILE_EINVAL);
    /* 17 and 19 characters; letters; X not last; region code 0…; impossible dates. */
    assert_int_equal(crm_id_number_normalise("11010519491231002", out, &err), SMILE_EINVAL);
    assert_int_equal(crm_id_number_normalise("11010519491231002X1", out, &err), SMILE_EINVAL);
    assert_int_equal(crm_id_number_normalise("1101051949123100AX", out, &err), SMILE_EINVAL);
    assert_int_equal(crm_id_number_normalise("X10105194912310020", out, &err), SMILE_EINVAL);
    assert_int_equal(crm_id_number_normalise("010105194912310020", out, &err), SMILE_EINVAL);
    /* 1949-02-30 does not exist (whatever the check character). */
    assert_int_equal(crm_id_number_normalise("110105194902300020", out, &err), SMILE_EINVAL);
    /* 1850 is before 1900. */
    assert_int_equal(crm_id_number_normalise("110105185001010020", out, &err), SMILE_EINVAL);

    /* Mask: first 3, eleven '*', last 4 = 18 characters. */
    crm_id_number_mask("11010519491231002X", m, sizeof(m));
    assert_string_equal(m, "110***********002X");
    crm_id_number_mask("440308199901011234", m, sizeof(m));
    assert_string_equal(m, "440***********1234");
    assert_int_equal(strlen(m), 18);
}

static void
test_phone_mask(void **state)
{
    char m[32];

    (void)state;
    /* Mobile: first 3 + **** + last 4 (GB/T 35273 practice, Hutool's mobilePhone). */
    crm_phone_mask("13800138000", m, sizeof(m));
    assert_string_equal(m, "138****8000");
    /* Landline 01012345678 (11): first 4 "0101", 11 − 6 = 5 stars, last 2 "78". */
    crm_phone_mask("01012345678", m, sizeof(m));
    assert_string_equal(m, "0101*****78");
}

static void
test_case_state_machine(void **state)
{
    (void)state;
    assert_int_equal(crm_case_status_parse("new"), CRM_CASE_NEW);
    assert_int_equal(crm_case_status_parse("closed"), CRM_CASE_CLOSED);
    assert_int_equal(crm_case_status_parse("done"), -1);
    assert_int_equal(crm_case_status_parse(NULL), -1);
    assert_string_equal(crm_case_status_name(CRM_CASE_PENDING), "pending");

    /* The eight legal transitions of the table in case_state.c and their events; two of
     * them (taking a new case, resuming a pending one) are legal but emit nothing (""). */
    assert_string_equal(crm_case_transition_event(CRM_CASE_NEW, CRM_CASE_OPEN), "");
    assert_string_equal(crm_case_transition_event(CRM_CASE_NEW, CRM_CASE_RESOLVED),
                        "case.resolved");
    assert_string_equal(crm_case_transition_event(CRM_CASE_OPEN, CRM_CASE_PENDING), "case.pending");
    assert_string_equal(crm_case_transition_event(CRM_CASE_OPEN, CRM_CASE_RESOLVED),
                        "case.resolved");
    assert_string_equal(crm_case_transition_event(CRM_CASE_PENDING, CRM_CASE_OPEN), "");
    assert_string_equal(crm_case_transition_event(CRM_CASE_PENDING, CRM_CASE_RESOLVED),
                        "case.resolved");
    assert_string_equal(crm_case_transition_event(CRM_CASE_RESOLVED, CRM_CASE_OPEN),
                        "case.reopened");
    assert_string_equal(crm_case_transition_event(CRM_CASE_RESOLVED, CRM_CASE_CLOSED),
                        "case.closed");
    assert_null(crm_case_transition_event(CRM_CASE_NEW, CRM_CASE_CLOSED));

    /* Count: of the 5 × 5 = 25 pairs exactly those 8 are legal; staying put is not a
     * transition, closed is final, nothing returns to new. */
    {
        int legal = 0;

        for (int f = 0; f < CRM_CASE_NSTATUS; f++)
            for (int t = 0; t < CRM_CASE_NSTATUS; t++)
                legal += crm_case_transition_ok(f, t);
        assert_int_equal(legal, 8);
    }
    for (int s = 0; s < CRM_CASE_NSTATUS; s++) {
        assert_false(crm_case_transition_ok(s, s));
        assert_false(crm_case_transition_ok(CRM_CASE_CLOSED, s));
        assert_false(crm_case_transition_ok(s, CRM_CASE_NEW));
    }
    assert_false(crm_case_transition_ok(CRM_CASE_NEW, CRM_CASE_CLOSED));
    assert_false(crm_case_transition_ok(CRM_CASE_OPEN, CRM_CASE_CLOSED));
    assert_false(crm_case_transition_ok(CRM_CASE_NEW, CRM_CASE_PENDING));
    assert_false(crm_case_transition_ok(CRM_CASE_RESOLVED, CRM_CASE_PENDING));
    assert_false(crm_case_transition_ok(-1, CRM_CASE_OPEN));
    assert_false(crm_case_transition_ok(CRM_CASE_OPEN, CRM_CASE_NSTATUS));
}

static void
test_cursor(void **state)
{
    char c[40];
    int64_t id;

    (void)state;
    /* "120" = 0x31 0x32 0x30 = 001100 010011 001000 110000 = 12 19 8 48 = "MTIw". */
    crm_cursor_encode(120, c, sizeof(c));
    assert_string_equal(c, "MTIw");
    assert_true(crm_cursor_decode("MTIw", &id));
    assert_int_equal(id, 120);
    /* "5" = 0x35 = 001101 01(0000) = 13 16 = "NQ" (no padding). */
    crm_cursor_encode(5, c, sizeof(c));
    assert_string_equal(c, "NQ");
    assert_true(crm_cursor_decode("NQ", &id));
    assert_int_equal(id, 5);
    /* "NR" decodes to the same byte but is not canonical; "MDA" is "00"; "LTE" is "-1";
     * '=' padding and '+' (standard base64) are refused; so is the empty cursor. */
    assert_false(crm_cursor_decode("NR", &id));
    assert_false(crm_cursor_decode("MDA", &id));
    assert_false(crm_cursor_decode("LTE", &id));
    assert_false(crm_cursor_decode("NQ==", &id));
    assert_false(crm_cursor_decode("M+Iw", &id));
    assert_false(crm_cursor_decode("", &id));
    assert_false(crm_cursor_decode("a", &id));
    /* Round trip of a large id. */
    crm_cursor_encode(INT64_C(9007199254740993), c, sizeof(c));
    assert_true(crm_cursor_decode(c, &id));
    assert_int_equal(id, INT64_C(9007199254740993));
}

static void
test_utf8_len(void **state)
{
    (void)state;
    /* 张 and 三 are three bytes each in UTF-8: 6 bytes, 2 characters. */
    assert_int_equal(strlen("张三"), 6);
    assert_int_equal(crm_utf8_len("张三"), 2);
    assert_int_equal(crm_utf8_len("Li 张"), 4);
    assert_int_equal(crm_utf8_len(""), 0);
}

/* With a real database ------------------------------------------------------------- */

struct seen {
    int n;
    char type[32][24];
    char subject[32][24];
    char source_id[32][48];
    char assignee[32][16]; /* data.assignee, "-" if null */
    char team[32][16];     /* data.team */
    char by[32][16];       /* data.by of case.replied */
    char actor[32][16];
    int64_t customer[32];
    int64_t at[32];
    bool fail;
    int committed, rolled_back;
};

static void
sink_done(struct store *s, bool committed, void *ud)
{
    struct seen *v = ud;

    (void)s;
    if (committed)
        v->committed++;
    else
        v->rolled_back++;
}

static int
sink(struct store *s, const struct crm_event *ev, void *ud, struct smile_err *err)
{
    struct seen *v = ud;

    (void)s;
    if (v->fail)
        return smile_err_set(err, SMILE_EDB, "the ledger is full");
    assert_string_equal(ev->source, "crm");
    if (v->n < 32) {
        snprintf(v->type[v->n], sizeof(v->type[0]), "%s", ev->type);
        snprintf(v->subject[v->n], sizeof(v->subject[0]), "%s", ev->subject);
        snprintf(v->source_id[v->n], sizeof(v->source_id[0]), "%s", ev->source_id);
        {
            const char *a = json_string_value(json_object_get(ev->data, "assignee"));
            const char *t = json_string_value(json_object_get(ev->data, "team"));
            const char *b = json_string_value(json_object_get(ev->data, "by"));

            snprintf(v->assignee[v->n], sizeof(v->assignee[0]), "%s", a ? a : "-");
            snprintf(v->team[v->n], sizeof(v->team[0]), "%s", t ? t : "-");
            snprintf(v->by[v->n], sizeof(v->by[0]), "%s", b ? b : "-");
            snprintf(v->actor[v->n], sizeof(v->actor[0]), "%s", ev->actor);
        }
        v->customer[v->n] = ev->customer_id;
        v->at[v->n] = ev->occurred_at;
        v->n++;
    }
    return SMILE_OK;
}

static int64_t
count(struct store *db, const char *sql)
{
    struct smile_err err;
    int64_t n = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(db, sql, &n, &err), SMILE_OK);
    return n;
}

static json_t *
do_action(struct crm_ctx *c, int64_t id, const char *action, const char *body_text)
{
    struct smile_err err;
    json_t *body = body_text ? json_loads(body_text, 0, NULL) : json_object(), *out = NULL;

    smile_err_clear(&err);
    if (crm_case_action(c, id, action, NULL, body, &out, &err) != SMILE_OK)
        fail_msg("%s: %s", action, err.msg);
    json_decref(body);
    return out;
}

static void
test_case_events_in_the_transaction(void **state)
{
    char dir[] = "/tmp/smile-crm-XXXXXX", path[64];
    struct store *db = NULL;
    struct smile_err err;
    struct http_auth who = {.user_id = 0};
    struct crm_ctx c;
    struct seen seen = {0};
    json_t *body, *out = NULL;
    int64_t cust, kase, ids[4];
    int n;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(path, STORE_CREATE, &db, &err), SMILE_OK);
    assert_int_equal(store_migrate(db, &err), SMILE_OK);
    assert_int_equal(store_exec(db,
                                "INSERT INTO teams (id, name, created_at, updated_at) VALUES "
                                "(7, 'desk', 0, 0); INSERT INTO users (id, username, role, "
                                "team_id, created_at, updated_at) VALUES (3, 'ann', 'agent', 7, "
                                "0, 0)",
                                &err),
                     SMILE_OK);
    c = (struct crm_ctx){.db = db, .actor = &who, .request_id = "t", .address = "", .now_ms = 1000};
    crm_event_sink_set(sink, sink_done, &seen);

    body = json_pack("{s:s, s:s, s:[s, s], s:[s]}", "kind", "person", "name", "张三", "phones",
                     "+86 138 0013 8000", "010-12345678", "emails", "Z@Example.CN");
    assert_int_equal(crm_record_create(&c, &crm_customers, body, &cust, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    /* Contact look-ups normalise their input like the record does. */
    assert_int_equal(crm_customer_find_by_phone(db, "138-0013-8000", ids, 4, &n, &err), SMILE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], cust);
    assert_int_equal(crm_customer_find_by_phone(db, "(010) 1234 5678", ids, 4, &n, &err), SMILE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(crm_customer_find_by_email(db, "Z@EXAMPLE.cn", ids, 4, &n, &err), SMILE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(crm_customer_find_by_email(db, "z@example.cn", ids, 4, &n, &err), SMILE_OK);
    assert_int_equal(n, 0); /* the local part is case-sensitive */
    assert_int_equal(crm_customer_find_by_phone(db, "junk", ids, 4, &n, &err), SMILE_OK);
    assert_int_equal(n, 0);

    /* A case created with a team: case.opened, then case.assigned. */
    body = json_pack("{s:s, s:s, s:I, s:i}", "type", "repair", "subject", "leak", "customer_id",
                     (json_int_t)cust, "team_id", 7);
    assert_int_equal(crm_record_create(&c, &crm_cases, body, &kase, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.type[0], "case.opened");
    assert_string_equal(seen.type[1], "case.assigned");
    assert_int_equal(seen.customer[0], cust);
    {
        char want[48];

        snprintf(want, sizeof(want), "case:%lld", (long long)kase);
        assert_string_equal(seen.subject[0], want);
        /* Both events of the creation come from version 1; the type tells them apart. */
        snprintf(want, sizeof(want), "case:%lld:v1:case.opened", (long long)kase);
        assert_string_equal(seen.source_id[0], want);
        snprintf(want, sizeof(want), "case:%lld:v1:case.assigned", (long long)kase);
        assert_string_equal(seen.source_id[1], want);
    }
    /* The engine's ownership rule reads data.assignee (username) and data.team (name). */
    assert_string_equal(seen.assignee[1], "-");
    assert_string_equal(seen.team[1], "desk");
    /* Assigning a new case opens it; new → open itself emits nothing, the assignment does. */
    json_decref(do_action(&c, kase, "assign", "{\"assignee_id\": 3}"));
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.type[2], "case.assigned");
    assert_string_equal(seen.assignee[2], "ann");
    assert_string_equal(seen.team[2], "desk");
    json_decref(do_action(&c, kase, "pending", NULL));
    assert_string_equal(seen.type[3], "case.pending");
    /* An outgoing e-mail logged on the case is its reply, at the e-mail's own time:
     * 2000-01-01T00:00:05Z = 946684800000 + 5000 ms (10957 days × 86,400,000 ms). */
    body = json_pack("{s:s, s:s, s:I, s:s, s:i}", "kind", "email", "direction", "out", "case_id",
                     (json_int_t)kase, "occurred_at", "2000-01-01T00:00:05Z", "actor_id", 3);
    assert_int_equal(crm_record_create(&c, &crm_interactions, body, ids, &out, &err), SMILE_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "customer_id")), cust);
    json_decref(body);
    json_decref(out);
    assert_string_equal(seen.type[4], "case.replied");
    assert_string_equal(seen.by[4], "staff");
    /* Logged from the command line (actor "") but written by ann: the reply is hers. */
    assert_string_equal(seen.actor[4], "ann");
    assert_string_equal(seen.actor[3], "");
    {
        char want[48];

        snprintf(want, sizeof(want), "interaction:%lld:case.replied", (long long)ids[0]);
        assert_string_equal(seen.source_id[4], want);
    }
    assert_int_equal(seen.at[4], INT64_C(946684805000));
    assert_int_equal(seen.at[3], 1000);
    /* The customer's answer is a reply by the customer; an internal note is no reply. */
    body = json_pack("{s:s, s:s, s:I}", "kind", "call", "direction", "in", "case_id",
                     (json_int_t)kase);
    assert_int_equal(crm_record_create(&c, &crm_interactions, body, ids, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    assert_string_equal(seen.type[5], "case.replied");
    assert_string_equal(seen.by[5], "customer");
    body = json_pack("{s:s, s:s, s:I}", "kind", "note", "direction", "internal", "case_id",
                     (json_int_t)kase);
    assert_int_equal(crm_record_create(&c, &crm_interactions, body, ids, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    assert_int_equal(seen.n, 6);
    /* pending → open by PATCH is legal and emits nothing. */
    {
        json_t *patch = json_pack("{s:s}", "status", "open");

        assert_int_equal(crm_record_update(&c, &crm_cases, kase, "*", patch, &out, &err), SMILE_OK);
        json_decref(patch);
        json_decref(out);
        assert_int_equal(seen.n, 6);
    }
    json_decref(do_action(&c, kase, "resolve", NULL));
    assert_string_equal(seen.type[6], "case.resolved");
    json_decref(do_action(&c, kase, "reopen", NULL));
    assert_string_equal(seen.type[7], "case.reopened");
    json_decref(do_action(&c, kase, "resolve", NULL));
    assert_int_equal(seen.n, 9);

    /* The sink refuses: the close is rolled back, event, audit row and all. */
    {
        int64_t audit = count(db, "SELECT count(*) FROM audit");
        int64_t version = count(db, "SELECT max(version) FROM cases");

        seen.fail = true;
        smile_err_clear(&err);
        body = json_object();
        assert_int_equal(crm_case_action(&c, kase, "close", NULL, body, &out, &err), SMILE_EDB);
        json_decref(body);
        assert_int_equal(count(db, "SELECT count(*) FROM audit"), audit);
        assert_int_equal(count(db, "SELECT max(version) FROM cases"), version);
        assert_int_equal(count(db, "SELECT count(*) FROM cases WHERE status = 'resolved'"), 1);
        assert_false(store_in_tx(db));
        /* The refusing sink was called, so the done hook hears of the rollback. */
        assert_int_equal(seen.rolled_back, 1);
        seen.fail = false;
    }
    json_decref(do_action(&c, kase, "close", NULL));
    assert_string_equal(seen.type[9], "case.closed");
    /* One done call per committed transaction that emitted events: case create, assign,
     * pending, two replies, resolve, reopen, resolve, close = 9 (the customer, the
     * internal note and the resume emitted none). */
    assert_int_equal(seen.committed, 9);
    /* Without a sink, changes go through and nothing is emitted. */
    crm_event_sink_set(NULL, NULL, NULL);
    body = json_pack("{s:s, s:s}", "type", "inquiry", "subject", "hours?");
    assert_int_equal(crm_record_create(&c, &crm_cases, body, &kase, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    assert_int_equal(seen.n, 10);
    store_close(db);
    unlink(path);
    {
        char p2[80];

        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
    }
    rmdir(dir);
}

static void
test_events_reach_the_ledger(void **state)
{
    char dir[] = "/tmp/smile-crm-XXXXXX", path[64];
    struct store *db = NULL;
    struct smile_err err;
    struct http_auth who = {.user_id = 3, .username = "ann"};
    struct crm_ctx c;
    json_t *body, *out = NULL;
    int64_t cust, kase, iid;
    struct store_stmt *st;
    char want[64];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(path, STORE_CREATE, &db, &err), SMILE_OK);
    assert_int_equal(store_migrate(db, &err), SMILE_OK);
    assert_int_equal(store_exec(db,
                                "INSERT INTO teams (id, name, created_at, updated_at) VALUES "
                                "(7, 'desk', 0, 0); INSERT INTO users (id, username, role, "
                                "team_id, created_at, updated_at) VALUES (3, 'ann', 'agent', 7, "
                                "0, 0)",
                                &err),
                     SMILE_OK);
    /* 2026-11-29T09:00:00Z: 20,786 days after 1970-01-01 (56 years of 365 days = 20,440,
     * 14 leap days 1972…2024, and 332 days from 1 January to 29 November 2026) = 1,795,910,400
     * s, plus 9 h = 1,795,942,800 s. */
    c = (struct crm_ctx){.db = db,
                         .actor = &who,
                         .request_id = "t",
                         .address = "",
                         .now_ms = INT64_C(1795942800000)};
    runtime_crm_sink_install(NULL); /* append in the transaction; no server to notify */
    body = json_pack("{s:s, s:s}", "kind", "company", "name", "翠湖物业");
    assert_int_equal(crm_record_create(&c, &crm_customers, body, &cust, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    body = json_pack("{s:s, s:s, s:I, s:i, s:s}", "type", "complaint", "subject", "noise",
                     "customer_id", (json_int_t)cust, "team_id", 7, "channel", "phone");
    assert_int_equal(crm_record_create(&c, &crm_cases, body, &kase, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);
    body = json_pack("{s:s, s:s, s:I}", "kind", "call", "direction", "out", "case_id",
                     (json_int_t)kase);
    assert_int_equal(crm_record_create(&c, &crm_interactions, body, &iid, &out, &err), SMILE_OK);
    json_decref(body);
    json_decref(out);

    /* Three rows in the ledger, in order, with the CRM's idempotency keys. */
    assert_int_equal(store_prepare(db,
                                   "SELECT type, subject, actor, customer, channel, source, "
                                   "source_id, data, occurred_at FROM events ORDER BY id",
                                   &st, &err),
                     SMILE_OK);
    snprintf(want, sizeof(want), "case:%lld", (long long)kase);
    assert_int_equal(store_stmt_step(st, &err), STORE_ROW);
    assert_string_equal(store_stmt_text(st, 0), "case.opened");
    assert_string_equal(store_stmt_text(st, 1), want);
    assert_string_equal(store_stmt_text(st, 2), "ann");
    {
        char cs[24];

        snprintf(cs, sizeof(cs), "%lld", (long long)cust);
        assert_string_equal(store_stmt_text(st, 3), cs);
    }
    assert_string_equal(store_stmt_text(st, 4), "phone");
    assert_string_equal(store_stmt_text(st, 5), "crm");
    assert_int_equal(store_stmt_int64(st, 8), INT64_C(1795942800000));
    /* Canonical data: compact, keys sorted. */
    assert_non_null(strstr(store_stmt_text(st, 7), "\"team\":\"desk\",\"team_id\":7,"
                                                   "\"type\":\"complaint\""));
    assert_int_equal(store_stmt_step(st, &err), STORE_ROW);
    assert_string_equal(store_stmt_text(st, 0), "case.assigned");
    assert_int_equal(store_stmt_step(st, &err), STORE_ROW);
    assert_string_equal(store_stmt_text(st, 0), "case.replied");
    snprintf(want, sizeof(want), "interaction:%lld:case.replied", (long long)iid);
    assert_string_equal(store_stmt_text(st, 6), want);
    assert_int_equal(store_stmt_step(st, &err), STORE_DONE);
    store_stmt_reset(st);

    runtime_crm_sink_uninstall();
    store_close(db);
    unlink(path);
    {
        char p2[80];

        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
    }
    rmdir(dir);
}

/* crm_record_get_text's text and, as a cross-check, the tree path's dump of the same row. */
static void
text_is(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const char *want)
{
    struct smile_err err;
    struct buf b, t;
    json_t *o = NULL;
    int64_t version = -1;

    smile_err_clear(&err);
    buf_init(&b, 0);
    buf_init(&t, 0);
    buf_puts(&b, "left over");
    assert_int_equal(crm_record_get_text(c, r, id, 0, &b, &version, &err), SMILE_OK);
    assert_string_equal(b.data, want);
    assert_int_equal(crm_record_get(c, r, id, 0, &o, &err), SMILE_OK);
    http_json_dump(&t, o);
    assert_string_equal(b.data, t.data);
    assert_int_equal(version, json_integer_value(json_object_get(o, "version")));
    json_decref(o);
    buf_free(&b);
    buf_free(&t);
}

/* What a create answered (built without reading the row back) equals a read of the row. */
static void
same_as_read(struct crm_ctx *c, const struct crm_resource *r, int64_t id, const json_t *created)
{
    struct smile_err err;
    json_t *o = NULL;
    char *a, *b;

    smile_err_clear(&err);
    assert_int_equal(crm_record_get(c, r, id, 0, &o, &err), SMILE_OK);
    a = json_dumps(created, JSON_COMPACT);
    b = json_dumps(o, JSON_COMPACT);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(o);
}

static void
test_record_text(void **state)
{
    char dir[] = "/tmp/smile-crm-XXXXXX", path[64];
    struct store *db = NULL;
    struct smile_err err;
    struct http_auth who = {.user_id = 0};
    struct crm_ctx c;
    struct buf b;
    json_t *body, *out = NULL;
    int64_t cust, prop, version = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(path, STORE_CREATE, &db, &err), SMILE_OK);
    assert_int_equal(store_migrate(db, &err), SMILE_OK);
    /* now_ms 1000 = 1970-01-01T00:00:01.000Z: created_at and updated_at. */
    c = (struct crm_ctx){.db = db, .actor = &who, .request_id = "t", .address = "", .now_ms = 1000};

    /* A person: the name's quote and backslash escaped (\" and \\), the phone normalised
     * (+86 dropped), the ID number masked to its first 3 and last 4 characters with 11
     * stars between (18 in all), the tag's slash not escaped, the note's newline and tab
     * as \n and \t, absent fields null, arrays not given []. */
    body = json_pack("{s:s, s:s, s:[s], s:s, s:[s], s:s}", "kind", "person", "name", "王\"五\\",
                     "phones", "+86 138 0013 8000", "id_number", "11010519491231002X", "tags",
                     "a/b", "notes", "x\ny\tz");
    assert_int_equal(crm_record_create(&c, &crm_customers, body, &cust, &out, &err), SMILE_OK);
    json_decref(body);
    same_as_read(&c, &crm_customers, cust, out);
    json_decref(out);
    assert_int_equal(cust, 1);
    text_is(&c, &crm_customers, cust,
            "{\"id\":1,\"kind\":\"person\",\"name\":\"王\\\"五\\\\\",\"phones\":[\"13800138000\"],"
            "\"emails\":[],\"birthday\":null,\"id_number\":\"110***********002X\","
            "\"address\":null,\"tags\":[\"a/b\"],\"owner_id\":null,\"notes\":\"x\\ny\\tz\","
            "\"anonymised_at\":null,\"version\":1,\"created_at\":\"1970-01-01T00:00:01.000Z\","
            "\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");

    /* Stored values only another writer could leave: control characters (U+0001 as
     * \u0001 in upper-case hex, U+001F as \u001F, backspace \b, form feed \f), an array
     * with a space after its comma (re-dumped compactly), one with a \u00e9 escape
     * (re-dumped as the raw é, C3 A9) and one that is not JSON (shown as []). */
    assert_int_equal(
        store_exec(db,
                   "UPDATE customers SET notes = 'c' || char(1) || char(31) || char(8) || char(12),"
                   " phones = '[\"1\", \"2\"]', emails = '[\"\\u00e9\"]', tags = 'nope',"
                   " version = 4 WHERE id = 1",
                   &err),
        SMILE_OK);
    text_is(&c, &crm_customers, cust,
            "{\"id\":1,\"kind\":\"person\",\"name\":\"王\\\"五\\\\\",\"phones\":[\"1\",\"2\"],"
            "\"emails\":[\"\xC3\xA9\"],\"birthday\":null,\"id_number\":\"110***********002X\","
            "\"address\":null,\"tags\":[],\"owner_id\":null,\"notes\":\"c\\u0001\\u001F\\b\\f\","
            "\"anonymised_at\":null,\"version\":4,\"created_at\":\"1970-01-01T00:00:01.000Z\","
            "\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");

    /* A name that is not UTF-8 (41 FF 42): the tree leaves the key out, so does the text. */
    assert_int_equal(
        store_exec(db, "UPDATE customers SET name = CAST(x'41ff42' AS TEXT) WHERE id = 1", &err),
        SMILE_OK);
    text_is(&c, &crm_customers, cust,
            "{\"id\":1,\"kind\":\"person\",\"phones\":[\"1\",\"2\"],"
            "\"emails\":[\"\xC3\xA9\"],\"birthday\":null,\"id_number\":\"110***********002X\","
            "\"address\":null,\"tags\":[],\"owner_id\":null,\"notes\":\"c\\u0001\\u001F\\b\\f\","
            "\"anonymised_at\":null,\"version\":4,\"created_at\":\"1970-01-01T00:00:01.000Z\","
            "\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");

    /* A real: 89.75 is exact in binary, so %.17g writes it as 89.75; 100 gets ".0". */
    body = json_pack("{s:s, s:s, s:s, s:f}", "project", "P", "building", "1", "unit", "101",
                     "area_m2", 89.75);
    assert_int_equal(crm_record_create(&c, &crm_properties, body, &prop, &out, &err), SMILE_OK);
    json_decref(body);
    same_as_read(&c, &crm_properties, prop, out);
    json_decref(out);
    text_is(
        &c, &crm_properties, prop,
        "{\"id\":1,\"project\":\"P\",\"building\":\"1\",\"unit\":\"101\",\"area_m2\":89.75,"
        "\"status\":\"available\",\"customer_id\":null,\"notes\":null,\"version\":1,"
        "\"created_at\":\"1970-01-01T00:00:01.000Z\",\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");
    assert_int_equal(store_exec(db, "UPDATE properties SET area_m2 = 100 WHERE id = 1", &err),
                     SMILE_OK);
    text_is(
        &c, &crm_properties, prop,
        "{\"id\":1,\"project\":\"P\",\"building\":\"1\",\"unit\":\"101\",\"area_m2\":100.0,"
        "\"status\":\"available\",\"customer_id\":null,\"notes\":null,\"version\":1,"
        "\"created_at\":\"1970-01-01T00:00:01.000Z\",\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");

    /* Integers at the ends of int64: 2^63 - 1 = 9223372036854775807, -2^63 written as
     * -9223372036854775808 (its magnitude is not an int64). */
    assert_int_equal(
        store_exec(db, "UPDATE properties SET version = 9223372036854775807 WHERE id = 1", &err),
        SMILE_OK);
    text_is(
        &c, &crm_properties, prop,
        "{\"id\":1,\"project\":\"P\",\"building\":\"1\",\"unit\":\"101\",\"area_m2\":100.0,"
        "\"status\":\"available\",\"customer_id\":null,\"notes\":null,"
        "\"version\":9223372036854775807,"
        "\"created_at\":\"1970-01-01T00:00:01.000Z\",\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");
    assert_int_equal(store_exec(db,
                                "UPDATE properties SET version = -9223372036854775807 - 1 "
                                "WHERE id = 1",
                                &err),
                     SMILE_OK);
    text_is(
        &c, &crm_properties, prop,
        "{\"id\":1,\"project\":\"P\",\"building\":\"1\",\"unit\":\"101\",\"area_m2\":100.0,"
        "\"status\":\"available\",\"customer_id\":null,\"notes\":null,"
        "\"version\":-9223372036854775808,"
        "\"created_at\":\"1970-01-01T00:00:01.000Z\",\"updated_at\":\"1970-01-01T00:00:01.000Z\"}");

    /* A case with every kind of field given or defaulted: enums from their defaults
     * (priority normal, status new, channel web), opened_at the creation time, a text
     * array, references, null description; then an interaction whose occurred_at is given
     * with an offset (+08:00, stored and shown in UTC). */
    {
        int64_t kase, inter;

        body = json_pack("{s:s, s:s, s:I, s:I, s:[s, s]}", "type", "repair", "subject", "漏水 leak",
                         "customer_id", (json_int_t)cust, "property_id", (json_int_t)prop,
                         "required_skills", "plumbing", "电工");
        assert_int_equal(crm_record_create(&c, &crm_cases, body, &kase, &out, &err), SMILE_OK);
        json_decref(body);
        same_as_read(&c, &crm_cases, kase, out);
        assert_string_equal(json_string_value(json_object_get(out, "opened_at")),
                            "1970-01-01T00:00:01.000Z");
        json_decref(out);
        body = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "kind", "call", "channel", "phone",
                         "customer_id", (json_int_t)cust, "case_id", (json_int_t)kase,
                         "occurred_at", "2026-11-29T09:30:00.5+08:00", "body", "hi");
        assert_int_equal(crm_record_create(&c, &crm_interactions, body, &inter, &out, &err),
                         SMILE_OK);
        json_decref(body);
        same_as_read(&c, &crm_interactions, inter, out);
        /* 09:30:00.5 at +08:00 is 01:30:00.500 UTC. */
        assert_string_equal(json_string_value(json_object_get(out, "occurred_at")),
                            "2026-11-29T01:30:00.500Z");
        json_decref(out);
    }

    /* Absent or deleted: not found, the buffer untouched. */
    buf_init(&b, 0);
    buf_puts(&b, "kept");
    assert_int_equal(crm_record_get_text(&c, &crm_customers, 2, 0, &b, &version, &err),
                     SMILE_ENOTFOUND);
    assert_string_equal(b.data, "kept");
    buf_free(&b);

    store_close(db);
    unlink(path);
    {
        char p2[80];

        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
    }
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_normalise),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_id_number),
        cmocka_unit_test(test_phone_mask),
        cmocka_unit_test(test_case_state_machine),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_case_events_in_the_transaction),
        cmocka_unit_test(test_events_reach_the_ledger),
        cmocka_unit_test(test_record_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
