/* Checks providers/sigv4.c against AWS's published IAM example and a Bedrock InvokeModel
 * request signed by botocore: canonical request, signing key, signature, Authorization. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "providers/sigv4.h"
#include "tap.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* The exact body of the Bedrock vector (127 bytes). */
#define BEDROCK_BODY                                                                               \
    "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64,\"messages\":[{\"role\":"     \
    "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]}"

static void hexstr(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void sha_hex(const char *s, char out[65])
{
    unsigned char d[32];

    sha256(s, strlen(s), d);
    hexstr(d, 32, out);
}

/* AWS's own example: GET with a query string, an empty body, service iam. */
static void test_iam_example(struct arena *a)
{
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                             "Host: iam.amazonaws.com", "X-Amz-Date: 20150830T123600Z"};
    struct sigv4_request rq = {"GET", "/", "Version=2010-05-08&Action=ListUsers", headers, 3,
                               "",    0};
    struct sigv4_key k = {"AKIDEXAMPLE", SECRET, "us-east-1", "iam"};
    char h[65], sig[65];
    unsigned char key[32];
    const char *creq = sigv4_canonical_request(a, &rq);

    is_str(creq,
           "GET\n/\nAction=ListUsers&Version=2010-05-08\ncontent-type:application/"
           "x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:"
           "20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "IAM example: canonical request (query sorted, headers lowercased and sorted)");
    sha_hex(creq, h);
    is_str(h, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
           "IAM example: hash of the canonical request");
    sigv4_signing_key(SECRET, "20150830", "us-east-1", "iam", key);
    hexstr(key, 32, h);
    is_str(h, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
           "IAM example: signing key");
    sigv4_signature(a, &k, &rq, "20150830T123600Z", sig);
    is_str(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
           "IAM example: signature");
}

/* Bedrock InvokeModel: the model id's ':' travels as %3A and is signed as %253A. */
static void test_bedrock_invoke(struct arena *a)
{
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                             "Host: bedrock-runtime.us-east-1.amazonaws.com",
                             "X-Amz-Date: 20240115T120000Z"};
    struct sigv4_request rq = {"POST",
                               "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
                               "",
                               headers,
                               4,
                               BEDROCK_BODY,
                               strlen(BEDROCK_BODY)};
    struct sigv4_key k = {"AKIDEXAMPLE", SECRET, "us-east-1", "bedrock"};
    char h[65];
    unsigned char key[32];

    is_int(strlen(BEDROCK_BODY), 127, "Bedrock: the vector body is 127 bytes");
    const char *creq = sigv4_canonical_request(a, &rq);
    is_str(creq,
           "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/invoke\n\naccept:application/"
           "json\ncontent-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"
           "x-amz-date:20240115T120000Z\n\naccept;content-type;host;x-amz-date\n"
           "7acc1e17213f9716c6fcef88ccb755068d54db7535eb20f3b15a0d476549565a",
           "Bedrock: canonical request, path segments encoded twice");
    sha_hex(creq, h);
    is_str(h, "fd126b6cf1adecafa740fb887cdc5cbece094f532904dc117f648a4b43bace08",
           "Bedrock: hash of the canonical request");
    sigv4_signing_key(SECRET, "20240115", "us-east-1", "bedrock", key);
    hexstr(key, 32, h);
    is_str(h, "d4de7750f444a5199cbf173bfcceb1ef9613ceccaf3e489ccd1a1e1d5755047f",
           "Bedrock: signing key");
    is_str(sigv4_authorization(a, &k, &rq, "20240115T120000Z"),
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request, "
           "SignedHeaders=accept;content-type;host;x-amz-date, "
           "Signature=152d9ea2595c20cd10763f22883554deace2369896d217ac13209803a3f37148",
           "Bedrock: Authorization header");
}

/* Values are trimmed and inner blank runs collapse; query values are re-encoded canonically. */
static void test_normalisation(struct arena *a)
{
    const char *headers[] = {"X-Custom:   a   b  ", "host: h"};
    struct sigv4_request rq = {"GET", "/a%20b/", "b=2&a=x%2fy&c", headers, 2, "", 0};

    is_str(sigv4_canonical_request(a, &rq),
           "GET\n/a%2520b/\na=x%2Fy&b=2&c=\nhost:h\nx-custom:a b\n\nhost;x-custom\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "blank runs collapse, query sorted and re-encoded, segments encoded again");
    is_str(sigv4_signed_headers(a, &rq), "host;x-custom", "signed headers are sorted");
}

static void test_amz_date(void)
{
    char d[17];

    sigv4_amz_date(1705320000, d);
    is_str(d, "20240115T120000Z", "X-Amz-Date of 2024-01-15 12:00:00 UTC");
}

int main(void)
{
    struct arena *a = arena_new(4096);

    test_iam_example(a);
    test_bedrock_invoke(a);
    test_normalisation(a);
    test_amz_date();
    arena_free(a);
    return done_testing();
}
