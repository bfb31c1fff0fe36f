"""Small models and data shared by the core tests."""

from __future__ import annotations

import numpy as np
import torch

import kerasish as ks


def mlp(inputs: int = 8, hidden: int = 16, outputs: int = 3, dropout: float = 0.0) -> torch.nn.Module:
    layers: list[torch.nn.Module] = [torch.nn.Linear(inputs, hidden), torch.nn.ReLU()]
    if dropout:
        layers.append(torch.nn.Dropout(dropout))
    layers.append(torch.nn.Linear(hidden, outputs))
    return torch.nn.Sequential(*layers)


def classification_data(n: int = 120, features: int = 8, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    w = rng.normal(size=(features, classes))
    y = (x @ w).argmax(axis=1).astype("int64")
    return x, y


def regression_data(n: int = 120, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = (x @ rng.normal(size=(features, 1))).astype("float32")
    return x, y


class GeneralLoader(torch.utils.data.DataLoader):
    """A DataLoader subclass: kerasish cannot know its batching, so it iterates it as given."""


class GeneralDataset(torch.utils.data.TensorDataset):
    """A TensorDataset subclass: kerasish cannot know its __getitem__, so it collates samples."""


def weights_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same_weights(a: dict, b: dict, atol: float = 0.0) -> bool:
    if atol == 0.0:
        return all(torch.equal(a[k], b[k]) for k in a)
    return all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


class Scripted(ks.callbacks.Callback):
    """Overwrites one epoch log value with a scripted sequence (put it before the callback tested)."""

    def __init__(self, key: str, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class WeightsPerEpoch(ks.callbacks.Callback):
    """Records the module's weights at each epoch end."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(weights_of(self.model.module))


class Interrupted(Exception):
    """What ``InterruptAfter`` raises: a job stopped from outside."""


class InterruptAfter(ks.callbacks.Callback):
    """Raises after the given global batch (1-based) and all its hooks, backups included."""

    def __init__(self, global_batch: int):
        super().__init__()
        self.global_batch, self.seen = global_batch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.global_batch:
            raise Interrupted


class Crash(ks.callbacks.Callback):
    """Raises at the end of the given global training batch (1-based), as a failing job would."""

    def __init__(self, at_batch: int):
        super().__init__()
        self.at_batch, self.seen = at_batch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at_batch:
            raise RuntimeError("job killed")
