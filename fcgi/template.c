/* The console's template engine: a mustache subset scanned once into a flat node list, then
 * rendered by walking the nodes with a fixed-size context stack. No expressions, no logic:
 * what a template can do is visible from its tags, and every value is escaped unless its name
 * says it holds trusted HTML. */
#include "config.h"
#include "fcgi/template.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum node_kind {
    N_TEXT,     /* a span of the template's text */
    N_VAR,      /* {{name}}: HTML-escaped */
    N_URL,      /* {{name|url}}: percent-encoded */
    N_RAW,      /* {{{name_html}}}: as is */
    N_SECTION,  /* {{#name}}: arg is the index of its N_END */
    N_INVERTED, /* {{^name}}: arg is the index of its N_END */
    N_END,      /* {{/name}} */
    N_PARTIAL,  /* {{>name}}: arg is the template's index in the set */
};

struct node {
    uint8_t kind;
    uint32_t off;  /* N_TEXT: offset in text; names: offset in the name pool */
    uint32_t len;  /* N_TEXT: bytes; names: segment count (0 for "."), partial: name bytes */
    uint32_t arg;  /* see enum node_kind */
    uint32_t line; /* where the tag starts, for load errors */
};

struct tpl {
    char *name;
    char *file; /* for messages: the path, or the name given to tpl_load_mem */
    char *text;
    size_t textlen;
    struct node *nodes;
    size_t n, cap;
    char *pool; /* names split into NUL-terminated segments, so lookups need no copies */
    size_t poollen, poolcap;
};

struct tpl_set {
    struct tpl *v;
    size_t n;
};

/* The deepest context stack a render can need: the data, then one entry per open section in
 * the template and in each partial it includes. */
#define STACK_MAX (1 + TPL_MAX_DEPTH * (TPL_MAX_PARTIAL + 1))

/* --- loading ------------------------------------------------------------------------------ */

static void fail(char *err, size_t errlen, const struct tpl *t, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(char *err, size_t errlen, const struct tpl *t, uint32_t line, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    int k = snprintf(err, errlen, "%s:%" PRIu32 ": ", t->file, line);
    if (k < 0 || (size_t)k >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static struct node *add_node(struct tpl *t, uint8_t kind, size_t off, size_t len, uint32_t line)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->nodes = xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    struct node *nd = &t->nodes[t->n++];
    *nd = (struct node){.kind = kind, .off = (uint32_t)off, .len = (uint32_t)len, .line = line};
    return nd;
}

static int is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Stores name (n bytes, already checked) in the pool as NUL-separated segments; the segment
 * count in *nseg (0 for "."). Returns its offset, or SIZE_MAX when a segment is empty. */
static size_t pool_name(struct tpl *t, const char *name, size_t n, uint32_t *nseg)
{
    if (n == 1 && name[0] == '.') {
        *nseg = 0;
        return 0;
    }
    if (name[0] == '.' || name[n - 1] == '.')
        return SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (name[i] == '.' && name[i - 1] == '.')
            return SIZE_MAX;
    if (t->poollen + n + 1 > t->poolcap) {
        t->poolcap = (t->poollen + n + 1) * 2;
        t->pool = xrealloc(t->pool, t->poolcap);
    }
    size_t off = t->poollen;
    uint32_t k = 1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i] == '.' ? '\0' : name[i];
        k += c == '\0';
        t->pool[off + i] = c;
    }
    t->pool[off + n] = '\0';
    t->poollen += n + 1;
    *nseg = k;
    return off;
}

