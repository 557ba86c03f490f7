#!/usr/bin/env bash
# t0102: password login, session cookie, access tokens and logout.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

ACCESS_TOKEN="oa-test-$(rand_name)$(rand_name)"
OA_ENV=("INITIAL_ROOT_ACCESS_TOKEN=$ACCESS_TOKEN" "SESSION_SECRET=oa-test-secret-$(rand_name)")

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    jar="$OA_RUN/cookies.txt"

    # Not logged in.
    oa_req GET /api/user/self
    is "$OA_STATUS" 401 "$ws: /api/user/self without credentials is 401"
    is "$(json_get success)" false "$ws: ... success is false"
    is "$(json_get message)" "无权进行此操作，未登录且未提供 access token" "$ws: ... One API's message"

    # Wrong password: HTTP 200 with success false, no cookie.
    oa_post_json /api/user/login '{"username":"root","password":"wrong-password"}'
    is "$OA_STATUS" 200 "$ws: wrong password is HTTP 200"
    is "$(json_get success)" false "$ws: ... success is false"
    is "$(json_get message)" "用户名或密码错误，或用户已被封禁" "$ws: ... One API's message"
    ok_if "$ws: ... no session cookie" bash -c '! grep -qi "^set-cookie: *session=" <<<"$1"' _ "$OA_HEADERS"

    # The default root account.
    oa_post_json /api/user/login '{"username":"root","password":"123456"}' -c "$jar"
    is "$OA_STATUS" 200 "$ws: login as root is 200"
    is "$(json_get success)" true "$ws: ... success is true"
    is "$(json_get message)" "" "$ws: ... message is empty"
    is "$(json_get data.id)" 1 "$ws: ... data.id"
    is "$(json_get data.username)" root "$ws: ... data.username"
    is "$(json_get data.display_name)" "Root User" "$ws: ... data.display_name"
    is "$(json_get data.role)" 100 "$ws: ... data.role"
    is "$(json_get data.status)" 1 "$ws: ... data.status"
    cookie=$(header Set-Cookie) || cookie=""
    like "$cookie" '^session=[^;]+; ' "$ws: ... sets the session cookie"
    like "$cookie" '; Path=/(;|$)' "$ws: ... cookie Path=/"
    like "$cookie" '; Max-Age=2592000(;|$)' "$ws: ... cookie Max-Age=2592000"
    like "$cookie" '; HttpOnly(;|$)' "$ws: ... cookie HttpOnly"
    like "$cookie" '; SameSite=Lax(;|$)' "$ws: ... cookie SameSite=Lax"

    # The session works.
    oa_req GET /api/user/self -b "$jar"
    is "$OA_STATUS" 200 "$ws: /api/user/self with the session is 200"
    is "$(json_get success)" true "$ws: ... success is true"
    is "$(json_get data.username)" root "$ws: ... data.username"
    is "$(json_get data.role)" 100 "$ws: ... data.role"
    is "$(json_get data.password)" "" "$ws: ... the password is not sent"
    is "$(json_get data.access_token)" "" "$ws: ... the access token is not sent"

    # Access token, bare and with Bearer.
    oa_req GET /api/user/self -H "Authorization: $ACCESS_TOKEN"
    is "$OA_STATUS:$(json_get success):$(json_get data.username)" "200:true:root" \
        "$ws: Authorization: <access token> works"
    oa_req GET /api/user/self -H "Authorization: Bearer $ACCESS_TOKEN"
    is "$OA_STATUS:$(json_get success):$(json_get data.username)" "200:true:root" \
        "$ws: Authorization: Bearer <access token> works"
    oa_req GET /api/user/self -H "Authorization: Bearer nope-$(rand_name)"
    is "$OA_STATUS" 200 "$ws: an unknown access token is HTTP 200"
    is "$(json_get success)" false "$ws: ... success is false"
    is "$(json_get message)" "无权进行此操作，access token 无效" "$ws: ... One API's message"

    # Logout ends the session in the browser: the cookie jar takes the cleared
    # cookie. (Sessions are signed cookies, as in the Go One API, so a copy of
    # the old cookie stays valid until it expires; not tested here.)
    oa_req GET /api/user/logout -b "$jar" -c "$jar"
    is "$OA_STATUS" 200 "$ws: logout is 200"
    is "$(json_get success)" true "$ws: ... success is true"
    is "$(json_get message)" "" "$ws: ... message is empty"
    like "$(header Set-Cookie)" '^session=[^;]*;.*(Max-Age=0|Expires=)' "$ws: ... clears the session cookie"
    oa_req GET /api/user/self -b "$jar"
    is "$OA_STATUS" 401 "$ws: the session no longer works after logout"

    # A second login still works (the logout did not break the account).
    oa_post_json /api/user/login '{"username":"root","password":"123456"}'
    is "$(json_get success)" true "$ws: login again after logout"
    oa_stop
done

done_testing
