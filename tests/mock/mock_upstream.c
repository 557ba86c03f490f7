/* mock_upstream: single-threaded epoll HTTP/1.1 server speaking the OpenAI, Azure, Anthropic and
 * Gemini wire formats, Ollama's native API, AWS Bedrock's (SigV4, event-stream frames),
 * Vertex AI's (with a service-account token endpoint) and iFlytek Spark's WebSocket API,
 * for gateway tests and benchmarks. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <zlib.h>

/* Limits: generous for tests, small enough that a runaway client cannot exhaust memory. */
#define MAX_HEADER_BYTES (64u * 1024)       /* request line plus headers */
#define MAX_HEADERS 100                     /* header lines per request */
#define MAX_BODY_BYTES (64u * 1024 * 1024)  /* request body, either framing */
#define OUT_HIGH_WATER (4u * 1024 * 1024)   /* unsent output that pauses pipelined requests */
#define BUF_KEEP (256u * 1024)              /* connection buffers above this are freed once empty */
#define LOG_BODY_MAX (256u * 1024)          /* recorded prefix of each request body */
#define DEFAULT_LOG_SIZE 256                /* requests kept for GET /_mock/requests */
#define DEFAULT_DIMS 8                      /* embedding length when the request names none */
#define MAX_DIMS 8192                       /* largest embedding the mock will build */
#define MAX_CHUNKS 100000                   /* upper bound of the chunks directive */
#define MAX_DELAY_MS 600000                 /* upper bound of any delay directive */
#define NO_HEAP SIZE_MAX                    /* conn.heap_idx when no timer is armed */
#define DEFAULT_ARGS "{\"city\":\"Paris\"}" /* tool-call arguments when args= is absent */

/* ------------------------------------------------------------------------- */
/* Growable byte buffer */

struct buf {
    char *p;    /* NUL-terminated once anything was reserved */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("mock_upstream: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Makes room for extra bytes plus the terminating NUL. */
static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap > b->len && b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_put(struct buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends a string literal without a strlen at run time. */
#define buf_lit(b, s) buf_put((b), "" s, sizeof(s) - 1)

static void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char ch)
{
    buf_put(b, &ch, 1);
}

static void buf_clear(struct buf *b)
{
    buf_reserve(b, 0);
    b->len = 0;
    b->p[0] = '\0';
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

__attribute__((format(printf, 2, 3))) static void buf_fmt(struct buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

/* Appends s as a quoted JSON string; bytes >= 0x80 pass through so UTF-8 survives. */
static void buf_jstr(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"': buf_lit(b, "\\\""); break;
        case '\\': buf_lit(b, "\\\\"); break;
        case '\n': buf_lit(b, "\\n"); break;
        case '\r': buf_lit(b, "\\r"); break;
        case '\t': buf_lit(b, "\\t"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            buf_put(b, u, sizeof u);
        }
        }
    }
    buf_put(b, s + run, n - run);
    buf_putc(b, '"');
}

static void buf_jstrz(struct buf *b, const char *s)
{
    buf_jstr(b, s, strlen(s));
}

static void buf_b64(struct buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_reserve(b, (n + 2) / 3 * 4);
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

static void buf_be32(struct buf *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    buf_put(b, x, 4);
}

/* Appends an AWS event-stream frame: lengths, prelude CRC, n string headers, the payload and
 * the CRC of everything before it (CRC-32 as zlib computes it). */
static void evs_frame(struct buf *out, const char *const *names, const char *const *values, int n,
                      const char *payload, size_t len)
{
    size_t hlen = 0, start = out->len;
    for (int i = 0; i < n; i++)
        hlen += 1 + strlen(names[i]) + 3 + strlen(values[i]);
    buf_be32(out, (uint32_t)(16 + hlen + len));
    buf_be32(out, (uint32_t)hlen);
    buf_be32(out, (uint32_t)crc32(0, (const Bytef *)out->p + start, 8));
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), vl = strlen(values[i]);
        char t[3] = {7, (char)(vl >> 8), (char)vl}; /* 7: string */
        buf_putc(out, (char)nl);
        buf_put(out, names[i], nl);
        buf_put(out, t, 3);
        buf_put(out, values[i], vl);
    }
    buf_put(out, payload, len);
    buf_be32(out, (uint32_t)crc32(0, (const Bytef *)out->p + start, (uInt)(out->len - start)));
}

/* ------------------------------------------------------------------------- */
/* Small string helpers */

