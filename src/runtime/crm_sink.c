/*
 * crm_sink.c — connects the CRM's case actions to the ledger and so to the runtime. The CRM
 * calls the sink inside the transaction of each change (open, assign, pending, resolve,
 * reply …); the sink maps the CRM event to a ledger event in the shape the processes expect
 * (docs/processes.md §8: case.opened data.type, case.assigned data.assignee / data.team as
 * username and team name, case.replied data.by; a type the ledger does not know, such as
 * case.accepted, becomes custom.case_accepted) and appends it with ledger_append_in_tx(), so
 * the event commits with the change or not at all. When the CRM transaction ends, the done
 * hook hands what committed to ledger_notify(): the post-commit hooks (the runtime) see it as
 * they see API events. Pending events are kept per database connection, since each request
 * thread runs its own transaction.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"
#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

struct pending {
    struct store *s;
    struct ledger_event *ev;
    int64_t *id;
    size_t n, cap;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct pending *conns;
static size_t nconns;
static struct ledger *the_ledger;

static struct pending *
pending_for(struct store *s)
{
    for (size_t i = 0; i < nconns; i++)
        if (conns[i].s == s)
            return &conns[i];
    conns = xrealloc(conns, (nconns + 1) * sizeof(*conns));
    conns[nconns] = (struct pending){.s = s};
    return &conns[nconns++];
}

static void
event_free(struct ledger_event *e)
{
    free((char *)e->type);
    free((char *)e->subject);
    free((char *)e->actor);
    free((char *)e->customer);
    free((char *)e->channel);
    free((char *)e->source);
    free((char *)e->source_id);
    free((char *)e->data);
}

/* The name column of a users or teams row, or NULL. */
static char *
lookup_name(struct store *s, const char *sql, int64_t id)
{
    struct store_stmt *st;
    struct smile_err err;
    char *out = NULL;

    smile_err_clear(&err);
    if (id <= 0 || store_prepare(s, sql, &st, &err) != SMILE_OK)
        return NULL;
    store_stmt_bind_int64(st, 1, id);
    if (store_stmt_step(st, &err) == STORE_ROW && store_stmt_text(st, 0))
        out = xstrdup(store_stmt_text(st, 0));
    store_stmt_reset(st);
    return out;
}

static const char *
valid_channel(const char *c)
{
    static const char *const ok[] = {"phone", "email", "counter", "web", "system"};

    for (size_t i = 0; c && i < ARRAY_LEN(ok); i++)
        if (strcmp(c, ok[i]) == 0)
            return c;
    return NULL;
}

/* A CRM type the ledger does not know (case.accepted, case.resumed) as custom.case_accepted. */
static char *
custom_type(const char *type)
{
    char buf[LEDGER_MAX_TYPE + 1];

    snprintf(buf, sizeof(buf), "custom.%s", type);
    for (char *p = buf + 7; *p; p++)
        if (*p == '.')
            *p = '_';
    return xstrdup(buf);
}

static int
sink(struct store *s, const struct crm_event *cev, void *ud, struct smile_err *err)
{
    static const char sql_user[] = "SELECT username FROM users WHERE id = $1";
    static const char sql_team[] = "SELECT name FROM teams WHERE id = $1";
    json_t *data = cev->data ? json_deep_copy(cev->data) : json_object();
    struct ledger_event ev;
    struct pending *p;
    char cust[32];
    int64_t id = 0;
    int rc;

    (void)ud;
    /* The processes' vocabulary beside the CRM's own fields. */
    if (json_is_string(json_object_get(data, "case_type")) && !json_object_get(data, "type"))
        json_object_set(data, "type", json_object_get(data, "case_type"));
    if (strcmp(cev->type, "case.assigned") == 0 || strcmp(cev->type, "case.opened") == 0) {
        char *u =
            lookup_name(s, sql_user, json_integer_value(json_object_get(data, "assignee_id")));
        char *t = lookup_name(s, sql_team, json_integer_value(json_object_get(data, "team_id")));
        if (u)
            json_object_set_new(data, "assignee", json_string(u));
        if (t)
            json_object_set_new(data, "team", json_string(t));
        free(u);
        free(t);
    }
    /* The CRM emits case.replied for a staff member's outgoing interaction. */
    if (strcmp(cev->type, "case.replied") == 0 && !json_object_get(data, "by"))
        json_object_set_new(data, "by", json_string("staff"));
    snprintf(cust, sizeof(cust), "%" PRId64, cev->customer_id);
    ev = (struct ledger_event){
        .type = ledger_type_known(cev->type) ? xstrdup(cev->type) : custom_type(cev->type),
        .occurred_at = cev->occurred_at,
        .subject = xstrdup(cev->subject),
        .actor = cev->actor && cev->actor[0] ? xstrdup(cev->actor) : NULL,
        .customer = cev->customer_id > 0 ? xstrdup(cust) : NULL,
        .channel = valid_channel(cev->channel) ? xstrdup(cev->channel) : NULL,
        .source = xstrdup(cev->source ? cev->source : "crm"),
        .source_id = cev->source_id ? xstrdup(cev->source_id) : NULL,
        .data = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS),
    };
    json_decref(data);
    if (ev.source_id == NULL) {
        /* A key unique to this change: the CRM emits one event of a type per change. */
        char sid[96];
        snprintf(sid, sizeof(sid), "%s:%s:%" PRId64, cev->subject, cev->type, cev->occurred_at);
        ev.source_id = xstrdup(sid);
    }
    rc = ledger_append_in_tx(s, &ev, &id, err);
    if (rc != SMILE_OK) {
        event_free(&ev);
        return rc;
    }
    pthread_mutex_lock(&mu);
    p = pending_for(s);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->ev = xrealloc(p->ev, p->cap * sizeof(*p->ev));
        p->id = xrealloc(p->id, p->cap * sizeof(*p->id));
    }
    p->ev[p->n] = ev;
    p->id[p->n++] = id;
    pthread_mutex_unlock(&mu);
    return SMILE_OK;
}

static void
done(struct store *s, bool committed, void *ud)
{
    struct ledger_event *evs = NULL;
    int64_t *ids = NULL;
    size_t n = 0;

    (void)ud;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nconns; i++) {
        if (conns[i].s != s)
            continue;
        evs = conns[i].ev;
        ids = conns[i].id;
        n = conns[i].n;
        conns[i] = conns[--nconns];
        break;
    }
    pthread_mutex_unlock(&mu);
    if (committed && n > 0 && the_ledger) {
        struct ledger_committed *c = xcalloc(n, sizeof(*c));
        for (size_t i = 0; i < n; i++)
            c[i] = (struct ledger_committed){ids[i], &evs[i]};
        ledger_notify(the_ledger, c, n);
        free(c);
    }
    for (size_t i = 0; i < n; i++)
        event_free(&evs[i]);
    free(evs);
    free(ids);
}

void
runtime_crm_sink_install(struct ledger *l)
{
    pthread_mutex_lock(&mu);
    the_ledger = l;
    pthread_mutex_unlock(&mu);
    crm_event_sink_set(sink, done, NULL);
}

void
runtime_crm_sink_uninstall(void)
{
    crm_event_sink_set(NULL, NULL, NULL);
    pthread_mutex_lock(&mu);
    the_ledger = NULL;
    pthread_mutex_unlock(&mu);
}
