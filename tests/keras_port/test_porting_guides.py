"""The line changes docs/porting_guides.md lists for the Keras guides: each is needed, each works.

For every listed line the Keras original is run on ``ks.Model(keras_model)`` (it fails) and the
port is run (it works); the lines the page says run unchanged are run as Keras writes them.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.twins import keras

RNG = np.random.default_rng(0)
X = RNG.random((32, 8), dtype=np.float32)
Y = RNG.random((32, 1), dtype=np.float32)


def build():
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def test_a_keras_compiled_model_must_be_compiled_again_on_ks_model():
    kmodel = build()
    kmodel.compile("rmsprop", "mse")
    with pytest.raises(ValueError, match=r"compile\(\) before fit"):
        ks.Model(kmodel, device="cpu").fit(X, Y, epochs=1, verbose=0)
    ks.Model(kmodel, device="cpu").compile("rmsprop", "mse").fit(X, Y, epochs=1, verbose=0)


def test_kerass_model_checkpoint_runs_and_its_file_loads_with_load_weights_only(tmp_path):
    model = ks.Model(build(), device="cpu").compile("adam", "mse")
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "best_model.keras"),
                                                 save_best_only=True, monitor="val_loss")
    model.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=[checkpoint])
    path = tmp_path / "best_model.keras"
    assert path.is_file()
    with pytest.raises(Exception):  # noqa: B017 - Keras's own error for a file it did not write
        keras.models.load_model(path)
    fresh = ks.Model(build(), device="cpu").compile("adam", "mse")
    fresh.load_weights(path)
    with pytest.raises(FileExistsError):
        fresh.save(path, overwrite=False)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None, reason="TensorFlow is installed")
def test_kerass_tensorboard_needs_tensorflow_so_the_port_uses_ks_tensorboard(tmp_path):
    model = ks.Model(build(), device="cpu").compile("adam", "mse")
    with pytest.raises(ImportError):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path / "k"))])
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[ks.callbacks.TensorBoard(log_dir=str(tmp_path / "ks"))])
    assert os.listdir(tmp_path / "ks")


class GuideStep(ks.Model):
    """The torch guide's ``train_step``; ``grad`` and ``apply`` choose the guide's lines or the port's."""

    grad = "value"
    apply = True

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = list(self.trainable_weights)
        gradients = ([v.value.grad for v in trainable_weights] if self.grad == "value"
                     else [v.grad for v in trainable_weights])
        with torch.no_grad():
            if self.apply:
                self.optimizer.apply(gradients, trainable_weights)
            else:
                self.optimizer.step()
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("grad, apply, works", [("value", True, False), ("grad", True, False),
                                                ("grad", False, True)])
def test_the_torch_guides_step_needs_two_lines_changed(grad, apply, works):
    model = GuideStep(build(), device="cpu").compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.grad, model.apply = grad, apply
    if works:
        assert sorted(model.fit(X, Y, epochs=1, verbose=0).history) == ["loss", "mae"]
    else:
        with pytest.raises(AttributeError):
            model.fit(X, Y, epochs=1, verbose=0)


def test_a_keras_models_own_train_step_is_refused_before_any_step():
    # ks.Model runs its own steps: a Keras model's override would be ignored without a word.
    class CustomModel(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    inputs = keras.Input((8,))
    model = ks.Model(CustomModel(inputs, keras.layers.Dense(1)(inputs)), device="cpu")
    before = [w.copy() for w in model.module.get_weights()]
    with pytest.raises(TypeError, match="overrides train_step.*ks.Model subclass"):
        model.compile("adam", "mse").fit(X, Y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.module.get_weights()))


def test_the_callbacks_guides_callbacks_run_unchanged():
    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best, self.best_weights, self.keys = np.inf, None, None

        def on_train_batch_end(self, batch, logs=None):
            self.keys = sorted(logs.keys())

        def on_epoch_begin(self, epoch, logs=None):
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate = lr * 0.5

        def on_epoch_end(self, epoch, logs=None):
            if logs["loss"] < self.best:
                self.best, self.best_weights = logs["loss"], self.model.get_weights()
            if epoch == 1:
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)

    callback = EarlyStoppingAtMinLoss()
    model = ks.Model(build(), device="cpu").compile(keras.optimizers.SGD(0.1), "mean_squared_error",
                                                    metrics=["mean_absolute_error"])
    history = model.fit(X, Y, epochs=5, batch_size=8, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 2 and callback.keys == ["loss", "mean_absolute_error"]
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_reduce_lr_on_plateau_sets_the_rate_and_logs_it_as_keras():
    callbacks = lambda: [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0,  # noqa: E731
                                                           min_delta=10.0)]
    keras.utils.set_random_seed(0)
    theirs = build()
    theirs.compile(keras.optimizers.Adam(1e-3), "mse")
    settings = dict(epochs=2, validation_split=0.25, verbose=0)
    their_history = theirs.fit(X, Y, callbacks=callbacks(), **settings).history
    model = ks.Model(build(), device="cpu").compile(keras.optimizers.Adam(1e-3), "mse")
    history = model.fit(X, Y, callbacks=callbacks(), **settings).history
    assert sorted(history) == sorted(their_history)
    np.testing.assert_allclose(history["learning_rate"], their_history["learning_rate"], rtol=1e-6)
