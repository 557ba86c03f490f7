/* Checks handlers/relay/usercontent.c without the network: which parts are remote images,
 * their replacement by data: URLs in both part shapes, failures, and Content-Type checks. */
#include "config.h"
#include "handlers/relay/usercontent.h"
#include "handlers/relay/upstream.h"
#include "fcgi/json.h"
#include "tests/unit/tap.h"

#include <json-c/json.h>
#include <string.h>

/* A fake fetch: URLs containing "bad" fail, the others become "data:image/png;base64,<n>"
 * with n counting the calls. */
struct fake {
    int calls;
    json_object *made[8];
};

static json_object *fake_fetch(void *ud, const char *url, const char **why)
{
    struct fake *f = ud;
    f->calls++;
    if (strstr(url, "bad")) {
        *why = "cannot fetch image URL http://bad/x.png: HTTP status 404";
        return NULL;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "data:image/png;base64,%d", f->calls);
    return f->made[f->calls - 1] = json_object_new_string(buf);
}

static void fake_free(struct fake *f)
{
    for (int i = 0; i < f->calls && i < 8; i++)
        json_object_put(f->made[i]);
}

static const char *dump(json_object *j)
{
    return json_object_to_json_string_ext(j,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int main(void)
{
    note("Content-Type");
    ok(usercontent_is_image_type("image/png"), "image/png is an image");
    ok(usercontent_is_image_type("IMAGE/JPEG; charset=binary"), "any case, with parameters");
    ok(!usercontent_is_image_type("text/html"), "text/html is not");
    ok(!usercontent_is_image_type("image/"), "image/ alone is not");
    ok(!usercontent_is_image_type(""), "nor an empty type");
    ok(!usercontent_is_image_type(NULL), "nor none");

    /* The header lines of a redirect, then of the final answer, as libcurl hands them over. */
    static const char *const lines[] = {
        "HTTP/1.1 302 Found\r\n", "Content-Type: text/html\r\n",     "Location: /b\r\n", "\r\n",
        "HTTP/1.1 200 OK\r\n",    "content-type:\t image/webp \r\n", "X-Other: 1\r\n"};
    char ctype[16] = "junk";
    upstream_track_ctype(lines[0], strlen(lines[0]), ctype, sizeof ctype);
    is_str(ctype, "", "a status line clears the Content-Type");
    upstream_track_ctype(lines[1], strlen(lines[1]), ctype, sizeof ctype);
    is_str(ctype, "text/html", "a Content-Type line sets it, trimmed");
    for (size_t i = 2; i < sizeof lines / sizeof *lines; i++)
        upstream_track_ctype(lines[i], strlen(lines[i]), ctype, sizeof ctype);
    is_str(ctype, "image/webp", "only the final answer's counts, in any case and spacing");
    static const char long_type[] = "Content-Type: application/vnd.very-long-name\r\n";
    upstream_track_ctype(long_type, strlen(long_type), ctype, sizeof ctype);
    is_str(ctype, "application/vnd", "a longer value is cut to the buffer, NUL-terminated");

    note("finding remote images");
    json_object *m = json_tokener_parse(
        "[{\"role\":\"system\",\"content\":\"plain\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"gs://bucket/x.png\"}}]}]");
    ok(!usercontent_has_remote_images(m), "data:, gs: and text parts are not remote images");
    ok(!usercontent_has_remote_images(NULL), "no messages: none");
    struct fake f = {0};
    const char *why = NULL;
    is_int(usercontent_inline_images(m, fake_fetch, &f, &why), 0, "nothing to inline succeeds");
    is_int(f.calls, 0, "without fetching");
    json_object_put(m);

    m = json_tokener_parse(
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://img.example/a.png?sig=1\","
        "\"detail\":\"low\"}},"
        "{\"type\":\"image_url\",\"image_url\":\"HTTP://img.example/b.png\"}]},"
        "{\"role\":\"assistant\",\"content\":\"ok\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:"
        "image/gif;base64,R0lG\"}}]}]");
    ok(usercontent_has_remote_images(m), "an https URL and a bare HTTP string are remote");
    is_int(usercontent_inline_images(m, fake_fetch, &f, &why), 0, "inlined");
    is_int(f.calls, 2, "one fetch per remote image");
    is_str(dump(m),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,1\","
           "\"detail\":\"low\"}},"
           "{\"type\":\"image_url\",\"image_url\":\"data:image/png;base64,2\"}]},"
           "{\"role\":\"assistant\",\"content\":\"ok\"},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:"
           "image/gif;base64,R0lG\"}}]}]",
           "each URL replaced in its own shape; detail and data: URLs kept");
    ok(!usercontent_has_remote_images(m), "no remote image is left");
    json_object_put(m);
    fake_free(&f);

    m = json_tokener_parse(
        "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://"
        "bad/x.png\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://good/y.png\"}}]}]");
    f = (struct fake){0};
    why = NULL;
    is_int(usercontent_inline_images(m, fake_fetch, &f, &why), -1, "a failed fetch fails");
    is_str(why, "cannot fetch image URL http://bad/x.png: HTTP status 404",
           "with the fetch's reason");
    is_int(f.calls, 1, "and stops there");
    json_object_put(m);
    fake_free(&f);
    return done_testing();
}
