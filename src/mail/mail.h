/*
 * mail.h — the mail part: customer e-mail in and out. Admins connect mailboxes (table
 * mailboxes); a poller thread in `smile serve` fetches each new message of a mailbox's
 * IMAP folder once (UIDVALIDITY + last UID remembered), parses it with GMime, threads it
 * (case tag in the subject, In-Reply-To, References), opens or updates the thread's case,
 * logs an inbound e-mail interaction and appends `email.received` — all in one
 * transaction. Replies written in Smile go out over SMTP and, once the server accepted
 * them, are recorded as an outbound interaction, `case.replied` and `email.sent`.
 *
 * Flow: IMAP (imap.c) → mail_parse (parse.c, pure) → mail_import_message (store.c, one
 * transaction: mail_messages, mail_threads, CRM case + interaction, ledger) → runtime.
 *       POST /api/v1/cases/{id}/reply → mail_reply (store.c) → mail_smtp_send (smtp.c)
 *       → one transaction → runtime.
 * Owner of the mailboxes, mail_threads and mail_messages tables. See docs/mail.md.
 */
#ifndef SMILE_MAIL_H
#define SMILE_MAIL_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct ledger;
struct crm_ctx;

/* Parsing (parse.c: pure, no I/O, no clock) ------------------------------------------- */

#define MAIL_MAX_REFS 32        /* References kept (the newest ones) */
#define MAIL_MAX_ATTACHMENTS 50 /* attachments listed */
#define MAIL_MAX_TEXT 100000    /* code points of the text body kept */
#define MAIL_MAX_SUBJECT 200    /* code points of the subject kept */
#define MAIL_MAX_MSGID 190      /* bytes of a Message-ID kept (longer ones are hashed) */

/*
 * A parsed message. Every string is owned (free with mail_parsed_free), valid UTF-8 and
 * NUL-terminated; absent ones are "" (never NULL). Message-IDs are without angle brackets.
 */
struct mail_parsed {
    char *message_id;  /* "" if the message has none */
    char *in_reply_to; /* the first id of In-Reply-To, or "" */
    char *refs[MAIL_MAX_REFS];
    int nrefs;
    char *from_addr; /* sender address as written (lower-cased domain), "" if none */
    char *from_name;
    char *reply_to;  /* Reply-To address, "" if none */
    json_t *to;      /* array of addresses (To and Cc), at most 20 */
    char *subject;   /* decoded, one line (control characters → spaces), ≤ MAIL_MAX_SUBJECT */
    int64_t date_ms; /* the Date: header, 0 if absent or unreadable (not trusted for timing) */
    char *text;      /* text/plain body (else text/html stripped of tags), UTF-8, LF lines */
    bool text_truncated;
    bool text_from_html;
    json_t *attachments; /* [{"name", "type", "size"}] (size: decoded bytes) */
    int nattachments;    /* all attachments, also those beyond MAIL_MAX_ATTACHMENTS */
    size_t size;         /* bytes of the raw message */
    /*
     * Why the message looks machine-made, "" if it does not (RFC 3834 Auto-Submitted other
     * than "no" → "auto-submitted"; X-Autoreply / X-Autorespond → "auto-replied";
     * Precedence bulk, junk or list → "bulk"; a multipart/report or a sender named
     * mailer-daemon or postmaster → "bounce"). Such mail starts no reply clock.
     */
    char auto_kind[16];
};

/* Initialises GMime once (thread-safe; every entry point of this part calls it). */
void mail_init(void);

/*
 * Parses a raw RFC 5322 message (len bytes). Decodes RFC 2047 headers, MIME parts,
 * transfer encodings and charsets (GB2312 / GBK are read as GB18030, their superset;
 * undeclared 8-bit text is taken as UTF-8 if it is valid, else GB18030; bytes that still
 * do not convert become U+FFFD). Text prefers the first text/plain part not marked as an
 * attachment; attachments are listed by name, type and size, never kept. Only bytes that
 * are not a message at all (no header) are SMILE_EINVAL. *out is zeroed first; free it
 * with mail_parsed_free (also after an error).
 */
int mail_parse(const char *data, size_t len, struct mail_parsed *out, struct smile_err *err);
void mail_parsed_free(struct mail_parsed *m);

