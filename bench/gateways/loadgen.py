"""wrk runs and what they measure: requests per second, latency percentiles, and the CPU
and peak memory of the processes under test while wrk ran.

Why wrk with a Lua script (wrk/request.lua) for the fixed-rate runs: wrk2 is not in
Debian. Each connection pauses a random, exponentially distributed time before each
request (mean: connections / rate), so the offered load is a Poisson process at the
chosen rate as long as answers are much shorter than the pauses — which holds at the
rates chosen (half the slowest gateway's saturation rate, see compare.py). wrk measures
each latency from the moment the request is written; at those rates requests do not
queue in the client, so that is also the latency a client would see.
"""
import json
import os
import subprocess

import procstat

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST_LUA = os.path.join(HERE, "wrk", "request.lua")


class WrkError(RuntimeError):
    pass


def wrk(url, duration, connections, threads, script=REQUEST_LUA, env=None, timeout_s=10):
    """Runs wrk and returns the BENCH_JSON summary of the script, with rps added."""
    threads = max(1, min(threads, connections))
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", f"--timeout={timeout_s}s", "-s", script, url]
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=duration + 120)
    line = next((l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if r.returncode != 0 or line is None:
        raise WrkError(f"wrk failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
    out = json.loads(line[len("BENCH_JSON "):])
    secs = out["duration_us"] / 1e6
    out["seconds"] = secs
    out["rps"] = out["requests"] / secs if secs > 0 else 0.0
    out["errors"] = sum(out.get(k, 0) for k in ("connect_errors", "read_errors", "write_errors", "timeouts",
                                                 "status_errors", "graphql_errors"))
    return out


def measured(pids, run):
    """Calls run() and returns (its result, {name: {cpu_cores, cpu_s, peak_rss_kib}}) for
    each named pid: CPU seconds used during run() over its wall time, and the peak
    resident memory reached during it."""
    import time
    before = {}
    for name, pid in pids.items():
        procstat.reset_peak(pid)
        before[name] = procstat.cpu_seconds(pid)
    t = time.monotonic()
    result = run()
    wall = time.monotonic() - t
    usage = {}
    for name, pid in pids.items():
        cpu = procstat.cpu_seconds(pid) - before[name]
        usage[name] = {"cpu_s": cpu, "cpu_cores": cpu / wall if wall > 0 else 0.0,
                       "peak_rss_kib": procstat.peak_rss_kib(pid)}
    return result, usage
