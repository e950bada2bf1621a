/*
 * store.h — the one storage interface. Every SQL statement of Smile goes through these
 * functions; the SQLite driver (store_sqlite.c) is the only file that includes sqlite3.h,
 * and a PostgreSQL driver will be a second file behind the same interface.
 *
 * SQL is written once in the subset SQLite and PostgreSQL share, with numbered
 * parameters $1, $2 … each first used in order. Times are INTEGER milliseconds UTC.
 *
 * Threads: a struct store is one connection, used by one thread at a time. The server
 * keeps a struct store_pool and hands each request a connection for its duration.
 * Prepared statements are cached per connection, keyed by the SQL string's address, so
 * callers pass string literals and never finalize: store_stmt_reset() returns the statement.
 */
#ifndef SMILE_STORE_H
#define SMILE_STORE_H

#include "base/base.h"

#include <jansson.h>

struct store;
struct store_stmt;
struct store_pool;

/* Results of store_stmt_step() beyond the smile_result codes. */
#define STORE_ROW 100
#define STORE_DONE 101

enum store_type { STORE_NULL, STORE_INT, STORE_REAL, STORE_TEXT, STORE_BLOB };

enum store_open_flags {
    STORE_CREATE = 1 << 0, /* create the file if absent */
};

/*
 * Opens the database at path ("data/smile.db"); WAL, foreign keys on, busy timeout set.
 * Does not migrate. SMILE_EIO/SMILE_EDB with a message on failure. Free with store_close().
 */
int store_open(const char *path, int flags, struct store **out, struct smile_err *err);
void store_close(struct store *s);

/*
 * Applies every embedded migration newer than the database's, each in its own
 * transaction, recording it in schema_migrations. A database whose version is newer than
 * the binary's is refused with SMILE_EVERSION and a message naming both versions.
 */
int store_migrate(struct store *s, struct smile_err *err);
/* Highest applied migration (0 for an empty database) and the binary's newest. */
int store_schema_version(struct store *s, int *out_db, int *out_binary, struct smile_err *err);

/* Runs SQL without parameters (one or more statements). */
int store_exec(struct store *s, const char *sql, struct smile_err *err);

/*
 * Returns the cached prepared statement for sql (compiling it on first use). The
 * statement belongs to the connection; release it with store_stmt_reset() when done.
 */
int store_prepare(struct store *s, const char *sql, struct store_stmt **out, struct smile_err *err);
void store_stmt_bind_int64(struct store_stmt *st, int idx, int64_t v);
void store_stmt_bind_double(struct store_stmt *st, int idx, double v);
/* Text is copied; len < 0 means NUL-terminated. NULL binds SQL NULL. */
void store_stmt_bind_text(struct store_stmt *st, int idx, const char *v, int64_t len);
void store_stmt_bind_blob(struct store_stmt *st, int idx, const void *v, size_t len);
void store_stmt_bind_null(struct store_stmt *st, int idx);
/* STORE_ROW, STORE_DONE, or an error (SMILE_ECONFLICT for a constraint, else SMILE_EDB). */
int store_stmt_step(struct store_stmt *st, struct smile_err *err);
int64_t store_stmt_int64(struct store_stmt *st, int col);
double store_stmt_double(struct store_stmt *st, int col);
/* Valid until the next step or reset; NULL for SQL NULL. */
const char *store_stmt_text(struct store_stmt *st, int col);
const void *store_stmt_blob(struct store_stmt *st, int col);
size_t store_stmt_bytes(struct store_stmt *st, int col);
enum store_type store_stmt_type(struct store_stmt *st, int col);
bool store_stmt_is_null(struct store_stmt *st, int col);
const char *store_stmt_column_name(struct store_stmt *st, int col);
int store_stmt_column_count(struct store_stmt *st);
/* Resets the statement and clears its bindings; safe on NULL. */
void store_stmt_reset(struct store_stmt *st);

/*
 * A column as a JSON value for API replies (store_json.c; new references): null for SQL
 * NULL, else the column's ms time as an RFC 3339 string, its integer, or its text.
 */
json_t *store_stmt_json_time(struct store_stmt *st, int col);
json_t *store_stmt_json_int(struct store_stmt *st, int col);
json_t *store_stmt_json_text(struct store_stmt *st, int col);

/* Convenience: prepare, bind nothing more, step once, read column 0 as int64. */
int store_query_int64(struct store *s, const char *sql, int64_t *out, struct smile_err *err);

/*
 * Transactions. store_begin() takes the write lock at once (BEGIN IMMEDIATE) so that a
 * transaction never fails half-way on a lock upgrade. Nesting is not supported.
 */
