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

gcc -std=c17 -D_GNU_SOURCE -O2 -o "$tmp/mock" "$top/tests/mock/mock_upstream.c" \
    $(pkg-config --cflags --libs json-c) || die "cannot build the mock"
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
echo "non-stream chat, ${secs} s per row, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-22s %5s %10s %9s %9s\n' target conc rps "p50 ms" "p99 ms"
for c in $levels; do
    run "mock direct" "http://127.0.0.1:$mock_port/v1/chat/completions" "$c"
    run "nginx->one-api->mock" "$gw/v1/chat/completions" "$c"
    printf '%-22s %5s %10s %9.3f %9.3f\n' "  added by gateway" "$c" "" \
        "$(awk -v a="${P50[nginx->one-api->mock$c]}" -v b="${P50[mock direct$c]}" 'BEGIN{print a-b}')" \
        "$(awk -v a="${P99[nginx->one-api->mock$c]}" -v b="${P99[mock direct$c]}" 'BEGIN{print a-b}')"
done

# Streams: open N at once (1 s ramp), each 10 events 500 ms apart (the spike's figures, notes/fastcgi-spike.md 1.1); time to first event.
cat >"$tmp/streams.py" <<'PY'
import asyncio, sys, time, json
host, port, path, n, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [
    {"role": "user", "content": "[[mock chunks=10 delay_ms=500]] hi"}]}).encode()
req = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       f"Authorization: Bearer sk-{key}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
       ).encode() + body
ttfb, ok, fail = [], 0, 0
async def one(i):
    global ok, fail
    await asyncio.sleep(i / n)   # 1 s ramp
    try:
        r, w = await asyncio.open_connection(host, port)
        t0 = time.monotonic(); w.write(req); await w.drain()
        first = None; data = b""
        while True:
            chunk = await asyncio.wait_for(r.read(65536), 60)
            if not chunk: break
            if first is None and b"data:" in chunk: first = time.monotonic() - t0
            data += chunk
        w.close()
        if first is not None and b"[DONE]" in data: ok += 1; ttfb.append(first * 1000)
        else: fail += 1
    except Exception:
        fail += 1
async def main():
    await asyncio.gather(*(one(i) for i in range(n)))
asyncio.run(main())
ttfb.sort()
q = lambda p: ttfb[min(len(ttfb) - 1, int(len(ttfb) * p))] if ttfb else float("nan")
print(f"{ok:6d} ok {fail:5d} failed   first event p50 {q(0.5):8.2f} ms  p99 {q(0.99):8.2f} ms")
PY
echo
echo "$streams concurrent streams (10 events, 500 ms apart, 1 s ramp)"
printf '%-22s ' "mock direct"
"$py" "$tmp/streams.py" 127.0.0.1 "$mock_port" /v1/chat/completions "$streams" "$key"
printf '%-22s ' "nginx->one-api->mock"
( sleep 2.5; awk '/VmRSS/ {print $2}' "/proc/$app_pid/status" >"$tmp/rss_streams" ) &
"$py" "$tmp/streams.py" 127.0.0.1 "$http_port" /v1/chat/completions "$streams" "$key"
wait $! 2>/dev/null || true
echo
echo "one-api RSS: idle $((rss_idle / 1024)) MB ($threads threads), with $streams streams open $(( $(cat "$tmp/rss_streams" 2>/dev/null || echo 0) / 1024 )) MB"
sleep 0.5
echo "logs rows written: $(sqlite3 "$tmp/one-api.db" 'select count(*) from logs' 2>/dev/null || echo '?')"
