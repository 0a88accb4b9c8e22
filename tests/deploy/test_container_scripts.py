#!/usr/bin/env python3
"""The scripts the images carry, run for real:

- the health check (deploy/docker/healthcheck.sh) against real sockets: healthy only when
  GET /health on $PORT answers 200; unhealthy on another status, on a closed port, on a
  server that accepts but never answers (within its 2-second read limit), and without
  PORT. The servers record what the script sent, to check it is a well-formed request;
- the Compose secret generator (deploy/docker/init-secrets.sh): two 64-hex-character keys
  only their owner can read, different from each other, kept on a second run (so a
  restart does not log everyone out), and a refusal without a directory."""
import http.server
import os
import re
import socket
import stat
import subprocess
import tempfile
import threading

import mcdeploy as m

F = m.Failures("container-scripts")
SCRIPT = os.path.join(m.ROOT, "deploy/docker/healthcheck.sh")
seen = []


def server(status):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.command, self.path, self.request_version, self.headers.get("Host")))
            body = b'{"status":"ok"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the script hangs up once it has the status line

    s = Quiet(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def run(port):
    env = {"PATH": os.environ["PATH"]}
    if port is not None:
        env["PORT"] = str(port)
    return subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=30).returncode


ok, bad, down = server(200), server(503), server(500)
F.check(run(ok.server_address[1]) == 0, "a process answering 200 on /health is reported unhealthy")
F.check(seen and seen[-1][:3] == ("GET", "/health", "HTTP/1.1") and seen[-1][3],
        f"the request sent was {seen[-1] if seen else None}, expected GET /health HTTP/1.1 with a Host")
F.check(run(bad.server_address[1]) != 0, "a process answering 503 is reported healthy")
F.check(run(down.server_address[1]) != 0, "a process answering 500 is reported healthy")

# A port nothing listens on.
s = socket.socket()
s.bind(("127.0.0.1", 0))
closed = s.getsockname()[1]
s.close()
F.check(run(closed) != 0, "a closed port is reported healthy")

# A server that accepts and never answers: the script gives up on its own.
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(4)
F.check(run(silent.getsockname()[1]) != 0, "a process that never answers is reported healthy")
silent.close()

F.check(run(None) != 0, "without PORT the check passes")

# --- init-secrets.sh --------------------------------------------------------------------
INIT = os.path.join(m.ROOT, "deploy/docker/init-secrets.sh")
with tempfile.TemporaryDirectory() as d:
    r = subprocess.run(["bash", INIT, d], capture_output=True, text=True)
    F.check(r.returncode == 0, f"init-secrets failed: {r.stdout}{r.stderr}")
    keys = {}
    for name in ("jwt-secret", "internal-api-key"):
        p = os.path.join(d, name)
        if not F.check(os.path.exists(p), f"init-secrets did not write {name}"):
            continue
        keys[name] = open(p).read()
        F.check(re.fullmatch(r"[0-9a-f]{64}", keys[name]) is not None,
                f"{name} is {keys[name]!r}, expected 64 hex characters (32 random bytes, no newline)")
        F.check(stat.S_IMODE(os.stat(p).st_mode) == 0o600, f"{name} is readable by others")
    F.check(len(set(keys.values())) == 2, "the two keys are equal")
    r = subprocess.run(["bash", INIT, d], capture_output=True, text=True)
    F.check(r.returncode == 0 and all(open(os.path.join(d, n)).read() == k for n, k in keys.items()),
            "a second run changed the keys (every session would end on restart)")
    F.check(sorted(os.listdir(d)) == ["internal-api-key", "jwt-secret"], f"left behind {os.listdir(d)}")
r = subprocess.run(["bash", INIT], capture_output=True, text=True)
F.check(r.returncode != 0, "init-secrets without a directory succeeded")
F.finish()
