/*
 * serve.c — `smile serve`: opens (creating and migrating if needed) the database, opens
 * the connection pool and the event ledger (its writer connection and committer thread),
 * starts the HTTP server and waits for SIGTERM or SIGINT, then drains in-flight requests,
 * lets the ledger finish its queue and closes the database cleanly.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
#include "mailnotify/mailnotify.h"
#include "score/score.h"
#include "store/store.h"
#include "webhook/webhook.h"

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

/* --demo: fills the new database (cli_demo_fill) and prints the demo staff's password. */
static int
serve_demo(struct store *s, struct cli_demo_options *o)
{
    struct smile_err err;
    struct demo_stats st;
    char pw[13] = "", hash[AUTH_HASH_MAX];
    int rc = cli_demo_password(pw, sizeof(pw), hash, &err);

    o->password_hash = hash;
    if (rc == SMILE_OK)
        rc = cli_demo_fill(s, o, &st, &err);
    if (rc != SMILE_OK) {
        fprintf(stderr, "smile serve --demo: %s\n", err.msg);
    } else {
        cli_demo_report(&st, stdout);
        printf("demo staff (e.g. zhou.ting, supervisor of the hotline) sign in with: %s\n", pw);
        fflush(stdout);
    }
    auth_wipe(pw, sizeof(pw));
    return rc;
}

/*
 * --demo: the runtime folds the demo's events in the background while the server already
 * answers; this waits (up to 10 minutes) until every event is reflected in the
 * measurements and prints how long that took.
 */
