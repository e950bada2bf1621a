/*
 * rollup.c — the daily rollups behind every indicator (table kpi_daily) and their incremental
 * upkeep. The runtime's fold hands over each subject's facts (kpi_facts_add_measurement for
 * every measurement written, kpi_facts_add_event for every event of the subject);
 * kpi_rollup_replace() diffs them against what the subject contributed last time (table
 * kpi_subject, the facts as JSON), and applies only the differences to kpi_daily, in the
 * fold's transaction. Readers (indicator.c) see sums that always equal a recomputation from
 * the measurements and events, without ever reading those. Sits under the runtime's fold.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi/kpi.h"
#include "kpi/kpi_int.h"
#include "store/store.h"

/* One fact: adds v[] (and one count to the histogram bucket, if >= 0) to the row of key. */
struct fact {
    struct kpi_key k;
    int64_t v[KPI_NCOL];
    int bucket; /* -1: none */
};

struct kpi_facts {
    struct fact *f;
    size_t n, cap;
    /* per-subject case and survey state while events are added */
    bool resolved, reopened, customer_again;
    struct kpi_key first_resolve;
    char last_staff[128], last_team[128];
    char **tags; /* of the subject's customer */
    size_t ntags;
};

int
kpi_hist_bucket(int64_t ms)
{
    int b;

    if (ms <= 0)
        return 0;
    b = 1 + (int)floor(8.0 * log2((double)ms));
    return b < KPI_HIST_BUCKETS ? b : KPI_HIST_BUCKETS - 1;
}

double
kpi_hist_value(int bucket)
{
    if (bucket <= 0)
        return 0;
    return exp2(((double)bucket - 0.5) / 8.0);
}

struct kpi_facts *
kpi_facts_new(void)
{
    return xcalloc(1, sizeof(struct kpi_facts));
}

void
kpi_key_free(struct kpi_key *k)
{
    free(k->tag);
    free(k->staff);
    free(k->team);
    free(k->step);
    free(k->channel);
}

void
kpi_facts_free(struct kpi_facts *kf)
{
    if (kf == NULL)
        return;
    for (size_t i = 0; i < kf->n; i++)
        kpi_key_free(&kf->f[i].k);
    free(kf->f);
    kpi_key_free(&kf->first_resolve);
    for (size_t i = 0; i < kf->ntags; i++)
        free(kf->tags[i]);
    free(kf->tags);
    free(kf);
}

static char *
dup0(const char *s)
{
    return xstrdup(s ? s : "");
}

static struct fact *
fact_push(struct kpi_facts *kf, int64_t day, const char *staff, const char *team, int64_t pid,
          const char *step, const char *channel)
{
    struct fact *f;

    if (kf->n == kf->cap) {
        kf->cap = kf->cap ? kf->cap * 2 : 16;
        kf->f = xrealloc(kf->f, kf->cap * sizeof(*kf->f));
    }
    f = &kf->f[kf->n++];
    memset(f, 0, sizeof(*f));
    f->k.day = day;
    f->k.staff = dup0(staff);
    f->k.team = dup0(team);
    f->k.process_id = pid;
    f->k.step = dup0(step);
    f->k.channel = dup0(channel);
    f->k.tag = dup0("");
    f->bucket = -1;
    return f;
}

void
kpi_facts_set_tags(struct kpi_facts *kf, const char *const *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool dup = tags[i] == NULL || tags[i][0] == '\0';
        for (size_t k = 0; k < kf->ntags && !dup; k++)
            dup = strcmp(kf->tags[k], tags[i]) == 0;
        if (dup)
            continue;
        kf->tags = xrealloc(kf->tags, (kf->ntags + 1) * sizeof(*kf->tags));
        kf->tags[kf->ntags++] = xstrdup(tags[i]);
    }
}

