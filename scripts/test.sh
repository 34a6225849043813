#!/bin/bash
# Run every test suite of libtsa and print one closing line "N passed, N failed".
#
#   scripts/test.sh
#
# Stages, in order (a failing stage counts as one failure; later stages that
# do not depend on it still run):
#   deps        scripts/install-deps --test
#   build       meson setup build-test -Dtests=true --werror && ninja
#   <suites>    meson test -C build-test (suites unit, abi, consumer, ...);
#               every TAP result line counts as one test
#   asan-*      build-asan with AddressSanitizer + UBSan, meson test --suite unit
#   tsan-*      build-tsan with ThreadSanitizer, meson test --suite unit
#   python      tests/python/test_*.py with Debian's pytest
#   fuzz        tests/fuzz/run, when present and executable
#   services    tests/services/run, when present
#
# Runners under tests/ get TSA_BUILD_DIR (build-test), TSA_LIBRARY (the built
# libtsa.so.0) and TSA_SOURCE_DIR in their environment; when they print a line
# "N passed, N failed" it gives their counts, else their exit status counts as
# one test.
#
# Environment: TSA_SKIP_DEPS=1 skips the install step; TSA_SKIP_ASAN=1 and
# TSA_SKIP_TSAN=1 skip the sanitizer builds.

set -uo pipefail

cd "$(dirname "$0")/.." || { echo "test.sh: cannot find the source tree"; echo "0 passed, 1 failed"; exit 1; }
ROOT=$PWD
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TAPCOUNT="$ROOT/scripts/tap_count.py"
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/tsa-test-logs.XXXXXX") || LOGDIR=/tmp
FAILURES="$LOGDIR/failures.txt"   # what failed, repeated before the summary
: > "$FAILURES"

SUITES=()   # "name passed failed skipped"
TOTAL_PASSED=0
TOTAL_FAILED=0
START=$(date +%s)

record() {  # record NAME PASSED FAILED [SKIPPED]
    local name=$1 p=$2 f=$3 s=${4:-0}
    SUITES+=("$name $p $f $s")
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    if [ "$s" -gt 0 ]; then
        echo "--> $name: $p passed, $f failed, $s skipped"
    else
        echo "--> $name: $p passed, $f failed"
    fi
}

