/*
 * test_kpi.c — unit tests of src/kpi: the histogram buckets and periods (pure), then the
 * rollups on a real SQLite file with the seeded default processes: events are appended and
 * each subject folded with runtime_fold_subject() (which feeds kpi_rollup_replace), every
 * indicator is checked against values worked out by hand below, a late event re-folds a
 * subject and the rollups follow it (kpi_rollup_check proves kpi_daily equals the sum of the
 * stored facts), the rollup answers equal a direct computation from the raw measurements
 * (percentiles within the histogram's 4.45 %), and runtime_rebuild() gives the same answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kpi/kpi.h"
#include "ledger/ledger.h"
#include "runtime/runtime.h"
#include "store/store.h"

static void
test_hist(void **state)
{
    (void)state;
    /* bucket 0 is 0 ms; 1 ms: 8·log2(1) = 0 → bucket 1; 2 ms: 8·1 = 8 → bucket 9;
     * 1000 ms: 8·log2(1000) = 8·9.9658 = 79.73 → bucket 80. */
    assert_int_equal(kpi_hist_bucket(0), 0);
    assert_int_equal(kpi_hist_bucket(-5), 0);
    assert_int_equal(kpi_hist_bucket(1), 1);
    assert_int_equal(kpi_hist_bucket(2), 9);
    assert_int_equal(kpi_hist_bucket(1000), 80);
    /* every value is within 2^(1/16) − 1 = 4.43 % of its bucket's representative */
    for (int64_t ms = 1; ms < 100000000; ms = ms * 3 + 1) {
        double rep = kpi_hist_value(kpi_hist_bucket(ms));
        assert_true(fabs(rep - (double)ms) / (double)ms <= 0.0444);
    }
}

static void
test_period(void **state)
{
    struct smile_err err;
    int64_t f, t;
    char a[11], b[11];

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(kpi_period_parse("2026-11", &f, &t, &err), SMILE_OK);
    time_format_date(f, a);
    time_format_date(t, b);
    assert_string_equal(a, "2026-11-01");
    assert_string_equal(b, "2026-11-30");
    /* 2026-01-01 is a Thursday, so ISO week 1 of 2026 starts Monday 2025-12-29; week 47
     * starts 46 weeks later: 2025-12-29 + 322 days = 2026-11-16 (a Monday), ends 11-22. */
    assert_int_equal(kpi_period_parse("2026-W47", &f, &t, &err), SMILE_OK);
    time_format_date(f, a);
    time_format_date(t, b);
    assert_string_equal(a, "2026-11-16");
    assert_string_equal(b, "2026-11-22");
    assert_int_equal(kpi_period_parse("2026-Q4", &f, &t, &err), SMILE_OK);
    time_format_date(f, a);
    time_format_date(t, b);
    assert_string_equal(a, "2026-10-01");
    assert_string_equal(b, "2026-12-31");
    assert_int_equal(kpi_period_parse("2026-11-01..2026-11-15", &f, &t, &err), SMILE_OK);
    assert_int_equal(t - f, 14);
    assert_int_equal(kpi_period_parse("2026-11-05", &f, &t, &err), SMILE_OK);
    assert_int_equal(t, f);
    /* 2026 has 53 ISO weeks? It starts on a Thursday, so yes: W53 exists, W54 does not. */
    assert_int_equal(kpi_period_parse("2026-W53", &f, &t, &err), SMILE_OK);
    assert_int_equal(kpi_period_parse("2026-W54", &f, &t, &err), SMILE_EINVAL);
    assert_int_equal(kpi_period_parse("2026-13", &f, &t, &err), SMILE_EINVAL);
    assert_int_equal(kpi_period_parse("2026-11-15..2026-11-01", &f, &t, &err), SMILE_EINVAL);
    assert_int_equal(kpi_period_parse("yesterday", &f, &t, &err), SMILE_EINVAL);
    assert_int_equal(kpi_period_parse("", &f, &t, &err), SMILE_EINVAL);
}

struct db {
    char dir[64], path[96];
    struct store *s;
    struct runtime_defs *defs;
    int64_t seq;
};

