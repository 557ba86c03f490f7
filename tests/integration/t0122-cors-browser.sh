#!/usr/bin/env bash
# t0122: a page of another origin calls the gateway from a real browser (headless Chromium):
# fetch() with a key and a JSON body (so the browser sends a preflight first) reads the
# chat answer, and the same page cannot read an /api answer (no CORS there), so a site a
# user visits cannot read the console's data with the user's session.
. "$(dirname "$0")/lib.sh"
oa_require_bin
oa_require_webserver
chromium=$(command -v chromium || command -v chromium-browser || true)
[[ -n $chromium ]] || bail_out "chromium is needed (contrib/test installs Debian's package)"

relay_env
mock_start

# The page lives on its own origin: another port of 127.0.0.1.
page_dir="$OA_TMP/site"
mkdir -p "$page_dir"
"$OA_PY" -m http.server 0 --bind 127.0.0.1 --directory "$page_dir" >"$OA_TMP/site.out" 2>&1 &
_oa_pids+=($!)
site_port=""
for _ in $(seq 100); do
    site_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$OA_TMP/site.out" | head -n 1)
    [[ -n $site_port ]] && break
    sleep 0.05
done
[[ -n $site_port ]] || bail_out "the page server did not start: $(cat "$OA_TMP/site.out")"

# browse URL: the page's DOM once its scripts ran (virtual time lets the fetches finish).
browse() {
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --disable-quic --no-first-run \
        --user-data-dir="$OA_TMP/chromium" --virtual-time-budget=15000 --dump-dom "$1" \
        2>"$OA_TMP/chromium.err"
}

for ws in $(oa_webservers); do
    oa_start "$ws" || continue
    oa_add_channel "{\"type\":1,\"name\":\"mock\",\"key\":\"k-mock\",\"base_url\":\"$MOCK_URL\",\"models\":\"gpt-4o-mini\",\"group\":\"default\"}"
    cat >"$page_dir/index.html" <<HTML
<!doctype html><html><head><meta charset="utf-8"><title>t0122</title></head><body>
<pre id="chat">pending</pre><pre id="api">pending</pre>
<script>
const gw = "$OA_URL";
fetch(gw + "/v1/chat/completions", {
  method: "POST",
  headers: {"Authorization": "Bearer sk-$ROOT_KEY", "Content-Type": "application/json"},
  body: JSON.stringify({model: "gpt-4o-mini", messages: [{role: "user", content: "hi"}]})
}).then(r => r.json().then(j => {
  document.getElementById("chat").textContent = "status=" + r.status + " object=" + j.object;
})).catch(e => { document.getElementById("chat").textContent = "failed: " + e; });
fetch(gw + "/api/status").then(r => r.text()).then(t => {
  document.getElementById("api").textContent = "read: " + t.slice(0, 20);
}).catch(e => { document.getElementById("api").textContent = "blocked"; });
</script></body></html>
HTML
    dom=$(browse "http://127.0.0.1:$site_port/index.html")
    chat=$(sed -n 's:.*<pre id="chat">\([^<]*\)</pre>.*:\1:p' <<<"$dom")
    api=$(sed -n 's:.*<pre id="api">\([^<]*\)</pre>.*:\1:p' <<<"$dom")
    is "$chat" "status=200 object=chat.completion" \
        "$ws: a cross-origin browser fetch with a key (preflight and POST) reads the chat answer"
    [[ $chat == "status=200 object=chat.completion" ]] || diag "$dom$(tail -n 20 "$OA_TMP/chromium.err")"
    is "$api" blocked "$ws: ... while the same page cannot read an /api answer"
    oa_stop
done
done_testing
