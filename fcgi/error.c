/* error: text for each oa_err code. */
#include "config.h"
#include "fcgi/error.h"

const char *oa_strerror(int code)
{
    switch (code) {
    case OA_OK: return "ok";
    case OA_ERR_NOT_FOUND: return "not found";
    case OA_ERR_METHOD: return "method not allowed";
    case OA_ERR_TOO_LARGE: return "request body too large";
    case OA_ERR_BAD_JSON: return "invalid parameter";
    case OA_ERR_BAD_REQUEST: return "bad request";
    case OA_ERR_NO_LOGIN: return "not logged in and no access token";
    case OA_ERR_BAD_TOKEN: return "access token invalid";
    case OA_ERR_FORBIDDEN: return "insufficient permission";
    case OA_ERR_BANNED: return "user banned";
    case OA_ERR_BUSY: return "server busy";
    case OA_ERR_INTERNAL: return "internal error";
    case OA_ERR_DB: return "database error";
    case OA_ERR_CLIENT_GONE: return "client gone";
    case OA_ERR_DESCRIBED: return "error described by the handler";
    case OA_ERR_CROSS_SITE: return "cross-site request refused";
    case OA_ERR_MEDIA_TYPE: return "unsupported Content-Type";
    case OA_ERR_RATE_LIMIT: return "too many requests";
    case OA_ERR_BAD_ENCODING: return "malformed gzip body";
    case OA_ERR_LIMITED: return "rate limited";
    case OA_ERR_DB_BUSY: return "database busy";
    default: return "unknown error";
    }
}
