/*
 * text.c — the words of system e-mail, pure (no I/O, no clock): which notifications are
 * e-mailed, the subject and body of a notification e-mail and of a supervisor's scorecard
 * digest (the user's locale first, the other language below, a footer in both), and the
 * retry back-off. Called by outbox.c when it queues a message; the sender only sends.
 */
#include <stdio.h>
#include <string.h>

#include "mailnotify/mailnotify.h"

#define SEPARATOR "——"
#define FOOTER_EN "This message was sent automatically by Smile; replies are not read."
#define FOOTER_ZH "此邮件由 Smile 自动发送，回复不会被阅读。"

int
mailnotify_kinds_parse(const char *s, enum mailnotify_kinds *out)
{
    if (s && strcmp(s, "off") == 0)
        *out = MAILNOTIFY_OFF;
    else if (s && strcmp(s, "breach") == 0)
        *out = MAILNOTIFY_BREACH;
    else if (s && strcmp(s, "all") == 0)
        *out = MAILNOTIFY_ALL;
    else
        return SMILE_EINVAL;
    return SMILE_OK;
}

bool
mailnotify_wants(enum mailnotify_kinds k, const char *kind, const json_t *data)
{
    const char *deadline;

    if (k == MAILNOTIFY_ALL)
        return true;
    if (k == MAILNOTIFY_OFF || kind == NULL)
        return false;
    if (strcmp(kind, "sla.breached") == 0 || strcmp(kind, "escalation.assigned") == 0)
        return true;
    if (strcmp(kind, "escalation") != 0)
        return false;
    deadline = json_string_value(json_object_get(data, "deadline"));
    return deadline && strcmp(deadline, "breach") == 0;
}

bool
mailnotify_locale_zh(const char *locale)
{
    return locale == NULL || locale[0] == '\0' || strncmp(locale, "zh", 2) == 0;
}

static void
footer(struct buf *body, bool zh)
{
    buf_puts(body, "\n\n-- \n");
    buf_puts(body, zh ? FOOTER_ZH "\n" FOOTER_EN "\n" : FOOTER_EN "\n" FOOTER_ZH "\n");
}

static const char *
nz(const char *s)
{
    return s ? s : "";
}

void
mailnotify_text_notification(const char *locale, const char *title_en, const char *title_zh,
                             const char *body_en, const char *body_zh, struct buf *subject,
                             struct buf *body)
{
    bool zh = mailnotify_locale_zh(locale);

    buf_puts(subject, nz(zh ? title_zh : title_en));
    buf_puts(body, nz(zh ? body_zh : body_en));
    buf_puts(body, "\n\n" SEPARATOR "\n");
    buf_puts(body, nz(zh ? title_en : title_zh));
    buf_putc(body, '\n');
    buf_puts(body, nz(zh ? body_en : body_zh));
    footer(body, zh);
}

/* A label that is {"en": …, "zh": …} or a plain string. */
static const char *
label(const json_t *v, bool zh)
{
    const char *s;

    if (json_is_string(v))
        return json_string_value(v);
    s = json_string_value(json_object_get(v, zh ? "zh" : "en"));
    if (s == NULL || s[0] == '\0')
        s = json_string_value(json_object_get(v, zh ? "en" : "zh"));
    return s ? s : "";
}

static void
number(struct buf *b, const json_t *v, bool sign)
{
    if (json_is_number(v))
        buf_printf(b, sign ? "%+.2f" : "%.2f", json_number_value(v));
    else
        buf_puts(b, "—");
}

