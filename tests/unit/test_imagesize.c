/* Checks fcgi/imagesize.c: PNG, JPEG, GIF and WebP headers, and data: URLs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fcgi/base64.h"
#include "fcgi/imagesize.h"
#include "fcgi/strbuf.h"
#include "fcgi/xmalloc.h"
#include "tap.h"
#include "tests/unit/images.h"

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
