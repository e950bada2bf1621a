/*
 * auth_cache.c — the resolved-credential cache behind auth_resolve() (see auth_cache.h):
 * a direct-mapped table of AUTH_CACHE_SLOTS entries indexed by the credential's SHA-256
 * (uniform, so its first bytes are a fine slot number), one mutex held only to copy an
 * entry in or out, and a generation counter that every invalidation bumps. A collision
 * replaces the older entry; a miss only costs the database reads the server did anyway.
 */
#include "http/auth_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static struct auth_cache_entry slots[AUTH_CACHE_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t generation = 1;
static _Atomic int64_t ttl = AUTH_CACHE_TTL_MS;
static _Thread_local uint64_t request_gen;
static _Thread_local bool request_invalidated;

void
auth_cache_set_ttl(int64_t ttl_ms)
{
    atomic_store(&ttl, ttl_ms < 0 ? 0 : ttl_ms);
    auth_cache_invalidate();
}

static size_t
slot_of(const unsigned char *hash)
{
    return ((size_t)hash[0] | (size_t)hash[1] << 8) & (AUTH_CACHE_SLOTS - 1);
}

bool
auth_cache_get(int kind, const unsigned char hash[AUTH_CACHE_HASH_BYTES], int64_t now,
               struct auth_cache_entry *out)
{
    struct auth_cache_entry *e = &slots[slot_of(hash)];
    int64_t t = atomic_load(&ttl);
    bool hit;

    if (t == 0)
        return false;
    pthread_mutex_lock(&mu);
    hit = e->kind == kind && e->gen == atomic_load(&generation) && now >= e->cached_at &&
          now - e->cached_at < t && memcmp(e->hash, hash, AUTH_CACHE_HASH_BYTES) == 0;
    if (hit)
        *out = *e;
    pthread_mutex_unlock(&mu);
    return hit;
}

void
auth_cache_put(const struct auth_cache_entry *e, uint64_t gen, int64_t now)
{
    struct auth_cache_entry *s = &slots[slot_of(e->hash)];

    if (atomic_load(&ttl) == 0)
        return;
    pthread_mutex_lock(&mu);
    /* Checked under the lock: an invalidation that bumps first is seen here. */
    if (gen == atomic_load(&generation)) {
        *s = *e;
        s->cached_at = now;
        s->gen = gen;
    }
    pthread_mutex_unlock(&mu);
}

void
auth_cache_invalidate(void)
{
    pthread_mutex_lock(&mu);
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&mu);
    request_invalidated = true;
}

uint64_t
auth_cache_generation(void)
{
    return atomic_load(&generation);
}

void
auth_cache_request_begin(void)
{
    request_gen = atomic_load(&generation);
    request_invalidated = false;
}

uint64_t
auth_cache_request_gen(void)
{
    return request_gen;
}

void
auth_cache_request_end(void)
{
    if (request_invalidated)
        auth_cache_invalidate();
    request_invalidated = false;
}
