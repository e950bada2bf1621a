/*
 * template.c — scorecard templates: validation of the document with a JSON Pointer per bad
 * field (indicator names checked against the kpi part's list, the direction defaulting to
 * the indicator's, floor and target consistent with it, process names resolved to ids),
 * and the table score_templates (create, replace with If-Match, soft delete, each audited
 * in its transaction). Read by evaluation.c when a period is computed.
 */
#include "score/score_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crm/audit.h"
#include "kpi/kpi.h"

void
score_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int
score_tx_begin(struct store *db, bool *own, struct smile_err *err)
{
    *own = !store_in_tx(db);
    return *own ? store_begin(db, err) : SMILE_OK;
}

int
score_tx_end(struct store *db, bool own, int rc, struct smile_err *err)
{
    if (!own)
        return rc;
    if (rc == SMILE_OK)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

double
score_round2(double v)
{
    return round(v * 100.0) / 100.0;
}

static bool
name_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= 64;
}

/* Reads an optional string member into dst; a wrong type or length is a field problem. */
static void
opt_string(const json_t *o, const char *key, const char *path, char *dst, size_t cap, size_t minlen,
           struct smile_err *err)
{
    const json_t *v = json_object_get(o, key);
    char p[128];

    if (v == NULL || json_is_null(v))
        return;
    snprintf(p, sizeof(p), "%s/%s", path, key);
    if (!json_is_string(v)) {
        smile_err_field(err, p, "must be a string");
        return;
    }
    if (json_string_length(v) < minlen || json_string_length(v) >= cap) {
        smile_err_field(err, p, "must be %zu to %zu bytes long", minlen, cap - 1);
        return;
    }
    score_copy(dst, cap, json_string_value(v));
}

static void
labels(const json_t *o, const char *key, const char *path, char *en, char *zh, size_t cap,
       struct smile_err *err)
{
    const json_t *v = json_object_get(o, key);
    char p[128];

    if (v == NULL || json_is_null(v))
        return;
    snprintf(p, sizeof(p), "%s/%s", path, key);
    if (json_is_string(v)) { /* one text for both languages */
        opt_string(o, key, path, en, cap, 1, err);
        score_copy(zh, cap, en);
        return;
    }
    if (!json_is_object(v)) {
        smile_err_field(err, p, "must be an object {\"en\": …, \"zh\": …}");
        return;
    }
    opt_string(v, "en", p, en, cap, 1, err);
    opt_string(v, "zh", p, zh, cap, 1, err);
}

static bool
number(const json_t *o, const char *key, const char *path, double *out, bool required,
       struct smile_err *err)
{
    const json_t *v = json_object_get(o, key);
    char p[128];

    snprintf(p, sizeof(p), "%s/%s", path, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            smile_err_field(err, p, "is required");
        return false;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        smile_err_field(err, p, "must be a number");
        return false;
    }
    if (fabs(json_number_value(v)) > 1e15) { /* keeps target − floor finite */
        smile_err_field(err, p, "must be between -1e15 and 1e15");
        return false;
    }
    *out = json_number_value(v);
    return true;
}

/* Resolves filter.process (id or name) against the processes table. */
static void
process_ref(struct store *db, const json_t *v, const char *p, int64_t *out, struct smile_err *err)
{
    static const char by_id[] = "SELECT id FROM processes WHERE id = $1 AND deleted_at IS NULL";
    static const char by_name[] = "SELECT id FROM processes WHERE name = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    struct smile_err e2;
    int rc;

    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = json_integer_value(v);
        if (db == NULL)
            return;
        if (store_prepare(db, by_id, &st, err) != SMILE_OK)
            return;
        store_stmt_bind_int64(st, 1, *out);
    } else if (json_is_string(v) && json_string_length(v) > 0 && db != NULL) {
        if (store_prepare(db, by_name, &st, err) != SMILE_OK)
            return;
        store_stmt_bind_text(st, 1, json_string_value(v), -1);
    } else {
        smile_err_field(err, p, "must be a process id or name");
        return;
    }
    smile_err_clear(&e2);
    rc = store_stmt_step(st, &e2);
    if (rc == STORE_ROW)
        *out = store_stmt_int64(st, 0);
    else if (rc == STORE_DONE)
        smile_err_field(err, p, "no such process");
    else
        smile_err_set(err, e2.code, "%s", e2.msg);
    store_stmt_reset(st);
}

