/*
 * idle.c — push for mailboxes whose server advertises IDLE (RFC 2177): one thread per
 * active mailbox keeps a dedicated IMAP connection waiting in IDLE on the folder, and
 * when the server announces a new message (`* n EXISTS`) it asks the poller to poll that
 * mailbox now, so a customer's mail is imported about a second after it arrives instead
 * of at the next poll. Fetching stays with the poller (imap.c) on its own connection: the
 * watcher never leaves IDLE to fetch. libcurl has no IDLE: the connection is made with
 * CURLOPT_CONNECT_ONLY (curl does the greeting, STARTTLS or TLS and LOGIN) and driven with
 * curl_easy_send / curl_easy_recv. Without IDLE in the server's CAPABILITY the watcher
 * ends and the mailbox is polled as before (polling also goes on beside IDLE, as a net).
 *
 * A watcher's session, as a state table:
 *
 *   | state      | sends                 | waits for                     | then             |
 *   |------------|-----------------------|-------------------------------|------------------|
 *   | connect    | (curl: LOGIN)         | perform done                  | capability       |
 *   | capability | Wn CAPABILITY         | Wn OK; IDLE in the list?      | examine / end    |
 *   | examine    | Wn EXAMINE "folder"   | Wn OK                         | idle             |
 *   | idle       | Wn IDLE               | "+" continuation              | waiting          |
 *   | waiting    | —                     | * n EXISTS → kick the poller; | waiting / renew  |
 *   |            |                       | mail_idle_renew passed → renew|                  |
 *   | renew      | DONE                  | Wn OK                         | idle             |
 *   | stop       | DONE, Wn LOGOUT       | Wn OK (1 s at most each)      | closed           |
 *
 * A failure (connection lost, BYE, a refused command) closes the connection; the watcher
 * reconnects after 1 s, doubling to 5 min while it keeps failing.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/secret.h"
#include "mail/mail.h"
#include "mail/mail_int.h"

#define IDLE_REPLY_MS 30000 /* a command's answer */
#define IDLE_STOP_MS 1000   /* DONE and LOGOUT answers when stopping */
#define IDLE_LINE_MAX 65536
#define IDLE_BACKOFF_MAX_MS (5 * 60 * 1000)

/* RFC 2177: re-issue IDLE at least every 29 minutes; 28 by default (mail_idle_renew). */
static int64_t renew_ms = 28 * 60 * 1000;

void
mail_idle_set_renew(int64_t seconds)
{
    __atomic_store_n(&renew_ms, seconds * 1000, __ATOMIC_RELAXED);
}

/* Pure helpers ------------------------------------------------------------------------------ */

bool
mail_imap_has_capability(const char *text, const char *cap)
{
    size_t n = strlen(cap);

    for (const char *p = text; (p = strcasestr(p, cap)) != NULL; p += n) {
        char before = p == text ? ' ' : p[-1], after = p[n];

        if ((before == ' ' || before == '[') &&
            (after == ' ' || after == ']' || after == '\r' || after == '\n' || after == '\0'))
            return true;
    }
    return false;
}

enum mail_idle_line
mail_imap_idle_line(const char *line)
{
    const char *p;
    char *end;

    if (line[0] == '+')
        return MAIL_IDLE_CONTINUE;
    if (strncmp(line, "* ", 2) != 0)
        return MAIL_IDLE_OTHER;
    p = line + 2;
    if (strncasecmp(p, "BYE", 3) == 0 && (p[3] == ' ' || p[3] == '\0'))
        return MAIL_IDLE_BYE;
    if (*p < '0' || *p > '9')
        return MAIL_IDLE_OTHER;
    (void)strtoll(p, &end, 10);
    if (*end == ' ' && strncasecmp(end + 1, "EXISTS", 6) == 0 && (end[7] == '\0' || end[7] == ' '))
        return MAIL_IDLE_EXISTS;
    return MAIL_IDLE_OTHER;
}

/* The connection --------------------------------------------------------------------------- */

