#!/usr/bin/env bash
# t0203: GET /api/channel/update_balance/:id asks the upstream for the balance and
# stores it: OpenAI (subscription, then usage), DeepSeek, OpenRouter and SiliconFlow shapes,
# answered by the mock upstream's scripted replies; CloseAI, OpenAI-SB, AIProxy, API2GPT and
# AIGC2D, answered by the mock's balance endpoints (at the channel's base URL), each read from
# its own field and asked with its own credentials; a type without a balance API says so.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start

# script KEY JSON...: queue verbatim JSON answers for requests made with KEY.
script() {
    local key=$1 r="" b
    shift
    for b in "$@"; do r+="${r:+,}{\"status\":200,\"content_type\":\"application/json\",\"body\":$(printf '%s' "$b" | "$OA_PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"; done
    mock_ctl POST /_mock/script "{\"key\":\"$key\",\"responses\":[$r]}"
}
balance_is() { # DESC CHANNEL WANT
    oa_admin GET "/api/channel/update_balance/$2"
    is "$(json_fields success balance)" "true|$3" "$1"
    is "$(oa_db_query "SELECT balance FROM channels WHERE id = $2" | sed 's/\.0*$//')" "$3" \
        "$1: stored in channels.balance"
}

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    mock_reset
    oa_add_channel "{\"type\":1,\"name\":\"o\",\"key\":\"k-openai\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    script k-openai '{"object":"billing_subscription","has_payment_method":true,"hard_limit_usd":120}' \
        '{"object":"list","total_usage":2050}'
    balance_is "$ws: OpenAI: hard limit - usage/100" "$CH_ID" "99.5"
    mock_ctl GET "/_mock/requests?key=k-openai"
    like "$MOCK_BODY" 'dashboard/billing/usage\?start_date=[0-9-]{10}&end_date=[0-9-]{10}' \
        "$ws: OpenAI usage is asked for a date range"
    oa_add_channel "{\"type\":36,\"name\":\"d\",\"key\":\"k-ds\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    script k-ds '{"is_available":true,"balance_infos":[{"currency":"USD","total_balance":"1.00"},{"currency":"CNY","total_balance":"42.50"}]}'
    balance_is "$ws: DeepSeek: the CNY entry" "$CH_ID" "42.5"
    oa_add_channel "{\"type\":20,\"name\":\"r\",\"key\":\"k-or\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    script k-or '{"data":{"total_credits":10,"total_usage":2.5}}'
    balance_is "$ws: OpenRouter: credits - usage" "$CH_ID" "7.5"
    oa_add_channel "{\"type\":44,\"name\":\"s\",\"key\":\"k-sf\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    script k-sf '{"code":20000,"data":{"totalBalance":"3.25"}}'
    balance_is "$ws: SiliconFlow: totalBalance" "$CH_ID" "3.25"
    script k-sf '{"object":"x"}'
    oa_admin GET "/api/channel/update_balance/$CH_ID"
    is "$(json_fields success)" "false" "$ws: an unexpected answer is an error, not a zero balance"
    # The mock's credit_grants carries total_available 87.5 and total_remaining 66.25.
    oa_add_channel "{\"type\":4,\"name\":\"closeai\",\"key\":\"k-close\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    balance_is "$ws: CloseAI: total_available" "$CH_ID" "87.5"
    is "$(mock_last path headers.authorization)" "/dashboard/billing/credit_grants|Bearer k-close" \
        "$ws: CloseAI: <base>/dashboard/billing/credit_grants with the key as Bearer"
    like "$OA_BODY" '"balance":87.5[,}]' "$ws: the balance is written as Go writes a float64"
    oa_add_channel "{\"type\":12,\"name\":\"a2g\",\"key\":\"k-a2g\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    balance_is "$ws: API2GPT: total_remaining" "$CH_ID" "66.25"
    is "$(mock_last path key)" "/dashboard/billing/credit_grants|k-a2g" "$ws: API2GPT: credit_grants, Bearer key"
    oa_add_channel "{\"type\":13,\"name\":\"aigc\",\"key\":\"k-aigc\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    balance_is "$ws: AIGC2D: total_available" "$CH_ID" "87.5"
    is "$(mock_last path key)" "/dashboard/billing/credit_grants|k-aigc" "$ws: AIGC2D: credit_grants, Bearer key"
    oa_add_channel "{\"type\":5,\"name\":\"sb\",\"key\":\"k-sb\",\"base_url\":\"$MOCK_URL/\",\"models\":\"m\"}"
    balance_is "$ws: OpenAI-SB: data.credit, a string" "$CH_ID" "12.34"
    is "$(mock_last path)" "/sb-api/user/status?api_key=k-sb" "$ws: OpenAI-SB: the key in the query"
    oa_add_channel "{\"type\":10,\"name\":\"aip\",\"key\":\"k-aip\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    aip=$CH_ID
    balance_is "$ws: AIProxy: data.totalPoints" "$aip" "56.78"
    is "$(mock_last path headers.api-key headers.authorization)" "/api/report/getUserOverview|k-aip|<none>" \
        "$ws: AIProxy: the key in Api-Key, no Bearer"
    script k-aip '{"success":false,"errorCode":1001,"message":"invalid key","data":{"totalPoints":0}}'
    oa_admin GET "/api/channel/update_balance/$aip"
    is "$(json_fields success message)" "false|code: 1001, message: invalid key" \
        "$ws: AIProxy: success false is an error, with its code and message"
    oa_add_channel "{\"type\":14,\"name\":\"c\",\"key\":\"k-c\",\"base_url\":\"$MOCK_URL\",\"models\":\"m\"}"
    oa_admin GET "/api/channel/update_balance/$CH_ID"
    is "$(json_fields success message)" "false|尚未实现" "$ws: Anthropic has no balance API: 尚未实现"
    oa_admin GET "/api/channel/update_balance/99999"
    is "$(json_fields success)" "false" "$ws: an unknown channel is an error"
    oa_stop
done
done_testing
