#!/usr/bin/env bash
# t0207: the log pages (/api/log): every filter alone and together, pages of 10, the consume
# sums, the searches (a LIKE keyword is taken literally), the caller's own rows only on the
# self routes, the clean-up by age, and who may call what.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

ROOT_AT="oa-test-$(rand_name)$(rand_name)"
BOB_AT="bob0$(rand_name)$(rand_name)$(rand_name)"
BOB_AT=${BOB_AT:0:32}
ADA_AT="ada0$(rand_name)$(rand_name)$(rand_name)"
ADA_AT=${ADA_AT:0:32}
OA_ENV=("INITIAL_ROOT_ACCESS_TOKEN=$ROOT_AT" "SESSION_SECRET=oa-test-secret-$(rand_name)")

as_root() { _as "$ROOT_AT" "$@"; }
as_bob() { _as "$BOB_AT" "$@"; }
as_ada() { _as "$ADA_AT" "$@"; }
_as() { oa_req "$2" "$3" -H "Authorization: Bearer $1"; }
# ids: the id of every row of data, comma-joined ("" for []); "<bad>" when data is no array.
ids() {
    "$OA_PY" -c 'import json, sys
d = json.load(sys.stdin).get("data")
print(",".join(str(r["id"]) for r in d) if isinstance(d, list) else "<bad>")' <<<"$OA_BODY"
}
# col NAME: the NAME member of every row of data, comma-joined.
col() {
    "$OA_PY" -c 'import json, sys
print(",".join(str(r[sys.argv[1]]) for r in json.load(sys.stdin)["data"]))' "$1" <<<"$OA_BODY"
}
fail_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"; }
FORBIDDEN="无权进行此操作，权限不足"

