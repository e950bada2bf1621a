/*
 * store_json.c — columns of a stored row as JSON values, the shape every list and detail
 * reply of the API uses (times as RFC 3339 strings, SQL NULL as null). Driver-neutral: built
 * on the store_stmt_* readers of store.h.
 */
#include "store/store.h"

#include <jansson.h>

json_t *
store_stmt_json_time(struct store_stmt *st, int col)
{
    char b[TIME_RFC3339_LEN + 1];

    if (store_stmt_is_null(st, col))
        return json_null();
    time_format_rfc3339(store_stmt_int64(st, col), b);
    return json_string(b);
}

json_t *
store_stmt_json_int(struct store_stmt *st, int col)
{
    return store_stmt_is_null(st, col) ? json_null() : json_integer(store_stmt_int64(st, col));
}

json_t *
store_stmt_json_text(struct store_stmt *st, int col)
{
    const char *t = store_stmt_text(st, col);

    return t ? json_string(t) : json_null();
}