/* Scans t->text into t->nodes. 0, or -1 with the reason in err. */
static int parse(struct tpl *t, char *err, size_t errlen)
{
    const char *s = t->text, *end = s + t->textlen;
    size_t open[TPL_MAX_DEPTH]; /* node indexes of the sections still open */
    int depth = 0;
    uint32_t line = 1;
    const char *p = s;
    while (p < end) {
        const char *tag = memmem(p, (size_t)(end - p), "{{", 2);
        const char *stop = tag ? tag : end;
        if (stop > p)
            add_node(t, N_TEXT, (size_t)(p - s), (size_t)(stop - p), line);
        for (const char *q = p; q < stop; q++)
            line += *q == '\n';
        if (!tag)
            break;
        uint32_t tagline = line;
        int raw = tag + 2 < end && tag[2] == '{';
        const char *close =
            memmem(tag + 2, (size_t)(end - tag - 2), raw ? "}}}" : "}}", raw ? 3 : 2);
        if (!close) {
            fail(err, errlen, t, tagline, "unclosed tag");
            return -1;
        }
        const char *next = close + (raw ? 3 : 2);
        for (const char *q = tag; q < next; q++)
            line += *q == '\n';
        const char *b = tag + (raw ? 3 : 2), *e = close;
        while (b < e && is_space(*b))
            b++;
        char sigil = 0;
        if (!raw && b < e && strchr("#^/>!", *b))
            sigil = *b++;
        p = next;
        if (sigil == '!')
            continue;
        while (b < e && is_space(*b))
            b++;
        while (e > b && is_space(e[-1]))
            e--;
        const char *nb = b, *ne = b;
        while (ne < e && is_name_char(*ne))
            ne++;
        if (ne == nb) {
            unsigned char k = (unsigned char)*b;
            if (b < e && !is_space(*b) && *b != '|' && k > 0x20 && k < 0x7f)
                fail(err, errlen, t, tagline, "unknown tag kind '%c'", *b);
            else if (b < e && !is_space(*b) && *b != '|')
                fail(err, errlen, t, tagline, "unknown tag kind (byte 0x%02x)", k);
            else
                fail(err, errlen, t, tagline, "a tag without a name");
            return -1;
        }
        int url = 0;
        if (ne < e) {
            const char *f = ne;
            while (f < e && is_space(*f))
                f++;
            if (f < e && *f == '|') {
                f++;
                while (f < e && is_space(*f))
                    f++;
                if ((size_t)(e - f) != 3 || memcmp(f, "url", 3) != 0) {
                    fail(err, errlen, t, tagline, "unknown filter |%.*s (only |url exists)",
                         (int)(e - f), f);
                    return -1;
                }
                if (sigil || raw) {
                    fail(err, errlen, t, tagline, "a filter on a tag that is not a value");
                    return -1;
                }
                url = 1;
            } else {
                fail(err, errlen, t, tagline, "a name with characters outside [A-Za-z0-9_.]");
                return -1;
            }
        }
        size_t nlen = (size_t)(ne - nb);
        if (sigil == '>') {
            /* Resolved to an index once every template is loaded; the name stays in the text. */
            struct node *nd = add_node(t, N_PARTIAL, (size_t)(nb - s), nlen, tagline);
            nd->arg = UINT32_MAX;
            continue;
        }
        if (raw && (nlen < 5 || memcmp(ne - 5, "_html", 5) != 0)) {
            fail(err, errlen, t, tagline,
                 "raw tag {{{%.*s}}}: only names ending in _html may hold raw HTML", (int)nlen, nb);
            return -1;
        }
        uint32_t nseg;
        size_t off = pool_name(t, nb, nlen, &nseg);
        if (off == SIZE_MAX) {
            fail(err, errlen, t, tagline, "an empty segment in the name '%.*s'", (int)nlen, nb);
            return -1;
        }
        if (sigil == '/') {
            if (!depth) {
                fail(err, errlen, t, tagline, "{{/%.*s}} closes no section", (int)nlen, nb);
                return -1;
            }
            struct node *o = &t->nodes[open[depth - 1]];
            /* Both names sit in the pool, the opening one first: compare them NUL included. */
            if (o->len != nseg ||
                (nseg && memcmp(t->pool + o->off, t->pool + off, nlen + 1) != 0)) {
                fail(err, errlen, t, tagline,
                     "{{/%.*s}} closes the section opened on line %" PRIu32, (int)nlen, nb,
                     o->line);
                return -1;
            }
            if (nseg)
                t->poollen = off; /* the closing name is not needed */
            o->arg = (uint32_t)t->n;
            add_node(t, N_END, 0, 0, tagline);
            depth--;
            continue;
        }
        if (sigil == '#' || sigil == '^') {
            if (depth == TPL_MAX_DEPTH) {
                fail(err, errlen, t, tagline, "sections nested deeper than %d", TPL_MAX_DEPTH);
                return -1;
            }
            open[depth++] = t->n;
            add_node(t, sigil == '#' ? N_SECTION : N_INVERTED, off, nseg, tagline);
            continue;
        }
        add_node(t, raw ? N_RAW : url ? N_URL : N_VAR, off, nseg, tagline);
    }
    if (depth) {
        struct node *o = &t->nodes[open[depth - 1]];
        fail(err, errlen, t, o->line, "a section opened here is never closed");
        return -1;
    }
    return 0;
}

