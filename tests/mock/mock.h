/* mock.h: what the mock upstream's files share: the includes, the limits, the server's data
 * structures (connections, requests, replies, directives, answer plans) and the functions one
 * file defines for the others. The files: mock_upstream.c (server, control API, routing),
 * mock_util.c (buffers, helpers, replies, directives, errors) and one mock_<family>.c per
 * family of provider wire formats. */

#ifndef MOCK_H
#define MOCK_H

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

/* The path prefix that stands for iFlytek Spark's HTTP API host (routing and its handler). */
#define XF_PREFIX "/spark-api-open"

/* ------------------------------------------------------------------------- */
/* Growable byte buffer */

struct buf {
    char *p;    /* NUL-terminated once anything was reserved */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
};

/* Appends a string literal. */
#define buf_lit(b, s) buf_put((b), "" s, sizeof(s) - 1)

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
    P_XFHTTP,
    P__MAX
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
    const char *method; /* NUL-terminated in the input buffer */
    char *target;       /* idem */
    const char *path;   /* in srv->path */
    const char *query;  /* in srv->path, "" when absent */
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

/* The provider names recorded and counted, indexed by enum prov. */
extern const char *const prov_names[P__MAX];

/* ------------------------------------------------------------------------- */
/* mock_util.c */

/* realloc that aborts when memory runs out; n 0 allocates one byte. */
void *xrealloc(void *p, size_t n);
/* A NUL-terminated heap copy of s[0..n); aborts when memory runs out. */
char *xstrndup(const char *s, size_t n);
/* Appends n bytes of s. */
void buf_put(struct buf *b, const void *s, size_t n);
/* Appends the C string s. */
void buf_puts(struct buf *b, const char *s);
/* Appends one byte. */
void buf_putc(struct buf *b, char ch);
/* Empties the buffer and keeps its memory. */
void buf_clear(struct buf *b);
/* Frees the buffer's memory and leaves it empty. */
void buf_free(struct buf *b);
/* Appends printf-formatted text. */
__attribute__((format(printf, 2, 3))) void buf_fmt(struct buf *b, const char *fmt, ...);
/* Appends s as a quoted JSON string. */
void buf_jstr(struct buf *b, const char *s, size_t n);
/* Appends the C string s as a quoted JSON string. */
void buf_jstrz(struct buf *b, const char *s);
/* Appends s[0..n) in standard base64 with padding. */
void buf_b64(struct buf *b, const unsigned char *s, size_t n);
/* Whether s starts with pre. */
bool has_prefix(const char *s, const char *pre);
/* Whether s ends with suf. */
bool has_suffix(const char *s, const char *suf);
/* Whether a[0..n) equals the C string z, ignoring ASCII case. */
bool mem_ieq(const char *a, size_t n, const char *z);
/* Whether z occurs in a[0..n), ignoring ASCII case. */
bool mem_icontains(const char *a, size_t n, const char *z);
/* Copies s[0..n) into dst (cap bytes), truncated and NUL-terminated. */
void copy_str(char *dst, size_t cap, const char *s, size_t n);
/* The number of whitespace-separated words in s[0..n): the mock's token count. */
int count_words(const char *s, size_t n);
/* Whether s[0..n) is well-formed UTF-8. */
bool utf8_valid(const unsigned char *s, size_t n);
/* FNV-1a hash of p[0..n), continuing from h. */
uint64_t fnv1a(const void *p, size_t n, uint64_t h);
/* A 64-bit finalizer that spreads every input bit over the result. */
uint64_t mix64(uint64_t x);
/* The monotonic clock in milliseconds. */
uint64_t mono_ms(void);
/* The wall clock in seconds. */
double wall_now(void);
/* Member k of object o, or NULL. */
json_object *jget(json_object *o, const char *k);
/* String member k of o, or NULL when absent or not a string. */
const char *jstr(json_object *o, const char *k);
/* Array member k of o, or NULL when absent or not an array. */
json_object *jarr(json_object *o, const char *k);
/* Length of array a (0 when a is not an array). */
size_t jlen(json_object *a);
/* Boolean member k of o; false when absent or not a boolean. */
bool jbool(json_object *o, const char *k);
/* Integer member k of o, or def when absent or not a number. */
int64_t jint(json_object *o, const char *k, int64_t def);
/* Appends every piece of text in a message content value, joined with one space. */
void jtext(json_object *v, struct buf *out, int depth);
/* Zeroes a reply that owns no memory yet. */
void rep_init(struct reply *p);
/* Frees a reply's memory and leaves it empty. */
void rep_free(struct reply *p);
/* Empties the reply but keeps its memory, leaving one segment sent without delay. */
void rep_reset(struct reply *p);
/* Starts a new segment sent delay_ms after the previous one; no-op without a delay. */
void rep_seg(struct reply *p, int delay_ms);
/* The HTTP reason phrase of a status. */
const char *reason_phrase(int status);
/* Writes the status line and headers; body_len < 0 starts a stream. */
void rep_head(struct req *r, int status, const char *ctype, long long body_len, const char *extra);
/* Sends srv->body as the whole reply, after the request's delay_ms. */
void send_body(struct req *r, int status, const char *ctype, const char *extra);
/* Empties and returns srv->body, the scratch response body. */
struct buf *body_reset(struct server *srv);
/* Writes the head of a streamed reply and counts the stream as started. */
void stream_head(struct req *r, int status, const char *ctype, const char *extra);
/* Appends srv->ev to the reply as one event (one HTTP chunk when chunked). */
void rep_event(struct req *r);
/* Ends the reply (the last chunk when it is chunked). */
void rep_finish(struct req *r);
/* Starts an SSE event "data: " in srv->ev and returns it. */
struct buf *sse_data(struct req *r);
/* Starts an event called name in srv->ev (for Bedrock, the bare JSON that sse_end frames). */
struct buf *sse_named(struct req *r, const char *name);
/* Ends the event in srv->ev and appends it to the reply. */
void sse_end(struct req *r);
/* Sets the directives every request starts with. */
void dir_defaults(struct directives *d);
/* Parses directives "key=value key=\"quoted value\" ..." from s[0..n) into d. */
void dir_parse(struct directives *d, const char *s, size_t n);
/* Applies the last [[mock ...]] found in s[0..n); false when there is none. */
bool dir_scan(struct directives *d, const char *s, size_t n);
/* What the answer holds (text chunks, tool-call fragments, tokens) under directives d. */
void plan_make(struct plan *p, const struct directives *d);
/* Appends text chunk i ("Hello", " from", " mock"... or the text= word) to out. */
void piece_append(const struct directives *d, int i, struct buf *out);
/* Text chunk i of the answer, in srv->piece. */
struct buf *piece(struct req *r, int i);
/* The first n text chunks joined, in srv->piece. */
struct buf *all_text(struct req *r, int n);
/* Fragment k of the tool-call arguments: *s and *n point into p->args. */
void arg_frag(const struct plan *p, int k, const char **s, size_t *n);
/* The provider's spelling of the finish reason (stop, length, filter, tool or raw). */
const char *finish_for(enum prov pv, const struct directives *d, bool tool);
/* Writes the provider's error object; overrides come from the directives when injected. */
void error_obj(struct buf *b, enum prov pv, int status, const char *msg,
               const struct directives *d);
