/*
 * fuzz_csv.c — fuzzes the CSV side of bulk import without a database: the first byte
 * picks the kind (customers, properties, contracts), the rest is a CSV file split by
 * libcsv (strict, as bulk/run.c does); the first record goes through bulk_header_map and
 * every other through bulk_row_map. Invariants: every problem names a row from 1 to the
 * record count, a column letter or null, and a detail; a row without problems yields a
 * JSON object whose values are strings, integers, reals or arrays of strings.
 */
#include <csv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/bulk.h"

struct state {
    int kind;
    int record;
    bool have_header;
    struct bulk_header h;
    char *cells[BULK_MAX_COLS + 8];
    size_t lens[BULK_MAX_COLS + 8];
    int n;
    json_t *problems;
};

static void
on_field(void *s, size_t n, void *ud)
{
    struct state *st = ud;

    if (st->n >= (int)(sizeof(st->cells) / sizeof(st->cells[0])))
        return;
    st->cells[st->n] = xstrndup(s ? s : "", s ? n : 0);
    st->lens[st->n] = s ? n : 0;
    st->n++;
}

static void
check_value(const json_t *v)
{
    size_t i;
    json_t *e;

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (!json_is_string(e)) abort();
    } else if (!json_is_string(v) && !json_is_integer(v) && !json_is_real(v)) {
        abort();
    }
}

static void
on_record(int c, void *ud)
{
    struct state *st = ud;

    (void)c;
    st->record++;
    if (!st->have_header) {
        bulk_header_map(st->kind, st->cells, st->lens, st->n, &st->h, st->problems);
        st->have_header = true;
    } else {
        json_t *body = NULL, *refs = NULL;
        int bad = bulk_row_map(&st->h, st->cells, st->lens, st->n, st->record, &body, &refs,
                               st->problems);
        const char *k;
        json_t *v;

        if (!json_is_object(body) || !json_is_object(refs))
            abort();
        if (bad == 0) {
            json_object_foreach(body, k, v) check_value(v);
            json_object_foreach(refs, k, v) if (!json_is_string(v)) abort();
        }
        json_decref(body);
        json_decref(refs);
    }
    for (int i = 0; i < st->n; i++)
        free(st->cells[i]);
    st->n = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct csv_parser p;
    struct state st;
    size_t i;
    json_t *pr;

    if (size < 1)
        return 0;
    memset(&st, 0, sizeof(st));
    st.kind = data[0] % BULK_NKINDS;
    st.problems = json_array();
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    if (csv_parse(&p, data + 1, size - 1, on_field, on_record, &st) == size - 1)
        csv_fini(&p, on_field, on_record, &st);
    csv_free(&p);
    for (int k = 0; k < st.n; k++)
        free(st.cells[k]);
    json_array_foreach(st.problems, i, pr)
    {
        json_int_t row = json_integer_value(json_object_get(pr, "row"));
        const json_t *col = json_object_get(pr, "column");

        if (row < 1 || row > st.record + 1)
            abort();
        if (!json_is_null(col) && (!json_is_string(col) || json_string_length(col) == 0))
            abort();
        if (!json_is_string(json_object_get(pr, "detail")))
            abort();
    }
    json_decref(st.problems);
    return 0;
}
