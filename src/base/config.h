/*
 * config.h — one table describes every configuration option (name, type, default,
 * bounds, help), as in Redis's config.c. Values come from smile.conf (INI, section
 * [smile] or none), then SMILE_<NAME> environment variables, then --name flags: later
 * sources win. Subcommands read values by key.
 */
#ifndef SMILE_CONFIG_H
#define SMILE_CONFIG_H

#include "base/base.h"

enum config_key {
    CFG_DB,
    CFG_LISTEN,
    CFG_THREADS,
    CFG_WORKERS,
    CFG_MAX_BODY,
    CFG_CONN_LIMIT,
    CFG_PER_IP_LIMIT,
    CFG_TIMEOUT,
    CFG_LOG_LEVEL,
    CFG_SESSION_TTL,
    CFG_LOGIN_ATTEMPTS,
    CFG_LOGIN_WINDOW,
    CFG_COOKIE_SECURE,
    CFG_DRAIN_MS,
    CFG_AMI_HOST,
    CFG_AMI_PORT,
    CFG_AMI_USER,
    CFG_AMI_SECRET,
    CFG_AMI_SOURCE,
    /* notify: event streams */
    CFG_MAX_STREAMS,
    CFG_MAX_STREAMS_PER_USER,
    CFG_STREAM_HEARTBEAT,
    /* webhook */
    CFG_WEBHOOK_RETRY_MS,
    CFG_WEBHOOK_RETRY_MAX_MS,
    CFG_WEBHOOK_MAX_ATTEMPTS,
    CFG_WEBHOOK_CONCURRENCY,
    CFG_WEBHOOK_TIMEOUT_MS,
    CFG_WEBHOOK_LOG_DAYS,
    /* mailnotify: system e-mail (notifications, digests) */
    CFG_SMTP_URL,
    CFG_SMTP_USER,
    CFG_SMTP_PASSWORD,
    CFG_MAIL_FROM,
    CFG_MAIL_FROM_NAME,
    CFG_NOTIFY_EMAIL,
    CFG_DIGEST_EMAIL,
    CFG_SMTP_RETRY_MS,
    CFG_SMTP_RETRY_MAX_MS,
    /* mail: secrets at rest (src/base/secret.h) */
    CFG_SECRET_KEY_FILE,
    CFG_MAIL_IDLE_RENEW,
    CFG_MAILNOTIFY_MAX_ATTEMPTS, /* mailnotify: give a system e-mail up after this many */
    CFG_COUNT
};

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_BOOL };

struct config_option {
    const char *name; /* "max_body": flag --max-body, env SMILE_MAX_BODY */
    enum config_type type;
    const char *def;
    int64_t min, max;
    const char *help;
};

extern const struct config_option config_options[CFG_COUNT];

struct config {
    char *values[CFG_COUNT];
    char source[CFG_COUNT]; /* 'd'efault, 'f'ile, 'e'nv, 'a'rgument */
};

/*
 * Fills c from defaults, the config file (--config FILE, SMILE_CONFIG, or ./smile.conf if
 * present), the environment and the flags in argv. Flags that are config options are
 * removed from argv (argc updated); other arguments are left for the subcommand. Errors
 * name the source (file and line, variable, or flag); on an error nothing is left to free.
 * Free a loaded configuration with config_free().
 */
int config_load(struct config *c, int *argc, char **argv, struct smile_err *err);
void config_free(struct config *c);
const char *config_str(const struct config *c, enum config_key k);
int64_t config_int(const struct config *c, enum config_key k);
bool config_bool(const struct config *c, enum config_key k);
/* Prints the options with defaults and help (for --help). */
void config_usage(void);

#endif
