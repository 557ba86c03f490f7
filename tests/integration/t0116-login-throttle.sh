#!/usr/bin/env bash
# t0116: password guessing is throttled without locking anyone out from elsewhere: 10 wrong
# passwords for one name from one address make that name answer 429 there (even with the
# right password); the same name still signs in from another address; one address gets 20
# sign-in requests per 20 minutes in all, whatever the names and whatever the answers (One
# API's critical limit), then 429 with an empty body and Retry-After. Addresses come from
# X-Forwarded-For behind a trusted proxy (TRUSTED_PROXIES).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

OA_ENV=("SESSION_SECRET=oa-test-secret-$(rand_name)" "TRUSTED_PROXIES=127.0.0.1")
login() { # login FROM USER PASSWORD
    oa_post_json /api/user/login "{\"username\":\"$2\",\"password\":\"$3\"}" -H "X-Forwarded-For: $1"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    codes=""
    for i in $(seq 10); do
        login 203.0.113.1 root "wrong$i"
        codes+="$OA_STATUS:$(json_get success) "
    done
    is "$codes" "$(printf '200:false %.0s' $(seq 10))" "$ws: 10 wrong passwords are answered as such"
    login 203.0.113.1 root wrong11
    is "$OA_STATUS|$(json_get success)" "429|false" "$ws: the 11th for the same name and address is 429"
    like "$(header Retry-After)" '^[0-9]+$' "$ws: ... with Retry-After"
    login 203.0.113.1 root 123456
    is "$OA_STATUS" 429 "$ws: ... the right password too, from that address"
    login 198.51.100.2 root 123456
    is "$OA_STATUS|$(json_get success)" "200|true" "$ws: root still signs in from another address"

    # 12 requests from 203.0.113.1 so far, the two refused ones included.
    codes=""
    for i in $(seq 8); do
        login 203.0.113.1 "nobody$i" x
        codes+="$OA_STATUS "
    done
    is "$codes" "$(printf '200 %.0s' $(seq 8))" \
        "$ws: other names from that address: the rest of its 20 requests"
    login 203.0.113.1 "nobody9" x
    is "$OA_STATUS|$OA_BODY" "429|" "$ws: the 21st request from one address is 429, whatever the name, with an empty body"
    like "$(header Retry-After)" '^[0-9]+$' "$ws: ... and Retry-After"
    login 198.51.100.2 root 123456
    is "$OA_STATUS|$(json_get success)" "200|true" "$ws: another address is not affected"
    oa_stop
done
done_testing
