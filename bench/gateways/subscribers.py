"""S1: WebSocket subscribers on our gateway — BENCH_S1_CLIENTS clients, each following its
own order (`orderUpdated`), while BENCH_S1_RATE order events per second are published on
Redis: delivery latency, events lost, and the gateway's memory per connection.

The measuring side is bench/subscriptions/bench.mjs (the subscriptions' own benchmark,
which its bench_subscriptions.c runs against a gateway of its own); here it is pointed at
this run's gateway and Redis, so the figures come from the same stack and the same run
as the other scenarios. The peers are not measured: the Node peers here implement the
queries only (a subscription server over Redis pub/sub would be a second benchmark
program of their own, not the gateway people run).
"""
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "bench", "subscriptions", "bench.mjs")

NUM = r"([\d.,]+|NaN)"


def _f(x):
    try:
        return float(x.replace(",", ""))
    except (TypeError, ValueError):
        return None


def parse(out):
    """The figures bench.mjs prints, by name."""
    r = {}
    m = re.search(r"subscribers: (\d+) of (\d+) connected and subscribed in " + NUM + " s", out)
    if m:
        r["connected"], r["clients"], r["connect_s"] = int(m.group(1)), int(m.group(2)), _f(m.group(3))
    m = re.search(r"gateway memory \(RSS\): " + NUM + " MiB idle -> " + NUM + r" MiB with \d+ subscribers: " + NUM +
                  " KiB per connection", out)
    if m:
        r["rss_idle_mib"], r["rss_held_mib"], r["kib_per_connection"] = map(_f, m.groups())
    m = re.search(r"stream: (\d+) events in " + NUM + r" s \(" + NUM + r"/s asked (\d+)/s\)", out)
    if m:
        r["published"], r["stream_s"], r["rate"], r["rate_asked"] = int(m.group(1)), _f(m.group(2)), _f(m.group(3)), \
            int(m.group(4).replace(",", ""))
    m = re.search(r"delivered: (\d+) \((-?\d+) missing\), (\d+) out of order, (\d+) unexpected, (\d+) error messages, "
                  r"(\d+) sockets closed", out)
    if m:
        (r["delivered"], r["missing"], r["out_of_order"], r["unexpected"], r["error_messages"],
         r["closed_early"]) = map(int, m.groups())
    m = re.search(r"latency, PUBLISH -> next: p50 " + NUM + " ms, p90 " + NUM + " ms, p99 " + NUM + " ms, p99.9 " + NUM +
                  " ms, max " + NUM + " ms", out)
    if m:
        r["p50_ms"], r["p90_ms"], r["p99_ms"], r["p999_ms"], r["max_ms"] = map(_f, m.groups())
    m = re.search(r"gateway CPU: " + NUM + " % of one core", out)
    if m:
        r["gateway_cpu_percent"] = _f(m.group(1))
    m = re.search(r"peak RSS " + NUM + " MiB", out)
    if m:
        r["gateway_peak_rss_mib"] = _f(m.group(1))
    m = re.search(r"client side .*?: " + NUM + " % of one core", out)
    if m:
        r["client_cpu_percent"] = _f(m.group(1))
    return r


def run(bench):
    s = bench.s
    if not os.path.exists(SCRIPT):
        raise RuntimeError("bench/subscriptions/bench.mjs is missing: this tree's gateway has no subscriptions yet")
    st = bench.stack
    cfg = {
        "gateway": st.url("gateway"), "gatewayPid": bench.procs["mercato"].pid, "redisPort": st.ports["redis"],
        "jwt": {"secret": bench.secret.decode(), "issuer": "mercato-auth", "audience": "mercato"},
        "clients": s.s1_clients, "rate": s.s1_rate, "seconds": s.s1_seconds, "workers": str(s.gateway_workers),
    }
    path = os.path.join(bench.work, "s1.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    bench.log(f"S1: {s.s1_clients} subscribers, {s.s1_rate} events/s for {s.s1_seconds} s")
    r = subprocess.run(["node", SCRIPT, path], capture_output=True, text=True, timeout=600 + s.s1_seconds,
                       cwd=ROOT)
    out = r.stdout
    for line in out.splitlines():
        bench.log("S1 | " + line)
    if r.returncode != 0:
        raise RuntimeError(f"bench.mjs failed ({r.returncode}): {(r.stderr or out)[-800:]}")
    res = parse(out)
    res["output"] = out.splitlines()
    res["report"] = report_lines(res, s)
    return res


def report_lines(r, s):
    lines = [
        f"{r.get('clients', s.s1_clients):,} WebSocket clients (graphql-transport-ws, the npm `ws` client, in one Node "
        "process on the same machine), each a customer of its own following its own order; order events published "
        f"on Redis at {s.s1_rate:,} per second for {s.s1_seconds} s, each to one subscriber "
        "(bench/subscriptions/bench.mjs against this run's gateway).",
        "",
        "| | |",
        "|---|---|",
        f"| subscribers held | {r.get('connected', 0):,} of {r.get('clients', 0):,} (connected in "
        f"{r.get('connect_s') or 0:.1f} s) |",
        f"| gateway memory | {r.get('rss_idle_mib') or 0:.1f} MiB idle → {r.get('rss_held_mib') or 0:.1f} MiB: "
        f"**{r.get('kib_per_connection') or 0:.2f} KiB per connection** |",
        f"| events | {r.get('published', 0):,} published at {r.get('rate') or 0:,.0f}/s; {r.get('delivered', 0):,} "
        f"delivered, {r.get('missing', 0)} missing, {r.get('out_of_order', 0)} out of order |",
        f"| delivery latency (PUBLISH → `next`) | p50 {r.get('p50_ms') or 0:.2f} ms, p90 {r.get('p90_ms') or 0:.2f} ms, "
        f"**p99 {r.get('p99_ms') or 0:.2f} ms**, p99.9 {r.get('p999_ms') or 0:.2f} ms, max {r.get('max_ms') or 0:.1f} ms |",
        f"| gateway CPU | {r.get('gateway_cpu_percent') or 0:.0f} % of one core; peak RSS "
        f"{r.get('gateway_peak_rss_mib') or 0:.1f} MiB |",
        f"| client side (all sockets and the publisher) | {r.get('client_cpu_percent') or 0:.0f} % of one core — near "
        "100 % means part of the latency is the client's own |",
    ]
    return lines


if __name__ == "__main__":
    raise SystemExit("subscribers.py is a module of bench/gateways/compare.py")
