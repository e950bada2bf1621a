/*
 * test_mail.c — unit tests of the mail part's pure pieces: IMAP dates and responses, the
 * case tag and reply prefixes, thread subjects, charset conversion (GB2312/GBK/GB18030,
 * broken UTF-8), MIME parsing (RFC 2047 names, multipart, attachments, HTML-only mail),
 * the composed reply read back, the server URL checks, and the event data staying within
 * the ledger's 16 KiB. Expected values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "mail/mail.h"
#include "mail/mail_int.h"
#include "store/store.h"

/*
 * Day numbers by hand: 1970 → 2026 is 56 years with 14 leap days (1972 … 2024), so
 * 2026-01-01 is day 56 × 365 + 14 = 20454, i.e. 20454 × 86400 = 1,767,225,600 s.
 */
#define T_2026_01_01 INT64_C(1767225600)

static void
test_imap_date(void **state)
{
    int64_t ms = 0;

    (void)state;
    /* 2026-11-29: Jan..Oct = 31+28+31+30+31+30+31+31+30+31 = 304 days, + 28 → day 332 of
     * the year. 09:00 at +08:00 is 01:00 UTC. */
    assert_int_equal(mail_imap_date_parse("29-Nov-2026 09:00:00 +0800", 26, &ms), SMILE_OK);
    assert_int_equal(ms, (T_2026_01_01 + 332 * 86400 + 3600) * 1000);
    /* Space-padded day: 2 March = 31 + 28 + 1 = day 60; 09:13:55 +08:00 = 01:13:55 UTC =
     * 4435 s into the day. */
    assert_int_equal(mail_imap_date_parse(" 2-Mar-2026 09:13:55 +0800", 26, &ms), SMILE_OK);
    assert_int_equal(ms, (T_2026_01_01 + 60 * 86400 + 4435) * 1000);
    /* West of UTC: 00:30 at −01:30 is 02:00 UTC. */
    assert_int_equal(mail_imap_date_parse("01-Jan-2026 00:30:00 -0130", 26, &ms), SMILE_OK);
    assert_int_equal(ms, (T_2026_01_01 + 7200) * 1000);
    assert_int_equal(mail_imap_date_parse("31-Feb-2026 00:00:00 +0000", 26, &ms), SMILE_EINVAL);
    assert_int_equal(mail_imap_date_parse("01-Foo-2026 00:00:00 +0000", 26, &ms), SMILE_EINVAL);
    assert_int_equal(mail_imap_date_parse("01-Jan-2026 24:00:00 +0000", 26, &ms), SMILE_EINVAL);
    assert_int_equal(mail_imap_date_parse("01-Jan-2026 00:00:00 +0000x", 27, &ms), SMILE_EINVAL);
    assert_int_equal(mail_imap_date_parse("", 0, &ms), SMILE_EINVAL);
}

static void
test_imap_responses(void **state)
{
    struct mail_imap_item it[4];
    int64_t uv, un;
    const char *fetch = "* 1 FETCH (UID 7 INTERNALDATE \"29-Nov-2026 09:00:00 +0800\" "
                        "RFC822.SIZE 1234)\r\n"
                        "* 2 FETCH (INTERNALDATE \" 2-Mar-2026 09:13:55 +0800\" UID 9)\r\n"
                        "* OK [READ-WRITE] noise\r\n"
                        "* 3 FETCH (FLAGS (\\Seen))\r\n";

    (void)state;
    mail_imap_status_parse("* STATUS INBOX (UIDVALIDITY 1795954701 UIDNEXT 4)\r\n", &uv, &un);
    assert_int_equal(uv, 1795954701);
    assert_int_equal(un, 4);
    mail_imap_status_parse("* STATUS INBOX (MESSAGES 3)\r\n", &uv, &un);
    assert_int_equal(uv, -1);
    assert_int_equal(un, -1);
    /* Two FETCH lines with a UID (in either order of items); the FLAGS-only one has none. */
    assert_int_equal(mail_imap_fetch_parse(fetch, it, 4), 2);
    assert_int_equal(it[0].uid, 7);
    assert_int_equal(it[0].size, 1234);
    assert_int_equal(it[0].internaldate, (T_2026_01_01 + 332 * 86400 + 3600) * 1000);
    assert_int_equal(it[1].uid, 9);
    assert_int_equal(it[1].size, -1);
    assert_int_equal(it[1].internaldate, (T_2026_01_01 + 60 * 86400 + 4435) * 1000);
    assert_int_equal(mail_imap_fetch_parse(fetch, it, 1), 1);
}

