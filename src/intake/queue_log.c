/*
 * queue_log.c — the Asterisk queue_log parser (pure: bytes in, struct out). A file line
 * is `epoch|callid|queue|agent|event|data…` as written by ast_queue_log(); a realtime
 * row has the same columns with a local-time string and data1..data5. Only the first
 * five columns are split blindly; the data is split per event because free text (pause
 * reasons, QueueLog() text, withdraw info, caller names) is not escaped. It sits at the
 * very start of the PBX flow: parse → pbx_map_qlog → events.
 *
 * Data fields per event (SOURCES.md §1.3–1.4; n = number of '|'-separated fields):
 *
 *   event               fields                                        versions
 *   ENTERQUEUE          url|callernum[|position[|callername…]]        2 (1.4), 3, 4 (2025+)
 *   RINGNOANSWER        ring ms                                        all
 *   RINGCANCELED        ring ms                                        15+
 *   CONNECT             holdtime|member uniqueid[|ringtime s]          2 (1.4), 3 (1.6+)
 *   COMPLETEAGENT/CALLER holdtime|calltime[|origposition]
 *   ABANDON, EXITEMPTY, EXITWITHTIMEOUT  position|origposition|waittime
 *   EXITWITHKEY         key|position[|origposition|waittime]
 *   WITHDRAW            position|origposition|waittime[|info…]
 *   TRANSFER            exten|context|holdtime|calltime[|origposition]  4 (1.4), 5
 *   BLINDTRANSFER       exten|context|holdtime|calltime[|origposition]
 *   ATTENDEDTRANSFER    method|data[|data2]|holdtime|calltime|origposition  5 or 6 (LINK)
 *   ADDMEMBER           "PAUSED" or empty;  REMOVEMEMBER, AGENTDUMP, SYSCOMPAT,
 *                       QUEUESTART, CONFIGRELOAD: no data
 *   PAUSE, UNPAUSE, PAUSEALL, UNPAUSEALL  reason… (free text)
 *   PENALTY, RINGINUSE  number
 *   AGENTLOGIN          channel;  AGENTLOGOFF channel[|logintime[|reason…]]
 *   AGENTCALLBACKLOGIN  exten@context;  AGENTCALLBACKLOGOFF exten@context[|logintime[|reason…]]
 *   OUTCALL             status[|talktime[|params…]]
 *   anything else       free text (custom)
 */
#include <string.h>

#include "intake/intake.h"

static const char *const kind_names[QLOG_KIND_COUNT] = {
    [QLOG_CUSTOM] = "custom",
    [QLOG_ENTERQUEUE] = "ENTERQUEUE",
    [QLOG_RINGNOANSWER] = "RINGNOANSWER",
    [QLOG_RINGCANCELED] = "RINGCANCELED",
    [QLOG_CONNECT] = "CONNECT",
    [QLOG_COMPLETEAGENT] = "COMPLETEAGENT",
    [QLOG_COMPLETECALLER] = "COMPLETECALLER",
    [QLOG_ABANDON] = "ABANDON",
    [QLOG_EXITWITHTIMEOUT] = "EXITWITHTIMEOUT",
    [QLOG_EXITEMPTY] = "EXITEMPTY",
    [QLOG_EXITWITHKEY] = "EXITWITHKEY",
    [QLOG_WITHDRAW] = "WITHDRAW",
    [QLOG_AGENTDUMP] = "AGENTDUMP",
    [QLOG_SYSCOMPAT] = "SYSCOMPAT",
    [QLOG_TRANSFER] = "TRANSFER",
    [QLOG_BLINDTRANSFER] = "BLINDTRANSFER",
    [QLOG_ATTENDEDTRANSFER] = "ATTENDEDTRANSFER",
    [QLOG_ADDMEMBER] = "ADDMEMBER",
    [QLOG_REMOVEMEMBER] = "REMOVEMEMBER",
    [QLOG_PAUSE] = "PAUSE",
    [QLOG_UNPAUSE] = "UNPAUSE",
    [QLOG_PAUSEALL] = "PAUSEALL",
    [QLOG_UNPAUSEALL] = "UNPAUSEALL",
    [QLOG_PENALTY] = "PENALTY",
    [QLOG_RINGINUSE] = "RINGINUSE",
    [QLOG_AGENTLOGIN] = "AGENTLOGIN",
    [QLOG_AGENTLOGOFF] = "AGENTLOGOFF",
    [QLOG_AGENTCALLBACKLOGIN] = "AGENTCALLBACKLOGIN",
    [QLOG_AGENTCALLBACKLOGOFF] = "AGENTCALLBACKLOGOFF",
    [QLOG_QUEUESTART] = "QUEUESTART",
    [QLOG_CONFIGRELOAD] = "CONFIGRELOAD",
    [QLOG_OUTCALL] = "OUTCALL",
};

