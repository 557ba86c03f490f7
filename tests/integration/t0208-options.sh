#!/usr/bin/env bash
# t0208: the options (/api/option) and groups (/api/group): root only, no secret listed, the
# write checks with their messages (a bad ratio table changes nothing, stored or live), values
# sent as numbers or booleans, the one HTTP 400 of /api; and a saved option applying in
# another process on the same database within OPTIONS_REFRESH, prices included.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start
BOB_AT="bob0$(rand_name)$(rand_name)$(rand_name)"
BOB_AT=${BOB_AT:0:32}
ADA_AT="ada0$(rand_name)$(rand_name)$(rand_name)"
ADA_AT=${ADA_AT:0:32}
FORBIDDEN="无权进行此操作，权限不足"
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
OA_ENV+=(OPTIONS_REFRESH=1)

# put BODY [AT]: PUT /api/option/ with BODY (raw) as root or the owner of AT.
put() {
    oa_req PUT /api/option/ -H "Authorization: Bearer ${2:-$ROOT_AT}" \
        -H 'Content-Type: application/json' --data-binary "$1"
}
# set_opt KEY VALUE_JSON: put {"key":KEY,"value":VALUE_JSON}.
set_opt() { put "{\"key\":\"$1\",\"value\":$2}"; }
fail_msg() { is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:$2" "$1"; }
ok_put() { is "$OA_STATUS:$(json_get success)" "200:true" "$1"; }
stored() { oa_db_query "SELECT value FROM options WHERE \"key\" = '$1'"; }
# option_value KEY: the value GET /api/option/ lists for KEY ("<absent>" when not listed).
option_value() {
    "$OA_PY" -c 'import json, sys
d = {o["key"]: o["value"] for o in json.load(sys.stdin)["data"]}
print(d.get(sys.argv[1], "<absent>"))' "$1" <<<"$OA_BODY"
}
groups() {
    "$OA_PY" -c 'import json, sys; print(",".join(sorted(json.load(sys.stdin)["data"])))' <<<"$OA_BODY"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('bob', 'x', 'Bob', 1, 1, '$BOB_AT', 0, 'default')" >/dev/null
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('ada', 'x', 'Ada', 10, 1, '$ADA_AT', 0, 'default')" >/dev/null

    # --- GET ------------------------------------------------------------------------------
    oa_admin GET /api/option/
    is "$OA_STATUS:$(json_get success)" "200:true" "$ws: GET /api/option/ as root"
    is "$(option_value SystemName)|$(option_value QuotaPerUnit)|$(option_value GroupRatio)" \
        'One API|500000|{"default":1,"vip":1,"svip":1}' "$ws: ... lists the defaults"
    mr=$(option_value ModelRatio)
    like "$mr" '^\{.*"gpt-4o-mini":0\.075' "$ws: ... ModelRatio is the built-in table when none is stored"
    like "$(option_value CompletionRatio)" '^\{.*\}$' "$ws: ... and so is CompletionRatio"
    for k in SMTPToken GitHubClientSecret WeChatServerToken MessagePusherToken LarkClientSecret TurnstileSecretKey OidcClientSecret; do
        set_opt "$k" "\"s3cret-$k\""
        ok_put "$ws: PUT $k"
    done
    set_opt MyOwnKey '"kept"'
    ok_put "$ws: an unknown key is accepted"
    is "$(stored MyOwnKey)" kept "$ws: ... and stored"
    oa_admin GET /api/option/
    is "$(option_value MyOwnKey)" kept "$ws: ... and listed"
    leaked=""
    for k in SMTPToken GitHubClientSecret WeChatServerToken MessagePusherToken LarkClientSecret TurnstileSecretKey OidcClientSecret; do
        [[ $OA_BODY == *"$k"* || $OA_BODY == *"s3cret-$k"* ]] && leaked+="$k "
    done
    is "$leaked" "" "$ws: no secret (key or value) is listed while set"
    is "$(stored TurnstileSecretKey)" s3cret-TurnstileSecretKey "$ws: ... though they are stored"

    # --- who may --------------------------------------------------------------------------
    oa_req GET /api/option/ -H "Authorization: Bearer $ADA_AT"
    fail_msg "$ws: an admin (role 10) on GET /api/option/" "$FORBIDDEN"
    put '{"key":"SystemName","value":"ada"}' "$ADA_AT"
    fail_msg "$ws: an admin (role 10) on PUT /api/option/" "$FORBIDDEN"
    is "$(stored SystemName)" "" "$ws: ... nothing stored"
    oa_req GET /api/group/ -H "Authorization: Bearer $BOB_AT"
    fail_msg "$ws: a common user on GET /api/group/" "$FORBIDDEN"
    oa_req GET /api/group/ -H "Authorization: Bearer $ADA_AT"
    is "$OA_STATUS:$(json_get success):$(groups)" "200:true:default,svip,vip" "$ws: GET /api/group/: the keys of GroupRatio"

    # --- malformed bodies: HTTP 400 -------------------------------------------------------
    for body in '{bad' '[1]' '' '{"key":1,"value":"x"}' '{"value":"x"}' '{"key":"Logo","value":{"a":1}}'; do
        put "$body"
        is "$OA_STATUS:$(json_get success):$(json_get message)" "400:false:invalid parameter" \
            "$ws: PUT body '$body': 400 invalid parameter"
    done
    oa_req PUT /api/option/ -H "Authorization: Bearer $ROOT_AT" -H 'Accept-Language: zh-CN' \
        -H 'Content-Type: application/json' --data-binary '{bad'
    is "$OA_STATUS:$(json_get message)" "400:无效的参数" "$ws: ... in Chinese for a Chinese client"

    # --- values: strings, numbers, booleans -------------------------------------------------
    set_opt RetryTimes 3
    ok_put "$ws: a number value"
    is "$(stored RetryTimes)" 3 "$ws: ... stored as its text"
    set_opt QuotaPerUnit 250000.5
    ok_put "$ws: a fractional number value"
    is "$(stored QuotaPerUnit)" 250000.5 "$ws: ... stored as written"
    oa_req GET /api/status
    is "$(json_get data.quota_per_unit)" 250000.5 "$ws: ... and applied at once"
    set_opt QuotaPerUnit '"500000"'
    set_opt LogConsumeEnabled false
    ok_put "$ws: a boolean value"
    is "$(stored LogConsumeEnabled)" false "$ws: ... stored as false"
    set_opt LogConsumeEnabled '"true"'

    # --- checks and their messages ----------------------------------------------------------
    set_opt GitHubOAuthEnabled '"true"'
    fail_msg "$ws: GitHub OAuth without a client id" "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"
    is "$(stored GitHubOAuthEnabled)" "" "$ws: ... not stored"
    set_opt EmailDomainWhitelist '""'
    set_opt EmailDomainRestrictionEnabled '"true"'
    fail_msg "$ws: domain restriction with an empty list" "无法启用邮箱域名限制，请先填入限制的邮箱域名！"
    set_opt WeChatAuthEnabled '"true"'
    fail_msg "$ws: WeChat login without its server" "无法启用微信登录，请先填入微信登录相关配置信息！"
    set_opt TurnstileCheckEnabled '"true"'
    fail_msg "$ws: Turnstile without a site key" "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"
    set_opt TurnstileSiteKey '"site"'
    set_opt TurnstileCheckEnabled '"true"'
    ok_put "$ws: Turnstile once the site key is set"
    oa_req GET /api/status
    is "$(json_get data.turnstile_check)" true "$ws: ... and /api/status shows it at once"
    set_opt GitHubOAuthEnabled '"false"'
    ok_put "$ws: turning a switch off needs nothing"
    set_opt Theme '"neon"'
    fail_msg "$ws: an unknown theme" "无效的主题"
    set_opt Theme '"air"'
    ok_put "$ws: a known theme"
    set_opt RegisterEnabled '"yes"'
    fail_msg "$ws: a switch takes only true or false" 'RegisterEnabled must be "true" or "false"'
    set_opt QuotaForNewUser '"abc"'
    fail_msg "$ws: a count must be a number" "QuotaForNewUser must be a whole number >= 0"
    set_opt PreConsumedQuota '"-5"'
    fail_msg "$ws: ... not a negative one" "PreConsumedQuota must be a whole number >= 0"
    set_opt QuotaPerUnit '"0"'
    fail_msg "$ws: QuotaPerUnit must be > 0" "QuotaPerUnit must be a number > 0"

    # --- the public routes read what was saved, at once ------------------------------------
    for pair in Notice:/api/notice About:/api/about HomePageContent:/api/home_page_content; do
        set_opt "${pair%%:*}" "\"<b>${pair%%:*} text</b>\""
        oa_req GET "${pair#*:}"
        is "$OA_STATUS:$(json_get success):$(json_get data)" "200:true:<b>${pair%%:*} text</b>" \
            "$ws: GET ${pair#*:} serves option ${pair%%:*}"
    done
    oa_req GET /api/status
    is "$("$OA_PY" -c 'import json, sys; print(",".join(sorted(json.load(sys.stdin)["data"])))' <<<"$OA_BODY")" \
        "chat_link,display_in_currency,email_verification,footer_html,github_client_id,github_oauth,lark_client_id,logo,oidc,oidc_authorization_endpoint,oidc_client_id,oidc_token_endpoint,oidc_userinfo_endpoint,oidc_well_known,quota_per_unit,server_address,start_time,system_name,top_up_link,turnstile_check,turnstile_site_key,version,wechat_login,wechat_qrcode" \
        "$ws: /api/status has every field of One API's"

    # --- ratio tables: checked before anything is saved ---------------------------------------
    set_opt GroupRatio '"{\"default\":1,\"vip\":2,\"gold\":3}"'
    ok_put "$ws: a new GroupRatio"
    oa_req GET /api/group/ -H "Authorization: Bearer $ADA_AT"
    is "$(groups)" "default,gold,vip" "$ws: ... the group list follows at once"
    set_opt GroupRatio '"{\"default\":1,"'
    like "$(json_get success):$(json_get message)" '^false:GroupRatio' "$ws: GroupRatio that is not JSON is refused"
    set_opt GroupRatio '"{\"default\":\"x\"}"'
    like "$(json_get success):$(json_get message)" '^false:GroupRatio' "$ws: GroupRatio with a non-number is refused"
    set_opt ModelRatio '"{\"gpt-4o-mini\":-1}"'
    like "$(json_get success):$(json_get message)" '^false:ModelRatio' "$ws: a negative ratio is refused"
    set_opt CompletionRatio '"[1,2]"'
    like "$(json_get success):$(json_get message)" '^false:CompletionRatio' "$ws: a ratio table must be an object"
    is "$(stored GroupRatio)|$(stored ModelRatio)|$(stored CompletionRatio)" '{"default":1,"vip":2,"gold":3}||' \
        "$ws: refused tables leave the stored rows as they were"
    oa_req GET /api/group/ -H "Authorization: Bearer $ADA_AT"
    is "$(groups)" "default,gold,vip" "$ws: ... and the live table too"
    oa_stop
done

# --- another process on the same database ----------------------------------------------------
# Two one-api processes (A and B, each behind its own web server) share one database: what A
# saves, B applies within OPTIONS_REFRESH (1 s here), the relay's prices included.
ws=$(oa_webservers | cut -d' ' -f1)
oa_db_init
if OA_KEEP_DB=1 oa_start "$ws"; then
    A_URL=$OA_URL A_WS_PID=$OA_WS_PID A_APP_PID=$OA_APP_PID A_RUN=$OA_RUN A_WS=$OA_WS
    if OA_KEEP_DB=1 oa_start "$ws"; then
        B_URL=$OA_URL
        on_a() { OA_URL=$A_URL; "$@"; OA_URL=$B_URL; }
        oa_add_channel "{\"type\":1,\"name\":\"m\",\"key\":\"k-m\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\"}"
        relay_bill_start
        oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
        is "$OA_STATUS" 200 "two processes: B relays"
        relay_bill "two processes: B bills the built-in ratio" 0.075 4
        on_a set_opt CompletionRatio '"{\"gpt-4o-mini\":2}"'
        on_a set_opt ModelRatio '"{\"gpt-4o-mini\":10}"'
        on_a set_opt SystemName '"Saved on A"'
        seen=""
        for _ in $(seq 50); do
            oa_req GET /api/status
            seen=$(json_get data.system_name)
            [[ $seen == "Saved on A" ]] && break
            sleep 0.1
        done
        is "$seen" "Saved on A" "two processes: an option saved on A shows on B"
        sleep 0.3 # the prices are applied right after the options, in the same pass
        oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
        relay_bill "two processes: B bills A's new ModelRatio and CompletionRatio" 10 2
        on_a set_opt ModelRatio '"{\"gpt-4o-mini\":"'
        like "$(json_get success):$(json_get message)" '^false:ModelRatio' "two processes: A refuses a broken ModelRatio"
        is "$(stored ModelRatio)" '{"gpt-4o-mini":10}' "two processes: ... its stored row is unchanged"
        sleep 1.5
        oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
        relay_bill "two processes: B still bills the last good ModelRatio" 10 2
        OA_URL=$A_URL
        oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
        relay_bill "two processes: so does A" 10 2
        oa_stop
    fi
    OA_URL=$A_URL OA_WS_PID=$A_WS_PID OA_APP_PID=$A_APP_PID OA_RUN=$A_RUN OA_WS=$A_WS
    oa_stop
fi
done_testing
