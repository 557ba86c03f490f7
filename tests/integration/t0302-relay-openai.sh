#!/usr/bin/env bash
# t0302: the OpenAI relay end to end, as the OpenAI clients use it, against the mock
# upstream: chat (plain, streamed with and without include_usage, tool calls), embeddings,
# completions, images, speech, transcription, moderations; model mapping that keeps unknown
# fields; an Azure channel; and the bill of every request.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    models="gpt-4o-mini,gpt-3.5-turbo,gpt-3.5-turbo-instruct,text-embedding-3-small,dall-e-3,tts-1,whisper-1,text-moderation-stable,my-alias"
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k-openai\",\"base_url\":\"$MOCK_URL\",\"models\":\"$models\",\"group\":\"default\",\"model_mapping\":\"{\\\"my-alias\\\":\\\"gpt-4o-mini\\\"}\"}"
    oa_add_channel "{\"type\":3,\"name\":\"azure\",\"key\":\"k-azure\",\"base_url\":\"$MOCK_URL\",\"other\":\"2024-06-01\",\"models\":\"gpt-3.5-turbo-16k\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":1,\"name\":\"sys\",\"key\":\"k-sys\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o\",\"group\":\"default\",\"system_prompt\":\"You are a pirate.\"}"
    ch_sys=$CH_ID
    relay_bill_start
    mock_reset

    # --- chat, not streamed: the body goes upstream byte for byte -------------------
    body='{"model":"gpt-3.5-turbo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"temperature":0.5}'
    oa_relay /v1/chat/completions "$ROOT_KEY" "$body"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason usage.prompt_tokens usage.completion_tokens)" \
        "200|chat.completion|gpt-3.5-turbo|assistant|Hello from mock|stop|10|3" "$ws: chat: the upstream's answer"
    like "$(header Content-Type)" '^application/json' "$ws: chat: Content-Type application/json"
    like "$(header X-Oneapi-Request-Id)" '^[0-9A-Za-z]+$' "$ws: chat: X-Oneapi-Request-Id"
    is "$(mock_last method path headers.authorization headers.content-type body)" \
        "POST|/v1/chat/completions|Bearer k-openai|application/json|$body" \
        "$ws: chat: upstream got POST /v1/chat/completions, the channel key, the client's bytes"
    relay_bill "$ws: chat" 0.25 3
    is "$LOG_P/$LOG_C|$LOG_MODEL|$LOG_STREAM|$LOG_CONTENT" "10/3|gpt-3.5-turbo|0|倍率：0.25 × 1.00 × 3.00" \
        "$ws: chat: log row: upstream usage, model, is_stream, content"

    # --- chat, streamed without include_usage ----------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me [[mock chunks=5 text=word]]"}]}' -N
    is "$OA_STATUS|$(header Content-Type)" "200|text/event-stream" "$ws: stream: 200 text/event-stream"
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$done_last|$content|$finish|$errors" "1|word word word word word|stop|0" \
        "$ws: stream: five pieces of text, finish stop, data: [DONE] last"
    is "$usage|$bare" "none|0" "$ws: stream: no usage chunk when the client did not ask for one"
    like "$OA_BODY" $'^data: \\{' "$ws: stream: events are 'data: ' lines"
    relay_bill "$ws: stream" 0.075 4
    is "$LOG_C|$LOG_STREAM" "5|1" "$ws: stream: log row: 5 completion tokens, is_stream"

    # --- chat, streamed with include_usage --------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tell me [[mock chunks=4]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$done_last|$content|$usage|$bare" "1|Hello from mock Hello|7/4|0" \
        "$ws: stream with include_usage: the usage chunk, then [DONE]"
    last_two=$(grep '^data: ' <<<"$OA_BODY" | tail -n 2 | head -n 1)
    like "$last_two" '"choices":\[\],"usage":\{' "$ws: stream with include_usage: the usage chunk comes right before [DONE]"
    relay_bill "$ws: stream with usage" 0.075 4
    is "$LOG_P/$LOG_C" "7/4" "$ws: stream with usage: billed the upstream's usage"

    # --- tool calls ------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"gpt-4o-mini\",$TOOLS,\"tool_choice\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.tool_calls.0.type choices.0.message.tool_calls.0.function.name choices.0.message.tool_calls.0.function.arguments choices.0.finish_reason)" \
        '200|function|get_weather|{"city":"Paris"}|tool_calls' "$ws: tool call, not streamed"
    relay_bill "$ws: tool call" 0.075 4
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"gpt-4o-mini\",\"stream\":true,$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather args={\\\"city\\\":\\\"Berlin\\\",\\\"unit\\\":\\\"c\\\"}]]\"}]}" -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$done_last|$tool|$args|$finish" '200|1|get_weather|{"city":"Berlin","unit":"c"}|tool_calls' \
        "$ws: tool call, streamed: name, arguments in pieces, finish tool_calls, [DONE]"
    relay_bill "$ws: streamed tool call" 0.075 4

    # --- model mapping keeps what the gateway does not know ------------------------
    mapped='{"model":"my-alias","messages":[{"role":"user","content":"hi"}],"extra_body":{"x":1},"foo":"bar","n":1}'
    oa_relay /v1/chat/completions "$ROOT_KEY" "$mapped"
    is "$OA_STATUS|$(json_fields model)" "200|gpt-4o-mini" "$ws: mapping: the mapped model answers"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model extra_body foo n messages.0.content)" \
        'gpt-4o-mini|{"x":1}|bar|1|hi' "$ws: mapping: upstream got the mapped model, extra_body and foo untouched"
    relay_bill "$ws: mapping" 0.075 4
    is "$LOG_MODEL" gpt-4o-mini "$ws: mapping: the log names the mapped model"
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"my-alias\",\"stream\":true,$TOOLS,\"parallel_tool_calls\":false,\"custom_thing\":[1,2],\"messages\":[{\"role\":\"user\",\"content\":\"w [[mock tool=get_weather]]\"}]}" -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$tool|$finish" "200|get_weather|tool_calls" "$ws: mapping + stream + tools still works "
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model tools.0.function.name parallel_tool_calls custom_thing)" \
        'gpt-4o-mini|get_weather|false|[1,2]' "$ws: ... upstream got the tools and unknown fields"
    relay_bill "$ws: mapping + stream" 0.075 4

    # --- embeddings --------------------------------------------------------------------
    oa_relay /v1/embeddings "$ROOT_KEY" '{"model":"text-embedding-3-small","input":["one two three","four"],"dimensions":4}'
    is "$OA_STATUS|$(json_fields object data.1.index model usage.prompt_tokens)" "200|list|1|text-embedding-3-small|4" \
        "$ws: embeddings: two vectors"
    like "$(json_fields data.0.embedding)" '^\[-?[0-9.]+(,-?[0-9.e-]+){3}\]$' "$ws: embeddings: floats, 4 dimensions"
    relay_bill "$ws: embeddings" 0.01 1
    oa_relay /v1/embeddings "$ROOT_KEY" '{"model":"text-embedding-3-small","input":"x y","encoding_format":"base64","dimensions":4}'
    like "$OA_STATUS|$(json_fields data.0.embedding)" '^200\|[A-Za-z0-9+/]{22}==$' "$ws: embeddings: base64 passes through"
    relay_bill "$ws: embeddings base64" 0.01 1
    oa_req POST /v1/engines/text-embedding-3-small/embeddings -H "Authorization: Bearer sk-$ROOT_KEY" \
        -H 'Content-Type: application/json' --data-binary '{"input":"legacy path"}'
    is "$OA_STATUS|$(json_fields model)" "200|text-embedding-3-small" "$ws: /v1/engines/:model/embeddings takes the model from the path"
    relay_bill "$ws: engines embeddings" 0.01 1

    # --- completions -----------------------------------------------------------------
    oa_relay /v1/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7}'
    is "$OA_STATUS|$(json_fields object choices.0.text usage.completion_tokens)" "200|text_completion|Hello from mock|3" \
        "$ws: completions"
    is "$(mock_last path)" /v1/completions "$ws: completions: upstream path"
    relay_bill "$ws: completions" 0.75 1.3333333333333333
    oa_relay /v1/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo-instruct","prompt":"Stream [[mock chunks=2]]","stream":true}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$done_last|$content|$usage" "200|1|Hello from|none" "$ws: completions, streamed"
    relay_bill "$ws: completions streamed" 0.75 1.3333333333333333

    # --- images (fixed price: int(ratio x size ratio x 1000) x n) -------------------
    oa_relay /v1/images/generations "$ROOT_KEY" '{"model":"dall-e-3","prompt":"a cat","size":"1024x1024","response_format":"b64_json"}'
    like "$OA_STATUS|$(json_fields data.0.b64_json data.0.revised_prompt)" '^200\|iVBORw0KGgo[^|]*\|a cat$' "$ws: images: b64_json"
    relay_bill "$ws: images" 20 1 20000
    is "$LOG_P/$LOG_C|$LOG_CONTENT" "0/0|倍率：20.00 × 1.00" "$ws: images: log row without tokens, two ratios"
    oa_relay /v1/images/generations "$ROOT_KEY" '{"model":"dall-e-3","prompt":"a cat","size":"1024x1792","quality":"hd"}'
    is "$OA_STATUS" 200 "$ws: images: hd 1024x1792"
    relay_bill "$ws: images hd tall" 20 1 60000

    # --- audio speech: binary passthrough --------------------------------------------
    sp='{"model":"tts-1","input":"hello world","voice":"alloy"}'
    curl -sS --max-time 20 -o "$OA_TMP/speech.gw" -D "$OA_TMP/speech.hdr" -H "Authorization: Bearer sk-$ROOT_KEY" \
        -H 'Content-Type: application/json' --data-binary "$sp" "$OA_URL/v1/audio/speech"
    curl -sS --max-time 20 -o "$OA_TMP/speech.mock" -H 'Content-Type: application/json' --data-binary "$sp" \
        "$MOCK_URL/v1/audio/speech"
    ok_if "$ws: speech: the audio bytes arrive unchanged ($(stat -c %s "$OA_TMP/speech.gw") bytes)" \
        cmp -s "$OA_TMP/speech.gw" "$OA_TMP/speech.mock"
    like "$(tr -d '\r' <"$OA_TMP/speech.hdr" | grep -i '^content-type:')" 'audio/mpeg' "$ws: speech: Content-Type audio/mpeg"
    relay_bill "$ws: speech" 7.5 1 82
    is "$LOG_CONTENT" "倍率：7.50 × 1.00" "$ws: speech: log content"

    # --- audio transcription: multipart ----------------------------------------------
    printf 'RIFF-mock-audio-WAVE' >"$OA_TMP/a.wav"
    oa_req POST /v1/audio/transcriptions -H "Authorization: Bearer sk-$ROOT_KEY" \
        -F file=@"$OA_TMP/a.wav" -F model=whisper-1 -F language=en
    is "$OA_STATUS|$OA_BODY" '200|{"text":"Hello from mock"}' "$ws: transcription"
    like "$(mock_last path headers.content-type)" '^/v1/audio/transcriptions\|multipart/form-data; boundary=' "$ws: transcription: multipart upstream"
    up=$(mock_last body)
    ok_if "$ws: transcription: the form arrives whole (file, model, language)" \
        grep -q 'RIFF-mock-audio-WAVE' <<<"$up"
    ok_if "$ws: transcription: ... the language field too" grep -q 'name="language"' <<<"$up"
    # One API bills a transcript its token count with no ratio; we apply the model and group
    # ratio (docs/compatibility.md) like every other call (whisper-1's ratio 15 then prices about
    # US$0.006 a minute) and log the transcript's tokens as completion tokens.
    # (3 tokens with cl100k_base, 4 with the bytes/4 fallback: the row's own count.)
    relay_bill "$ws: transcription" 15 1
    is "$LOG_P|$LOG_CONTENT" "0|倍率：15.00 × 1.00" \
        "$ws: transcription: logged as completion tokens, media ratios in the content"
    oa_req POST /v1/audio/transcriptions -H "Authorization: Bearer sk-$ROOT_KEY" \
        -F file=@"$OA_TMP/a.wav" -F model=whisper-1 -F response_format=text
    is "$OA_STATUS|$OA_BODY" '200|Hello from mock' "$ws: transcription as text"
    relay_bill "$ws: transcription text" 15 1

    # --- moderations -------------------------------------------------------------------
    oa_relay /v1/moderations "$ROOT_KEY" '{"input":"some text to check [[mock flagged=1]]"}'
    is "$OA_STATUS|$(json_fields results.0.flagged)" "200|true" "$ws: moderations (default model)"
    is "$(mock_last path)" /v1/moderations "$ws: moderations: upstream path"
    relay_bill "$ws: moderations" 0.1 1

    # --- Azure -------------------------------------------------------------------------
    mock_ctl DELETE /_mock/requests
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo-16k","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: azure: chat"
    is "$(mock_last path headers.api-key headers.authorization provider)" \
        "/openai/deployments/gpt-35-turbo-16k/chat/completions?api-version=2024-06-01|k-azure|<none>|azure" \
        "$ws: azure: deployment without dots, api-version, api-key header (no Authorization)"
    relay_bill "$ws: azure" 1.5 1.3333333333333333
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-3.5-turbo-16k","stream":true,"messages":[{"role":"user","content":"hi"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$done_last|$content|$finish|$bare" "200|1|Hello from mock|stop|0" \
        "$ws: azure stream: the prompt-filter chunk (no choices) is dropped"
    relay_bill "$ws: azure stream" 1.5 1.3333333333333333
    oa_relay /v1/embeddings "$ROOT_KEY-2" '{"model":"text-embedding-3-small","input":"x"}'
    is "$OA_STATUS|$(mock_last path)" "200|/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-06-01" \
        "$ws: azure embeddings (pinned channel)"
    relay_bill "$ws: azure embeddings" 0.01 1

    # --- a channel's forced system prompt --------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(JSON_DOC=$(mock_last body) json_fields messages.0.role messages.0.content messages.1.content)" \
        "200|system|You are a pirate.|hi" "$ws: system prompt: prepended when the request has none"
    relay_bill "$ws: system prompt" 2.5 4
    is "$(oa_db_query "SELECT CASE WHEN system_prompt_reset THEN 1 ELSE 0 END FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1")" 1 \
        "$ws: system prompt: the log row says system_prompt_reset"
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o","messages":[{"role":"system","content":"Be nice."},{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(JSON_DOC=$(mock_last body) json_fields messages.0.role messages.0.content messages.1.content messages.2)" \
        "200|system|You are a pirate.|hi|<none>" "$ws: system prompt: replaces the client's system message"
    relay_bill "$ws: system prompt replaced" 2.5 4

    # --- upstream 401 with AutomaticDisableChannelEnabled off (the default) -----------------
    oa_relay /v1/chat/completions "$ROOT_KEY-$ch_sys" '{"model":"gpt-4o","messages":[{"role":"user","content":"x [[mock status=401]]"}]}'
    is "$OA_STATUS|$(json_fields error.code)" "401|invalid_api_key" "$ws: an upstream 401 reaches the client"
    is "$(oa_db_query "SELECT status FROM channels WHERE id = $ch_sys")" 1 \
        "$ws: ... the channel stays enabled while AutomaticDisableChannelEnabled is off"

    # --- the totals agree with the log --------------------------------------------------
    sleep 0.1
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")" "$N_LOGS" "$ws: one consume row per request"
    is "$(oa_db_query "SELECT u.used_quota - (SELECT SUM(quota) FROM logs WHERE type = 2), u.request_count FROM users u WHERE id = 1")" \
        "0|$N_LOGS" "$ws: users.used_quota = sum of the log, request_count = rows"
    is "$(oa_db_query "SELECT SUM(used_quota) - (SELECT SUM(quota) FROM logs WHERE type = 2) FROM channels")" 0 \
        "$ws: channels.used_quota adds up to the log"
    oa_stop
done

done_testing
