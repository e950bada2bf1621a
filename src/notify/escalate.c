/*
 * escalate.c — the escalation runner: follows the ledger from its durable cursor
 * (notify_cursor), and for each sla.warning / sla.breached event the scheduler committed
 * (source "smile") runs the step's escalation rules in one transaction with the cursor
 * move: raise the case's priority and reassign it (through the CRM, so case.assigned is
 * emitted and both are audited with the actor "escalation"), then notify the assignee and
 * the team supervisor in English and Chinese, and log every rule's outcome. A thread of
 * `smile serve`, woken by a ledger post-commit hook; it also forwards committed sla.* and
 * case.* events to the live board hook. Sits after the scheduler in the flow.
 *
 * Who is who for one fired deadline:
 *   assignee    the measurement's charged actor, else the case's assignee
 *   team        the measurement's charged team, else the case's team, else the assignee's
 *   supervisor  the team's supervisor_id, else every user with role supervisor in the team
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm/crm.h"
#include "crm/staff.h"
#include "engine/engine.h"
#include "http/http.h"
#include "ledger/ledger.h"
#include "notify/notify.h"
#include "store/store.h"

#define BATCH 64
#define MAX_NOTES 32
#define MAX_SUPS 8
#define CACHE 16

void notify_board_emit(const char *kind, const json_t *ev); /* notify.c */
bool notify_board_listening(void);                          /* notify.c */

static const char *const prio_names[] = {"low", "normal", "high", "urgent"};
static const char *const prio_zh[] = {"低", "普通", "高", "紧急"};

static int
prio_index(const char *p)
{
    for (int i = 0; p && i < 4; i++)
        if (strcmp(p, prio_names[i]) == 0)
            return i;
    return 1;
}

/* Compiled process versions, kept by (process, version): published versions never change. */
struct cached {
    int64_t pid, ver;
    struct engine_process *p;
};
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cached cache[CACHE];
static unsigned cache_next;

static struct engine_process *
process_load(struct store *s, int64_t pid, int64_t ver, struct smile_err *err)
{
    static const char sql[] =
        "SELECT document FROM process_versions WHERE process_id = $1 AND number = $2";
    struct engine_process *p = NULL;
    struct store_stmt *st;
    struct smile_err e2;

    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < CACHE; i++)
        if (cache[i].p && cache[i].pid == pid && cache[i].ver == ver)
            p = engine_process_ref(cache[i].p);
    pthread_mutex_unlock(&cache_mu);
    if (p)
        return p;
    if (store_prepare(s, sql, &st, err) != SMILE_OK)
        return NULL;
    store_stmt_bind_int64(st, 1, pid);
    store_stmt_bind_int64(st, 2, ver);
    smile_err_clear(&e2);
    if (store_stmt_step(st, err) == STORE_ROW) {
        const char *doc = store_stmt_text(st, 0);

        if (engine_process_compile(doc, strlen(doc), &p, &e2) != SMILE_OK)
            p = NULL;
    }
    store_stmt_reset(st);
    if (p) {
        pthread_mutex_lock(&cache_mu);
        engine_process_unref(cache[cache_next].p);
        cache[cache_next] = (struct cached){pid, ver, engine_process_ref(p)};
        cache_next = (cache_next + 1) % CACHE;
        pthread_mutex_unlock(&cache_mu);
    }
    return p;
}

/* One fired deadline and everything the rules need to know about it. */
struct fired {
    int64_t event_id, pid, ver, occ, index, due_at;
    bool breach;
    const char *subject, *step_key;
    struct engine_process *p;
    int step;
    const char *title_en, *title_zh;
    int64_t mid; /* measurement id, 0 if not found */
    bool done;   /* the step was done or cancelled before we got here */
    char charged_actor[STAFF_NAME_MAX + 1], charged_team[STAFF_NAME_MAX + 1];
    int64_t case_id;
    json_t *kase; /* the case as loaded (NULL if the subject is not a live case) */
    struct staff_user assignee;
    bool has_assignee;
    struct staff_team team;
    bool has_team;
    int64_t sups[MAX_SUPS];
    int nsups;
    char label_en[320], label_zh[320], due[32];
    /* Effects, for the notification texts. */
    const char *raised_to;
    char reassigned_to[STAFF_NAME_MAX + 8];
    int64_t new_assignee, new_team;
    int64_t notes[MAX_NOTES];
    int nnotes;
    int actions, skipped;
};

