#!/usr/bin/env python3
"""yamllint (with the repository's .yamllint.yaml) on every YAML file of the repository:
docker-compose.yml, the Kubernetes manifests and the tools' settings. Lists the files it
checked, so an empty list is visible (and fails)."""
import os
import subprocess

import mcdeploy as m

F = m.Failures("yamllint")
files = [f for f in m.walk_files(["."], exts=[".yml", ".yaml"]) if not m.rel(f).startswith((".git/", "tests/artifacts"))]
F.check(any(m.rel(f) == "docker-compose.yml" for f in files) and any("deploy/k8s/" in f for f in files),
        f"yamllint found too few files: {[m.rel(f) for f in files]}")
r = subprocess.run([os.path.join(m.TOOLS, "venv/bin/yamllint"), "--strict", "--format", "parsable",
                    "-c", os.path.join(m.ROOT, ".yamllint.yaml")] + files, capture_output=True, text=True)
F.check(r.returncode == 0, f"yamllint:\n{r.stdout}{r.stderr}")
print(f"{len(files)} YAML files: " + " ".join(m.rel(f) for f in files))
F.finish()
