#!/usr/bin/env bash
# t0402: a member's own console pages: the dashboard (stat cards, the server-made SVG chart of
# the last 7 days and its table, the empty state), keys (list, search, paging, create and edit
# with the API's validation messages, enable/disable, delete), top-up (redeeming a code, the
# TopUpLink) and personal settings (profile, password, access token shown once, invitation
# link, bound accounts, deleting the account). Anonymous visitors go to the sign-in page; forms
# without the right CSRF token are refused and change nothing.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env

sql() { oa_db_query "$1"; }

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    jar="$OA_TMP/$ws.user.jar" rjar="$OA_TMP/$ws.root.jar"

    # Anonymous visitors are sent to sign in, and back.
    oa_req GET /dashboard
    is "$OA_STATUS|$(header Location)" "303|/login?next=%2Fdashboard" \
        "$ws: anonymous GET /dashboard goes to /login?next=%2Fdashboard"
    for p in /token /token/new /topup /setting; do
        oa_req GET "$p"
        is "$OA_STATUS|$(header Location)" "303|/login?next=${p//\//%2F}" "$ws: anonymous GET $p goes to sign in"
    done

    oa_admin POST /api/user/ '{"username":"alice","password":"alicepass1"}'
    uid=$(sql "SELECT id FROM users WHERE username = 'alice'")
    sql "DELETE FROM tokens WHERE user_id = $uid" >/dev/null
    console_login "$jar" alice alicepass1 || continue

    # Dashboard: empty, then with usage.
    oa_req GET /dashboard -b "$jar"
    is "$OA_STATUS" 200 "$ws: a member sees the dashboard"
    like "$OA_BODY" 'No usage in the last 7 days' "$ws: ... with the empty state when nothing was used"
    unlike=$(grep -c '<svg class="chart"' <<<"$OA_BODY" || true)
    is "$unlike" 0 "$ws: ... and no chart"
    html_valid "$ws: ... valid HTML"
    now=$(date +%s) today=$(date -u +%F)
    sql "INSERT INTO logs (user_id, created_at, type, model_name, quota, prompt_tokens, completion_tokens) VALUES
        ($uid, $now, 2, 'gpt-4o', 250000, 10, 20), ($uid, $now, 2, 'gpt-4o', 250000, 1, 2),
        ($uid, $now, 2, '<i>m&x</i>', 100000, 3, 4), ($uid, $((now - 10 * 86400)), 2, 'old-model', 5, 1, 1),
        (1, $now, 2, 'roots-model', 5, 1, 1)" >/dev/null
    sql "UPDATE users SET quota = 1000000, used_quota = 600000, request_count = 3, \"group\" = 'vip' WHERE id = $uid" >/dev/null
    oa_req GET /dashboard -b "$jar"
    like "$OA_BODY" '<svg class="chart"' "$ws: usage draws the SVG chart"
    like "$OA_BODY" "<title>$today · gpt-4o: \\\$1</title>" "$ws: ... today's bar sums the model's quota, in USD"
    like "$OA_BODY" '&lt;i&gt;m&amp;x&lt;/i&gt;' "$ws: ... model names are escaped"
    unlike=$(grep -c '<i>m&x' <<<"$OA_BODY" || true)
    is "$unlike" 0 "$ws: ... never raw"
    unlike=$(grep -c 'old-model\|roots-model' <<<"$OA_BODY" || true)
    is "$unlike" 0 "$ws: ... older days and other users' use are left out"
    like "$OA_BODY" "<td>$today</td><td>gpt-4o</td><td class=\"num\">2</td><td class=\"num\">\\\$1.000000</td><td class=\"num\">11</td><td class=\"num\">22</td>" \
        "$ws: ... and the same figures are in the table"
    like "$OA_BODY" '\$2.000000' "$ws: the remaining quota card shows USD"
    like "$OA_BODY" '>vip<' "$ws: ... and the group"
    html_valid "$ws: the dashboard with a chart is valid HTML"

    # Keys: the empty state, the form, validation, creation.
    oa_req GET /token -b "$jar"
    is "$OA_STATUS" 200 "$ws: a member sees the keys page"
    like "$OA_BODY" 'No keys yet' "$ws: ... with the empty state"
    html_valid "$ws: ... valid HTML"
    oa_req GET /token/new -b "$jar"
    like "$OA_BODY" '<label for="subnet">' "$ws: the new key form labels its fields"
    html_valid "$ws: ... valid HTML"
    page_post "$jar" /token/save name=abcdefghijabcdefghijabcdefghijX never=1 unlimited=1
    is "$OA_STATUS" 422 "$ws: a name over 30 bytes is refused"
    like "$OA_BODY" '参数错误：令牌名称过长' "$ws: ... with the API's message"
    html_valid "$ws: ... the form with its error is valid HTML"
    page_post "$jar" /token/save name=k1 never=1 unlimited=1 subnet=10.0.0.0/33
    like "$OA_BODY" '参数错误：无效的网段' "$ws: a bad subnet is refused with the API's message"
    like "$OA_BODY" 'value="10.0.0.0/33"' "$ws: ... and the form keeps what was typed"
    is "$(sql "SELECT COUNT(*) FROM tokens WHERE user_id = $uid")" 0 "$ws: ... nothing was stored"
    oa_req POST /token/save -b "$jar" --data-urlencode name=k1 --data-urlencode never=1
    is "$OA_STATUS" 403 "$ws: a key form without the CSRF token is refused"
    oa_req POST /token/save -b "$jar" --data-urlencode csrf=0123456789abcdef0123456789abcdef --data-urlencode name=k1 --data-urlencode never=1
    is "$OA_STATUS" 403 "$ws: ... and with a wrong one"
    is "$(sql "SELECT COUNT(*) FROM tokens WHERE user_id = $uid")" 0 "$ws: ... neither stored a key"
    page_post "$jar" /token/save name=k1 never=1 unlimited=1 models=gpt-4o rpm_limit=5
    is "$OA_STATUS|$(header Location)" "303|/token" "$ws: a valid new key is created"
    is "$(sql "SELECT name, status, expired_time, CASE WHEN unlimited_quota THEN 1 ELSE 0 END, models, rpm_limit FROM tokens WHERE user_id = $uid" | tr -d ' ')" \
        "k1|1|-1|1|gpt-4o|5" "$ws: ... as typed"
    tid=$(sql "SELECT id FROM tokens WHERE user_id = $uid") key=$(sql "SELECT \"key\" FROM tokens WHERE id = $tid")
    oa_req GET /token -b "$jar" -c "$jar"
    like "$OA_BODY" 'The key is created' "$ws: ... which the list says"
    like "$OA_BODY" "data-copy=\"sk-$key\"" "$ws: the list offers to copy sk-<key>"
    like "$OA_BODY" "<details><summary>Show</summary><code class=\"key\">sk-$key</code>" "$ws: ... shown in a details element without JS"
    like "$OA_BODY" 'badge ok">Enabled' "$ws: ... with its status"
    like "$OA_BODY" 'Unlimited' "$ws: ... and quota"
    html_valid "$ws: the list is valid HTML"

    # Edit.
    oa_req GET "/token/edit?id=$tid" -b "$jar"
    like "$OA_BODY" 'value="k1"' "$ws: the edit form shows the key"
    html_valid "$ws: ... valid HTML"
    page_post "$jar" /token/save id="$tid" name=k2 expires=2030-01-02T03:04 remain_quota=1000 models= subnet=10.0.0.0/8
    is "$OA_STATUS" 303 "$ws: an edit is saved"
    is "$(sql "SELECT name, expired_time, remain_quota, CASE WHEN unlimited_quota THEN 1 ELSE 0 END, subnet, rpm_limit FROM tokens WHERE id = $tid" | tr -d ' ')" \
        "k2|1893553440|1000|0|10.0.0.0/8|0" "$ws: ... with every field, the expiry read as UTC"
    oa_req GET "/token/edit?id=$tid" -b "$jar"
    like "$OA_BODY" 'name="expires" type="datetime-local" value="2030-01-02T03:04"' \
        "$ws: ... and the edit form gives the expiry back as a datetime-local value"
    rootkey=$(sql "SELECT id FROM tokens WHERE user_id = 1 LIMIT 1")
    oa_req GET "/token/edit?id=$rootkey" -b "$jar"
    is "$OA_STATUS" 404 "$ws: another user's key cannot be opened"

    # Disable, refused enable, delete.
    page_post "$jar" /token/status id="$tid" status=2
    is "$OA_STATUS|$(sql "SELECT status FROM tokens WHERE id = $tid")" "303|2" "$ws: a key is disabled"
    sql "UPDATE tokens SET status = 3, expired_time = 1 WHERE id = $tid" >/dev/null
    page_post "$jar" /token/status id="$tid" status=1
    oa_req GET /token -b "$jar" -c "$jar"
    like "$OA_BODY" '令牌已过期，无法启用' "$ws: enabling an expired key is refused with the API's message"
    is "$(sql "SELECT status FROM tokens WHERE id = $tid")" 3 "$ws: ... and changes nothing"
    oa_req POST /token/delete -b "$jar" --data-urlencode id="$tid"
    is "$OA_STATUS" 403 "$ws: a delete without the CSRF token is refused"
    page_post "$jar" /token/delete id="$rootkey"
    is "$(sql "SELECT COUNT(*) FROM tokens WHERE id IN ($tid, $rootkey)")" 2 "$ws: ... keeps the key, and another user's key cannot be deleted"
    page_post "$jar" /token/delete id="$tid"
    is "$OA_STATUS|$(sql "SELECT COUNT(*) FROM tokens WHERE id = $tid")" "303|0" "$ws: a key is deleted"

    # Search and paging.
    vals=""
    for i in $(seq 1 11); do vals+="${vals:+,}($uid, 'k$(hex_key 40)$i', 1, 'bulk$i', $now, $now, -1, 0, true, 0)"; done
    sql "INSERT INTO tokens (user_id, \"key\", status, name, created_time, accessed_time, expired_time, remain_quota, unlimited_quota, used_quota) VALUES $vals" >/dev/null
    page_post "$jar" /token/save name=alpha never=1 unlimited=1
    oa_req GET '/token?keyword=alp' -b "$jar"
    like "$OA_BODY" '<td>alpha</td>' "$ws: search finds a key by name"
    is "$(grep -c '<td>bulk' <<<"$OA_BODY" || true)" 0 "$ws: ... and only it"
    oa_req GET /token -b "$jar"
    is "$(grep -c '^    <tr>' <<<"$OA_BODY")|$(grep -c 'href="/token?p=1"' <<<"$OA_BODY")" "10|1" "$ws: 10 keys a page, with a next link"
    oa_req GET '/token?p=1' -b "$jar"
    is "$(grep -c '^    <tr>' <<<"$OA_BODY")|$(grep -c 'href="/token?p=0"' <<<"$OA_BODY")" "2|1" "$ws: the second page has the rest and a previous link"
    html_valid "$ws: ... valid HTML"

    # Top-up.
    oa_req GET /topup -b "$jar"
    is "$OA_STATUS" 200 "$ws: a member sees the top-up page"
    html_valid "$ws: ... valid HTML"
    oa_admin POST /api/redemption/ '{"name":"promo","quota":500000,"count":1}'
    code=$(json_get data.0)
    page_post "$jar" /topup key=nosuchcode
    is "$OA_STATUS" 422 "$ws: an unknown code is refused"
    like "$OA_BODY" '兑换失败，无效的兑换码' "$ws: ... with the API's message"
    oa_req POST /topup -b "$jar" --data-urlencode key="$code"
    is "$OA_STATUS|$(sql "SELECT quota FROM users WHERE id = $uid")" "403|1000000" "$ws: a redeem without the CSRF token is refused and adds nothing"
    page_post "$jar" /topup key="$code"
    is "$OA_STATUS|$(sql "SELECT quota FROM users WHERE id = $uid")" "303|1500000" "$ws: a code is redeemed"
    oa_req GET /topup -b "$jar" -c "$jar"
    like "$OA_BODY" 'Redeemed: \$1.000000 added' "$ws: ... which the page says"
    like "$OA_BODY" '\$3.000000' "$ws: ... with the new quota"
    page_post "$jar" /topup key="$code"
    like "$OA_BODY" '兑换失败，该兑换码已被使用' "$ws: a used code is refused"
    oa_admin PUT /api/option/ '{"key":"TopUpLink","value":"https://shop.example/buy"}'
    oa_req GET /topup -b "$jar"
    like "$OA_BODY" "href=\"https://shop.example/buy\\?username=alice&amp;user_id=$uid&amp;transaction_id=[0-9a-f]{32}\"" \
        "$ws: TopUpLink carries the username, id and a transaction id"
    html_valid "$ws: ... valid HTML"

    # Settings.
    oa_req GET /setting -b "$jar"
    is "$OA_STATUS" 200 "$ws: a member sees the settings"
    aff=$(sql "SELECT aff_code FROM users WHERE id = $uid")
    is "${#aff}" 4 "$ws: ... which made an invitation code"
    like "$OA_BODY" "/register\\?aff=$aff" "$ws: ... shown as a link"
    like "$OA_BODY" 'Not bound' "$ws: bound accounts show what is not bound"
    html_valid "$ws: ... valid HTML"
    page_post "$jar" /setting/profile username=alice display_name="Alice W"
    is "$OA_STATUS|$(sql "SELECT display_name FROM users WHERE id = $uid")" "303|Alice W" "$ws: the display name is saved"
    page_post "$jar" /setting/profile username=abcdefghijklm
    is "$OA_STATUS" 422 "$ws: a username over 12 bytes is refused"
    like "$OA_BODY" '输入不合法' "$ws: ... with the API's message"
    html_valid "$ws: ... valid HTML"
    page_post "$jar" /setting/password password=newpass123 password2=newpass124
    is "$OA_STATUS" 422 "$ws: two different new passwords are refused"
    page_post "$jar" /setting/password password=short password2=short
    like "$OA_BODY" '输入不合法' "$ws: a short password is refused with the API's message"
    page_post "$jar" /setting/password password=newpass123 password2=newpass123
    is "$OA_STATUS" 303 "$ws: the password is changed"
    ucsrf=$CSRF
    console_login "$OA_TMP/$ws.j2" alice newpass123 && pass "$ws: ... and the new one signs in"
    CSRF=$ucsrf
    oa_req GET /setting -b "$jar"
    is "$OA_STATUS" 200 "$ws: ... while this browser stays signed in"
    at0=$(sql "SELECT access_token FROM users WHERE id = $uid")
    page_post "$jar" /setting/access_token
    at=$(sql "SELECT access_token FROM users WHERE id = $uid")
    ok_if "$ws: a new access token is made" test "${#at}" = 32 -a "$at" != "$at0"
    like "$OA_BODY" "data-copy=\"$at\"" "$ws: ... and shown once with a copy button"
    html_valid "$ws: ... valid HTML"
    oa_req GET /api/user/self -H "Authorization: Bearer $at"
    is "$(json_get data.username)" alice "$ws: ... which the API takes"
    oa_req GET /setting -b "$jar"
    is "$(grep -c "$at" <<<"$OA_BODY" || true)" 0 "$ws: ... and never shows again"

    # Root: the admin sections' place, no deleting.
    ucsrf=$CSRF
    console_login "$rjar" root 123456
    oa_req GET /dashboard -b "$rjar"
    like "$OA_BODY" 'roots-model' "$ws: root's dashboard shows root's own usage"
    oa_req GET /token -b "$rjar"
    is "$(grep -c '<td>bulk\|<td>alpha' <<<"$OA_BODY" || true)" 0 "$ws: root's keys page lists only root's keys"
    oa_req GET /setting -b "$rjar"
    like "$OA_BODY" 'The root account cannot be deleted' "$ws: root is told it cannot delete itself"
    page_post "$rjar" /setting/delete
    is "$OA_STATUS" 422 "$ws: ... and a delete is refused"
    like "$OA_BODY" '不能删除超级管理员账户' "$ws: ... with the API's message"
    oa_req POST /setting/delete -b "$jar" --data ''
    CSRF=$ucsrf
    is "$OA_STATUS|$(sql "SELECT status FROM users WHERE id = $uid")" "403|1" "$ws: deleting without the CSRF token is refused"
    page_post "$jar" /setting/delete
    is "$OA_STATUS|$(header Location)" "303|/login" "$ws: a member deletes the account"
    is "$(sql "SELECT status FROM users WHERE id = $uid")" 3 "$ws: ... soft-deleted"
    oa_stop
done
done_testing
