"""The runnable curl sequence of docs/rest.md, run by bash against a fresh
tsa-api, as written."""

import json
import os
import re
import shutil
import subprocess

from harness import SOURCE_DIR, ApiServer, Skip, check, eq

PLACEHOLDER_JOB = re.compile(r"^curl -s \$API/jobs/0c6f\.\.\..*$", re.M)
WAIT_FOR_JOBS = ('while curl -s "$API/jobs?state=queued" | grep -q job_id || '
                 'curl -s "$API/jobs?state=running" | grep -q job_id; do sleep 0.2; done')


def json_stream(text):
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def run(tap, tmp):
    def sequence():
        path = os.path.join(SOURCE_DIR, "docs", "rest.md")
        if not os.path.isfile(path):
            raise Skip("no docs/rest.md")
        if not shutil.which("curl"):
            raise Skip("no curl")
        with open(path) as f:
            md = f.read()
        m = re.search(r"A runnable sequence.*?```bash\n(.*?)```", md, re.S)
        check(m, "docs/rest.md has no runnable sequence")
        d = os.path.join(tmp, "docs-sequence")
        os.makedirs(d)
        srv = ApiServer(d, "sqlite:" + os.path.join(d, "tsa.db"), name="api").start()
        try:
            script = m.group(1).replace("http://localhost:5001", srv.api.base)
            script, n = PLACEHOLDER_JOB.subn(WAIT_FOR_JOBS, script)
            eq(n, 0, "no placeholder lines left in the sequence")
            r = subprocess.run(["bash", "-c", "set -o pipefail\n" + script], cwd=d,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=300)
            eq(r.returncode, 0, "bash exit status (stderr: %s)" % r.stderr[-500:])
            answers = json_stream(r.stdout)
            errors = [a for a in answers if "error" in a or a.get("errors")]
            check(not errors, "error answers", json.dumps(errors)[:2000])
            check(len(answers) >= 8, "%d answers" % len(answers))
            partial = [a for a in answers if a.get("partial")]
            check(not partial, "a partial coordinated analysis", json.dumps(partial)[:1000])
        finally:
            srv.kill()

    tap.run("docs/rest.md's runnable curl sequence works as written", sequence)
