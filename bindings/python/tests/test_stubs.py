"""The type stubs match the native module (mypy's stubtest) and the package type-checks
under mypy --strict. Skipped when mypy is not installed."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("mypy")
import pushwire  # noqa: E402


def mypy(tmp_path, *args):
    """Runs mypy from an empty directory: an installed pushwire is found as a PEP 561 package
    (py.typed); a source tree (PYTHONPATH=src) through MYPYPATH."""
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(pushwire.__file__)))
    if os.path.basename(parent) != "site-packages":
        env["MYPYPATH"] = parent
        env["PYTHONPATH"] = parent  # stubtest imports the runtime module
    return subprocess.run([sys.executable, "-m"] + list(args), cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)


def test_stubtest(tmp_path):
    r = mypy(tmp_path, "mypy.stubtest", "--ignore-disjoint-bases", "pushwire._pushwire")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict(tmp_path):
    r = mypy(tmp_path, "mypy", "--strict", "--no-incremental", "-p", "pushwire")
    assert r.returncode == 0, r.stdout + r.stderr