/* Answers an error; injected (by a directive) lets err_type, err_code and msg apply. */
void reply_error(struct req *r, int status, const char *msg, bool injected);
/* reply_error with a printf-formatted message (the error type follows the status). */
__attribute__((format(printf, 3, 4))) void reply_errorf(struct req *r, int status, const char *fmt,
                                                        ...);
/* Mid-stream failure at the next event slot: cuts the connection or sends an error event. */
void stream_fail(struct req *r);
/* Writes d[0..n) as lower-case hex into out (2n + 1 bytes). */
void hex_of(const unsigned char *d, size_t n, char *out);
/* SHA-256 of p[0..n) as lower-case hex. */
void sha256_hex(const void *p, size_t n, char out[65]);
/* HMAC-SHA256 of msg[0..n) with key[0..kl). */
void hmac256(const void *key, size_t kl, const void *msg, size_t n, unsigned char out[32]);
/* Decodes base64url (no padding) s[0..n) into out (cap bytes, NUL added). */
long b64url_dec(const char *s, size_t n, unsigned char *out, size_t cap);
/* The base64url JSON segment s[0..n) parsed, or NULL. */
json_object *jwt_part(const char *s, size_t n);

/* ------------------------------------------------------------------------- */
/* mock_upstream.c */

/* The request's first header with this name (case-insensitive), or NULL. */
const struct hdr *hfind(const struct req *r, const char *name);
/* Records request r in the ring of recorded requests (the oldest is dropped when full). */
struct rec *rec_new(struct server *srv, const struct req *r);
/* Sets the model recorded for the request (no-op for an unrecorded one). */
void rec_model(struct req *r, const char *model);
/* Sets the token counts recorded for the request, and whether they were sent. */
void rec_tokens(struct req *r, int prompt, int completion, bool sent);
/* Answers {"ok": msg} below 400, else {"error": msg}. */
void ctl_msg(struct req *r, int status, const char *msg);
/* Copies the value of query parameter name (not percent-decoded) into out; false when absent. */
bool query_param(const char *q, const char *name, char *out, size_t cap);

