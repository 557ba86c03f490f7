#!/usr/bin/env bash
# t0204: channel tests and automatic enabling: GET /api/channel/test/:id
# answers {success, message, time, modelName}, records test_time/response_time and a type-5
# log; a passing batch test (GET /api/channel/test) brings back a channel the gateway
# disabled (status 3) when AutomaticEnableChannelEnabled is on, never one an admin disabled
# (status 2; docs/compatibility.md); a failing test of an enabled channel disables it. "time" is
# written as Go writes a float64 (the shortest digits that read back, no exponent from 1e-6
# on), 0 on failure.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start
if [[ ${OA_TEST_DB:-sqlite} == postgres ]]; then T=true; else T=1; fi
# go_float TEXT: TEXT is how Go's encoding/json writes the float64 it denotes (one of a test's
# durations: 0, or plain digits from 1e-6 on): the shortest digits that read back as it.
go_float() {
    "$OA_PY" -c 'import sys
from decimal import Decimal
t = sys.argv[1]
x = float(t)
want = "0" if x == 0 else format(Decimal(repr(x)).normalize(), "f")
sys.exit(0 if t == want else 1)' "$1"
}
# raw_time: the "time" member of $OA_BODY as written.
raw_time() { [[ $OA_BODY =~ \"time\":([^,}]*) ]] && echo "${BASH_REMATCH[1]}"; }
n_test_logs() { oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 5"; }
_ge() { local n=$1; shift; [[ $("$@") -ge $n ]]; }
state() { echo "$(oa_db_query "SELECT status FROM channels WHERE id = $1")/$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = $1 AND enabled = $T")"; }

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option AutomaticEnableChannelEnabled true
    oa_set_option AutomaticDisableChannelEnabled true
    OA_KEEP_DB=1 oa_start "$ws" || continue
    mock_reset
    oa_add_channel "{\"type\":1,\"name\":\"good\",\"key\":\"k-good\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini,gpt-3.5-turbo\"}"
    good=$CH_ID
    oa_admin GET "/api/channel/test/$good?model=gpt-4o-mini"
    is "$(json_fields success message modelName)" "true|Hello from mock|gpt-4o-mini" \
        "$ws: a single test answers success, the reply and the model"
    like "$(json_fields time)" '^[0-9.]+(e-[0-9]+)?$' "$ws: ... and the time in seconds"
    t=$(raw_time)
    ok_if "$ws: ... written as Go writes a float64 ('$t')" go_float "$t"
    like "$(oa_db_query "SELECT test_time > 0, response_time >= 0 FROM channels WHERE id = $good")" '^(1|t)\|(1|t)$' \
        "$ws: test_time and response_time are stored"
    sleep 0.3
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 5 AND channel_id = $good AND model_name = 'gpt-4o-mini'")" 1 \
        "$ws: one test log (type 5), no quota charged"
    mock_ctl GET "/_mock/requests?key=k-good"
    like "$MOCK_BODY" 'Output only your specific model name' "$ws: the test prompt is TEST_PROMPT"

    # A channel the gateway disabled (3) and one an admin disabled (2), both healthy now.
    oa_add_channel "{\"type\":1,\"name\":\"auto-off\",\"key\":\"k-auto\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
    auto=$CH_ID
    oa_add_channel "{\"type\":1,\"name\":\"admin-off\",\"key\":\"k-admin\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
    admin=$CH_ID
    oa_admin PUT /api/channel/ "{\"id\":$admin,\"status\":2}"
    oa_db_query "UPDATE channels SET status = 3 WHERE id = $auto" >/dev/null
    oa_db_query "UPDATE abilities SET enabled = $([[ $T == true ]] && echo false || echo 0) WHERE channel_id = $auto" >/dev/null
    # A channel whose upstream refuses its key.
    oa_add_channel "{\"type\":1,\"name\":\"broken\",\"key\":\"k-broken\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
    broken=$CH_ID
    r401='{"status":401,"body":"{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}","content_type":"application/json"}'
    mock_ctl POST /_mock/script "{\"key\":\"k-broken\",\"responses\":[$r401,$r401,$r401]}"

    oa_admin GET "/api/channel/test/$broken"
    is "$(json_fields success)|$(raw_time)" "false|0" "$ws: a failing single test answers time 0"

    oa_admin GET /api/channel/test
    is "$(json_fields success)" true "$ws: the batch test starts"
    oa_admin GET /api/channel/test
    like "$(json_fields success message)" '^(false\|测试已在运行中|true\|)$' "$ws: a second start while one runs is refused (or the first was done)"
    wait_for 15 _ge 6 n_test_logs ||
        diag "the batch test did not log every channel"
    is "$(state "$auto")" "1/1" "$ws: a passing test brings back a channel the gateway disabled"
    is "$(state "$admin")" "2/0" "$ws: ... but never one an admin disabled"
    is "$(state "$broken")" "3/0" "$ws: a failing test with an invalid key disables the channel"
    is "$(state "$good")" "1/2" "$ws: a healthy enabled channel stays enabled"
    oa_stop
done
done_testing
