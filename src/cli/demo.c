/*
 * demo.c — `smile demo` and `smile serve --demo`: fills a new, empty database with a
 * realistic three-month history of a real-estate developer's service centre ending at
 * "now" (or --end), so that every screen shows meaningful numbers on first start. It sits
 * at the very top of the flow and feeds every source the real way: staff, teams, customers,
 * properties, contracts and cases through the CRM layer (so case actions reach the ledger
 * through the runtime's CRM sink), hotline calls as Asterisk queue_log lines through the
 * intake parser and mapper (qlog_line_parse → pbx_map_qlog, with agent_map rows), emails
 * and counter visits as API-shaped events through the intake batch. The runtime then folds
 * the ledger into measurements (`smile demo` with runtime_rebuild, `serve --demo` with its
 * live worker).
 *
 * Deterministic: one seeded PRNG (splitmix64) drives every choice, and every time is
 * derived from the end time, so the same seed and end give the same database. Variation
 * that makes the numbers interesting: each staff member has a speed (0.5 excellent … 2
 * slow) that scales the delays they cause; Mondays are busy; calls thin out over lunch;
 * weekends are quiet and public holidays (the National Day week) quieter, while make-up
 * working days (调休) are ordinary working days — all read from the China calendar itself.
 *
 * Speed: the CRM writes are thousands of small transactions, so the connection runs with
 * synchronous=OFF while filling (the data can be regenerated; FULL is restored at the end)
 * and events go in batches of 5,000.
 */
#include "cli/cli.h"
#include "cli/demo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "calendar/calendar.h"
#include "crm/crm.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "http/http.h"
#include "intake/intake.h"
#include "runtime/runtime.h"
#include "store/store.h"

#define DAY_MS INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)
#define MIN_MS INT64_C(60000)
#define BDAY_MS (INT64_C(27000000)) /* one working day of the China calendar: 7.5 h */
#define FLUSH_AT 5000
#define SOURCE "demo"
#define PBX_SOURCE "asterisk"

/* The generator's state for one fill. */
struct gen {
    struct store *s;
    uint64_t rng;
    const struct calendar *cal;
    const struct calendar_tz *tz;
    int64_t start_ms, end_ms;
    struct demo_stats *st;
    struct smile_err *err;
    int rc;
    /* staff */
    int64_t user_id[64];
    int64_t team_id[3];
    struct http_auth auth[64];
    int supervisor[3];
    /* customers */
    int ncust;
    int64_t *cust_id, *prop_id;
    char (*phone)[12];
    char (*email)[64];
    int *project;
    /* events */
    struct pbx_map *pbx;
    json_t *agents; /* agent_map {agent: username} */
    json_t *events; /* scratch array for one source record */
    struct intake_batch *batch;
    FILE *qlog_out; /* a copy of the generated queue_log, or NULL */
    int64_t seq;
};

/* PRNG ---------------------------------------------------------------------------------- */

