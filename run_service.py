#!/usr/bin/env python3
"""Start, stop and inspect the libtsa services.

    ./run_service.py start   [--service NAME]
    ./run_service.py stop    [--service NAME]
    ./run_service.py restart [--service NAME]
    ./run_service.py status  [--service NAME]
    ./run_service.py logs    [--logs-service NAME] [-f]

NAME is one of local, all, web, api, forecasting, anomaly, coordinator,
docker (or web-dashboard, rest-api, forecasting-mcp, anomaly-mcp,
coordinator-mcp).  The default is all.

Before starting anything this script installs missing system packages
(scripts/install-deps), configures and builds with meson into build/ when the
build is missing or older than the sources, and then hands over to
build/servers/tsactl/tsactl with the same arguments.

Python 3.8 or newer, standard library only.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, "build")
TSACTL = os.path.join(BUILD, "servers", "tsactl", "tsactl")
STAMP = os.path.join(BUILD, ".run_service.stamp")
INSTALL_DEPS = os.path.join(ROOT, "scripts", "install-deps")

# Paths whose changes make build/ stale.
SOURCE_DIRS = ("include", "libtsa", "servers", "examples", "subprojects")
SOURCE_FILES = ("meson.build", "meson_options.txt")

# key, service name, binary, port, what it speaks
SERVICES = [
    ("web", "web-dashboard", "tsa-dashboard", 5000, "web dashboard"),
    ("api", "rest-api", "tsa-api", 5001, "REST API (/api/v1)"),
    ("forecasting", "forecasting-mcp", "tsa-forecasting", 8001, "forecasting agent (MCP, A2A)"),
    ("anomaly", "anomaly-mcp", "tsa-anomaly", 8002, "anomaly agent (MCP, A2A)"),
    ("coordinator", "coordinator-mcp", "tsa-coordinator", 8003, "coordinator agent (MCP, A2A)"),
]

ALIASES = {"all": "all", "local": "local", "docker": "docker"}
for _key, _name, _binary, _port, _what in SERVICES:
    ALIASES[_key] = _key
    ALIASES[_name] = _key
    ALIASES[_binary] = _key
ALIASES["dashboard"] = "web"
ALIASES["rest"] = "api"

VERBS = ("start", "stop", "restart", "status", "logs")


class Failure(Exception):
    """An expected failure: print the message, exit with the code."""

    def __init__(self, message, code=1):
        Exception.__init__(self, message)
        self.code = code


def say(msg=""):
    print(msg, flush=True)


def err(msg):
    print("run_service: " + msg, file=sys.stderr, flush=True)


def service_key(value):
    key = ALIASES.get(value.strip().lower())
    if key is None:
        names = ", ".join(["local", "all", "docker"] +
                          ["%s (%s)" % (k, n) for k, n, _, _, _ in SERVICES])
        raise argparse.ArgumentTypeError(
            "unknown service '%s'; choose one of: %s" % (value, names))
    return key


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="run_service.py",
        description="Build libtsa if needed and start, stop or inspect its services.",
        epilog="Services and ports: " + ", ".join(
            "%s %d" % (n, port) for _, n, _, port, _ in SERVICES))
    p.add_argument("verb", choices=VERBS, help="what to do")
    p.add_argument("--service", type=service_key, default="all", metavar="NAME",
                   help="local|all|web|api|forecasting|anomaly|coordinator|docker "
                        "(default: all)")
    p.add_argument("--logs-service", type=service_key, default=None, metavar="NAME",
                   help="service whose log to show (for 'logs')")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep showing new log lines (for 'logs')")
    return p.parse_args(argv)


def run(cmd, **kw):
    """Run a command; return its exit status (127 when it cannot be run)."""
    try:
        return subprocess.call(cmd, cwd=kw.pop("cwd", ROOT), **kw)
    except OSError as e:
        err("cannot run %s: %s" % (cmd[0], e))
        return 127


# ---------------------------------------------------------------------------
# dependencies and build


def ensure_packages():
    if not shutil.which("dpkg-query"):
        err("not a Debian-based system: install meson, ninja, pkg-config, GSL, "
            "OpenBLAS, cJSON, CivetWeb, libpq, SQLite, OpenSSL (and optionally hiredis) development "
            "files yourself; trying to build anyway.")
        return
    if not os.path.isfile(INSTALL_DEPS):
        raise Failure("scripts/install-deps is missing from this checkout")
    rc = run(["bash", INSTALL_DEPS, "--quiet"], stdin=subprocess.DEVNULL)
    if rc != 0:
        raise Failure("required system packages are missing (see above); "
                      "install them and run this again")


def newest_source_mtime():
    newest = 0.0
    for name in SOURCE_FILES:
        path = os.path.join(ROOT, name)
        if os.path.exists(path):
            newest = max(newest, os.path.getmtime(path))
    for d in SOURCE_DIRS:
        top = os.path.join(ROOT, d)
        for dirpath, dirnames, filenames in os.walk(top):
            # subprojects may hold unpacked sources with their own builds
            dirnames[:] = [x for x in dirnames if not x.startswith(".")]
            for f in filenames:
                try:
                    newest = max(newest, os.path.getmtime(os.path.join(dirpath, f)))
                except OSError:
                    pass
    return newest


def build_is_stale():
    ninja_file = os.path.join(BUILD, "build.ninja")
    if not os.path.exists(ninja_file) or not os.path.exists(STAMP):
        return True
    built = max(os.path.getmtime(ninja_file), os.path.getmtime(STAMP))
    return newest_source_mtime() > built


def ensure_build():
    for tool in ("meson", "ninja"):
        if not shutil.which(tool):
            raise Failure("'%s' is not installed (run scripts/install-deps)" % tool)
    ninja_file = os.path.join(BUILD, "build.ninja")
    if not os.path.exists(ninja_file):
        say("Configuring the build in build/ ...")
        if os.path.isdir(os.path.join(BUILD, "meson-private")):
            cmd = ["meson", "setup", "--wipe", BUILD, "-Dtests=false"]
        else:
            cmd = ["meson", "setup", BUILD, "-Dtests=false"]
        if run(cmd) != 0:
            raise Failure("'meson setup build' failed (see the messages above)")
    elif not build_is_stale():
        return
    say("Building in build/ ...")
    if run(["ninja", "-C", BUILD]) != 0:
        raise Failure("the build failed (see the compiler messages above)")
    with open(STAMP, "w") as f:
        f.write("built by run_service.py\n")


# ---------------------------------------------------------------------------
# reporting when the services are not built


def project_version():
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-projectinfo.json")) as f:
            return json.load(f).get("version", "")
    except (OSError, ValueError):
        return ""


def library_path():
    """The built shared library and the names (symlinks) that point at it."""
    found = [p for p in glob.glob(os.path.join(BUILD, "libtsa", "libtsa.so*"))
             if (os.path.isfile(p) or os.path.islink(p)) and not p.endswith(".p")]
    real = sorted((p for p in found if not os.path.islink(p)), key=len)
    links = sorted((os.path.basename(p) for p in found if os.path.islink(p)),
                   key=len, reverse=True)
    return (real[-1] if real else None), links


def pkg_config_name():
    d = os.path.join(BUILD, "meson-uninstalled")
    pcs = sorted(glob.glob(os.path.join(d, "*-uninstalled.pc")))
    names = [os.path.basename(p)[:-len("-uninstalled.pc")] for p in pcs]
    if "tsa" in names:
        return d, "tsa"
    return d, (names[0] if names else None)


def print_services(selected, heading):
    say(heading)
    for key, name, binary, port, what in SERVICES:
        if selected in ("all", "local", key):
            say("  %-16s %-16s port %d  %s" % (name, binary, port, what))


def report_library_only(selected):
    lib, links = library_path()
    version = project_version()
    if lib is None:
        raise Failure("the build finished but build/libtsa/libtsa.so was not produced")
    say("")
    say("Built libtsa%s:" % ((" " + version) if version and version != "undefined" else ""))
    say("  library:  %s%s" % (lib, ("  (also " + ", ".join(links) + ")") if links else ""))
    say("  headers:  %s" % os.path.join(ROOT, "include"))
    pcdir, name = pkg_config_name()
    if name:
        say("  compile and link against it without installing:")
        say("    PKG_CONFIG_PATH=%s pkg-config --cflags --libs %s" % (pcdir, name))
        say("  and run with LD_LIBRARY_PATH=%s" % os.path.dirname(lib))
    else:
        say("  (no pkg-config file was generated in %s)" % pcdir)
    say("")
    print_services(selected, "Services (not built in this version, so none was started):")


NO_SERVICES = ("No services are built in this version: build/servers/tsactl/tsactl "
               "does not exist (only the libtsa library is built).")


# ---------------------------------------------------------------------------
# docker


def check_docker():
    if not shutil.which("docker"):
        raise Failure("Docker is not installed ('docker' is not on PATH); "
                      "use --service local to run the services directly.")
    try:
        r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise Failure("the Docker engine did not answer 'docker info' within 30s")
    except OSError as e:
        raise Failure("cannot run docker: %s" % e)
    if r.returncode != 0:
        detail = [l.strip() for l in (r.stderr or "").splitlines() if l.strip()]
        msg = "no Docker engine is reachable ('docker info' failed"
        msg += (": " + detail[-1] + ")") if detail else ")"
        raise Failure(msg + ". Start the Docker daemon, or use --service local.")
    say("Docker engine %s is reachable." % r.stdout.strip())


def docker_compose_cmd():
    if run(["docker", "compose", "version"], stdout=subprocess.DEVNULL,
           stderr=subprocess.DEVNULL) == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise Failure("neither 'docker compose' nor 'docker-compose' is available")


def docker_fallback(args):
    compose = os.path.join(ROOT, "docker-compose.yml")
    if not os.path.exists(compose):
        raise Failure("docker-compose.yml is not part of this version; "
                      "no containers can be started.")
    base = docker_compose_cmd() + ["-f", compose]
    if args.verb == "start":
        cmd = base + ["up", "-d", "--build"]
    elif args.verb == "restart":
        cmd = base + ["up", "-d", "--build", "--force-recreate"]
    elif args.verb == "stop":
        cmd = base + ["down"]
    elif args.verb == "status":
        cmd = base + ["ps"]
    else:
        cmd = base + ["logs"] + (["-f"] if args.follow else [])
    return run(cmd)


# ---------------------------------------------------------------------------


def hand_over(argv):
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(TSACTL, [TSACTL] + list(argv))
    except OSError as e:
        raise Failure("cannot run %s: %s" % (TSACTL, e))


def main(argv):
    args = parse_args(argv)
    os.chdir(ROOT)

    if args.verb == "logs" and args.logs_service is None and args.service not in ("all", "local", "docker"):
        args.logs_service = args.service

    if args.service == "docker":
        check_docker()
        if os.access(TSACTL, os.X_OK):
            hand_over(argv)
        return docker_fallback(args)

    if args.verb in ("start", "restart"):
        ensure_packages()
        ensure_build()
        if os.access(TSACTL, os.X_OK):
            hand_over(argv)
        report_library_only(args.service)
        return 0

    # stop, status, logs: no build needed to look at what runs.
    if os.access(TSACTL, os.X_OK):
        hand_over(argv)
    say(NO_SERVICES)
    if args.verb == "stop":
        say("Nothing to stop.")
        return 0
    if args.verb == "status":
        print_services(args.service, "Services (not built in this version, not running):")
        return 3
    if args.logs_service and args.logs_service not in ("all", "local"):
        name = [n for k, n, _, _, _ in SERVICES if k == args.logs_service][0]
        say("There are no logs of %s." % name)
    else:
        say("There are no service logs.")
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        err(str(e))
        sys.exit(e.code)
    except KeyboardInterrupt:
        sys.exit(130)
