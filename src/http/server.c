/*
 * server.c — the HTTP server on libmicrohttpd: an epoll thread pool, per-address and
 * total connection limits (MHD's timeout counts idle time only), bodies collected up to
 * the configured maximum, one dispatch call per request made on MHD's second callback
 * (answering on the first drops keep-alive), one logfmt line per request, and a drain
 * on stop. The first stage of the API path: bytes in, struct http_request out.
 *
 * Reads (GET, HEAD) are dispatched on MHD's own I/O threads: they never wait. Every other
 * method may wait for a durable commit shared with other requests (group commit), so it is
 * handed to a pool of worker threads while MHD suspends the connection; the worker resumes
 * it when the response is ready. A few I/O threads thus serve many connections, and as
 * many writes as there are workers can join one commit. A write that never blocks (the
 * config's is_inline: the event POST) runs on the I/O thread instead and defers its answer
 * (http_request_defer): whoever finishes the work resumes the connection
 * (http_request_complete), and no thread waits for it.
 *
 * Event streams (Server-Sent Events, see http.h) are responses made by a content-reader
 * callback: it copies what is queued for the stream, and when nothing is, suspends the
 * connection (MHD_suspend_connection from the reader is allowed for a response not shared
 * between connections); a publisher queues a frame and resumes it. A heartbeat thread
 * writes a comment to idle streams. Nothing polls.
 *
 * A suspended connection is out of MHD's event loop: MHD notices neither a timeout nor the
 * client closing it (libmicrohttpd manual, "Flow control"), so neither NOTIFY_COMPLETED nor
 * NOTIFY_CONNECTION fires for a closed tab until the stream's next write. The heartbeat
 * thread therefore probes the sockets of suspended streams once a second (poll with
 * POLLRDHUP, no timeout: a FIN or a reset shows at once) and ends the ones whose client
 * left; a new stream that meets a limit probes them all first (closed tabs never count), and one
 * that would exceed max_streams_per_user ends that user's oldest stream instead of being refused.
 * An ended stream stops counting against the limits at once, before MHD has released it.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A request's place in the worker hand-off (only for requests dispatched to workers). */
enum req_state { REQ_NEW, REQ_QUEUED, REQ_DONE };

struct http_server {
    struct MHD_Daemon *d;
    struct http_server_config cfg;
    int port;
    atomic_int inflight;
    atomic_int deferred; /* deferred requests not yet completed (see http_server_stop) */
    atomic_bool closing; /* http_server_stop has begun: new requests are answered 503 */

    /* The worker pool: a FIFO of suspended requests. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_request *head, *tail;
    bool stopping;
    int nworkers;
    pthread_t *workers;
};

struct req_link {
    struct http_request *next;
    enum req_state state;
    /* http_request_defer(): the answer comes from http_request_complete() on another
     * thread; finish renders it on the I/O thread, cleanup(ud) runs at request_free. */
    bool deferred;
    struct http_server *srv;
    void (*finish)(struct http_request *req, void *ud);
    void (*cleanup)(void *ud);
    void *ud;
    size_t body_cap;    /* bytes allocated for req->body (its NUL included) */
    size_t body_expect; /* Content-Length, when given and within max_body */
};

static atomic_uint_fast64_t request_seq;

/* Event streams ------------------------------------------------------------------------ */

#define STREAM_MAX_QUEUE (256 * 1024)

struct held {
    int64_t id;
    char *frame;
};

