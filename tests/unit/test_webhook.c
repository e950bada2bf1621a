/*
 * test_webhook.c — unit tests of src/webhook: the signature (checked against an
 * HMAC-SHA256 written here from RFC 2104 over libsodium's plain SHA-256, itself checked
 * against the RFC 4231 test vectors), the retry back-off schedule, event-type filters, the
 * URL check, the payload text, and the enqueue step on a real SQLite file (each event
 * enqueued once per matching active subscription, the cursor advanced with it). Expected
 * values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "base/secret.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "webhook/webhook.h"

/* HMAC-SHA256 by its definition (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)), with K
 * zero-padded to the 64-byte block (keys here are shorter than a block). */
static void
hmac_ref(const unsigned char *key, size_t klen, const unsigned char *msg, size_t mlen, char hex[65])
{
    unsigned char k[64] = {0}, inner[32], out[32];
    crypto_hash_sha256_state st;
    unsigned char pad[64];

    assert_true(klen <= 64);
    memcpy(k, key, klen);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, pad, 64);
    crypto_hash_sha256_update(&st, msg, mlen);
    crypto_hash_sha256_final(&st, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, pad, 64);
    crypto_hash_sha256_update(&st, inner, 32);
    crypto_hash_sha256_final(&st, out);
    sodium_bin2hex(hex, 65, out, 32);
}

static void
test_hmac_reference_rfc4231(void **state)
{
    unsigned char k1[20];
    char hex[65];

    (void)state;
    assert_true(sodium_init() >= 0);
    /* RFC 4231 test case 1: key 20 × 0x0b, data "Hi There". */
    memset(k1, 0x0b, sizeof(k1));
    hmac_ref(k1, sizeof(k1), (const unsigned char *)"Hi There", 8, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". */
    hmac_ref((const unsigned char *)"Jefe", 4,
             (const unsigned char *)"what do ya want for nothing?", 28, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_sign(void **state)
{
    const char *secret = "whsec_0123456789abcdef";
    const char *body = "{\"id\":7,\"event\":{\"type\":\"case.opened\"},\"webhook_id\":3}";
    char got[65], want[65], hdr[WEBHOOK_SIG_MAX], exp[WEBHOOK_SIG_MAX], prev[65];
    struct buf signed_text;

    (void)state;
    /* The signed text is "<t>.<body>" (Stripe's scheme), keyed with the secret's bytes. */
    buf_init(&signed_text, 0);
    buf_printf(&signed_text, "1700000000.%s", body);
    hmac_ref((const unsigned char *)secret, strlen(secret), (const unsigned char *)signed_text.data,
             signed_text.len, want);
    webhook_sign(secret, 1700000000, body, strlen(body), got);
    assert_string_equal(got, want);
    /* t is part of the signed text: another second, another MAC. */
    webhook_sign(secret, 1700000001, body, strlen(body), got);
    assert_string_not_equal(got, want);
    /* The header: t, then v1 with the current secret, then v1 with the previous one. */
    webhook_signature_header(secret, NULL, 1700000000, body, strlen(body), hdr, sizeof(hdr));
    snprintf(exp, sizeof(exp), "t=1700000000,v1=%s", want);
    assert_string_equal(hdr, exp);
    hmac_ref((const unsigned char *)"whsec_old", 9, (const unsigned char *)signed_text.data,
             signed_text.len, prev);
    webhook_signature_header(secret, "whsec_old", 1700000000, body, strlen(body), hdr, sizeof(hdr));
    snprintf(exp, sizeof(exp), "t=1700000000,v1=%s,v1=%s", want, prev);
    assert_string_equal(hdr, exp);
    assert_true(strlen(hdr) < WEBHOOK_SIG_MAX);
    buf_free(&signed_text);
}

static void
test_backoff(void **state)
{
    (void)state;
    /* rnd 0: no jitter. base 10 s doubles per failed try: 10, 20, 40 s … */
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 1, 0), 10000);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 2, 0), 20000);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 3, 0), 40000);
    /* try 9: 10 s × 2^8 = 2,560 s; try 10 would be 5,120 s > 3,600 s: the cap. */
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 9, 0), 2560000);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 10, 0), 3600000);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 1000, 0), 3600000);
    /* tries < 1 counts as the first. */
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 0, 0), 10000);
    /* Jitter: a tenth of 10 s is 1,000 ms; rnd 2^31 is half of it (500), rnd 2^32 − 1 is
     * 1000 × (2^32 − 1) / 2^32 = 999.99… → 999. At the cap a tenth is 360 s: 3,959,999. */
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 1, UINT32_C(2147483648)), 10500);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 1, UINT32_MAX), 10999);
    assert_int_equal(webhook_backoff_ms(10000, 3600000, 50, UINT32_MAX), 3959999);
    /* A cap below the base caps the first try too. */
    assert_int_equal(webhook_backoff_ms(10000, 5000, 1, 0), 5000);
    /* The schedule the docs print: tries 1…24 of the defaults sum to
     * 10 × (2^9 − 1) = 5,110 s for tries 1–9 plus 15 × 3,600 = 54,000 s: 59,110 s. */
    int64_t sum = 0;
    for (int t = 1; t <= 24; t++)
        sum += webhook_backoff_ms(10000, 3600000, t, 0);
    assert_int_equal(sum, 59110000);
}

