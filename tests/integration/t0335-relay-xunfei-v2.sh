#!/usr/bin/env bash
# t0335: Xunfei V2 channels (type 48) speak iFlytek Spark's OpenAI-like HTTP API, created
# through /api with the mock as base URL: the key is the APIPassword, sent as a Bearer
# token; answers carry code 0, message and sid beside OpenAI's fields, and stream lines are
# written "data:{...}" without a space. Non-stream and stream chats, usage billed exactly as
# Spark reported it, an unknown password refused as an OpenAI error, Spark's QPS limit
# (code 11202 inside an HTTP 200) a 429 retried on the type's other channel (and One API's
# saturated-group message when every channel is limited), also when it answers a stream
# request (as JSON, or as the stream's first chunk, before the client saw a byte), an error
# chunk mid-stream, and the official OpenAI SDK (skipped without node and npm).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
MAX=generalv3.5 LITE=lite ULTRA=4.0Ultra
# Two APIPasswords the mock knows ("<APIKey>:<APISecret>" of a Spark key told to it).
KA=AbCdEfGhIjKlMnOpQrSt:UvWxYzAbCdEfGhIjKlMn
KB=BcDeFgHiJkLmNoPqRsTu:VwXyZaBcDeFgHiJkLmNo
KBAD=ZzZzZzZzZzZzZzZzZzZz:not-a-known-password

