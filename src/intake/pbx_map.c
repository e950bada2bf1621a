/*
 * pbx_map.c — turns parsed Asterisk records (queue_log lines, AMI event packets) into
 * Smile events in the API's JSON shape. Pure: no I/O, no clock; the per-call state it
 * needs lives in struct pbx_map. It sits between the parsers (queue_log.c, ami.c) and the
 * ledger append (intake_store.c or the ledger's writer).
 *
 * Idempotency and the shared key. Both paths must give the same fact the same
 * source_id, so that re-importing a file changes nothing and running queue_log import
 * and the AMI client side by side is safe. The facts both sources carry identically
 * are the caller channel's Uniqueid (queue_log callid = AMI Uniqueid), the queue, the
 * member name, and the ORDER of things within one call; their clocks differ (whole
 * seconds vs µs, or receipt time when timestampevents is off), so time is NOT part of a
 * call event's key:
 *
 *   event             source_id                                   counted by
 *   call.offered      <callid>|offered|<queue>|<e>                e = nth entry of the call into
 * the queue call.ringing      <callid>|ringing|<queue>|<member>|<a>       a = nth ring attempt of
 * that member for that call+queue call.answered     <callid>|answered|<queue>|<e> call.abandoned
 * <callid>|abandoned|<queue>|<e> call.ended        <callid>|ended|<queue>|<e> call.transferred
 * <callid>|transferred|<queue>|<e> agent.*           agent|<epoch s>|<EVENT>|<member>|<queue>|<k>
 * k = nth identical line in that second
 *
 * queue_log counts a ring attempt when it ends (RINGNOANSWER, RINGCANCELED, CONNECT);
 * AMI when it starts (AgentCalled) and closes it at AgentRingNoAnswer / AgentConnect.
 * The nth end of member M's rings is the nth start, so both count the same a.
 * Limits (documented in docs/pbx.md): the counters live in memory, so a mapper that starts
 * in the middle of a call (AMI client restarted, a rotated file whose first half was
 * never read) counts that call's entries and attempts from 1 again and a later attempt
 * can be taken for an earlier one (dropped as a duplicate); the importer replays the
 * part of the file it already read to restore the counters. A ring attempt that only
 * one source reports (before Asterisk 15 a ring cancelled by the caller has no queue_log
 * line) shifts that member's later attempts for that call. Agent events come only from
 * queue_log and keep the time in their key.
 *
 * Times: call.ringing from queue_log is derived (end − duration, data.derived = true);
 * from AMI AgentCalled it is the ring start itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

#define NBUCKETS_MIN 1024

struct attempt {
    char *queue, *agent;
    int n;
    bool open;
};

struct qentry {
    char *queue;
    int n;
};

struct call {
    struct call *next;
    char *callid;
    uint64_t hash;
    int64_t last_ms;
    struct qentry *qe;
    int nqe;
    struct attempt *att;
    int natt;
    char *queue; /* the queue of the latest entry */
    char *agent; /* the member that answered */
    int64_t answered_ms;
    bool answered, ended;
};

struct dupkey {
    uint64_t hash;
    int n;
};

struct pbx_map {
    char *source;
    pbx_agent_lookup_fn *lookup;
    void *ud;
    struct call **buckets;
    size_t nbuckets, ncalls;
    json_t *unmapped;
    int64_t dup_epoch;
    struct dupkey dups[64];
    int ndups;
};

static uint64_t
fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}
#define FNV_SEED UINT64_C(14695981039346656037)

struct pbx_map *
pbx_map_new(const char *source, pbx_agent_lookup_fn *lookup, void *ud)
{
    struct pbx_map *m = xcalloc(1, sizeof(*m));

    m->source = xstrdup(source);
    m->lookup = lookup;
    m->ud = ud;
    m->nbuckets = NBUCKETS_MIN;
    m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->unmapped = json_object();
    m->dup_epoch = INT64_MIN;
    return m;
}

static void
call_free(struct call *c)
{
    for (int i = 0; i < c->nqe; i++)
        free(c->qe[i].queue);
    for (int i = 0; i < c->natt; i++) {
        free(c->att[i].queue);
        free(c->att[i].agent);
    }
    free(c->qe);
    free(c->att);
    free(c->queue);
    free(c->agent);
    free(c->callid);
    free(c);
}

void
pbx_map_free(struct pbx_map *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct call *c = m->buckets[i], *next;

        for (; c; c = next) {
            next = c->next;
            call_free(c);
        }
    }
    free(m->buckets);
    json_decref(m->unmapped);
    free(m->source);
    free(m);
}

