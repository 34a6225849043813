"""tsa.Model: create, fit, forecast, score, detect, save and load models."""

import contextlib
import ctypes
import json
import math
import numbers
import os
import threading
from collections import namedtuple

from . import _compat, _lib, errors
from . import data as _data

__all__ = ["Model", "Forecast", "Scores", "Detection", "load", "from_bytes", "kinds",
           "kind_info"]

C = _lib.C

CAP_FORECAST = 1 << 0
CAP_SCORE = 1 << 1
CAP_MULTIVARIATE = 1 << 2
CAP_INTERVALS = 1 << 3
CAP_COMPONENTS = 1 << 4

MAX_HORIZON = 100000


def _invalid(message):
    return errors.make_error(errors.EINVAL, message)


def _encode(text, name):
    if not isinstance(text, str):
        raise _invalid("%s: expected a str, got %s" % (name, type(text).__name__))
    if "\0" in text:
        raise _invalid("%s: must not contain NUL characters" % name)
    return text.encode("utf-8")


def _json_out(fn, *args):
    ptr = ctypes.c_void_p()
    _lib.check(fn(*args, ctypes.byref(ptr)))
    return json.loads(_lib.take_string(ptr.value))


# ---- the registry -------------------------------------------------------------

def kind_info(kind):
    """The description of @kind (name, aliases, description, capabilities,
    params with types, defaults and bounds) as a dict."""
    return _json_out(C.tsa_kind_info_json, _encode(kind, "kind"))


def kinds():
    """Every registered kind, as the dicts of :func:`kind_info`."""
    out = []
    for i in range(C.tsa_kind_count()):
        name = C.tsa_kind_name(i)
        if name:
            out.append(kind_info(name.decode("utf-8")))
    return out


# ---- results --------------------------------------------------------------------

def _frame_index(timestamps, length):
    import numpy as np
    import pandas as pd
    if timestamps is None:
        return pd.RangeIndex(length)
    return pd.to_datetime(np.asarray(timestamps, dtype=np.int64), unit="s")


class Forecast(namedtuple("Forecast", "mean lower upper timestamps")):
    """A forecast: ``mean``, ``lower`` and ``upper`` of shape ``(horizon,)`` for
    one feature or ``(horizon, n_features)``, and ``timestamps`` (int64
    seconds continuing the history's) or None when the history had none.
    ``interval`` is the central coverage of [lower, upper] (None for a
    forecast built by hand)."""

    interval = None

    def to_frame(self):
        """A pandas DataFrame indexed by the timestamps (columns mean, lower,
        upper; a (statistic, feature) MultiIndex for several features)."""
        import numpy as np
        import pandas as pd
        mean = np.asarray(self.mean)
        index = _frame_index(self.timestamps, mean.shape[0])
        if mean.ndim == 1:
            return pd.DataFrame({"mean": mean, "lower": np.asarray(self.lower),
                                 "upper": np.asarray(self.upper)}, index=index)
        return pd.concat({name: pd.DataFrame(np.asarray(getattr(self, name)), index=index)
                          for name in ("mean", "lower", "upper")}, axis=1)


def _take_forecast(fc):
    """A :class:`Forecast` copied out of a C ``tsa_forecast``."""
    nf = fc.n_features
    ts = _data.out_array(fc.timestamps, fc.horizon, 1, "i") if fc.timestamps else None
    out = Forecast(_data.out_array(fc.mean, fc.horizon, nf),
                   _data.out_array(fc.lower, fc.horizon, nf),
                   _data.out_array(fc.upper, fc.horizon, nf), ts)
    out.interval = fc.interval
    return out


class Components(namedtuple("Components", "values mean timestamps multiplicative in_sample")):
    """A model's mean split into components (:meth:`Model.components`):
    ``values`` maps each name (in the model's order, e.g. "trend", "weekly")
    to an array shaped like ``mean``; they add up to ``mean``, the in-sample
    fit (``in_sample`` True) or the forecast mean. ``timestamps`` are int64
    seconds or None; ``multiplicative`` is the set of names whose term scales
    the trend (reported as its contribution, trend * factor)."""

    @property
    def names(self):
        return list(self.values)


