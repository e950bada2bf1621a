/*
 * commands.c — the command table that drives dispatch and `smile --help`
 * (OpenSMTPD smtpctl), plus the two one-screen commands `version` and `routes`. Each
 * other subcommand lives in its own file under src/cli/.
 */
#include "cli/cli.h"

#include <stdio.h>

#include "api/api.h"
#include "store/store.h"

const struct cli_command cli_commands[] = {
    {"serve", cli_serve, "run the HTTP server"},
    {"init", cli_init, "create or upgrade a database"},
    {"migrate", cli_migrate, "apply pending migrations (--status to show)"},
    {"backup", cli_backup, "write an online backup of the database to FILE"},
    {"user", cli_user, "add, list, disable staff accounts and set passwords"},
    {"team", cli_team, "add and list teams"},
    {"token", cli_token, "create, list and revoke API tokens"},
    {"routes", cli_routes, "list every API route with its roles and scope"},
    {"version", cli_version, "print the version"},
    {NULL, NULL, NULL},
};

int
cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("smile %s (%s %s)\n", SMILE_VERSION, store_driver_name(), store_driver_version());
    return 0;
}

int
cli_routes(int argc, char **argv)
{
    static const char *m[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "?"};

    (void)argc;
    (void)argv;
    for (int i = 0; i < api_route_count; i++) {
        const struct api_route *r = &api_routes[i];
        struct buf b;

        buf_init(&b, 0);
        api_scopes_format(r->scope, &b);
        printf("%s %s roles=%s%s%s scope=%s\n", m[r->method], r->pattern,
               r->flags & API_PUBLIC ? "public" : "",
               !(r->flags & API_PUBLIC) && (r->roles & API_ROLE_AGENT) ? "agent," : "",
               !(r->flags & API_PUBLIC)
                   ? ((r->roles & API_ROLE_SUPERVISOR) ? "supervisor,admin" : "admin")
                   : "",
               b.len ? b.data : "-");
        buf_free(&b);
    }
    return 0;
}
