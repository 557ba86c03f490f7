/* json: strict parsing, member access, serialisation and Go-style printing over json-c. */
#include "config.h"
#include "fcgi/json.h"
#include "fcgi/arena.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct json_tokener *jtokener_new(int depth)
{
    json_tokener *tok = json_tokener_new_ex(depth > 0 ? depth : JSON_MAX_DEPTH);
    if (!tok)
        abort();
    return tok;
}

struct json_object *jparse(const char *s, size_t n, int depth, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s || n == 0) {
        *why = "empty input";
        return NULL;
    }
    if (n > INT_MAX) {
        *why = "input too large";
        return NULL;
    }
    json_tokener *tok = jtokener_new(depth);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!o && e == json_tokener_continue) {
        /* A value at the very end (a number, true) is only known to be complete when the
         * input ends: a NUL byte says so. Cut objects and strings still fail. */
        o = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        end = n;
    }
    json_tokener_free(tok);
    if (e != json_tokener_success) {
        json_object_put(o);
        /* json_tokener_continue: the text ended inside a value. */
        *why = e == json_tokener_continue ? "unexpected end of JSON input"
                                          : json_tokener_error_desc(e);
        return NULL;
    }
    for (; end < n; end++) {
        if (!strchr(" \t\r\n", s[end]) || s[end] == '\0') {
            json_object_put(o);
            *why = "invalid character after top-level value";
            return NULL;
        }
    }
    *why = "";
    return o;
}

struct json_object *jget(struct json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

const char *jstr(struct json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int jis_num(struct json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

int64_t jint(struct json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return jis_num(v) ? json_object_get_int64(v) : 0;
}

double jnum(struct json_object *o, const char *key, int *ok)
{
    json_object *v = jget(o, key);
    if (jis_num(v))
        return json_object_get_double(v);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        double d = strtod(s, &end);
        if (*s && !*end)
            return d;
    }
    *ok = 0;
    return 0;
}

struct json_object *jcopy(struct json_object *o)
{
    json_object *c = NULL;
    if (!o)
        return NULL;
    if (json_object_deep_copy(o, &c, NULL) != 0 || !c)
        abort(); /* the only failure of a deep copy of a valid tree is memory */
    return c;
}

struct json_object *jnew_obj(void)
{
    json_object *o = json_object_new_object();
    if (!o)
        abort();
    return o;
}

struct json_object *jnew_arr(void)
{
    json_object *o = json_object_new_array();
    if (!o)
        abort();
    return o;
}

static void put_ref(void *o)
{
    json_object_put(o);
}

struct json_object *jown(struct arena *a, struct json_object *o)
{
    if (o)
        arena_defer(a, put_ref, o);
    return o;
}

void jput(struct strbuf *sb, struct json_object *o)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_OUT, &n);
    if (!s)
        abort(); /* json-c fails to serialise only when out of memory */
    sb_putn(sb, s, n);
}

char *jdump(struct arena *a, struct json_object *o, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_OUT, &n);
    if (!s)
        abort();
    if (len)
        *len = n;
    return arena_strndup(a, s, n);
}

void jput_go_float(struct strbuf *sb, double v)
{
    if (!isfinite(v)) {
        sb_putc(sb, '0');
        return;
    }
    if (signbit(v)) {
        sb_putc(sb, '-');
        v = -v;
    }
    if (v == 0) {
        sb_putc(sb, '0');
        return;
    }
    /* The fewest significant digits that read back as v: Go's shortest formatting. */
    char buf[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* buf is "d[.ddd]e[+-]XX": its digits (17 at most) and its exponent. */
    char digits[24];
    size_t nd = 0;
    const char *p = buf;
    for (; *p && *p != 'e' && nd < sizeof digits; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    if (v < 1e-6 || v >= 1e21) {
        sb_putc(sb, digits[0]);
        if (nd > 1) {
            sb_putc(sb, '.');
            sb_putn(sb, digits + 1, nd - 1);
        }
        /* Go writes at least two exponent digits, then trims "e-07" to "e-7". */
        if (exp10 < 0)
            sb_printf(sb, "e-%d", -exp10);
        else
            sb_printf(sb, "e+%02d", exp10);
    } else if (exp10 >= 0) {
        size_t int_digits = (size_t)exp10 + 1;
        sb_putn(sb, digits, nd < int_digits ? nd : int_digits);
        for (size_t i = nd; i < int_digits; i++)
            sb_putc(sb, '0');
        if (nd > int_digits) {
            sb_putc(sb, '.');
            sb_putn(sb, digits + int_digits, nd - int_digits);
        }
    } else {
        SB_LIT(sb, "0.");
        for (int i = 0; i < -exp10 - 1; i++)
            sb_putc(sb, '0');
        sb_putn(sb, digits, nd);
    }
}

void jput_go_string(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    sb_putc(sb, '"');
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        switch (*u) {
        case '"': SB_LIT(sb, "\\\""); continue;
        case '\\': SB_LIT(sb, "\\\\"); continue;
        case '\n': SB_LIT(sb, "\\n"); continue;
        case '\r': SB_LIT(sb, "\\r"); continue;
        case '\t': SB_LIT(sb, "\\t"); continue;
        default: break;
        }
        if (*u < 0x20 || *u == '<' || *u == '>' || *u == '&') {
            char e[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};
            sb_putn(sb, e, sizeof e);
        } else if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9)) {
            /* U+2028 and U+2029 end lines in JavaScript source; Go escapes them. */
            sb_puts(sb, u[2] == 0xA8 ? "\\u2028" : "\\u2029");
            u += 2;
        } else {
            sb_putc(sb, (char)*u);
        }
    }
    sb_putc(sb, '"');
}

struct json_object *jgo_double(double d)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    jput_go_float(&sb, d);
    json_object *o = json_object_new_double_s(d, sb.p);
    sb_free(&sb);
    if (!o)
        abort();
    return o;
}
