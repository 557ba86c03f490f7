/* tiktoken-compatible BPE: rank-file loader, PCRE2 pre-tokeniser and pair-merge counter. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fcgi/base64.h"
#include "fcgi/xmalloc.h"
#include "providers/tiktoken.h"

/* Rank value meaning "these bytes are not a token"; real ranks are far below it. */
#define TK_NONE UINT32_MAX
/* Largest rank accepted from a file; bounds the duplicate-rank bitmap built at load. */
#define TK_MAX_RANK (1u << 24)
/* Largest rank file accepted; the real ones are 1.7 MB and 3.6 MB. */
#define TK_MAX_FILE (64L * 1024 * 1024)
/* Pieces up to this many bytes merge with the quadratic array scan on the stack (cheap and
 * allocation-free for ordinary words); longer ones use the heap-ordered linked list. */
#define TK_SMALL_PIECE 128

/*
 * Split patterns: the pat_str of each encoding in OpenAI's tiktoken, o200k verbatim. The cl100k
 * one is an equivalent spelling (the form later tiktoken releases use): the contraction branch
 * is factored, `\s*[\r\n]` ends at the same last newline as `\s*[\r\n]+`, and the optional
 * leading non-letter and the punctuation run are possessive, which cannot change a match (what
 * follows can never start with what they would give back) but saves backtracking.
 */
static const char cl100k_pattern[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}"
    "| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
static const char o200k_pattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* One vocabulary entry: its bytes live at blob[off .. off+len). */
struct tk_token {
    uint32_t off;  /* offset of the token bytes in tiktoken.blob */
    uint32_t len;  /* byte length, >= 1 */
    uint32_t rank; /* the token id */
};

/* One open-addressing slot; idx == 0 marks an empty slot. */
struct tk_slot {
    uint32_t tag; /* high 32 bits of the key's hash, compared before the bytes */
    uint32_t idx; /* index into tiktoken.tokens plus one */
};

struct tiktoken {
    enum tiktoken_enc enc;   /* which encoding this is */
    unsigned char *blob;     /* concatenated token bytes (heap) */
    struct tk_token *tokens; /* n_tokens entries (heap) */
    size_t n_tokens;         /* vocabulary size */
    struct tk_slot *slots;   /* mask + 1 slots, a power of two, load <= 0.5 (heap) */
    size_t mask;             /* slot count minus one */
    size_t max_len;          /* longest token in bytes: longer spans need no lookup */
    uint32_t byte_rank[256]; /* rank of each single byte, all present by construction */
    pcre2_code *re;          /* compiled split pattern, JIT-compiled when possible */
    bool has_jit;            /* pcre2_jit_compile() succeeded */
    pthread_mutex_t pool_mu; /* guards pool */
    struct tk_matcher *pool; /* matchers not in use */
};

/* What one count needs to match: the match data and, for JIT, a heap JIT stack. Without an
 * assigned stack PCRE2 puts 32 KB on the caller's machine stack, and with a thread per
 * stream that stayed resident in every worker (64 MB at 2,000). Pooled: there are only ever
 * as many as counts running at once, and none is created per count. */
struct tk_matcher {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    struct tk_matcher *next;
};

__attribute__((format(printf, 3, 4))) static void tk_err(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *tiktoken_enc_name(enum tiktoken_enc enc)
{
    return enc == TIKTOKEN_O200K ? "o200k_base" : "cl100k_base";
}

/* A 64-bit multiply-xorshift hash over 8-byte words; only needs to spread token-sized keys. */
static uint64_t tk_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ ((uint64_t)n * 0xff51afd7ed558ccdu);
    uint64_t w;

    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    w = 0;
    if (n)
        memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebu;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return h;
}

/* Rank of the byte string p[0..n), or TK_NONE when it is not a token. */
static uint32_t tk_lookup(const struct tiktoken *tk, const unsigned char *p, size_t n)
{
    uint64_t h;
    uint32_t tag;
    size_t i;

    if (n == 1)
        return tk->byte_rank[p[0]];
    if (n > tk->max_len || n == 0)
        return TK_NONE;
    h = tk_hash(p, n);
    tag = (uint32_t)(h >> 32);
    for (i = (size_t)h & tk->mask;; i = (i + 1) & tk->mask) {
        const struct tk_slot *s = &tk->slots[i];
        const struct tk_token *t;

        if (s->idx == 0)
            return TK_NONE;
        if (s->tag != tag)
            continue;
        t = &tk->tokens[s->idx - 1];
        if (t->len == n && memcmp(tk->blob + t->off, p, n) == 0)
            return t->rank;
    }
}

