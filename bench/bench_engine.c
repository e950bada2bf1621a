/*
 * bench_engine.c — throughput of the engine fold on synthetic subjects: 1,000,000 hotline
 * calls (offered, ringing at one or two agents, answered or abandoned, ended) through the
 * default hotline process, and 200,000 complaint cases (opened, assigned, replied,
 * pending, customer reply, resolved, survey) through the default complaint process, both
 * on the always-open calendar table. Prints events/s for each, beside the ceiling: a loop
 * over the same events that only reads each event and compares its type, in the same run.
 * Usage: bench_engine [calls] [cases]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define NAGENTS 50

struct set {
    struct engine_event *ev;
    size_t nev, cap;
    size_t *first; /* subject i: ev[first[i] .. first[i + 1]) */
    size_t nsub;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
push(struct set *s, const char *type, int64_t t, const char *actor, json_t *data)
{
    if (s->nev == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ev = xrealloc(s->ev, s->cap * sizeof(*s->ev));
    }
    s->ev[s->nev] =
        (struct engine_event){(int64_t)s->nev + 1, type, t, "subject", actor, NULL, "phone", data};
    s->nev++;
}

static char agent_name[NAGENTS][16];
static json_t *agent_data[NAGENTS];
static json_t *queue_data, *complaint_data, *by_staff, *by_customer, *assign_data[NAGENTS];

static void
make_calls(struct set *s, size_t n)
{
    s->first = xmalloc((n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        int64_t t = (int64_t)i * 7000;
        unsigned a = (unsigned)(next() % NAGENTS), b = (a + 1) % NAGENTS;
        uint64_t r = next();
        s->first[i] = s->nev;
        push(s, "call.offered", t, NULL, queue_data);
        t += 500 + (int64_t)(r % 3000);
        push(s, "call.ringing", t, NULL, agent_data[a]);
        if (r % 10 == 0) { /* abandoned while ringing */
            push(s, "call.abandoned", t + (int64_t)(r % 20000), NULL, NULL);
            continue;
        }
        if (r % 7 == 0) { /* no pick-up, rings at the next agent */
            t += 15000;
            push(s, "call.ringing", t, NULL, agent_data[b]);
            a = b;
        }
        t += 1000 + (int64_t)(r % 17000);
        push(s, "call.answered", t, agent_name[a], agent_data[a]);
        push(s, "call.ended", t + 180000, agent_name[a], NULL);
    }
    s->first[n] = s->nev;
    s->nsub = n;
}

static void
make_cases(struct set *s, size_t n)
{
    s->first = xmalloc((n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        int64_t t = (int64_t)i * 60000;
        unsigned a = (unsigned)(next() % NAGENTS);
        uint64_t r = next();
        s->first[i] = s->nev;
        push(s, "case.opened", t, NULL, complaint_data);
        t += (int64_t)(r % 3600000);
        push(s, "case.assigned", t, "dispatcher", assign_data[a]);
        t += (int64_t)(r % 7200000);
        push(s, "case.replied", t, agent_name[a], by_staff);
        push(s, "case.pending", t + 1000, agent_name[a], NULL);
        t += (int64_t)(r % 86400000);
        push(s, "case.replied", t, NULL, by_customer);
        t += (int64_t)(r % 172800000);
        push(s, "case.resolved", t, agent_name[a], NULL);
        push(s, "survey.answered", t + (int64_t)(r % 86400000), agent_name[a], NULL);
    }
    s->first[n] = s->nev;
    s->nsub = n;
}

static void
run(const char *name, const char *doc, struct set *s)
{
    static const int64_t ring = 5000;
    struct engine_calendar cal = engine_calendar_wall(&ring);
    struct engine_process *p;
    struct smile_err err;
    struct engine_result r;
    uint64_t met = 0, breached = 0, reads = 0;
    int64_t t0, t1, t2;

    if (engine_process_compile(doc, strlen(doc), &p, &err) != SMILE_OK)
        fatal("bench: %s does not compile: %s", name, err.msg);
    engine_result_init(&r);
    /* Three rounds, best of each: the ceiling reads every event of every subject and
     * compares its type; the fold folds every subject. The first round warms the caches. */
    int64_t best_read = INT64_MAX, best_fold = INT64_MAX;
    for (int round = 0; round < 3; round++) {
        met = breached = reads = 0;
        t0 = time_mono_ns();
        for (size_t i = 0; i < s->nsub; i++)
            for (size_t k = s->first[i]; k < s->first[i + 1]; k++)
                reads += strcmp(s->ev[k].type, "call.answered") == 0 || s->ev[k].occurred_at < 0;
        t1 = time_mono_ns();
        for (size_t i = 0; i < s->nsub; i++) {
            size_t k = s->first[i];
            engine_fold(p, &cal, &s->ev[k], s->first[i + 1] - k,
                        s->ev[s->first[i + 1] - 1].occurred_at, &r);
            for (uint32_t o = 0; o < r.nocc; o++) {
                met += r.occ[o].result == ENGINE_MET;
                breached += r.occ[o].result == ENGINE_BREACHED;
            }
        }
        t2 = time_mono_ns();
        if (t1 - t0 < best_read)
            best_read = t1 - t0;
        if (t2 - t1 < best_fold)
            best_fold = t2 - t1;
    }
    double fold_s = (double)best_fold / 1e9, read_s = (double)best_read / 1e9;
    double eps = (double)s->nev / fold_s, ceil_eps = (double)s->nev / read_s;
    printf("%-10s subjects=%zu events=%zu fold=%.3fs %.0f events/s (%.0f subjects/s) | "
           "ceiling (read + type compare)=%.3fs %.0f events/s | ratio %.1f%% | met=%llu "
           "breached=%llu (%llu)\n",
           name, s->nsub, s->nev, fold_s, eps, (double)s->nsub / fold_s, read_s, ceil_eps,
           100.0 * eps / ceil_eps, (unsigned long long)met, (unsigned long long)breached,
           (unsigned long long)reads);
    engine_result_free(&r);
    engine_process_unref(p);
}

int
main(int argc, char **argv)
{
    size_t ncalls = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t ncases = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
    struct set calls = {0}, cases = {0};

    for (int i = 0; i < NAGENTS; i++) {
        snprintf(agent_name[i], sizeof(agent_name[i]), "agent%02d", i);
        agent_data[i] = json_pack("{ss}", "agent", agent_name[i]);
        assign_data[i] = json_pack("{ss,ss}", "assignee", agent_name[i], "team", "complaints");
    }
    queue_data = json_pack("{ss}", "queue", "support");
    complaint_data = json_pack("{ss}", "type", "complaint");
    by_staff = json_pack("{ss}", "by", "staff");
    by_customer = json_pack("{ss}", "by", "customer");
    make_calls(&calls, ncalls);
    make_cases(&cases, ncases);
    run("hotline", engine_default_hotline_json(), &calls);
    run("complaint", engine_default_complaint_json(), &cases);
    free(calls.ev);
    free(calls.first);
    free(cases.ev);
    free(cases.first);
    for (int i = 0; i < NAGENTS; i++) {
        json_decref(agent_data[i]);
        json_decref(assign_data[i]);
    }
    json_decref(queue_data);
    json_decref(complaint_data);
    json_decref(by_staff);
    json_decref(by_customer);
    return 0;
}
