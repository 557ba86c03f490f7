/* Checks providers/tiktoken.c against counts and ids produced by npm tiktoken for a corpus. */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fcgi/xmalloc.h"
#include "providers/tiktoken.h"
#include "tap.h"

/* Where corpus.txt and expected.tsv live, under $top_srcdir, else $srcdir, else the cwd. */
#define DATA_SUBDIR "tests/data/tiktoken"
/* Threads in the concurrency test; each counts the whole corpus with a shared encoder. */
#define N_THREADS 4

/* One corpus text with its reference results (counts and, when recorded, ids). */
struct rec {
    char *name;        /* record name from its header line (heap) */
    char *text;        /* the bytes, possibly invalid UTF-8 (heap) */
    size_t len;        /* bytes in text */
    long want[2];      /* expected counts: [0] cl100k, [1] o200k; -1 when absent */
    char *want_ids[2]; /* comma-separated expected ids, or NULL when not recorded (heap) */
};

/* The parsed corpus. */
struct corpus {
    struct rec *recs; /* n records (heap) */
    size_t n;         /* record count */
};

/* A growable byte buffer for building record texts. */
struct buf {
    char *p;    /* bytes (heap) */
    size_t len; /* used */
    size_t cap; /* allocated */
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 256;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends code point cp as UTF-8. */
static void buf_utf8(struct buf *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_put(b, u, n);
}

/* Interprets the corpus escapes (\n \r \t \\ \xHH \u{HEX}) of s[0..n) into out. */
static bool unescape(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i], e;

        if (c != '\\') {
            buf_put(out, &c, 1);
            continue;
        }
        if (++i >= n)
            return false;
        e = s[i];
        if (e == 'n' || e == 'r' || e == 't' || e == '\\') {
            c = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : '\\';
            buf_put(out, &c, 1);
        } else if (e == 'x' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], '\0'};
            unsigned char byte = (unsigned char)strtoul(hex, NULL, 16);

            buf_put(out, &byte, 1);
            i += 2;
        } else if (e == 'u' && i + 1 < n && s[i + 1] == '{') {
            char *end;
            unsigned long cp = strtoul(s + i + 2, &end, 16);

            if (*end != '}')
                return false;
            buf_utf8(out, cp);
            i = (size_t)(end - s);
        } else {
            return false;
        }
    }
    return true;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b = {0};
    char chunk[8192];
    size_t k;

    if (!f)
        return NULL;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, k);
    fclose(f);
    buf_put(&b, "", 0);
    *len = b.len;
    return b.p;
}

/* Finishes a record: applies its flags to the raw body lines. */
static bool finish_rec(struct rec *r, const char *flags, const struct buf *body)
{
    struct buf text = {0};
    long repeat = 1;
    bool esc = false;
    bool known = true;
    char *copy = xstrdup(flags), *save = NULL;

    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (strcmp(f, "esc") == 0)
            esc = true;
        else if (strncmp(f, "repeat=", 7) == 0)
            repeat = strtol(f + 7, NULL, 10);
        else
            known = false;
    }
    free(copy);
    if (!known || repeat < 1)
        return false;
    if (esc) {
        if (!unescape(body->p ? body->p : "", body->len, &text)) {
            free(text.p);
            return false;
        }
    } else {
        buf_put(&text, body->p ? body->p : "", body->len);
    }
    buf_put(&text, "", 0);
    r->len = text.len * (size_t)repeat;
    r->text = xmalloc(r->len + 1);
    for (long i = 0; i < repeat; i++)
        memcpy(r->text + (size_t)i * text.len, text.p, text.len);
    r->text[r->len] = '\0';
    free(text.p);
    return true;
}

