/* Offline tiktoken-compatible byte-level BPE token counting (cl100k_base, o200k_base). */
#ifndef OA_PROVIDERS_TIKTOKEN_H
#define OA_PROVIDERS_TIKTOKEN_H
#include <stddef.h>
#include <stdint.h>

/*
 * A loaded encoder: the rank table of one `.tiktoken` file plus the compiled split regex of
 * its encoding. It is immutable once tiktoken_load() returns, so any number of threads may
 * call tiktoken_count()/tiktoken_encode() on the same encoder at once without locking.
 * Memory: about 4 MB for cl100k_base and 8 MB for o200k_base, owned by the encoder.
 */
struct tiktoken;

/* The supported encodings; the value picks both the rank file and the split pattern. */
enum tiktoken_enc {
    TIKTOKEN_CL100K, /* cl100k_base.tiktoken: gpt-3.5, gpt-4, embeddings */
    TIKTOKEN_O200K,  /* o200k_base.tiktoken: gpt-4o, gpt-4.1, o-series, gpt-5 */
};

/* The encoding's canonical name ("cl100k_base", "o200k_base"); a static string, never NULL. */
const char *tiktoken_enc_name(enum tiktoken_enc enc);

/*
 * Loads <dir>/cl100k_base.tiktoken or <dir>/o200k_base.tiktoken (one "base64 rank" line per
 * token) and compiles the encoding's split regex (PCRE2, JIT when available). Never touches
 * the network. When dir is NULL or "", $TIKTOKEN_CACHE_DIR is used, then TIKTOKEN_DATADIR if
 * config.h defines it. Meant for start-up: it reads and hashes the whole file (35-75 ms).
 *
 * Returns a heap-allocated encoder that the caller releases with tiktoken_free(). On failure
 * (no directory, unreadable file, malformed line, duplicate token or rank, a missing single-byte
 * token, regex compile error) returns NULL and writes a one-line reason into err (when err is
 * non-NULL and errlen > 0; always NUL-terminated).
 */
struct tiktoken *tiktoken_load(enum tiktoken_enc enc, const char *dir, char *err, size_t errlen);

/* Releases an encoder and everything it owns. Accepts NULL. */
void tiktoken_free(struct tiktoken *tk);

/*
 * Number of tokens in text[0..len), exactly as tiktoken's encode_ordinary() would produce:
 * special-token strings such as "<|endoftext|>" are counted as ordinary text. text need not be
 * NUL-terminated and may contain NUL bytes; text may be NULL when len is 0.
 *
 * Invalid UTF-8 never fails: each maximal invalid subsequence (WHATWG/Unicode "maximal subpart"
 * rule, as TextDecoder or Python's errors="replace" do) is counted as if it were U+FFFD, so the
 * result equals tiktoken's count of the lossily decoded string.
 *
 * Thread-safe on a shared encoder. Scratch memory is per call: a few KB of stack plus heap
 * blocks freed before returning (about 20 bytes per byte of the longest pre-token piece, plus a
 * sanitised copy of the text when it is not valid UTF-8). Aborts only on out-of-memory.
 */
size_t tiktoken_count(const struct tiktoken *tk, const char *text, size_t len);

/*
 * Like tiktoken_count() but also returns the token ids (ranks). On success returns 0 and sets
 * *ids to a heap array of *n ids that the caller frees with free() (*ids is NULL when *n is 0).
 * Returns -1 and leaves *ids NULL, *n 0 when tk, ids or n is NULL or text is NULL with len > 0.
 */
int tiktoken_encode(const struct tiktoken *tk, const char *text, size_t len, uint32_t **ids,
                    size_t *n);

#endif
