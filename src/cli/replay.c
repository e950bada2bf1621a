/*
 * replay.c — `smile replay --process NAME [--draft FILE] --from DATE --to DATE
 * [--target 0.9] [--customer-tag TAG] [--json]`: the what-if replay (kpi/whatif.h) from the command
 * line. A DATE is RFC 3339 or YYYY-MM-DD (a whole day in China time, +08:00; --to includes its
 * day). Prints the side-by-side table (compliance, counts, p50/p90 per step, then per
 * staff, then who falls below the target), or the API's JSON with --json. Reads only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "cli/cli.h"
#include "kpi/whatif.h"
#include "runtime/records.h"
#include "store/store.h"

static int
usage(FILE *f)
{
    fprintf(f, "usage: smile replay --process NAME [--draft FILE] --from DATE --to DATE\n"
               "       [--target 0.9] [--customer-tag TAG] [--json] [--db PATH]\n\n"
               "Replays the events of the period through the live (published) process and a\n"
               "draft (a process document file; default: the stored draft) and prints both\n"
               "sides' compliance and elapsed times per step and per staff member. DATE is\n"
               "RFC 3339 or YYYY-MM-DD (China time; --to includes that day). --customer-tag\n"
               "replays only the subjects whose customer has that tag. Writes nothing.\n");
    return f == stdout ? 0 : 2;
}

/* RFC 3339, or YYYY-MM-DD as 00:00 +08:00 (end: the next day's 00:00). */
static bool
parse_when(const char *s, bool end, int64_t *out)
{
    int64_t days;

    if (strlen(s) == 10 && time_parse_date(s, 10, &days) == SMILE_OK) {
        *out = (days + (end ? 1 : 0)) * 86400000 - 8 * 3600000;
        return true;
    }
    return time_parse_rfc3339(s, strlen(s), out) == SMILE_OK;
}

static int
find_process(struct store *s, const char *name, int64_t *id, struct smile_err *err)
{
    int64_t after = 0, next = 0;

    for (;;) {
        json_t *page = NULL, *it;
        size_t i;
        int rc = runtime_process_list(s, after, 500, &page, &next, err);

        if (rc != SMILE_OK)
            return rc;
        json_array_foreach(page, i, it)
        {
            if (strcmp(json_string_value(json_object_get(it, "name")), name) == 0) {
                *id = json_integer_value(json_object_get(it, "id"));
                json_decref(page);
                return SMILE_OK;
            }
        }
        json_decref(page);
        if (next == 0)
            return smile_err_set(err, SMILE_ENOTFOUND, "no process named '%s'", name);
        after = next;
    }
}

/* "93.3% (14/15)" or "-" */
static void
pct(const json_t *st, char *out, size_t cap)
{
    const json_t *c = json_object_get(st, "compliance");

    if (st == NULL || json_is_null(st))
        snprintf(out, cap, "(no such step)");
    else if (!json_is_number(c))
        snprintf(out, cap, "- (%lld open)",
                 (long long)json_integer_value(json_object_get(st, "open")));
    else
        snprintf(out, cap, "%.1f%% (%lld/%lld)", json_number_value(c) * 100,
                 (long long)json_integer_value(json_object_get(st, "met")),
                 (long long)(json_integer_value(json_object_get(st, "met")) +
                             json_integer_value(json_object_get(st, "breached"))));
}

static void
dur(const json_t *v, char *out, size_t cap)
{
    double ms;

    if (!json_is_integer(v)) {
        snprintf(out, cap, "-");
        return;
    }
    ms = (double)json_integer_value(v);
    if (ms >= 3600000)
        snprintf(out, cap, "%.1f h", ms / 3600000);
    else if (ms >= 60000)
        snprintf(out, cap, "%.1f min", ms / 60000);
    else
        snprintf(out, cap, "%.1f s", ms / 1000);
}

static void
delta(const json_t *row, char *out, size_t cap)
{
    const json_t *d = json_object_get(json_object_get(row, "delta"), "compliance");

    if (json_is_number(d))
        snprintf(out, cap, "%+.1f pts", json_number_value(d) * 100);
    else
        snprintf(out, cap, "-");
}

static void
line(const char *name, const json_t *row, bool times)
{
    char l[48], d[48], dl[24], l50[16], l90[16], d50[16], d90[16];

    pct(json_object_get(row, "live"), l, sizeof(l));
    pct(json_object_get(row, "draft"), d, sizeof(d));
    delta(row, dl, sizeof(dl));
    printf("  %-24s %-22s %-22s %s\n", name, l, d, dl);
    if (times) {
        char a[40], b[40];

        dur(json_object_get(json_object_get(row, "live"), "p50_ms"), l50, sizeof(l50));
        dur(json_object_get(json_object_get(row, "live"), "p90_ms"), l90, sizeof(l90));
        dur(json_object_get(json_object_get(row, "draft"), "p50_ms"), d50, sizeof(d50));
        dur(json_object_get(json_object_get(row, "draft"), "p90_ms"), d90, sizeof(d90));
        snprintf(a, sizeof(a), "%s / %s", l50, l90);
        snprintf(b, sizeof(b), "%s / %s", d50, d90);
        printf("  %-24s %-22s %-22s\n", "  p50 / p90", a, b);
    }
}

