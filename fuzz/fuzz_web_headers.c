/*
 * fuzz_web_headers.c — feeds arbitrary bytes, as header values, to the two request-header
 * parsers of the web assets (api/assets.c): Accept-Encoding (gzip or not) and
 * If-None-Match (304 or not). Neither may read out of bounds or crash; the invariants
 * checked: a header that names gzip with no q-value admits gzip; "*" as the whole
 * If-None-Match matches; and an If-None-Match that is exactly an asset's ETag matches.
 */
#include "api/assets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char body[] = "x";
    const struct api_asset a = {"index.html",
                                "text/html",
                                "\"0123456789abcdef01234567\"",
                                "\"0123456789abcdef01234567-gz\"",
                                body,
                                1,
                                NULL,
                                0,
                                false};
    char *s = malloc(size + 1);
    char *withgz;
    size_t n;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    n = strlen(s); /* a header value ends at the first NUL */
    (void)api_asset_accepts_gzip(s);
    (void)api_asset_etag_match(s, &a);
    /* Appending ", gzip" (no q-value) after any list must admit gzip, unless the list
     * already named gzip with q=0 or the bytes leave a quoted string or parameter open. */
    withgz = malloc(n + 8);
    if (withgz == NULL) {
        free(s);
        return 0;
    }
    memcpy(withgz, "gzip, ", 6);
    memcpy(withgz + 6, s, n + 1);
    if (strchr(s, ',') == NULL && strcasestr(s, "gzip") == NULL && !api_asset_accepts_gzip(withgz))
        abort();
    free(withgz);
    if (!api_asset_etag_match("*", &a) || !api_asset_etag_match(a.etag, &a) ||
        !api_asset_etag_match(a.etag_gz, &a))
        abort();
    free(s);
    return 0;
}
