"""Real file systems for storage tests: a small tmpfs, remounted read-only on demand.

Mounting needs root (or CAP_SYS_ADMIN). Where it is not permitted the test is skipped with
the reason; CI and the development machine run as root. Every mount is undone on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)


@contextmanager
def tmpfs(where: Path, size: str = "16m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``where`` (created); skips if mount is refused."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip(
            "mount(8)/umount(8) not installed: cannot test a real full or read-only file system"
        )
    where.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.skip(
            f"mounting a tmpfs is not permitted here (needs root or CAP_SYS_ADMIN): "
            f"{_first_line(done.stderr)}"
        )
    try:
        yield where
    finally:
        unmount(where)


def unmount(where: Path) -> None:
    if _run("umount", str(where)).returncode != 0:
        _run("umount", "-l", str(where))  # something still holds a file: detach lazily


def remount(where: Path, *, read_only: bool) -> None:
    done = _run("mount", "-o", "remount," + ("ro" if read_only else "rw"), str(where))
    assert done.returncode == 0, done.stderr


@contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """``path`` bound read-only over itself: even root cannot write it (chmod would not do)."""
    done = _run("mount", "--bind", str(path), str(path))
    if done.returncode != 0:
        pytest.skip(f"bind mounts are not permitted here: {_first_line(done.stderr)}")
    try:
        remount_done = _run("mount", "-o", "remount,bind,ro", str(path))
        assert remount_done.returncode == 0, remount_done.stderr
        yield path
    finally:
        unmount(path)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until its file system has no free block left."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb", buffering=0) as f:
        for size in (1 << 20, 1 << 12):
            with suppress(OSError):
                while True:
                    written = f.write(chunk[:size])
                    if not written:
                        break
    st = os.statvfs(folder)
    assert st.f_bavail == 0, f"{st.f_bavail} blocks still free"
    return filler
