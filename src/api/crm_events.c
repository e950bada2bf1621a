/*
 * crm_events.c — connects the CRM's case events to the ledger (the api part sits above
 * both). Each struct crm_event becomes a ledger_event appended with ledger_append_in_tx()
 * inside the CRM's own transaction, so a case change and its event commit together or not
 * at all; when that transaction has committed, the events it appended are handed to
 * ledger_notify() so the ledger's post-commit hooks (engine, scheduler, live stream) see
 * them. serve calls api_crm_events_wire() once, after ledger_open().
 */
#include "api/api_crm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

#define PENDING_MAX 16 /* events of one CRM transaction (a case change emits at most 2) */

/* An appended event kept until its transaction ends; every string is owned. */
struct pending_event {
    struct ledger_event ev;
    int64_t id;
};

/*
 * The events appended in the current CRM transaction of this thread: the sink and the
 * done hook of one transaction run on the thread that handles the request.
 */
static _Thread_local struct pending_event pending[PENDING_MAX];
static _Thread_local size_t npending;

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void
pending_clear(void)
{
    for (size_t i = 0; i < npending; i++) {
        struct ledger_event *e = &pending[i].ev;

        free((char *)e->type);
        free((char *)e->subject);
        free((char *)e->actor);
        free((char *)e->customer);
        free((char *)e->channel);
        free((char *)e->source);
        free((char *)e->source_id);
        free((char *)e->data);
    }
    npending = 0;
}

static int
sink(struct store *s, const struct crm_event *ev, void *ud, struct smile_err *err)
{
    struct ledger_event le;
    char customer[24], *data = NULL;
    int64_t id = 0;
    int rc;

    (void)ud;
    if (ev->customer_id > 0)
        snprintf(customer, sizeof(customer), "%" PRId64, ev->customer_id);
    if (ev->data && json_object_size(ev->data) > 0)
        data = json_dumps(ev->data, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    le = (struct ledger_event){
        .type = ev->type,
        .occurred_at = ev->occurred_at,
        .subject = ev->subject,
        .actor = ev->actor && ev->actor[0] ? ev->actor : NULL,
        .customer = ev->customer_id > 0 ? customer : NULL,
        .channel = ev->channel,
        .source = ev->source,
        .source_id = ev->source_id,
        .data = data,
    };
    rc = ledger_append_in_tx(s, &le, &id, err);
    if (rc == SMILE_EINVAL) {
        /* The CRM built an event the ledger refuses: a bug, not the caller's input. */
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->nfields > 0 ? err->fields[0].msg : err->msg);
        smile_err_clear(err);
        rc = smile_err_set(err, SMILE_EINTERNAL, "the ledger refused the %s event: %s", ev->type,
                           msg);
    }
    if (rc == SMILE_OK && npending < PENDING_MAX) {
        struct pending_event *p = &pending[npending++];

        p->id = id;
        p->ev = (struct ledger_event){
            .type = xstrdup(le.type),
            .occurred_at = le.occurred_at,
            .subject = xstrdup(le.subject),
            .actor = dup_or_null(le.actor),
            .customer = dup_or_null(le.customer),
            .channel = dup_or_null(le.channel),
            .source = dup_or_null(le.source),
            .source_id = dup_or_null(le.source_id),
            .data = data,
        };
        data = NULL;
    }
    free(data);
    return rc;
}

static void
done(struct store *s, bool committed, void *ud)
{
    struct ledger_committed c[PENDING_MAX];

    (void)s;
    if (committed) {
        for (size_t i = 0; i < npending; i++)
            c[i] = (struct ledger_committed){.id = pending[i].id, .ev = &pending[i].ev};
        ledger_notify(ud, c, npending);
    }
    pending_clear();
}

void
api_crm_events_wire(struct ledger *l)
{
    crm_event_sink_set(sink, done, l);
}
