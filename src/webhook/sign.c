/*
 * sign.c — the pure pieces of outbound webhooks: event-type filters ("*", "case.*",
 * "sla.breached"), the HMAC-SHA256 signature in Stripe's scheme (t=<unix s>,v1=<hex of
 * HMAC(secret, t + "." + body)>), the retry back-off schedule, the subscription URL check and
 * the payload text. No I/O, no clock: the sender (sender.c) and the store (store.c) call them
 * with the time and the randomness they chose.
 */
#include "webhook/webhook.h"

#include <curl/curl.h>
#include <strings.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ledger/ledger.h"

/* The families of event types (docs/events.md) a "<family>.*" filter may name. */
static const char *const families[] = {"call", "agent",  "email", "visit",
                                       "case", "survey", "sla",   "custom"};

/* custom.<name>: the ledger's rule (a-z 0-9 _ . -, the whole type ≤ LEDGER_MAX_TYPE). */
static bool
custom_type_valid(const char *t)
{
    if (strncmp(t, "custom.", 7) != 0 || t[7] == '\0' || strlen(t) > LEDGER_MAX_TYPE)
        return false;
    for (const char *p = t + 7; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == '-'))
            return false;
    return true;
}

bool
webhook_pattern_valid(const char *pattern)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, "*") == 0)
        return true;
    if (n > 2 && strcmp(pattern + n - 2, ".*") == 0) {
        for (size_t i = 0; i < ARRAY_LEN(families); i++)
            if (strlen(families[i]) == n - 2 && memcmp(families[i], pattern, n - 2) == 0)
                return true;
        return false;
    }
    return ledger_type_known(pattern) || custom_type_valid(pattern);
}

bool
webhook_pattern_match(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, "*") == 0)
        return true;
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(type, pattern, n - 1) == 0; /* "case." is a prefix of the type */
    return strcmp(pattern, type) == 0;
}

bool
webhook_patterns_match(const char *const *patterns, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (webhook_pattern_match(patterns[i], type))
            return true;
    return false;
}

void
webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char out[65])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, (unsigned long long)len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

void
webhook_signature_header(const char *secret, const char *previous, int64_t t, const char *body,
                         size_t len, char *out, size_t cap)
{
    char a[65], b[65];

    webhook_sign(secret, t, body, len, a);
    if (previous && previous[0]) {
        webhook_sign(previous, t, body, len, b);
        snprintf(out, cap, "t=%lld,v1=%s,v1=%s", (long long)t, a, b);
    } else {
        snprintf(out, cap, "t=%lld,v1=%s", (long long)t, a);
    }
}

int64_t
webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int tries, uint32_t rnd)
{
    int64_t d = base_ms;

    if (tries < 1)
        tries = 1;
    /* Double tries − 1 times, stopping at the cap (no overflow for any tries). */
    for (int i = 1; i < tries && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    /* Jitter: rnd / 2^32 of a tenth of d, so receivers coming back are not hit at once. */
    return d + (int64_t)(((uint64_t)(d / 10) * rnd) >> 32);
}

int
webhook_url_check(const char *url, const char *ptr, struct smile_err *err)
{
    CURLU *h;
    char *scheme = NULL, *host = NULL;
    int rc = SMILE_OK;
    size_t n = strlen(url);

    if (n == 0 || n > WEBHOOK_MAX_URL)
        return smile_err_field(err, ptr, "url must be 1 to %d bytes", WEBHOOK_MAX_URL);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return smile_err_field(err, ptr, "url must not contain spaces or control characters");
    if (strchr(url, '#'))
        return smile_err_field(err, ptr, "url must not have a #fragment");
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return smile_err_field(err, ptr, "url must start with http:// or https://");
    if (url[strncasecmp(url, "http://", 7) == 0 ? 7 : 8] == '/')
        return smile_err_field(err, ptr, "url must name a host after the scheme");
    h = curl_url();
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        rc = smile_err_field(err, ptr, "url is not a valid absolute http(s) URL with a host");
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        rc = smile_err_field(err, ptr, "url must use http or https");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(h);
    return rc;
}

char *
webhook_payload(int64_t did, int64_t webhook_id, const json_t *event)
{
    json_t *o = json_object();
    char *s;

    json_object_set_new(o, "id", json_integer(did));
    json_object_set(o, "event", (json_t *)event);
    json_object_set_new(o, "webhook_id", json_integer(webhook_id));
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
