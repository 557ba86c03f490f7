/* Unit tests for fcgi/json.c: strict parsing, typed access, Go's number and string format. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "tests/unit/tap.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

static const char *go_float(struct strbuf *sb, double d)
{
    sb_reset(sb);
    jput_go_float(sb, d);
    return sb->p;
}

int main(void)
{
    const char *why = NULL;
    const char *text = "{\"a\":\"x\",\"n\":3.9,\"s\":\"12.5\",\"b\":\"no\"} \r\n";
    json_object *o = jparse(text, strlen(text), 0, &why);
    ok(o != NULL, "an object with trailing white space parses");
    is_str(jstr(o, "a"), "x", "jstr reads a string");
    ok(!jstr(o, "n") && !jstr(o, "zz"), "jstr is NULL for a number and for a missing key");
    is_int(jint(o, "n"), 3, "jint truncates a number");
    is_int(jint(o, "a"), 0, "jint of a string is 0");
    int ok_ = 1;
    ok(jnum(o, "s", &ok_) == 12.5 && ok_, "jnum reads a numeric string");
    ok(jnum(o, "n", &ok_) == 3.9 && ok_, "jnum reads a number");
    jnum(o, "b", &ok_);
    ok(!ok_, "jnum clears ok for a non-numeric string");
    ok(!jget(jget(o, "a"), "x"), "jget on a non-object is NULL");
    json_object *c = jcopy(o);
    ok(c != o && !strcmp(json_object_to_json_string(c), json_object_to_json_string(o)),
       "jcopy is a distinct equal tree");
    json_object_put(c);
    json_object_put(o);

    ok(!jparse("{\"a\":1} x", 9, 0, &why), "trailing garbage is refused: %s", why);
    ok(!jparse("{\"a\":1", 6, 0, &why), "a cut value is refused: %s", why);
    ok(!jparse("", 0, 0, &why), "empty input is refused: %s", why);
    ok(!jparse("{} \0", 4, 0, &why), "a NUL after the value is refused: %s", why);
    ok(!jparse("[[[1]]]", 7, 3, &why), "depth beyond the limit is refused: %s", why);
    o = jparse("[[[1]]]", 7, 4, NULL);
    ok(o != NULL, "depth at the limit parses");
    json_object_put(o);
    o = jparse("1 2", 1, 0, NULL);
    ok(o && json_object_get_int(o) == 1, "only n bytes are read");
    json_object_put(o);

    struct arena *a = arena_new(1024);
    o = jnew_obj();
    json_object_object_add(o, "u", json_object_new_string("a/b"));
    size_t n;
    is_str(jdump(a, o, &n), "{\"u\":\"a/b\"}", "jdump is compact, '/' unescaped");
    is_int(n, 11, "with its length");
    json_object_put(o);

    struct strbuf sb;
    sb_init(&sb, a);
    is_str(go_float(&sb, 2.5e-05), "0.000025", "Go prints 2.5e-05 as 0.000025");
    is_str(go_float(&sb, 1e-7), "1e-7", "1e-7 with a one-digit exponent");
    is_str(go_float(&sb, 1.5e-7), "1.5e-7", "1.5e-7");
    is_str(go_float(&sb, 1e21), "1e+21", "1e+21");
    is_str(go_float(&sb, 1e20), "100000000000000000000", "1e20 plain");
    is_str(go_float(&sb, 0.1), "0.1", "0.1 shortest");
    is_str(go_float(&sb, 0.0058723389999999999), "0.005872339", "a test time, shortest");
    is_str(go_float(&sb, 56.78), "56.78", "56.78");
    is_str(go_float(&sb, 100), "100", "an integral value has no point");
    is_str(go_float(&sb, -0.0), "-0", "-0 keeps its sign");
    is_str(go_float(&sb, -1.25), "-1.25", "a negative value");
    is_str(go_float(&sb, NAN), "0", "NaN is written as 0");
    is_str(go_float(&sb, 1.7976931348623157e308), "1.7976931348623157e+308", "the largest double");

    sb_reset(&sb);
    jput_go_string(&sb, "a<b>&\"\\\n\x01\xe2\x80\xa8z");
    is_str(sb.p, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028z\"", "Go's string escapes");

    o = jgo_double(0.000025);
    is_str(json_object_to_json_string(o), "0.000025", "jgo_double serialises as Go prints");
    json_object_put(o);

    /* The arena owns what jown hands it: valgrind's leak check sees it freed. */
    o = jown(a, jnew_arr());
    json_object_array_add(o, json_object_new_string("kept until the reset"));
    ok(jown(a, NULL) == NULL, "jown accepts NULL");
    arena_reset(a);
    arena_free(a);
    return done_testing();
}
