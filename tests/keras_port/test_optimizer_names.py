"""An optimizer name trains as Keras 3 trains (issue 24, trap 2).

Keras 3 fits a Dense model with ``compile(optimizer=name)``; kerasish fits a clone of the same
Keras model, with the same weights, compiled with the same name, on the same batches in the same
order. After 16 optimizer steps the weights agree to float rounding (1e-5 relative): a name builds
Keras's update rule (RMSprop's epsilon inside the root, Adam's epsilon scaled by the bias
correction), not torch's rule with Keras's numbers. (Adam, AdamW and Nadam land near 7.5e-6:
Keras raises its betas to the step in float32, where 0.999 is 0.99900001, kerasish in double.
Before names built Keras's rules: rmsprop 4.1e-3, adam and adamw 7.2e-5 on these data.)

A name builds what its ``ks.optimizers`` class with default arguments builds, on torch's fused
kernel for Adam and AdamW, and a state file saved when the name built torch's optimizer still
loads into a model compiled with that name.
"""

import copy

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import keras

RNG = np.random.default_rng(24)
STEPS, BATCH = 16, 8
X = RNG.normal(size=(STEPS * BATCH, 5)).astype("float32")
Y = (X @ RNG.normal(size=(5, 2)) + 0.1 * RNG.normal(size=(STEPS * BATCH, 2))).astype("float32")


def keras_model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="tanh"),
                             keras.layers.Dense(2)])


def relative_gap(ours, theirs) -> float:
    """The largest ``|ours - theirs| / max|theirs|`` over the weight arrays."""
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))
               for a, b in zip(ours, theirs))


@pytest.mark.parametrize("name", ks.optimizers.KNOWN_OPTIMIZERS)
def test_a_name_trains_as_keras_trains(name):
    theirs = keras_model()
    twin = keras.models.clone_model(theirs)
    twin.set_weights(theirs.get_weights())
    start = [w.copy() for w in theirs.get_weights()]
    fit = dict(batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    theirs.compile(optimizer=name, loss="mse")
    theirs.fit(X, Y, **fit)
    model = ks.Model(twin, device="cpu").compile(optimizer=name, loss="mse")
    model.fit(X, Y, **fit)
    assert model.optimizer_steps == STEPS
    moved = relative_gap(theirs.get_weights(), start)
    assert moved > 1e-4, f"{name}: Keras's weights barely moved ({moved:.2e}), the test says nothing"
    gap = relative_gap(twin.get_weights(), theirs.get_weights())
    assert gap < 1e-5, f"{name}: weights {gap:.2e} relative off Keras's after {STEPS} steps"


@pytest.mark.parametrize("name", ks.optimizers.KNOWN_OPTIMIZERS)
def test_a_name_builds_what_its_ks_class_builds(name):
    """``compile(name)`` and ``compile(ks.optimizers.<Class>())`` build the same torch optimizer."""
    cls = {c.__name__.lower(): c for c in ks.optimizers.KERAS_OPTIMIZERS.values()}[name]
    by_name = ks.Model(keras_model(), device="cpu").compile(name, "mse")
    by_class = ks.Model(keras_model(), device="cpu").compile(cls(), "mse")
    assert type(by_name.optimizer) is type(by_class.optimizer)
    assert by_name.compile_config["optimizer"] == by_class.compile_config["optimizer"]
    groups = [[{k: v for k, v in g.items() if k != "params"} for g in m.optimizer.param_groups]
              for m in (by_name, by_class)]
    assert groups[0] == groups[1]


# What each name builds and how logs, compile_config and state files name it: torch's class name
# where the Keras rule runs on torch's optimizer, the Keras rule's class elsewhere.
CLASS_NAMES = {"sgd": "KerasSGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "KerasRMSprop",
               "adagrad": "KerasAdagrad", "adadelta": "Adadelta", "adamax": "KerasAdamax", "nadam": "NAdam",
               "lion": "KerasLion", "ftrl": "KerasFtrl", "adafactor": "KerasAdafactor", "muon": "KerasMuon",
               "schedulefreeadamw": "KerasScheduleFreeAdamW"}


@pytest.mark.parametrize("name", ks.optimizers.KNOWN_OPTIMIZERS)
def test_a_name_is_described_by_the_class_it_builds(name):
    model = ks.Model(keras_model(), device="cpu").compile(name, "mse")
    assert ks.optimizers.describe_optimizer(model.optimizer) == CLASS_NAMES[name]
    assert model.compile_config["optimizer"] == CLASS_NAMES[name]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_a_named_adam_keeps_torchs_fused_kernel(name):
    model = ks.Model(keras_model(), device="cpu").compile(name, "mse")
    assert model.optimizer.defaults["fused"] is True
    assert isinstance(model.optimizer, torch.optim.Adam)


# What ``compile(name)`` built before names built Keras's rules: torch's class with Keras's numbers.
OLD_BUILDS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.0, nesterov=False),
    "adam": lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7, fused=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.004,
                                         fused=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7, momentum=0.0, centered=False),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.001, initial_accumulator_value=0.1, eps=1e-7),
    "adadelta": lambda p: torch.optim.Adadelta(p, lr=0.001, rho=0.95, eps=1e-7),
    "adamax": lambda p: torch.optim.Adamax(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7),
    "nadam": lambda p: torch.optim.NAdam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7, momentum_decay=1.0),
}
# torch's per-parameter state -> the Keras rule's, where the name now builds a Keras rule.
MOMENTS = {"sgd": {}, "rmsprop": {"square_avg": "velocity"}, "adagrad": {"sum": "accumulator"},
           "adamax": {"exp_avg": "momentum", "exp_inf": "norm"}}
