"""The contenders: each trains one workload and returns seconds per step for each timed epoch.

All use the same model, data, batch size and optimizer (``workloads.adam``). Peers are optional:
a contender whose library is not installed raises ``ImportError`` and the suite skips it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from workloads import TIMED_EPOCHS, WARMUP_EPOCHS, Workload, adam

EPOCHS = WARMUP_EPOCHS + TIMED_EPOCHS
# The suite passes --device to each child process through this variable.
DEVICE = torch.device(os.environ.get("KERASISH_BENCH_DEVICE", "cpu"))
CUDA = DEVICE.type == "cuda"


class _Clock:
    """Per-epoch seconds per step, skipping the warm-up epochs.

    An epoch runs from its start to the next epoch's start (the last one to the end of training),
    so whatever a library does between epochs counts: its epoch-end callbacks and logging, which
    may run after the timing callback's own epoch-end hook, and the next epoch's set-up.
    Hand-written loops call ``end()`` after each epoch, which closes it the same way.
    """

    def __init__(self, steps: int):
        self.steps = steps
        self.per_step: list[float] = []
        self._start: float | None = None
        self._epoch = 0

    def begin(self) -> None:
        self.end()
        self._start = time.perf_counter()

    def end(self) -> None:
        """Close the open epoch, if any (libraries call it once, at the end of training)."""
        if self._start is None:
            return
        if CUDA:
            torch.cuda.synchronize()  # the epoch's queued GPU work belongs to the epoch
        if self._epoch >= WARMUP_EPOCHS:
            self.per_step.append((time.perf_counter() - self._start) / self.steps)
        self._epoch += 1
        self._start = None


def ideal(w: Workload) -> list[float]:
    """The best hand-written loop: data on the device, permutation indexing, no per-step host sync."""
    x, y = (t.to(DEVICE) for t in w.data())
    net, clock = w.model().to(DEVICE), _Clock(w.steps_per_epoch)
    optimizer = adam(net.parameters())
    for _ in range(EPOCHS):
        clock.begin()
        ideal_epoch(w, net, optimizer, x, y)
        clock.end()
    return clock.per_step


def ideal_epoch(w: Workload, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                x: torch.Tensor, y: torch.Tensor) -> None:
    """One epoch of the ideal loop (also run epoch by epoch by ``paired_epochs.py``)."""
    net.train()
    order = torch.randperm(w.samples, device=x.device)
    for i in range(0, w.samples, w.batch_size):
        index = order[i:i + w.batch_size]
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        optimizer.step()


def idiomatic(w: Workload) -> list[float]:
    """The loop most tutorials write: a shuffling DataLoader and ``loss.item()`` every step.

    On CUDA the loader pins its batches and they are copied with ``non_blocking=True``.
    """
    x, y = w.data()
    net, clock = w.model().to(DEVICE), _Clock(w.steps_per_epoch)
    optimizer = adam(net.parameters())
    loader = DataLoader(TensorDataset(x, y), batch_size=w.batch_size, shuffle=True, pin_memory=CUDA)
    for _ in range(EPOCHS):
        clock.begin()
        net.train()
        running = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(DEVICE, non_blocking=True), yb.to(DEVICE, non_blocking=True)
            optimizer.zero_grad()
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item()
        clock.end()
    return clock.per_step


def _timer(base: type, clock: _Clock) -> type:
    """A callback class (of ``base``, a library's Callback) that times epochs start to start."""

    class Timer(base):  # type: ignore[misc, valid-type]
        def on_epoch_begin(self, epoch, logs=None):
            clock.begin()

        def on_train_end(self, logs=None):
            clock.end()

    return Timer


def _kerasish(w: Workload, data: Callable, verbose: int = 0, extra_callbacks=(),
              **compile_kwargs) -> list[float]:
    import kerasish as ks

    clock = _Clock(w.steps_per_epoch)
    Timer = _timer(ks.callbacks.Callback, clock)
    model = ks.Model(w.model(), device=DEVICE).compile(adam, "cross_entropy", **compile_kwargs)
    x, y = data(w)
    kwargs = {} if y is None else {"batch_size": w.batch_size}
    model.fit(x, y, epochs=EPOCHS, verbose=verbose, callbacks=[Timer(), *extra_callbacks], **kwargs)
    return clock.per_step


def kerasish_array(w: Workload) -> list[float]:
    return _kerasish(w, lambda w: tuple(t.numpy() for t in w.data()))


def kerasish_tensor(w: Workload) -> list[float]:
    return _kerasish(w, lambda w: w.data())


def kerasish_dataloader(w: Workload) -> list[float]:
    """The idiomatic loop's DataLoader, which kerasish batches like arrays (a TensorDataset)."""
    return _kerasish(w, lambda w: (_loader(w, DataLoader), None))


class _GeneralLoader(DataLoader):
    """A subclass kerasish cannot see into: iterated as given, per-sample collate included."""


def kerasish_dataloader_general(w: Workload) -> list[float]:
    """DataLoader input on kerasish's general path, as for any dataset with its own __getitem__."""
    return _kerasish(w, lambda w: (_loader(w, _GeneralLoader), None))


def _loader(w: Workload, loader_class: type[DataLoader]) -> DataLoader:
    return loader_class(TensorDataset(*w.data()), batch_size=w.batch_size, shuffle=True)


def kerasish_verbose(w: Workload) -> list[float]:
    """verbose=1 (one line per epoch off a terminal) with History, CSVLogger and TensorBoard."""
    import kerasish as ks

    logs = tempfile.mkdtemp(prefix="kerasish-bench-")
    callbacks = [ks.callbacks.CSVLogger(os.path.join(logs, "log.csv")),
                 ks.callbacks.TensorBoard(log_dir=logs, write_graph=False)]
    return _kerasish(w, lambda w: w.data(), verbose=1, extra_callbacks=callbacks)


def kerasish_jit(w: Workload) -> list[float]:
    """``jit_compile=True`` on tensors (the warm-up epoch absorbs the compilation)."""
    return _kerasish(w, lambda w: w.data(), jit_compile=True)


def kerasish_bf16(w: Workload) -> list[float]:
    """``precision="mixed_bfloat16"`` on tensors."""
    return _kerasish(w, lambda w: w.data(), precision="mixed_bfloat16")


FSDP_CHILD = """
import json, os, sys
sys.path.insert(0, {here!r})
import torch
import kerasish as ks
from contenders import EPOCHS, _Clock, _timer
from workloads import WORKLOADS, adam

w = WORKLOADS[sys.argv[1]]
clock = _Clock(w.steps_per_epoch)
model = ks.Model(w.model(), device="cpu", distribute="fsdp").compile(adam, "cross_entropy")
x, y = w.data()
model.fit(x, y, batch_size=w.batch_size // 2, epochs=EPOCHS, verbose=0,
          callbacks=[_timer(ks.callbacks.Callback, clock)()])
if model.is_main_process:
    print(json.dumps(clock.per_step))
del model
import gc; gc.collect()
torch.distributed.destroy_process_group()
"""


def kerasish_fsdp(w: Workload) -> list[float]:
    """``distribute="fsdp"`` on 2 CPU processes (torchrun, gloo), half the batch each: the global
    batch and the steps per epoch are the other rows'. Peak RSS is the launcher's, not the ranks'."""
    import json
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.join(tempfile.mkdtemp(prefix="kerasish-fsdp-"), "child.py")
    with open(script, "w") as handle:
        handle.write(FSDP_CHILD.format(here=here))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(here), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", script, w.name], capture_output=True,
                            text=True, env=env, timeout=900, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def lightning(w: Workload) -> list[float]:
    import lightning as L

    clock = _Clock(w.steps_per_epoch)

    class Module(L.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return F.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return adam(self.parameters())

    class Timer(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            clock.begin()

        def on_train_end(self, trainer, module):
            clock.end()

    trainer = L.Trainer(max_epochs=EPOCHS, accelerator="gpu" if CUDA else "cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Timer()])
    loader = DataLoader(TensorDataset(*w.data()), batch_size=w.batch_size, shuffle=True,
                        pin_memory=CUDA)
    trainer.fit(Module(w.model()), loader)
    return clock.per_step


def ignite(w: Workload) -> list[float]:
    from ignite.engine import Events, create_supervised_trainer

    clock = _Clock(w.steps_per_epoch)
    net = w.model()
    net = net.to(DEVICE)
    trainer = create_supervised_trainer(net, adam(net.parameters()), F.cross_entropy, device=DEVICE,
                                        non_blocking=CUDA)
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: clock.begin())
    trainer.add_event_handler(Events.COMPLETED, lambda engine: clock.end())
    loader = DataLoader(TensorDataset(*w.data()), batch_size=w.batch_size, shuffle=True,
                        pin_memory=CUDA)
    trainer.run(loader, max_epochs=EPOCHS)
    return clock.per_step


def poutyne(w: Workload) -> list[float]:
    import poutyne

    clock = _Clock(w.steps_per_epoch)

    class Timer(poutyne.Callback):
        def on_epoch_begin(self, epoch_number, logs):
            clock.begin()

        def on_train_end(self, logs):
            clock.end()

    net = w.model()
    model = poutyne.Model(net, adam(net.parameters()), F.cross_entropy, device=DEVICE)
    x, y = w.data()
    model.fit(x, y, batch_size=w.batch_size, epochs=EPOCHS, verbose=False, callbacks=[Timer()])
    return clock.per_step


def _keras_model_and_data(w: Workload):
    """The workload as a Keras 3 model (torch backend) with Keras's Adam and loss, and its data."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras as K

    layers = K.layers
    if w.name == "tiny_mlp":
        body = [K.Input((32,)), layers.Dense(32, activation="relu"), layers.Dense(10)]
    elif w.name == "mnist_mlp":
        body = [K.Input((28, 28, 1)), layers.Flatten(), layers.Dense(256, activation="relu"),
                layers.Dense(10)]
    else:
        body = [K.Input((28, 28, 1)), layers.Conv2D(8, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(), layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10)]
    x, y = w.data()
    x = x.numpy()
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)  # Keras is channels-last
    return K, K.Sequential(body), x, y.numpy()


def keras(w: Workload) -> list[float]:
    K, model, x, y = _keras_model_and_data(w)
    clock = _Clock(w.steps_per_epoch)
    Timer = _timer(K.callbacks.Callback, clock)
    model.compile(optimizer=K.optimizers.Adam(1e-3),
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=w.batch_size, epochs=EPOCHS, verbose=0, callbacks=[Timer()])
    return clock.per_step


def kerasish_keras_model(w: Workload) -> list[float]:
    """The very Keras model of ``keras``, wrapped as it is: ``ks.Model(keras_model)``."""
    import kerasish as ks

    K, keras_model, x, y = _keras_model_and_data(w)
    clock = _Clock(w.steps_per_epoch)
    Timer = _timer(ks.callbacks.Callback, clock)
    model = ks.Model(keras_model, device=DEVICE).compile(
        K.optimizers.Adam(1e-3), K.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=w.batch_size, epochs=EPOCHS, verbose=0, callbacks=[Timer()])
    return clock.per_step


CONTENDERS: dict[str, Callable[[Workload], list[float]]] = {
    "ideal": ideal,
    "idiomatic": idiomatic,
    "kerasish_array": kerasish_array,
    "kerasish_tensor": kerasish_tensor,
    "kerasish_dataloader": kerasish_dataloader,
    "kerasish_dataloader_general": kerasish_dataloader_general,
    "kerasish_verbose": kerasish_verbose,
    "kerasish_jit": kerasish_jit,
    "kerasish_bf16": kerasish_bf16,
    "kerasish_fsdp": kerasish_fsdp,
    "lightning": lightning,
    "ignite": ignite,
    "poutyne": poutyne,
    "keras": keras,
    "kerasish_keras_model": kerasish_keras_model,
}
# The peer libraries kerasish must beat; the suite compares every kerasish row with each, round by round.
PEERS = ("lightning", "ignite", "poutyne", "keras")
# Run by default only on CUDA, where their targets are (compilation and bf16 are slow on this CPU).
CUDA_DEFAULT_ONLY = ("kerasish_jit", "kerasish_bf16")
# Run only when named (--contenders kerasish_fsdp): it starts 2 processes of its own under torchrun.
OPT_IN = ("kerasish_fsdp",)
