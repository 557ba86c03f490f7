#!/usr/bin/env bash
# t0313: the sql quota store:
# reservations are conditional UPDATEs, so processes that share the database cannot overdraw a
# user or a limited key together. Many requests at once from plain CGI processes (each
# request its own process), then from two FastCGI processes with QUOTA_STORE=sql on the same
# database:
# - images cost a fixed 20000 (reserved = charged): a user with 7.5 images' worth gets exactly
#   7, a limited key with 5 images' worth (+1) exactly 5, whatever the concurrency; the others
#   are refused with One API's 403;
# - chats reserve far more than they cost (PreConsumedQuota) and some fail or are retried on
#   another channel: only a few fit in flight at once, and every reservation is settled or
#   released;
# - neither the user nor the key is ever seen below 0, and the ledger is exact: initial
#   quota - quota = used_quota = SUM(logs.quota), the same for the key's remain and used quota.
. "$(dirname "$0")/lib.sh"
oa_require_bin
relay_env
mock_start
# Forty processes take SQLite's write lock in turn on a busy test machine: a SQLITE_BUSY
# (answered 500) would blur the exact counts below, which are about quota, not contention.
OA_ENV+=("SQLITE_BUSY_TIMEOUT=30000")

N=${QUOTA_SQL_REQUESTS:-40}
IMG=20000 # dall-e-3 1024x1024: int(20 x 1 x 1000)
if [[ $OA_TEST_DB == postgres ]]; then TRUE=true; FALSE=false; else TRUE=1; FALSE=0; fi
IMG_BODY='{"model":"dall-e-3","prompt":"a cat [[mock delay_ms=300]]","size":"1024x1024"}'
CHAT_OK='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi [[mock delay_ms=600]]"}]}'
CHAT_STREAM='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi [[mock chunks=3 delay_ms=200]]"}]}'
CHAT_FAIL='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi [[mock status=500 delay_ms=300]]"}]}'

