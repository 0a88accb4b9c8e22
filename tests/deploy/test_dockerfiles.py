#!/usr/bin/env python3
"""The container images (deploy/docker/*.Dockerfile), checked without a Docker engine:

- hadolint (with deploy/docker/hadolint.yaml) finds nothing in any Dockerfile, and
  shellcheck nothing in the scripts the images carry;
- every process has a Dockerfile with the same build stage (one compile for all images)
  and a runtime stage on Debian slim that runs as a non-root user, listens on 0.0.0.0 on
  the process's port, exposes it, checks /health, and starts the process directly;
- the build stage installs (itself or through Debian's dependencies) every package the
  build needs: the owners of the pkg-config files CMake asks for, of every header the
  servers' sources pull in (found with the compiler's own dependency listing) and of the
  link-time library of every shared library the binaries link;
- the runtime stage installs exactly the packages of the shared libraries the built
  binary links (ldd's view of its NEEDED entries), plus ca-certificates and, for a binary
  linking libwebsockets, its libuv event-loop plugin (loaded at run time, so not NEEDED);
- every file copied from the build context passes .dockerignore and exists, and the build
  stage's CMake commands configure (and dry-run the build) on exactly the files
  .dockerignore admits;
- every variable an image sets is documented and read by the processes.

Usage: test_dockerfiles.py --build-dir DIR [--binary NAME=PATH ...]
(the binaries of the processes that exist in this build)."""
import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import mcdeploy as m

PROCESSES = m.PROCESSES
F = m.Failures("dockerfiles")
ap = argparse.ArgumentParser()
ap.add_argument("--build-dir", required=True)
ap.add_argument("--binary", action="append", default=[])
args = ap.parse_args()
binaries = dict(b.split("=", 1) for b in args.binary)

# --- parsing ----------------------------------------------------------------------------


