"""``CSVLogger``: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from kerasish.callbacks.base import Callback
from kerasish.io import append_record, atomic_write_text
from kerasish.user_warnings import warn_user


class CSVLogger(Callback):
    """Stream epoch results to a CSV file: an ``epoch`` column (0-based), then the sorted log keys.

    Keras semantics: the columns are fixed by the first epoch's logs; when that epoch has no
    validation keys, a ``val_`` column is added for each key anyway, and a missing value is
    written as ``NA``. With ``append=True`` the rows go after the file's existing content and the
    header is written only if the file is empty or new. Every row is in the file when the epoch
    ends, appended with a single write, so a process killed at any instant leaves whole rows only.

    A failing write never stops training, and never leaves part of a row: a row that does not fit
    (a full disk, a file-size limit) is cut back off the file. The first failure of a fit warns
    once (a ``RuntimeWarning`` naming the file and the error); the rows the file lacks are kept and
    retried at every later epoch end, by replacing the file with all the rows so far, so the file
    always holds the header and the first rows, in order, and catches up whole once writing works
    again (a deleted folder is created again). When ``append=True`` and the existing file cannot
    be read, the fit warns and leaves the file alone.

    Args:
        filename: the CSV file (parent folders are created).
        separator: the one-character field separator.
        append: add to an existing file instead of overwriting it.

    Raises:
        ValueError: ``filename`` is not a path, or ``separator`` is not one character.

    Example:
        model.fit(x, y, epochs=10, callbacks=[ks.callbacks.CSVLogger("training.log")])
    """

    rank_zero_only = True  # under torchrun only the main process writes

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise ValueError(f"CSVLogger: filename must be a file path; got {filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                f"CSVLogger: separator must be a single character such as ',' or '\\t'; got "
                f"{separator!r}."
            )
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self._text = ""  # what the file must hold: its earlier content (append=True), then the rows
        self._on_disk: int | None = 0  # how much of _text the file holds; None: unknown (rewrite)
        self._write_header = True
        self._writing = True  # False for a fit whose existing file could not be read to append to
        self._warned = False

    def on_train_begin(self, logs=None):
        """Truncate the file, or keep its rows with ``append=True``; the columns are chosen later."""
        self.keys = None
        self._warned, self._writing, self._text = False, True, ""
        if self.append:
            try:
                self._text = _existing_text(Path(self.filename))
            except OSError as error:
                self._writing = False
                self._warn(error, "read", "this fit leaves the file alone and writes no rows to it")
        self._write_header = not self._text.split("\n", 1)[0]
        self._on_disk = None  # "w" truncates at train begin, as in Keras (atomically here)
        self._sync()

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch's row (and the header, the first time) in one write."""
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.sep, lineterminator="\r\n")
        if self._write_header:
            writer.writerow(["epoch", *self.keys])
            self._write_header = False
        writer.writerow([epoch, *(_cell(logs.get(k, "NA")) for k in self.keys)])
        self._text += out.getvalue()
        self._sync()

    def _sync(self) -> None:
        """Write what the file lacks: the new rows in one append, or, when a failure left the file
        unknown, the whole text as a new file. A failure warns (once per fit), never raises."""
        if not self._writing:
            return
        try:
            if self._on_disk is None:
                atomic_write_text(self.filename, self._text)
            elif self._on_disk < len(self._text):
                append_record(self.filename, self._text[self._on_disk:])  # whole or not at all
        except OSError as error:
            self._on_disk = None
            self._warn(error, "write", "the rows the file lacks are kept and written again at "
                                       "each epoch end until a write succeeds")
            return
        self._on_disk = len(self._text)

    def _warn(self, error: OSError, action: str, consequence: str) -> None:
        if self._warned:
            return
        self._warned = True
        warn_user(f"CSVLogger could not {action} {self.filename!r}: {type(error).__name__}: "
                      f"{error}. Training goes on; {consequence}.", RuntimeWarning)

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        return {"text": self._text, "keys": self.keys, "write_header": self._write_header}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._text, self.keys = state["text"], state["keys"]
        self._write_header = state["write_header"]
        self._on_disk = None  # the file is replaced with the backup's rows
        self._sync()


def _existing_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _cell(value: Any) -> Any:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return value
    if getattr(value, "ndim", None) == 0:
        return value
    return f"[{', '.join(map(str, value))}]"
