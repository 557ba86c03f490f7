/* imagesize: the pixel size in the header of a PNG, JPEG, GIF or WebP file, and of the image
 * in a base64 data: URL (decoding only what the header needs). */
#include "config.h"
#include "fcgi/imagesize.h"
#include "fcgi/base64.h"
#include "fcgi/xmalloc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Base64 bytes decoded first from a data URL: enough for every header but a JPEG whose SOF
 * follows large EXIF/ICC segments, which triggers a full decode. */
#define DATA_URL_PROBE 4096

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

int imagesize_of(const void *buf, size_t len, int *w, int *h)
{
    if (!buf)
        return -1;
    return image_header(buf, len, w, h) == 0 ? 0 : -1;
}

int imagesize_data_url(const char *url, int *w, int *h)
{
    if (!url || strncasecmp(url, "data:image/", 11) != 0)
        return -1;
    const char *b64 = strstr(url, ";base64,");
    const char *comma = strchr(url, ',');
    if (!b64 || comma < b64 + 7)
        return -1;
    const char *payload = b64 + 8;
    size_t len = strlen(payload);
    unsigned char probe[DATA_URL_PROBE];
    long n = b64_decode(payload, len, probe, sizeof probe, B64_SPACE | B64_PREFIX);
    if (n < 0)
        return -1;
    int rc = image_header(probe, (size_t)n, w, h);
    /* At most 3 * len / 4 bytes come out of len: when they fit, the probe is everything. */
    if (rc != IMG_SHORT || len / 4 * 3 + 3 <= sizeof probe)
        return rc == 0 ? 0 : -1;
    /* A JPEG whose frame header lies beyond the probe: decode everything once. */
    size_t cap = len / 4 * 3 + 3;
    unsigned char *all = xmalloc(cap);
    n = b64_decode(payload, len, all, cap, B64_SPACE);
    rc = n < 0 ? IMG_BAD : image_header(all, (size_t)n, w, h);
    free(all);
    return rc == 0 ? 0 : -1;
}
