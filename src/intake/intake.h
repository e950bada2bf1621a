/*
 * intake.h — the Asterisk PBX sources: the queue_log parser (flat file lines and
 * realtime database rows), the AMI packet parser, and the mapper that turns either into
 * Smile events (call.offered, call.ringing, call.answered, …, agent.login …) as jansson
 * objects in exactly the API's event shape. These three are pure: no I/O, no clock, no
 * globals; state lives in the structs the caller owns. The I/O edges — the import
 * command (src/cli/import_pbx.c), the AMI client thread (ami_client.c) and the tables
 * agent_map and intake_cursor (intake_store.c) — are declared at the end.
 *
 * Flow: queue_log line / AMI packet → qlog_line_parse / ami_parser_feed → pbx_map_qlog /
 * pbx_map_ami → JSON events → intake_append (→ ledger) .
 */
#ifndef SMILE_INTAKE_H
#define SMILE_INTAKE_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct ledger;

/* queue_log ----------------------------------------------------------------------------- */

/*
 * Every event kind of SOURCES.md §1.3. QLOG_CUSTOM is any other name (dialplan
 * QueueLog(), AMI QueueLog): parsed and kept, mapped to no event.
 */
enum qlog_kind {
    QLOG_CUSTOM = 0,
    QLOG_ENTERQUEUE,
    QLOG_RINGNOANSWER,
    QLOG_RINGCANCELED,
    QLOG_CONNECT,
    QLOG_COMPLETEAGENT,
    QLOG_COMPLETECALLER,
    QLOG_ABANDON,
    QLOG_EXITWITHTIMEOUT,
    QLOG_EXITEMPTY,
    QLOG_EXITWITHKEY,
    QLOG_WITHDRAW,
    QLOG_AGENTDUMP,
    QLOG_SYSCOMPAT,
    QLOG_TRANSFER,
    QLOG_BLINDTRANSFER,
    QLOG_ATTENDEDTRANSFER,
    QLOG_ADDMEMBER,
    QLOG_REMOVEMEMBER,
    QLOG_PAUSE,
    QLOG_UNPAUSE,
    QLOG_PAUSEALL,
    QLOG_UNPAUSEALL,
    QLOG_PENALTY,
    QLOG_RINGINUSE,
    QLOG_AGENTLOGIN,
    QLOG_AGENTLOGOFF,
    QLOG_AGENTCALLBACKLOGIN,
    QLOG_AGENTCALLBACKLOGOFF,
    QLOG_QUEUESTART,
    QLOG_CONFIGRELOAD,
    QLOG_OUTCALL,
    QLOG_KIND_COUNT
};

/* The event name as written in queue_log ("ENTERQUEUE"); "custom" for QLOG_CUSTOM. */
const char *qlog_kind_name(enum qlog_kind k);
/* The kind for an event name (exact, case-sensitive as Asterisk writes it). */
enum qlog_kind qlog_kind_from(struct str name);

#define QLOG_MAX_FIELDS 8 /* data fields split at most; the last keeps the remainder */

/*
 * One parsed queue_log record. Every struct str points into the caller's input (line
 * or row strings) and is valid as long as that input. Numbers not present are -1.
 * Which fields are filled depends on kind (table in queue_log.c).
 */
struct qlog_line {
    int64_t at_ms;   /* event time, ms UTC (file: epoch s × 1000; row: µs truncated) */
    int64_t epoch_s; /* event time, whole seconds (floor) */
    struct str callid, queue, agent, event;
    enum qlog_kind kind;
    struct str data;                    /* everything after the 5th column, unsplit */
    struct str fields[QLOG_MAX_FIELDS]; /* data split on '|' (see nfields) */
    int nfields;
    int version; /* variant seen: e.g. CONNECT 14 (2 fields) or 16 (3); 0 = only one form */
    /* typed values */
    struct str url, caller_num, caller_name, member_uniqueid, key, text, extension, context, method,
        method_data1, method_data2, channel, status;
    int64_t position, orig_position, waittime_s, holdtime_s, calltime_s, ringtime_s, ring_ms,
        penalty, ringinuse, logintime_s, talktime_s;
    bool paused; /* ADDMEMBER "PAUSED" */
};

