/*
 * import_pbx.c — `smile import queue-log FILE` and `smile agent map|unmap|list`: reads an
 * Asterisk queue_log file (once, or following it through rotation with --follow), maps
 * each line to events (intake/queue_log.c, intake/pbx_map.c) and appends them in
 * batches of about 5,000 events, each batch in one transaction with the file cursor, so
 * that a crash never loses or doubles a line and re-importing changes nothing. Prints a
 * report: lines read, events created, duplicates, unknown events, malformed lines with
 * their line numbers (first 20), unmapped agents.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "cli/cli.h"
#include "intake/intake.h"
#include "store/store.h"

#define BATCH_EVENTS 5000
#define MAX_LINE (1 << 20)
#define REPORT_MALFORMED 20
#define IDLE_CALL_MS (6 * 3600 * 1000) /* forget calls idle this long (source time) */

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct importer {
    struct store *s;
    struct pbx_map *m;
    json_t *agents;
    const char *source;
    char *path; /* absolute, the cursor's key */
    bool dry_run, follow;
    json_t *batch;             /* the events of the current line */
    struct intake_batch *rows; /* validated events waiting for the next flush */
    int64_t inode, offset;     /* offset: end of the last line handed to the mapper */
    int64_t flushed;           /* offset stored by the last flush */
    int64_t lineno, lines, mapped, ignored, unknown, malformed, created, duplicates, pending;
    int64_t rejected;
    char first_reject[200];
    int64_t latest_ms;
    json_t *bad; /* first REPORT_MALFORMED {line, reason} */
    struct buf part;
    bool failed;
};

static int
flush(struct importer *im)
{
    struct intake_counts c = {0};
    struct intake_cursor cur = {im->source, im->path, im->inode, im->offset};
    struct smile_err err;

    smile_err_clear(&err);
    if (im->dry_run) {
        if (intake_batch_append(NULL, im->rows, NULL, &c, &err) != SMILE_OK)
            return 1;
    } else if (intake_batch_append(im->s, im->rows, &cur, &c, &err) != SMILE_OK) {
        fprintf(stderr, "smile import: %s\n", err.msg);
        im->failed = true;
        return 1;
    }
    im->created += c.created;
    im->duplicates += c.duplicates;
    if (c.rejected && im->rejected == 0)
        memcpy(im->first_reject, c.first_reject, sizeof(im->first_reject));
    im->rejected += c.rejected;
    json_array_clear(im->batch);
    im->pending = 0;
    im->flushed = im->offset;
    pbx_map_prune(im->m, im->latest_ms, IDLE_CALL_MS);
    return 0;
}

/* One complete line (without '\n'); emit = false replays it to restore the mapper. */
static void
one_line(struct importer *im, const char *p, size_t n, bool emit)
{
    struct qlog_line l;
    struct qlog_error e;
    size_t before;

    im->lineno++;
    while (n > 0 && (p[n - 1] == '\r'))
        n--;
    if (n == 0)
        return;
    if (emit)
        im->lines++;
    if (qlog_line_parse(p, n, &l, &e) != SMILE_OK) {
        if (!emit)
            return;
        im->malformed++;
        if (json_array_size(im->bad) < REPORT_MALFORMED)
            json_array_append_new(
                im->bad, json_pack("{s:I, s:s}", "line", (json_int_t)im->lineno, "reason", e.msg));
        return;
    }
    if (l.at_ms < INT64_C(946684800000) || l.at_ms >= INT64_C(4133980800000)) {
        /* The ledger keeps events of the years 2000-2100 only. */
        if (!emit)
            return;
        im->malformed++;
        if (json_array_size(im->bad) < REPORT_MALFORMED)
            json_array_append_new(im->bad, json_pack("{s:I, s:s}", "line", (json_int_t)im->lineno,
                                                     "reason", "time outside the years 2000-2100"));
        return;
    }
    if (l.at_ms > im->latest_ms)
        im->latest_ms = l.at_ms;
    before = intake_batch_len(im->rows);
    switch (pbx_map_qlog(im->m, &l, emit, im->batch)) {
    case PBX_MAPPED:
        if (emit)
            im->mapped++;
        break;
    case PBX_IGNORED:
        if (emit)
            im->ignored++;
        break;
    case PBX_UNKNOWN:
        if (emit)
            im->unknown++;
        break;
    }
    if (json_array_size(im->batch))
        intake_batch_add(im->rows, im->batch); /* validated now, JSON freed at once */
    im->pending += (int64_t)(intake_batch_len(im->rows) - before);
}

