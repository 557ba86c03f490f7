#!/usr/bin/env bash
# t0312: CHANNEL_TEST_FREQUENCY: a master tests every channel every N minutes
# (fractions allowed: 0.02 min = 1.2 s here) with the batch test's rules (a refused key
# disables); a test under way does not hold up shutdown, and says nothing about its channel;
# a slave node does not test; a bad value stops the start.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start
ws=$(oa_webservers)
ws=${ws%% *} # the web server plays no part here: one is enough

R401='{"status":401,"content_type":"application/json","body":"{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"}'
SLOW='{"delay_ms":60000}'
n_tests() { oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 5 AND channel_id = $1"; }
_ge() { local n=$1; shift; [[ $("$@") -ge $n ]]; }
mock_saw() { # mock_saw KEY: the mock received a request with that key
    mock_ctl GET "/_mock/requests?key=$1"
    [[ $MOCK_BODY == *'"seq"'* ]]
}

err=$(CHANNEL_TEST_FREQUENCY=soon "$ONEAPI_BIN" --listen 127.0.0.1:0 --log-dir "" 2>&1 </dev/null)
rc=$?
isnt "$rc" 0 "a CHANNEL_TEST_FREQUENCY that is not a number stops the start"
is "$err" "one-api: invalid value 'soon' for CHANNEL_TEST_FREQUENCY (--channel-test-frequency): not a number" \
    "... with a message naming the setting"

# --- master ---------------------------------------------------------------------------
oa_db_init
oa_set_option AutomaticDisableChannelEnabled true
mock_reset
saved_env=("${OA_ENV[@]}")
OA_ENV+=(CHANNEL_TEST_FREQUENCY=0.02)
OA_KEEP_DB=1 oa_start "$ws" || exit 1
oa_add_channel "{\"type\":1,\"name\":\"good\",\"key\":\"k-good\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
good=$CH_ID
oa_add_channel "{\"type\":1,\"name\":\"broken\",\"key\":\"k-broken\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
broken=$CH_ID
mock_ctl POST /_mock/script "{\"key\":\"k-broken\",\"responses\":[$R401,$R401,$R401,$R401,$R401,$R401,$R401,$R401]}"
ok_if "master: every 1.2 s each channel is tested (two rounds seen within 15 s)" \
    wait_for 15 _ge 2 n_tests "$good"
is "$(oa_db_query "SELECT status FROM channels WHERE id = $broken")" 3 \
    "master: the scheduled test disables a channel whose key is refused"
like "$(oa_db_query "SELECT test_time > 0 FROM channels WHERE id = $good")" '^(1|t)$' \
    "master: the channel's test_time is stored"
like "$(cat "$OA_RUN"/logs/* "$OA_RUN/one-api.out" 2>/dev/null)" 'testing all channels' \
    "master: the log says when a scheduled test starts"

# A channel whose upstream does not answer for a minute: shutdown must not wait for it.
# The script first: a round may test the channel as soon as it exists.
mock_ctl POST /_mock/script "{\"key\":\"k-slow\",\"responses\":[$SLOW,$SLOW,$SLOW]}"
oa_add_channel "{\"type\":1,\"name\":\"slow\",\"key\":\"k-slow\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
slow=$CH_ID
ok_if "master: the slow channel's test has started" wait_for 15 mock_saw k-slow
t0=$(date +%s%N)
kill -TERM "$OA_APP_PID"
wait_exit "$OA_APP_PID" 30
ms=$((($(date +%s%N) - t0) / 1000000))
is "$OA_EXIT" 0 "master: SIGTERM during a scheduled test exits cleanly"
ok_if "master: ... within 5 s (took $ms ms), not after the upstream's minute" test "$ms" -lt 5000
is "$(n_tests "$slow")|$(oa_db_query "SELECT status FROM channels WHERE id = $slow")" "0|1" \
    "master: the test cut short is neither logged nor held against the channel"
oa_stop

# --- a batch test an admin started: shutdown waits for its thread, which stops at once ----
OA_ENV=("${saved_env[@]}")
mock_reset
mock_ctl POST /_mock/script "{\"key\":\"k-slow\",\"responses\":[$SLOW,$SLOW,$SLOW]}"
OA_KEEP_DB=1 oa_start "$ws" || exit 1
oa_admin GET "/api/channel/test?scope=all"
is "$(json_get success)" true "route: GET /api/channel/test starts a batch test"
ok_if "route: the slow channel's test has started" wait_for 15 mock_saw k-slow
kill -TERM "$OA_APP_PID"
wait_exit "$OA_APP_PID" 30
is "$OA_EXIT" 0 "route: SIGTERM during it exits cleanly (its thread joined before the database closes)"
like "$(cat "$OA_RUN"/logs/* 2>/dev/null)" 'channel test stopped: shutting down' \
    "route: the batch test says it stopped for the shutdown"
oa_stop

# --- slave ----------------------------------------------------------------------------
OA_ENV=("${saved_env[@]}" CHANNEL_TEST_FREQUENCY=0.02 NODE_TYPE=slave)
mock_reset
OA_KEEP_DB=1 oa_start "$ws" || exit 1
before=$(n_tests "$good")
sleep 4
is "$(n_tests "$good")" "$before" "slave: no scheduled tests (3 periods passed)"
oa_stop
done_testing
