/*
 * test_mailnotify.c — unit tests of system e-mail: which notifications notify_email
 * sends, the words of a notification e-mail and of a scorecard digest in both locale
 * orders, the retry back-off, and the outbox on a real SQLite file: the in-transaction
 * hook queues a breach for a user with an address (and nothing for a warning or a user
 * without one), and a send to a closed port counts the attempt and backs off. Expected
 * values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_db.h"

#include <stdio.h>
#include <unistd.h>

#include "crm/audit.h"
#include "mailnotify/mailnotify.h"
#include "notify/notify.h"
#include "store/store.h"

#define FOOTER_EN "This message was sent automatically by Smile; replies are not read.\n"
#define FOOTER_ZH "此邮件由 Smile 自动发送，回复不会被阅读。\n"

static void
test_kinds(void **state)
{
    enum mailnotify_kinds k = MAILNOTIFY_ALL;
    json_t *breach = json_pack("{s:s}", "deadline", "breach");
    json_t *warning = json_pack("{s:s}", "deadline", "warning");

    (void)state;
    assert_int_equal(mailnotify_kinds_parse("off", &k), SMILE_OK);
    assert_int_equal(k, MAILNOTIFY_OFF);
    assert_int_equal(mailnotify_kinds_parse("breach", &k), SMILE_OK);
    assert_int_equal(k, MAILNOTIFY_BREACH);
    assert_int_equal(mailnotify_kinds_parse("all", &k), SMILE_OK);
    assert_int_equal(k, MAILNOTIFY_ALL);
    assert_int_equal(mailnotify_kinds_parse("ALL", &k), SMILE_EINVAL);
    assert_int_equal(mailnotify_kinds_parse("", &k), SMILE_EINVAL);
    /* breach: overdue work only — the assignee's sla.breached, the supervisor's escalation
     * of a breach (not of a warning), a reassignment by escalation; not warnings or a
     * person's assignment. */
    assert_true(mailnotify_wants(MAILNOTIFY_BREACH, "sla.breached", NULL));
    assert_true(mailnotify_wants(MAILNOTIFY_BREACH, "escalation", breach));
    assert_false(mailnotify_wants(MAILNOTIFY_BREACH, "escalation", warning));
    assert_false(mailnotify_wants(MAILNOTIFY_BREACH, "escalation", NULL));
    assert_true(mailnotify_wants(MAILNOTIFY_BREACH, "escalation.assigned", NULL));
    assert_false(mailnotify_wants(MAILNOTIFY_BREACH, "sla.warning", NULL));
    assert_false(mailnotify_wants(MAILNOTIFY_BREACH, "case.assigned", NULL));
    /* all: everything; off: nothing. */
    assert_true(mailnotify_wants(MAILNOTIFY_ALL, "sla.warning", NULL));
    assert_true(mailnotify_wants(MAILNOTIFY_ALL, "case.assigned", NULL));
    assert_false(mailnotify_wants(MAILNOTIFY_OFF, "sla.breached", NULL));
    json_decref(breach);
    json_decref(warning);
}

static void
test_locale(void **state)
{
    (void)state;
    /* Chinese first for zh, zh-CN and an unset locale; English for en. */
    assert_true(mailnotify_locale_zh("zh-CN"));
    assert_true(mailnotify_locale_zh("zh"));
    assert_true(mailnotify_locale_zh(""));
    assert_true(mailnotify_locale_zh(NULL));
    assert_false(mailnotify_locale_zh("en"));
}

static void
test_notification_text(void **state)
{
    struct buf subj, body;

    (void)state;
    buf_init(&subj, 0);
    buf_init(&body, 0);
    /* English first: subject = the English title; the English body, a blank line, the
     * separator, the Chinese title and body, a blank line, "-- " and both footers. */
    mailnotify_text_notification("en", "Overdue: Resolve", "已超时：解决", "Case #12 is overdue.",
                                 "工单 #12 已超时。", &subj, &body);
    assert_string_equal(subj.data, "Overdue: Resolve");
    assert_string_equal(body.data, "Case #12 is overdue.\n\n——\n已超时：解决\n工单 #12 已超时。\n"
                                   "\n-- \n" FOOTER_EN FOOTER_ZH);
    buf_reset(&subj);
    buf_reset(&body);
    /* zh-CN: the same with the languages swapped. */
    mailnotify_text_notification("zh-CN", "Overdue: Resolve", "已超时：解决",
                                 "Case #12 is overdue.", "工单 #12 已超时。", &subj, &body);
    assert_string_equal(subj.data, "已超时：解决");
    assert_string_equal(body.data,
                        "工单 #12 已超时。\n\n——\nOverdue: Resolve\nCase #12 is overdue.\n"
                        "\n-- \n" FOOTER_ZH FOOTER_EN);
    buf_free(&subj);
    buf_free(&body);
}

