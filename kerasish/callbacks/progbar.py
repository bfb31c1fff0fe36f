"""``ProgbarLogger``: Keras's progress bar and epoch lines, printed without slowing the loop.

The bar is redrawn on a time budget (a few times a second), never per step, and only a redraw
reads batch values from the device. When stdout is not a terminal (CI logs, files, notebooks
captured to text) it prints one line per epoch instead of a stream of carriage returns.
Rendering follows Keras's Progbar so ported scripts print what their users know; it is written
here rather than taken from tqdm/rich because those lay out their own, different line.
"""

from __future__ import annotations

import math
import sys
import time

from kerasish.callbacks.base import Callback

_REFRESH_SECONDS = 0.25
_BAR_WIDTH = 20


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"
    return str(value)


def format_time_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class _Bar:
    """One progress line: ``12/100 ━━━━━━━━━━━━━━━━━━━━ 3s 25ms/step - loss: 0.1234``."""

    def __init__(self, target: int | None, live: bool):
        self.target = target
        self.live = live
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.width = 0

    def due(self) -> bool:
        return self.live and time.perf_counter() - self.last_draw >= _REFRESH_SECONDS

    def line(self, current: int, logs, final: bool) -> str:
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
        bar = "━" * filled + "─" * (_BAR_WIDTH - filled)
        if self.target and not final:
            clock = _eta(per_step * (self.target - current))
        else:
            clock = f"{elapsed:.0f}s"
        return f"{count} {bar} {clock} {format_time_per_step(per_step)}{values}"

    def draw(self, current: int, logs, final: bool = False) -> None:
        text = self.line(current, logs, final)
        padding = " " * max(self.width - len(text), 0)
        self.width = len(text)
        sys.stdout.write("\r" + text + padding + ("\n" if final else ""))
        sys.stdout.flush()
        self.last_draw = time.perf_counter()


def _eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class ProgbarLogger(Callback):
    """Prints ``Epoch N/M`` and a progress bar with time per step and the running metrics.

    ``verbose`` comes from ``fit``/``evaluate``/``predict``: 1 draws a live bar on a terminal
    (one line per epoch otherwise), 2 prints one line per epoch, 0 prints nothing.

    Example:
        model.fit(x, y, epochs=2, verbose=1)
        # Epoch 1/2
        # 32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - loss: 0.4521 - accuracy: 0.8710
    """

    def __init__(self) -> None:
        super().__init__()
        self._bar: _Bar | None = None
        self._in_fit = False
        self._epoch_header = ""

    @property
    def _verbose(self) -> int:
        return int(self.params.get("verbose", 1) or 0)

    @property
    def _live(self) -> bool:
        return self._verbose == 1 and sys.stdout.isatty()

    def _new_bar(self) -> None:
        self._bar = _Bar(self.params.get("steps"), self._live)

    # fit ------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._verbose:
            return
        self._epoch_header = f"Epoch {epoch + 1}/{self.params.get('epochs')}"
        if self._live:
            sys.stdout.write(self._epoch_header + "\n")
        self._new_bar()
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is None:
            return
        steps = self.params.get("steps") or self._seen
        if self._live:
            self._bar.draw(steps, logs, final=True)
        else:
            sys.stdout.write(f"{self._epoch_header} - {self._bar.line(steps, logs, True)}\n")
            sys.stdout.flush()
        self._bar = None

    # evaluate / predict (outside fit; validation inside fit draws nothing) --------------------
    def on_test_begin(self, logs=None):
        if not self._in_fit and self._verbose:
            self._new_bar()
            self._seen = 0

    def on_test_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if not self._in_fit and self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit and self._bar is not None:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        if self._verbose:
            self._new_bar()
            self._seen = 0

    def on_predict_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None and self._bar.due():
            self._bar.draw(self._seen, None)

    def on_predict_end(self, logs=None):
        if self._bar is not None:
            self._finish(None)

    def _finish(self, logs) -> None:
        steps = self.params.get("steps") or self._seen
        if self._live:
            self._bar.draw(steps, logs, final=True)
        else:
            sys.stdout.write(self._bar.line(steps, logs, True) + "\n")
            sys.stdout.flush()
        self._bar = None