static bool has_prefix(const char *s, const char *pre)
{
    return strncmp(s, pre, strlen(pre)) == 0;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static bool mem_ieq(const char *a, size_t n, const char *z)
{
    return strlen(z) == n && strncasecmp(a, z, n) == 0;
}

/* True when token z appears in the comma/space separated header value. */
static bool mem_icontains(const char *a, size_t n, const char *z)
{
    size_t m = strlen(z);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(a + i, z, m) == 0)
            return true;
    return false;
}

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int count_words(const char *s, size_t n)
{
    int words = 0;
    bool in_word = false;
    for (size_t i = 0; i < n; i++) {
        bool space = s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r');
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    return words;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        /* overlong forms and surrogates are not UTF-8, and JSON parsers refuse them */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* JSON access helpers (json-c), all NULL-tolerant */

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v))
        return v;
    return NULL;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static json_object *jarr(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t jlen(json_object *a)
{
    return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static bool jbool(json_object *o, const char *k)
{
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static int64_t jint(json_object *o, const char *k, int64_t def)
{
    json_object *v = jget(o, k);
    if (v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return json_object_get_int64(v);
    return def;
}

/*
 * Appends every piece of text in a message content value: plain strings, "text" members
 * (OpenAI parts, Anthropic blocks, Gemini parts), Anthropic tool_result "content" and Gemini
 * "parts". Pieces are joined with one space so that word counts add up.
 */
static void jtext(json_object *v, struct buf *out, int depth)
{
    if (!v || depth > 16)
        return;
    switch (json_object_get_type(v)) {
    case json_type_string:
        if (out->len && out->p[out->len - 1] != ' ')
            buf_putc(out, ' ');
        buf_put(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            jtext(json_object_array_get_idx(v, i), out, depth + 1);
        break;
    case json_type_object: {
        json_object *t = jget(v, "text");
        if (t && json_object_is_type(t, json_type_string))
            jtext(t, out, depth + 1);
        else if ((t = jget(v, "content")) != NULL)
            jtext(t, out, depth + 1);
        else if ((t = jget(v, "parts")) != NULL)
            jtext(t, out, depth + 1);
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------------------------------- */
/* Server data structures */

enum prov {
    P_OPENAI,
    P_AZURE,
    P_ANTHROPIC,
    P_GEMINI,
    P_DEEPL,
    P_PALM,
    P_COHERE,
    P_OLLAMA,
    P_BEDROCK,
    P_REPLICATE,
    P_SPARK,
    P_COZE,
    P_CLOUDFLARE,
    P_AIPROXYLIB,
    P_MINIMAX,
    P_TENCENT,
    P_ALI,
    P_ZHIPU,
    P__MAX
};

static const char *const prov_names[P__MAX] = {
    "openai",     /* P_OPENAI */
    "azure",      /* P_AZURE */
    "anthropic",  /* P_ANTHROPIC */
    "gemini",     /* P_GEMINI */
    "deepl",      /* P_DEEPL */
    "palm",       /* P_PALM */
    "cohere",     /* P_COHERE */
    "ollama",     /* P_OLLAMA */
    "bedrock",    /* P_BEDROCK */
    "replicate",  /* P_REPLICATE */
    "spark",      /* P_SPARK */
    "coze",       /* P_COZE */
    "cloudflare", /* P_CLOUDFLARE */
    "aiproxylib", /* P_AIPROXYLIB */
    "minimax",    /* P_MINIMAX */
    "tencent",    /* P_TENCENT */
    "ali",        /* P_ALI */
    "zhipu",      /* P_ZHIPU */
};

enum op {
    OP_NONE,         /* no route */
    OP_CHAT,         /* OpenAI/Azure chat completions */
    OP_COMPLETIONS,  /* legacy completions */
    OP_EMBEDDINGS,   /* OpenAI/Azure embeddings */
    OP_MODERATIONS,  /* moderations */
    OP_IMAGES,       /* image generation */
    OP_TRANSCRIBE,   /* audio transcription (multipart) */
    OP_TRANSLATE,    /* audio translation (multipart) */
    OP_SPEECH,       /* text to speech */
    OP_MODELS,       /* model list, shape by provider */
    OP_MODEL,        /* one model */
    OP_MESSAGES,     /* Anthropic messages */
    OP_COUNT_TOKENS, /* Anthropic count_tokens */
    OP_GENERATE,     /* Gemini generateContent */
    OP_STREAM,       /* Gemini streamGenerateContent */
    OP_EMBED,        /* Gemini embedContent */
    OP_BATCH_EMBED,  /* Gemini batchEmbedContents */
    OP_OL_CHAT,      /* Ollama /api/chat */
    OP_OL_EMBED,     /* Ollama /api/embed */
    OP_GCOUNT,       /* Gemini countTokens */
    OP_PUSH,         /* Message Pusher: POST /push/{user} */
    OP_BALANCE,      /* a provider's balance query (credit_grants, sb-api, AIProxy) */
    OP_DEEPL,        /* DeepL /v2/translate */
    OP_PALM,         /* PaLM 2 generateMessage */
    OP_CO_CHAT,      /* Cohere v1 chat */
    OP_BR_INVOKE,    /* Bedrock InvokeModel */
    OP_BR_STREAM,    /* Bedrock InvokeModelWithResponseStream */
    OP_MM_CHAT,      /* MiniMax chatcompletion_v2 */
    OP_TC,           /* Tencent API 3.0: the action is X-TC-Action */
    OP_VX_TOKEN,     /* a service account's token exchange (Vertex AI's OAuth) */
    OP_RP_CREATE,    /* Replicate: create a prediction */
    OP_RP_GET,       /* Replicate: a prediction's state */
    OP_RP_STREAM,    /* Replicate: a prediction's event stream */
    OP_RP_FILE,      /* Replicate: an output file */
    OP_AL_CHAT,      /* DashScope text generation */
    OP_AL_EMBED,     /* DashScope text embedding */
    OP_AL_IMAGE,     /* DashScope image synthesis task */
    OP_AL_TASK,      /* DashScope: a task's state */
    OP_EDITS,        /* OpenAI's retired Edits API */
    OP_IMAGE_FILE,   /* GET/HEAD /img/{W}x{H}.{png,jpg,gif,webp}: a generated image file */
    OP_BD_TOKEN,     /* Baidu: POST /oauth/2.0/token */
    OP_BD_CHAT,      /* Baidu: POST .../wenxinworkshop/chat/{endpoint} */
    OP_BD_EMBED,     /* Baidu: POST .../wenxinworkshop/embeddings/{endpoint} */
    OP_COZE_CHAT,    /* Coze /open_api/v2/chat */
    OP_CF_RUN,       /* Cloudflare Workers AI native /ai/run/{model} */
    OP_LIB_ASK,      /* AI Proxy Library /api/library/ask */
    OP_ZP_V3,        /* Zhipu v3: /api/paas/v3/model-api/{model}/invoke or sse-invoke */
};

/* Counters for GET /_mock/stats. */
struct stats {
    uint64_t connections_total;  /* accepted */
    uint64_t connections_active; /* open now */
    uint64_t requests_total;     /* provider requests (control API excluded) */
    uint64_t requests_control;   /* /_mock/ requests */
    uint64_t requests[P__MAX];   /* per provider */
    uint64_t streams_total;      /* streamed replies started */
    uint64_t streams_active;     /* streamed replies in flight */
    uint64_t streams_completed;  /* finished with their normal terminator */
    uint64_t streams_cut;        /* cut by fail_after */
    uint64_t client_disconnects; /* peers gone while a reply was pending */
    uint64_t injected_errors;    /* status= directives answered */
    uint64_t scripted;           /* scripted responses consumed */
    uint64_t dropped;            /* close= directives (no answer) */
    uint64_t bad_http;           /* malformed HTTP requests */
    uint64_t bytes_in;           /* received */
    uint64_t bytes_out;          /* sent */
    uint64_t spark_sessions;     /* Spark WebSocket handshakes accepted */
    uint64_t spark_pongs;        /* pongs that echoed the mock's ping */
};

/* One recorded request. Strings are heap copies owned by the record. */
struct rec {
    uint64_t seq;          /* request number, from 1 */
    double when;           /* wall-clock seconds */
    char *method;          /* request method */
    char *target;          /* path and query */
    char *hdrs;            /* "name\0value\0" pairs, names lower-cased */
    size_t hdrs_len;       /* bytes in hdrs */
    char *body;            /* recorded prefix of the body */
    size_t body_len;       /* bytes in body */
    size_t body_total;     /* full body length */
    char *key;             /* API key found in the request, or NULL */
    char *model;           /* model named by body, path or deployment, or NULL */
    char *deployment;      /* Azure deployment, or NULL */
    const char *provider;  /* prov_names entry */
    int status;            /* HTTP status answered, 0 if dropped */
    int prompt_tokens;     /* usage the mock computed (see README) */
    int completion_tokens; /* idem */
    bool has_tokens;       /* the tokens above apply to this request */
    bool stream;           /* answered as a stream */
    bool scripted;         /* a scripted response was consumed */
    bool usage_sent;       /* usage numbers were put on the wire */
};

/* A queue of scripted responses for one API key ("" = any key). */
struct script_q {
    struct script_q *next; /* list link */
    char *key;             /* key to match */
    json_object **items;   /* responses; owned references */
    size_t head, len, cap; /* items[head..len) are pending */
};

/* A reply split in timed segments: segment i is sent delay_ms after segment i-1. */
struct seg {
    size_t start; /* offset in data */
    int delay_ms; /* wait before sending it */
};

struct reply {
    struct buf data;  /* wire bytes, already framed */
    struct seg *segs; /* segment table */
    size_t n, cap;    /* segments used and allocated */
    size_t next;      /* first unsent segment (when scheduled) */
    bool chunked;     /* events get HTTP/1.1 chunk framing */
    bool cut;         /* close the connection after the last segment */
    bool is_stream;   /* counts in the stream statistics */
    bool has_head;    /* a status line was written */
};

struct conn {
    struct conn *prev, *next; /* list of open connections, for shutdown */
    int fd;                   /* socket */
    struct buf in;            /* received bytes */
    size_t in_off;            /* consumed prefix of in */
    struct buf out;           /* bytes to send */
    size_t out_off;           /* sent prefix of out */
    struct reply *sched;      /* timed reply in progress, or NULL */
    size_t heap_idx;          /* position in the timer heap or NO_HEAP */
    uint64_t due_ms;          /* when the timer fires */
    bool close_after;         /* close once the output is flushed */
    bool read_eof;            /* peer shut its sending side */
    bool sent_continue;       /* 100 Continue already sent for the current request */
    bool ws;                  /* switched to WebSocket (Spark): frames, not requests */
    bool ws_answered;         /* the request frame was answered */
    char ws_key[128];         /* the APIKey the handshake was signed with */
    char ws_path[64];         /* the path of the handshake, for the domain check */
};

/* A Spark credential the mock verifies signatures with, and how it answers that key. */
struct spark_cred {
    char key[128];    /* APIKey */
    char secret[128]; /* APISecret */
    int code;         /* answer with this Spark error code (0: a normal answer) */
};

/* Zhipu: the keys whose JWTs the mock accepts, and the distinct tokens it accepted. */
#define ZP_MAX_KEYS 16
#define ZP_MAX_TOKENS 64
struct zhipu_key {
    char id[128];     /* the key's id, the JWT's api_key claim */
    char secret[128]; /* the secret the JWT is signed with */
    int code;         /* answer with this Zhipu error code (0: a normal answer) */
};
struct zhipu {
    struct zhipu_key keys[ZP_MAX_KEYS];
    size_t n_keys;
    char tokens[ZP_MAX_TOKENS][384]; /* distinct tokens accepted (the first ZP_MAX_TOKENS) */
    size_t n_tokens;
    uint64_t accepted; /* requests whose token passed */
    uint64_t refused;  /* requests whose token did not */
};

/* Access tokens the token endpoint issued, the newest VX_MAX_TOKENS of them. */
#define VX_MAX_TOKENS 256

/* Vertex AI: the test service account and what its token endpoint did. */
struct vertex {
    EVP_PKEY *pub;         /* the service account's public key (POST /_mock/vertex), or NULL */
    int expires_in;        /* lifetime of the tokens issued (default 3600 s) */
    uint64_t exchanges;    /* tokens issued */
    uint64_t refused;      /* token requests refused (bad assertion) */
    uint64_t unauthorized; /* Vertex calls refused for their token */
    uint64_t issued;       /* tokens issued ever: numbers them */
    char tokens[VX_MAX_TOKENS][48];
    time_t expires[VX_MAX_TOKENS];
};

/* Baidu ERNIE: the tokens its OAuth endpoint issued, and how many. */
#define BD_MAX_TOKENS 8
struct baidu {
    uint64_t exchanges; /* tokens issued since the last DELETE /_mock/baidu */
    uint64_t issued;    /* tokens issued ever: numbers them */
    uint64_t refused;   /* calls answered error_code 110 for their token */
    char tokens[BD_MAX_TOKENS][96];
};

struct server {
    int lfd;            /* listening socket */
    int epfd;           /* epoll instance */
    int sfd;            /* signalfd for SIGINT/SIGTERM */
    bool listen_paused; /* out of descriptors: accept paused */
    bool stopping;      /* a signal asked us to exit */
    struct conn *conns; /* open connections */
    struct conn **heap; /* timer min-heap on due_ms */
    size_t heap_len, heap_cap;
    struct rec *log; /* ring of recorded requests */
    size_t log_cap, log_start, log_count;
    struct script_q *scripts;    /* scripted responses */
    struct spark_cred spark[16]; /* Spark keys (POST /_mock/spark) */
    size_t n_spark;
    struct stats st;       /* counters */
    uint64_t seq;          /* last request number */
    uint64_t now_ms;       /* monotonic clock at the last wake-up */
    time_t started;        /* wall clock at start */
    json_tokener *tok;     /* reused parser */
    struct reply rep;      /* reply being built for the current request */
    struct buf body;       /* scratch: response body */
    struct buf ev;         /* scratch: one stream event */
    struct buf text;       /* scratch: extracted request text */
    struct buf piece;      /* scratch: generated text */
    struct buf dechunked;  /* scratch: decoded chunked request body */
    struct buf path;       /* scratch: copy of the target split at '?' */
    struct buf frame;      /* scratch: a Bedrock chunk's payload */
    json_object *aws_keys; /* AWS access key -> secret, for SigV4 checks (POST /_mock/aws_keys) */
    struct vertex vx;      /* Vertex AI's token endpoint */
    struct zhipu zp;       /* Zhipu's keys and the tokens seen (POST /_mock/zhipu) */
    struct baidu bd;       /* Baidu's token endpoint */
    struct rp_pred *preds; /* Replicate predictions, a ring of RP_MAX */
    uint64_t n_preds;      /* predictions created */
    char rbuf[65536];      /* recv() landing area, copied into conn.in */
};

/* Behaviour knobs parsed from [[mock ...]] and from scripted responses. */
struct directives {
    int chunks;        /* content chunks (default 3) */
    int delay_ms;      /* delay before each stream event, or before a whole reply */
    int status;        /* answer with this HTTP error */
    int fail_after;    /* fail a stream after N content events (-1 = never) */
    int eol;           /* SSE line ends: 0 provider default, 1 LF, 2 CRLF */
    bool chunks_set;   /* chunks= was given */
    bool fail_error;   /* fail with an error event instead of cutting */
    bool usage;        /* report usage (usage=0 clears it) */
    bool close;        /* drop the connection without answering */
    bool flagged;      /* moderation result flagged */
    bool strict;       /* validate provider request rules (strict=0 clears it) */
    char text[256];    /* word repeated as content */
    char tool[128];    /* answer with a call to this tool */
    char args[1024];   /* tool-call arguments, a JSON object */
    char finish[64];   /* finish reason: stop|length|filter|tool or a raw value */
    char err_type[64]; /* error type override */
    char err_code[64]; /* error code override */
    char msg[512];     /* error message override */
    char block[64];    /* Gemini promptFeedback.blockReason */
};

/* A Replicate prediction the mock created: what it answers when polled or streamed. */
struct rp_pred {
    uint64_t id;         /* its number (mockpred<id>), 0 for a free slot */
    bool image;          /* an image model's prediction */
    bool stream;         /* created with "stream": true */
    int polls;           /* GETs of its state so far */
    struct directives d; /* the directives of the prompt that created it */
    char model[128];     /* owner/name */
};

#define RP_MAX 64         /* predictions remembered; older ones are forgotten */
#define RP_SETTLE_POLLS 2 /* polls that see it running before it settles */

struct hdr {
    const char *name; /* not NUL-terminated while parsing */
    size_t name_len;
    const char *val;
    size_t val_len;
};

/* One parsed request; lives on the stack while it is answered. */
struct req {
    struct server *srv;
    struct conn *c;
    char *method;      /* NUL-terminated in the input buffer */
    char *target;      /* idem */
    const char *path;  /* in srv->path */
    const char *query; /* in srv->path, "" when absent */
    struct hdr h[MAX_HEADERS];
    size_t n_h;
    const char *body; /* not NUL-terminated */
    size_t body_len;
    bool http10;     /* HTTP/1.0 request */
    bool keep_alive; /* connection survives this reply */
    bool crlf;       /* SSE events end in CRLF CRLF */
    uint64_t seq;    /* request number */
    time_t now;      /* "created" stamp */
    struct rec *rec; /* its record, or NULL for control requests */
    enum prov prov;
    enum op op;
    char deployment[256]; /* Azure deployment */
    char pmodel[512];     /* model taken from the path */
    char key[512];        /* API key */
    json_object *json;    /* parsed body or NULL */
    bool bad_json;        /* body present but not JSON */
    struct directives d;
    /* multipart fields for audio */
    char mp_model[128], mp_format[32];
    const char *mp_prompt;
    size_t mp_prompt_len, mp_file_len;
    bool mp_has_file;
    bool vertex; /* a Vertex AI call (publisher path) or its token endpoint */
};

/* A normalised chat request. */
struct chat {
    const char *model;
    bool stream;
    bool include_usage; /* OpenAI stream_options.include_usage */
    bool completion;    /* legacy /completions */
    bool sse;           /* Gemini alt=sse (else a JSON array stream) */
    int prompt;         /* prompt tokens */
};

/* What the answer contains. */
struct plan {
    int n_text;       /* text chunks */
    int n_args;       /* argument fragments (0 without a tool call) */
    bool tool;        /* answer with a tool call */
    const char *args; /* argument JSON */
    size_t args_len;
    int completion; /* completion tokens reported */
    int fail_at;    /* content event index where the stream fails, -1 = never */
};

/* ------------------------------------------------------------------------- */
/* Timer heap */

static void heap_swap(struct server *srv, size_t i, size_t j)
{
    struct conn *t = srv->heap[i];
    srv->heap[i] = srv->heap[j];
    srv->heap[j] = t;
    srv->heap[i]->heap_idx = i;
    srv->heap[j]->heap_idx = j;
}

static void heap_up(struct server *srv, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (srv->heap[parent]->due_ms <= srv->heap[i]->due_ms)
            break;
        heap_swap(srv, i, parent);
        i = parent;
    }
}

static void heap_down(struct server *srv, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < srv->heap_len && srv->heap[l]->due_ms < srv->heap[m]->due_ms)
            m = l;
        if (r < srv->heap_len && srv->heap[r]->due_ms < srv->heap[m]->due_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(srv, i, m);
        i = m;
    }
}

static void timer_del(struct server *srv, struct conn *c)
{
    size_t i = c->heap_idx;
    if (i == NO_HEAP)
        return;
    c->heap_idx = NO_HEAP;
    size_t last = --srv->heap_len;
    if (i != last) {
        srv->heap[i] = srv->heap[last];
        srv->heap[i]->heap_idx = i;
        heap_down(srv, i);
        heap_up(srv, i);
    }
}

static void timer_set(struct server *srv, struct conn *c, uint64_t due)
{
    timer_del(srv, c);
    if (srv->heap_len == srv->heap_cap) {
        srv->heap_cap = srv->heap_cap ? srv->heap_cap * 2 : 64;
        srv->heap = xrealloc(srv->heap, srv->heap_cap * sizeof *srv->heap);
    }
    c->due_ms = due;
    c->heap_idx = srv->heap_len;
    srv->heap[srv->heap_len++] = c;
    heap_up(srv, c->heap_idx);
}

/* ------------------------------------------------------------------------- */
/* Replies */

static void rep_init(struct reply *p)
{
    memset(p, 0, sizeof *p);
}

static void rep_free(struct reply *p)
{
    buf_free(&p->data);
    free(p->segs);
    rep_init(p);
}

/* Empties the reply but keeps its memory, leaving one segment sent without delay. */
static void rep_reset(struct reply *p)
{
    buf_clear(&p->data);
    if (!p->cap) {
        p->cap = 16;
        p->segs = xrealloc(NULL, p->cap * sizeof *p->segs);
    }
    p->n = 1;
    p->segs[0].start = 0;
    p->segs[0].delay_ms = 0;
    p->next = 0;
    p->chunked = p->cut = p->is_stream = p->has_head = false;
}

/* Starts a new segment sent delay_ms after the previous one; no-op without a delay. */
static void rep_seg(struct reply *p, int delay_ms)
{
    if (delay_ms <= 0)
        return;
    if (p->n == p->cap) {
        p->cap *= 2;
        p->segs = xrealloc(p->segs, p->cap * sizeof *p->segs);
    }
    p->segs[p->n].start = p->data.len;
    p->segs[p->n].delay_ms = delay_ms;
    p->n++;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/*
 * Writes the status line and headers. body_len < 0 starts a stream: chunked for HTTP/1.1,
 * close-delimited for HTTP/1.0 (which has no chunked coding).
 */
static void rep_head(struct req *r, int status, const char *ctype, long long body_len,
                     const char *extra)
{
    struct reply *p = &r->srv->rep;
    struct buf *b = &p->data;
    if (body_len < 0 && r->http10)
        r->keep_alive = false;
    buf_fmt(b, "HTTP/1.1 %d %s\r\nServer: mock-upstream\r\nContent-Type: %s\r\n", status,
            reason_phrase(status), ctype);
    if (body_len >= 0) {
        buf_fmt(b, "Content-Length: %lld\r\n", body_len);
    } else {
        buf_lit(b, "Cache-Control: no-cache\r\n");
        if (!r->http10) {
            buf_lit(b, "Transfer-Encoding: chunked\r\n");
            p->chunked = true;
        }
    }
    if (!r->keep_alive)
        buf_lit(b, "Connection: close\r\n");
    else if (r->http10)
        buf_lit(b, "Connection: keep-alive\r\n");
    if (extra)
        buf_puts(b, extra);
    buf_fmt(b, "x-request-id: mock-%" PRIu64 "\r\n\r\n", r->seq);
    p->has_head = true;
    if (r->rec)
        r->rec->status = status;
}

/* Sends srv->body as the whole reply, after the request's delay_ms. */
static void send_body(struct req *r, int status, const char *ctype, const char *extra)
{
    struct server *srv = r->srv;
    srv->rep.segs[0].delay_ms = r->d.delay_ms;
    rep_head(r, status, ctype, (long long)srv->body.len, extra);
    buf_put(&srv->rep.data, srv->body.p, srv->body.len);
}

static struct buf *body_reset(struct server *srv)
{
    buf_clear(&srv->body);
    return &srv->body;
}

static void stream_head(struct req *r, int status, const char *ctype, const char *extra)
{
    rep_head(r, status, ctype, -1, extra);
    r->srv->rep.is_stream = true;
    r->srv->st.streams_total++;
    r->srv->st.streams_active++;
    if (r->rec)
        r->rec->stream = true;
}

/* Appends srv->ev to the reply as one event (one HTTP chunk when chunked). */
static void rep_event(struct req *r)
{
    struct server *srv = r->srv;
    struct reply *p = &srv->rep;
    if (!srv->ev.len)
        return;
    if (p->chunked)
        buf_fmt(&p->data, "%zx\r\n", srv->ev.len);
    buf_put(&p->data, srv->ev.p, srv->ev.len);
    if (p->chunked)
        buf_lit(&p->data, "\r\n");
}

static void rep_finish(struct req *r)
{
    struct reply *p = &r->srv->rep;
    if (p->chunked)
        buf_lit(&p->data, "0\r\n\r\n");
}

static struct buf *sse_data(struct req *r)
{
    buf_clear(&r->srv->ev);
    buf_lit(&r->srv->ev, "data: ");
    return &r->srv->ev;
}

static struct buf *sse_named(struct req *r, const char *name)
{
    struct buf *b = &r->srv->ev;
    buf_clear(b);
    if (r->prov == P_BEDROCK)
        return b; /* the event's JSON alone: sse_end wraps it in a frame */
    buf_lit(b, "event: ");
    buf_puts(b, name);
    buf_puts(b, r->crlf ? "\r\ndata: " : "\ndata: ");
    return b;
}

static void sse_end(struct req *r)
{
    if (r->prov == P_BEDROCK) {
        /* Bedrock: the Anthropic event in base64 "bytes" plus length padding, in a frame. */
        static const char *const names[] = {":event-type", ":content-type", ":message-type"};
        static const char *const values[] = {"chunk", "application/json", "event"};
        struct server *srv = r->srv;
        struct buf *t = &srv->frame;
        buf_clear(t);
        buf_lit(t, "{\"bytes\":\"");
        buf_b64(t, (const unsigned char *)srv->ev.p, srv->ev.len);
        buf_fmt(t, "\",\"p\":\"%.*s\"}", (int)(1 + srv->ev.len % 17), "abcdefghijklmnopqrstuvwxyz");
        buf_clear(&srv->ev);
        evs_frame(&srv->ev, names, values, 3, t->p, t->len);
        rep_event(r);
        return;
    }
    buf_puts(&r->srv->ev, r->crlf ? "\r\n\r\n" : "\n\n");
    rep_event(r);
}

/* ------------------------------------------------------------------------- */
/* Connections */

static void conn_close(struct server *srv, struct conn *c)
{
    if (c->sched) {
        if (c->sched->is_stream)
            srv->st.streams_active--;
        if (!srv->stopping)
            srv->st.client_disconnects++;
        rep_free(c->sched);
        free(c->sched);
    }
    timer_del(srv, c);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    srv->st.connections_active--;
    if (srv->listen_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->lfd, &ev) == 0)
            srv->listen_paused = false;
    }
}

/* Sends what it can. Returns -1 when the peer is gone (the connection is then freed). */
static int conn_write(struct server *srv, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            srv->st.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        conn_close(srv, c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->out.cap > BUF_KEEP)
        buf_free(&c->out);
    return 0;
}

/* Emits due segments of the scheduled reply; fired = the timer for the next one expired. */
static void sched_run(struct server *srv, struct conn *c, bool fired)
{
    struct reply *s = c->sched;
    while (s->next < s->n) {
        struct seg *g = &s->segs[s->next];
        if (g->delay_ms > 0 && !fired) {
            timer_set(srv, c, srv->now_ms + (uint64_t)g->delay_ms);
            return;
        }
        fired = false;
        size_t end = s->next + 1 < s->n ? s->segs[s->next + 1].start : s->data.len;
        buf_put(&c->out, s->data.p + g->start, end - g->start);
        s->next++;
    }
    if (s->is_stream) {
        srv->st.streams_active--;
        if (s->cut)
            srv->st.streams_cut++;
        else
            srv->st.streams_completed++;
    }
    if (s->cut)
        c->close_after = true;
    rep_free(s);
    free(s);
    c->sched = NULL;
}

/* Hands the reply built in srv->rep to the connection. */
static void commit(struct server *srv, struct conn *c)
{
    struct reply *p = &srv->rep;
    if (p->n == 1 && p->segs[0].delay_ms == 0 && !p->cut) {
        /* fast path: everything goes out now, no allocation */
        buf_put(&c->out, p->data.p, p->data.len);
        if (p->is_stream) {
            srv->st.streams_active--;
            srv->st.streams_completed++;
        }
        return;
    }
    struct reply *s = xrealloc(NULL, sizeof *s);
    *s = *p;
    rep_init(p);
    rep_reset(p);
    c->sched = s;
    sched_run(srv, c, false);
}

static void http_fail(struct server *srv, struct conn *c, int status, const char *msg)
{
    buf_fmt(&c->out,
            "HTTP/1.1 %d %s\r\nServer: mock-upstream\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n{\"error\":\"%s\"}",
            status, reason_phrase(status), strlen(msg) + 12, msg);
    c->close_after = true;
    srv->st.bad_http++;
}

static void dispatch(struct server *srv, struct req *r);
static int spark_ws_next(struct server *srv, struct conn *c);

/*
 * Decodes a chunked body from p[0..n). Returns 1 when complete (*wire = bytes used),
 * 0 when more input is needed, -1 when malformed or too large.
 */
static int dechunk(const char *p, size_t n, struct buf *out, size_t *wire)
{
    size_t i = 0;
    buf_clear(out);
    for (;;) {
        const char *le = memchr(p + i, '\n', n - i);
        if (!le)
            return n - i > 1024 ? -1 : 0;
        size_t size = 0;
        size_t j = i;
        int digits = 0;
        for (; p + j < le; j++, digits++) {
            char ch = p[j];
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v < 0)
                break;
            if (size > MAX_BODY_BYTES)
                return -1;
            size = size * 16 + (size_t)v;
        }
        if (!digits)
            return -1;
        i = (size_t)(le - p) + 1;
        if (size == 0) {
            /* trailer section: lines until an empty one */
            for (;;) {
                const char *te = memchr(p + i, '\n', n - i);
                if (!te)
                    return 0;
                size_t len = (size_t)(te - (p + i));
                i = (size_t)(te - p) + 1;
                if (len == 0 || (len == 1 && p[i - 2] == '\r')) {
                    *wire = i;
                    return 1;
                }
            }
        }
        if (out->len + size > MAX_BODY_BYTES)
            return -1;
        if (n - i < size + 2)
            return 0;
        buf_put(out, p + i, size);
        i += size;
        if (p[i] == '\r')
            i++;
        if (i >= n)
            return 0;
        if (p[i] != '\n')
            return -1;
        i++;
    }
}

static const struct hdr *hfind(const struct req *r, const char *name)
{
    for (size_t i = 0; i < r->n_h; i++)
        if (mem_ieq(r->h[i].name, r->h[i].name_len, name))
            return &r->h[i];
    return NULL;
}

/* Parses and answers one request. Returns 0 when more input is needed, 1 otherwise. */
static int handle_next_request(struct server *srv, struct conn *c)
{
    if (c->ws)
        return spark_ws_next(srv, c);
    if (c->in_off == c->in.len)
        return 0; /* also covers in.p == NULL, where even p + 0 is undefined */
    char *buf = c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off;
    /* RFC 9112 lets clients send stray CRLFs between requests */
    while (avail > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
        buf++;
        avail--;
        c->in_off++;
    }
    if (avail == 0)
        return 0;
    char *hend = memmem(buf, avail, "\r\n\r\n", 4);
    if (!hend) {
        if (avail > MAX_HEADER_BYTES)
            http_fail(srv, c, 431, "request header too large");
        return avail > MAX_HEADER_BYTES;
    }
    size_t hlen = (size_t)(hend - buf) + 4;
    if (hlen > MAX_HEADER_BYTES) {
        http_fail(srv, c, 431, "request header too large");
        return 1;
    }

    struct req *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    r->srv = srv;
    r->c = c;

    char *eol = memchr(buf, '\r', hlen);
    char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1') ||
        (sp1[1] != '/' && strncmp(sp1 + 1, "http://", 7) != 0)) {
        http_fail(srv, c, 400, "malformed request line");
        free(r);
        return 1;
    }
    r->http10 = sp2[8] == '0';

    for (char *line = eol + 2; line < hend;) {
        char *le = memchr(line, '\r', (size_t)(hend - line) + 1);
        char *colon = memchr(line, ':', (size_t)(le - line));
        if (le[1] != '\n' || !colon || colon == line) {
            http_fail(srv, c, 400, "malformed header");
            free(r);
            return 1;
        }
        if (r->n_h == MAX_HEADERS) {
            http_fail(srv, c, 431, "too many headers");
            free(r);
            return 1;
        }
        char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        r->h[r->n_h++] = (struct hdr){line, (size_t)(colon - line), v, (size_t)(ve - v)};
        line = le + 2;
    }

    const struct hdr *te = hfind(r, "transfer-encoding");
    const struct hdr *cl = hfind(r, "content-length");
    const struct hdr *ex = hfind(r, "expect");
    size_t wire = 0;
    int need_more = 0;
    if (te && mem_icontains(te->val, te->val_len, "chunked")) {
        int k = dechunk(hend + 4, avail - hlen, &srv->dechunked, &wire);
        if (k < 0) {
            http_fail(srv, c, srv->dechunked.len >= MAX_BODY_BYTES ? 413 : 400, "bad chunked body");
            free(r);
            return 1;
        }
        need_more = k == 0;
        r->body = srv->dechunked.p;
        r->body_len = srv->dechunked.len;
    } else if (cl) {
        size_t len = 0;
        for (size_t i = 0; i < cl->val_len; i++) {
            if (cl->val[i] < '0' || cl->val[i] > '9' || len > MAX_BODY_BYTES) {
                http_fail(srv, c, 400, "bad content-length");
                free(r);
                return 1;
            }
            len = len * 10 + (size_t)(cl->val[i] - '0');
        }
        if (len > MAX_BODY_BYTES) {
            http_fail(srv, c, 413, "body too large");
            free(r);
            return 1;
        }
        need_more = avail - hlen < len;
        wire = len;
        r->body = hend + 4;
        r->body_len = len;
    }
    if (need_more) {
        /* curl waits up to a second for this before sending a large body */
        if (ex && mem_ieq(ex->val, ex->val_len, "100-continue") && !c->sent_continue &&
            !r->http10) {
            buf_lit(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            c->sent_continue = true;
        }
        free(r);
        return 0;
    }

    /* the request is complete: NUL-terminate its pieces in place */
    *sp1 = '\0';
    *sp2 = '\0';
    r->method = buf;
    r->target = sp1 + 1;
    const struct hdr *conn_h = hfind(r, "connection");
    if (r->http10)
        r->keep_alive = conn_h && mem_icontains(conn_h->val, conn_h->val_len, "keep-alive");
    else
        r->keep_alive = !(conn_h && mem_icontains(conn_h->val, conn_h->val_len, "close"));

    rep_reset(&srv->rep);
    dispatch(srv, r);
    if (!srv->rep.has_head && !srv->rep.cut) {
        buf_clear(&srv->body);
        buf_lit(&srv->body, "{\"error\":\"mock: no reply produced\"}");
        send_body(r, 500, "application/json", NULL);
    }
    if (!r->keep_alive)
        c->close_after = true;
    c->in_off += hlen + wire;
    c->sent_continue = false;
    free(r);
    commit(srv, c);
    return 1;
}

/* Answers whatever is complete in the input, then flushes; may free c. */
static void conn_progress(struct server *srv, struct conn *c)
{
    for (;;) {
        bool starved = false;
        while (!c->sched && !c->close_after && c->out.len - c->out_off < OUT_HIGH_WATER) {
            if (handle_next_request(srv, c) == 0) {
                starved = true;
                break;
            }
        }
        if (c->in_off == c->in.len) {
            c->in_off = c->in.len = 0;
            if (c->in.cap > BUF_KEEP)
                buf_free(&c->in);
        }
        if (conn_write(srv, c) < 0)
            return;
        if (c->out.len > c->out_off || c->sched)
            return; /* EPOLLOUT or the timer brings us back */
        if (c->close_after || (starved && c->read_eof)) {
            conn_close(srv, c);
            return;
        }
        if (starved)
            return;
        /* stopped at the high-water mark but the output drained: go on */
    }
}

/* Reads everything available. Returns -1 when the connection was closed. */
static int conn_read(struct server *srv, struct conn *c)
{
    if (c->in_off > 0 && c->in_off == c->in.len) {
        c->in_off = c->in.len = 0;
    } else if (c->in_off > 65536) {
        memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, srv->rbuf, sizeof srv->rbuf, 0);
        if (n > 0) {
            buf_put(&c->in, srv->rbuf, (size_t)n);
            srv->st.bytes_in += (uint64_t)n;
            if (c->in.len - c->in_off > MAX_BODY_BYTES + 2 * MAX_HEADER_BYTES) {
                conn_close(srv, c);
                return -1;
            }
            /* a short read drained the socket; edge-triggered epoll reports new data */
            if ((size_t)n < sizeof srv->rbuf)
                break;
            continue;
        }
        if (n == 0) {
            c->read_eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        conn_close(srv, c);
        return -1;
    }
    if (c->read_eof && c->sched) {
        /* a streaming client went away */
        conn_close(srv, c);
        return -1;
    }
    return 0;
}

static void accept_all(struct server *srv)
{
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* level-triggered listen socket would spin; resume when a connection closes */
                struct epoll_event ev = {.events = 0, .data.ptr = &srv->lfd};
                if (srv->st.connections_active > 0 &&
                    epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->lfd, &ev) == 0)
                    srv->listen_paused = true;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xrealloc(NULL, sizeof *c);
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->heap_idx = NO_HEAP;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->st.connections_total++;
        srv->st.connections_active++;
    }
}

/* ------------------------------------------------------------------------- */
/* Request log */

static void rec_clear(struct rec *e)
{
    free(e->method);
    free(e->target);
    free(e->hdrs);
    free(e->body);
    free(e->key);
    free(e->model);
    free(e->deployment);
    memset(e, 0, sizeof *e);
}

static void log_clear(struct server *srv)
{
    for (size_t i = 0; i < srv->log_cap; i++)
        rec_clear(&srv->log[i]);
    srv->log_start = srv->log_count = 0;
}

static struct rec *rec_new(struct server *srv, const struct req *r)
{
    struct rec *e;
    if (srv->log_count < srv->log_cap) {
        e = &srv->log[(srv->log_start + srv->log_count++) % srv->log_cap];
    } else {
        e = &srv->log[srv->log_start];
        srv->log_start = (srv->log_start + 1) % srv->log_cap;
    }
    rec_clear(e);
    e->seq = r->seq;
    e->when = wall_now();
    e->method = xstrndup(r->method, strlen(r->method));
    e->target = xstrndup(r->target, strlen(r->target));
    size_t n = 0;
    for (size_t i = 0; i < r->n_h; i++)
        n += r->h[i].name_len + r->h[i].val_len + 2;
    e->hdrs = xrealloc(NULL, n ? n : 1);
    e->hdrs_len = n;
    char *o = e->hdrs;
    for (size_t i = 0; i < r->n_h; i++) {
        for (size_t j = 0; j < r->h[i].name_len; j++) {
            char ch = r->h[i].name[j];
            *o++ = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        *o++ = '\0';
        memcpy(o, r->h[i].val, r->h[i].val_len);
        o += r->h[i].val_len;
        *o++ = '\0';
    }
    e->body_total = r->body_len;
    e->body_len = r->body_len > LOG_BODY_MAX ? LOG_BODY_MAX : r->body_len;
    e->body = xstrndup(r->body ? r->body : "", e->body_len);
    e->provider = r->vertex ? "vertex" : prov_names[r->prov];
    if (r->key[0])
        e->key = xstrndup(r->key, strlen(r->key));
    if (r->deployment[0])
        e->deployment = xstrndup(r->deployment, strlen(r->deployment));
    return e;
}

static void rec_model(struct req *r, const char *model)
{
    if (!r->rec || !model)
        return;
    free(r->rec->model);
    r->rec->model = xstrndup(model, strlen(model));
}

static void rec_tokens(struct req *r, int prompt, int completion, bool sent)
{
    if (!r->rec)
        return;
    r->rec->has_tokens = true;
    r->rec->prompt_tokens = prompt;
    r->rec->completion_tokens = completion;
    r->rec->usage_sent = sent;
}

/* ------------------------------------------------------------------------- */
/* Directives: [[mock key=value ...]] */

static bool parse_num(const char *s, size_t n, long lo, long hi, int *out)
{
    long v = 0;
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static void dir_defaults(struct directives *d)
{
    memset(d, 0, sizeof *d);
    d->chunks = 3;
    d->fail_after = -1;
    d->usage = true;
    d->strict = true;
}

static void dir_set(struct directives *d, const char *k, size_t kn, const char *v, size_t vn)
{
    int num;
    bool yes = vn == 1 && v[0] == '1';
#define KEY(name) (kn == sizeof(name) - 1 && memcmp(k, name, kn) == 0)
    if (KEY("chunks") && parse_num(v, vn, 1, MAX_CHUNKS, &num)) {
        d->chunks = num;
        d->chunks_set = true;
    } else if ((KEY("delay_ms") || KEY("delay")) && parse_num(v, vn, 0, MAX_DELAY_MS, &num)) {
        d->delay_ms = num;
    } else if (KEY("status") && parse_num(v, vn, 100, 599, &num)) {
        d->status = num >= 400 ? num : 0;
    } else if (KEY("fail_after") && parse_num(v, vn, 0, MAX_CHUNKS, &num)) {
        d->fail_after = num;
    } else if (KEY("fail")) {
        d->fail_error = vn == 5 && memcmp(v, "error", 5) == 0;
    } else if (KEY("usage")) {
        d->usage = yes;
    } else if (KEY("close")) {
        d->close = yes;
    } else if (KEY("flagged")) {
        d->flagged = yes;
    } else if (KEY("strict")) {
        d->strict = yes;
    } else if (KEY("eol")) {
        d->eol = vn == 4 && memcmp(v, "crlf", 4) == 0 ? 2 : 1;
    } else if (KEY("text")) {
        copy_str(d->text, sizeof d->text, v, vn);
    } else if (KEY("tool")) {
        copy_str(d->tool, sizeof d->tool, v, vn);
    } else if (KEY("args")) {
        copy_str(d->args, sizeof d->args, v, vn);
    } else if (KEY("finish")) {
        copy_str(d->finish, sizeof d->finish, v, vn);
    } else if (KEY("err_type")) {
        copy_str(d->err_type, sizeof d->err_type, v, vn);
    } else if (KEY("err_code")) {
        copy_str(d->err_code, sizeof d->err_code, v, vn);
    } else if (KEY("msg")) {
        copy_str(d->msg, sizeof d->msg, v, vn);
    } else if (KEY("block")) {
        copy_str(d->block, sizeof d->block, v, vn);
    }
#undef KEY
}

/* Parses "key=value key=\"quoted value\" ..." from s[0..n). */
static void dir_parse(struct directives *d, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
            i++;
        size_t k = i;
        while (i < n && s[i] != '=' && s[i] != ' ' && !(s[i] >= '\t' && s[i] <= '\r'))
            i++;
        size_t kn = i - k;
        if (i >= n || s[i] != '=') {
            continue;
        }
        i++;
        size_t v, vn;
        if (i < n && s[i] == '"') {
            v = ++i;
            while (i < n && s[i] != '"')
                i++;
            vn = i - v;
            if (i < n)
                i++;
        } else {
            v = i;
            while (i < n && s[i] != ' ' && !(s[i] >= '\t' && s[i] <= '\r'))
                i++;
            vn = i - v;
        }
        if (kn)
            dir_set(d, s + k, kn, s + v, vn);
    }
}

/* Applies the last [[mock ...]] found in s[0..n). */
static bool dir_scan(struct directives *d, const char *s, size_t n)
{
    const char *last = NULL;
    for (const char *p = s; p && (size_t)(p - s) < n;) {
        const char *hit = memmem(p, n - (size_t)(p - s), "[[mock", 6);
        if (!hit)
            break;
        size_t after = (size_t)(hit - s) + 6;
        if (after < n &&
            (s[after] == ' ' || s[after] == ']' || (s[after] >= '\t' && s[after] <= '\r')))
            last = hit;
        p = hit + 6;
    }
    if (!last)
        return false;
    const char *start = last + 6;
    const char *end = memmem(start, n - (size_t)(start - s), "]]", 2);
    if (!end)
        return false;
    dir_parse(d, start, (size_t)(end - start));
    return true;
}

/* ------------------------------------------------------------------------- */
/* Answer plans and generated text */

static void plan_make(struct plan *p, const struct directives *d)
{
    memset(p, 0, sizeof *p);
    p->tool = d->tool[0] != '\0';
    p->n_text = p->tool && !d->text[0] ? 0 : d->chunks;
    p->args = d->args[0] ? d->args : DEFAULT_ARGS;
    p->args_len = strlen(p->args);
    if (p->tool)
        p->n_args = d->chunks < (int)p->args_len ? d->chunks : (int)p->args_len;
    p->completion = p->n_text + (p->tool ? d->chunks : 0);
    p->fail_at = d->fail_after;
}

/* Appends text chunk i: "Hello", " from", " mock", " Hello"... or the text= word. */
static void piece_append(const struct directives *d, int i, struct buf *out)
{
    static const char *const words[] = {"Hello", "from", "mock"};
    if (i > 0)
        buf_putc(out, ' ');
    buf_puts(out, d->text[0] ? d->text : words[i % 3]);
}

static struct buf *piece(struct req *r, int i)
{
    buf_clear(&r->srv->piece);
    piece_append(&r->d, i, &r->srv->piece);
    return &r->srv->piece;
}

static struct buf *all_text(struct req *r, int n)
{
    buf_clear(&r->srv->piece);
    for (int i = 0; i < n; i++)
        piece_append(&r->d, i, &r->srv->piece);
    return &r->srv->piece;
}

static void arg_frag(const struct plan *p, int k, const char **s, size_t *n)
{
    size_t from = (size_t)k * p->args_len / (size_t)p->n_args;
    size_t to = (size_t)(k + 1) * p->args_len / (size_t)p->n_args;
    *s = p->args + from;
    *n = to - from;
}

/* Provider spelling of a finish reason; canonical names are stop, length, filter, tool. */
static const char *finish_for(enum prov pv, const struct directives *d, bool tool)
{
    /* Indexed by provider: a provider without a row would read NULL names. */
    static const char *const names[P__MAX][4] = {
        [P_OPENAI] = {"stop", "length", "content_filter", "tool_calls"},
        [P_AZURE] = {"stop", "length", "content_filter", "tool_calls"},
        [P_ANTHROPIC] = {"end_turn", "max_tokens", "refusal", "tool_use"},
        [P_GEMINI] = {"STOP", "MAX_TOKENS", "SAFETY", "STOP"},
        [P_DEEPL] = {"stop", "stop", "stop", "stop"}, /* no finish reasons */
        [P_PALM] = {"stop", "stop", "stop", "stop"},  /* no finish reasons */
        [P_COHERE] = {"COMPLETE", "MAX_TOKENS", "ERROR_TOXIC", "COMPLETE"},
        [P_OLLAMA] = {"stop", "length", "stop", "stop"},
        [P_BEDROCK] = {"end_turn", "max_tokens", "refusal", "tool_use"}, /* Claude's */
        [P_REPLICATE] = {"stop", "stop", "stop", "stop"},                /* none */
        [P_SPARK] = {"stop", "stop", "stop", "stop"},                    /* no finish reasons */
        [P_COZE] = {"stop", "stop", "stop", "stop"},                     /* no finish reasons */
        [P_CLOUDFLARE] = {"stop", "length", "content_filter", "tool_calls"},
        [P_AIPROXYLIB] = {"stop", "stop", "stop", "stop"},
        [P_MINIMAX] = {"stop", "length", "stop", "tool_calls"},
        [P_TENCENT] = {"stop", "length", "sensitive", "tool_calls"},
        [P_ALI] = {"stop", "length", "stop", "tool_calls"},
        [P_ZHIPU] = {"stop", "length", "sensitive", "tool_calls"},
    };
    const char *f = d->finish[0] ? d->finish : tool ? "tool" : "stop";
    if (!strcmp(f, "stop"))
        return names[pv][0];
    if (!strcmp(f, "length"))
        return names[pv][1];
    if (!strcmp(f, "filter"))
        return names[pv][2];
    if (!strcmp(f, "tool"))
        return names[pv][3];
    return f;
}

/* ------------------------------------------------------------------------- */
/* Provider-shaped errors */

static const char *openai_type(int status)
{
    switch (status) {
    case 401: return "invalid_request_error";
    case 403: return "permission_error";
    case 429: return "requests";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *openai_code(int status)
{
    switch (status) {
    case 401: return "invalid_api_key";
    case 404: return "model_not_found";
    case 429: return "rate_limit_exceeded";
    default: return NULL;
    }
}

static const char *azure_code(int status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "401";
    case 404: return "DeploymentNotFound";
    case 429: return "429";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalServerError" : "BadRequest";
    }
}

static const char *anthropic_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static const char *bedrock_error(int status)
{
    switch (status) {
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return status >= 500 ? "InternalServerException" : "ValidationException";
    }
}

static const char *google_status(int status)
{
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

/* Writes the provider's error object; overrides come from the directives when injected. */
static void error_obj(struct buf *b, enum prov pv, int status, const char *msg,
                      const struct directives *d)
{
    const char *type = d && d->err_type[0] ? d->err_type : NULL;
    const char *code = d && d->err_code[0] ? d->err_code : NULL;
    if (d && d->msg[0])
        msg = d->msg;
    switch (pv) {
    case P_ANTHROPIC:
        buf_lit(b, "{\"type\":\"error\",\"error\":{\"type\":");
        buf_jstrz(b, type ? type : anthropic_type(status));
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_DEEPL:
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}");
        break;
    case P_BEDROCK:
        if (status == 429 && !(d && d->msg[0]))
            msg = "Too many requests, please wait before trying again.";
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}");
        break;
    case P_GEMINI:
    case P_PALM:
        buf_fmt(b, "{\"error\":{\"code\":%d,\"message\":", status);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"status\":");
        buf_jstrz(b, code ? code : type ? type : google_status(status));
        buf_lit(b, "}}");
        break;
    case P_COHERE:
        /* Cohere's errors are a bare message; its rate limit names the trial key. */
        if (status == 429 && !(d && d->msg[0]))
            msg = "You are using a Trial key, which is limited to 10 API calls / minute.";
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_OLLAMA:
        buf_lit(b, "{\"error\":");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_MINIMAX:
        /* Inside HTTP 200: base_resp carries MiniMax's own code. */
        buf_fmt(b,
                "{\"id\":\"\",\"choices\":null,\"created\":0,\"model\":\"\",\"object\":"
                "\"chat.completion\",\"base_resp\":{\"status_code\":%d,\"status_msg\":",
                code            ? atoi(code)
                : status == 429 ? 1002
                : status == 401 ? 1004
                : status == 402 ? 1008
                : status < 500  ? 2013
                                : 1000);
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_TENCENT:
        /* Inside HTTP 200: Response.Error with a string code. */
        buf_lit(b, "{\"Response\":{\"Error\":{\"Code\":");
        buf_jstrz(b, code            ? code
                     : status == 429 ? "RequestLimitExceeded"
                     : status == 401 ? "AuthFailure.SignatureFailure"
                     : status == 403 ? "ResourceInsufficient.ChargeResourceExhaust"
                     : status < 500  ? "InvalidParameter"
                                     : "InternalError");
        buf_lit(b, ",\"Message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "},\"RequestId\":\"mock-error\"}}");
        break;
    case P_REPLICATE:
        /* Problem details; a 429 says when to come back. */
        if (status == 429 && !(d && d->msg[0]))
            msg = "Request was throttled. Expected available in 1 second.";
        buf_lit(b, "{\"title\":");
        buf_jstrz(b, status == 429 ? "Request was throttled" : reason_phrase(status));
        buf_lit(b, ",\"detail\":");
        buf_jstrz(b, msg);
        buf_fmt(b, ",\"status\":%d}", status);
        break;
    case P_ZHIPU:
        /* Zhipu's errors carry its numeric code as a string and no type; 1302 is its rate
         * limit. */
        buf_lit(b, "{\"error\":{\"code\":");
        buf_jstrz(b, code            ? code
                     : status == 429 ? "1302"
                     : status == 401 ? "1002"
                     : status >= 500 ? "500"
                                     : "1210");
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
        break;
    case P_COZE:
        /* Coze's code 4013 is its rate limit, 4100 a bad token. */
        buf_fmt(b, "{\"code\":%s,\"msg\":",
                code                ? code
                : status == 429     ? "4013"
                : status == 401     ? "4100"
                : status / 100 == 4 ? "4000"
                                    : "5000");
        buf_jstrz(b, status == 429 && !(d && d->msg[0]) ? "The requests exceed the limit" : msg);
        buf_putc(b, '}');
        break;
    case P_CLOUDFLARE:
        /* The v4 API envelope; 3040 is Workers AI's capacity limit, 10000 a bad token. */
        buf_fmt(b, "{\"result\":null,\"success\":false,\"errors\":[{\"code\":%s,\"message\":",
                code            ? code
                : status == 429 ? "3040"
                : status == 401 ? "10000"
                                : "5007");
        buf_jstrz(b, status == 429 && !(d && d->msg[0])
                         ? "Capacity temporarily exceeded, please try again."
                         : msg);
        buf_lit(b, "}],\"messages\":[]}");
        break;
    case P_AIPROXYLIB:
        buf_fmt(b, "{\"success\":false,\"errCode\":%s,\"message\":", code ? code : "1");
        buf_jstrz(b, msg);
        buf_putc(b, '}');
        break;
    case P_ALI: {
        /* {code, message, request_id}; the code names the kind of failure. */
        const char *ac = status == 429   ? "Throttling.RateQuota"
                         : status == 401 ? "InvalidApiKey"
                         : status == 403 ? "AccessDenied"
                         : status == 400 ? "InvalidParameter"
                                         : "InternalError";
        if (status == 429 && !(d && d->msg[0]))
            msg = "Requests rate limit exceeded, please try again later.";
        if (status == 401 && !(d && d->msg[0]))
            msg = "Invalid API-key provided.";
        buf_lit(b, "{\"code\":");
        buf_jstrz(b, code ? code : ac);
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, ",\"request_id\":\"mock-req-error\"}");
        break;
    }
    case P_AZURE:
        buf_lit(b, "{\"error\":{\"code\":");
        buf_jstrz(b, code ? code : azure_code(status));
        buf_lit(b, ",\"message\":");
        buf_jstrz(b, msg);
        if (type) {
            buf_lit(b, ",\"type\":");
            buf_jstrz(b, type);
        }
        buf_lit(b, "}}");
        break;
    default:
        buf_lit(b, "{\"error\":{\"message\":");
        buf_jstrz(b, msg);
        buf_lit(b, ",\"type\":");
        buf_jstrz(b, type ? type : openai_type(status));
        buf_lit(b, ",\"param\":null,\"code\":");
        if (!code)
            code = openai_code(status);
        if (code)
            buf_jstrz(b, code);
        else
            buf_lit(b, "null");
        buf_lit(b, "}}");
        break;
    }
}

/* Answers an error. injected = caused by a directive, so err_type/err_code/msg apply. */
static void reply_error(struct req *r, int status, const char *msg, bool injected)
{
    char dflt[96];
    if (!msg) {
        snprintf(dflt, sizeof dflt, "mock upstream error (HTTP %d)", status);
        msg = dflt;
    }
    if (r->prov == P_MINIMAX && r->json && jbool(r->json, "stream")) {
        /* MiniMax fails a stream with one data event of the error body. */
        stream_head(r, 200, "text/event-stream", NULL);
        error_obj(sse_data(r), r->prov, status, msg, injected ? &r->d : NULL);
        sse_end(r);
        rep_finish(r);
        return;
    }
    struct buf *b = body_reset(r->srv);
    /* Vertex answers its own errors (quota, auth) the Google way, whatever the model. */
    error_obj(b, r->vertex && injected ? P_GEMINI : r->prov, status, msg, injected ? &r->d : NULL);
    if (r->prov == P_BEDROCK) {
        /* AWS names the error in a header; the body has only the message. */
        char extra[256];
        const char *type = injected && r->d.err_type[0] ? r->d.err_type : bedrock_error(status);
        snprintf(extra, sizeof extra,
                 "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n",
                 type);
        send_body(r, status, "application/json", extra);
        return;
    }
    /* MiniMax and Tencent answer their errors with HTTP 200. */
    send_body(r, r->prov == P_MINIMAX || r->prov == P_TENCENT ? 200 : status,
              r->prov == P_GEMINI   ? "application/json; charset=UTF-8"
              : r->prov == P_OLLAMA ? "application/json; charset=utf-8"
                                    : "application/json",
              NULL);
}

__attribute__((format(printf, 3, 4))) static void reply_errorf(struct req *r, int status,
                                                               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_error(r, status, msg, false);
}

