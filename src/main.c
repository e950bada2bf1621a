/*
 * main.c — the `smile` command line: picks the subcommand from the command table and
 * hands it the rest of argv. Everything else lives in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/json_arena.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: smile COMMAND [ARGS]   (smile COMMAND --help for each)\n\ncommands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->help);
}

int
main(int argc, char **argv)
{
    json_arena_install(); /* before any thread: jansson's allocator is process-wide */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        argv[1] = "version";
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "smile: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
