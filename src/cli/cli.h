/*
 * cli.h — the subcommands of the `smile` binary. main.c parses nothing but the command
 * name; each handler takes the remaining argv (argv[0] is the command's name) and
 * returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef SMILE_CLI_H
#define SMILE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/base.h"

struct config;
struct store;

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

extern const struct cli_command cli_commands[];

int cli_version(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_init(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_routes(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_team(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_rebuild(int argc, char **argv);
int cli_import(int argc, char **argv); /* import_pbx.c */
int cli_agent(int argc, char **argv);  /* import_pbx.c */
/* bulk: `smile import customers|properties|contracts` (import_csv.c); argv[0] is the kind. */
int cli_import_csv(struct config *cfg, int argc, char **argv);
int cli_import_csv_usage(FILE *f);
/* what-if: `smile replay` (replay.c). */
int cli_replay(int argc, char **argv);
int cli_report(int argc, char **argv); /* report.c (score) */

/* Opens (creating if asked) and migrates the configured database; prints errors. */
int cli_open_db(struct config *cfg, bool create, struct store **out);
/* Installs the default calendar and processes if absent (idempotent). */
int cli_seed_defaults(struct store *s, struct smile_err *err);

#endif
