#!/usr/bin/env bash
# t0332: Ali DashScope channels (type 17) speak DashScope's native API: chat as
# input.messages/parameters (top_p capped below 1, result_format message, -internet as
# enable_search), answered as JSON or as DashScope's SSE (X-DashScope-SSE, incremental output,
# no [DONE]), text embeddings, and image synthesis as an async task polled at the channel's
# base URL. Usage is billed as DashScope reports it; its errors become OpenAI errors, and its
# Throttling 429 is retried on another channel. Then the official OpenAI SDK (skipped without
# node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=qwen-plus
EMB=text-embedding-v1
IMG=wanx-v1
TINY_PNG='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGMAAQAABQABDQottAAAAABJRU5ErkJggg=='

sse() { IFS='|' read -r done_last content _ _ finish usage _ errors _ other <<<"$(sse_summary)"; }
chat() {
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"${MODEL_OVERRIDE:-$MODEL}\",${2:+$2,}\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"$1\"}]}" "${@:3}"
}
# paths_seen: "METHOD path" of the requests the mock saw since the last mock_reset, in order.
paths_seen() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, re, sys; print(",".join(r["method"] + " " + re.sub(r"mocktask[0-9]+", "ID", r["path"]) + ("" if (r.get("headers") or {}).get("authorization") else "(no key)") for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY"
}
first_req() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys; r = json.loads(sys.stdin.read())[0]; print(json.dumps(r))' <<<"$MOCK_BODY"
}

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, emb, img, png] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, top_p: 1, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: chat", r.object === "chat.completion" && r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.completion_tokens === 3 && r.usage.total_tokens === r.usage.prompt_tokens + 3, r);
  let text = "", finish = null, usage = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello [[mock chunks=5 text=yo]]" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: stream", text === "yo yo yo yo yo" && finish === "stop" && usage && usage.completion_tokens === 5, { text, finish, usage });
  const e = await client.embeddings.create({ model: emb, input: ["a b", "c"] });
  check("sdk: embeddings", e.data.length === 2 && e.data[1].index === 1 && e.data[0].embedding.length === 8 && e.usage.prompt_tokens === 3, e);
  const ib = await client.images.generate({ model: img, prompt: "a cat", response_format: "b64_json" });
  check("sdk: image b64_json", ib.data.length === 1 && ib.data[0].b64_json === png, ib);
  try {
    await client.chat.completions.create({ model, messages: [{ role: "user", content: "x [[mock status=401]]" }] });
    check("sdk: invalid key", false, "no error");
  } catch (err) {
    check("sdk: invalid key", err.status === 401 && err.code === "InvalidApiKey", { status: err.status, code: err.code, message: err.message });
  }
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    # Ratios of their own, so the bill below is computed from known numbers.
    oa_set_option ModelRatio "{\"$MODEL\":0.5,\"$MODEL-internet\":0.5,\"$EMB\":0.25,\"$IMG\":2}"
    oa_set_option CompletionRatio "{\"$MODEL\":2,\"$MODEL-internet\":2}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":17,\"name\":\"ali\",\"key\":\"sk-ali-a\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL,$MODEL-internet,$EMB,$IMG\",\"group\":\"default\",\"priority\":10,\"config\":\"{\\\"plugin\\\":\\\"{\\\\\\\"pdf_extracter\\\\\\\":{}}\\\"}\"}"
    relay_bill_start
    mock_reset

    # --- non-stream chat -------------------------------------------------------------------
    chat "Say hello" '"max_tokens":20,"top_p":1'
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Ali channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$MODEL|assistant|Hello from mock|stop" "$ws: chat: an OpenAI chat.completion"
    like "$(json_fields id)" '^mock-req-[0-9]+$' "$ws: chat: the id is DashScope's request_id"
    is "$(mock_last path headers.authorization headers.x-dashscope-sse headers.x-dashscope-plugin provider)" \
        "/api/v1/services/aigc/text-generation/generation|Bearer sk-ali-a|<none>|{\"pdf_extracter\":{}}|ali" \
        "$ws: chat: text-generation with the Bearer key and the config's plugin, no SSE header"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields model input.messages.0.role input.messages.1.content parameters.result_format parameters.max_tokens parameters.top_p parameters.incremental_output messages)" \
        "$MODEL|system|Say hello|message|20|0.9999|<none>|<none>" \
        "$ws: chat: input.messages and parameters, top_p capped at 0.9999 (the mock refuses 1)"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" \
        "$billed_p|3|$((billed_p + 3))" "$ws: chat: usage is DashScope's input_tokens/output_tokens"
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: chat: billed the usage DashScope reported"

    MODEL_OVERRIDE=$MODEL-internet chat "Search [[mock finish=length]]"
    is "$OA_STATUS|$(json_fields model choices.0.finish_reason)|$(JSON_DOC=$(mock_last body) json_fields model parameters.enable_search)" \
        "200|$MODEL-internet|length|$MODEL|true" "$ws: chat: -internet is stripped and turns enable_search on; length stays length"
    relay_bill "$ws: chat -internet" 0.5 2

    # --- stream ----------------------------------------------------------------------------
    mock_reset
    chat "Go [[mock chunks=4 text=la]]" '"stream":true,"stream_options":{"include_usage":true}' -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$other" \
        "200|text/event-stream|1|la la la la|stop|0|0" "$ws: stream: DashScope's events become OpenAI chunks, finish stop, [DONE] added"
    is "$(mock_last headers.x-dashscope-sse headers.accept stream)|$(JSON_DOC=$(mock_last body) json_fields parameters.incremental_output)" \
        "enable|text/event-stream|true|true" "$ws: stream: X-DashScope-SSE and Accept sent, incremental output asked"
    billed_p=$(mock_last prompt_tokens)
    is "$usage" "$billed_p/4" "$ws: stream: the usage chunk carries DashScope's last usage"
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: stream: billed DashScope's usage as a stream"

    chat "Go [[mock fail_after=1 fail=error msg=\\\"Output data may contain inappropriate content.\\\" err_code=DataInspectionFailed]]" '"stream":true' -N
    sse
    is "$done_last|$content|$errors" "1|Hello|1" "$ws: stream: an event:error frame after some output reaches the client as an error event"
    like "$OA_BODY" 'Output data may contain inappropriate content' "$ws: ... with DashScope's message"
    relay_bill "$ws: failed stream" 0.5 2

    chat "Go [[mock fail_after=0 fail=error msg=\\\"Range of input length should be [1, 6000]\\\" err_code=InvalidParameter]]" '"stream":true' -N
    is "$OA_STATUS|$(json_fields error.code error.type)" "400|InvalidParameter|InvalidParameter" \
        "$ws: stream: an event:error frame before any output is DashScope's error with its status, not a 200 stream"
    like "$(json_fields error.message)" 'Range of input length' "$ws: ... with DashScope's message"

    # --- errors ----------------------------------------------------------------------------
    chat "x [[mock status=401]]"
    like "$OA_STATUS|$(json_fields error.code error.type error.message)" \
        '^401\|InvalidApiKey\|InvalidApiKey\|Invalid API-key provided\. \(request id: [0-9A-Za-z]+\)$' \
        "$ws: error: DashScope's InvalidApiKey is a 401 with its code and message"

    # --- embeddings ------------------------------------------------------------------------
    mock_reset
    oa_relay /v1/embeddings "$ROOT_KEY" "{\"model\":\"$EMB\",\"input\":[\"风急天高猿啸哀\",\"渚清沙白鸟飞回 two\"]}"
    is "$OA_STATUS|$(json_fields object data.0.object data.0.index data.1.index model)" \
        "200|list|embedding|0|1|$EMB" "$ws: embeddings: OpenAI's list, index from text_index"
    is "$(mock_last path)|$(JSON_DOC=$(mock_last body) json_fields input.texts.1)" \
        "/api/v1/services/embeddings/text-embedding/text-embedding|渚清沙白鸟飞回 two" "$ws: embeddings: input.texts"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.total_tokens)" "$billed_p|$billed_p" "$ws: embeddings: usage is total_tokens"
    relay_bill "$ws: embeddings" 0.25 1
    is "$LOG_P/$LOG_C" "$billed_p/0" "$ws: embeddings: billed DashScope's total_tokens"

    # --- images ----------------------------------------------------------------------------
    mock_reset
    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat in a hat\",\"size\":\"1024x1024\"}"
    like "$OA_STATUS|$(json_fields data.0.url)" "^200\\|$MOCK_URL/v1/files/mocktask[0-9]+-0\\.png$" \
        "$ws: image: OpenAI's shape with the result URL"
    is "$(paths_seen)" "POST /api/v1/services/aigc/text2image/image-synthesis,GET /api/v1/tasks/ID,GET /api/v1/tasks/ID" \
        "$ws: image: the task is created, then polled at the channel's base URL until it succeeds"
    req=$(first_req)
    is "$(JSON_DOC=$req json_fields headers.x-dashscope-async)|$(JSON_DOC=$(JSON_DOC=$req json_fields body) json_fields model input.prompt parameters.size parameters.n)" \
        "enable|$IMG|a cat in a hat|1024*1024|1" "$ws: image: async header, size as W*H"
    relay_bill "$ws: image" 2 1 2000

    mock_reset
    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}"
    is "$OA_STATUS|$(json_fields data.0.b64_json)" "200|$TINY_PNG" "$ws: image: b64_json is the downloaded result in base64"
    like "$(paths_seen)" ",GET /v1/files/ID-0.png\\(no key\\)$" "$ws: image: the result is downloaded without the key"
    relay_bill "$ws: image b64" 2 1 2000

    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat [[mock fail_after=0 msg=NSFW]]\"}"
    is "$OA_STATUS|$(json_fields error.code)" "500|image_task_failed" "$ws: image: a FAILED task is image_task_failed"
    like "$(json_fields error.message)" 'NSFW' "$ws: ... with the task's message"

    # --- rate limits: retried on another channel -------------------------------------------
    oa_add_channel "{\"type\":17,\"name\":\"ali-b\",\"key\":\"sk-ali-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":0}"
    relay_bill_start
    mock_reset
    mock_ctl POST /_mock/script '{"key":"sk-ali-a","responses":[{"status":429}]}'
    chat "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys)" "200|Hello from mock|sk-ali-a,sk-ali-b" \
        "$ws: rate limit: DashScope's Throttling.RateQuota 429 is retried on the other channel"
    relay_bill "$ws: rate limit retry" 0.5 2
    mock_ctl POST /_mock/script '{"key":"sk-ali-a","responses":[{"status":429}]}'
    mock_ctl POST /_mock/script '{"key":"sk-ali-b","responses":[{"status":429},{"status":429}]}'
    chat "hi"
    is "$OA_STATUS|$(json_fields error.message)" "429|当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: rate limit everywhere: an OpenAI-shaped 429 with One API's saturated-group message"
    # DashScope may also refuse a stream with HTTP 200 and a first event:error frame.
    mock_ctl DELETE /_mock/script
    mock_reset
    mock_ctl POST /_mock/script '{"key":"sk-ali-a","responses":[{"mock":"fail_after=0 fail=error err_code=Throttling.RateQuota"}]}'
    chat "hi" '"stream":true' -N
    sse
    is "$OA_STATUS|$done_last|$errors|$content|$(mock_keys)" "200|1|0|Hello from mock|sk-ali-a,sk-ali-b" \
        "$ws: rate limit: a Throttling event:error as the stream's first frame is retried on the other channel"
    relay_bill "$ws: rate limit stream retry" 0.5 2
    mock_ctl DELETE /_mock/script
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL" "$EMB" "$IMG" "$TINY_PNG")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
