#!/usr/bin/env bash
# t0404: the console's logs, users, redemption codes and root's settings: each page for the
# anonymous visitor (sign in first), a common user, an admin and root (403 pages below the
# page's role); the log filters and quota sums of a user and of an admin; creating, editing and
# managing users through the forms with the API's role rules; generating, downloading (never
# in a URL), disabling, enabling and deleting codes; saving settings, a bad ratio refused
# beside its field with nothing changed, secrets in no page; CSRF refusals change nothing.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env

# add_log TS TYPE USER_ID USERNAME TOKEN MODEL QUOTA CHANNEL
add_log() {
    oa_db_query "INSERT INTO logs (created_at, type, user_id, username, token_name, model_name, quota, channel_id, content, prompt_tokens, completion_tokens, request_id, elapsed_time, is_stream, system_prompt_reset) VALUES ($1, $2, $3, '$4', '$5', '$6', $7, $8, 'row $1', 11, 22, 'req$1', 33, false, false)" >/dev/null
}

# sum_of: the quota sum the log page shows.
sum_of() { sed -n 's/.*<strong id="log-sum">\([^<]*\)<.*/\1/p' <<<"$OA_BODY"; }

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    rj="$OA_TMP/$ws.root.jar" aj="$OA_TMP/$ws.adm.jar" bj="$OA_TMP/$ws.bob.jar"

    for page in /log /user /user/new "/user/edit?id=1" /redemption /setting/admin; do
        oa_req GET "$page"
        like "$OA_STATUS|$(header Location)" "^303\|/login\?next=" "$ws: anonymous GET $page goes to sign in"
    done

    # Accounts: adm (admin), bob (common user).
    oa_admin POST /api/user/ '{"username":"adm","password":"12345678"}'
    oa_admin POST /api/user/manage '{"username":"adm","action":"promote"}'
    oa_admin POST /api/user/ '{"username":"bob","password":"12345678"}'
    adm_id=$(oa_db_query "SELECT id FROM users WHERE username = 'adm'")
    bob_id=$(oa_db_query "SELECT id FROM users WHERE username = 'bob'")
    # 2026-01-10, 2026-01-12 and 2026-01-15 (12:00 UTC).
    add_log 1768046400 2 "$bob_id" bob k1 gpt-4 1000 1
    add_log 1768219200 2 "$bob_id" bob k2 gpt-3.5 500 2
    add_log 1768478400 2 "$adm_id" adm ka gpt-4 7000 1
    add_log 1768478401 1 "$bob_id" bob "" "" 99999 0

    # ---------------------------------------------------------------- logs
    console_login "$bj" bob 12345678
    BCSRF=$CSRF
    oa_req GET /log -b "$bj"
    is "$OA_STATUS" 200 "$ws: bob opens /log"
    html_valid "$ws: ... valid HTML"
    is "$(sum_of)" '$0.003000' "$ws: ... the sum of his own consume rows, in USD"
    is "$(grep -c '>adm<\|Username' <<<"$OA_BODY")" 0 "$ws: ... no other user's rows, no user column or filter"
    like "$OA_BODY" '<td>k1</td>' "$ws: ... his rows with the key name"
    like "$OA_BODY" '<td>2026-01-10 12:00</td>' "$ws: ... and the time in UTC"
    oa_req GET "/log?model_name=gpt-4" -b "$bj"
    is "$(sum_of)" '$0.002000' "$ws: bob filters by model"
    oa_req GET "/log?start=2026-01-11&end=2026-01-12" -b "$bj"
    is "$(sum_of)|$(grep -c '<td>k1</td>' <<<"$OA_BODY")" '$0.001000|0' "$ws: ... by a date range (both days included)"
    oa_req GET "/log?username=adm" -b "$bj"
    is "$(sum_of)" '$0.003000' "$ws: ... a username filter does not show him another user's rows"
    oa_req GET "/log?model_name=none" -b "$bj"
    like "$OA_BODY" 'No log entries match' "$ws: ... an empty state"
    html_valid "$ws: ... valid HTML"
    for page in /user /user/new "/user/edit?id=$bob_id" /redemption /setting/admin; do
        oa_req GET "$page" -b "$bj"
        is "$OA_STATUS" 403 "$ws: bob may not open $page"
        like "$(header Content-Type)" "text/html" "$ws: ... an HTML page"
    done

    console_login "$aj" adm 12345678
    ACSRF=$CSRF
    oa_req GET /log -b "$aj"
    is "$OA_STATUS" 200 "$ws: an admin opens /log"
    html_valid "$ws: ... valid HTML"
    is "$(sum_of)" '$0.017000' "$ws: ... the sum of everyone's consume rows"
    like "$OA_BODY" '<td>adm</td>' "$ws: ... with the user column"
    oa_req GET "/log?username=bob&type=2" -b "$aj"
    is "$(sum_of)|$(grep -c '<td>adm</td>' <<<"$OA_BODY")" '$0.003000|0' "$ws: ... filtered by username"
    oa_req GET "/log?channel=1" -b "$aj"
    is "$(sum_of)" '$0.016000' "$ws: ... by channel"
    oa_req GET "/log?type=1" -b "$aj"
    like "$OA_BODY" 'badge ok">Top-up' "$ws: ... by type, with the type's badge"
    is "$(grep -c '<td>k1</td>' <<<"$OA_BODY")" 0 "$ws: ... only that type"
    oa_admin PUT /api/option/ '{"key":"DisplayInCurrencyEnabled","value":"false"}'
    oa_req GET "/log?username=bob" -b "$aj"
    is "$(sum_of)" '1500' "$ws: ... in points when DisplayInCurrencyEnabled is off"
    oa_admin PUT /api/option/ '{"key":"DisplayInCurrencyEnabled","value":"true"}'
    for i in $(seq 1 12); do add_log $((1768000000 + i)) 3 "$bob_id" bob "" "" 0 0; done
    oa_req GET "/log?type=3" -b "$aj"
    like "$OA_BODY" 'href="/log\?type=3&amp;p=1"' "$ws: a long listing links to the next page, keeping the filter"
    oa_req GET "/log?type=3&p=1" -b "$aj"
    is "$(grep -c '<tr><td>' <<<"$OA_BODY")" 2 "$ws: ... which holds the rest"
    oa_req GET /setting/admin -b "$aj"
    is "$OA_STATUS" 403 "$ws: an admin may not open root's settings"

    # ---------------------------------------------------------------- users
    CSRF=$ACSRF
    oa_req GET /user -b "$aj"
    is "$OA_STATUS" 200 "$ws: an admin opens /user"
    html_valid "$ws: ... valid HTML"
    like "$OA_BODY" '<td>bob</td>' "$ws: ... listing bob"
    is "$(grep -c 'value="promote"' <<<"$OA_BODY")" 0 "$ws: ... without promote buttons (root only)"
    oa_req GET "/user?keyword=bo" -b "$aj"
    is "$(grep -c '<td>bob</td>\|<td>adm</td>' <<<"$OA_BODY")" 1 "$ws: ... a search"
    oa_req GET /user/new -b "$aj"
    is "$OA_STATUS" 200 "$ws: the new-user form"
    html_valid "$ws: ... valid HTML"
    page_post "$aj" /user/new username=carol password=12345678 display_name=Carol
    is "$OA_STATUS|$(header Location)" "303|/user" "$ws: an admin creates carol"
    is "$(oa_db_query "SELECT display_name, role FROM users WHERE username = 'carol'")" "Carol|1" "$ws: ... a common user"
    carol_id=$(oa_db_query "SELECT id FROM users WHERE username = 'carol'")
    page_post "$aj" /user/new username=dave password=123 display_name=D
    is "$OA_STATUS" 422 "$ws: a short password is refused"
    like "$OA_BODY" 'id="err-password" role="alert">输入不合法' "$ws: ... with the API's message beside the field"
    like "$OA_BODY" 'value="dave"' "$ws: ... and the name typed"
    html_valid "$ws: ... valid HTML"
    page_post "$aj" /user/new username=carol password=12345678
    like "$OA_STATUS|$OA_BODY" '^422\|.*id="err-username" role="alert">用户名已被占用' "$ws: a taken name is refused beside the field"
    is "$(oa_db_query "SELECT COUNT(*) FROM users WHERE username = 'dave'")" 0 "$ws: ... nothing created"

    oa_req GET "/user/edit?id=$carol_id" -b "$aj"
    is "$OA_STATUS" 200 "$ws: the edit form"
    html_valid "$ws: ... valid HTML"
    like "$OA_BODY" '<option value="vip">' "$ws: ... with the groups"
    page_post "$aj" /user/edit id="$carol_id" display_name=Caro quota=12345 group=vip email=c@example.com password=
    is "$OA_STATUS" 303 "$ws: an admin edits carol"
    is "$(oa_db_query "SELECT display_name, quota, \"group\", email FROM users WHERE id = $carol_id")" \
        "Caro|12345|vip|c@example.com" "$ws: ... saved"
    like "$(oa_db_query "SELECT content FROM logs WHERE user_id = $carol_id AND type = 3")" '管理员将用户额度' "$ws: ... the quota change logged"
    page_post "$aj" /user/edit id="$carol_id" email=bad
    is "$OA_STATUS" 422 "$ws: a bad e-mail is refused"
    like "$OA_BODY" 'id="err-email" role="alert">输入不合法' "$ws: ... with the API's message beside the field"
    html_valid "$ws: ... valid HTML"
    page_post "$aj" /user/edit id="$carol_id" quota=lots
    like "$OA_STATUS|$OA_BODY" '^422\|.*id="err-quota"' "$ws: a quota that is not a number is refused beside the field"
    oa_db_query "UPDATE users SET quota = 50000 WHERE id = $adm_id" >/dev/null
    oa_req GET "/user?order=quota" -b "$aj"
    order=$(grep -o '<tr><td>[0-9]*</td><td>[a-z]*</td>' <<<"$OA_BODY" | sed 's/.*<td>\([a-z]*\)<\/td>$/\1/' | grep -v root | tr '\n' ' ')
    like "$order" '^adm carol bob ' "$ws: ordered by quota"
    oa_req GET "/user" -b "$aj"
    order=$(grep -o '<tr><td>[0-9]*</td><td>[a-z]*</td>' <<<"$OA_BODY" | sed 's/.*<td>\([a-z]*\)<\/td>$/\1/' | tr '\n' ' ')
    like "$order" '^carol bob adm ' "$ws: ... and by id, newest first, without an order"
    oa_req GET /user/edit?id=1 -b "$aj"
    is "$OA_STATUS" 403 "$ws: an admin cannot open root's edit form"
    like "$OA_BODY" '无权获取同级或更高等级用户的信息' "$ws: ... with the API's message"
    page_post "$aj" /user/edit id=1 display_name=Hacked
    is "$OA_STATUS" 403 "$ws: ... nor save it"
    isnt "$(oa_db_query "SELECT display_name FROM users WHERE id = 1")" "Hacked" "$ws: ... root unchanged"

    page_post "$aj" /user/manage username=bob action=promote
    is "$OA_STATUS|$(header Location)" "303|/user" "$ws: an admin's promote goes back to the list"
    oa_req GET /user -b "$aj" -c "$aj"
    like "$OA_BODY" '普通管理员用户无法提升其他用户为管理员' "$ws: ... which says why it was refused"
    is "$(oa_db_query "SELECT role FROM users WHERE id = $bob_id")" 1 "$ws: ... bob still a user"
    page_post "$aj" /user/manage username=root action=disable
    is "$(oa_db_query "SELECT status FROM users WHERE id = 1")" 1 "$ws: an admin cannot disable root"
    page_post "$aj" /user/manage username=bob action=disable
    is "$(oa_db_query "SELECT status FROM users WHERE id = $bob_id")" 2 "$ws: an admin disables bob"
    page_post "$aj" /user/manage username=bob action=enable
    is "$(oa_db_query "SELECT status FROM users WHERE id = $bob_id")" 1 "$ws: ... and enables him"
    page_post "$aj" /user/manage username=carol action=delete
    is "$(oa_db_query "SELECT status FROM users WHERE id = $carol_id")" 3 "$ws: ... deletes carol"
    oa_req POST /user/manage -b "$aj" --data-urlencode username=bob --data-urlencode action=disable
    is "$OA_STATUS" 403 "$ws: a manage without the CSRF token is refused"
    oa_req POST /user/manage -b "$aj" --data-urlencode "csrf=${ACSRF/?/x}" --data-urlencode username=bob --data-urlencode action=disable
    is "$OA_STATUS" 403 "$ws: ... and with a wrong one"
    is "$(oa_db_query "SELECT status FROM users WHERE id = $bob_id")" 1 "$ws: ... bob unchanged"
    CSRF=$BCSRF
    page_post "$bj" /user/manage username=carol action=enable
    is "$OA_STATUS" 403 "$ws: bob's manage form is refused"

    console_login "$rj" root 123456
    RCSRF=$CSRF
    oa_req GET /user -b "$rj"
    like "$OA_BODY" 'value="promote"' "$ws: root sees promote buttons"
    page_post "$rj" /user/manage username=bob action=promote
    is "$(oa_db_query "SELECT role FROM users WHERE id = $bob_id")" 10 "$ws: root promotes bob"
    page_post "$rj" /user/manage username=bob action=demote
    is "$(oa_db_query "SELECT role FROM users WHERE id = $bob_id")" 1 "$ws: ... and demotes him"

    # ---------------------------------------------------------------- redemption codes
    CSRF=$ACSRF
    oa_req GET /redemption -b "$aj"
    is "$OA_STATUS" 200 "$ws: an admin opens /redemption"
    like "$OA_BODY" 'No redemption codes yet' "$ws: ... empty"
    html_valid "$ws: ... valid HTML"
    page_post "$aj" /redemption/new name=batch1 count=3 quota=1000
    is "$OA_STATUS" 200 "$ws: an admin generates 3 codes"
    html_valid "$ws: ... valid HTML"
    codes=$(oa_db_query "SELECT \"key\" FROM redemptions WHERE name = 'batch1' ORDER BY id")
    is "$(wc -l <<<"$codes")" 3 "$ws: ... stored"
    like "$OA_BODY" "<textarea[^>]*>$(head -n1 <<<"$codes")" "$ws: ... shown in a textarea"
    is "$(grep -cE '(href|action|src)="[^"]*[0-9a-f]{32}' <<<"$OA_BODY")" 0 "$ws: ... and in no URL"
    page_post "$aj" /redemption/download codes="$codes"
    is "$OA_STATUS" 200 "$ws: the download"
    like "$(header Content-Type)" "text/plain" "$ws: ... is text"
    like "$(header Content-Disposition)" "attachment" "$ws: ... an attachment"
    is "$OA_BODY" "$codes" "$ws: ... holding the codes"
    page_post "$aj" /redemption/download codes="$(head -n1 <<<"$codes")
0123456789abcdef0123456789abcdef"
    is "$OA_STATUS" 422 "$ws: a download with a code that does not exist is refused"
    oa_admin POST /api/redemption/ '{"name":"rootcode","count":1,"quota":5}'
    rootcode=$(json_get data.0)
    page_post "$aj" /redemption/download codes="$rootcode"
    is "$OA_STATUS|$(grep -c "$rootcode" <<<"$OA_BODY")" "422|0" "$ws: ... and one of another admin"
    page_post "$aj" /redemption/new name=batch2 count=0 quota=1
    is "$OA_STATUS" 422 "$ws: a count of 0 is refused"
    like "$OA_BODY" 'id="err-count" role="alert">兑换码个数必须大于0' "$ws: ... with the API's message beside the field"
    html_valid "$ws: ... valid HTML"
    page_post "$aj" /redemption/new name= count=1 quota=1
    like "$OA_BODY" 'id="err-name" role="alert">兑换码名称长度必须在1-20之间' "$ws: an empty name is refused beside the field"
    oa_req POST /redemption/new -b "$aj" --data-urlencode name=batch3 --data-urlencode count=2 --data-urlencode quota=1
    is "$OA_STATUS" 403 "$ws: generating without the CSRF token is refused"
    is "$(oa_db_query "SELECT COUNT(*) FROM redemptions WHERE name IN ('batch2', 'batch3')")" 0 "$ws: ... nothing made by the refused forms"
    oa_req GET /redemption -b "$aj"
    is "$(grep -c '<td>batch1</td>' <<<"$OA_BODY")" 3 "$ws: the list shows the batch"
    html_valid "$ws: ... valid HTML"
    cid=$(oa_db_query "SELECT MIN(id) FROM redemptions WHERE name = 'batch1'")
    page_post "$aj" /redemption/manage id="$cid" action=disable
    is "$OA_STATUS|$(oa_db_query "SELECT status FROM redemptions WHERE id = $cid")" "303|2" "$ws: an admin disables a code"
    page_post "$aj" /redemption/manage id="$cid" action=enable
    is "$(oa_db_query "SELECT status FROM redemptions WHERE id = $cid")" 1 "$ws: ... enables it"
    oa_req POST /redemption/manage -b "$aj" --data-urlencode id="$cid" --data-urlencode action=delete
    is "$OA_STATUS|$(oa_db_query "SELECT COUNT(*) FROM redemptions WHERE id = $cid")" "403|1" "$ws: ... a delete without the CSRF token changes nothing"
    page_post "$aj" /redemption/manage id="$cid" action=delete
    is "$(oa_db_query "SELECT COUNT(*) FROM redemptions WHERE id = $cid")" 0 "$ws: ... deletes it"
    page_post "$aj" /redemption/manage id=999999 action=disable
    oa_req GET /redemption -b "$aj" -c "$aj"
    like "$OA_BODY" 'record not found' "$ws: ... a missing code says so"

    # ---------------------------------------------------------------- settings
    CSRF=$RCSRF
    oa_admin PUT /api/option/ '{"key":"SMTPToken","value":"smtp-secret-0451"}'
    oa_admin PUT /api/option/ '{"key":"GitHubClientSecret","value":"gh-secret-0451"}'
    oa_req GET /setting/admin -b "$rj"
    is "$OA_STATUS" 200 "$ws: root opens the settings"
    html_valid "$ws: ... valid HTML"
    like "$OA_BODY" 'name="QuotaForNewUser"' "$ws: ... with the operation settings"
    like "$OA_BODY" 'Set; leave empty to keep it' "$ws: ... a stored secret says it is set"
    page_post "$rj" /setting/option group=operation QuotaForNewUser=77 LogConsumeEnabled=false back=/setting/admin
    is "$OA_STATUS|$(header Location)" "303|/setting/admin" "$ws: root saves an operation setting"
    is "$(oa_db_query "SELECT value FROM options WHERE key = 'QuotaForNewUser'")|$(oa_db_query "SELECT value FROM options WHERE key = 'LogConsumeEnabled'")" "77|false" "$ws: ... stored"
    is "$(oa_db_query "SELECT COUNT(*) FROM options WHERE key IN ('ModelRatio', 'QuotaPerUnit')")" 0 "$ws: ... fields not sent are not written"
    page_post "$rj" /setting/option group=operation QuotaForNewUser=88 'ModelRatio={"gpt-4": "x"}'
    is "$OA_STATUS" 422 "$ws: a bad ModelRatio is refused"
    like "$OA_BODY" '<p class="field-error" id="err-ModelRatio"' "$ws: ... beside its field"
    is "$(grep -c 'class="field-error"' <<<"$OA_BODY")" 1 "$ws: ... and beside no other"
    like "$OA_BODY" 'name="QuotaForNewUser" inputmode="numeric" value="88"' "$ws: ... the form keeps what was typed"
    html_valid "$ws: ... valid HTML"
    is "$(oa_db_query "SELECT value FROM options WHERE key = 'QuotaForNewUser'")|$(oa_db_query "SELECT COUNT(*) FROM options WHERE key = 'ModelRatio'")" "77|0" "$ws: ... and nothing changed"
    page_post "$rj" /setting/option group=operation QuotaForNewUser=-5
    like "$OA_STATUS|$OA_BODY" '^422\|.*QuotaForNewUser must be a whole number' "$ws: a negative quota is refused with the API's message"
    page_post "$rj" /setting/option group=smtp SMTPServer=smtp.example.org SMTPToken=
    is "$(oa_db_query "SELECT value FROM options WHERE key = 'SMTPServer'")|$(oa_db_query "SELECT value FROM options WHERE key = 'SMTPToken'")" "smtp.example.org|smtp-secret-0451" "$ws: an empty secret keeps the stored one"
    page_post "$rj" /setting/option group=smtp SMTPToken=new-secret-0451
    is "$(oa_db_query "SELECT value FROM options WHERE key = 'SMTPToken'")" "new-secret-0451" "$ws: ... a typed one replaces it"
    page_post "$rj" /setting/option group=github GitHubClientId=cid GitHubOAuthEnabled=true
    is "$(oa_db_query "SELECT value FROM options WHERE key = 'GitHubOAuthEnabled'")" "true" "$ws: a switch that needs a value saved in the same form"
    page_post "$rj" /setting/option group=system Theme=dark SystemName=Gate
    oa_req GET /setting/admin -b "$rj"
    like "$OA_BODY" 'data-theme="dark"' "$ws: the system settings apply at once"
    for secret in new-secret-0451 gh-secret-0451; do
        is "$(grep -c "$secret" <<<"$OA_BODY")" 0 "$ws: the settings page never shows $secret"
    done
    oa_req POST /setting/option -b "$rj" --data-urlencode group=system --data-urlencode SystemName=Evil
    is "$OA_STATUS|$(oa_db_query "SELECT value FROM options WHERE key = 'SystemName'")" "403|Gate" "$ws: a settings form without the CSRF token changes nothing"
    CSRF=$ACSRF
    page_post "$aj" /setting/option group=system SystemName=Evil
    is "$OA_STATUS|$(oa_db_query "SELECT value FROM options WHERE key = 'SystemName'")" "403|Gate" "$ws: an admin's settings form is refused"
    for page in /log /user /redemption; do
        oa_req GET "$page" -b "$rj"
        is "$OA_STATUS|$(grep -c 'secret-0451' <<<"$OA_BODY")" "200|0" "$ws: root's $page shows no secret"
    done
    oa_stop
done
done_testing
