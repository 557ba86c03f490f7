#!/usr/bin/env python3
"""smtp_mock: a tiny SMTP server for the integration tests (administrator e-mails).

Usage: smtp_mock.py --out FILE [--host 127.0.0.1] [--port 0]

Prints "PORT <n>" on stdout once it listens. Speaks EHLO/HELO, AUTH PLAIN and LOGIN (any
credentials are accepted and recorded), MAIL, RCPT, DATA, RSET, NOOP and QUIT; it offers
no STARTTLS, so a client that only tries TLS goes on in the clear. Each accepted message is
appended to FILE as one JSON line:
  {"helo": ..., "auth_user": ..., "auth_password": ..., "mail_from": "a@b",
   "rcpt_to": ["c@d", ...], "data": "<the message, dot-stuffing undone>"}
SIGTERM or SIGINT ends it.
"""
import argparse
import base64
import json
import re
import signal
import socketserver
import sys
import threading

_lock = threading.Lock()


def _addr(arg):
    m = re.search(r"<([^>]*)>", arg)
    return m.group(1) if m else arg.split(":", 1)[-1].strip()


class Handler(socketserver.StreamRequestHandler):
    def reply(self, *lines):
        out = "".join("%s%s%s\r\n" % (code, "-" if i < len(lines) - 1 else " ", text)
                      for i, (code, text) in enumerate(lines))
        self.wfile.write(out.encode())
        self.wfile.flush()

    def read_line(self):
        raw = self.rfile.readline(1 << 20)
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        st = {"helo": None, "auth_user": None, "auth_password": None, "mail_from": None, "rcpt_to": []}
        self.reply((220, "mock ESMTP ready"))
        while True:
            line = self.read_line()
            if line is None:
                return
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                st["helo"] = arg
                self.reply((250, "mock"), (250, "AUTH PLAIN LOGIN"), (250, "8BITMIME"))
            elif verb == "HELO":
                st["helo"] = arg
                self.reply((250, "mock"))
            elif verb == "AUTH":
                if not self.auth(st, arg):
                    return
            elif verb == "MAIL":
                st["mail_from"] = _addr(arg)
                st["rcpt_to"] = []
                self.reply((250, "2.1.0 Ok"))
            elif verb == "RCPT":
                st["rcpt_to"].append(_addr(arg))
                self.reply((250, "2.1.5 Ok"))
            elif verb == "DATA":
                self.reply((354, "End data with <CR><LF>.<CR><LF>"))
                lines = []
                while True:
                    l = self.read_line()
                    if l is None:
                        return
                    if l == ".":
                        break
                    lines.append(l[1:] if l.startswith(".") else l)
                rec = dict(st, data="\r\n".join(lines) + "\r\n")
                with _lock, open(self.server.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                self.reply((250, "2.0.0 Ok: queued"))
            elif verb == "RSET":
                st["mail_from"], st["rcpt_to"] = None, []
                self.reply((250, "2.0.0 Ok"))
            elif verb == "NOOP":
                self.reply((250, "2.0.0 Ok"))
            elif verb == "QUIT":
                self.reply((221, "2.0.0 Bye"))
                return
            else:
                self.reply((502, "5.5.2 Command not recognized"))

    def auth(self, st, arg):
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        try:
            if mech == "PLAIN":
                if not initial:
                    self.reply((334, ""))
                    initial = self.read_line()
                    if initial is None:
                        return False
                parts = base64.b64decode(initial).split(b"\0")
                st["auth_user"], st["auth_password"] = parts[1].decode(), parts[2].decode()
            elif mech == "LOGIN":
                if initial:
                    user = initial
                else:
                    self.reply((334, "VXNlcm5hbWU6"))
                    user = self.read_line()
                self.reply((334, "UGFzc3dvcmQ6"))
                password = self.read_line()
                if user is None or password is None:
                    return False
                st["auth_user"] = base64.b64decode(user).decode()
                st["auth_password"] = base64.b64decode(password).decode()
            else:
                self.reply((504, "5.5.4 Unrecognized authentication type"))
                return True
        except (ValueError, IndexError):
            self.reply((501, "5.5.2 Cannot decode the response"))
            return True
        self.reply((235, "2.7.0 Authentication successful"))
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    srv = Server((a.host, a.port), Handler)
    srv.out = a.out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
