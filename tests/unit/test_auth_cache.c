/*
 * test_auth_cache.c — unit tests of the resolved-credential cache (http/auth_cache.c):
 * hit and miss by kind and hash, the TTL boundary, invalidation by generation (including
 * a put under a generation older than an invalidation, the commit race of auth_cache.h),
 * the request bracket, slot collisions, and TTL 0 turning it off. Times are chosen by
 * hand; the reasoning is in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/auth_cache.h"

/* A hash whose first two bytes (the slot: little-endian, mod 1024) are lo, hi. */
static void
entry(struct auth_cache_entry *e, int kind, unsigned char lo, unsigned char hi, unsigned char tag,
      int64_t user_id)
{
    memset(e, 0, sizeof(*e));
    e->hash[0] = lo;
    e->hash[1] = hi;
    e->hash[31] = tag;
    e->kind = kind;
    e->id = 7;
    e->user_id = user_id;
    memcpy(e->username, "li.na", 6);
    e->role = 2;
    e->team_id = 3;
    e->scopes = 0x5;
    e->expires_at = INT64_MAX;
}

static int
setup(void **state)
{
    (void)state;
    auth_cache_set_ttl(AUTH_CACHE_TTL_MS); /* also invalidates: each test starts empty */
    return 0;
}

static void
test_hit_and_ttl(void **state)
{
    struct auth_cache_entry e, got;
    uint64_t gen = auth_cache_generation();

    (void)state;
    entry(&e, AUTH_CACHE_TOKEN, 1, 0, 9, 42);
    auth_cache_put(&e, gen, 10000);
    /* Cached at 10,000 ms with a 2,000 ms TTL: alive at 10,000 and at 11,999, gone at
     * 12,000 (now - cached_at = 2,000 is not < 2,000). */
    assert_true(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 10000, &got));
    assert_int_equal(got.user_id, 42);
    assert_string_equal(got.username, "li.na");
    assert_int_equal(got.team_id, 3);
    assert_int_equal(got.scopes, 0x5);
    assert_int_equal(got.cached_at, 10000);
    assert_true(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 11999, &got));
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 12000, &got));
    /* A clock that went back before the put is not trusted either. */
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 9999, &got));
}

static void
test_kind_and_hash_must_match(void **state)
{
    struct auth_cache_entry e, other, got;

    (void)state;
    entry(&e, AUTH_CACHE_TOKEN, 2, 0, 9, 42);
    auth_cache_put(&e, auth_cache_generation(), 5000);
    /* Same hash as a session: a token's hash never resolves a cookie. */
    assert_false(auth_cache_get(AUTH_CACHE_SESSION, e.hash, 5000, &got));
    /* Same slot (first bytes 2, 0) but another last byte: a different credential. */
    entry(&other, AUTH_CACHE_TOKEN, 2, 0, 10, 43);
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, other.hash, 5000, &got));
    /* Slot 2 + 1024: bytes 2, 4 (4·256 = 1024) map to slot 2 as well and replace e. */
    entry(&other, AUTH_CACHE_TOKEN, 2, 4, 9, 44);
    auth_cache_put(&other, auth_cache_generation(), 5001);
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 5001, &got));
    assert_true(auth_cache_get(AUTH_CACHE_TOKEN, other.hash, 5001, &got));
    assert_int_equal(got.user_id, 44);
}

static void
test_invalidate(void **state)
{
    struct auth_cache_entry e, got;
    uint64_t gen = auth_cache_generation();

    (void)state;
    entry(&e, AUTH_CACHE_SESSION, 3, 0, 1, 42);
    auth_cache_put(&e, gen, 1000);
    assert_true(auth_cache_get(AUTH_CACHE_SESSION, e.hash, 1000, &got));
    auth_cache_invalidate();
    /* Still well within the TTL, but of an older generation. */
    assert_false(auth_cache_get(AUTH_CACHE_SESSION, e.hash, 1001, &got));
    assert_int_equal(auth_cache_generation(), gen + 1);
    /* The commit race: a request that began under gen read the rows before the revoke
     * committed; its put after the invalidation is dropped. */
    auth_cache_put(&e, gen, 1002);
    assert_false(auth_cache_get(AUTH_CACHE_SESSION, e.hash, 1002, &got));
    /* A request that began after it stores and finds its entry. */
    auth_cache_put(&e, gen + 1, 1003);
    assert_true(auth_cache_get(AUTH_CACHE_SESSION, e.hash, 1003, &got));
}

static void
test_request_bracket(void **state)
{
    uint64_t gen;

    (void)state;
    /* A request that changes nothing leaves the generation alone. */
    auth_cache_request_begin();
    gen = auth_cache_request_gen();
    assert_int_equal(gen, auth_cache_generation());
    auth_cache_request_end();
    assert_int_equal(auth_cache_generation(), gen);
    /* One that revokes: +1 when it writes, +1 again after its commit (the end) = gen + 2. */
    auth_cache_request_begin();
    auth_cache_invalidate();
    auth_cache_request_end();
    assert_int_equal(auth_cache_generation(), gen + 2);
    /* The next request starts clean: its end adds nothing. */
    auth_cache_request_begin();
    auth_cache_request_end();
    assert_int_equal(auth_cache_generation(), gen + 2);
}

static void
test_ttl_zero_turns_off(void **state)
{
    struct auth_cache_entry e, got;

    (void)state;
    auth_cache_set_ttl(0);
    entry(&e, AUTH_CACHE_TOKEN, 4, 0, 1, 42);
    auth_cache_put(&e, auth_cache_generation(), 1000);
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 1000, &got));
    /* Back on: the put made while off was dropped, so still nothing. */
    auth_cache_set_ttl(AUTH_CACHE_TTL_MS);
    assert_false(auth_cache_get(AUTH_CACHE_TOKEN, e.hash, 1000, &got));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hit_and_ttl, setup),
        cmocka_unit_test_setup(test_kind_and_hash_must_match, setup),
        cmocka_unit_test_setup(test_invalidate, setup),
        cmocka_unit_test_setup(test_request_bracket, setup),
        cmocka_unit_test_setup(test_ttl_zero_turns_off, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
