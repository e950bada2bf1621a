/*
 * commands.c — the command table that drives dispatch and `smile --help`
 * (OpenSMTPD smtpctl). Each subcommand lives in its own file under src/cli/.
 */
#include "cli/cli.h"

#include <stdio.h>

#include "base/base.h"

const struct cli_command cli_commands[] = {
    {"version", cli_version, "print the version"},
    {NULL, NULL, NULL},
};

int
cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("smile %s\n", SMILE_VERSION);
    return 0;
}
