"""ReduceLROnPlateau: factor, patience, cooldown, min_lr, logged learning_rate, reuse, bad input.

The expected learning-rate sequences were checked against Keras 3's ReduceLROnPlateau.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import Scripted, mlp


def new_model(lr=0.8):
    module = mlp(4, 8, 2)
    return ks.Model(module, device="cpu").compile(torch.optim.SGD(module.parameters(), lr=lr),
                                                  "cross_entropy")


def fit(values, model=None, callback=None, **kwargs):
    model = model or new_model()
    callback = callback or ks.callbacks.ReduceLROnPlateau(**kwargs)
    x = np.zeros((8, 4), dtype="float32")
    y = np.zeros(8, dtype="int64")
    history = model.fit(x, y, batch_size=8, epochs=len(values), verbose=0,
                        callbacks=[Scripted("val_loss", values), callback])
    return history.history["learning_rate"], model.learning_rate


def test_reduces_after_patience_epochs_on_a_plateau():
    logged, final = fit([1.0] * 7, factor=0.5, patience=2)
    assert logged == [0.8, 0.8, 0.8, 0.4, 0.4, 0.2, 0.2]
    assert final == pytest.approx(0.1)


def test_cooldown_delays_counting_after_a_reduction():
    logged, final = fit([1.0] * 7, factor=0.5, patience=2, cooldown=2)
    assert logged == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2]
    assert final == pytest.approx(0.2)


def test_never_goes_below_min_lr():
    logged, final = fit([1.0] * 5, factor=0.5, patience=1, min_lr=0.3)
    assert logged == [0.8, 0.8, 0.4, 0.3, 0.3]
    assert final == 0.3


def test_an_improvement_resets_the_wait():
    logged, final = fit([1.0, 1.1, 0.9, 1.0, 1.0], factor=0.5, patience=2)
    assert logged == [0.8] * 5 and final == 0.4


def test_min_delta_decides_what_counts_as_better():
    _, final = fit([1.0, 0.95, 0.9], factor=0.5, patience=1, min_delta=0.1)
    assert final == 0.2                     # neither 0.95 nor 0.9 beats 1.0 by more than 0.1
    _, final = fit([1.0, 0.95, 0.9], factor=0.5, patience=1, min_delta=0.01)
    assert final == 0.8


def test_max_mode_for_accuracy():
    model = new_model()
    cb = ks.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), epochs=3, verbose=0,
              callbacks=[Scripted("val_accuracy", [0.5, 0.6, 0.55]), cb])
    assert model.learning_rate == 0.4


def test_verbose_prints_the_keras_message(capsys):
    fit([1.0, 1.0], factor=0.5, patience=1, verbose=1)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.4." in capsys.readouterr().out


def test_state_resets_per_fit():
    model = new_model()
    callback = ks.callbacks.ReduceLROnPlateau(factor=0.5, patience=2)
    fit([1.0, 1.0, 1.0], model=model, callback=callback)
    assert model.learning_rate == 0.4
    logged, final = fit([5.0, 5.0, 5.0], model=model, callback=callback)
    assert logged == [0.4, 0.4, 0.4] and final == 0.2   # without a reset it would reduce at epoch 1


def test_missing_monitor_warns_and_still_logs_the_learning_rate():
    model = new_model()
    cb = ks.callbacks.ReduceLROnPlateau(patience=0)
    with pytest.warns(UserWarning, match=r"'val_loss', which is not in the logs.*'learning_rate'"):
        history = model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), epochs=2,
                            verbose=0, callbacks=[cb])
    assert history.history["learning_rate"] == [0.8, 0.8]


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_factor_of_one_or_more_is_rejected(factor):
    with pytest.raises(ValueError, match=r"factor >= 1.0.*factor between 0 and 1"):
        ks.callbacks.ReduceLROnPlateau(factor=factor)


def test_factor_must_be_positive_number():
    with pytest.raises(ValueError, match="factor must be between 0 and 1"):
        ks.callbacks.ReduceLROnPlateau(factor=0)
    with pytest.raises(TypeError, match="factor must be a number"):
        ks.callbacks.ReduceLROnPlateau(factor="0.5")


@pytest.mark.parametrize("kwargs,message", [
    ({"patience": -1}, "patience must be an integer >= 0"),
    ({"cooldown": 1.5}, "cooldown must be an integer >= 0"),
    ({"min_lr": -0.1}, "min_lr must be a number >= 0"),
])
def test_bad_counts_and_bounds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ks.callbacks.ReduceLROnPlateau(**kwargs)
