/*
 * crm.h — the CRM part's public face: the five record resources (customers, properties,
 * contracts, cases, interactions) served by the generic record layer (record.h), the
 * checks and normalisers of customer data (Chinese phone numbers, e-mail addresses,
 * resident ID numbers and their masking), the case state machine and its actions, the
 * PIPL Art. 47 anonymisation of a customer, the contact look-ups the intake sources use to
 * link a caller or sender to a customer, and the hook through which case events reach the
 * ledger. Owner of the customers, customer_contacts, properties, contracts, cases and
 * interactions tables.
 */
#ifndef SMILE_CRM_H
#define SMILE_CRM_H

#include <jansson.h>

#include "base/base.h"
#include "crm/record.h"

struct store;

extern const struct crm_resource crm_customers;
extern const struct crm_resource crm_properties;
extern const struct crm_resource crm_contracts;
extern const struct crm_resource crm_cases;
extern const struct crm_resource crm_interactions;

/* Normalisers and checks (pure) ------------------------------------------------------- */

#define CRM_PHONE_MAX 24

/*
 * Normalises a phone number as written by people in China into digits:
 * spaces, '-', '.', '(' and ')' are dropped; a +86 / 0086 prefix is removed; then
 *   mobile    1[3-9] + 9 digits                  "+86 138-0013-8000" → "13800138000"
 *   landline  0 + area code (010, 02x, 03xx–09xx) + 7–8 digits, so 11–12 digits:
 *                                                 "(010) 1234-5678" → "01012345678"
 *             (after +86 the area code's 0 is restored: "+86 10 12345678" → "01012345678")
 *   service   400 / 800 + 7 digits               "400-123-4567"     → "4001234567"
 *   foreign   '+' + 8–15 digits (E.164, not +86)  "+44 20 7946 0958" → "+442079460958"
 * Anything else (letters, local numbers without an area code, wrong lengths) is
 * SMILE_EINVAL with a reason in err->msg. out has room for CRM_PHONE_MAX + 1 bytes.
 */
int crm_phone_normalise(const char *in, char *out, struct smile_err *err);

/* Masks a normalised mobile as 138****8000; other numbers keep first 4 and last 2. */
void crm_phone_mask(const char *v, char *out, size_t cap);

#define CRM_EMAIL_MAX 254

/*
 * Validates an e-mail address (local@domain, local part 1–64 printable characters
 * without spaces, quotes or angle brackets; domain of dot-separated LDH labels with a
 * top-level label of letters) and lower-cases the domain. out has CRM_EMAIL_MAX + 1 bytes.
 */
int crm_email_normalise(const char *in, char *out, struct smile_err *err);

/*
 * Validates a PRC resident identity number (GB 11643-1999): 17 digits (6-digit region
 * code not starting with 0, birth date YYYYMMDD that exists, from 1900 to 2199, 3-digit
 * sequence) and a check character: sum of digit[i] × w[i] with
 * w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, mod 11, mapped through "10X98765432".
 * A lower-case x is accepted and upper-cased. out has 19 bytes.
 */
int crm_id_number_normalise(const char *in, char *out, struct smile_err *err);

/* The check character of the first 17 digits of an ID number ('0'…'9' or 'X'). */
char crm_id_number_check(const char *first17);

/* Masks an ID number: first 3, eleven '*', last 4 ("110***********002X"). */
void crm_id_number_mask(const char *v, char *out, size_t cap);

/* Case state machine (see case_state.c for the table) --------------------------------------- */

enum crm_case_status {
    CRM_CASE_NEW,
    CRM_CASE_OPEN,
    CRM_CASE_PENDING,
    CRM_CASE_RESOLVED,
    CRM_CASE_CLOSED,
    CRM_CASE_NSTATUS
};

/* The status names in enum order, NULL-terminated. */
extern const char *const crm_case_status_names[CRM_CASE_NSTATUS + 1];
/* Status name ↔ value; -1 for an unknown name. */
int crm_case_status_parse(const char *name);
const char *crm_case_status_name(int status);
/* Whether from → to is a legal transition (from == to is not a transition). */
bool crm_case_transition_ok(int from, int to);
/* The event a transition emits ("case.resolved" …); "" if it emits none; NULL if illegal. */
const char *crm_case_transition_event(int from, int to);