/* splitmix64: tiny, fast and well mixed; the state is the whole generator. */
static uint64_t
rnd(struct gen *g)
{
    uint64_t z = (g->rng += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
rnd01(struct gen *g)
{
    return (double)(rnd(g) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [lo, hi]. */
static int64_t
rnd_int(struct gen *g, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(g) % (uint64_t)(hi - lo + 1));
}

static double
rnd_range(struct gen *g, double lo, double hi)
{
    return lo + (hi - lo) * rnd01(g);
}

/* Poisson-like count with mean m (normal approximation, never negative). */
static int
rnd_count(struct gen *g, double m)
{
    double u1 = rnd01(g) + 1e-12, u2 = rnd01(g);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double v = m + z * sqrt(m > 0 ? m : 0);

    return v < 0 ? 0 : (int)(v + 0.5);
}

static int
pick_weighted(struct gen *g, const struct demo_weighted *w, int n)
{
    int64_t total = 0, r;

    for (int i = 0; i < n; i++)
        total += w[i].weight;
    r = rnd_int(g, 0, total - 1);
    for (int i = 0; i < n; i++) {
        if (r < w[i].weight)
            return i;
        r -= w[i].weight;
    }
    return n - 1;
}

/* Helpers -------------------------------------------------------------------------------- */

static bool
ok(struct gen *g)
{
    return g->rc == SMILE_OK;
}

static void
keep_rc(struct gen *g, int rc)
{
    if (g->rc == SMILE_OK && rc != SMILE_OK)
        g->rc = rc;
}

/* Local midnight + minutes of local day `day` as UTC ms. */
static int64_t
local_at(struct gen *g, int64_t day, int64_t minutes)
{
    return calendar_tz_to_utc(g->tz, day * DAY_MS + minutes * MIN_MS);
}

static void
rfc3339(int64_t ms, char *out)
{
    time_format_rfc3339(ms, out);
}

/* A CRM context acting as staff member i (or the command line with i < 0) at time t. */
static void
ctx_at(struct gen *g, struct crm_ctx *c, int i, int64_t t)
{
    memset(c, 0, sizeof(*c));
    c->db = g->s;
    c->actor = i >= 0 ? &g->auth[i] : NULL;
    c->now_ms = t;
}

static int64_t
record(struct gen *g, const struct crm_resource *r, int actor, int64_t t, json_t *body)
{
    struct crm_ctx c;
    json_t *out = NULL;
    int64_t id = 0;

    if (ok(g)) {
        ctx_at(g, &c, actor, t);
        keep_rc(g, crm_record_create(&c, r, body, &id, &out, g->err));
        crm_events_finish(&c, ok(g));
    }
    json_decref(out);
    json_decref(body);
    return ok(g) ? id : 0;
}

static void
case_do(struct gen *g, int64_t case_id, const char *action, int actor, int64_t t, json_t *body)
{
    struct crm_ctx c;
    json_t *out = NULL;

    if (ok(g)) {
        ctx_at(g, &c, actor, t);
        keep_rc(g, crm_case_action(&c, case_id, action, NULL, body, &out, g->err));
    }
    json_decref(out);
    json_decref(body);
}

/* Writes the events waiting in the batch. */
static void
flush(struct gen *g)
{
    struct intake_counts n;

    if (!ok(g) || intake_batch_len(g->batch) == 0)
        return;
    memset(&n, 0, sizeof(n));
    keep_rc(g, intake_batch_append(g->s, g->batch, NULL, &n, g->err));
    g->st->events += n.created;
    g->st->rejected += n.rejected;
    if (n.rejected && g->st->rejected == n.rejected)
        log_warn("msg=\"demo event refused\" why=\"%s\"", n.first_reject);
}

/* Adds one API-shaped event to the batch. customer_id 0 = none; actor NULL = none. */
static void
event(struct gen *g, const char *type, int64_t at, const char *subject, const char *actor,
      int64_t customer_id, json_t *data)
{
    char t[TIME_RFC3339_LEN + 1], sid[64], cust[24];
    json_t *ev;

    rfc3339(at, t);
    snprintf(sid, sizeof(sid), "%s:%" PRId64, type, ++g->seq);
    ev =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "type", type, "occurred_at", t, "subject",
                  subject, "source", SOURCE, "source_id", sid, "data", data ? data : json_object());
    if (actor)
        json_object_set_new(ev, "actor", json_string(actor));
    if (customer_id > 0) {
        snprintf(cust, sizeof(cust), "%" PRId64, customer_id);
        json_object_set_new(ev, "customer", json_string(cust));
    }
    json_array_append_new(g->events, ev);
    intake_batch_add(g->batch, g->events);
    if (intake_batch_len(g->batch) >= FLUSH_AT)
        flush(g);
}

/* One queue_log line through the real parser and mapper. */
static void qlog(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
qlog(struct gen *g, const char *fmt, ...)
{
    char line[512];
    struct qlog_line l;
    struct qlog_error e;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n <= 0 || (size_t)n >= sizeof(line) || !ok(g))
        return;
    g->st->queue_log_lines++;
    if (g->qlog_out)
        fprintf(g->qlog_out, "%s\n", line);
    if (qlog_line_parse(line, (size_t)n, &l, &e) != SMILE_OK) {
        keep_rc(g, smile_err_set(g->err, SMILE_EINVAL, "demo queue_log line refused: %s (%s)",
                                 e.msg, line));
        return;
    }
    pbx_map_qlog(g->pbx, &l, true, g->events);
    intake_batch_add(g->batch, g->events);
    if (intake_batch_len(g->batch) >= FLUSH_AT)
        flush(g);
}

/* A staff member of team (not the supervisor unless sup), weighted towards nobody. */
static int
pick_staff(struct gen *g, int team, bool sup)
{
    int cand[32], n = 0;

    for (int i = 0; i < demo_nstaff; i++)
        if (demo_staff[i].team == team && (sup || !demo_staff[i].supervisor))
            cand[n++] = i;
    return cand[rnd_int(g, 0, n - 1)];
}

/* A delay of base_ms scaled by staff i's speed and a random factor in [lo, hi]. */
static int64_t
delay(struct gen *g, int i, int64_t base_ms, double lo, double hi)
{
    return (int64_t)((double)base_ms * demo_staff[i].speed * rnd_range(g, lo, hi));
}

/* Set-up: staff, teams, agent map ------------------------------------------------------ */

static void
make_staff(struct gen *g, const char *pw_hash)
{
    for (int t = 0; t < 3 && ok(g); t++) {
        struct staff_team team;
        json_t *in = json_pack("{s:s, s:s}", "name", demo_team_names[t], "display_name",
                               demo_team_display[t]);

        keep_rc(g, staff_team_create(g->s, NULL, in, &team, g->err));
        json_decref(in);
        g->team_id[t] = team.id;
        g->st->teams++;
    }
    for (int i = 0; i < demo_nstaff && ok(g); i++) {
        const struct demo_staff *d = &demo_staff[i];
        struct staff_user u;
        char email[96];
        json_t *in;

        snprintf(email, sizeof(email), "%s@service.example.cn", d->username);
        in = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "username", d->username, "display_name",
                       d->display_name, "role", d->supervisor ? "supervisor" : "agent", "team_id",
                       (json_int_t)g->team_id[d->team], "email", email, "locale", "zh-CN");
        keep_rc(g, staff_user_create(g->s, NULL, in, pw_hash, &u, g->err));
        json_decref(in);
        if (!ok(g))
            break;
        g->user_id[i] = u.id;
        memset(&g->auth[i], 0, sizeof(g->auth[i]));
        g->auth[i].user_id = u.id;
        snprintf(g->auth[i].username, sizeof(g->auth[i].username), "%s", d->username);
        g->auth[i].team_id = g->team_id[d->team];
        g->st->staff++;
        if (d->supervisor) {
            struct staff_team team;
            json_t *p = json_pack("{s:I}", "supervisor_id", (json_int_t)u.id);

            g->supervisor[d->team] = i;
            keep_rc(g, staff_team_update(g->s, NULL, g->team_id[d->team], 0, p, &team, g->err));
            json_decref(p);
        }
        if (d->team == 0 && !d->supervisor) { /* a hotline agent: Asterisk's Agent/10xx */
            char agent[32];

            snprintf(agent, sizeof(agent), "Agent/%d", 1001 + i);
            keep_rc(g, intake_agent_map_set(g->s, PBX_SOURCE, agent, d->username, g->err));
            json_object_set_new(g->agents, agent, json_string(d->username));
        }
    }
}

/* Customers, properties, contracts -------------------------------------------------------- */

static void
person_name(struct gen *g, char *out, size_t cap, bool *female)
{
    int s = pick_weighted(g, demo_surnames, demo_nsurnames);
    const char *const *pool;
    int n;

    *female = rnd01(g) < 0.48;
    pool = *female ? demo_given_f : demo_given_m;
    n = *female ? demo_ngiven_f : demo_ngiven_m;
    if (rnd01(g) < 0.3) /* one-character given name */
        snprintf(out, cap, "%s%s", demo_surnames[s].text, pool[rnd_int(g, 0, n - 1)]);
    else
        snprintf(out, cap, "%s%s%s", demo_surnames[s].text, pool[rnd_int(g, 0, n - 1)],
                 pool[rnd_int(g, 0, n - 1)]);
}

static void
make_customers(struct gen *g, int n)
{
    int next_unit[2] = {0, 0};

    g->cust_id = xcalloc((size_t)n, sizeof(*g->cust_id));
    g->prop_id = xcalloc((size_t)n, sizeof(*g->prop_id));
    g->phone = xcalloc((size_t)n, sizeof(*g->phone));
    g->email = xcalloc((size_t)n, sizeof(*g->email));
    g->project = xcalloc((size_t)n, sizeof(*g->project));
    for (int i = 0; i < n && ok(g); i++) {
        int p = rnd01(g) < 0.42 ? 0 : 1;
        const struct demo_project *pr = &demo_projects[p];
        int cap = pr->buildings * pr->floors * pr->units_per_floor, u, b, fl, un;
        char name[64], building[32], unit[32], number[32], signed_on[16], addr[160];
        int64_t created, signed_day, delivery_day = 0;
        bool female;
        double area;
        json_t *body;

        if (next_unit[p] >= cap)
            p = 1 - p, pr = &demo_projects[p],
            cap = pr->buildings * pr->floors * pr->units_per_floor;
        /* Units are sold in a scattered order: step through them with a stride prime to cap. */
        u = (int)(((int64_t)next_unit[p]++ * 7919) % cap);
        b = u / (pr->floors * pr->units_per_floor) + 1;
        fl = u / pr->units_per_floor % pr->floors + 2;
        un = u % pr->units_per_floor + 1;
        person_name(g, name, sizeof(name), &female);
        snprintf(g->phone[i], sizeof(g->phone[i]), "1%c%09" PRId64, "3456789"[rnd_int(g, 0, 6)],
                 rnd_int(g, 0, 999999999));
        if (rnd01(g) < 0.35)
            snprintf(g->email[i], sizeof(g->email[i]), "%" PRId64 "@%s",
                     rnd_int(g, 10000000, 3999999999),
                     demo_email_domains[rnd_int(g, 0, demo_nemail_domains - 1)]);
        g->project[i] = p;
        time_parse_date(pr->delivery_date, strlen(pr->delivery_date), &delivery_day);
        signed_day = delivery_day - rnd_int(g, 300, 900);
        created = signed_day * DAY_MS + rnd_int(g, 1, 9) * HOUR_MS;
        snprintf(building, sizeof(building), "%d栋", b);
        snprintf(unit, sizeof(unit), "%d单元%d%02d", un <= (pr->units_per_floor + 1) / 2 ? 1 : 2,
                 fl, un);
        snprintf(addr, sizeof(addr), "杭州市%s%s%s", pr->name, building, unit);
        body = json_pack("{s:s, s:s, s:[s], s:[s], s:s}", "kind", "person", "name", name, "phones",
                         g->phone[i], "tags", "业主", "address", addr);
        if (g->email[i][0])
            json_object_set_new(body, "emails", json_pack("[s]", g->email[i]));
        g->cust_id[i] = record(g, &crm_customers, -1, created, body);
        area = (double)rnd_int(g, pr->area_min * 10, pr->area_max * 10) / 10.0;
        g->prop_id[i] =
            record(g, &crm_properties, -1, created,
                   json_pack("{s:s, s:s, s:s, s:f, s:s, s:I}", "project", pr->name, "building",
                             building, "unit", unit, "area_m2", area, "status", "sold",
                             "customer_id", (json_int_t)g->cust_id[i]));
        time_format_date(signed_day, signed_on);
        {
            int64_t y;
            unsigned mo, d;

            time_civil_from_days(signed_day, &y, &mo, &d);
            snprintf(number, sizeof(number), "%s-%04d-%05d", pr->code, (int)y, i + 1);
        }
        record(g, &crm_contracts, -1, created,
               json_pack("{s:I, s:I, s:s, s:s, s:I, s:s, s:s}", "customer_id",
                         (json_int_t)g->cust_id[i], "property_id", (json_int_t)g->prop_id[i],
                         "number", number, "signed_on", signed_on, "amount_cents",
                         (json_int_t)((int64_t)(area * pr->price_per_m2) * 100), "delivery_date",
                         pr->delivery_date, "status", pr->delivered ? "delivered" : "signed"));
        if (ok(g)) {
            g->ncust++;
            g->st->customers++;
        }
    }
}

/* Interactions ---------------------------------------------------------------------------- */

static void
interaction(struct gen *g, const char *kind, const char *dir, int cust, int64_t case_id, int actor,
            int64_t at, const char *subject, const char *body)
{
    char t[TIME_RFC3339_LEN + 1];
    json_t *in;

    rfc3339(at, t);
    in = json_pack("{s:s, s:s, s:I, s:s, s:s}", "kind", kind, "direction", dir, "customer_id",
                   (json_int_t)g->cust_id[cust], "occurred_at", t, "subject", subject);
    if (case_id > 0)
        json_object_set_new(in, "case_id", json_integer(case_id));
    if (actor >= 0)
        json_object_set_new(in, "actor_id", json_integer(g->user_id[actor]));
    if (body)
        json_object_set_new(in, "body", json_string(body));
    if (record(g, &crm_interactions, actor, at, in))
        g->st->interactions++;
}

/* Cases ------------------------------------------------------------------------------------ */

/*
 * One case's life through the CRM: opened by `opener` at t, assigned by the complaints
 * supervisor after some business minutes, first answered, perhaps waiting on the
 * customer, resolved after some business days, called back (survey.answered) and closed.
 * Every step after the end time is left undone, so recent cases are still open.
 */
static void
run_case(struct gen *g, const char *type, int cust, int opener, int64_t t, const char *channel,
         const char *subject)
{
    bool complaint = strcmp(type, "complaint") == 0, inquiry = strcmp(type, "inquiry") == 0;
    const char *kind = strcmp(channel, "email") == 0 ? "email" : "call";
    int sup = g->supervisor[1], who;
    char desc[256], subj[256];
    int64_t id, ta, tr, tres, tcb;
    json_t *body;

    snprintf(desc, sizeof(desc), "客户来电反映：%s。请尽快跟进处理。", subject);
    body = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "type", type, "priority",
                     complaint && rnd01(g) < 0.2 ? "high" : "normal", "customer_id",
                     (json_int_t)g->cust_id[cust], "property_id", (json_int_t)g->prop_id[cust],
                     "subject", subject, "description", desc, "channel", channel);
    id = record(g, &crm_cases, opener, t, body);
    if (!id)
        return;
    g->st->cases++;
    if (complaint)
        g->st->complaints++;
    if (inquiry) { /* answered on the spot by whoever took it */
        who = opener;
        ta = t + rnd_int(g, 1, 5) * MIN_MS;
        if (ta > g->end_ms)
            return;
        case_do(g, id, "assign", who, ta,
                json_pack("{s:I, s:I}", "assignee_id", (json_int_t)g->user_id[who], "team_id",
                          (json_int_t)g->team_id[demo_staff[who].team]));
        tres = ta + rnd_int(g, 5, 40) * MIN_MS;
        if (tres <= g->end_ms)
            case_do(g, id, "resolve", who, tres, NULL);
        if (tres + DAY_MS <= g->end_ms)
            case_do(g, id, "close", who, tres + DAY_MS, NULL);
        return;
    }
    /* Assignment: mostly quick, sometimes forgotten for an hour or more (business time). */
    {
        double r = rnd01(g);
        int64_t d = r < 0.78   ? rnd_int(g, 3, 22) * MIN_MS
                    : r < 0.92 ? rnd_int(g, 22, 40) * MIN_MS
                               : rnd_int(g, 45, 200) * MIN_MS;

        ta = calendar_add(g->cal, t, (int64_t)((double)d * demo_staff[sup].speed),
                          CALENDAR_BUSINESS);
    }
    if (ta > g->end_ms)
        return;
    who = pick_staff(g, 1, false);
    case_do(g, id, "assign", sup, ta,
            json_pack("{s:I, s:I}", "assignee_id", (json_int_t)g->user_id[who], "team_id",
                      (json_int_t)g->team_id[1]));
    /* First reply: a few business hours for most, a long weekend makes it late. */
    tr = calendar_add(g->cal, ta, delay(g, who, HOUR_MS, 0.3, 5.5), CALENDAR_BUSINESS);
    if (tr > g->end_ms)
        return;
    snprintf(subj, sizeof(subj), "回复：%s", subject);
    interaction(g, kind, "out", cust, id, who, tr, subj,
                "您好，您反映的问题我们已记录，正在安排处理。");
    tres = tr;
    if (rnd01(g) < 0.3) { /* waits on the customer: an appointment, photos */
        int64_t tp = tr + rnd_int(g, 10, 90) * MIN_MS, tc;

        if (tp > g->end_ms)
            return;
        case_do(g, id, "pending", who, tp, NULL);
        tc = tp + rnd_int(g, 4, 72) * HOUR_MS;
        if (tc > g->end_ms)
            return;
        interaction(g, kind, "in", cust, id, -1, tc, subj, "已按要求补充照片，周末家里有人。");
        tres = tc;
    }
    tres = calendar_add(g->cal, tres,
                        delay(g, who, BDAY_MS, complaint ? 0.25 : 0.15, complaint ? 2.1 : 1.6),
                        CALENDAR_BUSINESS);
    if (tres > g->end_ms)
        return;
    case_do(g, id, "resolve", who, tres, NULL);
    if (!complaint) {
        if (tres + 2 * DAY_MS <= g->end_ms)
            case_do(g, id, "close", who, tres + 2 * DAY_MS, NULL);
        return;
    }
    /* The satisfaction call-back: within 48 h, by the person who resolved it. */
    tcb = tres + delay(g, who, HOUR_MS, 2, 34);
    if (tcb > g->end_ms)
        return;
    {
        char subject_key[32];
        int score = (int)rnd_int(g, 3, 5) - (demo_staff[who].speed > 1.5 && rnd01(g) < 0.4);

        snprintf(subject_key, sizeof(subject_key), "case:%" PRId64, id);
        event(g, "survey.answered", tcb, subject_key, demo_staff[who].username, g->cust_id[cust],
              json_pack("{s:i, s:s}", "score", score, "channel", "phone"));
        g->st->surveys++;
    }
    if (tcb + DAY_MS <= g->end_ms)
        case_do(g, id, "close", who, tcb + DAY_MS, NULL);
}

