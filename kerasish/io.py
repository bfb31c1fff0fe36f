"""Crash-safe file writing: every file kerasish writes appears whole or not at all.

A file is written to a temporary sibling, flushed to disk, then moved over the target with
``os.replace`` (atomic on POSIX and Windows). A process killed at any instant leaves either the
previous good file or the new one, never a torn one. A record appended to a log (a CSV row) is
in the file whole or not at all, and a writer's background thread can be made to die quietly when
its caller reports the failure itself.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file)`` on a temporary file, fsync it, move it to ``path``, fsync the folder.

    The file gets the mode ``open()`` would give it (``0666`` less the umask, ``0644`` usually), as
    ``torch.save`` does, so serving processes and colleagues can read it.
    The folder's fsync makes the rename itself durable (a power cut right after could otherwise
    lose it). Temporary files that a killed process left for the same target are removed first.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; a file saved with open() follows the umask
            os.fchmod(fd, 0o666 & ~current_umask())
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


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc``); elsewhere
    set and restored at once (``os.umask`` has no read-only form)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
    """Append ``text`` (one record, e.g. a CSV row) whole, or leave the file as it was.

    One ``write`` system call normally copies the whole record: a process killed at any instant
    leaves whole records only, and nothing earlier in the file is touched. A write the kernel cuts
    short (a file-size limit, a full disk) is continued; when that fails, the file is truncated
    back to its size before the record, so no torn record stays (only a kill between the short
    write and the truncation could leave one), and the ``OSError`` names the file.

    Args:
        path: the file, created if missing (its folder must exist).
        text: the record, written as UTF-8.

    Raises:
        OSError: the record could not be appended (the file is as it was before the call).
    """
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # less the umask, as open()
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
        except OSError as error:
            undone = _truncate(fd, size)
            raise OSError(error.errno, f"{error.strerror} (appending a {len(data)}-byte record; "
                          f"{undone})", os.fspath(path)) from error
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "the write made no progress")
        view = view[written:]


def _truncate(fd: int, size: int) -> str:
    """Cut what a failed append left; say whether the file is back as it was."""
    try:
        os.ftruncate(fd, size)
    except OSError as error:
        return f"the file may end with part of it: truncating back failed with {error}"
    return "the file is as it was before"


_QUIET_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_OPEN_BLOCKS: list[set[threading.Thread]] = []  # per open block: the threads alive when it began
_QUIET_HOOKS: weakref.WeakSet[Callable[..., object]] = weakref.WeakSet()


@contextlib.contextmanager
def quiet_writer_threads() -> Iterator[None]:
    """Threads started inside this block die without printing their exception.

    For a writer whose background thread keeps its failure and raises it again from the writer's
    next call (TensorBoard's event file writer does), so that the caller reports it once (a
    warning) instead of the thread also printing it as an uncaught traceback. It puts a filter in
    front of ``threading.excepthook``; every other thread's exception reaches the hook as before
    (while the block runs, any thread that starts and dies in it is taken as the writer's).

    Example:
        with quiet_writer_threads():
            writer = SummaryWriter(log_dir)
    """
    _install_quiet_hook()
    before = set(threading.enumerate())
    _OPEN_BLOCKS.append(before)
    try:
        yield
    finally:
        _QUIET_THREADS.update(t for t in threading.enumerate() if t not in before)
        _OPEN_BLOCKS.remove(before)


def _is_quiet(thread: threading.Thread | None) -> bool:
    if thread is None:
        return False
    return thread in _QUIET_THREADS or any(thread not in before for before in list(_OPEN_BLOCKS))


def _install_quiet_hook() -> None:
    """Put the filter in front of the current ``threading.excepthook``, unless it is there already
    (pytest and others replace the hook and put theirs back; each gets its own filter)."""
    current = threading.excepthook
    if current in _QUIET_HOOKS:
        return

    def hook(args: threading.ExceptHookArgs, previous: Callable[..., object] = current) -> None:
        if not _is_quiet(args.thread):
            previous(args)

    _QUIET_HOOKS.add(hook)
    threading.excepthook = hook
