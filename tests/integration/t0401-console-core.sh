#!/usr/bin/env bash
# t0401: the console's shared machinery: public pages (home, about, sign-in) are valid HTML
# with the security headers and a CSP nonce; the stylesheet comes from the web server; an
# unknown page is an HTML 404 while /api and /v1 keep their JSON; signing in and out through
# the forms; a form without the right CSRF token is refused; a member page sends anonymous
# visitors to the sign-in page and back; admin-written content (home page, notice, footer) and
# the Theme option show at once.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    jar="$OA_TMP/$ws.jar"

    for page in / /about /login; do
        oa_req GET "$page"
        is "$OA_STATUS" 200 "$ws: GET $page is 200"
        html_valid "$ws: GET $page is valid HTML"
    done
    oa_req GET /login
    like "$(header Content-Security-Policy)" "script-src 'self' 'nonce-[A-Za-z0-9_-]+'" \
        "$ws: pages carry a CSP with a nonce"
    is "$(header X-Frame-Options)|$(header X-Content-Type-Options)" "DENY|nosniff" \
        "$ws: ... no framing, no sniffing"
    like "$OA_BODY" '<label for="username">' "$ws: the sign-in form labels its fields"

    oa_req GET /static/style.css
    is "$OA_STATUS" 200 "$ws: the web server serves /static/style.css from htdocs"
    like "$(header Content-Type)" "text/css" "$ws: ... as CSS"

    oa_req GET /no/such/page
    is "$OA_STATUS" 404 "$ws: an unknown page is 404"
    like "$(header Content-Type)" "text/html" "$ws: ... an HTML page"
    html_valid "$ws: ... valid HTML"
    oa_req GET /api/no/such
    is "$OA_STATUS:$(json_get error.type)" "404:invalid_request_error" "$ws: /api keeps One API's JSON 404"

    # Sign-in: a wrong CSRF token is refused, a wrong password says so, the right one signs in.
    oa_req GET /login -c "$jar"
    CSRF=$(page_csrf)
    is "${#CSRF}" 32 "$ws: the form carries a CSRF token"
    oa_req POST /login -b "$jar" --data-urlencode "csrf=${CSRF/?/x}" \
        --data-urlencode username=root --data-urlencode password=123456
    is "$OA_STATUS" 403 "$ws: a sign-in with a wrong CSRF token is refused"
    isnt "$(header Set-Cookie | grep -c '^session=')" 1 "$ws: ... and signs nobody in"
    oa_req POST /login -b "$jar" --data-urlencode username=root --data-urlencode password=123456
    is "$OA_STATUS" 403 "$ws: a sign-in without a token is refused"
    page_post "$jar" /login username=root password=wrong
    is "$OA_STATUS" 200 "$ws: a wrong password shows the form again"
    like "$OA_BODY" '用户名或密码错误' "$ws: ... with One API's message"
    like "$OA_BODY" 'value="root"' "$ws: ... and the name typed"
    page_post "$jar" /login username=root password=123456 next=/token
    is "$OA_STATUS|$(header Location)" "303|/token" "$ws: the right password signs in and goes back"
    page_post "$jar" /login username=root password=123456 next=//evil.example/
    is "$(header Location)" "/dashboard" "$ws: a 'next' that leaves the site is ignored"
    oa_req GET / -b "$jar"
    like "$OA_BODY" '<form class="signout"' "$ws: signed in, the layout offers to sign out"
    like "$OA_BODY" 'href="/channel"' "$ws: ... and root sees the admin pages in the menu"
    oa_req GET /login -b "$jar"
    is "$OA_STATUS|$(header Location)" "303|/dashboard" "$ws: the sign-in page sends a signed-in user on"

    # Sign-out is a POST with the token.
    oa_req POST /logout -b "$jar" -c "$jar" --data ''
    is "$OA_STATUS" 403 "$ws: a sign-out without the CSRF token is refused"
    page_post "$jar" /logout
    is "$OA_STATUS|$(header Location)" "303|/login" "$ws: signing out goes to the sign-in page"
    like "$OA_HEADERS" 'Set-Cookie: session=; Path=/; Max-Age=0' "$ws: ... and clears the session cookie"
    # curl keeps a cookie cleared in an answer that sets another one; a browser drops it.
    sed -i '/\tsession\t/d' "$jar"
    oa_req GET /login -b "$jar" -c "$jar"
    like "$OA_BODY" 'You are signed out' "$ws: ... which says so once"
    oa_req GET /login -b "$jar" -c "$jar"
    unlike_flash=$(grep -c 'You are signed out' <<<"$OA_BODY" || true)
    is "$unlike_flash" 0 "$ws: ... and only once"

    # Admin-written content and the theme, changed through the API, show at once.
    oa_admin PUT /api/option/ '{"key":"HomePageContent","value":"# Welcome\n\nHello **there**"}'
    oa_admin PUT /api/option/ '{"key":"Notice","value":"Maintenance <b>tonight</b>"}'
    oa_admin PUT /api/option/ '{"key":"SystemName","value":"Gate <&>"}'
    oa_req GET /
    like "$OA_BODY" '<h1>Welcome</h1>' "$ws: the home page renders HomePageContent as Markdown"
    like "$OA_BODY" '<b>tonight</b>' "$ws: the notice shows the admin's HTML"
    like "$OA_BODY" '<title>Gate &lt;&amp;&gt;</title>' "$ws: the system name is escaped"
    html_valid "$ws: ... still valid HTML"
    oa_admin PUT /api/option/ '{"key":"HomePageContent","value":"https://example.org/landing"}'
    oa_req GET /
    like "$OA_BODY" '<iframe class="home-frame" src="https://example.org/landing"' \
        "$ws: a URL as HomePageContent is shown in a frame"
    oa_req GET /
    isnt "$(grep -c 'dark.css' <<<"$OA_BODY")" 1 "$ws: the default theme has no dark stylesheet"
    oa_admin PUT /api/option/ '{"key":"Theme","value":"dark"}'
    oa_req GET /
    like "$OA_BODY" 'href="/static/dark.css"' "$ws: Theme=dark switches the theme at once"
    like "$OA_BODY" 'data-theme="dark"' "$ws: ... and says so on the page"
    oa_stop
done
done_testing
