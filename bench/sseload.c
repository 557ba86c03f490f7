/* sseload: opens N concurrent streaming requests (spread over a ramp) with one epoll thread
 * and reports how many completed with "data: [DONE]" and the time to the first "data:"
 * event. A C client, so the load generator is not what is measured (a Python asyncio client
 * took a core of its own at 2,000 streams).
 *
 *   sseload HOST PORT PATH N RAMP_MS KEY BODY_FILE
 * Prints: "<ok> ok <failed> failed   first event p50 <ms> ms  p99 <ms> ms" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t sent;
    double t0, first;
    int done, ok;
    char tail[16]; /* last bytes seen, for markers split across reads */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Looks for s in tail+buf without copying the whole buffer. */
static int seen(const struct conn *c, const char *buf, size_t n, const char *s)
{
    char joint[64];
    size_t tl = strlen(c->tail), sl = strlen(s);
    size_t k = n < sl ? n : sl;
    memcpy(joint, c->tail, tl);
    memcpy(joint + tl, buf, k);
    joint[tl + k] = '\0';
    return strstr(joint, s) || memmem(buf, n, s, sl);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: sseload HOST PORT PATH N RAMP_MS KEY BODY_FILE\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3], *key = argv[6];
    int port = atoi(argv[2]), n = atoi(argv[4]);
    double ramp = atof(argv[5]);
    FILE *bf = fopen(argv[7], "rb");
    if (!bf || n <= 0) {
        perror("body");
        return 2;
    }
    static char body[65536];
    size_t bl = fread(body, 1, sizeof body, bf);
    fclose(bf);
    char *req;
    int rl = asprintf(&req,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Authorization: Bearer sk-%s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%.*s",
                      path, host, key, bl, (int)bl, body);
    if (rl < 0)
        return 2;
    struct rlimit rlim;
    if (getrlimit(RLIMIT_NOFILE, &rlim) == 0) {
        rlim.rlim_cur = rlim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rlim);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0), opened = 0, finished = 0;
    double start = now_ms();
    char buf[65536];
    while (finished < n) {
        double t = now_ms();
        while (opened < n && t - start >= ramp * opened / n) {
            struct conn *c = &cs[opened];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->t0 = now_ms();
            if (c->fd < 0 ||
                (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
                c->done = 1;
                finished++;
            } else {
                struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN,
                                         .data.u32 = (uint32_t)opened};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            }
            opened++;
        }
        struct epoll_event evs[256];
        int timeout = opened < n ? 1 : 1000;
        int k = epoll_wait(ep, evs, 256, timeout);
        for (int i = 0; i < k; i++) {
            struct conn *c = &cs[evs[i].data.u32];
            if (c->done)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->sent < (size_t)rl) {
                ssize_t w = write(c->fd, req + c->sent, (size_t)rl - c->sent);
                if (w > 0)
                    c->sent += (size_t)w;
                if (c->sent == (size_t)rl) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    ssize_t r = read(c->fd, buf, sizeof buf);
                    if (r > 0) {
                        if (!c->first && seen(c, buf, (size_t)r, "data:"))
                            c->first = now_ms() - c->t0;
                        if (seen(c, buf, (size_t)r, "[DONE]"))
                            c->ok = 1;
                        size_t keep =
                            (size_t)r < sizeof c->tail - 1 ? (size_t)r : sizeof c->tail - 1;
                        memcpy(c->tail, buf + r - keep, keep);
                        c->tail[keep] = '\0';
                        continue;
                    }
                    if (r < 0 && errno == EAGAIN)
                        break;
                    c->done = 1;
                    finished++;
                    close(c->fd);
                    break;
                }
            }
        }
    }
    double *ttfb = calloc((size_t)n, sizeof *ttfb);
    int ok = 0;
    for (int i = 0; i < n; i++)
        if (cs[i].ok && cs[i].first > 0)
            ttfb[ok++] = cs[i].first;
    qsort(ttfb, (size_t)ok, sizeof *ttfb, cmp);
    double p50 = ok ? ttfb[(int)(ok * 0.5)] : 0, p99 = ok ? ttfb[(int)(ok * 0.99)] : 0;
    printf("%6d ok %5d failed   first event p50 %8.2f ms  p99 %8.2f ms\n", ok, n - ok, p50, p99);
    return 0;
}
