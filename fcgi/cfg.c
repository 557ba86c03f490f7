/* config: the settings table, .env/env/flag loading with validation, generated help. */
#include "config.h"
#include "fcgi/cfg.h"
#include "fcgi/netaddr.h"
#include "fcgi/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct cfg_def cfg_defs[CFG__MAX] = {
    [CFG_PORT] =
        {"port", "PORT", "port", CFG_T_INT, "3000", 1, 65535, NULL, 0,
         "Public HTTP port the web server serves (contrib/run puts nginx on it); with no "
         "--listen and no socket on stdin, one-api listens for FastCGI on 127.0.0.1:PORT+1"},
    [CFG_LOG_DIR] = {"log-dir", "LOG_DIR", "log-dir", CFG_T_STR, "./logs", 0, 0, NULL, 0,
                     "Directory for oneapi-YYYYMMDD.log (created if missing); empty = stderr only"},
    [CFG_LISTEN] =
        {"listen", "LISTEN", "listen", CFG_T_STR, NULL, 0, 0, NULL, 0,
         "FastCGI listen address: HOST:PORT, :PORT, or a unix socket path (contains '/')"},
    [CFG_FCGI_WEB_SERVER_ADDRS] =
        {"fcgi-web-server-addrs", "FCGI_WEB_SERVER_ADDRS", "fcgi-web-server-addrs", CFG_T_ADDRS,
         NULL, 0, 0, NULL, 0,
         "Addresses or CIDR blocks allowed to connect to a TCP FastCGI listener (libfcgi's "
         "variable); others are closed at once. Empty = any"},
    [CFG_FCGI_HEAD_TIMEOUT] =
        {"fcgi-head-timeout", "FCGI_HEAD_TIMEOUT", "fcgi-head-timeout", CFG_T_INT, "5", 1, 3600,
         NULL, 0,
         "Seconds a FastCGI connection has, once it has sent a first byte, to send a whole "
         "request head (records up to the last parameter); slower ones are closed"},
    [CFG_FCGI_IO_TIMEOUT] =
        {"fcgi-io-timeout", "FCGI_IO_TIMEOUT", "fcgi-io-timeout", CFG_T_INT, "60", 0, 86400, NULL,
         0,
         "Seconds a read of the request body or a write of a buffered answer may wait on the "
         "web server; 0 = no limit. Streamed answers wait as long as their client reads"},
    [CFG_TRUSTED_PROXIES] =
        {"trusted-proxies", "TRUSTED_PROXIES", "trusted-proxies", CFG_T_ADDRS, NULL, 0, 0, NULL, 0,
         "Addresses or CIDR blocks of proxies in front of the web server. Only a request whose "
         "REMOTE_ADDR is one of them has its client taken from X-Forwarded-For (the right-most "
         "address not in the list) or X-Real-IP. Empty = the client is REMOTE_ADDR"},
    [CFG_THREADS] = {"threads", "WORKER_THREADS", "threads", CFG_T_INT, "1024", 1, 65536, NULL, 0,
                     "Worker threads = requests (streams included) served at once"},
    [CFG_BUSY_RESERVE] = {"busy-reserve", "BUSY_RESERVE", "busy-reserve", CFG_T_INT, "-1", -1,
                          65536, NULL, 0,
                          "Workers kept to answer 503 at once when the rest are busy; -1 = "
                          "threads/32 (at least 1 when threads >= 4)"},
    [CFG_DRAIN_TIMEOUT] = {"drain-timeout", "DRAIN_TIMEOUT", "drain-timeout", CFG_T_INT, "30", 0,
                           86400, NULL, 0,
                           "Seconds SIGTERM/SIGINT waits for in-flight requests before exiting"},
    [CFG_MAX_BODY_MB] = {"max-body-mb", "MAX_REQUEST_BODY_MB", "max-body-mb", CFG_T_INT, "32", 1,
                         4096, NULL, 0, "Largest request body accepted, in MiB (413 beyond)"},
    [CFG_ENV_FILE] = {"env-file", "ENV_FILE", "env-file", CFG_T_STR, ".env", 0, 0, NULL, 0,
                      ".env file read at start if it exists (KEY=VALUE lines)"},
    [CFG_SQL_DSN] = {"sql-dsn", "SQL_DSN", "sql-dsn", CFG_T_STR, NULL, 0, 0, NULL, 1,
                     "postgres://user:pass@host:5432/db (or a libpq conninfo) selects PostgreSQL; "
                     "empty = SQLite"},
    [CFG_SQLITE_PATH] = {"sqlite-path", "SQLITE_PATH", "sqlite-path", CFG_T_STR, "one-api.db", 0, 0,
                         NULL, 0, "SQLite database file when SQL_DSN is empty"},
    [CFG_SQLITE_BUSY_TIMEOUT] = {"sqlite-busy-timeout", "SQLITE_BUSY_TIMEOUT", NULL, CFG_T_INT,
                                 "3000", 0, 600000, NULL, 0, "SQLite busy timeout in ms"},
    [CFG_SQL_MAX_OPEN_CONNS] = {"sql-max-open-conns", "SQL_MAX_OPEN_CONNS", NULL, CFG_T_INT, "16",
                                1, 1000, NULL, 0,
                                "Database connections shared by the workers, PostgreSQL or "
                                "SQLite (the writer has its own)"},
    [CFG_SQL_POOL_TIMEOUT] = {"sql-pool-timeout", "SQL_POOL_TIMEOUT", NULL, CFG_T_INT, "5", 1, 600,
                              NULL, 0,
                              "Seconds a request waits for a free database connection before it "
                              "is answered 503"},
    [CFG_SESSION_SECRET] = {"session-secret", "SESSION_SECRET", NULL, CFG_T_STR, NULL, 0, 0, NULL,
                            1,
                            "Secret that signs session cookies; unset = random per start (sessions "
                            "end at restart); the example values of the docs are logged as an "
                            "error and replaced by a random secret too. Plain CGI refuses to "
                            "start without a real one"},
    [CFG_INITIAL_ROOT_TOKEN] = {"initial-root-token", "INITIAL_ROOT_TOKEN", NULL, CFG_T_STR, NULL,
                                0, 0, NULL, 1,
                                "Relay key (without sk-) created for root on first start"},
    [CFG_INITIAL_ROOT_ACCESS_TOKEN] = {"initial-root-access-token", "INITIAL_ROOT_ACCESS_TOKEN",
                                       NULL, CFG_T_STR, NULL, 0, 0, NULL, 1,
                                       "Root's management access token on first start"},
    [CFG_NODE_TYPE] = {"node-type", "NODE_TYPE", NULL, CFG_T_STR, "master", 0, 0, "master|slave", 0,
                       "slave skips schema migration"},
    [CFG_MEMORY_CACHE_ENABLED] = {"memory-cache", "MEMORY_CACHE_ENABLED", NULL, CFG_T_BOOL, "false",
                                  0, 1, NULL, 0,
                                  "Cache channel routing in memory, re-read (with the options) "
                                  "every SYNC_FREQUENCY s"},
    [CFG_SYNC_FREQUENCY] = {"sync-frequency", "SYNC_FREQUENCY", NULL, CFG_T_INT, "600", 1, 86400,
                            NULL, 0, "Seconds between cache re-reads"},
    [CFG_OPTIONS_REFRESH] = {"options-refresh", "OPTIONS_REFRESH", NULL, CFG_T_INT, "1", 0, 3600,
                             NULL, 0,
                             "Seconds between re-reads of the options table by each FastCGI "
                             "process, so that a setting saved through any process or node "
                             "applies everywhere; 0 = only at start and on this process's own "
                             "saves (plain CGI always reads them at start)"},
    [CFG_QUOTA_STORE] = {"quota-store", "QUOTA_STORE", NULL, CFG_T_STR, "memory", 0, 0,
                         "memory|sql", 0,
                         "Where reservations live: memory (exact for one FastCGI process) or sql "
                         "(conditional UPDATEs: set it on every process when several processes or "
                         "nodes share the database); plain CGI always uses sql"},
    [CFG_DEBUG] = {"debug", "DEBUG", NULL, CFG_T_BOOL, "false", 0, 1, NULL, 0,
                   "Write DEBUG log lines, and turn the per-address rate limits off"},
    [CFG_GLOBAL_API_RATE_LIMIT] = {"global-api-rate-limit", "GLOBAL_API_RATE_LIMIT", NULL,
                                   CFG_T_INT, "480", 0, 100000000, NULL, 0,
                                   "Requests per client address per 180 s on /api and the billing "
                                   "routes (429 beyond); 0 = no limit. Per process"},
    [CFG_GLOBAL_WEB_RATE_LIMIT] = {"global-web-rate-limit", "GLOBAL_WEB_RATE_LIMIT", NULL,
                                   CFG_T_INT, "240", 0, 100000000, NULL, 0,
                                   "Requests per client address per 180 s on paths outside /api, "
                                   "/v1 and billing; 0 = no limit. Per process"},
    [CFG_CRITICAL_RATE_LIMIT] = {"critical-rate-limit", "CRITICAL_RATE_LIMIT", NULL, CFG_T_INT,
                                 "20", 0, 100000000, NULL, 0,
                                 "Requests per client address per 1200 s on sign-up, sign-in, "
                                 "mail and OAuth routes; 0 = no limit. Per process"},
    [CFG_ONLY_ONE_LOG_FILE] = {"only-one-log-file", "ONLY_ONE_LOG_FILE", NULL, CFG_T_BOOL, "false",
                               0, 1, NULL, 0, "Log to oneapi.log instead of daily files"},
    [CFG_THEME] = {"theme", "THEME", NULL, CFG_T_STR, "default", 0, 0, "default|dark|berry|air", 0,
                   "Console theme: the seed of the Theme option (berry and air, One API's other "
                   "themes, show as default)"},
    [CFG_TEMPLATE_DIR] = {"template-dir", "TEMPLATE_DIR", "template-dir", CFG_T_STR, NULL, 0, 0,
                          NULL, 0,
                          "Directory of the console's templates, one subdirectory per theme "
                          "(default/ is required; a theme's missing files come from it); empty "
                          "= the installed ones, <datadir>/one-api/templates"},
    [CFG_COOKIE_SECURE] = {"cookie-secure", "COOKIE_SECURE", NULL, CFG_T_BOOL, "false", 0, 1, NULL,
                           0, "Mark the session cookie Secure (serve the console over HTTPS)"},
    [CFG_RELAY_TIMEOUT] = {"relay-timeout", "RELAY_TIMEOUT", NULL, CFG_T_INT, "0", 0, 86400, NULL,
                           0, "Upstream timeout in seconds for a whole relay call; 0 = none"},
    [CFG_RELAY_PROXY] = {"relay-proxy", "RELAY_PROXY", NULL, CFG_T_STR, NULL, 0, 0, NULL, 1,
                         "Proxy URL for upstream calls (http://, socks5://)"},
    [CFG_USER_CONTENT_REQUEST_PROXY] = {"user-content-request-proxy", "USER_CONTENT_REQUEST_PROXY",
                                        NULL, CFG_T_STR, NULL, 0, 0, NULL, 1,
                                        "Proxy URL for fetching image URLs that clients put in "
                                        "prompts (sizing and inlining); empty = direct"},
    [CFG_USER_CONTENT_REQUEST_TIMEOUT] = {"user-content-request-timeout",
                                          "USER_CONTENT_REQUEST_TIMEOUT", NULL, CFG_T_INT, "30", 1,
                                          3600, NULL, 0,
                                          "Seconds allowed for fetching one client image URL"},
    [CFG_ENFORCE_INCLUDE_USAGE] = {"enforce-include-usage", "ENFORCE_INCLUDE_USAGE", NULL,
                                   CFG_T_BOOL, "false", 0, 1, NULL, 0,
                                   "Send the usage chunk to every streaming client"},
    [CFG_GEMINI_VERSION] = {"gemini-version", "GEMINI_VERSION", NULL, CFG_T_STR, "v1", 0, 0, NULL,
                            0, "Gemini API version for channels that set none"},
    [CFG_GEMINI_SAFETY_SETTING] = {"gemini-safety-setting", "GEMINI_SAFETY_SETTING", NULL,
                                   CFG_T_STR, "BLOCK_NONE", 0, 0, NULL, 0,
                                   "Gemini safety threshold sent for every category"},
    [CFG_TIKTOKEN_CACHE_DIR] = {"tiktoken-cache-dir", "TIKTOKEN_CACHE_DIR", NULL, CFG_T_STR, NULL,
                                0, 0, NULL, 0,
                                "Directory with cl100k_base.tiktoken and o200k_base.tiktoken "
                                "(contrib/fetch-tiktoken); empty = the installed data dir"},
    [CFG_TEST_PROMPT] = {"test-prompt", "TEST_PROMPT", NULL, CFG_T_STR,
                         "Output only your specific model name with no additional text.", 0, 0,
                         NULL, 0, "Prompt of channel tests"},
    [CFG_POLLING_INTERVAL] = {"polling-interval", "POLLING_INTERVAL", NULL, CFG_T_INT, "0", 0, 3600,
                              NULL, 0, "Seconds between channels in a batch test"},
    [CFG_CHANNEL_TEST_FREQUENCY] = {"channel-test-frequency", "CHANNEL_TEST_FREQUENCY", NULL,
                                    CFG_T_NUM, NULL, 0, 525600, NULL, 0,
                                    "Minutes between automatic tests of all channels (fractions "
                                    "allowed, e.g. 0.5); empty or 0 = never; master nodes only"},
    [CFG_SMTP_ALLOW_INSECURE] = {"smtp-allow-insecure", "SMTP_ALLOW_INSECURE", NULL, CFG_T_BOOL,
                                 "false", 0, 1, NULL, 0,
                                 "Let mail log in without TLS, or with a certificate that does "
                                 "not verify, as One API does; by default SMTPAccount/SMTPToken "
                                 "are only sent over verified TLS"},
    /* The services sign-in and sign-up call; settings so that tests can point them at mocks. */
    [CFG_TURNSTILE_VERIFY_URL] = {"turnstile-verify-url", "TURNSTILE_VERIFY_URL", NULL, CFG_T_STR,
                                  "https://challenges.cloudflare.com/turnstile/v0/siteverify", 0, 0,
                                  NULL, 0, "Cloudflare Turnstile's siteverify endpoint"},
    [CFG_GITHUB_OAUTH_TOKEN_URL] = {"github-oauth-token-url", "GITHUB_OAUTH_TOKEN_URL", NULL,
                                    CFG_T_STR, "https://github.com/login/oauth/access_token", 0, 0,
                                    NULL, 0, "GitHub's OAuth code-for-token endpoint"},
    [CFG_GITHUB_USER_URL] = {"github-user-url", "GITHUB_USER_URL", NULL, CFG_T_STR,
                             "https://api.github.com/user", 0, 0, NULL, 0,
                             "GitHub's endpoint for the signed-in user"},
    [CFG_LARK_OAUTH_TOKEN_URL] = {"lark-oauth-token-url", "LARK_OAUTH_TOKEN_URL", NULL, CFG_T_STR,
                                  "https://open.feishu.cn/open-apis/authen/v2/oauth/token", 0, 0,
                                  NULL, 0, "Feishu/Lark's OAuth code-for-token endpoint"},
    [CFG_LARK_USER_INFO_URL] = {"lark-user-info-url", "LARK_USER_INFO_URL", NULL, CFG_T_STR,
                                "https://passport.feishu.cn/suite/passport/oauth/userinfo", 0, 0,
                                NULL, 0, "Feishu/Lark's endpoint for the signed-in user"},
};

