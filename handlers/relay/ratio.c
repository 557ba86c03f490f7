/* Billing: ratio tables, quota arithmetic, consume-log strings and prompt token counting. */
#include "config.h"
#include "handlers/relay/ratio.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "providers/tiktoken.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest key quoted in an error message; keeps err short whatever the admin pasted. */
#define ERR_KEY_MAX 80
/* Base64 bytes decoded first from a data URL: enough for every header but a JPEG whose SOF
 * follows large EXIF/ICC segments, which triggers a full decode. */
#define DATA_URL_PROBE 4096

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
    json_tokener *tok = json_tokener_new();
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

/* Appends v as Go's encoding/json writes a float64: the shortest round-trip digits, in plain
 * notation unless |v| < 1e-6 or >= 1e21, then as 1.5e-7 / 1e+21. */
static void put_go_float(struct strbuf *sb, double v)
{
    char buf[40];
    if (signbit(v)) {
        sb_putc(sb, '-');
        v = -v;
    }
    if (v == 0) {
        sb_putc(sb, '0');
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
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
        /* Go prints two exponent digits, then trims "e-07" to "e-7". */
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

/* Appends s as a JSON string the way Go escapes it (HTML-safe: <, >, & as \u00XX). */
static void put_go_string(struct strbuf *sb, const char *s)
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
            /* U+2028/U+2029 break JavaScript string literals; Go escapes them. */
            sb_puts(sb, u[2] == 0xA8 ? "\\u2028" : "\\u2029");
            u += 2;
        } else {
            sb_putc(sb, (char)*u);
        }
    }
    sb_putc(sb, '"');
}

