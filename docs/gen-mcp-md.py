#!/usr/bin/env python3
"""Regenerate the tool sections of docs/mcp.md from the agents themselves.

    docs/gen-mcp-md.py --build BUILDDIR        start the three agents from a
                                               build tree (temporary store,
                                               free ports), then stop them
    docs/gen-mcp-md.py --url forecasting=http://127.0.0.1:8001 \\
                       --url anomaly=http://127.0.0.1:8002 \\
                       --url coordinator=http://127.0.0.1:8003
                                               use running agents

Each agent is asked for initialize, tools/list (MCP) and its agent card
(A2A, for the skills' example arguments). The text between

    <!-- BEGIN GENERATED TOOLS: NAME -->  and  <!-- END GENERATED TOOLS: NAME -->

in docs/mcp.md is replaced by one subsection per tool: description, hints,
an input table built from inputSchema, the outputSchema's fields and an
example tools/call. Everything outside the markers is left alone.

Options: --doc PATH (default: docs/mcp.md beside this script); --check exits
1 without writing when the file is not up to date; --stdout prints the new
file instead of writing it.

Python 3.8 or newer, standard library only.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

AGENTS = [
    # key, binary, directory under servers/
    ("forecasting", "tsa-forecasting", "forecasting"),
    ("anomaly", "tsa-anomaly", "anomaly"),
    ("coordinator", "tsa-coordinator", "coordinator"),
]
PROTOCOL = "2025-11-25"


class AgentError(Exception):
    pass


# ---------------------------------------------------------------------------
# talking to an agent


def _post(url, body, headers, timeout=30):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json, text/event-stream")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return r.headers, text
    except urllib.error.URLError as e:
        raise AgentError("%s: %s" % (url, e))


def _json_body(text):
    """The JSON-RPC message of a plain JSON or single-event SSE answer."""
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    last = None
    for line in text.splitlines():
        if line.startswith("data:"):
            last = line[5:].strip()
    if last is None:
        raise AgentError("no JSON in the answer: %.200s" % text)
    return json.loads(last)


def fetch(base):
    """initialize + tools/list + the agent card of the agent at @base."""
    base = base.rstrip("/")
    headers, text = _post(base + "/mcp", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                   "clientInfo": {"name": "gen-mcp-md", "version": "1"}}}, {})
    init = _json_body(text)
    if "result" not in init:
        raise AgentError("%s: initialize failed: %s" % (base, init.get("error")))
    session = headers.get("Mcp-Session-Id")
    if not session:
        raise AgentError("%s: initialize answered without Mcp-Session-Id" % base)
    h = {"Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL}
    _post(base + "/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
    _, text = _post(base + "/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, h)
    listed = _json_body(text)
    if "result" not in listed:
        raise AgentError("%s: tools/list failed: %s" % (base, listed.get("error")))
    try:
        with urllib.request.urlopen(base + "/.well-known/agent-card.json", timeout=30) as r:
            card = json.loads(r.read().decode())
    except (urllib.error.URLError, ValueError) as e:
        raise AgentError("%s: agent card: %s" % (base, e))
    req = urllib.request.Request(base + "/mcp", method="DELETE")
    req.add_header("Mcp-Session-Id", session)
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.URLError:
        pass
    return {"server": init["result"], "tools": listed["result"]["tools"], "card": card}


class Agents:
    """The three agents started from a build tree, stopped on exit."""

    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.dir = tempfile.mkdtemp(prefix="tsa-gen-mcp-")
        self.procs = []
        self.urls = {}

    def _start(self, key, binary, sub, extra):
        path = os.path.join(self.build, "servers", sub, binary)
        if not os.access(path, os.X_OK):
            raise AgentError("%s is not built (%s)" % (binary, path))
        port_file = os.path.join(self.dir, key + ".port")
        log = open(os.path.join(self.dir, key + ".log"), "w")
        args = [path, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
                "--store", "sqlite:" + os.path.join(self.dir, "tsa.db")] + extra
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()
        self.procs.append(p)
        deadline = time.time() + 20
        while time.time() < deadline:
            if p.poll() is not None:
                with open(os.path.join(self.dir, key + ".log")) as f:
                    raise AgentError("%s exited: %s" % (binary, f.read().strip()[-500:]))
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                self.urls[key] = "http://127.0.0.1:%d" % port
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AgentError("%s did not start within 20 s" % binary)

    def __enter__(self):
        try:
            # One after the other: they share one new SQLite file.
            for key, binary, sub in AGENTS:
                extra = []
                if key == "coordinator":
                    extra = ["--forecasting-url", self.urls["forecasting"],
                             "--anomaly-url", self.urls["anomaly"]]
                self._start(key, binary, sub, extra)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# markdown


def _type(s):
    t = s.get("type")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array" and isinstance(s.get("items"), dict) and "type" in s["items"]:
        t = "array of " + _type(s["items"])
    return t or "any"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _details(s):
    parts = []
    if "enum" in s:
        parts.append("one of " + ", ".join("`%s`" % v for v in s["enum"]))
    if "default" in s:
        parts.append("default `%s`" % json.dumps(s["default"]))
    lo, hi = s.get("minimum"), s.get("maximum")
    if "exclusiveMaximum" in s:
        hi = "%s (exclusive)" % s["exclusiveMaximum"]
    if lo is not None and hi is not None:
        parts.append("%s to %s" % (lo, hi))
    elif lo is not None:
        parts.append("at least %s" % lo)
    elif hi is not None:
        parts.append("at most %s" % hi)
    if "minLength" in s or "maxLength" in s:
        parts.append("%s to %s characters" % (s.get("minLength", 0), s.get("maxLength", "any")))
    if "minItems" in s or "maxItems" in s:
        parts.append("%s to %s items" % (s.get("minItems", 0), s.get("maxItems", "any")))
    if s.get("description"):
        parts.append(s["description"])
    return "; ".join(parts)


def _hints(ann):
    names = [("readOnlyHint", "read-only"), ("destructiveHint", "destructive"),
             ("idempotentHint", "idempotent"), ("openWorldHint", "open-world")]
    on = [label for key, label in names if ann.get(key)]
    return ", ".join(on) if on else "none"


def render_tool(tool, example):
    out = []
    out.append("#### " + heading(tool))
    out.append("")
    out.append(tool.get("description", ""))
    out.append("")
    out.append("Hints: %s." % _hints(tool.get("annotations", {})))
    out.append("")
    ins = tool.get("inputSchema", {})
    props = ins.get("properties", {})
    required = set(ins.get("required", []))
    if props:
        out.append("| argument | type | required | details |")
        out.append("|---|---|---|---|")
        for name, s in props.items():
            out.append("| `%s` | %s | %s | %s |" % (name, _cell(_type(s)),
                                                   "yes" if name in required else "no",
                                                   _cell(_details(s))))
        out.append("")
    if ins.get("additionalProperties") is False:
        out.append("No other arguments are accepted.")
    else:
        out.append("The schema admits other arguments: a model's parameters where the tool fits one "
                   "(unknown ones are then rejected, naming the key).")
    out.append("")
    outs = tool.get("outputSchema", {})
    oreq = outs.get("required", [])
    oprops = outs.get("properties", {})
    fields = list(oreq) + [k for k in oprops if k not in oreq]
    if fields:
        out.append("`structuredContent` always has: %s%s." % (
            ", ".join("`%s`" % f for f in oreq) if oreq else "(no required fields)",
            "; declared: " + ", ".join("`%s` (%s)" % (k, _type(oprops[k])) for k in oprops)
            if oprops else ""))
        out.append("")
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": tool["name"], "arguments": example}}
    out.append("```json")
    out.append(json.dumps(call))
    out.append("```")
    out.append("")
    return "\n".join(out)


def slug(heading, seen):
    """GitHub's anchor for a heading; repeats get -1, -2, ..."""
    text = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    base = text.strip().replace(" ", "-")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else "%s-%d" % (base, n)


