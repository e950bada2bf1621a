/*
 * parse.c — turns the raw bytes of a customer's e-mail into the fields Smile keeps
 * (struct mail_parsed): ids for threading, sender, recipients, decoded subject, a UTF-8
 * text body, the list of attachments. GMime does the MIME work; the charset conversion
 * is ours, because mail from China often says gb2312 and means GBK (or says nothing at
 * all), and every string that leaves here must be valid UTF-8 for JSON and the CRM.
 * Pure: no I/O, no clock, no globals beyond GMime's one-time initialisation.
 */
#include <errno.h>
#include <gmime/gmime.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mail.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init_once(void)
{
    g_mime_init();
}

void
mail_init(void)
{
    pthread_once(&once, init_once);
}

/* UTF-8 ------------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static bool
utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);

        if (k == 0 || (k == 1 && p[i] == 0))
            return false;
        i += k;
    }
    return true;
}

/* Appends s (n bytes) with invalid sequences and NULs replaced by U+FFFD; returns replacements. */
static size_t
utf8_clean(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t bad = 0;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);

        if (k == 0 || (k == 1 && p[i] == 0)) {
            buf_puts(out, "\xef\xbf\xbd");
            bad++;
            i++;
        } else {
            buf_append(out, p + i, k);
            i += k;
        }
    }
    return bad;
}

/* The iconv name for a declared charset; GB2312 and GBK mail is read as GB18030. */
static const char *
charset_name(const char *cs)
{
    static const char *const gb[] = {"gb2312",     "gbk",      "x-gbk",       "cp936",
                                     "ms936",      "euc-cn",   "windows-936", "csgb2312",
                                     "gb_2312-80", "x-euc-cn", "gb18030",     "chinese"};

    for (size_t i = 0; i < ARRAY_LEN(gb); i++)
        if (strcasecmp(cs, gb[i]) == 0)
            return "GB18030";
    if (strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
        strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "unicode-1-1-utf-8") == 0)
        return "UTF-8";
    return cs;
}

/* Converts with iconv, replacing bytes that do not convert; -1 if the charset is unknown. */
static long
convert(const char *cs, const char *in, size_t len, struct buf *out)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    char tmp[4096];
    char *ip = (char *)in;
    size_t il = len;
    long bad = 0;

    if (cd == (iconv_t)-1)
        return -1;
    while (il > 0) {
        char *op = tmp;
        size_t ol = sizeof(tmp);
        size_t r = iconv(cd, &ip, &il, &op, &ol);

        buf_append(out, tmp, (size_t)(op - tmp));
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            /* EILSEQ or EINVAL (truncated at the end): one byte becomes U+FFFD. */
            buf_puts(out, "\xef\xbf\xbd");
            bad++;
            ip++;
            il--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    {
        char *op = tmp;
        size_t ol = sizeof(tmp);

        iconv(cd, NULL, NULL, &op, &ol);
        buf_append(out, tmp, (size_t)(op - tmp));
    }
    iconv_close(cd);
    return bad;
}

size_t
mail_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
    size_t start = out->len;
    long bad;

    if (charset && charset[0]) {
        const char *cs = charset_name(charset);

        if (strcmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf-8") == 0)
            return utf8_clean(in, len, out);
        bad = convert(cs, in, len, out);
        if (bad >= 0) {
            /* iconv may pass NULs through; the result must be clean for JSON. */
            if (!utf8_valid(out->data + start, out->len - start)) {
                char *copy = xstrndup(out->data + start, out->len - start);
                size_t n = out->len - start;

                out->len = start;
                out->data[start] = '\0';
                bad += (long)utf8_clean(copy, n, out);
                free(copy);
            }
            return (size_t)bad;
        }
    }
    /* Undeclared or unknown: UTF-8 if it is, else GB18030 (the Chinese superset). */
    if (utf8_valid(in, len)) {
        buf_append(out, in, len);
        return 0;
    }
    bad = convert("GB18030", in, len, out);
    if (bad == 0)
        return 0;
    out->len = start;
    out->data[start] = '\0';
    return utf8_clean(in, len, out);
}

