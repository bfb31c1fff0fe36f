"""Keras 3.15.1's ``keras/src/optimizers/schedules/learning_rate_schedule_test.py``, ported onto
``ks.optimizers.schedules`` case by case: Keras's inputs and Keras's expected numbers.

Keras passes a step as a Python number or as a ``backend.Variable`` it assigns; the port passes a
number or a 0-d torch tensor. ``run_class_serialization_test`` becomes a ``get_config`` /
``from_config`` round trip checked against Keras's own ``get_config`` for the same arguments
(the ``keras.saving`` registry part is left out, see NOT_PORTED.md).
"""

import math

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

S = ks.optimizers.schedules


def close(value, expected, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(value, dtype=np.float64), expected, rtol=rtol, atol=rtol)


# TestFitLRSchedulesFlow
def test_fit_lr_correctness():
    net = torch.nn.Linear(2, 2)
    torch.nn.init.ones_(net.weight)
    torch.nn.init.ones_(net.bias)
    optimizer = ks.optimizers.Adam(
        learning_rate=S.ExponentialDecay(initial_learning_rate=0.05, decay_steps=1, decay_rate=0.9))
    assert optimizer.iterations == 0
    model = ks.Model(net, device="cpu").compile(optimizer=optimizer, loss="mse")
    x = np.arange(32).reshape((16, 2)).astype("float32")
    y = np.arange(32).reshape((16, 2)).astype("float32")
    history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert model.optimizer.param_groups[0]["iterations"] == 4 * 3
    close(history.history["loss"], [230.79457092285156, 128.30319213867188, 79.33648681640625], 5e-5)


