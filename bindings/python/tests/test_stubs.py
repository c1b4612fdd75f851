"""The type stubs match the native module (mypy's stubtest) and the package type-checks
under mypy --strict. Skipped when mypy is not installed."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("mypy")
import pushwire  # noqa: E402


def mypy(*args, cwd):
    return subprocess.run([sys.executable, "-m"] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def package_parent():
    return os.path.dirname(os.path.dirname(os.path.abspath(pushwire.__file__)))


def test_stubtest():
    r = mypy("mypy.stubtest", "--ignore-disjoint-bases", "pushwire._pushwire", cwd=package_parent())
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict():
    r = mypy("mypy", "--strict", "--no-incremental", "-p", "pushwire", cwd=package_parent())
    assert r.returncode == 0, r.stdout + r.stderr
