"""Crash-safe file writing: every file kerasish writes appears whole or not at all.

A file is written to a temporary sibling, flushed to disk, then moved over the target with
``os.replace`` (atomic on POSIX and Windows). A process killed at any instant leaves either the
previous good file or the new one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file, fsync it, and move it to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
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
