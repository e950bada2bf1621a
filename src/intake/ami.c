/*
 * ami.c — the Asterisk Manager Interface wire parser (pure: bytes in, packets out). The
 * server sends one banner line "Asterisk Call Manager/<version>\r\n", then packets of
 * "Key: Value\r\n" lines, each packet ended by an empty line. Bytes arrive in arbitrary
 * pieces from the socket (ami_client.c); the parser keeps what is incomplete and hands out
 * whole packets, whose headers pbx_map_ami() turns into events. Bare "\n" line ends are
 * accepted as well as "\r\n"; a packet longer than AMI_MAX_PACKET is skipped whole.
 */
#include <string.h>
#include <strings.h>

#include "intake/intake.h"

void
ami_parser_init(struct ami_parser *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->in, 0);
}

void
ami_parser_free(struct ami_parser *p)
{
    buf_free(&p->in);
    memset(p, 0, sizeof(*p));
}

void
ami_parser_feed(struct ami_parser *p, const char *data, size_t len)
{
    /* Drop consumed bytes first so the buffer holds at most one packet plus the new data. */
    if (p->pos > 0) {
        memmove(p->in.data, p->in.data + p->pos, p->in.len - p->pos);
        p->in.len -= p->pos;
        p->in.data[p->in.len] = '\0';
        p->pos = 0;
    }
    buf_append(&p->in, data, len);
}

/* The next line from *at: its view without the line end; false if no full line yet. */
static bool
line(struct ami_parser *p, size_t *at, struct str *out)
{
    const char *s = p->in.data + *at, *nl;
    size_t n;

    if (*at >= p->in.len)
        return false;
    nl = memchr(s, '\n', p->in.len - *at);
    if (nl == NULL)
        return false;
    n = (size_t)(nl - s);
    *at += n + 1;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    *out = (struct str){s, n};
    return true;
}

int
ami_parser_next(struct ami_parser *p, struct ami_packet *out)
{
    struct str l;
    size_t at;

    if (!p->banner_done) {
        at = p->pos;
        if (!line(p, &at, &l))
            return 0;
        p->pos = at;
        p->banner_done = true;
        if (str_has_prefix(l, "Asterisk Call Manager/")) {
            size_t n = l.len - 22;

            if (n >= sizeof(p->banner))
                n = sizeof(p->banner) - 1;
            memcpy(p->banner, l.p + 22, n);
            p->banner[n] = '\0';
        } else {
            /* Not a banner: treat the line as the start of a packet. */
            p->pos = 0;
        }
    }
    for (;;) {
        size_t start;

        if (p->skipping) {
            /* Discard the rest of an oversized packet, up to its blank line. */
            at = p->pos;
            while (p->skipping && line(p, &at, &l)) {
                p->pos = at;
                if (p->skip_midline)
                    p->skip_midline = false; /* the tail of the line that was cut */
                else if (l.len == 0) {
                    p->skipping = false;
                    p->dropped++;
                }
            }
            if (p->skipping) {
                if (p->pos < p->in.len)
                    p->skip_midline = true;
                p->pos = p->in.len;
                return 0;
            }
        }
        /* Skip blank lines between packets. */
        at = p->pos;
        while (line(p, &at, &l) && l.len == 0)
            p->pos = at;
        start = p->pos;
        at = start;
        out->n = 0;
        out->truncated = false;
        for (;;) {
            if (!line(p, &at, &l)) {
                if (p->in.len - start > AMI_MAX_PACKET) { /* never ends: drop what we have */
                    p->skipping = true;
                    p->skip_midline = p->in.data[p->in.len - 1] != '\n';
                    p->pos = p->in.len;
                }
                return 0;
            }
            if (l.len == 0)
                break;
            if (out->n == AMI_MAX_HEADERS) {
                out->truncated = true;
                continue;
            }
            {
                const char *colon = memchr(l.p, ':', l.len);
                struct str k = l, v = {l.p + l.len, 0};

                if (colon) {
                    k.len = (size_t)(colon - l.p);
                    v.p = colon + 1;
                    v.len = l.len - k.len - 1;
                    while (v.len && (*v.p == ' ' || *v.p == '\t')) {
                        v.p++;
                        v.len--;
                    }
                }
                out->keys[out->n] = k;
                out->values[out->n] = v;
                out->n++;
            }
        }
        p->pos = at;
        if (at - start > AMI_MAX_PACKET + 2) {
            p->dropped++;
            continue;
        }
        if (out->n == 0)
            continue;
        return 1;
    }
}

struct str
ami_packet_get(const struct ami_packet *p, const char *key)
{
    size_t kl = strlen(key);

    for (int i = 0; i < p->n; i++)
        if (p->keys[i].len == kl && strncasecmp(p->keys[i].p, key, kl) == 0)
            return p->values[i];
    return (struct str){NULL, 0};
}

int
ami_timestamp_parse(struct str v, int64_t *out_ms)
{
    int64_t s = 0, ms = 0;
    size_t i = 0;
    int scale = 100;

    if (v.len == 0)
        return SMILE_EINVAL;
    for (; i < v.len && v.p[i] != '.'; i++) {
        if (v.p[i] < '0' || v.p[i] > '9' || i >= 12)
            return SMILE_EINVAL;
        s = s * 10 + (v.p[i] - '0');
    }
    if (i == 0)
        return SMILE_EINVAL;
    if (i < v.len) {
        if (++i == v.len)
            return SMILE_EINVAL;
        for (; i < v.len; i++) {
            if (v.p[i] < '0' || v.p[i] > '9')
                return SMILE_EINVAL;
            ms += (v.p[i] - '0') * scale;
            scale /= 10;
        }
    }
    *out_ms = s * 1000 + ms;
    return SMILE_OK;
}
