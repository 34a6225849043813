#!/bin/bash
# TAP tests of the tsa command-line tool.
#   run.sh TSA_BINARY SCRATCH_DIR
# Models use the multivariate kind (and prophet for --components).
set -u

TSA=$1
mkdir -p "$2"
D=$(mktemp -d "$2/run.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); fails=$((fails + 1))
    echo "not ok $n - $1"
    shift
    for f in "$@"; do
        [ -s "$f" ] && sed 's/^/# /' "$f" | head -n 20
    done
}
# check DESC COMMAND...: passes when COMMAND succeeds.
check() {
    local desc=$1; shift
    if "$@" >"$D/out" 2>"$D/err"; then ok "$desc"; else not_ok "$desc" "$D/out" "$D/err"; fi
}
# expect_exit CODE PATTERN DESC COMMAND...: COMMAND exits with CODE and its
# standard error matches PATTERN (extended regex, case-insensitive).
expect_exit() {
    local code=$1 pat=$2 desc=$3; shift 3
    "$@" >"$D/out" 2>"$D/err"
    local rc=$?
    if [ "$rc" -eq "$code" ] && tr '\n' ' ' <"$D/err" | grep -Eqi -- "$pat" &&
        grep -q '^tsa: ' "$D/err"; then
        ok "$desc (exit $rc)"
    else
        echo "# exit $rc, expected $code; stderr should match /$pat/"
        not_ok "$desc" "$D/err"
    fi
}
rows() { grep -c . "$1"; }
ncols() { head -n "${2:-1}" "$1" | tail -n 1 | awk -F, '{print NF}'; }
is_json() { python3 -c 'import json,sys; json.load(sys.stdin)' <"$1"; }

N=600 K=3 H=24

# ---- generate, fit, forecast ---------------------------------------------------
check "generate writes a CSV" \
    "$TSA" generate --n-samples $N --n-features $K --anomalies 8 --seed 11 --output "$D/g.csv"
check "generate: header timestamp,x0..x2,label" \
    test "$(head -n 1 "$D/g.csv")" = "timestamp,x0,x1,x2,label"
check "generate: $N data rows of $((K + 2)) cells" \
    test "$(rows "$D/g.csv")" -eq $((N + 1)) -a "$(ncols "$D/g.csv" 2)" -eq $((K + 2))
check "generate: 8 labelled rows" \
    test "$(awk -F, 'NR > 1 && $NF == 1' "$D/g.csv" | wc -l)" -eq 8
check "generate is deterministic for a seed" \
    cmp -s "$D/g.csv" <("$TSA" generate --n-samples $N --n-features $K --anomalies 8 --seed 11)

check "fit multivariate" \
    "$TSA" fit --kind multivariate --input "$D/g.csv" --param max_lags=4 --param ic=bic \
    --output "$D/m.tsa"
check "fit: the model file exists" test -s "$D/m.tsa"

"$TSA" forecast --model "$D/m.tsa" --horizon $H >"$D/fc.csv" 2>"$D/err"
check "forecast exits 0" test $? -eq 0
check "forecast: $H rows plus a header" test "$(rows "$D/fc.csv")" -eq $((H + 1))
check "forecast: step,timestamp and 3 columns per feature" \
    test "$(ncols "$D/fc.csv")" -eq $((2 + 3 * K)) -a "$(ncols "$D/fc.csv" $((H + 1)))" -eq $((2 + 3 * K))
check "forecast: header names mean_j,lower_j,upper_j" \
    grep -q '^step,timestamp,mean_0,lower_0,upper_0,mean_1,lower_1,upper_1,mean_2,lower_2,upper_2$' "$D/fc.csv"
check "forecast: timestamps continue the training series hourly" \
    awk -F, -v last="$(tail -n 1 "$D/g.csv" | cut -d, -f1)" \
    'NR > 1 && $2 != last + 3600 * $1 { bad = 1 } END { exit bad }' "$D/fc.csv"
check "forecast: lower <= mean <= upper everywhere" \
    awk -F, 'NR > 1 { for (j = 3; j < NF; j += 3) if (!($(j+1) <= $j && $j <= $(j+2))) bad = 1 }
             END { exit bad }' "$D/fc.csv"