static void put_pair(struct strbuf *sb, bool *is_first, const struct ratio_entry *e)
{
    if (!*is_first)
        sb_putc(sb, ',');
    *is_first = false;
    put_go_string(sb, e->name);
    sb_putc(sb, ':');
    put_go_float(sb, e->value);
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
/* Lookups (6.2)                                                                               */

/* Live table, then the built-in one; built-in negative rows do not count (quirk 22). */
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

/* Steps 2 and 3 of 6.2: "<name>(<channel_type>)", then "<name>". */
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

/* A fixed completion ratio for a set of exact names (6.13.3). */
struct completion_rule {
    const char *name; /* exact model name */
    double value;     /* the ratio, as the float64 of the original's constant expression */
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

/* The name-based fallback rules of 6.13.3, in the original's order. */
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
    /* Unlike ModelRatio, the original shortens only qwen names here. */
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

/* ------------------------------------------------------------------------------------------ */
/* Quota arithmetic                                                                            */

/* Go's int64(x) (truncation toward zero), saturating instead of undefined behaviour; NaN -> 0. */
static int64_t to_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return a > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

struct billing_pre billing_pre_consume(int64_t pre_consumed_quota, int64_t prompt_tokens,
                                       int64_t max_tokens, double ratio, int64_t user_quota)
{
    struct billing_pre p;
    int64_t tokens = sat_add(sat_add(pre_consumed_quota, prompt_tokens), max_tokens);
    p.estimate = to_i64((double)tokens * ratio);
    p.is_enough = user_quota >= p.estimate;
    int64_t hundredfold;
    p.is_trusted =
        !__builtin_mul_overflow(p.estimate, (int64_t)100, &hundredfold) && user_quota > hundredfold;
    return p;
}

int64_t billing_settle(int64_t prompt_tokens, int64_t completion_tokens, double completion_ratio,
                       double ratio)
{
    /* Same operation order as the original, so the double rounds identically. */
    double q = ((double)prompt_tokens + (double)completion_tokens * completion_ratio) * ratio;
    int64_t quota = to_i64(ceil(q));
    if (ratio != 0 && quota <= 0)
        quota = 1;
    if (sat_add(prompt_tokens, completion_tokens) == 0)
        quota = 0;
    return quota;
}

int64_t billing_audio_pre(int64_t pre_consumed_quota, double ratio)
{
    return to_i64((double)pre_consumed_quota * ratio);
}

int64_t billing_speech_quota(size_t input_len, double ratio)
{
    return to_i64((double)input_len * ratio);
}

/* One allowed size of an image model and its cost ratio. */
struct image_size {
    const char *size; /* "WxH" */
    double ratio;     /* size cost ratio */
};

/* The image table of 6.5 (relay/billing/ratio/image.go). */
struct image_model {
    const char *model;              /* model name after mapping */
    const struct image_size *sizes; /* allowed sizes; NULL: any size, ratio 1 */
    size_t n_sizes;                 /* entries in sizes */
    int64_t n_min, n_max;           /* allowed n */
    size_t max_prompt;              /* longest prompt in bytes */
};

static const struct image_size sizes_dalle2[] = {
    {"256x256", 1}, {"512x512", 1.125}, {"1024x1024", 1.25}};
static const struct image_size sizes_dalle3[] = {
    {"1024x1024", 1}, {"1024x1792", 2}, {"1792x1024", 2}};
static const struct image_size sizes_ali_sd[] = {
    {"512x1024", 1}, {"1024x768", 1}, {"1024x1024", 1}, {"576x1024", 1}, {"1024x576", 1}};
static const struct image_size sizes_wanx[] = {{"1024x1024", 1}, {"720x1280", 1}, {"1280x720", 1}};
static const struct image_size sizes_step[] = {{"256x256", 1},   {"512x512", 1},  {"768x768", 1},
                                               {"1024x1024", 1}, {"1280x800", 1}, {"800x1280", 1}};

#define SIZES(a) a, sizeof a / sizeof *a
static const struct image_model image_models[] = {
    {"dall-e-2", SIZES(sizes_dalle2), 1, 10, 1000},
    {"dall-e-3", SIZES(sizes_dalle3), 1, 1, 4000},
    {"ali-stable-diffusion-xl", SIZES(sizes_ali_sd), 1, 4, 4000},
    {"ali-stable-diffusion-v1.5", SIZES(sizes_ali_sd), 1, 4, 4000},
    {"wanx-v1", SIZES(sizes_wanx), 1, 4, 4000},
    {"step-1x-medium", SIZES(sizes_step), 1, 1, 4000},
    {"cogview-3", NULL, 0, 1, 1, 833},
};
#undef SIZES

static const struct image_model *image_model_find(const char *model)
{
    for (size_t i = 0; i < sizeof image_models / sizeof *image_models; i++)
        if (model && strcmp(image_models[i].model, model) == 0)
            return &image_models[i];
    return NULL;
}

static const struct image_size *image_size_find(const struct image_model *im, const char *size)
{
    for (size_t i = 0; im && size && i < im->n_sizes; i++)
        if (strcmp(im->sizes[i].size, size) == 0)
            return &im->sizes[i];
    return NULL;
}

int billing_image_validate(const char *model, const char *prompt, const char *size, int64_t n,
                           const char **code, const char **message)
{
    const struct image_model *im = image_model_find(model);
    if (!prompt || !*prompt) {
        *code = "prompt_missing";
        *message = "prompt is required";
        return -1;
    }
    if (im && im->sizes && !image_size_find(im, size)) {
        *code = "size_not_supported";
        *message = "size not supported for this image model";
        return -1;
    }
    if (im && strlen(prompt) > im->max_prompt) {
        *code = "prompt_too_long";
        *message = "prompt is too long";
        return -1;
    }
    if (n < 1 || (im && (n < im->n_min || n > im->n_max))) {
        *code = "n_not_within_range";
        *message = "invalid value of n";
        return -1;
    }
    *code = NULL;
    *message = NULL;
    return 0;
}

double billing_image_cost_ratio(const char *model, const char *size, const char *quality)
{
    const struct image_size *s = image_size_find(image_model_find(model), size);
    double r = s ? s->ratio : 1;
    if (quality && strcmp(quality, "hd") == 0 && model && strcmp(model, "dall-e-3") == 0)
        r *= size && strcmp(size, "1024x1024") == 0 ? 2 : 1.5;
    return r;
}

int64_t billing_image_quota(double ratio, double cost_ratio, int64_t n)
{
    return sat_mul(to_i64(ratio * cost_ratio * 1000), n);
}

/* ------------------------------------------------------------------------------------------ */
/* Log strings (6.8)                                                                           */

/* "倍率：" is U+500D U+7387 U+FF1A (full-width colon) and "×" is U+00D7, all UTF-8 here. */
void billing_log_content(struct strbuf *sb, double model_ratio, double group_ratio,
                         double completion_ratio)
{
    sb_printf(sb, "倍率：%.2f × %.2f × %.2f", model_ratio, group_ratio, completion_ratio);
}

void billing_log_content_media(struct strbuf *sb, double model_ratio, double group_ratio)
{
    sb_printf(sb, "倍率：%.2f × %.2f", model_ratio, group_ratio);
}

void billing_log_quota(struct strbuf *sb, int64_t quota, bool is_currency, double quota_per_unit)
{
    if (!is_currency) {
        sb_printf(sb, "%lld 点额度", (long long)quota);
        return;
    }
    if (!(quota_per_unit > 0))
        quota_per_unit = 500000;
    /* "＄" is U+FF04 FULLWIDTH DOLLAR SIGN, as the original writes it. */
    sb_printf(sb, "＄%.6f 额度", (double)quota / quota_per_unit);
}

/* ------------------------------------------------------------------------------------------ */
/* Image headers                                                                               */

/* image_header() results besides 0: not an image, or need more bytes to decide. */
#define IMG_BAD (-1)
#define IMG_SHORT 1

static uint32_t be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le24(const unsigned char *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | le24(p);
}

static int set_dims(uint32_t w, uint32_t h, int *pw, int *ph)
{
    if (w > INT_MAX || h > INT_MAX)
        return IMG_BAD;
    *pw = (int)w;
    *ph = (int)h;
    return 0;
}

/* Walks JPEG marker segments to the first start-of-frame. */
static int jpeg_size(const unsigned char *p, size_t len, int *w, int *h)
{
    size_t i = 2;
    for (;;) {
        /* Bytes between segments are tolerated and 0xFF fill bytes skipped, like libjpeg. */
        while (i < len && p[i] != 0xFF)
            i++;
        while (i < len && p[i] == 0xFF)
            i++;
        if (i >= len)
            return IMG_SHORT;
        unsigned char m = p[i++];
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8))
            continue; /* stuffed byte, TEM, RSTn, SOI: no length field */
        if (m == 0xD9 || m == 0xDA)
            return IMG_BAD; /* EOI or scan data before any frame header */
        if (i + 2 > len)
            return IMG_SHORT;
        uint32_t seg = be16(p + i);
        if (seg < 2)
            return IMG_BAD;
        bool is_sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (is_sof) {
            /* length(2) precision(1) height(2) width(2) */
            if (seg < 7)
                return IMG_BAD;
            if (i + 7 > len)
                return IMG_SHORT;
            return set_dims(be16(p + i + 5), be16(p + i + 3), w, h);
        }
        i += seg;
    }
}