static void
test_patterns(void **state)
{
    static const char *const valid[] = {
        "*",           "case.*",       "sla.*",        "call.*",       "custom.*",
        "case.opened", "sla.breached", "custom.foo-1", "visit.arrived"};
    static const char *const invalid[] = {"",           "case",    "foo.*",        "case.bogus",
                                          "*.*",        "case.**", "Case.*",       "custom.",
                                          "custom.Foo", ".*",      "case.opened ", "sla"};
    static const char *const pats[] = {"case.*", "sla.breached"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid); i++)
        assert_true(webhook_pattern_valid(valid[i]));
    for (size_t i = 0; i < ARRAY_LEN(invalid); i++)
        assert_false(webhook_pattern_valid(invalid[i]));
    assert_true(webhook_pattern_match("*", "call.offered"));
    assert_true(webhook_pattern_match("case.*", "case.opened"));
    assert_false(webhook_pattern_match("case.*", "cases.opened")); /* "case." is no prefix */
    assert_false(webhook_pattern_match("case.*", "case"));
    assert_true(webhook_pattern_match("sla.breached", "sla.breached"));
    assert_false(webhook_pattern_match("sla.breached", "sla.warning"));
    assert_true(webhook_patterns_match(pats, 2, "case.resolved"));
    assert_true(webhook_patterns_match(pats, 2, "sla.breached"));
    assert_false(webhook_patterns_match(pats, 2, "sla.warning"));
    assert_false(webhook_patterns_match(pats, 0, "case.opened"));
}

static void
test_url(void **state)
{
    static const char *const ok[] = {"http://127.0.0.1:8080/hook", "https://example.com/a?b=c",
                                     "HTTPS://Example.com", "https://user:pw@hooks.example.cn/x"};
    static const char *const bad[] = {"",
                                      "ftp://example.com/",
                                      "http://",
                                      "https:///path",
                                      "http://exa mple.com/",
                                      "javascript:alert(1)",
                                      "http://example.com/#frag",
                                      "file:///etc/passwd",
                                      "example.com/hook",
                                      "http://example.com/\x01"};
    char big[WEBHOOK_MAX_URL + 16];
    struct smile_err err;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        smile_err_clear(&err);
        assert_int_equal(webhook_url_check(ok[i], "/url", &err), SMILE_OK);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        smile_err_clear(&err);
        assert_int_equal(webhook_url_check(bad[i], "/url", &err), SMILE_EINVAL);
        assert_int_equal(err.nfields, 1);
        assert_string_equal(err.fields[0].path, "/url");
    }
    /* 2,048 bytes pass, 2,049 do not: "http://a.cn/" is 12 bytes, then x's. */
    memcpy(big, "http://a.cn/", 12);
    memset(big + 12, 'x', WEBHOOK_MAX_URL - 12);
    big[WEBHOOK_MAX_URL] = '\0';
    smile_err_clear(&err);
    assert_int_equal(webhook_url_check(big, "/url", &err), SMILE_OK);
    big[WEBHOOK_MAX_URL] = 'x';
    big[WEBHOOK_MAX_URL + 1] = '\0';
    assert_int_equal(webhook_url_check(big, "/url", &err), SMILE_EINVAL);
}

static void
test_payload(void **state)
{
    json_t *ev = json_pack("{s:I, s:s}", "id", (json_int_t)41, "type", "case.opened");
    char *p = webhook_payload(7, 3, ev);

    (void)state;
    /* id, event, webhook_id in that order, compact. */
    assert_string_equal(
        p, "{\"id\":7,\"event\":{\"id\":41,\"type\":\"case.opened\"},\"webhook_id\":3}");
    free(p);
    json_decref(ev);
}