OLD_STEPS = 5


def torch_net():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))


def saved_by_the_old_code(name, path):
    """A model compiled as ``compile(name)`` compiled before, trained, saved; its optimizer state."""
    old = ks.Model(torch_net(), device="cpu").compile(OLD_BUILDS[name], "mse")
    old.fit(X[:OLD_STEPS * BATCH], Y[:OLD_STEPS * BATCH], batch_size=BATCH, shuffle=False, verbose=0)
    assert "iterations" not in old.optimizer.param_groups[0]
    old.save(path)
    return old, old.optimizer.state_dict()


def assert_carried_over(name, model, old, old_state):
    """The weights, the step count and torch's moments (under the Keras rule's names) were loaded."""
    for mine, theirs in zip(model.module.parameters(), old.module.parameters()):
        assert torch.equal(mine, theirs)
    # torch's SGD without momentum keeps no state, so no count (Keras's SGD reads it only for a
    # schedule, which a name has none of); the others count from torch's per-parameter "step".
    assert [g["iterations"] for g in model.optimizer.param_groups] == [0 if name == "sgd" else OLD_STEPS]
    moments = MOMENTS.get(name)
    for index, p in enumerate(model.optimizer.param_groups[0]["params"]):
        saved = old_state["state"].get(index, {})
        pairs = moments.items() if moments is not None else [(k, k) for k in saved]
        for theirs, ours in pairs:
            assert torch.equal(model.optimizer.state[p][ours], saved[theirs]), (theirs, ours)
    model.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)  # the Keras rule steps from there
    assert all(torch.isfinite(p).all() for p in model.module.parameters())


# Only the names that built torch's optimizer before ("lion", "ftrl" came with their Keras rules).
@pytest.mark.parametrize("name", sorted(OLD_BUILDS))
def test_a_state_saved_with_a_name_loads_into_a_model_compiled_with_it(name, tmp_path):
    old, old_state = saved_by_the_old_code(name, tmp_path / "old.pt")
    model = ks.Model(torch_net(), device="cpu").compile(name, "mse")
    model.load_weights(tmp_path / "old.pt")
    assert_carried_over(name, model, old, old_state)


@pytest.mark.parametrize("name", sorted(OLD_BUILDS))
def test_the_optimizer_a_name_builds_loads_the_old_state_itself(name, tmp_path):
    """What ``model.load_weights`` hands the optimizer after kerasish/state.py has checked it."""
    old, old_state = saved_by_the_old_code(name, tmp_path / "old.pt")
    model = ks.Model(torch_net(), device="cpu").compile(name, "mse")
    model.module.load_state_dict(old.module.state_dict())
    model.optimizer.load_state_dict(old_state)
    assert_carried_over(name, model, old, old_state)