/* db NULL: a stored (already validated) document; indicators and processes are trusted. */
static int
parse(struct store *db, const json_t *doc, struct score_template *t, struct smile_err *err)
{
    const json_t *items, *v;
    size_t i;
    char p[96];

    memset(t, 0, sizeof(*t));
    t->period_kind = SCORE_PERIOD_MONTH;
    t->auto_compute = true;
    if (!json_is_object(doc))
        return smile_err_set(err, SMILE_EINVAL, "a template must be a JSON object");
    v = json_object_get(doc, "name");
    if (!json_is_string(v) || !name_valid(json_string_value(v)))
        smile_err_field(err, "/name", "must be 1–64 characters a–z, 0–9, '.', '_' or '-'");
    else
        score_copy(t->name, sizeof(t->name), json_string_value(v));
    labels(doc, "title", "", t->title_en, t->title_zh, sizeof(t->title_en), err);
    v = json_object_get(doc, "role");
    if (!json_is_string(v) || (strcmp(json_string_value(v), "agent") != 0 &&
                               strcmp(json_string_value(v), "supervisor") != 0 &&
                               strcmp(json_string_value(v), "admin") != 0))
        smile_err_field(err, "/role", "must be agent, supervisor or admin");
    else
        score_copy(t->role, sizeof(t->role), json_string_value(v));
    v = json_object_get(doc, "period");
    if (v && !json_is_null(v)) {
        int k = json_is_string(v) ? score_period_kind_parse(json_string_value(v)) : -1;
        if (k < 0)
            smile_err_field(err, "/period", "must be month, week or quarter");
        else
            t->period_kind = k;
    }
    v = json_object_get(doc, "scope");
    if (v && !json_is_null(v)) {
        if (json_is_string(v) && strcmp(json_string_value(v), "team") == 0)
            t->team_scope = true;
        else if (!json_is_string(v) || strcmp(json_string_value(v), "person") != 0)
            smile_err_field(err, "/scope", "must be person or team");
    }
    v = json_object_get(doc, "auto");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            smile_err_field(err, "/auto", "must be true or false");
        else
            t->auto_compute = json_is_true(v);
    }
    items = json_object_get(doc, "items");
    if (!json_is_array(items) || json_array_size(items) < 1 ||
        json_array_size(items) > SCORE_MAX_ITEMS) {
        smile_err_field(err, "/items", "must be an array of 1 to %d items", SCORE_MAX_ITEMS);
        goto out;
    }
    json_array_foreach(items, i, v)
    {
        struct score_template_item *it = &t->items[t->nitems++];
        const struct kpi_indicator_info *info = NULL;
        const json_t *f, *d, *c;
        char fp[112];
        bool has_floor, has_target;

        snprintf(p, sizeof(p), "/items/%zu", i);
        if (!json_is_object(v)) {
            smile_err_field(err, p, "must be an object");
            continue;
        }
        snprintf(it->key, sizeof(it->key), "i%zu", i + 1);
        opt_string(v, "key", p, it->key, sizeof(it->key), 1, err);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t->items[k].key, it->key) == 0) {
                snprintf(fp, sizeof(fp), "%s/key", p);
                smile_err_field(err, fp, "repeats the key of item %zu", k);
            }
        f = json_object_get(v, "indicator");
        snprintf(fp, sizeof(fp), "%s/indicator", p);
        if (!json_is_string(f) || json_string_length(f) >= sizeof(it->indicator)) {
            smile_err_field(err, fp, "must be an indicator name");
        } else {
            score_copy(it->indicator, sizeof(it->indicator), json_string_value(f));
            if (db != NULL && (info = kpi_indicator_find(it->indicator)) == NULL) {
                struct buf names;
                buf_init(&names, 512);
                for (int k = 0; kpi_indicators[k].name; k++)
                    buf_printf(&names, "%s%s", k ? ", " : "", kpi_indicators[k].name);
                smile_err_field(err, fp, "unknown indicator (one of: %s)", names.data);
                buf_free(&names);
            }
        }
        labels(v, "label", p, it->label_en, it->label_zh, sizeof(it->label_en), err);
        if (!it->label_en[0])
            score_copy(it->label_en, sizeof(it->label_en),
                       score_indicator_label(it->indicator, "en")
                           ? score_indicator_label(it->indicator, "en")
                           : it->indicator);
        if (!it->label_zh[0])
            score_copy(it->label_zh, sizeof(it->label_zh),
                       score_indicator_label(it->indicator, "zh")
                           ? score_indicator_label(it->indicator, "zh")
                           : it->label_en);
        f = json_object_get(v, "filter");
        if (f && !json_is_null(f)) {
            snprintf(fp, sizeof(fp), "%s/filter", p);
            if (!json_is_object(f)) {
                smile_err_field(err, fp, "must be an object");
            } else {
                const char *key;
                json_t *fv;
                json_object_foreach((json_t *)f, key, fv)
                {
                    char kp[160];
                    snprintf(kp, sizeof(kp), "%s/%s", fp, key);
                    if (strcmp(key, "process") == 0)
                        process_ref(db, fv, kp, &it->process_id, err);
                    else if (strcmp(key, "step") != 0 && strcmp(key, "channel") != 0 &&
                             strcmp(key, "customer_tag") != 0)
                        smile_err_field(err, kp,
                                        "unknown filter (process, step, channel or customer_tag)");
                }
                opt_string(f, "step", fp, it->step, sizeof(it->step), 1, err);
                opt_string(f, "channel", fp, it->channel, sizeof(it->channel), 1, err);
                opt_string(f, "customer_tag", fp, it->customer_tag, sizeof(it->customer_tag), 1,
                           err);
            }
        }
        it->def.weight = 1;
        if (number(v, "weight", p, &it->def.weight, false, err) &&
            (it->def.weight <= 0 || it->def.weight > 1000)) {
            snprintf(fp, sizeof(fp), "%s/weight", p);
            smile_err_field(err, fp, "must be above 0 and at most 1000");
        }
        has_floor = number(v, "floor", p, &it->def.floor, true, err);
        has_target = number(v, "target", p, &it->def.target, true, err);
        it->higher_is_better = info ? info->higher_is_better : true;
        d = json_object_get(v, "direction");
        snprintf(fp, sizeof(fp), "%s/direction", p);
        if (d && !json_is_null(d)) {
            if (json_is_string(d) && strcmp(json_string_value(d), "higher") == 0)
                it->higher_is_better = true;
            else if (json_is_string(d) && strcmp(json_string_value(d), "lower") == 0)
                it->higher_is_better = false;
            else
                smile_err_field(err, fp, "must be higher or lower");
        } else if (db == NULL) {
            it->higher_is_better = it->def.target > it->def.floor;
        }
        snprintf(fp, sizeof(fp), "%s/target", p);
        if (has_floor && has_target) {
            if (it->higher_is_better && !(it->def.target > it->def.floor))
                smile_err_field(err, fp, "must be above the floor (%g): higher is better",
                                it->def.floor);
            else if (!it->higher_is_better && !(it->def.target < it->def.floor))
                smile_err_field(err, fp, "must be below the floor (%g): lower is better",
                                it->def.floor);
        }
        c = json_object_get(v, "critical");
        if (c && !json_is_null(c)) {
            snprintf(fp, sizeof(fp), "%s/critical", p);
            if (!json_is_boolean(c))
                smile_err_field(err, fp, "must be true or false");
            else
                it->def.critical = json_is_true(c);
        }
        {
            const char *key;
            json_t *fv;
            static const char *const known[] = {"key",    "indicator", "label",
                                                "filter", "weight",    "floor",
                                                "target", "direction", "critical"};
            json_object_foreach((json_t *)v, key, fv)
            {
                bool ok = false;
                for (size_t k = 0; k < ARRAY_LEN(known); k++)
                    ok = ok || strcmp(known[k], key) == 0;
                if (!ok) {
                    snprintf(fp, sizeof(fp), "%s/%s", p, key);
                    smile_err_field(err, fp, "unknown member");
                }
            }
        }
    }
