/*
 * whatif.c — the pure core of the what-if replay: folds each subject's events through the
 * live versions and the draft of one process (engine_fold, two reusable results), counts
 * every occurrence that started in the period per step and per charged staff member on
 * each side, and renders the side-by-side report with deltas and the staff below a target
 * compliance. No I/O, no clock: kpi_whatif_run() (whatif_run.c) feeds it from the ledger,
 * bench/bench_whatif.c from memory.
 */
#include "kpi/whatif.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elapsed values of one bucket, for exact percentiles. */
struct vals {
    int64_t *v;
    size_t n, cap;
};

struct stat {
    int64_t count, met, breached, excluded, open;
    struct vals el; /* elapsed of met and breached occurrences */
};

struct staff {
    char *name;
    struct stat s[2];
};

/* The step slots of one process version: step index → slot in w->steps. */
struct slotmap {
    const struct engine_process *p;
    int *slot;
};

struct kpi_whatif {
    struct engine_process *const *live;
    size_t nlive;
    const struct engine_process *draft;
    const struct engine_calendar *cal[2];
    int64_t from, to;

    /* step slots: the union of step keys, live versions first */
    char **keys;
    const struct engine_process **key_proc; /* where the title comes from */
    size_t *key_idx;
    size_t nkeys;
    struct stat *steps[2]; /* [side][slot] */
    struct slotmap *maps;  /* nlive + 1 (the last is the draft) */

    struct stat total[2];
    int64_t instances[2];

    /* staff: open addressing on the username */
    struct staff *staff;
    size_t nstaff, capstaff;
    int32_t *table; /* index into staff, -1 empty */
    size_t tabcap;

    json_t *pins; /* subject → index in live[] (borrowed), or NULL */

    struct engine_result res;
    struct engine_event *buf; /* the subject's events without sla.* */
    size_t capbuf;
    int64_t events, subjects;
};

static void
vals_push(struct vals *v, int64_t x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
    }
    v->v[v->n++] = x;
}

static int
slot_of(struct kpi_whatif *w, const struct engine_process *p, size_t i)
{
    const char *key = engine_process_step_key(p, i);

    for (size_t k = 0; k < w->nkeys; k++)
        if (strcmp(w->keys[k], key) == 0)
            return (int)k;
    w->keys = xrealloc(w->keys, (w->nkeys + 1) * sizeof(*w->keys));
    w->key_proc = xrealloc(w->key_proc, (w->nkeys + 1) * sizeof(*w->key_proc));
    w->key_idx = xrealloc(w->key_idx, (w->nkeys + 1) * sizeof(*w->key_idx));
    w->keys[w->nkeys] = xstrdup(key);
    w->key_proc[w->nkeys] = p;
    w->key_idx[w->nkeys] = i;
    return (int)w->nkeys++;
}

static void
map_build(struct kpi_whatif *w, struct slotmap *m, const struct engine_process *p)
{
    size_t n = engine_process_nsteps(p);

    m->p = p;
    m->slot = xcalloc(n ? n : 1, sizeof(*m->slot));
    for (size_t i = 0; i < n; i++)
        m->slot[i] = slot_of(w, p, i);
}

struct kpi_whatif *
kpi_whatif_new(struct engine_process *const *live, size_t nlive,
               const struct engine_calendar *live_cal, const struct engine_process *draft,
               const struct engine_calendar *draft_cal, int64_t from, int64_t to)
{
    struct kpi_whatif *w = xcalloc(1, sizeof(*w));

    w->live = live;
    w->nlive = nlive;
    w->draft = draft;
    w->cal[KPI_WHATIF_LIVE] = live_cal;
    w->cal[KPI_WHATIF_DRAFT] = draft_cal;
    w->from = from;
    w->to = to;
    w->maps = xcalloc(nlive + 1, sizeof(*w->maps));
    /* Newest live version first, so the steps come in the order the team knows now. */
    for (size_t i = nlive; i-- > 0;)
        map_build(w, &w->maps[i], live[i]);
    map_build(w, &w->maps[nlive], draft);
    for (int s = 0; s < 2; s++)
        w->steps[s] = xcalloc(w->nkeys ? w->nkeys : 1, sizeof(struct stat));
    w->tabcap = 256;
    w->table = xmalloc(w->tabcap * sizeof(*w->table));
    memset(w->table, 0xff, w->tabcap * sizeof(*w->table));
    engine_result_init(&w->res);
    return w;
}