/*
 * Feeds bytes that start at file offset base; complete lines go to the mapper, a partial last
 * line waits in im->part. Flushes whenever a batch is full (the cursor then covers
 * exactly the lines mapped so far).
 */
static int
feed(struct importer *im, const char *p, size_t n, int64_t base, bool emit)
{
    const char *end = p + n;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        if (nl == NULL) {
            if (im->part.len + (size_t)(end - p) > MAX_LINE) {
                buf_reset(&im->part); /* an absurd line: reported when its end arrives */
                buf_puts(&im->part, "\x01");
            } else {
                buf_append(&im->part, p, (size_t)(end - p));
            }
            break;
        }
        if (im->part.len) {
            buf_append(&im->part, p, (size_t)(nl - p));
            if (im->part.data[0] == '\x01') {
                im->lineno++;
                im->lines++;
                im->malformed++;
                if (json_array_size(im->bad) < REPORT_MALFORMED)
                    json_array_append_new(im->bad,
                                          json_pack("{s:I, s:s}", "line", (json_int_t)im->lineno,
                                                    "reason", "line longer than 1 MiB"));
            } else {
                one_line(im, im->part.data, im->part.len, emit);
            }
            buf_reset(&im->part);
        } else {
            one_line(im, p, (size_t)(nl - p), emit);
        }
        p = nl + 1;
        im->offset = base + (int64_t)(p - (end - n));
        if (emit && im->pending >= BATCH_EVENTS && flush(im))
            return 1;
        if (!emit && im->lineno % 100000 == 0) /* warm-up: keep memory bounded too */
            pbx_map_prune(im->m, im->latest_ms, IDLE_CALL_MS);
    }
    return 0;
}

/* Reads fd from its current position to EOF; returns 1 on a failure. */
static int
drain(struct importer *im, int fd, bool emit, int64_t limit)
{
    static char chunk[1 << 16];

    for (;;) {
        int64_t base = im->offset + (int64_t)im->part.len;
        size_t want = sizeof(chunk);
        ssize_t r;

        if (limit >= 0) {
            if (base >= limit)
                return 0;
            if ((int64_t)want > limit - base)
                want = (size_t)(limit - base);
        }
        r = read(fd, chunk, want);
        if (r < 0 && errno == EINTR) {
            if (stop_flag)
                return 0;
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "smile import: read %s: %s\n", im->path, strerror(errno));
            return 1;
        }
        if (r == 0)
            return 0;
        if (feed(im, chunk, (size_t)r, base, emit))
            return 1;
    }
}

/* At the end of a file that will not grow: its last line may lack the '\n'. */
static void
finish_partial(struct importer *im)
{
    if (im->part.len) {
        int64_t end = im->offset + (int64_t)im->part.len;
        struct buf tmp = im->part;

        buf_init(&im->part, 0);
        if (tmp.data[0] != '\x01')
            one_line(im, tmp.data, tmp.len, true);
        buf_free(&tmp);
        im->offset = end;
    }
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void
report(struct importer *im, bool json)
{
    const json_t *un = pbx_map_unmapped(im->m);
    const char *k;
    json_t *v;

    if (json) {
        json_t *r = json_pack(
            "{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O}", "file", im->path,
            "source", im->source, "dry_run", im->dry_run, "lines", (json_int_t)im->lines,
            "events_created", (json_int_t)im->created, "duplicates", (json_int_t)im->duplicates,
            "events_mapped", (json_int_t)im->mapped, "unknown", (json_int_t)im->unknown, "ignored",
            (json_int_t)im->ignored, "malformed", (json_int_t)im->malformed, "malformed_lines",
            im->bad, "unmapped_agents", un);
        char *s;

        json_object_set_new(r, "rejected", json_integer(im->rejected));
        s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);

        printf("%s\n", s);
        free(s);
        json_decref(r);
        return;
    }
    printf("queue_log %s (source %s)%s\n", im->path, im->source, im->dry_run ? " — dry run" : "");
    printf("lines read:       %lld\n", (long long)im->lines);
    printf("events created:   %lld\n", (long long)im->created);
    printf("duplicates:       %lld\n", (long long)im->duplicates);
    printf("unknown events:   %lld\n", (long long)im->unknown);
    printf("ignored records:  %lld\n", (long long)im->ignored);
    if (im->rejected)
        printf("rejected events:  %lld (first: %s)\n", (long long)im->rejected, im->first_reject);
    printf("malformed lines:  %lld\n", (long long)im->malformed);
    for (size_t i = 0; i < json_array_size(im->bad); i++) {
        json_t *b = json_array_get(im->bad, i);

        printf("  line %lld: %s\n", (long long)json_integer_value(json_object_get(b, "line")),
               json_string_value(json_object_get(b, "reason")));
    }
    if (im->malformed > REPORT_MALFORMED)
        printf("  … and %lld more\n", (long long)(im->malformed - REPORT_MALFORMED));
    if (json_object_size(un)) {
        printf("unmapped agents:  %zu (map them: smile agent map NAME USERNAME)\n",
               json_object_size(un));
        json_object_foreach((json_t *)un, k, v)
        {
            printf("  %s (%lld records)\n", k, (long long)json_integer_value(v));
        }
    }
}

