#!/bin/bash
# Installs libtsa into a temporary root and builds every example from outside
# the tree with `pkg-config --cflags --libs tsa`, as a user would. TAP output.
set -u
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' "$2"; }

examples=$(cd "$src/examples" && ls *.c)
count=$(echo "$examples" | wc -w)
echo "1..$((3 + 2 * count))"

if DESTDIR="$tmp/root" meson install -C "$build" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
    ok "meson install into a staging root"
else
    not_ok "meson install into a staging root" "$tmp/install.log"
fi

pc=$(find "$tmp/root" -name tsa.pc | head -1)
if [ -n "$pc" ]; then
    export PKG_CONFIG_PATH=$(dirname "$pc")
    export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
    libdir=$(dirname "$(dirname "$pc")")
    ok "tsa.pc installed"
else
    not_ok "tsa.pc installed"
    libdir=/nonexistent
fi

version=$(pkg-config --modversion tsa 2>/dev/null)
expected=$(sed -n "s/^ *version *: *'\([0-9.]*\)'.*/\1/p" "$src/meson.build" | head -1)
if [ -n "$version" ] && [ "$version" = "$expected" ]; then
    ok "pkg-config --modversion tsa is $expected"
else
    not_ok "pkg-config --modversion tsa is $expected (got '$version')"
fi

# Data for the examples: a noisy two-feature VAR(1).
awk 'BEGIN { srand(7); a = 0; b = 0;
  for (t = 0; t < 400; t++) {
    u1 = (rand() + rand() + rand() - 1.5); u2 = (rand() + rand() + rand() - 1.5);
    na = 0.6 * a + 0.2 * b + u1; nb = -0.1 * a + 0.5 * b + u2; a = na; b = nb;
    if (t == 0) print "x,y"; printf "%.6f,%.6f\n", a, b } }' >"$tmp/data.csv"

# A daily cycle in hourly rows with three labelled spikes, from the installed
# command-line tool (falling back to the build tree's).
tsa_bin=$(find "$tmp/root" -type f -name tsa -perm -u+x | head -1)
[ -n "$tsa_bin" ] || tsa_bin=$build/tools/tsa/tsa
LD_LIBRARY_PATH="$libdir" "$tsa_bin" generate -n 300 --anomalies 3 --seed 3 \
    -o "$tmp/seasonal.csv" >/dev/null 2>&1
# Two regimes (levels -2 and 2, switching every 50 steps) and two spikes.
awk 'BEGIN { srand(5); print "x"; for (t = 0; t < 400; t++) {
    m = (int(t / 50) % 2) ? 2 : -2; u = (rand() + rand() + rand() - 1.5) * 0.5;
    if (t == 120 || t == 275) u += 6; printf "%.6f\n", m + u } }' >"$tmp/regimes.csv"

# A library built with -Db_sanitize needs its runtime first in the program,
# so the examples are then built with the same sanitizers (and checked by them).
san=
if readelf -d "$libdir/libtsa.so.0" 2>/dev/null | grep -q 'libasan'; then
    san="-fsanitize=address,undefined"
fi

