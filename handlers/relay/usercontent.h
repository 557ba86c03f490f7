/* Image URLs that clients put in chat prompts, fetched through the user-content client
 * (USER_CONTENT_REQUEST_PROXY, USER_CONTENT_REQUEST_TIMEOUT): their pixel size for the prompt
 * estimate, and their bytes for upstreams that cannot fetch a URL themselves. Every fetch is
 * remembered for the request, so retries on other channels fetch nothing again. */
#ifndef OA_USERCONTENT_H
#define OA_USERCONTENT_H
#include <stddef.h>

struct arena;
struct json_object;

/* An inlined image is refused above this many bytes. */
#define USERCONTENT_MAX_IMAGE (10u << 20)

/* One request's fetcher and its memory of what it fetched. */
struct usercontent;

/* A fetcher whose memory lives in arena a, using the libcurl handle curl (a CURL *, the
 * worker's: it is reset before each transfer), proxy ("" or NULL: none) and a limit of
 * timeout_s seconds per transfer (0: none). Never fails. */
struct usercontent *usercontent_new(struct arena *a, void *curl, const char *proxy, long timeout_s);

/* The pixel size of the image at url (http or https), in the shape of the token counter's
 * fetch callback (ud is the struct usercontent *): a HEAD first; a Content-Type that is not
 * image/... gives 0 with *w = *h = 0; otherwise a GET of the start of the body, read until
 * its header tells the size. Non-zero on a transport error or an undecodable image. */
int usercontent_image_size(void *ud, const char *url, int *w, int *h);

/* The image at url (http or https) as a string JSON value "data:<type>;base64,<data>": a GET
 * that must answer 200 with an image/... Content-Type and at most USERCONTENT_MAX_IMAGE
 * bytes. ud is the struct usercontent * (the shape of usercontent_fetch_fn). The value is
 * owned by the request's arena (take a reference to keep it in a tree). NULL on failure,
 * with *why a message for the client (in the arena). */
struct json_object *usercontent_data_url(void *ud, const char *url, const char **why);

/* 1 when a chat messages array has an image_url part whose URL is http(s). */
int usercontent_has_remote_images(struct json_object *messages);

/* How usercontent_inline_images gets a URL's data: URL (usercontent_data_url's contract). */
typedef struct json_object *(*usercontent_fetch_fn)(void *ud, const char *url, const char **why);

/* Replaces, in the messages array (edited in place), the URL of every image_url part that is
 * http(s) by fetch's data: URL, in both shapes of the part ({"url": ...} and a bare string).
 * 0, or -1 with *why from the first fetch that failed (the array is then partly edited). */
int usercontent_inline_images(struct json_object *messages, usercontent_fetch_fn fetch, void *ud,
                              const char **why);

/* 1 when a Content-Type value names an image ("image/...", any case, parameters allowed). */
int usercontent_is_image_type(const char *ctype);

#endif
