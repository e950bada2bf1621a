/*
 * test_ledger.c — unit tests of src/ledger: every field rule of the event schema with the
 * JSON Pointer of each problem, batches (one bad event reports its index), canonical
 * data, rendering, cursors; then the writer on a real SQLite file: idempotency within and
 * across appends, all-or-nothing, the in-transaction path, post-commit hooks, group
 * commit under concurrency, back-pressure (EBUSY) and the one-by-one retry that keeps a
 * failing request from failing its group, the pipeline (one written group waits for the
 * sync while the next queues) and, under a pool, hooks and answers only after the sync. Expected
 * values are worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "crm/crm.h"
#include "crm/record.h"
#include "http/http.h"
#include "ledger/ledger.h"
#include "store/store.h"

/* Parses text as a body and returns the result code; err is filled. */
static int
parse(const char *text, struct ledger_batch *b, struct smile_err *err)
{
    json_error_t je;
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int rc;

    assert_non_null(body);
    smile_err_clear(err);
    rc = ledger_batch_parse(body, b, err);
    json_decref(body);
    return rc;
}

/* Asserts that err lists exactly the given pointers, in order. */
static void
assert_pointers(const struct smile_err *err, int n, ...)
{
    va_list ap;

    assert_int_equal(err->nfields, n);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(err->fields[i].path, va_arg(ap, const char *));
    va_end(ap);
}

/* One event body with a replaceable field: "%s" is put before the closing brace. */
static int
parse_with(const char *extra, struct ledger_batch *b, struct smile_err *err)
{
    char text[40000];

    snprintf(text, sizeof(text),
             "{\"type\":\"call.offered\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
             "\"subject\":\"call:1700000000.123\"%s}",
             extra);
    return parse(text, b, err);
}

static void
test_minimal_event(void **state)
{
    struct ledger_batch b;
    struct smile_err err;

    (void)state;
    assert_int_equal(parse_with("", &b, &err), SMILE_OK);
    assert_int_equal(b.n, 1);
    assert_false(b.is_batch);
    assert_string_equal(b.evs[0].type, "call.offered");
    /* 2026-11-29: 2026-01-01 is day 20454 (56 years × 365 = 20440, + 14 leap days 1972…
     * 2024); + Jan…Oct (31+28+31+30+31+30+31+31+30+31 = 304) + Nov 28 days = 20786.
     * 20786 × 86400 = 1795910400 s; + 9 h = 1795942800 s. */
    assert_int_equal(b.evs[0].occurred_at, INT64_C(1795942800000));
    assert_string_equal(b.evs[0].subject, "call:1700000000.123");
    /* call.* defaults to the phone channel; no source, no key: both left for the writer. */
    assert_string_equal(b.evs[0].channel, "phone");
    assert_null(b.evs[0].source);
    assert_null(b.evs[0].source_id);
    assert_null(b.evs[0].actor);
    assert_null(b.evs[0].data);
    ledger_batch_free(&b);
    ledger_batch_free(&b); /* a freed batch is zeroed: freeing again is a no-op */
}