/*
 * Converts len bytes in charset (NULL or "" = undeclared) to UTF-8 appended to out,
 * with the fallbacks described at mail_parse. Returns the number of bytes replaced by
 * U+FFFD (0 = a clean conversion).
 */
size_t mail_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

/*
 * The case id of a tag "<prefix><digits>]" in subject ("[SR-42]" with prefix "[SR-"),
 * the first one found; 0 if none (or the number is 0 or over 2^53).
 */
int64_t mail_subject_tag(const char *subject, const char *prefix);

/*
 * The subject without reply and forward prefixes ("Re:", "RE[2]:", "Fwd:", "FW:", "回复:",
 * "答复:", "转发:", full-width colons too), repeated, and without surrounding spaces;
 * written into out (cap bytes, NUL-terminated).
 */
void mail_subject_base(const char *subject, char *out, size_t cap);

/*
 * The ledger subject of a thread: "thread:<root>" if it fits the ledger's 200
 * characters, else "thread:h<16 hex digits of a 64-bit FNV-1a hash of root>". out has
 * at least 210 bytes.
 */
void mail_thread_subject(const char *root, char *out, size_t cap);

/*
 * The data object of an email.received / email.sent event for m (new reference): from,
 * from_name, to, subject, message_id, in_reply_to, attachments, size, and what the caller
 * adds. Always within the ledger's 16 KiB (long lists are cut).
 */
json_t *mail_event_data(const struct mail_parsed *m);

/* IMAP protocol helpers (imap.c, pure) ---------------------------------------------- */

/* Parses an IMAP date-time "29-Nov-2026 09:00:00 +0800" (day may be space-padded). */
int mail_imap_date_parse(const char *s, size_t len, int64_t *out_ms);

/* Reads UIDVALIDITY and UIDNEXT from a STATUS or SELECT response text; -1 if absent. */
void mail_imap_status_parse(const char *text, int64_t *uidvalidity, int64_t *uidnext);

struct mail_imap_item {
    int64_t uid;
    int64_t internaldate; /* ms, 0 if absent */
    int64_t size;         /* RFC822.SIZE, -1 if absent */
};

/*
 * Parses the untagged "* n FETCH (UID u INTERNALDATE "…" RFC822.SIZE s)" lines of a
 * response into items (up to max, in the order seen); returns how many.
 */
int mail_imap_fetch_parse(const char *text, struct mail_imap_item *items, int max);

/* IMAP IDLE helpers (idle.c, pure) ------------------------------------------------------ */

/* True if the CAPABILITY response text lists cap (as a whole word, any case). */
bool mail_imap_has_capability(const char *text, const char *cap);

enum mail_idle_line {
    MAIL_IDLE_OTHER,    /* anything else (EXPUNGE, FETCH flags, RECENT, OK …) */
    MAIL_IDLE_CONTINUE, /* "+ idling": the server is in IDLE */
    MAIL_IDLE_EXISTS,   /* "* n EXISTS": the folder has n messages (new mail) */
    MAIL_IDLE_BYE,      /* "* BYE …": the server closes the connection */
};

/* What one response line (without CRLF) received while idling means. */
enum mail_idle_line mail_imap_idle_line(const char *line);

/*
 * The push state of a mailbox in this process (idle.c): "idle" (its IDLE connection is
 * waiting: new mail is imported at once), "connecting", "unsupported" (the server has no
 * IDLE: polled only), "failed" (connection lost or refused: polled, reconnecting) or "off"
 * (no watcher: inactive, deleted, or no poller running). Thread-safe; a static string.
 */
const char *mail_push_state(int64_t mailbox_id);
/* How long a watcher stays in one IDLE before renewing it (config mail_idle_renew; call
 * before mail_poller_start). */
void mail_idle_set_renew(int64_t seconds);

/* Mailboxes (store.c) ---------------------------------------------------------------- */

/*
 * CRUD of mailboxes as API JSON. Input fields: name, imap_url (imap:// or imaps://
 * host[:port]/FOLDER), username, password (write-only), smtp_url (smtp:// or smtps://,
 * optional), smtp_username, smtp_password (write-only; default: the IMAP ones),
 * from_address, from_name, team_id, case_type, tag_prefix, active, poll_seconds (10 …
 * 86400), import_existing, max_bytes. Output adds id, version, has_password,
 * uidvalidity, last_uid, last_poll_at, last_ok_at, last_error, imported, created_at,
 * updated_at; passwords are never rendered. All problems are reported at once
 * (SMILE_EINVAL with JSON Pointers); a duplicate name is SMILE_ECONFLICT. Each runs in
 * its own transaction on s and writes an audit row (passwords shown as "***").
 */