/* Adds a copy of every untagged fact under each of the subject's tags. */
static void
expand_tags(struct kpi_facts *kf)
{
    size_t n = kf->n;

    for (size_t t = 0; t < kf->ntags; t++)
        for (size_t i = 0; i < n; i++) {
            struct fact *g, *f;
            g = fact_push(kf, kf->f[i].k.day, kf->f[i].k.staff, kf->f[i].k.team,
                          kf->f[i].k.process_id, kf->f[i].k.step, kf->f[i].k.channel);
            f = &kf->f[i]; /* fact_push may move the array */
            memcpy(g->v, f->v, sizeof(g->v));
            g->bucket = f->bucket;
            free(g->k.tag);
            g->k.tag = xstrdup(kf->tags[t]);
        }
}

static bool
eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

void
kpi_facts_add_measurement(struct kpi_facts *kf, const struct kpi_measurement *m)
{
    struct fact *f;
    bool finished = eq(m->state, "done") || eq(m->state, "cancelled");

    if (m->started_at == INT64_MIN)
        return;
    f = fact_push(kf, m->start_day, m->staff, m->team, m->process_id, m->step, m->channel);
    f->v[KPI_OPENED] = 1;
    if (eq(m->result, "met"))
        f->v[KPI_MET] = 1;
    else if (eq(m->result, "breached"))
        f->v[KPI_BREACHED] = 1;
    else if (eq(m->result, "excluded"))
        f->v[KPI_EXCLUDED] = 1;
    if (eq(m->state, "done")) {
        f->v[KPI_DONE] = 1;
        f->v[KPI_SUM_MS] = m->elapsed_ms;
        f->bucket = kpi_hist_bucket(m->elapsed_ms);
    } else if (eq(m->state, "cancelled")) {
        f->v[KPI_CANCELLED] = 1;
    }
    /* abandonment: the call's own answer clock, not each agent's ring */
    if (eq(m->function, "answer_call") && !m->per_agent &&
        (eq(m->result, "met") || eq(m->result, "breached"))) {
        f->v[KPI_OFFERED] = 1;
        if (eq(m->state, "cancelled") && eq(m->end_type, "call.abandoned"))
            f->v[KPI_ABANDONED] = 1;
    }
    if (finished && m->done_at != INT64_MIN) {
        if (m->done_day == m->start_day) {
            f->v[KPI_CLOSED] = 1;
        } else {
            struct fact *g =
                fact_push(kf, m->done_day, m->staff, m->team, m->process_id, m->step, m->channel);
            g->v[KPI_CLOSED] = 1;
        }
    }
}

static void
remember_staff(struct kpi_facts *kf, const struct kpi_event *e)
{
    if (e->actor == NULL || e->actor[0] == '\0')
        return;
    snprintf(kf->last_staff, sizeof(kf->last_staff), "%s", e->actor);
    snprintf(kf->last_team, sizeof(kf->last_team), "%s", e->team ? e->team : "");
}

bool
kpi_event_counted(const char *type)
{
    return eq(type, "call.answered") || eq(type, "email.sent") || eq(type, "visit.greeted") ||
           eq(type, "case.resolved");
}