/* The days ---------------------------------------------------------------------------------- */

enum day_kind { WORKDAY, WEEKEND, HOLIDAY };

/* A working day is a day with working time; a day off next to a weekday off is a holiday. */
static bool
working(struct gen *g, int64_t day)
{
    return calendar_is_working(g->cal, local_at(g, day, 10 * 60));
}

static enum day_kind
day_kind(struct gen *g, int64_t day)
{
    if (working(g, day))
        return WORKDAY;
    for (int64_t d = day - 2; d <= day + 2; d++) {
        int wd = time_weekday(d); /* 0 = Monday … 6 = Sunday */

        if (wd <= 4 && !working(g, d))
            return HOLIDAY;
    }
    return WEEKEND;
}

/* Minute of the day a customer calls or writes: busy mornings and afternoons, quiet lunch. */
static int64_t
call_minute(struct gen *g)
{
    /* relative weight of each hour from 08:00 to 19:59 (08:30 opening, 12:00–13:30 lunch) */
    static const struct demo_weighted hours[] = {
        {"8", 5},    {"9", 130},  {"10", 150}, {"11", 120}, {"12", 30}, {"13", 55},
        {"14", 130}, {"15", 140}, {"16", 125}, {"17", 80},  {"18", 35}, {"19", 20},
    };
    int h = pick_weighted(g, hours, (int)ARRAY_LEN(hours));

    return (8 + h) * 60 + (h == 0 ? rnd_int(g, 30, 59) : rnd_int(g, 0, 59));
}

