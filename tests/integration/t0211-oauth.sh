#!/usr/bin/env bash
# t0211: sign-in through GitHub, Feishu/Lark, OIDC and a WeChat Server (tests/mock/oauth_mock.py
# plays them): the OAuth state bound to the browser in a signed cookie, accounts created on
# first sign-in and found again on the next, binding to a signed-in account, already-bound
# and banned refusals, a generated or provider-chosen username that is taken, the switches,
# unreachable services, and no client secret or access token in one-api's log.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
# These flows make far more sign-in calls from one address than the strict per-address limit
# allows in production; t0119 tests that limit.
OA_ENV+=(CRITICAL_RATE_LIMIT=0)
SECRET="oauth-secret-$(rand_name)"

HTTP_OUT="$OA_TMP/oauth.jsonl"
: >"$HTTP_OUT"
: >"$OA_TMP/oauth.out"
"$OA_PY" "$top_srcdir/tests/mock/oauth_mock.py" --out "$HTTP_OUT" --secret "$SECRET" \
    >"$OA_TMP/oauth.out" 2>"$OA_TMP/oauth.err" &
_oa_pids+=("$!")
_oa_logs+=("$OA_TMP/oauth.err")
wait_for 30 grep -q '^PORT ' "$OA_TMP/oauth.out" || bail_out "the HTTP mock did not start: $(cat "$OA_TMP/oauth.err")"
SVC="http://127.0.0.1:$(sed -n 's/^PORT //p' "$OA_TMP/oauth.out")"
OA_ENV+=("GITHUB_OAUTH_TOKEN_URL=$SVC/github/token" "GITHUB_USER_URL=$SVC/github/user"
    "LARK_OAUTH_TOKEN_URL=$SVC/lark/token" "LARK_USER_INFO_URL=$SVC/lark/user"
    MEMORY_CACHE_ENABLED=true SYNC_FREQUENCY=1)

opt() { oa_set_option "$1" "$2"; }
msg() { json_fields success message; }
sync_options() {
    local mark
    mark="sync-$(rand_name)"
    oa_set_option Notice "$mark"
    wait_for 10 _notice_is "$mark" || diag "the options were not re-read"
}
_notice_is() { oa_req GET /api/notice; [[ $(json_get data) == "$1" ]]; }
# state JAR: a fresh OAuth state for the browser whose cookies are in JAR; sets STATE.
state() { oa_req GET /api/oauth/state -b "$1" -c "$1"; STATE=$(json_get data); }
# oauth PROVIDER CODE JAR: the whole round trip in the browser JAR.
oauth() {
    state "$3"
    oa_req GET "/api/oauth/$1?code=$2&state=$STATE" -b "$3" -c "$3"
}
# fresh: a new, empty cookie jar (a browser that is not signed in).
fresh() { echo "$OA_RUN/fresh-$RANDOM$RANDOM.jar"; }
uid_of() { oa_db_query "SELECT id FROM users WHERE $1 = '$2'"; }
last_call() { grep "\"path\": \"$1" "$HTTP_OUT" | tail -n 1; }

