"""Finds and loads libtsa, declares the C structures and every prototype.

Lookup order:

1. ``TSA_LIBRARY``: the path of the shared library.  When it is set, nothing
   else is tried, so a wrong path is reported rather than silently replaced.
2. ``libtsa.so.0`` through the dynamic loader (``LD_LIBRARY_PATH``, the
   ``ldconfig`` cache, the default directories).
3. ``ctypes.util.find_library("tsa")``.
4. The library directory recorded when the package was installed by meson
   (``_build_config.LIBDIR``), if any.

All calls go through :data:`C`, whose attributes are the ctypes functions
with ``argtypes`` and ``restype`` declared.  ctypes releases the GIL during
every call, so model calls from several Python threads run in parallel.
"""

import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int,
                    c_int64, c_size_t, c_uint, c_uint8, c_uint64, c_void_p)

from . import errors

__all__ = ["C", "LIBRARY_PATH", "VERSION", "VERSION_NUMBER", "check", "take_string"]

# The ABI these bindings are written against: soname libtsa.so.0, at least
# version 0.1.0 (every symbol declared below exists since 0.1).
EXPECTED_MAJOR = 0
MINIMUM_VERSION = (0, 1, 0)


class LibraryNotFound(ImportError):
    """libtsa could not be loaded (an ImportError, raised by ``import tsa``)."""


# ---- structures (include/tsa/*.h) ------------------------------------------
# Pointer members the bindings fill themselves are c_void_p, so a numpy
# buffer's address is stored as is; the layout is the same as the C one.

class Series(Structure):
    _fields_ = [
        ("values", c_void_p),       # const double *, (length, n_features)
        ("length", c_size_t),
        ("n_features", c_size_t),
        ("timestamps", c_void_p),   # const int64_t *, (length) or NULL
        ("mask", c_void_p),         # const uint8_t *, (length, n_features) or NULL
    ]


class Progress(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("stage", c_char_p),
        ("step", c_int64),
        ("total", c_int64),
        ("train_loss", c_double),
        ("val_loss", c_double),
        ("elapsed_s", c_double),
    ]


PROGRESS_FN = CFUNCTYPE(c_int, POINTER(Progress), c_void_p)


class FitOptions(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("seed", c_uint64),
        ("epochs", c_int64),
        ("n_threads", c_int),
        ("progress", PROGRESS_FN),
        ("user", c_void_p),
    ]


class Forecast(Structure):
    _fields_ = [
        ("horizon", c_size_t),
        ("n_features", c_size_t),
        ("interval", c_double),
        ("mean", POINTER(c_double)),
        ("lower", POINTER(c_double)),
        ("upper", POINTER(c_double)),
        ("timestamps", POINTER(c_int64)),
    ]


class Components(Structure):
    _fields_ = [
        ("length", c_size_t),
        ("n_features", c_size_t),
        ("n_components", c_size_t),
        ("names", POINTER(c_char_p)),
        ("multiplicative", POINTER(c_uint8)),
        ("values", POINTER(c_double)),
        ("mean", POINTER(c_double)),
        ("timestamps", POINTER(c_int64)),
        ("in_sample", c_int),
    ]


class Detection(Structure):
    _fields_ = [
        ("length", c_size_t),
        ("threshold", c_double),
        ("raw", POINTER(c_double)),
        ("calibrated", POINTER(c_double)),
        ("flags", POINTER(c_uint8)),
        ("indices", POINTER(c_size_t)),
        ("n_anomalies", c_size_t),
    ]


GENERATE_MAX_PERIODS = 4


class GenerateOptions(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("n_samples", c_size_t),
        ("n_features", c_size_t),
        ("trend", c_int),
        ("trend_slope", c_double),
        ("seasonality", c_int),
        ("n_periods", c_size_t),
        ("periods", c_double * GENERATE_MAX_PERIODS),
        ("amplitude", c_double),
        ("noise_level", c_double),
        ("n_anomalies", c_size_t),
        ("anomaly_magnitude", c_double),
        ("seed", c_uint64),
        ("start", c_int64),
        ("step", c_int64),
    ]


class Generated(Structure):
    _fields_ = [
        ("length", c_size_t),
        ("n_features", c_size_t),
        ("values", POINTER(c_double)),
        ("timestamps", POINTER(c_int64)),
        ("labels", POINTER(c_uint8)),
    ]


class Classification(Structure):
    _fields_ = [
        ("true_positives", c_size_t),
        ("false_positives", c_size_t),
        ("false_negatives", c_size_t),
        ("true_negatives", c_size_t),
        ("precision", c_double),
        ("recall", c_double),
        ("f1", c_double),
    ]


def init_options(struct_type, init_fn):
    """An options struct set to libtsa's defaults.

    The *_init functions write sizeof(their struct), which grows in newer
    libraries; they get a generously padded buffer, and ``size`` is then set
    to what these bindings know, which is all libtsa will read.
    """
    padded = (ctypes.c_char * (ctypes.sizeof(struct_type) + 1024))()
    init_fn(padded)
    opts = struct_type.from_buffer_copy(padded, 0)
    opts.size = ctypes.sizeof(struct_type)
    return opts


