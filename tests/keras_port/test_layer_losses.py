"""A wrapped Keras model's own losses (``model.losses``) count in its loss, as in Keras 3 (issue 24).

Keras 3's ``compute_loss`` adds every loss of ``model.losses`` to the compiled loss: what a layer's
``call`` gave ``self.add_loss`` (the guide's ``ActivityRegularizationLayer``), what
``activity_regularizer=`` adds the same way, and the weight penalties of ``kernel_regularizer=``.
Its ``train_step`` and ``test_step`` log that total, so ``loss``, ``val_loss`` and ``evaluate``
include them. Every expected number comes from running Keras itself (torch backend) on a twin with
the same weights, the same data and the same optimizer.
"""

import numpy as np
import pytest

import kerasish as ks

from .twins import assert_logs_close, keras

RNG = np.random.default_rng(24)
X = RNG.normal(size=(64, 8)).astype("float32")
Y = (X[:, 0] > 0).astype("int64") + (X[:, 1] > 1).astype("int64")
X_VAL, Y_VAL = X[:24] * 0.5, Y[:24]
RTOL, ATOL = 1e-5, 1e-5


class ActivityRegularizationLayer(keras.layers.Layer):
    """The Keras guide's layer: a pass-through that adds ``1e-2 * sum(inputs)`` with ``add_loss``."""

    def call(self, inputs):
        self.add_loss(1e-2 * keras.ops.sum(inputs))
        return inputs


def build(case: str, seed: int = 0):
    """Input -> Dense(16, relu) -> [the case's loss] -> Dense(3): a classifier with a layer loss."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,), name="features")
    dense_kwargs = {
        "add_loss": {},
        "kernel_regularizer": {"kernel_regularizer": keras.regularizers.L2(0.05)},
        "activity_regularizer": {"activity_regularizer": keras.regularizers.L1(0.05)},
    }[case]
    h = keras.layers.Dense(16, activation="relu", name="hidden", **dense_kwargs)(inputs)
    if case == "add_loss":
        h = ActivityRegularizationLayer()(h)
    outputs = keras.layers.Dense(3, name="classes")(h)
    return keras.Model(inputs, outputs)


def twins(case: str):
    """Two copies of the case's model with the same weights: Keras's, and the one kerasish wraps."""
    theirs, ours = build(case), build(case, seed=1)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(module, model_class=ks.Model, **compile_kwargs):
    return model_class(module, device="cpu").compile(keras.optimizers.SGD(0.05), loss(),
                                                     metrics=["accuracy"], **compile_kwargs)


def keras_fit(theirs):
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss(), metrics=["accuracy"])
    return theirs.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                      validation_data=(X_VAL, Y_VAL)).history


def assert_fits_as_keras(case: str, model_class=ks.Model, **compile_kwargs) -> None:
    """Both fit twice over X in batches of 16: every log per epoch and every weight agree."""
    theirs, ours = twins(case)
    expected = keras_fit(theirs)
    model = compiled(ours, model_class, **compile_kwargs)
    got = model.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                    validation_data=(X_VAL, Y_VAL)).history
    assert_logs_close(got, expected, rtol=RTOL, atol=ATOL)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=RTOL, atol=ATOL)


CASES = ["add_loss", "kernel_regularizer", "activity_regularizer"]


def test_add_loss_in_a_layer_trains_and_logs_as_keras_fit():
    """(a) The guide's ActivityRegularizationLayer: ``self.add_loss(1e-2 * sum(inputs))``."""
    assert_fits_as_keras("add_loss")


def test_kernel_regularizer_trains_and_logs_as_keras_fit():
    """(b) ``kernel_regularizer=keras.regularizers.L2(...)`` on a Dense layer."""
    assert_fits_as_keras("kernel_regularizer")


def test_activity_regularizer_trains_and_logs_as_keras_fit():
    """(c) ``activity_regularizer=keras.regularizers.L1(...)`` on a Dense layer."""
    assert_fits_as_keras("activity_regularizer")


@pytest.mark.parametrize("case", CASES)
def test_evaluate_includes_the_layer_losses_as_keras_evaluate(case):
    """(d) Keras's ``test_step`` tracks ``compute_loss``'s total: ``evaluate`` includes them."""
    theirs, ours = twins(case)
    theirs.compile(optimizer="sgd", loss=loss(), metrics=["accuracy"])
    expected = theirs.evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    compiled_loss_only = float(loss()(Y, theirs(X, training=False)).detach())
    assert expected["loss"] - compiled_loss_only > 0.05  # the layer losses are a sizeable part
    got = compiled(ours).evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, rel=RTOL, abs=ATOL)
    expected_batch = theirs.test_on_batch(X[:16], Y[:16], return_dict=True)
    got_batch = compiled(ours).test_on_batch(X[:16], Y[:16], return_dict=True)
    assert got_batch == pytest.approx(expected_batch, rel=RTOL, abs=ATOL)


class SuperComputeLoss(ks.Model):
    """Overrides ``compute_loss`` (so the default ``train_step``/``test_step`` run, not the fused
    ones) and returns ``super().compute_loss``, as Keras subclasses do."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)


@pytest.mark.parametrize("case", ["add_loss", "kernel_regularizer"])
def test_compute_loss_includes_the_layer_losses_as_keras_compute_loss(case):
    assert_fits_as_keras(case, SuperComputeLoss)


def test_jit_compile_trains_with_the_layer_losses_as_keras_fit():
    """The compiled forward and loss (``jit_compile=True``) read ``model.losses`` too.

    A layer that calls ``add_loss`` makes torch.compile recompile on every step (its guard on the
    layer's list of losses fails) until the recompile limit, after which the step runs eagerly;
    that was so before the layer losses counted, and the numbers match Keras either way.
    """
    assert_fits_as_keras("add_loss", jit_compile=True)