static void
stat_free(struct stat *s)
{
    free(s->el.v);
}

void
kpi_whatif_free(struct kpi_whatif *w)
{
    if (w == NULL)
        return;
    for (size_t k = 0; k < w->nkeys; k++) {
        free(w->keys[k]);
        stat_free(&w->steps[0][k]);
        stat_free(&w->steps[1][k]);
    }
    free(w->steps[0]);
    free(w->steps[1]);
    free(w->keys);
    free(w->key_proc);
    free(w->key_idx);
    for (size_t i = 0; i <= w->nlive; i++)
        free(w->maps[i].slot);
    free(w->maps);
    stat_free(&w->total[0]);
    stat_free(&w->total[1]);
    for (size_t i = 0; i < w->nstaff; i++) {
        free(w->staff[i].name);
        stat_free(&w->staff[i].s[0]);
        stat_free(&w->staff[i].s[1]);
    }
    free(w->staff);
    free(w->table);
    free(w->buf);
    engine_result_free(&w->res);
    free(w);
}

static uint64_t
hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
table_put(struct kpi_whatif *w, size_t idx)
{
    size_t m = w->tabcap - 1, i = hash(w->staff[idx].name) & m;

    while (w->table[i] >= 0)
        i = (i + 1) & m;
    w->table[i] = (int32_t)idx;
}

static struct staff *
staff_get(struct kpi_whatif *w, const char *name)
{
    size_t m = w->tabcap - 1, i = hash(name) & m;

    while (w->table[i] >= 0) {
        if (strcmp(w->staff[w->table[i]].name, name) == 0)
            return &w->staff[w->table[i]];
        i = (i + 1) & m;
    }
    if (w->nstaff == w->capstaff) {
        w->capstaff = w->capstaff ? w->capstaff * 2 : 64;
        w->staff = xrealloc(w->staff, w->capstaff * sizeof(*w->staff));
    }
    memset(&w->staff[w->nstaff], 0, sizeof(w->staff[w->nstaff]));
    w->staff[w->nstaff].name = xstrdup(name);
    w->nstaff++;
    if (w->nstaff * 10 > w->tabcap * 7) {
        w->tabcap *= 2;
        w->table = xrealloc(w->table, w->tabcap * sizeof(*w->table));
        memset(w->table, 0xff, w->tabcap * sizeof(*w->table));
        for (size_t k = 0; k < w->nstaff; k++)
            table_put(w, k);
    } else {
        table_put(w, w->nstaff - 1);
    }
    return &w->staff[w->nstaff - 1];
}

static void
stat_add(struct stat *s, const struct engine_occ *o)
{
    s->count++;
    switch (o->result) {
    case ENGINE_MET:
        s->met++;
        vals_push(&s->el, o->elapsed_ms);
        break;
    case ENGINE_BREACHED:
        s->breached++;
        vals_push(&s->el, o->elapsed_ms);
        break;
    case ENGINE_EXCLUDED:
        s->excluded++;
        break;
    case ENGINE_OPEN:
        s->open++;
        break;
    }
}

/* Counts the occurrences of w->res (folded through map's process) on one side. */
static void
count_side(struct kpi_whatif *w, int side, const struct slotmap *map)
{
    bool any = false;

    for (uint32_t i = 0; i < w->res.nocc; i++) {
        const struct engine_occ *o = &w->res.occ[i];

        if (o->state == ENGINE_PENDING || o->started_at < w->from || o->started_at >= w->to)
            continue;
        any = true;
        stat_add(&w->total[side], o);
        stat_add(&w->steps[side][map->slot[o->step]], o);
        if (o->charged_actor)
            stat_add(&staff_get(w, o->charged_actor)->s[side], o);
    }
    if (any)
        w->instances[side]++;
}

