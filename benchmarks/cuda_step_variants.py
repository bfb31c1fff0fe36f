"""Which training-step shape is fastest on CUDA for a tiny model? The evidence behind jit_compile.

Every variant trains the tiny MLP of the suite (32-32-10, batch 64, Adam) on data resident on the
GPU, indexed with a permutation each step, and reports the median microseconds per step over
timed epochs (the GPU is synchronised at each epoch end):

- eager: the ideal hand-written loop (foreach Adam, torch's CUDA default)
- eager_fused: the same with ``Adam(fused=True)``
- compile: ``torch.compile`` of forward + loss (backward compiled by AOTAutograd)
- compile_ro: the same with ``mode="reduce-overhead"`` (CUDA graphs for forward and backward)
- compile_ro_opt: compile_ro and a compiled optimizer step
- graph: forward, backward and a capturable Adam step captured in one ``torch.cuda.graph``
- kerasish / kerasish_jit: ``fit`` with ``jit_compile`` off and on

    python benchmarks/cuda_step_variants.py --epochs 6
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

SAMPLES, FEATURES, CLASSES, BATCH = 64 * 150, 32, 10, 64
STEPS = SAMPLES // BATCH


def setup(device):
    torch.manual_seed(0)
    x = torch.randn(SAMPLES, FEATURES, device=device)
    y = torch.randint(0, CLASSES, (SAMPLES,), device=device)
    net = torch.nn.Sequential(torch.nn.Linear(FEATURES, 32), torch.nn.ReLU(),
                              torch.nn.Linear(32, CLASSES)).to(device)
    return x, y, net


def timed_epochs(epochs, run_epoch):
    per_step = []
    for epoch in range(epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run_epoch(epoch)
        torch.cuda.synchronize()
        if epoch >= 2:  # two warm-up epochs: compilation, graph capture, allocator
            per_step.append((time.perf_counter() - start) / STEPS)
    return statistics.median(per_step)


def loop(device, epochs, *, fused=False, compile_mode=None, compile_opt=False):
    x, y, net = setup(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, fused=fused or None)

    def forward_loss(xb, yb):
        return F.cross_entropy(net(xb), yb)

    if compile_mode is not None:
        forward_loss = torch.compile(forward_loss, mode=compile_mode)
    step = optimizer.step
    if compile_opt:
        step = torch.compile(optimizer.step)

    def epoch(_):
        order = torch.randperm(SAMPLES, device=device)
        for i in range(0, SAMPLES, BATCH):
            index = order[i:i + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = forward_loss(x.index_select(0, index), y.index_select(0, index))
            loss.backward()
            step()

    return timed_epochs(epochs, epoch)


def whole_graph(device, epochs):
    x, y, net = setup(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, capturable=True)
    static_x, static_y = x[:BATCH].clone(), y[:BATCH].clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(static_x), static_y).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = F.cross_entropy(net(static_x), static_y)
        static_loss.backward()
        optimizer.step()

    def epoch(_):
        order = torch.randperm(SAMPLES, device=device)
        for i in range(0, SAMPLES, BATCH):
            index = order[i:i + BATCH]
            torch.index_select(x, 0, index, out=static_x)
            torch.index_select(y, 0, index, out=static_y)
            graph.replay()

    return timed_epochs(epochs, epoch)


def kerasish_fit(device, epochs, jit_compile):
    import kerasish as ks

    x, y, net = setup(device)
    per_step = []

    class Timer(ks.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            torch.cuda.synchronize()
            if epoch >= 2:
                per_step.append((time.perf_counter() - self.start) / STEPS)

    model = ks.Model(net, device=device).compile(
        lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7), "cross_entropy", jit_compile=jit_compile)
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Timer()])
    return statistics.median(per_step)


VARIANTS = {
    "eager": lambda d, e: loop(d, e),
    "eager_fused": lambda d, e: loop(d, e, fused=True),
    "compile": lambda d, e: loop(d, e, compile_mode="default"),
    "compile_ro": lambda d, e: loop(d, e, compile_mode="reduce-overhead"),
    "compile_ro_opt": lambda d, e: loop(d, e, compile_mode="reduce-overhead", compile_opt=True),
    "graph": whole_graph,
    "kerasish": lambda d, e: kerasish_fit(d, e, False),
    "kerasish_jit": lambda d, e: kerasish_fit(d, e, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    device = torch.device("cuda")
    results = {}
    for name in args.variants:
        try:
            results[name] = VARIANTS[name](device, args.epochs)
        except Exception as error:  # noqa: BLE001 - a failing variant is a finding, not a crash
            results[name] = f"failed: {type(error).__name__}: {str(error)[:160]}"
        print(name, results[name], flush=True)
    base = results.get("eager")
    print(f"\n{torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    print("| variant | us/step | speed-up over eager |\n|---|---:|---:|")
    for name, value in results.items():
        if isinstance(value, str):
            print(f"| {name} | {value} | |")
        else:
            speedup = f"{base / value:.2f}x" if isinstance(base, float) else "-"
            print(f"| {name} | {value * 1e6:.1f} | {speedup} |")


if __name__ == "__main__":
    main()
