#!/usr/bin/env bash
# t0306: the ledger stays exact under load: 500 requests, 50 at a time, from four users'
# keys, with RetryTimes=2 over channels that fail at random (500, 429, dropped connections),
# streams (some cut mid-stream), failures on every channel, Anthropic and embeddings. Then,
# for every user, key and channel, the quota moved equals the sum of its consume log rows,
# and there is one row per answered request.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver

relay_env
mock_start
N_REQ=${LEDGER_REQUESTS:-500}
WORKERS=${LEDGER_WORKERS:-50}
OA_TEST_THREADS=${OA_TEST_THREADS_LEDGER:-96} # more workers than clients: no busy 503s
U_AT=("u2$(hex_key 30)" "u3$(hex_key 30)" "u4$(hex_key 30)")

# flaky N WEIGHTS...: N scripted answers drawn at random: "500", "429", "close", "ok".
flaky() {
    "$OA_PY" -c '
import json, random, sys
n, kinds = int(sys.argv[1]), sys.argv[2:]
ans = {"500": {"status": 500}, "429": {"status": 429, "body": {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}},
       "close": {"close": True}, "529": {"status": 529}, "ok": {}}
pool = [k for spec in kinds for k in [spec.split("=")[0]] * int(spec.split("=")[1])]
print(json.dumps([ans[random.choice(pool)] for _ in range(n)]))' "$@"
}

# load PORT N WORKERS KEY...: N relay requests, WORKERS at a time, each with a random key
# and kind; prints one line per request: "<key index> <kind> <status> <stream complete?>".
load() {
    "$OA_PY" - "$@" <<'PY'
import http.client, json, random, sys, threading
port, n, workers, keys = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
def msg(t):
    return [{"role": "user", "content": t}]
kinds = {
    "plain": (45, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": msg("hi %d" % i)})),
    "stream": (15, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True, "messages": msg("s %d [[mock chunks=4]]" % i)})),
    "usage": (8, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}, "messages": msg("u %d" % i)})),
    "slow": (4, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True, "messages": msg("w %d [[mock chunks=5 delay_ms=20]]" % i)})),
    "cut": (6, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True, "messages": msg("c %d [[mock chunks=8 fail_after=3]]" % i)})),
    "tool": (5, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "tools": tools, "messages": msg("t %d [[mock tool=get_weather]]" % i)})),
    "allfail": (4, lambda i: ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": msg("f %d [[mock status=500]]" % i)})),
    "claude": (8, lambda i: ("/v1/chat/completions", {"model": "claude-3-5-haiku-20241022", "stream": i % 2 == 0, "messages": msg("a %d" % i)})),
    "embed": (5, lambda i: ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "e %d one two" % i})),
}
plan = [k for k, (w, _) in kinds.items() for _ in range(w)]
lock, out, todo = threading.Lock(), [], list(range(n))
def worker():
    while True:
        with lock:
            if not todo:
                return
            i = todo.pop()
        ki = random.randrange(len(keys))
        kind = random.choice(plan)
        path, body = kinds[kind][1](i)
        status, complete = 0, 0
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", path, json.dumps(body), {"Authorization": "Bearer sk-" + keys[ki], "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            status = r.status
            complete = 1 if b"data: [DONE]" in data or not body.get("stream") else 0
            c.close()
        except Exception as e:
            sys.stderr.write("request %d: %r\n" % (i, e))
        with lock:
            out.append("%d %s %d %d" % (ki, kind, status, complete))
ts = [threading.Thread(target=worker) for _ in range(workers)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("\n".join(out))
PY
}

# settled: the number of consume rows once it stopped changing (the writer is done).
settled() {
    local a b=-1 deadline=$((SECONDS + 20))
    while :; do
        a=$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2")
        [[ $a == "$b" ]] && break
        [[ $SECONDS -ge $deadline ]] && break
        b=$a
        sleep 0.3
    done
    echo "$a"
}