static void
test_type(void **state)
{
    static const char *known[] = {
        "call.offered",     "call.ringing",  "call.answered",   "call.abandoned", "call.ended",
        "call.transferred", "agent.login",   "agent.logout",    "agent.paused",   "agent.unpaused",
        "email.received",   "email.sent",    "visit.arrived",   "visit.greeted",  "visit.left",
        "case.opened",      "case.assigned", "case.replied",    "case.pending",   "case.reopened",
        "case.resolved",    "case.closed",   "survey.answered", "sla.warning",    "sla.breached",
        "case.accepted",    "case.resumed",
    };
    struct ledger_batch b;
    struct smile_err err;
    char text[512];

    (void)state;
    /* All 25 types of the brief are known, and the CRM's case.accepted and case.resumed. */
    for (size_t i = 0; i < ARRAY_LEN(known); i++)
        assert_true(ledger_type_known(known[i]));
    assert_false(ledger_type_known("call.offered2"));
    assert_false(ledger_type_known("custom.x")); /* custom is allowed, not "known" */

    for (size_t i = 0; i < ARRAY_LEN(known); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"%s\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":\"x:1\"}",
                 known[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_OK);
        ledger_batch_free(&b);
    }
    /* custom.<name>: a-z 0-9 _ . - after the prefix, at least one byte, 64 bytes in all. */
    assert_int_equal(parse("{\"type\":\"custom.door_open.v2-x\",\"occurred_at\":"
                           "\"2026-11-29T09:00:00Z\",\"subject\":\"door:7\"}",
                           &b, &err),
                     SMILE_OK);
    assert_string_equal(b.evs[0].channel, "system"); /* custom.* defaults to system */
    ledger_batch_free(&b);
    {
        /* "custom." is 7 bytes; 57 more make 64 (accepted), 58 make 65 (rejected). */
        char name[80];

        memcpy(name, "custom.", 7);
        memset(name + 7, 'a', 57);
        name[64] = '\0';
        snprintf(text, sizeof(text),
                 "{\"type\":\"%s\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":\"x:1\"}",
                 name);
        assert_int_equal(parse(text, &b, &err), SMILE_OK);
        ledger_batch_free(&b);
        name[64] = 'a';
        name[65] = '\0';
        snprintf(text, sizeof(text),
                 "{\"type\":\"%s\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":\"x:1\"}",
                 name);
        assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/type");
    }
    static const char *badtypes[] = {
        "\"custom.\"", "\"custom.Upper\"", "\"call.Offered\"", "\"ring\"", "42",
        "null",        "\"custom.a b\""};
    for (size_t i = 0; i < ARRAY_LEN(badtypes); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":%s,\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":\"x:1\"}",
                 badtypes[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/type");
        assert_int_equal(b.n, 0); /* nothing handed out on failure */
    }
    /* Missing type. */
    assert_int_equal(
        parse("{\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":\"x:1\"}", &b, &err),
        SMILE_EINVAL);
    assert_pointers(&err, 1, "/type");
    assert_string_equal(err.fields[0].msg, "is required");
}

static void
test_occurred_at(void **state)
{
    struct ledger_batch b;
    struct smile_err err;
    char text[256];
    static const char *good[] = {"2000-01-01T00:00:00Z", "2100-12-31T23:59:59.999Z",
                                 "2026-11-29T17:00:00+08:00"};
    static const char *badtime[] = {"\"1999-12-31T23:59:59.999Z\"",
                                    "\"2101-01-01T00:00:00Z\"",
                                    "\"2026-11-29\"",
                                    "\"2026-02-30T00:00:00Z\"",
                                    "1795942800000",
                                    "\"\"",
                                    "null"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"case.opened\",\"occurred_at\":\"%s\",\"subject\":\"case:42\"}",
                 good[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_OK);
        if (i == 0) /* 10957 days (30 × 365 + 7 leap days) × 86400 s */
            assert_int_equal(b.evs[0].occurred_at, INT64_C(946684800000));
        if (i == 1) /* 2101-01-01 is 47847 days (131 × 365 + 32 leap days); minus 1 ms */
            assert_int_equal(b.evs[0].occurred_at, INT64_C(4133980799999));
        if (i == 2) /* 17:00 at +08:00 is 09:00Z, the value of test_minimal_event */
            assert_int_equal(b.evs[0].occurred_at, INT64_C(1795942800000));
        ledger_batch_free(&b);
    }
    for (size_t i = 0; i < ARRAY_LEN(badtime); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"case.opened\",\"occurred_at\":%s,\"subject\":\"case:42\"}",
                 badtime[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/occurred_at");
    }
}

static void
test_subject(void **state)
{
    struct ledger_batch b;
    struct smile_err err;
    char text[2048], subj[1024];
    static const char *good[] = {"call:1700000000.123", "case:42", "visit:2026-11-29/7",
                                 "thread:<abc@mail.example>", "k_9-x:key with space"};
    static const char *badsubj[] = {"\"42\"",      "\"case:\"", "\":42\"", "\"Case:42\"",
                                    "\"9case:1\"", "\"\"",      "7",       "\"case:a\\tb\""};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
                 "\"subject\":\"%s\"}",
                 good[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_OK);
        assert_string_equal(b.evs[0].subject, good[i]);
        ledger_batch_free(&b);
    }
    for (size_t i = 0; i < ARRAY_LEN(badsubj); i++) {
        snprintf(text, sizeof(text),
                 "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
                 "\"subject\":%s}",
                 badsubj[i]);
        assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/subject");
    }
    /* The limit counts characters: "case:" (5) + 195 × "é" (2 bytes each) = 200
     * characters in 395 bytes: accepted; one more "é" makes 201: rejected. */
    memcpy(subj, "case:", 5);
    for (int i = 0; i < 195; i++)
        memcpy(subj + 5 + 2 * i, "\xc3\xa9", 2);
    subj[5 + 390] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
             "\"subject\":\"%s\"}",
             subj);
    assert_int_equal(parse(text, &b, &err), SMILE_OK);
    ledger_batch_free(&b);
    memcpy(subj + 395, "\xc3\xa9", 3);
    snprintf(text, sizeof(text),
             "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
             "\"subject\":\"%s\"}",
             subj);
    assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/subject");
    /* The kind is at most 32 bytes: 32 × "k" passes, 33 fail. */
    memset(subj, 'k', 33);
    memcpy(subj + 32, ":1", 3);
    snprintf(text, sizeof(text),
             "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
             "\"subject\":\"%s\"}",
             subj);
    assert_int_equal(parse(text, &b, &err), SMILE_OK);
    ledger_batch_free(&b);
    memset(subj, 'k', 33);
    memcpy(subj + 33, ":1", 3);
    snprintf(text, sizeof(text),
             "{\"type\":\"case.opened\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
             "\"subject\":\"%s\"}",
             subj);
    assert_int_equal(parse(text, &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/subject");
}

static void
test_optional_fields(void **state)
{
    struct ledger_batch b;
    struct smile_err err;

    (void)state;
    /* All optional fields given and valid. */
    assert_int_equal(parse_with(",\"actor\":\"ann.li\",\"customer\":\"c-1001\",\"channel\":\"web\","
                                "\"source\":\"pbx:main\",\"source_id\":\"1700000000.123/offer\"",
                                &b, &err),
                     SMILE_OK);
    assert_string_equal(b.evs[0].actor, "ann.li");
    assert_string_equal(b.evs[0].customer, "c-1001");
    assert_string_equal(b.evs[0].channel, "web"); /* given wins over the default phone */
    assert_string_equal(b.evs[0].source, "pbx:main");
    assert_string_equal(b.evs[0].source_id, "1700000000.123/offer");
    ledger_batch_free(&b);
    /* null means absent for every optional field. */
    assert_int_equal(parse_with(",\"actor\":null,\"customer\":null,\"channel\":null,"
                                "\"source\":null,\"source_id\":null,\"data\":null",
                                &b, &err),
                     SMILE_OK);
    assert_null(b.evs[0].actor);
    assert_string_equal(b.evs[0].channel, "phone");
    ledger_batch_free(&b);
    /* source_id alone: the source is "api". */
    assert_int_equal(parse_with(",\"source_id\":\"k1\"", &b, &err), SMILE_OK);
    assert_string_equal(b.evs[0].source, "api");
    ledger_batch_free(&b);

    /* Each bad value is reported at its own pointer, in field order. */
    assert_int_equal(parse_with(",\"actor\":\"ann li\",\"customer\":\"\",\"channel\":\"fax\","
                                "\"source\":\"PBX\",\"source_id\":\"\"",
                                &b, &err),
                     SMILE_EINVAL);
    assert_pointers(&err, 5, "/actor", "/customer", "/channel", "/source", "/source_id");
    /* Wrong JSON types. */
    assert_int_equal(parse_with(",\"actor\":1,\"customer\":2,\"channel\":true,\"source\":[],"
                                "\"source_id\":{}",
                                &b, &err),
                     SMILE_EINVAL);
    assert_pointers(&err, 5, "/actor", "/customer", "/channel", "/source", "/source_id");
    /* source without source_id; the reserved source "auto". */
    assert_int_equal(parse_with(",\"source\":\"pbx\"", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/source_id");
    assert_int_equal(parse_with(",\"source\":\"auto\",\"source_id\":\"1\"", &b, &err),
                     SMILE_EINVAL);
    assert_pointers(&err, 1, "/source");
    /* Lengths: actor 64 characters pass, 65 fail. */
    {
        char extra[200];

        snprintf(extra, sizeof(extra), ",\"actor\":\"%064d\"", 0);
        assert_int_equal(parse_with(extra, &b, &err), SMILE_OK);
        ledger_batch_free(&b);
        snprintf(extra, sizeof(extra), ",\"actor\":\"%065d\"", 0);
        assert_int_equal(parse_with(extra, &b, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/actor");
    }
    /* Unknown top-level fields, with JSON Pointer escaping of / and ~. */
    assert_int_equal(parse_with(",\"id\":5,\"a/b~c\":1", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 2, "/id", "/a~1b~0c");
    /* Channel defaults by prefix. */
    assert_string_equal(ledger_channel_default("email.received"), "email");
    assert_string_equal(ledger_channel_default("visit.left"), "counter");
    assert_string_equal(ledger_channel_default("case.closed"), "web");
    assert_string_equal(ledger_channel_default("agent.paused"), "phone");
    assert_string_equal(ledger_channel_default("sla.breached"), "system");
    assert_string_equal(ledger_channel_default("survey.answered"), "web");
}

static void
test_data_canonical(void **state)
{
    struct ledger_batch b;
    struct smile_err err;
    char *extra;
    size_t n;

    (void)state;
    /* Keys sorted, no spaces, UTF-8 kept, nested objects sorted too. */
    assert_int_equal(parse_with(",\"data\":{ \"b\" : 1, \"a\" : [2, 1], \"c\": \"\xc3\xa9\", "
                                "\"d\": {\"z\": null, \"y\": true}}",
                                &b, &err),
                     SMILE_OK);
    assert_string_equal(b.evs[0].data,
                        "{\"a\":[2,1],\"b\":1,\"c\":\"\xc3\xa9\",\"d\":{\"y\":true,\"z\":null}}");
    ledger_batch_free(&b);
    /* Reals in their shortest round-trip form and kept real; only required escapes:
     * 0.1 reads back from "%.1g"; 2.0 prints "2" and gets ".0"; 1e300 is "1e+300";
     * -0.0 is "-0" + ".0"; 1.5e-7 needs two digits ("2e-07" reads back as 2e-7);
     * the string holds a " b \ c LF U+0001 /: quote, backslash, LF and U+0001 are
     * escaped, the slash is not. */
    assert_int_equal(parse_with(",\"data\":{\"w\":12345678901234,\"v\":1.5e-7,\"u\":-0.0,"
                                "\"t\":1e300,\"s\":2.0,\"r\":0.1,"
                                "\"e\":\"a\\\"b\\\\c\\n\\u0001/\"}",
                                &b, &err),
                     SMILE_OK);
    assert_string_equal(b.evs[0].data, "{\"e\":\"a\\\"b\\\\c\\n\\u0001/\",\"r\":0.1,\"s\":2.0,"
                                       "\"t\":1e+300,\"u\":-0.0,\"v\":1.5e-07,"
                                       "\"w\":12345678901234}");
    /* The canonical text reads back to the same value and is its own canonical form. */
    {
        json_t *again = json_loads(b.evs[0].data, 0, NULL);
        char *twice = ledger_data_canonical(again);

        assert_string_equal(twice, b.evs[0].data);
        free(twice);
        json_decref(again);
    }
    ledger_batch_free(&b);
    /* An empty object is stored as the default "{}" (data NULL). */
    assert_int_equal(parse_with(",\"data\":{}", &b, &err), SMILE_OK);
    assert_null(b.evs[0].data);
    ledger_batch_free(&b);
    /* Not an object. */
    assert_int_equal(parse_with(",\"data\":[1]", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/data");
    assert_int_equal(parse_with(",\"data\":\"x\"", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/data");
    /* Size: {"k":"<N × x>"} is N + 8 bytes compact ({"k":" is 6, "} is 2). N = 16376 is
     * 16384 bytes exactly: accepted; N = 16377 is one over: rejected. */
    extra = malloc(20000);
    n = (size_t)snprintf(extra, 20000, ",\"data\":{\"k\":\"");
    memset(extra + n, 'x', 16376);
    memcpy(extra + n + 16376, "\"}", 3);
    assert_int_equal(parse_with(extra, &b, &err), SMILE_OK);
    assert_int_equal(strlen(b.evs[0].data), 16384);
    ledger_batch_free(&b);
    memset(extra + n, 'x', 16377);
    memcpy(extra + n + 16377, "\"}", 3);
    assert_int_equal(parse_with(extra, &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/data");
    free(extra);
}

static void
test_batch(void **state)
{
    struct ledger_batch b;
    struct smile_err err;
    struct buf big;

    (void)state;
    assert_int_equal(
        parse("{\"events\":[{\"type\":\"call.offered\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
              "\"subject\":\"call:1\"},{\"type\":\"call.answered\",\"occurred_at\":"
              "\"2026-11-29T09:00:07Z\",\"subject\":\"call:1\",\"actor\":\"ann\"}]}",
              &b, &err),
        SMILE_OK);
    assert_true(b.is_batch);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.evs[1].type, "call.answered");
    /* 7 s after the first. */
    assert_int_equal(b.evs[1].occurred_at - b.evs[0].occurred_at, 7000);
    ledger_batch_free(&b);

    /* One bad event in the middle (index 1) and another (index 3) are both reported with
     * their index in the pointer; nothing is handed out. */
    assert_int_equal(
        parse("{\"events\":["
              "{\"type\":\"call.offered\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":"
              "\"call:1\"},"
              "{\"type\":\"call.offered\",\"occurred_at\":\"yesterday\",\"subject\":\"call:2\"},"
              "{\"type\":\"call.offered\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":"
              "\"call:3\"},"
              "{\"type\":\"call.nope\",\"occurred_at\":\"2026-11-29T09:00:00Z\",\"subject\":"
              "\"call:4\",\"extra\":1},"
              "7]}",
              &b, &err),
        SMILE_EINVAL);
    assert_pointers(&err, 4, "/events/1/occurred_at", "/events/3/extra", "/events/3/type",
                    "/events/4");
    assert_int_equal(b.n, 0);
    assert_null(b.evs);

    /* Shape errors: empty, not an array, extra top-level key. */
    assert_int_equal(parse("{\"events\":[]}", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/events");
    assert_int_equal(parse("{\"events\":{}}", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/events");
    assert_int_equal(parse("{\"events\":[],\"x\":1}", &b, &err), SMILE_EINVAL);
    assert_pointers(&err, 2, "/x", "/events");

    /* 10,000 events pass; 10,001 are too big. */
    buf_init(&big, 0);
    buf_puts(&big, "{\"events\":[");
    for (int i = 0; i < 10001; i++)
        buf_printf(&big,
                   "%s{\"type\":\"sla.warning\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
                   "\"subject\":\"case:%d\"}",
                   i ? "," : "", i);
    buf_puts(&big, "]}");
    assert_int_equal(parse(big.data, &b, &err), SMILE_ETOOBIG);
    assert_int_equal(err.code, SMILE_ETOOBIG);
    /* Cut the last event off: the text up to the last ",{" then "]}". */
    {
        char *last = strrchr(big.data, '{');

        last[-1] = ']';
        last[0] = '}';
        last[1] = '\0';
    }
    assert_int_equal(parse(big.data, &b, &err), SMILE_OK);
    assert_int_equal(b.n, 10000);
    assert_string_equal(b.evs[9999].subject, "case:9999");
    ledger_batch_free(&b);
    buf_free(&big);

    /* More than SMILE_ERR_MAX_FIELDS problems: the first 32 are listed, the rest counted. */
    buf_init(&big, 0);
    buf_puts(&big, "{\"events\":[");
    for (int i = 0; i < 40; i++)
        buf_printf(&big,
                   "%s{\"type\":\"x\",\"occurred_at\":\"2026-11-29T09:00:00Z\","
                   "\"subject\":\"case:1\"}",
                   i ? "," : "");
    buf_puts(&big, "]}");
    assert_int_equal(parse(big.data, &b, &err), SMILE_EINVAL);
    assert_int_equal(err.nfields, 32);
    assert_int_equal(err.nfields_dropped, 8);
    assert_string_equal(err.fields[31].path, "/events/31/type");
    buf_free(&big);
}

static void
test_render_and_cursor(void **state)
{
    struct ledger_event ev = {.type = "case.opened",
                              .occurred_at = INT64_C(946684800000),
                              .subject = "case:42",
                              .actor = "ann",
                              .channel = "web",
                              .source = "crm",
                              .source_id = "c42"};
    json_t *o;
    char *s, cur[48];
    int64_t at, id;

    (void)state;
    /* 946684800000 is 2000-01-01T00:00:00Z (see test_occurred_at); + 1500 ms received. */
    o = ledger_event_json(7, &ev, INT64_C(946684801500), "{\"x\":1}");
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"id\":7,\"type\":\"case.opened\",\"occurred_at\":"
                           "\"2000-01-01T00:00:00.000Z\",\"received_at\":"
                           "\"2000-01-01T00:00:01.500Z\",\"subject\":\"case:42\",\"actor\":"
                           "\"ann\",\"customer\":null,\"channel\":\"web\",\"source\":\"crm\","
                           "\"source_id\":\"c42\",\"data\":{\"x\":1}}");
    free(s);
    json_decref(o);

    ledger_cursor_format(INT64_C(946684800000), 7, cur, sizeof(cur));
    assert_string_equal(cur, "946684800000.7");
    assert_int_equal(ledger_cursor_parse(cur, &at, &id), SMILE_OK);
    assert_int_equal(at, INT64_C(946684800000));
    assert_int_equal(id, 7);
    assert_int_equal(ledger_cursor_parse("946684800000", &at, &id), SMILE_EINVAL);
    assert_int_equal(ledger_cursor_parse("a.7", &at, &id), SMILE_EINVAL);
    assert_int_equal(ledger_cursor_parse("1.0", &at, &id), SMILE_EINVAL);
    assert_int_equal(ledger_cursor_parse("1.7x", &at, &id), SMILE_EINVAL);

    /* ledger_event_check applies the same rules to events built in C. */
    {
        struct smile_err err;
        struct ledger_event bad = ev;

        smile_err_clear(&err);
        assert_int_equal(ledger_event_check(&ev, &err), SMILE_OK);
        bad.subject = "42";
        bad.occurred_at = 0; /* 1970: before 2000 */
        bad.source_id = NULL;
        bad.data = "[1]";
        assert_int_equal(ledger_event_check(&bad, &err), SMILE_EINVAL);
        assert_pointers(&err, 4, "/occurred_at", "/subject", "/source_id", "/data");
        /* Data must already be canonical: keys out of order or spaces are refused. */
        smile_err_clear(&err);
        bad = ev;
        bad.data = "{\"b\":1,\"a\":2}";
        assert_int_equal(ledger_event_check(&bad, &err), SMILE_EINVAL);
        assert_pointers(&err, 1, "/data");
        bad.data = "{\"a\":2,\"b\":1}";
        smile_err_clear(&err);
        assert_int_equal(ledger_event_check(&bad, &err), SMILE_OK);
    }
}

/* The writer ---------------------------------------------------------------------------- */

struct fixture {
    char dir[64];
    char path[96];
    struct store *s; /* a second connection, for checking */
};

static int
setup_db(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct smile_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/smile-ledger-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(f->path, STORE_CREATE, &f->s, &err), SMILE_OK);
    assert_int_equal(store_migrate(f->s, &err), SMILE_OK);
    *state = f;
    return 0;
}

static int
teardown_db(void **state)
{
    struct fixture *f = *state;
    char p[160];

    store_close(f->s);
    snprintf(p, sizeof(p), "%s/t.db", f->dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/t.db-wal", f->dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/t.db-shm", f->dir);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t
count(struct store *s, const char *sql)
{
    struct smile_err err;
    int64_t n = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(s, sql, &n, &err), SMILE_OK);
    return n;
}

struct hook_log {
    pthread_mutex_t mu;
    int calls;
    int events;
    int64_t last_id;
    char last_subject[64];
};

static void
log_hook(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct hook_log *h = ud;

    pthread_mutex_lock(&h->mu);
    h->calls++;
    h->events += (int)n;
    h->last_id = evs[n - 1].id;
    snprintf(h->last_subject, sizeof(h->last_subject), "%s", evs[n - 1].ev->subject);
    pthread_mutex_unlock(&h->mu);
}

static void
test_append_idempotent(void **state)
{
    struct fixture *f = *state;
    struct ledger *l;
    struct smile_err err;
    struct ledger_result r[4];
    struct hook_log h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct ledger_stats st;
    /* Events 0 and 2 share (pbx, a): the second is a duplicate within the same append. */
    struct ledger_event evs[4] = {
        {.type = "call.offered",
         .occurred_at = 946684800000,
         .subject = "call:1",
         .source = "pbx",
         .source_id = "a"},
        {.type = "call.answered",
         .occurred_at = 946684801000,
         .subject = "call:1",
         .actor = "ann",
         .source = "pbx",
         .source_id = "b",
         .data = "{\"ring\":2}"},
        {.type = "call.offered",
         .occurred_at = 946684800000,
         .subject = "call:1",
         .source = "pbx",
         .source_id = "a"},
        {.type = "call.ended", .occurred_at = 946684802000, .subject = "call:1"},
    };

    smile_err_clear(&err);
    assert_int_equal(ledger_open(f->path, NULL, &l, &err), SMILE_OK);
    ledger_on_commit(l, log_hook, &h);
    assert_int_equal(ledger_append(l, evs, 4, r, &err), SMILE_OK);
    assert_int_equal(r[0].status, LEDGER_CREATED);
    assert_int_equal(r[1].status, LEDGER_CREATED);
    assert_int_equal(r[2].status, LEDGER_DUPLICATE);
    assert_int_equal(r[2].id, r[0].id);
    assert_int_equal(r[3].status, LEDGER_CREATED); /* no key: generated, always new */
    assert_true(r[1].id > r[0].id && r[3].id > r[1].id);
    /* The hook saw the three created events, once, the last being call.ended's. */
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.events, 3);
    assert_int_equal(h.last_id, r[3].id);
    assert_string_equal(h.last_subject, "call:1");

    /* Again: the keyed events are duplicates with the same ids; the unkeyed one is new. */
    {
        struct ledger_result r2[4];

        assert_int_equal(ledger_append(l, evs, 4, r2, &err), SMILE_OK);
        assert_int_equal(r2[0].status, LEDGER_DUPLICATE);
        assert_int_equal(r2[0].id, r[0].id);
        assert_int_equal(r2[1].status, LEDGER_DUPLICATE);
        assert_int_equal(r2[1].id, r[1].id);
        assert_int_equal(r2[3].status, LEDGER_CREATED);
    }
    ledger_stats(l, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.created, 4);    /* 3 + 1 */
    assert_int_equal(st.duplicates, 4); /* 1 + 3 */
    assert_int_equal(ledger_check(l, &err), SMILE_OK);
    ledger_close(l);

    /* Stored: 4 rows; defaults filled (channel phone, source auto, data {}). */
    assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 4);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE source = 'auto' AND "
                                 "channel = 'phone' AND data = '{}' AND type = 'call.ended'"),
                     2);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE data = '{\"ring\":2}' AND "
                                 "actor = 'ann'"),
                     1);
    /* Generated keys differ. */
    assert_int_equal(count(f->s, "SELECT count(DISTINCT source_id) FROM events WHERE source = "
                                 "'auto'"),
                     2);
}

static void
test_append_in_tx(void **state)
{
    struct fixture *f = *state;
    struct smile_err err;
    int64_t id = 0, id2 = 0;
    struct ledger_event ev = {.type = "case.assigned",
                              .occurred_at = 946684800000,
                              .subject = "case:9",
                              .actor = "bob",
                              .source = "crm",
                              .source_id = "case:9:assign:1"};
    struct ledger_event bad = ev;

    smile_err_clear(&err);
    /* Rolled back: nothing stays. */
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(f->s, &ev, &id, &err), SMILE_OK);
    assert_true(id > 0);
    store_rollback(f->s);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 0);
    /* Committed; the same key again in a later transaction answers the same id. */
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(f->s, &ev, &id, &err), SMILE_OK);
    assert_int_equal(store_commit(f->s, &err), SMILE_OK);
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(f->s, &ev, &id2, &err), SMILE_OK);
    assert_int_equal(store_commit(f->s, &err), SMILE_OK);
    assert_int_equal(id2, id);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE channel = 'web'"), 1);
    /* Invalid: refused before any SQL. */
    bad.type = "case.lost";
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(f->s, &bad, &id2, &err), SMILE_EINVAL);
    assert_pointers(&err, 1, "/type");
    store_rollback(f->s);
    /* Outside a transaction: a programming error, reported. */
    smile_err_clear(&err);
    assert_int_equal(ledger_append_in_tx(f->s, &ev, &id2, &err), SMILE_EINTERNAL);
}

/* Asynchronous appends: callbacks counted under a lock the test waits on. */
struct async_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc[5];
    struct ledger *l;
    struct ledger_event chained;
    struct ledger_result chained_r;
    struct smile_err chained_err;
};

struct async_slot {
    struct async_wait *w;
    int i;
};

static void
on_done(int rc, void *ud)
{
    struct async_slot *s = ud;

    pthread_mutex_lock(&s->w->mu);
    s->w->rc[s->i] = rc;
    s->w->done++;
    pthread_cond_broadcast(&s->w->cv);
    pthread_mutex_unlock(&s->w->mu);
}

/* Request 2's callback appends again from the committer thread: it must not deadlock. */
static void
on_done_chain(int rc, void *ud)
{
    static struct async_slot next;
    struct async_slot *s = ud;

    next = (struct async_slot){s->w, 4};
    smile_err_clear(&s->w->chained_err);
    if (ledger_append_async(s->w->l, &s->w->chained, 1, &s->w->chained_r, &s->w->chained_err,
                            on_done, &next) != SMILE_OK)
        fail_msg("chained append refused");
    on_done(rc, ud);
}

static void
test_append_async(void **state)
{
    struct fixture *f = *state;
    struct smile_err err[4];
    struct async_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct async_slot slot[4];
    struct ledger_event e0[2] = {
        {.type = "email.received",
         .occurred_at = 946684800000,
         .subject = "thread:<a@x>",
         .source = "mail",
         .source_id = "<a@x>"},
        {.type = "email.received",
         .occurred_at = 946684800000,
         .subject = "thread:<a@x>",
         .source = "mail",
         .source_id = "<b@x>"},
    };
    struct ledger_event e1 = e0[0]; /* a duplicate of e0[0] */
    struct ledger_event e2 = {.type = "email.sent",
                              .occurred_at = 946684801000,
                              .subject = "thread:<a@x>",
                              .actor = "ann"};
    struct ledger_result r0[2], r1, r2;

    for (int i = 0; i < 4; i++) {
        smile_err_clear(&err[i]);
        slot[i] = (struct async_slot){&w, i};
    }
    assert_int_equal(ledger_open(f->path, NULL, &w.l, &err[0]), SMILE_OK);
    w.chained = (struct ledger_event){.type = "email.sent",
                                      .occurred_at = 946684802000,
                                      .subject = "thread:<a@x>",
                                      .source = "mail",
                                      .source_id = "<c@x>"};
    /* n == 0: answered at once. */
    assert_int_equal(ledger_append_async(w.l, NULL, 0, NULL, &err[3], on_done, &slot[3]), SMILE_OK);
    assert_int_equal(w.done, 1);
    /* Three requests queued without waiting; request 2's callback queues a fourth. */
    assert_int_equal(ledger_append_async(w.l, e0, 2, r0, &err[0], on_done, &slot[0]), SMILE_OK);
    assert_int_equal(ledger_append_async(w.l, &e1, 1, &r1, &err[1], on_done, &slot[1]), SMILE_OK);
    assert_int_equal(ledger_append_async(w.l, &e2, 1, &r2, &err[2], on_done_chain, &slot[2]),
                     SMILE_OK);
    pthread_mutex_lock(&w.mu);
    while (w.done < 5)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    for (int i = 0; i < 5; i++)
        assert_int_equal(w.rc[i], SMILE_OK);
    /* Queued in order, so request 1 sees request 0's event: a duplicate with its id. */
    assert_int_equal(r0[0].status, LEDGER_CREATED);
    assert_int_equal(r0[1].status, LEDGER_CREATED);
    assert_int_equal(r1.status, LEDGER_DUPLICATE);
    assert_int_equal(r1.id, r0[0].id);
    assert_int_equal(r2.status, LEDGER_CREATED);
    assert_int_equal(w.chained_r.status, LEDGER_CREATED);
    assert_true(w.chained_r.id > r2.id);
    ledger_close(w.l);
    /* <a@x>, <b@x>, the unkeyed email.sent and <c@x>. */
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE subject = 'thread:<a@x>'"), 4);
}

#define THREADS 16
#define PER_THREAD 100

struct worker {
    struct ledger *l;
    int t;
    int failures;
};

static void *
worker(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        char sid[32], subj[32];
        struct ledger_event ev = {.type = "visit.arrived",
                                  .occurred_at = 946684800000 + i,
                                  .subject = subj,
                                  .source = "kiosk",
                                  .source_id = sid};
        struct ledger_result r;
        struct smile_err err;

        snprintf(sid, sizeof(sid), "%d-%d", w->t, i);
        snprintf(subj, sizeof(subj), "visit:%d", w->t);
        smile_err_clear(&err);
        if (ledger_append(w->l, &ev, 1, &r, &err) != SMILE_OK || r.status != LEDGER_CREATED)
            w->failures++;
    }
    return NULL;
}

static void
test_group_commit_concurrent(void **state)
{
    struct fixture *f = *state;
    struct ledger *l;
    struct smile_err err;
    pthread_t th[THREADS];
    struct worker w[THREADS];
    struct ledger_stats st;

    smile_err_clear(&err);
    assert_int_equal(ledger_open(f->path, NULL, &l, &err), SMILE_OK);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.l = l, .t = i};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    ledger_stats(l, &st);
    /* 16 × 100 = 1600 appends answered; every event once. */
    assert_int_equal(st.requests, 1600);
    assert_int_equal(st.created, 1600);
    assert_true(st.groups >= 1 && st.groups <= 1600);
    assert_int_equal(st.queued, 0);
    assert_int_equal(ledger_check(l, &err), SMILE_OK);
    ledger_close(l);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 1600);
    assert_int_equal(count(f->s, "SELECT count(DISTINCT source_id) FROM events"), 1600);
}

