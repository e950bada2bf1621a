/*
 * config.c — the configuration table and its three feeds: the INI file (libinih), the
 * SMILE_* environment and command-line flags, applied in that order so flags win.
 * Every value is validated against the option's type and bounds where it is read.
 */
#include "base/config.h"

#include <ctype.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct config_option config_options[CFG_COUNT] = {
    [CFG_DB] = {"db", CONFIG_STRING, "data/smile.db", 0, 0, "database file (SQLite)"},
    [CFG_LISTEN] = {"listen", CONFIG_STRING, "127.0.0.1:8080", 0, 0, "HOST:PORT to serve on"},
    [CFG_THREADS] = {"threads", CONFIG_INT, "2", 1, 256,
                     "HTTP I/O threads (reads are answered on these)"},
    [CFG_WORKERS] = {"workers", CONFIG_INT, "32", 1, 1024,
                     "threads for writes; as many writes as workers can share one commit"},
    [CFG_MAX_BODY] = {"max_body", CONFIG_INT, "1048576", 1024, INT64_C(1) << 30,
                      "largest request body in bytes"},
    [CFG_CONN_LIMIT] = {"conn_limit", CONFIG_INT, "1024", 1, 65536, "most open connections"},
    [CFG_PER_IP_LIMIT] = {"per_ip_limit", CONFIG_INT, "256", 0, 65536,
                          "most connections from one address (0 = no limit)"},
    [CFG_TIMEOUT] = {"timeout", CONFIG_INT, "30", 1, 3600, "idle connection timeout, seconds"},
    [CFG_LOG_LEVEL] = {"log_level", CONFIG_STRING, "info", 0, 0, "debug, info, warn or error"},
    [CFG_SESSION_TTL] = {"session_ttl", CONFIG_INT, "43200", 60, 31 * 86400,
                         "idle seconds before a sign-in session expires"},
    [CFG_LOGIN_ATTEMPTS] = {"login_attempts", CONFIG_INT, "5", 1, 1000,
                            "failed sign-ins allowed per user and per address in the window"},
    [CFG_LOGIN_WINDOW] = {"login_window", CONFIG_INT, "300", 1, 86400,
                          "seconds over which failed sign-ins are counted"},
    [CFG_COOKIE_SECURE] = {"cookie_secure", CONFIG_BOOL, "no", 0, 0,
                           "mark the session cookie Secure (set yes when served over HTTPS)"},
    [CFG_DRAIN_MS] = {"drain_ms", CONFIG_INT, "10000", 0, 600000,
                      "how long SIGTERM waits for in-flight requests"},
    [CFG_AMI_HOST] = {"ami_host", CONFIG_STRING, "", 0, 0,
                      "Asterisk Manager Interface host; empty = no AMI client"},
    [CFG_AMI_PORT] = {"ami_port", CONFIG_INT, "5038", 1, 65535, "Asterisk Manager Interface port"},
    [CFG_AMI_USER] = {"ami_user", CONFIG_STRING, "", 0, 0, "manager.conf user (read = call,agent)"},
    [CFG_AMI_SECRET] = {"ami_secret", CONFIG_STRING, "", 0, 0, "that user's secret"},
    [CFG_AMI_SOURCE] = {"ami_source", CONFIG_STRING, "asterisk", 0, 0,
                        "event source name of the PBX (same as import --source)"},
    /* notify: Server-Sent Events at /api/v1/stream */
    [CFG_MAX_STREAMS] = {"max_streams", CONFIG_INT, "256", 1, 65536,
                         "most open event streams (kept under 3/4 of conn_limit)"},
    [CFG_MAX_STREAMS_PER_USER] = {"max_streams_per_user", CONFIG_INT, "8", 1, 65536,
                                  "most open event streams of one user"},
    [CFG_STREAM_HEARTBEAT] = {"stream_heartbeat", CONFIG_INT, "15", 1, 3600,
                              "seconds between keep-alive comments on idle event streams"},
    /* webhook */
    [CFG_WEBHOOK_RETRY_MS] = {"webhook_retry_ms", CONFIG_INT, "10000", 10, 86400000,
                              "first webhook retry back-off in ms (doubles per try)"},
    [CFG_WEBHOOK_RETRY_MAX_MS] = {"webhook_retry_max_ms", CONFIG_INT, "3600000", 10, 86400000,
                                  "longest webhook retry back-off in ms"},
    [CFG_WEBHOOK_MAX_ATTEMPTS] = {"webhook_max_attempts", CONFIG_INT, "25", 1, 1000,
                                  "webhook tries before a delivery is marked failed"},
    [CFG_WEBHOOK_CONCURRENCY] = {"webhook_concurrency", CONFIG_INT, "8", 1, 256,
                                 "webhook requests in flight at most (one per subscription)"},
    [CFG_WEBHOOK_TIMEOUT_MS] = {"webhook_timeout_ms", CONFIG_INT, "10000", 100, 120000,
                                "whole webhook request timeout in ms (connect: 5 s at most)"},
    [CFG_WEBHOOK_LOG_DAYS] = {"webhook_log_days", CONFIG_INT, "30", 0, 3650,
                              "days finished webhook deliveries stay in the log (0 = forever)"},
    /* mailnotify: system e-mail (docs/notifications.md, Email) */
    [CFG_SMTP_URL] = {"smtp_url", CONFIG_STRING, "", 0, 0,
                      "SMTP server of system e-mail, smtp://host:port or smtps://; empty = none"},
    [CFG_SMTP_USER] = {"smtp_user", CONFIG_STRING, "", 0, 0, "SMTP AUTH user (empty = no AUTH)"},
    [CFG_SMTP_PASSWORD] = {"smtp_password", CONFIG_STRING, "", 0, 0, "SMTP AUTH password"},
    [CFG_MAIL_FROM] = {"mail_from", CONFIG_STRING, "", 0, 0,
                       "From address of system e-mail (required with smtp_url)"},
    [CFG_MAIL_FROM_NAME] = {"mail_from_name", CONFIG_STRING, "Smile", 0, 0,
                            "From display name of system e-mail"},
    [CFG_NOTIFY_EMAIL] = {"notify_email", CONFIG_STRING, "breach", 0, 0,
                          "notifications also e-mailed: off, breach or all"},
    [CFG_DIGEST_EMAIL] = {"digest_email", CONFIG_BOOL, "yes", 0, 0,
                          "e-mail supervisors their scorecard digests"},
    [CFG_SMTP_RETRY_MS] = {"smtp_retry_ms", CONFIG_INT, "30000", 10, 86400000,
                           "first system e-mail retry back-off in ms (doubles per try)"},
    [CFG_SMTP_RETRY_MAX_MS] = {"smtp_retry_max_ms", CONFIG_INT, "3600000", 10, 86400000,
                               "longest system e-mail retry back-off in ms"},
    /* mail: secrets at rest */
    [CFG_SECRET_KEY_FILE] = {"secret_key_file", CONFIG_STRING, "", 0, 0,
                             "key sealing the passwords and secrets kept in the database "
                             "(empty = smile.key beside the database; back it up too)"},
    [CFG_MAIL_IDLE_RENEW] = {"mail_idle_renew", CONFIG_INT, "1680", 5, 1740,
                             "seconds a mailbox waits in IMAP IDLE before renewing it (RFC 2177: "
                             "under 29 min; less if a firewall drops quiet connections sooner)"},
    [CFG_MAILNOTIFY_MAX_ATTEMPTS] = {"mailnotify_max_attempts", CONFIG_INT, "10", 1, 1000,
                                     "failed attempts after which a system e-mail is given up"},
};

