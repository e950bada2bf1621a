/*
 * json_arena.h — jansson trees of one request cut from an arena, released in one step
 * (json_arena.c). Usage: a = json_arena_new(); json_arena_begin(a); json_loadb(...);
 * json_arena_end(); ... json_decref(tree); json_arena_free(a). Only the tree's own
 * allocations made between begin and end (on that thread) come from the arena; a value
 * from the tree must not be kept past json_arena_free (copy it).
 */
#ifndef SMILE_HTTP_JSON_ARENA_H
#define SMILE_HTTP_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct json_arena;

/* Installs the arena-aware allocator into jansson; call once at start, before threads.
 * False if the address space could not be reserved (arenas then hold nothing). */
bool json_arena_install(void);
struct json_arena *json_arena_new(void);
/* This thread's jansson allocations come from a until json_arena_end(). */
void json_arena_begin(struct json_arena *a);
void json_arena_end(void);
/* After every tree allocated in a was json_decref'd. NULL is a no-op. */
void json_arena_free(struct json_arena *a);
/* Slots (1 MiB each) a holds: for tests. */
size_t json_arena_slots(const struct json_arena *a);

#endif
