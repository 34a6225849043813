"""servers/api/openapi.json against a real OpenAPI 3.1 validator, and every
exchange recorded during the run against the document's schemas."""

import json
import os
import shutil
import subprocess

from harness import RECORDER, SOURCE_DIR, TestFailure, check

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_DIR = os.path.dirname(HERE)  # tests/services: package.json, node_modules
DOC = os.path.join(SOURCE_DIR, "servers", "api", "openapi.json")


def ensure_node_modules():
    marker = os.path.join(PKG_DIR, "node_modules", "@seriousme", "openapi-schema-validator",
                          "package.json")
    if os.path.isfile(marker) and os.path.isfile(os.path.join(PKG_DIR, "node_modules", "ajv",
                                                              "package.json")):
        return
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        raise TestFailure("node and npm are needed (scripts/install-deps --test installs them)")
    cmd = [npm, "ci" if os.path.isfile(os.path.join(PKG_DIR, "package-lock.json")) else "install",
           "--no-audit", "--no-fund", "--loglevel=error"]
    r = subprocess.run(cmd, cwd=PKG_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600)
    check(r.returncode == 0, "'%s' in tests/services failed" % " ".join(cmd[:2]), r.stdout[-3000:])


def run(tap, tmp):
    if not tap.run("the validators are installed (npm ci in tests/services)", ensure_node_modules):
        return
    records = os.path.join(tmp, "responses.jsonl")
    RECORDER.dump(records)
    r = subprocess.run(["node", os.path.join(HERE, "validate.mjs"), DOC, records],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=300)
    if r.returncode != 0:
        tap.ok("validate.mjs runs", False, r.stderr[-3000:])
        return
    out = json.loads(r.stdout)

    def document():
        d = out["document"]
        check(d.get("valid") is True, "servers/api/openapi.json is not a valid OpenAPI document",
              json.dumps(d.get("errors"))[:3000])
        check(str(d.get("version", "")).startswith("3.1"), "version %s" % d.get("version"))

    tap.run("servers/api/openapi.json is a valid OpenAPI 3.1 document with resolvable $refs "
            "(@seriousme/openapi-schema-validator)", document)

    groups = sorted(out["groups"], key=lambda g: (g["template"], g["method"], g["status"]))
    if not groups:
        tap.skip("responses match the document", "no exchanges were recorded (run with other groups)")
        return
    for g in groups:
        name = "%s %s -> %d: %d exchange%s match the document" % (
            g["method"], g["template"], g["status"], g["n"], "" if g["n"] == 1 else "s")
        tap.ok(name, not g["failures"], "\n".join(g["failures"]))

    def coverage():
        with open(DOC) as f:
            doc = json.load(f)
        hit = {(g["method"].lower(), g["template"]) for g in groups if 200 <= g["status"] < 300}
        missing = []
        for template, item in doc["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "delete", "patch") and (method, template) not in hit:
                    missing.append("%s %s" % (method.upper(), template))
        check(not missing, "documented operations never answered 2xx in this run", "\n".join(missing))

    tap.run("every documented operation was exercised successfully", coverage)
