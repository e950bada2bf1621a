/*
 * bench_crm.c — the CRM record layer against its ceiling. Creates N customers through
 * crm_record_create() (validation, phone normalisation, reference check, insert, contact
 * rows, audit row, one transaction each) and, as the ceiling, N bare INSERTs of the same
 * row through the store, one transaction each; then pages through all of them with
 * crm_record_list() (100 a page, rendered to JSON with masking) against a bare SELECT of
 * the same rows. Prints each rate and its ratio to the ceiling. With "nosync" both sides
 * run with synchronous=OFF, which shows the CPU cost without the fsync per commit.
 * Usage: bench_crm [N [nosync]]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crm/crm.h"
#include "http/http.h"
#include "runtime/runtime.h"
#include "store/store.h"

static double
secs(int64_t t0)
{
    return (double)(time_mono_ns() - t0) / 1e9;
}

static const char *
no_query(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/smile-bench-XXXXXX", path[64];
    struct store *db;
    struct smile_err err;
    struct http_auth who = {.user_id = 0};
    struct crm_ctx c;
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
    int64_t t0, id;
    double t_crm, t_raw, t_list, t_sel, t_case;
    long seen = 0, rows = 0, bytes = 0;

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 2;
    snprintf(path, sizeof(path), "%s/b.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK) {
        fprintf(stderr, "bench_crm: %s\n", err.msg);
        return 1;
    }
    if (argc > 2 && strcmp(argv[2], "nosync") == 0 &&
        store_exec(db, "PRAGMA synchronous=OFF", &err) != SMILE_OK)
        return 1;
    c = (struct crm_ctx){
        .db = db, .actor = &who, .request_id = "bench", .address = "", .now_ms = time_now_ms()};

    t0 = time_mono_ns();
    for (long i = 0; i < n; i++) {
        char phone[32];
        json_t *body, *out;

        snprintf(phone, sizeof(phone), "+86 138-%04ld-%04ld", i / 10000, i % 10000);
        body = json_pack("{s:s, s:s, s:[s], s:[s], s:s, s:[s]}", "kind", "person", "name", "张伟",
                         "phones", phone, "emails", "zhang.wei@Example.com", "id_number",
                         "11010519491231002X", "tags", "vip");
        if (crm_record_create(&c, &crm_customers, body, &id, &out, &err) != SMILE_OK) {
            fprintf(stderr, "bench_crm: create: %s\n", err.msg);
            return 1;
        }
        json_decref(body);
        json_decref(out);
    }
    t_crm = secs(t0);

    t0 = time_mono_ns();
    for (long i = 0; i < n; i++) {
        static const char sql[] =
            "INSERT INTO customers (kind, name, phones, emails, id_number, tags, version, "
            "created_at, updated_at) VALUES ('person', $1, $2, $3, $4, $5, 1, $6, $6)";
        struct store_stmt *st;
        char phones[40];

        snprintf(phones, sizeof(phones), "[\"138%04ld%04ld\"]", i / 10000, i % 10000);
        if (store_begin(db, &err) != SMILE_OK || store_prepare(db, sql, &st, &err) != SMILE_OK)
            return 1;
        store_stmt_bind_text(st, 1, "张伟", -1);
        store_stmt_bind_text(st, 2, phones, -1);
        store_stmt_bind_text(st, 3, "[\"zhang.wei@example.com\"]", -1);
        store_stmt_bind_text(st, 4, "11010519491231002X", -1);
        store_stmt_bind_text(st, 5, "[\"vip\"]", -1);
        store_stmt_bind_int64(st, 6, c.now_ms);
        if (store_stmt_step(st, &err) != STORE_DONE)
            return 1;
        store_stmt_reset(st);
        if (store_commit(db, &err) != SMILE_OK)
            return 1;
    }
    t_raw = secs(t0);

    /* Cases as POST /api/v1/cases makes them: record, audit, search row and the case.opened
     * event appended to the ledger in the same transaction (the runtime's CRM sink, with no
     * live ledger to notify). */
    runtime_crm_sink_install(NULL);
    t0 = time_mono_ns();
    for (long i = 0; i < n; i++) {
        json_t *body = json_pack("{s:s, s:s, s:I}", "type", "complaint", "subject",
                                 "漏水 water leak", "customer_id", (json_int_t)1);
        json_t *out;

        if (crm_record_create(&c, &crm_cases, body, &id, &out, &err) != SMILE_OK) {
            fprintf(stderr, "bench_crm: case: %s\n", err.msg);
            return 1;
        }
        json_decref(body);
        json_decref(out);
    }
    t_case = secs(t0);
    runtime_crm_sink_uninstall();

    /* Page through everything (2n rows), 100 at a time. */
    t0 = time_mono_ns();
    {
        struct crm_list_query q;
        int64_t after = 0;

        crm_list_query_parse(&crm_customers, no_query, NULL, &q, &err);
        q.limit = 100;
        for (;;) {
            json_t *out;
            const char *cur;

            q.after_id = after;
            if (crm_record_list(&c, &crm_customers, &q, &out, &err) != SMILE_OK)
                return 1;
            seen += (long)json_array_size(json_object_get(out, "items"));
            cur = json_string_value(json_object_get(out, "next_cursor"));
            if (cur == NULL || !crm_cursor_decode(cur, &after)) {
                json_decref(out);
                break;
            }
            json_decref(out);
        }
    }
    t_list = secs(t0);

    t0 = time_mono_ns();
    {
        static const char sql[] = "SELECT id, kind, name, phones, emails, birthday, id_number, "
                                  "address, tags, owner_id, notes, anonymised_at, version, "
                                  "created_at, updated_at FROM customers WHERE id < $1 AND "
                                  "deleted_at IS NULL ORDER BY id DESC LIMIT 100";
        int64_t after = 0;

        for (;;) {
            struct store_stmt *st;
            long k = 0;

            if (store_prepare(db, sql, &st, &err) != SMILE_OK)
                return 1;
            store_stmt_bind_int64(st, 1, after ? after : INT64_MAX);
            while (k < 100 && store_stmt_step(st, &err) == STORE_ROW) {
                /* Read every column, as the record layer must. */
                for (int col = 1; col < store_stmt_column_count(st); col++)
                    bytes += (long)store_stmt_bytes(st, col) + (store_stmt_text(st, col) != NULL);
                after = store_stmt_int64(st, 0);
                k++;
            }
            store_stmt_reset(st);
            rows += k;
            if (k < 100)
                break;
        }
    }
    t_sel = secs(t0);

    printf("crm create (validate+insert+contacts+audit, 1 tx each): %8.0f /s   ceiling bare "
           "insert 1 tx each: %8.0f /s   ratio %.2f\n",
           (double)n / t_crm, (double)n / t_raw, t_raw / t_crm);
    printf("case create (record+audit+search+case.opened event, 1 tx each): %8.0f /s "
           "(%.0f us each)\n",
           (double)n / t_case, 1e6 * t_case / (double)n);
    printf("crm list (100/page, JSON, masked): %10.0f rows/s   ceiling bare select: %10.0f "
           "rows/s   ratio %.2f   (%ld and %ld rows, %ld bytes)\n",
           (double)seen / t_list, (double)rows / t_sel, t_sel / t_list, seen, rows, bytes);
    store_close(db);
    unlink(path);
    {
        char p2[80];

        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
    }
    rmdir(dir);
    return 0;
}
