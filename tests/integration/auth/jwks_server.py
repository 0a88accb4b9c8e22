#!/usr/bin/env python3
"""Serves a JWK set the way Google publishes its keys, for the auth tests:

    jwks_server.py <file>      (HTTP on 127.0.0.1:$PORT)

GET /certs answers the file's current content (read on every request, so a test rotates
keys by rewriting it), GET /health 200. SIGTERM exits with status 0."""
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("jwks-server: " + (fmt % args) + "\n")

    def do_GET(self):
        if self.path == "/health":
            body, ctype = b"ok", "text/plain"
        elif self.path == "/certs":
            with open(PATH, "rb") as f:
                body, ctype = f.read(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


httpd = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
httpd.serve_forever()
sys.exit(0)
