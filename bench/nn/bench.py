"""Neural benchmarks: libtsa's lstm, cnn and transformer kinds against the
same networks in PyTorch, both sides in one run (see README.md).

  /usr/bin/python3 bench/nn/bench.py BUILD_DIR [--only W1,W2,W3] [--rounds R]
                                     [--mse-seeds K] [--threads N] [--keep]

Every (workload, framework, round) runs in its own process; rounds
alternate which side goes first and use seeds 42, 43, ... The validation
error after 5 epochs is the median over K seeds: the R timed rounds, then
K - R fits alone. Prints one JSON line per workload and framework (medians,
with the per-round figures), then a table of ratios (libtsa / PyTorch)
against the targets: for times, throughput and memory the median of the
ratios of the two sides' runs in the same round (so both sides of a ratio
saw the same load); for the validation error the ratio of the medians.
"""
import argparse
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
PY = "/usr/bin/python3"
WORKLOADS = {
    "W1": "lstm 1x64, window 30",
    "W2": "cnn 3x32 k3, window 15",
    "W3": "transformer d32 h4 l2 ff64, window 64",
}


def note(msg):
    print(f"# {msg}", file=sys.stderr, flush=True)


def run_json(cmd, impl, threads):
    # libtsa: OpenBLAS's pool sized to the thread count (a fit sets it to
    # n_threads itself; forecasts and scores use the process's count).
    # PyTorch: its intra-op pool sized by torch.set_num_threads, and
    # OpenBLAS single-threaded, or its BLAS threads and PyTorch's own
    # oversubscribe the cores.
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads) if impl == "libtsa" else "1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(shlex.quote(c) for c in cmd)}: exit {p.returncode}: "
                           f"{p.stderr.strip()[-800:]}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{cmd[0]}: no JSON in output: {p.stdout[-300:]} {p.stderr[-300:]}")
    return json.loads(lines[-1])


def compile_driver(build, tmp):
    """bench_nn.c against the shared library: public headers only."""
    cc = os.environ.get("CC", "cc")
    libdir = os.path.join(build, "libtsa")
    exe = os.path.join(tmp, "bench_nn")
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Wextra",
                    "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(build, "include"),
                    os.path.join(HERE, "bench_nn.c"), "-o", exe, "-L" + libdir,
                    "-l:libtsa.so.0", "-Wl,-rpath," + libdir, "-lm"], check=True)
    return exe


def med(xs):
    return float(np.median(xs))


