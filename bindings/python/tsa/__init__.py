"""Python bindings for libtsa: time-series forecasting and anomaly detection.

    import tsa
    values, timestamps, labels = tsa.generate(n_samples=500, n_features=2, n_anomalies=5)
    with tsa.Model("multivariate", ic="bic") as m:
        m.fit(values, timestamps=timestamps)
        fc = m.forecast(24)                  # fc.mean, fc.lower, fc.upper, fc.timestamps
        det = m.detect(values, threshold=0.99)

The bindings load the shared library libtsa.so.0 with ctypes (set
``TSA_LIBRARY`` to its path to choose one); numpy and pandas are used when
present but not needed.  ``tsa.__version__`` is the loaded library's version.
"""

from . import _lib
from .errors import (Canceled, FormatError, InputOutputError, InvalidArgument, NonFinite,
                     NotFitted, NumericError, OutOfMemory, ParamError, RangeError, ShapeError,
                     TooShort, TsaError, UnknownKind, Unsupported, VersionError)
from .data import Generated, generate
from .metrics import Classification, classification, mae, mape, mase, rmse, smape
from .model import (Combination, Components, Detection, Forecast, Model, Scores, combine, from_bytes,
                    kind_info, kinds, load)

__version__ = _lib.VERSION
version_info = tuple(int(p) for p in __version__.split("."))
library_path = _lib.LIBRARY_PATH

__all__ = [
    "Model", "Forecast", "Scores", "Detection", "load", "from_bytes", "kinds", "kind_info",
    "combine", "Combination", "Components",
    "generate", "Generated",
    "mae", "rmse", "mape", "smape", "mase", "classification", "Classification",
    "TsaError", "InvalidArgument", "OutOfMemory", "Unsupported", "NotFitted", "ShapeError",
    "TooShort", "NonFinite", "FormatError", "InputOutputError", "Canceled", "NumericError",
    "UnknownKind", "ParamError", "RangeError", "VersionError",
    "__version__", "version_info", "library_path",
]
