#!/usr/bin/env python3
"""tsactl: start, stop, restart, inspect and read the logs of the libtsa services.

    tsactl start   [--service NAME]
    tsactl stop    [--service NAME]
    tsactl restart [--service NAME]
    tsactl status  [--service NAME]
    tsactl logs    [--logs-service NAME] [-f] [-n LINES]

NAME is local, all (the default; both mean every service, run as local
processes), docker, or one service: web, api, forecasting, anomaly,
coordinator (also web-dashboard, rest-api, forecasting-mcp, anomaly-mcp,
coordinator-mcp, or the binary name).

Each service runs in the background in its own session, with the root
directory as its working directory (so the default store is var/tsa.db),
its output appended to var/log/<service>.log and its pid in
var/run/<service>.pid.

Environment:
  TSA_ROOT              the directory holding var/ (default: the source tree
                        of the build tsactl belongs to, else the current one)
  TSA_DASHBOARD_PORT, TSA_API_PORT, TSA_FORECASTING_PORT, TSA_ANOMALY_PORT,
  TSA_COORDINATOR_PORT  the port of each service (5000, 5001, 8001, 8002, 8003)
  TSA_PORT_OFFSET       added to every default port (e.g. 10000 -> 15001)
  TSA_START_TIMEOUT     seconds to wait for /health on start (default 20)
  TSA_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL on stop (default 10)
  Everything else (TSA_DATABASE_URL, TSA_HOST, ...) passes through to the
  services.

Exit status: 0 on success; 1 when a service failed to start or stop, or an
argument is wrong; status exits 3 when a built service is not running.

Python 3.8 or newer, standard library only.
"""

import argparse
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

# key, service name, binary, directory under servers/, default port, port variable
SERVICES = [
    ("web", "web-dashboard", "tsa-dashboard", "dashboard", 5000, "TSA_DASHBOARD_PORT"),
    ("api", "rest-api", "tsa-api", "api", 5001, "TSA_API_PORT"),
    ("forecasting", "forecasting-mcp", "tsa-forecasting", "forecasting", 8001, "TSA_FORECASTING_PORT"),
    ("anomaly", "anomaly-mcp", "tsa-anomaly", "anomaly", 8002, "TSA_ANOMALY_PORT"),
    ("coordinator", "coordinator-mcp", "tsa-coordinator", "coordinator", 8003, "TSA_COORDINATOR_PORT"),
]

# Where each service finds the others (set for the children unless already set).
PEER_URL_VARS = {
    "api": "TSA_API_URL",
    "forecasting": "TSA_FORECASTING_URL",
    "anomaly": "TSA_ANOMALY_URL",
    "coordinator": "TSA_COORDINATOR_URL",
}

ALIASES = {"all": "all", "local": "all", "docker": "docker"}
for _key, _name, _binary, _dir, _port, _var in SERVICES:
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


def warn(msg):
    print("tsactl: " + msg, file=sys.stderr, flush=True)


def env_number(name, default, kind=float):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise Failure("%s must be a number, got '%s'" % (name, raw))
    if value < 0:
        raise Failure("%s must not be negative, got '%s'" % (name, raw))
    return value


# ---------------------------------------------------------------------------
# where things are


def find_build_dir():
    """The meson build directory this copy of tsactl belongs to, or None."""
    here = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))
    parts = here.split(os.sep)
    if len(parts) >= 2 and parts[-2:] == ["servers", "tsactl"]:
        build = os.sep.join(parts[:-2]) or os.sep
        if os.path.isdir(os.path.join(build, "meson-info")) or \
                os.path.isfile(os.path.join(build, "build.ninja")):
            return build
    return None


def source_dir_of(build):
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            src = json.load(f).get("directories", {}).get("source")
        return src if src and os.path.isdir(src) else None
    except (OSError, ValueError):
        return None