int mail_mailbox_create(struct crm_ctx *c, const json_t *in, json_t **out, struct smile_err *err);
int mail_mailbox_get(struct store *s, int64_t id, json_t **out, struct smile_err *err);
int mail_mailbox_list(struct store *s, json_t **out, struct smile_err *err);
/* Merge-patch update; if_version must equal the current version (else SMILE_EPRECOND). */
int mail_mailbox_update(struct crm_ctx *c, int64_t id, int64_t if_version, const json_t *patch,
                        json_t **out, struct smile_err *err);
/* Soft delete (the poller stops, threads and messages stay). */
int mail_mailbox_delete(struct crm_ctx *c, int64_t id, int64_t if_version, struct smile_err *err);

/* Importing (store.c) ----------------------------------------------------------------- */

/* Where a message came from, and what happened to it. */
struct mail_origin {
    int64_t mailbox_id;
    int64_t uidvalidity; /* 0 = not from IMAP (tests, future LMTP) */
    int64_t uid;
    int64_t received_at; /* our receipt time: IMAP INTERNALDATE, ms */
};

enum mail_import_outcome {
    MAIL_IMPORTED_NEW,      /* a new thread: a case was opened */
    MAIL_IMPORTED_REPLY,    /* attached to the thread's case */
    MAIL_IMPORTED_FOLLOWUP, /* the thread's case was closed: a follow-up case was opened */
    MAIL_DUPLICATE,         /* its Message-ID was imported before: nothing written */
    MAIL_SKIPPED,           /* received before the mailbox was connected (import_existing off) */
    MAIL_IMPORTED_AUTO,     /* machine-made (auto-reply, bounce, bulk): logged, no clock, no case */
};

struct mail_import_result {
    enum mail_import_outcome outcome;
    int64_t case_id, interaction_id, event_id, customer_id;
    char thread[256];
};

/*
 * Imports one raw message of a mailbox in one transaction on s: the mail_messages row,
 * the thread, the case (opened, reopened, resumed or a follow-up), the inbound
 * interaction (whose case.replied by the customer resumes a pending clock), the
 * email.received event (occurred_at = o->received_at, subject "thread:<root>", source
 * "imap:<mailbox id>", source_id the Message-ID or "uid:<uidvalidity>:<uid>") and, when
 * o->uid > 0, the mailbox's last UID — so a crash loses or repeats nothing. After the
 * commit the ledger (may be NULL) is notified of the event. now_ms stamps the records.
 * Bytes that are not a message at all: SMILE_EMALFORMED, nothing written. Any other error
 * (storage, a CRM check) rolls everything back; the poller stops and retries later.
 */
int mail_import_message(struct store *s, struct ledger *l, const struct mail_origin *o,
                        const char *raw, size_t len, int64_t now_ms, struct mail_import_result *out,
                        struct smile_err *err);

/* Polling (imap.c) ------------------------------------------------------------------- */

struct mail_poll_result {
    int imported, duplicates, skipped, failed, automatic;
    int64_t uidvalidity, last_uid;
};

/*
 * Polls mailbox id once now: STATUS for UIDVALIDITY/UIDNEXT, UID FETCH of INTERNALDATE
 * and size for the new UIDs, then each message by UID (URL ;UID=n), imported one by one
 * (mail_import_message). A UIDVALIDITY change restarts from UID 1 (Message-IDs keep it
 * from importing anything twice). Records last_poll_at / last_ok_at / last_error on the
 * mailbox. Polls of one mailbox never overlap (a per-mailbox lock; SMILE_EBUSY if one
 * runs). SMILE_EIO with the server's words on a connection or login failure.
 */
int mail_poll_mailbox(struct store *s, struct ledger *l, int64_t id, struct mail_poll_result *out,
                      struct smile_err *err);

struct mail_poller;
/*
 * Starts the poller thread of `smile serve`: once a second it polls every active mailbox
 * whose poll_seconds have passed since its last poll, on its own connection to db_path.
 * Stop with mail_poller_stop (NULL is a no-op).
 */
