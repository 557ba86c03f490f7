#!/usr/bin/env bash
# Exercises tests/mock/mock_upstream with curl (every provider format, directives, control API); prints TAP.
#
# usage: tests/mock/smoke.sh [path/to/mock_upstream]
# Without an argument (or $MOCK_BIN) the mock is built from source into a temporary directory.
# Pass an ASan/UBSan build to check for sanitizer reports: they make the last test fail.
set -u

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
bin=${1:-${MOCK_BIN:-}}
if [ -z "$bin" ]; then
	bin=$tmp/mock_upstream
	# shellcheck disable=SC2046
	${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$bin" "$here"/*.c \
		$(pkg-config --cflags --libs json-c libcrypto zlib) || { echo "Bail out! build failed"; exit 1; }
fi

"$bin" --port 0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

port=
for _ in $(seq 50); do
	port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$tmp/out")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "Bail out! mock did not print PORT"; exit 1; }
B=http://127.0.0.1:$port

n=0
failed=0
ok() { # ok DESCRIPTION COMMAND...: one TAP line
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}
has() { [[ "$1" == *"$2"* ]]; }
has_all() { # has_all STRING PATTERN...: every pattern occurs
	local s=$1 p
	shift
	for p; do [[ "$s" == *"$p"* ]] || return 1; done
}
lacks() { [[ "$1" != *"$2"* ]]; }
# post PATH BODY [curl args...]: prints the body, then " <status>" on its own line
post() {
	local path=$1 body=$2
	shift 2
	curl -sS -m 10 "$B$path" -H 'Content-Type: application/json' "$@" --data-binary "$body" -w '\n%{http_code}'
}
code() { printf '%s' "$1" | tail -n1; }
mstat() { curl -s "$B/_mock/stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

chat='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}]}'

# --- OpenAI
r=$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-smoke')
ok "openai chat: 200 with default text" has "$r" '"content":"Hello from mock"'
ok "openai chat: usage 10+3 (words + 3 per message)" has "$r" '"prompt_tokens":10,"completion_tokens":3,"total_tokens":13'
ok "openai chat: model echoed" has "$r" '"model":"gpt-4o-mini"'

r=$(post /v1/chat/completions '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi [[mock chunks=5 text=w]]"}]}' -N)
ok "openai stream: 5 content chunks" test "$(printf '%s' "$r" | grep -c '"delta":{"content":')" = 5
ok "openai stream: usage chunk with empty choices" has "$r" '"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5'
ok "openai stream: ends with [DONE]" has "$r" 'data: [DONE]'

tools='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]'
r=$(post /v1/chat/completions "{\"model\":\"m\",\"stream\":true,$tools,\"messages\":[{\"role\":\"user\",\"content\":\"w [[mock tool=get_weather]]\"}]}" -N)
ok "openai stream tool call: header then argument pieces" has "$r" '"tool_calls":[{"index":0,"id":"call_mock'
ok "openai stream tool call: finish_reason tool_calls" has "$r" '"finish_reason":"tool_calls"'
r=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"w [[mock tool=get_weather]]"}]}')
ok "tool= without declared tools is a 400" test "$(code "$r")" = 400

r=$(post /v1/completions '{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test"}')
ok "openai completions" has "$r" '"object":"text_completion"'
r=$(post /v1/embeddings '{"model":"text-embedding-3-small","input":["a b","c"],"dimensions":4}')
ok "openai embeddings: two float vectors, usage 3" has_all "$r" '"index":1,"embedding":[' '"prompt_tokens":3'
r=$(post /v1/embeddings '{"model":"e","input":"a","encoding_format":"base64","dimensions":4}')
ok "openai embeddings: base64 float32 (24 chars for 4 floats)" grep -Eq '"embedding":"[A-Za-z0-9+/]{22}==' <<<"$r"
r=$(curl -s "$B/v1/models")
ok "openai models list" has "$r" '"object":"list"'
r=$(curl -s "$B/v1/models/missing-model" -w '\n%{http_code}')
ok "openai model not found is 404" test "$(code "$r")" = 404
r=$(post /v1/images/generations '{"model":"dall-e-3","prompt":"a cat","response_format":"b64_json"}')
ok "openai images b64_json" has "$r" '"b64_json":"iVBORw0KGgo'
printf 'RIFF....WAVE' >"$tmp/a.wav"
r=$(curl -s "$B/v1/audio/transcriptions" -F file=@"$tmp/a.wav" -F model=whisper-1)
ok "openai transcription json" test "$r" = '{"text":"Hello from mock"}'
r=$(curl -s "$B/v1/audio/translations" -F file=@"$tmp/a.wav" -F model=whisper-1 -F response_format=text)
ok "openai translation text/plain" test "$r" = 'Hello from mock'
r=$(curl -s "$B/v1/audio/speech" -H 'Content-Type: application/json' -d '{"model":"tts-1","input":"hello","voice":"alloy"}' -o "$tmp/s.mp3" -w '%{content_type} %{size_download}')
ok "openai speech: audio/mpeg, 1024 + len(input) bytes" test "$r" = 'audio/mpeg 1029'
r=$(post /v1/moderations '{"input":"x [[mock flagged=1]]"}')
ok "openai moderations flagged" has "$r" '"flagged":true'

