"""Loop overhead on a noisy machine: kerasish and the ideal loop, epoch against epoch, in one process.

    python benchmarks/paired_epochs.py                       # every workload, 40 pairs
    python benchmarks/paired_epochs.py --workloads tiny_mlp --pairs 60

The suite runs each contender in its own process, minutes apart, so on a shared machine the load
each one meets differs and single ratios move by tens of percent. Here the ideal hand-written loop
(``contenders.ideal_epoch``) and ``fit`` take turns, one epoch each, on the same workload in the
same process: both meet the same load, and the ratio of two neighbouring epochs cancels most of
it. The order alternates (ideal first, then kerasish first) so neither always runs warmer. The
table gives the median of the paired ratios with its quartiles; a median of 1.03 means fit's
epochs took 3% longer than the ideal loop's next to them. The ``ideal`` row pairs the ideal loop
with a second copy of itself: the control, which shows how far from 1.0 the method itself lands.

A kerasish epoch is timed from its ``on_epoch_begin`` (the timer is the first callback) to the
end of every ``on_epoch_end`` (the timer's ``on_train_end`` runs first of those hooks), so the
verbose variant pays for its progress line, CSV row and TensorBoard scalars.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

import torch

from contenders import ideal_epoch
from workloads import WORKLOADS, Workload, adam

# "ideal" pairs the ideal loop with a second copy of itself: the control, whose median says how far
# the method itself is from 1.0 on this machine.
VARIANTS = ("ideal", "arrays", "tensors", "verbose")


class IdealLoop:
    """The suite's ideal loop, one epoch per call."""

    def __init__(self, w: Workload):
        self.w = w
        self.x, self.y = w.data()
        self.net = w.model()
        self.optimizer = adam(self.net.parameters())

    def epoch(self) -> float:
        start = time.perf_counter()
        ideal_epoch(self.w, self.net, self.optimizer, self.x, self.y)
        return (time.perf_counter() - start) / self.w.steps_per_epoch


class KerasishEpochs:
    """``fit(epochs=1)`` per call on one compiled model, with the variant's input and callbacks."""

    def __init__(self, w: Workload, variant: str):
        import kerasish as ks

        self.w = w
        x, y = w.data()
        self.x, self.y = (x.numpy(), y.numpy()) if variant == "arrays" else (x, y)
        self.model = ks.Model(w.model(), device="cpu").compile(adam, "cross_entropy")
        self.verbose = 1 if variant == "verbose" else 0
        self.seconds: list[float] = []
        timer = self._timer(ks)
        self.callbacks = [timer]
        if variant == "verbose":
            logs = tempfile.mkdtemp(prefix="kerasish-paired-")
            self.callbacks += [ks.callbacks.CSVLogger(os.path.join(logs, "log.csv"), append=True),
                               ks.callbacks.TensorBoard(log_dir=logs, write_graph=False)]

    def _timer(self, ks):
        seconds = self.seconds

        class Timer(ks.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_train_end(self, logs=None):
                seconds.append(time.perf_counter() - self.start)

        return Timer()

    def epoch(self) -> float:
        with contextlib.redirect_stdout(io.StringIO()):
            self.model.fit(self.x, self.y, batch_size=self.w.batch_size, epochs=1,
                           verbose=self.verbose, callbacks=self.callbacks)
        return self.seconds[-1] / self.w.steps_per_epoch


def paired_ratios(w: Workload, variant: str, pairs: int) -> tuple[list[float], float, float]:
    ideal = IdealLoop(w)
    ours = IdealLoop(w) if variant == "ideal" else KerasishEpochs(w, variant)
    ideal.epoch(), ours.epoch()  # warm-up
    ratios, ideal_times, our_times = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            a = ideal.epoch()
            b = ours.epoch()
        else:
            b = ours.epoch()
            a = ideal.epoch()
        ratios.append(b / a)
        ideal_times.append(a)
        our_times.append(b)
    return ratios, min(ideal_times), min(our_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    print(f"CPU, torch {torch.__version__} ({torch.get_num_threads()} threads), {args.pairs} pairs of "
          "epochs per row, all in this one process\n")
    print("| workload | paired with the ideal loop | median paired ratio | quartiles | ideal best us/step "
          "| kerasish best us/step | best ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.workloads:
        for variant in args.variants:
            ratios, ideal_best, our_best = paired_ratios(WORKLOADS[name], variant, args.pairs)
            q1, _, q3 = statistics.quantiles(ratios, n=4)
            print(f"| {name} | {variant} | {statistics.median(ratios):.3f} | {q1:.3f}-{q3:.3f} "
                  f"| {ideal_best * 1e6:.1f} | {our_best * 1e6:.1f} | {our_best / ideal_best:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