/* Hotline agents on duty that day (indexes into demo_staff). */
static int
on_duty(struct gen *g, int team, enum day_kind k, int *out)
{
    int n = 0;

    for (int i = 0; i < demo_nstaff; i++) {
        if (demo_staff[i].team != team || demo_staff[i].supervisor)
            continue;
        if (k == WORKDAY ? rnd01(g) < 0.9 : rnd01(g) < 0.3)
            out[n++] = i;
    }
    if (n == 0)
        out[n++] = pick_staff(g, team, false);
    return n;
}

static void
hotline_day(struct gen *g, int64_t day, enum day_kind k, int wd)
{
    int duty[32], nd = on_duty(g, 0, k, duty);
    double mean = k == WORKDAY ? 105 : k == WEEKEND ? 32 : 12;
    int ncalls;

    if (wd == 0 && k == WORKDAY)
        mean *= 1.45; /* Monday: the weekend's problems */
    else if (wd == 4)
        mean *= 0.9;
    ncalls = rnd_count(g, mean);
    /* shift: log in at 08:2x, lunch pause, log off after 18:00 */
    for (int j = 0; j < nd; j++) {
        char agent[32];
        int64_t in = local_at(g, day, 8 * 60 + rnd_int(g, 15, 29)) / 1000;
        int64_t p = local_at(g, day, 12 * 60 + rnd_int(g, 0, 10)) / 1000;
        int64_t up = local_at(g, day, 13 * 60 + rnd_int(g, 20, 30)) / 1000;
        int64_t out = local_at(g, day, 18 * 60 + rnd_int(g, 0, 20)) / 1000;

        snprintf(agent, sizeof(agent), "Agent/%d", 1001 + duty[j]);
        if (in * 1000 > g->end_ms)
            continue;
        qlog(g, "%" PRId64 "|NONE|hotline|%s|ADDMEMBER|", in, agent);
        if (p * 1000 <= g->end_ms)
            qlog(g, "%" PRId64 "|NONE|hotline|%s|PAUSE||lunch", p, agent);
        if (up * 1000 <= g->end_ms)
            qlog(g, "%" PRId64 "|NONE|hotline|%s|UNPAUSE||", up, agent);
        if (out * 1000 <= g->end_ms)
            qlog(g, "%" PRId64 "|NONE|hotline|%s|REMOVEMEMBER|", out, agent);
    }
    for (int c = 0; c < ncalls && ok(g); c++) {
        int64_t t0 = local_at(g, day, call_minute(g)) / 1000 + rnd_int(g, 0, 59), t;
        int cust = rnd01(g) < 0.72 ? (int)rnd_int(g, 0, g->ncust - 1) : -1;
        char callid[40], caller[16];
        int minute = (int)((t0 * 1000 - local_at(g, day, 0)) / MIN_MS);
        double abandon =
            0.035 + (wd == 0 ? 0.03 : 0) + (minute >= 12 * 60 && minute < 13 * 60 + 30 ? 0.05 : 0);
        int first, a;
        int64_t hold, ring, talk;

        if (t0 * 1000 + 10 * MIN_MS > g->end_ms)
            continue;
        snprintf(callid, sizeof(callid), "%" PRId64 ".%" PRId64, t0, ++g->seq);
        if (cust >= 0)
            snprintf(caller, sizeof(caller), "%s", g->phone[cust]);
        else
            snprintf(caller, sizeof(caller), "1%c%09" PRId64, "3578"[rnd_int(g, 0, 3)],
                     rnd_int(g, 0, 999999999));
        g->st->calls++;
        qlog(g, "%" PRId64 "|%s|hotline|NONE|ENTERQUEUE||%s|1", t0, callid, caller);
        if (rnd01(g) < abandon) {
            int64_t w = rnd01(g) < 0.4 ? rnd_int(g, 1, 5) : rnd_int(g, 6, 75);

            qlog(g, "%" PRId64 "|%s|hotline|NONE|ABANDON|1|1|%" PRId64, t0 + w, callid, w);
            g->st->abandoned++;
            continue;
        }
        t = t0 + rnd_int(g, 0, wd == 0 ? 9 : 3); /* waiting for a free agent */
        first = (int)rnd_int(g, 0, nd - 1);
        a = duty[first];
        /* the first agent rung may let it ring out (slow agents more often) */
        if (nd > 1 && rnd01(g) < 0.03 * demo_staff[a].speed * demo_staff[a].speed) {
            t += 15;
            qlog(g, "%" PRId64 "|%s|hotline|Agent/%d|RINGNOANSWER|15000", t, callid, 1001 + a);
            a = duty[(first + 1) % nd];
        }
        ring = (int64_t)(demo_staff[a].speed * rnd_range(g, 2, 9.5) + 0.5);
        if (ring < 2)
            ring = 2;
        t += ring;
        hold = t - t0;
        talk = rnd_int(g, 45, 540);
        qlog(g, "%" PRId64 "|%s|hotline|Agent/%d|CONNECT|%" PRId64 "|%s.1|%" PRId64, t, callid,
             1001 + a, hold, callid, ring);
        qlog(g, "%" PRId64 "|%s|hotline|Agent/%d|%s|%" PRId64 "|%" PRId64 "|1", t + talk, callid,
             1001 + a, rnd01(g) < 0.6 ? "COMPLETECALLER" : "COMPLETEAGENT", hold, talk);
        if (cust < 0)
            continue;
        {
            double r = rnd01(g);
            const char *topic;

            if (r < 0.06 && t * 1000 + talk * 1000 < g->end_ms) {
                topic = demo_complaints[rnd_int(g, 0, demo_ncomplaints - 1)];
                interaction(g, "call", "in", cust, 0, a, t * 1000, topic, NULL);
                run_case(g, "complaint", cust, a, (t + talk) * 1000, "phone", topic);
            } else if (r < 0.14 && t * 1000 + talk * 1000 < g->end_ms) {
                topic = demo_repairs[rnd_int(g, 0, demo_nrepairs - 1)];
                interaction(g, "call", "in", cust, 0, a, t * 1000, topic, NULL);
                run_case(g, "repair", cust, a, (t + talk) * 1000, "phone", topic);
            } else if (r < 0.17 && t * 1000 + talk * 1000 < g->end_ms) {
                topic = demo_inquiries[rnd_int(g, 0, demo_ninquiries - 1)];
                run_case(g, "inquiry", cust, a, (t + talk) * 1000, "phone", topic);
            } else if (r < 0.55) {
                topic = demo_inquiries[rnd_int(g, 0, demo_ninquiries - 1)];
                interaction(g, "call", "in", cust, 0, a, t * 1000, topic, NULL);
            }
        }
    }
}

