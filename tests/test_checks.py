"""The one integer/number check (``kerasish.checks``) and the arguments that go through it.

Every count or size argument accepts the same values: Python and NumPy integers in range, never a
bool or a float, and each bad value is a ``ValueError`` that names the argument (and its owner).
"""

import doctest
import math

import numpy as np
import pytest
import torch

import kerasish as ks
from kerasish import checks
from kerasish.checks import check_int, check_number, is_int

from helpers import classification_data, mlp

BAD_COUNTS = [True, False, 2.0, np.float64(3.0), "3", -1, None, [1]]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_a_bad_count_is_a_value_error_naming_the_argument_and_the_owner(value):
    with pytest.raises(ValueError) as raised:
        check_int(value, "patience", least=0, owner="EarlyStopping")
    assert str(raised.value) == f"EarlyStopping: patience must be an integer >= 0; got {value!r}."


@pytest.mark.parametrize("value", [0, 7, np.int64(7), np.int32(7), np.uint8(7)], ids=repr)
def test_python_and_numpy_integers_come_back_as_python_ints(value):
    result = check_int(value, "patience", least=0)
    assert result == value and type(result) is int


@pytest.mark.parametrize("least, below, allow_none, wording", [
    (1, None, False, "must be a positive integer; got"),
    (0, None, False, "must be an integer >= 0; got"),
    (2, None, False, "must be an integer >= 2; got"),
    (None, None, False, "must be an integer; got"),
    (1, None, True, "must be a positive integer or None; got"),
    (0, 2**32, False, "must be an integer in [0, 2**32); got"),
    (0, 10, False, "must be an integer in [0, 10); got"),
    (None, 10, False, "must be an integer < 10; got"),
])
def test_the_message_says_which_integers_are_allowed(least, below, allow_none, wording):
    with pytest.raises(ValueError) as raised:
        check_int(1.5, "n", least=least, below=below, allow_none=allow_none)
    assert str(raised.value) == f"n {wording} 1.5."


def test_bounds_none_and_is_int():
    assert check_int(None, "steps", least=1, allow_none=True) is None
    assert check_int(2**32 - 1, "seed", least=0, below=2**32) == 2**32 - 1
    with pytest.raises(ValueError, match="seed"):
        check_int(2**32, "seed", least=0, below=2**32)
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        check_int(0, "batch_size", least=1)
    assert is_int(np.int64(3), least=3) and not is_int(np.int64(3), least=4)
    assert not is_int(True) and not is_int(1.0) and not is_int(None) and is_int(-5)
    assert not is_int(5, below=5) and is_int(4, below=5)


@pytest.mark.parametrize("value", [True, "0.5", None, float("nan"), -0.1, 1.5, torch.tensor(0.5)], ids=repr)
def test_a_bad_number_is_a_value_error_naming_the_argument(value):
    with pytest.raises(ValueError) as raised:
        check_number(value, "momentum", low=0.0, high=1.0)
    assert str(raised.value) == f"momentum must be a number >= 0.0 and <= 1.0; got {value!r}."


