/*
 * seed.c — what `smile init` (and a first `smile serve`) installs into a new database
 * beyond the schema: the default calendar and processes once those parts exist. Each
 * seed is idempotent.
 */
#include "cli/cli.h"

int
cli_seed_defaults(struct store *s, struct smile_err *err)
{
    (void)s;
    (void)err;
    return SMILE_OK;
}
