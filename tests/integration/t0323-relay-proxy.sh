#!/usr/bin/env bash
# t0323: Proxy channels (type 43) and /v1/oneapi/proxy/:channelid/<target>: the request goes to
# the channel's base URL with its key as Authorization (no "Bearer"), the answer comes back
# with its status, headers and body (streamed), nothing billed or logged; type 43 is never a
# routing candidate. Then what the relay forwards as One API does: upstream answer headers,
# the client's query string and engines path, the usage chunk of re-encoded streams, the
# client's Anthropic headers and GEMINI_SAFETY_SETTING; and the model lists leave out models
# that only channels the relay cannot route to serve.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
OA_ENV+=("GEMINI_SAFETY_SETTING=BLOCK_ONLY_HIGH")
mock_start
PKEY=sk-proxy-raw # the Proxy channel's key, sent as it is
CLAUDE=claude-3-5-haiku-20241022
GEMINI=gemini-2.0-flash
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
# state: consume log rows, root's quota and used quota, the key's used quota
state() { oa_db_query "SELECT (SELECT COUNT(*) FROM logs), (SELECT quota || '/' || used_quota || '/' || request_count FROM users WHERE id = 1)"; }
proxy() { # proxy METHOD CHANNEL TARGET [CURL ARGS...]
    local m=$1 id=$2 t=$3; shift 3
    oa_req "$m" "/v1/oneapi/proxy/$id$t" -H "Authorization: Bearer sk-$ROOT_KEY" "$@"
}
cat >"$OA_TMP/sdk.mjs" <<JS
import OpenAI from "openai";
const [base, key] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base, apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(\`\${cond ? "ok" : "not ok"} \${name}\${cond ? "" : " # " + JSON.stringify(detail)}\`);
try {
  const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] });
  check("SDK through the proxy: chat", r.choices[0].message.content === "Hello from mock" && r.usage.total_tokens > 0, r);
  let text = "", usage = null;
  const s = await client.chat.completions.create({ model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.usage) usage = c.usage; }
  check("SDK through the proxy: stream", text === "Hello from mock" && usage && usage.completion_tokens > 0, { text, usage });
  const e = await client.embeddings.create({ model: "text-embedding-3-small", input: "hello", encoding_format: "float" });
  check("SDK through the proxy: embeddings", e.data[0].embedding.length > 0, e);
} catch (e) {
  out.push(\`not ok SDK exception # \${String(e)}\`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    mock_reset

    # ============================== the Proxy channel ==============================
    oa_add_channel "{\"type\":43,\"name\":\"proxy\",\"key\":\"$PKEY\",\"base_url\":\"$MOCK_URL/up/\",\"models\":\"proxy-only-model\",\"group\":\"default\"}"
    is "$(json_fields success)" true "$ws: a Proxy channel (type 43) can be created"
    P=$CH_ID
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k-openai\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini,gpt-4o-mini-alias,text-embedding-ada-002\",\"model_mapping\":\"{\\\"gpt-4o-mini-alias\\\":\\\"gpt-4o-mini\\\"}\",\"group\":\"default\"}"
    O=$CH_ID
    before=$(state)

    proxy POST "$P" "/v1/chat/completions?trace=1&x=%20y" -H 'Content-Type: application/json' \
        -H 'X-Custom: hello' -H 'Cookie: session=gateway-secret' \
        --data-binary '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
    is "$OA_STATUS|$(json_fields object choices.0.message.content)" "200|chat.completion|Hello from mock" \
        "$ws: proxy: the upstream's answer comes back"
    is "$(mock_last method path key headers.authorization headers.x-custom headers.cookie headers.content-type)" \
        "POST|/up/v1/chat/completions?trace=1&x=%20y|$PKEY|$PKEY|hello|<none>|application/json" \
        "$ws: proxy: base + target + query, the channel key without Bearer, the client's headers but its cookie"
    like "$(header x-request-id)" '^mock-[0-9]+$' "$ws: proxy: the upstream's headers come back"
    like "$(header X-Oneapi-Request-Id)" '^[0-9]{14}' "$ws: proxy: ... next to the gateway's request id"

    proxy POST "$P" /v1/chat/completions -H 'Content-Type: application/json' -N \
        --data-binary '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Go [[mock chunks=3 text=ab]]"}]}'
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$usage" "200|text/event-stream|1|ab ab ab|$(mock_last prompt_tokens)/3" \
        "$ws: proxy: a stream comes back as the upstream sent it"

    mock_ctl POST /_mock/script "{\"key\":\"$PKEY\",\"responses\":[{\"status\":418,\"body\":{\"teapot\":true},\"headers\":{\"X-Up\":\"1\",\"Set-Cookie\":\"up=1\",\"X-Accel-Redirect\":\"/internal\"}}]}"
    proxy DELETE "$P" /v1/files/file-1
    is "$OA_STATUS|$OA_BODY|$(header X-Up)" '418|{"teapot":true}|1' "$ws: proxy: any method; status, body and headers as the upstream answered"
    is "$(header Set-Cookie || echo none)|$(header X-Accel-Redirect || echo none)" "none|none" \
        "$ws: proxy: but not the upstream's cookies nor X-Accel-* headers"
    is "$(mock_last method path body_len)" "DELETE|/up/v1/files/file-1|0" "$ws: proxy: DELETE went upstream without a body"

    mock_ctl POST /_mock/script "{\"key\":\"$PKEY\",\"responses\":[{\"status\":200,\"body\":\"plain text\",\"content_type\":\"text/plain\"}]}"
    proxy GET "$P" "/v1/models?limit=2"
    is "$OA_STATUS|$OA_BODY|$(header Content-Type)|$(mock_last method path)" \
        "200|plain text|text/plain|GET|/up/v1/models?limit=2" "$ws: proxy: GET with its query, any content type"

    is "$(state)" "$before" "$ws: proxy: no quota taken, nothing logged"

    # --- refusals
    proxy POST "$O" /v1/chat/completions -H 'Content-Type: application/json' --data-binary '{}'
    is "$OA_STATUS|$(json_fields error.code)" "400|invalid_api_type" "$ws: proxy: only Proxy channels"
    like "$(json_fields error.message)" "^invalid api type: 1 " "$ws: ... saying the type"
    proxy GET x /v1/models
    like "$OA_STATUS|$(json_fields error.message)" '^400\|无效的渠道 Id' "$ws: proxy: a channel id that is no number"
    proxy GET 99999 /v1/models
    like "$OA_STATUS|$(json_fields error.message)" '^400\|无效的渠道 Id' "$ws: proxy: an unknown channel"
    oa_req GET "/v1/oneapi/proxy/$P/v1/models" -H "Authorization: Bearer sk-wrong"
    is "$OA_STATUS" 401 "$ws: proxy: the relay key is checked"
    is "$(mock_last method path)" "GET|/up/v1/models?limit=2" "$ws: ... and none of these reached the upstream"
    oa_admin PUT /api/channel/ "{\"id\":$P,\"status\":2}"
    proxy GET "$P" /v1/models
    like "$OA_STATUS|$(json_fields error.message)" '^403\|该渠道已被禁用' "$ws: proxy: a disabled channel"
    oa_admin PUT /api/channel/ "{\"id\":$P,\"status\":1}"

    # --- never a routing candidate
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"proxy-only-model","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS" 503 "$ws: a model only a Proxy channel lists has no channel on /v1"

    # --- the official SDK pointed at the proxy route
    if sdk_check "$ws: the OpenAI SDK through the proxy"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL/v1/oneapi/proxy/$P/v1" "$ROOT_KEY")
        tap_relay "$ws" "$res"
        is "$(mock_last key)" "$PKEY" "$ws: SDK through the proxy: the channel's key went upstream"
        is "$(state)" "$before" "$ws: SDK through the proxy: nothing billed"
    fi

    # ============================== the relay's forwarding ==============================
    # --- Anthropic headers and the Gemini safety setting
    oa_add_channel "{\"type\":14,\"name\":\"claude\",\"key\":\"k-claude\",\"base_url\":\"$MOCK_URL\",\"models\":\"$CLAUDE\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":24,\"name\":\"gemini\",\"key\":\"k-gemini\",\"base_url\":\"$MOCK_URL\",\"models\":\"$GEMINI\",\"group\":\"default\"}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$CLAUDE\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
        -H 'anthropic-version: 2024-01-01' -H 'anthropic-beta: prompt-caching-2024-07-31'
    is "$OA_STATUS|$(mock_last headers.anthropic-version headers.anthropic-beta)" "200|2024-01-01|prompt-caching-2024-07-31" \
        "$ws: claude: the client's anthropic-version and anthropic-beta reach Anthropic"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$CLAUDE\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(mock_last headers.anthropic-version headers.anthropic-beta)" "200|2023-06-01|<none>" \
        "$ws: claude: without them, the default version and no beta"
    oa_relay /v1/chat/completions "$ROOT_KEY" "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    up=$(mock_last body)
    is "$OA_STATUS|$(JSON_DOC=$up json_fields safetySettings.0.threshold safetySettings.4.category safetySettings.4.threshold safetySettings.5)" \
        "200|BLOCK_ONLY_HIGH|HARM_CATEGORY_CIVIC_INTEGRITY|BLOCK_ONLY_HIGH|<none>" \
        "$ws: gemini: GEMINI_SAFETY_SETTING for each of the five categories"

    oa_relay /v1/engines/text-embedding-ada-002/embeddings "$ROOT_KEY" '{"input":"hello"}'
    is "$OA_STATUS|$(mock_last path model)" "200|/v1/engines/text-embedding-ada-002/embeddings|text-embedding-ada-002" \
        "$ws: relay: /v1/engines/:model/embeddings goes upstream as the client wrote it"

    mock_ctl POST /_mock/script '{"key":"k-openai","responses":[{"status":200,"body":{"id":"chatcmpl-h","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hey"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}},"headers":{"X-Ratelimit-Remaining-Requests":"99","Set-Cookie":"up=1","X-Accel-Redirect":"/internal","Alt-Svc":"h3=\":443\""}}]}'
    oa_relay "/v1/chat/completions?api-version=7" "$ROOT_KEY" '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(header X-Ratelimit-Remaining-Requests)" "200|hey|99" \
        "$ws: relay: an OpenAI channel's answer headers reach the client"
    is "$(header Set-Cookie || echo none)|$(header X-Accel-Redirect || echo none)|$(header Alt-Svc || echo none)" "none|none|none" \
        "$ws: relay: ... but not its cookies, X-Accel-* or Alt-Svc"
    is "$(mock_last path)" "/v1/chat/completions?api-version=7" "$ws: relay: the client's query string goes upstream"

    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}' -N
    sse
    is "$done_last|$usage" "1|none" "$ws: relay: a pass-through stream: no usage chunk the client did not ask for"
    oa_relay /v1/chat/completions "$ROOT_KEY" '{"model":"gpt-4o-mini-alias","stream":true,"messages":[{"role":"user","content":"hi"}]}' -N
    sse
    is "$done_last|$content|${usage#*/}" "1|Hello from mock|3" \
        "$ws: relay: a re-encoded stream (mapped model): the forced usage chunk reaches the client, as in One API"

    # ============================== the model lists ==============================
    oa_add_channel "{\"type\":1,\"name\":\"legacy\",\"key\":\"k-legacy\",\"base_url\":\"$MOCK_URL\",\"models\":\"ernie-only-model\",\"group\":\"default\"}"
    oa_db_query "UPDATE channels SET type = 99 WHERE id = $CH_ID" >/dev/null # no adaptor
    oa_req GET /v1/models -H "Authorization: Bearer sk-$ROOT_KEY"
    ids=$("$OA_PY" -c 'import json,sys; print(",".join(sorted(m["id"] for m in json.load(sys.stdin)["data"])))' <<<"$OA_BODY")
    is "$ids" "$CLAUDE,$GEMINI,gpt-4o-mini,gpt-4o-mini-alias,text-embedding-ada-002" \
        "$ws: /v1/models leaves out the models of Proxy channels and of types without an adaptor"
    oa_admin GET /api/user/available_models
    is "$(json_fields data)" "[\"$CLAUDE\",\"$GEMINI\",\"gpt-4o-mini\",\"gpt-4o-mini-alias\",\"text-embedding-ada-002\"]" \
        "$ws: /api/user/available_models too"
    oa_stop
done
done_testing