/* Keeps at most max code points of a valid UTF-8 string (in place); true if cut. */
static bool
utf8_cut(char *s, size_t max)
{
    size_t n = 0;
    unsigned char *p = (unsigned char *)s;

    for (; *p; p++) {
        if ((*p & 0xc0) != 0x80) {
            if (n == max) {
                *p = '\0';
                return true;
            }
            n++;
        }
    }
    return false;
}

/* A one-line copy: control characters become spaces, runs of spaces one, trimmed. */
static char *
one_line(const char *s, size_t max)
{
    struct buf b;
    bool space = true;

    buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        unsigned char ch = *p < 0x20 || *p == 0x7f ? ' ' : *p;

        if (ch == ' ') {
            if (!space)
                buf_putc(&b, ' ');
            space = true;
        } else {
            buf_putc(&b, (char)ch);
            space = false;
        }
    }
    while (b.len > 0 && b.data[b.len - 1] == ' ')
        b.data[--b.len] = '\0';
    if (b.data == NULL)
        buf_puts(&b, "");
    {
        char *out = buf_steal(&b);
        struct buf c;

        buf_init(&c, 0);
        utf8_clean(out, strlen(out), &c);
        free(out);
        out = c.data ? buf_steal(&c) : xstrdup("");
        utf8_cut(out, max);
        return out;
    }
}

/* Text for the CRM: CRLF and CR → LF, other control characters except TAB → space. */
static void
tidy_text(struct buf *b)
{
    size_t w = 0;

    for (size_t r = 0; r < b->len; r++) {
        char ch = b->data[r];

        if (ch == '\r') {
            if (r + 1 < b->len && b->data[r + 1] == '\n')
                continue;
            ch = '\n';
        } else if (((unsigned char)ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
            ch = ' ';
        }
        b->data[w++] = ch;
    }
    while (w > 0 && (b->data[w - 1] == '\n' || b->data[w - 1] == ' ' || b->data[w - 1] == '\t'))
        w--; /* trailing blank lines and spaces */
    b->len = w;
    if (b->data)
        b->data[w] = '\0';
}

/* A crude HTML → text: drops tags, script and style, decodes a few entities. */
static void
html_to_text(const char *h, struct buf *out)
{
    static const struct {
        const char *ent, *txt;
    } ents[] = {{"&nbsp;", " "},  {"&amp;", "&"}, {"&lt;", "<"},  {"&gt;", ">"},
                {"&quot;", "\""}, {"&#39;", "'"}, {"&apos;", "'"}};

    for (const char *p = h; *p;) {
        if (*p == '<') {
            bool block = strncasecmp(p, "<br", 3) == 0 || strncasecmp(p, "<p", 2) == 0 ||
                         strncasecmp(p, "</p", 3) == 0 || strncasecmp(p, "<div", 4) == 0 ||
                         strncasecmp(p, "<tr", 3) == 0 || strncasecmp(p, "<li", 3) == 0;
            const char *skip_to = NULL;

            if (strncasecmp(p, "<script", 7) == 0)
                skip_to = "</script";
            else if (strncasecmp(p, "<style", 6) == 0)
                skip_to = "</style";
            if (skip_to) {
                const char *e = strcasestr(p, skip_to);
                p = e ? e : p + strlen(p);
            }
            const char *e = strchr(p, '>');
            if (e == NULL)
                break;
            p = e + 1;
            if (block)
                buf_putc(out, '\n');
            continue;
        }
        if (*p == '&') {
            bool done = false;

            for (size_t i = 0; i < ARRAY_LEN(ents); i++) {
                size_t n = strlen(ents[i].ent);

                if (strncasecmp(p, ents[i].ent, n) == 0) {
                    buf_puts(out, ents[i].txt);
                    p += n;
                    done = true;
                    break;
                }
            }
            if (done)
                continue;
        }
        buf_putc(out, *p++);
    }
}

/* Parsing ------------------------------------------------------------------------------ */

struct walk {
    struct mail_parsed *m;
    struct buf plain, html;
    bool have_plain, have_html;
    int parts;
};

/* The decoded bytes of a leaf part (transfer encoding undone). */
static GByteArray *
part_bytes(GMimePart *part, GMimeStream **keep)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *mem;

    *keep = NULL;
    if (w == NULL)
        return NULL;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(w, mem);
    *keep = mem;
    return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
}

