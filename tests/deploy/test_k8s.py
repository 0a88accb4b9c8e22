#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/k8s), checked without a cluster. Each overlay is
rendered with kustomize (built by scripts/setup from a pinned module), then:

- every object validates strictly (unknown fields refused) against the Kubernetes API's
  JSON schemas of the oldest and the newest version we support (kubernetes-validate ships
  them; nothing is downloaded);
- every workload: non-root, no privilege escalation, no capabilities, read-only root file
  system, seccomp RuntimeDefault, requests and limits for CPU and memory, a pinned image,
  no service account token;
- every process: a Deployment whose selector matches its pod labels, liveness on /health,
  readiness on /ready, a startup probe, probes and Service pointing at the container port,
  which is the process's port; a preStop pause and a termination grace period longer than
  the pause plus SHUTDOWN_TIMEOUT_MS; a PodDisruptionBudget; HorizontalPodAutoscalers for
  the gateway, product and order, targeting Deployments that leave the replica count to
  them;
- configuration: every variable set for a process is documented and read by the
  processes; each process gets the URLs of exactly the services it calls and the internal
  key exactly when docs/services.md's call table says so; every ConfigMap, Secret and key a
  pod references exists in the render, or, for the Secrets an operator creates
  (production), is listed in docs/operations.md and in the overlay's secrets.example.yaml
  (a template of marked placeholders the processes refuse, never applied by the overlay);
  the committed development keys say they are not secrets;
