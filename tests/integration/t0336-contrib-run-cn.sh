#!/usr/bin/env bash
# t0336: the README's quick start (contrib/run, nginx in front) serving a channel of every
# Chinese provider type, each created through /api and pointed at the mock, used as users do
# with the official OpenAI SDK: a chat, the same chat streamed with include_usage, and
# embeddings where the provider has them (a batch of two inputs, or one where the gateway
# takes one input only, as for Zhipu). Every call is billed once, the user's used quota
# is the sum of its log rows, and the token caches hold: one Baidu OAuth exchange and one
# Zhipu JWT for all of the calls. The per-type details are in t0330-t0335.
. "$(dirname "$0")/lib.sh"
oa_require_bin
have nginx || skip_all "nginx is not installed"
have node && have npm || skip_all "node and npm are needed"
sdk_check "the official OpenAI SDK" || bail_out "the official OpenAI SDK cannot be installed"

mock_start
ZP_ID=d2b1f0c2e7a44b8c9f0e1d2c3b4a5968 ZP_SECRET=QzN1aVhDd0RrS2pVbE5tTw
mock_ctl POST /_mock/zhipu "{\"id\":\"$ZP_ID\",\"secret\":\"$ZP_SECRET\"}"
# Spark's documented example credentials, which the mock knows from the start.
SPARK_KEY="1a2b3c4d|MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi|addd2272b6d8b7c8abdd79531420ca3b"
# Spark's HTTP API (Xunfei V2) takes "<APIKey>:<APISecret>" of the same credentials.
XF_PASSWORD="addd2272b6d8b7c8abdd79531420ca3b:MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi"

# type|name|key|chat model|embedding model ("" without)|model mapping ("" without)
CHANNELS=(
    "15|baidu|AK123|SK456|ERNIE-3.5-8K|Embedding-V1|"
    "47|baidu-v2|bce-v3/ALTAK-a/aaa|ernie-3.5-8k|embedding-v1|"
    "16|zhipu|$ZP_ID.$ZP_SECRET|glm-4|embedding-2|"
    "17|ali|sk-ali-a|qwen-plus|text-embedding-v1|"
    "49|bailian|sk-qw-a|qwen-max|text-embedding-v3|"
    "18|spark|$SPARK_KEY|Spark-Max||"
    "48|spark-http|$XF_PASSWORD|generalv3.5||"
    "23|hunyuan|1250000000|AKIDmockA|AKIDmockA-secret|hunyuan-lite|hunyuan-embedding|"
    "27|minimax|mm-key-a|abab6.5s-chat||"
    "40|doubao|ark-key-a|doubao-pro-32k|doubao-embedding|{\\\"doubao-pro-32k\\\":\\\"ep-20240608051426-tkxvl\\\"}"
)

run_start TIKTOKEN_CACHE_DIR="${TIKTOKEN_CACHE_DIR:-$OA_TMP/no-rank-files}"
db() { sqlite3 -batch -bail -cmd ".timeout 5000" "$RUN_CLONE/data/one-api.db" "$1"; }


