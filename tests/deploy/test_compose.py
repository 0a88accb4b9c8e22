#!/usr/bin/env python3
"""docker-compose.yml, checked without a Docker engine:

- the Compose Specification's reference loader loads it as `docker compose config` would
  (scripts/deploy-tools/compose-check): schema, interpolation, and consistency (undefined
  services, volumes, networks, dependency cycles);
- every process runs from its own Dockerfile, hardened (read-only root file system, no
  capabilities, no privilege escalation), with a stop timeout above its shutdown deadline;
- every variable set for a process is documented and read by the processes; each process
  gets the URLs of the services it calls and the internal key exactly when
  docs/services.md's call table says so; secret files live in a mounted volume whose
  generator writes them;
- MongoDB 7 runs as a replica set whose name the services' URI and the init script agree
  on, Redis 7 with an append-only file, services start after both;
- the demo seed waits for every service and gets what scripts/seed.py reads;
- only the gateway is published beyond the loopback interface."""
import json
import os
import re
import subprocess

import mcdeploy as m

F = m.Failures("compose")
COMPOSE = os.path.join(m.ROOT, "docker-compose.yml")

env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
r = subprocess.run([os.path.join(m.TOOLS, "bin/compose-check"), COMPOSE],
                   cwd=m.ROOT, capture_output=True, text=True, env=env)
if not F.check(r.returncode == 0, f"the Compose loader refuses docker-compose.yml: {r.stderr.strip()}"):
    F.finish()
model = json.loads(r.stdout)
svcs = model.get("services", {})
volumes = model.get("volumes", {})

reads, _, _ = m.process_env_reads()
docs = m.documented_vars()
edges = m.call_graph()


def duration_s(text):
    total, units = 0.0, {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text or ""):
        total += float(num) * units[unit]
    return total


def mounts(svc):
    """{container path: (volume or host source, read-only)}."""
    return {v["target"]: (v.get("source"), bool(v.get("read_only"))) for v in svc.get("volumes", [])}


def deps(svc):
    return {k: v.get("condition") for k, v in (svc.get("depends_on") or {}).items()}


# Which secret files the generator writes, and where.
init = m.read("deploy/docker/init-secrets.sh")
generated = set(re.search(r"for name in ([\w\s-]+);", init).group(1).split())
gen = svcs.get("init-secrets", {})
F.check(gen.get("entrypoint", [None])[0] == "/usr/local/bin/mercato-init-secrets",
        "the `init-secrets` service must run /usr/local/bin/mercato-init-secrets")
gen_dir = (gen.get("entrypoint") or [None, None])[1]
F.check(mounts(gen).get(gen_dir, (None,))[0] == "secrets", "the `init-secrets` service must write into the volume `secrets`")