static void
test_subjects(void **state)
{
    char b[64], out[256], root[260];

    (void)state;
    assert_int_equal(mail_subject_tag("Re: 渗水 [SR-42]", "[SR-"), 42);
    assert_int_equal(mail_subject_tag("[SR-x] then [SR-7]", "[SR-"), 7);
    assert_int_equal(mail_subject_tag("[SR-] [SR-0] [SR-12x]", "[SR-"), 0);
    assert_int_equal(mail_subject_tag("[SR-42]", "[Ticket#"), 0);
    assert_int_equal(mail_subject_tag("no tag", ""), 0);
    /* 2^53 = 9007199254740992 is refused, one less is kept. */
    assert_int_equal(mail_subject_tag("[SR-9007199254740992]", "[SR-"), 0);
    assert_int_equal(mail_subject_tag("[SR-9007199254740991]", "[SR-"), INT64_C(9007199254740991));
    mail_subject_base("RE[2]: 回复：Fwd:  3号楼渗水  ", b, sizeof(b));
    assert_string_equal(b, "3号楼渗水");
    mail_subject_base("Re:Re: AW: hello", b, sizeof(b));
    assert_string_equal(b, "hello");
    mail_subject_base("Reply needed", b, sizeof(b));
    assert_string_equal(b, "Reply needed");
    /* Cutting keeps whole characters: "渗水" is 6 bytes; 5 bytes of room keep "渗" (3). */
    mail_subject_base("渗水", b, 6);
    assert_string_equal(b, "渗");
    mail_thread_subject("m1@customer.cn", out, sizeof(out));
    assert_string_equal(out, "thread:m1@customer.cn");
    /* 193 characters + "thread:" (7) = 200, the ledger's limit: kept; 194 is hashed into
     * "thread:h" + 16 hex digits = 24 characters. */
    memset(root, 'a', 193);
    root[193] = '\0';
    mail_thread_subject(root, out, sizeof(out));
    assert_int_equal(strlen(out), 200);
    root[193] = 'a';
    root[194] = '\0';
    mail_thread_subject(root, out, sizeof(out));
    assert_int_equal(strlen(out), 24);
    assert_memory_equal(out, "thread:h", 8);
}

static void
test_charsets(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 0);
    /* "中文" in GB2312 is D6 D0 CE C4; in UTF-8 E4 B8 AD E6 96 87. */
    assert_int_equal(mail_to_utf8("gb2312", "\xd6\xd0\xce\xc4", 4, &b), 0);
    assert_string_equal(b.data, "\xe4\xb8\xad\xe6\x96\x87");
    buf_reset(&b);
    /* Undeclared and not UTF-8: read as GB18030. */
    assert_int_equal(mail_to_utf8(NULL, "\xd6\xd0\xce\xc4", 4, &b), 0);
    assert_string_equal(b.data, "中文");
    buf_reset(&b);
    /* GBK / x-gbk / cp936 are the same superset. */
    assert_int_equal(mail_to_utf8("X-GBK", "\xd6\xd0", 2, &b), 0);
    assert_string_equal(b.data, "中");
    buf_reset(&b);
    /* Declared UTF-8 with two stray bytes (FF, C3 at the end): two U+FFFD. */
    assert_int_equal(mail_to_utf8("utf-8",
                                  "a\xff"
                                  "b\xc3",
                                  4, &b),
                     2);
    assert_string_equal(b.data, "a\xef\xbf\xbd"
                                "b\xef\xbf\xbd");
    buf_reset(&b);
    /* An unknown charset with valid UTF-8: kept as it is. */
    assert_int_equal(mail_to_utf8("x-unknown-cs", "中", 3, &b), 0);
    assert_string_equal(b.data, "中");
    buf_reset(&b);
    /* A NUL never survives (JSON strings and the CRM refuse it). */
    assert_int_equal(mail_to_utf8("us-ascii", "a\0b", 3, &b), 1);
    assert_string_equal(b.data, "a\xef\xbf\xbd"
                                "b");
    buf_free(&b);
}

