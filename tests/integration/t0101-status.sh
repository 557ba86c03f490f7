#!/usr/bin/env bash
# t0101: GET /api/status through each web server answers One API's envelope.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

# nginx-unix: one-api listening on a unix socket instead of TCP.
servers=$(oa_webservers)
[[ " $servers " != *" nginx "* ]] || servers+=" nginx-unix"
for ws in $servers; do
    oa_start "$ws" || continue
    oa_req GET /api/status
    is "$OA_STATUS" 200 "$ws: GET /api/status is 200"
    like "$(header Content-Type)" '^application/json' "$ws: Content-Type is JSON"
    like "$(header X-Oneapi-Request-Id)" '.' "$ws: X-Oneapi-Request-Id is set"
    is "$(json_get success)" true "$ws: success is true"
    is "$(json_get message)" "" "$ws: message is empty"
    is "$(json_get data.system_name)" "One API" "$ws: data.system_name"
    is "$(json_get data.quota_per_unit)" 500000 "$ws: data.quota_per_unit"
    like "$(json_get data.version)" '.' "$ws: data.version is set"
    like "$(json_get data.start_time)" '^[0-9]+$' "$ws: data.start_time is a number"

    # A query string must not change the route.
    oa_req GET '/api/status?x=1'
    is "$OA_STATUS" 200 "$ws: GET /api/status?x=1 is 200"

    # Two requests get two different request ids.
    first=$(header X-Oneapi-Request-Id)
    oa_req GET /api/status
    isnt "$(header X-Oneapi-Request-Id)" "$first" "$ws: request ids differ between requests"

    # nginx keeps its FastCGI connections (fastcgi_keep_conn): after the requests above they
    # are still open, idle, and a burst of sequential requests reuses them.
    if [[ $ws == nginx ]] && command -v ss >/dev/null; then
        port=${OA_FCGI_ADDR##*:}
        kept() { ss -Htn state established "( dport = :$port )" | wc -l; }
        before=$(kept)
        for _ in $(seq 20); do oa_req GET /api/status; done
        after=$(kept)
        ok_if "$ws: FastCGI connections stay open between requests ($before kept)" \
            test "$before" -ge 1
        # Without reuse there would be about 20 (one per request); each nginx worker keeps
        # its own, so a few more may appear.
        ok_if "$ws: 20 sequential requests reuse them ($before before, $after after)" \
            test "$after" -lt 10
    fi
    oa_stop
done

done_testing