static void
db_open(struct db *d)
{
    struct smile_err err;

    snprintf(d->dir, sizeof(d->dir), "/tmp/test_kpi_XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof(d->path), "%s/s.db", d->dir);
    smile_err_clear(&err);
    assert_int_equal(store_open(d->path, STORE_CREATE, &d->s, &err), SMILE_OK);
    assert_int_equal(store_migrate(d->s, &err), SMILE_OK);
    assert_int_equal(cli_seed_defaults(d->s, &err), SMILE_OK);
    d->defs = runtime_defs_new();
    d->seq = 1;
}

static void
db_close(struct db *d)
{
    char p[128];

    runtime_defs_free(d->defs);
    store_close(d->s);
    unlink(d->path);
    snprintf(p, sizeof(p), "%s-wal", d->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", d->path);
    unlink(p);
    rmdir(d->dir);
}

/* Appends one event and, with fold, folds its subject (as the live worker does). */
static void
ev_append(struct db *d, const char *type, const char *ts, const char *subject, const char *actor,
          const char *data, bool fold)
{
    static int n;
    char sid[32];
    struct ledger_event e = {type, 0, subject, actor, NULL, NULL, "test", sid, data};
    struct smile_err err;
    int64_t id;

    snprintf(sid, sizeof(sid), "e%d", ++n);
    smile_err_clear(&err);
    assert_int_equal(time_parse_rfc3339(ts, strlen(ts), &e.occurred_at), SMILE_OK);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(ledger_append_in_tx(d->s, &e, &id, &err), SMILE_OK);
    assert_int_equal(runtime_defs_refresh(d->defs, d->s, &err), SMILE_OK);
    if (fold)
        assert_int_equal(runtime_fold_subject(d->defs, d->s, subject, ++d->seq, NULL, &err),
                         SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static void
ev(struct db *d, const char *type, const char *ts, const char *subject, const char *actor,
   const char *data)
{
    ev_append(d, type, ts, subject, actor, data, true);
}

/* Folds subjects in one transaction with the kpi changes summed (runtime_defs_batch_*, as
 * the live worker folds a batch); commit false: the batch is dropped and rolled back. */
static void
fold_batch(struct db *d, char **subjects, size_t n, bool commit)
{
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(runtime_defs_refresh(d->defs, d->s, &err), SMILE_OK);
    runtime_defs_batch_begin(d->defs);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(runtime_fold_subject(d->defs, d->s, subjects[i], ++d->seq, NULL, &err),
                         SMILE_OK);
    if (!commit) {
        assert_int_equal(runtime_defs_batch_end(d->defs, d->s, false, NULL), SMILE_OK);
        store_rollback(d->s);
        return;
    }
    assert_int_equal(runtime_defs_batch_end(d->defs, d->s, true, &err), SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static int64_t
q(struct db *d, const char *sql)
{
    struct smile_err err;
    int64_t v = -1;

    smile_err_clear(&err);
    assert_int_equal(store_query_int64(d->s, sql, &v, &err), SMILE_OK);
    return v;
}

static struct kpi_value
val(struct db *d, const char *name, const struct kpi_filter *f, const char *from, const char *to)
{
    struct kpi_value v;
    struct smile_err err;

    smile_err_clear(&err);
    assert_int_equal(kpi_indicator_value(d->s, name, f, from, to, &v, &err), SMILE_OK);
    return v;
}

static void
check_rollups(struct db *d)
{
    static const char sql[] = "SELECT facts FROM kpi_subject";
    struct store_stmt *st;
    struct smile_err err;
    bool ok = false;
    int n = 0;

    smile_err_clear(&err);
    assert_int_equal(kpi_rollup_check(d->s, &ok, &err), SMILE_OK);
    assert_true(ok);
    /* The stored facts are written by hand (rollup.c facts_dump) in exactly the bytes
     * jansson's compact dump gives for them: a re-fold compares the texts. */
    assert_int_equal(store_prepare(d->s, sql, &st, &err), SMILE_OK);
    while (store_stmt_step(st, &err) == STORE_ROW) {
        const char *text = store_stmt_text(st, 0);
        json_t *j = json_loads(text, 0, NULL);
        char *again;

        assert_non_null(j);
        again = json_dumps(j, JSON_COMPACT);
        assert_string_equal(again, text);
        free(again);
        json_decref(j);
        n++;
    }
    store_stmt_reset(st);
    assert_true(n > 0);
}

/*
 * The data set (all times UTC; local days are Asia/Shanghai, UTC+8):
 *
 * Customer email ("reply within 24 h", wall time, charged to the replier):
 *   mail:1  received 11-02 01:00, sent by alice 01:10        → 600,000 ms, met   (day 11-02)
 *   mail:2  received 11-02 02:00, sent by alice 11-03 04:00  → 26 h = 93,600,000 ms, breached
 *   mail:3  received 11-03 01:00, sent by bob 01:30          → 1,800,000 ms, met
 *   mail:4  received 11-30 17:00 (= 12-01 01:00 local), sent by bob 18:00 → met, but in December
 *   mail:5  received 11-04 01:00, never answered              → open (backlog 1, staff "")
 * Phone hotline ("answer within 3 rings" = 15 s, charged to the queue "hotline"):
 *   call:1  offered 11-05 02:00:00, answered by dave +10 s   → met
 *   call:2  offered 11-05 02:10:00, abandoned +20 s          → cancelled, breached, abandoned
 *   call:3  offered 11-05 02:20:00, abandoned +3 s           → excluded (short abandon)
 *   call:4  offered 11-05 02:30:00, answered by dave +20 s   → breached
 * Complaints (cases; erin resolves):
 *   case:1  opened 11-05, resolved by erin 11-05 06:00, survey score 4 on 11-06 → FCR yes
 *   case:2  opened 11-05, customer replies, resolved by erin 11-06, reopened 11-07, resolved
 *           by erin 11-08, survey score 2 on 11-09                              → FCR no, reopened
 */
static void
load_month(struct db *d)
{
    ev(d, "email.received", "2026-11-02T01:00:00Z", "mail:1", NULL, "{}");
    ev(d, "email.sent", "2026-11-02T01:10:00Z", "mail:1", "alice", "{}");
    ev(d, "email.received", "2026-11-02T02:00:00Z", "mail:2", NULL, "{}");
    ev(d, "email.sent", "2026-11-03T04:00:00Z", "mail:2", "alice", "{}");
    ev(d, "email.received", "2026-11-03T01:00:00Z", "mail:3", NULL, "{}");
    ev(d, "email.sent", "2026-11-03T01:30:00Z", "mail:3", "bob", "{}");
    ev(d, "email.received", "2026-11-30T17:00:00Z", "mail:4", NULL, "{}");
    ev(d, "email.sent", "2026-11-30T18:00:00Z", "mail:4", "bob", "{}");
    ev(d, "email.received", "2026-11-04T01:00:00Z", "mail:5", NULL, "{}");

    ev(d, "call.offered", "2026-11-05T02:00:00Z", "call:1", NULL, "{\"queue\":\"hotline\"}");
    ev(d, "call.answered", "2026-11-05T02:00:10Z", "call:1", "dave", "{}");
    ev(d, "call.offered", "2026-11-05T02:10:00Z", "call:2", NULL, "{\"queue\":\"hotline\"}");
    ev(d, "call.abandoned", "2026-11-05T02:10:20Z", "call:2", NULL, "{}");
    ev(d, "call.offered", "2026-11-05T02:20:00Z", "call:3", NULL, "{\"queue\":\"hotline\"}");
    ev(d, "call.abandoned", "2026-11-05T02:20:03Z", "call:3", NULL, "{}");
    ev(d, "call.offered", "2026-11-05T02:30:00Z", "call:4", NULL, "{\"queue\":\"hotline\"}");
    ev(d, "call.answered", "2026-11-05T02:30:20Z", "call:4", "dave", "{}");

    ev(d, "case.opened", "2026-11-05T01:00:00Z", "case:1", NULL, "{\"type\":\"complaint\"}");
    ev(d, "case.resolved", "2026-11-05T06:00:00Z", "case:1", "erin", "{}");
    ev(d, "survey.answered", "2026-11-06T02:00:00Z", "case:1", NULL, "{\"score\":4}");
    ev(d, "case.opened", "2026-11-05T01:00:00Z", "case:2", NULL, "{\"type\":\"complaint\"}");
    ev(d, "case.replied", "2026-11-05T03:00:00Z", "case:2", NULL, "{\"by\":\"customer\"}");
    ev(d, "case.resolved", "2026-11-06T02:00:00Z", "case:2", "erin", "{}");
    ev(d, "case.reopened", "2026-11-07T02:00:00Z", "case:2", NULL, "{}");
    ev(d, "case.resolved", "2026-11-08T02:00:00Z", "case:2", "erin", "{}");
    ev(d, "survey.answered", "2026-11-09T02:00:00Z", "case:2", NULL, "{\"score\":2}");
}

static void
test_indicators(void **state)
{
    struct db d;
    struct kpi_filter alice = {.staff = "alice"}, bob = {.staff = "bob"}, erin = {.staff = "erin"},
                      dave = {.staff = "dave"}, hot = {.team = "hotline"};
    struct kpi_filter mail = {0}, call = {0};
    struct kpi_value v;

    (void)state;
    db_open(&d);
    load_month(&d);
    mail.process_id = q(&d, "SELECT id FROM processes WHERE name = 'Customer email'");
    call.process_id = q(&d, "SELECT id FROM processes WHERE name = 'Phone hotline'");
    call.step = "answer";
    check_rollups(&d);

    /* compliance: alice met 1, breached 1 → 1/2; bob met 1 in November (mail:4 is December) */
    v = val(&d, "compliance", &alice, "2026-11-01", "2026-11-30");
    assert_true(v.has_data);
    assert_int_equal(v.count, 2);
    assert_true(fabs(v.value - 0.5) < 1e-9);
    v = val(&d, "compliance", &bob, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 1);
    assert_true(fabs(v.value - 1.0) < 1e-9);
    v = val(&d, "compliance", &bob, "2026-12-01", "2026-12-31");
    assert_int_equal(v.count, 1);
    /* the whole email process in November: met 2 (mail:1, mail:3), breached 1 → 2/3 */
    v = val(&d, "compliance", &mail, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 3);
    assert_true(fabs(v.value - 2.0 / 3.0) < 1e-9);
    v = val(&d, "breached", &mail, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 1) < 1e-9);
    /* nobody: no data, never a silent 0 or 100 */
    v = val(&d, "compliance", &(struct kpi_filter){.staff = "zoe"}, "2026-11-01", "2026-11-30");
    assert_false(v.has_data);

    /* volume (done measurements): alice 2, bob 1 in November */
    v = val(&d, "volume", &alice, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 2) < 1e-9);
    v = val(&d, "volume", &bob, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 1) < 1e-9);
    /* mean elapsed alice: (600,000 + 93,600,000) / 2 = 47,100,000 ms */
    v = val(&d, "elapsed_mean", &alice, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 47100000.0) < 1e-6);
    /* p50 (nearest rank ⌈0.5·2⌉ = 1st) = 600,000 ms; p90 (⌈1.8⌉ = 2nd) = 93,600,000 ms;
     * each within 4.45 % (the bucket's error) */
    v = val(&d, "elapsed_p50", &alice, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 600000.0) / 600000.0 < 0.0445);
    v = val(&d, "elapsed_p90", &alice, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 93600000.0) / 93600000.0 < 0.0445);

    /* emails_replied counts email.sent events by their actor and local day: alice 2
     * (11-02, 11-03), bob 1 (mail:4's reply is 12-01 02:00 local) */
    v = val(&d, "emails_replied", &alice, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 2) < 1e-9);
    v = val(&d, "emails_replied", &bob, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 1) < 1e-9);

    /* hotline answer step: met 1 (call:1), breached 2 (call:2, call:4), excluded 1 (call:3)
     * → compliance 1/3; abandonment: 1 abandoned (call:2) of 3 offered (met + breached) */
    v = val(&d, "compliance", &call, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 3);
    assert_true(fabs(v.value - 1.0 / 3.0) < 1e-9);
    v = val(&d, "abandonment", &hot, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 3);
    assert_true(fabs(v.value - 1.0 / 3.0) < 1e-9);
    v = val(&d, "calls_answered", &dave, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 2) < 1e-9);

    /* cases: erin resolved 3 times (case:1 once, case:2 twice); of her 2 cases, case:1 at
     * first contact, case:2 not (the customer wrote again, and it was reopened):
     * fcr 1/2, reopen rate 1/2; satisfaction (4 + 2) / 2 = 3, charged to erin (the last
     * staff who served the case before each survey) */
    v = val(&d, "cases_resolved", &erin, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 3) < 1e-9);
    v = val(&d, "fcr", &erin, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 2);
    assert_true(fabs(v.value - 0.5) < 1e-9);
    v = val(&d, "reopen_rate", &erin, "2026-11-01", "2026-11-30");
    assert_true(fabs(v.value - 0.5) < 1e-9);
    v = val(&d, "satisfaction", &erin, "2026-11-01", "2026-11-30");
    assert_int_equal(v.count, 2);
    assert_true(fabs(v.value - 3.0) < 1e-9);

    /* backlog of the email process at the end of 11-04 local: mail:5 (opened 11-04, never
     * answered) is the only clock still running (mail:2 closed on 11-03) → 1 */
    v = val(&d, "backlog", &mail, "2026-11-04", "2026-11-04");
    assert_true(fabs(v.value - 1) < 1e-9);
    /* at the end of 11-02: mail:2 opened 11-02, closed 11-03 (12:00 local) → still open,
     * mail:1 closed → 1 */
    v = val(&d, "backlog", &mail, "2026-11-02", "2026-11-02");
    assert_true(fabs(v.value - 1) < 1e-9);
    v = val(&d, "backlog", &mail, "2026-11-03", "2026-11-03");
    assert_true(fabs(v.value - 0) < 1e-9);

    /* grouped by staff (email process, November): alice 0.5, bob 1 — sorted by key */
    {
        struct kpi_row *rows;
        size_t n;
        struct smile_err err;
        int64_t f, t;
        smile_err_clear(&err);
        assert_int_equal(kpi_period_parse("2026-11", &f, &t, &err), SMILE_OK);
        assert_int_equal(
            kpi_indicator_rows(d.s, "compliance", KPI_BY_STAFF, &mail, f, t, &rows, &n, &err),
            SMILE_OK);
        assert_int_equal(n, 2);
        assert_string_equal(rows[0].key, "alice");
        assert_true(fabs(rows[0].v.value - 0.5) < 1e-9);
        assert_string_equal(rows[1].key, "bob");
        free(rows);
        /* time series by day: 30 rows, 11-02 has alice's met and breached (1/2), 11-03 bob's
         * met (1), 11-01 nothing */
        assert_int_equal(
            kpi_indicator_rows(d.s, "compliance", KPI_BY_DAY, &mail, f, t, &rows, &n, &err),
            SMILE_OK);
        assert_int_equal(n, 30);
        assert_string_equal(rows[0].key, "2026-11-01");
        assert_false(rows[0].v.has_data);
        assert_true(fabs(rows[1].v.value - 0.5) < 1e-9);
        assert_true(fabs(rows[2].v.value - 1.0) < 1e-9);
        free(rows);
        /* by week: 2026-11-01 is a Sunday (W44), then W45 … W49 (11-30 is a Monday) */
        assert_int_equal(
            kpi_indicator_rows(d.s, "volume", KPI_BY_WEEK, &mail, f, t, &rows, &n, &err), SMILE_OK);
        assert_int_equal(n, 6);
        assert_string_equal(rows[0].key, "2026-W44");
        assert_string_equal(rows[1].key, "2026-W45");
        assert_true(fabs(rows[1].v.value - 3) < 1e-9);
        assert_string_equal(rows[5].key, "2026-W49");
        free(rows);
        assert_int_equal(
            kpi_indicator_rows(d.s, "nonsense", KPI_BY_DAY, &mail, f, t, &rows, &n, &err),
            SMILE_EINVAL);
        /* several indicators in one read equal one read each: by staff over the month,
         * compliance, volume, backlog and p90 (alice, bob, and "" with mail:5's open clock
         * in the backlog only) */
        {
            static const char *const names[] = {"compliance", "volume", "backlog", "elapsed_p90"};
            struct kpi_row *tab, *one;
            size_t nt, n1;
            assert_int_equal(
                kpi_indicator_table(d.s, names, 4, KPI_BY_STAFF, &mail, f, t, &tab, &nt, &err),
                SMILE_OK);
            assert_int_equal(nt, 3);
            assert_string_equal(tab[0].key, "");
            assert_string_equal(tab[4].key, "alice");
            assert_string_equal(tab[8].key, "bob");
            /* "": mail:5 still open at the end of November → backlog 1, no compliance */
            assert_false(tab[0].v.has_data);
            assert_true(fabs(tab[2].v.value - 1) < 1e-9);
            for (size_t k = 0; k < 4; k++) {
                assert_int_equal(
                    kpi_indicator_rows(d.s, names[k], KPI_BY_STAFF, &mail, f, t, &one, &n1, &err),
                    SMILE_OK);
                for (size_t i = 0; i < n1; i++) {
                    size_t j = 0;
                    while (j < nt && strcmp(tab[j * 4].key, one[i].key) != 0)
                        j++;
                    assert_true(j < nt);
                    assert_true(fabs(tab[j * 4 + k].v.value - one[i].v.value) < 1e-9);
                    assert_int_equal(tab[j * 4 + k].v.count, one[i].v.count);
                }
                free(one);
            }
            free(tab);
        }
    }
    db_close(&d);
}

