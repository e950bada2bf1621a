/*
 * http.h — the HTTP transport: a libmicrohttpd server that collects each request (with
 * a size-limited body) into a struct http_request, hands it to one dispatch callback (the
 * api part routes it) and sends back what the callback put in the response fields. Also
 * the JSON and problem+json (RFC 9457) helpers every handler uses. Only http/ includes
 * microhttpd.h.
 */
#ifndef SMILE_HTTP_H
#define SMILE_HTTP_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct http_server;

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_OTHER
};

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_RESP_HEADERS 8

struct http_header {
    char *name;
    char *value;
};

/* Who is calling; filled by the api layer's authentication. */
struct http_auth {
    int64_t user_id;   /* 0 = anonymous */
    char username[65]; /* up to 64 bytes + NUL */
    int role;          /* enum api_role bit of the user */
    int64_t team_id;   /* 0 = none */
    unsigned scopes;   /* API_SCOPE_* bits the caller holds */
    bool via_session;  /* cookie session (CSRF applies) rather than a bearer token */
    int64_t session_id;
    int64_t token_id;
    char csrf_token[48]; /* the session's CSRF token, for auth_csrf_ok() */
};

struct http_request {
    enum http_method method;
    const char *method_name;
    const char *path; /* decoded path, no query string */
    const char *body; /* NUL-terminated, may contain NULs; body_len counts bytes */
    size_t body_len;
    bool body_too_big;
    char request_id[20];
    char address[64];
    int64_t started_ns;
    void *conn; /* the transport's connection, for header and query look-ups */

    /* Set by routing. */
    int route;
    struct str params[HTTP_MAX_PARAMS];
    int nparams;
    struct http_auth auth;
    struct store *db;

    /* The response. */
    int status;
    const char *content_type;
    struct buf out;
    struct http_header headers[HTTP_MAX_RESP_HEADERS];
    int nheaders;
    /* A body that is not copied (static assets); used instead of out when set. */
    const void *static_body;
    size_t static_len;
    /* An event stream opened by http_stream_open(): the response is the stream. */
    struct http_stream *stream;
};

typedef void http_dispatch_fn(struct http_request *req, void *ud);
/* Called after each response is queued, for metrics. */
typedef void http_observe_fn(const struct http_request *req, int64_t dur_ns, void *ud);

struct http_server_config {
    const char *listen; /* "127.0.0.1:8080" */
    int threads;        /* I/O threads (MHD's pool): reads are answered on these */
    int workers;        /* threads for requests that write (may wait for a commit); 0 = inline */
    size_t max_body;
    unsigned conn_limit;
    unsigned per_ip_limit;
    unsigned timeout_s;
    unsigned max_streams;          /* open event streams at most (0 = 256) */
    unsigned max_streams_per_user; /* per signed-in user (0 = 8) */
    unsigned heartbeat_s;          /* comment line on idle streams every … s (0 = 15) */
    http_dispatch_fn *dispatch;
    http_observe_fn *observe;
    /* A write request that never blocks (it answers at once or defers, see
     * http_request_defer): dispatched on the I/O thread, without the hand-off to a worker.
     * NULL: every write goes to the workers. */
    bool (*is_inline)(const struct http_request *req, void *ud);
    void *ud;
};

/* Starts listening; returns once the socket is bound. Free with http_server_stop(). */
int http_server_start(const struct http_server_config *cfg, struct http_server **out,
                      struct smile_err *err);
/* Stops accepting, waits up to drain_ms for in-flight requests, then closes. */
void http_server_stop(struct http_server *s, int drain_ms);
/* The bound port (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Requests currently being handled. */
int http_server_inflight(const struct http_server *s);