for ws in $(oa_webservers); do
    oa_db_init
    opt ServerAddress http://oa.example
    opt GitHubOAuthEnabled true
    opt GitHubClientId gh-client
    opt GitHubClientSecret "$SECRET"
    opt LarkClientId lark-client
    opt LarkClientSecret "$SECRET"
    opt OidcEnabled true
    opt OidcClientId oidc-client
    opt OidcClientSecret "$SECRET"
    opt OidcTokenEndpoint "$SVC/oidc/token"
    opt OidcUserinfoEndpoint "$SVC/oidc/userinfo"
    opt WeChatAuthEnabled true
    opt WeChatServerAddress "$SVC"
    opt WeChatServerToken "$SECRET"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    : >"$HTTP_OUT"
    a="$OA_RUN/a.jar" b="$OA_RUN/b.jar" c="$OA_RUN/c.jar" root="$OA_RUN/root.jar"

    # --- the state --------------------------------------------------------------------------
    state "$a"
    like "$STATE" '^[0-9A-Za-z]{12}$' "$ws: /api/oauth/state gives 12 characters"
    like "$(grep -i '^set-cookie: oa_oauth_state=' <<<"$OA_HEADERS")" 'HttpOnly.*SameSite=Lax' \
        "$ws: ... kept in an HttpOnly, SameSite cookie"
    oa_req GET "/api/oauth/github?code=octo&state=$STATE"
    is "$OA_STATUS|$(msg)" "403|false|state is empty or not same" "$ws: the state without its cookie is 403"
    state "$b"
    oa_req GET "/api/oauth/github?code=octo&state=$STATE" -b "$a"
    is "$OA_STATUS|$(msg)" "403|false|state is empty or not same" "$ws: another browser's state is 403"
    oa_req GET "/api/oauth/github?code=octo" -b "$a"
    is "$OA_STATUS" 403 "$ws: no state is 403"
    is "$(wc -l <"$HTTP_OUT")" 0 "$ws: ... and GitHub was never asked"

    # --- GitHub -------------------------------------------------------------------------------
    max=$(oa_db_query "SELECT MAX(id) FROM users")
    oauth github octo "$a"
    is "$(json_fields success data.username data.display_name data.role data.status)" \
        "true|github_$((max + 1))|Name octo|1|1" "$ws: GitHub: first sign-in creates github_<n>"
    like "$(grep -i '^set-cookie: session=' <<<"$OA_HEADERS")" 'HttpOnly' "$ws: ... and the session cookie"
    like "$(grep -i '^set-cookie: oa_oauth_state=' <<<"$OA_HEADERS")" 'Max-Age=0' \
        "$ws: ... and the answer clears the state cookie (a state serves once)"
    oa_req GET /api/user/self -b "$a"
    is "$(json_fields success data.username data.github_id data.email)" \
        "true|github_$((max + 1))|octo|octo@gh.example" "$ws: ... the browser is signed in as the new user"
    octo=$(uid_of github_id octo)
    is "$(JSON_DOC=$(last_call /github/token) json_fields method headers.Accept body)" \
        "POST|application/json|{\"client_id\":\"gh-client\",\"client_secret\":\"$SECRET\",\"code\":\"octo\"}" \
        "$ws: ... the code went to GitHub as JSON with the client credentials"
    is "$(JSON_DOC=$(last_call /github/user) json_fields method headers.Authorization)" \
        "GET|Bearer at-octo" "$ws: ... and the profile was read with the access token"
    oauth github octo "$(fresh)"
    is "$(json_fields success data.id)" "true|$octo" "$ws: a second sign-in finds the same user"
    oauth github nologin "$(fresh)"
    is "$(msg)" "false|返回值非法，用户字段为空，请稍后重试！" "$ws: an empty login is refused"

    # --- binding --------------------------------------------------------------------------------
    oa_post_json /api/user/login '{"username":"root","password":"123456"}' -c "$root"
    oauth github octo "$root"
    is "$(msg)" "false|该 GitHub 账户已被绑定" "$ws: binding a GitHub account another user has is refused"
    oauth github rootgh "$root"
    is "$(msg)|$(oa_db_query "SELECT github_id FROM users WHERE id = 1")" "true|bind|rootgh" \
        "$ws: a signed-in root binds a GitHub account"
    oauth github rootgh "$(fresh)"
    is "$(json_fields success data.id data.username)" "true|1|root" \
        "$ws: ... which then signs in as root"

    # --- Feishu/Lark ------------------------------------------------------------------------------
    max=$(oa_db_query "SELECT MAX(id) FROM users")
    oauth lark fei "$(fresh)"
    is "$(json_fields success data.username data.display_name)" "true|lark_$((max + 1))|Lark fei" \
        "$ws: Feishu: first sign-in creates lark_<n>"
    lid=$(json_get data.id)
    is "$(oa_db_query "SELECT lark_id FROM users WHERE id = $lid")" ou_fei "$ws: ... lark_id is the open_id"
    like "$(JSON_DOC=$(last_call /lark/token) json_fields body)" \
        '"grant_type":"authorization_code".*"redirect_uri":"http://oa.example/oauth/lark"' \
        "$ws: ... the token request names the grant and <ServerAddress>/oauth/lark"
    oauth lark fei "$(fresh)"
    is "$(json_fields success data.id)" "true|$lid" "$ws: ... found again on the next sign-in"
    oauth lark fei "$root"
    is "$(msg)" "false|该飞书账户已被绑定" "$ws: ... binding it to root is refused"

    # --- OIDC ---------------------------------------------------------------------------------------
    oauth oidc pref-olivia "$(fresh)"
    is "$(json_fields success data.username data.display_name)" "true|olivia|OIDC pref-olivia" \
        "$ws: OIDC: the preferred username is taken as the username"
    is "$(oa_db_query "SELECT oidc_id || '/' || email FROM users WHERE username = 'olivia'")" \
        "sub-pref-olivia/pref-olivia@oidc.example" "$ws: ... oidc_id is sub, with the e-mail"
    max=$(oa_db_query "SELECT MAX(id) FROM users")
    oauth oidc zed "$(fresh)"
    is "$(json_fields success data.username)" "true|oidc_$((max + 1))" "$ws: ... without one: oidc_<n>"
    n=$(oa_db_query "SELECT COUNT(*) FROM users")
    jr=$(fresh)
    oauth oidc pref-root "$jr"
    is "$(msg)|$(oa_db_query "SELECT COUNT(*) FROM users")" "false|用户名已被占用|$n" \
        "$ws: ... a preferred username that is taken (root) signs nobody in and creates nothing"
    oa_req GET /api/user/self -b "$jr"
    is "$OA_STATUS" 401 "$ws: ... the browser is not signed in"

    # --- WeChat -------------------------------------------------------------------------------------
    max=$(oa_db_query "SELECT MAX(id) FROM users")
    oa_req GET "/api/oauth/wechat?code=123456"
    is "$(json_fields success data.username data.display_name)" "true|wechat_$((max + 1))|WeChat User" \
        "$ws: WeChat: first sign-in creates wechat_<n>"
    wid=$(json_get data.id)
    is "$(JSON_DOC=$(last_call /api/wechat/user) json_fields path headers.Authorization)" \
        "/api/wechat/user?code=123456|$SECRET" "$ws: ... the WeChat Server was asked with WeChatServerToken"
    oa_req GET "/api/oauth/wechat?code=123456"
    is "$(json_fields success data.id)" "true|$wid" "$ws: ... found again on the next sign-in"
    oa_req GET "/api/oauth/wechat?code=expired"
    is "$(msg)" "false|验证码已过期" "$ws: ... the server's refusal is passed on"
    oa_req GET "/api/oauth/wechat"
    is "$(msg)" "false|无效的参数" "$ws: ... no code is refused"
    oa_req GET "/api/oauth/wechat/bind?code=123456" -b "$root"
    is "$(msg)" "false|该微信账号已被绑定" "$ws: ... binding a taken WeChat id is refused"
    oa_req GET "/api/oauth/wechat/bind?code=rootwx" -b "$root"
    is "$(msg)|$(oa_db_query "SELECT wechat_id FROM users WHERE id = 1")" "true||wx-rootwx" \
        "$ws: ... root binds a WeChat id"
    oa_req GET "/api/oauth/wechat/bind?code=rootwx"
    is "$OA_STATUS" 401 "$ws: ... binding needs a signed-in user"

    # --- banned, switches ---------------------------------------------------------------------------
    oa_db_query "UPDATE users SET status = 2 WHERE id = $octo" >/dev/null
    oauth github octo "$(fresh)"
    is "$(msg)" "false|用户已被封禁" "$ws: a banned account cannot sign in through GitHub"
    opt GitHubOAuthEnabled false
    opt WeChatAuthEnabled false
    opt OidcEnabled false
    opt RegisterEnabled false
    sync_options
    oauth github newbie "$(fresh)"
    is "$(msg)" "false|管理员未开启通过 GitHub 登录以及注册" "$ws: GitHubOAuthEnabled=false"
    oauth oidc zed "$(fresh)"
    is "$(msg)" "false|管理员未开启通过 OIDC 登录以及注册" "$ws: OidcEnabled=false"
    oa_req GET "/api/oauth/wechat?code=123456"
    is "$(msg)" "false|管理员未开启通过微信登录以及注册" "$ws: WeChatAuthEnabled=false"
    oauth lark newbie "$(fresh)"
    is "$(msg)" "false|管理员关闭了新用户注册" "$ws: RegisterEnabled=false: no new account"
    oauth lark fei "$(fresh)"
    is "$(json_fields success data.username)" "true|$(oa_db_query "SELECT username FROM users WHERE lark_id = 'ou_fei'")" \
        "$ws: ... but an existing one still signs in"
    opt LarkClientSecret "wrong-secret"
    sync_options
    oauth lark fei "$(fresh)"
    is "$(msg)" "false|返回值非法，用户字段为空，请稍后重试！" "$ws: a code the provider refuses signs nobody in"

    # --- no secret in the log ---------------------------------------------------------------------
    logs=$(cat "$OA_RUN"/logs/* "$OA_RUN/one-api.out" 2>/dev/null)
    leaked=""
    for s in "$SECRET" at-octo at-rootgh at-fei "$STATE"; do
        [[ $logs == *"$s"* ]] && leaked+=" $s"
    done
    is "$leaked" "" "$ws: no client secret, access token or state in the log"
    oa_stop
done

# --- services that cannot be reached --------------------------------------------------------
ws=$(oa_webservers)
ws=${ws%% *}
dead="http://127.0.0.1:$(free_port)"
OA_ENV+=("GITHUB_OAUTH_TOKEN_URL=$dead/t" "LARK_OAUTH_TOKEN_URL=$dead/t")
oa_db_init
opt GitHubOAuthEnabled true
opt OidcEnabled true
opt OidcTokenEndpoint "$dead/t"
opt WeChatAuthEnabled true
opt WeChatServerAddress "$dead"
OA_KEEP_DB=1 oa_start "$ws" || exit 1
j="$OA_RUN/j.jar"
oauth github x "$j"
is "$(msg)" "false|无法连接至 GitHub 服务器，请稍后重试！" "down: GitHub"
oauth lark x "$j"
is "$(msg)" "false|无法连接至飞书服务器，请稍后重试！" "down: Feishu"
oauth oidc x "$j"
is "$(msg)" "false|无法连接至 OIDC 服务器，请稍后重试！" "down: OIDC"
oa_req GET "/api/oauth/wechat?code=1"
is "$(msg)" "false|无法连接至微信服务器，请稍后重试！" "down: WeChat Server"
oa_stop
done_testing