/* Mid-stream failure at the next event slot: cut the connection or send an error event. */
static void stream_fail(struct req *r)
{
    struct server *srv = r->srv;
    rep_seg(&srv->rep, r->d.delay_ms);
    if (!r->d.fail_error) {
        srv->rep.cut = true;
        return;
    }
    struct buf *b;
    switch (r->prov) {
    case P_ANTHROPIC:
        b = sse_named(r, "error");
        if (!r->d.msg[0] && !r->d.err_type[0]) {
            buf_lit(b, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}");
        } else {
            error_obj(b, P_ANTHROPIC, 529, "Overloaded", &r->d);
        }
        sse_end(r);
        break;
    case P_GEMINI:
        b = sse_data(r);
        error_obj(b, P_GEMINI, 500, "mock: stream failed", &r->d);
        sse_end(r);
        break;
    case P_BEDROCK: {
        /* An exception frame inside the 200 stream: throttlingException unless err_type= */
        static const char *const names[] = {":exception-type", ":content-type", ":message-type"};
        const char *values[] = {r->d.err_type[0] ? r->d.err_type : "throttlingException",
                                "application/json", "exception"};
        b = &srv->frame;
        buf_clear(b);
        buf_lit(b, "{\"message\":");
        buf_jstrz(b,
                  r->d.msg[0] ? r->d.msg : "Too many requests, please wait before trying again.");
        buf_putc(b, '}');
        buf_clear(&srv->ev);
        evs_frame(&srv->ev, names, values, 3, b->p, b->len);
        rep_event(r);
        break;
    }
    case P_COHERE:
        b = &srv->ev;
        buf_clear(b);
        error_obj(b, P_COHERE, 500, "mock: stream failed", &r->d);
        buf_putc(b, '\n');
        rep_event(r);
        break;
    case P_OLLAMA:
        b = &srv->ev;
        buf_clear(b);
        error_obj(b, P_OLLAMA, 500, "mock: stream failed", &r->d);
        buf_putc(b, '\n');
        rep_event(r);
        break;
    case P_COZE:
        b = &srv->ev;
        buf_clear(b);
        buf_lit(b, "data:{\"event\":\"error\",\"error_information\":{\"code\":5000,\"msg\":");
        buf_jstrz(b, r->d.msg[0] ? r->d.msg : "mock: stream failed");
        buf_lit(b, "}}");
        sse_end(r);
        break;
    default:
        b = sse_data(r);
        error_obj(b, r->prov, 500, "mock: stream failed", &r->d);
        sse_end(r);
        break;
    }
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* OpenAI and Azure */

#define AZ_FILTERS                                                                                 \
    "{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"self_harm\":{\"filtered\":false,"      \
    "\"severity\":\"safe\"},\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},"                \
    "\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}"

static void oa_usage(struct buf *b, int prompt, int completion)
{
    buf_fmt(b,
            "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d,"
            "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
            "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
            "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
            prompt, completion, prompt + completion);
}

static struct buf *oa_chunk_begin(struct req *r, const struct chat *ch)
{
    struct buf *b = sse_data(r);
    if (ch->completion)
        buf_fmt(b,
                "{\"id\":\"cmpl-mock%" PRIu64
                "\",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
                r->seq, (long long)r->now);
    else
        buf_fmt(b,
                "{\"id\":\"chatcmpl-mock%" PRIu64
                "\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
                r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"system_fingerprint\":\"fp_mock\",\"choices\":[");
    return b;
}

static void oa_chunk_end(struct req *r, const struct chat *ch)
{
    struct buf *b = &r->srv->ev;
    buf_putc(b, ']');
    if (ch->include_usage)
        buf_lit(b, ",\"usage\":null");
    buf_putc(b, '}');
    sse_end(r);
}

/* One streamed choice carrying delta JSON (chat) or text (completions). */
static void oa_choice(struct req *r, const struct chat *ch, const char *delta, size_t n,
                      const char *finish)
{
    struct buf *b = oa_chunk_begin(r, ch);
    if (ch->completion) {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, delta, n);
        buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    } else {
        buf_lit(b, "{\"index\":0,\"delta\":");
        buf_put(b, delta, n);
        buf_lit(b, ",\"logprobs\":null,\"finish_reason\":");
    }
    if (finish)
        buf_jstrz(b, finish);
    else
        buf_lit(b, "null");
    buf_putc(b, '}');
    oa_chunk_end(r, ch);
}

static void oa_tool_head(struct buf *b, struct req *r, bool with_role)
{
    if (with_role)
        buf_lit(b, "{\"role\":\"assistant\",\"content\":null,");
    else
        buf_putc(b, '{');
    buf_fmt(b,
            "\"tool_calls\":[{\"index\":0,\"id\":\"call_mock%" PRIu64
            "_0\",\"type\":\"function\",\"function\":{\"name\":",
            r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"arguments\":\"\"}}]}");
}

static void oa_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    struct buf *t = &srv->text; /* delta JSON; srv->ev holds the event around it */
    const struct directives *d = &r->d;
    stream_head(r, 200, "text/event-stream", NULL);
    if (r->prov == P_AZURE && !ch->completion) {
        /* Azure sends the prompt filter verdict first, in a chunk with no choices */
        struct buf *b = sse_data(r);
        buf_lit(
            b,
            "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
            "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":" AZ_FILTERS
            "}]}");
        sse_end(r);
    }
    if (!ch->completion) {
        buf_clear(t);
        if (p->n_text == 0 && p->tool)
            oa_tool_head(t, r, true);
        else
            buf_lit(t, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}");
        oa_choice(r, ch, t->p, t->len, NULL);
    }
    int ev = 0;
    for (int i = 0; i < p->n_text; i++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        if (ch->completion) {
            oa_choice(r, ch, pc->p, pc->len, NULL);
        } else {
            buf_clear(t);
            buf_lit(t, "{\"content\":");
            buf_jstr(t, pc->p, pc->len);
            buf_putc(t, '}');
            oa_choice(r, ch, t->p, t->len, NULL);
        }
    }
    for (int k = 0; k < p->n_args && !ch->completion; k++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        if (k == 0 && p->n_text > 0) {
            buf_clear(t);
            oa_tool_head(t, r, false);
            oa_choice(r, ch, t->p, t->len, NULL);
        }
        const char *s;
        size_t n;
        arg_frag(p, k, &s, &n);
        buf_clear(t);
        buf_lit(t, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
        buf_jstr(t, s, n);
        buf_lit(t, "}}]}");
        oa_choice(r, ch, t->p, t->len, NULL);
    }
    if (ch->completion)
        oa_choice(r, ch, "", 0, finish_for(r->prov, d, false));
    else
        oa_choice(r, ch, "{}", 2, finish_for(r->prov, d, p->tool));
    if (ch->include_usage && d->usage) {
        struct buf *b = oa_chunk_begin(r, ch);
        buf_lit(b, "],\"usage\":");
        if (ch->completion)
            buf_fmt(b, "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                    ch->prompt, p->completion, ch->prompt + p->completion);
        else
            oa_usage(b, ch->prompt, p->completion);
        buf_putc(b, '}');
        sse_end(r);
    }
    sse_data(r);
    buf_lit(&srv->ev, "[DONE]");
    sse_end(r);
    rep_finish(r);
}

static void oa_chat_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    bool az = r->prov == P_AZURE;
    buf_fmt(b,
            "{\"id\":\"chatcmpl-mock%" PRIu64
            "\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
            r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    if (az)
        buf_lit(
            b,
            ",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":" AZ_FILTERS
            "}]");
    buf_lit(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    if (p->n_text) {
        struct buf *t = all_text(r, p->n_text);
        buf_jstr(b, t->p, t->len);
    } else {
        buf_lit(b, "null");
    }
    if (p->tool) {
        buf_fmt(b,
                ",\"tool_calls\":[{\"id\":\"call_mock%" PRIu64
                "_0\",\"type\":\"function\",\"function\":{\"name\":",
                r->seq);
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"arguments\":");
        buf_jstr(b, p->args, p->args_len);
        buf_lit(b, "}}]");
    }
    buf_lit(b, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":");
    buf_jstrz(b, finish_for(r->prov, &r->d, p->tool));
    if (az)
        buf_lit(b, ",\"content_filter_results\":" AZ_FILTERS);
    buf_lit(b, "}]");
    if (r->d.usage) {
        buf_lit(b, ",\"usage\":");
        oa_usage(b, ch->prompt, p->completion);
    }
    buf_lit(b, ",\"system_fingerprint\":\"fp_mock\"}");
    send_body(r, 200, "application/json", NULL);
}

static void oa_completion_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"id\":\"cmpl-mock%" PRIu64
            "\",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
            r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"choices\":[{\"text\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    buf_jstrz(b, finish_for(r->prov, &r->d, false));
    buf_lit(b, "}]");
    if (r->d.usage) {
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                ch->prompt, p->completion, ch->prompt + p->completion);
    }
    buf_lit(b, "}");
    send_body(r, 200, "application/json", NULL);
}

/* Non-stream requests with fail_after get no answer at all: the connection just closes. */
static bool drop_if_failing(struct req *r, bool stream)
{
    if (stream || r->d.fail_after < 0)
        return false;
    r->srv->rep.segs[0].delay_ms = r->d.delay_ms;
    r->srv->rep.cut = true;
    if (r->rec)
        r->rec->status = 0;
    return true;
}

static void h_oa_chat(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    const char *model = jstr(j, "model");
    if (!model && r->prov == P_AZURE)
        model = r->deployment;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!jlen(msgs)) {
        reply_error(r, 400, "'messages' must be a non-empty array", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream")};
    json_object *so = jget(j, "stream_options");
    if (so && json_object_is_type(so, json_type_null))
        so = NULL;
    if (so && !ch.stream && r->d.strict) {
        reply_error(r, 400,
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    false);
        return;
    }
    ch.include_usage = jbool(so, "include_usage");
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&r->srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &r->srv->text, 0);
        ch.prompt += count_words(r->srv->text.p, r->srv->text.len) + 3;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools")) && !jlen(jarr(j, "functions"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, ch.stream ? ch.include_usage && r->d.usage : r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        oa_stream(r, &ch, &p);
    else
        oa_chat_json(r, &ch, &p);
}

static void h_oa_completions(struct req *r)
{
    json_object *j = r->json;
    const char *model = jstr(j, "model");
    if (!model && r->prov == P_AZURE)
        model = r->deployment;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    json_object *prompt = jget(j, "prompt");
    if (!prompt) {
        reply_error(r, 400, "'prompt' is a required property", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream"), .completion = true};
    ch.include_usage = jbool(jget(j, "stream_options"), "include_usage");
    buf_clear(&r->srv->text);
    jtext(prompt, &r->srv->text, 0);
    ch.prompt = count_words(r->srv->text.p, r->srv->text.len);
    struct directives d2 = r->d;
    d2.tool[0] = '\0'; /* legacy completions have no tools */
    struct plan p;
    plan_make(&p, &d2);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, ch.stream ? ch.include_usage && r->d.usage : r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        oa_stream(r, &ch, &p);
    else
        oa_completion_json(r, &ch, &p);
}

/* Deterministic embedding values: multiples of 1/1024, exact in float32 and in decimal. */
static float emb_value(uint64_t h, int i)
{
    uint64_t x = mix64(h ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull));
    return (float)((int)(x % 2049) - 1024) / 1024.0f;
}

static void emb_vector(struct server *srv, struct buf *b, uint64_t h, int dims, bool b64)
{
    if (!b64) {
        buf_putc(b, '[');
        for (int i = 0; i < dims; i++)
            buf_fmt(b, i ? ",%.10g" : "%.10g", (double)emb_value(h, i));
        buf_putc(b, ']');
        return;
    }
    struct buf *raw = &srv->piece;
    buf_clear(raw);
    for (int i = 0; i < dims; i++) {
        float f = emb_value(h, i);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                               (unsigned char)(u >> 24)};
        buf_put(raw, le, 4);
    }
    buf_putc(b, '"');
    buf_b64(b, (const unsigned char *)raw->p, raw->len);
    buf_putc(b, '"');
}

/* Hash of one embedding input, a string or an array of token ids; *tokens gets its size. */
static uint64_t emb_input(struct server *srv, json_object *v, int *tokens)
{
    if (json_object_is_type(v, json_type_string)) {
        buf_clear(&srv->text);
        jtext(v, &srv->text, 0);
        *tokens = count_words(srv->text.p, srv->text.len);
        return fnv1a(srv->text.p, srv->text.len, 1469598103934665603ull);
    }
    uint64_t h = 1469598103934665603ull;
    size_t n = jlen(v);
    for (size_t i = 0; i < n; i++) {
        int64_t t = json_object_get_int64(json_object_array_get_idx(v, i));
        h = fnv1a(&t, sizeof t, h);
    }
    *tokens = (int)n;
    return h;
}

static void h_oa_embeddings(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *input = jget(j, "input");
    const char *model = jstr(j, "model");
    if (!model)
        model = r->prov == P_AZURE ? r->deployment : r->pmodel[0] ? r->pmodel : NULL;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!input || (json_object_is_type(input, json_type_array) && !jlen(input)) ||
        !(json_object_is_type(input, json_type_string) ||
          json_object_is_type(input, json_type_array))) {
        reply_error(r, 400, "'input' must be a string or a non-empty array", false);
        return;
    }
    int dims = (int)jint(j, "dimensions", DEFAULT_DIMS);
    if (dims < 1 || dims > MAX_DIMS) {
        reply_errorf(r, 400, "'dimensions' must be between 1 and %d", MAX_DIMS);
        return;
    }
    const char *fmt = jstr(j, "encoding_format");
    bool b64 = fmt && !strcmp(fmt, "base64");
    /* items: a string, an array of strings, one token array, or an array of token arrays */
    json_object *one = NULL;
    size_t n = 1;
    json_object *first =
        json_object_is_type(input, json_type_array) ? json_object_array_get_idx(input, 0) : NULL;
    if (!first || (!json_object_is_type(first, json_type_string) &&
                   !json_object_is_type(first, json_type_array)))
        one = input;
    else
        n = jlen(input);
    struct buf *b = body_reset(srv);
    buf_lit(b, "{\"object\":\"list\",\"data\":[");
    int prompt = 0;
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, one ? one : json_object_array_get_idx(input, i), &toks);
        prompt += toks;
        buf_fmt(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        emb_vector(srv, b, h, dims, b64);
        buf_putc(b, '}');
    }
    buf_lit(b, "],\"model\":");
    buf_jstrz(b, model);
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d}", prompt, prompt);
    buf_putc(b, '}');
    rec_model(r, model);
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json", NULL);
}

static void h_oa_moderations(struct req *r)
{
    static const char *const cats[] = {"harassment",
                                       "harassment/threatening",
                                       "hate",
                                       "hate/threatening",
                                       "illicit",
                                       "illicit/violent",
                                       "self-harm",
                                       "self-harm/intent",
                                       "self-harm/instructions",
                                       "sexual",
                                       "sexual/minors",
                                       "violence",
                                       "violence/graphic"};
    json_object *input = jget(r->json, "input");
    if (!input) {
        reply_error(r, 400, "'input' is a required property", false);
        return;
    }
    const char *model = jstr(r->json, "model");
    if (!model)
        model = "omni-moderation-latest";
    size_t n = json_object_is_type(input, json_type_array) ? jlen(input) : 1;
    if (json_object_is_type(input, json_type_array) && n > 0 &&
        json_object_is_type(json_object_array_get_idx(input, 0), json_type_object))
        n = 1; /* multi-modal parts form one input */
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"id\":\"modr-mock%" PRIu64 "\",\"model\":", r->seq);
    buf_jstrz(b, model);
    buf_lit(b, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        buf_fmt(b, "%s{\"flagged\":%s,\"categories\":{", i ? "," : "",
                r->d.flagged ? "true" : "false");
        for (size_t k = 0; k < sizeof cats / sizeof *cats; k++)
            buf_fmt(b, "%s\"%s\":%s", k ? "," : "", cats[k],
                    r->d.flagged && k == 0 ? "true" : "false");
        buf_lit(b, "},\"category_scores\":{");
        for (size_t k = 0; k < sizeof cats / sizeof *cats; k++)
            buf_fmt(b, "%s\"%s\":%s", k ? "," : "", cats[k],
                    r->d.flagged && k == 0 ? "0.97" : "0.0001");
        buf_lit(b, "}}");
    }
    buf_lit(b, "]}");
    rec_model(r, model);
    send_body(r, 200, "application/json", NULL);
}

/* A valid 1x1 transparent PNG for b64_json answers. */
static const unsigned char tiny_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

static void h_oa_images(struct req *r)
{
    const char *prompt = jstr(r->json, "prompt");
    if (!prompt) {
        reply_error(r, 400, "'prompt' is a required property", false);
        return;
    }
    int64_t n = jint(r->json, "n", 1);
    if (n < 1 || n > 10) {
        reply_error(r, 400, "'n' must be between 1 and 10", false);
        return;
    }
    const char *rf = jstr(r->json, "response_format");
    bool b64 = rf && !strcmp(rf, "b64_json");
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"created\":%lld,\"data\":[", (long long)r->now);
    for (int64_t i = 0; i < n; i++) {
        buf_puts(b, i ? ",{" : "{");
        if (b64) {
            buf_lit(b, "\"b64_json\":\"");
            buf_b64(b, tiny_png, sizeof tiny_png);
            buf_putc(b, '"');
        } else {
            buf_fmt(b, "\"url\":\"https://mock.invalid/images/mock%" PRIu64 "-%" PRId64 ".png\"",
                    r->seq, i);
        }
        buf_lit(b, ",\"revised_prompt\":");
        buf_jstrz(b, prompt);
        buf_putc(b, '}');
    }
    buf_lit(b, "]}");
    rec_model(r, jstr(r->json, "model"));
    send_body(r, 200, "application/json", NULL);
}

/* Picks the fields the mock needs out of a multipart/form-data body. */
static bool multipart_parse(struct req *r)
{
    const struct hdr *ct = hfind(r, "content-type");
    if (!r->body_len || !ct || !mem_icontains(ct->val, ct->val_len, "multipart/form-data"))
        return false;
    const char *bp = NULL;
    for (size_t i = 0; i + 9 <= ct->val_len; i++)
        if (strncasecmp(ct->val + i, "boundary=", 9) == 0) {
            bp = ct->val + i + 9;
            break;
        }
    if (!bp)
        return false;
    size_t bn = (size_t)(ct->val + ct->val_len - bp);
    if (bn && *bp == '"') {
        bp++;
        const char *q = memchr(bp, '"', --bn);
        if (!q)
            return false;
        bn = (size_t)(q - bp);
    } else {
        const char *semi = memchr(bp, ';', bn);
        if (semi)
            bn = (size_t)(semi - bp);
    }
    char delim[256];
    if (bn == 0 || bn + 4 >= sizeof delim)
        return false;
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = delim[3] = '-';
    memcpy(delim + 4, bp, bn);
    size_t dn = bn + 4;
    const char *s = r->body, *end = r->body + r->body_len;
    /* the first delimiter may lack the leading CRLF */
    const char *p = r->body_len >= dn - 2 && memcmp(s, delim + 2, dn - 2) == 0 ? s + dn - 2 : NULL;
    if (!p) {
        p = memmem(s, r->body_len, delim, dn);
        if (!p)
            return false;
        p += dn;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return true;
        const char *hs = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!hs)
            return false;
        hs += 2;
        const char *he = memmem(hs, (size_t)(end - hs), "\r\n\r\n", 4);
        if (!he)
            return false;
        const char *data = he + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, dn);
        if (!next)
            return false;
        size_t len = (size_t)(next - data);
        const char *name = memmem(hs, (size_t)(he - hs), "name=\"", 6);
        const char *file = memmem(hs, (size_t)(he - hs), "filename=", 9);
        if (name && (name == hs || name[-1] != 'e')) { /* skip the "name" inside "filename" */
            name += 6;
            const char *q = memchr(name, '"', (size_t)(he - name));
            size_t nn = q ? (size_t)(q - name) : 0;
            if (file || (nn == 4 && !memcmp(name, "file", 4))) {
                r->mp_has_file = true;
                r->mp_file_len = len;
            } else if (nn == 5 && !memcmp(name, "model", 5)) {
                copy_str(r->mp_model, sizeof r->mp_model, data, len);
            } else if (nn == 15 && !memcmp(name, "response_format", 15)) {
                copy_str(r->mp_format, sizeof r->mp_format, data, len);
            } else if (nn == 6 && !memcmp(name, "prompt", 6)) {
                r->mp_prompt = data;
                r->mp_prompt_len = len;
            }
        }
        p = next + dn;
    }
}

static void h_oa_audio_text(struct req *r)
{
    if (!r->mp_has_file) {
        reply_error(r, 400, "mock: multipart/form-data with a 'file' part is required", false);
        return;
    }
    const char *fmt = r->mp_format[0] ? r->mp_format : "json";
    struct buf *t = all_text(r, r->d.chunks);
    struct buf *b = body_reset(r->srv);
    const char *ctype = "application/json";
    if (!strcmp(fmt, "text")) {
        buf_put(b, t->p, t->len);
        buf_putc(b, '\n');
        ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(fmt, "srt")) {
        buf_lit(b, "1\n00:00:00,000 --> 00:00:01,000\n");
        buf_put(b, t->p, t->len);
        buf_lit(b, "\n\n");
        ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(fmt, "vtt")) {
        buf_lit(b, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n");
        buf_put(b, t->p, t->len);
        buf_lit(b, "\n\n");
        ctype = "text/vtt; charset=utf-8";
    } else if (!strcmp(fmt, "verbose_json")) {
        buf_fmt(b, "{\"task\":\"%s\",\"language\":\"english\",\"duration\":1.0,\"text\":",
                r->op == OP_TRANSLATE ? "translate" : "transcribe");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"segments\":[{\"id\":0,\"seek\":0,\"start\":0.0,\"end\":1.0,\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, "}]}");
    } else {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_putc(b, '}');
    }
    rec_model(r, r->mp_model[0] ? r->mp_model : NULL);
    send_body(r, 200, ctype, NULL);
}

static void h_oa_speech(struct req *r)
{
    struct server *srv = r->srv;
    const char *input = jstr(r->json, "input");
    if (!input) {
        reply_error(r, 400, "'input' is a required property", false);
        return;
    }
    const char *fmt = jstr(r->json, "response_format");
    if (!fmt)
        fmt = "mp3";
    const char *ctype = "audio/mpeg";
    const char *magic = "ID3\x04";
    if (!strcmp(fmt, "opus")) {
        ctype = "audio/opus";
        magic = "OggS";
    } else if (!strcmp(fmt, "aac")) {
        ctype = "audio/aac";
        magic = "\xff\xf1\x50\x80";
    } else if (!strcmp(fmt, "flac")) {
        ctype = "audio/flac";
        magic = "fLaC";
    } else if (!strcmp(fmt, "wav")) {
        ctype = "audio/wav";
        magic = "RIFF";
    } else if (!strcmp(fmt, "pcm")) {
        ctype = "audio/pcm";
        magic = "\0\0\0\0";
    }
    /* 1024 bytes plus one per input character; the content is a fixed pattern */
    size_t size = 1024 + strlen(input);
    struct buf *b = body_reset(srv);
    buf_put(b, magic, 4);
    for (size_t i = 4; i < size; i++)
        buf_putc(b, (char)(unsigned char)(i * 31 + 7));
    rec_model(r, jstr(r->json, "model"));
    if (!r->d.chunks_set) {
        send_body(r, 200, ctype, NULL);
        return;
    }
    /* chunks=N streams the audio in N pieces, delay_ms apart */
    stream_head(r, 200, ctype, NULL);
    size_t n = (size_t)r->d.chunks;
    for (size_t k = 0; k < n; k++) {
        size_t from = k * size / n, to = (k + 1) * size / n;
        if (k)
            rep_seg(&srv->rep, r->d.delay_ms);
        buf_clear(&srv->ev);
        buf_put(&srv->ev, srv->body.p + from, to - from);
        rep_event(r);
    }
    rep_finish(r);
}

static void h_models(struct req *r)
{
    static const char *const oa[] = {
        "gpt-4o-mini", "gpt-4o",    "gpt-3.5-turbo", "text-embedding-3-small",
        "dall-e-3",    "whisper-1", "tts-1",         "omni-moderation-latest"};
    static const char *const an[] = {"claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"};
    static const char *const gm[] = {"gemini-2.0-flash", "gemini-1.5-pro", "text-embedding-004"};
    struct buf *b = body_reset(r->srv);
    const char *id = r->pmodel;
    if (r->op == OP_MODEL && has_prefix(id, "missing")) {
        if (r->prov == P_OPENAI)
            reply_errorf(r, 404, "The model '%s' does not exist", id);
        else
            reply_errorf(r, 404, "model not found: %s", id);
        return;
    }
    switch (r->prov) {
    case P_ANTHROPIC:
        if (r->op == OP_MODEL) {
            buf_lit(b, "{\"type\":\"model\",\"id\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"display_name\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"created_at\":\"2024-10-22T00:00:00Z\"}");
            break;
        }
        buf_lit(b, "{\"data\":[");
        for (size_t i = 0; i < sizeof an / sizeof *an; i++)
            buf_fmt(b,
                    "%s{\"type\":\"model\",\"id\":\"%s\",\"display_name\":\"%s\",\"created_at\":"
                    "\"2024-10-22T00:00:00Z\"}",
                    i ? "," : "", an[i], an[i]);
        buf_fmt(b, "],\"has_more\":false,\"first_id\":\"%s\",\"last_id\":\"%s\"}", an[0], an[1]);
        break;
    case P_GEMINI:
        if (r->op == OP_MODEL) {
            struct buf *t = &r->srv->text;
            buf_clear(t);
            buf_lit(t, "models/");
            buf_puts(t, id);
            buf_lit(b, "{\"name\":");
            buf_jstr(b, t->p, t->len);
            buf_lit(b, ",\"displayName\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"inputTokenLimit\":1048576,\"outputTokenLimit\":8192,"
                       "\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\"]}");
            break;
        }
        buf_lit(b, "{\"models\":[");
        for (size_t i = 0; i < sizeof gm / sizeof *gm; i++)
            buf_fmt(b,
                    "%s{\"name\":\"models/%s\",\"displayName\":\"%s\",\"inputTokenLimit\":1048576,"
                    "\"outputTokenLimit\":8192,\"supportedGenerationMethods\":[\"%s\"]}",
                    i ? "," : "", gm[i], gm[i],
                    has_prefix(gm[i], "text-") ? "embedContent" : "generateContent");
        buf_lit(b, "]}");
        break;
    default:
        if (r->op == OP_MODEL) {
            buf_lit(b, "{\"id\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"object\":\"model\",\"created\":1686935002,\"owned_by\":\"mock\"}");
            break;
        }
        buf_lit(b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < sizeof oa / sizeof *oa; i++)
            buf_fmt(b,
                    "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1686935002,\"owned_by\":"
                    "\"mock\"}",
                    i ? "," : "", oa[i]);
        buf_lit(b, "]}");
        break;
    }
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Anthropic */

static void an_message_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(
        b, "{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
        r->seq);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"content\":[");
    if (p->n_text) {
        struct buf *t = all_text(r, p->n_text);
        buf_lit(b, "{\"type\":\"text\",\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_putc(b, '}');
    }
    if (p->tool) {
        buf_fmt(b, "%s{\"type\":\"tool_use\",\"id\":\"toolu_mock%" PRIu64 "_0\",\"name\":",
                p->n_text ? "," : "", r->seq);
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"input\":");
        buf_put(b, p->args, p->args_len);
        buf_putc(b, '}');
    }
    buf_lit(b, "],\"stop_reason\":");
    buf_jstrz(b, finish_for(P_ANTHROPIC, &r->d, p->tool));
    buf_lit(b, ",\"stop_sequence\":null");
    if (r->d.usage)
        buf_fmt(b,
                ",\"usage\":{\"input_tokens\":%d,\"output_tokens\":%d,\"cache_creation_input_"
                "tokens\":0,"
                "\"cache_read_input_tokens\":0}",
                ch->prompt, p->completion);
    buf_putc(b, '}');
    send_body(r, 200, "application/json", NULL);
}

static void an_block_start_tool(struct req *r, int idx)
{
    struct buf *b = sse_named(r, "content_block_start");
    buf_fmt(
        b,
        "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_mock%" PRIu64 "_0\",\"name\":",
        idx, r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"input\":{}}}");
    sse_end(r);
}

static void an_json_delta(struct req *r, int idx, const char *s, size_t n)
{
    struct buf *b = sse_named(r, "content_block_delta");
    buf_fmt(b,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"input_json_"
            "delta\",\"partial_json\":",
            idx);
    buf_jstr(b, s, n);
    buf_lit(b, "}}");
    sse_end(r);
}

static void an_ping(struct req *r)
{
    buf_lit(sse_named(r, "ping"), "{\"type\":\"ping\"}");
    sse_end(r);
}

static void an_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    if (r->prov == P_BEDROCK)
        stream_head(r, 200, "application/vnd.amazon.eventstream",
                    "X-Amzn-Bedrock-Content-Type: application/json\r\n");
    else
        stream_head(r, 200, "text/event-stream; charset=utf-8", NULL);
    struct buf *b = sse_named(r, "message_start");
    buf_fmt(b,
            "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock%" PRIu64
            "\",\"type\":\"message\","
            "\"role\":\"assistant\",\"model\":",
            r->seq);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
    /* like the real API: output_tokens starts at 1 and message_delta carries the final count */
    if (d->usage)
        buf_fmt(b, ",\"usage\":{\"input_tokens\":%d,\"output_tokens\":1}", ch->prompt);
    buf_lit(b, "}}");
    sse_end(r);
    if (p->n_text) {
        buf_lit(sse_named(r, "content_block_start"),
                "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
                "\"text\",\"text\":\"\"}}");
        sse_end(r);
        an_ping(r);
    } else {
        an_block_start_tool(r, 0);
        an_ping(r);
        an_json_delta(r, 0, "", 0);
    }
    int ev = 0;
    for (int i = 0; i < p->n_text; i++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        b = sse_named(r, "content_block_delta");
        buf_lit(b, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_"
                   "delta\",\"text\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, "}}");
        sse_end(r);
    }
    int tool_idx = p->n_text ? 1 : 0;
    for (int k = 0; k < p->n_args; k++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        if (k == 0 && p->n_text) {
            buf_lit(sse_named(r, "content_block_stop"),
                    "{\"type\":\"content_block_stop\",\"index\":0}");
            sse_end(r);
            an_block_start_tool(r, 1);
            an_json_delta(r, 1, "", 0);
        }
        const char *s;
        size_t n;
        arg_frag(p, k, &s, &n);
        an_json_delta(r, tool_idx, s, n);
    }
    b = sse_named(r, "content_block_stop");
    buf_fmt(b, "{\"type\":\"content_block_stop\",\"index\":%d}", p->tool ? tool_idx : 0);
    sse_end(r);
    b = sse_named(r, "message_delta");
    buf_lit(b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    buf_jstrz(b, finish_for(P_ANTHROPIC, d, p->tool));
    buf_lit(b, ",\"stop_sequence\":null}");
    if (d->usage)
        buf_fmt(b, ",\"usage\":{\"output_tokens\":%d}", p->completion);
    buf_putc(b, '}');
    sse_end(r);
    b = sse_named(r, "message_stop");
    buf_lit(b, "{\"type\":\"message_stop\"");
    /* Bedrock's last event carries the counts it bills. */
    if (r->prov == P_BEDROCK && d->usage)
        buf_fmt(b,
                ",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":%d,"
                "\"outputTokenCount\":%d,\"invocationLatency\":412,\"firstByteLatency\":230}",
                ch->prompt, p->completion);
    buf_putc(b, '}');
    sse_end(r);
    rep_finish(r);
}