static void
test_digest_text(void **state)
{
    struct buf subj, body;
    json_t *doc = json_loads(
        "{\"title\": {\"en\": \"Scorecards 2026-10 (agents), team complaints\","
        "  \"zh\": \"2026-10 绩效评分（agents），complaints 组\"},"
        " \"period\": \"2026-10\", \"previous_period\": \"2026-09\", \"team\": \"complaints\","
        " \"summary\": {\"people\": 2, \"scored\": 1, \"zeroed\": 0, \"no_data\": 1,"
        "  \"mean\": 87.5},"
        " \"scores\": [{\"username\": \"ann\", \"display_name\": \"Ann\", \"score\": 87.5,"
        "   \"rank_team\": 1, \"delta\": 2.25},"
        "  {\"username\": \"bob\", \"display_name\": \"\", \"score\": null, \"rank_team\": null,"
        "   \"delta\": null}],"
        " \"movers\": [{\"username\": \"ann\", \"delta\": 2.25}],"
        " \"worst_items\": [{\"key\": \"reply\", \"label\": {\"en\": \"First reply\","
        "   \"zh\": \"首次答复\"}, \"mean_points\": 40, \"below_floor\": 1}]}",
        0, NULL);

    (void)state;
    assert_non_null(doc);
    buf_init(&subj, 0);
    buf_init(&body, 0);
    mailnotify_text_digest("en", doc, &subj, &body);
    assert_string_equal(subj.data, "Scorecards 2026-10 (agents), team complaints");
    /* Ann is ranked 1, named "Ann (ann)", 87.5 → "87.50", up 2.25 on 2026-09 → "+2.25";
     * bob has no rank ("-  "), no display name (just "bob") and no score ("no data"). The
     * weakest item's 40 mean points → "40.00". Then the Chinese block under its title. */
    assert_string_equal(
        body.data,
        "Period 2026-10, team complaints: 2 people, 1 scored, mean 87.50 (0 zeroed, 1 without "
        "data).\n"
        "\nScores:\n"
        "  1. Ann (ann): 87.50 (+2.25 on 2026-09)\n"
        "  -  bob: no data\n"
        "\nBiggest changes:\n"
        "  ann: +2.25\n"
        "\nWeakest items:\n"
        "  First reply: mean 40.00 points, 1 below the floor\n"
        "\n——\n"
        "2026-10 绩效评分（agents），complaints 组\n"
        "周期 2026-10，complaints 组：2 人，1 人有评分，平均 87.50（0 人归零，1 人无数据）。\n"
        "\n评分：\n"
        "  1. Ann（ann）：87.50（较 +2.25，上期 2026-09）\n"
        "  -  bob：无数据\n"
        "\n变化最大：\n"
        "  ann：+2.25\n"
        "\n最弱项目：\n"
        "  首次答复：平均 40.00 分，1 人低于下限\n"
        "\n\n-- \n" FOOTER_EN FOOTER_ZH);
    buf_reset(&subj);
    buf_reset(&body);
    mailnotify_text_digest("zh-CN", doc, &subj, &body);
    assert_string_equal(subj.data, "2026-10 绩效评分（agents），complaints 组");
    assert_true(strncmp(body.data, "周期 2026-10，complaints 组：",
                        strlen("周期 2026-10，complaints 组：")) == 0);
    assert_non_null(strstr(body.data, "\n——\nScorecards 2026-10 (agents), team complaints\n"
                                      "Period 2026-10"));
    buf_free(&subj);
    buf_free(&body);
    json_decref(doc);
}

