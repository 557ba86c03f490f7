#!/usr/bin/env bash
# t0403: the channels pages (/channel, /channel/new, /channel/edit) and their form actions:
# admin only (anonymous visitors go to sign in, a common user gets a 403 page); the list with
# its search, pages and empty state; adding one channel and a batch (one per key line);
# editing keeps the stored key when the field is left empty; a model mapping that is not a
# JSON object is refused beside the field; testing against the mock upstream shows the time;
# enabling, disabling, deleting, deleting the disabled ones, the balance; forms without the
# right CSRF token are refused and change nothing; every page is valid HTML.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
mock_start

n_channels() { oa_db_query "SELECT COUNT(*) FROM channels"; }
col() { oa_db_query "SELECT $2 FROM channels WHERE id = $1"; }

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    mock_reset
    jar="$OA_TMP/$ws.jar" bjar="$OA_TMP/$ws.bob.jar"
    rm -f "$jar" "$bjar"

    # Who may see the pages.
    for page in /channel /channel/new "/channel/edit?id=1"; do
        oa_req GET "$page"
        is "$OA_STATUS" 303 "$ws: anonymous GET $page goes to sign in"
        like "$(header Location)" '^/login\?next=' "$ws: ... and back"
    done
    oa_admin POST /api/user/ '{"username":"bob","password":"bob-pass-1","display_name":"Bob"}'
    console_login "$bjar" bob bob-pass-1
    for page in /channel /channel/new; do
        oa_req GET "$page" -b "$bjar"
        is "$OA_STATUS" 403 "$ws: a common user gets 403 on $page"
        like "$OA_BODY" 'Not allowed' "$ws: ... an HTML page"
    done
    page_post "$bjar" /channel/delete_disabled
    is "$OA_STATUS" 403 "$ws: ... and may not post the forms"

    console_login "$jar" root 123456
    oa_req GET /channel -b "$jar"
    is "$OA_STATUS" 200 "$ws: root opens /channel"
    like "$OA_BODY" 'No channels yet' "$ws: ... the empty state"
    like "$OA_BODY" 'href="/channel/new"' "$ws: ... offers to add one"
    html_valid "$ws: the empty list is valid HTML"

    oa_req GET /channel/new -b "$jar"
    is "$OA_STATUS" 200 "$ws: the add form"
    like "$OA_BODY" '<option value="14">Anthropic</option>' "$ws: ... a select of the registry's types"
    like "$OA_BODY" 'value="gpt-4o-mini"' "$ws: ... the built-in models of OpenAI to tick"
    like "$OA_BODY" 'name="g_[0-9]+" value="vip"' "$ws: ... the groups of GroupRatio"
    like "$OA_BODY" '<legend>AWS Claude</legend>' "$ws: ... the type-specific fields, all present"
    like "$OA_BODY" 'each non-empty line creates a channel' "$ws: ... says keys make a batch"
    html_valid "$ws: the add form is valid HTML"
    CSRF=$(page_csrf)

    # Add one.
    page_post "$jar" /channel/save name=one type=1 "key=sk-one" "base_url=$MOCK_URL/" \
        "models=gpt-3.5-turbo, gpt-4o" m_0=gpt-4o-mini g_0=default priority=2 weight=3 \
        'model_mapping={"gpt-4":"gpt-4o"}'
    is "$OA_STATUS|$(header Location)" "303|/channel" "$ws: adding a channel goes back to the list"
    one=$(oa_db_query "SELECT MAX(id) FROM channels")
    is "$(col "$one" "name || '|' || key || '|' || base_url || '|' || models || '|' || \"group\" || '|' || priority || '|' || weight")" \
        "one|sk-one|$MOCK_URL|gpt-3.5-turbo,gpt-4o,gpt-4o-mini|default|2|3" \
        "$ws: ... stored: the key, the base URL without its slash, typed and ticked models"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" 'Channel added' "$ws: ... with a flash"

    # A batch of three.
    page_post "$jar" /channel/save name=batch type=1 $'key=k-b1\nk-b2\r\n\nk-b3' models=gpt-3.5-turbo \
        "base_url=$MOCK_URL" g_0=default
    is "$OA_STATUS" 303 "$ws: a batch of keys is added"
    is "$(oa_db_query "SELECT COUNT(*) || ':' || MIN(key) || ':' || MAX(key) FROM channels WHERE name = 'batch'")" \
        "3:k-b1:k-b3" "$ws: ... one channel per non-empty line"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" '3 channels added' "$ws: ... which the flash says"

    # Failures re-render the form with the error beside the field, and save nothing.
    before=$(n_channels)
    page_post "$jar" /channel/save name=bad type=1 key=k-bad g_0=default 'model_mapping={"a":'
    is "$OA_STATUS" 422 "$ws: an invalid model mapping is refused"
    like "$OA_BODY" 'id="mapping-error">The model mapping must be a JSON object' "$ws: ... beside the field"
    like "$OA_BODY" 'value="bad"' "$ws: ... the form keeps what was typed"
    html_valid "$ws: ... valid HTML"
    page_post "$jar" /channel/save name=bad type=1 key=k-bad g_0=default 'model_mapping=[1]'
    is "$OA_STATUS" 422 "$ws: a mapping that is JSON but not an object is refused too"
    page_post "$jar" /channel/save name=bad type=1 "key= " g_0=default
    is "$OA_STATUS" 422 "$ws: a key with no line is refused"
    like "$OA_BODY" 'enter at least one key' "$ws: ... beside the key"
    page_post "$jar" /channel/save name= type=1 key=k g_0=default
    like "$OA_STATUS|$OA_BODY" '^422\|.*id="name-error">Enter a name' "$ws: a name is required"
    page_post "$jar" /channel/save name=x type=1 key=k
    like "$OA_BODY" 'Choose at least one group' "$ws: at least one group"
    page_post "$jar" /channel/save name=x type=1 key=k g_0=default weight=-1
    like "$OA_BODY" 'The weight is a whole number' "$ws: a negative weight is refused"
    is "$(n_channels)" "$before" "$ws: ... none of them saved anything"
    page_post "$jar" /channel/save name=x type=14 key=k fill=1
    is "$OA_STATUS" 200 "$ws: 'fill the built-in list' shows the form again"
    like "$OA_BODY" 'claude-3-5-sonnet-latest' "$ws: ... with the chosen type's models in the list"
    is "$(n_channels)" "$before" "$ws: ... without saving"

    # Edit: the key is never shown; empty keeps it.
    oa_req GET "/channel/edit?id=$one" -b "$jar"
    is "$OA_STATUS" 200 "$ws: the edit form"
    unlike=$(grep -c 'sk-one' <<<"$OA_BODY" || true)
    is "$unlike" 0 "$ws: ... never shows the stored key"
    like "$OA_BODY" 'value="one"' "$ws: ... shows the name"
    like "$OA_BODY" 'gpt-3.5-turbo,gpt-4o,gpt-4o-mini</textarea>' "$ws: ... and the models"
    html_valid "$ws: the edit form is valid HTML"
    page_post "$jar" /channel/save id="$one" name=one-renamed type=1 key= "base_url=$MOCK_URL" \
        models=gpt-3.5-turbo g_0=default g_1=vip priority=1 weight=0 model_mapping=
    is "$OA_STATUS" 303 "$ws: saving the edit form"
    is "$(col "$one" "name || '|' || key || '|' || models || '|' || \"group\" || '|' || model_mapping")" \
        "one-renamed|sk-one|gpt-3.5-turbo|default,vip|" "$ws: ... an empty key kept the stored one"
    page_post "$jar" /channel/save id="$one" name=one-renamed type=3 key=sk-new g_0=default other=
    is "$(col "$one" "key || '|' || other || '|' || type")" "sk-new|2024-03-01-preview|3" \
        "$ws: a new key is written; Azure gets the default API version"
    page_post "$jar" /channel/save id="$one" name=one type=1 key= "base_url=$MOCK_URL" \
        models=gpt-3.5-turbo g_0=default
    is "$(col "$one" "type || '|' || other")" "1|2024-03-01-preview" \
        "$ws: only Azure's field writes 'other': another type's save leaves it"
    oa_req GET "/channel/edit?id=999999" -b "$jar"
    is "$OA_STATUS" 404 "$ws: editing an unknown channel is a 404 page"

    # The list: the row, its actions.
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" "<td>$one</td>" "$ws: the list shows the channel"
    like "$OA_BODY" '<span class="badge ok">enabled</span>' "$ws: ... its status"
    like "$OA_BODY" 'not tested' "$ws: ... no response time yet"
    like "$OA_BODY" '\$0\.000000' "$ws: ... the used quota in USD"
    like "$OA_BODY" 'action="/channel/test"' "$ws: ... a test button"
    like "$OA_BODY" 'data-confirm="Delete channel' "$ws: ... a delete that asks first"
    html_valid "$ws: the list is valid HTML"

    page_post "$jar" /channel/test id="$one" back=/channel
    is "$OA_STATUS|$(header Location)" "303|/channel" "$ws: testing a channel"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" "Channel #$one passed the test in [0-9]+\.[0-9]{2} s" "$ws: ... the flash shows the time"
    like "$OA_BODY" '[0-9]+\.[0-9]{2} s<br>' "$ws: ... and the row its response time"
    like "$(col "$one" "test_time > 0")" '^(1|t)$' "$ws: ... stored as the API's test does"
    page_post "$jar" /channel/save id="$one" name=one type=1 key=bad-key "base_url=$MOCK_URL" g_0=default
    mock_ctl POST /_mock/script '{"key":"bad-key","responses":[{"status":401,"content_type":"application/json","body":"{\"error\":{\"message\":\"Incorrect API key\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"}]}'
    page_post "$jar" /channel/test id="$one"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" "Channel #$one failed the test: .*401" "$ws: a failing test shows the error"
    page_post "$jar" /channel/save id="$one" name=one type=1 key=sk-one "base_url=$MOCK_URL" g_0=default

    page_post "$jar" /channel/status id="$one" status=2
    is "$OA_STATUS:$(col "$one" status)" "303:2" "$ws: disabling a channel"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" 'disabled manually' "$ws: ... the list says so"
    page_post "$jar" /channel/status id="$one" status=1
    is "$(col "$one" status)" 1 "$ws: enabling it again"

    # Balance: the OpenAI shape, scripted in the mock.
    mock_ctl POST /_mock/script '{"key":"sk-one","responses":[{"status":200,"content_type":"application/json","body":"{\"has_payment_method\":true,\"hard_limit_usd\":120}"},{"status":200,"content_type":"application/json","body":"{\"total_usage\":2050}"}]}'
    page_post "$jar" /channel/balance id="$one"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" "Channel #$one: balance 99.50" "$ws: updating a balance shows it"
    like "$OA_BODY" '99\.50<br><span class="muted">[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}' \
        "$ws: ... the row shows it with its update time"

    # Search and pages: 14 channels now (1 + 3 + 10).
    page_post "$jar" /channel/save name=pg type=1 "key=$(printf 'p%s\n' $(seq 10))" models=m g_0=default
    oa_req GET /channel -b "$jar"
    is "$(grep -o '<tr>' <<<"$OA_BODY" | wc -l)" 11 "$ws: page 1 lists 10 channels (and the header row)"
    like "$OA_BODY" 'href="/channel\?p=1" rel="next"' "$ws: ... with a link to the next page"
    oa_req GET "/channel?p=1" -b "$jar"
    is "$(grep -o '<tr>' <<<"$OA_BODY" | wc -l)" 5 "$ws: page 2 lists the other 4"
    like "$OA_BODY" 'href="/channel\?p=0" rel="prev"' "$ws: ... and links back"
    oa_req GET "/channel?keyword=bat" -b "$jar"
    is "$(grep -o '<tr>' <<<"$OA_BODY" | wc -l)" 4 "$ws: searching a name prefix"
    like "$OA_BODY" 'value="bat"' "$ws: ... keeps the keyword in the box"
    oa_req GET "/channel?keyword=$one" -b "$jar"
    like "$OA_BODY" "<td>$one</td>" "$ws: searching an id"
    oa_req GET "/channel?keyword=zzz" -b "$jar"
    like "$OA_BODY" 'No channel matches' "$ws: no match says so"
    html_valid "$ws: ... valid HTML"

    # CSRF: refused, nothing changed.
    oa_req POST /channel/delete -b "$jar" --data-urlencode "id=$one"
    is "$OA_STATUS" 403 "$ws: a delete without the CSRF token is refused"
    oa_req POST /channel/status -b "$jar" --data-urlencode "csrf=${CSRF/?/x}" --data-urlencode "id=$one" \
        --data-urlencode status=2
    is "$OA_STATUS" 403 "$ws: a status change with a wrong token is refused"
    oa_req POST /channel/save -b "$jar" --data-urlencode "csrf=${CSRF/?/x}" --data-urlencode name=evil \
        --data-urlencode type=1 --data-urlencode key=k --data-urlencode g_0=default
    is "$OA_STATUS" 403 "$ws: a save with a wrong token is refused"
    is "$(col "$one" status):$(n_channels):$(oa_db_query "SELECT COUNT(*) FROM channels WHERE name = 'evil'")" \
        "1:14:0" "$ws: ... nothing changed"

    # Delete one, the disabled ones, test all.
    page_post "$jar" /channel/delete id="$one"
    is "$OA_STATUS:$(n_channels):$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = $one")" "303:13:0" \
        "$ws: deleting a channel, its abilities too"
    b1=$(oa_db_query "SELECT MIN(id) FROM channels WHERE name = 'batch'")
    page_post "$jar" /channel/status id="$b1" status=2
    page_post "$jar" /channel/delete_disabled
    oa_req GET /channel -b "$jar"
    is "$(n_channels)" 12 "$ws: deleting the disabled channels"
    like "$OA_BODY" '1 disabled channels deleted' "$ws: ... says how many"
    page_post "$jar" /channel/test_all
    is "$OA_STATUS" 303 "$ws: 'test all' starts the batch test"
    oa_req GET /channel -b "$jar"
    like "$OA_BODY" 'Testing every channel in the background|already running' "$ws: ... and says so"
    oa_stop
done
done_testing