/* Inserts token idx; returns false when the same bytes are already present. */
static bool tk_insert(struct tiktoken *tk, size_t idx)
{
    const struct tk_token *t = &tk->tokens[idx];
    const unsigned char *p = tk->blob + t->off;
    uint64_t h = tk_hash(p, t->len);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i;

    for (i = (size_t)h & tk->mask; tk->slots[i].idx; i = (i + 1) & tk->mask) {
        const struct tk_token *o = &tk->tokens[tk->slots[i].idx - 1];

        if (tk->slots[i].tag == tag && o->len == t->len &&
            memcmp(tk->blob + o->off, p, t->len) == 0)
            return false;
    }
    tk->slots[i].tag = tag;
    tk->slots[i].idx = (uint32_t)idx + 1;
    return true;
}

/* Reads a whole regular file into a heap buffer; returns NULL with a message on failure. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;

    if (!f) {
        tk_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > TK_MAX_FILE) {
        tk_err(err, errlen, "%s: not a rank file (empty, too large or not a regular file)", path);
        fclose(f);
        return NULL;
    }
    buf = xmalloc((size_t)st.st_size);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    if (*len != (size_t)st.st_size || ferror(f)) {
        tk_err(err, errlen, "%s: short read", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    return buf;
}

/* Parses the "base64 SP rank LF" lines of buf into tk's vocabulary and hash table. */
static bool parse_ranks(struct tiktoken *tk, const char *path, const char *buf, size_t len,
                        char *err, size_t errlen)
{
    size_t n_lines = 0, cap, lineno = 0, blob_len = 0, pos = 0;
    uint8_t *seen_rank = xcalloc(TK_MAX_RANK / 8, 1);
    bool byte_seen[256] = {false};

    for (size_t i = 0; i < len; i++)
        n_lines += buf[i] == '\n';
    n_lines++; /* the last line may lack its newline */
    tk->tokens = xcalloc(n_lines, sizeof *tk->tokens);
    /* Decoded tokens are at most 3/4 of their base64, so the file size bounds the blob. */
    tk->blob = xmalloc(len);
    for (cap = 1024; cap < 2 * n_lines; cap *= 2)
        ;
    tk->slots = xcalloc(cap, sizeof *tk->slots);
    tk->mask = cap - 1;

    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        const char *sp;
        struct tk_token *t;
        unsigned long rank = 0;
        long n;

        pos += ll + 1;
        lineno++;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            continue;
        sp = memchr(line, ' ', ll);
        if (!sp || sp == line || sp + 1 == line + ll) {
            tk_err(err, errlen, "%s:%zu: expected \"base64 rank\"", path, lineno);
            goto fail;
        }
        for (const char *d = sp + 1; d < line + ll; d++) {
            if (*d < '0' || *d > '9' || rank >= TK_MAX_RANK) {
                tk_err(err, errlen, "%s:%zu: bad rank", path, lineno);
                goto fail;
            }
            rank = rank * 10 + (unsigned long)(*d - '0');
        }
        if (rank >= TK_MAX_RANK || (seen_rank[rank / 8] & (1u << (rank % 8)))) {
            tk_err(err, errlen, "%s:%zu: rank %lu out of range or repeated", path, lineno, rank);
            goto fail;
        }
        seen_rank[rank / 8] |= (uint8_t)(1u << (rank % 8));
        n = b64_decode(line, (size_t)(sp - line), tk->blob + blob_len, len - blob_len, B64_STRICT);
        if (n <= 0) {
            tk_err(err, errlen, "%s:%zu: bad base64", path, lineno);
            goto fail;
        }
        t = &tk->tokens[tk->n_tokens];
        t->off = (uint32_t)blob_len;
        t->len = (uint32_t)n;
        t->rank = (uint32_t)rank;
        if (n == 1) {
            byte_seen[tk->blob[blob_len]] = true;
            tk->byte_rank[tk->blob[blob_len]] = (uint32_t)rank;
        }
        if (!tk_insert(tk, tk->n_tokens)) {
            tk_err(err, errlen, "%s:%zu: duplicate token", path, lineno);
            goto fail;
        }
        if ((size_t)n > tk->max_len)
            tk->max_len = (size_t)n;
        blob_len += (size_t)n;
        tk->n_tokens++;
    }
    /* Every byte must be a token, or arbitrary input could not be encoded at all. */
    for (int b = 0; b < 256; b++) {
        if (!byte_seen[b]) {
            tk_err(err, errlen, "%s: no token for byte 0x%02x (truncated file?)", path, b);
            goto fail;
        }
    }
    /* The blob was sized for the whole file; give back the base64 overhead (~2 MB for o200k). */
    tk->blob = xrealloc(tk->blob, blob_len ? blob_len : 1);
    free(seen_rank);
    return true;
