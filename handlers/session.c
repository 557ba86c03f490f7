/* session: signed session cookies and the management API's authentication. */
#include "config.h"
#include "handlers/session.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "db/db.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/log.h"
#include "fcgi/request.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_MAX_AGE (30 * 24 * 3600) /* One API's 30 days */

/* The MAC covers the user's password hash, so changing the password ends every session. */
static void session_mac(const unsigned char key[32], const char *payload, const char *pwhash,
                        unsigned char mac[32])
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_puts(&sb, payload);
    sb_putc(&sb, '|');
    sb_puts(&sb, pwhash ? pwhash : "");
    hmac_sha256(key, 32, sb.p, sb.len, mac);
    sb_free(&sb);
}

size_t session_cookie_make(const unsigned char key[32], int64_t uid, int64_t expires,
                           const char *pwhash, char *out, size_t outlen)
{
    char payload[96], p64[160], m64[64];
    snprintf(payload, sizeof payload, "1|%" PRId64 "|%" PRId64, uid, expires);
    unsigned char mac[32];
    session_mac(key, payload, pwhash, mac);
    b64url_encode(payload, strlen(payload), p64);
    b64url_encode(mac, sizeof mac, m64);
    int n = snprintf(out, outlen, "%s.%s", p64, m64);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

int64_t session_cookie_uid(const char *cookie, int64_t now)
{
    const char *dot = strchr(cookie, '.');
    if (!dot || dot - cookie > 150 || strlen(dot + 1) > 60)
        return 0;
    unsigned char payload[128];
    long pn = b64_decode(cookie, (size_t)(dot - cookie), payload, sizeof payload - 1, 0);
    if (pn <= 0 || pn >= (long)sizeof payload)
        return 0;
    payload[pn] = '\0';
    long long id = 0, exp = 0;
    int used = 0;
    if (sscanf((char *)payload, "1|%lld|%lld%n", &id, &exp, &used) != 2 || used != pn)
        return 0;
    return exp >= now && id > 0 ? (int64_t)id : 0;
}

int session_cookie_check(const unsigned char key[32], const char *cookie, const char *pwhash)
{
    const char *dot = strchr(cookie, '.');
    if (!dot || dot - cookie > 150 || strlen(dot + 1) > 60)
        return 0;
    unsigned char payload[128], mac[64], want[32];
    long pn = b64_decode(cookie, (size_t)(dot - cookie), payload, sizeof payload - 1, 0);
    long mn = b64_decode(dot + 1, strlen(dot + 1), mac, sizeof mac, 0);
    if (pn <= 0 || pn >= (long)sizeof payload || mn != 32)
        return 0;
    payload[pn] = '\0';
    session_mac(key, (char *)payload, pwhash, want);
    return ct_equal(mac, want, sizeof want);
}

static void set_cookie(struct req *r, const char *value, int max_age)
{
    struct app *app = req_app(r);
    /* A clearing cookie also carries a past Expires: some clients (curl among them) keep a
     * cookie that only says Max-Age=0. */
    resp_header(r, "Set-Cookie",
                arena_printf(r->a, "session=%s; Path=/; Max-Age=%d;%s HttpOnly; SameSite=Lax%s",
                             value, max_age,
                             max_age ? "" : " Expires=Thu, 01 Jan 1970 00:00:00 GMT;",
                             app->cookie_secure ? "; Secure" : ""));
}

void session_login(struct req *r, const struct user *u)
{
    char cookie[256];
    session_cookie_make(req_app(r)->session_key, u->id, (int64_t)time(NULL) + SESSION_MAX_AGE,
                        u->password, cookie, sizeof cookie);
    set_cookie(r, cookie, SESSION_MAX_AGE);
}

void session_logout(struct req *r)
{
    set_cookie(r, "", 0);
}

/* Checks the session cookie; fills u and returns 1 for a valid one, 0 otherwise, < 0 on a
 * database error. */
static int session_user(struct req *r, struct user *u)
{
    const char *c = req_cookie(r, "session");
    int64_t id = c && *c ? session_cookie_uid(c, (int64_t)time(NULL)) : 0;
    if (!id)
        return 0;
    int rc = db_users_by_id(req_db(r), r->a, id, u);
    if (rc <= 0)
        return rc;
    return session_cookie_check(req_app(r)->session_key, c, u->password);
}

int session_auth(struct req *r, unsigned level)
{
    if (level == AUTH_RELAY_TOKEN)
        return relay_auth(r);
    /* The route table uses no other level (test_router checks the rows). */
    assert(level <= AUTH_ROOT);
    if (level > AUTH_ROOT) {
        LOG_BUG("route %s has auth level %u that session_auth does not serve", r->path, level);
        return OA_ERR_INTERNAL;
    }
    struct user u;
    int rc = session_user(r, &u);
    if (rc < 0)
        return OA_ERR_DB;
    int from_session = rc == 1;
    if (!from_session) {
        const char *h = req_header(r, "Authorization");
        if (!h || !*h)
            return OA_ERR_NO_LOGIN;
        if (!strncmp(h, "Bearer ", 7))
            h += 7;
        rc = db_users_by_access_token(req_db(r), r->a, h, &u);
        if (rc < 0)
            return OA_ERR_DB;
        if (rc == 0)
            return OA_ERR_BAD_TOKEN;
    }
    /* The user row is read on every request, so a disable or a role change takes effect at
     * once (One API keeps the login-time snapshot: docs/compatibility.md). */
    if (u.status != 1) {
        if (from_session)
            session_logout(r);
        return OA_ERR_BANNED;
    }
    static const int min_role[] = {0, 1, 10, 100};
    if (u.role < min_role[level])
        return OA_ERR_FORBIDDEN;
    r->cred = from_session ? REQ_CRED_COOKIE : REQ_CRED_TOKEN;
    r->user_id = u.id;
    r->role = (int)u.role;
    r->username = u.username;
    return 0;
}

/* ---------------------------------------------------------------- transient signed state */

#define SIGNED_VALUE_MAX 128 /* a state, a flag: short values only */

static void signed_mac(const unsigned char key[32], const char *name, const char *payload,
                       unsigned char mac[32])
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_puts(&sb, "flow|");
    sb_puts(&sb, name);
    sb_putc(&sb, '|');
    sb_puts(&sb, payload);
    hmac_sha256(key, 32, sb.p, sb.len, mac);
    sb_free(&sb);
}