static const char multipart[] =
    "From: =?UTF-8?B?6ZmI5p2w?= <ChenJie@Customer.CN>\r\n"
    "Reply-To: cj@home.example\r\n"
    "To: service@smile-estate.cn, Ann <ann@smile-estate.cn>\r\n"
    "Cc: boss@customer.cn\r\n"
    "Subject: =?UTF-8?B?5ZCI5ZCM?= question\r\n"
    "Message-ID: <abc@customer.cn>\r\n"
    "In-Reply-To: <parent@smile-estate.cn> (comment)\r\n"
    "References: <root@customer.cn>\r\n <parent@smile-estate.cn>\r\n"
    "Date: Mon, 2 Mar 2026 09:13:55 +0800\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
    "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
    "--a\r\nContent-Type: text/plain; charset=gb2312\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=D6=D0=CE=C4\r\nline two\r\n\r\n"
    "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>ignored</p>\r\n"
    "--a--\r\n"
    "--m\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
    "--m--\r\n";

static void
test_parse_multipart(void **state)
{
    struct mail_parsed m;
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(mail_parse(multipart, sizeof(multipart) - 1, &m, &err), SMILE_OK);
    /* 6ZmI5p2w is base64 of E9 99 88 E6 9D B0 = "陈杰"; 5ZCI5ZCM of "合同". */
    assert_string_equal(m.from_name, "陈杰");
    /* The domain is lower-cased, the local part kept. */
    assert_string_equal(m.from_addr, "ChenJie@customer.cn");
    assert_string_equal(m.reply_to, "cj@home.example");
    assert_string_equal(m.subject, "合同 question");
    assert_string_equal(m.message_id, "abc@customer.cn");
    assert_string_equal(m.in_reply_to, "parent@smile-estate.cn");
    assert_int_equal(m.nrefs, 2);
    assert_string_equal(m.refs[0], "root@customer.cn");
    assert_string_equal(m.refs[1], "parent@smile-estate.cn");
    /* To and Cc: three addresses. */
    assert_int_equal(json_array_size(m.to), 3);
    assert_string_equal(json_string_value(json_array_get(m.to, 2)), "boss@customer.cn");
    /* Date: 09:13:55 +08:00 on day 60 of 2026. */
    assert_int_equal(m.date_ms, (T_2026_01_01 + 60 * 86400 + 4435) * 1000);
    /* The plain part wins over HTML; QP =D6=D0=CE=C4 is GB2312 "中文"; CRLF → LF, the
     * trailing blank line dropped. */
    assert_string_equal(m.text, "中文\nline two");
    assert_false(m.text_from_html);
    /* The attachment: "hello" is 5 bytes decoded. */
    assert_int_equal(m.nattachments, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(m.attachments, 0), "name")), "notes.txt");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(m.attachments, 0), "size")),
                     5);
    mail_parsed_free(&m);
}

static void
test_parse_html_only_and_odd(void **state)
{
    static const char html[] = "From: a@b.cn\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n"
                               "<html><style>p{}</style><p>Hello&nbsp;&amp; bye</p>"
                               "<script>x()</script><br>2</html>\r\n";
    static const char bare[] = "Subject: only a header\r\n\r\n";
    struct mail_parsed m;
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(mail_parse(html, sizeof(html) - 1, &m, &err), SMILE_OK);
    /* Style and script dropped, <p> and <br> start lines, entities decoded, the leading
     * line break of the first <p> kept, trailing blank lines dropped. */
    assert_string_equal(m.text, "\nHello & bye\n\n2");
    assert_true(m.text_from_html);
    assert_string_equal(m.message_id, "");
    mail_parsed_free(&m);
    assert_int_equal(mail_parse(bare, sizeof(bare) - 1, &m, &err), SMILE_OK);
    assert_string_equal(m.from_addr, "");
    assert_string_equal(m.text, "");
    assert_int_equal(json_array_size(m.to), 0);
    mail_parsed_free(&m);
}

