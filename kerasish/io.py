"""Crash-safe file writing: every file kerasish writes appears whole or not at all.

A file is written to a temporary sibling, flushed to disk, then moved over the target with
``os.replace`` (atomic on POSIX and Windows). A process killed at any instant leaves either the
previous good file or the new one, never a torn one.
"""

from __future__ import annotations

import glob
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file)`` on a temporary file, fsync it, move it to ``path``, fsync the folder.

    The folder's fsync makes the rename itself durable (a power cut right after could otherwise
    lose it). Temporary files that a killed process left for the same target are removed first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(target.parent)


def _remove_leftovers(target: Path) -> None:
    """Delete ``.<name>.*.tmp`` siblings: what a process killed mid-write left behind."""
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            leftover.unlink()
        except OSError:
            pass  # another process's write in flight, or already gone


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; its rename is durable on NTFS
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_zip(path: str | os.PathLike) -> None:
    """Check every member's CRC32 in a ``torch.save`` zip file before anything trusts its bytes.

    ``torch.load`` does not check them, so a flipped byte in a tensor loads silently as a wrong
    weight. Files in torch's legacy (non-zip) format carry no checksum and pass unchecked.

    Args:
        path: the file.

    Raises:
        ValueError: the archive is damaged or a member fails its CRC check.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{os.fspath(path)!r} is damaged ({type(error).__name__}: {error}).") from error
    if bad is not None:
        raise ValueError(
            f"{os.fspath(path)!r} is damaged: {bad!r} fails its CRC32 check (the file changed on "
            "disk after it was written)."
        )


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def append_record(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` (one record, e.g. a CSV row) with a single ``write`` system call.

    A process killed at any instant either wrote the whole record or none of it: the kernel
    copies one ``write`` on a regular file completely before the process can die, so no torn row
    is left, and nothing earlier in the file is touched. Much cheaper than rewriting the file.
    """
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):  # only on a full disk or similar: report it, never tear silently
            raise OSError(f"could only append {written} of {len(data)} bytes to {os.fspath(path)!r}")
    finally:
        os.close(fd)
