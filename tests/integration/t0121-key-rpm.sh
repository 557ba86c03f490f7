#!/usr/bin/env bash
# t0121: a relay key's own requests-per-minute limit (tokens.rpm_limit): set and read through
# the token API, the call past it answered 429 in OpenAI's error shape with Retry-After,
# other keys unaffected, 0 for no limit, and the console's edits (which do not send the
# field) leave it alone.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
mock_start
chat() { oa_relay /v1/chat/completions "$1" "$CHAT"; }

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"mock\",\"key\":\"k-mock\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"

    oa_add_token '{"name":"limited","unlimited_quota":true,"rpm_limit":3}' || continue
    is "$(json_get data.rpm_limit)" 3 "$ws: POST /api/token/ takes rpm_limit and answers it"
    limited=$TOK_KEY limited_id=$TOK_ID
    oa_admin GET "/api/token/$limited_id"
    is "$(json_get data.rpm_limit)" 3 "$ws: GET /api/token/:id returns it"
    is "$(oa_db_query "SELECT rpm_limit FROM tokens WHERE id = $limited_id")" 3 "$ws: ... stored"
    oa_add_token '{"name":"free","unlimited_quota":true}' || continue
    is "$(json_get data.rpm_limit)" 0 "$ws: a token without it has 0 (no limit)"
    free=$TOK_KEY free_id=$TOK_ID

    codes=""
    for i in 1 2 3; do chat "$limited"; codes+="$OA_STATUS "; done
    is "$codes" "200 200 200 " "$ws: rpm_limit 3: three calls in a minute are served"
    chat "$limited"
    rid=$(header X-Oneapi-Request-Id) || rid="?"
    is "$OA_STATUS|$(json_fields error.type error.code error.param)" "429|one_api_error|rate_limit_exceeded|" \
        "$ws: the fourth is 429, one_api_error, code rate_limit_exceeded"
    like "$(json_get error.message)" "3 requests per minute.*\\(request id: $rid\\)$" \
        "$ws: ... a message naming the limit, with the request id"
    like "$(header Retry-After)" '^[0-9]+$' "$ws: ... and Retry-After"
    oa_req GET /v1/models -H "Authorization: Bearer sk-$limited"
    is "$OA_STATUS" 429 "$ws: ... every relay route of the key counts"

    codes=""
    for i in 1 2 3 4 5 6; do chat "$free"; codes+="$OA_STATUS "; done
    is "$codes" "200 200 200 200 200 200 " "$ws: another key (rpm 0) is not limited"

    # The console's edit form sends the token without the field: the limit stays.
    oa_admin PUT /api/token/ "{\"id\":$free_id,\"name\":\"free\",\"unlimited_quota\":true,\"expired_time\":-1}"
    is "$(json_get data.rpm_limit)" 0 "$ws: PUT without rpm_limit on an unlimited key: still 0"
    oa_admin PUT /api/token/ "{\"id\":$free_id,\"name\":\"free\",\"unlimited_quota\":true,\"expired_time\":-1,\"rpm_limit\":1}"
    is "$(json_get success)|$(json_get data.rpm_limit)" "true|1" "$ws: PUT /api/token/ sets rpm_limit"
    oa_admin PUT /api/token/ "{\"id\":$free_id,\"name\":\"free2\",\"unlimited_quota\":true,\"expired_time\":-1}"
    is "$(json_get data.name)|$(json_get data.rpm_limit)" "free2|1" "$ws: an edit without the field keeps it"
    chat "$free"
    is "$OA_STATUS" 200 "$ws: ... and it applies at once: one call"
    chat "$free"
    is "$OA_STATUS|$(json_get error.code)" "429|rate_limit_exceeded" "$ws: ... then 429"
    oa_admin PUT /api/token/ "{\"id\":$free_id,\"name\":\"free2\",\"unlimited_quota\":true,\"expired_time\":-1,\"rpm_limit\":-1}"
    is "$(json_get success)" false "$ws: a negative rpm_limit is refused"
    oa_admin PUT /api/token/ "{\"id\":$free_id,\"name\":\"free2\",\"unlimited_quota\":true,\"expired_time\":-1,\"rpm_limit\":0}"
    is "$(json_get data.rpm_limit)" 0 "$ws: rpm_limit 0 turns it off"
    chat "$free"
    is "$OA_STATUS" 200 "$ws: ... and the key is served again"
    oa_stop
done
done_testing