/* Parses corpus.txt (format described in gen-expected.js). */
static bool load_corpus(const char *path, struct corpus *c)
{
    size_t len, pos = 0;
    char *data = slurp(path, &len);
    struct buf body = {0};
    char flags[64] = "";
    bool in_rec = false, good = true, first_line = true;

    if (!data)
        return false;
    while (good && pos < len) {
        char *line = data + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;

        pos += ll + 1;
        if (ll >= 8 && strncmp(line, "=== ", 4) == 0 && strncmp(line + ll - 4, " ===", 4) == 0) {
            char *name_end, *open;
            struct rec *r;

            if (in_rec)
                good = finish_rec(&c->recs[c->n - 1], flags, &body);
            line[ll - 4] = '\0';
            name_end = strchr(line + 4, ' ');
            open = name_end ? strchr(name_end, '[') : NULL;
            flags[0] = '\0';
            if (open) {
                snprintf(flags, sizeof flags, "%s", open + 1);
                flags[strcspn(flags, "]")] = '\0';
            }
            if (name_end)
                *name_end = '\0';
            c->recs = xrealloc(c->recs, (c->n + 1) * sizeof *c->recs);
            r = &c->recs[c->n++];
            memset(r, 0, sizeof *r);
            r->name = xstrdup(line + 4);
            r->want[0] = r->want[1] = -1;
            body.len = 0;
            in_rec = true;
            first_line = true;
            continue;
        }
        if (!in_rec) {
            good = false; /* text before the first header */
            break;
        }
        if (!first_line)
            buf_put(&body, "\n", 1);
        buf_put(&body, line, ll);
        first_line = false;
    }
    if (good && in_rec)
        good = finish_rec(&c->recs[c->n - 1], flags, &body);
    free(body.p);
    free(data);
    return good;
}

/* Reads expected.tsv into the corpus records; the names must line up with the corpus. */
static bool load_expected(const char *path, struct corpus *c)
{
    size_t len, pos = 0;
    char *data = slurp(path, &len);
    size_t seen = 0;

    if (!data)
        return false;
    while (pos < len) {
        char *line = data + pos, *nl = memchr(line, '\n', len - pos);
        char *field[6];
        size_t ll = nl ? (size_t)(nl - line) : len - pos, nf = 0, idx;

        pos += ll + 1;
        line[ll] = '\0';
        if (ll == 0 || line[0] == '#')
            continue;
        /* strsep, not strtok, so that an empty ids field (the empty text) is kept. */
        for (char *f = line; nf < 6 && (f = strsep(&line, "\t")) != NULL;)
            field[nf++] = f;
        idx = nf == 6 ? strtoul(field[0], NULL, 10) : c->n;
        if (idx >= c->n || strcmp(c->recs[idx].name, field[1]) != 0) {
            free(data);
            return false; /* malformed row, or corpus.txt changed without regenerating */
        }
        c->recs[idx].want[0] = strtol(field[2], NULL, 10);
        c->recs[idx].want[1] = strtol(field[3], NULL, 10);
        for (int e = 0; e < 2; e++)
            c->recs[idx].want_ids[e] = strcmp(field[4 + e], "-") ? xstrdup(field[4 + e]) : NULL;
        seen++;
    }
    free(data);
    return seen == c->n;
}

static void free_corpus(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->recs[i].name);
        free(c->recs[i].text);
        free(c->recs[i].want_ids[0]);
        free(c->recs[i].want_ids[1]);
    }
    free(c->recs);
}

/* Compares ids with a comma list; on mismatch prints where they first differ. */
static bool ids_match(const uint32_t *ids, size_t n, const char *want)
{
    const char *p = want;
    size_t i = 0;

    while (*p) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);

        if (i >= n || v != ids[i]) {
            note("first difference at token %zu: got %ld, want %lu", i, i < n ? (long)ids[i] : -1L,
                 v);
            return false;
        }
        i++;
        p = *end == ',' ? end + 1 : end;
    }
    if (i != n)
        note("got %zu ids, want %zu", n, i);
    return i == n;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_corpus(struct tiktoken *const tk[2], const struct corpus *c)
{
    size_t matched[2] = {0, 0};

    for (size_t i = 0; i < c->n; i++) {
        const struct rec *r = &c->recs[i];

        for (int e = 0; e < 2; e++) {
            const char *en = tiktoken_enc_name(e ? TIKTOKEN_O200K : TIKTOKEN_CL100K);
            size_t got = tiktoken_count(tk[e], r->text, r->len);
            uint32_t *ids = NULL;
            size_t n = 0;

            matched[e] += (long)got == r->want[e];
            is_int(got, r->want[e], "%s %s count", en, r->name);
            if (!r->want_ids[e])
                continue;
            ok(tiktoken_encode(tk[e], r->text, r->len, &ids, &n) == 0 &&
                   ids_match(ids, n, r->want_ids[e]),
               "%s %s ids", en, r->name);
            free(ids);
        }
    }
    note("counts matched: cl100k_base %zu/%zu, o200k_base %zu/%zu", matched[0], c->n, matched[1],
         c->n);
}