static void
test_backoff(void **state)
{
    (void)state;
    /* retry 1000 ms doubling, at most 5000: 1000, 2000, 4000, then 8000 → 5000 for ever. */
    assert_int_equal(mailnotify_backoff_ms(1, 1000, 5000), 1000);
    assert_int_equal(mailnotify_backoff_ms(2, 1000, 5000), 2000);
    assert_int_equal(mailnotify_backoff_ms(3, 1000, 5000), 4000);
    assert_int_equal(mailnotify_backoff_ms(4, 1000, 5000), 5000);
    assert_int_equal(mailnotify_backoff_ms(60, 1000, 5000), 5000);
    /* 30 s doubling up to an hour: 30, 60, …, 30·2^6 = 1920 s, then 3600 s. */
    assert_int_equal(mailnotify_backoff_ms(7, 30000, 3600000), 1920000);
    assert_int_equal(mailnotify_backoff_ms(8, 30000, 3600000), 3600000);
}

static void
notify(struct test_db *d, int64_t user, const char *kind, int64_t id)
{
    struct smile_err err;
    struct notify_new n = {.user_id = user,
                           .kind = kind,
                           .title_en = "Overdue: Resolve",
                           .title_zh = "已超时：解决",
                           .body_en = "Case #12 is overdue.",
                           .body_zh = "工单 #12 已超时。"};

    smile_err_clear(&err);
    assert_int_equal(store_begin(d->s, &err), SMILE_OK);
    assert_int_equal(
        mailnotify_on_notification(d->s, id, &n, (void *)(intptr_t)MAILNOTIFY_BREACH, &err),
        SMILE_OK);
    assert_int_equal(store_commit(d->s, &err), SMILE_OK);
}

