#!/usr/bin/env python3
"""Mercato's gateway side by side with the gateways people run instead, on one machine in
one run: bench/run builds everything in Release mode and calls this; the results go to
bench/results.json, and report.py turns them into bench/RESULTS.md and the charts.

What runs (stack.py): FerretDB and Redis, the five services with a seeded catalog of
BENCH_PRODUCTS products, and, against those same services and data,
  mercato   bin/mercato-gateway (WORKERS=BENCH_GATEWAY_WORKERS, default 1)
  apollo    Apollo Server 4 with DataLoader and keep-alive pools (peers/apollo.js)
  jit       the same resolvers on graphql-jit (peers/jit.js)
  hive      Hive Gateway serving a supergraph GraphQL Mesh composed from the services'
            OpenAPI documents (peers/hive/), when it can be installed and composed
and the ceilings: `ceiling`, a raw h2o server (bench_hello) answering the exact bytes of
our gateway's answer; `rest:*`, each upstream call a scenario needs, sent directly to
its service.

Scenarios: Q1 (50 products with category and seller: the N+1 case), Q2 (a flat page of
50), Q3 ({ __typename }), Q4 (one cached product by id) — each measured at saturation
and at a fixed lower rate —, M1 (checkout of 1 and 10 lines through the gateway, and no
oversell), S1 (WebSocket subscribers; needs the gateway's subscriptions) and a
perf profile of our gateway under Q1.

Settings (environment; defaults in brackets):
  BENCH_DURATION [5]          seconds per measurement
  BENCH_WARMUP [4]            seconds of warm-up per target and scenario, not measured (V8
                              needs a few seconds to compile the Node peers' hot paths)
  BENCH_RUNS [3]              measurements per gateway and scenario (median, min–max)
  BENCH_CONNECTIONS [64]      wrk connections at saturation
  BENCH_LATENCY_CONNECTIONS [16]  wrk connections at the fixed rate (more for high rates)
  BENCH_RATE_FRACTION [0.5]   the fixed rate: this fraction of the slowest gateway's
                              median saturation rate in the same scenario
  BENCH_THREADS [2]           wrk threads
  BENCH_PRODUCTS [5000]       catalog size
  BENCH_PORT_BASE [4400]      ports: gateway +0, services +1…+5, FerretDB +6, Redis +7,
                              peers +10…+12, ceiling +13
  BENCH_DATA [<build>/bench-data]  FerretDB's and Redis' data, logs; the catalog is kept
                              between runs (seeded once: a marker file)
  BENCH_FRESH [0]             1: start from an empty database
  BENCH_SERVICE_WORKERS [1]   WORKERS of each service
  BENCH_GATEWAY_WORKERS [1]   WORKERS of our gateway
  BENCH_PEERS [apollo,jit,hive]
  BENCH_SCENARIOS [Q1,Q2,Q3,Q4,M1,S1,profile]
  BENCH_M1_CLIENTS [4]        concurrent checkouts (10-line orders: a quarter, at least 1)
  BENCH_S1_CLIENTS [10000], BENCH_S1_RATE [1000], BENCH_S1_SECONDS [20]
  BENCH_DEDUPLICATE [off]     our gateway's GATEWAY_DEDUPLICATE (identical queries in flight
                              share one execution: wrk's identical requests are its best case)
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import math
import os
import platform
import re
import resource
import secrets
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import loadgen  # noqa: E402
import procstat  # noqa: E402
import stack as stackmod  # noqa: E402

GATEWAYS = ["mercato", "apollo", "jit", "hive"]


def env_num(value, default, kind=int):
    """A setting's value read from the environment (callers pass os.environ.get("NAME")
    with the name written out, so the configuration reference test sees every read)."""
    return kind(value) if value not in (None, "") else default


def env_list(value, default):
    return [x.strip() for x in (value if value not in (None, "") else default).split(",") if x.strip()]


class Settings:
    def __init__(self, build):
        self.duration = env_num(os.environ.get("BENCH_DURATION"), 5)
        self.warmup = env_num(os.environ.get("BENCH_WARMUP"), 4)
        self.runs = env_num(os.environ.get("BENCH_RUNS"), 3)
        self.connections = env_num(os.environ.get("BENCH_CONNECTIONS"), 64)
        self.latency_connections = env_num(os.environ.get("BENCH_LATENCY_CONNECTIONS"), 16)
        self.rate_fraction = env_num(os.environ.get("BENCH_RATE_FRACTION"), 0.5, float)
        self.threads = env_num(os.environ.get("BENCH_THREADS"), 2)
        self.products = env_num(os.environ.get("BENCH_PRODUCTS"), 5000)
        self.port_base = env_num(os.environ.get("BENCH_PORT_BASE"), 4400)
        self.data = os.environ.get("BENCH_DATA") or os.path.join(build, "bench-data")
        self.fresh = os.environ.get("BENCH_FRESH") == "1"
        self.service_workers = env_num(os.environ.get("BENCH_SERVICE_WORKERS"), 1)
        self.gateway_workers = env_num(os.environ.get("BENCH_GATEWAY_WORKERS"), 1)
        self.peers = env_list(os.environ.get("BENCH_PEERS"), "apollo,jit,hive")
        self.scenarios = env_list(os.environ.get("BENCH_SCENARIOS"), "Q1,Q2,Q3,Q4,M1,S1,profile")
        self.m1_clients = env_num(os.environ.get("BENCH_M1_CLIENTS"), 4)
        self.s1_clients = env_num(os.environ.get("BENCH_S1_CLIENTS"), 10000)
        self.s1_rate = env_num(os.environ.get("BENCH_S1_RATE"), 1000)
        self.s1_seconds = env_num(os.environ.get("BENCH_S1_SECONDS"), 20)
        self.deduplicate = os.environ.get("BENCH_DEDUPLICATE") or "off"

    def as_dict(self):
        """The settings as recorded in results.json: the data directory relative to the
        working directory, so the committed file names no place of one machine."""
        d = dict(self.__dict__)
        d["data"] = os.path.relpath(d["data"])
        return d


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the machine ------------------------------------------------------------------------------


def sh(argv, **kw):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine(build):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    cache = {}
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"(CMAKE_BUILD_TYPE|CMAKE_C_COMPILER):\w+=(.*)", line)
                if m:
                    cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    pkgs = {}
    for p in ("libh2o-dev", "libuv1-dev", "libjansson-dev", "wrk", "redis-server", "nodejs"):
        pkgs[p] = sh(["dpkg-query", "-W", "-f=${Version}", p])
    node_pkgs = {}
    for p in ("@apollo/server", "graphql", "graphql-jit", "dataloader", "undici", "@graphql-hive/gateway",
              "@graphql-mesh/compose-cli", "@omnigraph/openapi"):
        try:
            with open(os.path.join(HERE, "node_modules", p, "package.json")) as f:
                node_pkgs[p] = json.load(f)["version"]
        except OSError:
            pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1048576, 1),
        "kernel": platform.release(), "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "virtualization": sh(["systemd-detect-virt"]) or "unknown",
        "gcc": sh(["gcc", "-dumpfullversion"]), "node": sh(["node", "--version"]),
        "build_type": cache.get("CMAKE_BUILD_TYPE", "?"), "packages": pkgs, "node_packages": node_pkgs,
        "commit": sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        # local changes other than this command's own outputs (the last run's report)
        "dirty": bool(sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".",
                          ":!bench/RESULTS.md", ":!bench/results.json", ":!bench/charts"])),
    }


# --- tokens ------------------------------------------------------------------------------------


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret, sub, role, ttl=7200):
    """An access token signed like the auth service's (HS256, the stack's secret)."""
    now = int(time.time())
    claims = {"sub": sub, "role": role, "typ": "access", "iss": "mercato-auth", "aud": "mercato",
              "iat": now, "nbf": now, "exp": now + ttl, "jti": secrets.token_hex(16)}
    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


# --- the comparison ------------------------------------------------------------------------------


def query_text(name):
    with open(os.path.join(HERE, "queries", name + ".graphql")) as f:
        lines = [l for l in f.read().splitlines() if not l.lstrip().startswith("#")]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()


def median(xs):
    return statistics.median(xs) if xs else None


class Bench:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.s = Settings(self.build)
        self.out = args.out
        self.stack = stackmod.Stack(ROOT, self.build, self.s.data, self.s.port_base, self.s.service_workers, log)
        self.stack.deduplicate = self.s.deduplicate
        self.work = tempfile.mkdtemp(prefix="mercato-bench-")
        self.procs = {}  # target name -> Proc of the process under test
        self.results = {"settings": self.s.as_dict(), "machine": machine(self.build), "scenarios": {},
                        "notes": {}, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                        "load_before": loadavg()}
        self.queries = {}  # scenario -> {target: request body bytes}
        self.answers = {}  # scenario -> our gateway's answer bytes
        self.refresh_before = False  # refresh_pages() before each measurement
        self.log = log
        self.checkout_products = None  # checkout.prepare()'s products, when M1 runs

    def token(self, sub, role):
        return token(self.secret, sub, role)

    # --- start-up ------------------------------------------------------------------------------

    def start(self):
        st = self.stack
        st.need_ports(["gateway", "auth", "product", "order", "category", "coupon", "mongodb", "redis", "ceiling"]
                      + [p for p in self.s.peers if p in st.ports])
        log(f"starting FerretDB and Redis (data in {self.s.data})")
        st.start_stores(self.s.fresh)
        log(f"starting the services (WORKERS={self.s.service_workers})")
        st.start_services()
        log(f"seeding (catalog of {self.s.products} products; kept between runs)")
        st.seed(self.s.products, sys.executable)
        log(f"starting our gateway (WORKERS={self.s.gateway_workers})")
        # WebSocket connections allowed: S1's subscribers and a margin.
        self.procs["mercato"] = st.start_service("gateway", workers=self.s.gateway_workers,
                                                 extra_env={"GATEWAY_WS_MAX_CONNECTIONS": str(max(20000, self.s.s1_clients + 100))})
        self.secret = open(st.env["JWT_SECRET_FILE"], "rb").read().strip()
        if "M1" in self.s.scenarios:
            import checkout
            log("M1: creating (or finding) the products the checkouts order")
            self.checkout_products = checkout.prepare(self)
        for peer in list(self.s.peers):
            try:
                self.procs[peer] = self.start_peer(peer)
                log(f"started {peer}")
            except Exception as e:  # a peer that cannot start is reported, not fatal
                log(f"{peer}: not run: {e}")
                self.results["notes"][peer] = f"not run: {e}"
                self.s.peers.remove(peer)

    def peer_env(self, port):
        env = dict(self.stack.env)
        env.update({"PORT": str(port), "NODE_ENV": "production", "GATEWAY_SCHEMA_DIR": os.path.join(ROOT, "schema")})
        return env

    def start_peer(self, peer):
        st = self.stack
        port = st.ports[peer]
        if peer in ("apollo", "jit"):
            proc = st.start(peer, ["node", os.path.join(HERE, "peers", peer + ".js")], self.peer_env(port))
        elif peer == "hive":
            import hive
            proc = hive.start(self, port)
        else:
            raise RuntimeError(f"unknown peer {peer}")
        st.wait_until(proc, lambda: stackmod.port_free(port) is False, "listening", 120)
        return proc

    def gateway_url(self, target):
        return self.stack.url("gateway" if target == "mercato" else target, "/graphql")

    # --- what each scenario sends, and checking that every gateway answers the same ----------

    def prepare_queries(self):
        ok, page, _ = stackmod.get_json(self.stack.url("product", "/api/products?limit=1&sort=newest"), timeout=600)
        self.q4_id = page["items"][0]["id"]
        bodies = {
            "Q1": {"query": query_text("Q1")},
            "Q2": {"query": query_text("Q2")},
            "Q3": {"query": query_text("Q3")},
            "Q4": {"query": query_text("Q4"), "variables": {"id": self.q4_id}},
        }
        import hive
        for q, body in bodies.items():
            self.queries[q] = {}
            for target in ["mercato"] + self.s.peers:
                b = hive.request_body(q, body) if target == "hive" else body
                self.queries[q][target] = json.dumps(b, separators=(",", ":")).encode()

    def check_answers(self, scenario):
        """Every gateway must answer the scenario with the same data as ours, without
        errors; a gateway that does not is left out of the scenario (and the report says
        why)."""
        import hive
        status, ours, raw = stackmod.post_json(self.gateway_url("mercato"), json.loads(self.queries[scenario]["mercato"]))
        if status != 200 or ours is None or ours.get("errors") or not ours.get("data"):
            raise RuntimeError(f"{scenario}: our gateway answered {status}: {raw[:500]!r}")
        self.answers[scenario] = raw
        ok_targets = ["mercato"]
        for peer in self.s.peers:
            status, theirs, raw2 = stackmod.post_json(self.gateway_url(peer), json.loads(self.queries[scenario][peer]))
            data = theirs.get("data") if isinstance(theirs, dict) else None
            expected = ours["data"]
            if peer == "hive" and data is not None:
                expected = hive.comparable(scenario, expected)
                try:
                    data = hive.normalise(scenario, data)
                except (KeyError, TypeError) as e:
                    data = {"unexpected shape": repr(e)}
            if status != 200 or not isinstance(theirs, dict) or theirs.get("errors"):
                why = f"answered {status} {raw2[:300]!r}"
            elif data != expected:
                why = "answered other data: " + first_difference(expected, data)
            else:
                ok_targets.append(peer)
                continue
            log(f"{scenario}: {peer} left out: {why}")
            self.results["notes"][f"{scenario}/{peer}"] = why
        return ok_targets

    # --- measuring ------------------------------------------------------------------------------

    def pids(self, target):
        pids = {"target": self.procs[target].pid} if target in self.procs else {}
        pids.update(self.pids_of_stack())
        return pids

    def pids_of_stack(self):
        return {p.name: p.pid for p in self.stack.procs if p.name in stackmod.SERVICES or p.name in ("ferretdb", "redis")}

    def refresh_pages(self, seconds):
        """Keeps the product service's periodic catalog reload out of the measured window.

        A cached list page lives 2 minutes in Redis; the miss after that reloads the
        service's in-memory index of the whole catalog when it is older than 2 minutes
        too — seconds for thousands of products on FerretDB, during which every page
        request waits. That would land on whichever gateway happened to be measured, so
        before a measurement of a list scenario, a page that would expire during it is
        dropped and asked for once directly (the reload then happens here)."""
        cli = ["redis-cli", "-p", str(self.stack.ports["redis"])]
        keys = sh(cli + ["--scan", "--pattern", "products:page:*"]).split()
        stale = [k for k in keys if int(sh(cli + ["ttl", k]) or -2) < seconds + 5]
        if stale:
            sh(cli + ["del"] + stale)
        # Always asked: a page still in Redis is stale all the same when the catalog
        # changed since (its version moved), and then this is the request that waits.
        stackmod.get_json(self.stack.url("product", "/api/products?sort=newest&limit=50"), timeout=600)

    def run_wrk(self, target, url, body, duration, connections, pace_ms=0, method="POST", header=None):
        if self.refresh_before:
            self.refresh_pages(duration)
        env = {"BENCH_METHOD": method, "BENCH_PACE_MS": str(pace_ms)}
        if body is not None:
            path = os.path.join(self.work, hashlib.sha1(body).hexdigest() + ".json")
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(body)
            env["BENCH_BODY_FILE"] = path
        if header:
            env["BENCH_HEADER"] = header
        result, usage = loadgen.measured(self.pids(target), lambda: loadgen.wrk(
            url, duration, connections, self.s.threads, env=env))
        result["usage"] = usage
        return result

    def targets_of(self, scenario, gateways):
        """(name, url, body, method) of everything measured in a scenario: the ceiling, the
        gateways, the direct REST calls."""
        out = [("ceiling", self.stack.url("ceiling", "/" + scenario), self.queries[scenario]["mercato"], "POST")]
        for g in gateways:
            out.append((g, self.gateway_url(g), self.queries[scenario][g], "POST"))
        calls = self.rest_calls(scenario)
        for name, path in calls:
            service = name.split(":")[1]
            out.append((name, self.stack.url(service, path), None, "GET"))
        if len(calls) > 1:
            out.append(("rest:all", None, None, "GET"))
        return out

    def run_rest_all(self, scenario, duration, connections):
        """The scenario's upstream calls all at once, as a gateway makes them: one wrk per
        call, at the same time, the connections shared out. A request needs one answer of
        each, so the set's rate is the slowest call's rate under that shared load."""
        import threading
        calls = self.rest_calls(scenario)
        per = max(1, connections // len(calls))
        if self.refresh_before:
            self.refresh_pages(duration)
        outs = [None] * len(calls)

        def one(i, name, path):
            outs[i] = loadgen.wrk(self.stack.url(name.split(":")[1], path), duration, per, 1,
                                  env={"BENCH_METHOD": "GET", "BENCH_PACE_MS": "0"})

        def run_all():
            ts = [threading.Thread(target=one, args=(i, n, p)) for i, (n, p) in enumerate(calls)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if any(o is None for o in outs):
                raise loadgen.WrkError("a wrk of the concurrent REST calls failed")
        _, usage = loadgen.measured(self.pids_of_stack(), run_all)
        slowest = min(outs, key=lambda o: o["rps"])
        return {"rps": slowest["rps"], "requests": slowest["requests"], "seconds": slowest["seconds"],
                "p50_us": max(o["p50_us"] for o in outs), "p99_us": max(o["p99_us"] for o in outs),
                "errors": sum(o["errors"] for o in outs), "usage": usage,
                "calls": {n: {"rps": o["rps"], "p99_us": o["p99_us"]} for (n, _), o in zip(calls, outs)}}

    def rest_calls(self, scenario):
        """The upstream calls our gateway makes for the scenario, as (rest:<service>, path).
        Read from the answer itself so that they are exactly the ones a run needs."""
        if scenario in ("Q1", "Q2"):
            calls = [("rest:product", "/api/products?sort=newest&limit=50")]
            if scenario == "Q1":
                nodes = json.loads(self.answers["Q1"])["data"]["products"]["nodes"]
                cats = list(dict.fromkeys(n["category"]["id"] for n in nodes))
                sellers = list(dict.fromkeys(n["seller"]["id"] for n in nodes))
                calls.append(("rest:category", "/api/categories/batch?ids=" + ",".join(cats)))
                calls.append(("rest:auth", "/api/users/batch?ids=" + ",".join(sellers)))
            return calls
        if scenario == "Q4":
            return [("rest:product", f"/api/products/{self.q4_id}")]
        return []

    def http_scenario(self, scenario):
        s = self.s
        if scenario in ("Q1", "Q2"):
            # The product service's first page after a while reloads its catalog index
            # from FerretDB, which can outlast a gateway's upstream timeout: do it here.
            self.refresh_pages(s.duration)
        for attempt in range(3):
            try:
                gateways = self.check_answers(scenario)
                break
            except RuntimeError as e:  # our gateway failed: an upstream still warming up?
                if attempt == 2:
                    raise
                log(f"{e}; again in 10 s")
                time.sleep(10)
        self.restart_ceiling()
        targets = self.targets_of(scenario, gateways)
        res = {"gateways": gateways, "saturation": {}, "latency": {}, "answer_bytes": len(self.answers[scenario]),
               "rest_calls": [p for _, p in self.rest_calls(scenario)]}
        self.results["scenarios"][scenario] = res
        self.refresh_before = scenario in ("Q1", "Q2")
        def measure(name, url, body, method, seconds):
            if name == "rest:all":
                return self.run_rest_all(scenario, seconds, s.connections)
            return self.run_wrk(name, url, body, seconds, s.connections, method=method)
        for name, url, body, method in targets:  # warm-up: caches, JIT compilers, connection pools
            measure(name, url, body, method, s.warmup)
        for run in range(s.runs):
            for name, url, body, method in targets:
                r = measure(name, url, body, method, s.duration)
                res["saturation"].setdefault(name, []).append(r)
                log(f"{scenario} saturation run {run + 1}/{s.runs} {name}: {r['rps']:.0f}/s "
                    f"p99 {r['p99_us'] / 1000:.1f} ms, errors {r['errors']}, "
                    f"cpu {r['usage'].get('target', {}).get('cpu_cores', 0):.2f}")
        # (a gateway that answered nothing within the runs does not set the rate)
        slowest = min((m for m in (median([r["rps"] for r in res["saturation"][g]]) for g in gateways) if m >= 1),
                      default=1.0)
        rate = max(1.0, round(slowest * s.rate_fraction))
        conns = max(s.latency_connections, math.ceil(rate * 5 / 1000))  # pauses of >= 5 ms on average
        pace_ms = conns * 1000.0 / rate
        res["fixed_rate"] = {"rate": rate, "connections": conns, "pace_ms": pace_ms}
        for run in range(s.runs):
            for name, url, body, method in targets:
                if name == "ceiling" or name.startswith("rest:"):
                    continue
                r = self.run_wrk(name, url, body, s.duration, conns, pace_ms=pace_ms, method=method)
                res["latency"].setdefault(name, []).append(r)
                log(f"{scenario} at {rate:.0f}/s run {run + 1}/{s.runs} {name}: {r['rps']:.0f}/s "
                    f"p50 {r['p50_us'] / 1000:.2f} ms p99 {r['p99_us'] / 1000:.2f} ms")
        self.refresh_before = False
        self.save()

    def restart_ceiling(self):
        """bench_hello answering, for every scenario checked so far, our gateway's answer."""
        if "ceiling" in self.procs:
            self.stack.stop_proc(self.procs.pop("ceiling"))
        maps = []
        for q, raw in self.answers.items():
            path = os.path.join(self.work, f"answer-{q}.json")
            with open(path, "wb") as f:
                f.write(raw)
            maps.append(f"/{q}={path}")
        port = self.stack.ports["ceiling"]
        proc = self.stack.start("ceiling", [os.path.join(self.build, "bin", "bench_hello"), str(port)] + maps)
        self.stack.wait_until(proc, lambda: not stackmod.port_free(port), "listening")
        self.procs["ceiling"] = proc

    # --- M1: checkouts ----------------------------------------------------------------------------

    def m1(self):
        import checkout
        self.results["scenarios"]["M1"] = checkout.run(self)
        self.save()

    # --- S1: subscriptions -------------------------------------------------------------------------

    def s1(self):
        import subscribers
        # A fresh gateway process: memory freed by the query scenarios would otherwise
        # hold the first thousands of connections and hide their cost.
        self.stack.stop_proc(self.procs.pop("mercato"))
        self.procs["mercato"] = self.stack.start_service(
            "gateway", workers=self.s.gateway_workers,
            extra_env={"GATEWAY_WS_MAX_CONNECTIONS": str(max(20000, self.s.s1_clients + 100))})
        self.results["scenarios"]["S1"] = subscribers.run(self)
        self.save()

    # --- profile ----------------------------------------------------------------------------------

    def profile(self):
        import profile_q1
        self.results["profile"] = profile_q1.run(self)
        self.save()

    # --- the whole run ------------------------------------------------------------------------------

    def save(self):
        self.results["load_after"] = loadavg()
        self.results["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with open(self.out, "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=True)

    def scenario(self, name, fn):
        """Runs one scenario; a scenario that fails is reported (its error in the results
        and the report) and the run goes on with the next."""
        log(f"--- {name}")
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - any failure of one scenario is reported, not fatal
            import traceback
            log(f"{name} failed: {e}")
            traceback.print_exc()
            self.results["notes"][name] = f"failed: {type(e).__name__}: {e}"
            if name in ("Q1", "Q2", "Q3", "Q4", "M1", "S1"):
                self.results["scenarios"].setdefault(name, {})["error"] = f"{type(e).__name__}: {e}"
            self.save()

    def run(self):
        t0 = time.monotonic()
        try:
            self.start()
            self.prepare_queries()
            for sc in ("Q1", "Q2", "Q3", "Q4"):
                if sc in self.s.scenarios:
                    self.scenario(sc, lambda sc=sc: self.http_scenario(sc))
            if "profile" in self.s.scenarios:
                self.scenario("profile of Q1 (perf)", self.profile)
            if "M1" in self.s.scenarios:
                self.scenario("M1", self.m1)
            if "S1" in self.s.scenarios:
                self.scenario("S1", self.s1)
        finally:
            self.results["seconds"] = round(time.monotonic() - t0)
            self.save()
            self.stack.stop()
            shutil.rmtree(self.work, ignore_errors=True)
        log(f"done in {self.results['seconds']} s; raw results in {self.out}")


def first_difference(a, b, path="data"):
    if type(a) is not type(b):
        return f"{path}: {json.dumps(a)[:80]} vs {json.dumps(b)[:80]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k} missing on one side"
            if a[k] != b[k]:
                return first_difference(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {json.dumps(a)[:80]} vs {json.dumps(b)[:80]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.json"))
    args = ap.parse_args()
    # A SIGTERM (or Ctrl-C) still stops every process the run started (Bench.run's finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Every WebSocket of S1 is a descriptor in the gateway (children inherit the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Bench(args).run()


if __name__ == "__main__":
    main()