def heading(tool):
    return "`%s` — %s" % (tool["name"], tool.get("title", ""))


def render_agent(key, info, seen):
    examples = {}
    for skill in info["card"].get("skills", []):
        ex = (skill.get("examples") or ["{}"])[0]
        try:
            examples[skill["id"]] = json.loads(ex)
        except ValueError:
            examples[skill["id"]] = {}
    server = info["server"].get("serverInfo", {})
    out = ["<!-- Generated by docs/gen-mcp-md.py from %s's tools/list; do not edit by hand. -->"
           % server.get("name", key), ""]
    out.append("| tool | title | hints |")
    out.append("|---|---|---|")
    for t in info["tools"]:
        out.append("| [`%s`](#%s) | %s | %s |" % (t["name"], slug(heading(t), seen),
                                               _cell(t.get("title", "")),
                                               _hints(t.get("annotations", {}))))
    out.append("")
    for t in info["tools"]:
        out.append(render_tool(t, examples.get(t["name"], {})))
    return "\n".join(out).rstrip() + "\n"


def splice(doc, key, body):
    begin = "<!-- BEGIN GENERATED TOOLS: %s -->" % key
    end = "<!-- END GENERATED TOOLS: %s -->" % key
    i = doc.find(begin)
    j = doc.find(end)
    if i < 0 or j < i:
        raise AgentError("%s: markers for %s not found" % ("docs/mcp.md", key))
    return doc[:i + len(begin)] + "\n" + body + doc[j:]


def collect(args):
    infos = {}
    if args.build:
        with Agents(args.build) as agents:
            for key, _, _ in AGENTS:
                infos[key] = fetch(agents.urls[key])
    else:
        for item in args.url:
            key, _, url = item.partition("=")
            infos[key] = fetch(url)
    return infos


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Regenerate the tool sections of docs/mcp.md.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--build", help="a meson build directory holding the agents")
    src.add_argument("--url", action="append", help="NAME=URL of a running agent")
    ap.add_argument("--doc", default=os.path.join(here, "mcp.md"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    ap.add_argument("--stdout", action="store_true", help="print the new file")
    args = ap.parse_args(argv)
    try:
        infos = collect(args)
        with open(args.doc) as f:
            old = f.read()
        new = old
        seen = {}
        for key, _, _ in AGENTS:
            if key in infos:
                new = splice(new, key, render_agent(key, infos[key], seen))
    except (AgentError, OSError) as e:
        print("gen-mcp-md: %s" % e, file=sys.stderr)
        return 2
    if args.stdout:
        sys.stdout.write(new)
        return 0
    if args.check:
        if new != old:
            print("gen-mcp-md: %s is out of date; run docs/gen-mcp-md.py --build BUILDDIR" % args.doc)
            return 1
        return 0
    if new != old:
        with open(args.doc, "w") as f:
            f.write(new)
        print("gen-mcp-md: updated %s" % args.doc)
    else:
        print("gen-mcp-md: %s is up to date" % args.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
