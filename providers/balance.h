/* Balance APIs: how each upstream that has one reports what is left on a key. Pure: the core
 * passes the HTTP transport in as a fetch callback, so nothing here touches curl or the
 * database; the channel type registry names each type's function. */
#ifndef OA_BALANCE_H
#define OA_BALANCE_H
#include <stddef.h>

struct arena;
struct prov_channel;

/* The transport the core lends: GETs url with one extra header line ("Name: value").
 * Returns 0 with the HTTP status and the body (NUL-terminated, in the arena the core chose)
 * once an answer arrived, or -1 with a one-line reason in *why. */
struct prov_fetch {
    int (*get)(void *ud, const char *url, const char *header, long *status, const char **body,
               size_t *n, const char **why);
    void *ud;
};

/* The balance of channel ch through f: 0 with *out (US$; CNY for DeepSeek), or -1 with a
 * one-line reason in *why (static or in a): the transport's, "status code: N", "invalid JSON
 * from the upstream", the upstream's own error, or "unexpected answer from the upstream". */
typedef int (*prov_balance_fn)(const struct prov_channel *ch, struct arena *a,
                               const struct prov_fetch *f, double *out, const char **why);

/* OpenAI and Custom: the subscription's hard limit minus the usage since the start of the
 * month (with a payment method) or of the last 100 days (without), as One API computes it. */
int balance_openai(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                   double *out, const char **why);
/* DeepSeek: the CNY entry of /user/balance. */
int balance_deepseek(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                     double *out, const char **why);
/* OpenRouter: total credits minus total usage of /v1/credits. */
int balance_openrouter(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                       double *out, const char **why);
/* SiliconFlow: totalBalance of /v1/user/info (code 20000). */
int balance_siliconflow(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                        double *out, const char **why);
/* CloseAI: total_available of its API host's credit grants. */
int balance_closeai(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why);
/* API2GPT: total_remaining of the credit grants at api.api2gpt.com. */
int balance_api2gpt(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why);
/* AIGC2D: total_available of the credit grants at api.aigc2d.com. */
int balance_aigc2d(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                   double *out, const char **why);
/* OpenAI-SB: data.credit of /sb-api/user/status, the key also in the query. */
int balance_openai_sb(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                      double *out, const char **why);
/* AIProxy: data.totalPoints of /api/report/getUserOverview, the key in Api-Key; an answer
 * without success is an error with its code and message. */
int balance_aiproxy(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why);

#endif