void
kpi_facts_add_event(struct kpi_facts *kf, const struct kpi_event *e)
{
    const char *t = e->type;
    struct fact *f;
    int col = -1;

    if (eq(t, "call.answered"))
        col = KPI_ANSWERED;
    else if (eq(t, "email.sent"))
        col = KPI_REPLIED;
    else if (eq(t, "visit.greeted"))
        col = KPI_VISITS;
    else if (eq(t, "case.resolved"))
        col = KPI_RESOLVED;
    if (col >= 0) {
        f = fact_push(kf, e->day, e->actor, e->team, 0, "", e->channel);
        f->v[col] = 1;
        remember_staff(kf, e);
    }
    if (eq(t, "case.resolved") && !kf->resolved) {
        kf->resolved = true;
        kf->first_resolve.day = e->day;
        kf->first_resolve.staff = dup0(e->actor);
        kf->first_resolve.team = dup0(e->team);
        kf->first_resolve.channel = dup0(e->channel);
    } else if (eq(t, "case.reopened") && kf->resolved) {
        kf->reopened = true;
    } else if (eq(t, "case.replied") && !kf->resolved) {
        json_t *by = e->data ? json_object_get(e->data, "by") : NULL;
        if (json_is_string(by) && strcmp(json_string_value(by), "customer") == 0)
            kf->customer_again = true;
    } else if (eq(t, "survey.answered")) {
        json_t *sc = e->data ? json_object_get(e->data, "score") : NULL;
        const char *staff = kf->last_staff[0] ? kf->last_staff : e->actor;
        const char *team = kf->last_staff[0] ? kf->last_team : e->team;
        if (json_is_number(sc)) {
            f = fact_push(kf, e->day, staff, team, 0, "", e->channel);
            f->v[KPI_SURVEYS] = 1;
            f->v[KPI_SURVEY_SUM] = llround(json_number_value(sc) * 1000.0);
        }
    }
}

void
kpi_facts_end_events(struct kpi_facts *kf)
{
    struct fact *f;

    if (!kf->resolved)
        return;
    f = fact_push(kf, kf->first_resolve.day, kf->first_resolve.staff, kf->first_resolve.team, 0, "",
                  kf->first_resolve.channel);
    f->v[KPI_CASES] = 1;
    f->v[KPI_FCR] = !kf->reopened && !kf->customer_again;
    f->v[KPI_REOPENED] = kf->reopened;
}

/* Facts as JSON: [[day, staff, team, pid, step, channel, bucket, [col, value, …], tag], …],
 * written straight into a buffer in exactly the bytes jansson's compact dump gives (the
 * stored text is compared with the next fold's to skip unchanged subjects; building a
 * jansson tree for it was 7.6% of a rebuild's CPU). The strings come from parsed JSON
 * (events, definitions, customer tags), so they are UTF-8. */
static void
dump_str(struct buf *b, const char *s)
{
    buf_put_json_string(b, s, strlen(s), true);
}

static char *
facts_dump(const struct kpi_facts *kf)
{
    struct buf b;

    buf_init(&b, 0);
    buf_putc(&b, '[');
    for (size_t i = 0; i < kf->n; i++) {
        const struct fact *f = &kf->f[i];
        bool first = true;

        if (i)
            buf_putc(&b, ',');
        buf_putc(&b, '[');
        buf_put_int64(&b, f->k.day);
        buf_putc(&b, ',');
        dump_str(&b, f->k.staff);
        buf_putc(&b, ',');
        dump_str(&b, f->k.team);
        buf_putc(&b, ',');
        buf_put_int64(&b, f->k.process_id);
        buf_putc(&b, ',');
        dump_str(&b, f->k.step);
        buf_putc(&b, ',');
        dump_str(&b, f->k.channel);
        buf_putc(&b, ',');
        buf_put_int64(&b, f->bucket);
        buf_puts(&b, ",[");
        for (int c = 0; c < KPI_NCOL; c++)
            if (f->v[c]) {
                if (!first)
                    buf_putc(&b, ',');
                buf_put_int64(&b, c);
                buf_putc(&b, ',');
                buf_put_int64(&b, f->v[c]);
                first = false;
            }
        buf_puts(&b, "],");
        dump_str(&b, f->k.tag);
        buf_putc(&b, ']');
    }
    buf_putc(&b, ']');
    return buf_steal(&b);
}