static int
log_rule(struct store *s, struct fired *f, int64_t rule, const char *action, bool done,
         const char *detail, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO escalations (event_id, rule, subject, case_id, process_id, version, step_key,"
        " kind, action, outcome, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12) ON CONFLICT (event_id, rule) DO NOTHING";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, f->event_id);
    store_stmt_bind_int64(st, 2, rule);
    store_stmt_bind_text(st, 3, f->subject, -1);
    if (f->case_id > 0)
        store_stmt_bind_int64(st, 4, f->case_id);
    else
        store_stmt_bind_null(st, 4);
    store_stmt_bind_int64(st, 5, f->pid);
    store_stmt_bind_int64(st, 6, f->ver);
    store_stmt_bind_text(st, 7, f->step_key, -1);
    store_stmt_bind_text(st, 8, f->breach ? "breach" : "warning", -1);
    store_stmt_bind_text(st, 9, action, -1);
    store_stmt_bind_text(st, 10, done ? "done" : "skipped", -1);
    if (!done)
        f->skipped++;
    store_stmt_bind_text(st, 11, detail ? detail : "", -1);
    store_stmt_bind_int64(st, 12, time_now_ms());
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* Loads the measurement, the case, the assignee, the team and its supervisors. */
static int
gather(struct store *s, struct crm_ctx *ctx, struct fired *f, struct smile_err *err)
{
    static const char msql[] =
        "SELECT id, charged_actor, charged_team, done_at FROM measurements"
        " WHERE process_id = $1 AND subject = $2 AND step_key = $3 AND occurrence = $4"
        " ORDER BY id DESC LIMIT 1";
    struct store_stmt *st;
    struct smile_err e2;
    int rc = store_prepare(s, msql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, f->pid);
    store_stmt_bind_text(st, 2, f->subject, -1);
    store_stmt_bind_text(st, 3, f->step_key, -1);
    store_stmt_bind_int64(st, 4, f->occ);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        const char *a = store_stmt_text(st, 1), *t = store_stmt_text(st, 2);

        f->mid = store_stmt_int64(st, 0);
        snprintf(f->charged_actor, sizeof(f->charged_actor), "%s", a ? a : "");
        snprintf(f->charged_team, sizeof(f->charged_team), "%s", t ? t : "");
        f->done = !store_stmt_is_null(st, 3);
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE)
        return rc;
    smile_err_clear(&e2);
    if (strncmp(f->subject, "case:", 5) == 0 &&
        str_to_int64(str_from(f->subject + 5), &f->case_id) == SMILE_OK && f->case_id > 0 &&
        crm_record_load(ctx, &crm_cases, f->case_id, &f->kase, &e2) != SMILE_OK) {
        f->kase = NULL;
        if (e2.code != SMILE_ENOTFOUND)
            return smile_err_set(err, e2.code, "%s", e2.msg);
    }
    if (f->charged_actor[0] && staff_user_find(s, f->charged_actor, &f->assignee, &e2) == SMILE_OK)
        f->has_assignee = !f->assignee.disabled;
    if (!f->has_assignee && f->kase) {
        json_t *a = json_object_get(f->kase, "assignee_id");

        if (json_is_integer(a) &&
            staff_user_get(s, json_integer_value(a), &f->assignee, &e2) == SMILE_OK)
            f->has_assignee = !f->assignee.disabled;
    }
    if (f->charged_team[0] && staff_team_find(s, f->charged_team, &f->team, &e2) == SMILE_OK)
        f->has_team = true;
    if (!f->has_team && f->kase) {
        json_t *t = json_object_get(f->kase, "team_id");

        if (json_is_integer(t) &&
            staff_team_get(s, json_integer_value(t), &f->team, &e2) == SMILE_OK)
            f->has_team = true;
    }
    if (!f->has_team && f->has_assignee && f->assignee.team_id &&
        staff_team_get(s, f->assignee.team_id, &f->team, &e2) == SMILE_OK)
        f->has_team = true;
    if (f->has_team) {
        struct staff_user u;

        if (f->team.supervisor_id &&
            staff_user_get(s, f->team.supervisor_id, &u, &e2) == SMILE_OK && !u.disabled) {
            f->sups[f->nsups++] = u.id;
        } else {
            struct staff_user_filter flt = {
                .team_id = f->team.id, .role = "supervisor", .limit = MAX_SUPS};
            json_t *list = NULL, *v;
            int64_t next;
            size_t i;

            if (staff_user_list(s, &flt, &list, &next, &e2) == SMILE_OK) {
                json_array_foreach(list, i, v)
                {
                    if (f->nsups < MAX_SUPS && !json_is_true(json_object_get(v, "disabled")))
                        f->sups[f->nsups++] = json_integer_value(json_object_get(v, "id"));
                }
            }
            json_decref(list);
        }
    }
    if (f->kase) {
        const char *subj = json_string_value(json_object_get(f->kase, "subject"));

        snprintf(f->label_en, sizeof(f->label_en), "Case #%" PRId64 " \u201c%.200s\u201d",
                 f->case_id, subj ? subj : "");
        snprintf(f->label_zh, sizeof(f->label_zh), "工单 #%" PRId64 "\u201c%.200s\u201d",
                 f->case_id, subj ? subj : "");
    } else {
        snprintf(f->label_en, sizeof(f->label_en), "%.200s", f->subject);
        snprintf(f->label_zh, sizeof(f->label_zh), "%.200s", f->subject);
    }
    {
        char t[TIME_RFC3339_LEN + 1];

        time_format_rfc3339(f->due_at, t);
        /* "2026-11-30T02:00:00.000Z" → "2026-11-30 02:00 UTC" */
        snprintf(f->due, sizeof(f->due), "%.10s %.5s UTC", t, t + 11);
    }
    return SMILE_OK;
}

static bool
case_open(const struct fired *f)
{
    const char *st = json_string_value(json_object_get(f->kase, "status"));

    return st && strcmp(st, "resolved") != 0 && strcmp(st, "closed") != 0;
}

/* The CRM change of one action rule, audited as the escalation runner. */
static int
apply(struct crm_ctx *ctx, struct fired *f, const char *action, json_t *patch,
      struct smile_err *err)
{
    json_t *res = NULL;
    int rc = crm_record_apply(ctx, &crm_cases, f->case_id, NULL, patch, false, action, &res, err);

    if (rc == SMILE_OK) {
        json_decref(f->kase);
        f->kase = res;
    }
    json_decref(patch);
    return rc;
}

static int
do_raise(struct store *s, struct crm_ctx *ctx, struct fired *f, uint32_t rule,
         const struct engine_escalation *e, struct smile_err *err)
{
    int cur, to;
    char detail[64];

    if (f->kase == NULL || !case_open(f))
        return log_rule(s, f, rule, "raise_priority", false,
                        f->kase ? "the case is resolved or closed" : "the subject is not a case",
                        err);
    cur = prio_index(json_string_value(json_object_get(f->kase, "priority")));
    to = e->to ? prio_index(e->to) : cur + 1;
    if (to <= cur || to > 3)
        return log_rule(s, f, rule, "raise_priority", false, "the priority is already as high",
                        err);
    if (apply(ctx, f, "raise_priority", json_pack("{s:s}", "priority", prio_names[to]), err) !=
        SMILE_OK)
        return err->code;
    f->raised_to = prio_names[to];
    f->actions++;
    snprintf(detail, sizeof(detail), "%s → %s", prio_names[cur], prio_names[to]);
    return log_rule(s, f, rule, "raise_priority", true, detail, err);
}