/* Sums words + 3 per message over the system prompt and messages. */
static int an_prompt_tokens(struct req *r)
{
    struct buf *t = &r->srv->text;
    int total = 0;
    json_object *sys = jget(r->json, "system");
    if (sys) {
        buf_clear(t);
        jtext(sys, t, 0);
        if (t->len)
            total += count_words(t->p, t->len) + 3;
    }
    json_object *msgs = jarr(r->json, "messages");
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(t);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    return total;
}

/* A few of the rules the real Messages API enforces, the ones gateways tend to break. */
static bool an_validate(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    if (r->prov == P_BEDROCK) {
        /* Bedrock names the model in the URL and rejects keys it does not know. */
        const char *v = jstr(j, "anthropic_version");
        if (!v || strcmp(v, "bedrock-2023-05-31") != 0) {
            reply_error(r, 400, "Malformed input request: anthropic_version is required", false);
            return false;
        }
        if (jget(j, "model") || jget(j, "stream")) {
            reply_errorf(r, 400, "Malformed input request: extraneous key [%s] is not permitted",
                         jget(j, "model") ? "model" : "stream");
            return false;
        }
    } else if (r->vertex) {
        /* Vertex names the model in the path and wants its own API version in the body. */
        const char *v = jstr(j, "anthropic_version");
        if (!v || strcmp(v, "vertex-2023-10-16")) {
            reply_error(r, 400, "anthropic_version: vertex-2023-10-16 is required", false);
            return false;
        }
        if (jget(j, "model")) {
            reply_error(r, 400, "model: Extra inputs are not permitted", false);
            return false;
        }
    } else if (!jstr(j, "model")) {
        reply_error(r, 400, "model: Field required", false);
        return false;
    }
    if (r->op != OP_COUNT_TOKENS && !jget(j, "max_tokens")) {
        reply_error(r, 400, "max_tokens: Field required", false);
        return false;
    }
    if (!msgs) {
        reply_error(r, 400, "messages: Field required", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    size_t n = jlen(msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jstr(m, "role");
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) {
            reply_errorf(r, 400, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
            return false;
        }
        json_object *content = jget(m, "content");
        bool final_assistant = i + 1 == n && !strcmp(role, "assistant");
        bool empty = !content ||
                     (json_object_is_type(content, json_type_string) &&
                      json_object_get_string_len(content) == 0) ||
                     (json_object_is_type(content, json_type_array) && jlen(content) == 0);
        if (empty && !final_assistant) {
            reply_errorf(r, 400,
                         "messages.%zu: all messages must have non-empty content except for the "
                         "optional final assistant message",
                         i);
            return false;
        }
        for (size_t k = 0; k < jlen(content); k++) {
            json_object *blk = json_object_array_get_idx(content, k);
            const char *type = jstr(blk, "type");
            const char *text = jstr(blk, "text");
            if (type && !strcmp(type, "text") && (!text || !text[0])) {
                reply_error(r, 400, "messages: text content blocks must be non-empty", false);
                return false;
            }
        }
    }
    return true;
}

static void h_an_messages(struct req *r)
{
    if (!an_validate(r))
        return;
    json_object *j = r->json;
    struct chat ch = {.model = r->vertex ? r->pmodel : jstr(j, "model"),
                      .stream = jbool(j, "stream")};
    if (r->prov == P_BEDROCK) {
        ch.model = r->pmodel;
        ch.stream = r->op == OP_BR_STREAM;
    }
    ch.prompt = an_prompt_tokens(r);
    rec_model(r, ch.model);
    if (r->op == OP_COUNT_TOKENS) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b, "{\"input_tokens\":%d}", ch.prompt);
        rec_tokens(r, ch.prompt, 0, true);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        an_stream(r, &ch, &p);
    else
        an_message_json(r, &ch, &p);
}

/* ------------------------------------------------------------------------- */
/* AWS Bedrock: Claude over InvokeModel, SigV4 checked as AWS checks it */

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(p, n, d);
    hex_of(d, sizeof d, out);
}

static void hmac256(const void *key, size_t kl, const void *msg, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)kl, msg, n, out, &len);
}

/* Appends s[0..n) with every byte outside A-Z a-z 0-9 - _ . ~ as %XX. */
static void uri_encode(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            buf_putc(b, (char)c);
        else
            buf_fmt(b, "%%%02X", c);
    }
}

/* The value of "<name>=" inside an Authorization header, up to the next ',' (or the end). */
static bool auth_field(const char *auth, const char *name, char *out, size_t cap)
{
    const char *p = strstr(auth, name);
    if (!p)
        return false;
    p += strlen(name);
    size_t n = strcspn(p, ",");
    copy_str(out, cap, p, n);
    return n > 0 && n < cap;
}

/*
 * Recomputes the request's SigV4 signature from what was received, with the secret the mock
 * was given for its access key. NULL when it matches; else the 403 message, with *type the
 * AWS error name.
 */
static const char *br_check_sigv4(struct req *r, const char **type)
{
    struct server *srv = r->srv;
    const struct hdr *h = hfind(r, "authorization"), *dh = hfind(r, "x-amz-date");
    char auth[4096], cred[512], signed_hdrs[1024], sig[128], amz_date[32];
    *type = "InvalidSignatureException";
    if (!h || h->val_len >= sizeof auth) {
        *type = "MissingAuthenticationTokenException";
        return "Missing Authentication Token";
    }
    copy_str(auth, sizeof auth, h->val, h->val_len);
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) ||
        !auth_field(auth, "Credential=", cred, sizeof cred) ||
        !auth_field(auth, "SignedHeaders=", signed_hdrs, sizeof signed_hdrs) ||
        !auth_field(auth, "Signature=", sig, sizeof sig))
        return "Authorization header requires Credential, SignedHeaders and Signature.";
    /* AK/date/region/service/aws4_request */
    char *parts[5], *save = NULL;
    int np = 0;
    for (char *t = strtok_r(cred, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
        parts[np++] = t;
    if (np != 5 || strcmp(parts[4], "aws4_request") != 0)
        return "Credential should be scoped to a valid region and service.";
    if (strcmp(parts[3], "bedrock") != 0)
        return "Credential should be scoped to correct service: 'bedrock'.";
    const char *secret = srv->aws_keys ? jstr(srv->aws_keys, parts[0]) : NULL;
    if (!secret) {
        *type = "UnrecognizedClientException";
        return "The security token included in the request is invalid.";
    }
    if (!dh || dh->val_len != 16)
        return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
               "header.";
    copy_str(amz_date, sizeof amz_date, dh->val, dh->val_len);
    if (strncmp(amz_date, parts[1], 8) != 0)
        return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
               "from HTTP.";
    struct tm tm = {0};
    if (!strptime(amz_date, "%Y%m%dT%H%M%SZ", &tm) ||
        llabs((long long)(timegm(&tm) - r->now)) > 300)
        return "Signature expired: the request time is more than 5 minutes from the server's.";
    if (!strstr(signed_hdrs, "host"))
        return "'Host' must be a signed header.";

    struct buf c = {0};
    buf_fmt(&c, "%s\n", r->method);
    for (const char *p = r->path; *p;) {
        size_t n = strcspn(p, "/");
        uri_encode(&c, p, n); /* each segment encoded once more than on the wire */
        p += n;
        if (*p == '/') {
            buf_putc(&c, '/');
            p++;
        }
    }
    buf_fmt(&c, "\n%s\n", r->query);
    char names[1024];
    copy_str(names, sizeof names, signed_hdrs, strlen(signed_hdrs));
    save = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        const struct hdr *v = hfind(r, name);
        if (!v) {
            free(c.p);
            return "A signed header is missing from the request.";
        }
        buf_fmt(&c, "%s:", name);
        size_t a = 0, z = v->val_len;
        while (a < z && (v->val[a] == ' ' || v->val[a] == '\t'))
            a++;
        while (z > a && (v->val[z - 1] == ' ' || v->val[z - 1] == '\t'))
            z--;
        for (size_t i = a; i < z; i++)
            if (!(v->val[i] == ' ' && (v->val[i + 1] == ' ' || v->val[i + 1] == '\t')))
                buf_putc(&c, v->val[i]);
        buf_putc(&c, '\n');
    }
    char body_hash[65], creq_hash[65], sts[512], key0[300], mine[65];
    sha256_hex(r->body ? r->body : "", r->body_len, body_hash);
    buf_fmt(&c, "\n%s\n%s", signed_hdrs, body_hash);
    sha256_hex(c.p, c.len, creq_hash);
    free(c.p);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, parts[1],
             parts[2], parts[3], creq_hash);
    unsigned char k1[32], k2[32], k3[32], k4[32], out[32];
    snprintf(key0, sizeof key0, "AWS4%s", secret);
    hmac256(key0, strlen(key0), parts[1], strlen(parts[1]), k1);
    hmac256(k1, 32, parts[2], strlen(parts[2]), k2);
    hmac256(k2, 32, parts[3], strlen(parts[3]), k3);
    hmac256(k3, 32, "aws4_request", 12, k4);
    hmac256(k4, 32, sts, strlen(sts), out);
    hex_of(out, 32, mine);
    if (strcmp(mine, sig) != 0)
        return "The request signature we calculated does not match the signature you provided. "
               "Check your AWS Secret Access Key and signing method.";
    return NULL;
}

static void h_br_invoke(struct req *r)
{
    const char *type;
    const char *why = br_check_sigv4(r, &type);
    if (why) {
        char extra[256];
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, why);
        buf_putc(b, '}');
        snprintf(extra, sizeof extra, "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/\r\n",
                 type);
        send_body(r, 403, "application/json", extra);
        return;
    }
    h_an_messages(r);
}

/* ------------------------------------------------------------------------- */
/* Gemini */

/* One GenerateContentResponse. text may be NULL; tool adds the functionCall part. */
static void gm_response(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p,
                        const struct buf *text, bool tool, const char *finish, int ctoks)
{
    buf_lit(b, "{\"candidates\":[{\"content\":{\"parts\":[");
    if (text) {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, text->p, text->len);
        buf_putc(b, '}');
    }
    if (tool) {
        buf_puts(b, text ? ",{\"functionCall\":{\"name\":" : "{\"functionCall\":{\"name\":");
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"args\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}}");
    }
    buf_lit(b, "],\"role\":\"model\"}");
    if (finish) {
        buf_lit(b, ",\"finishReason\":");
        buf_jstrz(b, finish);
    }
    buf_lit(b, ",\"index\":0}]");
    if (r->d.usage)
        buf_fmt(b,
                ",\"usageMetadata\":{\"promptTokenCount\":%d,\"candidatesTokenCount\":%d,"
                "\"totalTokenCount\":%d}",
                ch->prompt, ctoks, ch->prompt + ctoks);
    buf_lit(b, ",\"modelVersion\":");
    buf_jstrz(b, ch->model);
    buf_fmt(b, ",\"responseId\":\"mock%" PRIu64 "\"}", r->seq);
}

static void gm_blocked(struct buf *b, struct req *r, const struct chat *ch)
{
    buf_lit(b, "{\"promptFeedback\":{\"blockReason\":");
    buf_jstrz(b, r->d.block);
    buf_lit(b, ",\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\","
               "\"probability\":\"HIGH\"}]}");
    if (r->d.usage)
        buf_fmt(b, ",\"usageMetadata\":{\"promptTokenCount\":%d,\"totalTokenCount\":%d}",
                ch->prompt, ch->prompt);
    buf_lit(b, ",\"modelVersion\":");
    buf_jstrz(b, ch->model);
    buf_putc(b, '}');
}

/* Frames one streamed response: SSE "data:" or an element of the JSON array stream. */
static void gm_event_begin(struct req *r, const struct chat *ch, int idx)
{
    if (ch->sse) {
        sse_data(r);
    } else {
        buf_clear(&r->srv->ev);
        buf_puts(&r->srv->ev, idx ? ",\r\n" : "[");
    }
}

static void gm_event_end(struct req *r, const struct chat *ch)
{
    if (ch->sse)
        sse_end(r);
    else
        rep_event(r);
}

static void gm_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    stream_head(r, 200, ch->sse ? "text/event-stream" : "application/json; charset=UTF-8", NULL);
    int n_events = p->n_text + (p->tool ? 1 : 0);
    const char *finish = finish_for(P_GEMINI, d, p->tool);
    if (d->block[0]) {
        rep_seg(&srv->rep, d->delay_ms);
        gm_event_begin(r, ch, 0);
        gm_blocked(&srv->ev, r, ch);
        gm_event_end(r, ch);
        n_events = 0;
    }
    for (int i = 0; i < n_events; i++) {
        if (i == p->fail_at) {
            if (!ch->sse && !d->fail_error) {
                rep_seg(&srv->rep, d->delay_ms);
                srv->rep.cut = true;
                return;
            }
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        bool last = i + 1 == n_events;
        gm_event_begin(r, ch, i);
        if (i < p->n_text)
            gm_response(&srv->ev, r, ch, p, piece(r, i), false, last ? finish : NULL,
                        last ? p->completion : i + 1);
        else
            gm_response(&srv->ev, r, ch, p, NULL, true, finish, p->completion);
        gm_event_end(r, ch);
    }
    if (!ch->sse) {
        buf_clear(&srv->ev);
        buf_puts(&srv->ev, n_events || d->block[0] ? "]" : "[]");
        rep_event(r);
    }
    rep_finish(r);
}