static const struct slotmap *
map_for(const struct kpi_whatif *w, const struct engine_process *p)
{
    for (size_t i = 0; i < w->nlive; i++)
        if (w->maps[i].p == p)
            return &w->maps[i];
    return NULL;
}

void
kpi_whatif_set_pins(struct kpi_whatif *w, json_t *pins)
{
    w->pins = pins != NULL && json_object_size(pins) > 0 ? pins : NULL;
}

int
kpi_whatif_subject(struct kpi_whatif *w, const struct engine_event *ev, size_t n, int64_t as_of)
{
    struct engine_process *p;
    size_t m = 0;

    w->events += (int64_t)n;
    if (n > w->capbuf) {
        w->capbuf = n * 2;
        w->buf = xrealloc(w->buf, w->capbuf * sizeof(*w->buf));
    }
    for (size_t i = 0; i < n; i++)
        if (strncmp(ev[i].type, "sla.", 4) != 0)
            w->buf[m++] = ev[i];
    if (m == 0)
        return SMILE_OK;
    w->subjects++;
    p = NULL;
    if (w->pins != NULL && w->nlive) { /* measured as the runtime measures it: pin first */
        json_t *k = json_object_get(w->pins, ev[0].subject);

        if (json_is_integer(k) && json_integer_value(k) >= 0 &&
            (size_t)json_integer_value(k) < w->nlive)
            p = w->live[json_integer_value(k)];
    }
    if (p == NULL)
        p = w->nlive ? engine_process_pick(w->live, w->nlive, w->buf, m) : NULL;
    if (p) {
        if (engine_fold(p, w->cal[KPI_WHATIF_LIVE], w->buf, m, as_of, &w->res) != SMILE_OK)
            return SMILE_EINVAL;
        if (w->res.started)
            count_side(w, KPI_WHATIF_LIVE, map_for(w, p));
    }
    if (engine_fold(w->draft, w->cal[KPI_WHATIF_DRAFT], w->buf, m, as_of, &w->res) != SMILE_OK)
        return SMILE_EINVAL;
    if (w->res.started)
        count_side(w, KPI_WHATIF_DRAFT, &w->maps[w->nlive]);
    return SMILE_OK;
}

void
kpi_whatif_counts(const struct kpi_whatif *w, int64_t *events, int64_t *subjects)
{
    *events = w->events;
    *subjects = w->subjects;
}

/* Report --------------------------------------------------------------------------------- */

/* Puts the k-th smallest of a[0..n) at a[k], smaller ones before it (quickselect: linear
 * on average, so a report over millions of occurrences needs no full sort). */
