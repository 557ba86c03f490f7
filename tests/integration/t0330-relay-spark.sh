#!/usr/bin/env bash
# t0330: iFlytek Spark channels (type 18) speak Spark's WebSocket API: the gateway signs the
# URL (HMAC-SHA256 over host, date and request line, key APPID|APISecret|APIKey), sends one
# request frame and turns the answer frames (one fragmented, a ping among them) into an
# OpenAI chat.completion or stream; usage billed as Spark reported it. A refused signature
# and Spark's error codes become OpenAI errors; the QPS limit (11202) is a 429 retried on
# another channel, streams included. Then the official OpenAI SDK (skipped without node and
# npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=Spark-Max
SECRET=MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi
APIKEY=addd2272b6d8b7c8abdd79531420ca3b
KEY="1a2b3c4d|$SECRET|$APIKEY"
ANSWER="你好！我是讯飞星火。"

sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
# The keys of the request frames the mock answered since the last reset, oldest first.
frame_keys() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys; print(",".join(r.get("key") or "" for r in json.loads(sys.stdin.read()) if r["method"] == "WS"))' <<<"$MOCK_BODY"
}
pongs() { mock_ctl GET /_mock/stats; JSON_DOC=$MOCK_BODY json_fields spark_pongs; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, answer] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "你好" }] });
  check("sdk: chat", r.choices[0].message.content === answer && r.choices[0].finish_reason === "stop" && r.usage.prompt_tokens === 2 && r.usage.completion_tokens === 8 && r.usage.total_tokens === 10, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "你好" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: stream with include_usage", text === answer && finish === "stop" && usage?.prompt_tokens === 2 && usage?.completion_tokens === 8, { text, finish, usage });
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

# Keys the mock knows besides the documentation's pair: one over its QPS, one without a licence.
mock_ctl POST /_mock/spark '{"api_key":"k-busy","api_secret":"s-busy","code":11202}'
like "$MOCK_BODY" 'spark key set' "the mock takes a Spark key answering 11202"
mock_ctl POST /_mock/spark '{"api_key":"k-nolicence","api_secret":"s-nolicence","code":11200}'

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    oa_set_option ModelRatio "{\"$MODEL\":0.5,\"Spark-Lite\":0.5,\"Spark-Pro\":0.5}"
    oa_set_option CompletionRatio "{\"$MODEL\":2}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":18,\"name\":\"spark\",\"key\":\"$KEY\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":10}"
    good=$CH_ID
    relay_bill_start
    mock_reset

    # --- non-stream ------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"max_tokens\":512,\"temperature\":0.5}"
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Spark channels"
    is "$OA_STATUS|$(json_fields id object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|cht000b9e5f@dx18bcd9a1b2c3a4e532|chat.completion|$MODEL|assistant|$ANSWER|stop" \
        "$ws: chat: the frames (one of them fragmented) collected into one chat.completion, the sid as id"
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" "2|8|10" \
        "$ws: chat: usage from the last frame"
    is "$(mock_last method path key model status)" "WS|/v3.5/chat|$APIKEY|generalv3.5|200" \
        "$ws: chat: the signed handshake accepted, one frame to /v3.5/chat"
    frame=$(mock_last body)
    is "$(JSON_DOC=$frame json_fields header.app_id parameter.chat.domain parameter.chat.max_tokens parameter.chat.temperature parameter.chat.top_k payload.message.text.0.role payload.message.text.0.content)" \
        "1a2b3c4d|generalv3.5|512|0.5|<none>|user|你好" "$ws: chat: the request frame"
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_MODEL" "2/8|$MODEL" "$ws: chat: billed Spark's counts"
    like "$(pongs)" '^[1-9]' "$ws: the mock's ping mid-answer got its pong"

    # --- stream ----------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$other|$events" \
        "200|text/event-stream|1|$ANSWER|stop|0|0|3" \
        "$ws: stream: three chunks, finish stop, and [DONE], which Spark does not send"
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "2/8|1" "$ws: stream: billed the last frame's usage"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}" -N
    sse
    is "$done_last|$content|$usage" "1|$ANSWER|2/8" "$ws: stream with include_usage: the usage chunk"
    relay_bill "$ws: stream with usage" 0.5 2

    # --- refusals and error codes ----------------------------------------------------------
    oa_add_channel "{\"type\":18,\"name\":\"spark-badsecret\",\"key\":\"1a2b3c4d|wrong-secret|$APIKEY\",\"base_url\":\"$MOCK_URL\",\"models\":\"Spark-Lite\",\"group\":\"default\"}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"Spark-Lite\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    like "$OA_STATUS|$(json_fields error.message)" '^401\|HMAC signature does not match \(request id: ' \
        "$ws: a wrong APISecret: the handshake's 401 reaches the client as an OpenAI error"
    like "$(mock_last method path status)" '^GET\|/v1\.1/chat\?authorization=[^|]*&host=127\.0\.0\.1%3A[0-9]+\|401$' \
        "$ws: ... refused by the mock's signature check (signed for the mock's host and port)"
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"

    oa_add_channel "{\"type\":18,\"name\":\"spark-nolicence\",\"key\":\"app|s-nolicence|k-nolicence\",\"base_url\":\"$MOCK_URL\",\"models\":\"Spark-Pro\",\"group\":\"default\"}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"Spark-Pro\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    like "$OA_STATUS|$(json_fields error.code error.message)" '^403\|11200\|AppIdNoAuthError:\(11200\)auth no license \(request id: ' \
        "$ws: error frame 11200: a 403 with Spark's code and message, before any chunk"
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"

    # --- the QPS limit: retried on another channel -----------------------------------------
    oa_add_channel "{\"type\":18,\"name\":\"spark-busy\",\"key\":\"app|s-busy|k-busy\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":20}"
    busy=$CH_ID
    oa_relay /v1/chat/completions "$ROOT_KEY-$busy" "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    like "$OA_STATUS|$(json_fields error.message error.code)" '^429\|当前分组上游负载已饱和，请稍后再试 \(request id: [0-9A-Za-z]+\)\|11202$' \
        "$ws: 11202 on a pinned channel: an OpenAI-shaped 429"
    relay_bill_start
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(frame_keys)" "200|$ANSWER|k-busy,$APIKEY" \
        "$ws: 11202: retried on the other Spark channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors|$(frame_keys)" "200|1|$ANSWER|0|k-busy,$APIKEY" \
        "$ws: 11202 in a stream: retried before the client saw a byte"
    relay_bill "$ws: stream rate limit retry" 0.5 2
    oa_admin PUT /api/channel/ "{\"id\":$busy,\"status\":2}"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL" "$ANSWER")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
