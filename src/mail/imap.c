/*
 * imap.c — mail coming in: polls a mailbox's IMAP folder with libcurl and imports each
 * new message once. Per poll: STATUS (UIDVALIDITY, UIDNEXT) — nothing more if no UID is
 * new; else `UID FETCH n:* (UID INTERNALDATE RFC822.SIZE)` for the new UIDs (INTERNALDATE
 * is our server's receipt time, what reply times are measured from), then each message by
 * URL `;UIDVALIDITY=v/;UID=u` (libcurl issues UID FETCH u BODY[]), and mail_import_message
 * records it with the new last UID in one transaction. The response parsers are pure; the
 * poller thread of `smile serve` polls due mailboxes once a second.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ledger/ledger.h"
#include "mail/mail.h"
#include "mail/mail_int.h"
#include "store/store.h"

/* Response parsing (pure) ------------------------------------------------------------------- */

int
mail_imap_date_parse(const char *s, size_t len, int64_t *out_ms)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char b[64], mon[4] = "", sign = 0, iso[48];
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, off = 0, used = 0;
    const char *m;
    int64_t z;

    if (len == 0 || len >= sizeof(b))
        return SMILE_EINVAL;
    memcpy(b, s, len);
    b[len] = '\0';
    /* dd-Mon-yyyy hh:mm:ss +zzzz (RFC 3501 date-time; the day may be space-padded) */
    if (sscanf(b, " %2d-%3[A-Za-z]-%4d %2d:%2d:%2d %c%4d%n", &d, mon, &y, &hh, &mm, &ss, &sign,
               &off, &used) != 8 ||
        b[used] != '\0')
        return SMILE_EINVAL;
    m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (m == NULL || (m - months) % 3 != 0 || (sign != '+' && sign != '-') || hh > 23 || mm > 59 ||
        ss > 60 || off < 0 || off % 100 > 59 || off > 1400)
        return SMILE_EINVAL;
    snprintf(iso, sizeof(iso), "%04d-%02d-%02d", y, (int)((m - months) / 3) + 1, d);
    if (time_parse_date(iso, strlen(iso), &z) != SMILE_OK)
        return SMILE_EINVAL;
    *out_ms = (z * 86400 + hh * 3600 + mm * 60 + (ss > 59 ? 59 : ss) -
               (sign == '-' ? -1 : 1) * ((off / 100) * 3600 + (off % 100) * 60)) *
              1000;
    return SMILE_OK;
}

/* The number after "KEY " in text, -1 if absent. */
static int64_t
number_after(const char *text, const char *key)
{
    const char *p = text;
    size_t n = strlen(key);

    while ((p = strcasestr(p, key)) != NULL) {
        const char *q = p + n;

        if ((p == text || p[-1] == ' ' || p[-1] == '(' || p[-1] == '[') && *q == ' ') {
            int64_t v = 0;
            int k = 0;

            q++;
            while (*q >= '0' && *q <= '9' && k < 18) {
                v = v * 10 + (*q++ - '0');
                k++;
            }
            if (k > 0)
                return v;
        }
        p += n;
    }
    return -1;
}

void
mail_imap_status_parse(const char *text, int64_t *uidvalidity, int64_t *uidnext)
{
    *uidvalidity = number_after(text, "UIDVALIDITY");
    *uidnext = number_after(text, "UIDNEXT");
}

