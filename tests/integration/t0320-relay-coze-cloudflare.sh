#!/usr/bin/env bash
# t0320: Coze (type 34), Cloudflare Workers AI (type 37) and AI Proxy Library (type 21)
# channels, created through /api, answer OpenAI-format requests: the upstream request in the
# provider's format with its credential, plain and streamed answers turned back into OpenAI's,
# the bill (Cloudflare's reported usage; Coze and AI Proxy Library report none, so the gateway
# counts), each provider's rate-limit error retried on another channel, and the official
# OpenAI SDK against all three.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
BOT=bot-7342000000000000000          # no default ratio: 30, completion ratio 1
CF_CHAT=@cf/meta/llama-3.1-8b-instruct # idem
CF_EMB=@cf/baai/bge-base-en-v1.5
CF_IMG=@cf/bytedance/stable-diffusion-xl-lightning
LIB=library-qa

# sse: split the last stream's summary into variables.
sse() { IFS='|' read -r done_last content _ _ finish usage _ errors _ _ <<<"$(sse_summary)"; }
# chat MODEL TEXT [EXTRA] [CURL_ARGS...]: a chat request with one user message (EXTRA: more members).
chat() {
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$1\",${3:+$3,}\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}" "${@:4}"
}
# sse_text: the content of the last stream's chunks, joined, with line breaks as \n.
sse_text() {
    "$OA_PY" -c '
import json, sys
out = ""
for line in sys.stdin.read().split("\n"):
    if line.startswith("data: {"):
        for c in json.loads(line[6:]).get("choices") or []:
            out += (c.get("delta") or {}).get("content") or ""
print(out.replace("\n", "\\n"))' <<<"$OA_BODY"
}
# script KEY RESPONSE...: queue scripted answers of the mock for channel key KEY.
script() {
    local key=$1 r; shift
    r=$(IFS=,; echo "$*")
    mock_ctl POST /_mock/script "{\"key\":\"$key\",\"responses\":[$r]}"
}

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, bot, cfChat, cfEmb, lib] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
async function stream(model, opts) {
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, ...opts, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  return { text, usage, finish };
}
const DOCS = "\n\n参考文档：\n1. [Mock guide](https://mock.invalid/guide)\n";
try {
  const c = await client.chat.completions.create({ model: bot, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: coze chat", c.choices[0].message.content === "Hello from mock" && c.choices[0].finish_reason === "stop", c);
  const cs = await stream(bot, {});
  check("sdk: coze stream", cs.text === "Hello from mock" && cs.finish === "stop", cs);
  const f = await client.chat.completions.create({ model: cfChat, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: cloudflare chat", f.choices[0].message.content === "Hello from mock" && f.usage.completion_tokens === 3, f);
  const fs = await stream(cfChat, { stream_options: { include_usage: true } });
  check("sdk: cloudflare stream with include_usage", fs.text === "Hello from mock" && fs.finish === "stop" && fs.usage?.completion_tokens === 3, fs);
  const e = await client.embeddings.create({ model: cfEmb, input: "hello", encoding_format: "float" });
  check("sdk: cloudflare embeddings", e.data[0].embedding.length > 0 && e.usage.prompt_tokens > 0, e.usage);
  const t = await client.completions.create({ model: cfChat, prompt: "Say hello" });
  check("sdk: cloudflare completion (native)", t.object === "text_completion" && t.choices[0].text === "Hello from mock" && t.usage.completion_tokens === 3, t);
  let text = "", finish = null;
  const ts = await client.completions.create({ model: cfChat, prompt: "Say hello", stream: true });
  for await (const ch of ts) { text += ch.choices[0]?.text ?? ""; if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason; }
  check("sdk: cloudflare completion stream (native)", text === "Hello from mock" && finish === "stop", { text, finish });
  const l = await client.chat.completions.create({ model: lib, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: ai proxy library chat", l.choices[0].message.content === "Hello from mock" + DOCS, l);
  const ls = await stream(lib, {});
  check("sdk: ai proxy library stream", ls.text === "Hello from mock" + DOCS && ls.finish === "stop", ls);
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":34,\"name\":\"coze\",\"key\":\"k-coze\",\"base_url\":\"$MOCK_URL\",\"models\":\"$BOT\",\"group\":\"default\",\"priority\":10,\"config\":\"{\\\"user_id\\\":\\\"u-cfg\\\"}\"}"
    oa_add_channel "{\"type\":34,\"name\":\"coze-b\",\"key\":\"k-coze-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$BOT\",\"group\":\"default\",\"priority\":0}"
    oa_add_channel "{\"type\":37,\"name\":\"cf\",\"key\":\"k-cf\",\"base_url\":\"$MOCK_URL\",\"models\":\"$CF_CHAT,$CF_EMB,$CF_IMG\",\"group\":\"default\",\"priority\":10,\"config\":\"{\\\"user_id\\\":\\\"acct42\\\"}\"}"
    oa_add_channel "{\"type\":37,\"name\":\"cf-b\",\"key\":\"k-cf-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$CF_CHAT\",\"group\":\"default\",\"priority\":0,\"config\":\"{\\\"user_id\\\":\\\"acct43\\\"}\"}"
    oa_add_channel "{\"type\":21,\"name\":\"lib\",\"key\":\"k-lib\",\"base_url\":\"$MOCK_URL\",\"models\":\"$LIB\",\"group\":\"default\",\"priority\":10,\"config\":\"{\\\"library_id\\\":\\\"lib-1\\\"}\"}"
    oa_add_channel "{\"type\":21,\"name\":\"lib-b\",\"key\":\"k-lib-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$LIB\",\"group\":\"default\",\"priority\":0,\"other\":\"lib-legacy\"}"
    relay_bill_start
    mock_reset

    # --- Coze: v2 request, answer, stream, local billing ----------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$BOT\",\"user\":\"client-user\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"What can you do?\"}]}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$BOT|assistant|Hello from mock|stop" "$ws: coze: an OpenAI chat.completion from the answer message"
    like "$(json_fields id)" '^chatcmpl-mock-conv-[0-9]+$' "$ws: coze: the id is chatcmpl-<conversation_id>"
    is "$(mock_last path headers.authorization provider)" "/open_api/v2/chat|Bearer k-coze|coze" \
        "$ws: coze: POST /open_api/v2/chat with the token as Bearer"
    is "$(JSON_DOC=$(mock_last body) json_fields bot_id user query chat_history.0.role chat_history.0.content chat_history.1.role chat_history.1.content chat_history.1.content_type stream messages)" \
        "7342000000000000000|u-cfg|What can you do?|user|Hi|assistant|Hello!|text|false|<none>" \
        "$ws: coze: bot id from the model, user from config, last message as query, the rest as history"
    relay_bill "$ws: coze" 30 1
    ok_if "$ws: coze: the prompt is the gateway's estimate ($LOG_P)" test "$LOG_P" -gt 0
    is "$LOG_C" 3 "$ws: coze: the gateway counted the 3 completion tokens (Coze reports none)"

    chat "$BOT" "Go [[mock chunks=4 text=la]]" '"stream":true' -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|la la la la|stop|0" "$ws: coze stream: answer events -> chunks, done -> stop, [DONE] last"
    like "$(grep -m1 '^data: ' <<<"$OA_BODY")" '"id":"chatcmpl-mock-conv-[0-9]+"' "$ws: coze stream: chunk ids from the conversation"
    is "$(JSON_DOC=$(mock_last body) json_fields stream user)" "true|u-cfg" "$ws: coze stream: asked Coze to stream"
    relay_bill "$ws: coze stream" 30 1
    is "$LOG_C|$LOG_STREAM" "4|1" "$ws: coze stream: billed the 4 counted tokens as a stream"

    chat "$BOT" "x [[mock chunks=3 fail_after=1 fail=error msg=\\\"bot offline\\\"]]" '"stream":true' -N
    sse
    is "$content|$errors|$done_last" "Hello|1|1" "$ws: coze stream: an error event becomes an error chunk, then [DONE]"
    relay_bill "$ws: coze broken stream" 30 1

    # --- Coze's rate limit (HTTP 429, or code 4013 in a 200): retried ------------------------
    mock_reset
    script k-coze '{"status":429}'
    chat "$BOT" "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys_statuses)" "200|Hello from mock|k-coze:429,k-coze-b:200" \
        "$ws: coze 429: retried on the other Coze channel"
    relay_bill "$ws: coze retried" 30 1
    mock_reset
    script k-coze '{"body":{"code":4013,"msg":"The requests exceed the limit"}}'
    chat "$BOT" "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys_statuses)" "200|Hello from mock|k-coze:200,k-coze-b:200" \
        "$ws: coze code 4013 in a 200 answer: a rate limit, retried too"
    relay_bill "$ws: coze 4013 retried" 30 1
    script k-coze '{"status":429}'
    script k-coze-b '{"status":429}' '{"status":429}'
    chat "$BOT" "hi"
    is "$OA_STATUS|$(json_fields error.type error.code)" "429|upstream_error|4013" \
        "$ws: coze 429 everywhere: an OpenAI-shaped 429 error"
    mock_ctl DELETE /_mock/script
    chat "$BOT" "x [[mock status=400 msg=\\\"bot not published\\\"]]"
    like "$OA_STATUS|$(json_fields error.message)" '^400\|bot not published \(request id: ' "$ws: coze: an upstream error reaches the client with Coze's msg"

    # --- Cloudflare: chat and embeddings on the OpenAI endpoints ------------------------------
    mock_reset
    chat "$CF_CHAT" "Say hello"
    is "$OA_STATUS|$(json_fields object choices.0.message.content)" "200|chat.completion|Hello from mock" "$ws: cloudflare chat: the OpenAI answer"
    is "$(mock_last path headers.authorization provider)" "/client/v4/accounts/acct42/ai/v1/chat/completions|Bearer k-cf|cloudflare" \
        "$ws: cloudflare chat: the account's OpenAI endpoint, Bearer token"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: cloudflare chat" 30 1
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: cloudflare chat: billed Cloudflare's usage"

    chat "$CF_CHAT" "Go [[mock chunks=4 text=la]]" '"stream":true' -N
    sse
    is "$OA_STATUS|$done_last|$content|$finish|$usage" "200|1|la la la la|stop|none" \
        "$ws: cloudflare chat stream: chunks, no usage chunk the client did not ask for"
    is "$(JSON_DOC=$(mock_last body) json_fields stream_options.include_usage)" "true" "$ws: cloudflare chat stream: usage asked upstream"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: cloudflare chat stream" 30 1
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: cloudflare chat stream: billed Cloudflare's usage"

    oa_relay /v1/embeddings "$ROOT_KEY" "{\"model\":\"$CF_EMB\",\"input\":\"hello world\"}"
    is "$OA_STATUS|$(json_fields object data.0.object)|$(mock_last path)" "200|list|embedding|/client/v4/accounts/acct42/ai/v1/embeddings" \
        "$ws: cloudflare embeddings: the account's OpenAI endpoint"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: cloudflare embeddings" 30 1
    is "$LOG_P" "$billed_p" "$ws: cloudflare embeddings: billed Cloudflare's usage"

    # --- Cloudflare: completions on the native /ai/run endpoint ----------------------------
    oa_relay /v1/completions "$ROOT_KEY" "{\"model\":\"$CF_CHAT\",\"prompt\":\"Say hello\",\"max_tokens\":50}"
    is "$OA_STATUS|$(json_fields object model choices.0.text choices.0.finish_reason)" "200|text_completion|$CF_CHAT|Hello from mock|stop" \
        "$ws: cloudflare completion: the native envelope becomes a text_completion"
    is "$(mock_last path)|$(JSON_DOC=$(mock_last body) json_fields prompt max_tokens stream model)" \
        "/client/v4/accounts/acct42/ai/run/$CF_CHAT|Say hello|50|false|<none>" "$ws: cloudflare completion: the native request"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: cloudflare completion" 30 1
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: cloudflare completion: billed result.usage"

    oa_relay /v1/completions "$ROOT_KEY" "{\"model\":\"$CF_CHAT\",\"prompt\":\"Go [[mock chunks=2 text=yo]]\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}" -N
    is "$OA_STATUS|$(grep -c '"object":"text_completion"' <<<"$OA_BODY")|$(grep -v "^$" <<<"$OA_BODY" | tail -n 1)" "200|4|data: [DONE]" \
        "$ws: cloudflare completion stream: 2 pieces, the finish and the usage chunk, then [DONE]"
    like "$OA_BODY" '"text":"yo yo"|"text":"yo".*"text":" yo"' "$ws: cloudflare completion stream: the pieces as text"
    like "$OA_BODY" '"finish_reason":"stop"' "$ws: cloudflare completion stream: finish_reason stop"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: cloudflare completion stream" 30 1
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/2|1" "$ws: cloudflare completion stream: billed the usage event"

    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$CF_IMG\",\"prompt\":\"a cat\"}"
    like "$OA_STATUS|$(json_fields error.message)" '^500\|unsupported relay mode' "$ws: cloudflare images: 500 unsupported relay mode, as One API"

    # --- Cloudflare's rate limit: retried ------------------------------------------------------
    mock_reset
    script k-cf '{"status":429}'
    chat "$CF_CHAT" "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys_statuses)" "200|Hello from mock|k-cf:429,k-cf-b:200" \
        "$ws: cloudflare 429: retried on the other Cloudflare channel"
    is "$(mock_last path)" "/client/v4/accounts/acct43/ai/v1/chat/completions" "$ws: cloudflare 429: the other channel's account"
    relay_bill "$ws: cloudflare retried" 30 1
    script k-cf '{"status":429}'
    script k-cf-b '{"status":429}' '{"status":429}'
    oa_relay /v1/completions "$ROOT_KEY" "{\"model\":\"$CF_CHAT\",\"prompt\":\"hi\"}"
    is "$OA_STATUS|$(json_fields error.type error.code)" "429|upstream_error|3040" \
        "$ws: cloudflare 429 everywhere: an OpenAI-shaped 429 error from the envelope"
    mock_ctl DELETE /_mock/script

    # --- AI Proxy Library ---------------------------------------------------------------------
    mock_reset
    chat "$LIB" "What is One API?"
    docs=$'\n\n参考文档：\n1. [Mock guide](https://mock.invalid/guide)\n'
    is "$OA_STATUS|$(json_fields choices.0.message.content choices.0.finish_reason)" "200|Hello from mock${docs}|stop" \
        "$ws: ai proxy library: the answer, then its documents"
    is "$(mock_last path headers.authorization)|$(JSON_DOC=$(mock_last body) json_fields model query libraryId stream)" \
        "/api/library/ask|Bearer k-lib|$LIB|What is One API?|lib-1|false" "$ws: ai proxy library: the question with config.library_id"
    relay_bill "$ws: ai proxy library" 30 1
    ok_if "$ws: ai proxy library: the gateway counted the answer and the documents ($LOG_C)" test "$LOG_C" -gt 3

    chat "$LIB" "Go [[mock chunks=2 text=la]]" '"stream":true' -N
    sse # (the content has line breaks: read it whole with sse_text)
    is "$OA_STATUS|$done_last|$(sse_text)" "200|1|la la\\n\\n参考文档：\\n1. [Mock guide](https://mock.invalid/guide)\\n" \
        "$ws: ai proxy library stream: pieces, then the documents"
    like "$(grep -v '^$' <<<"$OA_BODY" | tail -n 2 | head -n 1)" '"content":"\\n\\n.*"finish_reason":"stop"' \
        "$ws: ai proxy library stream: the documents come with finish_reason stop"
    relay_bill "$ws: ai proxy library stream" 30 1

    mock_reset
    script k-lib '{"status":429}'
    chat "$LIB" "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys_statuses)" "200|Hello from mock${docs%$'\n'}|k-lib:429,k-lib-b:200" \
        "$ws: ai proxy library 429: retried on the other channel"
    is "$(JSON_DOC=$(mock_last body) json_fields libraryId)" "lib-legacy" "$ws: ai proxy library: the legacy other column as library id"
    relay_bill "$ws: ai proxy library retried" 30 1
    mock_ctl DELETE /_mock/script

    # --- the official OpenAI SDK ------------------------------------------------------------
    if sdk_check "$ws: the official OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$BOT" "$CF_CHAT" "$CF_EMB" "$LIB")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
