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
int cli_report(int argc, char **argv);  /* report.c (score) */
int cli_demo(int argc, char **argv);    /* demo.c */
int cli_secrets(int argc, char **argv); /* secrets.c (mail: secrets at rest) */

/*
 * Opens (creating if asked) and migrates the configured database, then loads the secret
 * key (cli_secrets_start); prints errors.
 */
int cli_open_db(struct config *cfg, bool create, struct store **out);

/* Secrets at rest (secrets.c) ------------------------------------------------------------ */

/* The secret key file: secret_key_file, else smile.key in the database's directory. */
void cli_secrets_key_path(struct config *cfg, char *out, size_t cap);
/*
 * Loads the secret key of s's database and installs it as the process key
 * (secret_key_install). Creates the key file (0600) when it is absent and the database
 * has no sealed secret; refuses (prints why, returns 1) when the database's secrets are
 * sealed under a key that is missing or is not the one in the file. Seals the values
 * still in clear (from before migration 0012) in one transaction. 0 on success.
 */
int cli_secrets_start(struct config *cfg, struct store *s, bool quiet);
/* Installs the default calendar and processes if absent (idempotent). */
int cli_seed_defaults(struct store *s, struct smile_err *err);

/* Demo data (demo.c) ------------------------------------------------------------------- */

struct cli_demo_options {
    uint64_t seed;             /* PRNG seed: the same seed and end give the same data */
    int64_t end_ms;            /* the history ends here (ms UTC; "now") */
    int days;                  /* length of the history in local days; 0 = 91 */
    int customers;             /* 0 = 2000 */
    const char *password_hash; /* of every demo staff account (NULL = cannot sign in) */
    FILE *queue_log;           /* when set, the generated queue_log lines are written here */
};

struct demo_stats {
    int days, working_days, holidays;
    int64_t start_ms;
    int64_t staff, teams, customers, calls, abandoned, queue_log_lines, emails, visits, cases,
        complaints, surveys, interactions, events, rejected;
    double fill_ms;
};

/*
 * Fills s (migrated, with the default calendar and processes) with the demo history: 3
 * teams and 25 staff, agent_map rows, customers with properties and contracts, hotline
 * calls as queue_log lines through the intake mapper, emails, counter visits and cases
 * through the CRM (see demo.c). SMILE_ECONFLICT, writing nothing, if the database has
 * customers or staff other than `admin`. Installs the runtime's CRM sink without a ledger
 * while it runs and uninstalls it. Does not fold: the caller runs runtime_rebuild() or the
 * live runtime. Counts and the time taken go to *st.
 */
int cli_demo_fill(struct store *s, const struct cli_demo_options *o, struct demo_stats *st,
                  struct smile_err *err);
/* One line summing up a fill, for the command line. */
void cli_demo_report(const struct demo_stats *st, FILE *f);
/*
 * Parses one demo flag (--seed, --end, --days, --customers) with its value into o:
 * 1 taken, 0 not a demo flag, -1 a bad value.
 */
int cli_demo_parse(const char *name, const char *value, struct cli_demo_options *o);
/* A random password (cap - 1 characters) for the demo staff and its hash (AUTH_HASH_MAX). */
int cli_demo_password(char *pw, size_t cap, char *hash, struct smile_err *err);

#endif
