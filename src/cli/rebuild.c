/*
 * rebuild.c — `smile rebuild`: drops every row derived from the ledger (instances,
 * measurements, segments, measurement log, deadlines, the runtime cursor) and folds every
 * subject's events again with runtime_rebuild(), the same code the live runtime runs — the
 * proof that nothing downstream holds a fact the ledger does not. Run it with the server
 * stopped (or accept that the live runtime keeps folding beside it).
 */
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "cli/cli.h"
#include "runtime/runtime.h"
#include "store/store.h"

int
cli_rebuild(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    int64_t subjects = 0, t0;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: smile rebuild [--db PATH]\n\nDrops the measurements and deadlines "
                   "and rebuilds them from the event ledger.\n");
            return 0;
        }
    }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "smile rebuild: unexpected argument '%s'\n", argv[1]);
        config_free(&cfg);
        return 2;
    }
    if (cli_open_db(&cfg, false, &s) != 0)
        goto out;
    t0 = time_mono_ns();
    if (runtime_rebuild(s, &subjects, &err) != SMILE_OK) {
        fprintf(stderr, "smile rebuild: %s\n", err.msg);
        goto out;
    }
    printf("rebuilt %lld subjects in %.1f ms\n", (long long)subjects,
           (double)(time_mono_ns() - t0) / 1e6);
    rc = 0;
out:
    store_close(s);
    config_free(&cfg);
    return rc;
}