for ws in $(oa_webservers); do
    oa_db_init
    oa_set_option RetryTimes 2
    for i in 0 1 2; do
        oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('user$i', 'x', 'User $i', 1, 1, '${U_AT[$i]}', $((20000000 + i * 1000)), 'default')" >/dev/null
    done
    OA_KEEP_DB=1 oa_start "$ws" || continue
    m=gpt-4o-mini
    oa_add_channel "{\"type\":1,\"name\":\"flaky-a\",\"key\":\"k-a\",\"base_url\":\"$MOCK_URL\",\"models\":\"$m\",\"group\":\"default\",\"priority\":10,\"weight\":1}"
    oa_add_channel "{\"type\":1,\"name\":\"flaky-b\",\"key\":\"k-b\",\"base_url\":\"$MOCK_URL\",\"models\":\"$m\",\"group\":\"default\",\"priority\":10,\"weight\":2}"
    oa_add_channel "{\"type\":1,\"name\":\"steady\",\"key\":\"k-c\",\"base_url\":\"$MOCK_URL\",\"models\":\"$m,text-embedding-3-small\",\"group\":\"default\",\"priority\":0}"
    oa_add_channel "{\"type\":14,\"name\":\"claude-flaky\",\"key\":\"k-d\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-3-5-haiku-20241022\",\"group\":\"default\",\"priority\":5}"
    oa_add_channel "{\"type\":14,\"name\":\"claude-steady\",\"key\":\"k-e\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-3-5-haiku-20241022\",\"group\":\"default\",\"priority\":0}"
    mock_reset
    mock_ctl POST /_mock/script "{\"key\":\"k-a\",\"responses\":$(flaky 400 500=3 429=1 close=1 ok=5)}"
    mock_ctl POST /_mock/script "{\"key\":\"k-b\",\"responses\":$(flaky 400 429=3 500=1 ok=6)}"
    mock_ctl POST /_mock/script "{\"key\":\"k-d\",\"responses\":$(flaky 100 529=1 500=1 ok=2)}"

    # Keys: root's unlimited one, an unlimited and a limited key for user0, limited keys
    # for user1 and user2 (users 2-4; key names are unique per user).
    keys=("$ROOT_KEY")
    oa_add_token '{"name":"u0-unl","unlimited_quota":true}' "${U_AT[0]}" && keys+=("$TOK_KEY")
    oa_add_token '{"name":"u0-lim","remain_quota":5000000}' "${U_AT[0]}" && keys+=("$TOK_KEY")
    oa_add_token '{"name":"u1-lim","remain_quota":8000000}' "${U_AT[1]}" && keys+=("$TOK_KEY")
    oa_add_token '{"name":"u2-lim","remain_quota":9000000}' "${U_AT[2]}" && keys+=("$TOK_KEY")
    users0=$(oa_db_query "SELECT id || ':' || quota FROM users ORDER BY id" | tr '\n' ' ')
    tokens0=$(oa_db_query "SELECT id || ':' || remain_quota FROM tokens ORDER BY id" | tr '\n' ' ')

    t0=$SECONDS
    load "$OA_HTTP_PORT" "$N_REQ" "$WORKERS" "${keys[@]}" >"$OA_RUN/load.out" 2>"$OA_RUN/load.err"
    dt=$((SECONDS - t0))
    n_done=$(wc -l <"$OA_RUN/load.out")
    n_200=$(awk '$3 == 200' "$OA_RUN/load.out" | wc -l)
    diag "$ws: $N_REQ requests in ${dt}s; statuses: $(awk '{print $3}' "$OA_RUN/load.out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
    diag "$ws: kinds answered 200: $(awk '$3 == 200 {print $2}' "$OA_RUN/load.out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
    is "$n_done" "$N_REQ" "$ws: every request got an answer"
    is "$(awk '$3 != 200 && $2 != "allfail" && $2 != "claude"' "$OA_RUN/load.out" | wc -l)" 0 \
        "$ws: with RetryTimes=2 every gpt-4o-mini/embeddings request not failing everywhere succeeds"
    is "$(awk '$2 == "allfail" && $3 == 200' "$OA_RUN/load.out" | wc -l)" 0 "$ws: requests failing on every channel fail"
    is "$(awk '$3 == 200 && $4 == 0' "$OA_RUN/load.out" | wc -l)" 0 "$ws: every 200 stream ends with [DONE] (cut ones too)"

    mock_ctl GET /_mock/stats
    IFS='|' read -r up_total up_err up_drop up_cut <<<"$(JSON_DOC=$MOCK_BODY json_fields requests_total scripted dropped streams_cut)"
    diag "$ws: upstream: $up_total requests, $up_err scripted answers, $up_drop dropped connections, $up_cut streams cut"
    ok_if "$ws: the faults happened: retries ($up_total upstream requests), dropped connections, cut streams" \
        test "$up_total" -gt "$N_REQ" -a "$up_drop" -gt 0 -a "$up_cut" -gt 0
    ok_if "$ws: the mock has no stream left open" bash -c \
        "for i in \$(seq 50); do curl -s $MOCK_URL/_mock/stats | grep -q '\"streams_active\":0,' && exit 0; sleep 0.1; done; exit 1"
    rows=$(settled)
    is "$rows" "$n_200" "$ws: one consume row per answered request ($n_200), none for failures"

    # users: initial quota - quota = SUM(logs.quota) = used_quota; request_count = rows
    report=$(oa_db_query "SELECT u.id, u.quota, u.used_quota, u.request_count, COALESCE(SUM(l.quota), 0), COUNT(l.id) FROM users u LEFT JOIN logs l ON l.user_id = u.id AND l.type = 2 GROUP BY u.id, u.quota, u.used_quota, u.request_count ORDER BY u.id")
    bad=""
    while IFS='|' read -r id q used cnt sum n; do
        init=$(tr ' ' '\n' <<<"$users0" | awk -F: -v id="$id" '$1 == id {print $2}')
        [[ $((init - q)) == "$sum" && $used == "$sum" && $cnt == "$n" ]] ||
            bad+="user $id: spent $((init - q)), used_quota $used, log sum $sum; request_count $cnt, rows $n. "
    done <<<"$report"
    is "$bad" "" "$ws: every user: initial quota - quota = used_quota = SUM(log quota); request_count = rows"
    ok_if "$ws: ... every user was billed something" \
        test "$(awk -F'|' '$5 > 0' <<<"$report" | wc -l)" -eq 4

    # keys: limited ones moved by the sum of their rows (remain and used); unlimited ones'
    # remain_quota untouched
    report=$(oa_db_query "SELECT t.id, t.remain_quota, t.used_quota, CASE WHEN t.unlimited_quota THEN 1 ELSE 0 END, COALESCE(SUM(l.quota), 0) FROM tokens t LEFT JOIN logs l ON l.user_id = t.user_id AND l.token_name = t.name AND l.type = 2 GROUP BY t.id, t.remain_quota, t.used_quota, t.unlimited_quota ORDER BY t.id")
    bad=""
    while IFS='|' read -r id remain used unl sum; do
        init=$(tr ' ' '\n' <<<"$tokens0" | awk -F: -v id="$id" '$1 == id {print $2}')
        if [[ $unl == 1 ]]; then
            [[ $remain == "$init" ]] || bad+="unlimited key $id: remain_quota $init -> $remain. "
        else
            [[ $((init - remain)) == "$sum" && $used == "$sum" ]] ||
                bad+="key $id: spent $((init - remain)), used_quota $used, log sum $sum. "
        fi
    done <<<"$report"
    is "$bad" "" "$ws: every limited key: remain and used_quota moved by SUM(log quota); unlimited keys' remain untouched"

    # channels: used_quota = SUM(logs.quota) of the rows naming them
    report=$(oa_db_query "SELECT c.id, c.used_quota, COALESCE(SUM(l.quota), 0), COUNT(l.id) FROM channels c LEFT JOIN logs l ON l.channel_id = c.id AND l.type = 2 GROUP BY c.id, c.used_quota ORDER BY c.id")
    bad="" served=0
    while IFS='|' read -r id used sum n; do
        [[ $used == "$sum" ]] || bad+="channel $id: used_quota $used, log sum $sum. "
        [[ $n -gt 0 ]] && served=$((served + 1))
    done <<<"$report"
    is "$bad" "" "$ws: every channel: used_quota = SUM(log quota)"
    is "$served" 5 "$ws: ... all five channels answered some requests"
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE type = 2 AND (quota < 0 OR prompt_tokens < 0 OR completion_tokens < 0)")" 0 \
        "$ws: no negative quota or token counts in the log"

    # The reservations were all released: a user and a key left with just one request's
    # estimate (floor((500 + prompt) x 0.075) = 38 or so) can still make it: any leaked
    # reservation (38 or more each) would refuse it.
    oa_db_query "UPDATE users SET quota = 45 WHERE access_token = '${U_AT[1]}'" >/dev/null
    oa_db_query "UPDATE tokens SET remain_quota = 45 WHERE name = 'u1-lim'" >/dev/null
    oa_req POST /v1/chat/completions -H "Authorization: Bearer sk-${keys[3]}" -H 'Content-Type: application/json' \
        --data-binary '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"last"}]}'
    is "$OA_STATUS" 200 "$ws: no reservation leaked: a user and key with 45 quota left are served"
    oa_stop
done

done_testing
