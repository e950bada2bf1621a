/*
 * json.c — JSON in and out of the HTTP layer: the request body parsed strictly
 * (jansson, duplicate keys rejected, line and column in the error), responses dumped
 * compactly into the request's buffer, and errors rendered as application/problem+json
 * (RFC 9457) with the JSON Pointer of every bad field.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

static int
dump_cb(const char *p, size_t n, void *ud)
{
    buf_append(ud, p, n);
    return 0;
}

void
http_json_dump(struct buf *b, const json_t *v)
{
    json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

void
http_response_header(struct http_request *req, const char *name, const char *value)
{
    if (req->nheaders >= HTTP_MAX_RESP_HEADERS)
        return;
    req->headers[req->nheaders].name = xstrdup(name);
    req->headers[req->nheaders].value = xstrdup(value);
    req->nheaders++;
}

void
http_reply_json(struct http_request *req, int status, json_t *body)
{
    req->status = status;
    req->content_type = "application/json";
    buf_reset(&req->out);
    http_json_dump(&req->out, body);
    json_decref(body);
}

void
http_reply_problem(struct http_request *req, const struct smile_err *err)
{
    int code = err->code == SMILE_OK ? SMILE_EINTERNAL : err->code;
    json_t *p = json_object();
    char type[96];

    snprintf(type, sizeof(type), "urn:smile:problem:%s", smile_result_name(code));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(smile_result_title(code)));
    json_object_set_new(p, "status", json_integer(smile_result_http(code)));
    json_object_set_new(p, "detail",
                        json_string(err->msg[0] ? err->msg : smile_result_title(code)));
    json_object_set_new(p, "instance", json_string(req->path));
    json_object_set_new(p, "request_id", json_string(req->request_id));
    if (err->nfields > 0) {
        json_t *a = json_array();

        for (int i = 0; i < err->nfields; i++)
            json_array_append_new(a, json_pack("{s:s, s:s}", "pointer", err->fields[i].path,
                                               "detail", err->fields[i].msg));
        json_object_set_new(p, "errors", a);
        if (err->nfields_dropped)
            json_object_set_new(p, "errors_not_shown", json_integer(err->nfields_dropped));
    }
    req->status = smile_result_http(code);
    req->content_type = "application/problem+json";
    buf_reset(&req->out);
    http_json_dump(&req->out, p);
    json_decref(p);
}

void
http_reply_error(struct http_request *req, int code, const char *fmt, ...)
{
    struct smile_err err;
    va_list ap;

    smile_err_clear(&err);
    err.code = code;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
    va_end(ap);
    http_reply_problem(req, &err);
}

void
http_reply_empty(struct http_request *req, int status)
{
    req->status = status;
    req->content_type = NULL;
    buf_reset(&req->out);
}

void
http_reply_text(struct http_request *req, int status, const char *content_type, const char *text,
                size_t len)
{
    req->status = status;
    req->content_type = content_type;
    buf_reset(&req->out);
    buf_append(&req->out, text, len);
}

int
http_body_json(const struct http_request *req, json_t **out, struct smile_err *err)
{
    json_error_t je;
    json_t *v;

    if (req->body == NULL || req->body_len == 0)
        return smile_err_set(err, SMILE_EMALFORMED, "a JSON body is required");
    v = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        return smile_err_set(err, SMILE_EMALFORMED, "malformed JSON at line %d, column %d: %s",
                             je.line, je.column, je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        smile_err_field(err, "", "the body must be a JSON object");
        return err->code;
    }
    *out = v;
    return SMILE_OK;
}
