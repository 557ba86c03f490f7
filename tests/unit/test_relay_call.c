/* Unit tests for relay_call (handlers/relay/relay.c), the one non-stream upstream call of the
 * relay and the channel tests: each stage against a scripted local HTTP server. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/relay/upstream.h"
#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "tests/unit/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The scripted server: every connection gets the current answer after delay_ms. */
struct server {
    int fd;             /* listening socket */
    int port;           /* its port */
    pthread_mutex_t mu; /* guards answer and delay_ms */
    const char *answer; /* the raw HTTP answer to send */
    const char *then;   /* when set, the answer from the second request on */
    int delay_ms;       /* wait before answering */
    int n_requests;     /* connections served */
    char line[256];     /* the request line of the last request */
};

static void *serve(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL; /* the listening socket was shut down: the test is over */
        char buf[8192];
        size_t got = 0;
        ssize_t n;
        /* The request's head and its small body arrive in a few reads: wait for the body. */
        while (got < sizeof buf - 1 && (n = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            const char *end = strstr(buf, "\r\n\r\n");
            const char *cl = strstr(buf, "Content-Length: ");
            if (end && (!cl || got >= (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16)))
                break;
        }
        pthread_mutex_lock(&s->mu);
        const char *answer = s->answer;
        if (s->then) {
            s->answer = s->then;
            s->then = NULL;
        }
        int delay = s->delay_ms;
        s->n_requests++;
        snprintf(s->line, sizeof s->line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
        pthread_mutex_unlock(&s->mu);
        if (delay)
            nanosleep(&(struct timespec){delay / 1000, (long)(delay % 1000) * 1000000L}, NULL);
        if (write(c, answer, strlen(answer)) < 0)
            perror("write");
        close(c);
    }
}

static void script(struct server *s, const char *answer, int delay_ms)
{
    pthread_mutex_lock(&s->mu);
    s->answer = answer;
    s->delay_ms = delay_ms;
    s->then = NULL;
    pthread_mutex_unlock(&s->mu);
}

/* A fake adaptor: POSTs to the URL in the channel's base_url; the model "fail-build" cannot
 * be built; a body of "bad" cannot be read; anything else is passed through with usage. */
static int fake_build(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (!strcmp(ctx->model, "fail-build")) {
        *err = (struct prov_error){400, "cannot build", "invalid_request_error", NULL, "x"};
        return -1;
    }
    out->url = ctx->ch->base_url;
    out->body = ctx->body;
    out->body_len = ctx->body_len;
    return 0;
}

static int fake_parse(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                      struct prov_error *err)
{
    if (n == 3 && !memcmp(body, "bad", 3)) {
        err->message = "unreadable";
        return -1;
    }
    sb_putn(out, body, n);
    ctx->usage.has_usage = 1;
    return 0;
}

static int fake_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                      struct strbuf *out, struct prov_error *err)
{
    (void)ctx, (void)event, (void)data, (void)n, (void)out, (void)err;
    return 0;
}

static const struct provider fake = {
    .name = "fake",
    .build_request = fake_build,
    .parse_response = fake_parse,
    .parse_event = fake_event,
};

/* A fake adaptor that follows up: an answer "again" asks for a GET of the channel's base URL
 * with "/poll" appended after 100 ms; any other answer is the output. */
static int follow_parse(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                        struct prov_error *err)
{
    (void)err;
    int *calls = ctx->state;
    (*calls)++;
    if (n == 5 && !memcmp(body, "again", 5)) {
        struct prov_request *rq = arena_calloc(ctx->a, 1, sizeof *rq);
        rq->url = arena_printf(ctx->a, "%s/poll", ctx->ch->base_url);
        rq->headers[rq->n_headers++] = "X-Follow: 1";
        rq->delay_ms = 100;
        ctx->follow_up = rq;
        return PROV_FOLLOW_UP;
    }
    sb_putn(out, body, n);
    return 0;
}

static const struct provider follow = {
    .name = "follow",
    .build_request = fake_build,
    .parse_response = follow_parse,
    .parse_event = fake_event,
    .may_follow_up = 1,
};

/* The same, without may_follow_up: its PROV_FOLLOW_UP is a broken answer. */
static const struct provider rogue = {
    .name = "rogue",
    .build_request = fake_build,
    .parse_response = follow_parse,
    .parse_event = fake_event,
};