def instructions(path):
    """[(line number, KEYWORD, arguments)] with continuation lines joined and comments
    dropped."""
    out, buf, start = [], "", 0
    for n, line in enumerate(m.read(path).splitlines(), 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if not buf:
            start = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        kw, _, rest = buf.partition(" ")
        out.append((start, kw.upper(), rest.strip()))
        buf = ""
    return out


def stages(instrs):
    """[(FROM arguments, [instructions])]."""
    out = []
    for ins in instrs:
        if ins[1] == "FROM":
            out.append((ins[2], []))
        elif out:
            out[-1][1].append(ins)
    return out


def apt_packages(stage_instrs):
    pkgs = []
    for _, kw, rest in stage_instrs:
        if kw != "RUN":
            continue
        for part in re.split(r"&&|;", rest):
            toks = shlex.split(part)
            if len(toks) >= 2 and toks[0] == "apt-get" and "install" in toks:
                pkgs += [t for t in toks[toks.index("install") + 1:] if not t.startswith("-")]
    return pkgs


def env_settings(stage_instrs):
    env = {}
    for _, kw, rest in stage_instrs:
        if kw == "ENV":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                env[k] = v
    return env


def dockerignore_allows(path, patterns):
    """Whether the build context holds `path` under .dockerignore's rules (the last
    matching pattern decides; a pattern matching a directory covers what is inside)."""
    allowed = True
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.strip("/")
        p_re = fnmatch.translate(p).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        if p.startswith("**/"):
            p_re = "(.*/)?" + fnmatch.translate(p[3:])
        if any(re.match(p_re, pre) for pre in prefixes):
            allowed = neg
    return allowed


_owners = {}


def dpkg_owners(paths):
    """Maps each path to the Debian packages that own it (one dpkg call for all)."""
    todo = [p for p in dict.fromkeys(paths) if p not in _owners]
    for i in range(0, len(todo), 200):
        chunk = todo[i:i + 200]
        r = subprocess.run(["dpkg", "-S"] + chunk, capture_output=True, text=True)
        for line in r.stdout.splitlines():
            if line.startswith("diversion") or ": " not in line:
                continue
            owners, path = line.rsplit(": ", 1)
            _owners[path] = {o.strip().split(":")[0] for o in owners.split(",")}
        for p in chunk:
            if p not in _owners and p.startswith("/usr/lib/"):
                # usrmerge: a library may be registered under /lib instead of /usr/lib.
                _owners[p] = dpkg_owners([p[4:]])[p[4:]]
            _owners.setdefault(p, set())
    return {p: _owners[p] for p in paths}


def dpkg_owner(path):
    return dpkg_owners([path])[path]


def apt_closure(pkgs):
    """The packages `apt-get install --no-install-recommends pkgs` installs: pkgs and what
    they depend on, recursively. Read from this machine's dpkg database (scripts/setup
    installs every package the build stage names), so no package lists are needed; of
    alternatives ("a | b") the installed one counts."""
    fmt = "${Package}\t${Status}\t${Pre-Depends}, ${Depends}\t${Provides}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True).stdout
    deps, provided = {}, {}
    for line in out.splitlines():
        name, status, dep, prov = (line.split("\t") + ["", "", ""])[:4]
        if not status.endswith(" installed"):
            continue
        deps[name] = dep
        provided.setdefault(name, name)
        for pr in prov.split(","):
            if pr.strip():
                provided.setdefault(pr.split()[0].strip(), name)
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        real = provided.get(p.split(":")[0])
        if real is None:
            F.fail(f"{p} (named by the build stage, or a dependency) is not installed here; run scripts/setup")
            continue
        if real in seen:
            continue
        seen.add(real)
        for alt in deps[real].split(","):
            for choice in alt.split("|"):
                n = choice.strip().split(" ")[0].split(":")[0]
                if n and n in provided:
                    todo.append(n)
                    break
    return seen


MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
LIBDIRS = [f"/usr/lib/{MULTIARCH}", f"/lib/{MULTIARCH}", "/usr/lib", "/lib"]
# Packages build-essential provides (libc headers, the compiler's own headers).
TOOLCHAIN = re.compile(r"^(libc6-dev|linux-libc-dev|libgcc-\d+-dev|gcc-\d+|libclang-common-\d+-dev|"
                       r"libclang-rt-\d+-dev|clang-\d+|libc6)$")


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def lib_path(soname):
    for d in LIBDIRS:
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    return None


# --- hadolint and shellcheck --------------------------------------------------------------
dockerfiles = sorted(glob.glob(os.path.join(m.ROOT, "deploy/docker/*.Dockerfile")))
hadolint = os.path.join(m.TOOLS, "venv/bin/hadolint")
r = subprocess.run([hadolint, "--no-color", "--config", os.path.join(m.ROOT, "deploy/docker/hadolint.yaml")]
                   + dockerfiles, capture_output=True, text=True)
F.check(r.returncode == 0, f"hadolint:\n{r.stdout}{r.stderr}")
scripts = sorted(glob.glob(os.path.join(m.ROOT, "deploy/docker/*.sh")))
r = subprocess.run(["shellcheck", "--severity=style"] + scripts, capture_output=True, text=True)
F.check(r.returncode == 0, f"shellcheck:\n{r.stdout}{r.stderr}")
for s in scripts:
    F.check(os.access(s, os.X_OK), f"{m.rel(s)} is not executable")

# --- the processes' images ----------------------------------------------------------------
ignore = [l.strip() for l in m.read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
reads, _, _ = m.process_env_reads()
docs = m.documented_vars()
build_stages = {}
runtime_pkgs = {}
for name, port in PROCESSES.items():
    path = os.path.join(m.ROOT, f"deploy/docker/{name}.Dockerfile")
    where = m.rel(path)
    if not F.check(os.path.exists(path), f"{where} is missing: every process needs its image"):
        continue
    st = stages(instructions(path))
    if not F.check(len(st) == 2, f"{where}: expected two stages (build, runtime), found {len(st)}"):
        continue
    (build_from, build), (run_from, run) = st
    F.check(build_from == "debian:bookworm AS build", f"{where}: the build stage is '{build_from}'")
    F.check(run_from == "debian:bookworm-slim", f"{where}: the runtime stage is '{run_from}'")
    build_stages[name] = [(kw, rest) for _, kw, rest in build]
    kws = {}
    for n, kw, rest in run:
        kws.setdefault(kw, []).append((n, rest))
    user = kws.get("USER", [(0, "root")])[-1][1]
    F.check(re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", user) is not None and not user.startswith("0"),
            f"{where}: runs as '{user}', expected a numeric non-root user (Kubernetes' runAsNonRoot "
            f"needs a number)")
    F.check(kws.get("EXPOSE") == [(kws["EXPOSE"][0][0], str(port))] if "EXPOSE" in kws else False,
            f"{where}: EXPOSE should be {port}")
    env = env_settings(run)
    F.check(env.get("HOST") == "0.0.0.0", f"{where}: HOST must be 0.0.0.0 in a container (found {env.get('HOST')})")
    F.check(env.get("PORT") == str(port), f"{where}: PORT should be {port} (found {env.get('PORT')})")
    for var in env:
        F.check(var in reads, f"{where}: sets {var}, which no process reads"
                + ("" if var in docs else f" and {m.CONFIG_DOC} does not document"))
    hc = kws.get("HEALTHCHECK", [])
    F.check(len(hc) == 1 and '"/usr/local/bin/mercato-healthcheck"' in hc[0][1],
            f"{where}: needs HEALTHCHECK CMD [\"/usr/local/bin/mercato-healthcheck\"]")
    F.check(kws.get("ENTRYPOINT", [(0, "")])[-1][1] == f'["/usr/local/bin/mercato-{name}"]',
            f"{where}: ENTRYPOINT should be [\"/usr/local/bin/mercato-{name}\"] (exec form: the process "
            f"itself gets SIGTERM)")
    F.check(any(f"/build/bin/mercato-{name} " in rest for _, rest in kws.get("COPY", [])),
            f"{where}: does not copy bin/mercato-{name} from the build stage")
    F.check(kws.get("STOPSIGNAL", [(0, "SIGTERM")])[-1][1] == "SIGTERM", f"{where}: STOPSIGNAL must be SIGTERM")
    runtime_pkgs[name] = (where, apt_packages(run))

# The same build stage everywhere.
if build_stages:
    ref_name = "category" if "category" in build_stages else sorted(build_stages)[0]
    for name, b in build_stages.items():
        F.check(b == build_stages[ref_name],
                f"deploy/docker/{name}.Dockerfile: the build stage differs from {ref_name}.Dockerfile's; keep "
                f"them identical so one compile serves every image")

# Files copied from the context (every Dockerfile, the seed's too).
for path in dockerfiles:
    for n, kw, rest in instructions(path):
        if kw not in ("COPY", "ADD") or "--from=" in rest:
            continue
        toks = [t for t in shlex.split(rest) if not t.startswith("--")]
        for src in toks[:-1]:
            if src == ".":
                continue
            F.check(os.path.exists(os.path.join(m.ROOT, src)), f"{m.rel(path)}:{n}: copies {src}, which does not exist")
            F.check(dockerignore_allows(src.rstrip("/"), ignore),
                    f"{m.rel(path)}:{n}: copies {src}, which .dockerignore keeps out of the build context")
# What the build stage's `COPY . .` needs is in the context, and build trees are not.
for src in ["CMakeLists.txt", "cmake/MercatoDeps.cmake", "lib/mc_config.c", "services/category/main.c"]:
    F.check(dockerignore_allows(src, ignore), f".dockerignore keeps {src} out of the build context")
for src in ["build/bin/mercato-category", ".tools/bin/ferretdb", ".data/x", "node_modules/x", ".git/HEAD",
            "tests/harness/harness.c"]:
    F.check(not dockerignore_allows(src, ignore), f".dockerignore lets {src} into the build context")

# --- the build stage's commands work on the build context ----------------------------------
# The files .dockerignore admits are copied to a scratch directory and the build stage's
# CMake commands run there: configuration for real (with the stage's options: tests off,
# which no other build uses), the build as a dry run (every source of the `processes`
# target present, the target defined). A dependency only the test build finds, or a
# source .dockerignore leaves out, fails here instead of in someone's image build.
run_cmds = [rest for kw, rest in build_stages.get("category", []) if kw == "RUN" and "cmake -S" in rest]
if F.check(len(run_cmds) == 1, f"expected one RUN with `cmake -S` in the build stage, found {len(run_cmds)}"):
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "src"), os.path.join(tmp, "build")
        skip = ("build", ".tools", ".data", ".git", "node_modules", "tests", "bench", "deploy")
        copied = 0
        for base, subdirs, files in os.walk(m.ROOT):
            relbase = os.path.relpath(base, m.ROOT)
            subdirs[:] = [d for d in subdirs if not (relbase == "." and d.startswith(skip))]
            for f in files:
                relf = os.path.normpath(os.path.join(relbase, f))
                if dockerignore_allows(relf, ignore):
                    os.makedirs(os.path.join(src, os.path.dirname(relf)), exist_ok=True)
                    shutil.copy2(os.path.join(m.ROOT, relf), os.path.join(src, relf))
                    copied += 1
        for cmd in run_cmds[0].split("&&"):
            argv = [a.replace("/build", out) for a in shlex.split(cmd)]
            if argv[0] != "cmake":
                continue
            if "--build" in argv:
                argv += ["--", "-n"]  # ninja's dry run
            r = subprocess.run(argv, cwd=src, capture_output=True, text=True)
            F.check(r.returncode == 0, f"the build stage's `{cmd.strip()}` fails on the build context ({copied} files):\n"
                                       f"{(r.stdout + r.stderr)[-3000:]}")
        F.check(os.path.exists(os.path.join(out, "build.ninja")), "the build stage's configuration made no build.ninja")

# --- the build stage's packages cover what the build uses ---------------------------------
build_pkgs = set(apt_packages([(0, kw, rest) for kw, rest in build_stages.get("category", [])]))
required = {}  # package -> why


def need(pkg_set, why):
    for p in pkg_set:
        if not TOOLCHAIN.match(p):
            required.setdefault(p, why)


deps = m.read("cmake/MercatoDeps.cmake")
deps = re.sub(r"if\(MERCATO_TESTS\).*?endif\(\)", "", deps, flags=re.S)  # test-only dependencies
modules = re.findall(r"pkg_check_modules\(\w+\s+REQUIRED\s+(?:IMPORTED_TARGET\s+)?([\w.+-]+)", deps)
F.check(len(modules) >= 8, f"found only {modules} in cmake/MercatoDeps.cmake")
seen = set()
while modules:
    mod = modules.pop()
    if mod in seen:
        continue
    seen.add(mod)
    pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True).stdout.strip()
    if not F.check(pcdir != "", f"pkg-config does not know {mod} (cmake/MercatoDeps.cmake)"):
        continue
    need(dpkg_owner(os.path.join(pcdir, mod + ".pc")), f"pkg-config module {mod}")
    for flag in ("--print-requires", "--print-requires-private"):
        out = subprocess.run(["pkg-config", flag, mod], capture_output=True, text=True).stdout
        modules += [l.split()[0] for l in out.splitlines() if l.strip()]