int
mail_imap_fetch_parse(const char *text, struct mail_imap_item *items, int max)
{
    int n = 0;

    for (const char *line = text; line && *line && n < max;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = xstrndup(line, len);

        if (strncmp(l, "* ", 2) == 0 && strstr(l, " FETCH (")) {
            int64_t uid = number_after(l, "UID");

            if (uid > 0) {
                const char *d = strcasestr(l, "INTERNALDATE \"");

                items[n].uid = uid;
                items[n].size = number_after(l, "RFC822.SIZE");
                items[n].internaldate = 0;
                if (d) {
                    const char *q = strchr(d + 14, '"');
                    int64_t ms;

                    if (q && mail_imap_date_parse(d + 14, (size_t)(q - d - 14), &ms) == SMILE_OK)
                        items[n].internaldate = ms;
                }
                n++;
            }
        }
        free(l);
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* One mailbox poll ---------------------------------------------------------------------------- */

/* Mailboxes being polled now, so that a poll never overlaps another of the same mailbox. */
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t busy[64];

static bool
busy_take(int64_t id)
{
    bool ok = true;
    int free_slot = -1;

    pthread_mutex_lock(&busy_mu);
    for (int i = 0; i < (int)ARRAY_LEN(busy); i++) {
        if (busy[i] == id)
            ok = false;
        if (busy[i] == 0 && free_slot < 0)
            free_slot = i;
    }
    if (ok && free_slot >= 0)
        busy[free_slot] = id;
    else
        ok = false;
    pthread_mutex_unlock(&busy_mu);
    return ok;
}

static void
busy_give(int64_t id)
{
    pthread_mutex_lock(&busy_mu);
    for (int i = 0; i < (int)ARRAY_LEN(busy); i++)
        if (busy[i] == id)
            busy[i] = 0;
    pthread_mutex_unlock(&busy_mu);
}

/* Set while smile serve stops: transfers in flight are aborted at once. */
static volatile int stopping;

static int
progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return __atomic_load_n(&stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;

    buf_append(b, p, size * n);
    return buf_overflowed(b) ? 0 : size * n;
}

/* Runs one IMAP request: url, optional custom command; the response body into out. */
static int
request(CURL *h, const struct mail_mbox *mb, const struct mail_url *u, const char *url,
        const char *custom, size_t max, struct buf *out, struct smile_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;

    buf_free(out);
    buf_init(out, max);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* No fixed total timeout (a 25 MiB message on a slow line is fine), but a connection
     * that moves less than 1 byte/s for a minute is given up. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    if (!u->tls)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         u->loopback ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_USERNAME, mb->username);
    curl_easy_setopt(h, CURLOPT_PASSWORD, mb->password ? mb->password : "");
    if (custom)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (buf_overflowed(out))
            return smile_err_set(err, SMILE_ETOOBIG, "the response is over %zu bytes", max);
        return smile_err_set(err, SMILE_EIO, "IMAP %s: %s%s%s", u->base, curl_easy_strerror(cc),
                             errbuf[0] ? " — " : "", errbuf);
    }
    if (out->data == NULL)
        buf_puts(out, "");
    return SMILE_OK;
}

static void
record_poll(struct store *s, int64_t id, int64_t now, const char *error)
{
    static const char sql[] = "UPDATE mailboxes SET last_poll_at = $1, last_ok_at = CASE WHEN $2 "
                              "IS NULL THEN $1 ELSE last_ok_at END, last_error = $2 WHERE id = $3";
    struct store_stmt *st;
    struct smile_err err;

    smile_err_clear(&err);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        return;
    store_stmt_bind_int64(st, 1, now);
    store_stmt_bind_text(st, 2, error, -1);
    store_stmt_bind_int64(st, 3, id);
    store_stmt_step(st, &err);
    store_stmt_reset(st);
}