static int gm_prompt_tokens(struct req *r)
{
    struct buf *t = &r->srv->text;
    int total = 0;
    json_object *sys = jget(r->json, "systemInstruction");
    if (!sys)
        sys = jget(r->json, "system_instruction");
    if (sys) {
        buf_clear(t);
        jtext(sys, t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    json_object *contents = jarr(r->json, "contents");
    for (size_t i = 0; i < jlen(contents); i++) {
        buf_clear(t);
        jtext(jget(json_object_array_get_idx(contents, i), "parts"), t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    return total;
}

static bool gm_has_tools(json_object *j)
{
    json_object *tools = jarr(j, "tools");
    for (size_t i = 0; i < jlen(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        if (jlen(jarr(t, "functionDeclarations")) || jlen(jarr(t, "function_declarations")))
            return true;
    }
    return false;
}

static bool gm_validate(struct req *r)
{
    json_object *contents = jarr(r->json, "contents");
    if (!jlen(contents)) {
        reply_error(r, 400, "* GenerateContentRequest.contents: contents is not specified", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    for (size_t i = 0; i < jlen(contents); i++) {
        json_object *c = json_object_array_get_idx(contents, i);
        const char *role = jstr(c, "role");
        if (role && strcmp(role, "user") && strcmp(role, "model")) {
            reply_error(r, 400, "Please use a valid role: user, model.", false);
            return false;
        }
        if (!jlen(jarr(c, "parts"))) {
            reply_errorf(
                r, 400,
                "* GenerateContentRequest.contents[%zu].parts: contents.parts must not be empty.",
                i);
            return false;
        }
    }
    return true;
}

static void h_gm_generate(struct req *r)
{
    if (!gm_validate(r))
        return;
    struct chat ch = {.model = r->pmodel, .stream = r->op == OP_STREAM};
    const char *alt = strstr(r->query, "alt=sse");
    ch.sse = alt && (alt == r->query || alt[-1] == '&') && (alt[7] == '\0' || alt[7] == '&');
    ch.prompt = gm_prompt_tokens(r);
    rec_model(r, ch.model);
    if (r->op == OP_GCOUNT) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b, "{\"totalTokens\":%d}", ch.prompt);
        rec_tokens(r, ch.prompt, 0, true);
        send_body(r, 200, "application/json; charset=UTF-8", NULL);
        return;
    }
    if (r->d.tool[0] && !gm_has_tools(r->json)) {
        reply_errorf(r, 400,
                     "mock: directive tool=%s but the request declares no functionDeclarations",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    if (r->d.block[0])
        p.completion = 0;
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        gm_stream(r, &ch, &p);
        return;
    }
    struct buf *b = body_reset(r->srv);
    if (r->d.block[0])
        gm_blocked(b, r, &ch);
    else
        gm_response(b, r, &ch, &p, p.n_text ? all_text(r, p.n_text) : NULL, p.tool,
                    finish_for(P_GEMINI, &r->d, p.tool), p.completion);
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* DeepL: POST /v2/translate with `Authorization: DeepL-Auth-Key <key>`. Each text comes back as
 * "<TARGET_LANG>: <text>" (or the text= words); DeepL reports no tokens. */
static void h_deepl(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    json_object *texts = jarr(r->json, "text");
    const char *lang = jstr(r->json, "target_lang");
    if (!h || h->val_len <= 15 || strncmp(h->val, "DeepL-Auth-Key ", 15)) {
        reply_error(r, 403, "mock: Authorization: DeepL-Auth-Key <key> is required", false);
        return;
    }
    if (!jlen(texts) || !lang || !*lang) {
        reply_error(r, 400, "Value for 'text' and 'target_lang' must be given", false);
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"translations\":[");
    for (size_t i = 0; i < jlen(texts); i++) {
        json_object *t = json_object_array_get_idx(texts, i);
        struct buf *out = &r->srv->piece;
        buf_clear(out);
        if (r->d.text[0]) {
            all_text(r, r->d.chunks);
        } else {
            for (const char *c = lang; *c; c++)
                buf_putc(out, *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c);
            buf_lit(out, ": ");
            buf_puts(out, json_object_get_string(t));
        }
        buf_puts(b, i ? ",{" : "{");
        buf_lit(b, "\"detected_source_language\":\"EN\",\"text\":");
        buf_jstr(b, out->p, out->len);
        buf_lit(b, "}");
    }
    buf_lit(b, "]}");
    send_body(r, 200, "application/json", NULL);
}

/* PaLM 2: POST .../models/{model}:generateMessage with the key in x-goog-api-key or ?key=;
 * candidateCount candidates of the usual words; PaLM reports no tokens and cannot stream. */
static void h_palm(struct req *r)
{
    json_object *msgs = jarr(jget(r->json, "prompt"), "messages");
    if (!r->key[0]) {
        reply_error(r, 403, "The request is missing a valid API key.", false);
        return;
    }
    if (!jlen(msgs)) {
        reply_error(r, 400, "* prompt.messages: messages is required", false);
        return;
    }
    int64_t n = jint(r->json, "candidateCount", 1);
    if (n < 1 || n > 8) {
        reply_error(r, 400, "candidateCount must be between 1 and 8", false);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    struct buf *text = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"candidates\":[");
    for (int64_t i = 0; i < n; i++) {
        buf_puts(b, i ? ",{" : "{");
        buf_lit(b, "\"author\":\"1\",\"content\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, "}");
    }
    buf_lit(b, "],\"messages\":");
    buf_puts(b, json_object_to_json_string_ext(msgs, JSON_C_TO_STRING_PLAIN));
    buf_lit(b, ",\"filters\":[]}");
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* Appends {"values":[...]} for one EmbedContentRequest; returns false after replying an error. */
static bool gm_embed_one(struct req *r, json_object *q, struct buf *b)
{
    struct server *srv = r->srv;
    int dims = (int)jint(q, "outputDimensionality", jint(q, "output_dimensionality", DEFAULT_DIMS));
    if (dims < 1 || dims > MAX_DIMS) {
        reply_errorf(r, 400, "outputDimensionality must be between 1 and %d", MAX_DIMS);
        return false;
    }
    json_object *content = jget(q, "content");
    if (!content || !jlen(jarr(content, "parts"))) {
        reply_error(r, 400, "* EmbedContentRequest.content: contents is not specified", false);
        return false;
    }
    buf_clear(&srv->text);
    jtext(content, &srv->text, 0);
    uint64_t h = fnv1a(srv->text.p, srv->text.len, 1469598103934665603ull);
    buf_lit(b, "{\"values\":");
    emb_vector(srv, b, h, dims, false);
    buf_putc(b, '}');
    return true;
}

static void h_gm_embed(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    rec_model(r, r->pmodel);
    if (r->op == OP_EMBED) {
        buf_lit(b, "{\"embedding\":");
        if (!gm_embed_one(r, r->json, b))
            return;
        buf_putc(b, '}');
        send_body(r, 200, "application/json; charset=UTF-8", NULL);
        return;
    }
    json_object *reqs = jarr(r->json, "requests");
    if (!jlen(reqs)) {
        reply_error(r, 400, "* BatchEmbedContentsRequest.requests: requests is not specified",
                    false);
        return;
    }
    char want[600];
    snprintf(want, sizeof want, "models/%s", r->pmodel);
    buf_lit(b, "{\"embeddings\":[");
    for (size_t i = 0; i < jlen(reqs); i++) {
        json_object *q = json_object_array_get_idx(reqs, i);
        const char *m = jstr(q, "model");
        if (r->d.strict && (!m || strcmp(m, want))) {
            reply_errorf(r, 400,
                         "* BatchEmbedContentsRequest.requests[%zu].model: model must be \"%s\"", i,
                         want);
            return;
        }
        if (i)
            buf_putc(b, ',');
        if (!gm_embed_one(r, q, b))
            return;
    }
    buf_lit(b, "]}");
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* ------------------------------------------------------------------------- */
/* Cohere v1 chat */

/* Words + 3 per turn over the preamble, the history and the message. */
static int co_prompt_tokens(struct req *r)
{
    int total = 0;
    const char *pre = jstr(r->json, "preamble");
    if (pre && *pre)
        total += count_words(pre, strlen(pre)) + 3;
    json_object *hist = jarr(r->json, "chat_history");
    for (size_t i = 0; i < jlen(hist); i++) {
        const char *m = jstr(json_object_array_get_idx(hist, i), "message");
        total += (m ? count_words(m, strlen(m)) : 0) + 3;
    }
    const char *msg = jstr(r->json, "message");
    return total + (msg ? count_words(msg, strlen(msg)) : 0) + 3;
}

/* The rules of the real API that an OpenAI-shaped body would break. */
static bool co_validate(struct req *r)
{
    json_object *j = r->json;
    const char *msg = jstr(j, "message");
    if (!r->key[0]) {
        reply_error(r, 401, "no api key supplied", false);
        return false;
    }
    if (!msg || !*msg) {
        reply_error(r, 400, "invalid request: message must be a non-empty string", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    if (jget(j, "messages")) {
        reply_error(r, 400,
                    "invalid request: unknown field: parameter messages is not a valid "
                    "field",
                    false);
        return false;
    }
    json_object *hist = jget(j, "chat_history");
    for (size_t i = 0; hist && i < jlen(hist); i++) {
        const char *role = jstr(json_object_array_get_idx(hist, i), "role");
        if (!role || (strcmp(role, "USER") && strcmp(role, "CHATBOT") && strcmp(role, "SYSTEM") &&
                      strcmp(role, "TOOL"))) {
            reply_errorf(r, 400,
                         "invalid request: chat_history.%zu.role must be one of USER, "
                         "CHATBOT, SYSTEM, TOOL",
                         i);
            return false;
        }
    }
    return true;
}

/* The non-stream response object (also the `response` of stream-end). Meta reports
 * billed_units as counted and a larger meta.tokens, as Cohere's prompt template adds tokens. */
static void co_response(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p)
{
    const struct directives *d = &r->d;
    buf_fmt(b, "{\"response_id\":\"mock-resp-%" PRIu64 "\",\"text\":", r->seq);
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_fmt(b, ",\"generation_id\":\"mock-gen-%" PRIu64 "\"", r->seq);
    if (p->tool) {
        buf_lit(b, ",\"tool_calls\":[{\"name\":");
        buf_jstrz(b, d->tool);
        buf_lit(b, ",\"parameters\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}]");
    }
    buf_lit(b, ",\"finish_reason\":");
    buf_jstrz(b, finish_for(P_COHERE, d, p->tool));
    buf_lit(b, ",\"meta\":{\"api_version\":{\"version\":\"1\"}");
    if (d->usage)
        buf_fmt(b,
                ",\"billed_units\":{\"input_tokens\":%d,\"output_tokens\":%d},\"tokens\":{"
                "\"input_tokens\":%d,\"output_tokens\":%d}",
                ch->prompt, p->completion, ch->prompt + 66, p->completion);
    buf_lit(b, "}}");
}

/* Starts one NDJSON line in srv->ev. */
static struct buf *co_line(struct req *r)
{
    buf_clear(&r->srv->ev);
    return &r->srv->ev;
}

static void co_line_end(struct req *r)
{
    buf_puts(&r->srv->ev, r->crlf ? "\r\n" : "\n");
    rep_event(r);
}

static void co_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    stream_head(r, 200, "application/stream+json", NULL);
    buf_fmt(co_line(r),
            "{\"is_finished\":false,\"event_type\":\"stream-start\",\"generation_id\":\"mock-gen-"
            "%" PRIu64 "\"}",
            r->seq);
    co_line_end(r);
    for (int i = 0; i < p->n_text; i++) {
        if (i == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = co_line(r);
        buf_lit(b, "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":");
        buf_jstr(b, pc->p, pc->len);
        buf_putc(b, '}');
        co_line_end(r);
    }
    if (p->tool) {
        struct buf *b = co_line(r);
        buf_lit(b, "{\"is_finished\":false,\"event_type\":\"tool-calls-generation\",\"tool_calls\":"
                   "[{\"name\":");
        buf_jstrz(b, d->tool);
        buf_lit(b, ",\"parameters\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}]}");
        co_line_end(r);
    }
    struct buf *b = co_line(r);
    buf_lit(b, "{\"is_finished\":true,\"event_type\":\"stream-end\",\"finish_reason\":");
    buf_jstrz(b, finish_for(P_COHERE, d, p->tool));
    buf_lit(b, ",\"response\":");
    /* co_response writes generated text through srv->piece, not srv->ev: b stays valid. */
    co_response(b, r, ch, p);
    buf_putc(b, '}');
    co_line_end(r);
    rep_finish(r);
}

static void h_co_chat(struct req *r)
{
    if (!co_validate(r))
        return;
    json_object *j = r->json;
    struct chat ch = {.model = jstr(j, "model"), .stream = jbool(j, "stream")};
    ch.prompt = co_prompt_tokens(r);
    rec_model(r, ch.model);
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        co_stream(r, &ch, &p);
        return;
    }
    co_response(body_reset(r->srv), r, &ch, &p);
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Coze v2 chat: POST /open_api/v2/chat with `Authorization: Bearer <token>`. Coze's v2 API
 * reports no usage; the counts the mock records are words + 3 per turn over chat_history and
 * query. Errors are {"code": N, "msg": ...}. */

static int cz_prompt_tokens(struct req *r)
{
    int total = 0;
    json_object *hist = jarr(r->json, "chat_history");
    for (size_t i = 0; i < jlen(hist); i++) {
        const char *m = jstr(json_object_array_get_idx(hist, i), "content");
        total += (m ? count_words(m, strlen(m)) : 0) + 3;
    }
    const char *q = jstr(r->json, "query");
    return total + (q ? count_words(q, strlen(q)) : 0) + 3;
}

/* One "data:{...}" event (Coze writes no space after the colon). */
static struct buf *cz_event(struct req *r)
{
    buf_clear(&r->srv->ev);
    buf_lit(&r->srv->ev, "data:");
    return &r->srv->ev;
}

static void cz_message(struct buf *b, struct req *r, const char *type, const char *text, size_t n,
                       int index)
{
    buf_lit(b, "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":");
    buf_jstrz(b, type);
    buf_lit(b, ",\"content\":");
    buf_jstr(b, text, n);
    buf_fmt(b,
            ",\"content_type\":\"text\"},\"is_finish\":false,\"index\":%d,\"conversation_id\":"
            "\"mock-conv-%" PRIu64 "\"}",
            index, r->seq);
}

static void h_coze_chat(struct req *r)
{
    json_object *j = r->json;
    const char *bot = jstr(j, "bot_id"), *user = jstr(j, "user"), *query = jstr(j, "query");
    if (!bot || !*bot || !user || !*user || !query || !*query) {
        reply_error(r, 400, "bot_id, user and query are required", false);
        return;
    }
    if (r->d.strict && jget(j, "messages")) {
        reply_error(r, 400, "invalid parameter: messages", false);
        return;
    }
    bool stream = jbool(j, "stream");
    int prompt = cz_prompt_tokens(r);
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, bot);
    rec_tokens(r, prompt, p.completion, false);
    if (drop_if_failing(r, stream))
        return;
    static const char follow[] = "What else can you do?";
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"messages\":[");
        /* A verbose message first: the answer is the first of type "answer", not the first. */
        buf_lit(b, "{\"role\":\"assistant\",\"type\":\"verbose\",\"content\":\"{}\","
                   "\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"answer\","
                   "\"content\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"follow_up\","
                   "\"content\":");
        buf_jstrz(b, follow);
        buf_fmt(b,
                ",\"content_type\":\"text\"}],\"conversation_id\":\"mock-conv-%" PRIu64
                "\",\"code\":0,\"msg\":\"success\"}",
                r->seq);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        cz_message(cz_event(r), r, "answer", pc->p, pc->len, 0);
        sse_end(r);
    }
    cz_message(cz_event(r), r, "follow_up", follow, strlen(follow), 1);
    sse_end(r);
    buf_lit(cz_event(r), "{\"event\":\"done\"}");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* Cloudflare Workers AI. The OpenAI-compatible /client/v4/accounts/{acct}/ai/v1/... paths are
 * answered by the OpenAI handlers with Cloudflare's error envelope; the native
 * /client/v4/accounts/{acct}/ai/run/{model} takes {"prompt"} or {"messages"} and answers
 * {"result":{"response":...,"usage":{...}},"success":true,...} or an SSE stream of
 * {"response":"..."} events, a usage event and [DONE]. usage=0 leaves the usage out. */

static void h_cf_run(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    const char *prompt = jstr(j, "prompt");
    if (!prompt && !jlen(msgs)) {
        reply_error(r, 400, "AiError: Bad input: must have required property 'prompt'", false);
        return;
    }
    int ptoks = 0;
    if (prompt) {
        ptoks = count_words(prompt, strlen(prompt)) + 3;
    } else {
        for (size_t i = 0; i < jlen(msgs); i++) {
            const char *c = jstr(json_object_array_get_idx(msgs, i), "content");
            ptoks += (c ? count_words(c, strlen(c)) : 0) + 3;
        }
    }
    bool stream = jbool(j, "stream");
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, r->pmodel);
    rec_tokens(r, ptoks, p.completion, r->d.usage);
    if (drop_if_failing(r, stream))
        return;
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"result\":{\"response\":");
        buf_jstr(b, t->p, t->len);
        if (r->d.usage)
            buf_fmt(
                b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                ptoks, p.completion, ptoks + p.completion);
        buf_lit(b, "},\"success\":true,\"errors\":[],\"messages\":[]}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = sse_data(r);
        buf_lit(b, "{\"response\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, ",\"p\":\"abcdefgh\"}");
        sse_end(r);
    }
    if (r->d.usage) {
        buf_fmt(sse_data(r),
                "{\"response\":\"\",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,"
                "\"total_tokens\":%d}}",
                ptoks, p.completion, ptoks + p.completion);
        sse_end(r);
    }
    buf_lit(sse_data(r), "[DONE]");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* AI Proxy Library: POST /api/library/ask {"model","query","libraryId","stream"} with a
 * Bearer key. The answer cites one document; no usage is reported (the recorded counts are
 * words + 3 over the query). Errors are {"success":false,"errCode":N,"message":...}. */

#define LIB_DOCS "[{\"title\":\"Mock guide\",\"url\":\"https://mock.invalid/guide\"}]"

static void h_lib_ask(struct req *r)
{
    json_object *j = r->json;
    const char *query = jstr(j, "query"), *lib = jstr(j, "libraryId");
    const char *model = jstr(j, "model");
    if (!query || !*query || !lib || !*lib) {
        reply_error(r, 400, "query and libraryId are required", false);
        return;
    }
    bool stream = jbool(j, "stream");
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, count_words(query, strlen(query)) + 3, p.completion, false);
    if (drop_if_failing(r, stream))
        return;
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"success\":true,\"answer\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"documents\":" LIB_DOCS "}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = sse_data(r);
        buf_lit(b, "{\"content\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, ",\"finish\":false,\"model\":");
        buf_jstrz(b, model ? model : "");
        buf_lit(b, ",\"documents\":[]}");
        sse_end(r);
    }
    struct buf *b = sse_data(r);
    buf_lit(b, "{\"content\":\"\",\"finish\":true,\"model\":");
    buf_jstrz(b, model ? model : "");
    buf_lit(b, ",\"documents\":" LIB_DOCS "}");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* MiniMax chatcompletion_v2: OpenAI's shape plus base_resp, errors inside HTTP 200, and a
 * stream that ends with the whole chat.completion instead of [DONE]. */

static void mm_base_resp(struct buf *b)
{
    buf_lit(b, ",\"input_sensitive\":false,\"output_sensitive\":false,\"base_resp\":{"
               "\"status_code\":0,\"status_msg\":\"\"}}");
}

/* The whole answer: the non-stream body, and the last event of a stream. */
static void mm_answer(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p)
{
    buf_fmt(b, "{\"id\":\"mm-mock%" PRIu64 "\",\"choices\":[{\"finish_reason\":", r->seq);
    buf_jstrz(b, finish_for(P_MINIMAX, &r->d, false));
    buf_lit(b, ",\"index\":0,\"message\":{\"content\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_fmt(b, ",\"role\":\"assistant\",\"name\":\"MiniMax AI\"}}],\"created\":%lld,\"model\":",
            (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"object\":\"chat.completion\"");
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"total_tokens\":%d,\"prompt_tokens\":%d,\"completion_tokens\":%d}",
                ch->prompt + p->completion, ch->prompt, p->completion);
    mm_base_resp(b);
}

static void h_mm_chat(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *msgs = jarr(j, "messages");
    if (!r->key[0]) {
        reply_error(r, 401,
                    "login fail: Please carry the API secret key in the 'Authorization' field "
                    "of the request header",
                    false);
        return;
    }
    const char *model = jstr(j, "model");
    if (!model || !jlen(msgs)) {
        reply_error(r, 400, "invalid params, model and messages are required", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream")};
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &srv->text, 0);
        ch.prompt += count_words(srv->text.p, srv->text.len) + 3;
    }
    struct plan p;
    plan_make(&p, &r->d);
    p.tool = false;
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (!ch.stream) {
        mm_answer(body_reset(srv), r, &ch, &p);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_clear(&srv->text);
        buf_jstr(&srv->text, pc->p, pc->len);
        struct buf *b = sse_data(r);
        buf_fmt(b,
                "{\"id\":\"mm-mock%" PRIu64 "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":",
                r->seq);
        buf_put(b, srv->text.p, srv->text.len);
        buf_fmt(b, ",\"role\":\"assistant\",\"name\":\"MiniMax AI\"}}],\"created\":%lld,\"model\":",
                (long long)r->now);
        buf_jstrz(b, model);
        buf_lit(b, ",\"object\":\"chat.completion.chunk\",\"usage\":null,\"input_sensitive\":false,"
                   "\"output_sensitive\":false}");
        sse_end(r);
    }
    /* mm_answer writes the text through srv->piece, not srv->ev: the event buffer stays. */
    mm_answer(sse_data(r), r, &ch, &p);
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* Tencent Hunyuan (TencentCloud API 3.0): POST / with X-TC-Action, TC3-HMAC-SHA256 checked as
 * Tencent checks it (over the Host and Content-Type received, the timestamp within 300 s),
 * errors as Response.Error inside HTTP 200, a stream without [DONE]. The secret key of a
 * SecretId is that id followed by "-secret" (Tencent's documentation id has its documented
 * key). */

#define TC_DOC_ID "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define TC_DOC_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define TC_NOTE "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"

/* Copies header name's value (NUL-terminated, cut to cap) into out; false when absent. */
static bool hval(const struct req *r, const char *name, char *out, size_t cap)
{
    const struct hdr *h = hfind(r, name);
    if (!h)
        return false;
    copy_str(out, cap, h->val, h->val_len);
    return true;
}

/* Sends Tencent's error (HTTP 200) with code and message. */
static void tc_error(struct req *r, const char *code, const char *msg)
{
    copy_str(r->d.err_code, sizeof r->d.err_code, code, strlen(code));
    copy_str(r->d.msg, sizeof r->d.msg, msg, strlen(msg));
    reply_error(r, 200, msg, true);
}

/* Checks the TC3 signature as Tencent does. True when the request may proceed; otherwise the
 * error is answered. */
static bool tc_verify(struct req *r)
{
    char auth[1024], ctype[256], host[256], action[128], ts[32], version[32];
    if (!hval(r, "authorization", auth, sizeof auth) || strncmp(auth, "TC3-HMAC-SHA256 ", 16)) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The Authorization header is missing or not TC3");
        return false;
    }
    if (!hval(r, "x-tc-timestamp", ts, sizeof ts) ||
        !hval(r, "x-tc-version", version, sizeof version)) {
        tc_error(r, "MissingParameter", "X-TC-Timestamp and X-TC-Version are required");
        return false;
    }
    if (strcmp(version, "2023-09-01")) {
        tc_error(r, "InvalidParameterValue", "X-TC-Version must be 2023-09-01 for hunyuan");
        return false;
    }
    long long t = atoll(ts);
    if (t < (long long)r->now - 300 || t > (long long)r->now + 300) {
        tc_error(r, "AuthFailure.SignatureExpire",
                 "Signature expired. Timestamp is more than 5 minutes away from the server time");
        return false;
    }
    hval(r, "content-type", ctype, sizeof ctype);
    hval(r, "host", host, sizeof host);
    hval(r, "x-tc-action", action, sizeof action);
    for (char *c = action; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    /* Credential=<id>/<date>/hunyuan/tc3_request, SignedHeaders=..., Signature=<hex> */
    char id[128] = "", date[16] = "", signed_h[128] = "", sig[80] = "";
    if (sscanf(auth,
               "TC3-HMAC-SHA256 Credential=%127[^/]/%15[^/]/hunyuan/tc3_request, "
               "SignedHeaders=%127[^,], Signature=%79s",
               id, date, signed_h, sig) != 4) {
        tc_error(r, "AuthFailure.SignatureFailure", "The Authorization header is malformed");
        return false;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char want_date[16];
    gmtime_r(&tt, &tm);
    strftime(want_date, sizeof want_date, "%Y-%m-%d", &tm);
    if (strcmp(date, want_date) || strcmp(signed_h, "content-type;host;x-tc-action")) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The credential date or the signed headers do not match the request");
        return false;
    }
    unsigned char d[32];
    char hex[65], canon_hex[65];
    sha256_hex(r->body ? r->body : "", r->body_len, hex);
    struct buf *cr = &r->srv->piece;
    buf_clear(cr);
    buf_fmt(cr,
            "POST\n/\n\ncontent-type:%s\nhost:%s\nx-tc-action:%s\n\ncontent-type;host;"
            "x-tc-action\n%s",
            ctype, host, action, hex);
    sha256_hex(cr->p, cr->len, canon_hex);
    buf_clear(cr);
    buf_fmt(cr, "TC3-HMAC-SHA256\n%lld\n%s/hunyuan/tc3_request\n%s", t, date, canon_hex);
    char key[200];
    snprintf(key, sizeof key, "TC3%s%s", !strcmp(id, TC_DOC_ID) ? TC_DOC_KEY : id,
             !strcmp(id, TC_DOC_ID) ? "" : "-secret");
    unsigned char k1[32], k2[32], k3[32];
    hmac256(key, strlen(key), date, strlen(date), k1);
    hmac256(k1, 32, "hunyuan", 7, k2);
    hmac256(k2, 32, "tc3_request", 11, k3);
    hmac256(k3, 32, cr->p, cr->len, d);
    hex_of(d, 32, hex);
    if (strcmp(hex, sig)) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The provided credentials could not be validated. Please check your signature "
                 "is correct.");
        return false;
    }
    return true;
}

/* ,"ToolCalls":[...] with one call of the tool= directive: Hunyuan repeats the call's Id,
 * Type and Name on every streamed piece of its Arguments. */
static void tc_tool_call(struct buf *b, struct req *r, const char *args, size_t n)
{
    buf_fmt(b,
            ",\"ToolCalls\":[{\"Id\":\"call_mockhy%" PRIu64
            "\",\"Type\":\"function\",\"Function\":{\"Name\":",
            r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"Arguments\":");
    buf_jstr(b, args, n);
    buf_lit(b, "}}]");
}

static void tc_chat_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"Response\":{\"RequestId\":\"mock-req-%" PRIu64 "\",\"Note\":\"" TC_NOTE
            "\",\"Choices\":[{\"FinishReason\":",
            r->seq);
    buf_jstrz(b, finish_for(P_TENCENT, &r->d, p->tool));
    buf_lit(b, ",\"Message\":{\"Role\":\"assistant\",\"Content\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    if (p->tool)
        tc_tool_call(b, r, p->args, p->args_len);
    buf_fmt(b, "}}],\"Created\":%lld,\"Id\":\"mock-hy-%" PRIu64 "\"", (long long)r->now, r->seq);
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"CompletionTokens\":%d,\"TotalTokens\":%d}",
                ch->prompt, p->completion, ch->prompt + p->completion);
    buf_lit(b, "}}");
    send_body(r, 200, "application/json", NULL);
}

/* One stream event: a content piece (finish "" while it goes on) and the running usage. */
static void tc_event(struct req *r, const struct chat *ch, const char *text, size_t n,
                     const char *args, size_t args_len, const char *finish, int completion)
{
    struct buf *b = sse_data(r);
    buf_lit(b, "{\"Note\":\"" TC_NOTE "\",\"Choices\":[{\"FinishReason\":");
    buf_jstrz(b, finish);
    buf_lit(b, ",\"Delta\":{\"Role\":\"assistant\",\"Content\":");
    buf_jstr(b, text, n);
    if (args)
        tc_tool_call(b, r, args, args_len);
    buf_fmt(b, "}}],\"Created\":%lld,\"Id\":\"mock-hy-%" PRIu64 "\"", (long long)r->now, r->seq);
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"CompletionTokens\":%d,\"TotalTokens\":%d}",
                ch->prompt, completion, ch->prompt + completion);
    buf_putc(b, '}');
    sse_end(r);
}

static void tc_chat(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *msgs = jarr(j, "Messages");
    const char *model = jstr(j, "Model");
    if (!model || !jlen(msgs)) {
        tc_error(r, "MissingParameter",
                 "The request is missing a required parameter `Model` or "
                 "`Messages`.");
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "Stream")};
    for (size_t i = 0; i < jlen(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *content = jstr(m, "Content"), *role = jstr(m, "Role");
        json_object *items = jarr(m, "Contents");
        /* The vision models take Contents (text and image_url items) instead of Content. */
        for (size_t k = 0; !content && k < jlen(items); k++) {
            json_object *it = json_object_array_get_idx(items, k);
            const char *type = jstr(it, "Type");
            if (type && !strcmp(type, "image_url") && !jstr(jget(it, "ImageUrl"), "Url")) {
                tc_error(r, "InvalidParameter", "An image_url item needs ImageUrl.Url.");
                return;
            }
            if (type && !strcmp(type, "text") && jstr(it, "Text"))
                ch.prompt += count_words(jstr(it, "Text"), strlen(jstr(it, "Text")));
        }
        /* An assistant's tool calls may come without Content, never with an empty one. */
        if (!content && (jlen(items) || jlen(jarr(m, "ToolCalls"))))
            content = "";
        if (!role || !content || (r->d.strict && jstr(m, "Content") && !*content)) {
            tc_error(r, "InvalidParameter", "Messages need a Role and a non-empty Content.");
            return;
        }
        ch.prompt += count_words(content, strlen(content)) + 3;
    }
    struct plan p;
    plan_make(&p, &r->d);
    /* A tool call answers only a request that declares Tools. */
    p.tool = p.tool && jlen(jarr(j, "Tools"));
    if (!p.tool) {
        p.n_args = 0;
        p.n_text = r->d.chunks;
        p.completion = p.n_text;
    }
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (!ch.stream) {
        tc_chat_json(r, &ch, &p);
        return;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "X-TC-RequestId: mock-req-%" PRIu64 "\r\n", r->seq);
    stream_head(r, 200, "text/event-stream", extra);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_clear(&srv->text);
        buf_put(&srv->text, pc->p, pc->len);
        tc_event(r, &ch, srv->text.p, srv->text.len, NULL, 0, "", i + 1);
    }
    for (int k = 0; k < p.n_args; k++) {
        if (p.n_text + k == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        const char *a;
        size_t an;
        arg_frag(&p, k, &a, &an);
        tc_event(r, &ch, "", 0, a, an, "", p.n_text + k + 1);
    }
    tc_event(r, &ch, "", 0, NULL, 0, finish_for(P_TENCENT, &r->d, p.tool), p.completion);
    rep_finish(r);
}

static void tc_embed(struct req *r)
{
    struct server *srv = r->srv;
    json_object *list = jarr(r->json, "InputList");
    if (!jlen(list)) {
        tc_error(r, "InvalidParameter", "InputList must be a non-empty array of strings.");
        return;
    }
    struct buf *b = body_reset(srv);
    buf_lit(b, "{\"Response\":{\"Data\":[");
    int prompt = 0;
    for (size_t i = 0; i < jlen(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        int toks = 0;
        if (!json_object_is_type(v, json_type_string)) {
            tc_error(r, "InvalidParameter", "InputList must be a non-empty array of strings.");
            return;
        }
        uint64_t h = emb_input(srv, v, &toks);
        prompt += toks;
        buf_puts(b, i ? ",{\"Embedding\":" : "{\"Embedding\":");
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
        buf_fmt(b, ",\"Index\":%zu,\"Object\":\"embedding\"}", i);
    }
    buf_lit(b, "]");
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"TotalTokens\":%d}", prompt, prompt);
    buf_fmt(b, ",\"RequestId\":\"mock-req-%" PRIu64 "\"}}", r->seq);
    rec_model(r, "hunyuan-embedding");
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json", NULL);
}

static void h_tc(struct req *r)
{
    char action[64] = "";
    hval(r, "x-tc-action", action, sizeof action);
    if (!tc_verify(r))
        return;
    if (!strcmp(action, "ChatCompletions"))
        tc_chat(r);
    else if (!strcmp(action, "GetEmbedding"))
        tc_embed(r);
    else
        tc_error(r, "InvalidAction", "The action requested is not supported by the mock.");
}

/* ------------------------------------------------------------------------- */
/* Ollama native API. Ollama checks no key; the bearer token a gateway sends is recorded. */

/* One /api/chat object: a content piece (done false), or the done one with the counters. */
static void ol_object(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p,
                      const struct buf *text, bool tool, const char *finish, int ctoks)
{
    buf_lit(b, "{\"model\":");
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"created_at\":\"2024-11-05T10:00:00.000000Z\",\"message\":{\"role\":"
               "\"assistant\",\"content\":");
    if (text)
        buf_jstr(b, text->p, text->len);
    else
        buf_lit(b, "\"\"");
    if (tool) {
        buf_lit(b, ",\"tool_calls\":[{\"function\":{\"name\":");
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"arguments\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}}]");
    }
    buf_putc(b, '}');
    if (!finish) {
        buf_lit(b, ",\"done\":false}");
        return;
    }
    buf_lit(b, ",\"done_reason\":");
    buf_jstrz(b, finish);
    buf_lit(b, ",\"done\":true,\"total_duration\":512000000,\"load_duration\":20000000");
    if (r->d.usage)
        buf_fmt(b, ",\"prompt_eval_count\":%d,\"eval_count\":%d", ch->prompt, ctoks);
    buf_putc(b, '}');
}

/* NDJSON: one object per line, then a done line with the counters. */
static void ol_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    int n_events = p->n_text + (p->tool ? 1 : 0);
    stream_head(r, 200, "application/x-ndjson", NULL);
    for (int i = 0; i <= n_events; i++) {
        if (i == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        buf_clear(&srv->ev);
        if (i < p->n_text)
            ol_object(&srv->ev, r, ch, p, piece(r, i), false, NULL, 0);
        else if (i < n_events)
            ol_object(&srv->ev, r, ch, p, NULL, true, NULL, 0);
        else
            ol_object(&srv->ev, r, ch, p, NULL, false, finish_for(P_OLLAMA, &r->d, p->tool),
                      p->completion);
        buf_putc(&srv->ev, '\n');
        rep_event(r);
    }
    rep_finish(r);
}

/* Ollama refuses what its Go structs cannot decode: images must be bare base64. */
static bool ol_validate(struct req *r, json_object *msgs)
{
    if (!jlen(msgs)) {
        reply_error(r, 400, "messages is required", false);
        return false;
    }
    for (size_t i = 0; r->d.strict && i < jlen(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c = jget(m, "content");
        json_object *imgs = jarr(m, "images");
        if (c && !json_object_is_type(c, json_type_string)) {
            reply_error(r, 400,
                        "json: cannot unmarshal array into Go struct field "
                        "Message.messages.content of type string",
                        false);
            return false;
        }
        for (size_t k = 0; k < jlen(imgs); k++) {
            const char *img = json_object_get_string(json_object_array_get_idx(imgs, k));
            if (!img || !*img || has_prefix(img, "data:")) {
                reply_error(r, 400, "illegal base64 data at input byte 4", false);
                return false;
            }
        }
    }
    return true;
}

static void h_ol_chat(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages"), *st = jget(j, "stream");
    const char *model = jstr(j, "model");
    if (!model || !*model) {
        reply_error(r, 400, "model is required", false);
        return;
    }
    if (!ol_validate(r, msgs))
        return;
    /* Ollama streams unless told not to. */
    struct chat ch = {.model = model, .stream = !st || json_object_get_boolean(st)};
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&r->srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &r->srv->text, 0);
        ch.prompt += count_words(r->srv->text.p, r->srv->text.len) + 3;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        ol_stream(r, &ch, &p);
        return;
    }
    struct buf *b = body_reset(r->srv);
    ol_object(b, r, &ch, &p, p.n_text ? all_text(r, p.n_text) : NULL, p.tool,
              finish_for(P_OLLAMA, &r->d, p.tool), p.completion);
    send_body(r, 200, "application/json; charset=utf-8", NULL);
}

static void h_ol_embed(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *input = jget(j, "input");
    const char *model = jstr(j, "model");
    if (!model || !*model) {
        reply_error(r, 400, "model is required", false);
        return;
    }
    bool is_one = json_object_is_type(input, json_type_string);
    size_t n = is_one ? 1 : jlen(input);
    if (!is_one && (!json_object_is_type(input, json_type_array) || !n)) {
        reply_error(r, 400, "invalid input type", false);
        return;
    }
    for (size_t i = 0; !is_one && i < n; i++) {
        if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string)) {
            reply_error(r, 400, "invalid input type", false);
            return;
        }
    }
    struct buf *b = body_reset(srv);
    int prompt = 0;
    buf_lit(b, "{\"model\":");
    buf_jstrz(b, model);
    buf_lit(b, ",\"embeddings\":[");
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, is_one ? input : json_object_array_get_idx(input, i), &toks);
        prompt += toks;
        if (i)
            buf_putc(b, ',');
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
    }
    buf_fmt(b, "],\"total_duration\":14143917,\"load_duration\":1019500");
    if (r->d.usage)
        buf_fmt(b, ",\"prompt_eval_count\":%d", prompt);
    buf_putc(b, '}');
    rec_model(r, model);
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json; charset=utf-8", NULL);
}

/* ------------------------------------------------------------------------- */
/* Replicate predictions. The creation's prompt directives decide what the prediction does:
 * chunks=/text= its output, fail_after= a failure (a failed prediction when polled; in the
 * stream, an error event with fail=error, else a cut). */

/* Bearer auth as Replicate checks it; false after answering 401. */
static bool rp_auth(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    if (h && h->val_len > 7 && !strncasecmp(h->val, "Bearer ", 7))
        return true;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid "
               "authentication token\",\"status\":401}");
    send_body(r, 401, "application/problem+json", NULL);
    return false;
}

/* The prediction named by the path's last segment (mockpred<n>, an optional extension),
 * or NULL after answering 404. */
static struct rp_pred *rp_find(struct req *r)
{
    const char *slash = strrchr(r->path, '/');
    unsigned long long id = 0;
    struct rp_pred *p = NULL;
    if (slash && sscanf(slash + 1, "mockpred%llu", &id) == 1 && id)
        p = &r->srv->preds[id % RP_MAX];
    if (p && p->id == id)
        return p;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"detail\":\"Not found.\",\"status\":404}");
    send_body(r, 404, "application/problem+json", NULL);
    return NULL;
}

/* The base of the URLs the mock hands out: http://<Host header>. */
static void rp_base(struct req *r, struct buf *b)
{
    const struct hdr *h = hfind(r, "host");
    buf_lit(b, "http://");
    if (h)
        buf_put(b, h->val, h->val_len);
    else
        buf_lit(b, "127.0.0.1");
}

/* The prediction object in its current state. */
static void rp_object(struct req *r, const struct rp_pred *p, const char *status)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"id\":\"mockpred%" PRIu64 "\",\"model\":", p->id);
    buf_jstrz(b, p->model);
    buf_fmt(b, ",\"version\":\"\",\"status\":\"%s\",\"logs\":\"\",\"data_removed\":false,", status);
    buf_lit(b, "\"created_at\":\"2024-01-01T00:00:00.000Z\",\"output\":");
    bool ok = !strcmp(status, "succeeded");
    if (ok && p->image) {
        buf_lit(b, "[\"");
        rp_base(r, b);
        buf_fmt(b, "/v1/files/mockpred%" PRIu64 ".png\"]", p->id);
    } else if (ok) {
        buf_putc(b, '[');
        for (int i = 0; i < p->d.chunks; i++) {
            struct buf *pc = &r->srv->piece;
            buf_clear(pc);
            piece_append(&p->d, i, pc);
            if (i)
                buf_putc(b, ',');
            buf_jstr(b, pc->p, pc->len);
        }
        buf_putc(b, ']');
    } else {
        buf_lit(b, "null");
    }
    buf_lit(b, ",\"error\":");
    if (!strcmp(status, "failed"))
        buf_jstrz(b, p->d.msg[0] ? p->d.msg : "mock: prediction failed");
    else
        buf_lit(b, "null");
    buf_lit(b, ",\"metrics\":");
    buf_puts(b, ok ? "{\"predict_time\":0.5}" : "{}");
    buf_lit(b, ",\"urls\":{\"get\":\"");
    rp_base(r, b);
    buf_fmt(b, "/v1/predictions/mockpred%" PRIu64 "\",\"cancel\":\"", p->id);
    rp_base(r, b);
    buf_fmt(b, "/v1/predictions/mockpred%" PRIu64 "/cancel\"", p->id);
    if (p->stream) {
        buf_lit(b, ",\"stream\":\"");
        rp_base(r, b);
        buf_fmt(b, "/v1/streams/mockpred%" PRIu64 "\"", p->id);
    }
    buf_lit(b, "}}");
}

static void h_rp_create(struct req *r)
{
    if (!rp_auth(r))
        return;
    json_object *input = jget(r->json, "input");
    const char *prompt = jstr(input, "prompt");
    if (!json_object_is_type(input, json_type_object) || !prompt || !*prompt) {
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"title\":\"Input validation failed\",\"detail\":\"- input: prompt is "
                   "required\",\"status\":422}");
        send_body(r, 422, "application/problem+json", NULL);
        return;
    }
    struct server *srv = r->srv;
    uint64_t id = ++srv->n_preds;
    struct rp_pred *p = &srv->preds[id % RP_MAX];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->d = r->d;
    copy_str(p->model, sizeof p->model, r->pmodel, strlen(r->pmodel));
    p->image = has_prefix(p->model, "black-forest-labs/") ||
               has_prefix(p->model, "stability-ai/") || has_prefix(p->model, "ideogram-ai/") ||
               has_prefix(p->model, "recraft-ai/");
    p->stream = !p->image && jbool(r->json, "stream");
    rec_model(r, p->model);
    if (!p->image)
        rec_tokens(r, count_words(prompt, strlen(prompt)), p->d.chunks, false);
    rp_object(r, p, "starting");
    send_body(r, 201, "application/json", NULL);
}

static void h_rp_get(struct req *r)
{
    if (!rp_auth(r))
        return;
    struct rp_pred *p = rp_find(r);
    if (!p)
        return;
    rec_model(r, p->model);
    p->polls++;
    const char *status = p->polls == 1                 ? "starting"
                         : p->polls <= RP_SETTLE_POLLS ? "processing"
                         : p->d.fail_after >= 0        ? "failed"
                                                       : "succeeded";
    rp_object(r, p, status);
    send_body(r, 200, "application/json", NULL);
}

static void h_rp_stream(struct req *r)
{
    if (!rp_auth(r))
        return;
    struct rp_pred *p = rp_find(r);
    if (!p)
        return;
    struct server *srv = r->srv;
    rec_model(r, p->model);
    r->d = p->d;
    stream_head(r, 200, "text/event-stream", "Cache-Control: no-store\r\n");
    for (int i = 0; i < r->d.chunks; i++) {
        if (i == r->d.fail_after) {
            rep_seg(&srv->rep, r->d.delay_ms);
            if (!r->d.fail_error) {
                srv->rep.cut = true;
                return;
            }
            struct buf *b = sse_named(r, "error");
            buf_lit(b, "{\"detail\":");
            buf_jstrz(b, r->d.msg[0] ? r->d.msg : "mock: prediction failed");
            buf_putc(b, '}');
            sse_end(r);
            buf_puts(sse_named(r, "done"), "{\"reason\":\"error\"}");
            sse_end(r);
            rep_finish(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = &srv->ev;
        buf_clear(b);
        buf_fmt(b, "event: output\nid: %d\ndata: ", i + 1);
        buf_put(b, pc->p, pc->len);
        sse_end(r);
    }
    buf_puts(sse_named(r, "done"), "{}");
    sse_end(r);
    rep_finish(r);
}

static void h_rp_file(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    buf_put(b, tiny_png, sizeof tiny_png);
    send_body(r, 200, "image/png", NULL);
}

/* ------------------------------------------------------------------------- */
/* Ali DashScope native API. Chat answers JSON, or SSE when X-DashScope-SSE: enable is sent
 * (events repeat the whole text unless parameters.incremental_output is true); image
 * synthesis is an async task (X-DashScope-Async: enable) polled at /api/v1/tasks/{id}, kept in
 * the prediction ring as mocktask<n>. Keys are Bearer sk-...; fail_after= with fail=error sends
 * an event:error frame inside HTTP 200, as DashScope does. */

/* Bearer sk-... as DashScope checks it; false after answering 401 InvalidApiKey. */
static bool al_auth(struct req *r)
{
    if (has_prefix(r->key, "sk-"))
        return true;
    reply_error(r, 401, "Invalid API-key provided.", false);
    return false;
}

static void al_invalid(struct req *r, const char *msg)
{
    reply_error(r, 400, msg, false);
}

/* Words + 3 per message, over input.messages. */
static int al_prompt_tokens(json_object *msgs)
{
    int total = 0;
    for (size_t i = 0; i < jlen(msgs); i++) {
        const char *c = jstr(json_object_array_get_idx(msgs, i), "content");
        total += (c ? count_words(c, strlen(c)) : 0) + 3;
    }
    return total;
}

/* One answer object: text (the whole or one increment), finish NULL for "null". */
static void al_object(struct req *r, struct buf *b, bool as_message, const struct buf *text,
                      const char *finish, int prompt, int completion)
{
    if (as_message) {
        buf_lit(b, "{\"output\":{\"choices\":[{\"message\":{\"content\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, ",\"role\":\"assistant\"},\"finish_reason\":");
        buf_jstrz(b, finish ? finish : "null");
        buf_lit(b, "}]}");
    } else {
        buf_lit(b, "{\"output\":{\"text\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, ",\"finish_reason\":");
        buf_jstrz(b, finish ? finish : "null");
        buf_putc(b, '}');
    }
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"total_tokens\":%d,\"output_tokens\":%d,\"input_tokens\":%d}",
                prompt + completion, completion, prompt);
    buf_fmt(b, ",\"request_id\":\"mock-req-%" PRIu64 "\"}", r->seq);
}

/* Starts one DashScope SSE frame (no space after the colons) in srv->ev. */
static struct buf *al_frame(struct req *r, int id, const char *event, int status)
{
    struct buf *b = &r->srv->ev;
    buf_clear(b);
    buf_fmt(b, "id:%d\nevent:%s\n:HTTP_STATUS/%d\ndata:", id, event, status);
    return b;
}

static void al_stream(struct req *r, const struct plan *p, bool as_message, bool incremental,
                      int prompt)
{
    struct server *srv = r->srv;
    stream_head(r, 200, "text/event-stream;charset=UTF-8", NULL);
    struct buf whole = {0};
    int i = 0;
    for (; i < p->n_text; i++) {
        if (i == p->fail_at) {
            rep_seg(&srv->rep, r->d.delay_ms);
            if (!r->d.fail_error) {
                srv->rep.cut = true;
                buf_free(&whole);
                return;
            }
            error_obj(al_frame(r, i + 1, "error", 400), P_ALI, 400, "mock: stream failed", &r->d);
            sse_end(r);
            rep_finish(r);
            buf_free(&whole);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_put(&whole, pc->p, pc->len);
        /* al_object writes through srv->ev only: pc (srv->piece) stays valid. */
        struct buf *b = al_frame(r, i + 1, "result", 200);
        al_object(r, b, as_message, incremental ? pc : &whole, NULL, prompt, i + 1);
        sse_end(r);
    }
    struct buf empty = {0};
    buf_puts(&empty, "");
    struct buf *b = al_frame(r, i + 1, "result", 200);
    al_object(r, b, as_message, incremental ? &empty : &whole, finish_for(P_ALI, &r->d, false),
              prompt, p->completion);
    sse_end(r);
    rep_finish(r);
    buf_free(&empty);
    buf_free(&whole);
}

static void h_al_chat(struct req *r)
{
    if (!al_auth(r))
        return;
    json_object *j = r->json, *params = jget(j, "parameters");
    json_object *msgs = jarr(jget(j, "input"), "messages");
    if (!jlen(msgs)) {
        al_invalid(r, "Field required: input.messages");
        return;
    }
    if (r->d.strict && jget(j, "messages")) {
        al_invalid(r, "Field required: input.messages; messages is not a valid field");
        return;
    }
    json_object *top_p = jget(params, "top_p");
    if (top_p && (json_object_get_double(top_p) <= 0 || json_object_get_double(top_p) >= 1)) {
        al_invalid(r, "Range of top_p should be (0.0, 1.0)");
        return;
    }
    const char *rf = jstr(params, "result_format");
    bool as_message = rf && !strcmp(rf, "message");
    const struct hdr *sse = hfind(r, "x-dashscope-sse");
    bool stream = sse && mem_ieq(sse->val, sse->val_len, "enable");
    int prompt = al_prompt_tokens(msgs);
    rec_model(r, jstr(j, "model"));
    struct plan p;
    plan_make(&p, &r->d);
    p.completion = p.n_text;
    rec_tokens(r, prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, stream))
        return;
    if (stream) {
        al_stream(r, &p, as_message, jbool(params, "incremental_output"), prompt);
        return;
    }
    struct buf *t = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    al_object(r, b, as_message, t, finish_for(P_ALI, &r->d, false), prompt, p.completion);
    send_body(r, 200, "application/json", NULL);
}

static void h_al_embed(struct req *r)
{
    if (!al_auth(r))
        return;
    struct server *srv = r->srv;
    json_object *texts = jarr(jget(r->json, "input"), "texts");
    size_t n = jlen(texts);
    if (!n || n > 25) {
        al_invalid(r, "input.texts must hold 1 to 25 texts");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(texts, i), json_type_string)) {
            al_invalid(r, "input.texts must be strings");
            return;
        }
    struct buf *b = body_reset(srv);
    int prompt = 0;
    buf_lit(b, "{\"output\":{\"embeddings\":[");
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, json_object_array_get_idx(texts, i), &toks);
        prompt += toks;
        buf_fmt(b, "%s{\"text_index\":%zu,\"embedding\":", i ? "," : "", i);
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
        buf_putc(b, '}');
    }
    buf_fmt(b, "]},\"usage\":{\"total_tokens\":%d},\"request_id\":\"mock-req-%" PRIu64 "\"}",
            prompt, r->seq);
    rec_model(r, jstr(r->json, "model"));
    rec_tokens(r, prompt, 0, true);
    send_body(r, 200, "application/json", NULL);
}