static void
test_compose_reads_back(void **state)
{
    const char *to[] = {"chenjie@customer.cn"};
    const char *refs[] = {"root@customer.cn", "m2@customer.cn"};
    struct mail_compose c = {
        .from_address = "service@smile-estate.cn",
        .from_name = "客服中心",
        .to = to,
        .nto = 1,
        .subject = "Re: 3号楼渗水问题 [SR-42]",
        .body = "您好，\n维修师傅明天上门。",
        .message_id = "smile.42.00ff@smile-estate.cn",
        .in_reply_to = "m2@customer.cn",
        .refs = refs,
        .nrefs = 2,
        /* 2026-03-02T02:05:41Z: day 60, 7541 s. */
        .date_ms = (T_2026_01_01 + 60 * 86400 + 7541) * 1000,
    };
    struct mail_parsed m;
    struct smile_err err;
    struct buf b;
    char id[128];

    (void)state;
    buf_init(&b, 0);
    mail_compose_build(&c, &b);
    /* CRLF line ends, our ids in angle brackets. */
    assert_non_null(strcasestr(b.data, "\r\nMessage-Id: <smile.42.00ff@smile-estate.cn>\r\n"));
    assert_non_null(strstr(b.data, "In-Reply-To: <m2@customer.cn>\r\n"));
    /* 7-bit only on the wire: the Chinese is encoded. */
    for (size_t i = 0; i < b.len; i++)
        assert_true((unsigned char)b.data[i] < 0x80);
    smile_err_clear(&err);
    assert_int_equal(mail_parse(b.data, b.len, &m, &err), SMILE_OK);
    assert_string_equal(m.subject, "Re: 3号楼渗水问题 [SR-42]");
    assert_string_equal(m.from_name, "客服中心");
    assert_string_equal(m.from_addr, "service@smile-estate.cn");
    assert_string_equal(m.in_reply_to, "m2@customer.cn");
    assert_int_equal(m.nrefs, 2);
    assert_string_equal(m.refs[0], "root@customer.cn");
    assert_string_equal(m.text, "您好，\n维修师傅明天上门。");
    assert_int_equal(m.date_ms, c.date_ms);
    assert_int_equal(mail_subject_tag(m.subject, "[SR-"), 42);
    mail_parsed_free(&m);
    buf_free(&b);
    /* Our Message-IDs: smile.<case>.<16 hex>@<from domain>. */
    mail_message_id_new(42, "service@smile-estate.cn", id, sizeof(id));
    assert_int_equal(strlen(id), strlen("smile.42.") + 16 + strlen("@smile-estate.cn"));
    assert_memory_equal(id, "smile.42.", 9);
    assert_string_equal(strchr(id, '@'), "@smile-estate.cn");
}

static void
test_urls(void **state)
{
    struct mail_url u;
    struct smile_err err;

    (void)state;
    smile_err_clear(&err);
    assert_int_equal(mail_url_parse("imap://127.0.0.1:1143/INBOX", "imap", &u, &err), SMILE_OK);
    assert_string_equal(u.base, "imap://127.0.0.1:1143/");
    assert_string_equal(u.folder, "INBOX");
    assert_true(u.loopback);
    assert_false(u.tls);
    mail_url_free(&u);
    /* imaps without a port: 993; the folder is decoded; no folder means INBOX. */
    assert_int_equal(mail_url_parse("imaps://imap.example.cn/Support%20Mail", "imap", &u, &err),
                     SMILE_OK);
    assert_int_equal(u.port, 993);
    assert_string_equal(u.folder, "Support Mail");
    assert_true(u.tls);
    assert_false(u.loopback);
    mail_url_free(&u);
    assert_int_equal(mail_url_parse("imaps://imap.example.cn", "imap", &u, &err), SMILE_OK);
    assert_string_equal(u.folder, "INBOX");
    mail_url_free(&u);
    assert_int_equal(mail_url_parse("smtps://smtp.example.cn", "smtp", &u, &err), SMILE_OK);
    assert_int_equal(u.port, 465);
    mail_url_free(&u);
    assert_int_equal(mail_url_parse("http://h/INBOX", "imap", &u, &err), SMILE_EINVAL);
    assert_int_equal(mail_url_parse("imap://u:p@h/INBOX", "imap", &u, &err), SMILE_EINVAL);
    assert_int_equal(mail_url_parse("imap://h/IN;BOX", "imap", &u, &err), SMILE_EINVAL);
    assert_int_equal(mail_url_parse("smtp://h/path", "smtp", &u, &err), SMILE_EINVAL);
    assert_int_equal(mail_url_parse("imap://h/INBOX", "smtp", &u, &err), SMILE_EINVAL);
    assert_int_equal(mail_url_parse("not a url", "imap", &u, &err), SMILE_EINVAL);
}

