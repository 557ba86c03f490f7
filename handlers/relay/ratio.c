/* ratio: the ratio tables: parsing and validation, bisection lookups with One API's key
 * rules and fallbacks, and the JSON text in Go's format. */
#include "config.h"
#include "handlers/relay/ratio.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest key quoted in an error message; keeps err short whatever the admin pasted. */
#define ERR_KEY_MAX 80

/* ------------------------------------------------------------------------------------------ */
/* Keys and bisection                                                                          */

/* A lookup key made of two pieces, so "<name>(<type>)" and a name shortened by "-internet"
 * need no copy. */
struct keyview {
    const char *a; /* first piece */
    size_t alen;   /* its length */
    const char *b; /* second piece (may be "") */
    size_t blen;   /* its length */
};

/* strcmp(key, s) with the key given as pieces. */
static int key_cmp(const struct keyview *k, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = k->alen + k->blen;
    for (size_t i = 0; i < n; i++, u++) {
        unsigned char c = (unsigned char)(i < k->alen ? k->a[i] : k->b[i - k->alen]);
        if (c != *u)
            return c < *u ? -1 : 1;
    }
    return *u ? -1 : 0;
}

static const struct ratio_entry *find_entry(const struct ratio_entry *v, size_t n,
                                            const struct keyview *k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(k, v[mid].name);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int entry_cmp(const void *x, const void *y)
{
    return strcmp(((const struct ratio_entry *)x)->name, ((const struct ratio_entry *)y)->name);
}

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool ends(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool equals(const char *s, size_t len, const char *t)
{
    return strlen(t) == len && memcmp(s, t, len) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                      */

/* One parsed option: entries sorted by strcmp, their names in one pool. */
struct ratio_map {
    struct ratio_entry *v; /* n entries (heap); names point into pool */
    size_t n;              /* entry count */
    char *pool;            /* the NUL-terminated key strings (heap) */
};

struct ratio_tables {
    struct ratio_map map[RATIO__MAX]; /* indexed by enum ratio_kind */
};

/* What RATIO_PARSE_SKIP_NEGATIVE dropped, for the note returned in err. */
struct skipped {
    size_t n;                    /* keys dropped */
    enum ratio_kind kind;        /* option of the first one */
    char first[ERR_KEY_MAX + 1]; /* the first one, truncated */
};

static const char *const kind_names[RATIO__MAX] = {
    "ModelRatio",      /* RATIO_MODEL */
    "CompletionRatio", /* RATIO_COMPLETION */
    "GroupRatio",      /* RATIO_GROUP */
};

const char *ratio_kind_name(enum ratio_kind kind)
{
    return (unsigned)kind < RATIO__MAX ? kind_names[kind] : "?";
}

static void defaults_of(enum ratio_kind kind, const struct ratio_entry **v, size_t *n)
{
    switch (kind) {
    case RATIO_MODEL:
        *v = ratio_default_model;
        *n = ratio_default_model_n;
        return;
    case RATIO_COMPLETION:
        *v = ratio_default_completion;
        *n = ratio_default_completion_n;
        return;
    case RATIO_GROUP:
    default:
        *v = ratio_default_group;
        *n = ratio_default_group_n;
        return;
    }
}

static void map_free(struct ratio_map *m)
{
    free(m->v);
    free(m->pool);
    memset(m, 0, sizeof *m);
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* True when only JSON whitespace remains. */
static bool only_space(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/*
 * Parses one option into m (validating everything before allocating the map). NULL json gives
 * an empty map. Returns 0, or -1 with err set and m untouched.
 */
static int parse_map(enum ratio_kind kind, const char *json, unsigned flags, struct ratio_map *m,
                     struct skipped *sk, char *err, size_t errlen)
{
    const char *what = ratio_kind_name(kind);
    memset(m, 0, sizeof *m);
    if (!json)
        return 0;
    size_t len = strlen(json);
    if (len > INT_MAX) {
        set_err(err, errlen, "%s: value too large", what);
        return -1;
    }
    json_tokener *tok = jtokener_new(0);
    if (!tok)
        abort();
    /* Strict: no NaN/Infinity, single quotes or trailing commas, which Go would refuse. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success || !only_space(json + end)) {
        set_err(err, errlen, "%s: invalid JSON: %s", what,
                jerr == json_tokener_continue || jerr == json_tokener_success
                    ? "unexpected end or trailing data"
                    : json_tokener_error_desc(jerr));
        json_object_put(obj);
        return -1;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        set_err(err, errlen, "%s: must be a JSON object of numbers", what);
        json_object_put(obj);
        return -1;
    }

    size_t n = 0, pool_len = 0;
    struct json_object_iterator it = json_object_iter_begin(obj);
    struct json_object_iterator stop = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &stop); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *val = json_object_iter_peek_value(&it);
        if (!json_object_is_type(val, json_type_int) &&
            !json_object_is_type(val, json_type_double)) {
            set_err(err, errlen, "%s: value of \"%.*s\" must be a number", what, ERR_KEY_MAX, key);
            json_object_put(obj);
            return -1;
        }
        double d = json_object_get_double(val);
        if (!isfinite(d)) {
            set_err(err, errlen, "%s: value of \"%.*s\" must be finite", what, ERR_KEY_MAX, key);
            json_object_put(obj);
            return -1;
        }
        if (d < 0) {
            if (!(flags & RATIO_PARSE_SKIP_NEGATIVE)) {
                set_err(err, errlen, "%s: value of \"%.*s\" must not be negative", what,
                        ERR_KEY_MAX, key);
                json_object_put(obj);
                return -1;
            }
            if (sk->n++ == 0) {
                sk->kind = kind;
                snprintf(sk->first, sizeof sk->first, "%s", key);
            }
            continue;
        }
        n++;
        pool_len += strlen(key) + 1;
    }

    m->v = n ? xcalloc(n, sizeof *m->v) : NULL;
    m->pool = pool_len ? xmalloc(pool_len) : NULL;
    char *p = m->pool;
    it = json_object_iter_begin(obj);
    for (; !json_object_iter_equal(&it, &stop); json_object_iter_next(&it)) {
        double d = json_object_get_double(json_object_iter_peek_value(&it));
        if (d < 0)
            continue;
        const char *key = json_object_iter_peek_name(&it);
        size_t kl = strlen(key) + 1;
        memcpy(p, key, kl);
        m->v[m->n].name = p;
        m->v[m->n].value = d;
        m->n++;
        p += kl;
    }
    json_object_put(obj);
    /* json-c keeps one value per key (the last, as Go does), so names are unique. */
    if (m->n > 1)
        qsort(m->v, m->n, sizeof *m->v, entry_cmp);
    return 0;
}

int ratio_tables_parse_ex(const char *model_json, const char *completion_json,
                          const char *group_json, unsigned flags, struct ratio_tables **out,
                          char *err, size_t errlen)
{
    const char *json[RATIO__MAX] = {model_json, completion_json, group_json};
    struct ratio_map maps[RATIO__MAX];
    struct skipped sk = {0};
    set_err(err, errlen, "%s", "");
    for (int k = 0; k < RATIO__MAX; k++) {
        if (parse_map((enum ratio_kind)k, json[k], flags, &maps[k], &sk, err, errlen) != 0) {
            while (k-- > 0)
                map_free(&maps[k]);
            return -1;
        }
    }
    struct ratio_tables *t = xcalloc(1, sizeof *t);
    memcpy(t->map, maps, sizeof maps);
    *out = t;
    if (sk.n)
        set_err(err, errlen, "%s: dropped %zu negative value(s), first \"%s\"",
                ratio_kind_name(sk.kind), sk.n, sk.first);
    return 0;
}

int ratio_tables_parse(const char *model_json, const char *completion_json, const char *group_json,
                       struct ratio_tables **out, char *err, size_t errlen)
{
    return ratio_tables_parse_ex(model_json, completion_json, group_json, 0, out, err, errlen);
}

int ratio_json_validate(enum ratio_kind kind, const char *json, char *err, size_t errlen)
{
    struct ratio_map m;
    struct skipped sk = {0};
    set_err(err, errlen, "%s", "");
    if ((unsigned)kind >= RATIO__MAX) {
        set_err(err, errlen, "unknown ratio option");
        return -1;
    }
    if (!json) {
        set_err(err, errlen, "%s: missing value", ratio_kind_name(kind));
        return -1;
    }
    if (parse_map(kind, json, 0, &m, &sk, err, errlen) != 0)
        return -1;
    map_free(&m);
    return 0;
}

void ratio_tables_free(struct ratio_tables *t)
{
    if (!t)
        return;
    for (int k = 0; k < RATIO__MAX; k++)
        map_free(&t->map[k]);
    free(t);
}

size_t ratio_tables_count(const struct ratio_tables *t, enum ratio_kind kind)
{
    if (!t || (unsigned)kind >= RATIO__MAX)
        return 0;
    return t->map[kind].n;
}

const char *ratio_tables_key(const struct ratio_tables *t, enum ratio_kind kind, size_t i,
                             double *value)
{
    if (!t || (unsigned)kind >= RATIO__MAX || i >= t->map[kind].n)
        return NULL;
    if (value)
        *value = t->map[kind].v[i].value;
    return t->map[kind].v[i].name;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON text in Go's encoding/json format                                                      */

static void put_pair(struct strbuf *sb, bool *is_first, const struct ratio_entry *e)
{
    if (!*is_first)
        sb_putc(sb, ',');
    *is_first = false;
    jput_go_string(sb, e->name);
    sb_putc(sb, ':');
    jput_go_float(sb, e->value);
}

/* Merges the live rows (winning) with the non-negative defaults, in strcmp order. */
static char *tables_json(const struct ratio_entry *live, size_t n_live,
                         const struct ratio_entry *def, size_t n_def)
{
    struct strbuf sb;
    bool is_first = true;
    size_t i = 0, j = 0;
    sb_init(&sb, NULL);
    sb_putc(&sb, '{');
    while (i < n_live || j < n_def) {
        int c = i >= n_live ? 1 : j >= n_def ? -1 : strcmp(live[i].name, def[j].name);
        if (c <= 0) {
            put_pair(&sb, &is_first, &live[i++]);
            j += c == 0;
        } else {
            if (def[j].value >= 0)
                put_pair(&sb, &is_first, &def[j]);
            j++;
        }
    }
    sb_putc(&sb, '}');
    return sb_detach(&sb, NULL);
}

char *ratio_defaults_json(enum ratio_kind kind)
{
    const struct ratio_entry *def;
    size_t n_def;
    defaults_of(kind, &def, &n_def);
    return tables_json(NULL, 0, def, n_def);
}

char *ratio_tables_json(const struct ratio_tables *t, enum ratio_kind kind, bool merge_defaults)
{
    const struct ratio_entry *def = NULL;
    size_t n_def = 0;
    if (merge_defaults)
        defaults_of(kind, &def, &n_def);
    if (!t || (unsigned)kind >= RATIO__MAX)
        return tables_json(NULL, 0, def, n_def);
    return tables_json(t->map[kind].v, t->map[kind].n, def, n_def);
}

/* ------------------------------------------------------------------------------------------ */
/* Lookups                                                                                    */

/* Live table, then the built-in one; built-in negative rows do not count (a negative ratio
 * would credit the user: docs/compatibility.md). */
static bool lookup_key(const struct ratio_tables *t, enum ratio_kind kind, const struct keyview *k,
                       double *out)
{
    const struct ratio_entry *e;
    if (t && (e = find_entry(t->map[kind].v, t->map[kind].n, k))) {
        *out = e->value;
        return true;
    }
    const struct ratio_entry *def;
    size_t n_def;
    defaults_of(kind, &def, &n_def);
    if ((e = find_entry(def, n_def, k)) && e->value >= 0) {
        *out = e->value;
        return true;
    }
    return false;
}

/* "<name>(<channel_type>)", then "<name>", as One API tries them. */
static bool lookup_name(const struct ratio_tables *t, enum ratio_kind kind, const char *name,
                        size_t len, int channel_type, double *out)
{
    char suffix[16];
    int sl = snprintf(suffix, sizeof suffix, "(%d)", channel_type);
    struct keyview k = {name, len, suffix, (size_t)sl};
    if (lookup_key(t, kind, &k, out))
        return true;
    k.b = "";
    k.blen = 0;
    return lookup_key(t, kind, &k, out);
}

double ratio_model(const struct ratio_tables *t, const char *model, int channel_type,
                   bool *is_fallback)
{
    const char *name = model ? model : "";
    size_t len = strlen(name);
    double r;
    if ((starts(name, len, "qwen-") || starts(name, len, "command-")) &&
        ends(name, len, "-internet"))
        len -= strlen("-internet");
    bool found = lookup_name(t, RATIO_MODEL, name, len, channel_type, &r);
    if (is_fallback)
        *is_fallback = !found;
    return found ? r : RATIO_UNKNOWN_MODEL;
}

/* A fixed completion ratio for a set of exact names (One API's fallback table). */
struct completion_rule {
    const char *name; /* exact model name */
    double value;     /* the ratio, as the float64 of One API's constant expression */
};

static const struct completion_rule completion_exact[] = {
    {"llama2-70b-4096", 1.25}, /* 0.8/0.64 */
    {"llama3-8b-8192", 2},
    {"llama3-70b-8192", 1.3389830508474576}, /* 0.79/0.59 */
    {"command", 2},
    {"command-light", 2},
    {"command-nightly", 2},
    {"command-light-nightly", 2},
    {"command-r", 3},
    {"command-r-plus", 5},
    {"grok-beta", 3},
    {"ibm-granite/granite-20b-code-instruct-8k", 5},
    {"ibm-granite/granite-3.0-2b-instruct", 8.333333333333334},
    {"ibm-granite/granite-3.0-8b-instruct", 5},
    {"ibm-granite/granite-8b-code-instruct-128k", 5},
    {"meta/llama-2-13b", 5},
    {"meta/llama-2-13b-chat", 5},
    {"meta/llama-2-7b", 5},
    {"meta/llama-2-7b-chat", 5},
    {"meta/meta-llama-3-8b", 5},
    {"meta/meta-llama-3-8b-instruct", 5},
    {"meta/llama-2-70b", 4.230769230769231}, /* 2.75/0.65 */
    {"meta/llama-2-70b-chat", 4.230769230769231},
    {"meta/meta-llama-3-70b", 4.230769230769231},
    {"meta/meta-llama-3-70b-instruct", 4.230769230769231},
    {"meta/meta-llama-3.1-405b-instruct", 1},
    {"mistralai/mistral-7b-instruct-v0.2", 5},
    {"mistralai/mistral-7b-v0.1", 5},
    {"mistralai/mixtral-8x7b-instruct-v0.1", 3.3333333333333335}, /* 1/0.3 */
};

/* One API's name-based completion ratio rules, in its order. */
static double completion_fallback(const char *s, size_t len)
{
    if (starts(s, len, "gpt-3.5")) {
        if (equals(s, len, "gpt-3.5-turbo") || ends(s, len, "0125"))
            return 3;
        if (ends(s, len, "1106"))
            return 2;
        return 4.0 / 3.0;
    }
    if (starts(s, len, "gpt-4")) {
        if (starts(s, len, "gpt-4o"))
            return equals(s, len, "gpt-4o-2024-05-13") ? 3 : 4;
        if (starts(s, len, "gpt-4-turbo") || ends(s, len, "preview"))
            return 3;
        return 2;
    }
    if (starts(s, len, "o1"))
        return 4;
    if (equals(s, len, "chatgpt-4o-latest"))
        return 3;
    if (starts(s, len, "claude-3"))
        return 5;
    if (starts(s, len, "claude-") || starts(s, len, "mistral-") || starts(s, len, "gemini-"))
        return 3;
    if (starts(s, len, "deepseek-"))
        return 2;
    for (size_t i = 0; i < sizeof completion_exact / sizeof *completion_exact; i++)
        if (equals(s, len, completion_exact[i].name))
            return completion_exact[i].value;
    return 1;
}

double ratio_completion(const struct ratio_tables *t, const char *model, int channel_type)
{
    const char *name = model ? model : "";
    size_t len = strlen(name);
    double r;
    /* Unlike ModelRatio, One API shortens only qwen names here. */
    if (starts(name, len, "qwen-") && ends(name, len, "-internet"))
        len -= strlen("-internet");
    if (lookup_name(t, RATIO_COMPLETION, name, len, channel_type, &r))
        return r;
    return completion_fallback(name, len);
}

double ratio_group(const struct ratio_tables *t, const char *group, bool *is_missing)
{
    const char *g = group ? group : "";
    struct keyview k = {g, strlen(g), "", 0};
    const struct ratio_entry *e;
    if (t)
        e = find_entry(t->map[RATIO_GROUP].v, t->map[RATIO_GROUP].n, &k);
    else
        e = find_entry(ratio_default_group, ratio_default_group_n, &k);
    if (is_missing)
        *is_missing = !e;
    return e ? e->value : 1;
}
