"""Keras's ``testing.TestCase`` assertions for the ported loss tests (keras/src/losses/losses_test.py).

The ported cases keep Keras's inputs, expected numbers and tolerances; these helpers check them
the way Keras's test case does (NumPy's ``assert_array_almost_equal`` / ``assert_allclose`` on
the result), so a port reads like its Keras original while running on ``ks.losses``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch


def to_numpy(x: Any) -> np.ndarray:
    """A tensor (any dtype, any device), list or number as a float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


# The two calls the Keras file makes on its backend module: the backend is torch here.
backend = SimpleNamespace(backend=lambda: "torch", shape=lambda x: tuple(x.shape))


class KerasLossCase:
    """The assertions of Keras's ``testing.TestCase`` that the loss tests use."""

    def assertAlmostEqual(self, actual, desired, decimal=3, msg=None):
        np.testing.assert_array_almost_equal(to_numpy(actual), to_numpy(desired), decimal=decimal)

    def assertAllClose(self, actual, desired, atol=1e-6, rtol=1e-6, msg=None):
        np.testing.assert_allclose(to_numpy(actual), to_numpy(desired), atol=atol, rtol=rtol)

    def assertEqual(self, first, second, msg=None):
        assert first == second, msg

    def assertDType(self, x, dtype, msg=None):
        assert str(x.dtype).replace("torch.", "") == dtype, f"dtype {x.dtype}, expected {dtype}"

    def assertRaisesRegex(self, exc, pattern):
        return pytest.raises(exc, match=pattern)

    def run_class_serialization_test(self, instance, custom_objects=None):
        """Keras's get_config round trip (its serialize_keras_object half is keras.saving's)."""
        config = instance.get_config()
        revived = type(instance).from_config(config)
        assert revived.get_config() == config
        assert type(revived) is type(instance)
        assert revived.name == instance.name


__all__ = ["KerasLossCase", "backend", "re", "np", "pytest"]
