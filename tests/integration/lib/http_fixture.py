#!/usr/bin/env python3
"""A small HTTP/1.1 server for the tests of lib/mc_http and of the harness.

It listens on 127.0.0.1:$PORT, keeps connections alive, counts the connections that
carried a request other than GET /stats (which reports the count), and offers the behaviours a client must cope with: slow and
never-answering handlers, big and chunked bodies, a body delimited by the connection's
close, "Connection: close", any status. SIGTERM stops it with exit status 0 (the harness
checks clean exits).
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATS = {"connections": 0, "requests": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.counted = False

    def log_message(self, fmt, *args):  # keep the test log readable
        sys.stderr.write("fixture: " + (fmt % args) + "\n")

    def send_body(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urlsplit(self.path)
        with LOCK:
            STATS["requests"] += 1
            # connections that carried something else than the test's own /stats questions
            if not self.counted and url.path != "/stats":
                self.counted = True
                STATS["connections"] += 1
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        n = int(q.get("n", "0"))
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if url.path == "/health":
            self.send_body(200, b'{"status":"ok"}')
        elif url.path == "/stats":
            with LOCK:
                self.send_body(200, json.dumps(STATS).encode())
        elif url.path == "/echo":
            out = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            self.send_body(200, json.dumps(out).encode(), extra={"X-Fixture": "echo"})
        elif url.path == "/slow":
            time.sleep(int(q.get("ms", "100")) / 1000.0)
            self.send_body(200, b'{"slow":true}')
        elif url.path == "/never":
            time.sleep(3600)
        elif url.path == "/big":
            self.send_body(200, pattern(n), "application/octet-stream")
        elif url.path == "/chunked":
            parts = max(1, int(q.get("parts", "4")))
            data = pattern(n)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = max(1, (len(data) + parts - 1) // parts)
            for i in range(0, len(data), step):
                piece = data[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/nolength":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(pattern(n))
            self.close_connection = True
        elif url.path == "/close":
            self.send_body(200, b'{"closing":true}', extra={"Connection": "close"})
            self.close_connection = True
        elif url.path == "/status":
            code = int(q.get("code", "200"))
            if code in (204, 304):
                self.send_response(code)
                self.end_headers()
            else:
                self.send_body(code, b'{"status":%d}' % code)
        else:
            self.send_body(404, b'{"error":{"code":"NOT_FOUND"}}')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients of the tests hang up on purpose (timeouts, cancels, caps).
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def pattern(n):
    """n bytes of a recognisable pattern: the byte at i is 'a' + i % 26."""
    return bytes(97 + i % 26 for i in range(n))


def main():
    port = int(os.environ.get("PORT", "0"))
    server = Server(("127.0.0.1", port), Handler)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("fixture: listening on %d\n" % server.server_address[1])
    sys.stderr.flush()
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
