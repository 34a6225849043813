"""tsa.combine(): forecasts of several models merged by libtsa."""

import math

import numpy as np
import pytest

import tsa


def _fits(values, kinds=("naive", "ets", "theta"), horizon=6, interval=0.9):
    out = []
    for kind in kinds:
        with tsa.Model(kind) as m:
            m.fit(values)
            out.append(m.forecast(horizon, interval=interval))
    return out


def test_forecasts_carry_their_interval(uni):
    fc = _fits(uni.values, kinds=("naive",), interval=0.8)[0]
    assert fc.interval == pytest.approx(0.8)
    mean, lower, upper, ts = fc  # still a 4-tuple
    assert len(mean) == 6


def test_mean_and_median_equal_numpy(uni):
    fcs = _fits(uni.values)
    means = np.array([f.mean for f in fcs])
    c = tsa.combine(fcs)
    np.testing.assert_allclose(c.forecast.mean, means.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(c.weights, [1 / 3] * 3)
    assert c.forecast.interval == pytest.approx(0.9)
    med = tsa.combine(fcs, "median").forecast
    np.testing.assert_allclose(med.mean, np.median(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(med.lower, np.median([f.lower for f in fcs], axis=0), rtol=1e-12)


def test_weights_given_and_derived():
    z = 1.959963984540054
    a = tsa.Forecast([0.0, 1.0], [-z, 1 - z], [z, 1 + z], None)
    b = tsa.Forecast([3.0, 4.0], [3 - 2 * z, 4 - 2 * z], [3 + 2 * z, 4 + 2 * z], None)
    c = tsa.combine([a, b], "weighted_average", interval=0.95)
    np.testing.assert_allclose(c.weights, [2 / 3, 1 / 3], rtol=1e-9)
    np.testing.assert_allclose(c.forecast.mean, [1.0, 2.0], rtol=1e-9)
    c = tsa.combine([a, b], "weighted_average", weights=[1, 3], interval=0.95)
    np.testing.assert_allclose(c.weights, [0.25, 0.75])
    np.testing.assert_allclose(c.forecast.mean, [2.25, 3.25])


def test_multifeature_forecasts(var_model):
    fc = var_model.forecast(4, interval=0.9)
    c = tsa.combine([fc, fc], "weighted_average")
    np.testing.assert_allclose(c.forecast.mean, fc.mean)
    assert np.asarray(c.forecast.mean).shape == np.asarray(fc.mean).shape


def test_bad_input_names_the_problem(uni):
    fcs = _fits(uni.values, kinds=("naive", "ets"))
    with pytest.raises(tsa.InvalidArgument, match="method"):
        tsa.combine(fcs, "average")
    with pytest.raises(tsa.InvalidArgument, match="at least one"):
        tsa.combine([])
    with pytest.raises(tsa.InvalidArgument, match="weights: must hold 2"):
        tsa.combine(fcs, "weighted_average", weights=[1.0])
    with pytest.raises(tsa.InvalidArgument, match=r"weights\[1\]"):
        tsa.combine(fcs, "weighted_average", weights=[1.0, -1.0])
    short = tsa.Forecast([1.0], [0.0], [2.0], None)
    with pytest.raises(tsa.ShapeError, match=r"members\[1\]"):
        tsa.combine([fcs[0], short], interval=0.9)
    with pytest.raises(tsa.InvalidArgument, match="has no interval"):
        tsa.combine([short])
    other = _fits(uni.values, kinds=("naive",), interval=0.5)[0]
    with pytest.raises(tsa.ShapeError, match="interval"):
        tsa.combine([fcs[0], other])
    assert math.isfinite(tsa.combine(fcs).forecast.mean[0])
