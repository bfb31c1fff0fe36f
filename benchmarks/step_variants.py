"""Which training-step shape is fastest for a tiny model? The evidence behind jit_compile.

Every variant trains the tiny MLP of the suite (32-32-10, batch 64, Adam) on data resident on the
device, indexed with a permutation each step, and reports the median microseconds per step over
timed epochs (a GPU is synchronised at each epoch end):

- eager: the ideal hand-written loop (foreach Adam on CUDA, torch's default)
- eager_fused: the same with ``Adam(fused=True)``
- compile: ``torch.compile`` of forward + loss (backward compiled by AOTAutograd)
- compile_opt: eager forward and backward, a compiled optimizer step
- compile_both: compile and a compiled optimizer step (what ``jit_compile=True`` does)
- compile_ro: ``mode="reduce-overhead"`` (CUDA graphs for forward and backward; CUDA only)
- compile_ro_opt: compile_ro and a compiled optimizer step (CUDA only)
- graph: forward, backward and a capturable Adam step captured in one ``torch.cuda.graph``
  (CUDA only)
- kerasish / kerasish_jit: ``fit`` with ``jit_compile`` off and on
- kerasish_adam_by_name: ``compile("adam")``, which picks the fused kernel where it can

    python benchmarks/step_variants.py --device cuda --epochs 6
    python benchmarks/step_variants.py --device cpu --rounds 3
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


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_epochs(device, epochs, run_epoch):
    per_step = []
    for epoch in range(epochs):
        synchronize(device)
        start = time.perf_counter()
        run_epoch(epoch)
        synchronize(device)
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

    return timed_epochs(device, epochs, epoch)


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

    return timed_epochs(device, epochs, epoch)


def kerasish_fit(device, epochs, jit_compile, optimizer=None):
    import kerasish as ks

    x, y, net = setup(device)
    per_step = []

    class Timer(ks.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            synchronize(device)
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            synchronize(device)
            if epoch >= 2:
                per_step.append((time.perf_counter() - self.start) / STEPS)

    optimizer = optimizer or (lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7))
    model = ks.Model(net, device=device).compile(optimizer, "cross_entropy", jit_compile=jit_compile)
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Timer()])
    return statistics.median(per_step)


VARIANTS = {
    "eager": lambda d, e: loop(d, e),
    "eager_fused": lambda d, e: loop(d, e, fused=True),
    "compile": lambda d, e: loop(d, e, compile_mode="default"),
    "compile_opt": lambda d, e: loop(d, e, compile_opt=True),
    "compile_both": lambda d, e: loop(d, e, compile_mode="default", compile_opt=True),
    "compile_ro": lambda d, e: loop(d, e, compile_mode="reduce-overhead"),
    "compile_ro_opt": lambda d, e: loop(d, e, compile_mode="reduce-overhead", compile_opt=True),
    "graph": whole_graph,
    "kerasish": lambda d, e: kerasish_fit(d, e, False),
    "kerasish_jit": lambda d, e: kerasish_fit(d, e, True),
    "kerasish_adam_by_name": lambda d, e: kerasish_fit(d, e, False, "adam"),
}

CUDA_ONLY = ("compile_ro", "compile_ro_opt", "graph")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every variant this many times, interleaved; the table gives the median")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        help="default: all that run on the device")
    args = parser.parse_args()
    device = torch.device(args.device)
    names = args.variants or [n for n in VARIANTS if device.type == "cuda" or n not in CUDA_ONLY]
    runs: dict[str, list] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            torch.compiler.reset()  # torch caps compilations per function, over all optimizers
            try:
                runs[name].append(VARIANTS[name](device, args.epochs))
            except Exception as error:  # noqa: BLE001 - a failing variant is a finding, not a crash
                runs[name].append(f"failed: {type(error).__name__}: {str(error)[:160]}")
            print(name, runs[name][-1], flush=True)
    results = {name: next((r for r in values if isinstance(r, str)), None)
               or statistics.median(values) for name, values in runs.items()}
    base = results.get("eager")
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"\n{where}, torch {torch.__version__}, {args.rounds} round(s), medians\n")
    print("| variant | us/step | speed-up over eager |\n|---|---:|---:|")
    for name, value in results.items():
        if isinstance(value, str):
            print(f"| {name} | {value} | |")
        else:
            speedup = f"{base / value:.2f}x" if isinstance(base, float) else "-"
            print(f"| {name} | {value * 1e6:.1f} | {speedup} |")


if __name__ == "__main__":
    main()
