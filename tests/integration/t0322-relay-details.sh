#!/usr/bin/env bash
# t0322: relay details as One API has them: POST /v1/edits relayed and billed; the text
# request checks (400 invalid_text_request before anything goes upstream); remote image URLs
# sized for the prompt estimate (HEAD, then the start of a GET, through
# USER_CONTENT_REQUEST_PROXY within USER_CONTENT_REQUEST_TIMEOUT) and inlined as data: URLs
# for Anthropic, Gemini and Ollama channels; a stream request answered with JSON 200; usage
# that reports only a total.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
# Image URLs name a host that does not resolve: only the proxy (the mock) can serve them.
OA_ENV+=("USER_CONTENT_REQUEST_PROXY=$MOCK_URL" "USER_CONTENT_REQUEST_TIMEOUT=2")
IMG=http://images.invalid/img
CLAUDE=claude-3-5-haiku-20241022 # ratio 0.5, completion ratio 5
GEMINI=gemini-2.0-flash          # ratio 0.075, completion ratio 3
OLLAMA=llama3.2                  # no built-in ratio: 30, completion ratio 1

# mock_seq: the number of the last request the mock recorded.
mock_seq() { mock_ctl GET /_mock/stats; JSON_DOC=$MOCK_BODY json_fields last_seq; }
# mock_since SEQ: "METHOD PATH" of each request recorded after SEQ, one per line.
mock_since() {
    mock_ctl GET "/_mock/requests?since=$1"
    "$OA_PY" -c 'import json, sys; [print(r["method"], r["path"]) for r in json.load(sys.stdin)]' <<<"$MOCK_BODY"
}
# image_chat MODEL URL [DETAIL] [TEXT]: a chat body with one text part and one image part.
image_chat() {
    local detail=${3:+,\"detail\":\"$3\"}
    echo "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"${4:-What is in the picture?}\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"$2\"$detail}}]}]}"
}
# text_refused DESC PATH BODY MESSAGE: a 400 invalid_text_request with MESSAGE, and nothing
# sent upstream or billed. (A request without a model gets routing's 503 first, as in One
# API: t0301.)
text_refused() {
    local before
    before=$(mock_seq)
    oa_relay "$2" "$ROOT_KEY" "$3"
    is "$OA_STATUS|$(json_fields error.code error.type)" "400|invalid_text_request|one_api_error" "$ws: $1: 400 invalid_text_request"
    like "$(json_fields error.message)" "^$4 \\(request id: " "$ws: $1: '$4'"
    is "$(mock_seq)" "$before" "$ws: $1: nothing went upstream"
}

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k-oai\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o,gpt-3.5-turbo,text-davinci-edit-001,text-embedding-3-small,text-moderation-stable,gpt-4o-mini\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":1,\"name\":\"json-upstream\",\"key\":\"k-json\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-json\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":1,\"name\":\"total-only\",\"key\":\"k-total\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4-turbo\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":14,\"name\":\"claude\",\"key\":\"k-claude\",\"base_url\":\"$MOCK_URL\",\"models\":\"$CLAUDE\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":24,\"name\":\"gemini\",\"key\":\"k-gemini\",\"base_url\":\"$MOCK_URL\",\"models\":\"$GEMINI\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":30,\"name\":\"ollama\",\"key\":\"k-ollama\",\"base_url\":\"$MOCK_URL\",\"models\":\"$OLLAMA\",\"group\":\"default\"}"
    relay_bill_start
    mock_reset

    # ============================== /v1/edits ==============================
    oa_relay /v1/edits "$ROOT_KEY" \
        '{"model":"text-davinci-edit-001","input":"What day of the wek is it?","instruction":"Fix the spelling mistakes"}'
    is "$OA_STATUS|$(json_fields object choices.0.text usage.prompt_tokens usage.completion_tokens)" \
        "200|edit|Hello from mock|11|3" "$ws: edits: the upstream's edit object"
    is "$(mock_last method path key model)" "POST|/v1/edits|k-oai|text-davinci-edit-001" \
        "$ws: edits: POST /v1/edits upstream with the channel's key"
    relay_bill "$ws: edits" 10 1
    is "$LOG_P/$LOG_C|$LOG_MODEL" "11/3|text-davinci-edit-001" "$ws: edits: billed the upstream's usage"

    # ============================== text request checks ==============================
    text_refused "edits without instruction" /v1/edits '{"model":"text-davinci-edit-001","input":"x"}' \
        "field instruction is required"
    text_refused "edits with an empty instruction" /v1/edits \
        '{"model":"text-davinci-edit-001","input":"x","instruction":""}' "field instruction is required"
    text_refused "chat without messages" /v1/chat/completions '{"model":"gpt-4o"}' "field messages is required"
    text_refused "chat with no message" /v1/chat/completions '{"model":"gpt-4o","messages":[]}' \
        "field messages is required"
    text_refused "completions with an empty prompt" /v1/completions '{"model":"gpt-3.5-turbo","prompt":""}' \
        "field prompt is required"
    text_refused "moderations with an empty input" /v1/moderations '{"input":""}' "field input is required"
    oa_relay /v1/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo","prompt":["a"]}'
    is "$OA_STATUS" 200 "$ws: an array prompt passes the check, as in One API"
    relay_bill "$ws: array prompt" 0.25 3

    # ============================== image sizes in the estimate ==============================
    # usage=0: the upstream reports none, so the billed prompt is the local estimate.
    est() {
        local before
        before=$(mock_seq)
        oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat gpt-4o "$1" "${2:-}" "Describe [[mock usage=0]]")"
        [[ $OA_STATUS == 200 ]] || { fail "$ws: image estimate $1: status $OA_STATUS"; diag "$OA_BODY"; }
        relay_bill "$ws: image estimate $1 ${2:-}" 2.5 4
        EST=$LOG_P
        FETCHES=$(mock_since "$before" | grep -c " http://images.invalid/")
        METHODS=$(mock_since "$before" | grep " http://images.invalid/" | cut -d' ' -f1 | tr '\n' ' ')
    }
    est "$IMG/1024x1024.png" low
    low=$EST
    is "$FETCHES" 0 "$ws: estimate: a low-detail image is not fetched"
    est "$IMG/1024x1024.png" high
    is "$((EST - low))|$METHODS" "680|HEAD GET " \
        "$ws: estimate: a 1024x1024 PNG, high: HEAD, GET, 4 tiles = 765 tokens (85 more than low)"
    est "$IMG/1000x800.jpg"
    is "$((EST - low))" 680 "$ws: estimate: a JPEG without detail (high): 960x768, 4 tiles"
    est "$IMG/512x512.gif" auto
    is "$((EST - low))" 170 "$ws: estimate: a 512x512 GIF, auto: one tile = 255"
    est "$IMG/2048x4096.webp" high
    is "$((EST - low))" 1020 "$ws: estimate: a 2048x4096 WebP: 768x1536, 6 tiles = 1105"
    est "$IMG/1024x1024.png?ct=text/plain" high
    is "$((EST - low))|$METHODS" "0|HEAD " "$ws: estimate: not an image/... type: the fixed 85, no GET"
    est "$IMG/1024x1024.png?delay_ms=4000" high
    is "$((EST - low))" -85 "$ws: estimate: past USER_CONTENT_REQUEST_TIMEOUT the image counts 0"
    est "$IMG/1024x1024.png?bytes=3000000" high
    is "$((EST - low))" 680 "$ws: estimate: a large image is sized from the start of its body"

    # ============================== inlining for Claude, Gemini, Ollama ==============================
    # The data the mock serves for /img/64x32.png, as the upstream must receive it.
    png64=$(curl -s "$MOCK_URL/img/64x32.png" | base64 -w0)
    before=$(mock_seq)
    oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat "$CLAUDE" "$IMG/64x32.png?sig=s3cret")"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: claude image: answered"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields messages.0.content.1.type messages.0.content.1.source.type messages.0.content.1.source.media_type)" \
        "image|base64|image/png" "$ws: claude image: sent as a base64 image block"
    is "$(JSON_DOC=$up json_fields messages.0.content.1.source.data)" "$png64" "$ws: claude image: the image's bytes"
    is "$(mock_since "$before" | grep -c ' http://images.invalid/')" 1 \
        "$ws: claude image: fetched once (one GET), the estimate sized it from the same bytes"
    relay_bill "$ws: claude image" 0.5 5

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Two\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"$IMG/64x32.png\"}},{\"type\":\"image_url\",\"image_url\":\"$IMG/64x32.png\"}]}]}" -N
    up=$(mock_last body)
    is "$OA_STATUS|$(JSON_DOC=$up json_fields messages.0.content.1.source.type messages.0.content.2.source.type)" \
        "200|base64|base64" "$ws: claude stream: both image shapes inlined"
    relay_bill "$ws: claude stream image" 0.5 5

    oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat "$GEMINI" "$IMG/64x32.png")"
    up=$(mock_last body)
    is "$OA_STATUS|$(JSON_DOC=$up json_fields contents.0.parts.1.inlineData.mimeType contents.0.parts.1.inlineData.data)" \
        "200|image/png|$png64" "$ws: gemini image: sent as inlineData"
    relay_bill "$ws: gemini image" 0.075 3

    oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat "$OLLAMA" "$IMG/64x32.png")"
    up=$(mock_last body)
    is "$OA_STATUS|$(JSON_DOC=$up json_fields messages.0.images.0)" "200|$png64" "$ws: ollama image: raw base64 in images"
    relay_bill "$ws: ollama image" 30 1

    oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat gpt-4o-mini "$IMG/64x32.png")"
    is "$OA_STATUS|$(JSON_DOC=$(mock_last body) json_fields messages.0.content.1.image_url.url)" \
        "200|$IMG/64x32.png" "$ws: an OpenAI channel gets the URL as the client sent it"
    relay_bill "$ws: openai image url" 0.075 4

    # A fetch that fails: 400 with the reason, nothing sent to the provider, nothing billed.
    inline_refused() {
        local before
        before=$(mock_seq)
        oa_relay /v1/chat/completions "$ROOT_KEY" "$(image_chat "$CLAUDE" "$1")"
        is "$OA_STATUS|$(json_fields error.code error.param)" "400|invalid_image_url|messages" "$ws: $2: 400 invalid_image_url"
        like "$(json_fields error.message)" "$3" "$ws: $2: $3"
        is "$(mock_since "$before" | grep -c ' /v1/messages')" 0 "$ws: $2: Anthropic was not called"
    }
    inline_refused "$IMG/64x32.png?status=404&sig=s3cret" "an image answering 404" \
        "^cannot fetch image URL http://images.invalid/img/64x32.png: HTTP status 404 \\(request id: "
    is "$([[ $(json_fields error.message) == *s3cret* ]] && echo shown || echo hidden)" hidden \
        "$ws: the URL's query (a signature) is not shown"
    inline_refused "$IMG/64x32.png?ct=text/html" "a page that is not an image" \
        "is not an image \\(Content-Type \"text/html\"\\)"
    inline_refused "$IMG/64x32.png?bytes=11000000" "an image over 10 MiB" "larger than 10 MiB"
    inline_refused "$IMG/64x32.png?delay_ms=4000" "an image slower than the timeout" "^cannot fetch image URL"
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")" "$N_LOGS" "$ws: failed fetches billed nothing"

    # ============================== JSON 200 to a stream request ==============================
    mock_ctl POST /_mock/script '{"key":"k-json","responses":[{"status":200,"body":{"error":{"message":"streaming is off","type":"invalid_request_error","code":"no_stream"}}},{"status":200,"body":{"id":"x","choices":[]}}]}'
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-json","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(json_fields error.type error.code)" "200|invalid_request_error|no_stream" \
        "$ws: stream answered with JSON 200: the upstream's error with its status 200"
    like "$(json_fields error.message)" '^streaming is off \(request id: ' "$ws: stream answered with JSON 200: its message"
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-json","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(json_fields error.type error.code error.param)" "200|upstream_error|bad_response_status_code|200" \
        "$ws: a JSON 200 without an error: One API's bad_response_status_code with status 200"
    like "$(json_fields error.message)" '^bad response status code 200 ' "$ws: ... bad response status code 200"

    # ============================== usage with only a total ==============================
    q='{"model":"gpt-4-turbo","messages":[{"role":"user","content":"Count to three please"}]'
    mock_ctl POST /_mock/script '{"key":"k-total","responses":[{"body":{"id":"a","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"one two three"},"finish_reason":"stop"}]}}]}'
    oa_relay /v1/chat/completions "$ROOT_KEY" "$q}"
    relay_bill "$ws: no usage" 5 3
    estimate=$LOG_P
    mock_ctl POST /_mock/script '{"key":"k-total","responses":[{"body":{"id":"b","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"one two three"},"finish_reason":"stop"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":100}}}]}'
    oa_relay /v1/chat/completions "$ROOT_KEY" "$q}"
    relay_bill "$ws: total only" 5 3
    is "$LOG_P/$LOG_C" "$estimate/$((100 - estimate))" "$ws: total only: prompt = estimate ($estimate), completion = 100 - estimate"
    mock_ctl POST /_mock/script "{\"key\":\"k-total\",\"responses\":[{\"events\":[\"data: {\\\"id\\\":\\\"c\\\",\\\"object\\\":\\\"chat.completion.chunk\\\",\\\"choices\\\":[{\\\"index\\\":0,\\\"delta\\\":{\\\"content\\\":\\\"one\\\"}}]}\\n\\n\",\"data: {\\\"id\\\":\\\"c\\\",\\\"choices\\\":[],\\\"usage\\\":{\\\"prompt_tokens\\\":0,\\\"total_tokens\\\":40}}\\n\\n\",\"data: [DONE]\\n\\n\"]}]}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$q,\"stream\":true}" -N
    is "$OA_STATUS|$(sse_summary | cut -d'|' -f1,2)" "200|1|one" "$ws: total-only stream: relayed"
    relay_bill "$ws: total-only stream" 5 3
    is "$LOG_P/$LOG_C" "$estimate/$((40 - estimate))" "$ws: total-only stream: prompt = estimate, completion = 40 - estimate"
    oa_stop
done

done_testing