out : {
    const char *key;
    json_t *fv;
    static const char *const known[] = {"name",    "title",      "role",      "period",
                                        "auto",    "scope",      "items",     "id",
                                        "version", "created_at", "updated_at"};
    json_object_foreach((json_t *)doc, key, fv)
    {
        bool ok = false;
        for (size_t k = 0; k < ARRAY_LEN(known); k++)
            ok = ok || strcmp(known[k], key) == 0;
        if (!ok) {
            snprintf(p, sizeof(p), "/%s", key);
            smile_err_field(err, p, "unknown member");
        }
    }
}
    if (err->code != SMILE_OK || err->nfields > 0)
        return err->code ? err->code : SMILE_EINVAL;
    return SMILE_OK;
}

int
score_template_parse(struct store *db, const json_t *doc, struct score_template *t,
                     struct smile_err *err)
{
    return parse(db, doc, t, err);
}

int
score_template_from_doc(const char *doc, struct score_template *t, struct smile_err *err)
{
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    int rc;

    if (j == NULL)
        return smile_err_set(err, SMILE_EINTERNAL, "stored template unreadable: %s", je.text);
    rc = parse(NULL, j, t, err);
    json_decref(j);
    return rc;
}

static json_t *
doc_json(const struct score_template *t)
{
    json_t *items = json_array();
    json_t *o;

    for (int i = 0; i < t->nitems; i++) {
        const struct score_template_item *it = &t->items[i];
        json_t *f = json_object();

        if (it->process_id)
            json_object_set_new(f, "process", json_integer(it->process_id));
        if (it->step[0])
            json_object_set_new(f, "step", json_string(it->step));
        if (it->channel[0])
            json_object_set_new(f, "channel", json_string(it->channel));
        if (it->customer_tag[0])
            json_object_set_new(f, "customer_tag", json_string(it->customer_tag));
        json_array_append_new(
            items,
            json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:f, s:f, s:f, s:s, s:b}", "key", it->key,
                      "indicator", it->indicator, "label", "en", it->label_en, "zh", it->label_zh,
                      "filter", f, "weight", it->def.weight, "floor", it->def.floor, "target",
                      it->def.target, "direction", it->higher_is_better ? "higher" : "lower",
                      "critical", it->def.critical));
    }
    o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:o}", "name", t->name, "role", t->role, "period",
                  score_period_kind_name(t->period_kind), "auto", t->auto_compute, "scope",
                  t->team_scope ? "team" : "person", "items", items);
    if (t->title_en[0])
        json_object_set_new(o, "title",
                            json_pack("{s:s, s:s}", "en", t->title_en, "zh",
                                      t->title_zh[0] ? t->title_zh : t->title_en));
    return o;
}

