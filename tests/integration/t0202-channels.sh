#!/usr/bin/env bash
# t0202: channel administration (/api/channel), abilities kept in step, the model lists.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

ROOT_AT="oa-test-$(rand_name)$(rand_name)"
BOB_AT="bob0$(rand_name)$(rand_name)$(rand_name)"
BOB_AT=${BOB_AT:0:32}
OA_ENV=("INITIAL_ROOT_ACCESS_TOKEN=$ROOT_AT" "SESSION_SECRET=oa-test-secret-$(rand_name)")

# as_root / as_bob METHOD PATH [BODY]: a management request with that user's access token.
as_root() { _as "$ROOT_AT" "$@"; }
as_bob() { _as "$BOB_AT" "$@"; }
_as() {
    local at=$1 method=$2 path=$3
    if [[ $# -ge 4 ]]; then
        oa_req "$method" "$path" -H "Authorization: Bearer $at" \
            -H 'Content-Type: application/json' --data-binary "$4"
    else
        oa_req "$method" "$path" -H "Authorization: Bearer $at"
    fi
}
# json_len PATH: number of elements of the array (or members of the object) at PATH.
json_len() {
    "$OA_PY" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(len(v))' "$1" <<<"$OA_BODY"
}
fail_msg() {
    is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"
}
# available: root's GET /api/user/available_models as compact JSON.
available() { as_root GET /api/user/available_models; json_get data; }
# abilities ID: the ability rows of channel ID as "group/model/enabled/priority" lines, sorted.
abilities() {
    oa_db_query "SELECT \"group\" || '/' || model || '/' || CASE WHEN enabled THEN 1 ELSE 0 END || '/' || priority FROM abilities WHERE channel_id = $1" | sort | tr '\n' ' '
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    now=$(date +%s)
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('bob', 'x', 'Bob', 1, 1, '$BOB_AT', 0, 'vip')" >/dev/null

    # --- auth -----------------------------------------------------------------
    oa_req GET /api/channel/
    is "$OA_STATUS" 401 "$ws: /api/channel/ without credentials is 401"
    as_bob GET /api/channel/
    fail_msg "$ws: a common user may not list channels" "无权进行此操作，权限不足"
    as_bob POST /api/channel/ '{"type":1,"key":"k","models":"m"}'
    fail_msg "$ws: ... nor create one" "无权进行此操作，权限不足"

    as_root GET /api/channel/
    is "$OA_STATUS:$(json_get success):$(json_get data)" "200:true:[]" "$ws: no channels yet: data is []"
    is "$(available)" "[]" "$ws: no available models yet"

    # --- built-in model lists ---------------------------------------------------
    as_bob GET /api/models
    is "$(json_get success):$(json_len data)" "true:51" "$ws: /api/models maps types 1..51 (any user)"
    is "$(json_get data.1.0):$(json_len data.1)" "gpt-3.5-turbo:53" "$ws: ... type 1: the OpenAI list"
    is "$(json_get data.3)" "$(json_get data.1)" "$ws: ... Azure shares it"
    is "$(json_get data.14.0)" claude-instant-1.2 "$ws: ... type 14: Anthropic"
    is "$(json_get data.43)" null "$ws: ... type 43 Proxy: null"
    is "$(json_get data.34)" "[]" "$ws: ... type 34 Coze: empty"
    is "$(json_len data.20):$(json_get data.20.0)" "231:01-ai/yi-large" "$ws: ... type 20 OpenRouter: 231 names"
    is "$(json_get data.51)" "$(json_get data.24)" "$ws: ... type 51 shares Gemini's list"
    is "$(json_len data.17)" 89 "$ws: ... type 17 Ali: 89 names"
    as_root GET /api/channel/models
    is "$(json_get object):$(json_len data)" "list:492" "$ws: /api/channel/models: not enveloped, the whole catalogue"
    is "$(json_get data.0.id):$(json_get data.0.owned_by):$(json_get data.0.object)" \
        "gpt-3.5-turbo:openai:model" "$ws: ... model objects"
    is "$(json_get data.0.created):$(json_get data.0.root):$(json_get data.0.parent)" \
        "1626777600:gpt-3.5-turbo:null" "$ws: ... created, root, parent"
    is "$(json_get data.0.permission.0.id):$(json_get data.0.permission.0.allow_sampling)" \
        "modelperm-LwHkVFn8AcMItP432fKKDIKJ:true" "$ws: ... the fixed permission object"
    is "$(json_get data.53.owned_by):$(json_get data.491.owned_by)" "anthropic:xunfeiv2" \
        "$ws: ... in catalogue order"
    as_bob GET /api/channel/models
    fail_msg "$ws: ... admin only" "无权进行此操作，权限不足"

    # --- batch create: one channel per non-empty key line ----------------------
    body='{"type":1,"key":"sk-a\nsk-b\r\n\n  \nsk-c\n","name":"batch","models":"gpt-4o, gpt-4o-mini,gpt-4o,",'
    body+='"group":"default, vip","base_url":"https://example.invalid"}'
    as_root POST /api/channel/ "$body"
    is "$OA_STATUS:$(json_get success):$(json_get message)" "200:true:" "$ws: POST /api/channel/ succeeds"
    json_get data >/dev/null
    is "$?" 1 "$ws: ... without data"
    as_root GET /api/channel/
    is "$(json_len data)" 3 "$ws: three keys made three channels"
    is "$(oa_db_query "SELECT \"key\" FROM channels ORDER BY id" | tr '\n' ' ')" "sk-a sk-b sk-c " \
        "$ws: ... one key each, trimmed"
    b1=$(json_get data.2.id)
    b3=$(json_get data.0.id)
    is "$(json_get data.0.key):$(json_get data.0.name):$(json_get data.0.status)" ":batch:1" \
        "$ws: ... listed with the key blanked, status defaulted to 1"
    ct=$(json_get data.0.created_time)
    ok_if "$ws: ... created_time is now" test "$ct" -ge "$now" -a "$ct" -le "$((now + 60))"
    is "$(abilities "$b1")" "default/gpt-4o-mini/1/0 default/gpt-4o/1/0 vip/gpt-4o-mini/1/0 vip/gpt-4o/1/0 " \
        "$ws: ... abilities: trimmed, de-duplicated (group x model)"
    is "$(oa_db_query "SELECT COUNT(*) FROM abilities")" 12 "$ws: ... 4 ability rows per channel"
    is "$(available)" '["gpt-4o","gpt-4o-mini"]' "$ws: available_models shows the group's models, sorted"

    # Insert defaults: no status, no group; explicit nulls.
    as_root POST /api/channel/ '{"type":14,"key":"sk-ant","name":"claude","models":"claude-3-5-sonnet-20241022","system_prompt":null}'
    is "$(json_get success)" true "$ws: create a channel with no status and no group"
    cid=$(oa_db_query "SELECT id FROM channels WHERE name = 'claude'")
    as_root GET "/api/channel/$cid"
    is "$(json_get success):$(json_get data.id):$(json_get data.type)" "true:$cid:14" "$ws: GET /api/channel/:id"
    is "$(json_get data.key)" "" "$ws: ... key blanked"
    is "$(json_get data.status):$(json_get data.group)" "1:default" "$ws: ... status 1 and group default (insert defaults)"
    is "$(json_get data.weight):$(json_get data.priority):$(json_get data.base_url):$(json_get data.model_mapping)" \
        "0:0::" "$ws: ... weight 0, priority 0, base_url '', model_mapping ''"
    is "$(json_get data.system_prompt):$(json_get data.other):$(json_get data.balance):$(json_get data.used_quota)" \
        "null:null:0:0" "$ws: ... system_prompt and other null, balance 0"
    is "$(abilities "$cid")" "default/claude-3-5-sonnet-20241022/1/0 " "$ws: ... abilities built from the defaulted group"
    is "$(available)" '["claude-3-5-sonnet-20241022","gpt-4o","gpt-4o-mini"]' "$ws: ... and visible to the group"

    as_root POST /api/channel/ '{"type":1,"key":"\n \n","models":"m"}'
    fail_msg "$ws: a key with no non-empty line is refused" "invalid parameter"
    as_root POST /api/channel/ '{"type":1,"key":"k","weight":-1}'
    fail_msg "$ws: a negative weight is refused" "invalid parameter"
    as_root POST /api/channel/ '{"type":"1","key":"k"}'
    fail_msg "$ws: a type that is not a number is refused" "invalid parameter"

    # --- get errors -------------------------------------------------------------
    as_root GET /api/channel/abc
    fail_msg "$ws: a non-numeric id" 'strconv.Atoi: parsing "abc": invalid syntax'
    as_root GET /api/channel/999999
    fail_msg "$ws: an unknown id" "record not found"

    # --- partial update ---------------------------------------------------------
    as_root PUT /api/channel/ "{\"id\":$cid,\"status\":2}"
    is "$(json_get success):$(json_get data.status)" "true:2" "$ws: PUT {id,status:2} disables"
    is "$(json_get data.key):$(json_get data.name):$(json_get data.type)" "sk-ant:claude:14" \
        "$ws: ... answers the full channel incl. key; other fields untouched"
    is "$(abilities "$cid")" "default/claude-3-5-sonnet-20241022/0/0 " "$ws: ... abilities disabled"
    is "$(available)" '["gpt-4o","gpt-4o-mini"]' "$ws: ... and gone from available_models"
    as_root PUT /api/channel/ "{\"id\":$cid,\"status\":1,\"priority\":5}"
    is "$(json_get data.status):$(json_get data.priority)" "1:5" "$ws: PUT enables and sets priority 5"
    is "$(abilities "$cid")" "default/claude-3-5-sonnet-20241022/1/5 " "$ws: ... abilities enabled with priority 5"
    as_root PUT /api/channel/ "{\"id\":$cid,\"priority\":0}"
    is "$(json_get data.priority)" 0 "$ws: priority 0 can be set explicitly"
    is "$(abilities "$cid")" "default/claude-3-5-sonnet-20241022/1/0 " "$ws: ... and reaches the abilities"
    as_root PUT /api/channel/ "{\"id\":$cid,\"key\":\"\",\"group\":\"\",\"name\":\"claude-2\",\"models\":\"m-new , m-two\",\"system_prompt\":\"be brief\",\"weight\":3}"
    is "$(json_get data.key):$(json_get data.group)" "sk-ant:default" "$ws: an empty key or group leaves them unchanged"
    is "$(json_get data.name):$(json_get data.system_prompt):$(json_get data.weight)" "claude-2:be brief:3" \
        "$ws: ... the other fields are written"
    is "$(abilities "$cid")" "default/m-new/1/0 default/m-two/1/0 " "$ws: ... abilities rebuilt from the new models"
    is "$(available)" '["gpt-4o","gpt-4o-mini","m-new","m-two"]' "$ws: ... available_models follows"
    as_root PUT /api/channel/ "{\"id\":$cid,\"key\":\"sk-new\",\"group\":\"vip\"}"
    is "$(json_get data.key):$(json_get data.group)" "sk-new:vip" "$ws: a new key and group are written"
    is "$(available)" '["gpt-4o","gpt-4o-mini"]' "$ws: ... the channel left root's group"
    as_bob GET /api/user/available_models
    is "$(json_get data)" '["gpt-4o","gpt-4o-mini","m-new","m-two"]' "$ws: ... and serves bob's group vip"
    # Only non-zero fields are written (GORM's Updates); abilities come from the stored row.
    as_root PUT /api/channel/ "{\"id\":$cid,\"models\":\"\"}"
    is "$(json_get success):$(json_get data.models):$(json_get data.name)" "true:m-new , m-two:claude-2" \
        "$ws: PUT {id, models:\"\"} changes nothing"
    is "$(abilities "$cid")" "vip/m-new/1/0 vip/m-two/1/0 " "$ws: ... the abilities are kept"
    as_root PUT /api/channel/ "{\"id\":$cid,\"status\":2}"
    is "$(json_get data.status):$(json_get data.models):$(json_get data.name):$(json_get data.key):$(json_get data.weight)" \
        "2:m-new , m-two:claude-2:sk-new:3" "$ws: PUT {id, status:2} changes the status only"
    is "$(abilities "$cid")" "vip/m-new/0/0 vip/m-two/0/0 " "$ws: ... and disables the abilities"
    as_root PUT /api/channel/ "{\"id\":$cid,\"status\":0,\"type\":0,\"name\":\"\",\"config\":\"\",\"weight\":0,\"system_prompt\":\"\"}"
    is "$(json_get data.status):$(json_get data.type):$(json_get data.name)" "2:14:claude-2" \
        "$ws: zero status, type and name are not written"
    is "$(json_get data.weight):$(json_get data.system_prompt)" "0:" \
        "$ws: ... but weight and system_prompt (pointers in One API) are, 0 and \"\" included"
    as_root PUT /api/channel/ "{\"id\":$cid,\"status\":1}"
    is "$(abilities "$cid")" "vip/m-new/1/0 vip/m-two/1/0 " "$ws: status 1 enables them again"
    as_root PUT /api/channel/ '{"id":999999,"status":1}'
    fail_msg "$ws: PUT of an unknown id" "record not found"
    is "$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = 999999")" 0 "$ws: ... leaves no abilities behind"
    as_root PUT /api/channel/ '{"status":1}'
    fail_msg "$ws: PUT without id" "invalid parameter"

    # --- search -----------------------------------------------------------------
    as_root GET '/api/channel/search?keyword=bat'
    is "$(json_len data):$(json_get data.0.key)" "3:" "$ws: search by name prefix, keys blanked"
    as_root GET "/api/channel/search?keyword=$cid"
    is "$(json_len data):$(json_get data.0.name)" "1:claude-2" "$ws: search by id"
    as_root GET '/api/channel/search?keyword=zzz'
    is "$(json_get data)" "[]" "$ws: no match is []"

    # --- pagination -------------------------------------------------------------
    keys=$(printf 'pk-%02d\\n' $(seq 1 12))
    as_root POST /api/channel/ "{\"type\":1,\"key\":\"$keys\",\"name\":\"page\",\"models\":\"p\"}"
    is "$(json_get success)" true "$ws: a batch of 12 more keys"
    as_root GET '/api/channel/?p=0'
    is "$(json_len data):$(json_get data.0.key)" "10:" "$ws: page 0 holds 10 channels, keys blanked"
    as_root GET '/api/channel/?p=1'
    is "$(json_len data)" 6 "$ws: page 1 holds the other 6 (16 in all)"
    is "$(json_get data.5.id)" "$b1" "$ws: ... id DESC down to the first"
    as_root GET '/api/channel/?p=2'
    is "$(json_get data)" "[]" "$ws: page 2 is []"

    # --- delete -----------------------------------------------------------------
    as_root DELETE "/api/channel/$b3"
    is "$(json_get success):$(json_get message)" "true:" "$ws: DELETE /api/channel/:id succeeds"
    is "$(oa_db_query "SELECT COUNT(*) FROM channels WHERE id = $b3"):$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = $b3")" \
        "0:0" "$ws: ... channel and abilities gone"
    as_root GET "/api/channel/$b3"
    fail_msg "$ws: ... GET answers record not found" "record not found"

    # Delete the disabled ones: one manually (2), one automatically (3) disabled.
    as_root PUT /api/channel/ "{\"id\":$b1,\"status\":2}"
    oa_db_query "UPDATE channels SET status = 3 WHERE id = $cid" >/dev/null
    as_root DELETE /api/channel/disabled
    is "$(json_get success):$(json_get data)" "true:2" "$ws: DELETE /api/channel/disabled: data = number deleted"
    is "$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id IN ($b1, $cid)")" 0 \
        "$ws: ... their abilities are deleted too"
    is "$(oa_db_query "SELECT COUNT(*) FROM channels")" 13 "$ws: ... the others stay"
    is "$(available)" '["gpt-4o","gpt-4o-mini","p"]' "$ws: ... available_models follows"
    as_root DELETE /api/channel/disabled
    is "$(json_get success):$(json_get data)" "true:0" "$ws: ... nothing left to delete: 0"

    # --- update_balance (all) is a no-op ----------------------------------------
    as_root GET /api/channel/update_balance
    is "$OA_STATUS:$OA_BODY" '200:{"success":true,"message":""}' "$ws: GET /api/channel/update_balance is a no-op success"
    oa_stop
done

done_testing