struct http_stream {
    struct http_stream *prev, *next; /* the registry's list (under streams.mu) */
    pthread_mutex_t mu;              /* guards everything below */
    struct MHD_Connection *conn;
    int64_t user_id;
    unsigned role;
    char address[64];
    struct buf q; /* frames not yet handed to MHD, from off on */
    size_t off;
    bool suspended, closing, overflow, ready;
    bool gone;     /* ended because its client left or it was evicted: no longer counted */
    uint64_t seq;  /* open order (the oldest of a user is evicted first) */
    int64_t floor; /* highest notification id queued */
    struct held *held;
    size_t nheld;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_stream *head;
    int count;
    bool running, stopping;
    unsigned max, per_user, per_addr, heartbeat_s;
    uint64_t seq;
    uint64_t closed_gone, evicted; /* streams ended by the probe / by eviction */
    pthread_t heartbeat;
} streams = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Resumes a stream parked by its reader; call with st->mu held. */
static void
stream_wake(struct http_stream *st)
{
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

static void
stream_append(struct http_stream *st, const char *frame, size_t n)
{
    if (st->closing)
        return;
    if (st->q.len - st->off + n > STREAM_MAX_QUEUE) {
        st->closing = st->overflow = true; /* a reader this slow reconnects and resumes */
        return;
    }
    buf_append(&st->q, frame, n);
}

static void
frame_format(struct buf *b, const char *event, int64_t id, const char *json)
{
    buf_printf(b, "event: %s\n", event);
    if (id > 0)
        buf_printf(b, "id: %lld\n", (long long)id);
    buf_printf(b, "data: %s\n\n", json);
}

/* Unlinks and frees a stream (its response is gone, or it never got one). */
static void
stream_release(struct http_stream *st)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&streams.mu);
    if (st->prev)
        st->prev->next = st->next;
    else if (streams.head == st)
        streams.head = st->next;
    if (st->next)
        st->next->prev = st->prev;
    if (!st->gone)
        streams.count--;
    pthread_cond_broadcast(&streams.cv);
    pthread_mutex_unlock(&streams.mu);
    for (size_t i = 0; i < st->nheld; i++)
        free(st->held[i].frame);
    free(st->held);
    buf_free(&st->q);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static void
stream_free_cb(void *cls)
{
    stream_release(cls);
}

/* MHD asks for the next bytes: hand over what is queued, or park the connection. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct http_stream *st = cls;
    ssize_t n = 0;

    (void)pos;
    pthread_mutex_lock(&st->mu);
    if (st->overflow) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (st->q.len > st->off) {
        size_t k = st->q.len - st->off < max ? st->q.len - st->off : max;

        memcpy(out, st->q.data + st->off, k);
        st->off += k;
        if (st->off == st->q.len) {
            buf_reset(&st->q);
            st->off = 0;
        }
        n = (ssize_t)k;
    } else if (st->closing) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* Whether the client of a suspended stream has closed its socket (or reset it): MHD does
 * not watch a suspended connection, so look without reading. Call with st->mu held. */