class Layout:
    def __init__(self, root_arg=None):
        self.build = find_build_dir()
        if self.build is None:
            # Run from the source tree (servers/tsactl/tsactl.py) or installed.
            env_build = os.environ.get("TSA_BUILD_DIR")
            if env_build and os.path.isdir(env_build):
                self.build = os.path.abspath(env_build)
        root = root_arg or os.environ.get("TSA_ROOT")
        if not root and self.build:
            root = source_dir_of(self.build)
        self.root = os.path.abspath(root or os.getcwd())
        self.log_dir = os.path.join(self.root, "var", "log")
        self.run_dir = os.path.join(self.root, "var", "run")
        self.here = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))

    def binary(self, svc):
        """The executable of @svc, or None when it is not built."""
        candidates = []
        if self.build:
            candidates.append(os.path.join(self.build, "servers", svc.directory, svc.binary))
        # An installed tsactl sits beside the installed services.
        candidates.append(os.path.join(self.here, svc.binary))
        for path in candidates:
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        return None

    def where_built(self, svc):
        if self.build:
            return os.path.join(self.rel(self.build), "servers", svc.directory, svc.binary)
        return svc.binary

    def rel(self, path):
        try:
            r = os.path.relpath(path)
        except ValueError:
            return path
        return path if r.startswith(".." + os.sep + "..") else r


class Service:
    def __init__(self, key, name, binary, directory, default_port, port_var, layout, offset):
        self.key = key
        self.name = name
        self.binary = binary
        self.directory = directory
        self.port_var = port_var
        raw = os.environ.get(port_var, "").strip()
        if raw:
            try:
                self.port = int(raw)
            except ValueError:
                raise Failure("%s must be a port number, got '%s'" % (port_var, raw))
        else:
            self.port = default_port + offset
        if not 1 <= self.port <= 65535:
            raise Failure("the port of %s must be in [1, 65535], got %d (check %s and "
                          "TSA_PORT_OFFSET)" % (name, self.port, port_var))
        self.layout = layout
        self.exe = layout.binary(self)
        self.pid_file = os.path.join(layout.run_dir, name + ".pid")
        self.state_file = os.path.join(layout.run_dir, name + ".json")
        self.log_file = os.path.join(layout.log_dir, name + ".log")

    @property
    def url(self):
        return "http://localhost:%d" % self.port


def all_services(layout):
    offset = int(env_number("TSA_PORT_OFFSET", 0, int))
    return [Service(*row, layout=layout, offset=offset) for row in SERVICES]


def select(services, key):
    if key == "all":
        return services
    return [s for s in services if s.key == key]


# ---------------------------------------------------------------------------
# processes


