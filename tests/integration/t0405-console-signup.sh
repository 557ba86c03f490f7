#!/usr/bin/env bash
# t0405: the console's sign-up, mailed code, password reset, GitHub/Feishu/WeChat sign-in and
# chat pages: each form's success and refusals with the /api messages, the invitation code kept
# through the form, the Turnstile widget and its CSP origin only where shown, the OAuth state
# set by the start pages and checked by the landing pages (sign-in, binding, refusals), CSRF
# refusals that change nothing, and valid HTML on every page.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
# Many sign-up and sign-in calls from one address: t0119 tests the per-address limit.
OA_ENV+=(CRITICAL_RATE_LIMIT=0)
SECRET="p-secret-$(rand_name)"
SMTP_TOKEN="smtp-secret-$(rand_name)"

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
OA_ENV+=(SMTP_ALLOW_INSECURE=true "TURNSTILE_VERIFY_URL=$SVC/turnstile"
    "GITHUB_OAUTH_TOKEN_URL=$SVC/github/token" "GITHUB_USER_URL=$SVC/github/user"
    "LARK_OAUTH_TOKEN_URL=$SVC/lark/token" "LARK_USER_INFO_URL=$SVC/lark/user"
    MEMORY_CACHE_ENABLED=true SYNC_FREQUENCY=1)

# last_mail ADDRESS: the body (one line) of the last message sent to ADDRESS.
last_mail() {
    "$OA_PY" - "$1" "$SMTP_OUT" <<'PY'
import email, json, sys
last = None
for line in open(sys.argv[2], encoding="utf-8"):
    m = json.loads(line)
    if sys.argv[1] in m["rcpt_to"]:
        last = m
if last:
    msg = email.message_from_string(last["data"])
    print(msg.get_payload(decode=True).decode("utf-8").replace("\n", " "))
PY
}
n_mails() { wc -l <"$SMTP_OUT"; }
opt() { oa_set_option "$1" "$2"; }
sync_options() {
    local mark
    mark="sync-$(rand_name)"
    oa_set_option Notice "$mark"
    wait_for 10 _notice_is "$mark" || diag "the options were not re-read"
}
_notice_is() { oa_req GET /api/notice; [[ $(json_get data) == "$1" ]]; }
q() { oa_db_query "$1"; }
n_users() { q "SELECT COUNT(*) FROM users"; }
# open JAR PATH: GET PATH in the browser JAR and keep its form's CSRF token in CSRF.
visit() {
    local c
    oa_req GET "$2" -c "$1" -b "$1"
    c=$(page_csrf)
    [[ -z $c ]] || CSRF=$c
}
fresh() { echo "$OA_RUN/fresh-$RANDOM$RANDOM.jar"; }