/* The task object in its current state. */
static void al_task_object(struct req *r, const struct rp_pred *t, const char *status)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"request_id\":\"mock-req-%" PRIu64 "\",\"output\":{\"task_id\":\"mocktask%" PRIu64
            "\",\"task_status\":\"%s\"",
            r->seq, t->id, status);
    if (!strcmp(status, "SUCCEEDED")) {
        int n = t->d.chunks;
        buf_lit(b, ",\"results\":[");
        for (int i = 0; i < n; i++) {
            buf_puts(b, i ? ",{\"url\":\"" : "{\"url\":\"");
            rp_base(r, b);
            buf_fmt(b, "/v1/files/mocktask%" PRIu64 "-%d.png\"}", t->id, i);
        }
        buf_fmt(b, "],\"task_metrics\":{\"TOTAL\":%d,\"SUCCEEDED\":%d,\"FAILED\":0}}", n, n);
        buf_fmt(b, ",\"usage\":{\"image_count\":%d}}", n);
        return;
    }
    if (!strcmp(status, "FAILED")) {
        buf_lit(b, ",\"code\":\"InternalError\",\"message\":");
        buf_jstrz(b, t->d.msg[0] ? t->d.msg : "mock: task failed");
    }
    buf_lit(b, "}}");
}

static void h_al_image(struct req *r)
{
    if (!al_auth(r))
        return;
    const struct hdr *h = hfind(r, "x-dashscope-async");
    if (!h || !mem_ieq(h->val, h->val_len, "enable")) {
        r->d = (struct directives){0};
        copy_str(r->d.err_code, sizeof r->d.err_code, "AccessDenied", 12);
        copy_str(r->d.msg, sizeof r->d.msg, "current user api does not support synchronous calls",
                 52);
        reply_error(r, 403, NULL, true);
        return;
    }
    const char *prompt = jstr(jget(r->json, "input"), "prompt");
    const char *size = jstr(jget(r->json, "parameters"), "size");
    if (!prompt || !*prompt || (size && !strchr(size, '*'))) {
        al_invalid(r, "input.prompt is required and parameters.size is W*H");
        return;
    }
    struct server *srv = r->srv;
    uint64_t id = ++srv->n_preds;
    struct rp_pred *t = &srv->preds[id % RP_MAX];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->image = true;
    t->d = r->d;
    /* The task makes parameters.n images (1 to 4, as wanx does). */
    int64_t n = jint(jget(r->json, "parameters"), "n", 1);
    t->d.chunks = n < 1 ? 1 : n > 4 ? 4 : (int)n;
    const char *model = jstr(r->json, "model");
    copy_str(t->model, sizeof t->model, model ? model : "", model ? strlen(model) : 0);
    rec_model(r, t->model);
    al_task_object(r, t, "PENDING");
    send_body(r, 200, "application/json", NULL);
}

static void h_al_task(struct req *r)
{
    if (!al_auth(r))
        return;
    const char *slash = strrchr(r->path, '/');
    unsigned long long id = 0;
    struct rp_pred *t = NULL;
    if (slash && sscanf(slash + 1, "mocktask%llu", &id) == 1 && id)
        t = &r->srv->preds[id % RP_MAX];
    if (!t || t->id != id || !t->image) {
        copy_str(r->d.err_code, sizeof r->d.err_code, "InvalidParameter", 16);
        reply_error(r, 404, "task not found", true);
        return;
    }
    rec_model(r, t->model);
    t->polls++;
    const char *status = t->polls < RP_SETTLE_POLLS ? "RUNNING"
                         : t->d.fail_after >= 0     ? "FAILED"
                                                    : "SUCCEEDED";
    al_task_object(r, t, status);
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Scripted responses */

static struct script_q *script_queue(struct server *srv, const char *key, bool create)
{
    for (struct script_q *q = srv->scripts; q; q = q->next)
        if (!strcmp(q->key, key))
            return q;
    if (!create)
        return NULL;
    struct script_q *q = xrealloc(NULL, sizeof *q);
    memset(q, 0, sizeof *q);
    q->key = xstrndup(key, strlen(key));
    q->next = srv->scripts;
    srv->scripts = q;
    return q;
}

static void script_clear(struct server *srv)
{
    while (srv->scripts) {
        struct script_q *q = srv->scripts;
        srv->scripts = q->next;
        for (size_t i = q->head; i < q->len; i++)
            json_object_put(q->items[i]);
        free(q->items);
        free(q->key);
        free(q);
    }
}

/* Takes the next scripted response for this key (or for any key); caller owns it. */
static json_object *script_pop(struct server *srv, const char *key)
{
    struct script_q *q = key[0] ? script_queue(srv, key, false) : NULL;
    if (!q || q->head == q->len)
        q = script_queue(srv, "", false);
    if (!q || q->head == q->len)
        return NULL;
    json_object *e = q->items[q->head++];
    if (q->head == q->len)
        q->head = q->len = 0;
    return e;
}

/* Copies "Name: value\r\n" lines from a JSON object, skipping anything with CR or LF. */
static void script_headers(struct buf *out, json_object *h)
{
    if (!h || !json_object_is_type(h, json_type_object))
        return;
    json_object_object_foreach(h, name, val)
    {
        const char *v = json_object_is_type(val, json_type_string)
                            ? json_object_get_string(val)
                            : json_object_to_json_string(val);
        if (strpbrk(name, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        buf_fmt(out, "%s: %s\r\n", name, v);
    }
}

/* Returns true when the entry produced the reply; otherwise it adjusted r->d. */
static bool script_apply(struct req *r, json_object *e)
{
    struct server *srv = r->srv;
    int status = (int)jint(e, "status", 0);
    int delay = (int)jint(e, "delay_ms", 0);
    if (delay < 0 || delay > MAX_DELAY_MS)
        delay = 0;
    if (status && (status < 100 || status > 599))
        status = 500;
    if (jbool(e, "close")) {
        r->d.close = true;
        r->d.delay_ms = delay;
        return false;
    }
    json_object *body = jget(e, "body"), *events = jarr(e, "events");
    if (!body && !events) {
        if (status >= 400)
            r->d.status = status;
        if (delay)
            r->d.delay_ms = delay;
        const char *m = jstr(e, "mock");
        if (m && !dir_scan(&r->d, m, strlen(m)))
            dir_parse(&r->d, m, strlen(m));
        return false;
    }
    struct buf extra = {0};
    buf_clear(&extra);
    script_headers(&extra, jget(e, "headers"));
    const char *ctype = jstr(e, "content_type");
    if (events) {
        stream_head(r, status ? status : 200, ctype ? ctype : "text/event-stream", extra.p);
        for (size_t i = 0; i < jlen(events); i++) {
            json_object *ev = json_object_array_get_idx(events, i);
            rep_seg(&srv->rep, delay);
            buf_clear(&srv->ev);
            if (json_object_is_type(ev, json_type_string))
                buf_put(&srv->ev, json_object_get_string(ev),
                        (size_t)json_object_get_string_len(ev));
            else
                buf_puts(&srv->ev, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
            rep_event(r);
        }
        if (jbool(e, "cut"))
            srv->rep.cut = true;
        else
            rep_finish(r);
    } else {
        struct buf *b = body_reset(srv);
        if (json_object_is_type(body, json_type_string))
            buf_put(b, json_object_get_string(body), (size_t)json_object_get_string_len(body));
        else
            buf_puts(b, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        r->d.delay_ms = delay;
        send_body(r, status ? status : 200, ctype ? ctype : "application/json", extra.p);
    }
    buf_free(&extra);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Administrator alerts and balances */

/* Message Pusher (github.com/songquanpeng/message-pusher): POST /push/{user} with
 * {"title","description","content","url","channel","token"}. Recorded like any request, so
 * tests read the message back from /_mock/requests. A missing title or the token "bad-token"
 * gets {"success":false}, as the real server answers a bad message. */
static void h_push(struct req *r)
{
    const char *title = jstr(r->json, "title");
    const char *token = jstr(r->json, "token");
    struct buf *b = body_reset(r->srv);
    if (!title || !*title)
        buf_lit(b, "{\"success\":false,\"message\":\"mock: the title is empty\"}");
    else if (token && !strcmp(token, "bad-token"))
        buf_lit(b, "{\"success\":false,\"message\":\"mock: invalid token\"}");
    else
        buf_lit(b, "{\"success\":true,\"message\":\"ok\"}");
    send_body(r, 200, "application/json", NULL);
}

/* Balance queries (GET) in each provider's shape, with figures that tell the fields apart:
 * credit_grants has total_available 87.5 (CloseAI, AIGC2D) and total_remaining 66.25
 * (API2GPT); OpenAI-SB's sb-api/user/status has the string credit "12.34"; AIProxy's
 * api/report/getUserOverview has totalPoints 56.78 under success true. */
static void h_balance(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    if (has_suffix(r->path, "/dashboard/billing/credit_grants"))
        buf_lit(b, "{\"object\":\"credit_summary\",\"total_granted\":100,\"total_used\":12.5,"
                   "\"total_available\":87.5,\"total_remaining\":66.25}");
    else if (has_suffix(r->path, "/sb-api/user/status"))
        buf_lit(b, "{\"status\":\"ok\",\"data\":{\"credit\":\"12.34\"}}");
    else
        buf_lit(
            b,
            "{\"success\":true,\"message\":\"\",\"errorCode\":0,\"data\":{\"totalPoints\":56.78}}");
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Control API: /_mock/... */

static void ctl_json(struct req *r, int status, json_object *o)
{
    struct buf *b = body_reset(r->srv);
    buf_puts(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    send_body(r, status, "application/json", NULL);
}

static void ctl_msg(struct req *r, int status, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, status < 400 ? "ok" : "error", json_object_new_string(msg));
    ctl_json(r, status, o);
}

/* Value of a query parameter (no percent-decoding), copied into out. */
static bool query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            const char *v = p + nl + 1, *amp = strchr(v, '&');
            copy_str(out, cap, v, amp ? (size_t)(amp - v) : strlen(v));
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

/* ------------------------------------------------------------------------- */
/* Vertex AI: the service account's token endpoint and the token check */

/* Decodes base64url (no padding) s[0..n) into out (cap bytes, NUL added). -1 when invalid. */
static long b64url_dec(const char *s, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* The base64url JSON segment s[0..n) parsed, or NULL. */
static json_object *jwt_part(const char *s, size_t n)
{
    unsigned char buf[4096];
    if (b64url_dec(s, n, buf, sizeof buf) < 0)
        return NULL;
    return json_tokener_parse((const char *)buf);
}

/* Why the assertion fails the checks Google makes, or NULL when it passes them. */
static const char *vx_check_jwt(struct req *r, const char *jwt)
{
    struct vertex *vx = &r->srv->vx;
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        return "the assertion is not a JWS";
    if (!vx->pub)
        return "no service account is known (POST /_mock/vertex a public_key)";
    json_object *h = jwt_part(jwt, (size_t)(d1 - jwt));
    json_object *c = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *why = NULL;
    unsigned char sig[1024];
    long sl = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const struct hdr *host = hfind(r, "host");
    char aud[300];
    snprintf(aud, sizeof aud, "http://%.*s/token", host ? (int)host->val_len : 0,
             host ? host->val : "");
    int64_t now = (int64_t)time(NULL), iat = jint(c, "iat", 0), exp = jint(c, "exp", 0);
    const char *scope = jstr(c, "scope");
    if (!h || !c)
        why = "the JWT header or claims are not JSON";
    else if (!jstr(h, "alg") || strcmp(jstr(h, "alg"), "RS256"))
        why = "alg must be RS256";
    else if (sl <= 0 || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, vx->pub) != 1 ||
             EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)jwt,
                              (size_t)(d2 - jwt)) != 1)
        why = "Invalid JWT Signature.";
    else if (!jstr(c, "iss") || !jstr(c, "iss")[0])
        why = "the JWT has no iss";
    else if (!scope || !strstr(scope, "https://www.googleapis.com/auth/cloud-platform"))
        why = "the JWT's scope lacks cloud-platform";
    else if (!jstr(c, "aud") || strcmp(jstr(c, "aud"), aud))
        why = "the JWT's aud is not this token endpoint";
    else if (iat > now + 300 || iat < now - 300)
        why = "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.";
    else if (exp <= now || exp - iat > 3600)
        why = "Invalid JWT: exp must be after now and at most an hour after iat.";
    EVP_MD_CTX_free(md);
    json_object_put(h);
    json_object_put(c);
    return why;
}

/* POST /token: grant_type jwt-bearer with the service account's signed assertion, form
 * encoded, answered with an access token the Vertex routes then accept. */
static void h_vx_token(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    char grant[128] = "", *form = xstrndup(r->body ? r->body : "", r->body_len);
    size_t cap = r->body_len + 1;
    char *jwt = xrealloc(NULL, cap);
    jwt[0] = '\0';
    query_param(form, "grant_type", grant, sizeof grant);
    query_param(form, "assertion", jwt, cap);
    const char *why = NULL;
    if (strcmp(r->method, "POST"))
        why = "use POST";
    else if (strcmp(grant, "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") &&
             strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer"))
        why = "grant_type must be jwt-bearer";
    else
        why = vx_check_jwt(r, jwt);
    struct buf *b = body_reset(r->srv);
    if (why) {
        vx->refused++;
        buf_lit(b, "{\"error\":\"invalid_grant\",\"error_description\":");
        buf_jstrz(b, why);
        buf_putc(b, '}');
        send_body(r, 400, "application/json; charset=utf-8", NULL);
    } else {
        size_t i = vx->issued++ % VX_MAX_TOKENS;
        snprintf(vx->tokens[i], sizeof vx->tokens[i], "ya29.mock-%" PRIu64 "-%08" PRIx64,
                 vx->issued, mix64(vx->issued ^ (uint64_t)r->now) & 0xffffffffu);
        vx->expires[i] = time(NULL) + vx->expires_in;
        vx->exchanges++;
        buf_lit(b, "{\"access_token\":");
        buf_jstrz(b, vx->tokens[i]);
        buf_fmt(b, ",\"expires_in\":%d,\"token_type\":\"Bearer\"}", vx->expires_in);
        send_body(r, 200, "application/json; charset=utf-8", NULL);
    }
    free(form);
    free(jwt);
}

/* True when the Vertex call carries `Authorization: Bearer <a token issued and not expired>`;
 * otherwise answers Google's 401. */
static bool vx_authorized(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    const struct hdr *h = hfind(r, "authorization");
    time_t now = time(NULL);
    if (h && h->val_len > 7 && !strncmp(h->val, "Bearer ", 7))
        for (size_t i = 0; i < VX_MAX_TOKENS && i < vx->issued; i++)
            if (vx->expires[i] > now && strlen(vx->tokens[i]) == h->val_len - 7 &&
                !memcmp(vx->tokens[i], h->val + 7, h->val_len - 7))
                return true;
    vx->unauthorized++;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication "
               "credentials. Expected OAuth 2 access token, login cookie or other valid "
               "authentication credential.\",\"status\":\"UNAUTHENTICATED\"}}");
    send_body(r, 401, "application/json; charset=UTF-8", NULL);
    return false;
}

/* /_mock/vertex: POST {"public_key": PEM, "expires_in": N} sets the service account and the
 * lifetime of the next tokens; GET reports the counters; DELETE zeroes them. */
static void ctl_vertex(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    if (!strcmp(r->method, "POST")) {
        json_object *o = json_tokener_parse(r->body_len ? r->body : "{}");
        const char *pem = jstr(o, "public_key");
        int64_t exp = jint(o, "expires_in", 0);
        if (pem) {
            BIO *bio = BIO_new_mem_buf(pem, -1);
            EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
            BIO_free(bio);
            if (!k) {
                json_object_put(o);
                ctl_msg(r, 400, "public_key is not a PEM public key");
                return;
            }
            EVP_PKEY_free(vx->pub);
            vx->pub = k;
        }
        if (exp > 0)
            vx->expires_in = (int)exp;
        json_object_put(o);
    } else if (!strcmp(r->method, "DELETE")) {
        vx->exchanges = vx->refused = vx->unauthorized = 0;
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"exchanges\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"unauthorized\":%" PRIu64
            ",\"expires_in\":%d,\"has_key\":%s}",
            vx->exchanges, vx->refused, vx->unauthorized, vx->expires_in,
            vx->pub ? "true" : "false");
    send_body(r, 200, "application/json", NULL);
}

static json_object *rec_json(const struct rec *e)
{
    json_object *o = json_object_new_object();
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.3f", e->when);
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
    json_object_object_add(o, "time", json_object_new_double_s(e->when, tbuf));
    json_object_object_add(o, "method", json_object_new_string(e->method));
    json_object_object_add(o, "path", json_object_new_string(e->target));
    json_object *h = json_object_new_object();
    for (const char *p = e->hdrs; p < e->hdrs + e->hdrs_len;) {
        const char *v = p + strlen(p) + 1;
        json_object_object_add(h, p, json_object_new_string(v));
        p = v + strlen(v) + 1;
    }
    json_object_object_add(o, "headers", h);
    if (utf8_valid((const unsigned char *)e->body, e->body_len) &&
        !memchr(e->body, '\0', e->body_len)) {
        json_object_object_add(o, "body", json_object_new_string_len(e->body, (int)e->body_len));
    } else {
        struct buf b64 = {0};
        buf_clear(&b64);
        buf_b64(&b64, (const unsigned char *)e->body, e->body_len);
        json_object_object_add(o, "body_base64", json_object_new_string_len(b64.p, (int)b64.len));
        buf_free(&b64);
    }
    json_object_object_add(o, "body_len", json_object_new_int64((int64_t)e->body_total));
    if (e->body_total > e->body_len)
        json_object_object_add(o, "body_truncated", json_object_new_boolean(1));
    json_object_object_add(o, "provider", json_object_new_string(e->provider));
    json_object_object_add(o, "key", e->key ? json_object_new_string(e->key) : NULL);
    json_object_object_add(o, "model", e->model ? json_object_new_string(e->model) : NULL);
    if (e->deployment)
        json_object_object_add(o, "deployment", json_object_new_string(e->deployment));
    json_object_object_add(o, "status", json_object_new_int(e->status));
    json_object_object_add(o, "stream", json_object_new_boolean(e->stream));
    json_object_object_add(o, "scripted", json_object_new_boolean(e->scripted));
    if (e->has_tokens) {
        json_object_object_add(o, "prompt_tokens", json_object_new_int(e->prompt_tokens));
        json_object_object_add(o, "completion_tokens", json_object_new_int(e->completion_tokens));
        json_object_object_add(o, "usage_sent", json_object_new_boolean(e->usage_sent));
    }
    return o;
}

static void ctl_requests(struct req *r)
{
    struct server *srv = r->srv;
    char v[512];
    size_t limit = srv->log_cap;
    uint64_t since = 0;
    const char *key = NULL;
    if (query_param(r->query, "limit", v, sizeof v))
        limit = (size_t)strtoull(v, NULL, 10);
    if (query_param(r->query, "since", v, sizeof v))
        since = strtoull(v, NULL, 10);
    char keybuf[512];
    if (query_param(r->query, "key", keybuf, sizeof keybuf))
        key = keybuf;
    /* walk newest to oldest to apply the limit, then reverse into chronological order */
    size_t *pick = xrealloc(NULL, (srv->log_count + 1) * sizeof *pick);
    size_t n = 0;
    for (size_t i = srv->log_count; i-- > 0 && n < limit;) {
        const struct rec *e = &srv->log[(srv->log_start + i) % srv->log_cap];
        if (e->seq <= since)
            break;
        if (key && (!e->key || strcmp(e->key, key)))
            continue;
        pick[n++] = (srv->log_start + i) % srv->log_cap;
    }
    json_object *a = json_object_new_array();
    while (n-- > 0)
        json_object_array_add(a, rec_json(&srv->log[pick[n]]));
    free(pick);
    ctl_json(r, 200, a);
}

static void ctl_stats(struct req *r)
{
    const struct stats *s = &r->srv->st;
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"uptime_s\":%lld,\"last_seq\":%" PRIu64 ",\"requests_total\":%" PRIu64
            ",\"requests_control\":%" PRIu64 ",\"requests_by_provider\":{\"openai\":%" PRIu64
            ",\"azure\":%" PRIu64 ",\"anthropic\":%" PRIu64 ",\"gemini\":%" PRIu64
            "},\"connections_total\":%" PRIu64 ",\"connections_active\":%" PRIu64
            ",\"streams_total\":%" PRIu64 ",\"streams_active\":%" PRIu64
            ",\"streams_completed\":%" PRIu64 ",\"streams_cut\":%" PRIu64
            ",\"client_disconnects\":%" PRIu64 ",\"injected_errors\":%" PRIu64
            ",\"scripted\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"bad_http\":%" PRIu64
            ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"timers_pending\":%zu"
            ",\"spark_sessions\":%" PRIu64 ",\"spark_pongs\":%" PRIu64 "}",
            (long long)(time(NULL) - r->srv->started), r->srv->seq, s->requests_total,
            s->requests_control, s->requests[P_OPENAI], s->requests[P_AZURE],
            s->requests[P_ANTHROPIC], s->requests[P_GEMINI], s->connections_total,
            s->connections_active, s->streams_total, s->streams_active, s->streams_completed,
            s->streams_cut, s->client_disconnects, s->injected_errors, s->scripted, s->dropped,
            s->bad_http, s->bytes_in, s->bytes_out, r->srv->heap_len, s->spark_sessions,
            s->spark_pongs);
    send_body(r, 200, "application/json", NULL);
}

static void ctl_reset_stats(struct server *srv)
{
    /* keep the gauges: they describe what is open right now */
    uint64_t conns = srv->st.connections_active, streams = srv->st.streams_active;
    memset(&srv->st, 0, sizeof srv->st);
    srv->st.connections_active = conns;
    srv->st.streams_active = streams;
}

/* Adds one {"key":..., "responses":[...]} object; returns the count or -1. */
static int ctl_script_one(struct server *srv, json_object *o)
{
    json_object *resp = jarr(o, "responses");
    json_object *k = jget(o, "key");
    if (!resp ||
        (k && !json_object_is_type(k, json_type_string) && !json_object_is_type(k, json_type_null)))
        return -1;
    for (size_t i = 0; i < jlen(resp); i++)
        if (!json_object_is_type(json_object_array_get_idx(resp, i), json_type_object))
            return -1;
    const char *key = jstr(o, "key");
    struct script_q *q = script_queue(srv, key ? key : "", true);
    for (size_t i = 0; i < jlen(resp); i++) {
        if (q->len == q->cap) {
            q->cap = q->cap ? q->cap * 2 : 8;
            q->items = xrealloc(q->items, q->cap * sizeof *q->items);
        }
        q->items[q->len++] = json_object_get(json_object_array_get_idx(resp, i));
    }
    return (int)jlen(resp);
}

/* POST {"<access key>": "<secret>", ...}: secrets to check Bedrock signatures with; DELETE
 * forgets them. */
static void ctl_aws_keys(struct req *r)
{
    struct server *srv = r->srv;
    if (!strcmp(r->method, "DELETE")) {
        json_object_put(srv->aws_keys);
        srv->aws_keys = NULL;
        ctl_msg(r, 200, "aws keys cleared");
        return;
    }
    if (strcmp(r->method, "POST")) {
        ctl_msg(r, 405, "use POST or DELETE");
        return;
    }
    json_object *o = json_tokener_parse(r->body ? r->body : "");
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        ctl_msg(r, 400, "body must be a JSON object {\"<access key>\":\"<secret>\"}");
        return;
    }
    if (!srv->aws_keys)
        srv->aws_keys = json_object_new_object();
    json_object_object_foreach(o, k, v)
    {
        json_object_object_add(srv->aws_keys, k, json_object_get(v));
    }
    json_object_put(o);
    ctl_msg(r, 200, "aws keys set");
}

static void ctl_script(struct req *r)
{
    struct server *srv = r->srv;
    if (!strcmp(r->method, "DELETE")) {
        script_clear(srv);
        ctl_msg(r, 200, "scripts cleared");
        return;
    }
    if (!strcmp(r->method, "GET")) {
        json_object *a = json_object_new_array();
        for (struct script_q *q = srv->scripts; q; q = q->next) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "key", json_object_new_string(q->key));
            json_object_object_add(o, "pending",
                                   json_object_new_int64((int64_t)(q->len - q->head)));
            json_object_array_add(a, o);
        }
        ctl_json(r, 200, a);
        return;
    }
    if (strcmp(r->method, "POST")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    json_tokener_reset(srv->tok);
    json_object *o = json_tokener_parse_ex(srv->tok, r->body ? r->body : "", (int)r->body_len);
    if (!o) {
        ctl_msg(r, 400,
                "body must be JSON: {\"key\":...,\"responses\":[...]} or an array of those");
        return;
    }
    int total = 0, n = 0;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < jlen(o) && n >= 0; i++) {
            n = ctl_script_one(srv, json_object_array_get_idx(o, i));
            total += n;
        }
    } else {
        n = total = ctl_script_one(srv, o);
    }
    json_object_put(o);
    if (n < 0) {
        ctl_msg(r, 400,
                "each script needs \"responses\": an array of objects, and \"key\" a string");
        return;
    }
    json_object *res = json_object_new_object();
    json_object_object_add(res, "queued", json_object_new_int(total));
    ctl_json(r, 200, res);
}

/* ------------------------------------------------------------------------- */
/* iFlytek Spark over WebSocket. The handshake is signed in its URL (HMAC-SHA256 over the
 * host, the date and the request line, with the APISecret of the APIKey the authorization
 * names) and checked as iFlytek's gateway checks it, a date more than 300 s off included.
 * Then one request frame, answered with the frames of a Spark exchange: a ping after the
 * first, the second in two fragments, usage in the last, then a close. Keys come from
 * POST /_mock/spark (the documentation's example pair is known from the start). */

#define SPARK_SID "cht000b9e5f@dx18bcd9a1b2c3a4e532"
#define SPARK_PING "mock" /* the payload of the mock's ping, which a pong must echo */
#define SPARK_SKEW_S 300  /* the clock difference iFlytek's gateway accepts */
#define SPARK_PROMPT 2    /* the usage every answer reports */
#define SPARK_COMPLETION 8

/* The paths iFlytek serves, with the domain each expects in parameter.chat.domain. */
static const char *const spark_paths[][2] = {
    {"/v1.1/chat", "lite"},        {"/v2.1/chat", "generalv2"},
    {"/v3.1/chat", "generalv3"},   {"/chat/pro-128k", "pro-128k"},
    {"/v3.5/chat", "generalv3.5"}, {"/chat/max-32k", "max-32k"},
    {"/v4.0/chat", "4.0Ultra"},    {"/v1/x1", "x1"},
};

static const char *spark_domain(const char *path)
{
    for (size_t i = 0; i < sizeof spark_paths / sizeof *spark_paths; i++)
        if (!strcmp(path, spark_paths[i][0]))
            return spark_paths[i][1];
    return NULL;
}

static struct spark_cred *spark_cred_find(struct server *srv, const char *key)
{
    for (size_t i = 0; i < srv->n_spark; i++)
        if (!strcmp(srv->spark[i].key, key))
            return &srv->spark[i];
    return NULL;
}

static struct spark_cred *spark_cred_set(struct server *srv, const char *key, const char *secret,
                                         int code)
{
    struct spark_cred *c = spark_cred_find(srv, key);
    if (!c) {
        if (srv->n_spark == sizeof srv->spark / sizeof *srv->spark)
            return NULL;
        c = &srv->spark[srv->n_spark++];
    }
    copy_str(c->key, sizeof c->key, key, strlen(key));
    copy_str(c->secret, sizeof c->secret, secret, strlen(secret));
    c->code = code;
    return c;
}

/* An unmasked (server) frame. */
static void ws_frame(struct buf *b, int op, bool fin, const char *p, size_t n)
{
    unsigned char h[10];
    size_t hl = 0;
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        h[hl++] = (unsigned char)n;
    } else if (n <= 0xFFFF) {
        h[hl++] = 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    buf_put(b, h, hl);
    buf_put(b, p, n);
}