static int
do_reassign(struct store *s, struct crm_ctx *ctx, struct fired *f, uint32_t rule,
            const struct engine_escalation *e, struct smile_err *err)
{
    json_t *patch;
    char detail[128];
    struct smile_err e2;

    if (f->kase == NULL || !case_open(f))
        return log_rule(s, f, rule, "reassign", false,
                        f->kase ? "the case is resolved or closed" : "the subject is not a case",
                        err);
    smile_err_clear(&e2);
    if (strcmp(e->to, "supervisor") == 0) {
        json_t *cur = json_object_get(f->kase, "assignee_id");
        struct staff_user u;

        if (f->nsups == 0)
            return log_rule(s, f, rule, "reassign", false, "the team has no supervisor", err);
        if (json_is_integer(cur) && json_integer_value(cur) == f->sups[0])
            return log_rule(s, f, rule, "reassign", false, "already assigned to the supervisor",
                            err);
        patch = json_pack("{s:I}", "assignee_id", (json_int_t)f->sups[0]);
        if (f->has_team)
            json_object_set_new(patch, "team_id", json_integer(f->team.id));
        if (staff_user_get(s, f->sups[0], &u, &e2) == SMILE_OK)
            snprintf(f->reassigned_to, sizeof(f->reassigned_to), "%s", u.username);
        f->new_assignee = f->sups[0];
    } else {
        struct staff_team t;
        json_t *cur = json_object_get(f->kase, "team_id");

        if (staff_team_find(s, e->to + 5, &t, &e2) != SMILE_OK) {
            snprintf(detail, sizeof(detail), "no team %.64s", e->to + 5);
            return log_rule(s, f, rule, "reassign", false, detail, err);
        }
        if (json_is_integer(cur) && json_integer_value(cur) == t.id &&
            json_is_null(json_object_get(f->kase, "assignee_id")))
            return log_rule(s, f, rule, "reassign", false, "already with that team", err);
        /* To the team's queue: nobody in particular until routing or a supervisor picks. */
        patch = json_pack("{s:I, s:n}", "team_id", (json_int_t)t.id, "assignee_id");
        snprintf(f->reassigned_to, sizeof(f->reassigned_to), "team %s", t.name);
        f->new_team = t.id;
    }
    if (strcmp(json_string_value(json_object_get(f->kase, "status")), "new") == 0)
        json_object_set_new(patch, "status", json_string("open"));
    if (apply(ctx, f, "assign", patch, err) != SMILE_OK)
        return err->code;
    f->actions++;
    snprintf(detail, sizeof(detail), "to %s", f->reassigned_to);
    return log_rule(s, f, rule, "reassign", true, detail, err);
}

static const char *
step_zh(const struct fired *f)
{
    return f->title_zh ? f->title_zh : f->title_en;
}

static int
note(struct store *s, struct fired *f, int64_t user, const char *kind, uint32_t rule,
     const char *action, struct buf *te, struct buf *tz, struct buf *be, struct buf *bz,
     struct smile_err *err)
{
    struct notify_new n = {
        .user_id = user,
        .kind = kind,
        .title_en = te->data,
        .title_zh = tz->data,
        .body_en = be->data,
        .body_zh = bz->data,
        .subject = f->subject,
        .case_id = f->kase ? f->case_id : 0,
        .measurement_id = f->mid,
        .event_id = f->event_id,
    };
    char at[TIME_RFC3339_LEN + 1];
    json_t *data;
    int64_t id;
    int rc;

    time_format_rfc3339(f->due_at, at);
    data =
        json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:I, s:s}", "process_id", (json_int_t)f->pid,
                  "version", (json_int_t)f->ver, "step", f->step_key, "step_title", f->title_en,
                  "deadline", f->breach ? "breach" : "warning", "index", (json_int_t)f->index,
                  "due_at", at, "rule", (json_int_t)rule, "action", action);
    if (f->kase)
        json_object_set(data, "priority", json_object_get(f->kase, "priority"));
    n.data = data;
    rc = notify_create(s, &n, &id, err);
    json_decref(data);
    if (rc == SMILE_OK && f->nnotes < MAX_NOTES)
        f->notes[f->nnotes++] = id;
    return rc;
}

/* The sentence about what else escalation did, for the supervisor's body. */
static void
effects(const struct fired *f, struct buf *be, struct buf *bz)
{
    if (f->raised_to) {
        buf_printf(be, " Priority raised to %s.", f->raised_to);
        buf_printf(bz, "优先级已提升为%s。", prio_zh[prio_index(f->raised_to)]);
    }
    if (f->reassigned_to[0]) {
        buf_printf(be, " Reassigned to %s.", f->reassigned_to);
        if (strncmp(f->reassigned_to, "team ", 5) == 0)
            buf_printf(bz, "已改派给团队 %s。", f->reassigned_to + 5);
        else
            buf_printf(bz, "已改派给 %s。", f->reassigned_to);
    }
}

static int
do_notify(struct store *s, struct fired *f, uint32_t rule, const struct engine_escalation *e,
          struct smile_err *err)
{
    struct buf te, tz, be, bz;
    const char *action = engine_esc_do_name(e->action);
    int rc = SMILE_OK, sent = 0;
    char detail[96];

