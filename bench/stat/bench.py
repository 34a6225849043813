"""Statistical benchmarks: libtsa against R prophet, pomegranate,
statsmodels and R forecast, both sides in one run (see README.md).

  /usr/bin/python3 bench/stat/bench.py BUILD_DIR [--only S1,S2,S3,S4]

Prints one JSON line per workload and implementation, then a table of
ratios (libtsa / peer) with the targets. Times are medians of REPS calls
(TSA_BENCH_REPS, default 5; the R ets/thetaf and prophet calls use
TSA_BENCH_SLOW_REPS, default 3), each call timed alone inside its own
process after one untimed warm-up.
"""
import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.environ.get("TSA_BENCH_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
REPS = int(os.environ.get("TSA_BENCH_REPS", "5"))
SLOW_REPS = int(os.environ.get("TSA_BENCH_SLOW_REPS", "3"))
M4_SERIES = int(os.environ.get("TSA_BENCH_M4_SERIES", "6"))
PY = "/usr/bin/python3"
DAY = 86400

# (workload, metric, libtsa, peer, ratio, target text, met or None, wall-clock
# ratio or None)
rows = []


def emit(obj):
    print(json.dumps(obj), flush=True)


def note(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def run_json(cmd, env=None):
    """Runs cmd; returns the JSON object on the last line of its output."""
    e = dict(os.environ, TZ="UTC", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, env=e)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(shlex.quote(c) for c in cmd[:3])}...: exit {p.returncode}: "
                           f"{p.stderr.strip()[-600:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{cmd[0]}: no JSON in output: {p.stdout[-300:]} {p.stderr[-300:]}")
    return json.loads(lines[-1])


def med(x):
    return float(np.median(x))


def speed_row(workload, metric, lib, peer, factor):
    """lib, peer: (wall, cpu) medians. The target is judged on CPU time:
    every side runs single-threaded, and on a shared machine the CPU time
    of a process is what other load disturbs least; the wall-clock ratio
    is shown beside it."""
    ratio = lib[1] / peer[1]
    rows.append((workload, metric, lib[1], peer[1], ratio, f">= {factor:g}x faster",
                 peer[1] / lib[1] >= factor, lib[0] / peer[0]))


def times(d, key):
    """(wall, cpu) medians of d[key] and d[key without _s + _cpu_s]."""
    return med(d[key]), med(d[key[:-2] + "_cpu_s"])


# ---- environment ----------------------------------------------------------