static void
email_day(struct gen *g, int64_t day, enum day_kind k)
{
    double mean = k == WORKDAY ? 14 : k == WEEKEND ? 6 : 3;
    int n = rnd_count(g, mean);

    for (int e = 0; e < n && ok(g); e++) {
        int cust, who = pick_staff(g, 0, false), msgs = rnd01(g) < 0.25 ? 2 : 1;
        int64_t t = local_at(g, day, rnd_int(g, 7 * 60, 23 * 60));
        char subject[64];
        const char *topic;
        bool complaint = rnd01(g) < 0.15;

        if (t > g->end_ms)
            continue;
        do
            cust = (int)rnd_int(g, 0, g->ncust - 1);
        while (!g->email[cust][0] && rnd01(g) < 0.95);
        topic = complaint ? demo_complaints[rnd_int(g, 0, demo_ncomplaints - 1)]
                          : demo_inquiries[rnd_int(g, 0, demo_ninquiries - 1)];
        snprintf(subject, sizeof(subject), "email:demo-%06" PRId64, ++g->seq);
        g->st->emails++;
        for (int m = 0; m < msgs && ok(g); m++) {
            int64_t tr;

            event(g, "email.received", t, subject, NULL, g->cust_id[cust],
                  json_pack("{s:s, s:s}", "from",
                            g->email[cust][0] ? g->email[cust] : g->phone[cust], "subject", topic));
            if (m == 0)
                interaction(g, "email", "in", cust, 0, -1, t, topic, NULL);
            /* replied within business hours: a few hours, or after the weekend */
            tr = calendar_add(g->cal, t, delay(g, who, HOUR_MS, 0.2, 4.5), CALENDAR_BUSINESS);
            if (tr > g->end_ms)
                break;
            event(g, "email.sent", tr, subject, demo_staff[who].username, g->cust_id[cust],
                  json_pack("{s:s}", "subject", topic));
            if (m == 0 && complaint)
                run_case(g, "complaint", cust, who, tr, "email", topic);
            t = tr + rnd_int(g, 2, 30) * HOUR_MS;
            if (t > g->end_ms)
                break;
        }
    }
}

