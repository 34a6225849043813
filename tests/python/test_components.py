"""Model.components: a prophet forecast split into trend and seasonalities
that add up to its mean and recover the known parts; ets level, trend and
season; errors for kinds without components and bad arguments."""

import numpy as np
import pytest

import tsa

DAY = 86400
T0 = 1546300800  # 2019-01-01


def weekly(ts):
    u = np.asarray(ts, dtype=float) / DAY
    return 6.0 * np.sin(2 * np.pi * u / 7) - 3.0 * np.cos(4 * np.pi * u / 7)


@pytest.fixture(scope="module")
def prophet():
    n = 400
    ts = T0 + DAY * np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(1)
    y = 50.0 + 0.1 * np.arange(n) + weekly(ts) + 0.2 * rng.standard_normal(n)
    m = tsa.Model("prophet", n_changepoints=0, weekly_seasonality="true",
                  yearly_seasonality="false", daily_seasonality="false", uncertainty_samples=0)
    m.fit(y, timestamps=ts)
    return m, y, ts


def test_prophet_components_add_up_and_recover_the_parts(prophet):
    m, y, ts = prophet
    assert "components" in m.capabilities
    c = m.components(horizon=30)
    assert c.names == ["trend", "weekly"] and not c.in_sample and not c.multiplicative
    fc = m.forecast(30)
    np.testing.assert_allclose(c.values["trend"] + c.values["weekly"], fc.mean, rtol=1e-9, atol=0)
    np.testing.assert_allclose(c.mean, fc.mean, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(c.timestamps, fc.timestamps)
    assert np.max(np.abs(c.values["weekly"] - weekly(fc.timestamps))) < 0.2
    trend = 50.0 + 0.1 * (np.asarray(fc.timestamps) - T0) / DAY
    assert np.max(np.abs(c.values["trend"] - trend)) < 0.3
    # In sample over the training data, and over a given series.
    ins = m.components()
    assert ins.in_sample and len(ins.mean) == len(y)
    np.testing.assert_array_equal(ins.timestamps, ts)
    again = m.components(y, timestamps=ts)
    np.testing.assert_array_equal(again.mean, ins.mean)


def test_ets_components():
    t = np.arange(120, dtype=float)
    y = 10.0 + 0.3 * t + 2.0 * np.sin(2 * np.pi * t / 12)
    m = tsa.Model("ets", error="A", trend="A", season="A", period=12)
    m.fit(y)
    c = m.components(horizon=12)
    assert c.names == ["level", "trend", "season"]
    np.testing.assert_allclose(c.mean, m.forecast(12).mean, rtol=1e-9, atol=0)
    ins = m.components(y)
    assert ins.in_sample and len(ins.mean) == len(y)
    with pytest.raises(tsa.InvalidArgument, match="x"):
        m.components()  # ets keeps no training series


def test_errors(prophet):
    m, y, ts = prophet
    naive = tsa.Model("naive")
    naive.fit(y)
    with pytest.raises(tsa.Unsupported, match="naive"):
        naive.components(horizon=3)
    with pytest.raises(tsa.RangeError, match="horizon"):
        m.components(horizon=100001)
    with pytest.raises(tsa.ShapeError):
        m.components(np.zeros((10, 2)))
    with pytest.raises(tsa.NotFitted):
        tsa.Model("prophet").components(horizon=1)
