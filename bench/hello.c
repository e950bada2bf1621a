/*
 * hello.c — the ceiling for the HTTP benchmarks: a bare libmicrohttpd server with the
 * same thread settings as `smile serve` (epoll, internal thread pool of 2, answer on the
 * second callback so keep-alive holds) answering a fixed JSON body of about the size of
 * a customer record. Usage: bench_hello PORT
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] =
    "{\"id\":1,\"kind\":\"person\",\"name\":\"张伟\",\"phones\":[\"13812345678\"],"
    "\"emails\":[\"zhang.wei@example.com\"],\"birthday\":\"1985-04-12\",\"id_number\":"
    "\"110***********1234\",\"address\":\"北京市朝阳区望京街道 8 号\",\"tags\":[\"vip\"],"
    "\"owner_id\":null,\"notes\":null,\"version\":1,\"created_at\":\"2026-11-29T09:00:00.000Z\","
    "\"updated_at\":\"2026-11-29T09:00:00.000Z\"}";

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static int marker;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

int
main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    sigset_t set;
    int sig;

    if (argc != 2) {
        fprintf(stderr, "usage: bench_hello PORT\n");
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                         (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, handler, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench_hello: cannot listen\n");
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