static void
facts_load(struct kpi_facts *kf, const char *text)
{
    json_t *a = json_loads(text, 0, NULL), *e;
    size_t i;

    json_array_foreach(a, i, e)
    {
        struct fact *f;
        json_t *v;
        size_t k;
        if (json_array_size(e) != 9)
            continue;
        f = fact_push(
            kf, json_integer_value(json_array_get(e, 0)), json_string_value(json_array_get(e, 1)),
            json_string_value(json_array_get(e, 2)), json_integer_value(json_array_get(e, 3)),
            json_string_value(json_array_get(e, 4)), json_string_value(json_array_get(e, 5)));
        f->bucket = (int)json_integer_value(json_array_get(e, 6));
        free(f->k.tag);
        f->k.tag = dup0(json_string_value(json_array_get(e, 8)));
        v = json_array_get(e, 7);
        for (k = 0; k + 1 < json_array_size(v); k += 2) {
            int64_t c = json_integer_value(json_array_get(v, k));
            if (c >= 0 && c < KPI_NCOL)
                f->v[c] = json_integer_value(json_array_get(v, k + 1));
        }
    }
    json_decref(a);
}

bool
kpi_key_eq(const struct kpi_key *a, const struct kpi_key *b)
{
    return a->day == b->day && a->process_id == b->process_id && strcmp(a->staff, b->staff) == 0 &&
           strcmp(a->team, b->team) == 0 && strcmp(a->step, b->step) == 0 &&
           strcmp(a->channel, b->channel) == 0 && strcmp(a->tag, b->tag) == 0;
}

/* A change to one kpi_daily row (the key is the delta's own copy). */
struct delta {
    struct kpi_key k;
    uint64_t hash;
    int64_t v[KPI_NCOL];
    int *hb; /* histogram changes: bucket, count pairs */
    size_t nh;
};

/*
 * The changes of one or more subjects' replacements, summed per kpi_daily row: a fold of
 * 256 calls answered by the same agent on the same day changes a handful of rows, and each
 * is read and written once per transaction instead of once per subject. Deltas are sums, so
 * the order of the subjects does not matter. An open-addressing index (slot: delta + 1)
 * finds a key's delta.
 */
struct kpi_batch {
    struct delta *d;
    size_t n, cap;
    size_t *slot;
    size_t slot_cap; /* a power of two, at least 2 * cap */
};

static uint64_t
mix_str(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL; /* FNV-1a 64 */
    }
    return (h ^ 0xff) * 1099511628211ULL;
}

static uint64_t
key_hash(const struct kpi_key *k)
{
    uint64_t h = 14695981039346656037ULL;

    h = (h ^ (uint64_t)k->day) * 1099511628211ULL;
    h = (h ^ (uint64_t)k->process_id) * 1099511628211ULL;
    h = mix_str(h, k->staff);
    h = mix_str(h, k->team);
    h = mix_str(h, k->step);
    h = mix_str(h, k->channel);
    return mix_str(h, k->tag);
}

struct kpi_batch *
kpi_batch_new(void)
{
    return xcalloc(1, sizeof(struct kpi_batch));
}

void
kpi_batch_reset(struct kpi_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        kpi_key_free(&b->d[i].k);
        free(b->d[i].hb);
    }
    b->n = 0;
    if (b->slot)
        memset(b->slot, 0, b->slot_cap * sizeof(*b->slot));
}

void
kpi_batch_free(struct kpi_batch *b)
{
    if (b == NULL)
        return;
    kpi_batch_reset(b);
    free(b->d);
    free(b->slot);
    free(b);
}

static void
batch_reindex(struct kpi_batch *b)
{
    free(b->slot);
    b->slot_cap = b->slot_cap ? b->slot_cap * 2 : 64;
    b->slot = xcalloc(b->slot_cap, sizeof(*b->slot));
    for (size_t i = 0; i < b->n; i++) {
        size_t j = (size_t)b->d[i].hash & (b->slot_cap - 1);
        while (b->slot[j])
            j = (j + 1) & (b->slot_cap - 1);
        b->slot[j] = i + 1;
    }
}