    buf_init(&te, 1024);
    buf_init(&tz, 1024);
    buf_init(&be, 4096);
    buf_init(&bz, 4096);
    if (e->action == ENGINE_ESC_NOTIFY_ASSIGNEE) {
        if (!f->has_assignee) {
            rc = log_rule(s, f, rule, action, false, "nobody is assigned", err);
            goto out;
        }
        if (f->breach) {
            buf_printf(&te, "Overdue: %s", f->title_en);
            buf_printf(&tz, "已超时：%s", step_zh(f));
            buf_printf(&be, "%s: \u201c%s\u201d was due at %s and is overdue.", f->label_en,
                       f->title_en, f->due);
            buf_printf(&bz, "%s：\u201c%s\u201d已于 %s 到期，现已超时。", f->label_zh, step_zh(f),
                       f->due);
        } else {
            buf_printf(&te, "Due soon: %s", f->title_en);
            buf_printf(&tz, "即将超时：%s", step_zh(f));
            buf_printf(&be, "%s: \u201c%s\u201d is due at %s.", f->label_en, f->title_en, f->due);
            buf_printf(&bz, "%s：\u201c%s\u201d将于 %s 到期。", f->label_zh, step_zh(f), f->due);
        }
        rc = note(s, f, f->assignee.id,
                  f->breach ? NOTIFY_KIND_SLA_BREACHED : NOTIFY_KIND_SLA_WARNING, rule, action, &te,
                  &tz, &be, &bz, err);
        if (rc == SMILE_OK) {
            snprintf(detail, sizeof(detail), "notified %s", f->assignee.username);
            rc = log_rule(s, f, rule, action, true, detail, err);
        }
        goto out;
    }
    /* notify_supervisor */
    if (f->nsups == 0) {
        rc = log_rule(s, f, rule, action, false,
                      f->has_team ? "the team has no supervisor" : "no team owns the step", err);
        goto out;
    }
    if (f->breach) {
        buf_printf(&te, "Escalated: %s is overdue", f->title_en);
        buf_printf(&tz, "升级：%s已超时", step_zh(f));
        buf_printf(&be, "%s: \u201c%s\u201d was due at %s and is overdue.", f->label_en,
                   f->title_en, f->due);
        buf_printf(&bz, "%s：\u201c%s\u201d已于 %s 到期，现已超时。", f->label_zh, step_zh(f),
                   f->due);
    } else {
        buf_printf(&te, "At risk: %s", f->title_en);
        buf_printf(&tz, "超时风险：%s", step_zh(f));
        buf_printf(&be, "%s: \u201c%s\u201d is due at %s.", f->label_en, f->title_en, f->due);
        buf_printf(&bz, "%s：\u201c%s\u201d将于 %s 到期。", f->label_zh, step_zh(f), f->due);
    }
    if (f->has_assignee) {
        buf_printf(&be, " Assignee: %s.", f->assignee.username);
        buf_printf(&bz, "处理人：%s。", f->assignee.username);
    } else {
        buf_puts(&be, " Nobody is assigned.");
        buf_puts(&bz, "尚未分派处理人。");
    }
    effects(f, &be, &bz);
    for (int i = 0; i < f->nsups && rc == SMILE_OK; i++, sent++)
        rc = note(s, f, f->sups[i], NOTIFY_KIND_ESCALATED, rule, action, &te, &tz, &be, &bz, err);
    if (rc == SMILE_OK) {
        snprintf(detail, sizeof(detail), "notified %d supervisor%s", sent, sent == 1 ? "" : "s");
        rc = log_rule(s, f, rule, action, true, detail, err);
    }
out:
    buf_free(&te);
    buf_free(&tz);
    buf_free(&be);
    buf_free(&bz);
    return rc;
}

/* Tells whom a reassignment gave the case (the person, or the new team's supervisors). */
static int
notify_reassigned(struct store *s, struct fired *f, uint32_t rule, struct smile_err *err)
{
    struct buf te, tz, be, bz;
    int64_t to[MAX_SUPS];
    int n = 0, rc = SMILE_OK;
    struct smile_err e2;

    smile_err_clear(&e2);
    if (f->new_assignee) {
        to[n++] = f->new_assignee;
    } else if (f->new_team) {
        struct staff_team t;
        struct staff_user u;

        if (staff_team_get(s, f->new_team, &t, &e2) == SMILE_OK && t.supervisor_id &&
            staff_user_get(s, t.supervisor_id, &u, &e2) == SMILE_OK && !u.disabled)
            to[n++] = u.id;
    }
    if (n == 0)
        return SMILE_OK;
    buf_init(&te, 1024);
    buf_init(&tz, 1024);
    buf_init(&be, 4096);
    buf_init(&bz, 4096);
    if (f->new_assignee) {
        buf_printf(&te, "Assigned to you by escalation: case #%" PRId64, f->case_id);
        buf_printf(&tz, "因升级分派给您：工单 #%" PRId64, f->case_id);
    } else {
        buf_printf(&te, "Assigned to your team by escalation: case #%" PRId64, f->case_id);
        buf_printf(&tz, "因升级分派给您的团队：工单 #%" PRId64, f->case_id);
    }
    buf_printf(&be, "%s: \u201c%s\u201d %s %s.", f->label_en, f->title_en,
               f->breach ? "was due at" : "is due at", f->due);
    buf_printf(&bz, "%s：\u201c%s\u201d%s %s 到期。", f->label_zh, step_zh(f),
               f->breach ? "已于" : "将于", f->due);
    if (f->raised_to) {
        buf_printf(&be, " Priority raised to %s.", f->raised_to);
        buf_printf(&bz, "优先级已提升为%s。", prio_zh[prio_index(f->raised_to)]);
    }
    for (int i = 0; i < n && rc == SMILE_OK; i++)
        rc = note(s, f, to[i], NOTIFY_KIND_REASSIGNED, rule, "reassign", &te, &tz, &be, &bz, err);
    buf_free(&te);
    buf_free(&tz);
    buf_free(&be);
    buf_free(&bz);
    return rc;
}

