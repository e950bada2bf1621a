/*
 * ami_client.c — the live PBX source: a thread that holds a TCP connection to the
 * Asterisk Manager Interface, logs in with "Events: call,agent", feeds what arrives to
 * the AMI parser (ami.c) and the mapper (pbx_map.c), and hands each read's events to a
 * sink (by default intake_append on its own database connection). Any failure — refused
 * connection, bad login, dropped socket, silent peer — leads to a reconnect after an
 * exponential back-off with jitter. Started by `smile serve` when ami_host is set; its
 * state feeds /readyz and /metrics.
 *
 * State machine:
 *   CONNECTING --login accepted--> CONNECTED --EOF/error/ping timeout--> BACKOFF
 *   CONNECTING --refused/auth failed--------------------------------------> BACKOFF
 *   BACKOFF --delay elapsed--> CONNECTING        any --stop--> STOPPED
 * The delay starts at backoff_min, doubles after each failed attempt up to backoff_max,
 * is drawn uniformly from [delay/2, delay], and resets after a successful login.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "intake/intake.h"
#include "ledger/ledger.h"
#include "store/store.h"

struct ami_client {
    struct ami_client_options o;
    intake_sink_fn *sink;
    void *ud;
    pthread_t thread;
    pthread_mutex_t mu;
    struct ami_client_stats st;
    int wake[2]; /* a pipe: stop writes a byte so poll() returns at once */
    bool stop;
    struct store *db; /* default sink and agent_map */
    unsigned seed;
};

static struct ami_client *active;
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;

struct ami_client *
ami_client_active(void)
{
    struct ami_client *c;

    pthread_mutex_lock(&active_mu);
    c = active;
    pthread_mutex_unlock(&active_mu);
    return c;
}

const char *
ami_state_name(enum ami_state s)
{
    switch (s) {
    case AMI_CONNECTING:
        return "connecting";
    case AMI_CONNECTED:
        return "connected";
    case AMI_BACKOFF:
        return "backoff";
    default:
        return "stopped";
    }
}

static void
set_state(struct ami_client *c, enum ami_state s)
{
    pthread_mutex_lock(&c->mu);
    c->st.state = s;
    if (s != AMI_CONNECTED)
        c->st.connected_at = 0;
    pthread_mutex_unlock(&c->mu);
}

static void
set_error(struct ami_client *c, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&c->mu);
    snprintf(c->st.last_error, sizeof(c->st.last_error), fmt, detail);
    c->st.last_error_at = time_now_ms();
    pthread_mutex_unlock(&c->mu);
    log_warn("msg=\"ami: %s\" host=%s port=%d", c->st.last_error, c->o.host, c->o.port);
}

