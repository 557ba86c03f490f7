#!/usr/bin/env bash
# t0333: Baidu ERNIE channels (type 15) speak the wenxinworkshop API: an OAuth access token
# exchanged once from the key "APIKey|SecretKey" and cached (also across concurrent requests),
# chat (JSON, or SSE without [DONE]) and embeddings turned back into OpenAI's answers, usage
# billed as Baidu reported it, errors inside HTTP 200 normalised (a revoked token is fetched
# again, a QPS limit is a 429 retried on another channel). Then the official OpenAI SDK
# against the same channel (skipped without node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=ERNIE-3.5-8K
EMB=Embedding-V1
REQ="{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"system\",\"content\":\"你是助手\"},{\"role\":\"user\",\"content\":\"你好\"}],\"temperature\":0.7,\"max_tokens\":256}"
SREQ="{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}"

sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
bd_stats() { mock_ctl GET /_mock/baidu; JSON_DOC=$MOCK_BODY json_fields exchanges refused; }
# The client_ids of the tokens the model calls since the last reset carried, comma-joined.
ids_seen() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c '
import json, sys
print(",".join(r["path"].split(".")[-1] for r in json.loads(sys.stdin.read()) if "wenxinworkshop" in r["path"]))' <<<"$MOCK_BODY"
}

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, emb] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "你是助手" }, { role: "user", content: "你好" }] });
  check("sdk: chat", r.id === "as-bcmt5ct4iy" && r.choices[0].message.content === "你好！有什么可以帮你？" && r.choices[0].finish_reason === "stop" && r.usage.prompt_tokens === 6 && r.usage.completion_tokens === 8, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "你好" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: stream with include_usage", text === "你好！有什么可以帮你？" && finish === "stop" && usage?.prompt_tokens === 6 && usage.completion_tokens === 8 && usage.total_tokens === 14, { text, finish, usage });
  const ef = await client.embeddings.create({ model: emb, input: "你好", encoding_format: "float" });
  check("sdk: embeddings float", ef.data[0].embedding.length === 3 && Math.abs(ef.data[0].embedding[0] - 0.0123) < 1e-9 && ef.usage.prompt_tokens === 2, ef);
  const eb = await client.embeddings.create({ model: emb, input: ["你好", "世界"] });
  check("sdk: embeddings base64 (the SDK's default) decode to the same floats", eb.data.length === 2 && eb.data[1].index === 1 && Math.abs(eb.data[1].embedding[1] + 0.0456) < 1e-6, eb);
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
    oa_add_channel "{\"type\":15,\"name\":\"ernie\",\"key\":\"AK123|SK456\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL,$EMB\",\"group\":\"default\",\"priority\":10}"
    BD_ID=$CH_ID
    relay_bill_start
    mock_reset
    mock_ctl DELETE /_mock/baidu

    # --- concurrent requests share one token ----------------------------------------------
    pids=()
    for i in 1 2 3 4 5 6; do
        if ((i % 2)); then body=$REQ; else body=$SREQ; fi
        curl -sS --max-time 30 -o "$OA_TMP/c$i.out" -w '%{http_code}' -H "Authorization: Bearer sk-$ROOT_KEY" \
            -H 'Content-Type: application/json' --data-binary "$body" "$OA_URL/v1/chat/completions" >"$OA_TMP/c$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
    codes=$(cat "$OA_TMP"/c[1-6].code | tr -d '\n')
    is "$codes" 200200200200200200 "$ws: six concurrent chats (three streamed) all answered"
    is "$(bd_stats)" "1|0" "$ws: the six concurrent requests made exactly one token fetch"
    oa_wait_logs 6 || true
    relay_bill_start

    # --- non-stream chat -------------------------------------------------------------------
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    is "$OA_STATUS|$(json_fields id object created model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|as-bcmt5ct4iy|chat.completion|1700000000|$MODEL|assistant|你好！有什么可以帮你？|stop" \
        "$ws: chat: Baidu's answer as an OpenAI chat.completion"
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" "6|8|14" "$ws: chat: Baidu's usage"
    like "$(mock_last path)" '^/rpc/2\.0/ai_custom/v1/wenxinworkshop/chat/completions\?access_token=24\.mock[0-9]+\.2592000\.AK123$' \
        "$ws: chat: the endpoint of $MODEL, with the token in the query"
    ok_if "$ws: chat: system apart, max_tokens as max_output_tokens" same_json "$(mock_last body)" \
        '{"messages":[{"role":"user","content":"你好"}],"temperature":0.7,"system":"你是助手","max_output_tokens":256}'
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_P/$LOG_C" "6/8" "$ws: chat: billed Baidu's counts"

    # --- stream ----------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" "$SREQ" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$events" \
        "200|text/event-stream|1|你好！有什么可以帮你？|stop|0|3" "$ws: stream: Baidu's events become three chunks, finish stop, [DONE] last"
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "6/8|1" "$ws: stream: billed the last event's usage"
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        "{\"model\":\"$MODEL\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}" -N
    sse
    is "$done_last|$usage" "1|6/8" "$ws: stream with include_usage: the usage chunk"
    relay_bill "$ws: stream with usage" 0.5 2

    # --- embeddings ------------------------------------------------------------------------
    oa_relay /v1/embeddings "$ROOT_KEY" "{\"model\":\"$EMB\",\"input\":[\"你好\",\"世界\"]}"
    is "$OA_STATUS|$(json_fields object data.1.object data.1.index model usage.prompt_tokens usage.total_tokens)" \
        "200|list|embedding|1|$EMB|4|4" "$ws: embeddings: an OpenAI list with Baidu's usage"
    like "$(mock_last path)" '^/rpc/2\.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1\?access_token=' \
        "$ws: embeddings: the embeddings endpoint of $EMB"
    relay_bill "$ws: embeddings" 0.05 1
    is "$LOG_P/$LOG_C" "4/0" "$ws: embeddings: billed Baidu's count"
    is "$(bd_stats)" "1|0" "$ws: still one token fetch after all of these"

    # --- errors ----------------------------------------------------------------------------
    # Baidu revokes the token: error 110 inside a 200 is an OpenAI-shaped 401, and the cached
    # token is dropped, so the next request fetches a new one.
    mock_ctl DELETE /_mock/baidu
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    like "$OA_STATUS|$(json_fields error.message error.type error.code)|$(bd_stats)" \
        '^401\|Access token invalid or no longer valid \(request id: [0-9A-Za-z]+\)\|baidu_error\|110\|0\|1$' \
        "$ws: a revoked token (error 110): a 401 with Baidu's message and code"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(bd_stats)" "200|你好！有什么可以帮你？|1|1" \
        "$ws: ... the next request fetches a new token and is answered"
    relay_bill "$ws: with the new token" 0.5 2
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    is "$OA_STATUS|$(bd_stats)" "200|1|1" "$ws: ... and the new token is cached"
    relay_bill "$ws: with the cached new token" 0.5 2

    # A QPS limit (error 18 inside a 200) is a 429, retried on another channel.
    oa_add_channel "{\"type\":15,\"name\":\"ernie-busy\",\"key\":\"busy1|SK9\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":20}"
    BUSY_ID=$CH_ID
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(ids_seen)" "200|你好！有什么可以帮你？|busy1,AK123" \
        "$ws: rate limit: the busy channel's error 18 is retried on the other channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" "$SREQ" -N
    sse
    is "$OA_STATUS|$done_last|$content|$(ids_seen)" "200|1|你好！有什么可以帮你？|busy1,AK123" \
        "$ws: rate limit: a stream too is retried on the other channel"
    relay_bill "$ws: stream rate limit retry" 0.5 2
    oa_admin PUT /api/channel/ "{\"id\":$BD_ID,\"status\":2}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$REQ"
    like "$OA_STATUS|$(json_fields error.type error.code)" '^429\|' \
        "$ws: rate limit with no other channel: a 429"
    is "$(json_fields error.type)" baidu_error "$ws: ... an OpenAI-shaped baidu_error"
    oa_admin PUT /api/channel/ "{\"id\":$BUSY_ID,\"status\":2}"
    oa_admin PUT /api/channel/ "{\"id\":$BD_ID,\"status\":1}"

    # A refused key: the token endpoint's error reaches the client.
    oa_add_channel "{\"type\":15,\"name\":\"ernie-bad\",\"key\":\"bad1|SK\",\"base_url\":\"$MOCK_URL\",\"models\":\"ERNIE-Speed-8K\",\"group\":\"default\"}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"ERNIE-Speed-8K\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}"
    like "$OA_STATUS|$(json_fields error.message)" '^401\|invalid_client: unknown client id' \
        "$ws: a refused key: 401 with the token endpoint's error"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL" "$EMB")
        [[ -n $res ]] || res="not ok node printed nothing"
        while IFS= read -r line; do
            case $line in
            "ok "*) pass "$ws: ${line#ok }" ;;
            "not ok "*) fail "$ws: ${line#not ok }" ;;
            *) diag "$line" ;;
            esac
        done <<<"$res"
    fi
    oa_stop
done

done_testing
