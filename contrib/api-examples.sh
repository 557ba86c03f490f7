#!/usr/bin/env bash
# api-examples.sh: drives the management API with an access token only (no cookie), the way a
# provisioning script would: creates a channel, a relay key and a batch of redemption codes,
# and prints them.
#
# Usage:
#   ONEAPI_URL=http://localhost:3000 ONEAPI_ACCESS_TOKEN=<32 hex> contrib/api-examples.sh
# Optional: UPSTREAM_BASE_URL (the channel's base URL; empty = the provider's default),
#   UPSTREAM_KEY (the channel's key, default sk-example), CHANNEL_MODELS (comma list,
#   default gpt-4o-mini), CODE_COUNT (default 3), CODE_QUOTA (default 500000 = US$1), NAME
#   (a prefix for what it creates, default api-example).
# The access token is root's INITIAL_ROOT_ACCESS_TOKEN, or GET /api/user/token after a login
# (it then replaces the old one). Needs curl and jq (or python3).
set -euo pipefail

url=${ONEAPI_URL:-http://localhost:3000}
at=${ONEAPI_ACCESS_TOKEN:?set ONEAPI_ACCESS_TOKEN to an admin user\'s access token}
name=${NAME:-api-example}
models=${CHANNEL_MODELS:-gpt-4o-mini}

# field JSON PATH: the value at a dotted path (array indexes are numbers), "" when absent.
field() {
    if command -v jq >/dev/null 2>&1; then
        jq -r "getpath(\"$2\" | split(\".\") | map(tonumber? // .)) // empty | if type == \"array\" then .[] else . end" <<<"$1"
    else
        python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else (v or {}).get(k)
if isinstance(v, list):
    print("\n".join(map(str, v)))
elif isinstance(v, bool):
    print("true" if v else "false")
elif v is not None:
    print(v)' "$1" "$2"
    fi
}

# api METHOD PATH [BODY]: the answer of a management call; exits with its message when it
# reports success:false.
api() {
    local args=(-sS -X "$1" -H "Authorization: Bearer $at" "$url$2")
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    local out
    out=$(curl "${args[@]}")
    if [[ $(field "$out" success) != true ]]; then
        echo "api-examples: $1 $2 failed: $(field "$out" message)" >&2
        exit 1
    fi
    printf '%s' "$out"
}

json_str() { # a JSON string literal of $1
    if command -v jq >/dev/null 2>&1; then jq -Rn --arg s "$1" '$s'; else
        python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; fi
}

me=$(api GET /api/user/self)
echo "signed in as $(field "$me" data.username) (role $(field "$me" data.role))"

channel_name="$name-$(date +%s)"
api POST /api/channel/ "{\"type\":1,\"name\":$(json_str "$channel_name"),\"key\":$(json_str "${UPSTREAM_KEY:-sk-example}"),\"base_url\":$(json_str "${UPSTREAM_BASE_URL:-}"),\"models\":$(json_str "$models"),\"group\":\"default\"}" >/dev/null
found=$(api GET "/api/channel/search?keyword=$channel_name")
echo "channel: id $(field "$found" data.0.id), name $channel_name, models $models"

token=$(api POST /api/token/ "{\"name\":$(json_str "$name"),\"remain_quota\":${CODE_QUOTA:-500000},\"unlimited_quota\":false,\"expired_time\":-1}")
echo "key: sk-$(field "$token" data.key) (id $(field "$token" data.id))"

codes=$(api POST /api/redemption/ "{\"name\":$(json_str "$name"),\"count\":${CODE_COUNT:-3},\"quota\":${CODE_QUOTA:-500000}}")
echo "redemption codes:"
field "$codes" data | sed 's/^/  /'
