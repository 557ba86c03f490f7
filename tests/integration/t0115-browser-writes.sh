#!/usr/bin/env bash
# t0115: the router holds browser sessions to what keeps other sites out. A write with the
# session cookie that the browser marks as cross-site (Sec-Fetch-Site) or that carries an
# Origin other than the Host is refused with 403; a JSON route takes a browser's body only as
# application/json (415 otherwise). Scripts with an access token are not affected.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

ACCESS_TOKEN="oa-test-$(rand_name)$(rand_name)"
OA_ENV=("INITIAL_ROOT_ACCESS_TOKEN=$ACCESS_TOKEN" "SESSION_SECRET=oa-test-secret-$(rand_name)")
tokens() { oa_db_query "SELECT COUNT(*) FROM tokens"; }

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    jar="$OA_RUN/cookies.txt"
    host=127.0.0.1:$OA_HTTP_PORT

    oa_req POST /api/user/login -H 'Content-Type: text/plain' \
        --data-binary '{"username":"root","password":"123456"}' -c "$jar"
    is "$OA_STATUS|$(json_get success)" "415|false" "$ws: a login posted as text/plain is 415"
    like "$(json_get message)" 'application/json' "$ws: ... saying what it takes"
    ok_if "$ws: ... and sets no session" bash -c '! grep -q session "$1" 2>/dev/null' _ "$jar"
    oa_post_json /api/user/login '{"username":"root","password":"123456"}' -c "$jar"
    is "$(json_get success)" true "$ws: a JSON login works"

    n=$(tokens)
    oa_post_json /api/token/ '{"name":"x1"}' -b "$jar" -H 'Sec-Fetch-Site: cross-site' \
        -H 'Origin: https://evil.example'
    is "$OA_STATUS|$(json_get success)" "403|false" "$ws: a cross-site session write is 403"
    oa_post_json /api/token/ '{"name":"x2"}' -b "$jar" -H 'Origin: https://evil.example'
    is "$OA_STATUS" 403 "$ws: without Sec-Fetch-Site, a foreign Origin is 403"
    oa_req DELETE /api/token/1 -b "$jar" -H 'Sec-Fetch-Site: same-site'
    is "$OA_STATUS" 403 "$ws: a same-site (other origin) DELETE is 403"
    oa_req POST /api/token/ -b "$jar" -H 'Content-Type: text/plain' --data-binary '{"name":"x3"}'
    is "$OA_STATUS" 415 "$ws: a session posting JSON as text/plain (a form's trick) is 415"
    is "$(tokens)" "$n" "$ws: ... and none of them made a token"

    oa_post_json /api/token/ '{"name":"ok1"}' -b "$jar" -H 'Sec-Fetch-Site: same-origin' \
        -H "Origin: http://$host"
    is "$OA_STATUS|$(json_get success)" "200|true" "$ws: a same-origin session write works"
    oa_post_json /api/token/ '{"name":"ok2"}' -b "$jar"
    is "$(json_get success)" true "$ws: so does one with neither header (not a browser)"
    oa_req GET /api/token/ -b "$jar" -H 'Sec-Fetch-Site: cross-site'
    is "$(json_get success)" true "$ws: a cross-site GET (a link) is not a write: allowed"

    oa_req POST /api/token/ -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Sec-Fetch-Site: cross-site' \
        --data-binary '{"name":"script"}'
    is "$OA_STATUS|$(json_get success)" "200|true" \
        "$ws: an access token may post (curl -d, no JSON type) from anywhere"
    is "$(tokens)" "$((n + 3))" "$ws: ... three tokens made in all"
    oa_stop
done

done_testing
