/*
 * imports.c — /api/v1/imports: CSV import of customers, properties or contracts through
 * the API (bulk/bulk.h does the work; this file finds the file in the request). The file
 * comes as multipart/form-data (the part named "file", else the first part with a
 * filename) or as the whole body (text/csv). The whole request is bounded by the server's
 * max_body. Answers: 201 with the report when imported (Location: the import record),
 * 200 for a clean dry run, 422 problem+json carrying the report when any row has a
 * problem (nothing imported). Also the list and one record of committed imports.
 */
#include <string.h>
#include <strings.h>

#include "api/api_crm.h"
#include "bulk/bulk.h"

/* One part of a multipart body: its name, its filename and its content. */
struct part {
    char name[64];
    char filename[256];
    const char *data;
    size_t len;
};

/* Copies the value of param (name="…" or name=bare) from a header line into out. */
static bool
header_param(const char *h, size_t hlen, const char *param, char *out, size_t cap)
{
    size_t plen = strlen(param);

    for (size_t i = 0; i + plen + 1 < hlen; i++) {
        const char *p = h + i, *e = h + hlen;
        size_t n = 0;

        if (strncasecmp(p, param, plen) != 0 || p[plen] != '=' ||
            (i > 0 && h[i - 1] != ' ' && h[i - 1] != ';' && h[i - 1] != '\t'))
            continue;
        p += plen + 1;
        if (p < e && *p == '"') {
            p++;
            while (p + n < e && p[n] != '"')
                n++;
        } else {
            while (p + n < e && p[n] != ';' && p[n] != ' ' && p[n] != '\r' && p[n] != '\n')
                n++;
        }
        if (n + 1 > cap)
            n = cap - 1;
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

/*
 * Splits body by boundary and calls back for each part (RFC 7578). False if the body is
 * not a well-formed multipart body.
 */
static bool
multipart_parse(const char *body, size_t len, const char *boundary, struct part *parts, int max,
                int *nparts)
{
    char delim[128];
    size_t dlen;
    const char *p, *e = body + len;

    *nparts = 0;
    if (strlen(boundary) == 0 || strlen(boundary) > 70)
        return false;
    dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
    p = memmem(body, len, delim, dlen);
    if (p == NULL)
        return false;
    p += dlen;
    for (;;) {
        const char *hdr_end, *next;
        struct part pt;

        if (e - p >= 2 && memcmp(p, "--", 2) == 0)
            return *nparts > 0; /* closing delimiter */
        if (e - p < 2 || memcmp(p, "\r\n", 2) != 0)
            return false;
        p += 2;
        hdr_end = memmem(p, (size_t)(e - p), "\r\n\r\n", 4);
        if (hdr_end == NULL)
            return false;
        memset(&pt, 0, sizeof(pt));
        /* Content-Disposition: form-data; name="file"; filename="c.csv" */
        for (const char *l = p; l < hdr_end;) {
            const char *le = memmem(l, (size_t)(hdr_end - l), "\r\n", 2);
            size_t ll = le ? (size_t)(le - l) : (size_t)(hdr_end - l);

            if (ll > 20 && strncasecmp(l, "content-disposition:", 20) == 0) {
                header_param(l, ll, "name", pt.name, sizeof(pt.name));
                header_param(l, ll, "filename", pt.filename, sizeof(pt.filename));
            }
            l += ll + 2;
        }
        pt.data = hdr_end + 4;
        {
            char d2[132];
            size_t d2len = (size_t)snprintf(d2, sizeof(d2), "\r\n%s", delim);

            next = memmem(pt.data, (size_t)(e - pt.data), d2, d2len);
            if (next == NULL)
                return false;
            pt.len = (size_t)(next - pt.data);
            p = next + d2len;
        }
        if (*nparts < max)
            parts[(*nparts)++] = pt;
    }
}

static bool
parse_bool(const char *v, bool *out)
{
    if (v == NULL || strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || v[0] == '\0') {
        *out = true;
        return true;
    }
    return false;
}

/* A form field's value (short text parts) copied into out. */
static const char *
form_value(const struct part *parts, int n, const char *name, char *out, size_t cap)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(parts[i].name, name) == 0 && parts[i].filename[0] == '\0' &&
            parts[i].len < cap) {
            memcpy(out, parts[i].data, parts[i].len);
            out[parts[i].len] = '\0';
            return out;
        }
    }
    return NULL;
}

