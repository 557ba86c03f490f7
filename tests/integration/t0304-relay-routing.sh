#!/usr/bin/env bash
# t0304: channel choice and health: weighted random inside a
# priority tier, higher tiers first, disabled channels never chosen, RetryTimes falling
# through to lower tiers, 400 not retried, pinned channels not retried, auto-disable.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
WEIGHT_N=${WEIGHT_N:-200}

# ask MODEL [KEY]: one chat for MODEL (no directives: scripts decide the upstream answer).
ask() {
    oa_relay /v1/chat/completions "${2:-$ROOT_KEY}" "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
}
# burst N MODEL: N chats for MODEL, 8 at a time; prints how many answered 200.
burst() {
    local n=$1 model=$2
    seq "$n" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
        -H "Authorization: Bearer sk-$ROOT_KEY" -H 'Content-Type: application/json' \
        --data-binary "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"n{}\"}]}" \
        "$OA_URL/v1/chat/completions" | grep -c '^200$'
}
# script KEY RESPONSE...: queue scripted mock answers for the channel key KEY.
script() {
    local key=$1 r; shift
    r=$(IFS=,; echo "$*")
    mock_ctl POST /_mock/script "{\"key\":\"$key\",\"responses\":[$r]}"
}
# served MODEL: "channel_id:count" of the consume rows for MODEL, by channel id.
served() {
    oa_db_query "SELECT channel_id || ':' || COUNT(*) FROM logs WHERE type = 2 AND model_name = '$1' GROUP BY channel_id ORDER BY channel_id" | tr '\n' ' ' | sed 's/ $//'
}
chan_state() {
    echo "$(oa_db_query "SELECT status FROM channels WHERE id = $1")/$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = $1 AND enabled = $2")"
}
add() { # add NAME KEY MODEL PRIORITY WEIGHT: a channel on the mock; sets CH_ID
    oa_add_channel "{\"type\":1,\"name\":\"$1\",\"key\":\"$2\",\"base_url\":\"$MOCK_URL\",\"models\":\"$3\",\"group\":\"default\",\"priority\":$4,\"weight\":$5}"
}

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    oa_set_option AutomaticDisableChannelEnabled true
    OA_KEEP_DB=1 oa_start "$ws" || continue
    if [[ $OA_TEST_DB == postgres ]]; then T=true; else T=1; fi # abilities.enabled literal

    # --- weights inside one tier ---------------------------------------------------------
    add light k-light gpt-4o-mini 0 1; light=$CH_ID
    add heavy k-heavy gpt-4o-mini 0 3; heavy=$CH_ID
    ok=$(burst "$WEIGHT_N" gpt-4o-mini)
    is "$ok" "$WEIGHT_N" "$ws: $WEIGHT_N chats over two channels of one tier all succeed"
    oa_wait_logs "$WEIGHT_N" 20 >/dev/null
    n_light=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2 AND channel_id = $light")
    n_heavy=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2 AND channel_id = $heavy")
    diag "weights 1:3 -> $n_light : $n_heavy"
    ok_if "$ws: weight 1 vs 3: the light channel served 15%-35% ($n_light of $WEIGHT_N)" \
        test $((n_light * 100)) -ge $((WEIGHT_N * 15)) -a $((n_light * 100)) -le $((WEIGHT_N * 35))
    is "$((n_light + n_heavy))" "$WEIGHT_N" "$ws: ... and the heavy one the rest"

    # --- priority tiers; a manually disabled channel is never chosen --------------------
    add high k-high gpt-3.5-turbo 10 1; high=$CH_ID
    add low k-low gpt-3.5-turbo 0 100; low=$CH_ID
    add off k-off gpt-3.5-turbo 100 100; off=$CH_ID
    oa_admin PUT /api/channel/ "{\"id\":$off,\"status\":2}"
    is "$(chan_state "$off" "$T")" "2/0" "$ws: the manually disabled channel: status 2, abilities disabled"
    ok=$(burst 30 gpt-3.5-turbo)
    oa_wait_logs $((WEIGHT_N + 30)) 20 >/dev/null
    is "$ok|$(served gpt-3.5-turbo)" "30|$high:30" \
        "$ws: the higher tier serves every request; the lower tier and the disabled channel none"

    # --- retries fall through tiers ---------------------------------------------------------
    add top k-top gpt-4o 5 1; top=$CH_ID
    add mid k-mid gpt-4o 3 1; mid=$CH_ID
    oa_admin PUT /api/channel/ "{\"id\":$mid,\"status\":2}"
    add bottom k-bottom gpt-4o 0 1; bottom=$CH_ID
    relay_bill_start
    mock_reset
    script k-top '{"status":500}' '{"status":500}' '{"status":500}'
    for i in 1 2 3; do
        ask gpt-4o
        is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
            "$ws: retry $i: the top tier answers 500, the lower tier answers the client"
        relay_bill "$ws: retry $i" 2.5 4
    done
    is "$(mock_keys)" "k-top,k-bottom,k-top,k-bottom,k-top,k-bottom" \
        "$ws: each request tried the top tier once, then the bottom one (never the disabled middle)"
    is "$(served gpt-4o)" "$bottom:3" "$ws: billed once per request, to the channel that answered"
    is "$(chan_state "$top" "$T")" "1/1" "$ws: a 500 does not disable the channel"

    mock_reset
    script k-top '{"status":429}'
    script k-bottom '{"status":429}'
    ask gpt-4o
    is "$OA_STATUS|$(json_fields error.message)" \
        "429|当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: both tiers 429: 429 当前分组上游负载已饱和，请稍后再试"
    is "$(mock_keys)" "k-top,k-bottom" "$ws: ... after trying each channel once"

    mock_reset
    script k-top '{"status":503,"body":{"error":{"message":"top down","type":"server_error"}}}'
    script k-bottom '{"status":502,"body":{"error":{"message":"bottom down","type":"server_error","code":"x1"}}}'
    ask gpt-4o
    is "$OA_STATUS|$(json_fields error.message error.type error.code)" \
        "502|bottom down (request id: $(header X-Oneapi-Request-Id))|server_error|x1" \
        "$ws: all failing: the last upstream error with the request id"
    oa_wait_logs $((N_LOGS + 1)) 1 >/dev/null
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")|$(oa_db_query "SELECT quota FROM users WHERE id = 1")" \
        "$N_LOGS|$UQ" "$ws: ... no log row and no charge for a failed request"

    mock_reset
    script k-top '{"status":400,"body":{"error":{"message":"bad request here","type":"invalid_request_error"}}}'
    ask gpt-4o
    is "$OA_STATUS|$(json_fields error.message error.type)" \
        "400|bad request here (request id: $(header X-Oneapi-Request-Id))|invalid_request_error" \
        "$ws: a 400 reaches the client"
    is "$(mock_keys)" "k-top" "$ws: ... and is not retried"

    mock_reset
    script k-top '{"status":400,"body":"plain text failure","content_type":"text/plain"}'
    ask gpt-4o
    is "$OA_STATUS|$(json_fields error.message error.type error.code error.param)" \
        "400|bad response status code 400 (request id: $(header X-Oneapi-Request-Id))|upstream_error|bad_response_status_code|400" \
        "$ws: an upstream error that is not JSON: upstream_error, bad_response_status_code, param '400'"

    mock_reset
    script k-top '{"status":200,"body":{"error":{"message":"error in a 200","type":"odd_error","code":"odd"}}}'
    ask gpt-4o
    is "$OA_STATUS|$(json_fields error.message error.type error.code)|$(mock_keys)" \
        "200|error in a 200 (request id: $(header X-Oneapi-Request-Id))|odd_error|odd|k-top" \
        "$ws: an error inside a 200 answer keeps status 200 and is not retried"

    mock_reset
    script k-top '{"status":500}'
    ask gpt-4o "$ROOT_KEY-$top"
    is "$OA_STATUS|$(mock_keys)" "500|k-top" "$ws: a pinned channel is not retried"

    # --- automatic disabling -------------------------------------------------------------
    add a401 k-a401 gpt-4 5 1; a401=$CH_ID
    add aquota k-aquota gpt-4 5 1; aquota=$CH_ID
    add spare k-spare gpt-4 0 1; spare=$CH_ID
    mock_reset
    script k-a401 '{"status":401,"body":{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}}'
    script k-aquota '{"status":429,"body":{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}}'
    for i in 1 2; do
        ask gpt-4
        is "$OA_STATUS" 200 "$ws: auto-disable $i: the request still succeeds on another channel"
    done
    sleep 0.2
    is "$(chan_state "$a401" "$T")" "3/0" "$ws: upstream 401: the channel is disabled automatically (status 3, abilities off)"
    is "$(chan_state "$aquota" "$T")" "3/0" "$ws: insufficient_quota: disabled too"
    is "$(chan_state "$spare" "$T")" "1/1" "$ws: the channel that answered stays enabled"
    mock_reset
    ok=$(burst 10 gpt-4)
    is "$ok|$(mock_keys | tr ',' '\n' | sort -u | tr '\n' ' ')" "10|k-spare " \
        "$ws: disabled channels are not chosen any more"
    oa_stop
done

done_testing
