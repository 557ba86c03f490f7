#!/usr/bin/env bash
# bench/hostile.sh: what hostile clients and peers cost. Latency of GET /api/status through
# nginx -> one-api (unix socket, 64 workers) with no idle FastCGI connections and with 2,000
# (wrk, concurrency 1); then one-api's resident memory before and after 3,000 relay requests
# naming distinct 10 KB model names (MEMORY_CACHE_ENABLED=true: unknown models must not be
# cached).
#
#   bench/hostile.sh                     # 5 s per row
# Environment: ONEAPI_BIN (default ./one-api of the clone), BENCH_SECONDS (5), BENCH_IDLE
# (2000), BENCH_MODELS (3000). Temp dir and free ports; nothing is left behind. Figures from a
# shared VM are rough: compare rows of one run.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ONEAPI_BIN:-$top/one-api}
secs=${BENCH_SECONDS:-5}
idle=${BENCH_IDLE:-2000}
models=${BENCH_MODELS:-3000}

die() { echo "bench/hostile.sh: $*" >&2; exit 1; }
sbin() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || return 1; }
[[ -x $bin ]] || die "no binary at $bin (build first)"
wrk=$(command -v wrk) || die "wrk is not installed (apt-get install wrk)"
nginx=$(sbin nginx) || die "nginx is not installed (apt-get install nginx-light)"
py=python3; [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oa-bench-hostile.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

http_port=$("$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
sock=$tmp/one-api.sock
key=$("$py" -c 'import secrets; print(secrets.token_hex(24))')
mkdir -p "$tmp/htdocs" "$tmp/logs" "$tmp/tmp"
user=""
[[ $(id -u) -ne 0 ]] || user="user $(id -un) $(id -gn);"
sed -e "s|@USER@|$user|g" -e "s|@PREFIX@|$tmp|g" -e "s|@LISTEN@|127.0.0.1:$http_port|g" \
    -e "s|@FCGI@|unix:$sock|g" -e "s|@HTDOCS@|$tmp/htdocs|g" \
    "$top/contrib/nginx.conf.in" >"$tmp/nginx.conf"
sed -i 's|^\(\s*access_log\) .*;|\1 off;|' "$tmp/nginx.conf"

SQLITE_PATH="$tmp/one-api.db" INITIAL_ROOT_TOKEN="$key" MEMORY_CACHE_ENABLED=true \
    "$bin" --listen "$sock" --port "$http_port" --log-dir "$tmp/logs" --threads 64 \
    </dev/null >"$tmp/one-api.out" 2>&1 &
app_pid=$!
pids+=("$app_pid")
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
"$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" -g 'daemon off;' </dev/null \
    >"$tmp/nginx.out" 2>&1 &
pids+=("$!")
url="http://127.0.0.1:$http_port"
for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/api/status" 2>/dev/null) == 200 ]] && break
    sleep 0.2
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/api/status") == 200 ]] ||
    { cat "$tmp/one-api.out" >&2; die "nginx -> one-api did not come up"; }

# ms VALUE: wrk prints 812.00us, 1.23ms or 2.01s; print milliseconds.
ms() {
    awk -v v="$1" 'BEGIN { n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /s$/ && v !~ /ms$/) n *= 1000
        printf "%.3f", n }'
}
row() { # row NAME: one wrk run at concurrency 1
    local out
    out=$("$wrk" -t1 -c1 -d"${secs}s" --latency "$url/api/status" 2>&1) || die "wrk: $out"
    printf '%-44s %9.0f %9s %9s\n' "$1" "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" \
        "$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" \
        "$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
}

echo "GET /api/status through nginx -> one-api (unix socket, 64 workers), c=1, ${secs} s a row,"
echo "$(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-44s %9s %9s %9s\n' "" rps "p50 ms" "p99 ms"
row "no idle FastCGI connections"
"$py" - "$sock" "$idle" "$tmp/idle.ready" <<'PY' &
import os, socket, sys, time
path, n, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    held.append(s)
open(ready, "w").write("%d\n" % len(held))
time.sleep(3600)
PY
holder=$!
pids+=("$holder")
for _ in $(seq 300); do [[ -s $tmp/idle.ready ]] && break; sleep 0.1; done
[[ -s $tmp/idle.ready ]] || die "could not open $idle idle connections"
sleep 0.5
row "$(cat "$tmp/idle.ready") idle FastCGI connections held open"
kill "$holder" 2>/dev/null || true # the next figure is about memory alone
wait "$holder" 2>/dev/null || true
sleep 0.5

rss() { awk '/^VmRSS/ {print $2}' "/proc/$app_pid/status"; }
flood() { # flood FIRST COUNT
    "$py" - "$url" "$key" "$1" "$2" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
key, first, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for i in range(first, first + count):
    body = json.dumps({"model": ("m%07d-" % i) + "x" * 10240,
                       "messages": [{"role": "user", "content": "hi"}]})
    c.request("POST", "/v1/chat/completions", body,
              {"Content-Type": "application/json", "Authorization": "Bearer sk-" + key})
    c.getresponse().read()
PY
}
flood 0 300
before=$(rss)
t0=$(date +%s.%N)
flood 300 "$models"
t1=$(date +%s.%N)
after=$(rss)
echo
printf '%s distinct 10 KB model names (%.0f requests/s): RSS %d MB -> %d MB (%+d KB)\n' \
    "$models" "$(awk -v a="$t0" -v b="$t1" -v n="$models" 'BEGIN {print n / (b - a)}')" \
    $((before / 1024)) $((after / 1024)) $((after - before))