const char *
qlog_kind_name(enum qlog_kind k)
{
    return (unsigned)k < QLOG_KIND_COUNT ? kind_names[k] : "custom";
}

enum qlog_kind
qlog_kind_from(struct str name)
{
    for (int k = 1; k < QLOG_KIND_COUNT; k++)
        if (strlen(kind_names[k]) == name.len && memcmp(kind_names[k], name.p, name.len) == 0)
            return (enum qlog_kind)k;
    return QLOG_CUSTOM;
}

static struct str
field(const struct qlog_line *l, int i)
{
    return i < l->nfields ? l->fields[i] : (struct str){"", 0};
}

/* The data from field i to the end, '|' included: free text is never split. */
static struct str
rest_from(const struct qlog_line *l, int i)
{
    if (i >= l->nfields)
        return (struct str){"", 0};
    return (struct str){l->fields[i].p, (size_t)(l->data.p + l->data.len - l->fields[i].p)};
}

/* A non-negative decimal count (seconds, ms, positions); digits only. */
static int
num(struct str s, int64_t *out)
{
    int64_t v = 0;

    if (s.len == 0 || s.len > 15)
        return SMILE_EINVAL;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return SMILE_EINVAL;
        v = v * 10 + (s.p[i] - '0');
    }
    *out = v;
    return SMILE_OK;
}

/* Requires field i to be a number; names it in the error. */
static int
need_num(const struct qlog_line *l, int i, const char *name, int64_t *out, struct qlog_error *err)
{
    if (i >= l->nfields) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "%.40s: missing %s (data field %d)",
                     kind_names[l->kind], name, i + 1);
        return SMILE_EINVAL;
    }
    if (num(l->fields[i], out) != SMILE_OK) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "%.40s: %s is not a number: '%.*s'",
                     kind_names[l->kind], name,
                     (int)(l->fields[i].len > 40 ? 40 : l->fields[i].len), l->fields[i].p);
        return SMILE_EINVAL;
    }
    return SMILE_OK;
}

/* Like need_num, but an absent field is fine (leaves -1). */
static int
opt_num(const struct qlog_line *l, int i, const char *name, int64_t *out, struct qlog_error *err)
{
    if (i >= l->nfields)
        return SMILE_OK;
    return need_num(l, i, name, out, err);
}

static void
split(struct qlog_line *l)
{
    const char *p = l->data.p, *end = l->data.p + l->data.len;

    l->nfields = 0;
    if (l->data.len == 0)
        return;
    while (l->nfields < QLOG_MAX_FIELDS - 1) {
        const char *bar = memchr(p, '|', (size_t)(end - p));

        if (bar == NULL)
            break;
        l->fields[l->nfields++] = (struct str){p, (size_t)(bar - p)};
        p = bar + 1;
    }
    l->fields[l->nfields++] = (struct str){p, (size_t)(end - p)};
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) != SMILE_OK)                                                                       \
            return SMILE_EINVAL;                                                                   \
    } while (0)

