"""Exact resume in the callback combinations users have (issue 26).

Each test interrupts a fit by raising from a callback at a chosen batch or hook, resumes it with a
new model (other initial weights and random state) and ``BackupAndRestore``, and compares with an
uninterrupted run: the learning rate of every batch and epoch, and the final weights, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import InterruptAfter, Interrupted, Scripted, mlp, same_weights, weights_of


def data(n):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def new_model(seed=0, accumulation=1):
    torch.manual_seed(seed)
    return ks.Model(mlp(4, 16, 2, dropout=0.3), device="cpu").compile(
        "adam", "cross_entropy", gradient_accumulation_steps=accumulation)


def fit(model, callbacks, n=32, epochs=4):
    # Batches of 8, shuffled, with dropout: n=32 gives 4 batches per epoch, n=40 five.
    return model.fit(*data(n), batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks)


class Rates(ks.callbacks.Callback):
    """The learning rate in effect for each batch, keyed (epoch, batch): a resume overwrites the
    batches it replays, so interrupted + resumed records read as one run."""

    def __init__(self, record):
        super().__init__()
        self.record = record

    def on_train_batch_begin(self, batch, logs=None):
        self.record[(self.model.epoch, batch)] = self.model.learning_rate


class RaiseAtEpochEnd(ks.callbacks.Callback):
    """Interrupts in the given epoch's on_epoch_end, before BackupAndRestore's epoch backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupted


class RaiseAtTrainEnd(ks.callbacks.Callback):
    def on_train_end(self, logs=None):
        raise Interrupted


class Batches(ks.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.count += 1


def epoch_rates(*histories):
    """{epoch: logged learning_rate}, later histories overwriting earlier ones."""
    rates = {}
    for history in histories:
        rates.update(zip(history.epoch, history.history["learning_rate"]))
    return rates


# ---------------------------------------------------------------------------- a relative schedule

def relative(epoch, lr):
    return lr * 0.9  # Keras's documented form: the factor applies to the rate in effect


def run_relative(tmp_path, save_freq, interrupter):
    """(uninterrupted, resumed) as (per-batch rates, per-epoch rates, final weights)."""
    straight_rates: dict = {}
    straight = new_model()
    history = fit(straight, [ks.callbacks.LearningRateScheduler(relative), Rates(straight_rates)])
    expected = (straight_rates, epoch_rates(history), weights_of(straight.module))

    rates: dict = {}
    interrupted = new_model()
    with pytest.raises(Interrupted):
        fit(interrupted, [ks.callbacks.LearningRateScheduler(relative), Rates(rates),
                          ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq),
                          interrupter])
    before = interrupted.history
    resumed = new_model(seed=123)
    after = fit(resumed, [ks.callbacks.LearningRateScheduler(relative), Rates(rates),
                          ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq)])
    assert not tmp_path.exists()
    return expected, (rates, epoch_rates(before, after), weights_of(resumed.module))


@pytest.mark.parametrize("interrupt_at", [6, 7, 10, 13], ids=lambda at: f"after-batch-{at}")
def test_a_relative_schedule_resumed_mid_epoch_is_not_applied_twice(tmp_path, interrupt_at):
    (rates, per_epoch, weights), (got_rates, got_per_epoch, got_weights) = run_relative(
        tmp_path, save_freq=1, interrupter=InterruptAfter(interrupt_at))
    assert got_per_epoch == per_epoch
    assert got_rates == rates
    assert same_weights(got_weights, weights)


def test_a_relative_schedule_resumed_at_an_epoch_boundary_is_exact(tmp_path):
    # A backup on an epoch's last batch, interrupted before that epoch's end (validation, another
    # callback's on_epoch_end): the resume replays the epoch end of an epoch already scheduled.
    expected, got = run_relative(tmp_path / "last-batch", save_freq=4,
                                 interrupter=RaiseAtEpochEnd(1))
    assert got[:2] == expected[:2] and same_weights(got[2], expected[2])
    # The epoch backup, interrupted as the next epoch starts: the next epoch is scheduled once.
    expected, got = run_relative(tmp_path / "epoch", save_freq="epoch",
                                 interrupter=InterruptAfter(8))
    assert got[:2] == expected[:2] and same_weights(got[2], expected[2])