json_t *
score_template_json(const struct score_template *t)
{
    char c[TIME_RFC3339_LEN + 1], u[TIME_RFC3339_LEN + 1];
    json_t *o = doc_json(t);

    time_format_rfc3339(t->created_at, c);
    time_format_rfc3339(t->updated_at, u);
    json_object_set_new(o, "id", json_integer(t->id));
    json_object_set_new(o, "version", json_integer(t->version));
    json_object_set_new(o, "created_at", json_string(c));
    json_object_set_new(o, "updated_at", json_string(u));
    return o;
}

#define T_COLS "id, document, version, created_at, updated_at FROM score_templates "

static int
load_row(struct store_stmt *st, const char *what, struct score_template *out, struct smile_err *err)
{
    int rc = store_stmt_step(st, err);

    if (rc == STORE_ROW) {
        rc = score_template_from_doc(store_stmt_text(st, 1), out, err);
        out->id = store_stmt_int64(st, 0);
        out->version = store_stmt_int64(st, 2);
        out->created_at = store_stmt_int64(st, 3);
        out->updated_at = store_stmt_int64(st, 4);
    } else if (rc == STORE_DONE) {
        rc = smile_err_set(err, SMILE_ENOTFOUND, "no scorecard template %s", what);
    }
    store_stmt_reset(st);
    return rc;
}