CONFIGS = {
    "ExponentialDecay": dict(initial_learning_rate=0.05, decay_steps=10, decay_rate=0.96, staircase=True,
                             name="my_ed"),
    "PiecewiseConstantDecay": dict(boundaries=[10, 20], values=[1, 2, 3], name="my_pcd"),
    "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=100, end_learning_rate=0.005, power=1.0,
                            cycle=False, name="my_ld"),
    "InverseTimeDecay": dict(initial_learning_rate=0.05, decay_steps=10, decay_rate=0.96, staircase=True,
                             name="my_itd"),
    "CosineDecay": dict(initial_learning_rate=0.05, decay_steps=10, alpha=0.1, warmup_target=0.2,
                        warmup_steps=2, name="my_cd"),
    "CosineDecayRestarts": dict(initial_learning_rate=0.05, first_decay_steps=10, alpha=0.1, t_mul=3.0,
                                m_mul=4.0, name="my_cdr"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_config(name):
    """Each class's test_config (ExponentialDecayTest, ..., LinearDecayTest is PolynomialDecay)."""
    schedule = getattr(S, name)(**CONFIGS[name])
    config = schedule.get_config()
    assert config == getattr(keras.optimizers.schedules, name)(**CONFIGS[name]).get_config()
    again = type(schedule).from_config(config)
    assert again.get_config() == config
    for step in (0, 3, 15, 40):
        assert again.lr_at(step) == schedule.lr_at(step)


# ExponentialDecayTest
def test_exponential_continuous():
    close(S.ExponentialDecay(0.05, 10, 0.96)(5), 0.05 * 0.96 ** (5.0 / 10.0))


@pytest.mark.parametrize("case", ["staircase", "variables"])
def test_exponential_staircase(case):
    """test_staircase and test_variables (the same assertions on an assigned step variable)."""
    decayed_lr = S.ExponentialDecay(0.1, 3, 0.96, staircase=True)
    close(decayed_lr(torch.tensor(1.0)), 0.1)
    close(decayed_lr(torch.tensor(2.0)), 0.1)
    close(decayed_lr(torch.tensor(100.0)), 0.1 * 0.96 ** (100 // 3))


# PiecewiseConstantDecayTest
def test_piecewise_values():
    decayed_lr = S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001])
    for step, expected in ((-999.0, 1.0), (100, 1.0), (105, 0.1), (110, 0.1), (120, 0.01), (999, 0.001)):
        close(decayed_lr(torch.tensor(float(step))), expected)


def test_boundary_values():
    decayed_lr = S.PiecewiseConstantDecay([1, 2, 3], [0.4, 0.5, 0.6, 0.7])
    for step, expected in ((0, 0.4), (1, 0.4), (2, 0.5), (3, 0.6), (4, 0.7)):
        close(decayed_lr(torch.tensor(step, dtype=torch.int64)), expected)


# LinearDecayTest (power 1) and SqrtDecayTest (power 0.5): (step, end_lr, cycle, expected)
LR = 0.05


def _polynomial_cases(power):
    return [
        ("halfway", 5, 0.0, False, LR * 0.5 ** power),
        ("end", 10, 0.001, False, 0.001),
        ("halfway_with_end", 5, 0.001, False, (LR - 0.001) * 0.5 ** power + 0.001),
        ("beyond_end", 15, 0.001, False, 0.001),
        ("beyond_end_with_cycle", 15, 0.001, True, (LR - 0.001) * 0.25 ** power + 0.001),
    ]


@pytest.mark.parametrize("power", [1.0, 0.5], ids=["linear", "sqrt"])
@pytest.mark.parametrize("index", range(5), ids=[c[0] for c in _polynomial_cases(1.0)])
def test_polynomial(power, index):
    _, step, end_lr, cycle, expected = _polynomial_cases(power)[index]
    if power == 1.0 and index == 2:  # LinearDecayTest.test_halfway_with_end states it this way
        expected = (LR + end_lr) * 0.5
    close(S.PolynomialDecay(LR, 10, end_lr, power=power, cycle=cycle)(step), expected)


def test_sqrt_begin_with_cycle():
    close(S.PolynomialDecay(0.001, 10, cycle=True)(0), 0.001)


# InverseTimeDecayTest
@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time(staircase):
    initial_lr, k, decay_rate = 0.1, 10, 0.96
    decayed_lr = S.InverseTimeDecay(initial_lr, k, decay_rate, staircase=staircase)
    for i in range(k + 1):
        progress = i // k if staircase else i / k
        close(decayed_lr(torch.tensor(float(i))), initial_lr / (1 + decay_rate * progress))


# CosineDecayTest
def np_cosine_decay(step, decay_steps, alpha=0.0):
    step = min(step, decay_steps)
    decay = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


def linear_warmup(step, warmup_steps, initial_lr, target_lr):
    return step / warmup_steps * (target_lr - initial_lr)


@pytest.mark.parametrize("initial_lr, alpha", [(1.0, 0.0), (1.0, 0.1), (np.float64(1.0), 0.0)],
                         ids=["decay", "alpha", "float64"])
def test_cosine_decay(initial_lr, alpha):
    for step in range(0, 1500, 250):
        close(S.CosineDecay(initial_lr, 1000, alpha)(step), np_cosine_decay(step, 1000, alpha))


def test_cosine_warmup():
    for step in range(0, 1500, 250):
        lr = S.CosineDecay(0.0, 10, warmup_target=10.0, warmup_steps=1500)
        close(lr(step), linear_warmup(step, 1500, 0.0, 10.0), 1e-6)


def test_cosine_warmup_decay():
    warmup_steps, decay_steps, target_lr = 2000, 1000, 10.0
    for step in range(0, 3000, 250):
        lr = S.CosineDecay(0.0, decay_steps, warmup_target=target_lr, warmup_steps=warmup_steps)
        if step < warmup_steps + 1:
            expected = linear_warmup(step, warmup_steps, 0.0, target_lr)
        else:
            expected = target_lr * np_cosine_decay(step - warmup_steps, decay_steps)
        close(lr(step), expected, 1e-6)


# CosineDecayRestartsTest
def np_cosine_decay_restarts(step, decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    fac = 1.0
    while step >= decay_steps:
        step -= decay_steps
        decay_steps *= t_mul
        fac *= m_mul
    decay = fac * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


@pytest.mark.parametrize("initial_lr, kwargs", [
    (1.0, {}), (np.float64(1.0), {}), (1.0, {"alpha": 0.1}), (1.0, {"m_mul": 0.9}), (1.0, {"t_mul": 1.0}),
], ids=["decay", "float64", "alpha", "mmul", "tmul"])
def test_cosine_decay_restarts(initial_lr, kwargs):
    for step in range(0, 1500, 250):
        decayed_lr = S.CosineDecayRestarts(initial_lr, 1000, **kwargs)
        close(decayed_lr(step), np_cosine_decay_restarts(step, 1000, **kwargs))
