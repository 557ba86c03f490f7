/* The fixture of the adaptor unit tests: one adaptor call's world (an arena, a channel, a
 * context built from the client's request, and the call's outputs), the calls that run the
 * adaptor's operations on it as the relay core does, and the checks of what they produce
 * (JSON compared as values, headers, SSE events, members at a path).
 *
 * Header-only: each unit test is one translation unit, and static inline keeps the helpers a
 * test does not use out of its warnings. It includes tap.h. */
#ifndef OA_TESTS_PROV_FIXTURE_H
#define OA_TESTS_PROV_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "providers/sse.h"
#include "tap.h"

/* The gateway clock and request id a fixture starts with, so that ids and "created" in the
 * adaptor's output are predictable. */
#define PROV_FIXTURE_CREATED 1730000000
#define PROV_FIXTURE_REQUEST_ID "req1"
/* Most SSE events prov_fixture_split_sse reads from one output. */
#define PROV_FIXTURE_MAX_EVENTS 64

/* What every fixture of one test file shares: the adaptor under test and the channel and
 * request details it runs with. Unset strings of ch become "" (as the core hands them). */
struct prov_fixture_spec {
    const struct provider *prov;
    struct prov_channel ch;
    const char *model;      /* the model when neither the test nor the request names one */
    const char *request_id; /* NULL: PROV_FIXTURE_REQUEST_ID */
    int64_t created;        /* 0: PROV_FIXTURE_CREATED */
    const char *credential; /* ctx.credential, as the core's credential cache would give */
};

/* One adaptor call's world. Everything lives in the arena, but req, which the fixture owns;
 * prov_fixture_free releases both. Tests may change any field between init and the call. */
struct prov_fixture {
    const struct provider *prov; /* the adaptor under test */
    struct arena *a;             /* the request arena */
    struct prov_channel ch;      /* a copy of the spec's channel; ctx.ch points at it */
    struct prov_ctx ctx;         /* the attempt, pointing at a, ch and req */
    json_object *req;            /* the parsed client request; NULL when it is not JSON */
    struct prov_request rq;      /* what prov_fixture_build built */
    struct prov_error err;       /* the error of the last call */
    struct strbuf out;           /* what parse_response and parse_event wrote */
    int n_fed;                   /* events prov_fixture_feed_sse handed to parse_event */
};

/* The directory tests/data is under: $top_srcdir, else $srcdir (automake's, the top directory
 * in this non-recursive build), else the current directory. */
static inline const char *prov_fixture_top_dir(void)
{
    const char *d = getenv("top_srcdir");

    if (!d || !*d)
        d = getenv("srcdir");
    return d && *d ? d : ".";
}

/* The test vector tests/data/<set>/<name> read whole into a and NUL-terminated; *len (len may
 * be NULL) its size. NULL, with a note, when it cannot be read. */
static inline char *prov_fixture_data_file(struct arena *a, const char *set, const char *name,
                                           size_t *len)
{
    char *path = arena_printf(a, "%s/tests/data/%s/%s", prov_fixture_top_dir(), set, name);
    FILE *fp = fopen(path, "rb");
    struct strbuf sb;
    char buf[4096];
    size_t n;

    if (!fp) {
        note("cannot open %s", path);
        return NULL;
    }
    sb_init(&sb, a);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        sb_putn(&sb, buf, n);
    fclose(fp);
    if (len)
        *len = sb.len;
    return sb.p ? sb.p : arena_strdup(a, "");
}

/* Sets f up for one call of spec's adaptor in mode, for the client request req_json (NULL:
 * "{}"). The model sent upstream and asked for is model, else the request's "model", else
 * spec->model, else "". ctx.body is req_json (the core's pass-through body); is_stream and
 * include_usage are what the request asks ("stream", "stream_options.include_usage").
 * Release with prov_fixture_free. */
