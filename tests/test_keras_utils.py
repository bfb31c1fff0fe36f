"""ks.utils.to_categorical and set_random_seed against Keras 3's own (torch backend)."""

import os
import random
import sys

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import kerasish as ks  # noqa: E402


@pytest.mark.parametrize("labels, num_classes", [
    ([0, 2, 1, 3], None),
    ([0, 2, 1], 5),
    (np.array([[1], [2], [0]]), None),  # a trailing 1-axis is dropped, as in Keras
    (np.array([[0, 1], [2, 2]]), 3),
    (np.array([], dtype="int64"), 3),
])
def test_to_categorical_of_arrays_equals_keras(labels, num_classes):
    ours = ks.utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_of_a_tensor_equals_keras_and_stays_a_tensor():
    labels = torch.tensor([[1], [2], [0]])
    ours = ks.utils.to_categorical(labels, 4)
    theirs = keras.utils.to_categorical(labels, 4)
    assert isinstance(ours, torch.Tensor) and ours.dtype == theirs.dtype and ours.device == labels.device
    assert torch.equal(ours, theirs.cpu())
    assert ks.utils.to_categorical(torch.tensor([0, 2])).shape == (2, 3)  # Keras's tensor path cannot infer


@pytest.mark.parametrize("labels, num_classes, match", [
    ([0, 3], 3, r"labels in \[0, 3\] but num_classes=3"),
    ([-1, 1], 3, "labels must lie"),
    ([0, 1], 0, "num_classes must be a positive integer"),
    ([], None, "cannot be inferred"),
])
def test_to_categorical_refuses_labels_outside_the_classes(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        ks.utils.to_categorical(labels, num_classes)


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


@pytest.mark.parametrize("keras_imported", [True, False])
def test_set_random_seed_seeds_python_numpy_and_torch_as_keras_does(monkeypatch, keras_imported):
    keras.utils.set_random_seed(1234)
    expected = _draws()
    if not keras_imported:  # a plain torch program: kerasish seeds everything itself
        monkeypatch.delitem(sys.modules, "keras")
    ks.utils.set_random_seed(1234)
    assert _draws() == expected
    ks.utils.set_random_seed(1235)
    assert _draws() != expected


@pytest.mark.parametrize("seed", [1.5, "1", True, -1, 2**32])
def test_set_random_seed_refuses_anything_but_an_unsigned_32_bit_integer(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        ks.utils.set_random_seed(seed)
