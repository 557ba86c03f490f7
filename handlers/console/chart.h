/* chart: the console's charts as inline SVG made on the server, so they show with
 * JavaScript off and need no inline style (the CSP forbids it). */
#ifndef OA_CHART_H
#define OA_CHART_H
#include <stddef.h>

struct strbuf;

/* Appends to sb a stacked bar chart of nx bars (labels xs) with ns series (names series):
 * values[ix * ns + is] is series is in bar ix (negative counts as 0). The y axis runs from 0
 * to a round number at or above the highest bar; every segment has a <title> tooltip
 * "<x> · <series>: <prefix><value>", then an HTML legend follows the SVG. Every text is
 * HTML-escaped. Writes nothing and returns 0 when there is no bar or every value is 0;
 * else 1. */
int chart_svg(struct strbuf *sb, const char *title, const char *const *xs, size_t nx,
              const char *const *series, size_t ns, const double *values, const char *prefix);

#endif