static int
cmp_item(const void *a, const void *b)
{
    const struct mail_imap_item *x = a, *y = b;

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

#define MAIL_POLL_MAX 500 /* messages imported per poll at most; the next poll goes on */

int
mail_poll_mailbox(struct store *s, struct ledger *l, int64_t id, struct mail_poll_result *out,
                  struct smile_err *err)
{
    struct mail_mbox mb;
    struct mail_url u;
    struct buf resp;
    struct mail_imap_item *items = NULL;
    CURL *h = NULL;
    char url[1200], cmd[600];
    int64_t uv = -1, unext = -1, from;
    int rc, n = 0;

    smile_err_clear(err);
    memset(out, 0, sizeof(*out));
    memset(&u, 0, sizeof(u));
    buf_init(&resp, 0);
    mail_curl_init();
    mail_init();
    if ((rc = mail_mbox_load(s, id, &mb, err)) != SMILE_OK)
        return rc;
    if (!busy_take(id)) {
        mail_mbox_free(&mb);
        return smile_err_set(err, SMILE_EBUSY, "mailbox %" PRId64 " is being polled", id);
    }
    if ((rc = mail_url_parse(mb.imap_url, "imap", &u, err)) != SMILE_OK)
        goto out;
    h = curl_easy_init();
    /* STATUS "folder" (UIDVALIDITY UIDNEXT): cheap, and tells whether anything is new. */
    snprintf(cmd, sizeof(cmd), "STATUS \"%s\" (UIDVALIDITY UIDNEXT)", u.folder_wire);
    if ((rc = request(h, &mb, &u, u.base, cmd, 1 << 16, &resp, err)) != SMILE_OK)
        goto out;
    mail_imap_status_parse(resp.data, &uv, &unext);
    if (uv <= 0) {
        rc = smile_err_set(err, SMILE_EIO, "IMAP %s: no UIDVALIDITY for folder %s", u.base,
                           u.folder);
        goto out;
    }
    from = mb.uidvalidity == uv ? mb.last_uid + 1 : 1;
    out->uidvalidity = uv;
    out->last_uid = from - 1;
    if (mb.uidvalidity != uv) {
        log_info("msg=\"mailbox folder (re)started\" mailbox=%" PRId64 " uidvalidity=%" PRId64
                 " was=%" PRId64,
                 id, uv, mb.uidvalidity);
        if (store_begin(s, err) == SMILE_OK) {
            static const char sql[] = "UPDATE mailboxes SET uidvalidity = $1, last_uid = 0 WHERE "
                                      "id = $2";
            struct store_stmt *st;

            if (store_prepare(s, sql, &st, err) == SMILE_OK) {
                store_stmt_bind_int64(st, 1, uv);
                store_stmt_bind_int64(st, 2, id);
                store_stmt_step(st, err);
                store_stmt_reset(st);
            }
            if (store_commit(s, err) != SMILE_OK && store_in_tx(s))
                store_rollback(s);
        }
    }
    if (unext > 0 && unext <= from)
        goto done; /* nothing new */
    /* The new UIDs with their receipt times ("n:*" also answers the last one if none is
     * newer: filtered below). */
    {
        char *esc = curl_easy_escape(h, u.folder_wire, 0);

        snprintf(url, sizeof(url), "%s%s", u.base, esc);
        curl_free(esc);
    }
    snprintf(cmd, sizeof(cmd), "UID FETCH %" PRId64 ":* (UID INTERNALDATE RFC822.SIZE)", from);
    if ((rc = request(h, &mb, &u, url, cmd, 64 << 20, &resp, err)) != SMILE_OK)
        goto out;
    items = xcalloc(MAIL_POLL_MAX, sizeof(*items));
    n = mail_imap_fetch_parse(resp.data, items, MAIL_POLL_MAX);
    qsort(items, (size_t)n, sizeof(*items), cmp_item);
    for (int i = 0; i < n; i++) {
        struct mail_origin o = {
            .mailbox_id = id,
            .uidvalidity = uv,
            .uid = items[i].uid,
            .received_at = items[i].internaldate,
        };
        struct mail_import_result r;
        char burl[1400];
        bool too_big;

        if (items[i].uid < from)
            continue;
        /* Old mail of a newly connected mailbox: passed over without fetching its body
         * (mail_import_message applies the same rule to what it is given). */
        if (!mb.import_existing && items[i].internaldate > 0 &&
            items[i].internaldate < mb.created_at / 1000 * 1000) {
            if ((rc = store_begin(s, err)) != SMILE_OK)
                goto out;
            if ((rc = mail_mbox_state(s, id, uv, items[i].uid, 0, err)) != SMILE_OK ||
                (rc = store_commit(s, err)) != SMILE_OK) {
                if (store_in_tx(s))
                    store_rollback(s);
                goto out;
            }
            out->skipped++;
            out->last_uid = items[i].uid;
            continue;
        }
        too_big = items[i].size > mb.max_bytes;
        {
            char *esc = curl_easy_escape(h, u.folder_wire, 0);

            /* Too big: the header only, so the mail is still threaded and measured. */
            snprintf(burl, sizeof(burl), "%s%s;UIDVALIDITY=%" PRId64 "/;UID=%" PRId64 "%s", u.base,
                     esc, uv, items[i].uid, too_big ? "/;SECTION=HEADER" : "");
            curl_free(esc);
        }
        if ((rc = request(h, &mb, &u, burl, NULL, (size_t)mb.max_bytes + (1 << 20), &resp, err)) !=
            SMILE_OK)
            goto out;
        rc = mail_import_message(s, l, &o, resp.data, resp.len, time_now_ms(), &r, err);
        if (rc == SMILE_EMALFORMED) {
            /* Not a message at all: counted, logged, passed over (never retried). */
            struct smile_err e2;

            log_warn("msg=\"mail not imported\" mailbox=%" PRId64 " uid=%" PRId64 " error=\"%s\"",
                     id, items[i].uid, err->msg);
            smile_err_clear(&e2);
            out->failed++;
            if (store_begin(s, &e2) == SMILE_OK) {
                if (mail_mbox_state(s, id, uv, items[i].uid, 0, &e2) != SMILE_OK ||
                    store_commit(s, &e2) != SMILE_OK)
                    store_rollback(s);
            }
            smile_err_clear(err);
            rc = SMILE_OK;
        } else if (rc != SMILE_OK) {
            goto out;
        } else if (r.outcome == MAIL_DUPLICATE) {
            out->duplicates++;
        } else if (r.outcome == MAIL_SKIPPED) {
            out->skipped++;
        } else if (r.outcome == MAIL_IMPORTED_AUTO) {
            out->automatic++;
        } else {
            out->imported++;
        }
        out->last_uid = items[i].uid;
    }
done:
    rc = SMILE_OK;
out:
    record_poll(s, id, time_now_ms(), rc == SMILE_OK ? NULL : err->msg);
    if (rc != SMILE_OK)
        log_warn("msg=\"mailbox poll failed\" mailbox=%" PRId64 " error=\"%s\"", id, err->msg);
    else if (out->imported + out->duplicates + out->skipped + out->failed > 0)
        log_info("msg=\"mailbox polled\" mailbox=%" PRId64 " imported=%d duplicates=%d skipped=%d "
                 "failed=%d",
                 id, out->imported, out->duplicates, out->skipped, out->failed);
    free(items);
    if (h)
        curl_easy_cleanup(h);
    buf_free(&resp);
    mail_url_free(&u);
    mail_mbox_free(&mb);
    busy_give(id);
    return rc;
}

/* The poller thread ------------------------------------------------------------------------------
 */

#define POLLER_MAX 64                /* mailboxes watched and polled per round */
#define RECONCILE_MS 5000            /* how often the IDLE watchers are matched to the table */
#define UNSUPPORTED_RETRY_MS 3600000 /* a server without IDLE is asked again after an hour */

/* An active mailbox's IDLE watcher (idle.c). */
struct watch {
    int64_t id;
    struct mail_idle *w;
    int64_t started_ms;
};

struct mail_poller {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    char *db_path;
    struct ledger *ledger;
    /* the poller thread's own: */
    struct watch watches[POLLER_MAX];
    int nwatch;
    int64_t reconcile_at;
    /* under mu: mailboxes an IDLE watcher saw new mail in, to poll now */
    int64_t kicked[POLLER_MAX];
    int nkicked;
};

/* A watcher saw new mail (its thread): poll that mailbox at once. */
static void
kick(void *ud, int64_t id)
{
    struct mail_poller *p = ud;
    bool have = false;

    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nkicked; i++)
        have = have || p->kicked[i] == id;
    if (!have && p->nkicked < POLLER_MAX)
        p->kicked[p->nkicked++] = id;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void
watch_remove(struct mail_poller *p, int i)
{
    mail_idle_stop(p->watches[i].w);
    p->watches[i] = p->watches[--p->nwatch];
}

/*
 * One IDLE watcher per active mailbox: started for new ones, restarted when the mailbox
 * changed (version) or its server lacked IDLE an hour ago, stopped for the others.
 */
static void
reconcile(struct mail_poller *p, struct store *s)
{
    static const char sql[] = "SELECT id, version FROM mailboxes WHERE deleted_at IS NULL AND "
                              "active = 1 ORDER BY id LIMIT 64";
    struct store_stmt *st;
    struct smile_err err;
    int64_t ids[POLLER_MAX], versions[POLLER_MAX], now = time_now_ms();
    int n = 0;

    smile_err_clear(&err);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        return;
    while (n < POLLER_MAX && store_stmt_step(st, &err) == STORE_ROW) {
        ids[n] = store_stmt_int64(st, 0);
        versions[n++] = store_stmt_int64(st, 1);
    }
    store_stmt_reset(st);
    for (int i = p->nwatch - 1; i >= 0; i--) {
        struct watch *wt = &p->watches[i];
        bool keep = false;

        for (int k = 0; k < n && !keep; k++)
            keep = ids[k] == wt->id && versions[k] == mail_idle_version(wt->w);
        if (keep && mail_idle_state(wt->w) == MAIL_IDLE_UNSUPPORTED &&
            now - wt->started_ms >= UNSUPPORTED_RETRY_MS)
            keep = false;
        if (!keep)
            watch_remove(p, i);
    }
    for (int k = 0; k < n; k++) {
        struct mail_mbox mb;
        bool have = false;

        for (int i = 0; i < p->nwatch && !have; i++)
            have = p->watches[i].id == ids[k];
        if (have || p->nwatch >= POLLER_MAX || mail_mbox_load(s, ids[k], &mb, &err) != SMILE_OK)
            continue;
        if (mail_idle_start(&mb, kick, p, &p->watches[p->nwatch].w, &err) == SMILE_OK) {
            p->watches[p->nwatch].id = ids[k];
            p->watches[p->nwatch].started_ms = now;
            p->nwatch++;
        }
        mail_mbox_free(&mb);
    }
}

/* Polls the mailboxes the watchers asked for; one being polled already is asked again. */
static void
poll_kicked(struct mail_poller *p, struct store *s)
{
    int64_t ids[POLLER_MAX];
    int n;

    pthread_mutex_lock(&p->mu);
    n = p->nkicked;
    memcpy(ids, p->kicked, (size_t)n * sizeof(ids[0]));
    p->nkicked = 0;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++) {
        struct mail_poll_result r;
        struct smile_err err;

        smile_err_clear(&err);
        if (mail_poll_mailbox(s, p->ledger, ids[i], &r, &err) == SMILE_EBUSY)
            kick(p, ids[i]);
    }
}