/* A hook that holds the committer until the test opens the gate. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

static void
gate_hook(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct gate *g = ud;

    (void)evs;
    (void)n;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

struct one {
    struct ledger *l;
    const char *subject;
    const char *sid;
    int rc;
    struct ledger_result r;
};

static void *
append_one(void *arg)
{
    struct one *o = arg;
    struct ledger_event ev = {.type = "case.opened",
                              .occurred_at = 946684800000,
                              .subject = o->subject,
                              .source = "t",
                              .source_id = o->sid};
    struct smile_err err;

    smile_err_clear(&err);
    o->rc = ledger_append(o->l, &ev, 1, &o->r, &err);
    return NULL;
}

/* Waits until the queue holds n events and `syncing` requests are written but unanswered. */
static void
wait_state(struct ledger *l, size_t n, size_t syncing)
{
    struct ledger_stats st;

    for (int i = 0; i < 5000; i++) {
        ledger_stats(l, &st);
        if (st.queued == n && st.syncing == syncing)
            return;
        usleep(1000);
    }
    fail_msg("the queue never held %zu events with %zu requests syncing (now %zu, %zu)", n, syncing,
             st.queued, st.syncing);
}

static void
test_busy_and_isolated_failure(void **state)
{
    struct fixture *f = *state;
    struct ledger *l;
    struct smile_err err;
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct ledger_options opt = {.queue_max = 4, .group_max = 100};
    struct one first = {.subject = "case:1", .sid = "first"};
    struct one filler = {.subject = "case:0", .sid = "filler"};
    struct one o[3] = {{.subject = "case:2", .sid = "b"},
                       {.subject = "case:poison", .sid = "c"},
                       {.subject = "case:3", .sid = "d"}};
    pthread_t t0, tf, th[3];
    struct ledger_event two[2] = {
        {.type = "case.opened", .occurred_at = 946684800000, .subject = "case:8"},
        {.type = "case.opened", .occurred_at = 946684800000, .subject = "case:9"}};
    struct ledger_result r[5];
    struct ledger_stats st;

    smile_err_clear(&err);
    /* The database refuses any event about case:poison (a stand-in for a failing write). */
    assert_int_equal(store_exec(f->s,
                                "CREATE TRIGGER poison BEFORE INSERT ON events WHEN "
                                "NEW.subject = 'case:poison' BEGIN SELECT RAISE(ABORT, "
                                "'poisoned'); END",
                                &err),
                     SMILE_OK);
    assert_int_equal(ledger_open(f->path, &opt, &l, &err), SMILE_OK);
    ledger_on_commit(l, gate_hook, &g);
    /* 1. The first append commits and its hook holds the completer. */
    first.l = l;
    pthread_create(&t0, NULL, append_one, &first);
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* 2. The committer writes one more group meanwhile (the filler), which then waits for
     * the completer: two requests syncing, none queued. */
    filler.l = l;
    pthread_create(&tf, NULL, append_one, &filler);
    wait_state(l, 0, 2);
    /* 3. Three single appends queue up behind them (3 of the 4 places): the committer
     * keeps at most one written group waiting. */
    for (int i = 0; i < 3; i++) {
        o[i].l = l;
        pthread_create(&th[i], NULL, append_one, &o[i]);
        wait_state(l, (size_t)i + 1, 2);
    }
    assert_int_equal(ledger_check(l, &err), SMILE_OK);
    /* 4. Two more do not fit (3 + 2 > 4): refused at once, not queued. Five can never fit. */
    assert_int_equal(ledger_append(l, two, 2, r, &err), SMILE_EBUSY);
    assert_int_equal(err.code, SMILE_EBUSY);
    assert_int_equal(ledger_append(l, two, 5, r, &err), SMILE_ETOOBIG);
    /* 5. Open the gate: the three form one group, which fails on case:poison; each is
     * retried alone, so b and d are written and only c fails. */
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t0, NULL);
    pthread_join(tf, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(first.rc, SMILE_OK);
    assert_int_equal(filler.rc, SMILE_OK);
    assert_int_equal(o[0].rc, SMILE_OK);
    assert_int_equal(o[1].rc, SMILE_ECONFLICT); /* RAISE(ABORT) is a constraint failure */
    assert_int_equal(o[2].rc, SMILE_OK);
    assert_int_equal(o[0].r.status, LEDGER_CREATED);
    assert_true(o[0].r.id > filler.r.id && filler.r.id > first.r.id);
    ledger_stats(l, &st);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.groups, 3); /* first, the filler, then the group of three */
    assert_int_equal(st.created, 4);
    assert_int_equal(st.syncing, 0);
    ledger_close(l);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 4);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE subject = 'case:poison'"), 0);
}

