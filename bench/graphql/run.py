#!/usr/bin/env python3
"""
The GraphQL engine's benchmark: the C engine (gql_bench) and graphql-js 16
(bench.js) on the same inputs, in the same run, phase by phase.

    python3 bench/graphql/run.py [--build DIR] [--baseline DIR] [--rounds R] [--no-callgrind]
                                 [--json FILE] [--only WORKLOAD]

Workloads (schema bench/graphql/shop.graphql):
  kitchen-sink   a 4.8 KB storefront document using the whole executable language,
                 executed by name against a JSON root (data.py, deterministic)
  product-list   100 products with nested objects and lists from a JSON root
  introspection  graphql-js's getIntrospectionQuery() with every option

Phases: parse, validate, execute (with the response serialized to bytes: the C
engine writes its buffer, graphql-js is followed by JSON.stringify) and all
(text to response bytes).

Time: each tool calibrates a loop to >= 200 ms and takes the median of 11 such
samples; the two tools alternate for R rounds (default 3) and the table shows the
best round of each, so a burst of load from elsewhere on a shared machine does not
decide the figure.
Instructions: callgrind, with the difference between a run of N operations and one
of none (same warm-up) divided by N, so start-up and JIT compilation cancel out;
N is chosen so the difference is ~10^9 instructions for graphql-js (node runs with
--single-threaded so that compiler and GC threads add no noise).

Builds the C side in Release mode in DIR (default build-release) first.

--baseline DIR adds a second C engine to the same run: the gql_bench of another
Release build directory (for instance of an earlier commit, configured and built
there), measured the same way and alternating with the others, so that a change
is shown before and after against the same graphql-js figures.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import data  # noqa: E402

PHASES = ["parse", "validate", "execute", "all"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        sh(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_C_COMPILER=gcc"])
    sh(["cmake", "--build", build_dir, "--target", "gql_bench"])
    return os.path.join(build_dir, "bin", "gql_bench")


def workloads(work):
    schema = os.path.join(HERE, "shop.graphql")
    kroot = os.path.join(work, "kitchen-root.json")
    lroot = os.path.join(work, "list-root.json")
    with open(kroot, "w") as f:
        json.dump(data.kitchen_sink(), f)
    with open(lroot, "w") as f:
        json.dump(data.product_list(), f)
    iq = os.path.join(work, "introspection.graphql")
    script = ("const g = require(require.resolve('graphql', {paths: [process.argv[1]]}));"
              "process.stdout.write(g.getIntrospectionQuery({descriptions: true, specifiedByUrl: true,"
              " directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true}));")
    with open(iq, "w") as f:
        f.write(sh(["node", "-e", script, ROOT]).stdout)
    return [
        ("kitchen-sink", ["--schema", schema, "--query", os.path.join(HERE, "kitchen-sink.graphql"),
                          "--root", kroot, "--operation", "KitchenSink"]),
        ("product-list", ["--schema", schema, "--query", os.path.join(HERE, "product-list.graphql"),
                          "--root", lroot]),
        ("introspection", ["--schema", schema, "--query", iq]),
    ]


def timed(cmd):
    out = sh(cmd).stdout.strip().splitlines()[-1]
    return json.loads(out)["median_ns"]


def collected(cmd):
    log = sh(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + cmd).stderr
    m = re.findall(r"Collected : (\d+)", log)
    if not m:
        raise RuntimeError("no callgrind total in:\n" + log[-2000:])
    return sum(int(x) for x in m)


def instructions(base, n, warm):
    """Instructions per operation: (run of n - run of 0) / n, same warm-up."""
    w = ["--warmup", str(warm)] if warm else []
    a = collected(base + ["--iterations", "0"] + w)
    b = collected(base + ["--iterations", str(n)] + w)
    return (b - a) / n


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_ir(ir):
    if ir >= 1e6:
        return f"{ir / 1e6:.2f} M"
    if ir >= 1e3:
        return f"{ir / 1e3:.1f} K"
    return f"{ir:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--only", help="only workloads whose name contains this")
    ap.add_argument("--baseline", help="build directory of another C engine to measure alongside")
    args = ap.parse_args()

    gql_bench = build(os.path.abspath(args.build))
    base_bench = os.path.join(os.path.abspath(args.baseline), "bin", "gql_bench") if args.baseline else None
    if base_bench and not os.access(base_bench, os.X_OK):
        sys.exit(f"no gql_bench in {args.baseline}/bin (build it there first)")
    bench_js = os.path.join(HERE, "bench.js")
    work = tempfile.mkdtemp(prefix="gql-bench-")
    results = []
    for name, inputs in workloads(work):
        if args.only and args.only not in name:
            continue
        for phase in PHASES:
            c_cmd = [gql_bench] + inputs + ["--phase", phase]
            js_cmd = ["node", bench_js] + inputs + ["--phase", phase]
            b_cmd = [base_bench] + inputs + ["--phase", phase] if base_bench else None
            c_t, js_t, b_t = [], [], []
            for _ in range(args.rounds):
                if b_cmd:
                    b_t.append(timed(b_cmd + ["--samples", "11", "--min-ms", "200"]))
                c_t.append(timed(c_cmd + ["--samples", "11", "--min-ms", "200"]))
                js_t.append(timed(js_cmd + ["--samples", "11", "--min-ms", "200"]))
            r = {"workload": name, "phase": phase, "c_ns": min(c_t), "js_ns": min(js_t),
                 "c_rounds": c_t, "js_rounds": js_t}
            if b_cmd:
                r["base_ns"] = min(b_t)
                r["base_rounds"] = b_t
            if not args.no_callgrind:
                n = max(20, min(20000, int(3e8 / r["js_ns"])))
                r["c_ir"] = instructions(c_cmd, max(n // 4, 20), 0)
                if b_cmd:
                    r["base_ir"] = instructions(b_cmd, max(n // 4, 20), 0)
                js_cg = ["node", "--single-threaded", bench_js] + inputs + ["--phase", phase]
                r["js_ir"] = instructions(js_cg, n, n)
            results.append(r)
            print(f"  {name} {phase}: C {fmt_ns(r['c_ns'])}, graphql-js {fmt_ns(r['js_ns'])}", file=sys.stderr)

    head = "| workload | phase | C ns/op | graphql-js ns/op | speed-up |"
    rule = "|---|---|---:|---:|---:|"
    if not args.no_callgrind:
        head += " C instr/op | graphql-js instr/op | ratio |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    base_lines = []
    for r in results:
        line = (f"| {r['workload']} | {r['phase']} | {fmt_ns(r['c_ns'])} | {fmt_ns(r['js_ns'])} "
                f"| {r['js_ns'] / r['c_ns']:.1f}x |")
        if "c_ir" in r:
            line += f" {fmt_ir(r['c_ir'])} | {fmt_ir(r['js_ir'])} | {r['js_ir'] / r['c_ir']:.1f}x |"
        print(line)
        if "base_ns" in r:
            b = (f"| {r['workload']} | {r['phase']} | {fmt_ns(r['base_ns'])} | {fmt_ns(r['c_ns'])} "
                 f"| {r['js_ns'] / r['base_ns']:.1f}x | {r['js_ns'] / r['c_ns']:.1f}x |")
            if "base_ir" in r:
                b += (f" {fmt_ir(r['base_ir'])} | {fmt_ir(r['c_ir'])} | {r['js_ir'] / r['base_ir']:.1f}x "
                      f"| {r['js_ir'] / r['c_ir']:.1f}x |")
            base_lines.append(b)
    if base_lines:
        head = "| workload | phase | baseline ns/op | C ns/op | baseline vs js | C vs js |"
        rule = "|---|---|---:|---:|---:|---:|"
        if not args.no_callgrind:
            head += " baseline instr/op | C instr/op | baseline vs js | C vs js |"
            rule += "---:|---:|---:|---:|"
        print()
        print(head)
        print(rule)
        for b in base_lines:
            print(b)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
