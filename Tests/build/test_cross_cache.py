"""The board build's cached musl root: a stamped root whose content is gone is built again, and
a missing cross package stops the step at once with a line naming the package (issue: a root
without kernel headers was stamped and reused forever). Runs cross/musl-root.sh for real, in a
private cache that borrows the musl-dev packages cross/fetch.sh downloaded."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBS = ROOT / ".cache" / "debs"


def musl_root(cache: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "cross" / "musl-root.sh"), "raspberrypi4"],
                          env={**os.environ, "TETHER_CACHE": str(cache), **env},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cache(tmp_path):
    if not list(DEBS.glob("musl-dev_*_arm64.deb")):
        subprocess.run(["bash", str(ROOT / "cross" / "fetch.sh")], check=True, timeout=600)
    (tmp_path / "debs").symlink_to(DEBS)
    return tmp_path


def test_root_without_kernel_headers_is_rebuilt(cache):
    first = musl_root(cache)
    assert first.returncode == 0, first.stderr
    header = cache / "sysroot/aarch64-linux-musl/usr/include/linux/mman.h"
    assert header.is_file()
    subprocess.run(["rm", "-rf", str(header.parent)], check=True)
    again = musl_root(cache)
    assert again.returncode == 0, again.stderr
    assert "lacks" in again.stderr and "building it again" in again.stderr
    assert header.is_file()
    quiet = musl_root(cache)       # a complete root is reused without a word
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_missing_cross_headers_name_the_package(cache, tmp_path):
    empty = tmp_path / "no-headers"
    empty.mkdir()
    r = musl_root(cache, TETHER_CROSS_INCLUDE=str(empty))
    assert r.returncode != 0
    assert "install Debian package linux-libc-dev-arm64-cross" in r.stderr
    assert not (cache / "sysroot/aarch64-linux-musl/.stamp").exists()