/*
 * Case actions: assign ({"assignee_id", "team_id"}, at least one), resolve, reopen,
 * close, pending. if_match may be NULL (then not checked). Illegal transitions are
 * SMILE_ECONFLICT naming from and to. *out is the updated case (caller owns it).
 */
int crm_case_action(struct crm_ctx *c, int64_t id, const char *action, const char *if_match,
                    const json_t *body, json_t **out, struct smile_err *err);

/* Customers ------------------------------------------------------------------------ */

/* The name an anonymised customer gets: "Anonymised customer #<id>". */
#define CRM_ANON_NAME_FMT "Anonymised customer #%lld"

/*
 * PIPL Art. 47 erasure of customer id (see docs/crm.md): personal fields, contact rows,
 * the subject and body of the customer's interactions and the description of the
 * customer's cases are erased, in one transaction, audited as "anonymise" with only the
 * names of the erased fields. SMILE_ECONFLICT if already anonymised. Soft-deleted
 * customers are anonymised too (their rows still hold the data); *out is the rendered
 * record of a live customer and NULL for a deleted one.
 */
int crm_customer_anonymise(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err);

/*
 * The erasure check (GET /api/v1/customers/{id}/erasure): runs the anonymisation of
 * customer id — hooks, ledger, audit, notifications — in a transaction that is always
 * rolled back, on a live, deleted or already anonymised customer alike, and reports what it
 * would erase: *out (caller owns) = {customer_id, anonymised_at (or null), complete,
 * personal_fields: [names of the customer's fields still holding data], counts: {the
 * anonymise audit row's counts}}. complete is true when the customer is anonymised and
 * nothing is left anywhere (every count that erases is 0). Writes nothing, audits nothing
 * (the report holds no value). SMILE_ENOTFOUND if there is no such customer row.
 */
int crm_customer_erasure_check(struct crm_ctx *c, int64_t id, json_t **out, struct smile_err *err);

/*
 * Renders customer id with its ID number unmasked and writes the "reveal" audit row
 * ({"fields": ["id_number"], "reason": reason if given}) in the same transaction: no
 * audit row, no reveal. The caller checks the role.
 */
int crm_customer_reveal(struct crm_ctx *c, int64_t id, const char *reason, json_t **out,
                        struct smile_err *err);

/*
 * Customers with this phone (any common spelling, normalised first) or e-mail address
 * (domain case-insensitive), live ones only, newest first. Up to max ids into ids; *n
 * gets the count. A number that does not normalise finds nobody (SMILE_OK, *n = 0).
 */
int crm_customer_find_by_phone(struct store *s, const char *phone, int64_t *ids, int max, int *n,
                               struct smile_err *err);
int crm_customer_find_by_email(struct store *s, const char *email, int64_t *ids, int max, int *n,
                               struct smile_err *err);

/*
 * The customer's interactions and cases, newest first (interactions by occurred_at,
 * cases by opened_at): {"items": [{"type": "interaction"|"case", "at": time, "record":
 * {...}}], "next_cursor"}. SMILE_ENOTFOUND if the customer is absent or deleted.
 */
int crm_customer_timeline(struct crm_ctx *c, int64_t id, int limit, const char *cursor,
                          json_t **out, struct smile_err *err);

/*
 * Live properties with this project, building and unit (NULL or "" = none), newest first:
 * the natural key bulk import uses for a property. Up to max ids into ids; *n the count.
 */
int crm_property_find_by_unit(struct store *s, const char *project, const char *building,
                              const char *unit, int64_t *ids, int max, int *n,
                              struct smile_err *err);

/* The live contract with this number (unique among live contracts), or *id = 0. */
int crm_contract_find_by_number(struct store *s, const char *number, int64_t *id,
                                struct smile_err *err);

/* Events towards the ledger --------------------------------------------------------- */

/*
 * One event handed to the ledger. Strings and data are borrowed for the call. source is
 * always "crm"; source_id is unique per event (the ledger's idempotency key):
 * "case:<id>:v<version>:<type>" for case changes (the version the change produced),
 * "interaction:<id>:case.replied" for replies.
 */
