/*
 * fuzz_webhook.c — fuzzes what an admin's webhook subscription feeds the webhook part: the
 * URL check and the event-type patterns (validity and matching), and the signature over
 * arbitrary bytes. Checks the invariants the sender relies on: an accepted URL starts with
 * http:// or https:// and has no control character or space; a valid pattern matches
 * itself when it is an exact type, and "*" matches everything; a signature header always
 * fits WEBHOOK_SIG_MAX and starts with "t=".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook/webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smile_err err;
    char sig[WEBHOOK_SIG_MAX], *s = malloc(size + 1);
    size_t n;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    n = strlen(s);
    smile_err_clear(&err);
    if (webhook_url_check(s, "/url", &err) == SMILE_OK) {
        if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
                abort();
    } else if (err.nfields != 1) {
        abort();
    }
    if (webhook_pattern_valid(s) && strchr(s, '*') == NULL && !webhook_pattern_match(s, s))
        abort();
    if (!webhook_pattern_match("*", s))
        abort();
    webhook_signature_header(s, n > 3 ? s + 3 : NULL, 1764400000, (const char *)data, size, sig,
                             sizeof(sig));
    if (strncmp(sig, "t=1764400000,v1=", 16) != 0 || strlen(sig) >= WEBHOOK_SIG_MAX)
        abort();
    free(s);
    return 0;
}