- NetworkPolicies: the connections they allow, computed pair by pair, are exactly the call
  table's (plus DNS), only the gateway is reachable from outside the namespace, only the
  services reach MongoDB's port and only the gateway and the services Redis's."""
import os
import re
import subprocess

import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils

import mcdeploy as m

F = m.Failures("k8s")
K8S = os.path.join(m.ROOT, "deploy/k8s")
KUSTOMIZE = os.path.join(m.TOOLS, "bin/kustomize")
OVERLAYS = ["dev", "production"]
K8S_VERSIONS = ["1.29.0", kv_utils.latest_version()]
HPA_PROCESSES = {"gateway", "product", "order"}
MONGODB_PORT, REDIS_PORT = 27017, 6379

reads, _, _ = m.process_env_reads()
docs_vars = m.documented_vars()
edges = m.call_graph()


def render(path):
    r = subprocess.run([KUSTOMIZE, "build", path], capture_output=True, text=True)
    if not F.check(r.returncode == 0, f"kustomize build {m.rel(path)} failed: {r.stderr.strip()}"):
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def pod_spec(obj):
    if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
        return obj["spec"]["template"]["spec"], obj["spec"]["template"]["metadata"].get("labels", {})
    if obj["kind"] == "CronJob":
        t = obj["spec"]["jobTemplate"]["spec"]["template"]
        return t["spec"], t["metadata"].get("labels", {})
    return None, None


def selector_matches(sel, labels):
    """A LabelSelector (matchLabels and matchExpressions) against a label map."""
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def container_port(container, port):
    """Resolves a probe's or Service's port (number or name) to a number, or None."""
    for p in container.get("ports") or []:
        if port in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return port if isinstance(port, int) else None


def quantity(q, cpu):
    q = str(q)
    if cpu:
        return float(q[:-1]) / 1000 if q.endswith("m") else float(q)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[:-len(u)]) * f
    return float(q)


# --- NetworkPolicy evaluation ---------------------------------------------------------------
# An endpoint is a pod of the namespace {"labels", "ports": {name: number}} or, for the
# outside world (another namespace, the Ingress controller, a managed database), None.


def peer_matches(peer, ep):
    if ep is None:
        # Outside the namespace: a namespaceSelector (any) or an ipBlock reaches it.
        return "namespaceSelector" in peer or "ipBlock" in peer
    if "ipBlock" in peer:
        return False  # pod addresses are not what our ipBlocks are for
    if "namespaceSelector" in peer:
        return False  # our pods are not in the other namespaces these select
    return selector_matches(peer.get("podSelector", {}), ep["labels"])


def port_matches(rule_ports, port, dst):
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            want = dst["ports"].get(want) if dst else None
        end = p.get("endPort", want)
        if want is not None and want <= port <= end:
            return True
    return False


def allowed(policies, src, dst, port):
    """Whether src may open a TCP connection to dst:port under the policies of the
    namespace (both ends must allow it when they are pods of the namespace)."""
    def side(direction, me, other):
        sel = [p for p in policies if direction in p["spec"].get("policyTypes", ["Ingress"])
               and selector_matches(p["spec"]["podSelector"], me["labels"])]
        if not sel:
            return True  # not isolated
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for p in sel:
            for rule in p["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(peer_matches(x, other) for x in peers):
                    continue
                if port_matches(rule.get("ports"), port, dst if direction == "Egress" else me):
                    return True
        return False

    ok = True
    if src is not None:
        ok = side("Egress", src, dst)
    if ok and dst is not None:
        ok = side("Ingress", dst, src)
    return ok


# --- the checks ---------------------------------------------------------------------------------
secret_docs = {}
ops = m.read("docs/operations.md")
for line in ops.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 3 and re.fullmatch(r"`mercato-[\w-]+`", cells[0]):
        for key in re.findall(r"`([\w.-]+)`", cells[1]):
            secret_docs.setdefault(cells[0].strip("`"), set()).add(key)
F.check(len(secret_docs) >= 4, f"docs/operations.md lists no Secrets and keys (found {secret_docs})")

F.check(len(render(os.path.join(K8S, "base"))) > 0, "the base does not render")

for overlay in OVERLAYS:
    objs = render(os.path.join(K8S, "overlays", overlay))
    if not objs:
        continue
    w = f"overlays/{overlay}"
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    # Schemas.
    for o in objs:
        for v in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(o, v, strict=True)
                F.check(True, "")
            except Exception as e:  # ValidationError, SchemaNotFoundError, ...
                F.fail(f"{w}: {o['kind']}/{o['metadata']['name']} is not valid for Kubernetes {v}: "
                       f"{str(e).splitlines()[0]}")

    # Everything is namespaced into the overlay's namespace.
    nss = [n for n in by_kind.get("Namespace", {})]
    F.check(len(nss) == 1, f"{w}: expected one Namespace, found {nss}")
    ns = nss[0] if nss else None
    if ns:
        F.check(by_kind["Namespace"][ns]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
                == "restricted", f"{w}: the namespace should enforce the restricted Pod Security profile")
    for o in objs:
        if o["kind"] != "Namespace":
            F.check(o["metadata"].get("namespace") == ns, f"{w}: {o['kind']}/{o['metadata']['name']} is not in {ns}")

    configmaps = by_kind.get("ConfigMap", {})
    secrets = {n: set((s.get("data") or {}) | (s.get("stringData") or {})) for n, s in by_kind.get("Secret", {}).items()}

    external = set()  # (Secret, key) the overlay references but does not create

    def need_secret(where, name, key):
        if name in secrets:
            F.check(key is None or key in secrets[name], f"{where}: the Secret {name} has no key {key}")
        else:
            external.add((name, key))
            F.check(name in secret_docs and (key is None or key in secret_docs[name]),
                    f"{where}: references the Secret {name}" + (f" key {key}" if key else "")
                    + ", which the overlay does not create and docs/operations.md does not list")

    # Committed secrets are development values that say so.
    for n, s in by_kind.get("Secret", {}).items():
        F.check(overlay == "dev", f"{w}: defines the Secret {n}; production Secrets are created by the operator")
        import base64
        for k, v in (s.get("data") or {}).items():
            val = base64.b64decode(v).decode()
            if not re.match(r"^(mongodb|redis)://", val):
                F.check("not-a-secret" in val, f"{w}: Secret {n} key {k} does not say it is not a secret")

    workloads = [o for o in objs if pod_spec(o)[0] is not None]
    endpoints = {}
    for o in workloads:
        spec, labels = pod_spec(o)
        ow = f"{w}: {o['kind']}/{o['metadata']['name']}"
        sc = spec.get("securityContext") or {}
        F.check(spec.get("automountServiceAccountToken") is False, f"{ow}: mounts a service account token")
        F.check((sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{ow}: needs seccompProfile RuntimeDefault")
        for c in spec.get("initContainers", []) + spec["containers"]:
            cw = f"{ow} container {c['name']}"
            csc = c.get("securityContext") or {}
            F.check(csc.get("runAsNonRoot", sc.get("runAsNonRoot")) is True, f"{cw}: not runAsNonRoot")
            F.check(csc.get("runAsUser", sc.get("runAsUser", 1)) != 0, f"{cw}: runs as user 0")
            F.check(csc.get("allowPrivilegeEscalation") is False, f"{cw}: allows privilege escalation")
            F.check(csc.get("readOnlyRootFilesystem") is True, f"{cw}: root file system is writable")
            F.check((csc.get("capabilities") or {}).get("drop") == ["ALL"], f"{cw}: does not drop all capabilities")
            F.check(not (csc.get("capabilities") or {}).get("add"), f"{cw}: adds capabilities")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    F.check(r in (res.get(kind) or {}), f"{cw}: no {r} {kind}")
            if "cpu" in (res.get("requests") or {}) and "cpu" in (res.get("limits") or {}):
                F.check(quantity(res["requests"]["cpu"], True) <= quantity(res["limits"]["cpu"], True), f"{cw}: cpu request > limit")
                F.check(quantity(res["requests"]["memory"], False) <= quantity(res["limits"]["memory"], False),
                        f"{cw}: memory request > limit")
            img = c.get("image", "")
            F.check(re.search(r":[\w.-]+$", img.split("/")[-1]) is not None and not img.endswith(":latest"),
                    f"{cw}: image {img} has no pinned tag")
            # References to ConfigMaps and Secrets.
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    F.check(ef["configMapRef"]["name"] in configmaps, f"{cw}: envFrom ConfigMap {ef['configMapRef']['name']} is missing")
                if "secretRef" in ef:
                    need_secret(cw, ef["secretRef"]["name"], None)
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {})
                if "secretKeyRef" in ref:
                    need_secret(cw, ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
                if "configMapKeyRef" in ref:
                    cm = configmaps.get(ref["configMapKeyRef"]["name"])
                    F.check(cm is not None and ref["configMapKeyRef"]["key"] in (cm.get("data") or {}),
                            f"{cw}: ConfigMap key {ref['configMapKeyRef']} is missing")
            vols = {v["name"]: v for v in spec.get("volumes") or []}
            for vm in c.get("volumeMounts") or []:
                F.check(vm["name"] in vols or vm["name"] in [t["metadata"]["name"] for t in o["spec"].get("volumeClaimTemplates", [])],
                        f"{cw}: mounts the undefined volume {vm['name']}")
        for v in spec.get("volumes") or []:
            if "secret" in v:
                items = v["secret"].get("items") or [{"key": None}]
                for it in items:
                    need_secret(f"{ow} volume {v['name']}", v["secret"]["secretName"], it["key"])
            if "configMap" in v:
                F.check(v["configMap"]["name"] in configmaps, f"{ow}: volume ConfigMap {v['configMap']['name']} is missing")
        ports = {p.get("name", str(p["containerPort"])): p["containerPort"] for c in spec["containers"] for p in c.get("ports") or []}
        endpoints[o["metadata"]["name"]] = {"labels": labels, "ports": ports}

    # The processes.
    config = {}
    for cm in configmaps.values():
        if cm["metadata"]["name"].startswith("mercato-config"):
            config = cm.get("data") or {}
    for name, port in m.PROCESSES.items():
        d = by_kind.get("Deployment", {}).get(name)
        pw = f"{w}: Deployment/{name}"
        if not F.check(d is not None, f"{w}: no Deployment {name}"):
            continue
        spec, labels = pod_spec(d)
        F.check(selector_matches(d["spec"]["selector"], labels), f"{pw}: the selector does not match the pod labels")
        F.check(labels.get("app.kubernetes.io/part-of") == "mercato", f"{pw}: pods lack app.kubernetes.io/part-of=mercato")
        others = [o for o in workloads if o is not d and selector_matches(d["spec"]["selector"], pod_spec(o)[1])]
        F.check(not others, f"{pw}: its selector also matches {[o['metadata']['name'] for o in others]}")
        F.check(spec.get("enableServiceLinks") is False, f"{pw}: service links would add variables like AUTH_PORT")
        c = spec["containers"][0]
        F.check(len(spec["containers"]) == 1 and c["image"].split("/")[-1].split(":")[0] == name,
                f"{pw}: should run one container of the {name} image")
        F.check([p["containerPort"] for p in c.get("ports", [])] == [port], f"{pw}: container port should be {port}")
        probes = {k: c.get(k) for k in ("livenessProbe", "readinessProbe", "startupProbe")}
        for k, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready"), ("startupProbe", "/health")):
            p = probes[k] or {}
            F.check((p.get("httpGet") or {}).get("path") == path, f"{pw}: {k} should GET {path}")
            F.check(container_port(c, (p.get("httpGet") or {}).get("port")) == port, f"{pw}: {k} does not probe port {port}")
            F.check(p.get("timeoutSeconds", 1) <= p.get("periodSeconds", 10), f"{pw}: {k} timeout is longer than its period")
        # Graceful termination.
        env = dict(config)
        env_list = c.get("env") or []
        for e in env_list:
            env[e["name"]] = e.get("value", "<from " + ",".join((e.get("valueFrom") or {}).keys()) + ">")
        deadline = int(env.get("SHUTDOWN_TIMEOUT_MS", "10000")) / 1000
        pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
        pause = float(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else 0
        F.check(pause >= 3, f"{pw}: needs a preStop pause (sleep) so endpoint removal reaches the proxies before SIGTERM")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        F.check(grace >= pause + deadline + 2,
                f"{pw}: terminationGracePeriodSeconds {grace} < preStop {pause:g} s + SHUTDOWN_TIMEOUT_MS {deadline:g} s + 2 s: "
                f"the process would be killed during its graceful shutdown")
        # Settings.
        F.check(env.get("HOST") == "0.0.0.0", f"{pw}: HOST must be 0.0.0.0")
        F.check(env.get("PORT", str(port)) == str(port), f"{pw}: PORT must be {port}")
        for var in env:
            F.check(var in docs_vars, f"{pw}: sets {var}, which {m.CONFIG_DOC} does not document")
            F.check(var in reads or var in m.urls_needed("gateway", edges), f"{pw}: sets {var}, which no process reads")
        urls = {k for k in env if re.fullmatch(r"[A-Z]+_URL", k) and k != "REDIS_URL"}
        F.check(urls == m.urls_needed(name, edges),
                f"{pw}: has the URLs {sorted(urls)}, but docs/services.md says it calls {sorted(m.urls_needed(name, edges))}")
        for var in urls:
            callee = var[:-4].lower()
            F.check(env[var] == f"http://{callee}:{m.PROCESSES.get(callee)}", f"{pw}: {var}={env[var]} is not the {callee} Service")
        key = {"INTERNAL_API_KEY", "INTERNAL_API_KEY_FILE"} & set(env)
        F.check(bool(key) == m.needs_internal_key(name, edges),
                f"{pw}: {'has' if key else 'lacks'} the internal key, contrary to docs/services.md's call table")
        F.check("INTERNAL_API_KEY" not in env and "JWT_SECRET" not in env, f"{pw}: secrets go in files, not in variables")
        F.check(("MONGODB_URI" in env) == (name != "gateway"), f"{pw}: MONGODB_URI is for the services only")
        F.check("REDIS_URL" in env, f"{pw}: needs REDIS_URL")
        for var in [v for v in env if v.endswith("_FILE")]:
            path = env[var]
            mounted = [vm for vm in c.get("volumeMounts") or [] if path.startswith(vm["mountPath"].rstrip("/") + "/")]
            F.check(len(mounted) == 1, f"{pw}: {var}={path} is not in a mounted volume")
            if mounted:
                vol = next((v for v in spec.get("volumes") or [] if v["name"] == mounted[0]["name"]), {})
                rel_path = path[len(mounted[0]["mountPath"].rstrip("/")) + 1:]
                items = [it["path"] for it in (vol.get("secret") or {}).get("items") or []]
                F.check(rel_path in items, f"{pw}: {var} names {rel_path}, which the volume {vol.get('name')} does not project")
                F.check((vol.get("secret") or {}).get("defaultMode") == 0o440,
                        f"{pw}: the secret volume {vol.get('name')} should be mode 0440 (owner and the pod's group)")
        jwt_alg = env.get("JWT_ALG")
        F.check(jwt_alg in ("HS256", "RS256"), f"{pw}: JWT_ALG is {jwt_alg}")
        if jwt_alg == "RS256":
            F.check("JWT_PUBLIC_KEY_FILE" in env and ("JWT_PRIVATE_KEY_FILE" in env) == (name == "auth"),
                    f"{pw}: with RS256 every process verifies with the public key and only auth holds the private one")
        # Service.
        s = by_kind.get("Service", {}).get(name)
        if F.check(s is not None, f"{w}: no Service {name}"):
            F.check(selector_matches({"matchLabels": s["spec"]["selector"]}, labels), f"{w}: Service/{name} does not select its pods")
            sp = s["spec"]["ports"]
            F.check(len(sp) == 1 and sp[0]["port"] == port and container_port(c, sp[0].get("targetPort")) == port,
                    f"{w}: Service/{name} should map port {port} to the container port")
            F.check(s["spec"].get("type", "ClusterIP") == "ClusterIP", f"{w}: Service/{name} must not be exposed by itself")
        # Disruptions and scaling.
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values() if selector_matches(p["spec"]["selector"], labels)]
        F.check(len(pdbs) == 1, f"{w}: {name} needs one PodDisruptionBudget, has {len(pdbs)}")
        for p in pdbs:
            F.check(p["spec"].get("maxUnavailable", 0) >= 1 or p["spec"].get("minAvailable", 1) < (d["spec"].get("replicas") or 1),
                    f"{w}: PodDisruptionBudget/{p['metadata']['name']} would block every eviction")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values() if h["spec"]["scaleTargetRef"]["name"] == name]
        if name in HPA_PROCESSES:
            if F.check(len(hpas) == 1, f"{w}: {name} needs a HorizontalPodAutoscaler"):
                h = hpas[0]["spec"]
                F.check(h["scaleTargetRef"]["kind"] == "Deployment", f"{w}: the {name} autoscaler must target the Deployment")
                F.check("replicas" not in d["spec"], f"{pw}: sets replicas, which every apply would reset under the autoscaler")
                F.check(1 <= h.get("minReplicas", 1) <= h["maxReplicas"], f"{w}: the {name} autoscaler's bounds are wrong")
                F.check(any(x["type"] == "Resource" for x in h.get("metrics", [])), f"{w}: the {name} autoscaler has no metric")
        else:
            F.check(not hpas, f"{w}: {name} has an autoscaler but is not expected to")
            F.check(d["spec"].get("replicas", 1) >= 1, f"{pw}: no replicas")
        if overlay == "production":
            F.check((d["spec"].get("replicas") or min((hh["spec"].get("minReplicas", 1) for hh in hpas), default=1)) >= 2,
                    f"{pw}: production needs at least two replicas")

    for h in by_kind.get("HorizontalPodAutoscaler", {}).values():
        F.check(h["spec"]["scaleTargetRef"]["name"] in by_kind.get("Deployment", {}),
                f"{w}: HorizontalPodAutoscaler/{h['metadata']['name']} targets a missing Deployment")

    # NetworkPolicies.
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    F.check(any(p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies),
            f"{w}: no default-deny NetworkPolicy")
    procs = {n: endpoints[n] for n in m.PROCESSES if n in endpoints}
    for a, src in procs.items():
        for b, dst in procs.items():
            if a == b:
                continue
            want = (a, b) in edges
            got = allowed(policies, src, dst, m.PROCESSES[b])
            F.check(got == want, f"{w}: NetworkPolicies {'allow' if got else 'refuse'} {a} -> {b}:{m.PROCESSES[b]}, "
                                 f"but docs/services.md's call table says it {'calls' if want else 'does not call'} it")
            # No other port of b either.
            F.check(not allowed(policies, src, dst, 9999), f"{w}: {a} may reach {b} on any port")
        F.check(allowed(policies, None, src, m.PROCESSES[a]) == (a == "gateway"),
                f"{w}: {a} is {'not ' if a == 'gateway' else ''}reachable from outside the namespace")
        F.check(allowed(policies, src, None, MONGODB_PORT) == (a != "gateway"),
                f"{w}: {a} {'cannot' if a != 'gateway' else 'can'} reach MongoDB's port outside the namespace")
        F.check(allowed(policies, src, None, REDIS_PORT), f"{w}: {a} cannot reach Redis outside the namespace")
        F.check(not allowed(policies, src, None, 5432), f"{w}: {a} may open connections anywhere")
    dns = {"labels": {"k8s-app": "kube-dns"}, "ports": {}}
    for n, ep in endpoints.items():
        ok = any(
            "Egress" in p["spec"].get("policyTypes", []) and selector_matches(p["spec"]["podSelector"], ep["labels"])
            and any(port_matches(r.get("ports"), 53, None) and any("namespaceSelector" in x for x in r.get("to") or [])
                    for r in p["spec"].get("egress") or []) for p in policies)
        F.check(ok, f"{w}: {n} cannot resolve names (no DNS egress)")
    del dns
    # Databases inside the namespace (development): who reaches them.
    for db, port, who in (("mongodb", MONGODB_PORT, {"auth", "product", "order", "category", "coupon", "mongodb-init", "mongodb"}),
                          ("redis", REDIS_PORT, set(m.PROCESSES))):
        if db not in endpoints:
            continue
        for n, ep in endpoints.items():
            if n == db and db == "redis":
                continue
            got = allowed(policies, ep, endpoints[db], port)
            F.check(got == (n in who), f"{w}: {n} {'may' if got else 'may not'} reach {db}:{port}")
        F.check(not allowed(policies, None, endpoints[db], port), f"{w}: {db} is reachable from outside the namespace")

    # The seed job (development): reaches every service, gets what it needs.
    seed = by_kind.get("Job", {}).get("seed")
    if overlay == "dev" and F.check(seed is not None, f"{w}: no seed Job"):
        spec, labels = pod_spec(seed)
        env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env") or []}
        for n in m.PROCESSES:
            if n == "gateway":
                continue
            F.check(env.get(n.upper() + "_URL") == f"http://{n}:{m.PROCESSES[n]}", f"{w}: the seed needs {n.upper()}_URL")
            F.check(allowed(policies, endpoints["seed"], endpoints[n], m.PROCESSES[n]), f"{w}: the seed cannot reach {n}")
        F.check(int(env.get("MERCATO_SEED_WAIT_SECONDS") or 0) > 0, f"{w}: the seed should wait for the services")
        F.check(config.get("JWT_ALG") == "HS256" and env.get("JWT_SECRET_FILE") == config.get("JWT_SECRET_FILE"),
                f"{w}: the seed signs with the processes' HS256 key file")
        for var in env:
            F.check(var in docs_vars, f"{w}: the seed sets {var}, which {m.CONFIG_DOC} does not document")
    if overlay == "production":
        ing = list(by_kind.get("Ingress", {}).values())
        if F.check(len(ing) == 1, f"{w}: expected one Ingress"):
            spec = ing[0]["spec"]
            backends = [p["backend"]["service"]["name"] for r in spec["rules"] for p in r["http"]["paths"]]
            F.check(set(backends) == {"gateway"}, f"{w}: the Ingress must lead to the gateway only, leads to {backends}")
            F.check(all(t.get("secretName") for t in spec.get("tls") or []) and spec.get("tls"), f"{w}: the Ingress needs TLS")
            for t in spec.get("tls") or []:
                need_secret(f"{w}: Ingress", t["secretName"], "tls.crt")
                need_secret(f"{w}: Ingress", t["secretName"], "tls.key")
    # The operator's Secrets: the overlay's template of them matches what it references.
    example = os.path.join(K8S, "overlays", overlay, "secrets.example.yaml")
    if external or os.path.exists(example):
        if F.check(os.path.exists(example), f"{w}: references Secrets it does not create but has no secrets.example.yaml"):
            kust = yaml.safe_load(open(os.path.join(K8S, "overlays", overlay, "kustomization.yaml")))
            F.check("secrets.example.yaml" not in (kust.get("resources") or []),
                    f"{w}: secrets.example.yaml must not be a resource (applying would overwrite the real Secrets)")
            templ = set()
            for d in yaml.safe_load_all(open(example)):
                for v in K8S_VERSIONS:
                    try:
                        kubernetes_validate.validate(d, v, strict=True)
                    except Exception as e:
                        F.fail(f"{w}: secrets.example.yaml Secret/{d['metadata']['name']} is not valid for {v}: "
                               f"{str(e).splitlines()[0]}")
                for k, val in (d.get("stringData") or {}).items():
                    templ.add((d["metadata"]["name"], k))
                    F.check("REPLACE-ME" in val, f"{w}: secrets.example.yaml {d['metadata']['name']}/{k} is not a marked placeholder")
                    if k in ("internal-api-key", "secret"):
                        F.check(len(val) < 32, f"{w}: the placeholder of {k} is long enough for a process to accept it")
                F.check(not d.get("data"), f"{w}: secrets.example.yaml must hold placeholders (stringData), not data")
            F.check(templ == external,
                    f"{w}: secrets.example.yaml has {sorted(templ - external)} that nothing references and lacks "
                    f"{sorted(external - templ)} that the overlay references")
    print(f"{w}: {len(objs)} objects")

F.finish()
