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


@pytest.mark.xfail(strict=True, reason=(
    "a loss list longer/shorter than the outputs trains silently: with one tensor output, "
    "['mse', 'mse'] indexes the output and target tensors by row (rows 0 and 1 become 'outputs'); "
    "with 3 outputs and 2 losses the third output is left without a loss. Keras 3.15.1 also trains "
    "(1 output: output_0_loss=0.0; 3 outputs: a 'Gradients do not exist' warning), so the target "
    "here is promise #3: ValueError naming loss, before any step"))
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


@pytest.mark.xfail(strict=True, reason=(
    "metrics are updated after optimizer.step(): metrics=['mse'] on (N, 3) logits with (N,) labels "
    "raises torch's broadcasting RuntimeError after the weights changed; Keras fails before "
    "training (its symbolic build runs the metrics first). Expected: ValueError/TypeError naming "
    "the metric, weights unchanged"))
@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_metric_that_cannot_take_the_targets_fails_before_training(call):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy", metrics=["mse"])
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match="mse"):
        _run(call, model, X, Y_CLS)
    assert_unchanged(before, model.module)


def broken_metric(y_pred, y_true):
    raise RuntimeError("boom")


@pytest.mark.xfail(strict=True, reason=(
    "a user metric that raises does so after optimizer.step(): the weights have already changed; "
    "Keras runs the metrics before the first step (weights unchanged) and lets the user's "
    "exception through"))
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


@pytest.mark.xfail(strict=True, reason=(
    "metrics=[MSE(), MSE()] on a two-output model is taken as two metrics for the whole tuple "
    "output and fails after the first step (AttributeError: 'tuple' object has no attribute "
    "'detach' in CompiledMetrics.update); Keras gives one metric per output "
    "(output_0_mean_squared_error, output_1_mean_squared_error)"))
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


@pytest.mark.xfail(strict=True, reason=(
    "a metrics dict keyed by a name the outputs lack ('output_9') fails with KeyError in "
    "update_state after the first step; Keras raises ValueError 'Invalid `metrics`' naming the key "
    "before training"))
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


@pytest.mark.xfail(strict=True, reason=(
    "validation_data is first used after a whole training epoch (targets are checked once, on the "
    "training data), so a wrong feature count or float/out-of-range labels fail after an epoch of "
    "optimizer steps, and label -100 is ignored by F.cross_entropy, giving val_loss=nan silently. "
    "Keras 3.15.1 also fails only after the epoch (and reports val_loss=0.0 for -100); the target is "
    "promise #3"))
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


@pytest.mark.xfail(strict=True, reason=(
    "a one-shot generator as validation_data is exhausted after epoch 1 and val_loss/val_mae read "
    "0.0 from epoch 2 on; Keras 3.15.1 keeps the generator's first 2 batches (peeked for its spec) "
    "and validates on them every epoch, so a 2-batch generator gives the full val_loss each epoch"))
def test_one_shot_generator_as_validation_data():
    x_val, y_val = X[::-1].copy(), Y_REG2
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    theirs = kmodel.fit(X, Y_REG, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        validation_data=_two_batches(x_val, y_val)).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mae"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras itself warns "ran out of data" here
        ours = model.fit(X, Y_REG, batch_size=8, epochs=3, shuffle=False, verbose=0,
                         validation_data=_two_batches(x_val, y_val)).history
    assert_logs_close(ours, theirs)
    assert min(ours["val_loss"]) > 0.0


@pytest.mark.xfail(strict=True, reason=(
    "evaluate on an exhausted iterator returns [0.0, 0.0] (after a warning); Keras 3.15.1 raises "
    "ValueError 'the generator must yield at least one batch. Received an empty generator.'"))
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


@pytest.mark.xfail(strict=True, reason=(
    "compile() on a module without parameters raises torch's 'optimizer got an empty parameter "
    "list'; Keras compiles, warns 'The model does not have any trainable weights.' and "
    "trains/evaluates, reporting the loss"))
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


