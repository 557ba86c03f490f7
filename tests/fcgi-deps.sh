#!/usr/bin/env bash
# TAP: dependencies point one way. The runtime (fcgi/) links no symbol defined in the database
# layer (db/), the providers (providers/) or the application (handlers/); db/ and providers/
# link nothing from each other or from handlers/. The application reaches the runtime only
# through the vtable it hands to server_main.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# objs DIR: the objects built from DIR's current sources, subdirectories included (a stale
# object of a removed source is ignored).
objs() {
    local c o
    while IFS= read -r c; do
        o="$top_builddir/${c%.c}.o"
        [[ -f $o ]] && echo "$o"
    done < <(cd "$top_srcdir" && find "$1" -name '*.c' | sort)
}
# defined DIR / undefined DIR: the global symbols DIR's objects define, and those they use
# without defining them.
defined() { nm --defined-only -g "$@" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }
undefined() {
    comm -23 <(nm -u "$@" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u) <(defined "$@")
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
# check LOWER HIGHER: LOWER's objects use nothing HIGHER's define.
check() {
    local lower=$1 higher=$2 lo hi bad
    mapfile -t lo < <(objs "$lower")
    mapfile -t hi < <(objs "$higher")
    if [[ ${#lo[@]} -eq 0 || ${#hi[@]} -eq 0 ]]; then
        fail "$lower/ and $higher/: objects are built"
        return
    fi
    bad=$(comm -12 <(undefined "${lo[@]}") <(defined "${hi[@]}"))
    if [[ -z $bad ]]; then
        pass "$lower/ references no symbol defined in $higher/ ($(defined "${hi[@]}" | wc -l) defined there)"
    else
        fail "$lower/ references symbols defined in $higher/"
        echo "$bad" | sed 's/^/#   /'
    fi
}
check fcgi db
check fcgi providers
check fcgi handlers
check db providers
check db handlers
check providers db
check providers handlers
# The check can see a reference at all: the application's main() does call server_main.
if nm -u "$top_builddir/handlers/main.o" 2>/dev/null | grep -qw server_main; then
    pass "handlers/main.o references server_main (the check sees cross-directory references)"
else
    fail "handlers/main.o references server_main"
fi
echo "1..$n"
[[ $failed -eq 0 ]]