static void
add_attachment(struct walk *w, const char *name, const char *type, int64_t size)
{
    struct mail_parsed *m = w->m;

    m->nattachments++;
    if (json_array_size(m->attachments) >= MAIL_MAX_ATTACHMENTS)
        return;
    {
        char *n = one_line(name ? name : "", 100);
        char *t = one_line(type, 100);

        json_array_append_new(m->attachments, json_pack("{s:s, s:s, s:I}", "name", n, "type", t,
                                                        "size", (json_int_t)size));
        free(n);
        free(t);
    }
}

static void
walk_object(struct walk *w, GMimeObject *obj, int depth)
{
    if (obj == NULL || depth > 20 || ++w->parts > 500)
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);

        for (int i = 0; i < n; i++)
            walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        const char *fn = g_mime_object_get_content_disposition_parameter(obj, "filename");
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        const char *subj = inner ? g_mime_message_get_subject(inner) : NULL;
        char name[160];

        snprintf(name, sizeof(name), "%s", fn ? fn : subj ? subj : "message.eml");
        if (!fn && subj)
            snprintf(name, sizeof(name), "%.150s.eml", subj);
        add_attachment(w, name, "message/rfc822", -1);
        return;
    }
    if (GMIME_IS_PART(obj)) {
        GMimePart *part = GMIME_PART(obj);
        GMimeContentType *ct = g_mime_object_get_content_type(obj);
        GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
        const char *fn = g_mime_part_get_filename(part);
        bool attach = (cd && g_mime_content_disposition_is_attachment(cd)) || fn != NULL;
        bool plain = ct && g_mime_content_type_is_type(ct, "text", "plain");
        bool html = ct && g_mime_content_type_is_type(ct, "text", "html");
        GMimeStream *keep = NULL;
        GByteArray *ba;

        if (attach || (!plain && !html)) {
            char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;

            ba = part_bytes(part, &keep);
            add_attachment(w, fn ? fn : "", mime ? mime : "application/octet-stream",
                           ba ? (int64_t)ba->len : 0);
            g_free(mime);
            if (keep)
                g_object_unref(keep);
            return;
        }
        if ((plain && w->have_plain) || (html && (w->have_html || w->have_plain)))
            return;
        ba = part_bytes(part, &keep);
        if (ba) {
            const char *cs = g_mime_content_type_get_parameter(ct, "charset");
            struct buf *dst = plain ? &w->plain : &w->html;

            mail_to_utf8(cs, (const char *)ba->data, ba->len, dst);
            if (dst->data == NULL)
                buf_puts(dst, "");
            if (plain)
                w->have_plain = true;
            else
                w->have_html = true;
        }
        if (keep)
            g_object_unref(keep);
    }
}

/* An address list header as JSON addresses (appended to arr, at most 20 in all). */
static void
addresses(InternetAddressList *list, json_t *arr)
{
    int n = list ? internet_address_list_length(list) : 0;

    for (int i = 0; i < n && json_array_size(arr) < 20; i++) {
        InternetAddress *a = internet_address_list_get_address(list, i);

        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            char *v = one_line(addr, 254);

            if (v[0])
                json_array_append_new(arr, json_string(v));
            free(v);
        } else if (INTERNET_ADDRESS_IS_GROUP(a)) {
            addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), arr);
        }
    }
}