/* One number from a static statement with the staff name bound as $1 (statements are
 * cached by the address of their SQL, so each query is its own static string). */
static int64_t
q_staff(struct db *d, const char *sql, const char *staff, int64_t offset)
{
    struct store_stmt *st;
    struct smile_err err;
    int64_t v = -1;

    smile_err_clear(&err);
    assert_int_equal(store_prepare(d->s, sql, &st, &err), SMILE_OK);
    store_stmt_bind_text(st, 1, staff, -1);
    if (offset >= 0)
        store_stmt_bind_int64(st, 2, offset);
    assert_int_equal(store_stmt_step(st, &err), STORE_ROW);
    v = store_stmt_int64(st, 0);
    store_stmt_reset(st);
    return v;
}

/* Rollup answers against a direct computation from the raw measurements. */
static void
direct_compare(struct db *d, const char *staff)
{
    static const char sql_met[] =
        "SELECT count(*) FROM measurements WHERE charged_actor = $1 AND result = 'met'";
    static const char sql_br[] =
        "SELECT count(*) FROM measurements WHERE charged_actor = $1 AND result = 'breached'";
    static const char sql_done[] =
        "SELECT count(*) FROM measurements WHERE charged_actor = $1 AND state = 'done'";
    static const char sql_sum[] = "SELECT coalesce(sum(elapsed_ms), 0) FROM measurements"
                                  " WHERE charged_actor = $1 AND state = 'done'";
    static const char sql_rank[] = "SELECT elapsed_ms FROM measurements WHERE charged_actor = $1"
                                   " AND state = 'done' ORDER BY elapsed_ms LIMIT 1 OFFSET $2";
    struct kpi_filter f = {.staff = staff};
    struct kpi_value v;
    int64_t met = q_staff(d, sql_met, staff, -1), breached = q_staff(d, sql_br, staff, -1);
    int64_t done = q_staff(d, sql_done, staff, -1), sum = q_staff(d, sql_sum, staff, -1);

    v = val(d, "compliance", &f, "2000-01-01", "2002-12-31");
    if (met + breached == 0) {
        assert_false(v.has_data);
    } else {
        assert_int_equal(v.count, met + breached);
        assert_true(fabs(v.value - (double)met / (double)(met + breached)) < 1e-9);
    }
    v = val(d, "volume", &f, "2000-01-01", "2002-12-31");
    assert_true(fabs(v.value - (double)done) < 1e-9);
    if (done) {
        v = val(d, "elapsed_mean", &f, "2000-01-01", "2002-12-31");
        assert_true(fabs(v.value - (double)sum / (double)done) < 1e-6);
        /* p50, p90 and p99 by nearest rank from the raw elapsed values */
        static const double ps[] = {0.5, 0.9, 0.99};
        static const char *const names[] = {"elapsed_p50", "elapsed_p90", "elapsed_p99"};
        for (int i = 0; i < 3; i++) {
            int64_t raw = q_staff(d, sql_rank, staff, (int64_t)ceil(ps[i] * (double)done) - 1);
            v = val(d, names[i], &f, "2000-01-01", "2002-12-31");
            assert_true(fabs(v.value - (double)raw) <= 0.0445 * (double)raw);
        }
    }
}

