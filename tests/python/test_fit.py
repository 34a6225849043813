"""fit(): options and the progress callback (steps, stopping, exceptions)."""

import math
import traceback

import numpy as np
import pytest

import tsa
from conftest import kind_names, series_for


def test_progress_sees_every_step(multi):
    seen = []
    m = tsa.Model("multivariate", max_lags=5)
    assert m.fit(multi.values, progress=seen.append) is m
    assert m.fitted
    assert len(seen) >= 5
    assert set(seen[0]) == {"stage", "step", "total", "train_loss", "val_loss", "elapsed_s"}
    sel = [p for p in seen if p["stage"] == "order_selection"]
    assert [p["step"] for p in sel] == sorted(p["step"] for p in sel)
    assert sel[-1]["step"] == 5 and all(p["total"] == 5 for p in sel)
    assert all(p["train_loss"] is None for p in sel)  # NaN in C: not applicable
    times = [p["elapsed_s"] for p in seen]
    assert times == sorted(times) and all(t >= 0 and math.isfinite(t) for t in times)


def test_returning_true_cancels(multi):
    calls = []

    def stop_at_two(p):
        calls.append(p["step"])
        return p["step"] >= 2

    m = tsa.Model("multivariate", max_lags=8)
    with pytest.raises(tsa.Canceled) as ei:
        m.fit(multi.values, progress=stop_at_two)
    assert ei.value.code == 10 and "cancel" in ei.value.message
    assert calls[-1] == 2 and len(calls) == calls.index(2) + 1  # stopped right there
    assert not m.fitted
    # Falsy returns go on.
    m.fit(multi.values, progress=lambda p: 0)
    assert m.fitted


def test_raising_cancels_and_is_reraised(multi):
    class Boom(Exception):
        pass

    boom = Boom("stop here")
    calls = []

    def explode(p):
        calls.append(p["step"])
        if p["step"] == 1:
            raise boom

    m = tsa.Model("multivariate", max_lags=8)
    with pytest.raises(Boom) as ei:
        m.fit(multi.values, progress=explode)
    assert ei.value is boom
    # The traceback reaches into the callback.
    assert "explode" in "".join(traceback.format_tb(ei.value.__traceback__))
    assert calls[-1] == 1 and not m.fitted
    # KeyboardInterrupt too (it is no Exception).
    def interrupt(p):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        m.fit(multi.values, progress=interrupt)
    # A callback that cannot even be called properly.
    with pytest.raises(TypeError):
        m.fit(multi.values, progress=lambda: None)
    assert not m.fitted
    with pytest.raises(tsa.InvalidArgument):
        m.fit(multi.values, progress="not callable")


def test_canceled_refit_keeps_the_earlier_fit(multi, uni):
    m = tsa.Model("multivariate", max_lags=4).fit(multi.values)
    before = m.forecast(6).mean
    blob = m.to_bytes()
    with pytest.raises(tsa.Canceled):
        m.fit(np.asarray(multi.values)[::-1], progress=lambda p: True)
    assert m.fitted and m.to_bytes() == blob
    assert m.forecast(6).mean.tobytes() == before.tobytes()


def test_callback_using_the_model_being_fitted(multi):
    m = tsa.Model("multivariate", max_lags=3)

    def peek(p):
        m.forecast(2)  # the model is held by fit(): refused, not a deadlock

    with pytest.raises(tsa.InvalidArgument) as ei:
        m.fit(multi.values, progress=peek)
    assert "fit()" in ei.value.message
    # Other models and libtsa calls are fine from the callback.
    other = tsa.Model("multivariate", max_lags=3).fit(multi.values)
    got = []
    m.fit(multi.values, progress=lambda p: got.append(other.forecast(1).mean[0, 0]))
    assert m.fitted and len(set(got)) == 1


@pytest.mark.parametrize("kind", kind_names())
def test_every_kind_can_be_canceled(kind):
    g = series_for(kind, n_samples=300)
    calls = []

    def first(p):
        calls.append(p)
        return True

    m = tsa.Model(kind)
    try:
        m.fit(g.values, epochs=2, progress=first)
    except tsa.Canceled:
        assert len(calls) == 1 and not m.fitted
    else:
        assert not calls, "reported progress but ignored the cancel"
        assert m.fitted


def test_fit_options(multi):
    x = multi.values
    a = tsa.Model("multivariate", max_lags=3).fit(x, seed=123, epochs=5, n_threads=2)
    b = tsa.Model("multivariate", max_lags=3).fit(x, seed=None, epochs=None, n_threads=None)
    assert a.forecast(3).mean.tobytes() == b.forecast(3).mean.tobytes()  # VAR is deterministic
    with pytest.raises(tsa.RangeError):
        tsa.Model("multivariate").fit(x, n_threads=-1)
    with pytest.raises(tsa.RangeError):
        tsa.Model("multivariate").fit(x, epochs=10 ** 6)
    with pytest.raises(tsa.RangeError):
        tsa.Model("multivariate").fit(x, seed=2 ** 64)
    with pytest.raises(tsa.InvalidArgument):
        tsa.Model("multivariate").fit(x, epochs=1.5)


def test_refit_replaces_the_model(multi, uni):
    m = tsa.Model("multivariate", max_lags=3).fit(multi.values)
    assert m.n_features == 2
    m.fit(uni.values)
    assert m.n_features == 1 and m.forecast(2).mean.shape == (2,)
    assert "fitted, n_features=1" in repr(m)
