"""A run interrupted during validation resumes with the epoch's logs, bit for bit (issue 26).

The backup after an epoch's last batch is the latest one when validation is interrupted, so the
resumed epoch runs no batch. Its logs must still hold the training loss and metrics (a
``ReduceLROnPlateau(monitor="loss")`` acts on them), and the run must end with the weights of an
uninterrupted one. Checked against an uninterrupted run, in-process (raising from a validation
hook, default and custom train steps) and with a SIGKILL of the whole process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import Interrupted, mlp, weights_of

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 4)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")
VAL = (RNG.normal(size=(16, 4)).astype("float32"), RNG.integers(0, 2, 16))


class OwnStep(ks.Model):
    """A custom train_step (Keras's documented shape) returning its own numbers."""

    def train_step(self, data):
        x, y, _ = ks.utils.unpack_x_y_sample_weight(data)
        loss = self.compute_loss(x, y, self(x))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "weight_norm": self.module[0].weight.detach().norm()}


def new_model(kind: str, seed: int = 0) -> ks.Model:
    torch.manual_seed(seed)
    model_class = OwnStep if kind == "custom" else ks.Model
    return model_class(mlp(4, 16, 2, dropout=0.3), device="cpu").compile(
        "adam", "cross_entropy", metrics=["accuracy"])


class RaiseInValidation(ks.callbacks.Callback):
    def on_test_batch_begin(self, batch, logs=None):
        if self.model.epoch == 1:
            raise Interrupted


def callbacks(backups, *more):
    # min_delta=10: every epoch counts as "no improvement", so the rate halves each epoch that
    # has a loss to look at; an epoch logged without one would leave the rate as it was.
    return [ks.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10),
            ks.callbacks.BackupAndRestore(backups, save_freq=2), *more]


def fit(model, cbs):
    return model.fit(X, Y, batch_size=8, epochs=3, verbose=0, validation_data=VAL, callbacks=cbs)


@pytest.mark.parametrize("kind", ["default", "custom"])
def test_interrupted_during_validation_resumes_with_the_epochs_logs(tmp_path, kind):
    straight = new_model(kind)
    expected = fit(straight, callbacks(tmp_path / "straight")).history

    with pytest.raises(Interrupted):
        fit(new_model(kind), callbacks(tmp_path / "run", RaiseInValidation()))
    resumed = new_model(kind, seed=7)
    got = fit(resumed, callbacks(tmp_path / "run")).history

    for key, values in expected.items():  # the resumed fit logs epochs 1 and 2
        assert got[key] == values[1:], key
    assert set(got) == set(expected)
    assert expected["learning_rate"] == [1e-3, 1e-3, 5e-4]  # it acted at the ends of epochs 1, 2
    want, have = weights_of(straight.module), weights_of(resumed.module)
    assert all(torch.equal(want[k], have[k]) for k in want)


SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    import kerasish as ks

    backups, out, kill = sys.argv[1], sys.argv[2], sys.argv[3] == "kill"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    val = (rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 2, 16))
    torch.manual_seed(int(sys.argv[4]))
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(16, 2))
    model = ks.Model(net, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"])

    class Kill(ks.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            if kill and self.model.epoch == 1 and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_data=val,
                        validation_batch_size=8, callbacks=[
                            ks.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5,
                                                           min_delta=10),
                            ks.callbacks.BackupAndRestore(backups, save_freq=4), Kill()])
    torch.save(model.module.state_dict(), out + ".pt")
    with open(out + ".json", "w") as f:
        json.dump({"epoch": history.epoch, **history.history}, f)
""")


def test_a_sigkill_during_validation_resumes_bit_identical(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))

    def train(name, mode, seed):
        out = tmp_path / name
        return subprocess.run([sys.executable, str(script), str(tmp_path / f"{name}-backups"),
                               str(out), mode, str(seed)], env=env, timeout=120,
                              capture_output=True, text=True).returncode

    assert train("clean", "run", 0) == 0
    assert train("killed", "kill", 0) == -signal.SIGKILL
    assert train("killed", "run", 99) == 0  # other initial weights and random state
    expected = torch.load(tmp_path / "clean.pt", weights_only=True)
    got = torch.load(tmp_path / "killed.pt", weights_only=True)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    clean = json.loads((tmp_path / "clean.json").read_text())
    resumed = json.loads((tmp_path / "killed.json").read_text())
    assert resumed["epoch"] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "learning_rate"):
        assert resumed[key] == clean[key][1:], key
