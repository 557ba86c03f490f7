/* Unit tests for fcgi/strbuf.c. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "tests/unit/tap.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    is_str(sb.p, "", "a new buffer reads as empty");
    SB_LIT(&sb, "abc");
    sb_putc(&sb, '-');
    sb_printf(&sb, "%05d", 42);
    is_str(sb.p, "abc-00042", "literal, char and printf append");
    is_int(sb.len, 9, "len excludes the NUL");
    for (int i = 0; i < 10000; i++)
        sb_puts(&sb, "0123456789");
    is_int(sb.len, 100009, "growth keeps every byte");
    ok(sb.p[sb.len] == '\0', "always NUL-terminated");
    sb_reset(&sb);
    is_int(sb.len, 0, "reset empties");
    sb_html(&sb, "<a href=\"x\">'&'</a>");
    is_str(sb.p, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
           "sb_html escapes all five");
    sb_reset(&sb);
    sb_url(&sb, "a b/c?d=é~");
    is_str(sb.p, "a%20b%2Fc%3Fd%3D%C3%A9~", "sb_url percent-encodes all but unreserved");
    sb_reset(&sb);
    sb_json_str(&sb, "q\"b\\n\n\t\x01中");
    is_str(sb.p, "\"q\\\"b\\\\n\\n\\t\\u0001中\"", "sb_json_str escapes quotes, controls");
    sb_reset(&sb);
    sb_json_str(&sb, NULL);
    is_str(sb.p, "null", "NULL is JSON null");
    sb_reset(&sb);
    sb_json_strn(&sb, "a\0b", 3);
    is_str(sb.p, "\"a\\u0000b\"", "embedded NUL is escaped");
    sb_free(&sb);

    struct arena *a = arena_new(1024);
    struct strbuf as;
    sb_init(&as, a);
    for (int i = 0; i < 1000; i++)
        sb_printf(&as, "%d,", i);
    ok(as.len > 2000 && !strncmp(as.p, "0,1,2,", 6), "arena-backed buffer grows");
    size_t len;
    char *d = sb_detach(&as, &len);
    ok(len > 2000 && d[len] == '\0' && as.len == 0, "detach hands over the bytes");
    arena_free(a);

    /* A length that wraps len + n must abort, even when the buffer has spare room: before
     * the fix the fast path took the wrapped sum for room and a copy ran off the end. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct strbuf w;
        sb_init(&w, NULL);
        sb_puts(&w, "0123456789");
        sb_grow(&w, (size_t)-1 - 5);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a wrapping growth aborts");
    return done_testing();
}