static void
poll_due(struct mail_poller *p, struct store *s)
{
    static const char sql[] =
        "SELECT id FROM mailboxes WHERE deleted_at IS NULL AND active = 1 AND (last_poll_at IS "
        "NULL OR last_poll_at + poll_seconds * 1000 <= $1) ORDER BY id LIMIT 64";
    struct store_stmt *st;
    struct smile_err err;
    int64_t ids[64];
    int n = 0;

    smile_err_clear(&err);
    if (store_prepare(s, sql, &st, &err) != SMILE_OK)
        return;
    store_stmt_bind_int64(st, 1, time_now_ms());
    while (n < 64 && store_stmt_step(st, &err) == STORE_ROW)
        ids[n++] = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    for (int i = 0; i < n; i++) {
        struct mail_poll_result r;
        bool stop;

        pthread_mutex_lock(&p->mu);
        stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return;
        mail_poll_mailbox(s, p->ledger, ids[i], &r, &err);
    }
}

static void *
poller_main(void *ud)
{
    struct mail_poller *p = ud;
    struct store *s = NULL;
    struct smile_err err;

    smile_err_clear(&err);
    if (store_open(p->db_path, 0, &s, &err) != SMILE_OK) {
        log_error("msg=\"mail poller has no database\" error=\"%s\"", err.msg);
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;

        pthread_mutex_unlock(&p->mu);
        if (time_now_ms() >= p->reconcile_at) {
            reconcile(p, s);
            p->reconcile_at = time_now_ms() + RECONCILE_MS;
        }
        poll_kicked(p, s);
        poll_due(p, s);
        pthread_mutex_lock(&p->mu);
        if (p->stop)
            break;
        if (p->nkicked > 0) /* kicked while polling: at once */
            continue;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    /* Every watcher told first, then each joined: they leave IDLE together. */
    for (int i = 0; i < p->nwatch; i++)
        mail_idle_signal(p->watches[i].w);
    while (p->nwatch > 0)
        watch_remove(p, p->nwatch - 1);
    store_close(s);
    return NULL;
}

int
mail_poller_start(const char *db_path, struct ledger *l, struct mail_poller **out,
                  struct smile_err *err)
{
    struct mail_poller *p = xcalloc(1, sizeof(*p));

    mail_curl_init();
    mail_init();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->db_path = xstrdup(db_path);
    p->ledger = l;
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
        free(p->db_path);
        free(p);
        return smile_err_set(err, SMILE_EINTERNAL, "cannot start the mail poller thread");
    }
    *out = p;
    return SMILE_OK;
}

void
mail_poller_stop(struct mail_poller *p)
{
    if (p == NULL)
        return;
    __atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    __atomic_store_n(&stopping, 0, __ATOMIC_RELAXED);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->db_path);
    free(p);
}
