"""A wrapped Keras model with unnamed list outputs (a subclassed model) logs as Keras 3.15.1 does.

Without output names Keras names each output's loss after the loss (``mse_loss``,
``mean_squared_error_loss``; two alike share one key, holding the last one's value) and leaves the
metrics unprefixed (``mae``, then ``mae_1``). ``evaluate``'s list follows Keras's order: the loss,
the compiled metrics in compile order, the per-output losses, then the other keys sorted (a name
Keras repeats is listed once: docs/differences.md). Each case trains Keras and kerasish from the
same weights on the same data.
"""

from __future__ import annotations

import numpy as np
import pytest

import kerasish as ks
from tests.keras_port.twins import assert_logs_close, keras

RNG = np.random.default_rng(0)
X = RNG.random((16, 3), dtype=np.float32)
Y = [RNG.random((16, 1), dtype=np.float32), RNG.random((16, 1), dtype=np.float32),
     RNG.integers(0, 2, 16)]


class ThreeHeads(keras.Model):
    """Subclassed: its outputs have no names."""

    def __init__(self):
        super().__init__()
        self.a = keras.layers.Dense(1)
        self.b = keras.layers.Dense(1)
        self.c = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return [self.a(x), self.b(x), self.c(x)]


def three_heads():
    keras.utils.set_random_seed(0)
    model = ThreeHeads()
    model(X[:1])
    return model


CASES = {
    "names": (["mse", "mse", "sparse_categorical_crossentropy"], [["mae"], ["mae", "mse"], ["accuracy"]]),
    "names_no_metrics": (["mse", "mse", "sparse_categorical_crossentropy"], None),
    "keras_objects": (lambda: [keras.losses.MeanSquaredError(), keras.losses.mean_absolute_error,
                               "sparse_categorical_crossentropy"], [["mae"], ["mae", "mse"], ["accuracy"]]),
}


def unique_in_order(names):
    return list(dict.fromkeys(names))


@pytest.mark.parametrize("case", sorted(CASES))
def test_unnamed_list_outputs_log_and_list_as_keras(case):
    loss, metrics = CASES[case]
    settings = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs = three_heads()
    theirs.compile(keras.optimizers.SGD(0.1), loss() if callable(loss) else loss, metrics=metrics)
    their_history = theirs.fit(X, Y, **settings).history
    their_logs = theirs.evaluate(X, Y, verbose=0, return_dict=True)
    their_list = theirs.evaluate(X, Y, verbose=0)
    ours = ks.Model(three_heads(), device="cpu").compile(
        keras.optimizers.SGD(0.1), loss() if callable(loss) else loss, metrics=metrics)
    our_history = ours.fit(X, Y, **settings).history
    assert_logs_close(our_history, their_history)
    assert_logs_close(ours.evaluate(X, Y, verbose=0, return_dict=True), their_logs)
    # Keras's list: its metrics by name (the compiled ones unprefixed), then the other keys sorted;
    # checked against Keras's own list, then kerasish's with a repeated name once.
    names = []
    for metric in theirs.metrics:
        names += [m.name for m in metric.metrics] if metric.name == "compile_metrics" else [metric.name]
    names = [n for n in names if n in their_logs]
    rest = sorted(k for k in their_logs if k not in names)
    np.testing.assert_allclose(their_list, [their_logs[k] for k in names + rest], rtol=1e-6)
    expected = [their_logs[k] for k in unique_in_order(names) + rest]
    np.testing.assert_allclose(ours.evaluate(X, Y, verbose=0), expected, rtol=1e-5, atol=1e-6)
