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

/* ---- transient signed state: short-lived cookies of their own beside the session ---- */

/* A signed cookie value "base64url(value|expires).base64url(HMAC-SHA256(key, name|value|
 * expires))" into out; the name is under the MAC so that one kind of value cannot stand in
 * for another. Its length, 0 if out is too small. Pure. */
size_t session_signed_make(const unsigned char key[32], const char *name, const char *value,
                           int64_t expires, char *out, size_t outlen);
/* The value of a signed cookie made for key and name, unexpired at now, into out: 1, or 0
 * when it is malformed, forged, expired or does not fit. Constant-time MAC check. Pure. */
int session_signed_value(const unsigned char key[32], const char *name, const char *cookie,
                         int64_t now, char *out, size_t outlen);
/* Adds a Set-Cookie "oa_<name>" (HttpOnly, SameSite=Lax) holding value, signed, for ttl
 * seconds; ttl 0 clears it. value must be printable ASCII. */
void session_flow_set(struct req *r, const char *name, const char *value, int ttl);
/* The value of r's valid "oa_<name>" cookie, in r's arena, or NULL. */
const char *session_flow_get(struct req *r, const char *name);

/* ---- codes mailed for e-mail verification and password reset ---- */

/* A code is valid in the 10-minute period it was made in and in the next one. */
#define SESSION_CODE_PERIOD 600

/* The code of purpose ('v' verification, 'r' reset) for email in period bucket (Unix time /
 * SESSION_CODE_PERIOD): the first hexlen (<= 64) lowercase hex digits of HMAC-SHA256(key,
 * purpose|email|bucket|pwhash) into out (hexlen + 1 bytes). pwhash (NULL = "") ties a reset
 * token to the password it replaces. Pure: any process with the key derives the same code. */
void session_code(const unsigned char key[32], char purpose, const char *email, int64_t bucket,
                  const char *pwhash, size_t hexlen, char *out);
/* 1 when given is the code of purpose for email (and pwhash) of now's period or the one
 * before, compared in constant time; 0 otherwise (also for NULL or a wrong length). */
int session_code_check(const unsigned char key[32], char purpose, const char *email,
                       const char *pwhash, int64_t now, size_t hexlen, const char *given);

#endif