struct mail_idle {
    pthread_t thread;
    int wake[2]; /* a byte written to wake[1] stops the watcher */
    int64_t id, version;
    char *imap_url, *username, *password;
    mail_idle_kick_fn *kick;
    void *ud;
    int state; /* enum mail_idle_state, read by other threads */
};

struct conn {
    CURL *h;
    curl_socket_t fd;
    struct buf in; /* bytes received, not yet taken as lines */
    unsigned tag;
    char tagbuf[16];
};

enum { R_LINE, R_TIMEOUT, R_WOKEN, R_ERROR };

static void
state_set(struct mail_idle *w, enum mail_idle_state s)
{
    int old = __atomic_exchange_n(&w->state, (int)s, __ATOMIC_RELAXED);

    if (old != (int)s)
        log_info("msg=\"mailbox push\" mailbox=%" PRId64 " state=%s", w->id,
                 s == MAIL_IDLE_ACTIVE        ? "idle"
                 : s == MAIL_IDLE_UNSUPPORTED ? "unsupported (polling)"
                 : s == MAIL_IDLE_FAILED      ? "failed (polling, reconnecting)"
                                              : "connecting");
}

enum mail_idle_state
mail_idle_state(const struct mail_idle *w)
{
    return w ? (enum mail_idle_state)__atomic_load_n(&w->state, __ATOMIC_RELAXED) : MAIL_IDLE_OFF;
}

int64_t
mail_idle_version(const struct mail_idle *w)
{
    return w->version;
}

static bool
woken(struct mail_idle *w)
{
    struct pollfd p = {.fd = w->wake[0], .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

/* Sends all of s; false on failure (or when woken while the socket will not take it). */
static bool
conn_send(struct conn *c, const char *s)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        size_t n = 0;
        CURLcode cc = curl_easy_send(c->h, s + off, len - off, &n);

        if (cc == CURLE_AGAIN) {
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};

            if (poll(&p, 1, IDLE_REPLY_MS) <= 0)
                return false;
            continue;
        }
        if (cc != CURLE_OK)
            return false;
        off += n;
    }
    return true;
}

/* Sends "<tag> cmd\r\n" with a new tag (kept in c->tagbuf). */
static bool
conn_command(struct conn *c, const char *cmd)
{
    char line[1200];

    snprintf(c->tagbuf, sizeof(c->tagbuf), "W%u", ++c->tag);
    snprintf(line, sizeof(line), "%s %s\r\n", c->tagbuf, cmd);
    return conn_send(c, line);
}

/*
 * The next line (without CRLF) into line (cap bytes), waiting at most timeout_ms and
 * returning R_WOKEN as soon as the watcher is told to stop (unless wake is -1).
 */
static int
conn_line(struct conn *c, int wake, int timeout_ms, char *line, size_t cap)
{
    int64_t until = time_mono_ns() / 1000000 + timeout_ms;

    for (;;) {
        char *eol = c->in.data ? memchr(c->in.data, '\n', c->in.len) : NULL;
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wake, .events = POLLIN}};
        int64_t left;
        int r;

        if (eol) {
            size_t n = (size_t)(eol - c->in.data), rest;

            if (n > 0 && c->in.data[n - 1] == '\r')
                n--;
            snprintf(line, cap, "%.*s", (int)n, c->in.data);
            rest = c->in.len - (size_t)(eol + 1 - c->in.data);
            memmove(c->in.data, eol + 1, rest);
            c->in.len = rest;
            c->in.data[rest] = '\0';
            return R_LINE;
        }
        if (c->in.len > IDLE_LINE_MAX)
            return R_ERROR;
        /* Whatever curl holds already decrypted first: poll() cannot see it. */
        for (;;) {
            char b[4096];
            size_t n = 0;
            CURLcode cc = curl_easy_recv(c->h, b, sizeof(b), &n);

            if (cc == CURLE_AGAIN)
                break;
            if (cc != CURLE_OK || n == 0)
                return R_ERROR; /* closed by the server, or broken */
            buf_append(&c->in, b, n);
            if (memchr(b, '\n', n))
                break;
        }
        if (c->in.data && memchr(c->in.data, '\n', c->in.len))
            continue;
        left = until - time_mono_ns() / 1000000;
        if (left <= 0)
            return R_TIMEOUT;
        r = poll(p, wake >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR)
            return R_ERROR;
        if (wake >= 0 && r > 0 && (p[1].revents & POLLIN))
            return R_WOKEN;
    }
}

