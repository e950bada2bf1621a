/*
 * report.c — `smile report scorecard --period 2026-11 [--format csv|xlsx] [--template NAME]
 * [--detail items] [--compute] [--out FILE] [--db PATH]`: the evaluations of a period as CSV
 * or XLSX, the same bytes GET /api/v1/evaluations/export returns (score/export.c). With
 * --compute the period is computed first (drafts; frozen evaluations are kept), so a report
 * can be had from the command line alone. Output goes to FILE or standard output.
 */
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "cli/cli.h"
#include "score/score.h"
#include "store/store.h"

static int
usage(void)
{
    fprintf(stderr, "usage: smile report scorecard --period PERIOD [--format csv|xlsx]\n"
                    "                              [--template NAME] [--detail items]"
                    " [--compute]\n"
                    "                              [--out FILE] [--db PATH]\n"
                    "PERIOD: a month (2026-11), an ISO week (2026-W48) or a quarter (2026-Q4)\n");
    return 2;
}

int
cli_report(int argc, char **argv)
{
    const char *period = NULL, *format = "csv", *tname = NULL, *detail = NULL, *outp = NULL;
    struct score_eval_filter f;
    struct score_template t;
    struct score_period p;
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    struct buf out;
    bool compute = false;
    int fmt, rc = 1;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (argc < 2 || strcmp(argv[1], "scorecard") != 0) {
        config_free(&cfg);
        return usage();
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;

        if (strcmp(a, "--compute") == 0) {
            compute = true;
            continue;
        }
        if (strcmp(a, "--period") == 0)
            dst = &period;
        else if (strcmp(a, "--format") == 0)
            dst = &format;
        else if (strcmp(a, "--template") == 0)
            dst = &tname;
        else if (strcmp(a, "--detail") == 0)
            dst = &detail;
        else if (strcmp(a, "--out") == 0)
            dst = &outp;
        if (dst == NULL || i + 1 >= argc) {
            fprintf(stderr, "smile report: unexpected argument '%s'\n", a);
            config_free(&cfg);
            return usage();
        }
        *dst = argv[++i];
    }
    if (period == NULL || score_period_parse(period, &p, &err) != SMILE_OK) {
        fprintf(stderr, "smile report: %s\n", period ? err.msg : "--period is required");
        config_free(&cfg);
        return 2;
    }
    if (strcmp(format, "xlsx") == 0)
        fmt = SCORE_EXPORT_XLSX;
    else if (strcmp(format, "csv") == 0)
        fmt = detail && strcmp(detail, "items") == 0 ? SCORE_EXPORT_CSV_ITEMS : SCORE_EXPORT_CSV;
    else {
        fprintf(stderr, "smile report: --format must be csv or xlsx\n");
        config_free(&cfg);
        return 2;
    }
    if (detail && strcmp(detail, "items") != 0) {
        fprintf(stderr, "smile report: --detail must be items\n");
        config_free(&cfg);
        return 2;
    }
    if (compute && tname == NULL) {
        fprintf(stderr, "smile report: --compute needs --template\n");
        config_free(&cfg);
        return 2;
    }
    buf_init(&out, 0);
    memset(&f, 0, sizeof(f));
    f.period = p.name;
    if (cli_open_db(&cfg, false, &s) != 0)
        goto out;
    if (tname) {
        if (score_template_get_by_name(s, tname, &t, &err) != SMILE_OK) {
            fprintf(stderr, "smile report: %s\n", err.msg);
            goto out;
        }
        f.template_id = t.id;
    }
    if (compute) {
        struct score_compute_opts o = {
            .skip_frozen = true, .with_digest = true, .now_ms = time_now_ms()};
        json_t *res = NULL;

        if (score_evaluations_compute(s, NULL, &t, &p, &o, &res, &err) != SMILE_OK) {
            fprintf(stderr, "smile report: %s\n", err.msg);
            goto out;
        }
        fprintf(stderr, "computed %lld evaluations of %s for %s\n",
                (long long)json_integer_value(json_object_get(res, "computed")), t.name, p.name);
        json_decref(res);
    }
    if (score_export(s, &f, fmt, &out, &err) != SMILE_OK) {
        fprintf(stderr, "smile report: %s\n", err.msg);
        goto out;
    }
    if (outp) {
        FILE *fp = fopen(outp, "wb");
        if (fp == NULL || fwrite(out.data, 1, out.len, fp) != out.len) {
            fprintf(stderr, "smile report: cannot write %s\n", outp);
            if (fp)
                fclose(fp);
            goto out;
        }
        if (fclose(fp) != 0) {
            fprintf(stderr, "smile report: cannot write %s\n", outp);
            goto out;
        }
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len) {
        goto out;
    }
    rc = 0;
out:
    buf_free(&out);
    store_close(s);
    config_free(&cfg);
    return rc;
}