/* Arguments and result of one concurrent counting thread. */
struct thread_arg {
    const struct tiktoken *tk; /* shared encoder */
    const struct corpus *c;    /* shared corpus */
    int enc;                   /* index into rec.want */
    size_t mismatches;         /* records whose count differed from the reference */
};

static void *count_thread(void *p)
{
    struct thread_arg *a = p;

    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < a->c->n; i++)
            a->mismatches += (long)tiktoken_count(a->tk, a->c->recs[i].text, a->c->recs[i].len) !=
                             a->c->recs[i].want[a->enc];
    return NULL;
}

static void test_threads(struct tiktoken *const tk[2], const struct corpus *c)
{
    pthread_t th[N_THREADS];
    struct thread_arg arg[N_THREADS];
    size_t bad = 0;
    int started = 0;

    for (int t = 0; t < N_THREADS; t++) {
        arg[t] = (struct thread_arg){.tk = tk[t % 2], .c = c, .enc = t % 2};
        if (pthread_create(&th[t], NULL, count_thread, &arg[t]) == 0)
            started++;
        else
            break;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        bad += arg[t].mismatches;
    }
    is_int(started, N_THREADS, "started %d counting threads", N_THREADS);
    is_int(bad, 0, "concurrent counts on shared encoders match the reference");
}

/* Inputs that stress the splitter and the long-piece merge; 100 KB each. */
static void test_long_inputs(struct tiktoken *const tk[2])
{
    static const struct {
        const char *text, *label; /* the repeated unit, and how TAP shows it */
    } units[] = {
        {"a", "a"},   {" ", "space"},   {"\n", "LF"}, {"7", "7"},        {"!@#$%^&*()", "punct"},
        {"中", "中"}, {"🙂", "🙂"}, {"Ab", "Ab"}, {"a ", "a space"}, {" \n", "space LF"},
    };
    const size_t size = 100 * 1024;
    char *text = xmalloc(size + 8);

    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u].text), len = 0;

        while (len + ul <= size) {
            memcpy(text + len, units[u].text, ul);
            len += ul;
        }
        for (int e = 0; e < 2; e++) {
            double t0 = now_s();
            size_t got = tiktoken_count(tk[e], text, len);
            double dt = now_s() - t0;

            ok(got > 0 && got <= len, "%s: 100 KB of %s (x%zu): %zu tokens in %.3f s",
               tiktoken_enc_name(e ? TIKTOKEN_O200K : TIKTOKEN_CL100K), units[u].label, len / ul,
               got, dt);
            /* Verified once with npm tiktoken@1.0.22: runs of 'a' merge into 8-byte tokens. */
            if (u == 0)
                is_int(got, len / 8, "100 KB single word 'aaa...' count");
        }
    }
    free(text);
}

static void test_invalid_utf8(struct tiktoken *const tk[2])
{
    /* Each maximal invalid subpart counts as one U+FFFD: compare with the repaired text. */
    static const struct {
        const char *bad, *good;
    } cases[] = {
        {"x\xffy", "x\xef\xbf\xbdy"},
        {"\xc3(", "\xef\xbf\xbd("},
        {"\xe2\x82", "\xef\xbf\xbd"},
        {"\xf0\x9f\x98 ok", "\xef\xbf\xbd ok"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int e = 0; e < 2; e++)
            is_int(tiktoken_count(tk[e], cases[i].bad, strlen(cases[i].bad)),
                   tiktoken_count(tk[e], cases[i].good, strlen(cases[i].good)),
                   "invalid UTF-8 case %zu counts as U+FFFD (%s)", i, e ? "o200k" : "cl100k");
    /* NUL bytes are ordinary bytes, not terminators. */
    is_int(tiktoken_count(tk[0], "a\0b", 3), 3, "embedded NUL is counted");
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(content, f);
        fclose(f);
    }
}

static void test_load_errors(void)
{
    char dir[] = "/tmp/test_tiktoken.XXXXXX", path[64], err[256];
    struct tiktoken *tk;

    tk = tiktoken_load(TIKTOKEN_CL100K, "/nonexistent/dir", err, sizeof err);
    ok(!tk && strstr(err, "cl100k_base.tiktoken"), "missing file: %s", err);
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/cl100k_base.tiktoken", dir);
    write_file(path, "IQ== 0\n!!!! 1\n");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && strstr(err, ":2: bad base64"), "bad base64: %s", err);
    write_file(path, "IQ== 0\nIg== x\n");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && strstr(err, ":2: bad rank"), "bad rank: %s", err);
    write_file(path, "IQ== 0\nIQ== 1\n");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && strstr(err, "duplicate token"), "duplicate token: %s", err);
    write_file(path, "IQ== 0\nIg== 0\n");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && strstr(err, "repeated"), "duplicate rank: %s", err);
    write_file(path, "IQ== 0\nIg== 1\n");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && strstr(err, "no token for byte"), "truncated vocabulary: %s", err);
    write_file(path, "");
    tk = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
    ok(!tk && err[0], "empty file: %s", err);
    unlink(path);
    rmdir(dir);
    tiktoken_free(NULL);
    ok(1, "tiktoken_free(NULL) is a no-op");
}

