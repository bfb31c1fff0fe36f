"""The benchmark workloads: identical model, data and optimizer for every contender.

Data is random (timing does not depend on it) and made from a fixed seed in each process, so every
contender trains the very same model on the very same tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Workload:
    name: str
    input_shape: tuple[int, ...]
    classes: int
    batch_size: int
    steps_per_epoch: int
    build: Callable[[], torch.nn.Module]

    @property
    def samples(self) -> int:
        return self.batch_size * self.steps_per_epoch

    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(self.samples, *self.input_shape, generator=generator)
        y = torch.randint(0, self.classes, (self.samples,), generator=generator)
        return x, y

    def model(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return self.build()


def _tiny_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def _mnist_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


def _small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10),
    )


WORKLOADS = {
    "tiny_mlp": Workload("tiny_mlp", (32,), 10, 64, 150, _tiny_mlp),
    "mnist_mlp": Workload("mnist_mlp", (1, 28, 28), 10, 128, 60, _mnist_mlp),
    "small_cnn": Workload("small_cnn", (1, 28, 28), 10, 64, 30, _small_cnn),
}

WARMUP_EPOCHS = 1
TIMED_EPOCHS = 10  # many short epochs: the median and the fastest epoch both steady
LEARNING_RATE = 1e-3


def adam(parameters) -> torch.optim.Optimizer:
    """The one optimizer every contender uses (Keras's Adam defaults)."""
    return torch.optim.Adam(parameters, lr=LEARNING_RATE, eps=1e-7)
