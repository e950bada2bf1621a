/*
 * token.c — `smile token create|list|revoke`: API tokens for integrations, made from the
 * command line. create prints the new token alone on standard output (so scripts can
 * capture it) and it is never shown again; only its SHA-256 is stored. Audited with the
 * actor "cli". Exit status: 0 done, 1 failed, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/config.h"
#include "cli/cli.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "store/store.h"

static const char usage[] =
    "usage: smile token create --user NAME --scopes SCOPE[,SCOPE...] [--name NAME] [--db PATH]\n"
    "       smile token list [--db PATH]\n"
    "       smile token revoke ID [--db PATH]\n"
    "\n"
    "Manages API tokens (sent as: Authorization: Bearer smile_...). Scopes: crm:read,\n"
    "crm:write, events:read, events:write, kpi:read, admin (admin users only).\n"
    "create prints the token alone on standard output; it cannot be shown again.";

static const char *
value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc) {
        *i += 1;
        return argv[*i];
    }
    return NULL;
}

static bool
is_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static void
print_err(const struct smile_err *err)
{
    if (err->nfields == 0)
        fprintf(stderr, "smile: %s\n", err->msg);
    for (int i = 0; i < err->nfields; i++)
        fprintf(stderr, "smile: %s\n", err->fields[i].msg);
}

static int
token_create(struct store *db, int argc, char **argv)
{
    const char *user = NULL, *scopes = NULL, *name = "";
    struct smile_err err;
    struct staff_user u;
    struct auth_token_new t;
    unsigned bits = 0;

    for (int i = 2; i < argc; i++) {
        const char **dst = is_flag(argv[i], "--user")     ? &user
                           : is_flag(argv[i], "--scopes") ? &scopes
                           : is_flag(argv[i], "--name")   ? &name
                                                          : NULL;
        const char *flag = dst == &user ? "--user" : dst == &scopes ? "--scopes" : "--name";

        if (dst == NULL) {
            fprintf(stderr, "smile token create: unexpected argument '%s'\n%s\n", argv[i], usage);
            return 2;
        }
        if ((*dst = value(argc, argv, &i, flag)) == NULL) {
            fprintf(stderr, "smile token create: %s needs a value\n", flag);
            return 2;
        }
    }
    if (user == NULL || scopes == NULL) {
        fprintf(stderr, "smile token create: --user and --scopes are required\n%s\n", usage);
        return 2;
    }
    smile_err_clear(&err);
    if (api_scopes_parse(scopes, &bits, &err) != SMILE_OK) {
        fprintf(stderr, "smile token create: %s\n", err.msg);
        return 2;
    }
    if (staff_user_find(db, user, &u, &err) != SMILE_OK ||
        auth_token_create(db, NULL, u.id, bits, name, &t, &err) != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("%s\n", t.token);
    fflush(stdout);
    auth_wipe(&t, sizeof(t));
    return 0;
}

static int
token_list(struct store *db)
{
    struct smile_err err;
    json_t *items, *t;
    int64_t after = 0, next = 0;
    size_t i;

    smile_err_clear(&err);
    printf("%-6s %-16s %-16s %-10s %-24s %-24s %s\n", "ID", "PREFIX", "USER", "STATUS", "LAST USED",
           "SCOPES", "NAME");
    do {
        if (auth_token_list(db, 0, after, 500, &items, &next, &err) != SMILE_OK) {
            print_err(&err);
            return 1;
        }
        json_array_foreach(items, i, t)
        {
            json_t *sc = json_object_get(t, "scopes"), *s;
            json_t *used = json_object_get(t, "last_used_at");
            struct buf b;
            size_t k;

            buf_init(&b, 0);
            json_array_foreach(sc, k, s)
            {
                if (k)
                    buf_putc(&b, ',');
                buf_puts(&b, json_string_value(s));
            }
            printf("%-6lld %-16s %-16s %-10s %-24s %-24s %s\n",
                   (long long)json_integer_value(json_object_get(t, "id")),
                   json_string_value(json_object_get(t, "prefix")),
                   json_string_value(json_object_get(t, "username")),
                   json_is_null(json_object_get(t, "revoked_at")) ? "active" : "revoked",
                   json_is_string(used) ? json_string_value(used) : "never", b.data ? b.data : "",
                   json_string_value(json_object_get(t, "name")));
            buf_free(&b);
        }
        json_decref(items);
        after = next;
    } while (next);
    return 0;
}

static int
token_revoke(struct store *db, int argc, char **argv)
{
    struct smile_err err;
    int64_t id;

    if (argc != 3 || str_to_int64(str_from(argv[2]), &id) != SMILE_OK || id <= 0) {
        fprintf(stderr, "smile token revoke: ID must be a token id (see smile token list)\n");
        return 2;
    }
    smile_err_clear(&err);
    if (auth_token_revoke(db, NULL, id, &err) != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("revoked token %lld\n", (long long)id);
    return 0;
}

int
cli_token(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *db = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n", usage);
            return 0;
        }
    }
    if (argc < 2 ||
        (strcmp(argv[1], "create") && strcmp(argv[1], "list") && strcmp(argv[1], "revoke"))) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (cli_open_db(&cfg, false, &db) != 0) {
        config_free(&cfg);
        return 1;
    }
    if (strcmp(argv[1], "create") == 0)
        rc = token_create(db, argc, argv);
    else if (strcmp(argv[1], "list") == 0)
        rc = argc == 2 ? token_list(db) : (fprintf(stderr, "%s\n", usage), 2);
    else
        rc = token_revoke(db, argc, argv);
    store_close(db);
    config_free(&cfg);
    return rc;
}
