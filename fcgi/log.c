/* log: stderr plus a daily file, a line per write(2). */
#include "config.h"
#include "fcgi/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The log sink is process state by nature (it lives as long as the app). Lines go out with
 * one write(2) each on O_APPEND descriptors, which the kernel keeps whole, so writers take
 * no lock: a mutex held across two writes per request serialised every worker at high
 * request rates. The mutex only guards opening the next day's file. */
static struct {
    pthread_mutex_t mu;
    char dir[4096];      /* log directory: written by log_init, read under mu */
    atomic_int has_file; /* a log file is wanted and openable; read without the lock */
    int only_one;        /* one oneapi.log instead of daily files */
    int debug;           /* write DEBUG lines */
    atomic_int fd;       /* open log file or -1 */
    int old_fd;          /* the previous day's, closed at the next roll-over (a writer may still
                          * hold its number for a moment) */
    atomic_int day;      /* yyyymmdd of fd, to roll over at midnight */
} lg = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .old_fd = -1};

int log_init(const char *dir, int only_one, int debug)
{
    lg.only_one = only_one;
    lg.debug = debug;
    lg.dir[0] = '\0';
    atomic_store(&lg.has_file, 0);
    if (!dir || !*dir)
        return 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "[WARN] cannot create log dir %s: %s; logging to stderr only\n", dir,
                strerror(errno));
        return -1;
    }
    snprintf(lg.dir, sizeof lg.dir, "%s", dir);
    atomic_store(&lg.has_file, 1);
    return 0;
}

void log_fini(void)
{
    pthread_mutex_lock(&lg.mu);
    int fd = atomic_exchange(&lg.fd, -1);
    if (fd >= 0)
        close(fd);
    if (lg.old_fd >= 0)
        close(lg.old_fd);
    lg.old_fd = -1;
    atomic_store(&lg.day, 0);
    pthread_mutex_unlock(&lg.mu);
}

/* The file for the day of tm, opened when the day changes; -1 when there is none. */
static int log_fd(const struct tm *tm)
{
    if (!atomic_load(&lg.has_file))
        return -1;
    int day = (tm->tm_year + 1900) * 10000 + (tm->tm_mon + 1) * 100 + tm->tm_mday;
    int fd = atomic_load(&lg.fd);
    if (fd >= 0 && (lg.only_one || day == atomic_load(&lg.day)))
        return fd;
    pthread_mutex_lock(&lg.mu);
    fd = atomic_load(&lg.fd);
    if (atomic_load(&lg.has_file) && !(fd >= 0 && (lg.only_one || day == atomic_load(&lg.day)))) {
        char path[4200];
        if (lg.only_one)
            snprintf(path, sizeof path, "%s/oneapi.log", lg.dir);
        else
            snprintf(path, sizeof path, "%s/oneapi-%08d.log", lg.dir, day);
        int nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (nfd < 0) {
            fprintf(stderr, "[WARN] cannot open %s: %s\n", path, strerror(errno));
            atomic_store(&lg.has_file, 0); /* stderr only from now on */
        } else {
            if (lg.old_fd >= 0)
                close(lg.old_fd);
            lg.old_fd = fd;
            atomic_store(&lg.day, day);
            atomic_store(&lg.fd, nfd);
        }
        fd = nfd;
    }
    pthread_mutex_unlock(&lg.mu);
    return fd;
}

static void write_line(int fd, const char *line, size_t n)
{
    while (n) {
        ssize_t w = write(fd, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a failing log */
        line += w;
        n -= (size_t)w;
    }
}

static void emit(const char *line, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    write_line(STDERR_FILENO, line, n);
    int fd = log_fd(&tm);
    if (fd >= 0)
        write_line(fd, line, n);
}

static void log_vwrite(enum log_level lv, const char *file, int line, const char *err,
                       const char *fmt, va_list ap)
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
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (err && len < sizeof buf - 2) {
        m = snprintf(buf + len, sizeof buf - len - 1, ": %s", err);
        len += m < 0 ? 0 : (size_t)m;
    }
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    emit(buf, len);
}

void log_write(enum log_level lv, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lv, file, line, NULL, fmt, ap);
    va_end(ap);
}

void log_perror(enum log_level lv, const char *file, int line, const char *fmt, ...)
{
    char err[128];
    /* strerror_r is thread-safe; this is GNU's, which may return a static string. */
    const char *text = strerror_r(errno, err, sizeof err);
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(lv, file, line, text, fmt, ap);
    va_end(ap);
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
