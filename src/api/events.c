/*
 * events.c — the ledger's HTTP face: POST /api/v1/events takes one event or a batch,
 * validates all of it (422 with the pointer of every bad field, nothing written), hands
 * it to the ledger's group commit and answers only after COMMIT with each event's id and
 * whether it was created or a duplicate; GET lists events by subject, type and time with
 * a cursor, or reads one. Events are never changed or removed through the API.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/json_arena.h"
#include "ledger/ledger.h"

/*
 * Agents act through CRM functions, with one exception: the counter (reception desk) has
 * no CRM record to act on, so an agent may post visit.* events, and only as themselves
 * (actor absent → the agent; another actor → 403). Anything else an agent posts is refused
 * whole, naming the first event that is not allowed.
 */
static bool
agent_may_post(struct http_request *req, struct ledger_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct ledger_event *ev = &b->evs[i];

        if (strncmp(ev->type, "visit.", 6) != 0) {
            http_reply_error(req, SMILE_EPERM,
                             "agents may post only visit.* events (the counter); event %zu is %s",
                             i, ev->type);
            return false;
        }
        if (ev->actor == NULL) {
            ev->actor = req->auth.username;
        } else if (strcmp(ev->actor, req->auth.username) != 0) {
            http_reply_error(req, SMILE_EPERM,
                             "agents post visit events only as themselves; event %zu names %s", i,
                             ev->actor);
            return false;
        }
    }
    return true;
}

/* Appends v in decimal. */
static void
put_uint(struct buf *b, uint64_t v)
{
    char d[24];
    size_t n = sizeof(d);

    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, d + n, sizeof(d) - n);
}

/* Bodies from this size on (an import's batch) parse into a json_arena. */
#define ARENA_MIN_BODY (64 * 1024)

/*
 * A POST in flight. The route is API_INLINE: the I/O thread that read the request parses and
 * validates it, parks the connection (http_request_defer) and queues the events with
 * ledger_append_async; no thread waits for the commit. The committer calls appended() after
 * COMMIT, which only resumes the connection; answer() renders the reply on the I/O thread.
 * The body, the parsed events (which borrow from it) and the results live here until the
 * request is freed.
 */
struct post {
    json_t *body;
    struct json_arena *arena; /* body's tree, for a large body (ARENA_MIN_BODY) */
    struct ledger_batch b;
    struct ledger_result *out;
    struct smile_err err;
    int rc;
    struct http_request *req;
};

/*
 * A few freed posts are kept per I/O thread (a post is taken and freed on the thread that
 * serves its connection): a post is ~10 KiB, mostly its smile_err, and a fresh calloc of
 * that size per request zeroed it and, as a large-bin request, made glibc consolidate its
 * fast bins — 3–4% of a single event's CPU in the profile.
 */
#define POST_CACHE 32
static _Thread_local struct post *post_cache[POST_CACHE];
static _Thread_local int post_cached;
static pthread_key_t post_key; /* its destructor empties a thread's cache at thread exit */
static pthread_once_t post_once = PTHREAD_ONCE_INIT;

static void
post_cache_drop(void *unused)
{
    (void)unused;
    while (post_cached > 0)
        free(post_cache[--post_cached]);
}

static void
post_key_init(void)
{
    pthread_key_create(&post_key, post_cache_drop);
}

static struct post *
post_new(struct http_request *req)
{
    struct post *p = post_cached ? post_cache[--post_cached] : xmalloc(sizeof(*p));

    p->body = NULL;
    p->arena = NULL;
    memset(&p->b, 0, sizeof(p->b));
    p->out = NULL;
    smile_err_clear(&p->err);
    p->rc = SMILE_OK;
    p->req = req;
    return p;
}

static void
post_free(void *ud)
{
    struct post *p = ud;

    free(p->out);
    ledger_batch_free(&p->b);
    json_decref(p->body);
    json_arena_free(p->arena); /* after the tree: nothing of it is used beyond here */
    if (post_cached == 0) {    /* (re)arm the destructor: it runs only with a non-NULL value */
        pthread_once(&post_once, post_key_init);
        pthread_setspecific(post_key, post_cache);
    }
    if (post_cached < POST_CACHE)
        post_cache[post_cached++] = p;
    else
        free(p);
}

