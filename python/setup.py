"""Builds hugeblob's Python module against the hugeblob library.

    pip install --no-build-isolation ./python

The library is found, in this order:
  1. pkg-config's `hugeblob` (an installed hugeblob: `cmake --install build
     --prefix P`, then PKG_CONFIG_PATH=P/lib/pkgconfig if P is not a
     standard prefix);
  2. the build tree beside this folder (HUGEBLOB_BUILD_DIR, default
     ../build: `scripts/build.sh` made libhugeblob.a there).
The module uses only the public headers (include/hugeblob/).
"""
import os
import shlex
import subprocess

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
# What libhugeblob.a links (its Requires.private), for the build-tree case.
DEPS = ["libzstd", "liblz4", "libcurl", "fuse3", "openssl", "fmt", "spdlog"]


def pkg_config(*args):
    out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    return shlex.split(out.stdout)


def library_flags():
    try:
        return pkg_config("--cflags", "hugeblob"), pkg_config("--static", "--libs", "hugeblob")
    except (OSError, subprocess.CalledProcessError):
        pass
    build = os.environ.get("HUGEBLOB_BUILD_DIR", os.path.join(HERE, "..", "build"))
    lib = os.path.join(build, "libhugeblob.a")
    include = os.path.join(HERE, "..", "include")
    if not os.path.exists(lib) or not os.path.isdir(include):
        raise SystemExit(
            "hugeblob not found: install it (cmake --install BUILD --prefix P, and "
            "PKG_CONFIG_PATH=P/lib/pkgconfig), or build it beside this folder "
            "(scripts/build.sh; HUGEBLOB_BUILD_DIR=... for another build directory)")
    return ["-I" + os.path.abspath(include)], [os.path.abspath(lib)] + pkg_config("--libs", *DEPS)


cflags, libs = library_flags()
ext = Pybind11Extension(
    "hugeblob._core",
    ["module.cc"],
    cxx_std=20,
    extra_compile_args=cflags,
    extra_link_args=libs,
)

setup(
    name="hugeblob",
    version="0.1.0",
    description="Huge files in a local directory or S3 store, read lazily with pread",
    packages=["hugeblob"],
    ext_modules=[ext],
    python_requires=">=3.9",
    zip_safe=False,
)