# setup_db: a fresh database with a good and a bad (always 500) channel for the chat model,
# one image channel, PreConsumedQuota 10000 (a chat reserves ~750, costs ~2) and one retry.
setup_db() {
    oa_db_init
    oa_set_option RetryTimes 1
    oa_set_option PreConsumedQuota 10000
    local name key models
    for spec in "good k-good gpt-4o-mini,dall-e-3" "bad k-bad gpt-4o-mini"; do
        read -r name key models <<<"$spec"
        oa_db_query "INSERT INTO channels (type, \"key\", status, name, base_url, models, \"group\", created_time, priority, weight) VALUES (1, '$key', 1, '$name', '$MOCK_URL', '$models', 'default', 0, 0, 0)" >/dev/null
        local ch m
        ch=$(oa_db_query "SELECT MAX(id) FROM channels")
        for m in ${models//,/ }; do
            oa_db_query "INSERT INTO abilities (\"group\", model, channel_id, enabled, priority) VALUES ('default', '$m', $ch, $TRUE, 0)" >/dev/null
        done
    done
}

# add_user NAME QUOTA: prints the new user's id.
add_user() {
    oa_db_query "INSERT INTO users (username, password, display_name, role, status, access_token, quota, \"group\") VALUES ('$1', 'x', '$1', 1, 1, '$(hex_key 32)', $2, 'default')" >/dev/null
    oa_db_query "SELECT id FROM users WHERE username = '$1'"
}

# add_key USER_ID NAME REMAIN UNLIMITED(0/1): prints the new key (without sk-).
add_key() {
    local k unl=$FALSE
    k=$(hex_key 48)
    [[ $4 == 1 ]] && unl=$TRUE
    oa_db_query "INSERT INTO tokens (user_id, \"key\", status, name, created_time, accessed_time, expired_time, remain_quota, unlimited_quota, used_quota, models, subnet) VALUES ($1, '$k', 1, '$2', 0, 0, -1, $3, $unl, 0, '', '')" >/dev/null
    echo "$k"
}

# one MODE PATH KEY BODY OUT: one relay request; its status in OUT, the body in OUT.raw (a CGI
# answer with its headers). MODE cgi runs one-api as a CGI process; a URL sends it there.
one() {
    local mode=$1 path=$2 key=$3 body=$4 out=$5 st
    if [[ $mode == cgi ]]; then
        printf '%s' "$body" >"$out.body"
        env "${OA_DB_ENV[@]}" "${OA_ENV[@]}" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
            REQUEST_METHOD=POST REQUEST_URI="$path" SCRIPT_NAME=/one-api.cgi PATH_INFO="$path" \
            QUERY_STRING= REMOTE_ADDR=127.0.0.1 CONTENT_TYPE=application/json \
            CONTENT_LENGTH="$(wc -c <"$out.body")" HTTP_AUTHORIZATION="Bearer sk-$key" \
            timeout 60 "$ONEAPI_BIN" --log-dir "$OA_TMP/cgi-logs" <"$out.body" >"$out.raw" 2>>"$OA_TMP/cgi.err"
        st=$(sed -n '1,/^\r\?$/{s/^Status: \([0-9]*\).*/\1/p}' "$out.raw")
        echo "${st:-200}" >"$out"
    else
        curl -sS --max-time 60 -o "$out.raw" -w '%{http_code}\n' -X POST "$mode$path" \
            -H "Authorization: Bearer sk-$key" -H 'Content-Type: application/json' \
            --data-binary "$body" >"$out" 2>>"$OA_TMP/curl.err" || echo 000 >"$out"
    fi
}

# answers DIR: one line "STATUS|error.code|error.message" per DIR/*.res (one python start).
answers() {
    "$OA_PY" - "$1" <<'PY'
import glob, json, sys
for res in sorted(glob.glob(sys.argv[1] + "/*.res")):
    st = open(res).read().strip()
    raw = open(res + ".raw", "rb").read()
    if b"\r\n\r\n" in raw[:2048] and not raw.lstrip().startswith(b"{"):
        raw = raw.split(b"\r\n\r\n", 1)[1]
    try:
        e = json.loads(raw).get("error") or {}
    except ValueError:
        e = {"code": "<not json>"}
    print("%s|%s|%s" % (st, e.get("code") or "", e.get("message") or ""))
PY
}

# fire TAG N BODY_FN: N requests at once (BODY_FN I prints "MODE PATH KEY" then the body on
# a second line); waits for all; the answers in $OA_TMP/TAG.out (see answers).
fire() {
    local tag=$1 n=$2 fn=$3 i body mode path key pids=()
    mkdir -p "$OA_TMP/$tag"
    for ((i = 0; i < n; i++)); do
        { read -r mode path key; IFS= read -r body; } <<<"$($fn "$i")"
        one "$mode" "$path" "$key" "$body" "$OA_TMP/$tag/$i.res" &
        pids+=($!)
    done
    wait "${pids[@]}"
    answers "$OA_TMP/$tag" >"$OA_TMP/$tag.out"
    quiet
    diag "$tag: $(cut -d'|' -f1,2 "$OA_TMP/$tag.out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
}

# quiet: waits until the consume rows stop changing (FastCGI: the writer commits each
# settlement within ~20 ms of the answer; CGI: already done).
quiet() {
    local a b=-1 deadline=$((SECONDS + 20))
    while :; do
        a=$(oa_db_query "SELECT COUNT(*) || '|' || COALESCE(SUM(quota), 0) FROM logs WHERE type = 2")
        [[ $a == "$b" || $SECONDS -ge $deadline ]] && break
        b=$a
        sleep 0.2
    done
}

# watch_start TAG USER_ID TOKEN_ID: samples the user's quota and the key's remain_quota into
# $OA_TMP/TAG.watch until watch_stop, which sets MIN_USER, MIN_REMAIN and N_SAMPLES.
WATCH_PID="" WATCH_FILE=""
watch_start() {
    WATCH_FILE="$OA_TMP/$1.watch"
    rm -f "$OA_TMP/watch.stop"
    (while [[ -d $OA_TMP && ! -e $OA_TMP/watch.stop ]]; do
        oa_db_query "SELECT (SELECT quota FROM users WHERE id = $2) || '|' || (SELECT remain_quota FROM tokens WHERE id = $3)" >>"$WATCH_FILE" 2>/dev/null
        sleep 0.02
    done) &
    WATCH_PID=$!
}
watch_stop() { # in this shell, never in $(...): the watcher is its child
    touch "$OA_TMP/watch.stop"
    wait "$WATCH_PID"
    WATCH_PID=""
    IFS='|' read -r MIN_USER MIN_REMAIN N_SAMPLES <<<"$(awk -F'|' 'NF == 2 {
            if (u == "" || $1 + 0 < u) u = $1 + 0; if (k == "" || $2 + 0 < k) k = $2 + 0; n++ }
        END { printf "%s|%s|%d", u, k, n }' "$WATCH_FILE")"
}
oa_test_cleanup() { [[ -z $WATCH_PID ]] || kill "$WATCH_PID" 2>/dev/null; }

