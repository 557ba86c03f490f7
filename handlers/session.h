/* Sessions: HMAC-signed cookies (HttpOnly, SameSite=Lax) and management authentication. */
#ifndef OA_SESSION_H
#define OA_SESSION_H
#include <stddef.h>
#include <stdint.h>

struct req;
struct user;

/* The router's auth hook: authenticates r for level (AUTH_USER, AUTH_ADMIN, AUTH_ROOT by the
 * session cookie, else the user's access token in Authorization; AUTH_RELAY_TOKEN by the relay
 * key, handlers/relay/auth.c), reading the user row on every request so that a ban or a role
 * change applies at once. Fills r->user_id, role and username. 0 or an oa_err. */
int session_auth(struct req *r, unsigned level);

/* Adds a Set-Cookie that logs u in for 30 days. */
void session_login(struct req *r, const struct user *u);
/* Adds a Set-Cookie that clears the session. */
void session_logout(struct req *r);

/* The cookie value "base64url(1|uid|expires).base64url(HMAC-SHA256(key, payload|pwhash))"
 * into out. Returns its length, 0 if out is too small. Pure. */
size_t session_cookie_make(const unsigned char key[32], int64_t uid, int64_t expires,
                           const char *pwhash, char *out, size_t outlen);
/* The user id a well-formed, unexpired cookie names (not yet authenticated), else 0. */
int64_t session_cookie_uid(const char *cookie, int64_t now);
/* 1 when cookie's MAC is right for key and the user's password hash. Constant time. */
int session_cookie_check(const unsigned char key[32], const char *cookie, const char *pwhash);

#endif