fail:
    free(seen_rank);
    return false;
}

static bool compile_pattern(struct tiktoken *tk, char *err, size_t errlen)
{
    const char *pat = tk->enc == TIKTOKEN_O200K ? o200k_pattern : cl100k_pattern;
    int code;
    PCRE2_SIZE off;

    tk->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code,
                           &off, NULL);
    if (!tk->re) {
        PCRE2_UCHAR msg[160];

        pcre2_get_error_message(code, msg, sizeof msg);
        tk_err(err, errlen, "%s split pattern, offset %zu: %s", tiktoken_enc_name(tk->enc),
               (size_t)off, (const char *)msg);
        return false;
    }
    /* JIT is an optimisation only: without it (no JIT support built in) matching still works. */
    tk->has_jit = pcre2_jit_compile(tk->re, PCRE2_JIT_COMPLETE) == 0;
    return true;
}

struct tiktoken *tiktoken_load(enum tiktoken_enc enc, const char *dir, char *err, size_t errlen)
{
    struct tiktoken *tk;
    char *path, *buf;
    size_t plen, len = 0;
    bool good;

    tk_err(err, errlen, "%s", "");
    if (enc != TIKTOKEN_CL100K && enc != TIKTOKEN_O200K) {
        tk_err(err, errlen, "unknown tiktoken encoding %d", (int)enc);
        return NULL;
    }
    if (!dir || !*dir)
        dir = getenv("TIKTOKEN_CACHE_DIR");
#ifdef TIKTOKEN_DATADIR
    if (!dir || !*dir)
        dir = TIKTOKEN_DATADIR;
#endif
    if (!dir || !*dir) {
        tk_err(err, errlen, "no tiktoken directory (set TIKTOKEN_CACHE_DIR)");
        return NULL;
    }
    plen = strlen(dir) + strlen(tiktoken_enc_name(enc)) + sizeof "/.tiktoken";
    path = xmalloc(plen);
    snprintf(path, plen, "%s/%s.tiktoken", dir, tiktoken_enc_name(enc));
    buf = read_file(path, &len, err, errlen);
    if (!buf) {
        free(path);
        return NULL;
    }
    tk = xcalloc(1, sizeof *tk);
    tk->enc = enc;
    pthread_mutex_init(&tk->pool_mu, NULL);
    good = parse_ranks(tk, path, buf, len, err, errlen) && compile_pattern(tk, err, errlen);
    free(buf);
    free(path);
    if (!good) {
        tiktoken_free(tk);
        return NULL;
    }
    return tk;
}

void tiktoken_free(struct tiktoken *tk)
{
    if (!tk)
        return;
    while (tk->pool) {
        struct tk_matcher *m = tk->pool;
        tk->pool = m->next;
        pcre2_match_data_free(m->md);
        pcre2_match_context_free(m->mctx);
        pcre2_jit_stack_free(m->jit);
        free(m);
    }
    pthread_mutex_destroy(&tk->pool_mu);
    pcre2_code_free(tk->re);
    free(tk->slots);
    free(tk->tokens);
    free(tk->blob);
    free(tk);
}

/* ---- UTF-8 validation and repair ---- */

