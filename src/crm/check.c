/*
 * check.c — the pure checks of customer data: Chinese phone numbers normalised to the
 * digits a PBX reports, e-mail addresses, PRC resident ID numbers (GB 11643 check
 * character) and the display masks of GB/T 35273 practice. No I/O, no clock, no globals;
 * the record layer calls these through the field descriptors of customer.c, and the
 * intake sources through crm_customer_find_by_phone/_by_email. Also the base64url list
 * cursors of the record layer.
 */
#include "crm/crm.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool
is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

int
crm_phone_normalise(const char *in, char *out, struct smile_err *err)
{
    char d[64];
    size_t n = 0;
    bool plus = false, cn86 = false;
    const char *p = in;

    while (*p == ' ')
        p++;
    if (*p == '+') {
        plus = true;
        p++;
    }
    for (; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == '.' || *p == '(' || *p == ')')
            continue;
        if (!is_digit(*p))
            return smile_err_set(err, SMILE_EINVAL,
                                 "a phone number holds digits, spaces, '-', '(', ')' and a "
                                 "leading '+' only");
        if (n + 2 >= sizeof(d))
            return smile_err_set(err, SMILE_EINVAL, "a phone number has at most 20 digits");
        d[n++] = *p;
    }
    d[n] = '\0';
    if (n == 0)
        return smile_err_set(err, SMILE_EINVAL, "a phone number needs digits");
    if (!plus && n > 4 && memcmp(d, "0086", 4) == 0) {
        memmove(d, d + 4, n - 3);
        n -= 4;
        cn86 = true;
    } else if (plus && n > 2 && memcmp(d, "86", 2) == 0) {
        memmove(d, d + 2, n - 1);
        n -= 2;
        cn86 = true;
    } else if (plus) {
        /* A foreign number: kept in E.164 form. */
        if (n < 8 || n > 15 || d[0] == '0')
            return smile_err_set(err, SMILE_EINVAL,
                                 "an international number has 8 to 15 digits after '+'");
        out[0] = '+';
        memcpy(out + 1, d, n + 1);
        return SMILE_OK;
    }
    /* After +86 a landline's area code has lost its 0 ("+86 10 12345678"): restore it
     * unless the number is a mobile (1[3-9]…) or a 400/800 service number. */
    if (cn86 && d[0] != '0' && !(d[0] == '1' && d[1] >= '3' && d[1] <= '9') &&
        !(n == 10 && (memcmp(d, "400", 3) == 0 || memcmp(d, "800", 3) == 0))) {
        memmove(d + 1, d, n + 1);
        d[0] = '0';
        n++;
    }
    if (n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9') {
        memcpy(out, d, n + 1);
        return SMILE_OK;
    }
    /* Area codes: 010, 02x, 03xx–09xx; local numbers of 7–8 digits → 11 or 12 digits. */
    if (d[0] == '0' && d[1] != '0' && (d[1] != '1' || d[2] == '0') && n >= 11 && n <= 12) {
        memcpy(out, d, n + 1);
        return SMILE_OK;
    }
    if (n == 10 && (memcmp(d, "400", 3) == 0 || memcmp(d, "800", 3) == 0)) {
        memcpy(out, d, n + 1);
        return SMILE_OK;
    }
    if (!cn86 && (n == 7 || n == 8))
        return smile_err_set(err, SMILE_EINVAL,
                             "a landline needs its area code (e.g. 010-12345678)");
    if (d[0] == '1')
        return smile_err_set(err, SMILE_EINVAL, "a mobile number has 11 digits starting 13 to 19");
    return smile_err_set(err, SMILE_EINVAL, "not a phone number in use in China");
}

void
crm_phone_mask(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v);

    if (n == 11 && v[0] == '1') {
        snprintf(out, cap, "%.3s****%.4s", v, v + 7);
        return;
    }
    if (n <= 6) {
        snprintf(out, cap, "%s", "****");
        return;
    }
    snprintf(out, cap, "%.4s%.*s%.2s", v, (int)(n - 6), "********************", v + n - 2);
}

static bool
local_ok(char ch)
{
    if ((unsigned char)ch <= ' ' || (unsigned char)ch >= 0x7f)
        return false;
    return strchr("\"(),:;<>@[\\]", ch) == NULL;
}

static bool
ldh(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '-';
}

