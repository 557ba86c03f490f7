/* usercontent: fetching the image URLs of chat prompts with libcurl (HEAD and a partial GET
 * for the size, a whole GET for inlining), each URL at most once per request. */
#include "config.h"
#include "handlers/relay/usercontent.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/imagesize.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"
#include "handlers/relay/upstream.h"

#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The size is read from at most this much of the start of an image (JPEG metadata can put
 * the frame header far in). */
#define SIZE_PREFIX_MAX (1u << 20)
#define MAX_REDIRECTS 5L

/* What the request learnt of one URL. */
struct entry {
    struct entry *next;
    const char *url;
    int sized;         /* size_rc, w and h are known */
    int size_rc;       /* usercontent_image_size's answer */
    int w, h;          /* pixels; 0 x 0 for a non-image */
    int fetched;       /* data or why is known */
    json_object *data; /* the data: URL, owned by the arena; NULL when the fetch failed */
    const char *why;   /* why it failed */
};

struct usercontent {
    struct arena *a;
    void *curl;
    const char *proxy;
    long timeout_s;
    struct entry *seen;
};

struct usercontent *usercontent_new(struct arena *a, void *curl, const char *proxy, long timeout_s)
{
    struct usercontent *uc = arena_calloc(a, 1, sizeof *uc);
    uc->a = a;
    uc->curl = curl;
    uc->proxy = proxy && *proxy ? arena_strdup(a, proxy) : NULL;
    uc->timeout_s = timeout_s > 0 ? timeout_s : 0;
    return uc;
}

static struct entry *entry_of(struct usercontent *uc, const char *url)
{
    for (struct entry *e = uc->seen; e; e = e->next)
        if (!strcmp(e->url, url))
            return e;
    struct entry *e = arena_calloc(uc->a, 1, sizeof *e);
    e->url = arena_strdup(uc->a, url);
    e->next = uc->seen;
    uc->seen = e;
    return e;
}

/* The URL without its query and fragment, for messages and logs: a signed URL's signature
 * stays out of them. */
static const char *url_shown(struct arena *a, const char *url)
{
    return arena_strndup(a, url, strcspn(url, "?#"));
}

int usercontent_is_image_type(const char *ctype)
{
    return ctype && !strncasecmp(ctype, "image/", 6) && ctype[6] && ctype[6] != ';';
}

/* ---------------------------------------------------------------- one transfer */

struct xfer {
    struct strbuf body; /* on the heap: an image may be large, and is copied once encoded */
    size_t max;         /* bytes kept */
    int too_big;        /* the body went over max (a whole fetch fails) */
    int want_size;      /* stop as soon as the start of the body tells the size */
    int sized;          /* it did: w and h */
    int w, h;
    char ctype[128]; /* the final answer's Content-Type */
};

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    upstream_track_ctype(p, sz * n, x->ctype, sizeof x->ctype);
    return sz * n;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = sz * n;
    if (x->body.len + len > x->max) {
        if (!x->want_size) {
            x->too_big = 1;
            return 0; /* stops the transfer */
        }
        len = x->max - x->body.len;
    }
    sb_putn(&x->body, p, len);
    if (x->want_size && imagesize_of(x->body.p, x->body.len, &x->w, &x->h) == 0) {
        x->sized = 1;
        return 0; /* enough: the rest of the image is not needed */
    }
    return x->body.len >= x->max && x->want_size ? 0 : sz * n;
}

/* GET (or HEAD) url into x. 0 with *status when an answer came (or the size was read), else
 * -1 with the reason in err. */
