/*
 * fuzz_queue_log.c — fuzz target for the queue_log parser and its mapping: the input is
 * split into lines, each parsed as a file line and mapped (events built and dropped), and
 * each also parsed as a realtime row whose columns are separated by tabs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

static const char *
lookup(const char *agent, void *ud)
{
    (void)ud;
    return agent[0] == 'P' ? "someone" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pbx_map *m = pbx_map_new("asterisk", lookup, NULL);
    const char *p = (const char *)data, *end = p + size;
    struct buf scratch;
    json_t *evs = json_array();

    buf_init(&scratch, 4096);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct qlog_line l;
        struct qlog_error e;
        char *copy, *cols[10] = {0};
        int nc = 0;

        if (qlog_line_parse(p, n, &l, &e) == SMILE_OK)
            pbx_map_qlog(m, &l, (n & 1) == 0, evs);
        /* The same bytes as a tab-separated realtime row. */
        copy = xstrndup(p, n);
        for (char *s = copy; nc < 10;) {
            char *t = strchr(s, '\t');

            cols[nc++] = s;
            if (t == NULL)
                break;
            *t = '\0';
            s = t + 1;
        }
        {
            struct qlog_row r = {cols[0], cols[1], cols[2],
                                 cols[3], cols[4], {cols[5], cols[6], cols[7], cols[8], cols[9]},
                                 nc == 6};

            if (qlog_row_parse(&r, 28800, &scratch, &l, &e) == SMILE_OK)
                pbx_map_qlog(m, &l, true, evs);
        }
        free(copy);
        if (json_array_size(evs) > 1000)
            json_array_clear(evs);
        p += n + (nl != NULL);
    }
    pbx_map_prune(m, INT64_MAX / 2, 0);
    json_decref(evs);
    buf_free(&scratch);
    pbx_map_free(m);
    return 0;
}
