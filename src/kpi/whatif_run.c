/*
 * whatif_run.c — the database edge of the what-if replay: loads the process (its draft and
 * published versions through the runtime's records), compiles the draft (problems under
 * "/draft"), resolves each side's calendar as the runtime does, then streams every event
 * of the subjects active in the period, ordered by subject and time, one subject at a time
 * into the pure core (whatif.c), which folds it through both sides from that one read.
 * Read only: it opens no transaction and writes nothing. The events are read with one
 * statement in the order of the events_subject index; an event's data (JSON) is parsed only
 * when its type is one whose data the processes read (a data.* path in a matcher, an
 * ownership rule or a step of that type), and with a customer_tag filter only the subjects
 * whose customer (the first event naming one) has the tag are folded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "crm/crm.h"
#include "crm/record.h"
#include "kpi/whatif.h"
#include "runtime/records.h"
#include "runtime/runtime.h"
#include "store/store.h"

/* Strings of one subject's events: chunks that never move, reset per subject. */
struct pool {
    char **chunks;
    size_t nchunks, used, top; /* top: bytes used in the last chunk in use */
    char **big;                /* strings too long for a chunk, freed on reset */
    size_t nbig, capbig;
};

#define POOL_CHUNK 65536

/* The most of the database file the replay maps (SQLite caps it at 2 GiB by default). */
#define WHATIF_MMAP_BYTES "2147418112"

static const char *
pool_dup(struct pool *p, const char *s)
{
    size_t n;
    char *d;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    if (n > POOL_CHUNK / 4) {
        if (p->nbig == p->capbig) {
            p->capbig = p->capbig ? p->capbig * 2 : 8;
            p->big = xrealloc(p->big, p->capbig * sizeof(*p->big));
        }
        p->big[p->nbig] = xmalloc(n);
        memcpy(p->big[p->nbig], s, n);
        return p->big[p->nbig++];
    }
    if (p->used == 0 || p->top + n > POOL_CHUNK) {
        if (p->used == p->nchunks) {
            p->chunks = xrealloc(p->chunks, (p->nchunks + 1) * sizeof(*p->chunks));
            p->chunks[p->nchunks++] = xmalloc(POOL_CHUNK);
        }
        p->used++;
        p->top = 0;
    }
    d = p->chunks[p->used - 1] + p->top;
    memcpy(d, s, n);
    p->top += n;
    return d;
}

static void
pool_reset(struct pool *p)
{
    for (size_t i = 0; i < p->nbig; i++)
        free(p->big[i]);
    p->nbig = 0;
    p->used = 0;
    p->top = 0;
}

static void
pool_free(struct pool *p)
{
    pool_reset(p);
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->big);
}

/* Which events' data the processes read ------------------------------------------------ */

/* Event types whose data a fold may read; all: every type's (a data.* path the scan cannot
 * tie to event types). */
struct needs {
    bool all;
    char **types;
    size_t n;
};

/* Does the subtree name an event field under data (a key or a string "data.…")? */
static bool
reads_data(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    if (json_is_string(v))
        return strncmp(json_string_value(v), "data.", 5) == 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (reads_data(x)) return true;
        return false;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k,
                            x) if (strncmp(k, "data.", 5) == 0 || reads_data(x)) return true;
    }
    return false;
}

static void
needs_add(struct needs *nd, const char *type)
{
    for (size_t i = 0; i < nd->n; i++)
        if (strcmp(nd->types[i], type) == 0)
            return;
    nd->types = xrealloc(nd->types, (nd->n + 1) * sizeof(*nd->types));
    nd->types[nd->n++] = xstrdup(type);
}

/* Adds every event type the subtree's matchers name; a matcher on another step's end
 * ("step_done") brings events of types the scope cannot see, so it means all. */
static void
needs_types(struct needs *nd, const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    if (json_is_array(v)) {
        json_array_foreach(v, i, x) needs_types(nd, x);
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (strcmp(k, "type") == 0 && json_is_string(x)) {
                needs_add(nd, json_string_value(x));
            } else if (strcmp(k, "type") == 0 && json_is_array(x)) {
                size_t j;
                json_t *t;
                json_array_foreach(x, j, t) if (json_is_string(t))
                    needs_add(nd, json_string_value(t));
            } else if (strcmp(k, "step_done") == 0) {
                nd->all = true;
            } else {
                needs_types(nd, x);
            }
        }
    }
}