/* ------------------------------------------------------------------------- */
/* mock_openai.c */

/* Whether a non-stream request with fail_after was dropped: it gets no answer at all. */
bool drop_if_failing(struct req *r, bool stream);
/* POST .../chat/completions (OpenAI, Azure and the OpenAI-compatible routes). */
void h_oa_chat(struct req *r);
/* POST .../completions: the legacy completions API. */
void h_oa_completions(struct req *r);
/* Appends a deterministic embedding of dims values from hash h, as a JSON array or base64. */
void emb_vector(struct server *srv, struct buf *b, uint64_t h, int dims, bool b64);
/* Hash of one embedding input (a string or token ids); *tokens gets its size. */
uint64_t emb_input(struct server *srv, json_object *v, int *tokens);
/* POST .../embeddings (OpenAI and Azure). */
void h_oa_embeddings(struct req *r);
/* POST .../moderations. */
void h_oa_moderations(struct req *r);
/* A valid 1x1 transparent PNG, for b64_json answers and Replicate's output files. */
extern const unsigned char tiny_png[67];
/* POST .../images/generations. */
void h_oa_images(struct req *r);
/* Picks the fields the mock needs out of a multipart/form-data body. */
bool multipart_parse(struct req *r);
/* POST .../audio/transcriptions and .../audio/translations (multipart). */
void h_oa_audio_text(struct req *r);
/* POST .../audio/speech. */
void h_oa_speech(struct req *r);
/* GET .../models and .../models/{id}, in the shape of the provider asked. */
void h_models(struct req *r);
/* POST .../edits. */
void h_oa_edits(struct req *r);

/* ------------------------------------------------------------------------- */
/* mock_anthropic.c */

/* POST .../messages and .../messages/count_tokens (Anthropic, Vertex AI's rawPredict). */
void h_an_messages(struct req *r);
/* POST .../model/{id}/invoke and invoke-with-response-stream (AWS Bedrock). */
void h_br_invoke(struct req *r);

/* ------------------------------------------------------------------------- */
/* mock_google.c */

/* Gemini's generateContent, streamGenerateContent and countTokens (also Vertex AI's). */
void h_gm_generate(struct req *r);
/* PaLM 2. */
void h_palm(struct req *r);
/* Gemini's embedContent and batchEmbedContents. */
void h_gm_embed(struct req *r);
/* POST /token. */
void h_vx_token(struct req *r);
/* Whether the Vertex call carries an issued, unexpired bearer token; else answers 401. */
bool vx_authorized(struct req *r);
/* /_mock/vertex: sets the service account's key and token lifetime, or reports counters. */
void ctl_vertex(struct req *r);