static void test_api_edges(struct tiktoken *const tk[2])
{
    uint32_t *ids = (uint32_t *)1;
    size_t n = 99;

    is_int(tiktoken_count(tk[0], NULL, 0), 0, "NULL text with len 0 counts 0");
    is_int(tiktoken_count(tk[0], "", 0), 0, "empty text counts 0");
    is_int(tiktoken_encode(tk[0], NULL, 5, &ids, &n), -1, "encode rejects NULL text with len");
    ok(ids == NULL && n == 0, "failed encode leaves ids NULL and n 0");
    is_int(tiktoken_encode(tk[0], "", 0, &ids, &n), 0, "encode of empty text succeeds");
    ok(ids == NULL && n == 0, "empty encode yields no ids");
    is_str(tiktoken_enc_name(TIKTOKEN_CL100K), "cl100k_base", "cl100k name");
    is_str(tiktoken_enc_name(TIKTOKEN_O200K), "o200k_base", "o200k name");
    /* Special tokens are ordinary text: "<|endoftext|>" is several tokens, never 100257. */
    ok(tiktoken_encode(tk[0], "<|endoftext|>", 13, &ids, &n) == 0 && n > 1 && ids[0] != 100257,
       "<|endoftext|> is encoded as ordinary text (%zu tokens)", n);
    free(ids);
}

int main(void)
{
    const char *cache = getenv("TIKTOKEN_CACHE_DIR");
    const char *srcdir = getenv("top_srcdir");
    char corpus_path[4096], expected_path[4096], err[512];
    struct tiktoken *tk[2] = {NULL, NULL};
    struct corpus c = {0};
    double t0;

    if (!srcdir || !*srcdir)
        srcdir = getenv("srcdir"); /* automake's, the top directory in a non-recursive build */
    if (!srcdir || !*srcdir)
        srcdir = ".";
    if (!cache || !*cache) {
        printf("1..0 # SKIP no rank files (TIKTOKEN_CACHE_DIR unset)\n");
        return 0;
    }
    for (int e = 0; e < 2; e++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s.tiktoken", cache,
                 tiktoken_enc_name(e ? TIKTOKEN_O200K : TIKTOKEN_CL100K));
        if (stat(path, &st) != 0) {
            printf("1..0 # SKIP no rank files (%s missing)\n", path);
            return 0;
        }
    }
    for (int e = 0; e < 2; e++) {
        t0 = now_s();
        tk[e] = tiktoken_load(e ? TIKTOKEN_O200K : TIKTOKEN_CL100K, cache, err, sizeof err);
        ok(tk[e] != NULL, "load %s in %.3f s%s%s",
           tiktoken_enc_name(e ? TIKTOKEN_O200K : TIKTOKEN_CL100K), now_s() - t0, tk[e] ? "" : ": ",
           tk[e] ? "" : err);
    }
    if (!tk[0] || !tk[1]) {
        tiktoken_free(tk[0]);
        tiktoken_free(tk[1]);
        return done_testing();
    }
    snprintf(corpus_path, sizeof corpus_path, "%s/%s/corpus.txt", srcdir, DATA_SUBDIR);
    snprintf(expected_path, sizeof expected_path, "%s/%s/expected.tsv", srcdir, DATA_SUBDIR);
    ok(load_corpus(corpus_path, &c), "parse %s (%zu records)", corpus_path, c.n);
    ok(load_expected(expected_path, &c), "parse %s", expected_path);
    ok(c.n >= 60, "corpus has at least 60 texts");
    test_corpus(tk, &c);
    test_threads(tk, &c);
    test_api_edges(tk);
    test_invalid_utf8(tk);
    test_long_inputs(tk);
    test_load_errors();
    free_corpus(&c);
    tiktoken_free(tk[0]);
    tiktoken_free(tk[1]);
    return done_testing();
}
