#!/usr/bin/env bash
# t0119: One API's per-address limits, sliding windows by count: GLOBAL_API_RATE_LIMIT on /api
# and billing, GLOBAL_WEB_RATE_LIMIT on other paths, CRITICAL_RATE_LIMIT on sign-in; 429 with
# an empty body and Retry-After; other addresses unaffected; /v1 never limited; 0 turns a
# limit off and DEBUG=true all of them. Addresses come from X-Forwarded-For behind a trusted
# proxy.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
BASE_ENV=("${OA_ENV[@]}" "TRUSTED_PROXIES=127.0.0.1")
from() { local ip=$1 m=$2 p=$3; shift 3; oa_req "$m" "$p" -H "X-Forwarded-For: $ip" "$@"; }
login() { from "$1" POST /api/user/login -H 'Content-Type: application/json' \
    --data-binary '{"username":"root","password":"123456"}'; }
# codes N IP METHOD PATH [CURL ARGS...]: the statuses of N requests, space-separated.
codes() {
    local n=$1 out="" i; shift
    for ((i = 0; i < n; i++)); do from "$@"; out+="$OA_STATUS "; done
    printf '%s' "$out"
}

OA_ENV=("${BASE_ENV[@]}" GLOBAL_API_RATE_LIMIT=5 GLOBAL_WEB_RATE_LIMIT=4 CRITICAL_RATE_LIMIT=3)
for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    is "$(codes 5 198.51.100.1 GET /api/status)" "200 200 200 200 200 " \
        "$ws: GLOBAL_API_RATE_LIMIT=5: five /api requests in the window are served"
    from 198.51.100.1 GET /api/status
    is "$OA_STATUS|$OA_BODY" "429|" "$ws: the sixth is 429 with an empty body"
    retry=$(header Retry-After) || retry=0
    if [[ $retry =~ ^[0-9]+$ && $retry -ge 170 && $retry -le 180 ]]; then
        pass "$ws: ... Retry-After until the oldest leaves the 180 s window ($retry)"
    else fail "$ws: ... Retry-After until the oldest leaves the 180 s window"; diag "got '$retry'"; fi
    from 198.51.100.1 GET /api/user/self -H "Authorization: Bearer $ROOT_AT"
    is "$OA_STATUS" 429 "$ws: ... any /api route, before authentication"
    from 198.51.100.2 GET /api/status
    is "$OA_STATUS" 200 "$ws: another address is still served"
    is "$(codes 8 198.51.100.1 GET /v1/models -H "Authorization: Bearer sk-$ROOT_KEY")" \
        "200 200 200 200 200 200 200 200 " "$ws: /v1 is never limited, even for a limited address"

    is "$(codes 5 198.51.100.3 GET /dashboard/billing/subscription -H "Authorization: Bearer sk-$ROOT_KEY")" \
        "200 200 200 200 200 " "$ws: billing routes share the API limit"
    from 198.51.100.3 GET /v1/dashboard/billing/usage -H "Authorization: Bearer sk-$ROOT_KEY"
    is "$OA_STATUS|$OA_BODY" "429|" "$ws: ... the sixth (under /v1 too) is 429"

    is "$(codes 4 198.51.100.4 GET /some/page)" "404 404 404 404 " \
        "$ws: GLOBAL_WEB_RATE_LIMIT=4: four web requests are answered"
    from 198.51.100.4 GET /some/page
    is "$OA_STATUS|$OA_BODY" "429|" "$ws: the fifth is 429 with an empty body"
    like "$(header Retry-After)" '^[0-9]+$' "$ws: ... and Retry-After"
    from 198.51.100.4 GET /api/status
    is "$OA_STATUS" 200 "$ws: the web limit is not the API limit"

    is "$(codes 3 198.51.100.5 POST /api/user/login -H 'Content-Type: application/json' \
        --data-binary '{"username":"root","password":"123456"}')" "200 200 200 " \
        "$ws: CRITICAL_RATE_LIMIT=3: three sign-ins are served"
    login 198.51.100.5
    is "$OA_STATUS|$OA_BODY" "429|" "$ws: the fourth is 429 with an empty body"
    from 198.51.100.5 GET /api/status
    is "$OA_STATUS" 200 "$ws: other /api routes of that address still pass"
    login 198.51.100.6
    is "$OA_STATUS|$(json_get success)" "200|true" "$ws: sign-in from another address"
    oa_stop
done

# 0 turns one limit off; the others stay.
OA_ENV=("${BASE_ENV[@]}" GLOBAL_API_RATE_LIMIT=0 GLOBAL_WEB_RATE_LIMIT=0 CRITICAL_RATE_LIMIT=1)
if oa_start nginx; then
    is "$(codes 12 198.51.100.1 GET /api/status)" "$(printf '200 %.0s' $(seq 12))" "GLOBAL_API_RATE_LIMIT=0: no API limit"
    is "$(codes 12 198.51.100.1 GET /some/page)" "$(printf '404 %.0s' $(seq 12))" "GLOBAL_WEB_RATE_LIMIT=0: no web limit"
    login 198.51.100.1
    is "$OA_STATUS" 200 "CRITICAL_RATE_LIMIT=1: one sign-in"
    login 198.51.100.1
    is "$OA_STATUS" 429 "... then 429"
    oa_stop
fi

# DEBUG=true turns them all off.
OA_ENV=("${BASE_ENV[@]}" DEBUG=true GLOBAL_API_RATE_LIMIT=1 GLOBAL_WEB_RATE_LIMIT=1 CRITICAL_RATE_LIMIT=1)
if oa_start nginx; then
    is "$(codes 3 198.51.100.1 GET /api/status)$(codes 3 198.51.100.1 GET /some/page)" \
        "200 200 200 404 404 404 " "DEBUG=true: no API or web limit"
    login 198.51.100.1
    login 198.51.100.1
    is "$OA_STATUS" 200 "DEBUG=true: no critical limit"
    oa_stop
fi
done_testing