static void
counter_day(struct gen *g, int64_t day, enum day_kind k)
{
    /* sales offices: busiest at weekends, quiet on public holidays */
    double mean = k == WORKDAY ? 24 : k == WEEKEND ? 34 : 6;
    int duty[32], nd = on_duty(g, 2, k == WEEKEND ? WORKDAY : k, duty);
    int n = rnd_count(g, mean);

    for (int v = 0; v < n && ok(g); v++) {
        int64_t t = local_at(g, day, rnd_int(g, 9 * 60, 17 * 60 + 30)) + rnd_int(g, 0, 59999);
        int staff = duty[rnd_int(g, 0, nd - 1)], p = rnd01(g) < 0.4 ? 0 : 1;
        int cust = rnd01(g) < 0.6 ? (int)rnd_int(g, 0, g->ncust - 1) : -1;
        char subject[48], ticket[16];
        int64_t greet, left;

        if (t + HOUR_MS > g->end_ms)
            continue;
        if (cust >= 0)
            p = g->project[cust];
        snprintf(subject, sizeof(subject), "visit:demo-%06" PRId64, ++g->seq);
        snprintf(ticket, sizeof(ticket), "%c%03d", p ? 'Y' : 'B', v + 1);
        g->st->visits++;
        event(g, "visit.arrived", t, subject, demo_staff[staff].username,
              cust >= 0 ? g->cust_id[cust] : 0,
              json_pack("{s:s, s:s, s:s, s:s}", "ticket", ticket, "site", demo_projects[p].name,
                        "staff", demo_staff[staff].username, "desk", "counter"));
        greet = t + delay(g, staff, 1000, 0.8, 4.3);
        left = greet + rnd_int(g, 5, 50) * MIN_MS;
        if (rnd01(g) < 0.02) { /* walked away before anyone looked up */
            event(g, "visit.left", t + rnd_int(g, 20, 120) * 1000, subject, NULL, 0, NULL);
            continue;
        }
        event(g, "visit.greeted", greet, subject, demo_staff[staff].username, 0, NULL);
        event(g, "visit.left", left, subject, NULL, 0, NULL);
        if (cust >= 0) {
            interaction(g, "visit", "in", cust, 0, staff, greet, "到访售楼处", NULL);
            /* handovers of 云栖府 and the odd repair reported at the desk */
            if (!demo_projects[p].delivered && rnd01(g) < 0.12)
                run_case(g, "handover", cust, staff, left, "counter", "交房验收预约");
            else if (rnd01(g) < 0.04)
                run_case(g, "repair", cust, staff, left, "counter",
                         demo_repairs[rnd_int(g, 0, demo_nrepairs - 1)]);
        }
    }
}

