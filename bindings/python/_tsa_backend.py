"""PEP 517 build backend for the pure-Python `tsa` package, standard library only.

The package is a handful of .py files, so building it needs no setuptools or
wheel: `pip install ./bindings/python` then works offline, with or without
build isolation, because there are no build requirements to fetch.  The
metadata comes from the [project] table of pyproject.toml.

Hooks: build_wheel, build_sdist, build_editable (PEP 660, a .pth file) and
the optional get_requires_* / prepare_metadata_* ones.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "tsa"
TAG = "py3-none-any"


# ---- pyproject.toml ------------------------------------------------------------

def _parse_toml_subset(text):
    """Tables, and keys whose values are strings, lists of strings or inline
    tables of strings: all pyproject.toml here uses (for Python < 3.11)."""
    data, table = {}, None
    pending = None
    for raw in text.splitlines():
        line = raw.strip()
        if pending is not None:
            pending[1].append(line)
            if line.endswith("]"):
                key, parts = pending
                table[key] = re.findall(r'"((?:[^"\\]|\\.)*)"', " ".join(parts))
                pending = None
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[([A-Za-z0-9_.-]+)\]$", line)
        if m:
            table = data
            for part in m.group(1).split("."):
                table = table.setdefault(part, {})
            continue
        m = re.match(r'^([A-Za-z0-9_-]+)\s*=\s*(.*)$', line)
        if not m or table is None:
            continue
        key, value = m.group(1), m.group(2).strip()
        if value.startswith('"'):
            table[key] = re.match(r'"((?:[^"\\]|\\.)*)"', value).group(1)
        elif value.startswith("{"):
            table[key] = dict(re.findall(r'([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"', value))
        elif value.startswith("["):
            if value.endswith("]"):
                table[key] = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
            else:
                pending = (key, [value])
    return data


def _project():
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib
        data = tomllib.loads(raw.decode("utf-8"))
    except ImportError:
        data = _parse_toml_subset(raw.decode("utf-8"))
    return data["project"]


def _dist_name(project):
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % project["name"],
        "Version: %s" % project["version"],
    ]
    if project.get("description"):
        lines.append("Summary: %s" % project["description"])
    lic = project.get("license")
    if isinstance(lic, dict) and lic.get("text"):
        lines.append("License: %s" % lic["text"])
    if project.get("requires-python"):
        lines.append("Requires-Python: %s" % project["requires-python"])
    for c in project.get("classifiers", []):
        lines.append("Classifier: %s" % c)
    for dep in project.get("dependencies", []):
        lines.append("Requires-Dist: %s" % dep)
    for extra, deps in sorted(project.get("optional-dependencies", {}).items()):
        lines.append("Provides-Extra: %s" % extra)
        for dep in deps:
            lines.append('Requires-Dist: %s; extra == "%s"' % (dep, extra))
    body = ""
    readme = project.get("readme")
    if isinstance(readme, str) and os.path.exists(os.path.join(HERE, readme)):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(HERE, readme), encoding="utf-8") as f:
            body = f.read()
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def _dist_info_files(project):
    wheel = ("Wheel-Version: 1.0\nGenerator: _tsa_backend\nRoot-Is-Purelib: true\n"
             "Tag: %s\n" % TAG).encode("ascii")
    return {
        "METADATA": _metadata(project),
        "WHEEL": wheel,
        "top_level.txt": (PACKAGE + "\n").encode("ascii"),
    }


def _package_files():
    """(archive name, path) of every module of the package, sorted."""
    pkg = os.path.join(HERE, PACKAGE)
    out = []
    for name in sorted(os.listdir(pkg)):
        # _build_config.py is written by meson for its own installs only.
        if name.endswith(".py") and name != "_build_config.py":
            out.append(("%s/%s" % (PACKAGE, name), os.path.join(pkg, name)))
    return out


# ---- archives -------------------------------------------------------------------

def _date_time():
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01
    return time.gmtime(max(epoch, 315532800))[:6]


def _record_line(name, payload):
    digest = base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (name, digest.decode("ascii"), len(payload))


def _write_wheel(wheel_directory, entries):
    project = _project()
    dist = "%s-%s" % (_dist_name(project), project["version"])
    info = "%s.dist-info" % dist
    files = list(entries)
    files += [("%s/%s" % (info, n), data) for n, data in _dist_info_files(project).items()]
    record = [_record_line(n, data) for n, data in files] + ["%s/RECORD,," % info]
    files.append(("%s/RECORD" % info, ("\n".join(record) + "\n").encode("utf-8")))

    filename = "%s-%s.whl" % (dist, TAG)
    stamp = _date_time()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zi = zipfile.ZipInfo(name, stamp)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return filename


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- PEP 517 / 660 hooks ---------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    info = "%s-%s.dist-info" % (_dist_name(project), project["version"])
    path = os.path.join(metadata_directory, info)
    os.makedirs(path, exist_ok=True)
    for name, data in _dist_info_files(project).items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory,
                        [(name, _read(path)) for name, path in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth line puts this directory on sys.path, so edits take effect at once.
    project = _project()
    pth = "%s.pth" % _dist_name(project)
    return _write_wheel(wheel_directory, [(pth, (HERE + "\n").encode("utf-8"))])


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    base = "%s-%s" % (_dist_name(project), project["version"])
    members = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")),
               ("_tsa_backend.py", os.path.join(HERE, "_tsa_backend.py"))]
    if os.path.exists(os.path.join(HERE, "README.md")):
        members.append(("README.md", os.path.join(HERE, "README.md")))
    members += _package_files()
    filename = base + ".tar.gz"
    mtime = time.mktime(_date_time() + (0, 0, -1))
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz",
                      format=tarfile.PAX_FORMAT) as tf:
        def add(name, data):
            ti = tarfile.TarInfo("%s/%s" % (base, name))
            ti.size = len(data)
            ti.mtime = mtime
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
        for name, path in members:
            add(name, _read(path))
        add("PKG-INFO", _metadata(project))
    return filename