/*
 * Length of the valid UTF-8 sequence at p[0..n), or 0 when it is invalid; in that case *bad is
 * the length of its maximal subpart (the bytes one U+FFFD replaces, always >= 1).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3;
    else
        return 0;
    /* The second byte's range excludes overlongs, surrogates and code points past U+10FFFF. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    for (i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

/* Offset of the first invalid UTF-8 byte in p[0..n), or n when all of it is valid. */
static size_t utf8_valid_prefix(const unsigned char *p, size_t n)
{
    size_t i = 0, bad, k;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(p + i, n - i, &bad);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* Heap copy of p[0..n) with every maximal invalid subpart replaced by U+FFFD (EF BF BD). */
static unsigned char *utf8_repair(const unsigned char *p, size_t n, size_t valid, size_t *out_n)
{
    unsigned char *out;
    size_t i = valid, o = valid, bad, k;

    /* A replaced subpart is at least one byte and U+FFFD is three, so 3n bounds the copy. */
    if (n > SIZE_MAX / 3)
        abort();
    out = xmalloc(3 * n);
    memcpy(out, p, valid);
    while (i < n) {
        k = utf8_seq(p + i, n - i, &bad);
        if (k) {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += bad;
        }
    }
    *out_n = o;
    return out;
}

/* ---- byte-pair merging ---- */

/* Per-call state: where results go and reusable scratch for long pieces. */
struct tk_run {
    const struct tiktoken *tk; /* the encoder */
    size_t count;              /* tokens so far */
    uint32_t *ids;             /* ids so far when want_ids (heap, handed to the caller) */
    size_t ids_cap;            /* allocated entries of ids */
    bool want_ids;             /* collect ids, not only the count */
    uint32_t *scratch;         /* long-piece arrays (heap), grown on demand */
    size_t scratch_cap;        /* uint32 entries in scratch */
};

static void emit(struct tk_run *run, uint32_t rank)
{
    if (run->want_ids) {
        if (run->count == run->ids_cap) {
            run->ids_cap = run->ids_cap ? 2 * run->ids_cap : 64;
            run->ids = xrealloc(run->ids, run->ids_cap * sizeof *run->ids);
        }
        run->ids[run->count] = rank;
    }
    run->count++;
}

/*
 * Merges a short piece by scanning all adjacent pairs for the lowest rank (leftmost on ties, as
 * tiktoken does). pos[] holds part boundaries, pair[k] the rank of parts k and k+1 joined.
 */
static void bpe_small(struct tk_run *run, const unsigned char *p, size_t n)
{
    const struct tiktoken *tk = run->tk;
    uint32_t pos[TK_SMALL_PIECE + 1], pair[TK_SMALL_PIECE];
    size_t parts = n, k, best;

    for (k = 0; k <= n; k++)
        pos[k] = (uint32_t)k;
    for (k = 0; k + 1 < n; k++)
        pair[k] = tk_lookup(tk, p + k, 2);
    for (;;) {
        uint32_t min = TK_NONE;

        best = 0;
        for (k = 0; k + 1 < parts; k++) {
            if (pair[k] < min) {
                min = pair[k];
                best = k;
            }
        }
        if (min == TK_NONE)
            break;
        /* Part best+1 disappears into part best: drop boundary best+1 and its pair slot. */
        memmove(&pos[best + 1], &pos[best + 2], (parts - best - 1) * sizeof pos[0]);
        if (best + 3 <= parts)
            memmove(&pair[best + 1], &pair[best + 2], (parts - best - 3) * sizeof pair[0]);
        parts--;
        pair[best] =
            best + 1 < parts ? tk_lookup(tk, p + pos[best], pos[best + 2] - pos[best]) : TK_NONE;
        if (best > 0)
            pair[best - 1] = tk_lookup(tk, p + pos[best - 1], pos[best + 1] - pos[best - 1]);
    }
    if (!run->want_ids) {
        run->count += parts;
        return;
    }
    for (k = 0; k < parts; k++)
        emit(run, tk_lookup(tk, p + pos[k], pos[k + 1] - pos[k]));
}

/*
 * Min-heap of pairs, each entry (rank << 32 | start of its left part), so plain integer order is
 * (rank, position): the leftmost lowest rank first, the same choice as the linear scan. Keys sit
 * in the entries themselves so that sifting does not chase another array.
 */
struct bpe_heap {
    uint64_t *heap; /* entries, heap-ordered */
    uint32_t *hpos; /* hpos[i]: index in heap of the pair starting at part i, or TK_NONE */
    size_t len;     /* entries in heap */
};

static void heap_put(struct bpe_heap *h, size_t at, uint64_t e)
{
    h->heap[at] = e;
    h->hpos[(uint32_t)e] = (uint32_t)at;
}

static void heap_down(struct bpe_heap *h, size_t i)
{
    uint64_t e = h->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= h->len)
            break;
        if (c + 1 < h->len && h->heap[c + 1] < h->heap[c])
            c++;
        if (h->heap[c] >= e)
            break;
        heap_put(h, i, h->heap[c]);
        i = c;
    }
    heap_put(h, i, e);
}

