/*
 * bench_whatif.c — throughput of the what-if replay core (kpi/whatif.h) on synthetic
 * customer e-mail threads: 5,000,000 events by default (threads of 1–4 e-mails received
 * and answered by one of 200 agents, 90% within 20 h, the rest within 60 h, 5% never),
 * replayed through the built-in "Customer email" process live (24 h) and a draft (12 h),
 * both on the always-open calendar. Prints events/s beside the ceiling: the same subjects
 * folded once through the live version with nothing counted (the bare engine), so the
 * ratio shows what the second fold and the counting cost. Wall time and the thread's CPU
 * time are both printed (on a shared machine the CPU time is the fairer figure).
 * Usage: bench_whatif [events]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "kpi/whatif.h"

#define NAGENTS 200
#define H INT64_C(3600000)

static uint64_t rng = 88172645463325252ull;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct engine_process *
compile(const char *within, bool published)
{
    json_t *doc = json_loads(engine_default_email_json(), 0, NULL);
    json_t *step = json_array_get(json_object_get(doc, "steps"), 0);
    struct engine_process *p = NULL;
    struct smile_err err;

    json_object_set_new(json_object_get(step, "standard"), "within", json_string(within));
    if (published)
        json_object_set_new(doc, "published_at", json_string("2020-01-01T00:00:00Z"));
    smile_err_clear(&err);
    if (engine_process_compile_json(doc, &p, &err) != SMILE_OK) {
        fprintf(stderr, "compile: %s\n", err.msg);
        exit(1);
    }
    json_decref(doc);
    return p;
}

int
main(int argc, char **argv)
{
    size_t want = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    static char agents[NAGENTS][16];
    struct engine_event *ev = xmalloc((want + 16) * sizeof(*ev));
    size_t *first = xmalloc((want + 2) * sizeof(*first)), nev = 0, nsub = 0;
    struct engine_process *live = compile("24h", true), *draft = compile("12h", false);
    int64_t ring = 5000, t0 = INT64_C(1793577600000), to = t0 + 31 * 24 * H;
    struct engine_calendar cal = engine_calendar_wall(&ring);
    struct engine_result res;
    struct kpi_whatif *w;
    int64_t a, b, c, ca, cb, cc, events, subjects;
    json_t *r;

    for (int i = 0; i < NAGENTS; i++)
        snprintf(agents[i], sizeof(agents[i]), "agent%03d", i);
    /* Threads: 1–4 customer e-mails, each answered 0–40 h later (5% never answered). */
    while (nev < want) {
        int64_t t = t0 + (int64_t)(next() % (uint64_t)(30 * 24 * H));
        int mails = 1 + (int)(next() % 4);
        const char *agent = agents[next() % NAGENTS];

        first[nsub++] = nev;
        for (int m = 0; m < mails && nev + 2 <= want; m++) {
            /* 90% answered within 0–20 h, the rest within 20–60 h */
            int64_t delay = next() % 10 ? (int64_t)(next() % (uint64_t)(20 * H))
                                        : 20 * H + (int64_t)(next() % (uint64_t)(40 * H));

            ev[nev] = (struct engine_event){
                (int64_t)nev + 1, "email.received", t, "thread", NULL, NULL, "email", NULL};
            nev++;
            if (next() % 20 != 0) {
                ev[nev] = (struct engine_event){(int64_t)nev + 1, "email.sent", t + delay,
                                                "thread",         agent,        NULL,
                                                "email",          NULL};
                nev++;
            }
            t += delay + H;
        }
        if (nev + 2 > want)
            break;
    }
    first[nsub] = nev;
    /* Each subject's events must be sorted by (occurred_at, id): sort per subject. */
    for (size_t s = 0; s < nsub; s++)
        engine_events_sort(ev + first[s], first[s + 1] - first[s]);

    /* Ceiling: one bare fold per subject through the live version. */
    engine_result_init(&res);
    a = time_mono_ns();
    ca = cpu_ns();
    for (size_t s = 0; s < nsub; s++)
        engine_fold(live, &cal, ev + first[s], first[s + 1] - first[s], to, &res);
    b = time_mono_ns();
    cb = cpu_ns();
    engine_result_free(&res);

    w = kpi_whatif_new(&live, 1, &cal, draft, &cal, t0, to);
    for (size_t s = 0; s < nsub; s++)
        kpi_whatif_subject(w, ev + first[s], first[s + 1] - first[s], to);
    r = kpi_whatif_report(w, 0.9);
    c = time_mono_ns();
    cc = cpu_ns();
    kpi_whatif_counts(w, &events, &subjects);

    printf("bench_whatif: %zu events in %zu subjects (e-mail threads, %d agents)\n", nev, nsub,
           NAGENTS);
    printf("  what-if (live 24 h + draft 12 h, counted, report): wall %.3f s = %.2f M events/s;"
           " cpu %.3f s = %.2f M events/s\n",
           (double)(c - b) / 1e9, (double)events / ((double)(c - b) / 1e3), (double)(cc - cb) / 1e9,
           (double)events / ((double)(cc - cb) / 1e3));
    printf("  ceiling (one bare fold, nothing counted):          wall %.3f s = %.2f M events/s;"
           " cpu %.3f s = %.2f M events/s\n",
           (double)(b - a) / 1e9, (double)nev / ((double)(b - a) / 1e3), (double)(cb - ca) / 1e9,
           (double)nev / ((double)(cb - ca) / 1e3));
    printf("  ratio what-if / ceiling (cpu): %.1f%%   goal >= 1.00 M events/s (cpu): %s\n",
           100.0 * (double)(cb - ca) / (double)(cc - cb),
           (double)events / ((double)(cc - cb) / 1e3) >= 1.0 ? "yes" : "no");
    printf("  live compliance %.4f, draft %.4f; staff below 90%%: live %lld, draft %lld of %d\n",
           json_real_value(json_object_get(json_object_get(json_object_get(r, "totals"), "live"),
                                           "compliance")),
           json_real_value(json_object_get(json_object_get(json_object_get(r, "totals"), "draft"),
                                           "compliance")),
           (long long)json_integer_value(
               json_object_get(json_object_get(json_object_get(r, "target"), "live"), "below")),
           (long long)json_integer_value(
               json_object_get(json_object_get(json_object_get(r, "target"), "draft"), "below")),
           NAGENTS);
    json_decref(r);
    kpi_whatif_free(w);
    engine_process_unref(live);
    engine_process_unref(draft);
    free(ev);
    free(first);
    return 0;
}