static int
usage_import(FILE *f)
{
    cli_import_csv_usage(f);
    fputc('\n', f);
    fprintf(f, "usage: smile import queue-log FILE [--follow] [--source NAME] [--dry-run] "
               "[--json] [--db PATH]\n\n"
               "Imports an Asterisk queue_log file as call and agent events. Re-importing\n"
               "changes nothing. --follow keeps reading as the file grows, through rotation\n"
               "and truncation, and resumes after a restart where it stopped (SIGINT/SIGTERM\n"
               "stop it). --source names the PBX (default asterisk). --dry-run maps and\n"
               "reports without writing.\n");
    return f == stdout ? 0 : 2;
}

static int
import_queue_log(struct config *cfg, int argc, char **argv)
{
    struct importer im;
    struct smile_err err;
    struct stat st;
    const char *file = NULL;
    bool json = false;
    int fd = -1, rc = 1;
    int64_t cur_inode = 0, cur_off = 0;
    struct sigaction sa;

    memset(&im, 0, sizeof(im));
    im.source = "asterisk";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0)
            im.follow = true;
        else if (strcmp(argv[i], "--dry-run") == 0)
            im.dry_run = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            im.source = argv[++i];
        else if (strncmp(argv[i], "--source=", 9) == 0)
            im.source = argv[i] + 9;
        else if (argv[i][0] != '-' && file == NULL)
            file = argv[i];
        else
            return usage_import(stderr);
    }
    if (file == NULL)
        return usage_import(stderr);
    if (!intake_source_valid(im.source)) {
        fprintf(stderr, "smile import: --source must be 1-64 characters of a-z 0-9 _ . : -\n");
        return 2;
    }
    smile_err_clear(&err);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "smile import: cannot open %s: %s\n", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    im.path = realpath(file, NULL);
    if (im.path == NULL)
        im.path = xstrdup(file);
    im.inode = (int64_t)st.st_ino;
    if (cli_open_db(cfg, false, &im.s) != 0)
        goto out;
    if (intake_agent_map_load(im.s, im.source, &im.agents, &err) != SMILE_OK) {
        fprintf(stderr, "smile import: %s\n", err.msg);
        goto out;
    }
    im.m = pbx_map_new(im.source, intake_agent_lookup, im.agents);
    im.batch = json_array();
    im.rows = intake_batch_new();
    im.bad = json_array();
    buf_init(&im.part, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* --follow resumes: replay what was read (restoring the mapper's per-call counters,
     * emitting nothing), then go on from the stored offset. A different inode means the
     * file was rotated while we were away: start the new file from its beginning. */
    if (im.follow &&
        intake_cursor_get(im.s, im.source, im.path, &cur_inode, &cur_off, &err) == SMILE_OK) {
        if (cur_inode == im.inode && cur_off <= (int64_t)st.st_size) {
            if (drain(&im, fd, false, cur_off))
                goto out;
            buf_reset(&im.part);
            im.offset = cur_off;
            log_info("msg=resuming path=%s offset=%lld line=%lld", im.path, (long long)cur_off,
                     (long long)im.lineno);
        } else {
            log_warn("msg=\"file changed since last run, reading from the start\" path=%s",
                     im.path);
        }
    }
    if (drain(&im, fd, true, -1))
        goto out;
    while (im.follow && !stop_flag) {
        struct stat now;

        if ((im.pending || im.offset != im.flushed) && flush(&im))
            goto out;
        if (stat(file, &now) != 0) { /* rotated away, not yet re-created */
            sleep_ms(200);
            continue;
        }
        if ((int64_t)now.st_ino != im.inode) {
            /* Rotation: finish the old file (lines written before the rename), then the
             * new one from its start. */
            if (drain(&im, fd, true, -1))
                goto out;
            finish_partial(&im);
            if (flush(&im))
                goto out;
            close(fd);
            fd = open(file, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                sleep_ms(200);
                continue;
            }
            im.inode = (int64_t)now.st_ino;
            im.offset = 0;
            im.lineno = 0;
            buf_reset(&im.part);
            log_info("msg=rotated path=%s", im.path);
            if (flush(&im)) /* records the new inode at offset 0 */
                goto out;
            continue;
        }
        if ((int64_t)now.st_size < im.offset + (int64_t)im.part.len) {
            /* Truncated in place (copytruncate): read again from the start. */
            lseek(fd, 0, SEEK_SET);
            im.offset = 0;
            im.lineno = 0;
            buf_reset(&im.part);
            log_info("msg=truncated path=%s", im.path);
            continue;
        }
        if (drain(&im, fd, true, -1))
            goto out;
        if (!im.pending)
            sleep_ms(200);
    }
    if (!im.follow)
        finish_partial(&im);
    if (flush(&im))
        goto out;
    report(&im, json);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    buf_free(&im.part);
    json_decref(im.batch);
    intake_batch_free(im.rows);
    json_decref(im.bad);
    pbx_map_free(im.m);
    json_decref(im.agents);
    store_close(im.s);
    free(im.path);
    return rc;
}

