#!/usr/bin/env python3
"""Runs graphql-js's own validation test cases (as exported to YAML by gqlparser and
shipped by Debian's golang-github-vektah-gqlparser-dev) against our validator.

Why a Python front end: the cases are YAML and the engine has no YAML parser; this
script converts them to JSON and hands them to the C runner (validation_cases.c),
which links the engine directly and compares error count, locations and messages.
Cases that are known to deviate are listed, with the reason, in
gqlparser-deviations.txt; a listed case that starts passing is reported too, so the
list cannot go stale.

Usage: gqlparser_cases.py RUNNER [SPEC_DIR]
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml

DEFAULT_DIR = "/usr/share/gocode/src/github.com/vektah/gqlparser/validator/imported/spec"


def main():
    runner = sys.argv[1]
    spec_dir = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_DIR
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(spec_dir, "schemas.yml")) as f:
        schemas = yaml.safe_load(f)
    cases = []
    for path in sorted(glob.glob(os.path.join(spec_dir, "*.spec.yml"))):
        with open(path) as f:
            data = yaml.safe_load(f) or []
        for case in data:
            cases.append({
                "name": case["rule"] + "/" + case["name"],
                "rule": case["rule"],
                "schema": case.get("schema", 0),
                "query": case["query"],
                "errors": case.get("errors") or [],
            })
    if not cases:
        print("no cases found in " + spec_dir)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
        json.dump({"schemas": schemas, "cases": cases}, tmp)
        name = tmp.name
    try:
        deviations = os.path.join(here, "gqlparser-deviations.txt")
        return subprocess.call([runner, name, deviations])
    finally:
        os.unlink(name)


if __name__ == "__main__":
    sys.exit(main())
