"""Inputs: numpy (zero-copy), pandas, buffers, lists, with and without numpy."""

import array
import datetime
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tsa
from tsa import _compat, _lib
from tsa import data as tdata
from conftest import subprocess_env


class Spy:
    """Wraps a libtsa function and records the series each call received."""

    def __init__(self, fn):
        self.fn = fn
        self.values = []
        self.timestamps = []
        self.masks = []

    def __call__(self, handle, series_ref, *rest):
        s = series_ref._obj
        self.values.append(s.values)
        self.timestamps.append(s.timestamps)
        self.masks.append(s.mask)
        return self.fn(handle, series_ref, *rest)


@pytest.fixture
def spy_fit(monkeypatch):
    spy = Spy(_lib.C.tsa_model_fit)
    monkeypatch.setattr(_lib.C, "tsa_model_fit", spy)
    return spy


@pytest.fixture
def spy_score(monkeypatch):
    spy = Spy(_lib.C.tsa_model_score)
    monkeypatch.setattr(_lib.C, "tsa_model_score", spy)
    return spy


def test_contiguous_float64_is_passed_without_a_copy(multi, spy_fit, spy_score, var_model):
    x = np.array(multi.values, dtype=np.float64, order="C")
    ts = np.array(multi.timestamps, dtype=np.int64)
    mask = np.zeros(x.shape, dtype=bool)
    tsa.Model("multivariate", max_lags=3).fit(x, timestamps=ts, mask=mask)
    assert spy_fit.values == [x.ctypes.data]
    assert spy_fit.timestamps == [ts.ctypes.data]
    assert spy_fit.masks == [mask.ctypes.data]
    var_model.score(x)
    assert spy_score.values == [x.ctypes.data]
    view = tdata.to_series(x)
    assert not view.copied and view.values_address == x.ctypes.data


@pytest.mark.parametrize("make", [
    lambda x: x[::2],                              # strided rows
    lambda x: np.asfortranarray(x),                # column-major
    lambda x: x.astype(np.float32),                # another dtype
    lambda x: x.astype(">f8"),                     # byte-swapped float64
    lambda x: np.round(x * 100).astype(np.int64),  # integers
])
def test_other_arrays_are_copied_into_float64(multi, spy_fit, make):
    src = make(np.array(multi.values))
    view = tdata.to_series(src)
    assert view.copied and view.values_address != src.ctypes.data
    assert (view.length, view.n_features) == src.shape
    got = np.ctypeslib.as_array(
        (np.ctypeslib.ctypes.c_double * src.size).from_address(view.values_address))
    np.testing.assert_array_equal(got.reshape(src.shape), src.astype(np.float64))
    m = tsa.Model("multivariate", max_lags=3).fit(src)
    assert spy_fit.values[-1] != src.ctypes.data
    ref = tsa.Model("multivariate", max_lags=3).fit(np.ascontiguousarray(src, dtype=np.float64))
    assert m.forecast(4).mean.tobytes() == ref.forecast(4).mean.tobytes()


def test_one_dimensional_and_column_inputs_agree(uni):
    x = np.asarray(uni.values)
    a = tsa.Model("multivariate", max_lags=4).fit(x)
    b = tsa.Model("multivariate", max_lags=4).fit(x.reshape(-1, 1))
    c = tsa.Model("multivariate", max_lags=4).fit(x.tolist())
    d = tsa.Model("multivariate", max_lags=4).fit(tuple(float(v) for v in x))
    e = tsa.Model("multivariate", max_lags=4).fit(array.array("d", x))
    f = tsa.Model("multivariate", max_lags=4).fit([[v] for v in x.tolist()])
    ref = a.forecast(6).mean
    assert ref.shape == (6,)
    for m in (b, c, d, e, f):
        assert m.n_features == 1
        assert m.forecast(6).mean.tobytes() == ref.tobytes()


def test_rows_and_buffers_for_several_features(multi):
    x = np.asarray(multi.values)
    rows = x.tolist()
    flat = array.array("d", x.reshape(-1))
    mv = memoryview(flat).cast("B").cast("d", list(x.shape))
    ref = tsa.Model("multivariate", max_lags=3).fit(x).forecast(5).mean
    for src in (rows, [tuple(r) for r in rows], mv, np.array(rows, dtype=object)):
        fc = tsa.Model("multivariate", max_lags=3).fit(src).forecast(5)
        assert fc.mean.shape == (5, 2)
        assert fc.mean.tobytes() == ref.tobytes()


