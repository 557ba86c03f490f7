#!/usr/bin/env bash
# t0331: the Chinese providers served by this branch, each created through /api: Tencent
# Hunyuan (23: TencentCloud API 3.0, TC3 signature checked by the mock over the host of the
# channel's own base URL), MiniMax (27: errors and the end of the stream inside HTTP 200),
# Doubao (40, Ark's /api/v3), Baidu V2 (47, Qianfan's /v2) and Ali Bailian (49, DashScope's
# /compatible-mode/v1). For each: non-stream and stream chats, embeddings where the provider
# has them, usage billed exactly as the provider reported it, the provider's rate-limit error
# retried on another channel of the type, and the official OpenAI SDK; Hunyuan also with
# tools (a named tool_choice, streamed calls, the tool result turn) and an image.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start

HY=hunyuan-lite HY_EMB=hunyuan-embedding HY_BAD=hunyuan-pro
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'
PNG='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
MM=abab6.5s-chat
DB=doubao-pro-32k DB_EMB=doubao-embedding DB_EP=ep-20240608051426-tkxvl
BD=ernie-3.5-8k BD_EMB=embedding-v1
QW=qwen-plus QW_EMB=text-embedding-v3
CHATS="$HY $MM $DB $BD $QW"
EMBS="$HY_EMB $DB_EMB $BD_EMB $QW_EMB"

sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
ask() { local b=$1; shift; oa_relay /v1/chat/completions "$ROOT_KEY" "$b" "$@"; }
embed() { oa_relay /v1/embeddings "$ROOT_KEY" "$1"; }
# mock_keys_statuses: "key:status,..." of every request the mock recorded since its reset.

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, chats, embs] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
for (const model of chats.split(" ")) {
  try {
    const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }] });
    check(`sdk: ${model} chat`, r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.completion_tokens === 3 && r.usage.total_tokens === r.usage.prompt_tokens + 3, r);
    let text = "", usage = null, finish = null;
    const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
    for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
    check(`sdk: ${model} stream with include_usage`, text === "Hello from mock" && finish === "stop" && usage && usage.completion_tokens === 3, { text, finish, usage });
  } catch (e) {
    out.push(`not ok ${model}: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
  }
}
{
  // Hunyuan's tool calls, through the SDK's own accumulation of the streamed pieces.
  const model = chats.split(" ")[0];
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  try {
    const t = await client.chat.completions.create({ model, tools, messages: [{ role: "user", content: "[[mock tool=get_weather]] weather?" }] });
    const call = t.choices[0].message.tool_calls?.[0];
    check(`sdk: ${model} tool call`, call?.function?.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris" && t.choices[0].finish_reason === "tool_calls", t.choices[0]);
    const st = client.beta.chat.completions.stream({ model, tools, messages: [{ role: "user", content: "[[mock tool=get_weather chunks=3]] weather?" }] });
    const fin = await st.finalChatCompletion();
    const sc = fin.choices[0].message.tool_calls?.[0];
    check(`sdk: ${model} streamed tool call`, fin.choices[0].message.tool_calls.length === 1 && sc?.id && sc.function.name === "get_weather" && JSON.parse(sc.function.arguments).city === "Paris" && fin.choices[0].finish_reason === "tool_calls", fin.choices[0]);
  } catch (e) {
    out.push(`not ok ${model}: tools: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
  }
}
for (const model of embs.split(" ")) {
  try {
    const e = await client.embeddings.create({ model, input: ["hello world", "good morning to you"] });
    check(`sdk: ${model} embeddings`, e.data.length === 2 && e.data[1].index === 1 && e.data[0].embedding.length > 0 && e.usage.prompt_tokens === 6, e.usage);
  } catch (e) {
    out.push(`not ok ${model}: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
  }
}
console.log(out.join("\n"));
JS

# A signed Hunyuan request straight to the mock with a timestamp 10 minutes old: the mock
# refuses it as Tencent does (the gateway's own requests pass below, so its clock is used).
mock_reset
old=$(($(date +%s) - 600))
body='{"Model":"hunyuan-lite","Messages":[{"Role":"user","Content":"hi"}],"Stream":false}'
sig=$("$OA_PY" - "$old" "$MOCK_PORT" "$body" <<'PY'
import hashlib, hmac, sys, time
ts, port, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
date = time.strftime("%Y-%m-%d", time.gmtime(ts))
canon = "POST\n/\n\ncontent-type:application/json\nhost:127.0.0.1:%s\nx-tc-action:chatcompletions\n\ncontent-type;host;x-tc-action\n%s" % (port, hashlib.sha256(body.encode()).hexdigest())
sts = "TC3-HMAC-SHA256\n%d\n%s/hunyuan/tc3_request\n%s" % (ts, date, hashlib.sha256(canon.encode()).hexdigest())
k = hmac.new(b"TC3AKIDmockA-secret", date.encode(), hashlib.sha256).digest()
k = hmac.new(k, b"hunyuan", hashlib.sha256).digest()
k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
print("TC3-HMAC-SHA256 Credential=AKIDmockA/%s/hunyuan/tc3_request, SignedHeaders=content-type;host;x-tc-action, Signature=%s" % (date, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()))
PY
)
res=$(curl -sS --max-time 10 "$MOCK_URL/" -H 'Content-Type: application/json' -H 'X-TC-Action: ChatCompletions' \
    -H 'X-TC-Version: 2023-09-01' -H "X-TC-Timestamp: $old" -H "Authorization: $sig" --data-binary "$body")
is "$(JSON_DOC=$res json_fields Response.Error.Code)" "AuthFailure.SignatureExpire" \
    "mock: a TC3 timestamp more than 300 s off is refused"
res=$(curl -sS --max-time 10 "$MOCK_URL/" -H 'Content-Type: application/json' -H 'X-TC-Action: ChatCompletions' \
    -H 'X-TC-Version: 2023-09-01' -H "X-TC-Timestamp: $(date +%s)" -H "Authorization: $sig" --data-binary "$body")
is "$(JSON_DOC=$res json_fields Response.Error.Code)" "AuthFailure.SignatureFailure" \
    "mock: a signature over another timestamp is refused"

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    ratios="" cratios=""
    # The mapped name is priced, as in One API: Doubao's endpoint id too.
    for m in $CHATS $HY_BAD $DB_EP; do ratios+="\"$m\":0.5,"; cratios+="\"$m\":2,"; done
    for m in $EMBS; do ratios+="\"$m\":0.05,"; done
    oa_set_option ModelRatio "{${ratios%,}}"
    oa_set_option CompletionRatio "{${cratios%,}}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    ch() { oa_add_channel "{\"type\":$1,\"name\":\"$2\",\"key\":\"$3\",\"base_url\":\"$MOCK_URL\",\"models\":\"$4\",\"group\":\"default\",\"priority\":$5${6:+,\"model_mapping\":\"$6\"}}"; }
    ch 23 hy-a "1250000000|AKIDmockA|AKIDmockA-secret" "$HY,$HY_EMB" 5
    ch 23 hy-b "1250000000|AKIDmockB|AKIDmockB-secret" "$HY,$HY_EMB" 0
    ch 23 hy-bad "1250000000|AKIDmockC|not-the-secret" "$HY_BAD" 0
    ch 27 mm-a "mm-key-a" "$MM" 5
    ch 27 mm-b "mm-key-b" "$MM" 0
    ch 40 db-a "ark-key-a" "$DB,$DB_EMB" 5 "{\\\"$DB\\\":\\\"$DB_EP\\\"}"
    ch 40 db-b "ark-key-b" "$DB,$DB_EMB" 0 "{\\\"$DB\\\":\\\"$DB_EP\\\"}"
    ch 47 bd-a "bce-v3/ALTAK-a/aaa" "$BD,$BD_EMB" 5
    ch 47 bd-b "bce-v3/ALTAK-b/bbb" "$BD,$BD_EMB" 0
    ch 49 qw-a "sk-qw-a" "$QW,$QW_EMB" 5
    ch 49 qw-b "sk-qw-b" "$QW,$QW_EMB" 0
    relay_bill_start

    # --- Hunyuan: the signed request, the answer converted ------------------------------------
    mock_reset
    ask "{\"model\":\"$HY\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}],\"temperature\":0.5,\"top_p\":0.8}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$HY|assistant|Hello from mock|stop" "$ws: hunyuan: an OpenAI chat.completion"
    like "$(json_fields id)" '^chatcmpl-mock-hy-[0-9]+$' "$ws: hunyuan: the id is chatcmpl-<Id>"
    is "$(mock_last path provider key headers.x-tc-action headers.x-tc-version status)" \
        "/|tencent|AKIDmockA|ChatCompletions|2023-09-01|200" \
        "$ws: hunyuan: POST / with X-TC-Action, signed with the channel's SecretId and accepted"
    like "$(mock_last headers.host)" "^127\\.0\\.0\\.1:$MOCK_PORT\$" "$ws: hunyuan: signed for the base URL's host"
    is "$(JSON_DOC=$(mock_last body) json_fields Model Messages.0.Role Messages.0.Content Messages.1.Role Stream TopP Temperature model)" \
        "$HY|system|Be brief.|user|false|0.8|0.5|<none>" "$ws: hunyuan: the body in Tencent's PascalCase"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" "$billed_p|3|$((billed_p + 3))" \
        "$ws: hunyuan: usage is Usage"
    relay_bill "$ws: hunyuan" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: hunyuan: billed the upstream's Usage"

    ask "{\"model\":\"$HY\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=ni]]\"}]}" -N
    sse
    billed_p=$(mock_last prompt_tokens)
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$usage" \
        "200|text/event-stream|1|ni ni ni ni|stop|0|$billed_p/4" \
        "$ws: hunyuan stream: OpenAI chunks, finish stop, the last Usage, [DONE] added"
    relay_bill "$ws: hunyuan stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: hunyuan stream: billed the last Usage"

    embed "{\"model\":\"$HY_EMB\",\"input\":[\"hello world\",\"good morning to you\"]}"
    is "$OA_STATUS|$(json_fields object data.1.index usage.prompt_tokens usage.total_tokens)" "200|list|1|6|6" \
        "$ws: hunyuan embeddings: an OpenAI list with Usage"
    is "$(mock_last headers.x-tc-action)|$(JSON_DOC=$(mock_last body) json_fields InputList.1)" \
        "GetEmbedding|good morning to you" "$ws: hunyuan embeddings: GetEmbedding with InputList"
    relay_bill "$ws: hunyuan embeddings" 0.05 1
    is "$LOG_P/$LOG_C" "6/0" "$ws: hunyuan embeddings: billed Usage.PromptTokens"

    # --- Hunyuan: tools both ways, images as Contents ----------------------------------------
    ask "{\"model\":\"$HY\",$TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather]]\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.tool_calls.0.type choices.0.message.tool_calls.0.function.name choices.0.finish_reason)" \
        "200|function|get_weather|tool_calls" "$ws: hunyuan tool call: an OpenAI tool_calls answer"
    ok_if "$ws: hunyuan tool call: arguments {\"city\":\"Paris\"}" \
        same_json "$(json_fields choices.0.message.tool_calls.0.function.arguments)" '{"city":"Paris"}'
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields Tools.0.Type Tools.0.Function.Name ToolChoice CustomTool.Function.Name)" \
        "function|get_weather|custom|get_weather" "$ws: hunyuan tool call: Tools, and a named tool_choice as custom"
    ok_if "$ws: hunyuan tool call: Parameters is the schema as a JSON string" \
        same_json "$(JSON_DOC=$up json_fields Tools.0.Function.Parameters)" '{"type":"object","properties":{"city":{"type":"string"}}}'
    billed_p=$(mock_last prompt_tokens) billed_c=$(mock_last completion_tokens)
    relay_bill "$ws: hunyuan tool call" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/$billed_c" "$ws: hunyuan tool call: billed the upstream's Usage"
    call_id=$(json_fields choices.0.message.tool_calls.0.id)

    ask "{\"model\":\"$HY\",\"stream\":true,\"stream_options\":{\"include_usage\":true},$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather? [[mock tool=get_weather chunks=3 args={\\\"city\\\":\\\"Rome\\\"}]]\"}]}" -N
    sse
    billed_p=$(mock_last prompt_tokens) billed_c=$(mock_last completion_tokens)
    is "$OA_STATUS|$done_last|$tool|$finish|$errors|$usage" "200|1|get_weather|tool_calls|0|$billed_p/$billed_c" \
        "$ws: hunyuan streamed tool call: the name once, finish tool_calls, the last Usage, [DONE]"
    ok_if "$ws: hunyuan streamed tool call: the pieces (each repeating Hunyuan's Id) join to {\"city\":\"Rome\"}" \
        same_json "$args" '{"city":"Rome"}'
    relay_bill "$ws: hunyuan streamed tool call" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/$billed_c" "$ws: hunyuan streamed tool call: billed the last Usage"

    turn="{\"model\":\"$HY\",$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
    turn+="{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"$call_id\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
    turn+="{\"role\":\"tool\",\"tool_call_id\":\"$call_id\",\"content\":\"sunny, 21 C\"},"
    turn+="{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And this picture?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$PNG\"}}]}]}"
    ask "$turn"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: hunyuan tool result turn: answered"
    is "$(JSON_DOC=$(mock_last body) json_fields Messages.1.Content Messages.1.ToolCalls.0.Id Messages.1.ToolCalls.0.Function.Name Messages.2.Role Messages.2.ToolCallId Messages.3.Contents.0.Text Messages.3.Contents.1.Type Messages.3.Contents.1.ImageUrl.Url)" \
        "<none>|$call_id|get_weather|tool|$call_id|And this picture?|image_url|data:image/png;base64,$PNG" \
        "$ws: hunyuan tool result turn: ToolCalls (no empty Content), ToolCallId, and the image in Contents"
    relay_bill "$ws: hunyuan tool result turn" 0.5 2

    ask "{\"model\":\"$HY_BAD\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields error.code error.type)" "401|AuthFailure.SignatureFailure|upstream_error" \
        "$ws: hunyuan: a wrong secret key is Tencent's signature failure, a 401"

    # --- MiniMax ------------------------------------------------------------------------------
    mock_reset
    ask "{\"model\":\"$MM\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    is "$OA_STATUS|$(json_fields object choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|Hello from mock|stop" "$ws: minimax: the answer"
    is "$(mock_last path provider headers.authorization)" "/v1/text/chatcompletion_v2|minimax|Bearer mm-key-a" \
        "$ws: minimax: POST /v1/text/chatcompletion_v2 with the key as a Bearer token"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: minimax" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: minimax: billed the upstream's usage"
    ask "{\"model\":\"$MM\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=2 text=hi]]\"}]}" -N
    sse
    billed_p=$(mock_last prompt_tokens)
    is "$OA_STATUS|$done_last|$content|$finish|$errors|$usage" "200|1|hi hi|stop|0|$billed_p/2" \
        "$ws: minimax stream: the closing whole answer is a finish chunk, not the text again"
    is "$(grep -c '"object":"chat.completion",' <<<"$OA_BODY")" 0 \
        "$ws: minimax stream: no chat.completion object reaches the client"
    relay_bill "$ws: minimax stream" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/2" "$ws: minimax stream: billed the final usage"

    # --- Doubao, Baidu V2, Ali Bailian: their paths -------------------------------------------
    for t in "$DB|/api/v3|$DB_EMB|Bearer ark-key-a" "$BD|/v2|$BD_EMB|Bearer bce-v3/ALTAK-a/aaa" \
        "$QW|/compatible-mode/v1|$QW_EMB|Bearer sk-qw-a"; do
        IFS='|' read -r m prefix emb auth <<<"$t"
        mock_reset
        ask "{\"model\":\"$m\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}"
        is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" "$ws: $m: the answer"
        is "$(mock_last path headers.authorization)" "$prefix/chat/completions|$auth" "$ws: $m: chat under $prefix"
        want_model=$m
        [[ $m == "$DB" ]] && want_model=$DB_EP
        is "$(mock_last model)" "$want_model" "$ws: $m: the model sent (an Ark endpoint id through the mapping)"
        billed_p=$(mock_last prompt_tokens)
        relay_bill "$ws: $m" 0.5 2
        is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: $m: billed the upstream's usage"
        ask "{\"model\":\"$m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=2 text=ok]]\"}]}" -N
        sse
        billed_p=$(mock_last prompt_tokens)
        is "$OA_STATUS|$done_last|$content|$finish|$usage" "200|1|ok ok|stop|$billed_p/2" "$ws: $m stream"
        relay_bill "$ws: $m stream" 0.5 2
        is "$LOG_P/$LOG_C" "$billed_p/2" "$ws: $m stream: billed the usage chunk"
        embed "{\"model\":\"$emb\",\"input\":\"hello there world\"}"
        is "$OA_STATUS|$(json_fields object usage.prompt_tokens)|$(mock_last path)" "200|list|3|$prefix/embeddings" \
            "$ws: $emb: embeddings under $prefix"
        relay_bill "$ws: $emb" 0.05 1
        is "$LOG_P/$LOG_C" "3/0" "$ws: $emb: billed the upstream's usage"
    done

    # --- each provider's rate limit: a retryable 429, served by the type's other channel -------
    for t in "$HY|AKIDmockA|AKIDmockB" "$MM|mm-key-a|mm-key-b" "$DB|ark-key-a|ark-key-b" \
        "$BD|bce-v3/ALTAK-a/aaa|bce-v3/ALTAK-b/bbb" "$QW|sk-qw-a|sk-qw-b"; do
        IFS='|' read -r m ka kb <<<"$t"
        mock_reset
        mock_ctl POST /_mock/script "{\"key\":\"$ka\",\"responses\":[{\"status\":429}]}"
        ask "{\"model\":\"$m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
        is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
            "$ws: $m 429: the relay retries on the type's other channel"
        like "$(mock_keys_statuses)" "^$ka:(429|200),$kb:200\$" "$ws: $m 429: the first channel refused, the second answered"
        relay_bill "$ws: $m retried" 0.5 2
        mock_ctl POST /_mock/script "{\"key\":\"$ka\",\"responses\":[{\"status\":429}]}"
        mock_ctl POST /_mock/script "{\"key\":\"$kb\",\"responses\":[{\"status\":429},{\"status\":429}]}"
        ask "{\"model\":\"$m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
        like "$OA_STATUS|$(json_fields error.type)|$(json_fields error.message)" '^429\|(upstream_error|requests)\|.*\(request id: ' \
            "$ws: $m 429 everywhere: an OpenAI-shaped 429 error"
        mock_ctl DELETE /_mock/script
    done

    # --- errors inside a 200 stream -----------------------------------------------------------
    # MiniMax answers a rate-limited stream with HTTP 200 and one event of base_resp 1002:
    # nothing has reached the client yet, so the relay tries the type's other channel.
    mock_reset
    mock_ctl POST /_mock/script '{"key":"mm-key-a","responses":[{"status":429}]}'
    ask "{\"model\":\"$MM\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" -N
    sse
    is "$OA_STATUS|$errors|$done_last|$content" "200|0|1|Hello from mock" \
        "$ws: minimax: a rate limit as the stream's first event is retried on the other channel"
    like "$(mock_keys_statuses)" '^mm-key-a:200,mm-key-b:200$' "$ws: minimax: ... both channels answered 200 streams"
    relay_bill "$ws: minimax stream retried" 0.5 2
    mock_ctl DELETE /_mock/script
    ask "{\"model\":\"$MM\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=429 msg=\\\"rate limit exceeded(RPM)\\\"]]\"}]}" -N
    is "$OA_STATUS|$(json_fields error.message)" "429|当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: minimax: a rate limit as every channel's first stream event: One API's 429, not a 200 stream"
    ask "{\"model\":\"$HY\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x [[mock status=400 msg=\\\"bad Messages\\\"]]\"}]}"
    is "$OA_STATUS|$(json_fields error.code)" "400|InvalidParameter" \
        "$ws: hunyuan: a JSON error answering a stream request is detected, not parsed as SSE"

    # --- the official OpenAI SDK ------------------------------------------------------------
    if sdk_check "$ws: the official OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$CHATS" "$EMBS")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