@pytest.mark.xfail(strict=True, reason=(
    "fit on a module whose parameters all have requires_grad=False crashes in loss.backward() "
    "('element 0 of tensors does not require grad'); Keras (model.trainable=False) warns that "
    "there are no trainable weights, reports the loss and leaves the weights unchanged"))
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


@pytest.mark.xfail(strict=True, reason=(
    "a None entry in a loss list reaches get_loss(None) and fails with TypeError at compile; "
    "Keras skips that output (keys loss, output_0_loss, output_2_loss)"))
def test_none_entry_in_loss_list():
    _, ours, theirs = _fit_both("list", 3, dict(loss=["mse", None, "mse"]), LIST3)
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "a None value in a loss dict reaches get_loss(None) and fails at compile; Keras skips that "
    "output (and, one loss being left, logs only 'loss')"))
def test_none_value_in_loss_dict():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": None}), DICT2)
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "a loss wrapped in a one-element list ({'output_0': ['mse'], ...}) is passed to get_loss as a "
    "list and fails at compile; Keras unwraps it"))
def test_loss_in_a_one_element_list_for_a_dict_output():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": ["mse"], "output_1": "bce"}), DICT2)
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "one loss for a model whose output is a single-key dict: check_targets raises 'the model "
    "returns 1 outputs but compile() got one loss'; Keras applies it to that output"))
@pytest.mark.parametrize("y", [{"output_0": Y_REG}, Y_REG], ids=["dict-target", "array-target"])
def test_one_loss_for_a_single_key_dict_output(y):
    _, ours, theirs = _fit_both("dict", 1, dict(loss="mse"), y)
    assert_logs_close(ours, theirs)


@pytest.mark.parametrize("metrics", [
    [["mse"], ["mse", "accuracy"]],
    pytest.param(["mse", ["mse", "accuracy"]], id="mixed", marks=pytest.mark.xfail(strict=True, reason=(
        "a metrics list mixing a bare name and a list (['mse', ['mse', 'accuracy']], as in Keras's "
        "model_test) is taken as one flat list and compile raises TypeError 'metrics entries must be "
        "names, ...; got list'; Keras reads it per output"))),
])
def test_per_output_metric_lists(metrics):
    _, ours, theirs = _fit_both("list", 2, dict(loss=["mse", "bce"], metrics=metrics), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "a nested loss list ['mse', ['bce']] passes the inner list to get_loss and fails at compile; "
    "Keras takes the inner one-element list as that output's loss"))
def test_nested_loss_list():
    _, ours, theirs = _fit_both("list", 2, dict(loss=["mse", ["bce"]]), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "tuple targets for a dict output are indexed by output name (y_true['output_0'] on a tuple) "
    "and fail; Keras matches them to the outputs by order"))
def test_tuple_targets_for_dict_outputs():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": "bce"}), (Y_REG, Y_BIN))
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "sample_weight given as a dict per output fails in as_tensor (RuntimeError 'Could not infer "
    "dtype of dict'); Keras weights each output's loss with its own array"))
def test_per_output_sample_weight_dict():
    _, ours, theirs = _fit_both("dict", 2, dict(loss={"output_0": "mse", "output_1": "bce"}), DICT2,
                                sample_weight={"output_0": SW0, "output_1": SW1})
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "one loss for a multi-output model raises 'the model returns 2 outputs but compile() got one "
    "loss'; Keras applies it to every output (logs output_<i>_loss for each)"))
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


@pytest.mark.xfail(strict=True, reason=(
    "loss='crossentropy' is not a known loss name; Keras picks binary, categorical or sparse "
    "categorical cross-entropy from the shapes of targets and outputs"))
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


@pytest.mark.xfail(strict=True, reason=(
    "a model with a single output logs its metrics with an output prefix ('output_0_mae'); Keras "
    "logs a single output's metrics and loss without a prefix ('mae', 'loss'), whatever the "
    "structure (one-key dict, one-element list)"))
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


