/* Unit tests for fcgi/template.c: escaping, the url filter, lookups, sections, partials, every
 * load error with its file:line, per-file fallback between two directories, and rendering of
 * a large list without allocating per node. */
#include "config.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "fcgi/template.h"
#include "tests/unit/tap.h"
#include "tests/unit/tmpdir.h"

#include <json-c/json.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

/* A set from pairs name, text, ..., NULL. */
static struct tpl_set *load(const char *first, ...)
{
    const char *names[16], *texts[16];
    size_t lens[16], n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *name = first; name && n < 16; name = va_arg(ap, const char *)) {
        names[n] = name;
        texts[n] = va_arg(ap, const char *);
        lens[n] = strlen(texts[n]);
        n++;
    }
    va_end(ap);
    err[0] = '\0';
    return tpl_load_mem(names, texts, lens, n, err, sizeof err);
}

/* Renders the one-template set {t: text} against the JSON json; a static copy of the output
 * ("<load error>" when the text is refused). */
static const char *render(const char *text, const char *json)
{
    static char got[4096];
    struct tpl_set *s = load("t", text, NULL);
    if (!s)
        return "<load error>";
    json_object *d = jparse(json, strlen(json), 0, NULL);
    struct strbuf sb;
    sb_init(&sb, NULL);
    tpl_render(s, "t", d, &sb);
    snprintf(got, sizeof got, "%s", sb.p ? sb.p : "");
    sb_free(&sb);
    json_object_put(d);
    tpl_free(s);
    return got;
}