/* Why a line was refused; msg is for the import report ("CONNECT: holdtime is not a number"). */
struct qlog_error {
    char msg[160];
};

/*
 * Parses one queue_log file line `epoch|callid|queue|agent|event|data…` (len bytes, no
 * trailing newline needed; a trailing '\r' or '\n' is ignored). The first five columns
 * are split; the data is split per event, free text (pause reasons, custom text, caller
 * names, withdraw info) keeps any '|'. Returns SMILE_OK, or SMILE_EINVAL with err->msg
 * (bad epoch, fewer than five columns, empty event, a missing or non-numeric number).
 */
int qlog_line_parse(const char *line, size_t len, struct qlog_line *out, struct qlog_error *err);

/*
 * A realtime queue_log row (extconfig.conf → database). time is "YYYY-MM-DD HH:MM:SS[.ffffff]"
 * in the PBX's local time unless queue_log_realtime_use_gmt = yes; utc_offset_s is that
 * zone's offset east of UTC (CST = 28800; 0 for gmt). data[0..4] are data1..data5 (NULL
 * = empty; data5 holds the unsplit remainder), or, for the single-column layout, pass the
 * whole data string as data[0] and NULL for the rest with single_data = true.
 */
struct qlog_row {
    const char *time, *callid, *queuename, *agent, *event;
    const char *data[5];
    bool single_data;
};

/*
 * Parses a row like qlog_line_parse. The joined data is kept in *scratch (the caller
 * owns it; out points into it and the row's strings, so both must outlive out).
 */
int qlog_row_parse(const struct qlog_row *row, int64_t utc_offset_s, struct buf *scratch,
                   struct qlog_line *out, struct qlog_error *err);

/* AMI ----------------------------------------------------------------------------------- */

#define AMI_MAX_HEADERS 64
#define AMI_MAX_PACKET 65536 /* bytes of one packet; longer packets are dropped whole */

/* One packet: its headers in order. Views point into the parser's buffer. */
struct ami_packet {
    struct str keys[AMI_MAX_HEADERS];
    struct str values[AMI_MAX_HEADERS];
    int n;
    bool truncated; /* more than AMI_MAX_HEADERS headers: the rest were dropped */
};

/* Value of the first header named key (case-insensitive), or a NULL view. */
struct str ami_packet_get(const struct ami_packet *p, const char *key);

/*
 * Incremental AMI reader: feed it bytes as they arrive (any split: partial lines, CRLF
 * or bare LF), take complete packets out. The first line of a connection is the banner
 * "Asterisk Call Manager/X.Y.Z" (no blank line after it).
 */
struct ami_parser {
    struct buf in; /* unconsumed bytes */
    size_t pos;    /* start of the next packet in in */
    bool banner_done;
    char banner[128];  /* the version after the slash, e.g. "9.0.0" */
    uint64_t dropped;  /* packets over AMI_MAX_PACKET */
    bool skipping;     /* inside an oversized packet */
    bool skip_midline; /* … and the cut fell inside a line */
};

void ami_parser_init(struct ami_parser *p);
void ami_parser_free(struct ami_parser *p);
void ami_parser_feed(struct ami_parser *p, const char *data, size_t len);
/*
 * Takes the next complete packet: 1 and *out filled (valid until the next feed or next
 * call), 0 if none is complete yet. Blank lines between packets are skipped.
 */
int ami_parser_next(struct ami_parser *p, struct ami_packet *out);

/*
 * Parses "1717392000.120455" (Timestamp header) into ms; SMILE_EINVAL if malformed.
 */
int ami_timestamp_parse(struct str v, int64_t *out_ms);

/*
 * True if name is a valid event source: 1–64 bytes of [a-z0-9_.:-] (the ledger's rule).
 */
bool intake_source_valid(const char *name);

/* Mapping to events -------------------------------------------------------------------- */

