"""Conversion between Python data and libtsa series views; tsa.generate().

Accepted series data:

* numpy arrays, 1-D (one feature) or 2-D ``(length, n_features)``: a
  C-contiguous float64 array is passed to libtsa without a copy, anything
  else is converted to one (numpy is optional);
* pandas Series and DataFrames (a DatetimeIndex gives the timestamps, as
  int64 seconds since the epoch);
* any object with the buffer protocol (``array.array("d")``, memoryview);
* Python lists or tuples: flat for one feature, a list of equal-length rows
  for several.

Outputs are numpy arrays when numpy is importable, lists otherwise.
"""

import array
import ctypes
import datetime
import math
import numbers
import sys
from collections import namedtuple

from . import _compat, _lib, errors

__all__ = ["SeriesView", "to_series", "doubles", "bytes_flags", "generate", "Generated"]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1


def _invalid(message):
    return errors.make_error(errors.EINVAL, message)


def _range(message):
    return errors.make_error(errors.ERANGE, message)


# ---- scalar arguments ----------------------------------------------------------

def int_arg(value, name, lo, hi, allow_bool=False):
    """@value as an int in [lo, hi]: InvalidArgument for a non-integer,
    RangeError outside the bounds (which are those of the C type, so ctypes
    never wraps it around)."""
    if isinstance(value, bool) and not allow_bool:
        raise _invalid("%s: expected an integer, got bool" % name)
    if not isinstance(value, numbers.Integral):
        raise _invalid("%s: expected an integer, got %s" % (name, type(value).__name__))
    value = int(value)
    if value < lo or value > hi:
        raise _range("%s: must be in [%d, %d], got %d" % (name, lo, hi, value))
    return value


