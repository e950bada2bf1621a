/*
 * tasks.c — task events for the live stream: after the runtime folds a subject (its open
 * clocks may have appeared, moved to another holder, been warned or breached, or closed),
 * the subject is queued here (notify_tasks_folded, the runtime's folded callback); the
 * escalation runner's thread then reads the subject's tasks as the inbox shows them
 * (work_tasks_of_subject), compares them with what it last told each person, and hands the
 * differences to the task hook (the stream's `event: task`): the task's JSON to each person
 * for whom it appeared or changed, `{"id": N, "removed": true}` to each person who had it
 * and no longer has it. Sits after the runtime in the flow: ledger → runtime → notify →
 * http stream.
 *
 * Who is told about a task (its audience): the person holding it; a task held by a team
 * with nobody assigned, every enabled member of that team (up to TEAM_MAX). What is
 * compared (the fingerprint): the task's JSON without time_left_ms (which changes every
 * millisecond), so a change of holder, deadline, paused, warned or breached is an event and
 * the passing of time is not.
 *
 * The memory of what was told (subject → [(task id, user id, fingerprint)]) lives in this
 * process only and holds only open tasks; after a restart the first fold of a subject tells
 * its holders about its tasks again (clients replace a task by id, so a repeat is harmless).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"
#include "store/store.h"
#include "work/work.h"

#define BUCKETS 4096u
#define TEAM_MAX 200
#define QUEUE_MAX 65536

void notify_runner_poke(void); /* escalate.c */

/* One (task, person) pair told. */
struct told {
    int64_t task_id, user_id;
    char *fp;
};

struct entry {
    struct entry *next;
    char *subject;
    struct told *t;
    size_t n;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS]; /* only the runner's thread touches it */
static char **queue;                 /* subjects folded, not yet looked at (under mu) */
static size_t queue_n, queue_cap;
static notify_task_fn *task_fn;
static void *task_ud;

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void
notify_task_set(notify_task_fn *fn, void *ud)
{
    pthread_mutex_lock(&mu);
    task_fn = fn;
    task_ud = ud;
    pthread_mutex_unlock(&mu);
}

void
notify_tasks_folded(const char *const *subjects, size_t n, void *ud)
{
    bool added = false;
    size_t dropped = 0;

    (void)ud;
    pthread_mutex_lock(&mu);
    if (task_fn == NULL) { /* nobody listens: remember nothing */
        pthread_mutex_unlock(&mu);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (queue_n >= QUEUE_MAX) {
            /* The runner is far behind: these subjects' task events are lost (clients
             * still see the change at their next GET /api/v1/tasks). */
            dropped += n - i;
            break;
        }
        if (queue_n == queue_cap) {
            queue_cap = queue_cap ? queue_cap * 2 : 64;
            queue = xrealloc(queue, queue_cap * sizeof(*queue));
        }
        queue[queue_n++] = xstrdup(subjects[i]);
        added = true;
    }
    pthread_mutex_unlock(&mu);
    if (dropped)
        log_warn("msg=\"task events dropped: queue full\" subjects=%zu", dropped);
    if (added)
        notify_runner_poke();
}

/* The user ids a task is for: its holder, or the members of its team's queue. */
static int
audience(struct store *s, const json_t *task, int64_t **out, size_t *out_n, struct smile_err *err)
{
    static const char sql_user[] = "SELECT id FROM users WHERE username = $1 AND disabled = 0";
    static const char sql_team[] =
        "SELECT u.id FROM users u JOIN teams t ON t.id = u.team_id WHERE t.name = $1"
        " AND t.deleted_at IS NULL AND u.disabled = 0 ORDER BY u.id LIMIT 200";
    const char *who = json_string_value(json_object_get(task, "assignee"));
    const char *team = json_string_value(json_object_get(task, "team"));
    struct store_stmt *st;
    int rc;

    *out = NULL;
    *out_n = 0;
    if (who == NULL && team == NULL)
        return SMILE_OK;
    if ((rc = store_prepare(s, who ? sql_user : sql_team, &st, err)) != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, who ? who : team, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW && *out_n < TEAM_MAX) {
        *out = xrealloc(*out, (*out_n + 1) * sizeof(**out));
        (*out)[(*out_n)++] = store_stmt_int64(st, 0);
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE && rc != STORE_ROW) {
        free(*out);
        *out = NULL;
        *out_n = 0;
        return err->code ? err->code : SMILE_EDB;
    }
    return SMILE_OK;
}

static char *
fingerprint(const json_t *task)
{
    json_t *c = json_deep_copy(task);
    char *fp;

    json_object_del(c, "time_left_ms");
    fp = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return fp ? fp : xstrdup("");
}

static const struct told *
find(const struct told *t, size_t n, int64_t task_id, int64_t user_id)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].task_id == task_id && t[i].user_id == user_id)
            return &t[i];
    return NULL;
}