/* A pseudo-random month of emails (three repliers), a late reply that re-folds subjects,
 * then a rebuild: after each, the rollups equal the stored facts and a raw recomputation. */
static void
test_refold_and_rebuild(void **state)
{
    struct db d;
    struct smile_err err;
    uint32_t r = 12345;
    const char *staff[] = {"amy", "ben", "cat"};
    char subj[32], ts[32];
    struct kpi_value before, after;
    struct kpi_filter ben = {.staff = "ben"};
    int64_t subjects = 0;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    for (int i = 0; i < 60; i++) {
        int64_t t0 = 946771200000LL + (int64_t)i * 7200000, dt;
        r = r * 1103515245u + 12345u;
        dt = (int64_t)(r % 172800) * 1000; /* up to 48 h: about half breached */
        snprintf(subj, sizeof(subj), "mail:%d", i);
        time_format_rfc3339(t0, ts);
        ev(&d, "email.received", ts, subj, NULL, "{}");
        if (i % 7 == 6)
            continue; /* never answered: open */
        time_format_rfc3339(t0 + dt, ts);
        ev(&d, "email.sent", ts, subj, staff[i % 3], "{}");
    }
    check_rollups(&d);
    for (int k = 0; k < 3; k++)
        direct_compare(&d, staff[k]);

    /* late events: ben's reply 1 minute after receipt, for subjects already answered late by
     * amy/cat and for the unanswered ones — each re-folds: the first reply now counts. The
     * 15 subjects are re-folded in one batch (their kpi changes summed, each row written
     * once); a batch rolled back first changes nothing. */
    before = val(&d, "volume", &ben, "2000-01-01", "2002-12-31");
    char *late[15];
    size_t nlate = 0;
    for (int i = 0; i < 60; i += 4) {
        int64_t t0 = 946771200000LL + (int64_t)i * 7200000 + 60000;
        snprintf(subj, sizeof(subj), "mail:%d", i);
        time_format_rfc3339(t0, ts);
        ev_append(&d, "email.sent", ts, subj, "ben", "{}", false);
        late[nlate++] = strdup(subj);
    }
    fold_batch(&d, late, nlate, false);
    check_rollups(&d);
    after = val(&d, "volume", &ben, "2000-01-01", "2002-12-31");
    assert_true(fabs(after.value - before.value) < 1e-9);
    fold_batch(&d, late, nlate, true);
    for (size_t i = 0; i < nlate; i++)
        free(late[i]);
    check_rollups(&d);
    for (int k = 0; k < 3; k++)
        direct_compare(&d, staff[k]);
    after = val(&d, "volume", &ben, "2000-01-01", "2002-12-31");
    /* i = 0, 4, …, 56 (15 subjects): those with i % 3 == 1 were ben's already (4, 16, 28, 40,
     * 52: 5), the other 10 move to ben */
    assert_true(fabs(after.value - before.value - 10) < 1e-9);

    /* rebuild: the same answers */
    assert_int_equal(runtime_rebuild(d.s, &subjects, &err), SMILE_OK);
    assert_int_equal(subjects, 60);
    check_rollups(&d);
    before = after;
    after = val(&d, "volume", &ben, "2000-01-01", "2002-12-31");
    assert_true(fabs(after.value - before.value) < 1e-9);
    for (int k = 0; k < 3; k++)
        direct_compare(&d, staff[k]);
    db_close(&d);
}