static void
test_folder_mutf7(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 0);
    /* RFC 3501 §5.1.3's own example. */
    mail_folder_mutf7("~peter/mail/台北/日本語", &b);
    assert_string_equal(b.data, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    buf_reset(&b);
    /* 客 U+5BA2 服 U+670D: UTF-16BE 5B A2 67 0D = 010110 111010 001001 100111 000011 01(0000)
     * → 22 58 9 39 3 16 → "W6JnDQ". '&' is written "&-". */
    mail_folder_mutf7("INBOX.客服 & Co", &b);
    assert_string_equal(b.data, "INBOX.&W6JnDQ- &- Co");
    buf_free(&b);
}

static void
test_event_data_bounded(void **state)
{
    struct buf raw;
    struct mail_parsed m;
    struct smile_err err;
    json_t *d;
    char *canon;

    (void)state;
    /* 40 recipients of ~250 bytes and 60 attachments of ~150-byte names: ~10 KB + 9 KB of
     * lists, over 16 KiB if all were kept. The data keeps 10 and 20 of them. */
    buf_init(&raw, 0);
    buf_puts(&raw, "From: a@b.cn\r\nSubject: many\r\nTo: ");
    for (int i = 0; i < 40; i++) {
        buf_printf(&raw, "%s", i ? ",\r\n " : "");
        for (int k = 0; k < 240; k++)
            buf_putc(&raw, 'x');
        buf_printf(&raw, "%d@example.cn", i);
    }
    buf_puts(&raw, "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n");
    for (int i = 0; i < 60; i++) {
        buf_puts(&raw, "--z\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Disposition: attachment; filename=\"");
        for (int k = 0; k < 150; k++)
            buf_putc(&raw, 'n');
        buf_printf(&raw, "%d.bin\"\r\n\r\nAB\r\n", i);
    }
    buf_puts(&raw, "--z--\r\n");
    smile_err_clear(&err);
    assert_int_equal(mail_parse(raw.data, raw.len, &m, &err), SMILE_OK);
    assert_int_equal(json_array_size(m.to), 20); /* parse keeps 20 */
    assert_int_equal(m.nattachments, 60);
    assert_int_equal(json_array_size(m.attachments), MAIL_MAX_ATTACHMENTS);
    d = mail_event_data(&m);
    assert_int_equal(json_array_size(json_object_get(d, "to")), 10);
    assert_int_equal(json_array_size(json_object_get(d, "attachments")), 20);
    assert_int_equal(json_integer_value(json_object_get(d, "attachment_count")), 60);
    canon = ledger_data_canonical(d);
    assert_non_null(canon);
    assert_true(strlen(canon) <= LEDGER_MAX_DATA);
    free(canon);
    json_decref(d);
    mail_parsed_free(&m);
    buf_free(&raw);
}

static void
test_long_message_id_hashed(void **state)
{
    struct buf raw;
    struct mail_parsed m;
    struct smile_err err;

    (void)state;
    /* A Message-ID of 300 bytes is over MAIL_MAX_MSGID (190): kept as "h<16 hex>@long.invalid",
     * 1 + 16 + 13 = 30 bytes, so source ids and thread subjects stay within the ledger. */
    buf_init(&raw, 0);
    buf_puts(&raw, "From: a@b.cn\r\nMessage-ID: <");
    for (int k = 0; k < 290; k++)
        buf_putc(&raw, 'q');
    buf_puts(&raw, "@b.cn>\r\nSubject: s\r\n\r\nx\r\n");
    smile_err_clear(&err);
    assert_int_equal(mail_parse(raw.data, raw.len, &m, &err), SMILE_OK);
    assert_int_equal(strlen(m.message_id), 30);
    assert_int_equal(m.message_id[0], 'h');
    assert_string_equal(m.message_id + 17, "@long.invalid");
    mail_parsed_free(&m);
    buf_free(&raw);
}