"$TSA" forecast -m "$D/m.tsa" -H $H --interval 0.5 --no-header >"$D/fc50.csv"
check "forecast --interval 0.5 is narrower than 0.95" \
    awk -F, 'NR == FNR { w[FNR] = $5 - $4; next } FNR > 0 && $5 - $4 >= w[FNR + 1] { bad = 1 }
             END { exit bad }' "$D/fc.csv" "$D/fc50.csv"
check "forecast --input: from a given history" \
    "$TSA" forecast -m "$D/m.tsa" --input "$D/g.csv" --horizon 5 --output "$D/fch.csv"
check "forecast --input on the training data equals forecasting from the model" \
    cmp -s "$D/fch.csv" <(head -n 6 "$D/fc.csv")

# ---- forecast --components ------------------------------------------------------------
cut -d, -f1,2 "$D/g.csv" >"$D/g1.csv"
check "fit prophet on one hourly feature" \
    "$TSA" fit --kind prophet --input "$D/g1.csv" --param uncertainty_samples=0 --output "$D/p.tsa"
check "forecast --components: trend_0 and the seasonalities after the forecast columns" \
    grep -q '^step,timestamp,mean_0,lower_0,upper_0,trend_0,weekly_0,daily_0$' \
    <("$TSA" forecast -m "$D/p.tsa" -H 12 --components --precision 17 | tee "$D/fcc.csv")
check "forecast --components: the components add up to mean_0 on every row" \
    awk -F, 'NR > 1 { s = 0; for (i = 6; i <= NF; i++) s += $i; d = s - $3; if (d < 0) d = -d;
             a = $3 < 0 ? -$3 : $3; if (d > 1e-9 * (1 + a)) bad++ } END { exit NR == 13 && !bad ? 0 : 1 }' \
    "$D/fcc.csv"
check "forecast --components: the forecast columns are unchanged" \
    cmp -s <(cut -d, -f1-5 "$D/fcc.csv") <("$TSA" forecast -m "$D/p.tsa" -H 12 --precision 17)

# ---- detect and score --------------------------------------------------------------
check "detect exits 0" "$TSA" detect --model "$D/m.tsa" --input "$D/g.csv" --threshold 0.99 \
    --output "$D/det.csv"
check "detect: header index,timestamp,raw,calibrated,flag" \
    test "$(head -n 1 "$D/det.csv")" = "index,timestamp,raw,calibrated,flag"
check "detect: one row per input row" test "$(rows "$D/det.csv")" -eq $((N + 1))
# Row i of the detection is data row i of the input (line i + 2).
awk -F, 'NR == FNR { if (FNR > 1) lab[FNR - 2] = $NF; next }
         FNR > 1 && lab[$1] == 1 { n++; if ($5 == 1) hit++ }
         FNR > 1 && lab[$1] == 0 && $5 == 1 { fp++ }
         END { printf "%d %d %d\n", n, hit, fp }' "$D/g.csv" "$D/det.csv" >"$D/hits"
read -r labelled hit fp <"$D/hits"
echo "# detect: $hit of $labelled labelled rows flagged, $fp other rows flagged"
check "detect flags most labelled rows ($hit of $labelled)" test "$labelled" -eq 8 -a "$hit" -ge 6
check "detect at 0.99 flags few unlabelled rows ($fp of $((N - 8)))" test "$fp" -le $((N / 50))
"$TSA" detect -m "$D/m.tsa" -i "$D/g.csv" --only-anomalies --threshold 0.99 >"$D/only.csv"
check "detect --only-anomalies writes flagged rows only" \
    awk -F, 'NR > 1 { n++; if ($5 != 1 || $4 <= 0.99) bad = 1 } END { exit bad || n == 0 }' "$D/only.csv"
check "detect --evaluate reports recall" \
    bash -c '"$1" detect -m "$2" -i "$3" --evaluate 2>&1 >/dev/null | grep -q "recall"' _ \
    "$TSA" "$D/m.tsa" "$D/g.csv"
check "score exits 0" "$TSA" score -m "$D/m.tsa" -i "$D/g.csv" -o "$D/score.csv"
check "score: index,timestamp,raw,calibrated per row" \
    test "$(head -n 1 "$D/score.csv")" = "index,timestamp,raw,calibrated" -a \
    "$(rows "$D/score.csv")" -eq $((N + 1))