int store_begin(struct store *s, struct smile_err *err);
/* Commits and returns once the transaction is on disk (see store_commit_start). */
int store_commit(struct store *s, struct smile_err *err);
/*
 * store_commit() in two halves, for a caller that writes its next transaction while the
 * previous one is being synced (the ledger's committer): store_commit_start() ends the
 * caller's part of the group's transaction — committing it at once when nobody else is
 * in or about to enter it — and returns a ticket without waiting for the disk;
 * store_wait_durable(s, ticket) then returns once that COMMIT is done and synced (it may
 * be called from another thread; it touches only the group). Until then the rows are
 * visible to readers but must not be acknowledged. A standalone connection commits and
 * syncs in store_commit_start() and its ticket is 0.
 */
int store_commit_start(struct store *s, uint64_t *ticket, struct smile_err *err);
/*
 * store_begin for a large write that a long writer should make way for (the ledger's bulk
 * groups: an import's batches). While one waits for the pool's writer, store_bulk_waiting()
 * is true on every connection of the pool, and the runtime's fold ends its transaction
 * early to let it in. Outside a pool: store_begin, and always false.
 */
int store_begin_bulk(struct store *s, struct smile_err *err);
bool store_bulk_waiting(struct store *s);
int store_wait_durable(struct store *s, uint64_t ticket, struct smile_err *err);
void store_rollback(struct store *s);
bool store_in_tx(struct store *s);
/*
 * A read snapshot: the statements run until store_read_end() see one consistent state of
 * the database and share one WAL read lock instead of taking one each (a GET that checks
 * the session, reads a record and its children took three). store_begin() ends an open
 * snapshot first, so a handler may still write. Only reads may run on the connection while
 * it is open. store_read_begin() is a no-op inside a transaction; SMILE_EDB if BEGIN fails.
 */
int store_read_begin(struct store *s);
void store_read_end(struct store *s);
/* Rows changed by the last INSERT/UPDATE/DELETE on this connection. */
int64_t store_changes(struct store *s);
/*
 * The rowid of the last row inserted on this connection (the INTEGER PRIMARY KEY of a
 * table that has one); unchanged by an INSERT that inserted nothing (ON CONFLICT DO
 * NOTHING), so read it only when store_changes() says a row was written.
 */
int64_t store_last_insert_id(struct store *s);

/* Online backup of the whole database to a new file at path (SQLite backup API). */
int store_backup(struct store *s, const char *path, struct smile_err *err);

/* The driver's name ("sqlite") and library version, for /metrics and `smile version`. */
const char *store_driver_name(void);
const char *store_driver_version(void);

/* Pool ------------------------------------------------------------------------------- */

/* Opens n connections to path (already migrated). */
int store_pool_open(const char *path, int n, struct store_pool **out, struct smile_err *err);
void store_pool_close(struct store_pool *p);
/* Blocks until a connection is free. */
struct store *store_pool_acquire(struct store_pool *p);
void store_pool_release(struct store_pool *p, struct store *s);
/*
 * Opens a connection of the caller's own (not lent out by acquire) that writes through p's
 * group like the pooled ones, so that a background worker's transactions share the
 * requests' group commits — one fsync for both — instead of fighting them for SQLite's file
 * lock. Close it with store_close() before store_pool_close(p).
 */
int store_pool_open_member(struct store_pool *p, struct store **out, struct smile_err *err);
/*
 * Makes store_commit_start() on s commit the group's open generation at once, even while
 * others wait to enter the writer (they start the next one). For a caller that is a group
 * commit of its own and answers nobody before its sync — the ledger's committer: left
 * open, its generation would take in the next writer's whole transaction (the runtime's
 * fold, up to 20 ms) before committing, and every request of the group would wait for it.
 */
void store_set_commit_eager(struct store *s, bool eager);
/*
 * Marks s as a long writer (the runtime's fold: batches of up to 20 ms): store_begin() on it
 * first commits a generation that others have released into and left open, so that their
 * sync — and their requests' answers — do not wait for its whole transaction.
 */
void store_set_long_writer(struct store *s, bool long_writer);

/* The group commit's counters since the pool opened, for /metrics. */
struct store_pool_stats {
    uint64_t commits;  /* group transactions committed */
    uint64_t members;  /* callers' transactions they carried */
    uint64_t syncs;    /* fdatasync calls of the WAL outside COMMIT (0 under FULL) */
    uint64_t sync_ns;  /* time spent in them */
    bool sync_outside; /* the writer runs synchronous=NORMAL and the group syncs */
};
void store_pool_stats(struct store_pool *p, struct store_pool_stats *out);

#endif
