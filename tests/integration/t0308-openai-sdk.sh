#!/usr/bin/env bash
# t0308: the official OpenAI client library (npm "openai") pointed at the gateway, as users do:
# base URL + key. Chat (plain, streamed with include_usage, tool calls), embeddings (float and
# base64), models list and retrieve, images, speech and transcription, through nginx ->
# one-api -> mock upstream; then OpenAI-format calls answered by Anthropic and Gemini channels.
# Skips without node and npm; fails when npm cannot install the package (cached per user).
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
have node && have npm || skip_all "node and npm are needed"

sdk_check "the official OpenAI SDK" || bail_out "the official OpenAI SDK cannot be installed"

relay_env
mock_start
cat >"$OA_TMP/sdk.mjs" <<'JS'
import OpenAI, { toFile } from "openai";
const [base, key] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-" + key, maxRetries: 0 });
const out = [];
const check = (name, cond, detail) => out.push(`${cond ? "ok" : "not ok"} ${name}${cond ? "" : " # " + JSON.stringify(detail)}`);
const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
async function run(model, prefix) {
  const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello" }] });
  check(`${prefix} chat`, r.choices[0].message.content === "Hello from mock" && r.usage.total_tokens > 0, r);
  let text = "", usage = null, chunks = 0;
  const s = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello" }] });
  for await (const c of s) { chunks++; if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content; if (c.usage) usage = c.usage; }
  check(`${prefix} stream with include_usage`, text === "Hello from mock" && usage && usage.completion_tokens > 0, { text, usage, chunks });
  const t = await client.chat.completions.create({ model, tools, messages: [{ role: "user", content: "[[mock tool=get_weather]] weather?" }] });
  const call = t.choices[0].message.tool_calls?.[0];
  check(`${prefix} tool call`, call?.function?.name === "get_weather" && JSON.parse(call.function.arguments).city === "Paris" && t.choices[0].finish_reason === "tool_calls", t.choices[0]);
  let name = "", args = "";
  const ts = await client.chat.completions.create({ model, tools, stream: true, messages: [{ role: "user", content: "[[mock tool=get_weather]] weather?" }] });
  for await (const c of ts) { const d = c.choices[0]?.delta?.tool_calls?.[0]; if (d?.function?.name) name = d.function.name; if (d?.function?.arguments) args += d.function.arguments; }
  check(`${prefix} streamed tool call`, name === "get_weather" && JSON.parse(args).city === "Paris", { name, args });
}
try {
  await run("gpt-4o-mini", "openai");
  const ef = await client.embeddings.create({ model: "text-embedding-3-small", input: "hello", encoding_format: "float" });
  check("embeddings float", Array.isArray(ef.data[0].embedding) && ef.data[0].embedding.length > 0, ef);
  const eb = await client.embeddings.create({ model: "text-embedding-3-small", input: ["a", "b"] });
  check("embeddings base64 (the SDK's default) decode to floats", eb.data.length === 2 && eb.data[0].embedding.length > 0 && typeof eb.data[0].embedding[0] === "number", eb);
  const list = await client.models.list();
  const ids = list.data.map((m) => m.id);
  check("models list", ids.includes("gpt-4o-mini") && ids.includes("claude-3-5-sonnet-20241022"), ids);
  const m = await client.models.retrieve("gpt-4o-mini");
  check("models retrieve", m.id === "gpt-4o-mini" && m.object === "model", m);
  const img = await client.images.generate({ model: "dall-e-3", prompt: "a cat", size: "1024x1024" });
  check("images", img.data.length === 1 && (img.data[0].url || img.data[0].b64_json), img);
  const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Hello" });
  const bytes = Buffer.from(await speech.arrayBuffer());
  check("audio speech", bytes.length > 0, bytes.length);
  const tr = await client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(Buffer.from("RIFF....WAVEfmt "), "a.wav") });
  check("audio transcription", typeof tr.text === "string" && tr.text.length > 0, tr);
  await run("claude-3-5-sonnet-20241022", "anthropic channel:");
  await run("gemini-1.5-flash", "gemini channel:");
} catch (e) {
  out.push(`not ok exception # ${String(e)} ${JSON.stringify(e?.error ?? "")}`);
}
console.log(out.join("\n"));
JS

for ws in $(oa_webservers); do
    oa_db_init
    OA_KEEP_DB=1 oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"openai\",\"key\":\"k-openai\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini,text-embedding-3-small,dall-e-3,tts-1,whisper-1\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":14,\"name\":\"claude\",\"key\":\"k-claude\",\"base_url\":\"$MOCK_URL\",\"models\":\"claude-3-5-sonnet-20241022\",\"group\":\"default\"}"
    oa_add_channel "{\"type\":24,\"name\":\"gemini\",\"key\":\"k-gemini\",\"base_url\":\"$MOCK_URL\",\"models\":\"gemini-1.5-flash\",\"group\":\"default\"}"
    res=$(sdk_run "$OA_TMP/sdk.mjs" "$OA_URL" "$ROOT_KEY")
    tap_relay "$ws" "$res"
    oa_stop
done
done_testing
