/*
 * seed.c — what `smile init` (and a first `smile serve`) installs into a new database
 * beyond the schema: the China business calendar (named "China", which processes naming
 * the "default" calendar use) and the four default processes (hotline, email, counter,
 * complaint), each published as version 1 in force since 2000-01-01 so that events of any
 * time are measured. Each seed is idempotent: a calendar or process of that name is left
 * alone.
 */
#include "cli/cli.h"

#include "calendar/calendar.h"
#include "engine/engine.h"
#include "ledger/ledger.h"
#include "runtime/records.h"

int
cli_seed_defaults(struct store *s, struct smile_err *err)
{
    const char *procs[] = {engine_default_hotline_json(), engine_default_email_json(),
                           engine_default_counter_json(), engine_default_complaint_json()};
    int rc = runtime_calendar_install(s, "China", calendar_china_default_json(), err);

    for (size_t i = 0; i < ARRAY_LEN(procs) && rc == SMILE_OK; i++)
        rc = runtime_process_install(s, procs[i], LEDGER_MIN_TIME, err);
    return rc;
}
