#!/usr/bin/env bash
# t0334: Zhipu channels (type 16). Every call carries a JWT (HS256, claims in milliseconds)
# minted from the key id.secret and verified by the mock as Zhipu does; many calls, some of
# them concurrent, share one token per key. glm-* models speak v4 (OpenAI's format at
# /api/paas/v4: chat, stream, embeddings); chatglm_turbo speaks v3 (invoke and sse-invoke,
# usage in the finish event's meta: line). Usage is billed as Zhipu reported it; the rate
# limit (1302, HTTP 429) is retried on another channel, streams included. Then the official
# OpenAI SDK (skipped without node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
ID=d2b1f0c2e7a44b8c9f0e1d2c3b4a5968
SECRET=QzN1aVhDd0RrS2pVbE5tTw
KEY="$ID.$SECRET"
MODELS="glm-4,chatglm_turbo,embedding-2"
ANSWER="Hello from mock"

# sse_summary's fields; a newline in the streamed text becomes "~".
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary | sed ':a;N;$!ba;s/\n/~/g')"; }
# Fields of the body of the last call the mock received.
mock_body() { local b; b=$(mock_last body); JSON_DOC=$b json_fields "$@"; }
zp_stat() { mock_ctl GET /_mock/zhipu; JSON_DOC=$MOCK_BODY json_fields "$@"; }
# The keys of the Zhipu calls the mock answered since the last reset, oldest first.
call_keys() {
    mock_ctl GET '/_mock/requests?limit=100'
    "$OA_PY" -c 'import json, sys; print(",".join(r.get("key") or "" for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY"
}
# One field of the JSON in $OA_BODY, printed by Python's repr (newlines visible).
py_field() { "$OA_PY" -c 'import json, sys; j = json.loads(sys.stdin.read()); print(repr(eval("j" + sys.argv[1])))' "$1" <<<"$OA_BODY"; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, answer] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model: "glm-4", messages: [{ role: "user", content: "hi" }] });
  check("sdk: v4 chat", r.choices[0].message.content === answer && r.choices[0].finish_reason === "stop" && r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model: "glm-4", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: v4 stream with include_usage", text === answer && finish === "stop" && usage?.completion_tokens > 0, { text, finish, usage });
  const e = await client.embeddings.create({ model: "embedding-2", input: "hello" });
  check("sdk: v4 embeddings", e.data.length === 1 && e.data[0].embedding.length > 0 && e.usage.prompt_tokens > 0, e.usage);
  const v3 = await client.chat.completions.create({ model: "chatglm_turbo", messages: [{ role: "user", content: "你好" }] });
  check("sdk: v3 chat", v3.choices[0].message.content === " 你好！\n我是智谱清言。" && v3.usage.completion_tokens === 9, v3);
  text = ""; usage = null; finish = null;
  const s3 = await client.chat.completions.create({ model: "chatglm_turbo", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "你好" }] });
  for await (const c of s3) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: v3 stream", text === "你好！我是\n智谱清言" && finish === "stop" && usage?.completion_tokens === 7, { text, finish, usage });
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