size_t session_signed_make(const unsigned char key[32], const char *name, const char *value,
                           int64_t expires, char *out, size_t outlen)
{
    char payload[SIGNED_VALUE_MAX + 32], p64[sizeof payload * 4 / 3 + 4], m64[64];
    int pn = snprintf(payload, sizeof payload, "%s|%" PRId64, value, expires);
    if (pn < 0 || (size_t)pn >= sizeof payload)
        return 0;
    unsigned char mac[32];
    signed_mac(key, name, payload, mac);
    b64url_encode(payload, (size_t)pn, p64);
    b64url_encode(mac, sizeof mac, m64);
    int n = snprintf(out, outlen, "%s.%s", p64, m64);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

int session_signed_value(const unsigned char key[32], const char *name, const char *cookie,
                         int64_t now, char *out, size_t outlen)
{
    const char *dot = cookie ? strchr(cookie, '.') : NULL;
    if (!dot || (size_t)(dot - cookie) > (SIGNED_VALUE_MAX + 32) * 4 / 3 + 4 ||
        strlen(dot + 1) > 60)
        return 0;
    unsigned char payload[SIGNED_VALUE_MAX + 40], mac[64], want[32];
    long pn = b64_decode(cookie, (size_t)(dot - cookie), payload, sizeof payload - 1, 0);
    long mn = b64_decode(dot + 1, strlen(dot + 1), mac, sizeof mac, 0);
    if (pn <= 0 || mn != 32 || memchr(payload, '\0', (size_t)pn))
        return 0;
    payload[pn] = '\0';
    signed_mac(key, name, (char *)payload, want);
    if (!ct_equal(mac, want, sizeof want))
        return 0;
    char *bar = strrchr((char *)payload, '|');
    if (!bar)
        return 0;
    char *end;
    long long exp = strtoll(bar + 1, &end, 10);
    if (*end || end == bar + 1 || exp < now)
        return 0;
    size_t vn = (size_t)(bar - (char *)payload);
    if (vn >= outlen)
        return 0;
    memcpy(out, payload, vn);
    out[vn] = '\0';
    return 1;
}

void session_flow_set(struct req *r, const char *name, const char *value, int ttl)
{
    char v[SIGNED_VALUE_MAX * 2 + 64] = "";
    if (ttl > 0 && !session_signed_make(req_app(r)->session_key, name, value,
                                        (int64_t)time(NULL) + ttl, v, sizeof v)) {
        LOG_BUG("signed cookie %s too long", name);
        return;
    }
    resp_header(r, "Set-Cookie",
                arena_printf(r->a, "oa_%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", name,
                             v, ttl > 0 ? ttl : 0, req_app(r)->cookie_secure ? "; Secure" : ""));
}

const char *session_flow_get(struct req *r, const char *name)
{
    const char *c = req_cookie(r, arena_printf(r->a, "oa_%s", name));
    char v[SIGNED_VALUE_MAX + 1];
    if (!c ||
        !session_signed_value(req_app(r)->session_key, name, c, (int64_t)time(NULL), v, sizeof v))
        return NULL;
    return arena_strdup(r->a, v);
}

/* ---------------------------------------------------------------- mailed codes */

void session_code(const unsigned char key[32], char purpose, const char *email, int64_t bucket,
                  const char *pwhash, size_t hexlen, char *out)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "code|%c|%s|%" PRId64 "|%s", purpose, email ? email : "", bucket,
              pwhash ? pwhash : "");
    unsigned char mac[32];
    hmac_sha256(key, 32, sb.p, sb.len, mac);
    sb_free(&sb);
    if (hexlen > 64)
        hexlen = 64;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < hexlen; i++)
        out[i] = hex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[hexlen] = '\0';
}

int session_code_check(const unsigned char key[32], char purpose, const char *email,
                       const char *pwhash, int64_t now, size_t hexlen, const char *given)
{
    if (!given || hexlen > 64 || strlen(given) != hexlen || !email || !*email)
        return 0;
    int64_t bucket = now / SESSION_CODE_PERIOD;
    int ok = 0;
    for (int64_t b = bucket - 1; b <= bucket; b++) {
        char want[65];
        session_code(key, purpose, email, b, pwhash, hexlen, want);
        ok |= ct_equal(want, given, hexlen);
    }
    return ok;
}