/* The first mailbox of a list: address (domain lower-cased) and name. */
static void
first_mailbox(InternetAddressList *list, char **addr, char **name)
{
    int n = list ? internet_address_list_length(list) : 0;

    for (int i = 0; i < n; i++) {
        InternetAddress *a = internet_address_list_get_address(list, i);

        if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char *v = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            char *at;

            *addr = one_line(v, 254);
            at = strrchr(*addr, '@');
            for (char *p = at; p && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            if (name)
                *name = one_line(internet_address_get_name(a), 100);
            return;
        }
    }
}

/* A message id as kept: without brackets, one line, hashed if too long. */
static char *
msgid_keep(const char *id)
{
    char *v = one_line(id ? id : "", 100000);
    size_t n = strlen(v);

    /* No spaces in an id: what GMime leaves of a broken one is cut at the first. */
    for (size_t i = 0; i < n; i++)
        if (v[i] == ' ') {
            v[i] = '\0';
            n = i;
            break;
        }
    if (n > MAIL_MAX_MSGID) {
        uint64_t h = 1469598103934665603ULL;
        char out[40];

        for (size_t i = 0; i < n; i++) {
            h ^= (unsigned char)v[i];
            h *= 1099511628211ULL;
        }
        snprintf(out, sizeof(out), "h%016llx@long.invalid", (unsigned long long)h);
        free(v);
        return xstrdup(out);
    }
    return v;
}

/* Sets m->auto_kind for machine-made mail (see struct mail_parsed). */
static void
auto_detect(GMimeMessage *msg, struct mail_parsed *m)
{
    GMimeObject *o = GMIME_OBJECT(msg);
    const char *h = g_mime_object_get_header(o, "Auto-Submitted");
    GMimeContentType *ct = g_mime_object_get_content_type(
        g_mime_message_get_mime_part(msg) ? g_mime_message_get_mime_part(msg) : o);
    InternetAddressList *from = g_mime_message_get_from(msg);
    const char *kind = "";

    while (h && (*h == ' ' || *h == '\t'))
        h++;
    if (h && strncasecmp(h, "no", 2) != 0)
        kind = "auto-submitted";
    else if (g_mime_object_get_header(o, "X-Autoreply") ||
             g_mime_object_get_header(o, "X-Autorespond"))
        kind = "auto-replied";
    else if ((h = g_mime_object_get_header(o, "Precedence")) != NULL &&
             (strcasestr(h, "bulk") || strcasestr(h, "junk") || strcasestr(h, "list")))
        kind = "bulk";
    else if (ct && g_mime_content_type_is_type(ct, "multipart", "report"))
        kind = "bounce";
    if (!kind[0] && from && internet_address_list_length(from) > 0) {
        InternetAddress *a = internet_address_list_get_address(from, 0);
        const char *addr = INTERNET_ADDRESS_IS_MAILBOX(a)
                               ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))
                               : NULL;

        if (addr && (strncasecmp(addr, "mailer-daemon@", 14) == 0 ||
                     strncasecmp(addr, "postmaster@", 11) == 0))
            kind = "bounce";
    }
    snprintf(m->auto_kind, sizeof(m->auto_kind), "%s", kind);
}