static int find(const struct tpl_set *set, const char *name, size_t n)
{
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->v[i].name) == n && memcmp(set->v[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

/* Depth-first over the partial graph: 0 unvisited, 1 on the current path, 2 done. */
static int no_cycle(const struct tpl_set *set, size_t i, unsigned char *mark, char *err,
                    size_t errlen)
{
    mark[i] = 1;
    const struct tpl *t = &set->v[i];
    for (size_t k = 0; k < t->n; k++) {
        const struct node *nd = &t->nodes[k];
        if (nd->kind != N_PARTIAL)
            continue;
        if (mark[nd->arg] == 1) {
            fail(err, errlen, t, nd->line, "partial {{>%s}} includes itself", set->v[nd->arg].name);
            return -1;
        }
        if (!mark[nd->arg] && no_cycle(set, nd->arg, mark, err, errlen))
            return -1;
    }
    mark[i] = 2;
    return 0;
}

/* Parses every template of set, resolves partials and refuses cycles. */
static int finish(struct tpl_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->n; i++) {
        struct tpl *t = &set->v[i];
        if (t->textlen >= UINT32_MAX) {
            fail(err, errlen, t, 1, "template too large");
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(set->v[j].name, t->name)) {
                fail(err, errlen, t, 1, "a second template named '%s'", t->name);
                return -1;
            }
        if (parse(t, err, errlen))
            return -1;
    }
    for (size_t i = 0; i < set->n; i++) {
        struct tpl *t = &set->v[i];
        for (size_t k = 0; k < t->n; k++) {
            struct node *nd = &t->nodes[k];
            if (nd->kind != N_PARTIAL)
                continue;
            int j = find(set, t->text + nd->off, nd->len);
            if (j < 0) {
                fail(err, errlen, t, nd->line, "partial {{>%.*s}} names no template", (int)nd->len,
                     t->text + nd->off);
                return -1;
            }
            nd->arg = (uint32_t)j;
        }
    }
    unsigned char *mark = xcalloc(set->n ? set->n : 1, 1);
    int rc = 0;
    for (size_t i = 0; i < set->n && !rc; i++)
        if (!mark[i])
            rc = no_cycle(set, i, mark, err, errlen);
    free(mark);
    return rc;
}

static void add_tpl(struct tpl_set *set, size_t *cap, const char *name, const char *file,
                    char *text, size_t len)
{
    if (set->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        set->v = xrealloc(set->v, *cap * sizeof *set->v);
    }
    set->v[set->n++] =
        (struct tpl){.name = xstrdup(name), .file = xstrdup(file), .text = text, .textlen = len};
}

struct tpl_set *tpl_load_mem(const char *const *names, const char *const *texts, const size_t *lens,
                             size_t n, char *err, size_t errlen)
{
    struct tpl_set *set = xcalloc(1, sizeof *set);
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        char *text = xmalloc(lens[i] + 1);
        memcpy(text, texts[i], lens[i]);
        text[lens[i]] = '\0';
        add_tpl(set, &cap, names[i], names[i], text, lens[i]);
    }
    if (finish(set, err, errlen)) {
        tpl_free(set);
        return NULL;
    }
    return set;
}

