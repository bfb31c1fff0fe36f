"""Keras 3.15.1's ``keras/src/optimizers/schedule_free_adamw_test.py`` (8 cases), ported onto
``ks.optimizers.ScheduleFreeAdamW`` with Keras's inputs; where Keras only checks a direction
(moved, smaller, decreased) the port checks that and Keras's own numbers, from Keras run here.
Then several steps against Keras's ScheduleFreeAdamW, the ways ``compile`` takes it, what
``evaluate`` sees (the training weights, as in Keras), the average, and an exact resume.
"""

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

CONFIG = dict(learning_rate=0.005, beta_1=0.95, beta_2=0.99, epsilon=1e-6, warmup_steps=100)


def keras_after(arguments, start, grads):
    """Keras's weights after one ``apply_gradients`` per gradient."""
    return keras_steps(keras.optimizers.ScheduleFreeAdamW(**arguments), ["v"], [np.array(start, "float32")],
                       [[np.array(g, "float32")] for g in grads])[0]


def test_config():
    check_config(ks.optimizers.ScheduleFreeAdamW(**CONFIG), keras.optimizers.ScheduleFreeAdamW(**CONFIG))


def test_single_step():
    optimizer = ks.optimizers.ScheduleFreeAdamW(learning_rate=0.5)
    var = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply_gradients(zip([torch.tensor([1.0, 6.0, 7.0, 2.0])], [var]))
    assert not np.allclose(var.detach().numpy(), [1.0, 2.0, 3.0, 4.0], rtol=1e-4, atol=1e-4)
    close(var, keras_after(dict(learning_rate=0.5), [1.0, 2.0, 3.0, 4.0], [[1.0, 6.0, 7.0, 2.0]]), 1e-6)


def test_weight_decay():
    grads = torch.zeros(())
    var1, var2 = variable(2.0), variable(2.0)
    optimizer_1 = ks.optimizers.ScheduleFreeAdamW(learning_rate=1.0, weight_decay=0.004)
    optimizer_1.apply_gradients(zip([grads], [var1]))
    optimizer_2 = ks.optimizers.ScheduleFreeAdamW(learning_rate=1.0, weight_decay=0.004)
    optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
    optimizer_2.apply([grads, grads], [("variable", var1), ("exclude", var2)])
    assert float(var2.detach()) == pytest.approx(2.0, abs=1e-6)
    # Keras's var1 after the same two optimizers (the port's addition: Keras checks var2 only). It
    # is 2.0: at a first step z, a copy of the weights from before the decay, becomes the average
    # and the weights (x moves all the way to z at t=1), so a z taken after the decay would show.
    keras_var1 = keras.Variable(2.0)
    for _ in range(2):
        keras.optimizers.ScheduleFreeAdamW(learning_rate=1.0, weight_decay=0.004).apply_gradients(
            [(keras.ops.zeros(()), keras_var1)])
    assert float(var1.detach()) == pytest.approx(float(keras_var1.numpy()), abs=1e-7)


def test_warmup():
    grads = torch.tensor([1.0, 1.0, 1.0])
    var1, var2 = variable([1.0, 2.0, 3.0]), variable([1.0, 2.0, 3.0])
    ks.optimizers.ScheduleFreeAdamW(learning_rate=0.5, warmup_steps=0).apply_gradients(zip([grads], [var1]))
    ks.optimizers.ScheduleFreeAdamW(learning_rate=0.5, warmup_steps=10).apply_gradients(zip([grads], [var2]))
    start = np.array([1.0, 2.0, 3.0])
    assert np.all(np.abs(var2.detach().numpy() - start) < np.abs(var1.detach().numpy() - start))
    close(var2, keras_after(dict(learning_rate=0.5, warmup_steps=10), start, [[1.0, 1.0, 1.0]]), 1e-6)


def test_multiple_steps():
    optimizer = ks.optimizers.ScheduleFreeAdamW(learning_rate=0.01)
    var = variable([1.0, 2.0, 3.0])
    for _ in range(10):
        optimizer.apply_gradients(zip([torch.tensor([0.1, 0.1, 0.1])], [var]))
    assert np.all(var.detach().numpy() < [1.0, 2.0, 3.0])
    close(var, keras_after(dict(learning_rate=0.01), [1.0, 2.0, 3.0], [[0.1, 0.1, 0.1]] * 10), 1e-6)