for ws in $(oa_webservers); do
    oa_db_init
    opt SMTPServer 127.0.0.1
    opt SMTPPort "$SMTP_PORT"
    opt SMTPAccount mailer
    opt SMTPToken "$SMTP_TOKEN"
    opt SMTPFrom noreply@example.com
    opt ServerAddress http://oa.example
    opt GitHubOAuthEnabled true
    opt GitHubClientId gh-client
    opt GitHubClientSecret "$SECRET"
    opt LarkClientId lark-client
    opt LarkClientSecret "$SECRET"
    opt WeChatAuthEnabled true
    opt WeChatServerAddress "$SVC"
    opt WeChatServerToken "$SECRET"
    opt WeChatAccountQRCodeImageURL https://wx.example/qr.png
    OA_KEEP_DB=1 oa_start "$ws" || continue
    : >"$SMTP_OUT"
    a="$OA_RUN/a.jar"

    # --- anonymous pages --------------------------------------------------------------------
    for page in /register /reset "/user/reset?email=x%40example.com&token=abc"; do
        oa_req GET "$page"
        is "$OA_STATUS" 200 "$ws: GET $page is 200 for anyone"
        html_valid "$ws: GET $page is valid HTML"
    done
    oa_req GET /chat
    is "$OA_STATUS|$(header Location)" "303|/login?next=%2Fchat" "$ws: /chat sends anonymous visitors to sign in"

    # --- sign-up ----------------------------------------------------------------------------
    oa_post_json /api/user/register '{"username":"ivy","password":"ivy-pass-123"}'
    aff=$(q "SELECT aff_code FROM users WHERE username = 'ivy'")
    ivy=$(q "SELECT id FROM users WHERE username = 'ivy'")
    visit "$a" "/register?aff=$aff"
    like "$OA_BODY" "name=\"aff\" value=\"$aff\"" "$ws: ?aff= is kept in a hidden field"
    like "$OA_BODY" '<label for="password">' "$ws: ... the form labels its fields"
    unlike_email=$(grep -c 'name="email"' <<<"$OA_BODY")
    is "$unlike_email" 0 "$ws: ... no e-mail field while verification is off"
    users=$(n_users)
    oa_req POST /register -b "$a" --data-urlencode username=mallory --data-urlencode password=mallory-pass-1
    is "$OA_STATUS|$(n_users)" "403|$users" "$ws: a sign-up without a CSRF token is refused and opens nothing"
    oa_req POST /register -b "$a" --data-urlencode csrf=0123456789abcdef0123456789abcdef \
        --data-urlencode username=mallory --data-urlencode password=mallory-pass-1
    is "$OA_STATUS|$(n_users)" "403|$users" "$ws: ... so is one with a wrong token"
    page_post "$a" /register username=pat password=short aff="$aff"
    is "$OA_STATUS" 422 "$ws: a short password shows the form again"
    like "$OA_BODY" 'Invalid input, please check your input' "$ws: ... with the API's message"
    like "$OA_BODY" 'value="pat"' "$ws: ... and the name typed"
    html_valid "$ws: ... valid HTML"
    page_post "$a" /register username=pat password=pat-pass-123 aff="$aff"
    is "$OA_STATUS|$(header Location)" "303|/login" "$ws: a good sign-up goes to the sign-in page"
    is "$(q "SELECT role || '/' || inviter_id FROM users WHERE username = 'pat'")" "1/$ivy" \
        "$ws: ... pat is a common user invited by ivy"
    oa_req GET /login -b "$a" -c "$a"
    like "$OA_BODY" 'flash-ok.*Your account is ready' "$ws: ... the sign-in page says so"
    page_post "$a" /register username=pat password=pat-pass-123
    is "$OA_STATUS" 422 "$ws: a taken name is refused"
    like "$OA_BODY" '用户名已被占用' "$ws: ... with the API's message"

    opt RegisterEnabled false
    sync_options
    visit "$a" /register
    like "$OA_BODY" '管理员关闭了新用户注册' "$ws: RegisterEnabled=false: the page says sign-up is closed"
    is "$(grep -c 'action="/register"' <<<"$OA_BODY")" 0 "$ws: ... and shows no form"
    page_post "$a" /register username=quinn password=quinn-pass-1
    is "$OA_STATUS|$(q "SELECT COUNT(*) FROM users WHERE username = 'quinn'")" "422|0" \
        "$ws: ... a posted form is refused"
    opt RegisterEnabled true

    # --- the mailed code --------------------------------------------------------------------
    opt EmailVerificationEnabled true
    sync_options
    visit "$a" "/register?aff=$aff"
    like "$OA_BODY" 'formaction="/register/code"' "$ws: verification on: a button mails the code"
    html_valid "$ws: ... valid HTML"
    oa_req POST /register/code -b "$a" --data-urlencode email=quinn@example.com
    is "$OA_STATUS|$(n_mails)" "403|0" "$ws: /register/code without a CSRF token mails nothing"
    page_post "$a" /register/code email=not-an-address username=quinn aff="$aff"
    is "$OA_STATUS" 422 "$ws: a malformed address is refused"
    like "$OA_BODY" 'invalid parameter' "$ws: ... with the API's message"
    page_post "$a" /register/code email=quinn@example.com username=quinn aff="$aff"
    is "$OA_STATUS|$(header Location)" "303|/register?email=quinn%40example.com&aff=$aff" \
        "$ws: the code is mailed and the page comes back with the address and invitation"
    code=$(sed -n 's/.*<strong>\([0-9a-f]\{6\}\)<\/strong>.*/\1/p' <<<"$(last_mail quinn@example.com)")
    like "$code" '^[0-9a-f]{6}$' "$ws: ... the mail holds the code"
    visit "$a" "/register?email=quinn%40example.com&aff=$aff"
    like "$OA_BODY" 'value="quinn@example.com"' "$ws: ... the address is filled in"
    like "$OA_BODY" 'verification code is on its way' "$ws: ... with a message"
    wrong=$([[ $code == 000000 ]] && echo 111111 || echo 000000)
    page_post "$a" /register username=quinn password=quinn-pass-1 email=quinn@example.com verification_code=$wrong
    is "$OA_STATUS" 422 "$ws: a wrong code is refused"
    like "$OA_BODY" '验证码错误或已过期' "$ws: ... with the API's message"
    page_post "$a" /register username=quinn password=quinn-pass-1 email=quinn@example.com verification_code=$code
    is "$OA_STATUS|$(q "SELECT email FROM users WHERE username = 'quinn'")" "303|quinn@example.com" \
        "$ws: the mailed code opens the account with its address"
    opt EmailVerificationEnabled false

    # --- password reset ---------------------------------------------------------------------
    visit "$a" /reset
    mails=$(n_mails)
    oa_req POST /reset -b "$a" --data-urlencode email=quinn@example.com
    is "$OA_STATUS|$(n_mails)" "403|$mails" "$ws: /reset without a CSRF token mails nothing"
    page_post "$a" /reset email=nobody@example.com
    is "$OA_STATUS" 422 "$ws: reset for an unknown address is refused"
    like "$OA_BODY" '该邮箱地址未注册' "$ws: ... with the API's message"
    like "$OA_BODY" 'value="nobody@example.com"' "$ws: ... and the address typed"
    page_post "$a" /reset email=quinn@example.com
    is "$OA_STATUS|$(header Location)" "303|/reset" "$ws: a known address gets the link"
    link=$("$OA_PY" -c 'import html, re, sys
m = re.search(r"href=\"([^\"]+)\"", sys.argv[1]); print(html.unescape(m.group(1)) if m else "")' "$(last_mail quinn@example.com)")
    like "$link" '^http://oa\.example/user/reset\?email=quinn%40example\.com&token=[0-9a-f]{32}$' "$ws: ... the mailed link"
    path=${link#http://oa.example}
    token=${link##*token=}
    b="$OA_RUN/b.jar"
    visit "$b" "$path"
    like "$OA_BODY" "name=\"token\" value=\"$token\"" "$ws: the link's page holds the token in its form"
    like "$OA_BODY" 'Reset my password' "$ws: ... behind a button"
    oa_req POST /user/reset -b "$b" --data-urlencode email=quinn@example.com --data-urlencode "token=$token"
    is "$OA_STATUS" 403 "$ws: /user/reset without a CSRF token is refused"
    ok_if "$ws: ... and quinn's password is unchanged" console_login "$OA_RUN/q.jar" quinn quinn-pass-1
    visit "$b" "$path"
    page_post "$b" /user/reset email=quinn@example.com token=0123456789abcdef0123456789abcdef
    is "$OA_STATUS" 422 "$ws: a wrong token is refused"
    like "$OA_BODY" '重置链接非法或已过期' "$ws: ... with the API's message"
    page_post "$b" /user/reset email=quinn@example.com "token=$token"
    is "$OA_STATUS" 200 "$ws: the right token resets the password"
    newpw=$(sed -n 's/.*<code id="new-password">\([0-9a-f]*\)<\/code>.*/\1/p' <<<"$OA_BODY")
    like "$newpw" '^[0-9a-f]{12}$' "$ws: ... and shows the new one"
    is "$(header Cache-Control)" no-store "$ws: ... in an answer no cache keeps"
    html_valid "$ws: ... valid HTML"
    ok_if "$ws: ... quinn signs in with it" console_login "$OA_RUN/q2.jar" quinn "$newpw"
    visit "$b" "$path"
    page_post "$b" /user/reset email=quinn@example.com "token=$token"
    is "$OA_STATUS" 422 "$ws: the link serves once"

    # --- Turnstile ----------------------------------------------------------------------------
    oa_req GET /register
    is "$(grep -c 'cf-turnstile' <<<"$OA_BODY")|$(header Content-Security-Policy | grep -c challenges.cloudflare.com)" \
        "0|0" "$ws: Turnstile off: no widget, no Cloudflare in the CSP"
    opt TurnstileCheckEnabled true
    opt TurnstileSiteKey site-key-1
    opt TurnstileSecretKey "$SECRET"
    sync_options
    t="$OA_RUN/t.jar"
    visit "$t" /register
    like "$OA_BODY" 'class="cf-turnstile" data-sitekey="site-key-1"' "$ws: Turnstile on: the widget shows"
    like "$(header Content-Security-Policy)" "script-src 'self' 'nonce-[^']*' https://challenges.cloudflare.com;" \
        "$ws: ... and the CSP admits Cloudflare's script"
    html_valid "$ws: ... valid HTML"
    oa_req GET /login
    is "$(header Content-Security-Policy | grep -c challenges.cloudflare.com)" 0 "$ws: ... but not on pages without it"
    page_post "$t" /register username=rita password=rita-pass-12
    is "$OA_STATUS" 422 "$ws: a sign-up without the widget's answer is refused"
    like "$OA_BODY" 'Turnstile token 为空' "$ws: ... with the API's message"
    page_post "$t" /register username=rita password=rita-pass-12 cf-turnstile-response=bad-token
    like "$OA_STATUS|$OA_BODY" '^422\|.*Turnstile 校验失败' "$ws: an answer the service rejects is refused"
    page_post "$t" /register username=rita password=rita-pass-12 cf-turnstile-response=good-token
    is "$OA_STATUS|$(q "SELECT COUNT(*) FROM users WHERE username = 'rita'")" "303|1" "$ws: a good answer lets the sign-up through"
    opt TurnstileCheckEnabled false
    sync_options

    # --- GitHub and Feishu --------------------------------------------------------------------
    g="$OA_RUN/g.jar"
    oa_req GET /oauth/github/start -c "$g" -b "$g"
    loc=$(header Location)
    like "$OA_STATUS|$loc" '^303\|https://github\.com/login/oauth/authorize\?client_id=gh-client&state=[0-9A-Za-z]{12}&scope=user:email$' \
        "$ws: /oauth/github/start sends the browser to GitHub with a state"
    state=$(sed 's/.*state=\([0-9A-Za-z]*\).*/\1/' <<<"$loc")
    oa_req GET "/oauth/github?code=octo&state=$state"
    is "$OA_STATUS" 403 "$ws: the state without the browser's cookie is refused"
    like "$OA_BODY" 'state is empty or not same' "$ws: ... on an error page"
    html_valid "$ws: ... valid HTML"
    oa_req GET "/oauth/github?code=octo&state=$state" -c "$g" -b "$g"
    is "$OA_STATUS|$(header Location)" "303|/dashboard" "$ws: GitHub's return signs in and goes to the dashboard"
    like "$(grep -i '^set-cookie: oa_oauth_state=' <<<"$OA_HEADERS")" '^[Ss]et-[Cc]ookie: oa_oauth_state=; .*Max-Age=0' \
        "$ws: ... and clears the state cookie (a state serves once)"
    is "$(q "SELECT COUNT(*) FROM users WHERE github_id = 'octo'")" 1 "$ws: ... opening the account on first sign-in"
    oa_req GET /api/user/self -b "$g"
    is "$(json_get data.github_id)" octo "$ws: ... and the browser is signed in as it"

    l="$(fresh)"
    oa_req GET /oauth/lark/start -c "$l" -b "$l"
    loc=$(header Location)
    like "$loc" '^https://open\.feishu\.cn/open-apis/authen/v1/index\?redirect_uri=http%3A%2F%2Foa\.example%2Foauth%2Flark&app_id=lark-client&state=[0-9A-Za-z]{12}$' \
        "$ws: /oauth/lark/start sends the browser to Feishu"
    state=${loc##*state=}
    oa_req GET "/oauth/lark?code=fei&state=$state" -c "$l" -b "$l"
    is "$OA_STATUS|$(header Location)|$(q "SELECT COUNT(*) FROM users WHERE lark_id = 'ou_fei'")" "303|/dashboard|1" \
        "$ws: Feishu's return signs in (or up)"

    # Binding: pat, signed in, comes back from GitHub with an account of his own, then with
    # one bound already.
    p="$OA_RUN/p.jar"
    console_login "$p" pat pat-pass-123
    oa_req GET /oauth/github/start -c "$p" -b "$p"
    state=$(sed 's/.*state=\([0-9A-Za-z]*\).*/\1/' <<<"$(header Location)")
    oa_req GET "/oauth/github?code=patgh&state=$state" -c "$p" -b "$p"
    is "$OA_STATUS|$(header Location)|$(q "SELECT github_id FROM users WHERE username = 'pat'")" "303|/setting|patgh" \
        "$ws: signed in, GitHub's return binds the account"
    oa_req GET /oauth/github/start -c "$p" -b "$p"
    state=$(sed 's/.*state=\([0-9A-Za-z]*\).*/\1/' <<<"$(header Location)")
    oa_req GET "/oauth/github?code=octo&state=$state" -c "$p" -b "$p"
    is "$OA_STATUS" 400 "$ws: an account bound to another user is refused"
    like "$OA_BODY" '该 GitHub 账户已被绑定' "$ws: ... with the API's message"
    opt GitHubOAuthEnabled false
    sync_options
    oa_req GET /oauth/github/start
    is "$OA_STATUS" 403 "$ws: GitHub sign-in off: the start page refuses"
    like "$OA_BODY" '管理员未开启通过 GitHub 登录以及注册' "$ws: ... with the API's message"
    oa_req GET /login
    is "$(grep -c '/oauth/github/start' <<<"$OA_BODY")" 0 "$ws: ... and the sign-in page offers no GitHub button"

    # --- WeChat ---------------------------------------------------------------------------------
    w="$(fresh)"
    visit "$w" /login
    like "$OA_BODY" '<img src="https://wx.example/qr.png"' "$ws: WeChat on: the sign-in page shows the QR code"
    like "$OA_BODY" 'action="/login/wechat"' "$ws: ... and a form for its code"
    html_valid "$ws: ... valid HTML"
    oa_req POST /login/wechat -b "$w" --data-urlencode code=wxu
    is "$OA_STATUS|$(q "SELECT COUNT(*) FROM users WHERE wechat_id = 'wx-wxu'")" "403|0" \
        "$ws: a WeChat code without a CSRF token is refused"
    page_post "$w" /login/wechat code=expired
    is "$OA_STATUS" 422 "$ws: a code the WeChat Server refuses shows the sign-in page again"
    like "$OA_BODY" '验证码已过期' "$ws: ... with its message"
    page_post "$w" /login/wechat code=wxu
    is "$OA_STATUS|$(header Location)|$(q "SELECT COUNT(*) FROM users WHERE wechat_id = 'wx-wxu'")" "303|/dashboard|1" \
        "$ws: the right code signs in (or up) through WeChat"

    opt WeChatAuthEnabled false
    opt WeChatAccountQRCodeImageURL ""
    sync_options
    w="$(fresh)"
    visit "$w" /login
    is "$OA_STATUS|$(grep -c 'action="/login/wechat"' <<<"$OA_BODY")" "200|0" "$ws: WeChat off: no WeChat form on the sign-in page"
    page_post "$w" /login/wechat code=wxv
    is "$OA_STATUS|$(q "SELECT COUNT(*) FROM users WHERE wechat_id = 'wx-wxv'")" "422|0" "$ws: ... a posted code is refused"
    like "$OA_BODY" '管理员未开启通过微信登录以及注册' "$ws: ... with the API's message"
    opt WeChatAuthEnabled true
    sync_options
    visit "$w" /login
    like "$OA_BODY" 'action="/login/wechat"' "$ws: WeChat on without a QR image: the code form still shows"
    is "$(grep -c '<img src=""' <<<"$OA_BODY")" 0 "$ws: ... without an empty image"

    # --- chat -------------------------------------------------------------------------------------
    oa_req GET /chat -b "$p"
    is "$OA_STATUS" 404 "$ws: /chat is 404 without a ChatLink"
    opt ChatLink https://chat.example/
    sync_options
    oa_req GET /chat -b "$p"
    is "$OA_STATUS" 200 "$ws: with a ChatLink, /chat is a page"
    like "$OA_BODY" '<iframe class="chat-frame" src="https://chat.example/"' "$ws: ... framing it"
    html_valid "$ws: ... valid HTML"
    opt ChatLink ""
    oa_stop
done
done_testing
