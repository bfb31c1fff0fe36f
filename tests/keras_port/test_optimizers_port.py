"""Keras 3.15.1's per-optimizer tests (``keras/src/optimizers/{sgd,adam,adamw,adamax,nadam,
rmsprop,adagrad,adadelta,lion,lamb,ftrl}_test.py``) and ``optimizer_test.py``, ported onto
``ks.optimizers`` case by case with Keras's inputs and Keras's expected numbers.

Keras's cases share one shape across the files, so each is written once here and parametrized by
optimizer: ``test_config``, ``test_single_step``, ``test_weight_decay``,
``test_correctness_with_golden``, ``test_clip_norm``, ``test_clip_value``; the cases of one file
only follow. A Keras ``backend.Variable`` is a ``torch.nn.Parameter`` here (float32, Keras's
floatx), ``apply_gradients`` is kerasish's Keras-style method (it steps one torch optimizer kept
by the ``ks.optimizers`` object), a Variable's name is given as a ``(name, parameter)`` pair, as
``named_parameters()`` gives, and Keras's private ``_clip_gradients`` is the public
``clip_gradients``. ``run_class_serialization_test`` is a ``get_config`` / ``from_config`` round
trip checked against Keras's own ``get_config`` (its ``keras.saving`` part: NOT_PORTED.md).
"""

import pickle
import re

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

NAMES = ["SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Adadelta", "Lion", "Lamb", "Ftrl"]

CONFIG_ARGS = {
    "SGD": dict(learning_rate=0.5, momentum=0.06, nesterov=True, weight_decay=0.004),
    "Adam": dict(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5, amsgrad=True),
    "AdamW": dict(learning_rate=0.5, weight_decay=0.008, beta_1=0.5, beta_2=0.67, epsilon=1e-5,
                  amsgrad=True),
    "Adamax": dict(learning_rate=0.5, beta_1=0.8, beta_2=0.95, epsilon=1e-5),
    "Nadam": dict(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5),
    "RMSprop": dict(learning_rate=0.5, rho=0.8, momentum=0.05, epsilon=1e-6, centered=True),
    "Adagrad": dict(learning_rate=0.5, initial_accumulator_value=0.2, epsilon=1e-5),
    "Adadelta": dict(learning_rate=0.5, rho=0.9, epsilon=1e-5),
    "Lion": dict(learning_rate=0.5, beta_1=0.5, beta_2=0.67),
    "Lamb": dict(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5),
    "Ftrl": dict(learning_rate=0.05, learning_rate_power=-0.2, initial_accumulator_value=0.4,
                 l1_regularization_strength=0.05, l2_regularization_strength=0.15,
                 l2_shrinkage_regularization_strength=0.01, beta=0.3),
}

# test_single_step: learning_rate=0.5, grads [1, 6, 7, 2] on [1, 2, 3, 4].
SINGLE_STEP = {
    "SGD": [0.5, -1.0, -0.5, 3.0],
    "Adam": [0.5, 1.5, 2.5, 3.5],
    "AdamW": [0.4980, 1.4960, 2.494, 3.492],
    "Adamax": [0.5, 1.5, 2.5, 3.5],
    "Nadam": [0.4686, 1.4686, 2.4686, 3.4686],
    "RMSprop": [-0.5811, 0.4189, 1.4189, 2.4189],
    "Adagrad": [0.5233, 1.5007, 2.5005, 3.5061],
    "Adadelta": [0.9993, 1.9993, 2.9993, 3.9993],
    "Lion": [0.5, 1.5, 2.5, 3.5],
    "Lamb": [-0.3693, 0.6306, 1.6306, 2.6306],
    "Ftrl": [0.2218, 1.3954, 2.3651, 2.8814],
}

