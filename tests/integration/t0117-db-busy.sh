#!/usr/bin/env bash
# t0117: a request never waits for ever for a database connection. With one pooled connection
# (SQL_MAX_OPEN_CONNS=1) held by a write stuck behind another session's lock, other requests
# wait SQL_POOL_TIMEOUT (1 s) and are answered 503 "database busy" with Retry-After, in the
# /api envelope and in the relay's OpenAI shape; the database's own error text reaches no
# client. Once the lock goes, the stuck write completes and everything answers again. A
# channel test gives its connection back while it waits on the upstream.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
OA_ENV+=(SQL_MAX_OPEN_CONNS=1 SQL_POOL_TIMEOUT=1 SQLITE_BUSY_TIMEOUT=8000)
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
mock_start
mock_saw() { # mock_saw KEY: the mock received a request with that key
    mock_ctl GET "/_mock/requests?key=$1"
    [[ $MOCK_BODY == *'"seq"'* ]]
}

# lock_db SECONDS: another session holds the write lock (SQLite) or a lock on the tokens table
# (PostgreSQL) for SECONDS; returns once it is held.
lock_db() {
    rm -f "$OA_TMP/locked"
    case ${OA_TEST_DB:-sqlite} in
    sqlite)
        "$OA_PY" - "$OA_DB_PATH" "$1" "$OA_TMP/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
PY
        ;;
    postgres)
        pg_psql "$OA_DB_PATH" -c "BEGIN" -c "LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE" \
            -c "\\! touch $OA_TMP/locked" -c "SELECT pg_sleep($1)" -c "COMMIT" >/dev/null &
        ;;
    esac
    LOCKER=$!
    _oa_pids+=("$LOCKER")
    for _ in $(seq 100); do [[ -e $OA_TMP/locked ]] && return 0; sleep 0.05; done
    return 1
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    ok_if "$ws: another session locks the database" lock_db 5
    # The write waits on the lock with the only pooled connection.
    curl -s -o "$OA_TMP/stuck.body" -w '%{http_code}' --max-time 30 "$OA_URL/api/token/" \
        -H "Authorization: Bearer $ROOT_AT" -H 'Content-Type: application/json' \
        --data-binary '{"name":"stuck"}' >"$OA_TMP/stuck.code" &
    stuck=$!
    sleep 0.5
    oa_req GET /api/user/self -H "Authorization: Bearer $ROOT_AT"
    is "$OA_STATUS|$(json_get success)|$(json_get message)" "503|false|database busy, please retry" \
        "$ws: a request that finds no free connection in time is 503 in the envelope"
    like "$(header Retry-After)" '^[0-9]+$' "$ws: ... with Retry-After"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
    is "$OA_STATUS|$(json_fields error.code error.type)" "503|database_busy|one_api_error" \
        "$ws: on the relay too, in OpenAI's error shape"
    wait "$stuck"
    is "$(cat "$OA_TMP/stuck.code")" 200 "$ws: the write that waited on the lock completes after it"
    oa_req GET /api/user/self -H "Authorization: Bearer $ROOT_AT"
    is "$OA_STATUS|$(json_get success)" "200|true" "$ws: and requests are served again"
    wait "$LOCKER" 2>/dev/null

    # A channel test holds no connection while it waits on the upstream: with the one
    # connection of the pool, other requests are served meanwhile.
    oa_add_channel "{\"type\":1,\"name\":\"slow\",\"key\":\"k-slow\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo\"}"
    mock_ctl POST /_mock/script '{"key":"k-slow","responses":[{"delay_ms":3000}]}'
    curl -s -o /dev/null --max-time 30 "$OA_URL/api/channel/test/$CH_ID" \
        -H "Authorization: Bearer $ROOT_AT" &
    tester=$!
    wait_for 10 mock_saw k-slow
    oa_req GET /api/user/self -H "Authorization: Bearer $ROOT_AT"
    is "$OA_STATUS|$(json_get success)" "200|true" \
        "$ws: a request is served while a channel test waits on its upstream"
    wait "$tester"
    oa_stop
done
done_testing