# ---------------------------------------------------------------------------- a per-batch scheduler

def batch_scheduler(model):
    scheduler = torch.optim.lr_scheduler.ExponentialLR(model.optimizer, gamma=0.9)
    return ks.callbacks.LearningRateScheduler(scheduler, interval="batch")


@pytest.mark.parametrize("scheduler_first", [True, False], ids=["before-backup", "after-backup"])
def test_a_per_batch_scheduler_resumes_exactly_in_any_callback_order(tmp_path, scheduler_first):
    """Gradient accumulation over 2 of 5 batches per epoch: resumes at the start of a window, in a
    half-filled one, and after an epoch whose last window was flushed at its end."""

    def callbacks(model, record, *more):
        backup = ks.callbacks.BackupAndRestore(tmp_path, save_freq=1)
        ordered = [batch_scheduler(model), backup] if scheduler_first else \
            [backup, batch_scheduler(model)]
        return [*ordered, Rates(record), *more]

    straight_rates: dict = {}
    straight = new_model(accumulation=2)
    fit(straight, [batch_scheduler(straight), Rates(straight_rates)], n=40)
    for interrupt_at in (5, 6, 7, 10, 12):
        rates: dict = {}
        interrupted = new_model(accumulation=2)
        with pytest.raises(Interrupted):
            fit(interrupted, callbacks(interrupted, rates, InterruptAfter(interrupt_at)), n=40)
        resumed = new_model(seed=123, accumulation=2)
        fit(resumed, callbacks(resumed, rates), n=40)
        assert rates == straight_rates, f"interrupted after batch {interrupt_at}"
        assert same_weights(weights_of(resumed.module), weights_of(straight.module))
        assert resumed.optimizer_steps == straight.optimizer_steps


def test_callbacks_listed_before_the_backup_start_from_the_restored_model(tmp_path):
    seen = []

    class Reader(ks.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.optimizer_steps)

    with pytest.raises(Interrupted):
        fit(new_model(), [Reader(), ks.callbacks.BackupAndRestore(tmp_path, save_freq=1),
                          InterruptAfter(6)])
    fit(new_model(seed=123), [Reader(), ks.callbacks.BackupAndRestore(tmp_path, save_freq=1)])
    assert seen == [0, 6]


# ---------------------------------------------------------------------------- a finished run

@pytest.mark.parametrize("save_freq,restore_best_weights", [("epoch", False), (5, True)])
def test_a_rerun_after_an_interrupted_train_end_trains_nothing(tmp_path, save_freq,
                                                               restore_best_weights):
    """EarlyStopping stops at epoch 2's end; the job dies in on_train_end (here before
    EarlyStopping puts back its best weights). The rerun finishes the fit without training."""
    losses = [1.0, 0.8, 0.9, 0.95, 0.97, 0.99]  # patience 1: stops after epoch 2

    def callbacks(*more, first=()):
        stop = ks.callbacks.EarlyStopping(monitor="loss", patience=1,
                                          restore_best_weights=restore_best_weights)
        return [*first, Scripted("loss", losses), stop, *more]

    straight = new_model()
    history = fit(straight, callbacks(), epochs=6)
    assert history.epoch == [0, 1, 2]

    with pytest.raises(Interrupted):
        fit(new_model(), callbacks(ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq),
                                   first=[RaiseAtTrainEnd()]), epochs=6)
    assert (tmp_path / "backup.pt").exists()
    rerun, batches = new_model(seed=123), Batches()
    rerun_callbacks = callbacks(ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq),
                                batches)
    fit(rerun, rerun_callbacks, epochs=6)
    assert batches.count == 0
    assert rerun_callbacks[1].stopped_epoch == 2   # its state came back with the backup
    assert same_weights(weights_of(rerun.module), weights_of(straight.module))
    assert not tmp_path.exists()