# ledger TAG USER_ID TOKEN_ID USER_Q0 REMAIN0 LIMITED: the user's and the key's quota moved by
# exactly the sum of their consume log rows (the user's used_quota too; the key's used_quota
# too, and its remain_quota when limited); request_count = rows.
ledger() {
    local tag=$1 uid=$2 tid=$3 q0=$4 r0=$5 lim=$6 row q used cnt sum n remain tused tsum
    row=$(oa_db_query "SELECT u.quota, u.used_quota, u.request_count, (SELECT COALESCE(SUM(quota), 0) FROM logs WHERE user_id = u.id AND type = 2), (SELECT COUNT(*) FROM logs WHERE user_id = u.id AND type = 2), t.remain_quota, t.used_quota, (SELECT COALESCE(SUM(l.quota), 0) FROM logs l WHERE l.user_id = u.id AND l.token_name = t.name AND l.type = 2) FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.id = $uid AND t.id = $tid")
    IFS='|' read -r q used cnt sum n remain tused tsum <<<"$row"
    is "$((q0 - q))|$used|$cnt" "$sum|$sum|$n" "$tag: user: initial - quota = used_quota = SUM(log quota) ($sum); request_count = rows ($n)"
    if [[ $lim == 1 ]]; then
        is "$((r0 - remain))|$tused" "$tsum|$tsum" "$tag: key: initial remain - remain = used_quota = SUM(its log quota) ($tsum)"
    else
        is "$remain|$tused" "$r0|$tsum" "$tag: unlimited key: remain untouched, used_quota = SUM(its log quota)"
    fi
}

# count STATUS FILE: answers with that status.
count() { awk -F'|' -v s="$1" '$1 == s' "$2" | wc -l; }

