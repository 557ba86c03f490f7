#!/usr/bin/env bash
# t0311: notifications to root: a channel disabled automatically by a
# relay request, or enabled again by a test, is reported to Message Pusher when
# MessagePusherAddress is set, else (or when the pusher refuses) mailed to root's address
# through SMTP (tests/mock/smtp_mock.py) with One API's subject and headers; a batch test started
# by an admin reports its end; in CGI mode the message leaves before the process ends.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
relay_env
STRICT_ENV=("${OA_ENV[@]}")
# The SMTP mock speaks no TLS: the runs that mail with a login allow that explicitly (the
# last section checks that, by default, they do not).
OA_ENV+=(SMTP_ALLOW_INSECURE=true)
mock_start
ws=$(oa_webservers)
ws=${ws%% *} # the web server plays no part here: one is enough

SMTP_OUT="$OA_TMP/mail.jsonl"
: >"$SMTP_OUT"
# The file exists before the mock starts: grep on a missing file answers 2, which wait_for
# takes for "hopeless" (under load the background start can come after the first look).
: >"$OA_TMP/smtp.out"
"$OA_PY" "$top_srcdir/tests/mock/smtp_mock.py" --out "$SMTP_OUT" >"$OA_TMP/smtp.out" 2>"$OA_TMP/smtp.err" &
_oa_pids+=("$!")
_oa_logs+=("$OA_TMP/smtp.err")
wait_for 30 grep -q '^PORT ' "$OA_TMP/smtp.out" || bail_out "the SMTP mock did not start: $(cat "$OA_TMP/smtp.err")"
SMTP_PORT=$(sed -n 's/^PORT //p' "$OA_TMP/smtp.out")

if [[ ${OA_TEST_DB:-sqlite} == postgres ]]; then T=true; else T=1; fi
CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
R401='{"status":401,"content_type":"application/json","body":"{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"}'
SUBJECT='渠道状态变更提醒'

# contains GOT NEEDLE DESC: GOT contains the literal text NEEDLE.
contains() {
    if [[ $1 == *"$2"* ]]; then pass "$3"; return 0; fi
    fail "$3"; diag "     got: '$1'"; diag "expected to contain: '$2'"; return 1
}
# pushes: the bodies of the Message Pusher POSTs the mock received, one JSON per line.
pushes() {
    mock_ctl GET /_mock/requests
    "$OA_PY" -c 'import json, sys
for r in json.loads(sys.stdin.read() or "[]"):
    if r["path"].startswith("/push"):
        print(json.dumps(json.loads(r["body"]), ensure_ascii=False))' <<<"$MOCK_BODY"
}
n_pushes() { local p; p=$(pushes); [[ -z $p ]] && echo 0 || wc -l <<<"$p"; }
n_mails() { wc -l <"$SMTP_OUT"; }
# wait_count N CMD: wait (10 s) until CMD prints a number >= N.
wait_count() { local n=$1; shift; wait_for 10 _ge "$n" "$@"; }
_ge() { local n=$1; shift; [[ $("$@") -ge $n ]]; }
# run_start NAME=VALUE...: a fresh database with automatic disabling and enabling on and the
# given options, then one-api in front of it.
run_start() {
    oa_db_init
    oa_set_option AutomaticDisableChannelEnabled true
    oa_set_option AutomaticEnableChannelEnabled true
    local kv
    for kv; do oa_set_option "${kv%%=*}" "${kv#*=}"; done
    mock_reset
    OA_KEEP_DB=1 oa_start "$ws"
}
# break_channel: channel "bad" whose upstream refuses its key once; one chat through it, which
# disables it (status 3). Sets BAD.
break_channel() {
    oa_add_channel "{\"type\":1,\"name\":\"bad\",\"key\":\"k-bad\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\"}"
    BAD=$CH_ID
    mock_ctl POST /_mock/script "{\"key\":\"k-bad\",\"responses\":[$R401]}"
    oa_relay /v1/chat/completions "$ROOT_KEY" "$CHAT"
    isnt "$OA_STATUS" 200 "the chat through a channel with a refused key fails"
    is "$(oa_db_query "SELECT status FROM channels WHERE id = $BAD")" 3 "... and disables the channel"
}
# mail_check FIELD...: fields of the last mail, parsed with Python's email package.
mail_fields() {
    tail -n 1 "$SMTP_OUT" | "$OA_PY" -c '
import email, email.header, email.utils, json, sys
m = json.loads(sys.stdin.read())
msg = email.message_from_string(m["data"])
body = msg.get_payload(decode=True).decode("utf-8")
subj = "".join(s.decode(c or "ascii") if isinstance(s, bytes) else s
               for s, c in email.header.decode_header(msg["Subject"]))
date_ok = email.utils.parsedate_to_datetime(msg["Date"]) is not None
print("\n".join([
    "raw_subject=" + msg["Subject"], "subject=" + subj, "to=" + msg["To"], "from=" + msg["From"],
    "message_id=" + msg["Message-ID"], "content_type=" + msg["Content-Type"],
    "date_ok=" + str(date_ok), "mail_from=" + m["mail_from"], "rcpt_to=" + ",".join(m["rcpt_to"]),
    "auth=%s/%s" % (m["auth_user"], m["auth_password"]), "body=" + body.replace("\n", " ")]))'
}
mail_field() { sed -n "s/^$1=//p" <<<"$MAILF"; }
WANT_RAW_SUBJECT="=?UTF-8?B?$(printf '%s' "$SUBJECT" | base64 -w0)?="
SMTP_OPTS=(SMTPServer=127.0.0.1 "SMTPPort=$SMTP_PORT" SMTPAccount=mailer SMTPToken=smtp-secret
    SMTPFrom=noreply@example.com "SystemName=One API Test")