int
cli_import(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    int rc;

    bool csv =
        argc >= 2 && (strcmp(argv[1], "customers") == 0 || strcmp(argv[1], "properties") == 0 ||
                      strcmp(argv[1], "contracts") == 0); /* bulk: import_csv.c */

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return csv ? cli_import_csv_usage(stdout) : usage_import(stdout);
    if (argc < 2 || (!csv && strcmp(argv[1], "queue-log") != 0))
        return usage_import(stderr);
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    rc =
        csv ? cli_import_csv(&cfg, argc - 1, argv + 1) : import_queue_log(&cfg, argc - 1, argv + 1);
    config_free(&cfg);
    return rc;
}

static int
usage_agent(FILE *f)
{
    fprintf(f, "usage: smile agent map AGENT USERNAME [--source NAME] [--db PATH]\n"
               "       smile agent unmap AGENT [--source NAME]\n"
               "       smile agent list [--source NAME] [--json]\n\n"
               "Maps a PBX member name (queue_log agent column / AMI MemberName, e.g.\n"
               "PJSIP/8001 or \"Zhang Wei\") to a staff username. Source default: asterisk.\n");
    return f == stdout ? 0 : 2;
}

int
cli_agent(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    const char *source = NULL, *pos[3] = {NULL, NULL, NULL};
    int npos = 0, rc = 1;
    bool json = false;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage_agent(stdout);
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--source") == 0 && i + 1 < argc) {
            source = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (npos < 3 && (argv[i][0] != '-' || npos > 0)) {
            pos[npos++] = argv[i];
        } else {
            config_free(&cfg);
            return usage_agent(stderr);
        }
    }
    if (npos == 0 || (strcmp(pos[0], "map") == 0 && npos != 3) ||
        (strcmp(pos[0], "unmap") == 0 && npos != 2) || (strcmp(pos[0], "list") == 0 && npos != 1) ||
        (strcmp(pos[0], "map") && strcmp(pos[0], "unmap") && strcmp(pos[0], "list"))) {
        config_free(&cfg);
        return usage_agent(stderr);
    }
    if (source && !intake_source_valid(source)) {
        fprintf(stderr, "smile agent: --source must be 1-64 characters of a-z 0-9 _ . : -\n");
        config_free(&cfg);
        return 2;
    }
    if (cli_open_db(&cfg, false, &s) != 0)
        goto out;
    if (strcmp(pos[0], "map") == 0) {
        if (intake_agent_map_set(s, source ? source : "asterisk", pos[1], pos[2], &err) != SMILE_OK)
            goto fail;
        printf("mapped %s agent '%s' to %s\n", source ? source : "asterisk", pos[1], pos[2]);
    } else if (strcmp(pos[0], "unmap") == 0) {
        if (intake_agent_map_unset(s, source ? source : "asterisk", pos[1], &err) != SMILE_OK)
            goto fail;
        printf("unmapped %s agent '%s'\n", source ? source : "asterisk", pos[1]);
    } else {
        json_t *list, *row;
        size_t i;

        if (intake_agent_map_list(s, source, &list, &err) != SMILE_OK)
            goto fail;
        if (json) {
            char *t = json_dumps(list, JSON_INDENT(2));

            printf("%s\n", t);
            free(t);
        } else {
            json_array_foreach(list, i, row)
            {
                printf("%-12s %-32s %s\n", json_string_value(json_object_get(row, "source")),
                       json_string_value(json_object_get(row, "agent")),
                       json_string_value(json_object_get(row, "username")));
            }
        }
        json_decref(list);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "smile agent: %s\n", err.msg);
out:
    store_close(s);
    config_free(&cfg);
    return rc;
}
