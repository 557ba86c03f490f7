#!/usr/bin/env bash
# t0114: who the client is. Behind a trusted proxy (TRUSTED_PROXIES) X-Forwarded-For and
# X-Real-IP name the client: a key's subnet, the access log and the failed-login log all use
# that address; the right-most untrusted hop wins over what a client writes on the left.
# Without TRUSTED_PROXIES the headers are ignored (t0301 checks that side).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
OA_ENV+=("TRUSTED_PROXIES=127.0.0.1/32, 10.200.0.0/16")
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
mock_start

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"mock\",\"key\":\"k\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
    oa_add_token '{"name":"net","unlimited_quota":true,"subnet":"10.0.0.0/8"}'
    key=$TOK_KEY

    oa_relay /v1/chat/completions "$key" "$CHAT" -H 'X-Forwarded-For: 10.1.2.3'
    is "$OA_STATUS" 200 "$ws: behind a trusted proxy the X-Forwarded-For client is inside the subnet"
    rid=$(header X-Oneapi-Request-Id)
    like "$(grep -F "$rid" "$OA_RUN/one-api.out" "$OA_RUN"/logs/*.log 2>/dev/null | grep -F '[GIN]' | head -n1)" \
        '\| +10\.1\.2\.3 \|' "$ws: the access log shows that client"

    oa_relay /v1/chat/completions "$key" "$CHAT" -H 'X-Forwarded-For: 10.1.2.3, 203.0.113.5'
    like "$OA_STATUS|$(json_get error.message)" '^403\|.*当前 ip：203\.0\.113\.5 ' \
        "$ws: the right-most untrusted hop is the client, not what it wrote on the left"

    oa_relay /v1/chat/completions "$key" "$CHAT" -H 'X-Forwarded-For: 203.0.113.5, 10.200.1.1'
    like "$OA_STATUS|$(json_get error.message)" '^403\|.*当前 ip：203\.0\.113\.5 ' \
        "$ws: trusted hops on the right are skipped"

    oa_relay /v1/chat/completions "$key" "$CHAT" -H 'X-Real-IP: 10.7.7.7'
    is "$OA_STATUS" 200 "$ws: X-Real-IP counts when there is no X-Forwarded-For"

    oa_req POST /api/user/login -H 'Content-Type: application/json' -H 'X-Forwarded-For: 198.51.100.23' \
        --data-binary '{"username":"root","password":"wrong-password"}'
    is "$(json_get success)" false "$ws: a wrong password fails"
    like "$(cat "$OA_RUN"/logs/*.log 2>/dev/null)" 'login failed .*198\.51\.100\.23' \
        "$ws: the failed-login log names the same client"
    oa_stop
done
done_testing