/*
 * With a pool (the server's set-up) the writer runs synchronous=NORMAL and the group syncs
 * the WAL itself: every hook call and every answer comes after a sync that began after
 * the events' COMMIT. The hook records the pool's sync count when it runs; the sync count
 * before the append is lower. Under the same pool a CRM-style store_commit() is durable
 * too: its call returns only after a further sync.
 */
struct sync_probe {
    struct store_pool *pool;
    uint64_t syncs_seen;
    int calls;
};

static void
sync_hook(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct sync_probe *p = ud;
    struct store_pool_stats ps;

    (void)evs;
    (void)n;
    store_pool_stats(p->pool, &ps);
    p->syncs_seen = ps.syncs;
    p->calls++;
}

static void
test_pool_sync_before_answer(void **state)
{
    struct fixture *f = *state;
    struct store_pool *pool;
    struct store *s;
    struct ledger *l;
    struct smile_err err;
    struct ledger_options opt = {.pool = NULL};
    struct store_pool_stats before, after;
    struct sync_probe probe = {0};
    struct ledger_event ev = {.type = "visit.arrived",
                              .occurred_at = 946684800000,
                              .subject = "visit:1",
                              .source = "kiosk",
                              .source_id = "k1"};
    struct ledger_result r;
    uint64_t ticket;
    int64_t n;

    smile_err_clear(&err);
    assert_int_equal(store_pool_open(f->path, 2, &pool, &err), SMILE_OK);
    store_pool_stats(pool, &before);
    assert_true(before.sync_outside); /* the -wal file exists: the group syncs it */
    assert_int_equal(before.syncs, 0);
    opt.pool = pool;
    probe.pool = pool;
    assert_int_equal(ledger_open(f->path, &opt, &l, &err), SMILE_OK);
    ledger_on_commit(l, sync_hook, &probe);
    assert_int_equal(ledger_append(l, &ev, 1, &r, &err), SMILE_OK);
    assert_int_equal(r.status, LEDGER_CREATED);
    assert_int_equal(probe.calls, 1);
    assert_true(probe.syncs_seen >= before.syncs + 1);
    /* The split commit of a pooled connection: a ticket, visible at once to a reader of the
     * pool, durable after the wait. */
    s = store_pool_acquire(pool);
    assert_int_equal(store_begin(s, &err), SMILE_OK);
    assert_int_equal(store_exec(s,
                                "INSERT INTO events (type, occurred_at, received_at, subject, "
                                "channel, source, source_id) VALUES ('visit.left', 946684801000, "
                                "946684801000, 'visit:1', 'counter', 'kiosk', 'k2')",
                                &err),
                     SMILE_OK);
    store_pool_stats(pool, &before);
    assert_int_equal(store_commit_start(s, &ticket, &err), SMILE_OK);
    assert_true(ticket > 0);
    assert_int_equal(store_wait_durable(s, ticket, &err), SMILE_OK);
    store_pool_stats(pool, &after);
    assert_true(after.syncs >= before.syncs + 1);
    assert_true(after.commits >= before.commits + 1);
    /* Waiting again for a ticket already durable returns at once, with no further sync. */
    assert_int_equal(store_wait_durable(s, ticket, &err), SMILE_OK);
    store_pool_stats(pool, &before);
    assert_int_equal(before.syncs, after.syncs);
    assert_int_equal(store_query_int64(s, "SELECT count(*) FROM events", &n, &err), SMILE_OK);
    assert_int_equal(n, 2);
    store_pool_release(pool, s);
    ledger_close(l);
    store_pool_close(pool);
    /* A standalone connection commits and syncs in store_commit_start: ticket 0. */
    assert_int_equal(store_begin(f->s, &err), SMILE_OK);
    assert_int_equal(store_exec(f->s, "DELETE FROM events WHERE source_id = 'k2'", &err), SMILE_OK);
    assert_int_equal(store_commit_start(f->s, &ticket, &err), SMILE_OK);
    assert_int_equal(ticket, 0);
    assert_int_equal(store_wait_durable(f->s, ticket, &err), SMILE_OK);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events"), 1);
}

