/* A tiny TAP producer for unit tests: ok(), is_int(), is_str(), note(), done_testing(). */
#ifndef OA_TAP_H
#define OA_TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__))                                    \
            printf("#   got: %lld\n#   expected: %lld\n", g_, w_);                                 \
    } while (0)
#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                                   \
        if (!tap_ok(same_, __FILE__, __LINE__, __VA_ARGS__))                                       \
            printf("#   got: '%s'\n#   expected: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

__attribute__((format(printf, 4, 5), unused)) static int tap_ok(int pass, const char *file,
                                                                int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass) {
        tap_failed++;
        printf("#   Failed at %s line %d\n", file, line);
    }
    fflush(stdout);
    return pass;
}

__attribute__((format(printf, 1, 2), unused)) static void note(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Prints the plan; returns the process exit status. */
__attribute__((unused)) static int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
