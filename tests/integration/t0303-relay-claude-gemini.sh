#!/usr/bin/env bash
# t0303: Anthropic (type 14) and Gemini (type 24) channels answer OpenAI-format requests:
# the upstream request in the provider's own format, the answer (plain, streamed, tool
# calls) turned back into OpenAI's, and the bill.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'
CLAUDE=claude-3-5-haiku-20241022 # ratio 0.5, completion ratio 5 (claude-3*)
GEMINI=gemini-2.0-flash          # ratio 0.075, completion ratio 3 (gemini-*)

# sse: split the last stream's summary into variables.
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
# same_json A B: the two JSON documents are equal once parsed.

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":14,\"name\":\"claude\",\"key\":\"k-claude\",\"base_url\":\"$MOCK_URL\",\"models\":\"$CLAUDE\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":24,\"name\":\"gemini\",\"key\":\"k-gemini\",\"base_url\":\"$MOCK_URL\",\"models\":\"$GEMINI\",\"group\":\"default\"}"
    relay_bill_start
    mock_reset

    # ============================== Anthropic ==============================
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.2}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason usage.prompt_tokens usage.completion_tokens usage.total_tokens)" \
        "200|chat.completion|$CLAUDE|assistant|Hello from mock|stop|10|3|13" "$ws: claude: an OpenAI chat.completion"
    is "$(mock_last path headers.x-api-key headers.anthropic-version headers.authorization)" \
        "/v1/messages|k-claude|2023-06-01|<none>" "$ws: claude: POST /v1/messages with x-api-key and anthropic-version"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model system messages.0.role messages.1 temperature)" \
        "$CLAUDE|Be brief.|user|<none>|0.2" "$ws: claude: the system message moves to 'system'"
    like "$(JSON_DOC=$up json_fields max_tokens)" '^[1-9][0-9]*$' "$ws: claude: max_tokens is always sent (Anthropic requires it)"
    relay_bill "$ws: claude" 0.5 5
    is "$LOG_P/$LOG_C|$LOG_CONTENT" "10/3|倍率：0.50 × 1.00 × 5.00" "$ws: claude: billed the upstream's usage"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=la]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|la la la la|stop|0" "$ws: claude stream: OpenAI chunks, finish stop, [DONE] last"
    like "$(grep -m1 '^data: ' <<<"$OA_BODY")" '"object":"chat.completion.chunk"' "$ws: claude stream: chat.completion.chunk objects"
    is "$(JSON_DOC=$(mock_last body) json_fields stream)" true "$ws: claude stream: asked upstream to stream"
    relay_bill "$ws: claude stream" 0.5 5
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$(mock_last prompt_tokens)/4|1" \
        "$ws: claude stream: billed message_start input + message_delta output tokens"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}]}" -N
    sse
    is "$done_last|$content|$usage" "1|Hello from mock|4/3" "$ws: claude stream with include_usage: a usage chunk"
    relay_bill "$ws: claude stream with usage" 0.5 5

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.tool_calls.0.type choices.0.message.tool_calls.0.function.name choices.0.finish_reason)" \
        "200|function|get_weather|tool_calls" "$ws: claude tool call: an OpenAI tool_calls answer"
    ok_if "$ws: claude tool call: arguments {\"city\":\"Paris\"}" \
        same_json "$(json_fields choices.0.message.tool_calls.0.function.arguments)" '{"city":"Paris"}'
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields tools.0.name tools.0.input_schema.type)" "get_weather|object" \
        "$ws: claude tool call: tools sent as name + input_schema"
    relay_bill "$ws: claude tool call" 0.5 5
    call_id=$(json_fields choices.0.message.tool_calls.0.id)

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"stream\":true,$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather args={\\\"city\\\":\\\"Rome\\\"}]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$tool|$finish" "200|1|get_weather|tool_calls" "$ws: claude streamed tool call: name, finish tool_calls, [DONE]"
    ok_if "$ws: claude streamed tool call: argument pieces join to {\"city\":\"Rome\"}" same_json "$args" '{"city":"Rome"}'
    relay_bill "$ws: claude streamed tool call" 0.5 5

    turn="{\"model\":\"$CLAUDE\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
    turn+="{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"$call_id\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
    turn+="{\"role\":\"tool\",\"tool_call_id\":\"$call_id\",\"content\":\"sunny, 21 C\"}]}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$turn"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: claude: a tool result turn is answered"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields messages.1.role messages.1.content.0.type messages.1.content.0.id messages.1.content.0.input.city messages.2.role messages.2.content.0.type messages.2.content.0.tool_use_id)" \
        "assistant|tool_use|$call_id|Paris|user|tool_result|$call_id" "$ws: claude: tool_calls become tool_use, the tool message a tool_result"
    relay_bill "$ws: claude tool result" 0.5 5

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$CLAUDE\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=400 msg=\\\"bad thing\\\"]]\"}]}"
    like "$OA_STATUS|$(json_fields error.message)" '^400\|bad thing \(request id: [0-9A-Za-z]+\)$' \
        "$ws: claude: an upstream 400 reaches the client with Anthropic's message"

    # =============================== Gemini ================================
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    # A registry that lost the Gemini row answers invalid_api_type: that is a failure here.
    isnt "$(json_fields error.code)" invalid_api_type "$ws: gemini: the registry serves Gemini channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.content choices.0.finish_reason usage.prompt_tokens usage.completion_tokens)" \
        "200|chat.completion|$GEMINI|Hello from mock|stop|10|3" "$ws: gemini: an OpenAI chat.completion"
    IFS='|' read -r path key auth <<<"$(mock_last path headers.x-goog-api-key headers.authorization)"
    like "$path|$key|$auth" "^/v1(beta)?/models/$GEMINI:generateContent\\|k-gemini\\|<none>$" \
        "$ws: gemini: POST .../models/$GEMINI:generateContent with x-goog-api-key"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields systemInstruction.parts.0.text contents.0.role contents.0.parts.0.text contents.1)" \
        "Be brief.|user|Say hello|<none>" "$ws: gemini: systemInstruction + contents"
    relay_bill "$ws: gemini" 0.075 3

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$GEMINI\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=3 text=ja]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|ja ja ja|stop|0" "$ws: gemini stream: OpenAI chunks, finish stop, [DONE] last"
    like "$(mock_last path)" ":streamGenerateContent\\?alt=sse" "$ws: gemini stream: streamGenerateContent?alt=sse"
    relay_bill "$ws: gemini stream" 0.075 3

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$GEMINI\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.tool_calls.0.type choices.0.message.tool_calls.0.function.name choices.0.finish_reason)" \
        "200|function|get_weather|tool_calls" "$ws: gemini tool call: an OpenAI tool_calls answer"
    ok_if "$ws: gemini tool call: arguments {\"city\":\"Paris\"}" \
        same_json "$(json_fields choices.0.message.tool_calls.0.function.arguments)" '{"city":"Paris"}'
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields tools.0.functionDeclarations.0.name tools.0.functionDeclarations.0.parameters.type)" \
        "get_weather|object" "$ws: gemini tool call: tools sent as functionDeclarations"
    relay_bill "$ws: gemini tool call" 0.075 3
    call_id=$(json_fields choices.0.message.tool_calls.0.id)

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$GEMINI\",\"stream\":true,$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather args={\\\"city\\\":\\\"Oslo\\\"}]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$tool|$finish" "200|1|get_weather|tool_calls" "$ws: gemini streamed tool call: name, finish tool_calls, [DONE]"
    ok_if "$ws: gemini streamed tool call: arguments {\"city\":\"Oslo\"}" same_json "$args" '{"city":"Oslo"}'
    relay_bill "$ws: gemini streamed tool call" 0.075 3

    turn="{\"model\":\"$GEMINI\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
    turn+="{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"$call_id\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
    turn+="{\"role\":\"tool\",\"tool_call_id\":\"$call_id\",\"name\":\"get_weather\",\"content\":\"{\\\"sky\\\":\\\"sunny\\\"}\"}]}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$turn"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: gemini: a tool result turn is answered"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields contents.1.role contents.1.parts.0.functionCall.name contents.1.parts.0.functionCall.args.city contents.2.parts.0.functionResponse.name)" \
        "model|get_weather|Paris|get_weather" "$ws: gemini: tool_calls become functionCall, the tool message a functionResponse"
    relay_bill "$ws: gemini tool result" 0.075 3

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=400 msg=\\\"bad gemini\\\"]]\"}]}"
    like "$OA_STATUS|$(json_fields error.message)" '^400\|bad gemini \(request id: [0-9A-Za-z]+\)$' \
        "$ws: gemini: an upstream 400 reaches the client with Google's message"

    # --- the totals ------------------------------------------------------------------
    sleep 0.1
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")|$(oa_db_query "SELECT SUM(used_quota) - (SELECT SUM(quota) FROM logs WHERE type = 2) FROM channels")" \
        "$N_LOGS|0" "$ws: one consume row per answered request; channels.used_quota adds up"
    oa_stop
done

done_testing
