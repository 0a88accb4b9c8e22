#!/usr/bin/env python3
"""Turns bench/results.json (compare.py's raw figures) into bench/RESULTS.md and the
charts in bench/charts/ (PNG, drawn by gnuplot).

Kept apart from compare.py so that the report can be rewritten from a finished run's
figures without running anything again:

    python3 bench/gateways/report.py [--results bench/results.json] [--out bench/RESULTS.md]

Every figure is the median of the run's measurements with the minimum and maximum beside
it; ratios are of medians. The machine is described from the run itself.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import subscribers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

NAMES = {
    "mercato": "Mercato gateway (C, h2o)",
    "apollo": "Apollo Server 4 + DataLoader",
    "jit": "graphql-jit + DataLoader",
    "hive": "Hive Gateway (Mesh, OpenAPI)",
    "ceiling": "ceiling: raw h2o, same answer",
}
SHORT = {"mercato": "Mercato", "apollo": "Apollo 4", "jit": "graphql-jit", "hive": "Hive GW", "ceiling": "raw h2o"}
DESCRIPTIONS = {
    "Q1": "a page of 50 products, each with its category and its seller (the N+1 case)",
    "Q2": "a flat page of 50 products (one upstream call)",
    "Q3": "`{ __typename }` (no upstream call: pure gateway overhead)",
    "Q4": "one product by id (the product service answers from its Redis cache)",
}
GATEWAY_ORDER = ["mercato", "apollo", "jit", "hive"]
COLORS = {"ceiling": "#9400d3", "mercato": "#009e73", "apollo": "#56b4e9", "jit": "#e69f00", "hive": "#f0e442"}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def span(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def fnum(x, digits=0):
    if x is None:
        return "—"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def fms(us):
    if us is None:
        return "—"
    ms = us / 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fratio(r):
    if r is None:
        return "—"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def label(name):
    if name == "rest:all":
        return "all its upstream calls at once, direct (the slowest's rate)"
    if name.startswith("rest:"):
        return f"direct REST call to {name[5:]}"
    return NAMES.get(name, name)


class Report:
    def __init__(self, results, charts_dir, charts_rel):
        self.r = results
        self.charts_dir, self.charts_rel = charts_dir, charts_rel
        self.lines = []
        self.charts = []
        self.bound_notes = []

    def w(self, s=""):
        self.lines.append(s)

    # --- figures ----------------------------------------------------------------------------

    def sat(self, sc, name, key="rps"):
        runs = self.r["scenarios"].get(sc, {}).get("saturation", {}).get(name, [])
        return [x.get(key) for x in runs]

    def lat(self, sc, name, key):
        runs = self.r["scenarios"].get(sc, {}).get("latency", {}).get(name, [])
        return [x.get(key) for x in runs]

    def usage(self, sc, name, key, phase="saturation"):
        runs = self.r["scenarios"].get(sc, {}).get(phase, {}).get(name, [])
        return [x.get("usage", {}).get("target", {}).get(key) for x in runs]

    def cpu_per_request(self, sc, name):
        """Median over runs of the process's CPU time per request answered (µs): what a
        request costs the gateway, whatever bounds its throughput."""
        runs = self.r["scenarios"].get(sc, {}).get("saturation", {}).get(name, [])
        xs = [x["usage"]["target"]["cpu_s"] / x["requests"] * 1e6 for x in runs
              if x.get("requests") and "target" in x.get("usage", {})]
        return med(xs)

    def rest_ceiling(self, sc):
        """Requests per second of the scenario's upstream calls made directly: a request
        needs each of them once, so it cannot go faster than the slowest of them measured
        alone at saturation (the calls go to different processes; on shared cores the
        real bound is lower still)."""
        res = self.r["scenarios"].get(sc, {})
        if "rest:all" in res.get("saturation", {}):  # measured all at once: that is the ceiling
            return med(self.sat(sc, "rest:all")), ["rest:all"]
        rests = [n for n in res.get("saturation", {}) if n.startswith("rest:")]
        if not rests:
            return None, []
        rates = [med(self.sat(sc, n)) for n in rests]
        if any(x is None or x == 0 for x in rates):
            return None, rests
        return min(rates), rests

    # --- the document ----------------------------------------------------------------------------

    def build(self):
        r = self.r
        m = r["machine"]
        s = r["settings"]
        self.w("# Mercato's gateway beside the gateways people use")
        self.w()
        self.w("Generated by `bench/run` (bench/gateways/compare.py, then report.py) from one run on one machine: "
               "every gateway against the same five services, the same FerretDB and Redis and the same seeded "
               f"catalog of {s['products']:,} products, measured one after the other with wrk. Do not edit: "
               "rerun `bench/run`.")
        self.w()
        self.w(f"Run: {r.get('started', '?')} to {r.get('finished', '?')} ({r.get('seconds', 0) / 60:.0f} min), "
               f"commit `{m.get('commit', '?')}`{' with local changes' if m.get('dirty') else ''}.")
        self.w()
        self.machine()
        self.summary()
        for sc in ("Q1", "Q2", "Q3", "Q4"):
            if sc in r["scenarios"]:
                self.http_scenario(sc)
        if "M1" in r["scenarios"]:
            if r["scenarios"]["M1"].get("error"):
                self.w("## M1: checkout")
                self.w()
                self.w("Not measured: " + r["scenarios"]["M1"]["error"])
                self.w()
            else:
                self.m1()
        self.s1()
        if r.get("profile"):
            self.profile()
        self.notes()
        self.method()
        return "\n".join(self.lines) + "\n"

    def machine(self):
        r, m, s = self.r, self.r["machine"], self.r["settings"]
        self.w("## Machine")
        self.w()
        self.w(f"- CPU: {m['cpu']}, {m['cores']} cores ({m.get('virtualization', '?')} virtual machine); "
               f"{m['memory_gib']} GiB memory; {m['os']}, Linux {m['kernel']}")
        lb, la = r.get("load_before", []), r.get("load_after", [])
        self.w(f"- Load average (1, 5, 15 min) before the run: {', '.join(f'{x:.1f}' for x in lb)}; after: "
               f"{', '.join(f'{x:.1f}' for x in la)}. The machine is shared: figures move from run to run, "
               "ratios measured in the same run much less.")
        self.w(f"- Build: CMake `{m['build_type']}`, gcc {m['gcc']}; Node.js {m['node']}")
        pk = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items() if v)
        self.w(f"- Debian packages: {pk}")
        npk = ", ".join(f"{k} {v}" for k, v in m.get("node_packages", {}).items())
        self.w(f"- npm packages (bench/gateways/package-lock.json): {npk}")
        self.w(f"- Processes: every service with `WORKERS={s['service_workers']}`, our gateway with "
               f"`WORKERS={s['gateway_workers']}` (one event loop, like each Node peer) and "
               f"`GATEWAY_DEDUPLICATE={s.get('deduplicate', 'none: not in the gateway at that commit')}`; FerretDB 1.24 on SQLite, "
               "Redis; wrk on the same machine.")
        self.w(f"- Measurements: {s['runs']} runs of {s['duration']} s per gateway and scenario after "
               f"{s['warmup']} s of warm-up; {s['connections']} connections at saturation, {s['threads']} wrk threads.")
        self.w()

    def summary(self):
        r = self.r
        sc = r["scenarios"]
        self.w("## Goals")
        self.w()
        self.w("| goal | measured | met |")
        self.w("|---|---|---|")

        def row(goal, measured, ok):
            self.w(f"| {goal} | {measured} | {'yes' if ok else 'no' if ok is not None else '—'} |")
        if "Q1" in sc and "saturation" in sc["Q1"]:
            ours = med(self.sat("Q1", "mercato"))
            p99 = med(self.lat("Q1", "mercato", "p99_us"))
            for peer, goal in (("apollo", 100), ("jit", 20)):
                if peer in sc["Q1"].get("saturation", {}):
                    rt = ratio(ours, med(self.sat("Q1", peer)))
                    pp = med(self.lat("Q1", peer, "p99_us"))
                    row(f"Q1 ≥ {goal}× {NAMES[peer]}'s requests/s, lower p99",
                        f"{fratio(rt)} ({fnum(ours)} vs {fnum(med(self.sat('Q1', peer)))}/s); p99 {fms(p99)} vs "
                        f"{fms(pp)} ms at the fixed rate", rt is not None and rt >= goal and p99 is not None and pp is not None and p99 < pp)
                else:
                    row(f"Q1 ≥ {goal}× {NAMES[peer]}", "not measured (see notes)", None)
            rc, _ = self.rest_ceiling("Q1")
            rt = ratio(ours, rc)
            row("Q1 ≥ ½ the throughput of its upstream calls made directly",
                f"{fratio(rt)} ({fnum(ours)}/s vs {fnum(rc)} sets of its three calls per second, made at once)",
                rt is not None and rt >= 0.5)
            for peer in ("apollo", "jit", "hive"):
                if peer in sc["Q1"].get("saturation", {}):
                    cr = ratio(self.cpu_per_request("Q1", peer), self.cpu_per_request("Q1", "mercato"))
                    row(f"(context) Q1 gateway CPU per request, {NAMES[peer]} ÷ ours",
                        f"{fratio(cr)} ({fnum(self.cpu_per_request('Q1', peer))} vs "
                        f"{fnum(self.cpu_per_request('Q1', 'mercato'))} µs)", None)
        if "Q3" in sc and "saturation" in sc["Q3"]:
            ours, ceil = med(self.sat("Q3", "mercato")), med(self.sat("Q3", "ceiling"))
            rt = ratio(ceil, ours)
            row("Q3 within 2× of the raw h2o ceiling", f"ceiling / ours = {fratio(rt)} ({fnum(ceil)} vs {fnum(ours)}/s)",
                rt is not None and rt <= 2)
        s1 = sc.get("S1")
        if s1 and not s1.get("error"):
            kib = s1.get("kib_per_connection")
            p99 = s1.get("p99_ms")
            row(f"S1: {s1.get('clients', 0):,} subscribers, < 10 KiB each, p99 delivery < 50 ms",
                f"{fnum(kib, 1)} KiB each, p99 {fnum(p99, 1)} ms ({s1.get('connected', 0):,} connected)",
                kib is not None and p99 is not None and kib < 10 and p99 < 50 and s1.get("connected") == s1.get("clients"))
        else:
            row("S1: 10,000 subscribers, < 10 KiB each, p99 < 50 ms", "not measured (see S1)", None)
        m1 = sc.get("M1")
        if m1 and "runs" in m1:
            one = med([x["orders_per_s"] for x in m1["runs"].get("1 line/gateway", [])])
            race = m1.get("race") or {}
            row("M1: 1,000 orders/s (seed design)", f"{fnum(one, 1)} orders/s of 1 line through the gateway; "
                f"oversell: {'NONE' if race and not race.get('oversold') else 'YES' if race else '—'}",
                one is not None and one >= 1000)
        self.w()

    def http_scenario(self, sc):
        res = self.r["scenarios"][sc]
        self.w(f"## {sc}: {DESCRIPTIONS[sc]}")
        self.w()
        if res.get("error") or "saturation" not in res:
            self.w("Not measured: " + res.get("error", "no figures"))
            self.w()
            return
        def short(call):
            path, _, q = call.partition("?ids=")
            return f"{path}?ids=<{len(q.split(','))} ids>" if q else call
        self.w(f"Answer: {res['answer_bytes']:,} bytes. Upstream calls our gateway makes: "
               + (", ".join(f"`{short(c)}`" for c in res.get("rest_calls", [])) or "none") + ".")
        self.w()
        ours = med(self.sat(sc, "mercato"))
        names = ["ceiling"] + [g for g in GATEWAY_ORDER if g in res["saturation"]] + \
            [n for n in res["saturation"] if n.startswith("rest:")]
        self.w("At saturation:")
        self.w()
        self.w("| | requests/s (median) | min–max | Mercato ÷ this | p50 ms | p99 ms | errors | CPU (cores) | CPU µs per request | peak memory MiB |")
        self.w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in names:
            rps = self.sat(sc, n)
            lo, hi = span(rps)
            cpu = med(self.usage(sc, n, "cpu_cores"))
            mem = med(self.usage(sc, n, "peak_rss_kib"))
            err = sum(x or 0 for x in self.sat(sc, n, "errors"))
            self.w(f"| {label(n)} | {fnum(med(rps))} | {fnum(lo)}–{fnum(hi)} | "
                   f"{'' if n == 'mercato' else fratio(ratio(ours, med(rps)))} | {fms(med(self.sat(sc, n, 'p50_us')))} | "
                   f"{fms(med(self.sat(sc, n, 'p99_us')))} | {err} | {fnum(cpu, 2)} | "
                   f"{fnum(self.cpu_per_request(sc, n))} | {fnum(mem / 1024 if mem else None, 1)} |")
        rc, rests = self.rest_ceiling(sc)
        cpu_ours = med(self.usage(sc, "mercato", "cpu_cores"))
        if rc is not None and ours and cpu_ours is not None:
            slow = min(rests, key=lambda n: med(self.sat(sc, n)) or 0)
            what = ("its upstream calls made directly, all at once (each wrk with a third of the connections), "
                    f"complete {fnum(rc)} sets per second" if slow == "rest:all" else
                    f"the upstream call alone ({label(slow)}) answers {fnum(rc)}/s")
            self.bound_notes.append(
                f"{sc}: {what}; our gateway reaches "
                f"{fnum(ours)}/s ({fratio(ratio(ours, rc))} of it) using {fnum(cpu_ours, 2)} of a core. Every "
                "process here shares two busy cores with wrk and the rest of the stack, so no gateway gets a core "
                "of its own: the CPU per request is the steadier comparison of the gateways themselves.")
        if rc is not None and len(rests) > 1:
            self.w(f"| the slowest of its {len(rests)} upstream calls, each alone, direct | {fnum(rc)} | | "
                   f"{fratio(ratio(ours, rc))} | | | | | | |")
        self.w()
        if self.bound_notes and self.bound_notes[-1].startswith(sc + ":"):
            self.w(self.bound_notes[-1][len(sc) + 2:].capitalize()[:1] + self.bound_notes[-1][len(sc) + 3:])
            self.w()
        fr = res.get("fixed_rate")
        if fr and res.get("latency"):
            self.w(f"At a fixed {fnum(fr['rate'])} requests/s ({fnum(fr['connections'])} connections, Poisson arrivals; "
                   "half the slowest gateway's saturation rate):")
            self.w()
            self.w("| | achieved/s | requests per run | p50 ms (min–max) | p99 ms (min–max) | errors | CPU (cores) |")
            self.w("|---|---:|---:|---:|---:|---:|---:|")
            for n in [g for g in GATEWAY_ORDER if g in res["latency"]]:
                p50, p99 = self.lat(sc, n, "p50_us"), self.lat(sc, n, "p99_us")
                a, b = span(p50)
                c, d = span(p99)
                errs = sum(x or 0 for x in self.lat(sc, n, "errors"))
                self.w(f"| {label(n)} | {fnum(med(self.lat(sc, n, 'rps')))} | {fnum(med(self.lat(sc, n, 'requests')))} | "
                       f"{fms(med(p50))} ({fms(a)}–{fms(b)}) | {fms(med(p99))} ({fms(c)}–{fms(d)}) | {errs} | "
                       f"{fnum(med(self.usage(sc, n, 'cpu_cores', 'latency')), 2)} |")
            self.w()

    def m1(self):
        m1 = self.r["scenarios"]["M1"]
        self.w("## M1: checkout (orders per second, no oversell)")
        self.w()
        cl = m1["clients"]
        self.w(f"{cl['1 line']} clients (1-line orders) or {cl['10 lines']} (10-line orders: a quarter, see below) keep "
               "orders in flight for each run, each order from a new customer with an "
               "Idempotency-Key; through our gateway (the `checkout` mutation) and, as the ceiling, straight to the "
               "order service (`POST /api/orders`). The order service then calls the product service (prices, "
               "stock reservation and commit) and stores the order in FerretDB.")
        self.w()
        self.w("| order | via | orders/s (median) | min–max | p50 ms | p99 ms | refusals | FerretDB CPU (cores) | gateway CPU |")
        self.w("|---|---|---:|---:|---:|---:|---|---:|---:|")
        for key, runs in m1["runs"].items():
            shape, via = key.split("/")
            ops = [x["orders_per_s"] for x in runs]
            lo, hi = span(ops)
            refusals = {}
            for x in runs:
                for k, v in x["refusals"].items():
                    refusals[k] = refusals.get(k, 0) + v
            fd = med([x["usage"].get("ferretdb", {}).get("cpu_cores") for x in runs])
            gw = med([x["usage"].get("target", {}).get("cpu_cores") for x in runs])
            self.w(f"| {shape} | {'our gateway' if via == 'gateway' else 'order service directly'} | "
                   f"{fnum(med(ops), 1)} | {fnum(lo, 1)}–{fnum(hi, 1)} | {fnum(med([x['p50_ms'] for x in runs]))} | "
                   f"{fnum(med([x['p99_ms'] for x in runs]))} | {', '.join(f'{k} {v}' for k, v in refusals.items()) or 'none'} | "
                   f"{fnum(fd, 2)} | {fnum(gw, 2) if via == 'gateway' else ''} |")
        self.w()
        race = m1.get("race")
        if race:
            self.w(f"Race: {race['clients']} clients buying one unit each of a product with {race['stock']} units "
                   f"until all of them were refused: **{race['orders']} orders placed, stock left "
                   f"{race['stock_after']}** — {'no oversell' if not race['oversold'] else 'OVERSOLD'}"
                   f"{'' if race['consistent'] else '; ' + str(race['stock'] - race['orders'] - race['stock_after']) + ' unit(s) held by reservations of checkouts that failed (timeouts), which the order service releases'}; refusals: "
                   f"{', '.join(f'{k} {v}' for k, v in race['refusals'].items()) or 'none'}.")
            self.w()
        self.w("Few clients, because FerretDB serves one writer at a time: more checkouts in flight add latency, "
               "not orders, and a checkout that takes longer than the gateway's upstream timeout (10 s) fails "
               "(UPSTREAM_UNAVAILABLE; the order service undoes it). Ten-line orders, three times the database work, "
               "run with a quarter of the clients.")
        self.w()
        runs = m1["runs"].get("1 line/gateway", [])
        if runs:
            cpu = {k: med([x["usage"].get(k, {}).get("cpu_cores") for x in runs])
                   for k in ("ferretdb", "product", "order", "redis", "target")}
            self.w("CPU during the 1-line runs through our gateway (cores, median): "
                   + ", ".join(f"{'gateway' if k == 'target' else k} {fnum(v, 2)}" for k, v in cpu.items()
                               if v is not None) + ".")
            self.w()
        self.w("What bounds it: the database. FerretDB on SQLite uses the most CPU of any process in every run "
               "while the services and the gateway use a fraction of a core; a checkout is about 30 FerretDB "
               "commands for one line and 90 for ten (bench/checkout/README.md). The seed design's 1,000 orders/s "
               "needs MongoDB (a replica set, as docker-compose.yml runs) and several order and product processes; "
               "the gateway's share of a checkout is the GraphQL request and one upstream call.")
        self.w()

    def s1(self):
        s1 = self.r["scenarios"].get("S1")
        self.w("## S1: subscribers")
        self.w()
        if not s1:
            self.w("Not run: " + self.r.get("notes", {}).get("S1", "not selected (BENCH_SCENARIOS)."))
            self.w()
            return
        if s1.get("error"):
            self.w("Not measured: " + s1["error"])
            self.w()
            return
        for line in subscribers.report_lines(s1, Settings(self.r["settings"])):
            self.w(line)
        self.w()

    def profile(self):
        p = self.r["profile"]
        self.w("## Where our gateway's time goes on Q1")
        self.w()
        if p.get("error"):
            self.w("No profile: " + p["error"])
            self.w()
            return
        self.w(f"{p['tool']}, {p['seconds']} s at saturation ({fnum(p.get('rps'))} requests/s, "
               f"{fnum(p.get('cpu_cores'), 2)} cores). Share of the gateway's CPU samples:")
        self.w()
        self.w("| component | share |")
        self.w("|---|---:|")
        comps = sorted(p["components"].items(), key=lambda kv: -kv[1])
        for k, v in comps:
            if v >= 0.5:
                self.w(f"| {k} | {v:.1f} % |")
        self.w()
        if p.get("own_files"):
            self.w("Our own code by source file:")
            self.w()
            self.w("| file | share |")
            self.w("|---|---:|")
            for f, v in sorted(p["own_files"].items(), key=lambda kv: -kv[1])[:8]:
                self.w(f"| `{f}` | {v:.1f} % |")
            self.w()
        self.w("Functions with the most self time:")
        self.w()
        self.w("| share | function | in |")
        self.w("|---:|---|---|")
        for t in p["top"][:15]:
            self.w(f"| {t['percent']:.1f} % | `{t['symbol']}` | {t.get('source') or t['dso']} |")
        self.w()
        top = comps[0]
        own = next((t for t in p["top"] if t["dso"].startswith("mercato-gateway")), None)
        self.w(f"The biggest cost: **{top[0]}**, {top[1]:.0f} % of the samples"
               + (f"; in our own code, `{own['symbol']}` ({own['percent']:.1f} %)." if own else "."))
        self.w()

    def notes(self):
        notes = self.r.get("notes", {})
        if not notes:
            return
        self.w("## Notes")
        self.w()
        for k, v in notes.items():
            self.w(f"- {k}: {v}")
        self.w()

    def peers(self):
        np = self.r["machine"].get("node_packages", {})
        self.w("## The peers")
        self.w()
        self.w("Each is one process with one event loop, like our gateway with `WORKERS=1`, against the same services "
               "(bench/gateways/peers/):")
        self.w()
        self.w(f"- **Apollo Server {np.get('@apollo/server', '4')}** as its documentation shows it "
               "(`startStandaloneServer`, Express underneath; `NODE_ENV=production`, no landing page), over resolvers written as a good "
               "Node engineer would (resolvers.js): an undici keep-alive pool of 128 connections per service, a "
               "DataLoader per request over the services' batch endpoints (a page's categories and sellers are one "
               "call each, as ours), the same paths and parameters as our gateway.")
        self.w(f"- **graphql-jit {np.get('graphql-jit', '')}**: the same resolvers, Node's http server, the compiled "
               "query cached by its text (what mercurius does). Its own serializer (fast-json-stringify) refuses "
               "the schema's custom scalars, so answers are written with JSON.stringify.")
        self.w(f"- **Hive Gateway {np.get('@graphql-hive/gateway', '')}** serving the supergraph GraphQL Mesh "
               f"(compose-cli {np.get('@graphql-mesh/compose-cli', '')}, @omnigraph/openapi "
               f"{np.get('@omnigraph/openapi', '')}) composes from the services' own OpenAPI documents, offline "
               "(peers/hive/mesh.config.mjs, bench/gateways/hive.py): the four operations the scenarios use with "
               "their success answers (error answers become unions that Mesh's links cannot read), the batch "
               "endpoints' `ids` described as the comma-separated list they are, and a product's category and "
               "seller linked with batched `@resolveTo`, so it makes the same three calls per Q1 as the others. "
               "Its schema is the REST one: it gets the same selections in its own shape, and its answers are "
               "checked against ours after mapping back (our Money's `formatted` has no REST counterpart). npm "
               "override: @graphql-tools/batch-execute 10.2.0 — the registry this project installs from has no "
               "^10.3.2, which Hive Gateway asks for.")
        self.w("- The peers answer the queries only: M1 and S1 measure our gateway (and, for M1, the order service "
               "called directly).")
        self.w()

    def method(self):
        self.peers()
        self.w("## How it is measured")
        self.w()
        self.w("- Every gateway must give the same `data` as ours for each query before it is measured; one that "
               "does not is left out of that scenario, with the reason under Notes.")
        self.w("- Saturation: wrk keeps its connections busy for the run's duration; the figure is requests per "
               "second. Latency at a fixed rate: each connection waits an exponentially distributed pause "
               "before each request (bench/gateways/wrk/request.lua), so requests arrive as a Poisson process at "
               "the rate shown, the same for every gateway.")
        self.w("- Errors count failed connections, non-2xx answers and answers whose body carries GraphQL `errors` "
               "(partial data after an upstream timeout counts as an error, not as throughput). At the fixed rate a "
               "run holds few requests when the rate is low: its p99 is then close to its slowest request.")
        self.w("- CPU is the user + system time of the process under test (and its children) during the run, "
               "divided by the run's wall time; peak memory its peak resident size during the run (VmHWM, reset "
               "before each run).")
        self.w("- The ceiling `raw h2o` is bench/product/hello.c serving the exact bytes of our gateway's answer "
               "from memory: what this machine does with an HTTP request of that size and nothing else. "
               "The direct REST calls are those our gateway makes for the query, sent straight to the service "
               "with wrk: each alone, and for Q1 all three at once (one wrk per call, the connections shared "
               "out), whose slowest rate is the rate at which whole sets of calls complete — the ceiling for Q1.")
        self.w("- Before each measurement of Q1 and Q2 the list page is asked for once directly (and dropped from "
               "Redis first if it would expire during the run), so a reload of the product service's catalog index "
               "from FerretDB (seconds, after the page expires or the catalog changes) lands on no gateway.")
        self.w()

    # --- charts ---------------------------------------------------------------------------------

    def chart_throughput(self, work):
        scs = [sc for sc in ("Q1", "Q2", "Q3", "Q4") if "saturation" in self.r["scenarios"].get(sc, {})]
        if not scs:
            return None
        cols = ["ceiling"] + [g for g in GATEWAY_ORDER if any(g in self.r["scenarios"][sc]["saturation"] for sc in scs)]
        data = os.path.join(work, "throughput.dat")
        with open(data, "w") as f:
            for sc in scs:
                row = [sc]
                for c in cols:
                    xs = self.sat(sc, c)
                    m = med(xs)
                    lo, hi = span(xs)
                    row += [str(m or "NaN"), str(lo or "NaN"), str(hi or "NaN")]
                f.write(" ".join(row) + "\n")
        plots = []
        for i, c in enumerate(cols):
            b = 2 + 3 * i
            plots.append(f"'{data}' using {b}:{b + 1}:{b + 2}:xtic(1) title '{SHORT.get(c, c)}' "
                         f"lc rgb '{COLORS.get(c, '#808080')}'")
        return self.gnuplot("throughput.png", f"""