int
mail_parse(const char *data, size_t len, struct mail_parsed *out, struct smile_err *err)
{
    GMimeStream *stream;
    GMimeParser *parser;
    GMimeParserOptions *opts;
    GMimeMessage *msg;
    struct walk w;
    const char *h;
    static const char *fallback[] = {"UTF-8", "GB18030", NULL};

    mail_init();
    memset(out, 0, sizeof(*out));
    out->to = json_array();
    out->attachments = json_array();
    out->size = len;
    stream = g_mime_stream_mem_new_with_buffer(data, len);
    parser = g_mime_parser_new_with_stream(stream);
    opts = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(opts, fallback);
    g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(parser, opts);
    g_object_unref(parser);
    g_object_unref(stream);
    if (msg == NULL) {
        g_mime_parser_options_free(opts);
        out->message_id = xstrdup("");
        out->in_reply_to = xstrdup("");
        out->from_addr = xstrdup("");
        out->from_name = xstrdup("");
        out->reply_to = xstrdup("");
        out->subject = xstrdup("");
        out->text = xstrdup("");
        return smile_err_set(err, SMILE_EINVAL, "not an e-mail message (no header found)");
    }
    out->message_id = msgid_keep(g_mime_message_get_message_id(msg));
    h = g_mime_object_get_header(GMIME_OBJECT(msg), "In-Reply-To");
    if (h) {
        GMimeReferences *r = g_mime_references_parse(opts, h);

        if (r && g_mime_references_length(r) > 0)
            out->in_reply_to = msgid_keep(g_mime_references_get_message_id(r, 0));
        if (r)
            g_mime_references_free(r);
    }
    auto_detect(msg, out);
    h = g_mime_object_get_header(GMIME_OBJECT(msg), "References");
    if (h) {
        GMimeReferences *r = g_mime_references_parse(opts, h);
        int n = r ? g_mime_references_length(r) : 0;
        int from = n > MAIL_MAX_REFS ? n - MAIL_MAX_REFS : 0;

        for (int i = from; i < n; i++)
            out->refs[out->nrefs++] = msgid_keep(g_mime_references_get_message_id(r, i));
        if (r)
            g_mime_references_free(r);
    }
    first_mailbox(g_mime_message_get_from(msg), &out->from_addr, &out->from_name);
    first_mailbox(g_mime_message_get_reply_to(msg), &out->reply_to, NULL);
    addresses(g_mime_message_get_to(msg), out->to);
    addresses(g_mime_message_get_cc(msg), out->to);
    out->subject = one_line(g_mime_message_get_subject(msg), MAIL_MAX_SUBJECT);
    {
        GDateTime *d = g_mime_message_get_date(msg);

        if (d) {
            int64_t s = g_date_time_to_unix(d);

            if (s > 0 && s < INT64_C(4133980800))
                out->date_ms = s * 1000;
        }
    }
    memset(&w, 0, sizeof(w));
    w.m = out;
    buf_init(&w.plain, 0);
    buf_init(&w.html, 0);
    walk_object(&w, g_mime_message_get_mime_part(msg), 0);
    if (w.have_plain) {
        tidy_text(&w.plain);
        out->text = w.plain.data ? buf_steal(&w.plain) : xstrdup("");
    } else if (w.have_html) {
        struct buf t;

        buf_init(&t, 0);
        html_to_text(w.html.data ? w.html.data : "", &t);
        tidy_text(&t);
        out->text = t.data ? buf_steal(&t) : xstrdup("");
        out->text_from_html = true;
    } else {
        out->text = xstrdup("");
    }
    buf_free(&w.plain);
    buf_free(&w.html);
    out->text_truncated = utf8_cut(out->text, MAIL_MAX_TEXT);
    if (!out->message_id)
        out->message_id = xstrdup("");
    if (!out->in_reply_to)
        out->in_reply_to = xstrdup("");
    if (!out->from_addr)
        out->from_addr = xstrdup("");
    if (!out->from_name)
        out->from_name = xstrdup("");
    if (!out->reply_to)
        out->reply_to = xstrdup("");
    g_object_unref(msg);
    g_mime_parser_options_free(opts);
    return SMILE_OK;
}

void
mail_parsed_free(struct mail_parsed *m)
{
    if (m == NULL)
        return;
    free(m->message_id);
    free(m->in_reply_to);
    for (int i = 0; i < m->nrefs; i++)
        free(m->refs[i]);
    free(m->from_addr);
    free(m->from_name);
    free(m->reply_to);
    json_decref(m->to);
    free(m->subject);
    free(m->text);
    json_decref(m->attachments);
    memset(m, 0, sizeof(*m));
}

/* Subjects and threads ------------------------------------------------------------------- */

