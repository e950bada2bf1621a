/*
 * fuzz_mail.c — fuzz target for the mail part's parsing and its mapping to event fields:
 * the bytes are parsed as a message (GMime + Smile's charset handling), then threaded
 * (case tag, base subject, thread subject) and mapped to the email.received data, which
 * must always be canonical JSON within the ledger's limits; the same bytes are also read
 * as IMAP responses (STATUS, FETCH, INTERNALDATE) and as text in an unknown charset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "mail/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mail_parsed m;
    struct smile_err err;
    struct mail_imap_item items[16];
    char base[256], subj[256], *text, *canon;
    int64_t a, b;
    json_t *d;
    struct buf out;

    smile_err_clear(&err);
    if (mail_parse((const char *)data, size, &m, &err) == SMILE_OK) {
        mail_subject_tag(m.subject, "[SR-");
        mail_subject_base(m.subject, base, sizeof(base));
        mail_thread_subject(m.message_id[0] ? m.message_id : "x@y", subj, sizeof(subj));
        d = mail_event_data(&m);
        canon = ledger_data_canonical(d);
        if (canon == NULL) /* the mapping must stay within the ledger's 16 KiB */
            abort();
        free(canon);
        json_decref(d);
        if (strlen(subj) > 7 * 4 + 200 * 4)
            abort();
    }
    mail_parsed_free(&m);
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    mail_imap_status_parse(text, &a, &b);
    mail_imap_fetch_parse(text, items, 16);
    mail_imap_date_parse(text, strlen(text) < 60 ? strlen(text) : 60, &a);
    buf_init(&out, 0);
    mail_to_utf8(size > 0 && data[0] & 1 ? "gb2312" : NULL, (const char *)data, size, &out);
    buf_free(&out);
    free(text);
    return 0;
}
