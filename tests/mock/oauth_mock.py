#!/usr/bin/env python3
"""oauth_mock: the services sign-up and sign-in call, for the integration tests.

Usage: oauth_mock.py --out FILE --secret S [--host 127.0.0.1] [--port 0]

Prints "PORT <n>" on stdout once it listens. Every request is appended to FILE as one JSON
line {"method", "path", "headers": {...}, "body"}. The endpoints:

  POST /turnstile        form secret/response/remoteip: success only when secret is S and
                         response is "good-token"
  POST /github/token     JSON {client_id, client_secret, code}: {"access_token": "at-<code>"}
                         when client_secret is S, else {"error": "bad_verification_code"}
  GET  /github/user      Bearer at-<code>: {"login": <code>, "name": "Name <code>",
                         "email": "<code>@gh.example"}; code "nologin" gives an empty login
  POST /lark/token       JSON, also grant_type and redirect_uri: {"code":0,"access_token":...}
  GET  /lark/user        {"name": "Lark <code>", "open_id": "ou_<code>"}
  POST /oidc/token       as Lark
  GET  /oidc/userinfo    {"sub": "sub-<code>", "name": ..., "email": ...,
                         "preferred_username": <what follows "pref-" in the code, or "">}
  GET  /api/wechat/user?code=C   Authorization must be S: {"success":true,"data":"wx-<C>"};
                         code "expired" gives {"success":false,"message":"验证码已过期"}

A bad or missing access token answers 401 {"message":"Bad credentials"}.
SIGTERM or SIGINT ends it.
"""
import argparse
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, obj, status=200):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body):
        rec = {"method": self.command, "path": self.path,
               "headers": {k: v for k, v in self.headers.items()}, "body": body}
        with _lock, open(self.server.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def bearer_code(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer at-"):
            return None
        return auth[len("Bearer at-"):]

    def do_GET(self):
        self.record("")
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/api/wechat/user":
            if self.headers.get("Authorization") != self.server.secret:
                return self.send_json({"success": False, "message": "无权访问"})
            code = q.get("code", [""])[0]
            if code == "expired":
                return self.send_json({"success": False, "message": "验证码已过期"})
            return self.send_json({"success": True, "message": "", "data": "wx-" + code})
        code = self.bearer_code()
        if code is None:
            return self.send_json({"message": "Bad credentials"}, 401)
        if url.path == "/github/user":
            login = "" if code == "nologin" else code
            return self.send_json({"login": login, "name": "Name " + code,
                                   "email": code + "@gh.example"})
        if url.path == "/lark/user":
            return self.send_json({"name": "Lark " + code, "open_id": "ou_" + code})
        if url.path == "/oidc/userinfo":
            pref = code[5:] if code.startswith("pref-") else ""
            return self.send_json({"sub": "sub-" + code, "name": "OIDC " + code,
                                   "email": code + "@oidc.example", "preferred_username": pref})
        self.send_json({"message": "not found"}, 404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        self.record(raw)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/turnstile":
            f = urllib.parse.parse_qs(raw)
            ok = (f.get("secret", [""])[0] == self.server.secret and
                  f.get("response", [""])[0] == "good-token")
            return self.send_json({"success": ok})
        try:
            b = json.loads(raw)
        except ValueError:
            return self.send_json({"error": "invalid_request"}, 400)
        if b.get("client_secret") != self.server.secret or not b.get("code"):
            return self.send_json({"error": "bad_verification_code"})
        if path == "/github/token":
            return self.send_json({"access_token": "at-" + b["code"], "token_type": "bearer"})
        if path in ("/lark/token", "/oidc/token"):
            if b.get("grant_type") != "authorization_code":
                return self.send_json({"error": "unsupported_grant_type"}, 400)
            return self.send_json({"code": 0, "access_token": "at-" + b["code"],
                                   "token_type": "Bearer"})
        self.send_json({"message": "not found"}, 404)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--secret", required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    srv.out, srv.secret = a.out, a.secret
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