/*
 * Reads up to the tagged answer of the last command: R_LINE with *ok when it came (OK
 * or not), R_TIMEOUT, R_WOKEN, R_ERROR. Untagged lines go to text (may be NULL);
 * "* BYE" is R_ERROR.
 */
static int
conn_tagged(struct conn *c, int wake, int timeout_ms, bool *ok, struct buf *text)
{
    char line[IDLE_LINE_MAX];
    size_t tl = strlen(c->tagbuf);

    for (;;) {
        int r = conn_line(c, wake, timeout_ms, line, sizeof(line));

        if (r != R_LINE)
            return r;
        if (strncmp(line, c->tagbuf, tl) == 0 && line[tl] == ' ') {
            *ok = strncasecmp(line + tl + 1, "OK", 2) == 0;
            return R_LINE;
        }
        if (mail_imap_idle_line(line) == MAIL_IDLE_BYE)
            return R_ERROR;
        if (text) {
            buf_puts(text, line);
            buf_puts(text, "\r\n");
        }
    }
}

static void
conn_close(struct conn *c)
{
    if (c->h)
        curl_easy_cleanup(c->h);
    buf_free(&c->in);
    memset(c, 0, sizeof(*c));
}

/* Connects and logs in (curl does it: CONNECT_ONLY stops after the protocol's connect). */
static int
conn_open(struct mail_idle *w, const struct mail_url *u, struct conn *c, char *why, size_t cap)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_socket_t fd = CURL_SOCKET_BAD;
    CURLcode cc;

    memset(c, 0, sizeof(*c));
    buf_init(&c->in, IDLE_LINE_MAX * 2);
    c->h = curl_easy_init();
    curl_easy_setopt(c->h, CURLOPT_URL, u->base);
    curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)IDLE_REPLY_MS);
    if (!u->tls)
        curl_easy_setopt(c->h, CURLOPT_USE_SSL,
                         u->loopback ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    curl_easy_setopt(c->h, CURLOPT_USERNAME, w->username);
    curl_easy_setopt(c->h, CURLOPT_PASSWORD, w->password ? w->password : "");
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(c->h);
    if (cc == CURLE_OK)
        cc = curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &fd);
    if (cc != CURLE_OK || fd == CURL_SOCKET_BAD) {
        snprintf(why, cap, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? " — " : "", errbuf);
        conn_close(c);
        return -1;
    }
    c->fd = fd;
    return 0;
}

/* Leaves IDLE and logs out, each answer awaited IDLE_STOP_MS at most. */
static void
conn_goodbye(struct conn *c, bool idling)
{
    bool ok;

    if (idling &&
        (!conn_send(c, "DONE\r\n") || conn_tagged(c, -1, IDLE_STOP_MS, &ok, NULL) != R_LINE))
        return;
    if (conn_command(c, "LOGOUT"))
        conn_tagged(c, -1, IDLE_STOP_MS, &ok, NULL);
}

enum { S_STOPPED, S_FAILED, S_UNSUPPORTED };

