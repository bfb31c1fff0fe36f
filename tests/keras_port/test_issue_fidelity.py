"""The issue "Keras 3 trainer fidelity": each listed case, checked against Keras 3 itself.

Every expected number comes from running Keras (torch backend) on the same case in the test, with
the same initial weights (``twins.dense_model``). Bad input must fail with a ValueError/TypeError
naming the argument before the first optimizer step, so every parameter is compared with
``torch.equal`` before and after.
"""

import warnings

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import assert_logs_close, assert_unchanged, dense_model, keras, weights_of

RNG = np.random.default_rng(0)
N = 16
X = RNG.normal(size=(N, 3)).astype("float32")
Y_REG = RNG.normal(size=(N, 1)).astype("float32")
Y_BIN = RNG.integers(0, 2, size=(N, 1)).astype("float32")
Y_REG2 = RNG.normal(size=(N, 1)).astype("float32")
Y_CLS = RNG.integers(0, 3, size=N)
Y_01 = RNG.uniform(0.05, 0.95, size=(N, 1)).astype("float32")
SW0 = RNG.uniform(0.2, 2.0, size=N).astype("float32")
SW1 = RNG.uniform(0.2, 2.0, size=N).astype("float32")

HEADS = (("output_0", 1, None), ("output_1", 1, "sigmoid"), ("output_2", 1, None))
TARGETS = {"output_0": Y_REG, "output_1": Y_BIN, "output_2": Y_REG2}


def _fit_both(kind, n_heads, compile_kwargs, y, ks_compile_kwargs=None, epochs=2, **fit_kwargs):
    """Fit the Keras model and its twin on the same case; returns (ks model, ours, theirs)."""
    kmodel, twin = dense_model(heads=HEADS[:n_heads], kind=kind)
    kmodel.compile(optimizer="sgd", **compile_kwargs)
    theirs = kmodel.fit(X, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **fit_kwargs).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", **(ks_compile_kwargs or compile_kwargs))
    ours = model.fit(X, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **fit_kwargs).history
    return model, ours, theirs


def _classifier():
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def _run(call, model, x, y):
    if call == "fit":
        return model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model.train_on_batch(x, y)


# ------------------------------------------------------------------ class_weight and validation


def test_class_weight_does_not_weight_validation():
    kmodel, twin = dense_model(heads=(("output_0", 3, "softmax"),))
    settings = dict(batch_size=8, epochs=2, class_weight={0: 10, 1: 1, 2: 1},
                    validation_data=(X, Y_CLS), shuffle=False, verbose=0)
    kmodel.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    theirs = kmodel.fit(X, Y_CLS, **settings).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ours = model.fit(X, Y_CLS, **settings).history
    assert ours["val_loss"][-1] == pytest.approx(model.evaluate(X, Y_CLS, verbose=0), rel=1e-6)
    assert_logs_close(ours, theirs)


# ------------------------------------------------------------------ loss list of the wrong length


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
@pytest.mark.parametrize("n_heads", [1, 3], ids=["1-output-2-losses", "3-outputs-2-losses"])
def test_loss_list_length_must_match_outputs(n_heads, call):
    _, twin = dense_model(heads=HEADS[:n_heads], kind="single" if n_heads == 1 else "list")
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss=["mse", "mse"])
    y = Y_REG if n_heads == 1 else (Y_REG, Y_BIN, Y_REG2)
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="loss"):
        _run(call, model, X, y)
    assert_unchanged(before, model.module)


# ------------------------------------------------------------------ metrics checked before the first step


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_metric_that_cannot_take_the_targets_fails_before_training(call):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy", metrics=["mse"])
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match="mse"):
        _run(call, model, X, Y_CLS)
    assert_unchanged(before, model.module)