int
crm_email_normalise(const char *in, char *out, struct smile_err *err)
{
    size_t n = strlen(in);
    const char *at = strrchr(in, '@');
    size_t local, label = 0;
    bool tld_alpha = true;

    if (n > CRM_EMAIL_MAX)
        return smile_err_set(err, SMILE_EINVAL, "an e-mail address has at most 254 characters");
    if (at == NULL || at == in)
        return smile_err_set(err, SMILE_EINVAL, "an e-mail address looks like name@example.com");
    local = (size_t)(at - in);
    if (local > 64)
        return smile_err_set(err, SMILE_EINVAL, "the part before '@' has at most 64 characters");
    for (size_t i = 0; i < local; i++)
        if (!local_ok(in[i]))
            return smile_err_set(err, SMILE_EINVAL,
                                 "the part before '@' has a character not allowed there");
    if (in[0] == '.' || in[local - 1] == '.' || strstr(in, "..") != NULL)
        return smile_err_set(err, SMILE_EINVAL, "dots may not lead, trail or repeat");
    /* Domain: LDH labels of 1–63, no leading/trailing '-', at least two labels. */
    {
        const char *d = at + 1;
        size_t dn = strlen(d), labels = 0;

        if (dn == 0 || dn > 253 || strchr(d, '.') == NULL)
            return smile_err_set(err, SMILE_EINVAL, "the domain needs a dot, as in example.com");
        for (size_t i = 0; i <= dn; i++) {
            char ch = d[i];

            if (ch == '.' || ch == '\0') {
                if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-')
                    return smile_err_set(err, SMILE_EINVAL, "the domain has an empty or bad label");
                labels++;
                if (ch == '\0')
                    break;
                label = 0;
                tld_alpha = true;
                continue;
            }
            if (!ldh(ch))
                return smile_err_set(err, SMILE_EINVAL,
                                     "the domain holds letters, digits, '-' and '.' only");
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
                tld_alpha = false;
            label++;
        }
        if (labels < 2 || !tld_alpha || label < 2)
            return smile_err_set(err, SMILE_EINVAL, "the top-level domain has letters only");
    }
    memcpy(out, in, n + 1);
    for (size_t i = local + 1; i < n; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    return SMILE_OK;
}

char
crm_id_number_check(const char *first17)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char map[] = "10X98765432";
    int sum = 0;

    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * w[i];
    return map[sum % 11];
}

int
crm_id_number_normalise(const char *in, char *out, struct smile_err *err)
{
    char v[19];
    int64_t days;
    char date[11];

    if (strlen(in) != 18)
        return smile_err_set(err, SMILE_EINVAL, "a resident ID number has 18 characters");
    memcpy(v, in, 19);
    if (v[17] == 'x')
        v[17] = 'X';
    if (!all_digits(v, 17) || !(is_digit(v[17]) || v[17] == 'X'))
        return smile_err_set(err, SMILE_EINVAL,
                             "a resident ID number is 17 digits and a digit or X");
    if (v[0] == '0')
        return smile_err_set(err, SMILE_EINVAL, "the region code cannot start with 0");
    snprintf(date, sizeof(date), "%.4s-%.2s-%.2s", v + 6, v + 10, v + 12);
    if (time_parse_date(date, 10, &days) != SMILE_OK || memcmp(v + 6, "1900", 4) < 0 ||
        memcmp(v + 6, "2199", 4) > 0)
        return smile_err_set(err, SMILE_EINVAL, "the birth date %s in the ID number is impossible",
                             date);
    if (crm_id_number_check(v) != v[17])
        return smile_err_set(err, SMILE_EINVAL, "the check character of the ID number is wrong");
    memcpy(out, v, 19);
    return SMILE_OK;
}

void
crm_id_number_mask(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v);

    if (n < 8) {
        snprintf(out, cap, "%s", "***********");
        return;
    }
    snprintf(out, cap, "%.3s***********%s", v, v + n - 4);
}

/* List cursors: base64url without padding (RFC 4648 §5). */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
crm_b64url_encode(const char *in, size_t n, char *out, size_t cap)
{
    size_t j = 0;

    for (size_t i = 0; i < n && j + 5 < cap; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[j++] = b64[(v >> 18) & 63];
        out[j++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[j++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[j++] = b64[v & 63];
    }
    out[j] = '\0';
}

bool
crm_b64url_decode(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s), j = 0;
    unsigned acc = 0;
    int bits = 0;

    if (n == 0 || n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(b64, s[i]);

        if (p == NULL)
            return false;
        acc = ((acc << 6) | (unsigned)(p - b64)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (j + 1 >= cap)
                return false;
            out[j++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[j] = '\0';
    return strlen(out) == j;
}

void
crm_cursor_encode(int64_t id, char *out, size_t cap)
{
    char dec[24];
    int n = snprintf(dec, sizeof(dec), "%" PRId64, id);

    crm_b64url_encode(dec, (size_t)n, out, cap);
}

bool
crm_cursor_decode(const char *s, int64_t *out)
{
    char dec[24], back[40];

    if (!crm_b64url_decode(s, dec, sizeof(dec)) || dec[0] == '0' ||
        str_to_int64(str_from(dec), out) != SMILE_OK || *out <= 0)
        return false;
    /* Canonical form only, so one id has one cursor. */
    crm_cursor_encode(*out, back, sizeof(back));
    return strcmp(back, s) == 0;
}

size_t
crm_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}
