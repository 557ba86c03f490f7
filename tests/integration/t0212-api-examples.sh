#!/usr/bin/env bash
# t0212: contrib/api-examples.sh, run as a user would run it against a live gateway with only
# an access token: it creates a channel, a key and redemption codes, and what it prints is
# what the database holds; the key it prints relays through the channel it created, and a
# code it prints can be redeemed.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start

script="$top_srcdir/contrib/api-examples.sh"

for ws in $(oa_webservers); do
    oa_start "$ws" || continue

    out=$(ONEAPI_URL=$OA_URL ONEAPI_ACCESS_TOKEN=$ROOT_AT UPSTREAM_BASE_URL=$MOCK_URL \
        UPSTREAM_KEY=sk-mock CODE_COUNT=4 CODE_QUOTA=123456 NAME=ex bash "$script" 2>&1)
    rc=$?
    is "$rc" 0 "$ws: api-examples.sh exits 0"
    [[ $rc == 0 ]] || diag "$out"
    like "$out" 'signed in as root \(role 100\)' "$ws: it signs in with the access token alone"

    chan_id=$(sed -n 's/^channel: id \([0-9]*\),.*/\1/p' <<<"$out")
    is "$(oa_db_query "SELECT base_url || ' ' || models FROM channels WHERE id = ${chan_id:-0}")" \
        "$MOCK_URL gpt-4o-mini" "$ws: the channel it printed exists with its base URL and models"

    key=$(sed -n 's/^key: sk-\([0-9A-Za-z]*\) .*/\1/p' <<<"$out")
    is "${#key}" 48 "$ws: it printed a 48-character key"
    is "$(oa_db_query "SELECT remain_quota FROM tokens WHERE key = '$key'")" 123456 \
        "$ws: ... stored with the quota asked for"

    mapfile -t codes < <(sed -n 's/^  \([0-9a-f]\{32\}\)$/\1/p' <<<"$out")
    is "${#codes[@]}" 4 "$ws: it printed 4 redemption codes"
    is "$(oa_db_query "SELECT count(*) FROM redemptions WHERE name = 'ex' AND quota = 123456 AND status = 1")" \
        4 "$ws: ... all four stored, unused, with the quota asked for"

    # The key relays through the new channel (the mock answers as OpenAI does).
    oa_req POST /v1/chat/completions -H "Authorization: Bearer sk-$key" \
        -H 'Content-Type: application/json' \
        --data-binary '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 200 "$ws: the printed key relays through the printed channel"

    # A printed code is redeemable. (The relay call settles asynchronously: wait for its log
    # row, so that only the code moves root's quota below.)
    oa_wait_logs 1
    before=$(oa_db_query "SELECT quota FROM users WHERE username = 'root'")
    oa_req POST /api/user/topup -H "Authorization: $ROOT_AT" -H 'Content-Type: application/json' \
        --data-binary "{\"key\":\"${codes[0]}\"}"
    is "$(json_get success):$(json_get data)" "true:123456" "$ws: a printed code redeems"
    after=$(oa_db_query "SELECT quota FROM users WHERE username = 'root'")
    is "$((after - before))" 123456 "$ws: ... and adds its quota"

    # A wrong token makes it stop with the gateway's message, not a trace.
    out=$(ONEAPI_URL=$OA_URL ONEAPI_ACCESS_TOKEN=wrong bash "$script" 2>&1)
    rc=$?
    isnt "$rc" 0 "$ws: a wrong access token fails the script"
    like "$out" 'access token 无效' "$ws: ... with the gateway's message"
    oa_stop
done
done_testing
