/*
 * metrics.c — request counters by route and status and a latency histogram per route,
 * kept in relaxed atomics (no lock on the request path) and rendered as Prometheus text
 * at /metrics. Route index -1 (no route matched) is reported as route="unmatched".
 */
#include "api/api.h"

#include <stdatomic.h>
#include <string.h>

#include "store/store.h"

#define MAX_ROUTES 256
static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                               412, 413, 415, 422, 428, 429, 500, 503, 0 /* other */};
#define NSTATUS ((int)ARRAY_LEN(statuses))
static const double bounds_ms[] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
#define NBUCKET ((int)ARRAY_LEN(bounds_ms))

static atomic_uint_fast64_t counts[MAX_ROUTES + 1][NSTATUS];
static atomic_uint_fast64_t buckets[MAX_ROUTES + 1][NBUCKET + 1];
static atomic_uint_fast64_t sum_us[MAX_ROUTES + 1];

void
api_metrics_observe(const struct http_request *req, int64_t dur_ns, void *ud)
{
    int r = req->route >= 0 && req->route < MAX_ROUTES ? req->route + 1 : 0;
    int s = NSTATUS - 1, b = NBUCKET;
    double ms = (double)dur_ns / 1e6;

    (void)ud;
    for (int i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == req->status)
            s = i;
    for (int i = 0; i < NBUCKET; i++)
        if (ms <= bounds_ms[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&counts[r][s], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&buckets[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[r], (uint64_t)(dur_ns / 1000), memory_order_relaxed);
}

static const char *
route_label(int r, char *tmp, size_t cap)
{
    static const char *m[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "?"};
    struct buf b;

    buf_init(&b, cap - 1);
    if (r == 0)
        buf_puts(&b, "unmatched");
    else
        buf_printf(&b, "%s %s", m[api_routes[r - 1].method], api_routes[r - 1].pattern);
    memcpy(tmp, b.data ? b.data : "", b.len + 1);
    buf_free(&b);
    return tmp;
}

void
api_metrics_render(struct buf *b)
{
    char label[160];
    int nroutes = api_route_count < MAX_ROUTES ? api_route_count : MAX_ROUTES;

    buf_puts(b, "# HELP smile_http_requests_total HTTP requests by route and status.\n"
                "# TYPE smile_http_requests_total counter\n");
    for (int r = 0; r <= nroutes; r++)
        for (int s = 0; s < NSTATUS; s++) {
            uint64_t n = atomic_load_explicit(&counts[r][s], memory_order_relaxed);

            if (n == 0)
                continue;
            if (statuses[s])
                buf_printf(b, "smile_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                           route_label(r, label, sizeof(label)), statuses[s],
                           (unsigned long long)n);
            else
                buf_printf(b, "smile_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                           route_label(r, label, sizeof(label)), (unsigned long long)n);
        }
    buf_puts(b, "# HELP smile_http_request_duration_seconds Time from request to response.\n"
                "# TYPE smile_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= nroutes; r++) {
        uint64_t cum = 0, total = 0;

        for (int i = 0; i <= NBUCKET; i++)
            total += atomic_load_explicit(&buckets[r][i], memory_order_relaxed);
        if (total == 0)
            continue;
        route_label(r, label, sizeof(label));
        for (int i = 0; i < NBUCKET; i++) {
            cum += atomic_load_explicit(&buckets[r][i], memory_order_relaxed);
            buf_printf(b,
                       "smile_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                       "%llu\n",
                       label, bounds_ms[i] / 1000.0, (unsigned long long)cum);
        }
        buf_printf(b, "smile_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                   label, (unsigned long long)total);
        buf_printf(b, "smile_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label,
                   (double)atomic_load_explicit(&sum_us[r], memory_order_relaxed) / 1e6);
        buf_printf(b, "smile_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
                   (unsigned long long)total);
    }
}