@pytest.mark.xfail(strict=True, reason=(
    "evaluate's list follows compile order (output_1_mse before output_1_accuracy); Keras 3.15.1 "
    "lists loss, the per-output losses, then the remaining metrics sorted by name, so "
    "loss, *values = evaluate(...) unpacks different numbers"))
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


@pytest.mark.xfail(strict=True, reason=(
    "sample_weight of shape (N, 1) is rejected ('must be a 1-D array'); Keras accepts it and "
    "weights each sample"))
def test_sample_weight_of_shape_n_by_1():
    sw = SW0[:, None]
    _, ours, theirs = _fit_both("single", 1, dict(loss="mse"), Y_REG, sample_weight=sw)
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "epochs/initial_epoch given as np.int64 are rejected ('must be a non-negative integer'); "
    "Keras 3.15.1 accepts NumPy integers there"))
def test_numpy_integers_for_epochs():
    settings = dict(epochs=np.int64(3), initial_epoch=np.int64(1), steps_per_epoch=np.int64(1))
    _, ours, theirs = _fit_both("single", 1, dict(loss="mse"), Y_REG, **settings)
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "batch_size=np.int64(8) passes fit's check but shuffled batching fails in torch "
    "(split_with_sizes: 'must be tuple of ints, not numpy.int64'); note Keras 3.15.1 itself rejects "
    "it with ValueError 'batch_size should be a positive integer value, but got batch_size=8'"))
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


@pytest.mark.xfail(strict=True, reason=(
    "a single callback (not in a list) fails with TypeError ('Callback' object is not iterable); "
    "Keras 3.15.1 accepts callbacks=cb in fit and evaluate"))
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


@pytest.mark.xfail(strict=True, reason=(
    "class_weight without an entry for the highest class builds a table too short for the labels "
    "(IndexError); Keras gives a class missing from class_weight the weight 1.0"))
def test_class_weight_missing_a_class_weighs_it_one():
    kmodel, twin = dense_model(heads=(("output_0", 3, "softmax"),))
    settings = dict(batch_size=8, epochs=2, class_weight={0: 2.0, 1: 0.5}, shuffle=False, verbose=0)
    kmodel.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    theirs = kmodel.fit(X, Y_CLS, **settings).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ours = model.fit(X, Y_CLS, **settings).history
    assert_logs_close(ours, theirs)


@pytest.mark.xfail(strict=True, reason=(
    "a negative class_weight key is written to table[-1], silently re-weighting the last class "
    "({0: 1, 1: 1, 2: 1, -1: 5} trains class 2 with weight 5); Keras 3.15.1 silently ignores it. "
    "Expected: ValueError naming class_weight before any step"))
def test_class_weight_with_a_negative_key():
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(X, Y_CLS, class_weight={0: 1.0, 1: 1.0, 2: 1.0, -1: 5.0}, verbose=0)
    assert_unchanged(before, model.module)


@pytest.mark.xfail(strict=True, reason=(
    "validation_split='0.2' fails with TypeError \"'<' not supported between 'float' and 'str'\", "
    "which does not name the argument (Keras: \"unsupported operand type(s) for -: 'float' and "
    "'str'\")"))
def test_validation_split_as_a_string():
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises((TypeError, ValueError), match="validation_split"):
        model.fit(X, Y_CLS, validation_split="0.2", verbose=0)
    assert_unchanged(before, model.module)


@pytest.mark.xfail(strict=True, reason=(
    "fit/evaluate/train_on_batch with array x and no y fail inside the loss with AttributeError "
    "\"'NoneType' object has no attribute 'is_floating_point'\", which does not name y (Keras "
    "3.15.1: ValueError 'Invalid dtype: object', before any step)"))
@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_forgotten_y_with_array_x(call):
    model = ks.Model(_classifier(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises((ValueError, TypeError), match=r"\by\b"):
        getattr(model, call)(X, **({} if call == "train_on_batch" else {"verbose": 0}))
    assert_unchanged(before, model.module)
