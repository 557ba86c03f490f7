#!/usr/bin/env bash
# t0116: password guessing is throttled without locking anyone out from elsewhere: 10 wrong
# passwords for one name from one address make that name answer 429 there (even with the
# right password); the same name still signs in from another address; one address gets 20
# sign-in attempts in all, whatever the names, then 429 with Retry-After (an attempt refused
# with 429 does not count, as in One API). Addresses come from
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

    codes=""
    for i in $(seq 10); do
        login 203.0.113.1 "nobody$i" x
        codes+="$OA_STATUS "
    done
    is "$codes" "$(printf '200 %.0s' $(seq 10))" \
        "$ws: other names from that address: the rest of its 20 attempts (refused ones do not count)"
    login 203.0.113.1 "nobody11" x
    is "$OA_STATUS" 429 "$ws: the 21st attempt from one address is 429, whatever the name"
    is "$(json_get message)" "请求过于频繁，请稍后再试 (too many requests, please retry later)" \
        "$ws: ... with a message in the envelope"
    oa_stop
done
done_testing