# Print the per-suite lines and the closing line; runs on every exit, so an
# unexpected error still ends with a summary (and counts as a failure).
FINISHED=0
# shellcheck disable=SC2317  # invoked through the EXIT trap
finish() {
    local rc=$? entry name p f s
    trap - EXIT
    declare -F stop_pg >/dev/null && stop_pg
    if [ "$FINISHED" != 1 ]; then
        echo "test.sh: stopped early (exit $rc)"
        SUITES+=("test.sh 0 1 0")
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
    fi
    if [ -s "$FAILURES" ]; then
        echo
        echo "=== failures (full logs above and in $LOGDIR)"
        head -200 "$FAILURES"
    fi
    echo
    echo "=== summary ($(( $(date +%s) - START ))s)"
    for entry in "${SUITES[@]}"; do
        read -r name p f s <<< "$entry"
        if [ "$s" -gt 0 ]; then
            echo "$name: $p passed, $f failed, $s skipped"
        else
            echo "$name: $p passed, $f failed"
        fi
    done
    if [ $((TOTAL_PASSED + TOTAL_FAILED)) -eq 0 ]; then
        echo "test.sh: no tests ran"
    fi
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    if [ "$TOTAL_FAILED" -ne 0 ] || [ $((TOTAL_PASSED + TOTAL_FAILED)) -eq 0 ]; then
        exit 1
    fi
    exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

banner() {
    echo
    echo "=== $* ($(( $(date +%s) - START ))s)"
}

# Run a build step; on failure record it as one failed test named NAME.
step() {  # step NAME command...
    local name=$1; shift
    local rc=0
    "$@" || rc=$?
    [ "$rc" -eq 0 ] && return 0
    echo "test.sh: '$*' failed (exit $rc)"
    record "$name" 0 1
    return 1
}

# Count a meson test run from BUILDDIR/meson-logs/testlog.json.
count_meson() {  # count_meson BUILDDIR RC PREFIX FALLBACK_NAME
    local dir=$1 rc=$2 prefix=$3 fallback=$4 out name p f s got_failed=0 any=0
    if [ -f "$dir/meson-logs/testlog.json" ]; then
        out=$("$PY" "$TAPCOUNT" meson "$dir" "$prefix" 2>"$LOGDIR/tap-$prefix.err") || out=""
        cat "$LOGDIR/tap-$prefix.err" >&2
        cat "$LOGDIR/tap-$prefix.err" >> "$FAILURES"
        while IFS=$'\t' read -r name p f s; do
            [ -n "$name" ] || continue
            record "$name" "$p" "$f" "$s"
            any=1
            [ "$f" -gt 0 ] && got_failed=1
        done <<< "$out"
    fi
    if [ "$rc" -ne 0 ] && [ "$got_failed" = 0 ]; then
        # meson test failed without a failing test to show for it
        # (no tests found, bad option, interrupted...).
        echo "test.sh: meson test in $dir exited $rc"
        record "$fallback" 0 1
    elif [ "$any" = 0 ]; then
        echo "test.sh: meson test in $dir ran no tests"
    fi
}

# Keep the failing lines of a runner's log for the closing summary.
note_failures() {  # note_failures NAME LOG FAILED
    [ "$3" -gt 0 ] || return 0
    {
        echo "$1:"
        grep -E -B3 -A3 '^(not ok|FAIL|FAILED|ERROR)\b|^E   ' "$2" | head -60 | sed 's/^/    /'
    } >> "$FAILURES"
}

# Run an external suite runner and count its results.
run_runner() {  # run_runner NAME command...
    local name=$1; shift
    local log="$LOGDIR/$name.log" rc counts p f s
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    counts=$("$PY" "$TAPCOUNT" summary "$log" || true)
    if [ -n "$counts" ]; then
        IFS=$'\t' read -r p f s <<< "$counts"
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "test.sh: $name exited $rc"
            f=1
        fi
        record "$name" "$p" "$f" "$s"
        note_failures "$name" "$log" "$f"
    elif [ "$rc" -eq 0 ]; then
        record "$name" 1 0
    else
        echo "test.sh: $name exited $rc"
        record "$name" 0 1
    fi
}

export TSA_SOURCE_DIR="$ROOT"
export TSA_BUILD_DIR="$ROOT/build-test"
export TSA_LIBRARY="$ROOT/build-test/libtsa/libtsa.so.0"

# ---------------------------------------------------------------------------
banner "dependencies"
if [ "${TSA_SKIP_DEPS:-0}" = 1 ]; then
    echo "skipped (TSA_SKIP_DEPS=1)"
else
    step deps bash scripts/install-deps --test || true
fi

# ---------------------------------------------------------------------------
banner "configure and build build-test"
built=0
rm -rf build-test
if step build meson setup build-test -Dtests=true --werror \
   && step build ninja -C build-test; then
    built=1
fi

# A throwaway PostgreSQL for the store's PostgreSQL cases (unit and asan).
PG_DIR=""
stop_pg() { [ -n "$PG_DIR" ] && scripts/pg-test-server stop "$PG_DIR" >/dev/null 2>&1; PG_DIR=""; }
if [ "$built" = 1 ] && [ -x scripts/pg-test-server ]; then
    banner "PostgreSQL for the store tests"
    if url=$(scripts/pg-test-server 2>"$LOGDIR/pg.log"); then
        export TSA_TEST_PG_URL="$url"
        PG_DIR=$(sed -n 's/.*stop with: .* stop //p' "$LOGDIR/pg.log" | tail -1)
        echo "TSA_TEST_PG_URL=$url"
    else
        echo "test.sh: could not start PostgreSQL:"; tail -20 "$LOGDIR/pg.log"
        record postgres 0 1
    fi
fi

if [ "$built" = 1 ]; then
    banner "meson test -C build-test"
    meson test -C build-test --print-errorlogs --num-processes 2
    rc=$?
    count_meson build-test "$rc" "" meson-test
fi

# ---------------------------------------------------------------------------
if [ "${TSA_SKIP_ASAN:-0}" = 1 ]; then
    banner "sanitizers: skipped (TSA_SKIP_ASAN=1)"
else
    banner "configure and build build-asan (address,undefined)"
    rm -rf build-asan
    if step asan-build meson setup build-asan -Dtests=true \
            -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
       && step asan-build ninja -C build-asan; then
        banner "meson test -C build-asan --suite unit"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            meson test -C build-asan --suite unit --print-errorlogs \
                --num-processes 2 --timeout-multiplier 3
        rc=$?
        count_meson build-asan "$rc" "asan-" asan-unit
    fi
fi

# ThreadSanitizer over the unit tests: the thread-safety contract
# (concurrent forecast/score/detect on one model, the store from many
# threads). OpenBLAS runs single-threaded here: its own thread pool is not
# instrumented and would only yield false reports.
if [ "${TSA_SKIP_TSAN:-0}" = 1 ]; then
    banner "thread sanitizer: skipped (TSA_SKIP_TSAN=1)"
else
    banner "configure and build build-tsan (thread)"
    rm -rf build-tsan
    if step tsan-build meson setup build-tsan -Dtests=true \
            -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized \
       && step tsan-build ninja -C build-tsan; then
        banner "meson test -C build-tsan --suite unit"
        # Kernels with more mmap randomisation than TSan's fixed layout
        # allows ("unexpected memory mapping") run it without ASLR.
        norand=()
        if build-tsan/tests/test-core-series 2>&1 | grep -q "unexpected memory mapping"; then
            norand=(setarch "$(uname -m)" -R)
            echo "test.sh: ThreadSanitizer runs with address randomisation off"
        fi
        OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            "${norand[@]}" meson test -C build-tsan --suite unit --print-errorlogs \
                --num-processes 2 --timeout-multiplier 4
        rc=$?
        count_meson build-tsan "$rc" "tsan-" tsan-unit
    fi
fi

stop_pg
unset TSA_TEST_PG_URL

# ---------------------------------------------------------------------------
if [ -d tests/python ] && [ -n "$(find tests/python -name 'test_*.py' -print -quit)" ]; then
    banner "python tests (pytest)"
    pypath="$ROOT/bindings/python"
    [ -d "$ROOT/bindings/python/src" ] && pypath="$ROOT/bindings/python/src:$pypath"
    log="$LOGDIR/python.log"
    PYTHONPATH="$pypath${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 -m pytest -q --color=no -p no:cacheprovider tests/python 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    counts=$("$PY" "$TAPCOUNT" summary "$log" || true)
    p=0; f=0; s=0
    [ -n "$counts" ] && IFS=$'\t' read -r p f s <<< "$counts"
    if [ "$rc" -eq 5 ]; then
        echo "pytest collected no tests"
        record python 0 0
    else
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "test.sh: pytest exited $rc"
            f=1
        fi
        record python "$p" "$f" "$s"
        note_failures python "$log" "$f"
    fi
fi

if [ -f tests/fuzz/run ] && [ -x tests/fuzz/run ]; then
    banner "fuzz"
    run_runner fuzz ./tests/fuzz/run
fi

if [ -f tests/services/run ]; then
    banner "services"
    if [ -x tests/services/run ]; then
        run_runner services ./tests/services/run
    else
        run_runner services bash tests/services/run
    fi
fi

if [ -f tests/agents/run ]; then
    banner "agents (MCP and A2A)"
    if [ -x tests/agents/run ]; then
        run_runner agents ./tests/agents/run
    else
        run_runner agents bash tests/agents/run
    fi
fi

if [ -f tests/deploy/run ]; then
    banner "deploy (static checks of docker-compose.yml and deploy/)"
    run_runner deploy "$PY" tests/deploy/run "$TSA_BUILD_DIR"
fi

if [ -f tests/browser/run ]; then
    banner "browser (tsa-dashboard in headless Chromium)"
    if [ -x tests/browser/run ]; then
        run_runner browser ./tests/browser/run
    else
        run_runner browser bash tests/browser/run
    fi
fi

# ---------------------------------------------------------------------------
FINISHED=1
exit 0