@pytest.mark.parametrize("bad,word", [
    (None, "None"),
    ("1,2,3", "str"),
    (b"\x00\x01", "bytes"),
    (3.5, "single"),
    ({"a": 1.0}, "dict"),
    ([], "empty"),
    ([[]], "empty"),
    ([[1.0, 2.0], [3.0]], "ragged"),
    ([1.0, [2.0]], "number"),
    ([[1.0], 2.0], "row"),
    ([1.0, "2"], "str"),
    ([1.0, None], "NoneType"),
    ([1.0, 10 ** 400], "int too large"),
    (np.zeros((0,)), "empty"),
    (np.zeros((5, 0)), "empty"),
    (np.zeros((2, 2, 2)), "dimensions"),
    (np.array(["1", "2"]), "dtype"),
    (np.array([1 + 2j]), "dtype"),
    (np.array(5.0), "dimensions"),
])
def test_bad_inputs_raise_and_never_crash(bad, word):
    m = tsa.Model("multivariate")
    with pytest.raises(tsa.InvalidArgument) as ei:
        m.fit(bad)
    assert word in ei.value.message, ei.value.message
    assert isinstance(ei.value, ValueError)
    assert not m.fitted


def test_bad_timestamps_and_masks(uni):
    x = np.asarray(uni.values)[:50]
    m = tsa.Model("multivariate", max_lags=2)
    for ts in (list(range(49)), "abc", [1.5] * 50, np.zeros((50, 2), dtype=np.int64),
               [None] * 50, np.array(["2020"] * 50)):
        with pytest.raises(tsa.InvalidArgument):
            m.fit(x, timestamps=ts)
    with pytest.raises(tsa.InvalidArgument) as ei:
        m.fit(x, timestamps=[5] * 50)  # not increasing: libtsa's own check
    assert "increas" in ei.value.message
    with pytest.raises(tsa.RangeError):
        m.fit(x, timestamps=[2 ** 64] * 50)
    for mask in (np.zeros(49, dtype=bool), np.zeros((50, 2), dtype=bool), "abc",
                 [float("nan")] * 50, np.array(["x"] * 50)):
        with pytest.raises(tsa.InvalidArgument):
            m.fit(x, mask=mask)
    assert not m.fitted


def test_timestamp_types_agree(uni):
    x = np.asarray(uni.values)[:100]
    secs = [1_600_000_000 + 3600 * i for i in range(100)]
    dts = [datetime.datetime(2020, 9, 13, 12, 26, 40) + datetime.timedelta(hours=i)
           for i in range(100)]
    aware = [d.replace(tzinfo=datetime.timezone.utc) for d in dts]
    np_dt = np.array(secs, dtype="datetime64[s]")
    for ts in (secs, np.array(secs), np.array(secs, dtype=np.float64), dts, aware, np_dt,
               np_dt.astype("datetime64[ns]")):
        fc = tsa.Model("multivariate", max_lags=2).fit(x, timestamps=ts).forecast(3)
        assert list(fc.timestamps) == [secs[-1] + 3600 * (h + 1) for h in range(3)]