/* ------------------------------------------------------------------------- */
/* mock_spark.c */

/* Registers (or updates) a Spark key; NULL when the table is full. */
struct spark_cred *spark_cred_set(struct server *srv, const char *key, const char *secret,
                                  int code);
/* A Spark WebSocket handshake: checks the signed URL, then switches protocols. */
void h_spark_upgrade(struct req *r);
/* Reads one client frame of a Spark WebSocket: 0 when more input is needed, else 1. */
int spark_ws_next(struct server *srv, struct conn *c);
/* iFlytek Spark's HTTP chat (Xunfei V2) under /spark-api-open. */
void h_xf_chat(struct req *r);
/* POST /_mock/spark {"api_key". */
void ctl_spark(struct req *r);

/* ------------------------------------------------------------------------- */
/* mock_cn.c */

/* POST .../v1/text/chatcompletion_v2: MiniMax's chat. */
void h_mm_chat(struct req *r);
/* Tencent Hunyuan's API 3.0 call (the action is X-TC-Action). */
void h_tc(struct req *r);
/* DashScope text generation. */
void h_al_chat(struct req *r);
/* DashScope text embedding. */
void h_al_embed(struct req *r);
/* DashScope image synthesis: creates a task. */
void h_al_image(struct req *r);
/* GET .../api/v1/tasks/{id}: a DashScope task's state. */
void h_al_task(struct req *r);
/* Whether the call's Zhipu JWT passes and its key answers normally; else answers the error. */
bool zp_authorized(struct req *r);
/* Zhipu v3. */
void h_zp_v3(struct req *r);
/* /_mock/zhipu: adds a key, reports the tokens and calls, or zeroes the counters. */
void ctl_zhipu(struct req *r);
/* POST /oauth/2.0/token: Baidu's access-token endpoint. */
void h_bd_token(struct req *r);
/* Baidu ERNIE's chat and embeddings calls (wenxinworkshop). */
void h_bd_call(struct req *r);
/* /_mock/baidu: GET the counters; DELETE zeroes them and revokes every token. */
void ctl_baidu(struct req *r);

/* ------------------------------------------------------------------------- */
/* mock_misc.c */

/* DeepL. */
void h_deepl(struct req *r);
/* POST .../v1/chat: Cohere's v1 chat. */
void h_co_chat(struct req *r);
/* POST .../open_api/v2/chat: Coze's v2 chat. */
void h_coze_chat(struct req *r);
/* Cloudflare Workers AI's native POST .../ai/run/{model}. */
void h_cf_run(struct req *r);
/* POST .../api/library/ask: AI Proxy Library. */
void h_lib_ask(struct req *r);
/* POST .../api/chat: Ollama's native chat. */
void h_ol_chat(struct req *r);
/* POST .../api/embed: Ollama's native embeddings. */
void h_ol_embed(struct req *r);
/* Appends http://<Host header>, the base of the URLs the mock hands out. */
void rp_base(struct req *r, struct buf *b);
/* POST .../models/{owner}/{name}/predictions: creates a Replicate prediction. */
void h_rp_create(struct req *r);
/* GET .../predictions/{id}: a Replicate prediction's state. */
void h_rp_get(struct req *r);
/* GET .../streams/{id}: a Replicate prediction's event stream. */
void h_rp_stream(struct req *r);
/* GET .../files/{id}.png: a Replicate output file. */
void h_rp_file(struct req *r);
/* Message Pusher (github.com/songquanpeng/message-pusher). */
void h_push(struct req *r);
/* Balance queries (GET) in each provider's shape, with figures that tell the fields apart. */
void h_balance(struct req *r);
/* GET or HEAD /img/{W}x{H}.{png,jpg,gif,webp}. */
void h_image_file(struct req *r);

#endif /* MOCK_H */
