"""Keras's own callback objects, passed to ``ks.Model.fit`` as they are, do what they do in Keras.

Each case runs Keras 3's ``fit`` and kerasish's on identical weights and data with a fresh
instance of the same Keras callback, and compares what the callback did: when training stopped,
which weights it restored, what it wrote.
"""

from __future__ import annotations

import csv

import numpy as np
import torch

import kerasish as ks
from tests.keras_port.twins import dense_model, keras


def both_fits(make_callbacks, epochs=8, x=None, y=None, **fit_kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32") if x is None else x
    y = rng.normal(size=(32, 1)).astype("float32") if y is None else y
    kmodel, twin = dense_model()
    kmodel.compile(keras.optimizers.SGD(0.3), "mse")
    theirs = kmodel.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=make_callbacks("keras"), **fit_kwargs)
    model = ks.Model(twin, device="cpu").compile(torch.optim.SGD(twin.parameters(), lr=0.3), "mse")
    ours = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=make_callbacks("ours"), **fit_kwargs)
    return kmodel, theirs, model, ours


def test_kerass_early_stopping_stops_and_restores_as_in_keras():
    # A learning rate that overshoots: the loss rises after a few epochs, so patience runs out.
    def callbacks(_):
        return [keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)]

    kmodel, theirs, model, ours = both_fits(callbacks, epochs=30, y=np.full((32, 1), 5.0, "float32"))
    assert len(ours.history["loss"]) == len(theirs.history["loss"]) < 30
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    kernel, bias = kmodel.get_layer("output_0").get_weights()
    np.testing.assert_allclose(model.module.heads[0].weight.detach().numpy(), kernel.T, rtol=1e-5)
    np.testing.assert_allclose(model.module.heads[0].bias.detach().numpy(), bias, rtol=1e-5)


def test_kerass_csv_logger_and_lambda_callback_write_and_see_what_they_do_in_keras(tmp_path):
    seen = {"keras": [], "ours": []}

    def callbacks(who):
        return [keras.callbacks.CSVLogger(str(tmp_path / f"{who}.csv")),
                keras.callbacks.LambdaCallback(
                    on_epoch_end=lambda epoch, logs: seen[who].append((epoch, logs["loss"])),
                    on_batch_end=lambda batch, logs: seen[who].append(("batch", batch)))]

    both_fits(callbacks, epochs=3)
    assert [r[0] for r in seen["ours"]] == [r[0] for r in seen["keras"]]
    np.testing.assert_allclose([r[1] for r in seen["ours"]], [r[1] for r in seen["keras"]], rtol=1e-5)
    rows = {who: list(csv.DictReader(open(tmp_path / f"{who}.csv"))) for who in ("keras", "ours")}
    assert [list(r) for r in rows["ours"]] == [list(r) for r in rows["keras"]]
    for ours, theirs in zip(rows["ours"], rows["keras"]):
        assert ours["epoch"] == theirs["epoch"]
        assert abs(float(ours["loss"]) - float(theirs["loss"])) <= 1e-5 * abs(float(theirs["loss"]))


def test_kerass_terminate_on_nan_stops_on_the_same_batch():
    def callbacks(_):
        return [keras.callbacks.TerminateOnNaN()]

    x = np.ones((32, 3), "float32")
    y = np.full((32, 1), 1e30, "float32")  # the loss overflows to inf at once
    _, theirs, _, ours = both_fits(callbacks, epochs=3, x=x, y=y)
    assert len(ours.history.get("loss", [])) == len(theirs.history.get("loss", []))


def test_a_keras_callback_passed_alone_is_taken_like_a_list():
    _, theirs, _, ours = both_fits(lambda _: keras.callbacks.TerminateOnNaN(), epochs=2)
    assert len(ours.history["loss"]) == len(theirs.history["loss"]) == 2