# ---- prototypes --------------------------------------------------------------

_vp = c_void_p
_pvp = POINTER(c_void_p)
_pd = POINTER(c_double)
_pu8 = POINTER(c_uint8)
_status = c_int

PROTOTYPES = {
    # common.h
    "tsa_strerror": (c_char_p, [c_int]),
    "tsa_status_name": (c_char_p, [c_int]),
    "tsa_last_error": (c_char_p, []),
    "tsa_last_status": (c_int, []),
    "tsa_version": (c_char_p, []),
    "tsa_version_number": (c_int, []),
    "tsa_free": (None, [_vp]),
    # series.h
    "tsa_series_validate": (_status, [POINTER(Series)]),
    # params.h
    "tsa_params_create": (_status, [_pvp]),
    "tsa_params_free": (None, [_vp]),
    "tsa_params_from_json": (_status, [c_char_p, _pvp]),
    "tsa_params_to_json": (_status, [_vp, _pvp]),
    "tsa_params_set_int": (_status, [_vp, c_char_p, c_int64]),
    "tsa_params_set_double": (_status, [_vp, c_char_p, c_double]),
    "tsa_params_set_str": (_status, [_vp, c_char_p, c_char_p]),
    "tsa_params_set_bool": (_status, [_vp, c_char_p, c_int]),
    "tsa_params_get_int": (_status, [_vp, c_char_p, POINTER(c_int64)]),
    "tsa_params_get_double": (_status, [_vp, c_char_p, POINTER(c_double)]),
    "tsa_params_get_str": (_status, [_vp, c_char_p, POINTER(c_char_p)]),
    "tsa_params_get_bool": (_status, [_vp, c_char_p, POINTER(c_int)]),
    "tsa_params_has": (c_int, [_vp, c_char_p]),
    "tsa_params_count": (c_size_t, [_vp]),
    "tsa_params_key": (c_char_p, [_vp, c_size_t]),
    "tsa_params_type": (c_int, [_vp, c_char_p]),
    "tsa_params_unset": (_status, [_vp, c_char_p]),
    # model.h
    "tsa_kind_count": (c_size_t, []),
    "tsa_kind_name": (c_char_p, [c_size_t]),
    "tsa_kind_capabilities": (c_uint, [c_char_p]),
    "tsa_kind_info_json": (_status, [c_char_p, _pvp]),
    "tsa_model_create": (_status, [c_char_p, _vp, _pvp]),
    "tsa_model_free": (None, [_vp]),
    "tsa_fit_options_init": (None, [_vp]),
    "tsa_model_fit": (_status, [_vp, POINTER(Series), POINTER(FitOptions)]),
    "tsa_model_forecast": (_status, [_vp, POINTER(Series), c_size_t, c_double,
                                     POINTER(POINTER(Forecast))]),
    "tsa_forecast_free": (None, [POINTER(Forecast)]),
    "tsa_model_score": (_status, [_vp, POINTER(Series), _vp, _vp]),
    "tsa_model_detect": (_status, [_vp, POINTER(Series), c_double,
                                   POINTER(POINTER(Detection))]),
    "tsa_detection_free": (None, [POINTER(Detection)]),
    "tsa_model_save": (_status, [_vp, _pvp, POINTER(c_size_t)]),
    "tsa_model_load": (_status, [_vp, c_size_t, _pvp]),
    "tsa_model_save_file": (_status, [_vp, c_char_p]),
    "tsa_model_load_file": (_status, [c_char_p, _pvp]),
    "tsa_model_info_json": (_status, [_vp, _pvp]),
    "tsa_model_kind": (c_char_p, [_vp]),
    "tsa_model_is_fitted": (c_int, [_vp]),
    "tsa_model_n_features": (c_size_t, [_vp]),
    "tsa_model_context_length": (c_size_t, [_vp]),
    "tsa_model_params": (_status, [_vp, _pvp]),
    # generate.h
    "tsa_generate_options_init": (None, [_vp]),
    "tsa_generate": (_status, [POINTER(GenerateOptions), POINTER(POINTER(Generated))]),
    "tsa_generated_free": (None, [POINTER(Generated)]),
    # metrics.h
    "tsa_metric_mae": (_status, [_vp, _vp, c_size_t, _pd]),
    "tsa_metric_rmse": (_status, [_vp, _vp, c_size_t, _pd]),
    "tsa_metric_mape": (_status, [_vp, _vp, c_size_t, _pd]),
    "tsa_metric_smape": (_status, [_vp, _vp, c_size_t, _pd]),
    "tsa_metric_mase": (_status, [_vp, _vp, c_size_t, _vp, c_size_t, c_size_t, _pd]),
    "tsa_metric_classification": (_status, [_vp, _vp, c_size_t, POINTER(Classification)]),
}


