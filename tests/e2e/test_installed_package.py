"""The `tiltpy` the end-to-end tests drive is a real install: every module of
the package imports there with only the declared dependencies (CI points
TILTPY_BIN at the wheel installed into a fresh virtualenv)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from tests.e2e.harness import REPO, TILTPY

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys, tiltpy
names = sorted(m.name for m in pkgutil.walk_packages(tiltpy.__path__, "tiltpy.")
               if not m.name.endswith(".__main__"))  # __main__ runs the CLI
for name in names:
    importlib.import_module(name)
print(tiltpy.__file__)
print(tiltpy.__version__)
print(len(names))
"""


def _interpreter() -> str:
    """The Python that runs TILTPY: the console script's shebang, else ours."""
    if TILTPY[0] == sys.executable:
        return sys.executable
    with open(shutil.which(TILTPY[0]) or TILTPY[0], encoding="utf-8") as f:
        first = f.readline()
    assert first.startswith("#!"), f"{TILTPY[0]} is not a console script"
    return first[2:].strip().split()[0]


def test_every_module_imports_in_the_installed_package() -> None:
    # -I: isolated, so neither this checkout nor PYTHONPATH is on sys.path.
    with tempfile.TemporaryDirectory() as elsewhere:
        result = subprocess.run([_interpreter(), "-I", "-c", IMPORT_EVERY_MODULE], cwd=elsewhere,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    location, version, count = result.stdout.split()
    assert int(count) > 40
    if os.environ.get("TILTPY_BIN"):
        assert not location.startswith(str(REPO)), f"TILTPY_BIN imports the checkout: {location}"
    from tiltpy import __version__
    assert version == __version__


def test_version_command_reports_the_package_version() -> None:
    from tiltpy import __version__

    result = subprocess.run([*TILTPY, "version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tiltpy {__version__}"

