/*
 * staff.h — the people who use Smile: staff accounts (users) and the teams they work in.
 * Owner of the users and teams tables. Validates every field (reporting the JSON Pointer
 * of each bad one), keeps a version per record for If-Match, and audits every change.
 * Password hashing lives in http/auth.c; this part only stores the hash it is given and
 * never hands it out except through staff_user_credentials().
 *
 * Transactions: each writing function runs in the caller's transaction when one is open
 * (store_in_tx), otherwise in its own. Nothing is written when a function fails.
 */
#ifndef SMILE_STAFF_H
#define SMILE_STAFF_H

#include <jansson.h>

#include "base/base.h"

struct store;
struct audit_who;

#define STAFF_NAME_MAX 64     /* usernames and team names */
#define STAFF_DISPLAY_MAX 200 /* bytes of UTF-8 */
#define STAFF_EMAIL_MAX 254
#define STAFF_HASH_MAX 256 /* an encoded password hash ($argon2id$…) */

struct staff_user {
    int64_t id;
    char username[STAFF_NAME_MAX + 1];
    char display_name[STAFF_DISPLAY_MAX + 1];
    char role[16];                   /* "agent", "supervisor" or "admin" */
    int64_t team_id;                 /* 0 = none */
    char team[STAFF_NAME_MAX + 1];   /* the team's name, "" if none */
    char email[STAFF_EMAIL_MAX + 1]; /* "" = none */
    char locale[8];                  /* "en", "zh-CN" or "" (not chosen) */
    bool disabled;
    int64_t version;
    int64_t created_at, updated_at;
};

struct staff_team {
    int64_t id;
    char name[STAFF_NAME_MAX + 1];
    char display_name[STAFF_DISPLAY_MAX + 1];
    int64_t supervisor_id; /* 0 = none */
    int64_t version;
    int64_t created_at, updated_at;
};

/* 1–64 bytes of [a-z0-9._-]: the rule for usernames and team names. */
bool staff_name_valid(const char *s);
/* "agent", "supervisor" or "admin". */
bool staff_role_valid(const char *s);
/* "en" or "zh-CN". */
bool staff_locale_valid(const char *s);

/* Users --------------------------------------------------------------------------------- */

/* Reads a user by id or by username. SMILE_ENOTFOUND if absent. */
int staff_user_get(struct store *db, int64_t id, struct staff_user *out, struct smile_err *err);
int staff_user_find(struct store *db, const char *username, struct staff_user *out,
                    struct smile_err *err);
/*
 * For signing in only: the user id, encoded password hash (NUL-terminated, into hash of
 * STAFF_HASH_MAX + 1 bytes; "" when the user has no password) and disabled flag.
 * SMILE_ENOTFOUND if there is no such user.
 */
int staff_user_credentials(struct store *db, const char *username, int64_t *out_id, char *hash,
                           bool *out_disabled, struct smile_err *err);
/* Number of users (disabled included). */
int staff_user_count(struct store *db, int64_t *out, struct smile_err *err);

/*
 * Creates a user from a JSON object with username (required), role (required), team_id
 * (integer or null), display_name, email (string or null), locale. Unknown fields and
 * bad values are SMILE_EINVAL with one field error each ("/username" …); a username in
 * use is SMILE_ECONFLICT. password_hash is stored as given (NULL = cannot sign in).
 * The audit row never contains the hash. The new record is written to out.
 */
int staff_user_create(struct store *db, const struct audit_who *who, const json_t *in,
                      const char *password_hash, struct staff_user *out, struct smile_err *err);
/*
 * Applies a JSON patch (role, team_id, display_name, email, locale, disabled; unknown
 * fields are refused) to user id if its version is still expected_version
 * (SMILE_EPRECOND otherwise; expected_version 0 skips the check). A patch that changes
 * nothing still succeeds without a new version. out receives the record after.
 */
int staff_user_update(struct store *db, const struct audit_who *who, int64_t id,
                      int64_t expected_version, const json_t *patch, struct staff_user *out,
                      struct smile_err *err);
/* Replaces the password hash (bumps the version, audits "password" without the hash). */
int staff_user_password_set(struct store *db, const struct audit_who *who, int64_t id,
                            const char *password_hash, struct smile_err *err);

struct staff_user_filter {
    int64_t team_id;  /* 0 = any */
    const char *role; /* NULL = any */
    int64_t after_id; /* cursor: ids greater than this */
    int limit;
};
/*
 * Lists users in id order matching the filter; *out is a new JSON array of user objects
 * (caller json_decref's it) and *out_next the cursor of the next page (0 = no more).
 */
int staff_user_list(struct store *db, const struct staff_user_filter *f, json_t **out,
                    int64_t *out_next, struct smile_err *err);
/* The public JSON form of a user (never the password hash). New reference. */
json_t *staff_user_json(const struct staff_user *u);

/* Teams --------------------------------------------------------------------------------- */

int staff_team_get(struct store *db, int64_t id, struct staff_team *out, struct smile_err *err);
int staff_team_find(struct store *db, const char *name, struct staff_team *out,
                    struct smile_err *err);
/* Creates a team from {name (required), display_name, supervisor_id}; 409 on a taken name. */
int staff_team_create(struct store *db, const struct audit_who *who, const json_t *in,
                      struct staff_team *out, struct smile_err *err);
/* Patches display_name and supervisor_id (name too) under the same rules as users. */
int staff_team_update(struct store *db, const struct audit_who *who, int64_t id,
                      int64_t expected_version, const json_t *patch, struct staff_team *out,
                      struct smile_err *err);
/* All teams in id order, paged like users; *out is a new JSON array. */
int staff_team_list(struct store *db, int64_t after_id, int limit, json_t **out, int64_t *out_next,
                    struct smile_err *err);
json_t *staff_team_json(const struct staff_team *t);

#endif