# --- Azure
r=$(post '/openai/deployments/gpt-35-turbo/chat/completions?api-version=2024-06-01' '{"stream":true,"messages":[{"role":"user","content":"x"}]}' -N -H 'api-key: az-key')
ok "azure stream: first chunk has empty choices + prompt_filter_results" \
	test "$(printf '%s' "$r" | grep -m1 '^data:' | grep -c '"choices":\[\],.*prompt_filter_results')" = 1
ok "azure stream: model falls back to the deployment" has "$r" '"model":"gpt-35-turbo"'
r=$(post /openai/deployments/d/chat/completions '{"messages":[{"role":"user","content":"x"}]}')
ok "azure without api-version is 404" test "$(code "$r")" = 404
r=$(post '/openai/deployments/d/embeddings?api-version=1' '{"input":"x [[mock status=429]]"}')
ok "azure injected 429 in Azure error shape" has "$r" '{"error":{"code":"429","message":'

# --- Anthropic
an='{"model":"claude-3-5-haiku-20241022","system":"Be brief.","max_tokens":50,"messages":[{"role":"user","content":[{"type":"text","text":"Say hello"}]}]'
r=$(post /v1/messages "$an}" -H 'x-api-key: ak' -H 'anthropic-version: 2023-06-01')
ok "anthropic message: text block, usage 10/3" has_all "$r" '"content":[{"type":"text","text":"Hello from mock"}]' '"input_tokens":10,"output_tokens":3'
r=$(post /v1/messages "$an,\"stream\":true}" -N)
ev=$(printf '%s' "$r" | sed -n 's/^event: //p' | tr '\n' ' ')
ok "anthropic stream: event sequence" test "$ev" = 'message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop '
r=$(post /v1/messages '{"model":"c","stream":true,"max_tokens":9,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"w [[mock tool=get_weather]]"}]}' -N)
ok "anthropic stream tool_use with input_json_delta" has_all "$r" '"partial_json":"{\"cit' '"stop_reason":"tool_use"'
r=$(post /v1/messages '{"model":"c","messages":[{"role":"user","content":"x"}]}')
ok "anthropic missing max_tokens: 400 in Anthropic shape" has "$r" '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}'
r=$(post /v1/messages '{"model":"c","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x [[mock fail_after=1 fail=error]]"}]}' -N)
ok "anthropic fail=error sends event: error" has "$r" 'event: error'

# --- Gemini
gm='{"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[{"role":"user","parts":[{"text":"Say hello"}]}]}'
r=$(post '/v1beta/models/gemini-2.0-flash:generateContent' "$gm" -H 'x-goog-api-key: gk')
ok "gemini generateContent: candidates + usageMetadata 10/3" has_all "$r" '"finishReason":"STOP"' '"promptTokenCount":10,"candidatesTokenCount":3,"totalTokenCount":13'
curl -s "$B/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=gk" -d "$gm" -o "$tmp/g.sse"
ok "gemini stream alt=sse: 3 events separated by CRLF CRLF" test "$(grep -c $'^data: .*\r$' "$tmp/g.sse")" = 3
r=$(curl -s "$B/v1beta/models/gemini-2.0-flash:streamGenerateContent" -d "$gm")
ok "gemini stream without alt=sse is a JSON array" has "${r:0:2}" '[{'
r=$(post '/v1beta/models/text-embedding-004:batchEmbedContents' '{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":2}]}')
ok "gemini batchEmbedContents" has "$r" '{"embeddings":[{"values":['
r=$(post '/v1beta/models/gemini-2.0-flash:generateContent' '{"contents":[{"role":"user","parts":[{"text":"x [[mock status=503]]"}]}]}')
ok "gemini injected 503 in Google shape" has_all "$r" '"status":"UNAVAILABLE"' $'\n503'
r=$(post '/v1beta/models/gemini-2.0-flash:generateContent' '{"contents":[{"role":"user","parts":[{"text":"x [[mock block=SAFETY]]"}]}]}')
ok "gemini blocked prompt" has "$r" '"blockReason":"SAFETY"'