void
api_imports_create(struct http_request *req)
{
    const char *ctype = http_request_header(req, "Content-Type");
    const char *kind_s = http_request_query(req, "kind");
    const char *dry_s = http_request_query(req, "dry_run");
    const char *enc_s = http_request_query(req, "encoding");
    const char *upd_s = http_request_query(req, "update");
    struct part parts[8];
    int nparts = 0, kind, enc;
    const char *data = NULL;
    const char *fname = NULL;
    size_t len = 0;
    char fkind[32], fdry[8], fenc[16], fupd[8];
    struct smile_err err;
    struct bulk_import *im = NULL;
    struct crm_ctx c;
    json_t *report = NULL;
    bool dry = false, ok = false, update = false;

    smile_err_clear(&err);
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        char boundary[80] = "";

        if (!header_param(ctype, strlen(ctype), "boundary", boundary, sizeof(boundary)) ||
            !multipart_parse(req->body ? req->body : "", req->body_len, boundary, parts,
                             (int)ARRAY_LEN(parts), &nparts)) {
            http_reply_error(req, SMILE_EMALFORMED,
                             "the multipart/form-data body is malformed (boundary, part "
                             "headers or closing delimiter)");
            return;
        }
        for (int i = 0; i < nparts && data == NULL; i++)
            if (strcmp(parts[i].name, "file") == 0)
                data = parts[i].data, len = parts[i].len, fname = parts[i].filename;
        for (int i = 0; i < nparts && data == NULL; i++)
            if (parts[i].filename[0])
                data = parts[i].data, len = parts[i].len, fname = parts[i].filename;
        if (kind_s == NULL)
            kind_s = form_value(parts, nparts, "kind", fkind, sizeof(fkind));
        if (dry_s == NULL)
            dry_s = form_value(parts, nparts, "dry_run", fdry, sizeof(fdry));
        if (enc_s == NULL)
            enc_s = form_value(parts, nparts, "encoding", fenc, sizeof(fenc));
        if (upd_s == NULL)
            upd_s = form_value(parts, nparts, "update", fupd, sizeof(fupd));
        if (data == NULL)
            smile_err_field(&err, "/body/file", "no file part (name=\"file\")");
    } else if (ctype && (strncasecmp(ctype, "text/csv", 8) == 0 ||
                         strncasecmp(ctype, "application/csv", 15) == 0 ||
                         strncasecmp(ctype, "text/plain", 10) == 0)) {
        data = req->body ? req->body : "";
        len = req->body_len;
    } else {
        http_reply_error(req, SMILE_EMALFORMED,
                         "send the CSV file as multipart/form-data (part \"file\") or as a "
                         "text/csv body");
        return;
    }
    kind = bulk_kind_parse(kind_s);
    if (kind < 0)
        smile_err_field(&err, "/query/kind", "is customers, properties or contracts");
    if (!parse_bool(dry_s, &dry))
        smile_err_field(&err, "/query/dry_run", "is 1 or 0 (true or false)");
    if (!parse_bool(upd_s, &update))
        smile_err_field(&err, "/query/update", "is 1 or 0 (true or false)");
    enc = enc_s ? bulk_encoding_parse(enc_s) : BULK_ENC_AUTO;
    if (enc < 0)
        smile_err_field(&err, "/query/encoding", "is auto, utf-8 or gb18030");
    if (err.code != SMILE_OK) {
        http_reply_problem(req, &err);
        return;
    }
    if (enc == BULK_ENC_AUTO)
        enc = bulk_utf8_valid(data, len) ? BULK_ENC_UTF8 : BULK_ENC_GB18030;
    api_crm_ctx(req, &c);
    if (bulk_import_begin(&c, kind, enc, dry, fname && fname[0] ? fname : NULL, &im, &err) !=
        SMILE_OK) {
        api_reply_err(req, &err, 1);
        return;
    }
    bulk_import_set_update(im, update);
    if (bulk_import_feed(im, data, len, &err) != SMILE_OK ||
        bulk_import_finish(im, &report, &ok, &err) != SMILE_OK) {
        bulk_import_free(im);
        api_reply_err(req, &err, 1);
        return;
    }
    bulk_import_free(im);
    if (ok && !dry) {
        char loc[64];

        snprintf(loc, sizeof(loc), "/api/v1/imports/%lld",
                 (long long)json_integer_value(json_object_get(report, "import_id")));
        http_response_header(req, "Location", loc);
        http_reply_json(req, 201, report);
    } else if (ok) {
        http_reply_json(req, 200, report);
    } else {
        json_t *p = json_object();

        json_object_set_new(p, "type", json_string("urn:smile:problem:invalid"));
        json_object_set_new(p, "title", json_string(smile_result_title(SMILE_EINVAL)));
        json_object_set_new(p, "status", json_integer(422));
        json_object_set_new(p, "detail",
                            json_string("the file has problems; nothing was "
                                        "imported"));
        json_object_set_new(p, "instance", json_string(req->path));
        json_object_set_new(p, "request_id", json_string(req->request_id));
        json_object_update(p, report);
        json_decref(report);
        http_reply_json(req, 422, p);
        req->content_type = "application/problem+json";
    }
}