ccdb = os.path.join(args.build_dir, "compile_commands.json")
headers = set()
if F.check(os.path.exists(ccdb), f"{ccdb} is missing (CMAKE_EXPORT_COMPILE_COMMANDS)"):
    for e in json.load(open(ccdb)):
        f = os.path.relpath(e["file"], m.ROOT)
        if f.split("/")[0] not in m.PROCESS_DIRS:
            continue
        cmd = shlex.split(e["command"])
        out_cmd, skip = [], False
        for t in cmd:
            if skip:
                skip = False
                continue
            if t in ("-o", "-MT", "-MF", "-MQ"):
                skip = True
                continue
            if t in ("-c", "-MD", "-MMD") or t.startswith("-fsanitize"):
                continue
            out_cmd.append(t)
        r = subprocess.run(out_cmd + ["-M"], cwd=e["directory"], capture_output=True, text=True)
        if not F.check(r.returncode == 0, f"listing the headers of {f} failed: {r.stderr[:500]}"):
            continue
        for h in r.stdout.replace("\\\n", " ").split(":", 1)[1].split():
            if h.startswith("/") and not os.path.abspath(h).startswith(m.ROOT + "/"):
                headers.add(os.path.abspath(h))
F.check(any(h.endswith("/h2o.h") for h in headers), f"the header scan found no h2o.h among {len(headers)} headers")
for h, o in sorted(dpkg_owners(sorted(headers)).items()):
    F.check(bool(o), f"no Debian package owns {h}, a header the build uses")
    need(o, f"header {h}")