static bool
stream_client_left(struct http_stream *st)
{
    const union MHD_ConnectionInfo *ci;
    struct pollfd p;

    if (!st->suspended)
        return false; /* MHD is writing to it: it finds out by itself */
    ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL || ci->connect_fd == MHD_INVALID_SOCKET)
        return false;
    p = (struct pollfd){.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Ends a stream: its reader sends the end of the response and MHD releases it. From now on
 * it no longer counts against the limits. Call with streams.mu and st->mu held. */
static void
stream_end(struct http_stream *st)
{
    if (!st->gone) {
        st->gone = true;
        streams.count--;
    }
    st->closing = true;
    stream_wake(st);
}

/* Probes the suspended streams (of user_id, or all with 0) and ends those whose client left;
 * returns how many. Call with streams.mu held: one poll(2) per suspended stream. */
static int
streams_reap(int64_t user_id)
{
    int n = 0;

    for (struct http_stream *st = streams.head; st; st = st->next) {
        if (st->gone || (user_id && st->user_id != user_id))
            continue;
        pthread_mutex_lock(&st->mu);
        if (stream_client_left(st)) {
            stream_end(st);
            n++;
        }
        pthread_mutex_unlock(&st->mu);
    }
    streams.closed_gone += (uint64_t)n;
    return n;
}

int
http_stream_open(struct http_request *req, int64_t user_id, unsigned role, struct smile_err *err)
{
    struct http_stream *st, *oldest = NULL;
    int mine = 0, here = 0;

    pthread_mutex_lock(&streams.mu);
    if (!streams.running || streams.stopping) {
        pthread_mutex_unlock(&streams.mu);
        return smile_err_set(err, SMILE_EBUSY, "the server is stopping");
    }
    for (int pass = 0; pass < 2; pass++) {
        mine = here = 0;
        oldest = NULL;
        for (st = streams.head; st; st = st->next) {
            if (st->gone)
                continue;
            if (st->user_id == user_id) {
                mine++;
                if (oldest == NULL || st->seq < oldest->seq)
                    oldest = st;
            }
            here += strcmp(st->address, req->address) == 0;
        }
        if ((unsigned)streams.count < streams.max && (unsigned)mine < streams.per_user &&
            (!streams.per_addr || (unsigned)here < streams.per_addr))
            break;
        /* At a limit: streams whose client left (closed tabs) do not count. */
        if (pass == 0 && streams_reap(0) == 0)
            pass++; /* nothing reaped: the counts stand */
    }
    if ((unsigned)mine >= streams.per_user && oldest && (unsigned)streams.count <= streams.max &&
        (!streams.per_addr ||
         (unsigned)(here - (strcmp(oldest->address, req->address) == 0)) < streams.per_addr)) {
        /* The user's own limit only: end their oldest stream (its EventSource, if still
         * there, reconnects in 3 s and resumes with Last-Event-ID) rather than refuse. The
         * new stream takes its slot, so the totals stay within their limits too. */
        pthread_mutex_lock(&oldest->mu);
        stream_end(oldest);
        pthread_mutex_unlock(&oldest->mu);
        streams.evicted++;
        mine--;
        if (strcmp(oldest->address, req->address) == 0)
            here--;
        log_info("msg=\"event stream evicted\" user_id=%lld reason=per_user_limit",
                 (long long)user_id);
    }
    if ((unsigned)streams.count >= streams.max || (unsigned)mine >= streams.per_user ||
        (streams.per_addr && (unsigned)here >= streams.per_addr)) {
        pthread_mutex_unlock(&streams.mu);
        return smile_err_set(err, SMILE_EBUSY,
                             (unsigned)streams.count >= streams.max
                                 ? "too many event streams are open; try again later"
                             : (unsigned)mine >= streams.per_user
                                 ? "this user has too many event streams open"
                                 : "this address has too many event streams open");
    }
    st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    st->conn = req->conn;
    st->user_id = user_id;
    st->role = role;
    snprintf(st->address, sizeof(st->address), "%s", req->address);
    buf_init(&st->q, 0);
    /* The reconnection delay, and a first chunk so the client sees the stream at once. */
    buf_puts(&st->q, "retry: 3000\n\n");
    st->seq = ++streams.seq;
    st->next = streams.head;
    if (streams.head)
        streams.head->prev = st;
    streams.head = st;
    streams.count++;
    pthread_mutex_unlock(&streams.mu);
    req->stream = st;
    return SMILE_OK;
}

void
http_stream_backlog(struct http_request *req, const char *event, int64_t id, const char *json)
{
    struct http_stream *st = req->stream;
    struct buf b;

    if (st == NULL)
        return;
    buf_init(&b, 0);
    frame_format(&b, event, id, json);
    pthread_mutex_lock(&st->mu);
    if (id <= 0 || id > st->floor) {
        stream_append(st, b.data, b.len);
        if (id > st->floor)
            st->floor = id;
    }
    pthread_mutex_unlock(&st->mu);
    buf_free(&b);
}

void
http_stream_ready(struct http_request *req)
{
    struct http_stream *st = req->stream;

    if (st == NULL)
        return;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->nheld; i++) {
        if (st->held[i].id > st->floor) {
            stream_append(st, st->held[i].frame, strlen(st->held[i].frame));
            st->floor = st->held[i].id;
        }
        free(st->held[i].frame);
    }
    free(st->held);
    st->held = NULL;
    st->nheld = 0;
    st->ready = true;
    pthread_mutex_unlock(&st->mu);
}

