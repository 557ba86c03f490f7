#!/usr/bin/env bash
# t0111: interop with an independent FastCGI client: libfcgi's cgi-fcgi (Debian's
# libfcgi-bin) talks to one-api over a unix socket and over TCP, a GET and a POST with a body.
. "$(dirname "$0")/lib.sh"
oa_require_bin
have cgi-fcgi || skip_all "cgi-fcgi is not installed (Debian package libfcgi-bin)"

# cgi_fcgi ADDR METHOD URI [BODY_FILE]: one request through cgi-fcgi; the CGI response in
# $OA_RUN/cgi-fcgi.out, split into OA_STATUS, OA_HEADERS, OA_BODY.
cgi_fcgi() {
    local addr=$1 method=$2 uri=$3 body=${4:-/dev/null} len=0
    [[ $body == /dev/null ]] || len=$(wc -c <"$body" | tr -d ' ')
    env -i PATH="$PATH" REQUEST_METHOD="$method" REQUEST_URI="$uri" SCRIPT_NAME="" \
        PATH_INFO="${uri%%\?*}" QUERY_STRING="" SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 \
        SERVER_PORT=80 REMOTE_ADDR=127.0.0.1 GATEWAY_INTERFACE=CGI/1.1 \
        CONTENT_TYPE=application/json CONTENT_LENGTH="$len" \
        timeout 20 cgi-fcgi -bind -connect "$addr" <"$body" >"$OA_RUN/cgi-fcgi.out" 2>"$OA_RUN/cgi-fcgi.err"
    local rc=$?
    cgi_split "$OA_RUN/cgi-fcgi.out"
    return $rc
}

body="$OA_TMP/login.json"
printf '%s' '{"username":"root","password":"123456"}' >"$body"
bad="$OA_TMP/bad-login.json"
printf '%s' '{"username":"root","password":"wrong-password"}' >"$bad"

for mode in unix tcp; do
    # oa_start none listens on TCP; for unix, the same run directory layout as nginx-unix.
    if [[ $mode == unix ]]; then
        oa_new_run cgi-fcgi
        oa_db_new
        OA_FCGI_ADDR="$OA_RUN/one-api.sock"
        _oa_app_args
        env "${OA_DB_ENV[@]}" "${OA_CMD[@]}" --listen "$OA_FCGI_ADDR" </dev/null \
            >"$OA_RUN/one-api.out" 2>&1 &
        OA_APP_PID=$!
        OA_WS=none
        _oa_pids+=("$OA_APP_PID")
        wait_for 30 test -S "$OA_FCGI_ADDR" || { fail "$mode: one-api listens on $OA_FCGI_ADDR"; continue; }
    else
        oa_start none || continue
    fi
    cgi_fcgi "$OA_FCGI_ADDR" GET /api/status
    is "$?|$OA_STATUS|$(json_get success)|$(json_get data.system_name)" "0|200|true|One API" \
        "$mode: cgi-fcgi GET /api/status"
    like "$OA_HEADERS" 'Content-Type: application/json' "$mode: ... with its Content-Type"
    cgi_fcgi "$OA_FCGI_ADDR" POST /api/user/login "$body"
    is "$?|$OA_STATUS|$(json_get success)|$(json_get data.username)" "0|200|true|root" \
        "$mode: cgi-fcgi POST /api/user/login with a JSON body"
    cgi_fcgi "$OA_FCGI_ADDR" POST /api/user/login "$bad"
    is "$OA_STATUS|$(json_get success)" "200|false" "$mode: ... a wrong password is refused (body read)"
    oa_stop
done

done_testing
