#!/usr/bin/env bash
# bench/relay.sh: the same non-stream chat request to the mock upstream directly and through
# nginx -> one-api -> mock, at concurrency 1, 16 and 64 (wrk): rps, p50, p99 and the latency
# one-api adds; then N concurrent streams with the time to first event, direct and through
# the gateway. Billing and logging stay on (SQLite, writer thread).
#
#   bench/relay.sh                        # 5 s per point, 2000 streams
#   BENCH_SECONDS=10 BENCH_STREAMS=500 bench/relay.sh
# Environment: ONEAPI_BIN, BENCH_SECONDS (5), BENCH_CONCURRENCY ("1 16 64"), BENCH_STREAMS
# (2000), BENCH_THREADS (one-api workers; default streams + 64). Temp dir and free ports;
# nothing is left behind. Figures from a shared VM are rough: compare rows of one run.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ONEAPI_BIN:-$top/one-api}
secs=${BENCH_SECONDS:-5}
levels=${BENCH_CONCURRENCY:-1 16 64}
streams=${BENCH_STREAMS:-2000}
threads=${BENCH_THREADS:-$((streams + 64))}

die() { echo "bench/relay.sh: $*" >&2; exit 1; }
sbin() { command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || return 1; }
[[ -x $bin ]] || die "no binary at $bin (build first)"
wrk=$(command -v wrk) || die "wrk is not installed (apt-get install wrk)"
nginx=$(sbin nginx) || die "nginx is not installed (apt-get install nginx-light)"
py=python3; [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
free_port() { "$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Count tokens as a deployment does: the rank files contrib/test or contrib/fetch-tiktoken put
# in place, when there are any (the prompt estimate then runs the BPE on every request).
if [[ -z ${TIKTOKEN_CACHE_DIR:-} && -s $top/_build/tiktoken/cl100k_base.tiktoken ]]; then
    export TIKTOKEN_CACHE_DIR=$top/_build/tiktoken
fi
tokenizer="off (no rank files: set TIKTOKEN_CACHE_DIR)"
[[ -s ${TIKTOKEN_CACHE_DIR:-/nonexistent}/o200k_base.tiktoken ]] && tokenizer="on"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oa-bench-relay.XXXXXX")
chmod 755 "$tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -std=c17 -D_GNU_SOURCE -O2 -o "$tmp/mock" "$top"/tests/mock/*.c \
    $(pkg-config --cflags --libs json-c libcrypto zlib) || die "cannot build the mock"
"$tmp/mock" --port 0 >"$tmp/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -s $tmp/mock.out ]] && break; sleep 0.1; done
mock_port=$(awk '/^PORT/ {print $2; exit}' "$tmp/mock.out")
[[ -n $mock_port ]] || die "the mock did not start"

http_port=$(free_port)
fcgi="127.0.0.1:$(free_port)"
mkdir -p "$tmp/htdocs" "$tmp/logs" "$tmp/tmp"
user=""
[[ $(id -u) -ne 0 ]] || user="user $(id -un) $(id -gn);"
sed -e "s|@USER@|$user|g" -e "s|@PREFIX@|$tmp|g" -e "s|@LISTEN@|127.0.0.1:$http_port|g" \
    -e "s|@FCGI@|$fcgi|g" -e "s|@HTDOCS@|$tmp/htdocs|g" \
    -e 's|worker_connections 4096;|worker_connections 16384;|' \
    "$top/contrib/nginx.conf.in" >"$tmp/nginx.conf"
sed -i 's|^\(\s*access_log\) .*;|\1 off;|' "$tmp/nginx.conf"

key=benchkey0000000000000000000000000000000000000000
SQLITE_PATH="$tmp/one-api.db" INITIAL_ROOT_ACCESS_TOKEN=benchadmin INITIAL_ROOT_TOKEN=$key \
    "$bin" --listen "$fcgi" --log-dir "$tmp/logs" --threads "$threads" </dev/null \
    >"$tmp/one-api.out" 2>&1 &
app_pid=$!
pids+=($app_pid)
"$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" -g 'daemon off;' </dev/null \
    >"$tmp/nginx.out" 2>&1 &
pids+=($!)
gw="http://127.0.0.1:$http_port"
for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$gw/api/status") == 200 ]] && break
    sleep 0.2
done
curl -sf -H 'Authorization: benchadmin' -H 'Content-Type: application/json' \
    -d "{\"type\":1,\"name\":\"mock\",\"key\":\"mk\",\"base_url\":\"http://127.0.0.1:$mock_port\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}" \
    "$gw/api/channel/" >/dev/null || die "cannot create the channel"
rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$app_pid/status")
# One request first: it loads the tokenizer's rank files (lazily, on first use), which is
# start-up work, not per-request latency.
curl -s -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer sk-$key" \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"warm up"}]}' \
    "$gw/v1/chat/completions" || true

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-$key"
LUA
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
    else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
declare -A P50 P99
run() { # run NAME URL C
    local t=$(( $3 < 2 ? 1 : 2 )) out
    out=$("$wrk" -t"$t" -c"$3" -d"${secs}s" --latency -s "$tmp/post.lua" "$2" 2>&1) ||
        { echo "$out" >&2; die "wrk failed"; }
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errs=$(awk '/Non-2xx/ {print $4} /Socket errors/ {print $0}' <<<"$out" | tr '\n' ' ')
    P50[$1$3]=$p50 P99[$1$3]=$p99
    printf '%-22s %5s %10.0f %9s %9s %s\n' "$1" "$3" "$rps" "$p50" "$p99" "${errs:+errors: $errs}"
}
echo "non-stream chat, ${secs} s per row, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), tokenizer $tokenizer"
printf '%-22s %5s %10s %9s %9s\n' target conc rps "p50 ms" "p99 ms"
for c in $levels; do
    run "mock direct" "http://127.0.0.1:$mock_port/v1/chat/completions" "$c"
    run "nginx->one-api->mock" "$gw/v1/chat/completions" "$c"
    printf '%-22s %5s %10s %9.3f %9.3f\n' "  added by gateway" "$c" "" \
        "$(awk -v a="${P50[nginx->one-api->mock$c]}" -v b="${P50[mock direct$c]}" 'BEGIN{print a-b}')" \
        "$(awk -v a="${P99[nginx->one-api->mock$c]}" -v b="${P99[mock direct$c]}" 'BEGIN{print a-b}')"
done

# Streams: N (1 s ramp), each 10 events 500 ms apart (a paced chat answer); time to first event, from a C epoll client (bench/sseload.c).
gcc -std=c17 -O2 -o "$tmp/sseload" "$top/bench/sseload.c" || die "cannot build bench/sseload.c"
printf '%s' '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"[[mock chunks=10 delay_ms=500]] hi"}]}' >"$tmp/stream.json"
echo
echo "$streams concurrent streams (10 events, 500 ms apart, 1 s ramp)"
printf '%-22s ' "mock direct"
"$tmp/sseload" 127.0.0.1 "$mock_port" /v1/chat/completions "$streams" 1000 "$key" "$tmp/stream.json"
# Twice through the gateway: the first round also pays for creating the worker threads, their
# heaps and 2,000 upstream connections; the second is a gateway that has run a while.
rss_at() { ( sleep 2.5; awk '/VmRSS/ {print $2}' "/proc/$app_pid/status" >"$tmp/rss_$1" ) & rss_pid=$!; }
printf '%-22s ' "gateway, first round"
rss_at cold
"$tmp/sseload" 127.0.0.1 "$http_port" /v1/chat/completions "$streams" 1000 "$key" "$tmp/stream.json"
wait "$rss_pid" 2>/dev/null || true
printf '%-22s ' "gateway, second round"
rss_at warm
"$tmp/sseload" 127.0.0.1 "$http_port" /v1/chat/completions "$streams" 1000 "$key" "$tmp/stream.json"
wait "$rss_pid" 2>/dev/null || true
mb() { echo $(( $(cat "$tmp/rss_$1" 2>/dev/null || echo 0) / 1024 )); }
echo
echo "one-api RSS: idle $((rss_idle / 1024)) MB (up to $threads threads), with $streams streams open $(mb cold) MB (first round), $(mb warm) MB (second)"
sleep 0.5
echo "logs rows written: $(sqlite3 "$tmp/one-api.db" 'select count(*) from logs' 2>/dev/null || echo '?')"