static void
demo_wait_folded(struct api_app *app, struct runtime *rt, int64_t t0)
{
    struct smile_err err;
    struct store *s = store_pool_acquire(app->pool);
    int64_t last = 0;
    struct runtime_status st;

    smile_err_clear(&err);
    store_query_int64(s, "SELECT coalesce(max(id), 0) FROM events", &last, &err);
    store_pool_release(app->pool, s);
    for (int i = 0; i < 6000; i++) {
        runtime_status(rt, &st);
        if (st.last_event_id_folded >= last && st.pending == 0)
            break;
        usleep(100000);
    }
    runtime_status(rt, &st);
    printf("demo: measurements complete (%" PRIu64 " subjects folded) %.1f s after the fill\n",
           st.folds, (double)(time_mono_ns() - t0) / 1e9);
    fflush(stdout);
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
    struct webhook *webhook = NULL;
    struct mail_poller *mail = NULL;
    struct mailnotify *mailnotify = NULL; /* mailnotify: system e-mail */
    sigset_t set;
    int sig = 0, rc = 1;
    bool bootstrap = false, demo = false;
    struct cli_demo_options demo_opt;
    int64_t demo_t0 = 0;
    const char *lvl;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: smile serve [--db PATH] [--listen HOST:PORT] [--bootstrap-admin] "
                   "[--demo [--seed N]] [options]\n\n"
                   "Serves the JSON API. Creates and migrates the database if needed.\n"
                   "--bootstrap-admin: if the database has no users, create `admin` with a "
                   "random\npassword and print it once.\n"
                   "--demo: first fill the new, empty database with a three-month demo history\n"
                   "(see smile demo --help; refused on a database with customers).\n");
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
    memset(&demo_opt, 0, sizeof(demo_opt));
    demo_opt.seed = 1;
    demo_opt.end_ms = time_now_ms();
    for (int i = 1; i < argc; i++) {
        int r = i + 1 < argc ? cli_demo_parse(argv[i], argv[i + 1], &demo_opt) : 0;

        if (r != 0) { /* --seed, --end, --days, --customers: for --demo */
            if (r < 0) {
                fprintf(stderr, "smile serve: bad value for %s: '%s'\n", argv[i], argv[i + 1]);
                config_free(&cfg);
                return 2;
            }
            i++;
            continue;
        }
        if (strcmp(argv[i], "--bootstrap-admin") == 0) {
            bootstrap = true;
            continue;
        }
        if (strcmp(argv[i], "--demo") == 0) {
            demo = true;
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
    if (demo && serve_demo(s, &demo_opt) != SMILE_OK)
        goto out;
    if (demo)
        demo_t0 = time_mono_ns();
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
    if (config_str(&cfg, CFG_SMTP_URL)[0]) { /* mailnotify: outbox hook before the runner */
        struct mailnotify_options mo = {
            .smtp_url = config_str(&cfg, CFG_SMTP_URL),
            .smtp_user = config_str(&cfg, CFG_SMTP_USER),
            .smtp_password = config_str(&cfg, CFG_SMTP_PASSWORD),
            .from = config_str(&cfg, CFG_MAIL_FROM),
            .from_name = config_str(&cfg, CFG_MAIL_FROM_NAME),
            .digests = config_bool(&cfg, CFG_DIGEST_EMAIL),
            .retry_ms = config_int(&cfg, CFG_SMTP_RETRY_MS),
            .retry_max_ms = config_int(&cfg, CFG_SMTP_RETRY_MAX_MS),
            .pool = pool, /* the sender's writes join the group commit */
            .max_attempts = (int)config_int(&cfg, CFG_MAILNOTIFY_MAX_ATTEMPTS),
        };

        if (mailnotify_kinds_parse(config_str(&cfg, CFG_NOTIFY_EMAIL), &mo.kinds) != SMILE_OK) {
            fprintf(stderr, "smile: notify_email must be off, breach or all\n");
            goto out;
        }
        if (mailnotify_start(config_str(&cfg, CFG_DB), &mo, &mailnotify, &err) != SMILE_OK) {
            fprintf(stderr, "smile: system e-mail: %s\n", err.msg);
            goto out;
        }
    }
    if (runtime_open(config_str(&cfg, CFG_DB), pool, ledger, &runtime, &err) != SMILE_OK ||
        notify_runner_open(config_str(&cfg, CFG_DB), pool, ledger, &notifier, &err) != SMILE_OK ||
        scheduler_open(config_str(&cfg, CFG_DB), pool, ledger, &sched, &err) != SMILE_OK) {
        fprintf(stderr, "smile: %s\n", err.msg);
        goto out;
    }
    runtime_on_due(runtime, scheduler_wake, sched);
    runtime_on_folded(runtime, notify_tasks_folded, NULL); /* notify: the stream's task events */
    { /* webhook: follows the ledger and sends deliveries (closed after the ledger) */
        struct webhook_options wo = {
            .retry_ms = config_int(&cfg, CFG_WEBHOOK_RETRY_MS),
            .retry_max_ms = config_int(&cfg, CFG_WEBHOOK_RETRY_MAX_MS),
            .max_attempts = (int)config_int(&cfg, CFG_WEBHOOK_MAX_ATTEMPTS),
            .concurrency = (int)config_int(&cfg, CFG_WEBHOOK_CONCURRENCY),
            .timeout_ms = config_int(&cfg, CFG_WEBHOOK_TIMEOUT_MS),
            .log_days = config_int(&cfg, CFG_WEBHOOK_LOG_DAYS),
            .pool = pool, /* its writes join the group commit */
        };

        if (webhook_open(config_str(&cfg, CFG_DB), ledger, &wo, &webhook, &err) != SMILE_OK) {
            fprintf(stderr, "smile: %s\n", err.msg);
            goto out;
        }
    }
    runtime_crm_sink_install(ledger); /* case actions feed the ledger and the runtime */
    work_install(); /* routing and out-of-order marking of case actions (src/work) */
    mail_install(); /* anonymising a customer erases their addresses in stored mail */
    /* … and the personal values of the customer in past events (PIPL Art. 47) */
    ledger_erase_install();
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
    mail_idle_set_renew(config_int(&cfg, CFG_MAIL_IDLE_RENEW)); /* mail: IMAP IDLE */
    if (mail_poller_start(app.db_path, ledger, &mail, &err) != SMILE_OK)
        log_error("msg=\"mail poller not started\" error=\"%s\"", err.msg);
    if (score_auto_start(app.db_path, &err) != SMILE_OK) /* score: evaluations at period end */
        log_error("msg=\"scorecard period check not started\" error=\"%s\"", err.msg);
    if (demo)
        demo_wait_folded(&app, runtime, demo_t0);
    sigwait(&set, &sig);
    log_info("msg=stopping signal=%d inflight=%d", sig, http_server_inflight(srv));
    http_server_stop(srv, (int)config_int(&cfg, CFG_DRAIN_MS));
    ami_client_stop(ami);   /* after HTTP: /readyz and /metrics read the client */
    mail_poller_stop(mail); /* before the ledger closes: a poll may be appending */
    score_auto_stop();
    rc = 0;
    log_info("msg=stopped");
out:
    notify_runner_close(notifier); /* before the CRM sink and the ledger it appends through */
    mailnotify_stop(mailnotify);   /* after the runner: its notifications are queued */
    runtime_crm_sink_uninstall();
    if (runtime)
        runtime_on_due(runtime, NULL, NULL); /* no more wake-ups of the scheduler */
    scheduler_close(sched);                  /* stops appending */
    ledger_close(ledger);   /* after the server stopped: finishes queued appends first */
    runtime_close(runtime); /* folds what the ledger committed last (≤ 1 s; rest at start) */
    webhook_close(webhook); /* after the ledger: its hook points here */
    store_pool_close(pool);
    store_close(s);
    notify_hooks_clear();
    config_free(&cfg);
    return rc;
}