static void
test_send_text_needs_a_sending_mailbox(void **state)
{
    char path[] = "/tmp/smile-test-mail-XXXXXX";
    const char *to[] = {"ops@example.cn"};
    struct smile_err err;
    struct store *db = NULL;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    smile_err_clear(&err);
    assert_int_equal(store_open(path, STORE_CREATE, &db, &err), SMILE_OK);
    assert_int_equal(store_migrate(db, &err), SMILE_OK);
    /* No mailbox can send: not found. */
    assert_int_equal(mail_send_text(db, 0, to, 1, "s", "b", NULL, 0, &err), SMILE_ENOTFOUND);
    /* One whose SMTP server is not there (port 1 on this machine refuses): an I/O error
     * naming the server, nothing else happens. */
    assert_int_equal(store_exec(db,
                                "INSERT INTO mailboxes (name, imap_url, username, smtp_url, "
                                "from_address, created_at, updated_at) VALUES ('m', "
                                "'imap://127.0.0.1:1/INBOX', 'u', 'smtp://127.0.0.1:1', "
                                "'ops@smile.cn', 0, 0)",
                                &err),
                     SMILE_OK);
    assert_int_equal(mail_send_text(db, 0, to, 1, "s", "b", NULL, 0, &err), SMILE_EIO);
    assert_non_null(strstr(err.msg, "smtp://127.0.0.1:1/"));
    store_close(db);
    unlink(path);
    {
        char side[64];

        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
}

/* IMAP IDLE helpers (idle.c): what a watcher makes of the server's lines. */
static void
test_idle_lines(void **state)
{
    (void)state;
    /* Dovecot's CAPABILITY (RFC 3501 §7.2.1): IDLE among others, any case, whole word. */
    assert_true(mail_imap_has_capability("* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE "
                                         "IDLE SORT\r\nW1 OK Pre-login capabilities\r\n",
                                         "IDLE"));
    assert_true(mail_imap_has_capability("* OK [CAPABILITY IMAP4rev1 idle] ready", "IDLE"));
    assert_true(mail_imap_has_capability("* CAPABILITY IMAP4rev1 IDLE", "IDLE"));
    /* Not a word of its own: X-IDLEFOO, IDLEX, or absent. */
    assert_false(mail_imap_has_capability("* CAPABILITY IMAP4rev1 XIDLE IDLEX", "IDLE"));
    assert_false(mail_imap_has_capability("* CAPABILITY IMAP4rev1 AUTH=PLAIN", "IDLE"));
    assert_false(mail_imap_has_capability("", "IDLE"));
    /* RFC 2177's example exchange: "+ idling", "* 4 EXISTS", then other untagged data. */
    assert_int_equal(mail_imap_idle_line("+ idling"), MAIL_IDLE_CONTINUE);
    assert_int_equal(mail_imap_idle_line("+"), MAIL_IDLE_CONTINUE);
    assert_int_equal(mail_imap_idle_line("* 4 EXISTS"), MAIL_IDLE_EXISTS);
    assert_int_equal(mail_imap_idle_line("* 123456 exists"), MAIL_IDLE_EXISTS);
    assert_int_equal(mail_imap_idle_line("* 3 RECENT"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* 2 EXPUNGE"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* 2 FETCH (FLAGS (\\Seen))"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* OK Still here"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* BYE Server shutting down"), MAIL_IDLE_BYE);
    assert_int_equal(mail_imap_idle_line("* BYE"), MAIL_IDLE_BYE);
    assert_int_equal(mail_imap_idle_line("W3 OK Idle completed"), MAIL_IDLE_OTHER);
    /* Near misses: no number, EXISTSX, a missing space. */
    assert_int_equal(mail_imap_idle_line("* EXISTS"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* 4 EXISTSX"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* 4EXISTS"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line("* BYEBYE"), MAIL_IDLE_OTHER);
    assert_int_equal(mail_imap_idle_line(""), MAIL_IDLE_OTHER);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_lines),
        cmocka_unit_test(test_imap_date),
        cmocka_unit_test(test_imap_responses),
        cmocka_unit_test(test_subjects),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_parse_multipart),
        cmocka_unit_test(test_parse_html_only_and_odd),
        cmocka_unit_test(test_compose_reads_back),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_folder_mutf7),
        cmocka_unit_test(test_event_data_bounded),
        cmocka_unit_test(test_long_message_id_hashed),
        cmocka_unit_test(test_send_text_needs_a_sending_mailbox),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
