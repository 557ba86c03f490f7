#!/usr/bin/env bash
# t0210: sign-up with a password (invitation rewards included), the mailed verification code
# (domain whitelist, taken address), password reset through the mailed link, Turnstile in
# front of them, the switches that close sign-up and password sign-in, binding a verified
# address, the low-quota reminder mail, and that no secret reaches one-api's log.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
# These flows make far more sign-in calls from one address than the strict per-address limit
# allows in production; t0119 tests that limit.
OA_ENV+=(CRITICAL_RATE_LIMIT=0)
mock_start
SECRET="ts-secret-$(rand_name)"
SMTP_TOKEN="smtp-secret-$(rand_name)"

# The SMTP mock (it records every message) and the Turnstile mock (it checks the secret).
SMTP_OUT="$OA_TMP/mail.jsonl"
: >"$SMTP_OUT"
: >"$OA_TMP/smtp.out"
"$OA_PY" "$top_srcdir/tests/mock/smtp_mock.py" --out "$SMTP_OUT" >"$OA_TMP/smtp.out" 2>"$OA_TMP/smtp.err" &
_oa_pids+=("$!")
_oa_logs+=("$OA_TMP/smtp.err")
HTTP_OUT="$OA_TMP/oauth.jsonl"
: >"$HTTP_OUT"
: >"$OA_TMP/oauth.out"
"$OA_PY" "$top_srcdir/tests/mock/oauth_mock.py" --out "$HTTP_OUT" --secret "$SECRET" \
    >"$OA_TMP/oauth.out" 2>"$OA_TMP/oauth.err" &
_oa_pids+=("$!")
_oa_logs+=("$OA_TMP/oauth.err")
wait_for 30 grep -q '^PORT ' "$OA_TMP/smtp.out" || bail_out "the SMTP mock did not start: $(cat "$OA_TMP/smtp.err")"
wait_for 30 grep -q '^PORT ' "$OA_TMP/oauth.out" || bail_out "the HTTP mock did not start: $(cat "$OA_TMP/oauth.err")"
SMTP_PORT=$(sed -n 's/^PORT //p' "$OA_TMP/smtp.out")
SVC="http://127.0.0.1:$(sed -n 's/^PORT //p' "$OA_TMP/oauth.out")"
OA_ENV+=(SMTP_ALLOW_INSECURE=true "TURNSTILE_VERIFY_URL=$SVC/turnstile" MEMORY_CACHE_ENABLED=true
    SYNC_FREQUENCY=1)

# last_mail ADDRESS: "subject|body" of the last message sent to ADDRESS (body: one line).
last_mail() {
    "$OA_PY" - "$1" "$SMTP_OUT" <<'PY'
import email, email.header, json, sys
last = None
for line in open(sys.argv[2], encoding="utf-8"):
    m = json.loads(line)
    if sys.argv[1] in m["rcpt_to"]:
        last = m
if last:
    msg = email.message_from_string(last["data"])
    subj = "".join(s.decode(c or "ascii") if isinstance(s, bytes) else s
                   for s, c in email.header.decode_header(msg["Subject"]))
    print(subj + "|" + msg.get_payload(decode=True).decode("utf-8").replace("\n", " "))
PY
}
n_mails() { wc -l <"$SMTP_OUT"; }
# sync_options: wait until one-api has re-read the options table (a fresh Notice shows).
sync_options() {
    local mark
    mark="sync-$(rand_name)"
    oa_set_option Notice "$mark"
    wait_for 10 _notice_is "$mark" || diag "the options were not re-read"
}
_notice_is() { oa_req GET /api/notice; [[ $(json_get data) == "$1" ]]; }
opt() { oa_set_option "$1" "$2"; }
register() { oa_post_json "/api/user/register${2:-}" "$1" "${@:3}"; }
login_ok() {
    oa_post_json /api/user/login "{\"username\":\"$1\",\"password\":\"$2\"}"
    [[ $(json_get success) == true ]]
}
login_fails() { ! login_ok "$@"; }
msg() { json_fields success message; }

