#!/usr/bin/env bash
# t0118: CORS as One API's relay, billing and web paths answer it (the request's Origin
# echoed, credentials allowed, preflights answered before any key is asked for), none on
# /api; Content-Encoding: gzip request bodies inflated on every route, malformed gzip 400
# with an empty body, and a gzip bomb refused at the body limit.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
OA_ENV+=("MAX_REQUEST_BODY_MB=1")
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
ORIGIN="https://chat.example.org"
mock_start
gz() { "$OA_PY" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(sys.stdin.buffer.read()))'; }
gz <<<"$CHAT" >"$OA_TMP/chat.gz"
printf '%s' '{"username":"root","password":"123456"}' | gz >"$OA_TMP/login.gz"
# 64 MiB of spaces inside a JSON string: about 64 KB of gzip.
"$OA_PY" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(b"{\"model\":\"" + b" " * (64 << 20) + b"\"}"))' >"$OA_TMP/bomb.gz"
printf 'not gzip at all' >"$OA_TMP/bad.gz"

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"mock\",\"key\":\"k-mock\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"

    # A cross-origin POST with a key: the browser reads the answer.
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT" -H "Origin: $ORIGIN"
    is "$OA_STATUS" 200 "$ws: a cross-origin chat call is served"
    is "$(header Access-Control-Allow-Origin)|$(header Access-Control-Allow-Credentials)|$(header Vary)" \
        "$ORIGIN|true|Origin" "$ws: ... with the Origin echoed, credentials allowed, Vary: Origin"
    # Errors carry them too, or the browser could not read why it failed.
    oa_relay /v1/chat/completions "nokey" "$CHAT" -H "Origin: $ORIGIN"
    is "$OA_STATUS|$(header Access-Control-Allow-Origin)" "401|$ORIGIN" "$ws: a 401 of the relay has CORS headers"
    oa_req GET /v1/nope -H "Origin: $ORIGIN"
    is "$OA_STATUS|$(header Access-Control-Allow-Origin)" "404|$ORIGIN" "$ws: so does an unknown /v1 URL"
    oa_req GET /dashboard/billing/subscription -H "Authorization: Bearer sk-$ROOT_KEY" -H "Origin: $ORIGIN"
    is "$OA_STATUS|$(header Access-Control-Allow-Origin)" "200|$ORIGIN" "$ws: the billing routes have them"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
    is "$(header Access-Control-Allow-Origin || echo none)" none "$ws: no Origin, no CORS headers"

    # The preflight: no key, answered before matching.
    oa_req OPTIONS /v1/chat/completions -H "Origin: $ORIGIN" \
        -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization, content-type'
    is "$OA_STATUS|$OA_BODY" "204|" "$ws: a preflight without a key is 204 with no body"
    is "$(header Access-Control-Allow-Origin)|$(header Access-Control-Allow-Credentials)" "$ORIGIN|true" \
        "$ws: ... origin and credentials"
    is "$(header Access-Control-Allow-Methods)" "GET, POST, PUT, DELETE, OPTIONS" "$ws: ... methods"
    is "$(header Access-Control-Allow-Headers)" "authorization, content-type" "$ws: ... the asked headers"
    like "$(header Access-Control-Max-Age)" '^[0-9]+$' "$ws: ... and a max age"
    oa_req OPTIONS /v1/dashboard/billing/usage -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: GET'
    is "$OA_STATUS|$(header Access-Control-Allow-Origin)" "204|$ORIGIN" "$ws: billing preflight"

    # /api: same-origin only, never readable from another site.
    oa_req GET /api/status -H "Origin: $ORIGIN"
    is "$OA_STATUS|$(header Access-Control-Allow-Origin || echo none)" "200|none" "$ws: /api answers carry no CORS headers"
    oa_req OPTIONS /api/user/self -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: GET'
    is "$OA_STATUS|$(header Access-Control-Allow-Origin || echo none)" "404|none" "$ws: an /api preflight is not answered"

    # gzip request bodies.
    oa_req POST /v1/chat/completions -H "Authorization: Bearer sk-$ROOT_KEY" \
        -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary "@$OA_TMP/chat.gz"
    is "$OA_STATUS|$(json_get object)" "200|chat.completion" "$ws: a gzip chat body is inflated and relayed"
    oa_req POST /api/user/login -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
        --data-binary "@$OA_TMP/login.gz"
    is "$OA_STATUS|$(json_get success)|$(json_get data.username)" "200|true|root" "$ws: a gzip login body on /api too"
    oa_req POST /v1/chat/completions -H "Authorization: Bearer sk-$ROOT_KEY" \
        -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary "@$OA_TMP/bad.gz"
    is "$OA_STATUS|$OA_BODY" "400|" "$ws: malformed gzip is 400 with an empty body"
    oa_req POST /api/user/login -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
        --data-binary "@$OA_TMP/bad.gz"
    is "$OA_STATUS|$OA_BODY" "400|" "$ws: ... on /api too"
    oa_req POST /v1/chat/completions -H "Authorization: Bearer sk-$ROOT_KEY" \
        -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary "@$OA_TMP/bomb.gz"
    is "$OA_STATUS|$(json_get error.code)" "413|request_body_too_large" \
        "$ws: a gzip bomb (64 KB -> 64 MiB) is refused at MAX_REQUEST_BODY_MB=1: 413"
    oa_req GET /api/status
    is "$OA_STATUS" 200 "$ws: still serving"
    oa_stop
done
done_testing