set title 'Requests per second at saturation (median, bars: min-max; log scale)'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set logscale y
set yrange [1:*]
set ylabel 'requests/s'
set key top right
set grid ytics
plot {', '.join(plots)}
""")

    def chart_latency(self, work):
        scs = [sc for sc in ("Q1", "Q2", "Q3", "Q4") if self.r["scenarios"].get(sc, {}).get("latency")]
        if not scs:
            return None
        cols = [g for g in GATEWAY_ORDER if any(g in self.r["scenarios"][sc]["latency"] for sc in scs)]
        data = os.path.join(work, "latency.dat")
        with open(data, "w") as f:
            for sc in scs:
                row = [sc]
                for c in cols:
                    xs = [x / 1000 if x is not None else None for x in self.lat(sc, c, "p99_us")]
                    m = med(xs)
                    lo, hi = span(xs)
                    row += [str(m or "NaN"), str(lo or "NaN"), str(hi or "NaN")]
                f.write(" ".join(row) + "\n")
        plots = []
        for i, c in enumerate(cols):
            b = 2 + 3 * i
            plots.append(f"'{data}' using {b}:{b + 1}:{b + 2}:xtic(1) title '{SHORT.get(c, c)}' "
                         f"lc rgb '{COLORS.get(c, '#808080')}'")
        return self.gnuplot("latency-p99.png", f"""
