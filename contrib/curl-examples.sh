#!/usr/bin/env bash
# curl examples for One API in C: run it against a server (contrib/run starts
# one on http://localhost:3000) to see each request and its answer, or copy the
# commands. The routes and JSON are One API's, so its clients work unchanged.
#
#   contrib/curl-examples.sh [BASE_URL]
# Environment: ONEAPI_USER / ONEAPI_PASSWORD (default root / 123456),
# ONEAPI_ACCESS_TOKEN (a management access token, e.g. INITIAL_ROOT_ACCESS_TOKEN),
# ONEAPI_KEY (a relay key "sk-...", e.g. "sk-" + INITIAL_ROOT_TOKEN).
set -euo pipefail

base=${1:-${ONEAPI_URL:-http://localhost:${PORT:-3000}}}
user=${ONEAPI_USER:-root}
password=${ONEAPI_PASSWORD:-123456}
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT

# show DESCRIPTION CURL-ARGS...: print the command, run it, print the answer.
show() {
    local desc=$1; shift
    printf '\n### %s\n$ curl %s\n' "$desc" "$*"
    curl -sS -i "$@" || true
    echo
}

# Public: the site's status (version, system name, quota per unit...).
show "status" "$base/api/status"

# Log in with a password: the answer sets the "session" cookie (30 days).
show "login" -c "$jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/api/user/login"

# The logged-in user, with the session cookie.
show "self (session cookie)" -b "$jar" "$base/api/user/self"

# The same with a management access token instead of a cookie; "Bearer" is optional.
if [[ -n ${ONEAPI_ACCESS_TOKEN:-} ]]; then
    show "self (access token)" -H "Authorization: Bearer $ONEAPI_ACCESS_TOKEN" "$base/api/user/self"
fi

# Without credentials: 401 and One API's message.
show "self (no credentials)" "$base/api/user/self"

# Errors keep One API's shapes: 404 / 405 in OpenAI's error format.
show "unknown route" "$base/api/nope"
show "wrong method" -X DELETE "$base/api/status"

# The OpenAI-compatible relay, with a relay key (sk-...).
if [[ -n ${ONEAPI_KEY:-} ]]; then
    show "models" -H "Authorization: Bearer $ONEAPI_KEY" "$base/v1/models"
    show "chat completion" -H "Authorization: Bearer $ONEAPI_KEY" -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' \
        "$base/v1/chat/completions"
    # Streaming: -N prints each server-sent event as it arrives.
    show "chat completion (stream)" -N -H "Authorization: Bearer $ONEAPI_KEY" \
        -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count to 5"}]}' \
        "$base/v1/chat/completions"
fi

# Log out: the session cookie is cleared.
show "logout" -b "$jar" -c "$jar" "$base/api/user/logout"