/* One connection's life: returns why it ended; why holds the failure's words. */
static int
session(struct mail_idle *w, const struct mail_url *u, char *why, size_t cap)
{
    struct conn c;
    struct buf text;
    char cmd[1100], line[IDLE_LINE_MAX];
    bool ok = false, idling = false;
    int r, end = S_FAILED;

    if (conn_open(w, u, &c, why, cap) != 0)
        return S_FAILED;
    buf_init(&text, 1 << 16);
    if (!conn_command(&c, "CAPABILITY") ||
        (r = conn_tagged(&c, w->wake[0], IDLE_REPLY_MS, &ok, &text)) != R_LINE || !ok) {
        end = woken(w) ? S_STOPPED : S_FAILED;
        snprintf(why, cap, "CAPABILITY failed");
        goto out;
    }
    if (!mail_imap_has_capability(text.data ? text.data : "", "IDLE")) {
        snprintf(why, cap, "the server does not advertise IDLE");
        end = S_UNSUPPORTED;
        goto out;
    }
    snprintf(cmd, sizeof(cmd), "EXAMINE \"%s\"", u->folder_wire);
    if (!conn_command(&c, cmd) ||
        (r = conn_tagged(&c, w->wake[0], IDLE_REPLY_MS, &ok, NULL)) != R_LINE || !ok) {
        end = woken(w) ? S_STOPPED : S_FAILED;
        snprintf(why, cap, "EXAMINE %s failed", u->folder);
        goto out;
    }
    for (;;) {
        int64_t renew_at;

        /* Wn IDLE, then "+ idling" */
        if (!conn_command(&c, "IDLE")) {
            snprintf(why, cap, "IDLE not sent");
            goto out;
        }
        do {
            r = conn_line(&c, w->wake[0], IDLE_REPLY_MS, line, sizeof(line));
        } while (r == R_LINE && mail_imap_idle_line(line) != MAIL_IDLE_CONTINUE &&
                 strncmp(line, c.tagbuf, strlen(c.tagbuf)) != 0);
        if (r == R_WOKEN) {
            end = S_STOPPED;
            idling = true; /* the "+" may still come: DONE ends it either way */
            goto out;
        }
        if (r != R_LINE || mail_imap_idle_line(line) != MAIL_IDLE_CONTINUE) {
            snprintf(why, cap, "IDLE refused: %.200s", r == R_LINE ? line : "no answer");
            goto out;
        }
        idling = true;
        state_set(w, MAIL_IDLE_ACTIVE);
        /* Mail that came while we were not idling (connecting, renewing) is caught here. */
        w->kick(w->ud, w->id);
        renew_at = time_mono_ns() / 1000000 + __atomic_load_n(&renew_ms, __ATOMIC_RELAXED);
        for (;;) {
            int64_t left = renew_at - time_mono_ns() / 1000000;

            if (left <= 0)
                break;
            r = conn_line(&c, w->wake[0], (int)left, line, sizeof(line));
            if (r == R_TIMEOUT)
                break;
            if (r == R_WOKEN) {
                end = S_STOPPED;
                goto out;
            }
            if (r == R_ERROR || mail_imap_idle_line(line) == MAIL_IDLE_BYE) {
                /* A server's BYE line can be long: keep its first 200 bytes. */
                snprintf(why, cap, "%.200s", r == R_ERROR ? "connection lost" : line);
                goto out;
            }
            if (mail_imap_idle_line(line) == MAIL_IDLE_EXISTS) {
                log_debug("msg=\"mailbox push: new mail\" mailbox=%" PRId64 " line=\"%.80s\"",
                          w->id, line);
                w->kick(w->ud, w->id);
            }
        }
        /* renew: DONE, Wn OK, and IDLE again */
        idling = false;
        r = R_ERROR;
        if (!conn_send(&c, "DONE\r\n") ||
            (r = conn_tagged(&c, w->wake[0], IDLE_REPLY_MS, &ok, NULL)) != R_LINE || !ok) {
            end = r == R_WOKEN ? S_STOPPED : S_FAILED;
            snprintf(why, cap, "DONE not answered");
            goto out;
        }
        log_debug("msg=\"mailbox push renewed\" mailbox=%" PRId64, w->id);
    }
out:
    if (end == S_STOPPED || end == S_UNSUPPORTED)
        conn_goodbye(&c, idling);
    buf_free(&text);
    conn_close(&c);
    return end;
}

/* Sleeps ms, or less if woken; true if woken. */
static bool
nap(struct mail_idle *w, int64_t ms)
{
    struct pollfd p = {.fd = w->wake[0], .events = POLLIN};

    return poll(&p, 1, (int)ms) > 0;
}

