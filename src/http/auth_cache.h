/*
 * auth_cache.h — an in-process cache of resolved API tokens and sessions, so that a request
 * with a known bearer token or session cookie costs one SHA-256 and a table look-up instead
 * of two SQLite reads (credential, user). Entries live a short TTL (AUTH_CACHE_TTL_MS).
 *
 * Invalidation within this process is explicit and immediate: auth_cache_invalidate() is
 * called wherever a token is revoked, a session ends or a user's role, team or state
 * changes. Another process's change (the CLI's `smile token revoke`, `smile user disable`)
 * reaches a running server's cache only when the entry's TTL runs out: within 2 s.
 *
 * Races with a commit: every entry carries the cache generation read when its request
 * began (auth_cache_request_begin(), before the request's first SQL statement); any
 * invalidation bumps the generation, and an entry whose generation is not the current one
 * is neither stored nor returned. A writer invalidates when it changes the rows and again
 * after its transaction committed (auth_cache_request_end()), so a request that read the
 * old rows before the commit cannot store them afterwards.
 */
#ifndef SMILE_AUTH_CACHE_H
#define SMILE_AUTH_CACHE_H

#include "base/base.h"

#define AUTH_CACHE_TTL_MS 2000
#define AUTH_CACHE_SLOTS 1024 /* direct-mapped by the credential hash; a power of two */
#define AUTH_CACHE_HASH_BYTES 32

enum auth_cache_kind { AUTH_CACHE_TOKEN = 1, AUTH_CACHE_SESSION = 2 };

struct auth_cache_entry {
    unsigned char hash[AUTH_CACHE_HASH_BYTES]; /* SHA-256 of the presented secret */
    int kind;                                  /* enum auth_cache_kind */
    int64_t id;                                /* api_tokens.id or sessions.id */
    int64_t user_id;
    char username[65];
    int role;
    int64_t team_id;
    unsigned scopes;    /* effective: the token's scopes & the role's */
    char csrf[48];      /* sessions only */
    int64_t touched_at; /* last_used_at / last_seen_at as stored */
    int64_t expires_at; /* sessions: when the session ends (absolute or idle); tokens: max */
    int64_t cached_at;  /* set by auth_cache_put */
    uint64_t gen;       /* set by auth_cache_put */
};

/* Sets the TTL in ms (0 turns the cache off: every get misses, every put is dropped). */
void auth_cache_set_ttl(int64_t ttl_ms);

/*
 * Copies the entry for (kind, hash) into *out if there is one of the current generation,
 * cached less than the TTL before now. The caller still checks expiry and touch times.
 */
bool auth_cache_get(int kind, const unsigned char hash[AUTH_CACHE_HASH_BYTES], int64_t now,
                    struct auth_cache_entry *out);

/* Stores e (at now) unless gen is no longer the current generation. */
void auth_cache_put(const struct auth_cache_entry *e, uint64_t gen, int64_t now);

/* Makes every entry stale at once; marks this thread's request as having invalidated. */
void auth_cache_invalidate(void);

/* The current generation. */
uint64_t auth_cache_generation(void);

/*
 * Request bracket, called by the router on the request's thread: begin before the first
 * SQL statement records the generation (auth_cache_request_gen() returns it); end after
 * the handler returned (its transaction committed) invalidates again if the handler did.
 */
void auth_cache_request_begin(void);
uint64_t auth_cache_request_gen(void);
void auth_cache_request_end(void);

#endif