/* Runs relay_call through adaptor p with timeout_s; *calls counts parse_response calls. */
static int call_p(struct arena *a, void *curl, const struct provider *p, const char *url,
                  long timeout_s, int *calls, struct upstream_answer *ans, struct strbuf *out,
                  struct prov_error *err)
{
    static struct prov_channel ch;
    ch = (struct prov_channel){.base_url = url, .key = "", .api_version = "", .config = ""};
    struct prov_ctx ctx = {.a = a,
                           .mode = RELAY_CHAT,
                           .ch = &ch,
                           .model = "m",
                           .origin_model = "m",
                           .body = "{}",
                           .body_len = 2,
                           .request_id = "t",
                           .state = calls};
    sb_init(&ctx.text, a);
    sb_init(&ans->body, a);
    sb_init(out, a);
    struct relay_call_opts o = {
        .curl = curl, .timeout_s = timeout_s, .proxy = "", .max_answer = 1024};
    return relay_call(&o, p, &ctx, ans, out, err);
}

static int stop_now(void *ud)
{
    (void)ud;
    return 1;
}

/* Runs relay_call for model against url; the stage, with the answer, output and error. */
static int call(struct arena *a, void *curl, const char *url, const char *model, size_t max_answer,
                int (*should_stop)(void *), struct upstream_answer *ans, struct strbuf *out,
                struct prov_error *err)
{
    static struct prov_channel ch;
    ch = (struct prov_channel){.base_url = url, .key = "", .api_version = "", .config = ""};
    struct prov_ctx ctx = {.a = a,
                           .mode = RELAY_CHAT,
                           .ch = &ch,
                           .model = model,
                           .origin_model = model,
                           .body = "{}",
                           .body_len = 2,
                           .content_type = "application/json",
                           .request_id = "t"};
    sb_init(&ctx.text, a);
    sb_init(&ans->body, a);
    sb_init(out, a);
    struct relay_call_opts o = {.curl = curl,
                                .timeout_s = 10,
                                .proxy = "",
                                .max_answer = max_answer,
                                .should_stop = should_stop};
    return relay_call(&o, &fake, &ctx, ans, out, err);
}