mock_ctl POST /_mock/zhipu "{\"id\":\"$ID\",\"secret\":\"$SECRET\"}"
is "$(JSON_DOC=$MOCK_BODY json_fields keys)" 1 "the mock takes a Zhipu key"
mock_ctl POST /_mock/zhipu '{"id":"k2","secret":"s2-secret"}'
mock_ctl POST /_mock/zhipu '{"id":"busy","secret":"busy-secret","code":1302}'

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    oa_set_option ModelRatio '{"glm-4":0.5,"chatglm_turbo":0.25,"embedding-2":0.1}'
    oa_set_option CompletionRatio '{"glm-4":2,"chatglm_turbo":1}'
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":16,\"name\":\"zhipu\",\"key\":\"$KEY\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODELS\",\"group\":\"default\",\"priority\":10}"
    good=$CH_ID
    relay_bill_start
    mock_reset
    mock_ctl DELETE /_mock/zhipu

    # --- v4 ---------------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"glm-4","messages":[{"role":"user","content":"hi there"}],"temperature":1.7,"top_p":1}'
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves Zhipu channels"
    is "$OA_STATUS|$(json_fields object choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$ANSWER|stop" "$ws: v4 chat answered"
    p=$(json_fields usage.prompt_tokens) c=$(json_fields usage.completion_tokens)
    is "$(mock_last method path key status)|$(mock_body temperature top_p)" \
        "POST|/api/paas/v4/chat/completions|$ID|200|1|0.99" \
        "$ws: v4 chat: the JWT of the key accepted; temperature and top_p clamped"
    like "$(mock_last headers.authorization)" '^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' \
        "$ws: v4 chat: Authorization is the bare JWT"
    relay_bill "$ws: v4 chat" 0.5 2
    is "$LOG_P/$LOG_C" "$p/$c" "$ws: v4 chat: billed Zhipu's counts"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"glm-4","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi there"}]}' -N
    sse
    is "$OA_STATUS|$done_last|$content|$finish|$errors" "200|1|$ANSWER|stop|0" "$ws: v4 stream"
    relay_bill "$ws: v4 stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$usage|1" "$ws: v4 stream: billed the usage Zhipu streamed"

    oa_relay /v1/embeddings "$ROOT_KEY" '{"model":"embedding-2","input":["hello world"]}'
    is "$OA_STATUS|$(json_fields object data.0.object)|$(mock_last path)|$(mock_body input)" \
        "200|list|embedding|/api/paas/v4/embeddings|hello world" "$ws: v4 embeddings, one string input"
    p=$(json_fields usage.prompt_tokens)
    relay_bill "$ws: embeddings" 0.1 1
    is "$LOG_P" "$p" "$ws: embeddings: billed Zhipu's count"

    # --- v3 ---------------------------------------------------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"chatglm_turbo","messages":[{"role":"user","content":"你好"}],"temperature":0.9}'
    is "$OA_STATUS|$(json_fields id choices.0.finish_reason usage.completion_tokens)" \
        "200|7951544019094669224|stop|9" "$ws: v3 invoke: the task id, stop, Zhipu's usage"
    is "$(py_field '["choices"][0]["message"]["content"]')" "' 你好！\\n我是智谱清言。'" \
        "$ws: v3 invoke: the quoted content decoded (a real newline)"
    is "$(mock_last path key)|$(mock_body temperature prompt.0.content)" \
        "/api/paas/v3/model-api/chatglm_turbo/invoke|$ID|0.9|你好" \
        "$ws: v3 invoke: the path and the JWT"
    p=$(json_fields usage.prompt_tokens)
    relay_bill "$ws: v3 invoke" 0.25 1
    is "$LOG_P/$LOG_C" "$p/9" "$ws: v3 invoke: billed Zhipu's counts"

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"chatglm_turbo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"你好"}]}' -N
    sse
    is "$OA_STATUS|$done_last|$content|$finish|$errors|${usage#*/}" "200|1|你好！我是~智谱清言|stop|0|7" \
        "$ws: v3 sse-invoke: two data lines joined, stop, usage from meta:, [DONE] added"
    is "$(mock_last path)" "/api/paas/v3/model-api/chatglm_turbo/sse-invoke" "$ws: v3 stream path"
    relay_bill "$ws: v3 stream" 0.25 1
    is "$LOG_P/$LOG_C" "$usage" "$ws: v3 stream: billed the meta usage"

    # --- one token per key, concurrent calls included ---------------------------------------
    pids=()
    for i in 1 2 3 4 5 6; do
        stream=$([[ $((i % 2)) -eq 0 ]] && echo true || echo false)
        model=$([[ $i -le 3 ]] && echo glm-4 || echo chatglm_turbo)
        curl -sS --max-time 30 -o "$OA_TMP/c$i.out" -w '%{http_code}' "$OA_URL/v1/chat/completions" \
            -H "Authorization: Bearer sk-$ROOT_KEY" -H 'Content-Type: application/json' \
            --data-binary "{\"model\":\"$model\",\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}" \
            >"$OA_TMP/c$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
    codes=""
    for i in 1 2 3 4 5 6; do codes+="$(cat "$OA_TMP/c$i.code") "; done
    is "$codes" "200 200 200 200 200 200 " "$ws: 6 concurrent calls (v4 and v3, 3 streamed) answered"
    is "$(zp_stat tokens accepted refused)" "1|11|0" \
        "$ws: 11 calls of one key, 6 of them concurrent: one token, all accepted"
    oa_wait_logs 6
    leaked=$(grep -rl "$SECRET\|eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04i" "$OA_RUN" 2>/dev/null)
    is "$leaked" "" "$ws: neither the secret nor the token reaches one-api's logs"
    relay_bill_start

    oa_add_channel "{\"type\":16,\"name\":\"zhipu-k2\",\"key\":\"k2.s2-secret\",\"base_url\":\"$MOCK_URL\",\"models\":\"glm-4\",\"group\":\"default\",\"priority\":0}"
    k2=$CH_ID
    for i in 1 2; do
        oa_relay /v1/chat/completions "$ROOT_KEY-$k2" '{"model":"glm-4","messages":[{"role":"user","content":"hi"}]}'
    done
    is "$OA_STATUS|$(mock_last key)|$(zp_stat tokens)" "200|k2|2" "$ws: a second key: its own token, once"
    relay_bill_start

    oa_add_channel "{\"type\":16,\"name\":\"zhipu-bad\",\"key\":\"$ID.wrong-secret\",\"base_url\":\"$MOCK_URL\",\"models\":\"glm-4\",\"group\":\"default\",\"priority\":0}"
    oa_relay /v1/chat/completions "$ROOT_KEY-$CH_ID" '{"model":"glm-4","messages":[{"role":"user","content":"hi"}]}'
    like "$OA_STATUS|$(json_fields error.code error.message)" '^401\|1002\|Authorization Token非法' \
        "$ws: a wrong secret: the mock refuses the signature, a 401 with Zhipu's code"
    oa_admin PUT /api/channel/ "{\"id\":$CH_ID,\"status\":2}"
    oa_admin PUT /api/channel/ "{\"id\":$k2,\"status\":2}"

    # --- the rate limit: retried on another channel -----------------------------------------
    oa_add_channel "{\"type\":16,\"name\":\"zhipu-busy\",\"key\":\"busy.busy-secret\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODELS\",\"group\":\"default\",\"priority\":20}"
    busy=$CH_ID
    oa_relay /v1/chat/completions "$ROOT_KEY-$busy" '{"model":"glm-4","messages":[{"role":"user","content":"hi"}]}'
    like "$OA_STATUS|$(json_fields error.code error.message)" '^429\|1302\|.+' \
        "$ws: 1302 on a pinned channel: an OpenAI-shaped 429"
    relay_bill_start
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"glm-4","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(call_keys)" "200|$ANSWER|busy,$ID" \
        "$ws: 1302: retried on the other Zhipu channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"glm-4","stream":true,"messages":[{"role":"user","content":"hi"}]}' -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors|$(call_keys)" "200|1|$ANSWER|0|busy,$ID" \
        "$ws: 1302 in a stream: retried before the client saw a byte"
    relay_bill "$ws: stream rate limit retry" 0.5 2
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"chatglm_turbo","messages":[{"role":"user","content":"你好"}]}'
    is "$OA_STATUS|$(json_fields usage.completion_tokens)|$(call_keys)" "200|9|busy,$ID" \
        "$ws: v3 1302 (success:false in a 200): retried on the other channel"
    relay_bill "$ws: v3 rate limit retry" 0.25 1
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"chatglm_turbo","stream":true,"messages":[{"role":"user","content":"你好"}]}' -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors|$(call_keys)" "200|1|你好！我是~智谱清言|0|busy,$ID" \
        "$ws: v3 1302 as JSON where a stream was asked: retried before the client saw a byte"
    relay_bill "$ws: v3 stream rate limit retry" 0.25 1
    oa_admin PUT /api/channel/ "{\"id\":$busy,\"status\":2}"

    # --- the official SDK ------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$ANSWER")
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