/* The load error of the one-template set {t: text} (empty when it loads). */
static const char *load_error(const char *text)
{
    struct tpl_set *s = load("t", text, NULL);
    if (s) {
        tpl_free(s);
        return "";
    }
    return err;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_escaping(void)
{
    is_str(render("<p title=\"{{v}}\">{{v}}</p>", "{\"v\":\"a&b<c>d\\\"e'f\"}"),
           "<p title=\"a&amp;b&lt;c&gt;d&quot;e&#39;f\">a&amp;b&lt;c&gt;d&quot;e&#39;f</p>",
           "{{v}} escapes all five characters, in text and in a quoted attribute");
    is_str(render("<a href=\"/x?q={{ q | url }}&n={{n|url}}\">", "{\"q\":\"a b&c/\\u00e9~-._\","
                                                                 "\"n\":5}"),
           "<a href=\"/x?q=a%20b%26c%2F%C3%A9~-._&n=5\">",
           "|url percent-encodes all but the unreserved characters");
    is_str(render("{{{body_html}}}|{{{ a.b_html }}}", "{\"body_html\":\"<b>x</b>\","
                                                      "\"a\":{\"b_html\":\"<i>\"}}"),
           "<b>x</b>|<i>", "a raw tag whose name ends in _html is copied as is");
    is_str(render("{{s}} {{i}} {{neg}} {{d}} {{d1}} {{t}} {{f}} {{z}} [{{nul}}{{o}}{{a}}{{no}}]",
                  "{\"s\":\"x\",\"i\":42,\"neg\":-7,\"d\":2.5,\"d1\":1.0,\"t\":true,\"f\":false,"
                  "\"z\":0,\"nul\":null,\"o\":{\"k\":1},\"a\":[1]}"),
           "x 42 -7 2.5 1.0 true false 0 []",
           "scalars print; doubles as json-c spells them; null, objects, arrays and missing "
           "names print nothing");
    is_str(render("{{u}} {{m}}", "{\"u\":18446744073709551615,\"m\":-9223372036854775808}"),
           "18446744073709551615 -9223372036854775808", "integers print in full, both extremes");
    is_str(render("a {{! a comment with {{ and } }} b{{!}}", "{}"), "a  b",
           "comments render nothing");
    is_str(render("x } }} {y} {{ v }}", "{\"v\":1}"), "x } }} {y} 1",
           "text outside tags, stray braces included, is copied verbatim");

    struct strbuf sb;
    sb_init(&sb, NULL);
    tpl_put_html(&sb, "<'&\">");
    tpl_put_url(&sb, " /?");
    is_str(sb.p, "&lt;&#39;&amp;&quot;&gt;%20%2F%3F", "tpl_put_html and tpl_put_url");
    sb_free(&sb);
}

static void test_lookup_and_sections(void)
{
    is_str(render("{{a.b.c}} {{l.1}} {{l.1.x}} {{a.zz.c}} {{l.9}}",
                  "{\"a\":{\"b\":{\"c\":\"deep\"}},\"l\":[\"p\",\"q\"]}"),
           "deep q   ", "dotted names descend into objects and arrays by index");
    is_str(render("{{#l}}[{{.}}]{{/l}}", "{\"l\":[1,\"two\",true]}"), "[1][two][true]",
           "a section over an array renders once per element, the element as {{.}}");
    is_str(render("{{#o}}{{k}}/{{top}}{{/o}}", "{\"o\":{\"k\":\"in\"},\"top\":\"out\"}"), "in/out",
           "a section over an object makes it the context; outer names still resolve");
    is_str(render("{{#t}}yes {{v}}{{/t}}{{#f}}no{{/f}}", "{\"t\":true,\"f\":false,\"v\":3}"),
           "yes 3", "true renders once with the context unchanged; false is skipped");
    is_str(render("{{#a}}A{{/a}}{{#b}}B{{/b}}{{#c}}C{{/c}}{{#d}}D{{/d}}{{#e}}E{{/e}}"
                  "{{#m}}M{{/m}}{{#o}}O{{/o}}{{#s}}S{{/s}}",
                  "{\"a\":[],\"b\":\"\",\"c\":0,\"d\":null,\"e\":0.0,\"o\":{},\"s\":\"x\"}"),
           "OS", "empty array, \"\", 0, 0.0, null and missing are falsy; {} and \"x\" are not");
    is_str(render("{{^a}}A{{/a}}{{^m}}M{{/m}}{{^s}}S{{/s}}{{^ l }}L{{/ l }}",
                  "{\"a\":[],\"s\":\"x\",\"l\":[1]}"),
           "AM", "inverted sections render only for falsy values");
    is_str(render("{{#users}}{{name}}:{{#keys}}{{k}}@{{name}}/{{site}};{{/keys}}|{{/users}}",
                  "{\"site\":\"S\",\"users\":[{\"name\":\"u1\",\"keys\":[{\"k\":\"a\"},"
                  "{\"k\":\"b\",\"name\":\"shadow\"}]},{\"name\":\"u2\",\"keys\":[]}]}"),
           "u1:a@u1/S;b@shadow/S;|u2:|",
           "nested loops: inner names shadow outer ones, outer ones resolve from the stack");
    is_str(render("{{#o}}{{o.k}}|{{x.y}}{{/o}}", "{\"o\":{\"k\":1,\"x\":{}},\"x\":{\"y\":2}}"),
           "1|", "only the first segment walks the stack; later ones do not fall back outward");
    is_str(render("{{#a.b}}{{.}}{{/a.b}}", "{\"a\":{\"b\":[1,2]}}"), "12", "a dotted section name");
}

static void test_partials(void)
{
    struct tpl_set *s = load("page", "<ul>{{#items}}{{>row}}{{/items}}</ul>{{>foot}}", "row",
                             "<li>{{name}} of {{owner}}</li>", "foot", "<p>{{owner}}</p>", NULL);
    ok(s != NULL, "a set with partials loads");
    const char *json = "{\"owner\":\"me\",\"items\":[{\"name\":\"a\"},{\"name\":\"<b>\"}]}";
    json_object *d = jparse(json, strlen(json), 0, NULL);
    struct strbuf sb;
    sb_init(&sb, NULL);
    is_int(tpl_render(s, "page", d, &sb), 0, "render answers 0");
    is_str(sb.p, "<ul><li>a of me</li><li>&lt;b&gt; of me</li></ul><p>me</p>",
           "a partial renders with the current context stack");
    sb_reset(&sb);
    is_int(tpl_render(s, "nope", d, &sb), -1, "render of a missing template answers -1");
    is_int((long long)sb.len, 0, "and writes nothing");
    ok(tpl_has(s, "row") && !tpl_has(s, "ro") && !tpl_has(s, "row.html"),
       "tpl_has matches whole names");
    sb_free(&sb);
    json_object_put(d);
    tpl_free(s);

    s = load("a", "{{>b}}", "b", "x{{#l}}{{>a}}{{/l}}", NULL);
    ok(!s, "partials that include each other are refused");
    is_str(err, "b:1: partial {{>a}} includes itself", "the cycle is reported where it closes");
    s = load("a", "\n\n  {{> a }}", NULL);
    is_str(err, "a:3: partial {{>a}} includes itself", "a partial including itself directly");
    ok(!s, "...is refused");
    s = load("a", "{{>missing}}", NULL);
    is_str(err, "a:1: partial {{>missing}} names no template", "a partial naming nothing");
    ok(!s, "...is refused");

    /* A chain longer than the partial depth limit renders down to the limit, then nothing. */
    const char *names[12], *texts[12];
    char nb[12][8], tb[12][32];
    size_t lens[12];
    for (int i = 0; i < 12; i++) {
        snprintf(nb[i], sizeof nb[i], "p%d", i);
        if (i < 11)
            snprintf(tb[i], sizeof tb[i], "%d{{>p%d}}", i, i + 1);
        else
            snprintf(tb[i], sizeof tb[i], "%d", i);
        names[i] = nb[i], texts[i] = tb[i], lens[i] = strlen(tb[i]);
    }
    s = tpl_load_mem(names, texts, lens, 12, err, sizeof err);
    sb_init(&sb, NULL);
    tpl_render(s, "p0", NULL, &sb);
    is_str(sb.p, "012345678", "partials nest at most 8 deep at render");
    sb_free(&sb);
    tpl_free(s);
}

static void test_load_errors(void)
{
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"a\nb {{x", "t:2: unclosed tag"},
        {"{{{x_html}}", "t:1: unclosed tag"},
        {"\n{{#a}}\n{{#b}}{{/b}}", "t:2: a section opened here is never closed"},
        {"{{#a}}\n{{/b}}", "t:2: {{/b}} closes the section opened on line 1"},
        {"{{#a.b}}{{/a}}", "t:1: {{/a}} closes the section opened on line 1"},
        {"x\n\n{{/a}}", "t:3: {{/a}} closes no section"},
        {"{{&x}}", "t:1: unknown tag kind '&'"},
        {"{{=<% %>=}}", "t:1: unknown tag kind '='"},
        {"{{\x01x}}", "t:1: unknown tag kind (byte 0x01)"},
        {"{{}}", "t:1: a tag without a name"},
        {"{{#}}{{/}}", "t:1: a tag without a name"},
        {"{{x|html}}", "t:1: unknown filter |html (only |url exists)"},
        {"{{x|}}", "t:1: unknown filter | (only |url exists)"},
        {"{{#x|url}}{{/x}}", "t:1: a filter on a tag that is not a value"},
        {"{{{x_html|url}}}", "t:1: a filter on a tag that is not a value"},
        {"{{a-b}}", "t:1: a name with characters outside [A-Za-z0-9_.]"},
        {"{{a b}}", "t:1: a name with characters outside [A-Za-z0-9_.]"},
        {"{{ a..b }}", "t:1: an empty segment in the name 'a..b'"},
        {"{{a.}}", "t:1: an empty segment in the name 'a.'"},
        {"\n{{{body}}}", "t:2: raw tag {{{body}}}: only names ending in _html may hold raw HTML"},
        {"{{{x_html.y}}}",
         "t:1: raw tag {{{x_html.y}}}: only names ending in _html may hold raw HTML"},
        {"{{{.}}}", "t:1: raw tag {{{.}}}: only names ending in _html may hold raw HTML"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = load_error(cases[i].text);
        if (!ok(!strcmp(got, cases[i].err), "refused: %s", cases[i].err))
            note("got: %s", got);
    }

    ok(!load("a", "x", "a", "y", NULL), "two templates of one name are refused");

    /* Nesting: 32 sections load, 33 do not. */
    char deep[1024], tail[1024];
    for (int i = 0; i < TPL_MAX_DEPTH; i++) {
        memcpy(deep + 6 * i, "{{#s}}", 6);
        memcpy(tail + 6 * i, "{{/s}}", 6);
    }
    deep[6 * TPL_MAX_DEPTH] = tail[6 * TPL_MAX_DEPTH] = '\0';
    char text[2100];
    snprintf(text, sizeof text, "%sx%s", deep, tail);
    is_str(render(text, "{\"s\":{\"s\":true}}"), "x", "32 nested sections load and render");
    snprintf(text, sizeof text, "%s\n{{#s}}x{{/s}}%s", deep, tail);
    is_str(load_error(text), "t:2: sections nested deeper than 32", "33 nested sections do not");
    is_str(load_error("{{! {{#a}} }}{{x}} {{ x | url }}"), "", "valid tags load");
}