# --- the channels, through the management API ------------------------------------------------
chats="" embs="" n_calls=0
for c in "${CHANNELS[@]}"; do
    # The keys of Baidu v1 and Hunyuan hold '|' themselves: the other fields are counted from
    # the end, past a sentinel that keeps read from dropping an empty last field.
    IFS='|' read -ra f <<<"$c|."
    n=${#f[@]}
    type=${f[0]} name=${f[1]} chat=${f[n - 4]} emb=${f[n - 3]} mapping=${f[n - 2]}
    key=$(IFS='|'; echo "${f[*]:2:n-6}")
    models=$chat${emb:+,$emb}
    base=$MOCK_URL
    [[ $type == 48 ]] && base=$MOCK_URL/spark-api-open # the mock's path for Spark's HTTP API
    run_admin POST /api/channel/ "{\"type\":$type,\"name\":\"$name\",\"key\":\"$key\",\"base_url\":\"$base\",\"models\":\"$models\",\"group\":\"default\"${mapping:+,\"model_mapping\":\"$mapping\"}}"
    is "$OA_STATUS|$(json_get success)" "200|true" "type $type ($name): the channel is created through /api"
    chats+="$chat " n_calls=$((n_calls + 2))
    [[ -n $emb ]] && embs+="$emb " n_calls=$((n_calls + 1))
done

run_admin POST /api/token/ '{"name":"sdk","unlimited_quota":true}'
key=$(json_get data.key)
ok_if "a key for the SDK" test -n "$key"

cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI from "openai";
const [base, key, chats, embs, singles] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }];
for (const model of chats.trim().split(" ")) {
  try {
    const r = await client.chat.completions.create({ model, messages });
    const answer = r.choices[0].message.content, u = r.usage;
    check(`${model}: chat answers in OpenAI's shape`, r.object === "chat.completion" && answer.length > 0 && r.choices[0].finish_reason === "stop", r);
    check(`${model}: chat usage`, u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens === u.prompt_tokens + u.completion_tokens, u);
    let text = "", usage = null, finish = null, chunks = 0;
    const s = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
    for await (const c of s) {
      chunks++;
      if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    check(`${model}: the stream says what the chat said`, text === answer && finish === "stop" && chunks > 1, { text, answer, finish, chunks });
    check(`${model}: the stream's usage chunk`, usage && usage.completion_tokens === u.completion_tokens && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens, usage);
  } catch (e) {
    out.push(`not ok ${model}: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
  }
}
for (const model of embs.trim().split(" ")) {
  try {
    const input = singles.split(" ").includes(model) ? ["hello world"] : ["hello world", "good morning to you"];
    const e = await client.embeddings.create({ model, input });
    check(`${model}: embeddings of ${input.length} input(s)`, e.data.length === input.length && e.data.every((d, i) => d.index === i && d.embedding.length > 0) && e.usage.prompt_tokens > 0, e.usage);
  } catch (e) {
    out.push(`not ok ${model}: exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
  }
}
console.log(out.join("\n"));
JS

used_before=$(db "SELECT used_quota FROM users WHERE id = 1")
mock_ctl DELETE /_mock/baidu
tap_relay "SDK" "$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$key" "$chats" "$embs" "embedding-2")"

# --- billing and the token caches -------------------------------------------------------------
# The log row and the user's counters are written together, shortly after each answer.
for _ in $(seq 100); do
    [[ $(db "SELECT COUNT(*) FROM logs WHERE type = 2") -ge $n_calls ]] && break
    sleep 0.1
done
is "$(db "SELECT COUNT(*) FROM logs WHERE type = 2")" "$n_calls" "one consume log row for each of the $n_calls calls"
is "$(db "SELECT COUNT(*) FROM logs WHERE type = 2 AND quota <= 0")" 0 "every call was charged"
is "$(($(db "SELECT used_quota FROM users WHERE id = 1") - used_before))" \
    "$(db "SELECT SUM(quota) FROM logs WHERE type = 2")" \
    "the user's used quota grew by exactly the sum of its log rows"
is "$(db "SELECT SUM(used_quota) FROM channels")" "$(db "SELECT SUM(quota) FROM logs WHERE type = 2")" \
    "the channels' used quota adds up to the log"
mock_ctl GET /_mock/baidu
is "$(JSON_DOC=$MOCK_BODY json_fields exchanges refused)" "1|0" "Baidu: one OAuth token exchange for all the calls"
mock_ctl GET /_mock/zhipu
is "$(JSON_DOC=$MOCK_BODY json_fields tokens refused)" "1|0" "Zhipu: one signed JWT for all the calls"

kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 60
is "$OA_EXIT" 0 "contrib/run stops cleanly on SIGTERM"
done_testing