def test_an_old_state_loads_into_a_model_that_has_trained(tmp_path):
    """Its groups have "iterations" by now, which the old file's lack."""
    old, old_state = saved_by_the_old_code("adam", tmp_path / "old.pt")
    model = ks.Model(torch_net(), device="cpu").compile("adam", "mse")
    model.fit(X[:BATCH], Y[:BATCH], batch_size=BATCH, verbose=0)
    model.load_weights(tmp_path / "old.pt")
    assert_carried_over("adam", model, old, old_state)


def test_an_old_adam_state_continues_with_kerass_epsilon(tmp_path):
    """After the load, the next steps are torch's Adam with Keras's epsilon at steps 6, 7, 8."""
    old, _ = saved_by_the_old_code("adam", tmp_path / "old.pt")
    model = ks.Model(torch_net(), device="cpu").compile("adam", "mse")
    model.load_weights(tmp_path / "old.pt")
    more = slice(OLD_STEPS * BATCH, (OLD_STEPS + 3) * BATCH)
    model.fit(X[more], Y[more], batch_size=BATCH, shuffle=False, verbose=0)
    reference = old.optimizer  # the old model's own torch Adam, stepped by hand
    for step in range(OLD_STEPS + 1, OLD_STEPS + 4):
        batch = slice((step - 1) * BATCH, step * BATCH)
        reference.zero_grad()
        out = old.module(torch.from_numpy(X[batch]))
        torch.nn.functional.mse_loss(out, torch.from_numpy(Y[batch])).backward()
        for group in reference.param_groups:
            group["eps"] = 1e-7 / (1 - 0.999 ** step) ** 0.5
        reference.step()
    for mine, theirs in zip(model.module.parameters(), old.module.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)


def continued(optimizer, net, steps):
    for step in range(steps):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(torch.from_numpy(X[batch])), torch.from_numpy(Y[batch])).backward()
        optimizer.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("torch_cls, ours, rtol", [
    (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), ks.optimizers.SGD(momentum=0.9), 1e-6),
    # torch's RMSprop adds epsilon after the root, Keras's under it: equal where it is negligible
    (lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7, momentum=0.9),
     ks.optimizers.RMSprop(momentum=0.9), 1e-4),
], ids=["sgd", "rmsprop"])
def test_torchs_momentum_buffer_carries_over_with_the_learning_rate_folded_in(torch_cls, ours, rtol):
    net = torch_net()
    theirs = torch_cls(net.parameters())
    continued(theirs, net, 4)
    twin = torch_net()
    twin.load_state_dict(net.state_dict())
    mine = ours.build(twin.parameters())
    mine.load_state_dict(copy.deepcopy(theirs.state_dict()))  # as from a file: no shared tensors
    for a, b in zip(continued(mine, twin, 4), continued(theirs, net, 4)):
        torch.testing.assert_close(a, b, rtol=rtol, atol=1e-7)


def test_an_old_state_with_a_setting_the_keras_rule_lacks_is_refused():
    net = torch_net()
    theirs = torch.optim.RMSprop(net.parameters(), lr=0.001, alpha=0.9, eps=1e-7, weight_decay=0.01)
    continued(theirs, net, 2)
    model = ks.Model(torch_net(), device="cpu").compile("rmsprop", "mse")
    groups = [dict(g) for g in model.optimizer.param_groups]
    with pytest.raises(ValueError, match="weight_decay=0.01.*torch.optim.RMSprop"):
        model.optimizer.load_state_dict(theirs.state_dict())
    assert model.optimizer.param_groups == groups and not model.optimizer.state


def test_a_users_own_torch_optimizer_loads_states_as_torch_does():
    net = torch_net()
    optimizer = torch.optim.RMSprop(net.parameters())
    saved = optimizer.state_dict()
    upgraded = ks.optimizers.saved_state.upgrade_saved_state(optimizer, saved, "RMSprop")
    assert upgraded.state is saved and upgraded.saved_type == "RMSprop"
