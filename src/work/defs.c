/*
 * defs.c — the work part's per-thread cache of definitions: published process versions
 * compiled once (they never change) with each step's clock kind read from the canonical
 * document, and the runtime's compiled calendars (runtime_defs, refreshed when a calendar
 * or version changes). The inbox and the CRM hooks run on request threads, so each thread
 * keeps its own cache (a pthread key frees it when the thread ends); nothing is shared.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "store/store.h"
#include "work/work_int.h"

struct work_defs {
    struct runtime_defs *rt;
    struct work_version *v;
    size_t n;
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
defs_free(void *p)
{
    struct work_defs *d = p;

    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        engine_process_unref(d->v[i].p);
        free(d->v[i].business);
    }
    free(d->v);
    runtime_defs_free(d->rt);
    free(d);
}

static void
key_make(void)
{
    (void)pthread_key_create(&key, defs_free);
}

struct work_defs *
work_defs_get(struct store *s, struct smile_err *err)
{
    struct work_defs *d;

    pthread_once(&once, key_make);
    d = pthread_getspecific(key);
    if (d == NULL) {
        d = xcalloc(1, sizeof(*d));
        d->rt = runtime_defs_new();
        pthread_setspecific(key, d);
    }
    if (runtime_defs_refresh(d->rt, s, err) != SMILE_OK)
        return NULL;
    /* Calendars may have been rebuilt: re-bind each version's calendar. */
    for (size_t i = 0; i < d->n; i++)
        d->v[i].cal =
            d->v[i].p ? runtime_defs_calendar(d->rt, engine_process_calendar(d->v[i].p)) : NULL;
    return d;
}

const struct calendar *
work_defs_calendar(struct work_defs *d, const char *name)
{
    return runtime_defs_calendar(d->rt, name);
}

/* Reads steps[i].standard.time of the canonical document: "business" or "wall". */
static bool *
business_flags(const char *doc, size_t nsteps)
{
    json_t *j = json_loads(doc, 0, NULL), *steps = json_object_get(j, "steps");
    bool *b = xcalloc(nsteps ? nsteps : 1, sizeof(*b));

    for (size_t i = 0; i < nsteps && i < json_array_size(steps); i++) {
        const char *t = json_string_value(
            json_object_get(json_object_get(json_array_get(steps, i), "standard"), "time"));
        b[i] = t == NULL || strcmp(t, "wall") != 0;
    }
    json_decref(j);
    return b;
}

const struct work_version *
work_defs_version(struct work_defs *d, struct store *s, int64_t pid, int number,
                  struct smile_err *err)
{
    static const char sql[] =
        "SELECT document FROM process_versions WHERE process_id = $1 AND number = $2";
    struct work_version v = {.process_id = pid, .number = number};
    struct store_stmt *st;
    int rc;

    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].process_id == pid && d->v[i].number == number)
            return &d->v[i];
    if (store_prepare(s, sql, &st, err) != SMILE_OK)
        return NULL;
    store_stmt_bind_int64(st, 1, pid);
    store_stmt_bind_int64(st, 2, number);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        const char *doc = store_stmt_text(st, 0);
        struct smile_err e2;

        smile_err_clear(&e2);
        if (doc && engine_process_compile(doc, strlen(doc), &v.p, &e2) == SMILE_OK)
            v.business = business_flags(doc, engine_process_nsteps(v.p));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW)
        return NULL;
    v.cal = v.p ? runtime_defs_calendar(d->rt, engine_process_calendar(v.p)) : NULL;
    d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
    d->v[d->n] = v;
    return &d->v[d->n++];
}