static int parse_bool(const char *s, long long *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "TRUE", "True"};
    static const char *const no[] = {"false", "0", "no", "off", "FALSE", "False", ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!strcmp(s, yes[i]))
            return *out = 1, 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (!strcmp(s, no[i]))
            return *out = 0, 0;
    return -1;
}

static int in_choices(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, s, n))
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Sets key k to text s from source src, validating it. */
static int set_value(struct config *c, enum cfg_key k, const char *s, int src, char *err,
                     size_t errlen)
{
    const struct cfg_def *d = &cfg_defs[k];
    const char *label = d->env ? d->env : d->name;
    long long iv = 0;
    double dv = 0;
    if (d->type == CFG_T_INT) {
        char *end;
        errno = 0;
        iv = strtoll(s, &end, 10);
        if (!*s || *end || errno) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): not an integer", s, label,
                     d->name);
            return -1;
        }
        if (iv < d->min || iv > d->max) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): must be %lld..%lld", s, label,
                     d->name, d->min, d->max);
            return -1;
        }
    } else if (d->type == CFG_T_NUM) {
        char *end = NULL;
        if (*s) { /* empty = unset, as One API reads it */
            errno = 0;
            dv = strtod(s, &end);
        }
        if ((end && (*end || errno)) || !isfinite(dv)) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): not a number", s, label,
                     d->name);
            return -1;
        }
        if (dv < (double)d->min || dv > (double)d->max) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): must be %lld..%lld", s, label,
                     d->name, d->min, d->max);
            return -1;
        }
        iv = (long long)dv;
    } else if (d->type == CFG_T_BOOL) {
        if (parse_bool(s, &iv) < 0) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): expected true or false", s,
                     label, d->name);
            return -1;
        }
    } else if (d->type == CFG_T_ADDRS) {
        char why[128];
        if (*s && !addr_list_valid(s, why, sizeof why)) {
            snprintf(err, errlen, "invalid value '%s' for %s (--%s): %s", s, label, d->name, why);
            return -1;
        }
    } else if (d->choices && *s && !in_choices(d->choices, s)) {
        snprintf(err, errlen, "invalid value '%s' for %s (--%s): expected one of %s", s, label,
                 d->name, d->choices);
        return -1;
    }
    free(c->v[k].s);
    c->v[k].s = xstrdup(s);
    c->v[k].i = iv;
    c->v[k].d = d->type == CFG_T_NUM ? dv : (double)iv;
    c->v[k].source = src;
    return 0;
}

