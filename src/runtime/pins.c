/*
 * pins.c — the stored version pins of instances (table instance_pins, owned by the runtime).
 * An instance is measured under the process version in force when its subject triggered the
 * process (engine_process_pick) unless an applied recompute re-pinned it to a chosen
 * published version: then the newest instance_pins row of (process, subject) names the
 * version, and every later fold of the subject — live, recompute, `smile rebuild` — uses it.
 * The recompute (src/recompute) adds the rows through runtime_pin_add() inside its
 * transaction; fold.c reads them (runtime_pins_load) and records the row it folded under in
 * instances.pin_id; the read API shows the history (runtime_pins_json). See
 * docs/recompute.md §5.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "store/store.h"

int
runtime_pin_add(struct store *s, const struct runtime_pin *p, int64_t *out_id,
                struct smile_err *err)
{
    static const char sql[] =
        "INSERT INTO instance_pins (process_id, subject, version, previous_version, run_id,"
        " reason, by_user, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, p->process_id);
    store_stmt_bind_text(st, 2, p->subject, -1);
    store_stmt_bind_int64(st, 3, p->version);
    store_stmt_bind_int64(st, 4, p->previous_version);
    store_stmt_bind_int64(st, 5, p->run_id);
    store_stmt_bind_text(st, 6, p->reason, -1);
    store_stmt_bind_text(st, 7, p->by, -1);
    store_stmt_bind_int64(st, 8, p->at);
    rc = store_stmt_step(st, err);
    if (rc == STORE_ROW) {
        if (out_id)
            *out_id = store_stmt_int64(st, 0);
        rc = SMILE_OK;
    }
    store_stmt_reset(st);
    return rc;
}

int
runtime_pins_load(struct store *s, const char *subject, struct runtime_pin_ref **out, size_t *nout,
                  struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, process_id, version FROM instance_pins WHERE subject = $1 ORDER BY id";
    struct store_stmt *st;
    struct runtime_pin_ref *v = NULL;
    size_t n = 0;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    *nout = 0;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n].id = store_stmt_int64(st, 0);
        v[n].process_id = store_stmt_int64(st, 1);
        v[n].version = (int)store_stmt_int64(st, 2);
        n++;
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        free(v);
        return rc;
    }
    *out = v;
    *nout = n;
    return SMILE_OK;
}

const struct runtime_pin_ref *
runtime_pin_find(const struct runtime_pin_ref *pins, size_t n, int64_t process_id)
{
    const struct runtime_pin_ref *best = NULL;

    for (size_t i = 0; i < n; i++)
        if (pins[i].process_id == process_id && (best == NULL || pins[i].id > best->id))
            best = &pins[i];
    return best;
}

int
runtime_pins_json(struct store *s, const char *subject, int64_t process_id, json_t **out,
                  struct smile_err *err)
{
    static const char sql[] =
        "SELECT id, version, previous_version, run_id, reason, by_user, created_at"
        " FROM instance_pins WHERE subject = $1 AND process_id = $2 ORDER BY id";
    struct store_stmt *st;
    json_t *a;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, subject, -1);
    store_stmt_bind_int64(st, 2, process_id);
    a = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        char at[TIME_RFC3339_LEN + 1];
        const char *reason = store_stmt_text(st, 4), *by = store_stmt_text(st, 5);

        time_format_rfc3339(store_stmt_int64(st, 6), at);
        json_array_append_new(a, json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:s}", "id",
                                           (json_int_t)store_stmt_int64(st, 0), "version",
                                           (json_int_t)store_stmt_int64(st, 1), "previous_version",
                                           (json_int_t)store_stmt_int64(st, 2), "run_id",
                                           (json_int_t)store_stmt_int64(st, 3), "reason",
                                           reason ? json_string(reason) : json_null(), "by",
                                           by ? json_string(by) : json_null(), "at", at));
    }
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return SMILE_OK;
}

int
runtime_pins_of_process(struct store *s, int64_t process_id, json_t **out, struct smile_err *err)
{
    static const char sql[] =
        "SELECT p.subject, p.version FROM instance_pins p WHERE p.process_id = $1 AND p.id = "
        "(SELECT max(q.id) FROM instance_pins q WHERE q.process_id = $1 AND q.subject = "
        "p.subject)";
    struct store_stmt *st;
    int rc = store_prepare(s, sql, &st, err);

    *out = NULL;
    if (rc != SMILE_OK)
        return rc;
    *out = json_object();
    store_stmt_bind_int64(st, 1, process_id);
    while ((rc = store_stmt_step(st, err)) == STORE_ROW)
        json_object_set_new(*out, store_stmt_text(st, 0), json_integer(store_stmt_int64(st, 1)));
    store_stmt_reset(st);
    if (rc != STORE_DONE) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    return SMILE_OK;
}