/* Restores heap order after the entry at index i changed either way. */
static void heap_fix(struct bpe_heap *h, size_t i)
{
    uint64_t e = h->heap[i];

    while (i > 0 && e < h->heap[(i - 1) / 2]) {
        heap_put(h, i, h->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_put(h, i, e);
    heap_down(h, i);
}

/* Sets the rank of the pair starting at part i: inserts, moves or removes its entry. */
static void heap_set(struct bpe_heap *h, uint32_t i, uint32_t rank)
{
    size_t at = h->hpos[i];

    if (at == TK_NONE) {
        if (rank == TK_NONE)
            return;
        at = h->len++;
    } else if (rank == TK_NONE) {
        h->hpos[i] = TK_NONE;
        if (at == --h->len)
            return;
        heap_put(h, at, h->heap[h->len]);
        heap_fix(h, at);
        return;
    }
    heap_put(h, at, (uint64_t)rank << 32 | i);
    heap_fix(h, at);
}

/*
 * Merges a long piece in O(n log n): parts form a linked list over byte offsets and the
 * lowest-ranked pair comes off a heap, so a 100 KB run does not rescan all pairs per merge.
 */
static void bpe_large(struct tk_run *run, const unsigned char *p, size_t n)
{
    const struct tiktoken *tk = run->tk;
    struct bpe_heap h;
    uint32_t *next, *prev;
    size_t parts = n, need = 5 * n + 1; /* 32-bit words: heap 2n, hpos n, next n + 1, prev n */

    if (n >= TK_NONE)
        abort(); /* offsets are 32-bit; a 4 GB single piece is not a prompt */
    if (run->scratch_cap < need) {
        free(run->scratch);
        run->scratch = xmalloc(need * sizeof *run->scratch);
        run->scratch_cap = need;
    }
    /* The heap comes first so that its 64-bit entries are aligned (malloc'ed base). */
    h.heap = (uint64_t *)(void *)run->scratch;
    h.hpos = run->scratch + 2 * n;
    h.len = 0;
    /* next[i]: start of the part after part i (n at the end), prev[i]: the one before. */
    next = h.hpos + n;
    prev = next + n + 1;
    for (size_t i = 0; i < n; i++) {
        next[i] = (uint32_t)i + 1;
        prev[i] = (uint32_t)i - 1; /* wraps for part 0, which is never asked for its prev */
        h.hpos[i] = TK_NONE;
    }
    next[n] = (uint32_t)n;
    /* Build the heap bottom-up in O(n) rather than by n insertions. */
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t rank = tk_lookup(tk, p + i, 2);

        if (rank != TK_NONE)
            heap_put(&h, h.len++, (uint64_t)rank << 32 | i);
    }
    for (size_t k = h.len / 2; k-- > 0;)
        heap_down(&h, k);
    while (h.len) {
        uint32_t i = (uint32_t)h.heap[0], j = next[i], after = next[j];

        /* Join part j into part i, then re-rank the pairs that now end or start at i. */
        heap_set(&h, j, TK_NONE);
        next[i] = after;
        if (after < n)
            prev[after] = i;
        parts--;
        heap_set(&h, i, after < n ? tk_lookup(tk, p + i, next[after] - i) : TK_NONE);
        if (i > 0)
            heap_set(&h, prev[i], tk_lookup(tk, p + prev[i], after - prev[i]));
    }
    if (!run->want_ids) {
        run->count += parts;
        return;
    }
    for (uint32_t i = 0; i < n; i = next[i])
        emit(run, tk_lookup(tk, p + i, next[i] - i));
}

/* Tokenises one pre-token piece. */
static void bpe_piece(struct tk_run *run, const unsigned char *p, size_t n)
{
    uint32_t rank;

    if (n == 0)
        return;
    /* Most pieces are whole tokens: one hash probe instead of a merge loop. */
    rank = tk_lookup(run->tk, p, n);
    if (rank != TK_NONE) {
        emit(run, rank);
        return;
    }
    if (n <= TK_SMALL_PIECE)
        bpe_small(run, p, n);
    else
        bpe_large(run, p, n);
}

/* Length of the UTF-8 character at p (valid input), at least 1 and at most n. */
static size_t utf8_char_len(const unsigned char *p, size_t n)
{
    size_t k = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;

    return k < n ? k : n;
}

static struct tk_matcher *matcher_take(struct tiktoken *tk)
{
    pthread_mutex_lock(&tk->pool_mu);
    struct tk_matcher *m = tk->pool;
    if (m)
        tk->pool = m->next;
    pthread_mutex_unlock(&tk->pool_mu);
    if (m)
        return m;
    m = xcalloc(1, sizeof *m);
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    if (!m->md || !m->mctx)
        abort();
    if (tk->has_jit) {
        /* 32 KB is PCRE2's own default; it may grow to 1 MB on long inputs */
        m->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
        if (m->jit)
            pcre2_jit_stack_assign(m->mctx, NULL, m->jit);
    }
    return m;
}

static void matcher_give_back(struct tiktoken *tk, struct tk_matcher *m)
{
    pthread_mutex_lock(&tk->pool_mu);
    m->next = tk->pool;
    tk->pool = m;
    pthread_mutex_unlock(&tk->pool_mu);
}

/* Splits valid UTF-8 text with the encoding's regex and merges every piece. */
static void run_text(struct tk_run *run, const unsigned char *s, size_t len)
{
    struct tiktoken *tk = (struct tiktoken *)run->tk; /* only its matcher pool changes */
    struct tk_matcher *mt = matcher_take(tk);
    pcre2_match_data *md = mt->md;
    size_t at = 0;

    while (at < len) {
        int rc = pcre2_match(tk->re, s, len, at, PCRE2_NO_UTF_CHECK, md, mt->mctx);
        PCRE2_SIZE *ov;

        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(tk->re, s, len, at, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, mt->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break; /* like tiktoken's find_iter, unmatched text yields no tokens */
        if (rc < 0) {
            /* Match or heap limit hit on hostile input: count one character as its own piece
             * rather than fail, so a count is always produced. */
            size_t k = utf8_char_len(s + at, len - at);

            bpe_piece(run, s + at, k);
            at += k;
            continue;
        }
        ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0]) {
            /* None of the patterns' branches can match empty; step on defensively. */
            at = ov[0] + utf8_char_len(s + ov[0], len - ov[0]);
            continue;
        }
        bpe_piece(run, s + ov[0], ov[1] - ov[0]);
        at = ov[1];
    }
    matcher_give_back(tk, mt);
}

static void run_input(struct tk_run *run, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t valid;

    if (len == 0)
        return;
    valid = utf8_valid_prefix(s, len);
    if (valid == len) {
        run_text(run, s, len);
    } else {
        size_t fixed_len;
        unsigned char *fixed = utf8_repair(s, len, valid, &fixed_len);

        run_text(run, fixed, fixed_len);
        free(fixed);
    }
    free(run->scratch);
    run->scratch = NULL;
    run->scratch_cap = 0;
}

size_t tiktoken_count(const struct tiktoken *tk, const char *text, size_t len)
{
    struct tk_run run = {.tk = tk};

    if (!tk || (!text && len))
        return 0;
    run_input(&run, text, len);
    return run.count;
}

int tiktoken_encode(const struct tiktoken *tk, const char *text, size_t len, uint32_t **ids,
                    size_t *n)
{
    struct tk_run run = {.tk = tk, .want_ids = true};

    if (ids)
        *ids = NULL;
    if (n)
        *n = 0;
    if (!tk || !ids || !n || (!text && len))
        return -1;
    run_input(&run, text, len);
    *ids = run.ids;
    *n = run.count;
    return 0;
}