/*
 * Scans the canonical form of p (every default spelled out, e.g. the default ownership rule
 * on case.assigned): a trigger, an ownership rule or a step that reads data needs the data
 * of every event type it names (a step: all its matchers' types, which over-approximates
 * but never misses, e.g. repeat "per": "data.agent" read from the starting events); a
 * data path anywhere else needs every event's data.
 */
static void
needs_scan(struct needs *nd, const struct engine_process *p)
{
    char *js = engine_process_to_json(p);
    json_t *doc = json_loads(js, 0, NULL), *v, *x;
    const char *k;
    size_t i;

    free(js);
    if (doc == NULL) {
        nd->all = true;
        return;
    }
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "trigger") == 0) {
            if (reads_data(v))
                needs_types(nd, v);
        } else if (strcmp(k, "ownership") == 0 || strcmp(k, "steps") == 0) {
            json_array_foreach(v, i, x) if (reads_data(x)) needs_types(nd, x);
        } else if (strcmp(k, "description") != 0 && strcmp(k, "name") != 0 && reads_data(v)) {
            nd->all = true;
        }
    }
    json_decref(doc);
}

static void
needs_free(struct needs *nd)
{
    for (size_t i = 0; i < nd->n; i++)
        free(nd->types[i]);
    free(nd->types);
}

/* The customer_tag filter --------------------------------------------------------------- */

/* Customers seen so far and whether they carry the tag (open addressing on the id). */
struct tagf {
    const char *tag; /* NULL: no filter */
    struct store *s;
    int64_t *ids;
    signed char *has; /* -1 empty slot */
    size_t cap, n;
};

static bool
customer_has_tag(struct tagf *tf, const char *tag, int64_t id)
{
    struct crm_ctx cx = {.db = tf->s};
    struct smile_err e2;
    json_t *cust = NULL, *t;
    bool has = false;
    size_t i;

    smile_err_clear(&e2);
    if (crm_record_load(&cx, &crm_customers, id, &cust, &e2) != SMILE_OK)
        return false;
    json_array_foreach(json_object_get(cust, "tags"), i,
                       t) if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0) has =
        true;
    json_decref(cust);
    return has;
}

static void
tagf_put(struct tagf *tf, int64_t id, signed char has)
{
    size_t m = tf->cap - 1, i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & m;

    while (tf->has[i] >= 0)
        i = (i + 1) & m;
    tf->ids[i] = id;
    tf->has[i] = has;
}

