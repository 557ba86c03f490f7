#!/usr/bin/env bash
# t0319: Vertex AI (type 42) channels: a service account's RS256 JWT exchanged once for an
# access token that concurrent requests share, refreshed before it expires; Gemini and Claude
# models on Vertex's publisher endpoints, plain and streamed, billed from the upstream's usage;
# Vertex's 429 RESOURCE_EXHAUSTED retried on another channel; the official OpenAI SDK.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
have openssl || skip_all "openssl is needed to make the test service account's key"

relay_env
mock_start
GEMINI=gemini-1.5-pro-001        # ratio 0.625, completion ratio 3 (gemini-*)
FLASH=gemini-1.5-flash-001       # ratio 0.0375, completion ratio 3; only on channel B
CLAUDE=claude-3-5-haiku@20241022 # no ratio of its own: One API's 30; completion ratio 5

# A test-only service account: a fresh key pair, the JSON key Google would hand out, and the
# public half for the mock's token endpoint.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OA_TMP/sa.pem" 2>/dev/null ||
    bail_out "openssl cannot make an RSA key"
openssl pkey -in "$OA_TMP/sa.pem" -pubout -out "$OA_TMP/sa.pub" 2>/dev/null || bail_out "openssl pkey"
SA=$("$OA_PY" -c 'import json, sys
print(json.dumps({"type": "service_account", "project_id": "proj-test", "private_key_id": "k1",
  "private_key": open(sys.argv[1]).read(), "client_email": "gw@proj-test.iam.gserviceaccount.com",
  "token_uri": sys.argv[2] + "/token"}))' "$OA_TMP/sa.pem" "$MOCK_URL")
# channel_json NAME KEY CONFIG MODELS PRIORITY: a POST /api/channel/ body (config a JSON text).
channel_json() {
    "$OA_PY" -c 'import json, sys
n, k, c, m, p = sys.argv[1:6]
print(json.dumps({"type": 42, "name": n, "key": k, "base_url": sys.argv[6], "models": m,
  "group": "default", "priority": int(p), "config": c}))' "$@" "$MOCK_URL"
}
CONFIG_A=$("$OA_PY" -c 'import json, sys; print(json.dumps({"region": "us-central1", "vertex_ai_project_id": "proj-test", "vertex_ai_adc": sys.argv[1]}))' "$SA")
# vx_stat FIELD: a counter of the mock's token endpoint.
vx_stat() { mock_ctl GET /_mock/vertex; JSON_DOC=$MOCK_BODY json_fields "$1"; }
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
ask() { local b=$1; shift; oa_relay /v1/chat/completions "$ROOT_KEY" "$b" "$@"; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }] });
  check("sdk: vertex gemini chat", r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.completion_tokens === 3 && r.usage.total_tokens === r.usage.prompt_tokens + 3, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: vertex gemini stream with include_usage", text === "Hello from mock" && finish === "stop" && usage && usage.completion_tokens === 3, { text, finish, usage });
} catch (e) {
  out.push(`not ok exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    oa_set_option AutomaticDisableChannelEnabled true
    OA_KEEP_DB=1 oa_start "$ws" || continue
    mock_ctl POST /_mock/vertex "$("$OA_PY" -c 'import json, sys; print(json.dumps({"public_key": open(sys.argv[1]).read(), "expires_in": 3600}))' "$OA_TMP/sa.pub")"
    mock_ctl DELETE /_mock/vertex
    # A: the settings in the config, as One API's form stores them; B: in the key.
    oa_add_channel "$(channel_json vertex-a vertex-sa "$CONFIG_A" "$GEMINI,$CLAUDE" 5)"
    CH_A=$CH_ID
    oa_add_channel "$(channel_json vertex-b "us-central1|proj-test|$SA" "" "$GEMINI,$FLASH" 0)"
    CH_B=$CH_ID
    mock_reset

    # --- concurrent first requests, streamed and not: one token exchange --------------------
    pids=()
    for i in 1 2 3 4 5 6; do
        stream=$([[ $((i % 2)) -eq 0 ]] && echo true || echo false)
        curl -sS --max-time 30 -o "$OA_TMP/c$i.out" -w '%{http_code}' "$OA_URL/v1/chat/completions" \
            -H "Authorization: Bearer sk-$ROOT_KEY" -H 'Content-Type: application/json' \
            --data-binary "{\"model\":\"$GEMINI\",\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"hi $i\"}]}" \
            >"$OA_TMP/c$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
    codes=""
    for i in 1 2 3 4 5 6; do codes+="$(cat "$OA_TMP/c$i.code") "; done
    is "$codes" "200 200 200 200 200 200 " "$ws: 6 concurrent requests (3 streamed) all answered"
    ok_if "$ws: concurrent: a chat.completion and a stream" \
        grep -q '^data: \[DONE\]' "$OA_TMP/c2.out"
    ok_if "$ws: concurrent: the non-stream answer" grep -q '"content":"Hello from mock"' "$OA_TMP/c1.out"
    is "$(vx_stat exchanges)|$(vx_stat refused)|$(vx_stat unauthorized)" "1|0|0" \
        "$ws: concurrent: exactly one token exchange, its JWT accepted, every call authorised"
    mock_ctl GET '/_mock/requests?limit=1000'
    is "$("$OA_PY" -c 'import json, sys; r = json.loads(sys.stdin.read()); print(len([x for x in r if x["path"] == "/token"]), sorted(set(x["provider"] for x in r)))' <<<"$MOCK_BODY")" \
        "1 ['vertex']" "$ws: concurrent: one POST /token, every call recorded as Vertex"
    tok=$("$OA_PY" -c 'import json, sys; r = json.loads(sys.stdin.read()); print(",".join(sorted(set(x["headers"].get("authorization", "") for x in r if x["path"] != "/token"))))' <<<"$MOCK_BODY")
    like "$tok" '^Bearer ya29\.mock-[0-9]+-[0-9a-f]+$' "$ws: concurrent: every call carried the one token issued"
    oa_wait_logs 6
    leaked=$(grep -rl 'ya29\.mock\|PRIVATE KEY' "$OA_RUN" 2>/dev/null)
    is "$leaked" "" "$ws: neither the token nor the key reaches one-api's logs"
    relay_bill_start

    # --- Gemini on Vertex: the request, the answer, the bill ---------------------------------
    mock_reset
    ask "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":40}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$GEMINI|Hello from mock|stop" "$ws: vertex gemini: an OpenAI chat.completion"
    is "$(mock_last path provider)" \
        "/v1/projects/proj-test/locations/us-central1/publishers/google/models/$GEMINI:generateContent|vertex" \
        "$ws: vertex gemini: the publisher URL under the channel's base URL"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields systemInstruction.parts.0.text contents.0.role generationConfig.maxOutputTokens model)" \
        "Be brief.|user|40|<none>" "$ws: vertex gemini: Gemini's body"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens)" "$billed_p|3" "$ws: vertex gemini: usageMetadata"
    relay_bill "$ws: vertex gemini" 0.625 3
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: vertex gemini: billed the upstream's usage"

    ask "{\"model\":\"$GEMINI\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=la]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors" \
        "200|text/event-stream|1|la la la la|stop|0" "$ws: vertex gemini stream: OpenAI chunks, [DONE] last"
    billed_p=$(mock_last prompt_tokens)
    is "$(mock_last path)|$usage" \
        "/v1/projects/proj-test/locations/us-central1/publishers/google/models/$GEMINI:streamGenerateContent?alt=sse|$billed_p/4" \
        "$ws: vertex gemini stream: streamGenerateContent?alt=sse, the usage chunk"
    relay_bill "$ws: vertex gemini stream" 0.625 3
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: vertex gemini stream: billed the upstream's usage"

    # --- Claude on Vertex ----------------------------------------------------------------------
    ask "{\"model\":\"$CLAUDE\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    is "$OA_STATUS|$(json_fields object model choices.0.message.content choices.0.finish_reason)" \
        "200|chat.completion|$CLAUDE|Hello from mock|stop" "$ws: vertex claude: an OpenAI chat.completion"
    is "$(mock_last path headers.x-api-key headers.anthropic-version)" \
        "/v1/projects/proj-test/locations/us-central1/publishers/anthropic/models/$CLAUDE:rawPredict|<none>|<none>" \
        "$ws: vertex claude: rawPredict, no Anthropic key or version header"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields anthropic_version model system messages.0.role)" \
        "vertex-2023-10-16|<none>|Be brief.|user" "$ws: vertex claude: Anthropic's body, Vertex's version, no model"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: vertex claude" 30 5
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: vertex claude: billed the upstream's usage"

    ask "{\"model\":\"$CLAUDE\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=2 text=yo]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$finish|$errors" "200|1|yo yo|stop|0" "$ws: vertex claude stream: OpenAI chunks"
    like "$(mock_last path)" ":streamRawPredict\?alt=sse$" "$ws: vertex claude stream: streamRawPredict"
    billed_p=$(mock_last prompt_tokens)
    relay_bill "$ws: vertex claude stream" 30 5
    is "$LOG_P/$LOG_C" "$billed_p/2" "$ws: vertex claude stream: billed message_start + message_delta usage"
    is "$(vx_stat exchanges)" 1 "$ws: all of it on the first token"
    oa_admin GET "/api/channel/test/$CH_A?model=$CLAUDE"
    is "$(json_fields success message modelName)|$(vx_stat exchanges)" "true|Hello from mock|$CLAUDE|1" \
        "$ws: the channel test (GET /api/channel/test/:id) uses the cached token too"

    # --- a token about to expire is refreshed (channel B, settings in the key) ---------------
    mock_ctl POST /_mock/vertex '{"expires_in":304}'
    ask "{\"model\":\"$FLASH\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
        "$ws: key form region|project|adc: served"
    ask "{\"model\":\"$FLASH\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(vx_stat exchanges)" "200|2" "$ws: channel B: its own token, reused while > 5 minutes remain"
    sleep 5
    ask "{\"model\":\"$FLASH\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$(vx_stat exchanges)|$(vx_stat unauthorized)" "200|1|Hello from mock|3|0" \
        "$ws: under 5 minutes left: refreshed before the call, never sent expired"
    mock_ctl POST /_mock/vertex '{"expires_in":3600}'
    oa_wait_logs $((N_LOGS + 3))
    relay_bill_start

    # --- Vertex's 429 RESOURCE_EXHAUSTED: retried on another channel -------------------------
    mock_reset
    mock_ctl POST /_mock/script '{"key":"","responses":[{"status":429}]}'
    ask "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
        "$ws: vertex 429: the relay retries on the other Vertex channel"
    mock_ctl GET /_mock/requests
    is "$("$OA_PY" -c 'import json, sys; print(",".join("%s:%s" % (r["path"].split("/")[-1], r["status"]) for r in json.loads(sys.stdin.read()) if r["path"] != "/token"))' <<<"$MOCK_BODY")" \
        "$GEMINI:generateContent:429,$GEMINI:generateContent:200" "$ws: vertex 429: A answered 429, B 200"
    relay_bill "$ws: vertex retried" 0.625 3
    mock_ctl POST /_mock/script '{"key":"","responses":[{"status":429},{"status":429}]}'
    ask "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields error.type)" "429|RESOURCE_EXHAUSTED" \
        "$ws: vertex 429 everywhere: an OpenAI-shaped 429 with Google's status as type"
    is "$(json_fields error.message)" "当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: vertex 429 everywhere: One API's saturated-group message"
    mock_ctl DELETE /_mock/script
    is "$(oa_db_query "SELECT status FROM channels WHERE id IN ($CH_A, $CH_B) ORDER BY id")" "$(printf '1\n1')" \
        "$ws: a 429 disables no channel"

    # --- a refused assertion: a channel error, the channel auto-disabled ----------------------
    other=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout 2>/dev/null)
    mock_ctl POST /_mock/vertex "$("$OA_PY" -c 'import json, sys; print(json.dumps({"public_key": sys.argv[1]}))' "$other")"
    oa_add_channel "$(channel_json vertex-c vertex-sa-c "$CONFIG_A" "$GEMINI" 9)"
    ask "{\"model\":\"$GEMINI\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
        "$ws: a refused JWT (wrong key): the request goes on to another channel"
    is "$(vx_stat refused)" 1 "$ws: the mock refused the assertion signed with another key"
    is "$(oa_db_query "SELECT status FROM channels WHERE id = $CH_ID")" 3 \
        "$ws: a refused grant (invalid_grant) disables the channel automatically"
    mock_ctl POST /_mock/vertex "$("$OA_PY" -c 'import json, sys; print(json.dumps({"public_key": open(sys.argv[1]).read()}))' "$OA_TMP/sa.pub")"
    oa_admin DELETE "/api/channel/$CH_ID"
    oa_wait_logs $((N_LOGS + 2))

    # --- the official OpenAI SDK ------------------------------------------------------------
    if sdk_check "$ws: the official OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$GEMINI")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