/* The deferred request's finish (http_request_defer): its answer, on the I/O thread. */
static void
answer(struct http_request *req, void *ud)
{
    const struct post *p = ud;
    size_t created = 0;

    if (p->rc != SMILE_OK) {
        http_reply_problem(req, &p->err);
        if (p->rc == SMILE_EBUSY)
            http_response_header(req, "Retry-After", "1");
        return;
    }
    /* Rendered by hand, numbers without printf (two vsnprintf calls per buf_printf): a
     * 10,000-event answer is the hot path's largest output. */
    buf_reset(&req->out);
    for (size_t i = 0; i < p->b.n; i++)
        created += p->out[i].status == LEDGER_CREATED;
    buf_puts(&req->out, "{\"created\":");
    put_uint(&req->out, created);
    buf_puts(&req->out, ",\"duplicates\":");
    put_uint(&req->out, p->b.n - created);
    buf_puts(&req->out, ",\"results\":[");
    for (size_t i = 0; i < p->b.n; i++) {
        buf_puts(&req->out, i ? ",{\"index\":" : "{\"index\":");
        put_uint(&req->out, i);
        buf_puts(&req->out, ",\"id\":");
        put_uint(&req->out, p->out[i].id > 0 ? (uint64_t)p->out[i].id : 0);
        buf_puts(&req->out, p->out[i].status == LEDGER_CREATED ? ",\"status\":\"created\"}"
                                                               : ",\"status\":\"duplicate\"}");
    }
    buf_puts(&req->out, "]}");
    req->status = created ? 201 : 200;
    req->content_type = "application/json";
}

static void
appended(int rc, void *ud)
{
    struct post *p = ud;

    p->rc = rc;
    http_request_complete(p->req);
}

void
api_events_post(struct http_request *req)
{
    struct post *p = post_new(req);
    int rc, prc;

    /* A batch's tree (~20 allocations an event) is cut from an arena and released in one
     * step (http/json_arena.c); a single event's is not worth a slot. The arena covers the
     * parse only: what ledger_batch_parse allocates (canonical data) is plain malloc. */
    if (req->body_len >= ARENA_MIN_BODY) {
        p->arena = json_arena_new();
        json_arena_begin(p->arena);
    }
    prc = http_body_json(req, &p->body, &p->err);
    json_arena_end();
    if (prc != SMILE_OK || ledger_batch_parse(p->body, &p->b, &p->err) != SMILE_OK) {
        http_reply_problem(req, &p->err);
        post_free(p);
        return;
    }
    if (req->auth.role == API_ROLE_AGENT && !agent_may_post(req, &p->b)) {
        post_free(p);
        return;
    }
    p->out = xcalloc(p->b.n, sizeof(*p->out));
    http_request_defer(req, answer, post_free, p);
    rc = ledger_append_async(api_app()->ledger, p->b.evs, p->b.n, p->out, &p->err, appended, p);
    if (rc != SMILE_OK) { /* refused at once (busy, too big): done is not called */
        p->rc = rc;
        http_request_complete(req);
    }
}

/* Reads an optional RFC 3339 query parameter; false (422 sent) if malformed. */
static bool
query_time(struct http_request *req, const char *name, int64_t *out, struct smile_err *err)
{
    const char *v = http_request_query(req, name);
    char ptr[32];

    if (v == NULL)
        return true;
    if (time_parse_rfc3339(v, strlen(v), out) == SMILE_OK)
        return true;
    snprintf(ptr, sizeof(ptr), "/query/%s", name);
    smile_err_field(err, ptr, "must be an RFC 3339 time such as 2026-11-29T09:08:53Z");
    return false;
}

void
api_events_list(struct http_request *req)
{
    struct smile_err err;
    struct ledger_query q = {.from = INT64_MIN, .to = INT64_MAX};
    const char *cursor = http_request_query(req, "cursor");
    json_t *events = NULL, *body;
    bool more = false, ok = true;
    int64_t last_at = 0, last_id = 0;
    char next[48];

    smile_err_clear(&err);
    if (!api_query_limit(req, &q.limit))
        return;
    q.subject = http_request_query(req, "subject");
    q.type = http_request_query(req, "type");
    if (q.subject && q.subject[0] == '\0')
        q.subject = NULL;
    if (q.type && q.type[0] == '\0')
        q.type = NULL;
    ok &= query_time(req, "from", &q.from, &err);
    ok &= query_time(req, "to", &q.to, &err);
    if (cursor && cursor[0]) {
        if (ledger_cursor_parse(cursor, &q.after_at, &q.after_id) == SMILE_OK)
            q.has_cursor = true;
        else
            ok = smile_err_field(&err, "/query/cursor", "is not a cursor returned by this list") ==
                 SMILE_OK;
    }
    if (!ok) {
        http_reply_problem(req, &err);
        return;
    }
    if (ledger_list(req->db, &q, &events, &more, &last_at, &last_id, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    body = json_object();
    json_object_set_new(body, "events", events);
    if (more) {
        ledger_cursor_format(last_at, last_id, next, sizeof(next));
        json_object_set_new(body, "next_cursor", json_string(next));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    http_reply_json(req, 200, body);
}

void
api_events_get(struct http_request *req)
{
    struct smile_err err;
    json_t *ev;
    int64_t id;

    smile_err_clear(&err);
    if (!api_param_id(req, 0, &id))
        return;
    if (ledger_get(req->db, id, &ev, &err) != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    http_reply_json(req, 200, ev);
}