static void
select_kth(int64_t *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
        int64_t x, t;

        /* median of three as the pivot */
        if (a[mid] < a[lo]) {
            t = a[mid], a[mid] = a[lo], a[lo] = t;
        }
        if (a[hi] < a[lo]) {
            t = a[hi], a[hi] = a[lo], a[lo] = t;
        }
        if (a[hi] < a[mid]) {
            t = a[hi], a[hi] = a[mid], a[mid] = t;
        }
        x = a[mid];
        while (i <= j) {
            while (a[i] < x)
                i++;
            while (a[j] > x)
                j--;
            if (i <= j) {
                t = a[i], a[i] = a[j], a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* Nearest rank: the value at rank ceil(pct/100 × n) of the values in sorted order. */
static json_t *
percentile(struct vals *v, int pct)
{
    size_t rank;

    if (v->n == 0)
        return json_null();
    rank = ((size_t)pct * v->n + 99) / 100;
    if (rank < 1)
        rank = 1;
    select_kth(v->v, v->n, rank - 1);
    return json_integer(v->v[rank - 1]);
}

static double
compliance(const struct stat *s)
{
    return s->met + s->breached ? (double)s->met / (double)(s->met + s->breached) : NAN;
}

/* Rounds to 6 decimals so that reports read cleanly (0.8 rather than 0.80000000000000004). */
static json_t *
ratio_json(double x)
{
    return isnan(x) ? json_null() : json_real(round(x * 1e6) / 1e6);
}

static json_t *
stat_json(struct stat *s)
{
    json_t *o = json_object();

    json_object_set_new(o, "count", json_integer(s->count));
    json_object_set_new(o, "met", json_integer(s->met));
    json_object_set_new(o, "breached", json_integer(s->breached));
    json_object_set_new(o, "excluded", json_integer(s->excluded));
    json_object_set_new(o, "open", json_integer(s->open));
    json_object_set_new(o, "compliance", ratio_json(compliance(s)));
    json_object_set_new(o, "p50_ms", percentile(&s->el, 50));
    json_object_set_new(o, "p90_ms", percentile(&s->el, 90));
    return o;
}

static json_t *
diff_int(const json_t *a, const json_t *b, const char *k)
{
    const json_t *x = json_object_get(a, k), *y = json_object_get(b, k);

    if (!json_is_integer(x) || !json_is_integer(y))
        return json_null();
    return json_integer(json_integer_value(y) - json_integer_value(x));
}

static json_t *
delta_json(const json_t *live, const json_t *draft)
{
    json_t *d;
    const json_t *cl, *cd;

    if (live == NULL || draft == NULL)
        return json_null();
    d = json_object();
    cl = json_object_get(live, "compliance");
    cd = json_object_get(draft, "compliance");
    json_object_set_new(d, "compliance",
                        json_is_real(cl) && json_is_real(cd)
                            ? ratio_json(json_real_value(cd) - json_real_value(cl))
                            : json_null());
    json_object_set_new(d, "count", diff_int(live, draft, "count"));
    json_object_set_new(d, "met", diff_int(live, draft, "met"));
    json_object_set_new(d, "breached", diff_int(live, draft, "breached"));
    json_object_set_new(d, "p50_ms", diff_int(live, draft, "p50_ms"));
    json_object_set_new(d, "p90_ms", diff_int(live, draft, "p90_ms"));
    return d;
}

/* Side-by-side row: live and draft stats (null when the side has no such step / staff). */
static void
pair(json_t *row, struct stat *l, bool has_l, struct stat *d, bool has_d)
{
    json_t *lj = has_l ? stat_json(l) : NULL, *dj = has_d ? stat_json(d) : NULL;
    json_t *delta = delta_json(lj, dj);

    json_object_set_new(row, "live", lj ? lj : json_null());
    json_object_set_new(row, "draft", dj ? dj : json_null());
    json_object_set_new(row, "delta", delta);
}

static int
cmp_staff(const void *a, const void *b)
{
    return strcmp(((const struct staff *)a)->name, ((const struct staff *)b)->name);
}

static bool
in_draft(const struct kpi_whatif *w, size_t slot)
{
    size_t n = engine_process_nsteps(w->draft);

    for (size_t i = 0; i < n; i++)
        if (w->maps[w->nlive].slot[i] == (int)slot)
            return true;
    return false;
}

static bool
in_live(const struct kpi_whatif *w, size_t slot)
{
    for (size_t v = 0; v < w->nlive; v++) {
        size_t n = engine_process_nsteps(w->live[v]);

        for (size_t i = 0; i < n; i++)
            if (w->maps[v].slot[i] == (int)slot)
                return true;
    }
    return false;
}

json_t *
kpi_whatif_report(struct kpi_whatif *w, double target)
{
    json_t *r = json_object(), *steps = json_array(), *staff = json_array(), *t;
    char ts[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(w->from, ts);
    json_object_set_new(r, "from", json_string(ts));
    time_format_rfc3339(w->to, ts);
    json_object_set_new(r, "to", json_string(ts));
    json_object_set_new(r, "subjects", json_integer(w->subjects));
    json_object_set_new(r, "events", json_integer(w->events));
    json_object_set_new(r, "instances",
                        json_pack("{s:I, s:I}", "live", (json_int_t)w->instances[0], "draft",
                                  (json_int_t)w->instances[1]));
    t = json_object();
    pair(t, &w->total[0], w->nlive > 0, &w->total[1], true);
    json_object_set_new(r, "totals", t);
    for (size_t k = 0; k < w->nkeys; k++) {
        json_t *row = json_object(), *title = json_object();
        const char *en = engine_process_step_title(w->key_proc[k], w->key_idx[k], "en");
        const char *zh = engine_process_step_title(w->key_proc[k], w->key_idx[k], "zh");

        json_object_set_new(row, "step", json_string(w->keys[k]));
        json_object_set_new(title, "en", json_string(en ? en : w->keys[k]));
        json_object_set_new(title, "zh", json_string(zh ? zh : (en ? en : w->keys[k])));
        json_object_set_new(row, "title", title);
        pair(row, &w->steps[0][k], in_live(w, k), &w->steps[1][k], in_draft(w, k));
        json_array_append_new(steps, row);
    }
    json_object_set_new(r, "steps", steps);
    if (w->nstaff > 1) /* qsort(NULL, 0, ...) is undefined: no staff in an empty period */
        qsort(w->staff, w->nstaff, sizeof(*w->staff), cmp_staff);
    for (size_t i = 0; i < w->nstaff; i++) {
        json_t *row = json_object();

        json_object_set_new(row, "staff", json_string(w->staff[i].name));
        pair(row, &w->staff[i].s[0], w->staff[i].s[0].count > 0, &w->staff[i].s[1],
             w->staff[i].s[1].count > 0);
        json_array_append_new(staff, row);
    }
    if (target > 0) {
        json_t *tg = json_object(), *side[2], *below[2], *newly = json_array(),
               *no_longer = json_array();
        int64_t of[2] = {0, 0};

        for (int s = 0; s < 2; s++) {
            side[s] = json_object();
            below[s] = json_array();
        }
        for (size_t i = 0; i < w->nstaff; i++) {
            bool b[2] = {false, false};

            for (int s = 0; s < 2; s++) {
                double c = compliance(&w->staff[i].s[s]);

                if (isnan(c))
                    continue;
                of[s]++;
                /* Compare in millionths, as reported, so 0.9 is not "below" 0.9. */
                if (llround(c * 1e6) < llround(target * 1e6)) {
                    b[s] = true;
                    json_array_append_new(below[s], json_string(w->staff[i].name));
                }
            }
            if (b[1] && !b[0])
                json_array_append_new(newly, json_string(w->staff[i].name));
            if (b[0] && !b[1])
                json_array_append_new(no_longer, json_string(w->staff[i].name));
        }
        json_object_set_new(tg, "compliance", ratio_json(target));
        for (int s = 0; s < 2; s++) {
            json_object_set_new(side[s], "below",
                                json_integer((json_int_t)json_array_size(below[s])));
            json_object_set_new(side[s], "of", json_integer(of[s]));
            json_object_set_new(side[s], "staff", below[s]);
        }
        json_object_set_new(tg, "live", side[0]);
        json_object_set_new(tg, "draft", side[1]);
        json_object_set_new(tg, "newly_below", newly);
        json_object_set_new(tg, "no_longer_below", no_longer);
        json_object_set_new(r, "target", tg);
    } else {
        json_object_set_new(r, "target", json_null());
    }
    json_object_set_new(r, "staff", staff);
    /* The table indexes are stale after the sort: rebuild so w stays usable. */
    memset(w->table, 0xff, w->tabcap * sizeof(*w->table));
    for (size_t k = 0; k < w->nstaff; k++)
        table_put(w, k);
    return r;
}
