"""Every registered kind, found through tsa.kinds(), goes through the whole
life cycle; a new kind is covered as soon as it is registered."""

import numpy as np
import pytest

import tsa
from conftest import kind_names, series_for

KINDS = kind_names()
# Few epochs keep neural kinds fast; the others ignore the option.
EPOCHS = 2


def test_registry_lists_kinds_with_their_parameters():
    kinds = tsa.kinds()
    assert kinds, "no kinds registered"
    assert "multivariate" in [k["name"] for k in kinds]
    for k in kinds:
        assert set(k) >= {"name", "aliases", "description", "capabilities", "params"}
        assert set(k["capabilities"]) <= {"forecast", "score", "multivariate", "intervals",
                                         "components"}
        for p in k["params"]:
            assert p["type"] in ("int", "double", "string", "bool")
            assert "default" in p and p["description"]
    var = tsa.kind_info("var")  # an alias
    assert var["name"] == "multivariate" and "var" in var["aliases"]


def fitted(kind):
    info = tsa.kind_info(kind)
    g = series_for(info, n_samples=400, n_anomalies=4)
    model = tsa.Model(kind)
    assert not model.fitted and model.n_features == 0
    model.fit(g.values, timestamps=g.timestamps, epochs=EPOCHS, seed=11)
    return info, g, model


@pytest.mark.parametrize("kind", KINDS)
def test_kind_fits_forecasts_and_scores(kind):
    info, g, model = fitted(kind)
    caps = info["capabilities"]
    nf = 3 if "multivariate" in caps else 1
    assert model.fitted and model.kind == kind and model.n_features == nf
    assert model.info["fitted"] is True and model.info["kind"] == kind
    assert set(model.params) == {p["name"] for p in info["params"]}

    if "forecast" in caps:
        fc = model.forecast(12, interval=0.9)
        shape = (12,) if nf == 1 else (12, nf)
        assert fc.mean.shape == fc.lower.shape == fc.upper.shape == shape
        assert np.isfinite(fc.mean).all()
        assert (fc.lower <= fc.mean).all() and (fc.mean <= fc.upper).all()
        step = int(g.timestamps[1] - g.timestamps[0])
        assert list(fc.timestamps) == [int(g.timestamps[-1]) + step * (h + 1) for h in range(12)]
        # From an explicit history: the tail of the training data.
        ctx = max(model.context_length, 1)
        hist = g.values[-max(ctx, 50):]
        fc2 = model.forecast(3, history=hist)
        assert np.isfinite(fc2.mean).all() and fc2.timestamps is None
    else:
        with pytest.raises(tsa.Unsupported):
            model.forecast(3)

    if "score" in caps:
        s = model.score(g.values)
        assert s.raw.shape == s.calibrated.shape == (400,)
        assert ((s.calibrated >= 0) & (s.calibrated <= 1)).all()
        assert np.isfinite(s.raw).all()
        d = model.detect(g.values, threshold=0.5)
        np.testing.assert_array_equal(d.calibrated, s.calibrated)
        np.testing.assert_array_equal(d.flags, s.calibrated > 0.5)
        np.testing.assert_array_equal(d.indices, np.nonzero(s.calibrated > 0.5)[0])
    else:
        with pytest.raises(tsa.Unsupported):
            model.score(g.values)
    model.close()


@pytest.mark.parametrize("kind", KINDS)
def test_kind_round_trips_give_identical_results(kind, tmp_path):
    info, g, model = fitted(kind)
    caps = info["capabilities"]
    blob = model.to_bytes()
    path = tmp_path / ("%s.tsa" % kind)
    model.save(path)
    assert path.read_bytes() == blob
    for copy in (tsa.from_bytes(blob), tsa.load(path), tsa.load(str(path))):
        with copy:
            assert copy.kind == kind and copy.fitted and copy.n_features == model.n_features
            assert copy.params == model.params
            if "forecast" in caps:
                a, b = model.forecast(10), copy.forecast(10)
                for x, y in zip(a[:3], b[:3]):
                    assert x.tobytes() == y.tobytes()  # bit for bit
                np.testing.assert_array_equal(a.timestamps, b.timestamps)
            if "score" in caps:
                assert model.score(g.values).raw.tobytes() == copy.score(g.values).raw.tobytes()
            # Saving the copy again gives the same bytes.
            assert copy.to_bytes() == blob
    # An unfitted model round-trips too.
    fresh = tsa.from_bytes(tsa.Model(kind).to_bytes())
    assert fresh.kind == kind and not fresh.fitted


@pytest.mark.parametrize("kind", KINDS)
def test_kind_results_are_deterministic(kind):
    _, g, a = fitted(kind)
    _, _, b = fitted(kind)
    assert a.to_bytes() == b.to_bytes()
    if "forecast" in tsa.kind_info(kind)["capabilities"]:
        assert a.forecast(5).mean.tobytes() == a.forecast(5).mean.tobytes()


@pytest.mark.parametrize("kind", KINDS)
def test_univariate_kinds_reject_several_features(kind):
    if "multivariate" in tsa.kind_info(kind)["capabilities"]:
        pytest.skip("multivariate kind")
    g = tsa.generate(n_samples=200, n_features=2)
    with pytest.raises(tsa.ShapeError):
        tsa.Model(kind).fit(g.values, epochs=EPOCHS)


def test_var_recovers_structure_and_finds_anomalies(multi, var_model):
    # Forecast accuracy against the noise-free future: the generator's noise
    # is 0.1, a VAR on this smooth seasonal data does much better than the
    # seasonal amplitude of 1.
    future = tsa.generate(n_samples=624, n_features=2, n_anomalies=0, seed=5,
                          noise_level=0.0)
    fc = var_model.forecast(24)
    err = tsa.mae(future.values[600:], fc.mean)
    naive = tsa.mae(future.values[600:], np.repeat(multi.values[-1:], 24, axis=0))
    assert err < 0.4 and err < 0.6 * naive, (err, naive)
    # The 95% interval covers most of the noisy truth.
    truth = tsa.generate(n_samples=624, n_features=2, n_anomalies=0, seed=5).values[600:]
    inside = ((truth >= fc.lower) & (truth <= fc.upper)).mean()
    assert inside > 0.8
    # Injected spikes of 6 noise deviations are found; a spike also disturbs
    # the next residual, hence some false positives right after one.
    det = var_model.detect(multi.values, threshold=0.99)
    c = tsa.classification(multi.labels, det.flags)
    assert c.recall >= 0.85 and c.precision >= 0.5, c
