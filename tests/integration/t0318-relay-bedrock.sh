#!/usr/bin/env bash
# t0318: AWS Bedrock (type 33, "AWS Claude") channels answer OpenAI-format requests over
# InvokeModel and InvokeModelWithResponseStream: SigV4 signatures the mock recomputes as AWS
# does (a wrong secret is a 403), One API's model ids in the URL, the Claude body in Bedrock's
# form, event-stream frames turned into OpenAI chunks, billing from the usage Bedrock reports,
# a throttled channel retried on another one, an in-stream throttlingException, and the
# official OpenAI SDK against a Bedrock channel.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MODEL=claude-3-haiku-20240307 # ratio 0.125, completion ratio 5 (claude-3*)
MODEL_ID=anthropic.claude-3-haiku-20240307-v1%3A0
# The secrets the mock checks signatures with.
mock_ctl POST /_mock/aws_keys '{"AKIDMOCKA":"secret-a/+x","AKIDMOCKB":"secret-b","AKIDMOCKC":"secret-c"}'
is "$MOCK_BODY" '{"ok":"aws keys set"}' "the mock takes the AWS secrets"

# sse: split the last stream's summary into variables.
sse() { IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"; }
# ask BODY [CURL_ARGS...]: a chat completion as root.
ask() { local b=$1; shift; oa_relay /v1/chat/completions "$ROOT_KEY" "$b" "$@"; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }] });
  check("sdk: bedrock chat", r.choices[0].message.content === "Hello from mock" && r.choices[0].finish_reason === "stop" && r.usage.prompt_tokens === 10 && r.usage.completion_tokens === 3, r);
  let text = "", usage = null, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: bedrock stream with include_usage", text === "Hello from mock" && finish === "stop" && usage && usage.prompt_tokens === 5 && usage.completion_tokens === 3, { text, finish, usage });
} catch (e) {
  out.push(`not ok exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":33,\"name\":\"bedrock\",\"key\":\"AKIDMOCKA|secret-a/+x|us-east-1\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":5}"
    BR_ID=$CH_ID
    relay_bill_start
    mock_reset

    # --- non-stream: InvokeModel, signed; the answer in OpenAI's shape ------------------------
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}],\"max_tokens\":64,\"temperature\":0.2}"
    isnt "$(json_fields error.code)" invalid_api_type "$ws: the registry serves AWS Claude channels"
    is "$OA_STATUS|$(json_fields object model choices.0.message.role choices.0.message.content choices.0.finish_reason usage.prompt_tokens usage.completion_tokens usage.total_tokens)" \
        "200|chat.completion|$MODEL|assistant|Hello from mock|stop|10|3|13" "$ws: bedrock: an OpenAI chat.completion"
    like "$(json_fields id)" '^chatcmpl-msg_mock[0-9]+$' "$ws: bedrock: the id is chatcmpl-<message id>"
    is "$(mock_last path provider status headers.content-type headers.accept)" \
        "/model/$MODEL_ID/invoke|bedrock|200|application/json|application/json" \
        "$ws: bedrock: POST /model/{id}/invoke, the model id as one encoded segment; the mock accepted the signature"
    like "$(mock_last headers.authorization)" \
        '^AWS4-HMAC-SHA256 Credential=AKIDMOCKA/[0-9]{8}/us-east-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature=[0-9a-f]{64}$' \
        "$ws: bedrock: SigV4 over accept, content-type, host and x-amz-date"
    is "$(mock_last headers.host)" "127.0.0.1:$MOCK_PORT" "$ws: bedrock: the signed host is the base URL's"
    up=$(mock_last body)
    is "$(JSON_DOC=$up json_fields anthropic_version model stream system max_tokens temperature messages.0.role messages.0.content.0.text)" \
        "bedrock-2023-05-31|<none>|<none>|Be brief.|64|0.2|user|Say hello" \
        "$ws: bedrock: the Claude body with anthropic_version, without model and stream"
    relay_bill "$ws: bedrock" 0.125 5
    is "$LOG_P/$LOG_C" "10/3" "$ws: bedrock: billed the usage Bedrock reported"
    oa_admin GET "/api/channel/test/$BR_ID"
    is "$(json_fields success message)" "true|Hello from mock" "$ws: bedrock: the channel test passes through the signed call"
    is "$(mock_last path status)" "/model/$MODEL_ID/invoke|200" "$ws: bedrock: the test called InvokeModel"

    # --- stream: event-stream frames in, SSE out ---------------------------------------------
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=la]]\"}]}" -N
    sse
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$finish|$errors|$other" \
        "200|text/event-stream|1|la la la la|stop|0|0" "$ws: bedrock stream: OpenAI chunks, finish stop, [DONE] last"
    like "$(grep -m1 '^data: ' <<<"$OA_BODY")" '"object":"chat.completion.chunk"' "$ws: bedrock stream: chat.completion.chunk objects"
    billed_p=$(mock_last prompt_tokens)
    is "$(mock_last path stream status headers.x-amzn-bedrock-accept)|$usage" \
        "/model/$MODEL_ID/invoke-with-response-stream|true|200|application/json|$billed_p/4" \
        "$ws: bedrock stream: InvokeModelWithResponseStream; the usage chunk has the invocation metrics"
    relay_bill "$ws: bedrock stream" 0.125 5
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: bedrock stream: billed the invocation metrics"

    # --- a throttlingException frame inside the 200 stream ----------------------------------
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock fail_after=2 fail=error]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors" "200|1|Hello from|1" \
        "$ws: bedrock stream exception: the text so far, one error event, [DONE]"
    like "$(grep '"error"' <<<"$OA_BODY")" '"message":"Too many requests, please wait before trying again.","type":"rate_limit_error","code":"throttlingException"' \
        "$ws: bedrock stream exception: an OpenAI-shaped rate_limit_error"
    relay_bill "$ws: bedrock stream exception" 0.125 5

    # --- frames the event-stream reader must refuse -----------------------------------------
    # Before anything reached the client, a broken stream fails the attempt like an error
    # status would: a 502 in OpenAI's shape instead of a 200 stream, and nothing billed (the
    # next relay_bill counts exactly one new row).
    mock_ctl POST /_mock/script '{"key":"AKIDMOCKA","responses":[{"content_type":"application/vnd.amazon.eventstream","events":["garbage, not a frame at all"]}]}'
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" -N
    is "$OA_STATUS|$(json_fields error.code)" "502|stream_interrupted" \
        "$ws: bedrock corrupt stream: a 502 error before any output, not a 200 stream"
    like "$(json_fields error.message)" 'event-stream frame with a bad prelude' \
        "$ws: bedrock corrupt stream: the error says the prelude CRC failed"
    mock_ctl POST /_mock/script '{"key":"AKIDMOCKA","responses":[{"content_type":"application/vnd.amazon.eventstream","events":["\u0000\u0000\u0001"]}]}'
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" -N
    is "$OA_STATUS|$(json_fields error.code)" "502|stream_interrupted" \
        "$ws: bedrock cut stream: a 502 error before any output"
    like "$(json_fields error.message)" 'event stream ended inside a frame' \
        "$ws: bedrock cut stream: the error says the stream stopped inside a frame"
    ask "{\"model\":\"$MODEL\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=2]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$errors" "200|1|0" "$ws: bedrock: the channel streams again after the broken streams"
    relay_bill "$ws: bedrock: only the good stream is billed" 0.125 5

    # --- model ids, a region from the config, a wrong secret ----------------------------------
    oa_add_channel "{\"type\":33,\"name\":\"bedrock-cfg\",\"key\":\"AKIDMOCKC|secret-c\",\"config\":\"{\\\"region\\\":\\\"eu-west-3\\\"}\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-3-5-sonnet-latest\",\"group\":\"default\"}"
    ask '{"model":"claude-3-5-sonnet-latest","messages":[{"role":"user","content":"hi"}]}'
    is "$OA_STATUS|$(mock_last path status)" "200|/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke|200" \
        "$ws: bedrock: claude-3-5-sonnet-latest -> the v2 model id"
    like "$(mock_last headers.authorization)" '/eu-west-3/bedrock/aws4_request' "$ws: bedrock: the region comes from the config"
    relay_bill "$ws: bedrock config region" 1.5 5

    oa_add_channel "{\"type\":33,\"name\":\"bedrock-bad\",\"key\":\"AKIDMOCKC|not-the-secret|us-east-1\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-2.1\",\"group\":\"default\"}"
    ask '{"model":"claude-2.1","messages":[{"role":"user","content":"hi"}]}'
    like "$OA_STATUS|$(json_fields error.code error.message)" \
        '^403\|AccessDeniedException\|The request signature we calculated does not match' \
        "$ws: bedrock: a wrong secret is the 403 AWS gives, passed on (code from the status)"
    is "$(mock_last path status)" "/model/anthropic.claude-v2%3A1/invoke|403" "$ws: bedrock: the mock refused the signature"
    oa_add_channel "{\"type\":33,\"name\":\"bedrock-gpt\",\"key\":\"AKIDMOCKC|secret-c|us-east-1\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
    mock_reset
    ask '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
    like "$OA_STATUS|$(json_fields error.code error.message)" '^500\|convert_request_failed\|adaptor not found' \
        "$ws: bedrock: a model without a Bedrock id fails as One API does"
    mock_ctl GET /_mock/requests
    is "$MOCK_BODY" "[]" "$ws: bedrock: and nothing was sent upstream"

    # --- a throttled Bedrock channel: 429, retried on another channel ------------------------
    oa_add_channel "{\"type\":33,\"name\":\"bedrock-b\",\"key\":\"AKIDMOCKB|secret-b|us-west-2\",\"base_url\":\"$MOCK_URL\",\"models\":\"$MODEL\",\"group\":\"default\",\"priority\":0}"
    mock_reset
    mock_ctl POST /_mock/script '{"key":"AKIDMOCKA","responses":[{"status":429}]}'
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)" "200|Hello from mock" \
        "$ws: bedrock 429: the relay retries on the other Bedrock channel"
    mock_ctl GET /_mock/requests
    is "$("$OA_PY" -c 'import json, sys; print(",".join("%s:%s" % (r["key"], r["status"]) for r in json.loads(sys.stdin.read())))' <<<"$MOCK_BODY")" \
        "AKIDMOCKA:429,AKIDMOCKB:200" "$ws: bedrock 429: the first channel was throttled, the second answered"
    relay_bill "$ws: bedrock retried" 0.125 5
    mock_ctl POST /_mock/script '{"key":"AKIDMOCKA","responses":[{"status":429}]}'
    mock_ctl POST /_mock/script '{"key":"AKIDMOCKB","responses":[{"status":429},{"status":429}]}'
    ask "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields error.type error.code)" "429|rate_limit_error|ThrottlingException" \
        "$ws: bedrock 429 everywhere: an OpenAI-shaped 429 error naming ThrottlingException"
    mock_ctl DELETE /_mock/script

    # --- the official OpenAI SDK ------------------------------------------------------------
    if sdk_check "$ws: the official OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MODEL")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
