"""Every error class: the right exception, code, name and libtsa's message."""

import struct
import threading
import zlib

import numpy as np
import pytest

import tsa
from tsa import errors


def check_error(excinfo, cls, code, *words):
    e = excinfo.value
    assert type(e) is cls, type(e)
    assert isinstance(e, tsa.TsaError)
    assert e.code == code and e.name == errors.STATUS_NAMES[code]
    assert e.message and str(e).startswith(e.name + ": ")
    for w in words:
        assert w in e.message, (w, e.message)
    return e


def test_classes_match_the_status_codes():
    seen = set()
    for code, name in errors.STATUS_NAMES.items():
        if code == 0:
            continue
        cls = errors.error_class(code)
        assert cls is not tsa.TsaError and cls.code == code and cls not in seen
        seen.add(cls)
    assert errors.error_class(999) is tsa.TsaError
    e = errors.make_error(999, "x")
    assert type(e) is tsa.TsaError and e.name == "TSA_E?"
    # Pickles and compares like a normal exception.
    import pickle
    e2 = pickle.loads(pickle.dumps(tsa.ParamError(13, "TSA_EPARAM", "k: bad")))
    assert type(e2) is tsa.ParamError and e2.message == "k: bad"


def test_unknown_kind():
    with pytest.raises(tsa.UnknownKind) as ei:
        tsa.Model("no_such_kind")
    check_error(ei, tsa.UnknownKind, errors.EUNKNOWN_KIND, "no_such_kind")
    with pytest.raises(tsa.UnknownKind):
        tsa.kind_info("no_such_kind")
    with pytest.raises(tsa.InvalidArgument):
        tsa.Model(None)
    with pytest.raises(tsa.InvalidArgument):
        tsa.Model("multi\0variate")


@pytest.mark.parametrize("params,key", [
    ({"max_lags": 0}, "max_lags"),            # out of range
    ({"max_lags": 10 ** 6}, "max_lags"),
    ({"no_such_param": 1}, "no_such_param"),  # unknown key
    ({"ic": "xyz"}, "ic"),                    # not one of the choices
    ({"ic": 3}, "ic"),                        # wrong type
    ({"order": "two"}, "order"),
    ({"max_lags": [1, 2]}, "max_lags"),       # no C type for a list
    ({"max_lags": 2 ** 70}, "max_lags"),      # does not fit in int64
    ({"seed": float("nan")}, "seed"),
    ({"kind": "x"}, "kind"),                  # kind is positional only
])
def test_bad_parameter_names_the_key(params, key):
    with pytest.raises(tsa.ParamError) as ei:
        tsa.Model("multivariate", **params)
    check_error(ei, tsa.ParamError, errors.EPARAM, key)
    assert isinstance(ei.value, ValueError)


def test_parameters_by_python_type():
    m = tsa.Model("var", max_lags=np.int64(4), ic="bic", order=None, trend="ct")
    assert m.kind == "multivariate"
    assert m.params["max_lags"] == 4 and m.params["ic"] == "bic"
    assert m.params["order"] == 0  # None keeps the default
    assert m.params["trend"] == "ct"
    # An integral float is accepted for an int key by libtsa's table.
    assert tsa.Model("var", max_lags=3.0).params["max_lags"] == 3


def test_nan_without_mask(uni):
    x = np.array(uni.values, copy=True)
    x[17] = np.nan
    m = tsa.Model("multivariate")
    with pytest.raises(tsa.NonFinite) as ei:
        m.fit(x)
    check_error(ei, tsa.NonFinite, errors.ENONFINITE, "17")
    assert not m.fitted
    x[18] = np.inf
    with pytest.raises(tsa.NonFinite):
        m.fit(x.tolist())
    # The same data with the NaN and Inf marked missing fits.
    m.fit(x, mask=~np.isfinite(x))
    assert m.fitted


def test_nan_in_scored_data(var_model, multi):
    x = np.array(multi.values, copy=True)
    x[5, 1] = np.nan
    with pytest.raises(tsa.NonFinite):
        var_model.score(x)
    with pytest.raises(tsa.NonFinite):
        var_model.forecast(3, history=x)
    s = var_model.score(x, mask=np.isnan(x))
    assert np.isfinite(s.raw).all()


def test_not_fitted(uni):
    m = tsa.Model("multivariate")
    for call in (lambda: m.forecast(3), lambda: m.score(uni.values),
                 lambda: m.detect(uni.values)):
        with pytest.raises(tsa.NotFitted) as ei:
            call()
        check_error(ei, tsa.NotFitted, errors.ENOTFITTED)
    assert m.n_features == 0 and m.context_length == 0 and m.info["fitted"] is False