/*
 * Runs the rules for one sla event inside the caller's transaction. Actions first (so the
 * notifications can say what was done), then notifications, each rule logged.
 */
static int
escalate_one(struct store *s, struct crm_ctx *ctx, struct fired *f, struct smile_err *err)
{
    const struct engine_escalation *rules;
    uint32_t sel[ENGINE_MAX_ESCALATE];
    size_t n;
    int rc = SMILE_OK;

    f->step = engine_process_step_find(f->p, f->step_key);
    if (f->step < 0)
        return SMILE_OK;
    engine_process_step_escalations(f->p, (size_t)f->step, &rules);
    n = engine_escalations_select(f->p, (size_t)f->step, f->breach, (int)f->index, sel,
                                  ARRAY_LEN(sel));
    if (n == 0)
        return SMILE_OK;
    f->title_en = engine_process_step_title(f->p, (size_t)f->step, "en");
    f->title_zh = engine_process_step_title(f->p, (size_t)f->step, "zh");
    if ((rc = gather(s, ctx, f, err)) != SMILE_OK)
        return rc;
    if (f->done) {
        for (size_t k = 0; k < n && rc == SMILE_OK; k++)
            rc = log_rule(s, f, sel[k], engine_esc_do_name(rules[sel[k]].action), false,
                          "the step was already done", err);
        return rc;
    }
    for (size_t k = 0; k < n && rc == SMILE_OK; k++) {
        const struct engine_escalation *e = &rules[sel[k]];

        if (e->action == ENGINE_ESC_RAISE_PRIORITY)
            rc = do_raise(s, ctx, f, sel[k], e, err);
        else if (e->action == ENGINE_ESC_REASSIGN && !f->reassigned_to[0]) {
            rc = do_reassign(s, ctx, f, sel[k], e, err);
            if (rc == SMILE_OK && f->reassigned_to[0])
                rc = notify_reassigned(s, f, sel[k], err);
        } else if (e->action == ENGINE_ESC_REASSIGN)
            rc = log_rule(s, f, sel[k], "reassign", false, "reassigned by an earlier rule", err);
    }
    for (size_t k = 0; k < n && rc == SMILE_OK; k++) {
        const struct engine_escalation *e = &rules[sel[k]];

        if (e->action == ENGINE_ESC_NOTIFY_ASSIGNEE || e->action == ENGINE_ESC_NOTIFY_SUPERVISOR)
            rc = do_notify(s, f, sel[k], e, err);
    }
    return rc;
}

static int
cursor_get(struct store *s, int64_t *out, struct smile_err *err)
{
    static const char sql[] = "SELECT last_event_id FROM notify_cursor WHERE id = 1";
    int rc = store_query_int64(s, sql, out, err);

    if (rc != SMILE_OK) {
        *out = 0;
        return err->code == SMILE_OK ? SMILE_OK : rc;
    }
    return SMILE_OK;
}

static int
cursor_set(struct store *s, int64_t id, struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO notify_cursor (id, last_event_id) VALUES (1, $1)"
        " ON CONFLICT (id) DO UPDATE SET last_event_id = excluded.last_event_id"
        " WHERE excluded.last_event_id > notify_cursor.last_event_id";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_DONE ? SMILE_OK : rc;
}

/* SMILE_ECONFLICT if the escalation log already has rows for event_id. */
static int
logged(struct store *s, int64_t event_id, struct smile_err *err)
{
    static const char sql[] = "SELECT 1 FROM escalations WHERE event_id = $1 LIMIT 1";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, event_id);
    rc = store_stmt_step(st, err);
    store_stmt_reset(st);
    return rc == STORE_ROW ? SMILE_ECONFLICT : rc == STORE_DONE ? SMILE_OK : rc;
}

struct pending_ev {
    int64_t id;
    char *subject;
    char *type;
    char *actor;
    json_t *data;
};

static const struct http_auth escalation_actor = {.username = "escalation"};

/*
 * An escalation the CRM refused (say a case that no longer validates): rolled back, so log
 * one row (rule -1, "error", skipped, the message) and move the cursor past the event.
 */
static int
give_up(struct store *s, struct fired *f, struct smile_err *err)
{
    char detail[300];
    int rc;

    snprintf(detail, sizeof(detail), "failed: %.280s", err->msg);
    log_error("msg=\"escalation refused\" event_id=%lld err=\"%s\"", (long long)f->event_id,
              err->msg);
    f->nnotes = f->actions = f->skipped = 0;
    smile_err_clear(err);
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    if (f->step_key == NULL)
        f->step_key = "";
    rc = log_rule(s, f, -1, "error", false, detail, err);
    if (rc == SMILE_OK)
        rc = cursor_set(s, f->event_id, err);
    if (rc == SMILE_OK)
        return store_commit(s, err);
    store_rollback(s);
    return rc;
}

