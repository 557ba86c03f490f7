#!/usr/bin/env bash
# t0316: Cohere (type 35) channels answer OpenAI-format requests over Cohere's v1 chat API:
# the upstream request in Cohere's shape, plain and NDJSON-streamed answers turned back into
# OpenAI's, billing from meta.billed_units, Cohere's errors, a rate-limited channel retried on
# another one, and the official OpenAI SDK against a Cohere channel.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=command-r # ratio 0.25, completion ratio 3

# sse: split the last stream's summary into variables.
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
# ask BODY [CURL_ARGS...]: a chat completion as root.
ask() { local b=$1; shift; oa_relay /v1/chat/completions "$ROOT_KEY" "$b" "$@"; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }] });
  check("sdk: cohere chat", r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.total_tokens === r.usage.prompt_tokens + 3, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: cohere stream with include_usage", text === "Hello from mock" && finish === "stop" && usage && usage.completion_tokens === 3, { text, finish, usage });
} catch (e) {
  out.push(`not ok exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":35,\"name\":\"cohere\",\"key\":\"k-cohere\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":5}"
    relay_bill_start
    mock_reset

    # --- non-stream: the request in Cohere's shape, the answer in OpenAI's ---------------
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a translator.\"},{\"role\":\"user\",\"content\":\"Say hello\"},{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"And in French?\"}],\"max_tokens\":100,\"top_p\":0.5,\"stop\":[\"END\"]}"
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Cohere channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$MODEL|assistant|Hello from mock|stop" "$ws: cohere: an OpenAI chat.completion"
    like "$(json_fields id)" '^chatcmpl-mock-resp-[0-9]+$' "$ws: cohere: the id is chatcmpl-<response_id>"
    is "$(mock_last path headers.authorization provider)" "/v1/chat|Bearer k-cohere|cohere" \
        "$ws: cohere: POST /v1/chat with the key as a Bearer token"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model message preamble chat_history.0.role chat_history.0.message chat_history.1.role chat_history.1.message chat_history.2 max_tokens p stop_sequences.0 messages stream)" \
        "$MODEL|And in French?|You are a translator.|USER|Say hello|CHATBOT|Hello!|<none>|100|0.5|END|<none>|false" \
        "$ws: cohere: system -> preamble, last user -> message, earlier turns -> chat_history"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" \
        "$billed_p|3|$((billed_p + 3))" "$ws: cohere: usage is meta.billed_units"
    relay_bill "$ws: cohere" 0.25 3
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: cohere: billed the upstream's billed_units"

    # --- stream: NDJSON in, SSE out ---------------------------------------------------------
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=la]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|la la la la|stop|0" "$ws: cohere stream: OpenAI chunks, finish stop, [DONE] last"
    like "$(grep -m1 '^data: ' <<<"$OA_BODY")" '"object":"chat.completion.chunk"' "$ws: cohere stream: chat.completion.chunk objects"
    billed_p=$(mock_last prompt_tokens)
    is "$usage|$(JSON_DOC=$(mock_last body) json_fields stream)|$(mock_last stream)" "$billed_p/4|true|true" \
        "$ws: cohere stream: asked upstream to stream; the usage chunk carries billed_units"
    relay_bill "$ws: cohere stream" 0.25 3
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: cohere stream: billed stream-end's billed_units"

    # --- finish reasons, -internet, errors ----------------------------------------------------
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock finish=length]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.finish_reason)" "200|length" "$ws: cohere: MAX_TOKENS -> length"
    relay_bill "$ws: cohere length" 0.25 3

    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=401 msg=\\\"invalid api token\\\"]]\"}]}"
    like "$OA_STATUS|$(json_fields error.message)" '^401\|invalid api token \(request id: [0-9A-Za-z]+\)$' \
        "$ws: cohere: an upstream 401 reaches the client with Cohere's message"

    # --- a rate-limited Cohere channel: 429, retried on another channel --------------------
    oa_add_channel "{\"type\":35,\"name\":\"cohere-b\",\"key\":\"k-cohere-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":0}"
    mock_reset
    mock_ctl POST /_mock/script '{"key":"k-cohere","responses":[{"status":429}]}'
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
        "$ws: cohere 429: the relay retries on the other Cohere channel"
    mock_ctl GET /_mock/requests
    is "$("$OA_PY" -c 'import json, sys; print(",".join("%s:%s" % (r["key"], r["status"]) for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY")" \
        "k-cohere:429,k-cohere-b:200" "$ws: cohere 429: the first channel answered 429, the second 200"
    relay_bill "$ws: cohere retried" 0.25 3
    mock_ctl POST /_mock/script '{"key":"k-cohere","responses":[{"status":429}]}'
    mock_ctl POST /_mock/script '{"key":"k-cohere-b","responses":[{"status":429},{"status":429}]}'
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields error.type)" "429|upstream_error" \
        "$ws: cohere 429 everywhere: an OpenAI-shaped 429 error"
    is "$(json_fields error.message)" "当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: cohere 429 everywhere: One API's saturated-group message, as for any provider's 429"
    mock_ctl DELETE /_mock/script

    # --- the official OpenAI SDK ------------------------------------------------------------
    if sdk_check "$ws: the official OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
