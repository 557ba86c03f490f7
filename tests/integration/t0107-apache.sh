#!/usr/bin/env bash
# t0107: Apache mod_proxy_fcgi in front of one-api, with the shipped
# contrib/apache-proxy-fcgi.conf (addresses and paths rewritten for the test).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_have_apache || skip_all "apache2 is not installed"

ACCESS_TOKEN="oa-test-$(rand_name)$(rand_name)"
OA_ENV=("INITIAL_ROOT_ACCESS_TOKEN=$ACCESS_TOKEN")
mkdir -p "$OA_TMP/htdocs"
echo "static ok" >"$OA_TMP/htdocs/hello.txt"

if oa_start apache; then
    {
        # The shipped file logs to ${APACHE_LOG_DIR} (set by Debian's envvars).
        echo "Define APACHE_LOG_DIR $OA_RUN"
        sed -e "s|127\.0\.0\.1:3001|$OA_FCGI_ADDR|g" \
            -e "s|<VirtualHost \*:80>|<VirtualHost *:$OA_HTTP_PORT>|" \
            -e "s|/usr/local/share/one-api/htdocs|$OA_TMP/htdocs|g" \
            "$top_srcdir/contrib/apache-proxy-fcgi.conf"
    } >"$OA_RUN/site.conf"
    if oa_apache_start "$OA_RUN/site.conf" event proxy proxy_fcgi setenvif alias; then
        pass "apache: starts with contrib/apache-proxy-fcgi.conf"

        oa_req GET /api/status
        is "$OA_STATUS:$(json_get success)" "200:true" "apache: GET /api/status"
        is "$(json_get data.system_name)" "One API" "apache: ... data.system_name"
        like "$(header X-Oneapi-Request-Id)" '.' "apache: ... X-Oneapi-Request-Id is set"

        oa_req GET /static/hello.txt
        is "$OA_STATUS:$OA_BODY" "200:static ok" "apache: /static/ is served by Apache"

        oa_req GET /api/nope
        is "$OA_STATUS:$(json_get error.message)" "404:Invalid URL (GET /api/nope)" "apache: GET /api/nope is 404"
        oa_req DELETE /api/status
        is "$OA_STATUS:$(json_get error.message)" "404:Invalid URL (DELETE /api/status)" \
            "apache: DELETE /api/status is gin's 404 (no 405)"

        jar="$OA_RUN/cookies.txt"
        oa_post_json /api/user/login '{"username":"root","password":"123456"}' -c "$jar"
        is "$OA_STATUS:$(json_get success):$(json_get data.username)" "200:true:root" "apache: login as root"
        like "$(header Set-Cookie)" '^session=' "apache: ... session cookie"
        oa_req GET /api/user/self -b "$jar"
        is "$OA_STATUS:$(json_get data.username)" "200:root" "apache: the session works"
        oa_req GET /api/user/self -H "Authorization: Bearer $ACCESS_TOKEN"
        is "$OA_STATUS:$(json_get success)" "200:true" "apache: the Authorization header reaches one-api"
        oa_req GET /api/user/self
        is "$OA_STATUS" 401 "apache: no credentials is 401"
    fi
    oa_stop
fi

done_testing