/*
 * The pool's ways of keeping short writers from waiting on a long one. A connection waiting
 * in store_begin_bulk() shows as store_bulk_waiting() on every connection of the pool (the
 * runtime's fold checks it between subjects). An eager connection's store_commit_start()
 * commits its generation at once though another writer waits to enter, so its sync does
 * not wait for that writer's transaction: here the other writer holds the writer until the
 * eager one's wait returns, or 3 s — without eager commits the wait would take those 3 s.
 * And a long writer (the runtime's) commits the generation others left open before it
 * begins, with the same 3 s test.
 */
struct holder {
    struct store *s;
    const char *sql; /* what it writes once in */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, release, timed_out;
    int rc;
};

static void *
hold_writer(void *arg)
{
    struct holder *h = arg;
    struct smile_err err;
    struct timespec ts;

    smile_err_clear(&err);
    h->rc = store_begin_bulk(h->s, &err);
    pthread_mutex_lock(&h->mu);
    h->entered = true;
    pthread_cond_broadcast(&h->cv);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3;
    while (!h->release && !h->timed_out)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
            h->timed_out = true;
    pthread_mutex_unlock(&h->mu);
    if (h->rc == SMILE_OK) {
        h->rc = store_exec(h->s, h->sql, &err);
        if (h->rc == SMILE_OK)
            h->rc = store_commit(h->s, &err);
    }
    return NULL;
}