static inline void prov_fixture_init(struct prov_fixture *f, const struct prov_fixture_spec *spec,
                                     enum relay_mode mode, const char *model, const char *req_json)
{
    memset(f, 0, sizeof *f);
    f->prov = spec->prov;
    f->a = arena_new(8192);
    f->ch = spec->ch;
    f->ch.key = f->ch.key ? f->ch.key : "";
    f->ch.base_url = f->ch.base_url ? f->ch.base_url : "";
    f->ch.api_version = f->ch.api_version ? f->ch.api_version : "";
    f->ch.config = f->ch.config ? f->ch.config : "";
    f->ch.gemini_safety = f->ch.gemini_safety ? f->ch.gemini_safety : "";
    if (!req_json)
        req_json = "{}";
    f->req = json_tokener_parse(req_json);
    if (!model && f->req)
        model = json_object_get_string(json_object_object_get(f->req, "model"));
    if (!model)
        model = spec->model ? spec->model : "";
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.model = arena_strdup(f->a, model);
    f->ctx.origin_model = f->ctx.model;
    f->ctx.req = f->req;
    f->ctx.body = req_json;
    f->ctx.body_len = strlen(req_json);
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
    f->ctx.include_usage = json_object_get_boolean(
        json_object_object_get(json_object_object_get(f->req, "stream_options"), "include_usage"));
    f->ctx.request_id = spec->request_id ? spec->request_id : PROV_FIXTURE_REQUEST_ID;
    f->ctx.created = spec->created ? spec->created : PROV_FIXTURE_CREATED;
    f->ctx.credential = spec->credential;
    sb_init(&f->ctx.text, f->a);
    sb_init(&f->out, f->a);
}

/* As prov_fixture_init, with the client request read from the test vector
 * tests/data/<set>/<name> ("{}", with a note, when it cannot be read). */
static inline void prov_fixture_init_file(struct prov_fixture *f,
                                          const struct prov_fixture_spec *spec,
                                          enum relay_mode mode, const char *model, const char *set,
                                          const char *name)
{
    struct arena *tmp = arena_new(8192);
    const char *text = prov_fixture_data_file(tmp, set, name, NULL);

    prov_fixture_init(f, spec, mode, model, text);
    f->ctx.body = arena_strdup(f->a, f->ctx.body);
    arena_free(tmp);
}

/* Releases what prov_fixture_init took: the request and the arena with all outputs. */
static inline void prov_fixture_free(struct prov_fixture *f)
{
    json_object_put(f->req);
    arena_free(f->a);
    f->req = NULL;
    f->a = NULL;
}

/* Runs build_request into f->rq (both f->rq and f->err cleared first); its return value. */
static inline int prov_fixture_build(struct prov_fixture *f)
{
    memset(&f->rq, 0, sizeof f->rq);
    memset(&f->err, 0, sizeof f->err);
    return provider_build_request(f->prov, &f->ctx, &f->rq, &f->err);
}

/* Runs prov_fixture_build; the body it built, or "<error STATUS: MESSAGE>" when it failed, so
 * that one comparison shows either. In f's arena. */
static inline const char *prov_fixture_build_text(struct prov_fixture *f)
{
    if (prov_fixture_build(f) != 0)
        return arena_printf(f->a, "<error %d: %s>", f->err.status,
                            f->err.message ? f->err.message : "");
    return f->rq.body ? f->rq.body : "";
}

/* Hands the upstream's answer body to parse_response as the core does for a 2xx answer or a
 * follow-up's: f->out emptied, ctx.follow_up and f->err cleared first. Its return value. */
static inline int prov_fixture_answer(struct prov_fixture *f, const char *body)
{
    sb_reset(&f->out);
    f->ctx.follow_up = NULL;
    memset(&f->err, 0, sizeof f->err);
    return provider_parse_response(f->prov, &f->ctx, body, strlen(body), &f->out, &f->err);
}

/* Hands one stream event to parse_event, its chunks appended to f->out (f->err cleared
 * first). event is the SSE event name ("" for none, NULL for an NDJSON line); data NULL is
 * the core's last call when the upstream closed without the adaptor having finished. */
static inline int prov_fixture_feed(struct prov_fixture *f, const char *event, const char *data)
{
    memset(&f->err, 0, sizeof f->err);
    return provider_parse_event(f->prov, &f->ctx, event, data, data ? strlen(data) : 0, &f->out,
                                &f->err);
}