static void
print_names(const json_t *arr)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
    if (json_array_size(arr) == 0)
        printf("nobody");
}

static void
print_table(const json_t *r)
{
    const json_t *p = json_object_get(r, "process"), *tg = json_object_get(r, "target");
    size_t i;
    json_t *row;

    printf("What-if: %s, %s … %s", json_string_value(json_object_get(p, "name")),
           json_string_value(json_object_get(r, "from")),
           json_string_value(json_object_get(r, "to")));
    if (json_is_string(json_object_get(r, "customer_tag")))
        printf(", customers tagged %s", json_string_value(json_object_get(r, "customer_tag")));
    printf("\n");
    printf(
        "%lld subjects, %lld events replayed; instances live %lld, draft %lld\n\n",
        (long long)json_integer_value(json_object_get(r, "subjects")),
        (long long)json_integer_value(json_object_get(r, "events")),
        (long long)json_integer_value(json_object_get(json_object_get(r, "instances"), "live")),
        (long long)json_integer_value(json_object_get(json_object_get(r, "instances"), "draft")));
    printf("  %-24s %-22s %-22s %s\n", "step", "live", "draft", "change");
    json_array_foreach(json_object_get(r, "steps"), i, row)
        line(json_string_value(json_object_get(row, "step")), row, true);
    line("all steps", json_object_get(r, "totals"), false);
    printf("\n  %-24s %-22s %-22s %s\n", "staff", "live", "draft", "change");
    json_array_foreach(json_object_get(r, "staff"), i, row)
        line(json_string_value(json_object_get(row, "staff")), row, false);
    if (json_is_object(tg)) {
        const json_t *l = json_object_get(tg, "live"), *d = json_object_get(tg, "draft");

        printf("\nTarget %.1f%%: below it live %lld of %lld, draft %lld of %lld.\n",
               json_number_value(json_object_get(tg, "compliance")) * 100,
               (long long)json_integer_value(json_object_get(l, "below")),
               (long long)json_integer_value(json_object_get(l, "of")),
               (long long)json_integer_value(json_object_get(d, "below")),
               (long long)json_integer_value(json_object_get(d, "of")));
        printf("Would fall below: ");
        print_names(json_object_get(tg, "newly_below"));
        printf("\nWould rise above: ");
        print_names(json_object_get(tg, "no_longer_below"));
        printf("\n");
    }
}

int
cli_replay(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    const char *name = NULL, *draft_file = NULL, *from_s = NULL, *to_s = NULL;
    const char *customer_tag = NULL;
    json_t *draft = NULL, *out = NULL;
    bool json = false;
    double target = -1;
    int64_t from, to, id = 0;
    int rc = 1;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout);
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (v == NULL)
            goto bad;
        if (strcmp(a, "--process") == 0)
            name = v;
        else if (strcmp(a, "--draft") == 0)
            draft_file = v;
        else if (strcmp(a, "--from") == 0)
            from_s = v;
        else if (strcmp(a, "--to") == 0)
            to_s = v;
        else if (strcmp(a, "--customer-tag") == 0)
            customer_tag = v;
        else if (strcmp(a, "--target") == 0) {
            char *end;

            target = strtod(v, &end);
            if (*end != '\0' || !(target > 0 && target <= 1)) {
                fprintf(stderr, "smile replay: --target is a compliance in (0, 1], e.g. 0.9\n");
                rc = 2;
                goto out;
            }
        } else
            goto bad;
        i++;
    }
    if (name == NULL || from_s == NULL || to_s == NULL)
        goto bad;
    if (!parse_when(from_s, false, &from) || !parse_when(to_s, true, &to) || to <= from) {
        fprintf(stderr, "smile replay: --from and --to are RFC 3339 times or YYYY-MM-DD dates, "
                        "from before to\n");
        rc = 2;
        goto out;
    }
    if (draft_file) {
        json_error_t je;

        draft = json_load_file(draft_file, 0, &je);
        if (draft == NULL) {
            fprintf(stderr, "smile replay: %s:%d:%d: %s\n", draft_file, je.line, je.column,
                    je.text);
            goto out;
        }
    }
    if (cli_open_db(&cfg, false, &s) != 0)
        goto out;
    if (find_process(s, name, &id, &err) != SMILE_OK ||
        kpi_whatif_run(s, id, draft, from, to, target, customer_tag, time_now_ms(), &out, &err) !=
            SMILE_OK) {
        fprintf(stderr, "smile replay: %s\n", err.msg[0] ? err.msg : smile_result_title(err.code));
        for (int i = 0; i < err.nfields; i++)
            fprintf(stderr, "  %s: %s\n", err.fields[i].path, err.fields[i].msg);
        goto out;
    }
    if (json) {
        char *d = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        printf("%s\n", d);
        free(d);
    } else {
        print_table(out);
    }
    rc = 0;
    goto out;
bad:
    rc = usage(stderr);
out:
    json_decref(out);
    json_decref(draft);
    store_close(s);
    config_free(&cfg);
    return rc;
}