for ws in $(oa_webservers); do
    oa_db_init
    opt SMTPServer 127.0.0.1
    opt SMTPPort "$SMTP_PORT"
    opt SMTPAccount mailer
    opt SMTPToken "$SMTP_TOKEN"
    opt SMTPFrom noreply@example.com
    opt SystemName "One API Test"
    opt ServerAddress http://oa.example
    opt DisplayInCurrencyEnabled false
    opt QuotaForNewUser 100
    opt QuotaForInviter 30
    opt QuotaForInvitee 20
    OA_KEEP_DB=1 oa_start "$ws" || continue
    : >"$SMTP_OUT"

    # --- sign-up without verification ---------------------------------------------------
    register '{"username":"alice","password":"alice-pass-1"}'
    is "$OA_STATUS|$(msg)" "200|true|" "$ws: register alice"
    ok_if "$ws: ... alice signs in with her password" login_ok alice alice-pass-1
    is "$(oa_db_query "SELECT display_name || '/' || quota || '/' || role || '/' || email FROM users WHERE username = 'alice'")" \
        "alice/100/1/" "$ws: ... display name = username, QuotaForNewUser, common user, no e-mail"
    register '{"username":"alice","password":"another-pass"}'
    is "$(msg)" "false|用户名已被占用" "$ws: a taken username is refused clearly"
    register '{"username":"bob","password":"short"}'
    is "$(msg)" "false|Invalid input, please check your input" "$ws: a short password is invalid input"
    register '{"username":"bob","password":"short"}' "" -H 'Accept-Language: zh-CN'
    is "$(msg)" "false|无效的输入，请检查您的输入" "$ws: ... localised"
    register '{"username":"waytoolongname1","password":"long-enough"}'
    is "$(msg)" "false|Invalid input, please check your input" "$ws: a username over 12 bytes is invalid input"
    register '{"username":5}'
    is "$(msg)" "false|invalid parameter" "$ws: a wrongly typed body is invalid parameter"

    # --- invitations ----------------------------------------------------------------------
    aff=$(oa_db_query "SELECT aff_code FROM users WHERE username = 'alice'")
    alice=$(oa_db_query "SELECT id FROM users WHERE username = 'alice'")
    register "{\"username\":\"bob\",\"password\":\"bob-pass-12\",\"aff_code\":\"$aff\"}"
    is "$(msg)" "true|" "$ws: bob registers with alice's invitation code"
    is "$(oa_db_query "SELECT quota || '/' || inviter_id FROM users WHERE username = 'bob'")" \
        "120/$alice" "$ws: ... bob has QuotaForNewUser + QuotaForInvitee and alice as inviter"
    is "$(oa_db_query "SELECT quota FROM users WHERE id = $alice")" 130 \
        "$ws: ... alice got QuotaForInviter"
    is "$(oa_db_query "SELECT l.type || ':' || l.content FROM logs l JOIN users u ON u.id = l.user_id WHERE u.username = 'bob' ORDER BY l.id")" \
        "4:新用户注册赠送 100 点额度
