/* Image dimensions from the first bytes of a PNG, JPEG, GIF or WebP file, or of a data: URL,
 * without decoding the image. */
#ifndef OA_IMAGESIZE_H
#define OA_IMAGESIZE_H
#include <stddef.h>

/*
 * Pixel size from the first bytes of a PNG, JPEG (first SOF marker), GIF or WebP (VP8, VP8L,
 * VP8X) file. Returns 0 with *w, *h set, or -1 when the format is unknown or the header is
 * malformed or truncated.
 */
int imagesize_of(const void *buf, size_t len, int *w, int *h);

/* Pixel size of a "data:image/<type>;base64,<payload>" URL; decodes only as much of the
 * payload as the header needs (all of it for a JPEG with large leading segments). Returns 0 or
 * -1 as imagesize_of(). Scratch memory is freed before returning. */
int imagesize_data_url(const char *url, int *w, int *h);

#endif