check "score: calibrated scores in [0, 1], equal to detect's" \
    awk -F, 'NR == FNR { c[FNR] = $4; next } FNR > 1 && ($4 < 0 || $4 > 1 || $4 != c[FNR]) { bad = 1 }
             END { exit bad }' "$D/det.csv" "$D/score.csv"

# ---- info, kinds, version -----------------------------------------------------------
"$TSA" info "$D/m.tsa" >"$D/info.json" 2>"$D/err"
check "info exits 0" test $? -eq 0
check "info is valid JSON" is_json "$D/info.json"
check "info names the kind, is fitted, has 3 features" \
    python3 -c 'import json,sys; d = json.load(sys.stdin)
assert d["kind"] == "multivariate" and d["fitted"] is True and d["n_features"] == 3, d' \
    <"$D/info.json"
check "info --compact is one line of JSON" \
    bash -c '"$1" info --compact "$2" | python3 -c "import json,sys; json.loads(sys.stdin.readline())"' \
    _ "$TSA" "$D/m.tsa"
"$TSA" kinds >"$D/kinds" 2>"$D/err"
check "kinds lists multivariate" grep -qx multivariate "$D/kinds"
"$TSA" kinds multivariate >"$D/kind.json"
check "kinds multivariate: JSON with its parameters" \
    python3 -c 'import json,sys; d = json.load(sys.stdin)
assert d["name"] == "multivariate" and any(p["name"] == "max_lags" for p in d["params"]), d' \
    <"$D/kind.json"
check "kinds accepts an alias (var)" \
    bash -c '"$1" kinds var | python3 -c "import json,sys; assert json.load(sys.stdin)[\"name\"] == \"multivariate\""' \
    _ "$TSA"
check "kinds --long shows capabilities" grep -q '^multivariate .*forecast' <("$TSA" kinds --long)
check "version prints both versions" grep -Eq '^tsa [0-9]+\.[0-9]+\.[0-9]+ \(libtsa [0-9.]+\)$' \
    <("$TSA" version)

# ---- error classes ------------------------------------------------------------------
expect_exit 4 "unknown model kind 'nosuch'" "unknown kind" \
    "$TSA" fit --kind nosuch -i "$D/g.csv" -o "$D/x.tsa"
expect_exit 4 "bogus: unknown parameter" "--param bogus=1" \
    "$TSA" fit --kind multivariate --param bogus=1 -i "$D/g.csv" -o "$D/x.tsa"
expect_exit 4 "max_lags: must be in" "--param value out of range" \
    "$TSA" fit --kind multivariate --param max_lags=0 -i "$D/g.csv" -o "$D/x.tsa"
expect_exit 4 "order: must be in" "--params-json value out of range" \
    "$TSA" fit --kind multivariate --params-json '{"order": 1000}' -i "$D/g.csv" -o "$D/x.tsa"
printf 'a,b\n1,2\n3,4\n5,abc\n7,8\n' >"$D/bad.csv"
expect_exit 3 "bad.csv:4: column 2 \('b'\): not a number: 'abc'" "a non-numeric cell names its line" \
    "$TSA" fit --kind multivariate -i "$D/bad.csv" -o "$D/x.tsa"
printf 'a,b\n1,2\n3\n' >"$D/ragged.csv"
expect_exit 3 "ragged.csv:3: 1 cells, expected 2" "a short row names its line" \
    "$TSA" fit --kind multivariate -i "$D/ragged.csv" -o "$D/x.tsa"
awk -F, -v OFS=, 'NR == 101 { $3 = "inf" } { print }' "$D/g.csv" >"$D/inf.csv"
expect_exit 3 "infinite.*line 101 of" "an infinite value (TSA_ENONFINITE)" \
    "$TSA" detect -m "$D/m.tsa" -i "$D/inf.csv"
printf 'a,b\n1,2\n3,4\n' >"$D/short.csv"
expect_exit 3 "too short|at least" "too few rows (TSA_ETOOSHORT)" \
    "$TSA" fit --kind multivariate -i "$D/short.csv" -o "$D/x.tsa"
cut -d, -f1,2,5 "$D/g.csv" >"$D/one.csv"
expect_exit 3 "has 1 features, the model was fitted on 3" "wrong feature count (TSA_ESHAPE)" \
    "$TSA" detect -m "$D/m.tsa" -i "$D/one.csv"
