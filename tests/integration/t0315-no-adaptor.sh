#!/usr/bin/env bash
# t0315: channel types this build has no adaptor for. Every type of One API's registry has one
# now, so the test uses a type id outside it (99), as a database shared with a fork that added
# types would hold. Such a channel is never a routing candidate: the relay serves the model
# from the other channels instead of failing with 400. The API and the console refuse to
# create a channel of such a type or to switch one to it, while an existing row of such a type
# stays readable and editable in its other fields.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
NONE=99 # no row of the registry
n_channels() { oa_db_query "SELECT COUNT(*) FROM channels"; }
ask() { oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; }

for cache in false true; do
    for ws in $(oa_webservers); do
        oa_db_init
        OA_ENV_SAVED=("${OA_ENV[@]}")
        OA_ENV+=("MEMORY_CACHE_ENABLED=$cache")
        OA_KEEP_DB=1 oa_start "$ws" || continue
        OA_ENV=("${OA_ENV_SAVED[@]}")
        tag="$ws (memory cache $cache)"

        # --- the API refuses the type -----------------------------------------------------
        oa_admin POST /api/channel/ "{\"type\":$NONE,\"name\":\"zhipu\",\"key\":\"k-zhipu\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
        is "$OA_STATUS|$(json_fields success)" "200|false" "$tag: creating a channel of a type without an adaptor is refused"
        like "$(json_fields message)" "^unknown channel type $NONE" "$tag: ... saying why"
        oa_admin POST /api/channel/ "{\"type\":999,\"name\":\"x\",\"key\":\"k-x\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
        is "$(json_fields success message)" "false|unknown channel type 999" "$tag: an unknown type is refused"
        is "$(n_channels)" 0 "$tag: ... and nothing was stored"

        # A row of such a type, as a One API database has them, at the top priority.
        oa_add_channel "{\"type\":1,\"name\":\"legacy\",\"key\":\"k-legacy\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini,ernie-bot\",\"group\":\"default\",\"priority\":10}"
        legacy=$CH_ID
        oa_db_query "UPDATE channels SET type = $NONE WHERE id = $legacy" >/dev/null
        oa_add_channel "{\"type\":1,\"name\":\"good\",\"key\":\"k-good\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\",\"priority\":0}"
        good=$CH_ID

        # --- routing ----------------------------------------------------------------------
        mock_reset
        st=""
        for i in 1 2 3; do ask gpt-4o-mini; st+="$OA_STATUS "; done
        is "$st|$(mock_keys)" "200 200 200 |k-good,k-good,k-good" \
            "$tag: the top-priority channel without an adaptor is skipped; the lower one answers"
        ask ernie-bot
        isnt "$OA_STATUS|$(json_fields error.code)" "400|invalid_api_type" \
            "$tag: a model only that channel has is not a 400 invalid_api_type"
        like "$(json_fields error.message)" 'ernie-bot' "$tag: ... but no channel for the model ($OA_STATUS)"

        # --- the row stays readable and editable --------------------------------------------
        oa_admin GET "/api/channel/$legacy"
        is "$(json_fields success data.type data.name)" "true|$NONE|legacy" "$tag: the row is readable"
        oa_admin PUT /api/channel/ "{\"id\":$legacy,\"type\":$NONE,\"name\":\"legacy-renamed\"}"
        is "$(json_fields success data.type data.name)" "true|$NONE|legacy-renamed" \
            "$tag: an edit that keeps its type is accepted"
        oa_admin PUT /api/channel/ "{\"id\":$legacy,\"weight\":7}"
        is "$(json_fields success data.weight)" "true|7" "$tag: an edit without a type is accepted"
        oa_admin PUT /api/channel/ "{\"id\":$legacy,\"type\":1}"
        is "$(json_fields success data.type)" "true|1" "$tag: it may switch to a type with an adaptor"
        oa_admin PUT /api/channel/ "{\"id\":$good,\"type\":$NONE,\"name\":\"good-renamed\"}"
        is "$OA_STATUS|$(json_fields success)" "200|false" "$tag: switching a channel to a type without an adaptor is refused"
        like "$(json_fields message)" "^unknown channel type $NONE" "$tag: ... saying why"
        is "$(oa_db_query "SELECT type || '|' || name FROM channels WHERE id = $good")" "1|good" \
            "$tag: ... and nothing was changed"

        # --- the console ------------------------------------------------------------------
        jar=$OA_TMP/jar-$ws-$cache
        console_login "$jar" root 123456
        oa_req GET /channel/new -b "$jar"
        unlike "$OA_BODY" "value=\"$NONE\"" "$tag: the console's form does not offer the type"
        unlike "$OA_BODY" "no adaptor" "$tag: ... and every type it offers has an adaptor"
        CSRF=$(page_csrf)
        page_post "$jar" /channel/save name=console type=$NONE key=k-console g_0=default models=gpt-4o-mini
        is "$OA_STATUS|$(n_channels)" "422|2" "$tag: the console refuses to create one"
        like "$OA_BODY" 'unknown channel type' "$tag: ... saying why"
        oa_db_query "UPDATE channels SET type = $NONE WHERE id = $legacy" >/dev/null
        oa_req GET "/channel/edit?id=$legacy" -b "$jar"
        like "$OA_BODY" "<option value=\"$NONE\" selected>$NONE \\(unknown, no adaptor\\)</option>" \
            "$tag: the edit form of such a row offers its own type"
        page_post "$jar" /channel/save id="$legacy" name=legacy-console type=$NONE key= "base_url=$MOCK_URL" \
            models=gpt-4o-mini g_0=default
        is "$OA_STATUS|$(oa_db_query "SELECT type || '|' || name FROM channels WHERE id = $legacy")" \
            "303|$NONE|legacy-console" "$tag: the console saves an existing row that keeps its type"
        oa_stop
    done
done

done_testing