static void
delta_add(struct kpi_batch *b, const struct fact *f, int sign)
{
    uint64_t h = key_hash(&f->k);
    struct delta *x = NULL;
    size_t j;

    if (2 * (b->n + 1) > b->slot_cap)
        batch_reindex(b);
    for (j = (size_t)h & (b->slot_cap - 1); b->slot[j]; j = (j + 1) & (b->slot_cap - 1)) {
        struct delta *c = &b->d[b->slot[j] - 1];
        if (c->hash == h && kpi_key_eq(&c->k, &f->k)) {
            x = c;
            break;
        }
    }
    if (x == NULL) {
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->d = xrealloc(b->d, b->cap * sizeof(*b->d));
        }
        x = &b->d[b->n++];
        memset(x, 0, sizeof(*x));
        x->k = f->k;
        x->k.staff = dup0(f->k.staff);
        x->k.team = dup0(f->k.team);
        x->k.step = dup0(f->k.step);
        x->k.channel = dup0(f->k.channel);
        x->k.tag = dup0(f->k.tag);
        x->hash = h;
        b->slot[j] = b->n;
    }
    for (int c = 0; c < KPI_NCOL; c++)
        x->v[c] += sign * f->v[c];
    if (f->bucket >= 0) {
        for (size_t i = 0; i < x->nh; i++)
            if (x->hb[2 * i] == f->bucket) {
                x->hb[2 * i + 1] += sign;
                return;
            }
        x->hb = xrealloc(x->hb, (x->nh + 1) * 2 * sizeof(int));
        x->hb[2 * x->nh] = f->bucket;
        x->hb[2 * x->nh + 1] = sign;
        x->nh++;
    }
}

static bool
delta_zero(const struct delta *x)
{
    for (int c = 0; c < KPI_NCOL; c++)
        if (x->v[c])
            return false;
    for (size_t i = 0; i < x->nh; i++)
        if (x->hb[2 * i + 1])
            return false;
    return true;
}

