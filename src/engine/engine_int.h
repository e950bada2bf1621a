/*
 * engine_int.h — the compiled form of a process, shared by the engine's own files
 * (process.c compiles and serialises it, fold.c runs it) and nobody else's.
 *
 * Matchers are precompiled: event types are interned to small ints (a per-process hash
 * table), field paths are pre-split, and for every type id the process keeps the list of
 * (step, condition, matcher) entries that can fire on it, ordered by step and then by
 * condition precedence (reset, done, cancel, pause, resume, start). The fold looks up the
 * type once per event and walks only that list.
 */
#ifndef SMILE_ENGINE_INT_H
#define SMILE_ENGINE_INT_H

#include "engine/engine.h"

/* Clock conditions, in the order they are applied to a step for one event. */
enum cond { COND_RESET, COND_DONE, COND_CANCEL, COND_PAUSE, COND_RESUME, COND_START, COND_COUNT };

enum field {
    FIELD_SUBJECT,
    FIELD_ACTOR,
    FIELD_CUSTOMER,
    FIELD_CHANNEL,
    FIELD_DATA, /* data.<seg>[.<seg>…] */
};

struct path {
    enum field field;
    uint8_t depth;              /* segments after "data" */
    char *text;                 /* "data.queue" (owned) */
    char *seg[ENGINE_MAX_PATH]; /* owned */
};

enum test_op {
    TEST_EQ,
    TEST_IN,
    TEST_EXISTS,
};

struct test {
    struct path path;
    enum test_op op;
    bool exists;   /* TEST_EXISTS: true = present and not null */
    json_t *value; /* TEST_EQ: the value; TEST_IN: the array (owned references) */
};

struct matcher {
    int step_ref; /* >= 0: fires when that step is done ({"step_done": key}); -1: event */
    uint32_t ntypes;
    int32_t *types; /* interned ids */
    uint32_t ntests;
    struct test *tests;
    bool has_per;
    struct path per; /* event field that must equal the occurrence's per value */
};

struct cond_list {
    uint32_t n;
    struct matcher *m;
};

struct warn {
    bool left;       /* "<duration> left" */
    double fraction; /* of the target, 0 < f < 1 */
    struct engine_duration dur;
};

struct step {
    char *key;
    char *title_en;
    char *title_zh; /* may be NULL */
    char *function;
    char *description; /* may be NULL */
    struct cond_list cond[COND_COUNT];
    bool at_trigger; /* no starts_on: starts with the instance */
    bool repeat;
    bool has_per;
    struct path per;
    struct engine_duration within;
    bool business;
    uint32_t nwarn;
    struct warn warn[ENGINE_MAX_WARN];
    enum engine_charge charge;
    bool has_excl;
    struct engine_duration excl;
    enum engine_outcome cancel_else; /* ENGINE_EXCLUDED or ENGINE_BREACHED */
    uint32_t nesc;                   /* escalation rules (the fold ignores them) */
    struct engine_escalation esc[ENGINE_MAX_ESCALATE]; /* .to is owned */
};

struct owner_rule {
    struct matcher on;
    bool has_actor, has_team;
    struct path actor, team;
};

/* One dispatch entry: on an event of some type (or a step's done signal), test matcher m
 * of condition cond of step. */
struct entry {
    uint16_t step;
    uint8_t cond;
    const struct matcher *m;
};

struct engine_process {
    int refs;
    char *name;
    char *calendar;
    char *description; /* may be NULL */
    int version;
    int64_t published_at;
    struct matcher trigger;
    uint32_t nown;
    struct owner_rule *own;
    uint32_t nsteps;
    struct step *steps;
    /* interning */
    uint32_t ntypes;
    char **types;
    uint32_t *type_len;
    uint32_t hmask;
    int32_t *hslot; /* -1 empty, else type id */
    /* dispatch */
    uint32_t *type_first; /* ntypes + 1 offsets into entries */
    struct entry *entries;
    uint32_t *sig_first; /* nsteps + 1 offsets into sig_entries */
    struct entry *sig_entries;
    uint8_t *type_flags; /* TYPE_OWNER | TYPE_TRIGGER */
};

#define TYPE_OWNER 1u
#define TYPE_TRIGGER 2u

int32_t engine_type_lookup(const struct engine_process *p, const char *type);
bool engine_matcher_match(const struct engine_process *p, const struct matcher *m,
                          const struct engine_event *ev);
/* The string value of path in ev, or NULL if absent or not a string. */
const char *engine_path_string(const struct path *path, const struct engine_event *ev);

#endif
