#!/usr/bin/env bash
# t0201: the caller's relay keys (/api/token): CRUD, validation, pagination, ownership.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

ROOT_AT="oa-test-$(rand_name)$(rand_name)"
BOB_AT="bob0$(rand_name)$(rand_name)$(rand_name)" # char(32) column: 4 + 36 hex, cut below
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
# json_len PATH: number of elements of the array at PATH of $OA_BODY.
json_len() {
    "$OA_PY" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(len(v))' "$1" <<<"$OA_BODY"
}
# ok_msg DESC: the last answer is HTTP 200, success false, with message $2.
fail_msg() {
    is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    now=$(date +%s)

    # Not logged in.
    oa_req GET /api/token/
    is "$OA_STATUS" 401 "$ws: /api/token/ without credentials is 401"

    # An empty list is [] (not null).
    as_root GET /api/token/
    is "$OA_STATUS:$(json_get success):$(json_get data)" "200:true:[]" "$ws: no tokens yet: data is []"

    # --- pagination: 12 tokens, pages of 10 ---------------------------------
    for i in $(seq -w 1 12); do
        as_root POST /api/token/ "{\"name\":\"page-$i\",\"remain_quota\":$((10#$i * 100))}"
        [[ $(json_get success) == true ]] || fail "$ws: create page-$i: $OA_BODY"
    done
    as_root GET '/api/token/?p=0'
    is "$(json_len data)" 10 "$ws: page 0 holds 10 tokens"
    is "$(json_get data.0.name)" page-12 "$ws: ... newest first (id DESC)"
    is "$(json_get data.9.name)" page-03 "$ws: ... down to the tenth"
    as_root GET '/api/token/?p=1'
    is "$(json_len data)" 2 "$ws: page 1 holds 2 tokens"
    is "$(json_get data.1.name)" page-01 "$ws: ... ending with the oldest"
    as_root GET '/api/token/?p=2'
    is "$(json_get data)" "[]" "$ws: page 2 is []"
    as_root GET '/api/token/?p=-3'
    is "$(json_get data.0.name)" page-12 "$ws: a negative page reads as page 0"
    as_root GET '/api/token/?p=abc'
    is "$(json_len data)" 10 "$ws: a non-numeric page reads as page 0"

    # --- create ---------------------------------------------------------------
    body='{"name":"ci-bot","expired_time":0,"remain_quota":500000,"unlimited_quota":false,'
    body+='"models":"gpt-4o-mini,gpt-4o","subnet":"10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32"}'
    as_root POST /api/token/ "$body"
    is "$OA_STATUS:$(json_get success):$(json_get message)" "200:true:" "$ws: POST /api/token/ succeeds"
    tid=$(json_get data.id)
    key=$(json_get data.key)
    like "$tid" '^[0-9]+$' "$ws: ... data.id"
    like "$key" '^[0-9A-Za-z]{48}$' "$ws: ... data.key is 48 alphanumerics (no sk-)"
    is "$(json_get data.user_id)" 1 "$ws: ... data.user_id is the caller"
    is "$(json_get data.status)" 1 "$ws: ... status defaults to 1"
    is "$(json_get data.name)" ci-bot "$ws: ... name"
    is "$(json_get data.expired_time)" -1 "$ws: ... expired_time 0 is stored as -1"
    is "$(json_get data.remain_quota)" 500000 "$ws: ... remain_quota"
    is "$(json_get data.unlimited_quota)" false "$ws: ... unlimited_quota"
    is "$(json_get data.used_quota)" 0 "$ws: ... used_quota"
    is "$(json_get data.models)" gpt-4o-mini,gpt-4o "$ws: ... models"
    is "$(json_get data.subnet)" "10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32" "$ws: ... subnet"
    ct=$(json_get data.created_time)
    ok_if "$ws: ... created_time is now" test "$ct" -ge "$now" -a "$ct" -le "$((now + 60))"
    is "$(json_get data.accessed_time)" "$ct" "$ws: ... accessed_time = created_time"
    is "$(oa_db_query "SELECT \"key\" FROM tokens WHERE id = $tid")" "$key" \
        "$ws: ... the key is stored without sk-"

    # Without models/subnet: models stays null, subnet takes its default ''.
    as_root POST /api/token/ '{"name":"bare"}'
    bare=$(json_get data.id)
    is "$(json_get data.models):$(json_get data.subnet):$(json_get data.expired_time)" "null::-1" \
        "$ws: a bare token: models null, subnet '', expired_time -1"
    isnt "$(json_get data.key)" "$key" "$ws: ... gets a key of its own"

    # --- validation -----------------------------------------------------------
    as_root POST /api/token/ '{"name":"0123456789012345678901234567890"}'
    fail_msg "$ws: a 31-byte name is refused" "参数错误：令牌名称过长"
    as_root POST /api/token/ '{"name":"令牌令牌令牌令牌令牌令"}'
    fail_msg "$ws: the limit counts bytes (11 CJK chars = 33 bytes)" "参数错误：令牌名称过长"
    as_root POST /api/token/ '{"name":"012345678901234567890123456789"}'
    is "$(json_get success)" true "$ws: a 30-byte name is accepted"
    as_root POST /api/token/ '{"name":"s","subnet":"10.0.0.0/33"}'
    fail_msg "$ws: an IPv4 prefix over 32 is refused" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: 10.0.0.0/33"
    as_root POST /api/token/ '{"name":"s","subnet":"10.0.0.0/8, bogus"}'
    fail_msg "$ws: a non-CIDR entry is refused (trimmed in the message)" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: bogus"
    as_root POST /api/token/ '{"name":"s","subnet":"10.1.2.3"}'
    fail_msg "$ws: an address without a prefix is refused" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: 10.1.2.3"
    as_root POST /api/token/ '{"name":"s","subnet":"2001:db8::/129"}'
    fail_msg "$ws: an IPv6 prefix over 128 is refused" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: 2001:db8::/129"
    as_root POST /api/token/ '{"name":"s","subnet":"10.0.0.0/8,"}'
    fail_msg "$ws: an empty entry is refused" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: "
    as_root POST /api/token/ '{"name":"s","subnet":"::1/128,fe80::/10 , 0.0.0.0/0"}'
    is "$(json_get success)" true "$ws: IPv6 and /0 prefixes are accepted"
    as_root POST /api/token/ '{"name":5}'
    fail_msg "$ws: a name that is not a string is refused" "invalid parameter"
    as_root POST /api/token/ '[1,2]'
    fail_msg "$ws: a body that is not an object is refused" "invalid parameter"
    as_root POST /api/token/ '{"name":'
    is "$OA_STATUS:$(json_get success)" "200:false" "$ws: malformed JSON is One API's 200 envelope"

    # --- get ------------------------------------------------------------------
    as_root GET "/api/token/$tid"
    is "$(json_get success):$(json_get data.key):$(json_get data.name)" "true:$key:ci-bot" \
        "$ws: GET /api/token/:id answers the full token incl. key"
    as_root GET /api/token/abc
    fail_msg "$ws: a non-numeric id" 'strconv.Atoi: parsing "abc": invalid syntax'
    as_root GET /api/token/0
    fail_msg "$ws: id 0" "id 或 userId 为空！"
    as_root GET /api/token/999999
    fail_msg "$ws: an unknown id" "record not found"

    # --- search ---------------------------------------------------------------
    as_root GET '/api/token/search?keyword=page-1'
    is "$(json_len data)" 3 "$ws: search is a name prefix match (page-10, -11, -12)"
    as_root GET '/api/token/search?keyword=ci-'
    is "$(json_get data.0.key)" "$key" "$ws: ... with full objects"
    as_root GET '/api/token/search?keyword=nothing-like-this'
    is "$(json_get data)" "[]" "$ws: no match is []"

    # --- order ----------------------------------------------------------------
    as_root POST /api/token/ '{"name":"unlimited","unlimited_quota":true}'
    unl=$(json_get data.id)
    oa_db_query "UPDATE tokens SET used_quota = 777 WHERE id = $bare" >/dev/null
    as_root GET '/api/token/?order=remain_quota'
    is "$(json_get data.0.name):$(json_get data.1.name)" "unlimited:ci-bot" \
        "$ws: order=remain_quota: unlimited first, then by remain_quota"
    as_root GET '/api/token/?order=used_quota'
    is "$(json_get data.0.name)" bare "$ws: order=used_quota: most used first"

    # --- update ---------------------------------------------------------------
    upd="{\"id\":$tid,\"name\":\"renamed\",\"status\":2,\"expired_time\":4102444800,"
    upd+='"remain_quota":7,"unlimited_quota":true,"models":"gpt-4o","subnet":"127.0.0.1/32"}'
    as_root PUT /api/token/ "$upd"
    is "$(json_get success)" true "$ws: PUT /api/token/ succeeds"
    is "$(json_get data.name):$(json_get data.expired_time):$(json_get data.remain_quota)" \
        "renamed:4102444800:7" "$ws: ... name, expired_time, remain_quota replaced"
    is "$(json_get data.unlimited_quota):$(json_get data.models):$(json_get data.subnet)" \
        "true:gpt-4o:127.0.0.1/32" "$ws: ... unlimited_quota, models, subnet replaced"
    is "$(json_get data.status):$(json_get data.key)" "1:$key" \
        "$ws: ... status and key kept (status changes only with status_only)"
    as_root PUT /api/token/ "{\"id\":$tid,\"name\":\"zeroed\"}"
    is "$(json_get data.expired_time):$(json_get data.remain_quota):$(json_get data.unlimited_quota):$(json_get data.models)" \
        "0:0:false:null" "$ws: ... absent fields are written as zero values"
    as_root PUT '/api/token/?status_only=true' "{\"id\":$tid,\"status\":2,\"name\":\"ignored\"}"
    is "$(json_get success):$(json_get data.status):$(json_get data.name)" "true:2:zeroed" \
        "$ws: status_only changes the status only"
    as_root PUT '/api/token/?status_only=1' "{\"id\":$tid}"
    fail_msg "$ws: status_only without a status is refused" "invalid parameter"
    as_root PUT /api/token/ "{\"id\":$tid,\"name\":\"0123456789012345678901234567890\"}"
    fail_msg "$ws: update validates the name" "参数错误：令牌名称过长"
    as_root PUT /api/token/ "{\"id\":$tid,\"name\":\"x\",\"subnet\":\"300.0.0.0/8\"}"
    fail_msg "$ws: update validates the subnet" \
        "参数错误：无效的网段：failed to parse subnet: invalid CIDR address: 300.0.0.0/8"
    as_root PUT /api/token/ '{"name":"x"}'
    fail_msg "$ws: update without id" "id 或 userId 为空！"
    as_root PUT /api/token/ '{"id":999999,"name":"x"}'
    fail_msg "$ws: update of an unknown id" "record not found"

    # The two "cannot enable" rules.
    oa_db_query "UPDATE tokens SET status = 3, expired_time = $((now - 100)) WHERE id = $tid" >/dev/null
    as_root PUT '/api/token/?status_only=true' "{\"id\":$tid,\"status\":1}"
    fail_msg "$ws: an expired token cannot be enabled" \
        "令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期"
    oa_db_query "UPDATE tokens SET status = 3, expired_time = -1 WHERE id = $tid" >/dev/null
    as_root PUT '/api/token/?status_only=true' "{\"id\":$tid,\"status\":1}"
    is "$(json_get success):$(json_get data.status)" "true:1" \
        "$ws: status 3 with expired_time -1 can be enabled"
    oa_db_query "UPDATE tokens SET status = 4, remain_quota = 0, unlimited_quota = false WHERE id = $tid" >/dev/null
    as_root PUT '/api/token/?status_only=true' "{\"id\":$tid,\"status\":1}"
    fail_msg "$ws: an exhausted token cannot be enabled" \
        "令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度"
    oa_db_query "UPDATE tokens SET unlimited_quota = true WHERE id = $tid" >/dev/null
    as_root PUT '/api/token/?status_only=true' "{\"id\":$tid,\"status\":1}"
    is "$(json_get success):$(json_get data.status)" "true:1" \
        "$ws: an exhausted but unlimited token can be enabled"

    # --- ownership: another user's tokens are invisible -----------------------
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('bob', 'x', 'Bob', 1, 1, '$BOB_AT', 0, 'default')" >/dev/null
    as_bob POST /api/token/ '{"name":"bobs"}'
    is "$(json_get success):$(json_get data.user_id)" "true:2" "$ws: a second user creates a token"
    bobs=$(json_get data.id)
    as_bob GET /api/token/
    is "$(json_len data):$(json_get data.0.name)" "1:bobs" "$ws: ... and lists only his own"
    as_root GET /api/token/
    ok_if "$ws: root's list does not show bob's token" bash -c '! grep -q "\"bobs\"" <<<"$1"' _ "$OA_BODY"
    as_root GET '/api/token/search?keyword=bobs'
    is "$(json_get data)" "[]" "$ws: root's search does not find it"
    as_root GET "/api/token/$bobs"
    fail_msg "$ws: root cannot read it" "record not found"
    as_root PUT /api/token/ "{\"id\":$bobs,\"name\":\"stolen\"}"
    fail_msg "$ws: root cannot update it" "record not found"
    as_root DELETE "/api/token/$bobs"
    fail_msg "$ws: root cannot delete it" "record not found"
    as_bob GET "/api/token/$tid"
    fail_msg "$ws: bob cannot read root's token" "record not found"
    as_bob GET "/api/token/$bobs"
    is "$(json_get data.name)" bobs "$ws: bob's token is intact"

    # --- delete ---------------------------------------------------------------
    as_root DELETE "/api/token/$unl"
    is "$OA_STATUS:$(json_get success):$(json_get message)" "200:true:" "$ws: DELETE /api/token/:id succeeds"
    as_root GET "/api/token/$unl"
    fail_msg "$ws: ... the token is gone" "record not found"
    is "$(oa_db_query "SELECT COUNT(*) FROM tokens WHERE id = $unl")" 0 "$ws: ... from the table too"
    as_root DELETE "/api/token/$unl"
    fail_msg "$ws: deleting it again" "record not found"
    as_root DELETE /api/token/abc
    fail_msg "$ws: deleting a non-numeric id" "id 或 userId 为空！"

    # --- quotas at the edges ---------------------------------------------------
    as_root POST /api/token/ '{"name":"neg","remain_quota":-5}'
    fail_msg "$ws: a negative remain_quota is refused" "参数错误：剩余额度不能为负数"
    as_root POST /api/token/ '{"name":"big","remain_quota":9223372036854775807}'
    big=$(json_get data.id)
    big_key=$(json_get data.key)
    is "$(json_get success)" true "$ws: the largest remain_quota is taken"
    as_root PUT /api/token/ "{\"id\":$big,\"name\":\"big\",\"remain_quota\":-1}"
    fail_msg "$ws: an update to a negative remain_quota is refused" "参数错误：剩余额度不能为负数"
    oa_db_query "UPDATE tokens SET used_quota = 1000 WHERE id = $big" >/dev/null
    # remain_quota + used_quota overflows int64: the sum is made in floating point.
    oa_req GET /v1/dashboard/billing/subscription -H "Authorization: Bearer sk-$big_key"
    like "$OA_STATUS|$(json_get hard_limit_usd)" '^200\|18446744073709\.55$' \
        "$ws: the billing route adds remain and used quota without overflow"
    oa_stop
done

done_testing