/* Fills the typed fields from l->data according to l->kind (table at the top). */
static int
parse_data(struct qlog_line *l, struct qlog_error *err)
{
    int n;

    split(l);
    n = l->nfields;
    switch (l->kind) {
    case QLOG_ENTERQUEUE:
        if (n < 2) {
            if (err)
                snprintf(err->msg, sizeof(err->msg),
                         "ENTERQUEUE: needs url|callerid[|position], got %d field(s)", n);
            return SMILE_EINVAL;
        }
        l->url = field(l, 0);
        l->caller_num = field(l, 1);
        TRY(opt_num(l, 2, "position", &l->position, err));
        l->caller_name = rest_from(l, 3);
        l->version = n;
        break;
    case QLOG_RINGNOANSWER:
    case QLOG_RINGCANCELED:
        TRY(need_num(l, 0, "ring time (ms)", &l->ring_ms, err));
        break;
    case QLOG_CONNECT:
        TRY(need_num(l, 0, "holdtime", &l->holdtime_s, err));
        l->member_uniqueid = field(l, 1);
        TRY(opt_num(l, 2, "ringtime", &l->ringtime_s, err));
        l->version = n >= 3 ? 16 : 14;
        break;
    case QLOG_COMPLETEAGENT:
    case QLOG_COMPLETECALLER:
        TRY(need_num(l, 0, "holdtime", &l->holdtime_s, err));
        TRY(need_num(l, 1, "calltime", &l->calltime_s, err));
        TRY(opt_num(l, 2, "origposition", &l->orig_position, err));
        break;
    case QLOG_ABANDON:
    case QLOG_EXITWITHTIMEOUT:
    case QLOG_EXITEMPTY:
        TRY(need_num(l, 0, "position", &l->position, err));
        TRY(need_num(l, 1, "origposition", &l->orig_position, err));
        TRY(need_num(l, 2, "waittime", &l->waittime_s, err));
        break;
    case QLOG_EXITWITHKEY:
        l->key = field(l, 0);
        TRY(need_num(l, 1, "position", &l->position, err));
        TRY(opt_num(l, 2, "origposition", &l->orig_position, err));
        TRY(opt_num(l, 3, "waittime", &l->waittime_s, err));
        break;
    case QLOG_WITHDRAW:
        TRY(need_num(l, 0, "position", &l->position, err));
        TRY(need_num(l, 1, "origposition", &l->orig_position, err));
        TRY(need_num(l, 2, "waittime", &l->waittime_s, err));
        l->text = rest_from(l, 3);
        break;
    case QLOG_TRANSFER:
    case QLOG_BLINDTRANSFER:
        l->extension = field(l, 0);
        l->context = field(l, 1);
        TRY(need_num(l, 2, "holdtime", &l->holdtime_s, err));
        TRY(need_num(l, 3, "calltime", &l->calltime_s, err));
        TRY(opt_num(l, 4, "origposition", &l->orig_position, err));
        l->version = n >= 5 ? 16 : 14;
        break;
    case QLOG_ATTENDEDTRANSFER:
        /* The method's own data is 1 (BRIDGE, APP) or 2 (LINK) fields; the last three are
         * always holdtime|calltime|origposition, so they are read from the end. */
        if (n < 5 || n > 6) {
            if (err)
                snprintf(err->msg, sizeof(err->msg),
                         "ATTENDEDTRANSFER: needs 5 or 6 data fields, got %d", n);
            return SMILE_EINVAL;
        }
        l->method = field(l, 0);
        l->method_data1 = field(l, 1);
        if (n == 6)
            l->method_data2 = field(l, 2);
        TRY(need_num(l, n - 3, "holdtime", &l->holdtime_s, err));
        TRY(need_num(l, n - 2, "calltime", &l->calltime_s, err));
        TRY(need_num(l, n - 1, "origposition", &l->orig_position, err));
        l->version = n;
        break;
    case QLOG_ADDMEMBER:
        l->paused = str_eq(field(l, 0), "PAUSED");
        break;
    case QLOG_PAUSE:
    case QLOG_UNPAUSE:
    case QLOG_PAUSEALL:
    case QLOG_UNPAUSEALL:
        l->text = l->data;
        break;
    case QLOG_PENALTY:
        TRY(need_num(l, 0, "penalty", &l->penalty, err));
        break;
    case QLOG_RINGINUSE:
        TRY(need_num(l, 0, "ringinuse", &l->ringinuse, err));
        break;
    case QLOG_AGENTLOGIN:
        l->channel = l->data;
        break;
    case QLOG_AGENTLOGOFF:
        l->channel = field(l, 0);
        TRY(opt_num(l, 1, "logintime", &l->logintime_s, err));
        l->text = rest_from(l, 2);
        break;
    case QLOG_AGENTCALLBACKLOGIN:
        l->extension = l->data;
        break;
    case QLOG_AGENTCALLBACKLOGOFF:
        l->extension = field(l, 0);
        TRY(opt_num(l, 1, "logintime", &l->logintime_s, err));
        l->text = rest_from(l, 2);
        break;
    case QLOG_OUTCALL:
        l->status = field(l, 0);
        TRY(opt_num(l, 1, "talktime", &l->talktime_s, err));
        l->text = rest_from(l, 2);
        break;
    case QLOG_REMOVEMEMBER:
    case QLOG_AGENTDUMP:
    case QLOG_SYSCOMPAT:
    case QLOG_QUEUESTART:
    case QLOG_CONFIGRELOAD:
        break;
    case QLOG_CUSTOM:
    default:
        l->text = l->data;
        break;
    }
    return SMILE_OK;
}

static void
clear(struct qlog_line *out)
{
    memset(out, 0, sizeof(*out));
    out->position = out->orig_position = out->waittime_s = out->holdtime_s = -1;
    out->calltime_s = out->ringtime_s = out->ring_ms = out->penalty = out->ringinuse = -1;
    out->logintime_s = out->talktime_s = -1;
}

