"""Exceptions raised by the bindings, one class per libtsa status code.

Every failure is a :class:`TsaError` carrying the numeric ``code``, the
symbolic ``name`` (``"TSA_EPARAM"``) and the ``message`` libtsa gave for it
(``"max_lags: must be in [1, 100], got 0"``).  The subclasses also derive
from the matching built-in exception where one fits, so ``except ValueError``
catches bad input as well.
"""

__all__ = [
    "TsaError",
    "InvalidArgument",
    "OutOfMemory",
    "Unsupported",
    "NotFitted",
    "ShapeError",
    "TooShort",
    "NonFinite",
    "FormatError",
    "InputOutputError",
    "Canceled",
    "NumericError",
    "UnknownKind",
    "ParamError",
    "RangeError",
    "VersionError",
    "error_class",
]

# Status codes, as in include/tsa/common.h (TSA_STATUS_MAP).  They are never
# renumbered, so fixing them here is safe; the names are checked against the
# library when it is loaded.
OK = 0
EINVAL = 1
ENOMEM = 2
EUNSUPPORTED = 3
ENOTFITTED = 4
ESHAPE = 5
ETOOSHORT = 6
ENONFINITE = 7
EFORMAT = 8
EIO = 9
ECANCELED = 10
ENUMERIC = 11
EUNKNOWN_KIND = 12
EPARAM = 13
ERANGE = 14
EVERSION = 15

STATUS_NAMES = {
    OK: "TSA_OK",
    EINVAL: "TSA_EINVAL",
    ENOMEM: "TSA_ENOMEM",
    EUNSUPPORTED: "TSA_EUNSUPPORTED",
    ENOTFITTED: "TSA_ENOTFITTED",
    ESHAPE: "TSA_ESHAPE",
    ETOOSHORT: "TSA_ETOOSHORT",
    ENONFINITE: "TSA_ENONFINITE",
    EFORMAT: "TSA_EFORMAT",
    EIO: "TSA_EIO",
    ECANCELED: "TSA_ECANCELED",
    ENUMERIC: "TSA_ENUMERIC",
    EUNKNOWN_KIND: "TSA_EUNKNOWN_KIND",
    EPARAM: "TSA_EPARAM",
    ERANGE: "TSA_ERANGE",
    EVERSION: "TSA_EVERSION",
}


class TsaError(Exception):
    """A libtsa failure: ``code`` (int), ``name`` ("TSA_E...") and ``message``."""

    code = None

    def __init__(self, code, name, message):
        super().__init__(code, name, message)
        self.code = code
        self.name = name
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.name, self.message) if self.message else str(self.name)

    def __repr__(self):
        return "%s(%r, %r, %r)" % (type(self).__name__, self.code, self.name, self.message)


class InvalidArgument(TsaError, ValueError):
    """TSA_EINVAL: a missing, empty or malformed argument."""
    code = EINVAL


class OutOfMemory(TsaError, MemoryError):
    """TSA_ENOMEM."""
    code = ENOMEM


class Unsupported(TsaError):
    """TSA_EUNSUPPORTED: the kind lacks the capability (e.g. scoring)."""
    code = EUNSUPPORTED


class NotFitted(TsaError):
    """TSA_ENOTFITTED: forecast, score or detect before fit."""
    code = ENOTFITTED


class ShapeError(TsaError, ValueError):
    """TSA_ESHAPE: the number of features does not match the model."""
    code = ESHAPE


class TooShort(TsaError, ValueError):
    """TSA_ETOOSHORT: the series is shorter than the model needs."""
    code = ETOOSHORT


class NonFinite(TsaError, ValueError):
    """TSA_ENONFINITE: NaN or Inf that no mask marks missing."""
    code = ENONFINITE


class FormatError(TsaError, ValueError):
    """TSA_EFORMAT: malformed, truncated or foreign model data."""
    code = EFORMAT


class InputOutputError(TsaError):
    """TSA_EIO: a model file could not be read or written."""
    code = EIO


class Canceled(TsaError):
    """TSA_ECANCELED: the progress callback stopped the fit."""
    code = ECANCELED


class NumericError(TsaError, ArithmeticError):
    """TSA_ENUMERIC: a numerical failure (singular matrix, ...)."""
    code = ENUMERIC


class UnknownKind(TsaError, ValueError):
    """TSA_EUNKNOWN_KIND: no model kind of that name."""
    code = EUNKNOWN_KIND


class ParamError(TsaError, ValueError):
    """TSA_EPARAM: an unknown parameter, a wrong type or a value out of range."""
    code = EPARAM


class RangeError(TsaError, ValueError):
    """TSA_ERANGE: an argument (horizon, interval, threshold...) out of range."""
    code = ERANGE


class VersionError(TsaError):
    """TSA_EVERSION: model data written by an incompatible version."""
    code = EVERSION


_BY_CODE = {
    cls.code: cls
    for cls in (InvalidArgument, OutOfMemory, Unsupported, NotFitted, ShapeError,
                TooShort, NonFinite, FormatError, InputOutputError, Canceled,
                NumericError, UnknownKind, ParamError, RangeError, VersionError)
}


def error_class(code):
    """The exception class for status @code (TsaError for unknown codes)."""
    return _BY_CODE.get(code, TsaError)


def make_error(code, message, name=None):
    """An exception instance for @code with @message."""
    if name is None:
        name = STATUS_NAMES.get(code, "TSA_E?")
    return error_class(code)(code, name, message)