set title 'p99 latency at the same fixed rate per scenario (median, bars: min-max; log scale)'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set logscale y
set ylabel 'milliseconds'
set key top right
set grid ytics
plot {', '.join(plots)}
""")

    def chart_ratios(self, work):
        scs = [sc for sc in ("Q1", "Q2", "Q3", "Q4") if "saturation" in self.r["scenarios"].get(sc, {})]
        peers = [g for g in GATEWAY_ORDER[1:] if any(g in self.r["scenarios"][sc]["saturation"] for sc in scs)]
        if not scs or not peers:
            return None
        data = os.path.join(work, "ratios.dat")
        with open(data, "w") as f:
            for sc in scs:
                ours = med(self.sat(sc, "mercato"))
                row = [sc] + [str(ratio(ours, med(self.sat(sc, p))) or "NaN") for p in peers]
                f.write(" ".join(row) + "\n")
        plots = [f"'{data}' using {2 + i}:xtic(1) title 'vs {SHORT.get(p, p)}' lc rgb '{COLORS.get(p, '#808080')}'"
                 for i, p in enumerate(peers)]
        return self.gnuplot("ratios.png", f"""
set title 'Mercato requests/s divided by each peer''s, same run (log scale)'
set style data histogram
set style histogram clustered gap 2
set style fill solid 0.85 border -1
set logscale y
set ylabel 'times faster'
set key top right
set grid ytics
plot {', '.join(plots)}
""")

    def gnuplot(self, name, script):
        out = os.path.join(self.charts_dir, name)
        full = f"set terminal pngcairo size 960,540 font 'sans,10'\nset output '{out}'\n" + script
        r = subprocess.run(["gnuplot"], input=full, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"gnuplot failed for {name}: {r.stderr}")
        return name

    def charts_section(self):
        if shutil.which("gnuplot") is None:
            return ["No charts: gnuplot is not installed (scripts/setup installs it)."]
        os.makedirs(self.charts_dir, exist_ok=True)
        work = tempfile.mkdtemp(prefix="mercato-report-")
        try:
            made = [c for c in (self.chart_throughput(work), self.chart_ratios(work), self.chart_latency(work)) if c]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return [f"![{n}]({self.charts_rel}/{n})" for n in made]


class Settings:
    """The run's settings as attributes (what subscribers.report_lines reads)."""

    def __init__(self, d):
        self.__dict__.update(d)


def s1_figures(results):
    """S1's figures parsed again from bench.mjs's own output kept in the results, so that
    a fix to the parser reaches reports of finished runs."""
    s1 = results.get("scenarios", {}).get("S1")
    if s1 and s1.get("output"):
        s1.update(subscribers.parse("\n".join(s1["output"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = ap.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    s1_figures(results)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    rep = Report(results, os.path.join(out_dir, "charts"), "charts")
    text = rep.build()
    charts = rep.charts_section()
    # The charts go right after the goals.
    marker = "\n## Q1:" if "\n## Q1:" in text else "\n## "
    head, sep, tail = text.partition(marker)
    text = head + "\n" + "\n\n".join(charts) + "\n" + sep + tail if sep else text + "\n\n".join(charts) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