def aggregate(w, impl, runs, fits):
    """One line from the rounds: medians, with the per-round values kept."""
    out = {"workload": w, "impl": impl, "rounds": len(runs)}
    for k in ("threads", "window", "n_params", "train_windows", "val_windows", "kind",
              "version"):
        if k in runs[0]:
            out[k] = runs[0][k]
    every_epoch = [e for r in runs for e in r["epochs_s"]]
    out["epoch_s"] = med(every_epoch)
    out["epoch_cpu_s"] = med([r["epoch_cpu_s"] for r in runs])
    for k in ("latency_us", "throughput_wps", "peak_rss_fit_mib", "peak_rss_mib"):
        out[k] = med([r[k] for r in runs])
    for k in ("epoch_s", "epoch_cpu_s", "latency_us", "throughput_wps", "peak_rss_mib"):
        out[k + "_rounds"] = [r[k] for r in runs]
    # validation MSE (normalised units) after 5 epochs, over every seed
    by_seed = [(r["seed"], r["val_mse_5"]) for r in runs + fits]
    out["val_mse_5"] = med([v for _, v in by_seed])
    unit = runs[0]["val_mse_5_units"] / runs[0]["val_mse_5"]
    out["val_mse_5_units"] = out["val_mse_5"] * unit
    out["val_mse_5_seeds"] = {str(sd): v for sd, v in by_seed}
    if impl == "libtsa":
        # the split check: the kept weights' validation MSE from the fit's
        # report and from forecasting the held-out windows one by one
        out["val_check"] = [[r["val_mse_best"], r["val_mse_best_by_forecast"]] for r in runs]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--only", default="W1,W2,W3")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("TSA_BENCH_ROUNDS", "5")))
    ap.add_argument("--mse-seeds", type=int,
                    default=int(os.environ.get("TSA_BENCH_MSE_SEEDS", "10")),
                    help="seeds for the validation error (at least --rounds)")
    ap.add_argument("--threads", type=int, default=1,
                    help="libtsa's fit n_threads and torch.set_num_threads (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the data and driver in a temp dir")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    wl = [w.strip() for w in a.only.split(",") if w.strip()]
    for w in wl:
        if w not in WORKLOADS:
            sys.exit(f"bench/nn: unknown workload {w}")

    tmp = tempfile.mkdtemp(prefix="tsa-bench-nn-")
    try:
        exe = compile_driver(build, tmp)
        data = os.path.join(tmp, "series.csv")
        subprocess.run([exe, "gen", data], check=True)
        note(f"data: {data} (10,000 points, trend + period 24 + noise 0.1); "
             f"{a.rounds} round(s), {a.threads} thread(s)")
        results = {}
        for r in range(a.rounds):
            seed = 42 + r
            for w in wl:
                sides = [("libtsa", [exe, "run", w, data, str(a.threads), "6", str(seed)]),
                         ("pytorch", [PY, os.path.join(HERE, "torch_nn.py"), w, data,
                                      str(a.threads), "6", str(seed)])]
                if r % 2:
                    sides.reverse()
                for impl, cmd in sides:
                    res = run_json(cmd, impl, a.threads)
                    results.setdefault((w, impl), []).append(res)
                    note(f"round {r + 1} {w} {impl}: epoch {res['epoch_s']:.3f} s, "
                         f"val mse {res['val_mse_5']:.3g}, latency {res['latency_us']:.1f} us, "
                         f"{res['throughput_wps']:.0f} windows/s, {res['peak_rss_mib']:.0f} MiB")
        fits = {}
        for seed in range(42 + a.rounds, 42 + max(a.mse_seeds, a.rounds)):
            for w in wl:
                for impl, cmd in (("libtsa", [exe, "fit", w, data, str(a.threads), "5",
                                              str(seed)]),
                                  ("pytorch", [PY, os.path.join(HERE, "torch_nn.py"), w, data,
                                               str(a.threads), "5", str(seed), "fit"])):
                    res = run_json(cmd, impl, a.threads)
                    fits.setdefault((w, impl), []).append(res)
                    note(f"seed {seed} {w} {impl}: val mse {res['val_mse_5']:.3g}")
        agg = {}
        for w in wl:
            for impl in ("libtsa", "pytorch"):
                agg[(w, impl)] = aggregate(w, impl, results[(w, impl)], fits.get((w, impl), []))
                print(json.dumps(agg[(w, impl)]), flush=True)
        table(wl, agg, results)
        if a.keep:
            note(f"kept {tmp}")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def table(wl, agg, results):
    # (metric, key, target ratio or None)
    metrics = [("epoch time (wall)", "epoch_s", 1 / 3),
               ("epoch time (CPU)", "epoch_cpu_s", None),
               ("val MSE after 5 epochs", "val_mse_5", 1.10),
               ("1-window latency", "latency_us", 1 / 10),
               ("batched throughput", "throughput_wps", None),
               ("peak RSS", "peak_rss_mib", 1 / 5)]
    units = {"epoch_s": "s", "epoch_cpu_s": "s", "val_mse_5": "", "latency_us": "us",
             "throughput_wps": "win/s", "peak_rss_mib": "MiB"}
    print()
    hdr = f"{'work':<4} {'metric':<24} {'libtsa':>16} {'pytorch':>16} {'ratio':>7}  target"
    print(hdr)
    print("-" * (len(hdr) + 14))
    met_all = []
    for w in wl:
        lib, pt = agg[(w, "libtsa")], agg[(w, "pytorch")]
        for name, k, target in metrics:
            if k == "val_mse_5":
                ratio = lib[k] / pt[k]
            else:
                ratio = med([x[k] / y[k] for x, y in zip(results[(w, "libtsa")],
                                                         results[(w, "pytorch")])])
            u = units[k]
            if target is None:
                tgt = ""
            else:
                ok = ratio <= target
                met_all.append(ok)
                tgt = f"<= {target:.3g}  {'met' if ok else 'MISSED'}"
            fmt = (lambda v: f"{v:.3g}") if k == "val_mse_5" else (lambda v: f"{v:.4g}")
            print(f"{w:<4} {name:<24} {(fmt(lib[k]) + ' ' + u).strip():>16} "
                  f"{(fmt(pt[k]) + ' ' + u).strip():>16} {ratio:>7.3f}  {tgt}")
    print(f"\ntargets met: {sum(met_all)} of {len(met_all)}  (ratio = libtsa / PyTorch: "
          f"median of the per-round ratios; for the validation MSE the ratio of the medians "
          f"over the seeds; throughput: higher is better, no target)")


if __name__ == "__main__":
    main()