static void test_dirs(void)
{
    char theme[512], def[512];
    if (tmpdir_make(theme, sizeof theme, "tpl-theme") || tmpdir_make(def, sizeof def, "tpl-def"))
        return;
    write_file(def, "layout.html", "D-layout[{{>nav}}]{{{body_html}}}");
    write_file(def, "nav.html", "D-nav");
    write_file(def, "login.html", "D-login");
    write_file(def, "notes.txt", "{{ not a template");
    write_file(theme, "nav.html", "T-nav {{user}}");
    struct tpl_set *s = tpl_load(theme, def, err, sizeof err);
    ok(s != NULL, "a theme over the default loads (%s)", err);
    const char *json = "{\"user\":\"<u>\",\"body_html\":\"<p>\"}";
    json_object *d = jparse(json, strlen(json), 0, NULL);
    struct strbuf sb;
    sb_init(&sb, NULL);
    tpl_render(s, "layout", d, &sb);
    is_str(sb.p, "D-layout[T-nav &lt;u&gt;]<p>",
           "each file falls back to the default; a theme's file replaces the default's");
    ok(tpl_has(s, "login") && !tpl_has(s, "notes"), "only *.html files are templates");
    sb_free(&sb);
    tpl_free(s);

    write_file(theme, "bad.html", "ok\n{{#x}}\n");
    char want[700];
    s = tpl_load(theme, def, err, sizeof err);
    snprintf(want, sizeof want, "%s/bad.html:2: a section opened here is never closed", theme);
    ok(!s, "a bad file in the theme is refused");
    is_str(err, want, "the error names the file and line");

    write_file(theme, "bad.html", "{{>nothere}}");
    s = tpl_load(theme, NULL, err, sizeof err);
    snprintf(want, sizeof want, "%s/bad.html:1: partial {{>nothere}} names no template", theme);
    is_str(err, want, "without a fallback a missing partial is refused");
    ok(!s, "...and nothing is loaded");
    s = tpl_load("/nonexistent/tpl", NULL, err, sizeof err);
    ok(!s && strstr(err, "/nonexistent/tpl"), "a missing directory is refused and named");
    json_object_put(d);
    tmpdir_remove(theme);
    tmpdir_remove(def);
}