void
api_imports_list(struct http_request *req)
{
    struct smile_err err;
    struct crm_ctx c;
    json_t *out = NULL;
    int64_t cursor = 0;
    int limit;

    if (!api_query_limit(req, &limit) || !api_query_cursor(req, &cursor))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (bulk_import_list(&c, limit, cursor, &out, &err) != SMILE_OK) {
        api_reply_err(req, &err, 1);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_imports_get(struct http_request *req)
{
    struct smile_err err;
    struct crm_ctx c;
    json_t *out = NULL;
    int64_t id;

    if (!api_param_id(req, 0, &id))
        return;
    smile_err_clear(&err);
    api_crm_ctx(req, &c);
    if (bulk_import_get(&c, id, &out, &err) != SMILE_OK) {
        api_reply_err(req, &err, 1);
        return;
    }
    http_reply_json(req, 200, out);
}

void
api_imports_template(struct http_request *req)
{
    const char *lang = http_request_query(req, "lang");
    char kind_s[32], disp[96];
    struct buf b;
    int kind = -1;

    if (req->nparams > 0 && req->params[0].len < sizeof(kind_s)) {
        memcpy(kind_s, req->params[0].p, req->params[0].len);
        kind_s[req->params[0].len] = '\0';
        kind = bulk_kind_parse(kind_s);
    }
    if (kind < 0) {
        http_reply_error(req, SMILE_ENOTFOUND,
                         "no import template of that kind (customers, properties, contracts)");
        return;
    }
    if (lang && strcmp(lang, "zh") != 0 && strcmp(lang, "en") != 0) {
        struct smile_err err;

        smile_err_clear(&err);
        smile_err_field(&err, "/query/lang", "is en or zh");
        http_reply_problem(req, &err);
        return;
    }
    buf_init(&b, 0);
    bulk_template(kind, lang && strcmp(lang, "zh") == 0, &b);
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s%s.csv\"", kind_s,
             lang && strcmp(lang, "zh") == 0 ? "-zh" : "");
    http_response_header(req, "Content-Disposition", disp);
    http_reply_text(req, 200, "text/csv; charset=utf-8", b.data, b.len);
    buf_free(&b);
}
