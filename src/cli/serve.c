/*
 * serve.c — `smile serve`: opens (creating and migrating if needed) the database, opens
 * the connection pool and the event ledger (its writer connection and committer thread),
 * starts the HTTP server and waits for SIGTERM or SIGINT, then drains in-flight requests,
 * lets the ledger finish its queue and closes the database cleanly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/config.h"
#include "cli/cli.h"
#include "ledger/ledger.h"
#include "notify/notify.h"
#include "runtime/runtime.h"
#include "work/work.h"
#include "scheduler/scheduler.h"
#include "crm/staff.h"
#include "http/auth.h"
#include "intake/intake.h"
#include "mail/mail.h"
#include "store/store.h"

/*
 * --bootstrap-admin: on a database without users, creates `admin` with a random
 * 16-character password and prints it once on stdout. Later starts find a user and
 * print nothing.
 */
static int
bootstrap_admin(struct store *s, struct smile_err *err)
{
    char pw[17], hash[AUTH_HASH_MAX];
    struct staff_user u;
    int64_t n = 0;
    json_t *in;
    int rc = store_begin(s, err);

    if (rc == SMILE_OK)
        rc = staff_user_count(s, &n, err);
    if (rc != SMILE_OK || n > 0) {
        store_rollback(s);
        return rc;
    }
    auth_password_generate(pw, 16);
    rc = auth_password_hash(pw, hash, err);
    in = json_pack("{s:s, s:s, s:s}", "username", "admin", "role", "admin", "display_name",
                   "Administrator");
    if (rc == SMILE_OK)
        rc = staff_user_create(s, NULL, in, hash, &u, err);
    json_decref(in);
    if (rc == SMILE_OK)
        rc = store_commit(s, err);
    else
        store_rollback(s);
    if (rc == SMILE_OK) {
        printf("first admin account: admin / %s  (change it with: smile user passwd admin "
               "--password-stdin)\n",
               pw);
        fflush(stdout);
    }
    auth_wipe(pw, sizeof(pw));
    return rc;
}

