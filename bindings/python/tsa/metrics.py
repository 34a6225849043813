"""Forecast accuracy and detection metrics (include/tsa/metrics.h).

Inputs are array-likes of equal shape (several features are compared value
by value); every value must be finite.
"""

import ctypes
from collections import namedtuple

from . import _lib, errors
from . import data as _data

__all__ = ["mae", "rmse", "mape", "smape", "mase", "classification", "Classification"]

C = _lib.C


def _pair(y, yhat):
    ya, n, yshape, ykeep = _data.doubles(y, "y")
    pa, m, pshape, pkeep = _data.doubles(yhat, "yhat")
    if n != m:
        raise errors.make_error(errors.ESHAPE, "y and yhat: have %d and %d values" % (n, m))
    return ya, pa, n, (ykeep, pkeep)


def _metric(fn, y, yhat):
    ya, pa, n, keep = _pair(y, yhat)
    out = ctypes.c_double()
    _lib.check(fn(ya, pa, n, ctypes.byref(out)))
    del keep
    return out.value


def mae(y, yhat):
    """Mean absolute error."""
    return _metric(C.tsa_metric_mae, y, yhat)


def rmse(y, yhat):
    """Root mean squared error."""
    return _metric(C.tsa_metric_rmse, y, yhat)


def mape(y, yhat):
    """Mean absolute percentage error, in percent (NumericError when some y is 0)."""
    return _metric(C.tsa_metric_mape, y, yhat)


def smape(y, yhat):
    """Symmetric MAPE, in percent, in [0, 200]."""
    return _metric(C.tsa_metric_smape, y, yhat)


def mase(y, yhat, train, m=1):
    """Mean absolute scaled error (Hyndman & Koehler 2006): MAE over the
    in-sample MAE of the seasonal-naive forecast of period @m on @train."""
    ya, pa, n, keep = _pair(y, yhat)
    ta, n_train, _, tkeep = _data.doubles(train, "train")
    m = _data.int_arg(m, "m", 0, _data.SIZE_MAX)
    out = ctypes.c_double()
    _lib.check(C.tsa_metric_mase(ya, pa, n, ta, n_train, m, ctypes.byref(out)))
    del keep, tkeep
    return out.value


Classification = namedtuple("Classification",
                            "true_positives false_positives false_negatives true_negatives "
                            "precision recall f1")


def classification(labels, flags):
    """Compares @flags with @labels point by point (true = anomaly):
    counts, precision, recall and F1 as a :class:`Classification`."""
    la, n, lkeep = _data.bytes_flags(labels, "labels")
    fa, m, fkeep = _data.bytes_flags(flags, "flags")
    if n != m:
        raise errors.make_error(errors.ESHAPE, "labels and flags: have %d and %d values" % (n, m))
    out = _lib.Classification()
    _lib.check(C.tsa_metric_classification(la, fa, n, ctypes.byref(out)))
    del lkeep, fkeep
    return Classification(out.true_positives, out.false_positives, out.false_negatives,
                          out.true_negatives, out.precision, out.recall, out.f1)