/* A real database ------------------------------------------------------------------------- */

struct db {
    char dir[64], path[96];
    struct store *s;
};

static void
db_open(struct db *d)
{
    struct smile_err err;

    snprintf(d->dir, sizeof(d->dir), "/tmp/test_webhook_XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof(d->path), "%s/s.db", d->dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(d->path, STORE_CREATE, &d->s, &err), SMILE_OK);
    assert_int_equal(store_migrate(d->s, &err), SMILE_OK);
}

static void
db_close(struct db *d)
{
    char p[128];

    store_close(d->s);
    unlink(d->path);
    snprintf(p, sizeof(p), "%s-wal", d->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", d->path);
    unlink(p);
    rmdir(d->dir);
}

static void
add_event(struct db *d, const char *type, const char *subject)
{
    struct ledger_event ev = {type, 1764400000000, subject, NULL, NULL, NULL, NULL, NULL, NULL};
    struct smile_err err;
    int64_t id;

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(d->s, &ev, &id, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static int64_t
add_hook(struct db *d, const char *json)
{
    struct smile_err err;
    json_t *body = json_loads(json, 0, NULL), *out = NULL;
    int64_t id;

    smile_err_clear(&err);
    assert_non_null(body);
    assert_int_equal(webhook_create(d->s, NULL, body, &out, &err), SMILE_OK);
    id = json_integer_value(json_object_get(out, "id"));
    /* The secret: "whsec_" and 64 hex digits, shown on create only. */
    assert_int_equal(strlen(json_string_value(json_object_get(out, "secret"))), 70);
    json_decref(out);
    json_decref(body);
    return id;
}

static int64_t
count(struct db *d, const char *sql)
{
    struct smile_err err;
    int64_t n = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(d->s, sql, &n, &err), SMILE_OK);
    return n;
}

static void
test_enqueue(void **state)
{
    struct db d;
    struct smile_err err;
    int64_t nev = 0, ndel = 0;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    /* Event 1 comes before any subscription: nobody gets it. */
    add_event(&d, "case.opened", "case:1");
    add_hook(&d, "{\"url\": \"http://127.0.0.1:9/a\", \"event_types\": [\"case.*\"]}");
    add_hook(&d, "{\"url\": \"http://127.0.0.1:9/b\", \"event_types\": [\"sla.*\", "
                 "\"case.resolved\"]}");
    add_hook(&d, "{\"url\": \"http://127.0.0.1:9/c\", \"event_types\": [\"*\"], "
                 "\"active\": false}");
    /* Events 2–5. Hook a (case.*) gets 2, 3, 5; hook b (sla.*, case.resolved) gets 3, 4;
     * hook c is inactive. 3 + 2 = 5 deliveries. */
    add_event(&d, "case.opened", "case:2");    /* 2: a */
    add_event(&d, "case.resolved", "case:1");  /* 3: a, b */
    add_event(&d, "sla.warning", "case:2");    /* 4: b */
    add_event(&d, "case.assigned", "case:2");  /* 5: a */
    add_event(&d, "call.offered", "call:1.1"); /* 6: none */
    /* The cursor started at 0 (empty ledger at migration); a batch of 2 reads events 1–2. */
    assert_int_equal(webhook_enqueue(d.s, 2, 1764400000000, &nev, &ndel, &err), SMILE_OK);
    assert_int_equal(nev, 2);
    assert_int_equal(ndel, 1); /* event 2 → a */
    assert_int_equal(count(&d, "SELECT last_event_id FROM webhook_cursor"), 2);
    assert_int_equal(webhook_enqueue(d.s, 500, 1764400000000, &nev, &ndel, &err), SMILE_OK);
    assert_int_equal(nev, 4);
    assert_int_equal(ndel, 4); /* 3 → a, b; 4 → b; 5 → a */
    assert_int_equal(count(&d, "SELECT last_event_id FROM webhook_cursor"), 6);
    /* Caught up: nothing read, nothing written. */
    assert_int_equal(webhook_enqueue(d.s, 500, 1764400000000, &nev, &ndel, &err), SMILE_OK);
    assert_int_equal(nev, 0);
    assert_int_equal(ndel, 0);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries"), 5);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = 1"), 3);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = 2"), 2);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"),
                     5);
    /* A cursor moved back (a crash between insert and cursor cannot happen: same
     * transaction; this forces it) inserts no duplicate: UNIQUE (webhook_id, event_id). */
    assert_int_equal(store_exec(d.s, "UPDATE webhook_cursor SET last_event_id = 0", &err),
                     SMILE_OK);
    assert_int_equal(webhook_enqueue(d.s, 500, 1764400000000, &nev, &ndel, &err), SMILE_OK);
    assert_int_equal(nev, 6);
    assert_int_equal(ndel, 0);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries"), 5);
    db_close(&d);
}