def proc_start_ticks(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    rest = data.rsplit(")", 1)[-1].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


def proc_name(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def proc_exe_base(pid):
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        exe = ""
    if exe.endswith(" (deleted)"):  # rebuilt while running
        exe = exe[:-len(" (deleted)")]
    if not exe:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                exe = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            exe = ""
    return os.path.basename(exe)


def alive(pid):
    """Whether @pid exists and is not a zombie (reaping our own children)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return proc_state(pid) not in (None, "Z", "X")


def read_pid(svc):
    try:
        with open(svc.pid_file) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Failure("cannot read %s: %s" % (svc.pid_file, e))
    try:
        pid = int(text.split()[0])
    except (ValueError, IndexError):
        return -1
    return pid if pid > 0 else -1


def read_state(svc):
    try:
        with open(svc.state_file) as f:
            st = json.load(f)
        return st if isinstance(st, dict) else {}
    except (OSError, ValueError):
        return {}


def remove_run_files(svc):
    for path in (svc.pid_file, svc.state_file):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def inspect(svc):
    """('running', pid, state) | ('stopped', None, {}) | ('stale', pid, state).

    A pid file is stale when its process is gone, or the pid now belongs to
    another program (compared by start time and executable name)."""
    pid = read_pid(svc)
    if pid is None:
        return "stopped", None, {}
    state = read_state(svc)
    if pid < 0 or not alive(pid):
        return "stale", pid, state
    ticks = state.get("start_ticks")
    if ticks is not None and proc_start_ticks(pid) != ticks:
        return "stale", pid, state
    if ticks is None and proc_exe_base(pid) != svc.binary:
        return "stale", pid, state
    return "running", pid, state


def clean_stale(svc, pid):
    remove_run_files(svc)
    what = "pid %d is not running" % pid if pid and pid > 0 else "it held no pid"
    if pid and pid > 0 and alive(pid):
        what = "pid %d now belongs to another program (%s)" % (pid, proc_name(pid))
    say("%-16s removed a stale pid file (%s)" % (svc.name, what))


# ---------------------------------------------------------------------------
# ports


def listen_host():
    host = os.environ.get("TSA_HOST", "").strip() or "127.0.0.1"
    return host


def probe_host():
    host = listen_host()
    if host in ("0.0.0.0", "*", ""):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host.strip("[]")


def port_in_use(host, port):
    """The OSError of binding (host, port), or None when it is free."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return None
    except OSError as e:
        return e
    finally:
        s.close()


def port_owner(port):
    """(pid, name) of a process listening on @port, or None (best effort)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if len(cols) < 10 or cols[3] != "0A":  # LISTEN
                        continue
                    if int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    if not inodes:
        return None
    wanted = {"socket:[%s]" % i for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = "/proc/%s/fd" % entry
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                        pid = int(entry)
                        return pid, proc_name(pid)
                except OSError:
                    continue
        except OSError:
            continue
    return None


# ---------------------------------------------------------------------------
# health


def get_health(svc, timeout=2.0):
    """(http status, parsed body or None, error text)."""
    host = probe_host()
    if ":" in host:
        host = "[%s]" % host
    url = "http://%s:%d/health" % (host, svc.port)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body = e.read()
        status = e.code
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return None, None, str(reason)
    try:
        doc = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        doc = None
    return status, doc, ""


def describe_health(status, doc, error):
    if status is None:
        return "no answer (%s)" % error
    text = doc.get("status") if isinstance(doc, dict) else None
    text = text or ("HTTP %d" % status)
    store = doc.get("store") if isinstance(doc, dict) else None
    if isinstance(store, dict) and store.get("backend"):
        text += " (store %s%s)" % (store["backend"],
                                   "" if store.get("reachable", True) else " unreachable")
    return text


def tail_lines(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            block = min(size, max(4096, n * 400))
            f.seek(size - block)
            data = f.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if block < size and lines:
        lines = lines[1:]  # probably cut in the middle
    return lines[-n:] if n > 0 else []


def print_log_tail(svc, n=20):
    lines = tail_lines(svc.log_file, n)
    if not lines:
        warn("%s is empty" % svc.layout.rel(svc.log_file))
        return
    warn("last lines of %s:" % svc.layout.rel(svc.log_file))
    for line in lines:
        print("    " + line, file=sys.stderr)
    sys.stderr.flush()


def fmt_duration(seconds):
    seconds = int(max(0, seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return "%dd%02dh%02dm" % (d, h, m)
    if h:
        return "%dh%02dm%02ds" % (h, m, s)
    if m:
        return "%dm%02ds" % (m, s)
    return "%ds" % s


def boot_time():
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def uptime_of(pid, state):
    started = state.get("started")
    if isinstance(started, (int, float)):
        return time.time() - started
    ticks = proc_start_ticks(pid)
    bt = boot_time()
    if ticks is None or bt is None:
        return None
    return time.time() - (bt + ticks / os.sysconf("SC_CLK_TCK"))


# ---------------------------------------------------------------------------
# verbs


def log_event(svc, msg, **fields):
    """A JSON line from tsactl in the service's log, in the services' format."""
    now = time.time()
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) +
            ".%03dZ" % int((now % 1) * 1000),
            "level": "info", "service": "tsactl", "msg": msg, "target": svc.name}
    line.update(fields)
    try:
        with open(svc.log_file, "a") as f:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    except OSError:
        pass


def child_env(services):
    env = dict(os.environ)
    host = probe_host()
    if ":" in host:
        host = "[%s]" % host
    for svc in services:
        var = PEER_URL_VARS.get(svc.key)
        if var and not env.get(var):
            env[var] = "http://%s:%d" % (host, svc.port)
    return env


def launch(svc, services):
    """Starts @svc in the background; returns the Popen or raises Failure."""
    for d in (svc.layout.log_dir, svc.layout.run_dir):
        try:
            os.makedirs(d, exist_ok=True)
        except OSError as e:
            raise Failure("cannot create %s: %s" % (d, e))
    err = port_in_use(listen_host(), svc.port)
    if err is not None:
        if err.errno == errno.EADDRINUSE:
            owner = port_owner(svc.port)
            who = "pid %d (%s)" % owner if owner else "another process"
            raise Failure("port %d is already in use by %s, not by a service tsactl started; "
                          "stop it, or choose another port with %s=PORT"
                          % (svc.port, who, svc.port_var))
        raise Failure("cannot listen on %s:%d: %s" % (listen_host(), svc.port, err.strerror))
    cmd = [svc.exe, "--port", str(svc.port)]
    log_event(svc, "starting", command=cmd, cwd=svc.layout.root)
    try:
        log = open(svc.log_file, "ab")
    except OSError as e:
        raise Failure("cannot open %s: %s" % (svc.log_file, e))
    try:
        proc = subprocess.Popen(cmd, cwd=svc.layout.root, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                env=child_env(services), start_new_session=True,
                                close_fds=True)
    except OSError as e:
        raise Failure("cannot run %s: %s" % (svc.exe, e))
    finally:
        log.close()
    state = {"pid": proc.pid, "port": svc.port, "binary": svc.exe, "started": time.time(),
             "start_ticks": proc_start_ticks(proc.pid), "root": svc.layout.root}
    try:
        with open(svc.state_file, "w") as f:
            json.dump(state, f)
        with open(svc.pid_file, "w") as f:
            f.write("%d\n" % proc.pid)
    except OSError as e:
        proc.kill()
        raise Failure("cannot write %s: %s" % (svc.pid_file, e))
    return proc


def wait_healthy(svc, proc, timeout):
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        rc = proc.poll()
        if rc is not None:
            remove_run_files(svc)
            how = ("exited with status %d" % rc) if rc >= 0 else \
                  ("was killed by signal %d" % -rc)
            warn("%s %s while starting" % (svc.name, how))
            print_log_tail(svc)
            return False
        status, doc, error = get_health(svc, timeout=1.0)
        if status is not None:
            return status, doc
        last_error = error
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    warn("%s did not answer GET /health on port %d within %gs (%s); stopping it"
         % (svc.name, svc.port, timeout, last_error))
    print_log_tail(svc)
    terminate(svc, proc.pid, quiet=True)
    return False


def start_services(selected, services, layout):
    timeout = env_number("TSA_START_TIMEOUT", 20.0)
    ok = True
    started = []
    for svc in selected:
        if not svc.exe:
            say("%-16s not built in this version (no %s); skipped"
                % (svc.name, layout.where_built(svc)))
            continue
        state, pid, info = inspect(svc)
        if state == "running":
            say("%-16s already running  %s  (pid %d); nothing to do"
                % (svc.name, "http://localhost:%s" % info.get("port", svc.port), pid))
            continue
        if state == "stale":
            clean_stale(svc, pid)
        try:
            proc = launch(svc, services)
        except Failure as e:
            warn("%s: %s" % (svc.name, e))
            ok = False
            continue
        started.append((svc, proc))
    for svc, proc in started:
        result = wait_healthy(svc, proc, timeout)
        if not result:
            ok = False
            continue
        status, doc = result
        note = "" if status == 200 else "  health: %s" % describe_health(status, doc, "")
        say("%-16s %s  (pid %d)%s" % (svc.name, svc.url, proc.pid, note))
        log_event(svc, "started", pid=proc.pid, port=svc.port)
    if started:
        say("logs: %s/<service>.log (tsactl logs --logs-service NAME)" % layout.rel(layout.log_dir))
    return 0 if ok else 1


def terminate(svc, pid, quiet=False):
    """SIGTERM, wait, then SIGKILL the process group. True when it ended."""
    timeout = env_number("TSA_STOP_TIMEOUT", 10.0)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        remove_run_files(svc)
        return True
    except PermissionError as e:
        if not quiet:
            warn("%s: cannot signal pid %d: %s" % (svc.name, pid, e))
        return False
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = False
    if alive(pid):
        killed = True
        if not quiet:
            warn("%s (pid %d) did not stop within %gs of SIGTERM; sending SIGKILL"
                 % (svc.name, pid, timeout))
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    if alive(pid):
        if not quiet:
            warn("%s (pid %d) is still running after SIGKILL" % (svc.name, pid))
        return False
    remove_run_files(svc)
    log_event(svc, "killed" if killed else "stopped", pid=pid)
    return True


def stop_services(selected):
    ok = True
    targets = []
    for svc in reversed(selected):  # callers (coordinator) before callees
        state, pid, _ = inspect(svc)
        if state == "stale":
            clean_stale(svc, pid)
            continue
        if state == "stopped":
            if svc.exe:
                say("%-16s not running" % svc.name)
            else:
                say("%-16s not built in this version; not running" % svc.name)
            continue
        targets.append((svc, pid))
    # Each service may take a while to finish its requests: stop them together.
    results = {}
    threads = []
    for svc, pid in targets:
        t = threading.Thread(target=lambda s=svc, p=pid: results.__setitem__(s.name, terminate(s, p)))
        t.start()
        threads.append(t)
        time.sleep(0.05)
    for t in threads:
        t.join()
    for svc, pid in targets:
        if results.get(svc.name):
            say("%-16s stopped (pid %d)" % (svc.name, pid))
        else:
            ok = False
    return 0 if ok else 1


def status_services(selected, layout):
    all_up = True
    for svc in selected:
        if not svc.exe:
            say("%-16s not built in this version" % svc.name)
            continue
        state, pid, info = inspect(svc)
        if state == "stale":
            clean_stale(svc, pid)
            state = "stopped"
        if state == "stopped":
            all_up = False
            say("%-16s stopped          port %d" % (svc.name, svc.port))
            continue
        port = info.get("port", svc.port)
        if port != svc.port:
            svc.port = port
        up = uptime_of(pid, info)
        status, doc, error = get_health(svc)
        say("%-16s running  pid %-7d port %-5d up %-9s health: %s  %s"
            % (svc.name, pid, port, fmt_duration(up) if up is not None else "?",
               describe_health(status, doc, error), svc.url))
    say("root: %s" % layout.root)
    return 0 if all_up else 3


def follow(paths, prefix):
    """Prints lines appended to @paths (name -> path) until interrupted."""
    pos = {}
    for name, path in paths.items():
        try:
            pos[name] = os.path.getsize(path)
        except OSError:
            pos[name] = 0
    width = max(len(n) for n in paths) if paths else 0
    partial = {name: b"" for name in paths}
    try:
        while True:
            got = False
            for name, path in paths.items():
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                if size < pos[name]:  # truncated or replaced
                    pos[name] = 0
                if size == pos[name]:
                    continue
                with open(path, "rb") as f:
                    f.seek(pos[name])
                    data = f.read(size - pos[name])
                pos[name] += len(data)
                data = partial[name] + data
                lines = data.split(b"\n")
                partial[name] = lines.pop()
                for line in lines:
                    text = line.decode("utf-8", "replace")
                    sys.stdout.write(("%-*s | %s\n" % (width, name, text)) if prefix else text + "\n")
                got = True
            if got:
                sys.stdout.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0


def logs(selected, layout, lines, follow_mode):
    present = [s for s in selected if os.path.isfile(s.log_file)]
    if not present:
        if len(selected) == 1:
            svc = selected[0]
            extra = "" if svc.exe else " (it is not built in this version)"
            say("There are no logs of %s yet: %s does not exist%s."
                % (svc.name, layout.rel(svc.log_file), extra))
        else:
            say("There are no service logs yet in %s." % layout.rel(layout.log_dir))
        return 1
    several = len(present) > 1
    for svc in present:
        if several:
            say("==> %s <==" % layout.rel(svc.log_file))
        for line in tail_lines(svc.log_file, lines):
            say(line)
        if several:
            say("")
    if follow_mode:
        return follow({s.name: s.log_file for s in present}, several)
    return 0


# ---------------------------------------------------------------------------
# docker


def docker(verb, key, layout, follow_mode, lines):
    if not shutil.which("docker"):
        raise Failure("Docker is not installed ('docker' is not on PATH); "
                      "use --service local to run the services directly.")
    try:
        r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise Failure("no Docker engine is reachable: 'docker info' did not answer within 30s; "
                      "use --service local to run the services directly.")
    except OSError as e:
        raise Failure("cannot run docker: %s" % e)
    if r.returncode != 0:
        detail = [l.strip() for l in (r.stderr or "").splitlines() if l.strip()]
        raise Failure("no Docker engine is reachable ('docker info' failed%s); start the Docker "
                      "daemon, or use --service local to run the services directly."
                      % ((": " + detail[-1]) if detail else ""))
    compose = None
    for candidate in ("docker-compose.yml", "compose.yaml", "deploy/docker-compose.yml"):
        path = os.path.join(layout.root, candidate)
        if os.path.isfile(path):
            compose = path
            break
    if compose is None:
        raise Failure("Docker engine %s is reachable, but this version has no docker-compose.yml "
                      "in %s; use --service local." % (r.stdout.strip(), layout.root))
    if subprocess.call(["docker", "compose", "version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) == 0:
        base = ["docker", "compose", "-f", compose]
    elif shutil.which("docker-compose"):
        base = ["docker-compose", "-f", compose]
    else:
        raise Failure("neither 'docker compose' nor 'docker-compose' is available")
    if verb == "start":
        cmd = base + ["up", "-d", "--build"]
    elif verb == "restart":
        cmd = base + ["up", "-d", "--build", "--force-recreate"]
    elif verb == "stop":
        cmd = base + ["down"]
    elif verb == "status":
        cmd = base + ["ps"]
    else:
        cmd = base + ["logs", "--tail", str(lines)] + (["-f"] if follow_mode else [])
        if key not in ("all", "docker"):
            cmd += [dict((k, n) for k, n, *_ in SERVICES)[key]]
    say("$ " + " ".join(cmd))
    try:
        return subprocess.call(cmd, cwd=layout.root)
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------------------


def service_key(value):
    key = ALIASES.get(value.strip().lower())
    if key is None:
        names = ", ".join(["local", "all", "docker"] +
                          ["%s (%s)" % (k, n) for k, n, *_ in SERVICES])
        raise argparse.ArgumentTypeError(
            "unknown service '%s'; choose one of: %s" % (value, names))
    return key


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="tsactl",
        description="Start, stop, restart, inspect and read the logs of the libtsa services.",
        epilog="Services and default ports: " + ", ".join(
            "%s %d" % (n, port) for _, n, _, _, port, _ in SERVICES) +
        ". Environment: TSA_ROOT, TSA_<SERVICE>_PORT, TSA_PORT_OFFSET, TSA_START_TIMEOUT, "
        "TSA_STOP_TIMEOUT; everything else passes through to the services.")
    p.add_argument("verb", choices=VERBS, help="what to do")
    p.add_argument("--service", type=service_key, default="all", metavar="NAME",
                   help="local|all|web|api|forecasting|anomaly|coordinator|docker "
                        "(default: all)")
    p.add_argument("--logs-service", type=service_key, default=None, metavar="NAME",
                   help="the service whose log to show (for logs; default: all)")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new log lines (for logs)")
    p.add_argument("-n", "--lines", type=int, default=100, metavar="N",
                   help="log lines to show per service (for logs; default 100)")
    p.add_argument("--root", default=None, metavar="DIR",
                   help="the directory holding var/ (default: $TSA_ROOT, else the source "
                        "tree of this build, else the current directory)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    layout = Layout(args.root)
    if args.service == "docker" or args.logs_service == "docker":
        key = args.logs_service if args.verb == "logs" and args.logs_service else "all"
        return docker(args.verb, key if key != "docker" else "all", layout, args.follow, args.lines)
    services = all_services(layout)
    if args.verb == "logs":
        key = args.logs_service or args.service
        return logs(select(services, key), layout, args.lines, args.follow)
    selected = select(services, args.service)
    if args.verb == "start":
        return start_services(selected, services, layout)
    if args.verb == "stop":
        return stop_services(selected)
    if args.verb == "restart":
        rc = stop_services(selected)
        if rc != 0:
            return rc
        return start_services(selected, services, layout)
    return status_services(selected, layout)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        warn(str(e))
        sys.exit(e.code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