sse() { IFS='|' read -r done_last content _ _ finish usage _ errors events other <<<"$(sse_summary)"; }
ask() { local b=$1; shift; oa_relay /v1/chat/completions "$ROOT_KEY" "$b" "$@"; }

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, model, bad] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
try {
  const r = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }] });
  check("sdk: chat", r.object === "chat.completion" && r.model === model && r.choices[0].finish_reason === "stop" && r.choices[0].message.role === "assistant" && r.choices[0].message.content === "Hello from mock" && r.usage.completion_tokens === 3 && r.usage.total_tokens === r.usage.prompt_tokens + 3, r);
  let text = "", usage = null, n = 0, finish = null;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { n++; if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; if (c.usage) usage = c.usage; }
  check("sdk: stream with include_usage", text === "Hello from mock" && n === 5 && finish === "stop" && usage && usage.completion_tokens === 3 && usage.total_tokens === usage.prompt_tokens + 3, { text, n, finish, usage });
} catch (e) {
  out.push(`not ok sdk: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
try {
  await client.chat.completions.create({ model: bad, messages: [{ role: "user", content: "hi" }] });
  out.push("not ok sdk: an unknown password is an APIError # it answered");
} catch (e) {
  check("sdk: an unknown password is an APIError with the upstream's status and message", e instanceof OpenAI.APIError && e.status === 401 && /^invalid user \(request id: /.test(e.error?.message ?? ""), { status: e.status, error: e.error });
}
console.log(out.join("\n"));
JS

# Spark keys behind the passwords; the unknown one is never told to the mock.
mock_ctl POST /_mock/spark "{\"api_key\":\"${KA%%:*}\",\"api_secret\":\"${KA#*:}\"}"
like "$MOCK_BODY" 'spark key set' "the mock takes a Spark key"
mock_ctl POST /_mock/spark "{\"api_key\":\"${KB%%:*}\",\"api_secret\":\"${KB#*:}\"}"

# The mock itself, as Spark answers: a password it does not know, then the QPS limit inside
# an HTTP 200 (a whole answer, and the first chunk of a stream).
res=$(curl -sS --max-time 10 -w '|%{http_code}' "$MOCK_URL/spark-api-open/v1/chat/completions" \
    -H "Authorization: Bearer $KBAD" -H 'Content-Type: application/json' \
    --data-binary "{\"model\":\"$LITE\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
is "$(JSON_DOC=${res%|*} json_fields error.message error.type)|${res##*|}" "invalid user|api_error|401" \
    "mock: an unknown APIPassword is an OpenAI-shaped 401"
res=$(curl -sS --max-time 10 -w '|%{http_code}' "$MOCK_URL/spark-api-open/v1/chat/completions" \
    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' \
    --data-binary "{\"model\":\"$LITE\",\"messages\":[{\"role\":\"user\",\"content\":\"hi [[mock status=429]]\"}]}")
like "$(JSON_DOC=${res%|*} json_fields code message sid)|${res##*|}" '^11202\|AppIdQpsOverFlowError[^|]*\|cha[0-9a-f]+@dx19mock\|200$' \
    "mock: the rate-limit directive is Spark's 11202 inside HTTP 200"
res=$(curl -sS --max-time 10 "$MOCK_URL/spark-api-open/v1/chat/completions" \
    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' \
    --data-binary "{\"model\":\"$LITE\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi [[mock status=429]]\"}]}")
like "$res" '^data:\{"code":11202,' "mock: ... and the first chunk of a stream"

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    oa_set_option ModelRatio "{\"$MAX\":0.5,\"$LITE\":0.5,\"$ULTRA\":0.5}"
    oa_set_option CompletionRatio "{\"$MAX\":2,\"$LITE\":2}"
    OA_KEEP_DB=1 oa_start "$ws" || continue
    ch() { oa_add_channel "{\"type\":48,\"name\":\"$1\",\"key\":\"$2\",\"base_url\":\"$MOCK_URL/spark-api-open\",\"models\":\"$3\",\"group\":\"default\",\"priority\":$4}"; }
    ch xf-a "$KA" "$MAX,$LITE" 5
    a=$CH_ID
    ch xf-b "$KB" "$MAX,$LITE" 0
    ch xf-bad "$KBAD" "$ULTRA" 0
    relay_bill_start

    # --- non-stream ------------------------------------------------------------------------
    mock_reset
    ask "{\"model\":\"$MAX\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.role choices.0.message.content code message)" \
        "200|assistant|Hello from mock|0|Success" "$ws: chat: Spark's answer, code 0 and all"
    like "$(json_fields sid)" '^cha[0-9a-f]+@dx19mock$' "$ws: chat: ... with its sid"
    is "$(mock_last path provider headers.authorization model status)" \
        "/spark-api-open/v1/chat/completions|spark-http|Bearer $KA|$MAX|200" \
        "$ws: chat: POST {base}/v1/chat/completions with the APIPassword as a Bearer token"
    billed_p=$(mock_last prompt_tokens)
    is "$(json_fields usage.prompt_tokens usage.completion_tokens usage.total_tokens)" "$billed_p|3|$((billed_p + 3))" \
        "$ws: chat: Spark's usage reaches the client"
    relay_bill "$ws: chat" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_MODEL" "$billed_p/3|$MAX" "$ws: chat: billed Spark's usage"

    # --- stream ----------------------------------------------------------------------------
    ask "{\"model\":\"$LITE\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock chunks=4 text=ni]]\"}]}" -N
    sse
    billed_p=$(mock_last prompt_tokens)
    is "$OA_STATUS|$(header Content-Type)|$done_last|$content|$errors|$events|$usage|$finish" \
        "200|text/event-stream|1|ni ni ni ni|0|6|$billed_p/4|stop" \
        "$ws: stream: Spark's chunks, the usage in the last, a closing chunk with finish_reason stop (Spark sends none), one [DONE]"
    is "$(grep -c '^data:[^ ]' <<<"$OA_BODY")" 0 "$ws: stream: every line reaches the client as 'data: '"
    is "$(mock_last path status)" "/spark-api-open/v1/chat/completions|200" "$ws: stream: the same path"
    relay_bill "$ws: stream" 0.5 2
    is "$LOG_P/$LOG_C|$LOG_STREAM" "$billed_p/4|1" "$ws: stream: billed the last chunk's usage"

    ask "{\"model\":\"$MAX\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}" -N
    sse
    billed_p=$(mock_last prompt_tokens)
    is "$done_last|$content|$errors|$usage" "1|Hello from mock|0|$billed_p/3" "$ws: stream with include_usage"
    relay_bill "$ws: stream with include_usage" 0.5 2
    is "$LOG_P/$LOG_C" "$billed_p/3" "$ws: stream with include_usage: billed once"

    # --- an unknown password ---------------------------------------------------------------
    ask "{\"model\":\"$ULTRA\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    like "$OA_STATUS|$(json_fields error.message error.type)" '^401\|invalid user \(request id: [0-9A-Za-z]+\)\|api_error$' \
        "$ws: an unknown APIPassword: Spark's 401 as an OpenAI error"
    is "$(mock_last key status)" "$KBAD|401" "$ws: ... refused by the mock's password check"

    # --- Spark's QPS limit inside a 200: a retryable 429 -------------------------------------
    mock_reset
    mock_ctl POST /_mock/script "{\"key\":\"$KA\",\"responses\":[{\"status\":429}]}"
    ask "{\"model\":\"$MAX\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}"
    is "$OA_STATUS|$(json_fields choices.0.message.content)|$(mock_keys_statuses)" "200|Hello from mock|$KA:200,$KB:200" \
        "$ws: 11202 in a 200 answer: retried on the type's other channel, which answers"
    relay_bill "$ws: rate limit retry" 0.5 2

    ask "{\"model\":\"$MAX\",\"messages\":[{\"role\":\"user\",\"content\":\"hi [[mock status=429]]\"}]}"
    is "$OA_STATUS|$(json_fields error.message error.code)" \
        "429|当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))|11202" \
        "$ws: 11202 from every channel: One API's saturated-group 429 with Spark's code"
    mock_reset
    mock_ctl POST /_mock/script "{\"key\":\"$KA\",\"responses\":[{\"status\":429}]}"
    mock_ctl POST /_mock/script "{\"key\":\"$KB\",\"responses\":[{\"status\":429}]}"
    ask "{\"model\":\"$MAX\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
    is "$OA_STATUS|$(json_fields error.message)" "429|当前分组上游负载已饱和，请稍后再试 (request id: $(header X-Oneapi-Request-Id))" \
        "$ws: scripted 11202 on both channels: the same 429"
    is "$(mock_keys_statuses)" "$KA:200,$KB:200" "$ws: ... after one try on each channel"
    mock_ctl DELETE /_mock/script
    mock_reset
    oa_relay /v1/chat/completions "$ROOT_KEY-$a" "{\"model\":\"$MAX\",\"messages\":[{\"role\":\"user\",\"content\":\"hi [[mock status=429]]\"}]}"
    is "$OA_STATUS|$(json_fields error.code)|$(mock_keys_statuses)" "429|11202|$KA:200" \
        "$ws: 11202 on a pinned channel: a 429, not retried"

    # --- errors inside a stream --------------------------------------------------------------
    mock_reset
    mock_ctl POST /_mock/script "{\"key\":\"$KA\",\"responses\":[{\"status\":429}]}"
    ask "{\"model\":\"$MAX\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors|$(mock_keys_statuses)" "200|1|Hello from mock|0|$KA:200,$KB:200" \
        "$ws: 11202 as a stream's first chunk: retried on the other channel before the client saw a byte"
    relay_bill "$ws: stream rate limit (first chunk) retry" 0.5 2
    mock_ctl DELETE /_mock/script
    mock_reset
    mock_ctl POST /_mock/script "{\"key\":\"$KA\",\"responses\":[{\"body\":{\"code\":11202,\"message\":\"AppIdQpsOverFlowError\",\"sid\":\"cha0@dx1\"}}]}"
    ask "{\"model\":\"$MAX\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors|$(mock_keys_statuses)" "200|1|Hello from mock|0|$KA:200,$KB:200" \
        "$ws: 11202 as a JSON answer where a stream was asked: retried on the other channel"
    relay_bill "$ws: stream rate limit (JSON) retry" 0.5 2

    ask "{\"model\":\"$MAX\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Go [[mock fail_after=1 fail=error]]\"}]}" -N
    sse
    is "$OA_STATUS|$done_last|$content|$errors" "200|1|Hello|1" \
        "$ws: an error chunk after the first: the text so far, an OpenAI error event and [DONE]"
    like "$OA_BODY" '"code":"10012"' "$ws: ... with Spark's code"

    # --- the official SDK --------------------------------------------------------------------
    if sdk_check "$ws: the OpenAI SDK"; then
        res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY" "$MAX" "$ULTRA")
        tap_relay "$ws" "$res"
    fi
    oa_stop
done

done_testing