static int webp_size(const unsigned char *p, size_t len, int *w, int *h)
{
    /* RIFF <size> WEBP, then the first chunk: fourcc(4) size(4) data. */
    if (len < 20)
        return IMG_SHORT;
    const unsigned char *d = p + 20;
    if (memcmp(p + 12, "VP8 ", 4) == 0) {
        /* frame tag(3), start code 9d 01 2a, 14-bit width and height (+2 scale bits) */
        if (len < 30)
            return IMG_SHORT;
        if ((d[0] & 1) != 0 || d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return IMG_BAD;
        return set_dims(le16(d + 6) & 0x3FFF, le16(d + 8) & 0x3FFF, w, h);
    }
    if (memcmp(p + 12, "VP8L", 4) == 0) {
        /* signature 0x2f, then width-1 (14 bits), height-1 (14 bits), alpha, version (3) */
        if (len < 25)
            return IMG_SHORT;
        uint32_t bits = le32(d + 1);
        if (d[0] != 0x2F || (bits >> 29) != 0)
            return IMG_BAD;
        return set_dims((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, w, h);
    }
    if (memcmp(p + 12, "VP8X", 4) == 0) {
        /* flags(1) reserved(3) canvas width-1 (24 bits) canvas height-1 (24 bits) */
        if (len < 30)
            return IMG_SHORT;
        return set_dims(le24(d + 4) + 1, le24(d + 7) + 1, w, h);
    }
    return IMG_BAD;
}

/* 0 with the size, IMG_BAD, or IMG_SHORT when more bytes could still make it decodable. */
static int image_header(const unsigned char *p, size_t len, int *w, int *h)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 1 && p[0] == 0x89) {
        /* signature, then the IHDR chunk: length 13, "IHDR", width, height (big-endian) */
        if (len < 24)
            return memcmp(p, png_sig, len < 8 ? len : 8) == 0 ? IMG_SHORT : IMG_BAD;
        if (memcmp(p, png_sig, 8) != 0 || be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0)
            return IMG_BAD;
        return set_dims(be32(p + 16), be32(p + 20), w, h);
    }
    if (len >= 1 && p[0] == 0xFF) {
        if (len < 2)
            return IMG_SHORT;
        if (p[1] != 0xD8)
            return IMG_BAD;
        return jpeg_size(p, len, w, h);
    }
    if (len >= 1 && p[0] == 'G') {
        /* "GIF87a"/"GIF89a", then the logical screen width and height (little-endian) */
        if (len < 10)
            return IMG_SHORT;
        if (memcmp(p, "GIF87a", 6) != 0 && memcmp(p, "GIF89a", 6) != 0)
            return IMG_BAD;
        return set_dims(le16(p + 6), le16(p + 8), w, h);
    }
    if (len >= 1 && p[0] == 'R') {
        if (len < 12)
            return IMG_SHORT;
        if (memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4) != 0)
            return IMG_BAD;
        return webp_size(p, len, w, h);
    }
    return len ? IMG_BAD : IMG_SHORT;
}

