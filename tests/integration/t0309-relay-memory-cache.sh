#!/usr/bin/env bash
# t0309: MEMORY_CACHE_ENABLED keeps routing in memory: a change made through this process's
# API (create, disable) takes effect at once; a change made elsewhere (another node: here,
# straight into the database) arrives within SYNC_FREQUENCY seconds.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
base_env=("${OA_ENV[@]}")
for ws in $(oa_webservers); do
    OA_ENV=("${base_env[@]}" MEMORY_CACHE_ENABLED=true SYNC_FREQUENCY=2)
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
    is "$OA_STATUS" 503 "$ws: no channel yet: 503 (an empty answer is not cached)"
    oa_add_channel "{\"type\":1,\"name\":\"a\",\"key\":\"k-a\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\"}"
    a=$CH_ID
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
    is "$OA_STATUS" 200 "$ws: a channel created through the API serves at once"
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-min","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 503 "$ws: a model named like a prefix of a cached one does not get its channels"
    oa_add_channel "{\"type\":1,\"name\":\"b\",\"key\":\"k-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"priority\":5}"
    b=$CH_ID
    oa_admin PUT /api/channel/ "{\"id\":$b,\"status\":2}"
    mock_reset
    for _ in 1 2 3 4 5; do oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"; done
    mock_ctl GET "/_mock/requests?key=k-b"
    is "$("$OA_PY" -c 'import json,sys; print(len(json.loads(sys.stdin.read())))' <<<"$MOCK_BODY")" 0 \
        "$ws: a channel disabled through the API is skipped at once"
    # Another node re-enables b in the shared database.
    oa_db_query "UPDATE channels SET status = 1 WHERE id = $b" >/dev/null
    oa_db_query "UPDATE abilities SET enabled = $([[ ${OA_TEST_DB:-sqlite} == postgres ]] && echo true || echo 1) WHERE channel_id = $b" >/dev/null
    seen=0
    for _ in $(seq 40); do
        mock_reset
        oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
        mock_ctl GET "/_mock/requests?key=k-b"
        [[ $MOCK_BODY == *'"k-b"'* ]] && { seen=1; break; }
        sleep 0.2
    done
    is "$seen" 1 "$ws: a change made by another node arrives within SYNC_FREQUENCY"
    oa_stop
done
done_testing