# log_row ID_VAR T TYPE USER_ID USERNAME TOKEN MODEL QUOTA CHANNEL CONTENT: one row; its id
# in ID_VAR.
log_row() {
    local -n _id=$1
    oa_db_query "INSERT INTO logs (created_at, type, user_id, username, token_name, model_name, quota, channel_id, content, prompt_tokens, completion_tokens, request_id, elapsed_time, is_stream, system_prompt_reset) VALUES ($2, $3, $4, '$5', '$6', '$7', $8, $9, '${10}', 11, 22, 'req$2', 33, false, false)" >/dev/null
    _id=$(oa_db_query "SELECT MAX(id) FROM logs")
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_db_query "DELETE FROM logs" >/dev/null
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('bob', 'x', 'Bob', 1, 1, '$BOB_AT', 0, 'default')" >/dev/null
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('ada', 'x', 'Ada', 10, 1, '$ADA_AT', 0, 'default')" >/dev/null
    BOB=$(oa_db_query "SELECT id FROM users WHERE username = 'bob'")

    # Empty: [] and a zero sum.
    as_root GET /api/log/
    is "$OA_STATUS:$(json_get success):$(json_get data)" "200:true:[]" "$ws: no logs: data is []"
    as_root GET /api/log/stat
    is "$(json_get data)" '{"quota":0}' "$ws: no logs: the sum is 0"

    log_row L1 1000 2 1 root tok-a gpt-4 100 1 "模型倍率 15"
    log_row L2 2000 2 "$BOB" bob tok-b gpt-3.5 20 2 "模型倍率 0.75"
    log_row L3 3000 1 "$BOB" bob "" "" 500 0 "通过兑换码充值 100"
    log_row L4 4000 2 "$BOB" bob tok-b gpt-4 7 1 "模型倍率 15"
    log_row L5 5000 3 1 root "" "" 0 0 "管理员将用户额度修改"
    log_row L6 6000 2 1 root tok-a gpt-3.5 3 2 "模型倍率 0.75"
    log_row L7 7000 3 1 root "" "" 0 0 "50%_off promo"
    log_row L8 8000 3 1 root "" "" 0 0 "50%xoff other"
    # 110 system rows after them: pages, and the search cap of 100.
    values=""
    for i in $(seq 1 110); do values+="${values:+,}($((10000 + i)), 4, 1, 'root', 'filler $i')"; done
    oa_db_query "INSERT INTO logs (created_at, type, user_id, username, content) VALUES $values" >/dev/null
    LAST=$(oa_db_query "SELECT MAX(id) FROM logs")

    # --- pages ------------------------------------------------------------------------
    as_root GET '/api/log/?p=0'
    is "$(ids)" "$(seq -s, "$LAST" -1 $((LAST - 9)))" "$ws: page 0: the 10 newest rows, id DESC"
    as_root GET '/api/log/?p=-3'
    is "$(ids)" "$(seq -s, "$LAST" -1 $((LAST - 9)))" "$ws: a negative page is page 0"
    as_root GET '/api/log/?p=1'
    is "$(ids)" "$(seq -s, $((LAST - 10)) -1 $((LAST - 19)))" "$ws: page 1: the next 10"
    as_root GET '/api/log/?p=11'
    is "$(ids)" "$L8,$L7,$L6,$L5,$L4,$L3,$L2,$L1" "$ws: page 11: the last 8 rows"
    as_root GET '/api/log/?p=12'
    is "$(json_get data)" "[]" "$ws: past the end: []"

    # --- the row's shape --------------------------------------------------------------
    as_root GET "/api/log/?type=2&start_timestamp=4000&end_timestamp=4000"
    JSON_DOC=$(json_get data.0)
    is "$(json_fields id user_id created_at type content username token_name model_name quota prompt_tokens completion_tokens channel request_id elapsed_time is_stream system_prompt_reset)" \
        "$L4|$BOB|4000|2|模型倍率 15|bob|tok-b|gpt-4|7|11|22|1|req4000|33|false|false" \
        "$ws: a row carries every column; channel_id is named channel"
    is "$(json_fields channel_id)" "<none>" "$ws: ... and there is no channel_id"
    unset JSON_DOC

    # --- each filter alone, then together ---------------------------------------------
    as_root GET "/api/log/?type=2"
    is "$(ids)" "$L6,$L4,$L2,$L1" "$ws: type=2"
    as_root GET "/api/log/?start_timestamp=2000&end_timestamp=4000"
    is "$(ids)" "$L4,$L3,$L2" "$ws: start and end timestamps are inclusive"
    as_root GET "/api/log/?p=11&start_timestamp=0&end_timestamp=0&type=0&channel=0&username="
    is "$(ids)" "$L8,$L7,$L6,$L5,$L4,$L3,$L2,$L1" "$ws: 0 and empty filters are unbounded"
    as_root GET "/api/log/?end_timestamp=2000"
    is "$(ids)" "$L2,$L1" "$ws: end_timestamp alone"
    as_root GET "/api/log/?username=bob"
    is "$(ids)" "$L4,$L3,$L2" "$ws: username"
    as_root GET "/api/log/?username=bo"
    is "$(ids)" "" "$ws: username is an exact match"
    as_root GET "/api/log/?token_name=tok-b"
    is "$(ids)" "$L4,$L2" "$ws: token_name"
    as_root GET "/api/log/?model_name=gpt-4"
    is "$(ids)" "$L4,$L1" "$ws: model_name"
    as_root GET "/api/log/?channel=2"
    is "$(ids)" "$L6,$L2" "$ws: channel"
    as_root GET "/api/log/?type=2&username=bob&token_name=tok-b&model_name=gpt-4&channel=1&start_timestamp=3000&end_timestamp=5000"
    is "$(ids)" "$L4" "$ws: every filter together"
    as_root GET "/api/log/?type=2&username=root&model_name=gpt-4&start_timestamp=2000"
    is "$(ids)" "" "$ws: filters are ANDed"
    as_root GET "/api/log/?model_name=x%27%20OR%20%271%27%3D%271"
    is "$(ids)" "" "$ws: a quote in a filter is a value, not SQL"

    # --- sums over consume rows -------------------------------------------------------
    as_root GET /api/log/stat
    is "$(json_get data.quota)" 130 "$ws: stat sums the consume rows only"
    as_root GET "/api/log/stat?type=1"
    is "$(json_get data.quota)" 130 "$ws: stat ignores type"
    as_root GET "/api/log/stat?username=bob"
    is "$(json_get data.quota)" 27 "$ws: stat by username"
    as_root GET "/api/log/stat?model_name=gpt-4&token_name=tok-a"
    is "$(json_get data.quota)" 100 "$ws: stat by model and token"
    as_root GET "/api/log/stat?channel=2&start_timestamp=3000"
    is "$(json_get data.quota)" 3 "$ws: stat by channel and time"
    as_root GET "/api/log/stat?username=nobody"
    is "$(json_get data)" '{"quota":0}' "$ws: stat with no row is 0"

    # --- the caller's own rows --------------------------------------------------------
    as_bob GET /api/log/self
    is "$(col user_id):$(col id)" "$BOB,$BOB,$BOB:0,0,0" "$ws: self: bob's 3 rows, ids hidden (0)"
    is "$(col created_at)" "4000,3000,2000" "$ws: self: newest first"
    as_bob GET "/api/log/self?username=root"
    is "$(col user_id)" "$BOB,$BOB,$BOB" "$ws: self: a username parameter shows no one else's rows"
    as_bob GET "/api/log/self?type=2&model_name=gpt-4"
    is "$(col created_at)" "4000" "$ws: self: type and model filters"
    as_bob GET "/api/log/self?token_name=tok-b&start_timestamp=2500"
    is "$(col created_at)" "4000" "$ws: self: token and time filters"
    as_bob GET "/api/log/self?p=1"
    is "$(json_get data)" "[]" "$ws: self: page 1 is []"
    as_bob GET /api/log/self/stat
    is "$(json_get data.quota)" 27 "$ws: self/stat: bob's consume sum"
    as_bob GET "/api/log/self/stat?model_name=gpt-3.5&username=root"
    is "$(json_get data.quota)" 20 "$ws: self/stat: filtered, still bob's"
    as_ada GET /api/log/self
    is "$(json_get data)" "[]" "$ws: self: a user without rows gets []"

    # --- searches ---------------------------------------------------------------------
    as_root GET "/api/log/search?keyword=2"
    is "$(ids)" "$L6,$L4,$L2,$L1" "$ws: search: a number matches the type"
    as_root GET "/api/log/search?keyword=%E9%80%9A%E8%BF%87"
    is "$(ids)" "$L3" "$ws: search: a keyword matches the start of the content"
    as_root GET "/api/log/search?keyword=50%25_"
    is "$(ids)" "$L7" "$ws: search: % and _ in the keyword match only themselves"
    as_root GET "/api/log/search?keyword=4"
    n=$("$OA_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))' <<<"$OA_BODY")
    is "$n:$(json_get data.0.id)" "100:$LAST" "$ws: search: the newest 100 rows at most"
    as_root GET "/api/log/search?keyword=nothing"
    is "$(json_get data)" "[]" "$ws: search: no match is []"
    as_bob GET "/api/log/self/search?keyword=2"
    is "$(col created_at):$(col id)" "4000,2000:0,0" "$ws: self/search: bob's rows of that type, ids hidden"
    as_bob GET "/api/log/self/search?keyword=%E9%80%9A%E8%BF%87"
    is "$(json_get data)" "[]" "$ws: self/search: the content is not searched"
    as_bob GET "/api/log/self/search?keyword=3"
    is "$(json_get data)" "[]" "$ws: self/search: another user's rows of that type are not shown"

    # --- who may call what ------------------------------------------------------------
    for path in /api/log/ /api/log/stat "/api/log/search?keyword=2"; do
        as_bob GET "$path"
        fail_msg "$ws: a common user on GET $path: forbidden" "$FORBIDDEN"
    done
    as_bob DELETE "/api/log/?target_timestamp=99999"
    fail_msg "$ws: a common user on DELETE /api/log/: forbidden" "$FORBIDDEN"
    is "$(oa_db_query "SELECT COUNT(*) FROM logs")" 118 "$ws: ... and nothing was deleted"
    oa_req GET /api/log/self
    is "$OA_STATUS" 401 "$ws: /api/log/self without credentials is 401"
    as_ada GET "/api/log/?username=bob"
    is "$(ids)" "$L4,$L3,$L2" "$ws: an admin (role 10) reads every user's logs"

    # --- delete by age ----------------------------------------------------------------
    as_ada DELETE /api/log/
    fail_msg "$ws: DELETE without target_timestamp" "target timestamp is required"
    as_ada DELETE "/api/log/?target_timestamp=0"
    fail_msg "$ws: DELETE with target_timestamp=0" "target timestamp is required"
    as_ada DELETE "/api/log/?target_timestamp=3000"
    is "$OA_STATUS:$(json_get success):$(json_get data)" "200:true:2" "$ws: DELETE: data is the rows deleted (created before the time)"
    is "$(oa_db_query "SELECT MIN(created_at) FROM logs")" 3000 "$ws: ... the row at the time itself stays"
    as_ada DELETE "/api/log/?target_timestamp=3000"
    is "$(json_get data)" 0 "$ws: DELETE again: 0 rows"
    oa_stop
done
done_testing
