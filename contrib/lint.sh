#!/usr/bin/env bash
# Lint for unsafe output and SQL, run by `make check` as a TAP test: no unbounded string
# calls, SQL only as literals with ? placeholders, raw template tags only where allowed and
# only for names ending in _html.
# A reviewed exception is marked on its line, as fossil does: /* safe-for-sql: why */ beside
# a non-literal SQL argument, /*safe-raw*/ beside a raw template tag.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src" || exit 1
n=0 failed=0
point() { # point OK|FAIL description [details]
    n=$((n + 1))
    if [ "$1" = OK ]; then
        echo "ok $n - $2"
    else
        failed=$((failed + 1))
        echo "not ok $n - $2"
        printf '%s\n' "$3" | sed 's/^/#   /'
    fi
}
files=$(find fcgi db handlers providers tests/unit tests/mock -name '*.[ch]' 2>/dev/null | sort)

# 1. Unbounded string calls.
hits=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $files 2>/dev/null)
[ -z "$hits" ] && point OK "no strcpy, strcat, sprintf or gets" ||
    point FAIL "no strcpy, strcat, sprintf or gets" "$hits"

# 2. SQL is a literal with ? placeholders: the sql argument of db_prepare/db_exec/db_execf
#    starts with a string literal (or a macro in capitals made of literals), possibly on the
#    next line. Tests are exempt; the drivers pass SQL through by design.
sqlhits=$(for f in $files; do
    case $f in db/db.c | db/sqlite.c | db/pg.c | db/internal.h | db/db.h | tests/*) continue ;; esac
    awk -v f="$f" '
        # pending 1: the call broke right after "(": the next line holds "first, sql";
        # pending 2: it broke after the first argument: the next line starts with the sql.
        pending {
            nxt = $0
            if (pending == 1) sub(/^[[:space:]]*[^,"]*,[[:space:]]*/, "", nxt)
            else sub(/^[[:space:]]*/, "", nxt)
            if (nxt !~ /^("|[A-Z_][A-Z_0-9]*([[:space:],)]|$))/ && prev !~ /safe-for-sql/ &&
                $0 !~ /safe-for-sql/) print f ":" NR-1 ": " prev
            pending = 0
        }
        /db_(prepare|exec|execf)[[:space:]]*\(/ {
            rest = $0; sub(/.*db_(prepare|exec|execf)[[:space:]]*\(/, "", rest)
            if (rest ~ /^[[:space:]]*$/) { pending = 1; prev = $0; next }
            sub(/^[^,]*,?[[:space:]]*/, "", rest)
            if (rest == "") { pending = 2; prev = $0; next }
            if (rest !~ /^("|[A-Z_][A-Z_0-9]*([[:space:],)]|$))/ && $0 !~ /safe-for-sql/)
                print f ":" NR ": " $0
        }' "$f"
done)
[ -z "$sqlhits" ] && point OK "SQL passed to db_prepare/db_exec is a literal" ||
    point FAIL "SQL passed to db_prepare/db_exec is a literal" "$sqlhits"

# 3. Raw template tags only for allowlisted keys: each is a value a handler fills with HTML it
#    trusts (the page body the engine rendered, the admin's footer, Markdown through cmark, the
#    dashboard's SVG chart drawn by handlers/console/chart.c).
#    A line marked safe-raw is a reviewed exception.
allow='content_html|footer_html|notice_html|home_html|about_html|chart_html'
hits=$(grep -rnE '\{\{\{' templates 2>/dev/null | grep -v 'safe-raw' | while IFS= read -r line; do
    grep -oE '\{\{\{[^}]*\}\}\}' <<<"$line" |
        grep -vE "^\{\{\{[[:space:]]*([A-Za-z0-9_]+\.)*($allow)[[:space:]]*\}\}\}\$" |
        sed "s|^|${line%%:*}: |"
done)
[ -z "$hits" ] && point OK "raw {{{ }}} tags only for allowlisted keys" ||
    point FAIL "raw {{{ }}} tags only for allowlisted keys" "$hits"

# 4. A raw tag's name ends in _html: that suffix is how a handler says "trusted HTML here",
#    and fcgi/template.c refuses any other raw tag when it loads the theme. Catching it here
#    fails `make check` instead of the start-up of a deployed server. White space inside the
#    braces is allowed, as the engine allows it; the last dotted segment is what counts.
#    No safe-raw exception here: the engine would refuse the tag anyway.
rawhits=$(find templates -name '*.html' 2>/dev/null | LC_ALL=C sort | while read -r f; do
    grep -HnoE '\{\{\{[^}]*\}\}\}' "$f" |
        grep -vE ':\{\{\{[[:space:]]*([A-Za-z0-9_]+\.)*[A-Za-z0-9_]*_html[[:space:]]*\}\}\}$'
done)
[ -z "$rawhits" ] && point OK "raw {{{ }}} tags in templates/ name an _html value" ||
    point FAIL "raw {{{ }}} tags in templates/ name an _html value" "$rawhits"

echo "1..$n"
[ "$failed" -eq 0 ]
