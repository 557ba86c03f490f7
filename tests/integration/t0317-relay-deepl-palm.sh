#!/usr/bin/env bash
# t0317: DeepL (type 38) and PaLM 2 (type 11) channels answer OpenAI chat requests: the
# upstream request in the provider's format with its credential, the answer (plain, and as a
# stream the gateway makes since neither upstream streams), the bill (DeepL's characters;
# PaLM's tokens counted by the gateway), and the provider's rate-limit error retried on
# another channel, else given to the client as an OpenAI error. Then the official OpenAI SDK.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
PALM=PaLM-2 # no default ratio: 30, completion ratio 1

# sse: split the last stream's summary into variables.
sse() { IFS='|' read -r done_last content _ _ finish usage _ errors _ _ <<<"$(sse_summary)"; }
# same_json A B: the two JSON documents are equal once parsed.
# chat MODEL TEXT [EXTRA]: a chat request with one user message (EXTRA: more members).
chat() {
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$1\",${3:+$3,}\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}" "${@:4}"
}
# script KEY RESPONSE...: queue scripted answers of the mock for channel key KEY.
script() {
    local key=$1 r; shift
    r=$(IFS=,; echo "$*")
    mock_ctl POST /_mock/script "{\"key\":\"$key\",\"responses\":[$r]}"
}

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, palm] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
async function stream(model, content, opts) {
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, ...opts, messages: [{ role: "user", content }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  return { text, usage, finish };
}
try {
  const d = await client.chat.completions.create({ model: "deepl-zh", messages: [{ role: "user", content: "Hello, world!" }] });
  check("sdk: deepl chat", d.choices[0].message.content === "ZH: Hello, world!" && d.usage.prompt_tokens === 13 && d.usage.completion_tokens === 0, d);
  const ds = await stream("deepl-zh", "Hello, world!", { stream_options: { include_usage: true } });
  check("sdk: deepl stream with include_usage", ds.text === "ZH: Hello, world!" && ds.finish === "stop" && ds.usage?.prompt_tokens === 13, ds);
  const p = await client.chat.completions.create({ model: palm, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: palm chat", p.choices[0].message.content === "Hello from mock" && p.choices[0].finish_reason === "stop", p);
  const ps = await stream(palm, "Say hello", {});
  check("sdk: palm stream", ps.text === "Hello from mock" && ps.finish === "stop", ps);
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":38,\"name\":\"deepl\",\"key\":\"k-deepl:fx\",\"base_url\":\"$MOCK_URL\",\"models\":\"deepl-zh,deepl-en-us\",\"group\":\"default\",\"priority\":10}"
    oa_add_channel "{\"type\":38,\"name\":\"deepl-b\",\"key\":\"k-deepl-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"deepl-zh\",\"group\":\"default\",\"priority\":0}"
    oa_add_channel "{\"type\":11,\"name\":\"palm\",\"key\":\"k-palm\",\"base_url\":\"$MOCK_URL\",\"models\":\"$PALM\",\"group\":\"default\",\"priority\":10}"
    oa_add_channel "{\"type\":11,\"name\":\"palm-b\",\"key\":\"k-palm-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$PALM\",\"group\":\"default\",\"priority\":0}"
    relay_bill_start
    mock_reset

    # ============================== DeepL ==============================
    chat deepl-zh "Hello, world!"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason usage.prompt_tokens usage.completion_tokens usage.total_tokens)" \
        "200|chat.completion|deepl-zh|assistant|ZH: Hello, world!|stop|13|0|13" "$ws: deepl: the translation as a chat.completion"
    is "$(mock_last path headers.authorization)" "/v2/translate|DeepL-Auth-Key k-deepl:fx" \
        "$ws: deepl: POST /v2/translate with DeepL-Auth-Key"
    ok_if "$ws: deepl: the body is {text: [the message], target_lang: zh}" \
        same_json "$(mock_last body)" '{"text":["Hello, world!"],"target_lang":"zh"}'
    relay_bill "$ws: deepl" 12.5 1
    is "$LOG_P/$LOG_C" "13/0" "$ws: deepl: billed the source's 13 characters, no completion"

    chat deepl-zh "Hello, world!" '"stream":true,"stream_options":{"include_usage":true}' -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$usage|$errors" \
        "200|text/event-stream|1|ZH: Hello, world!|stop|13/0|0" "$ws: deepl stream: one chunk, the usage chunk, [DONE]"
    is "$(JSON_DOC=$(mock_last body) json_fields stream)" "<none>" "$ws: deepl stream: the upstream is asked the plain way"
    relay_bill "$ws: deepl stream" 12.5 1
    is "$LOG_P/$LOG_C|$LOG_STREAM" "13/0|1" "$ws: deepl stream: billed as a stream, the same characters"

    chat deepl-en-us "你好，世界！"
    is "$OA_STATUS|$(json_fields choices.0.message.content usage.prompt_tokens)" "200|EN-US: 你好，世界！|6" \
        "$ws: deepl: everything after the first '-' is the target; CJK counts characters, not bytes"
    is "$(JSON_DOC=$(mock_last body) json_fields target_lang)" "en-us" "$ws: deepl: target_lang en-us"
    relay_bill "$ws: deepl en-us" 30 1

    mock_reset
    script k-deepl:fx '{"status":429}'
    chat deepl-zh "Hello, world!"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys)" "200|ZH: Hello, world!|k-deepl:fx,k-deepl-b" \
        "$ws: deepl: a 429 from DeepL is retried on another channel"
    relay_bill "$ws: deepl retried" 12.5 1
    mock_reset
    script k-deepl:fx '{"status":429}'
    script k-deepl-b '{"status":429}'
    chat deepl-zh "Hello, world!"
    is "$OA_STATUS|$(json_fields error.type error.code)" "429|upstream_error|deepl_error" \
        "$ws: deepl: rate-limited everywhere: an OpenAI-shaped 429"
    like "$(json_fields error.message)" "当前分组上游负载已饱和" "$ws: deepl: ... with the gateway's saturation message, as for any 429"

    # ============================== PaLM 2 ==============================
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$PALM\",\"temperature\":0.5,\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$PALM|assistant|Hello from mock|stop" "$ws: palm: candidates as a chat.completion"
    IFS='|' read -r path key <<<"$(mock_last path key)"
    is "$path|$key|$(mock_last headers.x-goog-api-key)" "/v1beta2/models/chat-bison-001:generateMessage|k-palm|k-palm" \
        "$ws: palm: POST generateMessage with the key"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields prompt.context prompt.messages.0.author prompt.messages.0.content temperature)" \
        "Be brief.|0|Say hello|0.5" "$ws: palm: system as context, the user as author 0"
    relay_bill "$ws: palm" 30 1
    is "$LOG_C" 3 "$ws: palm: the gateway counted the 3 completion tokens (PaLM reports none)"

    chat "$PALM" "Say hello" '"stream":true' -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|Hello from mock|stop|0" "$ws: palm stream: the whole text in one chunk, [DONE]"
    relay_bill "$ws: palm stream" 30 1
    is "$LOG_C|$LOG_STREAM" "3|1" "$ws: palm stream: billed the counted tokens as a stream"

    mock_reset
    script k-palm '{"status":429}'
    chat "$PALM" "Say hello"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys)" "200|Hello from mock|k-palm,k-palm-b" \
        "$ws: palm: a 429 from PaLM is retried on another channel"
    relay_bill "$ws: palm retried" 30 1
    mock_reset
    script k-palm '{"status":429}'
    script k-palm-b '{"status":429}'
    chat "$PALM" "Say hello"
    is "$OA_STATUS|$(json_fields error.type error.code)" "429|upstream_error|RESOURCE_EXHAUSTED" \
        "$ws: palm: rate-limited everywhere: an OpenAI-shaped 429"

    # ============================== the OpenAI SDK ==============================
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$PALM")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done
done_testing
