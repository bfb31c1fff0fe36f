"""The loop reads nothing from the device per step (counted, not timed)."""

import numpy as np
import torch

import kerasish as ks

from helpers import classification_data, mlp


def _reads_during_fit(host_reads, n, callbacks=(), metrics=("accuracy",)):
    x, y = classification_data(n=n)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy", metrics=list(metrics))
    host_reads["n"] = 0
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x[:16], y[:16]),
              callbacks=list(callbacks))
    return host_reads["n"]


def test_host_reads_do_not_grow_with_the_number_of_steps(host_reads):
    few = _reads_during_fit(host_reads, n=64)     # 8 steps per epoch
    many = _reads_during_fit(host_reads, n=640)   # 80 steps per epoch
    assert few == many
    assert few <= 12  # seed draw, label-range check, one read per epoch of logs and val logs


def test_a_callback_that_ignores_batch_logs_costs_no_reads(host_reads):
    class Counter(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.last = batch

    few = _reads_during_fit(host_reads, n=64, callbacks=[Counter()])
    many = _reads_during_fit(host_reads, n=640, callbacks=[Counter()])
    assert few == many


def test_reading_batch_logs_costs_one_read_per_batch_for_all_keys(host_reads):
    class Reader(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.values = (logs["loss"], logs["accuracy"], logs["loss"])

    base = _reads_during_fit(host_reads, n=64)
    reading = _reads_during_fit(host_reads, n=64, callbacks=[Reader()])
    assert reading - base == 16  # 2 epochs x 8 batches, one transfer each


def test_no_reads_from_the_loss_tracker_or_metrics_inside_steps(host_reads):
    x, y = classification_data(n=64)
    metrics = ["accuracy", "sparse_top_k_categorical_accuracy"]
    model = ks.Model(mlp()).compile("sgd", "cross_entropy", metrics=metrics)
    model.train_on_batch(x[:8], y[:8])  # first batch: the one-time label check
    engine = model._engine
    host_reads["n"] = 0
    xb, yb = torch.tensor(x[8:16], device=model.device), torch.tensor(y[8:16], device=model.device)
    for _ in range(10):
        engine.train_step(xb, yb, None)
    assert host_reads["n"] == 0
    np.testing.assert_array_less(0, engine.loss_tracker.result().item())
