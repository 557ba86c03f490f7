#!/usr/bin/env bash
# t0310: the relay in plain CGI mode (one process per request, no writer thread): a chat is
# answered and settled at once, its log row and quota change committed together; the user's
# quota is checked against the database.
. "$(dirname "$0")/lib.sh"
oa_require_bin
relay_env
mock_start
oa_db_init
body="$OA_TMP/chat.json"
printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' >"$body"
oa_db_query "INSERT INTO channels (type, \"key\", status, name, base_url, models, \"group\", created_time, priority, weight) VALUES (1, 'k-cgi', 1, 'cgi', '$MOCK_URL', 'gpt-4o-mini', 'default', 0, 0, 0)" >/dev/null
ch=$(oa_db_query "SELECT MAX(id) FROM channels")
oa_db_query "INSERT INTO abilities (\"group\", model, channel_id, enabled, priority) VALUES ('default', 'gpt-4o-mini', $ch, $([[ ${OA_TEST_DB:-sqlite} == postgres ]] && echo true || echo 1), 0)" >/dev/null
cgi() { # cgi KEY: one CGI run of the chat; the raw response in $OA_TMP/cgi.out
    env "${OA_DB_ENV[@]}" "${OA_ENV[@]}" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
        REQUEST_METHOD=POST REQUEST_URI=/v1/chat/completions SCRIPT_NAME=/one-api.cgi \
        PATH_INFO=/v1/chat/completions QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
        CONTENT_TYPE=application/json CONTENT_LENGTH="$(wc -c <"$body")" \
        HTTP_AUTHORIZATION="Bearer sk-$1" timeout 30 "$ONEAPI_BIN" --log-dir "$OA_TMP" \
        <"$body" >"$OA_TMP/cgi.out" 2>>"$OA_TMP/cgi.err"
}
q0=$(oa_db_query "SELECT quota FROM users WHERE id = 1")
for i in 1 2 3; do
    cgi "$ROOT_KEY"
    cgi_split "$OA_TMP/cgi.out"
    is "$OA_STATUS|$(json_get choices.0.message.content)" "200|Hello from mock" "CGI chat $i is answered"
done
is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")" 3 "three consume log rows, written before each process ended"
is "$((q0 - $(oa_db_query "SELECT quota FROM users WHERE id = 1")))" \
    "$(oa_db_query "SELECT SUM(quota) FROM logs WHERE type = 2")" "the quota removed equals the logged quota"
oa_db_query "UPDATE users SET quota = 0 WHERE id = 1" >/dev/null
cgi "$ROOT_KEY"
cgi_split "$OA_TMP/cgi.out"
is "$OA_STATUS|$(json_get error.code)" "403|insufficient_user_quota" "a user without quota is refused"
done_testing
