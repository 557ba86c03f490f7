#!/usr/bin/env bash
# t0314: Ollama channels (type 30) speak Ollama's native API: /api/chat (JSON, or NDJSON when
# streaming) and /api/embed, turned back into OpenAI's answers; usage billed as Ollama counted
# it (prompt_eval_count / eval_count); Ollama's {"error": "..."} bodies become OpenAI errors,
# and a 429 is retried on another channel. Then the official OpenAI SDK against the same
# channel (skipped without node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=llama3.2
EMB=nomic-embed-text
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'
PNG='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }

# The SDK part: prints "ok ..." / "not ok ..." lines.
cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, emb] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: chat", r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.completion_tokens === 3, r);
  let text = "", usage = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.usage) usage = c.usage; }
  check("sdk: stream with include_usage", text === "Hello from mock" && usage?.completion_tokens === 3 && usage.total_tokens === usage.prompt_tokens + 3, { text, usage });
  const t = await client.chat.completions.create({ model, tools, messages: [{ role: "user", content: "[[mock tool=get_weather]] weather?" }] });
  const call = t.choices[0].message.tool_calls?.[0];
  check("sdk: tool call", call?.id?.startsWith("call_") && call.function.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris" && t.choices[0].finish_reason === "tool_calls", t.choices[0]);
  let name = "", args = "";
  const ts = await client.chat.completions.create({ model, tools, stream: true, messages: [{ role: "user", content: "[[mock tool=get_weather]] weather?" }] });
  for await (const c of ts) { const d = c.choices[0]?.delta?.tool_calls?.[0]; if (d?.function?.name) name = d.function.name; if (d?.function?.arguments) args += d.function.arguments; }
  check("sdk: streamed tool call", name === "get_weather" && JSON.parse(args).city === "Paris", { name, args });
  const ef = await client.embeddings.create({ model: emb, input: "hello", encoding_format: "float" });
  check("sdk: embeddings float", ef.data[0].embedding.length > 0 && ef.usage.prompt_tokens === 1, ef);
  const eb = await client.embeddings.create({ model: emb, input: ["a", "b"] });
  check("sdk: embeddings base64 (the SDK's default) decode to the same floats", eb.data.length === 2 && eb.data[1].index === 1 && typeof eb.data[0].embedding[0] === "number", eb);
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    # Ratios of their own, so the bill below is computed from known numbers.
    oa_set_option ModelRatio "{\"$MODEL\":0.5,\"$EMB\":0.05}"
    oa_set_option CompletionRatio "{\"$MODEL\":2}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":30,\"name\":\"ollama\",\"key\":\"k-ollama\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL,$EMB\",\"group\":\"default\",\"priority\":10}"
    relay_bill_start
    mock_reset

    # --- non-stream chat -------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":20,\"temperature\":0}"
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Ollama channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$MODEL|assistant|Hello from mock|stop" "$ws: chat: an OpenAI chat.completion"
    mp=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" "$mp|3|$((mp + 3))" \
        "$ws: chat: usage is Ollama's prompt_eval_count / eval_count"
    is "$(mock_last path headers.authorization)" "/api/chat|Bearer k-ollama" \
        "$ws: chat: POST /api/chat with the key as a bearer token"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model stream options.temperature options.num_predict max_tokens)" \
        "$MODEL|false|0|20|<none>" "$ws: chat: stream false written, temperature 0 kept, max_tokens -> options.num_predict"
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_P/$LOG_C" "$mp/3" "$ws: chat: billed the upstream's counts"

    # --- stream ----------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=la]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$other" \
        "200|text/event-stream|1|la la la la|stop|0|0" "$ws: stream: NDJSON lines become OpenAI chunks, finish stop, [DONE] last"
    is "$(JSON_DOC=$(mock_last body) json_fields stream)" true "$ws: stream: asked Ollama to stream"
    mp=$(mock_last prompt_tokens)
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$mp/4|1" "$ws: stream: billed the done line's counters"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}]}" -N
    sse
    is "$done_last|$content|$usage" "1|Hello from mock|$(mock_last prompt_tokens)/3" "$ws: stream with include_usage: the usage chunk"
    relay_bill "$ws: stream with usage" 0.5 2

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock finish=length]]\"}]}" -N
    sse
    is "$done_last|$finish" "1|length" "$ws: stream: done_reason length -> finish_reason length"
    relay_bill "$ws: stream length" 0.5 2

    # --- tool calls and images -------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.tool_calls.0.type choices.0.message.tool_calls.0.function.name choices.0.finish_reason)" \
        "200|function|get_weather|tool_calls" "$ws: tool call: an OpenAI tool_calls answer"
    like "$(json_fields choices.0.message.tool_calls.0.id)" '^call_[0-9a-f]{32}$' "$ws: tool call: an id is generated"
    ok_if "$ws: tool call: the argument object becomes JSON text" \
        same_json "$(json_fields choices.0.message.tool_calls.0.function.arguments)" '{"city":"Paris"}'
    is "$(JSON_DOC=$(mock_last body) json_fields tools.0.function.name)" get_weather "$ws: tool call: tools passed in OpenAI's format"
    relay_bill "$ws: tool call" 0.5 2

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$PNG\"}}]}]}"
    is "$OA_STATUS|$(JSON_DOC=$(mock_last body) json_fields messages.0.content messages.0.images.0)" \
        "200|What is this?|$PNG" "$ws: image: a data URL goes as raw base64 in images"
    relay_bill "$ws: image" 0.5 2

    # --- embeddings ------------------------------------------------------------------------
    oa_relay /v1/embeddings "$ROOT_KEY" "{\"model\":\"$EMB\",\"input\":[\"hello\",\"world\"]}"
    is "$OA_STATUS|$(json_fields object data.0.object data.1.index model usage.prompt_tokens usage.total_tokens)" \
        "200|list|embedding|1|$EMB|2|2" "$ws: embeddings: an OpenAI list, usage from prompt_eval_count"
    is "$(mock_last path)|$(JSON_DOC=$(mock_last body) json_fields model input)" "/api/embed|$EMB|[\"hello\",\"world\"]" \
        "$ws: embeddings: POST /api/embed"
    relay_bill "$ws: embeddings" 0.05 1
    is "$LOG_P/$LOG_C" "2/0" "$ws: embeddings: billed Ollama's count"

    # --- errors ----------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=404 msg=\\\"model 'llama3.2' not found, try pulling it first\\\"]]\"}]}"
    like "$OA_STATUS|$(json_fields error.message error.type)" \
        "^404\\|model 'llama3.2' not found, try pulling it first \\(request id: [0-9A-Za-z]+\\)\\|ollama_error$" \
        "$ws: error: Ollama's {\"error\"} becomes an OpenAI error with its status and message"
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock fail_after=1 fail=error msg=\\\"runner crashed\\\"]]\"}]}" -N
    sse
    is "$done_last|$errors" "1|1" "$ws: a stream's error line reaches the client as an error event"
    like "$OA_BODY" 'runner crashed' "$ws: ... with Ollama's message"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=429 msg=\\\"too many requests\\\"]]\"}]}"
    # One API words every upstream 429 the same way when it reaches the client.
    like "$OA_STATUS|$(json_fields error.message error.type)" '^429\|当前分组上游负载已饱和，请稍后再试 \(request id: [0-9A-Za-z]+\)\|ollama_error$' \
        "$ws: rate limit with no other channel: an OpenAI-shaped 429"

    # A 429 from Ollama is retried on another channel of the model.
    oa_add_channel "{\"type\":1,\"name\":\"backup\",\"key\":\"k-backup\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":0}"
    relay_bill_start
    mock_reset
    mock_ctl POST /_mock/script '{"key":"k-ollama","responses":[{"status":429,"mock":"msg=\"rate limited\""}]}'
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys)" "200|Hello from mock|k-ollama,k-backup" \
        "$ws: rate limit: Ollama's 429 is retried on the other channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL" "$EMB")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
