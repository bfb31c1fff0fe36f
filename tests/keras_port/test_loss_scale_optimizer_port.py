"""Keras 3.15.1's ``keras/src/optimizers/loss_scale_optimizer_test.py``, ported onto
``ks.optimizers.LossScaleOptimizer`` with Keras's inputs and numbers (the stateful variants; the
stateless ones, NOT_PORTED.md). A Keras ``backend.Variable`` is a ``torch.nn.Parameter``.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

INF = float("inf")


def variables():
    return [torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0, 4.0]))]


def close(actual, expected, tol=1e-4):
    np.testing.assert_allclose(torch.as_tensor(actual).detach().numpy(), expected, rtol=tol, atol=tol)


def sgd(**kwargs):
    return ks.optimizers.SGD(learning_rate=0.5, **kwargs)


def test_config():
    """run_class_serialization_test's get_config/from_config round trip, against Keras's config."""
    optimizer = ks.optimizers.LossScaleOptimizer(sgd(momentum=0.06, nesterov=True, weight_decay=0.004))
    config = optimizer.get_config()
    again = ks.optimizers.LossScaleOptimizer.from_config(config)
    assert again.get_config() == config
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(
        learning_rate=0.5, momentum=0.06, nesterov=True, weight_decay=0.004)).get_config()
    assert set(config) == set(theirs)
    assert {k: config[k] for k in ("initial_scale", "dynamic_growth_steps")} == \
        {k: theirs[k] for k in ("initial_scale", "dynamic_growth_steps")}
    inner, keras_inner = config["inner_optimizer"]["config"], theirs["inner_optimizer"]["config"]
    assert {k: inner[k] for k in keras_inner if k != "name"} == \
        {k: pytest.approx(v) if isinstance(v, float) else v for k, v in keras_inner.items() if k != "name"}


def test_apply_with_no_vars():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd())
    grads = [torch.tensor([1.0, 6.0, 7.0, 2.0]) * optimizer.initial_scale]
    vars = variables()
    optimizer.build(vars)
    optimizer.apply(grads)
    close(vars[0], [0.5, -1.0, -0.5, 3.0])


@pytest.mark.parametrize("inner", [{}, {"loss_scale_factor": 100}], ids=["plain", "with_inner_loss_scale"])
def test_finite_step(inner):
    """test_finite_step and test_finite_step_with_inner_loss_scale (stateful)."""
    optimizer = ks.optimizers.LossScaleOptimizer(sgd(**inner))
    grads = [torch.tensor([1.0, 6.0, 7.0, 2.0]) * optimizer.initial_scale]
    vars = variables()
    optimizer.apply(grads, vars)
    close(vars[0], [0.5, -1.0, -0.5, 3.0])


def test_infinite_step():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd())
    vars = variables()
    optimizer.apply([torch.tensor([INF, INF, INF, INF])], vars)
    close(vars[0], [1.0, 2.0, 3.0, 4.0])
    assert optimizer.iterations == 0


def test_downscaling():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd(), initial_scale=400.0)
    vars = variables()
    optimizer.build(vars)
    for _ in range(4):
        optimizer.apply([torch.tensor([INF, INF, INF, INF])], vars)
    close(optimizer.scale_loss(1.0), 25.0)


def test_upscaling():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd(), initial_scale=2.0, dynamic_growth_steps=2)
    vars = variables()
    optimizer.build(vars)
    for _ in range(8):
        optimizer.apply([torch.tensor([1.0, 6.0, 7.0, 2.0])], vars)
    close(optimizer.scale_loss(1.0), 32.0)


def test_iterations_update():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd())
    vars = variables()
    optimizer.build(vars)
    assert optimizer.iterations == 0
    for i in range(3):
        optimizer.apply([torch.tensor([1.0, 6.0, 7.0, 2.0])], vars)
        assert optimizer.iterations == i + 1


def test_serialization():
    optimizer = ks.optimizers.LossScaleOptimizer(sgd(), initial_scale=3.0, dynamic_growth_steps=2,
                                                 name="test_opt")
    config = optimizer.get_config()
    assert len(config) == 4
    assert config["name"] == "test_opt" and config["initial_scale"] == 3.0
    assert config["dynamic_growth_steps"] == 2 and "inner_optimizer" in config
    ks.optimizers.LossScaleOptimizer.from_config(config)


def test_init_dynamic_arg():
    ks.optimizers.LossScaleOptimizer(sgd(), dynamic=True)
    with pytest.raises(ValueError, match="set `loss_scale_factor`"):
        ks.optimizers.LossScaleOptimizer(sgd(), dynamic=False)


def test_init_unsupported_arg():
    with pytest.raises(ValueError, match="arguments: `foo`, `bar`"):
        ks.optimizers.LossScaleOptimizer(sgd(), foo=True, bar=3)


@pytest.mark.parametrize("arg_name, arg_value", [
    ("weight_decay", 0.5), ("clipnorm", 0.5), ("global_clipnorm", 0.5), ("clipvalue", 0.5),
    ("use_ema", True), ("ema_momentum", 0.5), ("ema_overwrite_frequency", 2), ("loss_scale_factor", 0.5),
    ("gradient_accumulation_steps", 2)])
def test_init_base_optimizer_unsupported_args(arg_name, arg_value):
    with pytest.raises(ValueError, match="on the `inner_optimizer`"):
        ks.optimizers.LossScaleOptimizer(sgd(), **{arg_name: arg_value})


def test_deserialization_backwards_compatibility():
    defaults = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}
    config = {"name": "loss_scale_optimizer", **defaults,
              "inner_optimizer": {"module": "keras.optimizers", "class_name": "SGD",
                                  "config": {"name": "SGD", "learning_rate": 0.5, **defaults,
                                             "momentum": 0.0, "nesterov": False},
                                  "registered_name": None},
              "initial_scale": 2.0, "dynamic_growth_steps": 2}
    optimizer = ks.optimizers.LossScaleOptimizer.from_config(config)
    assert optimizer.initial_scale == 2.0 and optimizer.inner_optimizer.learning_rate == 0.5


# kerasish's own
def test_compile_refuses_it_with_the_fit_way():
    with pytest.raises(TypeError, match=r"precision='mixed_float16'"):
        ks.Model(torch.nn.Linear(2, 1)).compile(ks.optimizers.LossScaleOptimizer(sgd()), "mse")


def test_a_scaled_loss_trains_as_the_unscaled_one():
    torch.manual_seed(0)
    plain, scaled = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    scaled.load_state_dict(plain.state_dict())
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    by_hand = ks.optimizers.Adam(learning_rate=0.1)
    optimizer = ks.optimizers.LossScaleOptimizer(ks.optimizers.Adam(learning_rate=0.1), initial_scale=64.0,
                                                 dynamic_growth_steps=2)
    for _ in range(3):
        for module, opt, scale in ((plain, by_hand, None), (scaled, optimizer, True)):
            loss = torch.nn.functional.mse_loss(module(x), y)
            params = list(module.parameters())
            grads = torch.autograd.grad(opt.scale_loss(loss) if scale else loss, params)
            opt.apply(list(grads), params)
    assert optimizer.dynamic_scale == 128.0
    for a, b in zip(plain.parameters(), scaled.parameters()):
        close(b, a.detach().numpy(), 1e-6)
