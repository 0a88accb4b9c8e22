"""Where our gateway's CPU goes on Q1: `perf record` on the gateway process while wrk
holds Q1 at saturation, summed by function (self time) and by component.

Why perf and not callgrind here: the gateway spends a large part of each request in the
kernel (sockets to the client and to three services), which callgrind does not see; a
sampling profile of the live process at saturation shows user and kernel time in their
real proportions. perf samples the software clock (cpu-clock), which works in virtual
machines without hardware counters. Self time by function needs no call stacks; the
Release build's debug information (-g, which changes no code) tells which source
directory each of our functions is in.
"""
import os
import re
import shutil
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))

# Components: our own functions by the directory of their source file (from the binary's
# debug information: bench/run builds Release with -g), the rest by shared object.
OWN = [("gateway/graphql/", "GraphQL engine (gateway/graphql: parse, validate, execute, write)"),
       ("gateway/", "gateway (gateway/: REST bindings, JSON, HTTP, subscriptions)"),
       ("lib/", "runtime (lib/: HTTP client and server, logs, config)")]
LIBS = [
    ("kernel (network, syscalls, scheduling)", lambda dso: dso.startswith("[kernel") or dso == "[unknown]"),
    ("jansson (JSON)", lambda dso: "libjansson" in dso),
    ("libc (malloc, memcpy, strings)", lambda dso: dso.startswith("libc.so") or dso.startswith("libc-")),
    ("h2o (HTTP server and client)", lambda dso: "libh2o" in dso),
    ("libuv (event loop)", lambda dso: "libuv" in dso),
    ("libwebsockets", lambda dso: "libwebsockets" in dso),
    ("OpenSSL", lambda dso: "libcrypto" in dso or "libssl" in dso),
]


def source_dirs(binary, root):
    """symbol -> the set of source paths (relative to root) defining it, from `nm -l`."""
    out = {}
    try:
        r = subprocess.run(["nm", "-l", "--defined-only", binary], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return out
    for line in r.stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[1] in "tTwW" and ":" in parts[3]:
            path = os.path.relpath(parts[3].rsplit(":", 1)[0], root)
            out.setdefault(parts[2].split(".")[0], set()).add(path)  # resolve_field.isra.0: resolve_field
    return out


def component(dso, sym, own_files):
    if dso.startswith("mercato-gateway"):
        files = own_files.get(sym.split(".")[0], set())
        for prefix, name in OWN:
            if files and all(f.startswith(prefix) for f in files):
                return name
        return "gateway binary, other"
    return next((n for n, f in LIBS if f(dso)), "other: " + dso)


def run(bench):
    s = bench.s
    if shutil.which("perf") is None:
        return {"error": "perf is not installed (Debian package linux-perf)"}
    if "Q1" not in bench.queries:
        bench.prepare_queries()
    pid = bench.procs["mercato"].pid
    seconds = max(10, s.duration)
    # The catalog page warm first: a reload of the product service's index during the
    # profile would leave the gateway idle, waiting, with nothing to sample.
    bench.refresh_pages(seconds)
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
    own_files = source_dirs(os.path.join(bench.build, "bin", "mercato-gateway"), os.path.dirname(os.path.dirname(HERE)))
    components = {}
    for pct, dso, sym, kind in rows:
        if kind == "k":
            dso = "[kernel.kallsyms]"
        name = component(dso, sym, own_files)
        components[name] = components.get(name, 0.0) + pct
    by_file = {}
    for pct, dso, sym, _ in rows:
        if dso.startswith("mercato-gateway"):
            files = own_files.get(sym.split(".")[0], set())
            key = next(iter(files)) if len(files) == 1 else "(several or unknown files)"
            by_file[key] = by_file.get(key, 0.0) + pct
    top = []
    for pct, dso, sym, _ in sorted(rows, reverse=True)[:25]:
        files = sorted(own_files.get(sym.split(".")[0], ())) if dso.startswith("mercato-gateway") else []
        top.append({"percent": pct, "dso": dso, "symbol": sym, "source": ", ".join(files)})
    w = result.get("wrk", {})
    return {"seconds": seconds, "rps": w.get("rps"), "cpu_cores": w.get("usage", {}).get("target", {}).get("cpu_cores"),
            "components": dict(sorted(components.items(), key=lambda kv: -kv[1])), "top": top,
            "own_files": dict(sorted(by_file.items(), key=lambda kv: -kv[1])),
            "tool": "perf record -F 999 (cpu-clock) on the gateway process, self time"}


if __name__ == "__main__":
    raise SystemExit("profile_q1.py is a module of bench/gateways/compare.py")
