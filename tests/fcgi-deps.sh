#!/usr/bin/env bash
# TAP: the runtime (fcgi/) links no symbol defined in the application (handlers/), the
# database layer (db/) or the providers (providers/): dependencies point one way, and the
# application reaches the runtime only through the vtable it hands to server_main.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# objs DIR: the objects built from DIR's current sources (a stale one of a removed source
# is ignored).
objs() {
    local c o
    for c in "$top_srcdir/$1"/*.c; do
        o="$top_builddir/$1/$(basename "${c%.c}").o"
        [[ -f $o ]] && echo "$o"
    done
}

if ! command -v nm >/dev/null; then
    echo "1..0 # SKIP nm is not installed"
    exit 0
fi
mapfile -t fcgi < <(objs fcgi)
if [[ ${#fcgi[@]} -lt 10 ]]; then
    echo "1..0 # SKIP the fcgi objects are not built in $top_builddir"
    exit 0
fi
fcgi_undef=$(nm -u "${fcgi[@]}" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u)
fcgi_def=$(nm --defined-only -g "${fcgi[@]}" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
for dir in handlers db providers; do
    mapfile -t app < <(objs "$dir")
    if [[ ${#app[@]} -eq 0 ]]; then
        fail "$dir: objects are built"
        continue
    fi
    app_def=$(nm --defined-only -g "${app[@]}" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
    # What fcgi/ needs from outside itself and $dir provides.
    bad=$(comm -12 <(comm -23 <(echo "$fcgi_undef") <(echo "$fcgi_def")) <(echo "$app_def"))
    if [[ -z $bad ]]; then
        pass "fcgi/ references no symbol defined in $dir/ ($(echo "$app_def" | wc -l) defined there)"
    else
        fail "fcgi/ references symbols defined in $dir/"
        echo "$bad" | sed 's/^/#   /'
    fi
done
# The check can see a reference at all: the application's main() does call server_main.
if nm -u "$top_builddir/handlers/main.o" 2>/dev/null | grep -qw server_main; then
    pass "handlers/main.o references server_main (the check sees cross-directory references)"
else
    fail "handlers/main.o references server_main"
fi
echo "1..$n"
[[ $failed -eq 0 ]]
