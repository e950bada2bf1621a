/*
 * fuzz_crm_contact.c — fuzzes the CRM's input parsers: phone normalisation, e-mail
 * checks, resident ID numbers and list cursors. The first byte picks the parser, the rest
 * is the input. Invariants: accepted output is shorter than the bound and normalising it
 * again gives itself back (idempotence); a decoded cursor re-encodes to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[512], out[CRM_EMAIL_MAX + 1], again[CRM_EMAIL_MAX + 1];
    struct smile_err err;
    size_t n;

    if (size < 1)
        return 0;
    n = size - 1 < sizeof(in) - 1 ? size - 1 : sizeof(in) - 1;
    memcpy(in, data + 1, n);
    in[n] = '\0';
    smile_err_clear(&err);
    switch (data[0] % 4) {
    case 0:
        if (crm_phone_normalise(in, out, &err) == SMILE_OK) {
            if (strlen(out) > CRM_PHONE_MAX || crm_phone_normalise(out, again, &err) != SMILE_OK ||
                strcmp(out, again) != 0)
                abort();
            crm_phone_mask(out, again, sizeof(again));
        }
        break;
    case 1:
        if (crm_email_normalise(in, out, &err) == SMILE_OK) {
            if (strlen(out) > CRM_EMAIL_MAX || crm_email_normalise(out, again, &err) != SMILE_OK ||
                strcmp(out, again) != 0)
                abort();
        }
        break;
    case 2:
        if (crm_id_number_normalise(in, out, &err) == SMILE_OK) {
            if (strlen(out) != 18 || crm_id_number_check(out) != out[17])
                abort();
            crm_id_number_mask(out, again, sizeof(again));
            if (strlen(again) != 18)
                abort();
        }
        break;
    default: {
        int64_t id;
        char back[64];

        if (crm_cursor_decode(in, &id)) {
            crm_cursor_encode(id, back, sizeof(back));
            if (id <= 0 || strcmp(back, in) != 0)
                abort();
        }
        break;
    }
    }
    return 0;
}
