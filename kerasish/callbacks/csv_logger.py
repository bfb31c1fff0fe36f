"""``CSVLogger``: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from kerasish.callbacks.base import Callback
from kerasish.io import append_record, atomic_write_text


class CSVLogger(Callback):
    """Stream epoch results to a CSV file: an ``epoch`` column (0-based), then the sorted log keys.

    Keras semantics: the columns are fixed by the first epoch's logs; when that epoch has no
    validation keys, a ``val_`` column is added for each key anyway, and a missing value is
    written as ``NA``. With ``append=True`` the rows go after the file's existing content and the
    header is written only if the file is empty or new. Every row is in the file when the epoch
    ends, appended with a single write, so a process killed at any instant leaves whole rows only.

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
        self._text = ""
        self._write_header = True

    def on_train_begin(self, logs=None):
        """Truncate the file, or keep its rows with ``append=True``; the columns are chosen later."""
        path = Path(self.filename)
        self._text = path.read_text(encoding="utf-8") if self.append and path.exists() else ""
        self._write_header = not self._text.split("\n", 1)[0]
        self.keys = None
        atomic_write_text(path, self._text)  # "w" truncates at train begin, as in Keras

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
        append_record(self.filename, out.getvalue())  # one write: a kill never tears the row

    # ------------------------------------------------------------------ BackupAndRestore

    def state_dict(self) -> dict[str, Any]:
        return {"text": self._text, "keys": self.keys, "write_header": self._write_header}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._text, self.keys = state["text"], state["keys"]
        self._write_header = state["write_header"]
        atomic_write_text(self.filename, self._text)


def _cell(value: Any) -> Any:
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return value
    if getattr(value, "ndim", None) == 0:
        return value
    return f"[{', '.join(map(str, value))}]"
