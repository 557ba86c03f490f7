/* bootstrap: the root user of an empty database. */
#include "config.h"
#include "handlers/bootstrap.h"
#include "db/db.h"
#include "db/tokens.h"
#include "db/users.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/log.h"

#include <stdint.h>
#include <time.h>

#define ROOT_QUOTA 500000000000000LL /* US$1,000,000,000 at 500,000 quota per dollar */
#define ROOT_ROLE 100                /* users.role of the root user */

int bootstrap_root(const struct config *cfg, struct db_conn *c)
{
    int64_t n = db_users_count(c);
    if (n < 0)
        return -1;
    if (n > 0)
        return 0;
    char hash[128], access[33];
    if (pw_hash("123456", hash, sizeof hash) < 0) {
        LOG_ERR("bcrypt is not available from libcrypt");
        return -1;
    }
    const char *given = cfg_str(cfg, CFG_INITIAL_ROOT_ACCESS_TOKEN);
    if (!*given)
        uuid_hex(access);
    struct user u = {.username = "root",
                     .password = hash,
                     .display_name = "Root User",
                     .role = ROOT_ROLE,
                     .status = 1,
                     .access_token = *given ? given : access,
                     .quota = ROOT_QUOTA,
                     .group = "default"};
    int64_t uid = 0;
    int rc = db_users_insert(c, &u, &uid);
    if (rc == DB_CONSTRAINT)
        return 0; /* another process bootstrapped first */
    if (rc < 0) {
        LOG_ERR("cannot create the root user: %s", db_errmsg(c));
        return -1;
    }
    LOG_WARN("created the root user: log in as root / 123456 and change the password");
    const char *key = cfg_str(cfg, CFG_INITIAL_ROOT_TOKEN);
    if (*key) {
        int64_t now = (int64_t)time(NULL);
        struct token t = {.user_id = uid,
                          .key = key,
                          .status = 1,
                          .name = "Initial Root Token",
                          .created_time = now,
                          .accessed_time = now,
                          .expired_time = -1,
                          .remain_quota = ROOT_QUOTA,
                          .unlimited_quota = 1};
        if (db_tokens_insert(c, &t, NULL) < 0)
            LOG_ERR("cannot create INITIAL_ROOT_TOKEN: %s", db_errmsg(c));
    }
    return 0;
}