const json_t *
pbx_map_unmapped(const struct pbx_map *m)
{
    return m->unmapped;
}

size_t
pbx_map_calls(const struct pbx_map *m)
{
    return m->ncalls;
}

static void
grow(struct pbx_map *m)
{
    size_t n = m->nbuckets * 2;
    struct call **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < m->nbuckets; i++) {
        struct call *c = m->buckets[i], *next;

        for (; c; c = next) {
            next = c->next;
            c->next = b[c->hash & (n - 1)];
            b[c->hash & (n - 1)] = c;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

static struct call *
call_get(struct pbx_map *m, struct str callid, int64_t at_ms)
{
    uint64_t h = fnv(callid.p, callid.len, FNV_SEED);
    struct call *c;

    for (c = m->buckets[h & (m->nbuckets - 1)]; c; c = c->next)
        if (c->hash == h && strlen(c->callid) == callid.len &&
            memcmp(c->callid, callid.p, callid.len) == 0)
            break;
    if (c == NULL) {
        if (m->ncalls >= m->nbuckets)
            grow(m);
        c = xcalloc(1, sizeof(*c));
        c->callid = xstrndup(callid.p, callid.len);
        c->hash = h;
        c->next = m->buckets[h & (m->nbuckets - 1)];
        m->buckets[h & (m->nbuckets - 1)] = c;
        m->ncalls++;
    }
    if (at_ms > c->last_ms)
        c->last_ms = at_ms;
    return c;
}

void
pbx_map_prune(struct pbx_map *m, int64_t now_ms, int64_t max_idle_ms)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct call **pp = &m->buckets[i];

        while (*pp) {
            struct call *c = *pp;

            if (c->last_ms < now_ms - max_idle_ms) {
                *pp = c->next;
                call_free(c);
                m->ncalls--;
            } else {
                pp = &c->next;
            }
        }
    }
}

static bool
sv_eq(const char *a, struct str b)
{
    return strlen(a) == b.len && memcmp(a, b.p, b.len) == 0;
}

/* The entry number of the call into queue: a new entry if enter, else the current one
 * (1 when the entry was never seen). */
static int
entry(struct call *c, struct str queue, bool enter)
{
    int i;

    for (i = 0; i < c->nqe; i++)
        if (sv_eq(c->qe[i].queue, queue))
            break;
    if (i == c->nqe) {
        c->qe = xrealloc(c->qe, (size_t)(c->nqe + 1) * sizeof(*c->qe));
        c->qe[i].queue = xstrndup(queue.p, queue.len);
        c->qe[i].n = 0;
        c->nqe++;
    }
    if (enter || c->qe[i].n == 0)
        c->qe[i].n++;
    if (enter || c->queue == NULL) {
        free(c->queue);
        c->queue = xstrndup(queue.p, queue.len);
    }
    if (enter)
        c->answered = c->ended = false;
    return c->qe[i].n;
}

/*
 * The attempt number of member agent for this call and queue. start: a ring starts
 * (AMI AgentCalled) — a new attempt, left open. end: a ring ends — closes the open
 * attempt (same number) or, with none open (queue_log), counts a new one. *was_open
 * says whether an open attempt was closed.
 */
static int
attempt(struct call *c, struct str queue, struct str agent, bool start, bool *was_open)
{
    int i;

    for (i = 0; i < c->natt; i++)
        if (sv_eq(c->att[i].queue, queue) && sv_eq(c->att[i].agent, agent))
            break;
    if (i == c->natt) {
        c->att = xrealloc(c->att, (size_t)(c->natt + 1) * sizeof(*c->att));
        c->att[i].queue = xstrndup(queue.p, queue.len);
        c->att[i].agent = xstrndup(agent.p, agent.len);
        c->att[i].n = 0;
        c->att[i].open = false;
        c->natt++;
    }
    if (was_open)
        *was_open = c->att[i].open;
    if (start) {
        c->att[i].n++;
        c->att[i].open = true;
    } else if (c->att[i].open) {
        c->att[i].open = false;
    } else {
        c->att[i].n++;
    }
    return c->att[i].n;
}

/*
 * A source_id under construction, on the stack (the mapper's hot path allocates only
 * the JSON). Bytes past the buffer are still hashed; a key over 200 bytes becomes
 * "h|" + two 64-bit FNV-1a hashes of the whole key.
 */