def test_with_model():
    """Keras fits ``Sequential([Dense(10)])`` on ones((4, 5)) -> zeros((4, 10)) for 2 epochs and
    evaluates; here the torch twin of the same model, the same weights, against Keras's numbers."""
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(10)])
    net = torch.nn.Linear(5, 10)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(theirs.layers[0].kernel.numpy().T))
        net.bias.copy_(torch.tensor(theirs.layers[0].bias.numpy()))
    x, y = np.ones((4, 5), "float32"), np.zeros((4, 10), "float32")
    theirs.compile(optimizer=keras.optimizers.ScheduleFreeAdamW(learning_rate=0.01), loss="mse")
    theirs.fit(x, y, epochs=2, verbose=0)
    model = ks.Model(net, device="cpu").compile(optimizer=ks.optimizers.ScheduleFreeAdamW(learning_rate=0.01),
                                                loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    loss = model.evaluate(x, y, verbose=0)
    assert loss is not None
    assert loss == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    close(net.weight.detach().numpy().T, theirs.layers[0].kernel.numpy(), 1e-6)


def test_clip_norm():
    clipped = ks.optimizers.ScheduleFreeAdamW(clipnorm=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [2**0.5 / 2, 2**0.5 / 2], 1e-6)


def test_clip_value():
    clipped = ks.optimizers.ScheduleFreeAdamW(clipvalue=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [1.0, 1.0], 1e-6)


# kerasish's own: several steps against Keras's ScheduleFreeAdamW, compile's ways in, the
# average, exact resume
SHAPES = [(3, 4), (4,), ()]
NAMES = ["kernel", "bias", "scale"]


@pytest.mark.parametrize("arguments", [
    dict(learning_rate=0.05, weight_decay=0.01, warmup_steps=3),
    dict(learning_rate=ks.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), beta_1=0.7, beta_2=0.9,
         epsilon=1e-6, clipvalue=0.5)])
def test_steps_match_keras(arguments):
    theirs = dict(arguments)
    if not isinstance(arguments["learning_rate"], float):
        theirs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    starts, grads = start_values(SHAPES), gradients(SHAPES, 6)
    expected = keras_steps(keras.optimizers.ScheduleFreeAdamW(**theirs), NAMES, starts, grads)
    ours = ks_steps(ks.optimizers.ScheduleFreeAdamW(**arguments), NAMES, starts, grads)
    assert relative_gap(expected, starts) > 1e-3
    assert relative_gap(ours, expected) < 2e-6


def test_compile_takes_it_by_class_name_and_from_keras():
    net = torch.nn.Linear(3, 2)
    for spec in (ks.optimizers.ScheduleFreeAdamW(learning_rate=0.01, warmup_steps=5), "schedulefreeadamw",
                 keras.optimizers.ScheduleFreeAdamW(learning_rate=0.01, warmup_steps=5)):
        model = ks.Model(net, device="cpu").compile(optimizer=spec, loss="mse")
        assert isinstance(model.optimizer, ks.optimizers.KerasScheduleFreeAdamW)
        assert model.optimizer.param_groups[0]["warmup_steps"] == (0 if spec == "schedulefreeadamw" else 5)
        model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
        assert set(model.optimizer.state[net.weight]) == {"momentum", "velocity"}


def test_average_is_kerass_and_the_swap_puts_the_weights_back():
    """The average from Keras's own slot (``momentum`` is z) and weights; inside the block the
    parameters hold it, after it exactly the training weights again."""
    starts, grads = start_values(SHAPES), gradients(SHAPES, 4)
    theirs = keras.optimizers.ScheduleFreeAdamW(learning_rate=0.05, beta_1=0.8)
    expected = keras_steps(theirs, NAMES, starts, grads)
    slots = theirs._momentums  # private: Keras's z (its "momentum" slots)
    averages = [(y - 0.2 * z.numpy()) / 0.8 for y, z in zip(expected, slots)]
    params = [variable(v) for v in starts]
    optimizer = ks.optimizers.ScheduleFreeAdamW(learning_rate=0.05, beta_1=0.8).build(params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        optimizer.step()
    trained = [p.detach().clone() for p in params]
    for ours, theirs_average in zip(optimizer.averaged_weights(), averages):
        close(ours, theirs_average, 2e-5)
    with optimizer.swapped_to_average():
        for p, theirs_average in zip(params, averages):
            close(p, theirs_average, 2e-5)
    assert all(torch.equal(p, t) for p, t in zip(params, trained))


def test_exact_resume():
    check_exact_resume(
        lambda params: ks.optimizers.ScheduleFreeAdamW(learning_rate=0.05, weight_decay=0.01,
                                                       warmup_steps=2).build(params), SHAPES)
