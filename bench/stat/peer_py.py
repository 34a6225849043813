"""Python peers of the statistical benchmarks (run with Debian's python3).

  peer_py.py var DATA REPS MAXLAGS      statsmodels VAR(...).fit(maxlags, ic='aic', trend='c')
  peer_py.py hmm DATA INIT ITERS REPS   pomegranate Baum-Welch from the given start

DATA is a whitespace-separated matrix (one row per time step); INIT is the
file hmm_em reads (K, pi, A, means, sds). Each call is timed alone after one
untimed warm-up (wall-clock and CPU seconds); prints one JSON object.
"""
import json
import sys
import time

import numpy as np


def var(args):
    from statsmodels.tsa.api import VAR
    import statsmodels
    y = np.loadtxt(args[0])
    reps, maxlags = int(args[1]), int(args[2])
    VAR(y).fit(maxlags=maxlags, ic="aic", trend="c")
    secs, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        res = VAR(y).fit(maxlags=maxlags, ic="aic", trend="c")
        cpu.append(time.process_time() - c0)
        secs.append(time.perf_counter() - t0)
    print(json.dumps({"fit_s": secs, "fit_cpu_s": cpu, "order": int(res.k_ar), "params": res.params.tolist(),
                      "sigma_u": np.asarray(res.sigma_u).tolist(),
                      "version": "statsmodels " + statsmodels.__version__}))


def hmm(args):
    import pomegranate
    from pomegranate import HiddenMarkovModel, NormalDistribution
    y = np.loadtxt(args[0])
    init = np.loadtxt(args[1])
    iters, reps = int(args[2]), int(args[3])
    K = int(init[0])
    pi = init[1:1 + K]
    A = init[1 + K:1 + K + K * K].reshape(K, K)
    mu = init[1 + K + K * K:1 + 2 * K + K * K]
    sd = init[1 + 2 * K + K * K:]

    def build():
        return HiddenMarkovModel.from_matrix(A, [NormalDistribution(m, s) for m, s in zip(mu, sd)],
                                             pi)

    def fit(model):
        # fit() runs the E-step of iteration i then, at i + 1, the M-step, and
        # stops after the M-step of iteration max_iterations + 1 (the one of
        # iteration 0 has no statistics and changes nothing): so
        # max_iterations = iters - 1 makes exactly `iters` M-steps.
        model.fit([y], algorithm="baum-welch", max_iterations=iters - 1,
                  min_iterations=iters - 1, stop_threshold=-np.inf, verbose=False, n_jobs=1,
                  multiple_check_input=False)

    fit(build())
    secs, cpu = [], []
    for _ in range(reps):
        model = build()
        t0, c0 = time.perf_counter(), time.process_time()
        fit(model)
        cpu.append(time.process_time() - c0)
        secs.append(time.perf_counter() - t0)
    states = [s for s in model.states if s.distribution is not None]
    dense = model.dense_transition_matrix()
    idx = [model.states.index(s) for s in states]
    print(json.dumps({
        "em_s": secs, "em_cpu_s": cpu, "m_steps": iters, "loglik": float(model.log_probability(y)),
        "means": [s.distribution.parameters[0] for s in states],
        "sds": [s.distribution.parameters[1] for s in states],
        "A": dense[np.ix_(idx, idx)].ravel().tolist(),
        "version": "pomegranate " + pomegranate.__version__}))


if __name__ == "__main__":
    {"var": var, "hmm": hmm}[sys.argv[1]](sys.argv[2:])
