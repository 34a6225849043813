"""One fitted model used from many Python threads at once."""

import threading

import numpy as np

import tsa

N_THREADS = 8


def run_threads(target, n=N_THREADS):
    barrier = threading.Barrier(n)
    errors = []
    results = [None] * n

    def wrap(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:  # reported by the test, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert not errors, errors[:3]
    return results


def test_concurrent_forecasts_equal_the_single_thread_result(var_model, multi):
    hist = np.asarray(multi.values)[-200:]
    ref = var_model.forecast(48, interval=0.9)
    ref_h = var_model.forecast(12, history=hist)

    def work(i):
        out = []
        for _ in range(30):
            fc = var_model.forecast(48, interval=0.9)
            fh = var_model.forecast(12, history=hist)
            out.append((fc.mean.tobytes(), fc.lower.tobytes(), fc.upper.tobytes(),
                        fh.mean.tobytes()))
        return out

    for per_thread in run_threads(work):
        for mean, lower, upper, hmean in per_thread:
            assert mean == ref.mean.tobytes() and hmean == ref_h.mean.tobytes()
            assert lower == ref.lower.tobytes() and upper == ref.upper.tobytes()


def test_concurrent_scores_and_detections(var_model, multi):
    ref = var_model.score(multi.values)
    ref_d = var_model.detect(multi.values, threshold=0.99)

    def work(i):
        for _ in range(20):
            s = var_model.score(multi.values)
            d = var_model.detect(multi.values, threshold=0.99)
            assert s.raw.tobytes() == ref.raw.tobytes()
            assert s.calibrated.tobytes() == ref.calibrated.tobytes()
            assert d.indices.tolist() == ref_d.indices.tolist()
            assert var_model.to_bytes() and var_model.info["fitted"]

    run_threads(work)


def test_refit_while_other_threads_forecast(multi):
    x = np.asarray(multi.values)
    m = tsa.Model("multivariate", max_lags=4).fit(x[:300])
    before = m.forecast(5).mean.tobytes()
    other = tsa.Model("multivariate", max_lags=4).fit(x[300:])
    after = other.forecast(5).mean.tobytes()

    def work(i):
        seen = set()
        for k in range(40):
            if i == 0 and k == 10:
                m.fit(x[300:])  # waits for the forecasts in flight
            seen.add(m.forecast(5).mean.tobytes())
        return seen

    for seen in run_threads(work):
        assert seen <= {before, after}
    assert m.forecast(5).mean.tobytes() == after


def test_close_waits_for_calls_in_flight(multi):
    m = tsa.Model("multivariate", max_lags=4).fit(multi.values)
    ok = m.forecast(5).mean.tobytes()

    def work(i):
        outcomes = set()
        for k in range(50):
            if i == 0 and k == 20:
                m.close()
            try:
                assert m.forecast(5).mean.tobytes() == ok
                outcomes.add("ok")
            except tsa.InvalidArgument as e:
                assert "closed" in e.message
                outcomes.add("closed")
        return outcomes

    results = run_threads(work)
    assert m.closed and results[0] == {"ok", "closed"}


def test_fits_of_separate_models_run_in_parallel_threads(multi):
    x = np.asarray(multi.values)
    ref = tsa.Model("multivariate", max_lags=6).fit(x).to_bytes()

    def work(i):
        return tsa.Model("multivariate", max_lags=6).fit(x).to_bytes()

    assert all(b == ref for b in run_threads(work))
