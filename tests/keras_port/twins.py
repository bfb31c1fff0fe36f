"""Keras reference models and their torch twins, built with identical weights.

A Keras functional model is built from Dense layers with named outputs; ``twin`` builds the torch
module that computes the same function (a Dense kernel is ``(in, out)``, so the torch weight is its
transpose). Multi-output twins return a tuple for Keras's list outputs and a dict for dict outputs.
Output layers are named ``output_0``, ``output_1``, ... so that Keras's log keys for named outputs
line up with kerasish's keys for tuple outputs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ["KERAS_BACKEND"] = "torch"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # Keras was imported earlier with another backend
    pytest.skip(f"the Keras ports need KERAS_BACKEND=torch, not {keras.backend.backend()}",
                allow_module_level=True)

ACTIVATIONS = {
    None: lambda t: t,
    "linear": lambda t: t,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda t: torch.softmax(t, dim=-1),
}

RTOL, ATOL = 1e-5, 1e-6


def linear_from(layer) -> torch.nn.Linear:
    """A torch Linear holding a Keras Dense layer's current weights."""
    weights = layer.get_weights()
    kernel = weights[0]
    linear = torch.nn.Linear(kernel.shape[0], kernel.shape[1], bias=len(weights) > 1)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
        if len(weights) > 1:
            linear.bias.copy_(torch.from_numpy(weights[1]))
    return linear


class DenseTwin(torch.nn.Module):
    """The torch module computing what ``dense_model``'s Keras model computes."""

    def __init__(self, kmodel, heads, kind: str, hidden: bool):
        super().__init__()
        self.hidden = linear_from(kmodel.get_layer("hidden")) if hidden else None
        self.heads = torch.nn.ModuleList([linear_from(kmodel.get_layer(name)) for name, _, _ in heads])
        self.names = [name for name, _, _ in heads]
        self.activations = [act for _, _, act in heads]
        self.kind = kind

    def forward(self, x):
        if self.hidden is not None:
            x = torch.relu(self.hidden(x))
        outs = [ACTIVATIONS[act](head(x)) for head, act in zip(self.heads, self.activations)]
        if self.kind == "single":
            return outs[0]
        if self.kind == "list":
            return tuple(outs)
        return dict(zip(self.names, outs))


def dense_model(features: int = 3, heads=(("output_0", 1, None),), kind: str = "single",
                hidden: int | None = None, seed: int = 0, **dense_kwargs):
    """``(keras_model, torch_twin)``: Input -> [Dense hidden, relu] -> one Dense per head.

    ``heads`` are ``(name, units, activation)``; ``kind`` is ``"single"`` (one tensor), ``"list"``
    (Keras list outputs; the twin returns a tuple) or ``"dict"``.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((features,), name="x")
    h = inputs
    if hidden:
        h = keras.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
    outs = [keras.layers.Dense(units, activation=act, name=name, **dense_kwargs)(h)
            for name, units, act in heads]
    if kind == "single":
        structure = outs[0]
    elif kind == "list":
        structure = outs
    else:
        structure = {name: out for (name, _, _), out in zip(heads, outs)}
    kmodel = keras.Model(inputs, structure)
    return kmodel, DenseTwin(kmodel, list(heads), kind, bool(hidden))


def weights_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_unchanged(before: dict[str, torch.Tensor], module: torch.nn.Module) -> None:
    after = module.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed, f"weights changed although the input was rejected: {changed}"


def assert_logs_close(ours, theirs, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Same keys, and every value (a float or a per-epoch list) close to Keras's."""
    assert sorted(ours) == sorted(theirs), f"log keys differ: ours {sorted(ours)}, Keras {sorted(theirs)}"
    for key in theirs:
        np.testing.assert_allclose(np.asarray(ours[key], dtype="float64"),
                                   np.asarray(theirs[key], dtype="float64"),
                                   rtol=rtol, atol=atol, err_msg=f"log {key!r} differs from Keras")