for name, binary in sorted(binaries.items()):
    for so in needed(binary):
        p = lib_path(so)
        if not F.check(p is not None, f"{binary} links {so}, which is not installed here"):
            continue
        dev = re.sub(r"\.so(\.[\d.]+)?$", ".so", os.path.basename(p))
        devpath = lib_path(dev)
        if devpath:
            need(dpkg_owner(devpath), f"linking {so} into mercato-{name}")

installed = apt_closure(build_pkgs)
F.check("libc6-dev" in installed and "libuv1" in installed,
        f"apt-cache did not resolve the build stage's packages ({len(installed)} found)")
for pkg, why in sorted(required.items()):
    F.check(pkg in installed, f"deploy/docker/*.Dockerfile: the build stage must install {pkg} (needed for {why}); "
                              f"nothing it installs depends on it")

# --- the runtime stage's packages are exactly what the binary links -----------------------
F.check(len(binaries) >= 1 and "category" in binaries,
        f"no binaries to check the runtime images against (got {sorted(binaries)}); the test is misconfigured")
for name, (where, pkgs) in sorted(runtime_pkgs.items()):
    declared = set(pkgs)
    F.check("ca-certificates" in declared, f"{where}: install ca-certificates (TLS to MongoDB, Redis, SMTP)")
    if name not in binaries:
        print(f"note: bin/mercato-{name} is not built yet; its runtime packages are not checked")
        continue
    want = set()
    for so in needed(binaries[name]):
        p = lib_path(so)
        if p is None:
            continue
        want |= {o for o in dpkg_owner(p) if o != "libc6"}
    if any(so.startswith("libwebsockets.so") for so in needed(binaries[name])):
        want.add("libwebsockets-evlib-uv")
    have = declared - {"ca-certificates"}
    for p in sorted(want - have):
        F.fail(f"{where}: the runtime stage must install {p} (bin/mercato-{name} links it)")
    for p in sorted(have - want):
        F.fail(f"{where}: the runtime stage installs {p}, which bin/mercato-{name} does not link")
    print(f"{name}: runtime packages {' '.join(sorted(want))}")

print(f"{len(dockerfiles)} Dockerfiles, {len(headers)} headers, {len(required)} build packages required")
F.finish()