# --- the processes ------------------------------------------------------------------------
for name, port in m.PROCESSES.items():
    s = svcs.get(name)
    if not F.check(s is not None, f"docker-compose.yml has no service `{name}`"):
        continue
    w = f"docker-compose.yml: {name}"
    b = s.get("build", {})
    F.check(b.get("dockerfile") == f"deploy/docker/{name}.Dockerfile" and os.path.samefile(b.get("context", "/"), m.ROOT),
            f"{w}: must build deploy/docker/{name}.Dockerfile from the repository root")
    F.check(s.get("read_only") is True, f"{w}: needs read_only: true")
    F.check("ALL" in (s.get("cap_drop") or []), f"{w}: needs cap_drop: [ALL]")
    F.check("no-new-privileges:true" in (s.get("security_opt") or []), f"{w}: needs no-new-privileges")
    F.check(s.get("restart") in ("unless-stopped", "always"), f"{w}: should restart after a crash")
    e = {k: v for k, v in (s.get("environment") or {}).items()}
    for var in e:
        F.check(var in reads or var in m.urls_needed("gateway", edges),
                f"{w}: sets {var}, which no process reads")
        F.check(var in docs, f"{w}: sets {var}, which {m.CONFIG_DOC} does not document")
    F.check(e.get("HOST") in (None, "0.0.0.0"), f"{w}: HOST must be 0.0.0.0 (or the image's)")
    F.check(e.get("PORT") in (None, str(port)), f"{w}: PORT must stay {port}")
    deadline = int(e.get("SHUTDOWN_TIMEOUT_MS", "10000")) / 1000
    grace = duration_s(s.get("stop_grace_period", "10s"))
    F.check(grace >= deadline + 2, f"{w}: stop_grace_period {grace:g} s leaves no margin over SHUTDOWN_TIMEOUT_MS "
                                   f"({deadline:g} s): the process would be killed mid-shutdown")
    F.check(s.get("stop_signal", "SIGTERM") == "SIGTERM", f"{w}: stop_signal must be SIGTERM")
    # Calls to other services.
    urls = {k for k in e if re.fullmatch(r"[A-Z]+_URL", k) and k != "REDIS_URL"}
    F.check(urls == m.urls_needed(name, edges),
            f"{w}: has the URLs {sorted(urls)}, but docs/services.md says it calls {sorted(m.urls_needed(name, edges))}")
    for var in urls:
        callee = var[:-4].lower()
        F.check(e[var] == f"http://{callee}:{m.PROCESSES.get(callee)}", f"{w}: {var}={e[var]} is not the {callee} service")
    key = {"INTERNAL_API_KEY", "INTERNAL_API_KEY_FILE"} & set(e)
    F.check(bool(key) == m.needs_internal_key(name, edges),
            f"{w}: {'has' if key else 'lacks'} the internal key, but docs/services.md says it "
            f"{'makes or serves' if m.needs_internal_key(name, edges) else 'neither makes nor serves'} internal calls")
    F.check("INTERNAL_API_KEY" not in e and "JWT_SECRET" not in e, f"{w}: secrets go in files, not in the compose file")
    # Secret files: inside a mounted volume that the generator fills.
    ms = mounts(s)
    for var in [v for v in e if v.endswith("_FILE")]:
        d, f = os.path.split(e[var])
        F.check(ms.get(d, (None,))[0] == "secrets" and ms[d][1], f"{w}: {var} is not in the read-only `secrets` volume")
        F.check(f in generated and d == gen_dir, f"{w}: {var}={e[var]} is not a file init-secrets.sh writes")
    d = deps(s)
    if any(v.endswith("_FILE") for v in e):
        F.check(d.get("init-secrets") == "service_completed_successfully", f"{w}: must wait for the `init-secrets` service")
    F.check(d.get("redis") == "service_healthy", f"{w}: must start after Redis is healthy")
    # Databases: services only.
    if name == "gateway":
        F.check("MONGODB_URI" not in e, f"{w}: the gateway has no database")
        for callee in [c for (a, c) in edges if a == "gateway"]:
            F.check(d.get(callee) == "service_healthy", f"{w}: should start after {callee} is healthy")
    else:
        uri = e.get("MONGODB_URI", "")
        F.check(re.match(r"^mongodb://mongodb:27017/\?replicaSet=(\w+)$", uri) is not None,
                f"{w}: MONGODB_URI={uri!r} should be mongodb://mongodb:27017/?replicaSet=<the set>")
        F.check(d.get("mongodb-init") == "service_completed_successfully",
                f"{w}: must start after mongodb-init has made the replica set")
    F.check(e.get("REDIS_URL", "").startswith("redis://redis:6379/"), f"{w}: REDIS_URL should point at the redis service")
    for p in s.get("ports", []):
        F.check(p.get("target") == port, f"{w}: publishes container port {p.get('target')}, not {port}")
        if name != "gateway":
            F.check(p.get("host_ip") == "127.0.0.1", f"{w}: published beyond the loopback interface; only the gateway is")

F.check(any(p.get("host_ip") in (None, "", "0.0.0.0") for p in svcs.get("gateway", {}).get("ports", [])),
        "the gateway is not published")

