"""What the ports of Keras's Adafactor, Muon and ScheduleFreeAdamW tests share: Keras's variables
as float32 parameters, the config round trip checked against Keras's own ``get_config``, several
steps of ours against Keras's own optimizer on the same gradients, and an exact resume.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

from .twins import keras


def variable(values) -> torch.nn.Parameter:
    """A Keras ``backend.Variable``: a float32 parameter (Keras's floatx)."""
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))


def close(actual, expected, tol: float) -> None:
    np.testing.assert_allclose(torch.as_tensor(actual).detach().numpy(), expected, rtol=tol, atol=tol)


def check_config(ours, theirs) -> None:
    """``run_class_serialization_test``'s config half: ours round-trips through ``from_config``
    and equals Keras's ``get_config`` (the default name's running number aside, and the learning
    rate Keras keeps in float32)."""
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    theirs = theirs.get_config()
    assert re.sub(r"_\d+$", "", config.pop("name")) == re.sub(r"_\d+$", "", theirs.pop("name"))
    assert config.keys() == theirs.keys()
    for key, value in config.items():
        assert value == (pytest.approx(theirs[key], rel=1e-7) if isinstance(value, float) else theirs[key])


def gradients(shapes, steps: int, seed: int = 23) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s).astype("float32") for s in shapes] for _ in range(steps)]


def start_values(shapes, seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


def keras_steps(optimizer, names, starts, grads) -> list[np.ndarray]:
    """Keras's weights after applying ``grads`` (a list per step) with its own optimizer."""
    variables = [keras.Variable(v, name=n) for n, v in zip(names, starts)]
    for step in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), v) for g, v in zip(step, variables)])
    return [np.array(v.numpy()) for v in variables]


def ks_steps(optimizer, names, starts, grads) -> list[np.ndarray]:
    """Ours after the same: ``apply_gradients`` with ``(name, parameter)`` pairs (Keras's paths)."""
    params = [variable(v) for v in starts]
    for step in grads:
        optimizer.apply([torch.tensor(g) for g in step], list(zip(names, params)))
    return [p.detach().numpy() for p in params]


def relative_gap(ours, theirs) -> float:
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)) for a, b in zip(ours, theirs))


def check_exact_resume(make, shapes, steps: int = 6) -> None:
    """Training ``steps`` steps in one go and in two halves, the second from a fresh optimizer
    (and fresh parameters) loaded with the first's ``state_dict`` copied, end bit-identical."""
    starts, grads = start_values(shapes), gradients(shapes, steps)

    def run(params, optimizer, part):
        for step in part:
            for p, g in zip(params, step):
                p.grad = torch.tensor(g)
            optimizer.step()

    whole = [variable(v) for v in starts]
    run(whole, make(whole), grads)
    first = [variable(v) for v in starts]
    optimizer = make(first)
    run(first, optimizer, grads[: steps // 2])
    saved = copy.deepcopy(optimizer.state_dict())  # as a file would hold it: no shared tensors
    second = [variable(p.detach().numpy()) for p in first]
    resumed = make(second)
    resumed.load_state_dict(saved)
    run(second, resumed, grads[steps // 2:])
    for a, b in zip(whole, second):
        assert torch.equal(a, b)
    moved = relative_gap([p.detach().numpy() for p in whole], starts)
    assert moved > 1e-4