/* Handles one sla event in its own transaction; notes go to the hooks after COMMIT. */
static int
handle(struct store *s, const struct pending_ev *pe, struct smile_err *err)
{
    struct crm_ctx ctx = {.db = s, .actor = &escalation_actor, .request_id = NULL};
    struct fired f;
    int64_t cur = 0;
    int rc;

    memset(&f, 0, sizeof(f));
    ctx.now_ms = time_now_ms();
    f.event_id = pe->id;
    f.subject = pe->subject;
    f.breach = strcmp(pe->type, "sla.breached") == 0;
    f.pid = json_integer_value(json_object_get(pe->data, "process_id"));
    f.ver = json_integer_value(json_object_get(pe->data, "version"));
    f.occ = json_integer_value(json_object_get(pe->data, "occurrence"));
    f.index = json_integer_value(json_object_get(pe->data, "index"));
    f.step_key = json_string_value(json_object_get(pe->data, "step"));
    {
        const char *due = json_string_value(json_object_get(pe->data, "due_at"));

        if (due == NULL || time_parse_rfc3339(due, strlen(due), &f.due_at) != SMILE_OK)
            f.due_at = 0;
    }
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    /* Another node (or an earlier run that crashed after COMMIT) may have done it; the log
     * guards too, should the cursor ever move back (a restored copy of notify_cursor). */
    if ((rc = cursor_get(s, &cur, err)) != SMILE_OK || cur >= pe->id)
        goto out;
    if ((rc = logged(s, pe->id, err)) != SMILE_OK) {
        if (rc == SMILE_ECONFLICT) /* already escalated: only move the cursor */
            rc = cursor_set(s, pe->id, err);
        goto out;
    }
    if (f.step_key && f.pid > 0 && (f.p = process_load(s, f.pid, f.ver, err)) != NULL)
        rc = escalate_one(s, &ctx, &f, err);
    if (rc == SMILE_OK)
        rc = cursor_set(s, pe->id, err);
out:
    if (rc == SMILE_OK && store_in_tx(s))
        rc = store_commit(s, err);
    else if (store_in_tx(s))
        store_rollback(s);
    crm_events_finish(&ctx, rc == SMILE_OK);
    if (rc != SMILE_OK && rc != SMILE_EDB && rc != SMILE_EBUSY && rc != SMILE_EIO)
        rc = give_up(s, &f, err); /* a refusal, not an outage: log it, do not retry forever */
    if (rc == SMILE_OK) {
        notify_metrics_count(0, (uint64_t)f.nnotes);
        notify_metrics_count(1, (uint64_t)f.actions);
        notify_metrics_count(2, (uint64_t)f.skipped);
        notify_metrics_count(3, 1);
        for (int i = 0; i < f.nnotes; i++)
            notify_published(s, f.notes[i]);
    }
    json_decref(f.kase);
    engine_process_unref(f.p);
    return rc;
}

/*
 * A case.assigned the CRM committed: tells the new assignee, unless they assigned it to
 * themselves, only the team changed, or escalation did it (it sends its own notice). In
 * one transaction with the cursor move, like an escalation.
 */
static int
handle_assigned(struct store *s, const struct pending_ev *pe, struct smile_err *err)
{
    struct crm_ctx ctx = {.db = s, .actor = &escalation_actor};
    json_t *to = json_object_get(pe->data, "assignee_id");
    json_t *prev = json_object_get(pe->data, "previous_assignee_id");
    const char *by = pe->actor && pe->actor[0] ? pe->actor : NULL;
    const char *who = json_string_value(json_object_get(pe->data, "assignee"));
    json_t *kase = NULL, *data = NULL;
    int64_t cur = 0, case_id = 0, id = 0;
    struct smile_err e2;
    int rc;

    ctx.now_ms = time_now_ms();
    if ((rc = store_begin(s, err)) != SMILE_OK)
        return rc;
    if ((rc = cursor_get(s, &cur, err)) != SMILE_OK || cur >= pe->id)
        goto out;
    smile_err_clear(&e2);
    if (json_is_integer(to) && !(json_is_integer(prev) && json_equal(to, prev)) &&
        !(by && who && strcmp(by, who) == 0) && !(by && strcmp(by, "escalation") == 0) &&
        strncmp(pe->subject, "case:", 5) == 0 &&
        str_to_int64(str_from(pe->subject + 5), &case_id) == SMILE_OK &&
        crm_record_load(&ctx, &crm_cases, case_id, &kase, &e2) == SMILE_OK) {
        const char *subj = json_string_value(json_object_get(kase, "subject"));
        const char *prio = json_string_value(json_object_get(kase, "priority"));
        struct buf te, tz, be, bz;
        struct notify_new n = {.user_id = json_integer_value(to),
                               .kind = NOTIFY_KIND_ASSIGNED,
                               .subject = pe->subject,
                               .case_id = case_id,
                               .event_id = pe->id};

        buf_init(&te, 512);
        buf_init(&tz, 512);
        buf_init(&be, 1024);
        buf_init(&bz, 1024);
        buf_printf(&te, "Case #%" PRId64 " assigned to you", case_id);
        buf_printf(&tz, "工单 #%" PRId64 " 已分派给您", case_id);
        buf_printf(&be, "\u201c%.200s\u201d (priority %s) \u2014 assigned by %s.", subj ? subj : "",
                   prio ? prio : "normal", by ? by : "the command line");
        buf_printf(&bz, "\u201c%.200s\u201d（优先级：%s）\u2014\u2014由 %s 分派。",
                   subj ? subj : "", prio_zh[prio_index(prio)], by ? by : "命令行");
        data = json_pack("{s:s?, s:s?, s:s?}", "assigned_by", by, "priority", prio, "case_type",
                         json_string_value(json_object_get(kase, "type")));
        n.title_en = te.data;
        n.title_zh = tz.data;
        n.body_en = be.data;
        n.body_zh = bz.data;
        n.data = data;
        rc = notify_create(s, &n, &id, err);
        buf_free(&te);
        buf_free(&tz);
        buf_free(&be);
        buf_free(&bz);
    } else if (e2.code != SMILE_OK && e2.code != SMILE_ENOTFOUND) {
        rc = smile_err_set(err, e2.code, "%s", e2.msg);
    }
    if (rc == SMILE_OK)
        rc = cursor_set(s, pe->id, err);
out:
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    if (rc == SMILE_OK && id > 0) {
        notify_metrics_count(0, 1);
        notify_published(s, id);
    }
    json_decref(kase);
    json_decref(data);
    return rc;
}