/*
 * Server-Sent Events (text/event-stream). A GET handler turns its request into a stream
 * with http_stream_open() (after its checks: the response is then the stream, status 200),
 * may queue a backlog with http_stream_backlog() and must then call http_stream_ready().
 * From then on http_stream_publish() — callable from any thread, typically after a commit —
 * queues frames ("event: E\nid: N\ndata: JSON\n\n") to every matching stream. No thread
 * waits on a stream: a stream with nothing queued suspends its connection and a publish
 * resumes it; a heartbeat comment goes out on idle streams every heartbeat_s. The sockets of
 * suspended streams are probed once a second (and the user's at each open), so a client that
 * closed its connection frees its slot within a second; a user at max_streams_per_user who
 * opens another stream ends their oldest one instead of getting 503. A stream whose client reads
 * too slowly (over 256 KiB queued) is closed; the client reconnects with Last-Event-ID. Streams are
 * limited in total (max_streams, kept under three quarters of conn_limit so streams cannot starve
 * ordinary requests), per user, and per address (half of per_ip_limit). http_server_stop() ends
 * every stream before it drains.
 *
 * Notification frames carry ids (the notification id): publishes with an id at or below
 * the highest id a stream has queued are dropped, so a backlog and a live publish of the
 * same notification are sent once; publishes with ids that arrive before
 * http_stream_ready() are held and sent after the backlog.
 */
struct http_stream;
/* SMILE_EBUSY (with a message) when a limit is reached. role is the caller's role bit. */
int http_stream_open(struct http_request *req, int64_t user_id, unsigned role,
                     struct smile_err *err);
void http_stream_backlog(struct http_request *req, const char *event, int64_t id, const char *json);
void http_stream_ready(struct http_request *req);
/*
 * Queues one event to the streams of user_id, or, with user_id 0, to every stream whose
 * role bit is in roles. id 0 = no id line. json must be one line (compact JSON). Returns
 * the number of streams it was queued to.
 */
int http_stream_publish(int64_t user_id, unsigned roles, const char *event, int64_t id,
                        const char *json);
/* Streams open now (for /metrics and tests); ended ones not yet released do not count. */
int http_stream_count(void);
/* Streams ended since start because their client had left (*out_closed), and ended to make
 * room for a newer stream of the same user (*out_evicted). */
void http_stream_stats(uint64_t *out_closed, uint64_t *out_evicted);

/* Request accessors. Returned strings belong to the request. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_request_query(const struct http_request *req, const char *name);
/* Copies the named cookie's value into out (NUL-terminated); false if absent. */
bool http_request_cookie(const struct http_request *req, const char *name, char *out, size_t cap);

/*
 * Deferred answers, for a handler that hands its work to another thread instead of waiting
 * (ledger_append_async). Call http_request_defer() BEFORE the hand-off (it parks the
 * connection) and return; the other thread calls http_request_complete() exactly once when
 * the work is done. finish(req, ud), if not NULL, then runs on an I/O thread to set the answer
 * (status, body, headers) just before it is sent; cleanup(ud), if not NULL, runs when the
 * request is freed (sent or not), so ud must outlive neither. The hand-off must reach
 * http_request_complete() even on failure (finish can answer with the error).
 */
void http_request_defer(struct http_request *req,
                        void (*finish)(struct http_request *req, void *ud),
                        void (*cleanup)(void *ud), void *ud);
void http_request_complete(struct http_request *req);

/* Response helpers. Header name and value are copied. */
void http_response_header(struct http_request *req, const char *name, const char *value);
/* Sets status and a JSON body; takes the reference to body (json_decref'd). */
void http_reply_json(struct http_request *req, int status, json_t *body);
/* A problem+json response from err (status from its code; fields as "errors"). */
void http_reply_problem(struct http_request *req, const struct smile_err *err);
/* Shorthand for a problem without field detail. */
void http_reply_error(struct http_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_empty(struct http_request *req, int status);
void http_reply_text(struct http_request *req, int status, const char *content_type,
                     const char *text, size_t len);

/*
 * Parses the request body as a JSON object. Malformed JSON → SMILE_EMALFORMED with line
 * and column; not an object → SMILE_EINVAL. The caller owns *out (json_decref).
 */
int http_body_json(const struct http_request *req, json_t **out, struct smile_err *err);

/* Serialises JSON compactly into b (keys in insertion order, UTF-8 kept). */
void http_json_dump(struct buf *b, const json_t *v);

#endif
