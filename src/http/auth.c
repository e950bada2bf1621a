/*
 * auth.c — placeholder until sessions and tokens land: every caller is anonymous.
 */
#include "http/auth.h"

int
auth_resolve(struct http_request *req, struct smile_err *err)
{
    (void)err;
    req->auth.user_id = 0;
    return SMILE_OK;
}

bool
auth_csrf_ok(struct http_request *req)
{
    (void)req;
    return false;
}
