"""What the end-to-end service tests share: a TAP reporter, an HTTP client
that records every exchange (for the OpenAPI check), tsa-api processes on
ephemeral ports, and throwaway PostgreSQL servers (scripts/pg-test-server).

Standard library only.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE_DIR = os.path.abspath(os.environ.get(
    "TSA_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")))


def build_dir():
    env = os.environ.get("TSA_BUILD_DIR")
    if env:
        return os.path.abspath(env)
    for name in ("build-test", "build"):
        path = os.path.join(SOURCE_DIR, name)
        if os.path.isfile(os.path.join(path, "build.ninja")):
            return path
    return os.path.join(SOURCE_DIR, "build-test")


def api_binary():
    return os.path.join(build_dir(), "servers", "api", "tsa-api")


def tsactl_binary():
    return os.path.join(build_dir(), "servers", "tsactl", "tsactl")


# ---------------------------------------------------------------------------
# TAP


class TestFailure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg, detail=None):
    if not cond:
        if detail is not None:
            text = detail if isinstance(detail, str) else json.dumps(detail, default=str)[:1500]
            msg = "%s\n%s" % (msg, text)
        raise TestFailure(msg)


def eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %s, want %s" % (what, short(got), short(want)))


def short(v, n=400):
    try:
        s = json.dumps(v, default=str)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


class Tap:
    def __init__(self, name, verbose=False):
        self.name = name
        self.n = 0
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.verbose = verbose
        self.prefix = ""

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def ok(self, name, passed, detail=None):
        self.n += 1
        if passed:
            self.passed += 1
            print("ok %d - %s%s" % (self.n, self.prefix, name))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.n, self.prefix, name))
            if detail:
                self.diag(detail)
        sys.stdout.flush()

    def skip(self, name, reason):
        self.n += 1
        self.skipped += 1
        print("ok %d - %s%s # SKIP %s" % (self.n, self.prefix, name, reason))
        sys.stdout.flush()

    def run(self, name, fn, *args, **kw):
        """Runs one test; returns its value, or None when it failed."""
        t0 = time.monotonic()
        try:
            value = fn(*args, **kw)
        except Skip as e:
            self.skip(name, str(e))
            return None
        except TestFailure as e:
            self.ok(name, False, str(e))
            return None
        except Exception:  # a bug in the test or an unexpected answer
            self.ok(name, False, traceback.format_exc(limit=6))
            return None
        dt = time.monotonic() - t0
        self.ok(name + (" (%.1fs)" % dt if dt >= 2 else ""), True)
        return value if value is not None else True

    def summary(self):
        print("1..%d" % self.n)
        line = "%s: %d passed, %d failed" % (self.name, self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        print(line)
        sys.stdout.flush()


# ---------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self._json = None
        self._parsed = False

    @property
    def json(self):
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self._json = None
        return self._json

    def header(self, name):
        return self.headers.get(name.lower())

    def error(self):
        j = self.json
        return j.get("error", {}) if isinstance(j, dict) else {}

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:600].decode("utf-8", "replace"))


class Recorder:
    """Every exchange of the run, for the schema check at the end."""

    def __init__(self):
        self.items = []

    def add(self, method, path, req_body, resp):
        self.items.append({
            "method": method,
            "path": path.split("?", 1)[0],
            "status": resp.status,
            "content_type": resp.header("content-type") or "",
            "request": req_body,
            "body": resp.json,
            "raw": resp.body.decode("utf-8", "replace")[:200] if resp.json is None else None,
        })

    def dump(self, path):
        with open(path, "w") as f:
            for item in self.items:
                f.write(json.dumps(item) + "\n")


RECORDER = Recorder()


class Api:
    def __init__(self, port, host="127.0.0.1", record=True):
        self.host = host
        self.port = port
        self.record = record

    @property
    def base(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=None, raw=None, headers=None, chunked=False,
                timeout=120):
        """Sends @body as JSON (or @raw bytes as they are); returns a Response."""
        h = {"Content-Type": "application/json", "Connection": "close"}
        h.update(headers or {})
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if chunked:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for k, v in h.items():
                    conn.putheader(k, v)
                conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                step = 16384
                try:
                    for i in range(0, len(data), step):
                        part = data[i:i + step]
                        conn.send(b"%x\r\n%s\r\n" % (len(part), part))
                    conn.send(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer 413 and close before the end
            else:
                conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        if self.record and method != "HEAD":
            req = None
            if raw is None and body is not None:
                req = body
            RECORDER.add(method, path, req, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # helpers asserting success
    def ok(self, method, path, body=None, status=200, **kw):
        r = self.request(method, path, body=body, **kw)
        check(r.status == status, "%s %s: expected HTTP %d, got %r" % (method, path, status, r))
        check(r.json is not None, "%s %s: the answer is not JSON" % (method, path), r.body[:300])
        return r.json


def expect_error(r, status, code=None, field=None, contains=None):
    check(r.status == status, "expected HTTP %d, got %r" % (status, r))
    err = r.error()
    check(isinstance(err, dict) and isinstance(err.get("message"), str) and err.get("message"),
          "the error has no message", r.json)
    check((r.header("content-type") or "").startswith("application/json"),
          "error content type is %s" % r.header("content-type"))
    if code is not None:
        eq(err.get("code"), code, "error.code")
    if field is not None:
        eq(err.get("field"), field, "error.field")
    if contains is not None:
        check(contains.lower() in err.get("message", "").lower(),
              "error message lacks %r" % contains, err)
    return err


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# processes


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


_STARTED = []


@atexit.register
def _kill_leftovers():
    """No tsa-api outlives the run, even when it is interrupted."""
    for server in _STARTED:
        server.kill()


class ApiServer:
    """A tsa-api process on an ephemeral port."""

    def __init__(self, workdir, store, name="api", args=(), env=None, exe=None):
        self.exe = exe  # another service's binary (same flags), default tsa-api
        self.workdir = workdir
        self.store = store
        self.name = name
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None
        self.log = os.path.join(workdir, name + ".log")
        self.port_file = os.path.join(workdir, name + ".port")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=20):
        exe = self.exe or api_binary()
        if not os.access(exe, os.X_OK):
            raise TestFailure("%s is not built" % exe)
        try:
            os.unlink(self.port_file)
        except FileNotFoundError:
            pass
        env = dict(os.environ)
        for var in ("TSA_DATABASE_URL", "TSA_API_PORT", "TSA_PORT_FILE", "TSA_MAX_BODY", "TSA_REDIS_URL",
                    "TSA_RATE_LIMIT", "TSA_FORECAST_CACHE_TTL"):
            env.pop(var, None)
        env.update(self.env or {})
        cmd = [exe, "--port", "0", "--port-file", self.port_file, "--store", self.store] + self.args
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        _STARTED.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %d while starting:\n%s"
                                  % (self.name, self.proc.returncode, tail(self.log)))
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise TestFailure("%s did not start within %ds:\n%s" % (self.name, timeout, tail(self.log)))
            time.sleep(0.02)
        self.api = Api(self.port)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("%s did not stop within %ds of SIGTERM" % (self.name, timeout))
        return self.proc.returncode

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------
# PostgreSQL


class PgServer:
    """A throwaway PostgreSQL server from scripts/pg-test-server."""

    def __init__(self):
        self.dir = None
        self.url = None
        self.port = None
        self.bindir = None
        self.script = os.path.join(SOURCE_DIR, "scripts", "pg-test-server")
        if os.geteuid() == 0:
            self.owner = "postgres" if self._user_exists("postgres") else "nobody"
        else:
            self.owner = None

    @staticmethod
    def _user_exists(name):
        try:
            import pwd
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def start(self, wait_for_script=60):
        # The script may be arriving from another branch of work: wait a little.
        deadline = time.monotonic() + wait_for_script
        while not os.path.isfile(self.script):
            if time.monotonic() > deadline:
                raise TestFailure("%s does not exist" % self.script)
            time.sleep(2)
        # Not under the tests' private temporary directory: the server runs
        # as an unprivileged user who must reach its directory.
        self.dir = tempfile.mkdtemp(prefix="tsa-e2e-pg.", dir="/tmp")
        r = subprocess.run(["bash", self.script, "start", "--dir", self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=180)
        if r.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            raise TestFailure("scripts/pg-test-server failed (%d):\n%s" % (r.returncode, r.stderr[-2000:]))
        self.url = r.stdout.strip().splitlines()[-1]
        marker = {}
        with open(os.path.join(self.dir, ".pg-test-server")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    marker[k] = v
        self.bindir = marker.get("bindir")
        self.port = int(marker.get("port"))
        return self

    def _as_owner(self, cmd):
        if self.owner:
            return ["runuser", "-u", self.owner, "--"] + cmd
        return cmd

    def pause(self):
        """Stops the server, keeping its data (for store-down tests)."""
        r = subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D",
                                           os.path.join(self.dir, "data"), "-m", "fast", "-w",
                                           "-t", "30", "stop"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
        check(r.returncode == 0, "pg_ctl stop failed", r.stdout)

    def resume(self):
        opts = ("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s/sock "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=300" % (self.port, self.dir))
        r = subprocess.run(self._as_owner([os.path.join(self.bindir, "pg_ctl"), "-D",
                                           os.path.join(self.dir, "data"), "-l",
                                           os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                                           "-o", opts, "start"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=90)
        check(r.returncode == 0, "pg_ctl start failed", r.stdout)

    def psql(self, sql, db="tsa_test"):
        psql = os.path.join(self.bindir, "psql") if self.bindir else "psql"
        if not os.access(psql, os.X_OK):
            psql = shutil.which("psql") or psql
        r = subprocess.run([psql, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", "tsa", "-d", db,
                            "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        check(r.returncode == 0, "psql failed: %s" % sql, r.stderr)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def new_database(self, name):
        self.psql("CREATE DATABASE %s" % name)
        return "postgresql://tsa@127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        if not self.dir:
            return
        subprocess.run(["bash", self.script, "stop", self.dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


# ---------------------------------------------------------------------------
# Redis


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server (Debian's) on a free loopback port, without
    persistence; stop() and start() again keep the port, for outage tests."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = None
        self.proc = None
        self.log = os.path.join(workdir, "redis.log")

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self, timeout=15):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.access(exe, os.X_OK):
            raise Skip("redis-server is not installed (scripts/install-deps --test)")
        os.makedirs(self.workdir, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self.workdir, "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        _STARTED.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise TestFailure("redis-server exited with %d:\n%s" % (self.proc.returncode, tail(self.log)))
            if self.command("PING") == "+PONG":
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise TestFailure("redis-server did not answer within %ds:\n%s" % (timeout, tail(self.log)))
            time.sleep(0.05)

    def command(self, *args):
        """One command in RESP; returns the first reply line (or None)."""
        import socket
        msg = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            msg += b"$%d\r\n%s\r\n" % (len(a), a)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(msg)
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        except OSError:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