static int find_flag(const char *name, size_t n)
{
    for (int k = 0; k < CFG__MAX; k++)
        if (cfg_defs[k].flag && strlen(cfg_defs[k].flag) == n &&
            !strncmp(cfg_defs[k].flag, name, n))
            return k;
    return -1;
}

static int find_env(const char *name)
{
    for (int k = 0; k < CFG__MAX; k++)
        if (cfg_defs[k].env && !strcmp(cfg_defs[k].env, name))
            return k;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Reads KEY=VALUE lines. Known settings go into c; every variable is also exported (without
 * overriding the real environment) so later code that reads the environment sees it. */
static int load_env_file(struct config *c, const char *path, int explicit_path, char *err,
                         size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (explicit_path && errno != ENOENT) {
            snprintf(err, errlen, "cannot read ENV_FILE %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (!strncmp(s, "export ", 7))
            s = trim(s + 7);
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vn = strlen(val);
        if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0]) {
            val[vn - 1] = '\0';
            val++;
        }
        int k = find_env(key);
        if (k >= 0 && getenv(key))
            continue; /* the environment outranks .env */
        if (k >= 0 && set_value(c, (enum cfg_key)k, val, 1, err, errlen) < 0) {
            rc = -1;
            break;
        }
        setenv(key, val, 0);
    }
    fclose(fp);
    return rc;
}