struct key {
    char s[256];
    size_t n;
    uint64_t h1, h2;
};

static void
key_reset(struct key *k)
{
    k->n = 0;
    k->h1 = FNV_SEED;
    k->h2 = UINT64_C(0x9e3779b97f4a7c15);
}

static void
key_put(struct key *k, const char *p, size_t n)
{
    if (k->n < sizeof(k->s))
        memcpy(k->s + k->n, p, n < sizeof(k->s) - k->n ? n : sizeof(k->s) - k->n);
    k->n += n;
    k->h1 = fnv(p, n, k->h1);
    k->h2 = fnv(p, n, k->h2);
}

static void
key_sv(struct key *k, struct str v)
{
    key_put(k, v.p, v.len);
}

static void
key_s(struct key *k, const char *v)
{
    key_put(k, v, strlen(v));
}

static void
key_i(struct key *k, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%lld", (long long)v);

    key_put(k, t, (size_t)n);
}

static struct str
finish_key(struct key *k)
{
    if (k->n > 200) {
        snprintf(k->s, sizeof(k->s), "h|%016llx%016llx", (unsigned long long)k->h1,
                 (unsigned long long)k->h2);
        k->n = strlen(k->s);
    }
    return (struct str){k->s, k->n};
}

/* A JSON string of PBX bytes; invalid UTF-8 (the PBX does not promise any encoding) is
 * kept readable by replacing every non-ASCII or control byte with '?'. */
static json_t *
jstr(struct str s)
{
    json_t *j = json_stringn(s.p, s.len);
    char *c;

    if (j)
        return j;
    c = xstrndup(s.p, s.len);
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)c[i] >= 0x80 || (unsigned char)c[i] < 0x20)
            c[i] = '?';
    j = json_stringn(c, s.len);
    free(c);
    return j;
}

/* Adds key: string view to data unless empty. */
static void
put_s(json_t *data, const char *key, struct str v)
{
    if (v.len)
        json_object_set_new_nocheck(data, key, jstr(v));
}

static void
put_i(json_t *data, const char *key, int64_t v)
{
    if (v >= 0)
        json_object_set_new_nocheck(data, key, json_integer(v));
}

static bool
is_none(struct str s)
{
    return s.len == 0 || str_eq(s, "NONE");
}

