"""Keras 3.15.1's ``keras/src/optimizers/adafactor_test.py`` (7 cases) and the Adafactor cases of
``optimizer_test.py`` (``test_gradient_accumulation_with_weigth_decay``,
``test_pickleable_optimizers``), ported onto ``ks.optimizers.Adafactor`` with Keras's inputs and
numbers; then several steps against Keras's own Adafactor, the ways ``compile`` takes it, and an
exact resume. A Keras Variable is a float32 parameter; its name is a ``(name, parameter)`` pair.
"""

import pickle

import numpy as np
import pytest
import torch

import kerasish as ks

from .optimizer_case import (
    check_config,
    check_exact_resume,
    close,
    gradients,
    keras_steps,
    ks_steps,
    relative_gap,
    start_values,
    variable,
)
from .twins import keras

CONFIG = dict(learning_rate=0.5, beta_2_decay=-0.65, epsilon_1=1e-15, epsilon_2=1e-4, clip_threshold=0.9,
              relative_step=False)


def test_config():
    check_config(ks.optimizers.Adafactor(**CONFIG), keras.optimizers.Adafactor(**CONFIG))


def test_single_step_1d():
    optimizer = ks.optimizers.Adafactor(learning_rate=0.5)
    var = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply_gradients(zip([torch.tensor([1.0, 6.0, 7.0, 2.0])], [var]))
    close(var, [-0.3693, 0.6307, 1.6307, 2.6307], 1e-4)


def test_single_step_2d():
    optimizer = ks.optimizers.Adafactor(learning_rate=0.5)
    var = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer.apply_gradients(zip([torch.tensor([[1.0, 6.0], [7.0, 2.0]])], [var]))
    close(var, [[0.7007, -0.0081], [1.2492, 3.4407]], 1e-4)


def test_weight_decay():
    grads = torch.zeros(())
    var1, var2, var3 = variable(2.0), variable(2.0), variable(2.0)
    optimizer_1 = ks.optimizers.Adafactor(learning_rate=1.0, weight_decay=0.004)
    optimizer_1.apply_gradients(zip([grads], [var1]))
    optimizer_2 = ks.optimizers.Adafactor(learning_rate=1.0, weight_decay=0.004)
    optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
    optimizer_2.apply([grads, grads], [("variable", var1), ("exclude", var2)])
    optimizer_3 = ks.optimizers.Adafactor(learning_rate=1.0, weight_decay=0.004)
    optimizer_3.exclude_from_weight_decay(var_list=[var3])
    optimizer_3.apply_gradients(zip([grads, grads], [var1, var3]))
    assert float(var1.detach()) == pytest.approx(1.9760959, abs=1e-6)
    assert float(var2.detach()) == pytest.approx(2.0, abs=1e-6)
    assert float(var3.detach()) == pytest.approx(2.0, abs=1e-6)


GOLDEN = np.array([
    [0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55],
    [0.3031, 0.3026, 0.3025, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024],
    [0.1671, 0.1665, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663],
    [0.0923, 0.0916, 0.0915, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914],
    [0.0554, 0.0548, 0.0546, 0.0546, 0.0546, 0.0546, 0.0546, 0.0545, 0.0545, 0.0545]])


def test_correctness_with_golden():
    optimizer = ks.optimizers.Adafactor(**CONFIG)
    x = variable(np.ones([10], dtype="float32"))
    grads = torch.arange(0.1, 1.1, 0.1)
    optimizer.apply_gradients(zip([torch.full((10,), 0.01)], [x]))
    for i in range(5):
        close(x, GOLDEN[i], 5e-4)
        optimizer.apply_gradients(zip([grads], [x]))


def test_clip_norm():
    clipped = ks.optimizers.Adafactor(clipnorm=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [2**0.5 / 2, 2**0.5 / 2], 1e-6)


def test_clip_value():
    clipped = ks.optimizers.Adafactor(clipvalue=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [1.0, 1.0], 1e-6)


# optimizer_test.py, the "adafactor" parameter of its parametrized cases
def test_gradient_accumulation_with_weigth_decay():
    optimizer1 = ks.optimizers.get({"class_name": "adafactor", "config": {"weight_decay": 0.05}})
    optimizer3 = ks.optimizers.get({"class_name": "adafactor", "config": {"weight_decay": 0.05,
                                                                          "gradient_accumulation_steps": 3}})
    variable1, variable3 = variable([[0.9], [0.5]]), variable([[0.9], [0.5]])
    rng = np.random.default_rng(0)
    for _ in range(8):
        grads3 = rng.random([3, 2, 1]).astype("float32")
        optimizer1.apply_gradients([(torch.tensor(grads3.mean(axis=0)), variable1)])
        for batch in range(3):
            optimizer3.apply_gradients([(torch.tensor(grads3[batch]), variable3)])
    close(variable1, variable3.detach().numpy(), 1e-6)
    assert not torch.equal(variable1, torch.tensor([[0.9], [0.5]]))


def test_pickleable_optimizers():
    optimizer = ks.optimizers.get("adafactor")
    assert isinstance(optimizer, ks.optimizers.Adafactor)
    assert pickle.loads(pickle.dumps(optimizer)).get_config() == optimizer.get_config()


# kerasish's own: several steps against Keras's Adafactor, compile's ways in, exact resume
SHAPES = [(3, 4), (2, 3, 5), (4,), ()]  # factored (2-D, 3-D) and not (1-D, 0-D)
NAMES = ["kernel", "deep", "bias", "scale"]


@pytest.mark.parametrize("arguments", [
    dict(learning_rate=0.05, weight_decay=0.01),
    dict(learning_rate=ks.optimizers.schedules.ExponentialDecay(0.3, 2, 0.5), clip_threshold=0.5,
         beta_2_decay=-0.6, epsilon_2=1e-2, relative_step=False, clipnorm=1.0)])
def test_steps_match_keras(arguments):
    theirs = dict(arguments)
    if not isinstance(arguments["learning_rate"], float):
        theirs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(0.3, 2, 0.5)
    starts, grads = start_values(SHAPES), gradients(SHAPES, 6)
    expected = keras_steps(keras.optimizers.Adafactor(**theirs), NAMES, starts, grads)
    ours = ks_steps(ks.optimizers.Adafactor(**arguments), NAMES, starts, grads)
    assert relative_gap(expected, starts) > 1e-3
    assert relative_gap(ours, expected) < 2e-6


def test_compile_takes_it_by_class_name_and_from_keras():
    net = torch.nn.Linear(3, 2)
    for spec in (ks.optimizers.Adafactor(learning_rate=0.1, clip_threshold=0.7), "adafactor",
                 keras.optimizers.Adafactor(learning_rate=0.1, clip_threshold=0.7)):
        model = ks.Model(net, device="cpu").compile(optimizer=spec, loss="mse")
        assert isinstance(model.optimizer, ks.optimizers.KerasAdafactor)
        group = model.optimizer.param_groups[0]
        assert group["clip_threshold"] == (1.0 if spec == "adafactor" else 0.7)
        model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
        assert set(model.optimizer.state[net.weight]) == {"velocity", "row", "column"}


def test_exact_resume():
    check_exact_resume(
        lambda params: ks.optimizers.Adafactor(learning_rate=0.05, weight_decay=0.01).build(params), SHAPES)