def test_check_number_bounds_open_low_none_and_owner():
    assert check_number(np.float32(0.5), "m", low=0.0, high=1.0) == 0.5
    assert check_number(1, "m", low=0.0, high=1.0) == 1.0
    assert check_number(0.0, "weight_decay", low=0.0) == 0.0
    assert math.isnan(check_number(float("nan"), "anything"))  # NaN fails only a bound
    assert check_number(None, "clipnorm", low=0, open_low=True, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^learning_rate must be a number > 0.0; got 0.0.$"):
        check_number(0.0, "learning_rate", low=0.0, open_low=True)
    with pytest.raises(ValueError, match=r"^clipnorm must be a number > 0 or None; got -1.$"):
        check_number(-1, "clipnorm", low=0, open_low=True, allow_none=True)
    with pytest.raises(ValueError, match=r"^ReduceLROnPlateau: min_lr must be a number >= 0; got -0.1.$"):
        check_number(-0.1, "min_lr", low=0, owner="ReduceLROnPlateau")
    with pytest.raises(ValueError, match=r"^x must be a number <= 1; got 2.$"):
        check_number(2, "x", high=1)


def test_the_docstring_examples_run():
    result = doctest.testmod(checks)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------ the arguments that use it

def _compiled():
    return ks.Model(mlp()).compile("sgd", "sparse_categorical_crossentropy")


CALL_SITES = {
    "EarlyStopping patience": (lambda v: ks.callbacks.EarlyStopping(patience=v), "EarlyStopping: patience"),
    "EarlyStopping start_from_epoch": (lambda v: ks.callbacks.EarlyStopping(start_from_epoch=v),
                                       "EarlyStopping: start_from_epoch"),
    "ReduceLROnPlateau cooldown": (lambda v: ks.callbacks.ReduceLROnPlateau(cooldown=v),
                                   "ReduceLROnPlateau: cooldown"),
    "PredictionSamples every": (lambda v: ks.callbacks.PredictionSamples(np.zeros((2, 8)), every=v),
                                "PredictionSamples: every"),
    "TensorBoard histogram_freq": (lambda v: ks.callbacks.TensorBoard("unused", histogram_freq=v),
                                   "TensorBoardCallback: histogram_freq"),
    "to_categorical num_classes": (lambda v: ks.utils.to_categorical([0, 1], num_classes=v),
                                   "to_categorical: num_classes"),
    "set_random_seed seed": (lambda v: ks.utils.set_random_seed(v), "set_random_seed: seed"),
    "compile gradient_accumulation_steps": (
        lambda v: ks.Model(mlp()).compile("sgd", "mse", gradient_accumulation_steps=v),
        "gradient_accumulation_steps"),
    "fit epochs": (lambda v: _compiled().fit(*classification_data(), epochs=v, verbose=0), "epochs"),
    "fit validation_freq": (lambda v: _compiled().fit(*classification_data(), validation_freq=v, verbose=0),
                            "validation_freq"),
    "evaluate steps": (lambda v: _compiled().evaluate(*classification_data(), steps=v, verbose=0), "steps"),
    "predict batch_size": (lambda v: _compiled().predict(classification_data()[0], batch_size=v, verbose=0),
                           "batch_size"),
}


@pytest.mark.parametrize("bad", [True, 2.5, -1], ids=repr)
@pytest.mark.parametrize("site", CALL_SITES)
def test_each_argument_rejects_bools_floats_and_negatives_by_name(site, bad):
    call, named = CALL_SITES[site]
    with pytest.raises(ValueError, match=f"^{named} must be "):
        call(bad)


def test_numpy_integers_are_accepted_and_stored_as_python_ints():
    stop = ks.callbacks.EarlyStopping(patience=np.int64(2), start_from_epoch=np.int32(1))
    assert (stop.patience, stop.start_from_epoch) == (2, 1) and type(stop.patience) is int
    assert type(ks.callbacks.ReduceLROnPlateau(cooldown=np.int64(3)).cooldown) is int
    assert ks.utils.to_categorical([0, 1], num_classes=np.int64(3)).shape == (2, 3)
    model = _compiled()
    x, y = classification_data()
    model.fit(x, y, epochs=np.int64(1), validation_data=(x, y), validation_freq=np.int64(1), verbose=0)
    assert model.predict(x, batch_size=np.int64(16), steps=np.int64(2), verbose=0).shape[0] == 32
    model.evaluate(x, y, batch_size=np.int64(16), steps=np.int64(1), verbose=0)


def test_evaluate_and_predict_share_their_checks():
    model = _compiled()
    x, y = classification_data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=8)
    for call in (lambda **kw: model.evaluate(x, y, **kw), lambda **kw: model.predict(x, **kw)):
        with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto'"):
            call(verbose=3)
        with pytest.raises(ValueError, match="^steps must be a positive integer or None; got 0.$"):
            call(steps=0, verbose=0)
    for call in (lambda: model.evaluate(loader, batch_size=8, verbose=0),
                 lambda: model.predict(loader, batch_size=8, verbose=0)):
        with pytest.raises(ValueError, match="batch_size must be None when x is a DataLoader"):
            call()
