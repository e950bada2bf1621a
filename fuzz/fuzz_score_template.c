/*
 * fuzz_score_template.c — fuzzes the scorecard template validation (score_template_parse,
 * against a migrated database so that indicator names and process references are checked)
 * and the period parser with the same bytes. Invariants: a refusal is a user error with a
 * message or field list, never a storage or internal error; an accepted template renders
 * to a document that parses again to the same document (what is stored reads back); every
 * item's points lie in [0, 100] at its floor, its target and beyond; an accepted period's
 * name parses back to the same days.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score/score.h"
#include "store/store.h"

static struct store *db;

static void
setup(void)
{
    static char dir[] = "/tmp/smile-fuzz-score-XXXXXX";
    char path[64];
    struct smile_err err;

    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/f.db", dir);
    smile_err_clear(&err);
    log_set_level(LOG_ERROR);
    if (store_open(path, STORE_CREATE, &db, &err) != SMILE_OK ||
        store_migrate(db, &err) != SMILE_OK ||
        store_exec(db,
                   "INSERT INTO processes (id, name, draft, created_at, updated_at) VALUES "
                   "(1, 'email', '{}', 0, 0);",
                   &err) != SMILE_OK)
        abort();
}

static void
check_period(const uint8_t *data, size_t size)
{
    char s[32];
    struct score_period p, q;
    struct smile_err err;

    if (size >= sizeof(s))
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    smile_err_clear(&err);
    if (score_period_parse(s, &p, &err) != SMILE_OK) {
        if (err.msg[0] == '\0')
            abort();
        return;
    }
    if (score_period_parse(p.name, &q, &err) != SMILE_OK || q.from_day != p.from_day ||
        q.to_day != p.to_day || p.to_day < p.from_day)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct score_template t, u;
    struct smile_err err;
    json_t *doc, *a, *b;

    if (db == NULL)
        setup();
    check_period(data, size);
    doc = json_loadb((const char *)data, size, 0, NULL);
    if (doc == NULL)
        return 0;
    smile_err_clear(&err);
    if (score_template_parse(db, doc, &t, &err) != SMILE_OK) {
        if (err.code != SMILE_EINVAL || (err.nfields == 0 && err.msg[0] == '\0'))
            abort();
        json_decref(doc);
        return 0;
    }
    json_decref(doc);
    a = score_template_json(&t);
    smile_err_clear(&err);
    if (score_template_parse(db, a, &u, &err) != SMILE_OK)
        abort();
    b = score_template_json(&u);
    if (!json_equal(a, b))
        abort();
    for (int i = 0; i < t.nitems; i++) {
        const struct score_item_def *d = &t.items[i].def;
        double v[3] = {d->floor, d->target, d->target + (d->target - d->floor)};
        for (int k = 0; k < 3; k++) {
            double pts = score_item_points(v[k], d->floor, d->target);
            if (!(pts >= 0 && pts <= 100) || isnan(pts))
                abort();
        }
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
