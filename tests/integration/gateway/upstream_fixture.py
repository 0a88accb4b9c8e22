#!/usr/bin/env python3
"""A stand-in for the category and product services in the gateway's tests.

It answers the paths the schema binds (/api/categories/..., /api/products/...) with
canned data, so that a test can make a service answer exactly what it needs — any
status, a body that is not JSON, no answer at all, a dropped connection — and see
every request the gateway made: GET /_requests returns them (method, path, query,
headers, body) and forgets them.

Ids choose the behaviour of GET /api/categories/<id>:
  s<NNN>    that status with the error envelope (s500's message is a secret the gateway
            must not show)
  slow      no answer for 30 s
  notjson   200 with a body that is not JSON
  drop      the connection is closed without an answer
  other     200 with a category named "Category <id>"
GET /api/categories/batch?ids=a,b answers every id except those starting with "missing".
GET /api/products?limit=N answers N products whose categoryId is c<i % M> (M from the
`categories` parameter the test adds through sellerId=<M>).

Listens on 127.0.0.1:$PORT; SIGTERM stops it with exit status 0.
"""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LOCK = threading.Lock()
REQUESTS = []


def category(cid):
    return {
        "id": cid, "name": "Category " + cid, "slug": "category-" + cid.lower(), "description": None,
        "parentId": None, "image": None, "position": 0, "isActive": True,
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    }


def product(i, ncat):
    pid = "p%05d" % i
    return {
        "id": pid, "name": "Product %d" % i, "slug": "product-%d" % i, "description": "", "price": 1000 + i,
        "currency": "USD", "images": [], "categoryId": "c%03d" % (i % ncat), "sellerId": "s1", "tags": [],
        "stock": 5, "ratingAverage": 0, "ratingCount": 0, "isActive": True, "isFeatured": False,
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fixture: " + (fmt % args) + "\n")

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def envelope(self, status, code, message, details=None):
        e = {"code": code, "message": message}
        if details is not None:
            e["details"] = details
        self.send_json(status, {"error": e})

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length > 0 else ""
        path = url.path
        if path == "/_requests":
            with LOCK:
                out = list(REQUESTS)
                REQUESTS.clear()
            self.send_json(200, out)
            return
        if path in ("/health", "/ready"):
            self.send_json(200, {"status": "ok"})
            return
        with LOCK:
            REQUESTS.append({
                "method": self.command, "path": path, "query": url.query,
                "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
            })
        parts = path.strip("/").split("/")
        if path == "/api/categories/batch":
            ids = q.get("ids", [""])[0].split(",")
            self.send_json(200, {"items": [category(i) for i in ids if i and not i.startswith("missing")],
                                 "missing": [i for i in ids if i.startswith("missing")]})
        elif len(parts) == 3 and parts[:2] == ["api", "categories"]:
            cid = unquote(parts[2])
            if cid.startswith("s") and cid[1:].isdigit():
                status = int(cid[1:])
                codes = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                         409: "CONFLICT", 422: "UNPROCESSABLE", 500: "INTERNAL", 503: "UNAVAILABLE"}
                details = [{"field": "name", "message": "must be 1 to 100 characters"}] if status == 400 else None
                msg = "secret: the database password is hunter2" if status >= 500 else "fixture says %d" % status
                self.envelope(status, codes.get(status, "BAD_REQUEST"), msg, details)
            elif cid == "slow":
                time.sleep(30)
                self.send_json(200, category(cid))
            elif cid == "notjson":
                data = b"hello, not json"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif cid == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                self.send_json(200, category(cid))
        elif len(parts) == 4 and parts[:2] == ["api", "categories"] and parts[3] == "ancestors":
            self.send_json(200, {"items": [category("root1")]})
        elif path == "/api/categories" and self.command == "POST":
            obj = json.loads(body or "{}")
            c = category("new1")
            c.update({k: v for k, v in obj.items() if k in c})
            self.send_json(201, c)
        elif path == "/api/products":
            n = int(q.get("limit", ["20"])[0])
            ncat = int(q.get("sellerId", ["1000000"])[0]) if q.get("sellerId", [""])[0].isdigit() else 1000000
            items = [product(i, ncat) for i in range(n)]
            self.send_json(200, {"items": items, "cursors": ["k%d" % i for i in range(n)], "totalCount": n,
                                 "pageInfo": {"hasNextPage": False, "endCursor": ("k%d" % (n - 1)) if n else None}})
        else:
            self.envelope(404, "NOT_FOUND", "no such endpoint")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    # The gateway opens a connection per concurrent call: the default backlog of 5
    # would drop connections the way no real service does.
    request_queue_size = 512


def main():
    port = int(os.environ.get("PORT", "0"))
    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
