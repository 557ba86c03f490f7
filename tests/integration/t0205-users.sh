#!/usr/bin/env bash
# t0205: accounts: the caller's own (/api/user/self, token, aff, dashboard), user
# administration (/api/user/, search, get, create, update, delete, manage) with its role
# rules, and the API top-up (/api/topup). No answer carries a password hash or another
# user's access token.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
BODIES="$OA_TMP/bodies" # every answer but GET /api/user/token's, checked for secrets at the end

# as AT METHOD PATH [BODY]: a management request with access token AT.
as() {
    local at=$1 method=$2 path=$3
    if [[ $# -ge 4 ]]; then
        oa_req "$method" "$path" -H "Authorization: Bearer $at" \
            -H 'Content-Type: application/json' --data-binary "$4"
    else
        oa_req "$method" "$path" -H "Authorization: Bearer $at"
    fi
    [[ $path == /api/user/token* ]] || printf '%s %s\n' "$path" "$OA_BODY" >>"$BODIES"
}
# fail_msg DESC MSG: the last answer is HTTP 200, success false, with message MSG.
fail_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"; }
# ok_msg DESC: the last answer is HTTP 200 with success true and an empty message.
ok_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:true:" "$1"; }
json_len() { "$OA_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))' <<<"$OA_BODY"; }
# login NAME PASSWORD JAR: a password login into cookie jar JAR.
login() {
    oa_post_json /api/user/login "{\"username\":\"$1\",\"password\":\"$2\"}" -c "$3"
    printf '%s %s\n' login "$OA_BODY" >>"$BODIES"
}
# token_of NAME PASSWORD: log in, then GET /api/user/token with the cookie; prints the token.
token_of() {
    local jar="$OA_RUN/jar-$1"
    login "$1" "$2" "$jar"
    oa_req GET /api/user/token -b "$jar"
    json_get data
}
uid_of() { oa_db_query "SELECT id FROM users WHERE username = '$1'"; }
# create AT NAME PASSWORD: POST /api/user/ by AT; prints nothing, a failed test point on error.
create() {
    as "$1" POST /api/user/ "{\"username\":\"$2\",\"password\":\"$3\"}"
    [[ $(json_get success) == true ]] || fail "$OA_WS: create $2: $OA_BODY"
}
DENIED="无权进行此操作，权限不足"

for ws in $(oa_webservers); do
    : >"$BODIES"
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue

    # --- admin create -------------------------------------------------------------
    as "$ROOT_AT" POST /api/user/ '{"username":"adm","password":"adminpass1","role":10}'
    ok_msg "$ws: root creates adm"
    is "$(json_get data)" "" "$ws: ... no data"
    row=$(oa_db_query "SELECT role, status, display_name, length(access_token), length(aff_code), quota, \"group\" FROM users WHERE username = 'adm'")
    is "$row" "1|1|adm|32|4|0|default" \
        "$ws: ... role 1 whatever was asked, enabled, display name = username, access token, aff code, default group"
    is "$(oa_db_query "SELECT name, CASE WHEN unlimited_quota THEN 1 ELSE 0 END, remain_quota FROM tokens WHERE user_id = $(uid_of adm)")" \
        "default|1|-1" "$ws: ... with its unlimited default key"
    like "$(oa_db_query "SELECT password FROM users WHERE username = 'adm'")" '^\$2[aby]\$10\$' \
        "$ws: ... password stored as a bcrypt hash"
    as "$ROOT_AT" POST /api/user/ '{"username":"adm","password":"adminpass2"}'
    fail_msg "$ws: a taken username" "用户名已被占用"
    as "$ROOT_AT" POST /api/user/ '{"username":"nopass"}'
    fail_msg "$ws: a missing password" "invalid parameter"
    as "$ROOT_AT" POST /api/user/ '{"username":"","password":"adminpass2"}'
    fail_msg "$ws: an empty username" "invalid parameter"
    as "$ROOT_AT" POST /api/user/ '{"username":"abcdefghijklm","password":"adminpass2"}'
    like "$(json_get success):$(json_get message)" '^false:输入不合法 ' "$ws: a 13-byte username: 输入不合法 ..."
    as "$ROOT_AT" POST /api/user/ '{"username":"shortpw","password":"1234567"}'
    like "$(json_get success):$(json_get message)" '^false:输入不合法 ' "$ws: a 7-byte password: 输入不合法 ..."
    as "$ROOT_AT" POST /api/user/ '{"username":"rooty","password":"adminpass2","role":100}'
    fail_msg "$ws: root cannot create a root" "无法创建权限大于等于自己的用户"

    # --- promote, log in, GET /api/user/token -------------------------------------------
    as "$ROOT_AT" POST /api/user/manage '{"username":"adm","action":"promote"}'
    ok_msg "$ws: root promotes adm"
    is "$(json_fields data.role data.status data.id data.username data.access_token)" "10|1|0||" \
        "$ws: ... data carries only role and status"
    old_at=$(oa_db_query "SELECT access_token FROM users WHERE username = 'adm'")
    ADM_AT=$(token_of adm adminpass1)
    like "$ADM_AT" '^[0-9a-f]{32}$' "$ws: GET /api/user/token after a cookie login: 32 hex"
    is "$(oa_db_query "SELECT access_token FROM users WHERE username = 'adm'")" "$ADM_AT" "$ws: ... stored"
    isnt "$ADM_AT" "$old_at" "$ws: ... a new one"
    as "$old_at" GET /api/user/self
    fail_msg "$ws: ... the old token no longer works" "无权进行此操作，access token 无效"
    as "$ADM_AT" GET /api/user/self
    is "$(json_fields success data.username data.role data.access_token data.password)" "true|adm|10||" \
        "$ws: ... the new one does; self hides the token and the password"

    for u in alice bob carol dave u01 u02 u03 u04 u05 u06; do create "$ADM_AT" "$u" "password-$u"; done
    create "$ROOT_AT" adm2 adminpass2
    as "$ROOT_AT" POST /api/user/manage '{"username":"adm2","action":"promote"}'
    ALICE_AT=$(token_of alice password-alice)
    BOB_AT=$(token_of bob password-bob)
    DAVE_AT=$(token_of dave password-dave)
    ALICE=$(uid_of alice) BOB=$(uid_of bob) ADM2=$(uid_of adm2)

    # --- a common user on every admin route -----------------------------------------
    for route in "GET /api/user/" "GET /api/user/search?keyword=a" "GET /api/user/1" \
        "POST /api/user/ {\"username\":\"x\",\"password\":\"password1\"}" "PUT /api/user/ {\"id\":$BOB,\"quota\":1}" \
        "DELETE /api/user/$BOB" "POST /api/user/manage {\"username\":\"bob\",\"action\":\"disable\"}" \
        "GET /api/redemption/" "GET /api/redemption/search?keyword=a" "GET /api/redemption/1" \
        "POST /api/redemption/ {\"name\":\"x\",\"count\":1}" "PUT /api/redemption/ {\"id\":1}" \
        "DELETE /api/redemption/1" "POST /api/topup {\"user_id\":$ALICE,\"quota\":5}"; do
        read -r m p b <<<"$route"
        if [[ -n $b ]]; then as "$ALICE_AT" "$m" "$p" "$b"; else as "$ALICE_AT" "$m" "$p"; fi
        fail_msg "$ws: a common user on $m $p" "$DENIED"
    done
    is "$(oa_db_query "SELECT quota, status FROM users WHERE id = $BOB")" "0|1" "$ws: ... and nothing changed"

    # --- admins and their equals ----------------------------------------------------
    as "$ADM_AT" GET /api/user/1
    fail_msg "$ws: an admin cannot read root" "无权获取同级或更高等级用户的信息"
    as "$ADM_AT" GET "/api/user/$ADM2"
    fail_msg "$ws: ... nor another admin" "无权获取同级或更高等级用户的信息"
    as "$ADM_AT" GET "/api/user/$ALICE"
    is "$(json_fields success data.id data.username data.role data.password data.access_token data.aff_code)" \
        "true|$ALICE|alice|1|||$(oa_db_query "SELECT aff_code FROM users WHERE id = $ALICE")" \
        "$ws: an admin reads a common user, without password or access token"
    as "$ROOT_AT" GET "/api/user/$ADM2"
    is "$(json_fields success data.role data.access_token)" "true|10|" "$ws: root reads an admin (token blank)"
    as "$ROOT_AT" GET /api/user/abc
    fail_msg "$ws: a non-numeric id" 'strconv.Atoi: parsing "abc": invalid syntax'
    as "$ROOT_AT" GET /api/user/99999
    fail_msg "$ws: no such user" "record not found"
    for action in disable enable delete promote demote; do
        as "$ADM_AT" POST /api/user/manage "{\"username\":\"root\",\"action\":\"$action\"}"
        fail_msg "$ws: an admin cannot $action root" "无权更新同权限等级或更高权限等级的用户信息"
        as "$ADM_AT" POST /api/user/manage "{\"username\":\"adm2\",\"action\":\"$action\"}"
        fail_msg "$ws: ... nor another admin" "无权更新同权限等级或更高权限等级的用户信息"
    done
    as "$ADM_AT" POST /api/user/manage '{"username":"bob","action":"promote"}'
    fail_msg "$ws: an admin cannot promote" "普通管理员用户无法提升其他用户为管理员"
    as "$ADM_AT" PUT /api/user/ '{"id":1,"display_name":"x"}'
    fail_msg "$ws: an admin cannot edit root" "无权更新同权限等级或更高权限等级的用户信息"
    as "$ADM_AT" PUT /api/user/ "{\"id\":$ADM2,\"display_name\":\"x\"}"
    fail_msg "$ws: ... nor another admin" "无权更新同权限等级或更高权限等级的用户信息"
    as "$ADM_AT" PUT /api/user/ "{\"id\":$BOB,\"role\":10}"
    fail_msg "$ws: ... nor raise a user to its own role" "无权将其他用户权限等级提升到大于等于自己的权限等级"
    as "$ADM_AT" DELETE "/api/user/$ADM2"
    fail_msg "$ws: an admin cannot delete another admin" "无权删除同权限等级或更高权限等级的用户"
    as "$ROOT_AT" DELETE /api/user/1
    fail_msg "$ws: root cannot delete itself there" "无权删除同权限等级或更高权限等级的用户"
    is "$(oa_db_query "SELECT role, status, display_name FROM users WHERE id = $ADM2")" "10|1|adm2" \
        "$ws: ... adm2 unchanged"
    as "$ROOT_AT" PUT /api/user/ "{\"id\":$ADM2,\"display_name\":\"Second\"}"
    ok_msg "$ws: root edits an admin"

    # --- every manage action ---------------------------------------------------------
    as "$ADM_AT" POST /api/user/manage '{"username":"bob","action":"disable"}'
    is "$(json_fields success data.role data.status)" "true|1|2" "$ws: disable: status 2"
    as "$BOB_AT" GET /api/user/self
    fail_msg "$ws: ... bob is refused at once" "用户已被封禁"
    as "$ADM_AT" POST /api/user/manage '{"username":"bob","action":"enable"}'
    is "$(json_fields success data.role data.status)" "true|1|1" "$ws: enable: status 1"
    as "$BOB_AT" GET /api/user/self
    is "$(json_get success)" true "$ws: ... bob is back"
    as "$ROOT_AT" POST /api/user/manage '{"username":"bob","action":"promote"}'
    is "$(json_fields success data.role data.status)" "true|10|1" "$ws: root promotes: role 10"
    as "$BOB_AT" GET /api/user/
    is "$(json_get success)" true "$ws: ... bob reaches admin routes at once"
    as "$ROOT_AT" POST /api/user/manage '{"username":"bob","action":"promote"}'
    fail_msg "$ws: promote an admin" "该用户已经是管理员"
    as "$ROOT_AT" POST /api/user/manage '{"username":"bob","action":"demote"}'
    is "$(json_fields success data.role data.status)" "true|1|1" "$ws: demote: role 1"
    as "$ROOT_AT" POST /api/user/manage '{"username":"bob","action":"demote"}'
    fail_msg "$ws: demote a common user" "该用户已经是普通用户"
    as "$ROOT_AT" POST /api/user/manage '{"username":"root","action":"disable"}'
    fail_msg "$ws: root cannot disable root" "无法禁用超级管理员用户"
    as "$ROOT_AT" POST /api/user/manage '{"username":"root","action":"delete"}'
    fail_msg "$ws: ... nor delete it" "无法删除超级管理员用户"
    as "$ROOT_AT" POST /api/user/manage '{"username":"root","action":"demote"}'
    fail_msg "$ws: ... nor demote it" "无法降级超级管理员用户"
    as "$ROOT_AT" POST /api/user/manage '{"username":"nobody","action":"disable"}'
    fail_msg "$ws: an unknown user" "用户不存在"
    as "$ROOT_AT" POST /api/user/manage '{"username":"","action":"disable"}'
    fail_msg "$ws: an empty username finds nobody (not root)" "用户不存在"
    as "$ADM_AT" POST /api/user/manage '{"username":"carol","action":"delete"}'
    is "$(json_fields success data.role data.status)" "true|1|3" "$ws: delete: status 3"
    like "$(oa_db_query "SELECT username || '|' || status FROM users WHERE display_name = 'carol'")" \
        '^deleted_[0-9a-f]{32}\|3$' "$ws: ... soft: renamed deleted_<uuid32>, row kept"
    login carol password-carol "$OA_RUN/jar-x"
    fail_msg "$ws: ... carol cannot log in" "用户名或密码错误，或用户已被封禁"

    # --- list, order, search ----------------------------------------------------------
    # Not deleted: root adm alice bob dave u01..u06 adm2 = 12.
    as "$ADM_AT" GET /api/user/
    is "$(json_len)" 10 "$ws: page 0 holds 10 users"
    is "$(json_get data.0.username)" adm2 "$ws: ... newest first"
    as "$ADM_AT" GET '/api/user/?p=1'
    is "$(json_len):$(json_get data.1.username)" "2:root" "$ws: page 1 holds 2, ending with root"
    as "$ADM_AT" GET '/api/user/?p=2'
    is "$(json_get data)" "[]" "$ws: page 2 is []"
    as "$ADM_AT" GET '/api/user/?p=-1'
    is "$(json_get data.0.username)" adm2 "$ws: a negative page reads as 0"
    oa_db_query "UPDATE users SET quota = 7, used_quota = 9, request_count = 3 WHERE username = 'u03'" >/dev/null
    oa_db_query "UPDATE users SET used_quota = 99, request_count = 1 WHERE username = 'u04'" >/dev/null
    as "$ADM_AT" GET '/api/user/?order=quota'
    is "$(json_get data.0.username):$(json_get data.1.username)" "root:u03" "$ws: order=quota: quota DESC"
    as "$ADM_AT" GET '/api/user/?order=used_quota'
    is "$(json_get data.0.username):$(json_get data.1.username)" "u04:u03" "$ws: order=used_quota"
    as "$ADM_AT" GET '/api/user/?order=request_count'
    is "$(json_get data.0.username):$(json_get data.1.username)" "u03:u04" "$ws: order=request_count"
    as "$ADM_AT" GET '/api/user/search?keyword=u0'
    is "$(json_len)" 6 "$ws: search u0: six users by username prefix"
    as "$ADM_AT" GET "/api/user/search?keyword=$ALICE"
    like "$OA_BODY" '"username":"alice"' "$ws: search by id"
    as "$ADM_AT" GET '/api/user/search?keyword=deleted_'
    is "$(json_len)" 1 "$ws: search includes deleted users"
    as "$ADM_AT" GET "/api/user/search?keyword=%27%20OR%201=1%20--"
    is "$(json_get success):$(json_get data)" "true:[]" "$ws: a quote in the keyword is only text"
    as "$ADM_AT" GET '/api/user/search?keyword=zzz'
    is "$(json_get data)" "[]" "$ws: no match: []"

    # --- PUT /api/user/ ---------------------------------------------------------------
    q0=$(oa_db_query "SELECT quota FROM users WHERE id = $ALICE")
    as "$ADM_AT" PUT /api/user/ "{\"id\":$ALICE,\"display_name\":\"Alice A\",\"quota\":1500000,\"group\":\"vip\",\"email\":\"a@example.com\",\"password\":\"\",\"role\":0}"
    ok_msg "$ws: admin edits alice"
    is "$(oa_db_query "SELECT username, display_name, quota, \"group\", email, role FROM users WHERE id = $ALICE")" \
        "alice|Alice A|1500000|vip|a@example.com|1" "$ws: ... non-empty fields written, the rest kept"
    is "$(oa_db_query "SELECT type, content FROM logs WHERE user_id = $ALICE AND type = 3")" \
        "3|管理员将用户额度从 ＄$(awk -v q="$q0" 'BEGIN{printf "%.6f", q/500000}') 额度修改为 ＄3.000000 额度" \
        "$ws: ... the quota change is logged"
    as "$ALICE_AT" GET /api/user/self
    is "$(json_get success)" true "$ws: ... an empty password leaves it (the session still works)"
    as "$ADM_AT" PUT /api/user/ "{\"id\":$ALICE,\"password\":\"newpassword\"}"
    ok_msg "$ws: a new password"
    login alice newpassword "$OA_RUN/jar-alice2"
    is "$(json_get success)" true "$ws: ... alice logs in with it"
    is "$(oa_db_query "SELECT quota, display_name FROM users WHERE id = $ALICE")" "1500000|Alice A" \
        "$ws: ... nothing else changed"
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE user_id = $ALICE AND type = 3")" 1 \
        "$ws: ... and no quota log without a quota change"
    as "$ADM_AT" PUT /api/user/ '{"display_name":"x"}'
    fail_msg "$ws: PUT without id" "invalid parameter"
    as "$ADM_AT" PUT /api/user/ "{\"id\":$ALICE,\"username\":\"bob\"}"
    fail_msg "$ws: PUT to a taken username" "用户名已被占用"
    as "$ADM_AT" PUT /api/user/ "{\"id\":$ALICE,\"password\":\"short\"}"
    like "$(json_get success):$(json_get message)" '^false:输入不合法 ' "$ws: PUT with a short password"
    as "$ADM_AT" PUT /api/user/ '{"id":99999,"display_name":"x"}'
    fail_msg "$ws: PUT of no such user" "record not found"

    # --- DELETE /api/user/:id -----------------------------------------------------------
    U06=$(uid_of u06)
    as "$ADM_AT" DELETE "/api/user/$U06"
    ok_msg "$ws: admin deletes u06: the envelope"
    like "$(oa_db_query "SELECT username || '|' || status FROM users WHERE id = $U06")" '^deleted_[0-9a-f]{32}\|3$' \
        "$ws: ... soft-deleted"
    as "$ADM_AT" DELETE /api/user/abc
    fail_msg "$ws: delete a non-numeric id" 'strconv.Atoi: parsing "abc": invalid syntax'
    as "$ADM_AT" DELETE /api/user/99999
    fail_msg "$ws: delete no such user" "record not found"

    # --- the caller's own account -------------------------------------------------------
    as "$BOB_AT" PUT /api/user/self '{"display_name":"Bobby","username":""}'
    ok_msg "$ws: PUT self"
    is "$(oa_db_query "SELECT username, display_name FROM users WHERE id = $BOB")" "bob|Bobby" \
        "$ws: ... only the non-empty fields"
    as "$BOB_AT" PUT /api/user/self '{"username":"abcdefghijklm"}'
    like "$(json_get success):$(json_get message)" '^false:输入不合法 ' "$ws: PUT self: a 13-byte username"
    as "$BOB_AT" PUT /api/user/self '{"password":"1234567"}'
    like "$(json_get success):$(json_get message)" '^false:输入不合法 ' "$ws: PUT self: a 7-byte password"
    as "$BOB_AT" PUT /api/user/self '{"username":"alice"}'
    fail_msg "$ws: PUT self: a taken username" "用户名已被占用"
    as "$BOB_AT" PUT /api/user/self '{"role":100,"quota":99999999,"password":"bobs-new-pw"}'
    ok_msg "$ws: PUT self with role and quota"
    is "$(oa_db_query "SELECT role, quota FROM users WHERE id = $BOB")" "1|0" "$ws: ... which are ignored"
    login bob bobs-new-pw "$OA_RUN/jar-bob2"
    is "$(json_get success)" true "$ws: ... the password changed"
    # A browser that changes its own password stays logged in (a fresh cookie).
    oa_req PUT /api/user/self -b "$OA_RUN/jar-bob2" -c "$OA_RUN/jar-bob2" \
        -H 'Content-Type: application/json' --data-binary '{"password":"bobs-3rd-pw"}'
    ok_msg "$ws: PUT self by cookie"
    oa_req GET /api/user/self -b "$OA_RUN/jar-bob2"
    is "$(json_get success):$(json_get data.username)" "true:bob" "$ws: ... the session goes on"

    aff=$(oa_db_query "SELECT aff_code FROM users WHERE id = $BOB")
    as "$BOB_AT" GET /api/user/aff
    is "$(json_get success):$(json_get data)" "true:$aff" "$ws: GET aff: the stored code"
    oa_db_query "UPDATE users SET aff_code = NULL WHERE id = $BOB" >/dev/null
    as "$BOB_AT" GET /api/user/aff
    new_aff=$(json_get data)
    like "$new_aff" '^[0-9A-Za-z]{4}$' "$ws: GET aff without one: a new 4-character code"
    is "$(oa_db_query "SELECT aff_code FROM users WHERE id = $BOB")" "$new_aff" "$ws: ... stored"
    as "$BOB_AT" GET /api/user/aff
    is "$(json_get data)" "$new_aff" "$ws: ... and kept"

    as "$ROOT_AT" DELETE /api/user/self
    fail_msg "$ws: root cannot delete itself" "不能删除超级管理员账户"
    as "$DAVE_AT" DELETE /api/user/self
    ok_msg "$ws: dave deletes himself"
    DAVE=$(oa_db_query "SELECT id FROM users WHERE display_name = 'dave'")
    like "$(oa_db_query "SELECT username || '|' || status FROM users WHERE id = $DAVE")" '^deleted_[0-9a-f]{32}\|3$' \
        "$ws: ... soft-deleted"
    as "$DAVE_AT" GET /api/user/self
    fail_msg "$ws: ... his token is refused at once" "用户已被封禁"
    login dave password-dave "$OA_RUN/jar-y"
    fail_msg "$ws: ... and he cannot log in" "用户名或密码错误，或用户已被封禁"

    # --- POST /api/topup --------------------------------------------------------------
    qa=$(oa_db_query "SELECT quota FROM users WHERE id = $ALICE")
    as "$ADM_AT" POST /api/topup "{\"user_id\":$ALICE,\"quota\":250000,\"remark\":\"\"}"
    ok_msg "$ws: top-up"
    is "$(oa_db_query "SELECT quota FROM users WHERE id = $ALICE")" "$((qa + 250000))" "$ws: ... quota added"
    is "$(oa_db_query "SELECT type, quota, content, username FROM logs WHERE user_id = $ALICE AND type = 1")" \
        "1|250000|通过 API 充值 ＄0.500000 额度|alice" "$ws: ... top-up log row with the amount"
    as "$ADM_AT" POST /api/topup "{\"user_id\":$ALICE,\"quota\":1,\"remark\":\"order 42\"}"
    is "$(oa_db_query "SELECT content FROM logs WHERE user_id = $ALICE AND type = 1 ORDER BY id DESC LIMIT 1")" \
        "order 42" "$ws: ... a remark is the log's content"
    as "$ADM_AT" POST /api/topup "{\"user_id\":$ALICE,\"quota\":-5}"
    fail_msg "$ws: a negative top-up" "quota 不能为负数！"
    as "$ADM_AT" POST /api/topup '{"user_id":99999,"quota":5}'
    fail_msg "$ws: a top-up of nobody" "用户不存在"
    is "$(oa_db_query "SELECT quota FROM users WHERE id = $ALICE")" "$((qa + 250001))" \
        "$ws: ... quota moved only by the two accepted top-ups"

    # --- the dashboard -----------------------------------------------------------------
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-3.5-turbo,gpt-4o-mini\",\"group\":\"default\"}"
    for i in 1 2; do
        oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}'
        is "$OA_STATUS" 200 "$ws: relay call $i"
    done
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    oa_wait_logs 3 || fail "$ws: three consume log rows"
    now=$(date -u +%s)
    today=$(date -u +%F)
    day3=$(date -u -d @$((now - 3 * 86400)) +%F)
    # Rows the dashboard must leave out: 7 days ago, another user's, a top-up.
    oa_db_query "INSERT INTO logs (user_id, created_at, type, model_name, quota, prompt_tokens, completion_tokens) VALUES
        (1, $((now - 3 * 86400)), 2, 'old-model', 11, 5, 6),
        (1, $((now - now % 86400 - 6 * 86400 - 1)), 2, 'too-old', 1, 1, 1),
        ($ALICE, $now, 2, 'gpt-3.5-turbo', 1000, 1000, 1000),
        (1, $now, 1, 'gpt-3.5-turbo', 1000, 1000, 1000)" >/dev/null
    want=$(oa_db_query "SELECT model_name || ':' || COUNT(*) || ':' || SUM(quota) || ':' || SUM(prompt_tokens) || ':' || SUM(completion_tokens) FROM logs WHERE user_id = 1 AND type = 2 AND model_name LIKE 'gpt%' GROUP BY model_name ORDER BY model_name" | tr '\n' ' ')
    as "$ROOT_AT" GET /api/user/dashboard
    got=$("$OA_PY" -c 'import json,sys
for d in json.load(sys.stdin)["data"]:
    print("%s %s:%d:%d:%d:%d" % (d["Day"], d["ModelName"], d["RequestCount"], d["Quota"], d["PromptTokens"], d["CompletionTokens"]))' <<<"$OA_BODY" | tr '\n' ' ')
    gpt=$(for w in $want; do printf '%s %s ' "$today" "$w"; done)
    is "$got" "$day3 old-model:1:11:5:6 $gpt" \
        "$ws: dashboard: per day and model, ordered, the last 7 UTC days, consume rows of the caller only"
    like "$OA_BODY" '"Day":"[0-9-]+","ModelName":' "$ws: ... capitalised keys"
    as "$BOB_AT" GET /api/user/dashboard
    is "$(json_get success):$(json_get data)" "true:[]" "$ws: ... empty: []"

    # --- secrets ----------------------------------------------------------------------
    ok_if "$ws: no answer carries a password hash" bash -c '! grep -q "\\\$2[aby]\\\$" "$1"' _ "$BODIES"
    leaked=""
    for at in "$ROOT_AT" "$ADM_AT" "$ALICE_AT" "$BOB_AT" $(oa_db_query "SELECT access_token FROM users WHERE access_token IS NOT NULL"); do
        grep -q -- "$at" "$BODIES" && leaked+=" $at"
    done
    is "$leaked" "" "$ws: no answer but GET /api/user/token carries an access token"

    oa_stop
done
done_testing