static void *
watcher_main(void *ud)
{
    struct mail_idle *w = ud;
    struct mail_url u;
    struct smile_err err;
    int64_t backoff = 1000;
    char why[512];

    smile_err_clear(&err);
    if (mail_url_parse(w->imap_url, "imap", &u, &err) != SMILE_OK) {
        state_set(w, MAIL_IDLE_FAILED);
        return NULL;
    }
    while (!woken(w)) {
        int64_t t0 = time_mono_ns() / 1000000;
        int end;

        why[0] = '\0';
        state_set(w, MAIL_IDLE_CONNECTING);
        end = session(w, &u, why, sizeof(why));
        if (end == S_STOPPED)
            break;
        if (end == S_UNSUPPORTED) {
            state_set(w, MAIL_IDLE_UNSUPPORTED);
            log_info("msg=\"mailbox push unavailable\" mailbox=%" PRId64 " reason=\"%s\"", w->id,
                     why);
            break; /* polling only; the poller tries again later */
        }
        state_set(w, MAIL_IDLE_FAILED);
        if (time_mono_ns() / 1000000 - t0 > 60000)
            backoff = 1000; /* it was up for a while: a fresh failure */
        log_warn("msg=\"mailbox push interrupted\" mailbox=%" PRId64
                 " error=\"%s\" retry_ms=%" PRId64,
                 w->id, why, backoff);
        if (nap(w, backoff))
            break;
        backoff = backoff * 2 > IDLE_BACKOFF_MAX_MS ? IDLE_BACKOFF_MAX_MS : backoff * 2;
    }
    mail_url_free(&u);
    return NULL;
}

/* The live watchers, for mail_push_state (API threads read it). */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mail_idle *reg[64];
static int nreg;

static void
reg_add(struct mail_idle *w)
{
    pthread_mutex_lock(&reg_mu);
    if (nreg < (int)ARRAY_LEN(reg))
        reg[nreg++] = w;
    pthread_mutex_unlock(&reg_mu);
}

static void
reg_remove(struct mail_idle *w)
{
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < nreg; i++) {
        if (reg[i] == w) {
            reg[i] = reg[--nreg];
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}

const char *
mail_push_state(int64_t mailbox_id)
{
    static const char *const names[] = {
        [MAIL_IDLE_OFF] = "off",       [MAIL_IDLE_CONNECTING] = "connecting",
        [MAIL_IDLE_ACTIVE] = "idle",   [MAIL_IDLE_UNSUPPORTED] = "unsupported",
        [MAIL_IDLE_FAILED] = "failed",
    };
    enum mail_idle_state st = MAIL_IDLE_OFF;

    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < nreg; i++)
        if (reg[i]->id == mailbox_id)
            st = mail_idle_state(reg[i]);
    pthread_mutex_unlock(&reg_mu);
    return names[st];
}

int
mail_idle_start(const struct mail_mbox *mb, mail_idle_kick_fn *kick, void *ud,
                struct mail_idle **out, struct smile_err *err)
{
    struct mail_idle *w = xcalloc(1, sizeof(*w));

    mail_curl_init();
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(w);
        return smile_err_set(err, SMILE_EIO, "pipe: %s", strerror(errno));
    }
    w->id = mb->id;
    w->version = mb->version;
    w->imap_url = xstrdup(mb->imap_url);
    w->username = xstrdup(mb->username);
    w->password = xstrdup(mb->password ? mb->password : "");
    w->kick = kick;
    w->ud = ud;
    w->state = MAIL_IDLE_CONNECTING;
    if (pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
        close(w->wake[0]);
        close(w->wake[1]);
        free(w->imap_url);
        free(w->username);
        secret_free(w->password);
        free(w);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the IDLE thread");
    }
    reg_add(w);
    *out = w;
    return SMILE_OK;
}

void
mail_idle_signal(struct mail_idle *w)
{
    if (w && write(w->wake[1], "x", 1) < 0)
        log_warn("msg=\"mailbox push not woken\" mailbox=%" PRId64, w->id);
}

void
mail_idle_stop(struct mail_idle *w)
{
    if (w == NULL)
        return;
    mail_idle_signal(w);
    pthread_join(w->thread, NULL);
    reg_remove(w);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w->imap_url);
    free(w->username);
    secret_free(w->password);
    free(w);
}