void
kpi_hist_decode(const void *blob, size_t len, uint32_t *h)
{
    const unsigned char *p = blob;

    memset(h, 0, KPI_HIST_BUCKETS * sizeof(*h));
    for (size_t i = 0; i < len / 4 && i < KPI_HIST_BUCKETS; i++)
        h[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
}

/* Encodes h up to its highest non-empty bucket into out (>= 4 * KPI_HIST_BUCKETS bytes). */
static size_t
hist_encode(const uint32_t *h, unsigned char *out)
{
    size_t n = KPI_HIST_BUCKETS;

    while (n > 0 && h[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n; i++) {
        out[4 * i] = (unsigned char)(h[i] & 0xff);
        out[4 * i + 1] = (unsigned char)(h[i] >> 8 & 0xff);
        out[4 * i + 2] = (unsigned char)(h[i] >> 16 & 0xff);
        out[4 * i + 3] = (unsigned char)(h[i] >> 24 & 0xff);
    }
    return 4 * n;
}

#define KEY_WHERE                                                                                  \
    " WHERE day = $1 AND staff = $2 AND team = $3 AND process_id = $4 AND step = $5"               \
    " AND channel = $6 AND tag = $7"

static void
bind_key(struct store_stmt *st, const struct kpi_key *k)
{
    store_stmt_bind_int64(st, 1, k->day);
    store_stmt_bind_text(st, 2, k->staff, -1);
    store_stmt_bind_text(st, 3, k->team, -1);
    store_stmt_bind_int64(st, 4, k->process_id);
    store_stmt_bind_text(st, 5, k->step, -1);
    store_stmt_bind_text(st, 6, k->channel, -1);
    store_stmt_bind_text(st, 7, k->tag, -1);
}

static int
step_done(struct store_stmt *st, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE || rc == STORE_ROW ? SMILE_OK : rc;
}

/* Adds x to its kpi_daily row (read, add, write back or delete when all zero). */
static int
daily_apply(struct store *s, const struct delta *x, struct smile_err *err)
{
    static const char sql_get[] = "SELECT " KPI_COLS ", hist FROM kpi_daily" KEY_WHERE;
    static const char sql_del[] = "DELETE FROM kpi_daily" KEY_WHERE;
    static const char sql_put[] =
        "INSERT INTO kpi_daily (day, staff, team, process_id, step, channel, tag, " KPI_COLS
        ", hist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
        " $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)"
        " ON CONFLICT (day, staff, team, process_id, step, channel, tag) DO UPDATE SET"
        " met = excluded.met, breached = excluded.breached, excluded = excluded.excluded,"
        " done = excluded.done, cancelled = excluded.cancelled, sum_ms = excluded.sum_ms,"
        " offered = excluded.offered, abandoned = excluded.abandoned, opened = excluded.opened,"
        " closed = excluded.closed, answered = excluded.answered, replied = excluded.replied,"
        " visits = excluded.visits, resolved = excluded.resolved, cases = excluded.cases,"
        " fcr = excluded.fcr, reopened = excluded.reopened, surveys = excluded.surveys,"
        " survey_sum = excluded.survey_sum, hist = excluded.hist";
    struct store_stmt *st;
    int64_t v[KPI_NCOL] = {0};
    uint32_t h[KPI_HIST_BUCKETS];
    unsigned char blob[4 * KPI_HIST_BUCKETS];
    bool zero = true;
    size_t blen;
    int rc;

    memset(h, 0, sizeof(h));
    if ((rc = store_prepare(s, sql_get, &st, err)) != SMILE_OK)
        return rc;
    bind_key(st, &x->k);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        for (int c = 0; c < KPI_NCOL; c++)
            v[c] = store_stmt_int64(st, c);
        kpi_hist_decode(store_stmt_blob(st, KPI_NCOL), store_stmt_bytes(st, KPI_NCOL), h);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    for (int c = 0; c < KPI_NCOL; c++)
        if ((v[c] += x->v[c]) != 0)
            zero = false;
    for (size_t i = 0; i < x->nh; i++) {
        int b = x->hb[2 * i];
        h[b] = (uint32_t)((int64_t)h[b] + x->hb[2 * i + 1]);
    }
    blen = hist_encode(h, blob);
    if (blen)
        zero = false;
    if (zero) {
        if ((rc = store_prepare(s, sql_del, &st, err)) != SMILE_OK)
            return rc;
        bind_key(st, &x->k);
        return step_done(st, err);
    }
    if ((rc = store_prepare(s, sql_put, &st, err)) != SMILE_OK)
        return rc;
    bind_key(st, &x->k);
    for (int c = 0; c < KPI_NCOL; c++)
        store_stmt_bind_int64(st, 8 + c, v[c]);
    store_stmt_bind_blob(st, 8 + KPI_NCOL, blob, blen);
    return step_done(st, err);
}

/* Adds x's opened − closed to the key's open count in kpi_open (without the day). */
static int
open_apply(struct store *s, const struct delta *x, struct smile_err *err)
{
    static const char sql_add[] =
        "INSERT INTO kpi_open (staff, team, process_id, step, channel, tag, open)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (staff, team, process_id, step,"
        " channel, tag) DO UPDATE SET open = open + excluded.open RETURNING open";
    static const char sql_gc[] =
        "DELETE FROM kpi_open WHERE staff = $1 AND team = $2 AND process_id = $3 AND step = $4"
        " AND channel = $5 AND tag = $6 AND open = 0";
    int64_t net = x->v[KPI_OPENED] - x->v[KPI_CLOSED], now;
    struct store_stmt *st;
    int rc;

    if (net == 0)
        return SMILE_OK;
    if ((rc = store_prepare(s, sql_add, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, x->k.staff, -1);
    store_stmt_bind_text(st, 2, x->k.team, -1);
    store_stmt_bind_int64(st, 3, x->k.process_id);
    store_stmt_bind_text(st, 4, x->k.step, -1);
    store_stmt_bind_text(st, 5, x->k.channel, -1);
    store_stmt_bind_text(st, 6, x->k.tag, -1);
    store_stmt_bind_int64(st, 7, net);
    rc = store_stmt_step(st, err);
    now = rc == STORE_ROW ? store_stmt_int64(st, 0) : -1;
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    if (now != 0)
        return SMILE_OK;
    if ((rc = store_prepare(s, sql_gc, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, x->k.staff, -1);
    store_stmt_bind_text(st, 2, x->k.team, -1);
    store_stmt_bind_int64(st, 3, x->k.process_id);
    store_stmt_bind_text(st, 4, x->k.step, -1);
    store_stmt_bind_text(st, 5, x->k.channel, -1);
    store_stmt_bind_text(st, 6, x->k.tag, -1);
    return step_done(st, err);
}

static int
delta_apply(struct store *s, const struct delta *x, struct smile_err *err)
{
    int rc = daily_apply(s, x, err);
    return rc == SMILE_OK ? open_apply(s, x, err) : rc;
}

int
kpi_rollup_stage(struct store *s, const char *subject, struct kpi_facts *kf, struct kpi_batch *b,
                 struct smile_err *err)
{
    static const char sql_get[] = "SELECT facts FROM kpi_subject WHERE subject = $1";
    static const char sql_put[] = "INSERT INTO kpi_subject (subject, facts) VALUES ($1, $2)"
                                  " ON CONFLICT (subject) DO UPDATE SET facts = excluded.facts";
    static const char sql_del[] = "DELETE FROM kpi_subject WHERE subject = $1";
    struct kpi_facts *old = NULL;
    struct store_stmt *st;
    char *text, *prev = NULL;
    int rc;

    expand_tags(kf);
    text = facts_dump(kf);

    if ((rc = store_prepare(s, sql_get, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, subject, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW)
        prev = xstrdup(store_stmt_text(st, 0));
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    if (prev && strcmp(prev, text) == 0)
        goto out; /* nothing decided changed */
    if (prev) {
        old = kpi_facts_new();
        facts_load(old, prev);
        for (size_t i = 0; i < old->n; i++)
            delta_add(b, &old->f[i], -1);
    }
    for (size_t i = 0; i < kf->n; i++)
        delta_add(b, &kf->f[i], +1);
    if (kf->n == 0 && prev == NULL)
        goto out;
    if ((rc = store_prepare(s, kf->n ? sql_put : sql_del, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_text(st, 1, subject, -1);
    if (kf->n)
        store_stmt_bind_text(st, 2, text, -1);
    rc = step_done(st, err);
out:
    free(prev);
    free(text);
    kpi_facts_free(old);
    return rc;
}

int
kpi_batch_apply(struct store *s, struct kpi_batch *b, struct smile_err *err)
{
    int rc = SMILE_OK;

    for (size_t i = 0; i < b->n && rc == SMILE_OK; i++)
        if (!delta_zero(&b->d[i]))
            rc = delta_apply(s, &b->d[i], err);
    kpi_batch_reset(b);
    return rc;
}

int
kpi_rollup_replace(struct store *s, const char *subject, struct kpi_facts *kf,
                   struct smile_err *err)
{
    struct kpi_batch *b = kpi_batch_new();
    int rc = kpi_rollup_stage(s, subject, kf, b, err);

    if (rc == SMILE_OK)
        rc = kpi_batch_apply(s, b, err);
    kpi_batch_free(b);
    return rc;
}

int
kpi_rollup_clear(struct store *s, struct smile_err *err)
{
    return store_exec(s, "DELETE FROM kpi_daily; DELETE FROM kpi_subject; DELETE FROM kpi_open;",
                      err);
}

int
kpi_rollup_check(struct store *s, bool *out_ok, struct smile_err *err)
{
    static const char sql_facts[] = "SELECT facts FROM kpi_subject";
    static const char sql_rows[] = "SELECT day, staff, team, process_id, step, channel, " KPI_COLS
                                   ", hist, tag FROM kpi_daily";
    struct kpi_facts *all = kpi_facts_new();
    struct kpi_batch *b = kpi_batch_new();
    struct store_stmt *st;
    size_t nrows = 0;
    int rc;

    *out_ok = false;
    if ((rc = store_prepare(s, sql_facts, &st, err)) != SMILE_OK)
        goto out;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        facts_load(all, store_stmt_text(st, 0));
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    for (size_t i = 0; i < all->n; i++)
        delta_add(b, &all->f[i], +1);
    if ((rc = store_prepare(s, sql_rows, &st, err)) != SMILE_OK)
        goto out;
    *out_ok = true;
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct kpi_key k = {.day = store_stmt_int64(st, 0),
                            .staff = (char *)store_stmt_text(st, 1),
                            .team = (char *)store_stmt_text(st, 2),
                            .process_id = store_stmt_int64(st, 3),
                            .step = (char *)store_stmt_text(st, 4),
                            .channel = (char *)store_stmt_text(st, 5),
                            .tag = (char *)store_stmt_text(st, 7 + KPI_NCOL)};
        uint32_t h[KPI_HIST_BUCKETS];
        struct delta *x = NULL;
        nrows++;
        for (size_t i = 0; i < b->n; i++)
            if (kpi_key_eq(&b->d[i].k, &k))
                x = &b->d[i];
        if (x == NULL) {
            *out_ok = false;
            continue;
        }
        for (int c = 0; c < KPI_NCOL; c++)
            if (store_stmt_int64(st, 6 + c) != x->v[c])
                *out_ok = false;
        kpi_hist_decode(store_stmt_blob(st, 6 + KPI_NCOL), store_stmt_bytes(st, 6 + KPI_NCOL), h);
        for (size_t i = 0; i < x->nh; i++)
            h[x->hb[2 * i]] -= (uint32_t)x->hb[2 * i + 1];
        for (int hb = 0; hb < KPI_HIST_BUCKETS; hb++)
            if (h[hb])
                *out_ok = false;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE)
        goto out;
    rc = SMILE_OK;
    {
        /* kpi_open holds, per key without the day, the sum of opened − closed */
        static const char sql_open[] =
            "SELECT count(*) FROM (SELECT staff, team, process_id, step, channel, tag,"
            " sum(opened - closed) AS n FROM kpi_daily GROUP BY 1, 2, 3, 4, 5, 6 HAVING n <> 0)"
            " d FULL JOIN kpi_open o USING (staff, team, process_id, step, channel, tag)"
            " WHERE coalesce(d.n, 0) <> coalesce(o.open, 0)";
        int64_t bad = -1;
        if ((rc = store_query_int64(s, sql_open, &bad, err)) != SMILE_OK)
            goto out;
        if (bad != 0)
            *out_ok = false;
    }
    {
        size_t nonzero = 0;
        for (size_t i = 0; i < b->n; i++)
            nonzero += !delta_zero(&b->d[i]);
        if (nonzero != nrows)
            *out_ok = false;
    }
out:
    kpi_batch_free(b);
    kpi_facts_free(all);
    return rc;
}

int
kpi_subject_tagged(struct store *s, const char *subject, const char *tag, bool *out,
                   struct smile_err *err)
{
    static const char sql[] = "SELECT facts FROM kpi_subject WHERE subject = $1";
    struct store_stmt *st;
    json_t *facts, *f;
    size_t i;
    int rc = store_prepare(s, sql, &st, err);

    *out = false;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        /* each fact: [day, staff, team, pid, step, channel, bucket, [col, value …], tag] */
        facts = json_loads(store_stmt_text(st, 0), 0, NULL);
        json_array_foreach(facts, i, f)
        {
            const char *t = json_string_value(json_array_get(f, 8));

            if (t && strcmp(t, tag) == 0) {
                *out = true;
                break;
            }
        }
        json_decref(facts);
    }
    store_stmt_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? SMILE_OK : rc;
}
