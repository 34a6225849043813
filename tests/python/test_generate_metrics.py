"""tsa.generate() and the metrics, against known answers."""

import math

import numpy as np
import pytest

import tsa


def test_generate_shapes_and_defaults():
    g = tsa.generate()
    assert g.values.shape == (1000,) and g.values.dtype == np.float64
    assert g.timestamps.dtype == np.int64 and g.labels.dtype == np.bool_
    assert g.timestamps[0] == 0 and (np.diff(g.timestamps) == 3600).all()
    assert not g.labels.any()
    values, timestamps, labels = tsa.generate(n_samples=50, n_features=3, start=100, step=60)
    assert values.shape == (50, 3) and timestamps[0] == 100 and timestamps[1] == 160


def test_generate_is_seeded_and_labels_anomalies():
    a = tsa.generate(n_samples=500, n_anomalies=7, seed=1)
    b = tsa.generate(n_samples=500, n_anomalies=7, seed=1)
    c = tsa.generate(n_samples=500, n_anomalies=7, seed=2)
    assert a.values.tobytes() == b.values.tobytes()
    assert a.values.tobytes() != c.values.tobytes()
    idx = np.nonzero(a.labels)[0]
    assert len(idx) == 7 and idx.min() >= 25 and idx.max() < 475  # away from the ends
    # Spikes of 6 noise deviations stand out of the clean series.
    clean = tsa.generate(n_samples=500, n_anomalies=0, seed=1)
    jump = np.abs(a.values - clean.values)
    assert (jump[idx] > 0.5).all()


def test_generate_components():
    flat = tsa.generate(n_samples=240, trend=False, seasonality=False, noise_level=0.0)
    assert np.ptp(flat.values) == 0.0
    seasonal = tsa.generate(n_samples=240, trend=False, periods=[24], noise_level=0.0)
    np.testing.assert_allclose(seasonal.values[24:], seasonal.values[:-24], atol=1e-9)
    two = tsa.generate(n_samples=240, trend=False, periods=(12, 48.0), noise_level=0.0)
    np.testing.assert_allclose(two.values[48:], two.values[:-48], atol=1e-9)
    assert tsa.generate(n_samples=10, periods=7).values.shape == (10,)


@pytest.mark.parametrize("kwargs,cls,word", [
    (dict(n_samples=0), tsa.RangeError, "n_samples"),
    (dict(n_samples=-5), tsa.RangeError, "n_samples"),
    (dict(n_features=0), tsa.RangeError, "n_features"),
    (dict(noise_level=-1.0), tsa.RangeError, "noise_level"),
    (dict(periods=(24, 12, 6, 3, 2)), tsa.RangeError, "periods"),
    (dict(periods=(0.5,)), tsa.RangeError, "period"),
    (dict(step=0), tsa.RangeError, "step"),
    (dict(n_anomalies=10 ** 6, n_samples=100), tsa.RangeError, "n_anomalies"),
    (dict(n_samples="100"), tsa.InvalidArgument, "n_samples"),
    (dict(n_samples=10.0), tsa.InvalidArgument, "n_samples"),
    (dict(trend="yes"), tsa.InvalidArgument, "trend"),
    (dict(periods="24"), tsa.InvalidArgument, "periods"),
    (dict(noise_level=None), tsa.InvalidArgument, "noise_level"),
    (dict(seed=-1), tsa.RangeError, "seed"),
])
def test_generate_errors(kwargs, cls, word):
    with pytest.raises(cls) as ei:
        tsa.generate(**kwargs)
    assert word in ei.value.message


def test_point_metrics_known_answers():
    y, yhat = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]
    assert tsa.mae(y, yhat) == pytest.approx(1.0)
    assert tsa.rmse(y, yhat) == pytest.approx(math.sqrt(5 / 3))
    assert tsa.mape(y, yhat) == pytest.approx(100 / 3 * (1.0 + 0.0 + 0.5))
    assert tsa.smape([1.0, 2.0], [3.0, 2.0]) == pytest.approx(50.0)
    assert tsa.smape([0.0], [0.0]) == 0.0
    # Naive in-sample MAE of [1, 2, 3, 4] is 1, so MASE equals the MAE.
    assert tsa.mase([3.0, 4.0], [3.0, 6.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    # Seasonal naive with m=2 on [1, 5, 3, 7]: |3-1|, |7-5| -> scale 2.
    assert tsa.mase([0.0], [1.0], [1.0, 5.0, 3.0, 7.0], m=2) == pytest.approx(0.5)
    # Several features compare value by value; numpy and tuples work alike.
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert tsa.mae(a, a + 0.5) == pytest.approx(0.5)
    assert tsa.rmse(tuple(a.reshape(-1)), (a + 1).reshape(-1)) == pytest.approx(1.0)


def test_metric_errors():
    with pytest.raises(tsa.ShapeError):
        tsa.mae([1.0, 2.0], [1.0])
    with pytest.raises(tsa.NonFinite):
        tsa.rmse([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(tsa.InvalidArgument):
        tsa.mae([], [])
    with pytest.raises(tsa.InvalidArgument):
        tsa.mae(None, [1.0])
    with pytest.raises(tsa.NumericError):
        tsa.mase([1.0], [2.0], [3.0, 3.0, 3.0])  # constant training series
    with pytest.raises(tsa.TsaError):
        tsa.mase([1.0], [2.0], [1.0, 2.0], m=5)  # n_train must exceed m


def test_classification_known_answer():
    labels = [1, 1, 0, 0, 1, 0]
    flags = [True, False, True, False, True, False]
    c = tsa.classification(labels, flags)
    assert (c.true_positives, c.false_positives, c.false_negatives, c.true_negatives) == \
        (2, 1, 1, 2)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 / 3)
    c0 = tsa.classification(np.zeros(4, dtype=bool), np.zeros(4))
    assert c0.precision == 0.0 and c0.recall == 0.0 and c0.true_negatives == 4
    assert c._asdict()["f1"] == c.f1
    with pytest.raises(tsa.ShapeError):
        tsa.classification([1, 0], [1])
    with pytest.raises(tsa.InvalidArgument):
        tsa.classification(["a"], [1])