/* Username for a member name (NULL if unmapped; then it is counted for the report). */
static const char *
actor_of(struct pbx_map *m, struct str agent)
{
    char name[256];
    const char *u = NULL;

    if (is_none(agent) || agent.len >= sizeof(name))
        return NULL;
    memcpy(name, agent.p, agent.len);
    name[agent.len] = '\0';
    if (m->lookup)
        u = m->lookup(name, m->ud);
    if (u == NULL) {
        json_t *n = json_object_get(m->unmapped, name);

        json_object_set_new(m->unmapped, name, json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    return u;
}

/*
 * Puts the agent of an event into data and returns its username (NULL if unmapped):
 * data.agent is the staff username when the member is mapped, else the raw member name;
 * data.member is always the raw member name as the PBX wrote it. Processes compare
 * data.agent of call.ringing with the actor of call.answered (the default hotline's
 * ring_at_agent step), so both must name the same person once a map is in place.
 */
static const char *
put_agent(struct pbx_map *m, json_t *data, struct str agent)
{
    const char *u = actor_of(m, agent);

    if (u != NULL)
        json_object_set_new_nocheck(data, "agent", jstr(str_from(u)));
    else
        put_s(data, "agent", agent);
    put_s(data, "member", agent);
    return u;
}

/*
 * Builds one event object and appends it: type, occurred_at (ms), subject, actor,
 * customer (NULL = null), source_id from key, data (stolen).
 */
static void
emit(struct pbx_map *m, json_t *events, const char *type, int64_t at_ms, const char *subject_kind,
     struct str subject_key, const char *actor, struct str customer, struct key *key, json_t *data)
{
    char ts[TIME_RFC3339_LEN + 1], subj[208];
    size_t kl = strlen(subject_kind), sl = subject_key.len;
    struct str id = finish_key(key);
    json_t *ev;

    /* "call:<callid>"; cut at 200 bytes (the ledger's limit; callids are ≤ 80). */
    if (kl + 1 + sl > 200)
        sl = 200 - kl - 1;
    memcpy(subj, subject_kind, kl);
    subj[kl] = ':';
    memcpy(subj + kl + 1, subject_key.p, sl);
    time_format_rfc3339(at_ms, ts);
    ev = json_object();
    json_object_set_new_nocheck(ev, "type", json_string_nocheck(type));
    json_object_set_new_nocheck(ev, "occurred_at", json_string_nocheck(ts));
    json_object_set_new_nocheck(ev, "subject", jstr((struct str){subj, kl + 1 + sl}));
    json_object_set_new_nocheck(ev, "actor", actor ? jstr(str_from(actor)) : json_null());
    json_object_set_new_nocheck(ev, "customer", customer.len ? jstr(customer) : json_null());
    json_object_set_new_nocheck(ev, "channel", json_string_nocheck("phone"));
    json_object_set_new_nocheck(ev, "source", jstr(str_from(m->source)));
    json_object_set_new_nocheck(ev, "source_id", jstr(id));
    json_object_set_new_nocheck(ev, "data", data);
    json_array_append_new(events, ev);
}

/* Free text from the PBX may not be valid UTF-8; such values are replaced by '?'. */
static void
put_text(json_t *data, const char *key, struct str v)
{
    put_s(data, key, v);
}

static void
call_key(struct key *k, struct str callid, const char *what, struct str queue, int n)
{
    key_reset(k);
    key_sv(k, callid);
    key_put(k, "|", 1);
    key_s(k, what);
    key_put(k, "|", 1);
    key_sv(k, queue);
    key_put(k, "|", 1);
    key_i(k, n);
}

static void
ring_key(struct key *k, struct str callid, const char *what, struct str queue, struct str agent,
         int n)
{
    key_reset(k);
    key_sv(k, callid);
    key_put(k, "|", 1);
    key_s(k, what);
    key_put(k, "|", 1);
    key_sv(k, queue);
    key_put(k, "|", 1);
    key_sv(k, agent);
    key_put(k, "|", 1);
    key_i(k, n);
}

/* The k of an agent event key: how many identical keys came before in the same second. */
static int
dup_index(struct pbx_map *m, int64_t epoch_s, const struct key *k)
{
    uint64_t h = k->h1 ^ (k->h2 << 1);

    if (epoch_s != m->dup_epoch) {
        m->dup_epoch = epoch_s;
        m->ndups = 0;
    }
    for (int i = 0; i < m->ndups; i++)
        if (m->dups[i].hash == h)
            return ++m->dups[i].n;
    if (m->ndups < (int)ARRAY_LEN(m->dups)) {
        m->dups[m->ndups].hash = h;
        m->dups[m->ndups].n = 1;
        m->ndups++;
    }
    return 1;
}

static const struct str NOSTR = {"", 0};

static void
agent_event(struct pbx_map *m, const struct qlog_line *l, bool do_emit, json_t *events,
            const char *type, const char *via)
{
    struct key k;
    json_t *data;
    int n;

    key_reset(&k);
    key_put(&k, "agent|", 6);
    key_i(&k, l->epoch_s);
    key_put(&k, "|", 1);
    key_sv(&k, l->event);
    key_put(&k, "|", 1);
    key_sv(&k, l->agent);
    key_put(&k, "|", 1);
    key_sv(&k, l->queue);
    n = dup_index(m, l->epoch_s, &k);
    if (do_emit) {
        key_put(&k, "|", 1);
        key_i(&k, n);
        data = json_object();
        const char *who = put_agent(m, data, l->agent);
        if (!is_none(l->queue))
            put_s(data, "queue", l->queue);
        json_object_set_new_nocheck(data, "via", json_string_nocheck(via));
        if (l->kind == QLOG_ADDMEMBER)
            json_object_set_new_nocheck(data, "paused", json_boolean(l->paused));
        if (l->kind == QLOG_PAUSE || l->kind == QLOG_UNPAUSE)
            put_text(data, "reason", l->text);
        if (l->kind == QLOG_AGENTLOGIN || l->kind == QLOG_AGENTLOGOFF)
            put_s(data, "channel", l->channel);
        if (l->kind == QLOG_AGENTCALLBACKLOGIN || l->kind == QLOG_AGENTCALLBACKLOGOFF)
            put_s(data, "extension", l->extension);
        if (l->kind == QLOG_AGENTLOGOFF || l->kind == QLOG_AGENTCALLBACKLOGOFF) {
            put_i(data, "logintime_s", l->logintime_s);
            put_text(data, "reason", l->text);
        }
        emit(m, events, type, l->at_ms, "agent", l->agent, who, NOSTR, &k, data);
    }
}

static void
ringing(struct pbx_map *m, json_t *events, struct str callid, struct str queue, struct str agent,
        int n, int64_t at_ms, int64_t ring_ms, const char *outcome, bool derived,
        struct str member_uniqueid, struct str interface)
{
    struct key k;
    json_t *data = json_object();

    ring_key(&k, callid, "ringing", queue, agent, n);
    put_s(data, "queue", queue);
    const char *who = put_agent(m, data, agent);
    put_i(data, "ring_ms", ring_ms);
    if (outcome)
        json_object_set_new_nocheck(data, "outcome", json_string_nocheck(outcome));
    if (derived)
        json_object_set_new_nocheck(data, "derived", json_true());
    put_s(data, "member_uniqueid", member_uniqueid);
    if (interface.len && !(interface.len == agent.len && !memcmp(interface.p, agent.p, agent.len)))
        put_s(data, "interface", interface);
    json_object_set_new_nocheck(data, "attempt", json_integer(n));
    emit(m, events, "call.ringing", at_ms, "call", callid, who, NOSTR, &k, data);
}

/*
 * call.ring_ended at the instant a ring at one agent stopped without her answering
 * (RINGNOANSWER / RINGCANCELED, AMI AgentRingNoAnswer): the end of "the ring time at her
 * phone" (issue 4), so a process measures exactly how long she let it ring and not until the
 * call was answered elsewhere. source_id <callid>|ring_ended|<queue>|<member>|<attempt>, the
 * same from queue_log and AMI.
 */
static void
ring_end(struct pbx_map *m, json_t *events, struct str callid, struct str queue, struct str agent,
         int n, int64_t at_ms, int64_t ring_ms, const char *outcome)
{
    struct key k;
    json_t *data = json_object();
    const char *who;

    ring_key(&k, callid, "ring_ended", queue, agent, n);
    put_s(data, "queue", queue);
    who = put_agent(m, data, agent);
    put_i(data, "ring_ms", ring_ms);
    json_object_set_new_nocheck(data, "outcome", json_string_nocheck(outcome));
    json_object_set_new_nocheck(data, "attempt", json_integer(n));
    emit(m, events, "call.ring_ended", at_ms, "call", callid, who, NOSTR, &k, data);
}

static const char *
abandon_reason(enum qlog_kind k)
{
    switch (k) {
    case QLOG_EXITWITHTIMEOUT:
        return "timeout";
    case QLOG_EXITEMPTY:
        return "empty";
    case QLOG_EXITWITHKEY:
        return "key";
    case QLOG_WITHDRAW:
        return "withdraw";
    default:
        return "abandon";
    }
}

enum pbx_outcome
pbx_map_qlog(struct pbx_map *m, const struct qlog_line *l, bool do_emit, json_t *events)
{
    struct call *c;
    struct key k;
    json_t *data;
    const char *who;
    bool open;
    int n;

    switch (l->kind) {
    case QLOG_ADDMEMBER:
    case QLOG_AGENTLOGIN:
    case QLOG_AGENTCALLBACKLOGIN:
        agent_event(m, l, do_emit, events, "agent.login", qlog_kind_name(l->kind));
        return PBX_MAPPED;
    case QLOG_REMOVEMEMBER:
    case QLOG_AGENTLOGOFF:
    case QLOG_AGENTCALLBACKLOGOFF:
        agent_event(m, l, do_emit, events, "agent.logout", qlog_kind_name(l->kind));
        return PBX_MAPPED;
    case QLOG_PAUSE:
        agent_event(m, l, do_emit, events, "agent.paused", "PAUSE");
        return PBX_MAPPED;
    case QLOG_UNPAUSE:
        agent_event(m, l, do_emit, events, "agent.unpaused", "UNPAUSE");
        return PBX_MAPPED;
    case QLOG_CUSTOM:
        return PBX_UNKNOWN;
    case QLOG_PAUSEALL:   /* per-queue PAUSE lines follow; mapping both would double */
    case QLOG_UNPAUSEALL: /* likewise UNPAUSE */
    case QLOG_PENALTY:
    case QLOG_RINGINUSE:
    case QLOG_QUEUESTART:
    case QLOG_CONFIGRELOAD:
    case QLOG_AGENTDUMP:
    case QLOG_SYSCOMPAT:
    case QLOG_OUTCALL:
    case QLOG_KIND_COUNT:
        return PBX_IGNORED;
    default:
        break;
    }
    /* Call events. */
    c = call_get(m, l->callid, l->at_ms);
    switch (l->kind) {
    case QLOG_ENTERQUEUE:
        n = entry(c, l->queue, true);
        if (!do_emit)
            break;
        call_key(&k, l->callid, "offered", l->queue, n);
        data = json_object();
        put_s(data, "queue", l->queue);
        put_i(data, "position", l->position);
        put_text(data, "url", l->url);
        put_text(data, "caller_name", l->caller_name);
        emit(m, events, "call.offered", l->at_ms, "call", l->callid, NULL, l->caller_num, &k, data);
        break;
    case QLOG_RINGNOANSWER:
    case QLOG_RINGCANCELED:
        n = attempt(c, l->queue, l->agent, false, &open);
        if (do_emit) {
            const char *how = l->kind == QLOG_RINGNOANSWER ? "no_answer" : "canceled";

            ringing(m, events, l->callid, l->queue, l->agent, n, l->at_ms - l->ring_ms, l->ring_ms,
                    how, true, NOSTR, NOSTR);
            ring_end(m, events, l->callid, l->queue, l->agent, n, l->at_ms, l->ring_ms, how);
        }
        break;
    case QLOG_CONNECT:
        if (l->ringtime_s >= 0) {
            n = attempt(c, l->queue, l->agent, false, &open);
            if (do_emit)
                ringing(m, events, l->callid, l->queue, l->agent, n,
                        l->at_ms - l->ringtime_s * 1000, l->ringtime_s * 1000, "answered", true,
                        l->member_uniqueid, NOSTR);
        }
        n = entry(c, l->queue, false);
        c->answered = true;
        c->answered_ms = l->at_ms;
        free(c->agent);
        c->agent = xstrndup(l->agent.p, l->agent.len);
        if (!do_emit)
            break;
        call_key(&k, l->callid, "answered", l->queue, n);
        data = json_object();
        put_s(data, "queue", l->queue);
        who = put_agent(m, data, l->agent);
        put_i(data, "holdtime_s", l->holdtime_s);
        put_i(data, "ringtime_s", l->ringtime_s);
        put_s(data, "member_uniqueid", l->member_uniqueid);
        emit(m, events, "call.answered", l->at_ms, "call", l->callid, who, NOSTR, &k, data);
        break;
    case QLOG_COMPLETEAGENT:
    case QLOG_COMPLETECALLER:
        n = entry(c, l->queue, false);
        c->ended = true;
        if (!do_emit)
            break;
        call_key(&k, l->callid, "ended", l->queue, n);
        data = json_object();
        put_s(data, "queue", l->queue);
        who = put_agent(m, data, l->agent);
        put_i(data, "talk_s", l->calltime_s);
        put_i(data, "holdtime_s", l->holdtime_s);
        put_i(data, "orig_position", l->orig_position);
        json_object_set_new_nocheck(
            data, "ended_by",
            json_string_nocheck(l->kind == QLOG_COMPLETEAGENT ? "agent" : "caller"));
        emit(m, events, "call.ended", l->at_ms, "call", l->callid, who, NOSTR, &k, data);
        break;
    case QLOG_ABANDON:
    case QLOG_EXITWITHTIMEOUT:
    case QLOG_EXITEMPTY:
    case QLOG_EXITWITHKEY:
    case QLOG_WITHDRAW:
        n = entry(c, l->queue, false);
        c->ended = true;
        if (!do_emit)
            break;
        call_key(&k, l->callid, "abandoned", l->queue, n);
        data = json_object();
        put_s(data, "queue", l->queue);
        json_object_set_new_nocheck(data, "reason", json_string_nocheck(abandon_reason(l->kind)));
        put_i(data, "waittime_s", l->waittime_s);
        put_i(data, "position", l->position);
        put_i(data, "orig_position", l->orig_position);
        put_text(data, "key", l->key);
        if (l->kind == QLOG_WITHDRAW)
            put_text(data, "info", l->text);
        emit(m, events, "call.abandoned", l->at_ms, "call", l->callid, NULL, NOSTR, &k, data);
        break;
    case QLOG_TRANSFER:
    case QLOG_BLINDTRANSFER:
    case QLOG_ATTENDEDTRANSFER:
        n = entry(c, l->queue, false);
        c->ended = true;
        if (!do_emit)
            break;
        call_key(&k, l->callid, "transferred", l->queue, n);
        data = json_object();
        put_s(data, "queue", l->queue);
        who = put_agent(m, data, l->agent);
        json_object_set_new_nocheck(data, "kind",
                                    json_string_nocheck(l->kind == QLOG_TRANSFER ? "transfer"
                                                        : l->kind == QLOG_BLINDTRANSFER
                                                            ? "blind"
                                                            : "attended"));
        put_s(data, "extension", l->extension);
        put_s(data, "context", l->context);
        put_s(data, "method", l->method);
        put_s(data, "method_data", l->method_data1);
        put_s(data, "method_data2", l->method_data2);
        put_i(data, "holdtime_s", l->holdtime_s);
        put_i(data, "talk_s", l->calltime_s);
        put_i(data, "orig_position", l->orig_position);
        emit(m, events, "call.transferred", l->at_ms, "call", l->callid, who, NOSTR, &k, data);
        break;
    default:
        break;
    }
    return PBX_MAPPED;
}

/* AMI ---------------------------------------------------------------------------------- */

static int64_t
ami_num(const struct ami_packet *p, const char *key)
{
    struct str v = ami_packet_get(p, key);
    int64_t n;

    /* Seconds and ms of one call: anything above 10^9 is garbage, not a duration. */
    if (v.p == NULL || str_to_int64(v, &n) != SMILE_OK || n < 0 || n > 1000000000)
        return -1;
    return n;
}

static struct str
ami_str(const struct ami_packet *p, const char *key)
{
    struct str v = ami_packet_get(p, key);

    return v.p ? v : NOSTR;
}

enum pbx_outcome
pbx_map_ami(struct pbx_map *m, const struct ami_packet *p, int64_t received_ms, json_t *events)
{
    struct str ev = ami_packet_get(p, "Event"), ts = ami_packet_get(p, "Timestamp");
    struct str callid = ami_str(p, "Uniqueid"), queue = ami_str(p, "Queue");
    struct str agent = ami_str(p, "MemberName"), iface = ami_str(p, "Interface");
    int64_t at_ms = received_ms, v;
    struct call *c;
    struct key k;
    json_t *data;
    bool open;
    int n;

    if (ev.p == NULL)
        return PBX_IGNORED;
    if (ts.p && ami_timestamp_parse(ts, &at_ms) != SMILE_OK)
        at_ms = received_ms;
    /* Asterisk 11 and older (SOURCES.md §1.6): Join for QueueCallerJoin (Leave, like
     * QueueCallerLeave, adds nothing); the member's interface as Member (AgentCalled: as
     * the AgentCalled field) and its name as AgentName in AgentCalled. */
    if (str_eq(ev, "Join"))
        ev = STR_LIT("QueueCallerJoin");
    if (agent.len == 0)
        agent = ami_str(p, "AgentName");
    if (iface.len == 0)
        iface = ami_str(p, "Member");
    if (iface.len == 0 && str_eq(ev, "AgentCalled"))
        iface = ami_str(p, "AgentCalled");
    if (agent.len == 0)
        agent = iface;
    if (!(str_eq(ev, "QueueCallerJoin") || str_eq(ev, "AgentCalled") ||
          str_eq(ev, "AgentRingNoAnswer") || str_eq(ev, "AgentConnect") ||
          str_eq(ev, "AgentComplete") || str_eq(ev, "QueueCallerAbandon") || str_eq(ev, "Hangup")))
        return PBX_IGNORED;
    if (callid.len == 0)
        return PBX_IGNORED;
    if (str_eq(ev, "Hangup")) {
        uint64_t h = fnv(callid.p, callid.len, FNV_SEED);

        /* Only a caller channel we know; a call answered and not ended by AgentComplete. */
        for (c = m->buckets[h & (m->nbuckets - 1)]; c; c = c->next)
            if (c->hash == h && sv_eq(c->callid, callid))
                break;
        if (c && c->answered && !c->ended && c->queue) {
            struct str q = str_from(c->queue), a = str_from(c->agent ? c->agent : "");

            c->ended = true;
            n = entry(c, q, false);
            call_key(&k, callid, "ended", q, n);
            data = json_object();
            put_s(data, "queue", q);
            const char *who = put_agent(m, data, a);
            put_i(data, "talk_s", (at_ms - c->answered_ms) / 1000);
            json_object_set_new_nocheck(data, "ended_by", json_string_nocheck("hangup"));
            put_s(data, "cause", ami_str(p, "Cause-txt"));
            emit(m, events, "call.ended", at_ms, "call", callid, who, NOSTR, &k, data);
            return PBX_MAPPED;
        }
        return PBX_IGNORED;
    }
    c = call_get(m, callid, at_ms);
    if (str_eq(ev, "QueueCallerJoin")) {
        struct str num = ami_str(p, "CallerIDNum"), name = ami_str(p, "CallerIDName");

        if (str_eq(num, "<unknown>"))
            num = NOSTR;
        if (str_eq(name, "<unknown>"))
            name = NOSTR;
        n = entry(c, queue, true);
        call_key(&k, callid, "offered", queue, n);
        data = json_object();
        put_s(data, "queue", queue);
        put_i(data, "position", ami_num(p, "Position"));
        put_text(data, "caller_name", name);
        emit(m, events, "call.offered", at_ms, "call", callid, NULL, num, &k, data);
    } else if (str_eq(ev, "AgentCalled")) {
        n = attempt(c, queue, agent, true, &open);
        ringing(m, events, callid, queue, agent, n, at_ms, -1, NULL, false,
                ami_str(p, "DestUniqueid"), iface);
    } else if (str_eq(ev, "AgentRingNoAnswer")) {
        n = attempt(c, queue, agent, false, &open);
        v = ami_num(p, "RingTime");
        if (!open) /* the start was missed (e.g. connection dropped): the end tells it */
            ringing(m, events, callid, queue, agent, n, at_ms - (v > 0 ? v : 0), v, "no_answer",
                    true, ami_str(p, "DestUniqueid"), iface);
        ring_end(m, events, callid, queue, agent, n, at_ms, v, "no_answer");
    } else if (str_eq(ev, "AgentConnect")) {
        int64_t ring_s = ami_num(p, "RingTime");

        n = attempt(c, queue, agent, false, &open);
        if (!open && ring_s >= 0)
            ringing(m, events, callid, queue, agent, n, at_ms - ring_s * 1000, ring_s * 1000,
                    "answered", true, ami_str(p, "DestUniqueid"), iface);
        n = entry(c, queue, false);
        c->answered = true;
        c->answered_ms = at_ms;
        free(c->agent);
        c->agent = xstrndup(agent.p, agent.len);
        call_key(&k, callid, "answered", queue, n);
        data = json_object();
        put_s(data, "queue", queue);
        const char *who = put_agent(m, data, agent);
        put_i(data, "holdtime_s", ami_num(p, "HoldTime"));
        put_i(data, "ringtime_s", ring_s);
        /* ≤ 11: the member channel's Uniqueid is sent as BridgedChannel */
        put_s(data, "member_uniqueid",
              ami_str(p, "DestUniqueid").len ? ami_str(p, "DestUniqueid")
                                             : ami_str(p, "BridgedChannel"));
        emit(m, events, "call.answered", at_ms, "call", callid, who, NOSTR, &k, data);
    } else if (str_eq(ev, "AgentComplete")) {
        struct str reason = ami_str(p, "Reason");
        bool transfer = str_eq(reason, "transfer");

        n = entry(c, queue, false);
        c->ended = true;
        call_key(&k, callid, transfer ? "transferred" : "ended", queue, n);
        data = json_object();
        put_s(data, "queue", queue);
        const char *who = put_agent(m, data, agent);
        put_i(data, "talk_s", ami_num(p, "TalkTime"));
        put_i(data, "holdtime_s", ami_num(p, "HoldTime"));
        if (!transfer)
            json_object_set_new_nocheck(
                data, "ended_by",
                json_string_nocheck(str_eq(reason, "agent") ? "agent" : "caller"));
        emit(m, events, transfer ? "call.transferred" : "call.ended", at_ms, "call", callid, who,
             NOSTR, &k, data);
    } else { /* QueueCallerAbandon */
        n = entry(c, queue, false);
        c->ended = true;
        call_key(&k, callid, "abandoned", queue, n);
        data = json_object();
        put_s(data, "queue", queue);
        json_object_set_new_nocheck(data, "reason", json_string_nocheck("abandon"));
        put_i(data, "waittime_s", ami_num(p, "HoldTime"));
        put_i(data, "position", ami_num(p, "Position"));
        put_i(data, "orig_position", ami_num(p, "OriginalPosition"));
        emit(m, events, "call.abandoned", at_ms, "call", callid, NULL, NOSTR, &k, data);
    }
    return PBX_MAPPED;
}