class Combination(namedtuple("Combination", "forecast weights")):
    """The result of :func:`combine`: the combined :class:`Forecast` and the
    normalised weight each member got."""

    __slots__ = ()


_COMBINE_METHODS = {"mean": 0, "median": 1, "weighted_average": 2}


def combine(forecasts, method="mean", weights=None, interval=None):
    """Combines forecasts of the same shape (libtsa's ``tsa_forecast_combine``).

    @method is ``"mean"``, ``"median"`` or ``"weighted_average"``. With
    ``weighted_average``, @weights gives one non-negative weight per forecast;
    None weighs each by the inverse of the one-step standard deviation its
    interval implies. Each forecast's ``interval`` is used, or @interval for
    forecasts built by hand. Returns :class:`Combination`.
    """
    if not hasattr(C, "tsa_forecast_combine"):
        raise errors.make_error(errors.EUNSUPPORTED,
                                "combine: needs libtsa 0.2 or newer, loaded %s" % _lib.VERSION)
    if method not in _COMBINE_METHODS:
        raise _invalid("method: must be mean, median or weighted_average, got %r" % (method,))
    forecasts = list(forecasts)
    if not forecasts:
        raise _invalid("forecasts: must hold at least one forecast")
    keep, structs = [], []
    for i, f in enumerate(forecasts):
        name = "forecasts[%d]" % i
        parts = []
        for field in ("mean", "lower", "upper"):
            addr, count, shape, held = _data.doubles(getattr(f, field, None), "%s.%s" % (name, field))
            parts.append((addr, shape))
            keep.append(held)
        if parts[1][1] != parts[0][1] or parts[2][1] != parts[0][1]:
            raise _invalid("%s: mean, lower and upper must have one shape" % name)
        cov = getattr(f, "interval", None)
        cov = interval if cov is None else cov
        if cov is None:
            raise _invalid("%s: has no interval; pass interval=" % name)
        st = _lib.Forecast(parts[0][1][0], parts[0][1][1], _data.float_arg(cov, "interval"))
        for (addr, _), field in zip(parts, ("mean", "lower", "upper")):
            setattr(st, field, ctypes.cast(addr, ctypes.POINTER(ctypes.c_double)))
        structs.append(st)
    n = len(structs)
    arr = (ctypes.POINTER(_lib.Forecast) * n)(*[ctypes.pointer(st) for st in structs])
    w_addr = None
    if weights is not None:
        w_addr, count, _, held = _data.doubles(weights, "weights")
        keep.append(held)
        if count != n:
            raise _invalid("weights: must hold %d values, got %d" % (n, count))
    used_addr, used = _data.new_doubles(n)
    out = ctypes.POINTER(_lib.Forecast)()
    _lib.check(C.tsa_forecast_combine(arr, n, _COMBINE_METHODS[method], w_addr, used_addr,
                                      ctypes.byref(out)))
    try:
        fc = _take_forecast(out.contents)
    finally:
        C.tsa_forecast_free(out)
    del keep
    return Combination(fc, _data.finish_doubles(used, n))


class Scores(namedtuple("Scores", "raw calibrated")):
    """Anomaly scores per time step: the kind's ``raw`` score and the
    ``calibrated`` one in [0, 1]."""

    __slots__ = ()


class Detection(namedtuple("Detection", "raw calibrated flags indices")):
    """Detected anomalies: scores per step, ``flags`` (true where the
    calibrated score exceeds the threshold) and the flagged ``indices``."""

    __slots__ = ()

    @property
    def n_anomalies(self):
        return len(self.indices)


# ---- parameters -----------------------------------------------------------------

