/*
 * event.c — the hook through which CRM actions reach the ledger. The ledger registers one
 * sink at start-up; case actions call crm_case_event() inside their transaction, so the
 * event is appended if and only if the change commits. Without a sink the call does
 * nothing (the CRM works before the ledger exists).
 */
#include "crm/crm.h"

#include <inttypes.h>
#include <stdio.h>

#include "http/http.h"

static crm_event_sink_fn *sink;
static crm_event_done_fn *sink_done;
static void *sink_ud;
static crm_case_route_fn *route_hook;
static crm_case_annotate_fn *annotate_hook;

void
crm_case_hooks_set(crm_case_route_fn *route, crm_case_annotate_fn *annotate)
{
    route_hook = route;
    annotate_hook = annotate;
}

crm_case_route_fn *
crm_case_route_hook(void)
{
    return route_hook;
}

static crm_customer_erase_fn *erase_hooks[8];
static int nerase_hooks;

void
crm_customer_erase_hook_add(crm_customer_erase_fn *fn)
{
    for (int i = 0; i < nerase_hooks; i++)
        if (erase_hooks[i] == fn)
            return;
    if (nerase_hooks < (int)ARRAY_LEN(erase_hooks))
        erase_hooks[nerase_hooks++] = fn;
}

static crm_customer_erase_counted_fn *counted_hooks[8];
static int ncounted_hooks;

void
crm_customer_erase_counted_hook_add(crm_customer_erase_counted_fn *fn)
{
    for (int i = 0; i < ncounted_hooks; i++)
        if (counted_hooks[i] == fn)
            return;
    if (ncounted_hooks < (int)ARRAY_LEN(counted_hooks))
        counted_hooks[ncounted_hooks++] = fn;
}

int
crm_customer_erase_hooks_run(struct store *s, int64_t customer_id, json_t *counts,
                             struct smile_err *err)
{
    for (int i = 0; i < ncounted_hooks; i++) {
        int rc = counted_hooks[i](s, customer_id, counts, err);

        if (rc != SMILE_OK)
            return rc;
    }
    for (int i = 0; i < nerase_hooks; i++) {
        int rc = erase_hooks[i](s, customer_id, err);

        if (rc != SMILE_OK)
            return rc;
    }
    return SMILE_OK;
}

void
crm_event_sink_set(crm_event_sink_fn *fn, crm_event_done_fn *done, void *ud)
{
    sink = fn;
    sink_done = done;
    sink_ud = ud;
}

void
crm_events_finish(struct crm_ctx *c, bool committed)
{
    if (c->nevents > 0 && sink_done)
        sink_done(c->db, committed, sink_ud);
    c->nevents = 0;
}

int
crm_case_event(struct crm_ctx *c, const char *type, int64_t case_id, int64_t customer_id,
               int64_t occurred_at, const char *actor, const char *channel, const char *source_id,
               const json_t *data, struct smile_err *err)
{
    char subject[40];
    struct crm_event ev;
    json_t *own = NULL;
    int rc;

    if (sink == NULL)
        return SMILE_OK;
    snprintf(subject, sizeof(subject), "case:%" PRId64, case_id);
    if (annotate_hook) {
        own = data ? json_deep_copy(data) : json_object();
        const char *who = actor ? actor : c->actor ? c->actor->username : "";
        if ((rc = annotate_hook(c->db, type, subject, who, own, err)) != SMILE_OK) {
            json_decref(own);
            return rc;
        }
        data = own;
    }
    ev = (struct crm_event){
        .type = type,
        .subject = subject,
        .actor = actor      ? actor
                 : c->actor ? c->actor->username
                            : "",
        .customer_id = customer_id,
        .occurred_at = occurred_at ? occurred_at : c->now_ms,
        .channel = channel,
        .source = "crm",
        .source_id = source_id,
        .data = data,
    };
    c->nevents++;
    rc = sink(c->db, &ev, sink_ud, err);
    json_decref(own);
    return rc;
}
