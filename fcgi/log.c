/* log: one mutex-guarded sink, stderr plus a daily file. */
#include "config.h"
#include "fcgi/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The log sink is process state by nature (DESIGN.md: the app lifetime); the mutex guards it. */
static struct {
    pthread_mutex_t mu;
    char dir[4096]; /* log directory, "" for stderr only */
    int only_one;   /* one oneapi.log instead of daily files */
    int debug;      /* write DEBUG lines */
    FILE *fp;       /* open log file or NULL */
    int day;        /* yyyymmdd of fp, to roll over at midnight */
} lg = {.mu = PTHREAD_MUTEX_INITIALIZER};

int log_init(const char *dir, int only_one, int debug)
{
    lg.only_one = only_one;
    lg.debug = debug;
    lg.dir[0] = '\0';
    if (!dir || !*dir)
        return 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "[WARN] cannot create log dir %s: %s; logging to stderr only\n", dir,
                strerror(errno));
        return -1;
    }
    snprintf(lg.dir, sizeof lg.dir, "%s", dir);
    return 0;
}

void log_fini(void)
{
    pthread_mutex_lock(&lg.mu);
    if (lg.fp)
        fclose(lg.fp);
    lg.fp = NULL;
    pthread_mutex_unlock(&lg.mu);
}

/* Caller holds lg.mu. */
static FILE *log_file(const struct tm *tm)
{
    if (!lg.dir[0])
        return NULL;
    int day = (tm->tm_year + 1900) * 10000 + (tm->tm_mon + 1) * 100 + tm->tm_mday;
    if (lg.fp && (lg.only_one || day == lg.day))
        return lg.fp;
    if (lg.fp)
        fclose(lg.fp);
    char path[4200];
    if (lg.only_one)
        snprintf(path, sizeof path, "%s/oneapi.log", lg.dir);
    else
        snprintf(path, sizeof path, "%s/oneapi-%08d.log", lg.dir, day);
    lg.fp = fopen(path, "a");
    lg.day = day;
    if (!lg.fp) {
        fprintf(stderr, "[WARN] cannot open %s: %s\n", path, strerror(errno));
        lg.dir[0] = '\0';
    }
    return lg.fp;
}

static void emit(const char *line, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    pthread_mutex_lock(&lg.mu);
    fwrite(line, 1, n, stderr);
    FILE *fp = log_file(&tm);
    if (fp) {
        fwrite(line, 1, n, fp);
        fflush(fp);
    }
    pthread_mutex_unlock(&lg.mu);
}

void log_write(enum log_level lv, const char *file, int line, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERR"};
    if (lv == LOG_LEVEL_DEBUG && !lg.debug)
        return;
    char buf[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n = snprintf(buf, sizeof buf, "[%s] %04d/%02d/%02d - %02d:%02d:%02d | %s:%d | ", names[lv],
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     file, line);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    emit(buf, len);
}

void log_access(const char *request_id, int status, double ms, const char *ip, const char *method,
                const char *path)
{
    char buf[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n =
        snprintf(buf, sizeof buf,
                 "[GIN] %04d/%02d/%02d - %02d:%02d:%02d | %s | %3d | %10.3fms | %15s | %-7s %s\n",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 request_id, status, ms, ip, method, path);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        n = sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    emit(buf, (size_t)n);
}
