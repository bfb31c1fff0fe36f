"""EarlyStopping: patience, min_delta, baseline, start_from_epoch, restore_best_weights, reuse."""

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import Scripted, WeightsPerEpoch, mlp, same_weights, weights_of


def fit(values, epochs=None, key="val_loss", model=None, extra=(), **kwargs):
    model = model or ks.Model(mlp(4, 8, 2), device="cpu").compile("sgd", "cross_entropy")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    stop = kwargs.pop("callback", None) or ks.callbacks.EarlyStopping(monitor=key, **kwargs)
    history = model.fit(x, y, batch_size=8, epochs=epochs or len(values), verbose=0,
                        callbacks=[Scripted(key, values), stop, *extra])
    return history, stop, model


def test_stops_after_patience_epochs_without_improvement():
    history, stop, _ = fit([1.0, 0.9, 0.95, 0.94, 0.93, 0.5], patience=2)
    assert history.epoch == [0, 1, 2, 3]
    assert stop.stopped_epoch == 3 and stop.best == 0.9 and stop.best_epoch == 1


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    history, stop, _ = fit([1.0, 0.9, 0.95, 0.1], patience=0)
    assert history.epoch == [0, 1, 2]


def test_min_delta_requires_a_large_enough_improvement():
    history, stop, _ = fit([1.0, 0.9, 0.88, 0.5], patience=2, min_delta=0.15)
    assert history.epoch == [0, 1, 2] and stop.best == 1.0  # 0.9, 0.88: less than 0.15 better
    history, _, _ = fit([1.0, 0.9, 0.88, 0.5], patience=2, min_delta=0.05)
    assert history.epoch == [0, 1, 2, 3]


def test_max_mode_for_accuracy():
    history, stop, _ = fit([0.5, 0.6, 0.6, 0.59, 0.9], key="val_accuracy", patience=2)
    assert history.epoch == [0, 1, 2, 3] and stop.best == 0.6


def test_baseline_keeps_the_patience_counter_running_until_it_is_beaten():
    history, stop, _ = fit([0.9, 0.8, 0.85, 0.4, 0.3], patience=2, baseline=0.5)
    assert history.epoch == [0, 1, 2]
    history, _, _ = fit([0.9, 0.8, 0.85, 0.4, 0.3], patience=2)
    assert history.epoch == [0, 1, 2, 3, 4]
    history, _, _ = fit([0.9, 0.4, 0.45, 0.46, 0.47, 0.1], patience=2, baseline=0.5)
    assert history.epoch == [0, 1, 2, 3]        # 0.4 beat the baseline: patience restarts there


def test_start_from_epoch_ignores_the_warm_up_epochs():
    values = [0.1, 0.2, 1.0, 1.1, 1.2, 1.3]
    history, _, _ = fit(values, patience=1)
    assert history.epoch == [0, 1]
    history, stop, _ = fit(values, patience=1, start_from_epoch=2)
    assert history.epoch == [0, 1, 2, 3] and stop.best == 1.0


def test_restore_best_weights_after_stopping_early():
    record = WeightsPerEpoch()
    history, stop, model = fit([1.0, 0.5, 0.7, 0.8, 0.9], patience=2, restore_best_weights=True,
                               extra=[record])
    assert history.epoch == [0, 1, 2, 3]
    assert same_weights(weights_of(model.module), record.weights[1])
    assert not same_weights(record.weights[3], record.weights[1])


def test_restore_best_weights_applies_even_without_stopping():
    record = WeightsPerEpoch()
    history, stop, model = fit([1.0, 0.5, 0.7, 0.8], patience=10, restore_best_weights=True,
                               extra=[record])
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 0
    assert same_weights(weights_of(model.module), record.weights[1])


def test_without_restore_best_weights_the_last_weights_stay():
    record = WeightsPerEpoch()
    _, _, model = fit([1.0, 0.5, 0.7, 0.8], patience=10, extra=[record])
    assert same_weights(weights_of(model.module), record.weights[3])


def test_state_resets_so_one_instance_serves_several_fits():
    stop = ks.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history, _, model = fit([1.0, 0.9, 0.95, 0.94], callback=stop)
    assert history.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3
    record = WeightsPerEpoch()
    history, _, _ = fit([5.0, 4.0, 3.0], callback=stop, model=model, extra=[record])
    assert history.epoch == [0, 1, 2]            # compared with 0.9 it would stop at epoch 1
    assert stop.best == 3.0 and stop.stopped_epoch == 0 and stop.best_epoch == 2
    assert same_weights(weights_of(model.module), record.weights[2])


def test_verbose_prints_the_stop_and_the_restore(capsys):
    fit([1.0, 0.9, 0.95, 0.94], patience=2, verbose=1, restore_best_weights=True)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_missing_monitor_warns_with_the_available_keys_and_never_stops():
    model = ks.Model(mlp(4, 8, 2), device="cpu").compile("sgd", "cross_entropy")
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    with pytest.warns(UserWarning, match=r"'val_loss', which is not in the logs.*\['loss'\]"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[ks.callbacks.EarlyStopping()])
    assert history.epoch == [0, 1, 2]


@pytest.mark.parametrize("argument", ["patience", "start_from_epoch"])
@pytest.mark.parametrize("value", [-1, 1.5, "2", True])
def test_counts_must_be_non_negative_integers(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be an integer >= 0"):
        ks.callbacks.EarlyStopping(**{argument: value})