run_phases() { # run_phases TAG MODE [MODE2]: the three phases against MODE (cgi or a URL)
    local tag=$1 m1=$2 m2=${3:-$2} ok refused out
    # A: a user with 7.5 images' worth, an unlimited key.
    local ua ka ta
    ua=$(add_user "$tag-a" $((7 * IMG + IMG / 2)))
    ka=$(add_key "$ua" a-unl 0 1)
    ta=$(oa_db_query "SELECT id FROM tokens WHERE \"key\" = '$ka'")
    img_a() { if (($1 % 2)); then echo "$m2 /v1/images/generations $ka"; else echo "$m1 /v1/images/generations $ka"; fi; echo "$IMG_BODY"; }
    watch_start "$tag-a" "$ua" "$ta"
    fire "$tag-a" "$N" img_a
    watch_stop
    out="$OA_TMP/$tag-a.out"
    is "$(count 200 "$out")|$(count 403 "$out")" "7|$((N - 7))" "$tag: images, user-bound: exactly 7 of $N served, the rest refused"
    like "$(awk -F'|' '$1 == 403' "$out" | sort -u | head -n1)" '^403\|insufficient_user_quota\|user quota is not enough \(request id: ' \
        "$tag: ... refused with 403 insufficient_user_quota, 'user quota is not enough'"
    ok_if "$tag: ... the user's quota never went below 0 ($N_SAMPLES samples, lowest $MIN_USER)" test "${MIN_USER:--1}" -ge 0
    is "$(oa_db_query "SELECT quota FROM users WHERE id = $ua")" $((IMG / 2)) "$tag: ... and ends at half an image"
    is "$(oa_db_query "SELECT COUNT(*) || '|' || MIN(quota) || '|' || MAX(quota) FROM logs WHERE user_id = $ua AND type = 2")" "7|$IMG|$IMG" \
        "$tag: ... seven consume rows of $IMG"
    ledger "$tag: images, user-bound" "$ua" "$ta" $((7 * IMG + IMG / 2)) 0 0

    # B: a rich user, a limited key with 5 images' worth + 1.
    local ub kb tb
    ub=$(add_user "$tag-b" 100000000)
    kb=$(add_key "$ub" b-lim $((5 * IMG + 1)) 0)
    tb=$(oa_db_query "SELECT id FROM tokens WHERE \"key\" = '$kb'")
    img_b() { if (($1 % 2)); then echo "$m2 /v1/images/generations $kb"; else echo "$m1 /v1/images/generations $kb"; fi; echo "$IMG_BODY"; }
    watch_start "$tag-b" "$ub" "$tb"
    fire "$tag-b" "$N" img_b
    watch_stop
    out="$OA_TMP/$tag-b.out"
    is "$(count 200 "$out")|$(count 403 "$out")" "5|$((N - 5))" "$tag: images, key-bound: exactly 5 of $N served, the rest refused"
    like "$(awk -F'|' '$1 == 403' "$out" | sort -u | head -n1)" '^403\|pre_consume_token_quota_failed\|令牌额度不足 \(request id: ' \
        "$tag: ... refused with 403 pre_consume_token_quota_failed, '令牌额度不足'"
    ok_if "$tag: ... the key's remain_quota never went below 0 ($N_SAMPLES samples, lowest $MIN_REMAIN)" test "${MIN_REMAIN:--1}" -ge 0
    is "$(oa_db_query "SELECT remain_quota || '|' || status FROM tokens WHERE id = $tb")" "1|1" "$tag: ... and ends at 1, still enabled"
    ledger "$tag: images, key-bound" "$ub" "$tb" 100000000 $((5 * IMG + 1)) 1

    # Both short: the key's shortfall is the one reported, as One API checks the key first.
    local uc kc
    uc=$(add_user "$tag-c" 100)
    kc=$(add_key "$uc" c-lim 100 0)
    mkdir -p "$OA_TMP/$tag-c"
    one "$m1" /v1/images/generations "$kc" "$IMG_BODY" "$OA_TMP/$tag-c/0.res"
    like "$(answers "$OA_TMP/$tag-c")" '^403\|pre_consume_token_quota_failed\|令牌额度不足' "$tag: user and key both short: the key is reported"
    is "$(oa_db_query "SELECT u.quota || '|' || t.remain_quota FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.id = $uc")" "100|100" \
        "$tag: ... and nothing was taken from either"

    # D: chats reserving ~750 (cost ~2), a user with room for about 5.4 reservations; a
    # limited key and an unlimited one; plain, streamed, failing everywhere; the bad channel
    # fails first half the time (one retry on the good one).
    local ud kd kd2 td
    ud=$(add_user "$tag-d" 4050)
    kd=$(add_key "$ud" d-lim 1000000 0)
    kd2=$(add_key "$ud" d-unl 0 1)
    td=$(oa_db_query "SELECT id FROM tokens WHERE \"key\" = '$kd'")
    chat_d() {
        local k=$kd m=$m1
        (($1 % 3 == 2)) && k=$kd2
        (($1 % 2)) && m=$m2
        echo "$m /v1/chat/completions $k"
        case $(($1 % 5)) in
        0 | 1 | 2) echo "$CHAT_OK" ;;
        3) echo "$CHAT_STREAM" ;;
        4) echo "$CHAT_FAIL" ;;
        esac
    }
    mock_ctl POST /_mock/script "{\"key\":\"k-bad\",\"responses\":$("$OA_PY" -c "import json; print(json.dumps([{'status': 500}] * 400))")}"
    watch_start "$tag-d" "$ud" "$td"
    fire "$tag-d" "$N" chat_d
    watch_stop
    out="$OA_TMP/$tag-d.out"
    ok=$(count 200 "$out")
    refused=$(awk -F'|' '$1 == 403 && $2 == "insufficient_user_quota"' "$out" | wc -l)
    is "$(awk -F'|' '$1 != 200 && !($1 == 403 && $2 == "insufficient_user_quota") && $1 != 500' "$out" | wc -l)" 0 \
        "$tag: chats: every answer is 200, a quota refusal, or the upstream's 500"
    ok_if "$tag: ... some served ($ok), some refused for quota while others were in flight ($refused)" \
        test "$ok" -ge 1 -a "$refused" -ge 1
    ok_if "$tag: ... the user's quota never went below 0 ($N_SAMPLES samples, lowest $MIN_USER)" test "${MIN_USER:--1}" -ge 0
    is "$(oa_db_query "SELECT COUNT(*) FROM logs WHERE user_id = $ud AND type = 2")" "$ok" "$tag: ... one consume row per served chat"
    ledger "$tag: chats, limited key" "$ud" "$td" 4050 1000000 1
    mkdir -p "$OA_TMP/$tag-d2"
    one "$m1" /v1/chat/completions "$kd" "$CHAT_OK" "$OA_TMP/$tag-d2/0.res"
    like "$(answers "$OA_TMP/$tag-d2")" '^200\|' "$tag: ... and the user is served again afterwards"
}

# --- plain CGI: every request its own process -----------------------------------------------
mkdir -p "$OA_TMP/cgi-logs"
setup_db
run_phases cgi cgi

# --- two FastCGI processes with QUOTA_STORE=sql on the same database -------------------------
if [[ -z "$(oa_webservers)" ]]; then
    skip "fastcgi: two processes with QUOTA_STORE=sql" "neither nginx nor lighttpd is installed"
else
    ws=$(oa_webservers | awk '{print $1}')
    mock_reset
    setup_db
    OA_ENV+=("QUOTA_STORE=sql")
    if OA_KEEP_DB=1 oa_start "$ws"; then
        first=("$OA_WS" "$OA_WS_PID" "$OA_APP_PID" "$OA_RUN" "$OA_URL")
        if OA_KEEP_DB=1 oa_start "$ws"; then
            run_phases "$ws-sql" "${first[4]}" "$OA_URL"
            oa_stop
        fi
        OA_WS=${first[0]} OA_WS_PID=${first[1]} OA_APP_PID=${first[2]} OA_RUN=${first[3]}
        oa_stop
    fi
fi

done_testing