/* Is the subject's customer (the first of its events naming a customer id) tagged? */
static bool
tagf_pass(struct tagf *tf, const struct engine_event *ev, size_t n)
{
    int64_t id = 0;
    size_t m, i;

    if (tf->tag == NULL)
        return true;
    for (i = 0; i < n && id <= 0; i++)
        if (ev[i].customer == NULL || str_to_int64(str_from(ev[i].customer), &id) != SMILE_OK)
            id = 0;
    if (id <= 0)
        return false;
    if (tf->cap == 0 || (tf->n + 1) * 10 > tf->cap * 7) {
        int64_t *oids = tf->ids;
        signed char *ohas = tf->has;
        size_t ocap = tf->cap;

        tf->cap = tf->cap ? tf->cap * 2 : 1024;
        tf->ids = xmalloc(tf->cap * sizeof(*tf->ids));
        tf->has = xmalloc(tf->cap);
        memset(tf->has, 0xff, tf->cap);
        for (size_t k = 0; k < ocap; k++)
            if (ohas[k] >= 0)
                tagf_put(tf, oids[k], ohas[k]);
        free(oids);
        free(ohas);
    }
    m = tf->cap - 1;
    for (i = (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & m; tf->has[i] >= 0;
         i = (i + 1) & m)
        if (tf->ids[i] == id)
            return tf->has[i] == 1;
    {
        bool has = customer_has_tag(tf, tf->tag, id);

        tagf_put(tf, id, has ? 1 : 0);
        tf->n++;
        return has;
    }
}

static void
tagf_free(struct tagf *tf)
{
    free(tf->ids);
    free(tf->has);
}

struct subject {
    char *name;
    struct engine_event *ev;
    size_t n, cap;
    int64_t last;
    bool active; /* an event in the period */
};

static void
subject_clear(struct subject *sj, struct pool *p)
{
    for (size_t i = 0; i < sj->n; i++)
        json_decref(sj->ev[i].data);
    sj->n = 0;
    sj->last = INT64_MIN;
    sj->active = false;
    free(sj->name);
    sj->name = NULL;
    pool_reset(p);
}

/* Folds the collected subject and clears it (the query's ORDER BY keeps events sorted). */
static void
flush(struct kpi_whatif *w, struct subject *sj, struct pool *p, struct tagf *tf, int64_t horizon)
{
    if (sj->n && sj->active && tagf_pass(tf, sj->ev, sj->n))
        kpi_whatif_subject(w, sj->ev, sj->n, sj->last > horizon ? sj->last : horizon);
    subject_clear(sj, p);
}

/* Up to this many event types' data is read by name; more means every event's. */
#define NEED_SLOTS 8

/*
 * Binds $1 = 1 when every event's data is needed, else $2 … $9 = the types whose data is
 * (NULL for the unused slots): the statements read data only where "CASE" says, so an event
 * of another type is read off the index alone.
 */
static void
bind_needs(struct store_stmt *st, const struct needs *nd)
{
    bool all = nd->all || nd->n > NEED_SLOTS;

    store_stmt_bind_int64(st, 1, all ? 1 : 0);
    for (size_t i = 0; i < NEED_SLOTS; i++)
        store_stmt_bind_text(st, 2 + (int)i, !all && i < nd->n ? nd->types[i] : NULL, -1);
}

/*
 * The two reads, each in events_subject order (the index holds every column but data):
 * the whole ledger, keeping the subjects with an event in the period (when the period holds
 * a good part of the ledger: no subject list to build), or the subjects of the period only.
 */
static const char sql_all[] =
    "SELECT subject, id, type, occurred_at, actor, customer, channel,"
    " CASE WHEN $1 = 1 OR type IN ($2, $3, $4, $5, $6, $7, $8, $9) THEN data END"
    " FROM events ORDER BY subject, occurred_at, id";
static const char sql_period[] =
    "SELECT subject, id, type, occurred_at, actor, customer, channel,"
    " CASE WHEN $1 = 1 OR type IN ($2, $3, $4, $5, $6, $7, $8, $9) THEN data END"
    " FROM events WHERE subject IN (SELECT subject FROM events WHERE occurred_at >= $10"
    " AND occurred_at < $11) ORDER BY subject, occurred_at, id";

/* The id of the first (first true) or last event of the period by time, 0 if none: two
 * seeks on events_time. */
static int64_t
edge_id(struct store *s, int64_t from, int64_t to, bool first)
{
    static const char first_sql[] = "SELECT id FROM events WHERE occurred_at >= $1 AND"
                                    " occurred_at < $2 ORDER BY occurred_at, id LIMIT 1";
    static const char last_sql[] = "SELECT id FROM events WHERE occurred_at >= $1 AND"
                                   " occurred_at < $2 ORDER BY occurred_at DESC, id DESC LIMIT 1";
    struct store_stmt *st;
    struct smile_err e2;
    int64_t id = 0;

    smile_err_clear(&e2);
    if (store_prepare(s, first ? first_sql : last_sql, &st, &e2) != SMILE_OK)
        return 0;
    store_stmt_bind_int64(st, 1, from);
    store_stmt_bind_int64(st, 2, to);
    if (store_stmt_step(st, &e2) == STORE_ROW)
        id = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return id;
}

/*
 * Reading the whole ledger costs about a sixth of reading through the period's subject list
 * per event (bench_whatif): read it whole when the period holds a quarter of it or more.
 * Ids grow with time in a live ledger, so the ids of the period's first and last events
 * tell its share without counting (history imported later only skews the choice, never
 * what is read).
 */
static bool
read_whole(struct store *s, int64_t from, int64_t to)
{
    struct smile_err e2;
    int64_t total = 0, a = edge_id(s, from, to, true), b = edge_id(s, from, to, false);

    smile_err_clear(&e2);
    if (a <= 0 || b <= 0 ||
        store_query_int64(s, "SELECT coalesce(max(id), 0) FROM events", &total, &e2) != SMILE_OK)
        return false;
    return (b > a ? b - a + 1 : a - b + 1) * 4 >= total;
}

static int
replay_events(struct store *s, struct kpi_whatif *w, const struct needs *nd, struct tagf *tf,
              int64_t from, int64_t to, int64_t horizon, struct smile_err *err)
{
    struct store_stmt *st;
    struct subject sj;
    struct pool pool;
    const char *last_type = NULL; /* pool copy of the previous row's type */
    bool whole = read_whole(s, from, to);
    int rc = store_prepare(s, whole ? sql_all : sql_period, &st, err);

    if (rc != SMILE_OK)
        return rc;
    memset(&sj, 0, sizeof(sj));
    memset(&pool, 0, sizeof(pool));
    sj.last = INT64_MIN;
    bind_needs(st, nd);
    if (!whole) {
        store_stmt_bind_int64(st, 10, from);
        store_stmt_bind_int64(st, 11, to);
    }
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *subject = store_stmt_text(st, 0), *type = store_stmt_text(st, 2), *data;
        struct engine_event *e;

        if (sj.name == NULL || strcmp(sj.name, subject) != 0) {
            flush(w, &sj, &pool, tf, horizon);
            sj.name = xstrdup(subject);
            last_type = NULL;
        }
        if (sj.n == sj.cap) {
            sj.cap = sj.cap ? sj.cap * 2 : 16;
            sj.ev = xrealloc(sj.ev, sj.cap * sizeof(*sj.ev));
        }
        e = &sj.ev[sj.n++];
        e->id = store_stmt_int64(st, 1);
        if (last_type == NULL || strcmp(last_type, type) != 0)
            last_type = pool_dup(&pool, type);
        e->type = last_type;
        e->occurred_at = store_stmt_int64(st, 3);
        e->subject = sj.name;
        e->actor = pool_dup(&pool, store_stmt_text(st, 4));
        e->customer = pool_dup(&pool, store_stmt_text(st, 5));
        e->channel = pool_dup(&pool, store_stmt_text(st, 6));
        e->data = NULL;
        if ((data = store_stmt_text(st, 7)) != NULL && strcmp(data, "{}") != 0)
            e->data = json_loadb(data, store_stmt_bytes(st, 7), 0, NULL);
        if (e->occurred_at > sj.last)
            sj.last = e->occurred_at;
        if (e->occurred_at >= from && e->occurred_at < to)
            sj.active = true;
    }
    store_stmt_reset(st);
    if (rc == STORE_DONE) {
        flush(w, &sj, &pool, tf, horizon);
        rc = SMILE_OK;
    }
    subject_clear(&sj, &pool);
    free(sj.ev);
    pool_free(&pool);
    return rc;
}