# Symbols added after 0.1, by the version that added them: bound when the
# loaded library has them; the calls that need them raise Unsupported
# otherwise.
LATER_PROTOTYPES = {
    # model.h, 0.2
    "tsa_combine_method_from_name": (_status, [c_char_p, POINTER(c_int)]),
    "tsa_combine_method_name": (c_char_p, [c_int]),
    "tsa_forecast_combine": (_status, [POINTER(POINTER(Forecast)), c_size_t, c_int, _vp, _vp,
                                       POINTER(POINTER(Forecast))]),
    "tsa_model_components": (_status, [_vp, POINTER(Series), c_size_t,
                                       POINTER(POINTER(Components))]),
    "tsa_components_free": (None, [POINTER(Components)]),
}


class _Functions:
    """The declared libtsa functions, as attributes (tests may replace one)."""

    def __init__(self, dll):
        self._dll = dll
        for name, (restype, argtypes) in LATER_PROTOTYPES.items():
            fn = getattr(dll, name, None)
            if fn is not None:
                fn.restype = restype
                fn.argtypes = argtypes
                setattr(self, name, fn)
        missing = []
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(dll, name)
            except AttributeError:
                missing.append(name)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        if missing:
            raise LibraryNotFound("libtsa at %s lacks %s; it is older than these bindings "
                                  "(need %d.%d.%d or newer)"
                                  % (getattr(dll, "_name", "?"), ", ".join(missing),
                                     *MINIMUM_VERSION))


def _library_names():
    if sys.platform == "darwin":
        return ["libtsa.0.dylib"]
    if sys.platform.startswith("win"):
        return ["tsa.dll", "libtsa.dll", "libtsa-0.dll"]
    return ["libtsa.so.0"]


def _load():
    env = os.environ.get("TSA_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise LibraryNotFound("cannot load libtsa from TSA_LIBRARY=%s: %s" % (env, e)) from None

    tried = []
    candidates = list(_library_names())
    found = ctypes.util.find_library("tsa")
    if found and found not in candidates:
        candidates.append(found)
    try:
        from . import _build_config  # written by meson when it installs the package
        libdir = getattr(_build_config, "LIBDIR", "")
        if libdir:
            candidates.extend(os.path.join(libdir, n) for n in _library_names())
    except ImportError:
        pass
    for name in candidates:
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
    raise LibraryNotFound(
        "libtsa shared library not found; tried: %s. Install libtsa (meson install), "
        "add its directory to LD_LIBRARY_PATH, or set TSA_LIBRARY to the path of "
        "libtsa.so.0" % "; ".join(tried or ["nothing"]))


def _parse_version(text):
    try:
        parts = tuple(int(p) for p in text.split("."))
    except ValueError:
        return None
    return parts if len(parts) == 3 else None


_dll, LIBRARY_PATH = _load()
C = _Functions(_dll)

VERSION = (C.tsa_version() or b"").decode("ascii", "replace")
VERSION_NUMBER = C.tsa_version_number()
_parsed = _parse_version(VERSION)
if (_parsed is None or _parsed[0] != EXPECTED_MAJOR or _parsed < MINIMUM_VERSION
        or VERSION_NUMBER != _parsed[0] * 10000 + _parsed[1] * 100 + _parsed[2]):
    raise LibraryNotFound(
        "libtsa at %s is version %r (%d); these bindings need %d.x, at least %d.%d.%d"
        % (LIBRARY_PATH, VERSION, VERSION_NUMBER, EXPECTED_MAJOR, *MINIMUM_VERSION))

# The numbering is fixed by the ABI; a library that disagrees is not ours.
for _code, _name in errors.STATUS_NAMES.items():
    _got = (C.tsa_status_name(_code) or b"").decode("ascii", "replace")
    if _got != _name:
        raise LibraryNotFound("libtsa at %s names status %d %r, expected %r"
                              % (LIBRARY_PATH, _code, _got, _name))


# ---- error handling ------------------------------------------------------------

def last_error(code):
    """The exception for a failed call returning @code.

    Must be called on the failing thread before any other libtsa call: the
    message is thread-local and replaced by the next failure.
    """
    msg = C.tsa_last_error()
    msg = msg.decode("utf-8", "replace") if msg else ""
    name = C.tsa_status_name(code)
    name = name.decode("ascii", "replace") if name else "TSA_E?"
    if not msg:
        text = C.tsa_strerror(code)
        msg = text.decode("utf-8", "replace") if text else ""
    return errors.make_error(code, msg, name)


def check(code):
    """Raises the TsaError for a non-zero status, with libtsa's message."""
    if code != 0:
        raise last_error(code)


def take_string(ptr):
    """Copies a NUL-terminated string libtsa allocated, then frees it."""
    if not ptr:
        return ""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        C.tsa_free(ptr)
