"""TerminateOnNaN: stops after the first non-finite batch loss, or raises naming the batch."""

import numpy as np
import pytest

import kerasish as ks

from helpers import mlp


class Recorder(ks.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs, self.ended = [], [], False

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_end(self, logs=None):
        self.ended = True


def fit(x, y, terminate, loss="mse"):
    model = ks.Model(mlp(4, 8, 1), device="cpu").compile("sgd", loss)
    record = Recorder()
    model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[terminate, record])
    return record


def bad_data(bad_index=9, value=np.nan):
    x = np.ones((16, 4), dtype="float32")
    y = np.zeros((16, 1), dtype="float32")
    x[bad_index] = value
    return x, y


def test_stops_after_the_batch_with_a_nan_loss(capsys):
    record = fit(*bad_data(9), ks.callbacks.TerminateOnNaN())
    assert record.batches == [0, 1, 2]          # sample 9 is in batch 2 of epoch 0
    assert record.epochs == [0] and record.ended  # Keras: the epoch and the fit still close
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_an_infinite_loss_stops_too():
    x, y = bad_data(0, value=0.0)
    y[5] = 1e30                                 # squared: inf in float32
    record = fit(x, y, ks.callbacks.TerminateOnNaN())
    assert record.batches == [0, 1]


def test_finite_losses_never_stop():
    x, y = bad_data(0, value=1.0)
    record = fit(x, y, ks.callbacks.TerminateOnNaN())
    assert record.epochs == [0, 1, 2] and len(record.batches) == 12


def test_raise_error_names_the_batch_and_skips_on_train_end():
    record = Recorder()
    model = ks.Model(mlp(4, 8, 1), device="cpu").compile("sgd", "mse")
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch 2 \(epoch 1\)"):
        model.fit(*bad_data(9), batch_size=4, epochs=3, shuffle=False, verbose=0,
                  callbacks=[ks.callbacks.TerminateOnNaN(raise_error=True), record])
    assert record.batches == [0, 1]             # the error cuts batch 2's later hooks short
    assert record.epochs == [] and not record.ended
