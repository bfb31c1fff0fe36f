"""examples/custom_train_step.py: each section of Keras's guide runs and does what the guide says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import weights_of

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def guide():
    spec = importlib.util.spec_from_file_location("custom_train_step", EXAMPLES / "custom_train_step.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_train_step"] = module
    spec.loader.exec_module(module)
    return module


def test_a_first_example_trains_exactly_like_the_default_step(guide):
    torch.manual_seed(0)
    model, logs = guide.first_example(epochs=3, small=False)
    torch.manual_seed(0)
    plain = ks.Model(guide.classifier(), device="cpu").compile("adam", "cross_entropy",
                                                                metrics=["accuracy"])
    x, y = guide.digits()
    expected = plain.fit(x, y, epochs=3, batch_size=32, verbose=0).history
    assert logs["loss"] == pytest.approx(expected["loss"][-1], rel=1e-5)
    assert logs["accuracy"] == pytest.approx(expected["accuracy"][-1], rel=1e-5)
    assert logs["accuracy"] > 0.85


def test_going_lower_level_trains_with_its_own_loss_and_metrics(guide):
    torch.manual_seed(0)
    model, logs = guide.lower_level(epochs=3, small=False)
    assert set(logs) == {"loss", "accuracy"}
    assert logs["accuracy"] > 0.85
    x, y = guide.digits()
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert (predicted == y).mean() > 0.85


def test_sample_weights_reach_the_loss_as_in_the_default_step(guide):
    torch.manual_seed(0)
    _, logs = guide.sample_weights(epochs=2, small=True)
    x, y = guide.digits(small=True)
    weights = np.where(y == 3, 2.0, 1.0).astype("float32")
    torch.manual_seed(0)
    plain = ks.Model(guide.classifier(), device="cpu").compile("adam", "cross_entropy",
                                                                metrics=["accuracy"])
    expected = plain.fit(x, y, sample_weight=weights, epochs=2, batch_size=32, verbose=0).history
    torch.manual_seed(0)
    unweighted = ks.Model(guide.classifier(), device="cpu").compile("adam", "cross_entropy")
    ignored = unweighted.fit(x, y, epochs=2, batch_size=32, verbose=0).history
    assert logs["loss"] == pytest.approx(expected["loss"][-1], rel=1e-5)
    assert logs["loss"] != pytest.approx(ignored["loss"][-1], rel=1e-3)


def test_a_custom_test_step_evaluates_like_the_default_one(guide):
    torch.manual_seed(0)
    model, results = guide.evaluation_step(epochs=2, small=False)
    plain = ks.Model(model.module, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"])
    x, y = guide.digits()
    expected = plain.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert results == pytest.approx(expected, rel=1e-5)


def test_the_gan_trains_both_networks_with_their_own_optimizers(guide):
    torch.manual_seed(0)
    before = None

    class Snapshot(ks.callbacks.Callback):
        def on_train_begin(self, logs=None):
            nonlocal before
            before = weights_of(self.model.module)

    original_fit = guide.GAN.fit
    guide.GAN.fit = lambda self, *a, **k: original_fit(self, *a, **k, callbacks=[Snapshot()])
    try:
        model, logs = guide.gan(epochs=2, small=True)
    finally:
        guide.GAN.fit = original_fit
    after = weights_of(model.module)
    assert set(logs) == {"d_loss", "g_loss"} and all(np.isfinite(v) for v in logs.values())
    for prefix in ("d.", "g."):
        changed = [k for k in after if k.startswith(prefix) and not torch.equal(before[k], after[k])]
        assert changed, f"{prefix} weights never changed"
    assert model.optimizer_steps == 0  # the GAN steps its own optimizers, as Keras counts it
