/* libFuzzer target: the image header reader under arbitrary bytes. Besides not crashing, a
 * size read from the start of a file must be the size of the whole file (the relay stops
 * downloading a client's image as soon as its first bytes tell the size), and a data: URL
 * of the same bytes must give the same answer. */
#include "config.h"
#include "fcgi/base64.h"
#include "fcgi/imagesize.h"
#include "fcgi/strbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int w = -1, h = -1;
    int rc = imagesize_of(data, size, &w, &h);
    if (rc == 0 && (w < 0 || h < 0))
        abort();
    /* Every prefix that decodes agrees with the whole input. */
    for (size_t k = 0; k < size; k += 1 + k / 8) {
        int pw = -1, ph = -1;
        if (imagesize_of(data, k, &pw, &ph) == 0 && (rc != 0 || pw != w || ph != h))
            abort();
    }
    struct strbuf url;
    sb_init(&url, NULL);
    SB_LIT(&url, "data:image/png;base64,");
    b64_put(&url, data, size);
    int uw = -1, uh = -1;
    int urc = imagesize_data_url(url.p, &uw, &uh);
    if ((urc == 0) != (rc == 0) || (rc == 0 && (uw != w || uh != h)))
        abort();
    sb_free(&url);
    return 0;
}