/*
 * Registers the mail part's hooks into the CRM (call once at start-up, before serving):
 * anonymising a customer erases the sender, reply-to, copies and subject kept in
 * mail_messages for the customer's cases and interactions, in the same transaction.
 */
void mail_install(void);

int mail_poller_start(const char *db_path, struct ledger *l, struct mail_poller **out,
                      struct smile_err *err);
void mail_poller_stop(struct mail_poller *p);

/* Sending (smtp.c) ---------------------------------------------------------------------- */

/* An SMTP server: url smtp://host[:port] (STARTTLS unless the host is loopback) or smtps://. */
struct mail_smtp {
    const char *url;
    const char *username; /* NULL or "" = no AUTH */
    const char *password;
    long timeout_ms; /* 0 = 30 s */
};

/*
 * Sends msg (len bytes, a complete RFC 5322 message with CRLF or LF line ends) from
 * envelope sender from to the nrcpt addresses in rcpt. Returns SMILE_OK only when the
 * server accepted the message (250 after DATA); otherwise SMILE_EIO with curl's and the
 * server's words in err. Safe from any thread. For notifications and replies alike.
 */
int mail_smtp_send(const struct mail_smtp *smtp, const char *from, const char *const *rcpt,
                   size_t nrcpt, const char *msg, size_t len, struct smile_err *err);

/* What a reply is built from (all strings UTF-8; NULL = absent). */
struct mail_compose {
    const char *from_address, *from_name;
    const char *const *to;
    size_t nto;
    const char *const *cc;
    size_t ncc;
    const char *subject;
    const char *body;       /* plain text */
    const char *message_id; /* ours, without angle brackets */
    const char *in_reply_to;
    const char *const *refs; /* References, oldest first */
    size_t nrefs;
    int64_t date_ms;
    /* RFC 3834 Auto-Submitted: NULL = "no" (a person's reply); "auto-generated" for
     * notifications, so that out-of-office robots do not answer them. */
    const char *auto_submitted;
};

/*
 * Builds the message with GMime: From, To, Cc, Subject (RFC 2047 when not ASCII),
 * Date, Message-ID, In-Reply-To, References, MIME-Version, a text/plain UTF-8 body with
 * the transfer encoding GMime finds best. Appends it to out (CRLF line ends).
 */
void mail_compose_build(const struct mail_compose *m, struct buf *out);

/*
 * A new Message-ID "smile.<case>.<random hex>@<domain of from_address>" (without angle
 * brackets) into out (cap ≥ 128).
 */
void mail_message_id_new(int64_t case_id, const char *from_address, char *out, size_t cap);

/*
 * Sends a plain-text message from a mailbox's SMTP server, for other parts (notifications,
 * escalations): From the mailbox's name and address, a new Message-ID, Auto-Submitted:
 * auto-generated, nothing recorded in Smile. mailbox_id 0 = the first live mailbox with
 * an SMTP server (SMILE_ENOTFOUND if there is none). Results as mail_smtp_send; the
 * Message-ID sent (without brackets) into msgid_out if not NULL (cap ≥ 128).
 */
int mail_send_text(struct store *s, int64_t mailbox_id, const char *const *to, size_t nto,
                   const char *subject, const char *body, char *msgid_out, size_t cap,
                   struct smile_err *err);

/*
 * Replies to case case_id by e-mail as c's caller. body: {"body" (required), "to"
 * (addresses; default the thread's last customer address, else the case customer's
 * first e-mail), "cc", "subject" (default "Re: <thread subject>"), "mailbox_id" (default
 * the thread's mailbox, else the only active one), "status" ("pending" or "resolved":
 * also change the case)}. Sends first (SMTP); only when the server accepted it, one
 * transaction records the outbound interaction (→ case.replied by staff), the
 * mail_messages row and email.sent on the thread (actor: the caller), and the status
 * change. SMTP failure: SMILE_EIO and nothing written. *out: {"interaction", "message_id",
 * "thread", "to", "sent_at", "case"}.
 */
int mail_reply(struct crm_ctx *c, struct ledger *l, int64_t case_id, const json_t *body,
               json_t **out, struct smile_err *err);

#endif
