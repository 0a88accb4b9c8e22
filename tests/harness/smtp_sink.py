#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd), with a small HTTP side to inspect it.

    smtp_sink.py <smtp-port>        (HTTP on 127.0.0.1:$PORT, as the harness starts services)

SMTP on 127.0.0.1:<smtp-port> accepts every message and keeps it in memory. HTTP:
    GET  /health            200 once both sides listen
    GET  /messages          every message received: [{from, to, subject, messageId, headers,
                            text (the decoded plain-text body), raw}]
    POST /refuse?code=N     answer RCPT TO with N (451: try later, 550: no such user; 0: accept)
SIGTERM stops both sides and exits with status 0 (the harness checks clean exits).
"""
import email
import email.policy
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

LOCK = threading.Lock()
MESSAGES = []
STATE = {"refuse": 0}


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = STATE["refuse"]
        if code:
            return "%d %s" % (code, "4.3.0 try again later" if code < 500 else "5.1.1 no such mailbox")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        with LOCK:
            MESSAGES.append({
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(msg["subject"] or ""),
                "messageId": str(msg["message-id"] or ""),
                "headers": {k: str(v) for k, v in msg.items()},
                "text": body.get_content() if body is not None else "",
                "raw": envelope.content.decode("utf-8", "replace"),
            })
        return "250 Message accepted for delivery"


class Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("smtp-sink: " + (fmt % args) + "\n")

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/health":
            self.reply(200, {"status": "ok"})
        elif path == "/messages":
            with LOCK:
                self.reply(200, list(MESSAGES))
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if url.path == "/refuse":
            STATE["refuse"] = int(parse_qs(url.query).get("code", ["0"])[0])
            self.reply(200, STATE)
        else:
            self.reply(404, {"error": "not found"})


def main():
    smtp_port = int(sys.argv[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    httpd = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Http)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    sys.stderr.write("smtp-sink: SMTP on %d, HTTP on %s\n" % (smtp_port, os.environ["PORT"]))
    httpd.serve_forever()
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
