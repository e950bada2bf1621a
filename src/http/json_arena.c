/*
 * json_arena.c — a bump allocator for the jansson tree of one large request body.
 *
 * A batch of 1,000 events parses into ~20,000 jansson allocations, and freeing the tree
 * again is as many free() calls: glibc's malloc and free were ~15% of the batch path's CPU
 * (BENCHMARKS.md, sixth session). While a thread is inside json_arena_begin() /
 * json_arena_end(), jansson's allocations are cut from the arena's slots instead, free()
 * of them is a no-op, and json_arena_free() hands the slots back in one step.
 *
 * jansson has one allocator for the whole process (json_set_alloc_funcs), and strings it
 * returns (json_dumps) are released with free() all over Smile, so every allocation made
 * outside an arena must stay a plain malloc() pointer. The free function tells the two
 * apart by address: arena slots are cut from one region reserved at install time, so a
 * pointer inside it is an arena's and anything else goes to free().
 *
 * Slots are SLOT_SIZE bytes, taken from a free stack; an allocation of more than half a
 * slot, or one made when the region is used up, falls back to malloc() (freed normally).
 * Up to WARM_SLOTS released slots keep their pages; the rest are returned to the kernel
 * (MADV_DONTNEED), so the resident cost is bounded by the warm slots plus what requests
 * hold at the moment. Under AddressSanitizer a released slot is poisoned, so a tree used
 * after its arena was freed is reported as it would be with malloc.
 */
#include "http/json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/base.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLOT_SIZE ((size_t)1 << 20)
#define NSLOTS 256 /* 256 MiB of address space, reserved, not committed */
#define WARM_SLOTS 8
#define ARENA_MAX_SLOTS 64 /* per arena: beyond 64 MiB a tree goes to malloc */
#define ALIGN 16

struct json_arena {
    int slots[ARENA_MAX_SLOTS];
    int nslots;
    char *next, *end; /* the free part of the newest slot */
};

static char *region; /* set once by json_arena_install, before threads start */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int free_stack[NSLOTS];
static int nfree;
static bool warm[NSLOTS];
static int nwarm; /* released slots that kept their pages */
static _Thread_local struct json_arena *current;

static void *
arena_malloc(size_t n)
{
    struct json_arena *a = current;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;

    if (a == NULL || need > SLOT_SIZE / 2 || need == 0)
        return malloc(n);
    if ((size_t)(a->end - a->next) < need) {
        int s = -1;

        if (a->nslots == ARENA_MAX_SLOTS)
            return malloc(n);
        pthread_mutex_lock(&mu);
        if (nfree > 0) {
            s = free_stack[--nfree];
            if (warm[s]) {
                warm[s] = false;
                nwarm--;
            }
        }
        pthread_mutex_unlock(&mu);
        if (s < 0)
            return malloc(n);
        a->slots[a->nslots++] = s;
        a->next = region + (size_t)s * SLOT_SIZE;
        a->end = a->next + SLOT_SIZE;
        UNPOISON(a->next, SLOT_SIZE); /* poisoned when an arena last released it */
    }
    p = a->next;
    a->next += need;
    return p;
}

static void
arena_free(void *p)
{
    if ((uintptr_t)p - (uintptr_t)region < (uintptr_t)NSLOTS * SLOT_SIZE)
        return; /* an arena's: released with the arena */
    free(p);
}

bool
json_arena_install(void)
{
    void *r;

    if (region)
        return true;
    r = mmap(NULL, NSLOTS * SLOT_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return false; /* jansson keeps malloc; arenas then hold nothing */
    region = r;
    for (int i = 0; i < NSLOTS; i++)
        free_stack[i] = NSLOTS - 1 - i; /* slot 0 on top: the same few slots stay warm */
    nfree = NSLOTS;
    json_set_alloc_funcs(arena_malloc, arena_free);
    return true;
}

struct json_arena *
json_arena_new(void)
{
    return xcalloc(1, sizeof(struct json_arena));
}

void
json_arena_begin(struct json_arena *a)
{
    current = region ? a : NULL;
}

void
json_arena_end(void)
{
    current = NULL;
}

void
json_arena_free(struct json_arena *a)
{
    if (a == NULL)
        return;
    /* The newest slot is pushed last, so it is reused first. */
    for (int i = 0; i < a->nslots; i++) {
        int s = a->slots[i];
        char *p = region + (size_t)s * SLOT_SIZE;
        bool keep;

        POISON(p, SLOT_SIZE);
        pthread_mutex_lock(&mu);
        keep = nwarm < WARM_SLOTS;
        if (keep) {
            warm[s] = true;
            nwarm++;
            free_stack[nfree++] = s;
        }
        pthread_mutex_unlock(&mu);
        if (keep)
            continue;
        /* Before the slot is on the stack: nobody else may be writing to it yet. */
        madvise(p, SLOT_SIZE, MADV_DONTNEED);
        pthread_mutex_lock(&mu);
        free_stack[nfree++] = s;
        pthread_mutex_unlock(&mu);
    }
    free(a);
}

size_t
json_arena_slots(const struct json_arena *a)
{
    return a ? (size_t)a->nslots : 0;
}