# --- directives
curl -sN -m 10 "$B/v1/chat/completions" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock chunks=5 fail_after=2]]"}]}' >/dev/null 2>&1
ok "fail_after cuts the stream (curl exit 18)" test $? = 18
curl -s -m 10 "$B/v1/chat/completions" -d '{"model":"m","messages":[{"role":"user","content":"[[mock close=1]]"}]}' >/dev/null 2>&1
ok "close=1 drops the connection (curl exit 52)" test $? = 52
t=$(curl -s -N -o /dev/null -w '%{time_total}' "$B/v1/chat/completions" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock chunks=3 delay_ms=100]]"}]}')
ok "delay_ms paces stream events (3 x 100 ms)" awk "BEGIN{exit !($t >= 0.29 && $t < 2)}"
r=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"[[mock usage=0 finish=length]]"}]}')
ok "usage=0 omits usage" lacks "$r" '"usage"'
ok "finish=length" has "$r" '"finish_reason":"length"'
r=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"[[mock status=429 err_type=insufficient_quota err_code=insufficient_quota msg=\"quota gone\"]]"}]}')
ok "status= with error overrides" has "$r" '{"error":{"message":"quota gone","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}'
r=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"[[mock status=500]]"},{"role":"assistant","content":"ok"},{"role":"user","content":"later"}]}')
ok "only the last user message is read for directives" test "$(code "$r")" = 200

# --- control API
curl -s -X DELETE "$B/_mock/requests" >/dev/null
curl -s "$B/_mock/script" -d '{"key":"sk-retry","responses":[{"status":500},{"status":429,"body":"{\"error\":{\"message\":\"slow\"}}","headers":{"Retry-After":"1"}},{"mock":"text=scripted chunks=1"}]}' >/dev/null
c1=$(code "$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-other')")
c2=$(code "$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-retry')")
c3=$(code "$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-retry')")
r=$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-retry')
ok "script: other keys unaffected, then 500, 429, scripted text" has_all "$c1 $c2 $c3 $r" "200 500 429" '"content":"scripted"'
r=$(post /v1/chat/completions "$chat" -H 'Authorization: Bearer sk-retry')
ok "script: queue exhausted, back to normal" has "$r" '"content":"Hello from mock"'
curl -s "$B/_mock/script" -d '{"responses":[{"events":["data: {\"x\":1}\n\n","data: [DONE]\n\n"],"delay_ms":10}]}' >/dev/null
r=$(curl -sN "$B/v1/chat/completions" -d '{"model":"m","stream":true,"messages":[]}')
ok "script: raw events replayed" test "$r" = $'data: {"x":1}\n\ndata: [DONE]'
r=$(curl -s "$B/_mock/requests?key=sk-retry")
ok "requests log: filtered by key, with headers, body and tokens" \
	has_all "$r" '"authorization":"Bearer sk-retry"' '"prompt_tokens":10,"completion_tokens":1' '"body":"{\"model\":\"gpt-4o-mini\"'
ok "requests log: 4 entries for sk-retry" test "$(grep -o '"seq":' <<<"$r" | wc -l)" = 4
r=$(curl -s "$B/_mock/requests?limit=1")
ok "requests log: limit=1" test "$(grep -o '"seq":' <<<"$r" | wc -l)" = 1
curl -s -X DELETE "$B/_mock/requests" >/dev/null
ok "requests log: DELETE clears" test "$(curl -s "$B/_mock/requests")" = '[]'

# --- HTTP details
r=$(curl -s "$B/v1/chat/completions" -H 'Transfer-Encoding: chunked' --data-binary "$chat")
ok "chunked request body" has "$r" '"content":"Hello from mock"'
before=$(mstat connections_total)
curl -s "$B/v1/models" "$B/v1/models" "$B/v1/models" -o /dev/null -o /dev/null -o /dev/null
after=$(mstat connections_total)
ok "keep-alive: 3 requests, 1 connection" test $((after - before)) = 2 # +1 for this stat call
before=$(mstat client_disconnects)
curl -sN -m 0.3 "$B/v1/chat/completions" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"[[mock chunks=50 delay_ms=50]]"}]}' >/dev/null 2>&1
sleep 0.2
ok "client disconnect mid-stream is counted, server survives" test "$(mstat client_disconnects)" = $((before + 1))
ok "stats: no stream left active" test "$(mstat streams_active)" = 0

# --- clean exit
kill -TERM "$pid"
wait "$pid"
rc=$?
ok "SIGTERM: exit 0" test "$rc" = 0
ok "no sanitizer or other stderr output" test ! -s "$tmp/err"
[ -s "$tmp/err" ] && sed 's/^/# /' "$tmp/err" | head -40

echo "1..$n"
[ "$failed" = 0 ]