/* The holder entered and still holds the writer (no 3 s timeout): let it commit, join. */
static void
release_holder(struct holder *h, pthread_t t)
{
    pthread_mutex_lock(&h->mu);
    assert_true(h->entered);
    assert_false(h->timed_out);
    h->release = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(t, NULL);
    assert_int_equal(h->rc, SMILE_OK);
}

static bool
wait_bulk(struct store *s)
{
    for (int i = 0; i < 5000 && !store_bulk_waiting(s); i++)
        usleep(1000);
    return store_bulk_waiting(s);
}

static void
test_pool_bulk_and_eager(void **state)
{
    struct fixture *f = *state;
    struct store_pool *pool;
    struct store *a, *b;
    struct smile_err err;
    struct holder h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t t;
    uint64_t ticket;

    smile_err_clear(&err);
    assert_int_equal(store_pool_open(f->path, 2, &pool, &err), SMILE_OK);
    assert_int_equal(store_pool_open_member(pool, &a, &err), SMILE_OK);
    assert_int_equal(store_pool_open_member(pool, &b, &err), SMILE_OK);
    assert_false(store_bulk_waiting(a));
    assert_false(store_bulk_waiting(f->s)); /* not in a pool: never */

    /* a writes; b waits in store_begin_bulk and is seen waiting from a. */
    store_set_commit_eager(a, true);
    assert_int_equal(store_begin(a, &err), SMILE_OK);
    assert_int_equal(store_exec(a,
                                "INSERT INTO events (type, occurred_at, received_at, subject, "
                                "channel, source, source_id) VALUES ('visit.arrived', "
                                "946684800000, 946684800000, 'visit:2', 'counter', 'kiosk', "
                                "'eager')",
                                &err),
                     SMILE_OK);
    h.s = b;
    h.sql = "INSERT INTO events (type, occurred_at, received_at, subject, channel, source, "
            "source_id) VALUES ('visit.left', 946684802000, 946684802000, 'visit:2', 'counter', "
            "'kiosk', 'held')";
    assert_int_equal(pthread_create(&t, NULL, hold_writer, &h), 0);
    assert_true(wait_bulk(a));
    /* a's commit is not left open for b: b enters and holds the writer, a's wait returns. */
    assert_int_equal(store_commit_start(a, &ticket, &err), SMILE_OK);
    assert_true(ticket > 0);
    pthread_mutex_lock(&h.mu);
    while (!h.entered)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    assert_false(store_bulk_waiting(a));
    assert_int_equal(store_wait_durable(a, ticket, &err), SMILE_OK);
    release_holder(&h, t);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE subject = 'visit:2'"), 2);

    /* A long writer entering commits the generation a (not eager now) left open, so a's
     * wait returns while the long writer holds the writer. */
    store_set_commit_eager(a, false);
    store_set_long_writer(b, true);
    h.entered = h.release = h.timed_out = false;
    h.sql = "INSERT INTO events (type, occurred_at, received_at, subject, channel, source, "
            "source_id) VALUES ('visit.left', 946684803000, 946684803000, 'visit:3', 'counter', "
            "'kiosk', 'held-long')";
    assert_int_equal(store_begin(a, &err), SMILE_OK);
    assert_int_equal(store_exec(a,
                                "INSERT INTO events (type, occurred_at, received_at, subject, "
                                "channel, source, source_id) VALUES ('visit.arrived', "
                                "946684800000, 946684800000, 'visit:3', 'counter', 'kiosk', "
                                "'before-long')",
                                &err),
                     SMILE_OK);
    assert_int_equal(pthread_create(&t, NULL, hold_writer, &h), 0);
    assert_true(wait_bulk(a));
    assert_int_equal(store_commit_start(a, &ticket, &err), SMILE_OK);
    assert_true(ticket > 0);
    assert_int_equal(store_wait_durable(a, ticket, &err), SMILE_OK);
    release_holder(&h, t);
    assert_int_equal(count(f->s, "SELECT count(*) FROM events WHERE subject IN ('visit:2', "
                                 "'visit:3')"),
                     4);
    store_close(a);
    store_close(b);
    store_pool_close(pool);
}

