/* libFuzzer target: the template loader and renderer under arbitrary text. The input is cut
 * at NUL bytes into up to four templates named a, b, c and d (so partials and their cycles are
 * reachable); when the set loads, each template renders against a fixed context that has
 * every kind of value. Neither step may crash, leak or read out of bounds. */
#include "config.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "fcgi/template.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context[] =
    "{\"s\":\"<a href='x'>&\",\"i\":-42,\"d\":2.5,\"t\":true,\"f\":false,\"n\":null,"
    "\"e\":\"\",\"z\":0,\"o\":{\"s\":\"inner\",\"x_html\":\"<b>\",\"l\":[1,2]},"
    "\"l\":[{\"s\":\"one\",\"l\":[]},{\"s\":\"two\",\"o\":{\"i\":7}},\"three\",[4,5],null],"
    "\"body_html\":\"<p>raw</p>\",\"a\":{\"b\":{\"c\":\"deep\"}}}";

/* Sections and partials multiply output (a section over the context's five-element array
 * inside another, each element falling back to the outer array by mustache's lookup rules):
 * six of them nest to 5^6 copies. That is the template author's choice, not a defect, but it
 * would make the fuzzer time out; inputs with more than five such tags are not rendered. */
static int too_many_multipliers(const uint8_t *data, size_t size)
{
    int n = 0;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] != '{' || data[i + 1] != '{')
            continue;
        size_t j = i + 2;
        while (j < size &&
               (data[j] == ' ' || data[j] == '\t' || data[j] == '\r' || data[j] == '\n'))
            j++;
        n += j < size && (data[j] == '#' || data[j] == '>');
    }
    return n > 5;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const all[] = {"a", "b", "c", "d"};
    const char *texts[4];
    size_t lens[4], n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (n < 4) {
        const char *z = n < 3 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        texts[n] = p;
        lens[n] = (size_t)((z ? z : end) - p);
        n++;
        if (!z)
            break;
        p = z + 1;
    }
    char err[256];
    struct tpl_set *t = tpl_load_mem(all, texts, lens, n, err, sizeof err);
    if (!t) {
        if (!memchr(err, '\0', sizeof err))
            abort(); /* the reason must be a string */
        return 0;
    }
    if (too_many_multipliers(data, size)) {
        tpl_free(t);
        return 0;
    }
    json_object *ctx = jparse(context, sizeof context - 1, 0, NULL);
    if (!ctx)
        abort();
    struct strbuf out;
    sb_init(&out, NULL);
    for (size_t i = 0; i < n; i++)
        if (!tpl_has(t, all[i]) || tpl_render(t, all[i], ctx, &out) != 0)
            abort(); /* a loaded template must exist and render */
    sb_free(&out);
    json_object_put(ctx);
    tpl_free(t);
    return 0;
}