/* Hands n NDJSON lines to parse_event one by one as the core does for a line-delimited stream
 * (event ""), stopping at the first failure or once the adaptor says the stream is over.
 * Returns the last value parse_event returned (0 for no line). */
static inline int prov_fixture_feed_lines(struct prov_fixture *f, const char *const *lines, int n)
{
    int rc = 0;

    for (int i = 0; i < n && rc == 0 && !f->ctx.finished; i++)
        rc = prov_fixture_feed(f, "", lines[i]);
    return rc;
}

/* The sse_event_fn that hands each event the SSE parser reads to parse_event, counting them
 * in n_fed; ud is the fixture. Returns parse_event's value, so parsing stops at a failure. */
static inline int prov_fixture_on_sse_event(void *ud, const char *event, const char *data, size_t n)
{
    struct prov_fixture *f = ud;

    f->n_fed++;
    memset(&f->err, 0, sizeof f->err);
    return provider_parse_event(f->prov, &f->ctx, event, data, n, &f->out, &f->err);
}

/* Feeds an upstream's SSE transcript (any line ending) through the relay's SSE parser, set up
 * as the relay sets it up for the adaptor, to parse_event. Returns 0, or the value of the
 * first event parse_event failed (f->n_fed then counts the events fed, that one included). */
static inline int prov_fixture_feed_sse(struct prov_fixture *f, const char *sse)
{
    struct sse_parser p;
    int rc;

    f->n_fed = 0;
    sse_init(&p, f->a, 0);
    p.keeps_data_space = f->prov->sse_keeps_data_space;
    rc = sse_feed(&p, sse, strlen(sse), prov_fixture_on_sse_event, f);
    return rc ? rc : sse_finish(&p, prov_fixture_on_sse_event, f);
}

/* Normalises a non-2xx upstream answer (status, body) into f->err (cleared first) as the core
 * does: the adaptor's parse_error, else provider_error_default. */
static inline void prov_fixture_error(struct prov_fixture *f, int status, const char *body)
{
    memset(&f->err, 0, sizeof f->err);
    provider_parse_error(f->prov, &f->ctx, status, body, strlen(body), &f->err);
}

/* The value of the first header line "name: value" of rq (name as written, one space after
 * the colon, as adaptors write them), or NULL when there is none. */
static inline const char *prov_fixture_header(const struct prov_request *rq, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; i < rq->n_headers; i++)
        if (!strncmp(rq->headers[i], name, n) && !strncmp(rq->headers[i] + n, ": ", 2))
            return rq->headers[i] + n + 2;
    return NULL;
}

/* 1 when rq has the header line line exactly, wherever it stands among its headers. */
static inline int prov_fixture_has_header(const struct prov_request *rq, const char *line)
{
    for (int i = 0; i < rq->n_headers; i++)
        if (!strcmp(rq->headers[i], line))
            return 1;
    return 0;
}

/* 1 when the n bytes at got are the same JSON value as the text want (object members in any
 * order); notes both otherwise. A NULL got, or one that does not parse, fails. */
static inline int prov_fixture_json_eq_n(const char *got, size_t n, const char *want)
{
    char *text = got ? strndup(got, n) : NULL;
    json_object *g = text ? json_tokener_parse(text) : NULL;
    json_object *w = want ? json_tokener_parse(want) : NULL;
    int same = g && w && json_object_equal(g, w);

    if (!same) {
        note("got:  %s", text ? text : "(null)");
        note("want: %s", want ? want : "(null)");
    }
    free(text);
    json_object_put(g);
    json_object_put(w);
    return same;
}

/* prov_fixture_json_eq_n for a NUL-terminated got (or NULL). */
static inline int prov_fixture_json_eq(const char *got, const char *want)
{
    return prov_fixture_json_eq_n(got, got ? strlen(got) : 0, want);
}

/* The member of root at path, dotted keys and array indexes ("choices.0.delta"); *found (may
 * be NULL) tells a JSON null (found, NULL returned) from a missing member. Borrowed from root. */