static int perform(struct usercontent *uc, const char *url, int head, struct xfer *x, long *status,
                   char *err, size_t errlen)
{
    CURL *c = uc->curl;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        /* A client's URL may only lead to http(s), whatever its redirects say. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, uc->timeout_s);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (uc->proxy)
        curl_easy_setopt(c, CURLOPT_PROXY, uc->proxy);
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && (x->sized || x->want_size)))
        return 0;
    if (x->too_big)
        snprintf(err, errlen, "the image is larger than %u MiB", USERCONTENT_MAX_IMAGE >> 20);
    else
        snprintf(err, errlen, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
    return -1;
}

/* ---------------------------------------------------------------- size */

/* HEAD, then the start of a GET. */
static int fetch_size(struct usercontent *uc, struct entry *e)
{
    struct xfer x = {.max = 0};
    long status;
    char err[CURL_ERROR_SIZE + 64];
    sb_init(&x.body, NULL);
    if (perform(uc, e->url, 1, &x, &status, err, sizeof err) < 0) {
        LOG_INFO("image URL %s: HEAD failed: %s", url_shown(uc->a, e->url), err);
        sb_free(&x.body);
        return -1;
    }
    if (!usercontent_is_image_type(x.ctype)) {
        /* Not an image: One API prices it as an image of no tiles. */
        e->w = e->h = 0;
        sb_free(&x.body);
        return 0;
    }
    x = (struct xfer){.max = SIZE_PREFIX_MAX, .want_size = 1};
    sb_init(&x.body, NULL);
    int rc = perform(uc, e->url, 0, &x, &status, err, sizeof err);
    if (rc == 0 && !x.sized && imagesize_of(x.body.p, x.body.len, &x.w, &x.h) == 0)
        x.sized = 1;
    if (rc < 0)
        LOG_INFO("image URL %s: GET failed: %s", url_shown(uc->a, e->url), err);
    else if (!x.sized)
        LOG_INFO("image URL %s: no PNG, JPEG, GIF or WebP size in its first %zu bytes",
                 url_shown(uc->a, e->url), x.body.len);
    sb_free(&x.body);
    if (!x.sized)
        return -1;
    e->w = x.w;
    e->h = x.h;
    return 0;
}

int usercontent_image_size(void *ud, const char *url, int *w, int *h)
{
    struct usercontent *uc = ud;
    struct entry *e = entry_of(uc, url);
    if (!e->sized) {
        e->size_rc = fetch_size(uc, e);
        e->sized = 1;
    }
    *w = e->w;
    *h = e->h;
    return e->size_rc;
}

/* ---------------------------------------------------------------- inlining */

/* The whole image; also its size, so that the estimate needs no second fetch. */
static void fetch_data(struct usercontent *uc, struct entry *e)
{
    struct xfer x = {.max = USERCONTENT_MAX_IMAGE};
    long status;
    char err[CURL_ERROR_SIZE + 64];
    const char *shown = url_shown(uc->a, e->url);
    sb_init(&x.body, NULL);
    if (perform(uc, e->url, 0, &x, &status, err, sizeof err) < 0) {
        e->why = arena_printf(uc->a, "cannot fetch image URL %s: %s", shown, err);
    } else if (status != 200) {
        e->why = arena_printf(uc->a, "cannot fetch image URL %s: HTTP status %ld", shown, status);
    } else if (!usercontent_is_image_type(x.ctype)) {
        e->why = arena_printf(uc->a, "image URL %s is not an image (Content-Type \"%s\")", shown,
                              x.ctype);
    } else {
        struct strbuf d;
        sb_init(&d, NULL);
        SB_LIT(&d, "data:");
        for (const char *p = x.ctype; *p && *p != ';' && *p != ' '; p++)
            sb_putc(&d, (char)tolower((unsigned char)*p));
        SB_LIT(&d, ";base64,");
        b64_put(&d, x.body.p, x.body.len);
        e->data = jown(uc->a, json_object_new_string_len(d.p, (int)d.len));
        sb_free(&d);
        if (!e->sized) {
            e->sized = 1;
            e->size_rc = imagesize_of(x.body.p, x.body.len, &e->w, &e->h);
        }
    }
    if (e->why)
        LOG_INFO("%s", e->why);
    sb_free(&x.body);
}

json_object *usercontent_data_url(void *ud, const char *url, const char **why)
{
    struct usercontent *uc = ud;
    struct entry *e = entry_of(uc, url);
    if (!e->fetched) {
        fetch_data(uc, e);
        e->fetched = 1;
    }
    *why = e->why;
    return e->data;
}

/* The URL of an image_url part: {"image_url":{"url":...}} or {"image_url":"..."}. */
static const char *part_url(json_object *part, json_object **holder)
{
    json_object *iu = jget(part, "image_url");
    *holder = iu;
    if (json_object_is_type(iu, json_type_string))
        return json_object_get_string(iu);
    return jstr(iu, "url");
}

static int is_remote(const char *url)
{
    return url && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
}

/* Calls fn on every image_url part of messages whose URL is http(s); stops at the first
 * non-zero answer and returns it. */
static int each_remote_image(json_object *messages,
                             int (*fn)(void *ud, json_object *part, const char *url), void *ud)
{
    if (!json_object_is_type(messages, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(messages); i++) {
        json_object *content = jget(json_object_array_get_idx(messages, i), "content");
        if (!json_object_is_type(content, json_type_array))
            continue;
        for (size_t k = 0; k < json_object_array_length(content); k++) {
            json_object *part = json_object_array_get_idx(content, k), *holder;
            const char *type = jstr(part, "type");
            const char *url = type && !strcmp(type, "image_url") ? part_url(part, &holder) : NULL;
            int rc = is_remote(url) ? fn(ud, part, url) : 0;
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int found(void *ud, json_object *part, const char *url)
{
    (void)ud, (void)part, (void)url;
    return 1;
}

int usercontent_has_remote_images(json_object *messages)
{
    return each_remote_image(messages, found, NULL);
}

/* What usercontent_inline_images passes through each_remote_image. */
struct inlining {
    usercontent_fetch_fn fetch;
    void *ud;
    const char *why;
};

static int inline_one(void *ud, json_object *part, const char *url)
{
    struct inlining *in = ud;
    json_object *data = in->fetch(in->ud, url, &in->why);
    if (!data)
        return -1;
    json_object *holder;
    part_url(part, &holder);
    if (json_object_is_type(holder, json_type_string))
        json_object_object_add(part, "image_url", json_object_get(data));
    else
        json_object_object_add(holder, "url", json_object_get(data));
    return 0;
}

int usercontent_inline_images(json_object *messages, usercontent_fetch_fn fetch, void *ud,
                              const char **why)
{
    struct inlining in = {fetch, ud, NULL};
    if (each_remote_image(messages, inline_one, &in) == 0)
        return 0;
    *why = in.why ? in.why : "cannot fetch an image URL";
    return -1;
}