int
http_stream_publish(int64_t user_id, unsigned roles, const char *event, int64_t id,
                    const char *json)
{
    struct buf b;
    int n = 0;

    buf_init(&b, 0);
    frame_format(&b, event, id, json);
    pthread_mutex_lock(&streams.mu);
    for (struct http_stream *st = streams.head; st && !streams.stopping; st = st->next) {
        if (st->gone || (user_id ? st->user_id != user_id : !(st->role & roles)))
            continue;
        pthread_mutex_lock(&st->mu);
        if (id > 0 && id <= st->floor) {
            /* already queued (a backlog raced this publish) */
        } else if (id > 0 && !st->ready) {
            st->held = xrealloc(st->held, (st->nheld + 1) * sizeof(*st->held));
            st->held[st->nheld].id = id;
            st->held[st->nheld++].frame = xstrdup(b.data);
        } else {
            stream_append(st, b.data, b.len);
            if (id > 0)
                st->floor = id;
            n++;
            stream_wake(st);
        }
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&streams.mu);
    buf_free(&b);
    return n;
}

int
http_stream_count(void)
{
    int n;

    pthread_mutex_lock(&streams.mu);
    n = streams.count;
    pthread_mutex_unlock(&streams.mu);
    return n;
}

void
http_stream_stats(uint64_t *out_closed, uint64_t *out_evicted)
{
    pthread_mutex_lock(&streams.mu);
    *out_closed = streams.closed_gone;
    *out_evicted = streams.evicted;
    pthread_mutex_unlock(&streams.mu);
}

/* Once a second ends the suspended streams whose client left (see the top of the file);
 * every heartbeat_s writes a comment to idle streams, which keeps proxies from closing them
 * and finds the clients that left without a FIN (a network that went away). */
static void *
heartbeat_main(void *arg)
{
    unsigned tick = 0;

    (void)arg;
    pthread_mutex_lock(&streams.mu);
    while (!streams.stopping) {
        struct timespec ts;
        int n;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        while (!streams.stopping)
            if (pthread_cond_timedwait(&streams.cv, &streams.mu, &ts) == ETIMEDOUT)
                break;
        if (streams.stopping)
            break;
        if ((n = streams_reap(0)) > 0)
            log_info("msg=\"event streams ended: client left\" count=%d", n);
        if (++tick < streams.heartbeat_s)
            continue;
        tick = 0;
        for (struct http_stream *st = streams.head; st; st = st->next) {
            pthread_mutex_lock(&st->mu);
            if (st->ready && st->q.len == st->off) {
                stream_append(st, ": keep-alive\n\n", 14);
                stream_wake(st);
            }
            pthread_mutex_unlock(&st->mu);
        }
    }
    pthread_mutex_unlock(&streams.mu);
    return NULL;
}

static void
streams_start(const struct http_server_config *cfg)
{
    unsigned conn = cfg->conn_limit ? cfg->conn_limit : 1024u;

    pthread_mutex_lock(&streams.mu);
    streams.max = cfg->max_streams ? cfg->max_streams : 256;
    if (streams.max > conn - conn / 4) {
        log_warn("msg=\"max_streams lowered to three quarters of conn_limit\" max_streams=%u "
                 "conn_limit=%u",
                 streams.max, conn);
        streams.max = conn - conn / 4;
    }
    streams.per_user = cfg->max_streams_per_user ? cfg->max_streams_per_user : 8;
    streams.per_addr = cfg->per_ip_limit / 2;
    streams.heartbeat_s = cfg->heartbeat_s ? cfg->heartbeat_s : 15;
    streams.stopping = false;
    streams.running = true;
    pthread_mutex_unlock(&streams.mu);
    if (pthread_create(&streams.heartbeat, NULL, heartbeat_main, NULL) != 0)
        fatal("cannot start the event stream heartbeat");
}

/* Whether any stream is still registered (ended ones too, until MHD releases them). */
static bool
streams_listed(void)
{
    bool any;

    pthread_mutex_lock(&streams.mu);
    any = streams.head != NULL;
    pthread_mutex_unlock(&streams.mu);
    return any;
}

/* Ends every stream (its reader sends the end of the response) and waits up to wait_ms for
 * them to be released; MHD must not stop with a connection suspended. */
