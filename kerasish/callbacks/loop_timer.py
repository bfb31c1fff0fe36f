"""``LoopTimer``: where each epoch's time goes (waiting for data, the step, callbacks).

For people who benchmark their own loops. The fit loop stamps the clock at three points per batch
only while a ``LoopTimer`` is attached (a ``None`` check otherwise), and the stamps are host
clock reads: no device sync is added. On CUDA the step's device time is taken with CUDA events,
read once at the epoch's end.
"""

from __future__ import annotations

import time

import torch

from kerasish import console
from kerasish.callbacks.base import Callback

PHASES = ("data", "step", "callbacks")


class LoopClock:
    """Accumulates host time per phase; the fit loop calls ``tick(phase)`` at each boundary."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.steps = 0
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._last = time.perf_counter()
        self._epoch_start = self._last

    def reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.steps = 0
        self._events = []
        self._last = self._epoch_start = time.perf_counter()

    def tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] += now - self._last
        self._last = now

    def step_begins(self) -> None:
        self.tick("callbacks")
        if self.cuda:
            start = torch.cuda.Event(enable_timing=True)
            start.record()
            self._events.append((start, torch.cuda.Event(enable_timing=True)))

    def step_ends(self) -> None:
        if self.cuda:
            self._events[-1][1].record()
        self.tick("step")
        self.steps += 1

    def device_step_seconds(self) -> float | None:
        if not self.cuda or not self._events:
            return None
        self._events[-1][1].synchronize()  # the epoch's one wait for the device
        return sum(start.elapsed_time(end) for start, end in self._events) / 1000.0

    def wall_seconds(self) -> float:
        return time.perf_counter() - self._epoch_start


class LoopTimer(Callback):
    """Reports each epoch's time split and steps per second, adding no per-step device sync.

    ``epochs`` keeps one dict per epoch: ``data``, ``step``, ``callbacks`` and ``other``
    (validation and epoch-end work) in seconds, ``steps_per_second``, and on CUDA
    ``device_step`` (the device time of the steps, from CUDA events).

    Args:
        verbose: 1 prints one line per epoch.

    Example:
        timer = ks.callbacks.LoopTimer(verbose=1)
        model.fit(x, y, epochs=3, callbacks=[timer])
        # LoopTimer epoch 1: 2.10s, 71.4 steps/s - data 0.05s (2%) - step 1.95s (93%) - ...
    """

    def __init__(self, verbose: int = 0):
        super().__init__()
        self.verbose = verbose
        self.epochs: list[dict[str, float]] = []
        self.clock: LoopClock | None = None

    def on_train_begin(self, logs=None):
        self.epochs = []
        self.clock = LoopClock(self.model.device)
        self.model.loop_clock = self.clock

    def on_train_end(self, logs=None):
        self.model.loop_clock = None

    def _started_clock(self) -> LoopClock:
        # fit calls on_train_begin, which sets the clock, before any epoch hook.
        assert self.clock is not None
        return self.clock

    def on_epoch_begin(self, epoch, logs=None):
        self._started_clock().reset()

    def on_epoch_end(self, epoch, logs=None):
        clock = self._started_clock()
        wall = clock.wall_seconds()
        record = dict(clock.seconds)
        record["other"] = max(wall - sum(clock.seconds.values()), 0.0)
        record["total"] = wall
        record["steps_per_second"] = clock.steps / wall if wall > 0 else 0.0
        device_step = clock.device_step_seconds()
        if device_step is not None:
            record["device_step"] = device_step
        self.epochs.append(record)
        if self.verbose:
            parts = " - ".join(
                f"{phase} {record[phase]:.2f}s ({100 * record[phase] / wall:.0f}%)"
                for phase in (*PHASES, "other")
            )
            console.print_line(f"LoopTimer epoch {epoch + 1}: {wall:.2f}s, "
                               f"{record['steps_per_second']:.1f} steps/s - {parts}", model=self.model)
