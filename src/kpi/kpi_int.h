/*
 * kpi_int.h — shared between the kpi part's own files (rollup.c, indicator.c) and nobody
 * else's: the rollup row key and the column list of kpi_daily in enum kpi_col order.
 */
#ifndef SMILE_KPI_INT_H
#define SMILE_KPI_INT_H

#include "kpi/kpi.h"

/* The key of a kpi_daily row (strings owned; "" for none). */
struct kpi_key {
    int64_t day;
    char *staff, *team;
    int64_t process_id;
    char *step, *channel;
    char *tag; /* "" for the untagged row */
};
void kpi_key_free(struct kpi_key *k);
bool kpi_key_eq(const struct kpi_key *a, const struct kpi_key *b);

/* The columns of kpi_daily in enum kpi_col order. */
#define KPI_COLS                                                                                   \
    "met, breached, excluded, done, cancelled, sum_ms, offered, abandoned, opened, closed,"        \
    " answered, replied, visits, resolved, cases, fcr, reopened, surveys, survey_sum"

/* A histogram blob (4-byte little-endian counts) into h[KPI_HIST_BUCKETS]. */
void kpi_hist_decode(const void *blob, size_t len, uint32_t *h);

#endif
