/* libFuzzer target: the FastCGI responder (fcgi/fastcgi.c) reading arbitrary records from a
 * web server: requests, params, bodies, management records, aborts, garbage, arriving in
 * pieces whose sizes come from the input (a drip of single bytes, headers split anywhere).
 *
 * Input: one control byte c, then (c & 7) chunk sizes, then the bytes the web server sends.
 * With no chunk sizes the bytes arrive at once; otherwise in chunks of the listed sizes in
 * turn (0 counts as 1: a drip). A feeder thread writes a chunk only once the responder has
 * read everything before it, so every read sees chunk boundaries exactly as given. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/fastcgi.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
    int rd, wr; /* responder's end (to watch its unread bytes), feeder's end */
    const uint8_t *sizes, *p;
    size_t n_sizes, n;
    atomic_int done; /* the responder is finished: stop feeding */
};

/* Reads what the responder wrote, so its writes never wait. */
static void drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void *feeder(void *arg)
{
    struct feed *f = arg;
    size_t off = 0;
    for (size_t j = 0; off < f->n && !atomic_load(&f->done); j++) {
        size_t k = f->n_sizes ? f->sizes[j % f->n_sizes] : f->n;
        if (k == 0)
            k = 1;
        if (k > f->n - off)
            k = f->n - off;
        size_t sent = 0;
        while (sent < k && !atomic_load(&f->done)) {
            ssize_t w = write(f->wr, f->p + off + sent, k - sent);
            if (w > 0)
                sent += (size_t)w;
            else
                sched_yield(); /* the socket buffer is full: the responder is reading */
            drain(f->wr);
        }
        off += k;
        /* Wait until the responder has read this chunk (or stopped). */
        int unread = 1;
        while (!atomic_load(&f->done) && ioctl(f->rd, FIONREAD, &unread) == 0 && unread > 0) {
            drain(f->wr);
            sched_yield();
        }
    }
    shutdown(f->wr, SHUT_WR);
    while (!atomic_load(&f->done)) {
        drain(f->wr);
        struct pollfd p = {.fd = f->wr, .events = POLLIN};
        poll(&p, 1, 1);
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fcgi_conn c;
    /* Short deadlines: a feeder never pauses that long, and a stuck input ends quickly. */
    static const struct fcgi_limits lim = {
        .head_ms = 2000, .io_ms = 2000, .max_conns = 100, .max_reqs = 10};
    if (size < 1)
        return 0;
    size_t n_sizes = data[0] & 7;
    if (size < 1 + n_sizes)
        return 0;
    struct feed f = {.sizes = data + 1, .n_sizes = n_sizes, .p = data + 1 + n_sizes};
    f.n = size - 1 - n_sizes;
    if (f.n > 60000)
        f.n = 60000;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    f.rd = sv[0];
    f.wr = sv[1];
    atomic_init(&f.done, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, feeder, &f) != 0)
        abort();
    struct arena *a = arena_new(4096);
    fcgi_conn_init(&c, sv[0], &lim);
    while (fcgi_begin(&c, a) == 0) {
        const char *m = fcgi_param(&c, "REQUEST_METHOD");
        char body[1000];
        /* Drain the body: the reader must survive any record sequence; a failed read (n < 0)
         * ends the connection. */
        long n;
        while ((n = fcgi_read(&c, body, sizeof body)) > 0)
            ;
        if (m && !strcmp(m, "STREAM"))
            fcgi_stream(&c);
        fcgi_write(&c, "Status: 200\r\n\r\n", 15);
        if (m)
            fcgi_write(&c, m, strlen(m));
        fcgi_flush(&c);
        int keep = fcgi_end(&c);
        arena_reset(a);
        if (!keep || n < 0)
            break;
    }
    atomic_store(&f.done, 1);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    arena_free(a);
    return 0;
}
