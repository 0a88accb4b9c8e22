"""Where our gateway's CPU goes on Q1: `perf record` on the gateway process while wrk
holds Q1 at saturation, summed by function (self time) and by component.

Why perf and not callgrind here: the gateway spends a large part of each request in the
kernel (sockets to the client and to three services), which callgrind does not see; a
sampling profile of the live process at saturation shows user and kernel time in their
real proportions. perf samples the software clock (cpu-clock), which works in virtual
machines without hardware counters. The Release build has symbols (it is not stripped),
so functions are named even without frame pointers; self time by function needs no
call stacks.
"""
import os
import re
import shutil
import subprocess
import threading

import loadgen

# Components, matched on the shared object (and, for our binary, on the function's name).
COMPONENTS = [
    ("kernel (network, syscalls)", lambda dso, sym: dso.startswith("[kernel") or dso == "[unknown]" and sym.startswith("0xffff")),
    ("jansson (JSON)", lambda dso, sym: "libjansson" in dso),
    ("libc (malloc, memcpy, …)", lambda dso, sym: dso.startswith("libc.so") or dso.startswith("libc-")),
    ("h2o (HTTP server and client)", lambda dso, sym: "libh2o" in dso),
    ("libuv", lambda dso, sym: "libuv" in dso),
    ("libcrypto/libssl", lambda dso, sym: "libcrypto" in dso or "libssl" in dso),
    ("GraphQL engine (gql_*)", lambda dso, sym: dso.startswith("mercato-gateway") and sym.startswith("gql_")),
    ("gateway (gw_*)", lambda dso, sym: dso.startswith("mercato-gateway") and sym.startswith("gw_")),
    ("runtime (mc_*)", lambda dso, sym: dso.startswith("mercato-gateway") and sym.startswith("mc_")),
    ("gateway binary, other", lambda dso, sym: dso.startswith("mercato-gateway")),
]


def run(bench):
    s = bench.s
    if shutil.which("perf") is None:
        return {"error": "perf is not installed (Debian package linux-perf)"}
    if "Q1" not in bench.queries:
        bench.prepare_queries()
    pid = bench.procs["mercato"].pid
    seconds = max(5, s.duration)
    data = os.path.join(bench.work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-F", "999", "-p", str(pid), "-o", data, "--", "sleep", str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    body = bench.queries["Q1"]["mercato"]
    result = {}

    def load():
        result["wrk"] = bench.run_wrk("mercato", bench.gateway_url("mercato"), body, seconds, s.connections)
    t = threading.Thread(target=load)
    t.start()
    _, err = perf.communicate()
    t.join()
    if perf.returncode != 0 or not os.path.exists(data):
        return {"error": f"perf record failed ({perf.returncode}): {err[-500:]}"}
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym",
                          "--percent-limit", "0.01", "-q"], capture_output=True, text=True, timeout=300)
    rows = []
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(4).strip(), m.group(3)))
    if not rows:
        return {"error": "perf report gave no samples: " + (rep.stderr[-500:] or rep.stdout[-500:])}
    components = {}
    for pct, dso, sym, kind in rows:
        if kind == "k":
            dso = "[kernel.kallsyms]"
        name = next((n for n, f in COMPONENTS if f(dso, sym)), "other: " + dso)
        components[name] = components.get(name, 0.0) + pct
    top = [{"percent": pct, "dso": dso, "symbol": sym} for pct, dso, sym, _ in sorted(rows, reverse=True)[:25]]
    w = result.get("wrk", {})
    return {"seconds": seconds, "rps": w.get("rps"), "cpu_cores": w.get("usage", {}).get("target", {}).get("cpu_cores"),
            "components": dict(sorted(components.items(), key=lambda kv: -kv[1])), "top": top,
            "tool": "perf record -F 999 (cpu-clock) on the gateway process, self time"}


if __name__ == "__main__":
    raise SystemExit("profile_q1.py is a module of bench/gateways/compare.py")