def test_wrong_n_features(var_model):
    three = tsa.generate(n_samples=100, n_features=3).values
    with pytest.raises(tsa.ShapeError) as ei:
        var_model.forecast(3, history=three)
    check_error(ei, tsa.ShapeError, errors.ESHAPE, "3")
    with pytest.raises(tsa.ShapeError):
        var_model.score(three)
    with pytest.raises(tsa.ShapeError):
        var_model.detect(three[:, 0])


def test_too_short():
    with pytest.raises(tsa.TooShort) as ei:
        tsa.Model("multivariate", order=5).fit([[1.0, 2.0], [2.0, 1.0], [3.0, 0.5]])
    check_error(ei, tsa.TooShort, errors.ETOOSHORT)


@pytest.mark.parametrize("horizon", [0, tsa.model.MAX_HORIZON + 1, -1])
def test_horizon_out_of_range(var_model, horizon):
    with pytest.raises(tsa.RangeError) as ei:
        var_model.forecast(horizon)
    check_error(ei, tsa.RangeError, errors.ERANGE, "horizon")


def test_other_ranges(var_model, multi):
    with pytest.raises(tsa.RangeError):
        var_model.forecast(3, interval=1.5)
    with pytest.raises(tsa.RangeError):
        var_model.forecast(3, interval=0.0)
    with pytest.raises(tsa.RangeError):
        var_model.detect(multi.values, threshold=1.0)
    with pytest.raises(tsa.RangeError):
        tsa.Model("multivariate").fit(multi.values, epochs=-1)
    with pytest.raises(tsa.RangeError):
        tsa.Model("multivariate").fit(multi.values, seed=-3)
    with pytest.raises(tsa.InvalidArgument):
        var_model.forecast(2.5)
    with pytest.raises(tsa.InvalidArgument):
        var_model.forecast("3")
    with pytest.raises(tsa.InvalidArgument):
        var_model.forecast(True)


def test_corrupted_and_foreign_bytes(var_model):
    blob = var_model.to_bytes()
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x40
    truncated = blob[:-9]
    for bad, word in ((bytes(flipped), "checksum"), (truncated, "checksum"),
                      (b"", "truncated"), (b"TSAMODEL", "truncated"),
                      (b"not a model at all, just text", "magic")):
        with pytest.raises(tsa.FormatError) as ei:
            tsa.from_bytes(bad)
        check_error(ei, tsa.FormatError, errors.EFORMAT, word)
    # A newer format version.
    newer = bytearray(blob)
    newer[8:12] = struct.pack("<I", 99)
    with pytest.raises(tsa.VersionError) as ei:
        tsa.from_bytes(newer)
    check_error(ei, tsa.VersionError, errors.EVERSION, "99")
    # A well-formed file of a kind this library lacks.
    body = blob[:-4].replace(b"multivariate", b"multivariatX", 1)
    foreign = body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
    with pytest.raises(tsa.UnknownKind):
        tsa.from_bytes(foreign)
    # Not bytes at all.
    for bad in (None, "TSAMODEL", 12):
        with pytest.raises(tsa.InvalidArgument):
            tsa.from_bytes(bad)
    # memoryview and bytearray are accepted.
    assert tsa.from_bytes(memoryview(blob)).fitted
    assert tsa.from_bytes(bytearray(blob)).fitted


def test_file_errors(tmp_path, var_model):
    with pytest.raises(tsa.InputOutputError) as ei:
        tsa.load(tmp_path / "missing.tsa")
    check_error(ei, tsa.InputOutputError, errors.EIO, "missing.tsa")
    with pytest.raises(tsa.InputOutputError):
        var_model.save(tmp_path / "no" / "such" / "dir" / "m.tsa")
    junk = tmp_path / "junk.tsa"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(tsa.FormatError):
        tsa.load(junk)
    for bad in (None, 3, ""):
        with pytest.raises(tsa.InvalidArgument):
            tsa.load(bad)


def test_numeric_error():
    with pytest.raises(tsa.NumericError) as ei:
        tsa.mape([0.0, 1.0], [1.0, 1.0])
    check_error(ei, tsa.NumericError, errors.ENUMERIC)
    assert isinstance(ei.value, ArithmeticError)


def test_closed_model(uni):
    m = tsa.Model("multivariate")
    m.close()
    m.close()  # idempotent
    assert m.closed and "closed" in repr(m)
    with pytest.raises(tsa.InvalidArgument) as ei:
        m.fit(uni.values)
    assert "closed" in ei.value.message
    with pytest.raises(tsa.InvalidArgument):
        m.kind
    with tsa.Model("multivariate") as m2:
        assert not m2.closed
    assert m2.closed


def test_messages_are_per_thread():
    # Each thread reads the message of its own failure, not another thread's.
    failures = []

    def worker(i):
        key = "bogus_key_%d" % i
        for _ in range(200):
            try:
                tsa.Model("multivariate", **{key: 1})
            except tsa.ParamError as e:
                if key not in e.message:
                    failures.append(e.message)
            else:
                failures.append("no error")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