/* The fill ---------------------------------------------------------------------------------- */

int
cli_demo_fill(struct store *s, const struct cli_demo_options *o, struct demo_stats *st,
              struct smile_err *err)
{
    struct gen g;
    struct calendar *cal = NULL;
    const char *cj = calendar_china_default_json();
    int64_t n = 0, t0 = time_mono_ns(), first_day, last_day;

    memset(st, 0, sizeof(*st));
    smile_err_clear(err);
    if (store_query_int64(s, "SELECT count(*) FROM customers", &n, err) != SMILE_OK)
        return err->code;
    if (n > 0)
        return smile_err_set(err, SMILE_ECONFLICT,
                             "the database already has %" PRId64
                             " customers; demo data goes only into a new, empty database",
                             n);
    if (store_query_int64(s, "SELECT count(*) FROM users WHERE username <> 'admin'", &n, err) !=
        SMILE_OK)
        return err->code;
    if (n > 0)
        return smile_err_set(err, SMILE_ECONFLICT,
                             "the database already has %" PRId64
                             " staff accounts; demo data goes only into a new, empty database",
                             n);
    if (runtime_calendar_compile(cj, strlen(cj), &cal, err) != SMILE_OK)
        return err->code;
    memset(&g, 0, sizeof(g));
    g.s = s;
    g.rng = o->seed;
    g.cal = cal;
    g.tz = calendar_tz(cal);
    g.end_ms = o->end_ms;
    g.st = st;
    g.err = err;
    g.agents = json_object();
    g.events = json_array();
    g.batch = intake_batch_new();
    g.qlog_out = o->queue_log;
    last_day = calendar_local_day(cal, g.end_ms);
    first_day = last_day - (o->days > 0 ? o->days : 91) + 1;
    g.start_ms = local_at(&g, first_day, 0);
    g.pbx = pbx_map_new(PBX_SOURCE, intake_agent_lookup, g.agents);
    store_exec(s, "PRAGMA synchronous=OFF", err);
    runtime_crm_sink_install(NULL); /* case actions append their events, notify nobody */
    make_staff(&g, o->password_hash);
    make_customers(&g, o->customers > 0 ? o->customers : 2000);
    for (int64_t day = first_day; day <= last_day && ok(&g); day++) {
        enum day_kind k = day_kind(&g, day);
        int wd = time_weekday(day);

        if (k == WORKDAY)
            st->working_days++;
        else if (k == HOLIDAY)
            st->holidays++;
        hotline_day(&g, day, k, wd);
        email_day(&g, day, k);
        counter_day(&g, day, k);
    }
    flush(&g);
    runtime_crm_sink_uninstall();
    {
        struct smile_err e2;

        smile_err_clear(&e2);
        store_exec(s, "PRAGMA synchronous=FULL", &e2);
    }
    if (ok(&g))
        store_query_int64(s, "SELECT count(*) FROM events", &st->events, err);
    st->fill_ms = (double)(time_mono_ns() - t0) / 1e6;
    st->start_ms = g.start_ms;
    st->days = (int)(last_day - first_day + 1);
    pbx_map_free(g.pbx);
    intake_batch_free(g.batch);
    json_decref(g.events);
    json_decref(g.agents);
    free(g.cust_id);
    free(g.prop_id);
    free(g.phone);
    free(g.email);
    free(g.project);
    calendar_free(cal);
    return g.rc;
}

