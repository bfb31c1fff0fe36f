"""``console``: the one way kerasish prints to the user.

A library that calls ``print`` directly meets three problems during training:

- a stream whose encoding cannot hold a character (``PYTHONIOENCODING=ascii``, a Windows console
  in cp1252, some CI logs) raises ``UnicodeEncodeError`` in the middle of a fit, losing the run
  for the sake of a progress bar;
- under torchrun every rank prints the same line, so a 4-process job prints everything 4 times;
- a progress line redrawn with carriage returns needs a terminal or a Jupyter output area.

Everything kerasish prints goes through ``write`` / ``print_line``, which replace the characters
the stream cannot encode (box-drawing characters by ASCII look-alikes, the rest by ``?``) and
print nothing on a non-zero rank. The stream is looked up at each call, so ``sys.stdout``
redirections (pytest's ``capsys``, ``contextlib.redirect_stdout``) are honoured.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

# The non-ASCII characters kerasish itself prints, and what an ASCII stream gets instead. Each is
# replaced by exactly one character so that lines keep their width (the progress bar pads to it).
_ASCII_LOOKALIKES = str.maketrans({"━": "=", "─": ".", "│": "|", "┃": "|", "…": "."})


def is_main_process(model: Any = None) -> bool:
    """Whether this process should print: ``False`` on the non-zero ranks of a torchrun job.

    Args:
        model: a ``ks.Model`` (or anything with an ``is_main_process`` attribute) whose view of
            the process group decides; without one, the ``RANK`` environment variable that
            torchrun sets decides (absent or unreadable: this is the main process).

    Returns:
        ``True`` when this process is rank 0 or not part of a torchrun job.

    Example:
        if console.is_main_process(self.model):
            ...  # write a file only once per job
    """
    if model is not None:
        flag = getattr(model, "is_main_process", None)
        if flag is not None:
            return bool(flag)
    try:
        return int(os.environ.get("RANK", "0")) == 0
    except ValueError:
        return True


def can_encode(text: str, stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (``sys.stdout`` by default) can write ``text`` without an encoding error.

    A stream without an ``encoding`` (``io.StringIO``) holds any text.

    Args:
        text: the characters to check.
        stream: the text stream they would go to.

    Returns:
        ``False`` only when encoding ``text`` with the stream's encoding fails.

    Example:
        rule = "━" if console.can_encode("━") else "="
    """
    encoding = getattr(sys.stdout if stream is None else stream, "encoding", None)
    if not encoding:
        return True
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    except LookupError:  # an encoding name Python does not know: nothing better to do than try
        return True
    return True


def encodable(text: str, stream: TextIO | None = None) -> str:
    """``text`` with every character ``stream`` cannot encode replaced.

    Box-drawing characters become ASCII look-alikes (``━`` -> ``=``, ``─`` -> ``.``), anything
    else the stream's encoding cannot hold becomes ``?``. Text the stream can encode is returned
    unchanged.

    Args:
        text: the text to write.
        stream: the text stream it goes to (``sys.stdout`` by default).

    Returns:
        Text that ``stream.write`` accepts.

    Example:
        >>> import io
        >>> encodable("12/12 ━━─ 3µs", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
        '12/12 ==. 3?s'
    """
    stream = sys.stdout if stream is None else stream
    if can_encode(text, stream):
        return text
    encoding = stream.encoding
    return text.translate(_ASCII_LOOKALIKES).encode(encoding, errors="replace").decode(encoding)


def write(text: str, *, model: Any = None, stream: TextIO | None = None) -> None:
    """Write ``text`` as it is (no newline added) and flush, on the main process only.

    Use it for output redrawn in place (``"\\r" + line``); ``print_line`` for whole lines.

    Args:
        text: what to write; characters the stream cannot encode are replaced (see
            ``encodable``).
        model: the ``ks.Model`` at hand, if any: its ``is_main_process`` decides whether to
            print; otherwise the ``RANK`` environment variable does.
        stream: where to write; ``sys.stdout`` as it is at the time of the call by default.

    Example:
        console.write("\\r12/100 loss: 0.1234", model=self.model)
    """
    if not is_main_process(model):
        return
    stream = sys.stdout if stream is None else stream
    stream.write(encodable(text, stream))
    stream.flush()


def print_line(text: str = "", *, model: Any = None, stream: TextIO | None = None) -> None:
    """Print ``text`` and a newline, like ``print``, but encoding-safe and on the main process only.

    Args:
        text: the line.
        model: the ``ks.Model`` at hand, if any: its ``is_main_process`` decides whether to
            print; otherwise the ``RANK`` environment variable does.
        stream: where to write; ``sys.stdout`` as it is at the time of the call by default.

    Example:
        console.print_line(f"Epoch {epoch + 1}: early stopping", model=self.model)
    """
    write(text + "\n", model=model, stream=stream)


def in_jupyter(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` is the output of a Jupyter (ipykernel) cell.

    The kernel replaces ``sys.stdout`` by its ``ipykernel.iostream.OutStream``, which is not a
    terminal (``isatty()`` is false) yet renders a carriage return by overwriting the line, so a
    progress bar can be live there. ipykernel is not imported here: a stream can only be its
    ``OutStream`` when the kernel has imported it already.

    Args:
        stream: the stream to check; ``sys.stdout`` by default.

    Returns:
        ``True`` when ipykernel is loaded and ``stream`` is (a subclass of) its ``OutStream``.

    Example:
        live = stream.isatty() or console.in_jupyter(stream)
    """
    if "ipykernel" not in sys.modules:
        return False
    stream = sys.stdout if stream is None else stream
    return any(cls.__name__ == "OutStream" and cls.__module__.split(".")[0] == "ipykernel"
               for cls in type(stream).__mro__)


def redraws_in_place(stream: TextIO | None = None) -> bool:
    """Whether a line can be redrawn with ``"\\r"`` on ``stream``: a terminal or a Jupyter cell.

    Elsewhere (a file, a pipe, a CI log) carriage returns pile up, so progress is better printed
    once per epoch.

    Args:
        stream: the stream to check; ``sys.stdout`` by default.

    Returns:
        ``True`` for a terminal or a Jupyter output.

    Example:
        if console.redraws_in_place():
            console.write("\\r" + line)
    """
    stream = sys.stdout if stream is None else stream
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        terminal = False
    return terminal or in_jupyter(stream)


def model_repr(model: Any) -> str:
    """``repr`` of a ``ks.Model``: its module as torch prints it, inside ``Model(...)``, and the
    optimizer (Keras's name for a Keras rule) and loss once compiled: ``print(model)`` shows what
    trains, not an address."""
    inner = repr(model.module).replace("\n", "\n  ")
    optimizer = getattr(model, "optimizer", None)
    parts = []
    if optimizer is not None:
        parts.append(f"optimizer={getattr(type(optimizer), 'keras_name', None) or type(optimizer).__name__}")
    config: Mapping[str, Any] = getattr(model, "compile_config", None) or {}
    if config.get("loss") is not None:
        parts.append(f"loss={config['loss']!r}")
    compiled = f",\n  compiled: {', '.join(parts)}" if parts else ""
    return f"Model(\n  {inner}{compiled}\n)"