/* One language's block of a digest (no title: the subject or the line above carries it). */
static void
digest_block(struct buf *b, const json_t *doc, bool zh)
{
    const json_t *sum = json_object_get(doc, "summary");
    const char *period = nz(json_string_value(json_object_get(doc, "period")));
    const char *prev = nz(json_string_value(json_object_get(doc, "previous_period")));
    const char *team = nz(json_string_value(json_object_get(doc, "team")));
    json_int_t people = json_integer_value(json_object_get(sum, "people"));
    json_int_t scored = json_integer_value(json_object_get(sum, "scored"));
    json_int_t zeroed = json_integer_value(json_object_get(sum, "zeroed"));
    json_int_t nodata = json_integer_value(json_object_get(sum, "no_data"));
    const json_t *arr, *row;
    size_t i;

    if (zh)
        buf_printf(b, "周期 %s，%s 组：%lld 人，%lld 人有评分，平均 ", period, team,
                   (long long)people, (long long)scored);
    else
        buf_printf(b, "Period %s, team %s: %lld people, %lld scored, mean ", period, team,
                   (long long)people, (long long)scored);
    number(b, json_object_get(sum, "mean"), false);
    if (zh)
        buf_printf(b, "（%lld 人归零，%lld 人无数据）。\n", (long long)zeroed, (long long)nodata);
    else
        buf_printf(b, " (%lld zeroed, %lld without data).\n", (long long)zeroed, (long long)nodata);
    arr = json_object_get(doc, "scores");
    if (json_array_size(arr) > 0)
        buf_puts(b, zh ? "\n评分：\n" : "\nScores:\n");
    json_array_foreach(arr, i, row)
    {
        const json_t *rank = json_object_get(row, "rank_team");
        const char *name = nz(json_string_value(json_object_get(row, "display_name")));
        const char *user = nz(json_string_value(json_object_get(row, "username")));

        if (json_is_integer(rank))
            buf_printf(b, "  %lld. ", (long long)json_integer_value(rank));
        else
            buf_puts(b, "  -  ");
        if (name[0] && strcmp(name, user) != 0)
            buf_printf(b, zh ? "%s（%s）：" : "%s (%s): ", name, user);
        else
            buf_printf(b, zh ? "%s：" : "%s: ", user);
        if (!json_is_number(json_object_get(row, "score"))) {
            buf_puts(b, zh ? "无数据\n" : "no data\n");
            continue;
        }
        number(b, json_object_get(row, "score"), false);
        if (json_is_number(json_object_get(row, "delta"))) {
            buf_puts(b, zh ? "（较 " : " (");
            number(b, json_object_get(row, "delta"), true);
            buf_printf(b, zh ? "，上期 %s）" : " on %s)", prev);
        }
        buf_putc(b, '\n');
    }
    arr = json_object_get(doc, "movers");
    if (json_array_size(arr) > 0)
        buf_puts(b, zh ? "\n变化最大：\n" : "\nBiggest changes:\n");
    json_array_foreach(arr, i, row)
    {
        buf_printf(
            b, zh ? "  %s：" : "  %s: ", nz(json_string_value(json_object_get(row, "username"))));
        number(b, json_object_get(row, "delta"), true);
        buf_putc(b, '\n');
    }
    arr = json_object_get(doc, "worst_items");
    if (json_array_size(arr) > 0)
        buf_puts(b, zh ? "\n最弱项目：\n" : "\nWeakest items:\n");
    json_array_foreach(arr, i, row)
    {
        const char *l = label(json_object_get(row, "label"), zh);

        if (l[0] == '\0')
            l = nz(json_string_value(json_object_get(row, "key")));
        buf_printf(b, zh ? "  %s：平均 " : "  %s: mean ", l);
        number(b, json_object_get(row, "mean_points"), false);
        buf_printf(b, zh ? " 分，%lld 人低于下限\n" : " points, %lld below the floor\n",
                   (long long)json_integer_value(json_object_get(row, "below_floor")));
    }
}

void
mailnotify_text_digest(const char *locale, const json_t *doc, struct buf *subject, struct buf *body)
{
    bool zh = mailnotify_locale_zh(locale);
    const json_t *title = json_object_get(doc, "title");

    buf_puts(subject, label(title, zh));
    digest_block(body, doc, zh);
    buf_puts(body, "\n" SEPARATOR "\n");
    buf_puts(body, label(title, !zh));
    buf_putc(body, '\n');
    digest_block(body, doc, !zh);
    footer(body, zh);
}

int64_t
mailnotify_backoff_ms(int attempts, int64_t retry_ms, int64_t max_ms)
{
    int64_t d = retry_ms;

    for (int i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}