/*
 * True if the sla event pe selects no escalation rule (its step has none for this warning
 * or the breach, or is not in the process): handle() would only move the cursor, in a
 * transaction (a group commit) of its own. Most steps have no rules, and a backlog of
 * breaches then cost one commit each; such events are skipped and the cursor passes them
 * in one write per batch. Reads only (process_versions never change once published);
 * false when unsure (the process cannot be read), so that handle() decides.
 */
static bool
no_rules(struct store *s, const struct pending_ev *pe)
{
    int64_t pid = json_integer_value(json_object_get(pe->data, "process_id"));
    int64_t ver = json_integer_value(json_object_get(pe->data, "version"));
    int64_t index = json_integer_value(json_object_get(pe->data, "index"));
    const char *key = json_string_value(json_object_get(pe->data, "step"));
    struct engine_process *p;
    struct smile_err e2;
    uint32_t sel[ENGINE_MAX_ESCALATE];
    bool none;
    int step;

    if (key == NULL || pid <= 0)
        return true; /* handle() does nothing for it either */
    smile_err_clear(&e2);
    if ((p = process_load(s, pid, ver, &e2)) == NULL)
        return false;
    step = engine_process_step_find(p, key);
    none = step < 0 ||
           engine_escalations_select(p, (size_t)step, strcmp(pe->type, "sla.breached") == 0,
                                     (int)index, sel, ARRAY_LEN(sel)) == 0;
    engine_process_unref(p);
    return none;
}

/*
 * notify_escalate_pending, with a stop flag (may be NULL) looked at before each event, so
 * that the runner's close waits for one escalation transaction at most; *out_seen is the
 * number of events read (the runner reads on while a batch came back full).
 *
 * The query walks the partial index events_escalate (0014_ingest.sql: ids of the sla.* and
 * case.assigned events only) over the ids after the cursor. The source is tested per row
 * by a CASE, not by `(source = 'smile' AND …) OR (source = 'crm' AND …)`: SQLite answers
 * that OR from the (source, source_id) index — every sla and crm event ever written, then
 * sorted — which after a day of traffic made each look (once a second and at shutdown)
 * a scan of the whole history.
 */
static int
pending_run(struct store *s, int max, const atomic_bool *halt, int *out_done, int *out_seen,
            struct smile_err *err)
{
    static const char sql_hi[] = "SELECT COALESCE(MAX(id), 0) FROM events";
    static const char sql[] =
        "SELECT id, type, subject, data, actor FROM events"
        " WHERE type IN ('sla.warning', 'sla.breached', 'case.assigned') AND id > $1 AND id <= $2"
        " AND source = CASE type WHEN 'case.assigned' THEN 'crm' ELSE 'smile' END"
        " ORDER BY id LIMIT $3";
    struct pending_ev *pe = xcalloc((size_t)max, sizeof(*pe));
    struct store_stmt *st;
    int64_t cur = 0, hi = 0;
    int n = 0, i = 0, rc;

    *out_done = 0;
    *out_seen = 0;
    if ((rc = cursor_get(s, &cur, err)) != SMILE_OK ||
        (rc = store_query_int64(s, sql_hi, &hi, err)) != SMILE_OK)
        goto out;
    if (hi <= cur)
        goto out;
    if ((rc = store_prepare(s, sql, &st, err)) != SMILE_OK)
        goto out;
    store_stmt_bind_int64(st, 1, cur);
    store_stmt_bind_int64(st, 2, hi);
    store_stmt_bind_int64(st, 3, max);
    while (n < max && (rc = store_stmt_step(st, err)) == STORE_ROW) {
        const char *d = store_stmt_text(st, 3);

        pe[n].id = store_stmt_int64(st, 0);
        pe[n].type = xstrdup(store_stmt_text(st, 1));
        pe[n].subject = xstrdup(store_stmt_text(st, 2));
        pe[n].actor = store_stmt_text(st, 4) ? xstrdup(store_stmt_text(st, 4)) : NULL;
        pe[n].data = d ? json_loads(d, 0, NULL) : NULL;
        if (pe[n].data == NULL)
            pe[n].data = json_object();
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        goto out;
    rc = SMILE_OK;
    *out_seen = n;
    for (i = 0; i < n && rc == SMILE_OK && !(halt && atomic_load(halt)); i++) {
        if (strcmp(pe[i].type, "case.assigned") == 0) {
            rc = handle_assigned(s, &pe[i], err);
        } else if (no_rules(s, &pe[i])) {
            (*out_done)++; /* handled: there is nothing to do; the cursor passes it below */
        } else {
            rc = handle(s, &pe[i], err);
            if (rc == SMILE_OK)
                (*out_done)++;
        }
    }
    /* Every event read is handled: move over the rest in one small write — up to hi when
     * nothing more is there, else past the last one read (events without rules skipped).
     * When none of the new events concerns escalation (n == 0: the common case, calls and
     * e-mails), the write waits until the cursor is 100,000 events behind: the query above
     * walks only the partial index of sla.* and case.assigned ids, so the lag costs it
     * nothing, while a cursor write after every commit of a busy ledger was a transaction
     * and a disk sync each (1.8% of the server's CPU under single events). */
    if (rc == SMILE_OK && i == n && (n > 0 || hi - cur >= 100000)) {
        if ((rc = store_begin(s, err)) == SMILE_OK) {
            rc = cursor_set(s, n < max ? hi : pe[n - 1].id, err);
            if (rc == SMILE_OK)
                rc = store_commit(s, err);
            else
                store_rollback(s);
        }
    }
out:
    for (i = 0; i < n; i++) {
        free(pe[i].type);
        free(pe[i].subject);
        free(pe[i].actor);
        json_decref(pe[i].data);
    }
    free(pe);
    return rc;
}

int
notify_escalate_pending(struct store *s, int max, int *out_done, struct smile_err *err)
{
    int seen;

    return pending_run(s, max, NULL, out_done, &seen, err);
}

/* The runner thread ------------------------------------------------------------------- */

struct notify_runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop, started, woken;
    atomic_bool halt; /* stop, readable without mu between events */
    struct store *db;
    struct notify_stats stats;
};

