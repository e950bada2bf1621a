/*
 * commands.c — the command table that drives dispatch and `smile --help`
 * (OpenSMTPD smtpctl), plus the two one-screen commands `version` and `routes`. Each
 * other subcommand lives in its own file under src/cli/.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

const struct cli_command cli_commands[] = {
    {"serve", cli_serve, "run the HTTP server"},
    {"init", cli_init, "create or upgrade a database"},
    {"migrate", cli_migrate, "apply pending migrations (--status to show)"},
    {"rebuild", cli_rebuild, "drop the derived measurements and rebuild them from the ledger"},
    {"backup", cli_backup, "write an online backup of the database to FILE"},
    {"user", cli_user, "add, list, disable staff accounts and set passwords"},
    {"team", cli_team, "add and list teams"},
    {"token", cli_token, "create, list and revoke API tokens"},
    {"routes", cli_routes, "list every API route with its roles and scope (--json)"},
    {"import", cli_import,
     "import a PBX queue_log (queue-log FILE) or CRM records from CSV "
     "(customers|properties|contracts FILE)"},
    {"replay", cli_replay, "what-if: replay a period through the live process and a draft"},
    {"demo", cli_demo, "fill a new database with a three-month demo history (--seed N)"},
    {"agent", cli_agent, "map PBX agent names to staff (map | unmap | list)"},
    {"report", cli_report, "scorecards of a period as CSV or XLSX (report scorecard --period P)"},
    {"secrets", cli_secrets, "show the secret key's state or rotate it (status | rotate)"},
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
    bool json = argc > 1 && strcmp(argv[1], "--json") == 0;

    if (argc > 1 && !json) {
        fprintf(stderr, "usage: smile routes [--json]\n");
        return 2;
    }
    if (json)
        printf("[\n");
    for (int i = 0; i < api_route_count; i++) {
        const struct api_route *r = &api_routes[i];
        bool pub = r->flags & API_PUBLIC;
        struct buf scopes, roles;

        buf_init(&scopes, 0);
        buf_init(&roles, 0);
        api_scopes_format(r->scope, &scopes);
        for (int bit = API_ROLE_AGENT; bit <= API_ROLE_ADMIN; bit <<= 1) {
            if (pub || !(r->roles & (unsigned)bit))
                continue;
            if (json)
                buf_printf(&roles, "%s\"%s\"", roles.len ? "," : "", api_role_name(bit));
            else
                buf_printf(&roles, "%s%s", roles.len ? "," : "", api_role_name(bit));
        }
        if (json)
            printf("  {\"method\":\"%s\",\"path\":\"%s\",\"public\":%s,\"roles\":[%s],"
                   "\"scope\":\"%s\"}%s\n",
                   m[r->method], r->pattern, pub ? "true" : "false", roles.len ? roles.data : "",
                   scopes.len ? scopes.data : "", i + 1 < api_route_count ? "," : "");
        else
            printf("%-7s %-44s %-24s %s\n", m[r->method], r->pattern, pub ? "public" : roles.data,
                   scopes.len ? scopes.data : "-");
        buf_free(&scopes);
        buf_free(&roles);
    }
    if (json)
        printf("]\n");
    return 0;
}