static int
find(const char *name, size_t len)
{
    for (int i = 0; i < CFG_COUNT; i++) {
        const char *n = config_options[i].name;
        size_t k;

        if (strlen(n) != len)
            continue;
        for (k = 0; k < len; k++) {
            char c = name[k] == '-' ? '_' : (char)tolower((unsigned char)name[k]);

            if (c != n[k])
                break;
        }
        if (k == len)
            return i;
    }
    return -1;
}

static int
check(int k, const char *v, const char *where, struct smile_err *err)
{
    const struct config_option *o = &config_options[k];
    int64_t n;

    if (o->type == CONFIG_INT) {
        if (str_to_int64(str_from(v), &n) != SMILE_OK || n < o->min || n > o->max)
            return smile_err_set(err, SMILE_EINVAL,
                                 "%s: %s must be an integer from %lld to %lld, not '%s'", where,
                                 o->name, (long long)o->min, (long long)o->max, v);
    } else if (o->type == CONFIG_BOOL) {
        if (strcmp(v, "yes") && strcmp(v, "no") && strcmp(v, "true") && strcmp(v, "false") &&
            strcmp(v, "1") && strcmp(v, "0"))
            return smile_err_set(err, SMILE_EINVAL, "%s: %s must be yes or no, not '%s'", where,
                                 o->name, v);
    }
    if (k == CFG_LOG_LEVEL && strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") &&
        strcmp(v, "error"))
        return smile_err_set(err, SMILE_EINVAL, "%s: log_level must be debug, info, warn or error",
                             where);
    return SMILE_OK;
}

static void
set(struct config *c, int k, const char *v, char source)
{
    free(c->values[k]);
    c->values[k] = xstrdup(v);
    c->source[k] = source;
}

