#!/usr/bin/env bash
# t0109: admission control. With 4 workers and 1 kept in reserve, once 3 requests are in
# flight the next one is answered 503 at once (in One API's shapes) instead of waiting
# unseen in the listen backlog; when the busy ones finish, requests are served again.
. "$(dirname "$0")/lib.sh"
oa_require_bin

body="$OA_TMP/login.json"
printf '%s' '{"username":"root","password":"123456"}' >"$body"
OA_TEST_THREADS=4
OA_ARGS=(--busy-reserve 1)
if oa_start none; then
    clients=()
    for i in 1 2 3; do
        FCGI_PAUSE_AFTER=5 FCGI_PAUSE_FILE="$OA_RUN/release" \
            fcgi_request "$OA_FCGI_ADDR" POST /api/user/login "$body" >"$OA_RUN/held$i.out" 2>&1 &
        clients+=($!)
        _oa_pids+=($!)
    done
    wait_for 10 test -e "$OA_RUN/release.sent" || diag "the held clients did not start"
    sleep 0.5                           # let three workers pick them up
    fcgi_request "$OA_FCGI_ADDR" GET /api/status >"$OA_RUN/busy.out" 2>&1
    cgi_split "$OA_RUN/busy.out"
    is "$OA_STATUS|$(json_get success)|$(json_get message)" "503|false|server busy, please retry" \
        "the fourth request gets 503 at once while three are in flight"
    like "$OA_HEADERS" 'Retry-After: 1' "with Retry-After"
    fcgi_request "$OA_FCGI_ADDR" GET /v1/models >"$OA_RUN/busy2.out" 2>&1
    cgi_split "$OA_RUN/busy2.out"
    is "$OA_STATUS|$(json_get error.code)" "503|server_busy" "a relay path gets the OpenAI error shape"
    touch "$OA_RUN/release"
    for c in "${clients[@]}"; do wait_exit "$c" 15; done
    cgi_split "$OA_RUN/held1.out"
    is "$OA_STATUS|$(json_get success)" "200|true" "the held requests complete normally"
    fcgi_request "$OA_FCGI_ADDR" GET /api/status >"$OA_RUN/after.out" 2>&1
    cgi_split "$OA_RUN/after.out"
    is "$OA_STATUS|$(json_get success)" "200|true" "once they are done, requests are served again"
    oa_stop
fi
done_testing
