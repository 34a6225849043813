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

for ex in $examples; do
    name=${ex%.c}
    # shellcheck disable=SC2046
    if cc -std=c11 -Wall -Wextra -Werror "$src/examples/$ex" -o "$tmp/$name" \
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