/* Looks up the staff username for a raw agent name; NULL if unmapped. */
typedef const char *pbx_agent_lookup_fn(const char *agent, void *ud);

struct pbx_map;

/* What one record turned into, for the import report. */
enum pbx_outcome {
    PBX_MAPPED,  /* produced one or more events */
    PBX_IGNORED, /* a known record that carries no ledger event (QUEUESTART, PAUSEALL …) */
    PBX_UNKNOWN, /* a custom / unknown event: kept, counted, no event */
};

/*
 * A mapper with its per-call state (queue entries and ring attempts, which make the
 * source_id the same from queue_log and AMI). source is the event's "source" ("asterisk").
 * lookup may be NULL (every agent unmapped). Free with pbx_map_free().
 */
struct pbx_map *pbx_map_new(const char *source, pbx_agent_lookup_fn *lookup, void *ud);
void pbx_map_free(struct pbx_map *m);

/*
 * Maps one parsed queue_log record; appends 0+ event objects to events (a JSON array).
 * emit = false only advances the state (used to warm up after a restart); nothing is
 * appended.
 */
enum pbx_outcome pbx_map_qlog(struct pbx_map *m, const struct qlog_line *l, bool emit,
                              json_t *events);

/*
 * Maps one AMI event packet (Responses and unmapped events are PBX_IGNORED). received_ms
 * is used when the packet has no Timestamp header.
 */
enum pbx_outcome pbx_map_ami(struct pbx_map *m, const struct ami_packet *p, int64_t received_ms,
                             json_t *events);

/* Agents seen without a mapping: a JSON object {name: count}; borrowed, lives with m. */
const json_t *pbx_map_unmapped(const struct pbx_map *m);
/* Calls currently tracked (for tests and the state check). */
size_t pbx_map_calls(const struct pbx_map *m);
/* Forgets calls idle for more than max_idle_ms before now_ms (source time). */
void pbx_map_prune(struct pbx_map *m, int64_t now_ms, int64_t max_idle_ms);

/* Storage edge (intake_store.c; owner of agent_map and intake_cursor) ------------------ */

struct intake_cursor {
    const char *source;
    const char *path;
    int64_t inode;
    int64_t offset;
};

struct intake_counts {
    int64_t created;
    int64_t duplicates;
    int64_t rejected;       /* events the ledger's rules refuse: skipped, not written */
    char first_reject[200]; /* why the first one was refused ("" if none) */
};

/*
 * Appends the events (a JSON array of API-shaped event objects) in one transaction on s
 * and, when cur is not NULL, stores the cursor in the same transaction, so a crash never
 * loses or doubles. Duplicates by (source, source_id) are counted, not errors; an event
 * the ledger's validation refuses (a PBX field too long, a time outside 2000–2100) is
 * counted in rejected and skipped, so one odd line cannot stop an import. All or nothing
 * otherwise: on a storage error the transaction is rolled back and the error returned.
 * The array is emptied. For thousands of events use intake_batch_* (cheaper).
 */
int intake_append(struct store *s, json_t *events, const struct intake_cursor *cur,
                  struct intake_counts *out, struct smile_err *err);

/*
 * A batch of validated events kept as compact rows (the JSON is freed as it is added).
 * intake_batch_add validates each object of events with the ledger's rules (refused
 * ones are counted, not kept) and empties the array. intake_batch_append writes the batch
 * like intake_append and resets it on success; on error the rows stay for a retry. With
 * s NULL (a dry run) nothing is written: the batch is counted (rejected) and reset.
 */
struct intake_batch;
struct intake_batch *intake_batch_new(void);
void intake_batch_free(struct intake_batch *b);
void intake_batch_add(struct intake_batch *b, json_t *events);
size_t intake_batch_len(const struct intake_batch *b);
int intake_batch_append(struct store *s, struct intake_batch *b, const struct intake_cursor *cur,
                        struct intake_counts *out, struct smile_err *err);

