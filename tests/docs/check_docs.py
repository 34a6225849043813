#!/usr/bin/env python3
"""Checks that the reference documentation covers what the code offers (TAP).

    check_docs.py SOURCE_DIR BUILD_DIR TSA_CLI

* every parameter of every model kind (`tsa kinds KIND`, as JSON) appears,
  in backquotes, in a section of docs/models.md whose heading names the kind;
* every tool of the three agents (started from BUILD_DIR, asked for
  tools/list) has its section in docs/mcp.md, listing each of its input
  arguments (docs/gen-mcp-md.py regenerates those sections);
* every route of the REST API (the route table in servers/api/main.c) and
  every path of servers/api/openapi.json appears in docs/rest.md.

Python 3.8 or newer, standard library only.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys

results = []


def report(ok, desc, diag=None, skip=None):
    n = len(results) + 1
    results.append(ok)
    if skip:
        print("ok %d - %s # SKIP %s" % (n, desc, skip))
    else:
        print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
    if diag and not ok:
        for line in str(diag).splitlines():
            print("#   " + line)
    sys.stdout.flush()


def sections(md, level):
    """(heading, body) for each heading of exactly @level '#'s."""
    marks = "#" * level
    parts = re.split(r"^(%s [^\n]*)$" % re.escape(marks), md, flags=re.M)
    out = []
    for i in range(1, len(parts), 2):
        body = parts[i + 1]
        # A section ends at the next heading of the same or a higher level.
        m = re.search(r"^#{1,%d} " % level, body, re.M)
        out.append((parts[i], body[:m.start()] if m else body))
    return out


def check_models(src, cli):
    md_path = os.path.join(src, "docs", "models.md")
    with open(md_path) as f:
        md = f.read()
    r = subprocess.run([cli, "kinds"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    kinds = r.stdout.split()
    if r.returncode != 0 or not kinds:
        report(False, "tsa kinds lists the model kinds", diag=r.stderr)
        return
    secs = sections(md, 2)
    for kind in kinds:
        r = subprocess.run([cli, "kinds", kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        try:
            info = json.loads(r.stdout)
        except ValueError:
            report(False, "kind %s: `tsa kinds %s` gives JSON" % (kind, kind), diag=r.stderr)
            continue
        text = "".join(body for head, body in secs if "`%s`" % kind in head)
        params = [p["name"] for p in info.get("params", [])]
        if not text:
            report(False, "kind %s is documented in docs/models.md" % kind,
                   diag="no '## ' heading of docs/models.md names `%s`" % kind)
            continue
        missing = [p for p in params if "`%s`" % p not in text]
        report(not missing, "kind %s: its %d parameters are documented in docs/models.md" % (kind, len(params)),
               diag="missing from the sections naming `%s`: %s" % (kind, ", ".join(missing)))


def check_tools(src, build):
    gen_path = os.path.join(src, "docs", "gen-mcp-md.py")
    spec = importlib.util.spec_from_file_location("gen_mcp_md", gen_path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with open(os.path.join(src, "docs", "mcp.md")) as f:
        md = f.read()
    missing_bins = [b for _, b, sub in gen.AGENTS
                    if not os.access(os.path.join(build, "servers", sub, b), os.X_OK)]
    if missing_bins:
        report(True, "the agents' tools are documented in docs/mcp.md",
               skip="not built: %s" % ", ".join(missing_bins))
        return
    try:
        with gen.Agents(build) as agents:
            infos = {key: gen.fetch(agents.urls[key]) for key, _, _ in gen.AGENTS}
    except gen.AgentError as e:
        report(False, "the agents start and answer tools/list", diag=e)
        return
    for key, binary, _ in gen.AGENTS:
        begin = "<!-- BEGIN GENERATED TOOLS: %s -->" % key
        end = "<!-- END GENERATED TOOLS: %s -->" % key
        i, j = md.find(begin), md.find(end)
        block = md[i:j] if 0 <= i < j else ""
        tool_secs = dict((h, b) for h, b in sections(block, 4))
        for tool in infos[key]["tools"]:
            name = tool["name"]
            body = next((b for h, b in tool_secs.items() if h.startswith("#### `%s`" % name)), None)
            desc = "%s tool %s is documented in docs/mcp.md with its arguments" % (binary, name)
            if body is None:
                report(False, desc, diag="no '#### `%s`' section between the %s markers; "
                       "run docs/gen-mcp-md.py --build BUILDDIR" % (name, key))
                continue
            args = list(tool.get("inputSchema", {}).get("properties", {}))
            missing = [a for a in args if "| `%s` |" % a not in body]
            report(not missing, desc, diag="arguments missing: %s; run docs/gen-mcp-md.py --build BUILDDIR"
                   % ", ".join(missing))


def check_rest(src):
    with open(os.path.join(src, "docs", "rest.md")) as f:
        md = f.read()
    with open(os.path.join(src, "servers", "api", "main.c")) as f:
        main_c = f.read()
    routes = re.findall(r'\{"(GET|POST|DELETE|PUT|PATCH)",\s*"(/[^"]*)"', main_c)
    if not routes:
        report(False, "servers/api/main.c has a route table")
    for method, path in routes:
        report("%s %s" % (method, path) in md, "REST route %s %s is documented in docs/rest.md" % (method, path),
               diag="docs/rest.md does not mention '%s %s'" % (method, path))
    with open(os.path.join(src, "servers", "api", "openapi.json")) as f:
        spec = json.load(f)
    for path, ops in spec.get("paths", {}).items():
        for method in ops:
            if method in ("get", "post", "delete", "put", "patch"):
                report("%s %s" % (method.upper(), path) in md,
                       "OpenAPI operation %s %s is documented in docs/rest.md" % (method.upper(), path),
                       diag="docs/rest.md does not mention '%s %s'" % (method.upper(), path))


def main():
    if len(sys.argv) != 4:
        print("usage: check_docs.py SOURCE_DIR BUILD_DIR TSA_CLI", file=sys.stderr)
        return 2
    src, build, cli = (os.path.abspath(a) for a in sys.argv[1:])
    for fn, args in ((check_models, (src, cli)), (check_tools, (src, build)), (check_rest, (src,))):
        try:
            fn(*args)
        except Exception as e:  # a broken check fails, with its reason
            report(False, "%s runs" % fn.__name__, diag="%s: %s" % (type(e).__name__, e))
    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