for ex in $examples; do
    name=${ex%.c}
    # shellcheck disable=SC2046,SC2086
    if cc -std=c11 -Wall -Wextra -Werror $san "$src/examples/$ex" -o "$tmp/$name" \
        $(pkg-config --cflags --libs tsa) >"$tmp/cc.log" 2>&1; then
        ok "$name builds with pkg-config --cflags --libs tsa"
    else
        not_ok "$name builds with pkg-config --cflags --libs tsa" "$tmp/cc.log"
        not_ok "$name runs against the installed library"
        continue
    fi
    case $name in
    forecast_var)
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/data.csv" 10 0.9 >"$tmp/out.csv" 2>"$tmp/err.log" &&
            [ "$(wc -l <"$tmp/out.csv")" -eq 11 ] &&
            head -1 "$tmp/out.csv" | grep -q '^step,mean_0,lower_0,upper_0,mean_1' &&
            LD_LIBRARY_PATH="$libdir" ldd "$tmp/$name" | grep -q "$tmp/root.*libtsa.so.0"; then
            ok "$name forecasts 10 steps against the installed libtsa.so.0"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name forecasts 10 steps against the installed libtsa.so.0" "$tmp/err.log"
        fi
        ;;
    forecast_lstm)
        # 6 steps with a 4-unit LSTM trained for 3 epochs; progress on stderr.
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/seasonal.csv" 6 4 3 >"$tmp/out.csv" 2>"$tmp/err.log" &&
            [ "$(wc -l <"$tmp/out.csv")" -eq 7 ] &&
            head -1 "$tmp/out.csv" | grep -q '^timestamp,mean_0,lower_0,upper_0$' &&
            awk -F, 'NR > 1 && !($3 <= $2 && $2 <= $4) { bad = 1 } END { exit bad }' "$tmp/out.csv" &&
            [ "$(grep -c '^epoch [123]/3 ' "$tmp/err.log")" -eq 3 ]; then
            ok "$name trains 3 epochs with progress and forecasts 6 steps inside their intervals"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name trains 3 epochs with progress and forecasts 6 steps inside their intervals" "$tmp/err.log"
        fi
        ;;
    detect_prophet)
        # Every labelled spike of the file is flagged; the generated data too.
        labelled=$(awk -F, 'NR > 1 && $3 == 1 { print NR - 2 }' "$tmp/seasonal.csv")
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/seasonal.csv" 0.99 >"$tmp/out.csv" 2>"$tmp/err.log" &&
            head -1 "$tmp/out.csv" | grep -q '^index,timestamp,value,raw_score,score$' &&
            [ "$(echo "$labelled" | wc -w)" -eq 3 ] &&
            (for i in $labelled; do grep -q "^$i," "$tmp/out.csv" || exit 1; done) &&
            [ "$(wc -l <"$tmp/out.csv")" -le 9 ] &&
            LD_LIBRARY_PATH="$libdir" "$tmp/$name" >/dev/null 2>>"$tmp/err.log" &&
            grep -q '^5 of 5 injected anomalies flagged' "$tmp/err.log"; then
            ok "$name flags the labelled spikes of a file and of generated data"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name flags the labelled spikes of a file and of generated data" "$tmp/err.log"
        fi
        ;;
    hmm_regimes)
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/regimes.csv" 2 0.99 >"$tmp/out.csv" 2>"$tmp/err.log" &&
            grep -q '^states: 2$' "$tmp/out.csv" &&
            awk '/^state 0 mean:/ { a = $4 } /^state 1 mean:/ { b = $4 }
                 END { exit !(a > -2.3 && a < -1.7 && b > 1.7 && b < 2.3) }' "$tmp/out.csv" &&
            grep -q '^120,' "$tmp/out.csv" && grep -q '^275,' "$tmp/out.csv" &&
            [ "$(sed -n '/^index,value,score$/,$p' "$tmp/out.csv" | wc -l)" -le 7 ]; then
            ok "$name finds 2 states with means near -2 and 2 and flags both spikes"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name finds 2 states with means near -2 and 2 and flags both spikes" "$tmp/err.log"
        fi
        ;;
    ensemble)
        # Median of ets, theta and an AR model: three members with equal
        # weights, a holdout error each, the median's own no worse than the
        # worst member's, and a 6-step forecast inside its interval.
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/seasonal.csv" median 6 >"$tmp/out.csv" 2>"$tmp/err.log" &&
            (for m in ets theta multivariate; do
                grep -Eq "^$m,0.333333,[0-9.e+-]+$" "$tmp/out.csv" || exit 1
            done) &&
            grep -Eq '^ensemble_median,,[0-9.e+-]+$' "$tmp/out.csv" &&
            awk -F, '/^(ets|theta|multivariate),/ { if ($3 > max) max = $3 }
                     /^ensemble_median,/ { med = $3 } END { exit !(med > 0 && med <= max) }' "$tmp/out.csv" &&
            [ "$(sed -n '/^step,mean,lower,upper$/,$p' "$tmp/out.csv" | wc -l)" -eq 7 ] &&
            sed -n '/^step,/,$p' "$tmp/out.csv" |
                awk -F, 'NR > 1 && !($3 <= $2 && $2 <= $4) { bad = 1 } END { exit bad }'; then
            ok "$name combines 3 members by their median, with holdout errors and a 6-step forecast"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name combines 3 members by their median, with holdout errors and a 6-step forecast" "$tmp/err.log"
        fi
        ;;
    serve_threads)
        # A small model saved by the command-line tool, served from 4 threads.
        if LD_LIBRARY_PATH="$libdir" "$tsa_bin" fit -q -k lstm -p hidden_size=4 -p sequence_length=24 \
            --epochs 2 -i "$tmp/seasonal.csv" -o "$tmp/model.tsa" >"$tmp/err.log" 2>&1 &&
            LD_LIBRARY_PATH="$libdir" "$tmp/$name" "$tmp/model.tsa" 4 50 12 >"$tmp/out.csv" 2>>"$tmp/err.log" &&
            grep -q '^threads=4 requests=200 identical=yes$' "$tmp/out.csv" &&
            grep -Eq '^throughput=[0-9.]+ forecasts/s$' "$tmp/out.csv"; then
            ok "$name serves 200 identical forecasts from 4 threads on one loaded model"
        else
            cat "$tmp/out.csv" >>"$tmp/err.log" 2>/dev/null
            not_ok "$name serves 200 identical forecasts from 4 threads on one loaded model" "$tmp/err.log"
        fi
        ;;
    *)
        if LD_LIBRARY_PATH="$libdir" "$tmp/$name" --help >/dev/null 2>&1 ||
            LD_LIBRARY_PATH="$libdir" "$tmp/$name" >/dev/null 2>&1; then
            ok "$name runs against the installed library"
        else
            not_ok "$name runs against the installed library"
        fi
        ;;
    esac
done
exit $((failed > 0))