/*
 * SQLite: maps the database file into memory for the replay (on) and unmaps it after (off).
 * The subject-ordered read seeks the events table all over; through the map each page is a
 * memory read instead of a pread into SQLite's small page cache. Other drivers: nothing.
 * Returns whether the map was set.
 */
static bool
map_db(struct store *s, bool on)
{
    struct smile_err e2;

    if (strcmp(store_driver_name(), "sqlite") != 0)
        return false;
    smile_err_clear(&e2);
    return store_exec(s, on ? "PRAGMA mmap_size=" WHATIF_MMAP_BYTES : "PRAGMA mmap_size=0", &e2) ==
           SMILE_OK;
}

/* Re-roots the draft's problems under /draft so the client finds them in its request. */
static void
prefix_draft(struct smile_err *err)
{
    for (int i = 0; i < err->nfields; i++) {
        char *path = err->fields[i].path;
        size_t n = strnlen(path, sizeof(err->fields[i].path) - 7);

        /* "/steps/0" → "/draft/steps/0" (cut to fit, which a real pointer never needs) */
        memmove(path + 6, path, n);
        memcpy(path, "/draft", 6);
        path[n + 6] = '\0';
    }
    if (err->nfields == 0)
        smile_err_field(err, "/draft", "%s", err->msg[0] ? err->msg : "is not a valid process");
}

/*
 * The live side's version pins of process_id (runtime_pins_of_process: subject → version)
 * as subject → index in nums, the live versions' numbers.
 */
static int
load_pins(struct store *s, int64_t process_id, json_t *nums, json_t **out, struct smile_err *err)
{
    json_t *byver, *v;
    const char *subject;
    int rc = runtime_pins_of_process(s, process_id, &byver, err);

    *out = json_object();
    if (rc != SMILE_OK)
        return rc;
    json_object_foreach(byver, subject, v)
    {
        size_t k;
        json_t *n;

        json_array_foreach(nums, k, n)
        {
            if (json_integer_value(n) == json_integer_value(v)) {
                json_object_set_new(*out, subject, json_integer((json_int_t)k));
                break;
            }
        }
    }
    json_decref(byver);
    return SMILE_OK;
}

