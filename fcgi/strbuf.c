/* strbuf: append-only string building with typed escaping appenders. */
#include "config.h"
#include "fcgi/strbuf.h"
#include "fcgi/arena.h"
#include "fcgi/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* p of a buffer that has not allocated yet: read-only, so a stray write faults at once. */
static const char empty_str[1];

void sb_init(struct strbuf *sb, struct arena *a)
{
    sb->p = (char *)empty_str;
    sb->len = 0;
    sb->cap = 0;
    sb->a = a;
}

void sb_free(struct strbuf *sb)
{
    if (!sb->a && sb->cap)
        free(sb->p);
    sb_init(sb, sb->a);
}

void sb_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->cap)
        sb->p[0] = '\0';
}

void sb_grow(struct strbuf *sb, size_t n)
{
    /* Checked before the fast path: a wrapped len + n would look like room to spare. */
    if (n >= (size_t)-1 - sb->len)
        abort();
    if (sb->cap && sb->len + n < sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + n + 1) {
        if (cap > (size_t)-1 / 2)
            abort();
        cap *= 2;
    }
    char *old = sb->cap ? sb->p : NULL;
    if (sb->a)
        sb->p = arena_realloc(sb->a, old, sb->cap, cap);
    else
        sb->p = xrealloc(old, cap);
    if (!old)
        sb->p[0] = '\0';
    sb->cap = cap;
}

void sb_putn(struct strbuf *sb, const char *s, size_t n)
{
    sb_grow(sb, n);
    if (n)
        memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
    sb_putn(sb, s, strlen(s));
}

void sb_putc(struct strbuf *sb, char c)
{
    sb_grow(sb, 1);
    sb->p[sb->len++] = c;
    sb->p[sb->len] = '\0';
}

void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0)
        return;
    sb_grow(sb, (size_t)n);
    vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sb_html(struct strbuf *sb, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        sb_putn(sb, run, (size_t)(s - run));
        sb_puts(sb, rep);
        run = s + 1;
    }
    sb_putn(sb, run, (size_t)(s - run));
}

/* 1 for the bytes RFC 3986 calls unreserved. */
static const unsigned char url_safe[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['.'] = 1,
    ['_'] = 1, ['~'] = 1,
};

void sb_url(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (url_safe[*u]) {
            sb_putc(sb, (char)*u);
        } else {
            char e[3] = {'%', hex[*u >> 4], hex[*u & 15]};
            sb_putn(sb, e, 3);
        }
    }
}

void sb_json_strn(struct strbuf *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_putc(sb, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char u[6];
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
        } else
            continue;
        sb_putn(sb, s + run, i - run);
        if (rep)
            sb_puts(sb, rep);
        else
            sb_putn(sb, u, 6);
        run = i + 1;
    }
    sb_putn(sb, s + run, n - run);
    sb_putc(sb, '"');
}

void sb_json_str(struct strbuf *sb, const char *s)
{
    if (!s)
        SB_LIT(sb, "null");
    else
        sb_json_strn(sb, s, strlen(s));
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
    if (!sb->cap)
        sb_grow(sb, 0);
    char *p = sb->p;
    if (len)
        *len = sb->len;
    sb_init(sb, sb->a);
    return p;
}
