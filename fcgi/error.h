/* Error codes returned by handlers; the router maps each to one response shape. */
#ifndef OA_ERROR_H
#define OA_ERROR_H

enum oa_err {
    OA_OK = 0,
    OA_ERR_NOT_FOUND = -1,     /* no route for the path: 404 */
    OA_ERR_METHOD = -2,        /* path known, method not: 405 */
    OA_ERR_TOO_LARGE = -3,     /* body over MAX_REQUEST_BODY_MB: 413 */
    OA_ERR_BAD_JSON = -4,      /* body is not the JSON the route wants: 400 */
    OA_ERR_BAD_REQUEST = -5,   /* other malformed input: 400 */
    OA_ERR_NO_LOGIN = -6,      /* no session and no access token: 401 */
    OA_ERR_BAD_TOKEN = -7,     /* access token unknown */
    OA_ERR_FORBIDDEN = -8,     /* role too low */
    OA_ERR_BANNED = -9,        /* user disabled */
    OA_ERR_BUSY = -10,         /* every worker busy: 503 */
    OA_ERR_INTERNAL = -11,     /* a bug or broken invariant: 500 */
    OA_ERR_DB = -12,           /* the database failed: 500 */
    OA_ERR_CLIENT_GONE = -13,  /* the client disconnected; nothing more to send */
    OA_ERR_DESCRIBED = -14,    /* status and message are in r->err_status / r->err_msg */
    OA_ERR_CROSS_SITE = -15,   /* a browser session's write sent from another site: 403 */
    OA_ERR_MEDIA_TYPE = -16,   /* the body is not of the Content-Type the route takes: 415 */
    OA_ERR_RATE_LIMIT = -17,   /* too many requests from this client: 429 */
    OA_ERR_DB_BUSY = -18,      /* no database connection became free in time: 503 */
    OA_ERR_BAD_ENCODING = -19, /* a Content-Encoding: gzip body that does not inflate: 400 */
    OA_ERR_LIMITED = -20,      /* a per-address limit of the router's hooks: 429, empty body */
    OA_ERR__MIN = -21
};

/* One line of text for code (never NULL). */
const char *oa_strerror(int code);

#endif