int config_load(struct config *c, int argc, const char *const *argv, const char *version, char *err,
                size_t errlen)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < CFG__MAX; k++)
        if (cfg_defs[k].def && set_value(c, (enum cfg_key)k, cfg_defs[k].def, 0, err, errlen) < 0)
            return -1;

    /* Flags are parsed first (validated later, in precedence order) so that --env-file,
     * --help and --version act before anything else is read. */
    const char *flagval[CFG__MAX] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            config_print_help(stdout);
            return 1;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("%s\n", version);
            return 1;
        }
        if (!strcmp(a, "--print-config-doc")) {
            config_print_doc(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_flag(name, n);
        if (k < 0) {
            snprintf(err, errlen, "unknown option '%s' (see --help)", a);
            return -1;
        }
        if (eq) {
            flagval[k] = eq + 1;
        } else if (cfg_defs[k].type == CFG_T_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-')) {
            flagval[k] = "true";
        } else {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option --%s needs a value", cfg_defs[k].name);
                return -1;
            }
            flagval[k] = argv[++i];
        }
    }

    const char *envfile = flagval[CFG_ENV_FILE] ? flagval[CFG_ENV_FILE] : getenv("ENV_FILE");
    if (load_env_file(c, envfile ? envfile : ".env", envfile != NULL, err, errlen) < 0)
        return -1;
    for (int k = 0; k < CFG__MAX; k++) {
        const char *e = cfg_defs[k].env ? getenv(cfg_defs[k].env) : NULL;
        if (e && set_value(c, (enum cfg_key)k, e, 2, err, errlen) < 0)
            return -1;
    }
    for (int k = 0; k < CFG__MAX; k++)
        if (flagval[k] && set_value(c, (enum cfg_key)k, flagval[k], 3, err, errlen) < 0)
            return -1;
    return 0;
}

