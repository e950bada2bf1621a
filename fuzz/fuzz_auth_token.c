/*
 * fuzz_auth_token.c — fuzzes the parsers that see untrusted credentials before any
 * database look-up: base64url decoding (session cookies, API tokens), the API token shape
 * test and the username rule. Checks that whatever decodes re-encodes to the same text
 * (only canonical encodings are accepted), so one secret has exactly one spelling.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm/staff.h"
#include "http/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char bin[96];
    char text[160], *s;
    size_t n = 0;

    s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (auth_b64url_decode(s, size, bin, sizeof(bin), &n) == SMILE_OK) {
        size_t m = auth_b64url_encode(bin, n, text, sizeof(text));

        if (m != size || memcmp(text, s, size) != 0)
            abort();
    }
    if (auth_token_shape_ok(s, size) && (size != AUTH_TOKEN_LEN || memcmp(s, "smile_", 6) != 0))
        abort();
    if (staff_name_valid(s) && (strlen(s) == 0 || strlen(s) > STAFF_NAME_MAX))
        abort();
    free(s);
    return 0;
}