static void
test_names(void **state)
{
    struct db d;
    struct smile_err err;
    struct kpi_value v;
    enum kpi_by by;

    (void)state;
    db_open(&d);
    smile_err_clear(&err);
    assert_int_equal(kpi_indicator_value(d.s, "bogus", NULL, "2026-11-01", "2026-11-30", &v, &err),
                     SMILE_EINVAL);
    assert_int_equal(
        kpi_indicator_value(d.s, "compliance", NULL, "2026-11", "2026-11-30", &v, &err),
        SMILE_EINVAL);
    /* a tag nobody has: no data */
    assert_int_equal(kpi_indicator_value(d.s, "compliance", &(struct kpi_filter){.tag = "vip"},
                                         "2026-11-01", "2026-11-30", &v, &err),
                     SMILE_OK);
    assert_false(v.has_data);
    for (size_t i = 0; kpi_indicators[i].name; i++) {
        assert_int_equal(kpi_indicator_value(d.s, kpi_indicators[i].name, NULL, "2026-11-01",
                                             "2026-11-30", &v, &err),
                         SMILE_OK);
        assert_false(v.has_data); /* empty database */
    }
    assert_true(kpi_by_parse("week", &by) && by == KPI_BY_WEEK);
    assert_false(kpi_by_parse("fortnight", &by));
    db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist),       cmocka_unit_test(test_period),
        cmocka_unit_test(test_indicators), cmocka_unit_test(test_refold_and_rebuild),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
