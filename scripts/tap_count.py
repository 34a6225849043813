#!/usr/bin/env python3
"""Count test results for scripts/test.sh.

  tap_count.py meson BUILDDIR [PREFIX]
      Read BUILDDIR/meson-logs/testlog.json (one JSON object per test) and
      print one line per meson suite:  SUITE<TAB>PASSED<TAB>FAILED<TAB>SKIPPED
      Each TAP result line ("ok ..." / "not ok ...") of a test counts once;
      a test that printed no TAP lines counts once by its result.  Names of
      failing tests go to stderr, each with its "not ok" lines and
      their diagnostics.  PREFIX is put before every suite name.

  tap_count.py summary LOGFILE
      Find the last runner summary in LOGFILE ("N passed, N failed", pytest's
      "N passed, N failed, N errors in 1.2s", ...) and print
      PASSED<TAB>FAILED<TAB>SKIPPED, or nothing when there is none.

Standard library only.
"""

import json
import os
import re
import subprocess
import sys

TAP_OK = re.compile(r"^ok\b(.*)$")
TAP_NOT_OK = re.compile(r"^not ok\b(.*)$")
DIRECTIVE = re.compile(r"#\s*(SKIP|TODO)\b", re.IGNORECASE)

PASS_RESULTS = {"OK", "EXPECTEDFAIL"}
SKIP_RESULTS = {"SKIP"}


def split_suite(suite):
    """'libtsa:unit' -> 'unit'."""
    return suite.split(":", 1)[1] if ":" in suite else suite


def introspect_suites(builddir):
    """Map test name -> first suite name, from `meson introspect --tests`."""
    try:
        out = subprocess.run(
            ["meson", "introspect", "--tests", builddir],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True, timeout=120, check=False,
        ).stdout
        tests = json.loads(out or "[]")
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    names = {}
    for t in tests:
        suites = t.get("suite") or []
        if suites:
            names[t.get("name", "")] = split_suite(suites[0])
    return names


def suite_of(name, by_name):
    # meson names tests "project:suite1+suite2 / test" when the project has
    # more than one suite, and plain "test" otherwise.
    if " / " in name:
        head = name.split(" / ", 1)[0]
        return split_suite(head).split("+", 1)[0] or "meson"
    return by_name.get(name, "meson")


def count_tap(stdout):
    passed = failed = skipped = 0
    seen = False
    for line in (stdout or "").splitlines():
        m = TAP_OK.match(line)
        if m:
            seen = True
            d = DIRECTIVE.search(m.group(1))
            if d and d.group(1).upper() == "SKIP":
                skipped += 1
            else:
                passed += 1
            continue
        m = TAP_NOT_OK.match(line)
        if m:
            seen = True
            d = DIRECTIVE.search(m.group(1))
            if d:  # TODO (expected failure) or SKIP
                skipped += 1
            else:
                failed += 1
    return seen, passed, failed, skipped


def failure_lines(stdout, limit=40):
    """The "not ok" lines of a TAP stream, each with the diagnostics
    ("# ...") printed right before and after it."""
    lines = (stdout or "").splitlines()
    out = []
    for i, line in enumerate(lines):
        m = TAP_NOT_OK.match(line)
        if not m or DIRECTIVE.search(m.group(1)):
            continue
        j = i
        while j > 0 and lines[j - 1].startswith("#") and i - j < 10:
            j -= 1
        k = i + 1
        while k < len(lines) and lines[k].startswith("#") and k - i <= 6:
            k += 1
        out.extend(lines[j:k])
        if len(out) >= limit:
            break
    if not out and lines:
        out = lines[-10:]  # crashed or timed out: the last words
    return out[:limit]


def cmd_meson(builddir, prefix=""):
    path = os.path.join(builddir, "meson-logs", "testlog.json")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        print("tap_count: cannot read %s: %s" % (path, e), file=sys.stderr)
        return 1

    by_name = None
    totals = {}
    order = []
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        name = rec.get("name", "?")
        if " / " not in name and by_name is None:
            by_name = introspect_suites(builddir)
        suite = prefix + suite_of(name, by_name or {})
        result = str(rec.get("result", "")).upper()

        seen, p, f, s = count_tap(rec.get("stdout"))
        if not seen:
            if result in PASS_RESULTS:
                p = 1
            elif result in SKIP_RESULTS:
                s = 1
            else:
                f = 1
        elif result not in PASS_RESULTS and result not in SKIP_RESULTS and f == 0:
            # Crashed, timed out or broke the plan after passing subtests.
            f = 1
        if f:
            print("tap_count: FAILED %s (%s)" % (name, result or "?"), file=sys.stderr)
            for line in failure_lines(rec.get("stdout")):
                print("    " + line, file=sys.stderr)

        if suite not in totals:
            totals[suite] = [0, 0, 0]
            order.append(suite)
        t = totals[suite]
        t[0] += p
        t[1] += f
        t[2] += s

    for suite in order:
        p, f, s = totals[suite]
        print("%s\t%d\t%d\t%d" % (suite, p, f, s))
    return 0


SUMMARY_WORDS = re.compile(
    r"(\d+)\s+(passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cmd_summary(logfile):
    try:
        with open(logfile, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return 0
    for line in reversed(lines):
        line = ANSI.sub("", line)
        found = SUMMARY_WORDS.findall(line)
        kinds = {k for _, k in found}
        if not found or not ({"passed", "failed"} & kinds or
                             kinds & {"error", "errors"}):
            continue
        passed = failed = skipped = 0
        for n, kind in found:
            n = int(n)
            if kind in ("passed", "xpassed"):
                passed += n
            elif kind in ("failed", "error", "errors"):
                failed += n
            elif kind in ("skipped", "xfailed"):
                skipped += n
        print("%d\t%d\t%d" % (passed, failed, skipped))
        return 0
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "meson":
        return cmd_meson(argv[2], argv[3] if len(argv) > 3 else "")
    if len(argv) == 3 and argv[1] == "summary":
        return cmd_summary(argv[2])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
