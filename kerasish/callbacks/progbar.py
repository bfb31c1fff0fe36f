"""``ProgbarLogger``: Keras's progress bar and epoch lines, printed without slowing the loop.

The bar is redrawn on a time budget (a few times a second), never per step, and only a redraw
reads batch values from the device. When stdout is not a terminal (CI logs, files, notebooks
captured to text) it prints one line per epoch instead of a stream of carriage returns.
In a Jupyter cell the bar is live too: the kernel's output is not a terminal, but it renders a
carriage return by overwriting the line. Rendering follows Keras's Progbar so ported scripts print
what their users know; it is written here rather than taken from tqdm/rich because those lay out
their own, different line. Output goes through ``kerasish.console``: a stream that cannot encode
the bar's characters gets ASCII ones, and non-zero torchrun ranks print nothing.
"""

from __future__ import annotations

import math
import time
from typing import Any

from kerasish import console
from kerasish.callbacks.base import Callback

_REFRESH_SECONDS = 0.25
_BAR_WIDTH = 20


def format_value(value: Any) -> str:
    """A log value as Keras's progress bar shows it: 4 decimals, scientific below 1e-3.

    Args:
        value: a log value; anything but a float is shown with ``str``.

    Returns:
        The text shown after ``"loss: "``.

    Example:
        >>> format_value(0.12345), format_value(1e-5)
        ('0.1235', '1.0000e-05')
    """
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"
    return str(value)


def format_time_per_step(seconds: float) -> str:
    """The time per step in the unit Keras uses for it: ``s``, ``ms`` or ``us``.

    Args:
        seconds: the mean time of one step.

    Returns:
        E.g. ``"25ms/step"``.

    Example:
        >>> format_time_per_step(0.025)
        '25ms/step'
    """
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class _Bar:
    """One progress line: ``12/100 ━━━━━━━━━━━━━━━━━━━━ 3s 25ms/step - loss: 0.1234``."""

    def __init__(self, target: int | None, live: bool, model: Any = None):
        self.target = target
        self.live = live
        self.model = model  # decides, through its is_main_process, whether anything is printed
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.width = 0

    def due(self) -> bool:
        return self.live and time.perf_counter() - self.last_draw >= _REFRESH_SECONDS

    def line(self, current: int, logs: Any, final: bool) -> str:
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"{current:>{digits}}/{self.target}"
            filled = int(_BAR_WIDTH * min(current / self.target, 1.0))
        else:
            count, filled = f"{current}/Unknown", 0
        values = "".join(f" - {k}: {format_value(v)}" for k, v in (logs or {}).items())
        if not self.live:
            return f"{count} - {elapsed:.0f}s - {format_time_per_step(per_step)}{values}"
        bar = "━" * filled + "─" * (_BAR_WIDTH - filled)  # console writes "=" and "." where needed
        if self.target and not final:
            clock = _eta(per_step * (self.target - current))
        else:
            clock = f"{elapsed:.0f}s"
        return f"{count} {bar} {clock} {format_time_per_step(per_step)}{values}"

    def draw(self, current: int, logs: Any, final: bool = False) -> None:
        text = self.line(current, logs, final)
        padding = " " * max(self.width - len(text), 0)
        self.width = len(text)
        console.write("\r" + text + padding + ("\n" if final else ""), model=self.model)
        self.last_draw = time.perf_counter()


def _eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class ProgbarLogger(Callback):
    """Prints ``Epoch N/M`` and a progress bar with time per step and the running metrics.

    ``fit``, ``evaluate`` and ``predict`` add one when ``verbose`` is not 0, so it is rarely
    created by hand. ``verbose`` comes from their ``params``: 1 draws a live bar on a terminal or
    in a Jupyter cell (one line per epoch elsewhere: files, pipes, CI logs), 2 prints one line per
    epoch, 0 prints nothing. Validation inside ``fit`` draws no bar of its own; its values join
    the epoch's line. The bar is redrawn at most four times a second, and only a redraw reads
    batch values from the device. On a non-zero torchrun rank it prints nothing.

    Example:
        model.fit(x, y, epochs=2, verbose=1)
        # Epoch 1/2
        # 32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.4521 - accuracy: 0.8710
        # ...
        model.fit(x, y, epochs=2, verbose=2)
        # Epoch 1/2 - 32/32 - 1s - 3ms/step - loss: 0.4521 - accuracy: 0.8710
    """

    rank_zero_only = True  # it only prints

    def __init__(self) -> None:
        super().__init__()
        self._bar: _Bar | None = None
        self._in_fit = False
        self._epoch_header = ""
        self._seen = 0

    @property
    def _verbose(self) -> int:
        return int(self.params.get("verbose", 1) or 0)

    @property
    def _live(self) -> bool:
        return self._verbose == 1 and console.redraws_in_place()

    def _new_bar(self) -> None:
        self._bar = _Bar(self.params.get("steps"), self._live, self.model)
        self._seen = 0

    # fit ------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        """Note that a fit runs: its validation passes draw no bar of their own."""
        self._in_fit = True

    def on_train_end(self, logs=None):
        """The fit is over: a later ``evaluate`` draws its own bar again."""
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        """Print ``Epoch N/M`` (live) or remember it for the epoch's line, and start a bar."""
        if not self._verbose:
            return
        self._epoch_header = f"Epoch {epoch + 1}/{self.params.get('epochs')}"
        if self._live:
            console.print_line(self._epoch_header, model=self.model)
        self._new_bar()

    def on_train_batch_end(self, batch, logs=None):
        """Redraw the bar when its time budget allows (the only time batch values are read)."""
        self._seen = batch + 1
        if self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, logs)

    def on_epoch_end(self, epoch, logs=None):
        """Print the epoch's final line with its training and validation values."""
        if self._bar is None:
            return
        steps = self.params.get("steps") or self._seen
        if self._live:
            self._bar.draw(steps, logs, final=True)
        else:
            console.print_line(f"{self._epoch_header} - {self._bar.line(steps, logs, True)}",
                               model=self.model)
        self._bar = None

    # evaluate / predict (outside fit; validation inside fit draws nothing) --------------------
    def on_test_begin(self, logs=None):
        """Start a bar for ``evaluate`` (not for validation inside ``fit``)."""
        if not self._in_fit and self._verbose:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        """Redraw the ``evaluate`` bar when its time budget allows."""
        self._seen = batch + 1
        if not self._in_fit and self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, logs)

    def on_test_end(self, logs=None):
        """Print the final ``evaluate`` line with the results."""
        if not self._in_fit and self._bar is not None:
            self._finish(self._bar, logs)

    def on_predict_begin(self, logs=None):
        """Start a bar for ``predict``."""
        if self._verbose:
            self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        """Redraw the ``predict`` bar when its time budget allows."""
        self._seen = batch + 1
        if self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, None)

    def on_predict_end(self, logs=None):
        """Print the final ``predict`` line."""
        if self._bar is not None:
            self._finish(self._bar, None)

    def _finish(self, bar: _Bar, logs: Any) -> None:
        steps = self.params.get("steps") or self._seen
        if self._live:
            bar.draw(steps, logs, final=True)
        else:
            console.print_line(bar.line(steps, logs, True), model=self.model)
        self._bar = None