struct ini_ctx {
    struct config *c;
    const char *path;
    struct smile_err *err;
    int rc;
};

/* Problems are recorded without a line number; config_load() adds the line ini_parse
 * reports for the first failing callback (Debian builds inih without INI_HANDLER_LINENO). */
static int
ini_cb(void *ud, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = ud;
    int k;

    if (x->rc != SMILE_OK)
        return 0;
    if (section[0] && strcmp(section, "smile") != 0) {
        x->rc = smile_err_set(x->err, SMILE_EINVAL, "unknown section [%s]", section);
        return 0;
    }
    k = find(name, strlen(name));
    if (k < 0) {
        x->rc = smile_err_set(x->err, SMILE_EINVAL, "unknown option '%s'", name);
        return 0;
    }
    x->rc = check(k, value, "value", x->err);
    if (x->rc != SMILE_OK)
        return 0;
    set(x->c, k, value, 'f');
    return 1;
}

static int
load(struct config *c, int *argc, char **argv, struct smile_err *err)
{
    const char *path = getenv("SMILE_CONFIG");
    bool explicit_path = path != NULL;
    int out = 1;

    memset(c, 0, sizeof(*c));
    for (int k = 0; k < CFG_COUNT; k++)
        set(c, k, config_options[k].def, 'd');
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc) {
            path = argv[i + 1];
            explicit_path = true;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
            explicit_path = true;
        }
    }
    if (path == NULL && access("smile.conf", R_OK) == 0)
        path = "smile.conf";
    if (path) {
        struct ini_ctx x = {c, path, err, SMILE_OK};
        int r = ini_parse(path, ini_cb, &x);

        if (x.rc != SMILE_OK) {
            char msg[sizeof(err->msg)];

            memcpy(msg, err->msg, sizeof(msg));
            return smile_err_set(err, x.rc, "%s:%d: %.200s", path, r, msg);
        }
        if (r < 0 && explicit_path)
            return smile_err_set(err, SMILE_EIO, "cannot read config file %s", path);
        if (r > 0)
            return smile_err_set(err, SMILE_EINVAL, "%s:%d: cannot parse this line", path, r);
    }
    for (int k = 0; k < CFG_COUNT; k++) {
        char var[64], where[80];
        const char *v;
        size_t i;

        memcpy(var, "SMILE_", 6);
        for (i = 0; config_options[k].name[i] && i < sizeof(var) - 7; i++)
            var[6 + i] = (char)toupper((unsigned char)config_options[k].name[i]);
        var[6 + i] = '\0';
        v = getenv(var);
        if (v == NULL)
            continue;
        snprintf(where, sizeof(where), "environment %s", var);
        if (check(k, v, where, err) != SMILE_OK)
            return err->code;
        set(c, k, v, 'e');
    }
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *eq, *v;
        int k;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strncmp(a, "--", 2) != 0) {
            argv[out++] = argv[i];
            continue;
        }
        eq = strchr(a, '=');
        if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
            if (a[8] == '\0')
                i++;
            continue;
        }
        k = find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
        if (k < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < *argc) {
            v = argv[++i];
        } else {
            return smile_err_set(err, SMILE_EINVAL, "flag %s needs a value", a);
        }
        if (check(k, v, "command line", err) != SMILE_OK)
            return err->code;
        set(c, k, v, 'a');
    }
    argv[out] = NULL;
    *argc = out;
    return SMILE_OK;
}

int
config_load(struct config *c, int *argc, char **argv, struct smile_err *err)
{
    int rc = load(c, argc, argv, err);

    if (rc != SMILE_OK)
        config_free(c); /* callers only free a configuration that loaded */
    return rc;
}

void
config_free(struct config *c)
{
    for (int k = 0; k < CFG_COUNT; k++) {
        free(c->values[k]);
        c->values[k] = NULL;
    }
}

const char *
config_str(const struct config *c, enum config_key k)
{
    return c->values[k];
}

int64_t
config_int(const struct config *c, enum config_key k)
{
    int64_t v = 0;

    str_to_int64(str_from(c->values[k]), &v);
    return v;
}

bool
config_bool(const struct config *c, enum config_key k)
{
    const char *v = c->values[k];

    return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

void
config_usage(void)
{
    printf("\noptions (flag --name VALUE, environment SMILE_NAME, or name = value in "
           "smile.conf):\n");
    for (int k = 0; k < CFG_COUNT; k++) {
        char flag[64];
        size_t i;

        for (i = 0; config_options[k].name[i] && i < sizeof(flag) - 1; i++)
            flag[i] = config_options[k].name[i] == '_' ? '-' : config_options[k].name[i];
        flag[i] = '\0';
        printf("  --%-16s %s (default %s)\n", flag, config_options[k].help, config_options[k].def);
    }
}