static void ws_close_frame(struct buf *b, int code)
{
    char cb[2] = {(char)(code >> 8), (char)(code & 0xFF)};
    ws_frame(b, 8, true, cb, 2);
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* The form-encoded query value of name ('+' a space, %XX a byte) into out. */
static bool form_param(const char *q, const char *name, char *out, size_t cap)
{
    char raw[4096];
    if (!query_param(q, name, raw, sizeof raw))
        return false;
    size_t o = 0;
    for (size_t i = 0; raw[i] && o + 1 < cap; i++) {
        int hi, lo;
        if (raw[i] == '+') {
            out[o++] = ' ';
        } else if (raw[i] == '%' && raw[i + 1] && raw[i + 2] && (hi = hexval(raw[i + 1])) >= 0 &&
                   (lo = hexval(raw[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = raw[i];
        }
    }
    out[o] = '\0';
    return true;
}

/* Standard base64 with padding into out; the length, or -1. */
static long b64_dec(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0)
        return -1;
    if (n && s[n - 1] == '=')
        len--;
    if (n > 1 && s[n - 2] == '=')
        len--;
    return len;
}

/* The quoted value of name="..." in an authorization text. */
static bool auth_quoted_field(const char *a, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = a; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p != a && p[-1] != ' ' && p[-1] != ',') || strncmp(p + nl, "=\"", 2))
            continue;
        const char *v = p + nl + 2, *e = strchr(v, '"');
        if (!e)
            return false;
        copy_str(out, cap, v, (size_t)(e - v));
        return true;
    }
    return false;
}

/* Base64 of HMAC-SHA256(secret, msg) into out. */
static void hmac_b64(const char *secret, const char *msg, struct buf *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), mac,
         &ml);
    buf_b64(out, mac, ml);
}

static void spark_refuse(struct req *r, int status, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"message\":");
    buf_jstrz(b, msg);
    buf_putc(b, '}');
    r->keep_alive = false;
    send_body(r, status, "application/json", NULL);
}

/* The opening handshake of a Spark chat: the signature, then the switch to WebSocket. */
static void h_spark_upgrade(struct req *r)
{
    struct server *srv = r->srv;
    char enc[1024], date[128], host[256], key[128], alg[64], hdrs[128], sig[128];
    unsigned char auth[1024];
    const struct hdr *hh = hfind(r, "host"), *wk = hfind(r, "sec-websocket-key");
    const struct hdr *wv = hfind(r, "sec-websocket-version");
    if (!spark_domain(r->path)) {
        spark_refuse(r, 404, "no Route matched with those values");
        return;
    }
    if (!form_param(r->query, "authorization", enc, sizeof enc)) {
        spark_refuse(r, 401, "Unauthorized");
        return;
    }
    long al = b64_dec(enc, auth, sizeof auth - 1);
    if (al < 0 || !form_param(r->query, "date", date, sizeof date) ||
        !form_param(r->query, "host", host, sizeof host)) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    auth[al] = '\0';
    const char *a = (const char *)auth;
    if ((!auth_quoted_field(a, "api_key", key, sizeof key) &&
         !auth_quoted_field(a, "hmac username", key, sizeof key)) ||
        !auth_quoted_field(a, "algorithm", alg, sizeof alg) || strcmp(alg, "hmac-sha256") ||
        !auth_quoted_field(a, "headers", hdrs, sizeof hdrs) ||
        strcmp(hdrs, "host date request-line") ||
        !auth_quoted_field(a, "signature", sig, sizeof sig)) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    copy_str(r->key, sizeof r->key, key, strlen(key));
    if (r->rec) {
        free(r->rec->key);
        r->rec->key = xstrndup(key, strlen(key));
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(date, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!rest || (strcmp(rest, " GMT") && strcmp(rest, " UTC")) ||
        llabs((long long)(timegm(&tm) - time(NULL))) > SPARK_SKEW_S) {
        spark_refuse(r, 403,
                     "HMAC signature cannot be verified, a valid date or x-date header is "
                     "required for HMAC Authentication");
        return;
    }
    struct spark_cred *cred = spark_cred_find(srv, key);
    if (!cred) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    /* The gateway signs over the Host it received; the host parameter must name it too. */
    char hv[256];
    copy_str(hv, sizeof hv, hh ? hh->val : "", hh ? hh->val_len : 0);
    struct buf origin = {0}, want = {0};
    buf_fmt(&origin, "host: %s\ndate: %s\nGET %s HTTP/1.1", hv, date, r->path);
    hmac_b64(cred->secret, origin.p, &want);
    bool match = !strcmp(host, hv) && !strcmp(want.p, sig);
    buf_free(&origin);
    buf_free(&want);
    if (!match) {
        spark_refuse(r, 401, "HMAC signature does not match");
        return;
    }
    if (!wk || !wv || !mem_ieq(wv->val, wv->val_len, "13")) {
        spark_refuse(r, 400, "a WebSocket handshake is required");
        return;
    }
    struct buf kg = {0};
    buf_put(&kg, wk->val, wk->val_len);
    buf_lit(&kg, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_Digest(kg.p, kg.len, md, &ml, EVP_sha1(), NULL);
    buf_clear(&kg);
    buf_b64(&kg, md, ml);
    struct reply *p = &srv->rep;
    buf_fmt(&p->data,
            "HTTP/1.1 101 Switching Protocols\r\nServer: mock-upstream\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
            kg.p);
    buf_free(&kg);
    p->has_head = true;
    if (r->rec) {
        r->rec->status = 101;
        rec_model(r, spark_domain(r->path));
    }
    r->c->ws = true;
    copy_str(r->c->ws_key, sizeof r->c->ws_key, key, strlen(key));
    copy_str(r->c->ws_path, sizeof r->c->ws_path, r->path, strlen(r->path));
    srv->st.spark_sessions++;
}

static const char *spark_code_message(int code)
{
    switch (code) {
    case 10013: return "input content audit failed";
    case 10163: return "request parameter error";
    case 10907: return "token count exceeds the limit";
    case 11200: return "AppIdNoAuthError:(11200)auth no license";
    case 11201: return "AppIdNoAuthError:(11201)auth daily limit exceeded";
    case 11202: return "AppIdQpsOverFlowError:(11202)qps over flow";
    case 11203: return "AppIdQpsOverFlowError:(11203)concurrency over flow";
    default: return "error";
    }
}

/* One answer frame; usage only in the last. */
static void spark_answer_frame(struct buf *b, int status, const char *content)
{
    buf_fmt(b,
            "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"" SPARK_SID
            "\",\"status\":%d},\"payload\":{\"choices\":{\"status\":%d,\"seq\":%d,\"text\":[{"
            "\"content\":",
            status, status, status);
    buf_jstrz(b, content);
    buf_lit(b, ",\"role\":\"assistant\",\"index\":0}]}");
    if (status == 2)
        buf_fmt(b,
                ",\"usage\":{\"text\":{\"question_tokens\":%d,\"prompt_tokens\":%d,"
                "\"completion_tokens\":%d,\"total_tokens\":%d}}",
                SPARK_PROMPT, SPARK_PROMPT, SPARK_COMPLETION, SPARK_PROMPT + SPARK_COMPLETION);
    buf_lit(b, "}}");
}

/* Answers the request frame: checks it as Spark does, then the frames (or an error frame),
 * then a close. It is logged as a request of its own ("WS" + the path), body the frame. */
static void spark_answer(struct server *srv, struct conn *c, const char *data, size_t n)
{
    struct req r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.c = c;
    r.method = "WS";
    r.target = c->ws_path;
    r.body = data;
    r.body_len = n;
    r.prov = P_SPARK;
    copy_str(r.key, sizeof r.key, c->ws_key, strlen(c->ws_key));
    r.seq = ++srv->seq;
    srv->st.requests_total++;
    srv->st.requests[P_SPARK]++;
    r.rec = rec_new(srv, &r);
    c->ws_answered = true;

    const char *domain = spark_domain(c->ws_path);
    json_tokener_reset(srv->tok);
    json_object *j = json_tokener_parse_ex(srv->tok, data, (int)n);
    const char *app_id = jstr(jget(j, "header"), "app_id");
    const char *sent = jstr(jget(jget(j, "parameter"), "chat"), "domain");
    json_object *text = jarr(jget(jget(j, "payload"), "message"), "text");
    struct spark_cred *cred = spark_cred_find(srv, c->ws_key);
    int code = 0;
    const char *msg = NULL;
    if (!j || !app_id || !*app_id || !jlen(text)) {
        code = 10163;
        msg = "request parameter error: header.app_id and payload.message.text are required";
    } else if (!sent || !domain || strcmp(sent, domain)) {
        code = 10163;
        msg = "request parameter error: parameter.chat.domain does not match the URL";
    } else if (cred && cred->code) {
        code = cred->code;
        msg = spark_code_message(code);
    }
    rec_model(&r, sent ? sent : domain);
    struct buf *b = &srv->ev;
    if (code) {
        buf_clear(b);
        buf_fmt(b, "{\"header\":{\"code\":%d,\"message\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"sid\":\"" SPARK_SID "\",\"status\":2}}");
        ws_frame(&c->out, 1, true, b->p, b->len);
        r.rec->status = 200;
        srv->st.injected_errors++;
    } else {
        buf_clear(b);
        spark_answer_frame(b, 0, "你好");
        ws_frame(&c->out, 1, true, b->p, b->len);
        ws_frame(&c->out, 9, true, SPARK_PING, strlen(SPARK_PING));
        buf_clear(b);
        spark_answer_frame(b, 1, "！我是讯飞星火");
        size_t half = b->len / 2; /* mid-character on purpose: fragments split bytes */
        ws_frame(&c->out, 1, false, b->p, half);
        ws_frame(&c->out, 0, true, b->p + half, b->len - half);
        buf_clear(b);
        spark_answer_frame(b, 2, "。");
        ws_frame(&c->out, 1, true, b->p, b->len);
        r.rec->status = 200;
        r.rec->stream = true;
        rec_tokens(&r, SPARK_PROMPT, SPARK_COMPLETION, true);
    }
    ws_close_frame(&c->out, 1000);
    json_object_put(j);
}

/* Reads one client frame of a switched connection. Returns 0 when more input is needed, 1
 * otherwise (as handle_next_request). */
static int spark_ws_next(struct server *srv, struct conn *c)
{
    unsigned char *u = (unsigned char *)c->in.p + c->in_off;
    size_t n = c->in.len - c->in_off;
    if (!c->in.p || n < 2)
        return 0;
    bool fin = u[0] & 0x80, masked = u[1] & 0x80;
    int op = u[0] & 0x0F;
    uint64_t len = u[1] & 0x7F;
    size_t hl = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)u[2] << 8 | u[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | u[2 + i];
        hl = 10;
    }
    if (!masked || (u[0] & 0x70) || len > MAX_BODY_BYTES) {
        /* A client must mask; no extension was negotiated. */
        ws_close_frame(&c->out, len > MAX_BODY_BYTES ? 1009 : 1002);
        c->close_after = true;
        srv->st.bad_http++;
        return 1;
    }
    if (n < hl + 4 || n - hl - 4 < len)
        return 0;
    unsigned char *mask = u + hl, *data = u + hl + 4;
    for (uint64_t i = 0; i < len; i++)
        data[i] ^= mask[i & 3];
    c->in_off += hl + 4 + (size_t)len;
    switch (op) {
    case 9: ws_frame(&c->out, 10, true, (const char *)data, (size_t)len); break;
    case 10:
        if (len == strlen(SPARK_PING) && !memcmp(data, SPARK_PING, len))
            srv->st.spark_pongs++;
        break;
    case 8:
        if (!c->ws_answered)
            ws_close_frame(&c->out, 1000);
        c->close_after = true;
        break;
    case 1:
        if (!fin) {
            ws_close_frame(&c->out, 1003); /* Spark's clients send one whole frame */
            c->close_after = true;
        } else if (!c->ws_answered) {
            spark_answer(srv, c, (const char *)data, (size_t)len);
        }
        break;
    default:
        ws_close_frame(&c->out, 1003);
        c->close_after = true;
        break;
    }
    return 1;
}

/* ------------------------------------------------------------------------- */
/* Zhipu: every call carries a JWT (HS256, claims api_key, exp and timestamp in
 * milliseconds) signed with the secret of a key told with POST /_mock/zhipu. v4 is OpenAI's
 * format (the OpenAI handlers answer it); v3 has its own, below. */

/* Why the token fails Zhipu's checks, or NULL with *key set when it passes them. */
static const char *zp_check(struct zhipu *zp, const char *tok, const struct zhipu_key **key)
{
    const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        return "Authorization Token非法，请确认Authorization Token正确传递。";
    json_object *h = jwt_part(tok, (size_t)(d1 - tok));
    json_object *c = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *id = jstr(c, "api_key"), *why = NULL;
    const struct zhipu_key *k = NULL;
    for (size_t i = 0; id && i < zp->n_keys; i++)
        if (!strcmp(zp->keys[i].id, id))
            k = &zp->keys[i];
    unsigned char sig[64], mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    long sl = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!h || !c)
        why = "Authorization Token非法，请确认Authorization Token正确传递。";
    else if (!jstr(h, "alg") || strcmp(jstr(h, "alg"), "HS256") || !jstr(h, "sign_type") ||
             strcmp(jstr(h, "sign_type"), "SIGN"))
        why = "Authorization Token非法：alg must be HS256 and sign_type SIGN";
    else if (!k)
        why = "API key 不存在";
    else if (!HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret), (const unsigned char *)tok,
                   (size_t)(d2 - tok), mac, &ml) ||
             sl != (long)ml || memcmp(sig, mac, ml))
        why = "Authorization Token非法：signature does not match";
    else if (jint(c, "exp", 0) <= now_ms)
        why = "Authorization Token已过期";
    else if (jint(c, "timestamp", 0) > now_ms + 300000)
        why = "Authorization Token非法：timestamp is in the future (not milliseconds?)";
    json_object_put(h);
    json_object_put(c);
    *key = why ? NULL : k;
    return why;
}

/* Zhipu's error answer: v4's {"error":{"code","message"}} with status, v3's
 * {"code","msg","success":false} inside a 200. */
static void zp_error(struct req *r, int status, int code, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    if (r->op == OP_ZP_V3) {
        buf_fmt(b, "{\"code\":%d,\"msg\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"success\":false}");
        status = 200;
    } else {
        buf_fmt(b, "{\"error\":{\"code\":\"%d\",\"message\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
    }
    send_body(r, status, "application/json", NULL);
}

/* True when the call's Authorization (the JWT, bare or after "Bearer ") passes zp_check and
 * its key answers normally; otherwise answers Zhipu's error. The key's id becomes the
 * request's key in the log. */
static bool zp_authorized(struct req *r)
{
    struct zhipu *zp = &r->srv->zp;
    const struct hdr *h = hfind(r, "authorization");
    const char *v = h ? h->val : "";
    size_t n = h ? h->val_len : 0;
    if (n > 7 && !strncasecmp(v, "Bearer ", 7))
        v += 7, n -= 7;
    char tok[384];
    const struct zhipu_key *k = NULL;
    const char *why = "Authorization Token非法，请确认Authorization Token正确传递。";
    if (n && n < sizeof tok) {
        memcpy(tok, v, n);
        tok[n] = '\0';
        why = zp_check(zp, tok, &k);
    }
    if (why) {
        zp->refused++;
        zp_error(r, 401, 1002, why);
        return false;
    }
    zp->accepted++;
    size_t i = 0;
    while (i < zp->n_tokens && strcmp(zp->tokens[i], tok))
        i++;
    if (i == zp->n_tokens && i < ZP_MAX_TOKENS)
        memcpy(zp->tokens[zp->n_tokens++], tok, n + 1);
    copy_str(r->key, sizeof r->key, k->id, strlen(k->id));
    if (r->rec) {
        free(r->rec->key);
        r->rec->key = xstrndup(k->id, strlen(k->id));
    }
    if (k->code) {
        zp_error(r, k->code == 1302 || k->code == 1303 || k->code == 1305 ? 429 : 400, k->code,
                 k->code == 1302 ? "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"
                                 : "mock: the key answers this code");
        return false;
    }
    return true;
}

/* Zhipu v3: POST .../model-api/{model}/invoke answers the whole text, with the content as a
 * JSON string literal (quoted, "\n" escaped) as Zhipu sends it; .../sse-invoke streams "add"
 * events of raw text (one of them on two data: lines) and a "finish" event whose meta: line
 * has the usage. Prompt tokens: the words of the prompt plus 2 per message. */
static void h_zp_v3(struct req *r)
{
    json_object *prompt = jarr(r->json, "prompt");
    if (!jlen(prompt)) {
        zp_error(r, 400, 1214, "prompt 参数非法");
        return;
    }
    int ptok = 0;
    for (size_t i = 0; i < jlen(prompt); i++) {
        const char *c = jstr(json_object_array_get_idx(prompt, i), "content");
        ptok += (c ? count_words(c, strlen(c)) : 0) + 2;
    }
    static const char id[] = "7951544019094669224";
    bool stream = has_suffix(r->path, "/sse-invoke");
    int ctok = stream ? 7 : 9;
    rec_tokens(r, ptok, ctok, true);
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b,
                "{\"code\":200,\"msg\":\"操作成功\",\"success\":true,\"data\":{\"request_id\":"
                "\"%s\",\"task_id\":\"%s\",\"task_status\":\"SUCCESS\",\"choices\":[{\"role\":"
                "\"assistant\",\"content\":\"\\\" 你好！\\\\n我是智谱清言。\\\"\"}],\"usage\":{"
                "\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}}",
                id, id, ptok, ctok, ptok + ctok);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream;charset=UTF-8", NULL);
    struct buf *ev = &r->srv->ev;
    buf_clear(ev);
    buf_fmt(ev, "event:add\nid:%s\ndata:你好\n\n", id);
    rep_event(r);
    buf_clear(ev);
    buf_fmt(ev, "event:add\nid:%s\ndata:！我是\ndata:智谱清言\n\n", id);
    rep_event(r);
    buf_clear(ev);
    buf_fmt(ev,
            "event:finish\nid:%s\ndata:\nmeta:{\"task_status\":\"SUCCESS\",\"usage\":{"
            "\"completion_tokens\":%d,\"prompt_tokens\":%d,\"total_tokens\":%d},\"task_id\":"
            "\"%s\",\"request_id\":\"%s\"}\n\n",
            id, ctok, ptok, ptok + ctok, id, id);
    rep_event(r);
    rep_finish(r);
}

/* /_mock/zhipu: POST {"id": ..., "secret": ..., "code": 0} adds a key (answering with that
 * Zhipu error code when not 0); GET reports the distinct tokens accepted and the calls
 * accepted and refused; DELETE forgets the tokens and zeroes the counters. */
static void ctl_zhipu(struct req *r)
{
    struct zhipu *zp = &r->srv->zp;
    if (!strcmp(r->method, "POST")) {
        json_object *j = json_tokener_parse(r->body_len ? r->body : "{}");
        const char *id = jstr(j, "id"), *secret = jstr(j, "secret");
        bool ok = id && *id && secret && *secret && strlen(id) < sizeof zp->keys[0].id &&
                  strlen(secret) < sizeof zp->keys[0].secret && zp->n_keys < ZP_MAX_KEYS;
        if (ok) {
            struct zhipu_key *k = &zp->keys[zp->n_keys++];
            snprintf(k->id, sizeof k->id, "%s", id);
            snprintf(k->secret, sizeof k->secret, "%s", secret);
            k->code = (int)jint(j, "code", 0);
        }
        json_object_put(j);
        if (!ok) {
            ctl_msg(r, 400, "need id and secret (strings), and at most 16 keys");
            return;
        }
    } else if (!strcmp(r->method, "DELETE")) {
        zp->n_tokens = 0;
        zp->accepted = zp->refused = 0;
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"tokens\":%zu,\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"keys\":%zu}",
            zp->n_tokens, zp->accepted, zp->refused, zp->n_keys);
    send_body(r, 200, "application/json", NULL);
}

/* POST /_mock/spark {"api_key": ..., "api_secret": ..., "code": 0}: a key the handshake
 * accepts, and the Spark error code its requests get (0: a normal answer). */
static void ctl_spark(struct req *r)
{
    json_object *j = json_tokener_parse(r->body ? r->body : "");
    const char *key = jstr(j, "api_key"), *secret = jstr(j, "api_secret");
    if (!key || !*key || !secret || !*secret ||
        !spark_cred_set(r->srv, key, secret, (int)jint(j, "code", 0)))
        ctl_msg(r, 400, "need api_key and api_secret (strings), and at most 16 keys");
    else
        ctl_msg(r, 200, "spark key set");
    json_object_put(j);
}

/* ------------------------------------------------------------------------- */
/* Baidu ERNIE (wenxinworkshop). Keys "AK|SK" get tokens from /oauth/2.0/token (a client_id
 * starting with "bad" is refused as Baidu refuses an unknown one); the model endpoints take
 * the token from ?access_token= and answer, as Baidu does, every error with HTTP 200 and
 * {"error_code","error_msg"}: 110 for a token it did not issue, 18 (QPS limit) for the
 * directive status=429 and for every call of a client_id starting with "busy", 336003 for a system
 * message inside messages. Answers are the documentation's transcripts: usage 6 + 8 for chat, 2
 * prompt tokens per embedded input. */

static void bd_reply(struct req *r, int code, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"error_code\":%d,\"error_msg\":", code);
    buf_jstrz(b, msg);
    buf_putc(b, '}');
    send_body(r, 200, "application/json", NULL);
}

static void h_bd_token(struct req *r)
{
    struct baidu *bd = &r->srv->bd;
    char id[64] = "", secret[64] = "", grant[64] = "";
    query_param(r->query, "grant_type", grant, sizeof grant);
    query_param(r->query, "client_id", id, sizeof id);
    query_param(r->query, "client_secret", secret, sizeof secret);
    struct buf *b = body_reset(r->srv);
    if (strcmp(r->method, "POST") || strcmp(grant, "client_credentials") || !*id || !*secret ||
        has_prefix(id, "bad")) {
        buf_lit(b, "{\"error\":\"invalid_client\",\"error_description\":\"unknown client id\"}");
        send_body(r, 401, "application/json", NULL);
        return;
    }
    bd->exchanges++;
    bd->issued++;
    char *t = bd->tokens[bd->issued % BD_MAX_TOKENS];
    snprintf(t, sizeof bd->tokens[0], "24.mock%" PRIu64 ".2592000.%.40s", bd->issued, id);
    buf_lit(b, "{\"refresh_token\":\"25.r3fr3sh\",\"expires_in\":2592000,\"session_key\":\"sk\","
               "\"access_token\":");
    buf_jstrz(b, t);
    buf_lit(b, ",\"scope\":\"public\",\"session_secret\":\"ss\"}");
    send_body(r, 200, "application/json", NULL);
}

static bool bd_token_ok(struct req *r)
{
    char t[96] = "";
    query_param(r->query, "access_token", t, sizeof t);
    for (size_t i = 0; *t && i < BD_MAX_TOKENS; i++)
        if (!strcmp(t, r->srv->bd.tokens[i]))
            return true;
    return false;
}

static void bd_chat(struct req *r)
{
    static const char *const pieces[] = {"你好！", "有什么可以帮你？", ""};
    json_object *msgs = jarr(r->json, "messages"), *st = jget(r->json, "stream");
    for (size_t i = 0; i < jlen(msgs); i++) {
        const char *role = jstr(json_object_array_get_idx(msgs, i), "role");
        if (!role || strcmp(role, i % 2 ? "assistant" : "user")) {
            bd_reply(r, 336003, "the role of messages must alternate user and assistant");
            return;
        }
    }
    if (!jlen(msgs) || jlen(msgs) % 2 == 0) {
        bd_reply(r, 336003, "the messages length must be odd");
        return;
    }
    rec_tokens(r, 6, 8, true);
    if (!st || !json_object_get_boolean(st)) {
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":"
                   "1700000000,\"result\":\"你好！有什么可以帮你？\",\"is_truncated\":false,"
                   "\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{"
                   "\"prompt_tokens\":6,\"completion_tokens\":8,\"total_tokens\":14}}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < 3; i++) {
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *b = sse_data(r);
        buf_fmt(b,
                "{\"id\":\"as-s7g0kq1x2c\",\"object\":\"chat.completion\",\"created\":1700000001,"
                "\"sentence_id\":%d,\"is_end\":%s,\"is_truncated\":false,\"result\":",
                i, i == 2 ? "true" : "false");
        buf_jstrz(b, pieces[i]);
        buf_fmt(b,
                ",\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{"
                "\"prompt_tokens\":6,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
                i ? 8 : 3, i ? 14 : 9);
        rep_event(r);
    }
    rep_finish(r);
}

static void bd_embed(struct req *r)
{
    json_object *input = jarr(r->json, "input");
    size_t n = jlen(input);
    if (!n) {
        bd_reply(r, 336003, "input is required and must be a list of strings");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"id\":\"as-emb01\",\"object\":\"embedding_list\",\"created\":1700000003,"
               "\"data\":[");
    for (size_t i = 0; i < n; i++)
        buf_fmt(b,
                "%s{\"object\":\"embedding\",\"embedding\":[0.0123,-0.0456,0.0789],"
                "\"index\":%zu}",
                i ? "," : "", i);
    buf_fmt(b, "],\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", 2 * n, 2 * n);
    rec_tokens(r, (int)(2 * n), 0, true);
    send_body(r, 200, "application/json", NULL);
}

static void h_bd_call(struct req *r)
{
    if (strcmp(r->method, "POST") || !r->json) {
        bd_reply(r, 336003, "a POST with a JSON body is required");
        return;
    }
    if (!bd_token_ok(r)) {
        r->srv->bd.refused++;
        bd_reply(r, 110, "Access token invalid or no longer valid");
        return;
    }
    char t[96] = "";
    query_param(r->query, "access_token", t, sizeof t);
    if (r->d.status == 429 || strstr(t, ".2592000.busy")) {
        r->srv->st.injected_errors++;
        bd_reply(r, 18, "Open api qps request limit reached");
        return;
    }
    if (r->op == OP_BD_CHAT)
        bd_chat(r);
    else
        bd_embed(r);
}

/* /_mock/baidu: GET the counters; DELETE zeroes them and revokes every token issued. */
static void ctl_baidu(struct req *r)
{
    struct baidu *bd = &r->srv->bd;
    if (!strcmp(r->method, "DELETE")) {
        bd->exchanges = bd->refused = 0;
        memset(bd->tokens, 0, sizeof bd->tokens);
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"exchanges\":%" PRIu64 ",\"refused\":%" PRIu64 "}", bd->exchanges, bd->refused);
    send_body(r, 200, "application/json", NULL);
}

static void control(struct req *r)
{
    struct server *srv = r->srv;
    const char *what = r->path + strlen("/_mock/");
    bool get = !strcmp(r->method, "GET"), del = !strcmp(r->method, "DELETE");
    if (!strcmp(what, "requests")) {
        if (get) {
            ctl_requests(r);
        } else if (del) {
            log_clear(srv);
            ctl_msg(r, 200, "requests cleared");
        } else {
            ctl_msg(r, 405, "use GET or DELETE");
        }
    } else if (!strcmp(what, "script")) {
        ctl_script(r);
    } else if (!strcmp(what, "spark") && !strcmp(r->method, "POST")) {
        ctl_spark(r);
    } else if (!strcmp(what, "stats")) {
        if (get) {
            ctl_stats(r);
        } else if (del) {
            ctl_reset_stats(srv);
            ctl_msg(r, 200, "stats reset");
        } else {
            ctl_msg(r, 405, "use GET or DELETE");
        }
    } else if (!strcmp(what, "reset") && !strcmp(r->method, "POST")) {
        log_clear(srv);
        script_clear(srv);
        ctl_reset_stats(srv);
        ctl_msg(r, 200, "reset");
    } else if (!strcmp(what, "aws_keys")) {
        ctl_aws_keys(r);
    } else if (!strcmp(what, "vertex")) {
        ctl_vertex(r);
    } else if (!strcmp(what, "zhipu")) {
        ctl_zhipu(r);
    } else if (!strcmp(what, "baidu")) {
        ctl_baidu(r);
    } else if (!strcmp(what, "health")) {
        ctl_msg(r, 200, "ok");
    } else {
        ctl_msg(r, 404, "unknown control endpoint");
    }
}

/* POST .../edits: OpenAI's retired Edits API, {"model","input","instruction"} -> an "edit"
 * object. The prompt counts the words of input and instruction. */
static void h_oa_edits(struct req *r)
{
    json_object *j = r->json;
    const char *model = jstr(j, "model");
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!jstr(j, "instruction")) {
        reply_error(r, 400, "'instruction' is a required property", false);
        return;
    }
    struct directives d2 = r->d;
    d2.tool[0] = '\0';
    struct plan p;
    plan_make(&p, &d2);
    struct buf *t = &r->srv->text;
    buf_clear(t);
    jtext(jget(j, "input"), t, 0);
    jtext(jget(j, "instruction"), t, 0);
    int prompt = count_words(t->p, t->len);
    rec_model(r, model);
    rec_tokens(r, prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, false))
        return;
    t = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"object\":\"edit\",\"created\":%lld,\"choices\":[{\"text\":", (long long)r->now);
    buf_jstr(b, t->p, t->len);
    buf_lit(b, ",\"index\":0}]");
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                prompt, p.completion, prompt + p.completion);
    buf_lit(b, "}");
    send_body(r, 200, "application/json", NULL);
}

/* GET or HEAD /img/{W}x{H}.{png,jpg,gif,webp}: the header of such an image (enough for its
 * size), zero-padded to bytes=N. Query: ct= another Content-Type, status=N, delay_ms=N. HEAD
 * gets the headers alone. */
