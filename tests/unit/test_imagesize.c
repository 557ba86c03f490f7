/* Checks fcgi/imagesize.c: PNG, JPEG, GIF and WebP headers, and data: URLs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi/base64.h"
#include "fcgi/imagesize.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "tap.h"

/* "data:image/<type>;base64,<payload>" (heap). */
static char *data_url(const char *type, const unsigned char *p, size_t n)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "data:image/%s;base64,", type);
    b64_put(&sb, p, n);
    return sb_detach(&sb, NULL);
}

/* Minimal headers: PNG 800x600. */
static const unsigned char png_800x600[] = {
    0x89, 'P', 'N', 'G',  '\r', '\n', 0x1A, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
    'R',  0,   0,   0x03, 0x20, 0,    0,    0x02, 0x58, 8, 6, 0,  0,   0};
/* JPEG 400x300: SOI, APP0 (JFIF), a fill byte, SOF0. */
static const unsigned char jpeg_400x300[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0,    1,    1,
    0,    0,    1,    0,    1,    0,    0,    0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08,
    0x01, 0x2C, 0x01, 0x90, 0x03, 1,    0x22, 0,    2,    0x11, 1};
/* Progressive JPEG 64x32 with a DHT (0xC4, not a frame header) before SOF2. */
static const unsigned char jpeg_prog_64x32[] = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x05, 0x00, 0x01,
                                                0x02, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x20,
                                                0x00, 0x40, 0x01, 0x01, 0x11, 0x00};
/* GIF89a 320x240. */
static const unsigned char gif_320x240[] = {'G',  'I',  'F',  '8',  '9', 'a', 0x40,
                                            0x01, 0xF0, 0x00, 0x80, 0,   0};
/* WebP lossy 640x480 (scale bits set on the width, which must be masked off). */
static const unsigned char webp_vp8_640x480[] = {
    'R', 'I',  'F', 'F', 0x24, 0,    0,    0,    'W',  'E',  'B',  'P',  'V',  'P',  '8',
    ' ', 0x18, 0,   0,   0,    0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x42, 0xE0, 0x01};
/* WebP lossless 300x200: 0x2f then (w-1) | (h-1) << 14 little-endian. */
static const unsigned char webp_vp8l_300x200[] = {'R', 'I', 'F',  'F',  0x1A, 0,    0,   0,    'W',
                                                  'E', 'B', 'P',  'V',  'P',  '8',  'L', 0x0D, 0,
                                                  0,   0,   0x2F, 0x2B, 0xC1, 0x31, 0x00};
/* WebP extended 4000x3000: canvas (w-1), (h-1) as 24-bit little-endian after 4 flag bytes. */
static const unsigned char webp_vp8x_4000x3000[] = {
    'R', 'I',  'F', 'F', 0x1E, 0,    0, 0, 'W', 'E',  'B',  'P',  'V',  'P',  '8',
    'X', 0x0A, 0,   0,   0,    0x10, 0, 0, 0,   0x9F, 0x0F, 0x00, 0xB7, 0x0B, 0x00};

static void check_size(const unsigned char *p, size_t n, int want_w, int want_h, const char *what)
{
    int w = -1, h = -1;
    int rc = imagesize_of(p, n, &w, &h);
    ok(rc == 0 && w == want_w && h == want_h, "%s: %dx%d (got rc %d, %dx%d)", what, want_w, want_h,
       rc, w, h);
}

static void test_image_headers(void)
{
    note("image headers");
    check_size(png_800x600, sizeof png_800x600, 800, 600, "PNG");
    check_size(jpeg_400x300, sizeof jpeg_400x300, 400, 300, "JPEG baseline after APP0");
    check_size(jpeg_prog_64x32, sizeof jpeg_prog_64x32, 64, 32, "JPEG progressive after DHT");
    check_size(gif_320x240, sizeof gif_320x240, 320, 240, "GIF");
    check_size(webp_vp8_640x480, sizeof webp_vp8_640x480, 640, 480, "WebP VP8");
    check_size(webp_vp8l_300x200, sizeof webp_vp8l_300x200, 300, 200, "WebP VP8L");
    check_size(webp_vp8x_4000x3000, sizeof webp_vp8x_4000x3000, 4000, 3000, "WebP VP8X");
    int w, h;
    ok(imagesize_of(png_800x600, 20, &w, &h) == -1, "truncated PNG fails");
    ok(imagesize_of(jpeg_400x300, 24, &w, &h) == -1, "truncated JPEG fails");
    ok(imagesize_of("BM6\0\0\0", 6, &w, &h) == -1, "BMP is not supported");
    ok(imagesize_of("", 0, &w, &h) == -1, "empty input fails");
    static const unsigned char eoi_first[] = {0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xC0};
    ok(imagesize_of(eoi_first, sizeof eoi_first, &w, &h) == -1, "JPEG EOI before SOF");

    char *u = data_url("png", png_800x600, sizeof png_800x600);
    ok(imagesize_data_url(u, &w, &h) == 0 && w == 800 && h == 600, "data: URL PNG");
    free(u);
    u = data_url("webp", webp_vp8x_4000x3000, sizeof webp_vp8x_4000x3000);
    ok(imagesize_data_url(u, &w, &h) == 0 && w == 4000 && h == 3000, "data: URL WebP");
    free(u);

    /* A JPEG whose frame header lies 64 KB in, behind an APP1 segment: needs a full decode. */
    size_t big_n = 4 + 65535 + sizeof jpeg_400x300 - 20;
    unsigned char *big = xcalloc(1, big_n);
    memcpy(big, "\xFF\xD8\xFF\xE1\xFF\xFF", 6);
    memcpy(big + 4 + 65535, jpeg_400x300 + 20, sizeof jpeg_400x300 - 20);
    u = data_url("jpeg", big, big_n);
    ok(imagesize_data_url(u, &w, &h) == 0 && w == 400 && h == 300,
       "data: URL JPEG with the SOF past the probe");
    free(u);
    free(big);

    struct strbuf sb, gif;
    sb_init(&sb, NULL);
    sb_init(&gif, NULL);
    b64_put(&gif, gif_320x240, sizeof gif_320x240);
    const char *enc = gif.p;
    sb_printf(&sb, "data:image/gif;base64,%.8s\r\n%s", enc, enc + 8);
    ok(imagesize_data_url(sb.p, &w, &h) == 0 && w == 320, "line breaks in base64");
    sb_reset(&sb);
    sb_printf(&sb, "data:image/gif;base64,%.8s*%s", enc, enc + 8);
    ok(imagesize_data_url(sb.p, &w, &h) == -1, "invalid base64 character");
    sb_reset(&sb);
    sb_printf(&sb, "data:text/plain;base64,%s", enc);
    ok(imagesize_data_url(sb.p, &w, &h) == -1, "non-image data URL");
    sb_reset(&sb);
    sb_printf(&sb, "data:image/gif,%s", enc);
    ok(imagesize_data_url(sb.p, &w, &h) == -1, "data URL without base64");
    sb_free(&sb);
    sb_free(&gif);
}

int main(void)
{
    test_image_headers();
    return done_testing();
}
