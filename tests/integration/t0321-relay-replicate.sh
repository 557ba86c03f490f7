#!/usr/bin/env bash
# t0321: Replicate channels (type 46) run predictions: a chat creates one with stream true and
# reads its event stream (as chunks for a streaming client, as one chat.completion
# otherwise), an image generation polls the prediction until it settles and answers with its
# URL or the downloaded image in base64. Usage is counted by the gateway (Replicate reports no
# tokens), images cost one image's quota; failed predictions become chat_task_failed /
# image_task_failed, and Replicate's 429 is retried on another channel. Then the official
# OpenAI SDK against the same channel (skipped without node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=meta/meta-llama-3-8b-instruct
IMG=black-forest-labs/flux-schnell
TINY_PNG='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGMAAQAABQABDQottAAAAABJRU5ErkJggg=='

sse() { IFS='|' read -r done_last content _ _ finish usage _ errors _ other <<<"$(sse_summary)"; }
chat() {
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$MODEL\",${2:+$2,}\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"$1\"}]}" "${@:3}"
}
# paths_seen: "METHOD path" of the requests the mock saw since the last mock_reset, in order.
paths_seen() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, re, sys; print(",".join(r["method"] + " " + re.sub(r"mockpred[0-9]+", "ID", r["path"]) + ("" if (r.get("headers") or {}).get("authorization") else "(no key)") for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY"
}
first_body() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys; print(json.loads(sys.stdin.read())[0].get("body", ""))' <<<"$MOCK_BODY"
}

