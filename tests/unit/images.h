/* Image fixtures for the unit tests: minimal headers of each format with a known size, and
 * data: URLs made of them. Included by test_imagesize.c and test_count.c. */
#ifndef OA_TEST_IMAGES_H
#define OA_TEST_IMAGES_H
#include "fcgi/base64.h"
#include "fcgi/strbuf.h"

#include <stddef.h>

/* "data:image/<type>;base64,<payload>" (heap). */
__attribute__((unused)) static char *data_url(const char *type, const unsigned char *p, size_t n)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "data:image/%s;base64,", type);
    b64_put(&sb, p, n);
    return sb_detach(&sb, NULL);
}

/* Minimal headers: PNG 800x600. */
__attribute__((unused)) static const unsigned char png_800x600[] = {
    0x89, 'P', 'N', 'G',  '\r', '\n', 0x1A, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
    'R',  0,   0,   0x03, 0x20, 0,    0,    0x02, 0x58, 8, 6, 0,  0,   0};
/* JPEG 400x300: SOI, APP0 (JFIF), a fill byte, SOF0. */
__attribute__((unused)) static const unsigned char jpeg_400x300[] = {
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0,    1,    1,
    0,    0,    1,    0,    1,    0,    0,    0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08,
    0x01, 0x2C, 0x01, 0x90, 0x03, 1,    0x22, 0,    2,    0x11, 1};
/* Progressive JPEG 64x32 with a DHT (0xC4, not a frame header) before SOF2. */
__attribute__((unused)) static const unsigned char jpeg_prog_64x32[] = {
    0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x05, 0x00, 0x01, 0x02, 0xFF, 0xC2,
    0x00, 0x0B, 0x08, 0x00, 0x20, 0x00, 0x40, 0x01, 0x01, 0x11, 0x00};
/* GIF89a 320x240. */
__attribute__((unused)) static const unsigned char gif_320x240[] = {
    'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xF0, 0x00, 0x80, 0, 0};
/* WebP lossy 640x480 (scale bits set on the width, which must be masked off). */
__attribute__((unused)) static const unsigned char webp_vp8_640x480[] = {
    'R', 'I',  'F', 'F', 0x24, 0,    0,    0,    'W',  'E',  'B',  'P',  'V',  'P',  '8',
    ' ', 0x18, 0,   0,   0,    0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x42, 0xE0, 0x01};
/* WebP lossless 300x200: 0x2f then (w-1) | (h-1) << 14 little-endian. */
__attribute__((unused)) static const unsigned char webp_vp8l_300x200[] = {
    'R', 'I', 'F', 'F',  0x1A, 0, 0, 0,    'W',  'E',  'B',  'P', 'V',
    'P', '8', 'L', 0x0D, 0,    0, 0, 0x2F, 0x2B, 0xC1, 0x31, 0x00};
/* WebP extended 4000x3000: canvas (w-1), (h-1) as 24-bit little-endian after 4 flag bytes. */
__attribute__((unused)) static const unsigned char webp_vp8x_4000x3000[] = {
    'R', 'I',  'F', 'F', 0x1E, 0,    0, 0, 'W', 'E',  'B',  'P',  'V',  'P',  '8',
    'X', 0x0A, 0,   0,   0,    0x10, 0, 0, 0,   0x9F, 0x0F, 0x00, 0xB7, 0x0B, 0x00};

#endif