# --- Message Pusher -------------------------------------------------------------------
run_start "MessagePusherAddress=$MOCK_URL/push/root" MessagePusherToken=push-token \
    "${SMTP_OPTS[@]}" || exit 1
oa_db_query "UPDATE users SET email = 'root@example.com' WHERE id = 1" >/dev/null
break_channel
wait_count 1 n_pushes || diag "no Message Pusher POST arrived"
P=$(pushes | head -n 1)
is "$(JSON_DOC=$P json_fields title url channel token)" "$SUBJECT|||push-token" \
    "pusher: title 渠道状态变更提醒, empty url and channel, MessagePusherToken"
D=$(JSON_DOC=$P json_fields description)
contains "$D" "渠道「bad」（#$BAD）已被禁用。" "pusher: the body names the disabled channel"
contains "$D" "Incorrect API key provided" "pusher: ... and gives the reason"
contains "$D" "此邮件由系统自动发送，请勿直接回复" "pusher: ... in the shared template"
is "$(JSON_DOC=$P json_fields content)" "$D" "pusher: content is the same HTML as description"
like "$(cat "$OA_RUN"/logs/* "$OA_RUN/one-api.out" 2>/dev/null)" \
    "WARN.*channel bad \\(#$BAD\\) disabled automatically: Incorrect API key provided" \
    "the WARN log line of the disable is still written"
sleep 0.3
is "$(n_mails)" 0 "pusher: no e-mail when the pusher took the message"

oa_admin GET "/api/channel/test/$BAD"
is "$(json_fields success)" true "a passing test of the disabled channel..."
is "$(oa_db_query "SELECT status FROM channels WHERE id = $BAD")/$(oa_db_query "SELECT COUNT(*) FROM abilities WHERE channel_id = $BAD AND enabled = $T")" \
    "1/1" "... enables it again"
wait_count 2 n_pushes || diag "no second Message Pusher POST arrived"
P=$(pushes | sed -n 2p)
is "$(JSON_DOC=$P json_fields title)" "$SUBJECT" "pusher: the re-enabling has the same subject"
contains "$(JSON_DOC=$P json_fields description)" "渠道「bad」（#$BAD）已被重新启用。" \
    "pusher: ... and names the channel enabled again"

oa_admin GET /api/channel/test
is "$(json_fields success)" true "an admin starts a batch test"
wait_count 3 n_pushes || diag "no third Message Pusher POST arrived"
is "$(JSON_DOC=$(pushes | sed -n 3p) json_fields title)" "渠道测试完成" \
    "pusher: the end of a batch test an admin started is reported"
oa_stop

# --- e-mail ---------------------------------------------------------------------------
run_start "${SMTP_OPTS[@]}" || exit 1
oa_db_query "UPDATE users SET email = 'root@example.com' WHERE id = 1" >/dev/null
: >"$SMTP_OUT"
break_channel
wait_count 1 n_mails || diag "no e-mail arrived"
MAILF=$(mail_fields)
is "$(mail_field raw_subject)" "$WANT_RAW_SUBJECT" "mail: Subject is RFC 2047 base64 UTF-8"
is "$(mail_field subject)" "$SUBJECT" "mail: ... and decodes to 渠道状态变更提醒"
is "$(mail_field to)|$(mail_field rcpt_to)" "root@example.com|root@example.com" \
    "mail: to root's e-mail address (To: and RCPT TO)"
is "$(mail_field from)|$(mail_field mail_from)" "One API Test <noreply@example.com>|noreply@example.com" \
    "mail: from SystemName <SMTPFrom>"