int64_t
mail_subject_tag(const char *subject, const char *prefix)
{
    size_t pn = prefix ? strlen(prefix) : 0;

    if (subject == NULL || pn == 0)
        return 0;
    for (const char *p = subject; (p = strstr(p, prefix)) != NULL; p++) {
        const char *d = p + pn;
        int64_t v = 0;
        int k = 0;

        while (*d >= '0' && *d <= '9' && k < 16) {
            v = v * 10 + (*d - '0');
            d++;
            k++;
        }
        if (k > 0 && *d == ']' && v > 0 && v < (INT64_C(1) << 53))
            return v;
    }
    return 0;
}

/* Length of a reply/forward prefix at p ("Re:", "RE[2]:", "回复：" …), 0 if none. */
static size_t
reply_prefix(const char *p)
{
    static const char *const words[] = {"re",
                                        "fw",
                                        "fwd",
                                        "aw",
                                        "sv",
                                        "\xe5\x9b\x9e\xe5\xa4\x8d",
                                        "\xe7\xad\x94\xe5\xa4\x8d",
                                        "\xe8\xbd\xac\xe5\x8f\x91"};

    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);
        const char *q = p + n;

        if (strncasecmp(p, words[i], n) != 0)
            continue;
        if (*q == '[') { /* RE[2]: */
            const char *e = q + 1;

            while (*e >= '0' && *e <= '9')
                e++;
            if (*e != ']' || e == q + 1)
                continue;
            q = e + 1;
        }
        while (*q == ' ')
            q++;
        if (*q == ':')
            return (size_t)(q + 1 - p);
        if (strncmp(q, "\xef\xbc\x9a", 3) == 0) /* full-width colon */
            return (size_t)(q + 3 - p);
    }
    return 0;
}

void
mail_subject_base(const char *subject, char *out, size_t cap)
{
    const char *p = subject ? subject : "";
    size_t n, k;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if ((k = reply_prefix(p)) == 0)
            break;
        p += k;
    }
    n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (cap == 0)
        return;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
            n--; /* never cut a character in two */
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

void
mail_thread_subject(const char *root, char *out, size_t cap)
{
    size_t chars = 0;

    for (const unsigned char *p = (const unsigned char *)root; *p; p++)
        if ((*p & 0xc0) != 0x80)
            chars++;
    if (chars > 0 && chars + 7 <= 200) {
        snprintf(out, cap, "thread:%s", root);
    } else {
        uint64_t h = 1469598103934665603ULL;

        for (const unsigned char *p = (const unsigned char *)root; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        snprintf(out, cap, "thread:h%016llx", (unsigned long long)h);
    }
}

json_t *
mail_event_data(const struct mail_parsed *m)
{
    json_t *d = json_object();
    json_t *to = json_array(), *att = json_array();
    size_t i;

    /* Bounded: 20 × 254 + 50 × ~250 + the fixed fields stays under 16 KiB only if the
     * lists are cut further; keep 10 recipients and 20 attachments. */
    for (i = 0; i < json_array_size(m->to) && i < 10; i++)
        json_array_append(to, json_array_get(m->to, i));
    for (i = 0; i < json_array_size(m->attachments) && i < 20; i++)
        json_array_append(att, json_array_get(m->attachments, i));
    json_object_set_new(d, "from", json_string(m->from_addr));
    json_object_set_new(d, "from_name", json_string(m->from_name));
    json_object_set_new(d, "to", to);
    json_object_set_new(d, "subject", json_string(m->subject));
    json_object_set_new(d, "message_id", json_string(m->message_id));
    if (m->in_reply_to[0])
        json_object_set_new(d, "in_reply_to", json_string(m->in_reply_to));
    json_object_set_new(d, "attachments", att);
    json_object_set_new(d, "attachment_count", json_integer(m->nattachments));
    json_object_set_new(d, "size", json_integer((json_int_t)m->size));
    if (m->auto_kind[0])
        json_object_set_new(d, "auto", json_string(m->auto_kind));
    return d;
}
