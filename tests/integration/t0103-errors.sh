#!/usr/bin/env bash
# t0103: error shapes (404 for unknown paths and unknown methods, 413, malformed JSON), the
# request id header on every response, refusal to start on a bad configuration value, and
# the example SESSION_SECRET replaced by a random one, database errors as 200 envelopes.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

# The body limit is 1 MB here so a 2 MB body is over it (nginx allows 64 MB).
OA_ENV=("MAX_REQUEST_BODY_MB=1")
big="$OA_TMP/big.json"
python3 -c 'import sys; sys.stdout.write("{\"username\":\"root\",\"password\":\"" + "x" * (2 << 20) + "\"}")' >"$big"

# check_openai_error WS CODE METHOD PATH MESSAGE
check_openai_error() {
    local ws=$1 code=$2 method=$3 path=$4 msg=$5
    is "$OA_STATUS" "$code" "$ws: $method $path is $code"
    is "$(json_get error.message)" "$msg" "$ws: ... error.message"
    is "$(json_get error.type)" invalid_request_error "$ws: ... error.type"
    is "$(json_get error.param)|$(json_get error.code)" "|" "$ws: ... error.param and error.code are empty"
    like "$(header X-Oneapi-Request-Id)" '.' "$ws: ... X-Oneapi-Request-Id is set"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue

    oa_req GET /api/nope
    check_openai_error "$ws" 404 GET /api/nope "Invalid URL (GET /api/nope)"
    oa_req GET /v1/nope
    check_openai_error "$ws" 404 GET /v1/nope "Invalid URL (GET /v1/nope)"
    oa_post_json /v1/nope '{}'
    check_openai_error "$ws" 404 POST /v1/nope "Invalid URL (POST /v1/nope)"

    # gin has no 405: a known path with another method is an unknown URL.
    oa_req DELETE /api/status
    check_openai_error "$ws" 404 DELETE /api/status "Invalid URL (DELETE /api/status)"
    oa_req GET /v1/chat/completions
    check_openai_error "$ws" 404 GET /v1/chat/completions "Invalid URL (GET /v1/chat/completions)"
    oa_req OPTIONS /api/status
    check_openai_error "$ws" 404 OPTIONS /api/status "Invalid URL (OPTIONS /api/status)"

    # Body over MAX_REQUEST_BODY_MB.
    oa_req POST /api/user/login -H 'Content-Type: application/json' --data-binary "@$big"
    is "$OA_STATUS" 413 "$ws: a 2 MB body with MAX_REQUEST_BODY_MB=1 is 413"
    is "$(json_get success)" false "$ws: ... success is false"
    like "$(json_get message)" '.' "$ws: ... with a message"
    like "$(header X-Oneapi-Request-Id)" '.' "$ws: ... X-Oneapi-Request-Id is set"

    # Malformed JSON: One API's management handlers answer it with a 200 envelope.
    oa_post_json /api/user/login '{"username":"root",'
    is "$OA_STATUS" 200 "$ws: malformed JSON to /api/user/login is 200"
    is "$(json_get success)" false "$ws: ... success is false"
    is "$(json_get message)" "invalid parameter" "$ws: ... message"
    like "$(header X-Oneapi-Request-Id)" '.' "$ws: ... X-Oneapi-Request-Id is set"
    oa_post_json /api/user/login '{"username":' -H 'Accept-Language: zh-CN'
    is "$OA_STATUS:$(json_get message)" "200:无效的参数" "$ws: ... localised"

    # The request id is on the 401 too, and the server still works after all that.
    oa_req GET /api/user/self
    like "$(header X-Oneapi-Request-Id)" '.' "$ws: X-Oneapi-Request-Id on a 401"
    oa_req GET /api/status
    is "$OA_STATUS" 200 "$ws: still serving after the errors"
    oa_stop
done

# A bad configuration value stops the binary at start, naming the setting.
# bad_config DESC PATTERN ENV... -- ARGS...
bad_config() {
    local desc=$1 pattern=$2; shift 2
    local envs=() rc out
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    out="$OA_TMP/bad-config.out"
    # A timeout in case it starts anyway; a free port and fd 0 from /dev/null
    # so it does not collide with anything if it does.
    env "${envs[@]}" "SQLITE_PATH=$OA_TMP/bad.db" timeout 10 "$ONEAPI_BIN" \
        --listen "127.0.0.1:$(free_port)" --log-dir "$OA_TMP/bad-logs" "$@" \
        </dev/null >"$out" 2>&1
    rc=$?
    if [[ $rc -ne 0 && $rc -ne 124 ]]; then pass "$desc: exits non-zero ($rc)"
    else fail "$desc: exits non-zero"; diag "exit status $rc (124: still running after 10 s)"; fi
    if grep -qE "$pattern" "$out"; then pass "$desc: the message names the setting"
    else fail "$desc: the message names the setting"; diag "output: $(head -c 500 "$out")"; fi
}
bad_config "--threads abc" 'WORKER_THREADS|--threads|threads' -- --threads abc
bad_config "WORKER_THREADS=0" 'WORKER_THREADS' WORKER_THREADS=0 --
bad_config "MAX_REQUEST_BODY_MB=-5" 'MAX_REQUEST_BODY_MB' MAX_REQUEST_BODY_MB=-5 --
bad_config "--drain-timeout x" 'DRAIN_TIMEOUT|drain-timeout' -- --drain-timeout x

# The example SESSION_SECRET of One API's docs: an error in the log, and a random secret.
OA_ENV=("SESSION_SECRET=random_string")
if oa_start nginx; then
    oa_post_json /api/user/login '{"username":"root","password":"123456"}'
    is "$OA_STATUS:$(json_get success)" "200:true" "SESSION_SECRET=random_string: serves, login works"
    cookie=$(header Set-Cookie) || cookie=""
    oa_req GET /api/user/self -b "${cookie%%;*}"
    is "$OA_STATUS:$(json_get data.username)" "200:root" "... with a session that lasts while the process does"
    like "$(cat "$OA_RUN/one-api.out")" "ERR.*SESSION_SECRET is the example value 'random_string'.*random secret" \
        "... and the log says the example value was replaced"
    # A failed query: One API's 200 envelope; the database's text stays in the log.
    oa_db_query 'ALTER TABLE tokens RENAME TO tokens_gone' >/dev/null
    oa_req GET /api/token/ -b "${cookie%%;*}"
    is "$OA_STATUS|$(json_get success)|$(json_get message)" "200|false|database error" \
        "a database error on /api is HTTP 200 with success:false and a short message"
    oa_db_query 'ALTER TABLE tokens_gone RENAME TO tokens' >/dev/null
    oa_req GET /api/token/ -b "${cookie%%;*}"
    is "$OA_STATUS|$(json_get success)" "200|true" "... and the route works again"
    oa_stop
fi

done_testing
