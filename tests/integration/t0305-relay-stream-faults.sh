#!/usr/bin/env bash
# t0305: streams that end badly: a client that goes away
# mid-stream is billed only for what it received and the upstream call stops; an upstream
# that fails mid-stream ends the client's stream with an error event and [DONE], billed
# for what was sent.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start

# read_then_close PORT BODY N: a raw HTTP/1.1 streaming request to 127.0.0.1:PORT with the
# root key that reads until N content pieces arrived, then closes the socket; prints how
# many pieces it saw.
read_then_close() {
    "$OA_PY" - "$@" "$ROOT_KEY" <<'PY'
import socket, sys, time
port, body, n, key = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-" +
          key.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: " +
          str(len(body)).encode() + b"\r\n\r\n" + body)
buf, deadline = b"", time.time() + 20
while buf.count(b'"delta":{"content":"') < n and time.time() < deadline:
    d = s.recv(65536)
    if not d:
        break
    buf += d
s.close()
print(buf.count(b'"delta":{"content":"'))
PY
}
mock_stat() { mock_ctl GET /_mock/stats; JSON_DOC=$MOCK_BODY json_fields "$@"; }
# wait_idle SECONDS: wait until the mock has no stream open; fails after SECONDS.
wait_idle() {
    local deadline=$((SECONDS + $1))
    while [[ $(mock_stat streams_active) != 0 ]]; do
        [[ $SECONDS -ge $deadline ]] && return 1
        sleep 0.1
    done
}

# upstream_calls: how many requests the mock received since its stats were reset.
upstream_calls() { mock_stat requests_total; }

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2 # a stream that began must never be retried on another channel
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k-openai\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\",\"priority\":1}"
    oa_add_channel "{\"type\":1,\"name\":\"openai-2\",\"key\":\"k-openai-2\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":14,\"name\":\"claude\",\"key\":\"k-claude\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-3-5-haiku-20241022\",\"group\":\"default\"}"
    relay_bill_start
    mock_reset

    # --- the client goes away after 5 of 200 pieces (10 s of stream) -----------------
    for usage in false true; do
        body="{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":$usage},\"messages\":[{\"role\":\"user\",\"content\":\"long [[mock chunks=200 delay_ms=50 text=w]]\"}]}"
        mock_ctl DELETE /_mock/stats
        t0=$SECONDS
        got=$(read_then_close "$OA_HTTP_PORT" "$body" 5)
        ok_if "$ws: disconnect (include_usage $usage): the client read 5 pieces and left ($got)" test "${got:-0}" -ge 5
        ok_if "$ws: ... the gateway stopped the upstream stream within 4 s" wait_idle 4
        is "$(mock_stat client_disconnects streams_completed requests_total)" "1|0|1" \
            "$ws: ... the upstream saw its client go, the stream never completed, no retry"
        relay_bill "$ws: disconnect (include_usage $usage)" 0.075 4
        ok_if "$ws: ... billed for what the client received: $LOG_C completion tokens, not 200" \
            test "$LOG_C" -ge 1 -a "$LOG_C" -le 40
        ok_if "$ws: ... and fast: the row came $((SECONDS - t0)) s after the start, before the 10 s stream ended" \
            test $((SECONDS - t0)) -lt 9
    done

    # --- the upstream cuts the stream after 4 of 50 pieces ----------------------------------
    mock_ctl DELETE /_mock/stats
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"cut [[mock chunks=50 fail_after=4 text=w]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$content|$errors|$done_last" "200|w w w w|1|1" \
        "$ws: upstream cut mid-stream: 4 pieces, then an error event, then [DONE] last"
    last_ev=$(grep '^data: ' <<<"$OA_BODY" | tail -n 2 | head -n 1)
    like "$last_ev" '^data: \{"error":\{"message":"[^"]+"' "$ws: ... the error event carries a message"
    is "$(upstream_calls)" 1 "$ws: ... not retried on the other channel once the stream began"
    relay_bill "$ws: upstream cut" 0.075 4
    ok_if "$ws: ... billed for what was sent: $LOG_C completion tokens (4 pieces)" test "$LOG_C" -ge 1 -a "$LOG_C" -le 8

    # --- the upstream cuts the stream before its first event ---------------------------------
    # The client has seen nothing yet, so the attempt fails like an error status: the other
    # channel answers, and only its stream is billed.
    mock_ctl DELETE /_mock/stats
    mock_reset
    mock_ctl POST /_mock/script '{"key":"k-openai","responses":[{"events":[],"cut":true}]}'
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"cut [[mock chunks=2 text=w]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$content|$errors|$done_last" "200|w w|0|1" \
        "$ws: upstream cut before its first event: the other channel streams the answer"
    is "$(upstream_calls)" 2 "$ws: ... after one call to each channel"
    relay_bill "$ws: cut before the first event" 0.075 4
    mock_ctl DELETE /_mock/script

    # --- the upstream sends an error event mid-stream --------------------------------------
    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"err [[mock chunks=50 fail_after=3 fail=error text=w]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$content|$errors|$done_last" "200|w w w|1|1" \
        "$ws: OpenAI error event mid-stream: 3 pieces, the error, then [DONE] last"
    relay_bill "$ws: error event" 0.075 4
    ok_if "$ws: ... billed for what was sent: $LOG_C completion tokens (3 pieces)" test "$LOG_C" -ge 1 -a "$LOG_C" -le 6

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"claude-3-5-haiku-20241022","stream":true,"messages":[{"role":"user","content":"err [[mock chunks=50 fail_after=3 fail=error text=w]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$content|$errors|$done_last" "200|w w w|1|1" \
        "$ws: Anthropic 'event: error' mid-stream: 3 pieces, an OpenAI error event, then [DONE] last"
    like "$(grep '^data: {"error"' <<<"$OA_BODY")" 'Overloaded' "$ws: ... with Anthropic's message"
    relay_bill "$ws: claude error event" 0.5 5
    ok_if "$ws: ... billed for what was sent: $LOG_C completion tokens (3 pieces)" test "$LOG_C" -ge 1 -a "$LOG_C" -le 6

    oa_relay /v1/chat/completions "$ROOT_KEY" \
        '{"model":"claude-3-5-haiku-20241022","stream":true,"messages":[{"role":"user","content":"cut [[mock chunks=50 fail_after=2 text=w]]"}]}' -N
    IFS='|' read -r done_last content tool args finish usage bare errors events other <<<"$(sse_summary)"
    is "$OA_STATUS|$content|$errors|$done_last" "200|w w|1|1" \
        "$ws: Anthropic stream cut: 2 pieces, an error event, then [DONE] last"
    relay_bill "$ws: claude cut" 0.5 5

    # --- nothing left behind --------------------------------------------------------------
    ok_if "$ws: no upstream stream left open" wait_idle 2
    is "$(oa_db_query "SELECT SUM(used_quota) - (SELECT SUM(quota) FROM logs WHERE type = 2) FROM channels")" 0 \
        "$ws: channels.used_quota adds up to the log"
    oa_stop
done

done_testing
