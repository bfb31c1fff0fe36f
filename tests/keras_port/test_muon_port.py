"""Keras 3.15.1's ``keras/src/optimizers/muon_test.py`` (12 cases), ported onto
``ks.optimizers.Muon`` with Keras's inputs and numbers; then several steps against Keras's own
Muon (Muon-, AdamW-by-shape and AdamW-by-name weights together), the ways ``compile`` takes it,
and an exact resume.

Keras's cases that call its ``update_step`` or ``_apply_weight_decay`` directly go through
``apply_gradients`` here: ``update_step`` alone is the step without weight decay, so those cases
set the decay to 0 or None; ``_apply_weight_decay`` alone is a step with a zero gradient (Muon's
and AdamW's updates of a zero gradient are 0). Keras's ``_should_use_adamw`` is the public
``uses_adamw(parameter, name)``; a Keras variable's path is the name given with the parameter.
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


def test_config():
    check_config(ks.optimizers.Muon(learning_rate=0.5, epsilon=1e-5),
                 keras.optimizers.Muon(learning_rate=0.5, epsilon=1e-5))


def test_newton_schulz():
    tensor_input = torch.tensor([[0.2499, 0.9105], [0.2655, 0.8824]])
    output = ks.optimizers.Muon().zeropower_via_newtonschulz5(tensor_input, 5)
    close(output, [[-0.4422, 0.6457], [0.7285, 0.2968]], 1e-3)


def test_adamw_single_step():
    """Keras calls ``update_step(grads, vars, 0.5)``: the AdamW step of a 1-D variable at
    learning rate 0.5, without the weight decay ``apply`` adds."""
    optimizer = ks.optimizers.Muon(learning_rate=0.5, adam_weight_decay=None)
    var = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply([torch.tensor([1.0, 6.0, 7.0, 2.0])], [("test_vars", var)])
    close(var, [0.5, 1.5, 2.5, 3.5], 1e-4)


def test_should_use_adamw():
    # Keras's default variable name (its path) is "variable" (numbered after the first), which
    # the regex "var" matches.
    path = keras.Variable([[1.0, 2.0], [3.0, 4.0]]).path
    vars_ = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = ks.optimizers.Muon(exclude_layers=["var"])
    assert optimizer.uses_adamw(vars_, path)
    embedding = keras.layers.Embedding(2, 2)
    embedding.build()
    assert optimizer.uses_adamw(variable(embedding.weights[0].numpy()), embedding.weights[0].path)
    optimizer = ks.optimizers.Muon()
    assert not optimizer.uses_adamw(vars_, path)
    dense = keras.layers.Dense(2)
    dense.build([None, 2])
    assert not optimizer.uses_adamw(variable(dense.weights[0].numpy()), dense.weights[0].path)


def test_muon_single_step():
    optimizer = ks.optimizers.Muon(learning_rate=0.5, weight_decay=0)
    var = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer.apply_gradients([(torch.tensor([[1.0, 6.0], [7.0, 2.0]]), var)])
    close(var, [[0.988775, 1.887053], [2.873428, 3.97035]], 1e-2)


def test_clip_norm():
    clipped = ks.optimizers.Muon(clipnorm=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [2**0.5 / 2, 2**0.5 / 2], 1e-6)


def test_clip_value():
    clipped = ks.optimizers.Muon(clipvalue=1).clip_gradients([np.array([100.0, 100.0])])
    close(clipped[0], [1.0, 1.0], 1e-6)


def test_muon_weight_decay():
    var = variable([[1.0, 2.0], [3.0, 4.0]])
    expected = (var - var * 0.01).detach().numpy()
    ks.optimizers.Muon(learning_rate=1.0, weight_decay=0.01).apply_gradients([(torch.zeros(2, 2), var)])
    close(var, expected, 1e-4)


def test_adamw_weight_decay():
    var = variable(2.0)
    expected = (var - var * 0.01).detach().numpy()
    ks.optimizers.Muon(learning_rate=1.0, adam_weight_decay=0.01).apply_gradients([(torch.zeros(()), var)])
    close(var, expected, 1e-4)


def test_lr_adjust_none():
    x = torch.ones(4, 4)
    close(ks.optimizers.Muon(rms_rate=None).lr_adjust(x), x, 1e-7)


def test_lr_adjust_2d():
    x = torch.ones(4, 2)
    close(ks.optimizers.Muon(rms_rate=0.2).lr_adjust(x), x * 0.2 * 2, 1e-6)


def test_model_fit():
    """Keras fits ``Sequential([Input((10,)), Dense(5), Dense(1, name="last")])`` with
    ``exclude_layers=["last"]``; here the torch twin, built on its named parameters."""
    net = torch.nn.Sequential()
    net.add_module("dense", torch.nn.Linear(10, 5))
    net.add_module("last", torch.nn.Linear(5, 1))
    optimizer = ks.optimizers.Muon(learning_rate=1e-3, exclude_layers=["last"])
    model = ks.Model(net, device="cpu").compile(optimizer=lambda _: optimizer.build(net.named_parameters()),
                                                loss="mse")
    model.fit(np.ones((1, 10), "float32"), np.ones((1, 1), "float32"), verbose=0)
    state = model.optimizer.state
    assert "velocity" not in state[net.dense.weight]  # the Muon step
    assert all("velocity" in state[p] for p in (net.dense.bias, net.last.weight, net.last.bias))


# kerasish's own: several steps against Keras's Muon, compile's ways in, exact resume
SHAPES = [(4, 3), (3, 5), (2, 6), (6, 4), (4,), ()]
NAMES = ["dense_kernel", "tall_kernel", "token_embedding_embeddings", "head_kernel", "dense_bias", "scale"]


@pytest.mark.parametrize("arguments", [
    dict(learning_rate=0.05, exclude_layers=["head"], weight_decay=0.01, adam_weight_decay=0.02,
         adam_lr_ratio=0.5),
    dict(learning_rate=ks.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), nesterov=False, rms_rate=None,
         momentum=0.8, ns_steps=3, exclude_embeddings=False, adam_weight_decay=None, global_clipnorm=2.0)])
def test_steps_match_keras(arguments):
    theirs = dict(arguments)
    if not isinstance(arguments["learning_rate"], float):
        theirs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    starts, grads = start_values(SHAPES), gradients(SHAPES, 6)
    expected = keras_steps(keras.optimizers.Muon(**theirs), NAMES, starts, grads)
    ours = ks_steps(ks.optimizers.Muon(**arguments), NAMES, starts, grads)
    assert relative_gap(expected, starts) > 1e-3
    assert relative_gap(ours, expected) < 5e-6


def test_compile_takes_it_by_class_name_and_from_keras():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    for spec in (ks.optimizers.Muon(learning_rate=0.01, momentum=0.9), "muon",
                 keras.optimizers.Muon(learning_rate=0.01, momentum=0.9)):
        model = ks.Model(net, device="cpu").compile(optimizer=spec, loss="mse")
        assert isinstance(model.optimizer, ks.optimizers.KerasMuon)
        assert model.optimizer.param_groups[0]["momentum"] == (0.95 if spec == "muon" else 0.9)
        model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
        assert "velocity" not in model.optimizer.state[net[0].weight]
        assert "velocity" in model.optimizer.state[net[0].bias]


def test_exclude_layers_without_names_is_refused():
    net = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"exclude_layers=\['head'\].*named_parameters"):
        ks.optimizers.Muon(exclude_layers=["head"]).build(net.parameters())


def test_compile_gives_the_names_exclude_layers_matches():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model = ks.Model(net, device="cpu").compile(ks.optimizers.Muon(exclude_layers=[r"^1\."]), "mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    assert "velocity" not in model.optimizer.state[net[0].weight]  # the Newton-Schulz step
    assert "velocity" in model.optimizer.state[net[1].weight]  # "1.weight" matched: AdamW


def test_exact_resume():
    def make(params):
        names = [f"p{i}" if s != (2, 6) else "embedding" for i, s in enumerate(SHAPES)]
        return ks.optimizers.Muon(learning_rate=0.05, exclude_layers=["p3"]).build(list(zip(names, params)))

    check_exact_resume(make, SHAPES)