int
score_template_get(struct store *db, int64_t id, struct score_template *out, struct smile_err *err)
{
    static const char sql[] = "SELECT " T_COLS "WHERE id = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    char what[32];
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, id);
    snprintf(what, sizeof(what), "%lld", (long long)id);
    return load_row(st, what, out, err);
}

int
score_template_get_by_name(struct store *db, const char *name, struct score_template *out,
                           struct smile_err *err)
{
    static const char sql[] = "SELECT " T_COLS "WHERE name = $1 AND deleted_at IS NULL";
    struct store_stmt *st;
    int rc = store_prepare(db, sql, &st, err);

    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_text(st, 1, name, -1);
    return load_row(st, name, out, err);
}

int
score_template_list(struct store *db, int64_t after, int limit, json_t **out_items,
                    int64_t *out_next, struct smile_err *err)
{
    static const char sql[] =
        "SELECT " T_COLS "WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2";
    struct store_stmt *st;
    json_t *items;
    int rc, n = 0;

    *out_next = 0;
    rc = store_prepare(db, sql, &st, err);
    if (rc != SMILE_OK)
        return rc;
    store_stmt_bind_int64(st, 1, after);
    store_stmt_bind_int64(st, 2, limit + 1);
    items = json_array();
    while ((rc = store_stmt_step(st, err)) == STORE_ROW) {
        struct score_template t;
        struct smile_err e2;

        if (n++ == limit) {
            *out_next = json_integer_value(
                json_object_get(json_array_get(items, json_array_size(items) - 1), "id"));
            break;
        }
        smile_err_clear(&e2);
        if (score_template_from_doc(store_stmt_text(st, 1), &t, &e2) != SMILE_OK)
            continue;
        t.id = store_stmt_int64(st, 0);
        t.version = store_stmt_int64(st, 2);
        t.created_at = store_stmt_int64(st, 3);
        t.updated_at = store_stmt_int64(st, 4);
        json_array_append_new(items, score_template_json(&t));
    }
    store_stmt_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        json_decref(items);
        return rc;
    }
    *out_items = items;
    return SMILE_OK;
}

int
score_template_create(struct store *db, const struct audit_who *who, const json_t *doc,
                      struct score_template *out, struct smile_err *err)
{
    static const char sql[] = "INSERT INTO score_templates (name, role, document, version,"
                              " created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)";
    struct score_template t;
    struct store_stmt *st;
    json_t *d = NULL, *after = NULL;
    char *text = NULL;
    bool own = false;
    int rc;