like "$(mail_field message_id)" '^<[0-9a-f]{32}@example\.com>$' "mail: Message-ID in SMTPFrom's domain"
is "$(mail_field content_type)|$(mail_field date_ok)" "text/html; charset=UTF-8|True" \
    "mail: HTML in UTF-8, with a Date"
is "$(mail_field auth)" "mailer/smtp-secret" "mail: logs in with SMTPAccount and SMTPToken"
contains "$(mail_field body)" "渠道「bad」（#$BAD）已被禁用。" "mail: the body names the disabled channel"
contains "$(mail_field body)" "Incorrect API key provided" "mail: ... and gives the reason"
is "$(n_pushes)" 0 "mail: no pusher configured, none called"
oa_stop

# --- the pusher refuses: e-mail instead, to every address of a ';' list ----------------
run_start "MessagePusherAddress=$MOCK_URL/push/root" MessagePusherToken=bad-token \
    "${SMTP_OPTS[@]}" || exit 1
oa_db_query "UPDATE users SET email = 'root@example.com; ops@example.com' WHERE id = 1" >/dev/null
: >"$SMTP_OUT"
break_channel
wait_count 1 n_mails || diag "no e-mail arrived"
MAILF=$(mail_fields)
is "$(n_pushes)" 1 "refused: the pusher was asked first"
is "$(mail_field to)|$(mail_field rcpt_to)" "root@example.com, ops@example.com|root@example.com,ops@example.com" \
    "refused: ... then the message was mailed to both addresses"
like "$(cat "$OA_RUN"/logs/* "$OA_RUN/one-api.out" 2>/dev/null)" \
    'WARN.*Message Pusher did not take the notification.*invalid token.*trying e-mail' \
    "refused: the log says why"
oa_stop

# --- by default a login is never sent without TLS ------------------------------------------
saved_env=("${OA_ENV[@]}")
OA_ENV=("${STRICT_ENV[@]}")
run_start "${SMTP_OPTS[@]}" || exit 1
oa_db_query "UPDATE users SET email = 'root@example.com' WHERE id = 1" >/dev/null
: >"$SMTP_OUT"
break_channel
ok_if "strict: the mail is not sent to a server that offers no TLS" \
    wait_for 10 grep -q 'notification.*not delivered\|SMTP:' "$OA_RUN"/logs/*
is "$(n_mails)" 0 "strict: ... the mock received no message"
like "$(cat "$OA_RUN"/logs/* 2>/dev/null)" 'SMTP: .*([Ss][Ss][Ll]|TLS|STARTTLS)' \
    "strict: the log says TLS was required"
oa_stop
OA_ENV=("${saved_env[@]}")

# --- CGI: sent before the process ends --------------------------------------------------
oa_db_init
oa_set_option AutomaticDisableChannelEnabled true
oa_set_option MessagePusherAddress "$MOCK_URL/push/root"
mock_reset
oa_db_query "INSERT INTO channels (type, \"key\", status, name, base_url, models, \"group\", created_time, priority, weight) VALUES (1, 'k-cgi', 1, 'cgi', '$MOCK_URL', 'gpt-4o-mini', 'default', 0, 0, 0)" >/dev/null
ch=$(oa_db_query "SELECT MAX(id) FROM channels")
oa_db_query "INSERT INTO abilities (\"group\", model, channel_id, enabled, priority) VALUES ('default', 'gpt-4o-mini', $ch, $T, 0)" >/dev/null
mock_ctl POST /_mock/script "{\"key\":\"k-cgi\",\"responses\":[$R401]}"
printf '%s' "$CHAT" >"$OA_TMP/chat.json"
env "${OA_DB_ENV[@]}" "${OA_ENV[@]}" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
    REQUEST_METHOD=POST REQUEST_URI=/v1/chat/completions SCRIPT_NAME=/one-api.cgi \
    PATH_INFO=/v1/chat/completions QUERY_STRING= REMOTE_ADDR=127.0.0.1 \
    CONTENT_TYPE=application/json CONTENT_LENGTH="$(wc -c <"$OA_TMP/chat.json")" \
    HTTP_AUTHORIZATION="Bearer sk-$ROOT_KEY" timeout 30 "$ONEAPI_BIN" --log-dir "$OA_TMP" \
    <"$OA_TMP/chat.json" >"$OA_TMP/cgi.out" 2>>"$OA_TMP/cgi.err"
cgi_split "$OA_TMP/cgi.out"
isnt "$OA_STATUS" 200 "CGI: the chat through the refused key fails"
is "$(oa_db_query "SELECT status FROM channels WHERE id = $ch")" 3 "CGI: ... and disables the channel"
P=$(pushes | head -n 1)
contains "$(JSON_DOC=$P json_fields description)" "渠道「cgi」（#$ch）已被禁用。" \
    "CGI: the Message Pusher POST was made before the process ended"
done_testing