void config_free(struct config *c)
{
    for (int k = 0; k < CFG__MAX; k++) {
        free(c->v[k].s);
        c->v[k].s = NULL;
    }
}

const char *cfg_str(const struct config *c, enum cfg_key k)
{
    return c->v[k].s ? c->v[k].s : "";
}

long long cfg_int(const struct config *c, enum cfg_key k)
{
    return c->v[k].i;
}

double cfg_double(const struct config *c, enum cfg_key k)
{
    return c->v[k].d;
}

void config_print_help(FILE *fp)
{
    fprintf(fp, "Usage: one-api [options]\n\n"
                "One API in C: an OpenAI-compatible LLM gateway run as FastCGI (or CGI) behind\n"
                "nginx, lighttpd or Apache. Precedence: flags > environment > .env > defaults.\n\n"
                "Options (environment variable in brackets):\n");
    for (int k = 0; k < CFG__MAX; k++) {
        const struct cfg_def *d = &cfg_defs[k];
        char left[96];
        if (d->flag)
            snprintf(left, sizeof left, "  --%s%s", d->flag, d->type == CFG_T_BOOL ? "" : " V");
        else
            snprintf(left, sizeof left, "  %s=V", d->env);
        fprintf(fp, "%-30s %s", left, d->doc);
        if (d->env && d->flag)
            fprintf(fp, " [%s]", d->env);
        if (d->def && *d->def)
            fprintf(fp, " (default %s)", d->def);
        fputc('\n', fp);
    }
    fprintf(fp, "  %-28s %s\n  %-28s %s\n  %-28s %s\n", "--help", "Print this help", "--version",
            "Print the version", "--print-config-doc",
            "Print the settings table in Markdown (README)");
}

void config_print_doc(FILE *fp)
{
    fprintf(fp, "| Environment | Flag | Default | Meaning |\n|---|---|---|---|\n");
    for (int k = 0; k < CFG__MAX; k++) {
        const struct cfg_def *d = &cfg_defs[k];
        fprintf(fp, "| %s%s%s | %s%s%s | %s%s%s | %s%s%s |\n", d->env ? "`" : "",
                d->env ? d->env : "", d->env ? "`" : "", d->flag ? "`--" : "",
                d->flag ? d->flag : "", d->flag ? "`" : "", d->def && *d->def ? "`" : "",
                d->def ? d->def : "", d->def && *d->def ? "`" : "", d->doc,
                d->choices ? "; one of " : "", d->choices ? d->choices : "");
    }
}
