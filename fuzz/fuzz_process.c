/*
 * fuzz_process.c — fuzz target for process documents: engine_process_compile() must
 * return a result (never crash, leak or assert) on any bytes. Whatever compiles is
 * serialised, compiled again (the canonical form must compile to the same text) and
 * folded over a few fixed events, so the compiled tables are exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct engine_process *p = NULL, *q = NULL;
    struct smile_err err;
    char *a, *b;

    if (engine_process_compile((const char *)data, size, &p, &err) != SMILE_OK)
        return 0;
    a = engine_process_to_json(p);
    if (engine_process_compile(a, strlen(a), &q, &err) != SMILE_OK)
        abort();
    b = engine_process_to_json(q);
    if (strcmp(a, b) != 0)
        abort();
    {
        static const int64_t ring = 5000;
        static const char *const types[] = {
            "call.offered", "call.ringing", "call.answered", "case.opened", "case.assigned",
            "case.pending", "case.replied", "case.resolved", "x.start",     "x.done"};
        struct engine_calendar cal = engine_calendar_wall(&ring);
        struct engine_event ev[ARRAY_LEN(types)];
        json_t *d = json_pack("{ss,ss,ss,ss}", "agent", "alice", "assignee", "bob", "type",
                              "complaint", "by", "customer");
        struct engine_result r;
        for (size_t i = 0; i < ARRAY_LEN(types); i++)
            ev[i] = (struct engine_event){(int64_t)i + 1, types[i], (int64_t)i * 3000, "s:1",
                                          "alice",        NULL,     "phone",           d};
        engine_result_init(&r);
        if (engine_fold(p, &cal, ev, ARRAY_LEN(ev), 60000, &r) != SMILE_OK ||
            !engine_result_check(&r))
            abort();
        json_decref(engine_result_to_json(&r));
        engine_result_free(&r);
        json_decref(d);
    }
    free(a);
    free(b);
    engine_process_unref(q);
    engine_process_unref(p);
    return 0;
}