head -c 200 "$D/m.tsa" >"$D/trunc.tsa"
expect_exit 5 "trunc.tsa: model data" "a truncated model file" \
    "$TSA" forecast -m "$D/trunc.tsa" -H 3
expect_exit 5 "foreign|magic|model data" "a CSV given as a model" \
    "$TSA" info "$D/g.csv"
expect_exit 5 "nofile.tsa: cannot open: No such file" "a missing model file" \
    "$TSA" forecast -m "$D/nofile.tsa" -H 3
expect_exit 5 "nofile.csv: cannot open: No such file" "a missing input file" \
    "$TSA" fit --kind multivariate -i "$D/nofile.csv" -o "$D/x.tsa"
expect_exit 5 "cannot create" "an unwritable output" \
    "$TSA" fit --kind multivariate -i "$D/g.csv" -o "$D/no/such/dir/x.tsa"
expect_exit 2 "--horizon: must be in \[1, 100000\], got 0" "horizon 0" \
    "$TSA" forecast -m "$D/m.tsa" --horizon 0
expect_exit 2 "threshold" "threshold 1 (TSA_ERANGE)" \
    "$TSA" detect -m "$D/m.tsa" -i "$D/g.csv" --threshold 1
expect_exit 2 "--components: kind 'multivariate' has no components" "--components on a kind without them" \
    "$TSA" forecast -m "$D/m.tsa" -H 3 --components
expect_exit 2 "unknown option '--frobnicate'" "an unknown option" \
    "$TSA" forecast -m "$D/m.tsa" -H 3 --frobnicate
expect_exit 2 "--kind is required" "a missing --kind" \
    "$TSA" fit -i "$D/g.csv" -o "$D/x.tsa"
expect_exit 2 "--param: expected KEY=VALUE" "a --param without =" \
    "$TSA" fit --kind multivariate --param max_lags -o "$D/x.tsa"
expect_exit 2 "unknown command 'frob'" "an unknown command" "$TSA" frob
expect_exit 2 "n_samples" "generate --n-samples 0" "$TSA" generate --n-samples 0

# ---- pipes ------------------------------------------------------------------------------
check "pipes: generate | fit -o - | forecast -m -" \
    bash -c 'set -o pipefail
      "$1" generate -n 600 -k 3 --anomalies 8 --seed 11 |
      "$1" fit --kind multivariate --param max_lags=4 --param ic=bic --output - |
      "$1" forecast --model - --horizon 24 >"$2/fcpipe.csv"' _ "$TSA" "$D"
check "pipes: the piped forecast equals the file-based one" cmp -s "$D/fc.csv" "$D/fcpipe.csv"
check "pipes: detect reads standard input" \
    bash -c 'set -o pipefail; cat "$3" | "$1" detect -m "$2" -t 0.99 | cmp -s - "$4"' _ \
    "$TSA" "$D/m.tsa" "$D/g.csv" "$D/det.csv"
check "pipes: info reads a model from standard input" \
    bash -c '"$1" info - <"$2" | python3 -c "import json,sys; json.load(sys.stdin)"' _ "$TSA" "$D/m.tsa"
expect_exit 2 "cannot both be standard input" "--model - with --input -" \
    "$TSA" detect -m - -i -

# ---- CSV forms: no header, missing values, ISO dates --------------------------------------
tail -n +2 "$D/g.csv" | cut -d, -f2-4 >"$D/plain.csv"
check "a CSV without header or timestamps fits" \
    "$TSA" fit --kind multivariate --param max_lags=4 -i "$D/plain.csv" -o "$D/plain.tsa"
check "forecast without timestamps: step,mean_0,..." \
    grep -q '^step,mean_0,lower_0,upper_0,mean_1' <("$TSA" forecast -m "$D/plain.tsa" -H 2)
awk -F, -v OFS=, 'NR == 50 { $2 = "" } NR == 60 { $3 = "NA" } NR == 70 { $4 = "NaN" } { print }' \
    "$D/g.csv" >"$D/miss.csv"
check "empty, NA and NaN cells are missing values" \
    "$TSA" fit --kind multivariate --param max_lags=4 -i "$D/miss.csv" -o "$D/miss.tsa"
check "scoring a series with missing values" \
    test "$("$TSA" score -m "$D/miss.tsa" -i "$D/miss.csv" | rows /dev/stdin)" -eq $((N + 1))