def _make_params(params):
    """A tsa_params handle holding @params (the caller frees it)."""
    handle = ctypes.c_void_p()
    _lib.check(C.tsa_params_create(ctypes.byref(handle)))
    try:
        np = _compat.np
        for key, value in params.items():
            if value is None:
                continue  # None keeps the kind's default
            bkey = _encode(key, "parameter name")
            if np is not None and isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, bool):
                rc = C.tsa_params_set_bool(handle, bkey, 1 if value else 0)
            elif isinstance(value, numbers.Integral):
                value = int(value)
                if value < _data.INT64_MIN or value > _data.INT64_MAX:
                    raise errors.make_error(errors.EPARAM, "%s: %d does not fit in int64"
                                            % (key, value))
                rc = C.tsa_params_set_int(handle, bkey, value)
            elif isinstance(value, numbers.Real):
                rc = C.tsa_params_set_double(handle, bkey, float(value))
            elif isinstance(value, str):
                if "\0" in value:
                    raise errors.make_error(errors.EPARAM, "%s: must not contain NUL "
                                            "characters" % key)
                rc = C.tsa_params_set_str(handle, bkey, value.encode("utf-8"))
            else:
                raise errors.make_error(errors.EPARAM, "%s: expected a bool, int, float or "
                                        "str, got %s" % (key, type(value).__name__))
            if rc != 0:
                exc = _lib.last_error(rc)
                if exc.code != errors.EPARAM or key not in exc.message:
                    exc = errors.make_error(errors.EPARAM, "%s: %s" % (key, exc.message))
                raise exc
    except BaseException:
        C.tsa_params_free(handle)
        raise
    return handle


# ---- the model --------------------------------------------------------------------