/* The ledger keeps its hooks until it closes, which is after the runner closed: the hook
 * finds the live runner here, under this lock, or none. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct notify_runner *live;

static void
on_commit(const struct ledger_committed *evs, size_t n, void *ud)
{
    struct notify_runner *r;
    bool sla = false, board = notify_board_listening();

    (void)ud;

    for (size_t i = 0; i < n; i++) {
        const struct ledger_event *e = evs[i].ev;
        bool is_sla = strncmp(e->type, "sla.", 4) == 0;

        if (board && (is_sla || strncmp(e->type, "case.", 5) == 0)) {
            json_t *data = e->data ? json_loads(e->data, 0, NULL) : NULL;
            char at[TIME_RFC3339_LEN + 1];
            json_t *ev;

            time_format_rfc3339(e->occurred_at, at);
            ev = json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}", "id", (json_int_t)evs[i].id, "type",
                           e->type, "subject", e->subject, "occurred_at", at, "data",
                           data ? data : json_object(), "sent_ms", (json_int_t)time_now_ms());
            notify_board_emit(is_sla ? "sla" : "case", ev);
            json_decref(ev);
        }
        sla |= is_sla || strcmp(e->type, "case.assigned") == 0;
    }
    if (!sla)
        return;
    pthread_mutex_lock(&live_mu);
    r = live;
    if (r) {
        pthread_mutex_lock(&r->mu);
        r->woken = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&live_mu);
}

/* Wakes the runner (tasks.c queued folded subjects). */
void notify_runner_poke(void);
void
notify_runner_poke(void)
{
    struct notify_runner *r;

    pthread_mutex_lock(&live_mu);
    r = live;
    if (r) {
        pthread_mutex_lock(&r->mu);
        r->woken = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&live_mu);
}

/* Drops notifications read more than NOTIFY_KEEP_READ_DAYS ago (unread ones stay). */
static void
purge(struct store *s)
{
    static const char sql[] =
        "DELETE FROM notifications WHERE read_at IS NOT NULL AND read_at < $1";
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    if (store_begin(s, &err) != SMILE_OK)
        return;
    if (store_prepare(s, sql, &st, &err) == SMILE_OK) {
        store_stmt_bind_int64(st, 1, time_now_ms() - (int64_t)NOTIFY_KEEP_READ_DAYS * 86400000);
        if (store_stmt_step(st, &err) == STORE_DONE) {
            store_stmt_reset(st);
            if (store_commit(s, &err) == SMILE_OK)
                return;
            log_warn("msg=\"notification purge failed\" err=\"%s\"", err.msg);
            return;
        }
        store_stmt_reset(st);
    }
    store_rollback(s);
}

static void *
loop(void *arg)
{
    struct notify_runner *r = arg;
    int64_t purged_at = 0;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct smile_err err;
        struct timespec ts;
        int done = 0, seen = 0;

        r->woken = false;
        pthread_mutex_unlock(&r->mu);
        do {
            smile_err_clear(&err);
            if (pending_run(r->db, BATCH, &r->halt, &done, &seen, &err) != SMILE_OK) {
                log_error("msg=\"escalation failed\" err=\"%s\"", err.msg);
                done = seen = 0;
            } else if (done > 0) {
                pthread_mutex_lock(&r->mu);
                r->stats.events += (uint64_t)done;
                pthread_mutex_unlock(&r->mu);
                log_info("msg=\"deadlines escalated\" count=%d", done);
            }
        } while (seen == BATCH && !atomic_load(&r->halt));
        /* After the escalations, whose reassignments fold again and come back here. */
        smile_err_clear(&err);
        if (!atomic_load(&r->halt) && notify_tasks_run(r->db, &err) != SMILE_OK)
            log_warn("msg=\"task events failed\" err=\"%s\"", err.msg);
        if (!atomic_load(&r->halt) && time_now_ms() - purged_at > 3600 * 1000) { /* hourly */
            purge(r->db);
            purged_at = time_now_ms();
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1; /* events committed by another process: look once a second */
        pthread_mutex_lock(&r->mu);
        while (!r->stop && !r->woken)
            if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
                break;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int
notify_runner_open(const char *db_path, struct store_pool *pool, struct ledger *l,
                   struct notify_runner **out, struct smile_err *err)
{
    struct notify_runner *r = xcalloc(1, sizeof(*r));
    int rc;

    *out = NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    rc = pool ? store_pool_open_member(pool, &r->db, err) : store_open(db_path, 0, &r->db, err);
    if (rc != SMILE_OK) {
        notify_runner_close(r);
        return rc;
    }
    if (pthread_create(&r->thread, NULL, loop, r) != 0) {
        notify_runner_close(r);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the escalation runner");
    }
    r->started = true;
    pthread_mutex_lock(&live_mu);
    live = r;
    pthread_mutex_unlock(&live_mu);
    if (l)
        ledger_on_commit(l, on_commit, NULL);
    *out = r;
    return SMILE_OK;
}

void
notify_runner_close(struct notify_runner *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&live_mu);
    if (live == r)
        live = NULL;
    pthread_mutex_unlock(&live_mu);
    if (r->started) {
        atomic_store(&r->halt, true);
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    store_close(r->db);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void
notify_runner_stats(struct notify_runner *r, struct notify_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}