static void
test_list(void **state)
{
    struct fixture *f = *state;
    struct ledger *l;
    struct smile_err err;
    struct ledger_result r[5];
    /* Times in seconds after 2000-01-01: 30, 10, 20, 20, 40; subjects a, b, a, a, a. */
    struct ledger_event evs[5] = {
        {.type = "case.opened", .occurred_at = 946684830000, .subject = "case:a"},
        {.type = "case.opened", .occurred_at = 946684810000, .subject = "case:b"},
        {.type = "case.assigned", .occurred_at = 946684820000, .subject = "case:a"},
        {.type = "case.replied", .occurred_at = 946684820000, .subject = "case:a"},
        {.type = "case.closed", .occurred_at = 946684840000, .subject = "case:a"},
    };
    struct ledger_query q = {.from = INT64_MIN, .to = INT64_MAX, .limit = 2};
    json_t *page;
    bool more;
    int64_t at, id;

    smile_err_clear(&err);
    assert_int_equal(ledger_open(f->path, NULL, &l, &err), SMILE_OK);
    assert_int_equal(ledger_append(l, evs, 5, r, &err), SMILE_OK);
    ledger_close(l);
    /* By (occurred_at, id): e1 (10 s), e2 (20 s), e3 (20 s, later id), e0 (30 s), e4. */
    assert_int_equal(ledger_list(f->s, &q, &page, &more, &at, &id, &err), SMILE_OK);
    assert_true(more);
    assert_int_equal(json_array_size(page), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 0), "id")), r[1].id);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 1), "id")), r[2].id);
    assert_int_equal(id, r[2].id);
    json_decref(page);
    /* Next page from the cursor (e2): e3, e0. */
    q.has_cursor = true;
    q.after_at = at;
    q.after_id = id;
    assert_int_equal(ledger_list(f->s, &q, &page, &more, &at, &id, &err), SMILE_OK);
    assert_true(more);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 0), "id")), r[3].id);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 1), "id")), r[0].id);
    json_decref(page);
    q.after_at = at;
    q.after_id = id;
    assert_int_equal(ledger_list(f->s, &q, &page, &more, &at, &id, &err), SMILE_OK);
    assert_false(more);
    assert_int_equal(json_array_size(page), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 0), "id")), r[4].id);
    json_decref(page);
    /* Subject a, from 20 s (inclusive) to 40 s (exclusive): e2, e3, e0. */
    q = (struct ledger_query){
        .subject = "case:a", .from = 946684820000, .to = 946684840000, .limit = 10};
    assert_int_equal(ledger_list(f->s, &q, &page, &more, &at, &id, &err), SMILE_OK);
    assert_false(more);
    assert_int_equal(json_array_size(page), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 2), "id")), r[0].id);
    json_decref(page);
    /* Type filter: only e3. */
    q = (struct ledger_query){
        .type = "case.replied", .from = INT64_MIN, .to = INT64_MAX, .limit = 10};
    assert_int_equal(ledger_list(f->s, &q, &page, &more, &at, &id, &err), SMILE_OK);
    assert_int_equal(json_array_size(page), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(page, 0), "occurred_at")),
                        "2000-01-01T00:00:20.000Z");
    json_decref(page);
    /* One event; and a missing one. */
    assert_int_equal(ledger_get(f->s, r[4].id, &page, &err), SMILE_OK);
    assert_string_equal(json_string_value(json_object_get(page, "type")), "case.closed");
    json_decref(page);
    assert_int_equal(ledger_get(f->s, r[4].id + 100, &page, &err), SMILE_ENOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_event),
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_occurred_at),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_data_canonical),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_render_and_cursor),
        cmocka_unit_test_setup_teardown(test_append_idempotent, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_append_in_tx, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_append_async, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_group_commit_concurrent, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_busy_and_isolated_failure, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_pool_sync_before_answer, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_pool_bulk_and_eager, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_list, setup_db, teardown_db),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