static void h_image_file(struct req *r)
{
    char v[128], ct[128] = "";
    int w = 0, h = 0, status = 200;
    size_t bytes = 0;
    char ext[8] = "";
    const char *name = r->path + strlen("/img/");
    if (sscanf(name, "%dx%d.%7s", &w, &h, ext) != 3 || w <= 0 || h <= 0 || w > 65535 || h > 65535) {
        reply_error(r, 404, "mock: no such image (use /img/{W}x{H}.{png,jpg,gif,webp})", false);
        return;
    }
    if (query_param(r->query, "status", v, sizeof v))
        status = atoi(v);
    if (query_param(r->query, "delay_ms", v, sizeof v))
        r->d.delay_ms = atoi(v);
    if (query_param(r->query, "bytes", v, sizeof v))
        bytes = (size_t)strtoull(v, NULL, 10);
    query_param(r->query, "ct", ct, sizeof ct);
    struct buf *b = body_reset(r->srv);
    unsigned uw = (unsigned)w, uh = (unsigned)h;
    if (!strcmp(ext, "png")) {
        unsigned char hd[33] = {0x89,
                                'P',
                                'N',
                                'G',
                                '\r',
                                '\n',
                                0x1A,
                                '\n',
                                0,
                                0,
                                0,
                                13,
                                'I',
                                'H',
                                'D',
                                'R',
                                (unsigned char)(uw >> 24),
                                (unsigned char)(uw >> 16),
                                (unsigned char)(uw >> 8),
                                (unsigned char)uw,
                                (unsigned char)(uh >> 24),
                                (unsigned char)(uh >> 16),
                                (unsigned char)(uh >> 8),
                                (unsigned char)uh,
                                8,
                                6,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/png");
    } else if (!strcmp(ext, "jpg")) {
        unsigned char hd[] = {0xFF,
                              0xD8,
                              0xFF,
                              0xE0,
                              0,
                              16,
                              'J',
                              'F',
                              'I',
                              'F',
                              0,
                              1,
                              1,
                              0,
                              0,
                              1,
                              0,
                              1,
                              0,
                              0,
                              0xFF,
                              0xC0,
                              0,
                              17,
                              8,
                              (unsigned char)(uh >> 8),
                              (unsigned char)uh,
                              (unsigned char)(uw >> 8),
                              (unsigned char)uw,
                              3};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/jpeg");
    } else if (!strcmp(ext, "gif")) {
        unsigned char hd[] = {'G',
                              'I',
                              'F',
                              '8',
                              '9',
                              'a',
                              (unsigned char)uw,
                              (unsigned char)(uw >> 8),
                              (unsigned char)uh,
                              (unsigned char)(uh >> 8),
                              0,
                              0,
                              0};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/gif");
    } else if (!strcmp(ext, "webp")) {
        unsigned w1 = uw - 1, h1 = uh - 1;
        unsigned char hd[] = {'R',
                              'I',
                              'F',
                              'F',
                              22,
                              0,
                              0,
                              0,
                              'W',
                              'E',
                              'B',
                              'P',
                              'V',
                              'P',
                              '8',
                              'X',
                              10,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              (unsigned char)w1,
                              (unsigned char)(w1 >> 8),
                              (unsigned char)(w1 >> 16),
                              (unsigned char)h1,
                              (unsigned char)(h1 >> 8),
                              (unsigned char)(h1 >> 16)};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/webp");
    } else {
        reply_error(r, 404, "mock: image type must be png, jpg, gif or webp", false);
        return;
    }
    while (b->len < bytes)
        buf_putc(b, 0);
    if (!strcmp(r->method, "HEAD")) {
        r->srv->rep.segs[0].delay_ms = r->d.delay_ms;
        rep_head(r, status, ct, (long long)b->len, NULL);
        return;
    }
    send_body(r, status, ct, NULL);
}

/* ------------------------------------------------------------------------- */
/* Routing and dispatch */

static enum op openai_op(const char *tail)
{
    static const struct {
        const char *suffix;
        enum op op;
    } tab[] = {
        {"/chat/completions", OP_CHAT},
        {"/completions", OP_COMPLETIONS},
        {"/embeddings", OP_EMBEDDINGS},
        {"/moderations", OP_MODERATIONS},
        {"/images/generations", OP_IMAGES},
        {"/audio/transcriptions", OP_TRANSCRIBE},
        {"/audio/translations", OP_TRANSLATE},
        {"/audio/speech", OP_SPEECH},
        {"/edits", OP_EDITS},
    };
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (has_suffix(tail, tab[i].suffix))
            return tab[i].op;
    return OP_NONE;
}

/* Decodes %XX escapes of s[0..n) into out (cap bytes, cut to fit). */
static void pct_decode(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Decides provider and operation from the path (and, for model lists, from the auth headers). */
static void route(struct req *r)
{
    const char *p = r->path;
    r->prov = P_OPENAI;
    r->op = OP_NONE;
    if (has_prefix(p, "/img/")) {
        r->op = OP_IMAGE_FILE;
        return;
    }
    const struct hdr *up = hfind(r, "upgrade");
    if (up && mem_ieq(up->val, up->val_len, "websocket")) {
        r->prov = P_SPARK; /* the only WebSocket API the mock speaks */
        return;
    }
    if (has_prefix(p, "/push/") || !strcmp(p, "/push")) {
        r->op = OP_PUSH;
        return;
    }
    if (has_suffix(p, "/dashboard/billing/credit_grants") || has_suffix(p, "/sb-api/user/status") ||
        has_suffix(p, "/api/report/getUserOverview")) {
        r->op = OP_BALANCE;
        return;
    }
    const char *bm = strstr(p, "/model/");
    const char *bslash = bm ? strchr(bm + 7, '/') : NULL;
    if (bslash && (has_suffix(p, "/invoke") || has_suffix(p, "/invoke-with-response-stream"))) {
        const char *id = bm + 7, *slash = bslash;
        r->prov = P_BEDROCK;
        r->op = has_suffix(p, "/invoke") ? OP_BR_INVOKE : OP_BR_STREAM;
        pct_decode(r->pmodel, sizeof r->pmodel, id, (size_t)(slash - id));
        return;
    }
    if (has_suffix(p, "/predictions") && strstr(p, "/models/")) {
        const char *m = strstr(p, "/models/") + 8;
        r->prov = P_REPLICATE;
        r->op = OP_RP_CREATE;
        copy_str(r->pmodel, sizeof r->pmodel, m, strlen(m) - strlen("/predictions"));
        return;
    }
    static const struct {
        const char *prefix;
        enum op op;
    } rp[] = {{"/v1/predictions/", OP_RP_GET},
              {"/v1/streams/", OP_RP_STREAM},
              {"/v1/files/", OP_RP_FILE}};
    for (size_t i = 0; i < sizeof rp / sizeof *rp; i++)
        if (has_prefix(p, rp[i].prefix)) {
            r->prov = P_REPLICATE;
            r->op = rp[i].op;
            return;
        }
    if (has_prefix(p, "/api/paas/v4/")) {
        r->prov = P_ZHIPU;
        r->op = openai_op(p);
        return;
    }
    if (has_prefix(p, "/api/paas/v3/model-api/")) {
        const char *m = p + strlen("/api/paas/v3/model-api/"), *slash = strchr(m, '/');
        r->prov = P_ZHIPU;
        if (slash && (!strcmp(slash, "/invoke") || !strcmp(slash, "/sse-invoke"))) {
            r->op = OP_ZP_V3;
            copy_str(r->pmodel, sizeof r->pmodel, m, (size_t)(slash - m));
        }
        return;
    }
    if (has_suffix(p, "/open_api/v2/chat")) {
        r->prov = P_COZE;
        r->op = OP_COZE_CHAT;
        return;
    }
    if (has_suffix(p, "/api/library/ask")) {
        r->prov = P_AIPROXYLIB;
        r->op = OP_LIB_ASK;
        return;
    }
    if (has_prefix(p, "/client/v4/accounts/")) {
        const char *run = strstr(p, "/ai/run/");
        r->prov = P_CLOUDFLARE;
        if (run) {
            r->op = OP_CF_RUN;
            copy_str(r->pmodel, sizeof r->pmodel, run + 8, strlen(run + 8));
        } else if (strstr(p, "/ai/v1/")) {
            r->op = openai_op(p);
        }
        return;
    }
    static const struct {
        const char *suffix;
        enum op op;
    } al[] = {{"/api/v1/services/aigc/text-generation/generation", OP_AL_CHAT},
              {"/api/v1/services/embeddings/text-embedding/text-embedding", OP_AL_EMBED},
              {"/api/v1/services/aigc/text2image/image-synthesis", OP_AL_IMAGE}};
    for (size_t i = 0; i < sizeof al / sizeof *al; i++)
        if (has_suffix(p, al[i].suffix)) {
            r->prov = P_ALI;
            r->op = al[i].op;
            return;
        }
    if (has_prefix(p, "/api/v1/tasks/")) {
        r->prov = P_ALI;
        r->op = OP_AL_TASK;
        return;
    }
    if (has_suffix(p, "/api/chat") || has_suffix(p, "/api/embed")) {
        r->prov = P_OLLAMA;
        r->op = has_suffix(p, "/api/chat") ? OP_OL_CHAT : OP_OL_EMBED;
        return;
    }
    if (has_prefix(p, "/openai/deployments/")) {
        const char *dep = p + strlen("/openai/deployments/");
        const char *slash = strchr(dep, '/');
        r->prov = P_AZURE;
        if (!slash)
            return;
        copy_str(r->deployment, sizeof r->deployment, dep, (size_t)(slash - dep));
        r->op = openai_op(slash);
        return;
    }
    if (!strcmp(p, "/oauth/2.0/token")) {
        r->op = OP_BD_TOKEN;
        return;
    }
    if (has_prefix(p, "/rpc/2.0/ai_custom/v1/wenxinworkshop/")) {
        const char *ep = p + strlen("/rpc/2.0/ai_custom/v1/wenxinworkshop/");
        r->op = has_prefix(ep, "chat/")         ? OP_BD_CHAT
                : has_prefix(ep, "embeddings/") ? OP_BD_EMBED
                                                : OP_NONE;
        return;
    }
    if (hfind(r, "x-tc-action")) {
        r->prov = P_TENCENT;
        r->op = OP_TC;
        return;
    }
    if (has_suffix(p, "/v1/text/chatcompletion_v2")) {
        r->prov = P_MINIMAX;
        r->op = OP_MM_CHAT;
        return;
    }
    if (!strcmp(p, "/token")) {
        r->vertex = true;
        r->op = OP_VX_TOKEN;
        return;
    }
    const char *pub = strstr(p, "/projects/") ? strstr(p, "/publishers/") : NULL;
    if (pub) {
        /* Vertex AI: .../publishers/google/models/M:generateContent is Gemini's body, and
         * .../publishers/anthropic/models/M:rawPredict Anthropic's. */
        r->vertex = true;
        const char *am = "/publishers/anthropic/models/";
        if (has_prefix(pub, am)) {
            const char *model = pub + strlen(am), *colon = strchr(model, ':');
            r->prov = P_ANTHROPIC;
            if (colon && (!strcmp(colon, ":rawPredict") || !strcmp(colon, ":streamRawPredict"))) {
                r->op = OP_MESSAGES;
                copy_str(r->pmodel, sizeof r->pmodel, model, (size_t)(colon - model));
            }
            return;
        }
        if (!has_prefix(pub, "/publishers/google/models/"))
            return;
    }
    if (has_suffix(p, "/v2/translate")) {
        r->prov = P_DEEPL;
        r->op = OP_DEEPL;
        return;
    }
    if (has_suffix(p, ":generateMessage")) {
        r->prov = P_PALM;
        r->op = OP_PALM;
        return;
    }
    const char *m = strstr(p, "/models/");
    const char *colon = m ? strchr(m + 8, ':') : NULL;
    if (colon) {
        static const struct {
            const char *name;
            enum op op;
        } gm[] = {
            {"generateContent", OP_GENERATE}, {"streamGenerateContent", OP_STREAM},
            {"embedContent", OP_EMBED},       {"batchEmbedContents", OP_BATCH_EMBED},
            {"countTokens", OP_GCOUNT},
        };
        for (size_t i = 0; i < sizeof gm / sizeof *gm; i++)
            if (!strcmp(colon + 1, gm[i].name)) {
                r->prov = P_GEMINI;
                r->op = gm[i].op;
                copy_str(r->pmodel, sizeof r->pmodel, m + 8, (size_t)(colon - m - 8));
                return;
            }
    }
    if (!strcmp(p, "/v1/chat") || has_suffix(p, "/v1/chat")) {
        r->prov = P_COHERE;
        r->op = OP_CO_CHAT;
        return;
    }
    if (has_suffix(p, "/messages") || has_suffix(p, "/messages/count_tokens")) {
        r->prov = P_ANTHROPIC;
        r->op = has_suffix(p, "/messages") ? OP_MESSAGES : OP_COUNT_TOKENS;
        return;
    }
    if (has_suffix(p, "/models") || m) {
        r->op = m ? OP_MODEL : OP_MODELS;
        if (m)
            copy_str(r->pmodel, sizeof r->pmodel, m + 8, strlen(m + 8));
        if (strstr(p, "/v1beta/") || hfind(r, "x-goog-api-key") || strstr(r->query, "key="))
            r->prov = P_GEMINI;
        else if (hfind(r, "x-api-key") || hfind(r, "anthropic-version"))
            r->prov = P_ANTHROPIC;
        return;
    }
    r->op = openai_op(p);
    /* legacy /v1/engines/{model}/embeddings names the model in the path */
    const char *eng = strstr(p, "/engines/");
    if (eng) {
        const char *slash = strchr(eng + 9, '/');
        copy_str(r->pmodel, sizeof r->pmodel, eng + 9,
                 slash ? (size_t)(slash - eng - 9) : strlen(eng + 9));
    }
}

static void req_key(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    if (h && h->val_len > 7 && !strncasecmp(h->val, "Bearer ", 7)) {
        copy_str(r->key, sizeof r->key, h->val + 7, h->val_len - 7);
        return;
    }
    if (h && h->val_len > 28 && !strncmp(h->val, "AWS4-HMAC-SHA256 Credential=", 28)) {
        const char *ak = h->val + 28, *end = memchr(ak, '/', h->val_len - 28);
        copy_str(r->key, sizeof r->key, ak, end ? (size_t)(end - ak) : h->val_len - 28);
        return;
    }
    if (h && h->val_len > 28 && !strncmp(h->val, "TC3-HMAC-SHA256 Credential=", 27)) {
        /* Tencent: the SecretId names the key. */
        const char *id = h->val + 27, *slash = memchr(id, '/', h->val_len - 27);
        copy_str(r->key, sizeof r->key, id, slash ? (size_t)(slash - id) : h->val_len - 27);
        return;
    }
    if (h && h->val_len > 15 && !strncmp(h->val, "DeepL-Auth-Key ", 15)) {
        copy_str(r->key, sizeof r->key, h->val + 15, h->val_len - 15);
        return;
    }
    static const char *const names[] = {"api-key", "x-api-key", "x-goog-api-key"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((h = hfind(r, names[i])) != NULL) {
            copy_str(r->key, sizeof r->key, h->val, h->val_len);
            return;
        }
    if (query_param(r->query, "key", r->key, sizeof r->key))
        return;
    /* A bare credential (no scheme) is how One API's Proxy channels send their key. */
    h = hfind(r, "authorization");
    if (h && h->val_len && !memchr(h->val, ' ', h->val_len))
        copy_str(r->key, sizeof r->key, h->val, h->val_len);
}

/* The text that may hold [[mock ...]]: the last user message, or the field playing its role. */
static void directive_text(struct req *r, struct buf *t)
{
    json_object *j = r->json;
    buf_clear(t);
    if (r->op == OP_TRANSCRIBE || r->op == OP_TRANSLATE) {
        if (r->mp_prompt)
            buf_put(t, r->mp_prompt, r->mp_prompt_len);
        return;
    }
    if (!j) {
        if (r->body)
            buf_put(t, r->body, r->body_len);
        return;
    }
    json_object *list = NULL, *v = NULL;
    switch (r->op) {
    case OP_TC:
        list = jarr(j, "Messages");
        if (list) {
            for (size_t i = jlen(list); i-- > 0;) {
                json_object *m = json_object_array_get_idx(list, i);
                const char *role = jstr(m, "Role");
                if (role && !strcmp(role, "user")) {
                    v = jget(m, "Content");
                    break;
                }
            }
        } else if (jlen(list = jarr(j, "InputList"))) {
            v = json_object_array_get_idx(list, jlen(list) - 1);
        }
        break;
    case OP_CHAT:
    case OP_MM_CHAT:
    case OP_OL_CHAT:
    case OP_BD_CHAT:
    case OP_MESSAGES:
    case OP_BR_INVOKE:
    case OP_BR_STREAM:
    case OP_COUNT_TOKENS:
        list = jarr(j, "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (role && !strcmp(role, "user")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_GENERATE:
    case OP_STREAM:
    case OP_GCOUNT:
        list = jarr(j, "contents");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (!role || !strcmp(role, "user")) {
                v = jget(m, "parts");
                break;
            }
        }
        break;
    case OP_COMPLETIONS:
    case OP_IMAGES: v = jget(j, "prompt"); break;
    case OP_EDITS: v = jget(j, "instruction"); break;
    case OP_EMBEDDINGS:
    case OP_OL_EMBED:
    case OP_MODERATIONS:
    case OP_SPEECH: v = jget(j, "input"); break;
    case OP_EMBED: v = jget(j, "content"); break;
    case OP_DEEPL:
        list = jarr(j, "text");
        if (jlen(list))
            v = json_object_array_get_idx(list, jlen(list) - 1);
        break;
    case OP_PALM:
        list = jarr(jget(j, "prompt"), "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *author = jstr(m, "author");
            if (author && !strcmp(author, "0")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_CO_CHAT: v = jget(j, "message"); break;
    case OP_RP_CREATE: v = jget(jget(j, "input"), "prompt"); break;
    case OP_AL_CHAT:
        list = jarr(jget(j, "input"), "messages");
        for (size_t i = jlen(list); i-- > 0;) {
            json_object *m = json_object_array_get_idx(list, i);
            const char *role = jstr(m, "role");
            if (role && !strcmp(role, "user")) {
                v = jget(m, "content");
                break;
            }
        }
        break;
    case OP_AL_EMBED:
        list = jarr(jget(j, "input"), "texts");
        if (jlen(list))
            v = json_object_array_get_idx(list, jlen(list) - 1);
        break;
    case OP_AL_IMAGE: v = jget(jget(j, "input"), "prompt"); break;
    case OP_ZP_V3:
        list = jarr(j, "prompt");
        if (jlen(list))
            v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        break;
    case OP_COZE_CHAT:
    case OP_LIB_ASK: v = jget(j, "query"); break;
    case OP_CF_RUN:
        v = jget(j, "prompt");
        if (!v) {
            list = jarr(j, "messages");
            if (jlen(list))
                v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        }
        break;
    case OP_BATCH_EMBED:
        list = jarr(j, "requests");
        if (jlen(list))
            v = jget(json_object_array_get_idx(list, jlen(list) - 1), "content");
        break;
    default: break;
    }
    jtext(v, t, 0);
}

static bool op_needs_json(enum op op)
{
    return op != OP_MODELS && op != OP_MODEL && op != OP_TRANSCRIBE && op != OP_TRANSLATE &&
           op != OP_BALANCE && op != OP_RP_GET && op != OP_RP_STREAM && op != OP_RP_FILE &&
           op != OP_AL_TASK && op != OP_IMAGE_FILE;
}

static void dispatch(struct server *srv, struct req *r)
{
    r->now = time(NULL);
    buf_clear(&srv->path);
    /* Through a proxy the target is absolute ("http://host/path"): route on its path, as a
     * forward proxy to the named host would (the recorded path keeps the whole URL). */
    const char *target = r->target;
    if (!strncmp(target, "http://", 7)) {
        const char *slash = strchr(target + 7, '/');
        target = slash ? slash : "/";
    }
    buf_puts(&srv->path, target);
    char *q = strchr(srv->path.p, '?');
    if (q)
        *q++ = '\0';
    r->path = srv->path.p;
    r->query = q ? q : "";
    dir_defaults(&r->d);
    if (has_prefix(r->path, "/_mock/")) {
        srv->st.requests_control++;
        control(r);
        return;
    }
    /* only provider requests are numbered, so ?since= sees no gaps from control calls */
    r->seq = ++srv->seq;
    srv->st.requests_total++;
    route(r);
    srv->st.requests[r->prov]++;
    req_key(r);
    r->rec = rec_new(srv, r);
    r->crlf = r->prov == P_GEMINI;
    if (r->prov == P_SPARK) {
        h_spark_upgrade(r);
        return;
    }

    if (r->op == OP_TRANSCRIBE || r->op == OP_TRANSLATE) {
        multipart_parse(r);
    } else if (r->body_len) {
        json_tokener_reset(srv->tok);
        r->json = json_tokener_parse_ex(srv->tok, r->body, (int)r->body_len);
        if (!r->json || json_tokener_get_parse_end(srv->tok) < r->body_len) {
            json_object_put(r->json);
            r->json = NULL;
            r->bad_json = true;
        }
    }
    if (r->json)
        rec_model(r, jstr(r->json, "model"));
    if (!r->rec->model && (r->pmodel[0] || r->deployment[0]))
        rec_model(r, r->pmodel[0] ? r->pmodel : r->deployment);

    /* Vertex: the token endpoint and the token check come before scripts and directives,
     * which are about the model's answer. */
    if (r->op == OP_VX_TOKEN) {
        h_vx_token(r);
        goto out;
    }
    if (r->vertex && !vx_authorized(r))
        goto out;
    if (r->prov == P_ZHIPU && !zp_authorized(r))
        goto out;

    if (r->op == OP_BD_TOKEN) {
        h_bd_token(r);
        goto out;
    }
    directive_text(r, &srv->text);
    dir_scan(&r->d, srv->text.p, srv->text.len);
    if (r->op == OP_BD_CHAT || r->op == OP_BD_EMBED) {
        h_bd_call(r);
        goto out;
    }

    json_object *entry = script_pop(srv, r->key);
    if (entry) {
        srv->st.scripted++;
        r->rec->scripted = true;
        bool done = script_apply(r, entry);
        json_object_put(entry);
        if (done)
            goto out;
    }
    if (r->d.eol)
        r->crlf = r->d.eol == 2;
    if (r->d.close) {
        srv->st.dropped++;
        srv->rep.segs[0].delay_ms = r->d.delay_ms;
        srv->rep.cut = true;
        goto out;
    }
    if (r->d.status) {
        srv->st.injected_errors++;
        reply_error(r, r->d.status, NULL, true);
        goto out;
    }
    if (r->op == OP_NONE) {
        char msg[300];
        snprintf(msg, sizeof msg, "mock: unknown endpoint %s %s", r->method, r->path);
        copy_str(r->d.err_code, sizeof r->d.err_code, "unknown_url", 11);
        reply_error(r, 404, msg, true);
        goto out;
    }
    bool want_get = r->op == OP_MODELS || r->op == OP_MODEL || r->op == OP_BALANCE ||
                    r->op == OP_RP_GET || r->op == OP_RP_STREAM || r->op == OP_RP_FILE ||
                    r->op == OP_AL_TASK || r->op == OP_IMAGE_FILE;
    if (strcmp(r->method, want_get ? "GET" : "POST") &&
        !(r->op == OP_IMAGE_FILE && !strcmp(r->method, "HEAD"))) {
        reply_errorf(r, 405, "mock: use %s for %s", want_get ? "GET" : "POST", r->path);
        goto out;
    }
    if (op_needs_json(r->op) && !r->json) {
        reply_error(r, 400,
                    r->bad_json ? "mock: request body is not valid JSON"
                                : "mock: request body is required",
                    false);
        goto out;
    }
    if (r->d.tool[0] && r->d.args[0]) {
        json_object *a = json_tokener_parse(r->d.args);
        bool ok = a && json_object_is_type(a, json_type_object);
        json_object_put(a);
        if (!ok) {
            reply_error(r, 400, "mock: args= must be a JSON object", false);
            goto out;
        }
    }
    /* These check the Bearer token before anything else, as the real services do. */
    if ((r->prov == P_COZE || r->prov == P_CLOUDFLARE || r->prov == P_AIPROXYLIB) && !r->key[0]) {
        reply_error(r, 401,
                    r->prov == P_CLOUDFLARE ? "Authentication error" : "authentication is invalid",
                    false);
        goto out;
    }
    if (r->prov == P_AZURE && r->d.strict && !strstr(r->query, "api-version=")) {
        struct buf *b = body_reset(srv);
        buf_lit(b, "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}");
        send_body(r, 404, "application/json", NULL);
        goto out;
    }
    switch (r->op) {
    case OP_CHAT: h_oa_chat(r); break;
    case OP_COMPLETIONS: h_oa_completions(r); break;
    case OP_OL_CHAT: h_ol_chat(r); break;
    case OP_OL_EMBED: h_ol_embed(r); break;
    case OP_EMBEDDINGS: h_oa_embeddings(r); break;
    case OP_MM_CHAT: h_mm_chat(r); break;
    case OP_TC: h_tc(r); break;
    case OP_MODERATIONS: h_oa_moderations(r); break;
    case OP_IMAGES: h_oa_images(r); break;
    case OP_TRANSCRIBE:
    case OP_TRANSLATE: h_oa_audio_text(r); break;
    case OP_SPEECH: h_oa_speech(r); break;
    case OP_MODELS:
    case OP_MODEL: h_models(r); break;
    case OP_MESSAGES:
    case OP_COUNT_TOKENS: h_an_messages(r); break;
    case OP_GENERATE:
    case OP_STREAM:
    case OP_GCOUNT: h_gm_generate(r); break;
    case OP_EMBED:
    case OP_BATCH_EMBED: h_gm_embed(r); break;
    case OP_PUSH: h_push(r); break;
    case OP_BALANCE: h_balance(r); break;
    case OP_DEEPL: h_deepl(r); break;
    case OP_PALM: h_palm(r); break;
    case OP_CO_CHAT: h_co_chat(r); break;
    case OP_BR_INVOKE:
    case OP_BR_STREAM: h_br_invoke(r); break;
    case OP_RP_CREATE: h_rp_create(r); break;
    case OP_RP_GET: h_rp_get(r); break;
    case OP_RP_STREAM: h_rp_stream(r); break;
    case OP_RP_FILE: h_rp_file(r); break;
    case OP_AL_CHAT: h_al_chat(r); break;
    case OP_AL_EMBED: h_al_embed(r); break;
    case OP_AL_IMAGE: h_al_image(r); break;
    case OP_AL_TASK: h_al_task(r); break;
    case OP_EDITS: h_oa_edits(r); break;
    case OP_IMAGE_FILE: h_image_file(r); break;
    case OP_COZE_CHAT: h_coze_chat(r); break;
    case OP_CF_RUN: h_cf_run(r); break;
    case OP_LIB_ASK: h_lib_ask(r); break;
    case OP_ZP_V3: h_zp_v3(r); break;
    case OP_VX_TOKEN:
    case OP_BD_TOKEN:
    case OP_BD_CHAT:
    case OP_BD_EMBED:
    case OP_NONE: break;
    }
out:
    json_object_put(r->json);
    r->json = NULL;
}

/* ------------------------------------------------------------------------- */
/* Start-up, event loop, shutdown */

static int listen_on(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) {
        fprintf(stderr, "mock_upstream: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "mock_upstream: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "mock_upstream: setrlimit(RLIMIT_NOFILE): %s\n", strerror(errno));
    }
}

static void conn_event(struct server *srv, struct conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(srv, c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && conn_read(srv, c) < 0)
        return;
    conn_progress(srv, c);
}

static void run(struct server *srv)
{
    struct epoll_event evs[256];
    while (!srv->stopping) {
        int timeout = -1;
        if (srv->heap_len) {
            uint64_t now = mono_ms(), due = srv->heap[0]->due_ms;
            timeout = due <= now ? 0 : due - now > INT_MAX ? INT_MAX : (int)(due - now);
        }
        int n = epoll_wait(srv->epfd, evs, (int)(sizeof evs / sizeof *evs), timeout);
        if (n < 0 && errno != EINTR) {
            perror("mock_upstream: epoll_wait");
            return;
        }
        srv->now_ms = mono_ms();
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &srv->lfd) {
                accept_all(srv);
            } else if (ptr == &srv->sfd) {
                struct signalfd_siginfo si;
                if (read(srv->sfd, &si, sizeof si) > 0)
                    srv->stopping = true;
            } else {
                conn_event(srv, ptr, evs[i].events);
            }
        }
        srv->now_ms = mono_ms();
        while (srv->heap_len && srv->heap[0]->due_ms <= srv->now_ms) {
            struct conn *c = srv->heap[0];
            timer_del(srv, c);
            if (c->sched)
                sched_run(srv, c, true);
            conn_progress(srv, c);
        }
    }
}

static void server_free(struct server *srv)
{
    while (srv->conns) {
        conn_close(srv, srv->conns);
    }
    log_clear(srv);
    free(srv->log);
    free(srv->preds);
    script_clear(srv);
    free(srv->heap);
    rep_free(&srv->rep);
    buf_free(&srv->body);
    buf_free(&srv->ev);
    buf_free(&srv->text);
    buf_free(&srv->piece);
    buf_free(&srv->dechunked);
    buf_free(&srv->path);
    buf_free(&srv->frame);
    json_object_put(srv->aws_keys);
    if (srv->tok)
        json_tokener_free(srv->tok);
    EVP_PKEY_free(srv->vx.pub);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->sfd >= 0)
        close(srv->sfd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    free(srv);
}

static void usage(FILE *f)
{
    fputs(
        "usage: mock_upstream --port N [--host 127.0.0.1] [--log-size 256]\n"
        "  --port 0 picks a free port; the first stdout line is always \"PORT <n>\".\n"
        "  See tests/mock/README.md for endpoints, [[mock ...]] directives and /_mock/ control.\n",
        f);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1, log_size = DEFAULT_LOG_SIZE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--port") && v) {
            port = strtol(v, &end, 10);
            i++;
        } else if (!strcmp(a, "--host") && v) {
            host = v;
            i++;
        } else if (!strcmp(a, "--log-size") && v) {
            log_size = strtol(v, &end, 10);
            i++;
        } else {
            usage(stderr);
            return 2;
        }
        if (end && *end) {
            usage(stderr);
            return 2;
        }
    }
    if (port < 0 || port > 65535 || log_size < 1 || log_size > 1000000) {
        usage(stderr);
        return 2;
    }

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    struct server *srv = xrealloc(NULL, sizeof *srv);
    memset(srv, 0, sizeof *srv);
    srv->lfd = srv->sfd = srv->epfd = -1;
    srv->log_cap = (size_t)log_size;
    srv->log = xrealloc(NULL, srv->log_cap * sizeof *srv->log);
    srv->preds = xrealloc(NULL, RP_MAX * sizeof *srv->preds);
    memset(srv->preds, 0, RP_MAX * sizeof *srv->preds);
    memset(srv->log, 0, srv->log_cap * sizeof *srv->log);
    srv->tok = json_tokener_new_ex(128); /* tool schemas nest deeper than the default 32 */
    srv->vx.expires_in = 3600;
    /* iFlytek's documentation example credentials */
    spark_cred_set(srv, "addd2272b6d8b7c8abdd79531420ca3b", "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi", 0);
    srv->started = time(NULL);
    rep_reset(&srv->rep);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    srv->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->lfd = listen_on(host, (int)port);
    if (srv->lfd < 0 || srv->sfd < 0 || srv->epfd < 0 || !srv->tok) {
        server_free(srv);
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->lfd};
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev);
    ev.data.ptr = &srv->sfd;
    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->sfd, &ev);

    printf("PORT %d\n", bound_port(srv->lfd));
    fflush(stdout);

    run(srv);
    server_free(srv);
    return 0;
}
