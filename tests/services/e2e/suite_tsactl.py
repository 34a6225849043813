"""tsactl, the service manager behind run_service.py, on a temporary root
directory and free ports."""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import harness
from harness import Skip, check, eq, wait_for

NOT_BUILT_CANDIDATES = [("web", "web-dashboard", "dashboard", "tsa-dashboard"),
                        ("coordinator", "coordinator-mcp", "coordinator", "tsa-coordinator"),
                        ("forecasting", "forecasting-mcp", "forecasting", "tsa-forecasting"),
                        ("anomaly", "anomaly-mcp", "anomaly", "tsa-anomaly")]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def run(tap, tmp):
    root = os.path.join(tmp, "tsactl-root")
    os.makedirs(root)
    port = free_port()
    exe = harness.tsactl_binary()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TSA_") or k in ("TSA_SOURCE_DIR", "TSA_BUILD_DIR")}
    env.update({"TSA_ROOT": root, "TSA_API_PORT": str(port), "TSA_STOP_TIMEOUT": "10",
                "TSA_MAX_BODY": "2048"})
    pid_file = os.path.join(root, "var", "run", "rest-api.pid")
    log_file = os.path.join(root, "var", "log", "rest-api.log")
    st = {}

    def tsactl(*args, extra_env=None, timeout=60):
        e = dict(env)
        e.update(extra_env or {})
        r = subprocess.run([exe] + list(args), cwd=tmp, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def health():
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as r:
                return r.status
        except OSError:
            return None

    def executable():
        check(os.path.isfile(exe), "%s does not exist (meson copies servers/tsactl/tsactl.py)" % exe)
        check(os.access(exe, os.X_OK), "%s is not executable" % exe)
        rc, out, err = tsactl("--help")
        eq(rc, 0, "tsactl --help")
        check("--logs-service" in out, "usage lacks --logs-service", out)

    if not tap.run("build/servers/tsactl/tsactl is an executable copy of servers/tsactl/tsactl.py",
                   executable):
        return

    def start():
        rc, out, err = tsactl("start", "--service", "api")
        eq(rc, 0, "exit status (stderr: %s)" % err.strip())
        m = re.search(r"rest-api\s+http://localhost:%d\s+\(pid (\d+)\)" % port, out)
        check(m, "no 'rest-api  http://localhost:%d  (pid N)' line" % port, out)
        pid = int(m.group(1))
        with open(pid_file) as f:
            eq(int(f.read().strip()), pid, "the pid file")
        check(alive(pid), "the service is not running")
        eq(health(), 200, "GET /health")
        check(os.path.isfile(os.path.join(root, "var", "tsa.db")),
              "the default store is not var/tsa.db under the root (working directory)")
        check('"msg":"listening"' in open(log_file).read(), "the service's log lacks 'listening'")
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[-1].split()  # state ppid pgrp session ...
        eq(int(fields[3]), pid, "the service leads its own session (setsid)")
        eq(os.readlink("/proc/%d/cwd" % pid), root, "working directory")
        # the environment passes through (TSA_MAX_BODY=2048)
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/data/generate" % port,
                                     data=b'{"n_samples": 5}' + b" " * 3000, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        eq(code, 413, "a 3 KB body with TSA_MAX_BODY=2048 passed through")
        st["pid"] = pid

    if not tap.run("start --service api: rest-api on TSA_API_PORT, pid file, log, var/tsa.db, "
                   "own session, environment passed through", start):
        tsactl("stop", "--service", "api")
        return

    def start_again():
        rc, out, err = tsactl("start", "--service", "rest-api")
        eq(rc, 0, "exit status")
        check("already running" in out and str(st["pid"]) in out, "no 'already running' message", out)
        with open(pid_file) as f:
            eq(int(f.read()), st["pid"], "pid file")

    tap.run("start of a running service is a no-op with a message", start_again)

    def status():
        rc, out, err = tsactl("status", "--service", "api")
        eq(rc, 0, "exit status")
        line = [l for l in out.splitlines() if l.startswith("rest-api")][0]
        for word in ("running", "pid %d" % st["pid"], "port %d" % port, "up ", "healthy"):
            check(word in line, "status lacks %r" % word, line)
        rc, out, err = tsactl("status")
        eq(rc, 3, "status of all with services not running")
        for key, name, d, binary in NOT_BUILT_CANDIDATES:
            built = os.access(os.path.join(harness.build_dir(), "servers", d, binary), os.X_OK)
            line = [l for l in out.splitlines() if l.startswith(name)]
            check(line, "status lacks %s" % name, out)
            if not built:
                check("not built in this version" in line[0], "%s: not reported as not built" % name, line)
            else:
                check("stopped" in line[0], "%s: not reported as stopped" % name, line)
        rc, out, err = tsactl("status", "--service", "api",
                              extra_env={"TSA_API_PORT": "", "TSA_PORT_OFFSET": "40000"})
        check("port 45001" in out or "port %d" % port in out, "TSA_PORT_OFFSET is not applied", out)

    tap.run("status: state, pid, port, uptime and health; not-built services named; exit 3 when "
            "something is stopped", status)

    def logs():
        rc, out, err = tsactl("logs", "--logs-service", "rest-api")
        eq(rc, 0, "exit status")
        check('"msg":"listening"' in out, "logs lack the service's lines", out[-2000:])
        rc, out, err = tsactl("logs", "--logs-service", "api", "-n", "1")
        eq(len(out.splitlines()), 1, "-n 1 lines")
        p = subprocess.Popen([exe, "logs", "--logs-service", "rest-api", "-f", "-n", "0"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            got = []
            last = [0.0]

            def seen():
                # A request a second: the follower starts at the log's size
                # when it first looks, which on a loaded machine may come
                # after an earlier request was already logged.
                if time.monotonic() - last[0] >= 1.0:
                    urllib.request.urlopen("http://127.0.0.1:%d/api/v1/models?marker=follow-me" % port,
                                           timeout=10).read()
                    last[0] = time.monotonic()
                ready, _, _ = select.select([p.stdout], [], [], 0.2)
                if ready:
                    got.append(os.read(p.stdout.fileno(), 65536).decode("utf-8", "replace"))
                return '"path":"/api/v1/models"' in "".join(got)
            wait_for(seen, 20, "a new request to appear in logs -f")
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        rc, out, err = tsactl("logs", "--logs-service", "coordinator-mcp")
        eq(rc, 1, "logs of a service without a log")
        check("no logs" in out.lower(), "no message for a missing log", out)

    tap.run("logs --logs-service NAME [-n N] [-f] shows and follows var/log/<service>.log", logs)

    def restart():
        rc, out, err = tsactl("restart", "--service", "api")
        eq(rc, 0, "exit status (%s)" % err.strip())
        m = re.search(r"rest-api\s+http://localhost:%d\s+\(pid (\d+)\)" % port, out)
        check(m, "no URL line after restart", out)
        new = int(m.group(1))
        check(new != st["pid"], "the same pid after restart")
        check(not alive(st["pid"]), "the old process still runs")
        eq(health(), 200, "health after restart")
        st["pid"] = new

    tap.run("restart: a new process, the old one gone", restart)

    def stop():
        rc, out, err = tsactl("stop", "--service", "api")
        eq(rc, 0, "exit status")
        check("stopped (pid %d)" % st["pid"] in out, "no 'stopped' line", out)
        check(not alive(st["pid"]), "still running after stop")
        check(not os.path.exists(pid_file), "the pid file is left")
        eq(health(), None, "health after stop")
        check('"msg":"stopped"' in open(log_file).read(), "the service did not stop gracefully")
        rc, out, err = tsactl("stop", "--service", "api")
        eq(rc, 0, "stop when stopped")
        check("not running" in out, "no 'not running' message", out)

    tap.run("stop: SIGTERM, the service exits gracefully, pid file removed; stopping again is "
            "harmless", stop)

    def stale():
        os.makedirs(os.path.dirname(pid_file), exist_ok=True)
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(pid_file, "w") as f:
            f.write("%d\n" % dead.pid)
        rc, out, err = tsactl("status", "--service", "api")
        eq(rc, 3, "status with a stale pid file")
        check("stale" in out and str(dead.pid) in out, "the stale pid file is not reported", out)
        check(not os.path.exists(pid_file), "the stale pid file is left")
        # a pid file naming a live process that is not the service: never signalled
        other = subprocess.Popen(["sleep", "60"])
        try:
            with open(pid_file, "w") as f:
                f.write("%d\n" % other.pid)
            rc, out, err = tsactl("stop", "--service", "api")
            eq(rc, 0, "stop with a pid file of another program")
            check("stale" in out and "another program" in out, "not reported as stale", out)
            check(other.poll() is None, "tsactl signalled a process that is not its service")
            with open(pid_file, "w") as f:
                f.write("%d\n" % other.pid)
            rc, out, err = tsactl("start", "--service", "api")
            eq(rc, 0, "start over a stale pid file (%s)" % err.strip())
            check("stale" in out, "start did not report the stale pid file", out)
            check(other.poll() is None, "tsactl signalled a process that is not its service")
            eq(health(), 200, "health")
        finally:
            other.kill()
            other.wait()
            tsactl("stop", "--service", "api")

    tap.run("stale pid files (dead pid, pid of another program) are detected, cleaned, never "
            "signalled", stale)

    def port_taken():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        try:
            rc, out, err = tsactl("start", "--service", "api")
            eq(rc, 1, "exit status")
            check("port %d is already in use" % port in err, "no clear message", err)
            check("pid %d" % os.getpid() in err, "the process holding the port is not named", err)
            check(not os.path.exists(pid_file), "a pid file was written")
        finally:
            s.close()

    tap.run("start on a port in use by another process fails clearly (names the holder)",
            port_taken)

    def failing_start():
        rc, out, err = tsactl("start", "--service", "api",
                              extra_env={"TSA_DATABASE_URL": "postgresql://tsa@127.0.0.1:1/none?connect_timeout=2"})
        eq(rc, 1, "exit status")
        check("exited" in err and "last lines" in err, "no explanation", err)
        check("cannot open the store" in err, "the service's own message is not shown", err)
        check(not os.path.exists(pid_file), "a pid file was left")

    tap.run("a service that exits at start-up: exit 1 with the last lines of its log",
            failing_start)

    def not_built():
        # A copy of tsactl in a build tree where no service is built.
        fake = os.path.join(tmp, "fake-build")
        os.makedirs(os.path.join(fake, "servers", "tsactl"))
        open(os.path.join(fake, "build.ninja"), "w").close()
        copy = os.path.join(fake, "servers", "tsactl", "tsactl")
        shutil.copy2(exe, copy)
        e = dict(env)
        for args, want_rc in ((["start"], 0), (["start", "--service", "web"], 0),
                              (["status"], 0), (["stop"], 0)):
            r = subprocess.run([copy] + args, cwd=tmp, env=e, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
            eq(r.returncode, want_rc, "tsactl %s (stderr: %s)" % (" ".join(args), r.stderr.strip()))
            lines = [l for l in r.stdout.splitlines() if "not built in this version" in l]
            eq(len(lines), 1 if "--service" in args else 5, "'not built' lines of tsactl %s"
               % " ".join(args))
        # where some are built, the others are still started (the real build)
        missing = [c for c in NOT_BUILT_CANDIDATES
                   if not os.access(os.path.join(harness.build_dir(), "servers", c[2], c[3]), os.X_OK)]
        if missing:
            rc, out, err = tsactl("start", "--service", missing[0][0])
            eq(rc, 0, "exit status")
            check(missing[0][1] in out and "not built in this version" in out, "no clear message", out)

    tap.run("services that are not built are named as such; start still succeeds", not_built)

    def escalation():
        # A stand-in tsa-api that ignores SIGTERM and has a child process.
        fake = os.path.join(tmp, "fake-build")
        api_dir = os.path.join(fake, "servers", "api")
        os.makedirs(api_dir, exist_ok=True)
        script = os.path.join(api_dir, "tsa-api")
        child_file = os.path.join(tmp, "stubborn-child.pid")
        with open(script, "w") as f:
            f.write(STUBBORN % child_file)
        os.chmod(script, 0o755)
        copy = os.path.join(fake, "servers", "tsactl", "tsactl")
        if not os.path.exists(copy):
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            open(os.path.join(fake, "build.ninja"), "w").close()
            shutil.copy2(exe, copy)
        e = dict(env, TSA_STOP_TIMEOUT="1")

        def ctl(*args):
            return subprocess.run([copy] + list(args), cwd=tmp, env=e, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        r = ctl("start", "--service", "api")
        try:
            eq(r.returncode, 0, "start of the stand-in (%s)" % r.stderr.strip())
            m = re.search(r"\(pid (\d+)\)", r.stdout)
            check(m, "no pid", r.stdout)
            pid = int(m.group(1))
            child = int(wait_for(lambda: os.path.exists(child_file) and open(child_file).read().strip(),
                                 10, "the stand-in's child"))
            t0 = time.monotonic()
            r = ctl("stop", "--service", "api")
            eq(r.returncode, 0, "stop (%s)" % r.stderr.strip())
            check("SIGKILL" in r.stderr, "no word of the SIGKILL", r.stderr)
            check(time.monotonic() - t0 < 8, "stop took %.1fs" % (time.monotonic() - t0))
            check(not alive(pid), "the service survived SIGKILL")
            wait_for(lambda: not alive(child), 5, "the service's child to be killed with its group")
        finally:
            r = ctl("stop", "--service", "api")

    tap.run("stop escalates to SIGKILL of the service's process group after TSA_STOP_TIMEOUT",
            escalation)

    def docker():
        try:
            info = subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=30).returncode
        except (OSError, subprocess.TimeoutExpired):
            info = 1
        if info == 0:
            raise Skip("a Docker engine is reachable here")
        rc, out, err = tsactl("start", "--service", "docker")
        eq(rc, 1, "exit status")
        check("Docker" in err and ("no Docker engine is reachable" in err or "not installed" in err),
              "no clear message", err)

    tap.run("--service docker without a reachable Docker engine says so (exit 1)", docker)

    def bad_name():
        rc, out, err = tsactl("start", "--service", "nonsense")
        eq(rc, 2, "exit status")
        check("unknown service" in err, "no message", err)

    tap.run("an unknown service name is an error listing the names", bad_name)
    tsactl("stop")


# A service that answers /health but ignores SIGTERM, with a child process
# in its group (for the SIGKILL escalation of stop).
STUBBORN = r'''#!/usr/bin/env python3
import http.server, signal, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "300"])
with open(%r, "w") as f:
    f.write("%%d\n" %% child.pid)
port = int(sys.argv[sys.argv.index("--port") + 1])


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
'''