void
cli_demo_report(const struct demo_stats *st, FILE *f)
{
    char a[TIME_RFC3339_LEN + 1];

    time_format_rfc3339(st->start_ms, a);
    fprintf(f,
            "demo: %d days from %s (%d working days, %d holidays): %" PRId64 " staff in %" PRId64
            " teams, %" PRId64 " customers with properties and contracts, %" PRId64
            " calls (%" PRId64 " abandoned, %" PRId64 " queue_log lines), %" PRId64
            " email threads, %" PRId64 " counter visits, %" PRId64 " cases (%" PRId64
            " complaints), %" PRId64 " interactions; %" PRId64 " events in the ledger; "
            "filled in %.1f s\n",
            st->days, a, st->working_days, st->holidays, st->staff, st->teams, st->customers,
            st->calls, st->abandoned, st->queue_log_lines, st->emails, st->visits, st->cases,
            st->complaints, st->interactions, st->events, st->fill_ms / 1000.0);
}

/* `smile demo` ------------------------------------------------------------------------------ */

int
cli_demo_parse(const char *name, const char *value, struct cli_demo_options *o)
{
    int64_t v;

    if (strcmp(name, "--seed") == 0) {
        if (str_to_int64(str_from(value), &v) != SMILE_OK || v < 0)
            return -1;
        o->seed = (uint64_t)v;
    } else if (strcmp(name, "--end") == 0) {
        if (time_parse_rfc3339(value, strlen(value), &o->end_ms) != SMILE_OK)
            return -1;
    } else if (strcmp(name, "--days") == 0) {
        if (str_to_int64(str_from(value), &v) != SMILE_OK || v < 1 || v > 400)
            return -1;
        o->days = (int)v;
    } else if (strcmp(name, "--customers") == 0) {
        if (str_to_int64(str_from(value), &v) != SMILE_OK || v < 10 || v > 100000)
            return -1;
        o->customers = (int)v;
    } else {
        return 0;
    }
    return 1;
}

int
cli_demo_password(char *pw, size_t cap, char *hash, struct smile_err *err)
{
    auth_password_generate(pw, cap - 1);
    return auth_password_hash(pw, hash, err);
}

int
cli_demo(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    struct cli_demo_options o;
    struct demo_stats st;
    char pw[13] = "", hash[AUTH_HASH_MAX];
    const char *qlog_path = NULL;
    bool fold = true;
    int rc = 1;

    memset(&o, 0, sizeof(o));
    o.seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: smile demo [--db PATH] [--seed N] [--end TIME] [--days N] "
                   "[--customers N]\n"
                   "                  [--queue-log FILE] [--no-fold]\n\n"
                   "Fills a new, empty database with a three-month demo history of a "
                   "real-estate\nservice centre ending now (or at --end, RFC 3339), then folds "
                   "it into\nmeasurements. The same --seed (default 1) and --end give the same "
                   "data.\n--queue-log FILE also writes the generated Asterisk queue_log there.\n"
                   "Prints the password of the demo staff accounts once.\n");
            config_usage();
            return 0;
        }
    }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    o.end_ms = time_now_ms();
    for (int i = 1; i < argc; i++) {
        int r = i + 1 < argc ? cli_demo_parse(argv[i], argv[i + 1], &o) : 0;

        if (r == 1) {
            i++;
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "smile demo: bad value for %s: '%s'\n", argv[i], argv[i + 1]);
            config_free(&cfg);
            return 2;
        }
        if (strcmp(argv[i], "--queue-log") == 0 && i + 1 < argc) {
            qlog_path = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--no-fold") == 0) {
            fold = false;
            continue;
        }
        fprintf(stderr, "smile demo: unknown argument '%s' (see smile demo --help)\n", argv[i]);
        config_free(&cfg);
        return 2;
    }
    if (qlog_path && !(o.queue_log = fopen(qlog_path, "w"))) {
        fprintf(stderr, "smile demo: cannot write %s\n", qlog_path);
        goto out;
    }
    if (cli_open_db(&cfg, true, &s) != 0)
        goto out;
    if (cli_seed_defaults(s, &err) != SMILE_OK ||
        cli_demo_password(pw, sizeof(pw), hash, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    o.password_hash = hash;
    if (cli_demo_fill(s, &o, &st, &err) != SMILE_OK) {
        fprintf(stderr, "smile demo: %s\n", err.msg);
        goto out;
    }
    cli_demo_report(&st, stdout);
    printf("demo staff (e.g. zhou.ting, supervisor of the hotline) sign in with: %s\n", pw);
    if (fold) {
        int64_t subjects = 0, t0 = time_mono_ns();

        if (runtime_rebuild(s, &subjects, &err) != SMILE_OK) {
            fprintf(stderr, "smile demo: %s\n", err.msg);
            goto out;
        }
        printf("demo: folded %" PRId64 " subjects into measurements in %.1f s\n", subjects,
               (double)(time_mono_ns() - t0) / 1e9);
    }
    rc = 0;
out:
    auth_wipe(pw, sizeof(pw));
    if (o.queue_log)
        fclose(o.queue_log);
    store_close(s);
    config_free(&cfg);
    return rc;
}
