/* Logging to stderr and <log-dir>/oneapi-YYYYMMDD.log. Never pass a secret to these. */
#ifndef OA_LOG_H
#define OA_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Opens the log directory (created if missing). dir NULL or "" logs to stderr only.
 * only_one: write oneapi.log instead of daily files. Returns 0, or -1 if dir cannot be made
 * (then logging continues on stderr). Call once at start-up before threads exist. */
int log_init(const char *dir, int only_one, int debug);
/* Closes the log file. */
void log_fini(void);
/* Writes one line: "[LEVEL] YYYY/MM/DD - hh:mm:ss | file:line | message". Thread-safe. */
void log_write(enum log_level lv, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), cold));
/* log_write with ": <strerror(errno)>" appended (errno as it was at the call). */
void log_perror(enum log_level lv, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), cold));
/* Writes one access line: "[GIN] time | request id | status | latency | ip | method path". */
void log_access(const char *request_id, int status, double ms, const char *ip, const char *method,
                const char *path);

#define LOG_DEBUG(...) log_write(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_ERR(...) log_write(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
/* An error from a system call: the message, then ": " and errno's text. */
#define LOG_PERR(...) log_perror(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_PWARN(...) log_perror(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
/* A broken invariant: logged at error level with the place, for a developer to fix. */
#define LOG_BUG(...) log_write(LOG_LEVEL_ERROR, __FILE__, __LINE__, "BUG: " __VA_ARGS__)

#endif
