#!/usr/bin/env bash
# t0106: SIGTERM drains: one-api stops accepting, finishes the requests in
# flight (up to DRAIN_TIMEOUT), then exits 0.
#
# A request is kept in flight by sending only part of its body and pausing:
# the worker is then blocked reading the body, which needs no slow route.
. "$(dirname "$0")/lib.sh"
oa_require_bin

body="$OA_TMP/login.json"
printf '%s' '{"username":"root","password":"123456"}' >"$body"

# --- 1. straight FastCGI, no web server ------------------------------------

OA_ARGS=(--drain-timeout 20)
if oa_start none; then
    flag="$OA_RUN/release"
    FCGI_PAUSE_AFTER=10 FCGI_PAUSE_FILE="$flag" \
        fcgi_request "$OA_FCGI_ADDR" POST /api/user/login "$body" >"$OA_RUN/inflight.out" 2>&1 &
    client=$!
    _oa_pids+=("$client")
    wait_for 10 test -e "$flag.sent" || diag "the FastCGI client did not start"
    sleep 0.3                          # let a worker pick the request up
    t0=$SECONDS
    kill -TERM "$OA_APP_PID"
    sleep 0.5
    ok_if "fcgi: one-api is still running 0.5 s after SIGTERM with a request in flight" pid_alive "$OA_APP_PID"
    if _oa_tcp_open "$OA_FCGI_ADDR"; then
        fail "fcgi: new connections are refused while draining"
    else
        pass "fcgi: new connections are refused while draining"
    fi
    touch "$flag"                      # send the rest of the body
    wait_exit "$client" 15
    cgi_split "$OA_RUN/inflight.out"
    is "$OA_STATUS:$(json_get success)" "200:true" "fcgi: the in-flight request completes"
    wait_exit "$OA_APP_PID" 20
    is "$OA_EXIT" 0 "fcgi: one-api exits 0 after the drain"
    like "$((SECONDS - t0))" '^[0-9]$' "fcgi: ... within a few seconds of the last request"
    OA_APP_PID=""
    oa_stop
fi

# --- 2. the drain timeout bounds a request that never ends -----------------

OA_ARGS=(--drain-timeout 2)
if oa_start none; then
    flag="$OA_RUN/release"
    FCGI_PAUSE_AFTER=10 FCGI_PAUSE_FILE="$flag" \
        fcgi_request "$OA_FCGI_ADDR" POST /api/user/login "$body" >"$OA_RUN/stuck.out" 2>&1 &
    client=$!
    _oa_pids+=("$client")
    wait_for 10 test -e "$flag.sent"
    sleep 0.3
    t0=$SECONDS
    kill -TERM "$OA_APP_PID"
    wait_exit "$OA_APP_PID" 10
    elapsed=$((SECONDS - t0))
    is "$OA_EXIT" 0 "timeout: one-api exits 0 when the drain timeout (2 s) expires"
    ok_if "timeout: ... after 1-5 s (took $elapsed s)" test "$elapsed" -ge 1 -a "$elapsed" -le 5
    touch "$flag"
    wait_exit "$client" 10 || kill "$client" 2>/dev/null
    OA_APP_PID=""
    oa_stop
fi

# --- 3. idle: SIGTERM and SIGINT exit 0 at once ----------------------------

OA_ARGS=()
for sig in TERM INT; do
    oa_start none || continue
    t0=$SECONDS
    kill -"$sig" "$OA_APP_PID"
    wait_exit "$OA_APP_PID" 10
    is "$OA_EXIT" 0 "idle: SIG$sig makes one-api exit 0"
    ok_if "idle: ... within 3 s" test $((SECONDS - t0)) -le 3
    OA_APP_PID=""
    oa_stop
done

# --- 4. behind the web servers ---------------------------------------------

OA_ARGS=(--drain-timeout 20)
for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    flag="$OA_RUN/release"
    http_paused_request "$OA_HTTP_PORT" POST /api/user/login "$body" 10 "$flag" >"$OA_RUN/inflight.out" 2>&1 &
    client=$!
    _oa_pids+=("$client")
    wait_for 10 test -e "$flag.sent"
    sleep 0.5                          # the web server has passed the request on
    app=$OA_APP_PID
    case $ws in
    # nginx in front: one-api is stopped on its own (a deploy restarts the app).
    nginx) kill -TERM "$app" ;;
    # lighttpd supervises one-api: its graceful stop (SIGINT) ends both.
    lighttpd) kill -INT "$OA_WS_PID" ;;
    esac
    sleep 0.5
    ok_if "$ws: one-api is still running with a request in flight" pid_alive "$app"
    touch "$flag"
    wait_exit "$client" 20
    cgi_split "$OA_RUN/inflight.out"
    is "$OA_STATUS:$(json_get success)" "200:true" "$ws: the in-flight request completes"
    if [[ $ws == nginx ]]; then
        wait_exit "$app" 20
        is "$OA_EXIT" 0 "$ws: one-api exits 0 after the drain"
    else
        wait_exit "$OA_WS_PID" 20
        is "$OA_EXIT" 0 "$ws: lighttpd exits 0 after its graceful stop"
        # one-api is lighttpd's child, reparented when lighttpd exits.
        wait_for 20 bash -c '! kill -0 "$1" 2>/dev/null' _ "$app"
        ok_if "$ws: the spawned one-api has exited too" bash -c '! kill -0 "$1" 2>/dev/null' _ "$app"
    fi
    OA_APP_PID=""
    oa_stop
done

done_testing