static void
test_outbox(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct mailnotify_options o = {.smtp_url = "smtp://127.0.0.1:1", /* nothing listens */
                                   .from = "smile@estate.example",
                                   .from_name = "Smile",
                                   .retry_ms = 1000,
                                   .retry_max_ms = 5000,
                                   .timeout_ms = 2000};
    int sent = -1, failed = -1;
    int64_t now;

    (void)state;
    test_db_open(&d, "mailnotify");
    test_db_exec(&d, "INSERT INTO users (id, username, role, email, locale, created_at, updated_at)"
                     " VALUES (5, 'ann', 'agent', 'ann@estate.example', 'en', 0, 0),"
                     " (6, 'bob', 'agent', NULL, 'en', 0, 0),"
                     " (7, 'cat', 'agent', 'cat@estate.example', 'zh-CN', 0, 0)");
    /* ann: a warning is not e-mailed under "breach", the breach is (notification 41);
     * bob has no address: nothing; cat reads Chinese: the Chinese title is the subject. */
    notify(&d, 5, "sla.warning", 40);
    notify(&d, 5, "sla.breached", 41);
    notify(&d, 6, "sla.breached", 42);
    notify(&d, 7, "sla.breached", 43);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM mail_outbox"), 2);
    assert_int_equal(
        test_db_int(&d, "SELECT count(*) FROM mail_outbox WHERE to_addr = 'ann@estate.example'"
                        " AND user_id = 5 AND kind = 'sla.breached' AND ref = 'notification:41'"
                        " AND subject = 'Overdue: Resolve' AND attempts = 0 AND sent_at IS NULL"
                        " AND next_at = created_at"),
        1);
    assert_int_equal(
        test_db_int(&d, "SELECT count(*) FROM mail_outbox WHERE to_addr = 'cat@estate.example'"
                        " AND ref = 'notification:43' AND subject = '已超时：解决'"),
        1);
    /* A pass at `now` finds both due (next_at = created_at ≤ now) and fails both: attempts
     * 1, the error kept, next_at = the end of the attempt + 1000 ms (the first back-off). */
    now = time_now_ms(); /* after the rows were written */
    smile_err_clear(&err);
    assert_int_equal(mailnotify_send_due(d.s, &o, now + 1, 50, &sent, &failed, &err), SMILE_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(failed, 2);
    assert_int_equal(
        test_db_int(&d, "SELECT count(*) FROM mail_outbox WHERE attempts = 1 AND sent_at IS NULL"
                        " AND last_error IS NOT NULL"),
        2);
    {
        int64_t next = test_db_int(&d, "SELECT min(next_at) FROM mail_outbox");

        assert_true(next >= now + 1 + 1000);
        assert_true(next < now + 1 + 1000 + 30000); /* the two attempts took < 30 s */
        /* Before next_at nothing is due: a pass sends and fails nothing. */
        assert_int_equal(mailnotify_send_due(d.s, &o, next - 1, 50, &sent, &failed, &err),
                         SMILE_OK);
        assert_int_equal(sent + failed, 0);
    }
    test_db_close(&d);
}

/* Given up after max_attempts failed attempts; then never tried; a retry starts again. */
static void
test_give_up_and_retry(void **state)
{
    struct test_db d;
    struct smile_err err;
    struct mailnotify_options o = {.smtp_url = "smtp://127.0.0.1:1", /* nothing listens */
                                   .from = "smile@estate.example",
                                   .retry_ms = 1000,
                                   .retry_max_ms = 5000,
                                   .max_attempts = 3,
                                   .timeout_ms = 2000};
    struct audit_who who = {0}; /* the command line */
    int sent = -1, failed = -1;
    int64_t t = time_now_ms() + 1;
    json_t *row = NULL, *page = NULL;

    (void)state;
    test_db_open(&d, "mailnotify");
    test_db_exec(&d, "INSERT INTO users (id, username, role, email, locale, created_at, updated_at)"
                     " VALUES (5, 'ann', 'agent', 'ann@estate.example', 'en', 0, 0)");
    notify(&d, 5, "sla.breached", 41);
    /* Attempts 1 and 2 fail and move next_at on (back-off 1 s, then 2 s); passes are made
     * far in the future so each finds the row due. Attempt 3 = max_attempts: given up. */
    for (int attempt = 1; attempt <= 3; attempt++) {
        t += 3600 * 1000;
        smile_err_clear(&err);
        assert_int_equal(mailnotify_send_due(d.s, &o, t, 50, &sent, &failed, &err), SMILE_OK);
        assert_int_equal(sent, 0);
        assert_int_equal(failed, 1);
        assert_int_equal(test_db_int(&d, "SELECT attempts FROM mail_outbox"), attempt);
        assert_int_equal(test_db_int(&d, "SELECT failed_at IS NOT NULL FROM mail_outbox"),
                         attempt == 3);
    }
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM mail_outbox WHERE fail_reason LIKE"
                                     " 'gave up after 3 attempts: %' AND last_error IS NOT NULL"
                                     " AND sent_at IS NULL"),
                     1);
    /* Never again, however late the pass. */
    assert_int_equal(mailnotify_send_due(d.s, &o, t + 365LL * 86400000, 50, &sent, &failed, &err),
                     SMILE_OK);
    assert_int_equal(sent + failed, 0);
    /* Listed as failed, not pending; a bad state is an error with its pointer. */
    assert_int_equal(mailnotify_outbox_list(d.s, "failed", 0, 50, &page, &err), SMILE_OK);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(page, "items"), 0), "state")),
                        "failed");
    json_decref(page);
    assert_int_equal(mailnotify_outbox_list(d.s, "pending", 0, 50, &page, &err), SMILE_OK);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    json_decref(page);
    smile_err_clear(&err);
    assert_int_equal(mailnotify_outbox_list(d.s, "bogus", 0, 50, &page, &err), SMILE_EINVAL);
    /* Retry: pending again with a fresh series, audited; a second retry is a conflict. */
    smile_err_clear(&err);
    assert_int_equal(mailnotify_outbox_retry(d.s, &who, 1, &row, &err), SMILE_OK);
    assert_string_equal(json_string_value(json_object_get(row, "state")), "pending");
    json_decref(row);
    assert_int_equal(
        test_db_int(&d, "SELECT count(*) FROM mail_outbox WHERE attempts = 0 AND failed_at IS"
                        " NULL AND fail_reason IS NULL"),
        1);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM audit WHERE entity = 'mail_outbox' AND"
                                     " action = 'retry'"),
                     1);
    smile_err_clear(&err);
    assert_int_equal(mailnotify_outbox_retry(d.s, &who, 1, &row, &err), SMILE_ECONFLICT);
    smile_err_clear(&err);
    assert_int_equal(mailnotify_outbox_retry(d.s, &who, 99, &row, &err), SMILE_ENOTFOUND);
    assert_int_equal(test_db_int(&d, "SELECT count(*) FROM audit WHERE entity = 'mail_outbox'"), 1);
    /* The new series: one failed attempt is not the end. */
    assert_int_equal(mailnotify_send_due(d.s, &o, t + 2 * 3600000LL, 50, &sent, &failed, &err),
                     SMILE_OK);
    assert_int_equal(failed, 1);
    assert_int_equal(test_db_int(&d, "SELECT attempts FROM mail_outbox WHERE failed_at IS NULL"),
                     1);
    test_db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_locale),
        cmocka_unit_test(test_notification_text),
        cmocka_unit_test(test_digest_text),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_outbox),
        cmocka_unit_test(test_give_up_and_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