/* Reads path whole; NULL with errno set on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every *.html of dir that set lacks, in name order. 0, or -1 with err filled. */
static int load_dir(struct tpl_set *set, size_t *cap, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char **files = NULL;
    size_t nf = 0, fcap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= 5 || strcmp(de->d_name + l - 5, ".html") != 0 || de->d_name[0] == '.')
            continue;
        if (nf == fcap)
            files = xrealloc(files, (fcap = fcap ? fcap * 2 : 16) * sizeof *files);
        files[nf++] = xstrndup(de->d_name, l - 5);
    }
    closedir(d);
    if (nf)
        qsort(files, nf, sizeof *files, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nf; i++) {
        if (!rc && find(set, files[i], strlen(files[i])) < 0) {
            size_t plen = strlen(dir) + strlen(files[i]) + 7;
            char *path = xmalloc(plen);
            snprintf(path, plen, "%s/%s.html", dir, files[i]);
            struct stat st;
            size_t len = 0;
            char *text = NULL;
            if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                free(path);
                free(files[i]);
                continue;
            }
            if (!(text = slurp(path, &len))) {
                if (err && errlen)
                    snprintf(err, errlen, "%s: %s", path, strerror(errno));
                rc = -1;
            } else {
                add_tpl(set, cap, files[i], path, text, len);
            }
            free(path);
        }
        free(files[i]);
    }
    free(files);
    return rc;
}

struct tpl_set *tpl_load(const char *dir, const char *fallback_dir, char *err, size_t errlen)
{
    struct tpl_set *set = xcalloc(1, sizeof *set);
    size_t cap = 0;
    if (load_dir(set, &cap, dir, err, errlen) ||
        (fallback_dir && load_dir(set, &cap, fallback_dir, err, errlen)) ||
        finish(set, err, errlen)) {
        tpl_free(set);
        return NULL;
    }
    return set;
}

void tpl_free(struct tpl_set *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].file);
        free(t->v[i].text);
        free(t->v[i].nodes);
        free(t->v[i].pool);
    }
    free(t->v);
    free(t);
}

int tpl_has(const struct tpl_set *t, const char *name)
{
    return t && name && find(t, name, strlen(name)) >= 0;
}

/* --- rendering ---------------------------------------------------------------------------- */

struct ctx {
    struct json_object *stack[STACK_MAX];
    int top; /* entries used */
};

/* The value of the name at pool offset off with nseg segments: the first segment found in the
 * innermost context object that has it, the rest descending (into arrays by index). */
static struct json_object *lookup(const struct tpl *t, const struct node *nd, const struct ctx *c,
                                  int *found)
{
    *found = 0;
    if (nd->len == 0) {
        *found = 1;
        return c->stack[c->top - 1];
    }
    const char *seg = t->pool + nd->off;
    struct json_object *v = NULL;
    int hit = 0;
    for (int i = c->top - 1; i >= 0 && !hit; i--)
        if (json_object_is_type(c->stack[i], json_type_object))
            hit = json_object_object_get_ex(c->stack[i], seg, &v);
    if (!hit)
        return NULL;
    for (uint32_t k = 1; k < nd->len; k++) {
        seg += strlen(seg) + 1;
        if (json_object_is_type(v, json_type_object)) {
            if (!json_object_object_get_ex(v, seg, &v))
                return NULL;
        } else if (json_object_is_type(v, json_type_array)) {
            char *e;
            errno = 0;
            unsigned long long ix = strtoull(seg, &e, 10);
            if (*e || errno || seg[0] < '0' || seg[0] > '9' || ix >= json_object_array_length(v))
                return NULL;
            v = json_object_array_get_idx(v, (size_t)ix);
        } else {
            return NULL;
        }
    }
    *found = 1;
    return v;
}

