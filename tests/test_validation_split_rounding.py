"""validation_split splits exactly as Keras 3.15.1 does, checked against Keras's own function.

Keras (``keras/src/trainers/data_adapters/array_slicing.py``, ``train_validation_split``) trains on
the first ``floor(n * (1 - validation_split))`` samples and validates on the rest: the training
count rounds down, the validation count takes what is left. A split leaving either side empty is
a ``ValueError`` in both.
"""

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
train_validation_split = pytest.importorskip(
    "keras.src.trainers.data_adapters.array_slicing").train_validation_split

import kerasish as ks  # noqa: E402
from kerasish.data import split_for_validation  # noqa: E402

# Pairs whose exact count n * (1 - split) is fractional (the rounding decides), or is an integer
# that floating point lands just below or above (100 * 0.9, 10 * 0.3...).
PAIRS = [(10, 0.25), (7, 0.3), (3, 0.1), (5, 0.01), (100, 0.1), (10, 0.7), (50, 0.33),
         (1000, 0.001), (2, 0.5), (9, 0.5), (120, 0.2), (37, 0.15), (11, 0.9)]
REFUSED = [(1, 0.5), (10, 0.99), (4, 0.8), (10, 1e-17)]  # a side would be empty


def arrays(n):
    x = np.arange(n, dtype="float32").reshape(n, 1)
    return x, np.arange(n, dtype="int64"), np.linspace(0.5, 1.5, n, dtype="float32")


def keras_split(n, fraction):
    """Keras's split of the three arrays, or the ValueError it raises."""
    try:
        return train_validation_split(arrays(n), validation_split=fraction)
    except ValueError as error:
        return error


def ours(n, fraction):
    try:
        return split_for_validation(*arrays(n), fraction)
    except ValueError as error:
        return error


def assert_same_split(n, fraction):
    theirs, mine = keras_split(n, fraction), ours(n, fraction)
    if isinstance(theirs, ValueError):
        assert isinstance(mine, ValueError), (n, fraction, "Keras refuses this split")
        return
    assert not isinstance(mine, ValueError), (n, fraction, f"Keras splits it; we raise {mine}")
    for keras_part, our_part in zip(theirs, mine):
        for keras_array, our_array in zip(keras_part, our_part):
            assert np.array_equal(np.asarray(keras_array), np.asarray(our_array)), (n, fraction)


@pytest.mark.parametrize(("n", "fraction"), PAIRS)
def test_the_split_is_keras_split(n, fraction):
    assert_same_split(n, fraction)


def test_a_fractional_count_rounds_the_training_part_down():
    (x_train, _, _), (x_val, _, _) = split_for_validation(*arrays(10), 0.25)
    assert (len(x_train), len(x_val)) == (7, 3)  # 7.5 training samples: 7; 2.5 validation: 3


@pytest.mark.parametrize(("n", "fraction"), REFUSED)
def test_splits_leaving_a_side_empty_are_refused_as_keras_refuses_them(n, fraction):
    assert isinstance(keras_split(n, fraction), ValueError)
    with pytest.raises(ValueError, match="validation_split"):
        split_for_validation(*arrays(n), fraction)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=1, max_value=5000),
       fraction=st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True))
def test_any_n_and_fraction_split_as_in_keras(n, fraction):
    assert_same_split(n, fraction)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=1, max_value=5000),
       fraction=st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True,
                          width=32).map(np.float32))
def test_numpy_float32_fractions_split_as_in_keras(n, fraction):
    assert_same_split(n, fraction)


class Counter(ks.callbacks.Callback):
    """Counts training and validation batches (of one sample each)."""

    def __init__(self):
        super().__init__()
        self.train = self.validation = 0

    def on_train_batch_end(self, batch, logs=None):
        self.train += 1

    def on_test_batch_end(self, batch, logs=None):
        self.validation += 1


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.25), (7, 0.3), (100, 0.1), (11, 0.9)])
def test_fit_trains_and_validates_on_keras_counts(n, fraction):
    (x_train, _, _), (x_val, _, _) = train_validation_split(arrays(n), validation_split=fraction)
    x, y, _ = arrays(n)
    model = ks.Model(torch.nn.Linear(1, 1), device="cpu").compile("sgd", "mse")
    counter = Counter()
    model.fit(x, y.astype("float32").reshape(n, 1), batch_size=1, validation_batch_size=1,
              epochs=1, validation_split=fraction, shuffle=False, verbose=0, callbacks=[counter])
    assert (counter.train, counter.validation) == (len(x_train), len(x_val))