static int
set_header(struct qlog_line *out, struct qlog_error *err)
{
    if (out->event.len == 0) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "empty event name (column 5)");
        return SMILE_EINVAL;
    }
    out->kind = qlog_kind_from(out->event);
    return parse_data(out, err);
}

int
qlog_line_parse(const char *line, size_t len, struct qlog_line *out, struct qlog_error *err)
{
    struct str col[5];
    const char *p = line, *end;
    int64_t epoch;

    clear(out);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    end = line + len;
    for (int i = 0; i < 5; i++) {
        const char *bar = memchr(p, '|', (size_t)(end - p));

        if (bar == NULL) {
            if (i == 4) { /* the event column may end the line (no trailing '|') */
                col[i] = (struct str){p, (size_t)(end - p)};
                p = end;
                break;
            }
            if (err)
                snprintf(err->msg, sizeof(err->msg),
                         "too few columns: %d, need epoch|callid|queue|agent|event", i + 1);
            return SMILE_EINVAL;
        }
        col[i] = (struct str){p, (size_t)(bar - p)};
        p = bar + 1;
    }
    if (num(col[0], &epoch) != SMILE_OK || col[0].len > 11) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "bad epoch '%.*s'",
                     (int)(col[0].len > 20 ? 20 : col[0].len), col[0].p);
        return SMILE_EINVAL;
    }
    out->epoch_s = epoch;
    out->at_ms = epoch * 1000;
    out->callid = col[1];
    out->queue = col[2];
    out->agent = col[3];
    out->event = col[4];
    out->data = (struct str){p, (size_t)(end - p)};
    return set_header(out, err);
}

/* "YYYY-MM-DD HH:MM:SS[.f…]" (also 'T') → ms as if it were UTC. */
static int
parse_local(const char *s, int64_t *out_ms)
{
    size_t len = strlen(s);
    int64_t days, ms = 0;
    int hh, mm, ss;
    size_t i = 19;

    if (len < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
        return SMILE_EINVAL;
    if (time_parse_date(s, 10, &days) != SMILE_OK)
        return SMILE_EINVAL;
    for (int k = 11; k < 19; k++)
        if (k != 13 && k != 16 && (s[k] < '0' || s[k] > '9'))
            return SMILE_EINVAL;
    hh = (s[11] - '0') * 10 + (s[12] - '0');
    mm = (s[14] - '0') * 10 + (s[15] - '0');
    ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (hh > 23 || mm > 59 || ss > 59)
        return SMILE_EINVAL;
    if (i < len) {
        int digits = 0, scale = 100;

        if (s[i] != '.')
            return SMILE_EINVAL;
        for (i++; i < len; i++, digits++) {
            if (s[i] < '0' || s[i] > '9' || digits >= 9)
                return SMILE_EINVAL;
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
        if (digits == 0)
            return SMILE_EINVAL;
    }
    *out_ms = ((days * 24 + hh) * 60 + mm) * 60000 + ss * 1000 + ms;
    return SMILE_OK;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int
qlog_row_parse(const struct qlog_row *row, int64_t utc_offset_s, struct buf *scratch,
               struct qlog_line *out, struct qlog_error *err)
{
    int64_t local;
    int last = -1;

    clear(out);
    if (row->time == NULL || parse_local(row->time, &local) != SMILE_OK) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "bad time '%.40s'",
                     row->time ? row->time : "(null)");
        return SMILE_EINVAL;
    }
    out->at_ms = local - utc_offset_s * 1000;
    out->epoch_s = floor_div(out->at_ms, 1000);
    out->callid = str_from(row->callid ? row->callid : "");
    out->queue = str_from(row->queuename ? row->queuename : "");
    out->agent = str_from(row->agent ? row->agent : "");
    out->event = str_from(row->event ? row->event : "");
    buf_reset(scratch);
    if (row->single_data) {
        buf_puts(scratch, row->data[0] ? row->data[0] : "");
    } else {
        /* data1..data5 joined back with '|'; empty trailing columns are not data. */
        for (int i = 0; i < 5; i++)
            if (row->data[i] && row->data[i][0])
                last = i;
        for (int i = 0; i <= last; i++) {
            if (i)
                buf_putc(scratch, '|');
            buf_puts(scratch, row->data[i] ? row->data[i] : "");
        }
    }
    if (buf_overflowed(scratch)) {
        if (err)
            snprintf(err->msg, sizeof(err->msg), "data too long");
        return SMILE_EINVAL;
    }
    out->data = (struct str){scratch->data ? scratch->data : "", scratch->len};
    return set_header(out, err);
}