def broken_metric(y_pred, y_true):
    raise RuntimeError("boom")


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_user_metric_that_raises_fails_before_training(call):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy", metrics=[broken_metric])
    before = weights_of(model.module)
    with pytest.raises(Exception) as info:
        _run(call, model, X, Y_CLS)
    error = info.value
    # Keras lets the user's own exception through unchanged; a wrapper must name the metric.
    assert (type(error) is RuntimeError and str(error) == "boom") or (
        "broken_metric" in str(error) and "boom" in str(error.__cause__))
    assert_unchanged(before, model.module)


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_flat_metric_list_is_one_metric_per_output(call):
    kmodel, twin = dense_model(heads=HEADS[:2], kind="list")
    kmodel.compile(optimizer="sgd", loss=["mse", "mse"],
                   metrics=[keras.metrics.MeanSquaredError(), keras.metrics.MeanSquaredError()])
    model = ks.Model(twin, device="cpu").compile(
        optimizer="sgd", loss=["mse", "mse"],
        metrics=[ks.metrics.MeanSquaredError(), ks.metrics.MeanSquaredError()])
    y = (Y_REG, Y_BIN)
    if call == "fit":
        theirs = kmodel.fit(X, y, batch_size=8, shuffle=False, verbose=0).history
        ours = model.fit(X, y, batch_size=8, shuffle=False, verbose=0).history
    else:
        theirs = kmodel.train_on_batch(X, y, return_dict=True)
        ours = model.train_on_batch(X, y, return_dict=True)
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_metrics_dict_with_unknown_output_key(call):
    _, twin = dense_model(heads=HEADS[:2], kind="dict")
    model = ks.Model(twin, device="cpu").compile(
        optimizer="sgd", loss={"output_0": "mse", "output_1": "mse"},
        metrics={"output_0": ["mse"], "output_9": ["mse"]})
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="output_9") as info:
        _run(call, model, X, {"output_0": Y_REG, "output_1": Y_BIN})
    assert "metrics" in str(info.value)
    assert_unchanged(before, model.module)


# ------------------------------------------------------------------ validation_data checked up front

BAD_VALIDATION = {
    "wrong-feature-count": (X[:, :2], Y_CLS),
    "float-labels": (X, Y_CLS.astype("float32")),
    "label-out-of-range": (X, np.where(np.arange(N) == N - 1, 5, Y_CLS)),
    "label-minus-100": (X, np.full(N, -100)),
}


@pytest.mark.parametrize("case", list(BAD_VALIDATION))
def test_bad_validation_data_fails_before_the_first_step(case):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match="validation_data"):
        model.fit(X, Y_CLS, batch_size=8, epochs=1, verbose=0, validation_data=BAD_VALIDATION[case])
    assert_unchanged(before, model.module)


# ------------------------------------------------------------------ one-shot iterators


def _two_batches(x, y):
    for start in (0, 8):
        yield x[start:start + 8], y[start:start + 8]


def _batches_of_eight(x, y):
    for start in range(0, len(x), 8):
        yield x[start:start + 8], y[start:start + 8]


def test_one_shot_generator_as_validation_data_validates_on_all_of_it():
    """Every epoch's val_loss covers the whole generator, as Keras's does for the same arrays
    (Keras itself, given the generator, validates epochs 2 and 3 on its first two batches)."""
    rng = np.random.default_rng(5)  # five batches: more than the two Keras peeks at
    x_val, y_val = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    theirs = kmodel.fit(X, Y_REG, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        validation_data=(x_val, y_val), validation_batch_size=8).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mae"])
    ours = model.fit(X, Y_REG, batch_size=8, epochs=3, shuffle=False, verbose=0,
                     validation_data=_batches_of_eight(x_val, y_val)).history
    assert_logs_close(ours, theirs)
    keras_on_the_generator, _ = dense_model()
    keras_on_the_generator.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras: "Your input ran out of data"
        partial = keras_on_the_generator.fit(
            X, Y_REG, batch_size=8, epochs=3, shuffle=False, verbose=0,
            validation_data=_batches_of_eight(x_val, y_val)).history
    assert partial["val_loss"][0] == pytest.approx(theirs["val_loss"][0], rel=1e-5)
    assert partial["val_loss"][2] != pytest.approx(theirs["val_loss"][2], rel=1e-3)


def test_evaluate_on_an_exhausted_generator_raises():
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    used = _two_batches(X, Y_REG)
    kmodel.evaluate(used, verbose=0)
    with pytest.raises(ValueError, match="at least one batch"):
        kmodel.evaluate(used, verbose=0)  # what Keras does, checked here
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mae"])
    used = _two_batches(X, Y_REG)
    model.evaluate(used, verbose=0)
    with pytest.raises(ValueError, match="at least one batch|empty|exhausted"):
        model.evaluate(used, verbose=0)


# ------------------------------------------------------------------ nothing to train


