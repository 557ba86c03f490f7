#!/usr/bin/env bash
# bench/status.sh: requests per second and latency of GET /api/status and of the console's
# sign-in page (templates rendered into the layout) through nginx -> one-api (FastCGI
# listening, SQLite), next to nginx serving a small static file from the same nginx, at
# concurrency 1, 16 and 64 (wrk).
#
#   bench/status.sh                  # 5 s per point
#   BENCH_SECONDS=10 bench/status.sh
# Environment: ONEAPI_BIN (default ./one-api of the clone), BENCH_SECONDS (5),
# BENCH_CONCURRENCY ("1 16 64"), BENCH_THREADS (one-api workers, default 1024).
# Uses its own temp dir and free ports; nothing is left behind.
# Figures from a shared VM are rough: compare rows of one run, not runs.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ONEAPI_BIN:-$top/one-api}
secs=${BENCH_SECONDS:-5}
levels=${BENCH_CONCURRENCY:-1 16 64}

die() { echo "bench/status.sh: $*" >&2; exit 1; }
sbin() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || return 1; }

[[ -x $bin ]] || die "no binary at $bin (build first: contrib/run or make)"
wrk=$(command -v wrk) || die "wrk is not installed (apt-get install wrk)"
nginx=$(sbin nginx) || die "nginx is not installed (apt-get install nginx-light)"
py=python3; [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3

free_port() {
    "$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oa-bench.XXXXXX")
chmod 755 "$tmp"
app_pid="" ngx_pid=""
cleanup() {
    [[ -z $ngx_pid ]] || kill -QUIT "$ngx_pid" 2>/dev/null || true
    [[ -z $app_pid ]] || kill -TERM "$app_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_port=$(free_port)
fcgi="127.0.0.1:$(free_port)"
mkdir -p "$tmp/htdocs" "$tmp/logs" "$tmp/tmp"
# A static file about the size of the status JSON.
head -c 700 /dev/zero | tr '\0' x >"$tmp/htdocs/status.txt"

user=""
[[ $(id -u) -ne 0 ]] || user="user $(id -un) $(id -gn);"
sed -e "s|@USER@|$user|g" -e "s|@PREFIX@|$tmp|g" -e "s|@LISTEN@|127.0.0.1:$http_port|g" \
    -e "s|@FCGI@|$fcgi|g" -e "s|@HTDOCS@|$tmp/htdocs|g" \
    "$top/contrib/nginx.conf.in" >"$tmp/nginx.conf"
# Access logging would measure the disk; the benchmark is about the request path.
sed -i 's|^\(\s*access_log\) .*;|\1 off;|' "$tmp/nginx.conf"

# The per-address limits would refuse a benchmark from one address: off.
GLOBAL_API_RATE_LIMIT=0 GLOBAL_WEB_RATE_LIMIT=0 \
    SQLITE_PATH="$tmp/one-api.db" TEMPLATE_DIR="$top/templates" "$bin" --listen "$fcgi" --port "$http_port" --log-dir "$tmp/logs" \
    --threads "${BENCH_THREADS:-1024}" </dev/null >"$tmp/one-api.out" 2>&1 &
app_pid=$!
"$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" -g 'daemon off;' </dev/null >"$tmp/nginx.out" 2>&1 &
ngx_pid=$!

ready=0
for _ in $(seq 1 100); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/api/status" 2>/dev/null) == 200 ]]; then
        ready=1; break
    fi
    kill -0 "$app_pid" 2>/dev/null && kill -0 "$ngx_pid" 2>/dev/null || break
    sleep 0.2
done
if [[ $ready -ne 1 ]]; then
    cat "$tmp/one-api.out" "$tmp/error.log" >&2 2>/dev/null || true
    die "nginx -> one-api did not come up"
fi

# ms VALUE: wrk prints 812.00us, 1.23ms or 2.01s; print milliseconds.
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# bench NAME URL: one table row per concurrency level.
bench() {
    local name=$1 url=$2 c t out rps p50 p99
    for c in $levels; do
        t=$((c < 2 ? 1 : 2))           # wrk needs threads <= connections
        out=$("$wrk" -t"$t" -c"$c" -d"${secs}s" --latency "$url" 2>&1) || { echo "$out" >&2; die "wrk failed"; }
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        if grep -q 'Non-2xx' <<<"$out"; then
            echo "warning: $name c=$c: $(grep 'Non-2xx' <<<"$out")" >&2
        fi
        printf '%-26s %11s %12.0f %10s %10s\n' "$name" "$c" "$rps" "$(ms "$p50")" "$(ms "$p99")"
    done
}

echo "GET through nginx $("$nginx" -v 2>&1 | sed 's|.*/||'), ${secs} s per row, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-26s %11s %12s %10s %10s\n' target concurrency rps "p50 ms" "p99 ms"
bench "one-api /api/status" "http://127.0.0.1:$http_port/api/status"
bench "one-api /login (page)" "http://127.0.0.1:$http_port/login"
bench "nginx static file" "http://127.0.0.1:$http_port/static/status.txt"
