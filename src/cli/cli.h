/*
 * cli.h — the subcommands of the `smile` binary. main.c parses nothing but the command
 * name; each handler takes the remaining argv and returns the process exit status.
 */
#ifndef SMILE_CLI_H
#define SMILE_CLI_H

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

extern const struct cli_command cli_commands[];

int cli_version(int argc, char **argv);

#endif
