/*
 * mail_int.h — shared between the mail part's own files (parse.c, imap.c, smtp.c,
 * store.c) and nobody else: a mailbox row as C, URL checks, the state update of a poll.
 */
#ifndef SMILE_MAIL_INT_H
#define SMILE_MAIL_INT_H

#include "mail/mail.h"

/* One mailboxes row; strings owned (mail_mbox_free), NULL for SQL NULL. */
struct mail_mbox {
    int64_t id;
    char *name, *imap_url, *username, *password, *smtp_url, *smtp_username, *smtp_password;
    char *from_address, *from_name, *case_type, *tag_prefix, *last_error;
    int64_t team_id, poll_seconds, max_bytes, uidvalidity, last_uid, last_poll_at, last_ok_at;
    int64_t imported, version, created_at, updated_at;
    bool active, import_existing;
};

/* Loads the live mailbox id; SMILE_ENOTFOUND if absent or deleted. */
int mail_mbox_load(struct store *s, int64_t id, struct mail_mbox *mb, struct smile_err *err);
void mail_mbox_free(struct mail_mbox *mb);

/*
 * Moves the folder state (inside the caller's transaction): uidvalidity, last_uid (never
 * backwards), imported += imported.
 */
int mail_mbox_state(struct store *s, int64_t id, int64_t uidvalidity, int64_t last_uid,
                    int imported, struct smile_err *err);

/* A mail server URL taken apart: scheme, host, port, folder (decoded), TLS mode. */
struct mail_url {
    char *scheme; /* "imap", "imaps", "smtp", "smtps" */
    char *host;
    long port;
    char *folder;      /* IMAP: decoded folder name ("INBOX" if none); SMTP: NULL */
    char *folder_wire; /* the same in modified UTF-7, as IMAP commands name it */
    char *base;        /* scheme://host:port/ */
    bool tls;          /* implicit TLS (imaps, smtps) */
    bool loopback;
};

/*
 * Checks url for kind "imap" (imap:// or imaps://host[:port][/FOLDER]) or "smtp"
 * (smtp:// or smtps://host[:port]): no credentials, query or fragment in it.
 * SMILE_EINVAL with the reason in err->msg.
 */
int mail_url_parse(const char *url, const char *kind, struct mail_url *out, struct smile_err *err);
void mail_url_free(struct mail_url *u);

/* Appends a UTF-8 folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3). */
void mail_folder_mutf7(const char *utf8, struct buf *out);

/* curl_global_init once (thread-safe). */
void mail_curl_init(void);

/* IMAP IDLE watchers (idle.c) ----------------------------------------------------------- */

enum mail_idle_state {
    MAIL_IDLE_OFF,         /* no watcher */
    MAIL_IDLE_CONNECTING,  /* connecting, logging in, selecting */
    MAIL_IDLE_ACTIVE,      /* waiting in IDLE: new mail is noticed at once */
    MAIL_IDLE_UNSUPPORTED, /* the server has no IDLE: polled only (the thread has ended) */
    MAIL_IDLE_FAILED,      /* connection lost or refused: polled only, reconnecting */
};

/* Called from a watcher's thread when the folder may hold new mail. */
typedef void mail_idle_kick_fn(void *ud, int64_t mailbox_id);

struct mail_idle;
/*
 * Starts a thread keeping a connection to mb's folder in IDLE (credentials copied; mb
 * may be freed). kick(ud, id) is called on "* n EXISTS" and after each (re-)entry into
 * IDLE. Stop with mail_idle_stop (leaves IDLE with DONE and logs out, waiting 1 s at
 * most for each answer, then joins the thread; NULL is a no-op).
 */
int mail_idle_start(const struct mail_mbox *mb, mail_idle_kick_fn *kick, void *ud,
                    struct mail_idle **out, struct smile_err *err);
/* Tells the watcher to stop without waiting (mail_idle_stop then joins it quickly). */
void mail_idle_signal(struct mail_idle *w);
void mail_idle_stop(struct mail_idle *w);
enum mail_idle_state mail_idle_state(const struct mail_idle *w);
/* The mailbox version the watcher was started with (a PATCH restarts it). */
int64_t mail_idle_version(const struct mail_idle *w);

#endif
