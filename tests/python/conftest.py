"""pytest setup for the Python bindings.

The library comes from TSA_LIBRARY when set, else from build-test/ or build/
of this repository; the package from bindings/python.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.path.join(ROOT, "bindings", "python")

if not os.environ.get("TSA_LIBRARY"):
    for build in ("build-test", "build"):
        candidate = os.path.join(ROOT, build, "libtsa", "libtsa.so.0")
        if os.path.exists(candidate):
            os.environ["TSA_LIBRARY"] = candidate
            break

if PACKAGE_DIR not in sys.path:
    sys.path.insert(0, PACKAGE_DIR)

import tsa  # noqa: E402  (after the path and the library are set)


def subprocess_env(**extra):
    """The environment for a child python that imports the same tsa."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_DIR + (os.pathsep + env["PYTHONPATH"]
                                       if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def kind_names():
    return [k["name"] for k in tsa.kinds()]


def series_for(kind_or_info, n_samples=400, n_anomalies=0, seed=7):
    """Generated data of a shape the kind accepts: 3 features when it is
    multivariate, else 1."""
    info = kind_or_info if isinstance(kind_or_info, dict) else tsa.kind_info(kind_or_info)
    n_features = 3 if "multivariate" in info["capabilities"] else 1
    return tsa.generate(n_samples=n_samples, n_features=n_features, n_anomalies=n_anomalies,
                        noise_level=0.1, seed=seed)


@pytest.fixture(scope="session")
def uni():
    """A univariate hourly series with 6 labelled anomalies."""
    return tsa.generate(n_samples=600, n_features=1, n_anomalies=6, seed=3)


@pytest.fixture(scope="session")
def multi():
    """A 2-feature hourly series with 8 labelled anomalies."""
    return tsa.generate(n_samples=600, n_features=2, n_anomalies=8, seed=5)


@pytest.fixture(scope="session")
def var_model(multi):
    """A VAR fitted on `multi` (shared; tests must not refit or close it)."""
    model = tsa.Model("multivariate", max_lags=6)
    model.fit(multi.values, timestamps=multi.timestamps)
    return model
