"""LearningRateScheduler: schedule(epoch, lr) and schedule(epoch), torch schedulers per epoch or
batch, the logged learning_rate, and bad schedules."""

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import mlp


class LrPerBatch(ks.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(self.model.learning_rate)


def new_model(lr=0.8):
    module = mlp(4, 8, 2)
    return ks.Model(module, device="cpu").compile(torch.optim.SGD(module.parameters(), lr=lr),
                                                  "cross_entropy")


def fit(model, callbacks, epochs=4, n=8):
    x = np.zeros((n, 4), dtype="float32")
    return model.fit(x, np.zeros(n, "int64"), batch_size=4, epochs=epochs, verbose=0,
                     callbacks=callbacks)


def test_two_argument_schedule_gets_the_current_lr():
    model = new_model()
    history = fit(model, [ks.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    assert history.history["learning_rate"] == [0.4, 0.2, 0.1, 0.05]
    assert model.learning_rate == 0.05


def test_one_argument_schedule_gets_the_epoch():
    model = new_model()
    record = LrPerBatch()
    history = fit(model, [ks.callbacks.LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1)),
                          record], epochs=3)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.2, 0.3])
    assert record.seen == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])  # set before each epoch


def test_schedule_is_called_with_initial_epoch():
    model = new_model()
    calls = []

    def schedule(epoch, lr):
        calls.append(epoch)
        return lr

    model.fit(np.zeros((4, 4), "float32"), np.zeros(4, "int64"), epochs=4, initial_epoch=2,
              verbose=0, callbacks=[ks.callbacks.LearningRateScheduler(schedule)])
    assert calls == [2, 3]


def test_a_type_error_inside_a_two_argument_schedule_is_not_swallowed():
    def schedule(epoch, lr):
        raise TypeError("bug in my schedule")

    with pytest.raises(TypeError, match="bug in my schedule"):
        fit(new_model(), [ks.callbacks.LearningRateScheduler(schedule)])


def test_verbose_prints_the_lr(capsys):
    fit(new_model(), [ks.callbacks.LearningRateScheduler(lambda e: 0.25, verbose=1)], epochs=1)
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.25." in capsys.readouterr().out


def test_torch_scheduler_steps_once_per_epoch():
    model = new_model()
    step = torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=2, gamma=0.5)
    record = LrPerBatch()
    history = fit(model, [ks.callbacks.LearningRateScheduler(step), record])
    assert history.history["learning_rate"] == [0.8, 0.8, 0.4, 0.4]
    assert record.seen == [0.8, 0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.4]
    assert model.learning_rate == 0.2 and step.last_epoch == 4


def test_torch_scheduler_steps_once_per_batch():
    model = new_model()
    step = torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=1, gamma=0.5)
    record = LrPerBatch()
    history = fit(model, [ks.callbacks.LearningRateScheduler(step, interval="batch"), record],
                  epochs=2)
    assert record.seen == [0.8, 0.4, 0.2, 0.1]
    assert history.history["learning_rate"] == [0.2, 0.05]   # the rate after each epoch's batches
    assert step.last_epoch == 4


def test_torch_scheduler_on_another_optimizer_is_rejected():
    model = new_model()
    other = torch.optim.SGD(mlp(4, 8, 2).parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(other, step_size=1)
    with pytest.raises(ValueError, match="another optimizer than model.optimizer.*after compile"):
        fit(model, [ks.callbacks.LearningRateScheduler(scheduler)])


def test_torch_reduce_on_plateau_points_to_the_callback():
    model = new_model()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(model.optimizer)
    with pytest.raises(TypeError, match="ks.callbacks.ReduceLROnPlateau"):
        ks.callbacks.LearningRateScheduler(plateau)


@pytest.mark.parametrize("bad", ["0.1", [0.1], None])
def test_a_schedule_must_return_a_number(bad):
    with pytest.raises(ValueError, match="must return a float; at epoch 0 it returned"):
        fit(new_model(), [ks.callbacks.LearningRateScheduler(lambda epoch: bad)])


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_a_schedule_must_return_a_finite_non_negative_rate(bad):
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        fit(new_model(), [ks.callbacks.LearningRateScheduler(lambda epoch: bad)])


def test_numpy_and_integer_rates_are_accepted():
    model = new_model()
    fit(model, [ks.callbacks.LearningRateScheduler(lambda epoch: np.float32(0.5))], epochs=1)
    assert model.learning_rate == 0.5
    fit(model, [ks.callbacks.LearningRateScheduler(lambda epoch: 1)], epochs=1)
    assert model.learning_rate == 1.0


def test_schedule_must_be_callable_or_scheduler():
    with pytest.raises(TypeError, match="schedule must be a function"):
        ks.callbacks.LearningRateScheduler(0.1)


def test_interval_must_be_epoch_or_batch():
    model = new_model()
    step = torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=1)
    with pytest.raises(ValueError, match="interval must be 'epoch' or 'batch'"):
        ks.callbacks.LearningRateScheduler(step, interval="step")
    with pytest.raises(ValueError, match="interval='batch' applies to a torch LRScheduler"):
        ks.callbacks.LearningRateScheduler(lambda e: 0.1, interval="batch")


def test_per_batch_scheduler_follows_optimizer_steps_not_micro_batches():
    x, y = np.zeros((32, 4), "float32"), np.zeros(32, "int64")
    model = ks.Model(mlp(4, 8, 2)).compile("sgd", "cross_entropy", gradient_accumulation_steps=2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(model.optimizer, lambda step: 1.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0,
              callbacks=[ks.callbacks.LearningRateScheduler(scheduler, interval="batch")])
    assert scheduler.last_epoch == 4  # 8 batches, 4 optimizer steps


class WeightChanges(ks.callbacks.Callback):
    """Counts the batches after which the weights changed: the optimizer steps really taken."""

    def __init__(self):
        super().__init__()
        self.taken = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.before = [p.detach().clone() for p in self.model.module.parameters()]

    def on_train_batch_end(self, batch, logs=None):
        after = list(self.model.module.parameters())
        self.taken += any(not torch.equal(a, b) for a, b in zip(self.before, after))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"], ids=["sgd", "fused-adam"])
@pytest.mark.parametrize("device", [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")),
])
def test_steps_skipped_by_fp16_scaling_do_not_advance_the_schedule(device, optimizer):
    """A named Adam is fused: the scaler hands it the inf check and the kernel skips the update
    itself, so the skip must be read from the scaler, not from whether step() was called."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 2, size=64)
    model = ks.Model(mlp(4, 8, 2), device=device).compile(optimizer, "cross_entropy",
                                                           precision="mixed_float16")
    assert model.optimizer.defaults.get("fused") is (True if optimizer == "adam" else None)
    # A huge initial scale overflows fp16 gradients, so the scaler skips the first steps.
    model._engine.scaler = torch.amp.GradScaler(device, init_scale=2.0**24)
    scheduler = torch.optim.lr_scheduler.LambdaLR(model.optimizer, lambda step: 1.0)
    changes = WeightChanges()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0,
              callbacks=[ks.callbacks.LearningRateScheduler(scheduler, interval="batch"), changes])
    assert 0 < changes.taken < 16  # some steps were skipped, some taken
    assert scheduler.last_epoch == changes.taken