class Model:
    """A libtsa model.

    ``Model(kind, **params)`` creates an unfitted model of @kind (a name from
    :func:`tsa.kinds` or an alias); each keyword sets a parameter by its
    Python type (bool, int, float, str; None keeps the default).  Unknown
    keys and values out of range raise :class:`tsa.ParamError` naming the key.

    Thread-safety: :meth:`forecast`, :meth:`score`, :meth:`detect`,
    :meth:`save` and the properties may be called from many threads at once
    on a fitted model; :meth:`fit` and :meth:`close` wait until those calls
    are done and hold the model exclusively.
    """

    def __init__(self, kind, /, **params):
        self._init_state()
        bkind = _encode(kind, "kind")
        hparams = _make_params(params)
        try:
            handle = ctypes.c_void_p()
            _lib.check(C.tsa_model_create(bkind, hparams, ctypes.byref(handle)))
        finally:
            C.tsa_params_free(hparams)
        self._h = handle.value

    def _init_state(self):
        self._h = None
        self._cv = threading.Condition(threading.Lock())
        self._readers = 0          # shared calls in flight
        self._writers_waiting = 0  # fit()/close() calls waiting: new readers let them pass
        self._writer = None        # thread holding the model exclusively
        self._in_progress = False  # inside fit()'s progress callback (any thread)

    @classmethod
    def _from_handle(cls, handle):
        self = cls.__new__(cls)
        self._init_state()
        self._h = handle
        return self

    # -- exclusive and shared use of the handle --

    def _not_in_fit(self):
        # Waiting here for fit() to end would never return: fit() waits for
        # the callback, which may even run on a thread libtsa started.
        if self._in_progress or self._writer == threading.get_ident():
            raise _invalid("model: in use by fit() on this thread "
                           "(called from the progress callback?)")

    @contextlib.contextmanager
    def _shared(self):
        with self._cv:
            self._not_in_fit()
            while self._writer is not None or self._writers_waiting:
                self._cv.wait()
            if self._h is None:
                raise _invalid("model: is closed")
            self._readers += 1
            handle = self._h
        try:
            yield handle
        finally:
            with self._cv:
                self._readers -= 1
                if self._readers == 0:
                    self._cv.notify_all()

    def _acquire_exclusive(self):
        """Waits for the calls in flight; None when the model is closed."""
        with self._cv:
            self._not_in_fit()
            self._writers_waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cv.wait()
            finally:
                self._writers_waiting -= 1
            if self._h is None:
                self._cv.notify_all()
                return None
            self._writer = threading.get_ident()
            return self._h

    def _release_exclusive(self, handle):
        with self._cv:
            self._h = handle
            self._writer = None
            self._cv.notify_all()

    @contextlib.contextmanager
    def _exclusive(self):
        handle = self._acquire_exclusive()
        if handle is None:
            raise _invalid("model: is closed")
        try:
            yield handle
        finally:
            self._release_exclusive(handle)

    def close(self):
        """Frees the model, after the calls in flight. Idempotent."""
        if getattr(self, "_cv", None) is None:
            return
        handle = self._acquire_exclusive()
        if handle is None:
            return
        try:
            C.tsa_model_free(handle)
        finally:
            self._release_exclusive(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        # Nobody else holds a reference, so no call is in flight.
        handle = getattr(self, "_h", None)
        if handle:
            self._h = None
            try:
                C.tsa_model_free(handle)
            except Exception:  # interpreter shutdown
                pass

    @property
    def closed(self):
        return self._h is None

    # -- properties --

    @property
    def kind(self):
        """The canonical kind name (e.g. "multivariate" for "var")."""
        with self._shared() as h:
            return C.tsa_model_kind(h).decode("utf-8")

    @property
    def fitted(self):
        with self._shared() as h:
            return bool(C.tsa_model_is_fitted(h))

    @property
    def n_features(self):
        """The number of features of the training data (0 when unfitted)."""
        with self._shared() as h:
            return C.tsa_model_n_features(h)

    @property
    def context_length(self):
        """Past steps a forecast or a score needs (0 when unfitted)."""
        with self._shared() as h:
            return C.tsa_model_context_length(h)

    @property
    def params(self):
        """The resolved parameters (defaults filled in), as a dict."""
        with self._shared() as h:
            p = ctypes.c_void_p()
            _lib.check(C.tsa_model_params(h, ctypes.byref(p)))
        try:
            return _json_out(C.tsa_params_to_json, p)
        finally:
            C.tsa_params_free(p)

    @property
    def info(self):
        """libtsa's description of the model (kind, params, fitted state) as a dict."""
        with self._shared() as h:
            return _json_out(C.tsa_model_info_json, h)

    @property
    def capabilities(self):
        """The kind's capabilities, e.g. ["forecast", "score", "multivariate"]."""
        return kind_info(self.kind)["capabilities"]

    def __repr__(self):
        if self._h is None:
            return "<tsa.Model closed>"
        try:
            with self._shared() as h:
                kind = C.tsa_model_kind(h).decode("utf-8")
                if C.tsa_model_is_fitted(h):
                    state = "fitted, n_features=%d" % C.tsa_model_n_features(h)
                else:
                    state = "unfitted"
        except errors.TsaError:
            return "<tsa.Model busy>"
        return "<tsa.Model %s %s>" % (kind, state)

    # -- training --

    def fit(self, data, timestamps=None, mask=None, epochs=None, seed=None, n_threads=None,
            progress=None):
        """Fits the model on @data (see :mod:`tsa.data` for the accepted types).

        @epochs, @seed, @n_threads: None (or 0) uses the model's parameters
        and the library default.  @progress is called with a dict (stage,
        step, total, train_loss, val_loss, elapsed_s) as the fit advances;
        returning a true value stops it with :class:`tsa.Canceled`, and an
        exception it raises stops it and is re-raised here.  On failure the
        model keeps its earlier state.  Returns the model.
        """
        view = _data.to_series(data, timestamps, mask)
        opts = _lib.init_options(_lib.FitOptions, C.tsa_fit_options_init)
        if epochs is not None:
            opts.epochs = _data.int_arg(epochs, "epochs", 0, _data.INT64_MAX)
        if seed is not None:
            opts.seed = _data.int_arg(seed, "seed", 0, _data.UINT64_MAX)
        if n_threads is not None:
            opts.n_threads = _data.int_arg(n_threads, "n_threads", 0, 2 ** 31 - 1)
        if progress is not None and not callable(progress):
            raise _invalid("progress: expected a callable, got %s" % type(progress).__name__)

        raised = []
        callback = None
        if progress is not None:
            def trampoline(p, _user):
                # Nothing may escape into C: ctypes would print and drop it.
                self._in_progress = True
                try:
                    info = _progress_dict(p.contents)
                    return 1 if progress(info) else 0
                except BaseException as e:  # noqa: B036 - re-raised after the fit
                    raised.append(e)
                    return 1
                finally:
                    self._in_progress = False
            callback = _lib.PROGRESS_FN(trampoline)
            opts.progress = callback

        with self._exclusive() as h:
            rc = C.tsa_model_fit(h, view.ref(), ctypes.byref(opts))
            exc = _lib.last_error(rc) if rc != 0 else None
        del callback
        if raised:
            raise raised[0]
        if exc is not None:
            raise exc
        return self

    # -- inference --

    def forecast(self, horizon, history=None, interval=0.95, timestamps=None, mask=None):
        """Forecasts @horizon steps after @history (None: after the training
        data) with a central prediction interval of coverage @interval.

        Returns :class:`Forecast`.
        """
        horizon = _data.int_arg(horizon, "horizon", 0, _data.SIZE_MAX)
        interval = _data.float_arg(interval, "interval")
        view = None
        if history is not None:
            view = _data.to_series(history, timestamps, mask, name="history")
        elif timestamps is not None or mask is not None:
            raise _invalid("timestamps and mask: only apply to a history")
        out = ctypes.POINTER(_lib.Forecast)()
        with self._shared() as h:
            rc = C.tsa_model_forecast(h, view.ref() if view else None, horizon, interval,
                                      ctypes.byref(out))
            _lib.check(rc)
        try:
            fc = out.contents
            nf = fc.n_features
            return _take_forecast(fc)
        finally:
            C.tsa_forecast_free(out)

    def components(self, x=None, horizon=0, timestamps=None, mask=None):
        """Splits the mean into the kind's components (prophet: trend, each
        seasonality, holidays; ets: level, trend, season): with @horizon 0
        over the rows of @x (None: the training data), otherwise over
        @horizon steps after @x (None: after the training data).

        Returns :class:`Components`; raises an EUNSUPPORTED error for kinds
        without components.
        """
        if not hasattr(C, "tsa_model_components"):
            raise errors.make_error(errors.EUNSUPPORTED,
                                    "components: needs libtsa 0.2 or newer, loaded %s" % _lib.VERSION)
        horizon = _data.int_arg(horizon, "horizon", 0, _data.SIZE_MAX)
        view = None
        if x is not None:
            view = _data.to_series(x, timestamps, mask, name="x")
        elif timestamps is not None or mask is not None:
            raise _invalid("timestamps and mask: only apply to x")
        out = ctypes.POINTER(_lib.Components)()
        with self._shared() as h:
            _lib.check(C.tsa_model_components(h, view.ref() if view else None, horizon,
                                              ctypes.byref(out)))
        try:
            c = out.contents
            n, nf = c.length, c.n_features
            values = {}
            mult = set()
            block = ctypes.sizeof(ctypes.c_double) * n * nf
            base = ctypes.cast(c.values, ctypes.c_void_p).value
            for k in range(c.n_components):
                name = c.names[k].decode("utf-8")
                ptr = ctypes.cast(base + k * block, ctypes.POINTER(ctypes.c_double))
                values[name] = _data.out_array(ptr, n, nf)
                if c.multiplicative[k]:
                    mult.add(name)
            ts = _data.out_array(c.timestamps, n, 1, "i") if c.timestamps else None
            return Components(values, _data.out_array(c.mean, n, nf), ts, mult, bool(c.in_sample))
        finally:
            C.tsa_components_free(out)

    def score(self, x, timestamps=None, mask=None):
        """Anomaly scores of each step of @x: :class:`Scores` (raw, calibrated)."""
        view = _data.to_series(x, timestamps, mask, name="x")
        raw_addr, raw = _data.new_doubles(view.length)
        cal_addr, cal = _data.new_doubles(view.length)
        with self._shared() as h:
            _lib.check(C.tsa_model_score(h, view.ref(), raw_addr, cal_addr))
        return Scores(_data.finish_doubles(raw, view.length),
                      _data.finish_doubles(cal, view.length))

    def detect(self, x, threshold=0.95, timestamps=None, mask=None):
        """Flags the steps of @x whose calibrated score exceeds @threshold."""
        threshold = _data.float_arg(threshold, "threshold")
        view = _data.to_series(x, timestamps, mask, name="x")
        out = ctypes.POINTER(_lib.Detection)()
        with self._shared() as h:
            _lib.check(C.tsa_model_detect(h, view.ref(), threshold, ctypes.byref(out)))
        try:
            d = out.contents
            return Detection(_data.out_array(d.raw, d.length),
                             _data.out_array(d.calibrated, d.length),
                             _data.out_array(d.flags, d.length, 1, "b"),
                             _data.out_array(d.indices, d.n_anomalies, 1, "i"))
        finally:
            C.tsa_detection_free(out)

    # -- persistence --

    def to_bytes(self):
        """The model in libtsa's model format (fitted or not)."""
        buf = ctypes.c_void_p()
        size = ctypes.c_size_t()
        with self._shared() as h:
            _lib.check(C.tsa_model_save(h, ctypes.byref(buf), ctypes.byref(size)))
        try:
            return ctypes.string_at(buf.value, size.value) if size.value else b""
        finally:
            C.tsa_free(buf.value)

    def save(self, path):
        """Writes the model to @path (through a temporary file and a rename)."""
        bpath = _path(path)
        with self._shared() as h:
            _lib.check(C.tsa_model_save_file(h, bpath))

    def __reduce__(self):
        return (from_bytes, (self.to_bytes(),))


def _progress_dict(p):
    def field(name):
        # Only what the library's struct (p.size) covers was filled in.
        off = getattr(_lib.Progress, name)
        return p.size >= off.offset + off.size

    def num(x):
        return None if math.isnan(x) else x

    return {
        "stage": p.stage.decode("utf-8", "replace") if field("stage") and p.stage else "",
        "step": p.step if field("step") else 0,
        "total": p.total if field("total") else 0,
        "train_loss": num(p.train_loss) if field("train_loss") else None,
        "val_loss": num(p.val_loss) if field("val_loss") else None,
        "elapsed_s": p.elapsed_s if field("elapsed_s") else 0.0,
    }


def _path(path):
    try:
        p = os.fsencode(path)
    except TypeError:
        raise _invalid("path: expected a str or path-like, got %s" % type(path).__name__) from None
    if not p or b"\0" in p:
        raise _invalid("path: must be non-empty and contain no NUL characters")
    return p


def from_bytes(buf):
    """A model restored from :meth:`Model.to_bytes` output (bytes-like)."""
    if isinstance(buf, str) or buf is None:
        raise _invalid("buf: expected bytes, got %s" % type(buf).__name__)
    try:
        mv = memoryview(buf)
    except TypeError:
        raise _invalid("buf: expected bytes, got %s" % type(buf).__name__) from None
    raw = mv.tobytes() if not isinstance(buf, bytes) else buf
    handle = ctypes.c_void_p()
    _lib.check(C.tsa_model_load(ctypes.c_char_p(raw), len(raw), ctypes.byref(handle)))
    return Model._from_handle(handle.value)


def load(path):
    """A model read from a file written by :meth:`Model.save`."""
    handle = ctypes.c_void_p()
    _lib.check(C.tsa_model_load_file(_path(path), ctypes.byref(handle)))
    return Model._from_handle(handle.value)
