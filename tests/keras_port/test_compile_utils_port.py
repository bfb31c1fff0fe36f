"""Ported from Keras 3's keras/src/trainers/compile_utils_test.py, at the level of a model.

Keras's tests feed ``CompileMetrics``/``CompileLoss`` fixed ``y_pred`` values. The port feeds the same
values through a model that returns its input (``Echo``) and reads them back from ``evaluate``: two
batches of 3 stand for Keras's two ``update_state`` calls. Keras runs the same case on an identity
functional model in the test; its published constants are checked too.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import assert_logs_close, assert_unchanged, keras, weights_of

ERR = dict(rtol=1e-5, atol=1e-6)


class Echo(torch.nn.Module):
    """Returns its input(s): a tensor, a tuple for positional inputs, a dict for keyword inputs."""

    def __init__(self):
        super().__init__()
        # compile() needs a parameter today; modules without any are test_issue_fidelity's case.
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, *args, **kwargs):
        if kwargs:
            return dict(kwargs)
        return args[0] if len(args) == 1 else tuple(args)


def keras_echo(kind, names, dims):
    """The identity functional model with outputs named ``names``."""
    if kind == "single":
        inputs = keras.Input((dims[0],))
        return keras.Model(inputs, keras.layers.Identity(name=names[0])(inputs))
    if kind == "list":
        inputs = [keras.Input((d,), name=f"in_{n}") for n, d in zip(names, dims)]
        return keras.Model(inputs, [keras.layers.Identity(name=n)(i) for n, i in zip(names, inputs)])
    inputs = {n: keras.Input((d,), name=n) for n, d in zip(names, dims)}
    return keras.Model(inputs, {n: keras.layers.Identity()(inputs[n]) for n in names})


def both(kind, names, dims, **settings):
    kmodel = keras_echo(kind, names, dims)
    kmodel.compile(**{k: v() if callable(v) else v for k, v in settings.items()})
    ks_settings = {k: v(ks) if callable(v) else v for k, v in settings.items()}
    return kmodel, ks.Model(Echo(), device="cpu").compile(**ks_settings)


def _stack(*arrays):
    return np.concatenate([np.asarray(a, "float32") for a in arrays])


Y_TRUE = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
Y_PRED_1 = [[0.4, 0.1], [0.2, 0.6], [0.6, 0.1]]
Y_PRED_2 = [[0.3, 0.2], [0.1, 0.4], [0.2, 0.3]]
Y_TRUE_B = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]
Y_PRED_B_1 = [[0.4, 0.1, 0.3], [0.2, 0.6, 0.4], [0.6, 0.1, 0.8]]
Y_PRED_B_2 = [[0.3, 0.2, 0.1], [0.5, 0.4, 0.6], [0.1, 0.8, 0.7]]
SW = _stack([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])


def _mse_pair(keras_or_ks, name=None):
    metrics = keras_or_ks.metrics
    return [metrics.MeanSquaredError(), metrics.MeanSquaredError(**({"name": name} if name else {}))]


# ------------------------------------------------------------------ TestCompileMetrics


def test_metrics_single_output_case():
    kmodel, model = both("single", ["output"], [2], optimizer="sgd", loss="mse",
                         metrics=lambda m=keras: [m.metrics.MeanSquaredError()],
                         weighted_metrics=lambda m=keras: [m.metrics.MeanSquaredError()])
    x, y = _stack(Y_PRED_1, Y_PRED_2), _stack(Y_TRUE, Y_TRUE)
    result = model.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True, verbose=0)
    assert result["mean_squared_error"] == pytest.approx(0.055833336, rel=1e-5)  # Keras's numbers
    assert result["weighted_mean_squared_error"] == pytest.approx(0.0725, rel=1e-5)
    assert_logs_close(result, kmodel.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True,
                                              verbose=0))
    # Keras's reset: the next evaluate starts from zero, so it gives the same numbers.
    assert_logs_close(model.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True, verbose=0),
                      result)


def test_metrics_list_output_case():
    kmodel, model = both("list", ["output_0", "output_1"], [2, 3], optimizer="sgd", loss=["mse", "mse"],
                         metrics=lambda m=keras: [_mse_pair(m), _mse_pair(m)],
                         weighted_metrics=lambda m=keras: [_mse_pair(m), _mse_pair(m)])
    x = (_stack(Y_PRED_1, Y_PRED_2), _stack(Y_PRED_B_1, Y_PRED_B_2))
    y = (_stack(Y_TRUE, Y_TRUE), _stack(Y_TRUE_B, Y_TRUE_B))
    result = model.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True, verbose=0)
    theirs = kmodel.evaluate(list(x), y, sample_weight=SW, batch_size=3, return_dict=True, verbose=0)
    assert len([k for k in result if not k.endswith("loss")]) == 8
    assert result["output_0_mean_squared_error"] == pytest.approx(0.055833336, rel=1e-5)
    assert result["output_0_weighted_mean_squared_error"] == pytest.approx(0.0725, rel=1e-5)
    assert_logs_close(result, theirs)


def test_metrics_dict_output_case():
    kmodel, model = both("dict", ["output_1", "output_2"], [2, 3], optimizer="sgd",
                         loss={"output_1": "mse", "output_2": "mse"},
                         metrics=lambda m=keras: {"output_1": _mse_pair(m, "mse"),
                                                  "output_2": _mse_pair(m, "mse")},
                         weighted_metrics=lambda m=keras: {"output_1": _mse_pair(m, "mse"),
                                                           "output_2": _mse_pair(m, "mse")})
    x = {"output_1": _stack(Y_PRED_1, Y_PRED_2), "output_2": _stack(Y_PRED_B_1, Y_PRED_B_2)}
    y = {"output_1": _stack(Y_TRUE, Y_TRUE), "output_2": _stack(Y_TRUE_B, Y_TRUE_B)}
    result = model.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True, verbose=0)
    expected = {  # Keras's numbers, from tf.keras in its test
        "output_1_mean_squared_error": 0.055833336, "output_2_mean_squared_error": 0.066666667,
        "output_1_mse": 0.055833336, "output_2_mse": 0.066666667,
        "output_1_weighted_mean_squared_error": 0.0725, "output_2_weighted_mean_squared_error": 0.090833336,
        "output_1_weighted_mse": 0.0725, "output_2_weighted_mse": 0.090833336,
    }
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-5), key
    assert_logs_close(result, kmodel.evaluate(x, y, sample_weight=SW, batch_size=3, return_dict=True,
                                              verbose=0))


def test_name_conversions():
    kmodel, model = both("single", ["output"], [2], optimizer="sgd", loss="mse",
                         metrics=["acc", "accuracy", "mse"])
    x, y = np.asarray(Y_PRED_1, "float32"), np.asarray(Y_TRUE, "float32")
    result = model.evaluate(x, y, return_dict=True, verbose=0)
    assert len(result) == 4 and "mse" in result
    assert result["acc"] == pytest.approx(1 / 3) and result["accuracy"] == pytest.approx(1 / 3)
    assert_logs_close(result, kmodel.evaluate(x, y, return_dict=True, verbose=0))


def my_custom_metric(y_pred, y_true):  # torch-style order (API.md "Deliberate differences")
    return (y_true - y_pred).square().mean(dim=-1)


def test_custom_metric_function():
    def keras_metric(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    keras_metric.__name__ = "my_custom_metric"
    kmodel = keras_echo("single", ["output"], [2])
    kmodel.compile(optimizer="sgd", loss="mse", metrics=[keras_metric])
    model = ks.Model(Echo(), device="cpu").compile(optimizer="sgd", loss="mse", metrics=[my_custom_metric])
    x, y = np.asarray(Y_PRED_1, "float32"), np.asarray(Y_TRUE, "float32")
    result = model.evaluate(x, y, return_dict=True, verbose=0)
    assert list(result) == ["loss", "my_custom_metric"]
    assert_logs_close(result, kmodel.evaluate(x, y, return_dict=True, verbose=0))


def test_dict_outputs_outputs_ordering():
    # Metrics declared as {"b": ..., "a": ...}: results follow the outputs' order (a, then b). Keras
    # uses MAPE for "b"; MAE keeps the point (a different metric per output, so a swap shows).
    kmodel, model = both("dict", ["a", "b"], [2, 5], optimizer="sgd", loss={"a": "mse", "b": "mse"},
                         metrics=lambda m=keras: {"b": m.metrics.MeanAbsoluteError(),
                                                  "a": m.metrics.MeanSquaredError()})
    x = {"a": np.full((3, 2), 2.0, "float32"), "b": np.zeros((3, 5), "float32")}
    y = {"a": np.ones((3, 2), "float32"), "b": np.full((3, 5), 3.0, "float32")}
    result = model.evaluate(x, y, return_dict=True, verbose=0)
    theirs = kmodel.evaluate(x, y, return_dict=True, verbose=0)
    assert result["a_mean_squared_error"] == pytest.approx(1.0)
    assert result["b_mean_absolute_error"] == pytest.approx(3.0)
    metric_keys = [k for k in result if not k.endswith("loss")]
    assert metric_keys == [k for k in theirs if not k.endswith("loss")] == [
        "a_mean_squared_error", "b_mean_absolute_error"]
    assert_logs_close(result, theirs)


# ------------------------------------------------------------------ TestCompileLoss


def test_loss_single_output_case():
    kmodel, model = both("single", ["output"], [2], optimizer="sgd",
                         loss=lambda m=keras: m.losses.MeanSquaredError())
    x, y = np.asarray(Y_PRED_1, "float32"), np.asarray(Y_TRUE, "float32")
    value = model.evaluate(x, y, verbose=0)
    assert value == pytest.approx(0.068333, abs=1e-5)
    assert value == pytest.approx(kmodel.evaluate(x, y, verbose=0), rel=1e-5)


def test_loss_single_output_case_with_crossentropy_loss():
    kmodel, model = both("single", ["output"], [2], optimizer="sgd", loss="crossentropy")
    x, y = np.asarray(Y_PRED_1, "float32"), np.asarray(Y_TRUE, "float32")
    value = model.evaluate(x, y, verbose=0)
    assert value == pytest.approx(0.706595, abs=1e-5)
    assert value == pytest.approx(kmodel.evaluate(x, y, verbose=0), rel=1e-5)


LIST_TRUE = ([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]])
LIST_PRED = ([[1.2, 1.1], [1.0, 0.9], [0.8, 0.7]], [[0.6, 0.5], [0.4, 0.3], [0.2, 0.1]])
@pytest.mark.parametrize("broadcast", [True, False])
def test_loss_list_output_case(broadcast):
    loss = "mse" if broadcast else ["mse", "mse"]
    kmodel, model = both("list", ["output_0", "output_1"], [2, 2], optimizer="sgd", loss=loss)
    x = tuple(np.asarray(p, "float32") for p in LIST_PRED)
    y = tuple(np.asarray(t, "float32") for t in LIST_TRUE)
    value = model.evaluate(x, y, return_dict=True, verbose=0)
    assert value["loss"] == pytest.approx(0.953333, abs=1e-5)
    assert_logs_close(value, kmodel.evaluate(list(x), y, return_dict=True, verbose=0))


@pytest.mark.parametrize("broadcast", [True, False])
def test_loss_dict_output_case(broadcast):
    loss = "mse" if broadcast else {"a": "mse", "b": "mse"}
    kmodel, model = both("dict", ["a", "b"], [2, 2], optimizer="sgd", loss=loss)
    x = {k: np.asarray(p, "float32") for k, p in zip("ab", LIST_PRED)}
    y = {k: np.asarray(t, "float32") for k, t in zip("ab", LIST_TRUE)}
    sw = {"a": np.array([1.0, 2.0, 3.0], "float32"), "b": np.array([3.0, 2.0, 1.0], "float32")}
    value = model.evaluate(x, y, sample_weight=sw, return_dict=True, verbose=0)
    assert value["loss"] == pytest.approx(1.266666, abs=1e-5)
    assert_logs_close(value, kmodel.evaluate(x, y, sample_weight=sw, return_dict=True, verbose=0))


def test_struct_loss_valid_weights():
    # loss_weights scale the total only: each output's logged loss stays unweighted.
    kmodel, model = both("dict", ["a", "b"], [1, 1], optimizer="sgd", loss={"a": "mse", "b": "mse"},
                         loss_weights={"a": 1.0, "b": 0.0})
    x = {"a": np.array([[3.0], [4.0]], "float32"), "b": np.array([[3.0], [4.0]], "float32")}
    y = {"a": np.array([[1.0], [2.0]], "float32"), "b": np.array([[1.0], [2.0]], "float32")}
    value = model.evaluate(x, y, return_dict=True, verbose=0)
    assert value["loss"] == pytest.approx(4.0)
    assert value["a_loss"] == pytest.approx(4.0) and value["b_loss"] == pytest.approx(4.0)
    assert_logs_close(value, kmodel.evaluate(x, y, return_dict=True, verbose=0))


def test_structure_mismatch():
    kmodel, model = both("list", ["a", "b"], [1, 1], optimizer="sgd", loss=["mse", "mse"])
    x = (np.ones((2, 1), "float32"), np.ones((2, 1), "float32"))
    with pytest.raises(ValueError, match="different structures"):
        kmodel.fit(list(x), [np.ones((2, 1), "float32")], verbose=0)  # what Keras does, checked here
    model.module.unused.data.fill_(1.0)
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="y"):
        model.fit(x, [np.ones((2, 1), "float32")], verbose=0)
    assert_unchanged(before, model.module)


@pytest.mark.parametrize("loss_conf", [["mse", None, None], [None, "mse", None], [None, None, "mse"],
                                       [None, "mse", "mse"], ["mse", None, "mse"]])
def test_y_true_partial_y_pred_span(loss_conf):
    ones = np.ones((320, 3), "float32")
    y_pred = (ones * 0, ones, ones * 2)
    y_true = [y for y, loss in zip(y_pred, loss_conf) if loss is not None]
    y_true = y_true[0] if len(y_true) == 1 else y_true
    model = ks.Model(Echo(), device="cpu").compile(optimizer="sgd", loss=loss_conf)
    result = model.evaluate(y_pred, y_true, return_dict=True, verbose=0)
    # Keras's test reads compile_loss(y_true, y_pred) == 0. Through evaluate Keras 3.15.1 logs one
    # loss per output once there are two (run on an identity model: [None, "mse", "mse"] gives
    # {'loss': 0.0, 'identity_1_loss': 0.0, 'identity_2_loss': 0.0}, a list from evaluate), so the
    # port reads the dict: the total and each output's loss.
    with_loss = [i for i, loss in enumerate(loss_conf) if loss is not None]
    expected = {"loss"} | ({f"output_{i}_loss" for i in with_loss} if len(with_loss) > 1 else set())
    assert set(result) == expected
    assert all(value == 0.0 for value in result.values())
