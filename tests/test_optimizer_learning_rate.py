"""``model.optimizer.learning_rate``, as Keras code reads and sets it (issue 24, trap 4).

The torch optimizers kerasish builds (from a name or a ``ks.optimizers`` object) take it: read,
it is the current rate; set, every param group trains at the new rate from the next step on,
as a hand-written torch loop that changes the rate at the same step. Under a schedule setting it
is refused, as in Keras. A torch optimizer of the user's own is used as given.
"""

import math

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of

BATCH, CHANGE_AT, NEW_RATE = 16, 3, 0.05


class SetRate(ks.callbacks.Callback):
    """Keras code: ``self.model.optimizer.learning_rate = rate`` before batch ``at``."""

    def __init__(self, at, rate):
        super().__init__()
        self.at, self.rate, self.seen = at, rate, []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.at:
            self.model.optimizer.learning_rate = self.rate
        self.seen.append(self.model.optimizer.learning_rate)


def keras_epsilon(optimizer):
    """torch's Adam takes Keras's epsilon when it is 1e-7 / sqrt(1 - beta_2**t) at step t."""
    steps = [0]

    def hook(opt, args, kwargs):
        steps[0] += 1
        for group in opt.param_groups:
            group["eps"] = 1e-7 / math.sqrt(1 - 0.999 ** steps[0])

    optimizer.register_step_pre_hook(hook)
    return optimizer


# name -> the torch optimizer a hand-written loop uses for Keras's rule with Keras's defaults
REFERENCES = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01),
    "adam": lambda p: keras_epsilon(torch.optim.Adam(p, lr=0.001, eps=1e-7)),
    "adamw": lambda p: keras_epsilon(torch.optim.AdamW(p, lr=0.001, eps=1e-7, weight_decay=0.004)),
}


def torch_loop(name, x, y):
    torch.manual_seed(0)
    net = mlp()
    optimizer = REFERENCES[name](net.parameters())
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for step, start in enumerate(range(0, len(x), BATCH)):
        if step == CHANGE_AT:
            for group in optimizer.param_groups:
                group["lr"] = NEW_RATE
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(xs[start:start + BATCH]), ys[start:start + BATCH]).backward()
        optimizer.step()
    return weights_of(net)


def fit(spec, x, y, jit_compile=False):
    torch.manual_seed(0)
    model = ks.Model(mlp(), device="cpu").compile(spec, "cross_entropy", jit_compile=jit_compile)
    callback = SetRate(CHANGE_AT, NEW_RATE)
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    return model, callback


@pytest.mark.parametrize("spec", ["sgd", "adam", "adamw", ks.optimizers.SGD(), ks.optimizers.Adam()],
                         ids=["sgd", "adam", "adamw", "ks.SGD", "ks.Adam"])
def test_a_rate_set_on_the_optimizer_trains_as_a_torch_loop_that_sets_it(spec):
    x, y = classification_data(n=8 * BATCH)
    name = spec if isinstance(spec, str) else type(spec).__name__.lower()
    model, callback = fit(spec, x, y)
    default = REFERENCES[name]([torch.nn.Parameter(torch.zeros(1))]).defaults["lr"]
    assert callback.seen == [default] * CHANGE_AT + [NEW_RATE] * (8 - CHANGE_AT)
    assert [g["lr"] for g in model.optimizer.param_groups] == [NEW_RATE]
    assert same_weights(weights_of(model.module), torch_loop(name, x, y), atol=1e-6)


def test_a_rate_set_on_the_optimizer_reaches_a_compiled_step():
    x, y = classification_data(n=8 * BATCH)
    compiled, _ = fit("sgd", x, y, jit_compile=True)
    assert same_weights(weights_of(compiled.module), torch_loop("sgd", x, y), atol=1e-6)


@pytest.mark.parametrize("name", ks.optimizers.KNOWN_OPTIMIZERS)
def test_every_name_reads_and_sets_the_rate(name):
    model = ks.Model(mlp(), device="cpu").compile(name, "mse")
    assert model.optimizer.learning_rate == model.learning_rate
    model.optimizer.learning_rate = 0.125
    assert model.learning_rate == 0.125 and model.optimizer.learning_rate == 0.125


def test_reading_gives_the_rate_a_callback_set():
    x, y = classification_data(n=64)
    model = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    halve = ks.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[halve])
    assert model.optimizer.learning_rate == pytest.approx(0.001 / 4)


def test_setting_sets_every_group_and_fills_a_tensor_rate_in_place():
    net = mlp()
    rate = torch.tensor(0.01)
    optimizer = ks.optimizers.Adam().build([{"params": net[0].parameters(), "lr": rate},
                                            {"params": net[2].parameters()}])
    optimizer.learning_rate = 0.02
    assert optimizer.param_groups[0]["lr"] is rate and float(rate) == pytest.approx(0.02)
    assert optimizer.param_groups[1]["lr"] == 0.02
    assert optimizer.learning_rate == pytest.approx(0.02)
    optimizer.learning_rate = torch.tensor(0.03)  # a one-element tensor is a number too
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.03)


def test_under_a_schedule_setting_is_refused_as_in_keras_and_reading_follows_the_schedule():
    x, y = classification_data(n=64)
    schedule = ks.optimizers.schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5)
    model = ks.Model(mlp(), device="cpu").compile(ks.optimizers.SGD(learning_rate=schedule), "cross_entropy")
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.01 * 0.5 ** 4)
    before = weights_of(model.module)
    with pytest.raises(TypeError, match="LearningRateSchedule.*not settable"):
        model.optimizer.learning_rate = 0.1
    assert model.optimizer.learning_rate == pytest.approx(0.01 * 0.5 ** 4)
    assert same_weights(before, weights_of(model.module))


BAD_RATES = {"negative": (-0.1, ValueError), "nan": (float("nan"), ValueError), "string": ("0.1", ValueError),
             "bool": (True, ValueError), "callable": (lambda: 0.1, TypeError),
             "schedule": (ks.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9), TypeError)}


@pytest.mark.parametrize("value, error", BAD_RATES.values(), ids=BAD_RATES.keys())
def test_a_bad_rate_is_refused_naming_learning_rate_and_nothing_changes(value, error):
    x, y = classification_data(n=32)
    model = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    before = weights_of(model.module)
    with pytest.raises(error, match="learning_rate"):
        model.optimizer.learning_rate = value
    assert [g["lr"] for g in model.optimizer.param_groups] == [0.001]
    assert same_weights(before, weights_of(model.module))


def test_a_users_own_torch_optimizer_is_used_as_given():
    """kerasish does not change the class of an optimizer it did not build: use model.learning_rate."""
    net = mlp()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    model = ks.Model(net, device="cpu").compile(optimizer, "mse")
    assert model.optimizer is optimizer and type(optimizer) is torch.optim.SGD
    assert not hasattr(optimizer, "learning_rate")
    model.learning_rate = 0.2
    assert optimizer.param_groups[0]["lr"] == 0.2


def test_the_class_of_a_named_optimizer_is_torchs_where_torch_has_the_rule():
    """``isinstance(model.optimizer, torch.optim.Adam)`` holds for a named Adam, and its class name
    (in logs, configs and state files) is torch's."""
    model = ks.Model(mlp(), device="cpu").compile("adam", "mse")
    assert isinstance(model.optimizer, torch.optim.Adam)
    assert type(model.optimizer).__name__ == "Adam"
    assert np.isclose(model.optimizer.learning_rate, 0.001)