static void
emit(notify_task_fn *fn, void *ud, int64_t user_id, const json_t *j)
{
    notify_metrics_count(4, 1); /* first: a reader of the stream may look at once */
    fn(user_id, j, ud);
}

int
notify_tasks_subject(struct store *s, const char *subject, int64_t now, struct smile_err *err)
{
    struct entry **pp = &table[hash(subject) % BUCKETS], *e;
    struct told *nt = NULL;
    size_t nn = 0;
    json_t *tasks = NULL;
    notify_task_fn *fn;
    void *ud;
    int rc;

    pthread_mutex_lock(&mu);
    fn = task_fn;
    ud = task_ud;
    pthread_mutex_unlock(&mu);
    if (fn == NULL)
        return SMILE_OK;
    if ((rc = work_tasks_of_subject(s, subject, now, &tasks, err)) != SMILE_OK)
        return rc;
    while (*pp && strcmp((*pp)->subject, subject) != 0)
        pp = &(*pp)->next;
    e = *pp;
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *task = json_array_get(tasks, i);
        int64_t id = json_integer_value(json_object_get(task, "id"));
        int64_t *users = NULL;
        size_t nu = 0;
        char *fp;

        if ((rc = audience(s, task, &users, &nu, err)) != SMILE_OK)
            break;
        fp = fingerprint(task);
        for (size_t k = 0; k < nu; k++) {
            const struct told *old = e ? find(e->t, e->n, id, users[k]) : NULL;

            if (old == NULL || strcmp(old->fp, fp) != 0)
                emit(fn, ud, users[k], task);
            nt = xrealloc(nt, (nn + 1) * sizeof(*nt));
            nt[nn++] = (struct told){.task_id = id, .user_id = users[k], .fp = xstrdup(fp)};
        }
        free(fp);
        free(users);
    }
    json_decref(tasks);
    if (rc != SMILE_OK) { /* keep what was told; the next fold tries again */
        for (size_t i = 0; i < nn; i++)
            free(nt[i].fp);
        free(nt);
        return rc;
    }
    if (e) {
        for (size_t i = 0; i < e->n; i++) {
            if (!find(nt, nn, e->t[i].task_id, e->t[i].user_id)) {
                json_t *gone = json_pack("{s:I, s:b, s:s}", "id", (json_int_t)e->t[i].task_id,
                                         "removed", 1, "subject", subject);

                emit(fn, ud, e->t[i].user_id, gone);
                json_decref(gone);
            }
            free(e->t[i].fp);
        }
        free(e->t);
        e->t = NULL;
        e->n = 0;
    }
    if (nn == 0) {
        if (e) {
            *pp = e->next;
            free(e->subject);
            free(e);
        }
        free(nt);
        return SMILE_OK;
    }
    if (e == NULL) {
        e = xcalloc(1, sizeof(*e));
        e->subject = xstrdup(subject);
        e->next = table[hash(subject) % BUCKETS];
        table[hash(subject) % BUCKETS] = e;
    }
    e->t = nt;
    e->n = nn;
    return SMILE_OK;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
notify_tasks_run(struct store *s, struct smile_err *err)
{
    char **q;
    size_t n;
    int rc = SMILE_OK, failed = 0;
    int64_t now = time_now_ms();

    pthread_mutex_lock(&mu);
    q = queue;
    n = queue_n;
    queue = NULL;
    queue_n = queue_cap = 0;
    pthread_mutex_unlock(&mu);
    if (n > 1)
        qsort(q, n, sizeof(*q), str_cmp);
    /* One snapshot for the whole batch: each statement otherwise starts a read transaction
     * of its own and, the ledger and the runtime having written since, revalidates the
     * page cache (the definitions' signature check alone was 3% of the server's CPU under
     * a stream of single events). */
    store_read_begin(s);
    for (size_t i = 0; i < n; i++) {
        struct smile_err e2;

        if (i > 0 && strcmp(q[i], q[i - 1]) == 0)
            continue; /* folded twice since the last look */
        smile_err_clear(&e2);
        if (notify_tasks_subject(s, q[i], now, &e2) != SMILE_OK) {
            if (failed++ == 0) {
                rc = e2.code ? e2.code : SMILE_EDB;
                if (err)
                    *err = e2;
            }
        }
    }
    store_read_end(s);
    for (size_t i = 0; i < n; i++)
        free(q[i]);
    free(q);
    return rc;
}

void
notify_tasks_reset(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < queue_n; i++)
        free(queue[i]);
    free(queue);
    queue = NULL;
    queue_n = queue_cap = 0;
    pthread_mutex_unlock(&mu);
    for (unsigned b = 0; b < BUCKETS; b++) {
        while (table[b]) {
            struct entry *e = table[b];

            table[b] = e->next;
            for (size_t i = 0; i < e->n; i++)
                free(e->t[i].fp);
            free(e->t);
            free(e->subject);
            free(e);
        }
    }
}