# --- MongoDB, its init, Redis ---------------------------------------------------------------
mongo = svcs.get("mongodb", {})
F.check(re.fullmatch(r"mongo:7(\.\d+)*", mongo.get("image", "")) is not None, f"MongoDB must be mongo:7, is {mongo.get('image')}")
cmd = mongo.get("command") or []
rs = cmd[cmd.index("--replSet") + 1] if "--replSet" in cmd else None
F.check(rs is not None and "--bind_ip_all" in cmd, f"mongod must run with --replSet and --bind_ip_all: {cmd}")
F.check("healthcheck" in mongo, "mongodb needs a healthcheck (mongodb-init waits for it)")
F.check(any(t == "/data/db" for t in mounts(mongo)), "mongodb keeps its data in a volume at /data/db")
for name in m.PROCESSES:
    uri = (svcs.get(name, {}).get("environment") or {}).get("MONGODB_URI")
    if uri:
        F.check(uri.endswith(f"replicaSet={rs}"), f"{name}: MONGODB_URI names another replica set than mongod's {rs}")
mi = svcs.get("mongodb-init", {})
F.check(mi.get("image") == mongo.get("image"), "mongodb-init should use the MongoDB image (its mongosh)")
F.check(deps(mi).get("mongodb") == "service_healthy", "mongodb-init must wait for mongodb to be healthy")
F.check(mi.get("restart") in ("no", None), "mongodb-init is a one-shot container")
script = [(src, t) for t, (src, ro) in mounts(mi).items() if t in (mi.get("command") or [])]
if F.check(len(script) == 1, f"mongodb-init must run a mounted script: {mi.get('command')}"):
    src = script[0][0]
    js = open(src).read()
    F.check(f'_id: "{rs}"' in js and 'host: "mongodb:27017"' in js,
            f"{m.rel(src)} must initiate the replica set {rs} with the member mongodb:27017")
    r = subprocess.run(["node", "--check", src], capture_output=True, text=True)
    F.check(r.returncode == 0, f"{m.rel(src)} does not parse: {r.stderr}")
redis = svcs.get("redis", {})
F.check(re.fullmatch(r"redis:7(\.\d+)*", redis.get("image", "")) is not None, f"Redis must be redis:7, is {redis.get('image')}")
F.check("--appendonly" in (redis.get("command") or []), "Redis should keep an append-only file")
F.check("healthcheck" in redis, "redis needs a healthcheck")
for db in ("mongodb", "redis", "mongodb-init"):
    F.check(not svcs.get(db, {}).get("ports"), f"{db} must not be published")

# --- the seed -------------------------------------------------------------------------------
seed = svcs.get("seed", {})
F.check(seed.get("build", {}).get("dockerfile") == "deploy/docker/seed.Dockerfile", "seed must build deploy/docker/seed.Dockerfile")
F.check(seed.get("restart") in ("no", None), "seed is a one-shot container")
se = seed.get("environment") or {}
seed_src = m.read("scripts/seed.py")
for name in [n for n in m.PROCESSES if n != "gateway"]:
    F.check(deps(seed).get(name) == "service_healthy", f"seed must wait for {name} to be healthy")
    F.check(se.get(name.upper() + "_URL") == f"http://{name}:{m.PROCESSES[name]}", f"seed needs {name.upper()}_URL")
for var in se:
    F.check(var in docs, f"seed: sets {var}, which {m.CONFIG_DOC} does not document")
F.check("JWT_SECRET_FILE" in se and os.path.dirname(se["JWT_SECRET_FILE"]) in mounts(seed),
        "seed needs JWT_SECRET_FILE in a mounted volume (it signs its admin token)")
F.check(int(se.get("MERCATO_SEED_WAIT_SECONDS", "0")) > 0, "seed should wait for the services (MERCATO_SEED_WAIT_SECONDS)")
F.check(svcs.get("init-secrets", {}).get("image") == seed.get("image"), "the secrets generator comes from the seed image")

# Hardening of the one-shot containers of our own images.
for name in ("seed", "init-secrets"):
    s = svcs.get(name, {})
    F.check(s.get("read_only") is True and "ALL" in (s.get("cap_drop") or []), f"{name}: harden it like the processes")

for v in ("mongodb", "redis", "secrets"):
    F.check(v in volumes, f"the volume {v} is missing")

print(f"{len(svcs)} services")
F.finish()