def compile_programs(build, tmp):
    """tsa_bench against the shared library (public API only) and hmm_em,
    which compiles libtsa/stat/hmm.c with the flags the build used for it
    and links the rest from the internal archive."""
    inc = ["-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(build, "include")]
    libdir = os.path.join(build, "libtsa")
    cc = os.environ.get("CC", "cc")
    flags = ["-std=c11", "-O2", "-DNDEBUG", "-D_GNU_SOURCE"]
    cmds = json.load(open(os.path.join(build, "compile_commands.json")))
    for c in cmds:
        if c["file"].replace("\\", "/").endswith("libtsa/stat/hmm.c"):
            args = shlex.split(c["command"]) if "command" in c else c["arguments"]
            flags = [a for a in args[1:] if a.startswith(("-O", "-D", "-std", "-march", "-mtune",
                                                          "-ffast", "-fno-", "-g"))
                     and not a.startswith("-fdiagnostics")]
            break
    subprocess.run([cc, *flags, "-Wall", "-Wextra", *inc, os.path.join(HERE, "tsa_bench.c"),
                    "-o", os.path.join(tmp, "tsa_bench"), "-L" + libdir, "-l:libtsa.so.0",
                    "-Wl,-rpath," + libdir], check=True)
    deps = subprocess.run(["pkg-config", "--cflags", "--libs", "gsl", "openblas", "libcjson"],
                          capture_output=True, text=True)
    extra = shlex.split(deps.stdout) if deps.returncode == 0 else ["-lgsl", "-lopenblas",
                                                                   "-lcjson"]
    extra = [a for a in extra if a != "-lgslcblas"]
    subprocess.run([cc, *flags, "-Wall", "-Wextra", "-I" + os.path.join(ROOT, "libtsa"), *inc,
                    os.path.join(HERE, "hmm_em.c"), "-o", os.path.join(tmp, "hmm_em"),
                    os.path.join(libdir, "libtsa_internal.a"), *extra, "-lm", "-lpthread"],
                   check=True)
    return flags


def kinds(build):
    tool = os.path.join(build, "tools", "tsa", "tsa")
    try:
        p = subprocess.run([tool, "kinds"], capture_output=True, text=True, timeout=60)
        return set(ln.split()[0] for ln in p.stdout.splitlines() if ln.strip())
    except OSError:
        return set()


def have_r(pkg):
    if not shutil.which("Rscript"):
        return False
    return subprocess.run(["Rscript", "-e", f"suppressMessages(library({pkg}))"],
                          capture_output=True, env=dict(os.environ, TZ="UTC")).returncode == 0


def have_py(mod):
    return subprocess.run([PY, "-c", f"import {mod}"], capture_output=True).returncode == 0


# ---- S1: prophet ------------------------------------------------------------


def synthetic_daily(n_train=2900, n_test=365, seed=1):
    """Weekly + yearly seasonality on a trend whose slope changes five times
    within the first 80% of the history (where Prophet puts changepoints)."""
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    t = np.arange(n, dtype=float)
    start = dt.date(2015, 1, 1)
    days = np.array([(start - dt.date(1970, 1, 1)).days + i for i in range(n)])
    knots = [0, 400, 900, 1300, 1800, 2250]
    slopes = [0.05, 0.12, -0.03, 0.08, 0.02, 0.06]
    slope = np.zeros(n)
    for k, s in zip(knots, slopes):
        slope[t >= k] = s
    trend = 100 + np.concatenate([[0], np.cumsum(slope[:-1])])
    yearly = 8 * np.sin(2 * np.pi * days / 365.25) + 3 * np.cos(4 * np.pi * days / 365.25)
    weekly = 4 * np.sin(2 * np.pi * days / 7) + 1.5 * np.cos(4 * np.pi * days / 7)
    y = trend + yearly + weekly + rng.normal(0, 2.0, n)
    return days[:n_train], y[:n_train], days[n_train:], y[n_train:]


def peyton():
    path = os.path.join(DATA, "prophet-examples", "examples", "example_wp_log_peyton_manning.csv")
    if not os.path.exists(path):
        return None
    days, ys = [], []
    for ln in open(path).read().splitlines()[1:]:
        ds, y = ln.replace('"', "").split(",")
        days.append((dt.date.fromisoformat(ds) - dt.date(1970, 1, 1)).days)
        ys.append(float(y))
    days, ys = np.array(days), np.array(ys)
    cut = days[-1] - 365  # hold out the last year
    tr = days <= cut
    return days[tr], ys[tr], days[~tr], ys[~tr]


def s1(tmp, exe, r_ok):
    sets = [("S1 prophet synthetic", synthetic_daily())]
    pm = peyton()
    if pm is not None:
        sets.append(("S1 prophet peyton_manning", pm))
    else:
        note("prophet example data not found; S1 runs on the synthetic series only")
    horizon, interval, samples = 365, 0.8, 1000
    for name, (dtr, ytr, dte, yte) in sets:
        base = os.path.join(tmp, name.split()[-1])
        with open(base + ".txt", "w") as f:
            for d, y in zip(dtr, ytr):
                f.write(f"{d * DAY} {y!r}\n")
        with open(base + ".csv", "w") as f:
            f.write("ds,y\n")
            for d, y in zip(dtr, ytr):
                f.write(f"{dt.date(1970, 1, 1) + dt.timedelta(days=int(d))},{y!r}\n")
        lib = run_json([exe["tsa_bench"], "prophet",
                        json.dumps({"uncertainty_samples": samples}), base + ".txt", "1", "1",
                        str(REPS), str(horizon), str(interval), base + ".lib.fc",
                        base + ".lib.json"])
        fc = np.loadtxt(base + ".lib.fc")
        lib_day = (fc[:, 0] // DAY).astype(int)
        info = json.load(open(base + ".lib.json"))["state"]
        test = {int(d): y for d, y in zip(dte, yte)}

        def coverage(day, lo, hi):
            hit = [lo[i] <= test[d] <= hi[i] for i, d in enumerate(day) if d in test]
            return 100.0 * float(np.mean(hit)), len(hit)

        def acc(day, yhat):
            e = [abs(yhat[i] - test[d]) for i, d in enumerate(day) if d in test]
            return float(np.mean(e))

        cov_lib, n_test = coverage(lib_day, fc[:, 2], fc[:, 3])
        out = {"workload": name, "impl": "libtsa", "n_train": len(ytr), "n_test": n_test,
               "fit_s": med(lib["fit_s"]), "fit_cpu_s": med(lib["fit_cpu_s"]),
               "predict_s": med(lib["forecast_s"]), "predict_cpu_s": med(lib["forecast_cpu_s"]),
               "fit_runs_s": lib["fit_s"], "predict_runs_s": lib["forecast_s"],
               "coverage_pct": cov_lib, "holdout_mae": acc(lib_day, fc[:, 1]),
               "lbfgs_iterations": info["fit"]["iterations"], "lbfgs_stop": info["fit"]["stop"],
               "interval": interval, "uncertainty_samples": samples, "horizon": horizon}
        if not r_ok:
            emit(out)
            continue
        peer = run_json(["Rscript", os.path.join(HERE, "peer_prophet.R"), base + ".csv",
                         str(SLOW_REPS), str(horizon), str(interval), str(samples),
                         base + ".r.csv"])
        rfc = {}
        for ln in open(base + ".r.csv").read().splitlines()[1:]:
            ds, yhat, lo, hi = ln.replace('"', "").split(",")
            rfc[(dt.date.fromisoformat(ds) - dt.date(1970, 1, 1)).days] = (
                float(yhat), float(lo), float(hi))
        r_day = np.array(sorted(rfc))
        r_arr = np.array([rfc[d] for d in r_day])
        common = [i for i, d in enumerate(lib_day) if d in rfc]
        lib_y = fc[common, 1]
        r_y = np.array([rfc[lib_day[i]][0] for i in common])
        mape = 100.0 * float(np.mean(np.abs(lib_y - r_y) / np.abs(r_y)))
        cov_r, _ = coverage(r_day, r_arr[:, 1], r_arr[:, 2])
        out["mape_vs_r_prophet_pct"] = mape
        emit(out)
        emit({"workload": name, "impl": "R prophet", "n_train": len(ytr), "n_test": n_test,
              "fit_s": med(peer["fit_s"]), "fit_cpu_s": med(peer["fit_cpu_s"]),
              "predict_s": med(peer["forecast_s"]), "predict_cpu_s": med(peer["forecast_cpu_s"]),
              "fit_runs_s": peer["fit_s"], "predict_runs_s": peer["forecast_s"],
              "coverage_pct": cov_r, "holdout_mae": acc(r_day, r_arr[:, 0]),
              "interval": interval, "uncertainty_samples": samples, "horizon": horizon,
              "version": peer["version"]})
        speed_row(name, "fit (s)", times(lib, "fit_s"), times(peer, "fit_s"), 50)
        speed_row(name, "predict 365 d, 1000 samples (s)", times(lib, "forecast_s"),
                  times(peer, "forecast_s"), 100)
        rows.append((name, "yhat MAPE vs R prophet (%)", mape, None, None, "<= 2%", mape <= 2.0,
                     None))
        rows.append((name, "80% interval coverage (%)", cov_lib, cov_r, cov_lib - cov_r,
                     "|diff| <= 5 points", abs(cov_lib - cov_r) <= 5.0, None))


# ---- S2: Gaussian HMM -------------------------------------------------------


def s2(tmp, exe, pom_ok):
    name = "S2 hmm 3-state 10k"
    rng = np.random.RandomState(7)
    A = np.array([[0.95, 0.03, 0.02], [0.04, 0.92, 0.04], [0.02, 0.05, 0.93]])
    mu, sd = [-2.0, 0.0, 3.0], [1.0, 0.5, 1.5]
    s, y = rng.choice(3), np.empty(10000)
    for t in range(len(y)):
        if t:
            s = rng.choice(3, p=A[s])
        y[t] = rng.normal(mu[s], sd[s])
    data, init = os.path.join(tmp, "hmm.txt"), os.path.join(tmp, "hmm_init.txt")
    np.savetxt(data, y, fmt="%.17g")
    # The common start: deliberately off the truth so EM has work to do.
    start = [3, 0.3, 0.3, 0.4, 0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8,
             -1.0, 0.5, 2.0, 1.0, 1.0, 1.0]
    np.savetxt(init, start, fmt="%.17g")
    iters = 50
    lib = run_json([exe["hmm_em"], data, init, str(iters), str(REPS)])
    per_lib = (med(lib["em_s"]) / iters, med(lib["em_cpu_s"]) / iters)
    emit({"workload": name, "impl": "libtsa", "n": len(y), "em_iterations": iters,
          "iter_s": per_lib[0], "iter_cpu_s": per_lib[1], "em_runs_s": lib["em_s"], "loglik": lib["loglik"],
          "means": lib["means"], "sds": lib["sds"], "start": "given (stat/hmm.c EM loop)"})
    # The shipped kind end to end (k-means++ start, n_init 1, tol 0): a
    # cross-check that the library binary iterates at the same speed.
    kp = run_json([exe["tsa_bench"], "hmm",
                   json.dumps({"n_states": 3, "n_init": 1, "max_iter": iters, "tol": 0}),
                   data, "1", "0", str(REPS), "1", "0.9", os.path.join(tmp, "hmm.fc"),
                   os.path.join(tmp, "hmm.json")])
    st = json.load(open(os.path.join(tmp, "hmm.json")))["state"]
    emit({"workload": name, "impl": "libtsa hmm kind", "n": len(y), "em_iterations": st["n_iter"],
          "iter_s": med(kp["fit_s"]) / st["n_iter"],
          "iter_cpu_s": med(kp["fit_cpu_s"]) / st["n_iter"], "fit_s": med(kp["fit_s"]),
          "loglik": st["log_likelihood"], "start": "k-means++ (includes seeding time)"})
    if not pom_ok:
        return
    peer = run_json([PY, os.path.join(HERE, "peer_py.py"), "hmm", data, init, str(iters),
                     str(REPS)])
    per_peer = (med(peer["em_s"]) / iters, med(peer["em_cpu_s"]) / iters)
    emit({"workload": name, "impl": "pomegranate", "n": len(y), "em_iterations": iters,
          "iter_s": per_peer[0], "iter_cpu_s": per_peer[1], "em_runs_s": peer["em_s"], "loglik": peer["loglik"],
          "means": peer["means"], "sds": peer["sds"], "version": peer["version"]})
    speed_row(name, "EM iteration (s)", per_lib, per_peer, 5)
    rel = abs(lib["loglik"] - peer["loglik"]) / abs(peer["loglik"])
    rows.append((name, "final loglik (ratio: rel. diff)", lib["loglik"], peer["loglik"], rel,
                 "rel. diff <= 1e-6", rel <= 1e-6, None))


# ---- S3: VAR ----------------------------------------------------------------


def s3(tmp, exe, sm_ok):
    name = "S3 var 5000x3 maxlags 10"
    rng = np.random.RandomState(3)
    A1 = np.array([[0.5, 0.1, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.3]])
    A2 = np.array([[-0.2, 0.0, 0.1], [0.0, 0.1, 0.0], [0.1, 0.0, 0.2]])
    A3 = np.array([[0.05, 0.0, 0.0], [0.0, 0.05, 0.0], [0.0, 0.0, -0.05]])
    c = np.array([1.0, -0.5, 2.0])
    L = np.linalg.cholesky([[1, 0.3, 0.1], [0.3, 1, 0.2], [0.1, 0.2, 1]])
    T, burn = 5000, 200
    y = np.zeros((T + burn, 3))
    for t in range(3, T + burn):
        y[t] = c + A1 @ y[t - 1] + A2 @ y[t - 2] + A3 @ y[t - 3] + L @ rng.normal(size=3)
    y = y[burn:]
    data = os.path.join(tmp, "var.txt")
    np.savetxt(data, y, fmt="%.17g")
    lib = run_json([exe["tsa_bench"], "multivariate",
                    json.dumps({"max_lags": 10, "ic": "aic", "trend": "c"}), data, "3", "0",
                    str(REPS), "1", "0.95", os.path.join(tmp, "var.fc"),
                    os.path.join(tmp, "var.json")])
    st = json.load(open(os.path.join(tmp, "var.json")))["state"]
    p, k = st["order"], 3
    # statsmodels' layout: params (1 + k p, k), params[1 + i k + c, r] = A_{i+1}[r][c].
    params = np.zeros((1 + k * p, k))
    params[0] = st["coefficients"]["intercept"]
    for i, Ai in enumerate(st["coefficients"]["lags"]):
        params[1 + i * k:1 + (i + 1) * k] = np.array(Ai).T
    out = {"workload": name, "impl": "libtsa", "n": T, "order": p, "fit_s": med(lib["fit_s"]),
           "fit_cpu_s": med(lib["fit_cpu_s"]), "fit_runs_s": lib["fit_s"]}
    if not sm_ok:
        emit(out)
        return
    peer = run_json([PY, os.path.join(HERE, "peer_py.py"), "var", data, str(REPS), "10"])
    pp = np.array(peer["params"])
    if pp.shape == params.shape:
        diff = float(np.max(np.abs(params - pp)))
        rel = float(np.max(np.abs(params - pp) / np.maximum(np.abs(pp), 1e-300)))
    else:
        diff = rel = float("inf")
    out.update({"coef_max_abs_diff": diff, "coef_max_rel_diff": rel})
    emit(out)
    emit({"workload": name, "impl": "statsmodels", "n": T, "order": peer["order"],
          "fit_s": med(peer["fit_s"]), "fit_cpu_s": med(peer["fit_cpu_s"]),
          "fit_runs_s": peer["fit_s"], "version": peer["version"]})
    speed_row(name, "fit incl. order selection (s)", times(lib, "fit_s"), times(peer, "fit_s"),
              10)
    rows.append((name, "selected order", p, peer["order"], None, "equal", p == peer["order"],
                 None))
    rows.append((name, "coef max |diff|", diff, None, None, "<= 1e-8", diff <= 1e-8, None))


# ---- S4: ETS and Theta --------------------------------------------------------


def synthetic_hourly(n_train=2000, n_test=48, seed=11):
    """Positive hourly series: a daily profile whose amplitude follows the
    level, a slowly wandering level and AR(1) noise."""
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    t = np.arange(n)
    level = 200 + 0.02 * t + np.cumsum(rng.normal(0, 0.4, n))
    profile = 1 + 0.25 * np.sin(2 * np.pi * t / 24) + 0.1 * np.cos(4 * np.pi * t / 24)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.5 * e[i - 1] + rng.normal(0, 2.0)
    y = level * profile + e
    return y[:n_train], y[n_train:]


def m4_subset(count):
    tr = os.path.join(DATA, "m4-hourly", "Hourly-train.csv")
    te = os.path.join(DATA, "m4-hourly", "Hourly-test.csv")
    if count <= 0 or not (os.path.exists(tr) and os.path.exists(te)):
        return []

    def load(path):
        out = {}
        for ln in open(path).read().splitlines()[1:]:
            f = ln.replace('"', "").split(",")
            out[f[0]] = np.array([float(v) for v in f[1:] if v not in ("", "NA")])
        return out

    train, test = load(tr), load(te)
    ids = list(train)
    pick = sorted(set(np.linspace(0, len(ids) - 1, count).round().astype(int)))
    return [(ids[i], train[ids[i]], test[ids[i]]) for i in pick]


def s4(tmp, exe, have_kinds, fc_ok):
    horizon, period = 48, 24
    ytr, yte = synthetic_hourly()
    groups = [("synthetic 2000h", [("synthetic", ytr, yte)])]
    m4 = m4_subset(M4_SERIES)
    if m4:
        groups.append((f"M4 hourly x{len(m4)}", m4))
    for kind, rname in (("ets", "ets"), ("theta", "theta")):
        if kind not in have_kinds:
            note(f"kind '{kind}' is not in this build: S4 {kind} skipped")
            continue
        for gname, series in groups:
            name = f"S4 {kind} {gname}"
            tag = f"{kind}_{gname.split()[0]}"
            lib_t, lib_c, lib_mae, models = [], [], [], []
            for sid, tr, te in series:
                data = os.path.join(tmp, f"{tag}_{sid}.txt")
                np.savetxt(data, tr, fmt="%.17g")
                r = run_json([exe["tsa_bench"], kind, json.dumps({"period": period}), data, "1",
                              "0", str(REPS), str(horizon), "0.95", data + ".fc",
                              data + ".json"])
                fc = np.loadtxt(data + ".fc")[:, 1]
                lib_t.append(med(r["fit_s"]) + med(r["forecast_s"]))
                lib_c.append(med(r["fit_cpu_s"]) + med(r["forecast_cpu_s"]))
                lib_mae.append(float(np.mean(np.abs(fc - te))))
                st = json.load(open(data + ".json"))["state"]
                models.append(st.get("model", "theta"))
            out = {"workload": name, "impl": "libtsa", "series": len(series),
                   "fit_forecast_s": float(np.sum(lib_t)),
                   "fit_forecast_cpu_s": float(np.sum(lib_c)), "per_series_s": lib_t,
                   "mae": float(np.mean(lib_mae)), "per_series_mae": lib_mae, "models": models}
            if not fc_ok:
                emit(out)
                continue
            sfile = os.path.join(tmp, f"{tag}_series.txt")
            with open(sfile, "w") as f:
                for _, tr, _ in series:
                    f.write(" ".join(repr(float(v)) for v in tr) + "\n")
            peer = run_json(["Rscript", os.path.join(HERE, "peer_forecast.R"), rname, sfile,
                             str(period), str(horizon), str(SLOW_REPS), sfile + ".r"])
            rf = [np.array([float(v) for v in ln.split()])
                  for ln in open(sfile + ".r").read().splitlines()]
            r_mae = [float(np.mean(np.abs(f - te))) for f, (_, _, te) in zip(rf, series)]
            r_t = [med(x) for x in peer["fit_forecast_s"]]
            r_c = [med(x) for x in peer["fit_forecast_cpu_s"]]
            ratios = np.array(lib_mae) / np.array(r_mae)
            out["mae_ratio_geomean"] = float(np.exp(np.mean(np.log(ratios))))
            emit(out)
            emit({"workload": name, "impl": "R forecast", "series": len(series),
                  "fit_forecast_s": float(np.sum(r_t)),
                  "fit_forecast_cpu_s": float(np.sum(r_c)), "per_series_s": r_t,
                  "mae": float(np.mean(r_mae)), "per_series_mae": r_mae,
                  "models": peer["models"], "version": peer["version"]})
            speed_row(name, "fit + forecast 48 (s)", (out["fit_forecast_s"], float(np.sum(lib_c))),
                      (float(np.sum(r_t)), float(np.sum(r_c))), 10)
            g = out["mae_ratio_geomean"]
            rows.append((name, "holdout MAE" + (" (geomean ratio)" if len(series) > 1 else ""),
                         out["mae"], float(np.mean(r_mae)), g, "ratio <= 1.05", g <= 1.05,
                         None))


# ---- report -----------------------------------------------------------------


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def table():
    head = ("workload", "metric", "libtsa", "peer", "libtsa/peer", "speedup", "wall ratio",
            "target", "met")
    body = []
    for w, m, a, b, r, t, ok, wall in rows:
        speed = f"{1 / r:.1f}x" if t.startswith(">=") and r else "-"
        body.append((w, m, fmt(a), fmt(b), fmt(r), speed, fmt(wall), t,
                     "-" if ok is None else ("yes" if ok else "NO")))
    wid = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(wid[i]) for i, c in enumerate(r)).rstrip()
    print()
    print(line(head))
    print(line(["-" * w for w in wid]))
    for r in body:
        print(line(r))
    print("times: medians of process CPU seconds (single-threaded on both sides); "
          "'wall ratio' is the same ratio of wall-clock medians")
    met = sum(1 for r in rows if r[6] is True)
    print(f"\n{met} of {sum(1 for r in rows if r[6] is not None)} targets met")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--only", default="S1,S2,S3,S4")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    only = set(a.only.upper().split(","))
    tmp = tempfile.mkdtemp(prefix="tsa-bench-stat-")
    try:
        compile_programs(build, tmp)
        exe = {n: os.path.join(tmp, n) for n in ("tsa_bench", "hmm_em")}
        have_kinds = kinds(build)
        missing = []
        peers = {}
        for key, ok in (("R prophet", lambda: have_r("prophet")),
                        ("R forecast", lambda: have_r("forecast")),
                        ("statsmodels", lambda: have_py("statsmodels")),
                        ("pomegranate", lambda: have_py("pomegranate"))):
            peers[key] = ok()
            if not peers[key]:
                missing.append(key)
        if missing:
            note("peers not available (their comparisons are skipped): " + ", ".join(missing))
        steps = [("S1", lambda: s1(tmp, exe, peers["R prophet"])),
                 ("S2", lambda: s2(tmp, exe, peers["pomegranate"])),
                 ("S3", lambda: s3(tmp, exe, peers["statsmodels"])),
                 ("S4", lambda: s4(tmp, exe, have_kinds, peers["R forecast"]))]
        for key, fn in steps:
            if key not in only:
                continue
            try:
                fn()
            except (RuntimeError, OSError, ValueError, KeyError) as e:
                emit({"workload": key, "error": str(e)})
        table()
    finally:
        if a.keep:
            note("work directory kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