int main(void)
{
    struct server s = {.delay_ms = 0};
    pthread_mutex_init(&s.mu, NULL);
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (s.fd < 0 || bind(s.fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s.fd, 8) < 0 ||
        getsockname(s.fd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("listen");
        return 1;
    }
    s.port = ntohs(sa.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, serve, &s);

    struct arena *a = arena_new(16384);
    void *curl = upstream_handle_new();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s.port);
    struct upstream_answer ans;
    struct strbuf out;
    struct prov_error err;

    script(&s,
           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n"
           "Connection: close\r\n\r\n{\"ok\":1}",
           0);
    is_int(call(a, curl, url, "m", 1024, NULL, &ans, &out, &err), RELAY_CALL_OK, "200: OK");
    is_str(out.p, "{\"ok\":1}", "the adaptor's conversion is the output");
    ok(ans.status == 200 && !strcmp(ans.ctype, "application/json"),
       "the answer's status and Content-Type are kept");

    script(&s, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 0);
    is_int(call(a, curl, url, "m", 1024, NULL, &ans, &out, &err), RELAY_CALL_OK,
           "201 is a success too");

    script(&s,
           "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 57\r\nConnection: close\r\n\r\n"
           "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limited\"}}  ",
           0);
    is_int(call(a, curl, url, "m", 1024, NULL, &ans, &out, &err), RELAY_CALL_STATUS,
           "429: a status failure");
    ok(err.status == 429 && !strcmp(err.message, "slow down") && !strcmp(err.type, "rate_limited"),
       "an adaptor without parse_error gets the default normalisation (%d %s)", err.status,
       err.message ? err.message : "(null)");

    script(&s, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops", 0);
    call(a, curl, url, "m", 1024, NULL, &ans, &out, &err);
    ok(err.status == 502 && !strcmp(err.message, "bad response status code 502") &&
           !strcmp(err.code, "bad_response_status_code"),
       "a body that is not JSON: bad response status code N");

    script(&s, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad", 0);
    is_int(call(a, curl, url, "m", 1024, NULL, &ans, &out, &err), RELAY_CALL_PARSE,
           "an unreadable 2xx answer is a parse failure");
    ok(err.status == 500 && !strcmp(err.message, "unreadable"), "status 500, the adaptor's words");

    int before = s.n_requests;
    is_int(call(a, curl, url, "fail-build", 1024, NULL, &ans, &out, &err), RELAY_CALL_BUILD,
           "a request the adaptor cannot build");
    ok(err.status == 400 && s.n_requests == before, "fails with its error, and nothing is sent");

    script(&s,
           "HTTP/1.1 200 OK\r\nContent-Length: 62\r\nConnection: close\r\n\r\n"
           "{\"pad\":\"0123456789012345678901234567890123456789012345678901\"}",
           0);
    is_int(call(a, curl, url, "m", 16, NULL, &ans, &out, &err), RELAY_CALL_TRANSPORT,
           "an answer over the limit fails the call");
    ok(err.status == 500 && !strcmp(err.message, "upstream answer too large") &&
           !strcmp(err.code, "do_request_failed"),
       "500 do_request_failed: upstream answer too large");

    char closed[64];
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in pa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t pl = sizeof pa;
    bind(probe, (struct sockaddr *)&pa, sizeof pa);
    getsockname(probe, (struct sockaddr *)&pa, &pl);
    close(probe); /* a port nobody listens on */
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d/", ntohs(pa.sin_port));
    is_int(call(a, curl, closed, "m", 1024, NULL, &ans, &out, &err), RELAY_CALL_TRANSPORT,
           "a refused connection is a transport failure");
    ok(err.status == 500 && err.message && *err.message, "with the transport's reason (%s)",
       err.message ? err.message : "(null)");

    script(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 3000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    is_int(call(a, curl, url, "m", 1024, stop_now, &ans, &out, &err), RELAY_CALL_ABORTED,
           "should_stop ends a slow call");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ok(t1.tv_sec - t0.tv_sec < 3, "before the upstream answers");

    /* Follow-ups: the core performs the adaptor's next request and feeds its answer back. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/task", s.port);
    script(&s, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: close\r\n\r\nagain", 0);
    int calls = 0;
    before = s.n_requests;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    is_int(call_p(a, curl, &follow, url, 3, &calls, &ans, &out, &err), RELAY_CALL_TRANSPORT,
           "follow-ups that never settle end at the relay timeout");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ok(err.status == 500 && !strcmp(err.code, "do_request_failed") &&
           strstr(err.message, "did not finish within 3 seconds"),
       "500 do_request_failed: the task did not finish (%s)", err.message ? err.message : "");
    ok(t1.tv_sec - t0.tv_sec >= 2 && t1.tv_sec - t0.tv_sec <= 5, "after about 3 s (%ld s)",
       (long)(t1.tv_sec - t0.tv_sec));
    ok(s.n_requests - before >= 10 && calls == s.n_requests - before,
       "each answer went to the adaptor (%d requests, %d answers)", s.n_requests - before, calls);
    pthread_mutex_lock(&s.mu);
    is_str(s.line, "GET /task/poll HTTP/1.1", "a follow-up without a body is a GET of its URL");
    pthread_mutex_unlock(&s.mu);

    script(&s, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: close\r\n\r\nagain", 0);
    pthread_mutex_lock(&s.mu);
    s.then = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone";
    pthread_mutex_unlock(&s.mu);
    calls = 0;
    before = s.n_requests;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    is_int(call_p(a, curl, &follow, url, 10, &calls, &ans, &out, &err), RELAY_CALL_OK,
           "a follow-up whose answer settles ends the call");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    is_str(out.p, "done", "the output is the adaptor's conversion of the last answer");
    ok(s.n_requests - before == 2 && calls == 2, "two requests, two answers read");
    ok((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 100,
       "after the follow-up's delay");

    script(&s, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: close\r\n\r\nagain", 0);
    calls = 0;
    before = s.n_requests;
    is_int(call_p(a, curl, &rogue, url, 10, &calls, &ans, &out, &err), RELAY_CALL_PARSE,
           "an adaptor without may_follow_up cannot ask for one");
    ok(err.status == 500 && s.n_requests - before == 1, "500, and nothing more is sent");

    upstream_handle_free(curl);
    arena_free(a);
    shutdown(s.fd, SHUT_RDWR); /* ends the server thread's accept */
    pthread_join(th, NULL);
    close(s.fd);
    return done_testing();
}