GOLDEN_ARGS = {
    "SGD": dict(nesterov=True),
    "Adam": dict(amsgrad=True),
    "AdamW": dict(learning_rate=1.0, weight_decay=0.5, epsilon=2),
    "Adamax": dict(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6),
    "Nadam": dict(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5),
    "RMSprop": dict(centered=True),
    "Adagrad": dict(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
    "Adadelta": dict(learning_rate=1.0, rho=0.8, epsilon=1e-6),
    "Lion": {},
    "Lamb": {},
    "Ftrl": dict(learning_rate=0.05, learning_rate_power=-0.2, initial_accumulator_value=0.4,
                 l1_regularization_strength=0.05, l2_regularization_strength=0.15,
                 l2_shrinkage_regularization_strength=0.01, beta=0.3),
}


def _tile(column):
    return np.tile(np.array(column)[:, None], (1, 10))


# Keras's golden values after each of 5 steps (the first with gradient 0.01, then 0.1..1.0).
GOLDEN = {
    "SGD": np.array([
        [0.9999] * 10,
        [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
        [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
        [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
        [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599]]),
    "Adam": _tile([0.999, 0.9982, 0.9974, 0.9965, 0.9955]),
    "AdamW": np.array([
        [0.4998] * 10,
        [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
        [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
        [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
        [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]]),
    "Adamax": np.array([
        [0.8] * 10,
        [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
        [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
        [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
        [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]]),
    "Nadam": np.array([
        [0.4281] * 10,
        [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
        [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
        [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
        [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]]),
    "RMSprop": _tile([0.9967, 0.9933, 0.9908, 0.9885, 0.9864]),
    "Adagrad": np.array([
        [0.9963] * 10,
        [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
        [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
        [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
        [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825]]),
    "Adadelta": _tile([0.9978, 0.9947, 0.9915, 0.9882, 0.9849]),
    "Lion": _tile([0.999, 0.998, 0.997, 0.996, 0.995]),
    "Lamb": _tile([0.999, 0.9982, 0.9974, 0.9965, 0.9955]),
    "Ftrl": np.array([
        [0.0] * 10,
        [-0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354],
        [-0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685],
        [-0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999],
        [-0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299]]),
}


def variable(values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))


def close(actual, expected, tol):
    np.testing.assert_allclose(torch.as_tensor(actual).detach().numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", NAMES)
def test_config(name):
    optimizer = getattr(ks.optimizers, name)(**CONFIG_ARGS[name])
    config = optimizer.get_config()
    assert type(optimizer).from_config(config).get_config() == config
    theirs = getattr(keras.optimizers, name)(**CONFIG_ARGS[name]).get_config()
    # Default names are numbered per process (adam, adam_1, ...): compare the stem.
    assert re.sub(r"_\d+$", "", config.pop("name")) == re.sub(r"_\d+$", "", theirs.pop("name"))
    # Keras keeps the learning rate in a float32 variable (0.05 reads back as 0.0500000007).
    assert config.keys() == theirs.keys()
    for key, value in config.items():
        assert value == (pytest.approx(theirs[key], rel=1e-7) if isinstance(value, float) else theirs[key])


@pytest.mark.parametrize("name", NAMES)
def test_single_step(name):
    optimizer = getattr(ks.optimizers, name)(learning_rate=0.5)
    var = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply_gradients(zip([torch.tensor([1.0, 6.0, 7.0, 2.0])], [var]))
    close(var, SINGLE_STEP[name], 1e-4)
    assert optimizer.iterations == 1


def test_sgd_single_step_variables():
    """SGDTest.test_single_step's count of variables: iterations 1, learning rate 0.5."""
    optimizer = ks.optimizers.SGD(learning_rate=0.5)
    optimizer.apply_gradients(zip([torch.tensor([1.0, 6.0, 7.0, 2.0])], [variable([1.0, 2.0, 3.0, 4.0])]))
    assert optimizer.iterations == 1
    assert optimizer.torch_optimizer is not None
    assert optimizer.torch_optimizer.learning_rate == 0.5


@pytest.mark.parametrize("name", [n for n in NAMES if n != "Ftrl"])  # ftrl_test.py has no such case
def test_weight_decay(name):
    cls = getattr(ks.optimizers, name)
    grads, var1, var2, var3 = torch.zeros(()), variable(2.0), variable(2.0), variable(2.0)
    cls(learning_rate=1.0, weight_decay=0.004).apply_gradients(zip([grads], [var1]))

    optimizer_2 = cls(learning_rate=1.0, weight_decay=0.004)
    optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
    optimizer_2.apply_gradients(zip([grads, grads], [var1, ("exclude", var2)]))

    optimizer_3 = cls(learning_rate=1.0, weight_decay=0.004)
    optimizer_3.exclude_from_weight_decay(var_list=[var3])
    optimizer_3.apply_gradients(zip([grads, grads], [var1, var3]))

    assert var1.item() == pytest.approx(1.9760959, abs=5e-7)
    assert var2.item() == pytest.approx(2.0, abs=5e-7)
    assert var3.item() == pytest.approx(2.0, abs=5e-7)


@pytest.mark.parametrize("name", NAMES)
def test_correctness_with_golden(name):
    optimizer = getattr(ks.optimizers, name)(**GOLDEN_ARGS[name])
    x = variable(np.ones([10], dtype="float32"))
    grads = torch.arange(0.1, 1.1, 0.1)
    optimizer.apply_gradients(zip([torch.full((10,), 0.01)], [x]))
    for i in range(5):
        close(x, GOLDEN[name][i], 5e-4)
        optimizer.apply_gradients(zip([grads], [x]))


@pytest.mark.parametrize("name", NAMES)
def test_clip_norm(name):
    clipped = getattr(ks.optimizers, name)(clipnorm=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [2**0.5 / 2, 2**0.5 / 2], 1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_clip_value(name):
    clipped = getattr(ks.optimizers, name)(clipvalue=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [1.0, 1.0], 1e-6)


# sgd_test.py
@pytest.mark.parametrize("momentum", [-1.0, 2.0])
def test_sgd_invalid_momentum(momentum):
    with pytest.raises(ValueError, match="momentum"):
        ks.optimizers.SGD(momentum=momentum)


# adamw_test.py
def test_adamw_weight_decay_is_none():
    with pytest.raises(ValueError, match="weight_decay"):
        ks.optimizers.AdamW(learning_rate=1.0, weight_decay=None)


# nadam_test.py
def test_nadam_build_with_empty_var_list():
    """Keras builds on no variables (its ``_u_product`` in floatx); so does kerasish."""
    optimizer = ks.optimizers.Nadam().build([])
    assert [group["params"] for group in optimizer.param_groups] == [[]]
    optimizer.step()


# lion_test.py
@pytest.mark.parametrize("beta_1", [-0.1, 0.0, 1.1])
def test_lion_invalid_beta_1(beta_1):
    message = (r"Argument `beta_1` must be in the \[0, 1\] range. Otherwise, the optimizer degenerates "
               rf"to SignSGD. Received: beta_1={beta_1}.")
    with pytest.raises(ValueError, match=message):
        ks.optimizers.Lion(beta_1=beta_1)


# ftrl_test.py
@pytest.mark.parametrize("argument, value", [
    ("initial_accumulator_value", -0.1), ("learning_rate_power", 0.1), ("l1_regularization_strength", -0.1),
    ("l2_regularization_strength", -0.1), ("l2_shrinkage_regularization_strength", -0.1)])
def test_ftrl_invalid_arguments(argument, value):
    """test_invalid_initial_accumulator_value, ..._learning_rate_power, ..._l1/_l2/_l2_shrinkage_..."""
    sign = "negative" if argument == "learning_rate_power" else "positive"
    with pytest.raises(ValueError, match=rf"^`{argument}` needs to be {sign} or zero. Received: "
                                         rf"{argument}={value}.$"):
        ks.optimizers.Ftrl(**{argument: value})


# optimizer_test.py (OptimizerTest)
def test_iterations_counter():
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    grads = torch.ones(2, 2)
    optimizer = ks.optimizers.Adam(learning_rate=1.0)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 1
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 2


def test_empty_gradients():
    v = variable([[3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        ks.optimizers.SGD(learning_rate=1.0).apply_gradients([(None, v)])
    v2 = variable([[3.0, 4.0], [5.0, 6.0]])
    optimizer = ks.optimizers.SGD(learning_rate=1.0)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        optimizer.apply_gradients([(None, v), (torch.ones(2, 2), v2)])
    close(v, [[3.0, 4.0], [5.0, 6.0]], 1e-6)
    close(v2, [[2.0, 3.0], [4.0, 5.0]], 1e-6)


def test_clip_args():
    assert ks.optimizers.SGD(learning_rate=1.0, clipnorm=0.1).clipnorm == 0.1
    assert ks.optimizers.SGD(learning_rate=1.0, clipvalue=0.1).clipvalue == 0.1
    assert ks.optimizers.SGD(learning_rate=1.0, global_clipnorm=0.1).global_clipnorm == 0.1
    for other in ({"clipvalue": 0.1}, {"global_clipnorm": 0.1}):
        with pytest.raises(ValueError, match="Only one of clipnorm, clipvalue and global_clipnorm can"):
            ks.optimizers.SGD(learning_rate=1.0, clipnorm=0.1, **other)


def test_optimizer_clip_norm_and_value():
    """OptimizerTest.test_clip_norm and test_clip_value (SGD, a tensor gradient)."""
    close(ks.optimizers.SGD(clipnorm=1).clip_gradients([torch.tensor([100.0, 100.0])])[0],
          [2**0.5 / 2, 2**0.5 / 2], 1e-6)
    close(ks.optimizers.SGD(clipvalue=1).clip_gradients([torch.tensor([100.0, 100.0])])[0], [1.0, 1.0], 1e-6)


def test_global_clip_norm():
    grad = np.array([50.0, 100.0], dtype="float32")
    clipped = ks.optimizers.SGD(global_clipnorm=1).clip_gradients([torch.tensor(grad)])
    close(clipped[0], grad / np.linalg.norm(grad), 1e-6)


def test_get_method():
    assert isinstance(ks.optimizers.get("sgd"), ks.optimizers.SGD)
    assert isinstance(ks.optimizers.get("adamw"), ks.optimizers.AdamW)
    assert ks.optimizers.get(None) is None
    with pytest.raises(ValueError):
        ks.optimizers.get("typo")


def test_setting_lr_to_callable_untracks_lr_var():
    """Keras counts its variables (internals); the port checks the fact behind it: a schedule set
    after construction is what the optimizer follows."""
    adam = ks.optimizers.Adam(learning_rate=0.001)
    adam.learning_rate = ks.optimizers.schedules.PolynomialDecay(adam.learning_rate, 4)
    v = variable([1.0])
    for _ in range(2):
        adam.apply_gradients([(torch.ones(1), v)])
    assert adam.torch_optimizer.param_groups[0]["lr"] == pytest.approx((0.001 - 0.0001) * 0.5 + 0.0001)


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw", "adagrad", "rmsprop", "adadelta", "adamax",
                                  "lion", "nadam", "ftrl"])
def test_pickleable_optimizers(name):
    optimizer = ks.optimizers.get(name)
    assert pickle.loads(pickle.dumps(optimizer)).get_config() == optimizer.get_config()


def test_optimizer_auto_naming():
    """Keras numbers default names per class (adam, adam_1, ...). Keras's test resets the count
    first (``clear_session``); here other tests made optimizers before, so the count is read."""

    def number(name, prefix):
        return 0 if name == prefix else int(name[len(prefix) + 1:])

    o = ks.optimizers
    for cls, prefix in ((o.Adam, "adam"), (o.SGD, "sgd"), (o.AdamW, "adam_w")):
        first, second = cls(), cls()
        assert first.name.startswith(prefix) and second.name == f"{prefix}_{number(first.name, prefix) + 1}"
        assert type(second).from_config(second.get_config()).name == second.name
    custom = ks.optimizers.Adam(name="my_adam")
    assert custom.name == "my_adam"
    assert ks.optimizers.Adam.from_config(custom.get_config()).name == "my_adam"


def test_gradient_accumulation():
    """Keras's weights and ``iterations`` after each call (its ``_accumulated_gradients`` and
    ``_iterations`` are Keras internals: the weights and count show the same)."""
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = ks.optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=3)
    assert optimizer.gradient_accumulation_steps == 3
    after = [([[1.0, 2.0], [3.0, 4.0]], 0), ([[1.0, 2.0], [3.0, 4.0]], 0), ([[0.0, 1.0], [2.0, 3.0]], 1),
             ([[0.0, 1.0], [2.0, 3.0]], 1)]
    for weights, iterations in after:
        optimizer.apply_gradients([(torch.ones(2, 2), v)])
        close(v, weights, 1e-6)
        assert optimizer.iterations == iterations


def test_gradient_accumulation_is_compiles_for_fit():
    """kerasish's own rule: fit accumulates through compile(gradient_accumulation_steps=n)."""
    with pytest.raises(ValueError, match=r"compile\(\.\.\., gradient_accumulation_steps=3\)"):
        ks.optimizers.SGD(gradient_accumulation_steps=3).build([variable([1.0])])


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw", "adagrad", "rmsprop", "adadelta", "adamax",
                                  "lion", "nadam", "ftrl"])
def test_gradient_accumulation_with_weigth_decay(name):
    optimizer1 = ks.optimizers.get({"class_name": name, "config": {"weight_decay": 0.05}})
    optimizer3 = ks.optimizers.get({"class_name": name, "config": {"weight_decay": 0.05,
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
