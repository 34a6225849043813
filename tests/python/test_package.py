"""Loading the library, versions, and installing the package with pip."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import tsa
from tsa import _lib
from conftest import PACKAGE_DIR, ROOT, subprocess_env


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=subprocess_env(**env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)


def test_version_is_the_library_version():
    text = _lib.C.tsa_version().decode()
    assert tsa.__version__ == text
    major, minor, patch = tsa.version_info
    assert _lib.C.tsa_version_number() == major * 10000 + minor * 100 + patch
    assert major == _lib.EXPECTED_MAJOR and tsa.version_info >= _lib.MINIMUM_VERSION
    assert os.path.samefile(tsa.library_path, os.environ["TSA_LIBRARY"])
    # The project version in meson.build is the one the library reports.
    with open(os.path.join(ROOT, "meson.build")) as f:
        assert "version : '%s'" % tsa.__version__ in f.read()


def test_every_prototype_is_declared():
    for name in _lib.PROTOTYPES:
        fn = getattr(_lib.C, name)
        assert fn.argtypes is not None, name
    # Every exported function of the ABI map is declared.
    with open(os.path.join(ROOT, "libtsa", "libtsa.map")) as f:
        exported = {line.strip().rstrip(";") for line in f
                    if line.strip().startswith("tsa_") and line.strip().endswith(";")}
    declared = set(_lib.PROTOTYPES) | set(_lib.LATER_PROTOTYPES)
    assert exported <= declared, exported - declared
    # The loaded library is the one built here: the later symbols are bound.
    for name in _lib.LATER_PROTOTYPES:
        assert getattr(_lib.C, name).argtypes is not None, name


def test_bad_tsa_library_is_a_clear_import_error():
    out = run_python("import tsa", TSA_LIBRARY="/nonexistent/libtsa.so.0")
    assert out.returncode != 0
    assert "LibraryNotFound" in out.stdout
    assert "cannot load libtsa from TSA_LIBRARY=/nonexistent/libtsa.so.0" in out.stdout
    # A shared library that is not libtsa.
    libm = None
    for cand in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                 "/lib64/libm.so.6", "/usr/lib/libm.so.6"):
        if os.path.exists(cand):
            libm = cand
            break
    if libm:
        out = run_python("import tsa", TSA_LIBRARY=libm)
        assert out.returncode != 0 and "lacks tsa_" in out.stdout, out.stdout
    out = run_python("""
try:
    import tsa
except ImportError as e:
    print(type(e).__name__, isinstance(e, ImportError))
""", TSA_LIBRARY="/nonexistent")
    assert "LibraryNotFound True" in out.stdout


def test_found_through_the_loader_without_tsa_library():
    libdir = os.path.dirname(os.path.realpath(os.environ["TSA_LIBRARY"]))
    env = subprocess_env(LD_LIBRARY_PATH=libdir)
    env.pop("TSA_LIBRARY", None)
    out = subprocess.run([sys.executable, "-c", "import tsa; print(tsa.library_path, "
                          "tsa.__version__)"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert out.returncode == 0, out.stdout
    assert out.stdout.split()[1] == tsa.__version__


def test_build_backend_makes_a_complete_wheel_and_sdist(tmp_path):
    sys.path.insert(0, PACKAGE_DIR)
    try:
        import _tsa_backend as backend
    finally:
        sys.path.remove(PACKAGE_DIR)
    assert backend.get_requires_for_build_wheel() == []
    name = backend.build_wheel(str(tmp_path))
    assert name == "libtsa-%s-py3-none-any.whl" % backend._project()["version"]
    with zipfile.ZipFile(str(tmp_path / name)) as zf:
        names = set(zf.namelist())
        modules = {"tsa/" + f for f in os.listdir(os.path.join(PACKAGE_DIR, "tsa"))
                   if f.endswith(".py") and f != "_build_config.py"}
        assert modules <= names and "tsa/__init__.py" in names
        info = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert info and "Name: libtsa" in zf.read(info[0]).decode()
        record = zf.read(info[0].replace("METADATA", "RECORD")).decode()
        assert all(n in record for n in names)
    # The meson install list names every module too.
    with open(os.path.join(PACKAGE_DIR, "meson.build")) as f:
        meson = f.read()
    assert all("'%s'" % m in meson for m in modules)
    sdist = backend.build_sdist(str(tmp_path))
    import tarfile
    with tarfile.open(str(tmp_path / sdist)) as tf:
        members = tf.getnames()
    assert any(m.endswith("/pyproject.toml") for m in members)
    assert any(m.endswith("/tsa/model.py") for m in members)
    assert any(m.endswith("/PKG-INFO") for m in members)


def test_pip_install_offline(tmp_path):
    if run_python("import pip").returncode != 0:
        pytest.skip("pip is not available")
    # Build from a copy so the source tree stays clean.
    src = tmp_path / "src"
    shutil.copytree(PACKAGE_DIR, str(src),
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                          "--disable-pip-version-check", "--no-cache-dir",
                          "--target", str(target), str(src)],
                         env=dict(os.environ, PIP_NO_INPUT="1"), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert out.returncode == 0, out.stdout
    env = dict(os.environ, PYTHONPATH=str(target), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", "import tsa; print(tsa.__file__); "
                          "print(tsa.Model('var').fit(tsa.generate(n_samples=100).values)"
                          ".forecast(2).mean.shape)"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=60, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[0].startswith(str(target))
    assert "(2,)" in out.stdout
