/* The one growable string buffer: bodies, SQL parameters, JSON and HTML. */
#ifndef OA_STRBUF_H
#define OA_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

struct arena;

struct strbuf {
    char *p;         /* always NUL-terminated once initialised */
    size_t len;      /* bytes used, not counting the NUL */
    size_t cap;      /* bytes available in p, counting the NUL */
    struct arena *a; /* where p lives; NULL means the heap (then call sb_free) */
};

/* Empty buffer backed by arena a (or the heap when a is NULL). Allocates nothing yet. */
void sb_init(struct strbuf *sb, struct arena *a);
/* Frees a heap-backed buffer; no-op for arena buffers. Leaves sb empty and reusable. */
void sb_free(struct strbuf *sb);
/* Empties sb, keeping its storage. */
void sb_reset(struct strbuf *sb);
/* Makes room for n more bytes. May move p: pointers into sb->p are invalidated. */
void sb_grow(struct strbuf *sb, size_t n);
void sb_putn(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
/* Appends a string literal, its length taken at compile time. */
#define SB_LIT(sb, lit) sb_putn((sb), "" lit, sizeof(lit) - 1)
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* Appends s with & < > " ' escaped for HTML text and quoted attributes. */
void sb_html(struct strbuf *sb, const char *s);
/* Appends s percent-encoded (everything but unreserved A-Z a-z 0-9 - . _ ~). */
void sb_url(struct strbuf *sb, const char *s);
/* Appends n bytes of s as a quoted JSON string (quotes included). */
void sb_json_strn(struct strbuf *sb, const char *s, size_t n);
/* sb_json_strn for a NUL-terminated string; NULL appends null. */
void sb_json_str(struct strbuf *sb, const char *s);
/* Detaches the contents: returns p (arena or heap memory) and leaves sb empty. */
char *sb_detach(struct strbuf *sb, size_t *len);

#endif