int
cli_serve(int argc, char **argv)
{
    struct config cfg;
    struct smile_err err;
    struct store *s = NULL;
    struct store_pool *pool = NULL;
    struct http_server *srv = NULL;
    struct ledger *ledger = NULL;
    struct runtime *runtime = NULL;
    struct scheduler *sched = NULL;
    struct notify_runner *notifier = NULL;
    struct api_app app;
    struct ami_client *ami = NULL;
    struct mail_poller *mail = NULL;
    sigset_t set;
    int sig = 0, rc = 1;
    bool bootstrap = false;
    const char *lvl;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: smile serve [--db PATH] [--listen HOST:PORT] [--bootstrap-admin] "
                   "[options]\n\n"
                   "Serves the JSON API. Creates and migrates the database if needed.\n"
                   "--bootstrap-admin: if the database has no users, create `admin` with a "
                   "random\npassword and print it once.\n");
            config_usage();
            return 0;
        }
    }
    smile_err_clear(&err);
    if (config_load(&cfg, &argc, argv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        return 2;
    }
    lvl = config_str(&cfg, CFG_LOG_LEVEL);
    log_set_level(strcmp(lvl, "debug") == 0   ? LOG_DEBUG
                  : strcmp(lvl, "warn") == 0  ? LOG_WARN
                  : strcmp(lvl, "error") == 0 ? LOG_ERROR
                                              : LOG_INFO);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bootstrap-admin") == 0) {
            bootstrap = true;
            continue;
        }
        fprintf(stderr, "smile serve: unknown argument '%s' (see smile serve --help)\n", argv[i]);
        config_free(&cfg);
        return 2;
    }
    if (cli_open_db(&cfg, true, &s) != 0)
        goto out;
    if (cli_seed_defaults(s, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    if (bootstrap && bootstrap_admin(s, &err) != SMILE_OK) {
        fprintf(stderr, "smile: cannot create the first admin: %s\n", err.msg);
        goto out;
    }
    store_close(s);
    s = NULL;
    if (store_pool_open(config_str(&cfg, CFG_DB),
                        (int)(config_int(&cfg, CFG_THREADS) + config_int(&cfg, CFG_WORKERS)) + 2,
                        &pool, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    /* Block the signals before any thread starts so that only sigwait() sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The ledger's committer thread starts with the signals blocked too. */
    if (ledger_open(config_str(&cfg, CFG_DB), &(struct ledger_options){.pool = pool}, &ledger,
                    &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    /* The runtime folds committed events off the request threads; the scheduler fires
     * deadlines through the ledger and is woken by the runtime for earlier ones. */
    /* The escalation runner follows the sla.* events the scheduler appends (its ledger hook
     * is registered before the scheduler starts) and hands notifications to the stream. */
    api_notify_wire();
    if (runtime_open(config_str(&cfg, CFG_DB), pool, ledger, &runtime, &err) != SMILE_OK ||
        notify_runner_open(config_str(&cfg, CFG_DB), ledger, &notifier, &err) != SMILE_OK ||
        scheduler_open(config_str(&cfg, CFG_DB), pool, ledger, &sched, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    runtime_on_due(runtime, scheduler_wake, sched);
    runtime_crm_sink_install(ledger); /* case actions feed the ledger and the runtime */
    work_install(); /* routing and out-of-order marking of case actions (src/work) */
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.pool = pool;
    app.db_path = config_str(&cfg, CFG_DB);
    app.ledger = ledger;
    app.runtime = runtime;
    app.scheduler = sched;
    app.started_ms = time_now_ms();
    if (api_start(&app, &srv, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    log_info("msg=listening addr=%s port=%d db=%s version=%s", config_str(&cfg, CFG_LISTEN),
             http_server_port(srv), app.db_path, SMILE_VERSION);
    if (config_str(&cfg, CFG_AMI_HOST)[0]) { /* intake: the live PBX source */
        struct ami_client_options ao = {
            .host = config_str(&cfg, CFG_AMI_HOST),
            .port = (int)config_int(&cfg, CFG_AMI_PORT),
            .user = config_str(&cfg, CFG_AMI_USER),
            .secret = config_str(&cfg, CFG_AMI_SECRET),
            .source = config_str(&cfg, CFG_AMI_SOURCE),
            .db_path = app.db_path,
            .ledger = ledger,
        };

        if (ami_client_start(&ao, NULL, NULL, &ami, &err) != SMILE_OK)
            log_error("msg=\"ami client not started\" error=\"%s\"", err.msg);
    }
    /* mail: polls the active mailboxes (table mailboxes) on its own thread. */
    if (mail_poller_start(app.db_path, ledger, &mail, &err) != SMILE_OK)
        log_error("msg=\"mail poller not started\" error=\"%s\"", err.msg);
    sigwait(&set, &sig);
    log_info("msg=stopping signal=%d inflight=%d", sig, http_server_inflight(srv));
    http_server_stop(srv, (int)config_int(&cfg, CFG_DRAIN_MS));
    ami_client_stop(ami);   /* after HTTP: /readyz and /metrics read the client */
    mail_poller_stop(mail); /* before the ledger closes: a poll may be appending */
    rc = 0;
    log_info("msg=stopped");
out:
    notify_runner_close(notifier); /* before the CRM sink and the ledger it appends through */
    runtime_crm_sink_uninstall();
    if (runtime)
        runtime_on_due(runtime, NULL, NULL); /* no more wake-ups of the scheduler */
    scheduler_close(sched);                  /* stops appending */
    ledger_close(ledger);   /* after the server stopped: finishes queued appends first */
    runtime_close(runtime); /* folds what the ledger committed last */
    store_pool_close(pool);
    store_close(s);
    notify_hooks_clear();
    config_free(&cfg);
    return rc;
}