def test_pandas_datetime_index_continues_into_the_forecast():
    pd = pytest.importorskip("pandas")
    g = tsa.generate(n_samples=300, n_features=2, seed=9)
    index = pd.date_range("2024-03-01 00:00", periods=300, freq="h")
    df = pd.DataFrame(np.asarray(g.values), index=index, columns=["a", "b"])
    m = tsa.Model("multivariate", max_lags=4).fit(df)
    fc = m.forecast(5)
    expected = pd.date_range(index[-1] + pd.Timedelta(hours=1), periods=5, freq="h")
    assert list(fc.timestamps) == list(expected.asi8 // 10 ** 9)
    frame = fc.to_frame()
    assert list(frame.index) == list(expected)
    assert frame[("mean", 1)].to_numpy().tolist() == fc.mean[:, 1].tolist()
    # Same numbers as the plain array.
    ref = tsa.Model("multivariate", max_lags=4).fit(np.asarray(g.values)).forecast(5)
    assert fc.mean.tobytes() == ref.mean.tobytes()
    # A history with its own index: the forecast continues that one.
    hist = df.iloc[100:200]
    fc2 = m.forecast(2, history=hist)
    assert list(fc2.timestamps) == [int(index[199].value // 10 ** 9) + 3600 * (h + 1)
                                    for h in range(2)]
    # A Series, a tz-aware index, and scores of a DataFrame.
    s = df["a"]
    s.index = s.index.tz_localize("Europe/Paris")
    m1 = tsa.Model("multivariate", max_lags=4).fit(s)
    first = int(s.index[-1].tz_convert("UTC").value // 10 ** 9)
    assert int(m1.forecast(1).timestamps[0]) == first + 3600
    uni_frame = m1.forecast(3).to_frame()
    assert list(uni_frame.columns) == ["mean", "lower", "upper"]
    assert m.score(df).raw.shape == (300,)
    # NaN in a DataFrame: an error, or missing with a mask.
    df2 = df.copy()
    df2.iloc[10, 0] = np.nan
    with pytest.raises(tsa.NonFinite):
        tsa.Model("multivariate").fit(df2)
    assert tsa.Model("multivariate", max_lags=4).fit(df2, mask=df2.isna()).fitted
    # Non-numeric columns are refused.
    with pytest.raises(tsa.InvalidArgument):
        tsa.Model("multivariate").fit(pd.DataFrame({"a": ["x", "y", "z"]}))
    gen = tsa.generate(n_samples=10).to_frame()
    assert list(gen.columns) == ["value"] and gen.index[1] - gen.index[0] == pd.Timedelta("1h")


def test_outputs_are_lists_without_numpy(monkeypatch, multi):
    x = np.asarray(multi.values).tolist()
    monkeypatch.setattr(_compat, "np", None)
    g = tsa.generate(n_samples=200, n_features=2, n_anomalies=2)
    assert isinstance(g.values, list) and len(g.values) == 200 and len(g.values[0]) == 2
    assert isinstance(g.timestamps, list) and isinstance(g.labels[0], bool)
    m = tsa.Model("multivariate", max_lags=3).fit(x, timestamps=list(multi.timestamps))
    fc = m.forecast(4)
    assert isinstance(fc.mean, list) and len(fc.mean) == 4 and len(fc.mean[0]) == 2
    assert isinstance(fc.timestamps, list) and isinstance(fc.timestamps[0], int)
    s = m.score(x)
    assert isinstance(s.raw, list) and len(s.calibrated) == 600
    d = m.detect(x, threshold=0.99)
    assert isinstance(d.indices, list) and all(d.flags[i] for i in d.indices)
    monkeypatch.undo()
    ref = tsa.Model("multivariate", max_lags=3).fit(np.asarray(x), timestamps=multi.timestamps)
    assert np.asarray(fc.mean).tobytes() == ref.forecast(4).mean.tobytes()
    assert np.asarray(d.indices).tolist() == ref.detect(x, threshold=0.99).indices.tolist()


def test_without_numpy_installed():
    # numpy and pandas made unimportable in a fresh interpreter.
    script = textwrap.dedent("""
        import sys, array
        sys.modules["numpy"] = None
        sys.modules["pandas"] = None
        import tsa
        assert tsa._compat.np is None
        g = tsa.generate(n_samples=300, n_features=1, n_anomalies=3, seed=2)
        assert type(g.values) is list and type(g.values[0]) is float
        m = tsa.Model("multivariate", max_lags=4).fit(g.values, timestamps=g.timestamps)
        fc = m.forecast(3)
        assert type(fc.mean) is list and len(fc.mean) == 3
        assert fc.timestamps == [g.timestamps[-1] + 3600 * (h + 1) for h in range(3)]
        # A writable buffer of doubles is read in place; a read-only one copied.
        buf = array.array("d", g.values)
        m2 = tsa.Model("multivariate", max_lags=4).fit(buf)
        assert m2.forecast(3).mean == m.forecast(3).mean
        from tsa import data
        v = data.to_series(buf)
        assert not v.copied and v.values_address == buf.buffer_info()[0]
        v = data.to_series(memoryview(buf).toreadonly())
        assert v.copied
        v = data.to_series(array.array("f", g.values))
        assert v.copied
        d = m.detect(g.values, threshold=0.99)
        assert type(d.flags) is list and type(d.indices) is list
        assert tsa.classification(g.labels, d.flags).recall == 1.0
        assert tsa.mae([1, 2, 3], [1, 2, 5]) == 2 / 3
        for bad in (None, "x", [[1.0], [2.0, 3.0]], [], [1.0, "a"]):
            try:
                m.score(bad)
            except tsa.InvalidArgument:
                pass
            else:
                raise AssertionError(bad)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], env=subprocess_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                         universal_newlines=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout


def test_numpy_scalars_and_generators(uni):
    x = np.asarray(uni.values)[:80]
    a = tsa.Model("multivariate", max_lags=2).fit(list(np.float32(v) for v in x))
    b = tsa.Model("multivariate", max_lags=2).fit(v for v in x.astype(np.float32).tolist())
    assert a.forecast(2).mean.tobytes() == b.forecast(2).mean.tobytes()


def test_mask_inputs(uni):
    x = np.array(uni.values)[:120]
    x[[10, 20]] = np.nan
    mask = np.isnan(x)
    ref = tsa.Model("multivariate", max_lags=3).fit(x, mask=mask).forecast(3).mean
    for mk in (mask.tolist(), mask.astype(np.uint8), mask.astype(np.int32),
               mask.astype(np.float64), mask.reshape(-1, 1)):
        got = tsa.Model("multivariate", max_lags=3).fit(x, mask=mk).forecast(3).mean
        assert got.tobytes() == ref.tobytes()
