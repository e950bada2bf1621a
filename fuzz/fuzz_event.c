/*
 * fuzz_event.c — fuzz target for the ledger's event validation: the bytes are parsed as
 * a JSON body (as POST /api/v1/events does) and validated as one event or a batch. A
 * valid result is checked for the promises the writer relies on (required fields set,
 * times in range, channel set, data canonical and bounded); an invalid one must carry at
 * least one field problem or a size error.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    struct ledger_batch b;
    struct smile_err err;
    int rc;

    if (body == NULL)
        return 0;
    smile_err_clear(&err);
    rc = ledger_batch_parse(body, &b, &err);
    if (rc == SMILE_OK) {
        if (b.n < 1 || b.n > LEDGER_MAX_BATCH)
            abort();
        for (size_t i = 0; i < b.n; i++) {
            const struct ledger_event *ev = &b.evs[i];
            struct smile_err again;

            if (ev->type == NULL || ev->subject == NULL || ev->channel == NULL)
                abort();
            if (ev->occurred_at < LEDGER_MIN_TIME || ev->occurred_at >= LEDGER_MAX_TIME)
                abort();
            if (ev->source != NULL && ev->source_id == NULL)
                abort();
            if (ev->data && strlen(ev->data) > LEDGER_MAX_DATA)
                abort();
            /* What the parse accepted, the C-side check accepts too. */
            smile_err_clear(&again);
            if (ledger_event_check(ev, &again) != SMILE_OK)
                abort();
        }
        ledger_batch_free(&b);
    } else if (err.nfields == 0 && rc != SMILE_ETOOBIG) {
        abort();
    } else if (b.n != 0 || b.evs != NULL) {
        abort();
    }
    json_decref(body);
    return 0;
}