static void
streams_stop(int wait_ms)
{
    pthread_mutex_lock(&streams.mu);
    if (!streams.running) {
        pthread_mutex_unlock(&streams.mu);
        return;
    }
    streams.stopping = true;
    pthread_cond_broadcast(&streams.cv);
    for (struct http_stream *st = streams.head; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        st->closing = true;
        stream_wake(st);
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&streams.mu);
    pthread_join(streams.heartbeat, NULL);
    for (int waited = 0; waited < wait_ms && streams_listed(); waited += 10)
        usleep(10000);
    pthread_mutex_lock(&streams.mu);
    /* Any left are not suspended (their reader would have ended them): MHD closes them. */
    for (struct http_stream *st = streams.head; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        stream_wake(st);
        pthread_mutex_unlock(&st->mu);
    }
    streams.running = false;
    pthread_mutex_unlock(&streams.mu);
}

static enum http_method
method_of(const char *m)
{
    static const struct {
        const char *name;
        enum http_method m;
    } t[] = {{"GET", HTTP_GET},        {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
             {"PUT", HTTP_PUT},        {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
             {"OPTIONS", HTTP_OPTIONS}};

    for (size_t i = 0; i < ARRAY_LEN(t); i++)
        if (strcmp(m, t[i].name) == 0)
            return t[i].m;
    return HTTP_OTHER;
}

static void
client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The worker hand-off fields live after the request in the same allocation. */
struct request_box {
    struct http_request req;
    struct req_link link;
};

static struct req_link *
link_of(struct http_request *req)
{
    return &((struct request_box *)req)->link;
}

static struct http_request *
request_new(struct http_server *s, struct MHD_Connection *c, const char *url, const char *method)
{
    struct http_request *req = xcalloc(1, sizeof(struct request_box));
    uint64_t seq = atomic_fetch_add(&request_seq, 1) + 1;
    static const char hex[] = "0123456789abcdef";
    const char *cl;

    req->method = method_of(method);
    req->method_name = xstrdup(method);
    req->path = xstrdup(url);
    req->conn = c;
    req->started_ns = time_mono_ns();
    req->route = -1;
    req->status = 200;
    /* Request id: 16 hex digits of (start ms << 20) + sequence: unique across restarts. */
    for (int i = 0; i < 16; i++)
        req->request_id[i] = hex[(seq >> (60 - 4 * i)) & 0xf];
    req->request_id[16] = '\0';
    client_address(c, req->address, sizeof(req->address));
    buf_init(&req->out, 0);
    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        int64_t n;

        if (str_to_int64(str_from(cl), &n) == SMILE_OK && (uint64_t)n > s->cfg.max_body)
            req->body_too_big = true;
        else if (n > 0)
            link_of(req)->body_expect = (size_t)n;
    }
    link_of(req)->srv = s;
    atomic_fetch_add(&s->inflight, 1);
    return req;
}

static void
request_free(struct http_request *req)
{
    if (req == NULL)
        return;
    if (link_of(req)->cleanup)
        link_of(req)->cleanup(link_of(req)->ud);
    free((char *)req->method_name);
    free((char *)req->path);
    free((char *)req->body);
    stream_release(req->stream); /* opened but never sent */
    buf_free(&req->out);
    for (int i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc)
{
    struct http_server *s = cls;
    struct http_request *req = *con_cls;

    (void)c;
    (void)tc;
    if (req == NULL)
        return;
    request_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static enum MHD_Result
send_response(struct http_server *s, struct MHD_Connection *c, struct http_request *req)
{
    struct MHD_Response *resp;
    enum MHD_Result r;
    int64_t dur;

    if (req->stream && req->status != 200) {
        stream_release(req->stream); /* the handler changed its mind */
        req->stream = NULL;
    }
    if (req->stream) {
        struct http_stream *st = req->stream;

        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st,
                                                 stream_free_cb);
        if (resp == NULL)
            return MHD_NO;  /* request_free releases the stream */
        req->stream = NULL; /* the response owns it now */
        req->content_type = "text/event-stream; charset=utf-8";
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    } else if (req->static_body) {
        resp = MHD_create_response_from_buffer(req->static_len, (void *)req->static_body,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len = req->out.len;
        char *data = buf_steal(&req->out);

        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    if (resp == NULL)
        return MHD_NO;
    if (req->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    r = MHD_queue_response(c, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    dur = time_mono_ns() - req->started_ns;
    log_info("msg=request method=%s path=\"%s\" status=%d dur_ms=%.3f req_id=%s addr=%s",
             req->method_name, req->path, req->status, (double)dur / 1e6, req->request_id,
             req->address);
    if (s->cfg.observe)
        s->cfg.observe(req, dur, s->cfg.ud);
    return r;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    struct http_server *s = cls;
    struct http_request *req = *con_cls;

    (void)version;
    if (req == NULL) {
        *con_cls = request_new(s, c, url, method);
        return MHD_YES;
    }
    if (link_of(req)->state == REQ_DONE) {
        if (link_of(req)->finish) {
            link_of(req)->finish(req, link_of(req)->ud);
            link_of(req)->finish = NULL;
        }
        return send_response(s, c, req);
    }
    if (link_of(req)->state == REQ_QUEUED)
        return MHD_YES; /* resumed spuriously: the worker has not finished */
    if (*upload_data_size) {
        if (!req->body_too_big) {
            if (req->body_len + *upload_data_size > s->cfg.max_body) {
                req->body_too_big = true;
                free((char *)req->body);
                req->body = NULL;
                req->body_len = 0;
                link_of(req)->body_cap = 0;
            } else {
                /* Sized once from Content-Length, else doubled: growing by each chunk
                 * libmicrohttpd hands over copied a 250 KB batch ~16 times (3% of its CPU). */
                struct req_link *k = link_of(req);
                size_t need = req->body_len + *upload_data_size + 1;
                char *b = (char *)req->body;

                if (need > k->body_cap) {
                    size_t cap = k->body_cap ? 2 * k->body_cap : 4096;
                    if (k->body_expect + 1 > cap)
                        cap = k->body_expect + 1;
                    if (cap < need)
                        cap = need;
                    b = xrealloc(b, cap);
                    k->body_cap = cap;
                }
                memcpy(b + req->body_len, upload_data, *upload_data_size);
                req->body_len += *upload_data_size;
                b[req->body_len] = '\0';
                req->body = b;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&s->closing)) {
        http_reply_error(req, SMILE_EBUSY, "the server is stopping; try again shortly");
        http_response_header(req, "Connection", "close");
        http_response_header(req, "Retry-After", "1");
    } else if (req->body_too_big) {
        http_reply_error(req, SMILE_ETOOBIG, "request body is larger than %zu bytes",
                         s->cfg.max_body);
    } else if (req->method != HTTP_GET && req->method != HTTP_HEAD && s->nworkers > 0 &&
               !(s->cfg.is_inline && s->cfg.is_inline(req, s->cfg.ud))) {
        link_of(req)->state = REQ_QUEUED;
        MHD_suspend_connection(c);
        pthread_mutex_lock(&s->mu);
        link_of(req)->next = NULL;
        if (s->tail)
            link_of(s->tail)->next = req;
        else
            s->head = req;
        s->tail = req;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    } else {
        s->cfg.dispatch(req, s->cfg.ud);
        if (link_of(req)->deferred)
            return MHD_YES; /* suspended: http_request_complete() resumes it */
    }
    return send_response(s, c, req);
}

void
http_request_defer(struct http_request *req, void (*finish)(struct http_request *req, void *ud),
                   void (*cleanup)(void *ud), void *ud)
{
    struct req_link *l = link_of(req);

    l->deferred = true;
    atomic_fetch_add(&l->srv->deferred, 1);
    l->finish = finish;
    l->cleanup = cleanup;
    l->ud = ud;
    if (l->state == REQ_NEW) { /* dispatched on an I/O thread: park the connection now */
        l->state = REQ_QUEUED;
        MHD_suspend_connection(req->conn);
    }
}

void
http_request_complete(struct http_request *req)
{
    struct http_server *s = link_of(req)->srv;

    link_of(req)->state = REQ_DONE;
    MHD_resume_connection(req->conn);
    atomic_fetch_sub(&s->deferred, 1);
}

/* A worker: takes suspended requests in arrival order, dispatches each (it may block on
 * a commit) and resumes its connection so that MHD sends the response. Drains the queue
 * before it exits. */
static void *
worker_main(void *arg)
{
    struct http_server *s = arg;

    for (;;) {
        struct http_request *req;

        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        req = s->head;
        if (req == NULL) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->head = link_of(req)->next;
        if (s->head == NULL)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        s->cfg.dispatch(req, s->cfg.ud);
        if (link_of(req)->deferred)
            continue; /* http_request_complete() resumes it */
        link_of(req)->state = REQ_DONE;
        MHD_resume_connection(req->conn);
    }
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("msg=\"httpd: %s\"", msg);
}

static int
parse_listen(const char *listen, struct sockaddr_in *sa, struct smile_err *err)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    int64_t port;

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
        str_to_int64(str_from(colon + 1), &port) != SMILE_OK || port < 0 || port > 65535)
        return smile_err_set(err, SMILE_EINVAL, "listen address '%s' is not HOST:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return smile_err_set(err, SMILE_EINVAL, "listen host '%s' is not an IPv4 address", host);
    sa->sin_port = htons((uint16_t)port);
    return SMILE_OK;
}

int
http_server_start(const struct http_server_config *cfg, struct http_server **out,
                  struct smile_err *err)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *di;
    int rc = parse_listen(cfg->listen, &sa, err);

    if (rc != SMILE_OK) {
        free(s);
        return rc;
    }
    s->cfg = *cfg;
    atomic_store(&request_seq, (uint64_t)time_now_ms() << 20);
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(cfg->threads > 0 ? cfg->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
        cfg->conn_limit ? cfg->conn_limit : 1024u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->per_ip_limit, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s ? cfg->timeout_s : 30u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (s->d == NULL) {
        free(s);
        return smile_err_set(err, SMILE_EIO, "cannot listen on %s (address in use?)", cfg->listen);
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : ntohs(sa.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->nworkers = cfg->workers;
    s->workers = xcalloc((size_t)(s->nworkers ? s->nworkers : 1), sizeof(pthread_t));
    for (int i = 0; i < s->nworkers; i++)
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
            fatal("cannot start HTTP worker thread %d", i);
    streams_start(cfg);
    *out = s;
    return SMILE_OK;
}

int
http_server_port(const struct http_server *s)
{
    return s->port;
}

int
http_server_inflight(const struct http_server *s)
{
    return atomic_load(&((struct http_server *)s)->inflight);
}

void
http_server_stop(struct http_server *s, int drain_ms)
{
    if (s == NULL)
        return;
    /* Requests that begin from now on are answered 503 with Connection: close. Not
     * MHD_quiesce_daemon(): with an epoll thread pool it races the pool's threads, which
     * take the listening socket out of their epoll sets themselves once they see the daemon
     * quiesced; when one does so first, quiesce's own EPOLL_CTL_DEL fails and libmicrohttpd
     * 0.9.75 aborts ("Failed to remove listen FD from epoll set", seen in a test run). */
    atomic_store(&s->closing, true);
    /* Streams never finish on their own: end them first, then drain the rest. */
    streams_stop(3000);
    /* In-flight counts requests not yet completed, including idle keep-alive ones that
     * have not started; wait for the busy ones only up to drain_ms. */
    for (int waited = 0; waited < drain_ms && atomic_load(&s->inflight) > 0; waited += 10)
        usleep(10000);
    /* Workers finish what is queued, then exit; their responses are sent before MHD
     * stops. */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    /* A deferred request's work (a queued ledger append) holds pointers into the request:
     * it must complete before MHD may free it. The ledger always completes what it queued,
     * so this waits for it however long, saying so every 5 s. */
    for (int waited = 0; atomic_load(&s->deferred) > 0; waited += 10) {
        if (waited > 0 && waited % 5000 == 0)
            log_warn("msg=\"waiting for deferred requests\" count=%d", atomic_load(&s->deferred));
        usleep(10000);
    }
    for (int waited = 0; waited < 1000 && atomic_load(&s->inflight) > 0; waited += 10)
        usleep(10000);
    MHD_stop_daemon(s->d); /* closes the listening socket too */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->workers);
    free(s);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_request_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool
http_request_cookie(const struct http_request *req, const char *name, char *out, size_t cap)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
    size_t n;

    if (v == NULL)
        return false;
    n = strlen(v);
    if (n >= cap)
        return false;
    memcpy(out, v, n + 1);
    return true;
}