# The SDK part: prints "ok ..." / "not ok ..." lines.
cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, img, png] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello" }] });
  check("sdk: chat", r.object === "chat.completion" && r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop", r);
  let text = "", finish = null, n = 0;
  const s = await client.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "Say hello [[mock chunks=5 text=yo]]" }] });
  for await (const c of s) { n++; if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; }
  check("sdk: stream", text === "yo yo yo yo yo" && finish === "stop" && n === 6, { text, finish, n });
  const iu = await client.images.generate({ model: img, prompt: "a cat" });
  check("sdk: image url", /\/v1\/files\/mockpred[0-9]+\.png$/.test(iu.data[0].url), iu);
  const ib = await client.images.generate({ model: img, prompt: "a cat", response_format: "b64_json" });
  check("sdk: image b64_json", ib.data.length === 1 && ib.data[0].b64_json === png, ib);
  try {
    await client.chat.completions.create({ model, messages: [{ role: "user", content: "x [[mock fail_after=1 fail=error msg=\"GPU lost\"]]" }] });
    check("sdk: failed prediction", false, "no error");
  } catch (e) {
    check("sdk: failed prediction", e.status === 500 && e.code === "chat_task_failed" && /GPU lost/.test(e.message), { status: e.status, code: e.code, message: e.message });
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
    oa_set_option ModelRatio "{\"$MODEL\":0.5,\"$IMG\":2}"
    oa_set_option CompletionRatio "{\"$MODEL\":2}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":46,\"name\":\"replicate\",\"key\":\"r8_mock\",\"base_url\":\"$MOCK_URL/v1/models\",\"models\":\"$MODEL,$IMG\",\"group\":\"default\",\"priority\":10}"
    relay_bill_start
    mock_reset

    # --- non-stream chat -------------------------------------------------------------------
    chat "Say hello" '"max_tokens":20,"temperature":0'
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Replicate channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$MODEL|assistant|Hello from mock|stop" "$ws: chat: the streamed output as one chat.completion"
    is "$(paths_seen)" "POST /v1/models/$MODEL/predictions,GET /v1/streams/ID" \
        "$ws: chat: create the prediction, then read its stream, both with the key"
    is "$(mock_last headers.authorization headers.accept)" "Bearer r8_mock|text/event-stream" \
        "$ws: chat: the stream is asked for as SSE with the Bearer key"
    up=$(first_body)
    is "$(JSON_DOC=$up json_fields stream input.prompt input.max_tokens input.temperature input.top_p)" \
        "true|system: Be brief.
user: Say hello
|20|0|1.0" "$ws: chat: created with stream true, the prompt as role lines, max_tokens and temperature kept"
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_C" 3 "$ws: chat: the gateway counted the 3 completion tokens (Replicate reports none)"

    # --- stream ----------------------------------------------------------------------------
    mock_reset
    chat "Go [[mock chunks=4 text=la]]" '"stream":true' -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$other" \
        "200|text/event-stream|1|la la la la|stop|0|0" "$ws: stream: output events become OpenAI chunks, finish stop, [DONE] last"
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_C|$LOG_STREAM" "4|1" "$ws: stream: billed the counted tokens as a stream"

    chat "Go [[mock fail_after=1 fail=error msg=\\\"CUDA out of memory\\\"]]" '"stream":true' -N
    sse
    is "$done_last|$content|$errors" "1|Hello|1" "$ws: stream: an error event after some output reaches the client as an error event"
    like "$OA_BODY" 'CUDA out of memory' "$ws: ... with Replicate's detail"
    relay_bill "$ws: failed stream" 0.5 2

    # --- images ----------------------------------------------------------------------------
    mock_reset
    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat in a hat\"}"
    like "$OA_STATUS|$(json_fields data.0.url)" "^200\\|$MOCK_URL/v1/files/mockpred[0-9]+\\.png$" \
        "$ws: image: OpenAI's shape with the output URL"
    is "$(paths_seen)" "POST /v1/models/$IMG/predictions,GET /v1/predictions/ID,GET /v1/predictions/ID,GET /v1/predictions/ID" \
        "$ws: image: the prediction is polled through urls.get until it succeeds"
    up=$(first_body)
    is "$(JSON_DOC=$up json_fields input.prompt input.width input.height input.steps stream)" "a cat in a hat|1440|1440|25|<none>" \
        "$ws: image: the FLUX-style input"
    relay_bill "$ws: image" 2 1 2000
    is "$LOG_P/$LOG_C" "0/0" "$ws: image: quota ratio x 1000 for the one image"

    mock_reset
    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}"
    is "$OA_STATUS|$(json_fields data.0.b64_json)" "200|$TINY_PNG" "$ws: image: b64_json is the downloaded image in base64"
    like "$(paths_seen)" ",GET /v1/files/ID.png\\(no key\\)$" "$ws: image: the output is downloaded without the key"
    relay_bill "$ws: image b64" 2 1 2000

    oa_relay /v1/images/generations "$ROOT_KEY" "{\"model\":\"$IMG\",\"prompt\":\"a cat [[mock fail_after=0 msg=NSFW]]\"}"
    is "$OA_STATUS|$(json_fields error.code)" "500|image_task_failed" "$ws: image: a failed prediction is image_task_failed"
    like "$(json_fields error.message)" '^task failed, \[failed\]NSFW' "$ws: ... with Replicate's error"

    # --- errors ----------------------------------------------------------------------------
    chat "x [[mock fail_after=1 fail=error msg=\\\"GPU lost\\\"]]"
    is "$OA_STATUS|$(json_fields error.code error.type)" "500|chat_task_failed|one_api_error" \
        "$ws: chat: an error event in the stream fails a non-stream chat with chat_task_failed"
    chat "x [[mock status=422 msg=\\\"- input: prompt is too long\\\"]]"
    like "$OA_STATUS|$(json_fields error.message error.type error.code)" \
        '^422\|- input: prompt is too long \(request id: [0-9A-Za-z]+\)\|upstream_error\|bad_status_code$' \
        "$ws: error: Replicate's problem details keep their status and detail"
    chat "x [[mock status=429]]"
    like "$OA_STATUS|$(json_fields error.message error.type error.code)" \
        '^429\|当前分组上游负载已饱和，请稍后再试 \(request id: [0-9A-Za-z]+\)\|upstream_error\|bad_status_code$' \
        "$ws: rate limit with no other channel: an OpenAI-shaped 429"

    # A 429 from Replicate is retried on another channel of the model.
    oa_add_channel "{\"type\":1,\"name\":\"backup\",\"key\":\"k-backup\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":0}"
    relay_bill_start
    mock_reset
    mock_ctl POST /_mock/script '{"key":"r8_mock","responses":[{"status":429}]}'
    chat "hi"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys)" "200|Hello from mock|r8_mock,k-backup" \
        "$ws: rate limit: Replicate's 429 is retried on the other channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL" "$IMG" "$TINY_PNG")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
