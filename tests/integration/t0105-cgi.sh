#!/usr/bin/env bash
# t0105: plain CGI mode (one request per process): the binary run with CGI
# environment variables and the body on stdin, then behind Apache mod_cgi with
# contrib/htaccess.example.
. "$(dirname "$0")/lib.sh"
oa_require_bin

SECRET="oa-test-secret-$(rand_name)"
ACCESS_TOKEN="oa-test-$(rand_name)$(rand_name)"

# cgi_run METHOD URI [BODY] [NAME=VALUE...]: run one-api once as CGI, as Apache
# would after the htaccess rewrite; sets OA_STATUS, OA_HEADERS, OA_BODY, OA_EXIT.
cgi_run() {
    local method=$1 uri=$2 body=${3:-}; shift 3 || shift $#
    local path=${uri%%\?*} query="" out="$OA_RUN/cgi.out" in="$OA_RUN/cgi.in"
    [[ $uri == *\?* ]] && query=${uri#*\?}
    printf '%s' "$body" >"$in"
    # stdin is a regular file, so fd 0 is not a socket: CGI, not spawned FastCGI.
    env -i PATH="$PATH" "${OA_DB_ENV[@]}" SESSION_SECRET="$SECRET" \
        INITIAL_ROOT_ACCESS_TOKEN="$ACCESS_TOKEN" \
        GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 SERVER_SOFTWARE=oa-test \
        SERVER_NAME=127.0.0.1 SERVER_PORT=80 REMOTE_ADDR=127.0.0.1 REMOTE_PORT=40000 \
        REQUEST_METHOD="$method" REQUEST_URI="$uri" QUERY_STRING="$query" \
        SCRIPT_NAME=/one-api.cgi PATH_INFO="$path" \
        SCRIPT_FILENAME="$ONEAPI_BIN" DOCUMENT_ROOT="$OA_RUN" \
        CONTENT_LENGTH="${body:+${#body}}" CONTENT_TYPE="${body:+application/json}" \
        "$@" timeout 20 "$ONEAPI_BIN" --log-dir "$OA_RUN/logs" <"$in" >"$out" 2>"$OA_RUN/cgi.err"
    OA_EXIT=$?
    cat "$OA_RUN/cgi.err" >>"$OA_RUN/one-api.out"
    cgi_split "$out"
}

# --- the binary alone, driven by the environment ---------------------------

OA_WS=cgi
oa_new_run cgi
oa_db_new

cgi_run GET /api/status ""
is "$OA_EXIT" 0 "cgi: GET /api/status exits 0"
is "$OA_STATUS" 200 "cgi: GET /api/status is 200"
like "$(header Content-Type)" '^application/json' "cgi: Content-Type is JSON"
like "$(header X-Oneapi-Request-Id)" '.' "cgi: X-Oneapi-Request-Id is set"
is "$(json_get success):$(json_get data.system_name)" "true:One API" "cgi: the status envelope"

cgi_run GET /api/nope ""
is "$OA_STATUS" 404 "cgi: GET /api/nope is 404"
is "$(json_get error.message)" "Invalid URL (GET /api/nope)" "cgi: ... error.message"

cgi_run POST /api/user/login '{"username":"root","password":"wrong-password"}'
is "$OA_STATUS:$(json_get success)" "200:false" "cgi: a wrong password is refused"

cgi_run POST /api/user/login '{"username":"root","password":"123456"}'
is "$OA_EXIT" 0 "cgi: POST /api/user/login exits 0"
is "$OA_STATUS:$(json_get success):$(json_get data.username)" "200:true:root" "cgi: login as root (body on stdin)"
cookie=$(header Set-Cookie) || cookie=""
like "$cookie" '^session=[^;]+;' "cgi: ... sets the session cookie"
cookie=${cookie%%;*}

# The session made by one process works in the next one.
cgi_run GET /api/user/self "" HTTP_COOKIE="$cookie"
is "$OA_STATUS:$(json_get success):$(json_get data.username)" "200:true:root" "cgi: the session works in a new process"
cgi_run GET /api/user/self "" HTTP_AUTHORIZATION="Bearer $ACCESS_TOKEN"
is "$OA_STATUS:$(json_get success)" "200:true" "cgi: an access token in HTTP_AUTHORIZATION works"
cgi_run GET /api/user/self ""
is "$OA_STATUS" 401 "cgi: no credentials is 401"
cgi_run GET /api/user/logout "" HTTP_COOKIE="$cookie"
is "$(json_get success)" true "cgi: logout"
# Signed-cookie sessions (as in Go One API): logout clears the browser's cookie.
cookie=$(header Set-Cookie) || cookie=""
like "$cookie" '^session=[^;]*;.*(Max-Age=0|Expires=)' "cgi: ... clears the session cookie"
cgi_run GET /api/user/self "" HTTP_COOKIE="${cookie%%;*}"
is "$OA_STATUS" 401 "cgi: the cleared cookie is refused in a new process"

cgi_run POST /api/user/login '{"username":' 
is "$OA_STATUS:$(json_get success):$(json_get message)" "200:false:invalid parameter" \
    "cgi: malformed JSON is One API's 200 envelope"

# Each request is a process of its own: without a fixed secret no login could last.
cgi_run GET /api/status "" SESSION_SECRET=
is "$OA_STATUS:$(json_get success)" "500:false" "cgi: without SESSION_SECRET plain CGI refuses to start"
like "$(cat "$OA_RUN/cgi.err")" 'SESSION_SECRET is not set' "cgi: ... and its log says why"
# The example secret of contrib/htaccess.example: a FastCGI process replaces it with a random
# one (as One API does), but a CGI process cannot, so it still refuses, saying why.
cgi_run GET /api/status "" SESSION_SECRET=change-me-to-a-long-random-string
is "$OA_STATUS:$(json_get success)" "500:false" "cgi: the example secret of contrib/htaccess.example is refused"
like "$(cat "$OA_RUN/cgi.err")" "example value 'change-me-to-a-long-random-string'.*plain CGI needs a real secret" "cgi: ... by name"

# --- behind Apache mod_cgi, with contrib/htaccess.example ------------------

if ! oa_have_apache; then
    skip "apache: mod_cgi with contrib/htaccess.example" "apache2 is not installed"
else
    OA_WS=apache-cgi
    oa_new_run apache-cgi
    oa_db_new
    www="$OA_RUN/www"
    mkdir -p "$www/static" "$OA_RUN/data"
    # The CGI runs as the Apache user: it needs the binary and a writable
    # database directory (the database itself stays out of the web directory).
    cp "$ONEAPI_BIN" "$www/one-api.cgi"
    echo "static ok" >"$www/static/hello.txt"
    db="$OA_RUN/data/one-api.db"
    if [[ $OA_TEST_DB == sqlite ]]; then OA_DB_PATH=$db; fi
    if [[ $(id -u) -eq 0 ]]; then chown -R www-data:www-data "$OA_RUN/data" "$OA_RUN/logs"; fi
    sed -e "s|^SetEnv SQLITE_PATH .*|SetEnv SQLITE_PATH $db|" \
        -e "s|^SetEnv LOG_DIR .*|SetEnv LOG_DIR $OA_RUN/logs|" \
        -e "s|^SetEnv SESSION_SECRET .*|SetEnv SESSION_SECRET $SECRET\nSetEnv INITIAL_ROOT_ACCESS_TOKEN $ACCESS_TOKEN|" \
        "$top_srcdir/contrib/htaccess.example" >"$www/.htaccess"
    if [[ $OA_TEST_DB == postgres ]]; then
        printf 'SetEnv SQL_DSN "%s"\n' "$OA_DB_PATH" >>"$www/.htaccess"
    fi
    cat >"$OA_RUN/site.conf" <<CONF
DocumentRoot "$www"
<Directory "$www">
    AllowOverride All
    Require all granted
</Directory>
CONF
    if oa_apache_start "$OA_RUN/site.conf" prefork cgi rewrite env dir alias; then
        oa_req GET /api/status
        is "$OA_STATUS:$(json_get success)" "200:true" "apache-cgi: GET /api/status"
        like "$(header X-Oneapi-Request-Id)" '.' "apache-cgi: X-Oneapi-Request-Id is set"
        oa_req GET /static/hello.txt
        is "$OA_STATUS:$OA_BODY" "200:static ok" "apache-cgi: static files are served by Apache"
        oa_req GET /v1/nope
        is "$OA_STATUS:$(json_get error.message)" "404:Invalid URL (GET /v1/nope)" "apache-cgi: GET /v1/nope is 404"
        jar="$OA_RUN/cookies.txt"
        oa_post_json /api/user/login '{"username":"root","password":"123456"}' -c "$jar"
        is "$OA_STATUS:$(json_get success)" "200:true" "apache-cgi: login as root"
        oa_req GET /api/user/self -b "$jar"
        is "$OA_STATUS:$(json_get data.username)" "200:root" "apache-cgi: the session works"
        oa_req GET /api/user/self -H "Authorization: Bearer $ACCESS_TOKEN"
        is "$OA_STATUS:$(json_get success)" "200:true" "apache-cgi: CGIPassAuth passes the access token"
        oa_req GET /one-api.db
        isnt "$OA_STATUS" 200 "apache-cgi: a .db file is not served"
    fi
    oa_stop
fi

done_testing
