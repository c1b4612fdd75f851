"""Builds pushwire's Python package: the _pushwire extension compiled together with the core.

sdists and wheels cannot reach ../../core, so the C++ core, the C ABI and a generated
version.h are copied into vendor/ (what `make vendor` does too). Run from a checkout, this
script refreshes vendor/ itself, so `pip install ./bindings/python` needs no earlier make
step; run from an unpacked sdist, it uses the vendor/ the sdist carries.

Environment: PUSHWIRE_ROOT=/path/to/checkout vendors from another checkout;
PUSHWIRE_USE_SYSTEM=1 links a system libpushwire (pkg-config) instead of bundling the core.
"""
import filecmp
import os
import re
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "vendor")
VERSION_H = os.path.join(VENDOR, "capi", "include", "pushwire", "version.h")

# The core's own rules (Makefile CORE_CXXFLAGS): no exceptions, no RTTI, no libstdc++ at
# run time, hidden symbols. The extension is linked by the C driver.
CXXFLAGS = ["-std=c++17", "-O3", "-DNDEBUG", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics",
            "-fvisibility=hidden", "-fvisibility-inlines-hidden"]
CFLAGS = ["-fvisibility=hidden", "-O2"]


def checkout_root():
    """The pushwire checkout to vendor from, or None (an unpacked sdist)."""
    root = os.path.abspath(os.environ.get("PUSHWIRE_ROOT") or os.path.join(HERE, "..", ".."))
    needed = ("meson.build", "core/unity.cpp", "capi/include/pushwire/pushwire.h")
    if all(os.path.isfile(os.path.join(root, p)) for p in needed):
        return root
    return None


def meson_version(root):
    with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
        m = re.search(r"^\s*version:\s*'(\d+)\.(\d+)\.(\d+)'", f.read(), re.M)
    if not m:
        raise SystemExit("pushwire: no version: 'M.m.p' in meson.build")
    return m.groups()


def copy_if_changed(src, dst):
    if os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False):
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)


def vendor(root):
    """Mirror core/ and capi/ into vendor/ and generate version.h, as `make vendor` does.

    Unchanged files keep their mtime, so rebuilds stay incremental; files gone upstream go.
    """
    wanted = set()
    for sub in ("core", "capi"):
        for dirpath, _, files in os.walk(os.path.join(root, sub)):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if rel != os.path.relpath(VERSION_H, VENDOR):
                    wanted.add(rel)
                    copy_if_changed(os.path.join(root, rel), os.path.join(VENDOR, rel))
    major, minor, patch = meson_version(root)
    with open(os.path.join(root, "capi/include/pushwire/version.h.in"), encoding="utf-8") as f:
        text = f.read()
    for key, value in (("MAJOR", major), ("MINOR", minor), ("PATCH", patch),
                       ("STRING", "%s.%s.%s" % (major, minor, patch))):
        text = text.replace("@PUSHWIRE_VERSION_%s@" % key, value)
    old = open(VERSION_H, encoding="utf-8").read() if os.path.exists(VERSION_H) else None
    if old != text:
        with open(VERSION_H, "w", encoding="utf-8") as f:
            f.write(text)
    wanted.add(os.path.relpath(VERSION_H, VENDOR))
    for dirpath, _, files in os.walk(VENDOR):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.relpath(path, VENDOR) not in wanted:
                os.remove(path)


def package_version():
    with open(VERSION_H, encoding="utf-8") as f:
        m = re.search(r'#define PUSHWIRE_VERSION_STRING "([^"]+)"', f.read())
    if not m:
        raise SystemExit("pushwire: no PUSHWIRE_VERSION_STRING in " + VERSION_H)
    return m.group(1)


class BuildExt(build_ext):
    """Compiles vendor/core/unity.cpp (the whole core and C ABI in one TU) with C++ flags.

    The extension itself is always relinked (cheap), so switching between the bundled core
    and PUSHWIRE_USE_SYSTEM=1 in one in-tree build/ never reuses the other's result; the
    unity object is rebuilt only when a vendored file is newer.
    """

    def build_extension(self, ext):
        self.force = True
        if os.environ.get("PUSHWIRE_USE_SYSTEM") != "1":
            src = os.path.join("vendor", "core", "unity.cpp")
            obj = self.compiler.object_filenames([src], output_dir=self.build_temp)[0]
            newest = max(os.path.getmtime(p) for p in ext.depends)
            if not os.path.exists(obj) or os.path.getmtime(obj) < newest:
                self.compiler.compile([src], output_dir=self.build_temp, macros=[("PUSHWIRE_HIDE_SYMBOLS", None)],
                                      include_dirs=ext.include_dirs, extra_postargs=CXXFLAGS)
            ext.extra_objects = [obj]
        super().build_extension(ext)


def pkg_config(*args):
    return subprocess.check_output(["pkg-config"] + list(args) + ["libpushwire"], text=True).split()


root = checkout_root()
if root:
    vendor(root)
elif not os.path.exists(VERSION_H):
    raise SystemExit("pushwire: vendor/ is missing and no pushwire checkout is beside this package "
                     "(run `make vendor` in the checkout, or set PUSHWIRE_ROOT)")

os.chdir(HERE)  # the extension's paths below are relative
if os.environ.get("PUSHWIRE_USE_SYSTEM") == "1":
    ext_kw = dict(include_dirs=[f[2:] for f in pkg_config("--cflags-only-I")],
                  library_dirs=[f[2:] for f in pkg_config("--libs-only-L")], libraries=["pushwire"])
else:
    ext_kw = dict(include_dirs=["vendor/capi/include", "vendor/core"],
                  define_macros=[("PUSHWIRE_HIDE_SYMBOLS", None)],
                  depends=sorted(os.path.join(d, f) for d, _, fs in os.walk("vendor") for f in fs))

setup(
    version=package_version(),
    ext_modules=[Extension("pushwire._pushwire", ["src/pushwire/_pushwire.c"], py_limited_api=True,
                           extra_compile_args=CFLAGS, **ext_kw)],
    cmdclass={"build_ext": BuildExt},
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
)
