#!/usr/bin/env bash
# t0406: the console in headless Chromium (playwright-core from the npm registry, the system's
# chromium): root signs in through the form, creates a channel on the mock upstream and a key
# through the console's forms; a relay call with curl and that key shows on /log; the THEME
# option switched to dark through the API gives the dark stylesheet; every page visited fits
# 375 px without horizontal scrolling; no console error, page error or failed request on the
# way. Screenshots of each step go to the test's run directory, and with UPDATE_SCREENSHOTS=1
# /channel and /dashboard at 1280x800 go to docs/screenshots/.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
have node && have npm || skip_all "node and npm are needed"

pw_dir=${OA_PLAYWRIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/one-api-tests/playwright}
if [[ ! -d $pw_dir/node_modules/playwright-core ]]; then
    mkdir -p "$pw_dir"
    (cd "$pw_dir" && npm init -y >/dev/null 2>&1 &&
        timeout 300 npm install --no-audit --no-fund playwright-core@1 >"$OA_TMP/npm.log" 2>&1) ||
        bail_out "cannot install playwright-core from the npm registry: $(tail -3 "$OA_TMP/npm.log" 2>/dev/null)"
fi
[[ -x /usr/bin/chromium ]] || bail_out "no /usr/bin/chromium (Debian's chromium package)"

relay_env
mock_start
script="$top_srcdir/tests/browser/console.mjs"
# browser PHASE ARGS...: one run of the browser script; its TAP lines become test points.
browser() {
    local res line
    res=$(timeout 180 node "$script" "$pw_dir" "$OA_URL" "$shots" "$@" 2>&1)
    [[ -n $res ]] || res="not ok - $1: node printed nothing"
    while IFS= read -r line; do
        case $line in
        "ok - "*) pass "$OA_WS: ${line#ok - }" ;;
        "not ok - "*) fail "$OA_WS: ${line#not ok - }" ;;
        *) diag "$line" ;;
        esac
    done <<<"$res"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    shots="$OA_RUN/screenshots"
    mkdir -p "$shots"
    mock_reset

    browser setup "$MOCK_URL"
    key=$(oa_db_query "SELECT \"key\" FROM tokens WHERE name = 'browser-key'")
    like "$key" '^[0-9A-Za-z]{48}$' "$ws: the key made in the browser is in the database"
    oa_relay /v1/chat/completions "$key" '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 200 "$ws: a relay call with curl and the new key goes through the new channel"
    oa_wait_logs 1 || diag "no consume log row yet"
    browser log gpt-3.5-turbo

    oa_admin PUT /api/option/ '{"key":"Theme","value":"dark"}'
    is "$(json_get success)" true "$ws: root switches THEME to dark through the API"
    browser dark
    oa_admin PUT /api/option/ '{"key":"Theme","value":"default"}'

    browser narrow / /about /login /register /reset /dashboard /channel /channel/new /token \
        /token/new /log /setting
    if [[ ${UPDATE_SCREENSHOTS:-} == 1 ]]; then
        mkdir -p "$top_srcdir/docs/screenshots"
        browser shots "$top_srcdir/docs/screenshots"
    fi
    diag "screenshots: $shots"
    oa_stop
done
done_testing
