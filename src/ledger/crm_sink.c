/*
 * crm_sink.c — the bridge from CRM actions to the ledger. Registered as the CRM's event
 * sink at start-up (crm_event_sink_set), it turns each struct crm_event into a ledger
 * event appended inside the CRM's own transaction (ledger_append_in_tx), so a case change
 * and its case.* event commit together or not at all. It keeps a copy of what it appended
 * on each database connection; when the CRM reports that the transaction committed it
 * hands those events to the post-commit hooks (ledger_notify), and on a rollback it drops
 * them. The CRM and the ledger stay unaware of each other's insides: this file is the
 * only place that knows both.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"
#include "ledger/ledger.h"

/* An appended event kept until its transaction ends; the strings are owned copies. */
struct held {
    struct ledger_event ev;
    int64_t id;
};

/* The events appended on one connection in its open transaction. */
struct conn_events {
    struct store *s;
    struct held *v;
    size_t n, cap;
};

struct ledger_crm {
    struct ledger *l;
    pthread_mutex_t mu; /* guards conns: each connection is used by one thread at a time,
                           but the table is shared */
    struct conn_events *conns;
    size_t nconns, cap;
};

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void
held_free(struct held *h)
{
    free((char *)h->ev.type);
    free((char *)h->ev.subject);
    free((char *)h->ev.actor);
    free((char *)h->ev.customer);
    free((char *)h->ev.channel);
    free((char *)h->ev.source);
    free((char *)h->ev.source_id);
    free((char *)h->ev.data);
}

/* The entry of connection s, created if absent. Called with b->mu held. */
static struct conn_events *
conn_of(struct ledger_crm *b, struct store *s, bool create)
{
    for (size_t i = 0; i < b->nconns; i++)
        if (b->conns[i].s == s)
            return &b->conns[i];
    if (!create)
        return NULL;
    if (b->nconns == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->conns = xrealloc(b->conns, b->cap * sizeof(*b->conns));
    }
    b->conns[b->nconns] = (struct conn_events){.s = s};
    return &b->conns[b->nconns++];
}

static bool
channel_ok(const char *c)
{
    static const char *const ok[] = {"phone", "email", "counter", "web", "system"};

    for (size_t i = 0; c && i < ARRAY_LEN(ok); i++)
        if (strcmp(c, ok[i]) == 0)
            return true;
    return false;
}

static int
sink(struct store *s, const struct crm_event *ce, void *ud, struct smile_err *err)
{
    struct ledger_crm *b = ud;
    char customer[24];
    char *data = NULL;
    struct ledger_event ev = {
        .type = ce->type,
        .occurred_at = ce->occurred_at,
        .subject = ce->subject,
        .actor = ce->actor && ce->actor[0] ? ce->actor : NULL, /* "" = the command line */
        .customer = NULL,
        .channel = channel_ok(ce->channel) ? ce->channel : NULL,
        .source = ce->source_id ? ce->source : NULL,
        .source_id = ce->source_id,
    };
    struct conn_events *ce_list;
    struct held h;
    int64_t id;
    int rc;

    if (ce->customer_id > 0) {
        snprintf(customer, sizeof(customer), "%" PRId64, ce->customer_id);
        ev.customer = customer;
    }
    if (ce->data && json_object_size(ce->data) > 0) {
        data = ledger_data_canonical(ce->data);
        if (data == NULL)
            return smile_err_set(err, SMILE_EINVAL,
                                 "the data of a %s event is not an object "
                                 "of at most 16 KiB",
                                 ce->type);
        ev.data = data;
    }
    rc = ledger_append_in_tx(s, &ev, &id, err);
    if (rc != SMILE_OK) {
        free(data);
        return rc;
    }
    h = (struct held){
        .ev =
            {
                .type = xstrdup(ev.type),
                .occurred_at = ev.occurred_at,
                .subject = xstrdup(ev.subject),
                .actor = dup_or_null(ev.actor),
                .customer = dup_or_null(ev.customer),
                .channel = xstrdup(ev.channel ? ev.channel : ledger_channel_default(ev.type)),
                .source = dup_or_null(ev.source),
                .source_id = dup_or_null(ev.source_id),
                .data = data,
            },
        .id = id,
    };
    pthread_mutex_lock(&b->mu);
    ce_list = conn_of(b, s, true);
    if (ce_list->n == ce_list->cap) {
        ce_list->cap = ce_list->cap ? 2 * ce_list->cap : 4;
        ce_list->v = xrealloc(ce_list->v, ce_list->cap * sizeof(*ce_list->v));
    }
    ce_list->v[ce_list->n++] = h;
    pthread_mutex_unlock(&b->mu);
    return SMILE_OK;
}

static void
done(struct store *s, bool committed, void *ud)
{
    struct ledger_crm *b = ud;
    struct conn_events *e, mine;
    struct ledger_committed *c;

    pthread_mutex_lock(&b->mu);
    e = conn_of(b, s, false);
    if (e == NULL) {
        pthread_mutex_unlock(&b->mu);
        return;
    }
    mine = *e;
    *e = b->conns[--b->nconns]; /* unordered removal */
    pthread_mutex_unlock(&b->mu);
    if (committed && mine.n > 0) {
        c = xcalloc(mine.n, sizeof(*c));
        for (size_t i = 0; i < mine.n; i++)
            c[i] = (struct ledger_committed){.id = mine.v[i].id, .ev = &mine.v[i].ev};
        ledger_notify(b->l, c, mine.n);
        free(c);
    }
    for (size_t i = 0; i < mine.n; i++)
        held_free(&mine.v[i]);
    free(mine.v);
}

struct ledger_crm *
ledger_crm_attach(struct ledger *l)
{
    struct ledger_crm *b = xcalloc(1, sizeof(*b));

    b->l = l;
    pthread_mutex_init(&b->mu, NULL);
    crm_event_sink_set(sink, done, b);
    return b;
}

void
ledger_crm_detach(struct ledger_crm *b)
{
    if (b == NULL)
        return;
    crm_event_sink_set(NULL, NULL, NULL);
    for (size_t i = 0; i < b->nconns; i++) {
        for (size_t k = 0; k < b->conns[i].n; k++)
            held_free(&b->conns[i].v[k]);
        free(b->conns[i].v);
    }
    free(b->conns);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