int count_image_size(const void *buf, size_t len, int *w, int *h)
{
    if (!buf)
        return -1;
    return image_header(buf, len, w, h) == 0 ? 0 : -1;
}

/* Value of a base64 digit (standard or URL-safe alphabet), -1 for others. */
static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/*
 * Decodes base64 from s into out (at most cap bytes), skipping whitespace and stopping at the
 * NUL or padding. Returns the bytes written, or -1 on a character outside the alphabet.
 * *is_all tells whether the whole input was decoded (false: stopped at cap).
 */
static long b64_decode(const char *s, unsigned char *out, size_t cap, bool *is_all)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    *is_all = false;
    for (const unsigned char *u = (const unsigned char *)s; *u && *u != '='; u++) {
        if (*u == ' ' || *u == '\t' || *u == '\r' || *u == '\n')
            continue;
        int v = b64_digit(*u);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return (long)n;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    *is_all = true;
    return (long)n;
}

int count_data_url_image_size(const char *url, int *w, int *h)
{
    if (!url || strncasecmp(url, "data:image/", 11) != 0)
        return -1;
    const char *b64 = strstr(url, ";base64,");
    const char *comma = strchr(url, ',');
    if (!b64 || comma < b64 + 7)
        return -1;
    const char *payload = b64 + 8;
    unsigned char probe[DATA_URL_PROBE];
    bool is_all;
    long n = b64_decode(payload, probe, sizeof probe, &is_all);
    if (n < 0)
        return -1;
    int rc = image_header(probe, (size_t)n, w, h);
    if (rc != IMG_SHORT || is_all)
        return rc == 0 ? 0 : -1;
    /* A JPEG whose frame header lies beyond the probe: decode everything once. */
    size_t cap = strlen(payload) / 4 * 3 + 3;
    unsigned char *all = xmalloc(cap);
    n = b64_decode(payload, all, cap, &is_all);
    rc = n < 0 ? IMG_BAD : image_header(all, (size_t)n, w, h);
    free(all);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Token counting (6.4)                                                                        */

/* OpenAI's image prices in tokens (6.4); gpt-4o-mini* is billed at its own, higher rates. */
#define IMG_LOW_COST 85
#define IMG_TILE_COST 170
#define IMG_BASE_COST 85
#define IMG_MINI_LOW_COST 2833
#define IMG_MINI_TILE_COST 5667
#define IMG_MINI_BASE_COST 2833

static bool is_mini(const char *model)
{
    return model && strncmp(model, "gpt-4o-mini", 11) == 0;
}

/* True for a model of the o200k_base generation. */
static bool is_o200k_model(const char *m)
{
    static const char *const prefixes[] = {"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5"};
    static const char *const series[] = {"o1", "o3", "o4"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(m, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    /* "o1" or "o1-…", not any name that happens to start with the letters. */
    for (size_t i = 0; i < sizeof series / sizeof *series; i++)
        if (strncmp(m, series[i], 2) == 0 && (m[2] == '\0' || m[2] == '-'))
            return true;
    return false;
}

const struct tiktoken *count_pick_encoder(const char *model, const struct tiktoken *cl100k,
                                          const struct tiktoken *o200k)
{
    bool want_o200k = model && is_o200k_model(model);
    if (want_o200k)
        return o200k ? o200k : cl100k;
    return cl100k ? cl100k : o200k;
}

int64_t count_text(const struct tiktoken *enc, const char *text, size_t len,
                   const struct count_opts *opts)
{
    if (!text || !len)
        return 0;
    if (opts && opts->is_approximate)
        return to_i64((double)len * 0.38);
    if (enc)
        return (int64_t)tiktoken_count(enc, text, len);
    /* No rank files: about four bytes per token for English, rounded up. */
    return (int64_t)(len / 4 + (len % 4 != 0));
}

static int64_t count_json_str(const struct tiktoken *enc, json_object *s,
                              const struct count_opts *opts)
{
    if (!json_object_is_type(s, json_type_string))
        return 0;
    return count_text(enc, json_object_get_string(s), (size_t)json_object_get_string_len(s), opts);
}

int64_t count_image_tile_tokens(int w, int h, const char *model)
{
    if (w < 0)
        w = 0;
    if (h < 0)
        h = 0;
    /* Same float steps and truncations as the original. */
    if (w > 2048 || h > 2048) {
        double r = 2048.0 / fmax(w, h);
        w = (int)(w * r);
        h = (int)(h * r);
    }
    if (w > 768 && h > 768) {
        double r = 768.0 / fmin(w, h);
        w = (int)(w * r);
        h = (int)(h * r);
    }
    int64_t tiles = (int64_t)(ceil(w / 512.0) * ceil(h / 512.0));
    if (is_mini(model))
        return tiles * IMG_MINI_TILE_COST + IMG_MINI_BASE_COST;
    return tiles * IMG_TILE_COST + IMG_BASE_COST;
}

int count_image_tokens(const char *url, const char *detail, const char *model,
                       const struct count_opts *opts, int64_t *tokens)
{
    int64_t low = is_mini(model) ? IMG_MINI_LOW_COST : IMG_LOW_COST;
    int w = 0, h = 0;
    *tokens = 0;
    /* The original measured "auto" to behave as "high". */
    if (detail && *detail && strcmp(detail, "auto") != 0) {
        if (strcmp(detail, "low") == 0) {
            *tokens = low;
            return 0;
        }
        if (strcmp(detail, "high") != 0)
            return -1;
    }
    if (!url)
        return -1;
    if (strncasecmp(url, "data:", 5) == 0) {
        if (count_data_url_image_size(url, &w, &h) != 0)
            return -1;
    } else if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        /* This module does no network I/O; without a fetcher the fixed part is charged. */
        if (!opts || !opts->fetch_image_size) {
            *tokens = low;
            return 0;
        }
        if (opts->fetch_image_size(opts->fetch_ud, url, &w, &h) != 0)
            return -1;
    } else {
        return -1;
    }
    *tokens = count_image_tile_tokens(w, h, model);
    return 0;
}

static json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

/* Tokens of a content array: text parts and image_url parts; other parts count 0. */
static int64_t count_parts(const struct tiktoken *enc, json_object *parts, const char *model,
                           const struct count_opts *opts)
{
    int64_t total = 0;
    size_t n = json_object_array_length(parts);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(parts, i);
        json_object *type = member(part, "type");
        if (!json_object_is_type(type, json_type_string))
            continue;
        const char *t = json_object_get_string(type);
        if (strcmp(t, "text") == 0) {
            total += count_json_str(enc, member(part, "text"), opts);
        } else if (strcmp(t, "image_url") == 0) {
            json_object *iu = member(part, "image_url");
            json_object *url = member(iu, "url"), *detail = member(iu, "detail");
            int64_t tokens;
            if (!json_object_is_type(url, json_type_string))
                continue;
            /* A failed image counts 0, as in the original (which only logs it). */
            if (count_image_tokens(json_object_get_string(url),
                                   json_object_is_type(detail, json_type_string)
                                       ? json_object_get_string(detail)
                                       : NULL,
                                   model, opts, &tokens) == 0)
                total += tokens;
        }
    }
    return total;
}

int64_t count_chat_prompt(const struct tiktoken *enc, struct json_object *messages,
                          const char *model, const struct count_opts *opts)
{
    /* gpt-3.5-turbo-0301 framed messages differently: a name replaced the role. */
    bool is_0301 = model && strcmp(model, "gpt-3.5-turbo-0301") == 0;
    int64_t per_message = is_0301 ? 4 : 3, per_name = is_0301 ? -1 : 1;
    int64_t total = 0;
    size_t n =
        json_object_is_type(messages, json_type_array) ? json_object_array_length(messages) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(messages, i);
        if (!json_object_is_type(msg, json_type_object))
            continue;
        total += per_message;
        json_object *content = member(msg, "content");
        if (json_object_is_type(content, json_type_string))
            total += count_json_str(enc, content, opts);
        else if (json_object_is_type(content, json_type_array))
            total += count_parts(enc, content, model, opts);
        total += count_json_str(enc, member(msg, "role"), opts);
        json_object *name = member(msg, "name");
        if (json_object_is_type(name, json_type_string))
            total += per_name + count_json_str(enc, name, opts);
    }
    return total + 3; /* every reply is primed with <|start|>assistant<|message|> */
}

static int64_t count_input_at(const struct tiktoken *enc, json_object *in, int depth,
                              const struct count_opts *opts)
{
    switch (json_object_get_type(in)) {
    case json_type_string: return count_json_str(enc, in, opts);
    case json_type_int: return depth > 0; /* a token id inside a pre-tokenised prompt */
    case json_type_object: return count_json_str(enc, member(in, "text"), opts);
    case json_type_array: {
        /* Two levels: ["a","b"], [1,2,3] and [[1,2],[3]] are all valid prompts. */
        if (depth > 1)
            return 0;
        int64_t total = 0;
        size_t n = json_object_array_length(in);
        for (size_t i = 0; i < n; i++)
            total += count_input_at(enc, json_object_array_get_idx(in, i), depth + 1, opts);
        return total;
    }
    default: return 0;
    }
}

int64_t count_input(const struct tiktoken *enc, struct json_object *input,
                    const struct count_opts *opts)
{
    return count_input_at(enc, input, 0, opts);
}
