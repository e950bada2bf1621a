/*
 * case_state.c — the case status state machine, pure: which transitions are legal and
 * which event each emits. case.c applies it to PATCH and the case actions.
 *
 * Status transitions (anything else is 409 naming from and to; closed is final, a closed
 * case cannot be edited at all). Each cell is the event the transition emits; "(none)"
 * is legal but emits nothing:
 *
 *   from \ to   open            pending        resolved        closed
 *   new         (none)          -              case.resolved   -
 *   open        .               case.pending   case.resolved   -
 *   pending     (none)          .              case.resolved   -
 *   resolved    case.reopened   -              .               case.closed
 *   closed      -               -              -               .
 *
 * The events are the case types the ledger knows (src/ledger/ledger.c) and the default
 * processes use (src/engine/defaults.c). new → open needs none: taking a case is an
 * assignment (case.assigned). pending → open has no type of its own yet: the engine
 * resumes a paused clock on case.assigned, case.reopened or a customer's reply; a
 * "case.resumed" type in the ledger would let this cell emit it.
 *
 * Other events: case.opened when a case is created; case.assigned whenever assignee_id
 * or team_id changes (also at creation if set); case.replied when an interaction in or
 * out is logged on the case (resources.c; data.by "staff" or "customer"). Assigning a
 * new case also moves it to open. resolved_at is set on resolving and cleared on
 * reopening; closed_at is set on closing.
 */
#include "crm/crm.h"

#include <string.h>

const char *const crm_case_status_names[CRM_CASE_NSTATUS + 1] = {"new",      "open",   "pending",
                                                                 "resolved", "closed", NULL};

/* The event of each legal transition [from][to]; "" = legal, no event; NULL = illegal. */
static const char *const transitions[CRM_CASE_NSTATUS][CRM_CASE_NSTATUS] = {
    [CRM_CASE_NEW] = {[CRM_CASE_OPEN] = "", [CRM_CASE_RESOLVED] = "case.resolved"},
    [CRM_CASE_OPEN] = {[CRM_CASE_PENDING] = "case.pending", [CRM_CASE_RESOLVED] = "case.resolved"},
    [CRM_CASE_PENDING] = {[CRM_CASE_OPEN] = "", [CRM_CASE_RESOLVED] = "case.resolved"},
    [CRM_CASE_RESOLVED] = {[CRM_CASE_OPEN] = "case.reopened", [CRM_CASE_CLOSED] = "case.closed"},
    [CRM_CASE_CLOSED] = {NULL},
};

int
crm_case_status_parse(const char *name)
{
    for (int i = 0; name && i < CRM_CASE_NSTATUS; i++)
        if (strcmp(name, crm_case_status_names[i]) == 0)
            return i;
    return -1;
}

const char *
crm_case_status_name(int status)
{
    if (status < 0 || status >= CRM_CASE_NSTATUS)
        return "unknown";
    return crm_case_status_names[status];
}

const char *
crm_case_transition_event(int from, int to)
{
    if (from < 0 || from >= CRM_CASE_NSTATUS || to < 0 || to >= CRM_CASE_NSTATUS)
        return NULL;
    return transitions[from][to];
}

bool
crm_case_transition_ok(int from, int to)
{
    return crm_case_transition_event(from, to) != NULL;
}