/* The stored cursor for (source, path); SMILE_ENOTFOUND if none. */
int intake_cursor_get(struct store *s, const char *source, const char *path, int64_t *out_inode,
                      int64_t *out_offset, struct smile_err *err);

/* agent_map rows: set (insert or replace), unset (SMILE_ENOTFOUND if absent), list. */
int intake_agent_map_set(struct store *s, const char *source, const char *agent,
                         const char *username, struct smile_err *err);
int intake_agent_map_unset(struct store *s, const char *source, const char *agent,
                           struct smile_err *err);
/* A JSON array of {source, agent, username}, ordered; source NULL = all. Caller owns. */
int intake_agent_map_list(struct store *s, const char *source, json_t **out, struct smile_err *err);
/*
 * Loads a source's map as a JSON object {agent: username} (caller owns) and the lookup
 * for pbx_map_new: exact name first, then "Agent/1001" ↔ "1001".
 */
int intake_agent_map_load(struct store *s, const char *source, json_t **out, struct smile_err *err);
const char *intake_agent_lookup(const char *agent, void *map_object);

/* AMI client (ami_client.c: a thread with its own socket) ------------------------------- */

/*
 * Where the client puts the events of one read: must append them durably (all or none)
 * and return SMILE_OK, or an error (the client logs it and keeps going; the events of a
 * failed append are retried with the next batch). events is borrowed.
 */
typedef int intake_sink_fn(json_t *events, void *ud, struct smile_err *err);

struct ami_client_options {
    const char *host;
    int port;         /* 5038 */
    const char *user; /* manager.conf user with read = call,agent */
    const char *secret;
    const char *source;    /* event source, "asterisk" */
    const char *db_path;   /* agent_map is read from here at each connect; default sink too */
    struct ledger *ledger; /* when set (smile serve), events go through its writer */
    int backoff_min_ms;    /* first reconnect delay, 1000 */
    int backoff_max_ms;    /* cap, 60000 */
    int idle_ping_ms;      /* send Action: Ping after this long without a byte, 60000 */
};

enum ami_state {
    AMI_CONNECTING,
    AMI_CONNECTED, /* logged in */
    AMI_BACKOFF,   /* waiting before the next attempt */
    AMI_STOPPED
};

struct ami_client_stats {
    enum ami_state state;
    char last_error[320];
    int64_t last_error_at;                     /* ms, 0 = never */
    int64_t connected_at;                      /* ms of the current login, 0 if not connected */
    int64_t backoff_ms;                        /* current delay when in AMI_BACKOFF */
    uint64_t connects;                         /* successful logins */
    uint64_t disconnects;                      /* connections lost or refused */
    uint64_t packets;                          /* AMI packets received */
    uint64_t events_mapped;                    /* Smile events produced */
    uint64_t events_created, events_duplicate; /* default sink only */
    uint64_t append_errors;
};

struct ami_client;

/*
 * Starts the client thread: connect, log in (Events: call,agent), map events, append
 * through sink (NULL = the built-in sink: ledger_append on o->ledger, so the ledger's
 * post-commit hooks see them, or without a ledger intake_append on its own connection
 * to o->db_path). Reconnects with exponential back-off (backoff_min → backoff_max, ×2, with
 * jitter) after any failure. Strings in o are copied. Stop with ami_client_stop().
 */
int ami_client_start(const struct ami_client_options *o, intake_sink_fn *sink, void *ud,
                     struct ami_client **out, struct smile_err *err);
/* Stops the thread (logging off if connected), frees the client; NULL is a no-op. */
void ami_client_stop(struct ami_client *c);
void ami_client_stats(struct ami_client *c, struct ami_client_stats *out);
const char *ami_state_name(enum ami_state s);
/* {"state", "connected", "last_error", …} for /readyz; new reference. */
json_t *ami_client_status_json(struct ami_client *c);
/* Prometheus text lines (smile_ami_*) for /metrics. */
void ami_client_metrics_render(struct ami_client *c, struct buf *b);
/* The client `smile serve` started, or NULL (for /readyz and /metrics). */
struct ami_client *ami_client_active(void);

#endif
