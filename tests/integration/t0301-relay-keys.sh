#!/usr/bin/env bash
# t0301: relay key checks: every failure with its exact status,
# message and One API's error shape; 501 routes; malformed bodies; no channel.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
BOB_AT="bob0$(hex_key 28)"
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
mock_start

# err_is DESC STATUS MESSAGE: the last answer is STATUS with One API's auth/distributor
# error: {"error":{"message":"MESSAGE (request id: <id>)","type":"one_api_error"}}, no
# param and no code, the id being the X-Oneapi-Request-Id header.
err_is() {
    local desc=$1 status=$2 msg=$3 rid
    rid=$(header X-Oneapi-Request-Id) || rid="?"
    is "$OA_STATUS|$(json_fields error.message error.type error.param error.code)" \
        "$status|$msg (request id: $rid)|one_api_error|<none>|<none>" "$desc"
}
# err_code_is DESC STATUS MESSAGE CODE: a gateway relay error (ErrorWrapper: param "", a code).
err_code_is() {
    local desc=$1 status=$2 msg=$3 code=$4 rid
    rid=$(header X-Oneapi-Request-Id) || rid="?"
    is "$OA_STATUS|$(json_fields error.message error.type error.param error.code)" \
        "$status|$msg (request id: $rid)|one_api_error||$code" "$desc"
}
chat() { oa_relay /v1/chat/completions "$1" "${2:-$CHAT}"; }
# json_len JSON: the number of elements of a JSON array.
json_len() { "$OA_PY" -c 'import json, sys; print(len(json.loads(sys.stdin.read())))' <<<"$1"; }
token_status() { oa_db_query "SELECT status FROM tokens WHERE id = $1"; }

