/*
 * user.c — the staff commands: `smile user add|list|passwd|disable` and
 * `smile team add|list`. They open the database directly (no server needed), go through
 * crm/staff.c like the API does, and are audited with the actor "cli". Passwords come
 * from standard input only (--password-stdin), never from argv where `ps` would show
 * them. Exit status: 0 done, 1 failed, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/config.h"
#include "cli/cli.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "store/store.h"

static const char user_usage[] =
    "usage: smile user add NAME --role agent|supervisor|admin [--team TEAM]\n"
    "                      [--display-name NAME] [--email ADDR] [--locale en|zh-CN]\n"
    "                      --password-stdin [--db PATH]\n"
    "       smile user list [--db PATH]\n"
    "       smile user passwd NAME --password-stdin [--db PATH]\n"
    "       smile user disable NAME [--db PATH]\n"
    "\n"
    "Manages staff accounts. Passwords (at least 8 characters) are read as one line from\n"
    "standard input. passwd and disable end the user's sign-in sessions.";

static const char team_usage[] = "usage: smile team add NAME [--display-name NAME] [--db PATH]\n"
                                 "       smile team list [--db PATH]\n"
                                 "\n"
                                 "Manages teams (names: 1-64 characters of a-z 0-9 . _ -).";

static bool
is_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Takes the value of --name from argv[*i + 1] (or --name=value); NULL and a message if none. */
static const char *
flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc) {
        *i += 1;
        return argv[*i];
    }
    fprintf(stderr, "smile: %s needs a value\n", name);
    return NULL;
}

static bool
flag_is(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/*
 * Reads one line from stdin as a password into out (cap bytes), stripping "\n" or
 * "\r\n"; checks the length rules. Prints the problem and returns false on failure.
 */
static bool
read_password(char *out, size_t cap)
{
    size_t n;
    struct smile_err err;

    if (fgets(out, (int)cap, stdin) == NULL) {
        fprintf(stderr, "smile: no password on standard input\n");
        return false;
    }
    n = strlen(out);
    if (n && out[n - 1] != '\n' && !feof(stdin)) {
        fprintf(stderr, "smile: the password must have at most %d bytes\n", AUTH_PASSWORD_MAX);
        return false;
    }
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    smile_err_clear(&err);
    if (auth_password_check(out, n, "/password", &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.fields[0].msg);
        return false;
    }
    return true;
}

/* Prints a staff error with its field details. */
static void
print_err(const struct smile_err *err)
{
    if (err->nfields == 0) {
        fprintf(stderr, "smile: %s\n", err->msg);
        return;
    }
    for (int i = 0; i < err->nfields; i++)
        fprintf(stderr, "smile: %s\n", err->fields[i].msg);
}

static int
user_add(struct store *db, int argc, char **argv)
{
    const char *name = NULL, *role = NULL, *team = NULL, *display = NULL, *email = NULL,
               *locale = NULL;
    bool pw_stdin = false;
    char pw[AUTH_PASSWORD_MAX + 3], hash[AUTH_HASH_MAX];
    struct smile_err err;
    struct staff_user u;
    json_t *in;
    int rc;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];

        if (flag_is(a, "--role")) {
            if ((role = flag_value(argc, argv, &i, "--role")) == NULL)
                return 2;
        } else if (flag_is(a, "--team")) {
            if ((team = flag_value(argc, argv, &i, "--team")) == NULL)
                return 2;
        } else if (flag_is(a, "--display-name")) {
            if ((display = flag_value(argc, argv, &i, "--display-name")) == NULL)
                return 2;
        } else if (flag_is(a, "--email")) {
            if ((email = flag_value(argc, argv, &i, "--email")) == NULL)
                return 2;
        } else if (flag_is(a, "--locale")) {
            if ((locale = flag_value(argc, argv, &i, "--locale")) == NULL)
                return 2;
        } else if (strcmp(a, "--password-stdin") == 0) {
            pw_stdin = true;
        } else if (a[0] == '-' || name) {
            fprintf(stderr, "smile user add: unexpected argument '%s'\n%s\n", a, user_usage);
            return 2;
        } else {
            name = a;
        }
    }
    if (name == NULL || role == NULL || !pw_stdin) {
        fprintf(stderr, "smile user add: NAME, --role and --password-stdin are required\n%s\n",
                user_usage);
        return 2;
    }
    if (!staff_role_valid(role)) {
        fprintf(stderr, "smile user add: --role must be agent, supervisor or admin, not '%s'\n",
                role);
        return 2;
    }
    if (!staff_name_valid(name)) {
        fprintf(stderr,
                "smile user add: a username is 1-64 characters of a-z, 0-9, '.', '_', '-'\n");
        return 1;
    }
    smile_err_clear(&err);
    in = json_pack("{s:s, s:s}", "username", name, "role", role);
    if (team) {
        struct staff_team t;

        if (staff_team_find(db, team, &t, &err) != SMILE_OK) {
            if (err.code == SMILE_ENOTFOUND)
                fprintf(stderr, "smile: no team %s (create it with smile team add %s)\n", team,
                        team);
            else
                print_err(&err);
            json_decref(in);
            return 1;
        }
        json_object_set_new(in, "team_id", json_integer(t.id));
    }
    if (display)
        json_object_set_new(in, "display_name", json_string(display));
    if (email)
        json_object_set_new(in, "email", json_string(email));
    if (locale)
        json_object_set_new(in, "locale", json_string(locale));
    if (!read_password(pw, sizeof(pw))) {
        json_decref(in);
        return 1;
    }
    rc = auth_password_hash(pw, hash, &err);
    auth_wipe(pw, sizeof(pw));
    if (rc == SMILE_OK)
        rc = staff_user_create(db, NULL, in, hash, &u, &err);
    json_decref(in);
    if (rc != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("added user %s (id %lld, %s%s%s)\n", u.username, (long long)u.id, u.role,
           u.team[0] ? ", team " : "", u.team);
    return 0;
}

