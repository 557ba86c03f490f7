/* The first start of an empty database: the root user and, when configured, its key. */
#ifndef OA_BOOTSTRAP_H
#define OA_BOOTSTRAP_H

struct config;
struct db_conn;

/* When the users table is empty, creates root / 123456 (role 100, a quota of US$1,000,000,000)
 * with INITIAL_ROOT_ACCESS_TOKEN (else a random access token) and, when INITIAL_ROOT_TOKEN is
 * set, that relay key for it; as One API does. Another process bootstrapping first is not an
 * error. 0, or -1 when the database or bcrypt failed (logged). */
int bootstrap_root(const struct config *cfg, struct db_conn *c);

#endif