"$TSA" generate -n 120 -k 2 --start 2024-01-01 --step 1d --period 7 --seed 3 >"$D/iso.csv"
check "generate --start 2024-01-01 --step 1d writes ISO dates" \
    test "$(sed -n '2p;$p' "$D/iso.csv" | cut -d, -f1 | tr '\n' ' ')" = "2024-01-01 2024-04-29 "
check "fit on ISO-dated data" "$TSA" fit -k multivariate -i "$D/iso.csv" -o "$D/iso.tsa"
check "forecast --input with ISO dates gives the next dates" \
    test "$("$TSA" forecast -m "$D/iso.tsa" -i "$D/iso.csv" -H 3 | cut -d, -f2 | tr '\n' ' ')" = \
    "timestamp 2024-04-30 2024-05-01 2024-05-02 "
check "forecast from the model gives the same instants in seconds" \
    test "$("$TSA" forecast -m "$D/iso.tsa" -H 2 | cut -d, -f2 | tr '\n' ' ')" = \
    "timestamp 1714435200 1714521600 "
check "--time-format iso writes datetimes" \
    test "$("$TSA" forecast -m "$D/iso.tsa" -H 1 --time-format iso --no-header | cut -d, -f2)" = \
    "2024-04-30T00:00:00Z"
{
    echo "date,value"
    for h in 00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23; do
        echo "2024-02-28T$h:00:00Z,$((10#$h % 5)).5"
        echo "2024-02-29T$h:30:00+00:30,$((10#$h % 3)).25"
    done
} | sort -t, -k1,1 >"$D/dt.csv.tmp"
{ echo "date,value"; grep -v '^date' "$D/dt.csv.tmp"; } >"$D/dt.csv"
check "ISO datetimes with Z and offsets" \
    "$TSA" fit -k multivariate --param max_lags=2 -i "$D/dt.csv" -o "$D/dt.tsa"
check "forecast after datetimes steps by the median spacing into March" \
    test "$("$TSA" forecast -m "$D/dt.tsa" -i "$D/dt.csv" -H 2 --no-header | cut -d, -f2 | tr '\n' ' ')" = \
    "2024-03-01T00:00:00Z 2024-03-01T01:00:00Z "
printf 'date,v\n2024-01-02,1\n2024-01-01,2\n' >"$D/order.csv"
expect_exit 3 "order.csv:3: timestamp '2024-01-01' is not after" "decreasing timestamps" \
    "$TSA" fit -k multivariate -i "$D/order.csv" -o "$D/x.tsa"
printf 'date,v\n2024-02-30,1\n2024-03-01,2\n' >"$D/baddate.csv"
expect_exit 3 "baddate.csv:2: column 1: not a timestamp: '2024-02-30'" "an impossible date" \
    "$TSA" fit -k multivariate -i "$D/baddate.csv" -o "$D/x.tsa"

# ---- progress -------------------------------------------------------------------------------
"$TSA" fit -k multivariate -i "$D/g.csv" -o "$D/p.tsa" --progress 2>"$D/progress" </dev/null
check "fit --progress writes one line per report when stderr is not a terminal" \
    grep -q '^progress: stage=[a-z_]* step=[0-9]* total=[0-9]*' "$D/progress"
"$TSA" fit -k multivariate -i "$D/g.csv" -o "$D/p.tsa" 2>"$D/progress"
check "fit without --progress is silent when stderr is not a terminal" test ! -s "$D/progress"
check "--seed is stored as the seed parameter" \
    bash -c '"$1" fit -k multivariate -i "$2" -o "$3" --seed 1234 &&
      "$1" info --compact "$3" | grep -q "\"seed\":1234"' _ "$TSA" "$D/g.csv" "$D/s.tsa"

# ---- help -------------------------------------------------------------------------------------
for cmd in fit forecast detect score info generate kinds version; do
    check "$cmd --help exits 0" bash -c '"$1" "$2" --help | grep -q "^Usage: tsa $2"' _ "$TSA" "$cmd"
done
check "tsa --help exits 0 and lists the commands" \
    bash -c '"$1" --help | grep -q "^  forecast "' _ "$TSA"
check "tsa help detect exits 0" bash -c '"$1" help detect | grep -q "^Usage: tsa detect"' _ "$TSA"
expect_exit 2 "Usage" "tsa without a command" "$TSA"

echo "1..$n"
[ "$fails" -eq 0 ]
