/* tc3: TencentCloud's TC3-HMAC-SHA256 signature of a POST request. */
#include "config.h"
#include "providers/tc3.h"

#include <string.h>
#include <time.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/strbuf.h"

static void hex32(const unsigned char d[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

/* The UTC date of t as YYYY-MM-DD: the date in the scope is UTC's, never the local one
 * (near midnight in Beijing the two differ). */
static void utc_date(int64_t t, char out[11])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 11, "%Y-%m-%d", &tm))
        memcpy(out, "1970-01-01", 11);
}

static const char *signed_headers(const struct tc3_input *in)
{
    return in->action ? "content-type;host;x-tc-action" : "content-type;host";
}

void tc3_signature(const struct tc3_input *in, char sig[65])
{
    unsigned char d[32];
    char hex[65], date[11];
    struct arena *a = arena_new(1024);
    struct strbuf sb;

    /* The canonical request: method, path, query, headers (each line ending in \n, so a
     * blank line follows), signed header names, payload hash. */
    sb_init(&sb, a);
    SB_LIT(&sb, "POST\n/\n\ncontent-type:");
    sb_puts(&sb, in->content_type);
    SB_LIT(&sb, "\nhost:");
    sb_puts(&sb, in->host);
    SB_LIT(&sb, "\n");
    if (in->action) {
        SB_LIT(&sb, "x-tc-action:");
        for (const char *p = in->action; *p; p++)
            sb_putc(&sb, (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p));
        SB_LIT(&sb, "\n");
    }
    sb_putc(&sb, '\n');
    sb_puts(&sb, signed_headers(in));
    sb_putc(&sb, '\n');
    sha256(in->body ? in->body : "", in->body_len, d);
    hex32(d, hex);
    sb_puts(&sb, hex);
    sha256(sb.p, sb.len, d);
    hex32(d, hex);

    utc_date(in->timestamp, date);
    sb_reset(&sb);
    sb_printf(&sb, "TC3-HMAC-SHA256\n%lld\n%s/%s/tc3_request\n%s", (long long)in->timestamp, date,
              in->service, hex);

    unsigned char k_date[32], k_service[32], k_signing[32];
    char *key0 = arena_printf(a, "TC3%s", in->secret_key);
    hmac_sha256(key0, strlen(key0), date, strlen(date), k_date);
    hmac_sha256(k_date, sizeof k_date, in->service, strlen(in->service), k_service);
    hmac_sha256(k_service, sizeof k_service, "tc3_request", 11, k_signing);
    hmac_sha256(k_signing, sizeof k_signing, sb.p, sb.len, d);
    hex32(d, sig);
    /* The derived keys are as secret as the key itself. */
    memset(k_date, 0, sizeof k_date);
    memset(k_service, 0, sizeof k_service);
    memset(k_signing, 0, sizeof k_signing);
    memset(key0, 0, strlen(key0));
    arena_free(a);
}

const char *tc3_authorization(struct arena *a, const struct tc3_input *in)
{
    char sig[65], date[11];
    tc3_signature(in, sig);
    utc_date(in->timestamp, date);
    return arena_printf(a,
                        "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=%s, "
                        "Signature=%s",
                        in->secret_id, date, in->service, signed_headers(in), sig);
}