static int truthy(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return 0;
    case json_type_boolean: return json_object_get_boolean(v);
    case json_type_int: return json_object_get_int64(v) != 0;
    case json_type_double: return json_object_get_double(v) != 0;
    case json_type_string: return json_object_get_string_len(v) > 0;
    case json_type_array: return json_object_array_length(v) > 0;
    case json_type_object: return 1;
    }
    return 0;
}

/* The text of a scalar value, or NULL for null, objects and arrays. buf holds integers. */
static const char *scalar(struct json_object *v, char *buf, size_t n)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean: return json_object_get_boolean(v) ? "true" : "false";
    case json_type_int: {
        /* json-c holds integers above INT64_MAX as unsigned; get_int64 would clamp them. */
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX)
            snprintf(buf, n, "%" PRIu64, json_object_get_uint64(v));
        else
            snprintf(buf, n, "%" PRId64, i);
        return buf;
    }
    case json_type_double: return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    case json_type_string: return json_object_get_string(v);
    default: return NULL;
    }
}

static void render_range(const struct tpl_set *set, const struct tpl *t, size_t from, size_t to,
                         struct ctx *c, int pdepth, struct strbuf *out)
{
    for (size_t i = from; i < to; i++) {
        const struct node *nd = &t->nodes[i];
        int found;
        struct json_object *v;
        char num[32];
        const char *s;
        switch (nd->kind) {
        case N_TEXT: sb_putn(out, t->text + nd->off, nd->len); break;
        case N_VAR:
        case N_URL:
        case N_RAW:
            v = lookup(t, nd, c, &found);
            if (!found || !(s = scalar(v, num, sizeof num)))
                break;
            if (nd->kind == N_VAR)
                sb_html(out, s);
            else if (nd->kind == N_URL)
                sb_url(out, s);
            else
                sb_puts(out, s);
            break;
        case N_SECTION:
        case N_INVERTED:
            v = lookup(t, nd, c, &found);
            if (nd->kind == N_INVERTED) {
                if (!found || !truthy(v))
                    render_range(set, t, i + 1, nd->arg, c, pdepth, out);
            } else if (found && truthy(v)) {
                int arr = json_object_is_type(v, json_type_array);
                int obj = json_object_is_type(v, json_type_object);
                if ((arr || obj) && c->top == STACK_MAX) {
                    /* Unreachable within the load limits; skip rather than overflow. */
                } else if (arr) {
                    size_t n = json_object_array_length(v);
                    for (size_t k = 0; k < n; k++) {
                        c->stack[c->top++] = json_object_array_get_idx(v, k);
                        render_range(set, t, i + 1, nd->arg, c, pdepth, out);
                        c->top--;
                    }
                } else if (obj) {
                    c->stack[c->top++] = v;
                    render_range(set, t, i + 1, nd->arg, c, pdepth, out);
                    c->top--;
                } else {
                    render_range(set, t, i + 1, nd->arg, c, pdepth, out);
                }
            }
            i = nd->arg; /* past the block and its N_END */
            break;
        case N_END: break;
        case N_PARTIAL:
            if (pdepth < TPL_MAX_PARTIAL) {
                const struct tpl *p = &set->v[nd->arg];
                render_range(set, p, 0, p->n, c, pdepth + 1, out);
            }
            break;
        }
    }
}

int tpl_render(const struct tpl_set *t, const char *name, struct json_object *data,
               struct strbuf *out)
{
    int i = t && name ? find(t, name, strlen(name)) : -1;
    if (i < 0)
        return -1;
    struct ctx c;
    c.stack[0] = data;
    c.top = 1;
    render_range(t, &t->v[i], 0, t->v[i].n, &c, 0, out);
    return 0;
}

void tpl_put_html(struct strbuf *out, const char *s)
{
    sb_html(out, s ? s : "");
}

void tpl_put_url(struct strbuf *out, const char *s)
{
    sb_url(out, s ? s : "");
}
