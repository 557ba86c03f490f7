/* chart: stacked bar charts as inline SVG. */
#include "config.h"
#include "handlers/console/chart.h"
#include "fcgi/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PLOT_TOP 12.0
#define PLOT_H 200.0
#define AXIS_W 64.0 /* room for the y labels */
#define BAR_STEP 56.0
#define BAR_W 32.0

/* Distinct on light and dark backgrounds; a series past the end reuses them in order. */
static const char *const palette[] = {"#2563eb", "#16a34a", "#ea580c", "#9333ea",
                                      "#0891b2", "#dc2626", "#ca8a04", "#db2777"};
#define N_COLOURS (sizeof palette / sizeof *palette)

/* The smallest 1, 2 or 5 times a power of ten at or above v (v > 0). */
static double nice_max(double v)
{
    double p = pow(10, floor(log10(v)));
    for (int i = 0; i < 3; i++) {
        double m = (i == 0 ? 1 : i == 1 ? 2 : 5) * p;
        if (m >= v * (1 - 1e-12))
            return m;
    }
    return 10 * p;
}

/* An amount as people read it: no exponent ("0.00001", not "1e-05"), three significant
 * digits for small amounts, no trailing zeros. */
static void put_amount(struct strbuf *sb, double v)
{
    if (v == 0) {
        sb_puts(sb, "0");
        return;
    }
    int decimals = 2 - (int)floor(log10(fabs(v)));
    if (decimals < 0)
        decimals = 0;
    if (decimals > 10)
        decimals = 10;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (n > 0 && strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    sb_puts(sb, buf);
}

static double value_at(const double *values, size_t ns, size_t ix, size_t is)
{
    double v = values[ix * ns + is];
    return v > 0 && isfinite(v) ? v : 0;
}

int chart_svg(struct strbuf *sb, const char *title, const char *const *xs, size_t nx,
              const char *const *series, size_t ns, const double *values, const char *prefix)
{
    double top = 0;
    for (size_t ix = 0; ix < nx; ix++) {
        double sum = 0;
        for (size_t is = 0; is < ns; is++)
            sum += value_at(values, ns, ix, is);
        if (sum > top)
            top = sum;
    }
    if (top <= 0)
        return 0;
    if (!prefix)
        prefix = "";
    double max = nice_max(top);
    double width = AXIS_W + (double)nx * BAR_STEP + 8, base = PLOT_TOP + PLOT_H;
    sb_printf(sb, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
              width, base + 28);
    sb_html(sb, title);
    sb_puts(sb, "\"><title>");
    sb_html(sb, title);
    sb_puts(sb, "</title>\n");
    /* The y axis: 0, half and the top, with faint grid lines. */
    for (int t = 0; t <= 2; t++) {
        double y = base - PLOT_H * t / 2;
        sb_printf(sb,
                  "<line class=\"axis\" x1=\"%.0f\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\"/>"
                  "<text x=\"%.0f\" y=\"%.2f\" text-anchor=\"end\">",
                  AXIS_W - 4, y, width - 4, y, AXIS_W - 8, y + 4);
        sb_html(sb, prefix);
        put_amount(sb, max * t / 2);
        sb_puts(sb, "</text>\n");
    }
    for (size_t ix = 0; ix < nx; ix++) {
        double x = AXIS_W + (double)ix * BAR_STEP + (BAR_STEP - BAR_W) / 2, y = base;
        for (size_t is = 0; is < ns; is++) {
            double v = value_at(values, ns, ix, is);
            if (v <= 0)
                continue;
            double h = PLOT_H * v / max;
            y -= h;
            sb_printf(sb,
                      "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.0f\" height=\"%.2f\" "
                      "fill=\"%s\"><title>",
                      x, y, BAR_W, h, palette[is % N_COLOURS]);
            sb_html(sb, xs[ix]);
            sb_puts(sb, " · ");
            sb_html(sb, series[is]);
            sb_puts(sb, ": ");
            sb_html(sb, prefix);
            put_amount(sb, v);
            sb_puts(sb, "</title></rect>\n");
        }
        sb_printf(sb, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">", x + BAR_W / 2,
                  base + 18);
        /* A day label "YYYY-MM-DD" shows as "MM-DD": the bars are narrow. */
        const char *lab = xs[ix];
        if (lab[0] && lab[1] && lab[2] && lab[3] && lab[4] == '-')
            lab += 5;
        sb_html(sb, lab);
        sb_puts(sb, "</text>\n");
    }
    sb_puts(sb, "</svg>\n<ul class=\"legend\">");
    for (size_t is = 0; is < ns; is++) {
        sb_printf(sb,
                  "<li><svg class=\"swatch\" viewBox=\"0 0 10 10\" aria-hidden=\"true\">"
                  "<rect width=\"10\" height=\"10\" fill=\"%s\"/></svg>",
                  palette[is % N_COLOURS]);
        sb_html(sb, series[is]);
        sb_puts(sb, "</li>");
    }
    sb_puts(sb, "</ul>\n");
    return 1;
}
