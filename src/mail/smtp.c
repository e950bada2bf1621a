/*
 * smtp.c — mail going out: builds a reply as an RFC 5322 message with GMime (threading
 * headers, the case tag, UTF-8 text in the transfer encoding GMime finds best) and hands
 * it to an SMTP server with libcurl, succeeding only when the server accepted it. Also
 * the mail server URL checks shared with the IMAP side. The edge between Smile and the
 * customer's inbox; mail_smtp_send is usable by any part (notifications).
 */
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mail/mail.h"
#include "mail/mail_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
mail_curl_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

/*
 * A UTF-8 folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): printable ASCII as is
 * ('&' as "&-"), other characters as '&' + base64 of their UTF-16BE with ',' for '/' + '-'.
 * "客服" → "&W6JnDQ-". Invalid UTF-8 bytes are taken as U+FFFD.
 */
void
mail_folder_mutf7(const char *utf8, struct buf *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    const unsigned char *p = (const unsigned char *)utf8;

    while (*p) {
        uint32_t bits = 0;
        int nbits = 0;

        if (*p >= 0x20 && *p <= 0x7e) {
            buf_puts(out, *p == '&' ? "&-" : (char[]){(char)*p, 0});
            p++;
            continue;
        }
        buf_putc(out, '&');
        while (*p && !(*p >= 0x20 && *p <= 0x7e)) {
            uint32_t cp = 0xfffd;
            uint16_t units[2];
            int nu, len = 1;

            if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80) {
                cp = ((uint32_t)(*p & 0x1f) << 6) | (p[1] & 0x3f);
                len = 2;
            } else if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
                cp = ((uint32_t)(*p & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
                len = 3;
            } else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80) {
                cp = ((uint32_t)(*p & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
                     ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
                len = 4;
            }
            p += len;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = (uint16_t)(0xd800 + (cp >> 10));
                units[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
                nu = 2;
            } else {
                units[0] = (uint16_t)cp;
                nu = 1;
            }
            for (int i = 0; i < nu; i++) {
                bits = (bits << 16) | units[i];
                nbits += 16;
                while (nbits >= 6) {
                    nbits -= 6;
                    buf_putc(out, b64[(bits >> nbits) & 0x3f]);
                }
            }
        }
        if (nbits > 0)
            buf_putc(out, b64[(bits << (6 - nbits)) & 0x3f]);
        buf_putc(out, '-');
    }
}

int
mail_url_parse(const char *url, const char *kind, struct mail_url *out, struct smile_err *err)
{
    CURLU *h;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *query = NULL,
         *frag = NULL;
    int rc = SMILE_OK;
    bool imap = strcmp(kind, "imap") == 0;

    mail_curl_init();
    memset(out, 0, sizeof(*out));
    h = curl_url();
    if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        rc = smile_err_set(err, SMILE_EINVAL, "not a URL (%s://host:port%s)", kind,
                           imap ? "/INBOX" : "");
        goto out;
    }
    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(h, CURLUPART_HOST, &host, 0);
    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    curl_url_get(h, CURLUPART_PATH, &path, CURLU_URLDECODE);
    curl_url_get(h, CURLUPART_USER, &user, 0);
    curl_url_get(h, CURLUPART_QUERY, &query, 0);
    curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0);
    if (scheme == NULL || (imap ? strcmp(scheme, "imap") != 0 && strcmp(scheme, "imaps") != 0
                                : strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)) {
        rc = smile_err_set(err, SMILE_EINVAL, "must start with %s:// or %ss://", kind, kind);
        goto out;
    }
    if (host == NULL || host[0] == '\0') {
        rc = smile_err_set(err, SMILE_EINVAL, "names no host");
        goto out;
    }
    if (user || query || frag) {
        rc = smile_err_set(err, SMILE_EINVAL,
                           "must not hold a user, password, query or fragment (give username "
                           "and password as fields)");
        goto out;
    }
    if (!imap && path && strcmp(path, "/") != 0 && path[0]) {
        rc = smile_err_set(err, SMILE_EINVAL, "an SMTP URL has no path");
        goto out;
    }
    out->scheme = xstrdup(scheme);
    out->host = xstrdup(host);
    out->port = port ? strtol(port, NULL, 10) : 0;
    out->tls = strcmp(scheme, "imaps") == 0 || strcmp(scheme, "smtps") == 0;
    out->loopback = strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
                    strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
    if (imap) {
        const char *f = path && path[0] == '/' ? path + 1 : path ? path : "";

        if (strchr(f, ';') || strchr(f, '"') || strchr(f, '\\') || strlen(f) > 200) {
            rc =
                smile_err_set(err, SMILE_EINVAL, "the folder name has a ; \" or \\ or is too long");
            mail_url_free(out);
            goto out;
        }
        out->folder = xstrdup(f[0] ? f : "INBOX");
        {
            struct buf w;

            buf_init(&w, 0);
            mail_folder_mutf7(out->folder, &w);
            out->folder_wire = buf_steal(&w);
        }
    }
    {
        char b[600];

        snprintf(b, sizeof(b), "%s://%s%s%s:%ld/", scheme,
                 strchr(host, ':') && host[0] != '[' ? "[" : "", host,
                 strchr(host, ':') && host[0] != '[' ? "]" : "", out->port);
        out->base = xstrdup(b);
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(h);
    return rc;
}

void
mail_url_free(struct mail_url *u)
{
    if (u == NULL)
        return;
    free(u->scheme);
    free(u->host);
    free(u->folder);
    free(u->folder_wire);
    free(u->base);
    memset(u, 0, sizeof(*u));
}