static inline json_object *prov_fixture_json_get(json_object *root, const char *path, int *found)
{
    json_object *v = root;
    int have = root != NULL;
    const char *p = path;

    while (have && *p) {
        size_t len = strcspn(p, ".");
        char key[128];
        json_object *next = NULL;

        snprintf(key, sizeof key, "%.*s", (int)len, p);
        if (json_object_is_type(v, json_type_array)) {
            char *end;
            long i = strtol(key, &end, 10);

            have = *key && !*end && i >= 0 && (size_t)i < json_object_array_length(v);
            next = have ? json_object_array_get_idx(v, (size_t)i) : NULL;
        } else {
            have = json_object_is_type(v, json_type_object) &&
                   json_object_object_get_ex(v, key, &next);
        }
        v = next;
        p += len + (p[len] == '.');
    }
    if (found)
        *found = have;
    return have ? v : NULL;
}

/* The member at path (as prov_fixture_json_get) of the JSON text json, in a: a string as it
 * is, any other value as compact JSON; NULL when json does not parse or the member is missing
 * or null. */
static inline const char *prov_fixture_json_at(struct arena *a, const char *json, const char *path)
{
    json_object *root = json ? json_tokener_parse(json) : NULL;
    json_object *v = prov_fixture_json_get(root, path, NULL);
    const char *res = NULL;

    if (v)
        res = arena_strdup(a, json_object_is_type(v, json_type_string)
                                  ? json_object_get_string(v)
                                  : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return res;
}

/* The events of an adaptor's SSE output, as prov_fixture_split_sse reads them. */
struct prov_fixture_events {
    const char *data[PROV_FIXTURE_MAX_EVENTS]; /* the text after "data: " of each, in the arena */
    int n;
};

/* Splits an adaptor's SSE output, which must be nothing but "data: X\n\n" events, into the
 * texts X (copies in a). Returns ev->n, how many; -1 when sse holds anything else or more than
 * PROV_FIXTURE_MAX_EVENTS events (ev->n then counts those before). NULL or "" holds none. */
static inline int prov_fixture_split_sse(struct arena *a, const char *sse,
                                         struct prov_fixture_events *ev)
{
    ev->n = 0;
    while (sse && *sse) {
        const char *end = strstr(sse, "\n\n");

        if (strncmp(sse, "data: ", 6) != 0 || !end || ev->n == PROV_FIXTURE_MAX_EVENTS)
            return -1;
        ev->data[ev->n++] = arena_strndup(a, sse + 6, (size_t)(end - sse - 6));
        sse = end + 2;
    }
    return ev->n;
}

/* The text of event i (from 0) of an SSE output as prov_fixture_split_sse reads it, in a; NULL
 * when there is no such event or the output is not made of events only. */
static inline const char *prov_fixture_sse_event(struct arena *a, const char *sse, int i)
{
    struct prov_fixture_events ev;
    int n = prov_fixture_split_sse(a, sse, &ev);

    return i >= 0 && i < n ? ev.data[i] : NULL;
}

/* 1 when event i of f->out is the JSON value want; notes the output when it has no event i. */
static inline int prov_fixture_event_is(struct prov_fixture *f, int i, const char *want)
{
    const char *d = prov_fixture_sse_event(f->a, f->out.p, i);

    if (!d)
        note("no event %d in: %s", i, f->out.p ? f->out.p : "");
    return d && prov_fixture_json_eq(d, want);
}

/* How many events f->out holds; -1 when it holds anything else than "data: X\n\n" events. */
static inline int prov_fixture_n_events(struct prov_fixture *f)
{
    struct prov_fixture_events ev;

    return prov_fixture_split_sse(f->a, f->out.p, &ev);
}

/* Event i of f->out parsed as JSON, owned by f's arena; NULL when there is no such event or it
 * does not parse. */
static inline json_object *prov_fixture_event_json(struct prov_fixture *f, int i)
{
    const char *d = prov_fixture_sse_event(f->a, f->out.p, i);

    return d ? jown(f->a, json_tokener_parse(d)) : NULL;
}

#endif