/* 10,000 rows render right and, into a buffer grown beforehand, take no heap memory. */
static void test_large(void)
{
    struct tpl_set *s =
        load("t",
             "{{#rows}}<tr><td>{{id}}</td><td>{{name}}</td>{{#on}}<td>on</td>{{/on}}"
             "{{^on}}<td>off</td>{{/on}}<td>{{title}}</td></tr>\n{{/rows}}",
             NULL);
    json_object *d = jnew_obj(), *rows = jnew_arr();
    json_object_object_add(d, "rows", rows);
    json_object_object_add(d, "title", json_object_new_string("T&"));
    for (int i = 0; i < 10000; i++) {
        json_object *r = jnew_obj();
        char name[32];
        snprintf(name, sizeof name, "n<%d>", i);
        json_object_object_add(r, "id", json_object_new_int(i));
        json_object_object_add(r, "name", json_object_new_string(name));
        json_object_object_add(r, "on", json_object_new_boolean(i % 2));
        json_object_array_add(rows, r);
    }
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_grow(&sb, 1 << 20);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    size_t before = mallinfo2().uordblks;
#endif
    tpl_render(s, "t", d, &sb);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    size_t after = mallinfo2().uordblks;
    is_int((long long)(after - before), 0, "rendering 10,000 rows keeps no heap memory");
#endif
    int lines = 0, bad = 0;
    char want[128];
    const char *p = sb.p;
    for (int i = 0; i < 10000 && p; i++) {
        int n = snprintf(want, sizeof want,
                         "<tr><td>%d</td><td>n&lt;%d&gt;</td><td>%s</td>"
                         "<td>T&amp;</td></tr>\n",
                         i, i, i % 2 ? "on" : "off");
        if (strncmp(p, want, (size_t)n) != 0)
            bad++;
        p += n;
        lines++;
    }
    ok(lines == 10000 && !bad && (size_t)(p - sb.p) == sb.len,
       "10,000 rows render in order, escaped, with outer lookups");
    sb_free(&sb);
    json_object_put(d);
    tpl_free(s);
}

int main(void)
{
    test_escaping();
    test_lookup_and_sections();
    test_partials();
    test_load_errors();
    test_dirs();
    test_large();
    return done_testing();
}
