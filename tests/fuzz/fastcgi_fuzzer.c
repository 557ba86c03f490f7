/* libFuzzer target: the FastCGI responder (fcgi/fastcgi.c) reading arbitrary records from a
 * web server: requests, params, bodies, management records, aborts, garbage. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/fastcgi.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads what the responder wrote, so its writes never block. */
static void drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fcgi_conn c;
    if (size > 60000)
        size = 60000; /* all of it fits in the socket buffer: the reader never waits */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    int buf = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (size && write(sv[1], data, size) != (ssize_t)size)
        abort();
    shutdown(sv[1], SHUT_WR);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct arena *a = arena_new(4096);
    fcgi_conn_init(&c, sv[0], NULL);
    while (fcgi_begin(&c, a) == 0) {
        const char *m = fcgi_param(&c, "REQUEST_METHOD");
        char body[1000];
        long n, total = 0;
        while ((n = fcgi_read(&c, body, sizeof body)) > 0)
            total += n;
        fcgi_write(&c, "Status: 200\r\n\r\n", 15);
        if (m)
            fcgi_write(&c, m, strlen(m));
        fcgi_flush(&c);
        int keep = fcgi_end(&c);
        drain(sv[1]);
        arena_reset(a);
        if (!keep || (total < 0))
            break;
    }
    drain(sv[1]);
    close(sv[0]);
    close(sv[1]);
    arena_free(a);
    return 0;
}
