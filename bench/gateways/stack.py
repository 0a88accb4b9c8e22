"""The processes a comparison runs: FerretDB, Redis, the five services, our gateway, the
peer gateways and the raw h2o ceiling, on their own ports and data directory so that a
benchmark never collides with `scripts/run` or the tests.

Why a module of its own: the driver (compare.py) needs each process's pid (CPU and memory
are read from /proc/<pid>), must be able to stop and restart a gateway between scenarios,
and must stop everything it started however it ends — `scripts/run` is built for a human
at a terminal, not for that.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

SERVICES = ["category", "auth", "product", "coupon", "order"]  # dependency order


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def http_ok(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Proc:
    """One started process: its name, Popen and log file."""

    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Stack:
    """Starts processes, remembers them, stops them (newest first) on stop() or exit."""

    def __init__(self, root, build, data, base_port, service_workers, log=print):
        self.root, self.build, self.data = root, build, data
        self.log = log
        self.procs = []
        self.ports = {
            "gateway": base_port, "auth": base_port + 1, "product": base_port + 2, "order": base_port + 3,
            "category": base_port + 4, "coupon": base_port + 5, "mongodb": base_port + 6, "redis": base_port + 7,
            "apollo": base_port + 10, "jit": base_port + 11, "hive": base_port + 12, "ceiling": base_port + 13,
        }
        self.service_workers = service_workers
        self.deduplicate = "off"
        self.env = None

    # --- process management -----------------------------------------------------------------

    def start(self, name, argv, env=None, cwd=None):
        os.makedirs(os.path.join(self.data, "logs"), exist_ok=True)
        log = os.path.join(self.data, "logs", name + ".log")
        out = open(log, "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env or self.env,
                             cwd=cwd or self.root, start_new_session=True)
        out.close()
        proc = Proc(name, p, log)
        self.procs.append(proc)
        return proc

    def wait_until(self, proc, check, what, seconds=60.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited while {what}; last lines of {proc.log}:\n{proc.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name}: {what} did not happen within {seconds:.0f} s; see {proc.log}")

    def stop_proc(self, proc, timeout=15.0):
        if proc.alive():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.popen.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop(self):
        for proc in reversed(list(self.procs)):
            self.stop_proc(proc)

    def need_ports(self, names):
        busy = [f"{n} {self.ports[n]}" for n in names if not port_free(self.ports[n])]
        if busy:
            raise RuntimeError("ports in use: " + ", ".join(busy) + " (set BENCH_PORT_BASE to another range)")

    # --- the stack ----------------------------------------------------------------------------

    def secret_file(self, name):
        path = os.path.join(self.data, name)
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            with open(path, "w") as f:
                f.write(secrets.token_hex(32))
            os.chmod(path, 0o600)
        return path

    def base_env(self):
        env = dict(os.environ)
        for k in list(env):  # nothing of the caller's Mercato settings leaks into the stack
            if k.endswith("_URL") or k.startswith(("GATEWAY_", "JWT_", "MONGODB_", "REDIS_")) or k in (
                    "PORT", "WORKERS", "INTERNAL_API_KEY", "INTERNAL_API_KEY_FILE", "LOG_LEVEL", "MERCATO_ENV"):
                del env[k]
        p = self.ports
        env.update({
            "MONGODB_URI": f"mongodb://127.0.0.1:{p['mongodb']}/?socketTimeoutMS=60000",
            "REDIS_URL": f"redis://127.0.0.1:{p['redis']}/0",
            "JWT_SECRET_FILE": self.secret_file("jwt-secret"),
            "INTERNAL_API_KEY_FILE": self.secret_file("internal-key"),
            # Access logs off everywhere: the peers write none either, and the services'
            # logs would cost every gateway the same.
            "LOG_LEVEL": "warn",
        })
        # FerretDB reads a whole collection for the product service's in-memory index
        # (thousands of products) in one command, which takes longer than the default
        # 5-second socket timeout when the machine is busy.
        for s in SERVICES:
            env[s.upper() + "_URL"] = f"http://127.0.0.1:{p[s]}"
        return env

    def start_stores(self, fresh):
        if fresh and os.path.isdir(self.data):
            shutil.rmtree(self.data)
        for d in ("ferretdb", "redis", "logs"):
            os.makedirs(os.path.join(self.data, d), exist_ok=True)
        self.env = self.base_env()
        p = self.ports
        ferretdb = shutil.which("ferretdb", path=os.path.join(os.environ.get("MERCATO_TOOLS") or os.path.join(self.root, ".tools"), "bin") + os.pathsep + os.environ["PATH"])
        if ferretdb is None:
            raise RuntimeError("no ferretdb: run scripts/setup")
        fd = self.start("ferretdb", [ferretdb, "--handler=sqlite", f"--sqlite-url=file:{self.data}/ferretdb/",
                                     f"--listen-addr=127.0.0.1:{p['mongodb']}", f"--state-dir={self.data}/ferretdb",
                                     "--telemetry=disable", "--debug-addr=-", "--log-level=error"])
        self.wait_until(fd, lambda: not port_free(p["mongodb"]), "listening")
        rd = self.start("redis", ["redis-server", "--port", str(p["redis"]), "--bind", "127.0.0.1", "--dir",
                                  os.path.join(self.data, "redis"), "--save", "", "--appendonly", "no",
                                  "--daemonize", "no"])
        self.wait_until(rd, lambda: subprocess.run(["redis-cli", "-p", str(p["redis"]), "ping"],
                                                   capture_output=True).returncode == 0, "answering PING")

    def start_service(self, name, workers=None, extra_env=None, argv_prefix=()):
        env = dict(self.env)
        env["PORT"] = str(self.ports[name])
        env["WORKERS"] = str(workers or self.service_workers)
        if name == "gateway":
            env["GATEWAY_SCHEMA_DIR"] = os.path.join(self.root, "schema")
            env["GATEWAY_PLAYGROUND"] = "off"
            # No rate limit (the peers have none; wrk is one client at thousands per second).
            env["GATEWAY_RATE_LIMIT"] = "off"
            # Identical queries in flight share one execution when on: wrk sends one query
            # from every connection, that feature's best case, which the peers lack. Off
            # unless asked (BENCH_DEDUPLICATE=on), so every request does its own work.
            env["GATEWAY_DEDUPLICATE"] = self.deduplicate
        env.update(extra_env or {})
        binary = os.path.join(self.build, "bin", "mercato-" + name)
        proc = self.start(name, list(argv_prefix) + [binary], env)
        self.wait_until(proc, lambda: http_ok(f"http://127.0.0.1:{self.ports[name]}/ready"), "becoming ready", 120)
        return proc

    def start_services(self):
        for s in SERVICES:
            self.start_service(s)

    def seed(self, products, python):
        """Seeds the demo data with a catalog of `products` products, once per data
        directory: a marker file records a complete seed of that size, and a later run on
        the same data skips the seed (checking each of thousands of products again costs
        minutes of FerretDB time for nothing)."""
        marker = os.path.join(self.data, f"seeded-{products}")
        if os.path.exists(marker):
            self.log(f"seed: already done for {products} products ({marker})")
            return
        env = dict(self.env)
        env["MERCATO_SEED_PRODUCTS"] = str(products)
        t = time.monotonic()
        # The product service's first list page loads its in-memory index of the whole
        # catalog (tens of seconds for thousands of products on a busy machine), longer
        # than the seed's per-call timeout: let it happen here first.
        get_json(self.url("product", "/api/products?limit=1"), timeout=600)
        r = subprocess.run([python, os.path.join(self.root, "scripts", "seed.py")], env=env, cwd=self.root,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{r.stdout}\n{r.stderr}")
        with open(marker, "w") as f:
            f.write(r.stdout)
        self.log(f"seeded in {time.monotonic() - t:.0f} s: " + "; ".join(l for l in r.stdout.splitlines() if l))

    def url(self, name, path=""):
        return f"http://127.0.0.1:{self.ports[name]}{path}"


def post_json(url, body, headers=None, timeout=30.0):
    """POSTs JSON; returns (status, parsed answer or None, raw bytes)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw), raw
    except ValueError:
        return status, None, raw


def get_json(url, headers=None, timeout=30.0):
    req = urllib.request.Request(url)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw), raw
    except ValueError:
        return status, None, raw


if __name__ == "__main__":
    sys.exit("stack.py is a module of bench/gateways/compare.py")