def float_arg(value, name):
    """@value as a float (NaN and Inf are passed on for libtsa to judge)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, numbers.Real):
        raise _invalid("%s: expected a number, got %s" % (name, type(value).__name__))
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError) as e:
        raise _invalid("%s: %s" % (name, e)) from None


# ---- series input --------------------------------------------------------------

class SeriesView:
    """A ``tsa_series`` and the Python objects its pointers point into.

    Keep the view alive for the duration of the C call: the buffers are
    referenced here, not copied by libtsa.
    """

    __slots__ = ("series", "length", "n_features", "copied", "_keep")

    def __init__(self, address, length, n_features, copied, keep):
        self.series = _lib.Series(address, length, n_features, None, None)
        self.length = length
        self.n_features = n_features
        self.copied = copied
        self._keep = [keep]

    @property
    def values_address(self):
        """The address libtsa reads the values from."""
        return self.series.values

    def ref(self):
        return ctypes.byref(self.series)


def _is_row(x):
    np = _compat.np
    if isinstance(x, (list, tuple, array.array, memoryview)):
        return True
    return np is not None and isinstance(x, np.ndarray) and x.ndim >= 1


def _number(x, where):
    if isinstance(x, (str, bytes)) or not isinstance(x, numbers.Real):
        hint = "; mark missing values with NaN and a mask" if x is None else ""
        raise _invalid("%s: expected a number, got %s%s" % (where, type(x).__name__, hint))
    try:
        return float(x)
    except (OverflowError, ValueError, TypeError) as e:
        raise _invalid("%s: %s" % (where, e)) from None


def _nested(data, name):
    """Validates a list (flat) or a list of rows; returns (flat floats, length, n_features)."""
    try:
        items = list(data)
    except TypeError:
        raise _invalid("%s: expected a sequence of numbers or of rows, got %s"
                       % (name, type(data).__name__)) from None
    if not items:
        raise _invalid("%s: is empty" % name)
    flat = []
    if _is_row(items[0]):
        n_features = None
        for i, row in enumerate(items):
            if not _is_row(row):
                raise _invalid("%s[%d]: expected a row like %s[0], got %s"
                               % (name, i, name, type(row).__name__))
            row = row.tolist() if hasattr(row, "tolist") else list(row)
            if n_features is None:
                n_features = len(row)
                if n_features == 0:
                    raise _invalid("%s[0]: row is empty" % name)
            elif len(row) != n_features:
                raise _invalid("%s: row %d has %d values, row 0 has %d (ragged rows)"
                               % (name, i, len(row), n_features))
            for j, x in enumerate(row):
                flat.append(_number(x, "%s[%d][%d]" % (name, i, j)))
        return flat, len(items), n_features
    for i, x in enumerate(items):
        flat.append(_number(x, "%s[%d]" % (name, i)))
    return flat, len(items), 1


def _from_ndarray(arr, name):
    np = _compat.np
    if arr.dtype.kind == "O":
        return _from_list(arr.tolist(), name)
    if arr.dtype.kind not in "fiub":
        raise _invalid("%s: expected numbers, got an array of dtype %s" % (name, arr.dtype))
    if arr.ndim == 1:
        length, n_features = arr.shape[0], 1
    elif arr.ndim == 2:
        length, n_features = arr.shape
    else:
        raise _invalid("%s: expected 1 or 2 dimensions (length, n_features), got %d"
                       % (name, arr.ndim))
    if length == 0 or n_features == 0:
        raise _invalid("%s: is empty (shape %s)" % (name, tuple(arr.shape)))
    copied = False
    if not (arr.dtype == np.float64 and arr.flags.c_contiguous and arr.flags.aligned):
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        copied = True
    return SeriesView(arr.ctypes.data, length, n_features, copied, arr)


def _from_list(data, name):
    flat, length, n_features = _nested(data, name)
    np = _compat.np
    if np is not None:
        arr = np.array(flat, dtype=np.float64)
        return SeriesView(arr.ctypes.data, length, n_features, True, arr)
    buf = (ctypes.c_double * len(flat))(*flat)
    return SeriesView(ctypes.addressof(buf), length, n_features, True, buf)


def _has_buffer(x):
    try:
        memoryview(x).release()
        return True
    except TypeError:
        return False


_NATIVE_DOUBLE = ("d", "@d", "=d", "<d" if sys.byteorder == "little" else ">d")


def _from_memoryview(mv, name):
    """No numpy: native doubles are used in place, other formats converted."""
    if mv.ndim not in (1, 2):
        raise _invalid("%s: expected 1 or 2 dimensions, got %d" % (name, mv.ndim))
    if mv.format in _NATIVE_DOUBLE and mv.c_contiguous:
        length = mv.shape[0]
        n_features = mv.shape[1] if mv.ndim == 2 else 1
        if length == 0 or n_features == 0:
            raise _invalid("%s: is empty" % name)
        ctype = ctypes.c_double * (length * n_features)
        # from_buffer() needs a writable buffer; a read-only one is copied.
        copied = mv.readonly
        buf = ctype.from_buffer_copy(mv) if copied else ctype.from_buffer(mv)
        return SeriesView(ctypes.addressof(buf), length, n_features, copied, buf)
    try:
        items = mv.tolist()
    except (NotImplementedError, TypeError, ValueError) as e:
        raise _invalid("%s: unsupported buffer format %r (%s)" % (name, mv.format, e)) from None
    return _from_list(items, name)


def _values(data, name):
    np = _compat.np
    pd = _compat.pandas()
    if data is None:
        raise _invalid("%s: must not be None" % name)
    if isinstance(data, (str, bytes, bytearray)):
        raise _invalid("%s: expected numbers, got %s" % (name, type(data).__name__))
    if isinstance(data, numbers.Number):
        raise _invalid("%s: expected a sequence of values, got a single %s"
                       % (name, type(data).__name__))
    if isinstance(data, dict):
        raise _invalid("%s: expected a sequence of values, got dict" % name)
    if pd is not None and isinstance(data, (pd.Series, pd.DataFrame)):
        try:
            data = data.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as e:
            raise _invalid("%s: cannot convert to numbers (%s)" % (name, e)) from None
    if np is not None:
        if isinstance(data, np.ndarray):
            return _from_ndarray(data, name)
        if isinstance(data, (list, tuple)):
            return _from_list(data, name)
        if _has_buffer(data) or hasattr(data, "__array__") or hasattr(data, "__array_interface__"):
            try:
                arr = np.asarray(data)
            except (TypeError, ValueError) as e:
                raise _invalid("%s: cannot convert to an array (%s)" % (name, e)) from None
            return _from_ndarray(arr, name)
        return _from_list(data, name)
    if isinstance(data, (list, tuple)):
        return _from_list(data, name)
    if _has_buffer(data):
        return _from_memoryview(memoryview(data), name)
    return _from_list(data, name)


def _datetime_seconds(x, where):
    if isinstance(x, datetime.datetime):
        if x.tzinfo is None:  # as pandas does: naive means UTC
            x = x.replace(tzinfo=datetime.timezone.utc)
        return math.floor(x.timestamp())
    if isinstance(x, datetime.date):
        return math.floor(datetime.datetime(x.year, x.month, x.day,
                                            tzinfo=datetime.timezone.utc).timestamp())
    np = _compat.np
    if np is not None and isinstance(x, np.datetime64):
        if np.isnat(x):
            raise _invalid("%s: is NaT" % where)
        return int(x.astype("datetime64[s]").astype(np.int64))
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise _invalid("%s: expected an integer number of seconds or a datetime, got %s"
                       % (where, type(x).__name__))
    if isinstance(x, numbers.Integral):
        v = int(x)
    else:
        f = float(x)
        if not math.isfinite(f) or f != math.floor(f):
            raise _invalid("%s: expected whole seconds, got %r" % (where, f))
        v = int(f)
    if v < INT64_MIN or v > INT64_MAX:
        raise _range("%s: %d does not fit in int64" % (where, v))
    return v


def _timestamps(ts, length, name="timestamps"):
    """@ts as contiguous int64 seconds; returns (address, keep) or (None, None)."""
    if ts is None:
        return None, None
    np = _compat.np
    pd = _compat.pandas()
    if isinstance(ts, (str, bytes, bytearray)) or isinstance(ts, numbers.Number):
        raise _invalid("%s: expected a sequence, got %s" % (name, type(ts).__name__))
    if pd is not None and isinstance(ts, (pd.Series, pd.Index)):
        if pd.api.types.is_datetime64_any_dtype(ts):
            idx = pd.DatetimeIndex(ts)
            if idx.hasnans:
                raise _invalid("%s: holds NaT" % name)
            # asi8 is nanoseconds since the epoch (UTC for tz-aware indexes).
            ts = np.asarray(idx.asi8, dtype=np.int64) // 1000000000
        else:
            ts = ts.to_numpy()
    if np is not None and not isinstance(ts, (list, tuple)) and (
            isinstance(ts, np.ndarray) or _has_buffer(ts)):
        arr = np.asarray(ts)
        if arr.ndim != 1:
            raise _invalid("%s: expected 1 dimension, got %d" % (name, arr.ndim))
        kind = arr.dtype.kind
        if kind == "M":
            if np.isnat(arr).any():
                raise _invalid("%s: holds NaT" % name)
            arr = arr.astype("datetime64[s]").astype(np.int64)
        elif kind == "u":
            if arr.size and int(arr.max()) > INT64_MAX:
                raise _range("%s: a value does not fit in int64" % name)
        elif kind == "f":
            if arr.size and (not np.isfinite(arr).all() or (arr != np.floor(arr)).any()):
                raise _invalid("%s: expected whole seconds" % name)
            if arr.size and (arr.min() < -9.2e18 or arr.max() > 9.2e18):
                raise _range("%s: a value does not fit in int64" % name)
        elif kind == "O":
            arr = np.array([_datetime_seconds(x, "%s[%d]" % (name, i))
                            for i, x in enumerate(arr.tolist())], dtype=np.int64)
        elif kind != "i":
            raise _invalid("%s: expected integers or datetimes, got dtype %s" % (name, arr.dtype))
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        count = arr.shape[0]
        keep = arr
        address = arr.ctypes.data
    else:
        try:
            items = list(ts)
        except TypeError:
            raise _invalid("%s: expected a sequence, got %s" % (name, type(ts).__name__)) from None
        vals = [_datetime_seconds(x, "%s[%d]" % (name, i)) for i, x in enumerate(items)]
        count = len(vals)
        if np is not None:
            keep = np.array(vals, dtype=np.int64)
            address = keep.ctypes.data if count else None
        else:
            keep = (ctypes.c_int64 * max(count, 1))(*vals)
            address = ctypes.addressof(keep)
    if count != length:
        raise _invalid("%s: has %d entries, the data has %d rows" % (name, count, length))
    return address, keep


def _mask(mask, length, n_features, name="mask"):
    """@mask as contiguous bytes, non-zero = missing; (address, keep) or (None, None)."""
    if mask is None:
        return None, None
    np = _compat.np
    pd = _compat.pandas()
    if isinstance(mask, (str, bytes, bytearray)) or isinstance(mask, numbers.Number):
        raise _invalid("%s: expected a sequence, got %s" % (name, type(mask).__name__))
    if pd is not None and isinstance(mask, (pd.Series, pd.DataFrame)):
        mask = mask.to_numpy()
    expected = length * n_features
    if np is not None:
        if isinstance(mask, (list, tuple)):
            flat, n, f = _nested(mask, name)
            arr = np.array(flat, dtype=np.float64).reshape(n, f) if f > 1 else np.array(flat)
        else:
            try:
                arr = np.asarray(mask)
            except (TypeError, ValueError) as e:
                raise _invalid("%s: cannot convert to an array (%s)" % (name, e)) from None
        ok_shape = (arr.shape == (length, n_features)
                    or (n_features == 1 and arr.shape == (length,)))
        if not ok_shape:
            raise _invalid("%s: has shape %s, the data has shape (%d, %d)"
                           % (name, tuple(arr.shape), length, n_features))
        kind = arr.dtype.kind
        if kind == "b" or (kind == "u" and arr.dtype.itemsize == 1):
            arr = np.ascontiguousarray(arr).view(np.uint8)
        elif kind in "iu":
            arr = np.ascontiguousarray(arr != 0, dtype=np.uint8)
        elif kind == "f":
            if np.isnan(arr).any():
                raise _invalid("%s: holds NaN" % name)
            arr = np.ascontiguousarray(arr != 0, dtype=np.uint8)
        elif kind == "O":
            flat, _, _ = _nested(arr.reshape(-1).tolist(), name)
            if any(math.isnan(x) for x in flat):
                raise _invalid("%s: holds NaN" % name)
            arr = np.array([x != 0 for x in flat], dtype=np.uint8)
        else:
            raise _invalid("%s: expected booleans, got dtype %s" % (name, arr.dtype))
        return arr.ctypes.data, arr
    if _has_buffer(mask):
        mask = memoryview(mask).tolist()
    flat, n, f = _nested(mask, name)
    if not ((n, f) == (length, n_features)) or len(flat) != expected:
        raise _invalid("%s: has shape (%d, %d), the data has shape (%d, %d)"
                       % (name, n, f, length, n_features))
    if any(math.isnan(x) for x in flat):
        raise _invalid("%s: holds NaN" % name)
    buf = (ctypes.c_uint8 * expected)(*[1 if x != 0 else 0 for x in flat])
    return ctypes.addressof(buf), buf


def to_series(data, timestamps=None, mask=None, name="data"):
    """A :class:`SeriesView` of @data for a libtsa call.

    @timestamps (int seconds, datetimes, numpy datetime64 or a pandas
    DatetimeIndex) defaults to @data's DatetimeIndex when it has one.
    @mask has @data's shape; true marks a missing value.
    """
    pd = _compat.pandas()
    if timestamps is None and pd is not None and isinstance(data, (pd.Series, pd.DataFrame)):
        if isinstance(data.index, pd.DatetimeIndex):
            timestamps = data.index
    view = _values(data, name)
    address, keep = _timestamps(timestamps, view.length)
    if address is not None:
        view.series.timestamps = address
        view._keep.append(keep)
    address, keep = _mask(mask, view.length, view.n_features)
    if address is not None:
        view.series.mask = address
        view._keep.append(keep)
    return view


def doubles(data, name):
    """@data flattened to contiguous doubles: (address, count, shape, keep)."""
    view = _values(data, name)
    return view.values_address, view.length * view.n_features, \
        (view.length, view.n_features), view


def bytes_flags(data, name):
    """@data (booleans or integers) flattened to contiguous bytes, 1 = true."""
    np = _compat.np
    if data is None:
        raise _invalid("%s: must not be None" % name)
    if np is not None and not isinstance(data, (list, tuple)):
        pd = _compat.pandas()
        if pd is not None and isinstance(data, (pd.Series, pd.DataFrame)):
            data = data.to_numpy()
        arr = np.asarray(data)
        if arr.dtype.kind not in "biuf":
            raise _invalid("%s: expected booleans, got dtype %s" % (name, arr.dtype))
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise _invalid("%s: holds NaN" % name)
        arr = np.ascontiguousarray(arr.reshape(-1) != 0, dtype=np.uint8)
        if arr.size == 0:
            raise _invalid("%s: is empty" % name)
        return arr.ctypes.data, arr.size, arr
    flat, n, f = _nested(data, name)
    if any(math.isnan(x) for x in flat):
        raise _invalid("%s: holds NaN" % name)
    buf = (ctypes.c_uint8 * len(flat))(*[1 if x != 0 else 0 for x in flat])
    return ctypes.addressof(buf), len(flat), buf


# ---- outputs ---------------------------------------------------------------------

def out_array(ptr, count, n_features=1, kind="f"):
    """A copy of @count rows of @n_features from C memory @ptr.

    One feature gives a 1-D result, several a (count, n_features) one.
    @kind: "f" float64, "i" int64, "b" bool.
    """
    np = _compat.np
    total = count * n_features
    if np is not None:
        dtype = {"f": np.float64, "i": np.int64, "b": np.bool_}[kind]
        if total == 0 or not ptr:
            arr = np.zeros(total, dtype=dtype)
        else:
            arr = np.ctypeslib.as_array(ptr, shape=(total,)).astype(dtype, copy=True)
        return arr.reshape(count, n_features) if n_features > 1 else arr
    if total == 0 or not ptr:
        vals = []
    else:
        vals = ptr[:total]
    if kind == "b":
        vals = [bool(v) for v in vals]
    elif kind == "i":
        vals = [int(v) for v in vals]
    if n_features > 1:
        return [vals[i * n_features:(i + 1) * n_features] for i in range(count)]
    return vals


def new_doubles(count):
    """A zeroed caller buffer of @count doubles: (address, buffer)."""
    np = _compat.np
    if np is not None:
        arr = np.zeros(count, dtype=np.float64)
        return arr.ctypes.data, arr
    buf = (ctypes.c_double * max(count, 1))()
    return ctypes.addressof(buf), buf


def finish_doubles(buf, count):
    """The caller buffer from new_doubles() as the output type."""
    np = _compat.np
    if np is not None:
        return buf
    return list(buf[:count])


# ---- generated data ----------------------------------------------------------------

class Generated(namedtuple("Generated", "values timestamps labels")):
    """A generated series: values ``(n_samples,)`` or ``(n_samples, n_features)``,
    timestamps (int64 seconds) and labels (true at injected anomalies)."""

    __slots__ = ()

    def to_frame(self):
        """The values as a pandas DataFrame indexed by the timestamps."""
        import numpy as np
        import pandas as pd
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        columns = ["value"] if values.shape[1] == 1 else \
            ["x%d" % j for j in range(values.shape[1])]
        index = pd.to_datetime(np.asarray(self.timestamps, dtype=np.int64), unit="s")
        return pd.DataFrame(values, index=index, columns=columns)


def generate(n_samples=1000, n_features=1, trend=True, seasonality=True, periods=(24,),
             noise_level=0.1, n_anomalies=0, anomaly_magnitude=6.0, seed=42, start=0,
             step=3600, trend_slope=0.002, amplitude=1.0):
    """A synthetic series with trend, seasonalities, noise and labelled anomalies.

    See include/tsa/generate.h for the model of the data; the same seed
    gives the same series.  Returns :class:`Generated`.
    """
    C = _lib.C
    opts = _lib.init_options(_lib.GenerateOptions, C.tsa_generate_options_init)
    opts.n_samples = int_arg(n_samples, "n_samples", 0, SIZE_MAX)
    opts.n_features = int_arg(n_features, "n_features", 0, SIZE_MAX)
    opts.trend = 1 if _bool_arg(trend, "trend") else 0
    opts.seasonality = 1 if _bool_arg(seasonality, "seasonality") else 0
    if periods is None:
        periods = ()
    elif isinstance(periods, numbers.Real) and not isinstance(periods, bool):
        periods = (periods,)
    try:
        periods = list(periods)
    except TypeError:
        raise _invalid("periods: expected a sequence of numbers, got %s"
                       % type(periods).__name__) from None
    if len(periods) > _lib.GENERATE_MAX_PERIODS:
        raise _range("periods: at most %d periods, got %d"
                     % (_lib.GENERATE_MAX_PERIODS, len(periods)))
    opts.n_periods = len(periods)
    for k, p in enumerate(periods):
        opts.periods[k] = float_arg(p, "periods[%d]" % k)
    opts.noise_level = float_arg(noise_level, "noise_level")
    opts.n_anomalies = int_arg(n_anomalies, "n_anomalies", 0, SIZE_MAX)
    opts.anomaly_magnitude = float_arg(anomaly_magnitude, "anomaly_magnitude")
    opts.seed = int_arg(seed, "seed", 0, UINT64_MAX)
    opts.start = int_arg(start, "start", INT64_MIN, INT64_MAX)
    opts.step = int_arg(step, "step", INT64_MIN, INT64_MAX)
    opts.trend_slope = float_arg(trend_slope, "trend_slope")
    opts.amplitude = float_arg(amplitude, "amplitude")

    out = ctypes.POINTER(_lib.Generated)()
    _lib.check(C.tsa_generate(ctypes.byref(opts), ctypes.byref(out)))
    try:
        g = out.contents
        return Generated(out_array(g.values, g.length, g.n_features, "f"),
                         out_array(g.timestamps, g.length, 1, "i"),
                         out_array(g.labels, g.length, 1, "b"))
    finally:
        C.tsa_generated_free(out)


def _bool_arg(value, name):
    np = _compat.np
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise _invalid("%s: expected a bool, got %r" % (name, value))