    rc = parse(db, doc, &t, err);
    if (rc != SMILE_OK)
        return rc;
    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    d = doc_json(&t);
    text = json_dumps(d, JSON_COMPACT);
    rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, t.name, -1);
        store_stmt_bind_text(st, 2, t.role, -1);
        store_stmt_bind_text(st, 3, text, -1);
        store_stmt_bind_int64(st, 4, time_now_ms());
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        if (rc == SMILE_ECONFLICT)
            smile_err_set(err, rc, "a scorecard template named %s exists", t.name);
    }
    if (rc == SMILE_OK)
        rc = score_template_get_by_name(db, t.name, out, err);
    if (rc == SMILE_OK) {
        after = score_template_json(out);
        rc = audit_record_who(db, who, "score_template", out->id, "create", NULL, after, err);
    }
    free(text);
    json_decref(d);
    json_decref(after);
    return score_tx_end(db, own, rc, err);
}

int
score_template_update(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
                      const json_t *doc, struct score_template *out, struct smile_err *err)
{
    static const char sql[] = "UPDATE score_templates SET name = $1, role = $2, document = $3,"
                              " version = version + 1, updated_at = $4 WHERE id = $5";
    struct score_template before, t;
    struct store_stmt *st;
    json_t *d = NULL, *jb = NULL, *ja = NULL;
    char *text = NULL;
    bool own = false;
    int rc;

    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = score_template_get(db, id, &before, err);
    if (rc == SMILE_OK && before.version != version)
        rc = smile_err_set(err, SMILE_EPRECOND,
                           "template %lld is at version %lld, not %lld: read it again",
                           (long long)id, (long long)before.version, (long long)version);
    if (rc == SMILE_OK)
        rc = parse(db, doc, &t, err);
    if (rc == SMILE_OK) {
        d = doc_json(&t);
        text = json_dumps(d, JSON_COMPACT);
        rc = store_prepare(db, sql, &st, err);
    }
    if (rc == SMILE_OK) {
        store_stmt_bind_text(st, 1, t.name, -1);
        store_stmt_bind_text(st, 2, t.role, -1);
        store_stmt_bind_text(st, 3, text, -1);
        store_stmt_bind_int64(st, 4, time_now_ms());
        store_stmt_bind_int64(st, 5, id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
        if (rc == SMILE_ECONFLICT)
            smile_err_set(err, rc, "a scorecard template named %s exists", t.name);
    }
    if (rc == SMILE_OK)
        rc = score_template_get(db, id, out, err);
    if (rc == SMILE_OK) {
        jb = score_template_json(&before);
        ja = score_template_json(out);
        rc = audit_record_who(db, who, "score_template", id, "update", jb, ja, err);
    }
    free(text);
    json_decref(d);
    json_decref(jb);
    json_decref(ja);
    return score_tx_end(db, own, rc, err);
}

int
score_template_delete(struct store *db, const struct audit_who *who, int64_t id, int64_t version,
                      struct smile_err *err)
{
    static const char sql[] =
        "UPDATE score_templates SET deleted_at = $1, version = version + 1 WHERE id = $2";
    struct score_template before;
    struct store_stmt *st;
    json_t *jb = NULL;
    bool own = false;
    int rc;

    rc = score_tx_begin(db, &own, err);
    if (rc != SMILE_OK)
        return rc;
    rc = score_template_get(db, id, &before, err);
    if (rc == SMILE_OK && before.version != version)
        rc = smile_err_set(err, SMILE_EPRECOND,
                           "template %lld is at version %lld, not %lld: read it again",
                           (long long)id, (long long)before.version, (long long)version);
    if (rc == SMILE_OK)
        rc = store_prepare(db, sql, &st, err);
    if (rc == SMILE_OK) {
        store_stmt_bind_int64(st, 1, time_now_ms());
        store_stmt_bind_int64(st, 2, id);
        rc = store_stmt_step(st, err) == STORE_DONE ? SMILE_OK : err->code;
        store_stmt_reset(st);
    }
    if (rc == SMILE_OK) {
        jb = score_template_json(&before);
        rc = audit_record_who(db, who, "score_template", id, "delete", jb, NULL, err);
    }
    json_decref(jb);
    return score_tx_end(db, own, rc, err);
}
