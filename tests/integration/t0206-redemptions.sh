#!/usr/bin/env bash
# t0206: redemption codes: generation, listing, search, edit, delete, and redeeming one
# (POST /api/user/topup) exactly once, concurrent redeemers included.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env

# as AT METHOD PATH [BODY]: a management request with access token AT.
as() {
    local at=$1 method=$2 path=$3
    if [[ $# -ge 4 ]]; then
        oa_req "$method" "$path" -H "Authorization: Bearer $at" \
            -H 'Content-Type: application/json' --data-binary "$4"
    else
        oa_req "$method" "$path" -H "Authorization: Bearer $at"
    fi
}
fail_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"; }
ok_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:true:" "$1"; }
json_len() { "$OA_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))' <<<"$OA_BODY"; }
quota_of() { oa_db_query "SELECT quota FROM users WHERE id = $1"; }
N_USERS=8
U_AT=()
for i in $(seq 1 $N_USERS); do U_AT[$i]="r$i$(hex_key 30)"; done

for ws in $(oa_webservers); do
    oa_db_init
    for i in $(seq 1 $N_USERS); do
        oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('user$i', 'x', 'User $i', 1, 1, '${U_AT[$i]}', 1000, 'default')" >/dev/null
    done
    OA_KEEP_DB=1 oa_start "$ws" || continue
    U1=$(oa_db_query "SELECT id FROM users WHERE username = 'user1'")
    now=$(date +%s)

    # --- generation -------------------------------------------------------------------
    as "$ROOT_AT" GET /api/redemption/
    is "$(json_get success):$(json_get data)" "true:[]" "$ws: no codes: data is []"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"promo","quota":500000,"count":3}'
    ok_msg "$ws: create 3 codes"
    is "$(json_len)" 3 "$ws: ... data holds 3 keys"
    k1=$(json_get data.0) k2=$(json_get data.1) k3=$(json_get data.2)
    like "$k1" '^[0-9a-f]{32}$' "$ws: ... a key is 32 hex"
    is "$(oa_db_query "SELECT COUNT(DISTINCT \"key\"), MIN(user_id), MIN(status), MIN(quota), MIN(used_user_id), MIN(redeemed_time) FROM redemptions WHERE name = 'promo'")" \
        "3|1|1|500000|0|0" "$ws: ... stored: distinct keys, made by root, enabled, the quota, unused"
    ct=$(oa_db_query "SELECT MIN(created_time) FROM redemptions")
    ok_if "$ws: ... created_time is now" test "$ct" -ge "$now" -a "$ct" -le "$((now + 60))"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"zero","quota":0,"count":1}'
    kz=$(json_get data.0)
    is "$(oa_db_query "SELECT quota FROM redemptions WHERE \"key\" = '$kz'")" 100 "$ws: quota 0 is stored as 100"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"","quota":1,"count":1}'
    fail_msg "$ws: an empty name" "兑换码名称长度必须在1-20之间"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"123456789012345678901","quota":1,"count":1}'
    fail_msg "$ws: a 21-byte name" "兑换码名称长度必须在1-20之间"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"兑换码兑换码兑","quota":1,"count":1}'
    fail_msg "$ws: the limit counts bytes (7 CJK = 21 bytes)" "兑换码名称长度必须在1-20之间"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"x","quota":1,"count":0}'
    fail_msg "$ws: count 0" "兑换码个数必须大于0"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"x","quota":1,"count":101}'
    fail_msg "$ws: count 101" "一次兑换码批量生成的个数不能大于 100"
    is "$(oa_db_query "SELECT COUNT(*) FROM redemptions")" 4 "$ws: ... refused batches made nothing"
    as "$ROOT_AT" POST /api/redemption/ '{"name":"batch","quota":7,"count":8}'
    is "$(json_len)" 8 "$ws: a batch of 8"

    # --- list, search, get --------------------------------------------------------------
    as "$ROOT_AT" GET /api/redemption/
    is "$(json_len):$(json_get data.0.name)" "10:batch" "$ws: page 0 holds 10, newest first"
    is "$(json_fields data.0.used_user_id data.0.redeemed_time data.0.count)" "0|0|0" \
        "$ws: ... with used_user_id and redeemed_time"
    as "$ROOT_AT" GET '/api/redemption/?p=1'
    is "$(json_len):$(json_get data.1.key)" "2:$k1" "$ws: page 1 holds 2, ending with the oldest"
    as "$ROOT_AT" GET '/api/redemption/?p=2'
    is "$(json_get data)" "[]" "$ws: page 2 is []"
    as "$ROOT_AT" GET '/api/redemption/search?keyword=pro'
    is "$(json_len)" 3 "$ws: search by name prefix"
    id1=$(oa_db_query "SELECT id FROM redemptions WHERE \"key\" = '$k1'")
    as "$ROOT_AT" GET "/api/redemption/search?keyword=$id1"
    is "$(json_len):$(json_get data.0.key)" "1:$k1" "$ws: search by id"
    as "$ROOT_AT" GET "/api/redemption/search?keyword=%27"
    is "$(json_get success):$(json_get data)" "true:[]" "$ws: a quote in the keyword is only text"
    as "$ROOT_AT" GET "/api/redemption/$id1"
    is "$(json_fields success data.id data.key data.name data.quota data.status data.user_id)" \
        "true|$id1|$k1|promo|500000|1|1" "$ws: get one"
    as "$ROOT_AT" GET /api/redemption/abc
    fail_msg "$ws: get a non-numeric id" 'strconv.Atoi: parsing "abc": invalid syntax'
    as "$ROOT_AT" GET /api/redemption/99999
    fail_msg "$ws: get no such code" "record not found"

    # --- redeem -------------------------------------------------------------------------
    as "${U_AT[1]}" POST /api/user/topup "{\"key\":\"$k1\"}"
    is "$(json_fields success message data)" "true||500000" "$ws: redeem: data is the quota"
    is "$(quota_of "$U1")" 501000 "$ws: ... added to the user"
    t=$(oa_db_query "SELECT redeemed_time FROM redemptions WHERE id = $id1")
    ok_if "$ws: ... redeemed_time is now" test "$t" -ge "$now" -a "$t" -le "$((now + 60))"
    is "$(oa_db_query "SELECT status, used_user_id, user_id FROM redemptions WHERE id = $id1")" "3|$U1|1" \
        "$ws: ... status 3, used_user_id the redeemer, user_id still the creator"
    is "$(oa_db_query "SELECT type, content, username FROM logs WHERE user_id = $U1")" \
        "1|通过兑换码充值 ＄1.000000 额度|user1" "$ws: ... a top-up log row"
    as "$ROOT_AT" GET "/api/redemption/$id1"
    is "$(json_fields data.status data.used_user_id data.redeemed_time)" "3|$U1|$t" \
        "$ws: ... the code shows who redeemed it and when"
    as "${U_AT[1]}" POST /api/user/topup "{\"key\":\"$k1\"}"
    fail_msg "$ws: the same code again" "兑换失败，该兑换码已被使用"
    as "${U_AT[2]}" POST /api/user/topup "{\"key\":\"$k1\"}"
    fail_msg "$ws: ... by another user" "兑换失败，该兑换码已被使用"
    is "$(quota_of "$U1")" 501000 "$ws: ... nothing added"
    as "${U_AT[1]}" POST /api/user/topup '{"key":""}'
    fail_msg "$ws: no key" "未提供兑换码"
    as "${U_AT[1]}" POST /api/user/topup '{}'
    fail_msg "$ws: no key member" "未提供兑换码"
    as "${U_AT[1]}" POST /api/user/topup '{"key":"0123456789abcdef0123456789abcdef"}'
    fail_msg "$ws: an unknown code" "兑换失败，无效的兑换码"
    as "${U_AT[1]}" POST /api/user/topup "{\"key\":\"' OR 1=1 --\"}"
    fail_msg "$ws: a quote in the key is only text" "兑换失败，无效的兑换码"
    is "$(oa_db_query "SELECT COUNT(*) FROM redemptions WHERE status = 3")" 1 "$ws: ... still one used code"

    # --- edit, disable ------------------------------------------------------------------
    id2=$(oa_db_query "SELECT id FROM redemptions WHERE \"key\" = '$k2'")
    as "$ROOT_AT" PUT /api/redemption/ "{\"id\":$id2,\"name\":\"renamed\",\"quota\":42,\"status\":3}"
    is "$(json_fields success data.name data.quota data.status)" "true|renamed|42|1" \
        "$ws: edit: name and quota written, status left"
    as "$ROOT_AT" PUT '/api/redemption/?status_only=1' "{\"id\":$id2,\"name\":\"ignored\",\"status\":2}"
    is "$(json_fields success data.name data.quota data.status)" "true|renamed|42|2" \
        "$ws: status_only: only the status"
    as "$ROOT_AT" PUT '/api/redemption/?status_only=1' "{\"id\":$id2}"
    fail_msg "$ws: status_only without a status" "invalid parameter"
    as "$ROOT_AT" PUT /api/redemption/ '{"id":99999,"name":"x"}'
    fail_msg "$ws: edit no such code" "record not found"
    q2=$(quota_of "$U1")
    as "${U_AT[1]}" POST /api/user/topup "{\"key\":\"$k2\"}"
    fail_msg "$ws: a disabled code cannot be redeemed" "兑换失败，该兑换码已被使用"
    is "$(quota_of "$U1"):$(oa_db_query "SELECT status, used_user_id FROM redemptions WHERE id = $id2")" "$q2:2|0" \
        "$ws: ... nothing moved"
    as "$ROOT_AT" PUT '/api/redemption/?status_only=1' "{\"id\":$id2,\"status\":1}"
    as "${U_AT[1]}" POST /api/user/topup "{\"key\":\"$k2\"}"
    is "$(json_fields success data)" "true|42" "$ws: re-enabled, it redeems its edited quota"

    # --- 8 concurrent redeemers of one code -------------------------------------------------
    before=$(oa_db_query "SELECT SUM(quota) FROM users WHERE username LIKE 'user%'")
    logs_before=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 1")
    pids=()
    for i in $(seq 1 $N_USERS); do
        curl -sS --max-time 30 -X POST -H "Authorization: Bearer ${U_AT[$i]}" \
            -H 'Content-Type: application/json' --data-binary "{\"key\":\"$k3\"}" \
            -o "$OA_TMP/race-$i" "$OA_URL/api/user/topup" &
        pids+=($!)
    done
    wait "${pids[@]}"
    won=$(grep -l '"success":true' "$OA_TMP"/race-* | wc -l)
    lost=$(grep -l '兑换失败，该兑换码已被使用' "$OA_TMP"/race-* | wc -l)
    is "$won:$lost" "1:7" "$ws: 8 concurrent redeems: one succeeds, seven are told it is used"
    after=$(oa_db_query "SELECT SUM(quota) FROM users WHERE username LIKE 'user%'")
    is "$((after - before))" 500000 "$ws: ... the quota moved exactly once"
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 1")" "$((logs_before + 1))" "$ws: ... one log row"
    winner=$(oa_db_query "SELECT used_user_id FROM redemptions WHERE \"key\" = '$k3'")
    is "$(oa_db_query "SELECT user_id FROM logs WHERE type = 1 ORDER BY id DESC LIMIT 1")" "$winner" \
        "$ws: ... the log row and used_user_id name the same user"
    rm -f "$OA_TMP"/race-*

    # --- delete -------------------------------------------------------------------------
    as "$ROOT_AT" DELETE "/api/redemption/$id1"
    ok_msg "$ws: delete"
    is "$(oa_db_query "SELECT COUNT(*) FROM redemptions WHERE id = $id1")" 0 "$ws: ... a hard delete"
    as "$ROOT_AT" DELETE "/api/redemption/$id1"
    fail_msg "$ws: delete again" "record not found"
    as "$ROOT_AT" DELETE /api/redemption/abc
    fail_msg "$ws: delete a non-numeric id" "id 为空！"

    oa_stop
done
done_testing