4:使用邀请码赠送 20 点额度" "$ws: ... bob's system log rows"
    is "$(oa_db_query "SELECT type || ':' || content FROM logs WHERE user_id = $alice AND content LIKE '邀请%'")" \
        "4:邀请用户赠送 30 点额度" "$ws: ... alice's log row"
    register '{"username":"cid","password":"cid-pass-123","aff_code":"zzzz"}'
    is "$(msg)|$(oa_db_query "SELECT quota || '/' || inviter_id FROM users WHERE username = 'cid'")" \
        "true||100/0" "$ws: an unknown invitation code is ignored"

    # --- the switches ------------------------------------------------------------------------
    opt RegisterEnabled false
    sync_options
    register '{"username":"dan","password":"dan-pass-123"}'
    is "$(msg)" "false|管理员关闭了新用户注册" "$ws: RegisterEnabled=false closes sign-up"
    opt RegisterEnabled true
    opt PasswordRegisterEnabled false
    opt PasswordLoginEnabled false
    sync_options
    register '{"username":"dan","password":"dan-pass-123"}'
    is "$(msg)" "false|管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册" \
        "$ws: PasswordRegisterEnabled=false closes password sign-up"
    oa_post_json /api/user/login '{"username":"alice","password":"alice-pass-1"}'
    is "$(msg)" "false|管理员关闭了密码登录" "$ws: PasswordLoginEnabled=false closes password sign-in"
    opt PasswordRegisterEnabled true
    opt PasswordLoginEnabled true

    # --- e-mail verification -----------------------------------------------------------------
    opt EmailVerificationEnabled true
    opt EmailDomainRestrictionEnabled true
    opt EmailDomainWhitelist "example.com,example.org"
    sync_options
    register '{"username":"carol","password":"carol-pass-1"}'
    is "$(msg)" "false|管理员开启了邮箱验证，请输入邮箱地址和验证码" "$ws: verification on: e-mail and code required"
    oa_req GET "/api/verification?email=carol@elsewhere.net"
    is "$(msg)" "false|管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中" \
        "$ws: an address outside the whitelist gets no code"
    oa_req GET "/api/verification?email=not-an-address"
    is "$(msg)" "false|invalid parameter" "$ws: a malformed address is invalid parameter"
    oa_req GET "/api/verification?email=carol@example.com"
    is "$(msg)" "true|" "$ws: a code is mailed to carol@example.com"
    IFS='|' read -r subj body <<<"$(last_mail carol@example.com)"
    is "$subj" "One API Test 邮箱验证邮件" "$ws: ... subject <SystemName> 邮箱验证邮件"
    code=$(sed -n 's/.*<strong>\([0-9a-f]\{6\}\)<\/strong>.*/\1/p' <<<"$body")
    like "$code" '^[0-9a-f]{6}$' "$ws: ... the mail holds a 6-character code"
    like "$body" '10 分钟内有效' "$ws: ... valid for 10 minutes"
    wrong=$( [[ $code == 000000 ]] && echo 111111 || echo 000000 )
    register "{\"username\":\"carol\",\"password\":\"carol-pass-1\",\"email\":\"carol@example.com\",\"verification_code\":\"$wrong\"}"
    is "$(msg)" "false|验证码错误或已过期" "$ws: a wrong code is refused"
    register "{\"username\":\"carol\",\"password\":\"carol-pass-1\",\"email\":\"other@example.com\",\"verification_code\":\"$code\"}"
    is "$(msg)" "false|验证码错误或已过期" "$ws: carol's code does not verify another address"
    register "{\"username\":\"carol\",\"password\":\"carol-pass-1\",\"email\":\"carol@example.com\",\"verification_code\":\"$code\"}"
    is "$(msg)" "true|" "$ws: carol registers with the mailed code"
    is "$(oa_db_query "SELECT email FROM users WHERE username = 'carol'")" carol@example.com \
        "$ws: ... her address is stored"
    oa_req GET "/api/verification?email=carol@example.com"
    is "$(msg)" "false|邮箱地址已被占用" "$ws: a taken address gets no code"

    # --- binding a verified address -------------------------------------------------------
    jar="$OA_RUN/alice.jar"
    oa_post_json /api/user/login '{"username":"alice","password":"alice-pass-1"}' -c "$jar"
    oa_req GET "/api/verification?email=alice@example.org"
    IFS='|' read -r subj body <<<"$(last_mail alice@example.org)"
    acode=$(sed -n 's/.*<strong>\([0-9a-f]\{6\}\)<\/strong>.*/\1/p' <<<"$body")
    oa_req GET "/api/oauth/email/bind?email=alice@example.org&code=$wrong" -b "$jar"
    is "$(msg)" "false|验证码错误或已过期" "$ws: email bind with a wrong code is refused"
    oa_req GET "/api/oauth/email/bind?email=alice@example.org&code=$acode"
    is "$OA_STATUS|$(json_get success)" "401|false" "$ws: email bind needs a signed-in user"
    oa_req GET "/api/oauth/email/bind?email=alice@example.org&code=$acode" -b "$jar"
    is "$(msg)|$(oa_db_query "SELECT email FROM users WHERE id = $alice")" "true||alice@example.org" \
        "$ws: email bind with the mailed code sets alice's address"

    # --- password reset ----------------------------------------------------------------------
    oa_req GET "/api/reset_password?email=nobody@example.com"
    is "$(msg)" "false|该邮箱地址未注册" "$ws: reset for an unknown address is refused"
    oa_req GET "/api/reset_password?email=carol@example.com"
    is "$(msg)" "true|" "$ws: a reset link is mailed to carol"
    IFS='|' read -r subj body <<<"$(last_mail carol@example.com)"
    is "$subj" "One API Test 密码重置" "$ws: ... subject <SystemName> 密码重置"
    link=$("$OA_PY" -c 'import html, re, sys
m = re.search(r"href=\"([^\"]+)\"", sys.argv[1]); print(html.unescape(m.group(1)) if m else "")' "$body")
    like "$link" '^http://oa\.example/user/reset\?email=carol%40example\.com&token=[0-9a-f]{32}$' \
        "$ws: ... the link is <ServerAddress>/user/reset?email=&token= with a 32-hex token"
    token=${link##*token=}
    oa_post_json /api/user/reset '{"email":"carol@example.com","token":"0123456789abcdef0123456789abcdef"}'
    is "$(msg)" "false|重置链接非法或已过期" "$ws: a wrong token is refused"
    oa_post_json /api/user/reset "{\"email\":\"carol@example.com\"}"
    is "$(msg)" "false|invalid parameter" "$ws: a missing token is invalid parameter"
    oa_post_json /api/user/reset "{\"email\":\"carol@example.com\",\"token\":\"$token\"}"
    newpw=$(json_get data)
    is "$(json_get success)" true "$ws: the mailed token resets the password"
    like "$newpw" '^[0-9a-f]{12}$' "$ws: ... data is the new 12-hex password"
    ok_if "$ws: ... carol signs in with the new password" login_ok carol "$newpw"
    ok_if "$ws: ... and no longer with the old one" login_fails carol carol-pass-1
    oa_post_json /api/user/reset "{\"email\":\"carol@example.com\",\"token\":\"$token\"}"
    is "$(msg)" "false|重置链接非法或已过期" "$ws: the link is refused a second time"

    # --- a mail that cannot be sent ---------------------------------------------------------
    opt SMTPPort "$(free_port)"
    sync_options
    oa_req GET "/api/reset_password?email=carol@example.com"
    like "$(msg)" '^false\|failed to send email: .+' "$ws: a send failure is reported"
    oa_req GET "/api/reset_password?email=carol@example.com" -H 'Accept-Language: zh-CN,zh'
    like "$(msg)" '^false\|发送邮件失败：.+' "$ws: ... localised"
    opt SMTPPort "$SMTP_PORT"

    # --- Turnstile ----------------------------------------------------------------------------
    opt EmailVerificationEnabled false
    opt TurnstileCheckEnabled true
    opt TurnstileSiteKey site-key
    opt TurnstileSecretKey "$SECRET"
    sync_options
    tjar="$OA_RUN/ts.jar"
    register '{"username":"erin","password":"erin-pass-12"}'
    is "$(msg)" "false|Turnstile token 为空" "$ws: Turnstile on: no token"
    : >"$HTTP_OUT"
    register '{"username":"erin","password":"erin-pass-12"}' "?turnstile=bad-token" -c "$tjar"
    is "$(msg)" "false|Turnstile 校验失败，请刷新重试！" "$ws: a token the service rejects"
    register '{"username":"erin","password":"erin-pass-12"}' "?turnstile=good-token" -c "$tjar"
    is "$(msg)" "true|" "$ws: a token the service accepts lets erin register"
    is "$(tail -n 1 "$HTTP_OUT" | JSON_DOC=$(cat) json_fields method path headers.Content-Type body)" \
        "POST|/turnstile|application/x-www-form-urlencoded|secret=$SECRET&response=good-token&remoteip=127.0.0.1" \
        "$ws: ... one-api posted the secret, the token and the address as a form"
    like "$(grep -i '^set-cookie: oa_turnstile=' <<<"$OA_HEADERS")" 'HttpOnly' "$ws: ... the pass is an HttpOnly cookie"
    n=$(wc -l <"$HTTP_OUT")
    register '{"username":"fay","password":"fay-pass-123"}' "" -b "$tjar"
    is "$(msg)" "true|" "$ws: the same browser passes without a new token"
    is "$(wc -l <"$HTTP_OUT")" "$n" "$ws: ... and the service is not asked again"
    register '{"username":"gus","password":"gus-pass-123"}' "" -b "oa_turnstile=MXw5OTk5OTk5OTk5.AAAA"
    is "$(msg)" "false|Turnstile token 为空" "$ws: a forged pass cookie does not count"
    opt TurnstileCheckEnabled false
    sync_options

    # --- no secret in the log ---------------------------------------------------------------
    logs=$(cat "$OA_RUN"/logs/* "$OA_RUN/one-api.out" 2>/dev/null)
    leaked=""
    for s in "$SMTP_TOKEN" "$SECRET" "$code" "$acode" "$token" "$newpw" good-token carol-pass-1; do
        [[ $logs == *"$s"* ]] && leaked+=" $s"
    done
    is "$leaked" "" "$ws: no SMTP token, Turnstile secret, code, reset token or password in the log"
    oa_stop
done

# --- the low-quota reminder -------------------------------------------------------------------
ws=$(oa_webservers)
ws=${ws%% *}
oa_db_init
opt SMTPServer 127.0.0.1
opt SMTPPort "$SMTP_PORT"
opt SMTPFrom noreply@example.com
opt ServerAddress http://oa.example
opt QuotaRemindThreshold 1000
mock_reset
OA_KEEP_DB=1 oa_start "$ws" || exit 1
oa_add_channel "{\"type\":1,\"name\":\"m\",\"key\":\"k-m\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\"}"
register '{"username":"hal","password":"hal-pass-123"}'
UAT="at-$(rand_name)$(rand_name)"
oa_db_query "UPDATE users SET quota = 1050, email = 'hal@example.com', access_token = '$UAT' WHERE username = 'hal'" >/dev/null
oa_db_query "UPDATE users SET email = 'root@example.com' WHERE id = 1" >/dev/null
oa_add_token '{"name":"k","unlimited_quota":true}' "$UAT"
: >"$SMTP_OUT"
oa_relay /v1/chat/completions "$TOK_KEY" '{"model":"gpt-4o-mini","max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}'
is "$OA_STATUS" 200 "reminder: hal's chat goes through"
wait_for 10 grep -q 'hal@example.com' "$SMTP_OUT" || diag "no reminder mail arrived"
IFS='|' read -r subj body <<<"$(last_mail hal@example.com)"
is "$subj" "额度提醒" "reminder: hal gets 额度提醒 when a reservation takes him below QuotaRemindThreshold"
like "$body" '您的额度即将用尽，当前剩余额度为 1050' "reminder: ... almost used up, with the quota before"
like "$body" 'http://oa\.example/topup' "reminder: ... and the top-up link"
ok_if "reminder: root gets no copy" bash -c '! grep -q "root@example.com" "$1"' _ "$SMTP_OUT"
n=$(n_mails)
oa_relay /v1/chat/completions "$TOK_KEY" '{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}'
sleep 0.5
is "$(n_mails)" "$n" "reminder: a reservation that stays above the threshold mails nothing"
oa_stop

# --- a code mailed by the server checks in another process (plain CGI) ----------------------
opt EmailVerificationEnabled true
OA_KEEP_DB=1 oa_start "$ws" || exit 1
oa_req GET "/api/verification?email=ivy@example.com"
IFS='|' read -r subj body <<<"$(last_mail ivy@example.com)"
icode=$(sed -n 's/.*<strong>\([0-9a-f]\{6\}\)<\/strong>.*/\1/p' <<<"$body")
oa_stop
printf '{"username":"ivy","password":"ivy-pass-123","email":"ivy@example.com","verification_code":"%s"}' \
    "$icode" >"$OA_TMP/ivy.json"
env "${OA_DB_ENV[@]}" "${OA_ENV[@]}" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
    REQUEST_METHOD=POST REQUEST_URI=/api/user/register SCRIPT_NAME=/one-api.cgi \
    PATH_INFO=/api/user/register QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
    CONTENT_TYPE=application/json CONTENT_LENGTH="$(wc -c <"$OA_TMP/ivy.json")" \
    timeout 30 "$ONEAPI_BIN" --log-dir "$OA_TMP" <"$OA_TMP/ivy.json" >"$OA_TMP/cgi.out" 2>>"$OA_TMP/cgi.err"
cgi_split "$OA_TMP/cgi.out"
is "$(msg)|$(oa_db_query "SELECT email FROM users WHERE username = 'ivy'")" "true||ivy@example.com" \
    "a code mailed by the FastCGI server registers ivy through a plain CGI process"
done_testing
