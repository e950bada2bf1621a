/*
 * import_csv.c — `smile import customers|properties|contracts FILE.csv [--dry-run]
 * [--encoding utf-8|gb18030|auto] [--json]`: streams the file through a bulk import run
 * (bulk/bulk.h) in 64 KiB reads and prints the report — one line per problem with the
 * row and column a spreadsheet shows, then a summary with the rate. With --encoding auto
 * (the default) the file is read once first to decide: valid UTF-8, else GB18030. Exit
 * status: 0 imported (or a clean dry run), 1 any problem (nothing was imported), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "bulk/bulk.h"
#include "cli/cli.h"
#include "crm/crm.h"
#include "http/http.h"
#include "store/store.h"

#define CHUNK 65536
#define PRINT_MAX 100 /* problems printed one per line; --json has them all */

int
cli_import_csv_usage(FILE *f)
{
    fprintf(f,
            "usage: smile import customers|properties|contracts FILE.csv [--dry-run] [--update]\n"
            "       [--encoding auto|utf-8|gb18030] [--json] [--db PATH]\n"
            "       smile import customers|properties|contracts --template [zh|en]\n\n"
            "Imports CRM records from a CSV file with a header row (English field names or\n"
            "the usual Chinese headers: see docs/import.md). Every row is checked as the\n"
            "API checks it; the import is all or nothing. --dry-run only reports.\n"
            "--update: a row naming an existing record by its natural key (customer: a\n"
            "phone; property: project, building, unit; contract: number) updates it.\n"
            "--template prints the header row to start a file from (zh: Chinese headers).\n");
    return f == stdout ? 0 : 2;
}

/* Reads the whole file once to tell UTF-8 from GB18030. */
static int
sniff(int fd, int *enc)
{
    struct bulk_utf8 u;
    char *b = xmalloc(CHUNK);
    ssize_t n;

    bulk_utf8_init(&u);
    while ((n = read(fd, b, CHUNK)) > 0 && !u.bad)
        bulk_utf8_feed(&u, b, (size_t)n);
    free(b);
    if (n < 0 || lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    *enc = bulk_utf8_ok(&u) ? BULK_ENC_UTF8 : BULK_ENC_GB18030;
    return 0;
}

static void
print_report(const json_t *r, const char *file, double secs)
{
    const json_t *problems = json_object_get(r, "problems");
    int64_t rows = json_integer_value(json_object_get(r, "rows"));
    int64_t imported = json_integer_value(json_object_get(r, "imported"));
    int64_t dropped = json_integer_value(json_object_get(r, "problems_dropped"));
    bool dry = json_is_true(json_object_get(r, "dry_run"));
    size_t i;
    json_t *p;

    json_array_foreach(problems, i, p)
    {
        const char *col = json_string_value(json_object_get(p, "column"));
        const char *hdr = json_string_value(json_object_get(p, "header"));
        const char *field = json_string_value(json_object_get(p, "field"));

        if (i == PRINT_MAX) {
            printf("%s: … %zu more problems (--json lists up to %d)\n", file,
                   json_array_size(problems) - i, BULK_MAX_PROBLEMS);
            break;
        }

        printf("%s: row %lld", file, (long long)json_integer_value(json_object_get(p, "row")));
        if (col)
            printf(", column %s", col);
        if (hdr)
            printf(" (%s)", hdr);
        if (field && (hdr == NULL || strcmp(hdr, field) != 0))
            printf(" %s", field);
        printf(": %s\n", json_string_value(json_object_get(p, "detail")));
    }
    if (dropped)
        printf("%s: … and %lld more problems\n", file, (long long)dropped);
    if (json_array_size(problems) || dropped)
        printf("%s: %zu problem%s in %lld rows; nothing was imported\n", file,
               json_array_size(problems) + (size_t)dropped,
               json_array_size(problems) + (size_t)dropped == 1 ? "" : "s", (long long)rows);
    else if (dry)
        printf("%s: dry run: %lld rows of %s are valid (%s); nothing was imported\n", file,
               (long long)rows, json_string_value(json_object_get(r, "kind")),
               json_string_value(json_object_get(r, "encoding")));
    else
        printf("%s: imported %lld %s (%lld created, %lld updated; %s) in %.2f s, %.0f rows/s "
               "(import #%lld)\n",
               file, (long long)imported, json_string_value(json_object_get(r, "kind")),
               (long long)json_integer_value(json_object_get(r, "created")),
               (long long)json_integer_value(json_object_get(r, "updated")),
               json_string_value(json_object_get(r, "encoding")), secs,
               secs > 0 ? (double)rows / secs : 0.0,
               (long long)json_integer_value(json_object_get(r, "import_id")));
}

static int
run(struct config *cfg, int kind, const char *file, int enc, bool dry, bool update, bool json)
{
    struct smile_err err;
    struct store *s = NULL;
    struct bulk_import *im = NULL;
    struct crm_ctx c;
    json_t *report = NULL;
    char *b = NULL;
    const char *base;
    bool ok = false;
    int fd, rc = 1;
    ssize_t n;
    int64_t t0;

    smile_err_clear(&err);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "smile import: cannot open %s: %s\n", file, strerror(errno));
        return 1;
    }
    if (enc == BULK_ENC_AUTO && sniff(fd, &enc) != 0) {
        fprintf(stderr, "smile import: cannot read %s: %s\n", file, strerror(errno));
        close(fd);
        return 1;
    }
    if (cli_open_db(cfg, false, &s) != 0)
        goto out;
    memset(&c, 0, sizeof(c));
    c.db = s;
    c.request_id = "cli";
    c.address = "";
    c.now_ms = time_now_ms();
    base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    t0 = time_mono_ns();
    if (bulk_import_begin(&c, kind, enc, dry, base, &im, &err) != SMILE_OK)
        goto fail;
    bulk_import_set_update(im, update);
    b = xmalloc(CHUNK);
    while ((n = read(fd, b, CHUNK)) > 0)
        if (bulk_import_feed(im, b, (size_t)n, &err) != SMILE_OK)
            goto fail;
    if (n < 0) {
        fprintf(stderr, "smile import: read %s: %s\n", file, strerror(errno));
        goto out;
    }
    if (bulk_import_finish(im, &report, &ok, &err) != SMILE_OK)
        goto fail;
    if (json) {
        char *d = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        printf("%s\n", d);
        free(d);
    } else {
        print_report(report, file, (double)(time_mono_ns() - t0) / 1e9);
    }
    rc = ok ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "smile import: %s; nothing was imported\n", err.msg);
