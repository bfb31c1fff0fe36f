"""Loop overhead: kerasish ``fit(verbose=0)`` against the ideal hand-written loop.

Both train the same tiny MLP (32-32-10, batch 64, Adam) on the same in-memory tensors. The ideal
loop indexes the tensors with a permutation and never syncs with the host: nothing a training loop
can do is cheaper. Each contender runs in its own process (no shared caches or allocator state),
the processes are interleaved (A B A B ...) so drift in machine load hits both, and each reports
the median time per step over its timed epochs. The printed ratio is median(kerasish) /
median(ideal).

    python benchmarks/loop_overhead.py               # 5 rounds
    python benchmarks/loop_overhead.py --rounds 9 --json results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

SAMPLES, FEATURES, CLASSES, HIDDEN, BATCH = 64 * 150, 32, 10, 32, 64
WARMUP_EPOCHS, TIMED_EPOCHS = 1, 5


def _setup():
    import torch

    torch.manual_seed(0)
    x = torch.randn(SAMPLES, FEATURES)
    y = torch.randint(0, CLASSES, (SAMPLES,))
    net = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES)
    )
    return torch, x, y, net


def run_ideal() -> list[float]:
    torch, x, y, net = _setup()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.functional.cross_entropy
    steps = SAMPLES // BATCH
    per_epoch = []
    for epoch in range(WARMUP_EPOCHS + TIMED_EPOCHS):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(SAMPLES)
        for i in range(0, SAMPLES, BATCH):
            index = order[i:i + BATCH]
            xb, yb = x.index_select(0, index), y.index_select(0, index)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
        if epoch >= WARMUP_EPOCHS:
            per_epoch.append((time.perf_counter() - start) / steps)
    return per_epoch


def run_kerasish() -> list[float]:
    torch, x, y, net = _setup()
    import kerasish as ks

    steps = SAMPLES // BATCH
    per_epoch: list[float] = []

    class EpochTimer(ks.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch >= WARMUP_EPOCHS:
                per_epoch.append((time.perf_counter() - self.start) / steps)

    model = ks.Model(net, device="cpu").compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=BATCH, epochs=WARMUP_EPOCHS + TIMED_EPOCHS, verbose=0,
              callbacks=[EpochTimer()])
    return per_epoch


CONTENDERS = {"ideal": run_ideal, "kerasish": run_kerasish}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--child", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CONTENDERS[args.child]()))
        return

    runs: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(args.rounds):
        for name in CONTENDERS:  # interleaved: ideal, kerasish, ideal, kerasish, ...
            out = subprocess.run([sys.executable, __file__, "--child", name], check=True,
                                 capture_output=True, text=True).stdout
            runs[name].append(statistics.median(json.loads(out.strip().splitlines()[-1])))
    ideal = statistics.median(runs["ideal"])
    ours = statistics.median(runs["kerasish"])
    print("| contender | us/step (median) | ratio to ideal |")
    print("|---|---:|---:|")
    for name in CONTENDERS:
        value = statistics.median(runs[name])
        print(f"| {name} | {value * 1e6:.1f} | {value / ideal:.3f} |")
    print(f"\nkerasish / ideal = {ours / ideal:.3f} (target <= 1.05), {args.rounds} rounds")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rounds": runs, "ratio": ours / ideal}, handle, indent=2)


if __name__ == "__main__":
    main()
