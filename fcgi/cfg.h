/* cfg: one typed table of settings (name, env var, flag, default, limits, doc). */
#ifndef OA_CONFIG_H
#define OA_CONFIG_H
#include <stdio.h>

/* Index of each setting in the table; rows in config.c carry the same order. */
enum cfg_key {
    CFG_PORT,
    CFG_LOG_DIR,
    CFG_LISTEN,
    CFG_FCGI_WEB_SERVER_ADDRS,
    CFG_FCGI_HEAD_TIMEOUT,
    CFG_FCGI_IO_TIMEOUT,
    CFG_TRUSTED_PROXIES,
    CFG_THREADS,
    CFG_BUSY_RESERVE,
    CFG_DRAIN_TIMEOUT,
    CFG_MAX_BODY_MB,
    CFG_ENV_FILE,
    CFG_SQL_DSN,
    CFG_SQLITE_PATH,
    CFG_SQLITE_BUSY_TIMEOUT,
    CFG_SQL_MAX_OPEN_CONNS,
    CFG_SQL_POOL_TIMEOUT,
    CFG_SESSION_SECRET,
    CFG_INITIAL_ROOT_TOKEN,
    CFG_INITIAL_ROOT_ACCESS_TOKEN,
    CFG_NODE_TYPE,
    CFG_MEMORY_CACHE_ENABLED,
    CFG_SYNC_FREQUENCY,
    CFG_OPTIONS_REFRESH,
    CFG_QUOTA_STORE,
    CFG_DEBUG,
    CFG_GLOBAL_API_RATE_LIMIT,
    CFG_GLOBAL_WEB_RATE_LIMIT,
    CFG_CRITICAL_RATE_LIMIT,
    CFG_ONLY_ONE_LOG_FILE,
    CFG_THEME,
    CFG_TEMPLATE_DIR,
    CFG_COOKIE_SECURE,
    CFG_RELAY_TIMEOUT,
    CFG_RELAY_PROXY,
    CFG_USER_CONTENT_REQUEST_PROXY,
    CFG_USER_CONTENT_REQUEST_TIMEOUT,
    CFG_ENFORCE_INCLUDE_USAGE,
    CFG_GEMINI_VERSION,
    CFG_GEMINI_SAFETY_SETTING,
    CFG_TIKTOKEN_CACHE_DIR,
    CFG_TEST_PROMPT,
    CFG_POLLING_INTERVAL,
    CFG_CHANNEL_TEST_FREQUENCY,
    CFG_SMTP_ALLOW_INSECURE,
    CFG_TURNSTILE_VERIFY_URL,
    CFG_GITHUB_OAUTH_TOKEN_URL,
    CFG_GITHUB_USER_URL,
    CFG_LARK_OAUTH_TOKEN_URL,
    CFG_LARK_USER_INFO_URL,
    CFG__MAX
};

/* CFG_T_NUM is a decimal number (fractions allowed) checked against min..max; CFG_T_ADDRS a
 * comma list of IP addresses and CIDR blocks (empty = none). */
enum cfg_type { CFG_T_STR, CFG_T_INT, CFG_T_BOOL, CFG_T_NUM, CFG_T_ADDRS };

struct cfg_def {
    const char *name;    /* canonical name, shown in messages */
    const char *env;     /* environment variable, or NULL */
    const char *flag;    /* long option without "--", or NULL */
    enum cfg_type type;  /* how the value is parsed and validated */
    const char *def;     /* default, as text; NULL = unset */
    long long min, max;  /* inclusive range for CFG_T_INT and CFG_T_NUM */
    const char *choices; /* "a|b|c" allowed values for strings, or NULL */
    int is_secret;       /* never printed (--print-config) */
    const char *doc;     /* one line for --help and the README */
};

struct cfg_val {
    char *s;     /* text value (heap), NULL when unset */
    long long i; /* parsed integer or boolean (CFG_T_NUM: truncated) */
    double d;    /* parsed number (CFG_T_INT, CFG_T_BOOL: the same as i) */
    int source;  /* 0 default, 1 .env, 2 environment, 3 flag */
};

struct config {
    struct cfg_val v[CFG__MAX];
};

/* The table itself, CFG__MAX rows. */
extern const struct cfg_def cfg_defs[CFG__MAX];

/* Loads defaults, then the .env file (ENV_FILE, default ./.env, if present), then the
 * environment, then argv flags; validates every entry. Returns 0 to run, 1 when --help or
 * --version was handled (exit 0), -1 on a bad value (message naming the setting in err).
 * Free with config_free. */
int config_load(struct config *c, int argc, const char *const *argv, const char *version, char *err,
                size_t errlen);
void config_free(struct config *c);
const char *cfg_str(const struct config *c, enum cfg_key k); /* "" when unset */
long long cfg_int(const struct config *c, enum cfg_key k);
double cfg_double(const struct config *c, enum cfg_key k); /* 0 when unset */
/* --help text generated from the table. */
void config_print_help(FILE *fp);
/* The README's table of settings, generated from the table (Markdown). */
void config_print_doc(FILE *fp);

#endif
