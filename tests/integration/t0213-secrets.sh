#!/usr/bin/env bash
# t0213: no secret reaches someone who may not see it. With every secret option set, a user
# with a password, an access token and a key, and a channel key: every management listing
# answered to root, to an admin and to a common user is searched for each secret, and so is
# everything one-api wrote to its log.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env

secret() { echo "s3cr3t$1$(rand_name)"; }
SMTP_TOKEN=$(secret smtp)
GITHUB_SECRET=$(secret gh)
LARK_SECRET=$(secret lark)
WECHAT_TOKEN=$(secret wx)
PUSHER_TOKEN=$(secret push)
TURNSTILE_SECRET=$(secret ts)
OIDC_SECRET=$(secret oidc)
CHANNEL_KEY="sk-$(secret chan)"
BOB_PASS="Pw$(rand_name)"
ADA_PASS="Pw$(rand_name)"

# search DESC: fails when $OA_BODY holds any secret of the list that follows.
search() {
    local desc=$1 s hit=""; shift
    for s in "$@"; do [[ -n $s && $OA_BODY == *"$s"* ]] && hit+=" $s"; done
    is "$hit" "" "$desc"
}

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option SMTPToken "$SMTP_TOKEN"
    oa_set_option GitHubClientSecret "$GITHUB_SECRET"
    oa_set_option LarkClientSecret "$LARK_SECRET"
    oa_set_option WeChatServerToken "$WECHAT_TOKEN"
    oa_set_option MessagePusherToken "$PUSHER_TOKEN"
    oa_set_option TurnstileSecretKey "$TURNSTILE_SECRET"
    oa_set_option OidcClientSecret "$OIDC_SECRET"
    OA_KEEP_DB=1 oa_start "$ws" || continue

    # bob: a common user; ada: an admin. Both created through the API.
    oa_admin POST /api/user/ "{\"username\":\"bob\",\"password\":\"$BOB_PASS\"}"
    is "$(json_get success)" true "$ws: root creates bob"
    oa_admin POST /api/user/ "{\"username\":\"ada\",\"password\":\"$ADA_PASS\"}"
    oa_admin POST /api/user/manage '{"username":"ada","action":"promote"}'
    is "$(json_get success)" true "$ws: root promotes ada"
    login() { oa_post_json /api/user/login "{\"username\":\"$1\",\"password\":\"$2\"}" -c "$OA_TMP/$1.jar"; }
    login bob "$BOB_PASS"
    oa_req GET /api/user/token -b "$OA_TMP/bob.jar"
    BOB_AT=$(json_get data)
    is "${#BOB_AT}" 32 "$ws: bob gets his access token after a cookie login"
    login ada "$ADA_PASS"
    oa_req GET /api/user/token -b "$OA_TMP/ada.jar"
    ADA_AT=$(json_get data)
    oa_add_token '{"name":"bobkey","unlimited_quota":true}' "$BOB_AT"
    BOB_KEY=$TOK_KEY
    oa_add_channel "{\"type\":1,\"name\":\"c1\",\"key\":\"$CHANNEL_KEY\",\"models\":\"gpt-4o-mini\"}"
    BOB_HASH=$(oa_db_query "SELECT password FROM users WHERE username = 'bob'")
    ROOT_HASH=$(oa_db_query "SELECT password FROM users WHERE username = 'root'")
    options=("$SMTP_TOKEN" "$GITHUB_SECRET" "$LARK_SECRET" "$WECHAT_TOKEN" "$PUSHER_TOKEN"
        "$TURNSTILE_SECRET" "$OIDC_SECRET")
    bobs=("$BOB_PASS" "$BOB_HASH" "$BOB_AT" "$BOB_KEY")
    everyone=("$ADA_PASS" "$ROOT_HASH" "$ROOT_AT" "$ROOT_KEY" "$ADA_AT" "$CHANNEL_KEY")

    # Root sees options and every user, never a secret option, a hash, or another user's
    # access token or key.
    for path in /api/option/ /api/user/ '/api/user/search?keyword=b' "/api/user/$(oa_db_query "SELECT id FROM users WHERE username = 'bob'")" \
        /api/channel/ /api/log/ /api/status /api/user/self; do
        oa_admin GET "$path"
        is "$(json_get success)" true "$ws: root GET $path answers"
        search "$ws: root GET $path shows no secret" "${options[@]}" "${bobs[@]}" "$ROOT_HASH" "$ADA_PASS" "$ADA_AT" "$CHANNEL_KEY"
    done
    # The admin sees users and channels, not their secrets.
    for path in /api/user/ /api/channel/ /api/log/ /api/user/self; do
        oa_req GET "$path" -H "Authorization: $ADA_AT"
        is "$(json_get success)" true "$ws: admin GET $path answers"
        search "$ws: admin GET $path shows no secret" "${options[@]}" "${bobs[@]}" "$ROOT_HASH" "$ROOT_AT" "$ROOT_KEY" "$CHANNEL_KEY"
    done
    # A common user sees his own keys, nothing of anyone else.
    for path in /api/user/self /api/token/ /api/log/self /api/status /api/option/ /api/user/; do
        oa_req GET "$path" -H "Authorization: $BOB_AT"
        search "$ws: user GET $path shows no secret of others" "${options[@]}" "${everyone[@]}" "$BOB_HASH" "$BOB_PASS"
    done

    # A few calls that carry secrets in their bodies, then the log.
    login bob "wrong$BOB_PASS"
    oa_relay /v1/chat/completions "$BOB_KEY" '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    oa_stop
    OA_BODY=$(cat "$OA_RUN"/one-api.out "$OA_RUN"/logs/* 2>/dev/null || true)
    search "$ws: one-api's log holds no secret" "${options[@]}" "${bobs[@]}" "${everyone[@]}" "wrong$BOB_PASS"
done
done_testing