int
kpi_whatif_run(struct store *s, int64_t process_id, json_t *draft, int64_t from, int64_t to,
               double target, const char *customer_tag, int64_t now_ms, json_t **out,
               struct smile_err *err)
{
    struct needs nd = {0};
    struct tagf tf = {.tag = customer_tag && customer_tag[0] ? customer_tag : NULL, .s = s};
    bool mapped;
    json_t *proc = NULL, *vers, *v, *nums = json_array(), *pins = NULL;
    struct engine_process **live = NULL, *dp = NULL;
    struct runtime_defs *defs = NULL;
    struct engine_calendar lcal, dcal;
    struct kpi_whatif *w = NULL;
    int64_t ring = 5000, horizon;
    size_t nlive = 0, i;
    int rc;

    *out = NULL;
    rc = runtime_process_get(s, process_id, &proc, NULL, err);
    if (rc != SMILE_OK)
        goto out;
    if (draft == NULL)
        draft = json_object_get(proc, "draft");
    if (!json_is_object(draft)) {
        rc = smile_err_field(err, "/draft", "must be a process document (an object)");
        goto out;
    }
    rc = engine_process_compile_json(draft, &dp, err);
    if (rc != SMILE_OK) {
        prefix_draft(err);
        err->code = rc = SMILE_EINVAL;
        goto out;
    }
    vers = json_object_get(proc, "versions");
    live = xcalloc(json_array_size(vers) + 1, sizeof(*live));
    json_array_foreach(vers, i, v)
    {
        json_t *one = NULL;
        struct smile_err e2;

        smile_err_clear(&e2);
        rc = runtime_process_version_get(
            s, process_id, json_integer_value(json_object_get(v, "number")), &one, err);
        if (rc != SMILE_OK)
            goto out;
        if (engine_process_compile_json(json_object_get(one, "document"), &live[nlive], &e2) ==
            SMILE_OK) {
            nlive++;
            json_array_append(nums, json_object_get(v, "number"));
        }
        json_decref(one);
    }
    defs = runtime_defs_new();
    if ((rc = runtime_defs_refresh(defs, s, err)) != SMILE_OK)
        goto out;
    {
        const struct calendar *lc =
            nlive ? runtime_defs_calendar(defs, engine_process_calendar(live[nlive - 1])) : NULL;
        const struct calendar *dc = runtime_defs_calendar(defs, engine_process_calendar(dp));

        lcal = lc ? engine_calendar_bind(lc) : engine_calendar_wall(&ring);
        dcal = dc ? engine_calendar_bind(dc) : engine_calendar_wall(&ring);
    }
    w = kpi_whatif_new(live, nlive, &lcal, dp, &dcal, from, to);
    if ((rc = load_pins(s, process_id, nums, &pins, err)) != SMILE_OK)
        goto out;
    kpi_whatif_set_pins(w, pins);
    horizon = to < now_ms ? to : now_ms;
    for (i = 0; i < nlive; i++)
        needs_scan(&nd, live[i]);
    needs_scan(&nd, dp);
    mapped = map_db(s, true);
    rc = replay_events(s, w, &nd, &tf, from, to, horizon, err);
    if (mapped)
        map_db(s, false);
    if (rc != SMILE_OK)
        goto out;
    *out = kpi_whatif_report(w, target);
    json_object_set_new(*out, "customer_tag", tf.tag ? json_string(tf.tag) : json_null());
    json_object_set_new(*out, "process",
                        json_pack("{s:I, s:O, s:O}", "id", (json_int_t)process_id, "name",
                                  json_object_get(proc, "name"), "live_versions", nums));
out:
    needs_free(&nd);
    tagf_free(&tf);
    kpi_whatif_free(w);
    runtime_defs_free(defs);
    for (size_t k = 0; k < nlive; k++)
        engine_process_unref(live[k]);
    free(live);
    engine_process_unref(dp);
    json_decref(proc);
    json_decref(nums);
    json_decref(pins);
    if (rc != SMILE_OK && err->code == SMILE_OK)
        err->code = rc;
    return rc;
}