struct crm_event {
    const char *type;    /* "case.assigned" … */
    const char *subject; /* "case:<id>" */
    const char *actor;   /* acting username; "" for the command line */
    int64_t customer_id; /* 0 = none */
    int64_t occurred_at; /* ms UTC */
    const char *channel; /* the case's (or the reply's) channel */
    const char *source;
    const char *source_id;
    const json_t *data; /* {"from", "to", "case_type", "priority", "assignee_id", …} */
};

/*
 * The ledger registers one sink; CRM calls it inside the transaction of the change, so
 * an event is stored if and only if the change commits. A result other than SMILE_OK
 * (with err set) rolls the whole change back.
 */
typedef int crm_event_sink_fn(struct store *s, const struct crm_event *ev, void *ud,
                              struct smile_err *err);

/*
 * Called once after each CRM transaction in which the sink was called, when it has
 * committed (committed true) or rolled back (false): the ledger learns when what it
 * appended on connection s is durable (ledger_notify) or gone. May be NULL.
 */
typedef void crm_event_done_fn(struct store *s, bool committed, void *ud);

/* Registers the sink (NULL unregisters). Call once at start-up, before serving. */
void crm_event_sink_set(crm_event_sink_fn *fn, crm_event_done_fn *done, void *ud);

/* Ends the events of c's transaction: calls the done hook if any event was emitted. */
void crm_events_finish(struct crm_ctx *c, bool committed);

/*
 * Emits a case event through the sink; SMILE_OK without a sink. occurred_at 0 means the
 * time of the change (c->now_ms); actor NULL means the caller. source_id as described at
 * struct crm_event.
 */
int crm_case_event(struct crm_ctx *c, const char *type, int64_t case_id, int64_t customer_id,
                   int64_t occurred_at, const char *actor, const char *channel,
                   const char *source_id, const json_t *data, struct smile_err *err);

/* Work hooks (src/work registers them with work_install) -------------------------------- */

/*
 * Routing: called inside the transaction of a case change that leaves the case with a team
 * and no assignee (and not resolved or closed); rec is the case as stored. Sets *out_user to
 * the member to assign (0 = nobody; the hook records why). The CRM then assigns the case
 * with actor "routing" (case.assigned emitted, audited as "route").
 */
typedef int crm_case_route_fn(struct store *s, int64_t case_id, const json_t *rec,
                              int64_t *out_user, struct smile_err *err);
/*
 * Annotation: called for each case event before it reaches the sink, with a copy of its
 * data that the hook may extend (data.out_of_order). A failure rolls the change back.
 */
typedef int crm_case_annotate_fn(struct store *s, const char *type, const char *subject,
                                 const char *actor, json_t *data, struct smile_err *err);
/* Registers both hooks (NULL unregisters). Call once at start-up, before serving. */
void crm_case_hooks_set(crm_case_route_fn *route, crm_case_annotate_fn *annotate);
/* The registered routing hook, or NULL. */
crm_case_route_fn *crm_case_route_hook(void);

/*
 * Erasure: called inside crm_customer_anonymise()'s transaction so that parts above the CRM
 * erase the personal data they keep about the customer (the mail part: sender, reply-to,
 * copies and subject of stored messages) in the same commit (PIPL Art. 47). A failure rolls
 * the whole anonymisation back. At most 8 hooks; register at start-up, before serving.
 */
typedef int crm_customer_erase_fn(struct store *s, int64_t customer_id, struct smile_err *err);
void crm_customer_erase_hook_add(crm_customer_erase_fn *fn);
/*
 * The same with counts: fn adds what it erased to counts (a JSON object of integers such
 * as {"events_erased": 12}), which the anonymisation's audit row reports — counts only,
 * never values. These hooks run before the CRM blanks the customer, its cases and
 * interactions, so they can still read the phones, case subjects … they must find; the
 * plain hooks run in the same place, after them. At most 8.
 */
typedef int crm_customer_erase_counted_fn(struct store *s, int64_t customer_id, json_t *counts,
                                          struct smile_err *err);
void crm_customer_erase_counted_hook_add(crm_customer_erase_counted_fn *fn);

#endif