out:
    json_decref(report);
    bulk_import_free(im);
    free(b);
    store_close(s);
    close(fd);
    return rc;
}

int
cli_import_csv(struct config *cfg, int argc, char **argv)
{
    int kind = bulk_kind_parse(argv[0]), enc = BULK_ENC_AUTO;
    const char *file = NULL;
    bool dry = false, json = false, update = false;

    for (int i = 1; i < argc; i++) {
        if (kind >= 0 && strcmp(argv[i], "--template") == 0) {
            /* smile import KIND --template [zh|en]: print the header row to start from */
            struct buf b;
            bool zh = i + 1 < argc && strcmp(argv[i + 1], "zh") == 0;

            buf_init(&b, 0);
            bulk_template(kind, zh, &b);
            fwrite(b.data, 1, b.len, stdout);
            buf_free(&b);
            return 0;
        }
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (strcmp(argv[i], "--update") == 0) {
            update = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--encoding") == 0 && i + 1 < argc) {
            enc = bulk_encoding_parse(argv[++i]);
        } else if (strncmp(argv[i], "--encoding=", 11) == 0) {
            enc = bulk_encoding_parse(argv[i] + 11);
        } else if (argv[i][0] != '-' && file == NULL) {
            file = argv[i];
        } else {
            return cli_import_csv_usage(stderr);
        }
    }
    if (kind < 0 || file == NULL)
        return cli_import_csv_usage(stderr);
    if (enc < 0) {
        fprintf(stderr, "smile import: --encoding is auto, utf-8 or gb18030\n");
        return 2;
    }
    return run(cfg, kind, file, enc, dry, update, json);
}