static bool
stopping(struct ami_client *c)
{
    bool s;

    pthread_mutex_lock(&c->mu);
    s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Waits up to ms for fd to be readable (or writable); false on stop or timeout. */
static int
wait_fd(struct ami_client *c, int fd, short events, int ms)
{
    struct pollfd p[2] = {{fd, events, 0}, {c->wake[0], POLLIN, 0}};
    int r;

    do
        r = poll(p, 2, ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || (p[1].revents & POLLIN))
        return r < 0 ? -1 : (p[1].revents & POLLIN) ? -2 : 0;
    return 1;
}

static int
dial(struct ami_client *c)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", c->o.port);
    rc = getaddrinfo(c->o.host, port, &hints, &res);
    if (rc != 0) {
        set_error(c, "cannot resolve host: %s", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        set_error(c, "connect failed: %s", strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Through the ledger's writer (group commit, post-commit hooks). Events the ledger's
 * validation refuses are dropped with a log line; the rest are appended all or none. */
static int
ledger_sink(struct ami_client *c, json_t *events, struct intake_counts *n, struct smile_err *err)
{
    size_t cnt = json_array_size(events), k = 0, i;
    struct ledger_event *evs = xcalloc(cnt, sizeof(*evs));
    struct ledger_result *res = xcalloc(cnt, sizeof(*res));
    char **datas = xcalloc(cnt, sizeof(*datas));
    json_t *ev;
    int rc = SMILE_OK;

    memset(n, 0, sizeof(*n));
    json_array_foreach(events, i, ev)
    {
        struct smile_err verr;

        smile_err_clear(&verr);
        if (ledger_event_parse(ev, "", &evs[k], &datas[k], &verr) != SMILE_OK) {
            log_warn("msg=\"ami: event refused\" source_id=\"%s\" error=\"%s %s\"",
                     json_string_value(json_object_get(ev, "source_id")),
                     verr.nfields ? verr.fields[0].path : "",
                     verr.nfields ? verr.fields[0].msg : verr.msg);
            free(datas[k]);
            datas[k] = NULL;
            n->rejected++;
            continue;
        }
        evs[k].data = datas[k];
        k++;
    }
    if (k)
        rc = ledger_append(c->o.ledger, evs, k, res, err);
    for (i = 0; rc == SMILE_OK && i < k; i++) {
        if (res[i].status == LEDGER_CREATED)
            n->created++;
        else
            n->duplicates++;
    }
    for (i = 0; i < k; i++)
        free(datas[i]);
    free(datas);
    free(res);
    free(evs);
    return rc;
}

static int
default_sink(json_t *events, void *ud, struct smile_err *err)
{
    struct ami_client *c = ud;
    struct intake_counts n;
    int rc =
        c->o.ledger ? ledger_sink(c, events, &n, err) : intake_append(c->db, events, NULL, &n, err);

    if (rc == SMILE_OK) {
        pthread_mutex_lock(&c->mu);
        c->st.events_created += (uint64_t)n.created;
        c->st.events_duplicate += (uint64_t)n.duplicates;
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

/* Hands the pending events to the sink; on failure they stay for the next try. */
static void
deliver(struct ami_client *c, json_t *batch)
{
    struct smile_err err;

    if (json_array_size(batch) == 0)
        return;
    smile_err_clear(&err);
    if (c->sink(batch, c->ud, &err) != SMILE_OK) {
        pthread_mutex_lock(&c->mu);
        c->st.append_errors++;
        pthread_mutex_unlock(&c->mu);
        log_error("msg=\"ami: append failed, will retry\" error=\"%s\" pending=%zu", err.msg,
                  json_array_size(batch));
        return;
    }
    json_array_clear(batch);
}

/*
 * One connection's life: login, then packets until the peer goes away, an error, or
 * stop. The mapper m outlives connections, so a call spanning a reconnect keeps its
 * counters. Returns after closing fd.
 */
static void
session(struct ami_client *c, int fd, struct pbx_map *m, json_t *batch)
{
    struct ami_parser p;
    struct ami_packet pk;
    struct buf login;
    char chunk[16384];
    bool logged_in = false, ping_out = false;
    int64_t last_rx = time_mono_ns() / 1000000;

    ami_parser_init(&p);
    buf_init(&login, 0);
    buf_printf(&login,
               "Action: Login\r\nActionID: smile-login\r\nUsername: %s\r\nSecret: %s\r\n"
               "Events: call,agent\r\n\r\n",
               c->o.user, c->o.secret);
    if (send_all(fd, login.data, login.len) != 0) {
        set_error(c, "send failed: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        int64_t now = time_mono_ns() / 1000000;
        int w = wait_fd(c, fd, POLLIN, 500);
        ssize_t r;

        if (w == -2 || stopping(c))
            break;
        if (w == 0) {
            if (!ping_out && now - last_rx > c->o.idle_ping_ms) {
                static const char ping[] = "Action: Ping\r\nActionID: smile-ping\r\n\r\n";

                if (send_all(fd, ping, sizeof(ping) - 1) != 0) {
                    set_error(c, "send failed: %s", strerror(errno));
                    break;
                }
                ping_out = true;
            } else if (ping_out && now - last_rx > c->o.idle_ping_ms + 30000) {
                set_error(c, "%s", "no answer to Ping: connection presumed dead");
                break;
            }
            continue;
        }
        if (w < 0) {
            set_error(c, "poll failed: %s", strerror(errno));
            break;
        }
        r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            set_error(c, "%s", r == 0 ? "connection closed by the PBX" : strerror(errno));
            break;
        }
        last_rx = now;
        ping_out = false;
        ami_parser_feed(&p, chunk, (size_t)r);
        while (ami_parser_next(&p, &pk)) {
            struct str resp = ami_packet_get(&pk, "Response");
            struct str id = ami_packet_get(&pk, "ActionID");

            if (resp.p) {
                if (!logged_in && id.p && str_eq(id, "smile-login")) {
                    if (!str_eq(resp, "Success")) {
                        struct str msg = ami_packet_get(&pk, "Message");
                        char t[120];

                        snprintf(t, sizeof(t), "%.*s", msg.p ? (int)msg.len : 0,
                                 msg.p ? msg.p : "");
                        set_error(c, "login refused: %s", t);
                        goto out;
                    }
                    logged_in = true;
                    pthread_mutex_lock(&c->mu);
                    c->st.state = AMI_CONNECTED;
                    c->st.connected_at = time_now_ms();
                    c->st.connects++;
                    c->st.backoff_ms = 0;
                    pthread_mutex_unlock(&c->mu);
                    log_info("msg=\"ami: logged in\" host=%s port=%d version=%s", c->o.host,
                             c->o.port, p.banner[0] ? p.banner : "?");
                }
                continue;
            }
            if (ami_packet_get(&pk, "Event").p == NULL)
                continue;
            {
                size_t before = json_array_size(batch);

                pbx_map_ami(m, &pk, time_now_ms(), batch);
                pthread_mutex_lock(&c->mu);
                c->st.packets++;
                c->st.events_mapped += json_array_size(batch) - before;
                pthread_mutex_unlock(&c->mu);
            }
        }
        deliver(c, batch);
    }
    if (logged_in && stopping(c)) {
        static const char bye[] = "Action: Logoff\r\nActionID: smile-logoff\r\n\r\n";

        (void)send_all(fd, bye, sizeof(bye) - 1);
    }
out:
    deliver(c, batch);
    buf_free(&login);
    ami_parser_free(&p);
    close(fd);
}

static void *
run(void *arg)
{
    struct ami_client *c = arg;
    json_t *agents = json_object(), *batch = json_array();
    struct pbx_map *m = NULL;
    int delay = c->o.backoff_min_ms;

    while (!stopping(c)) {
        struct smile_err err;
        int fd, wait_ms;

        set_state(c, AMI_CONNECTING);
        smile_err_clear(&err);
        /* Refresh the agent map on every connect (cheap; picks up `smile agent map`). */
        if (c->db == NULL && store_open(c->o.db_path, 0, &c->db, &err) != SMILE_OK) {
            set_error(c, "cannot open database: %s", err.msg);
            c->db = NULL;
        } else {
            json_t *fresh = NULL;

            /* The mapper keeps a pointer to agents, so it is updated in place. */
            if (intake_agent_map_load(c->db, c->o.source, &fresh, &err) == SMILE_OK) {
                json_object_clear(agents);
                json_object_update(agents, fresh);
                json_decref(fresh);
            }
        }
        if (m == NULL)
            m = pbx_map_new(c->o.source, intake_agent_lookup, agents);
        if (c->db) {
            fd = dial(c);
            if (fd >= 0)
                session(c, fd, m, batch);
            pbx_map_prune(m, time_now_ms(), 6 * 3600 * 1000);
        }
        if (stopping(c))
            break;
        pthread_mutex_lock(&c->mu);
        if (c->st.connected_at || c->st.state == AMI_CONNECTED)
            delay = c->o.backoff_min_ms;
        c->st.disconnects++;
        c->st.state = AMI_BACKOFF;
        c->st.connected_at = 0;
        c->st.backoff_ms = delay;
        pthread_mutex_unlock(&c->mu);
        wait_ms = delay / 2 + (int)(rand_r(&c->seed) % (unsigned)(delay / 2 + 1));
        if (wait_fd(c, -1, 0, wait_ms) == -2)
            break;
        delay = delay * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms : delay * 2;
    }
    set_state(c, AMI_STOPPED);
    pbx_map_free(m);
    json_decref(agents);
    json_decref(batch);
    return NULL;
}

int
ami_client_start(const struct ami_client_options *o, intake_sink_fn *sink, void *ud,
                 struct ami_client **out, struct smile_err *err)
{
    struct ami_client *c;

    if (o->source && o->source[0] && !intake_source_valid(o->source))
        return smile_err_set(err, SMILE_EINVAL,
                             "ami_source must be 1-64 characters of a-z 0-9 _ . : -");
    c = xcalloc(1, sizeof(*c));
    c->o = *o;
    c->o.host = xstrdup(o->host ? o->host : "127.0.0.1");
    c->o.user = xstrdup(o->user ? o->user : "");
    c->o.secret = xstrdup(o->secret ? o->secret : "");
    c->o.source = xstrdup(o->source && o->source[0] ? o->source : "asterisk");
    c->o.db_path = xstrdup(o->db_path ? o->db_path : "");
    if (c->o.port <= 0)
        c->o.port = 5038;
    if (c->o.backoff_min_ms <= 0)
        c->o.backoff_min_ms = 1000;
    if (c->o.backoff_max_ms < c->o.backoff_min_ms)
        c->o.backoff_max_ms = 60000 > c->o.backoff_min_ms ? 60000 : c->o.backoff_min_ms;
    if (c->o.idle_ping_ms <= 0)
        c->o.idle_ping_ms = 60000;
    c->sink = sink ? sink : default_sink;
    c->ud = sink ? ud : c;
    c->seed = (unsigned)time_mono_ns() ^ (unsigned)getpid();
    pthread_mutex_init(&c->mu, NULL);
    if (pipe2(c->wake, O_CLOEXEC) != 0) {
        smile_err_set(err, SMILE_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    c->st.state = AMI_CONNECTING;
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        smile_err_set(err, SMILE_EIO, "cannot start the AMI thread");
        close(c->wake[0]);
        close(c->wake[1]);
        goto fail;
    }
    pthread_mutex_lock(&active_mu);
    active = c;
    pthread_mutex_unlock(&active_mu);
    *out = c;
    return SMILE_OK;
fail:
    pthread_mutex_destroy(&c->mu);
    free((char *)c->o.host);
    free((char *)c->o.user);
    free((char *)c->o.secret);
    free((char *)c->o.source);
    free((char *)c->o.db_path);
    free(c);
    return err->code;
}

void
ami_client_stop(struct ami_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&active_mu);
    if (active == c)
        active = NULL;
    pthread_mutex_unlock(&active_mu);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_mutex_unlock(&c->mu);
    if (write(c->wake[1], "x", 1) < 0)
        log_warn("msg=\"ami: cannot wake the thread\"");
    pthread_join(c->thread, NULL);
    close(c->wake[0]);
    close(c->wake[1]);
    store_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free((char *)c->o.host);
    free((char *)c->o.user);
    free((char *)c->o.secret);
    free((char *)c->o.source);
    free((char *)c->o.db_path);
    free(c);
}

void
ami_client_stats(struct ami_client *c, struct ami_client_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

json_t *
ami_client_status_json(struct ami_client *c)
{
    struct ami_client_stats s;
    char t[TIME_RFC3339_LEN + 1];
    json_t *o;

    ami_client_stats(c, &s);
    o = json_pack("{s:s, s:b, s:s, s:i, s:I, s:I, s:I, s:I}", "state", ami_state_name(s.state),
                  "connected", s.state == AMI_CONNECTED, "host", c->o.host, "port", c->o.port,
                  "connects", (json_int_t)s.connects, "disconnects", (json_int_t)s.disconnects,
                  "packets", (json_int_t)s.packets, "events", (json_int_t)s.events_mapped);
    if (s.last_error_at) {
        time_format_rfc3339(s.last_error_at, t);
        json_object_set_new(o, "last_error", json_string(s.last_error));
        json_object_set_new(o, "last_error_at", json_string(t));
    }
    if (s.state == AMI_BACKOFF)
        json_object_set_new(o, "backoff_ms", json_integer(s.backoff_ms));
    json_object_set_new(o, "events_created", json_integer((json_int_t)s.events_created));
    json_object_set_new(o, "events_duplicate", json_integer((json_int_t)s.events_duplicate));
    return o;
}

void
ami_client_metrics_render(struct ami_client *c, struct buf *b)
{
    struct ami_client_stats s;

    ami_client_stats(c, &s);
    buf_printf(b,
               "# HELP smile_ami_connected 1 if logged in to the Asterisk Manager Interface\n"
               "# TYPE smile_ami_connected gauge\nsmile_ami_connected %d\n"
               "# TYPE smile_ami_connects_total counter\nsmile_ami_connects_total %llu\n"
               "# TYPE smile_ami_disconnects_total counter\nsmile_ami_disconnects_total %llu\n"
               "# TYPE smile_ami_packets_total counter\nsmile_ami_packets_total %llu\n"
               "# TYPE smile_ami_events_total counter\nsmile_ami_events_total %llu\n"
               "# TYPE smile_ami_append_errors_total counter\n"
               "smile_ami_append_errors_total %llu\n",
               s.state == AMI_CONNECTED, (unsigned long long)s.connects,
               (unsigned long long)s.disconnects, (unsigned long long)s.packets,
               (unsigned long long)s.events_mapped, (unsigned long long)s.append_errors);
}