def test_module_without_parameters_trains_and_evaluates_like_keras():
    inputs = keras.Input((3,))
    kmodel = keras.Model(inputs, keras.layers.Activation("tanh")(inputs))
    y = RNG.normal(size=(N, 3)).astype("float32")
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    theirs = kmodel.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    model = ks.Model(torch.nn.Tanh(), device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mae"])
    with pytest.warns(UserWarning, match="trainable"):
        ours = model.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    assert_logs_close(ours, theirs)
    assert_logs_close(model.evaluate(X, y, verbose=0, return_dict=True),
                      kmodel.evaluate(X, y, verbose=0, return_dict=True))


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_fully_frozen_module_reports_the_loss(call):
    kmodel, twin = dense_model(heads=(("output_0", 3, None),))
    kmodel.trainable = False
    twin.requires_grad_(False)
    y = RNG.normal(size=(N, 3)).astype("float32")
    kmodel.compile(optimizer="sgd", loss="mse")
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse")
    before = weights_of(model.module)
    if call == "fit":
        theirs = kmodel.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
        with pytest.warns(UserWarning, match="trainable"):
            ours = model.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    else:
        theirs = {"loss": kmodel.train_on_batch(X, y)}
        with pytest.warns(UserWarning, match="trainable"):
            ours = {"loss": model.train_on_batch(X, y)}
    assert_logs_close(ours, theirs)
    assert_unchanged(before, model.module)


# ------------------------------------------------------------------ multi-output compile forms
# Each compares the history keys and values with Keras's on the same model and data.

LIST3 = (Y_REG, Y_BIN, Y_REG2)
DICT2 = {"output_0": Y_REG, "output_1": Y_BIN}


def test_none_entry_in_loss_list():
    _, ours, theirs = _fit_both("list", 3, dict(loss=["mse", None, "mse"]), LIST3)
    assert_logs_close(ours, theirs)


def test_none_value_in_loss_dict():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": None}), DICT2)
    assert_logs_close(ours, theirs)


def test_loss_in_a_one_element_list_for_a_dict_output():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": ["mse"], "output_1": "bce"}), DICT2)
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("y", [{"output_0": Y_REG}, Y_REG], ids=["dict-target", "array-target"])
def test_one_loss_for_a_single_key_dict_output(y):
    _, ours, theirs = _fit_both("dict", 1, dict(loss="mse"), y)
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("metrics", [
    [["mse"], ["mse", "accuracy"]],
    pytest.param(["mse", ["mse", "accuracy"]], id="mixed"),  # as in Keras's model_test
])
def test_per_output_metric_lists(metrics):
    _, ours, theirs = _fit_both("list", 2, dict(loss=["mse", "bce"], metrics=metrics), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


def test_nested_loss_list():
    _, ours, theirs = _fit_both("list", 2, dict(loss=["mse", ["bce"]]), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


def test_tuple_targets_for_dict_outputs():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": "bce"}), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


def test_per_output_sample_weight_dict():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": "bce"}), DICT2,
                                sample_weight={"output_0": SW0, "output_1": SW1})
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_one_loss_for_several_outputs(kind):
    y = (Y_REG, Y_BIN) if kind == "list" else DICT2
    _, ours, theirs = _fit_both(kind, 2, dict(loss="mse", metrics=None), y)
    assert_logs_close(ours, theirs)


# ------------------------------------------------------------------ names and order

CE_CASES = {
    "sparse-labels": (3, "softmax", Y_CLS),
    "one-hot": (3, "softmax", np.eye(3, dtype="float32")[Y_CLS]),
    "binary": (1, "sigmoid", Y_BIN),
}


@pytest.mark.parametrize("case", list(CE_CASES))
def test_crossentropy_picks_the_variant_from_shapes(case):
    units, activation, y = CE_CASES[case]
    kmodel, twin = dense_model(heads=(("output_0", units, activation),))
    kmodel.compile(optimizer="sgd", loss="crossentropy", metrics=["accuracy"])
    theirs = kmodel.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="crossentropy", metrics=["accuracy"])
    ours = model.fit(X, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    assert_logs_close(ours, theirs)


ALIASES = [
    # (loss, metric): every name below is accepted by Keras 3.15.1's compile
    ("mse", "mse"), ("mae", "mae"), ("bce", "acc"), ("kld", "mse"), ("log_cosh", "mae"),
    ("huber", "mse"), ("msle", "mae"), ("mse", "bce"), ("mse", "mape"), ("mse", "msle"),
    ("mse", "binary_crossentropy"),
]


@pytest.mark.parametrize("loss, metric", ALIASES)
def test_keras_aliases(loss, metric):
    y = Y_BIN if metric == "acc" else Y_01  # soft targets for the rest: every name must take them
    kmodel, twin = dense_model(heads=(("output_0", 1, "sigmoid"),))
    kmodel.compile(optimizer="sgd", loss=loss, metrics=[metric])
    theirs = kmodel.fit(X, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss=loss, metrics=[metric])
    ours = model.fit(X, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_single_output_metric_keys_have_no_prefix(kind):
    if kind == "dict":
        settings = dict(loss={"output_0": "mse"}, metrics={"output_0": ["mae", "mse"]})
        y = {"output_0": Y_REG}
    else:
        settings = dict(loss=["mse"], metrics=[["mae", "mse"]])
        y = (Y_REG,)
    _, ours, theirs = _fit_both(kind, 1, settings, y)
    assert_logs_close(ours, theirs)


def test_evaluate_list_order_multi_output():
    settings = dict(loss=["mse", "bce"], metrics=[["mse", "mae"], ["mse", "accuracy"]])
    model, _, _ = _fit_both("list", 2, settings, (Y_REG, Y_BIN), epochs=1)
    kmodel, _ = dense_model(heads=HEADS[:2], kind="list")
    kmodel.compile(optimizer="sgd", **settings)
    kmodel.fit(X, (Y_REG, Y_BIN), batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.evaluate(X, (Y_REG, Y_BIN), verbose=0),
                               kmodel.evaluate(X, (Y_REG, Y_BIN), verbose=0), rtol=1e-5, atol=1e-6)


def test_evaluate_list_order_single_output():
    settings = dict(loss="mse", metrics=["mse", "mae"])
    model, _, _ = _fit_both("single", 1, settings, Y_REG, epochs=1)
    kmodel, _ = dense_model()
    kmodel.compile(optimizer="sgd", **settings)
    kmodel.fit(X, Y_REG, batch_size=8, shuffle=False, verbose=0)
    loss, mse, mae = model.evaluate(X, Y_REG, verbose=0)
    np.testing.assert_allclose([loss, mse, mae], kmodel.evaluate(X, Y_REG, verbose=0), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ smaller cases


def test_sample_weight_of_shape_n_by_1():
    sw = SW0[:, None]
    _, ours, theirs = _fit_both("single", 1, dict(loss="mse"), Y_REG, sample_weight=sw)
    assert_logs_close(ours, theirs)


def test_numpy_integers_for_epochs():
    settings = dict(epochs=np.int64(3), initial_epoch=np.int64(1), steps_per_epoch=np.int64(1))
    _, ours, theirs = _fit_both("single", 1, dict(loss="mse"), Y_REG, **settings)
    assert_logs_close(ours, theirs)


def test_numpy_integer_batch_size_is_accepted():
    # Keras 3.15.1 itself rejects batch_size=np.int64(8) ("batch_size should be a positive integer
    # value, but got batch_size=8"); the issue asks kerasish to accept it, as it accepts steps.
    _, twin = dense_model()
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse")
    history = model.fit(X, Y_REG, batch_size=np.int64(8), epochs=1, verbose=0)
    assert model.optimizer_steps == 2 and len(history.history["loss"]) == 1
    assert np.isfinite(model.evaluate(X, Y_REG, batch_size=np.int64(8), verbose=0))


class _Counter(ks.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch", epoch))

    def on_test_end(self, logs=None):
        self.calls.append(("test", None))

    def on_predict_end(self, logs=None):
        self.calls.append(("predict", None))


def test_single_callback_instead_of_a_list():
    class KerasCounter(keras.callbacks.Callback):
        calls = []

        def on_epoch_end(self, epoch, logs=None):
            self.calls.append(("epoch", epoch))

    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse")
    kcb = KerasCounter()
    kmodel.fit(X, Y_REG, epochs=2, callbacks=kcb, verbose=0)  # Keras accepts one callback
    assert kcb.calls == [("epoch", 0), ("epoch", 1)]
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse")
    cb = _Counter()
    model.fit(X, Y_REG, epochs=2, callbacks=cb, verbose=0)
    model.evaluate(X, Y_REG, callbacks=cb, verbose=0)
    model.predict(X, callbacks=cb, verbose=0)
    assert cb.calls == [("epoch", 0), ("epoch", 1), ("test", None), ("predict", None)]


def test_class_weight_missing_a_class_weighs_it_one():
    kmodel, twin = dense_model(heads=(("output_0", 3, "softmax"),))
    settings = dict(batch_size=8, epochs=2, class_weight={0: 2.0, 1: 0.5}, shuffle=False, verbose=0)
    kmodel.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    theirs = kmodel.fit(X, Y_CLS, **settings).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ours = model.fit(X, Y_CLS, **settings).history
    assert_logs_close(ours, theirs)


def test_class_weight_with_a_negative_key():
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(X, Y_CLS, class_weight={0: 1.0, 1: 1.0, 2: 1.0, -1: 5.0}, verbose=0)
    assert_unchanged(before, model.module)


def test_validation_split_as_a_string():
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises((TypeError, ValueError), match="validation_split"):
        model.fit(X, Y_CLS, validation_split="0.2", verbose=0)
    assert_unchanged(before, model.module)


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_forgotten_y_with_array_x(call):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match=r"\by\b"):
        getattr(model, call)(X, **({} if call == "train_on_batch" else {"verbose": 0}))
    assert_unchanged(before, model.module)