for ws in $(oa_webservers); do
    oa_db_init
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('bob', 'x', 'Bob', 1, 1, '$BOB_AT', 100000000, 'default')" >/dev/null
    OA_KEEP_DB=1 oa_start "$ws" || continue
    now=$(date +%s)
    oa_add_channel "{\"type\":1,\"name\":\"mock\",\"key\":\"k-mock\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini,gpt-3.5-turbo\",\"group\":\"default\"}"
    ch=$CH_ID
    oa_add_channel "{\"type\":1,\"name\":\"off\",\"key\":\"k-off\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\",\"priority\":-10}"
    ch_off=$CH_ID
    oa_admin PUT /api/channel/ "{\"id\":$ch_off,\"status\":2}"

    # --- the key works -------------------------------------------------------
    chat "$ROOT_KEY"
    is "$OA_STATUS:$(json_fields object)" "200:chat.completion" "$ws: the root key relays a chat"
    oa_req POST /v1/chat/completions -H "Authorization: $ROOT_KEY" -H 'Content-Type: application/json' --data-binary "$CHAT"
    is "$OA_STATUS" 200 "$ws: Bearer and sk- are both optional"
    oa_req POST /v1/chat/completions -H "Authorization: Bearer $ROOT_KEY" -H 'Content-Type: application/json' --data-binary "$CHAT"
    is "$OA_STATUS" 200 "$ws: ... Bearer without sk-"

    # --- 1: no key -----------------------------------------------------------
    oa_req POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary "$CHAT"
    err_is "$ws: no Authorization: 401 未提供令牌" 401 "未提供令牌"
    oa_req POST /v1/chat/completions -H 'Authorization: Bearer sk-' -H 'Content-Type: application/json' --data-binary "$CHAT"
    err_is "$ws: 'Bearer sk-' alone: 401 未提供令牌" 401 "未提供令牌"
    oa_req GET /v1/models
    err_is "$ws: GET /v1/models without a key: 401" 401 "未提供令牌"

    # --- 2: unknown key --------------------------------------------------------
    chat "$(hex_key)"
    err_is "$ws: unknown key: 401 无效的令牌" 401 "无效的令牌"

    # --- 3-5: token status -----------------------------------------------------
    oa_add_token '{"name":"st","unlimited_quota":true}'
    st_key=$TOK_KEY st_id=$TOK_ID
    oa_db_query "UPDATE tokens SET status = 2 WHERE id = $st_id" >/dev/null
    chat "$st_key"
    err_is "$ws: disabled key (status 2): 401 该令牌状态不可用" 401 "该令牌状态不可用"
    oa_db_query "UPDATE tokens SET status = 3 WHERE id = $st_id" >/dev/null
    chat "$st_key"
    err_is "$ws: key with status 3: 401 该令牌已过期" 401 "该令牌已过期"
    oa_db_query "UPDATE tokens SET status = 4 WHERE id = $st_id" >/dev/null
    chat "$st_key"
    err_is "$ws: key with status 4: 401 令牌 <name>（#<id>）额度已用尽" 401 "令牌 st（#$st_id）额度已用尽"

    # --- 6: expired ------------------------------------------------------------
    oa_add_token "{\"name\":\"old\",\"unlimited_quota\":true,\"expired_time\":$((now + 3600))}"
    old_key=$TOK_KEY old_id=$TOK_ID
    chat "$old_key"
    is "$OA_STATUS" 200 "$ws: a key expiring in an hour works"
    oa_db_query "UPDATE tokens SET expired_time = $((now - 10)) WHERE id = $old_id" >/dev/null
    chat "$old_key"
    err_is "$ws: expired key: 401 该令牌已过期" 401 "该令牌已过期"
    is "$(token_status "$old_id")" 3 "$ws: ... and its row's status becomes 3"

    # --- 7: exhausted ----------------------------------------------------------
    oa_add_token '{"name":"empty","remain_quota":0,"unlimited_quota":false}'
    empty_key=$TOK_KEY empty_id=$TOK_ID
    chat "$empty_key"
    err_is "$ws: key with remain_quota 0: 401 该令牌额度已用尽" 401 "该令牌额度已用尽"
    is "$(token_status "$empty_id")" 4 "$ws: ... and its row's status becomes 4"
    chat "$empty_key"
    err_is "$ws: ... then it reads as status 4" 401 "令牌 empty（#$empty_id）额度已用尽"
    oa_add_token '{"name":"unl0","remain_quota":0,"unlimited_quota":true}'
    chat "$TOK_KEY"
    is "$OA_STATUS" 200 "$ws: an unlimited key with remain_quota 0 works"

    # --- 8: subnet -------------------------------------------------------------
    oa_add_token '{"name":"net","unlimited_quota":true,"subnet":"10.0.0.0/8,192.168.1.0/24"}'
    chat "$TOK_KEY"
    err_is "$ws: client outside the key's subnets: 403" 403 \
        "该令牌只能在指定网段使用：10.0.0.0/8,192.168.1.0/24，当前 ip：127.0.0.1"
    # Headers that claim another address count only behind a trusted proxy (none here).
    oa_relay /v1/chat/completions "$TOK_KEY" "$CHAT" -H 'X-Forwarded-For: 10.1.2.3' \
        -H 'X-Real-IP: 10.1.2.3'
    err_is "$ws: X-Forwarded-For and X-Real-IP do not move a client into the key's subnet" 403 \
        "该令牌只能在指定网段使用：10.0.0.0/8,192.168.1.0/24，当前 ip：127.0.0.1"
    oa_add_token '{"name":"net2","unlimited_quota":true,"subnet":"10.0.0.0/8, 127.0.0.0/8"}'
    chat "$TOK_KEY"
    is "$OA_STATUS" 200 "$ws: client inside one of the key's subnets: 200"

    # --- 9: banned owner -------------------------------------------------------
    oa_add_token '{"name":"bobs","unlimited_quota":true}' "$BOB_AT"
    bob_key=$TOK_KEY
    chat "$bob_key"
    is "$OA_STATUS" 200 "$ws: a common user's key relays"
    oa_db_query "UPDATE users SET status = 2 WHERE access_token = '$BOB_AT'" >/dev/null
    chat "$bob_key"
    err_is "$ws: the owner is disabled: 403 用户已被封禁" 403 "用户已被封禁"
    oa_db_query "UPDATE users SET status = 1 WHERE access_token = '$BOB_AT'" >/dev/null

    # --- 10: unreadable body ---------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-mini","messages":'
    like "$OA_STATUS|$(json_fields error.message error.type error.code)" \
        '^400\|common\.UnmarshalBodyReusable failed: .+ \(request id: [0-9A-Za-z]+\)\|one_api_error\|<none>$' \
        "$ws: malformed JSON: 400 common.UnmarshalBodyReusable failed: ..., type one_api_error"
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":5,"messages":[]}'
    like "$OA_STATUS|$(json_fields error.message)" '^400\|common\.UnmarshalBodyReusable failed: ' \
        "$ws: a model that is not a string: 400"
    oa_relay /v1/completions "$ROOT_KEY" 'not json at all'
    like "$OA_STATUS|$(json_fields error.message)" '^400\|common\.UnmarshalBodyReusable failed: ' \
        "$ws: /v1/completions with a body that is not JSON: 400"

    # --- body validation after the key checks ---------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-mini","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}'
    err_code_is "$ws: max_tokens < 0: 400 max_tokens is invalid" 400 "max_tokens is invalid" invalid_text_request

    # --- 11: model allowlist ---------------------------------------------------
    oa_add_token '{"name":"m","unlimited_quota":true,"models":"gpt-3.5-turbo,gpt-4"}'
    m_key=$TOK_KEY
    chat "$m_key"
    err_is "$ws: a model outside the key's list: 403 该令牌无权使用模型：gpt-4o-mini" 403 \
        "该令牌无权使用模型：gpt-4o-mini"
    chat "$m_key" '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 200 "$ws: a model on the key's list: 200"
    chat "$m_key" '{"model":"gpt-4-","messages":[{"role":"user","content":"hi"}]}'
    err_is "$ws: the list matches whole names only" 403 "该令牌无权使用模型：gpt-4-"

    # --- 12: pinned channel ----------------------------------------------------
    chat "$bob_key-$ch"
    err_is "$ws: a common user pinning a channel: 403 普通用户不支持指定渠道" 403 "普通用户不支持指定渠道"
    mock_ctl DELETE /_mock/requests
    chat "$ROOT_KEY-$ch"
    is "$OA_STATUS" 200 "$ws: root may pin a channel"
    chat "$ROOT_KEY-999999"
    err_is "$ws: pinning an unknown channel: 400 无效的渠道 Id" 400 "无效的渠道 Id"
    chat "$ROOT_KEY-abc"
    err_is "$ws: pinning a non-numeric id: 400 无效的渠道 Id" 400 "无效的渠道 Id"
    chat "$ROOT_KEY-$ch_off"
    err_is "$ws: pinning a disabled channel: 403 该渠道已被禁用" 403 "该渠道已被禁用"
    chat "$ROOT_KEY-$ch" '{"model":"not-served-by-it","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 200 "$ws: a pinned channel is used whatever the model"

    # --- distributor: no channel -------------------------------------------------
    chat "$ROOT_KEY" '{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}'
    err_is "$ws: no channel for the model: 503" 503 "当前分组 default 下对于模型 no-such-model 无可用渠道"
    oa_db_query "UPDATE users SET \"group\" = 'vip' WHERE access_token = '$BOB_AT'" >/dev/null
    chat "$bob_key"
    err_is "$ws: no channel in the user's group: 503 names the group" 503 \
        "当前分组 vip 下对于模型 gpt-4o-mini 无可用渠道"
    oa_db_query "UPDATE users SET \"group\" = 'default' WHERE access_token = '$BOB_AT'" >/dev/null
    oa_req POST /v1/embeddings -H "Authorization: Bearer sk-$ROOT_KEY" -H 'Content-Type: application/json' \
        --data-binary '{"input":"x"}'
    err_is "$ws: embeddings without a model: 503 for the empty model" 503 "当前分组 default 下对于模型  无可用渠道"

    # --- quota checks of the reservation ---------------------------------------------
    oa_add_token '{"name":"tiny","remain_quota":5,"unlimited_quota":false}'
    chat "$TOK_KEY"
    err_code_is "$ws: a key with less than the estimate: 403 令牌额度不足" 403 "令牌额度不足" \
        pre_consume_token_quota_failed
    oa_db_query "UPDATE users SET quota = 0 WHERE access_token = '$BOB_AT'" >/dev/null
    chat "$bob_key"
    err_code_is "$ws: a user without quota: 403 user quota is not enough" 403 \
        "user quota is not enough" insufficient_user_quota

    # --- 501 routes (answered before any channel is chosen) ----------------------
    for route in "GET /v1/files" "POST /v1/files" "GET /v1/files/f1/content" "POST /v1/images/edits" \
        "POST /v1/fine_tuning/jobs" "GET /v1/assistants" "POST /v1/threads/t1/runs" "DELETE /v1/models/m1"; do
        body=(); [[ ${route% *} == GET ]] || body=(--data-binary '')   # lighttpd wants a length
        oa_req "${route% *}" "${route#* }" -H "Authorization: Bearer sk-$ROOT_KEY" "${body[@]}"
        is "$OA_STATUS|$(json_fields error.message error.type error.code)" \
            "501|API not implemented|one_api_error|api_not_implemented" "$ws: $route: 501 API not implemented"
    done
    oa_req GET /v1/files
    is "$OA_STATUS" 401 "$ws: GET /v1/files without a key: 401 (the key is checked first)"
    oa_req GET /v1/nothing-here -H "Authorization: Bearer sk-$ROOT_KEY"
    is "$OA_STATUS|$(json_fields error.message error.type)" \
        "404|Invalid URL (GET /v1/nothing-here)|invalid_request_error" "$ws: an unknown /v1 path: 404 Invalid URL"

    # --- none of the refused requests reached the upstream or was billed ---------
    oa_wait_logs 1 >/dev/null
    sleep 0.1
    mock_ctl GET /_mock/requests
    is "$(json_len "$MOCK_BODY")" 2 "$ws: since the pinning checks only the two pinned successes reached the upstream"
    oa_stop
done

done_testing
