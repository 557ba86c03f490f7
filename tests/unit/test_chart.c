/* Unit tests for handlers/console/chart.c: scaling, stacking, escaping, empty data. */
#include "config.h"
#include "fcgi/strbuf.h"
#include "handlers/console/chart.h"
#include "tests/unit/tap.h"

#include <string.h>

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

int main(void)
{
    struct strbuf sb;
    sb_init(&sb, NULL);

    const char *days[] = {"2026-12-01", "2026-12-02"};
    const char *models[] = {"gpt-4o", "claude-3"};
    /* Day 1: 30 + 70 = 100 (the top); day 2: 50 of the second model only. */
    double v[] = {30, 70, 0, 50};
    is_int(chart_svg(&sb, "Usage", days, 2, models, 2, v, ""), 1, "data gives a chart");
    ok(!strncmp(sb.p, "<svg class=\"chart\"", 18), "it starts with the SVG");
    ok(strstr(sb.p, "<rect x=\"76.00\" y=\"152.00\" width=\"32\" height=\"60.00\" fill=\"#2563eb\">"
                    "<title>2026-12-01 · gpt-4o: 30</title>") != NULL,
       "the first series sits on the axis, scaled to 200 px for the top of 100");
    ok(strstr(sb.p, "y=\"12.00\" width=\"32\" height=\"140.00\" fill=\"#16a34a\">"
                    "<title>2026-12-01 · claude-3: 70</title>") != NULL,
       "the second series is stacked on the first, up to the top of the plot");
    ok(strstr(sb.p, "<rect x=\"132.00\" y=\"112.00\" width=\"32\" height=\"100.00\"") != NULL,
       "the second bar (50) is half as tall and starts on the axis: its zero segment is skipped");
    is_int(count(sb.p, "<rect x="), 3, "one segment per non-zero value");
    ok(strstr(sb.p, ">12-01</text>") && strstr(sb.p, ">12-02</text>"), "days label the bars");
    ok(strstr(sb.p, ">100</text>") && strstr(sb.p, ">50</text>") && strstr(sb.p, ">0</text>"),
       "the y axis shows 0, half and the top");
    ok(strstr(sb.p, "fill=\"#16a34a\"/></svg>claude-3</li>") != NULL,
       "the legend gives each series its colour");

    /* A top that is not round is rounded up to 1, 2 or 5 times a power of ten. */
    sb_reset(&sb);
    double w[] = {0.013};
    chart_svg(&sb, "Spend", days, 1, models, 1, w, "$");
    ok(strstr(sb.p, ">$0.02</text>") && strstr(sb.p, ">$0.01</text>"),
       "0.013 scales to a top of 0.02 with the prefix on the axis");
    ok(strstr(sb.p, "height=\"130.00\"") != NULL, "... and its bar is 13/20 of the plot");
    ok(strstr(sb.p, "gpt-4o: $0.013</title>") != NULL, "the tooltip carries the prefix too");

    /* Tiny amounts (a few requests, in dollars) read as decimals, never with an exponent. */
    sb_reset(&sb);
    double tiny[] = {0.000008};
    chart_svg(&sb, "Spend", days, 1, models, 1, tiny, "$");
    ok(strstr(sb.p, ">$0.00001</text>") && strstr(sb.p, ">$0.000005</text>"),
       "a top of 0.00001 is labelled in decimals");
    ok(strstr(sb.p, "gpt-4o: $0.000008</title>") != NULL, "... and so is the tooltip");
    ok(!strstr(sb.p, "e-0"), "... no exponent anywhere");

    /* Every text is escaped: titles, labels, series, prefix. */
    sb_reset(&sb);
    const char *bad_x[] = {"<x>"};
    const char *bad_s[] = {"a\"&<script>"};
    double one[] = {1};
    chart_svg(&sb, "T<&>", bad_x, 1, bad_s, 1, one, "<");
    ok(!strstr(sb.p, "<script>") && !strstr(sb.p, "<x>"), "no markup gets through");
    ok(strstr(sb.p, "aria-label=\"T&lt;&amp;&gt;\"") != NULL, "the title is escaped");
    ok(strstr(sb.p, "&lt;x&gt; · a&quot;&amp;&lt;script&gt;: &lt;1</title>") != NULL,
       "label, series and prefix are escaped in the tooltip");
    ok(strstr(sb.p, "</svg>a&quot;&amp;&lt;script&gt;</li>") != NULL, "... and in the legend");

    /* Nothing to draw: nothing written. */
    sb_reset(&sb);
    is_int(chart_svg(&sb, "Usage", days, 0, models, 2, v, ""), 0, "no bars: no chart");
    double zeros[] = {0, 0, -5, 0};
    is_int(chart_svg(&sb, "Usage", days, 2, models, 2, zeros, ""), 0,
           "only zero (or negative) values: no chart");
    is_int((long long)sb.len, 0, "... and nothing written");
    sb_free(&sb);
    return done_testing();
}