static int
user_list(struct store *db)
{
    struct staff_user_filter f = {.limit = 500};
    struct smile_err err;
    json_t *items, *u;
    int64_t next = 0;
    size_t i;

    smile_err_clear(&err);
    printf("%-6s %-20s %-10s %-16s %-8s %s\n", "ID", "USERNAME", "ROLE", "TEAM", "STATUS",
           "DISPLAY NAME");
    do {
        if (staff_user_list(db, &f, &items, &next, &err) != SMILE_OK) {
            print_err(&err);
            return 1;
        }
        json_array_foreach(items, i, u)
        {
            json_t *team = json_object_get(u, "team");

            printf("%-6lld %-20s %-10s %-16s %-8s %s\n",
                   (long long)json_integer_value(json_object_get(u, "id")),
                   json_string_value(json_object_get(u, "username")),
                   json_string_value(json_object_get(u, "role")),
                   json_is_string(team) ? json_string_value(team) : "-",
                   json_is_true(json_object_get(u, "disabled")) ? "disabled" : "active",
                   json_string_value(json_object_get(u, "display_name")));
        }
        json_decref(items);
        f.after_id = next;
    } while (next);
    return 0;
}

static int
user_passwd(struct store *db, int argc, char **argv)
{
    const char *name = NULL;
    bool pw_stdin = false;
    char pw[AUTH_PASSWORD_MAX + 3], hash[AUTH_HASH_MAX];
    struct smile_err err;
    struct staff_user u;
    int rc;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0) {
            pw_stdin = true;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "smile user passwd: unexpected argument '%s'\n%s\n", argv[i],
                    user_usage);
            return 2;
        } else {
            name = argv[i];
        }
    }
    if (name == NULL || !pw_stdin) {
        fprintf(stderr, "smile user passwd: NAME and --password-stdin are required\n%s\n",
                user_usage);
        return 2;
    }
    smile_err_clear(&err);
    if (staff_user_find(db, name, &u, &err) != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    if (!read_password(pw, sizeof(pw)))
        return 1;
    rc = auth_password_hash(pw, hash, &err);
    auth_wipe(pw, sizeof(pw));
    if (rc == SMILE_OK)
        rc = store_begin(db, &err);
    if (rc == SMILE_OK) {
        rc = staff_user_password_set(db, NULL, u.id, hash, &err);
        if (rc == SMILE_OK)
            rc = auth_user_sessions_end(db, u.id, 0, &err);
        if (rc == SMILE_OK)
            rc = store_commit(db, &err);
        else
            store_rollback(db);
    }
    if (rc != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("password of %s changed; their sessions have ended\n", u.username);
    return 0;
}

static int
user_disable(struct store *db, int argc, char **argv)
{
    struct smile_err err;
    struct staff_user u, after;
    json_t *patch;
    int64_t admins = 0;
    int rc;

    if (argc != 3 || argv[2][0] == '-') {
        fprintf(stderr, "%s\n", user_usage);
        return 2;
    }
    smile_err_clear(&err);
    if (staff_user_find(db, argv[2], &u, &err) != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    patch = json_pack("{s:b}", "disabled", 1);
    rc = store_begin(db, &err);
    if (rc == SMILE_OK)
        rc = staff_user_update(db, NULL, u.id, 0, patch, &after, &err);
    /* Only disabling an active admin can leave no admin behind. */
    if (rc == SMILE_OK && strcmp(u.role, "admin") == 0 && !u.disabled)
        rc = store_query_int64(
            db, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0", &admins, &err);
    else
        admins = 1;
    if (rc == SMILE_OK && admins == 0)
        rc = smile_err_set(&err, SMILE_ECONFLICT,
                           "%s is the last active admin; add another admin first", u.username);
    if (rc == SMILE_OK)
        rc = auth_user_sessions_end(db, u.id, 0, &err);
    if (rc == SMILE_OK)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    json_decref(patch);
    if (rc != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("disabled user %s; their sessions and API tokens no longer work\n", u.username);
    return 0;
}

/* Loads the configuration (taking --db etc. out of argv) and opens the database. */
static int
open_db(int *argc, char **argv, struct config *cfg, struct store **db)
{
    struct smile_err err;

    smile_err_clear(&err);
    if (config_load(cfg, argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    if (cli_open_db(cfg, false, db) != 0) {
        config_free(cfg);
        return 1;
    }
    return 0;
}

int
cli_user(int argc, char **argv)
{
    struct config cfg;
    struct store *db = NULL;
    int rc;

    if (is_help(argc, argv)) {
        printf("%s\n", user_usage);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "%s\n", user_usage);
        return 2;
    }
    if (strcmp(argv[1], "add") && strcmp(argv[1], "list") && strcmp(argv[1], "passwd") &&
        strcmp(argv[1], "disable")) {
        fprintf(stderr, "smile user: unknown subcommand '%s'\n%s\n", argv[1], user_usage);
        return 2;
    }
    rc = open_db(&argc, argv, &cfg, &db);
    if (rc != 0)
        return rc;
    if (strcmp(argv[1], "add") == 0)
        rc = user_add(db, argc, argv);
    else if (strcmp(argv[1], "list") == 0)
        rc = argc == 2 ? user_list(db) : (fprintf(stderr, "%s\n", user_usage), 2);
    else if (strcmp(argv[1], "passwd") == 0)
        rc = user_passwd(db, argc, argv);
    else
        rc = user_disable(db, argc, argv);
    store_close(db);
    config_free(&cfg);
    return rc;
}

static int
team_add(struct store *db, int argc, char **argv)
{
    const char *name = NULL, *display = NULL;
    struct smile_err err;
    struct staff_team t;
    json_t *in;
    int rc;

    for (int i = 2; i < argc; i++) {
        if (flag_is(argv[i], "--display-name")) {
            if ((display = flag_value(argc, argv, &i, "--display-name")) == NULL)
                return 2;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "smile team add: unexpected argument '%s'\n%s\n", argv[i], team_usage);
            return 2;
        } else {
            name = argv[i];
        }
    }
    if (name == NULL) {
        fprintf(stderr, "smile team add: NAME is required\n%s\n", team_usage);
        return 2;
    }
    smile_err_clear(&err);
    in = json_pack("{s:s}", "name", name);
    if (display)
        json_object_set_new(in, "display_name", json_string(display));
    rc = staff_team_create(db, NULL, in, &t, &err);
    json_decref(in);
    if (rc != SMILE_OK) {
        print_err(&err);
        return 1;
    }
    printf("added team %s (id %lld)\n", t.name, (long long)t.id);
    return 0;
}

static int
team_list(struct store *db)
{
    struct smile_err err;
    json_t *items, *t;
    int64_t after = 0, next = 0;
    size_t i;

    smile_err_clear(&err);
    printf("%-6s %-20s %s\n", "ID", "NAME", "DISPLAY NAME");
    do {
        if (staff_team_list(db, after, 500, &items, &next, &err) != SMILE_OK) {
            print_err(&err);
            return 1;
        }
        json_array_foreach(items, i, t)
        {
            printf("%-6lld %-20s %s\n", (long long)json_integer_value(json_object_get(t, "id")),
                   json_string_value(json_object_get(t, "name")),
                   json_string_value(json_object_get(t, "display_name")));
        }
        json_decref(items);
        after = next;
    } while (next);
    return 0;
}

int
cli_team(int argc, char **argv)
{
    struct config cfg;
    struct store *db = NULL;
    int rc;

    if (is_help(argc, argv)) {
        printf("%s\n", team_usage);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "list"))) {
        fprintf(stderr, "%s\n", team_usage);
        return 2;
    }
    rc = open_db(&argc, argv, &cfg, &db);
    if (rc != 0)
        return rc;
    if (strcmp(argv[1], "add") == 0)
        rc = team_add(db, argc, argv);
    else
        rc = argc == 2 ? team_list(db) : (fprintf(stderr, "%s\n", team_usage), 2);
    store_close(db);
    config_free(&cfg);
    return rc;
}
