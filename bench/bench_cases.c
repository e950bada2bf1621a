/*
 * bench_cases.c — CPU per operation of the record layer on the two hot API paths, in one
 * process (no HTTP, no other thread), so that a loaded machine does not spoil the figure:
 * CPU time of this process (CLOCK_PROCESS_CPUTIME_ID), not wall time.
 *   - case create as POST /api/v1/cases makes it (crm_record_create: validation, reference
 *     check, insert, search row, case.opened event through the runtime's CRM sink, audit
 *     row, one transaction each with synchronous=OFF: the CPU, not the disk), and the
 *     response dumped as http_reply_json does;
 *   - customer read as GET /api/v1/customers/{id} makes it: crm_record_get_text (the row
 *     straight to text), beside the tree path it replaced (crm_record_get, then
 *     http_json_dump of the tree, then freeing it), each in a read transaction as the
 *     router opens one for every GET, and the text path without it.
 * Usage: bench_cases [N]   (default 20000 cases, 200000 reads)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crm/crm.h"
#include "http/http.h"
#include "runtime/runtime.h"
#include "store/store.h"

static double
cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/smile-bench-XXXXXX", path[64];
    struct store *db;
    struct smile_err err;
    struct http_auth who = {.user_id = 1, .username = "bench", .token_id = 1};
    struct crm_ctx c;
    struct buf b;
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000, reads = n * 10;
    int64_t cust = 0, id = 0, version = 0;
    double t0, t_case, t_text, t_bare, t_tree;
    json_t *body, *out;

    if (n <= 0 || mkdtemp(dir) == NULL)
        return 2;
    snprintf(path, sizeof(path), "%s/b.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_WARN);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK ||
        store_exec(db, "PRAGMA synchronous=OFF", &err) != SMILE_OK ||
        store_exec(db,
                   "INSERT INTO users (id, username, role, created_at, updated_at) VALUES "
                   "(1, 'bench', 'admin', 0, 0)",
                   &err) != SMILE_OK) {
        fprintf(stderr, "bench_cases: %s\n", err.msg);
        return 1;
    }
    c = (struct crm_ctx){
        .db = db, .actor = &who, .request_id = "bench", .address = "", .now_ms = time_now_ms()};
    body = json_pack("{s:s, s:s, s:[s], s:[s], s:s, s:[s]}", "kind", "person", "name", "张伟",
                     "phones", "13812345678", "emails", "zhang.wei@example.com", "id_number",
                     "11010519491231002X", "tags", "vip");
    if (crm_record_create(&c, &crm_customers, body, &cust, &out, &err) != SMILE_OK) {
        fprintf(stderr, "bench_cases: customer: %s\n", err.msg);
        return 1;
    }
    json_decref(body);
    json_decref(out);

    /* The body cpu_per_request.py posts. */
    runtime_crm_sink_install(NULL);
    buf_init(&b, 0);
    t0 = cpu_s();
    for (long i = 0; i < n; i++) {
        body = json_pack("{s:s, s:s, s:I}", "type", "complaint", "subject", "漏水 water leak",
                         "customer_id", (json_int_t)cust);
        if (crm_record_create(&c, &crm_cases, body, &id, &out, &err) != SMILE_OK) {
            fprintf(stderr, "bench_cases: case: %s\n", err.msg);
            return 1;
        }
        buf_reset(&b);
        http_json_dump(&b, out);
        json_decref(body);
        json_decref(out);
    }
    t_case = cpu_s() - t0;
    runtime_crm_sink_uninstall();

    t0 = cpu_s();
    for (long i = 0; i < reads; i++) {
        store_read_begin(db);
        if (crm_record_get_text(&c, &crm_customers, cust, 0, &b, &version, &err) != SMILE_OK)
            return 1;
        store_read_end(db);
    }
    t_text = cpu_s() - t0;
    /* The same without the read transaction the router opens for every GET (BEGIN DEFERRED
     * and COMMIT through sqlite3_exec): the statement's own implicit one. */
    t0 = cpu_s();
    for (long i = 0; i < reads; i++)
        if (crm_record_get_text(&c, &crm_customers, cust, 0, &b, &version, &err) != SMILE_OK)
            return 1;
    t_bare = cpu_s() - t0;
    t0 = cpu_s();
    for (long i = 0; i < reads; i++) {
        store_read_begin(db);
        if (crm_record_get(&c, &crm_customers, cust, 0, &out, &err) != SMILE_OK)
            return 1;
        buf_reset(&b);
        http_json_dump(&b, out);
        json_decref(out);
        store_read_end(db);
    }
    t_tree = cpu_s() - t0;
    buf_free(&b);

    printf("case create (record, search row, case.opened, audit, reply dump; 1 tx each): "
           "%6.1f us CPU each (%ld)\n",
           1e6 * t_case / (double)n, n);
    printf("customer read, row to text (crm_record_get_text):                 %6.2f us CPU each\n",
           1e6 * t_text / (double)reads);
    printf("customer read, row to text, no explicit read transaction:         %6.2f us CPU each\n",
           1e6 * t_bare / (double)reads);
    printf("customer read, tree path (crm_record_get + dump + free):          %6.2f us CPU each\n",
           1e6 * t_tree / (double)reads);
    store_close(db);
    {
        char p2[80];

        unlink(path);
        snprintf(p2, sizeof(p2), "%s-wal", path);
        unlink(p2);
        snprintf(p2, sizeof(p2), "%s-shm", path);
        unlink(p2);
        rmdir(dir);
    }
    return 0;
}