/* Sending ----------------------------------------------------------------------------------- */

struct upload {
    const char *p;
    size_t left;
};

static size_t
read_cb(char *dst, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;

    memcpy(dst, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

int
mail_smtp_send(const struct mail_smtp *smtp, const char *from, const char *const *rcpt,
               size_t nrcpt, const char *msg, size_t len, struct smile_err *err)
{
    struct mail_url u;
    struct curl_slist *list = NULL;
    struct upload up = {msg, len};
    char errbuf[CURL_ERROR_SIZE] = "", fromb[300];
    CURL *h;
    CURLcode cc;
    long code = 0;
    int rc;

    if (nrcpt == 0)
        return smile_err_set(err, SMILE_EINVAL, "no recipient");
    if ((rc = mail_url_parse(smtp->url, "smtp", &u, err)) != SMILE_OK)
        return rc;
    h = curl_easy_init();
    if (h == NULL) {
        mail_url_free(&u);
        return smile_err_set(err, SMILE_EIO, "curl_easy_init failed");
    }
    snprintf(fromb, sizeof(fromb), "<%s>", from);
    for (size_t i = 0; i < nrcpt; i++) {
        char r[300];

        snprintf(r, sizeof(r), "<%s>", rcpt[i]);
        list = curl_slist_append(list, r);
    }
    curl_easy_setopt(h, CURLOPT_URL, u.base);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, smtp->timeout_ms > 0 ? smtp->timeout_ms : 30000L);
    /* Never a password in clear over the network: STARTTLS unless on this machine. */
    if (!u.tls)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         u.loopback ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    if (smtp->username && smtp->username[0]) {
        curl_easy_setopt(h, CURLOPT_USERNAME, smtp->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, smtp->password ? smtp->password : "");
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, fromb);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK)
        rc = smile_err_set(err, SMILE_EIO, "the SMTP server %s did not accept the message: %s%s%s",
                           u.base, curl_easy_strerror(cc), errbuf[0] ? " — " : "", errbuf);
    else if (code != 0 && code != 250)
        rc = smile_err_set(err, SMILE_EIO, "the SMTP server %s answered %ld", u.base, code);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    mail_url_free(&u);
    return rc;
}

/* Composing ------------------------------------------------------------------------------- */

void
mail_message_id_new(int64_t case_id, const char *from_address, char *out, size_t cap)
{
    unsigned char r[8];
    const char *at = from_address ? strrchr(from_address, '@') : NULL;
    char hex[17];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        int64_t t = time_mono_ns();

        memcpy(r, &t, sizeof(r));
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    snprintf(out, cap, "smile.%lld.%s@%s", (long long)case_id, hex,
             at && at[1] ? at + 1 : "smile.invalid");
}

static void
add_list(GMimeMessage *msg, GMimeAddressType type, const char *const *v, size_t n)
{
    InternetAddressList *l = g_mime_message_get_addresses(msg, type);

    for (size_t i = 0; i < n; i++)
        internet_address_list_add(l, internet_address_mailbox_new(NULL, v[i]));
}

void
mail_compose_build(const struct mail_compose *m, struct buf *out)
{
    GMimeMessage *msg;
    GMimeTextPart *part;
    GDateTime *date;
    GMimeFormatOptions *fo;
    char *text, *s;
    struct buf refs;
    InternetAddressMailbox *from;

    mail_init();
    msg = g_mime_message_new(TRUE);
    from = (InternetAddressMailbox *)internet_address_mailbox_new(
        m->from_name && m->from_name[0] ? m->from_name : NULL, m->from_address);
    internet_address_list_add(g_mime_message_get_from(msg), (InternetAddress *)from);
    g_object_unref(from);
    add_list(msg, GMIME_ADDRESS_TYPE_TO, m->to, m->nto);
    add_list(msg, GMIME_ADDRESS_TYPE_CC, m->cc, m->ncc);
    g_mime_message_set_subject(msg, m->subject, "utf-8");
    date = g_date_time_new_from_unix_utc(m->date_ms / 1000);
    g_mime_message_set_date(msg, date);
    g_date_time_unref(date);
    g_mime_message_set_message_id(msg, m->message_id);
    if (m->in_reply_to && m->in_reply_to[0]) {
        char b[300];

        snprintf(b, sizeof(b), "<%s>", m->in_reply_to);
        g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", b, NULL);
    }
    buf_init(&refs, 0);
    for (size_t i = 0; i < m->nrefs; i++)
        buf_printf(&refs, "%s<%s>", i ? " " : "", m->refs[i]);
    if (refs.len)
        g_mime_object_set_header(GMIME_OBJECT(msg), "References", refs.data, NULL);
    buf_free(&refs);
    g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
                             m->auto_submitted ? m->auto_submitted : "no", NULL);
    part = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(part, m->body ? m->body : ""); /* charset utf-8, best encoding */
    g_mime_message_set_mime_part(msg, GMIME_OBJECT(part));
    g_object_unref(part);
    /* Quoted-printable or base64 as GMime finds best for a 7-bit transport. */
    g_mime_object_encode(GMIME_OBJECT(msg), GMIME_ENCODING_CONSTRAINT_7BIT);
    fo = g_mime_format_options_clone(g_mime_format_options_get_default());
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    text = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
    s = text;
    buf_puts(out, s ? s : "");
    g_free(text);
    g_mime_format_options_free(fo);
    g_object_unref(msg);
}