static void
test_no_subscribers_skip(void **state)
{
    struct db d;
    struct smile_err err;
    int64_t nev = 0, ndel = 0;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    for (int i = 0; i < 3; i++)
        add_event(&d, "case.opened", "case:9");
    /* No subscription: the cursor jumps to the newest event (3), reporting 3 passed. */
    assert_int_equal(webhook_enqueue(d.s, 1, 1764400000000, &nev, &ndel, &err), SMILE_OK);
    assert_int_equal(nev, 3);
    assert_int_equal(ndel, 0);
    assert_int_equal(count(&d, "SELECT last_event_id FROM webhook_cursor"), 3);
    db_close(&d);
}

static void
test_create_validation(void **state)
{
    struct db d;
    struct smile_err err;
    json_t *body, *out = NULL;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    body = json_loads("{\"url\": \"ftp://x\", \"event_types\": [\"case.*\", \"nope.*\", "
                      "\"case.*\"], \"active\": 1, \"secret\": \"mine\", \"color\": 1}",
                      0, NULL);
    assert_int_equal(webhook_create(d.s, NULL, body, &out, &err), SMILE_EINVAL);
    assert_null(out);
    /* One problem per bad field, each with its pointer (object key order: as written). */
    assert_int_equal(err.nfields, 6);
    assert_string_equal(err.fields[0].path, "/url");
    assert_string_equal(err.fields[1].path, "/event_types/1");
    assert_string_equal(err.fields[2].path, "/event_types/2"); /* duplicate */
    assert_string_equal(err.fields[3].path, "/active");
    assert_string_equal(err.fields[4].path, "/secret");
    assert_string_equal(err.fields[5].path, "/color");
    assert_int_equal(count(&d, "SELECT count(*) FROM webhooks"), 0);
    assert_int_equal(count(&d, "SELECT count(*) FROM audit"), 0);
    json_decref(body);
    db_close(&d);
}

static void
test_prune(void **state)
{
    struct db d;
    struct smile_err err;
    int64_t n = -1;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    add_hook(&d, "{\"url\": \"http://127.0.0.1:9/a\", \"event_types\": [\"*\"]}");
    /* Five deliveries last changed at 100, 100, 100, 300, 100 ms: delivered, failed,
     * pending, delivered (too new), delivered; attempts on 1 (two), 3 and 4. Pruning
     * before 200 deletes 1, 2 and 5 (finished and old) with 1's two attempts; 3 stays
     * (pending, whatever its age) and 4 stays (new). */
    assert_int_equal(
        store_exec(d.s,
                   "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, status, "
                   "next_at, created_at, updated_at) VALUES "
                   "(1, 1, 1, 'case.opened', 'delivered', 0, 0, 100), "
                   "(2, 1, 2, 'case.opened', 'failed', 0, 0, 100), "
                   "(3, 1, 3, 'case.opened', 'pending', 0, 0, 100), "
                   "(4, 1, 4, 'case.opened', 'delivered', 0, 0, 300), "
                   "(5, 1, NULL, 'webhook.ping', 'delivered', 0, 0, 100);"
                   "INSERT INTO webhook_attempts (delivery_id, started_at, duration_ms) VALUES "
                   "(1, 0, 1), (1, 0, 1), (3, 0, 1), (4, 0, 1);",
                   &err),
        SMILE_OK);
    assert_int_equal(webhook_log_prune(d.s, 200, &n, &err), SMILE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_deliveries"), 2);
    assert_int_equal(count(&d, "SELECT sum(id) FROM webhook_deliveries"), 3 + 4);
    assert_int_equal(count(&d, "SELECT count(*) FROM webhook_attempts"), 2);
    assert_int_equal(count(&d, "SELECT sum(delivery_id) FROM webhook_attempts"), 3 + 4);
    db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_reference_rfc4231),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_enqueue),
        cmocka_unit_test(test_no_subscribers_skip),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_prune),
    };
    struct secret_key key;

    /* Signing secrets are sealed at rest (src/base/secret.h): the process key, as at start. */
    secret_key_generate(&key);
    secret_key_install(&key);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
