"""Continuing a run saved with ``model.save``, the two ways README describes (issue 26).

``fit`` counts epochs as Keras's does: from ``initial_epoch``, whatever was loaded. So after
``load_weights``, ``fit(epochs=5, initial_epoch=model.epoch)`` trains the remaining epochs under
their own numbers (progress bar, History, CSVLogger), and ``kerasish.state.resume`` continues
bit for bit as one uninterrupted run would (shuffle order and random numbers included).
"""

from __future__ import annotations

import csv

import numpy as np
import torch

import kerasish as ks

from helpers import mlp, weights_of

X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
Y = (X[:, 0] - X[:, 2] > 0).astype("int64")


def new_model(seed=0):
    torch.manual_seed(seed)
    return ks.Model(mlp(4, 16, 2, dropout=0.3), device="cpu").compile("adam", "cross_entropy")


def fit(model, epochs, **kwargs):
    return model.fit(X, Y, batch_size=8, epochs=epochs, **{"verbose": 0, **kwargs})


def saved_after_three_epochs(tmp_path, log):
    first = new_model()
    fit(first, 3, callbacks=[ks.callbacks.CSVLogger(log)])
    first.save(tmp_path / "run.pt")
    return tmp_path / "run.pt"


def test_load_weights_then_initial_epoch_continues_the_epoch_count(tmp_path, capsys):
    log = tmp_path / "log.csv"
    path = saved_after_three_epochs(tmp_path, log)
    model = new_model(seed=5)
    model.load_weights(path)
    assert model.epoch == 3
    history = fit(model, 5, initial_epoch=model.epoch, verbose=2,
                  callbacks=[ks.callbacks.CSVLogger(log, append=True)])
    assert history.epoch == [3, 4]
    printed = capsys.readouterr().out
    assert "Epoch 4/5" in printed and "Epoch 5/5" in printed and "Epoch 1/5" not in printed
    with open(log) as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2, 3, 4]
    assert model.epoch == 5


def test_state_resume_continues_as_the_uninterrupted_run(tmp_path):
    straight = new_model()
    expected = fit(straight, 5).history
    path = saved_after_three_epochs(tmp_path, tmp_path / "log.csv")
    model = new_model(seed=5)
    torch.manual_seed(123)  # another random state, which the saved one must replace
    ks.state.resume(model, ks.state.read(path), path)
    history = fit(model, 5)
    assert history.epoch == [3, 4]
    assert history.history["loss"] == expected["loss"][3:]
    want, have = weights_of(straight.module), weights_of(model.module)
    assert all(torch.equal(want[k], have[k]) for k in want)
